"""Media requests: which player, what to play, and how loud.

A player that is not named is found from the room and the players' state (playing for
pause and volume, paused for resume); what to play comes from the words, the satellite's
screen and, when no content is said, what this user usually asks for.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from edge_nlu.domain.home import Entity, norm
from edge_nlu.domain.result import Action
from edge_nlu.domain.schema import MEDIA_CLASS
from edge_nlu.resolve.match import Request
from edge_nlu.sanitize import finite_float

TITLE_SLOTS = ("movie_name", "audiobook_name", "podcast_name", "song_name", "playlist_name",
               "music_album", "radio_name", "artist_name", "music_genre")
_MUSIC_SLOTS = ("artist_name", "music_genre", "playlist_name")
_CLASS_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("tv_show", ("show", "shows", "series", "episode", "episodes", "season", "tv show")),
    ("movie", ("movie", "movies", "film", "films", "video", "cinema")),
    ("podcast", ("podcast", "podcasts")),
    ("audiobook", ("audiobook", "audio book", "audiobooks", "book")),
    ("channel", ("radio", "station")),
    ("album", ("album", "albums", "record")),
    ("playlist", ("playlist", "playlists")),
    ("artist", ("anything by", "something by", "songs by", "music by", "stuff by", "artist")),
    ("track", ("song", "track")),
    ("music", ("music", "songs", "tracks", "tunes", "band", "jazz", "rock", "pop", "classical")),
)
"""Home Assistant media classes (HassMediaSearchAndPlay's media_class) and the words that say them,
most specific first."""
_CLASS_ONLY_WORDS = {"album", "albums", "record", "playlist", "playlists", "artist", "song", "track",
                     "podcast", "podcasts", "audiobook", "audiobooks", "movie", "film", "show", "series"}
"""Words that only name the class: kept out of search_query ('the album rumours' -> 'rumours')."""
_VIDEO = ("movie", "tv_show")
_EMPTY_WORDS = {
    "some", "my", "the", "a", "an", "usual", "favourite", "favorite", "please", "something",
    "anything", "me", "us", "for", "again", "on", "play", "put", "start", "listen", "to",
    "watch", "stream", "of", "one", "latest", "new", "episode", "more",
}
_GENERIC_CONTENT = {w for _, ws in _CLASS_WORDS for w in ws} - {"jazz", "rock", "pop", "classical"}
_LEAD_RE = ("play", "put on", "listen to", "watch", "stream", "start", "throw on", "queue",
            "i want to watch", "i want to hear", "can you play", "could you play")

_LEAD_LAST = {lead.split()[-1] for lead in _LEAD_RE}
"""The last word of a play verb ('play', 'on' of 'put on', 'to' of 'listen to')."""
_CLASS_WORD_SET = {w for _, ws in _CLASS_WORDS for w in ws if " " not in w}

_TITLE_ENDS = {"on", "in", "please", "for", "from", "now", "at", "via", "using", "through", "with"}
"""Words after which a title said after the play verb does not go on ('... on the kitchen speaker')."""

_BY_ARTIST_RE = re.compile(r"\b(?:anything|something|songs|music|stuff|tracks) by (.+)$")
"""'anything by little simz': the artist is every word after 'by' (up to a device or room name)."""

PLAY_STATE = {"HassMediaUnpause": "paused"}
_UP_WORDS = ("up", "louder", "raise", "increase", "higher", "more")
_DOWN_WORDS = ("down", "quieter", "lower", "decrease", "softer", "less", "reduce")


def players(entities: list[Entity]) -> list[Entity]:
    return [e for e in entities if e.domain == "media_player"]


def _is_tv(e: Entity) -> bool:
    if e.device_class is not None:
        return e.device_class == "tv"
    return any(w in f" {norm(n)} " for n in e.names() for w in (" tv ", " television ",
                                                                  " projector ", " screen "))


def _scope_players(req: Request) -> list[Entity]:
    """Players the request means by name or kind word, in the room it is about."""
    named = players(req.entities)
    if named:
        return named
    kinds = [k for k in req.kinds if k.domain == "media_player" and k.device_class]
    area = req.scope_area
    pool = players(req.home.in_area(area.id) if area else req.home.entities)
    if kinds and not (req.has("music", "radio") and len(kinds) == 1 and kinds[0].name == "speaker"):
        of_kind = [e for e in pool if any(k.matches(e) for k in kinds)]
        if of_kind:
            return of_kind
    return []


def _area_slot(req: Request, targets: list[Entity]) -> dict[str, Any]:
    area = req.scope_area
    if area is not None and targets and all(e.area == area.id for e in targets):
        return {"area": area.name}
    return {}


_SKIP = re.compile(r"^(?:please )?(?:(?:play )?(?:the )?next|skip)(?: (?:one|it|this|this one|song|track|episode|item|"
                   r"song please|track please))?(?: please)?$")
_BACK = re.compile(r"^(?:please )?(?:(?:play )?(?:the )?previous|go back)(?: (?:one|song|track|episode|item))?"
                   r"(?: please)?$")


def transport_phrase(req: Request) -> str | None:
    """HassMediaNext/Previous for a request that is nothing but a skip ('next one', 'skip this', 'previous
    track'): HA's matcher takes these from the words, and a model easily reads a bare 'next one' as play."""
    t = req.t.strip(" .!?")
    if _SKIP.match(t):
        return "HassMediaNext"
    if _BACK.match(t):
        return "HassMediaPrevious"
    return None


def transport(req: Request, ha: str, prev_targets: list[Entity] | None = None) -> Action:
    """Pause, resume, next, previous, volume: the player in the matching state."""
    chosen = _scope_players(req) or players(prev_targets or []) or _by_state(req, PLAY_STATE.get(ha, "playing"))
    slots = _area_slot(req, chosen)
    if len(chosen) == 1 and players(req.entities):
        slots["name"] = chosen[0].name
    if ha == "HassSetVolume":
        level = volume_level(req, chosen)
        if level is not None:
            slots["volume_level"] = level
    return Action(intent=ha, slots=slots, targets=tuple(sorted(e.id for e in chosen)))


def _by_state(req: Request, wanted: str) -> list[Entity]:
    """The players of the room the request is about (named, else the satellite's) that are in the
    wanted state; none in it: the one that is on, else all of the room's. A room without players, or no
    room at all: the only player in the home in that state. Home Assistant keeps to the room too: the
    satellite's area is a slot of these sentences."""
    area = req.scope_area
    room = players(req.home.in_area(area.id)) if area else []
    if room:
        in_state = [e for e in room if e.state == wanted]
        active = [e for e in room if e.state not in ("off", "unavailable")]
        return in_state or (active if len(active) == 1 else room)
    everywhere = [e for e in players(req.home.entities) if e.state == wanted]
    return everywhere if len(everywhere) == 1 else []


def _percent(value: Any) -> float | None:
    f = finite_float(value)
    if f is None:
        return None
    return f * 100 if 0 < f <= 1 and isinstance(value, float) else f


def volume_level(req: Request, targets: list[Entity]) -> int | float | None:
    """The volume said (moved from the current one when the words say 'up by 10'), else the current one
    moved 10 points the way the words go."""
    cur = next((c for c in (_percent(e.attributes.get("volume_level")) for e in targets)
                if c is not None), 50.0)
    way = {"audio_volume_up": 1, "audio_volume_down": -1}.get(req.nlu.intent, 0)
    said = req.level(cur, 100, _UP_WORDS, _DOWN_WORDS, direction=way)
    if said is not None:
        return max(0, min(100, said))
    up = req.nlu.intent == "audio_volume_up" or req.has(*_UP_WORDS)
    down = req.nlu.intent == "audio_volume_down" or req.has(*_DOWN_WORDS)
    if up == down:
        return None
    step = 10 if up else -10
    return int(max(0, min(100, round(cur + step))))


def _class_from_words(req: Request) -> str | None:
    """A media type the words or the media_type slot give ("the movie", "a podcast"), outside the names
    of devices and rooms ('the cinema room stereo' says no movie)."""
    typed = f" {norm(req.slot('media_type') or '')} "
    said = f" {' '.join(req.unnamed.split())} "
    for where in (typed, said):
        for cls, words in _CLASS_WORDS:
            if any(f" {w} " in where for w in words):
                return cls
    return None


def _title(req: Request) -> str | None:
    """The title as said: the artist after 'anything by', a title slot, else the words after the play verb."""
    value = req.slot(*TITLE_SLOTS)
    by = _BY_ARTIST_RE.search(req.unnamed)
    if by:
        artist = _trim(by.group(1).split("  ")[0].split())
        if artist and (not value or norm(value) in artist):
            return artist
    if value:
        return _with_article(req, _whole_title(req, value.strip()))
    t = req.t
    for lead in sorted(_LEAD_RE, key=len, reverse=True):
        if t.startswith(lead + " "):
            t = t[len(lead) + 1:]
            break
    else:
        return None
    rest = req.rest[len(req.t) - len(t):] if len(req.rest) == len(req.t) else t
    cut = rest.find("  ")  # a blanked name: "... on the kitchen speaker"
    if cut >= 0:
        t = t[:cut]
    return _trim(t.split()) or None


def _whole_title(req: Request, value: str) -> str:
    """A title the model cut short ('absolute' of 'absolute 80s radio', 'gavin and' of 'gavin and stacey')
    runs on to the next class word, preposition, filler or device/room name, as HA's wildcard takes
    every word of it."""
    t = req.t
    rest = req.rest if len(req.rest) == len(t) else t
    at = f" {t} ".find(f" {norm(value)} ")
    if at < 0:
        return value
    end = at + len(norm(value))
    extra: list[str] = []
    for m in re.finditer(r"\S+", t[end:]):
        word, start = m.group(0), end + m.start()
        if word in _TITLE_ENDS or word in _CLASS_WORD_SET or rest[start:start + len(word)] != word:
            break
        extra.append(word)
    return " ".join([value, *extra])


def _trim(words: list[str]) -> str:
    """The words of a title without the fillers around it ('some', 'please', a trailing 'on the')."""
    while words and words[-1] in ("please", "on", "in", "the", "for", "me", "now"):
        words.pop()
    while words and words[0] in ("some", "a", "an"):  # "the" may begin a title: "the daily", "the hobbit"
        words.pop(0)
    return " ".join(words)


def _with_article(req: Request, title: str) -> str:
    """A title slot that left out the 'the' it was said with right after the play verb or the class word
    ('play the podcast the rest is history', 'play the gruffalo audiobook'): the title as said."""
    words = norm(title)
    if not words or words.startswith("the "):
        return title
    before = f" {req.t} ".split(f" the {words} ", 1)
    if len(before) < 2:
        return title
    prev = before[0].split()
    if not prev or prev[-1] in _LEAD_LAST or prev[-1] in _CLASS_WORD_SET:
        return f"the {title}"
    return title


def _without_class_words(title: str | None, media_class: str) -> str | None:
    """'album rumours' -> 'rumours', 'my wind down playlist' -> 'wind down', 'anything by little simz'
    -> 'little simz': the words that say the class are not part of what to search for."""
    if not title or media_class in ("music", "channel"):
        return title
    words = title.split()
    if media_class == "artist":
        lowered = [w.lower() for w in words]
        for i in range(len(lowered) - 1):
            if lowered[i + 1] == "by" and lowered[i] in ("anything", "something", "songs", "music", "stuff"):
                words = words[i + 2:]
                break
    kept: list[str] = []
    for w in words:
        if w.lower() not in _CLASS_ONLY_WORDS:
            kept.append(w)
        elif kept and kept[-1].lower() in ("the", "my", "a", "an", "this", "that"):
            kept.pop()  # 'the album rumours': the article goes with the class word
    if len(kept) == len(words) or not kept:
        return " ".join(words) or title
    while kept and kept[0].lower() in ("my", "some", "by"):  # 'the' may begin a title: 'the daily'
        kept.pop(0)
    return " ".join(kept) or title


def _has_content(title: str | None) -> bool:
    if not title:
        return False
    words = [w for w in norm(title).split() if w not in _EMPTY_WORDS]
    return any(w not in _GENERIC_CONTENT for w in words)


def _turn_class(slots: dict[str, Any], text: str) -> str:
    cls = slots.get("media_class")
    if isinstance(cls, str) and cls:
        return cls
    padded = f" {norm(text)} "
    for c, words in _CLASS_WORDS:
        if c != "music" and any(f" {w} " in padded for w in words):
            return c
    return "music"


def habit(req: Request, media_class: str) -> str | None:
    """The search_query this user asked for most for this kind of media (latest on a tie)."""
    counts: Counter[str] = Counter()
    last: dict[str, int] = {}
    for i, turn in enumerate(req.ctx.history):
        query = turn.slots.get("search_query")
        if turn.intent != "HassMediaSearchAndPlay" or not isinstance(query, str) or not query:
            continue
        if _turn_class(turn.slots, turn.text) != media_class:
            continue
        counts[query] += 1
        last[query] = i
    if not counts:
        return None
    return max(counts, key=lambda q: (counts[q], last[q]))


def _media_class(req: Request, title: str | None) -> str:
    intent = req.nlu.intent
    said = _class_from_words(req)
    if said is not None:
        return said
    if req.slot("podcast_name") or intent == "play_podcasts":
        return "podcast"
    if req.slot("radio_name") or intent == "play_radio":
        return MEDIA_CLASS["play_radio"]
    no_title = intent == "play_music" and not _has_content(title)
    if any(req.slot(s) for s in _MUSIC_SLOTS) or no_title:
        return "music"
    # a bare title: the satellite's screen decides (rule 5)
    sat = req.ctx.satellite
    if sat is not None and sat.has_screen is not None:
        return "movie" if sat.has_screen else "audiobook"
    return MEDIA_CLASS.get(intent, "music")


def play(req: Request) -> Action:
    """HassMediaSearchAndPlay on the room's screen or speaker."""
    title = _title(req)
    media_class = _media_class(req, title)
    title = _without_class_words(title, media_class)
    query = title if _has_content(title) else habit(req, media_class)
    if query is None and title:
        query = title
    chosen = _scope_players(req)
    if not chosen:
        area = req.scope_area
        pool = players(req.home.in_area(area.id) if area else req.home.entities)
        video = [e for e in pool if _is_tv(e)]
        audio = [e for e in pool if not _is_tv(e)]
        first, second = (video, audio) if media_class in _VIDEO else (audio, video)
        chosen = first or second
        if len(chosen) > 1:
            idle = [e for e in chosen if e.state != "off"]
            chosen = chosen[:1] if len(idle) != 1 else idle
    slots: dict[str, Any] = _area_slot(req, chosen)
    if query:
        slots["search_query"] = query
    slots["media_class"] = media_class
    if len(chosen) == 1 and players(req.entities):
        slots["name"] = chosen[0].name
    return Action(intent="HassMediaSearchAndPlay", slots=slots,
                  targets=tuple(sorted(e.id for e in chosen)))


def music_settings_intent(req: Request) -> str:
    """music_settings says little; the player_setting and words decide the HA intent."""
    said = norm(" ".join([req.slot("player_setting") or "", req.t]))
    padded = f" {said} "
    table = (
        ("HassMediaPrevious", ("previous", "back", "last song", "last track", "go back")),
        ("HassMediaNext", ("next", "skip")),
        ("HassMediaPause", ("pause", "stop", "mute", "hold")),
        ("HassMediaUnpause", ("resume", "continue", "unpause", "carry on", "keep playing")),
        ("HassSetVolume", ("volume", "louder", "quieter", "softer")),
    )
    for intent, words in table:
        if any(f" {w} " in padded for w in words):
            return intent
    return "HassMediaNext"
