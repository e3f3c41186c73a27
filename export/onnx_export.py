"""Student -> ONNX (TorchScript exporter) -> onnxruntime transformer fusion -> dynamic int8."""

from __future__ import annotations

import logging
from pathlib import Path

import onnx
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic
from onnxruntime.transformers.optimizer import optimize_model

from .model import JointModel

log = logging.getLogger("export")


def to_onnx(model: JointModel, path: Path) -> None:
    """Plain fp32 ONNX with dynamic batch and sequence axes."""
    model.eval()
    # the fusion recognises the classic attention subgraph, not the SDPA one
    model.bert.config._attn_implementation = "eager"
    model.bert.set_attn_implementation("eager")
    ids = torch.ones((1, 12), dtype=torch.long)
    torch.onnx.export(
        model,
        (ids, torch.ones_like(ids), torch.zeros_like(ids)),
        str(path),
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["intent_logits", "slot_logits"],
        dynamic_axes={
            "input_ids": {0: "batch", 1: "seq"},
            "attention_mask": {0: "batch", 1: "seq"},
            "token_type_ids": {0: "batch", 1: "seq"},
            "slot_logits": {0: "batch", 1: "seq"},
            "intent_logits": {0: "batch"},
        },
        opset_version=17,
        dynamo=False,
    )


def export_int8(model: JointModel, out: Path, work: Path) -> dict[str, int]:
    """Write out/model.onnx (int8) and keep work/student_fused.onnx; returns the byte sizes."""
    fp32 = work / "student_fp32.onnx"
    fused = work / "student_fused.onnx"
    to_onnx(model, fp32)
    cfg = model.bert.config
    opt = optimize_model(str(fp32), model_type="bert", num_heads=cfg.num_attention_heads,
                         hidden_size=cfg.hidden_size, opt_level=0)
    log.info("fusion: %s", opt.get_fused_operator_statistics())
    opt.save_model_to_file(str(fused))
    quantize_dynamic(
        str(fused), str(out / "model.onnx"), weight_type=QuantType.QInt8,
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )
    return {
        "fp32_bytes": fp32.stat().st_size,
        "int8_bytes": (out / "model.onnx").stat().st_size,
    }
