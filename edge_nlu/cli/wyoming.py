"""`edge-nlu wyoming`: a Wyoming intent service (Home Assistant's conversation agent) until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge_nlu.service.wyoming.settings import DEFAULT_URI

if TYPE_CHECKING:
    from edge_nlu.pipeline import EdgeNLU
    from edge_nlu.service.wyoming.settings import WyomingSettings


def register(sub: Any) -> None:
    w = sub.add_parser("wyoming", help="a Wyoming intent service: Home Assistant adds it as a conversation agent")
    w.add_argument("--uri", help=f"where to listen: tcp://HOST:PORT or unix://PATH (default {DEFAULT_URI}, "
                                 "or uri in the config)")
    w.add_argument("--config", type=Path, help="config (YAML, JSON or TOML): satellites, home, min_confidence, "
                                               "home_assistant (live state; the token never on the command line), "
                                               "limits; see docs/wyoming.md")
    w.add_argument("--home", type=Path, help="home snapshot (overrides the config's home)")
    w.add_argument("--model", type=Path, default=None, help="model directory (overrides the config)")
    w.add_argument("--zeroconf", action="store_true", default=None,
                   help="advertise _wyoming._tcp.local. over mDNS (needs the zeroconf extra)")
    w.add_argument("--zeroconf-name", help="instance name to advertise (default edge-nlu-<MAC>)")
    w.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    w.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Read the settings, check the optional parts, load the model, serve until SIGINT/SIGTERM."""
    import asyncio
    import logging

    from edge_nlu.domain.home import Home
    from edge_nlu.pipeline import EdgeNLU
    from edge_nlu.service.wyoming.advertise import require_zeroconf
    from edge_nlu.service.wyoming.settings import load_wyoming_settings
    from edge_nlu.settings import RuntimeSettings

    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = load_wyoming_settings(args.uri, args.config).with_overrides(
        model_dir=args.model, home_path=args.home, zeroconf=args.zeroconf, zeroconf_name=args.zeroconf_name)
    if settings.zeroconf:
        require_zeroconf()
    nlu = EdgeNLU(RuntimeSettings(model_dir=settings.model_dir, threads=settings.threads), home=Home())
    asyncio.run(_serve(settings, nlu))
    return 0


async def _serve(settings: WyomingSettings, nlu: EdgeNLU) -> None:
    import asyncio
    import contextlib
    import logging
    import signal

    from edge_nlu.service.wyoming.advertise import Advertisement
    from edge_nlu.service.wyoming.server import description, running

    log = logging.getLogger("edge_nlu.wyoming")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    about = description(settings.model_dir, nlu.model.manifest, settings.languages)
    async with running(settings, nlu, about) as server:
        log.info("edge-nlu %s: Wyoming intent service on %s (model %s)", about.version, server.uri, about.model_name)
        advert = None
        if settings.zeroconf and server.port is not None:
            try:
                advert = await Advertisement.register(server.port, settings.zeroconf_name, server.host)
            except OSError as exc:  # no network for mDNS: serve all the same, say so
                log.error("zeroconf advertisement failed (%s); add the service in Home Assistant by host and port",
                          exc)
        try:
            await stop.wait()
        finally:
            if advert is not None:
                await advert.close()
