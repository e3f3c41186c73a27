"""The household simulator (export/household.py) and the self-learning benchmark on it: real model, real store."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from edge_nlu.learn.engine import SelfLearning
from edge_nlu.learn.settings import LearnSettings
from edge_nlu.learn.store import InteractionStore
from edge_nlu.pipeline import EdgeNLU, load
from export.household import (
    DEMO_HOME,
    AsrChannel,
    Goal,
    Population,
    PopulationKnobs,
    Simulator,
    User,
    UserModel,
    build_population,
    make_goal,
    outcome,
)
from export.household_phrasings import FAMILIES, Family

ROOT = Path(__file__).resolve().parent.parent
NO_MODELS = Path("/nonexistent/rewriter")
T0 = 1_767_225_600.0
KNOBS = PopulationKnobs(users_per_home=(2, 2), goals_per_user=(4, 5))


@pytest.fixture(scope="module")
def nlu() -> EdgeNLU:
    return load(home=DEMO_HOME)


@pytest.fixture(scope="module")
def population(nlu: EdgeNLU) -> Population:
    return build_population(nlu, seed=3, households=2, knobs=KNOBS)


def engine(nlu: EdgeNLU, layers: set[str] | None = None) -> SelfLearning:
    """A real engine on an in-memory store, without the rewriter models (fast, deterministic)."""
    e = SelfLearning(nlu, InteractionStore(":memory:"), LearnSettings(reload_interval_s=0.0), rewriter_dir=NO_MODELS)
    if layers is not None:
        e.layers = set(layers)
    return e


def test_noise_rate_zero_is_the_identity() -> None:
    ch, rng = AsrChannel(noise=0.0), random.Random(1)
    for text in ("turn off the kitchen lights", "play some jazz", "set a timer for ten minutes", "a an the"):
        assert all(ch.hear(text, rng) == text for _ in range(50))


def test_noise_confuses_words_and_drops_articles() -> None:
    ch, rng = AsrChannel(noise=0.4), random.Random(2)
    heard = [ch.hear("turn off the kitchen lights", rng) for _ in range(300)]
    assert sum(h != "turn off the kitchen lights" for h in heard) > 100
    assert any(" of " in f" {h} " for h in heard)  # off -> of
    assert any(w in h.split() for h in heard for w in ("lice", "likes", "lines"))
    assert any("the" not in h.split() for h in heard)  # the article dropped
    # an accent word is misheard at the accent rate, whatever the noise
    accented = AsrChannel(noise=0.0, accent_rate=1.0)
    assert accented.hear("play some jazz", rng, {"jazz": "jas"}) == "play some jas"


def test_population_is_seeded(nlu: EdgeNLU, population: Population) -> None:
    again = build_population(nlu, seed=3, households=2, knobs=KNOBS)
    assert [(u.id, u.habits, u.accent) for u in again.users] == [(u.id, u.habits, u.accent) for u in population.users]
    other = build_population(nlu, seed=4, households=2, knobs=KNOBS)
    assert [u.habits for u in other.users] != [u.habits for u in population.users]


def test_oracle_keeps_only_goals_with_actions(nlu: EdgeNLU, population: Population) -> None:
    oracle = population.oracle
    goals = [g for u in population.users for g in u.goals]
    assert goals
    for g in goals:
        assert g.truth[0]  # an action intent
        result = nlu.parse(g.canonical, g.context, home=population.homes[g.home])
        assert outcome(result, oracle.min_confidence) == g.truth and result["nlu"]["confidence"] >= 0.5
        assert g.variants and any(g.variants.values())
    user = population.users[0]
    joke = Family("joke", "tell me a joke", ("make me laugh",))
    assert make_goal(oracle, joke, 0, "kitchen", {}, user) is None
    lights = next(f for f in FAMILIES if f.name == "lights_off_room")
    goal = make_goal(oracle, lights, 0, "kitchen", {"room": "kitchen"}, user)
    assert goal is not None and goal.truth[:2] == ("HassTurnOff", ("light.cabinet_lights", "light.kitchen_ceiling"))
    assert goal.context["state_overrides"]["light.kitchen_ceiling"]["state"] == "on"


def _stuck_user(population: Population) -> tuple[User, Goal]:
    """A user whose goal nothing can satisfy (its truth is no real action): every attempt fails."""
    g0 = population.users[0].goals[0]
    goal = Goal(g0.family, g0.canonical, g0.slots, g0.home, g0.area, g0.site, g0.context,
                ("HassNothing", (), (), False), 1.0, 12.0, dict(g0.variants))
    habit = next(v for v in goal.variants if v != goal.canonical)
    user = User("stuck", g0.home, "jazz", "friends", "twenty", "big light", {}, [goal], [habit])
    return user, goal


def test_user_rephrases_toward_canonical_and_stops_at_the_cap(nlu: EdgeNLU, population: Population) -> None:
    user, goal = _stuck_user(population)
    pop = Population(population.homes, [user], population.dialect, population.accent_rate, population.oracle)
    model = UserModel(p_barge=1.0, p_rephrase=1.0, p_negative=0.0, p_correction=0.0, p_positive=0.0,
                      p_canonical=0.0, p_repeat=0.0, p_teach=0.0, max_attempts=3, requests_per_day=(3, 3))
    stats = Simulator(5, pop, nlu, engine(nlu, set()), noise=0.0, users=model).run(1, T0)
    assert len(stats.episodes) == 3
    for ep in stats.episodes:
        assert ep["attempts"] == 3 and not ep["solved"]
    by_attempt = list(stats.turns)
    assert len(by_attempt) == 9 and {t.attempt for t in by_attempt} == {1, 2, 3}
    for first, second, third in zip(*[iter(by_attempt)] * 3, strict=True):
        assert first.intended == user.habits[0]
        assert second.intended not in (first.intended, goal.canonical)  # another variant first
        assert third.intended == goal.canonical  # then the plain words
        assert 2.0 <= second.ts - first.ts <= 15.0
    # with p_canonical = 1 the second attempt is already the canonical phrasing
    eager = UserModel(p_canonical=1.0, p_repeat=0.0)
    assert eager.next_phrasing(goal, [user.habits[0]], random.Random(0)) == goal.canonical


def test_a_right_answer_ends_the_request(nlu: EdgeNLU, population: Population) -> None:
    model = UserModel(requests_per_day=(6, 6))
    stats = Simulator(6, population, nlu, engine(nlu, set()), noise=0.0, users=model).run(1, T0)
    for t in stats.turns:
        assert t.correct == t.base_correct  # no learning: the engine is the plain pipeline
    solved_turns = [t for t in stats.turns if t.correct]
    assert solved_turns and all(t.attempt <= 3 for t in stats.turns)
    # after a right turn the same request never goes on
    keys = [(t.user, t.goal, t.ts) for t in stats.turns]
    assert len(keys) == len(set(keys))


def test_same_seed_same_transcript(nlu: EdgeNLU, population: Population) -> None:
    model = UserModel(requests_per_day=(5, 6))

    def transcript(seed: int) -> list[tuple]:
        return Simulator(seed, population, nlu, engine(nlu), noise=0.1, users=model).run(2, T0, 1).transcript()

    a = transcript(11)
    assert a and a == transcript(11)
    assert a != transcript(12)


def test_learning_lowers_the_defect_rate(tmp_path: Path) -> None:
    """End to end, the benchmark's --quick run: learning must beat no learning on held-out sessions."""
    out = tmp_path / "selflearn.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "self_learning.py"), "--quick", "--json",
                           str(out)], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    m = json.loads(out.read_text())["metrics"]
    assert m["no_learning_mismatches"] == 0
    assert m["defect_rate_after"] < m["defect_rate_before"]
    assert m["turns"]["none"] > 50
    assert "defect rate, no learning" in proc.stdout
