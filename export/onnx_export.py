"""The ONNX recipe every shipped BERT graph goes through (the NLU model and the rewriter's encoder),
on Hugging Face Optimum.

torch -> fp32 ONNX (`optimum.exporters.onnx.export` with an `OnnxConfig` for our heads, outputs
checked against torch by `validate_model_outputs`) -> `ORTOptimizer` (onnxruntime's BERT fusion:
Attention / EmbedLayerNormalization contrib ops, so the int8 graph gets the quantized attention
kernel) -> `ORTQuantizer` with `AutoQuantizationConfig` (dynamic int8) -> loaded once by the
runtime's session factory.

Hand-written steps, each because Optimum cannot express it:
- eager attention before export: the fusion recognises the classic attention subgraph, not SDPA's;
- onnxruntime's symbolic shape inference between fusion and quantization: the contrib ops have no
  ONNX type inference, and `ORTQuantizer.quantize` passes no `DefaultTensorType`, so without the
  inferred types it cannot type the MatMuls after an Attention node and fails.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import onnx
import onnxruntime
from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference
from optimum.exporters.onnx import export, validate_model_outputs
from optimum.exporters.onnx.model_configs import BertOnnxConfig
from optimum.onnxruntime import ORTOptimizer, ORTQuantizer
from optimum.onnxruntime.configuration import AutoQuantizationConfig, OptimizationConfig, QuantizationConfig
from torch import nn
from transformers import BertConfig, BertModel

from edge_nlu.model.session import make_session

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
"""The graph inputs, as the runtime feeds them (BertOnnxConfig's, in this order)."""
OPSET = 17
"""The opset of every shipped graph so far; onnxruntime 1.17, the oldest the runtime accepts, reads it."""
BATCH, SEQ = "batch_size", "sequence_length"
"""Optimum's names for the dynamic input axes; outputs use the same names so the shapes tie up."""
TARGETS = {"arm64": AutoQuantizationConfig.arm64, "avx512_vnni": AutoQuantizationConfig.avx512_vnni}
"""The hubs the int8 graph is for. Optimum's dynamic configs for both are u8 activations, s8 symmetric
per-tensor weights, no reduced range: one graph serves both (tests/test_onnx_export checks it stays so)."""
FUSION = OptimizationConfig(optimization_level=0, disable_embed_layer_norm_fusion=False)
"""BERT fusion offline, onnxruntime's own graph optimisations left to load time on the hub itself (level 0);
EmbedLayerNormalization fused too (Optimum leaves it out by default), so the embeddings are quantized."""
VALIDATE_ATOL = 1e-4
"""fp32 ONNX against torch, max abs difference (Optimum's default for BERT, 1e-5, trips on summation order)."""

Axes = Mapping[str, Mapping[int, str]]
"""Output name -> {axis: symbolic dimension}, in output order."""


class HeadsOnnxConfig(BertOnnxConfig):  # type: ignore[misc]  # optimum is untyped
    """BERT's inputs with our heads' outputs (the joint logits, the pooled embedding): no built-in task fits."""

    def __init__(self, config: BertConfig, outputs: Axes) -> None:
        super().__init__(config, task="feature-extraction")
        self._heads = {name: dict(axes) for name, axes in outputs.items()}

    @property
    def outputs(self) -> dict[str, dict[int, str]]:
        return self._heads


@dataclass(frozen=True)
class Int8Export:
    """What the recipe wrote and what it saw on the way."""

    fp32: Path
    """The plain fp32 graph (scratch folder)."""
    fused: Path
    """The fp32 graph after BERT fusion (scratch folder); the int8 graph is quantized from it."""
    int8: Path
    """The shipped dynamic int8 graph."""
    fusion: dict[str, int]
    """Fused operator -> count in the fused graph, as Optimum reports it."""
    ops: tuple[str, ...]
    """Operator types in the int8 graph, sorted."""
    recipe: dict[str, Any]
    """How it was made, for the manifest (`recipe()`)."""

    @property
    def fp32_bytes(self) -> int:
        return self.fp32.stat().st_size

    @property
    def int8_bytes(self) -> int:
        return self.int8.stat().st_size


class _Exportable(nn.Module):
    """`model` as Optimum's exporter wants it: with a `config` (the encoder's) and named tensor inputs.

    Holding `model` as a submodule would prefix every node name with /model/; its children are adopted
    instead, so the graph keeps the model's own node names (export.from_onnx reads them)."""

    def __init__(self, model: nn.Module, config: BertConfig) -> None:
        super().__init__()
        self._forward = model.forward
        for name, child in model.named_children():
            self.add_module(name, child)
        self.config = config

    def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
        return self._forward(input_ids, attention_mask, token_type_ids)


def eager_attention(bert: BertModel) -> None:
    """The fusion recognises the classic attention subgraph, not the SDPA one."""
    bert.config._attn_implementation = "eager"
    bert.set_attn_implementation("eager")


def to_onnx(model: nn.Module, bert: BertModel, path: Path, outputs: Axes) -> None:
    """Plain fp32 ONNX of `model` (whose encoder is `bert`) with dynamic batch and sequence axes, checked
    against torch on Optimum's dummy inputs."""
    model.eval()
    eager_attention(bert)
    config = HeadsOnnxConfig(bert.config, outputs)
    wrapped = _Exportable(model, bert.config).eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    _, names = export(wrapped, config, path, opset=OPSET)
    validate_model_outputs(config, wrapped, path, names, atol=VALIDATE_ATOL, use_subprocess=False)


def fuse(fp32: Path, fused: Path, config: BertConfig) -> dict[str, int]:
    """Optimum's ORTOptimizer (onnxruntime's BERT fusion) at `FUSION`, then types for the quantizer."""
    out_dir = fused.parent / f"{fused.stem}.optimum"
    ORTOptimizer([fp32], config=config).optimize(FUSION, out_dir, file_suffix=None)
    # the contrib ops have no ONNX type inference; onnxruntime's symbolic one types their outputs
    typed = SymbolicShapeInference.infer_shapes(onnx.load(str(out_dir / fp32.name)), auto_merge=True)
    onnx.save(typed, str(fused))
    shutil.rmtree(out_dir, ignore_errors=True)
    return {k: int(v) for k, v in ORTOptimizer.get_fused_operators(fused).items()}


def int8_config(target: str = "arm64") -> QuantizationConfig:
    """Dynamic int8 for a hub: activations quantized per request at run time, weights per tensor."""
    if target not in TARGETS:
        raise ValueError(f"unknown int8 target {target!r}; known: {', '.join(TARGETS)}")
    return TARGETS[target](is_static=False, per_channel=False)


def quantize_int8(src: Path, dest: Path, config: BertConfig, target: str = "arm64") -> None:
    """Optimum's ORTQuantizer; the value_info the shape inference added is dropped (the runtime re-infers)."""
    out_dir = dest.parent / f"{dest.stem}.optimum"
    ORTQuantizer(src, config=config).quantize(int8_config(target), out_dir, file_suffix=None)
    graph = onnx.load(str(out_dir / src.name))
    del graph.graph.value_info[:]
    onnx.save(graph, str(dest))
    shutil.rmtree(out_dir, ignore_errors=True)


def recipe(target: str = "arm64") -> dict[str, Any]:
    """What a manifest records of how its graph was made: library versions and every setting that shapes it."""
    q = int8_config(target)
    return {
        "exporter": "optimum.exporters.onnx", "optimum_onnx": version("optimum-onnx"),
        "onnxruntime": onnxruntime.__version__, "opset": OPSET,
        "fusion": {"optimizer": "ORTOptimizer", "optimization_level": FUSION.optimization_level,
                   "embed_layer_norm": not FUSION.disable_embed_layer_norm_fusion},
        "quantization": {"quantizer": "ORTQuantizer", "config": f"AutoQuantizationConfig.{target}", "static": False,
                         "weights": q.weights_dtype.name, "activations": q.activations_dtype.name,
                         "per_channel": q.per_channel, "reduce_range": q.reduce_range,
                         "operators": sorted(str(o) for o in q.operators_to_quantize)},
    }


def verify_int8(path: Path) -> tuple[str, ...]:
    """Load the graph the way the runtime will (ModelError if it cannot); returns its operator types."""
    make_session(path)
    return tuple(sorted({n.op_type for n in onnx.load(str(path)).graph.node}))


def export_int8(model: nn.Module, bert: BertModel, dest: Path, work: Path, tag: str, outputs: Axes) -> Int8Export:
    """The whole recipe: work/{tag}_fp32.onnx -> work/{tag}_fused.onnx -> dest (int8), verified."""
    fp32, fused = work / f"{tag}_fp32.onnx", work / f"{tag}_fused.onnx"
    to_onnx(model, bert, fp32, outputs)
    fusion = fuse(fp32, fused, bert.config)
    quantize_int8(fused, dest, bert.config)
    return Int8Export(fp32=fp32, fused=fused, int8=dest, fusion=fusion, ops=verify_int8(dest), recipe=recipe())
