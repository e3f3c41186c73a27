"""Timer control and "never mind" from the words, with Home Assistant's slots (phrasings of our own)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from edge_nlu.domain.context import RequestContext
from edge_nlu.domain.home import Home
from edge_nlu.domain.profiles import load_profiles
from edge_nlu.domain.result import NLU
from edge_nlu.resolve.resolver import resolve

HOME = Home.from_dict(yaml.safe_load("""
areas:
  - {id: kitchen, name: Kitchen}
  - {id: study, name: Study}
entities:
  - {id: light.kitchen, name: Kitchen light, area: kitchen, state: "off"}
  - {id: switch.oven_timer_plug, name: Oven timer plug, area: kitchen, state: "on"}
"""))
PROFILES = load_profiles()


def act(text: str, intent: str = "timer_set", area: str = "Kitchen") -> tuple[str | None, dict[str, Any]]:
    action, _ = resolve(NLU(intent, 0.9), text, HOME, RequestContext.from_dict({"area": area}), PROFILES)
    assert action is not None, text
    return action.intent, dict(action.slots)


@pytest.mark.parametrize(("text", "intent", "slots"), [
    ("cancel the timer", "HassCancelTimer", {}),
    ("kill the lasagne timer", "HassCancelTimer", {"name": "lasagne"}),
    ("stop my twenty minute timer", "HassCancelTimer", {"start_minutes": 20}),
    ("turn off the timer called eggs", "HassCancelTimer", {"name": "eggs"}),
    ("cancel every timer", "HassCancelAllTimers", {}),
    ("clear all the timers in the study", "HassCancelAllTimers", {"area": "Study"}),
    ("hold the eggs timer", "HassPauseTimer", {"name": "eggs"}),
    ("carry on with the timer", "HassUnpauseTimer", {}),
    ("extend the lasagne timer by ten minutes", "HassIncreaseTimer", {"name": "lasagne", "minutes": 10}),
    ("add thirty seconds to my five minute timer", "HassIncreaseTimer", {"seconds": 30, "start_minutes": 5}),
    ("take two minutes off the timer", "HassDecreaseTimer", {"minutes": 2}),
    ("how long is left on the eggs timer", "HassTimerStatus", {"name": "eggs"}),
    ("how much time is left on my timer", "HassTimerStatus", {}),
])
def test_timer_control_with_the_slots_ha_expects(text: str, intent: str, slots: dict[str, Any]) -> None:
    # whatever the model read: its labels do not cover timer control yet
    for read_as in ("timer_set", "general_quirky", "alarm_remove"):
        assert act(text, read_as) == (intent, slots)


@pytest.mark.parametrize("text", ["never mind", "nevermind", "forget it"])
def test_never_mind(text: str) -> None:
    assert act(text, "general_negate") == ("HassNevermind", {})


@pytest.mark.parametrize(("text", "minutes"), [("set a timer for ten minutes", 10), ("put a timer on for 5 minutes", 5),
                                               ("start a 15 minute pasta timer", 15)])
def test_starting_a_timer_is_still_starting_one(text: str, minutes: int) -> None:
    intent, slots = act(text)
    assert intent == "HassStartTimer" and slots.get("minutes") == minutes


def test_words_without_timer_are_left_to_the_model() -> None:
    intent, _ = act("turn off the kitchen light", "iot_hue_lightoff")
    assert intent == "HassTurnOff"


def test_a_device_with_timer_in_its_name_is_a_device() -> None:
    intent, _ = act("turn off the oven timer plug", "iot_wemo_off")
    assert intent == "HassTurnOff"
