"""Requests about the assistant itself get HA's HassRespond and an answer, never an action on the home."""

from __future__ import annotations

import pytest
import yaml

from edge_nlu.domain.context import RequestContext
from edge_nlu.domain.home import Home
from edge_nlu.domain.profiles import load_profiles
from edge_nlu.domain.result import NLU
from edge_nlu.resolve.resolver import resolve

HOME = Home.from_dict(yaml.safe_load("""
areas: [{id: den, name: Den}]
entities: [{id: light.den, name: Den light, area: den, state: "off"}]
"""))


def run(text: str, intent: str = "general_quirky") -> tuple[str | None, tuple[str, ...], str | None]:
    action, said = resolve(NLU(intent, 0.9), text, HOME, RequestContext.from_dict({"area": "Den"}), load_profiles())
    return (action.intent if action else None), (action.targets if action else ()), said


@pytest.mark.parametrize("text", ["hello", "hey there", "good morning", "are you recording",
                                  "are you always listening to me?", "where does my data go",
                                  "what can i ask you", "so what can i say", "who built you"])
def test_about_the_assistant(text: str) -> None:
    intent, targets, said = run(text, "iot_hue_lighton")  # whatever the model read
    assert intent == "HassRespond" and targets == ()
    assert said


@pytest.mark.parametrize("text", ["hi turn on the den light", "hello darkness my old friend",
                                  "what can i cook with eggs"])
def test_a_longer_request_is_not_small_talk(text: str) -> None:
    assert run(text)[0] != "HassRespond"
