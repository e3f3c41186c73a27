"""The `edge-nlu` command: one module per command, `main` dispatches."""

from __future__ import annotations

from edge_nlu.cli.main import main

__all__ = ["main"]
