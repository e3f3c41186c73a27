"""`edge-nlu parse` (contract section 4): one request, or a JSONL batch; one result a line on stdout."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from edge_nlu.domain.result import ErrorInfo, Result
from edge_nlu.errors import ErrorCode, InvalidInputError
from edge_nlu.pipeline import EdgeNLU
from edge_nlu.sanitize import clean_text, dumps
from edge_nlu.settings import RuntimeSettings, default_model_dir

MAX_LINE_BYTES = 1 << 20


def register(sub: Any) -> None:
    p = sub.add_parser("parse", help="parse one request, or a JSONL batch")
    p.add_argument("text", nargs="?", help="the request text")
    p.add_argument("--home", type=Path, help="home snapshot (JSON or YAML)")
    p.add_argument("--context", help="request context as JSON, or @file")
    p.add_argument("--jsonl", help="requests file, one {id, text, context} per line ('-' for stdin)")
    p.add_argument("--model", type=Path, default=None, help="model directory (default: shipped model)")
    p.add_argument("--threads", type=int, default=1)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if (args.text is None) == (args.jsonl is None):
        print("edge-nlu parse: give a request text or --jsonl FILE (not both)", file=sys.stderr)
        return 2
    settings = RuntimeSettings(model_dir=args.model or default_model_dir(), home_path=args.home, threads=args.threads)
    _utf8_stdout()
    nlu = EdgeNLU(settings)
    if args.jsonl is not None:
        run_batch(nlu, args.jsonl, sys.stdout)
        return 0
    try:
        context = _context_arg(args.context)
    except InvalidInputError as exc:  # a bad request, not a run that cannot start: its result says why
        shown = clean_text(args.text[: settings.max_text_chars])
        _emit(sys.stdout, Result(id=None, text=shown, error=ErrorInfo(exc.code, exc.message)).to_dict())
        return 0
    _emit(sys.stdout, nlu.parse(args.text, context))
    return 0


def _emit(out: TextIO, result: dict[str, Any]) -> None:
    out.write(dumps(result) + "\n")
    out.flush()


def _context_arg(raw: str | None) -> dict[str, Any] | None:
    """The --context value (JSON, or @file); InvalidInputError, which the request's result reports."""
    if raw is None:
        return None
    text = raw
    if raw.startswith("@"):
        path = Path(raw[1:])
        try:
            with path.open("rb") as f:
                data = f.read(MAX_LINE_BYTES + 1)
        except OSError as exc:
            raise InvalidInputError(f"cannot read context file {clean_text(str(path))}: {exc.strerror or exc}",
                                    ErrorCode.INVALID_CONTEXT) from None
        if len(data) > MAX_LINE_BYTES:
            raise InvalidInputError(f"context file {clean_text(str(path))} is over {MAX_LINE_BYTES} bytes",
                                    ErrorCode.INVALID_CONTEXT)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInputError(f"context file {clean_text(str(path))} is not UTF-8 text",
                                    ErrorCode.INVALID_CONTEXT) from None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        reason = "it is nested too deeply" if isinstance(exc, RecursionError) else clean_text(str(exc))[:200]
        raise InvalidInputError(f"--context is not valid JSON: {reason}", ErrorCode.INVALID_CONTEXT) from None
    if not isinstance(value, dict):
        raise InvalidInputError("--context must be a JSON object", ErrorCode.INVALID_CONTEXT)
    return value


def _lines(path: str) -> Iterator[tuple[int, str]]:
    stream = sys.stdin.buffer if path == "-" else Path(path).open("rb")  # noqa: SIM115
    with stream:
        for n, raw in enumerate(stream, 1):
            if len(raw) > MAX_LINE_BYTES:
                yield n, ""
                continue
            yield n, raw.decode("utf-8", errors="replace")


def run_batch(nlu: EdgeNLU, path: str, out: TextIO) -> int:
    """One result per input line, same order; a bad line gets an error result and the run goes on."""
    done = 0
    for n, line in _lines(path):
        if not line.strip():
            if line == "":
                _emit(out, _bad(None, f"line {n} is longer than {MAX_LINE_BYTES} bytes"))
            continue
        try:
            req = json.loads(line)
        except RecursionError:
            _emit(out, _bad(None, f"line {n} is nested too deeply"))
            continue
        except ValueError as exc:
            _emit(out, _bad(None, f"line {n} is not valid JSON: {clean_text(str(exc))[:200]}"))
            continue
        if not isinstance(req, dict):
            _emit(out, _bad(None, f"line {n} must be a JSON object"))
            continue
        _emit(out, nlu.parse(req.get("text"), req.get("context"), req.get("id")))
        done += 1
    return done


def _bad(rid: Any, message: str) -> dict[str, Any]:
    return Result(id=rid, text="", error=ErrorInfo(ErrorCode.INVALID_INPUT, message)).to_dict()


def _utf8_stdout() -> None:
    """Results are JSON, which is UTF-8 whatever the locale says."""
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(encoding="utf-8")


