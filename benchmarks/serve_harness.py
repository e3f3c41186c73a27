"""Shared by benchmarks/kill9.py and benchmarks/store_faults.py: a real Mosquitto, `edge-nlu serve` as a
child process with a learning store, satellites asking in threads, and read-only looks at the store."""

from __future__ import annotations

import json
import os
import random
import sqlite3
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# the children (`edge-nlu serve`, `edge-nlu learn`) run this checkout, not an installed edge_nlu
os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])

from edge_nlu_tools.broker import LocalBroker  # noqa: E402
from edge_nlu_tools.demo.live import SITES, write_home  # noqa: E402
from edge_nlu_tools.demo.satellite import ServeProcess  # noqa: E402
from edge_nlu_tools.hermes_client import HermesClient  # noqa: E402

QUERIES = [("turn off the kitchen lights", "kitchen-puck"), ("what time is it", "living-room-tv"),
           ("turn on the reading lamp", "living-room-tv"), ("douse the kitchen lights", "kitchen-puck"),
           ("set the bedroom radiator to 20 degrees", "bedroom-puck"), ("play the hobbit", "living-room-tv")]
USERS = ["alex", "sam", "kim"]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def write_config(folder: Path, broker: LocalBroker, store: Path) -> Path:
    config: dict[str, Any] = {
        "broker": {"uri": broker.uri, "client_id": f"edge-nlu-bench-{uuid.uuid4().hex[:6]}", "keepalive_s": 5,
                   "reconnect": {"min_s": 0.2, "max_s": 1}},
        "sites": SITES, "home": str(write_home(folder)), "stats_interval_s": 0,
        "learning": {"store": str(store), "reload_interval_s": 1.0},
    }
    path = folder / "serve.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def wait_ready(sat: HermesClient, svc: ServeProcess, timeout: float = 120.0) -> float:
    """Seconds until the service answers (status online, then a first query); raises on failure."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    while svc.alive() and time.monotonic() < deadline:
        if sat.ask("what time is it", "kitchen-puck", timeout=1.0, hermes_only=True) is not None:
            return time.monotonic() - t0
    raise RuntimeError(f"serve did not answer within {timeout} s: {svc.log_tail()}")


class Traffic:
    """`threads` satellites asking in a loop; every query whose Hermes answer came back is acknowledged.
    With `feedback`, a third of the answered ones get a positive or negative feedback message."""

    def __init__(self, sat: HermesClient, threads: int = 2, feedback: bool = True, pause_s: float = 0.0) -> None:
        self.sat, self.threads, self.feedback, self.pause_s = sat, threads, feedback, pause_s
        self.acked: list[str] = []
        self.sent = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []

    def start(self) -> Traffic:
        self._stop.clear()
        self._workers = [threading.Thread(target=self._run, args=(k,), daemon=True) for k in range(self.threads)]
        for w in self._workers:
            w.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for w in self._workers:
            w.join(15)

    def _run(self, k: int) -> None:
        rng = random.Random(k)
        while not self._stop.is_set():
            text, site = rng.choice(QUERIES)
            with self._lock:
                self.sent += 1
            a = self.sat.ask(text, site, session_id=uuid.uuid4().hex[:8], timeout=3.0, hermes_only=True,
                             user=rng.choice(USERS))
            if a is not None and a.hermes is not None:
                with self._lock:
                    self.acked.append(str(a.hermes.get("id")))
                if self.feedback and rng.random() < 0.33:
                    self.sat.publish("edge-nlu/feedback", {"id": a.hermes.get("id"),
                                                           "signal": rng.choice(["positive", "negative"])}, wait=False)
            if self.pause_s:
                self._stop.wait(self.pause_s)


def stored_query_ids(store: Path) -> set[str]:
    db = sqlite3.connect(str(store), timeout=10)
    try:
        return {r[0] for r in db.execute("SELECT query_id FROM turns WHERE query_id IS NOT NULL")}
    finally:
        db.close()


def integrity(store: Path) -> str:
    """`PRAGMA integrity_check` of the file (a fresh connection also recovers the WAL a kill left)."""
    db = sqlite3.connect(str(store), timeout=10)
    try:
        return "; ".join(str(r[0]) for r in db.execute("PRAGMA integrity_check"))[:300]
    finally:
        db.close()


def turn_count(store: Path) -> int:
    try:
        db = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=2)
    except sqlite3.Error:
        return -1
    try:
        return int(db.execute("SELECT count(*) FROM turns").fetchone()[0])
    except sqlite3.Error:
        return -1
    finally:
        db.close()
