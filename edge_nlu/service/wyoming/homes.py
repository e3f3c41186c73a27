"""Where the Wyoming service's home comes from: a snapshot file, or Home Assistant itself.

The server only asks a `HomeSource` for an immutable `Home` per request and for the area of the device that
heard it, so a static file and a live Home Assistant connection are the same to it.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

from edge_nlu.domain.home import Home
from edge_nlu.errors import ConfigError
from edge_nlu.service.wyoming.settings import WyomingSettings


class HomeSource(Protocol):
    """The home the requests are resolved in."""

    def snapshot(self) -> Home:
        """The home now: an immutable snapshot, cheap when nothing changed (called once per request, from a
        parse thread)."""

    def device_area(self, device_id: str) -> str | None:
        """The area (name or id) of a device by its Home Assistant device id, where the source knows it."""


class StaticHome:
    """A home that does not change: the snapshot file, or an empty home."""

    def __init__(self, home: Home) -> None:
        self.home = home

    def snapshot(self) -> Home:
        return self.home

    def device_area(self, device_id: str) -> str | None:
        """A snapshot file has no device registry."""
        return None


def base_home(settings: WyomingSettings) -> Home:
    """The snapshot file's home (areas, floors, names), or an empty one."""
    return Home.load(settings.home_path) if settings.home_path else Home()


@asynccontextmanager
async def open_home(settings: WyomingSettings) -> AsyncIterator[HomeSource]:
    """The home source the settings ask for, running for as long as the `async with` lasts."""
    base = base_home(settings)
    if settings.home_assistant is None:
        yield StaticHome(base)
        return
    async with _home_assistant(settings, base) as source:
        yield source


# -- INTEGRATION POINT (issue 14, item 2: live state from Home Assistant) ------------------------------
# `home_assistant:` in the config is read by `edge_nlu.service.ha_settings.HomeAssistantSettings` (checked at
# start-up by `check_home_assistant`). The live source itself (`edge_nlu.service.ha_client.HaStateSource`) is
# another module's; once it exists, `_home_assistant` starts it over `base` and yields it (or an adapter with
# `snapshot()` and `device_area(device_id)`, the `HomeSource` protocol above) and stops it on exit. Until then a
# config with `home_assistant:` fails at start-up with a ConfigError that says so.

HA_SETTINGS_MODULE = "edge_nlu.service.ha_settings"
HA_SOURCE_MODULE = "edge_nlu.service.ha_client"


def check_home_assistant(settings: WyomingSettings) -> object | None:
    """The `home_assistant:` section read by its own settings class (ConfigError naming the key), or None."""
    if settings.home_assistant is None:
        return None
    try:
        module = importlib.import_module(HA_SETTINGS_MODULE)
    except ImportError:
        raise ConfigError("home_assistant: this build of edge-nlu has no Home Assistant state source "
                          f"({HA_SETTINGS_MODULE}); remove the section and give `home:` instead") from None
    section: object = module.HomeAssistantSettings.from_dict(settings.home_assistant, "home_assistant")
    return section


@asynccontextmanager
async def _home_assistant(settings: WyomingSettings, base: Home) -> AsyncIterator[HomeSource]:
    check_home_assistant(settings)
    try:
        importlib.import_module(HA_SOURCE_MODULE)
    except ImportError:
        raise ConfigError("home_assistant: this build of edge-nlu has no Home Assistant state source "
                          f"({HA_SOURCE_MODULE}); remove the section and give `home:` instead") from None
    raise ConfigError(f"home_assistant: the Wyoming service does not start {HA_SOURCE_MODULE} yet "
                      "(see the integration point in edge_nlu/service/wyoming/homes.py)")
    yield StaticHome(base)  # pragma: no cover - the shape of the generator for when the source is wired in
