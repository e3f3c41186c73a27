"""The runtime's own assembly of the model input equals the tokenizer's pair encoding, and the context
segment's ids are cached by its text without changing any result."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_nlu.model.runner import MAX_LEN, NLUModel
from tests.conftest import ROOT, SHIPPED

SEGMENTS = (
    "",
    "room kitchen | screen no",
    "room living room | screen yes | active tv playing , fan on | before turn on the lamp > turn on light",
)


@pytest.fixture(scope="module")
def model() -> NLUModel:
    return NLUModel(SHIPPED)


def _texts() -> list[str]:
    rows = (ROOT / "export" / "data" / "hwu64" / "train.jsonl").read_text(encoding="utf-8").splitlines()[:300]
    return [json.loads(r)["text"] for r in rows] + ["café naïve ok", "turn on the lights in the kids' room!"]


def test_input_is_the_tokenizers_pair_encoding(model: NLUModel) -> None:
    checked = 0
    for text in _texts():
        for segment in SEGMENTS:
            ref = model.tok.encode(text, segment) if segment else model.tok.encode(text)
            if len(ref.ids) > MAX_LEN:
                continue
            enc = model.encode(text, segment)
            assert enc.ids.tolist() == ref.ids and enc.type_ids.tolist() == ref.type_ids
            text_tokens = [i for i, (t, s) in enumerate(zip(ref.type_ids, ref.special_tokens_mask, strict=True))
                           if t == 0 and not s]
            spans = list(zip(enc.starts, enc.ends, strict=True))
            assert spans == [ref.offsets[i] for i in text_tokens]
            checked += 1
    assert checked > 800


def test_segment_ids_are_cached_by_text_and_bounded(tmp_path: Path) -> None:
    m = NLUModel(SHIPPED)
    segment = SEGMENTS[2]
    first = m.segment_ids(segment)
    assert m.segment_ids(segment) is first  # the second request with this segment does not tokenize it
    before = m.predict("turn it off", segment)
    for i in range(m.SEGMENT_CACHE + 5):
        m.segment_ids(f"room room {i} | screen no")
    assert len(m._segments) <= m.SEGMENT_CACHE
    assert m.predict("turn it off", segment) == before  # evicted or not, the same reading
    assert np.array_equal(m.segment_ids(segment), first)


def _reference(model: NLUModel, text: str) -> tuple[list[int], list[int], list[int]]:
    enc = model.tok.encode(text, add_special_tokens=False)
    return enc.ids, [s for s, _ in enc.offsets], [e for _, e in enc.offsets]


def test_fast_text_path_equals_the_tokenizer_on_the_training_texts(model: NLUModel) -> None:
    rows = (ROOT / "export" / "data" / "hwu64" / "train.jsonl").read_text(encoding="utf-8").splitlines()
    texts = [json.loads(r)["text"] for r in rows]
    texts += ["What's the temp?!", "set it to 21.5°C", "turn ON the lights... now", "a-b_c/d\\e", "\tdim\nit  "]
    for text in texts:
        assert model.text_tokens(text) == _reference(model, text), text


@pytest.mark.parametrize("shipped", ["home", "snips"])
def test_every_vocabulary_word_read_whole_is_what_the_tokenizer_reads(shipped: str) -> None:
    """The word cache starts with the vocabulary's words, each as one piece, without asking the tokenizer."""
    m = NLUModel(ROOT / "models" / shipped)
    assert len(m._vocab_words) > 1000
    for word, pieces in m._vocab_words.items():
        assert pieces == tuple(zip(*_reference(m, word), strict=True)), word
        assert m.text_tokens(f"{word} now") == _reference(m, f"{word} now")


def test_the_word_cache_starts_over_from_the_vocabulary_when_full() -> None:
    m = NLUModel(SHIPPED)
    text = "turn on the flibbertigibbet"
    before = m.text_tokens(text)
    for i in range(m.WORD_CACHE - len(m._words) + 3):
        m.text_tokens(f"zq{i}x")
    assert len(m._words) <= m.WORD_CACHE
    assert "turn" in m._words and m.text_tokens(text) == before


@settings(max_examples=600, deadline=None)
@given(st.one_of(st.text(alphabet=st.characters(min_codepoint=9, max_codepoint=126), max_size=60),
                 st.text(alphabet=st.sampled_from("ab Z9 -'.?[]\t"), max_size=30),
                 st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x250), max_size=60)))
def test_fast_text_path_equals_the_tokenizer_on_any_text(text: str) -> None:
    model = _shared()
    assert model.text_tokens(text) == _reference(model, text)


_MODEL: list[NLUModel] = []


def _shared() -> NLUModel:
    if not _MODEL:
        _MODEL.append(NLUModel(SHIPPED))
    return _MODEL[0]
