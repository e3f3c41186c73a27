"""The Optimum recipe (export.onnx_export) on a tiny random BERT: the graph it writes is fused, int8,
has the runtime's inputs and our heads' outputs with tied dynamic axes, runs like torch, and reads
back into torch (export.from_onnx relies on the node names it gives). Seconds, no training."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the export extra is not installed")
pytest.importorskip("optimum.onnxruntime", reason="the export extra is not installed")

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from transformers import BertConfig  # noqa: E402

from edge_nlu.model.session import make_session  # noqa: E402
from export.from_onnx import load_shipped  # noqa: E402
from export.model import JointModel  # noqa: E402
from export.onnx_export import BATCH, INPUTS, SEQ, TARGETS, export_int8, int8_config  # noqa: E402
from export.quant_compare import model_dir  # noqa: E402

OUTPUTS = {"intent_logits": {0: BATCH}, "slot_logits": {0: BATCH, 1: SEQ}}


def _model() -> JointModel:
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=60, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=128, max_position_embeddings=32)
    model = JointModel(cfg, n_intents=5, n_tags=7).eval()
    with torch.no_grad():  # a trained model's look: no two weights alike (the exporter shares equal initializers)
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[JointModel, Path, dict[str, int], tuple[str, ...]]:
    model = _model()
    work = tmp_path_factory.mktemp("recipe")
    result = export_int8(model, model.bert, work / "model.onnx", work, "tiny", OUTPUTS)
    return model, result.int8, result.fusion, result.ops


def test_every_hub_target_gets_the_same_dynamic_int8_config() -> None:
    """One shipped graph serves the Pi (arm64) and x86 hubs only while Optimum quantizes alike for both."""
    configs = [dataclasses.asdict(int8_config(t)) for t in TARGETS]
    assert all(c == configs[0] for c in configs)
    assert not configs[0]["is_static"] and not configs[0]["per_channel"]
    with pytest.raises(ValueError, match="unknown int8 target"):
        int8_config("riscv")


def test_the_graph_is_fused_and_int8(exported: tuple[JointModel, Path, dict[str, int], tuple[str, ...]]) -> None:
    _, path, fusion, ops = exported
    assert fusion["Attention"] == 2 and fusion["EmbedLayerNormalization"] == 1  # one per layer, embeddings too
    assert {"QAttention", "QEmbedLayerNormalization", "MatMulInteger"} <= set(ops)
    assert "Attention" not in ops and "MatMul" not in ops  # nothing left in fp32


def test_inputs_and_outputs_are_the_runtimes_with_tied_axes(
        exported: tuple[JointModel, Path, dict[str, int], tuple[str, ...]]) -> None:
    graph = onnx.load(str(exported[1])).graph
    assert tuple(i.name for i in graph.input) == INPUTS
    dims = {o.name: [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim] for o in graph.output}
    assert dims == {"intent_logits": [BATCH, 5], "slot_logits": [BATCH, SEQ, 7]}
    for i in graph.input:
        assert [d.dim_param for d in i.type.tensor_type.shape.dim] == [BATCH, SEQ]


def test_the_int8_graph_runs_like_torch_at_any_length(
        exported: tuple[JointModel, Path, dict[str, int], tuple[str, ...]]) -> None:
    model, path, _, _ = exported
    session = make_session(path)
    for n in (3, 9, 20):
        ids = torch.arange(1, n + 1)[None, :] % 60
        feed = {"input_ids": ids.numpy(), "attention_mask": np.ones((1, n), dtype=np.int64),
                "token_type_ids": np.zeros((1, n), dtype=np.int64)}
        intent, slots = session.run(None, feed)
        with torch.no_grad():
            t_intent, t_slots = model(ids, torch.ones_like(ids), torch.zeros_like(ids))
        assert slots.shape == (1, n, 7)
        # int8 activations: close, not equal
        assert np.abs(intent - t_intent.numpy()).max() < 0.25 * np.abs(t_intent.numpy()).max() + 0.05
        assert np.abs(slots - t_slots.numpy()).max() < 0.25 * np.abs(t_slots.numpy()).max() + 0.05


def test_the_int8_graph_reads_back_into_torch(exported: tuple[JointModel, Path, dict[str, int], tuple[str, ...]],
                                              tmp_path: Path) -> None:
    model, path, _, _ = exported
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"intents": [{"name": f"i{k}"} for k in range(5)],
                                  "tags": ["O"] + [f"B-s{k}" for k in range(6)]}))
    tok = tmp_path / "tokenizer.json"
    tok.write_text(json.dumps({"version": "1.0", "model": {"type": "WordLevel", "vocab": {"[UNK]": 0},
                                                           "unk_token": "[UNK]"}}))
    back = load_shipped(model_dir(path, tok, labels, tmp_path / "m", "tiny"), model.bert.config)
    for name, weight in model.state_dict().items():
        got = back.state_dict()[name]
        # int8 per-tensor steps: within one step of the largest weight
        assert torch.allclose(got, weight, atol=float(weight.abs().max()) / 127 + 1e-6), name
