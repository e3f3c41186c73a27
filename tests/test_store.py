"""InteractionStore: real SQLite files under tmp_path, real threads, a real SIGKILL."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_nlu.errors import ConfigError, EdgeNLUError
from edge_nlu.learn.store import ID_CAP, MAX_TARGETS, SCHEMA_VERSION, TEXT_CAP, InteractionStore, StoreError
from edge_nlu.learn.types import LearnedRewrite, Preference, TurnRecord

ROOT = Path(__file__).resolve().parent.parent
DAY = 86400.0


def rec(ts: float, text: str = "turn on the lamp", **kw: object) -> TurnRecord:
    kw.setdefault("site", "kitchen")
    kw.setdefault("action", "HassTurnOn")
    kw.setdefault("targets", ("light.lamp",))
    return TurnRecord(ts=ts, text=text, **kw)  # type: ignore[arg-type]


def _in_threads(work: Callable[[int], None], n: int) -> None:
    """Run work(0) .. work(n-1) in n threads at once and wait for all of them."""
    threads = [threading.Thread(target=work, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[InteractionStore]:
    with InteractionStore(tmp_path / "learn" / "store.db") as s:
        yield s


def raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(str(path))


# --- opening -----------------------------------------------------------------------------------------------


def test_open_creates_parent_dir_schema_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "store.db"
    with InteractionStore(path) as s:
        assert s.rewrites_version() == 0
    db = raw(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"meta", "turns", "signals", "rewrites", "preferences"} <= tables
    meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    assert meta == {"schema_version": SCHEMA_VERSION, "rewrites_version": 0}
    indexes = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"turns_query", "turns_session", "turns_user", "turns_norm", "signals_turn", "rewrites_key"} <= indexes
    db.close()


def test_memory_store_works() -> None:
    with InteractionStore(":memory:") as s:
        tid = s.record_turn(rec(1.0))
        assert [t.id for t in s.turns()] == [tid]


def test_garbage_file_is_store_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    path.write_bytes(b"this is not a database, just some text that happens to be long enough " * 100)
    with pytest.raises(StoreError) as e:
        InteractionStore(path)
    assert e.value.code == "store_corrupt"
    assert isinstance(e.value, EdgeNLUError)
    assert str(path) in e.value.message


def test_newer_schema_is_store_version(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    InteractionStore(path).close()
    db = raw(path)
    db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (SCHEMA_VERSION + 1,))
    db.commit()
    db.close()
    with pytest.raises(StoreError) as e:
        InteractionStore(path)
    assert e.value.code == "store_version"
    assert "upgrade" in e.value.message


def test_bad_settings_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        InteractionStore(tmp_path / "s.db", synchronous="FULL; DROP TABLE turns")
    with pytest.raises(ConfigError):
        InteractionStore(tmp_path / "s.db", retention_days=0)
    with InteractionStore(tmp_path / "s.db", synchronous="full") as s:  # case-insensitive
        s.record_turn(rec(1.0))


def test_persists_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    with InteractionStore(path) as s:
        tid = s.record_turn(rec(5.0, query_id="q1", user="ann"))
        s.add_signal(tid, "negative", 6.0)
        s.add_rewrite(LearnedRewrite(src="lamp on", dst="turn on the lamp", source="taught", user="ann"))
        s.set_preference(Preference(user="ann", kind="team", key="warriors", value="Warriors", ts=7.0))
    with InteractionStore(path) as s:
        [t] = s.turns()
        assert t.id == tid and t.turn.user == "ann" and t.signals == ("negative",) and t.defect
        assert s.turn_id_for_query("q1") == tid
        assert len(s.rewrites()) == 1 and len(s.preferences()) == 1
        assert s.rewrites_version() == 2


# --- turns and signals -------------------------------------------------------------------------------------


def test_huge_fields_are_stored_capped_and_still_found(store: InteractionStore) -> None:
    mib = "turn on the lamp " * (1 << 16)  # 1 MiB of text
    long_id = "q" * 5000
    tid = store.record_turn(TurnRecord(ts=1.0, site="s" * 5000, text=mib, norm=mib, rewrite_text=mib,
                                       query_id=long_id, user="u" * 5000, session="x" * 5000, intent="i" * 5000,
                                       targets=tuple(f"light.l{i}" + "z" * 5000 for i in range(1000))))
    store.add_signal(tid, "correction", 2.0, detail=mib)
    t = store.turn(tid)
    assert t is not None
    assert t.turn.text == mib[:TEXT_CAP] and t.turn.norm == mib[:TEXT_CAP] and t.turn.rewrite_text == mib[:TEXT_CAP]
    assert len(t.turn.query_id or "") == len(t.turn.site) == len(t.turn.user or "") == ID_CAP
    assert len(t.turn.targets) == MAX_TARGETS and all(len(x) == ID_CAP for x in t.turn.targets)
    assert store.turn_id_for_query(long_id) == tid  # feedback with the same long id still finds its turn
    last = store.last_turn("s" * 5000, "x" * 5000)
    assert last is not None and last.id == tid
    db = raw(Path(store.path))
    assert db.execute("SELECT max(length(detail)) FROM signals").fetchone()[0] == TEXT_CAP
    db.close()


def test_turn_round_trip_every_field(store: InteractionStore) -> None:
    full = TurnRecord(ts=100.5, site="living", text="Lights ON, please!", query_id="q-1", session="s-1", user="bob",
                      rewrite_text="turn on the lights", rewrite_source="precomputed", context_digest="abcd" * 4,
                      intent="turn_on", action="HassTurnOn", targets=("light.a", "light.b"), confidence=0.87,
                      recognized=True, error_code=None)
    bare = TurnRecord(ts=101.0, site="living", text="what?", recognized=False, error_code="not_understood")
    a, b = store.record_turn(full), store.record_turn(bare)
    assert b > a
    got = {t.id: t for t in store.turns()}
    assert got[a].turn == full and got[a].signals == ()
    assert got[b].turn == bare and got[b].turn.norm == "what" and got[b].turn.session is None


def test_turn_id_for_query_is_latest(store: InteractionStore) -> None:
    assert store.turn_id_for_query("q") is None
    store.record_turn(rec(1.0, query_id="q"))
    second = store.record_turn(rec(2.0, query_id="q"))
    store.record_turn(rec(3.0, query_id="other"))
    assert store.turn_id_for_query("q") == second


def test_last_turn(store: InteractionStore) -> None:
    assert store.last_turn("kitchen", "s") is None
    t1 = store.record_turn(rec(1.0, session="s"))
    t2 = store.record_turn(rec(2.0, session="s"))
    store.record_turn(rec(3.0, session="other"))
    store.record_turn(rec(4.0, session="s", site="hall"))
    n1 = store.record_turn(rec(5.0))
    n2 = store.record_turn(rec(6.0))
    store.add_signal(t2, "rephrase", 2.5)
    last = store.last_turn("kitchen", "s")
    assert last is not None and last.id == t2 and last.signals == ("rephrase",) and last.defect
    before = store.last_turn("kitchen", "s", before_ts=2.0)
    assert before is not None and before.id == t1
    assert store.last_turn("kitchen", "s", before_ts=1.0) is None
    none_session = store.last_turn("kitchen", None)
    assert none_session is not None and none_session.id == n2
    prev = store.last_turn("kitchen", None, before_ts=6.0)
    assert prev is not None and prev.id == n1


def test_signals_order_and_defect_derivation(store: InteractionStore) -> None:
    ids = [store.record_turn(rec(float(i))) for i in range(4)]
    store.add_signal(ids[0], "positive", 10.0)
    store.add_signal(ids[1], "barge_in", 10.0)
    store.add_signal(ids[2], "negative", 10.0, detail="user said no")
    store.add_signal(ids[2], "positive", 11.0)  # a later positive does not undo the negative
    by_id = {t.id: t for t in store.turns()}
    assert [by_id[i].defect for i in ids] == [False, True, True, False]
    assert by_id[ids[2]].signals == ("negative", "positive")
    assert store.defect_rate() == (2, 4)
    for kind in ("not_recognized", "correction", "rephrase"):
        tid = store.record_turn(rec(20.0))
        store.add_signal(tid, kind, 21.0)
        assert {t.id: t for t in store.turns()}[tid].defect
    detail = raw(Path(store.path)).execute("SELECT detail FROM signals WHERE kind = 'negative'").fetchone()[0]
    assert detail == "user said no"


def test_invalid_signal_kind(store: InteractionStore) -> None:
    tid = store.record_turn(rec(1.0))
    with pytest.raises(StoreError) as e:
        store.add_signal(tid, "thumbs_up", 2.0)
    assert e.value.code == "invalid_signal"


def test_unknown_turn(store: InteractionStore) -> None:
    with pytest.raises(StoreError) as e:
        store.add_signal(12345, "positive", 2.0)
    assert e.value.code == "unknown_turn"
    store.record_turn(rec(1.0))  # the failed transaction left nothing open
    assert len(store.turns()) == 1


def test_turns_filters_and_order(store: InteractionStore) -> None:
    store.record_turn(rec(3.0, site="b", session="x", user="ann"))
    store.record_turn(rec(1.0, site="b", session="x", user="bob"))
    store.record_turn(rec(2.0, site="a", session="y", user="ann"))
    store.record_turn(rec(2.0, site="a", session="y", user="ann"))
    keys = [(t.turn.site, t.turn.session, t.turn.ts) for t in store.turns()]
    assert keys == [("a", "y", 2.0), ("a", "y", 2.0), ("b", "x", 1.0), ("b", "x", 3.0)]
    ids = [t.id for t in store.turns()]
    assert ids[0] < ids[1]
    assert {t.turn.user for t in store.turns(user="ann")} == {"ann"}
    assert len(store.turns(user="ann")) == 3
    assert [t.turn.ts for t in store.turns(since=2.0, until=3.0)] == [2.0, 2.0]
    assert [t.turn.ts for t in store.turns(user="ann", since=2.5)] == [3.0]


def test_sessions_split_by_gap_site_and_user(store: InteractionStore) -> None:
    for ts in (0.0, 10.0, 65.0, 200.0, 230.0):  # gaps 10, 55, 135, 30 -> split once
        store.record_turn(rec(ts, session="s", user="ann"))
    store.record_turn(rec(5.0, session="s", user="bob"))  # same session, other user
    store.record_turn(rec(6.0, session="s", user="ann", site="hall"))  # same session id, other site
    store.record_turn(rec(7.0, user="ann"))  # no session
    store.record_turn(rec(8.0, user="ann"))
    sessions = store.sessions()
    shape = sorted((s[0].turn.site, s[0].turn.session or "", s[0].turn.user or "", tuple(t.turn.ts for t in s))
                   for s in sessions)
    assert shape == [
        ("hall", "s", "ann", (6.0,)),
        ("kitchen", "", "ann", (7.0, 8.0)),
        ("kitchen", "s", "ann", (0.0, 10.0, 65.0)),
        ("kitchen", "s", "ann", (200.0, 230.0)),
        ("kitchen", "s", "bob", (5.0,)),
    ]
    assert len(store.sessions(gap_s=20.0)) == 7  # also splits 10 -> 65 (55 s)
    assert len(store.sessions(user="bob")) == 1
    assert store.sessions(since=1000.0) == []


def test_successful_texts(store: InteractionStore) -> None:
    store.record_turn(rec(1.0, "lamp on", user="ann"))
    store.record_turn(rec(2.0, "lamp on", user="ann"))
    store.record_turn(rec(3.0, "lamp on", user="bob"))
    store.record_turn(rec(4.0, "lamp plz", rewrite_text="turn on the lamp", rewrite_source="personal", user="ann"))
    bad = store.record_turn(rec(5.0, "lamp on", user="ann"))
    store.add_signal(bad, "rephrase", 6.0)
    ok = store.record_turn(rec(6.0, "lamp on", user="ann"))
    store.add_signal(ok, "positive", 6.5)
    store.record_turn(rec(7.0, "blorp", user="ann", recognized=False))
    store.record_turn(rec(8.0, "what time is it", user="ann", action=None))
    store.record_turn(rec(9.0, "turn on the thing", user="ann", targets=()))  # understood, resolving to nothing
    # ann read "lamp on" 4 times, 3 worked (the rephrased one did not): rate 0.75
    assert store.successful_texts("ann") == [("lamp on", 3, 6.0, 0.75), ("turn on the lamp", 1, 4.0, 1.0)]
    assert store.successful_texts() == [("lamp on", 4, 6.0, 0.8), ("turn on the lamp", 1, 4.0, 1.0)]
    assert store.successful_texts("bob") == [("lamp on", 1, 3.0, 1.0)]
    assert store.successful_texts(limit=1) == [("lamp on", 4, 6.0, 0.8)]
    assert store.successful_texts("nobody") == []


def test_defect_rate_filters(store: InteractionStore) -> None:
    assert store.defect_rate() == (0, 0)
    for i, user in enumerate(("ann", "ann", "bob", "bob")):
        tid = store.record_turn(rec(float(i), user=user))
        if i % 2:
            store.add_signal(tid, "correction", float(i))
            store.add_signal(tid, "negative", float(i))  # two defect signals still count one turn
    assert store.defect_rate() == (2, 4)
    assert store.defect_rate(user="ann") == (1, 2)
    assert store.defect_rate(since=2.0) == (1, 2)
    assert store.defect_rate(until=1.0) == (0, 1)


def test_max_turns_cap_drops_oldest(tmp_path: Path) -> None:
    with InteractionStore(tmp_path / "s.db", max_turns=10) as s:
        ids = [s.record_turn(rec(float(i))) for i in range(25)]
        s.add_signal(ids[-1], "positive", 30.0)
        assert [t.id for t in s.turns()] == ids[-10:]
    with InteractionStore(tmp_path / "big.db", max_turns=1000) as s:  # checked every 10 inserts
        for i in range(1100):
            s.record_turn(rec(float(i)))
        kept = s.turns()
        assert 1000 <= len(kept) <= 1010 and kept[-1].turn.ts == 1099.0


def test_prune_retention(tmp_path: Path) -> None:
    now = 1_000 * DAY
    with InteractionStore(tmp_path / "s.db", retention_days=30) as s:
        old = s.record_turn(rec(now - 31 * DAY))
        s.add_signal(old, "negative", now - 31 * DAY)
        edge = s.record_turn(rec(now - 30 * DAY))
        new = s.record_turn(rec(now - 1.0))
        s.set_preference(Preference(user="ann", kind="team", key="x", value="X", ts=0.0))
        assert s.prune(now) == 1
        assert [t.id for t in s.turns()] == [edge, new]
        assert raw(Path(s.path)).execute("SELECT count(*) FROM signals").fetchone()[0] == 0  # cascaded
        assert len(s.preferences()) == 1  # retention is about history only
        assert s.prune(now) == 0


# --- rewrites, preferences, version ------------------------------------------------------------------------


def test_rewrites_round_trip_upsert_replace_and_filters(store: InteractionStore) -> None:
    v = store.rewrites_version()
    g = LearnedRewrite(src="lamp on", dst="turn on the lamp", source="precomputed", score=0.8, support=7,
                       meta={"src_rate": 0.2, "margin": 0.3})
    mine = LearnedRewrite(src="lamp on", dst="turn on the reading lamp", source="precomputed", user="ann")
    taught = LearnedRewrite(src="movie time", dst="turn off the lights", source="taught", user="ann")
    store.replace_rewrites("precomputed", [g, mine])
    store.add_rewrite(taught)
    assert store.rewrites_version() == v + 2
    assert sorted(store.rewrites(), key=lambda r: (r.source, r.user or "")) == [g, mine, taught]
    assert store.rewrites(user=None) == [g]
    assert sorted(r.dst for r in store.rewrites(user="ann")) == ["turn off the lights", "turn on the reading lamp"]
    assert store.rewrites(source="taught") == [taught]
    assert store.rewrites(user=None, source="taught") == []
    # upsert on (src, user, source): same key updates, never duplicates
    better = LearnedRewrite(src="lamp on", dst="switch on the lamp", source="precomputed", score=0.9, support=9)
    store.add_rewrite(better)
    assert store.rewrites(user=None) == [better]
    assert store.rewrites_version() == v + 3
    # replace swaps only its own source
    fresh = LearnedRewrite(src="tv on", dst="turn on the tv", source="precomputed")
    store.replace_rewrites("precomputed", [fresh])
    assert store.rewrites(source="precomputed") == [fresh]
    assert store.rewrites(source="taught") == [taught]
    store.replace_rewrites("precomputed", [])
    assert store.rewrites(source="precomputed") == []
    assert store.rewrites_version() == v + 5


def test_rewrite_validation(store: InteractionStore) -> None:
    with pytest.raises(StoreError) as e:
        store.replace_rewrites("precomputed", [LearnedRewrite(src="a", dst="b", source="taught")])
    assert e.value.code == "invalid_rewrite"
    with pytest.raises(StoreError) as e:
        store.add_rewrite(LearnedRewrite(src="a", dst="b", source="magic"))
    assert e.value.code == "invalid_rewrite"
    assert store.rewrites() == [] and store.rewrites_version() == 0


def test_preferences_round_trip(store: InteractionStore) -> None:
    ann = Preference(user="ann", kind="team", key="warriors", value="Warriors", ts=1.0)
    alias = Preference(user="ann", kind="alias", key="the big light", value="Ceiling", ts=2.0)
    bob = Preference(user="bob", kind="music_genre", key="jazz", value="jazz", ts=3.0)
    for p in (ann, alias, bob):
        store.set_preference(p)
    assert store.rewrites_version() == 3
    assert store.preferences("ann") == [alias, ann]
    assert len(store.preferences()) == 3
    moved = Preference(user="ann", kind="alias", key="the big light", value="Floor lamp", ts=4.0)
    store.set_preference(moved)
    assert store.preferences("ann") == [moved, ann]
    assert store.delete_preference("ann", "team", "warriors") is True
    assert store.delete_preference("ann", "team", "warriors") is False
    assert store.preferences("ann") == [moved]
    assert store.rewrites_version() == 6


def test_version_visible_to_another_connection(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with InteractionStore(path) as service, InteractionStore(path) as cli:
        seen = service.rewrites_version()
        cli.add_rewrite(LearnedRewrite(src="a", dst="b", source="taught"))
        assert service.rewrites_version() == seen + 1
        assert service.rewrites() == cli.rewrites()


# --- forget ------------------------------------------------------------------------------------------------


def _populate(s: InteractionStore) -> dict[str, int]:
    ids = {}
    for i, user in enumerate(("ann", "ann", "bob", None)):
        ids[f"{user}{i}"] = tid = s.record_turn(rec(float(10 * i), f"secret-{user}-{i} please", user=user))
        s.add_signal(tid, "positive", 10.0 * i + 1)
    s.add_rewrite(LearnedRewrite(src="a", dst="b", source="taught", user="ann"))
    s.add_rewrite(LearnedRewrite(src="a", dst="b", source="taught", user="bob"))
    s.add_rewrite(LearnedRewrite(src="a", dst="c", source="precomputed"))
    s.set_preference(Preference(user="ann", kind="team", key="x", value="X", ts=1.0))
    s.set_preference(Preference(user="bob", kind="team", key="y", value="Y", ts=1.0))
    return ids


def test_forget_user_keeps_others(store: InteractionStore) -> None:
    _populate(store)
    v = store.rewrites_version()
    counts = store.forget(user="ann")
    assert counts == {"signals": 2, "turns": 2, "rewrites": 1, "preferences": 1}
    assert {t.turn.user for t in store.turns()} == {"bob", None}
    assert all(t.signals == ("positive",) for t in store.turns())
    assert {r.user for r in store.rewrites()} == {"bob", None}
    assert [p.user for p in store.preferences()] == ["bob"]
    assert store.rewrites_version() == v + 1


def test_forget_user_leaves_no_trace_in_files(store: InteractionStore) -> None:
    for i in range(50):
        store.record_turn(rec(float(i), f"zebra-marker-{i} open the garage", user="ann"))
        store.record_turn(rec(float(i), f"keep-me-{i}", user="bob"))
    store.forget(user="ann")
    db = Path(store.path)
    wal = db.with_name(db.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0  # checkpointed and truncated
    data = db.read_bytes()
    assert b"zebra-marker" not in data
    assert b"keep-me-49" in data


def test_forget_before(store: InteractionStore) -> None:
    ids = _populate(store)
    counts = store.forget(before=15.0)
    assert counts == {"signals": 2, "turns": 2, "rewrites": 0, "preferences": 0}
    assert [t.id for t in store.turns()] == sorted([ids["bob2"], ids["None3"]])
    assert len(store.rewrites()) == 3 and len(store.preferences()) == 2


def test_forget_user_before(store: InteractionStore) -> None:
    ids = _populate(store)
    counts = store.forget(user="ann", before=5.0)
    assert counts["turns"] == 1 and counts["signals"] == 1
    assert ids["ann0"] not in {t.id for t in store.turns()} and ids["ann1"] in {t.id for t in store.turns()}
    assert counts["preferences"] == 1  # taught at ts=1.0
    assert counts["rewrites"] == 0  # created now, not before ts=5


def test_forget_everything(store: InteractionStore) -> None:
    _populate(store)
    v = store.rewrites_version()
    counts = store.forget()
    assert counts == {"signals": 4, "turns": 4, "rewrites": 3, "preferences": 2}
    assert store.turns() == [] and store.rewrites() == [] and store.preferences() == []
    assert store.rewrites_version() == v + 1
    assert store.record_turn(rec(1.0)) > 0


@settings(max_examples=60, deadline=None)
@given(stamps=st.lists(st.integers(0, 50), max_size=30), cut=st.integers(-5, 55),
       users=st.lists(st.sampled_from(["ann", "bob", None]), min_size=30, max_size=30))
def test_forget_before_leaves_exactly_later_turns(stamps: list[int], cut: int, users: list[str | None]) -> None:
    with InteractionStore(":memory:") as s:
        for ts, user in zip(stamps, users):
            tid = s.record_turn(rec(float(ts), user=user))
            s.add_signal(tid, "rephrase", float(ts))
        counts = s.forget(before=float(cut))
        left = s.turns()
        assert sorted(t.turn.ts for t in left) == sorted(float(t) for t in stamps if t >= cut)
        assert counts["turns"] == counts["signals"] == sum(1 for t in stamps if t < cut)
        assert all(t.signals == ("rephrase",) for t in left)


# --- concurrency and crashes -------------------------------------------------------------------------------


def test_four_threads_share_one_instance(store: InteractionStore) -> None:
    n = 150
    got: list[list[int]] = [[] for _ in range(4)]
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for i in range(n):
                tid = store.record_turn(rec(float(i), f"thread {k} turn {i}", user=f"u{k}", query_id=f"{k}-{i}"))
                store.add_signal(tid, "positive", float(i))
                got[k].append(tid)
                if i % 25 == 0:
                    store.turns(user=f"u{k}")
                    store.add_rewrite(LearnedRewrite(src=f"s{k}", dst=f"d{i}", source="taught", user=f"u{k}"))
        except BaseException as e:  # surfaced below
            errors.append(e)

    _in_threads(work, 4)
    assert errors == []
    all_ids = [i for ids in got for i in ids]
    assert len(set(all_ids)) == 4 * n
    stored = store.turns()
    assert {t.id for t in stored} == set(all_ids)
    assert all(t.signals == ("positive",) for t in stored)
    assert store.turn_id_for_query("3-149") == got[3][-1]
    assert len(store.rewrites()) == 4 and store.rewrites_version() == 4 * (n // 25)


def test_two_instances_on_one_file_from_threads(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    stores = [InteractionStore(path), InteractionStore(path)]
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for i in range(100):
                stores[k % 2].record_turn(rec(float(i), user=f"u{k}"))
        except BaseException as e:
            errors.append(e)

    _in_threads(work, 4)
    assert errors == []
    assert len(stores[0].turns()) == 400
    for s in stores:
        s.close()


def test_committed_turns_survive_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "store_writer.py"), str(path)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(120.0, proc.kill)  # never hang the suite if the writer stalls
    watchdog.start()
    try:
        assert proc.stdout is not None
        printed: list[int] = []
        while len(printed) < 300:
            line = proc.stdout.readline()
            assert line, f"writer exited early: {proc.wait()} {proc.stderr.read() if proc.stderr else ''}"
            printed.append(int(line))
        assert proc.poll() is None  # still mid-loop
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait() == -signal.SIGKILL
        rest = proc.stdout.read()
        printed += [int(x) for x in rest.split("\n")[:-1]]  # drop a last line cut short by the kill
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()

    with InteractionStore(path) as s:
        by_id = {t.id: t for t in s.turns()}
        missing = [i for i in printed if i not in by_id]
        assert missing == []
        assert all(by_id[i].signals for i in printed)  # the signal was committed before the id was printed
        assert all(by_id[i].turn.user == "crash" for i in printed)
        new = s.record_turn(rec(1.0, "after the crash"))
        assert new > max(printed)
        s.add_signal(new, "positive", 2.0)
    db = raw(path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    db.close()
