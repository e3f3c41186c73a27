"""Zigbee2MQTT: `<base>/bridge/devices` says what each device is, `<base>/<friendly_name>` what it does.

Like Home Assistant's MQTT discovery of Z2M, one device becomes several entities: the device's
specific capability (light, switch, climate, cover, lock, fan) plus one sensor or binary sensor per
measurement (temperature, humidity, contact, occupancy, ...). A state for a device the bridge has
not listed yet is still used: its domain is guessed from the keys it carries.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from edge_nlu.config_fields import Inline, read_section
from edge_nlu.domain.live_home import EntityUpdate, slug
from edge_nlu.service.adapters._common import (
    Cap,
    Naming,
    Topic,
    area_ok,
    clean_value,
    decode_text,
    entity_id,
    fmt_number,
    json_object,
    number,
    parse_json,
    percent,
    short_str,
    split_topic,
)
from edge_nlu.service.adapters.base import AdapterError, FixedTopics

_SPECIFIC = ("light", "switch", "climate", "cover", "lock", "fan")
_SENSORS: dict[str, tuple[str, str]] = {
    "temperature": ("temperature", "°C"),
    "humidity": ("humidity", "%"),
    "pressure": ("pressure", "hPa"),
    "illuminance": ("illuminance", "lx"),
    "illuminance_lux": ("illuminance", "lx"),
    "co2": ("carbon_dioxide", "ppm"),
    "pm25": ("pm25", "µg/m³"),
    "voc": ("volatile_organic_compounds", "ppb"),
    "power": ("power", "W"),
    "energy": ("energy", "kWh"),
    "voltage": ("voltage", "V"),
    "current": ("current", "A"),
    "battery": ("battery", "%"),
}
_BINARY: dict[str, str] = {
    "contact": "door",
    "occupancy": "occupancy",
    "presence": "occupancy",
    "smoke": "smoke",
    "water_leak": "moisture",
    "gas": "gas",
    "carbon_monoxide": "carbon_monoxide",
    "vibration": "vibration",
    "tamper": "tamper",
}
# Feature name inside a specific expose -> the role its value plays in the entity.
_ROLES = {
    "state": "state", "brightness": "brightness", "color_temp": "color_temp", "color_xy": "color",
    "color_hs": "color", "position": "position", "lock_state": "lock_state", "mode": "preset_mode",
    "system_mode": "mode", "local_temperature": "current_temperature", "running_state": "hvac_action",
    "current_heating_setpoint": "temperature", "occupied_heating_setpoint": "temperature", "preset": "preset_mode",
}
_CLIMATE_KEYS = ("local_temperature", "current_heating_setpoint", "occupied_heating_setpoint", "system_mode")
_AREA_NOTE = re.compile(r"^\s*(?:area|room)\s*[:=]\s*(.+?)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Zigbee2MqttConfig:
    """Where Zigbee2MQTT publishes and what the home's config says about its devices."""

    base_topic: Topic = "zigbee2mqtt"
    """Z2M's `mqtt.base_topic`."""
    naming: Annotated[Naming, Inline()] = field(default_factory=Naming)
    """Friendly name or IEEE address -> area / domain overrides (the `areas` and `domains` options)."""
    max_payload_bytes: Cap = 4 << 20
    """Largest payload read; the device list of a big network is a few hundred KiB."""
    max_devices: Cap = 1000
    """Most devices tracked (listed plus guessed); more are ignored."""

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Zigbee2MqttConfig:
        """Read `adapters.zigbee2mqtt`; ConfigError naming the key for anything it does not take."""
        return read_section(cls, options, f"adapters.{Zigbee2MqttAdapter.name}")


@dataclass(frozen=True)
class _Spec:
    """One entity of a device and where its values are in the state JSON."""

    entity_id: str
    """Entity id."""
    kind: str
    """How values are read: a specific expose type, `sensor` or `binary_sensor`."""
    name: str
    """Friendly name."""
    props: Mapping[str, str]
    """Role (`state`, `brightness`, `value`, ...) -> key in the state JSON."""
    attributes: Mapping[str, Any]
    """Static attributes (device_class, unit_of_measurement)."""
    scale: float = 254.0
    """Raw brightness that means 100 %."""


@dataclass
class _Device:
    """What is known about one friendly name."""

    name: str
    """Friendly name, as in topics."""
    listed: bool = False
    """Came from `bridge/devices` (else guessed from its state)."""
    specs: list[_Spec] = field(default_factory=list)
    """Entities, first the specific capability."""
    area: str | None = None
    """Area for all its entities."""
    available: bool | None = None
    """Last availability seen."""
    keys: set[str] = field(default_factory=set)
    """State keys seen, for guessing an unlisted device (capped)."""


def _guess_exposes(keys: set[str]) -> list[dict[str, Any]]:
    """Exposes an unlisted device probably has, from the state keys it sent."""
    def features(*names: str) -> list[dict[str, Any]]:
        return [{"name": n, "property": n} for n in names if n in keys]

    out: list[dict[str, Any]] = []
    if any(k in keys for k in _CLIMATE_KEYS):
        out.append({"type": "climate", "features": features(*_CLIMATE_KEYS, "running_state", "preset")})
    elif "state" in keys and any(k in keys for k in ("brightness", "color_temp", "color")):
        out.append({"type": "light", "features": [*features("state", "brightness", "color_temp"),
                                                   *([{"name": "color_xy", "property": "color"}] if "color" in keys
                                                     else [])]})
    elif "position" in keys:
        out.append({"type": "cover", "features": features("state", "position")})
    elif "lock_state" in keys:
        out.append({"type": "lock", "features": features("state", "lock_state")})
    elif "state" in keys:
        out.append({"type": "switch", "features": features("state")})
    out += [{"type": "numeric", "name": k, "property": k} for k in sorted(keys) if k in _SENSORS]
    out += [{"type": "binary", "name": k, "property": k} for k in sorted(keys) if k in _BINARY]
    return out


class Zigbee2MqttAdapter(FixedTopics):
    """Zigbee2MQTT device list, device states and availability."""

    name = "zigbee2mqtt"

    def __init__(self, config: Zigbee2MqttConfig | None = None) -> None:
        self.config = config or Zigbee2MqttConfig()
        self._devices: dict[str, _Device] = {}
        self._lock = threading.Lock()

    def subscriptions(self) -> list[str]:
        return [f"{self.config.base_topic}/#"]

    def handle(self, topic: str, payload: bytes) -> list[EntityUpdate]:
        base = self.config.base_topic + "/"
        if split_topic(topic) is None or not topic.startswith(base):
            return []
        rest = topic[len(base):]
        parts = rest.split("/")
        if parts[0] == "bridge":
            if rest != "bridge/devices":
                return []
            data = parse_json(payload, self.config.max_payload_bytes)
            if not isinstance(data, list):
                raise AdapterError("bridge/devices must be a JSON list")
            with self._lock:
                return self._device_list(data)
        if "set" in parts or "get" in parts:
            return []
        avail = parts[-1] == "availability"
        name = "/".join(parts[:-1]) if avail else rest
        if not name or len(name) > 256:
            raise AdapterError("bad friendly name in topic")
        if not payload:
            return []  # a cleared retained message
        with self._lock:
            return self._availability(name, payload) if avail else self._state(name, payload)

    # -- device list --------------------------------------------------------------------------

    def _device_list(self, items: list[Any]) -> list[EntityUpdate]:
        fresh: dict[str, _Device] = {}
        for item in items:
            if len(fresh) >= self.config.max_devices:
                break
            if not isinstance(item, dict) or item.get("type") == "Coordinator" or item.get("disabled") is True:
                continue
            fname = short_str(item.get("friendly_name"))
            if fname is None or fname in fresh:
                continue
            old = self._devices.get(fname)
            dev = _Device(name=fname, listed=True, available=old.available if old else None)
            dev.area = self._area(item, fname)
            definition = item.get("definition")
            exposes = definition.get("exposes") if isinstance(definition, dict) else None
            if isinstance(exposes, list) and exposes:
                dev.specs = self._specs(dev, exposes, item.get("ieee_address"))
            elif old is not None:  # not interviewed yet: keep what its states told us
                dev.keys = old.keys
                dev.specs = self._specs(dev, _guess_exposes(old.keys), None)
            fresh[fname] = dev
        out: list[EntityUpdate] = []
        for fname, old in self._devices.items():
            if fname not in fresh and not old.listed and len(fresh) < self.config.max_devices:
                fresh[fname] = old  # guessed from state only: maybe a group; keep it
        for fname, old in self._devices.items():
            keep = {s.entity_id for s in fresh[fname].specs} if fname in fresh else set()
            out += [self._remove(s.entity_id) for s in old.specs if s.entity_id not in keep]
        self._devices = fresh
        for dev in fresh.values():
            out += [self._describe(dev, s) for s in dev.specs]
        return out

    def _area(self, item: dict[str, Any], fname: str) -> str | None:
        ieee = item.get("ieee_address") if isinstance(item.get("ieee_address"), str) else None
        area = self.config.naming.area(fname, ieee)
        if area is None:
            note = short_str(item.get("description"))
            match = _AREA_NOTE.match(note) if note else None
            area = match.group(1) if match else None
        if area is None and "/" in fname.strip("/"):
            area = fname.strip("/").split("/")[0]
        return area_ok(area)

    def _specs(self, dev: _Device, exposes: list[Any], ieee: Any) -> list[_Spec]:
        display = " ".join(p.strip() for p in dev.name.replace("_", " ").split("/") if p.strip()) or dev.name
        base = slug(display)
        specs: list[_Spec] = []
        seen: set[str] = set()

        def add(domain: str, suffix: str, kind: str, name: str, props: dict[str, str],
                attrs: dict[str, Any], scale: float = 254.0) -> None:
            eid = entity_id(domain, base, suffix)
            n = 2
            while eid in seen:
                eid, n = entity_id(domain, base, suffix, str(n)), n + 1
            seen.add(eid)
            specs.append(_Spec(eid, kind, name, props, attrs, scale))

        for expose in exposes[:64]:
            if not isinstance(expose, dict) or expose.get("category") in ("config", "diagnostic"):
                continue
            etype = expose.get("type")
            endpoint = short_str(expose.get("endpoint")) or ""
            if etype in _SPECIFIC and isinstance(expose.get("features"), list):
                props: dict[str, str] = {}
                scale = 254.0
                for feat in expose["features"][:32]:
                    if not isinstance(feat, dict):
                        continue
                    role, prop = _ROLES.get(str(feat.get("name"))), short_str(feat.get("property"))
                    if role and prop and role not in props:
                        props[role] = prop
                        if role == "brightness" and (top := number(feat.get("value_max"))):
                            scale = float(top)
                primary = not any(s.kind in _SPECIFIC for s in specs)
                domain = self.config.naming.domain(str(etype), dev.name, ieee if isinstance(ieee, str) else None) \
                    if primary else str(etype)
                add(domain, endpoint, str(etype), f"{display} {endpoint}".strip(), props, {}, scale)
                continue
            ename, prop = short_str(expose.get("name")), short_str(expose.get("property"))
            if ename is None or prop is None:
                continue
            label = f"{display} {ename.replace('_', ' ')} {endpoint}".strip()
            if etype == "numeric" and ename in _SENSORS:
                dclass, unit = _SENSORS[ename]
                unit = short_str(expose.get("unit")) or unit
                add("sensor", f"{ename}_{endpoint}", "sensor", label, {"value": prop},
                    {"device_class": dclass, "unit_of_measurement": unit})
            elif etype == "binary" and ename in _BINARY:
                add("binary_sensor", f"{ename}_{endpoint}", "binary_sensor", label,
                    {"value": prop, "contact": prop} if ename == "contact" else {"value": prop},
                    {"device_class": _BINARY[ename]})
        return specs

    # -- state and availability ---------------------------------------------------------------

    def _device(self, name: str) -> _Device | None:
        dev = self._devices.get(name)
        if dev is None and len(self._devices) < self.config.max_devices:
            dev = self._devices[name] = _Device(name=name, area=area_ok(self.config.naming.area(name)))
            if dev.area is None and "/" in name.strip("/"):
                dev.area = area_ok(name.strip("/").split("/")[0])
        return dev

    def _state(self, name: str, payload: bytes) -> list[EntityUpdate]:
        data = json_object(payload, self.config.max_payload_bytes)
        dev = self._device(name)
        if dev is None:
            return []
        out: list[EntityUpdate] = []
        if not dev.listed or not dev.specs:
            new_keys = {k for k in data if isinstance(k, str) and len(k) <= 64} - dev.keys
            if new_keys and len(dev.keys) < 64:
                dev.keys |= set(sorted(new_keys)[: 64 - len(dev.keys)])
                old = dev.specs
                dev.specs = self._specs(dev, _guess_exposes(dev.keys), None)
                keep = {s.entity_id for s in dev.specs}
                out += [self._remove(s.entity_id) for s in old if s.entity_id not in keep]
                out += [self._describe(dev, s) for s in dev.specs if s not in old]
        for spec in dev.specs:
            state, attrs = _read(spec, data)
            if state is not None or attrs:
                out.append(EntityUpdate(entity_id=spec.entity_id, state=state, attributes=attrs or None,
                                        source=self.name))
        return out

    def _availability(self, name: str, payload: bytes) -> list[EntityUpdate]:
        text = decode_text(payload, 4096).strip()
        if text.startswith("{"):
            value = json_object(payload, 4096).get("state")
            text = value if isinstance(value, str) else ""
        if text.lower() not in ("online", "offline"):
            raise AdapterError("availability must be online/offline")
        dev = self._device(name)
        if dev is None:
            return []
        dev.available = text.lower() == "online"
        return [EntityUpdate(entity_id=s.entity_id, available=dev.available, source=self.name) for s in dev.specs]

    def _describe(self, dev: _Device, spec: _Spec) -> EntityUpdate:
        return EntityUpdate(entity_id=spec.entity_id, name=spec.name, area=dev.area,
                            attributes=dict(spec.attributes) or None, available=dev.available, source=self.name)

    def _remove(self, eid: str) -> EntityUpdate:
        return EntityUpdate(entity_id=eid, remove=True, source=self.name)


def _on_off(value: Any) -> str | None:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, str) and value.upper() in ("ON", "OFF"):
        return value.lower()
    return None


def _read(spec: _Spec, data: Mapping[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """State and attributes of one entity from a device's state JSON; odd values are skipped."""
    get = {role: data.get(key) for role, key in spec.props.items() if key in data}
    attrs: dict[str, Any] = {}
    state: str | None = None
    if spec.kind == "sensor":
        value = number(get.get("value"))
        return (fmt_number(value) if value is not None else None), {}
    if spec.kind == "binary_sensor":
        value = get.get("value")
        if not isinstance(value, bool):
            return None, {}
        return ("off" if value else "on") if "contact" in spec.props else ("on" if value else "off"), {}
    if spec.kind in ("light", "switch", "fan"):
        state = _on_off(get.get("state"))
    if "brightness" in get and (pct := percent(get["brightness"], spec.scale)) is not None:
        attrs["brightness"] = pct
    for role in ("color_temp", "current_temperature", "temperature"):
        if role in get and (n := number(get[role])) is not None:
            attrs[role] = n
    if isinstance(get.get("color"), dict):
        attrs["color"] = clean_value(get["color"])
    for role in ("preset_mode", "hvac_action"):
        if (text := short_str(get.get(role))) is not None:
            attrs[role] = text
    if spec.kind == "cover":
        pos = number(get.get("position"))
        raw = get.get("state")
        if pos is not None:
            attrs["position"] = max(0, min(100, round(pos)))
            state = "closed" if pos <= 0 else "open"
        elif isinstance(raw, str) and raw.upper() in ("OPEN", "CLOSE", "CLOSED"):
            state = "open" if raw.upper() == "OPEN" else "closed"
    elif spec.kind == "lock":
        raw, lock_state = get.get("state"), short_str(get.get("lock_state"))
        if isinstance(raw, str) and raw.upper() in ("LOCK", "UNLOCK"):
            state = "locked" if raw.upper() == "LOCK" else "unlocked"
        elif lock_state in ("locked", "unlocked", "jammed"):
            state = lock_state
    elif spec.kind == "climate":
        mode = short_str(get.get("mode"))
        state = mode.lower() if mode else None
    return state, attrs
