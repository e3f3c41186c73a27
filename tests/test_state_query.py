"""State questions with Home Assistant's HassGetState frame and answer (phrasings of our own).

HA's target matching picks the targets before the state filter: with a quantifier ('any', 'all',
'which', 'how many') the whole home unless an area or floor is named; the answer says which of them
are in the state, from the live state.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from edge_nlu.domain.context import RequestContext
from edge_nlu.domain.home import Entity, Home
from edge_nlu.domain.profiles import load_profiles
from edge_nlu.domain.result import NLU, Action, Slot
from edge_nlu.resolve import answers
from edge_nlu.resolve.resolver import resolve

HOME = Home.from_dict(yaml.safe_load("""
floors:
  - {id: ground, name: Ground Floor}
  - {id: upper, name: Upper Floor}
areas:
  - {id: kitchen, name: Kitchen, floor: ground}
  - {id: hall, name: Hall, floor: ground}
  - {id: lounge, name: Lounge, floor: ground}
  - {id: garage, name: Garage, floor: ground}
  - {id: bedroom, name: Bedroom, floor: upper}
  - {id: office, name: Office, floor: upper}
entities:
  - {id: light.kitchen_pendants, name: Kitchen pendants, area: kitchen, state: "on"}
  - {id: light.hall_light, name: Hall light, area: hall, state: "off"}
  - {id: light.lounge_lamp, name: Lounge lamp, area: lounge, state: "on"}
  - {id: light.christmas_lights, name: Christmas lights, area: lounge, state: "off"}
  - {id: light.bedroom_ceiling, name: Bedroom ceiling, area: bedroom, state: "off"}
  - {id: fan.bedroom_fan, name: Bedroom fan, area: bedroom, state: "on"}
  - {id: fan.office_fan, name: Office fan, area: office, state: "off"}
  - {id: switch.kettle, name: Kettle, area: kitchen, state: "off"}
  - {id: switch.printer, name: Printer, area: office, state: "on"}
  - {id: lock.front_door, name: Front door, area: hall, state: locked}
  - {id: lock.back_door, name: Back door, area: kitchen, state: unlocked}
  - {id: cover.garage_door, name: Garage door, area: garage, state: closed,
     attributes: {device_class: garage}}
  - {id: cover.kitchen_blinds, name: Kitchen blinds, area: kitchen, state: open,
     attributes: {device_class: blind}}
  - {id: cover.bedroom_blinds, name: Bedroom blinds, area: bedroom, state: closed,
     attributes: {device_class: blind}}
  - {id: binary_sensor.bedroom_window, name: Bedroom window, area: bedroom, state: "on",
     attributes: {device_class: window}}
  - {id: binary_sensor.office_window, name: Office window, area: office, state: "off",
     attributes: {device_class: window}}
  - {id: binary_sensor.hall_motion, name: Hall motion, area: hall, state: "on",
     attributes: {device_class: motion}}
  - {id: binary_sensor.lounge_presence, name: Lounge presence, area: lounge, state: "off",
     attributes: {device_class: occupancy}}
  - {id: person.alex, name: Alex, state: home}
  - {id: person.sam, name: Sam, state: Work}
"""))
PROFILES = load_profiles()
LIGHTS = ["light.bedroom_ceiling", "light.christmas_lights", "light.hall_light", "light.kitchen_pendants",
          "light.lounge_lamp"]


def ask(text: str, intent: str = "iot_device_query", area: str = "Kitchen",
        *slots: tuple[str, str]) -> tuple[Action, str | None]:
    nlu = NLU(intent, 0.9, tuple(Slot(t, v, text.find(v), text.find(v) + len(v)) for t, v in slots))
    action, said = resolve(nlu, text, HOME, RequestContext.from_dict({"area": area}), PROFILES)
    assert action is not None, text
    return action, said


def frame(action: Action) -> tuple[str | None, dict[str, Any], list[str]]:
    return action.intent, dict(action.slots), sorted(action.targets)


@pytest.mark.parametrize(("text", "slots", "targets", "said"), [
    # no room or floor named: the whole home, wherever the satellite is
    ("are any lights on", {"domain": "light", "state": "on"}, LIGHTS, "Yes, Kitchen pendants and Lounge lamp."),
    ("is every light off", {"domain": "light", "state": "off"}, LIGHTS,
     "No, Kitchen pendants and Lounge lamp are not off."),
    ("which fans are on", {"domain": "fan", "state": "on"}, ["fan.bedroom_fan", "fan.office_fan"], "Bedroom fan."),
    ("how many switches are off", {"domain": "switch", "state": "off"}, ["switch.kettle", "switch.printer"],
     "1 is off."),
    # a room or a floor scopes it
    ("which lights are on in the lounge", {"domain": "light", "state": "on", "area": "Lounge"},
     ["light.christmas_lights", "light.lounge_lamp"], "Lounge lamp."),
    ("are all the upper floor lights off", {"domain": "light", "state": "off", "floor": "Upper Floor"},
     ["light.bedroom_ceiling"], "Yes."),
    # 'on' before a place is a preposition, unless it is the only state word
    ("are any lights off on the ground floor", {"domain": "light", "state": "off", "floor": "Ground Floor"},
     ["light.christmas_lights", "light.hall_light", "light.kitchen_pendants", "light.lounge_lamp"],
     "Yes, Christmas lights and Hall light."),
    ("are any fans on the upper floor", {"domain": "fan", "state": "on", "floor": "Upper Floor"},
     ["fan.bedroom_fan", "fan.office_fan"], "Yes, Bedroom fan."),
    # the state's list says which kind: locked doors are locks, open doors and blinds are covers
    ("are all the doors locked", {"domain": "lock", "state": "locked"}, ["lock.back_door", "lock.front_door"],
     "No, Back door is not locked."),
    ("how many garage doors are shut", {"domain": "cover", "device_class": "garage", "state": "closed"},
     ["cover.garage_door"], "1 is closed."),
    ("are any blinds open upstairs", {"domain": "cover", "device_class": "blind", "state": "open",
                                      "floor": "Upper Floor"}, ["cover.bedroom_blinds"], "No."),
    # binary sensors by device class: no window covers here, so the window sensors
    ("which windows are open", {"domain": "binary_sensor", "device_class": "window", "state": "on"},
     ["binary_sensor.bedroom_window", "binary_sensor.office_window"], "Bedroom window."),
    ("is there any motion in the hall", {"domain": "binary_sensor", "device_class": "motion", "state": "on",
                                         "area": "Hall"}, ["binary_sensor.hall_motion"], "Yes, Hall motion."),
    # a device name made of a room and a kind word is the kind in that room
    ("how many kitchen blinds are open", {"domain": "cover", "device_class": "blind", "state": "open",
                                          "area": "Kitchen"}, ["cover.kitchen_blinds"], "1 is open."),
    # a name that says more than its kind is that device
    ("are all the christmas lights on", {"name": "Christmas lights", "state": "on"}, ["light.christmas_lights"],
     "No, Christmas lights is not on."),
])
def test_quantified_questions(text: str, slots: dict[str, Any], targets: list[str], said: str) -> None:
    action, answer = ask(text)
    assert frame(action) == ("HassGetState", slots, targets)
    assert answer == said


@pytest.mark.parametrize(("text", "area", "state", "targets", "said"), [
    ("is the garage door open", "Kitchen", "open", ["cover.garage_door"], "No, the garage door is closed."),
    ("is the back door unlocked", "Hall", "unlocked", ["lock.back_door"], "Yes, the back door is unlocked."),
    ("is the front door securely locked", "Hall", "locked", ["lock.front_door"], "Yes, the front door is locked."),
    ("is the bedroom window shut", "Kitchen", "off", ["binary_sensor.bedroom_window"],
     "No, the bedroom window is open."),
    ("is hall motion triggered", "Kitchen", "on", ["binary_sensor.hall_motion"],
     "Yes, the hall motion is detecting motion."),
    ("is the printer on", "Kitchen", "on", ["switch.printer"], "Yes, the printer is on."),
    # no quantifier: the resolver's conventions (the satellite's room), with the state asked about
    ("are the lights on", "Lounge", "on", ["light.christmas_lights", "light.lounge_lamp"],
     "Lounge lamp is on, Christmas lights is not."),
])
def test_yes_no_questions_carry_the_state(text: str, area: str, state: str, targets: list[str], said: str) -> None:
    action, answer = ask(text, "iot_device_query", area)
    assert action.intent == "HassGetState"
    assert action.slots["state"] == state
    assert sorted(action.targets) == targets
    assert answer == said


def test_a_state_in_a_name_is_not_asked() -> None:
    action, answer = ask("how is the kitchen pendants")
    assert "state" not in action.slots
    assert answer == "The kitchen pendants is on."


@pytest.mark.parametrize(("text", "slots", "targets", "said"), [
    ("is anyone home", {"domain": "person", "state": "home"}, ["person.alex", "person.sam"], "Yes, Alex."),
    ("is everybody home", {"domain": "person", "state": "home"}, ["person.alex", "person.sam"],
     "No, Sam is not home."),
    ("who is at work", {"domain": "person", "state": "work"}, ["person.alex", "person.sam"], "Sam."),
    ("how many people are away", {"domain": "person", "state": "not_home"}, ["person.alex", "person.sam"],
     "1 is away."),
    ("where is sam", {"name": "Sam"}, ["person.sam"], "Sam is at Work."),
    ("is alex at the gym", {"name": "Alex", "state": "the gym"}, ["person.alex"], "No, Alex is at home."),
    ("is sam at work", {"name": "Sam", "state": "work"}, ["person.sam"], "Yes, Sam is at Work."),
    # a room with a presence sensor: the sensor, not the people
    ("is anyone in the lounge", {"domain": "binary_sensor", "device_class": "occupancy", "state": "on",
                                 "area": "Lounge"}, ["binary_sensor.lounge_presence"], "No."),
])
def test_people(text: str, slots: dict[str, Any], targets: list[str], said: str) -> None:
    action, answer = ask(text)
    assert frame(action) == ("HassGetState", slots, targets)
    assert answer == said


def test_a_question_whatever_intent_the_model_read() -> None:
    action, _ = ask("are any lights on", "iot_hue_lighton")
    assert frame(action) == ("HassGetState", {"domain": "light", "state": "on"}, LIGHTS)


def test_a_command_stays_a_command() -> None:
    action, _ = ask("all lights off", "iot_hue_lightoff")
    assert action.intent == "HassTurnOff"


def test_a_room_the_home_lacks_is_said() -> None:
    action, answer = ask("are any lights on in the attic", "iot_device_query", "Kitchen", ("house_place", "attic"))
    assert action.slots == {"area": "attic"}
    assert answer == answers.unknown_area_sentence("attic")


def test_long_lists_are_cut_as_ha_cuts_them() -> None:
    many = [Entity(id=f"light.l{i}", name=f"Lamp {i}", state="on") for i in range(6)]
    assert answers.any_sentence(many) == "Yes, Lamp 0, Lamp 1, Lamp 2 and 3 more."
    assert answers.which_sentence([], "on") == "None are on."
    assert answers.count_sentence(0, "open") == "None are open."


@pytest.mark.parametrize(("text", "slots", "targets", "said"), [
    ("and upstairs?", {"domain": "light", "state": "on", "floor": "Upper Floor"}, ["light.bedroom_ceiling"], "No."),
    ("what about the fans", {"domain": "fan", "state": "on"}, ["fan.bedroom_fan", "fan.office_fan"],
     "Yes, Bedroom fan."),
])
def test_the_same_question_again(text: str, slots: dict[str, Any], targets: list[str], said: str) -> None:
    hist = [{"text": "are any lights on", "action": {"intent": "HassGetState", "targets": LIGHTS,
                                                      "slots": {"domain": "light", "state": "on"}}}]
    nlu = NLU("iot_device_query", 0.9)
    action, answer = resolve(nlu, text, HOME, RequestContext.from_dict({"area": "Kitchen", "history": hist}),
                             PROFILES)
    assert action is not None
    assert frame(action) == ("HassGetState", slots, targets)
    assert answer == said


@pytest.mark.parametrize("text", ["did i leave any lights on", "have we left any lights on", "are there any lights on"])
def test_other_ways_to_ask_any(text: str) -> None:
    action, answer = ask(text, "iot_hue_lighton")
    assert frame(action) == ("HassGetState", {"domain": "light", "state": "on"}, LIGHTS)
    assert answer == "Yes, Kitchen pendants and Lounge lamp."


def test_is_there_a_means_any() -> None:
    action, answer = ask("is there a light on in the hall")
    assert frame(action) == ("HassGetState", {"domain": "light", "state": "on", "area": "Hall"}, ["light.hall_light"])
    assert answer == "No."


def test_a_kind_the_place_has_none_of() -> None:
    action, answer = ask("are any fans on in the kitchen")
    assert frame(action) == ("HassGetState", {"domain": "fan", "state": "on", "area": "Kitchen"}, [])
    assert answer == "I couldn't find any fans in the kitchen."
