"""The ONNX recipe every shipped BERT graph goes through: the NLU model and the rewriter's encoder.

torch -> fp32 ONNX (TorchScript exporter, dynamic batch and sequence axes) -> onnxruntime's BERT
fusion (Attention / EmbedLayerNormalization contrib ops, so the int8 graph gets the quantized
attention kernel) -> dynamic int8 (QInt8 weights) -> loaded once by the runtime's session factory.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import onnx
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic
from onnxruntime.transformers.optimizer import optimize_model
from torch import nn
from transformers import BertConfig, BertModel

from edge_nlu.model.session import make_session

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
"""The graph inputs, as the runtime feeds them."""
OPSET = 17

Axes = Mapping[str, Mapping[int, str]]
"""Output name -> {axis: symbolic dimension}, in output order."""


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
    """Fused operator -> count, as onnxruntime's optimizer reports it (zeros included)."""
    ops: tuple[str, ...]
    """Operator types in the int8 graph, sorted."""

    @property
    def fp32_bytes(self) -> int:
        return self.fp32.stat().st_size

    @property
    def int8_bytes(self) -> int:
        return self.int8.stat().st_size


def eager_attention(bert: BertModel) -> None:
    """The fusion recognises the classic attention subgraph, not the SDPA one."""
    bert.config._attn_implementation = "eager"
    bert.set_attn_implementation("eager")


def to_onnx(model: nn.Module, bert: BertModel, path: Path, outputs: Axes) -> None:
    """Plain fp32 ONNX of `model` (whose encoder is `bert`) with dynamic batch and sequence axes."""
    model.eval()
    eager_attention(bert)
    ids = torch.ones((1, 12), dtype=torch.long)
    torch.onnx.export(
        model,
        (ids, torch.ones_like(ids), torch.zeros_like(ids)),
        str(path),
        input_names=list(INPUTS),
        output_names=list(outputs),
        dynamic_axes={**{n: {0: "batch", 1: "seq"} for n in INPUTS}, **{n: dict(a) for n, a in outputs.items()}},
        opset_version=OPSET,
        dynamo=False,
    )


def fuse(fp32: Path, fused: Path, config: BertConfig) -> dict[str, int]:
    """onnxruntime's offline BERT fusion (graph optimisations stay for load time: opt_level 0)."""
    opt = optimize_model(str(fp32), model_type="bert", num_heads=config.num_attention_heads,
                         hidden_size=config.hidden_size, opt_level=0)
    stats: dict[str, int] = opt.get_fused_operator_statistics()
    opt.save_model_to_file(str(fused))
    return stats


def quantize_int8(src: Path, dest: Path) -> None:
    """Dynamic int8: QInt8 weights, activations quantized per request at run time."""
    quantize_dynamic(str(src), str(dest), weight_type=QuantType.QInt8,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})


def verify_int8(path: Path) -> tuple[str, ...]:
    """Load the graph the way the runtime will (ModelError if it cannot); returns its operator types."""
    make_session(path)
    return tuple(sorted({n.op_type for n in onnx.load(str(path)).graph.node}))


def export_int8(model: nn.Module, bert: BertModel, dest: Path, work: Path, tag: str, outputs: Axes) -> Int8Export:
    """The whole recipe: work/{tag}_fp32.onnx -> work/{tag}_fused.onnx -> dest (int8), verified."""
    fp32, fused = work / f"{tag}_fp32.onnx", work / f"{tag}_fused.onnx"
    to_onnx(model, bert, fp32, outputs)
    fusion = fuse(fp32, fused, bert.config)
    quantize_int8(fused, dest)
    return Int8Export(fp32=fp32, fused=fused, int8=dest, fusion=fusion, ops=verify_int8(dest))
