"""Home Assistant MQTT discovery: retained configs name an entity and the topics that carry its state.

The adapter learns those topics (`extra_subscriptions()`) so the service subscribes to them, and
routes their messages back to the entities that named them. Value templates are not evaluated
(no Jinja on a hub); a plain payload, a JSON payload's `state`/`value`, or the key path of a
simple `{{ value_json.a.b }}` template is read instead, which covers what Zigbee2MQTT, ESPHome
and Tasmota publish.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from edge_nlu.config_fields import Inline, read_section
from edge_nlu.domain.live_home import EntityUpdate, slug
from edge_nlu.service.adapters._common import (
    MAX_KEYS,
    Cap,
    Naming,
    Topic,
    area_ok,
    clean_attributes,
    decode_text,
    entity_id,
    json_object,
    number,
    number_text,
    parse_json,
    percent,
    short_str,
    split_topic,
)
from edge_nlu.service.adapters._ha_values import (
    ABBREVIATIONS,
    RESERVED,
    ROLES,
    TEMPLATES,
    as_text,
    read_value,
    template_path,
)
from edge_nlu.service.adapters.base import AdapterError, CapReached

log = logging.getLogger("edge_nlu.service.adapters.ha_discovery")

COMPONENTS = frozenset({
    "alarm_control_panel", "binary_sensor", "button", "camera", "climate", "cover", "device_tracker", "event",
    "fan", "humidifier", "image", "lawn_mower", "light", "lock", "notify", "number", "scene", "select", "sensor",
    "siren", "switch", "text", "update", "vacuum", "valve", "water_heater",
})
"""Discovery components that are entities (`device_automation` and `tag` are not)."""


@dataclass(frozen=True)
class HaDiscoveryConfig:
    """Where discovery configs live and what the home's config says about their entities."""

    base_topic: Topic = "homeassistant"
    """Discovery prefix (`discovery_prefix` in HA's MQTT settings)."""
    naming: Annotated[Naming, Inline()] = field(default_factory=Naming)
    """Entity name, device name, unique_id or object id -> area / domain overrides (the `areas` and
    `domains` options)."""
    max_payload_bytes: Cap = 256 << 10
    """Largest config or state payload read."""
    max_configs: Cap = 5000
    """Most discovered entities; further configs are refused (a warning is logged once)."""
    max_configs_per_node: Cap = 512
    """Most discovered entities per node id (`<prefix>/<component>/<node_id>/<object_id>/config`), so
    one runaway publisher cannot take the whole `max_configs` budget (a warning is logged once per node)."""

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> HaDiscoveryConfig:
        """Read `adapters.ha_discovery`; ConfigError naming the key for anything it does not take."""
        return read_section(cls, options, f"adapters.{HaDiscoveryAdapter.name}")


@dataclass
class _Discovered:
    """One discovered entity: its id and the expanded config its state is read with."""

    entity_id: str
    """Entity id, stable while the config lives."""
    component: str
    """Discovery component (how payloads are read), may differ from the entity id's domain."""
    conf: dict[str, Any]
    """Expanded config (abbreviations resolved, `~` substituted)."""
    topics: dict[str, str]
    """Role (`state`, `json_attributes`, `availability:0`, ...) -> topic."""
    attr_keys: set[str] = field(default_factory=set)
    """Attribute keys sent so far: the home merges attributes, so the cap must hold across messages."""
    node: str = ""
    """Node id from the config topic (empty without one), for the per-node cap."""


def expand(conf: Mapping[str, Any]) -> dict[str, Any]:
    """Abbreviations resolved, `~` substituted in every `*_topic` / `topic` value."""
    out = {ABBREVIATIONS.get(k, k): v for k, v in conf.items() if isinstance(k, str)}
    for nested in ("device", "origin"):
        if isinstance(out.get(nested), dict):
            out[nested] = {ABBREVIATIONS.get(k, k): v for k, v in out[nested].items() if isinstance(k, str)}
    avty = out.get("availability")
    if isinstance(avty, list):
        out["availability"] = [{ABBREVIATIONS.get(k, k): v for k, v in a.items() if isinstance(k, str)}
                               for a in avty[:8] if isinstance(a, dict)]
    base = out.get("~")
    if isinstance(base, str):
        def sub(value: Any) -> Any:
            if isinstance(value, str):
                if value.startswith("~"):
                    return base + value[1:]
                if value.endswith("~"):
                    return value[:-1] + base
            return value
        for key in list(out):
            if key.endswith("_topic"):
                out[key] = sub(out[key])
        for a in out.get("availability") or []:
            if "topic" in a:
                a["topic"] = sub(a["topic"])
    return out


def _learned_topic(value: Any) -> str | None:
    text = short_str(value)
    return text if text and split_topic(text) is not None else None


class HaDiscoveryAdapter:
    """HA MQTT discovery configs plus the state, attribute and availability topics they name."""

    name = "ha_discovery"

    def __init__(self, config: HaDiscoveryConfig | None = None) -> None:
        self.config = config or HaDiscoveryConfig()
        self._by_key: dict[str, _Discovered] = {}
        self._ids: dict[str, str] = {}
        self._routes: dict[str, list[tuple[str, str]]] = {}
        """Exact topic -> (config key, role): one dict lookup per message, however many configs."""
        self._per_node: dict[str, int] = {}
        self._suffix: dict[str, int] = {}
        """Entity id -> next free `_<n>` suffix for colliding names."""
        self._components: dict[str, set[str]] = {}
        """Device config key -> its components' keys (`<key>#<cid>`), so removal needs no scan."""
        self._added: set[str] = set()
        self._removed: set[str] = set()
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    def subscriptions(self) -> list[str]:
        p = self.config.base_topic
        return [f"{p}/+/+/config", f"{p}/+/+/+/config"]

    def extra_subscriptions(self) -> list[str]:
        with self._lock:
            return sorted(self._routes)

    def take_subscription_changes(self) -> tuple[list[str], list[str]]:
        """(learned topics, forgotten topics) since the last call: the service's routing table
        follows them per message without re-reading (or re-sorting) every learned topic."""
        with self._lock:
            added, removed = sorted(self._added), sorted(self._removed)
            self._added.clear()
            self._removed.clear()
            return added, removed

    def _route(self, topic: str, key: str, role: str) -> None:
        routes = self._routes.get(topic)
        if routes is None:
            self._routes[topic] = [(key, role)]
            if topic in self._removed:
                self._removed.discard(topic)
            else:
                self._added.add(topic)
        else:
            routes.append((key, role))

    def _warn_once(self, key: str, msg: str, *args: Any) -> None:
        if key not in self._warned and len(self._warned) < 1024:
            self._warned.add(key)
            log.warning(msg, *args)

    def handle(self, topic: str, payload: bytes) -> list[EntityUpdate]:
        parts = split_topic(topic)
        if parts is None:
            return []
        with self._lock:
            prefix = self.config.base_topic.split("/")
            rest = parts[len(prefix):]
            if parts[: len(prefix)] == prefix and len(rest) in (3, 4) and rest[-1] == "config":
                return self._config(topic, rest, payload)
            if topic in self._routes:
                return self._state(topic, payload)
            return []

    # -- configs ------------------------------------------------------------------------------

    def _config(self, topic: str, rest: list[str], payload: bytes) -> list[EntityUpdate]:
        component = rest[0]
        if component != "device" and component not in COMPONENTS:
            return []
        key = topic[: -len("/config")]
        if not payload:
            return [u for k in [key, *sorted(self._components.get(key, ()))] for u in self._drop(k)]
        conf = expand(json_object(payload, self.config.max_payload_bytes))
        if component != "device":
            return self._discover(key, component, conf, rest)
        cmps = conf.pop("components", None)
        if not isinstance(cmps, dict):
            raise AdapterError("device discovery config needs a 'cmps' object")
        out: list[EntityUpdate] = []
        shared = {k: v for k, v in conf.items() if k not in ("origin",)}
        wanted: set[str] = set()
        for cid, cmp in list(cmps.items())[:64]:
            if not isinstance(cmp, dict) or not isinstance(cid, str):
                continue
            cmp = expand(cmp)
            platform = cmp.get("platform")
            if not isinstance(platform, str) or platform not in COMPONENTS or set(cmp) == {"platform"}:
                continue  # a bare platform is HA's way to remove the component
            sub_key = f"{key}#{cid}"
            wanted.add(sub_key)
            try:
                out += self._discover(sub_key, str(platform), expand({**shared, **cmp}), [str(platform), cid])
            except AdapterError:
                continue
        for k in sorted(self._components.get(key, set()) - wanted):
            out += self._drop(k)
        return out

    def _discover(self, key: str, component: str, conf: dict[str, Any], rest: list[str]) -> list[EntityUpdate]:
        old = self._by_key.get(key)
        node = rest[1] if len(rest) == 4 else ""
        if old is None and len(self._by_key) >= self.config.max_configs:
            self._warn_once("<max_configs>", "ha_discovery: %d discovery configs reached (max_configs); further "
                            "configs are refused", self.config.max_configs)
            raise CapReached(f"more than {self.config.max_configs} discovery configs")
        if old is None and node and self._per_node.get(node, 0) >= self.config.max_configs_per_node:
            self._warn_once(f"<node:{node}>", "ha_discovery: node %r has %d discovery configs "
                            "(max_configs_per_node); further configs from it are refused", node[:80],
                            self.config.max_configs_per_node)
            raise CapReached(f"more than {self.config.max_configs_per_node} discovery configs for node {node!r}")
        raw_device = conf.get("device")
        device: dict[str, Any] = raw_device if isinstance(raw_device, dict) else {}
        dev_name = short_str(device.get("name"))
        own = short_str(conf.get("name"))
        friendly: str | None = own or dev_name
        if own and dev_name and not own.lower().startswith(dev_name.lower()):
            friendly = f"{dev_name} {own}"
        uid = short_str(conf.get("unique_id"))
        raw_obj = short_str(conf.get("default_entity_id")) or short_str(conf.get("object_id"))
        obj = raw_obj.split(".", 1)[-1] if raw_obj else None
        domain = self.config.naming.domain(component, friendly, dev_name, uid, obj)
        eid = entity_id(domain, obj or friendly or uid or "_".join(rest[1:-1]))
        if old is not None and old.entity_id.split(".", 1)[0] == domain and slug(eid) == slug(old.entity_id):
            eid = old.entity_id
        if self._ids.get(eid, key) != key:
            base_eid, n = eid, self._suffix.get(eid, 2)  # start past the suffixes taken: no rescan per config
            while self._ids.get(eid := f"{base_eid}_{n}", key) != key:
                n += 1
            if len(self._suffix) >= 4 * self.config.max_configs:
                self._suffix.clear()
            self._suffix[base_eid] = n + 1
        topics: dict[str, str] = {}
        for role, conf_key in ROLES.items():
            if (t := _learned_topic(conf.get(conf_key))) is not None:
                topics[role] = t
        avty = conf.get("availability")
        if (t := _learned_topic(conf.get("availability_topic"))) is not None:
            topics["availability:-1"] = t
        for i, a in enumerate(avty if isinstance(avty, list) else []):
            if (t := _learned_topic(a.get("topic"))) is not None:
                topics[f"availability:{i}"] = t
        out: list[EntityUpdate] = []
        if old is not None and old.entity_id != eid:
            out += self._drop(key)
        elif old is not None:
            self._unroute(key, old)
        kept = set(old.attr_keys) if old is not None and old.entity_id == eid else set()
        item = _Discovered(eid, component, conf, topics, kept, node)
        if key not in self._by_key:
            if node:
                self._per_node[node] = self._per_node.get(node, 0) + 1
            if "#" in key:
                self._components.setdefault(key.split("#", 1)[0], set()).add(key)
        self._by_key[key] = item
        self._ids[eid] = key
        for role, t in topics.items():
            self._route(t, key, role)
        attrs = clean_attributes({k: conf[k] for k in ("device_class", "unit_of_measurement") if conf.get(k)})
        item.attr_keys |= set(attrs)
        area = self.config.naming.area(friendly, dev_name, uid, eid.split(".", 1)[1])
        if area is None:
            area = short_str(device.get("suggested_area"))
        out.append(EntityUpdate(entity_id=eid, name=friendly or eid.split(".", 1)[1].replace("_", " "),
                                area=area_ok(area), attributes=attrs or None, source=self.name))
        return out

    def _unroute(self, key: str, item: _Discovered) -> None:
        for t in set(item.topics.values()):
            left = [r for r in self._routes.get(t, []) if r[0] != key]
            if left:
                self._routes[t] = left
            elif self._routes.pop(t, None) is not None:
                if t in self._added:
                    self._added.discard(t)
                else:
                    self._removed.add(t)

    def _drop(self, key: str) -> list[EntityUpdate]:
        item = self._by_key.pop(key, None)
        if item is None:
            return []
        self._unroute(key, item)
        if "#" in key:
            parent = key.split("#", 1)[0]
            siblings = self._components.get(parent)
            if siblings is not None:
                siblings.discard(key)
                if not siblings:
                    del self._components[parent]
        if item.node:
            left = self._per_node.get(item.node, 1) - 1
            if left > 0:
                self._per_node[item.node] = left
            else:
                self._per_node.pop(item.node, None)
        if self._ids.get(item.entity_id) == key:
            del self._ids[item.entity_id]
        return [EntityUpdate(entity_id=item.entity_id, remove=True, source=self.name)]

    # -- state topics -------------------------------------------------------------------------

    def _state(self, topic: str, payload: bytes) -> list[EntityUpdate]:
        text = decode_text(payload, self.config.max_payload_bytes)
        out: list[EntityUpdate] = []
        error: AdapterError | None = None
        for key, role in self._routes.get(topic, []):
            item = self._by_key.get(key)
            if item is None:
                continue
            try:
                update = self._read(item, role, text)
            except AdapterError as exc:
                error = error or exc
                continue
            if update is not None:
                out.append(update)
        if not out and error is not None:
            raise error
        return out

    def _read(self, item: _Discovered, role: str, text: str) -> EntityUpdate | None:
        conf, eid, limit = item.conf, item.entity_id, self.config.max_payload_bytes
        if role.startswith("availability:"):
            index = int(role.split(":", 1)[1])
            avty = conf.get("availability")
            spec = avty[index] if index >= 0 and isinstance(avty, list) and index < len(avty) else conf
            tpl = spec.get("value_template") if index >= 0 else conf.get("availability_template")
            value = as_text(read_value(text, (tpl,), limit)) if text.strip() else ""
            if value == as_text(spec.get("payload_available", "online")):
                return EntityUpdate(entity_id=eid, available=True, source=self.name)
            if value == as_text(spec.get("payload_not_available", "offline")):
                return EntityUpdate(entity_id=eid, available=False, source=self.name)
            raise AdapterError("availability payload matches neither payload_available nor payload_not_available")
        templates = tuple(conf.get(k) for k in TEMPLATES[role])
        if role == "json_attributes":
            has_path = any(template_path(t) is not None for t in templates)
            data = read_value(text, templates, limit) if has_path else parse_json(text.encode(), limit)
            if not isinstance(data, dict):
                raise AdapterError("JSON attributes must be an object")
            attrs = clean_attributes({k: v for k, v in data.items() if k not in RESERVED})
            for key in list(attrs):
                if key not in item.attr_keys:
                    if len(item.attr_keys) >= MAX_KEYS:
                        del attrs[key]
                    else:
                        item.attr_keys.add(key)
            return EntityUpdate(entity_id=eid, attributes=attrs, source=self.name) if attrs else None
        if role == "state" and item.component == "light" and conf.get("schema") == "json":
            return self._json_light(item, text)
        value = read_value(text, templates, limit)
        if value is None or isinstance(value, dict | list):
            return None
        if role in ("state", "mode_state"):
            state = _state_text(item.component, conf, value) if role == "state" else short_str(as_text(value))
            if state and role == "mode_state":
                state = state.lower()
            return EntityUpdate(entity_id=eid, state=state, source=self.name) if state else None
        num = number_text(value) if isinstance(value, str) else number(value)
        if num is None:
            return None
        attrs = {}
        if role == "brightness_state":
            scale = number(conf.get("brightness_scale")) or 255
            if (pct := percent(num, float(scale))) is not None:
                attrs["brightness"] = pct
        elif role == "position":
            top = number(conf.get("position_open"))
            pos = percent(num, float(top)) if top else max(0, min(100, round(num)))
            if pos is not None:
                attrs["position"] = pos
        else:
            attrs[role.replace("_state", "")] = num
        return EntityUpdate(entity_id=eid, attributes=attrs, source=self.name) if attrs else None

    def _json_light(self, item: _Discovered, text: str) -> EntityUpdate | None:
        data = json_object(text.encode(), self.config.max_payload_bytes)
        raw = data.get("state")
        state = raw.lower() if isinstance(raw, str) and raw.upper() in ("ON", "OFF") else None
        attrs: dict[str, Any] = {}
        scale = number(item.conf.get("brightness_scale")) or 255
        if (pct := percent(data.get("brightness"), float(scale))) is not None:
            attrs["brightness"] = pct
        if (ct := number(data.get("color_temp"))) is not None:
            attrs["color_temp"] = ct
        if isinstance(data.get("color"), dict):
            attrs["color"] = clean_attributes(data["color"])
        if state is None and not attrs:
            return None
        return EntityUpdate(entity_id=item.entity_id, state=state, attributes=attrs or None, source=self.name)


_STATE_KEYS = {
    "cover": ("state_open", "open", "state_opening", "opening", "state_closed", "closed",
              "state_closing", "closing", "state_stopped", "stopped"),
    "lock": ("state_locked", "LOCKED", "state_unlocked", "UNLOCKED", "state_locking", "LOCKING",
             "state_unlocking", "UNLOCKING", "state_jammed", "JAMMED"),
    "valve": ("state_open", "open", "state_opening", "opening", "state_closed", "closed",
              "state_closing", "closing"),
}
_ON_OFF = frozenset({"switch", "light", "fan", "binary_sensor", "siren", "humidifier"})


def _state_text(component: str, conf: Mapping[str, Any], value: Any) -> str | None:
    """HA's state string for a payload value, by the component's payload settings."""
    text = as_text(value)
    if component in _ON_OFF:
        on = {as_text(conf.get(k)) for k in ("state_on", "payload_on") if conf.get(k) is not None} or {"ON"}
        off = {as_text(conf.get(k)) for k in ("state_off", "payload_off") if conf.get(k) is not None} or {"OFF"}
        if text in on:
            return "on"
        if text in off:
            return "off"
        return text.lower() if text.lower() in ("on", "off") else None
    table = _STATE_KEYS.get(component)
    if table:
        pairs = dict(zip(table[::2], table[1::2], strict=True))
        for conf_key, default in pairs.items():
            if text == as_text(conf.get(conf_key, default)):
                return conf_key.removeprefix("state_")
        return None
    return short_str(text)
