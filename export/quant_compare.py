"""Dynamic int8 (shipped) against static per-channel QDQ int8 with a calibration set.

Both are measured on the same dev records and, for speed, on the same texts interleaved in
one loop, so machine noise hits both alike. The shipped model stays the dynamic one unless
the static one is better on both counts; the figures go into the manifest either way.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
from onnxruntime.quantization import CalibrationMethod
from optimum.onnxruntime import ORTQuantizer
from optimum.onnxruntime.configuration import AutoQuantizationConfig, CalibrationConfig
from tokenizers import Tokenizer
from transformers import BertConfig

from edge_nlu.model.evaluate import evaluate
from edge_nlu.model.runner import NLUModel

from .common import file_entries, write_manifest

log = logging.getLogger("export")


def model_dir(onnx_path: Path, tokenizer: Path, labels: Path, dest: Path, name: str) -> Path:
    """A directory NLUModel accepts (files + manifest), so every variant runs the same decode."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(onnx_path, dest / "model.onnx")
    shutil.copyfile(tokenizer, dest / "tokenizer.json")
    shutil.copyfile(labels, dest / "labels.json")
    write_manifest(dest, {"name": name, "files": file_entries(dest, ("model.onnx", "tokenizer.json", "labels.json"))},
                   indent=None)
    return dest


def _feed(tok: Tokenizer, text: str, ctx: str) -> dict[str, np.ndarray]:
    """One real request (text + context segment), as the service would feed it (the batch axis is added by
    Optimum's calibration reader)."""
    enc = tok.encode(text, ctx) if ctx else tok.encode(text)
    ids = np.asarray(enc.ids, dtype=np.int64)
    return {"input_ids": ids, "attention_mask": np.ones_like(ids),
            "token_type_ids": np.asarray(enc.type_ids, dtype=np.int64)}


def quantize_static_qdq(
    src: Path, dest: Path, tok: Tokenizer, calib: list[tuple[str, str]], ops: list[str], config: BertConfig
) -> None:
    """Optimum's ORTQuantizer, static: per-channel s8 weights, u8 activations with MinMax ranges from the
    calibration requests (a list stands in for a `datasets.Dataset`: the reader only iterates it)."""
    feeds = [_feed(tok, t, c) for t, c in calib]
    quantizer = ORTQuantizer(src, config=config)
    calibration = CalibrationConfig(dataset_name="edge-nlu requests", dataset_config_name="home",
                                    dataset_split="train", dataset_num_samples=len(feeds),
                                    method=CalibrationMethod.MinMax)
    out_dir = dest.parent / f"{dest.stem}.optimum"
    ranges = quantizer.fit(feeds, calibration, onnx_augmented_model_name=str(out_dir.with_suffix(".aug.onnx")),
                           operators_to_quantize=ops)
    qconfig = AutoQuantizationConfig.avx512_vnni(is_static=True, per_channel=True, operators_to_quantize=ops)
    quantizer.quantize(qconfig, out_dir, file_suffix=None, calibration_tensors_range=ranges)
    shutil.move(str(out_dir / src.name), str(dest))
    shutil.rmtree(out_dir, ignore_errors=True)


def latency(models: dict[str, NLUModel], texts: list[str], rounds: int = 1) -> dict[str, dict[str, float]]:
    """p50/p99 ms of NLUModel.predict per variant, interleaved text by text."""
    times: dict[str, list[float]] = {k: [] for k in models}
    for m in models.values():  # warm up
        m.predict("turn on the light")
    for _ in range(rounds):
        for t in texts:
            for k, m in models.items():
                t0 = time.perf_counter()
                m.predict(t)
                times[k].append((time.perf_counter() - t0) * 1e3)
    return {k: {"p50_ms": float(np.percentile(v, 50)), "p99_ms": float(np.percentile(v, 99)), "latency_n": len(v)}
            for k, v in times.items()}


# name -> (source graph in the build folder, op types quantized)
STATIC_VARIANTS = {
    # the fused graph: its Attention/EmbedLayerNormalization contrib ops have no QDQ form
    "static_qdq_fused_matmul": ("student_fused.onnx", ["MatMul"]),
    # the plain graph, embeddings too; onnxruntime fuses at load time what it can
    "static_qdq_plain_matmul_gather": ("student_fp32.onnx", ["MatMul", "Gather"]),
}


def compare(
    work: Path, dynamic_dir: Path, calib: list[tuple[str, str]],
    dev: list[dict[str, Any]], config: BertConfig, n_latency: int = 500,
) -> dict[str, Any]:
    """Build the static variants next to the shipped dynamic one and measure all of them."""
    tok = Tokenizer.from_file(str(dynamic_dir / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(64, strategy="only_second")
    models = {"dynamic_int8": NLUModel(dynamic_dir)}
    for name, (src, ops) in STATIC_VARIANTS.items():
        dest = work / f"{name}.onnx"
        quantize_static_qdq(work / src, dest, tok, calib, ops, config)
        models[name] = NLUModel(model_dir(dest, dynamic_dir / "tokenizer.json", dynamic_dir / "labels.json",
                                          work / name, name))
    out: dict[str, Any] = {}
    texts = [r["text"] for r in dev[:n_latency]]
    speed = latency(models, texts)
    for k, m in models.items():
        ev = evaluate(m, dev)
        out[k] = {
            "intent_accuracy": ev["intent_accuracy"], "slot_f1": ev["slot_f1"], "n": ev["n"],
            "bytes": (m.dir / "model.onnx").stat().st_size, **speed[k],
        }
        log.info("%s: intent %.4f slot F1 %.4f, %.2f MB, p50 %.3f ms p99 %.3f ms", k, ev["intent_accuracy"],
                 ev["slot_f1"], out[k]["bytes"] / 1e6, speed[k]["p50_ms"], speed[k]["p99_ms"])
    return out
