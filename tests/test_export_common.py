"""The export package's shared layer: manifests the runtime verifies, and no module importing `__main__`."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from edge_nlu.errors import ModelError
from edge_nlu.model.runner import verify
from export.common import dev_free_vocab, file_entries, write_json, write_manifest

EXPORT = Path(__file__).resolve().parent.parent / "export"


def test_a_written_manifest_verifies_and_catches_a_changed_file(tmp_path: Path) -> None:
    for name, body in (("model.onnx", b"\x08\x07graph"), ("tokenizer.json", b"{}"), ("labels.json", b"[]")):
        (tmp_path / name).write_bytes(body)
    files = file_entries(tmp_path, ("model.onnx", "tokenizer.json", "labels.json"))
    assert files["model.onnx"]["bytes"] == 7
    write_manifest(tmp_path, {"name": "t", "files": files})
    assert verify(tmp_path)["files"] == files
    assert (tmp_path / "manifest.json").read_text().startswith("{\n \"name\"")  # indent 1, as shipped
    (tmp_path / "labels.json").write_bytes(b"[1]")
    with pytest.raises(ModelError):
        verify(tmp_path)


def test_write_json_keeps_non_ascii_text_when_asked(tmp_path: Path) -> None:
    write_json(tmp_path / "a.json", ["café"], indent=0, ensure_ascii=False)
    assert "café" in (tmp_path / "a.json").read_text(encoding="utf-8")
    write_json(tmp_path / "b.json", ["café"])
    assert (tmp_path / "b.json").read_text() == '["caf\\u00e9"]'
    assert json.loads((tmp_path / "b.json").read_text()) == ["café"]


def test_dev_free_vocab_keeps_frequent_whole_words_only() -> None:
    class Vocab:
        def get_vocab(self) -> dict[str, int]:
            return {"[PAD]": 0, "the": 1996, "##ing": 2075, "lamp": 5000, "rare": 6000}

    assert dev_free_vocab(Vocab()) == {1996, 5000}


def test_no_export_module_imports_main() -> None:
    """`python -m export` runs __main__ once; a module importing it back would run it twice."""
    for path in EXPORT.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom):
                assert node.module not in ("__main__", "export.__main__"), path.name
                if node.level and node.module is None:
                    assert "__main__" not in {a.name for a in node.names}, path.name
            elif isinstance(node, ast.Import):
                assert "export.__main__" not in {a.name for a in node.names}, path.name
