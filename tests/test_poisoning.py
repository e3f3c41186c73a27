"""Learning cannot be turned against the house: the poisoning attempts of the security review (issue 10),
on the engine with the shipped NLU model, a real store and a home with a lock, a garage and an alarm."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from edge_nlu.domain.home import Home
from edge_nlu.domain.result import Result
from edge_nlu.learn.engine import TEACH_INTENT, SelfLearning
from edge_nlu.learn.guard import check_rewrite, is_sensitive
from edge_nlu.learn.settings import LearnSettings
from edge_nlu.learn.store import InteractionStore
from edge_nlu.learn.types import LearnedRewrite, TurnRecord
from edge_nlu.pipeline import EdgeNLU
from edge_nlu.settings import RuntimeSettings
from tests.conftest import SHIPPED, Mishearing, misheard_lights_on

T0 = 1_790_000_000.0
NO_MODELS = Path("/nonexistent/rewriter")
SECURE_HOME = """
areas:
  - {id: hall, name: Hall}
  - {id: garage, name: Garage}
  - {id: kitchen, name: Kitchen}
entities:
  - {id: lock.front_door, name: Front door, area: hall, state: locked}
  - {id: cover.garage_door, name: Garage door, area: garage, state: closed, attributes: {device_class: garage}}
  - {id: alarm_control_panel.house_alarm, name: Alarm, area: hall, state: armed_away}
  - {id: light.kitchen_ceiling, name: Kitchen ceiling, area: kitchen, state: "off", attributes: {brightness: 0}}
  - {id: cover.kitchen_blinds, name: Kitchen blinds, area: kitchen, state: open, attributes: {device_class: blind}}
"""
KITCHEN = {"area": "kitchen"}


@pytest.fixture(scope="module")
def nlu() -> Mishearing:
    """The shipped model, with the misreadings the tests learn from fixed (unsure, so learning may fix them)."""
    real = EdgeNLU(RuntimeSettings(model_dir=SHIPPED), home=Home.from_dict(yaml.safe_load(SECURE_HOME)))
    return Mishearing(real, {"douse the kitchen lights": misheard_lights_on(),
                             "make the kitchen dark": misheard_lights_on()})


class _Retry:
    """Rephrase detector stand-in: every next request of the same user within the window is a retry (the
    shipped detector is not needed to test what is learned from the chains)."""

    def probability(self, a: str, b: str, gap: float) -> float:
        return 1.0


@pytest.fixture
def engine(nlu: Mishearing, store: InteractionStore) -> SelfLearning:
    e = SelfLearning(nlu, store, LearnSettings(reload_interval_s=0.0), rewriter_dir=NO_MODELS)
    e.detector = _Retry()
    return e


def action(result: dict[str, Any]) -> tuple[str | None, list[str]]:
    a = result.get("action") or {}
    return a.get("intent"), sorted(a.get("targets") or [])


LOCKS = ("HassTurnOn", ["lock.front_door"])  # HA: turn on a lock = lock it


def _attack_chain(engine: SelfLearning, t: float, site: str = "hall-puck", user: str = "mallory") -> None:
    """One made-up conversation: "lock the front door", barge-in, "the front door", barge-in, "unlock ..."."""
    for i, text in enumerate(("lock the front door", "the front door", "unlock the front door")):
        engine.handle(text, site=site, session=f"s{t}-{i}", user=user, ts=t + 4 * i)
        if i < 2:
            engine.barge_in(site, f"s{t}-{i}", t + 4 * i + 1)


def test_the_guard_on_parses(nlu: Mishearing) -> None:
    def p(text: str) -> Result:
        return nlu.parse_result(text, KITCHEN)

    home = nlu.home
    assert is_sensitive("lock.front_door") and is_sensitive("cover.garage_door", home)
    assert not is_sensitive("cover.kitchen_blinds", home) and not is_sensitive("light.kitchen_ceiling", home)
    assert check_rewrite(p("lock the front door"), p("unlock the front door"), home) == "sensitive"
    assert check_rewrite(p("close the garage door"), p("open the garage door"), home) == "sensitive"
    assert check_rewrite(p("what time is it"), p("disarm the alarm"), home) == "sensitive"
    assert check_rewrite(p("turn on the kitchen lights"), p("turn off the kitchen lights"), home) == "opposite"
    assert check_rewrite(p("close the kitchen blinds"), p("open the kitchen blinds"), home) == "opposite"
    assert check_rewrite(p("lights in the kitchen please"), p("turn on the kitchen lights"), home) is None
    assert check_rewrite(p("lock the front door"), p("lock the front door please"), home) is None
    # only ever more secure: locking what a failed original left alone may be learned, never the reverse
    assert check_rewrite(p("what time is it"), p("lock the front door"), home) is None
    # ...and a request that worked is never turned into locking something
    lights_on = p("turn on the kitchen lights")
    assert lights_on.action is not None and lights_on.action.targets == ("light.kitchen_ceiling",)
    assert check_rewrite(lights_on, p("lock the front door"), home, 0.0) == "sensitive"
    assert check_rewrite(p("lock the front door"), p("what time is it"), home) == "sensitive"
    assert check_rewrite(p("what time is it"), p("open the garage door"), home) == "sensitive"
    assert check_rewrite(p("open the garage door"), p("is the garage door open"), home) == "sensitive"
    assert check_rewrite(p("unlock the front door"), p("lock the front door"), home, 0.7,
                         "unlock the front door") is not None  # the words said unlock, and it worked


def test_mined_chains_from_one_client_never_make_lock_unlock(engine: SelfLearning, store: InteractionStore) -> None:
    for k in range(3):
        _attack_chain(engine, T0 + 1000 * k)
    report = engine.learn(now=T0 + 10_000)
    assert report["precomputed"] == 0
    assert not any(r.src == "lock the front door" for r in store.rewrites())
    for user in ("mallory", "alex", None):
        r = engine.handle("lock the front door", site="hall-puck", user=user, ts=T0 + 20_000)
        assert r["rewrite"] is None and action(r) == LOCKS
    assert any(e["event"] == "rejected" and e["src"] == "lock the front door" for e in store.audit())


def test_forged_users_and_sites_still_cannot_flip_the_lock(engine: SelfLearning, store: InteractionStore) -> None:
    for k in range(6):  # six "users" on six "satellites", all from one attacker
        _attack_chain(engine, T0 + 1000 * k, site=f"sat-{k}", user=f"user-{k}")
    report = engine.learn(now=T0 + 10_000)
    assert report["guard_dropped"] >= 1
    assert not any(r.src == "lock the front door" for r in store.rewrites())
    assert action(engine.handle("lock the front door", site="sat-0", user="alex", ts=T0 + 20_000)) == LOCKS


def test_a_stored_unsafe_rewrite_is_not_used(engine: SelfLearning, store: InteractionStore) -> None:
    """The use-time guard: a rewrite that got into the store some other way still never unlocks or flips."""
    store.replace_rewrites("precomputed", [
        LearnedRewrite(src="lock the front door", dst="unlock the front door", source="precomputed", score=0.99),
        LearnedRewrite(src="turn on the kitchen lights", dst="turn off the kitchen lights", source="precomputed",
                       score=0.99),
        LearnedRewrite(src="douse the kitchen lights", dst="unlock the front door", source="precomputed",
                       score=0.99)])
    engine.reload(force=True)
    r = engine.handle("lock the front door", site="p", user="alex", ts=T0)
    assert r["rewrite"] is None and action(r) == LOCKS
    r = engine.handle("turn on the kitchen lights", site="p", user="alex", ts=T0 + 1, context=KITCHEN)
    assert r["rewrite"] is None and action(r) == ("HassTurnOn", ["light.kitchen_ceiling"])
    # both were sure readings, never rewritten; an unsure one may be, but the guard refuses an unlock
    r = engine.handle("douse the kitchen lights", site="p", user="alex", ts=T0 + 2, context=KITCHEN)
    assert r["rewrite"] is None and action(r) == ("HassTurnOn", ["light.kitchen_ceiling"])
    assert engine.guard_blocked == 1


def test_global_promotion_needs_distinct_users_on_distinct_sites(engine: SelfLearning,
                                                                  store: InteractionStore) -> None:
    def chain(user: str, site: str, t: float) -> None:
        engine.handle("douse the kitchen lights", site=site, session=f"a{t}", user=user, ts=t, context=KITCHEN)
        engine.barge_in(site, f"a{t}", t + 1)
        engine.handle("turn off the kitchen lights", site=site, session=f"b{t}", user=user, ts=t + 5,
                      context=KITCHEN)

    for k in range(4):  # four "users", one satellite: it holds at that satellite only
        chain(f"u{k}", "kitchen-puck", T0 + 1000 * k)
    engine.learn(now=T0 + 10_000)
    (rw,) = store.rewrites(user=None, source="precomputed")
    assert rw.meta["only_sites"] == ["kitchen-puck"]
    assert engine.handle("douse the kitchen lights", site="kitchen-puck", user="newcomer", ts=T0 + 20_000,
                         context=KITCHEN)["rewrite"]["source"] == "precomputed"
    assert engine.handle("douse the kitchen lights", site="kitchen-screen", user="newcomer", ts=T0 + 20_100,
                         context=KITCHEN)["rewrite"] is None
    chain("u4", "kitchen-screen", T0 + 30_000)  # a second satellite: now it is for everyone
    engine.learn(now=T0 + 40_000)
    (rw,) = store.rewrites(user=None, source="precomputed")
    assert rw.src == "douse the kitchen lights" and rw.meta["users"] == ["u0", "u1", "u2", "u3", "u4"]
    assert rw.meta["sites"] == ["kitchen-puck", "kitchen-screen"] and "only_sites" not in rw.meta


def test_corrections_must_come_from_the_turn_own_site_and_user_in_time(engine: SelfLearning,
                                                                       store: InteractionStore) -> None:
    engine.handle("close the garage door", site="garage-puck", user="alex", ts=T0, query_id="q1")
    # someone else's correction: no site, the wrong site, the wrong user
    assert engine.feedback_refusal("q1", "correction", None, "open the garage door") is not None
    assert engine.feedback_refusal("q1", "correction", None, "open the garage door", site="hall") is not None
    assert engine.feedback_refusal("q1", "correction", None, "open the garage door", site="garage-puck",
                                   user="mallory") is not None
    assert engine.feedback_refusal("q1", "positive", None, site="hall") is not None  # mismatch: any signal
    assert engine.feedback_refusal("q1", "correction", T0 + 3600, "open the garage door", site="garage-puck",
                                   user="alex") is not None  # long after the turn
    # the right site and user: accepted as a signal, but opening the garage is never learned
    assert engine.feedback_refusal("q1", "correction", None, "open the garage door", site="garage-puck",
                                   user="alex") is None
    assert store.rewrites() == []
    r = engine.handle("close the garage door", site="garage-puck", user="alex", ts=T0 + 60)
    assert r["rewrite"] is None and action(r) == ("HassTurnOff", ["cover.garage_door"])
    assert any(e["event"] == "rejected" and e["reason"] == "guard: sensitive" for e in store.audit())
    # plain feedback without siteId still only marks the turn (the independent replay sends it so)
    assert engine.feedback("q1", "negative")


def test_a_site_default_user_correction_needs_the_site_only(engine: SelfLearning, store: InteractionStore) -> None:
    engine.site_users["kitchen-puck"] = "alex"
    engine.handle("douse the kitchen lights", site="kitchen-puck", user="alex", ts=T0, query_id="q1",
                  context=KITCHEN)
    assert engine.feedback("q1", "correction", None, "turn off the kitchen lights", site="kitchen-puck")
    assert [r.src for r in store.rewrites(user="alex")] == ["douse the kitchen lights"]


@pytest.mark.parametrize("command", ["unlock the front door", "open the garage", "disarm the alarm"])
def test_a_taught_sensitive_command_waits_for_a_yes(engine: SelfLearning, store: InteractionStore,
                                                    command: str) -> None:
    r = engine.handle(f"when i say good night {command}", site="hall-puck", user="alex", ts=T0)
    assert r["nlu"]["intent"] == TEACH_INTENT and "say yes" in r["response"].lower()
    site, _session, question = engine.questions.popleft()
    assert site == "hall-puck" and "good night" in question and "yes" in question.lower()
    assert store.preferences("alex") == []
    # another user's (or another satellite's) yes does not confirm it
    engine.handle("yes", site="hall-puck", user="mallory", ts=T0 + 5)
    engine.handle("yes", site="kitchen-puck", user="alex", ts=T0 + 6)
    assert store.preferences("alex") == []  # still waiting
    engine.handle("yes", site="hall-puck", user="alex", ts=T0 + 12)
    assert [p.key for p in store.preferences("alex")] == ["good night"]
    r = engine.handle("good night", site="hall-puck", user="alex", ts=T0 + 20)
    assert r["rewrite"]["source"] == "taught" and r["rewrite"]["text"] == command
    events = [e["event"] for e in store.audit() if e["src"] == "good night"]
    assert events == ["pending", "confirmed"]


def test_an_unconfirmed_or_late_yes_teaches_nothing(engine: SelfLearning, store: InteractionStore) -> None:
    engine.handle("when i say good night unlock the front door", site="hall-puck", user="alex", ts=T0)
    engine.handle("yes", site="hall-puck", user="alex", ts=T0 + 3600)  # long after the question
    engine.handle("when i say open sesame open the garage door", site="hall-puck", user="alex", ts=T0 + 4000)
    engine.handle("what time is it", site="hall-puck", user="alex", ts=T0 + 4005)  # not an answer: dropped
    engine.handle("yes", site="hall-puck", user="alex", ts=T0 + 4010)
    assert store.preferences("alex") == []
    r = engine.handle("good night", site="hall-puck", user="alex", ts=T0 + 5000)
    assert r["rewrite"] is None


def test_a_harmless_teaching_is_immediate_and_a_flip_is_refused(engine: SelfLearning,
                                                                store: InteractionStore) -> None:
    r = engine.handle("when i say movie time turn off the kitchen lights", site="p", user="alex", ts=T0)
    assert "movie time" in r["response"] and store.preferences("alex")
    r = engine.handle("when i say turn on the kitchen lights turn off the kitchen lights", site="p", user="alex",
                      ts=T0 + 10)
    assert "opposite" in r["response"]
    assert [p.key for p in store.preferences("alex")] == ["movie time"]


def test_a_rewrite_that_keeps_working_is_not_retired(engine: SelfLearning, store: InteractionStore) -> None:
    """Issue 10 item 6: successful rewritten uses used to count as successes of the failing phrase."""
    for k, (user, site) in enumerate((("a", "s1"), ("b", "s2"), ("c", "s1"))):
        t = T0 + 1000 * k
        engine.handle("douse the kitchen lights", site=site, session=f"x{k}", user=user, ts=t, context=KITCHEN)
        engine.barge_in(site, f"x{k}", t + 1)
        engine.handle("turn off the kitchen lights", site=site, session=f"y{k}", user=user, ts=t + 5,
                      context=KITCHEN)
    assert engine.learn(now=T0 + 5000)["precomputed"] == 1
    for k in range(8):  # it works for everyone, night after night
        r = engine.handle("douse the kitchen lights", site="s3", user=f"n{k}", ts=T0 + 10_000 + 100 * k,
                          context=KITCHEN)
        assert r["rewrite"]["source"] == "precomputed"
        engine.learn(now=T0 + 10_050 + 100 * k)
    assert [r.src for r in store.rewrites(user=None, source="precomputed")] == ["douse the kitchen lights"]


def test_forget_user_removes_hub_rewrites_mined_from_them(engine: SelfLearning, store: InteractionStore) -> None:
    store.replace_rewrites("precomputed", [
        LearnedRewrite(src="douse the kitchen lights", dst="turn off the kitchen lights", source="precomputed",
                       meta={"users": ["alex"], "sites": ["s1"]}),
        LearnedRewrite(src="kill the kitchen lights", dst="turn off the kitchen lights", source="precomputed",
                       meta={"users": ["sam"], "sites": ["s2"]})])
    counts = engine.forget(user="alex")
    assert counts["rewrites"] == 1
    assert [r.src for r in store.rewrites()] == ["kill the kitchen lights"]


def test_our_own_intent_not_recognized_is_one_signal(engine: SelfLearning, store: InteractionStore) -> None:
    engine.handle("blah flurb wibble", site="p", user="alex", ts=T0, query_id="q1")
    assert not engine.not_recognized("q1")  # the echo of our own answer
    (turn,) = store.turns()
    assert turn.signals.count("not_recognized") <= 1
    engine.handle("turn on the kitchen lights", site="p", user="alex", ts=T0 + 100, query_id="q2", context=KITCHEN)
    assert engine.not_recognized("q2") and not engine.not_recognized("q2")


def test_a_far_future_time_is_reached_by_retention_and_forget(engine: SelfLearning, store: InteractionStore) -> None:
    engine.handle("turn on the kitchen lights", site="p", user="alex", ts=4_102_444_800.0 * 2, context=KITCHEN)
    (turn,) = store.turns()
    assert turn.turn.ts <= time.time() + 5  # year ~2230 became the arrival time
    store.record_turn(TurnRecord(ts=4_102_444_800.0 * 2, site="p", text="written before the fix"))
    counts = engine.forget(before=time.time() + 60)
    assert counts["turns"] == 2 and store.turns() == []


def test_allowed_sites_record_only_those(nlu: Mishearing, store: InteractionStore) -> None:
    engine = SelfLearning(nlu, store, LearnSettings(reload_interval_s=0.0, allowed_sites=("hall-puck",)),
                          rewriter_dir=NO_MODELS)
    r = engine.handle("turn on the kitchen lights", site="rogue", user="alex", ts=T0, query_id="q1", context=KITCHEN)
    assert action(r) == ("HassTurnOn", ["light.kitchen_ceiling"])  # answered
    r = engine.handle("when i say movie time turn off the kitchen lights", site="rogue", user="alex", ts=T0 + 1)
    assert r["nlu"]["intent"] != TEACH_INTENT
    assert store.turns() == [] and store.preferences(None) == []
    engine.handle("turn on the kitchen lights", site="hall-puck", user="alex", ts=T0 + 2, context=KITCHEN)
    assert [t.turn.site for t in store.turns()] == ["hall-puck"]


def test_learning_security_settings_are_checked() -> None:
    from edge_nlu.errors import ConfigError

    s = LearnSettings.from_dict({"shared_secret": "s3cret", "allowed_sites": ["a", "b"], "min_global_users": 3})
    assert s.allowed_sites == ("a", "b") and s.min_global_users == 3
    assert LearnSettings.from_dict(s.to_dict()) == s
    for bad in ({"shared_secret": 5}, {"shared_secret": ""}, {"allowed_sites": "a"}, {"allowed_sites": [1]},
                {"min_global_sites": 0}, {"min_global_users": "two"}, {"feedback_window_s": "soon"}):
        with pytest.raises(ConfigError, match="learning"):
            LearnSettings.from_dict(bad)


def test_a_misheard_direction_may_be_fixed_a_said_one_not(nlu: Mishearing) -> None:
    """The opposite rule protects what the words say; "turn of" (misheard "off") read as on may be fixed."""
    from edge_nlu.learn.guard import said_direction

    on = nlu.parse_result("turn on the kitchen lights", KITCHEN)
    off = nlu.parse_result("turn off the kitchen lights", KITCHEN)
    assert check_rewrite(on, off, nlu.home, 0.7, "turn on the kitchen lights") == "opposite"
    assert check_rewrite(on, off, nlu.home, 0.7, "turn of the kitchen lights") is None
    assert said_direction("unlock the front door", ("power", -1)) and not said_direction("the front door", ("power", 1))


def test_learn_list_shows_the_audit_log(engine: SelfLearning, store: InteractionStore) -> None:
    import argparse
    import io
    import json

    from edge_nlu.cli.learn import run_learn

    engine.handle("when i say good night unlock the front door", site="hall-puck", user="alex", ts=T0)
    engine.handle("yes", site="hall-puck", user="alex", ts=T0 + 5)
    for k in range(3):
        _attack_chain(engine, T0 + 1000 * (k + 1))
    engine.learn(now=T0 + 10_000)
    engine.learn(now=T0 + 10_100)  # a second night does not log the same refusal again
    out = io.StringIO()
    run_learn(argparse.Namespace(config=None, store=Path(store.path), list=True, json=True), out)
    audit = json.loads(out.getvalue())["audit"]
    assert [(e["event"], e["src"], e["users"], e["sites"]) for e in audit if e["src"] == "good night"] == [
        ("pending", "good night", ["alex"], ["hall-puck"]), ("confirmed", "good night", ["alex"], ["hall-puck"])]
    rejected = [e for e in audit if e["event"] == "rejected" and e["src"] == "lock the front door"]
    assert len(rejected) == 1 and rejected[0]["users"] == ["mallory"] and rejected[0]["reason"].startswith("guard")
    out = io.StringIO()
    run_learn(argparse.Namespace(config=None, store=Path(store.path), list=True, json=False), out)
    assert "confirmed" in out.getvalue() and "mallory" in out.getvalue()
