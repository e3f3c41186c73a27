"""The README's module table, docs/architecture.md and the import rules match the tree."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PACKAGE = ROOT / "edge_nlu"
# top-level parts of the runtime: subpackages and modules (the public __init__ aside)
PARTS = sorted({p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
               | {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"})
PATH = re.compile(r"`((?:edge_nlu|tools|export|benchmarks|devices|docs|tests)/[A-Za-z0-9_./-]*)`")


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_every_path_the_docs_name_exists(doc: Path) -> None:
    missing = [p for p in PATH.findall(doc.read_text(encoding="utf-8")) if not (ROOT / p.rstrip("/")).exists()]
    assert not missing, f"{doc.name} names paths that are not in the tree: {missing}"


@pytest.mark.parametrize("doc", [ROOT / "README.md", ROOT / "docs" / "architecture.md"], ids=["README", "architecture"])
def test_every_part_of_the_runtime_is_described(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    missing = [p for p in PARTS if f"edge_nlu/{p}" not in text and f"edge_nlu.{p}" not in text]
    assert not missing, f"{doc.name} does not describe: {missing}"


def test_every_part_of_the_runtime_has_a_layer() -> None:
    """A new module or subpackage must be placed in the layers contract, or nothing checks its imports."""
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / ".importlinter")
    layers = cfg["importlinter:contract:layers"]["layers"]
    named = set(re.findall(r"edge_nlu\.([a-z_]+)", layers))
    assert set(PARTS) <= named, f"not in a layer of .importlinter: {sorted(set(PARTS) - named)}"
