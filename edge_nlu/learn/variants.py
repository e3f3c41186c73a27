"""Carrying a learned rewrite over to a close variant of its failing phrasing.

People do not repeat a failing phrase word for word: "turn on the X" is learned, "switch on the X"
comes next week. A variant may reword the request (other verbs, fillers, politeness) but may not
name another thing in the home or another number: "start the big robot" is not a variant of
"start the little robot" when "big robot" is what another device is called.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

from rapidfuzz import fuzz

from edge_nlu.domain.home import Home
from edge_nlu.learn.types import STOPWORDS, normalize

_NUMBER = re.compile(r"^\d+(?:[.,]\d+)?$")
NUMBER_WORDS = frozenset(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred half quarter".split()
)


def home_words(home: Home) -> frozenset[str]:
    """Every word of the home's entity and area names and aliases: the words that pick a thing out."""
    out: set[str] = set()
    for e in home.entities:
        for n in e.names():
            out.update(normalize(n).split())
    for a in home.areas:
        for n in (a.name, *a.aliases):
            out.update(normalize(n).split())
    return frozenset(out)


def _numbers(words: list[str]) -> set[str]:
    return {w for w in words if _NUMBER.match(w) or w in NUMBER_WORDS}


def variant_of(text: str, src: str, names: frozenset[str]) -> bool:
    """`text` (normalised) may be a rewording of the learned failing phrasing `src`: it names no thing of the
    home and no number that `src` does not, and it is not the same words."""
    if text == src:
        return False
    tw, sw = text.split(), src.split()
    new = set(tw) - set(sw)
    if new & names:
        return False
    return _numbers(tw) == _numbers(sw)


def transfer_edit(src: str, dst: str, text: str) -> str:
    """The learned rewrite applied to a variant: when `src` -> `dst` replaced one run of words and the variant
    contains that run, replace it there (keeping the variant's own verb and wording); otherwise `dst` whole."""
    sw, dw, tw = normalize(src).split(), normalize(dst).split(), normalize(text).split()
    ops = [op for op in SequenceMatcher(a=sw, b=dw, autojunk=False).get_opcodes() if op[0] != "equal"]
    if len(ops) == 1:
        _, i1, i2, j1, j2 = ops[0]
        old, rep = sw[i1:i2], dw[j1:j2]
        if old:
            for k in range(len(tw) - len(old) + 1):
                if tw[k:k + len(old)] == old:
                    return " ".join(tw[:k] + rep + tw[k + len(old):])
    return dst


def keeps_content(text: str, candidate: str, named: frozenset[str] | None = None, min_alike: float = 60.0) -> bool:
    """A retrieved phrasing may stand for the request only if it keeps what the request named: every word of
    `named` (the words of the model's slot spans; None: every content word) is in it, or the words it lost
    sound like the words it brought ("fast tune" -> "festoon"). "turn off the party lights" -> "turn off the
    lights" loses "party" and is refused; "douse the kitchen lights" -> "turn off the kitchen lights" only
    swaps the verb."""
    tw = [w for w in normalize(text).split() if w not in STOPWORDS]
    cw = [w for w in normalize(candidate).split() if w not in STOPWORDS]
    lost = [w for w in tw if w not in cw and (named is None or w in named)]
    if not lost:
        return True
    brought = [w for w in cw if w not in tw]
    return bool(brought) and fuzz.ratio(" ".join(lost), " ".join(brought)) >= min_alike
