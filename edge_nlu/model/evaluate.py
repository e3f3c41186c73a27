"""Accuracy on a dataset in the shared JSONL format: intent accuracy and span-level slot F1.

A slot counts as right only when its type and its value both match exactly (SLURP-style
span F1 on text), so the figure is comparable across tokenizers.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from edge_nlu.model.runner import NLUModel


def evaluate(model: NLUModel, records: list[dict[str, Any]]) -> dict[str, Any]:
    ok = exact = tp = fp = fn = 0
    confusions: Counter[tuple[str, str]] = Counter()
    per_n: Counter[str] = Counter()
    per_ok: Counter[str] = Counter()
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
        per_n[r["intent"]] += 1
        per_ok[r["intent"]] += good
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
        "per_intent": {i: {"n": per_n[i], "accuracy": per_ok[i] / per_n[i]} for i in sorted(per_n)},
    }


def format_report(report: dict[str, Any]) -> str:
    """The report as a plain-text table for a terminal."""
    lines = [
        f"utterances      {report['n']}",
        f"intent accuracy {report['intent_accuracy']:.4f}",
        f"slot P / R / F1 {report['slot_precision']:.4f} / {report['slot_recall']:.4f} / {report['slot_f1']:.4f}",
        f"exact match     {report['exact_match']:.4f}",
        "",
        f"{'intent':<28} {'n':>5} {'accuracy':>9}",
    ]
    lines += [f"{i:<28} {v['n']:>5} {v['accuracy']:>9.3f}" for i, v in report["per_intent"].items()]
    lines += ["", "most confused (gold -> predicted, count)"]
    lines += [f"  {g} -> {q}: {c}" for g, q, c in report["top_confusions"]]
    return "\n".join(lines)


def read_records(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
