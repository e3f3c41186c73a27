"""Tasmota: relays from `STATE`/`RESULT`/`POWERn`, sensors from `SENSOR`, availability from `LWT`.

Tasmota topics carry only a device topic (`tasmota_8A7F3C`), so the friendly name, area and
domain come from the service config; without one the topic is the name. A device that reports
`Dimmer`, `CT` or `Color` is a light (its first relay moves from `switch.` to `light.`).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from edge_nlu.config_fields import Check, Inline, NonEmpty, Shorthand, read_section
from edge_nlu.domain.live_home import EntityUpdate, slug
from edge_nlu.errors import ConfigError
from edge_nlu.service.adapters._common import (
    Cap,
    Naming,
    area_ok,
    check_domain,
    decode_text,
    entity_id,
    fmt_number,
    json_object,
    number,
    percent,
    short_str,
    split_topic,
)
from edge_nlu.service.adapters.base import AdapterError, FixedTopics

_MEASURES: dict[str, tuple[str, str, str]] = {
    "Temperature": ("temperature", "temperature", "°C"),
    "DewPoint": ("dew_point", "temperature", "°C"),
    "Humidity": ("humidity", "humidity", "%"),
    "Pressure": ("pressure", "pressure", "hPa"),
    "Illuminance": ("illuminance", "illuminance", "lx"),
    "CarbonDioxide": ("carbon_dioxide", "carbon_dioxide", "ppm"),
    "eCO2": ("carbon_dioxide", "carbon_dioxide", "ppm"),
}
_ENERGY: dict[str, tuple[str, str, str]] = {
    "Power": ("power", "power", "W"),
    "Voltage": ("voltage", "voltage", "V"),
    "Current": ("current", "current", "A"),
    "Total": ("energy_total", "energy", "kWh"),
    "Today": ("energy_today", "energy", "kWh"),
}
_POWER = re.compile(r"^POWER([1-9][0-9]?)?$")
_MAX_SENSORS = 32


@dataclass(frozen=True)
class TasmotaDevice:
    """What the config says about one Tasmota device topic."""

    name: str | None = None
    """Friendly name (default: the topic)."""
    area: str | None = None
    """Area name."""
    domain: Annotated[str | None, Check(check_domain)] = None
    """Domain of its relays (`light` for a relay driving a lamp); default switch, or light if dimmable."""


@dataclass(frozen=True)
class TasmotaConfig:
    """Tasmota's topic layout and the config's names for device topics."""

    full_topic: Annotated[str, NonEmpty(), Check(_full_topic)] = "%prefix%/%topic%/"
    """Tasmota's FullTopic; `%prefix%` and `%topic%` are required, other `%tokens%` match one level."""
    tele_prefix: Annotated[str, NonEmpty(), Check(_topic_prefix)] = "tele"
    """Prefix of telemetry (`STATE`, `SENSOR`, `LWT`)."""
    stat_prefix: Annotated[str, NonEmpty(), Check(_topic_prefix)] = "stat"
    """Prefix of command results (`RESULT`, `POWER`)."""
    devices: Mapping[str, Annotated[TasmotaDevice, Shorthand("name")]] = field(default_factory=dict)
    """Device topic -> name, area, domain; a plain string is the name."""
    naming: Annotated[Naming, Inline()] = field(default_factory=Naming)
    """Name or topic -> area / domain, as for the other adapters (the `areas` and `domains` options)."""
    max_payload_bytes: Cap = 64 << 10
    """Largest payload read."""
    max_devices: Cap = 500
    """Most device topics tracked."""

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> TasmotaConfig:
        """Read `adapters.tasmota`; ConfigError naming the key for anything it does not take."""
        return read_section(cls, options, f"adapters.{TasmotaAdapter.name}")


def _topic_prefix(value: str, where: str) -> str:
    if not value.strip("/") or any(c in value for c in "+#\x00"):
        raise ConfigError(f"{where} must be a topic without wildcards, got {value!r}")
    return value.strip("/")


def _full_topic(value: str, where: str) -> str:
    _topic_prefix(value, where)
    if "%prefix%" not in value or "%topic%" not in value:
        raise ConfigError(f"{where} must contain %prefix% and %topic%")
    return value


@dataclass
class _Device:
    """What one device topic has told us."""

    light: bool = False
    """Reported a dimmer or colour: its first relay is a light."""
    power: dict[int, str | None] = field(default_factory=dict)
    """Relay number -> last state (`on`/`off`, None before one is reported)."""
    attrs: dict[str, Any] = field(default_factory=dict)
    """Light attributes of relay 1 (brightness, color_temp, color)."""
    sensors: set[str] = field(default_factory=set)
    """Sensor entity ids created."""
    available: bool | None = None
    """Last LWT."""


def _power(value: Any) -> str | None:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int) and value in (0, 1):
        return "on" if value else "off"
    if isinstance(value, str) and value.strip().upper() in ("ON", "OFF", "1", "0", "TRUE", "FALSE"):
        return "on" if value.strip().upper() in ("ON", "1", "TRUE") else "off"
    return None


class TasmotaAdapter(FixedTopics):
    """Tasmota telemetry and command results."""

    name = "tasmota"

    def __init__(self, config: TasmotaConfig | None = None) -> None:
        self.config = config or TasmotaConfig()
        pattern = re.escape(self.config.full_topic.strip("/"))
        prefixes = "|".join(re.escape(p) for p in (self.config.tele_prefix, self.config.stat_prefix))
        pattern = pattern.replace("%prefix%", f"(?P<prefix>{prefixes})").replace("%topic%", "(?P<topic>.+?)")
        pattern = re.sub(r"%[a-z]+%", "[^/]+", pattern)
        self._topic_re = re.compile(f"^{pattern}/(?P<suffix>[^/]+)$")
        self._devices: dict[str, _Device] = {}
        self._lock = threading.Lock()

    def subscriptions(self) -> list[str]:
        out: list[str] = []
        for prefix in (self.config.tele_prefix, self.config.stat_prefix):
            head = self.config.full_topic.strip("/").replace("%prefix%", prefix).split("%", 1)[0]
            filt = head.rstrip("/") + "/#" if head.strip("/") else "#"
            if filt not in out:
                out.append(filt)
        return out

    def handle(self, topic: str, payload: bytes) -> list[EntityUpdate]:
        match = self._topic_re.match(topic) if split_topic(topic) is not None else None
        if match is None:
            return []
        prefix, dtopic, suffix = match.group("prefix"), match.group("topic"), match.group("suffix")
        tele = prefix == self.config.tele_prefix
        kind = (tele, suffix)
        if kind not in ((True, "STATE"), (True, "SENSOR"), (True, "LWT"), (False, "RESULT")) and not (
            not tele and _POWER.match(suffix)
        ):
            return []
        if len(dtopic) > 128:
            raise AdapterError("device topic too long")
        limit = self.config.max_payload_bytes
        with self._lock:
            dev = self._devices.get(dtopic)
            if dev is None:
                if len(self._devices) >= self.config.max_devices:
                    return []
                dev = _Device()
            if suffix == "LWT":
                text = decode_text(payload, limit).strip().lower()
                if text not in ("online", "offline"):
                    raise AdapterError("LWT must be Online or Offline")
                dev.available = text == "online"
                self._devices[dtopic] = dev
                ids = [self._relay_id(dtopic, dev, n) for n in sorted(dev.power)] + sorted(dev.sensors)
                return [EntityUpdate(entity_id=e, available=dev.available, source=self.name) for e in ids]
            if not tele and suffix != "RESULT":
                state = _power(decode_text(payload, limit))
                if state is None:
                    raise AdapterError("POWER must be ON or OFF")
                data: dict[str, Any] = {suffix: state}
            else:
                data = json_object(payload, limit)
            out = self._sensors(dtopic, dev, data) if suffix == "SENSOR" else self._relays(dtopic, dev, data)
            self._devices[dtopic] = dev
            return out

    # -- entities -----------------------------------------------------------------------------

    def _who(self, dtopic: str) -> tuple[str, str | None, str | None]:
        """Name, area and configured domain of a device topic."""
        spec = self.config.devices.get(dtopic, TasmotaDevice())
        name = spec.name or dtopic
        area = spec.area or self.config.naming.area(name, dtopic)
        domain = spec.domain or self.config.naming.domain("", name, dtopic) or None
        return name, area_ok(area), domain

    def _relay_id(self, dtopic: str, dev: _Device, n: int) -> str:
        name, _, domain = self._who(dtopic)
        dom = domain or ("light" if dev.light and n == 1 else "switch")
        return entity_id(dom, slug(name), str(n) if n > 1 else "")

    def _relays(self, dtopic: str, dev: _Device, data: Mapping[str, Any]) -> list[EntityUpdate]:
        out: list[EntityUpdate] = []
        changes: dict[int, str | None] = {}
        for key, value in list(data.items())[:64]:
            m = _POWER.match(key) if isinstance(key, str) else None
            if m and (state := _power(value)) is not None:
                changes[int(m.group(1) or 1)] = state
        attrs: dict[str, Any] = {}
        if (pct := percent(data.get("Dimmer"), 100)) is not None:
            attrs["brightness"] = pct
        if (ct := number(data.get("CT"))) is not None:
            attrs["color_temp"] = ct
        for key in ("Color", "HSBColor"):
            if (color := short_str(data.get(key))) is not None:
                attrs[key.lower()] = color
        fresh: set[int] = {n for n in changes if n not in dev.power}
        if attrs:
            changes.setdefault(1, None)
            if not dev.light:
                if 1 in dev.power and self._who(dtopic)[2] is None:  # switch.x becomes light.x
                    out.append(EntityUpdate(entity_id=self._relay_id(dtopic, dev, 1), remove=True, source=self.name))
                    fresh.add(1)
                    changes[1] = changes[1] or dev.power[1]
                dev.light = True
            dev.attrs.update(attrs)
        name, area, _ = self._who(dtopic)
        for n, state in sorted(changes.items()):
            fresh |= {n} if n not in dev.power else set()
            dev.power[n] = state or dev.power.get(n)
            out.append(EntityUpdate(
                entity_id=self._relay_id(dtopic, dev, n), name=name if n == 1 else f"{name} {n}", area=area,
                state=state, attributes=dict(dev.attrs) if n == 1 and dev.attrs else None,
                available=dev.available if n in fresh else None, source=self.name,
            ))
        return out

    def _sensors(self, dtopic: str, dev: _Device, data: Mapping[str, Any]) -> list[EntityUpdate]:
        name, area, _ = self._who(dtopic)
        unit = data.get("TempUnit")
        temp_unit = "°F" if unit == "F" else "°C"
        pressure_unit = short_str(data.get("PressureUnit"))
        out: list[EntityUpdate] = []
        for sensor, values in list(data.items())[:64]:
            if not isinstance(values, dict) or not isinstance(sensor, str) or len(sensor) > 64:
                continue
            table = _ENERGY if sensor == "ENERGY" else _MEASURES
            for key, (suffix, dclass, default_unit) in table.items():
                value = number(values.get(key))
                if value is None:
                    continue
                label = suffix.replace("_", " ")
                if sensor == "ENERGY":
                    eid, friendly = entity_id("sensor", slug(name), suffix), f"{name} {label}"
                else:
                    eid, friendly = entity_id("sensor", slug(name), slug(sensor), suffix), f"{name} {sensor} {label}"
                new = eid not in dev.sensors
                if new and len(dev.sensors) >= _MAX_SENSORS:
                    continue
                dev.sensors.add(eid)
                u = temp_unit if dclass == "temperature" else default_unit
                u = pressure_unit if dclass == "pressure" and pressure_unit else u
                out.append(EntityUpdate(
                    entity_id=eid, name=friendly, area=area, state=fmt_number(value),
                    attributes={"device_class": dclass, "unit_of_measurement": u},
                    available=dev.available if new else None, source=self.name,
                ))
        return out
