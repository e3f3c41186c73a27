"""`python -m export rewriter --quick` writes a rewriter directory the runtime accepts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

from edge_nlu.learn.encoder import SentenceEncoder, load_global_index, verify_dir
from edge_nlu.learn.rephrase import FEATURES, N_FEATURES, RephraseDetector
from edge_nlu.model.runner import sha256
from tests.conftest import require_export

ROOT = Path(__file__).resolve().parent.parent
FILES = ("encoder.onnx", "tokenizer.json", "rephrase.onnx", "global_index.npy", "global_texts.json")


@pytest.fixture(scope="module")
def quick_rewriter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole rewriter build in --quick mode: data, teacher, student, ONNX, int8, index, detector."""
    require_export()
    out = tmp_path_factory.mktemp("models") / "rewriter"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "export", "rewriter", "--quick", "--out", str(out), "--threads", "1"],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def test_quick_rewriter_verifies_against_its_manifest(quick_rewriter: Path) -> None:
    manifest = verify_dir(quick_rewriter)
    assert manifest["quick"] is True and manifest["kind"] == "rewriter"
    assert set(manifest["files"]) == set(FILES)
    for name, meta in manifest["files"].items():
        assert meta["sha256"] == sha256(quick_rewriter / name)
        assert meta["bytes"] == (quick_rewriter / name).stat().st_size
    assert manifest["rephrase"]["features"] == list(FEATURES)
    figures = manifest["figures"]
    assert figures["encoder"]["int8_bytes"] < figures["encoder"]["fp32_bytes"]
    assert -1.0 <= figures["student_vs_teacher_cosine"]["int8_mean"] <= 1.0
    for split in ("train", "holdout"):
        m = figures["rephrase"][split]
        assert m["n"] > 0 and all(0.0 <= m[k] <= 1.0 for k in ("accuracy", "precision", "recall", "roc_auc"))
    assert 0 < figures["latency_one_thread"]["student_int8"]["p50_ms"] <= figures["latency_one_thread"][
        "student_int8"]["p99_ms"]


def test_quick_encoder_is_fused_and_int8(quick_rewriter: Path) -> None:
    graph = onnx.load(str(quick_rewriter / "encoder.onnx")).graph
    ops = {n.op_type for n in graph.node}
    assert "Attention" in ops or "QAttention" in ops  # transformer fusion happened
    assert ops & {"MatMulInteger", "DynamicQuantizeMatMul", "QAttention"}  # and int8 quantization
    assert [i.name for i in graph.input] == ["input_ids", "attention_mask", "token_type_ids"]
    assert [o.name for o in graph.output] == ["embedding"]
    recipe = verify_dir(quick_rewriter)["encoder"]["onnx"]  # the NLU model's recipe: Optimum end to end
    assert recipe["exporter"] == "optimum.exporters.onnx" and recipe["quantization"]["quantizer"] == "ORTQuantizer"


def test_quick_encoder_gives_unit_vectors_batched_or_not(quick_rewriter: Path) -> None:
    enc = SentenceEncoder(quick_rewriter)
    texts = ["turn off the kitchen lights", "what's the weather tomorrow", "play some jazz", "", "x " * 200]
    v = enc.encode(texts)
    assert v.shape == (len(texts), 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    single = np.vstack([enc.encode([t]) for t in texts])
    assert np.all(np.sum(single * v, axis=1) > 0.99)  # padding in a batch barely moves a vector
    assert enc.encode([]).shape == (0, 384)
    again = enc.encode(["play some jazz"])  # from the cache, a copy
    again[0, 0] = 42.0
    assert enc.encode(["play some jazz"])[0, 0] != 42.0


def test_quick_index_rows_match_texts(quick_rewriter: Path) -> None:
    texts, vecs = load_global_index(quick_rewriter)
    assert len(texts) == vecs.shape[0] > 0 and vecs.shape[1] == 384
    assert json.loads((quick_rewriter / "global_texts.json").read_text()) == texts
    assert np.load(quick_rewriter / "global_index.npy").dtype == np.float16
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=2e-3)
    enc = SentenceEncoder(quick_rewriter)
    i = len(texts) // 2
    assert float(enc.encode([texts[i]])[0] @ vecs[i]) > 0.999  # the index was built by this encoder


def test_quick_rephrase_model_runs(quick_rewriter: Path) -> None:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(quick_rewriter / "rephrase.onnx"), providers=["CPUExecutionProvider"])
    p = sess.run(None, {"features": np.random.default_rng(0).random((5, N_FEATURES), dtype=np.float32)})[0]
    assert p.shape == (5, 1) and np.all((p >= 0) & (p <= 1))
    det = RephraseDetector(quick_rewriter, SentenceEncoder(quick_rewriter))
    assert 0.0 <= det.probability("turn of the kitchen lights", "turn off the kitchen lights", 4.0) <= 1.0
    assert det.probability("Turn off the lights!", "turn off the lights", 3.0) == 1.0
