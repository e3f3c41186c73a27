"""The learning engine's own logic on a fake parser and an in-memory store (no ONNX model).

`FakeParser` has `EdgeNLU.parse_result`'s signature and answers each known phrase with a hand-built
`Result`, so every test says exactly what the model read and asserts what learning makes of it:
which turns are defects, which are rephrases, when a learned rewrite is used, and when the guard
refuses one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from edge_nlu.domain.home import Area, Entity, Home
from edge_nlu.domain.result import NLU, Action, ErrorInfo, Result, Rewrite
from edge_nlu.errors import ErrorCode
from edge_nlu.learn.engine import TEACH_INTENT, SelfLearning
from edge_nlu.learn.rewriter import Candidate
from edge_nlu.learn.settings import LearnSettings
from edge_nlu.learn.store import InteractionStore
from edge_nlu.learn.types import LearnedRewrite, StoredTurn, normalize

T0 = 1_790_000_000.0
NO_MODELS = Path("/nonexistent/rewriter")
HOME = Home(
    areas=[Area("kitchen", "Kitchen"), Area("bedroom", "Bedroom"), Area("hall", "Hall")],
    entities=[Entity("light.kitchen", "Kitchen light", "kitchen"), Entity("light.bedroom", "Bedroom light", "bedroom"),
              Entity("lock.front_door", "Front door", "hall")],
)
KITCHEN_ON = Action("HassTurnOn", {"area": "Kitchen"}, ("light.kitchen",))
KITCHEN_OFF = Action("HassTurnOff", {"area": "Kitchen"}, ("light.kitchen",))
LOCK = Action("HassTurnOn", {"name": "Front door"}, ("lock.front_door",))  # Home Assistant: turning a lock on locks it
UNLOCK = Action("HassTurnOff", {"name": "Front door"}, ("lock.front_door",))
READINGS: dict[str, tuple[str, float, Action | None, str | None]] = {
    "turn off the kitchen lights": ("iot_hue_lightoff", 0.95, KITCHEN_OFF, None),
    "turn on the kitchen lights": ("iot_hue_lighton", 0.95, KITCHEN_ON, None),
    "turn off the bedroom lights": ("iot_hue_lightoff", 0.95, Action("HassTurnOff", {}, ("light.bedroom",)), None),
    "douse the kitchen lights": ("iot_hue_lighton", 0.4, KITCHEN_ON, None),  # misread, and unsure of it
    "lock the front door": ("iot_lock", 0.95, LOCK, None),
    "unlock the front door": ("iot_unlock", 0.95, UNLOCK, None),
    "what time is it": ("datetime_query", 0.9, Action("HassGetCurrentTime"), "It is half past seven."),
}
"""What the fake model reads for each phrase (normalised); anything else is read unsure, with no action."""


@dataclass
class FakeParser:
    """`EdgeNLU` as learning sees it: a home and `parse_result`, here from `READINGS`."""

    home: Home = field(default_factory=lambda: HOME)
    calls: list[str] = field(default_factory=list)

    def parse_result(self, text: Any, context: Any = None, id: Any = None, *, home: Home | None = None) -> Result:
        if not isinstance(text, str) or not text.strip():
            return Result(id=id, text="", error=ErrorInfo(ErrorCode.EMPTY_TEXT, "text is empty"))
        self.calls.append(text)
        intent, conf, action, response = READINGS.get(normalize(text), ("unknown", 0.2, None, None))
        return Result(id=id, text=text.strip(), nlu=NLU(intent, conf), action=action, response=response)


class FixedDetector:
    """Rephrase detector that gives every pair the same probability."""

    def __init__(self, p: float) -> None:
        self.p = p

    def probability(self, prev: str, nxt: str, gap_s: float) -> float:
        return self.p


class FixedRewriter:
    """Online retrieval that always offers the same candidates, best first."""

    def __init__(self, *texts: str) -> None:
        self.cands = [Candidate(t, "global", 0.9, 0.9, 1, 0.9 - i / 100) for i, t in enumerate(texts)]

    def candidates(self, text: str, user: str | None, now: float, layers: frozenset[str]) -> list[Candidate]:
        return list(self.cands)

    def set_hub(self, entries: Any) -> None:
        pass

    def set_personal(self, user: str, entries: Any) -> None:
        pass


@pytest.fixture
def store() -> Iterator[InteractionStore]:
    s = InteractionStore(":memory:")
    yield s
    s.close()


@pytest.fixture
def parser() -> FakeParser:
    return FakeParser()


def make(parser: FakeParser, store: InteractionStore, min_confidence: float = 0.5, **settings: Any) -> SelfLearning:
    return SelfLearning(parser, store, LearnSettings(reload_interval_s=0.0, **settings), rewriter_dir=NO_MODELS,
                        min_confidence=min_confidence)


@pytest.fixture
def engine(parser: FakeParser, store: InteractionStore) -> SelfLearning:
    return make(parser, store)


def turns(store: InteractionStore) -> list[StoredTurn]:
    """Recorded turns in request order (the store orders by site and session)."""
    return sorted(store.turns(), key=lambda t: (t.turn.ts, t.id))


def signals(store: InteractionStore) -> list[tuple[str, tuple[str, ...]]]:
    return [(t.turn.text, t.signals) for t in turns(store)]


# -- defects and rephrases ------------------------------------------------------------------------

def test_a_turn_is_recorded_as_read_and_one_below_min_confidence_is_not_recognized(engine: SelfLearning,
                                                                                 store: InteractionStore) -> None:
    r = engine.handle_result("turn off the kitchen lights", site="puck", user="alex", ts=T0, query_id="q1")
    assert r == Result(id="q1", text="turn off the kitchen lights", nlu=NLU("iot_hue_lightoff", 0.95),
                       action=KITCHEN_OFF)
    engine.handle_result("douse the kitchen lights", site="puck", user="alex", ts=T0 + 100)
    (ok, unsure) = turns(store)
    assert (ok.turn.recognized, ok.turn.intent, ok.turn.action, ok.turn.targets, ok.turn.confidence) == (
        True, "iot_hue_lightoff", "HassTurnOff", ("light.kitchen",), 0.95)
    assert ok.signals == () and not ok.defect
    assert not unsure.turn.recognized and unsure.signals == ("not_recognized",) and unsure.defect


def test_min_confidence_is_the_threshold_of_recognized(parser: FakeParser, store: InteractionStore) -> None:
    engine = make(parser, store, min_confidence=0.3)
    assert engine.min_confidence == 0.3
    engine.handle_result("douse the kitchen lights", site="puck", user="alex", ts=T0)
    (turn,) = store.turns()
    assert turn.turn.recognized and turn.signals == ()


def test_an_empty_request_or_an_unlisted_site_is_answered_but_not_recorded(parser: FakeParser,
                                                                          store: InteractionStore) -> None:
    engine = make(parser, store, allowed_sites=("puck",))
    r = engine.handle_result("   ", site="puck", user="alex", ts=T0)
    assert r.error is not None and r.error.code == "empty_text"
    assert engine.handle("turn off the kitchen lights", site="rogue", ts=T0)["action"]["intent"] == "HassTurnOff"
    assert store.turns() == []


def test_an_exact_repeat_is_a_rephrase_and_a_repeated_failure_asks_what_was_meant(engine: SelfLearning,
                                                                                  store: InteractionStore) -> None:
    engine.handle_result("douse the kitchen lights", site="puck", session="a", user="alex", ts=T0)
    engine.handle_result("Douse the kitchen lights!", site="puck", session="b", user="alex", ts=T0 + 5)
    assert signals(store)[0] == ("douse the kitchen lights", ("not_recognized", "rephrase"))
    assert list(engine.questions) == [("puck", "b", 'Sorry, I didn\'t get that. What did you mean by "douse the '
                                                    'kitchen lights"?')]
    # without a rephrase detector, other words are not taken for a rephrase
    engine.handle_result("turn off the kitchen lights", site="puck", user="alex", ts=T0 + 10)
    assert "rephrase" not in signals(store)[1][1]


def test_the_detector_needs_less_evidence_after_a_defect(parser: FakeParser, store: InteractionStore) -> None:
    engine = make(parser, store)
    engine.detector = FixedDetector(0.3)  # between the two thresholds
    engine.handle_result("turn on the kitchen lights", site="puck", user="alex", ts=T0)  # worked
    engine.handle_result("make the kitchen dark", site="puck", user="alex", ts=T0 + 5)  # not a rephrase of it
    engine.handle_result("turn off the kitchen lights", site="puck", user="alex", ts=T0 + 10)  # after a defect
    assert [s for _, s in signals(store)] == [(), ("not_recognized", "rephrase"), ()]


def test_a_rephrase_needs_the_same_user_within_the_window(parser: FakeParser, store: InteractionStore) -> None:
    engine = make(parser, store)
    engine.detector = FixedDetector(1.0)
    engine.handle_result("make the kitchen dark", site="puck", user="alex", ts=T0)
    engine.handle_result("turn off the kitchen lights", site="puck", user="sam", ts=T0 + 5)  # someone else
    engine.handle_result("make the kitchen dark", site="puck", user="sam", ts=T0 + 100)  # too late after sam's
    assert [s for _, s in signals(store)] == [("not_recognized",), (), ("not_recognized",)]


# -- learned rewrites and the guard ---------------------------------------------------------------

def test_a_stored_rewrite_is_applied_for_its_user_with_its_layer(engine: SelfLearning,
                                                                 store: InteractionStore) -> None:
    store.add_rewrite(LearnedRewrite(src="douse the kitchen lights", dst="turn off the kitchen lights",
                                     source="personal", user="alex", score=0.876543))
    r = engine.handle_result("Douse the kitchen lights", site="puck", user="alex", ts=T0, query_id="q1")
    assert r.text == "Douse the kitchen lights" and r.action == KITCHEN_OFF and r.recognized(0.5)
    assert r.rewrite == Rewrite("turn off the kitchen lights", "personal", 0.8765)
    assert engine.handle("douse the kitchen lights", site="puck", user="sam", ts=T0 + 100)["rewrite"] is None
    alex = turns(store)[0].turn
    assert (alex.rewrite_text, alex.rewrite_source, alex.action) == ("turn off the kitchen lights", "personal",
                                                                     "HassTurnOff")


def test_a_sure_reading_is_never_rewritten_and_the_guard_refuses_an_unlock(
        engine: SelfLearning, store: InteractionStore, parser: FakeParser) -> None:
    for src, dst in (("lock the front door", "unlock the front door"),
                     ("turn on the kitchen lights", "turn off the kitchen lights"),
                     ("douse the kitchen lights", "unlock the front door")):
        store.add_rewrite(LearnedRewrite(src=src, dst=dst, source="precomputed"))
    r = engine.handle_result("lock the front door", site="puck", user="alex", ts=T0)
    assert r.rewrite is None and r.action == LOCK
    r = engine.handle_result("turn on the kitchen lights", site="puck", user="alex", ts=T0 + 100)
    assert r.rewrite is None and r.action == KITCHEN_ON
    assert engine.guard_blocked == 0 and "unlock the front door" not in parser.calls  # not even parsed
    # an unsure reading may be rewritten, but never into unlocking
    r = engine.handle_result("douse the kitchen lights", site="puck", user="alex", ts=T0 + 200)
    assert r.rewrite is None and r.action == KITCHEN_ON and engine.guard_blocked == 1


def test_online_retrieval_stays_in_the_room_and_behind_the_guard(engine: SelfLearning,
                                                                 parser: FakeParser) -> None:
    engine.rewriter = FixedRewriter(
        "turn off the bedroom lights", "what time is it", "turn off the kitchen lights")
    r = engine.handle_result("douse the kitchen lights", site="puck", user="alex", ts=T0)
    assert r.rewrite == Rewrite("turn off the kitchen lights", "global", 0.88) and r.action == KITCHEN_OFF
    assert "turn off the bedroom lights" not in parser.calls  # another room is never tried
    # "the front door" means nothing to the model: unlocking is refused, locking (more secure) is allowed
    engine.rewriter = FixedRewriter("unlock the front door", "lock the front door")
    r = engine.handle_result("the front door", site="puck", user="alex", ts=T0 + 100)
    assert r.rewrite is not None and r.rewrite.text == "lock the front door" and r.action == LOCK
    assert engine.guard_blocked == 1
    # a request that worked is not sent to retrieval at all
    parser.calls.clear()
    assert engine.handle_result("what time is it", site="puck", user="alex", ts=T0 + 200).rewrite is None
    assert parser.calls == ["what time is it"]


def test_the_answer_to_what_did_you_mean_is_learned_unless_the_guard_refuses(engine: SelfLearning,
                                                                            store: InteractionStore) -> None:
    engine.handle_result("make the kitchen dark", site="puck", user="alex", ts=T0, query_id="q1")
    assert engine.feedback("q1", "negative", T0 + 3)
    assert engine.questions[-1][2].endswith('"make the kitchen dark"?')
    engine.handle_result("turn off the kitchen lights", site="puck", user="alex", ts=T0 + 8)
    (taught,) = store.rewrites(user="alex")
    assert (taught.src, taught.dst, taught.source) == ("make the kitchen dark", "turn off the kitchen lights", "taught")
    r = engine.handle_result("make the kitchen dark", site="puck", user="alex", ts=T0 + 100)
    assert r.rewrite == Rewrite("turn off the kitchen lights", "taught", 1.0)

    engine.handle_result("lock the front door", site="hall", user="alex", ts=T0 + 200, query_id="q2")
    assert engine.feedback("q2", "negative", T0 + 203)
    engine.handle_result("unlock the front door", site="hall", user="alex", ts=T0 + 208)
    assert [r.src for r in store.rewrites(user="alex")] == ["make the kitchen dark"]
    assert store.audit()[-1]["event"] == "rejected" and store.audit()[-1]["reason"] == "guard: sensitive"


def test_a_correction_is_learned_through_the_guard(engine: SelfLearning, store: InteractionStore) -> None:
    engine.handle_result("douse the kitchen lights", site="puck", user="alex", ts=T0, query_id="q1")
    assert engine.feedback("q1", "correction", T0 + 10, "turn off the kitchen lights", site="puck", user="alex")
    engine.handle_result("lock the front door", site="hall", user="alex", ts=T0 + 100, query_id="q2")
    assert engine.feedback("q2", "correction", T0 + 110, "unlock the front door", site="hall", user="alex")
    assert [(r.src, r.dst) for r in store.rewrites(user="alex")] == [("douse the kitchen lights",
                                                                       "turn off the kitchen lights")]
    assert [(e["event"], e["src"], e["reason"]) for e in store.audit()] == [
        ("learned", "douse the kitchen lights", "correction"),
        ("rejected", "lock the front door", "guard: sensitive")]


def test_a_taught_phrase_answers_as_spoken_and_then_stands_for_its_command(engine: SelfLearning,
                                                                           store: InteractionStore) -> None:
    r = engine.handle_result("when i say movie time turn off the kitchen lights", site="puck", user="alex", ts=T0,
                             query_id="q1")
    assert r.nlu == NLU(TEACH_INTENT, 1.0) and r.action is None and r.response and r.id == "q1"
    assert turns(store)[0].turn.recognized
    r = engine.handle_result("movie time", site="puck", user="alex", ts=T0 + 30)
    assert r.rewrite == Rewrite("turn off the kitchen lights", "taught", 1.0) and r.action == KITCHEN_OFF


# -- mining ---------------------------------------------------------------------------------------

def test_mining_learns_what_users_rephrased_to_and_never_an_unlock(parser: FakeParser,
                                                                   store: InteractionStore) -> None:
    engine = make(parser, store)
    engine.detector = FixedDetector(1.0)  # every quick retry is a rephrase
    for k, (user, site) in enumerate((("u0", "kitchen"), ("u1", "kitchen"), ("u2", "counter"))):
        t = T0 + 1000 * k
        engine.handle_result("douse the kitchen lights", site=site, session=f"a{k}", user=user, ts=t)
        engine.handle_result("turn off the kitchen lights", site=site, session=f"b{k}", user=user, ts=t + 5)
        t += 500  # someone keeps rephrasing "lock the front door" until it unlocks
        engine.handle_result("lock the front door", site=site, session=f"c{k}", user=user, ts=t)
        engine.barge_in(site, f"c{k}", t + 1)
        engine.handle_result("unlock the front door", site=site, session=f"d{k}", user=user, ts=t + 5)
    report = engine.learn(now=T0 + 10_000)
    assert report["precomputed"] == 1 and report["guard_dropped"] >= 1
    (mined,) = store.rewrites(source="precomputed")
    assert (mined.src, mined.dst, mined.meta["users"]) == ("douse the kitchen lights", "turn off the kitchen lights",
                                                            ["u0", "u1", "u2"])
    assert any(e["event"] == "rejected" and e["src"] == "lock the front door" for e in store.audit())
    r = engine.handle_result("douse the kitchen lights", site="kitchen", user="newcomer", ts=T0 + 20_000)
    assert r.rewrite is not None and r.rewrite.source == "precomputed" and r.action == KITCHEN_OFF
    assert engine.handle_result("lock the front door", site="kitchen", user="newcomer", ts=T0 + 20_100).action == LOCK
