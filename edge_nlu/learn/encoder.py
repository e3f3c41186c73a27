"""The distilled sentence encoder (int8 ONNX, mean pooled, L2-normalised) and the shipped global index.

A rewriter directory (`models/rewriter`, built by `python -m export rewriter`) holds:

| file | what |
|---|---|
| `encoder.onnx` | int8 student: input_ids/attention_mask/token_type_ids -> `embedding` [batch, 384], unit rows |
| `tokenizer.json` | its pruned WordPiece tokenizer |
| `rephrase.onnx` | the rephrase detector (`features` [batch, F] -> `probability` [batch, 1]) |
| `global_index.npy` | float16 [n, 384]: the shipped successful phrasings, embedded by `encoder.onnx` |
| `global_texts.json` | those phrasings, same order |
| `manifest.json` | sha256 + bytes per file (the format of `edge_nlu.model.runner.verify`), figures |
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from edge_nlu.errors import ErrorCode, ModelError
from edge_nlu.model.runner import verify
from edge_nlu.model.session import make_session

MAX_LEN = 64
"""Tokens per text, [CLS] and [SEP] included (the student has 64 positions)."""
REQUIRED = ("encoder.onnx", "tokenizer.json", "manifest.json")
"""Files a rewriter directory cannot do without."""
INDEX_FILES = ("global_index.npy", "global_texts.json")


def default_rewriter_dir() -> Path:
    """The rewriter installed with the package, or the repository's when running from a checkout."""
    try:
        installed = Path(str(resources.files("edge_nlu.models") / "rewriter"))
        if (installed / "encoder.onnx").is_file():
            return installed
    except (ModuleNotFoundError, TypeError):
        pass
    return Path(__file__).resolve().parent.parent.parent / "models" / "rewriter"


def verify_dir(model_dir: Path, required: tuple[str, ...] = REQUIRED) -> dict[str, Any]:
    """`edge_nlu.model.runner.verify` with the rewriter's own required files, each of which the
    manifest must also list (so none of them can be swapped without a sha256 check)."""
    manifest = verify(model_dir, required)
    for name in required:
        if name != "manifest.json" and name not in manifest["files"]:
            raise ModelError(f"{model_dir}/manifest.json does not list {name}", ErrorCode.MODEL_CORRUPT)
    return manifest


class OnnxSentenceEncoder:
    """An ONNX sentence encoder and its tokenizer, without a manifest (the build uses it on fresh files).

    Safe to share across threads. Single texts go through a small LRU cache: the rephrase
    detector and the rewriter ask for the same request's vector more than once.
    """

    def __init__(self, onnx_path: Path, tokenizer_path: Path, threads: int = 1, cache_size: int = 256) -> None:
        try:
            self.tok = Tokenizer.from_file(str(tokenizer_path))
        except Exception as exc:
            raise ModelError(f"cannot load the tokenizer {tokenizer_path}: {exc}", ErrorCode.MODEL_CORRUPT) from exc
        self.tok.no_padding()
        self.tok.enable_truncation(MAX_LEN)
        self.session = make_session(onnx_path, max(1, threads))
        self._inputs = {i.name for i in self.session.get_inputs()}
        missing = {"input_ids", "attention_mask"} - self._inputs
        if missing or [o.name for o in self.session.get_outputs()] != ["embedding"]:
            raise ModelError(f"{onnx_path} is not a sentence encoder (inputs {sorted(self._inputs)})",
                    ErrorCode.MODEL_CORRUPT)
        shape = self.session.get_outputs()[0].shape
        self.dim = int(shape[1]) if len(shape) == 2 and isinstance(shape[1], int) else self._probe_dim()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def _probe_dim(self) -> int:
        return int(self._run([[self.tok.token_to_id("[CLS]") or 0]]).shape[1])

    def _run(self, ids_list: list[list[int]]) -> np.ndarray:
        n = max(len(x) for x in ids_list)
        ids = np.zeros((len(ids_list), n), dtype=np.int64)
        mask = np.zeros_like(ids)
        for r, x in enumerate(ids_list):
            ids[r, : len(x)] = x
            mask[r, : len(x)] = 1
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        (out,) = self.session.run(None, {k: v for k, v in feed.items() if k in self._inputs})
        return np.asarray(out, dtype=np.float32)

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """n x dim float32, unit rows; texts of similar length share a padded batch."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if len(texts) == 1 and self._cache_size > 0:
            with self._lock:
                hit = self._cache.get(texts[0])
                if hit is not None:
                    self._cache.move_to_end(texts[0])
                    return hit.copy()[None, :]
        ids = [self.tok.encode(t).ids for t in texts]
        order = sorted(range(len(texts)), key=lambda i: len(ids[i]))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        step = max(1, batch_size)
        for b in range(0, len(order), step):
            idx = order[b: b + step]
            out[idx] = self._run([ids[i] for i in idx])
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        out /= np.maximum(norms, 1e-12)
        if len(texts) == 1 and self._cache_size > 0:
            with self._lock:
                self._cache[texts[0]] = out[0].copy()
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return out


class SentenceEncoder(OnnxSentenceEncoder):
    """The shipped encoder of a verified rewriter directory."""

    def __init__(self, model_dir: Path, threads: int = 1, cache_size: int = 256) -> None:
        self.dir = model_dir
        self.manifest = verify_dir(model_dir)
        super().__init__(model_dir / "encoder.onnx", model_dir / "tokenizer.json", threads, cache_size)


def load_global_index(model_dir: Path, verify: bool = True) -> tuple[list[str], np.ndarray]:
    """The shipped phrasings and their unit vectors (float32 n x dim, same order)."""
    if verify:
        verify_dir(model_dir, REQUIRED + INDEX_FILES)
    try:
        texts = json.loads((model_dir / "global_texts.json").read_text(encoding="utf-8"))
        vecs = np.load(model_dir / "global_index.npy", allow_pickle=False)
    except FileNotFoundError as exc:
        raise ModelError(f"{model_dir} lacks its global index: {exc}", ErrorCode.MODEL_INCOMPLETE) from exc
    except ValueError as exc:
        raise ModelError(f"the global index of {model_dir} does not load: {exc}", ErrorCode.MODEL_CORRUPT) from exc
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise ModelError(f"{model_dir}/global_texts.json is not a list of texts", ErrorCode.MODEL_CORRUPT)
    if vecs.ndim != 2 or vecs.shape[0] != len(texts):
        raise ModelError(f"{model_dir}: global_index.npy has shape {vecs.shape} for {len(texts)} texts",
                         ErrorCode.MODEL_CORRUPT)
    return list(texts), np.ascontiguousarray(vecs, dtype=np.float32)
