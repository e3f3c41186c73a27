"""The `demo` command, registered into `edge-nlu` through the `edge_nlu.commands` entry point."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    d = sub.add_parser("demo", help="a scripted conversation where context changes the answers (live, over MQTT)")
    d.add_argument("--model", type=Path, default=None)
    d.add_argument("--offline", action="store_true", help="no broker: the pipeline in-process, context as overrides")
    d.add_argument("--broker", choices=["auto", "mosquitto", "embedded"], default="auto",
                   help="loopback broker for the live demo (auto: Mosquitto when installed)")
    d.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the service or an answer")
    d.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.offline:
        from edge_nlu_tools.demo.offline import run as run_offline

        return run_offline(sys.stdout, args.model)
    from edge_nlu_tools.demo.live import run as run_live

    return run_live(sys.stdout, args.model, broker=args.broker, timeout_s=args.timeout)
