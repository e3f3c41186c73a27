"""Homie 4: a device describes itself (`$name`, `$nodes`, `$properties`, `$datatype`) in retained topics.

Retained messages arrive in any order, so the adapter keeps the device tree it has seen and
re-derives a node's entities after each message: a node with a boolean `on`/`power`/`state`
property is a switch (a light when it looks like one or has a brightness), `temperature` and
`humidity` properties are sensors, `contact`/`motion`/`occupancy` binary sensors.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from edge_nlu.config_fields import Inline, read_section
from edge_nlu.domain.live_home import EntityUpdate, slug
from edge_nlu.service.adapters._common import (
    MAX_STR,
    Cap,
    Naming,
    Topic,
    area_ok,
    decode_text,
    entity_id,
    fmt_number,
    number_text,
    short_str,
    split_topic,
)
from edge_nlu.service.adapters.base import AdapterError, FixedTopics

_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$")
_SWITCH_PROPS = ("on", "power", "state", "switch")
_DIM_PROPS = ("brightness", "dimmer", "level", "intensity")
_LIGHTISH = ("light", "lamp", "bulb", "dimmer", "led")
_SENSORS = {"temperature": ("temperature", "°C"), "humidity": ("humidity", "%")}
_BINARY = {"contact": "door", "motion": "motion", "occupancy": "occupancy"}
_DOWN = ("lost", "disconnected")
_MAX_NODES = 32
_MAX_PROPS = 64


@dataclass(frozen=True)
class HomieConfig:
    """Where Homie devices publish and the config's names for them."""

    base_topic: Topic = "homie"
    """Homie root topic."""
    naming: Annotated[Naming, Inline()] = field(default_factory=Naming)
    """Device id or `$name` -> area / domain override (the `areas` and `domains` options)."""
    max_payload_bytes: Cap = 4096
    """Largest payload read; Homie values are short strings."""
    max_devices: Cap = 500
    """Most devices tracked."""

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> HomieConfig:
        """Read `adapters.homie`; ConfigError naming the key for anything it does not take."""
        return read_section(cls, options, f"adapters.{HomieAdapter.name}")


@dataclass
class _Node:
    """A node's attributes and property values, as text."""

    attrs: dict[str, str] = field(default_factory=dict)
    """`$name`, `$type`, `$properties`."""
    props: dict[str, dict[str, str]] = field(default_factory=dict)
    """Property id -> {`value`, `$datatype`, `$unit`, `$format`, `$name`}."""
    emitted: set[str] = field(default_factory=set)
    """Entity ids this node currently has in the home."""


@dataclass
class _Device:
    """A Homie device as seen so far."""

    attrs: dict[str, str] = field(default_factory=dict)
    """`$name`, `$state`, `$nodes`."""
    nodes: dict[str, _Node] = field(default_factory=dict)
    """Node id -> node."""


class HomieAdapter(FixedTopics):
    """Homie 4 devices, nodes and properties."""

    name = "homie"

    def __init__(self, config: HomieConfig | None = None) -> None:
        self.config = config or HomieConfig()
        self._devices: dict[str, _Device] = {}
        self._lock = threading.Lock()

    def subscriptions(self) -> list[str]:
        return [f"{self.config.base_topic}/#"]

    def handle(self, topic: str, payload: bytes) -> list[EntityUpdate]:
        parts = split_topic(topic)
        base = self.config.base_topic.split("/")
        if parts is None or parts[: len(base)] != base:
            return []
        rest = parts[len(base):]
        if len(rest) < 2 or rest[0].startswith("$") or rest[-1] == "set" or len(rest) > 4:
            return []  # $broadcast, commands, deeper topics are not device state
        if not all(_ID.match(p) or (p.startswith("$") and _ID.match(p[1:])) for p in rest):
            raise AdapterError("topic segment is not a Homie id")
        text = decode_text(payload, self.config.max_payload_bytes)
        if len(text) > MAX_STR:
            raise AdapterError("value longer than 256 characters")
        with self._lock:
            return self._handle(rest, text)

    def _handle(self, rest: list[str], text: str) -> list[EntityUpdate]:
        dev_id = rest[0]
        dev = self._devices.get(dev_id)
        if len(rest) == 2 and rest[1] in ("$homie", "$state") and not text:
            return self._forget(dev_id)  # a device is deleted by clearing its retained topics
        if dev is None:
            if len(self._devices) >= self.config.max_devices:
                return []
            dev = self._devices[dev_id] = _Device()
        if len(rest) == 2:
            if rest[1] not in ("$name", "$state", "$nodes"):
                return []
            dev.attrs[rest[1]] = text
            out: list[EntityUpdate] = []
            if rest[1] == "$nodes":
                listed = {n.strip() for n in text.split(",") if n.strip()}
                for node_id in [n for n in dev.nodes if n not in listed]:
                    out += [EntityUpdate(entity_id=e, remove=True, source=self.name)
                            for e in sorted(dev.nodes.pop(node_id).emitted)]
            for node_id in list(dev.nodes):
                out += self._derive(dev_id, dev, node_id)
            return out
        node_id = rest[1]
        node = dev.nodes.get(node_id)
        if node is None:
            if len(dev.nodes) >= _MAX_NODES:
                return []
            node = dev.nodes[node_id] = _Node()
        if len(rest) == 3 and rest[2].startswith("$"):
            if rest[2] not in ("$name", "$type", "$properties"):
                return []
            node.attrs[rest[2]] = text
        else:
            prop_id = rest[2]
            attr = rest[3] if len(rest) == 4 else "value"
            if attr not in ("value", "$datatype", "$unit", "$format", "$name"):
                return []
            prop = node.props.get(prop_id)
            if prop is None:
                if len(node.props) >= _MAX_PROPS:
                    return []
                prop = node.props[prop_id] = {}
            prop[attr] = text
        return self._derive(dev_id, dev, node_id)

    def _forget(self, dev_id: str) -> list[EntityUpdate]:
        dev = self._devices.pop(dev_id, None)
        if dev is None:
            return []
        ids = sorted(e for node in dev.nodes.values() for e in node.emitted)
        return [EntityUpdate(entity_id=e, remove=True, source=self.name) for e in ids]

    # -- entities -----------------------------------------------------------------------------

    def _derive(self, dev_id: str, dev: _Device, node_id: str) -> list[EntityUpdate]:
        """The node's entities now; entities it no longer has are removed."""
        node = dev.nodes[node_id]
        dev_name = short_str(dev.attrs.get("$name")) or dev_id
        node_name = short_str(node.attrs.get("$name")) or node_id.replace("-", " ")
        listed = [n for n in dev.attrs.get("$nodes", "").split(",") if n.strip()]
        label = dev_name if len(listed) <= 1 else f"{dev_name} {node_name}"
        area = area_ok(self.config.naming.area(dev_name, dev_id, f"{dev_name} {node_name}"))
        state_attr = dev.attrs.get("$state")
        available = None if state_attr is None else state_attr not in _DOWN
        base = slug(f"{dev_id}_{node_id}")
        wanted: list[EntityUpdate] = []

        def emit(eid: str, name: str, state: str | None, attrs: dict[str, Any] | None) -> None:
            wanted.append(EntityUpdate(entity_id=eid, name=name, area=area, state=state, attributes=attrs,
                                       available=available, source=self.name))

        switch = next((p for p in _SWITCH_PROPS if _is_bool(node.props.get(p))), None)
        if switch is not None:
            looks = " ".join([node_id, node_name, node.attrs.get("$type", "")]).lower()
            dim = next((p for p in _DIM_PROPS if p in node.props), None)
            default = "light" if dim or any(w in looks for w in _LIGHTISH) else "switch"
            domain = self.config.naming.domain(default, f"{dev_name} {node_name}", label, dev_name, dev_id)
            value = node.props[switch].get("value", "").strip().lower()
            state = {"true": "on", "false": "off", "on": "on", "off": "off"}.get(value)
            attrs: dict[str, Any] = {}
            if dim and (pct := _scaled(node.props[dim])) is not None:
                attrs["brightness"] = pct
            emit(entity_id(domain, base), label, state, attrs or None)
        for prop_id, prop in node.props.items():
            if prop_id in _SENSORS and prop.get("$datatype", "float") in ("float", "integer"):
                dclass, unit = _SENSORS[prop_id]
                value_num = number_text(prop.get("value", ""))
                emit(entity_id("sensor", base, prop_id), f"{label} {prop_id}",
                     fmt_number(value_num) if value_num is not None else None,
                     {"device_class": dclass, "unit_of_measurement": short_str(prop.get("$unit")) or unit})
            elif prop_id in _BINARY and _is_bool(prop):
                flag = prop.get("value", "").strip().lower()
                state = {"true": "on", "false": "off"}.get(flag)
                if prop_id == "contact" and state:  # contact=true means the door is closed
                    state = "off" if state == "on" else "on"
                emit(entity_id("binary_sensor", base, prop_id), f"{label} {prop_id}", state,
                     {"device_class": _BINARY[prop_id]})
        now = {u.entity_id for u in wanted}
        gone = [EntityUpdate(entity_id=e, remove=True, source=self.name) for e in sorted(node.emitted - now)]
        node.emitted = now
        return gone + wanted


def _is_bool(prop: Mapping[str, str] | None) -> bool:
    """Boolean by `$datatype`, or by value while the datatype has not arrived yet."""
    if prop is None:
        return False
    if "$datatype" in prop:
        return prop["$datatype"] == "boolean"
    return prop.get("value", "").strip().lower() in ("true", "false")


def _scaled(prop: Mapping[str, str]) -> int | None:
    """A dimmer value as percent, using `$format` `lo:hi` when given (else 0..100)."""
    value = number_text(prop.get("value", ""))
    if value is None:
        return None
    lo, hi = 0.0, 100.0
    fmt = prop.get("$format", "")
    if ":" in fmt:
        a, b = (number_text(x) for x in fmt.split(":", 1))
        if a is not None and b is not None and b > a:
            lo, hi = float(a), float(b)
    scaled = (value - lo) / (hi - lo) * 100
    return max(0, min(100, round(scaled))) if math.isfinite(scaled) else None
