"""Temperature scaling: the one number that makes the shipped confidence mean what it says.

A distilled student is over-confident (on SLURP devel the shipped model's mean confidence exceeded its
accuracy). Dividing the intent logits by a temperature T fitted for least negative log-likelihood
on held-out requests fixes that without changing any decision of the model: the ranking of intents
stays the same. The build fits T on its own holdout (training data the model never trained on; no dev
set is consulted) and writes it into labels.json, which the runtime reads.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from edge_nlu.model.runner import NLUModel

BINS = 15
"""Equal-width confidence bins of the expected calibration error."""
TEMPERATURES = np.exp(np.linspace(np.log(0.25), np.log(8.0), 400))
"""The grid T is chosen from (one parameter: a grid is exact enough and needs no optimiser)."""


def softmax(logits: np.ndarray, t: float = 1.0) -> np.ndarray:
    z = logits / t
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def ece(probs: np.ndarray, gold: np.ndarray) -> float:
    """Expected calibration error of the top probability."""
    conf = probs.max(axis=1)
    right = probs.argmax(axis=1) == gold
    edges = np.linspace(0.0, 1.0, BINS + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        inside = (conf > lo) & (conf <= hi)
        if inside.any():
            total += inside.mean() * abs(float(right[inside].mean()) - float(conf[inside].mean()))
    return total


def nll(logits: np.ndarray, gold: np.ndarray, t: float) -> float:
    p = softmax(logits, t)
    return float(-np.log(np.clip(p[np.arange(len(gold)), gold], 1e-12, None)).mean())


def fit_temperature(logits: np.ndarray, gold: np.ndarray) -> float:
    """The temperature of least negative log-likelihood (never worse than none: 1.0 is a candidate)."""
    return float(min([1.0, *TEMPERATURES], key=lambda t: nll(logits, gold, float(t))))


def raw_logits(model: NLUModel, records: Iterable[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """Intent logits (before any temperature) and gold indices (-1: a label the model lacks)."""
    index = {name: i for i, name in enumerate(model.labels.intents)}
    rows = [(model.run(model.encode(r["text"], r.get("context") or ""))[0][0], index.get(r["intent"], -1))
            for r in records]
    return (np.stack([np.asarray(x, dtype=np.float64) for x, _ in rows]), np.asarray([g for _, g in rows]))


def calibrate(model_dir: Path, holdout: list[dict[str, Any]]) -> dict[str, Any]:
    """Fit T on the holdout with the int8 model as it will run; returns T and the holdout figures."""
    logits, gold = raw_logits(NLUModel(model_dir), holdout)
    known = gold >= 0
    logits, gold = logits[known], gold[known]
    t = fit_temperature(logits, gold)
    return {"temperature": round(t, 4), "fitted_on": "build holdout", "n": int(len(gold)),
            "holdout_ece_before": round(ece(softmax(logits), gold), 4),
            "holdout_ece_after": round(ece(softmax(logits, t), gold), 4),
            "holdout_nll_before": round(nll(logits, gold, 1.0), 4), "holdout_nll_after": round(nll(logits, gold, t), 4)}
