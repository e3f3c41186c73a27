"""The training-data generator: offsets, labels, dev-set exclusion, determinism."""

from __future__ import annotations

import pytest

pytest.importorskip("yaml")

from edge_nlu.domain.schema import ADDED_INTENTS, ADDED_SLOTS, HA_INTENT  # noqa: E402
from export.generate import dedup_key, generate, render  # noqa: E402
from export.homes import load_kinds  # noqa: E402


def test_render_offsets() -> None:
    text, slots = render("turn  off the [device_name:desk lamp] in the [house_place:study] ")
    assert text == "turn off the desk lamp in the study"
    assert [(text[s["start"]:s["end"]], s["type"]) for s in slots] == [("desk lamp", "device_name"),
                                                                       ("study", "house_place")]


def test_dedup_key() -> None:
    assert dedup_key("What's  the Temperature?") == "whats the temperature"


def test_generated_examples_are_valid_and_deterministic() -> None:
    kinds = load_kinds()
    a, _ = generate(400, 5, kinds, set())
    b, _ = generate(400, 5, kinds, set())
    assert a == b
    hwu_like = {"iot_hue_lighton", "iot_hue_lightoff", "iot_hue_lightchange", "iot_hue_lightdim",
                "iot_hue_lightup", "iot_wemo_on", "iot_wemo_off", "iot_cleaning", "weather_query",
                "datetime_query", "lists_createoradd", "play_music", "play_podcasts", "play_audiobook",
                "audio_volume_up", "audio_volume_down", "audio_volume_mute"}
    for ex in a:
        assert ex["intent"] in set(ADDED_INTENTS) | hwu_like
        assert ex["intent"] in HA_INTENT
        for s in ex["slots"]:
            assert ex["text"][s["start"]:s["end"]] == s["value"]
    types = {s["type"] for ex in a for s in ex["slots"]}
    assert set(ADDED_SLOTS) <= types
    assert sum(1 for ex in a if ex["context"]) > 300


def test_dev_twins_are_dropped() -> None:
    kinds = load_kinds()
    plain, _ = generate(300, 7, kinds, set())
    banned = {dedup_key(plain[0]["text"]), dedup_key(plain[1]["text"])}
    kept, dropped = generate(300, 7, kinds, banned)
    assert dropped >= 1
    assert not {dedup_key(ex["text"]) for ex in kept} & banned
