"""Does padding each request to a length bucket speed up the model run, and does it change answers?

    python benchmarks/length_buckets.py [--model models/home] [--n 600] [--rounds 5] [--buckets 16 24 32 48 64] [--json]

Batch size is 1 on a hub, so bucketing cannot batch anything; its only possible gain is onnxruntime reusing the
shapes it planned for. This measures it instead of assuming: the same requests (HWU64 train texts over the demo
home, half with a context segment) are run through the shipped int8 model at their exact length and padded with
[PAD] (attention mask 0) to the next bucket, taking turns request by request, one thread. Reported: model-run p50/p99
for both, the ratio, the mean tokens added, and whether the padded run gives the same intent and the same tags on
the real tokens (and the largest logit difference).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tools")]

from edge_nlu.domain.context import RequestContext  # noqa: E402
from edge_nlu.domain.home import Home  # noqa: E402
from edge_nlu.model.context_segment import context_segment  # noqa: E402
from edge_nlu.model.runner import ModelInput, NLUModel  # noqa: E402


def requests(model: NLUModel, n: int) -> list[ModelInput]:
    """HWU64 train texts; every other one with the demo home's living-room context, as a satellite there sends."""
    home = Home.load(ROOT / "devices" / "homes" / "demo.yaml")
    rows = [json.loads(x) for x in (ROOT.parent / "shared" / "data" / "hwu64" / "train.jsonl").read_text().splitlines()
            if x.strip()]
    step = max(1, len(rows) // n)
    area = home.areas[0].id if home.areas else None
    segment = context_segment(home, RequestContext.from_dict({"area": area} if area else {}))
    return [model.encode(r["text"], segment if i % 2 else "") for i, r in enumerate(rows[::step][:n])]


def feed(model: NLUModel, enc: ModelInput, length: int) -> dict[str, np.ndarray]:
    n = len(enc.ids)
    ids = np.zeros((1, length), dtype=np.int64)
    ids[0, :n] = enc.ids
    mask = np.zeros((1, length), dtype=np.int64)
    mask[0, :n] = 1
    types = np.zeros((1, length), dtype=np.int64)
    types[0, :n] = enc.type_ids
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def bucket(n: int, buckets: list[int]) -> int:
    return next((b for b in buckets if b >= n), n)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "home")
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--buckets", type=int, nargs="+", default=[16, 24, 32, 48, 64])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    model = NLUModel(args.model, threads=1)
    reqs = requests(model, args.n)
    exact_t: list[float] = []
    padded_t: list[float] = []
    same_intent = same_tags = 0
    worst = 0.0
    added = []
    for r in range(args.rounds):
        for i, enc in enumerate(reqs):
            n = len(enc.ids)
            m = bucket(n, sorted(args.buckets))
            runs = [("exact", feed(model, enc, n)), ("padded", feed(model, enc, m))]
            if (i + r) % 2:
                runs.reverse()
            out: dict[str, list[Any]] = {}
            for name, f in runs:
                t0 = time.perf_counter_ns()
                out[name] = model.session.run(None, f)
                (exact_t if name == "exact" else padded_t).append((time.perf_counter_ns() - t0) / 1e6)
            if r == 0:
                added.append(m - n)
                a, b = out["exact"], out["padded"]
                same_intent += int(np.argmax(a[0][0]) == np.argmax(b[0][0]))
                k = 1 + len(enc.starts)
                same_tags += int((np.argmax(a[1][0][1:k], -1) == np.argmax(b[1][0][1:k], -1)).all())
                worst = max(worst, float(np.abs(a[0][0] - b[0][0]).max()),
                            float(np.abs(a[1][0][:n] - b[1][0][:n]).max()))
    e, p = np.array(exact_t), np.array(padded_t)
    report = {
        "requests": len(reqs), "rounds": args.rounds, "buckets": sorted(args.buckets),
        "tokens_mean": round(float(np.mean([len(x.ids) for x in reqs])), 1),
        "padding_added_mean": round(float(np.mean(added)), 1),
        "exact_ms": {"p50": round(float(np.percentile(e, 50)), 3), "p99": round(float(np.percentile(e, 99)), 3)},
        "padded_ms": {"p50": round(float(np.percentile(p, 50)), 3), "p99": round(float(np.percentile(p, 99)), 3)},
        "padded_over_exact_p50": round(float(np.percentile(p, 50) / np.percentile(e, 50)), 3),
        "padded_over_exact_p99": round(float(np.percentile(p, 99) / np.percentile(e, 99)), 3),
        "same_intent": f"{same_intent}/{len(reqs)}", "same_tags": f"{same_tags}/{len(reqs)}",
        "max_logit_difference": round(worst, 5),
    }
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        for key, v in report.items():
            print(f"{key:24} {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
