"""Rephrase features, and the shipped rewriter directory (encoder + rephrase detector) on known pairs."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from edge_nlu.errors import ModelError
from edge_nlu.learn.encoder import SentenceEncoder, default_rewriter_dir, load_global_index, verify_dir
from edge_nlu.learn.rephrase import FEATURES, N_FEATURES, RephraseDetector, pair_features

SHIPPED = default_rewriter_dir()
needs_shipped = pytest.mark.skipif(
    not (SHIPPED / "manifest.json").is_file(),
    reason=f"no rewriter built at {SHIPPED}: run `python -m export rewriter --out models/rewriter`",
)


def _unit(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=384).astype(np.float32)
    return np.asarray(v / np.linalg.norm(v), dtype=np.float32)


@pytest.mark.parametrize(("prev", "nxt", "gap"), [
    ("turn of the kitchen lights", "turn off the kitchen lights", 4.0),
    ("turn on the kitchen light", "what's the weather tomorrow", 30.0),
    ("", "play some jazz", 0.0),
    ("set the heat to 21", "set the heat to twenty two", 10_000.0),
    ("Play!!", "play", -3.0),
])
def test_pair_features_shape_and_ranges(prev: str, nxt: str, gap: float) -> None:
    f = pair_features(prev, nxt, _unit(1), _unit(2), gap)
    assert f.shape == (N_FEATURES,) == (len(FEATURES),)
    assert f.dtype == np.float32
    assert np.all(np.isfinite(f))
    assert np.all(f >= -1.0) and np.all(f <= 1.7)
    named = dict(zip(FEATURES, f.tolist(), strict=True))
    assert all(0.0 <= v <= 1.0 for k, v in named.items() if k not in ("cosine", "log_gap"))


def test_pair_features_cues() -> None:
    e = _unit(3)
    misheard = dict(zip(FEATURES, pair_features("turn of the lights", "turn off the lights", e, e, 5).tolist(),
                        strict=True))
    assert misheard["cosine"] == pytest.approx(1.0, abs=1e-5)
    assert misheard["sound_alike"] == 1.0 and misheard["antonym_swap"] == 0.0
    flipped = dict(zip(FEATURES, pair_features("turn on the lights", "turn off the lights", e, e, 5).tolist(),
                       strict=True))
    assert flipped["antonym_swap"] == 1.0 and flipped["sound_alike"] == 0.0
    numbers = dict(zip(FEATURES, pair_features("set it to 20", "set it to 25", e, e, 5).tolist(), strict=True))
    assert numbers["number_change"] == 1.0
    same = dict(zip(FEATURES, pair_features("lights off", "lights off", e, e, 5).tolist(), strict=True))
    assert same["jaccard"] == same["ratio"] == same["diff_token_similarity"] == 1.0


@pytest.fixture(scope="module")
def shipped() -> tuple[SentenceEncoder, RephraseDetector]:
    if not (SHIPPED / "manifest.json").is_file():
        pytest.skip(f"no rewriter built at {SHIPPED}: run `python -m export rewriter --out models/rewriter`")
    enc = SentenceEncoder(SHIPPED)
    return enc, RephraseDetector(SHIPPED, enc)


def test_misheard_request_followed_by_its_clean_form_is_a_rephrase(shipped: tuple[SentenceEncoder, RephraseDetector]
                                                                   ) -> None:
    _, det = shipped
    assert det.probability("turn of the kitchen lights", "turn off the kitchen lights", 4.0) > 0.5
    assert det.is_rephrase("turn of the kitchen lights", "turn off the kitchen lights", 4.0)


def test_unrelated_request_is_not_a_rephrase(shipped: tuple[SentenceEncoder, RephraseDetector]) -> None:
    _, det = shipped
    assert det.probability("turn on the kitchen light", "what's the weather tomorrow", 4.0) < 0.5
    assert not det.is_rephrase("turn on the kitchen light", "what's the weather tomorrow", 4.0)


def test_identical_request_is_a_retry(shipped: tuple[SentenceEncoder, RephraseDetector]) -> None:
    _, det = shipped
    assert det.probability("Turn off the kitchen lights.", "turn off the kitchen lights", 2.0) == 1.0
    assert det.probability("", "", 2.0) == 0.0


def test_encoder_ranks_a_paraphrase_above_another_request(shipped: tuple[SentenceEncoder, RephraseDetector]) -> None:
    enc, _ = shipped
    v = enc.encode(["turn off the kitchen lights", "switch off the kitchen light", "turn on the bedroom fan"])
    assert v.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    assert float(v[0] @ v[1]) > float(v[0] @ v[2])


@needs_shipped
def test_shipped_dir_verifies_and_is_small() -> None:
    manifest = verify_dir(SHIPPED)
    assert manifest["quick"] is False
    assert sum(m["bytes"] for m in manifest["files"].values()) < 15_000_000
    assert manifest["figures"]["encoder"]["int8_bytes"] <= 8_500_000
    texts, vecs = load_global_index(SHIPPED)
    assert len(texts) == vecs.shape[0] <= 6000


@needs_shipped
def test_missing_file_is_model_incomplete(tmp_path: Path) -> None:
    copy = tmp_path / "rewriter"
    shutil.copytree(SHIPPED, copy)
    (copy / "rephrase.onnx").unlink()
    with pytest.raises(ModelError) as err:
        SentenceEncoder(copy)  # every file the manifest names must be there
    assert err.value.code == "model_incomplete"
    shutil.copy2(SHIPPED / "rephrase.onnx", copy / "rephrase.onnx")
    SentenceEncoder(copy)
    (copy / "encoder.onnx").unlink()
    with pytest.raises(ModelError) as err2:
        verify_dir(copy)
    assert err2.value.code == "model_incomplete"


@needs_shipped
def test_changed_file_is_model_corrupt(tmp_path: Path) -> None:
    copy = tmp_path / "rewriter"
    shutil.copytree(SHIPPED, copy)
    with (copy / "global_texts.json").open("a") as f:
        f.write(" ")
    with pytest.raises(ModelError) as err:
        load_global_index(copy)
    assert err.value.code == "model_corrupt"


def test_missing_dir_is_model_not_found(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as err:
        SentenceEncoder(tmp_path / "nowhere")
    assert err.value.code == "model_not_found"


def test_default_rewriter_dir_is_in_the_checkout() -> None:
    assert default_rewriter_dir().name == "rewriter"
    assert default_rewriter_dir().parent.name == "models"
