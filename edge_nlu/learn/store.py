"""The interaction store: one SQLite file (WAL) holding turns, signals, rewrites, preferences and meta.

Everything the hub learns lives here so the user can inspect it with `sqlite3`, list it and erase it.
One instance is shared by the service's threads (a lock serialises access to the single connection);
other processes (the CLI, `edge-nlu learn`) open their own instance and SQLite's locking plus
`busy_timeout` keeps them apart. Every public method is one transaction, committed before it returns,
so a committed turn survives the process being killed.

A store opened with `resilient=True` (the service) never takes the NLU down: a corrupt file is moved
aside (`<name>.corrupt-<time>`) and a fresh one created; a read-only or unopenable file is read
(or replaced by an empty in-memory store) with learning off; a failed write (disk full, I/O error,
read-only) drops that write and the following ones, retrying every `retry_s`; a store file deleted or
replaced while running is noticed before the next write (reads: within `CHECK_S`) and reopened.
Each is logged once; `health()` counts them. What is stored is capped (`TEXT_CAP`, `ID_CAP`,
`MAX_TARGETS`): a hub records what was said, not megabytes of whatever a client sent.
"""

from __future__ import annotations

import enum
import functools
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import pairwise
from pathlib import Path
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

from edge_nlu.domain.result import TARGETLESS_INTENTS
from edge_nlu.errors import ConfigError, EdgeNLUError, ErrorCode
from edge_nlu.learn.types import (
    DEFECT_SIGNALS,
    REWRITE_SOURCES,
    SIGNALS,
    LearnedRewrite,
    Preference,
    StoredTurn,
    TurnRecord,
)

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
"""Bump (and migrate) when the schema changes, e.g. when SIGNALS grows (the CHECK lists the kinds).
2: turns keep the request's area and the slots that carry its meaning (added to a version-1 store on open)."""
_MIGRATIONS = (
    ("area", "ALTER TABLE turns ADD COLUMN area TEXT"),
    ("slots", "ALTER TABLE turns ADD COLUMN slots TEXT"),
)
"""Columns a version-1 store lacks, and how to add them."""
_SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")
TEXT_CAP = 500
"""Characters kept of a turn's text, normalised text, rewrite and a signal's detail (longer: truncated)."""
ID_CAP = 200
"""Characters kept of query ids, sites, sessions, users, intents, error codes and entity ids."""
MAX_TARGETS = 64
"""Target entity ids kept per turn."""
RETRY_S = 30.0
"""A degraded store (disk full, read-only, I/O errors) tries writing again this often (host monotonic clock)."""
CHECK_S = 1.0
"""How often a read checks that the file is still the one opened (deleted or replaced while running); every
write checks (a stat, microseconds), so no turn goes to a deleted file unnoticed."""
_FAULTS = frozenset({"store_corrupt", "store_full", "store_io", "store_readonly", "store_cantopen"})
"""Codes of store faults a resilient store survives (busy, version and bad-input errors are not faults)."""
_SQLITE_CODES = {11: ErrorCode.STORE_CORRUPT, 26: ErrorCode.STORE_CORRUPT, 13: ErrorCode.STORE_FULL,
                 10: ErrorCode.STORE_IO, 8: ErrorCode.STORE_READONLY, 14: ErrorCode.STORE_CANTOPEN,
                 5: ErrorCode.STORE_BUSY, 6: ErrorCode.STORE_BUSY}
_DEFECTS = json.dumps(sorted(DEFECT_SIGNALS))
_TARGETLESS = json.dumps(sorted(TARGETLESS_INTENTS))
"""Bound as :defects and read with json_each, so queries stay constant strings in sync with types.py."""
_KINDS_SQL = ", ".join("'" + k.replace("'", "''") + "'" for k in SIGNALS)
# Queries are constant strings: a None parameter disables its condition (:user IS NULL OR ...). That costs
# an index for those filters, which is fine at the <= 200k-row cap of a hub and keeps SQL out of f-strings.
_INSERT_TURN = (
    "INSERT INTO turns(query_id, ts, site, session, user, text, norm, rewrite_text, rewrite_source, context_digest, "
    "intent, action, targets, confidence, recognized, error_code, area, slots) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SELECT_TURNS = (
    "SELECT t.* FROM turns t WHERE (:user IS NULL OR t.user = :user) AND (:since IS NULL OR t.ts >= :since) "
    "AND (:until IS NULL OR t.ts < :until) ORDER BY t.site, t.session, t.ts, t.id"
)
_SELECT_SIGNALS = (
    "SELECT s.turn_id, s.kind FROM signals s JOIN turns t ON t.id = s.turn_id WHERE (:user IS NULL OR t.user = :user) "
    "AND (:since IS NULL OR t.ts >= :since) AND (:until IS NULL OR t.ts < :until) ORDER BY s.turn_id, s.ts, s.id"
)
_DEFECT_RATE = (
    "SELECT count(*), total(EXISTS (SELECT 1 FROM signals s WHERE s.turn_id = t.id "
    "AND s.kind IN (SELECT value FROM json_each(:defects)))) FROM turns t WHERE (:user IS NULL OR t.user = :user) "
    "AND (:since IS NULL OR t.ts >= :since) AND (:until IS NULL OR t.ts < :until)"
)
_SUCCESSFUL = (  # per phrasing the model read: successes, last success, successes / uses
    "SELECT said, sum(ok), max(CASE WHEN ok THEN ts END), CAST(sum(ok) AS REAL) / count(*) FROM ("
    "SELECT coalesce(t.rewrite_text, t.text) AS said, t.ts AS ts, "
    "(t.recognized = 1 AND t.action IS NOT NULL AND (t.targets != '[]' OR t.action IN "
    "(SELECT value FROM json_each(:targetless))) AND NOT EXISTS "
    "(SELECT 1 FROM signals s WHERE s.turn_id = t.id AND s.kind IN (SELECT value FROM json_each(:defects)))) AS ok "
    "FROM turns t WHERE (:user IS NULL OR t.user = :user)) "
    "GROUP BY said HAVING sum(ok) > 0 ORDER BY sum(ok) DESC, max(CASE WHEN ok THEN ts END) DESC, said LIMIT :limit"
)
_FORGET = (  # (:user, :before): signals, then turns, of that user and/or before; (None, None) matches all
    "DELETE FROM signals WHERE turn_id IN (SELECT id FROM turns WHERE (:user IS NULL OR user = :user) "
    "AND (:before IS NULL OR ts < :before))",
    "DELETE FROM turns WHERE (:user IS NULL OR user = :user) AND (:before IS NULL OR ts < :before)",
    "DELETE FROM rewrites WHERE (:user IS NULL OR user = :user) AND (:before IS NULL OR created < :before)",
    "DELETE FROM preferences WHERE (:user IS NULL OR user = :user) AND (:before IS NULL OR ts < :before)",
)

_CLOCK = "clock:"
"""meta keys `clock:` (the latest turn) and `clock:<site>` (that site's latest): request time minus host time
at its arrival, so a replay, a satellite with its own clock or a hub whose clock was wrong is timed on its
requests' clock, advanced by the host time elapsed since (see `clock`)."""
_SET_CLOCK = "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value"
_PRUNE = (  # per site on its own request clock (`clock`), so one site's clock never erases another's turns;
    # a site with no turn recorded since clocks were kept: the host's
    "DELETE FROM turns WHERE ts < :host + coalesce((SELECT value FROM meta WHERE key = :clock || turns.site), 0) "
    "- :keep"
)

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS turns (id INTEGER PRIMARY KEY, query_id TEXT, ts REAL NOT NULL, site TEXT NOT NULL, "
    "session TEXT, user TEXT, text TEXT NOT NULL, norm TEXT NOT NULL, rewrite_text TEXT, rewrite_source TEXT, "
    "context_digest TEXT NOT NULL DEFAULT '', intent TEXT, action TEXT, targets TEXT NOT NULL DEFAULT '[]', "
    "confidence REAL NOT NULL DEFAULT 0, recognized INTEGER NOT NULL DEFAULT 1, error_code TEXT, area TEXT, "
    "slots TEXT)",
    "CREATE INDEX IF NOT EXISTS turns_query ON turns(query_id)",
    "CREATE INDEX IF NOT EXISTS turns_session ON turns(site, session, ts)",
    "CREATE INDEX IF NOT EXISTS turns_user ON turns(user, ts)",
    "CREATE INDEX IF NOT EXISTS turns_norm ON turns(norm)",
    "CREATE INDEX IF NOT EXISTS turns_ts ON turns(ts)",  # retention, forget(before=), the max_turns cap
    "CREATE TABLE IF NOT EXISTS signals (id INTEGER PRIMARY KEY, "
    "turn_id INTEGER NOT NULL REFERENCES turns(id) ON DELETE CASCADE, ts REAL NOT NULL, "
    f"kind TEXT NOT NULL CHECK (kind IN ({_KINDS_SQL})), detail TEXT)",
    "CREATE INDEX IF NOT EXISTS signals_turn ON signals(turn_id)",  # cascades and signal lookups
    "CREATE TABLE IF NOT EXISTS rewrites (id INTEGER PRIMARY KEY, src TEXT NOT NULL, dst TEXT NOT NULL, "
    "source TEXT NOT NULL, user TEXT, score REAL NOT NULL, support INTEGER NOT NULL, meta TEXT NOT NULL DEFAULT '{}', "
    "created REAL NOT NULL)",
    "CREATE UNIQUE INDEX IF NOT EXISTS rewrites_key ON rewrites(src, ifnull(user, ''), source)",
    "CREATE TABLE IF NOT EXISTS preferences (user TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL, "
    "value TEXT NOT NULL, ts REAL NOT NULL, UNIQUE (user, kind, key))",
    "INSERT OR IGNORE INTO meta(key, value) VALUES ('rewrites_version', 0)",
    # the audit log of learning (`edge-nlu learn --list`): who taught or caused what, when (request time)
    "CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY, ts REAL NOT NULL, event TEXT NOT NULL, "
    "kind TEXT NOT NULL, src TEXT, dst TEXT, users TEXT NOT NULL DEFAULT '[]', sites TEXT NOT NULL DEFAULT '[]', "
    "reason TEXT)",
    "CREATE INDEX IF NOT EXISTS audit_ts ON audit(ts)",
)
_UPSERT_REWRITE = (
    "INSERT INTO rewrites(src, dst, source, user, score, support, meta, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT(src, ifnull(user, ''), source) DO UPDATE SET dst = excluded.dst, score = excluded.score, "
    "support = excluded.support, meta = excluded.meta, created = excluded.created"
)


class StoreError(EdgeNLUError):
    """The interaction store cannot be opened or refused an operation (see `code`)."""

    code = ErrorCode.STORE_ERROR


class StoreUnavailable(StoreError):
    """A resilient store is degraded (or just hit a fault): the operation was not done; the service carries on."""

    code = ErrorCode.STORE_UNAVAILABLE


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _droppable(default: Any) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """A write a resilient store may drop while degraded: it then returns `default` instead of raising."""
    def deco(fn: Callable[_P, _R]) -> Callable[_P, _R]:
        @functools.wraps(fn)
        def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            try:
                return fn(*args, **kwargs)
            except StoreUnavailable:
                return default  # type: ignore[no-any-return]
        return wrapper
    return deco


def _cap(value: str | None, n: int = ID_CAP) -> str | None:
    return value if value is None or len(value) <= n else value[:n]


class _AnyUser(enum.Enum):
    ANY = "any"


ANY_USER = _AnyUser.ANY
"""Default of `InteractionStore.rewrites(user=...)`: rewrites of every user and hub-wide ones."""


@contextmanager
def _sqlite_errors(path: str) -> Iterator[None]:
    """sqlite3 errors leave the store as StoreError, coded by kind: store_corrupt (damaged or foreign file),
    store_full, store_io, store_readonly, store_cantopen, store_busy, else store_error."""
    try:
        yield
    except sqlite3.Error as e:
        msg = str(e)
        code = _SQLITE_CODES.get(getattr(e, "sqlite_errorcode", -1) & 0xFF, ErrorCode.STORE_ERROR)
        if code == ErrorCode.STORE_CORRUPT or "not a database" in msg or "malformed" in msg:
            raise StoreError(f"{path} is not a usable edge-nlu interaction store (SQLite: {msg})",
                             ErrorCode.STORE_CORRUPT) from e
        raise StoreError(f"interaction store {path}: {msg}", code) from e


def _turn(row: sqlite3.Row, signals: tuple[str, ...] = ()) -> StoredTurn:
    rec = TurnRecord(
        ts=row["ts"], site=row["site"], text=row["text"], query_id=row["query_id"], session=row["session"],
        user=row["user"], norm=row["norm"], rewrite_text=row["rewrite_text"], rewrite_source=row["rewrite_source"],
        context_digest=row["context_digest"], intent=row["intent"], action=row["action"],
        targets=tuple(json.loads(row["targets"])), confidence=row["confidence"], recognized=bool(row["recognized"]),
        error_code=row["error_code"], area=row["area"] if "area" in row.keys() else None,
        slots=json.loads(row["slots"]) if "slots" in row.keys() and row["slots"] is not None else None,
    )
    return StoredTurn(id=row["id"], turn=rec, signals=signals)


def _rewrite(row: sqlite3.Row) -> LearnedRewrite:
    return LearnedRewrite(src=row["src"], dst=row["dst"], source=row["source"], user=row["user"],
                          score=row["score"], support=row["support"], meta=json.loads(row["meta"]))


class InteractionStore:
    """SQLite interaction store; safe to share between threads, one transaction per method."""

    def __init__(self, path: Path | str, *, retention_days: float = 90.0, max_turns: int = 200_000,
                 synchronous: str = "NORMAL", resilient: bool = False, retry_s: float = RETRY_S) -> None:
        """`resilient`: survive store faults instead of raising them (module docstring); the service's mode.
        The CLI keeps the default, so `edge-nlu learn` reports a broken store rather than replacing it."""
        if synchronous.upper() not in _SYNCHRONOUS:
            raise ConfigError(f"synchronous must be one of {', '.join(_SYNCHRONOUS)}, not {synchronous!r}")
        if retention_days <= 0 or max_turns < 1:
            raise ConfigError("retention_days must be > 0 and max_turns >= 1")
        if retry_s <= 0:
            raise ConfigError("retry_s must be > 0")
        self.path = str(path)
        self.retention_days = float(retention_days)
        self.max_turns = int(max_turns)
        self.resilient = bool(resilient)
        self.retry_s = float(retry_s)
        # Counting 200k rows on every insert is wasteful; checking every max_turns/100 inserts
        # bounds the overshoot at 1 % while keeping small caps (tests) exact.
        self._cap_every = max(1, min(1000, self.max_turns // 100))
        self._until_cap_check = 0
        self._lock = threading.Lock()
        self._synchronous = synchronous.upper()
        self._db: sqlite3.Connection
        self._mode = "rw"
        """rw (the file, writable), ro / immutable (the file, read-only), memory (an empty stand-in)."""
        self._identity: tuple[int, int] | None = None
        self._fault: StoreError | None = None
        """Set while degraded: writes are dropped until a retry succeeds."""
        self._retry_at = 0.0
        self._next_check = 0.0
        self._closed = False
        self._health = {"faults": 0, "dropped_writes": 0, "recoveries": 0, "moved_aside": 0, "reopened": 0,
                        "busy": 0}
        self._connect()

    def _connect(self) -> None:
        """Open the file read-write. Resilient: set a corrupt file aside for a fresh one; when even that fails,
        read the file read-only, else stand in an empty in-memory store, and go degraded (learning off)."""
        try:
            self._open_file("rw")
            return
        except StoreError as e:
            if not self.resilient or e.code not in _FAULTS:
                raise
            fault = e
        if fault.code == ErrorCode.STORE_CORRUPT and self._move_aside(fault):
            try:
                self._open_file("rw")
                return
            except StoreError as e:
                if e.code not in _FAULTS:
                    raise
                fault = e
        for mode in ("ro", "immutable", "memory"):  # immutable: a WAL file on read-only media without its -shm
            try:
                self._open_file(mode)
                break
            except StoreError:
                continue
        self._degrade(fault)

    def _open_file(self, mode: str) -> None:
        if mode == "memory" or self.path == ":memory:":
            target, uri = ":memory:", False
        elif mode == "rw":
            target, uri = self.path, False
            try:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StoreError(f"cannot create the folder of interaction store {self.path}: {e}",
                                 ErrorCode.STORE_CANTOPEN) from e
        else:
            target, uri = Path(self.path).resolve().as_uri() + ("?mode=ro" if mode == "ro" else "?immutable=1"), True
        try:
            db = sqlite3.connect(target, timeout=5.0, isolation_level=None, check_same_thread=False, uri=uri)
        except sqlite3.Error as e:
            raise StoreError(f"cannot open interaction store {self.path}: {e}", ErrorCode.STORE_CANTOPEN) from e
        db.row_factory = sqlite3.Row
        try:
            self._open(db, "memory" if target == ":memory:" else mode)
        except BaseException:
            db.close()
            raise
        self._db, self._mode = db, "memory" if target == ":memory:" and self.path != ":memory:" else mode
        self._identity = self._stat() if self._mode == "rw" else None

    def _open(self, db: sqlite3.Connection, mode: str) -> None:
        """Pragmas, a quick integrity check, then create or check the schema (read-only: only check it).

        secure_delete zeroes deleted rows, so pruned and forgotten text is really gone from the file.
        """
        with _sqlite_errors(self.path):
            db.execute("PRAGMA busy_timeout = 5000")
            if mode == "rw":
                db.execute("PRAGMA journal_mode = WAL")
            db.execute(f"PRAGMA synchronous = {self._synchronous}")  # validated against _SYNCHRONOUS
            db.execute("PRAGMA foreign_keys = ON")
            db.execute("PRAGMA secure_delete = ON")
            if mode != "memory":  # a truncated file opens fine and fails later: find out now
                problems = [str(r[0]) for r in db.execute("PRAGMA quick_check(3)")]
                if problems != ["ok"]:
                    raise StoreError(f"{self.path} is not a usable edge-nlu interaction store (integrity check: "
                                     f"{'; '.join(problems)[:300]})", ErrorCode.STORE_CORRUPT)
            db.execute("BEGIN IMMEDIATE" if mode in ("rw", "memory") else "BEGIN")
            try:
                has_meta = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
                row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() if has_meta else None
                if row is not None and int(row[0]) > SCHEMA_VERSION:
                    raise StoreError(f"{self.path} has schema version {row[0]}, newer than this edge-nlu supports "
                                     f"({SCHEMA_VERSION}); upgrade edge-nlu", ErrorCode.STORE_VERSION)
                if mode in ("rw", "memory"):
                    for stmt in _SCHEMA:
                        db.execute(stmt)
                    have = {str(r[1]) for r in db.execute("PRAGMA table_info(turns)")}
                    for column, stmt in _MIGRATIONS:
                        if column not in have:
                            db.execute(stmt)
                    db.execute("INSERT INTO meta(key, value) VALUES ('schema_version', ?) ON CONFLICT(key) "
                               "DO UPDATE SET value = excluded.value", (SCHEMA_VERSION,))
                elif row is None:
                    raise StoreError(f"{self.path} is read-only and has no edge-nlu schema", ErrorCode.STORE_READONLY)
                db.execute("COMMIT")
            finally:
                if db.in_transaction:
                    db.execute("ROLLBACK")

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_dev, st.st_ino

    def _move_aside(self, fault: StoreError) -> bool:
        """Rename a corrupt store (and its -wal/-shm) to `<name>.corrupt-<time>`, kept for inspection."""
        aside = f"{self.path}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}"
        n = 1
        while os.path.exists(aside):
            aside, n = f"{self.path}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}-{n}", n + 1
        try:
            os.replace(self.path, aside)
        except OSError as e:
            log.error("interaction store %s is unusable (%s) and cannot be moved aside: %s", self.path,
                      fault.message, e)
            return False
        for suffix in ("-wal", "-shm"):
            try:
                os.replace(self.path + suffix, aside + suffix)
            except OSError:
                pass
        self._health["faults"] += 1
        self._health["moved_aside"] += 1
        log.error("interaction store %s is unusable (%s): moved it aside to %s and started a fresh one",
                  self.path, fault.message, aside)
        return True

    def _degrade(self, fault: StoreError) -> None:
        self._health["faults"] += 1
        self._retry_at = time.monotonic() + self.retry_s
        if self._fault is None:
            how = {"rw": "kept open", "ro": "read read-only", "immutable": "read read-only",
                   "memory": "replaced by an empty in-memory stand-in"}[self._mode]
            log.error("%s [%s]; queries are still answered (the store is %s), learning is off (writes dropped) "
                      "until a write works again, retried every %.0f s", fault.message, fault.code, how, self.retry_s)
        self._fault = fault

    def _reconnect(self) -> None:
        try:
            self._db.close()
        except sqlite3.Error:
            pass
        try:
            self._connect()
        except StoreError as e:  # e.g. the file was replaced by one of a newer schema
            self._open_file("memory")
            self._degrade(e)

    def _maintain(self, write: bool) -> None:
        """Before each transaction (lock held): reopen a file deleted or replaced while running; while degraded,
        drop writes, and retry one every `retry_s`."""
        if not self.resilient or self._closed:
            return
        now = time.monotonic()
        if self._mode == "rw" and self.path != ":memory:" and (write or now >= self._next_check):
            self._next_check = now + CHECK_S
            if self._stat() != self._identity:  # SQLite would go on writing to the deleted file
                self._health["reopened"] += 1
                log.error("interaction store %s was deleted or replaced while running: reopening it (learned data "
                          "that was only in the old file is gone)", self.path)
                self._reconnect()
        if self._fault is None or not write:
            return
        if now >= self._retry_at:
            self._retry_at = now + self.retry_s
            if self._mode != "rw" or self._fault.code not in (ErrorCode.STORE_FULL, ErrorCode.STORE_IO):
                self._reconnect()
            if self._mode == "rw":
                return  # try this write; success ends the degraded state
        self._health["dropped_writes"] += 1
        raise StoreUnavailable(f"interaction store {self.path} is degraded ({self._fault.code}); write dropped")

    def _recovered(self) -> None:
        dropped = self._health["dropped_writes"]
        self._fault = None
        self._health["recoveries"] += 1
        log.warning("interaction store %s works again; learning is back on (%d writes dropped so far)",
                    self.path, dropped)

    def health(self) -> dict[str, Any]:
        """State for the service's stats: ok or degraded (why), the mode, and fault counters since start."""
        fault = self._fault
        return {"state": "ok" if fault is None else "degraded", "mode": self._mode,
                "fault": None if fault is None else fault.code, **self._health}

    @contextmanager
    def _tx(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        """Lock, BEGIN (IMMEDIATE for writes, so the write lock is taken up front and busy_timeout applies),
        COMMIT or ROLLBACK; SQLite errors become StoreError. Resilient: a fault degrades the store (or sets a
        corrupt file aside) and the operation fails with StoreUnavailable, which droppable writes swallow."""
        with self._lock:
            self._maintain(write)
            try:
                with _sqlite_errors(self.path):
                    self._db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                    try:
                        yield self._db
                        self._db.execute("COMMIT")
                    finally:
                        if self._db.in_transaction:  # the body raised, or COMMIT failed
                            self._db.execute("ROLLBACK")
            except StoreError as e:
                if not self.resilient or self._closed or (e.code not in _FAULTS and not
                                                          (write and e.code == "store_busy")):
                    raise
                self._on_fault(e, write)
                raise StoreUnavailable(f"{e.message} (not done: the store is degraded)") from e
            if write and self._fault is not None:
                self._recovered()

    def _on_fault(self, e: StoreError, write: bool) -> None:
        if write:
            self._health["dropped_writes"] += 1
        if e.code == "store_busy":  # another process held the lock past busy_timeout: drop this write only
            self._health["busy"] += 1
            if self._health["busy"] == 1:
                log.warning("%s; dropped that write (further ones are counted in health()['busy'])", e.message)
            return
        if e.code == ErrorCode.STORE_CORRUPT and self._mode == "rw":
            try:
                self._db.close()
            except sqlite3.Error:
                pass
            if self._move_aside(e):
                self._reconnect()
                return
            self._open_file("memory")
        self._degrade(e)

    @staticmethod
    def _bump(db: sqlite3.Connection) -> None:
        db.execute("UPDATE meta SET value = value + 1 WHERE key = 'rewrites_version'")

    # --- turns and signals -------------------------------------------------------------------------------

    @_droppable(0)
    def record_turn(self, t: TurnRecord) -> int:
        """Append one turn, capped (TEXT_CAP, ID_CAP, MAX_TARGETS); returns its row id (what `add_signal`
        takes), or 0 when a degraded resilient store dropped it."""
        values = (_cap(t.query_id), t.ts, _cap(t.site), _cap(t.session), _cap(t.user), _cap(t.text, TEXT_CAP),
                  _cap(t.norm, TEXT_CAP), _cap(t.rewrite_text, TEXT_CAP), _cap(t.rewrite_source),
                  _cap(t.context_digest), _cap(t.intent), _cap(t.action),
                  json.dumps([_cap(x) for x in t.targets[:MAX_TARGETS]]), t.confidence, int(t.recognized),
                  _cap(t.error_code), _cap(t.area),
                  None if t.slots is None
                  else json.dumps({_cap(str(k)): _cap(str(v)) for k, v in list(t.slots.items())[:16]}))
        offset = t.ts - time.time()  # the request clock against the host's at arrival (see `clock`)
        with self._tx(write=True) as db:
            cur = db.execute(_INSERT_TURN, values)
            row_id = int(cur.lastrowid or 0)
            db.executemany(_SET_CLOCK, ((_CLOCK, offset), (_CLOCK + (_cap(t.site) or ""), offset)))
            self._until_cap_check -= 1
            if self._until_cap_check <= 0:
                self._until_cap_check = self._cap_every
                excess = db.execute("SELECT count(*) FROM turns").fetchone()[0] - self.max_turns
                if excess > 0:
                    db.execute("DELETE FROM turns WHERE id IN (SELECT id FROM turns ORDER BY ts, id LIMIT ?)",
                               (excess,))
        return row_id

    @_droppable(None)
    def add_signal(self, turn_id: int, kind: str, ts: float, detail: str | None = None) -> None:
        """Attach feedback (see SIGNALS) to a recorded turn (a resilient store ignores turn 0, a dropped turn)."""
        if kind not in SIGNALS:
            raise StoreError(f"unknown signal kind {kind!r} (expected one of {', '.join(SIGNALS)})",
                    ErrorCode.INVALID_SIGNAL)
        if turn_id == 0 and self.resilient:
            return
        detail = _cap(detail, TEXT_CAP)
        with self._tx(write=True) as db:
            if db.execute("SELECT 1 FROM turns WHERE id = ?", (turn_id,)).fetchone() is None:
                raise StoreError(f"no turn with id {turn_id} (never recorded, pruned or forgotten)",
                        ErrorCode.UNKNOWN_TURN)
            db.execute("INSERT INTO signals(turn_id, ts, kind, detail) VALUES (?, ?, ?, ?)",
                       (turn_id, ts, kind, detail))

    def turn_id_for_query(self, query_id: str) -> int | None:
        """Row id of the latest turn with that Hermes query id, so feedback can find its turn."""
        with self._tx() as db:
            row = db.execute("SELECT id FROM turns WHERE query_id = ? ORDER BY ts DESC, id DESC LIMIT 1",
                             (_cap(query_id),)).fetchone()
        return None if row is None else int(row[0])

    def turn(self, turn_id: int) -> StoredTurn | None:
        """One turn by row id, with its signals (feedback refers to a single turn)."""
        with self._tx() as db:
            row = db.execute("SELECT * FROM turns WHERE id = ?", (turn_id,)).fetchone()
            if row is None:
                return None
            kinds = tuple(r[0] for r in db.execute("SELECT kind FROM signals WHERE turn_id = ? ORDER BY ts, id",
                                                   (turn_id,)))
        return _turn(row, kinds)

    def last_turn(self, site: str, session: str | None, before_ts: float | None = None, *,
                  any_session: bool = False) -> StoredTurn | None:
        """Latest turn of site+session (None matches turns without a session), strictly before `before_ts`.

        `any_session`: the latest turn at the site whatever its session: a retry after a barge-in
        usually comes in a new Hermes session."""
        if any_session:
            sql = "SELECT * FROM turns WHERE site = ?"
            args: list[Any] = [_cap(site)]
        else:
            sql = "SELECT * FROM turns WHERE site = ? AND session IS ?"
            args = [_cap(site), _cap(session)]
        if before_ts is not None:
            sql += " AND ts < ?"
            args.append(before_ts)
        with self._tx() as db:
            row = db.execute(sql + " ORDER BY ts DESC, id DESC LIMIT 1", args).fetchone()
            if row is None:
                return None
            kinds = tuple(r[0] for r in db.execute("SELECT kind FROM signals WHERE turn_id = ? ORDER BY ts, id",
                                                   (row["id"],)))
        return _turn(row, kinds)

    def turns(self, *, user: str | None = None, since: float | None = None,
              until: float | None = None) -> list[StoredTurn]:
        """Turns with since <= ts < until (user None: every user), ordered by site, session, ts, id."""
        args = {"user": user, "since": since, "until": until}
        with self._tx() as db:
            rows = db.execute(_SELECT_TURNS, args).fetchall()
            sigs: dict[int, list[str]] = {}
            for tid, kind in db.execute(_SELECT_SIGNALS, args):
                sigs.setdefault(tid, []).append(kind)
        return [_turn(r, tuple(sigs.get(r["id"], ()))) for r in rows]

    def sessions(self, *, user: str | None = None, since: float | None = None, until: float | None = None,
                 gap_s: float = 60.0, by_session: bool = True) -> list[list[StoredTurn]]:
        """Conversations for the miner: turns grouped by (site, session, user), split where consecutive
        turns are more than `gap_s` apart (Hermes session ids are reused or absent on some satellites).

        `by_session=False` groups by (site, user) only: after a barge-in the dialogue manager ends
        the session, and the user's rephrase arrives in a new one."""
        groups: dict[tuple[str, str | None, str | None], list[StoredTurn]] = {}
        for st in self.turns(user=user, since=since, until=until):
            groups.setdefault((st.turn.site, st.turn.session if by_session else None, st.turn.user), []).append(st)
        out: list[list[StoredTurn]] = []
        for group in groups.values():
            group.sort(key=lambda st: (st.turn.ts, st.id))
            current = [group[0]]
            for prev, st in pairwise(group):
                if st.turn.ts - prev.turn.ts > gap_s:
                    out.append(current)
                    current = []
                current.append(st)
            out.append(current)
        return out

    def successful_texts(self, user: str | None = None,
                         limit: int = 5000) -> list[tuple[str, int, float, float]]:
        """(text the model read, successes, last success ts, success rate) of phrasings that worked at
        least once (recognized, acted on, no defect signal), most successful first: the online
        rewriter's personal (user given) or hub-wide (user None) index. The rate is successes over
        every turn that read the phrasing, so one that often fails ranks lower."""
        with self._tx() as db:
            rows = db.execute(_SUCCESSFUL, {"user": user, "defects": _DEFECTS, "limit": limit,
                                             "targetless": _TARGETLESS}).fetchall()
        return [(str(r[0]), int(r[1]), float(r[2]), float(r[3])) for r in rows]

    def defect_rate(self, *, user: str | None = None, since: float | None = None,
                    until: float | None = None) -> tuple[int, int]:
        """(defect turns, turns) over since <= ts < until, for `edge-nlu learn --stats` and the simulator."""
        args = {"user": user, "since": since, "until": until, "defects": _DEFECTS}
        with self._tx() as db:
            n, defects = db.execute(_DEFECT_RATE, args).fetchone()
        return int(defects), int(n)

    # --- rewrites and preferences (every change bumps rewrites_version) -------------------------------------

    @staticmethod
    def _rewrite_row(r: LearnedRewrite, now: float) -> tuple[Any, ...]:
        if r.source not in REWRITE_SOURCES:
            raise StoreError(f"unknown rewrite source {r.source!r}", ErrorCode.INVALID_REWRITE)
        return (r.src, r.dst, r.source, r.user, r.score, r.support, json.dumps(r.meta, sort_keys=True), now)

    def replace_rewrites(self, source: str, rewrites: list[LearnedRewrite]) -> None:
        """Atomically swap every rewrite of one source (e.g. all `precomputed` after a mining run)."""
        if any(r.source != source for r in rewrites):
            raise StoreError(f"replace_rewrites({source!r}) given a rewrite of another source",
                    ErrorCode.INVALID_REWRITE)
        now = time.time()
        rows = [self._rewrite_row(r, now) for r in rewrites]
        with self._tx(write=True) as db:
            db.execute("DELETE FROM rewrites WHERE source = ?", (source,))
            db.executemany(_UPSERT_REWRITE, rows)
            self._bump(db)

    @_droppable(None)
    def add_rewrite(self, r: LearnedRewrite) -> None:
        """Insert or update one rewrite, keyed by (src, user, source)."""
        row = self._rewrite_row(r, time.time())
        with self._tx(write=True) as db:
            db.execute(_UPSERT_REWRITE, row)
            self._bump(db)

    def rewrites(self, user: str | None | _AnyUser = ANY_USER, source: str | None = None) -> list[LearnedRewrite]:
        """Stored rewrites; `user`: ANY_USER (default) every row, None only hub-wide ones, a name only that
        user's personal ones. `source` None means every source."""
        sql = "SELECT * FROM rewrites WHERE 1 = 1"
        args: list[Any] = []
        if not isinstance(user, _AnyUser):
            sql += " AND user IS ?"
            args.append(user)
        if source is not None:
            sql += " AND source = ?"
            args.append(source)
        with self._tx() as db:
            rows = db.execute(sql + " ORDER BY source, ifnull(user, ''), src, id", args).fetchall()
        return [_rewrite(r) for r in rows]

    def rewrites_version(self) -> int:
        """Counter bumped on every rewrite/preference change; the service polls it to reload cheaply."""
        with self._tx() as db:
            return int(db.execute("SELECT value FROM meta WHERE key = 'rewrites_version'").fetchone()[0])

    @_droppable(None)
    def set_preference(self, p: Preference) -> None:
        """Insert or update a taught preference, keyed by (user, kind, key)."""
        with self._tx(write=True) as db:
            db.execute("INSERT INTO preferences(user, kind, key, value, ts) VALUES (?, ?, ?, ?, ?) "
                       "ON CONFLICT(user, kind, key) DO UPDATE SET value = excluded.value, ts = excluded.ts",
                       (p.user, p.kind, p.key, p.value, p.ts))
            self._bump(db)

    def preferences(self, user: str | None = None) -> list[Preference]:
        """Preferences of one user, or of everyone (user None)."""
        with self._tx() as db:
            rows = db.execute("SELECT * FROM preferences WHERE (:user IS NULL OR user = :user) "
                              "ORDER BY user, kind, ts, key", {"user": user}).fetchall()
        return [Preference(user=r["user"], kind=r["kind"], key=r["key"], value=r["value"], ts=r["ts"]) for r in rows]

    @_droppable(False)
    def delete_preference(self, user: str, kind: str, key: str) -> bool:
        """Remove one preference; False when there was none."""
        with self._tx(write=True) as db:
            n = db.execute("DELETE FROM preferences WHERE user = ? AND kind = ? AND key = ?",
                           (user, kind, key)).rowcount
            self._bump(db)
        return n > 0

    def delete_rewrite(self, src: str, user: str | None, source: str) -> bool:
        """Remove one rewrite (keyed like `add_rewrite`); False when there was none."""
        with self._tx(write=True) as db:
            n = db.execute("DELETE FROM rewrites WHERE src = ? AND user IS ? AND source = ?",
                           (src, user, source)).rowcount
            self._bump(db)
        return n > 0

    # --- audit log of learning ----------------------------------------------------------------------------

    @_droppable(None)
    def add_audit(self, events: list[dict[str, Any]]) -> None:
        """Append audit entries: {ts, event, kind, src?, dst?, users?, sites?, reason?} (see AUDIT_EVENTS)."""
        rows = [(float(e["ts"]), str(e["event"]), str(e["kind"]), e.get("src"), e.get("dst"),
                 json.dumps(sorted({str(u) for u in e.get("users") or ()})),
                 json.dumps(sorted({str(x) for x in e.get("sites") or ()})), e.get("reason")) for e in events]
        if not rows:
            return
        with self._tx(write=True) as db:
            db.executemany("INSERT INTO audit(ts, event, kind, src, dst, users, sites, reason) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def audit(self, limit: int = 10_000) -> list[dict[str, Any]]:
        """The latest audit entries, oldest first."""
        with self._tx() as db:
            rows = db.execute("SELECT * FROM (SELECT * FROM audit ORDER BY ts DESC, id DESC LIMIT ?) "
                              "ORDER BY ts, id", (limit,)).fetchall()
        return [{"ts": r["ts"], "event": r["event"], "kind": r["kind"], "src": r["src"], "dst": r["dst"],
                 "users": json.loads(r["users"]), "sites": json.loads(r["sites"]), "reason": r["reason"]}
                for r in rows]

    def forget_audit(self, *, user: str | None = None, before: float | None = None) -> int:
        """Erase audit entries naming `user` and/or older than `before` (neither: all); returns rows."""
        with self._tx(write=True) as db:
            return int(db.execute(
                "DELETE FROM audit WHERE (:user IS NULL OR EXISTS (SELECT 1 FROM json_each(audit.users) "
                "WHERE value = :user)) AND (:before IS NULL OR ts < :before)",
                {"user": user, "before": before}).rowcount)

    def forget_future(self, limit: float) -> int:
        """Erase turns dated after `limit` (a clock far ahead escapes retention otherwise); returns turns."""
        with self._tx(write=True) as db:
            return int(db.execute("DELETE FROM turns WHERE ts > ?", (limit,)).rowcount)

    # --- erasure and retention ------------------------------------------------------------------------------

    def forget(self, *, user: str | None = None, before: float | None = None) -> dict[str, int]:
        """Erase data (`edge-nlu forget`); returns rows deleted per table.

        user and/or before: turns (with their signals) of that user and/or with ts < before; with a user,
        also that user's preferences and personal rewrites (only those taught/created before `before`
        when it is given). Neither: everything. Deleted rows are zeroed (secure_delete) and the WAL is
        checkpointed and truncated so erased text does not linger in the files (unless another connection
        is mid-read, which keeps the WAL until it finishes).
        """
        args = {"user": user, "before": before}
        counts: dict[str, int] = {}
        with self._tx(write=True) as db:
            for table, sql in zip(("signals", "turns", "rewrites", "preferences"), _FORGET, strict=True):
                # before alone erases history only: learned rewrites and preferences are kept
                keep = table in ("rewrites", "preferences") and user is None and before is not None
                counts[table] = 0 if keep else db.execute(sql, args).rowcount
            self._bump(db)
        with self._lock, _sqlite_errors(self.path):  # outside the transaction: a checkpoint cannot run inside one
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        return counts

    def prune(self, now: float | None = None) -> int:
        """Retention: delete turns (and their signals) older than retention_days before `now` (None: each
        site's request clock, see `clock`); returns turns."""
        keep = self.retention_days * 86400.0
        with self._tx(write=True) as db:
            if now is not None:
                return int(db.execute("DELETE FROM turns WHERE ts < ?", (now - keep,)).rowcount)
            return int(db.execute(_PRUNE, {"host": time.time(), "clock": _CLOCK, "keep": keep}).rowcount)

    def clock(self, site: str | None = None) -> float:
        """Now on the request clock of `site` (None: of the latest turn): its latest turn's request time plus
        the host time elapsed since that turn arrived. The host clock only where no turn was recorded."""
        keys = ([_CLOCK + (_cap(site) or "")] if site is not None else []) + [_CLOCK]
        with self._tx() as db:
            for key in keys:
                row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
                if row is not None:
                    return time.time() + float(row[0])
        return time.time()

    # --- lifetime -----------------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection (idempotent); the last connection to close folds the WAL into the file."""
        with self._lock:
            self._closed = True
            self._db.close()

    def __enter__(self) -> InteractionStore:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
