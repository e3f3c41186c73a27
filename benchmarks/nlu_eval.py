"""Intent accuracy and span-level slot F1 of a model directory on a dataset in the shared JSONL format.

    python benchmarks/nlu_eval.py --model models/home --data ../shared/data/slurp/devel.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edge_nlu.model.evaluate import evaluate, read_records  # noqa: E402
from edge_nlu.model.runner import NLUModel  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "home")
    ap.add_argument("--data", type=Path, required=True)
    args = ap.parse_args()
    print(json.dumps(evaluate(NLUModel(args.model), read_records(args.data)), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
