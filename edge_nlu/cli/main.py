"""`edge-nlu` command line (contract section 4). Results go to stdout, one JSON object a line;
diagnostics go to stderr. Exit 0 when the run completed, 2 when it could not run at all.

Each command is a module with `register(subparsers)`, which sets `run` on its parser. Commands that
are not part of the runtime (`demo`, `bench`: the `edge-nlu-tools` package in `tools/`) plug in
through the `edge_nlu.commands` entry-point group, so the runtime never imports them.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from edge_nlu.cli import evaluate, learn, parse, serve, wyoming
from edge_nlu.errors import EdgeNLUError, ErrorCode
from edge_nlu.model.threads import limit_blas_threads

PLUGIN_GROUP = "edge_nlu.commands"
TOOL_COMMANDS = {"demo": "the live demo", "bench": "the latency benchmark"}
"""Commands that come with `edge-nlu-tools`; named here only to say where to get them."""


def _plugins() -> list[Callable[[Any], None]]:
    found: list[Callable[[Any], None]] = []
    for ep in entry_points(group=PLUGIN_GROUP):
        try:
            found.append(ep.load())
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not take the runtime's commands down
            print(f"edge-nlu: warning: command plugin {ep.name} ({ep.value}) does not load: {exc}", file=sys.stderr)
    return found


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="edge-nlu", description="Offline, context-aware smart-home NLU")
    sub = ap.add_subparsers(dest="cmd", required=True)
    for module in (parse, evaluate, serve, learn, wyoming):
        module.register(sub)
    for register in _plugins():
        register(sub)
    for name, what in TOOL_COMMANDS.items():
        if name not in sub.choices:
            p = sub.add_parser(name, help=f"{what} (needs edge-nlu-tools)", add_help=False)
            p.set_defaults(run=_missing_tool)
    return ap


def _missing_tool(args: argparse.Namespace) -> int:
    print(f"edge-nlu: error [{ErrorCode.MISSING_TOOL}]: `edge-nlu {args.cmd}` comes with the edge-nlu-tools package: "
          "pip install ./tools (from a checkout of edge-nlu)", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.run is not _missing_tool:  # a missing tool's own options are not ours to judge
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    limit_blas_threads(1)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except EdgeNLUError as exc:
        print(f"edge-nlu: error [{exc.code}]: {exc.message}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # the reader went away (`edge-nlu eval ... | head`): stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        print(f"edge-nlu: error [{ErrorCode.IO_ERROR}]: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
