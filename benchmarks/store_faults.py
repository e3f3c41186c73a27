"""Learning-store faults against a running `edge-nlu serve` (issue 10, item 4).

    python benchmarks/store_faults.py [--queries 200] [--quick] [--only NAME ...]

Each fault, and first a sound store as the baseline, gets its own serve (a child process, learning
on, a real Mosquitto on a free port): corrupt file, truncated file, read-only file (chattr +i as
root, chmod otherwise), read-only folder (a tmpfs remounted read-only), full disk (a small tmpfs
filled up), store deleted while running.
Per fault it prints the queries sent and answered while the fault holds, and, where the fault can
be lifted, the seconds from lifting it until learning records turns again (the store retries a
failed write every 30 s), plus how many ERROR lines the store logged and serve's exit code.
Needs root for the tmpfs and chattr faults; they are reported as skipped otherwise.
Prints one JSON report on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from serve_harness import QUERIES, integrity, log, turn_count, wait_ready, write_config

from edge_nlu.learn.store import InteractionStore
from edge_nlu.learn.types import TurnRecord
from edge_nlu_tools.broker import LocalBroker
from edge_nlu_tools.demo.satellite import Satellite, ServeProcess

RECOVER_DEADLINE_S = 120.0


def seeded(path: Path, n: int = 2000) -> None:
    with InteractionStore(path) as s:
        for i in range(n):
            s.record_turn(TurnRecord(ts=time.time() - 3600 + i, site="kitchen-puck", text=f"turn on lamp {i % 10}",
                                     query_id=f"seed-{i}", user="alex", action="HassTurnOn"))


def sh(*cmd: str) -> bool:
    return subprocess.run(list(cmd), capture_output=True).returncode == 0


class Fault:
    """prepare(folder) -> store path, before serve starts; inject() once serve answers; lift() ends it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.folder = Path()
        self.mounted: Path | None = None

    def prepare(self, folder: Path) -> Path:
        self.folder = folder
        return folder / "learn.sqlite3"

    def inject(self, store: Path) -> None:
        pass

    def lift(self, store: Path) -> bool:
        """False when this fault cannot be lifted (the store is replaced instead)."""
        return False

    def cleanup(self) -> None:
        if self.mounted is not None:
            sh("umount", "-l", str(self.mounted))

    def tmpfs(self, size: str) -> Path:
        d = self.folder / "fs"
        d.mkdir()
        if os.geteuid() != 0 or not sh("mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(d)):
            raise PermissionError("mounting a tmpfs needs root")
        self.mounted = d
        return d


class Corrupt(Fault):
    def prepare(self, folder: Path) -> Path:
        store = super().prepare(folder)
        store.write_bytes(b"this is not an SQLite file " * 4000)
        return store


class Truncated(Fault):
    def prepare(self, folder: Path) -> Path:
        store = super().prepare(folder)
        seeded(store)
        os.truncate(store, store.stat().st_size // 2)
        return store


class ReadOnlyFile(Fault):
    def prepare(self, folder: Path) -> Path:
        store = super().prepare(folder)
        seeded(store)
        if os.geteuid() == 0:
            if not sh("chattr", "+i", str(store)):
                raise PermissionError("chattr +i failed (file system without immutable files?)")
        else:
            store.chmod(0o444)
        return store

    def lift(self, store: Path) -> bool:
        if os.geteuid() == 0:
            sh("chattr", "-i", str(store))
        else:
            store.chmod(0o644)
        return True

    def cleanup(self) -> None:
        self.lift(self.folder / "learn.sqlite3")


class ReadOnlyDir(Fault):
    def prepare(self, folder: Path) -> Path:
        super().prepare(folder)
        store = self.tmpfs("16m") / "learn.sqlite3"
        seeded(store)
        if not sh("mount", "-o", "remount,ro", str(self.mounted)):
            raise PermissionError("remounting read-only failed")
        return store

    def lift(self, store: Path) -> bool:
        return sh("mount", "-o", "remount,rw", str(self.mounted))


class FullDisk(Fault):
    def prepare(self, folder: Path) -> Path:
        super().prepare(folder)
        return self.tmpfs("4m") / "learn.sqlite3"

    def inject(self, store: Path) -> None:
        try:
            with (store.parent / "filler").open("wb") as f:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
        except OSError:  # full
            pass

    def lift(self, store: Path) -> bool:
        (store.parent / "filler").unlink()
        return True


class Deleted(Fault):
    def inject(self, store: Path) -> None:
        for p in store.parent.glob(store.name + "*"):
            p.unlink()


FAULTS: dict[str, Callable[[], Fault]] = {
    "none": lambda: Fault("none"),  # the baseline: a sound store, same queries
    "corrupt_file": lambda: Corrupt("corrupt_file"), "truncated_file": lambda: Truncated("truncated_file"),
    "read_only_file": lambda: ReadOnlyFile("read_only_file"), "read_only_dir": lambda: ReadOnlyDir("read_only_dir"),
    "full_disk": lambda: FullDisk("full_disk"), "deleted_while_running": lambda: Deleted("deleted_while_running"),
}


def _until_turns(store: Path, t0: float) -> float:
    while time.monotonic() - t0 < RECOVER_DEADLINE_S:
        if turn_count(store) > 0:
            return time.monotonic() - t0
        time.sleep(0.05)
    return -1.0


ANSWER_TIMEOUT_S = 30.0
"""An answer later than this counts as not answered (the first defect-prone query builds the rewriter's index)."""


def ask(sat: Satellite, i: int, latencies: list[float] | None = None) -> bool:
    text, site = QUERIES[i % len(QUERIES)]
    a = sat.ask(text, site, session_id=f"s{i}", timeout=ANSWER_TIMEOUT_S, hermes_only=True, user="alex")
    if a is not None and latencies is not None and a.hermes_s is not None:
        latencies.append(a.hermes_s)
    return a is not None


def run_fault(fault: Fault, broker: LocalBroker, sat: Satellite, queries: int, tmp: Path) -> dict[str, Any]:
    folder = tmp / fault.name
    folder.mkdir()
    out: dict[str, Any] = {"fault": fault.name}
    try:
        store = fault.prepare(folder)
    except PermissionError as exc:
        fault.cleanup()
        return {**out, "skipped": str(exc)}
    cfg = write_config(folder, broker, store)
    svc = ServeProcess(broker.uri, cfg, folder / "serve.log")
    try:
        svc.start()
        wait_ready(sat, svc)
        fault.inject(store)
        t_inject = time.monotonic()
        back: list[float] = []
        watcher = threading.Thread(target=lambda: back.append(_until_turns(store, t_inject)), daemon=True)
        if isinstance(fault, Deleted):  # how long until turns land in a recreated file
            watcher.start()
        lat: list[float] = []
        answered = sum(ask(sat, i, lat) for i in range(queries))
        out.update(sent=queries, answered=answered, answer_ms_median=round(1e3 * statistics.median(lat), 1),
                   answer_ms_max=round(1e3 * max(lat), 1))
        recorded_during = turn_count(store)
        if fault.lift(store):
            base = turn_count(store)
            t0 = time.monotonic()
            i = sent = ok = 0
            while turn_count(store) <= base and time.monotonic() - t0 < RECOVER_DEADLINE_S:
                i += 1
                sent += 1
                ok += ask(sat, queries + i)
                time.sleep(0.2)
            recovered = turn_count(store) > base
            out.update(sent_while_recovering=sent, answered_while_recovering=ok,
                       learning_recovered_s=round(time.monotonic() - t0, 1) if recovered else None)
        elif isinstance(fault, Deleted):
            watcher.join()
            out["learning_recovered_s"] = round(back[0], 2) if back[0] >= 0 else None
        else:  # a fresh store from the start: learning goes on at once
            out["learning_recovered_s"] = 0.0 if turn_count(store) > 0 else None
        out["turns_recorded_during_fault"] = max(0, recorded_during)
        out["moved_aside"] = sorted(p.name for p in store.parent.glob(store.name + ".corrupt-*")
                                    if not p.name.endswith(("-wal", "-shm")))
        out["serve_alive"] = svc.alive()
    finally:
        out["serve_exit"] = svc.stop()
        out["integrity"] = integrity(store) if store.exists() else "no file"
        fault.cleanup()
    lines = (folder / "serve.log").read_text(errors="replace").splitlines()
    out["store_error_lines"] = sum(1 for ln in lines if " ERROR edge_nlu.learn.store" in ln)
    out["tracebacks"] = sum(1 for ln in lines if ln.startswith("Traceback"))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--queries", type=int, default=200, help="queries per fault while it holds")
    ap.add_argument("--quick", action="store_true", help="20 queries per fault")
    ap.add_argument("--only", nargs="*", choices=sorted(FAULTS), help="only these faults")
    ap.add_argument("--keep", type=Path, help="work in this (new) folder and keep it: stores and serve logs")
    args = ap.parse_args(argv)
    queries = 20 if args.quick else args.queries
    results = []
    if args.keep is not None:
        args.keep.mkdir(parents=True)
    with (tempfile.TemporaryDirectory(prefix="edge-nlu-faults-") if args.keep is None
          else contextlib.nullcontext(str(args.keep))) as tmp, LocalBroker("mosquitto") as broker:
        sat = Satellite(broker.host, broker.port, client_id="faults-satellite")
        sat.connect()
        try:
            for name in args.only or list(FAULTS):
                log(f"{name} ...")
                results.append(run_fault(FAULTS[name](), broker, sat, queries, Path(tmp)))
                log(f"{name}: {results[-1]}")
        finally:
            sat.close()
    print(json.dumps({"queries_per_fault": queries, "faults": results}, indent=1))
    ok = all("skipped" in r or (r["answered"] == r["sent"] and r["serve_exit"] == 0) for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
