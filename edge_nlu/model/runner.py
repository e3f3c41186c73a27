"""Runs a shipped model directory: verify it, tokenize, run ONNX, decode intent and slot spans."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from edge_nlu.domain.result import NLU, Alternative, Slot
from edge_nlu.errors import ErrorCode, ModelError
from edge_nlu.model.bio import BioDecoder
from edge_nlu.model.session import make_session

_ASCII_TEXT = re.compile(r"[\t\n\r -~]*")
"""Printable ASCII and ordinary whitespace: text the fast tokenizer path reads exactly as the tokenizer does."""
_ASCII_PIECE = re.compile(r"[A-Za-z0-9]+|[!-/:-@\[-`{-~]")
"""BERT's pre-tokenization of such text: runs of letters and digits, each punctuation mark alone."""
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


@dataclass(frozen=True, slots=True)
class ModelInput:
    """One request as the model reads it: `[CLS] text [SEP] (context [SEP])`, and where the text's tokens are."""

    ids: np.ndarray
    """Token ids, int64, shape (tokens,)."""
    type_ids: np.ndarray
    """Segment ids: 0 for [CLS], the text and its [SEP]; 1 for the context and the last [SEP]."""
    starts: list[int]
    """Character start of each text token in the text (the text's tokens are ids[1 : 1 + len(starts)])."""
    ends: list[int]
    """Character end of each text token."""


class NLUModel:
    """Tokenizer + int8 ONNX joint model; one instance is safe to share across threads.

    The work around the ONNX run is kept small because it is paid on every request: the context
    segment repeats across requests (same home, same satellite), so its token ids are cached by
    its text; the text is tokenized once without special tokens and the model input is assembled
    in numpy; decoding touches only the text's tokens."""

    WORD_CACHE = 50_000
    """Words whose word pieces are kept (a home's vocabulary is a few thousand words)."""
    SEGMENT_CACHE = 1024
    """Context segments whose token ids are kept (a segment changes with the home's state, the room and
    the previous turn; a hub sees a few hundred distinct ones a day)."""

    def __init__(self, model_dir: Path, threads: int = 1) -> None:
        self.dir = model_dir
        self.manifest = verify(model_dir)
        try:
            self.labels = Labels.from_dict(json.loads((model_dir / "labels.json").read_text()))
            self.tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
            cls_id, sep_id = self.tok.token_to_id("[CLS]"), self.tok.token_to_id("[SEP]")
            if cls_id is None or sep_id is None:
                raise ValueError("the tokenizer has no [CLS] or [SEP]")
        except (ValueError, KeyError, TypeError, Exception) as exc:
            raise ModelError(f"cannot load labels or tokenizer from {model_dir}: {exc}",
                    ErrorCode.MODEL_CORRUPT) from exc
        self._cls, self._sep = int(cls_id), int(sep_id)
        self.bio = BioDecoder(self.labels.tags)
        self.tok.no_padding()
        # truncation is done per call in `encode`: the tokenizer's own raises when the text alone is
        # too long, and changing its settings per call would not be thread-safe
        self.tok.no_truncation()
        self.session = make_session(model_dir / "model.onnx", threads)
        self._inputs = {i.name for i in self.session.get_inputs()}
        self._segments: dict[str, np.ndarray] = {}
        self._vocab_words = self._whole_words()
        self._words: dict[str, tuple[tuple[int, int, int], ...]] = dict(self._vocab_words)
        self._outside = self.labels.tags.index("O") if "O" in self.labels.tags else -1
        self._kinds = tuple(t[2:] if t[:2] in ("B-", "I-") else "" for t in self.labels.tags)
        self._inside = np.array([t.startswith("I-") for t in self.labels.tags])
        self._intents = self.labels.intents
        self._temperature = self.labels.temperature

    def predict(self, text: str, context: str = "") -> NLU:
        enc = self.encode(text, context)
        return self.decode(text, enc, self.run(enc))

    def segment_ids(self, context: str) -> np.ndarray:
        """The context segment's token ids (no special tokens), cached by its text."""
        ids = self._segments.get(context)
        if ids is None:
            ids = np.asarray(self.tok.encode(context, add_special_tokens=False).ids, dtype=np.int64)
            if len(self._segments) >= self.SEGMENT_CACHE:
                self._segments.clear()  # dict ops are atomic: a concurrent reader sees a miss, never a torn entry
            self._segments[context] = ids
        return ids

    def encode(self, text: str, context: str = "") -> ModelInput:
        """Text (segment A) and context segment (B) -> at most MAX_LEN token ids.

        Over the budget the context gives way first, then the end of the text, so a long
        request is still read (its first MAX_LEN - 2 tokens) and never refused; offsets of the
        kept tokens still index `text`."""
        a_ids, a_starts, a_ends = self.text_tokens(text)
        n_a = min(len(a_ids), MAX_LEN - 2)  # [CLS] text [SEP]
        b = self.segment_ids(context)[: max(0, MAX_LEN - 3 - n_a)] if context else _EMPTY
        n_b = len(b)
        n = n_a + 2 + (n_b + 1 if n_b else 0)
        ids = np.empty(n, dtype=np.int64)
        ids[0] = self._cls
        ids[1:n_a + 1] = a_ids[:n_a]
        ids[n_a + 1] = self._sep
        types = np.zeros(n, dtype=np.int64)
        if n_b:
            ids[n_a + 2:n - 1] = b
            ids[n - 1] = self._sep
            types[n_a + 2:] = 1
        return ModelInput(ids=ids, type_ids=types, starts=a_starts[:n_a], ends=a_ends[:n_a])

    def text_tokens(self, text: str) -> tuple[list[int], list[int], list[int]]:
        """The text's token ids with their character starts and ends, exactly as the tokenizer gives them.

        Printable ASCII text (nearly every request) is split as BERT's pre-tokenizer splits it and each
        word's pieces come from a cache filled by the tokenizer itself, one word at a time; any other
        text, and text that could hold a special token, goes through the tokenizer whole."""
        if not (text.isascii() and "[" not in text and _ASCII_TEXT.fullmatch(text)):  # "[": e.g. "[SEP]" as typed
            enc = self.tok.encode(text, add_special_tokens=False)
            return enc.ids, [s for s, _ in enc.offsets], [e for _, e in enc.offsets]
        ids: list[int] = []
        starts: list[int] = []
        ends: list[int] = []
        words = self._words
        for m in _ASCII_PIECE.finditer(text):
            word = m.group()
            pieces = words.get(word)
            if pieces is None:
                pieces = self._word_pieces(word)
            at = m.start()
            for i, s, e in pieces:
                ids.append(i)
                starts.append(at + s)
                ends.append(at + e)
        return ids, starts, ends

    def _whole_words(self) -> dict[str, tuple[tuple[int, int, int], ...]]:
        """The vocabulary's lowercase ASCII words, each its own single piece: WordPiece takes the longest
        vocabulary prefix first, so a word in the vocabulary is always read whole (no tokenizer call needed
        for the words a home says most; tests/test_model_input.py checks every one against the tokenizer)."""
        return {w: ((i, 0, len(w)),) for w, i in self.tok.get_vocab().items()
                if w == w.lower() and _ASCII_PIECE.fullmatch(w)}

    def _word_pieces(self, word: str) -> tuple[tuple[int, int, int], ...]:
        enc = self.tok.encode(word, add_special_tokens=False)
        pieces = tuple((i, s, e) for i, (s, e) in zip(enc.ids, enc.offsets, strict=True))
        if len(self._words) >= self.WORD_CACHE:
            self._words = dict(self._vocab_words)  # one reference swap: a concurrent reader keeps the old dict
        self._words[word] = pieces
        return pieces

    def run(self, enc: ModelInput) -> list[Any]:
        """The ONNX forward pass: [intent logits (1, intents), slot logits (1, tokens, tags)]."""
        ids = enc.ids[None, :]
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": enc.type_ids[None, :]}
        if len(self._inputs) != len(feed):
            feed = {k: v for k, v in feed.items() if k in self._inputs}
        return list(self.session.run(None, feed))

    def decode(self, text: str, enc: ModelInput, outputs: list[Any]) -> NLU:
        """Logits -> intent with its probability, and slot spans over `text`."""
        z = outputs[0][0] / self._temperature
        z = np.exp(z - z.max())
        p = z / z.sum()
        ranked = np.argsort(-p, kind="stable")[: 1 + ALTERNATIVES].tolist()
        intents = self._intents
        spans = self._spans(text, enc, self._tags(outputs[1][0], enc)) if enc.starts else []
        return NLU(intent=intents[ranked[0]], confidence=float(p[ranked[0]]), slots=tuple(spans),
                   alternatives=tuple(Alternative(intents[i], float(p[i])) for i in ranked[1:]))

    def _tags(self, logits: np.ndarray, enc: ModelInput) -> list[int]:
        """Tag id per text token: constrained BIO decoding."""
        starts, ends = enc.starts, enc.ends
        glued = [False] + [starts[i] == ends[i - 1] for i in range(1, len(starts))]
        return self.bio.decode_list(logits[1:len(starts) + 1], glued)

    def _spans(self, text: str, enc: ModelInput, tags: list[int]) -> list[Slot]:
        """BIO tags -> character spans, widened to whole words (a span never cuts a word)."""
        spans: list[list[Any]] = []
        outside, starts, ends = self._outside, enc.starts, enc.ends
        for i, t in enumerate(tags):
            if t == outside:
                continue
            s, e = starts[i], ends[i]
            kind = self._kinds[t]
            adjacent = bool(spans) and spans[-1][3] == i - 1
            # a word piece glued to the previous token continues it whatever its tag says
            if adjacent and ((self._inside[t] and spans[-1][0] == kind) or s == spans[-1][2]):
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


_EMPTY = np.zeros(0, dtype=np.int64)
