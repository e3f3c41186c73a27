"""End to end with the shipped model: the same words mean different things in different contexts."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from edge_nlu.domain.home import Home
from edge_nlu.pipeline import EdgeNLU, load

KITCHEN = {"area": "Kitchen", "satellite": {"id": "kitchen-puck", "has_screen": False}}


@pytest.fixture(scope="module")
def nlu() -> EdgeNLU:
    return load()


def test_appliance_state_changes_the_models_reading(nlu: EdgeNLU, home: Home) -> None:
    nlu.home = home
    off = nlu.parse("what is the temperature?", KITCHEN)
    on = nlu.parse("what is the temperature?", {**KITCHEN, "state_overrides": {
        "switch.oven": {"state": "on"}, "sensor.oven_temperature": {"state": "180"}}})
    assert off["nlu"]["intent"] == "iot_climate_query"
    assert on["nlu"]["intent"] == "iot_device_query"
    assert off["action"]["targets"] == ["climate.kitchen_thermostat"]
    assert on["action"]["targets"] == ["sensor.oven_temperature"]
    assert "180" in on["response"]
    assert "20" in off["response"]


def test_screen_changes_the_models_reading(nlu: EdgeNLU, home: Home) -> None:
    nlu.home = home
    tv = nlu.parse("play the hobbit", {"area": "Living Room", "satellite": {"id": "tv", "has_screen": True}})
    puck = nlu.parse("play the hobbit", {"area": "Living Room", "satellite": {"id": "p", "has_screen": False}})
    assert tv["nlu"]["intent"] == "play_video"
    assert puck["nlu"]["intent"] == "play_audiobook"
    assert tv["action"]["slots"]["media_class"] == "movie"
    assert tv["action"]["targets"] == ["media_player.living_room_tv"]


def test_previous_turn_resolves_it(nlu: EdgeNLU, home: Home) -> None:
    nlu.home = home
    ctx = {**KITCHEN, "history": [{"text": "turn on the sofa lamp",
                                   "action": {"intent": "HassTurnOn", "targets": ["light.sofa_lamp"]}}]}
    r = nlu.parse("turn it off", ctx)
    assert r["action"]["intent"] == "HassTurnOff"
    assert r["action"]["targets"] == ["light.sofa_lamp"]


def test_slot_offsets_index_the_text(nlu: EdgeNLU) -> None:
    r = nlu.parse("set an alarm for seven am tomorrow")
    assert r["nlu"]["slots"]
    for s in r["nlu"]["slots"]:
        assert r["text"][s["start"]:s["end"]] == s["value"]


def test_result_is_json_and_errors_are_results(nlu: EdgeNLU) -> None:
    json.dumps(nlu.parse("turn on the lights", {"area": "Kitchen"}))
    assert nlu.parse(None)["error"]["code"] == "invalid_text"
    assert nlu.parse("hi", context="kitchen")["error"]["code"] == "invalid_context"


def test_installed_package_finds_its_model_from_any_folder(tmp_path: Path) -> None:
    try:
        dist = metadata.distribution("edge-nlu")
    except metadata.PackageNotFoundError:
        pytest.skip("edge-nlu is not installed in this environment")
    if dist.read_text("direct_url.json") and '"editable": true' in (dist.read_text("direct_url.json") or ""):
        pytest.skip("editable install")
    code = ("import edge_nlu, json; print(edge_nlu.__file__); "
            "print(json.dumps(edge_nlu.load().parse('turn off the lights')))")
    p = subprocess.run([sys.executable, "-I", "-c", code], cwd=tmp_path, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    where, line = p.stdout.splitlines()
    assert "site-packages" in where
    assert json.loads(line)["action"]["intent"] == "HassTurnOff"


def test_the_next_best_intents_come_with_the_result(nlu: EdgeNLU) -> None:
    """Contract section 3: up to two alternatives, best first, each less likely than the intent."""
    r = nlu.parse("turn off the kitchen lights")["nlu"]
    alts = r["alternatives"]
    assert len(alts) == 2 and all(a["intent"] != r["intent"] for a in alts)
    confidences = [r["confidence"]] + [a["confidence"] for a in alts]
    assert confidences == sorted(confidences, reverse=True)
    assert sum(confidences) <= 1.0 + 1e-3
