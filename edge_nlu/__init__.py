"""edge-nlu: on-device, context-aware natural-language understanding for smart homes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge_nlu.domain.result import Result
from edge_nlu.errors import EdgeNLUError, ErrorCode

if TYPE_CHECKING:
    from edge_nlu.domain.home import Home
    from edge_nlu.pipeline import EdgeNLU

__all__ = ["EdgeNLU", "EdgeNLUError", "ErrorCode", "Result", "load", "__version__"]
__version__ = "0.1.0"


def load(model: str | Path | None = None, home: str | Path | Home | None = None, threads: int = 1) -> EdgeNLU:
    """The shipped default model and an empty home unless told otherwise (contract section 4)."""
    # imported here so that `import edge_nlu.domain.home` (export tools, adapters) stays free of onnxruntime
    from edge_nlu.pipeline import load as _load

    return _load(model=model, home=home, threads=threads)


def __getattr__(name: str) -> Any:
    if name == "EdgeNLU":
        from edge_nlu.pipeline import EdgeNLU

        return EdgeNLU
    raise AttributeError(name)
