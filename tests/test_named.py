"""A device's whole name and a switch word, or a scene's name alone, as HA's matcher reads them."""

from __future__ import annotations

import pytest
import yaml

from edge_nlu.domain.context import RequestContext
from edge_nlu.domain.home import Home
from edge_nlu.domain.profiles import load_profiles
from edge_nlu.domain.result import NLU, Action
from edge_nlu.resolve.resolver import resolve

HOME = Home.from_dict(yaml.safe_load("""
areas: [{id: loft, name: Loft}, {id: porch, name: Porch}]
entities:
  - {id: switch.dehumidifier_plug, name: Dehumidifier plug, area: loft, state: "off", aliases: [damp buster]}
  - {id: light.porch_lantern, name: Lantern, area: porch, state: "on"}
  - {id: light.loft_lantern, name: Lantern, area: loft, state: "on"}
  - {id: scene.film_time, name: Film time, state: scening}
  - {id: script.feed_the_fish, name: Feed the fish, state: "off"}
  - {id: media_player.loft_tv, name: Loft tv, area: loft, state: "off", attributes: {device_class: tv}}
"""))


def run(text: str, intent: str) -> Action | None:
    action, _ = resolve(NLU(intent, 0.9), text, HOME, RequestContext.from_dict({"area": "Loft"}), load_profiles())
    return action


@pytest.mark.parametrize(("text", "ha", "target"), [
    ("put the damp buster on", "HassTurnOn", "switch.dehumidifier_plug"),
    ("switch off dehumidifier plug", "HassTurnOff", "switch.dehumidifier_plug"),
    ("damp buster off please", "HassTurnOff", "switch.dehumidifier_plug"),
    ("turn the lantern off", "HassTurnOff", "light.loft_lantern"),  # two called so: the satellite's room's
    ("film time", "HassTurnOn", "scene.film_time"),
    ("activate the film time scene", "HassTurnOn", "scene.film_time"),
    ("run feed the fish", "HassTurnOn", "script.feed_the_fish"),
])
def test_a_name_the_model_misread(text: str, ha: str, target: str) -> None:
    action = run(text, "play_video")  # an unknown name is often read as a title
    assert action is not None and action.intent == ha and action.targets == (target,)


@pytest.mark.parametrize("text", ["put the damp buster on the list", "film time is over", "play film time",
                                  "put the kettle on"])
def test_only_the_whole_request_around_a_whole_name(text: str) -> None:
    action = run(text, "play_video")
    assert action is None or action.intent != "HassTurnOn" or action.targets != ("switch.dehumidifier_plug",)
    assert action is None or action.targets != ("scene.film_time",)


HOUSE = Home.from_dict(yaml.safe_load("""
areas: [{id: utility, name: Utility}, {id: loft, name: Loft}]
entities:
  - {id: binary_sensor.utility_flood, name: Flood sensor, area: utility, state: "on",
     attributes: {device_class: moisture}}
  - {id: switch.washer, name: Washer, area: utility, state: "on"}
  - {id: sensor.washer_time_left, name: Washer time left, area: utility, state: "14",
     attributes: {unit_of_measurement: min}}
"""))


@pytest.mark.parametrize("intent", ["recommendation_locations", "qa_factoid", "general_quirky"])
def test_a_home_question_the_model_read_as_something_else(intent: str) -> None:
    ctx = RequestContext.from_dict({"area": "Loft"})
    leak, said = resolve(NLU(intent, 0.9), "is there a leak in the utility", HOUSE, ctx, load_profiles())
    assert leak is not None and leak.intent == "HassGetState" and leak.targets == ("binary_sensor.utility_flood",)
    assert said and said.lower().startswith("yes")
    left, said = resolve(NLU(intent, 0.9), "how long is left", HOUSE, ctx, load_profiles())
    assert left is not None and left.targets == ("sensor.washer_time_left",) and said and "14" in said


def test_a_question_about_no_part_of_the_home_stays_outside_it() -> None:
    ctx = RequestContext.from_dict({"area": "Loft"})
    action, _ = resolve(NLU("qa_factoid", 0.9), "is there a leak in the titanic", HOUSE, ctx, load_profiles())
    assert action is None


def test_a_sensor_reading_the_model_read_as_something_else() -> None:
    ctx = RequestContext.from_dict({"area": "Loft"})
    action, said = resolve(NLU("qa_stock", 0.9), "what's the washer time left", HOUSE, ctx, load_profiles())
    assert action is not None and action.intent == "HassGetState" and action.targets == ("sensor.washer_time_left",)
    assert said and "14" in said
    action, _ = resolve(NLU("qa_stock", 0.9), "what's the price of gold", HOUSE, ctx, load_profiles())
    assert action is None


def test_a_kind_of_sensor_in_a_named_room_the_model_read_as_something_else() -> None:
    ctx = RequestContext.from_dict({"area": "Loft"})
    action, _ = resolve(NLU("qa_factoid", 0.9), "how's the humidity in the utility", HUMID, ctx, load_profiles())
    assert action is not None and action.targets == ("sensor.utility_humidity",)
    assert action.slots.get("area") == "Utility"


HUMID = Home.from_dict(yaml.safe_load("""
areas: [{id: utility, name: Utility}, {id: loft, name: Loft}]
entities:
  - {id: sensor.utility_humidity, name: Utility room damp, area: utility, state: "71",
     attributes: {device_class: humidity, unit_of_measurement: "%"}}
  - {id: sensor.loft_humidity, name: Loft damp, area: loft, state: "50",
     attributes: {device_class: humidity, unit_of_measurement: "%"}}
"""))
