"""Read a shipped int8 model back into torch, so that it can teach the next, smaller student.

A fine-tuned 6-layer teacher costs most of a build; the shipped student is the model the next one
must match, and distilling from it (a teacher assistant, as in TAKD) needs only its weights. The int8
graph of `export.onnx_export` (fused QEmbedLayerNormalization, QAttention, MatMulInteger, per-tensor
scales) holds every weight: each is dequantized, (q - zero point) * scale, into a JointModel.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from transformers import BertConfig, BertModel

from edge_nlu.model.runner import verify

from .model import JointModel, new_bert


class ShippedModelError(ValueError):
    """The graph is not one this recipe wrote (an op or weight where the recipe puts it is missing)."""


def _weights(graph: Any) -> dict[str, np.ndarray]:
    return {i.name: numpy_helper.to_array(i) for i in graph.initializer}


def _deq(w: dict[str, np.ndarray], name: str) -> torch.Tensor:
    """The fp32 value of an initializer, dequantized when it is a quantized one (`name` without suffix)."""
    if name in w:
        return torch.from_numpy(np.asarray(w[name], dtype=np.float32).copy())
    q, s, z = (w.get(f"{name}_{k}") for k in ("quantized", "scale", "zero_point"))
    if q is None or s is None or z is None:
        raise ShippedModelError(f"no weight {name} in the graph")
    return torch.from_numpy(((q.astype(np.float32) - z.astype(np.float32)) * s.astype(np.float32)).copy())


def _matmul_weight(nodes: dict[str, Any], w: dict[str, np.ndarray], node: str) -> torch.Tensor:
    """The (out, in) torch weight of a quantized MatMul node (the graph holds x @ W, W as (in, out))."""
    n = nodes.get(node)
    if n is None:
        raise ShippedModelError(f"no node {node} in the graph")
    return _deq(w, n.input[1].removesuffix("_quantized")).T.contiguous()


def _config(w: dict[str, np.ndarray], graph: Any, base: BertConfig, heads: int) -> BertConfig:
    """The BERT config the graph's weights have (layers, widths, vocabulary); `base` gives the rest."""
    word = _deq(w, "bert.embeddings.word_embeddings.weight")
    cfg = BertConfig.from_dict(base.to_dict())
    cfg.vocab_size, cfg.hidden_size = word.shape
    cfg.num_hidden_layers = sum(n.op_type in ("QAttention", "Attention") for n in graph.node)
    cfg.num_attention_heads = heads
    cfg.intermediate_size = _deq(w, "bert.encoder.layer.0.intermediate.dense.bias").shape[0]
    cfg.max_position_embeddings = _deq(w, "bert.embeddings.position_embeddings.weight").shape[0]
    return cfg


def _bert_state(w: dict[str, np.ndarray], nodes: dict[str, Any], cfg: BertConfig) -> dict[str, torch.Tensor]:
    """The encoder's weights (`bert.` names) from the fused int8 graph (`nodes`: its nodes by name)."""
    state: dict[str, torch.Tensor] = {}
    for part in ("word_embeddings.weight", "position_embeddings.weight", "token_type_embeddings.weight",
                 "LayerNorm.weight", "LayerNorm.bias"):
        state[f"bert.embeddings.{part}"] = _deq(w, f"bert.embeddings.{part}")
    h = cfg.hidden_size
    for i in range(cfg.num_hidden_layers):
        p, g = f"bert.encoder.layer.{i}", f"/bert/encoder/layer.{i}"
        qkv = _deq(w, f"Attention_{i}_qkv_weight").T
        qkv_b = _deq(w, f"Attention_{i}_qkv_bias")
        for k, name in enumerate(("query", "key", "value")):
            state[f"{p}.attention.self.{name}.weight"] = qkv[k * h:(k + 1) * h].contiguous()
            state[f"{p}.attention.self.{name}.bias"] = qkv_b[k * h:(k + 1) * h].contiguous()
        for part in ("attention.output.dense", "intermediate.dense", "output.dense"):
            state[f"{p}.{part}.weight"] = _matmul_weight(nodes, w, f"{g}/{part.replace('.', '/')}/MatMul_quant")
        for part in ("attention.output.dense.bias", "attention.output.LayerNorm.weight",
                     "attention.output.LayerNorm.bias", "intermediate.dense.bias", "output.dense.bias",
                     "output.LayerNorm.weight", "output.LayerNorm.bias"):
            state[f"{p}.{part}"] = _deq(w, f"{p}.{part}")
    return state


def load_shipped(model_dir: Path, base: BertConfig) -> JointModel:
    """The JointModel whose int8 graph is `model_dir`/model.onnx (a model directory, verified first);
    `base` gives what the graph does not (activation, epsilon, dropout)."""
    manifest = verify(model_dir)
    student = manifest.get("student") or {}
    labels = json.loads((model_dir / "labels.json").read_text())
    graph = onnx.load(str(model_dir / "model.onnx")).graph
    w = _weights(graph)
    cfg = _config(w, graph, base, int(student.get("heads", base.num_attention_heads)))
    model = JointModel(cfg, len(labels["intents"]), len(labels["tags"]))
    nodes = {n.name: n for n in graph.node}
    state = _bert_state(w, nodes, cfg)
    state.update({
        "intent_head.weight": _deq(w, "intent_head.weight_Transposed").T.contiguous(),
        "intent_head.bias": _deq(w, "intent_head.bias"),
        "slot_head.weight": _matmul_weight(nodes, w, "/slot_head/MatMul_quant"),
        "slot_head.bias": _deq(w, "slot_head.bias"),
    })
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ShippedModelError(f"{model_dir}: weights missing {missing}, unexpected {unexpected}")
    model.eval()
    return model


def load_encoder(onnx_path: Path, base: BertConfig) -> BertModel:
    """The bare BERT of an int8 sentence-encoder graph (the rewriter's encoder.onnx: pooling lives outside it)."""
    graph = onnx.load(str(onnx_path)).graph
    w = _weights(graph)
    cfg = _config(w, graph, base, base.num_attention_heads)
    bert = new_bert(cfg)
    state = {k.removeprefix("bert."): v for k, v in _bert_state(w, {n.name: n for n in graph.node}, cfg).items()}
    missing, unexpected = bert.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ShippedModelError(f"{onnx_path}: weights missing {missing}, unexpected {unexpected}")
    bert.eval()  # type: ignore[no-untyped-call]  # transformers leaves it unannotated
    return bert
