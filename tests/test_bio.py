"""Constrained BIO decoding: valid output, best valid path, greedy kept when already valid."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_nlu.model.bio import BioDecoder
from edge_nlu.model.runner import NLUModel

TAGS = ("O", "B-room", "I-room", "B-device", "I-device")
T = {t: i for i, t in enumerate(TAGS)}
ROOT = Path(__file__).resolve().parent.parent


def _logits(rows: list[dict[str, float]]) -> np.ndarray:
    out = np.zeros((len(rows), len(TAGS)))
    for i, row in enumerate(rows):
        for tag, v in row.items():
            out[i, T[tag]] = v
    return out


def _valid(path: list[str], glued: list[bool]) -> bool:
    for i, tag in enumerate(path):
        prev = path[i - 1] if i else None
        if glued[i] and prev is not None:
            ok = tag == "O" if prev == "O" else tag == "I-" + prev[2:]
        elif tag.startswith("I-"):
            ok = prev is not None and prev != "O" and prev[2:] == tag[2:]
        else:
            ok = True
        if not ok:
            return False
    return True


def test_valid_greedy_is_kept() -> None:
    lg = _logits([{"O": 2}, {"B-room": 3}, {"I-room": 1}, {"O": 1}])
    assert [TAGS[i] for i in BioDecoder(TAGS).decode(lg, [False] * 4)] == ["O", "B-room", "I-room", "O"]


def test_inside_after_outside_becomes_a_whole_span_or_nothing() -> None:
    # greedy: O I-room; the best valid path keeps the span by starting it
    lg = _logits([{"B-room": 1.9, "O": 2.0}, {"I-room": 3.0, "O": 0.5}])
    assert [TAGS[i] for i in BioDecoder(TAGS).decode(lg, [False, False])] == ["B-room", "I-room"]
    # ... and drops it when the inside tag was a weak guess
    lg = _logits([{"B-room": -3, "O": 2.0}, {"I-room": 0.6, "O": 0.5}])
    assert [TAGS[i] for i in BioDecoder(TAGS).decode(lg, [False, False])] == ["O", "O"]


def test_type_switch_inside_a_span_is_repaired() -> None:
    lg = _logits([{"B-device": 3}, {"I-room": 2, "I-device": 1.5}])
    assert [TAGS[i] for i in BioDecoder(TAGS).decode(lg, [False, False])] == ["B-device", "I-device"]


def test_glued_piece_follows_its_word() -> None:
    # "kitch ##en": the glued piece cannot start a new span nor leave the slot
    lg = _logits([{"B-room": 3}, {"B-room": 2, "I-room": 1.8, "O": 1.9}])
    assert [TAGS[i] for i in BioDecoder(TAGS).decode(lg, [False, True])] == ["B-room", "I-room"]
    # between words the same scores would start a second span
    assert [TAGS[i] for i in BioDecoder(TAGS).decode(lg, [False, False])] == ["B-room", "B-room"]


def test_empty() -> None:
    assert BioDecoder(TAGS).decode(np.zeros((0, len(TAGS))), []).shape == (0,)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 4).flatmap(lambda n: st.tuples(
    st.lists(st.lists(st.floats(-5, 5, allow_nan=False), min_size=len(TAGS), max_size=len(TAGS)),
             min_size=n, max_size=n),
    st.lists(st.booleans(), min_size=n, max_size=n))))
def test_best_valid_path(case: tuple[list[list[float]], list[bool]]) -> None:
    rows, glued = case
    glued[0] = False
    lg = np.asarray(rows)
    got = [TAGS[i] for i in BioDecoder(TAGS).decode(lg, glued)]
    assert _valid(got, glued)
    score = sum(lg[i, T[t]] for i, t in enumerate(got))
    best = max(sum(lg[i, T[t]] for i, t in enumerate(p))
               for p in itertools.product(TAGS, repeat=len(rows)) if _valid(list(p), glued))
    assert score == pytest.approx(best)


def test_shipped_model_never_emits_a_broken_span() -> None:
    m = NLUModel(ROOT / "models" / "home")
    for text in ("turn on the living room lights", "set the kitchen lights to fifty percent",
                 "play hey jude by the beatles in the bedroom", "wake me up at seven thirty am tomorrow"):
        enc = m.encode(text)
        tags = m._tags(m.run(enc)[1][0], enc)  # one per text token
        assert len(tags) == len(enc.starts) > 0
        path = [m.labels.tags[int(t)] for t in tags]
        glued = [i > 0 and enc.starts[i] == enc.ends[i - 1] for i in range(len(tags))]
        assert _valid(path, glued), (text, path)
