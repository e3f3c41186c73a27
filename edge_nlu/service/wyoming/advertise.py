"""`--zeroconf`: the service advertised as `_wyoming._tcp.local.`, so Home Assistant offers to add it.

The `zeroconf` package is an optional extra (`pip install 'edge-nlu[zeroconf]'`); `require_zeroconf` says so
at start-up, before the model loads, rather than after.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import socket
import uuid
from typing import Any

from edge_nlu.errors import ConfigError

log = logging.getLogger("edge_nlu.wyoming")

SERVICE_TYPE = "_wyoming._tcp.local."
"""The mDNS service type Home Assistant's wyoming integration browses for."""
MDNS_GROUP = "224.0.0.251"
"""Where mDNS goes; a UDP socket 'connected' there (nothing is sent) shows the address of the LAN interface."""


def require_zeroconf() -> None:
    """ConfigError unless the zeroconf package can be imported."""
    try:
        found = importlib.util.find_spec("zeroconf") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise ConfigError("--zeroconf needs the zeroconf package: pip install 'edge-nlu[zeroconf]' "
                          "(or leave --zeroconf off and add the service in Home Assistant by host and port)")


def default_name() -> str:
    """`edge-nlu-<MAC>`: stable across restarts, as wyoming's own services name themselves by MAC."""
    return f"edge-nlu-{uuid.getnode():012x}"


def lan_address() -> str:
    """The address other hosts reach this one at (the interface a packet to the mDNS group would leave by)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect((MDNS_GROUP, 1))
        return str(sock.getsockname()[0])


class Advertisement:
    """One registered `_wyoming._tcp` service; `close` withdraws it."""

    def __init__(self, zc: Any, info: Any) -> None:
        self._zc = zc
        self._info = info

    @classmethod
    async def register(cls, port: int, name: str | None = None, host: str | None = None) -> Advertisement:
        """Announce `name` at `host:port` (host: the LAN address when None or a wildcard)."""
        require_zeroconf()
        zc_asyncio = importlib.import_module("zeroconf.asyncio")
        if host in (None, "", "0.0.0.0", "::"):  # noqa: S104 - comparing, not binding
            host = lan_address()
        name = name or default_name()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        info = zc_asyncio.AsyncServiceInfo(SERVICE_TYPE, f"{name}.{SERVICE_TYPE}",
                                           addresses=[socket.inet_pton(family, host)], port=port)
        zc = zc_asyncio.AsyncZeroconf()
        await zc.async_register_service(info)
        log.info("advertised %s at %s:%d over mDNS", info.name, host, port)
        return cls(zc, info)

    async def close(self) -> None:
        try:
            await self._zc.async_unregister_service(self._info)
        finally:
            await self._zc.async_close()
