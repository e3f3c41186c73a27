"""`edge-nlu eval`: the figures are computed right (checked on records whose answers we know)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edge_nlu.model.evaluate import evaluate
from edge_nlu.model.runner import NLUModel
from tests.conftest import ROOT, SHIPPED


@pytest.fixture(scope="module")
def model() -> NLUModel:
    return NLUModel(SHIPPED)


def _as_gold(model: NLUModel, text: str) -> dict[str, object]:
    p = model.predict(text)
    return {"text": text, "intent": p.intent, "slots": [s.to_dict() for s in p.slots]}


def test_scores_are_exact_on_known_records(model: NLUModel) -> None:
    right = [_as_gold(model, t) for t in ("wake me up at seven am tomorrow", "play some jazz in the kitchen")]
    assert all(r["slots"] for r in right)
    wrong_intent = {**right[0], "intent": "definitely_not_an_intent"}
    extra_slot = {**right[1], "slots": [*right[1]["slots"], {"type": "person", "value": "bob", "start": 0,
                                                            "end": 3}]}
    report = evaluate(model, [*right, wrong_intent, extra_slot])
    assert report["n"] == 4
    assert report["intent_accuracy"] == pytest.approx(3 / 4)
    assert report["exact_match"] == pytest.approx(2 / 4)
    n_pred = sum(len(r["slots"]) for r in right) * 2
    assert report["slot_precision"] == pytest.approx(1.0)
    assert report["slot_recall"] == pytest.approx(n_pred / (n_pred + 1))
    assert report["top_confusions"][0][0] == "definitely_not_an_intent"
    assert report["per_intent"]["definitely_not_an_intent"] == {"n": 1, "accuracy": 0.0}


def test_cli_eval_json_and_table(model: NLUModel, tmp_path: Path) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text("\n".join(json.dumps(_as_gold(model, t)) for t in ("turn off the lights", "what time is it")))
    p = subprocess.run([sys.executable, "-m", "edge_nlu.cli", "eval", "--data", str(data), "--json"],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["intent_accuracy"] == 1.0
    p = subprocess.run([sys.executable, "-m", "edge_nlu.cli", "eval", "--data", str(data)],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert "intent accuracy 1.0000" in p.stdout


@pytest.mark.parametrize("content", ["{broken", json.dumps({"text": "no intent"})])
def test_cli_eval_bad_data(tmp_path: Path, content: str) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text(content + "\n")
    p = subprocess.run([sys.executable, "-m", "edge_nlu.cli", "eval", "--data", str(data)],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 2
    assert "invalid_input" in p.stderr
