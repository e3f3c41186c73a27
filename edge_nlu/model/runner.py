"""Runs a shipped model directory: verify it, tokenize, run ONNX, decode intent and slot spans."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Encoding, Tokenizer

from edge_nlu.domain.result import NLU, Alternative, Slot
from edge_nlu.errors import ErrorCode, ModelError
from edge_nlu.model.bio import BioDecoder
from edge_nlu.model.session import make_session

REQUIRED = ("model.onnx", "tokenizer.json", "labels.json", "manifest.json")
MAX_LEN = 64
ALTERNATIVES = 2
"""Next-best intents a result lists (contract section 3)."""
"""Tokens the model reads per request, special tokens included: the length it was trained on."""


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify(model_dir: Path, required: tuple[str, ...] = REQUIRED) -> dict[str, Any]:
    """Refuse a model directory with a missing file or a file that differs from its manifest."""
    if not model_dir.is_dir():
        raise ModelError(f"model directory {model_dir} does not exist", ErrorCode.MODEL_NOT_FOUND)
    for name in required:
        if not (model_dir / name).is_file():
            raise ModelError(f"model directory {model_dir} lacks {name}", ErrorCode.MODEL_INCOMPLETE)
    try:
        manifest: dict[str, Any] = json.loads((model_dir / "manifest.json").read_text())
    except ValueError as exc:
        raise ModelError(f"{model_dir}/manifest.json does not parse: {exc}", ErrorCode.MODEL_CORRUPT) from exc
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict) or not files:
        raise ModelError(f"{model_dir}/manifest.json lists no files", ErrorCode.MODEL_CORRUPT)
    for name, meta in files.items():
        path = model_dir / name
        if not path.is_file():
            raise ModelError(f"model file {name} named in the manifest is missing", ErrorCode.MODEL_INCOMPLETE)
        want = meta.get("sha256") if isinstance(meta, dict) else meta
        if sha256(path) != want:
            raise ModelError(f"model file {name} does not match the sha256 in its manifest", ErrorCode.MODEL_CORRUPT)
    return manifest


@dataclass(frozen=True)
class Labels:
    """The label file shipped with a model."""

    intents: tuple[str, ...]
    """Intent labels, by output index."""
    tags: tuple[str, ...]
    """BIO tags, by output index."""
    temperature: float = 1.0
    """Intent logits are divided by it before the softmax, so that the confidence is calibrated (the
    build fits it on its holdout; 1.0 for a model built without it). It never changes the ranking."""

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Labels:
        t = d.get("temperature", 1.0)
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0.05 <= t <= 20:
            raise ValueError(f"labels.json temperature must be a number in [0.05, 20], not {t!r}")
        return cls(intents=tuple(i["name"] for i in d["intents"]), tags=tuple(d["tags"]), temperature=float(t))


class NLUModel:
    """Tokenizer + int8 ONNX joint model; one instance is safe to share across threads."""

    def __init__(self, model_dir: Path, threads: int = 1) -> None:
        self.dir = model_dir
        self.manifest = verify(model_dir)
        try:
            self.labels = Labels.from_dict(json.loads((model_dir / "labels.json").read_text()))
            self.tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        except (ValueError, KeyError, TypeError, Exception) as exc:
            raise ModelError(f"cannot load labels or tokenizer from {model_dir}: {exc}",
                    ErrorCode.MODEL_CORRUPT) from exc
        self.bio = BioDecoder(self.labels.tags)
        self.tok.no_padding()
        # truncation is done per call in `encode`: the tokenizer's own raises when the text alone is
        # too long, and changing its settings per call would not be thread-safe
        self.tok.no_truncation()
        self.session = make_session(model_dir / "model.onnx", threads)
        self._inputs = {i.name for i in self.session.get_inputs()}

    def predict(self, text: str, context: str = "") -> NLU:
        enc = self.encode(text, context)
        return self.decode(text, enc, self.run(enc))

    def encode(self, text: str, context: str = "") -> Encoding:
        """Text (segment A) and context segment (B) -> at most MAX_LEN token ids.

        Over the budget the context gives way first, then the end of the text, so a long
        request is still read (its first MAX_LEN - 2 tokens) and never refused; offsets of the
        kept tokens still index `text`."""
        a = self.tok.encode(text, add_special_tokens=False)
        if context:
            room = MAX_LEN - 3 - len(a.ids)  # [CLS] text [SEP] context [SEP]
            if room > 0:
                b = self.tok.encode(context, add_special_tokens=False)
                if len(b.ids) > room:
                    b.truncate(room)
                return self.tok.post_process(a, b)
        if len(a.ids) > MAX_LEN - 2:  # [CLS] text [SEP]
            a.truncate(MAX_LEN - 2)
        return self.tok.post_process(a)

    def run(self, enc: Encoding) -> list[Any]:
        """The ONNX forward pass: [intent logits (1, intents), slot logits (1, tokens, tags)]."""
        ids = np.asarray([enc.ids], dtype=np.int64)
        feed = {
            "input_ids": ids,
            "attention_mask": np.ones_like(ids),
            "token_type_ids": np.asarray([enc.type_ids], dtype=np.int64),
        }
        return list(self.session.run(None, {k: v for k, v in feed.items() if k in self._inputs}))

    def decode(self, text: str, enc: Encoding, outputs: list[Any]) -> NLU:
        """Logits -> intent with its probability, and slot spans over `text`."""
        p = _softmax(outputs[0][0] / self.labels.temperature)
        ranked = [int(i) for i in np.argsort(-p, kind="stable")[: 1 + ALTERNATIVES]]
        best = ranked[0]
        tags = self._tags(outputs[1][0], enc.offsets, enc.type_ids, enc.special_tokens_mask)
        spans = self._spans(text, enc.offsets, enc.type_ids, enc.special_tokens_mask, tags)
        alternatives = tuple(Alternative(self.labels.intents[i], float(p[i])) for i in ranked[1:])
        return NLU(intent=self.labels.intents[best], confidence=float(p[best]), slots=tuple(spans),
                   alternatives=alternatives)

    def _tags(self, logits: Any, offsets: list[tuple[int, int]], types: list[int], special: list[int]) -> Any:
        """Tag id per token: constrained BIO decoding over the text tokens, argmax elsewhere."""
        tags = np.argmax(logits, -1)
        text = [i for i in range(len(types)) if types[i] == 0 and not special[i]]
        if text:
            lo, hi = text[0], text[-1] + 1
            glued = [i > lo and offsets[i][0] == offsets[i - 1][1] for i in range(lo, hi)]
            tags[lo:hi] = self.bio.decode(logits[lo:hi], glued)
        return tags

    def _spans(
        self, text: str, offsets: list[tuple[int, int]], types: list[int], special: list[int], tags: Any
    ) -> list[Slot]:
        """BIO tags -> character spans, widened to whole words (a span never cuts a word)."""
        spans: list[list[Any]] = []
        for i, (s, e) in enumerate(offsets):
            if types[i] != 0 or special[i]:
                continue
            tag = self.labels.tags[int(tags[i])]
            if tag == "O":
                continue
            kind = tag[2:]
            cont = spans and spans[-1][0] == kind and spans[-1][3] == i - 1
            # a word piece glued to the previous token continues it whatever its tag says
            glued = spans and spans[-1][3] == i - 1 and s == spans[-1][2]
            if (tag.startswith("I-") and cont) or glued:
                spans[-1][2] = e
                spans[-1][3] = i
            else:
                spans.append([kind, s, e, i])
        out = []
        for kind, s, e, _ in spans:
            while s > 0 and not text[s - 1].isspace():
                s -= 1
            while e < len(text) and not text[e].isspace():
                e += 1
            value = text[s:e].strip(" ,.?!")
            s = text.find(value, s)
            if value:
                out.append(Slot(type=kind, value=value, start=s, end=s + len(value)))
        return out


def _softmax(x: np.ndarray) -> np.ndarray:
    z = np.exp(x - np.max(x))
    return np.asarray(z / z.sum())
