"""`python -m export build|rewriter`: parse the command line and run one build.

`build --out models/home [--quick]`: the NLU model (data -> teacher -> student -> int8 ONNX; `export.build`).
`rewriter --out models/rewriter [--quick]`: the self-learning models (`export.rewriter`).
Both print a JSON summary on stdout and log progress on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from .common import ROOT, setup_run


def _build_arguments(b: argparse.ArgumentParser) -> None:
    b.add_argument("--out", type=Path, default=ROOT / "models" / "home")
    b.add_argument("--quick", action="store_true", help="tiny model in a couple of minutes (tests)")
    b.add_argument("--seed", type=int, default=13)
    b.add_argument("--generated", type=int, default=9000)
    b.add_argument("--ha-templates", type=int, default=180, metavar="N",
                   help="N samples per HA intent of Home Assistant's sentence templates (train pool; 0: none)")
    b.add_argument("--teacher-epochs", type=int, default=6)
    b.add_argument("--student-epochs", type=int, default=8)
    b.add_argument("--student-layers", type=lambda s: [int(x) for x in s.split(",")], default=[1, 3, 5])
    b.add_argument("--student-hidden", type=int, default=384,
                   help="student hidden size (the shipped model: 384, the teacher's); narrower: the teacher's hidden "
                        "states projected on their top principal directions (e.g. 256 with --student-heads 4 "
                        "--student-intermediate 1024 --layer-epochs 3)")
    b.add_argument("--student-heads", type=int, default=12)
    b.add_argument("--student-intermediate", type=int, default=1536,
                   help="student feed-forward size: the teacher's most important neurons")
    b.add_argument("--layer-epochs", type=int, default=0,
                   help="epochs of intermediate-layer distillation (hidden states, attention relations) before "
                        "the logit distillation; 0: none")
    b.add_argument("--layer-max-steps", type=int, default=None,
                   help="cap the intermediate-layer distillation at this many steps (its schedule ends there)")
    b.add_argument("--student-max-steps", type=int, default=None,
                   help="cap the logit distillation at this many steps (its schedule ends there)")
    b.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    b.add_argument("--train", type=Path, default=None,
                   help="train on this corpus (shared JSONL) alone, without home context or generated data, "
                        "e.g. ../shared/data/snips/train.jsonl; default: the home recipe")
    b.add_argument("--teacher-cache", type=Path, default=None,
                   help="keep the fine-tuned teacher here (never in models/) and reuse it when the data, seed and "
                        "epochs are the same: student experiments then skip the teacher step")
    b.add_argument("--teacher-from", type=Path, default=None, metavar="DIR",
                   help="distil from a shipped model directory (its int8 weights read back) instead of fine-tuning "
                        "MiniLM: a narrower student learns from the model it must match (teacher assistant)")
    b.add_argument("--student-init", type=Path, default=None, metavar="DIR",
                   help="start the student from a model directory built before (same shape and vocabulary; its int8 "
                        "weights read back) instead of the projected teacher")
    b.add_argument("--skip-quant-compare", action="store_true",
                   help="do not build and measure the static QDQ variants (saves minutes)")
    b.add_argument("--dev", type=Path, default=None,
                   help="a dev set in the shared JSONL format to measure at the end (default: SLURP devel for "
                        "the home recipe, valid.jsonl next to --train otherwise)")


def _rewriter_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=ROOT / "models" / "rewriter")
    p.add_argument("--quick", action="store_true", help="tiny data, few steps (tests; under a minute)")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--epochs", type=int, default=5, help="student distillation epochs")
    p.add_argument("--layers", type=lambda s: [int(x) for x in s.split(",")], default=[1, 4],
                   help="teacher layers the student starts from (0-based)")
    p.add_argument("--threads", type=int, default=1, help="torch and onnxruntime threads (1: steady on a shared box)")
    p.add_argument("--generated", type=int, default=8000, help="generated home requests (before dedup)")
    p.add_argument("--index-cap", type=int, default=6000, help="most phrasings in the global index")
    p.add_argument("--pairs", type=int, default=20000, help="rephrase pairs (10%% held out)")
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--denoise", type=float, default=0.5,
                   help="target of a misheard copy: this much of the teacher's clean-text embedding, the rest "
                        "of its own (0: plain distillation)")
    p.add_argument("--batch", type=int, default=64)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m export")
    sub = ap.add_subparsers(dest="cmd", required=True)
    _build_arguments(sub.add_parser("build", help="build a model directory"))
    _build_arguments(sub.add_parser(
        "calibrate", help="fit the confidence temperature of a built model (--out) on its build's holdout, "
                          "given the arguments it was built with"))
    _rewriter_arguments(sub.add_parser(
        "rewriter", help="build the self-learning models (sentence encoder, rephrase detector, index)"))
    args = ap.parse_args(argv)
    if args.cmd == "rewriter":
        setup_run()  # before torch and transformers load: the hub reads HF_HUB_OFFLINE at import
        from . import rewriter

        manifest = rewriter.build(args)
        print(json.dumps({"out": str(args.out), "figures": manifest["figures"]}, indent=1))
        return 0
    if args.cmd == "calibrate":
        setup_run()
        from . import build as build_module

        print(json.dumps({"out": str(args.out), "calibration": build_module.recalibrate(args)}, indent=1))
        return 0
    if args.dev is None:
        default_dev = (args.train.parent / "valid.jsonl" if args.train
                       else ROOT.parent / "shared" / "data" / "slurp" / "devel.jsonl")
        args.dev = default_dev if default_dev.exists() else None
    if args.train is not None and not args.train.is_file():
        ap.error(f"--train {args.train}: no such file")
    setup_run()
    from . import build

    manifest = build.build(args)
    print(json.dumps({"out": str(args.out), "figures": manifest["figures"],
                      "build_seconds": manifest["build_seconds"]}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
