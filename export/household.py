"""A seeded household simulator for the self-learning layer: people with habits talk to the hub for days.

Model
- Households: homes (the demo home, then random ones from `export.homes.HomeBuilder`), each with
  `users_per_home` people. A person has a favourite genre, show, temperature and a nickname for one light,
  an ASR "accent" (a few words the recognizer systematically mishears for them) and habits: a weighted set
  of goals, each with an hour of the day it peaks at.
- Goals: a family from `household_phrasings.FAMILIES` filled in for one area of the home (the satellite
  there is the Hermes site), plus the state the request is made in (lights on before "lights off").
- Ground truth by oracle, no hand labels: a goal's correct outcome is what the plain pipeline does with
  its canonical phrasing in the same context: (action intent, sorted targets, salient slots such as the
  genre or the minutes, whether a response came back). Goals whose canonical phrasing gets no action are
  dropped. A turn is correct when its result has exactly that outcome; below the service's `min_confidence`
  a result counts as no action (the service answers intentNotRecognized).
- Phrasings: every variant of a goal is pre-screened with the plain pipeline. A region shares a few idioms
  per family (`dialect_size`, taken by a user with `p_dialect`); otherwise a user's habit is a failing
  variant with `p_bad_habit` (people keep their words even when the hub stumbles) or a working one, and
  with `p_personal` an idiosyncratic phrasing ("turn on the big light", "play my music") whose meaning is
  the user's own.
- ASR channel (`AsrChannel`): each confusable word is swapped with `noise`, articles dropped with
  `noise`, one word dropped with `noise / 2`, one repeated with `noise / 3`; the user's accent words are
  swapped with `accent_rate`. noise = 0 and no accent is the identity.
- Reactions (`UserModel`): a wrong outcome gets a barge-in with `p_barge`; then an app correction with
  `p_correction`, or explicit negative feedback instead of a rephrase with `p_negative`, or a rephrase
  within 2-15 s with `p_rephrase`: the same words again with `p_repeat` (as if misheard), else the
  canonical phrasing with `p_canonical` or first another variant, later attempts canonical; at most
  `max_attempts` turns, then the user gives up. When the hub asks "what did you mean?" the user answers
  with the canonical words with `p_answer`. A right outcome gets positive feedback with `p_positive`.
  A user whose own phrasing failed may teach the hub once (`p_teach`): "call the X the big light",
  "i really like jazz".
- Time: a simulated clock; per user and day `requests_per_day` requests at the goals' hours; a new Hermes
  session per utterance (a retry after a barge-in is a new wake-up); `engine.learn()` at 03:00 every
  `learn_every_days`. Every random draw comes from a generator seeded by (seed, user, day, request), so
  runs that differ only in what the hub learned replay the same first attempts.
Per turn `SimStats` keeps who said what (after noise), the rewrite, whether it was right, and whether the
same text was right WITHOUT learning (the plain pipeline, cached), for win/loss and false-rewrite counts.
"""

from __future__ import annotations

import random
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_nlu.domain.home import Entity, Home
from edge_nlu.learn.types import normalize
from export import household_phrasings as ph
from export.household_phrasings import FAMILIES, Family

ROOT = Path(__file__).resolve().parent.parent
DEMO_HOME = ROOT / "devices" / "homes" / "demo.yaml"
SALIENT_SLOTS = ("search_query", "temperature", "hours", "minutes", "seconds")
"""Action slots that are part of the outcome: playing rock is not playing jazz."""
Outcome = tuple[str, tuple[str, ...], tuple[tuple[str, str], ...], bool]


def outcome(result: dict[str, Any], min_confidence: float = 0.0) -> Outcome | None:
    """(intent, sorted targets, salient slots, has response) of a contract result; None without an action or
    below `min_confidence` (the service answers intentNotRecognized there and does nothing)."""
    action = result.get("action")
    conf = float((result.get("nlu") or {}).get("confidence") or 0.0)
    if result.get("error") or not action or not action.get("intent") or conf < min_confidence:
        return None
    slots = action.get("slots") or {}
    salient = tuple(sorted((k, normalize(str(v))) for k, v in slots.items() if k in SALIENT_SLOTS))
    return str(action["intent"]), tuple(sorted(action.get("targets") or ())), salient, bool(result.get("response"))


class Oracle:
    """The plain pipeline (no learning), cached per (home, text, context)."""

    def __init__(self, nlu: Any, homes: list[Home], min_confidence: float = 0.5) -> None:
        self.nlu, self.homes, self.min_confidence = nlu, homes, min_confidence
        self._cache: dict[tuple[int, str, str], dict[str, Any]] = {}

    def parse(self, text: str, home: int, context: dict[str, Any]) -> dict[str, Any]:
        key = (home, normalize(text), repr(sorted(context.items())))
        if key not in self._cache:
            self._cache[key] = self.nlu.parse(text, context, home=self.homes[home])
        return self._cache[key]

    def truth(self, canonical: str, home: int, context: dict[str, Any]) -> Outcome | None:
        """The correct outcome of a goal: the canonical phrasing's; None when it does nothing."""
        return self.outcome(self.parse(canonical, home, context))

    def outcome(self, result: dict[str, Any]) -> Outcome | None:
        return outcome(result, self.min_confidence)


@dataclass
class Goal:
    """Something a user asks for often, where, and what it should do."""

    family: str
    canonical: str
    slots: dict[str, str]
    home: int
    area: str
    site: str
    context: dict[str, Any]
    truth: Outcome
    weight: float
    hour: float
    variants: dict[str, bool] = field(default_factory=dict)
    """Every phrasing of this goal -> whether the plain pipeline gets it right."""
    personal: str | None = None
    """The user's own phrasing, if any."""


@dataclass
class User:
    id: str
    home: int
    genre: str
    show: str
    temp: str
    nick: str
    accent: dict[str, str]
    goals: list[Goal] = field(default_factory=list)
    habits: list[str] = field(default_factory=list)
    """Habitual phrasing per goal (same index)."""


@dataclass(frozen=True)
class PopulationKnobs:
    users_per_home: tuple[int, int] = (2, 4)
    goals_per_user: tuple[int, int] = (8, 12)
    dialect_size: int = 2
    p_dialect: float = 0.4
    p_bad_habit: float = 0.25
    p_personal: float = 0.3
    accent_words: tuple[int, int] = (0, 2)
    accent_rate: float = 0.5


@dataclass
class Population:
    homes: list[Home]
    users: list[User]
    dialect: dict[str, tuple[str, ...]]
    accent_rate: float
    oracle: Oracle


def _fill(template: str, slots: dict[str, str]) -> str:
    return " ".join(template.format(**slots).split())


def _lights(home: Home, area: str) -> list[Entity]:
    return [e for e in home.in_area(area) if e.domain == "light"]


def _candidates(fam: Family, home: Home, user: User, rng: random.Random) -> list[tuple[str, dict[str, str]]]:
    """(area, slots) the family can be asked for in this home."""
    out: list[tuple[str, dict[str, str]]] = []
    base = {"t": user.temp, "genre": user.genre, "show": user.show, "n": rng.choice(ph.MINUTES), "nick": user.nick}
    for a in home.areas:
        ents = home.in_area(a.id)
        names = {e.name.lower() for e in ents}
        slots = {**base, "room": a.name.lower()}
        if fam.needs in ("light", "light2"):
            lights = _lights(home, a.id)
            if len(lights) >= (2 if fam.needs == "light2" else 1):
                out.append((a.id, {**slots, "light": rng.choice(lights).name.lower()}))
        elif fam.needs == "climate" and any(e.domain == "climate" for e in ents):
            out.append((a.id, slots))
        elif fam.needs in ("media", "tv"):
            out += [(a.id, {**slots, "tv": e.name.lower()}) for e in ents if e.domain == "media_player"
                    and (fam.needs == "media" or e.attributes.get("device_class") == "tv")]
        elif fam.needs in ("appliance", "oven"):
            out += [(a.id, {**slots, fam.needs: e.name.lower()}) for e in ents if e.domain == "switch"
                    and (f"{e.name.lower()} temperature" in names) == (fam.needs == "oven")]
        elif fam.needs == "cover":
            out += [(a.id, {**slots, "cover": e.name.lower()}) for e in ents if e.domain == "cover"]
    if fam.needs in ("lock", "vacuum", "none"):
        whole = [e.name.lower() for e in home.entities if e.domain == fam.needs]
        if fam.needs == "none" or whole:
            for a in home.areas:
                out.append((a.id, {**base, "room": a.name.lower(), fam.needs: rng.choice(whole) if whole else ""}))
    return out


def _context(home: Home, area: str, spoken_in: str, site: str, user: str, fam: Family) -> dict[str, Any]:
    """Where the request is said (the satellite's area) and the state it is made in (of the target area)."""
    screen = any(e.attributes.get("device_class") == "tv" for e in home.in_area(spoken_in))
    ctx: dict[str, Any] = {"area": spoken_in, "satellite": {"id": site, "has_screen": screen}, "user": user}
    over: dict[str, dict[str, Any]] = {}
    if fam.state in ("lights_on", "lights_off"):
        on = fam.state == "lights_on"
        over = {e.id: {"state": "on" if on else "off", "attributes": {"brightness": 70 if on else 0}}
                for e in _lights(home, area)}
    elif fam.state == "tv_off":
        over = {e.id: {"state": "off"} for e in home.in_area(area) if e.attributes.get("device_class") == "tv"}
    elif fam.state == "oven_on":
        over = {e.id: {"state": "on"} for e in home.in_area(area) if e.domain == "switch"
                and home.entity(f"sensor.{e.id.split('.', 1)[1]}_temperature") is not None}
    if over:
        ctx["state_overrides"] = over
    return ctx


def make_goal(oracle: Oracle, fam: Family, home_idx: int, area: str, slots: dict[str, str], user: User,
              site_area: str | None = None) -> Goal | None:
    """A goal with its oracle outcome and screened variants; None when the canonical phrasing does nothing."""
    home = oracle.homes[home_idx]
    spoken_in = site_area or area
    site = f"h{home_idx}-{spoken_in}"
    ctx = _context(home, area, spoken_in, site, user.id, fam)
    canonical = _fill(fam.canonical, slots)
    truth = oracle.truth(canonical, home_idx, ctx)
    if truth is None:
        return None
    goal = Goal(fam.name, canonical, slots, home_idx, area, site, ctx, truth, fam.weight, 0.0)
    for t in fam.variants + fam.personal:
        text = _fill(t, slots)
        goal.variants[text] = oracle.outcome(oracle.parse(text, home_idx, ctx)) == truth
    return goal


def build_population(nlu: Any, seed: int, households: int = 3, knobs: PopulationKnobs | None = None,
                     homes: list[Home] | None = None, min_confidence: float = 0.5) -> Population:
    """Homes, users, goals, habits and accents, all drawn from `seed`."""
    from export.homes import HomeBuilder, load_kinds

    k = knobs or PopulationKnobs()
    rng = random.Random(f"population:{seed}")
    if homes is None:
        homes = [Home.load(DEMO_HOME)]
        builder = HomeBuilder(load_kinds(), random.Random(seed))
        homes += [builder.build() for _ in range(households - 1)]
    homes = homes[:households]
    oracle = Oracle(nlu, homes, min_confidence)
    dialect = {f.name: tuple(rng.sample(f.variants, min(k.dialect_size, len(f.variants)))) for f in FAMILIES}
    users: list[User] = []
    for h, home in enumerate(homes):
        for i in range(rng.randint(*k.users_per_home)):
            u = User(f"h{h}u{i}", h, rng.choice(ph.GENRES), rng.choice(ph.SHOWS), rng.choice(ph.TEMPERATURES),
                     rng.choice(ph.NICKNAMES), {})
            base_area = rng.choice(home.areas).id
            want = rng.randint(*k.goals_per_user)
            seen: set[tuple[str, str]] = set()
            for _ in range(want * 6):
                if len(u.goals) >= want:
                    break
                fam = rng.choices(FAMILIES, weights=[f.weight for f in FAMILIES])[0]
                cands = _candidates(fam, home, u, rng)
                if not cands:
                    continue
                area, slots = rng.choice(cands)
                key = (fam.name, "" if fam.needs in ("lock", "vacuum", "none") else area)
                if key in seen:
                    continue
                seen.add(key)
                spoken = base_area if fam.where == "room" and rng.random() < 0.5 else None
                goal = make_goal(oracle, fam, h, area, slots, u, spoken)
                if goal is None:
                    continue
                goal.weight = fam.weight * min(8.0, rng.lognormvariate(0.0, 0.8))
                goal.hour = rng.choice(fam.hours) + rng.uniform(-1.0, 1.0)
                u.goals.append(goal)
                u.habits.append(_habit(goal, fam, dialect[fam.name], k, rng))
            # the accent: a few of the words this user says that the recognizer keeps mishearing
            said = sorted({w for text in u.habits + [g.canonical for g in u.goals] for w in text.split()}
                          & set(ph.CONFUSIONS))
            words = rng.sample(said, min(len(said), rng.randint(*k.accent_words)))
            u.accent = {w: rng.choice(ph.CONFUSIONS[w]) for w in words}
            users.append(u)
    return Population(homes, users, dialect, k.accent_rate, oracle)


def _habit(goal: Goal, fam: Family, dialect: tuple[str, ...], k: PopulationKnobs, rng: random.Random) -> str:
    personal = [_fill(t, goal.slots) for t in fam.personal]
    if personal and rng.random() < k.p_personal:
        goal.personal = rng.choice(personal)
        return goal.personal
    if dialect and rng.random() < k.p_dialect:
        return _fill(rng.choice(dialect), goal.slots)
    shared = [_fill(t, goal.slots) for t in fam.variants]
    bad = [t for t in shared if not goal.variants.get(t)]
    good = [t for t in shared if goal.variants.get(t)]
    pool = bad if bad and rng.random() < k.p_bad_habit else (good or shared)
    return rng.choice(pool)


class AsrChannel:
    """A seeded recognizer: confusable words, dropped articles, a dropped or repeated word."""

    def __init__(self, noise: float = 0.05, accent_rate: float = 0.6) -> None:
        self.noise, self.accent_rate = noise, accent_rate

    def hear(self, text: str, rng: random.Random, accent: dict[str, str] | None = None) -> str:
        out: list[str] = []
        for w in text.split():
            if accent and w in accent and rng.random() < self.accent_rate:
                out.append(accent[w])
            elif w in ph.CONFUSIONS and rng.random() < self.noise:
                out.append(rng.choice(ph.CONFUSIONS[w]))
            elif w in ph.ARTICLES and rng.random() < self.noise:
                continue
            else:
                out.append(w)
        words = " ".join(out).split()
        if len(words) > 2 and rng.random() < self.noise / 2:
            del words[rng.randrange(len(words))]
        if words and rng.random() < self.noise / 3:
            i = rng.randrange(len(words))
            words.insert(i, words[i])
        return " ".join(words) or text


@dataclass(frozen=True)
class UserModel:
    p_barge: float = 0.6
    p_rephrase: float = 0.8
    p_negative: float = 0.08
    p_answer: float = 0.8
    p_correction: float = 0.02
    p_positive: float = 0.05
    p_canonical: float = 0.6
    p_repeat: float = 0.15
    p_teach: float = 0.1
    max_attempts: int = 3
    rephrase_gap_s: tuple[float, float] = (2.0, 15.0)
    requests_per_day: tuple[int, int] = (20, 40)

    def next_phrasing(self, goal: Goal, tried: list[str], rng: random.Random) -> str:
        """Users fall back to plain words: the same words again (`p_repeat`, as if misheard), the canonical
        phrasing, or first another variant."""
        if rng.random() < self.p_repeat:
            return tried[-1]
        if len(tried) >= 2 or goal.canonical in tried or rng.random() < self.p_canonical:
            return goal.canonical
        others = [v for v in goal.variants if v not in tried and v != goal.personal]
        return rng.choice(others) if others else goal.canonical


@dataclass
class TurnLog:
    run: str
    query_id: str
    day: int
    ts: float
    user: str
    goal: str
    family: str
    attempt: int
    intended: str
    said: str
    rewrite: str | None
    source: str | None
    correct: bool
    base_correct: bool
    handle_ms: float
    plain_ms: float | None = None

    @property
    def first(self) -> bool:
        return self.attempt == 1


@dataclass
class SimStats:
    turns: list[TurnLog] = field(default_factory=list)
    episodes: list[dict[str, Any]] = field(default_factory=list)
    teachings: int = 0
    learn_reports: list[dict[str, Any]] = field(default_factory=list)

    def defect_rate(self, baseline: bool = False, first_only: bool = False) -> float:
        ts = [t for t in self.turns if t.first or not first_only]
        return sum(not (t.base_correct if baseline else t.correct) for t in ts) / max(1, len(ts))

    def task_failure_rate(self) -> float:
        return sum(not e["solved"] for e in self.episodes) / max(1, len(self.episodes))

    def rewrites_by_source(self) -> dict[str, int]:
        return dict(sorted(Counter(t.source for t in self.turns if t.source).items()))

    def win_loss(self, source: str | None = None) -> dict[str, int]:
        """Over turns a rewrite (of `source`, or any) fired on: win, loss and ties against the plain parse."""
        out = Counter({"win": 0, "loss": 0, "tie_right": 0, "tie_wrong": 0})
        for t in self.turns:
            if t.source and (source is None or t.source == source):
                if t.base_correct:
                    key = "tie_right" if t.correct else "loss"
                else:
                    key = "win" if t.correct else "tie_wrong"
                out[key] += 1
        return dict(out)

    def false_rewrites(self) -> tuple[int, int]:
        """(turns right without learning that a rewrite made wrong, turns right without learning)."""
        right = [t for t in self.turns if t.base_correct]
        return sum(1 for t in right if t.source and not t.correct), len(right)

    def transcript(self) -> list[tuple[Any, ...]]:
        return [(t.day, round(t.ts, 3), t.user, t.goal, t.attempt, t.said, t.source, t.correct) for t in self.turns]

    def summary(self) -> dict[str, Any]:
        ms = sorted(t.handle_ms for t in self.turns) or [0.0]
        return {
            "turns": len(self.turns), "sessions": len(self.turns), "requests": len(self.episodes),
            "defect_rate": round(self.defect_rate(), 4), "baseline_defect_rate": round(self.defect_rate(True), 4),
            "first_attempt_defect_rate": round(self.defect_rate(first_only=True), 4),
            "task_failure_rate": round(self.task_failure_rate(), 4), "rewrites": self.rewrites_by_source(),
            "teachings": self.teachings, "handle_ms_p50": round(statistics.median(ms), 3),
        }


def _last(items: Any) -> Any:
    return items[-1] if items else None


class Simulator:
    """Replays a population's habits against `engine` (a `SelfLearning`) day by day."""

    def __init__(self, seed: int, population: Population, nlu: Any, engine: Any, *, noise: float = 0.05,
                 users: UserModel | None = None, name: str = "run", time_plain: bool = False) -> None:
        self.seed, self.pop, self.nlu, self.engine, self.name = seed, population, nlu, engine, name
        self.model = users or UserModel()
        self.channel = AsrChannel(noise, population.accent_rate)
        self.oracle = population.oracle
        self.time_plain = time_plain
        self._taught: set[tuple[str, str]] = set()
        self._n = 0

    def schedule(self, day: int, start_ts: float) -> list[tuple[float, User, int, random.Random]]:
        """(ts, user, goal index, the request's own generator) for one day, in time order."""
        out = []
        for u in self.pop.users:
            if not u.goals:
                continue
            rng = random.Random(f"{self.seed}:{u.id}:{day}")
            n = rng.randint(*self.model.requests_per_day)
            picks = rng.choices(range(len(u.goals)), weights=[g.weight for g in u.goals], k=n)
            times = sorted((min(23.9, max(6.0, rng.gauss(u.goals[i].hour, 1.0))), i) for i in picks)
            last = -1e9
            for k, (hour, i) in enumerate(times):
                ts = max(start_ts + hour * 3600.0, last + 120.0)
                last = ts
                out.append((ts, u, i, random.Random(f"{self.seed}:{u.id}:{day}:{k}")))
        out.sort(key=lambda x: (x[0], x[1].id))
        return out

    def run(self, days: int, start_ts: float, learn_every_days: int | None = None,
            first_day: int = 0) -> SimStats:
        """`days` of traffic from `start_ts` (a local midnight); learning at 03:00 after every N days."""
        stats = SimStats()
        for d in range(days):
            day0 = start_ts + d * 86400.0
            for ts, u, gi, rng in self.schedule(first_day + d, day0):
                self._episode(stats, first_day + d, ts, u, gi, rng)
            if learn_every_days and (d + 1) % learn_every_days == 0:
                report = self.engine.learn(now=day0 + 86400.0 + 3 * 3600.0)
                stats.learn_reports.append({k: v for k, v in report.items() if k != "user_list"})
        return stats

    def _episode(self, stats: SimStats, day: int, ts: float, u: User, gi: int, rng: random.Random) -> None:
        goal, m = u.goals[gi], self.model
        home = self.pop.homes[goal.home]
        intended, tried, t = u.habits[gi], [], ts
        solved = False
        for attempt in range(1, m.max_attempts + 1):
            tried.append(intended)
            said = self.channel.hear(intended, rng, u.accent)
            self._n += 1
            qid, session = f"{self.name}-q{self._n}", f"{self.name}-s{self._n}"
            q0 = _last(getattr(self.engine, "questions", None))
            t0 = time.perf_counter()
            result = self.engine.handle(said, site=goal.site, session=session, user=u.id, ts=t, query_id=qid,
                                        context=dict(goal.context), home=home)
            handle_ms = (time.perf_counter() - t0) * 1e3
            plain_ms = None
            if self.time_plain:
                t0 = time.perf_counter()
                self.nlu.parse(said, dict(goal.context), home=home)
                plain_ms = (time.perf_counter() - t0) * 1e3
            base = self.oracle.parse(said, goal.home, goal.context)
            ok, base_ok = (self.oracle.outcome(r) == goal.truth for r in (result, base))
            rw = result.get("rewrite") or {}
            stats.turns.append(TurnLog(self.name, qid, day, t, u.id, goal.canonical, goal.family, attempt, intended,
                                       said, rw.get("text"), rw.get("source"), ok, base_ok, handle_ms, plain_ms))
            if ok:
                solved = True
                if rng.random() < m.p_positive:
                    self.engine.feedback(qid, "positive", t + 3.0)
                break
            if rng.random() < m.p_barge:
                self.engine.barge_in(goal.site, session, t + rng.uniform(0.5, 2.5))
            if rng.random() < m.p_correction:  # typed into the app: a correction, no more talking
                self.engine.feedback(qid, "correction", t + 20.0, text=goal.canonical, site=goal.site, user=u.id)
                break
            negative = rng.random() < m.p_negative  # "that's wrong" instead of rephrasing
            if negative:
                self.engine.feedback(qid, "negative", t + 3.0)
            asked = _last(getattr(self.engine, "questions", None))
            if asked is not None and asked != q0 and asked[0] == goal.site and rng.random() < m.p_answer:
                intended, t = goal.canonical, t + rng.uniform(4.0, 8.0)  # "what did you mean?" answered
            elif not negative and attempt < m.max_attempts and rng.random() < m.p_rephrase:
                intended, t = m.next_phrasing(goal, tried, rng), t + rng.uniform(*m.rephrase_gap_s)
            else:
                break
        stats.episodes.append({"user": u.id, "goal": goal.canonical, "attempts": len(tried), "solved": solved})
        if goal.personal and tried[0] == goal.personal and not (solved and len(tried) == 1):
            self._maybe_teach(stats, u, goal, t + 50.0, rng)

    def _maybe_teach(self, stats: SimStats, u: User, goal: Goal, ts: float, rng: random.Random) -> None:
        """Once per user and thing, someone fed up with being misunderstood tells the hub what they mean."""
        text = ph.TEACH_ALIAS.format(**goal.slots) if goal.family == "light_named" else \
            ph.TEACH_GENRE.format(genre=u.genre) if goal.family == "play_genre" else None
        if text is None or (u.id, text) in self._taught or rng.random() >= self.model.p_teach:
            return
        self._taught.add((u.id, text))
        self._n += 1
        self.engine.handle(text, site=goal.site, session=f"{self.name}-s{self._n}", user=u.id, ts=ts,
                           query_id=f"{self.name}-q{self._n}", context=dict(goal.context),
                           home=self.pop.homes[goal.home])
        stats.teachings += 1
