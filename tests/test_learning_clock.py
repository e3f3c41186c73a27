"""The learning loop runs on the requests' clock: traffic stamped with its own `time` (a replay, a satellite
with its own clock, a hub whose clock was wrong) learns exactly what the same traffic learns live.

Driven through the service's bridge (Hermes queries with `time`, a sessionEnded without one, feedback without
one) on the fake parser of test_engine_stub and a store file; no ONNX model.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from edge_nlu.domain.home import Home
from edge_nlu.learn.settings import LearnSettings
from edge_nlu.learn.store import InteractionStore
from edge_nlu.learn.types import TurnRecord
from edge_nlu.service.hermes import HermesQuery
from edge_nlu.service.learning import LearningBridge
from tests.test_engine_stub import NO_MODELS, FakeParser, FixedDetector

YEAR = 365 * 86400.0
PEOPLE = (("u0", "kitchen"), ("u1", "kitchen"), ("u2", "counter"))


def _bridge(tmp_path: Path) -> LearningBridge:
    settings = LearnSettings(store=str(tmp_path / "learn.sqlite3"), rewriter_dir=str(NO_MODELS),
                             reload_interval_s=0.0)
    b = LearningBridge(settings, FakeParser(), "hermes", "edge-nlu")
    b.engine.detector = FixedDetector(1.0)  # every quick retry is a rephrase
    return b


def _ask(b: LearningBridge, text: str, site: str, session: str, user: str, qid: str, ts: float) -> None:
    when = datetime.fromtimestamp(ts).isoformat()  # Hermes `time`: ISO local time
    b.handle_result(HermesQuery(input=text, site_id=site, session_id=session, id=qid, user=user, time=when),
                    {}, Home(), user)


def _event(b: LearningBridge, topic: str, data: dict[str, Any]) -> None:
    assert b.on_event(topic, json.dumps(data).encode(), time.time()) is None


def _replay(tmp_path: Path, offset: float) -> tuple[list[tuple[str, str | None, str, str]], list[Any], Any]:
    """A misread phrase cut off (sessionEnded, no time), said again (a defect repeated: "what did you mean?"),
    then the phrasing that works, by three users at two satellites, dated `offset` from the host clock;
    then the service's own `learn()`. Returns (rewrites, per turn (text, signals), learn report)."""
    b = _bridge(tmp_path)
    base = round(time.time() + offset)
    for k, (user, site) in enumerate(PEOPLE):
        t = base + 1000 * k
        _ask(b, "douse the kitchen lights", site, f"a{k}", user, f"q{k}a", t)
        _event(b, b.session_ended_topic, {"sessionId": f"a{k}", "siteId": site,
                                         "termination": {"reason": "abortedByUser"}})
        _ask(b, "douse the kitchen lights", site, f"b{k}", user, f"q{k}b", t + 4)
        assert [q[1]["siteId"] for q in b.questions()] == [site]  # "what did you mean?"
        _ask(b, "turn off the kitchen lights", site, f"c{k}", user, f"q{k}c", t + 20)
    report = b.engine.learn()
    rewrites = sorted((r.source, r.user, r.src, r.dst) for r in b.store.rewrites())
    turns = [(st.turn.text, st.turn.site, st.turn.ts - base, sorted(st.signals))
             for st in sorted(b.store.turns(), key=lambda st: (st.turn.ts, st.id))]
    b.close()
    return rewrites, turns, report


@pytest.mark.parametrize("offset", [YEAR, -YEAR], ids=["a year ahead", "a year back"])
def test_a_replay_dated_away_from_the_host_clock_learns_what_it_learns_live(tmp_path: Path, offset: float) -> None:
    live = _replay(tmp_path / "live", 0.0)
    replay = _replay(tmp_path / "replay", offset)
    assert replay[0] == live[0] and replay[1] == live[1]
    rewrites, turns, report = replay
    assert ("precomputed", None, "douse the kitchen lights", "turn off the kitchen lights") in rewrites
    # each user's answer to "what did you mean?" came 16 s after the question: taught, not expired
    assert [r for r in rewrites if r[0] == "taught"] == [
        ("taught", u, "douse the kitchen lights", "turn off the kitchen lights") for u, _ in PEOPLE]
    assert report["pruned"] == 0 and len(turns) == 9
    cut = [t for t in turns if "barge_in" in t[3]]
    assert [t[:3] for t in cut] == [("douse the kitchen lights", s, 1000.0 * k) for k, (_, s) in enumerate(PEOPLE)]


def test_feedback_without_a_time_asks_on_the_requests_clock(tmp_path: Path) -> None:
    """A negative feedback carries no time: its question is dated now on the site's request clock (a year
    back here, 50 s after the turn it is about, when the site's next request came), not at its turn's time,
    so the answer 20 s after the question is taken, not expired (the question waits teach_window_s, 60 s)."""
    b = _bridge(tmp_path)
    t = round(time.time() - YEAR)
    _ask(b, "douse the kitchen lights", "kitchen", "s1", "u0", "q1", t)
    _ask(b, "what time is it", "kitchen", "s2", "u0", "q2", t + 50)
    _event(b, b.feedback_topic, {"id": "q1", "signal": "negative", "siteId": "kitchen", "user": "u0"})
    assert len(b.questions()) == 1
    _ask(b, "turn off the kitchen lights", "kitchen", "s3", "u0", "q3", t + 70)
    (taught,) = b.store.rewrites(user="u0", source="taught")
    assert (taught.src, taught.dst) == ("douse the kitchen lights", "turn off the kitchen lights")
    b.close()


def test_retention_runs_on_each_sites_request_clock(tmp_path: Path) -> None:
    """A satellite a year behind keeps its recent turns; its turns older than the retention go, as the live
    site's do; a given `now` still prunes every site against it."""
    host = time.time()
    with InteractionStore(tmp_path / "s.sqlite3", retention_days=30) as store:
        for site, base in (("live", host), ("behind", host - YEAR)):
            for age_days in (40, 1):
                store.record_turn(TurnRecord(ts=base - age_days * 86400.0, site=site, text=f"{site} {age_days}"))
        assert abs(store.clock("behind") - (host - YEAR - 86400.0)) < 60
        assert store.prune() == 2
        assert sorted(st.turn.text for st in store.turns()) == ["behind 1", "live 1"]
        assert store.prune(host) == 1  # told the host time: the satellite's last turn is a year old
        assert [st.turn.text for st in store.turns()] == ["live 1"]
