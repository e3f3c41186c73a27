"""`Profiles.words_in` looks the text's word runs up in the kind vocabulary (issue 15: it was a regex per
vocabulary word, twice per request); it must find what that search finds, in the same order."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_nlu.domain.home import norm
from edge_nlu.domain.profiles import Profiles, load_profiles

HWU = Path(__file__).resolve().parent.parent / "export" / "data" / "hwu64" / "train.jsonl"


@pytest.fixture(scope="module")
def profiles() -> Profiles:
    return load_profiles()


_loaded: list[Profiles] = []


def _shared() -> Profiles:
    if not _loaded:
        _loaded.append(load_profiles())
    return _loaded[0]


def by_regex(p: Profiles, text: str) -> list[tuple[str, int, int]]:
    """The definition: every vocabulary word between spaces, longest word first, then by position."""
    padded = f" {text} "
    order = sorted(p.kind_words, key=len, reverse=True)
    found = [(w, m.start() - 1, m.end() - 1) for w in order
             for m in re.finditer(rf"(?<= ){re.escape(w)}(?= )", padded)]
    rank = {w: i for i, w in enumerate(p._vocab)}  # ties of equal length: the vocabulary's own order
    return sorted(found, key=lambda f: (-len(f[0]), rank[f[0]], f[1]))


def test_words_in_finds_what_the_search_finds(profiles: Profiles) -> None:
    texts = [norm(json.loads(x)["text"]) for x in HWU.read_text(encoding="utf-8").splitlines()[:3000]] \
        if HWU.is_file() else []
    texts += ["", "lights", "turn on the lights lights", "the ceiling light and the light", "switch the tv off",
              "open the garage door and the door", "the  lights", "x.lights lights."]
    hits = 0
    for t in texts:
        got = profiles.words_in(t)
        assert got == by_regex(profiles, t), t
        hits += bool(got)
        assert all(t[a:b] == w for w, a, b in got)
    assert hits > 10


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["the", "light", "lights", "ceiling", "tv", "garage", "door", "blind", "oven",
                                 "on", "off", "a", "fan", "x", "", "lamp"]), max_size=12))
def test_words_in_on_any_word_sequence(words: list[str]) -> None:
    p = _shared()
    t = " ".join(words)
    assert p.words_in(t) == by_regex(p, t)
