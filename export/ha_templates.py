"""Home Assistant's own English sentence templates, sampled over random homes.

The templates come from the `home-assistant-intents` package (CC BY 4.0, see
`export/data/LICENSES/home-assistant-intents.NOTICE.md`), parsed by `hassil`. Expanding a template
completely is combinatorial, so each sample is one random walk through hassil's parsed expression
(one branch per alternative, a random order per permutation), with every `{list}` reference left as
a unique placeholder. Values are then chosen together from a random home (an "anchor" entity fixes
name, area, floor and device class so that the request has targets), substituted for the
placeholders, and their character offsets recorded: the spans index the text exactly.

Each sample carries the frame HA's handler would act on: the intent, the slots as the handler
expects them (list values' `out`, numbers as numbers, the satellite's area where the template takes
it from the context) and, where the sentence determines them, the exact target entity ids.

Two disjoint pools (`train`, `eval`) of rooms, floors, device names, aliases, people, timer and list
names, items, media titles and messages: evaluation homes never share a name with training homes.
HA's intent test sentences (not in the PyPI package) are never used.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from edge_nlu.domain.home import Area, Entity, Floor, Home, norm

from .common import ROOT, load_exclusions
from .generate import dedup_key
from .homes import ROOMS
from .homes import load_kinds as _load_kinds

SPEC = ROOT.parent / "shared" / "spec" / "ha_intents.json"
"""The intents edge-nlu speaks (the project's shared spec); HA's own intent list when it is absent."""

POOLS = ("train", "eval")
"""The two disjoint vocabularies: training data is drawn from `train`, the held-out benchmark from `eval`."""

@lru_cache(maxsize=1)
def load_kinds() -> dict[str, Any]:
    """devices/profiles.yaml's kinds, read once (export.homes reads the file on every call)."""
    return _load_kinds()


# -- vocabularies -------------------------------------------------------------------------------
# Each list is split by position (even -> train, odd -> eval); names are unique across lists where a
# clash would matter (a room named like a floor), so the two pools share no word-for-word name.

_EXTRA_ROOMS = [
    "sewing room", "boot room", "wine cellar", "music room", "reading nook", "craft room",
    "guest bathroom", "en suite", "breakfast room", "drawing room", "back porch", "front porch",
    "boiler room", "box room", "study", "sauna", "store room", "shed", "greenhouse", "toilet",
]
_FLOOR_PAIRS = {
    "train": [("ground floor", "first floor"), ("first floor", "second floor"), ("lower ground", "ground floor"),
              ("ground floor", "attic floor")],
    "eval": [("downstairs", "upstairs"), ("main floor", "upper floor"), ("lower level", "main floor"),
             ("main floor", "top floor")],
}
_FLOOR_NAMES = {p: {n for pair in pairs for n in pair} for p, pairs in _FLOOR_PAIRS.items()}
_ALIASES = ["big light", "main lamp", "cosy lamp", "mood light", "glow", "sunshine", "the beast", "old faithful",
            "reading light", "corner lamp", "sparkle", "moonbeam", "disco lights", "firefly", "lantern", "beacon"]
_PEOPLE = ["alex", "sam", "maria", "jordan", "priya", "tom", "lena", "omar", "grace", "kenji", "nina", "diego",
           "fatima", "oliver", "chloe", "marcus"]
_ZONES = ["work", "school", "the gym", "the office", "grandmas", "the shops", "the park", "the station"]
_TIMER_NAMES = ["pizza", "pasta", "laundry", "tea", "boiled eggs", "rice", "bread", "nap", "homework", "cookies",
                "roast", "potatoes", "parking", "meditation", "workout", "bath", "soup", "steak", "muffins", "yoga"]
_LIST_NAMES = ["grocery list", "chores", "packing list", "work tasks", "hardware store", "birthday list",
               "garden jobs", "camping list", "weekend plans", "school stuff"]
_ITEMS = ["milk", "eggs", "bread", "apples", "coffee beans", "toilet paper", "batteries", "olive oil", "dog food",
          "rice", "bananas", "light bulbs", "butter", "tomatoes", "shampoo", "cheese", "call the plumber",
          "water the plants", "pay the rent", "book a dentist appointment", "oranges", "paper towels",
          "dish soap", "onions", "garlic", "yoghurt", "pasta sauce", "screws", "wrapping paper", "sunscreen"]
_MEDIA = [  # (title, class it is, or None for any)
    ("the beatles", "artist"), ("abbey road", "album"), ("jazz classics", "playlist"), ("hey jude", "track"),
    ("radiohead", "artist"), ("ok computer", "album"), ("chill vibes", "playlist"), ("bohemian rhapsody", "track"),
    ("serial", "podcast"), ("the daily", "podcast"), ("jurassic park", "movie"), ("the godfather", "movie"),
    ("breaking bad", "tv_show"), ("the office", "tv_show"), ("nina simone", "artist"), ("blue", "album"),
    ("morning coffee", "playlist"), ("dancing queen", "track"), ("radiolab", "podcast"), ("inception", "movie"),
    ("friends", "tv_show"), ("coldplay", "artist"), ("rumours", "album"), ("workout mix", "playlist"),
    ("yellow submarine", "track"), ("this american life", "podcast"), ("the matrix", "movie"),
    ("the crown", "tv_show"), ("some jazz", None), ("relaxing music", None), ("classical music", None),
    ("something upbeat", None),
]
_MESSAGES = ["dinner is ready", "time to go", "the movie is starting", "wake up", "please come downstairs",
             "the car is here", "lights out in ten minutes", "someone is at the door", "bedtime in five minutes",
             "time for school", "lunch is on the table", "we are leaving now"]
_SCRIPTS = ["party time", "movie night", "good morning", "bedtime routine", "leaving home", "welcome home",
            "romantic dinner", "reading mode"]
_SCENES = ["cinema", "relax", "focus", "dinner party", "bright", "night mode", "sunset", "wake up glow"]
_BUTTONS = ["doorbell chime", "restart router", "feed the cat", "snooze alarm"]
_TOGGLES = ["guest mode", "vacation mode", "quiet hours", "away mode"]
# kinds the profiles file lacks: key -> (domain, device_class, names)
_EXTRA_KINDS: dict[str, tuple[str, str | None, list[str]]] = {
    "awning": ("cover", "awning", ["awning", "sun awning", "patio awning", "canopy"]),
    "cover_door": ("cover", "door", ["sliding door", "patio door", "barn door", "pocket door"]),
    "gate": ("cover", "gate", ["gate", "driveway gate", "garden gate", "side gate"]),
    "shade": ("cover", "shade", ["shade", "roman shade", "skylight shade", "sun shade"]),
    "cover_window": ("cover", "window", ["roof window", "skylight", "velux", "transom window"]),
    "door_sensor": ("binary_sensor", "door", ["door sensor", "door contact"]),
    "window_sensor": ("binary_sensor", "window", ["window contact", "window sensor"]),
    "occupancy": ("binary_sensor", "occupancy", ["presence sensor", "occupancy sensor"]),
    "motion_sensor": ("binary_sensor", "motion", ["motion sensor", "movement sensor"]),
}
_COVER_KINDS = ["blind", "curtain", "shutter", "garage", "awning", "cover_door", "gate", "shade", "cover_window"]

_INTENT_DOMAINS: dict[str, tuple[str, ...]] = {
    "HassLightSet": ("light",),
    "HassClimateGetTemperature": ("climate",),
    "HassClimateSetTemperature": ("climate",),
    "HassMediaPause": ("media_player",),
    "HassMediaUnpause": ("media_player",),
    "HassMediaNext": ("media_player",),
    "HassMediaPrevious": ("media_player",),
    "HassSetVolume": ("media_player",),
    "HassMediaSearchAndPlay": ("media_player",),
    "HassVacuumStart": ("vacuum",),
    "HassVacuumReturnToBase": ("vacuum",),
    "HassGetWeather": ("weather",),
    "HassListAddItem": ("todo",),
    "HassListCompleteItem": ("todo",),
    "HassSetPosition": ("cover", "valve"),
}
"""Domains a handler acts on whatever the sentence says (HA's intent handlers fix them)."""
ENTITY_INTENTS = frozenset({*_INTENT_DOMAINS, "HassTurnOn", "HassTurnOff", "HassGetState"})
"""Intents that act on or ask about entities of the home: their samples need targets."""
TARGET_SLOTS = frozenset({"name", "area", "floor", "domain", "device_class"})
"""Slots that only select targets: a frame whose targets are checked need not repeat them."""
_WILDCARDS = {"message", "search_query", "zone", "timer_name", "timer_command", "shopping_list_item",
              "todo_list_item"}
_PH = re.compile("\ue000(\\d+)\ue001")


def _split(values: Iterable[str], pool: str) -> tuple[str, ...]:
    """Even positions go to train, odd to eval: a fixed, disjoint split."""
    part = POOLS.index(pool)
    return tuple(v for i, v in enumerate(values) if i % 2 == part)


@dataclass(frozen=True)
class Pool:
    """One side's vocabulary: everything a home or a wildcard value can be called."""

    name: str
    """`train` or `eval`."""
    rooms: tuple[str, ...]
    """Area names."""
    floor_pairs: tuple[tuple[str, str], ...]
    """(lower, upper) floor names of a two-floor home."""
    device_names: Mapping[str, tuple[str, ...]]
    """Friendly names per device kind; an empty tuple means "name it after its room"."""
    aliases: tuple[str, ...]
    """Extra names some entities get."""
    people: tuple[str, ...]
    """Person entities."""
    zones: tuple[str, ...]
    """Places a person can be (the `zone` wildcard of HassGetState)."""
    timer_names: tuple[str, ...]
    """Named timers."""
    todo_lists: tuple[str, ...]
    """To-do list names besides the shopping list."""
    items: tuple[str, ...]
    """List items."""
    media: tuple[tuple[str, str | None], ...]
    """Search queries with the media class they are (None: any)."""
    messages: tuple[str, ...]
    """Broadcast messages."""
    scripts: tuple[str, ...]
    """Script names."""
    scenes: tuple[str, ...]
    """Scene names."""
    buttons: tuple[str, ...]
    """Button names."""
    toggles: tuple[str, ...]
    """input_boolean names."""

    def names(self) -> set[str]:
        """Every name this pool can put into a home or a sentence (lowercase), for the disjointness check."""
        out = {*self.rooms, *(n for p in self.floor_pairs for n in p), *self.aliases, *self.people, *self.zones,
               *self.timer_names, *self.todo_lists, *self.items, *(m for m, _ in self.media), *self.messages,
               *self.scripts, *self.scenes, *self.buttons, *self.toggles}
        for names in self.device_names.values():
            out.update(names)
        return {norm(n) for n in out}


@lru_cache(maxsize=2)
def pool(name: str) -> Pool:
    """The vocabulary of one side (`train` or `eval`)."""
    if name not in POOLS:
        raise ValueError(f"pool must be one of {POOLS}, got {name!r}")
    kinds = load_kinds()
    floor_words = {n for pairs in _FLOOR_PAIRS.values() for pair in pairs for n in pair}
    rooms = [r for r in [*ROOMS, *_EXTRA_ROOMS] if r not in floor_words]
    device_names: dict[str, tuple[str, ...]] = {}
    seen: set[str] = set()  # a name two kinds share ("heater") is split with the first kind only
    for key in ("light", "appliance", "oven", "fan", "climate", "blind", "curtain", "shutter", "garage", "valve",
                "lock", "tv", "speaker", "vacuum", "temperature_sensor", "humidity_sensor", "smoke", "motion",
                "window"):
        names = [n for n in kinds[key].names if n not in seen]
        seen.update(kinds[key].names)
        device_names[key] = _split(names, name) if len(names) >= 4 else ()
    for key, (_, _, names) in _EXTRA_KINDS.items():
        device_names[key] = _split(names, name)
    device_names["weather"] = _split(["forecast", "weather station", "local weather", "met station"], name)
    return Pool(
        name=name, rooms=_split(rooms, name), floor_pairs=tuple(_FLOOR_PAIRS[name]), device_names=device_names,
        aliases=_split(_ALIASES, name), people=_split(_PEOPLE, name), zones=_split(_ZONES, name),
        timer_names=_split(_TIMER_NAMES, name), todo_lists=_split(_LIST_NAMES, name), items=_split(_ITEMS, name),
        media=tuple(m for i, m in enumerate(_MEDIA) if i % 2 == POOLS.index(name)),
        messages=_split(_MESSAGES, name), scripts=_split(_SCRIPTS, name), scenes=_split(_SCENES, name),
        buttons=_split(_BUTTONS, name), toggles=_split(_TOGGLES, name),
    )


# -- homes --------------------------------------------------------------------------------------


def _oid(text: str) -> str:
    return "_".join(norm(text).split())


def _kind(key: str) -> tuple[str, str | None]:
    if key in _EXTRA_KINDS:
        domain, dc, _ = _EXTRA_KINDS[key]
        return domain, dc
    k = load_kinds()[key]
    return k.domain, k.device_class


class _HomeBuilder:
    """A random home from one pool, every entity name unique within it."""

    def __init__(self, p: Pool, rng: random.Random) -> None:
        self.p, self.rng = p, rng
        self.entities: list[Entity] = []
        self.used_ids: set[str] = set()
        self.used_names: set[str] = set()

    def add(self, domain: str, name: str, area: Area | None, state: str, device_class: str | None = None,
            **attrs: Any) -> None:
        if norm(name) in self.used_names:
            if area is None or norm(area.name) in norm(name):
                return
            name = f"{area.name.lower()} {name}"
            if norm(name) in self.used_names:
                return
        self.used_names.add(norm(name))
        base = f"{domain}.{_oid(name)}"
        eid, n = base, 2
        while eid in self.used_ids:
            eid, n = f"{base}_{n}", n + 1
        self.used_ids.add(eid)
        a = dict(attrs)
        if device_class:
            a["device_class"] = device_class
        aliases = [self.rng.choice(self.p.aliases)] if domain == "light" and self.rng.random() < 0.2 else []
        aliases = [x for x in aliases if norm(x) not in self.used_names]
        self.used_names.update(norm(x) for x in aliases)
        self.entities.append(Entity(id=eid, name=name[0].upper() + name[1:], area=area.id if area else None,
                                    state=state, aliases=aliases, attributes=a))

    def device(self, key: str, area: Area, state: str, **attrs: Any) -> None:
        domain, dc = _kind(key)
        names = self.p.device_names.get(key) or ()
        room = area.name.lower()
        if names:
            base = self.rng.choice(names)
            name = f"{room} {base}" if self.rng.random() < 0.4 else base
        else:
            name = f"{room} {self.rng.choice(load_kinds()[key].names)}"
        self.add(domain, name, area, state, dc, **attrs)

    def build(self) -> Home:
        rng, p = self.rng, self.p
        pair = rng.choice(p.floor_pairs)
        floors = [Floor(id=_oid(n), name=n.title()) for n in pair]
        rooms = rng.sample(p.rooms, rng.randint(4, 7))
        areas = [Area(id=_oid(r), name=r.title(), floor=floors[0 if i < (len(rooms) + 1) // 2 else 1].id)
                 for i, r in enumerate(rooms)]
        for area in areas:
            for _ in range(rng.randint(1, 2)):
                on = rng.random() < 0.4
                self.device("light", area, "on" if on else "off", brightness=rng.choice([30, 60, 100]) if on else 0)
            if rng.random() < 0.5:
                t = rng.randint(17, 23)
                self.device("climate", area, "heat", current_temperature=t, temperature=t)
            if rng.random() < 0.6:
                self.device(rng.choice(_COVER_KINDS), area, rng.choice(["open", "closed"]), position=0)
            if rng.random() < 0.5:
                self.device("speaker", area, rng.choice(["idle", "playing", "paused"]), volume_level=30)
            if rng.random() < 0.3:
                self.device("tv", area, rng.choice(["off", "playing"]), volume_level=30)
            if rng.random() < 0.35:
                self.device("fan", area, rng.choice(["on", "off"]))
            if rng.random() < 0.35:
                self.device(rng.choice(["appliance", "oven"]), area, rng.choice(["on", "off"]))
            if rng.random() < 0.3:
                self.device(rng.choice(["temperature_sensor", "humidity_sensor"]), area, str(rng.randint(18, 60)))
            if rng.random() < 0.4:
                self.device(rng.choice(["door_sensor", "window_sensor", "occupancy", "motion_sensor", "smoke"]),
                            area, rng.choice(["on", "off"]))
            if rng.random() < 0.2:
                self.device("lock", area, rng.choice(["locked", "unlocked"]))
            if rng.random() < 0.15:
                self.device("valve", area, rng.choice(["open", "closed"]), position=0)
        for _ in range(rng.randint(1, 2)):
            self.device("vacuum", rng.choice(areas), "docked")
        self.add("weather", rng.choice(p.device_names["weather"]), None,
                 rng.choice(["sunny", "cloudy", "rainy"]), temperature=rng.randint(-5, 30))
        for person in rng.sample(p.people, 2):
            self.add("person", person, None, rng.choice(["home", "not_home"]))
        self.add("todo", "shopping list", None, "0")
        for lst in rng.sample(p.todo_lists, 2):
            self.add("todo", lst, None, "0")
        for domain, names in (("script", p.scripts), ("scene", p.scenes), ("button", p.buttons),
                              ("input_boolean", p.toggles)):
            for n in rng.sample(names, rng.randint(1, 2)):
                self.add(domain, n, None, "off")
        return Home(floors=floors, areas=areas, entities=self.entities)


def build_home(pool_name: str, rng: random.Random) -> Home:
    """A random home whose every name comes from one pool."""
    return _HomeBuilder(pool(pool_name), rng).build()


# -- templates ----------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _intents() -> Any:
    """HA's English intents, parsed by hassil (imported here: only the export extra installs them)."""
    import home_assistant_intents
    from hassil.intents import Intents

    data = home_assistant_intents.get_intents("en")
    if data is None:
        raise RuntimeError("home-assistant-intents has no English data")
    return Intents.from_dict(data)


def spec_intents() -> list[str]:
    """The intents edge-nlu speaks: ../shared/spec/ha_intents.json, or HA's own list without it."""
    if SPEC.exists():
        return list(json.loads(SPEC.read_text(encoding="utf-8"))["intents"])
    import home_assistant_intents

    return sorted((home_assistant_intents.get_intent_info() or {}).keys())


def ha_intent_names() -> set[str]:
    """Every intent HA's English templates cover."""
    return set(_intents().intents)


def missing_intents() -> list[str]:
    """Intents of the spec that HA's English data has no templates for."""
    have = ha_intent_names()
    return [i for i in spec_intents() if i not in have]


@dataclass(frozen=True)
class _Ref:
    """A `{list}` reference met on the walk; its value is chosen later."""

    list_name: str
    slot: str


@dataclass
class _Walk:
    rng: random.Random
    rules: Mapping[str, Any]
    refs: list[_Ref] = field(default_factory=list)

    def text(self, exp: Any) -> str:
        """One random expansion; list references become numbered placeholders."""
        from hassil.expression import Alternative, ListReference, Permutation, RuleReference, Sequence, TextChunk

        if isinstance(exp, TextChunk):
            return str(exp.original_text)
        if isinstance(exp, Alternative):
            return self.text(self.rng.choice(exp.items))
        if isinstance(exp, Permutation):
            items = list(exp.items)
            self.rng.shuffle(items)
            return " ".join(self.text(i) for i in items)
        if isinstance(exp, Sequence):
            return "".join(self.text(i) for i in exp.items)
        if isinstance(exp, ListReference):
            self.refs.append(_Ref(exp.list_name, exp.slot_name))
            return f" \ue000{len(self.refs) - 1}\ue001 " if exp.is_end_of_word else f"\ue000{len(self.refs) - 1}\ue001"
        if isinstance(exp, RuleReference):
            return self.text(self.rules[exp.rule_name].expression)
        raise TypeError(f"unexpected template expression {exp!r}")


@dataclass(frozen=True)
class Span:
    """Where a slot's words are in the text."""

    slot: str
    """HA slot name (`name`, `area`, `brightness`, ...)."""
    start: int
    """Offset of the first character."""
    end: int
    """Offset past the last character."""
    value: str
    """The words, `text[start:end]`."""

    def to_dict(self) -> dict[str, Any]:
        return {"slot": self.slot, "start": self.start, "end": self.end, "value": self.value}


@dataclass(frozen=True)
class Frame:
    """What HA's handler would act on."""

    intent: str
    """HA intent name."""
    slots: Mapping[str, Any]
    """Slot values as the handler expects them."""
    targets: tuple[str, ...] | None
    """Exact entity ids, sorted; None where the sentence does not determine them (timers, a bare
    "pause" with several players in the room)."""

    def to_dict(self) -> dict[str, Any]:
        return {"intent": self.intent, "slots": dict(self.slots),
                "targets": list(self.targets) if self.targets is not None else None}


@dataclass(frozen=True)
class Sample:
    """One sampled request with its labels."""

    text: str
    """The request, lowercase as a speech recogniser writes it."""
    spans: tuple[Span, ...]
    """Slot spans in text order."""
    frame: Frame
    """Intent, slots and targets on the sample's home."""
    context: Mapping[str, Any]
    """Request context (contract section 2): the satellite's area."""
    home: int
    """Index of the home in the sample set's `homes`."""
    template: str
    """The HA template it came from."""

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "intent": self.frame.intent, "spans": [s.to_dict() for s in self.spans],
                "frame": self.frame.to_dict(), "context": dict(self.context), "home": self.home,
                "template": self.template}


@dataclass(frozen=True)
class SampleSet:
    """Samples over a set of homes, and what could not be sampled."""

    pool: str
    """Which vocabulary the homes and values came from."""
    homes: tuple[Home, ...]
    """The homes samples refer to by index."""
    samples: tuple[Sample, ...]
    """The samples, grouped by intent in spec order."""
    dropped_dev_twins: int
    """Samples dropped because they equal a development-set sentence."""
    missing: tuple[str, ...]
    """Spec intents HA's English data has no template for."""
    short: Mapping[str, int]
    """Intents that yielded fewer samples than asked, with how many they yielded."""


def _area_of(home: Home, e: Entity) -> Area | None:
    return home.area(e.area) if e.area else None


def _floor_of(home: Home, e: Entity) -> Floor | None:
    return home.floor_of(e.area) if e.area else None


def _domains(value: Any) -> set[str] | None:
    if value is None:
        return None
    return {str(v) for v in value} if isinstance(value, list) else {str(value)}


def _as_number(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        m = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)\s*%?\s*", v)
        if m:
            return float(m.group(1))
    return None


def slot_ok(want: Any, got: Any) -> bool:
    """Numbers by value, text however it is cased or punctuated."""
    if got is None:
        return False
    wn, gn = _as_number(want), _as_number(got)
    if wn is not None or gn is not None:
        return wn is not None and gn is not None and abs(wn - gn) < 1e-9
    return norm(str(want)) == norm(str(got))


def match_targets(home: Home, intent: str, slots: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The entities HA's target matching picks for these slots (before any state filter); None when
    the slots leave it to the handler's own choice (no name, no area, several candidates)."""
    if intent not in ENTITY_INTENTS:
        return None
    domains = _domains(slots.get("domain")) or set(_INTENT_DOMAINS.get(intent, ()))
    cands = [e for e in home.entities if not domains or e.domain in domains]
    if intent in ("HassTurnOn", "HassTurnOff") and not domains:
        cands = [e for e in cands if e.domain not in ("sensor", "binary_sensor", "person", "todo", "weather")]
    if "name" in slots:
        key = norm(str(slots["name"]))
        cands = [e for e in cands if key in {norm(n) for n in e.names()}]
    if "device_class" in slots:
        cands = [e for e in cands if e.device_class == slots["device_class"]]
    if "area" in slots:
        area = home.area(str(slots["area"]))
        cands = [e for e in cands if area is not None and e.area == area.id]
    if "floor" in slots:
        fl = home.floor(str(slots["floor"]))
        cands = [e for e in cands if fl is not None and (f := _floor_of(home, e)) is not None and f.id == fl.id]
    located = any(k in slots for k in ("name", "area", "floor"))
    by_kind = bool({"domain", "device_class"} & set(slots))
    whole_home = by_kind and intent in ("HassTurnOn", "HassTurnOff", "HassGetState")
    if not located and not whole_home:  # "lights off everywhere", "which locks are unlocked": the whole home
        if len(cands) != 1:
            return None
    if intent in ("HassMediaPause", "HassMediaUnpause", "HassMediaNext", "HassMediaPrevious") \
            and "name" not in slots and len(cands) > 1:
        return None  # HA picks the player by its state
    if intent == "HassMediaSearchAndPlay" and len(cands) > 1:
        return None  # HA's handler wants exactly one player: with several, the choice is the runtime's
    if intent == "HassSetVolume" and "name" not in slots and len(cands) > 1:
        playing = [e for e in cands if e.state == "playing"]
        return tuple(sorted(e.id for e in playing)) if playing else None  # HA sets the ones playing
    return tuple(sorted(e.id for e in cands))


_SHOPPING = {"HassShoppingListAddItem": "HassListAddItem", "HassShoppingListCompleteItem": "HassListCompleteItem"}
"""HA's shopping-list intents and the to-do list intents that win when the words name a to-do list."""


class _Sampler:
    """Draws samples of one intent on one home."""

    def __init__(self, p: Pool, home: Home, rng: random.Random) -> None:
        self.p, self.home, self.rng = p, home, rng
        self.intents = _intents()
        self.media: tuple[str, str | None] = p.media[0]

    def _number(self, slot_list: Any, slot: str) -> tuple[str, float | int]:
        from hassil.intents import RangeType
        from hassil.numbers import get_rbnf_engine

        rng = self.rng
        lo, hi = slot_list.start, slot_list.stop
        if slot_list.type == RangeType.TEMPERATURE:
            lo, hi = 16, 28
        elif slot_list.type == RangeType.PERCENTAGE:
            lo, hi = 5, 100
        elif slot.endswith("hours"):
            lo, hi = 1, 5
        elif slot.endswith(("minutes", "seconds")):
            lo, hi = 1, 59
        step = max(1, slot_list.step)
        value: float | int = rng.randrange(lo, hi + 1, step) if slot_list.type != RangeType.PERCENTAGE \
            else rng.choice([5, 10, 20, 25, 30, 40, 50, 60, 70, 75, 80, 90, 100])
        if slot_list.fraction_type is not None and rng.random() < 0.2:
            value = value + 0.5
        if isinstance(value, float) or not slot_list.words or slot_list.type != RangeType.NUMBER \
                or rng.random() < 0.7:
            text = str(value)
        else:
            text = rng.choice(sorted(set(get_rbnf_engine("en").format_number(value).text_by_ruleset.values())))
        out = value * slot_list.multiplier if slot_list.multiplier else value
        return text, out

    def _wildcard(self, list_name: str) -> tuple[str, Any]:
        rng, p = self.rng, self.p
        if list_name == "message":
            v = rng.choice(p.messages)
        elif list_name == "search_query":
            v = self.media[0]
        elif list_name == "zone":
            v = rng.choice(p.zones)
        elif list_name == "timer_name":
            v = rng.choice(p.timer_names)
        elif list_name == "timer_command":
            v = rng.choice(["turn off the " + m for m in ("lights", "fan", "tv")])
        else:
            v = rng.choice(p.items)
        return v, v

    def one(self, intent_name: str, data: Any, sentence: Any) -> Sample | None:
        from hassil.intents import RangeSlotList, TextSlotList, WildcardSlotList

        rng, home = self.rng, self.home
        rules = {**self.intents.expansion_rules, **(data.expansion_rules or {})}
        lists = {**self.intents.slot_lists, **(data.slot_lists or {})}
        walk = _Walk(rng, rules)
        raw = walk.text(sentence.expression)
        ref_slots = {r.slot for r in walk.refs}
        req = data.requires_context or {}
        media = [m for m in self.p.media if m[1] is not None or "media_class" not in ref_slots]
        self.media = rng.choice(media)
        sat_slot = isinstance(req.get("area"), dict) and bool(req["area"].get("slot"))

        # the anchor entity fixes name, area, floor and device class so that the request has targets
        anchor: Entity | None = None
        if intent_name in ENTITY_INTENTS and (ref_slots & TARGET_SLOTS or sat_slot or data.slots.get("domain")):
            domains = _domains(req.get("domain")) or _domains(data.slots.get("domain")) \
                or set(_INTENT_DOMAINS.get(intent_name, ()))
            cands = [e for e in home.entities if not domains or e.domain in domains]
            if data.slots.get("domain"):
                cands = [e for e in cands if e.domain == data.slots["domain"]]
            if "device_class" in ref_slots:
                dc_lists = [lists[r.list_name] for r in walk.refs if r.slot == "device_class"]
                allowed = {str(v.value_out) for lst in dc_lists for v in getattr(lst, "values", [])}
                cands = [e for e in cands if e.device_class in allowed]
            if ref_slots & {"area", "floor"} or sat_slot or "name" not in ref_slots:
                cands = [e for e in cands if e.area]
            if "person" in (domains or ()) and "name" not in ref_slots:
                cands = [e for e in cands if e.domain == "person"]
            if not cands:
                return None
            anchor = rng.choice(cands)
        sat_area = _area_of(home, anchor) if anchor is not None and anchor.area else rng.choice(home.areas)
        assert sat_area is not None

        values: list[tuple[str, Any]] = []
        for ref in walk.refs:
            slot_list = lists.get(ref.list_name)
            if ref.list_name == "name":
                if anchor is None:
                    return None
                spoken = rng.choice(anchor.names()).lower()
                values.append((spoken, spoken))
            elif ref.list_name == "area":
                area = sat_area if anchor is not None else rng.choice(home.areas)
                values.append((area.name.lower(), area.name))
            elif ref.list_name == "floor":
                fl = _floor_of(home, anchor) if anchor is not None else rng.choice(home.floors)
                if fl is None:
                    return None
                values.append((fl.name.lower(), fl.name))
            elif ref.list_name in _WILDCARDS or isinstance(slot_list, WildcardSlotList):
                values.append(self._wildcard(ref.list_name))
            elif isinstance(slot_list, RangeSlotList):
                values.append(self._number(slot_list, ref.slot))
            elif isinstance(slot_list, TextSlotList):
                choices = list(slot_list.values)
                if ref.slot == "device_class" and anchor is not None:
                    choices = [v for v in choices if v.value_out == anchor.device_class]
                if ref.list_name == "media_class":
                    choices = [v for v in choices if v.value_out == self.media[1]]
                if not choices:
                    return None
                v = rng.choice(choices)
                values.append((" ".join(_Walk(rng, rules).text(v.text_in).split()), v.value_out))
            else:
                return None
        # the placeholders sit in the whitespace-normalised text, so offsets hold after substitution
        template_text = " ".join(raw.split())
        text, spans, pos = "", [], 0
        slots: dict[str, Any] = {}
        for m in _PH.finditer(template_text):
            i = int(m.group(1))
            text += template_text[pos:m.start()]
            spoken, out = values[i]
            spans.append(Span(walk.refs[i].slot, len(text), len(text) + len(spoken), spoken))
            text += spoken
            pos = m.end()
            if walk.refs[i].slot not in slots:
                slots[walk.refs[i].slot] = out
        text = (text + template_text[pos:]).lower()
        for k, v in (data.slots or {}).items():
            slots.setdefault(k, v)
        if sat_slot:
            slots.setdefault("area", sat_area.name)
        shop = re.search(r"\bshopping list\b", text)
        if intent_name in _SHOPPING and shop is not None and any(
                e.domain == "todo" and norm(e.name) == "shopping list" for e in home.entities):
            # HA's matcher prefers the reading that names an entity (recognize_best, best_slot_name="name"):
            # the words name the to-do list called "shopping list"
            intent_name = _SHOPPING[intent_name]
            slots = {"item": slots["item"], "name": "shopping list"} if "item" in slots else slots
            spans = sorted([*spans, Span("name", shop.start(), shop.end(), shop.group(0))], key=lambda s: s.start)
        targets = match_targets(home, intent_name, slots)
        if intent_name in ENTITY_INTENTS and targets == ():
            return None
        return Sample(text=text, spans=tuple(spans), frame=Frame(intent_name, slots, targets),
                      context={"area": sat_area.name}, home=-1, template=str(sentence.text))


def _templates(intent_name: str) -> list[tuple[Any, Any]]:
    intent = _intents().intents.get(intent_name)
    if intent is None:
        return []
    return [(d, s) for d in intent.data for s in d.sentences]


def sample(pool_name: str, per_intent: int, seed: int, homes: int = 20, intents: Iterable[str] | None = None,
           exclude: set[str] | None = None) -> SampleSet:
    """`per_intent` samples of each intent over `homes` random homes of one pool, deterministic by seed.

    Samples equal (after the dedup normalisation) to a development-set sentence are dropped;
    `exclude` defaults to export/data/dev_exclude.txt."""
    p = pool(pool_name)
    exclude = load_exclusions() if exclude is None else exclude
    names = list(intents) if intents is not None else spec_intents()
    home_list = tuple(build_home(pool_name, random.Random(f"ha-home:{pool_name}:{seed}:{i}")) for i in range(homes))
    out: list[Sample] = []
    dropped = 0
    short: dict[str, int] = {}
    have = ha_intent_names()
    for name in names:
        templates = _templates(name)
        if not templates:
            continue
        rng = random.Random(f"ha-sample:{pool_name}:{seed}:{name}")
        got: list[Sample] = []
        seen: set[str] = set()
        tries = 0
        while len(got) < per_intent and tries < per_intent * 30:
            tries += 1
            hi = rng.randrange(len(home_list))
            data, sentence = rng.choice(templates)
            s = _Sampler(p, home_list[hi], rng).one(name, data, sentence)
            if s is None or s.text in seen:
                continue
            if dedup_key(s.text) in exclude:
                dropped += 1
                continue
            seen.add(s.text)
            got.append(Sample(s.text, s.spans, s.frame, s.context, hi, s.template))
        if len(got) < per_intent:
            short[name] = len(got)
        out.extend(got)
    return SampleSet(pool=pool_name, homes=home_list, samples=tuple(out), dropped_dev_twins=dropped,
                     missing=tuple(n for n in names if n not in have), short=short)


def main(argv: list[str] | None = None) -> int:
    """Write a sample set as JSONL (one sample a line) and its homes as JSON, for inspection or training."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    ap.add_argument("--pool", choices=POOLS, default="train")
    ap.add_argument("--per-intent", type=int, default=50)
    ap.add_argument("--homes", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, help="JSONL of samples (stdout without)")
    ap.add_argument("--homes-out", type=Path, help="JSON list of the homes samples refer to")
    args = ap.parse_args(argv)
    ss = sample(args.pool, args.per_intent, args.seed, homes=args.homes)
    lines = "".join(json.dumps(s.to_dict(), ensure_ascii=False) + "\n" for s in ss.samples)
    if args.out:
        args.out.write_text(lines, encoding="utf-8")
    else:
        sys.stdout.write(lines)
    if args.homes_out:
        args.homes_out.write_text(json.dumps([h.to_dict() for h in ss.homes]), encoding="utf-8")
    print(json.dumps({"samples": len(ss.samples), "by_intent": Counter(s.frame.intent for s in ss.samples),
                      "dropped_dev_twins": ss.dropped_dev_twins, "missing": ss.missing, "short": ss.short}),
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
