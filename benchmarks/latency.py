"""Parse latency per stage on this machine, as ratios to the teacher measured in the same run.

    python benchmarks/latency.py [--model DIR] [--home FILE] [--n 2000] [--no-baseline] [--pi] [--out DIR]

A thin caller of `edge-nlu bench` (tools/edge_nlu_tools/bench/main.py): the baseline is a plain all-MiniLM-L6-v2
forward pass, exported to ONNX, fused and dynamically int8-quantized the same way (fp32 too), cached
after the first run; it needs the export extra. Requests and baselines take turns so that machine
noise hits both alike. Prints the table and writes bench.json and bench.png into --out.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edge_nlu_tools.bench.main import BenchOptions, main  # noqa: E402


def cli() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "home")
    ap.add_argument("--home", type=Path, default=ROOT / "devices" / "homes" / "demo.yaml")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--pi", action="store_true", help="also re-run pinned to one core in a child process")
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "edge-nlu-bench")
    args = ap.parse_args()
    return main(BenchOptions(model_dir=args.model, home_path=args.home, n=args.n, out_dir=args.out, pi=args.pi,
                             baselines=not args.no_baseline))


if __name__ == "__main__":
    raise SystemExit(cli())
