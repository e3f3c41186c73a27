"""A model directory is refused, with a clear error, when a file is missing or altered."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from edge_nlu.errors import ModelError
from edge_nlu.model.runner import NLUModel, verify
from tests.conftest import SHIPPED


@pytest.fixture
def model_copy(tmp_path: Path) -> Path:
    dst = tmp_path / "m"
    shutil.copytree(SHIPPED, dst)
    return dst


def test_shipped_model_verifies() -> None:
    manifest = verify(SHIPPED)
    assert set(manifest["files"]) == {"model.onnx", "tokenizer.json", "labels.json"}
    assert manifest["quick"] is False


@pytest.mark.parametrize("name", ["model.onnx", "tokenizer.json", "labels.json", "manifest.json"])
def test_missing_file_is_refused(model_copy: Path, name: str) -> None:
    (model_copy / name).unlink()
    with pytest.raises(ModelError) as ei:
        NLUModel(model_copy)
    assert ei.value.code == "model_incomplete"
    assert name in ei.value.message


@pytest.mark.parametrize("name", ["model.onnx", "tokenizer.json", "labels.json"])
def test_altered_file_is_refused(model_copy: Path, name: str) -> None:
    with (model_copy / name).open("ab") as f:
        f.write(b" ")
    with pytest.raises(ModelError) as ei:
        NLUModel(model_copy)
    assert ei.value.code == "model_corrupt"
    assert "sha256" in ei.value.message


def test_broken_manifest_is_refused(model_copy: Path) -> None:
    (model_copy / "manifest.json").write_text("{not json")
    with pytest.raises(ModelError, match="does not parse"):
        NLUModel(model_copy)


def test_no_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as ei:
        NLUModel(tmp_path / "absent")
    assert ei.value.code == "model_not_found"


def test_labels_describe_every_intent() -> None:
    labels = json.loads((SHIPPED / "labels.json").read_text())
    assert all(i["description"] for i in labels["intents"])
    assert labels["tags"][0] == "O"


def _with_temperature(model_copy: Path, t: object) -> None:
    """labels.json with a temperature, and the manifest's hash of it updated (a rebuilt model, not an altered one)."""
    from export.common import file_entries

    labels = json.loads((model_copy / "labels.json").read_text())
    labels["temperature"] = t
    (model_copy / "labels.json").write_text(json.dumps(labels))
    manifest = json.loads((model_copy / "manifest.json").read_text())
    manifest["files"] = file_entries(model_copy, list(manifest["files"]))
    (model_copy / "manifest.json").write_text(json.dumps(manifest))


def test_a_temperature_softens_the_confidence_but_never_the_ranking(model_copy: Path) -> None:
    _with_temperature(model_copy, 1.0)
    plain = NLUModel(model_copy).predict("turn off the kitchen lights")
    _with_temperature(model_copy, 3.0)
    warm = NLUModel(model_copy).predict("turn off the kitchen lights")
    assert warm.intent == plain.intent
    assert [a.intent for a in warm.alternatives] == [a.intent for a in plain.alternatives]
    assert warm.confidence < plain.confidence


@pytest.mark.parametrize("t", [0, -1.0, "1.2", True, 1000])
def test_a_bad_temperature_is_refused(model_copy: Path, t: object) -> None:
    _with_temperature(model_copy, t)
    with pytest.raises(ModelError) as ei:
        NLUModel(model_copy)
    assert ei.value.code == "model_corrupt"
    assert "temperature" in ei.value.message
