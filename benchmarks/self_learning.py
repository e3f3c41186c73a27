"""Self-learning benchmark on the household simulator (`export/household.py`).

Phase A (training): `--days-train` simulated days of traffic through `SelfLearning` as the service runs it,
with `learn()` every night. Phase B (held out): `--days-test` days of FRESH sessions (another seed for the
traffic and the users' reactions; same people, habits and accents), each on its own copy of the phase-A
store, with learning frozen (no `learn()` unless --learn-in-test) and three layer sets:
  none         engine.layers = set(): no learning (the plain pipeline),
  all          every layer,
  no_personal  precomputed + global + taught,
  precomputed_only  (informative) the Markov miner's rewrites alone.
Reported (table on stdout, JSON with --json):
  defect rate: turns whose outcome differs from the oracle's (see export/household.py), none vs all, and the
    relative reduction (target >= 35 %); also first-attempt defect rate and failed requests,
  precomputed win:loss on phase-B turns a precomputed rewrite fired on (win: the rewrite made a wrong turn
    right; loss: it made a right turn wrong; ties apart) (target >= 15:1),
  personal gain: defect rate of no_personal minus all, in points (target >= 4),
  false rewrites: turns the plain pipeline got right that a rewrite made wrong, over all such turns (< 0.5 %),
  latency: the engine's own rewrite step (`engine.rewrite_ms`: table lookups on every request, plus index
    refreshes and retrieval on defect-prone ones), the online retrieval alone (`engine.online_ms`: encoder +
    both indexes + ranking, one thread), and handle() next to a plain parse of the same text timed right after it,
  counts: turns, sessions, requests, rewrites by source.
`--quick` is a small run for tests (< 60 s).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from edge_nlu.domain.result import DEFAULT_MIN_CONFIDENCE  # noqa: E402
from edge_nlu.learn.engine import LAYERS, SelfLearning  # noqa: E402
from edge_nlu.learn.settings import LearnSettings  # noqa: E402
from edge_nlu.learn.store import InteractionStore  # noqa: E402
from edge_nlu.model.threads import limit_blas_threads  # noqa: E402
from edge_nlu.pipeline import load  # noqa: E402
from export import household as hh  # noqa: E402

T0 = 1_767_225_600.0  # 2026-01-01 00:00 UTC, a midnight
TARGETS = {"defect_reduction": 0.35, "precomputed_win_loss": 15.0, "personal_gain_points": 4.0,
           "false_rewrite_rate": 0.005}
VARIANTS: tuple[tuple[str, frozenset[str]], ...] = (
    ("none", frozenset()), ("all", frozenset(LAYERS)),
    ("no_personal", frozenset({"precomputed", "global", "taught"})),
    ("precomputed_only", frozenset({"precomputed"})))
"""Phase-B layer sets; precomputed_only (not a target) isolates the Markov miner."""


def _pct(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(q * len(xs)))], 3)


def _range(text: str) -> tuple[int, int]:
    lo, _, hi = text.partition("-")
    return int(lo), int(hi or lo)


def _copy_store(src: Path, dst: Path) -> None:
    a, b = sqlite3.connect(src), sqlite3.connect(dst)
    try:
        a.backup(b)
    finally:
        a.close()
        b.close()


def _failing_habits(pop: hh.Population) -> float:
    """Share of (user, goal) habits whose noise-free phrasing the plain pipeline gets wrong."""
    pairs = [(g, h) for u in pop.users for g, h in zip(u.goals, u.habits, strict=True)]
    return round(sum(not g.variants.get(h, h == g.canonical) for g, h in pairs) / max(1, len(pairs)), 3)


def run(args: argparse.Namespace) -> dict[str, Any]:
    t_start = time.perf_counter()
    nlu = load(home=hh.DEMO_HOME)
    knobs = hh.PopulationKnobs(users_per_home=_range(args.users_per_home), goals_per_user=_range(args.goals_per_user))
    settings = LearnSettings(reload_interval_s=0.0)
    pop = hh.build_population(nlu, args.seed, args.households, knobs, min_confidence=DEFAULT_MIN_CONFIDENCE)
    users = hh.UserModel(requests_per_day=_range(args.requests_per_day))
    rewriter_dir = Path(args.rewriter_dir) if args.rewriter_dir else None
    out: dict[str, Any] = {"config": {k: v for k, v in vars(args).items() if k != "json"},
                           "population": {"homes": len(pop.homes), "users": len(pop.users),
                                          "goals": sum(len(u.goals) for u in pop.users),
                                          "habits_the_plain_model_fails": _failing_habits(pop)}}
    with tempfile.TemporaryDirectory(prefix="selflearn-") as tmp:
        train_path = Path(tmp) / "train.sqlite3"
        store = InteractionStore(train_path)
        engine = SelfLearning(nlu, store, settings, rewriter_dir)
        out["online_models"] = engine.rewriter is not None
        sim = hh.Simulator(args.seed, pop, nlu, engine, noise=args.noise, users=users, name="train")
        t = time.perf_counter()
        train = sim.run(args.days_train, T0, learn_every_days=1)
        out["train"] = {**train.summary(), "seconds": round(time.perf_counter() - t, 1),
                        "learned": train.learn_reports[-1] if train.learn_reports else None}
        out["signals"] = signal_quality(train, store)
        store.close()
        runs: dict[str, tuple[hh.SimStats, SelfLearning]] = {}
        for name, layers in VARIANTS:
            path = Path(tmp) / f"{name}.sqlite3"
            _copy_store(train_path, path)
            eng = SelfLearning(nlu, InteractionStore(path), settings, rewriter_dir)
            eng.layers = set(layers)
            sim = hh.Simulator(args.seed + 7919, pop, nlu, eng, noise=args.noise, users=users, name=name,
                            time_plain=name == "all")
            t = time.perf_counter()
            stats = sim.run(args.days_test, T0 + args.days_train * 86400.0,
                            learn_every_days=1 if args.learn_in_test else None, first_day=args.days_train)
            runs[name] = (stats, eng)
            out.setdefault("test", {})[name] = {**stats.summary(), "seconds": round(time.perf_counter() - t, 1)}
            eng.store.close()
    out["metrics"] = metrics(runs)
    out["seconds"] = round(time.perf_counter() - t_start, 1)
    if args.turns:
        out["turns"] = {name: [asdict(t) for t in stats.turns] for name, (stats, _) in runs.items()}
    return out


def signal_quality(stats: hh.SimStats, store: InteractionStore) -> dict[str, Any]:
    """How well the engine's implicit feedback matched the simulator's truth in phase A: was a turn the user
    retried marked `rephrase`, and was a wrong turn marked a defect (any defect signal)."""
    by_qid = {st.turn.query_id: st for st in store.turns()}
    rephrase: dict[str, float] = {"tp": 0, "fn": 0, "fp": 0}  # counts, then recall and precision
    defect: dict[str, float] = {"tp": 0, "fn": 0, "fp": 0}
    for i, t in enumerate(stats.turns):
        st = by_qid.get(t.query_id)
        if st is None:
            continue
        nxt = stats.turns[i + 1] if i + 1 < len(stats.turns) else None
        retried = nxt is not None and nxt.user == t.user and nxt.attempt == t.attempt + 1
        marked = "rephrase" in st.signals
        if retried or marked:
            rephrase["tp" if retried and marked else "fn" if retried else "fp"] += 1
        if not t.correct or st.defect:
            defect["tp" if not t.correct and st.defect else "fn" if not t.correct else "fp"] += 1
    for d in (rephrase, defect):
        d["recall"] = round(d["tp"] / max(1, d["tp"] + d["fn"]), 4)
        d["precision"] = round(d["tp"] / max(1, d["tp"] + d["fp"]), 4)
    return {"rephrase": rephrase, "defect": defect}


def metrics(runs: dict[str, tuple[hh.SimStats, SelfLearning]]) -> dict[str, Any]:
    none, all_, nop = runs["none"][0], runs["all"][0], runs["no_personal"][0]
    before, after = none.defect_rate(), all_.defect_rate()
    wl = all_.win_loss("precomputed")
    false_n, right_n = all_.false_rewrites()
    eng = runs["all"][1]
    rewrite_ms = [float(x) for x in getattr(eng, "rewrite_ms", [])]
    online_ms = [float(x) for x in getattr(eng, "online_ms", [])]
    handle = [t.handle_ms for t in all_.turns]
    plain = [t.plain_ms for t in all_.turns if t.plain_ms is not None]
    return {
        "defect_rate_before": round(before, 4), "defect_rate_after": round(after, 4),
        "defect_reduction": round((before - after) / before, 4) if before else None,
        "first_attempt_defect_before": round(none.defect_rate(first_only=True), 4),
        "first_attempt_defect_after": round(all_.defect_rate(first_only=True), 4),
        "failed_requests_before": round(none.task_failure_rate(), 4),
        "failed_requests_after": round(all_.task_failure_rate(), 4),
        "precomputed": wl,
        "precomputed_win_loss": round(wl["win"] / wl["loss"], 2) if wl["loss"] else None,
        "all_rewrites": all_.win_loss(),
        "defect_rate_no_personal": round(nop.defect_rate(), 4),
        "personal_gain_points": round((nop.defect_rate() - after) * 100, 2),
        "false_rewrites": false_n, "right_without_learning": right_n,
        "false_rewrite_rate": round(false_n / right_n, 5) if right_n else None,
        "rewrite_ms_p50": _pct(rewrite_ms, 0.5), "rewrite_ms_p99": _pct(rewrite_ms, 0.99),
        "online_ms_p50": _pct(online_ms, 0.5), "online_ms_p99": _pct(online_ms, 0.99), "online_n": len(online_ms),
        "handle_ms_p50": _pct(handle, 0.5), "handle_ms_p99": _pct(handle, 0.99),
        "plain_parse_ms_p50": _pct(plain, 0.5), "plain_parse_ms_p99": _pct(plain, 0.99),
        "handle_minus_plain_ms_median": round(statistics.median(h - p for h, p in zip(handle, plain, strict=True)), 3)
        if plain else None,
        "defect_rate_precomputed_only": round(runs["precomputed_only"][0].defect_rate(), 4),
        "precomputed_only": runs["precomputed_only"][0].win_loss("precomputed"),
        "no_learning_mismatches": sum(t.correct != t.base_correct for t in none.turns),
        "rewrites_withheld_from_sure_readings": int(getattr(eng, "sure_kept", 0)),
        "turns": {k: len(v[0].turns) for k, v in runs.items()},
        "rewrites": {k: v[0].rewrites_by_source() for k, v in runs.items()},
    }


def table(out: dict[str, Any]) -> str:
    m = out["metrics"]

    def fmt(v: Any, pct: bool = False) -> str:
        if v is None:
            return "n/a"
        return f"{v * 100:.2f} %" if pct else str(v)

    wl = m["precomputed"]
    ratio = m["precomputed_win_loss"]
    ratio_s = f"{wl['win']}:{wl['loss']}" + (f" ({ratio}:1)" if ratio is not None else " (no loss)")
    rows = [
        ("defect rate, no learning", fmt(m["defect_rate_before"], True), ""),
        ("defect rate, all layers", fmt(m["defect_rate_after"], True), ""),
        ("relative defect reduction", fmt(m["defect_reduction"], True), ">= 35 %"),
        ("first-attempt defects none -> all",
         f"{fmt(m['first_attempt_defect_before'], True)} -> {fmt(m['first_attempt_defect_after'], True)}", ""),
        ("failed requests none -> all",
         f"{fmt(m['failed_requests_before'], True)} -> {fmt(m['failed_requests_after'], True)}", ""),
        ("precomputed win:loss", ratio_s, ">= 15:1"),
        ("precomputed ties right/wrong", f"{wl['tie_right']}/{wl['tie_wrong']}", ""),
        ("defect rate without personal", fmt(m["defect_rate_no_personal"], True), ""),
        ("personal layer gain (points)", fmt(m["personal_gain_points"]), ">= 4"),
        ("defect rate, precomputed only", fmt(m["defect_rate_precomputed_only"], True), ""),
        ("  its precomputed win:loss", "{win}:{loss} (ties {tie_right}/{tie_wrong})".format(**m["precomputed_only"]),
         ""),
        ("false rewrites", f"{m['false_rewrites']}/{m['right_without_learning']} = "
                           f"{fmt(m['false_rewrite_rate'], True)}", "< 0.5 %"),
        ("learned rewrites withheld: sure reading", str(m["rewrites_withheld_from_sure_readings"]), ""),
        ("rewrite step ms p50/p99", f"{fmt(m['rewrite_ms_p50'])}/{fmt(m['rewrite_ms_p99'])}", ""),
        ("online retrieval ms p50/p99 (n)",
         f"{fmt(m['online_ms_p50'])}/{fmt(m['online_ms_p99'])} ({m['online_n']})", ""),
        ("handle() ms p50/p99", f"{fmt(m['handle_ms_p50'])}/{fmt(m['handle_ms_p99'])}", ""),
        ("plain parse ms p50/p99", f"{fmt(m['plain_parse_ms_p50'])}/{fmt(m['plain_parse_ms_p99'])}", ""),
        ("turns " + "/".join(k for k, _ in VARIANTS), "/".join(str(m["turns"][k]) for k, _ in VARIANTS), ""),
        ("rewrites (all)", json.dumps(m["rewrites"]["all"]), ""),
        ("rewrites (no_personal)", json.dumps(m["rewrites"]["no_personal"]), ""),
        ("train turns / requests", f"{out['train']['turns']} / {out['train']['requests']}", ""),
        ("train: rephrase marks recall/precision",
         "{recall}/{precision}".format(**out["signals"]["rephrase"]), ""),
        ("train: defect marks recall/precision", "{recall}/{precision}".format(**out["signals"]["defect"]), ""),
        ("train: rewrites mined (last night)", _mined(out["train"].get("learned")), ""),
    ]
    w = max(len(r[0]) for r in rows)
    v = max(len(r[1]) for r in rows)
    lines = [f"{'metric':<{w}}  {'value':<{v}}  target", "-" * (w + v + 12)]
    lines += [f"{a:<{w}}  {b:<{v}}  {c}".rstrip() for a, b, c in rows]
    return "\n".join(lines)


def _mined(report: dict[str, Any] | None) -> str:
    return "n/a" if not report else f"precomputed {report.get('precomputed')}, personal {report.get('personal')}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--days-train", type=int, default=None, help="phase A days (default 14; quick 4)")
    p.add_argument("--days-test", type=int, default=None, help="phase B days (default 5; quick 2)")
    p.add_argument("--households", type=int, default=None, help="homes (default 4; quick 2)")
    p.add_argument("--users-per-home", default=None, help="N or LO-HI (default 2-4; quick 2)")
    p.add_argument("--goals-per-user", default=None, help="N or LO-HI (default 8-12; quick 4-6)")
    p.add_argument("--requests-per-day", default=None, help="per user, N or LO-HI (default 20-40; quick 12-16)")
    p.add_argument("--noise", type=float, default=0.05, help="ASR noise rate")
    p.add_argument("--rewriter-dir", default=None, help="encoder/rephrase/global index (default: the engine's)")
    p.add_argument("--learn-in-test", action="store_true", help="keep learning nightly during phase B")
    p.add_argument("--turns", action="store_true", help="put every phase-B turn in the JSON")
    p.add_argument("--json", default=None, help="write the report here")
    p.add_argument("--quick", action="store_true", help="a small run for tests")
    args = p.parse_args(argv)
    quick = {"days_train": 4, "days_test": 2, "households": 2, "users_per_home": "2", "goals_per_user": "4-6",
             "requests_per_day": "12-16"}
    full = {"days_train": 14, "days_test": 5, "households": 4, "users_per_home": "2-4", "goals_per_user": "8-12",
            "requests_per_day": "20-40"}
    for k, v in (quick if args.quick else full).items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    limit_blas_threads(1)  # as `edge-nlu serve` does
    out = run(args)
    print(table(out))
    print(f"({out['seconds']} s; online models: {out['online_models']})")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
