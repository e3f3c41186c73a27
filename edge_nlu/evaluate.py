"""Accuracy on a dataset in the shared JSONL format: intent accuracy and span-level slot F1.

A slot counts as right only when its type and its value both match exactly (SLURP-style
span F1 on text), so the figure is comparable across tokenizers.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from .nlu_model import NLUModel


def evaluate(model: NLUModel, records: list[dict[str, Any]]) -> dict[str, Any]:
    ok = exact = tp = fp = fn = 0
    confusions: Counter[tuple[str, str]] = Counter()
    for r in records:
        pred = model.predict(r["text"])
        gold_slots = Counter((s["type"], s["value"]) for s in r.get("slots") or [])
        pred_slots = Counter((s.type, s.value) for s in pred.slots)
        hit = sum((gold_slots & pred_slots).values())
        tp += hit
        fp += sum(pred_slots.values()) - hit
        fn += sum(gold_slots.values()) - hit
        good = pred.intent == r["intent"]
        ok += good
        exact += good and gold_slots == pred_slots
        if not good:
            confusions[(r["intent"], pred.intent)] += 1
    n = max(1, len(records))
    p = tp / max(1, tp + fp)
    rec = tp / max(1, tp + fn)
    return {
        "n": len(records),
        "intent_accuracy": ok / n,
        "slot_precision": p,
        "slot_recall": rec,
        "slot_f1": 2 * p * rec / max(1e-9, p + rec),
        "exact_match": exact / n,
        "top_confusions": [[g, q, c] for (g, q), c in confusions.most_common(10)],
    }


def read_records(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
