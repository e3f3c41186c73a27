"""benchmarks/selflearn_scenario.py: the offline analysis only (no replay, no broker, no model).

A tiny fake scenario (train_sessions.jsonl + patterns.json) and a store written through the real
InteractionStore schema, so the rephrase detector's per-kind precision and recall can be checked exactly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from edge_nlu.learn.store import InteractionStore
from edge_nlu.learn.types import TurnRecord
from tests.conftest import ROOT, load_script

pytestmark = pytest.mark.unit


sl = load_script(ROOT / "benchmarks" / "selflearn_scenario.py")

PATTERNS = [{"id": "asr-x", "kind": "asr_confusion"}, {"id": "idm-x", "kind": "idiom"},
            {"id": "per-x", "kind": "personal"}]


def _session(sid: str, source: str, pattern: str | None, turns: list[tuple[str, str]]) -> dict[str, Any]:
    return {"session": sid, "site": "hall-screen", "user": "amara", "source": source, "pattern": pattern,
            "turns": [{"t": f"2027-02-01T08:00:{10 * i:02d}", "text": text, "after": after}
                      for i, (text, after) in enumerate(turns)]}


SESSIONS = [
    # asr: two retries, the first one said again word for word (s1.1 -> s1.2), both marked
    _session("s1", "pattern", "asr-x", [("turn off the kill", "barge_in"), ("turn off the kill", "negative"),
                                        ("turn off the kiln", "none")]),
    # idiom: one retry missed (not_recognized on it), one marked (barge_in on it)
    _session("s2", "pattern", "idm-x", [("fancy a soak", "none"), ("turn on the hot tub", "none")]),
    _session("s3", "pattern", "idm-x", [("fancy a soak", "barge_in"), ("turn on the hot tub", "none")]),
    # personal, abandoned after one turn: no retry, its only turn is a negative
    _session("s4", "pattern", "per-x", [("put my show on", "silence")]),
    # two requests: the first turn marked (a false mark), and one not marked
    _session("s5", "two_requests", None, [("start mopsy", "none"), ("start whizz", "none")]),
    _session("s6", "ordinary", None, [("lock the deadbolt", "none")]),
    _session("s7", "two_requests", None, [("add rye bread to the grocery list", "none"),
                                          ("add lemons to the grocery list", "none")]),
]
SIGNALS = {"s1.1": ["rephrase"], "s1.2": ["rephrase"], "s2.1": ["not_recognized"], "s3.1": ["barge_in", "rephrase"],
           "s5.1": ["rephrase"], "sl-dev-001": ["rephrase"]}


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    d = tmp_path / "scenario"
    d.mkdir()
    (d / "patterns.json").write_text(json.dumps(PATTERNS))
    (d / "train_sessions.jsonl").write_text("".join(json.dumps(s) + "\n" for s in SESSIONS))
    return d


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "work" / "learn" / "learning.sqlite3"
    path.parent.mkdir(parents=True)
    qids = [f"{s['session']}.{k}" for s in SESSIONS for k in range(1, len(s["turns"]) + 1)] + ["sl-dev-001"]
    with InteractionStore(path) as st:
        for i, qid in enumerate(qids):
            ts = 1_800_000_000.0 + 10 * i
            tid = st.record_turn(TurnRecord(ts=ts, site="hall-screen", text=f"turn {qid}", query_id=qid, user="amara"))
            for kind in SIGNALS.get(qid, []):
                st.add_signal(tid, kind, ts + 5)
    return path


def _pr(positives: int, marked: int, recall: float | None) -> dict[str, Any]:
    return {"positives": positives, "marked": marked, "recall": recall}


def test_detector_precision_recall_per_kind(store: Path, scenario: Path) -> None:
    d = sl.analyse_detector(store, scenario)
    kinds = d["per_kind"]
    assert {k: (v["positives"], v["marked"], v["recall"]) for k, v in kinds.items()} == {
        "asr_confusion": (2, 2, 1.0), "idiom": (2, 1, 0.5), "name_variant": (0, 0, None),
        "dropped_words": (0, 0, None), "personal": (0, 0, None)}
    assert kinds["idiom"]["with_barge_in"] == 1 and kinds["idiom"]["with_not_recognized"] == 1
    assert kinds["idiom"]["with_any_defect"] == 2 and kinds["asr_confusion"]["with_any_defect"] == 0
    assert (d["positives"], d["true_marks"], d["recall"]) == (4, 3, 0.75)
    assert d["precision"] == 0.75  # 3 true marks, 1 false
    assert d["false_marks"] == {"two_requests first turns": 1, "other turns": 0}
    assert d["false_marks_detail"]["two_requests first turns"] == {"turns": 2, "marked": 1}
    assert d["false_marks_detail"]["other: pattern last turns"] == {"turns": 4, "marked": 0}
    assert d["false_marks_detail"]["other: ordinary turns"] == {"turns": 1, "marked": 0}
    assert d["recall_by_after"] == {"barge_in": _pr(2, 2, 1.0), "negative": _pr(1, 1, 1.0), "none": _pr(1, 0, 0.0)}
    assert d["recall_by_kind_after"]["idiom"] == {"barge_in": _pr(1, 1, 1.0), "negative": _pr(0, 0, None),
                                                  "none": _pr(1, 0, 0.0)}
    assert d["recall_by_defect_signal"] == {"with defect signal": _pr(2, 1, 0.5), "without": _pr(2, 2, 1.0)}
    assert d["recall_by_words"] == {"same words again": _pr(1, 1, 1.0), "different words": _pr(3, 2, 2 / 3)}
    assert (d["turns_in_key"], d["key_turns_missing"], d["store_turns_outside_key"]) == (13, 0, 1)
    assert d["marked_outside_key"] == 1  # sl-dev-001: not in the answer key, so outside precision
    assert d["signals_on_key_turns"] == {"barge_in": 1, "not_recognized": 1, "rephrase": 4}


def test_score_groups_and_half_fixed() -> None:
    fig = {"checks": 10, "should_rewrite": 6, "must_not_rewrite": 4, "defect_rate_before_pct": 100.0,
           "should_pass_before_by": {"unseen": "0/4", "scope=personal": "1/2", "seen": "2/2"},
           "should_pass_after_by": {"unseen": "2/4", "scope=personal": "1/2", "seen": "1/2"},
           "win_loss": "3:1", "false_rewrites": []}
    g = sl.analyse_score(fig)["groups"]
    assert g["unseen"] | {} == {"checks": 4, "fails_before": 4, "fails_after": 2, "defect_before": 1.0,
                                "defect_after": 0.5, "reduction": 0.5, "half_fixed": True}
    assert (g["scope=personal"]["reduction"], g["scope=personal"]["half_fixed"]) == (0.0, False)
    assert (g["seen"]["fails_before"], g["seen"]["reduction"], g["seen"]["half_fixed"]) == (0, None, False)
    assert sl.analyse_score(fig)["half_fixed"] == {"unseen": True, "scope=personal": False}


def test_main_from_out_json_and_bad_inputs(store: Path, scenario: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    assert sl.main(["--from", str(out), "--scenario", str(scenario)]) == 2  # no score.json
    assert "score.json is missing" in capsys.readouterr().err
    (out / "score.json").write_text("{not json")
    assert sl.main(["--from", str(out), "--scenario", str(scenario)]) == 2
    fig = {"checks": 2, "should_rewrite": 1, "must_not_rewrite": 1, "should_pass_before_by": {"unseen": "0/1"},
           "should_pass_after_by": {"unseen": "1/1"}}
    (out / "score.json").write_text(json.dumps(fig))
    assert sl.main(["--from", str(out), "--scenario", str(scenario)]) == 2  # no work_dir.txt
    assert "work_dir.txt" in capsys.readouterr().err
    (out / "work_dir.txt").write_text(f"{store.parent.parent}\n")
    (out / "replay_rc.txt").write_text("1\n")
    assert sl.main(["--from", str(out), "--scenario", str(scenario), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["replay_rc"] == 1 and rep["detector"]["precision"] == 0.75
    assert rep["score"]["groups"]["unseen"]["reduction"] == 1.0
    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"this is not a database" * 100)
    assert sl.main(["--from", str(out), "--scenario", str(scenario), "--store", str(bad)]) == 2
    assert "unreadable" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        sl.main(["--from", str(out), "--edge-nlu", "x"])
    assert exc.value.code == 2
