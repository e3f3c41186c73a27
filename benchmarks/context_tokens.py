"""What the context segment costs in tokens, and what cutting it would cost in context accuracy.

    python benchmarks/context_tokens.py [--model DIR] [--caps 0 4 8 12 16] [--json]

For each context benchmark (../shared/context/dev and benchmarks/context/home2): the mean request-text and
context-segment token counts (the segment as `edge_nlu.model.context_segment` writes it, tokenized by the
model), the segment's share of all the tokens the model reads, and the frame accuracy (context_eval's
check) when the segment is cut to its first K tokens (0: no context at all), in-process.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from context_eval import check  # noqa: E402

from edge_nlu.domain.context import RequestContext  # noqa: E402
from edge_nlu.domain.home import Home  # noqa: E402
from edge_nlu.model.context_segment import context_segment  # noqa: E402
from edge_nlu.pipeline import EdgeNLU  # noqa: E402
from edge_nlu.settings import RuntimeSettings  # noqa: E402

SETS = {"context dev": ROOT.parent / "shared" / "context" / "dev", "home2": ROOT / "benchmarks" / "context" / "home2"}


def measure(model: Path, folder: Path, caps: list[int]) -> dict[str, Any]:
    home = Home.load(folder / "home.json")
    nlu = EdgeNLU(RuntimeSettings(model, threads=1), home=home)
    cases = [json.loads(x) for x in (folder / "cases.jsonl").read_text().splitlines() if x.strip()]
    text, seg = [], []
    for c in cases:
        ctx = RequestContext.from_dict(c.get("context") or {})
        segment = context_segment(home.with_overrides(ctx.state_overrides), ctx)
        text.append(len(nlu.model.tok.encode(c["text"], add_special_tokens=False).ids))
        seg.append(len(nlu.model.segment_ids(segment)) if segment else 0)
    a, b = np.array(text), np.array(seg)
    read = a.sum() + b.sum() + 2 * len(a) + (b > 0).sum()  # [CLS] text [SEP] (segment [SEP])
    row: dict[str, Any] = {"cases": len(cases), "text_tokens_mean": round(float(a.mean()), 1),
                           "segment_tokens_mean": round(float(b.mean()), 1), "segment_tokens_max": int(b.max()),
                           "segment_share": round(float(b.sum() / read), 3)}
    full = nlu.model.segment_ids
    for cap in [*caps, None]:
        nlu.model._segments.clear()
        nlu.model.segment_ids = full if cap is None else (lambda s, k=cap: full(s)[:k])  # type: ignore[method-assign,misc]
        ok = sum(check(c, nlu.parse(c["text"], c.get("context")))["frame"] for c in cases)
        row[f"frame_accuracy_cut_{'none' if cap is None else cap}"] = round(ok / len(cases), 4)
    nlu.model.segment_ids = full  # type: ignore[method-assign]
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "home")
    ap.add_argument("--caps", type=int, nargs="+", default=[0, 4, 8, 12, 16])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    out = {name: measure(args.model, folder, args.caps) for name, folder in SETS.items() if folder.is_dir()}
    if args.json:
        print(json.dumps(out, indent=1))
        return 0
    for name, row in out.items():
        cuts = "  ".join(f"{k.removeprefix('frame_accuracy_cut_')}:{v:.3f}" for k, v in row.items()
                         if k.startswith("frame_accuracy_cut_"))
        print(f"{name}: {row['cases']} cases, text {row['text_tokens_mean']} + segment {row['segment_tokens_mean']} "
              f"tokens (max {row['segment_tokens_max']}), segment {100 * row['segment_share']:.0f} % of what the "
              f"model reads; frame accuracy with the segment cut to K tokens  {cuts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
