"""The `bench` command, registered into `edge-nlu` through the `edge_nlu.commands` entry point."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from edge_nlu.settings import default_model_dir


def register(sub: Any) -> None:
    b = sub.add_parser("bench", help="latency per stage, cold start, memory, MACs; vs all-MiniLM-L6-v2 when the "
                                     "export extra is installed")
    b.add_argument("--model", type=Path, default=None, help="model directory (default: shipped model)")
    b.add_argument("--home", type=Path, default=None, help="home snapshot (default: the demo home)")
    b.add_argument("--n", type=int, default=1000, help="timed requests per configuration")
    b.add_argument("--out", type=Path, default=Path("."), help="folder for bench.json and bench.png")
    b.add_argument("--pi", action="store_true", help="also re-run in a child pinned to one core, one thread")
    b.add_argument("--no-baselines", action="store_true", help="skip the teacher (all-MiniLM-L6-v2) baselines")
    b.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from edge_nlu_tools.bench.main import BenchOptions, main

    return main(BenchOptions(model_dir=args.model or default_model_dir(), home_path=args.home, n=args.n,
                             out_dir=args.out, pi=args.pi, baselines=not args.no_baselines))
