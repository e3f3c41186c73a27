"""`edge-nlu` command line (contract section 4). Results go to stdout, one JSON object a line;
diagnostics go to stderr. Exit 0 when the run completed, 2 when it could not run at all."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from .errors import EdgeNLUError, InvalidInputError
from .pipeline import EdgeNLU
from .result import ErrorInfo, Result
from .sanitize import clean_text, dumps
from .settings import RuntimeSettings, default_model_dir
from .threads import limit_blas_threads

MAX_LINE_BYTES = 1 << 20


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
                                    "invalid_context") from None
        if len(data) > MAX_LINE_BYTES:
            raise InvalidInputError(f"context file {clean_text(str(path))} is over {MAX_LINE_BYTES} bytes",
                                    "invalid_context")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInputError(f"context file {clean_text(str(path))} is not UTF-8 text",
                                    "invalid_context") from None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        reason = "it is nested too deeply" if isinstance(exc, RecursionError) else clean_text(str(exc))[:200]
        raise InvalidInputError(f"--context is not valid JSON: {reason}", "invalid_context") from None
    if not isinstance(value, dict):
        raise InvalidInputError("--context must be a JSON object", "invalid_context")
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
    return Result(id=rid, text="", error=ErrorInfo("invalid_input", message)).to_dict()


def _eval(model_dir: Path, data: Path, as_json: bool) -> int:
    from .evaluate import evaluate, format_report, read_records
    from .nlu_model import NLUModel

    try:
        records = read_records(data)
    except ValueError as exc:
        raise EdgeNLUError(f"{data} is not JSON Lines: {exc}", "invalid_input") from exc
    bad = [i for i, r in enumerate(records, 1) if not isinstance(r, dict) or not isinstance(r.get("text"), str)
           or not isinstance(r.get("intent"), str)]
    if bad:
        raise EdgeNLUError(f"{data}: line {bad[0]} lacks a text or an intent", "invalid_input")
    report = evaluate(NLUModel(model_dir), records)
    print(json.dumps(report, indent=1) if as_json else format_report(report))
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="edge-nlu", description="Offline, context-aware smart-home NLU")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("parse", help="parse one request, or a JSONL batch")
    p.add_argument("text", nargs="?", help="the request text")
    p.add_argument("--home", type=Path, help="home snapshot (JSON or YAML)")
    p.add_argument("--context", help="request context as JSON, or @file")
    p.add_argument("--jsonl", help="requests file, one {id, text, context} per line ('-' for stdin)")
    p.add_argument("--model", type=Path, default=None, help="model directory (default: shipped model)")
    p.add_argument("--threads", type=int, default=1)
    e = sub.add_parser("eval", help="intent accuracy and slot F1 of a model on a JSONL dataset")
    e.add_argument("--model", type=Path, default=None, help="model directory (default: shipped model)")
    e.add_argument("--data", type=Path, required=True, help="records in the shared JSONL format")
    e.add_argument("--json", action="store_true", help="print the report as JSON")
    d = sub.add_parser("demo", help="a scripted conversation where context changes the answers (live, over MQTT)")
    d.add_argument("--model", type=Path, default=None)
    d.add_argument("--offline", action="store_true", help="no broker: the pipeline in-process, context as overrides")
    d.add_argument("--broker", choices=["auto", "mosquitto", "embedded"], default="auto",
                   help="loopback broker for the live demo (auto: Mosquitto when installed)")
    d.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the service or an answer")
    s = sub.add_parser("serve", help="the live MQTT service (Hermes queries, device state from the hubs)")
    s.add_argument("--broker", help="mqtt://HOST:PORT, mqtts://USER@HOST:PORT, ws(s)://... (or broker.uri); the "
                               "password from $EDGE_NLU_MQTT_PASSWORD or broker.password_file, not the URI (in ps)")
    s.add_argument("--config", type=Path, help="service config (YAML or TOML); see devices/serve.example.yaml")
    s.add_argument("--home", type=Path, help="home snapshot to start from (overrides the config)")
    s.add_argument("--model", type=Path, default=None, help="model directory (overrides the config)")
    s.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    from .cli_learn import add_parsers

    add_parsers(sub)
    b = sub.add_parser("bench", help="latency per stage, cold start, memory, MACs; vs all-MiniLM-L6-v2 when the "
                                     "export extra is installed")
    b.add_argument("--model", type=Path, default=None, help="model directory (default: shipped model)")
    b.add_argument("--home", type=Path, default=None, help="home snapshot (default: the demo home)")
    b.add_argument("--n", type=int, default=1000, help="timed requests per configuration")
    b.add_argument("--out", type=Path, default=Path("."), help="folder for bench.json and bench.png")
    b.add_argument("--pi", action="store_true", help="also re-run in a child pinned to one core, one thread")
    b.add_argument("--no-baselines", action="store_true", help="skip the teacher (all-MiniLM-L6-v2) baselines")
    return ap


def _serve(args: argparse.Namespace) -> int:
    """Build the one settings tree, install the signal handlers, serve until SIGINT/SIGTERM."""
    import logging
    import signal
    import threading

    from .serve import Service
    from .serve_config import load_serve_settings

    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = load_serve_settings(args.broker, args.config)
    settings = settings.with_overrides(model_dir=args.model, home_path=args.home)
    service = Service(settings)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    service.run(stop)
    return 0


def _utf8_stdout() -> None:
    """Results are JSON, which is UTF-8 whatever the locale says."""
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    limit_blas_threads(1)
    try:
        if args.cmd == "parse":
            if (args.text is None) == (args.jsonl is None):
                print("edge-nlu parse: give a request text or --jsonl FILE (not both)", file=sys.stderr)
                return 2
            settings = RuntimeSettings(
                model_dir=args.model or default_model_dir(), home_path=args.home, threads=args.threads
            )
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
        if args.cmd == "eval":
            return _eval(args.model or default_model_dir(), args.data, args.json)
        if args.cmd == "demo":
            if args.offline:
                from .demo import run

                return run(sys.stdout, args.model)
            from .livedemo import run as run_live

            return run_live(sys.stdout, args.model, broker=args.broker, timeout_s=args.timeout)
        if args.cmd == "serve":
            return _serve(args)
        if args.cmd in ("learn", "forget"):
            from .cli_learn import run_forget, run_learn

            return run_learn(args) if args.cmd == "learn" else run_forget(args)
        if args.cmd == "bench":
            from .bench import BenchOptions
            from .bench import main as bench_main

            return bench_main(BenchOptions(model_dir=args.model or default_model_dir(), home_path=args.home, n=args.n,
                                           out_dir=args.out, pi=args.pi, baselines=not args.no_baselines))
    except EdgeNLUError as exc:
        print(f"edge-nlu: error [{exc.code}]: {exc.message}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # the reader went away (`edge-nlu eval ... | head`): stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        print(f"edge-nlu: error [io_error]: {exc}", file=sys.stderr)
        return 2
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
