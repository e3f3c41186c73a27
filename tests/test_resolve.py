"""The resolver: every convention of the context benchmark, on small homes of our own.

NLU objects are built by hand the way the model gives them, sometimes with wrong or
missing slots, to check that the words still find the device.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from edge_nlu.domain.context import RequestContext
from edge_nlu.domain.home import Home
from edge_nlu.domain.profiles import load_profiles
from edge_nlu.domain.result import NLU, Action, Slot
from edge_nlu.resolve.resolver import resolve

HOUSE = """
floors:
  - {id: ground, name: Ground Floor}
  - {id: upper, name: Upper Floor}
areas:
  - {id: kitchen, name: Kitchen, floor: ground}
  - {id: den, name: Den, floor: ground, aliases: [family room]}
  - {id: hall, name: Hall, floor: ground}
  - {id: yard, name: Yard, floor: ground}
  - {id: master, name: Master Bedroom, floor: upper}
  - {id: office, name: Office, floor: upper}
entities:
  - {id: light.kitchen_pendants, name: Kitchen pendants, area: kitchen, state: "off",
     attributes: {brightness: 0}}
  - {id: light.island_strip, name: Island strip, area: kitchen, state: "on",
     attributes: {brightness: 40}}
  - {id: switch.oven, name: Oven, area: kitchen, state: "off"}
  - {id: sensor.oven_temperature, name: Oven temperature, area: kitchen, state: "20",
     attributes: {device_class: temperature, unit_of_measurement: "°C"}}
  - {id: switch.toaster, name: Toaster, area: kitchen, state: "off"}
  - {id: climate.kitchen_thermostat, name: Kitchen thermostat, area: kitchen, state: heat,
     attributes: {current_temperature: 20, temperature: 20}}
  - {id: media_player.kitchen_speaker, name: Kitchen speaker, area: kitchen, state: idle,
     attributes: {device_class: speaker, volume_level: 40}}
  - {id: light.den_ceiling, name: Den ceiling, area: den, state: "on", attributes: {brightness: 70}}
  - {id: light.corner_lamp, name: Corner lamp, area: den, state: "off", aliases: [standing lamp],
     attributes: {brightness: 0}}
  - {id: media_player.den_tv, name: Den TV, area: den, state: "off",
     attributes: {device_class: tv, volume_level: 20}}
  - {id: media_player.den_soundbar, name: Den soundbar, area: den, state: idle,
     attributes: {device_class: speaker, volume_level: 30}}
  - {id: cover.den_shades, name: Den shades, area: den, state: open,
     attributes: {device_class: blind, position: 100}}
  - {id: climate.den_heat_pump, name: Den heat pump, area: den, state: heat,
     attributes: {current_temperature: 21, temperature: 21}}
  - {id: lock.main_entrance, name: Main entrance, area: hall, state: locked}
  - {id: light.hall_light, name: Hall light, area: hall, state: "off", attributes: {brightness: 0}}
  - {id: vacuum.downbot, name: Downbot, area: hall, state: docked}
  - {id: valve.yard_hose, name: Yard hose, area: yard, state: closed, attributes: {position: 0}}
  - {id: sensor.yard_temperature, name: Yard temperature, area: yard, state: "7",
     attributes: {device_class: temperature, unit_of_measurement: "°C"}}
  - {id: light.master_ceiling, name: Master ceiling, area: master, state: "off",
     attributes: {brightness: 0}}
  - {id: light.master_nightlight, name: Master nightlight, area: master, state: "off",
     attributes: {brightness: 0}}
  - {id: fan.master_fan, name: Master fan, area: master, state: "off"}
  - {id: cover.master_blackout, name: Blackout blind, area: master, state: closed,
     attributes: {device_class: blind, position: 0}}
  - {id: climate.master_radiator, name: Master radiator, area: master, state: heat,
     attributes: {current_temperature: 18, temperature: 18}}
  - {id: light.desk_light, name: Desk light, area: office, state: "on",
     attributes: {brightness: 80}}
  - {id: switch.printer, name: Printer, area: office, state: "off"}
  - {id: media_player.office_speaker, name: Office speaker, area: office, state: idle,
     attributes: {device_class: speaker, volume_level: 30}}
  - {id: sensor.office_temperature, name: Office temperature, area: office, state: "22",
     attributes: {device_class: temperature, unit_of_measurement: "°C"}}
  - {id: vacuum.upbot, name: Upbot, area: office, state: docked}
  - {id: weather.forecast, name: Forecast, state: rainy, attributes: {temperature: 6}}
"""

PROFILES = load_profiles()
NIGHT = "2026-03-03T23:30:00"
EVENING = "2026-03-03T19:00:00"


@pytest.fixture(scope="module")
def house() -> Home:
    return Home.from_dict(yaml.safe_load(HOUSE))


def nlu(text: str, intent: str, *slots: tuple[str, str]) -> NLU:
    """An NLU object as the model gives it; each slot is (type, span text)."""
    out = []
    for ty, value in slots:
        start = text.find(value)
        out.append(Slot(ty, value, max(start, 0), max(start, 0) + len(value)))
    return NLU(intent, 0.9, tuple(out))


def turn(text: str, intent: str, targets: list[str], **slots: Any) -> dict[str, Any]:
    return {"text": text, "action": {"intent": intent, "targets": targets, "slots": slots}}


def run(home: Home, text: str, intent: str, *slots: tuple[str, str], area: str | None = None,
        screen: bool | None = None, time: str = EVENING,
        history: list[dict[str, Any]] | None = None, overrides: dict[str, Any] | None = None,
        user: str | None = None) -> tuple[Action | None, str | None]:
    ctx_d: dict[str, Any] = {"time": time}
    if area:
        ctx_d["area"] = area
    if screen is not None:
        ctx_d["satellite"] = {"id": "sat", "has_screen": screen}
    if history:
        ctx_d["history"] = history
    if user:
        ctx_d["user"] = user
    ctx = RequestContext.from_dict(ctx_d)
    h = home.with_overrides(overrides or {})
    return resolve(nlu(text, intent, *slots), text, h, ctx, PROFILES)


def check(result: tuple[Action | None, str | None], intent: str, targets: list[str] | None,
          **slots: Any) -> Action:
    action = result[0]
    assert action is not None
    assert action.intent == intent, action
    if targets is not None:
        assert sorted(action.targets) == sorted(targets), action
        assert list(action.targets) == sorted(action.targets)
    for key, value in slots.items():
        if value is None:
            assert key not in action.slots, action
        else:
            assert action.slots.get(key) == value, action
    return action


# -- 1. rooms -----------------------------------------------------------------------------------

def test_satellite_area_is_the_default(house):
    r = run(house, "turn off the lights", "iot_hue_lightoff", ("device_type", "lights"),
            area="Kitchen")
    check(r, "HassTurnOff", ["light.island_strip", "light.kitchen_pendants"], area="Kitchen",
          domain="light")
    assert r[1] is None


def test_named_area_beats_satellite(house):
    r = run(house, "turn off the lights in the den", "iot_hue_lightoff",
            ("device_type", "lights"), ("house_place", "den"), area="Kitchen")
    check(r, "HassTurnOff", ["light.corner_lamp", "light.den_ceiling"], area="Den")


def test_area_alias_without_slot(house):
    r = run(house, "lights on in the family room", "iot_hue_lighton", area="Office")
    check(r, "HassTurnOn", ["light.corner_lamp", "light.den_ceiling"], area="Den")


def test_floor_targets_every_entity_on_it(house):
    r = run(house, "turn off the lights on the upper floor", "iot_hue_lightoff",
            ("floor_name", "upper floor"), area="Kitchen")
    check(r, "HassTurnOff", ["light.desk_light", "light.master_ceiling", "light.master_nightlight"],
          floor="Upper Floor")


def test_upstairs_means_the_floor_above(house):
    r = run(house, "turn off the lights upstairs", "iot_hue_lightoff", area="Den")
    check(r, "HassTurnOff", ["light.desk_light", "light.master_ceiling", "light.master_nightlight"],
          floor="Upper Floor")


def test_in_here_is_the_satellite_area(house):
    r = run(house, "turn on the fan in here", "iot_wemo_on", ("house_place", "in here"),
            area="Master Bedroom")
    check(r, "HassTurnOn", ["fan.master_fan"], area="Master Bedroom")


# -- 2. group requests ----------------------------------------------------------------------------

def test_group_ignores_current_state(house):
    # one kitchen light is on, one is off: both are targeted
    r = run(house, "switch the lights on", "iot_hue_lighton", area="Kitchen")
    check(r, "HassTurnOn", ["light.island_strip", "light.kitchen_pendants"])


def test_group_of_covers(house):
    r = run(house, "close the shades", "iot_cover_close", ("device_type", "shades"), area="Den")
    check(r, "HassTurnOff", ["cover.den_shades"], area="Den")


def test_fan_on_with_wrong_intent(house):
    # the model said lights, the words say fan
    r = run(house, "fan on", "iot_hue_lighton", area="Master Bedroom")
    check(r, "HassTurnOn", ["fan.master_fan"], area="Master Bedroom")


# -- 3. previous turns and follow-ups --------------------------------------------------------------

def test_it_is_the_previous_target(house):
    hist = [turn("turn on the toaster", "HassTurnOn", ["switch.toaster"])]
    r = run(house, "turn it off", "iot_wemo_off", area="Office", history=hist)
    check(r, "HassTurnOff", ["switch.toaster"], area=None)


def test_is_it_on_asks_about_the_previous_target(house):
    hist = [turn("turn on the printer", "HassTurnOn", ["switch.printer"])]
    r = run(house, "is it on yet", "iot_device_query", area="Den", history=hist,
            overrides={"switch.printer": {"state": "on"}})
    check(r, "HassGetState", ["switch.printer"])
    assert r[1] == "Yes, the printer is on."


@pytest.mark.parametrize(
    ("prev", "intent", "slot"),
    [
        (["light.kitchen_pendants", "light.island_strip"], "HassLightSet", "brightness"),
        (["cover.den_shades"], "HassSetPosition", "position"),
        (["valve.yard_hose"], "HassSetPosition", "position"),
        (["media_player.den_soundbar"], "HassSetVolume", "volume_level"),
    ],
)
@pytest.mark.parametrize("model_intent", ["iot_hue_lightdim", "iot_cover_set", "audio_volume_down"])
def test_number_about_them_follows_their_domain(house, prev, intent, slot, model_intent):
    hist = [turn("turn them on", "HassTurnOn", prev)]
    r = run(house, "set them to 20 percent", model_intent, ("change_amount", "20 percent"),
            area="Office", history=hist)
    check(r, intent, prev, **{slot: 20})


def test_follow_up_repeats_climate_question(house):
    hist = [turn("how warm is it in the den", "HassClimateGetTemperature",
                 ["climate.den_heat_pump"], area="Den")]
    r = run(house, "what about the master bedroom?", "iot_climate_query",
            ("house_place", "master bedroom"), area="Den", history=hist)
    check(r, "HassClimateGetTemperature", ["climate.master_radiator"], area="Master Bedroom")
    assert r[1] == "It is 18 °C in the master bedroom."


def test_follow_up_repeats_turn_off_for_new_room(house):
    hist = [turn("turn off the lights in the office", "HassTurnOff", ["light.desk_light"],
                 area="Office")]
    # the model guessed a different intent; the follow-up repeats the previous one
    r = run(house, "and what about the den", "iot_hue_lighton", area="Office", history=hist)
    check(r, "HassTurnOff", ["light.corner_lamp", "light.den_ceiling"], area="Den")


def test_follow_up_carries_the_temperature(house):
    hist = [turn("set the den to 23 degrees", "HassClimateSetTemperature",
                 ["climate.den_heat_pump"], area="Den", temperature=23)]
    r = run(house, "same for the kitchen", "iot_climate_set", area="Den", history=hist)
    check(r, "HassClimateSetTemperature", ["climate.kitchen_thermostat"], temperature=23,
          area="Kitchen")


def test_follow_up_to_a_named_device_carries_brightness(house):
    hist = [turn("dim the den ceiling to 30 percent", "HassLightSet", ["light.den_ceiling"],
                 brightness=30)]
    r = run(house, "and the corner lamp", "iot_hue_lightdim", area="Den", history=hist)
    check(r, "HassLightSet", ["light.corner_lamp"], brightness=30)


# -- 4. device state ----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("playing", "model_intent", "ha"),
    [
        ("media_player.den_tv", "audio_volume_mute", "HassMediaPause"),
        ("media_player.den_soundbar", "audio_volume_mute", "HassMediaPause"),
        ("media_player.den_tv", "media_next", "HassMediaNext"),
        ("media_player.den_soundbar", "media_previous", "HassMediaPrevious"),
        ("media_player.den_soundbar", "music_settings", "HassMediaNext"),
    ],
)
def test_media_commands_go_to_the_playing_player(house, playing, model_intent, ha):
    text = {"HassMediaPause": "pause", "HassMediaNext": "skip this one",
            "HassMediaPrevious": "play the previous song"}[ha]
    r = run(house, text, model_intent, area="Den", screen=True,
            overrides={playing: {"state": "playing"}})
    check(r, ha, [playing], area="Den")


def test_resume_goes_to_the_paused_player(house):
    r = run(house, "carry on playing", "media_resume", area="Den",
            overrides={"media_player.den_tv": {"state": "paused"},
                       "media_player.den_soundbar": {"state": "playing"}})
    check(r, "HassMediaUnpause", ["media_player.den_tv"], area="Den")


def test_no_room_takes_the_only_player_in_that_state(house):
    r = run(house, "pause the music", "audio_volume_mute",
            overrides={"media_player.office_speaker": {"state": "playing"}})
    check(r, "HassMediaPause", ["media_player.office_speaker"])


def test_temperature_question_with_oven_on(house):
    r = run(house, "what's the temperature?", "iot_climate_query", area="Kitchen",
            overrides={"switch.oven": {"state": "on"}, "sensor.oven_temperature": {"state": "180"}})
    check(r, "HassGetState", ["sensor.oven_temperature"], area="Kitchen")
    assert r[1] == "The oven temperature is 180 °C."


def test_temperature_question_with_oven_off(house):
    r = run(house, "what's the temperature?", "iot_climate_query", area="Kitchen")
    check(r, "HassClimateGetTemperature", ["climate.kitchen_thermostat"], area="Kitchen")
    assert r[1] == "It is 20 °C in the kitchen."


def test_in_here_means_the_room_even_with_oven_on(house):
    r = run(house, "how warm is it in here", "iot_climate_query", area="Kitchen",
            overrides={"switch.oven": {"state": "on"}})
    check(r, "HassClimateGetTemperature", ["climate.kitchen_thermostat"], area="Kitchen")


def test_temperature_question_without_climate_uses_sensor(house):
    r = run(house, "what's the temperature", "iot_device_query", area="Office")
    check(r, "HassGetState", ["sensor.office_temperature"], area="Office")


def test_room_temperature_is_not_an_appliance_probe(house):
    """A room without a thermostat: the room sensor answers, never the (off) oven's probe."""
    home = Home.from_dict({
        "areas": [{"id": "kitchen", "name": "Kitchen"}],
        "entities": [
            {"id": "switch.oven", "name": "Oven", "area": "kitchen", "state": "off"},
            {"id": "sensor.oven_temperature", "name": "Oven temperature", "area": "kitchen", "state": "30",
             "attributes": {"device_class": "temperature"}},
            {"id": "sensor.wall_thermometer", "name": "Wall thermometer", "area": "kitchen", "state": "19",
             "attributes": {"device_class": "temperature"}},
        ]})
    r = run(home, "what's the temperature", "iot_climate_query", area="Kitchen")
    check(r, "HassGetState", ["sensor.wall_thermometer"], area="Kitchen")


def test_temperature_of_a_floor_is_its_climate_devices():
    home = Home.from_dict({
        "floors": [{"id": "ground", "name": "Ground Floor"}, {"id": "first", "name": "First Floor"}],
        "areas": [{"id": "kitchen", "name": "Kitchen", "floor": "ground"},
                  {"id": "bedroom", "name": "Bedroom", "floor": "first"},
                  {"id": "study", "name": "Study", "floor": "first"}],
        "entities": [
            {"id": "climate.kitchen", "name": "Kitchen thermostat", "area": "kitchen", "state": "heat"},
            {"id": "climate.bedroom", "name": "Bedroom radiator", "area": "bedroom", "state": "heat"},
            {"id": "climate.study", "name": "Study radiator", "area": "study", "state": "heat"},
        ]})
    r = run(home, "how warm is it upstairs", "iot_climate_query", area="Kitchen")
    check(r, "HassClimateGetTemperature", ["climate.bedroom", "climate.study"], floor="First Floor")


def test_named_sensor(house):
    r = run(house, "what's the yard temperature", "iot_climate_query", area="Kitchen")
    check(r, "HassGetState", ["sensor.yard_temperature"])
    assert r[1] == "The yard temperature is 7 °C."


# -- 5. screen ----------------------------------------------------------------------------------

def test_bare_title_with_screen_plays_a_movie_on_the_tv(house):
    r = run(house, "play arrival", "play_music", ("song_name", "arrival"), area="Den", screen=True)
    check(r, "HassMediaSearchAndPlay", ["media_player.den_tv"], search_query="arrival",
          media_class="movie", area="Den")


def test_bare_title_without_screen_plays_an_audiobook(house):
    r = run(house, "put on the hobbit", "play_video", ("movie_name", "the hobbit"),
            area="Kitchen", screen=False)
    check(r, "HassMediaSearchAndPlay", ["media_player.kitchen_speaker"], search_query="the hobbit",
          media_class="audiobook", area="Kitchen")


def test_title_without_slot_is_taken_from_the_words(house):
    r = run(house, "play arrival please", "play_video", area="Den", screen=True)
    check(r, "HassMediaSearchAndPlay", ["media_player.den_tv"], search_query="arrival")


def test_show_words_give_tv_show(house):
    r = run(house, "play the next episode of severance", "play_video",
            ("movie_name", "severance"), area="Den", screen=True)
    check(r, "HassMediaSearchAndPlay", ["media_player.den_tv"], media_class="tv_show")


def test_podcast_goes_to_the_speaker(house):
    r = run(house, "play the daily podcast", "play_podcasts", ("podcast_name", "the daily"),
            area="Den", screen=True)
    check(r, "HassMediaSearchAndPlay", ["media_player.den_soundbar"], media_class="podcast",
          search_query="the daily")


# -- 6. habits ----------------------------------------------------------------------------------

def test_play_some_music_takes_the_usual_content(house):
    hist = [
        turn("play some blues", "HassMediaSearchAndPlay", ["media_player.kitchen_speaker"],
             search_query="blues"),
        turn("play techno", "HassMediaSearchAndPlay", ["media_player.kitchen_speaker"],
             search_query="techno"),
        turn("play the blues", "HassMediaSearchAndPlay", ["media_player.kitchen_speaker"],
             search_query="blues"),
        turn("play the daily podcast", "HassMediaSearchAndPlay", ["media_player.kitchen_speaker"],
             search_query="the daily", media_class="podcast"),
    ]
    r = run(house, "play some music", "play_music", area="Kitchen", screen=False, history=hist)
    check(r, "HassMediaSearchAndPlay", ["media_player.kitchen_speaker"], search_query="blues",
          media_class="music")
    r = run(house, "play my podcast", "play_podcasts", area="Kitchen", screen=False, history=hist)
    check(r, "HassMediaSearchAndPlay", ["media_player.kitchen_speaker"], search_query="the daily")


def test_usual_temperature(house):
    hist = [turn("set the heating to 22", "HassClimateSetTemperature", ["climate.den_heat_pump"],
                 temperature=22),
            turn("set the heating to 19", "HassClimateSetTemperature", ["climate.den_heat_pump"],
                 temperature=19),
            turn("set the heating to 22", "HassClimateSetTemperature", ["climate.den_heat_pump"],
                 temperature=22)]
    r = run(house, "set the heating to my usual", "iot_climate_set", area="Den", history=hist)
    check(r, "HassClimateSetTemperature", ["climate.den_heat_pump"], temperature=22)


# -- 7. relative requests -------------------------------------------------------------------------

def test_turn_it_down_lowers_the_playing_player(house):
    r = run(house, "turn it down a little", "audio_volume_down", area="Den", screen=True,
            overrides={"media_player.den_soundbar": {"state": "playing"}})
    a = check(r, "HassSetVolume", ["media_player.den_soundbar"], area="Den")
    assert a.slots["volume_level"] < 30


def test_turn_it_down_read_as_dimming_while_music_plays(house):
    r = run(house, "turn it down", "iot_hue_lightdim", area="Den",
            overrides={"media_player.den_tv": {"state": "playing"}})
    check(r, "HassSetVolume", ["media_player.den_tv"])


def test_make_it_warmer(house):
    hist = [turn("turn on the den ceiling", "HassTurnOn", ["light.den_ceiling"])]
    r = run(house, "make it warmer", "iot_climate_set", area="Master Bedroom", history=hist)
    check(r, "HassClimateSetTemperature", ["climate.master_radiator"], temperature=19,
          area="Master Bedroom")


def test_cool_it_down_in_named_room(house):
    r = run(house, "cool the den down", "iot_climate_set", area="Kitchen")
    check(r, "HassClimateSetTemperature", ["climate.den_heat_pump"], temperature=20, area="Den")


# -- 8. night -----------------------------------------------------------------------------------

def test_night_turns_on_only_the_night_light(house):
    r = run(house, "turn on the lights", "iot_hue_lighton", area="Master Bedroom", time=NIGHT)
    check(r, "HassTurnOn", ["light.master_nightlight"], area="Master Bedroom")


def test_evening_turns_on_all_lights(house):
    r = run(house, "turn on the lights", "iot_hue_lighton", area="Master Bedroom", time=EVENING)
    check(r, "HassTurnOn", ["light.master_ceiling", "light.master_nightlight"])


def test_night_rule_needs_a_night_light(house):
    r = run(house, "turn on the lights", "iot_hue_lighton", area="Kitchen",
            time="2026-03-03T03:00:00")
    check(r, "HassTurnOn", ["light.island_strip", "light.kitchen_pendants"])


def test_night_rule_not_for_turning_off(house):
    r = run(house, "turn off the lights", "iot_hue_lightoff", area="Master Bedroom", time=NIGHT)
    check(r, "HassTurnOff", ["light.master_ceiling", "light.master_nightlight"])


# -- 9. robots ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("area", "robot"), [("Master Bedroom", "vacuum.upbot"),
                                             ("Kitchen", "vacuum.downbot"),
                                             ("Office", "vacuum.upbot")])
def test_robot_of_the_floor(house, area, robot):
    r = run(house, "vacuum in here", "iot_cleaning", area=area)
    check(r, "HassVacuumStart", [robot], area=area)


def test_named_room_vacuum(house):
    r = run(house, "vacuum the den", "iot_cleaning", ("house_place", "den"), area="Office")
    check(r, "HassVacuumStart", ["vacuum.downbot"], area="Den")


def test_single_robot_home():
    home = Home.from_dict(yaml.safe_load("""
floors: [{id: a, name: A}, {id: b, name: B}]
areas: [{id: x, name: X, floor: a}, {id: y, name: Y, floor: b}]
entities: [{id: vacuum.only, name: Only, area: x, state: docked}]
"""))
    check(run(home, "clean the y", "iot_cleaning", area="Y"), "HassVacuumStart", ["vacuum.only"])


# -- 10. Home Assistant mappings ------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "intent", "ha", "targets", "extra"),
    [
        ("lock the main entrance", "iot_lock", "HassTurnOn", ["lock.main_entrance"], {}),
        ("unlock the main entrance", "iot_unlock", "HassTurnOff", ["lock.main_entrance"], {}),
        ("open the main entrance", "iot_cover_open", "HassTurnOff", ["lock.main_entrance"], {}),
        ("open the den shades", "iot_cover_open", "HassTurnOn", ["cover.den_shades"], {}),
        ("close the den shades", "iot_cover_close", "HassTurnOff", ["cover.den_shades"], {}),
        ("open the den shades halfway", "iot_cover_open", "HassSetPosition", ["cover.den_shades"],
         {"position": 50}),
        ("set the den shades to forty percent", "iot_cover_set", "HassSetPosition",
         ["cover.den_shades"], {"position": 40}),
        ("open the yard hose", "iot_cover_open", "HassTurnOn", ["valve.yard_hose"], {}),
        ("close the yard hose", "iot_cover_close", "HassTurnOff", ["valve.yard_hose"], {}),
    ],
)
def test_ha_mappings(house, text, intent, ha, targets, extra):
    check(run(house, text, intent, area="Kitchen"), ha, targets, **extra)


def test_lock_the_door_from_another_room(house):
    check(run(house, "lock the door", "iot_lock", area="Office"), "HassTurnOn",
          ["lock.main_entrance"])


def test_lock_state_question(house):
    r = run(house, "is the main entrance locked", "iot_device_query", area="Den")
    check(r, "HassGetState", ["lock.main_entrance"])
    assert r[1] == "Yes, the main entrance is locked."


# -- levels and colours ----------------------------------------------------------------------------

def test_dim_named_light_by_alias(house):
    r = run(house, "dim the standing lamp to 30 percent", "iot_hue_lightdim",
            ("device_name", "standing lamp"), ("change_amount", "30 percent"))
    check(r, "HassLightSet", ["light.corner_lamp"], brightness=30)


def test_colour(house):
    r = run(house, "make the desk light blue", "iot_hue_lightchange", ("color_type", "blue"))
    check(r, "HassLightSet", ["light.desk_light"], color="blue")


def test_set_named_climate(house):
    r = run(house, "set the master radiator to twenty one degrees", "iot_climate_set",
            ("change_amount", "twenty one degrees"), area="Den")
    check(r, "HassClimateSetTemperature", ["climate.master_radiator"], temperature=21)


# -- things that are not devices -------------------------------------------------------------------

def test_weather(house):
    action, response = run(house, "what's the weather like", "weather_query")
    # HA's handler answers from a weather entity: the home's only one here
    assert action == Action(intent="HassGetWeather", targets=("weather.forecast",))
    assert response == "It is rainy and 6 °C."


def test_time_and_date(house):
    a, r = run(house, "what time is it", "datetime_query", time="2026-03-03T17:05:00")
    assert a.intent == "HassGetCurrentTime" and r == "It is 5:05 PM."
    a, r = run(house, "what's today's date", "datetime_query", time="2026-03-03T17:05:00")
    assert a.intent == "HassGetCurrentDate" and r == "Today is Tuesday, 3 March 2026."


@pytest.mark.parametrize(("text", "slot", "want"), [
    ("set a timer for 12 minutes", "12 minutes", {"minutes": 12}),
    ("timer for an hour and a half", "an hour and a half", {"hours": 1, "minutes": 30}),
    ("start a ninety second timer", None, {"seconds": 90}),
])
def test_timer(house, text, slot, want):
    slots = [("time", slot)] if slot else []
    a, r = run(house, text, "timer_set", *slots)
    assert a == Action(intent="HassStartTimer", slots=want) and r is None


def test_lists(house):
    a, _ = run(house, "add oat milk to my shopping list", "lists_createoradd", ("item", "oat milk"),
               ("list_name", "shopping"))
    assert a == Action(intent="HassShoppingListAddItem", slots={"item": "oat milk"})
    a, _ = run(house, "add paint to my diy list", "lists_createoradd", ("item", "paint"),
               ("list_name", "diy"))
    assert a == Action(intent="HassListAddItem", slots={"item": "paint", "name": "diy"})


@pytest.mark.parametrize("intent", ["alarm_set", "qa_factoid", "general_joke", "nonsense"])
def test_other_intents_give_no_action(house, intent):
    assert run(house, "wake me at seven", intent, area="Den") == (None, None)


# -- robustness ---------------------------------------------------------------------------------

def test_missing_slots_device_named_in_text(house):
    check(run(house, "turn on the printer", "iot_wemo_on"), "HassTurnOn", ["switch.printer"])


def test_wrong_slot_type_still_finds_device(house):
    # the model tagged the device as a place
    r = run(house, "switch off the corner lamp", "iot_hue_lightoff", ("house_place", "corner lamp"),
            area="Office")
    check(r, "HassTurnOff", ["light.corner_lamp"])


def test_misspelt_device_name_is_matched_fuzzily(house):
    r = run(house, "turn on the corner lmap", "iot_hue_lighton", ("device_name", "corner lmap"))
    check(r, "HassTurnOn", ["light.corner_lamp"])


def test_device_name_containing_an_area_name(house):
    # "Kitchen speaker" contains the area "Kitchen": the device wins, no area slot
    r = run(house, "play jazz on the kitchen speaker", "play_music", ("music_genre", "jazz"),
            area="Den", screen=True)
    check(r, "HassMediaSearchAndPlay", ["media_player.kitchen_speaker"], search_query="jazz",
          media_class="music")


def test_unknown_area_is_an_answer_not_an_error(house):
    action, response = run(house, "turn off the lights in the attic", "iot_hue_lightoff",
                           ("house_place", "attic"), area="Den")
    assert action is not None and action.intent == "HassTurnOff" and action.targets == ()
    assert "attic" in (response or "")


def test_no_context_targets_the_whole_home(house):
    ctx = RequestContext()
    text = "turn off the fan"
    action, _ = resolve(nlu(text, "iot_wemo_off"), text, house, ctx, PROFILES)
    check((action, None), "HassTurnOff", ["fan.master_fan"])


def test_empty_home():
    home = Home()
    for text, intent in [("turn on the lights", "iot_hue_lighton"), ("pause", "media_resume"),
                         ("what's the temperature", "iot_climate_query"),
                         ("vacuum", "iot_cleaning"), ("play dune", "play_video"),
                         ("set it to 20", "iot_hue_lightdim"),
                         ("what's the weather", "weather_query")]:
        action, _ = resolve(nlu(text, intent), text, home, RequestContext(), PROFILES)
        assert action is not None and action.targets == ()


def test_numbers_are_numbers(house):
    r = run(house, "set the den shades to 50%", "iot_cover_set", ("change_amount", "50%"))
    a = check(r, "HassSetPosition", ["cover.den_shades"])
    assert a.slots["position"] == 50 and isinstance(a.slots["position"], int)


def test_demo_home_loads_and_resolves():
    demo = Path(__file__).resolve().parent.parent / "devices" / "homes" / "demo.yaml"
    home = Home.load(demo)
    assert {f.id for f in home.floors} == {"ground_floor", "first_floor"}
    r = run(home, "turn on the lights", "iot_hue_lighton", area="Bedroom", time=NIGHT)
    check(r, "HassTurnOn", ["light.bedroom_night_light"])
    r = run(home, "what's the temperature", "iot_climate_query", area="Kitchen",
            overrides={"switch.oven": {"state": "on"}})
    check(r, "HassGetState", ["sensor.oven_temperature"])
    r = run(home, "vacuum in here", "iot_cleaning", area="Study")
    check(r, "HassVacuumStart", ["vacuum.dusty"])


def test_time_default_is_now(house):
    a, r = resolve(nlu("what time is it", "datetime_query"), "what time is it", house,
                   RequestContext(), PROFILES)
    assert a.intent == "HassGetCurrentTime"
    assert r is not None and str(datetime.now().hour % 12 or 12) in r


def test_generic_device_name_from_another_room(house):
    # "Oven" is also a kind word; the only oven is in the kitchen
    r = run(house, "how hot is the oven", "iot_device_query", area="Office",
            overrides={"switch.oven": {"state": "on"}, "sensor.oven_temperature": {"state": "200"}})
    check(r, "HassGetState", ["sensor.oven_temperature"])
    check(run(house, "turn off the oven", "iot_wemo_off", area="Office"), "HassTurnOff",
          ["switch.oven"])


def test_oven_kind_does_not_mean_every_switch(house):
    r = run(house, "turn off the oven", "iot_wemo_off", ("device_type", "oven"), area="Office")
    assert "switch.printer" not in r[0].targets


def test_title_naming_an_area_is_not_an_area(house):
    r = run(house, "watch the office on tv", "play_video", ("movie_name", "the office"),
            area="Den", screen=True)
    check(r, "HassMediaSearchAndPlay", ["media_player.den_tv"], search_query="the office",
          area="Den")


def test_new_command_starting_with_and_is_not_a_follow_up(house):
    hist = [turn("turn on the den tv", "HassTurnOn", ["media_player.den_tv"])]
    r = run(house, "and turn off the lights", "iot_hue_lightoff", area="Office", history=hist)
    check(r, "HassTurnOff", ["light.desk_light"], area="Office")


def test_kind_follow_up_keeps_previous_room(house):
    hist = [turn("turn on the lights in the master bedroom", "HassTurnOn",
                 ["light.master_ceiling", "light.master_nightlight"], area="Master Bedroom")]
    r = run(house, "and the fan", "iot_wemo_on", area="Kitchen", history=hist)
    check(r, "HassTurnOn", ["fan.master_fan"])


def test_vacuum_floor(house):
    r = run(house, "clean upstairs", "iot_cleaning", ("floor_name", "upstairs"), area="Kitchen")
    check(r, "HassVacuumStart", ["vacuum.upbot"], floor="Upper Floor", area=None)


# -- relative changes: an amount moves the current level; 'to N' sets it ---------------------------

@pytest.mark.parametrize(("text", "intent", "slot_text", "target", "key", "value"), [
    ("turn the master radiator up two degrees", "iot_climate_set", "two degrees", "climate.master_radiator",
     "temperature", 20),
    ("turn the den heat pump down by 3 degrees", "iot_climate_set", "3 degrees", "climate.den_heat_pump",
     "temperature", 18),
    ("make the master radiator two degrees warmer", "iot_climate_set", "two degrees", "climate.master_radiator",
     "temperature", 20),
    ("turn the master radiator up to 22", "iot_climate_set", "22", "climate.master_radiator", "temperature", 22),
    ("cool the master radiator by 2 degrees", "iot_climate_set", "2 degrees", "climate.master_radiator",
     "temperature", 16),  # each kind of level moves with its own words: 'cool' for a thermostat
    ("set the master radiator to 21", "iot_climate_set", "21", "climate.master_radiator", "temperature", 21),
    ("turn the master radiator up, 22 degrees", "iot_climate_set", "22 degrees", "climate.master_radiator",
     "temperature", 22),  # no one means 22 degrees warmer
    ("dim the den ceiling by 20 percent", "iot_hue_lightdim", "20 percent", "light.den_ceiling", "brightness", 50),
    ("brighten the den ceiling by 20 percent", "iot_hue_lightup", "20 percent", "light.den_ceiling",
     "brightness", 90),
    ("dim the den ceiling to 20 percent", "iot_hue_lightdim", "20 percent", "light.den_ceiling", "brightness", 20),
    ("set the den ceiling to 40 percent", "iot_hue_lightdim", "40 percent", "light.den_ceiling", "brightness", 40),
    ("brighten the den ceiling by 50 percent", "iot_hue_lightup", "50 percent", "light.den_ceiling",
     "brightness", 100),  # capped
    ("turn the den soundbar up by 10", "audio_volume_up", "10", "media_player.den_soundbar", "volume_level", 40),
    ("turn the den soundbar down by 10", "audio_volume_down", "10", "media_player.den_soundbar", "volume_level", 20),
    ("turn the den soundbar up to 10", "audio_volume_up", "10", "media_player.den_soundbar", "volume_level", 10),
])
def test_a_relative_amount_moves_the_current_level(house: Home, text: str, intent: str, slot_text: str,
                                                   target: str, key: str, value: Any) -> None:
    r = run(house, text, intent, ("change_amount", slot_text), area="Kitchen")
    ha = {"temperature": "HassClimateSetTemperature", "brightness": "HassLightSet", "volume_level": "HassSetVolume"}
    check(r, ha[key], [target], **{key: value})


# -- time left: the running appliance's remaining-time sensor, else the satellite's timer -------------

LAUNDRY = """
areas:
  - {id: kitchen, name: Kitchen}
  - {id: utility, name: Utility}
entities:
  - {id: switch.dishwasher, name: Dishwasher, area: kitchen, state: "off"}
  - {id: sensor.dishwasher_time_remaining, name: Dishwasher time remaining, area: kitchen, state: "0",
     attributes: {device_class: duration, unit_of_measurement: min}}
  - {id: switch.washer, name: Washer, area: utility, state: "off"}
  - {id: sensor.washer_time_remaining, name: Washer time remaining, area: utility, state: "0",
     attributes: {device_class: duration, unit_of_measurement: min}}
"""


@pytest.mark.parametrize(("text", "intent", "area", "running", "want", "targets"), [
    ("how long is left", "datetime_query", "Kitchen", ["dishwasher"], "HassGetState",
     ["sensor.dishwasher_time_remaining"]),
    ("how long is left", "datetime_query", "Kitchen", ["washer"], "HassGetState", ["sensor.washer_time_remaining"]),
    ("how long is left", "datetime_query", "Kitchen", [], "HassTimerStatus", []),
    ("when will the washer be finished", "iot_device_query", "Kitchen", ["washer", "dishwasher"], "HassGetState",
     ["sensor.washer_time_remaining"]),
    ("how much time is left on my timer", "timer_set", "Kitchen", [], "HassTimerStatus", []),
])
def test_time_left_comes_from_what_is_running(text: str, intent: str, area: str, running: list[str], want: str,
                                              targets: list[str]) -> None:
    home = Home.from_dict(yaml.safe_load(LAUNDRY))
    on = {f"switch.{n}": {"state": "on"} for n in running}
    r = run(home, text, intent, area=area, overrides=on)
    check(r, want, targets)


def test_a_follow_up_after_time_left_asks_the_new_appliances_time_left() -> None:
    home = Home.from_dict(yaml.safe_load(LAUNDRY))
    hist = [turn("how long is left on the washer", "HassGetState", ["sensor.washer_time_remaining"])]
    r = run(home, "and the dishwasher?", "iot_device_query", area="Kitchen", history=hist,
            overrides={"switch.washer": {"state": "on"}, "switch.dishwasher": {"state": "on"}})
    check(r, "HassGetState", ["sensor.dishwasher_time_remaining"])


# -- media classes from the words, and the class words kept out of the search -------------------------

@pytest.mark.parametrize(("text", "intent", "query", "media_class"), [
    ("put on the album rumours", "play_music", "rumours", "album"),
    ("play my wind down playlist", "play_music", "wind down", "playlist"),
    ("play anything by little simz", "play_music", "little simz", "artist"),
    ("play the song yesterday", "play_music", "yesterday", "track"),
    ("play the series bluey", "play_video", "bluey", "tv_show"),
    ("play the daily podcast", "play_podcasts", "the daily", "podcast"),
    ("play jazz", "play_music", "jazz", "music"),
])
def test_the_media_class_comes_from_the_words(house: Home, text: str, intent: str, query: str,
                                              media_class: str) -> None:
    r = run(house, text, intent, area="Den", screen=True)
    check(r, "HassMediaSearchAndPlay", None, search_query=query, media_class=media_class)


@pytest.mark.parametrize(("text", "message"), [
    ("broadcast the bath is ready", "the bath is ready"),
    ("announce that the taxi is outside", "the taxi is outside"),
    ("tell everyone to come down for tea", "to come down for tea"),
    ("broadcast everywhere that we leave at eight", "we leave at eight"),
])
def test_broadcast_sends_the_message_whatever_the_model_read(house: Home, text: str, message: str) -> None:
    for read_as in ("general_quirky", "play_radio", "social_post"):
        check(run(house, text, read_as), "HassBroadcast", [], message=message)


@pytest.mark.parametrize("text", ["send the robot back to its dock", "dock the robot vacuum",
                                  "robot vacuum go back to the charger"])
def test_a_robot_vacuum_sent_home_returns_to_base(house: Home, text: str) -> None:
    r = run(house, text, "iot_cleaning", area="Den")
    assert r[0] is not None and r[0].intent == "HassVacuumReturnToBase" and r[0].targets
    assert all(t.startswith("vacuum.") for t in r[0].targets)


@pytest.mark.parametrize(("said", "value", "targets"), [
    ("set the den to 23 degrees", "23", ["climate.den_heat_pump"]),
    ("set the den to 218 degrees", "218", []),  # Home Assistant refuses it (7-35 unless the device says)
    ("set the den to 3 degrees", "3", []),
])
def test_a_temperature_outside_the_devices_range_does_not_resolve(house, said, value, targets):
    r = run(house, said, "iot_climate_set", ("temperature", value), area="Den")
    check(r, "HassClimateSetTemperature", targets)


def test_on_off_whose_spans_name_nothing_takes_the_device_the_whole_request_names(house):
    """The model read "turn on" but took the device's name for a title: the request is the name and a switch
    word, as Home Assistant's matcher reads it."""
    r = run(house, "turn on the toaster", "iot_wemo_on", ("audiobook_name", "toaster"), area="Den")
    check(r, "HassTurnOn", ["switch.toaster"], name="Toaster")
    r = run(house, "turn on the toaster please now", "iot_wemo_on", ("audiobook_name", "toaster"), area="Den")
    assert not (r[0] and r[0].targets)  # not the whole request: nothing is guessed
