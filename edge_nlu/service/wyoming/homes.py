"""Where the Wyoming service's home comes from: a snapshot file, or Home Assistant itself.

The server only asks a `HomeSource` for an immutable `Home` per request and for the area of the device that
heard it, so a static file and a live Home Assistant connection are the same to it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

from edge_nlu.domain.home import Home
from edge_nlu.domain.live_home import LiveHome
from edge_nlu.service.ha_client import HaStateSource
from edge_nlu.service.wyoming.settings import WyomingSettings

log = logging.getLogger("edge_nlu.wyoming")


class HomeSource(Protocol):
    """The home the requests are resolved in. Called from the parse threads."""

    def snapshot(self) -> Home:
        """The home now: an immutable snapshot, cheap when nothing changed (once per request)."""

    def device_area(self, device_id: str) -> str | None:
        """The area (id or name) of a device by its Home Assistant device id, where the source knows it."""


class StaticHome:
    """A home that does not change: the snapshot file, or an empty home."""

    def __init__(self, home: Home) -> None:
        self.home = home

    def snapshot(self) -> Home:
        return self.home

    def device_area(self, device_id: str) -> str | None:
        """A snapshot file has no device registry."""
        return None


class HomeAssistantHome:
    """The home Home Assistant keeps current: its states and registries fed into a LiveHome by the state source
    (`edge_nlu.service.ha_client`), and its device registry for satellites' areas."""

    def __init__(self, home: LiveHome, source: HaStateSource) -> None:
        self.home = home
        self.source = source

    def snapshot(self) -> Home:
        return self.home.snapshot()

    def device_area(self, device_id: str) -> str | None:
        return self.source.device_area(device_id)


def base_home(settings: WyomingSettings) -> Home:
    """The snapshot file's home (areas, floors, names), or an empty one."""
    return Home.load(settings.home_path) if settings.home_path else Home()


@asynccontextmanager
async def open_home(settings: WyomingSettings) -> AsyncIterator[HomeSource]:
    """The home source the settings ask for, running for as long as the `async with` lasts. With
    `home_assistant:` it waits up to `ha_sync_wait_s` for the first full sync, then serves whatever it has:
    Home Assistant being down at start-up delays nothing longer than that, and the home fills in later."""
    base = base_home(settings)
    ha = settings.home_assistant
    if ha is None:
        yield StaticHome(base)
        return
    home = LiveHome(base)
    source = HaStateSource(ha, home, name="edge-nlu-wyoming-ha")
    source.start()
    loop = asyncio.get_running_loop()
    try:
        if await loop.run_in_executor(None, source.wait_synced, settings.ha_sync_wait_s):
            log.info("home from Home Assistant at %s: %d entities", ha.url, len(home))
        else:
            log.warning("Home Assistant at %s is not synced after %g s; answering with what is known so far "
                        "(the home fills in when it answers)", ha.url, settings.ha_sync_wait_s)
        yield HomeAssistantHome(home, source)
    finally:
        await loop.run_in_executor(None, source.stop)
