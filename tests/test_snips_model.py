"""The shipped SNIPS model (built by `python -m export build --train .../snips/train.jsonl`)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from edge_nlu.model.runner import NLUModel, verify
from edge_nlu.pipeline import load
from tests.conftest import ROOT

SNIPS = ROOT / "models" / "snips"
CASES = [
    ("play some jazz by miles davis on spotify", "PlayMusic", {("artist", "miles davis"), ("service", "spotify")}),
    ("what will the weather be in paris tomorrow", "GetWeather", {("city", "paris"), ("timeRange", "tomorrow")}),
    ("book a table for two at a sushi restaurant", "BookRestaurant", {("party_size_number", "two")}),
    ("add this song to my workout playlist", "AddToPlaylist", {("playlist", "workout")}),
    ("rate this book four out of six stars", "RateBook", {("rating_value", "four"), ("best_rating", "six")}),
    ("find the movie schedule for the nearest cinema", "SearchScreeningEvent", set()),
    ("find a tv series called the wire", "SearchCreativeWork", {("object_name", "the wire")}),
]


def test_snips_model_is_complete_and_labelled_with_snips_intents() -> None:
    manifest = verify(SNIPS)
    assert manifest["training_data"]["context"] is False
    labels = json.loads((SNIPS / "labels.json").read_text())
    assert {i["name"] for i in labels["intents"]} == {
        "AddToPlaylist", "BookRestaurant", "GetWeather", "PlayMusic", "RateBook", "SearchCreativeWork",
        "SearchScreeningEvent"}
    figures = manifest["figures"]
    assert figures["dev"]["n"] == figures["teacher_dev"]["n"] == 699


@pytest.mark.parametrize(("text", "intent", "some_slots"), CASES)
def test_snips_model_understands_snips_style_requests(text: str, intent: str, some_slots: set[tuple[str, str]]) -> None:
    out = NLUModel(SNIPS).predict(text)
    assert out.intent == intent
    assert some_slots <= {(s.type, s.value) for s in out.slots}


def test_snips_model_through_the_runtime_has_no_home_action() -> None:
    r = load(model=SNIPS).parse("play some jazz by miles davis on spotify")
    assert r["nlu"]["intent"] == "PlayMusic" and r["error"] is None and r["action"] is None


def test_eval_command_on_the_snips_model(tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "mini.jsonl"
    rows = []
    for text, intent, slots in CASES:
        spans = [{"type": t, "value": v, "start": text.index(v), "end": text.index(v) + len(v)} for t, v in slots]
        rows.append(json.dumps({"text": text, "intent": intent, "slots": spans}))
    data.write_text("\n".join(rows) + "\n")
    out = subprocess.run([sys.executable, "-m", "edge_nlu.cli", "eval", "--model", str(SNIPS), "--data", str(data),
                          "--json"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["n"] == len(CASES) and report["intent_accuracy"] == 1.0 and report["slot_recall"] == 1.0
