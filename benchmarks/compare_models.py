"""Parse latency of two model directories in the same run, request by request in turns.

    PYTHONPATH=. python benchmarks/compare_models.py --old DIR --new DIR [--n 2000] [--json]

Both run the whole pipeline (`EdgeNLU.parse_result`: tokenizer, ONNX, decoding, resolution) on the
demo home over the same requests (SLURP devel texts, with and without a satellite's room). Each
request is parsed by one model and then the other, alternating which goes first, so that machine
noise hits both alike. Reports p50/p99 per model and the new/old ratios, and the model files' sizes.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from edge_nlu.model.evaluate import read_records
from edge_nlu.pipeline import load
from edge_nlu.settings import devices_dir

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "slurp" / "devel.jsonl"


def run(old: Path, new: Path, n: int) -> dict[str, Any]:
    home = devices_dir() / "homes" / "demo.yaml"
    models = {"old": load(model=old, home=home), "new": load(model=new, home=home)}
    texts = [r["text"] for r in read_records(DATA)]
    contexts: list[dict[str, Any] | None] = [None, {"area": "kitchen"}, {"area": "living_room"}]
    times: dict[str, list[float]] = {"old": [], "new": []}
    for name in models:  # warm-up
        for t in texts[:50]:
            models[name].parse_result(t)
    for i in range(n):
        text, ctx = texts[i % len(texts)], contexts[i % len(contexts)]
        order = ("old", "new") if i % 2 == 0 else ("new", "old")
        for name in order:
            t0 = time.perf_counter()
            models[name].parse_result(text, ctx)
            times[name].append((time.perf_counter() - t0) * 1000)
    out: dict[str, Any] = {"n": n, "old": str(old), "new": str(new)}
    for name, xs in times.items():
        a = np.asarray(xs)
        out[name] = {"p50_ms": round(float(np.percentile(a, 50)), 3), "p99_ms": round(float(np.percentile(a, 99)), 3),
                     "model_bytes": (old if name == "old" else new).joinpath("model.onnx").stat().st_size}
    out["ratio_p50"] = round(out["new"]["p50_ms"] / out["old"]["p50_ms"], 3)
    out["ratio_p99"] = round(out["new"]["p99_ms"] / out["old"]["p99_ms"], 3)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    ap.add_argument("--old", type=Path, required=True)
    ap.add_argument("--new", type=Path, required=True)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    r = run(args.old, args.new, args.n)
    if args.json:
        print(json.dumps(r, indent=1))
        return 0
    for name in ("old", "new"):
        print(f"{name}: p50 {r[name]['p50_ms']:.3f} ms  p99 {r[name]['p99_ms']:.3f} ms  "
              f"model.onnx {r[name]['model_bytes'] / 1e6:.2f} MB")
    print(f"new/old: p50 x{r['ratio_p50']}  p99 x{r['ratio_p99']}  ({r['n']} requests each, in turns)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
