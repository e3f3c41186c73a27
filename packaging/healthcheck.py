#!/usr/bin/env python3
"""Is the Wyoming service answering? One describe -> info round trip over TCP; exit 0 if so, 1 if not.

The container's HEALTHCHECK and the add-on's discovery wait run this. A port that accepts
connections is not enough: the service must read an event and answer it, which is what Home
Assistant needs from it. Standard library only, so it runs in any image without the package.

Wire format (Wyoming): a JSON header line `{"type": ..., "data_length": N, "payload_length": M}`,
then N bytes of JSON data (merged into the header's `data`), then M payload bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
from typing import Any

DEFAULT_PORT = 10350
MAX_HEADER_BYTES = 64 * 1024
"""A header line longer than this is not a Wyoming event."""
MAX_DATA_BYTES = 4 * 1024 * 1024
"""An info event with every model and language is a few KiB; more than this is a wrong answer."""


class Unhealthy(Exception):
    """The round trip failed; the message says how."""


class _Reader:
    """Bytes from a socket, each read bounded by one overall deadline."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline
        self._buf = b""

    def _fill(self) -> None:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise Unhealthy("timed out waiting for the answer")
        self._sock.settimeout(left)
        try:
            chunk = self._sock.recv(65536)
        except TimeoutError as exc:
            raise Unhealthy("timed out waiting for the answer") from exc
        if not chunk:
            raise Unhealthy("the service closed the connection without an info event")
        self._buf += chunk

    def line(self) -> bytes:
        while b"\n" not in self._buf:
            if len(self._buf) > MAX_HEADER_BYTES:
                raise Unhealthy(f"a header line longer than {MAX_HEADER_BYTES} bytes")
            self._fill()
        line, _, self._buf = self._buf.partition(b"\n")
        return line

    def exactly(self, n: int) -> bytes:
        while len(self._buf) < n:
            self._fill()
        out, self._buf = self._buf[:n], self._buf[n:]
        return out


def _length(header: dict[str, Any], key: str) -> int:
    value = header.get(key) or 0
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_DATA_BYTES:
        raise Unhealthy(f"bad {key} in the answer: {value!r}")
    return value


def read_event(reader: _Reader) -> tuple[str, dict[str, Any]]:
    """One Wyoming event: its type and its data (header data merged with the data block)."""
    try:
        header = json.loads(reader.line())
    except ValueError as exc:
        raise Unhealthy(f"the answer is not a Wyoming event (not JSON): {exc}") from exc
    if not isinstance(header, dict) or not isinstance(header.get("type"), str):
        raise Unhealthy("the answer is not a Wyoming event (no type)")
    data = header.get("data") or {}
    if not isinstance(data, dict):
        raise Unhealthy("the answer's data is not an object")
    data_length = _length(header, "data_length")
    payload_length = _length(header, "payload_length")
    if data_length:
        try:
            extra = json.loads(reader.exactly(data_length))
        except ValueError as exc:
            raise Unhealthy(f"the answer's data block is not JSON: {exc}") from exc
        if not isinstance(extra, dict):
            raise Unhealthy("the answer's data block is not an object")
        data = {**data, **extra}
    if payload_length:
        reader.exactly(payload_length)
    return header["type"], data


def check(host: str, port: int, timeout_s: float, require: str | None = None) -> dict[str, Any]:
    """Send `describe`, return the `info` event's data; raise Unhealthy otherwise.

    `require` names a program kind (`intent`) that the info must list with at least one installed
    program, so a service that answers but has nothing loaded is not healthy.
    """
    deadline = time.monotonic() + timeout_s
    try:
        sock = socket.create_connection((host, port), timeout=timeout_s)
    except OSError as exc:
        raise Unhealthy(f"cannot connect to {host}:{port}: {exc}") from exc
    with sock:
        try:
            sock.sendall(json.dumps({"type": "describe", "data": {}}).encode() + b"\n")
            kind, data = read_event(_Reader(sock, deadline))
        except OSError as exc:
            raise Unhealthy(f"connection to {host}:{port} failed: {exc}") from exc
    if kind != "info":
        raise Unhealthy(f"expected an info event, got {kind!r}")
    if require is not None:
        programs = data.get(require)
        if not isinstance(programs, list) or not any(isinstance(p, dict) and p.get("installed") for p in programs):
            raise Unhealthy(f"the info event lists no installed {require} program")
    return data


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Wyoming describe/info health check (exit 0 healthy, 1 not)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=int(os.environ.get("EDGE_NLU_PORT", DEFAULT_PORT)),
                    help=f"default: $EDGE_NLU_PORT or {DEFAULT_PORT}")
    ap.add_argument("--timeout", type=float, default=3.0, help="seconds for the whole round trip")
    ap.add_argument("--require", default=None, metavar="KIND",
                    help="a program kind the info must list as installed (e.g. intent)")
    ap.add_argument("--quiet", action="store_true", help="say nothing when healthy")
    args = ap.parse_args(argv)
    try:
        data = check(args.host, args.port, args.timeout, args.require)
    except Unhealthy as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1
    if not args.quiet:
        names = [p.get("name") for p in data.get(args.require or "intent") or [] if isinstance(p, dict)]
        print(f"healthy: info from {args.host}:{args.port}" + (f" ({', '.join(map(str, names))})" if names else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
