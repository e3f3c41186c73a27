"""Runtime settings: built once at the entry point and passed down."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

MAX_TEXT_CHARS = 512


def default_model_dir() -> Path:
    """The model installed with the package, or the repository's when running from a checkout."""
    try:
        installed = Path(str(resources.files("edge_nlu.models") / "home"))
        if (installed / "model.onnx").is_file():
            return installed
    except (ModuleNotFoundError, TypeError):
        pass
    return Path(__file__).resolve().parent.parent / "models" / "home"


def devices_dir() -> Path:
    """The shipped device profiles and example homes: the installed package data, else a checkout's devices/."""
    try:
        installed = Path(str(resources.files("edge_nlu.devices")))
        if (installed / "profiles.yaml").is_file():
            return installed
    except (ModuleNotFoundError, TypeError):
        pass
    return Path(__file__).resolve().parent.parent / "devices"


@dataclass(frozen=True)
class RuntimeSettings:
    """How to build the NLU runtime."""

    model_dir: Path
    """Directory with model.onnx, tokenizer.json, labels.json, manifest.json."""
    home_path: Path | None = None
    """Home snapshot file (JSON or YAML); None for an empty home."""
    threads: int = 1
    """onnxruntime intra-op threads; one is fastest for single short requests."""
    max_text_chars: int = MAX_TEXT_CHARS
    """Longer requests are rejected: no spoken command is that long."""
