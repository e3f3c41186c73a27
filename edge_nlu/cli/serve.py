"""`edge-nlu serve` (contract section 5): the live MQTT service until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    s = sub.add_parser("serve", help="the live MQTT service (Hermes queries, device state from the hubs)")
    s.add_argument("--broker", help="mqtt://HOST:PORT, mqtts://USER@HOST:PORT, ws(s)://... (or broker.uri); the "
                               "password from $EDGE_NLU_MQTT_PASSWORD or broker.password_file, not the URI (in ps)")
    s.add_argument("--config", type=Path, help="service config (YAML or TOML); see devices/serve.example.yaml")
    s.add_argument("--home", type=Path, help="home snapshot to start from (overrides the config)")
    s.add_argument("--model", type=Path, default=None, help="model directory (overrides the config)")
    s.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    s.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Build the one settings tree, install the signal handlers, serve until SIGINT/SIGTERM."""
    import logging
    import signal
    import threading

    from edge_nlu.service.app import Service
    from edge_nlu.service.config import load_serve_settings

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
