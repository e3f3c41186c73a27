"""Is turn t+1 a rephrase of turn t? Hand-made pair features and a tiny ONNX MLP over them.

The features mix the sentence encoder's cosine with fuzzy string overlap and a few cues a
rephrase after a misheard request leaves: the words that differ sound alike ("of"/"off",
"four"/"for"), no antonym was swapped in ("on" -> "off" is a new request), no number
changed. The gap between the turns is a feature too, but the training pairs draw it from
one distribution for both classes, so the model decides on the words.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Protocol

import numpy as np
from rapidfuzz import fuzz

from edge_nlu.errors import ErrorCode, ModelError
from edge_nlu.learn.encoder import REQUIRED, verify_dir
from edge_nlu.learn.types import STOPWORDS, normalize
from edge_nlu.model.session import make_session

FEATURES = (
    "cosine", "ratio", "token_set_ratio", "partial_ratio", "token_sort_ratio", "jaccard", "length_ratio",
    "content_overlap", "log_gap", "diff_token_similarity", "sound_alike", "unmatched_fraction",
    "antonym_swap", "number_change", "nospace_ratio", "added_removed_balance",
)
"""Names of the `pair_features` columns, in order; the model's manifest lists the ones it was trained on."""
N_FEATURES = len(FEATURES)

ANTONYMS = (
    ("on", "off"), ("up", "down"), ("open", "close"), ("open", "shut"), ("lock", "unlock"), ("start", "stop"),
    ("increase", "decrease"), ("brighter", "dimmer"), ("louder", "quieter"), ("warmer", "cooler"),
    ("raise", "lower"), ("play", "pause"), ("next", "previous"), ("higher", "lower"), ("more", "less"),
    ("mute", "unmute"), ("arm", "disarm"), ("enable", "disable"), ("add", "remove"), ("yes", "no"),
)
"""Word swaps that turn a request into a different one."""
_ANTONYM_PAIRS = frozenset(ANTONYMS) | frozenset((b, a) for a, b in ANTONYMS)
NUMBER_WORDS = frozenset(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred".split()
)
_SKELETON_SUBS = ((re.compile(r"ph"), "f"), (re.compile(r"ck|c|q"), "k"), (re.compile(r"z"), "s"))
_DROP = re.compile(r"[aeiouyhw']")
_REPEAT = re.compile(r"(.)\1+")


def _skeleton(word: str) -> str:
    """A crude sound key: first letter, then consonants with h/w/y dropped and repeats collapsed."""
    w = word.lower()
    for pat, rep in _SKELETON_SUBS:
        w = pat.sub(rep, w)
    if not w:
        return ""
    return _REPEAT.sub(r"\1", w[0] + _DROP.sub("", w[1:]))


def _is_number(tok: str) -> bool:
    return tok.isdigit() or tok in NUMBER_WORDS


def pair_features(prev: str, nxt: str, e_prev: np.ndarray, e_next: np.ndarray, gap_s: float) -> np.ndarray:
    """The `FEATURES` of a (previous turn, next turn) pair: float32, every column in [0, ~1.5]."""
    a, b = normalize(prev), normalize(nxt)
    ta, tb = a.split(), b.split()
    sa, sb = set(ta), set(tb)
    ua = [t for t in ta if t not in sb]
    ub = [t for t in tb if t not in sa]
    union = sa | sb
    ca, cb = sa - STOPWORDS, sb - STOPWORDS
    cos = float(np.dot(np.asarray(e_prev, dtype=np.float32).ravel(), np.asarray(e_next, dtype=np.float32).ravel()))
    if ua or ub:
        best = [max((fuzz.ratio(x, y) for y in ub), default=0.0) / 100.0 for x in ua]
        best += [max((fuzz.ratio(y, x) for x in ua), default=0.0) / 100.0 for y in ub]
        diff_sim = float(np.mean(best))
        ka, kb = {_skeleton(t) for t in ua}, {_skeleton(t) for t in ub}
        alike = (sum(_skeleton(t) in kb for t in ua) + sum(_skeleton(t) in ka for t in ub)) / (len(ua) + len(ub))
    else:
        diff_sim = alike = 1.0
    antonym = any((x, y) in _ANTONYM_PAIRS for x in set(ua) for y in set(ub))
    na, nb = {t for t in ta if _is_number(t)}, {t for t in tb if _is_number(t)}
    number_change = bool(na and nb and na != nb)
    feats = [
        max(-1.0, min(1.0, cos)),
        fuzz.ratio(a, b) / 100.0,
        fuzz.token_set_ratio(a, b) / 100.0,
        fuzz.partial_ratio(a, b) / 100.0,
        fuzz.token_sort_ratio(a, b) / 100.0,
        len(sa & sb) / len(union) if union else 1.0,
        min(len(ta), len(tb)) / max(1, len(ta), len(tb)),
        len(ca & cb) / len(ca | cb) if ca | cb else 1.0,
        math.log1p(min(max(0.0, float(gap_s)), 3600.0)) / 5.0,
        diff_sim,
        alike,
        (len(ua) + len(ub)) / max(1, len(ta) + len(tb)),
        float(antonym),
        float(number_change),
        fuzz.ratio(a.replace(" ", ""), b.replace(" ", "")) / 100.0,
        abs(len(ua) - len(ub)) / max(1, len(ua) + len(ub)),
    ]
    return np.asarray(feats, dtype=np.float32)


class Encoder(Protocol):
    def encode(self, texts: list[str]) -> np.ndarray: ...


class RephraseDetector:
    """`rephrase.onnx` of a rewriter directory over `pair_features`; safe to share across threads."""

    def __init__(self, model_dir: Path, encoder: Encoder, threads: int = 1) -> None:
        self.dir = model_dir
        self.manifest = verify_dir(model_dir, (*REQUIRED, "rephrase.onnx"))
        self.encoder = encoder
        trained = (self.manifest.get("rephrase") or {}).get("features")
        if trained is not None and list(trained) != list(FEATURES):
            raise ModelError(f"{model_dir}/rephrase.onnx was trained on other features than this runtime computes",
                             ErrorCode.MODEL_CORRUPT)
        self.session = make_session(model_dir / "rephrase.onnx", max(1, threads))
        inputs = self.session.get_inputs()
        width = inputs[0].shape[1] if len(inputs) == 1 and len(inputs[0].shape) == 2 else None
        if inputs[0].name != "features" or (isinstance(width, int) and width != N_FEATURES):
            raise ModelError(f"{model_dir}/rephrase.onnx does not take {N_FEATURES} features", ErrorCode.MODEL_CORRUPT)

    def features(self, prev: str, nxt: str, gap_s: float) -> np.ndarray:
        e_prev = self.encoder.encode([prev])[0]  # one text at a time: the encoder caches the previous turn
        e_next = self.encoder.encode([nxt])[0]
        return pair_features(prev, nxt, e_prev, e_next, gap_s)

    def probability(self, prev: str, nxt: str, gap_s: float) -> float:
        """P(nxt rephrases prev). Saying the same thing again is a retry: 1.0 without the model."""
        a, b = normalize(prev), normalize(nxt)
        if not a or not b:
            return 0.0
        if a == b:
            return 1.0
        x = self.features(prev, nxt, gap_s)[None, :]
        (p,) = self.session.run(None, {"features": x})
        return float(np.clip(np.asarray(p, dtype=np.float32).ravel()[0], 0.0, 1.0))

    def is_rephrase(self, prev: str, nxt: str, gap_s: float, threshold: float = 0.5) -> bool:
        return self.probability(prev, nxt, gap_s) > threshold
