#!/usr/bin/env python3
"""Tell Home Assistant where the add-on's Wyoming service is, once it answers.

`discovery: [wyoming]` in config.yaml only allows the add-on to announce itself; this does it,
as the official Wyoming add-ons do: wait for a describe -> info round trip on the local port,
then POST {"service": "wyoming", "config": {"uri": "tcp://<add-on host name>:<port>"}} to the
Supervisor's /discovery. Home Assistant then offers the Wyoming integration for it. Outside an
add-on (no $SUPERVISOR_TOKEN) it says so and does nothing. The token is never printed.
Standard library only; healthcheck.py lies next to it in the image.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
import urllib.error
import urllib.request

from healthcheck import DEFAULT_PORT, Unhealthy, check

SUPERVISOR_URL = os.environ.get("SUPERVISOR_URL", "http://supervisor")
"""The Supervisor's API as an add-on reaches it; the variable is for tests."""


def wait_until_answering(port: int, wait_s: float, interval_s: float = 0.5) -> None:
    """Return once the service answers describe with info; raise Unhealthy after wait_s."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            check("127.0.0.1", port, timeout_s=min(5.0, wait_s))
            return
        except Unhealthy:
            if time.monotonic() + interval_s > deadline:
                raise
        time.sleep(interval_s)  # polling another process's start; there is nothing to await


def announce(supervisor_url: str, token: str, uri: str, timeout_s: float = 10.0) -> str:
    """POST the discovery message; return the Supervisor's uuid for it."""
    body = json.dumps({"service": "wyoming", "config": {"uri": uri}}).encode()
    request = urllib.request.Request(  # noqa: S310 - a fixed http URL of the Supervisor
        f"{supervisor_url.rstrip('/')}/discovery", data=body, method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
        answer = json.loads(response.read() or b"{}")
    data = answer.get("data") if isinstance(answer, dict) else None
    return str(data.get("uuid", "")) if isinstance(data, dict) else ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="announce the Wyoming service to Home Assistant")
    ap.add_argument("--port", type=int, default=DEFAULT_PORT)
    ap.add_argument("--wait", type=float, default=600.0, help="seconds to wait for the service to answer")
    args = ap.parse_args(argv)
    token = os.environ.get("SUPERVISOR_TOKEN")
    if not token:
        print("edge-nlu add-on: no $SUPERVISOR_TOKEN (not running as an add-on): no discovery", file=sys.stderr)
        return 0
    try:
        wait_until_answering(args.port, args.wait)
    except Unhealthy as exc:
        print(f"edge-nlu add-on: the service did not answer within {args.wait:g} s ({exc}): no discovery",
              file=sys.stderr)
        return 1
    uri = f"tcp://{socket.gethostname()}:{args.port}"
    try:
        uuid = announce(SUPERVISOR_URL, token, uri)
    except urllib.error.HTTPError as exc:
        print(f"edge-nlu add-on: discovery refused by the Supervisor: HTTP {exc.code} {exc.reason}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:
        print(f"edge-nlu add-on: discovery failed: {exc}", file=sys.stderr)
        return 1
    print(f"edge-nlu add-on: announced {uri} to Home Assistant (discovery {uuid or 'accepted'})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
