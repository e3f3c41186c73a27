"""Teachable preferences: recognise "I'm a Warriors fan", "call the big light the lamp", "when I say movie
time turn off the lights", and apply what was taught before the model reads a request.

Pure functions over strings and `Preference` records; the store keeps them and `engine.SelfLearning` calls us.
Recognition is deliberately conservative (fixed sentence shapes, short noun phrases, stop lists): a missed
teaching costs a rephrase, a false one silently changes how later requests are understood.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from edge_nlu.domain.context import HistoryTurn
from edge_nlu.domain.home import Home, norm
from edge_nlu.learn.types import Preference, normalize

_ARTICLE = re.compile(r"^(?:(?:the|a|an|my|our)\s+)+")
_LEAD = re.compile(r"^(?:(?:hey|hi|ok|okay|so|well|oh|alright|actually|and|now|yeah|yes|just)\s+)+")
_FILLER = re.compile(r"\b(?:um+|uh+|uhm|erm?|hmm+|please|you know)\b")
# possessive (*+): once the adjectives are taken they are never given back, so the lazy phrase after them is
# tried from one place only (backtracking over every split made a long "I'm big big ..." quadratic)
_ADJ = r"(?:(?:really |very )?(?:big|huge|massive|die hard|diehard|lifelong|real|true|great|proud|loyal) )*+"
MAX_TEACHING_CHARS = 300
"""Longer requests are never teachings: a bound on the work every request's teaching check can cost."""
_STOP = frozenset((
    "i i'm me my mine you your yours we us our he him his she her they them their it its this that these those "
    "what when where why how who which whom is are was were be been am do does did don't have has had get got "
    "go going want need can could would should will shall if not no there here some any all everything "
    "something anything nothing to of in on at for with from about into by as than then when after before "
    "now today tonight tomorrow morning evening later next last time way one ones so too very much more less "
    "like love please thing things stuff lot bit the a an").split())
_THING = frozenset((  # words that make a phrase about the home or media, not a team or a genre
    "light lights lamp lamps temperature heat heating warm cold cool hot room kitchen bedroom tv television "
    "door window blinds music song songs track tracks album playlist radio podcast podcasts movie movies film "
    "films show shows series book books sport sports game games team football soccer basketball baseball "
    "hockey loud louder quiet quieter soft idea weather coffee food").split())
_GENRES = frozenset((
    "jazz,blues,rock,pop,classical,country,hip hop,hiphop,rap,r&b,rnb,r and b,soul,funk,disco,reggae,reggaeton,"
    "metal,heavy metal,punk,indie,folk,electronic,electronica,edm,techno,house,trance,dubstep,drum and bass,"
    "ambient,lofi,lo fi,chill,chillout,gospel,opera,latin,salsa,bossa nova,kpop,k pop,jpop,j pop,grunge,"
    "alternative,emo,ska,swing,bluegrass,soundtracks,instrumental,piano,acoustic,dance,trap,grime,afrobeat,"
    "afrobeats,motown,oldies,eighties,nineties,synthwave,lounge,flamenco,tango,samba,christmas").split(","))
_MODS = frozenset((  # "smooth jazz", "classic rock", "french pop"
    "smooth classic hard modern old school vintage live deep progressive contemporary traditional experimental "
    "latin french italian spanish brazilian german british american irish korean japanese cuban african").split())
_VERBS = frozenset((
    "turn switch dim brighten set play open close shut lock unlock start stop pause resume put make raise lower "
    "increase decrease activate run show tell read give mute unmute skip cancel arm disarm heat cool warm "
    "vacuum clean call text remind wake order add").split())
_PREP = frozenset("in on at to for with from about back by into".split())


@dataclass(frozen=True)
class Teaching:
    """A request that taught (or took back) a preference instead of asking for something."""

    preference: Preference
    """What was taught; for `forget` only user, kind and key matter (value may be empty)."""
    forget: bool
    """True when the user took it back ("forget movie time", "I'm not a Warriors fan anymore")."""
    reply: str
    """Short spoken confirmation, so the user hears what was understood."""

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Teaching:
        return cls(preference=Preference.from_dict(d["preference"]), forget=bool(d.get("forget", False)),
                   reply=str(d.get("reply") or ""))

    def to_dict(self) -> dict[str, Any]:
        return {"preference": self.preference.to_dict(), "forget": self.forget, "reply": self.reply}


def _clean(text: str) -> str:
    """ASR-style text: lower case, commas kept as ' , ' (they may split a phrase), fillers and contractions folded."""
    t = unicodedata.normalize("NFKC", text).lower().replace("\u2019", "'")
    t = re.sub(r"[^\w\s',&]+", " ", t).replace(",", " , ")
    t = _FILLER.sub(" ", t)
    for pat, rep in ((r"\bi am\b|\bim\b|\bi m\b", "i'm"), (r"\bdo not\b|\bdont\b", "don't"),
                     (r"\bfavou?rite\b", "favorite"), (r"\bany more\b", "anymore")):
        t = re.sub(pat, rep, t)
    t = re.sub(r"\s+", " ", t).strip(" ,")
    return _LEAD.sub("", t).strip(" ,")


def _np(phrase: str, max_words: int, extra: frozenset[str] = frozenset()) -> str | None:
    """A short noun phrase with its articles dropped, or None when it has pronouns, verbs or prepositions."""
    p = _ARTICLE.sub("", phrase.replace(",", " ").strip())
    p = re.sub(r"\s+", " ", p).strip()
    words = p.split()
    if not words or len(words) > max_words or any(w in _STOP or w in _PREP or w in extra for w in words):
        return None
    return p


def _genre(phrase: str, *, said_music: bool = False) -> str | None:
    """A genre: a known genre word, or any short noun phrase when the user said "music"/"genre" themselves."""
    p = re.sub(r"\s+(?:music|songs|tunes)$", "", phrase.strip())
    said_music = said_music or p != phrase.strip()
    g = _np(p, 3, _THING)
    if g is None or g.split()[0] in _VERBS:
        return None
    words = g.split()
    mods = _MODS | _GENRES
    known = any(" ".join(words[i:]) in _GENRES and all(w in mods for w in words[:i]) for i in range(len(words)))
    return g if said_music or known else None


def _team(phrase: str) -> str | None:
    return _np(phrase, 3, _THING)


def _flip(cmd: str) -> str:
    """Speak a command back: "turn off my lights" -> "turn off your lights"."""
    return re.sub(r"\b(my|me)\b", lambda m: "your" if m.group(1) == "my" else "you", cmd)


flip_person = _flip


def _command(text: str) -> str | None:
    c = re.sub(r"^(?:, )?(?:then |you should |i want you to |you can |to )?", "", text.strip(" ,")).strip(" ,")
    return c.replace(" , ", " ") if c and c.split()[0] in _VERBS else None


def _make(kind: str, key: str, value: str, user: str, ts: float, forget: bool) -> Teaching:
    key = normalize(key)
    pref = Preference(user=user, kind=kind, key=key, value=value, ts=ts)
    if kind == "team":
        a = "an" if value[:1].lower() in "aeiou" else "a"
        reply = (f"Okay, I'll forget that you're {a} {value} fan." if forget
                 else f"Okay, I'll remember you're {a} {value} fan.")
    elif kind == "music_genre":
        reply = f"Okay, I'll forget that you like {value}." if forget else f"Okay, I'll remember you like {value}."
    elif kind == "alias":
        reply = (f"Okay, I'll forget what {key} means." if forget
                 else f"Okay, when you say {key} I'll know you mean the {value}.")
    else:
        reply = (f"Okay, I'll forget {key}." if forget
                 else f"Okay, when you say {key} I'll {_flip(value)}.")
    return Teaching(preference=pref, forget=forget, reply=reply)


def _alias_or_phrase(new: str, old: str, user: str, ts: float) -> Teaching | None:
    """ "X means Y" / "when I say X I mean Y": a command makes X a phrase, a noun phrase makes it an alias."""
    trigger = new.replace(" , ", " ").strip(" ,")
    cmd = _command(old)
    if cmd is not None and 0 < len(trigger.split()) <= 6 and trigger.split()[0] not in _STOP:
        return _make("phrase", trigger, cmd, user, ts, False)
    n, o = _np(new, 4), _np(old, 4)
    return _make("alias", n, o, user, ts, False) if n and o and n != o else None


def _learn(s: str, user: str, ts: float) -> Teaching | None:
    """A positive teaching in cleaned text."""
    plain = s.replace(" , ", " ").replace(",", "")
    m = re.match(r"^(?:i'm (?:a |an )?" + _ADJ + r"(?P<a>.+?) (?:fan|supporter)"
                 r"|i'm (?:a |an )?" + _ADJ + r"(?:fan|supporter) of (?P<b>.+)"
                 r"|my (?:favorite )?(?:sports |football |basketball |baseball |hockey )?(?:team|club) is (?P<c>.+)"
                 r"|i (?:really )?(?:support|root for|cheer for) (?P<d>.+))$", plain)
    if m:
        said = next(g for g in m.groups() if g)
        genre = _genre(said) if m.group("a") or m.group("b") else None
        if genre:
            return _make("music_genre", genre, genre, user, ts, False)
        team = _team(said)
        return _make("team", team, team.title(), user, ts, False) if team else None
    m = re.match(r"^my favorite (?:kind of |type of |style of )?(?:music|genre|music genre|genre of music) is (.+)$",
                 plain)
    if m:
        g = _genre(m.group(1), said_music=True)
        return _make("music_genre", g, g, user, ts, False) if g else None
    m = re.match(r"^i (?:really |just |do )?(?:like|love|enjoy|dig|adore) (?:listening to )?(.+)$"
                 r"|^i'm (?:really )?into (.+)$", plain)
    if m:
        g = _genre(m.group(1) or m.group(2))
        return _make("music_genre", g, g, user, ts, False) if g else None
    m = (re.match(r"^(?:from now on )?(?:i want you to |you can |you should )?(?:i )?call (?P<o>.+?) "
                  r"(?P<n>(?:the|my) .+?)(?: from now on)?$", plain)
         or re.match(r"^(?P<o>.+?) (?:is|should be|will be) called (?P<n>.+?)(?: from now on)?$", plain)
         or re.match(r"^rename (?P<o>.+?) (?:to|as) (?P<n>.+)$", plain)
         or re.match(r"^(?P<n>.+?) is (?:another name for|what i call) (?P<o>.+)$", plain))
    if m:
        n, o = _np(m.group("n"), 4), _np(m.group("o"), 4)
        return _make("alias", n, o, user, ts, False) if n and o and n != o else None
    m = re.match(r"^(?:when|whenever|if) i say (.+)$", s)
    if m:
        rest = m.group(1)
        parts = re.split(r" i mean | , ", rest, maxsplit=1)
        if len(parts) == 2:
            return _alias_or_phrase(parts[0], parts[1], user, ts)
        words = rest.split()
        for i, w in enumerate(words[1:], 1):
            if w in _VERBS or " ".join(words[i:i + 2]) in ("you should", "then turn"):
                return _alias_or_phrase(" ".join(words[:i]), " ".join(words[i:]), user, ts)
        return None
    m = re.match(r"^(.+?) means (.+)$", plain)
    return _alias_or_phrase(m.group(1), m.group(2), user, ts) if m else None


def _unlearn(s: str, user: str, ts: float) -> Teaching | None:
    """Taking something back: "forget that ...", "I'm not a Warriors fan anymore", "stop calling X Y"."""
    plain = s.replace(" , ", " ")
    m = re.match(r"^i'm (?:not|no longer) (?:a |an )?" + _ADJ + r"(.+?) (?:fan|supporter)(?: anymore)?$"
                 r"|^i (?:don't|no longer) (?:support|root for|cheer for) (.+?)(?: anymore)?$", plain)
    if m:
        said = m.group(1) or m.group(2)
        g = _genre(said) if m.group(1) else None
        if g:
            return _make("music_genre", g, g, user, ts, True)
        team = _team(said)
        return _make("team", team, team.title(), user, ts, True) if team else None
    m = re.match(r"^i (?:don't|no longer) (?:like|love|enjoy) (.+?)(?: anymore)?$"
                 r"|^i'm (?:not|no longer) (?:really )?into (.+?)(?: anymore)?$", plain)
    if m:
        g = _genre(m.group(1) or m.group(2))
        return _make("music_genre", g, g, user, ts, True) if g else None
    m = re.match(r"^stop calling (.+)$", plain)
    if m:
        t = _learn("call " + m.group(1), user, ts)
        return _make("alias", t.preference.key, t.preference.value, user, ts, True) if t else None
    m = re.match(r"^forget (?:that |about |what )?(.+?)(?: means)?$", plain)
    if not m:
        return None
    inner = _learn(m.group(1), user, ts)
    if inner is not None:
        p = inner.preference
        return _make(p.kind, p.key, p.value, user, ts, True)
    n = re.match(r"^(?:the )?(?:name|alias|nickname) (.+)$", m.group(1))
    if n and _np(n.group(1), 4):
        return _make("alias", _np(n.group(1), 4) or "", "", user, ts, True)
    words = m.group(1).split()
    if not words or len(words) > 6 or words[0] in _STOP or words[0] in ("the", "a", "an"):
        return None
    return _make("phrase", m.group(1), "", user, ts, True)


def parse_teaching(text: str, user: str, ts: float) -> Teaching | None:
    """The teaching in `text`, or None for an ordinary request (the common case, so every shape is anchored)."""
    if len(text) > MAX_TEACHING_CHARS:
        return None
    s = _clean(text)
    if not s:
        return None
    return _unlearn(s, user, ts) or _learn(s, user, ts)


def _known_names(home: Home) -> set[str]:
    names = {norm(n) for e in home.entities for n in e.names()}
    names |= {norm(n) for a in home.areas for n in (a.name, *a.aliases)}
    return {n for n in names if n}


def _words_re(name: str) -> str:
    return r"(?<![\w'])" + r"[\s_\-]+".join(re.escape(w) for w in norm(name).split()) + r"(?![\w'])"


def _apply_aliases(text: str, aliases: list[Preference], home: Home | None) -> tuple[str, list[str]]:
    """Whole-word alias -> existing name; never inside a real name already in the text ("sofa lamp")."""
    known = _known_names(home) if home is not None else set()
    usable = [p for p in aliases if norm(p.key) and (home is None or (norm(p.key) not in known
                                                                      and norm(p.value) in known))]
    if not usable:
        return text, []
    protected = [m.span() for n in known for m in re.finditer(_words_re(n), text, re.I)]
    by_key = {norm(p.key): p for p in sorted(usable, key=lambda p: p.ts)}
    pattern = re.compile("|".join(_words_re(k) for k in sorted(by_key, key=len, reverse=True)), re.I)
    fired: list[str] = []

    def sub(m: re.Match[str]) -> str:
        if any(a < m.end() and m.start() < b for a, b in protected):
            return m.group(0)
        p = by_key[norm(m.group(0))]
        fired.append(p.key)
        return p.value

    return pattern.sub(sub, text), fired


_SPORTS = re.compile(r"\b(?:win|won|winning|lose|lost|losing|beat|play|playing|played|game|games|match|matches|"
                     r"score|scored|fixture|fixtures|standings|season|playoffs)\b")
_NOT_SPORTS = re.compile(r"\b(?:music|song|songs|playlist|radio|album|podcast|movie|video|audiobook|some|"
                         r"something|meeting|standup|project|work|calendar|email)\b")


def _apply_team(text: str, team: Preference) -> str:
    t = normalize(text)
    if _NOT_SPORTS.search(t) or not (_SPORTS.search(t) or re.search(r"\bhow (?:is|are|did) (?:my|our|we)\b.*\bdo", t)):
        return text
    out = re.sub(r"\b(?:my|our) (?:favou?rite )?(?:team|club|side)\b", team.value, text, flags=re.I)
    out = re.sub(r"\b(did|do|does|are|were|will|have|had|didn't|don't|aren't|won't)\s+we\b",
                 lambda m: f"{m.group(1)} {team.value}", out, flags=re.I)
    out = re.sub(r"^we\b(?=\s+(?:won|lost|play|beat))", team.value, out, flags=re.I)
    return re.sub(r"\bour\b(?=\s+(?:next |last |latest )?(?:game|match|fixture))", team.value, out, flags=re.I)


def apply_preferences(text: str, prefs: list[Preference], home: Home | None) -> tuple[str, str | None]:
    """(text for the model, the rule that fired or None): phrase, else aliases, else "my team"/"we" -> the team."""
    key = normalize(text)
    cleaned = normalize(_clean(text))
    for p in sorted(prefs, key=lambda p: p.ts, reverse=True):
        if p.kind == "phrase" and p.value and normalize(p.key) in (key, cleaned):
            return p.value, f"phrase:{p.key}"
    new, fired = _apply_aliases(text, [p for p in prefs if p.kind == "alias" and p.value], home)
    if fired:
        return new, "alias:" + ",".join(dict.fromkeys(fired))
    teams = sorted((p for p in prefs if p.kind == "team" and p.value), key=lambda p: p.ts)
    if teams:
        new = _apply_team(text, teams[-1])
        if new != text:
            return new, f"team:{teams[-1].key}"
    return text, None


def preference_history(prefs: list[Preference]) -> tuple[HistoryTurn, ...]:
    """Synthetic earlier turns, one per liked genre (oldest first), so `resolve_media.habit` picks it for "play
    music"; the caller prepends them to ctx.history, so real plays the user keeps asking for still win."""
    genres = sorted((p for p in prefs if p.kind == "music_genre" and (p.value or p.key)), key=lambda p: p.ts)
    return tuple(HistoryTurn(text=f"play {p.value or p.key}", intent="HassMediaSearchAndPlay",
                             slots={"search_query": p.value or p.key, "media_class": "music"}) for p in genres)


def describe(prefs: list[Preference]) -> list[str]:
    """One human-readable line per preference, for `edge-nlu learn --list`."""
    lines = []
    for p in sorted(prefs, key=lambda p: (p.user, p.kind, p.ts, p.key)):
        if p.kind == "team":
            what = f"is a {p.value} fan (\"my team\", \"did we win\" mean the {p.value})"
        elif p.kind == "music_genre":
            what = f"likes {p.value} (\"play music\" plays {p.value})"
        elif p.kind == "alias":
            what = f"\"{p.key}\" means the {p.value}"
        elif p.kind == "phrase":
            what = f"\"{p.key}\" -> {p.value}"
        else:
            what = f"{p.kind} {p.key} = {p.value}"
        lines.append(f"{p.user}: {what}")
    return lines
