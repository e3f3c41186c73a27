"""Runner for the independent self-learning scenario (`../shared/selflearn/`, its README.md), with the analysis
that the scenario's own `replay.py` does not print.

Why: replay.py gives the headline score, but when it fails we need to know WHERE the loop breaks. The first
link is the rephrase detector: a retry it does not mark is a chain the Markov miner never sees. This runner
1. runs the scenario's own procedure, `replay.py <edge-nlu> --out OUT --keep-work`, against this checkout
   (a wrapper script written into OUT runs the tree's code with the project's venv; `--edge-nlu` overrides
   it), logs it to OUT/replay.log and saves the kept work dir in OUT/work_dir.txt and the exit code in
   OUT/replay_rc.txt; `--from OUT` skips the replay and analyses an OUT that kept its work dir;
2. prints the score of OUT/score.json as tables: defect rates before/after and their reduction overall and
   per group (kind, seen/unseen, global/personal), "fixed at least half" (group defect reduction >= 50 %),
   win:loss, false rewrites, the must_not_rewrite pass rate and rewrites by source;
3. measures the rephrase detector offline from the learned store (`<work>/learn/learning.sqlite3`, opened
   read-only) against the answer key in train_sessions.jsonl / patterns.json: in a `pattern` session every
   turn that has a next turn is a retry (positive, labelled with the pattern's kind); every other turn
   (ordinary sessions, two_requests sessions, last turns) is a negative. Recall per kind, precision, false
   marks by where they fell, and recall by the scripted reaction to the rephrased turn (barge_in / negative
   / none) and by the defect signals the store recorded on it, since the detector's threshold is lower
   after a defect.

The answer key is used here for measuring only; it is never sent to the service. Only the tables
`turns(id, query_id)` and `signals(turn_id, kind)` of the store are relied on.

    .venv/bin/python benchmarks/selflearn_scenario.py --out /tmp/sl-run            # replay + analysis
    .venv/bin/python benchmarks/selflearn_scenario.py --from /tmp/sl-run --json    # analysis only

Exit status: 0 after a completed analysis (the replay's own exit status is reported, not propagated);
2 on a bad argument or a missing or corrupt OUT, store or scenario.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sqlite3
import subprocess
import sys
import urllib.parse
from collections import Counter
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("asr_confusion", "idiom", "name_variant", "dropped_words", "personal")
AFTERS = ("barge_in", "negative", "none")
DEFECT_SIGNALS = ("barge_in", "negative", "not_recognized")
"""Signals the service records on a turn by itself (shown per kind next to the rephrase marks)."""
GROUPS = tuple(f"kind={k}" for k in KINDS) + ("seen", "unseen", "scope=global", "scope=personal")
HALF_GROUPS = ("unseen", "scope=personal")
SETUP_LINE = re.compile(r"^\[setup\] out (?P<out>.*); work (?P<work>\S+)\s*$")
STORE_IN_WORK = Path("learn") / "learning.sqlite3"
"""Where replay.py keeps the learned store inside its work dir (replay.py: `store_learn`)."""

Json = dict[str, Any]


class Fail(Exception):
    """The analysis cannot be done (bad argument, missing or corrupt input); exit 2 with this message."""


def default_scenario() -> Path:
    beside = ROOT.parent / "shared" / "selflearn"
    return beside if beside.is_dir() else Path("/work/shared/selflearn")


# -- the answer key and the store ------------------------------------------------------------------------


def load_key(scenario: Path) -> tuple[list[Json], dict[str, str]]:
    """(sessions of train_sessions.jsonl, pattern id -> kind) of a scenario folder."""
    try:
        with open(scenario / "train_sessions.jsonl", encoding="utf-8") as f:
            sessions = [json.loads(ln) for ln in f if ln.strip()]
        with open(scenario / "patterns.json", encoding="utf-8") as f:
            kinds = {str(p["id"]): str(p["kind"]) for p in json.load(f)}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise Fail(f"scenario {scenario}: cannot read train_sessions.jsonl / patterns.json: {exc}") from exc
    return sessions, kinds


def read_marks(store: Path) -> tuple[set[str], dict[str, set[str]], int]:
    """(query ids of recorded turns, query id -> signal kinds, signals on turns without a query id), read-only."""
    if not store.is_file():
        raise Fail(f"no learning store at {store}")
    uri = "file:" + urllib.parse.quote(str(store.resolve())) + "?mode=ro"
    try:
        con = sqlite3.connect(uri, uri=True)
        try:
            qids = {str(q) for (q,) in con.execute("SELECT query_id FROM turns WHERE query_id IS NOT NULL")}
            marks: dict[str, set[str]] = {}
            orphans = 0
            for qid, kind in con.execute("SELECT t.query_id, s.kind FROM signals s JOIN turns t ON t.id = s.turn_id"):
                if qid is None:
                    orphans += 1
                else:
                    marks.setdefault(str(qid), set()).add(str(kind))
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise Fail(f"learning store {store} is unreadable or not an edge-nlu store: {exc}") from exc
    return qids, marks, orphans


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def analyse_detector(store: Path, scenario: Path) -> Json:
    """The rephrase detector's precision and recall, from the store's marks against the scenario's answer key."""
    sessions, pattern_kind = load_key(scenario)
    qids, marks, orphans = read_marks(store)
    marked = {q for q, ks in marks.items() if "rephrase" in ks}
    per_kind = {k: Counter[str]() for k in KINDS}
    by_after = {a: Counter[str]() for a in AFTERS}
    by_kind_after = {k: {a: Counter[str]() for a in AFTERS} for k in KINDS}
    by_defect = {"with defect signal": Counter[str](), "without": Counter[str]()}
    by_words = {"same words again": Counter[str](), "different words": Counter[str]()}
    false_marks: Counter[str] = Counter()
    negatives: Counter[str] = Counter()
    known: set[str] = set()
    for s in sessions:
        turns = s["turns"]
        source = s.get("source")
        for k, turn in enumerate(turns, 1):
            qid = f"{s['session']}.{k}"
            known.add(qid)
            hit = qid in marked
            if source == "pattern" and k < len(turns):
                kind = pattern_kind.get(str(s.get("pattern")), "?")
                sig = marks.get(qid, set())
                row = per_kind.setdefault(kind, Counter())
                row["positives"] += 1
                row["marked"] += hit
                row["not_in_store"] += qid not in qids
                for d in DEFECT_SIGNALS:
                    row[f"with_{d}"] += d in sig
                row["with_any_defect"] += bool(sig & set(DEFECT_SIGNALS))
                after = str(turn.get("after"))
                again = turn["text"].strip().lower() == turns[k]["text"].strip().lower()  # turns[k]: the retry
                for c in (by_after.setdefault(after, Counter()),
                          by_kind_after.setdefault(kind, {}).setdefault(after, Counter()),
                          by_defect["with defect signal" if sig & set(DEFECT_SIGNALS) else "without"],
                          by_words["same words again" if again else "different words"]):
                    c["positives"] += 1
                    c["marked"] += hit
            else:
                where = ("two_requests first turns" if source == "two_requests" and k == 1
                         else "other: two_requests second turns" if source == "two_requests"
                         else "other: pattern last turns" if source == "pattern" else f"other: {source} turns")
                negatives[where] += 1
                false_marks[where] += hit
    true_marks = sum(c["marked"] for c in per_kind.values())
    positives = sum(c["positives"] for c in per_kind.values())
    n_false = sum(false_marks.values())
    outside = len(marked - known)

    def pr(c: Counter[str]) -> Json:
        return {"positives": c["positives"], "marked": c["marked"], "recall": _ratio(c["marked"], c["positives"])}

    kinds = {}
    for kind, c in per_kind.items():
        kinds[kind] = pr(c) | {k: c[k] for k in ("not_in_store", "with_any_defect")} | {
            f"with_{d}": c[f"with_{d}"] for d in DEFECT_SIGNALS}
    other = sum(n for w, n in false_marks.items() if w.startswith("other"))
    return {
        "store": str(store), "scenario": str(scenario),
        "turns_in_key": len(known), "turns_in_store": len(qids), "key_turns_missing": len(known - qids),
        "store_turns_outside_key": len(qids - known),
        "marked": len(marked), "marked_outside_key": outside, "signals_on_turns_without_query_id": orphans,
        "positives": positives, "true_marks": true_marks, "recall": _ratio(true_marks, positives),
        "precision": _ratio(true_marks, true_marks + n_false),
        "false_marks": {"two_requests first turns": false_marks["two_requests first turns"], "other turns": other},
        "false_marks_detail": {w: {"turns": negatives[w], "marked": false_marks[w]} for w in sorted(negatives)},
        "per_kind": kinds,
        "recall_by_after": {a: pr(c) for a, c in by_after.items()},
        "recall_by_kind_after": {k: {a: pr(c) for a, c in d.items()} for k, d in by_kind_after.items()},
        "recall_by_defect_signal": {a: pr(c) for a, c in by_defect.items()},
        "recall_by_words": {a: pr(c) for a, c in by_words.items()},
        "signals_on_key_turns": dict(sorted(Counter(k for q in known for k in marks.get(q, ())).items())),
    }


# -- the score -------------------------------------------------------------------------------------------


def _frac(s: str) -> tuple[int, int]:
    a, b = s.split("/")
    return int(a), int(b)


def analyse_score(fig: Json) -> Json:
    """The figures of score.json, with each group's defect rates and reduction (fails_before - fails_after) /
    fails_before; `half_fixed`: that reduction is at least 50 %."""
    try:
        after_by = {k: _frac(v) for k, v in fig["should_pass_after_by"].items()}
        before_by = {k: _frac(v) for k, v in fig.get("should_pass_before_by", {}).items()}
        groups: dict[str, Json] = {}
        for g in [g for g in GROUPS if g in after_by] + sorted(set(after_by) - set(GROUPS)):
            pa, n = after_by[g]
            pb = before_by.get(g, (None, n))[0]
            fa = n - pa
            fb = None if pb is None else n - pb
            red = _ratio(fb - fa, fb) if fb is not None else None
            groups[g] = {"checks": n, "fails_before": fb, "fails_after": fa,
                         "defect_before": _ratio(fb, n) if fb is not None else None, "defect_after": _ratio(fa, n),
                         "reduction": red, "half_fixed": red is not None and red >= 0.5}
        keys = ("checks", "should_rewrite", "must_not_rewrite", "defect_rate_before_pct", "defect_rate_after_pct",
                "defect_reduction_pct", "all_checks_defect_before_pct", "all_checks_defect_after_pct",
                "all_checks_defect_reduction_pct", "fixed", "broken", "rewrites_applied", "win_loss",
                "rewrite_coverage_pct", "false_rewrite_rate_pct", "must_not_pass_pct", "rewrites_by_source",
                "false_rewrites")
        out = {k: fig.get(k) for k in keys}
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise Fail(f"score.json has not the shape score.py writes: {exc!r}") from exc
    out["groups"] = groups
    out["half_fixed"] = {g: groups[g]["half_fixed"] for g in HALF_GROUPS if g in groups}
    return out


# -- the replay ------------------------------------------------------------------------------------------


def write_wrapper(out: Path, repo: Path) -> Path:
    """OUT/edge-nlu: runs `repo`'s tree with its venv. PYTHONSAFEPATH keeps `python -m` from putting the
    current directory (where replay.py runs) ahead of PYTHONPATH, so another checkout's cwd cannot shadow it."""
    py = repo / ".venv" / "bin" / "python"
    path = out / "edge-nlu"
    pp = shlex.quote(f"{repo}:{repo / 'tools'}")
    path.write_text(f'#!/bin/sh\nPYTHONSAFEPATH=1 PYTHONPATH={pp} exec {shlex.quote(str(py))} -m edge_nlu.cli "$@"\n')
    path.chmod(0o755)
    return path


def run_replay(cmd: str, out: Path, scenario: Path, repo: Path, echo: TextIO) -> tuple[int, Path | None]:
    """replay.py CMD --out OUT --keep-work in `repo`; its output goes to OUT/replay.log and `echo`.
    Returns (exit status, kept work dir or None); writes OUT/work_dir.txt and OUT/replay_rc.txt."""
    replay = scenario / "replay.py"
    if not replay.is_file():
        raise Fail(f"no replay.py in the scenario folder {scenario}")
    venv_py = repo / ".venv" / "bin" / "python"
    py = str(venv_py) if venv_py.is_file() else sys.executable
    argv = [py, str(replay), cmd, "--out", str(out), "--keep-work"]
    work: Path | None = None
    with open(out / "replay.log", "w", encoding="utf-8") as logf:
        print("$ " + shlex.join(argv), file=echo, flush=True)
        proc = subprocess.Popen(argv, cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                errors="replace")
        assert proc.stdout is not None
        for line in proc.stdout:
            logf.write(line)
            echo.write(line)
            echo.flush()
            m = SETUP_LINE.match(line)
            if m and work is None:
                work = Path(m["work"])
        rc = proc.wait()
    if work is not None:
        (out / "work_dir.txt").write_text(f"{work}\n")
    (out / "replay_rc.txt").write_text(f"{rc}\n")
    return rc, work


def load_out(out: Path, store: Path | None) -> tuple[Json, Path, int | None]:
    """(score.json, the store, the replay's exit status if recorded) of a finished OUT."""
    if not out.is_dir():
        raise Fail(f"{out} is not a folder")
    try:
        fig = json.loads((out / "score.json").read_text(encoding="utf-8"))
    except OSError as exc:
        raise Fail(f"{out}/score.json is missing: the replay did not finish (see {out}/replay.log)") from exc
    except ValueError as exc:
        raise Fail(f"{out}/score.json is not JSON: {exc}") from exc
    if not isinstance(fig, dict):
        raise Fail(f"{out}/score.json is not a JSON object")
    if store is None:
        try:
            work = Path((out / "work_dir.txt").read_text(encoding="utf-8").strip())
        except OSError as exc:
            raise Fail(f"{out}/work_dir.txt is missing (not a run of this script with --keep-work?); "
                       "pass --store") from exc
        store = work / STORE_IN_WORK
    rc: int | None = None
    try:
        rc = int((out / "replay_rc.txt").read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        pass
    return fig, store, rc


# -- printing ----------------------------------------------------------------------------------------------


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def print_tables(rep: Json, f: TextIO) -> None:
    sc, dt = rep["score"], rep["detector"]
    w = f.write
    w(f"\n== self-learning scenario: {rep['out']} (replay exit status {rep['replay_rc']}) ==\n")
    w(f"defect rate (should_rewrite, {sc['should_rewrite']}): {sc['defect_rate_before_pct']:.1f}% -> "
      f"{sc['defect_rate_after_pct']:.1f}%, reduction {sc['defect_reduction_pct']:.1f}%\n")
    w(f"all {sc['checks']} checks: {sc['all_checks_defect_before_pct']:.1f}% -> "
      f"{sc['all_checks_defect_after_pct']:.1f}%, "
      f"reduction {sc['all_checks_defect_reduction_pct']:.1f}%; fixed {sc['fixed']}, broken {sc['broken']}\n")
    w(f"win:loss {sc['win_loss']} over {sc['rewrites_applied']} applied rewrites; coverage "
      f"{sc['rewrite_coverage_pct']:.1f}%; false rewrites {len(sc['false_rewrites'] or [])}/{sc['must_not_rewrite']} "
      f"({sc['false_rewrite_rate_pct']:.1f}%) {sc['false_rewrites']}; must_not pass {sc['must_not_pass_pct']:.1f}%\n")
    w("rewrites by source: " + (", ".join(f"{k} {v}" for k, v in sorted((sc["rewrites_by_source"] or {}).items()))
                                or "none") + "\n\n")
    w(f"{'group':<20}{'checks':>7}{'fail before':>12}{'fail after':>11}{'defect before':>14}{'defect after':>13}"
      f"{'reduction':>10}  half fixed\n")
    for g, r in sc["groups"].items():
        w(f"{g:<20}{r['checks']:>7}{r['fails_before'] if r['fails_before'] is not None else '-':>12}"
          f"{r['fails_after']:>11}{_pct(r['defect_before']):>14}{_pct(r['defect_after']):>13}"
          f"{_pct(r['reduction']):>10}  {'yes' if r['half_fixed'] else 'no'}\n")
    w("fixed at least half: " + ", ".join(f"{g} {'yes' if v else 'no'}" for g, v in sc["half_fixed"].items()) + "\n")

    w(f"\n== rephrase detector ({dt['store']}) ==\n")
    w(f"turns: {dt['turns_in_key']} in the scenario, {dt['key_turns_missing']} of them missing from the store; "
      f"{dt['store_turns_outside_key']} other query ids in the store (the after pass records its checks there); "
      "the scenario's turns carry "
      + ", ".join(f"{k} {v}" for k, v in dt["signals_on_key_turns"].items()) + "\n")
    w(f"recall {dt['true_marks']}/{dt['positives']} = {_pct(dt['recall'])}; precision {_pct(dt['precision'])} "
      f"({dt['true_marks']} true, {sum(dt['false_marks'].values())} false marks: "
      + ", ".join(f"{k} {v}" for k, v in dt["false_marks"].items())
      + f"; {dt['marked_outside_key']} marks on turns outside the scenario)\n")
    w(f"\n{'kind':<16}{'positives':>10}{'marked':>8}{'recall':>8}{'w/ barge_in':>12}{'w/ negative':>12}"
      f"{'w/ not_rec':>11}{'w/ any':>8}\n")
    for k, r in dt["per_kind"].items():
        w(f"{k:<16}{r['positives']:>10}{r['marked']:>8}{_pct(r['recall']):>8}{r['with_barge_in']:>12}"
          f"{r['with_negative']:>12}{r['with_not_recognized']:>11}{r['with_any_defect']:>8}\n")
    w("(w/ X: positives whose turn carries signal X in the store)\n")
    w("\nrecall by the rephrased turn's scripted `after`:\n")
    w(f"{'kind':<16}" + "".join(f"{a:>18}" for a in AFTERS) + "\n")
    rows = list(dt["recall_by_kind_after"].items()) + [("all", dt["recall_by_after"])]
    for k, d in rows:
        cells = [d.get(a) for a in AFTERS]
        w(f"{k:<16}" + "".join(f"{'-':>18}" if c is None else
                               f"{c['marked']:>5}/{c['positives']:<4}{_pct(c['recall']):>9}" for c in cells) + "\n")
    for title, key in (("by a defect signal recorded on the rephrased turn", "recall_by_defect_signal"),
                       ("by the retry's words", "recall_by_words")):
        w(f"recall {title}: " + "; ".join(f"{a} {c['marked']}/{c['positives']} {_pct(c['recall'])}"
                                           for a, c in dt[key].items()) + "\n")
    w("false marks by where they fell: " + "; ".join(f"{k} {v['marked']}/{v['turns']}"
                                                     for k, v in dt["false_marks_detail"].items()) + "\n")


# -- main --------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--out", type=Path, help="run the replay into this folder, then analyse it")
    src.add_argument("--from", dest="from_out", type=Path, metavar="OUT",
                     help="only analyse an OUT a previous run left (with its work dir kept)")
    ap.add_argument("--edge-nlu", metavar="CMD",
                    help="the edge-nlu command for replay.py (default: OUT/edge-nlu, a wrapper running this tree)")
    ap.add_argument("--scenario", type=Path, default=default_scenario(),
                    help="the scenario folder (default: %(default)s)")
    ap.add_argument("--store", type=Path, help="the learned store (default: <work>/learn/learning.sqlite3)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    args = ap.parse_args(argv)
    if args.from_out is not None and args.edge_nlu is not None:
        ap.error("--edge-nlu only goes with --out (--from runs no replay)")
    try:
        if not args.scenario.is_dir():
            raise Fail(f"scenario folder {args.scenario} does not exist")
        out: Path = (args.out or args.from_out).resolve()
        if args.out is not None:
            out.mkdir(parents=True, exist_ok=True)
            cmd = args.edge_nlu or shlex.quote(str(write_wrapper(out, ROOT)))
            rc, work = run_replay(cmd, out, args.scenario.resolve(), ROOT, sys.stderr if args.json else sys.stdout)
            if work is None and args.store is None:
                raise Fail(f"replay.py (exit {rc}) printed no '[setup] out ...; work ...' line; see {out}/replay.log")
        fig, store, rc_rec = load_out(out, args.store)
        work_dir = None if args.store is not None else str(store.parent.parent)
        rep: Json = {"out": str(out), "replay_rc": rc_rec, "work_dir": work_dir, "store": str(store),
                     "score": analyse_score(fig), "detector": analyse_detector(store, args.scenario)}
    except Fail as exc:
        print(f"selflearn_scenario: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(rep, indent=1))
    else:
        print_tables(rep, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
