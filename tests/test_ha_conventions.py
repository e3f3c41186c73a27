"""Home Assistant's conventions for lights, volume, covers, media and targeting, on a home of our own.

Each test is a way people phrase a request that HA's English sentences also cover, and the frame HA's
handler acts on: brightness as a number ('the lowest' is 1), a colour temperature in kelvin, cover
device classes, the room a media command keeps to, 'everywhere' and 'all the lights'. NLU objects are
built by hand as the model gives them.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from edge_nlu.domain.context import RequestContext
from edge_nlu.domain.home import Home
from edge_nlu.domain.profiles import load_profiles
from edge_nlu.domain.result import NLU, Action, Slot
from edge_nlu.resolve.resolver import resolve

HOME = """
floors:
  - {id: ground, name: Ground Floor}
  - {id: attic_floor, name: Attic Floor}
areas:
  - {id: lounge, name: Lounge, floor: ground}
  - {id: kitchen, name: Kitchen, floor: ground}
  - {id: garage, name: Garage, floor: ground}
  - {id: tv_room, name: TV Room, floor: ground}
  - {id: home_office, name: Home Office, floor: ground}
  - {id: cinema_room, name: Cinema Room, floor: attic_floor}
  - {id: attic, name: Attic, floor: attic_floor}
entities:
  - {id: light.lounge_ceiling, name: Lounge ceiling, area: lounge, state: "on", aliases: [big light],
     attributes: {brightness: 60}}
  - {id: light.lounge_lamp, name: Lounge lamp, area: lounge, state: "off", attributes: {brightness: 0}}
  - {id: light.kitchen_spots, name: Kitchen spots, area: kitchen, state: "on", aliases: [big light],
     attributes: {brightness: 100}}
  - {id: light.tv_room_lamp, name: Reading lamp, area: tv_room, state: "off", attributes: {brightness: 0}}
  - {id: light.attic_bulb, name: Attic bulb, area: attic, state: "off", attributes: {brightness: 0}}
  - {id: light.cinema_strip, name: Cinema strip, area: cinema_room, state: "off", attributes: {brightness: 0}}
  - {id: media_player.tv, name: TV, area: tv_room, state: "off", attributes: {device_class: tv, volume_level: 30}}
  - {id: media_player.lounge_tv, name: Lounge TV, area: lounge, state: "off",
     attributes: {device_class: tv, volume_level: 30}}
  - {id: media_player.lounge_sonos, name: Sonos, area: lounge, state: idle,
     attributes: {device_class: speaker, volume_level: 30}}
  - {id: media_player.kitchen_radio, name: Kitchen radio, area: kitchen, state: idle,
     attributes: {device_class: speaker, volume_level: 30}}
  - {id: media_player.office_tv, name: Office tv, area: home_office, state: "off",
     attributes: {device_class: tv, volume_level: 30}}
  - {id: media_player.cinema_stereo, name: Cinema room stereo, area: cinema_room, state: idle,
     attributes: {device_class: speaker, volume_level: 30}}
  - {id: cover.lounge_awning, name: Patio awning, area: lounge, state: closed,
     attributes: {device_class: awning, position: 0}}
  - {id: cover.lounge_velux, name: Velux, area: lounge, state: closed, attributes: {device_class: window, position: 0}}
  - {id: binary_sensor.lounge_window, name: Lounge window sensor, area: lounge, state: "off",
     attributes: {device_class: window}}
  - {id: cover.barn_door, name: Barn door, area: kitchen, state: closed, attributes: {device_class: door, position: 0}}
  - {id: lock.back_door, name: Back door, area: kitchen, state: locked}
  - {id: cover.garden_gate, name: Garden gate, area: home_office, state: closed,
     attributes: {device_class: gate, position: 0}}
  - {id: cover.garage_door, name: Up and over, area: lounge, state: closed,
     attributes: {device_class: garage, position: 0}}
  - {id: script.leaving_home, name: Leaving home, state: "off"}
  - {id: scene.cinema, name: Cinema, state: "off"}
  - {id: light.floor_lamp, name: Floor lamp, area: cinema_room, state: "off", attributes: {brightness: 0}}
"""

PROFILES = load_profiles()


@pytest.fixture(scope="module")
def home() -> Home:
    return Home.from_dict(yaml.safe_load(HOME))


def run(home: Home, text: str, intent: str, *slots: tuple[str, str], area: str = "Lounge",
        playing: tuple[str, ...] = (), paused: tuple[str, ...] = ()) -> Action:
    """The action for a request said in `area`, with some players playing or paused."""
    found = []
    for ty, value in slots:
        start = text.find(value)
        found.append(Slot(ty, value, max(start, 0), max(start, 0) + len(value)))
    overrides: dict[str, Any] = {e: {"state": "playing"} for e in playing}
    overrides.update({e: {"state": "paused"} for e in paused})
    ctx = RequestContext.from_dict({"area": area, "time": "2026-03-03T19:00:00"})
    action, _ = resolve(NLU(intent, 0.9, tuple(found)), text, home.with_overrides(overrides), ctx, PROFILES)
    assert action is not None
    return action


def check(action: Action, intent: str, targets: list[str], **slots: Any) -> None:
    assert action.intent == intent, action
    assert sorted(action.targets) == sorted(targets), action
    for key, value in slots.items():
        if value is None:
            assert key not in action.slots, action
        else:
            assert action.slots.get(key) == value, action


# -- lights: brightness, colour, colour temperature -------------------------------------------------

@pytest.mark.parametrize(("text", "amount", "want"), [
    ("set the color temperature of the lounge lamp to 2700 kelvin", "2700", {"temperature": 2700}),
    ("lounge lamp color temperature four thousand five hundred", "four thousand five hundred",
     {"temperature": 4500}),
    ("make the lounge lamp warm white", "", {"temperature": 2700, "color": None, "brightness": None}),
    ("turn the lounge lamp to candle light", "", {"temperature": 1900}),
    ("lounge lamp to warm white at 40 percent", "40 percent", {"temperature": 2700, "brightness": 40}),
    ("set the lounge lamp temperature to day light", "", {"temperature": 6500, "brightness": None}),
    ("set the lounge lamp to daylight", "", {"temperature": 6500}),
    ("make the lounge lamp brown", "", {"color": "brown", "brightness": None}),
    ("lounge lamp brightness to the lowest", "", {"brightness": 1}),
    ("set the lounge lamp to the highest brightness", "", {"brightness": 100}),
    ("decrease the lounge lamp brightness 80 percent", "80 percent", {"brightness": 80}),
    ("increase the lounge lamp brightness to 30", "30", {"brightness": 30}),
    ("decrease the lounge lamp brightness to the maximum", "maximum", {"brightness": 100}),
])
def test_light_values_as_ha_takes_them(home: Home, text: str, amount: str, want: dict[str, Any]) -> None:
    slots = (("device_name", "lounge lamp"),) + ((("change_amount", amount),) if amount else ())
    check(run(home, text, "iot_hue_lightchange", *slots), "HassLightSet", ["light.lounge_lamp"], **want)


def test_a_step_said_with_by_still_moves_the_brightness(home: Home) -> None:
    r = run(home, "dim the lounge ceiling by 20 percent", "iot_hue_lightdim", ("change_amount", "20 percent"))
    check(r, "HassLightSet", ["light.lounge_ceiling"], brightness=40)


# -- which entities: everywhere, all the lights, here, names inside names -----------------------------

ALL_LIGHTS = ["light.attic_bulb", "light.cinema_strip", "light.floor_lamp", "light.kitchen_spots",
              "light.lounge_ceiling", "light.lounge_lamp", "light.tv_room_lamp"]


@pytest.mark.parametrize(("text", "intent", "ha"), [
    ("turn off the lights everywhere", "iot_hue_lightoff", "HassTurnOff"),
    ("lights off all over the house", "iot_hue_lightoff", "HassTurnOff"),
    ("switch on the lamps in every room", "iot_hue_lighton", "HassTurnOn"),
    ("turn off all the lights", "iot_hue_lightoff", "HassTurnOff"),
    ("get every light out", "iot_hue_lightoff", "HassTurnOff"),
])
def test_the_whole_home(home: Home, text: str, intent: str, ha: str) -> None:
    check(run(home, text, intent, area="Kitchen"), ha, ALL_LIGHTS, area=None, domain="light")


@pytest.mark.parametrize("text", ["turn off all the lights in here", "turn off the lights",
                                  "turn off all the lights in my room"])
def test_the_room_stays_the_room(home: Home, text: str) -> None:
    check(run(home, text, "iot_hue_lightoff", area="Kitchen"), "HassTurnOff", ["light.kitchen_spots"],
          area="Kitchen")


def test_a_room_inside_a_floor_name_is_the_floor(home: Home) -> None:
    r = run(home, "lights off in the attic floor", "iot_hue_lightoff", ("floor_name", "attic floor"))
    check(r, "HassTurnOff", ["light.attic_bulb", "light.cinema_strip", "light.floor_lamp"], floor="Attic Floor",
          area=None)


def test_a_near_miss_of_a_name_is_no_part_of_a_floors_name(home: Home) -> None:
    r = run(home, "attic floor lamps on", "iot_hue_lighton", ("floor_name", "attic floor"), ("device_type", "lamps"))
    check(r, "HassTurnOn", ["light.attic_bulb", "light.cinema_strip", "light.floor_lamp"], floor="Attic Floor")


def test_a_name_inside_a_rooms_name_is_the_room(home: Home) -> None:
    r = run(home, "turn on the lights in the cinema room", "iot_hue_lighton", ("house_place", "cinema room"))
    check(r, "HassTurnOn", ["light.cinema_strip", "light.floor_lamp"], area="Cinema Room")


def test_a_device_kind_inside_a_room_name_is_the_room(home: Home) -> None:
    r = run(home, "turn on the lamp in the tv room", "iot_hue_lighton", ("house_place", "tv room"))
    check(r, "HassTurnOn", ["light.tv_room_lamp"], area="TV Room")


def test_one_name_several_devices_means_the_rooms(home: Home) -> None:
    check(run(home, "put the big light on", "iot_hue_lighton", area="Kitchen"), "HassTurnOn",
          ["light.kitchen_spots"])
    check(run(home, "put the big light on", "iot_hue_lighton", area="Lounge"), "HassTurnOn",
          ["light.lounge_ceiling"])


def test_the_end_of_a_name_is_not_a_rooms_name(home: Home) -> None:
    r = run(home, "pause the music in the home office", "audio_volume_mute", ("house_place", "home office"),
            playing=("media_player.kitchen_radio",))
    check(r, "HassMediaPause", ["media_player.office_tv"], area="Home Office")


def test_a_near_miss_ends_on_no_function_word(home: Home) -> None:
    r = run(home, "make the volume home office to 40", "audio_volume_up", ("house_place", "home office"),
            ("change_amount", "40"))
    check(r, "HassSetVolume", ["media_player.office_tv"], volume_level=40, name=None)


# -- covers by HA's device classes ----------------------------------------------------------------------

@pytest.mark.parametrize(("text", "intent", "ha", "targets", "slots"), [
    ("open the awning", "iot_cover_open", "HassTurnOn", ["cover.lounge_awning"], {"device_class": "awning"}),
    ("set the windows to 30 percent", "iot_cover_set", "HassSetPosition", ["cover.lounge_velux"],
     {"device_class": "window", "position": 30}),
    ("raise the windows in this space to 60", "iot_cover_set", "HassSetPosition", ["cover.lounge_velux"],
     {"area": "Lounge", "position": 60}),
    ("open the garage door to 40 percent", "iot_cover_set", "HassSetPosition", ["cover.garage_door"],
     {"device_class": "garage", "position": 40}),
])
def test_covers_by_class(home: Home, text: str, intent: str, ha: str, targets: list[str],
                         slots: dict[str, Any]) -> None:
    check(run(home, text, intent, area="Lounge"), ha, targets, **slots)


def test_a_door_is_the_rooms_cover_door_else_its_lock(home: Home) -> None:
    check(run(home, "close the door", "iot_cover_close", area="Kitchen"), "HassTurnOff", ["cover.barn_door"],
          device_class="door")
    check(run(home, "lock the door", "iot_lock", area="Kitchen"), "HassTurnOn", ["lock.back_door"])


def test_the_garage_door_is_not_the_garage(home: Home) -> None:
    r = run(home, "close the garage door", "iot_cover_close", ("device_type", "garage door"), area="Kitchen")
    check(r, "HassTurnOff", ["cover.garage_door"])


# -- media: the room, the state, the content ----------------------------------------------------------

@pytest.mark.parametrize(("intent", "ha"), [("audio_volume_mute", "HassMediaPause"),
                                            ("media_next", "HassMediaNext"),
                                            ("media_previous", "HassMediaPrevious")])
def test_a_media_command_keeps_to_the_room(home: Home, intent: str, ha: str) -> None:
    # the kitchen radio is idle; the lounge speaker plays, in another room
    r = run(home, "skip in the kitchen", intent, ("house_place", "kitchen"), area="Lounge",
            playing=("media_player.lounge_sonos",))
    check(r, ha, ["media_player.kitchen_radio"], area="Kitchen")
    r = run(home, "next", intent, area="Kitchen", playing=("media_player.lounge_sonos",))
    check(r, ha, ["media_player.kitchen_radio"], area="Kitchen")


def test_a_room_without_players_takes_the_only_one_in_that_state(home: Home) -> None:
    r = run(home, "resume", "media_resume", area="Garage", paused=("media_player.kitchen_radio",))
    check(r, "HassMediaUnpause", ["media_player.kitchen_radio"])


def test_volume_goes_to_the_player_that_plays_among_several(home: Home) -> None:
    r = run(home, "set the volume to 20 percent", "audio_volume_up", ("change_amount", "20"),
            playing=("media_player.lounge_tv",))
    check(r, "HassSetVolume", ["media_player.lounge_tv"], volume_level=20, area="Lounge")


def test_a_tv_show_is_no_tv(home: Home) -> None:
    r = run(home, "pause the tv show", "audio_volume_mute", ("device_type", "tv"), area="Lounge",
            playing=("media_player.lounge_sonos",))
    check(r, "HassMediaPause", ["media_player.lounge_sonos"], name=None)


@pytest.mark.parametrize(("text", "slots", "query", "media_class"), [
    ("play album rumours on my sonos", (("music_album", "rumours"), ("device_name", "sonos")), "rumours", "album"),
    ("play the song yellow submarine on cinema room stereo",
     (("song_name", "yellow submarine"), ("device_name", "cinema room stereo")), "yellow submarine", "track"),
    ("play the podcast the rest is history", (("podcast_name", "rest is history"),), "the rest is history",
     "podcast"),
    ("play anything by little simz", (("artist_name", "simz"),), "little simz", "artist"),
])
def test_search_query_and_class_as_said(home: Home, text: str, slots: tuple[tuple[str, str], ...], query: str,
                                        media_class: str) -> None:
    action = run(home, text, "play_music", *slots)
    assert action.intent == "HassMediaSearchAndPlay"
    assert action.slots["search_query"] == query and action.slots["media_class"] == media_class, action


@pytest.mark.parametrize(("text", "intent", "span", "query"), [
    ("play the film brief encounter on the lounge tv", "play_video", ("movie_name", "brief"), "brief encounter"),
    ("put on jazz fm radio", "play_radio", ("radio_name", "jazz"), "jazz fm"),
    ("play the tv show only fools and horses", "play_video", ("movie_name", "only fools and"), "only fools and horses"),
    ("play the archers podcast in the kitchen", "play_podcasts", ("podcast_name", "the archers"), "the archers"),
])
def test_a_title_cut_short_runs_on_to_the_class_word_or_the_place(home: Home, text: str, intent: str,
                                                                  span: tuple[str, str], query: str) -> None:
    # HA's search_query is a wildcard: every word of the title, not the part the model marked
    assert run(home, text, intent, span).slots["search_query"] == query


@pytest.mark.parametrize(("text", "ha"), [
    ("next one", "HassMediaNext"), ("skip this", "HassMediaNext"), ("next track please", "HassMediaNext"),
    ("previous song", "HassMediaPrevious"), ("go back one", "HassMediaPrevious")])
def test_a_bare_skip_is_a_skip_whatever_the_model_read(home: Home, text: str, ha: str) -> None:
    action = run(home, text, "play_podcasts", area="Kitchen", playing=("media_player.kitchen_radio",))
    check(action, ha, ["media_player.kitchen_radio"])


def test_a_skip_inside_a_longer_request_is_left_to_the_model(home: Home) -> None:
    action = run(home, "play the next episode of the archers", "play_podcasts", ("podcast_name", "the archers"),
                 area="Kitchen")
    assert action.intent == "HassMediaSearchAndPlay"
