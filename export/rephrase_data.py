"""Augmentation (ASR-like noise, paraphrase templates, antonym flips) and labelled rephrase pairs.

A pair is (prev_text, next_text, gap_s, label): label 1 when the next turn asks for the same
thing again in other words, 0 when it is a different request. Positives: two phrasings of
one request (same intent, same slot values), a misheard text followed by its clean form, a
paraphrase-template variant. Negatives: same intent with other slot values (another room or
device is a new request), a different intent over the same slot values, an antonym swapped
in ("on" -> "off"), unrelated requests. Both classes draw gap_s from the same distribution,
and both get a misheard previous turn at the same rate, so neither the gap nor the noise
tells the classes apart: the words must.
"""

from __future__ import annotations

import math
import random
import re
from collections import defaultdict
from typing import Any

from edge_nlu.learn.rephrase import ANTONYMS
from edge_nlu.learn.types import normalize

ARTICLES = frozenset({"the", "a", "an"})
CONFUSABLE: dict[str, list[str]] = {
    "off": ["of"], "of": ["off"], "four": ["for"], "for": ["four"], "two": ["to", "too"], "to": ["two"],
    "too": ["two"], "lights": ["lice", "lites"], "light": ["like", "lite"], "playlist": ["play list"],
    "kitchen": ["kitten"], "lamp": ["lamb"], "fan": ["van"], "heat": ["eat"], "weather": ["whether"],
    "right": ["write"], "eight": ["ate"], "one": ["won"], "bedroom": ["bed room"], "living": ["leaving"],
    "nine": ["night"], "timer": ["time her"], "hallway": ["hall way"], "garage": ["garbage"], "set": ["sit"],
    "pause": ["paws"], "close": ["clothes"], "blinds": ["blind", "blends"], "louder": ["lauder"],
    "what's": ["what", "what is"], "thermostat": ["thermo stat"], "volume": ["volumes"], "music": ["musics"],
    "alarm": ["alarms", "a lamb"], "tv": ["t v", "tea v"], "lock": ["luck"], "door": ["dour"], "song": ["son"],
    "temperature": ["temper chair"], "turn": ["tern", "term"], "dim": ["them"], "oven": ["of an"],
    "there": ["their"], "hour": ["our"], "heater": ["heeder"], "radio": ["radial"], "news": ["noose"],
    "list": ["last"], "shopping": ["chopping"], "remind": ["rewind"], "minutes": ["minute"], "please": ["plays"],
    "curtains": ["certain"], "switch": ["which"], "brightness": ["brightest"], "lower": ["lover"],
}
"""Words a speech recogniser mishears, and what it hears instead."""
FILLERS = ("uh", "um", "hey", "ok", "so", "er")
TEMPLATES: list[tuple[re.Pattern[str], list[str]]] = [
    (re.compile(r"^(?:please )?(?:turn|switch) (on|off) (?:the )?(.+?)(?: please)?$"),
     ["turn {0} the {1}", "switch {0} the {1}", "{1} {0}", "turn the {1} {0}", "switch {0} {1}"]),
    (re.compile(r"^(?:please )?(?:turn|switch) (?:the )?(.+?) (on|off)(?: please)?$"),
     ["turn {1} the {0}", "switch {1} the {0}", "{0} {1}"]),
    (re.compile(r"^(?!turn |switch |is |are |check )(?:the )?(.+?) (on|off)$"),
     ["turn {1} the {0}", "switch {1} the {0}"]),
    (re.compile(r"^(?:can|could|would|will) you (?:please )?(.+?)(?: please)?$"), ["{0}", "please {0}", "{0} please"]),
    (re.compile(r"^please (.+)$"), ["{0}", "can you {0}", "could you {0}"]),
    (re.compile(r"^(.+) please$"), ["{0}", "please {0}"]),
    (re.compile(r"^what is (.+)$"), ["what's {0}"]),
    (re.compile(r"^what's (.+)$"), ["what is {0}"]),
    (re.compile(r"^play (?!some )(.+)$"), ["put on {0}", "i want to hear {0}", "start playing {0}", "play me {0}"]),
    (re.compile(r"^play some (.+)$"), ["put on some {0}", "i want to hear some {0}", "play {0}"]),
    (re.compile(r"^set (?:the )?(.+?) to (.+)$"), ["change the {0} to {1}", "put the {0} to {1}", "set {0} to {1}"]),
    (re.compile(r"^(?:what's|what is|how is|how's) the weather(.*)$"),
     ["what's the weather{0}", "how's the weather{0}", "what is the weather like{0}", "weather{0}"]),
    (re.compile(r"^what time is it$"), ["what's the time", "tell me the time", "what is the time"]),
    (re.compile(r"^(?:turn|switch) (up|down) (?:the )?(.+)$"), ["turn {0} the {1}", "{1} {0}", "turn the {1} {0}"]),
    (re.compile(r"^is (?:the )?(.+?) (on|off)\??$"),
     ["is the {0} {1}", "is the {0} turned {1}", "check if the {0} is {1}"]),
    (re.compile(r"^(lock|unlock|open|close|start|stop) (?:the )?(.+)$"),
     ["{0} the {1}", "please {0} the {1}", "{0} {1}"]),
    (re.compile(r"^dim (?:the )?(.+)$"), ["dim the {0}", "make the {0} dimmer", "turn the {0} down"]),
    (re.compile(r"^(?:set|start) a timer for (.+)$"), ["timer for {0}", "start a timer for {0}", "set a {0} timer"]),
    (re.compile(r"^(?:set|make) an alarm for (.+)$"), ["wake me up at {0}", "alarm for {0}", "set an alarm at {0}"]),
]
"""Word-order-preserving (mostly) paraphrases of common request shapes."""
_WORD_ANTONYM: dict[str, list[str]] = defaultdict(list)
for _a, _b in ANTONYMS:
    _WORD_ANTONYM[_a].append(_b)
    _WORD_ANTONYM[_b].append(_a)


def _clean(text: str) -> str:
    return " ".join(text.split())


def noise(text: str, rng: random.Random, ops: int | None = None) -> str | None:
    """An ASR-like mishearing of `text` (lower case, punctuation kept out), or None when nothing changed."""
    words = normalize(text).split()
    if not words:
        return None
    src = " ".join(words)
    for _ in range(ops or rng.choice((1, 1, 1, 2, 2, 3))):
        op = rng.random()
        if op < 0.45:  # confusable swap
            cand = [i for i, w in enumerate(words) if w in CONFUSABLE]
            if cand:
                i = rng.choice(cand)
                words[i] = rng.choice(CONFUSABLE[words[i]])
                words = " ".join(words).split()
                continue
        if op < 0.6:  # articles dropped
            kept = [w for w in words if w not in ARTICLES]
            if kept and len(kept) < len(words):
                words = kept
                continue
        if op < 0.78 and len(words) >= 3:  # a word lost
            del words[rng.randrange(1, len(words))]
            continue
        if op < 0.88:  # filler or stutter
            if rng.random() < 0.5:
                words.insert(0, rng.choice(FILLERS))
            else:
                i = rng.randrange(len(words))
                words.insert(i, words[i])
            continue
        if len(words) >= 2:  # two words glued or a word split
            i = rng.randrange(len(words) - 1)
            if rng.random() < 0.5 and len(words[i]) + len(words[i + 1]) <= 12:
                words[i: i + 2] = [words[i] + words[i + 1]]
            elif len(words[i]) >= 6:
                k = rng.randrange(2, len(words[i]) - 2)
                words[i: i + 1] = [words[i][:k], words[i][k:]]
    out = " ".join(words)
    return out if out and out != src else None


def paraphrase(text: str, rng: random.Random) -> str | None:
    """Another wording of `text` from the templates, or None when no template fits."""
    t = normalize(text)
    options: list[str] = []
    for pat, outs in TEMPLATES:
        m = pat.match(t)
        if m:
            options += [_clean(o.format(*m.groups())) for o in outs]
    options = [o for o in options if normalize(o) != t]
    return rng.choice(options) if options else None


def flip(text: str, rng: random.Random) -> str | None:
    """`text` with one word swapped for its antonym ("on" -> "off"): a different request."""
    words = normalize(text).split()
    cand = [i for i, w in enumerate(words) if w in _WORD_ANTONYM]
    if not cand:
        return None
    i = rng.choice(cand)
    words[i] = rng.choice(_WORD_ANTONYM[words[i]])
    return " ".join(words)


def gap(rng: random.Random) -> float:
    """Seconds between the turns, one distribution for both classes (log-normal, median 6 s, 1-120 s)."""
    return round(min(120.0, max(1.0, math.exp(rng.gauss(math.log(6.0), 0.9)))), 2)


HOME_SCENARIOS = frozenset({"iot", "play", "audio", "weather", "datetime", "alarm", "lists", "music", "general"})
"""HWU64 scenarios a hub hears; slot-less requests of these count as one request per intent."""
_SLOTLESS_VAGUE = frozenset({"general_quirky", "general_praise", "general_explain", "music_likeness",
                             "music_dislikeness", "lists_createoradd"})


def request_key(r: dict[str, Any]) -> tuple[str, tuple[tuple[str, str], ...]]:
    return r["intent"], tuple(sorted((s["type"], normalize(s["value"])) for s in r["slots"]))


def _same_request_ok(r: dict[str, Any]) -> bool:
    """Whether two texts with r's intent and slot values surely ask for the same thing."""
    if r["slots"]:
        return True
    return r.get("scenario", r["intent"].split("_")[0]) in HOME_SCENARIOS and r["intent"] not in _SLOTLESS_VAGUE


def make_pairs(records: list[dict[str, Any]], n: int, rng: random.Random, noise_rate: float = 0.3
               ) -> list[dict[str, Any]]:
    """About n labelled pairs, half positive, from records with text/intent/slots.

    Each pair: prev, next, gap_s, label (1 rephrase, 0 new request), kind (how it was made).
    """
    uniq: dict[str, dict[str, Any]] = {}
    for r in records:
        uniq.setdefault(normalize(r["text"]), r)
    recs = [r for k, r in uniq.items() if k]
    by_req: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    by_intent: dict[str, dict[Any, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    by_slots: dict[Any, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for r in recs:
        key = request_key(r)
        if _same_request_ok(r):
            by_req[key].append(r)
        by_intent[r["intent"]][key[1]].append(r)
        if key[1]:
            by_slots[key[1]][r["intent"]].append(r)
    multi_req = [v for v in by_req.values() if len(v) >= 2]
    multi_intent = [v for v in by_intent.values() if sum(1 for k in v if k) >= 2]
    multi_slots = [v for v in by_slots.values() if len(v) >= 2]

    def maybe_noise(t: str) -> str:
        if rng.random() < noise_rate:
            return noise(t, rng) or t
        return t

    def pos() -> tuple[str, str, str] | None:
        kind = rng.choices(("asr", "template", "same_request"), (0.4, 0.25, 0.35))[0]
        if kind == "same_request" and multi_req:
            a, b = rng.sample(rng.choice(multi_req), 2)
            return kind, maybe_noise(a["text"]), b["text"]
        r = rng.choice(recs)
        if kind == "template":
            v = paraphrase(r["text"], rng)
            if v is None:
                return None
            first, second = (r["text"], v) if rng.random() < 0.5 else (v, r["text"])
            return kind, maybe_noise(first), second
        v = noise(r["text"], rng)
        return (kind, v, r["text"]) if v else None

    def neg() -> tuple[str, str, str] | None:
        kind = rng.choices(("other_slots", "other_intent", "antonym", "unrelated"), (0.35, 0.15, 0.15, 0.35))[0]
        if kind == "other_slots" and multi_intent:
            groups = rng.choice(multi_intent)
            k1, k2 = rng.sample([k for k in groups if k], 2)
            d1, d2 = dict(k1), dict(k2)
            if not any(d1[t] != d2[t] for t in d1.keys() & d2.keys()):
                return None  # only a slot added or dropped: may be the same request made precise
            a, b = rng.choice(groups[k1]), rng.choice(groups[k2])
        elif kind == "other_intent" and multi_slots:
            groups = rng.choice(multi_slots)
            i1, i2 = rng.sample(list(groups), 2)
            a, b = rng.choice(groups[i1]), rng.choice(groups[i2])
        elif kind == "antonym":
            r = rng.choice(recs)
            v = flip(r["text"], rng)
            if v is None:
                return None
            a, b = ({"text": r["text"]}, {"text": v}) if rng.random() < 0.5 else ({"text": v}, {"text": r["text"]})
        else:
            kind = "unrelated"
            a, b = rng.sample(recs, 2)
            if a["intent"] == b["intent"]:
                return None
        if normalize(a["text"]) == normalize(b["text"]):
            return None
        return kind, maybe_noise(a["text"]), b["text"]

    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    tries = 0
    while len(out) < n and tries < 50 * n:
        tries += 1
        label = len(out) % 2 == 0
        got = pos() if label else neg()
        if got is None:
            continue
        kind, a, b = got
        pair = (normalize(a), normalize(b))
        if pair in seen or pair[0] == pair[1] or not pair[0] or not pair[1]:
            continue
        seen.add(pair)
        out.append({"prev": a, "next": b, "gap_s": gap(rng), "label": int(label), "kind": kind})
    rng.shuffle(out)
    return out
