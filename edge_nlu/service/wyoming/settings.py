"""Settings of `edge-nlu wyoming`: built once at the entry point from `--uri`, `--config FILE` and the options.

One frozen tree, read by `edge_nlu.config_fields.read_section` like `serve`'s: an unknown key, a wrong type
or a value out of range is a ConfigError naming its key path, at start-up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from edge_nlu.config_fields import Key, NonEmpty, Range, Shorthand, check_keys, read_section
from edge_nlu.domain.result import DEFAULT_MIN_CONFIDENCE
from edge_nlu.errors import ConfigError
from edge_nlu.service.config import SiteSettings, read_config_file
from edge_nlu.service.ha_settings import HomeAssistantSettings
from edge_nlu.settings import default_model_dir

DEFAULT_PORT = 10350
"""Not a port of the common Wyoming services: piper 10200, whisper/vosk/speech-to-phrase 10300, openWakeWord and
the other wake word services 10400, satellites 10700 (docs/wyoming.md says more)."""
DEFAULT_URI = f"tcp://0.0.0.0:{DEFAULT_PORT}"


@dataclass(frozen=True)
class WyomingLimits:
    """Caps that keep a bad or hostile client from exhausting memory, threads or connections."""

    max_event_bytes: Annotated[int, Range(256, 16 << 20)] = 64 << 10
    """Largest event (header line, data and payload) read; a larger one is refused unread and its
    connection closed (a transcript is a few hundred bytes). The header line alone is also capped by
    asyncio's 64 KiB stream limit."""
    max_connections: Annotated[int, Range(1)] = 64
    """Connections served at once; one more is sent an `error` event and closed."""
    max_pending: Annotated[int, Range(1)] = 64
    """Requests waiting for a parse thread; past this one is answered at once with an `overloaded` error."""
    workers: Annotated[int, Range(1, 64)] = 1
    """Parse threads (all share one model). One is fastest per request on a small hub."""
    read_timeout_s: Annotated[float, Range(0.1)] = 10.0
    """How long the rest of an event may take once its header line is in; a client that stalls is dropped."""
    idle_timeout_s: Annotated[float, Range(1.0)] = 600.0
    """A connection that sends nothing this long is closed (HA opens one per request)."""
    history_turns: Annotated[int, Range(1)] = 4
    """Earlier turns kept per conversation."""
    max_sessions: Annotated[int, Range(1)] = 1024
    """Conversations remembered at once; the least recently used is forgotten first."""
    session_ttl_s: Annotated[float, Range(0.0)] = 300.0
    """A conversation idle this long is forgotten."""


@dataclass(frozen=True)
class WyomingSettings:
    """The whole settings tree of `edge-nlu wyoming`."""

    uri: Annotated[str, NonEmpty()] = DEFAULT_URI
    """Where to listen: tcp://HOST:PORT (or unix://PATH); `--uri` wins over it."""
    satellites: dict[str, Annotated[SiteSettings, Shorthand("area")]] = field(default_factory=dict)
    """Satellite id (HA: the assist satellite's entity id) or device id -> area (and screen); a plain string
    is the area. Wins over the area Home Assistant's device registry gives."""
    default_area: Annotated[str | None, NonEmpty()] = None
    """Area (its name or id in the home) of a request that brings none: no `satellites:` entry and no area in
    Home Assistant's device registry for its satellite or device, or no satellite or device id at all, as from
    HA releases whose wyoming package (before 1.7.0: HA 2025.1 to 2025.4 at least) sends only the text. With
    one satellite, its room; None: such a request has no area, and "turn off the lights" means every light."""
    model_dir: Annotated[Path, Key("model")] = field(default_factory=default_model_dir)
    """NLU model directory."""
    home_path: Annotated[Path | None, Key("home")] = None
    """Home snapshot (contract section 1); None: an empty home, or Home Assistant's with `home_assistant:`."""
    threads: Annotated[int, Range(0)] = 1
    """onnxruntime intra-op threads per parse."""
    min_confidence: Annotated[float, Range(0.0, 1.0)] = DEFAULT_MIN_CONFIDENCE
    """Below this model confidence a request is answered `not-recognized`."""
    languages: tuple[str, ...] = ("en",)
    """Languages the model reads (said in `info`; a request in another is `not-recognized`)."""
    split_compound: bool = True
    """Answer "turn off the lights and lock the door" with one intent per part, when every part is an action."""
    zeroconf: bool = False
    """Advertise the service as `_wyoming._tcp.local.` (needs the `zeroconf` extra); `--zeroconf` sets it."""
    zeroconf_name: str | None = None
    """Instance name in the advertisement; None: the host's MAC address, as wyoming's services do."""
    limits: WyomingLimits = field(default_factory=WyomingLimits)
    """Caps."""
    home_assistant: HomeAssistantSettings | None = None
    """Live state from Home Assistant's WebSocket API (the same section as `serve`'s; docs/home-assistant.md),
    over the `home:` file when both are given; a satellite's area then comes from HA's device registry too."""
    ha_sync_wait_s: Annotated[float, Range(0.0)] = 10.0
    """How long start-up waits for the first full sync from Home Assistant; after it the service answers with
    what it has (and the home fills in as HA answers)."""

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], base_dir: Path | None = None) -> WyomingSettings:
        """Validate a config mapping; relative paths are taken from `base_dir` (the config file's folder)."""
        check_keys(cls, d)
        out = read_section(cls, d, base=base_dir or Path.cwd())
        check_uri(out.uri)
        return out

    def with_overrides(self, uri: str | None = None, model_dir: Path | None = None, home_path: Path | None = None,
                       zeroconf: bool | None = None, zeroconf_name: str | None = None) -> WyomingSettings:
        """Command-line options win over the file."""
        out = self
        if uri is not None:
            check_uri(uri)
            out = replace(out, uri=uri)
        if model_dir is not None:
            out = replace(out, model_dir=model_dir)
        if home_path is not None:
            out = replace(out, home_path=home_path)
        if zeroconf is not None:
            out = replace(out, zeroconf=zeroconf)
        if zeroconf_name is not None:
            out = replace(out, zeroconf_name=zeroconf_name)
        return out


def check_uri(uri: str) -> tuple[str, str, int]:
    """(scheme, host or path, port) of a listen URI: tcp://HOST:PORT (port 0 picks a free one) or unix://PATH."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"uri {uri!r} is not valid: {exc}") from None
    if parts.scheme == "unix" and parts.path:
        return "unix", parts.path, 0
    if parts.scheme != "tcp" or not parts.hostname or port is None:
        raise ConfigError(f"uri {uri!r} must be tcp://HOST:PORT (e.g. {DEFAULT_URI}) or unix://PATH")
    return "tcp", parts.hostname, port


def load_wyoming_settings(uri: str | None = None, config: Path | None = None) -> WyomingSettings:
    """The entry point's one call: the config file (YAML, JSON or TOML) if any, then `--uri`."""
    data: Mapping[str, Any] = {}
    base = Path.cwd()
    if config is not None:
        data = read_config_file(config)
        base = config.resolve().parent
    return WyomingSettings.from_dict(data, base_dir=base).with_overrides(uri=uri)
