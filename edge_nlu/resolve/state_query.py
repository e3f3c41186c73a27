"""State questions as Home Assistant's HassGetState reads them, answered from the live state.

HA's English templates ask about one device ('is the garage door open'), about a kind of device
with a quantifier ('are any lights on', 'are all the doors locked', 'which fans are off', 'how many
blinds are open upstairs') and about people ('is anyone home', 'who is at work', 'where is Alex').
The frame carries HA's slots (domain, device_class, state, area, floor, name) and, as targets, what
HA's target matching picks before the state filter: with a quantifier the whole home unless an area
or floor is named. The answer is HA's: yes/no (with which ones for 'any'), the names for 'which', a
count for 'how many'. A plain 'are the lights on' keeps the resolver's own conventions (the
satellite's room); only the state it asks about is added here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from edge_nlu.domain.home import Area, Entity, Floor, norm
from edge_nlu.domain.result import Action
from edge_nlu.resolve import answers as respond
from edge_nlu.resolve.match import Request

INTENT = "HassGetState"

# -- the words --------------------------------------------------------------------------------

_STATES: dict[str, dict[str, str]] = {
    # HA's lists (on_off_states, cover_states, lock_states, bs_open_states, bs_occupancy_states)
    "on": {"on_off": "on", "binary": "on"},
    "off": {"on_off": "off", "binary": "off"},
    "open": {"cover": "open", "binary": "on"},
    "closed": {"cover": "closed", "binary": "off"},
    "shut": {"cover": "closed", "binary": "off"},
    "opening": {"cover": "opening"},
    "closing": {"cover": "closing"},
    "shutting": {"cover": "closing"},
    "locked": {"lock": "locked"},
    "securely locked": {"lock": "locked"},
    "unlocked": {"lock": "unlocked"},
    "occupied": {"binary": "on"},
    "detected": {"binary": "on"},
    "triggered": {"binary": "on"},
    "empty": {"binary": "off"},
    "clear": {"binary": "off"},
    "unoccupied": {"binary": "off"},
    # binary sensors of other device classes, in HA's own state names
    "wet": {"binary": "on"},
    "dry": {"binary": "off"},
    "low": {"binary": "on"},
    "charging": {"binary": "on"},
    "connected": {"binary": "on"},
    "disconnected": {"binary": "off"},
    "home": {"person": "home"},
    "away": {"person": "not_home"},
    "not home": {"person": "not_home"},
    "not at home": {"person": "not_home"},
}
"""State words, and the state HA stores for each family of device that has them."""
_STATE_RE = re.compile(r"(?<!\S)(" + "|".join(
    re.escape(w) for w in sorted(_STATES, key=len, reverse=True)) + r")(?!\S)")

_FAMILY = {"light": "on_off", "switch": "on_off", "fan": "on_off", "input_boolean": "on_off",
           "media_player": "on_off", "climate": "on_off", "humidifier": "on_off", "siren": "on_off",
           "automation": "on_off", "water_heater": "on_off", "cover": "cover", "valve": "cover",
           "lock": "lock", "binary_sensor": "binary", "person": "person"}
"""Which state words a domain's states are said in."""

_LOCKABLE = {"lock": ("lock", None)}
_KINDS: tuple[tuple[str, Mapping[str, tuple[str, str | None]]], ...] = (
    # HA's <light>, fan[s], switch[es]: on/off
    (r"lights?|lighting|lamps?|bulbs?", {"on_off": ("light", None)}),
    (r"fans?", {"on_off": ("fan", None)}),
    (r"switch(?:es)?|plugs?|sockets?", {"on_off": ("switch", None)}),
    # HA's <lockable> with lock states, its cover classes with cover states
    (r"locks?", _LOCKABLE),
    (r"garage doors?", {**_LOCKABLE, "cover": ("cover", "garage"), "binary": ("binary_sensor", "garage_door")}),
    (r"doors?", {**_LOCKABLE, "cover": ("cover", "door"), "binary": ("binary_sensor", "door")}),
    (r"windows?", {**_LOCKABLE, "cover": ("cover", "window"), "binary": ("binary_sensor", "window")}),
    (r"gates?", {**_LOCKABLE, "cover": ("cover", "gate")}),
    (r"shutters?", {**_LOCKABLE, "cover": ("cover", "shutter")}),
    (r"awnings?", {"cover": ("cover", "awning")}),
    (r"blinds?", {"cover": ("cover", "blind")}),
    (r"curtains?", {"cover": ("cover", "curtain")}),
    (r"shades?", {"cover": ("cover", "shade")}),
    (r"valves?", {"cover": ("valve", None)}),
    # binary sensors by device class: 'is there any motion', 'are any leaks detected'
    (r"motion|movement", {"binary": ("binary_sensor", "motion")}),
    (r"smoke", {"binary": ("binary_sensor", "smoke")}),
    (r"leaks?|moisture", {"binary": ("binary_sensor", "moisture")}),
    (r"occupancy|presence", {"binary": ("binary_sensor", "occupancy")}),
    (r"batteries|battery", {"binary": ("binary_sensor", "battery")}),
)
"""Kind words of state questions: for each family of state words, the domain and device class meant."""
_KIND_RES = tuple((re.compile(rf"(?<!\S)(?:{pattern})(?!\S)"), readings) for pattern, readings in _KINDS)
_FAMILY_ORDER = ("cover", "lock", "on_off", "binary")
_SENSORS = {"motion": "motion sensors", "moisture": "leak sensors", "smoke": "smoke detectors",
            "occupancy": "presence sensors", "battery": "battery sensors", "window": "window sensors",
            "door": "door sensors", "garage_door": "garage door sensors"}
"""What to call the binary sensors of a class a place has none of."""

_ASK = r"(?:(?:is|are|do|does)(?: (?:there|the|my|our))? |(?:do|have|did) (?:i|we|you) (?:have|left|leave) )?"
_QUANTIFIERS = (
    ("any", re.compile(rf"^(?:{_ASK}(?:any|some)|is there an?)\b")),
    ("all", re.compile(rf"^{_ASK}(?:all|every|each)\b")),
    ("which", re.compile(r"^(?:which|what)\b(?! (?:is|about)\b)")),
    ("how_many", re.compile(r"^how many\b")),
)
"""HA's <are_any>, <are_all>, <which> and <how_many>, at the start of the question."""
_ASKED = re.compile(r"^(?:is|are|which|what|how many|(?:do|have|did) (?:i|we|you) (?:have|left|leave))\b")
"""A question for sure, whatever intent the model read ('all lights off' is also a command)."""
_PEOPLE = (
    ("any", re.compile(r"^(?:is|are) (?:there )?(?:anyone|anybody|someone|somebody)\b")),
    ("all", re.compile(r"^(?:is|are) (?:everyone|everybody)\b")),
    ("which", re.compile(r"^(?:who is|whos|who are)\b")),
    ("how_many", re.compile(r"^how many (?:people|persons)(?: are)?\b")),
)
_WHERE = re.compile(r"^(?:where is|wheres|where are|where can i find)\b")
_IN = frozenset({"in", "on", "at", "of", "across", "around", "throughout"})
_THE = frozenset({"the", "my", "our"})
_PRESENCE = ("occupancy", "presence", "motion")
"""Binary sensors that say someone is in a room ('is anyone in the kitchen')."""


@dataclass(frozen=True)
class Said:
    """A stretch of the normalised text and what it says."""

    text: str
    """The words."""
    start: int
    """First character in the normalised text."""
    end: int
    """Past the last character."""

    def inside(self, spans: Iterable[tuple[int, int]]) -> bool:
        return any(self.start < e and s < self.end for s, e in spans)


@dataclass(frozen=True)
class Question:
    """What a state question asks, read from the words."""

    quantifier: str
    """HA's response: `any`, `all`, `which`, `how_many` or `one_yesno`."""
    state: str | None
    """The state HA stores for it (`on`, `closed`, `locked`, `home`, a zone)."""
    said: str
    """The state as the answer says it ('open' for a window sensor that is `on`)."""


# -- entry points -----------------------------------------------------------------------------

def ask(req: Request, ha: str | None) -> tuple[Action, str] | None:
    """The frame and answer of a question about a kind of device or about people; None for other
    requests (a plain 'is the X on' keeps the resolver's conventions, see `stated`)."""
    if ha != INTENT and not _ASKED.search(req.t):
        return None
    people = _people(req)
    if people is not None:
        return people
    again = _again(req)
    if again is not None:
        return again
    quantifier = next((q for q, rx in _QUANTIFIERS if rx.search(req.t)), None)
    if quantifier is None:
        return None
    area, floor, places = _places(req)
    if req.unknown_area and area is None and floor is None:
        return None  # a room the home lacks: the resolver says so
    kinds = _kind_words(req.t, places)
    state = _state_word(req.t, places, places)
    named = _named(req, kinds, places)
    if named:
        return _about(req, quantifier, named, state, area, floor)
    if not kinds or (state is None and quantifier in ("which", "how_many")):
        return None
    if ha != INTENT and state is None:
        return None
    pool = _scope(req, area, floor)
    reading = _reading(kinds, state, pool)
    if reading is None:
        return None
    domain, device_class, value, said, kind = reading
    targets = [e for e in pool if e.domain == domain and (device_class is None or e.device_class == device_class)]
    slots: dict[str, Any] = {"domain": domain}
    if device_class:
        slots["device_class"] = device_class
    slots["state"] = value
    slots.update(_place_slots(area, floor))
    if not targets:  # HA: no entity matched
        kind = _SENSORS.get(device_class or "", kind) if domain == "binary_sensor" else kind
        return _action(slots, targets), respond.none_found_sentence(kind, area, floor)
    q = Question(quantifier, value, said)
    return _action(slots, targets), _answer(q, targets)


def stated(req: Request, action: Action) -> tuple[Action, str] | None:
    """A yes/no question about devices the resolver found ('is the garage door open', 'is it on'):
    the state it asks about as HA's slot, and 'yes' or 'no' from the live state. None when the
    question names no state their domain has."""
    if action.intent != INTENT or not action.targets or "state" in action.slots:
        return None
    targets = [e for e in (req.home.entity(t) for t in action.targets) if e is not None]
    families = {_FAMILY.get(e.domain) for e in targets}
    if len(families) != 1 or None in families:
        return None
    family = next(iter(families))
    assert family is not None
    _, _, places = _places(req)
    word = _state_word(req.rest, places, [], family)
    if word is None:
        return None
    value = _STATES[word.text][family]
    slots = {**action.slots, "state": value}
    q = Question("one_yesno", value, _said(word.text, value, family))
    return Action(action.intent, slots, action.targets), _answer(q, targets)


def _again(req: Request) -> tuple[Action, str] | None:
    """'and upstairs?', 'what about the fans?' after 'are any lights on': the same question about
    another place or kind (a yes/no about one device is the resolver's follow-up)."""
    prev = req.ctx.previous
    if prev is None or prev.intent != INTENT or "state" not in prev.slots or not req.is_follow_up():
        return None
    quantifier = next((q for q, rx in _QUANTIFIERS if rx.search(norm(prev.text))), None)
    domain, family = prev.slots.get("domain"), _FAMILY.get(str(prev.slots.get("domain")))
    if quantifier is None or family is None or req.entities:
        return None
    area, floor, places = _places(req)
    device_class = prev.slots.get("device_class")
    kinds = _kind_words(req.t, places)
    if kinds:
        found = [_readings(k.text)[family] for k in kinds if family in _readings(k.text)]
        if not found:
            return None
        domain, device_class = found[0]
    elif area is None and floor is None:
        return None
    if area is None and floor is None:
        area, floor = req.home.area(prev.slots.get("area")), req.home.floor(prev.slots.get("floor"))
    state = str(prev.slots["state"])
    pool = _scope(req, area, floor)
    targets = [e for e in pool if e.domain == domain and (device_class is None or e.device_class == device_class)]
    slots: dict[str, Any] = {"domain": domain, **({"device_class": device_class} if device_class else {}),
                             "state": state, **_place_slots(area, floor)}
    q = Question(quantifier, state, state.replace("_", " "))
    return _action(slots, targets), _answer(q, targets)


# -- people -----------------------------------------------------------------------------------

def _people(req: Request) -> tuple[Action, str] | None:
    """'is anyone home', 'who is at work', 'how many people are home', 'where is Alex', 'is Alex at
    the gym'; 'is anyone in the kitchen' asks the room's presence sensors where it has them."""
    persons = [e for e in req.entities if e.domain == "person"]
    where = _WHERE.search(req.t)
    if where and persons:
        return _action({"name": persons[0].name}, persons[:1]), respond.where_sentence(persons[0])
    for quantifier, rx in _PEOPLE:
        m = rx.search(req.t)
        if m is None:
            continue
        zone = _zone(req.t[m.end():])
        room = _room_presence(req, quantifier)
        if room is not None:
            return room
        everyone = [e for e in req.home.entities if e.domain == "person"]
        slots = {"domain": "person", **({"state": zone} if zone else {})}
        if not everyone:
            return _action(slots, everyone), respond.none_found_sentence("people", None, None)
        q = Question(quantifier, zone, _said_zone(zone))
        return _action(slots, everyone), _answer(q, everyone)
    if persons and re.match(r"^(?:is|are)\b", req.t):
        name = _name_span(req.t, persons[0])
        zone = _zone(req.t[name[1]:]) if name else None
        if zone:
            q = Question("one_yesno", zone, _said_zone(zone))
            return _action({"name": persons[0].name, "state": zone}, persons[:1]), _answer(q, persons[:1])
    return None


def _room_presence(req: Request, quantifier: str) -> tuple[Action, str] | None:
    area, _, _ = _places(req)
    if area is None and req.here:
        area = req.sat_area
    if area is None:
        return None
    sensors = [e for e in req.home.in_area(area.id) if e.domain == "binary_sensor" and e.device_class in _PRESENCE]
    if not sensors:
        return None
    dc = next(c for c in _PRESENCE if any(e.device_class == c for e in sensors))
    targets = [e for e in sensors if e.device_class == dc]
    q = Question(quantifier, "on", "detected")
    slots = {"domain": "binary_sensor", "device_class": dc, "state": "on", "area": area.name}
    return _action(slots, targets), _answer(q, targets)


def _zone(rest: str) -> str | None:
    """Where a person is asked to be: the words after the name, without HA's [<in>] [<the>]; a zone
    called 'the gym' keeps its article. 'away' and 'not home' are HA's `not_home`."""
    words = rest.split()
    while words and (words[0] in _IN or words[0] in ("my", "our")):
        words = words[1:]
    while len(words) > 1 and words[0] == "the" and words[1] in _THE:
        words = words[1:]
    if words[:1] == ["the"] and words[1:2] and words[1] in ("my", "our"):
        words = words[2:]
    zone = " ".join(words)
    if zone in ("away", "out", "not home", "not at home", "not in"):
        return "not_home"
    return zone or None


def _said_zone(zone: str | None) -> str:
    if zone == "not_home":
        return "away"
    if zone == "home":
        return "home"
    return f"at {zone}" if zone else ""


# -- what the words name ----------------------------------------------------------------------

def _spans(t: str, phrase: str) -> list[tuple[int, int]]:
    out, padded, needle, i = [], f" {t} ", f" {phrase} ", 0
    while phrase and (i := padded.find(needle, i)) >= 0:
        out.append((i, i + len(phrase)))
        i += len(phrase) + 1
    return out


def _places(req: Request) -> tuple[Area | None, Floor | None, list[tuple[int, int]]]:
    """The area and floor the words name, longest names first, device names or not ('how many
    cinema room shutters are open' names the cinema room); a kind phrase ('garage doors') is not a
    place. Else what the request's reading found (a fuzzy room, 'upstairs', 'in here')."""
    kinds = [(s.start, s.end) for s in _kind_words(req.t, []) if " " in s.text]
    hits: list[tuple[int, int, Area | Floor]] = []
    for a in req.home.areas:
        for n in _names(a):
            hits += [(s, e, a) for s, e in _spans(req.t, n)]
    for f in req.home.floors:
        for n in {norm(f.name), norm(f.id)}:
            hits += [(s, e, f) for s, e in _spans(req.t, n)]
    hits.sort(key=lambda h: h[0] - h[1])
    area: Area | None = None
    floor: Floor | None = None
    taken: list[tuple[int, int]] = []
    for s, e, place in hits:
        if any(s < b and a < e for a, b in taken + kinds):
            continue
        if isinstance(place, Area) and area is None:
            area = place
        elif isinstance(place, Floor) and floor is None:
            floor = place
        else:
            continue
        taken.append((s, e))
    if area is None and floor is None:
        area, floor = (req.sat_area if req.here else req.area), req.floor
        if area is not None and not req.here and any(_spans(req.t, n) for n in _names(area)):
            area = None  # its name is in the words, but as part of a kind ('garage doors')
    return area, floor, taken


def _names(area: Area) -> set[str]:
    return {norm(area.name), norm(area.id), *(norm(x) for x in area.aliases)}


def _kind_words(t: str, places: list[tuple[int, int]]) -> list[Said]:
    found: list[Said] = []
    for rx, _ in _KIND_RES:
        for m in rx.finditer(t):
            said = Said(m.group(0), m.start(), m.end())
            if not said.inside(places) and not said.inside((k.start, k.end) for k in found):
                found.append(said)
    return sorted(found, key=lambda s: s.start)


def _readings(word: str) -> Mapping[str, tuple[str, str | None]]:
    return next(r for rx, r in _KIND_RES if rx.fullmatch(word))


def _state_word(t: str, places: list[tuple[int, int]], blocked: list[tuple[int, int]],
                family: str | None = None) -> Said | None:
    """The state the question asks about. 'on' before a place is HA's <in> ('are any lights off
    on the ground floor'), unless it is the only state word."""
    found = [Said(m.group(1), m.start(1), m.end(1)) for m in _STATE_RE.finditer(t)]
    found = [s for s in found if not s.inside(blocked) and (family is None or family in _STATES[s.text])]
    if not found:
        return None
    states = [s for s in found if not (s.text == "on" and _before_place(t, s.end, places))]
    return (states or found)[0]


def _before_place(t: str, end: int, places: list[tuple[int, int]]) -> bool:
    pos = end + 1
    words = t[pos:].split(" ")
    for w in words:
        if any(a == pos for a, _ in places):
            return True
        if w not in _THE:
            return False
        pos += len(w) + 1
    return False


def _named(req: Request, kinds: list[Said], places: list[tuple[int, int]]) -> list[Entity]:
    """Devices a quantified question names outright ('are all the christmas lights on'); a name made
    of place and kind words ('Cinema room shutters', 'Shade') reads as the kind, as HA's templates do."""
    generic = {w for s in kinds for w in s.text.split()} | set(req.profiles.kind_words) | _THE
    place_words = {w for s, e in places for w in req.t[s:e].split()}
    out: list[Entity] = []
    for e in req.entities:
        for n in e.names():
            key = norm(n)
            if _spans(req.t, key) and set(key.split()) - generic - place_words:
                out.append(e)
                break
    return out


def _scope(req: Request, area: Area | None, floor: Floor | None) -> list[Entity]:
    """HA's target matching: the area's, the floor's, else the whole home's entities."""
    pool = req.home.entities
    if area is not None:
        pool = [e for e in pool if e.area == area.id]
    if floor is not None:
        pool = [e for e in pool if (f := req.home.floor_of(e.area)) is not None and f.id == floor.id]
    return list(pool)


def _reading(kinds: list[Said], state: Said | None,
             pool: list[Entity]) -> tuple[str, str | None, str, str, str] | None:
    """(domain, device class, HA state, state as said) for the kind words and the state word: the
    state's list decides ('doors ... locked' are locks, 'doors ... open' covers); a reading with
    devices in scope wins ('are any windows open' in a home with window sensors only)."""
    options: list[tuple[str, str | None, str, str, str]] = []
    for kind in kinds:
        readings = _readings(kind.text)
        for family in _FAMILY_ORDER:
            if family not in readings:
                continue
            domain, dc = readings[family]
            if state is not None and family in _STATES[state.text]:
                value = _STATES[state.text][family]
                options.append((domain, dc, value, _said(state.text, value, family), kind.text))
            elif state is None and family == "binary":
                options.append((domain, dc, "on", "detected", kind.text))
    for option in options:
        if any(e.domain == option[0] and (option[1] is None or e.device_class == option[1]) for e in pool):
            return option
    return options[0] if options else None


def _said(word: str, value: str, family: str) -> str:
    """How the answer says the state: HA's value, the words for a binary sensor's on/off."""
    return word if family == "binary" else value.replace("_", " ")


def _name_span(t: str, e: Entity) -> tuple[int, int] | None:
    spans = [s for n in e.names() for s in _spans(t, norm(n))]
    return spans[0] if spans else None


# -- frames and answers -----------------------------------------------------------------------

def _place_slots(area: Area | None, floor: Floor | None) -> dict[str, Any]:
    slots: dict[str, Any] = {}
    if area is not None:
        slots["area"] = area.name
    if floor is not None:
        slots["floor"] = floor.name
    return slots


def _action(slots: dict[str, Any], targets: list[Entity]) -> Action:
    return Action(INTENT, slots, tuple(sorted({e.id for e in targets})))


def _about(req: Request, quantifier: str, named: list[Entity], state: Said | None,
           area: Area | None, floor: Floor | None) -> tuple[Action, str] | None:
    families = {_FAMILY.get(e.domain) for e in named}
    family = next(iter(families)) if len(families) == 1 else None
    if state is None or family is None or family not in _STATES[state.text]:
        return None
    value = _STATES[state.text][family]
    slots: dict[str, Any] = {"name": named[0].name, "state": value} if len(named) == 1 else {"state": value}
    slots.update(_place_slots(area, floor))
    q = Question(quantifier, value, _said(state.text, value, family))
    return _action(slots, named), _answer(q, named)


def in_state(e: Entity, state: str | None) -> bool:
    """Whether an entity is in the asked state: HA's exact state, with 'on' meaning anything but
    off for devices that say more than on ('is the heating on': `heat`); a person's zone however
    it is cased, 'away' anywhere but home."""
    if state is None:
        return True
    if e.domain == "person":
        if state == "not_home":
            return e.state != "home"
        return _bare(e.state) == _bare(state)
    if e.state == state:
        return True
    if state == "on" and e.domain in ("climate", "media_player", "humidifier", "water_heater", "vacuum"):
        return e.state not in ("off", "standby", "unavailable", "unknown", "docked")
    return False


def _bare(zone: str) -> str:
    words = norm(zone).split()
    return " ".join(words[1:] if words[:1] == ["the"] else words)


def _answer(q: Question, targets: list[Entity]) -> str:
    matched = [e for e in targets if in_state(e, q.state)]
    unmatched = [e for e in targets if not in_state(e, q.state)]
    if q.quantifier == "one_yesno":
        return respond.yes_no_sentence(targets, matched, q.said)
    if q.quantifier == "any":
        return respond.any_sentence(matched)
    if q.quantifier == "all":
        return respond.all_sentence(unmatched, q.said)
    if q.quantifier == "which":
        return respond.which_sentence(matched, q.said)
    return respond.count_sentence(len(matched), q.said)
