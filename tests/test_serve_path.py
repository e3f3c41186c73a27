"""The service's reply path (issue 15): queries that find it idle are answered on the network thread, the rest
by the query thread, in arrival order either way; with learning, a turn is in the store before its answer goes
out and learning's bookkeeping runs after; the stage trace behind EDGE_NLU_TRACE."""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path

import pytest

from edge_nlu.domain.home import Home
from edge_nlu.learn.engine import SelfLearning
from edge_nlu.learn.settings import LearnSettings
from edge_nlu.learn.store import InteractionStore
from edge_nlu.pipeline import EdgeNLU
from edge_nlu.service.app import TRACE_ENV, TRACE_STAGES, Service
from edge_nlu.service.config import ServeSettings
from tests.broker import Mosquitto, Probe
from tests.conftest import load_script
from tests.test_serve import config, home_yaml, listen, nlu, wait_ready  # noqa: F401  (fixtures)

TEXTS = ["turn on the oven", "turn off the lights", "what time is it", "turn on the sofa lamp", "is the oven on"]


def _service(broker: Mosquitto, home: Path, nlu: EdgeNLU, inline: bool = True, **over: object) -> Service:  # noqa: F811
    svc = Service(ServeSettings.from_dict(config(broker, home, **over)), nlu=nlu, inline=inline)
    svc.start()
    assert svc.link.wait_connected(60), "the service did not connect"
    return svc


def _hermes_order(p: Probe, ids: list[str]) -> list[str]:
    """Ids of the Hermes answers in the order they arrived (the probe records every message)."""
    for qid in ids:
        p.wait(qid, 60, "both")
    with p.cond:
        msgs = [m for m in p.messages if m.topic.startswith(("hermes/intent/", "hermes/nlu/intentNotRecognized"))]
    got = [json.loads(m.payload).get("id") for m in msgs]
    return [g for g in got if g in ids]


@pytest.mark.parametrize("inline", [True, False], ids=["network-thread", "query-thread"])
def test_a_burst_of_queries_is_answered_once_each_in_the_order_asked(
        broker: Mosquitto, home_yaml: Path, nlu: EdgeNLU, inline: bool) -> None:  # noqa: F811
    svc = _service(broker, home_yaml, nlu, inline)
    p = listen(Probe(broker))
    try:
        wait_ready(p)
        p.clear()
        ids = [uuid.uuid4().hex for _ in range(30)]
        for i, qid in enumerate(ids):  # back to back: most arrive while an earlier one is being answered
            p.publish("hermes/nlu/query", {"input": TEXTS[i % len(TEXTS)], "siteId": "kitchen-puck", "id": qid},
                      wait=False)
        assert _hermes_order(p, ids) == ids
        for i, qid in enumerate(ids):
            a = p.wait(qid, 1, "both")
            assert a is None or a.result.get("text") == TEXTS[i % len(TEXTS)]
        assert svc.counters()["answered"] >= len(ids) and svc.counters()["errors"] == 0
    finally:
        p.close()
        svc.stop()


def test_a_flood_of_queries_is_refused_past_the_queue_not_left_waiting(
        broker: Mosquitto, home_yaml: Path, nlu: EdgeNLU) -> None:  # noqa: F811
    """Queries that pile up while one is answered on the network thread go to the bounded queue, so the excess is
    answered `overloaded` at once (limits.max_queued_queries) rather than left to wait in the broker."""
    svc = _service(broker, home_yaml, nlu, limits={"max_queued_queries": 4, "max_payload_bytes": 64 * 1024})
    p = listen(Probe(broker))
    try:
        wait_ready(p)
        p.clear()
        ids = [uuid.uuid4().hex for _ in range(200)]
        for qid in ids:
            p.publish("hermes/nlu/query", {"input": "turn on the oven", "siteId": "kitchen-puck", "id": qid},
                      wait=False)
        codes = []
        for qid in ids:
            a = p.wait(qid, 120, "both")
            assert a is not None, f"no answer to {qid}"
            codes.append((a.result.get("error") or {}).get("code"))
        assert codes.count("overloaded") > 0 and codes.count(None) > 0
        assert set(codes) <= {None, "overloaded"}
        _, _, ok = p.query("turn on the oven")  # and it answers normally afterwards
        assert ok["action"]["targets"] == ["switch.oven"] and svc.counters()["errors"] == 0
    finally:
        p.close()
        svc.stop()


def test_state_then_query_in_one_network_pass_still_waits_for_the_state(
        broker: Mosquitto, home_yaml: Path, nlu: EdgeNLU) -> None:  # noqa: F811
    """A query behind device messages not yet applied goes to the query thread, which waits for them."""
    svc = _service(broker, home_yaml, nlu)
    p = listen(Probe(broker))
    try:
        wait_ready(p)
        for want in ("on", "off", "on", "off"):
            for i in range(200):
                p.publish(f"zigbee2mqtt/burst {i}", {"state": "ON", "brightness": i % 255}, wait=False)
            p.publish("zigbee2mqtt/Oven", {"state": want.upper()}, wait=False)
            _, _, r = p.query("is the oven on")
            assert r["response"] == ("Yes, the oven is on." if want == "on" else "No, the oven is off.")
    finally:
        p.close()
        svc.stop()


def test_with_learning_every_answered_turn_is_in_the_store_when_its_answer_arrives_and_after_stop(
        broker: Mosquitto, home_yaml: Path, nlu: EdgeNLU, tmp_path: Path) -> None:  # noqa: F811
    store = tmp_path / "learn.sqlite3"
    svc = _service(broker, home_yaml, nlu, learning={"store": str(store)})
    p = listen(Probe(broker))
    answered: list[str] = []
    try:
        wait_ready(p)
        for i in range(8):
            _, hermes, _ = p.query(TEXTS[i % len(TEXTS)], session=f"s{i}", user="alex")
            answered.append(hermes["id"])
            db = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=10)
            try:  # read at once, no waiting: the turn was committed before the answer went out
                ids = {r[0] for r in db.execute("SELECT query_id FROM turns")}
            finally:
                db.close()
            assert hermes["id"] in ids
        for i in range(5):  # asked and not awaited: a clean stop answers and records what is queued
            qid = uuid.uuid4().hex
            p.publish("hermes/nlu/query", {"input": TEXTS[i], "siteId": "kitchen-puck", "id": qid}, wait=True)
            answered.append(qid)
        for qid in answered[-5:]:
            assert p.wait(qid, 60, "hermes") is not None
    finally:
        p.close()
        svc.stop()
    with InteractionStore(store) as s:
        stored = [t.turn.query_id for t in s.turns()]
    assert set(answered) <= set(stored)
    assert len([q for q in stored if q in answered]) == len(answered)  # each once


def test_the_trace_stamps_every_stage_in_order(broker: Mosquitto, home_yaml: Path, nlu: EdgeNLU,  # noqa: F811
                                               tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    trace = tmp_path / "trace.jsonl"
    monkeypatch.setenv(TRACE_ENV, str(trace))
    svc = _service(broker, home_yaml, nlu)
    p = listen(Probe(broker))
    try:
        wait_ready(p)
        ids = [p.query(t)[1]["id"] for t in TEXTS]
    finally:
        p.close()
        svc.stop()
    rows = {r["id"]: r for r in map(json.loads, trace.read_text().splitlines())}
    for qid in ids:
        stamps = [rows[qid][k] for k in TRACE_STAGES]
        assert stamps == sorted(stamps) and stamps[0] > 0


def test_no_trace_file_without_the_variable(broker: Mosquitto, home_yaml: Path, nlu: EdgeNLU,  # noqa: F811
                                            tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TRACE_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    svc = _service(broker, home_yaml, nlu)
    svc.stop()
    assert list(tmp_path.iterdir()) == []


def test_answer_then_bookkeeping_is_handle_result(nlu: EdgeNLU, tmp_path: Path) -> None:  # noqa: F811
    """The service's two steps give the same answers and leave the same store as one `handle_result`."""
    home = Home.load(Path(__file__).resolve().parent.parent / "devices" / "homes" / "demo.yaml")
    turns = [("turn on the kichen lights", 0), ("turn on the kitchen lights", 4), ("what time is it", 9),
             ("turn off the lights", 30), ("turn off the lights", 33), ("switch the oven on", 60)]
    outs = []
    for name, two_step in (("one", False), ("two", True)):
        store = InteractionStore(tmp_path / f"{name}.db")
        engine = SelfLearning(nlu, store, LearnSettings(store=str(tmp_path / f"{name}.db")))
        got = []
        for i, (text, dt) in enumerate(turns):
            kw = {"site": "kitchen-puck", "session": "s", "user": "alex", "ts": 1_800_000_000.0 + dt,
                  "query_id": f"q{i}", "context": {"area": "Kitchen"}, "home": home}
            if two_step:
                result, bookkeeping = engine.answer(text, **kw)  # type: ignore[arg-type]
                assert f"q{i}" in {t.turn.query_id for t in store.turns()}  # recorded before the answer goes out
                bookkeeping()
            else:
                result = engine.handle_result(text, **kw)  # type: ignore[arg-type]
            got.append(result.to_dict())
        rows = [(t.turn.query_id, t.turn.text, t.turn.rewrite_text, t.signals) for t in store.turns()]
        outs.append((got, sorted(rows, key=lambda r: str(r[0])), list(engine.questions)))
        store.close()
    assert outs[0] == outs[1]


def test_the_benchmark_reads_the_trace_the_service_writes() -> None:
    mod = load_script(Path(__file__).resolve().parent.parent / "benchmarks" / "service_overhead.py")
    assert (mod.TRACE_ENV, mod.TRACE_STAGES) == (TRACE_ENV, TRACE_STAGES)
