"""The interaction store: one SQLite file (WAL) holding turns, signals, rewrites, preferences and meta.

Everything the hub learns lives here so the user can inspect it with `sqlite3`, list it and erase it.
One instance is shared by the service's threads (a lock serialises access to the single connection);
other processes (the CLI, `edge-nlu learn`) open their own instance and SQLite's locking plus
`busy_timeout` keeps them apart. Every public method is one transaction, committed before it returns,
so a committed turn survives the process being killed.
"""

from __future__ import annotations

import enum
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import pairwise
from pathlib import Path
from types import TracebackType
from typing import Any

from edge_nlu.errors import ConfigError, EdgeNLUError
from edge_nlu.learn.types import (
    DEFECT_SIGNALS,
    REWRITE_SOURCES,
    SIGNALS,
    LearnedRewrite,
    Preference,
    StoredTurn,
    TurnRecord,
)

SCHEMA_VERSION = 1
"""Bump (and migrate) when the schema changes, e.g. when SIGNALS grows (the CHECK lists the kinds)."""
_SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")
_DEFECTS = json.dumps(sorted(DEFECT_SIGNALS))
"""Bound as :defects and read with json_each, so queries stay constant strings in sync with types.py."""
_KINDS_SQL = ", ".join("'" + k.replace("'", "''") + "'" for k in SIGNALS)
# Queries are constant strings: a None parameter disables its condition (:user IS NULL OR ...). That costs
# an index for those filters, which is fine at the <= 200k-row cap of a hub and keeps SQL out of f-strings.
_INSERT_TURN = (
    "INSERT INTO turns(query_id, ts, site, session, user, text, norm, rewrite_text, rewrite_source, context_digest, "
    "intent, action, targets, confidence, recognized, error_code) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
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
    "(t.recognized = 1 AND t.action IS NOT NULL AND NOT EXISTS "
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

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS turns (id INTEGER PRIMARY KEY, query_id TEXT, ts REAL NOT NULL, site TEXT NOT NULL, "
    "session TEXT, user TEXT, text TEXT NOT NULL, norm TEXT NOT NULL, rewrite_text TEXT, rewrite_source TEXT, "
    "context_digest TEXT NOT NULL DEFAULT '', intent TEXT, action TEXT, targets TEXT NOT NULL DEFAULT '[]', "
    "confidence REAL NOT NULL DEFAULT 0, recognized INTEGER NOT NULL DEFAULT 1, error_code TEXT)",
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
)
_UPSERT_REWRITE = (
    "INSERT INTO rewrites(src, dst, source, user, score, support, meta, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT(src, ifnull(user, ''), source) DO UPDATE SET dst = excluded.dst, score = excluded.score, "
    "support = excluded.support, meta = excluded.meta, created = excluded.created"
)


class StoreError(EdgeNLUError):
    """The interaction store cannot be opened or refused an operation (see `code`)."""

    code = "store_error"


class _AnyUser(enum.Enum):
    ANY = "any"


ANY_USER = _AnyUser.ANY
"""Default of `InteractionStore.rewrites(user=...)`: rewrites of every user and hub-wide ones."""


@contextmanager
def _sqlite_errors(path: str) -> Iterator[None]:
    """sqlite3 errors leave the store as StoreError; a damaged or foreign file gets its own code."""
    try:
        yield
    except sqlite3.Error as e:
        msg = str(e)
        if "not a database" in msg or "malformed" in msg:
            raise StoreError(f"{path} is not a usable edge-nlu interaction store (SQLite: {msg})",
                             "store_corrupt") from e
        raise StoreError(f"interaction store {path}: {msg}", "store_error") from e


def _turn(row: sqlite3.Row, signals: tuple[str, ...] = ()) -> StoredTurn:
    rec = TurnRecord(
        ts=row["ts"], site=row["site"], text=row["text"], query_id=row["query_id"], session=row["session"],
        user=row["user"], norm=row["norm"], rewrite_text=row["rewrite_text"], rewrite_source=row["rewrite_source"],
        context_digest=row["context_digest"], intent=row["intent"], action=row["action"],
        targets=tuple(json.loads(row["targets"])), confidence=row["confidence"], recognized=bool(row["recognized"]),
        error_code=row["error_code"],
    )
    return StoredTurn(id=row["id"], turn=rec, signals=signals)


def _rewrite(row: sqlite3.Row) -> LearnedRewrite:
    return LearnedRewrite(src=row["src"], dst=row["dst"], source=row["source"], user=row["user"],
                          score=row["score"], support=row["support"], meta=json.loads(row["meta"]))


class InteractionStore:
    """SQLite interaction store; safe to share between threads, one transaction per method."""

    def __init__(self, path: Path | str, *, retention_days: float = 90.0, max_turns: int = 200_000,
                 synchronous: str = "NORMAL") -> None:
        if synchronous.upper() not in _SYNCHRONOUS:
            raise ConfigError(f"synchronous must be one of {', '.join(_SYNCHRONOUS)}, not {synchronous!r}")
        if retention_days <= 0 or max_turns < 1:
            raise ConfigError("retention_days must be > 0 and max_turns >= 1")
        self.path = str(path)
        self.retention_days = float(retention_days)
        self.max_turns = int(max_turns)
        # Counting 200k rows on every insert is wasteful; checking every max_turns/100 inserts
        # bounds the overshoot at 1 % while keeping small caps (tests) exact.
        self._cap_every = max(1, min(1000, self.max_turns // 100))
        self._until_cap_check = 0
        self._lock = threading.Lock()
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, timeout=5.0, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as e:
            raise StoreError(f"cannot open interaction store {self.path}: {e}", "store_open") from e
        self._db.row_factory = sqlite3.Row
        try:
            self._open(synchronous.upper())
        except BaseException:
            self._db.close()
            raise

    def _open(self, synchronous: str) -> None:
        """Pragmas, then create or check the schema; a non-SQLite file fails at the journal_mode pragma.

        secure_delete zeroes deleted rows, so pruned and forgotten text is really gone from the file.
        """
        with _sqlite_errors(self.path):
            self._db.execute("PRAGMA busy_timeout = 5000")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute(f"PRAGMA synchronous = {synchronous}")  # validated against _SYNCHRONOUS
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.execute("PRAGMA secure_delete = ON")
        with self._tx(write=True) as db:
            has_meta = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
            row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() if has_meta else None
            if row is not None and int(row[0]) > SCHEMA_VERSION:
                raise StoreError(f"{self.path} has schema version {row[0]}, newer than this edge-nlu supports "
                                 f"({SCHEMA_VERSION}); upgrade edge-nlu", "store_version")
            for stmt in _SCHEMA:
                db.execute(stmt)
            db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", (SCHEMA_VERSION,))

    @contextmanager
    def _tx(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        """Lock, BEGIN (IMMEDIATE for writes, so the write lock is taken up front and busy_timeout applies),
        COMMIT or ROLLBACK; SQLite errors become StoreError."""
        with self._lock, _sqlite_errors(self.path):
            self._db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield self._db
                self._db.execute("COMMIT")
            finally:
                if self._db.in_transaction:  # the body raised, or COMMIT failed
                    self._db.execute("ROLLBACK")

    @staticmethod
    def _bump(db: sqlite3.Connection) -> None:
        db.execute("UPDATE meta SET value = value + 1 WHERE key = 'rewrites_version'")

    # --- turns and signals -------------------------------------------------------------------------------

    def record_turn(self, t: TurnRecord) -> int:
        """Append one turn; returns its row id (what `add_signal` takes)."""
        values = (t.query_id, t.ts, t.site, t.session, t.user, t.text, t.norm, t.rewrite_text, t.rewrite_source,
                  t.context_digest, t.intent, t.action, json.dumps(list(t.targets)), t.confidence,
                  int(t.recognized), t.error_code)
        with self._tx(write=True) as db:
            cur = db.execute(_INSERT_TURN, values)
            row_id = int(cur.lastrowid or 0)
            self._until_cap_check -= 1
            if self._until_cap_check <= 0:
                self._until_cap_check = self._cap_every
                excess = db.execute("SELECT count(*) FROM turns").fetchone()[0] - self.max_turns
                if excess > 0:
                    db.execute("DELETE FROM turns WHERE id IN (SELECT id FROM turns ORDER BY ts, id LIMIT ?)",
                               (excess,))
        return row_id

    def add_signal(self, turn_id: int, kind: str, ts: float, detail: str | None = None) -> None:
        """Attach feedback (see SIGNALS) to a recorded turn."""
        if kind not in SIGNALS:
            raise StoreError(f"unknown signal kind {kind!r} (expected one of {', '.join(SIGNALS)})", "invalid_signal")
        with self._tx(write=True) as db:
            if db.execute("SELECT 1 FROM turns WHERE id = ?", (turn_id,)).fetchone() is None:
                raise StoreError(f"no turn with id {turn_id} (never recorded, pruned or forgotten)", "unknown_turn")
            db.execute("INSERT INTO signals(turn_id, ts, kind, detail) VALUES (?, ?, ?, ?)",
                       (turn_id, ts, kind, detail))

    def turn_id_for_query(self, query_id: str) -> int | None:
        """Row id of the latest turn with that Hermes query id, so feedback can find its turn."""
        with self._tx() as db:
            row = db.execute("SELECT id FROM turns WHERE query_id = ? ORDER BY ts DESC, id DESC LIMIT 1",
                             (query_id,)).fetchone()
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
            args: list[Any] = [site]
        else:
            sql = "SELECT * FROM turns WHERE site = ? AND session IS ?"
            args = [site, session]
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
            rows = db.execute(_SUCCESSFUL, {"user": user, "defects": _DEFECTS, "limit": limit}).fetchall()
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
            raise StoreError(f"unknown rewrite source {r.source!r}", "invalid_rewrite")
        return (r.src, r.dst, r.source, r.user, r.score, r.support, json.dumps(r.meta, sort_keys=True), now)

    def replace_rewrites(self, source: str, rewrites: list[LearnedRewrite]) -> None:
        """Atomically swap every rewrite of one source (e.g. all `precomputed` after a mining run)."""
        if any(r.source != source for r in rewrites):
            raise StoreError(f"replace_rewrites({source!r}) given a rewrite of another source", "invalid_rewrite")
        now = time.time()
        rows = [self._rewrite_row(r, now) for r in rewrites]
        with self._tx(write=True) as db:
            db.execute("DELETE FROM rewrites WHERE source = ?", (source,))
            db.executemany(_UPSERT_REWRITE, rows)
            self._bump(db)

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

    def delete_preference(self, user: str, kind: str, key: str) -> bool:
        """Remove one preference; False when there was none."""
        with self._tx(write=True) as db:
            n = db.execute("DELETE FROM preferences WHERE user = ? AND kind = ? AND key = ?",
                           (user, kind, key)).rowcount
            self._bump(db)
        return n > 0

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

    def prune(self, now: float) -> int:
        """Retention: delete turns (and their signals) older than retention_days before `now`; returns turns."""
        with self._tx(write=True) as db:
            return int(db.execute("DELETE FROM turns WHERE ts < ?", (now - self.retention_days * 86400.0,)).rowcount)

    # --- lifetime -----------------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection (idempotent); the last connection to close folds the WAL into the file."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> InteractionStore:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
