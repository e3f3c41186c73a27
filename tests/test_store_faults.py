"""Store faults (issue 10, item 4): a corrupt, truncated, read-only, full or deleted interaction store
never takes the answers down. The store alone first, then a real Mosquitto + `Service`."""

from __future__ import annotations

import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from edge_nlu.learn.store import InteractionStore, StoreError
from edge_nlu.learn.types import TurnRecord
from edge_nlu.pipeline import EdgeNLU
from edge_nlu.service.app import Service
from tests.broker import Mosquitto, Probe, until
from tests.conftest import ROOT
from tests.test_serve import config, home_yaml, listen, nlu, running, wait_ready  # noqa: F401 (fixtures)

DEADLINE = 30.0
STORE_LOG = "edge_nlu.learn.store"


def rec(i: int, text: str = "turn on the lamp") -> TurnRecord:
    return TurnRecord(ts=1000.0 + i, site="kitchen", text=text, query_id=f"q{i}", user="ann", action="HassTurnOn")


def filled(path: Path, n: int = 300) -> None:
    """A real store with `n` turns (a few hundred KiB), closed cleanly."""
    with InteractionStore(path) as s:
        for i in range(n):
            s.record_turn(rec(i, f"turn on the lamp number {i} " + "x" * 300))


def errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == STORE_LOG and r.levelno >= logging.ERROR]


def integrity(path: Path) -> str:
    db = sqlite3.connect(str(path))
    try:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        db.close()


# --- corrupt and truncated files ------------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["garbage", "truncated", "truncated_header"])
def test_damaged_file_is_moved_aside_and_a_fresh_store_works(tmp_path: Path, damage: str,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "store.db"
    if damage == "garbage":
        path.write_bytes(b"this is not a database, just text long enough to look like a file " * 100)
    else:
        filled(path)
        os.truncate(path, path.stat().st_size // 2 if damage == "truncated" else 50)
    original = path.read_bytes()
    with pytest.raises(StoreError) as e:  # the CLI's (strict) store says what is wrong and touches nothing
        InteractionStore(path)
    assert e.value.code == "store_corrupt" and str(path) in e.value.message
    assert path.read_bytes() == original

    caplog.set_level(logging.INFO, STORE_LOG)
    with InteractionStore(path, resilient=True) as s:
        [aside] = list(tmp_path.glob("store.db.corrupt-*[0-9]"))
        assert aside.read_bytes() == original  # kept for inspection
        assert s.health()["state"] == "ok" and s.health()["moved_aside"] == 1
        tid = s.record_turn(rec(1))
        assert tid > 0 and [t.id for t in s.turns()] == [tid]
    [err] = errors(caplog)
    assert str(path) in err.getMessage() and str(aside) in err.getMessage()
    assert integrity(path) == "ok"


def test_cli_learn_on_a_corrupt_store_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    path.write_bytes(b"\x00garbage" * 1000)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for cmd in (["learn"], ["learn", "--list"], ["forget"]):
        out = subprocess.run([sys.executable, "-m", "edge_nlu.cli", *cmd, "--store", str(path)], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 2, out.stderr
        assert "edge-nlu: error [store_corrupt]" in out.stderr and "Traceback" not in out.stderr


# --- read-only ----------------------------------------------------------------------------------------------


@pytest.fixture
def ro_dir(tmp_path: Path) -> Iterator[tuple[Path, Callable[[bool], None]]]:
    """(a folder, set_read_only(flag)): a tmpfs remounted read-only as root (root ignores file modes),
    chmod otherwise."""
    d = tmp_path / "ro"
    d.mkdir()
    if os.geteuid() == 0:
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(d)], capture_output=True).returncode:
            pytest.skip("running as root without permission to mount a tmpfs: cannot make a read-only folder")

        def set_ro(flag: bool) -> None:
            subprocess.run(["mount", "-o", f"remount,{'ro' if flag else 'rw'}", str(d)], check=True)
        try:
            yield d, set_ro
        finally:
            subprocess.run(["umount", "-l", str(d)], check=False)
    else:
        def set_ro(flag: bool) -> None:
            for p in [d, *d.iterdir()]:
                p.chmod((0o555 if p.is_dir() else 0o444) if flag else (0o755 if p.is_dir() else 0o644))
        try:
            yield d, set_ro
        finally:
            set_ro(False)


def test_read_only_store_answers_reads_drops_writes_and_recovers(ro_dir: tuple[Path, Callable[[bool], None]],
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    d, set_ro = ro_dir
    path = d / "store.db"
    filled(path, 50)
    set_ro(True)
    with pytest.raises(StoreError) as e:
        InteractionStore(path)
    assert e.value.code in ("store_readonly", "store_cantopen")
    caplog.set_level(logging.INFO, STORE_LOG)
    with InteractionStore(path, resilient=True, retry_s=0.2) as s:
        assert len(s.turns()) == 50  # what was learned is still read
        assert s.health()["state"] == "degraded"
        for i in range(20):
            assert s.record_turn(rec(100 + i)) == 0  # dropped, not raised
            s.add_signal(0, "positive", 1.0)
        assert len(errors(caplog)) == 1
        set_ro(False)
        tid = until(lambda: s.record_turn(rec(200)), "a write after the folder became writable")
        assert s.health()["state"] == "ok" and s.health()["recoveries"] == 1
        assert s.turn(tid) is not None and len(s.turns()) == 51
    assert integrity(path) == "ok"


@pytest.fixture
def ro_file(tmp_path: Path) -> Iterator[tuple[Path, Callable[[bool], None]]]:
    """(a store file, set_read_only(flag)): `chattr +i` as root (root ignores file modes), chmod otherwise."""
    path = tmp_path / "store.db"
    filled(path, 50)

    def set_ro(flag: bool) -> None:
        if os.geteuid() == 0:
            done = subprocess.run(["chattr", "+i" if flag else "-i", str(path)], capture_output=True).returncode == 0
            if flag and not done:
                pytest.skip("running as root on a file system without immutable files: cannot make a read-only file")
        else:
            path.chmod(0o444 if flag else 0o644)
    try:
        yield path, set_ro
    finally:
        set_ro(False)


def test_read_only_file_answers_reads_drops_writes_and_recovers(ro_file: tuple[Path, Callable[[bool], None]],
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    path, set_ro = ro_file
    set_ro(True)
    caplog.set_level(logging.INFO, STORE_LOG)
    with InteractionStore(path, resilient=True, retry_s=0.2) as s:
        assert len(s.turns()) == 50
        assert s.record_turn(rec(100)) == 0 and s.record_turn(rec(101)) == 0
        assert s.health()["state"] == "degraded" and len(errors(caplog)) == 1
        set_ro(False)
        tid = until(lambda: s.record_turn(rec(200)), "a write after the file became writable")
        assert s.turn(tid) is not None and s.health()["state"] == "ok"
    assert integrity(path) == "ok"


def test_read_only_folder_without_a_store_runs_on_an_empty_stand_in(
        ro_dir: tuple[Path, Callable[[bool], None]]) -> None:
    d, set_ro = ro_dir
    set_ro(True)
    with InteractionStore(d / "new" / "store.db", resilient=True, retry_s=0.2) as s:
        assert s.health()["mode"] == "memory" and s.turns() == [] and s.rewrites() == []
        assert s.record_turn(rec(1)) == 0
        set_ro(False)
        tid = until(lambda: s.record_turn(rec(2)), "a write after the folder became writable")
        assert [t.id for t in s.turns()] == [tid] and s.health()["mode"] == "rw"
    assert (d / "new" / "store.db").exists()


# --- full disk ----------------------------------------------------------------------------------------------


def _fill_up(s: InteractionStore) -> None:
    """SQLITE_FULL for real: the store's own connection may not grow past its current size."""
    pages = s._db.execute("PRAGMA page_count").fetchone()[0]
    s._db.execute(f"PRAGMA max_page_count = {pages}")


def test_full_disk_drops_writes_logs_once_and_recovers_when_space_returns(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "store.db"
    caplog.set_level(logging.INFO, STORE_LOG)
    with InteractionStore(path, resilient=True, retry_s=0.2) as s:
        kept = s.record_turn(rec(0))
        _fill_up(s)
        until(lambda: s.record_turn(rec(1, "x" * 400)) == 0, "the disk to fill up")
        assert s.health()["state"] == "degraded" and s.health()["fault"] == "store_full"
        for i in range(50):
            assert s.record_turn(rec(10 + i, "y" * 400)) == 0
        assert s.turn(kept) is not None  # reads go on
        assert len(errors(caplog)) == 1
        s._db.execute("PRAGMA max_page_count = 1073741823")  # space is back
        tid = until(lambda: s.record_turn(rec(100)), "a write once there is space again")
        assert s.health()["state"] == "ok" and s.health()["dropped_writes"] >= 50
        assert {t.id for t in s.turns()} >= {kept, tid}
    assert integrity(path) == "ok"


def test_full_disk_is_a_coded_error_for_a_strict_store(tmp_path: Path) -> None:
    with InteractionStore(tmp_path / "store.db") as s:
        _fill_up(s)
        with pytest.raises(StoreError) as e:
            for i in range(100):
                s.record_turn(rec(i, "z" * 400))
        assert e.value.code == "store_full"


# --- deleted while running ------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["deleted", "moved"])
def test_store_deleted_while_running_is_recreated(tmp_path: Path, how: str, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "store.db"
    caplog.set_level(logging.INFO, STORE_LOG)
    with InteractionStore(path, resilient=True) as s:
        s.record_turn(rec(0))
        for p in tmp_path.glob("store.db*"):
            if how == "deleted":
                p.unlink()
            else:
                p.rename(tmp_path / "elsewhere" if p == path else tmp_path / (p.name + ".old"))
        # the very next write notices and goes to a new file at the configured path, none to the lost one
        assert s.record_turn(rec(1, "after")) > 0
        assert _texts(path) == {"after"}
        assert s.health()["reopened"] == 1
        assert len(errors(caplog)) == 1
    assert integrity(path) == "ok"


def _texts(path: Path) -> set[str]:
    db = sqlite3.connect(str(path))
    try:
        return {r[0] for r in db.execute("SELECT text FROM turns")}
    except sqlite3.Error:
        return set()
    finally:
        db.close()


def test_a_write_lock_held_past_busy_timeout_drops_one_write_without_degrading(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with InteractionStore(path, resilient=True) as s:
        s.record_turn(rec(0))
        other = sqlite3.connect(str(path), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # e.g. a long `edge-nlu learn` transaction
        try:
            assert s.record_turn(rec(1)) == 0  # after busy_timeout (5 s), dropped
            assert len(s.turns()) == 1  # reads are not blocked (WAL)
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert s.health()["state"] == "ok" and s.health()["busy"] == 1
        assert s.record_turn(rec(2)) > 0


def test_health_of_a_sound_store(tmp_path: Path) -> None:
    with InteractionStore(tmp_path / "s.db", resilient=True) as s:
        s.record_turn(rec(1))
        assert s.health() == {"state": "ok", "mode": "rw", "fault": None, "faults": 0, "dropped_writes": 0,
                              "recoveries": 0, "moved_aside": 0, "reopened": 0, "busy": 0}


# --- end to end: a real Mosquitto and the service ---------------------------------------------------------------


@pytest.fixture
def sat(broker: Mosquitto) -> Iterator[Probe]:
    p = listen(Probe(broker))
    yield p
    p.close()


def _service(broker: Mosquitto, home: Path, store: Path, nlu: EdgeNLU) -> Service:  # noqa: F811
    return running(config(broker, home, learning={"store": str(store), "reload_interval_s": 0.5}), nlu)


def _ask(sat: Probe, text: str) -> dict[str, Any]:
    return sat.query(text, session=uuid.uuid4().hex[:8], user="alex", timeout=15)[2]


def test_service_answers_with_a_corrupt_store_and_after_it_is_deleted(
        broker: Mosquitto, home_yaml: Path, nlu: EdgeNLU, sat: Probe, tmp_path: Path) -> None:  # noqa: F811
    store = tmp_path / "learn.sqlite3"
    store.write_bytes(b"not sqlite at all " * 500)
    svc = _service(broker, home_yaml, store, nlu)
    try:
        assert svc.learning is not None  # learning runs, on a fresh store
        wait_ready(sat)
        assert list(tmp_path.glob("learn.sqlite3.corrupt-*"))
        r = _ask(sat, "turn off the kitchen lights")
        assert (r["action"] or {}).get("intent") == "HassTurnOff"
        assert "turn off the kitchen lights" in _texts(store)
        for p in tmp_path.glob("learn.sqlite3*"):
            if "corrupt" not in p.name:
                p.unlink()
        deadline = time.monotonic() + DEADLINE
        while "what time is it now" not in _texts(store):  # answered all along; recorded again once recreated
            assert time.monotonic() < deadline, "the deleted store was not recreated"
            assert _ask(sat, "what time is it now")["error"] is None
        assert svc.counters()["learning_errors"] == 0 and svc.counters()["store_degraded"] == 0
    finally:
        svc.stop()
    assert integrity(store) == "ok"


def test_service_without_a_usable_store_answers_without_learning(
        broker: Mosquitto, home_yaml: Path, nlu: EdgeNLU, sat: Probe, tmp_path: Path,  # noqa: F811
        caplog: pytest.LogCaptureFixture) -> None:
    store = tmp_path / "learn.sqlite3"
    InteractionStore(store).close()
    db = sqlite3.connect(str(store))
    db.execute("UPDATE meta SET value = 999 WHERE key = 'schema_version'")  # a newer edge-nlu's store: not ours
    db.commit()
    db.close()
    caplog.set_level(logging.INFO, "edge_nlu.service.app")
    svc = _service(broker, home_yaml, store, nlu)
    try:
        assert svc.learning is None
        assert any("self-learning is OFF" in r.getMessage() and "store_version" in r.getMessage()
                   for r in caplog.records)
        wait_ready(sat)
        assert (_ask(sat, "turn off the kitchen lights")["action"] or {}).get("intent") == "HassTurnOff"
    finally:
        svc.stop()


def test_a_learning_failure_falls_back_to_plain_parsing(
        broker: Mosquitto, home_yaml: Path, nlu: EdgeNLU, sat: Probe, tmp_path: Path) -> None:  # noqa: F811
    svc = _service(broker, home_yaml, tmp_path / "learn.sqlite3", nlu)
    try:
        wait_ready(sat)
        svc.learning.store.close()  # every store call now fails
        for _ in range(3):
            assert (_ask(sat, "turn off the kitchen lights")["action"] or {}).get("intent") == "HassTurnOff"
        sat.publish("edge-nlu/feedback", json.dumps({"id": "x", "signal": "positive"}))
        until(lambda: svc.counters()["learning_errors"] >= 4, "the feedback failure to be counted")
        assert _ask(sat, "what time is it")["error"] is None
    finally:
        svc.stop()


def test_serve_killed_mid_traffic_loses_no_acknowledged_turn(broker: Mosquitto, home_yaml: Path,  # noqa: F811
                                                             tmp_path: Path) -> None:
    """benchmarks/kill9.py does this 20 times (and kills `edge-nlu learn`); once here."""
    store = tmp_path / "learn.sqlite3"
    cfg = tmp_path / "serve.json"
    cfg.write_text(json.dumps(config(broker, home_yaml, learning={"store": str(store)})))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with (tmp_path / "serve.log").open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "edge_nlu.cli", "serve", "--config", str(cfg)], cwd=ROOT,
                                env=env, stdout=out, stderr=out)
    p = listen(Probe(broker))
    acked: list[str] = []
    stop = threading.Event()

    def traffic() -> None:
        while not stop.is_set():
            try:
                acked.append(p.query("turn off the kitchen lights", session=uuid.uuid4().hex[:8], timeout=2)[1]["id"])
            except AssertionError:  # not answered (starting, or killed): not acknowledged
                pass

    worker = threading.Thread(target=traffic)
    try:
        wait_ready(p, timeout=DEADLINE)
        worker.start()
        until(lambda: len(acked) >= 20, "20 answered queries")
        proc.send_signal(signal.SIGKILL)  # mid-traffic: queries are in flight
        assert proc.wait(10) == -signal.SIGKILL
    finally:
        stop.set()
        if worker.is_alive():
            worker.join(15)
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        p.close()
    assert integrity(store) == "ok"
    db = sqlite3.connect(str(store))
    stored = {r[0] for r in db.execute("SELECT query_id FROM turns")}
    db.close()
    assert [q for q in acked if q not in stored] == []
