"""Settings of the Home Assistant state source (`home_assistant:` in the `serve` and `wyoming` configs).

The access token is never a config key and never a command-line option: it is read from a file only
its owner can read, or from an environment variable, each time the source connects (so a token fixed
on disk is picked up without a restart), and it is kept out of every repr, message and log line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from edge_nlu.config_fields import Check, Derived, NonEmpty, Range, read_secret_file, read_section
from edge_nlu.errors import ConfigError, ErrorCode

DEFAULT_URL = "ws://127.0.0.1:8123/api/websocket"
"""Home Assistant's WebSocket endpoint on this machine."""
TOKEN_ENV = "EDGE_NLU_HA_TOKEN"  # noqa: S105 - a variable name, not a token
"""Environment variable read for the token when no `token_file` is given."""


def _ws_url(value: str, where: str) -> str:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise ConfigError(f"{where} {value!r} is not a valid URL: {exc}") from None
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ConfigError(f"{where} must be ws://HOST:8123/api/websocket (or wss://), got {value!r}")
    if parts.username or parts.password:
        raise ConfigError(f"{where} must not carry credentials; the token goes in token_file or ${TOKEN_ENV}")
    return value


def _env_name(value: str, where: str) -> str:
    if not value.replace("_", "").isalnum() or value[0].isdigit():
        raise ConfigError(f"{where} must be an environment variable name, got {value!r}")
    return value


@dataclass(frozen=True)
class HomeAssistantSettings:
    """Where Home Assistant is and how the source logs in and reconnects."""

    url: Annotated[str, NonEmpty(), Check(_ws_url)] = DEFAULT_URL
    """HA's WebSocket API: ws://HOST:8123/api/websocket (wss:// when HA is served over TLS)."""
    token_file: Path | None = None
    """File whose first line is a long-lived access token (HA: your profile, Security); refused when group
    or others may read it (chmod 600). Read again on every connect."""
    token_env: Annotated[str, NonEmpty(), Check(_env_name)] = TOKEN_ENV
    """Environment variable that holds the token when `token_file` is not given."""
    token: Annotated[str | None, Derived()] = field(default=None, repr=False, compare=False)
    """The token itself, for embedding and tests only (never a config key); wins over file and variable."""
    area_from_device: bool = True
    """An entity without an area of its own is in its device's area, as HA itself places it."""
    reconnect_min_s: Annotated[float, Range(0.01)] = 0.5
    """First reconnect delay after the connection is lost or refused; doubles (times a 0.5-1 jitter) on
    every failed try and resets after a full sync."""
    reconnect_max_s: Annotated[float, Range(0.01)] = 10.0
    """Longest reconnect delay: an HA restart is noticed at most this long after HA is back."""
    auth_retry_s: Annotated[float, Range(0.01)] = 60.0
    """Wait (times a 0.5-1 jitter) after HA refused the token or no token could be read: a wrong token is
    logged as an error and retried this rarely, never in a tight loop."""
    command_timeout_s: Annotated[float, Range(0.1)] = 30.0
    """Longest wait for the handshake and each answer (states, a registry); longer drops the connection."""
    ping_interval_s: Annotated[float, Range(1.0)] = 20.0
    """WebSocket ping interval; a connection that misses a pong this long is treated as lost."""
    max_message_bytes: Annotated[int, Range(4096)] = 64 << 20
    """Largest message read: `get_states` of a big home is several MiB; a larger message drops the
    connection (logged), so raise this for a bigger home."""
    max_event_bytes: Annotated[int, Range(1024)] = 1 << 20
    """Largest event applied; a larger one is logged and skipped (the entity keeps its last state)."""

    def __post_init__(self) -> None:
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be at least reconnect_min_s")
        if self.max_event_bytes > self.max_message_bytes:
            raise ValueError("max_event_bytes must be at most max_message_bytes")

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None, path: str = "home_assistant",
                  base: Path | None = None) -> HomeAssistantSettings:
        """Read the section (the `wyoming` command's config uses this too); ConfigError naming the key."""
        return read_section(cls, raw, path, base=base)

    @property
    def token_source(self) -> str:
        """Where the token is read from, for log lines (never the token)."""
        if self.token is not None:
            return "the embedding program"
        if self.token_file is not None:
            return f"home_assistant.token_file {self.token_file}"
        return f"${self.token_env}"

    def read_token(self, env: Mapping[str, str] | None = None) -> str:
        """The access token; ConfigError (HA_TOKEN_UNREADABLE) saying what to fix, never showing the token."""
        if self.token is not None:
            return self.token
        if self.token_file is not None:
            return read_secret_file(self.token_file, "home_assistant.token_file", ErrorCode.HA_TOKEN_UNREADABLE)
        value = (os.environ if env is None else env).get(self.token_env, "").strip()
        if not value:
            raise ConfigError(f"no Home Assistant token: set home_assistant.token_file or ${self.token_env}",
                              ErrorCode.HA_TOKEN_UNREADABLE)
        return value


