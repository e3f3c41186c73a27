"""benchmarks/aarch64_parse.py: its pure parts (request batch, answer comparison, pins, binfmt and dist-info
reading); no debootstrap, no emulation. The comparison is run on real `edge-nlu parse` answers."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from edge_nlu.pipeline import EdgeNLU
from edge_nlu.settings import RuntimeSettings
from tests.conftest import ROOT, SHIPPED, load_script

ap = load_script(ROOT / "benchmarks" / "aarch64_parse.py")
DEV = ROOT.parent / "shared" / "context" / "dev"


def _lines(*objs: dict[str, Any]) -> list[str]:
    return [json.dumps(o) + "\n" for o in objs]


def test_build_requests_keeps_cases_and_fixes_the_clock() -> None:
    cases = _lines({"id": "c1", "text": "turn it off", "context": {"area": "Kitchen"}, "expect": {"intent": "x"}})
    slurp = _lines(*({"id": f"s{i}", "text": f"slurp {i}", "intent": "y"} for i in range(5)))
    hwu = _lines(*({"id": f"h{i}", "text": f"hwu {i}"} for i in range(10)))
    reqs, counts = ap.build_requests(cases, ["\n", *slurp], hwu, 3, 4, fixed_time="2026-01-01T08:00:00")
    assert counts == {"context_dev": 1, "slurp_devel": 3, "hwu64": 4}
    assert reqs[0] == {"id": "c1", "text": "turn it off", "context": {"area": "Kitchen"}}
    assert [r["id"] for r in reqs[1:4]] == ["s0", "s1", "s2"]
    assert [r["id"] for r in reqs[4:]] == ["h0", "h2", "h4", "h6"]  # spread over the file, not its head
    assert all(r["context"] == {"time": "2026-01-01T08:00:00"} for r in reqs[1:])
    assert ap.build_requests([], slurp, hwu, 0, 0) == ([], {"context_dev": 0, "slurp_devel": 0, "hwu64": 0})
    assert ap.build_requests([], slurp, [], 99, 0)[1]["slurp_devel"] == 5  # fewer lines than asked: all of them


@pytest.fixture(scope="module")
def answers() -> list[dict[str, Any]]:
    """Real answers of the shipped model to a few context dev cases."""
    nlu = EdgeNLU(RuntimeSettings(model_dir=SHIPPED, home_path=DEV / "home.json"))
    lines = (DEV / "cases.jsonl").read_text(encoding="utf-8").splitlines()[:6]
    return [nlu.parse(d["text"], d.get("context"), d["id"]) for d in map(json.loads, lines)]


def test_identical_answers_compare_equal(answers: list[dict[str, Any]]) -> None:
    cmp = ap.compare_results(answers, copy.deepcopy(answers), 1e-3)
    assert cmp.ok and cmp.answers_ok and cmp.identical == cmp.same_answer == len(answers)
    assert cmp.conf_stats()["max"] == 0.0 and cmp.conf_stats()["n"] >= len(answers)
    assert ap.format_differences(cmp.differences) == ""


def test_confidences_are_scores_with_a_tolerance(answers: list[dict[str, Any]]) -> None:
    arm = copy.deepcopy(answers)
    arm[1]["nlu"]["confidence"] = answers[1]["nlu"]["confidence"] + 0.0004
    arm[2]["nlu"]["alternatives"][0]["confidence"] = answers[2]["nlu"]["alternatives"][0]["confidence"] - 0.0002
    cmp = ap.compare_results(answers, arm, 1e-3)
    assert cmp.ok and cmp.identical == len(answers)
    stats = cmp.conf_stats()
    assert stats["max"] == pytest.approx(0.0004, abs=1e-9) and stats["over_tol"] == 0
    strict = ap.compare_results(answers, arm, 1e-4)
    assert not strict.ok and strict.answers_ok and strict.same_answer == len(answers)
    assert {(d.path, d.kind) for d in strict.differences} == {("$.nlu.confidence", "score"),
                                                               ("$.nlu.alternatives[0].confidence", "score")}
    assert strict.conf_stats()["over_tol"] == 2


def test_runners_up_order_is_a_score_difference(answers: list[dict[str, Any]]) -> None:
    arm = copy.deepcopy(answers)
    alts = arm[0]["nlu"]["alternatives"]
    assert len(alts) == 2
    alts.reverse()
    cmp = ap.compare_results(answers, arm, 1.0)
    assert cmp.answers_ok and not cmp.ok
    assert {d.kind for d in cmp.differences} == {"score"}
    assert {d.path for d in cmp.differences} >= {"$.nlu.alternatives[0].intent", "$.nlu.alternatives[1].intent"}


def test_any_answer_field_must_be_equal(answers: list[dict[str, Any]]) -> None:
    arm = copy.deepcopy(answers)
    arm[0]["action"]["targets"] = [*answers[0]["action"]["targets"], "light.extra"]
    arm[3]["nlu"]["intent"] = "something_else"
    arm[4]["response"] = (answers[4]["response"] or "") + "!"
    del arm[5]["error"]
    cmp = ap.compare_results(answers, arm, 1.0)  # a huge tolerance covers confidences only
    assert not cmp.answers_ok and cmp.same_answer == cmp.identical == len(answers) - 4
    assert {d.kind for d in cmp.differences} == {"answer"}
    by_line = {d.line: d for d in cmp.differences}
    assert by_line[1].path == "$.action.targets" and by_line[1].id == answers[0]["id"]
    assert by_line[4].path == "$.nlu.intent" and by_line[4].aarch64 == "something_else"
    assert by_line[5].path == "$.response"
    assert by_line[6].path == "$.error" and by_line[6].aarch64 == "<missing>"
    shown = ap.format_differences(cmp.differences)
    assert "line 4" in shown and "something_else" in shown
    assert ap.format_differences(cmp.differences, limit=1).endswith("... and 3 more")


def test_numbers_outside_confidence_are_exact_types_too() -> None:
    a = [{"id": 1, "action": {"slots": {"volume_level": 15, "brightness": 0.5}}, "nlu": {"confidence": 0.9}}]
    b = copy.deepcopy(a)
    b[0]["action"]["slots"]["volume_level"] = 15.0
    b[0]["action"]["slots"]["brightness"] = 0.5000001
    cmp = ap.compare_results(a, b, 1.0)
    assert {d.path for d in cmp.differences} == {"$.action.slots.volume_level", "$.action.slots.brightness"}
    assert not cmp.answers_ok
    nan = copy.deepcopy(a)
    nan[0]["nlu"]["confidence"] = float("nan")
    assert not ap.compare_results(a, nan, 1.0).ok


def test_missing_lines_are_differences(answers: list[dict[str, Any]]) -> None:
    cmp = ap.compare_results(answers, answers[:4], 1e-3)
    assert not cmp.answers_ok and cmp.identical == 4 and (cmp.n_x86, cmp.n_aarch64) == (len(answers), 4)
    assert [(d.line, d.aarch64, d.kind) for d in cmp.differences] == [(5, "<missing>", "answer"),
                                                                     (6, "<missing>", "answer")]
    other = ap.compare_results(answers[:1], answers[:2], 1e-3)
    assert [(d.line, d.x86) for d in other.differences] == [(2, "<missing>")]


def test_conf_stats() -> None:
    cmp = ap.Comparison(n_x86=0, n_aarch64=0, tol=0.01, conf_deltas=[0.0] * 98 + [0.02, 0.5])
    assert cmp.conf_stats() == {"n": 100, "max": 0.5, "p99": 0.02, "median": 0.0, "over_tol": 2}
    assert ap.Comparison(n_x86=0, n_aarch64=0, tol=0.01).conf_stats()["n"] == 0


def test_pinned_requirements() -> None:
    reqs = ["onnxruntime>=1.17", "PyYAML>=6.0", "zeroconf[x]>=0.1; python_version >= '3.10'", "absent>=1"]
    pinned = ap.pinned_requirements(reqs, {"onnxruntime": "1.32.0", "pyyaml": "6.0.4", "zeroconf": "0.140"})
    assert pinned == ["onnxruntime==1.32.0", "PyYAML==6.0.4", 'zeroconf[x]==0.140; python_version >= "3.10"',
                      "absent>=1"]


def test_binfmt_entry(tmp_path: Path) -> None:
    entry = tmp_path / "qemu-aarch64"
    assert not ap.binfmt_enabled(entry)
    entry.write_text("enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\n")
    assert ap.binfmt_enabled(entry)
    entry.write_text("disabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\n")
    assert not ap.binfmt_enabled(entry)


def test_installed_dists_and_root_python(tmp_path: Path) -> None:
    info = tmp_path / "numpy-2.4.6.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: numpy\nVersion: 2.4.6\n\nbody\n")
    (info / "WHEEL").write_text("Wheel-Version: 1.0\nTag: cp311-cp311-manylinux_2_27_aarch64\n")
    (tmp_path / "bare-1.0.dist-info").mkdir()
    assert ap.installed_dists(tmp_path) == [
        {"name": "bare-1.0.dist-info", "version": "?", "tag": "?"},
        {"name": "numpy", "version": "2.4.6", "tag": "cp311-cp311-manylinux_2_27_aarch64"}]
    root = tmp_path / "root"
    (root / "usr" / "bin").mkdir(parents=True)
    assert ap.root_python(root) is None
    (root / "usr" / "bin" / "python3").symlink_to("python3.11")
    assert ap.root_python(root) == "3.11"
