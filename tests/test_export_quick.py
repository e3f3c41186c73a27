"""The whole export pipeline in --quick mode produces a model the runtime accepts."""

from __future__ import annotations

import json
from pathlib import Path

import onnx

from edge_nlu.nlu_model import NLUModel, verify


def test_quick_build_writes_a_verified_int8_model(quick_model: Path) -> None:
    manifest = verify(quick_model)
    assert manifest["quick"] is True
    assert manifest["training_data"]["generated"]["count"] > 0
    figures = manifest["figures"]
    assert 0.0 <= figures["int8_holdout_no_context"]["intent_accuracy"] <= 1.0
    assert figures["int8_bytes"] < figures["fp32_bytes"]
    graph = onnx.load(str(quick_model / "model.onnx")).graph
    ops = {n.op_type for n in graph.node}
    assert "Attention" in ops or "QAttention" in ops  # transformer fusion happened
    assert ops & {"MatMulInteger", "DynamicQuantizeMatMul", "QAttention"}  # and int8 quantization
    labels = json.loads((quick_model / "labels.json").read_text())
    names = {i["name"] for i in labels["intents"]}
    assert {"iot_hue_lightoff", "iot_climate_query"} <= names


def test_quick_model_runs_in_the_runtime(quick_model: Path) -> None:
    m = NLUModel(quick_model)
    out = m.predict("turn off the kitchen lights", "room kitchen | screen no")
    assert out.intent in m.labels.intents
    assert 0.0 < out.confidence <= 1.0
    for s in out.slots:
        assert "turn off the kitchen lights"[s.start:s.end] == s.value


def test_pruned_vocabulary_keeps_unseen_words(quick_model: Path) -> None:
    m = NLUModel(quick_model)
    enc = m.tok.encode("zyxwvut qqq")
    assert "[UNK]" not in enc.tokens
