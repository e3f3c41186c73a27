"""What a request names: entities, areas, floors and device kinds, from slots and the words.

The model's slots are a hint, not the truth: names are also looked up in the text itself,
longest first, so a missed or mislabelled span still finds the device or room.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
from rapidfuzz import fuzz, process

from edge_nlu.domain.context import RequestContext
from edge_nlu.domain.home import Area, Entity, Floor, Home, norm
from edge_nlu.domain.profiles import DeviceKind, Profiles
from edge_nlu.domain.result import NLU
from edge_nlu.resolve.covers import COVER_WORDS, cover_kinds
from edge_nlu.resolve.names import NameIndex, name_index
from edge_nlu.resolve.numbers import Number, parse_number

PRONOUNS = frozenset({"it", "them", "that", "those", "they"})
_HERE_RE = re.compile(r"\b(in here|here|(?:this|the|my|our) (?:room|area|space))\b")
_EVERYWHERE_RE = re.compile(
    r"\b(?:everywhere|all over|(?:the|my|our) (?:(?:entire|whole) )?(?:home|house|apartment|flat)"
    r"|(?:entire|whole) (?:home|house|apartment|flat|place)"
    r"|(?:all|every|each)(?: single| and every| of)?(?: the| my| our)? (?:rooms?|areas?|floors?))\b")
"""Home Assistant's <everywhere>: 'all over', 'in the whole house', 'across every room', 'on all floors'."""
_CONTENT_PHRASES_RE = re.compile(r"\btv (?:shows?|series|programmes?|programs?)\b")
"""Words that say what is playing, not which device ('pause the tv show')."""
_FUNCTION_WORDS = frozenset({"to", "the", "my", "our", "a", "an", "in", "on", "at", "of", "for", "by", "up",
                             "down", "off", "and"})
_FOLLOW_RE = re.compile(
    r"^(?:ok |okay |now )?(?:and |so )?(?:what about|how about|and|same for|same in|same with|"
    r"same thing for|same thing in|do the same for|do the same in|also|now for)\b"
)
_FOLLOW_END_RE = re.compile(r"\b(too|as well|also)$")
_UP_FLOOR = ("upstairs", "up stairs", "upper floor", "top floor")
_DOWN_FLOOR = ("downstairs", "down stairs", "lower floor", "bottom floor")
FUZZY_CUTOFF = 88.0
_CONTENT_SLOTS = ("movie_name", "song_name", "audiobook_name", "podcast_name", "radio_name",
                  "playlist_name", "artist_name", "music_album", "item")
_ACTION_VERBS = frozenset({"turn", "switch", "set", "open", "close", "shut", "lock", "unlock",
                           "play", "dim", "brighten", "start", "stop", "pause", "resume",
                           "vacuum", "clean", "put", "make", "raise", "lower"})
_FOLLOWABLE = frozenset({
    "HassTurnOn", "HassTurnOff", "HassGetState", "HassLightSet", "HassSetPosition",
    "HassClimateSetTemperature", "HassClimateGetTemperature", "HassVacuumStart",
    "HassMediaSearchAndPlay", "HassMediaPause", "HassMediaUnpause", "HassMediaNext",
    "HassMediaPrevious", "HassSetVolume"})
_NOT_PLACES = frozenset({"home", "house", "the house", "whole house", "entire house",
                         "everywhere", "room", "the room", "all rooms", "inside", "outside",
                         "upstairs", "downstairs"})
_VERB_WORDS = {"switch", "power", "plug", "lock", "heat", "water", "vacuum", "hoover"}


@dataclass
class Span:
    """A stretch of the normalised text that names something."""

    start: int
    """First character in the normalised text."""
    end: int
    """Past the last character."""

    def overlaps(self, other: Span) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass
class Request:
    """One request with everything it names worked out; what the resolver dispatches on."""

    nlu: NLU
    """The model's reading."""
    text: str
    """The request text as said."""
    t: str
    """The text normalised with `norm`."""
    home: Home
    """The home, with the request's state overrides applied."""
    ctx: RequestContext
    """Where, when, who and what came before."""
    profiles: Profiles
    """Device kinds."""
    slots: dict[str, list[str]] = field(default_factory=dict)
    """Model slot values by type."""
    entities: list[Entity] = field(default_factory=list)
    """Entities the request names."""
    area: Area | None = None
    """Area the request names (not the satellite's)."""
    unknown_area: str | None = None
    """A place the request names that the home does not have."""
    floor: Floor | None = None
    """Floor the request names."""
    here: bool = False
    """The request says "in here" / "this room"."""
    everywhere: bool = False
    """The request says the whole home ("everywhere", "all over the house") and names no room or floor."""
    sat_area: Area | None = None
    """The satellite's area."""
    kinds: list[DeviceKind] = field(default_factory=list)
    """Device kinds the request names, by generic word."""
    pronoun: bool = False
    """The request says it/them/that."""
    rest: str = ""
    """The normalised text with names blanked out, where numbers are looked for."""
    unnamed: str = ""
    """The normalised text with device, room and floor names blanked but titles kept: where words about
    the content are looked for ('the cinema room' says no movie)."""
    _names: NameIndex | None = field(default=None, repr=False, compare=False)
    """`names`, once asked for."""

    @property
    def names(self) -> NameIndex:
        """The home's names, indexed (once per home content, see `names.py`)."""
        if self._names is None:
            self._names = name_index(self.home)
        return self._names

    @property
    def words(self) -> set[str]:
        return set(self.t.split())

    def has(self, *phrases: str) -> bool:
        """Whether any phrase occurs in the text as whole words."""
        padded = f" {self.t} "
        return any(f" {p} " in padded for p in phrases)

    def slot(self, *types: str) -> str | None:
        """The first slot value of any of the types."""
        for ty in types:
            if self.slots.get(ty):
                return self.slots[ty][0]
        return None

    @property
    def scope_area(self) -> Area | None:
        """The area the request is about: named, else the satellite's."""
        return self.area or self.sat_area

    def number(self) -> Number | None:
        """A level said in the request: the change_amount slot, else the remaining words."""
        value = parse_number(self.slot("change_amount"))
        return value if value is not None else parse_number(self.rest)

    def level(self, current: float | None, max_step: float, up: tuple[str, ...], down: tuple[str, ...],
              direction: int = 0) -> Number | None:
        """The level to set: the number said, moved from `current` when the words say it changes by
        that much ('up two degrees', 'down by 3', 'brighten by 20 percent'), as said when they say
        where it goes ('up to 22', 'set it at 40', or no direction in the words). `up` and `down` are
        the words that move this kind of level; `direction` is the way the intent goes (dim/brighten,
        volume up/down), used when the words only say 'by'. An amount above `max_step` is a level, not a
        step ('turn the heating up, 22 degrees')."""
        said = self.number()
        if said is None:
            return None
        raised, lowered = self.has(*up), self.has(*down)
        words = 0 if raised == lowered else 1 if raised else -1
        if not words and not self.has("by"):  # "set the lights to 40", "lights 40 percent": a level
            return said
        way = words or direction
        if not way or current is None or said > max_step or self._says_where_to():
            return said
        moved = float(current) + way * float(said)
        return int(moved) if moved.is_integer() else moved

    def _says_where_to(self) -> bool:
        """'to 22', 'at 40 percent', 'to about twenty', 'brightness 80 percent': the number is where the
        level goes (after the level's own name it is the level, as in 'decrease the volume 30 percent')."""
        return any(parse_number(m.group(1)) is not None for m in _TO_NUMBER_RE.finditer(self.t))

    def is_follow_up(self) -> bool:
        """'what about the X?', 'and the X', 'same for the X', 'the X too'."""
        prev = self.ctx.previous
        if prev is None or not prev.intent:
            return False
        if prev.intent not in _FOLLOWABLE or _ACTION_VERBS & self.words:
            return False  # "and turn off the lights" is a new command, not a follow-up
        said = bool(self.entities or self.area or self.floor or self.kinds)
        return said and bool(_FOLLOW_RE.search(self.t) or _FOLLOW_END_RE.search(self.t))


_TO_NUMBER_RE = re.compile(
    r"\b(?:(?:brightness|volume|position|level)\s+(?:to\s+|at\s+)?|to\s+|at\s+)(?:about\s+|around\s+|the\s+)?([\w.]+)")


def _find(t: str, phrase: str) -> list[Span]:
    if not phrase:
        return []
    # plain str.find, not a regex per name: with more names than re's 512-pattern cache (a big
    # discovered home) every query recompiled every pattern (~0.3 ms per entity)
    padded, needle, out, i = f" {t} ", f" {phrase} ", [], 0
    while (i := padded.find(needle, i)) >= 0:
        out.append(Span(i, i + len(phrase)))
        i += len(phrase) + 1  # the trailing space may start the next occurrence
    return out


def _free(spans: list[Span], taken: list[Span]) -> list[Span]:
    return [s for s in spans if not any(s.overlaps(o) for o in taken)]


def _is_generic(phrase: str, profiles: Profiles) -> bool:
    """A name made only of kind words ("lights", "tv", HA's cover classes such as "gate") says a kind, not
    one device."""
    words = phrase.split()
    if not words:
        return False
    kind_words = profiles.kind_words

    def known(w: str) -> bool:
        return w in kind_words or w in COVER_WORDS

    return known(" ".join(words)) or all(known(w) for w in words)


def _match_entities(req: Request, scope: Area | None, titles: list[Span],
                    places: list[Span]) -> tuple[list[Entity], list[Span]]:
    """Entities named in the text or the device_name slot, longest name first; a name inside a room's
    longer name is the room's ('the tv room' is no TV, 'the cinema room' no scene called Cinema), and
    a part or a near miss of a name is no part of a place ('places': rooms, floors, 'all over')."""
    home, t, profiles = req.home, req.t, req.profiles
    hits: list[tuple[Entity, Span, bool]] = []
    index, entities = req.names, home.entities
    # only names whose first word is a word of the text can be said in it; tried in home order
    candidates = sorted(c for w in set(t.split()) for c in index.by_first_word.get(w, ()))
    for _, pos, n in candidates:
        if n not in t:  # most names are not said: skip the padded search
            continue
        for span in _free(_find(t, n), titles):
            hits.append((entities[pos], span, _is_generic(n, profiles)))
    for value in req.slots.get("device_name", []):
        v = norm(value)
        if not v or _find(t, v):
            continue  # already looked up in the text
        choices = index.choices
        best = process.extractOne(v, choices, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF)
        if best is not None:
            found = home.entity(str(best[2]).split("\n", 1)[0])
            if found is not None:
                hits.append((found, Span(0, 0), _is_generic(best[0], profiles)))
    # a generic name ("Lights", "Oven") means that device only where no other of its kind is
    hits = [h for h in hits if (not h[2] or _generic_ok(req, h[0], scope)) and not _inside(h[1], places)]
    if not hits:
        # a part or a near miss of a name is weaker than a room's whole name ('our home office' is not
        # the end of 'Leaving home')
        hits = [(e, s, False) for e, s in _tail_matches(req, scope) if _free([s], places)]
    if not hits:
        hits = [(e, s, False) for e, s in _fuzzy_matches(req) if _free([s], places)]
    if not hits:
        return [], []
    # keep the maximal spans: "big floor lamp" beats "floor lamp"
    longest = [h for h in hits if not any(
        o[1].start <= h[1].start and h[1].end <= o[1].end and (o[1].end - o[1].start)
        > (h[1].end - h[1].start) for o in hits)]
    chosen: list[Entity] = []
    for e, _, _ in longest:
        if e not in chosen:
            chosen.append(e)
    if scope is not None and len(chosen) > 1:
        # one name said, several devices called it (every ceiling light is 'the big light'): the room's,
        # as Home Assistant prefers the satellite's area among the matches
        said: dict[tuple[int, int], list[Entity]] = {}
        for e, span, _ in longest:
            said.setdefault((span.start, span.end), []).append(e)
        away = {e.id for group in said.values() if len(group) > 1
                and any(x.area == scope.id for x in group) for e in group if e.area != scope.id}
        chosen = [e for e in chosen if e.id not in away]
    return chosen, [h[1] for h in longest if h[1].end > h[1].start]


def _inside(span: Span, others: list[Span]) -> bool:
    """Whether a span lies within a longer one."""
    return any(o.start <= span.start and span.end <= o.end and o.end - o.start > span.end - span.start
               for o in others)


def _generic_ok(req: Request, e: Entity, scope: Area | None) -> bool:
    if scope is not None and e.area == scope.id:
        return True
    kinds = [k for n in e.names() for k in [*req.profiles.kinds_for(n), *cover_kinds(norm(n))]]
    pool = req.home.in_area(scope.id) if scope is not None else req.home.entities
    return not any(k.matches(x) for x in pool for k in kinds if x.id != e.id)


def _tail_matches(req: Request, scope: Area | None) -> list[tuple[Entity, Span]]:
    """The end of a name ("night light" for "Loft night light"), within the room."""
    index, entities = req.names, req.home.entities
    pool = index.tails_in.get(scope.id, ()) if scope is not None else index.tails
    out: list[tuple[Entity, Span]] = []
    for pos, names in pool:
        e = entities[pos]
        for words in names:  # names of two words or more
            if words[-1] not in req.t:  # every tail ends with the last word
                continue
            for i in range(1, len(words)):
                tail = " ".join(words[i:])
                if tail not in req.t or _is_generic(tail, req.profiles):
                    continue
                spans = _find(req.t, tail)
                if spans:
                    out.append((e, spans[0]))
                    break
    if scope is None and len({e.id for e, _ in out}) > 1:
        return []
    if not out and scope is not None:
        return _tail_matches(req, None)  # the only such device in the home
    return out


def _fuzzy_matches(req: Request) -> list[tuple[Entity, Span]]:
    """Near misses of multi-word names ("corner lmap"), word window against word window."""
    words = req.t.split()
    starts, pos = [], 0
    for w in words:
        starts.append(req.t.index(w, pos))
        pos = starts[-1] + len(w)
    # the home's names by word count (in home order, from the name index), then the text's word windows of each
    # size against those names in one rapidfuzz call: a call per name size instead of a Python loop
    entities = req.home.entities
    found: list[tuple[int, int, float, Entity, Span]] = []
    for size, (names, strings) in req.names.by_size.items():
        if size > len(words):
            continue
        windows = [" ".join(words[i : i + size]) for i in range(len(words) - size + 1)]
        scores = process.cdist(windows, strings, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF, dtype=np.float64)
        for i, k in zip(*(x.tolist() for x in np.nonzero(scores)), strict=True):  # below the cutoff: 0
            at, where, _, parts = names[k]
            e = entities[where]
            if _loose_end(words[i : i + size], parts) or _is_generic(windows[i], req.profiles):
                continue
            end = starts[i + size - 1] + len(words[i + size - 1])
            found.append((at, i, float(scores[i, k]), e, Span(starts[i], end)))
    found.sort(key=lambda f: (f[0], f[1]))  # home order, then text order, as the names were tried
    best: list[tuple[float, Entity, Span]] = [(score, e, span) for _, _, score, e, span in found]
    if not best:
        return []
    top = max(b[0] for b in best)
    return [(e, s) for score, e, s in best if score == top]


def _loose_end(window: list[str], name: list[str]) -> bool:
    """A window that starts or ends on a function word the name does not have ('pantry to' is not a
    misheard 'pantry tv', 'the garage door' not 'shed garage door')."""
    first, last = window[0], window[-1]
    return (first in _FUNCTION_WORDS and first != name[0]) or (last in _FUNCTION_WORDS and last != name[-1])


def _match_area(req: Request, taken: list[Span]) -> tuple[Area | None, list[Span], str | None]:
    """The area the words name, outside device names; or a named place the home lacks."""
    best: tuple[int, Area, list[Span]] | None = None
    areas = req.home.areas
    for pos, names in req.names.areas:
        a = areas[pos]
        for n in names:
            if n not in req.t:  # most rooms are not said
                continue
            spans = _free(_find(req.t, n), taken)
            if spans and (best is None or len(n) > best[0]):
                best = (len(n), a, spans)
    if best is not None:
        return best[1], best[2], None
    for value in req.slots.get("house_place", []):
        v = norm(value)
        if not v or _HERE_RE.fullmatch(v) or v in _NOT_PLACES:
            continue
        area = req.home.area(v)
        if area is None and req.home.areas:
            choices = req.names.area_choices
            hit = process.extractOne(v, choices, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF)
            area = req.home.area(str(hit[2]).split("\n", 1)[0]) if hit else None
        if area is not None:
            return area, _find(req.t, v), None
        inside_name = any(s.overlaps(o) for s in _find(req.t, v) for o in taken)
        if not inside_name and req.home.floor(v) is None and not _is_generic(v, req.profiles):
            return None, [], value.strip()
    return None, [], None


def _match_floor(req: Request, taken: list[Span]) -> tuple[Floor | None, list[Span]]:
    floors = req.home.floors
    for pos, names in req.names.floors_longest:
        f = floors[pos]
        for n in names:
            spans = _free(_find(req.t, n), taken)
            if spans:
                return f, spans
    value = req.slot("floor_name")
    if value and req.home.floor(value):
        return req.home.floor(value), _find(req.t, norm(value))
    if len(floors) < 2:
        return None, []
    here = req.home.floor_of(req.sat_area.id) if req.sat_area else None
    idx = floors.index(here) if here in floors else None
    for words, step in ((_UP_FLOOR, 1), (_DOWN_FLOOR, -1)):
        for w in words:
            spans = _free(_find(req.t, w), taken)
            if not spans:
                continue
            if idx is not None and 0 <= idx + step < len(floors):
                return floors[idx + step], spans
            return (floors[-1] if step > 0 else floors[0]), spans
    return None, []


def _is_verb(t: str, word: str, start: int, end: int) -> bool:
    """'switch the lights off', 'power on the tv': a kind word used as the verb."""
    return word in _VERB_WORDS and (start == 0 or t[end:].split()[:1] in (["on"], ["off"]))


def _match_kinds(req: Request, taken: list[Span]) -> list[DeviceKind]:
    kinds: list[DeviceKind] = []
    for value in req.slots.get("device_type", []):
        v = norm(value)
        spans = _find(req.t, v)
        if spans and all(_is_verb(req.t, v, sp.start, sp.end) or _free([sp], taken) == [] for sp in spans):
            continue  # the model marked the verb ('switch each fan on') or a word of a name or title
        for k in req.profiles.kinds_for(value):
            if k not in kinds:
                kinds.append(k)
    used: list[Span] = list(taken)
    for word, start, end in req.profiles.words_in(req.t):
        span = Span(start, end)
        if any(span.overlaps(o) for o in used):
            continue
        if _is_verb(req.t, word, start, end):
            continue  # "switch the lights off", "power on the tv": a verb, not a device
        used.append(span)
        for k in req.profiles.kinds_for(word):
            if k not in kinds:
                kinds.append(k)
    return kinds


def understand(nlu: NLU, text: str, home: Home, ctx: RequestContext,
               profiles: Profiles) -> Request:
    """Work out what the request names; never raises on odd input."""
    req = Request(nlu=nlu, text=text, t=norm(text), home=home, ctx=ctx, profiles=profiles)
    for s in nlu.slots:
        req.slots.setdefault(s.type, []).append(s.value)
    req.sat_area = home.area(ctx.area)
    req.here = bool(_HERE_RE.search(req.t))
    # areas first only to scope same-named devices; device names win overlaps below
    titles = [sp for ty in _CONTENT_SLOTS for v in req.slots.get(ty, [])
              for sp in _find(req.t, norm(v))]
    content = titles + [Span(m.start(), m.end()) for m in _CONTENT_PHRASES_RE.finditer(req.t)]
    # a kind of several words, or a floor, beats a room inside it ('the garage door' is not the garage)
    floors = _floor_names(req)
    kind_phrases = [Span(a, b) for w, a, b in profiles.words_in(req.t) if " " in w] + floors + [
        sp for w in COVER_WORDS if " " in w for sp in _find(req.t, w)]
    pre_area, pre_spans, _ = _match_area(req, content + kind_phrases)
    # 'all over the house', 'in here' say where, never a part of a device's name ('Up and over')
    wheres = [Span(m.start(), m.end()) for rx in (_EVERYWHERE_RE, _HERE_RE) for m in rx.finditer(req.t)]
    req.entities, ent_spans = _match_entities(req, pre_area or req.sat_area, content,
                                              pre_spans + wheres + floors)
    req.area, area_spans, req.unknown_area = _match_area(req, ent_spans + content + kind_phrases)
    named = ent_spans + area_spans
    req.floor, floor_spans = _match_floor(req, named + titles)
    named += floor_spans
    req.kinds = _match_kinds(req, named + content)
    req.pronoun = bool(PRONOUNS & req.words)
    req.unnamed = _blank(req.t, named)
    req.rest = _blank(req.t, named + titles)
    req.everywhere = req.area is None and req.floor is None and bool(_EVERYWHERE_RE.search(req.rest))
    return req


def _floor_names(req: Request) -> list[Span]:
    """Where the words say a floor by a name no room has: a room inside it is the floor's ('the attic
    floor' is not the attic)."""
    return [sp for n in req.names.floor_only for sp in _find(req.t, n)]


def _blank(t: str, spans: list[Span]) -> str:
    chars = list(t)
    for span in spans:
        chars[span.start:span.end] = " " * (span.end - span.start)
    return "".join(chars)
