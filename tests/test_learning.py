"""SelfLearning with the shipped NLU model and a real SQLite store: taught, corrected, mined, forgotten."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from edge_nlu.domain.home import Home
from edge_nlu.learn.engine import TEACH_INTENT, SelfLearning
from edge_nlu.learn.settings import LearnSettings
from edge_nlu.learn.store import InteractionStore
from edge_nlu.learn.types import LearnedRewrite, TurnRecord
from edge_nlu.pipeline import EdgeNLU
from edge_nlu.settings import RuntimeSettings
from tests.conftest import HOME_YAML, SHIPPED, Mishearing, misheard_lights_on

T0 = 1_790_000_000.0
KITCHEN = {"area": "kitchen"}
NO_MODELS = Path("/nonexistent/rewriter")


@pytest.fixture(scope="module")
def nlu() -> Mishearing:
    """The shipped model, with the misreadings the tests learn from fixed (unsure, so learning may fix them)."""
    real = EdgeNLU(RuntimeSettings(model_dir=SHIPPED), home=Home.from_dict(yaml.safe_load(HOME_YAML)))
    return Mishearing(real, {"douse the kitchen lights": misheard_lights_on(),
                             "make the kitchen dark": misheard_lights_on()})


@pytest.fixture
def engine(nlu: Mishearing, store: InteractionStore) -> SelfLearning:
    """Without the rewriter models: taught and precomputed layers only, repeats as rephrases."""
    return SelfLearning(nlu, store, LearnSettings(reload_interval_s=0.0), rewriter_dir=NO_MODELS)


def action(result: dict) -> tuple[str | None, list[str]]:
    a = result.get("action") or {}
    return a.get("intent"), sorted(a.get("targets") or [])


def test_every_turn_is_recorded_with_its_result(engine: SelfLearning, store: InteractionStore) -> None:
    r = engine.handle("turn off the kitchen lights", site="puck", session="s1", user="alex", ts=T0, query_id="q1",
                      context=KITCHEN)
    assert action(r) == ("HassTurnOff", ["light.kitchen_ceiling"]) and r["rewrite"] is None
    (t,) = store.turns()
    assert (t.turn.query_id, t.turn.user, t.turn.site, t.turn.session) == ("q1", "alex", "puck", "s1")
    assert t.turn.action == "HassTurnOff" and t.turn.targets == ("light.kitchen_ceiling",)
    assert t.turn.recognized and not t.defect and len(t.turn.context_digest) == 16


def test_bad_input_is_an_error_result_not_a_crash(engine: SelfLearning) -> None:
    assert engine.handle("   ", user="alex", ts=T0)["error"]["code"] == "empty_text"
    assert engine.feedback("no-such-id", "negative", T0) is False
    assert engine.not_recognized("no-such-id", T0) is False
    assert engine.barge_in("nowhere", None, T0) is False


def test_barge_in_and_repeat_make_the_turn_a_defect(engine: SelfLearning, store: InteractionStore) -> None:
    engine.handle("douse the kitchen lights", site="puck", session="s1", user="alex", ts=T0, context=KITCHEN)
    assert engine.barge_in("puck", "s1", T0 + 2)
    engine.handle("douse the kitchen lights", site="puck", session="s2", user="alex", ts=T0 + 5, context=KITCHEN)
    first, second = sorted(store.turns(), key=lambda t: t.turn.ts)
    assert first.defect and {"barge_in", "rephrase"} <= set(first.signals)
    assert not {"barge_in", "rephrase"} & set(second.signals)  # nothing followed the repeat
    # a repeat after a defect is a teachable moment: the service asks what was meant
    assert engine.questions and "douse the kitchen lights" in engine.questions[-1][2]


def test_teaching_a_genre_is_used_from_the_next_request(engine: SelfLearning) -> None:
    r = engine.handle("i really like jazz", site="puck", user="alex", ts=T0, context=KITCHEN)
    assert r["nlu"]["intent"] == TEACH_INTENT and "jazz" in r["response"].lower() and r["action"] is None
    r = engine.handle("play some music", site="puck", user="alex", ts=T0 + 10, context=KITCHEN)
    assert (r["action"] or {}).get("slots", {}).get("search_query") == "jazz"
    other = engine.handle("play some music", site="puck", user="sam", ts=T0 + 20, context=KITCHEN)
    assert (other["action"] or {}).get("slots", {}).get("search_query") != "jazz"


def test_a_taught_phrase_rewrites_for_its_user_only(engine: SelfLearning) -> None:
    engine.handle("when i say movie time turn off the living room lights", site="puck", user="alex", ts=T0)
    r = engine.handle("movie time", site="puck", user="alex", ts=T0 + 30, context=KITCHEN)
    assert r["rewrite"] == {"text": "turn off the living room lights", "source": "taught", "score": 1.0}
    assert r["text"] == "movie time"
    assert action(r) == ("HassTurnOff", ["light.sofa_lamp"])
    assert engine.handle("movie time", site="puck", user="sam", ts=T0 + 40)["rewrite"] is None


def test_a_correction_becomes_a_personal_taught_rewrite(engine: SelfLearning, store: InteractionStore) -> None:
    engine.handle("douse the kitchen lights", site="puck", user="alex", ts=T0, query_id="q1", context=KITCHEN)
    assert not engine.feedback("q1", "correction", T0 + 3, "turn off the kitchen lights")  # names no site
    assert not engine.feedback("q1", "correction", T0 + 3, "turn off the kitchen lights", site="puck", user="sam")
    assert engine.feedback("q1", "correction", T0 + 3, "turn off the kitchen lights", site="puck", user="alex")
    r = engine.handle("Douse the kitchen lights!", site="puck", user="alex", ts=T0 + 60, context=KITCHEN)
    assert r["rewrite"]["source"] == "taught" and action(r) == ("HassTurnOff", ["light.kitchen_ceiling"])
    assert engine.handle("douse the kitchen lights", site="puck", user="sam", ts=T0 + 70,
                         context=KITCHEN)["rewrite"] is None
    assert "correction" in store.turns(user="alex")[0].signals


def test_negative_feedback_asks_and_the_answer_is_learned(engine: SelfLearning) -> None:
    engine.handle("make the kitchen dark", site="puck", user="alex", ts=T0, query_id="q1", context=KITCHEN)
    assert engine.feedback("q1", "negative", T0 + 2)
    site, _session, question = engine.questions.popleft()
    assert site == "puck" and "make the kitchen dark" in question
    engine.handle("turn off the kitchen lights", site="puck", user="alex", ts=T0 + 8, context=KITCHEN)
    r = engine.handle("make the kitchen dark", site="puck", user="alex", ts=T0 + 100, context=KITCHEN)
    assert r["rewrite"]["source"] == "taught" and action(r) == ("HassTurnOff", ["light.kitchen_ceiling"])


def _chain(store: InteractionStore, user: str, t: float, *texts: str) -> None:
    """One failed-then-rephrased-then-succeeded chain, as the service records it."""
    ids = [store.record_turn(TurnRecord(ts=t + 5 * i, site=f"{user}-puck", text=x, user=user, action="HassTurnOff",
                                        targets=("light.kitchen_ceiling",), confidence=0.9))
           for i, x in enumerate(texts)]
    for i, tid in enumerate(ids[:-1]):
        store.add_signal(tid, "barge_in", t + 5 * i + 1)
        store.add_signal(tid, "rephrase", t + 5 * i + 5)


def test_learn_mines_a_precomputed_rewrite_across_users(engine: SelfLearning, store: InteractionStore) -> None:
    for i, user in enumerate(["alex", "sam", "kim", "lee"]):
        _chain(store, user, T0 + 1000 * i, "douse the kitchen lights", "turn off the kitchen lights")
    report = engine.learn(now=T0 + 10_000)
    assert report["precomputed"] == 1 and report["chains"] == 4
    (rw,) = store.rewrites(user=None, source="precomputed")
    assert (rw.src, rw.dst) == ("douse the kitchen lights", "turn off the kitchen lights") and rw.score > 0.9
    r = engine.handle("douse the kitchen lights", site="new-puck", user="newcomer", ts=T0 + 20_000, context=KITCHEN)
    assert r["rewrite"]["source"] == "precomputed" and action(r) == ("HassTurnOff", ["light.kitchen_ceiling"])
    engine.layers.discard("precomputed")
    assert engine.handle("douse the kitchen lights", site="x", ts=T0 + 20_100, context=KITCHEN)["rewrite"] is None


def test_another_process_learning_reaches_a_running_engine(nlu: Mishearing, tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    with InteractionStore(path) as serving_store:
        engine = SelfLearning(nlu, serving_store, LearnSettings(reload_interval_s=0.0), rewriter_dir=NO_MODELS)
        assert engine.handle("douse the kitchen lights", site="p", ts=T0, context=KITCHEN)["rewrite"] is None
        with InteractionStore(path) as other:  # `edge-nlu learn` in another process writes here
            other.replace_rewrites("precomputed", [LearnedRewrite(
                src="douse the kitchen lights", dst="turn off the kitchen lights", source="precomputed", score=0.95,
                support=5)])
        r = engine.handle("douse the kitchen lights", site="p", ts=T0 + 10, context=KITCHEN)
        assert r["rewrite"] == {"text": "turn off the kitchen lights", "source": "precomputed", "score": 0.95}


def test_forget_a_user_erases_what_they_taught(engine: SelfLearning, store: InteractionStore) -> None:
    engine.handle("when i say movie time turn off the living room lights", site="p", user="alex", ts=T0)
    engine.handle("i like jazz", site="p", user="sam", ts=T0)
    counts = engine.forget(user="alex")
    assert counts["preferences"] == 1 and counts["turns"] == 1
    assert engine.handle("movie time", site="p", user="alex", ts=T0 + 5)["rewrite"] is None
    assert [p.user for p in store.preferences(None)] == ["sam"]


def test_learning_settings_round_trip_and_refuse_unknown_keys(tmp_path: Path) -> None:
    from edge_nlu.errors import ConfigError
    from edge_nlu.service.config import ServeSettings

    d = {"broker": {"uri": "mqtt://localhost:1883"},
         "learning": {"store": "state/learn.sqlite3", "miner": {"min_support": 4}, "rewriter": {"min_score": 0.8}}}
    s = ServeSettings.from_dict(d, base_dir=tmp_path)
    assert s.learning is not None and s.learning.store == str(tmp_path / "state" / "learn.sqlite3")
    assert s.learning.miner.min_support == 4 and s.learning.rewriter.min_score == 0.8
    assert ServeSettings.from_dict(s.to_dict(), base_dir=tmp_path) == s
    assert LearnSettings.from_dict(s.learning.to_dict()) == s.learning
    assert ServeSettings.from_dict({"broker": {"uri": "mqtt://h:1"}}).learning is None
    with pytest.raises(ConfigError, match="unknown key"):
        LearnSettings.from_dict({"stor": "x"})
    with pytest.raises(ConfigError, match="number"):
        LearnSettings.from_dict({"rephrase_window_s": "soon"})


def test_an_answer_that_does_not_work_is_not_learned(engine: SelfLearning, store: InteractionStore) -> None:
    engine.handle("make the kitchen dark", site="puck", user="alex", ts=T0, query_id="q1", context=KITCHEN)
    assert engine.feedback("q1", "negative", T0 + 2)
    engine.handle("blah blah flurb", site="puck", user="alex", ts=T0 + 8, context=KITCHEN)  # misheard answer
    assert store.rewrites(user="alex") == []
    r = engine.handle("make the kitchen dark", site="puck", user="alex", ts=T0 + 100, context=KITCHEN)
    assert r["rewrite"] is None


def test_a_half_built_rewriter_folder_falls_back_instead_of_failing(nlu: Mishearing, store: InteractionStore,
                                                                    tmp_path: Path) -> None:
    broken = tmp_path / "rewriter"
    broken.mkdir()
    (broken / "tokenizer.json").write_text("{}")
    engine = SelfLearning(nlu, store, LearnSettings(), rewriter_dir=broken)
    assert engine.rewriter is None and engine.detector is None
    r = engine.handle("turn off the kitchen lights", site="p", ts=T0, context=KITCHEN)
    assert action(r) == ("HassTurnOff", ["light.kitchen_ceiling"])
