"""How far the model's confidence can be trusted, and whether requests outside the home become actions.

    python benchmarks/calibration.py [--data ../shared/data/slurp/devel.jsonl] [--model DIR] [--json]

Confidence (contract section 3) should be calibrated: among requests answered with confidence c, about
a share c should be right. This measures, on a labelled dev set:
- the expected calibration error (ECE, 15 equal-width bins of the top probability) and the gap
  between mean confidence and accuracy, as shipped;
- the same after temperature scaling, honestly: the temperature is fitted (least NLL) on one half of
  the set and measured on the other, both ways (2-fold), so no request scores a temperature it chose;
- the temperature fitted on the whole set (what a build would ship);
- out-of-home requests (gold intent with no Home Assistant mapping) that still act on the home (an
  action that changes something, with targets; a question such as the weather is not counted), on the
  demo home: these should be none.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edge_nlu.domain.result import DEFAULT_MIN_CONFIDENCE  # noqa: E402
from edge_nlu.domain.schema import HA_INTENT  # noqa: E402
from edge_nlu.model.evaluate import read_records  # noqa: E402
from edge_nlu.model.runner import NLUModel  # noqa: E402
from edge_nlu.pipeline import load  # noqa: E402
from edge_nlu.settings import default_model_dir, devices_dir  # noqa: E402
from export.calibrate import ece, fit_temperature, raw_logits, softmax  # noqa: E402


def summary(probs: np.ndarray, gold: np.ndarray) -> dict[str, float]:
    conf = probs.max(axis=1)
    acc = float((probs.argmax(axis=1) == gold).mean())
    return {"ece": round(ece(probs, gold), 4), "accuracy": round(acc, 4),
            "mean_confidence": round(float(conf.mean()), 4), "gap": round(float(conf.mean()) - acc, 4)}


def _asks(intent: str) -> bool:
    """A question or a no-op: it changes nothing in the home."""
    return intent.startswith("HassGet") or intent in ("HassClimateGetTemperature", "HassTimerStatus",
                                                      "HassNevermind", "HassRespond")


def out_of_home(records: list[dict[str, Any]], model_dir: Path) -> dict[str, Any]:
    """Requests whose gold intent has no Home Assistant mapping, parsed on the demo home: the ones that
    would change something in it, and among them the ones the service would carry out (confident enough
    to be answered as an intent, not intentNotRecognized)."""
    nlu = load(model=model_dir, home=devices_dir() / "homes" / "demo.yaml")
    outside = [r for r in records if r["intent"] not in HA_INTENT]
    acted = []
    for r in outside:
        res = nlu.parse_result(r["text"])
        action = res.action
        if action is not None and action.intent and action.targets and not _asks(action.intent):
            acted.append({"text": r["text"], "gold": r["intent"], "action": action.intent,
                          "targets": list(action.targets), "confidence": round(res.confidence, 3),
                          "carried_out": res.recognized(DEFAULT_MIN_CONFIDENCE)})
    carried = [a for a in acted if a["carried_out"]]
    return {"requests": len(outside), "became_home_actions": len(acted),
            "rate": round(len(acted) / max(1, len(outside)), 4),
            "carried_out": len(carried), "carried_out_rate": round(len(carried) / max(1, len(outside)), 4),
            "min_confidence": DEFAULT_MIN_CONFIDENCE, "examples": acted[:10]}


def run(data: Path, model_dir: Path, seed: int) -> dict[str, Any]:
    model = NLUModel(model_dir)
    records = [r for r in read_records(data) if isinstance(r, dict) and isinstance(r.get("text"), str)]
    logits, gold = raw_logits(model, [{"text": r["text"], "intent": r["intent"]} for r in records])
    shipped_t = model.labels.temperature
    order = list(range(len(gold)))
    random.Random(seed).shuffle(order)
    halves = [np.asarray(sorted(order[: len(order) // 2])), np.asarray(sorted(order[len(order) // 2:]))]
    calibrated = np.zeros_like(logits)
    fold_t = []
    for fit, test in ((halves[0], halves[1]), (halves[1], halves[0])):
        t = fit_temperature(logits[fit], gold[fit])
        fold_t.append(round(t, 3))
        calibrated[test] = softmax(logits[test], t)
    return {
        "data": str(data), "model": str(model_dir), "n": len(gold),
        "unknown_gold_intents": int((gold < 0).sum()),
        "shipped_temperature": shipped_t,
        "as_shipped": summary(softmax(logits, shipped_t), gold),
        "untempered": summary(softmax(logits), gold),
        "temperature_scaled_2fold": {**summary(calibrated, gold), "fold_temperatures": fold_t},
        "temperature_on_all": round(fit_temperature(logits, gold), 3),
        "out_of_home": out_of_home(records, model_dir),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "slurp" / "devel.jsonl")
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    report = run(args.data, args.model or default_model_dir(), args.seed)
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    s, c, o = report["as_shipped"], report["temperature_scaled_2fold"], report["out_of_home"]
    print(f"{report['n']} requests from {args.data}")
    print(f"shipped temperature {report['shipped_temperature']}")
    print(f"as shipped          ECE {s['ece']:.4f}  accuracy {s['accuracy']:.4f}  mean confidence "
          f"{s['mean_confidence']:.4f}  gap {s['gap']:+.4f}")
    print(f"temperature, 2-fold ECE {c['ece']:.4f}  accuracy {c['accuracy']:.4f}  mean confidence "
          f"{c['mean_confidence']:.4f}  gap {c['gap']:+.4f}  (T per fold {c['fold_temperatures']})")
    print(f"temperature fitted on all: {report['temperature_on_all']}")
    print(f"out-of-home requests that became home actions: {o['became_home_actions']}/{o['requests']} "
          f"({100 * o['rate']:.2f} %); carried out (confidence >= {o['min_confidence']}): "
          f"{o['carried_out']}/{o['requests']} ({100 * o['carried_out_rate']:.2f} %)")
    for e in o["examples"]:
        print(f"  {e['text']!r} ({e['gold']}) -> {e['action']} {e['targets']} confidence {e['confidence']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
