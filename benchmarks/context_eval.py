"""Score a context benchmark (shared/context/README.md) through `edge-nlu parse --jsonl`.

    python benchmarks/context_eval.py --cases DIR/cases.jsonl --home DIR/home.json [--ablation]

Frame accuracy is the headline: intent, exact target set and the listed slots all right.
`--ablation` replaces every context with {} to show how much the context carries.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any


def _norm_str(s: str) -> str:
    return " ".join(s.replace("'", "").replace("’", "").split()).lower()


def _num(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        m = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)\s*%?\s*", v)
        if m:
            return float(m.group(1))
    return None


def slot_ok(want: Any, got: Any) -> bool:
    if isinstance(want, list):
        return any(slot_ok(w, got) for w in want)
    if got is None:
        return False
    wn, gn = _num(want), _num(got)
    if isinstance(want, (int, float)) or (wn is not None and gn is not None):
        return wn is not None and gn is not None and abs(wn - gn) < 1e-9
    return _norm_str(str(want)) == _norm_str(str(got))


def check(case: dict[str, Any], result: dict[str, Any]) -> dict[str, bool]:
    exp = case["expect"]
    action = result.get("action") or {}
    want_i = exp["intent"] if isinstance(exp["intent"], list) else [exp["intent"]]
    intent_ok = action.get("intent") in want_i
    targets_ok = True
    if "targets" in exp:
        targets_ok = set(action.get("targets") or []) == set(exp["targets"])
    slots = action.get("slots") or {}
    slots_ok = all(slot_ok(v, slots.get(k)) for k, v in (exp.get("slots") or {}).items())
    return {"intent": intent_ok, "targets": targets_ok, "slots": slots_ok,
            "frame": intent_ok and targets_ok and slots_ok}


def run(cases: list[dict[str, Any]], home: Path, ablation: bool, cmd: list[str]) -> list[dict[str, Any]]:
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        for c in cases:
            f.write(json.dumps({"id": c["id"], "text": c["text"],
                                "context": {} if ablation else c.get("context", {})}) + "\n")
    proc = subprocess.run([*cmd, "parse", "--home", str(home), "--jsonl", f.name],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"edge-nlu failed: {proc.stderr}")
    return [json.loads(line) for line in proc.stdout.splitlines()]


def score(cases: list[dict[str, Any]], results: list[dict[str, Any]]) -> dict[str, Any]:
    by_id = {r["id"]: r for r in results}
    checks = [check(c, by_id.get(c["id"], {})) for c in cases]
    groups: dict[str, list[bool]] = defaultdict(list)
    for c, k in zip(cases, checks, strict=True):
        if c.get("group"):
            groups[c["group"]].append(k["frame"])
    with_t = [k for c, k in zip(cases, checks, strict=True) if "targets" in c["expect"]]
    n = len(cases)
    return {
        "cases": n,
        "frame_accuracy": sum(k["frame"] for k in checks) / n,
        "intent_accuracy": sum(k["intent"] for k in checks) / n,
        "target_accuracy": sum(k["targets"] for k in with_t) / max(1, len(with_t)),
        "groups_all_right": sum(all(v) for v in groups.values()),
        "groups": len(groups),
        "failed": [c["id"] for c, k in zip(cases, checks, strict=True) if not k["frame"]],
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=Path, required=True)
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--ablation", action="store_true")
    ap.add_argument("--show-failures", action="store_true")
    ap.add_argument("--cmd", default=f"{sys.executable} -m edge_nlu.cli.main",
                    help="how to call edge-nlu")
    args = ap.parse_args()
    cases = [json.loads(line) for line in args.cases.read_text().splitlines() if line.strip()]
    results = run(cases, args.home, args.ablation, args.cmd.split())
    report = score(cases, results)
    if args.show_failures:
        by_id = {r["id"]: r for r in results}
        for c in cases:
            if c["id"] in report["failed"]:
                r = by_id.get(c["id"], {})
                print(c["id"], repr(c["text"]), "\n   want", c["expect"], "\n   got ", r.get("action"),
                      (r.get("nlu") or {}).get("intent"), r.get("error"), file=sys.stderr)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
