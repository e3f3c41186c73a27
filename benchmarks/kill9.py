"""kill -9 reliability of the learning store (issue 10).

    python benchmarks/kill9.py [--kills 20] [--learn-kills 10] [--seed-turns 40000] [--quick]

(a) `edge-nlu serve` (learning on, a real Mosquitto) is SIGKILLed `--kills` times while two satellites
    ask queries and send feedback, and restarted each time;
(b) then, with serve answering, `edge-nlu learn` is SIGKILLed `--learn-kills` times at a random point of a
    mining run (the store is seeded with `--seed-turns` turns of rephrase chains so a run takes seconds),
    and a last run must complete.
After every kill the store must pass `PRAGMA integrity_check`; at the end every acknowledged query (the
satellite got its Hermes answer, so serve had published it) must have its turn in the store.
Prints one JSON report on stdout (acknowledged, lost, integrity failures, ...); progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from serve_harness import (
    ROOT,
    Traffic,
    integrity,
    log,
    stored_query_ids,
    wait_ready,
    write_config,
)

from edge_nlu.learn.store import InteractionStore
from edge_nlu.learn.types import normalize
from edge_nlu_tools.broker import LocalBroker
from edge_nlu_tools.demo.satellite import Satellite, ServeProcess

VERBS = ["douse", "kill", "shut", "cut", "drop", "darken", "snuff", "stop", "end", "close"]
ROOMS = ["kitchen", "bedroom", "living room", "hall", "office", "garage", "bathroom", "porch", "attic", "den"]


def seed(store: Path, turns: int, rng: random.Random) -> None:
    """Rephrase chains (an odd phrasing, barged in, then the plain one) in one transaction, dated the last
    few days so retention keeps them."""
    InteractionStore(store).close()
    now = time.time()
    rows, sigs = [], []
    for i in range(turns // 2):
        room, user = rng.choice(ROOMS), f"user{rng.randrange(40)}"
        odd = f"{rng.choice(VERBS)} the {room} lights{' please' * rng.randrange(3)}"
        ok = f"turn off the {room} lights"
        ts = now - 5 * 86400 + i * 4 * 86400 / max(1, turns // 2)
        for k, text in enumerate((odd, ok)):
            rows.append((f"seed-{i}-{k}", ts + 3 * k, "kitchen-puck", f"s{i}", user, text, normalize(text),
                         "HassTurnOff" if k else None))
        sigs.append((2 * i + 1, ts + 1, "barge_in"))
        sigs.append((2 * i + 1, ts + 3, "rephrase"))
    db = sqlite3.connect(str(store))
    with db:
        db.executemany("INSERT INTO turns(query_id, ts, site, session, user, text, norm, action) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        first = db.execute("SELECT min(id) FROM turns").fetchone()[0]
        db.executemany("INSERT INTO signals(turn_id, ts, kind) VALUES (?, ?, ?)",
                       [(first - 1 + tid, ts, kind) for tid, ts, kind in sigs])
    db.close()


def learn_cmd(cfg: Path) -> list[str]:
    return [sys.executable, "-m", "edge_nlu.cli", "learn", "--config", str(cfg), "--json"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kills", type=int, default=20, help="SIGKILLs of edge-nlu serve")
    ap.add_argument("--learn-kills", type=int, default=10, help="SIGKILLs of edge-nlu learn")
    ap.add_argument("--seed-turns", type=int, default=40_000, help="turns seeded so that mining takes a while")
    ap.add_argument("--quick", action="store_true", help="3 serve kills, 3 learn kills, 10k seeded turns")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.quick:
        args.kills, args.learn_kills, args.seed_turns = 3, 3, 10_000
    rng = random.Random(args.seed)
    report: dict[str, Any] = {"kills": args.kills, "learn_kills": args.learn_kills, "seed_turns": args.seed_turns}
    with tempfile.TemporaryDirectory(prefix="edge-nlu-kill9-") as tmp, LocalBroker("mosquitto") as broker:
        folder = Path(tmp)
        store = folder / "learn.sqlite3"
        seed(store, args.seed_turns, rng)
        cfg = write_config(folder, broker, store)
        sat = Satellite(broker.host, broker.port, client_id="kill9-satellite")
        sat.connect()
        traffic = Traffic(sat, threads=2)
        bad: list[str] = []
        serve_runs: list[dict[str, Any]] = []
        try:
            for k in range(args.kills):
                svc = ServeProcess(broker.uri, cfg, folder / "serve.log")
                svc.start()
                ready_s = wait_ready(sat, svc)
                before = len(traffic.acked)
                traffic.start()
                time.sleep(rng.uniform(0.5, 3.0))  # mid-traffic
                assert svc.proc is not None
                os.kill(svc.proc.pid, signal.SIGKILL)
                svc.proc.wait()
                svc.proc = None
                traffic.stop()
                check = integrity(store)
                if check != "ok":
                    bad.append(f"serve kill {k + 1}: {check}")
                serve_runs.append({"ready_s": round(ready_s, 2), "acked": len(traffic.acked) - before,
                                   "integrity": check})
                log(f"serve kill {k + 1}/{args.kills}: {serve_runs[-1]}")

            svc = ServeProcess(broker.uri, cfg, folder / "serve.log")
            svc.start()
            wait_ready(sat, svc)
            traffic.start()
            timed = []
            for _ in range(2):  # the first run writes every rewrite anew; later runs are faster: time both
                t0 = time.monotonic()
                full = subprocess.run(learn_cmd(cfg), capture_output=True, text=True, cwd=ROOT, timeout=600)
                if full.returncode != 0:
                    raise RuntimeError(f"edge-nlu learn failed: {full.stderr[-2000:]}")
                timed.append((time.monotonic() - t0, json.loads(full.stdout)))
            learn_s, learned = min(timed, key=lambda t: t[0])
            mining_s = min(learn_s, float(learned["seconds"]))
            report["learn_run_s"], report["learn_mining_s"] = round(learn_s, 2), round(mining_s, 2)
            report["learn_report"] = learned
            learn_kills: list[dict[str, Any]] = []
            for j in range(args.learn_kills):
                proc = subprocess.Popen(learn_cmd(cfg), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
                time.sleep(learn_s - mining_s * rng.uniform(0.1, 0.95))  # within the mining (after start-up)
                mid_run = proc.poll() is None
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                if proc.stderr is not None:
                    proc.stderr.close()
                check = integrity(store)
                if check != "ok":
                    bad.append(f"learn kill {j + 1}: {check}")
                learn_kills.append({"killed_mid_run": mid_run, "integrity": check})
                log(f"learn kill {j + 1}/{args.learn_kills}: {learn_kills[-1]}")
            last = subprocess.run(learn_cmd(cfg), capture_output=True, text=True, cwd=ROOT, timeout=600)
            traffic.stop()
            svc.stop()
        finally:
            traffic.stop()
            sat.close()
        stored = stored_query_ids(store)
        lost = [q for q in traffic.acked if q not in stored]
        report.update({
            "serve_runs": serve_runs, "learn_kill_runs": learn_kills,
            "learn_killed_mid_run": sum(k["killed_mid_run"] for k in learn_kills),
            "learn_after_kills_exit": last.returncode,
            "queries_sent": traffic.sent, "acknowledged": len(traffic.acked), "acknowledged_lost": len(lost),
            "lost_ids": lost[:20], "integrity_failures": bad, "final_integrity": integrity(store),
        })
    print(json.dumps(report, indent=1))
    ok = not lost and not bad and report["learn_after_kills_exit"] == 0 and report["final_integrity"] == "ok"
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
