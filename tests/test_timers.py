"""Timer control and "never mind" from the words, with Home Assistant's slots (phrasings of our own)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from edge_nlu.domain.context import RequestContext
from edge_nlu.domain.home import Home
from edge_nlu.domain.profiles import load_profiles
from edge_nlu.domain.result import NLU
from edge_nlu.resolve.numbers import Duration, duration_spans, parse_duration, spoken_fractions
from edge_nlu.resolve.resolver import resolve

HOME = Home.from_dict(yaml.safe_load("""
areas:
  - {id: kitchen, name: Kitchen}
  - {id: study, name: Study}
entities:
  - {id: light.kitchen, name: Kitchen light, area: kitchen, state: "off"}
  - {id: switch.oven_timer_plug, name: Oven timer plug, area: kitchen, state: "on"}
  - {id: input_boolean.quiet_hours, name: Quiet hours, state: "off"}
  - {id: switch.kettle, name: Kettle, area: kitchen, state: "on"}
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


@pytest.mark.parametrize(("text", "slots"), [
    ("turn off the lights in 4 hours", {"hours": 4, "conversation_command": "turn off the lights"}),
    ("after ten minutes switch off the fan", {"minutes": 10, "conversation_command": "switch off the fan"}),
    ("Turn off the porch light In 2 minutes.", {"minutes": 2, "conversation_command": "Turn off the porch light"}),
    ("in 1 hour and 30 seconds, close the blinds",
     {"hours": 1, "seconds": 30, "conversation_command": "close the blinds"}),
])
def test_a_delayed_command_is_a_timer_that_runs_it(text: str, slots: dict[str, Any]) -> None:
    assert act(text) == ("HassStartTimer", slots)


@pytest.mark.parametrize(("text", "slots"), [
    ("set a pizza timer for 10 minutes", {"minutes": 10, "name": "pizza"}),
    ("timer for 5 minutes called tea", {"minutes": 5, "name": "tea"}),
    ("start a 3 minute timer for soft boiled eggs", {"minutes": 3, "name": "soft boiled eggs"}),
    ("create a timer named bread for 2-hours", {"hours": 2, "name": "bread"}),
    ("set a timer for 4 hours to check the roast", {"hours": 4}),
    ("set a kitchen timer for 20 minutes", {"minutes": 20}),
])
def test_a_started_timer_keeps_its_name(text: str, slots: dict[str, Any]) -> None:
    assert act(text) == ("HassStartTimer", slots)


@pytest.mark.parametrize(("text", "intent", "slots"), [
    ("increase the 2-hours timer by 17-minute", "HassIncreaseTimer", {"start_hours": 2, "minutes": 17}),
    ("add 5 minutes to the timer for 20 minutes", "HassIncreaseTimer", {"start_minutes": 20, "minutes": 5}),
    ("take 1/2 an hour off my kitchen timer", "HassDecreaseTimer", {"area": "Kitchen", "minutes": 30}),
    ("add 10 minutes to the study timer", "HassIncreaseTimer", {"area": "Study", "minutes": 10}),
    ("decrease the timer called tea by 45 seconds", "HassDecreaseTimer", {"name": "tea", "seconds": 45}),
    ("time left on the 9-minutes timer", "HassTimerStatus", {"start_minutes": 9}),
    ("cancel my 3-hours timer", "HassCancelTimer", {"start_hours": 3}),
    ("resume the timer for 1-hours", "HassUnpauseTimer", {"start_hours": 1}),
])
def test_which_timer_by_its_starting_duration_or_room(text: str, intent: str, slots: dict[str, Any]) -> None:
    # 'hours' in 'Quiet hours' (a device) must not hide the timer; the change is not the starting duration
    assert act(text, "timer_control") == (intent, slots)


@pytest.mark.parametrize(("text", "want"), [
    ("1/2 an hour", Duration(minutes=30)),
    ("three and 1/2 hours", Duration(hours=3, minutes=30)),
    ("3 and half hours", Duration(hours=3, minutes=30)),
    ("two-hours 38-minute", Duration(hours=2, minutes=38)),
    ("17-minute", Duration(minutes=17)),
    ("three quarters of an hour", Duration(minutes=45)),
    ("1 1/2 hours", Duration(hours=1, minutes=30)),
    ("1/2 a minute", Duration(seconds=30)),
])
def test_durations_as_written_in_has_templates(text: str, want: Duration) -> None:
    assert parse_duration(text) == want


def test_duration_spans_find_each_duration_said() -> None:
    said = spoken_fractions("take three and 1/2 hours off the 2-hours timer on the second floor")
    assert [(said[a:b], d) for a, b, d in duration_spans(said)] == [
        ("three and half hours", Duration(hours=3, minutes=30)), ("2-hours", Duration(hours=2))]
    assert duration_spans("set a timer") == []


def test_a_device_named_in_full_is_asked_about_unless_the_model_read_a_timer() -> None:
    assert act("how long is left on the kettle timer", "iot_device_query")[0] == "HassGetState"
    assert act("how long is left on the kettle timer", "timer_control") == ("HassTimerStatus", {"name": "kettle"})
    assert act("pause my 2 hours timer", "general_quirky") == ("HassPauseTimer", {"start_hours": 2})
