"""`edge-nlu eval`: intent accuracy and slot P/R/F1 of a model on a JSONL dataset."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from edge_nlu.errors import EdgeNLUError, ErrorCode
from edge_nlu.settings import default_model_dir


def register(sub: Any) -> None:
    e = sub.add_parser("eval", help="intent accuracy and slot F1 of a model on a JSONL dataset")
    e.add_argument("--model", type=Path, default=None, help="model directory (default: shipped model)")
    e.add_argument("--data", type=Path, required=True, help="records in the shared JSONL format")
    e.add_argument("--json", action="store_true", help="print the report as JSON")
    e.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    return _eval(args.model or default_model_dir(), args.data, args.json)


def _eval(model_dir: Path, data: Path, as_json: bool) -> int:
    from edge_nlu.model.evaluate import evaluate, format_report, read_records
    from edge_nlu.model.runner import NLUModel

    try:
        records = read_records(data)
    except ValueError as exc:
        raise EdgeNLUError(f"{data} is not JSON Lines: {exc}", ErrorCode.INVALID_INPUT) from exc
    bad = [i for i, r in enumerate(records, 1) if not isinstance(r, dict) or not isinstance(r.get("text"), str)
           or not isinstance(r.get("intent"), str)]
    if bad:
        raise EdgeNLUError(f"{data}: line {bad[0]} lacks a text or an intent", ErrorCode.INVALID_INPUT)
    report = evaluate(NLUModel(model_dir), records)
    print(json.dumps(report, indent=1) if as_json else format_report(report))
    return 0
