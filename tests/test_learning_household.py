"""Learning that holds up in a household (issue 13), on a fake parser and an in-memory store.

Each phrase's reading is written here, so the tests say what the model read and assert what learning
makes of it: which pairs are retries, which rewrites go to everyone and which stay with one person,
where and when a personal one holds, that a sure reading is never touched, and that a close variant
of a learned failing phrase is fixed too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from edge_nlu.domain.home import Area, Entity, Home
from edge_nlu.domain.result import NLU, Action, ErrorInfo, Result
from edge_nlu.errors import ErrorCode
from edge_nlu.learn import contextual
from edge_nlu.learn.engine import SelfLearning
from edge_nlu.learn.scope import in_scope, learn_scope
from edge_nlu.learn.settings import LearnSettings
from edge_nlu.learn.store import InteractionStore
from edge_nlu.learn.types import LearnedRewrite, TurnRecord, normalize
from edge_nlu.learn.variants import home_words, transfer_edit, variant_of

pytestmark = pytest.mark.unit

MORNING = datetime(2030, 3, 4, 8, 0).timestamp()
NO_MODELS = Path("/nonexistent/rewriter")
HOME = Home(
    areas=[Area("den", "Den", floor="ground"), Area("porch", "Porch", floor="ground"),
           Area("attic", "Attic", floor="top"), Area("nursery", "Nursery", floor="top")],
    entities=[Entity("light.porch", "Porch light", "porch"), Entity("light.garden", "Garden light", "porch"),
              Entity("switch.sauna", "Sauna", "den"), Entity("media_player.den", "Den speaker", "den"),
              Entity("media_player.nursery", "Nursery speaker", "nursery"),
              Entity("vacuum.dusty", "Dusty", "den", aliases=("small robot",)),
              Entity("vacuum.rumble", "Rumble", "attic", aliases=("large robot",))],
)


def _act(intent: str, *targets: str, **slots: Any) -> Action:
    return Action(intent, slots, tuple(targets))


READ: dict[str, tuple[str, float, Action | None]] = {
    "turn on the porch light": ("iot_hue_lighton", 0.95, _act("HassTurnOn", "light.porch")),
    "turn on the garden light": ("iot_hue_lighton", 0.95, _act("HassTurnOn", "light.garden")),
    "turn on the sauna": ("iot_wemo_on", 0.95, _act("HassTurnOn", "switch.sauna")),
    "switch the sauna on": ("iot_wemo_on", 0.9, _act("HassTurnOn", "switch.sauna")),
    "heat the steam box": ("iot_wemo_on", 0.8, _act("HassTurnOn")),  # understood, resolving to nothing
    "start dusty": ("iot_cleaning", 0.95, _act("HassVacuumStart", "vacuum.dusty")),
    "start rumble": ("iot_cleaning", 0.95, _act("HassVacuumStart", "vacuum.rumble")),
    "play rain sounds": ("play_music", 0.9, _act("HassMediaSearchAndPlay", "media_player.den", search_query="rain")),
    "play lullabies": ("play_music", 0.9, _act("HassMediaSearchAndPlay", "media_player.den",
                                              search_query="lullabies")),
    "play some tunes": ("play_music", 0.9, _act("HassMediaSearchAndPlay", "media_player.den", search_query="tunes")),
    "set a timer for ten minutes": ("timer_set", 0.95, _act("HassStartTimer", minutes=10)),
    "turn on the dim light": ("iot_hue_lighton", 0.95, _act("HassTurnOn", "light.garden")),  # sure, and wrong
}
"""What the fake model reads (normalised phrase); anything else is not understood."""


@dataclass
class Parser:
    home: Home = field(default_factory=lambda: HOME)
    calls: list[str] = field(default_factory=list)

    def parse_result(self, text: Any, context: Any = None, id: Any = None, *, home: Home | None = None) -> Result:
        if not isinstance(text, str) or not text.strip():
            return Result(id=id, text="", error=ErrorInfo(ErrorCode.EMPTY_TEXT, "text is empty"))
        self.calls.append(normalize(text))
        intent, conf, action = READ.get(normalize(text), ("general_quirky", 0.2, None))
        return Result(id=id, text=text.strip(), nlu=NLU(intent, conf), action=action)


class Wording:
    """A wording detector that knows a few pairs; every other pair scores `default`."""

    def __init__(self, default: float, pairs: dict[tuple[str, str], float] | None = None) -> None:
        self.default, self.pairs = default, pairs or {}

    def probability(self, prev: str, nxt: str, gap_s: float) -> float:
        a, b = normalize(prev), normalize(nxt)
        return self.pairs.get((a, b), self.pairs.get((b, a), self.default))


@pytest.fixture
def store() -> Any:
    with InteractionStore(":memory:") as s:
        yield s


@pytest.fixture
def engine(store: InteractionStore) -> SelfLearning:
    return SelfLearning(Parser(), store, LearnSettings(reload_interval_s=0.0), rewriter_dir=NO_MODELS)


def _say(engine: SelfLearning, text: str, user: str, ts: float, *, site: str = "den-sat", area: str = "den",
         barge: bool = False) -> Result:
    r = engine.handle_result(text, site=site, session=f"{site}-{ts}", user=user, ts=ts, context={"area": area},
                             query_id=f"{site}-{ts}")
    if barge:
        engine.barge_in(site, f"{site}-{ts}", ts + 1)
    return r


def _retry(engine: SelfLearning, failing: str, working: str, user: str, ts: float, **where: Any) -> None:
    _say(engine, failing, user, ts, barge=True, **where)
    _say(engine, working, user, ts + 6, **where)


# -- the contextual rephrase detector ------------------------------------------------------------------

def _rec(text: str, **kw: Any) -> TurnRecord:
    intent, conf, action = READ.get(normalize(text), ("general_quirky", 0.2, None))
    return TurnRecord(ts=0.0, site="s", text=text, intent=intent, confidence=conf, recognized=conf >= 0.5,
                      action=action.intent if action else None, targets=action.targets if action else (), **kw)


def test_a_failure_cut_off_then_a_working_request_is_a_retry_whatever_the_words() -> None:
    pair = contextual.Pair(_rec("fancy some heat"), ("barge_in", "not_recognized"), _rec("turn on the sauna"),
                           6.0, wording=0.05)
    assert contextual.probability(pair, 45.0) > 0.5


def test_two_working_requests_on_different_devices_are_not_a_retry() -> None:
    pair = contextual.Pair(_rec("turn on the porch light"), (), _rec("turn on the garden light"), 8.0, wording=0.8)
    assert contextual.probability(pair, 45.0) < 0.5
    # the same pair after a barge-in: the user cut the first answer off, the second may well correct it
    cut = contextual.Pair(_rec("turn on the porch light"), ("barge_in",), _rec("turn on the garden light"), 8.0,
                          wording=0.8)
    assert contextual.probability(cut, 45.0) > contextual.probability(pair, 45.0)


def test_the_same_words_again_are_a_retry_and_nothing_outside_the_window_is() -> None:
    same = contextual.Pair(_rec("turn on the sauna"), (), _rec("turn on the sauna"), 5.0, wording=1.0)
    assert contextual.probability(same, 45.0) == 1.0
    late = contextual.Pair(_rec("fancy some heat"), ("barge_in",), _rec("turn on the sauna"), 50.0, wording=0.9)
    assert contextual.probability(late, 45.0) == 0.0


def test_the_engine_marks_retries_by_context(engine: SelfLearning, store: InteractionStore) -> None:
    engine.detector = Wording(0.1)  # type: ignore[assignment]
    _retry(engine, "fancy some heat", "turn on the sauna", "ann", MORNING)
    _say(engine, "turn on the porch light", "ann", MORNING + 300)
    _say(engine, "turn on the garden light", "ann", MORNING + 308)
    marked = {t.turn.text for t in store.turns() if "rephrase" in t.signals}
    assert marked == {"fancy some heat"}


# -- what is learned, and for whom ---------------------------------------------------------------------

def test_a_rewrite_agreed_by_several_users_goes_to_everyone(engine: SelfLearning, store: InteractionStore) -> None:
    for k, (user, site) in enumerate((("ann", "den-sat"), ("bob", "porch-sat"), ("cy", "den-sat"))):
        _retry(engine, "fancy some heat", "turn on the sauna", user, MORNING + 1000 * k, site=site)
    report = engine.learn()
    assert report["precomputed"] == 1 and report["conflicts"] == 0
    r = _say(engine, "fancy some heat", "dee", MORNING + 9000, site="attic-sat", area="attic")
    assert r.rewrite is not None and r.action is not None and r.action.targets == ("switch.sauna",)


def test_one_phrase_with_two_meanings_stays_personal(engine: SelfLearning, store: InteractionStore) -> None:
    for k in range(3):
        _retry(engine, "play my sounds", "play rain sounds", "ann", MORNING + 1000 * k)
        _retry(engine, "play my sounds", "play lullabies", "bob", MORNING + 1000 * k + 500, site="porch-sat",
               area="porch")
    report = engine.learn()
    assert report["precomputed"] == 0
    mine = {(r.user, r.dst) for r in store.rewrites(source="personal")}
    assert mine == {("ann", "play rain sounds"), ("bob", "play lullabies")}
    for user, site, area, query in (("ann", "den-sat", "den", "rain"), ("bob", "porch-sat", "porch", "lullabies")):
        r = _say(engine, "play my sounds", user, MORNING + 9000, site=site, area=area)
        assert r.action is not None and r.action.slots.get("search_query") == query
    assert _say(engine, "play my sounds", "cy", MORNING + 9100).rewrite is None


def test_one_user_who_means_something_else_keeps_a_rewrite_from_everyone(engine: SelfLearning,
                                                                        store: InteractionStore) -> None:
    """Two users retry "play my sounds" into rain sounds, twice each; a third once into lullabies."""
    for k, user in enumerate(("ann", "bob")):
        for j in range(2):
            _retry(engine, "play my sounds", "play rain sounds", user, MORNING + 2000 * k + 600 * j,
                   site=f"{user}-sat")
    _retry(engine, "play my sounds", "play lullabies", "cy", MORNING + 5000, site="cy-sat")
    report = engine.learn()
    assert report["precomputed"] == 0 and report["conflicts"] == 1
    assert {r.user for r in store.rewrites(source="personal")} == {"ann", "bob"}


def test_an_abandoned_session_does_not_teach_its_last_failing_words(engine: SelfLearning,
                                                                   store: InteractionStore) -> None:
    engine.detector = Wording(0.9)  # type: ignore[assignment]
    for k, user in enumerate(("ann", "bob", "cy", "dee")):
        _say(engine, "fancy some heat", user, MORNING + 1000 * k, site=f"{user}-sat", barge=True)
        _say(engine, "heat the steam box", user, MORNING + 1000 * k + 6, site=f"{user}-sat")  # does nothing; gives up
    engine.learn()
    assert store.rewrites() == []


# -- using what was learned ----------------------------------------------------------------------------

def test_a_sure_resolving_reading_is_never_rewritten(engine: SelfLearning, store: InteractionStore) -> None:
    store.add_rewrite(LearnedRewrite(src="turn on the dim light", dst="turn on the porch light", source="precomputed"))
    r = _say(engine, "turn on the dim light", "ann", MORNING)
    assert r.rewrite is None and r.action is not None and r.action.targets == ("light.garden",)


def test_a_rewrite_must_resolve_at_least_as_well(engine: SelfLearning, store: InteractionStore) -> None:
    store.add_rewrite(LearnedRewrite(src="heat the steam box", dst="fancy some heat", source="precomputed"))
    store.add_rewrite(LearnedRewrite(src="heat the sweat box", dst="turn on the sauna", source="precomputed"))
    assert _say(engine, "heat the steam box", "ann", MORNING).rewrite is None  # to something not understood
    r = _say(engine, "heat the sweat box", "ann", MORNING + 100)
    assert r.rewrite is not None and r.action is not None and r.action.targets == ("switch.sauna",)


def test_a_timer_is_a_request_that_worked(engine: SelfLearning, store: InteractionStore) -> None:
    _say(engine, "set a timer for ten minutes", "ann", MORNING)
    (t,) = store.turns()
    assert t.worked and t.turn.resolved


def test_a_personal_habit_holds_where_it_was_learned(engine: SelfLearning, store: InteractionStore) -> None:
    for k in range(3):
        _retry(engine, "play my sounds", "play lullabies", "kid", MORNING + 86400 * k, site="nursery-sat",
               area="nursery")
    engine.learn()
    (r,) = store.rewrites(source="personal")
    assert r.meta["areas"] == ["nursery"]
    here = _say(engine, "play my sounds", "kid", MORNING + 86400 * 5, site="nursery-sat", area="nursery")
    assert here.rewrite is not None
    assert _say(engine, "play my sounds", "kid", MORNING + 86400 * 5 + 300, site="porch-sat",
                area="porch").rewrite is None


def test_scope_learns_a_room_a_floor_and_a_part_of_the_day() -> None:
    evening = [datetime(2030, 3, d, 19, m).timestamp() for d, m in ((1, 0), (2, 30), (3, 10))]
    one_room = learn_scope([("nursery", t) for t in evening], HOME)
    assert one_room == {"areas": ["nursery"], "hours": [18.0, 20.5]}
    assert in_scope(one_room, "Nursery", datetime(2030, 4, 1, 20, 0).timestamp(), HOME)
    assert not in_scope(one_room, "nursery", datetime(2030, 4, 1, 9, 0).timestamp(), HOME)
    assert not in_scope(one_room, "attic", datetime(2030, 4, 1, 20, 0).timestamp(), HOME)
    floor = learn_scope([("den", evening[0]), ("porch", evening[1])], HOME)
    assert floor == {"areas": ["den", "porch"]}  # two observations: any time of day
    assert learn_scope([("den", evening[0]), ("attic", evening[1])], HOME) == {}  # two floors: anywhere
    spread = learn_scope([("den", datetime(2030, 3, 1, h, 0).timestamp()) for h in (8, 13, 21)], HOME)
    assert spread == {"areas": ["den"]}
    midnight = learn_scope([("den", datetime(2030, 3, 1, h, 0).timestamp()) for h in (23, 0, 1)], HOME)
    assert midnight["hours"] == [22.0, 2.0]
    assert in_scope(midnight, "den", datetime(2030, 3, 5, 23, 30).timestamp(), HOME)


# -- close variants --------------------------------------------------------------------------------------

def test_a_variant_may_reword_but_not_name_another_thing_or_number() -> None:
    names = home_words(HOME)
    assert variant_of("switch on the sweat box", "turn on the sweat box", names)
    assert variant_of("could you heat the sweat box please", "heat the sweat box", names)
    assert not variant_of("start the large robot", "start the small robot", names)  # another device's name
    assert not variant_of("set it to 19", "set it to 18", names)
    assert not variant_of("heat the sweat box", "heat the sweat box", names)
    assert transfer_edit("turn on the sweat box", "turn on the sauna", "switch off the sweat box") == \
        "switch off the sauna"
    assert transfer_edit("fancy some heat", "turn on the sauna", "fancy a bit of heat") == "turn on the sauna"


def test_a_close_variant_of_a_learned_failure_is_fixed(engine: SelfLearning, store: InteractionStore) -> None:
    engine.detector = Wording(0.1, {("heat the sweat box", "could you heat the sweat box"): 0.95,
                                    ("start the small robot", "start the large robot"): 0.95})
    store.add_rewrite(LearnedRewrite(src="heat the sweat box", dst="turn on the sauna", source="precomputed"))
    store.add_rewrite(LearnedRewrite(src="start the small robot", dst="start dusty", source="precomputed"))
    r = _say(engine, "could you heat the sweat box", "ann", MORNING)
    assert r.rewrite is not None and r.action is not None and r.action.targets == ("switch.sauna",)
    assert _say(engine, "start the large robot", "ann", MORNING + 100).rewrite is None
    assert _say(engine, "heat the steam box", "ann", MORNING + 200).rewrite is None  # the wording says no


def test_a_version_1_store_gains_the_area_and_slots_of_its_turns(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.sqlite3"
    with InteractionStore(path) as s:
        s.record_turn(TurnRecord(ts=MORNING, site="den-sat", text="turn on the sauna", action="HassTurnOn",
                                 targets=("switch.sauna",)))
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE turns DROP COLUMN slots")
    db.execute("ALTER TABLE turns DROP COLUMN area")
    db.execute("UPDATE meta SET value = 1 WHERE key = 'schema_version'")
    db.commit()
    db.close()
    with InteractionStore(path) as s:
        (old,) = s.turns()
        assert old.turn.area is None and old.turn.slots is None and old.worked
        s.record_turn(TurnRecord(ts=MORNING + 5, site="den-sat", text="play rain sounds", area="den",
                                 action="HassMediaSearchAndPlay", targets=("media_player.den",),
                                 slots={"search_query": "rain"}))
        new = max(s.turns(), key=lambda t: t.turn.ts)
        assert new.turn.area == "den" and new.turn.slots == {"search_query": "rain"}
    db = sqlite3.connect(path)
    assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (2,)
    db.close()
    rec = new.turn
    assert TurnRecord.from_dict(rec.to_dict()) == rec


def test_the_same_list_with_another_item_is_another_request() -> None:
    def add(item: str) -> TurnRecord:
        return TurnRecord(ts=0.0, site="s", text=f"add {item} to the list", intent="lists_createoradd",
                          confidence=0.95, action="HassListAddItem", targets=("todo.shopping",), slots={"item": item})

    pair = contextual.Pair(add("bread"), (), add("lemons"), 9.0, wording=0.75)
    assert contextual.probability(pair, 45.0) < 0.5
    again = contextual.Pair(add("bread"), (), add("bread"), 9.0, wording=1.0)
    assert contextual.probability(again, 45.0) == 1.0


def test_a_retrieved_phrasing_keeps_what_the_request_named() -> None:
    from edge_nlu.learn.variants import keeps_content

    assert keeps_content("switch on the porch light", "turn on the porch light")
    assert keeps_content("turn on the pork light", "turn on the porch light")  # a sound-alike for what it lost
    assert not keeps_content("turn off the party lights", "turn off the lights")
    named = frozenset({"party", "lights"})  # the words the model read as naming something
    assert not keeps_content("turn off the party lights", "turn off the lights", named)
    assert keeps_content("douse the party lights", "turn off the party lights", named)  # only the verb changed


def test_users_agreeing_on_one_satellite_teach_only_that_satellite(engine: SelfLearning,
                                                                   store: InteractionStore) -> None:
    """A room-bound idiom said by three people at one satellite is theirs there; a client forging three users
    from one satellite changes nothing anywhere else."""
    for k, user in enumerate(("ann", "bob", "cy")):
        _retry(engine, "fancy some heat", "turn on the sauna", user, MORNING + 1000 * k, site="den-sat")
    engine.learn()
    (r,) = store.rewrites(source="precomputed")
    assert r.meta["only_sites"] == ["den-sat"]
    assert _say(engine, "fancy some heat", "dee", MORNING + 9000).rewrite is not None
    assert _say(engine, "fancy some heat", "dee", MORNING + 9100, site="porch-sat", area="den").rewrite is None


def test_taught_again_in_another_room_the_places_add_up(engine: SelfLearning, store: InteractionStore) -> None:
    for k, area in enumerate(("den", "porch")):
        _say(engine, "fancy some heat", "ann", MORNING + 1000 * k, site=f"{area}-sat", area=area, barge=False)
        assert engine.feedback_refusal(_last_qid(store), "negative", site=f"{area}-sat") is None
        _say(engine, "turn on the sauna", "ann", MORNING + 1000 * k + 5, site=f"{area}-sat", area=area)
    (r,) = store.rewrites(source="taught")
    assert r.meta["areas"] == ["den", "porch"]  # both rooms of the ground floor
    assert _say(engine, "fancy some heat", "ann", MORNING + 5000, site="attic-sat", area="attic").rewrite is None


def _last_qid(store: InteractionStore) -> str:
    last = max(store.turns(), key=lambda t: t.turn.ts)
    assert last.turn.query_id is not None
    return last.turn.query_id
