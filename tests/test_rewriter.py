"""OnlineRewriter's retrieval and ranking with a deterministic bag-of-words encoder (a fake, not a mock)."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from edge_nlu.errors import ConfigError
from edge_nlu.learn.rewriter import OnlineRewriter, RewriterSettings

DIM = 64
NOW = 1_790_000_000.0


class BagOfWords:
    """Unit vectors of hashed word counts: texts sharing words are close, as with a real encoder."""

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in t.lower().split():
                out[i, zlib.crc32(w.encode()) % DIM] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1.0, norms)


SHIPPED = ["turn on the kitchen lights", "set a timer for ten minutes", "what is the weather today"]


@pytest.fixture
def rw() -> OnlineRewriter:
    enc = BagOfWords()
    return OnlineRewriter(enc, SHIPPED, enc.encode(SHIPPED), RewriterSettings(min_similarity=0.5, min_score=0.5))


def test_global_candidates_are_ranked_and_never_the_request_itself(rw: OnlineRewriter) -> None:
    got = rw.candidates("turn on kitchen lights please", None, NOW)
    assert got and got[0].text == "turn on the kitchen lights" and got[0].layer == "global"
    assert all(c.text != "turn on kitchen lights please" for c in got)
    assert rw.candidates("turn on the kitchen lights", None, NOW) == []  # only itself is close
    assert rw.candidates("play jazz", None, NOW) == []  # nothing similar enough


def test_personal_phrasing_wins_for_its_user_only(rw: OnlineRewriter) -> None:
    rw.set_personal("ann", [("turn on the kitchen lamp", 5, NOW - 60, 1.0)])
    assert rw.candidates("kitchen lamp on", "ann", NOW)[0].text == "turn on the kitchen lamp"
    assert all(c.layer == "global" for c in rw.candidates("kitchen lamp on", "bob", NOW))
    assert all(c.layer == "global" for c in rw.candidates("kitchen lamp on", "ann", NOW, frozenset({"global"})))
    rw.forget("ann")
    assert not rw.has_personal("ann")


def test_global_guard_keeps_a_clearly_closer_global_phrasing(rw: OnlineRewriter) -> None:
    # ann's habit shares little with the request; the shipped phrasing is the request almost word for word
    rw.set_personal("ann", [("set a timer for the pasta", 9, NOW, 1.0)])
    got = rw.candidates("set a timer for ten minutes now", "ann", NOW)
    assert got[0].text == "set a timer for ten minutes"
    assert "set a timer for the pasta" not in [c.text for c in got]


def test_a_phrasing_that_often_failed_ranks_below_a_reliable_one(rw: OnlineRewriter) -> None:
    rw.set_hub([("lights on in the kitchen", 4, NOW, 0.2), ("kitchen lights on now", 4, NOW, 1.0)])
    got = {c.text: c.score for c in rw.candidates("kitchen lights on", None, NOW)}
    shaky, solid = got["lights on in the kitchen"], got["kitchen lights on now"]
    assert solid > shaky
    # the same two, both reliable, score alike (the gap above is the success rate's doing)
    rw.set_hub([("lights on in the kitchen", 4, NOW, 1.0), ("kitchen lights on now", 4, NOW, 1.0)])
    again = {c.text: c.score for c in rw.candidates("kitchen lights on", None, NOW)}
    assert again["lights on in the kitchen"] == pytest.approx(shaky + 0.1 * 0.8, abs=1e-3)


def test_settings_round_trip_and_refuse_unknown_keys() -> None:
    s = RewriterSettings(top_k=3, failure_penalty=0.2)
    assert RewriterSettings.from_dict(s.to_dict()) == s
    with pytest.raises(ConfigError, match="unknown"):
        RewriterSettings.from_dict({"top_kk": 3})
