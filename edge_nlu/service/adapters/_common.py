"""Helpers every adapter shares: tolerant decoding, value caps, option types.

Device messages come from firmware of every vintage, so decoding is defensive: anything odd
becomes an `AdapterError` with a short reason, a dropped field, or nothing; never a crash and
never a value that `json.dumps(..., allow_nan=False)` would refuse.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from edge_nlu.config_fields import Check, NonEmpty, Range
from edge_nlu.domain.live_home import slug
from edge_nlu.errors import ConfigError, EdgeNLUError
from edge_nlu.sanitize import MQTT_UNSAFE, clean
from edge_nlu.service.adapters.base import AdapterError

MAX_STR = 256
"""Longest string value kept; longer ones are dropped (a name or state is never that long)."""
MAX_KEYS = 64
"""Most keys kept from one attributes object."""
MAX_ITEMS = 32
"""Most items kept from one list value."""
MAX_DEPTH = 3
"""Deepest nesting kept in an attribute value."""
MAX_INT = 2**53
"""Largest integer magnitude kept: what a JSON reader elsewhere can still represent exactly."""

_DOMAIN = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # a JSON escape that may decode to a lone surrogate
_DROP = object()


def _parse_int(text: str) -> int | None:
    # Python refuses int() on >4300 digits; treat anything past 20 digits as no value at all.
    return int(text) if len(text) <= 20 else None


def _parse_float(text: str) -> float | None:
    value = float(text)
    return value if math.isfinite(value) else None


def _parse_constant(_text: str) -> None:
    return None


def decode_text(payload: bytes, limit: int) -> str:
    """The payload as text; AdapterError for oversize or non-UTF-8 payloads."""
    if not isinstance(payload, bytes | bytearray):
        raise AdapterError("payload is not bytes")
    if len(payload) > limit:
        raise AdapterError(f"payload of {len(payload)} bytes is over the {limit}-byte limit")
    try:
        return bytes(payload).decode("utf-8")
    except UnicodeDecodeError:
        raise AdapterError("payload is not UTF-8") from None


def parse_json(payload: bytes, limit: int) -> Any:
    """JSON with NaN/Infinity, overflowing floats and huge integers read as null."""
    text = decode_text(payload, limit)
    try:
        data = json.loads(
            text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant
        )
    except (ValueError, RecursionError):
        raise AdapterError("payload is not valid JSON") from None
    if not _SURROGATE_ESCAPE.search(text):
        return data
    # `"\ud800"` is valid JSON but not valid UTF-8 text: one such device name would make every
    # answer that mentions the device unpublishable, so it is replaced (U+FFFD) here, at the wire
    try:
        return clean(data, max_depth=64)
    except EdgeNLUError:
        raise AdapterError("payload is nested too deeply") from None


def json_object(payload: bytes, limit: int) -> dict[str, Any]:
    data = parse_json(payload, limit)
    if not isinstance(data, dict):
        raise AdapterError(f"expected a JSON object, got {type(data).__name__}")
    return data


def clean_value(value: Any, depth: int = 0) -> Any:
    """A JSON-safe copy of `value` within the caps, or `_DROP`."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if -MAX_INT <= value <= MAX_INT else _DROP
    if isinstance(value, float):
        return value if math.isfinite(value) else _DROP
    if isinstance(value, str):
        return value if len(value) <= MAX_STR else _DROP
    if depth >= MAX_DEPTH:
        return _DROP
    if isinstance(value, list | tuple):
        items = [clean_value(v, depth + 1) for v in list(value)[:MAX_ITEMS]]
        return [v for v in items if v is not _DROP]
    if isinstance(value, dict):
        return clean_attributes(value, depth + 1)
    return _DROP


def clean_attributes(data: Mapping[Any, Any], depth: int = 0) -> dict[str, Any]:
    """At most MAX_KEYS string-keyed, JSON-safe entries of `data`; the rest is ignored."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if len(out) >= MAX_KEYS:
            break
        if not isinstance(key, str) or not key or len(key) > 64:
            continue
        cleaned = clean_value(value, depth)
        if cleaned is not _DROP:
            out[key] = cleaned
    return out


def number(value: Any) -> float | int | None:
    """A finite JSON number (not a bool), else None: strings where numbers belong are ignored."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, int):
        return value if -MAX_INT <= value <= MAX_INT else None
    return value if math.isfinite(value) else None


def number_text(text: str) -> float | int | None:
    """A number from text (Homie values, plain payloads), finite and in range, else None."""
    text = text.strip()
    if not text or len(text) > 32:
        return None
    try:
        return number(int(text))
    except ValueError:
        pass
    try:
        return number(float(text))
    except ValueError:
        return None


def fmt_number(value: float | int) -> str:
    """State string for a number, as Home Assistant writes it (`21`, `21.5`)."""
    return str(value)


def short_str(value: Any) -> str | None:
    """A non-empty string within MAX_STR, stripped; anything else is None."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value if value and len(value) <= MAX_STR else None


def percent(value: Any, top: float) -> int | None:
    """A raw level (0..top) as a whole percent, clamped; None for non-numbers."""
    n = number(value)
    if n is None or not 0 < top < MAX_INT:
        return None
    scaled = n / top * 100
    return max(0, min(100, round(scaled))) if math.isfinite(scaled) else None


def entity_id(domain: str, *parts: str) -> str:
    """`<domain>.<object_id>` with an object id built from the parts."""
    return f"{domain}.{slug('_'.join(p for p in parts if p))}"


def split_topic(topic: str) -> list[str] | None:
    """Topic segments, or None for a topic no device convention produces (empty, wildcards, or a
    character MQTT forbids: learning such a topic from a discovery config and subscribing to it
    would get the service disconnected by the broker, again on every reconnect)."""
    if not isinstance(topic, str) or not topic or len(topic) > 1024:
        return None
    if any(c in topic for c in "+#") or MQTT_UNSAFE.search(topic):
        return None
    return topic.split("/")


# -- configuration ------------------------------------------------------------------------------


def check_domain(domain: str, where: str) -> str:
    """A Home Assistant domain (`light`), else ConfigError naming `where`."""
    if not _DOMAIN.match(domain):
        raise ConfigError(f"{where}: {domain!r} is not a Home Assistant domain (lowercase letters, digits, _)")
    return domain


def check_topic(value: str, where: str) -> str:
    """A topic prefix without wildcards, outer slashes removed (`zigbee2mqtt/` -> `zigbee2mqtt`)."""
    if not value.strip("/") or split_topic(value.strip("/")) is None:
        raise ConfigError(f"{where} must be a topic without wildcards, got {value!r}")
    return value.strip("/")


def _names(table: Mapping[str, str], where: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in table.items():
        if not k.strip() or not v.strip():
            raise ConfigError(f"{where}: {k!r}: {v!r} must map a name to a non-empty string")
        out[k.strip()] = v.strip()
    return out


def _domains(table: Mapping[str, str], where: str) -> dict[str, str]:
    out = _names(table, where)
    for key, dom in out.items():
        check_domain(dom, f"{where}.{key}")
    return out


Topic = Annotated[str, NonEmpty(), Check(check_topic)]
"""An adapter's topic prefix option."""
Cap = Annotated[int, Range(1)]
"""An adapter's cap (payload bytes, devices)."""


@dataclass(frozen=True)
class Naming:
    """The per-home knowledge every adapter takes from the service config."""

    areas: Annotated[Mapping[str, str], Check(_names)] = field(default_factory=dict)
    """Device or entity name (or id) -> area name; wins over anything a message suggests."""
    domains: Annotated[Mapping[str, str], Check(_domains)] = field(default_factory=dict)
    """Device or entity name (or id) -> HA domain, for a plug that powers a lamp (`light`)."""

    def area(self, *keys: str | None) -> str | None:
        """The configured area for the first key that has one (exact, then by slug)."""
        return _lookup(self.areas, keys)

    def domain(self, default: str, *keys: str | None) -> str:
        """The configured domain for the first key that has one, else `default`."""
        return _lookup(self.domains, keys) or default


def _lookup(table: Mapping[str, str], keys: tuple[str | None, ...]) -> str | None:
    """Exact key first, then by slug: `Kitchen ceiling` in the config matches `kitchen/ceiling`."""
    if not table:
        return None
    for key in keys:
        if key and key in table:
            return table[key]
    slugs = {slug(k): v for k, v in table.items()}
    for key in keys:
        if key and slug(key) in slugs:
            return slugs[slug(key)]
    return None


def area_ok(area: str | None) -> str | None:
    """An area worth sending: LiveHome makes an area of any string, so garbage stays out."""
    area = short_str(area)
    return area if area and slug(area) != "unnamed" else None
