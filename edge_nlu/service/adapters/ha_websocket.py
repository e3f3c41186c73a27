"""Home Assistant's WebSocket API as typed values: the pure half of live state from HA itself.

Server messages (auth, results, events) are read into typed values; the registries (floors, areas,
devices, entities), the entities' aliases (`get_entries`) and `get_states` are read into records;
`HaMirror` keeps what HA said and turns it into `EntityUpdate`s and the home's floors and areas, so
that a registry change re-derives exactly the entities it moves. No I/O: the transport is `edge_nlu.service.ha_client`.

HA is the whole truth about the entities it reports, so every update it produces is a full picture
(`replace=True`): attributes HA dropped (a light's brightness when it turns off) and areas it cleared
are gone here too. Anything malformed is a `HaMessageError` or a skipped record, never a crash.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from edge_nlu.domain.home import Area, Floor
from edge_nlu.domain.live_home import EntityUpdate
from edge_nlu.service.adapters._common import clean_attributes, parse_json, percent, short_str
from edge_nlu.service.adapters.base import AdapterError

SOURCE = "home_assistant"
"""Adapter name of the updates (LiveHome counters, the service's census)."""

GET_STATES = "get_states"
SUBSCRIBE_EVENTS = "subscribe_events"
STATE_CHANGED = "state_changed"

REGISTRIES: dict[str, tuple[str, str]] = {
    "floor": ("config/floor_registry/list", "floor_registry_updated"),
    "area": ("config/area_registry/list", "area_registry_updated"),
    "device": ("config/device_registry/list", "device_registry_updated"),
    "entity": ("config/entity_registry/list", "entity_registry_updated"),
}
"""Registry -> (the command that lists it, the event HA fires when it changes)."""
GET_ENTRIES = "config/entity_registry/get_entries"
"""The entity registry's full entries (aliases among them) for a list of entity ids; `list` leaves aliases out.
HA answers `unknown_command` where it does not have it."""
ENTRIES_PER_COMMAND = 500
"""Entity ids asked for in one `get_entries` command (a big home takes a few, sent together)."""
REGISTRY_OF_EVENT = {event: kind for kind, (_, event) in REGISTRIES.items()}
"""Registry update event -> the registry to fetch again."""
EVENT_TYPES = (STATE_CHANGED, *REGISTRY_OF_EVENT)
"""Events the client subscribes to."""
MAX_LIST = 100_000
"""Records read from one list at most (a home's registries are thousands, not millions)."""


class HaMessageError(AdapterError):
    """A message or record outside HA's documented WebSocket shapes."""


# -- server messages ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuthRequired:
    """First message of a connection: HA wants the token."""

    ha_version: str | None = None
    """HA's version, e.g. `2024.3.3`."""

    def to_dict(self) -> dict[str, Any]:
        return {"type": "auth_required", "ha_version": self.ha_version}


@dataclass(frozen=True)
class AuthOk:
    """The token was accepted; the command phase begins."""

    ha_version: str | None = None
    """HA's version."""

    def to_dict(self) -> dict[str, Any]:
        return {"type": "auth_ok", "ha_version": self.ha_version}


@dataclass(frozen=True)
class AuthInvalid:
    """The token was refused; HA closes the connection."""

    message: str = ""
    """HA's reason (shown only after the token is cut out of it)."""

    def to_dict(self) -> dict[str, Any]:
        return {"type": "auth_invalid", "message": self.message}


@dataclass(frozen=True)
class Result:
    """The answer to one command."""

    id: int
    """The command's id."""
    success: bool
    """Whether the command succeeded."""
    result: Any = None
    """What it returned (a list for states and registries, None for a subscription)."""
    error_code: str | None = None
    """HA's error code when it failed (`unknown_command` on an HA without floors)."""
    error_message: str | None = None
    """HA's error message when it failed."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "type": "result", "success": self.success}
        if self.success:
            out["result"] = self.result
        else:
            out["error"] = {"code": self.error_code, "message": self.error_message}
        return out


@dataclass(frozen=True)
class Event:
    """An event on a subscription."""

    id: int
    """The subscription's id (the `subscribe_events` command's)."""
    event_type: str
    """`state_changed`, `area_registry_updated`, ..."""
    data: dict[str, Any] = field(default_factory=dict)
    """The event's data."""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": "event", "event": {"event_type": self.event_type, "data": self.data}}


@dataclass(frozen=True)
class Pong:
    """The answer to a `ping` command."""

    id: int
    """The ping's id."""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": "pong"}


ServerMessage = AuthRequired | AuthOk | AuthInvalid | Result | Event | Pong


def _id(d: Mapping[str, Any]) -> int:
    value = d.get("id")
    if isinstance(value, bool) or not isinstance(value, int):
        raise HaMessageError(f"a {d.get('type')!r} message without an integer id")
    return value


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def message_from_dict(d: Any) -> ServerMessage:
    """One decoded server message as a typed value; HaMessageError for any other shape."""
    if not isinstance(d, dict):
        raise HaMessageError(f"expected a JSON object, got {type(d).__name__}")
    kind = d.get("type")
    if kind == "auth_required":
        return AuthRequired(_opt_str(d.get("ha_version")))
    if kind == "auth_ok":
        return AuthOk(_opt_str(d.get("ha_version")))
    if kind == "auth_invalid":
        return AuthInvalid(str(d.get("message") or "")[:300])
    if kind == "result":
        mid, success = _id(d), d.get("success")
        if not isinstance(success, bool):
            raise HaMessageError(f"result {mid}: 'success' is not true or false")
        if success:
            return Result(mid, True, d.get("result"))
        err = d.get("error")
        err = err if isinstance(err, dict) else {}
        return Result(mid, False, None, _opt_str(err.get("code")), _opt_str(err.get("message")))
    if kind == "event":
        mid, event = _id(d), d.get("event")
        if not isinstance(event, dict) or not isinstance(event.get("event_type"), str):
            raise HaMessageError(f"event on subscription {mid} has no event_type")
        data = event.get("data")
        if not isinstance(data, dict):
            raise HaMessageError(f"{event['event_type']} event on subscription {mid} has no data object")
        return Event(mid, event["event_type"], data)
    if kind == "pong":
        return Pong(_id(d))
    raise HaMessageError(f"unknown message type {str(kind)[:40]!r}")


def decode(text: str | bytes, limit: int) -> list[ServerMessage]:
    """A frame as messages: one object, or a list of them (HA's coalesced messages). A bad message in
    a list is left out; HaMessageError when the frame holds none that can be read."""
    payload = text.encode() if isinstance(text, str) else bytes(text)
    try:
        data = parse_json(payload, limit)
    except HaMessageError:
        raise
    except AdapterError as exc:
        raise HaMessageError(exc.message) from None
    if not isinstance(data, list):
        return [message_from_dict(data)]
    out: list[ServerMessage] = []
    for item in data:
        try:
            out.append(message_from_dict(item))
        except HaMessageError:
            continue
    if data and not out:
        raise HaMessageError("a list of messages none of which can be read")
    return out


# -- client messages ------------------------------------------------------------------------------


def auth_message(token: str) -> dict[str, Any]:
    """The `auth` message. It carries the token: never log it."""
    return {"type": "auth", "access_token": token}


def command(msg_id: int, kind: str, **fields: Any) -> dict[str, Any]:
    """A command-phase message: `{"id": msg_id, "type": kind, **fields}`."""
    return {"id": msg_id, "type": kind, **fields}


def encode(message: Mapping[str, Any]) -> str:
    """A message as the JSON text HA reads."""
    return json.dumps(message, separators=(",", ":"), allow_nan=False)


# -- registry and state records -------------------------------------------------------------------


def _req(d: Any, key: str, what: str) -> str:
    if not isinstance(d, dict):
        raise HaMessageError(f"{what} is not an object")
    value = short_str(d.get(key))
    if value is None:
        raise HaMessageError(f"{what} without a usable {key!r}")
    return value


def _aliases(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(a for a in (short_str(v) for v in value[:32]) if a)


@dataclass(frozen=True)
class HaFloor:
    """A floor of HA's floor registry (HA 2024.4 and later)."""

    floor_id: str
    """Stable id."""
    name: str
    """What people call it."""
    level: int | None = None
    """Storey number, when set."""
    aliases: tuple[str, ...] = ()
    """Other names."""

    @classmethod
    def from_dict(cls, d: Any) -> HaFloor:
        fid = _req(d, "floor_id", "floor")
        level = d.get("level")
        return cls(fid, short_str(d.get("name")) or fid,
                   level if isinstance(level, int) and not isinstance(level, bool) else None,
                   _aliases(d.get("aliases")))

    def to_dict(self) -> dict[str, Any]:
        return {"floor_id": self.floor_id, "name": self.name, "level": self.level, "aliases": list(self.aliases)}

    def floor(self) -> Floor:
        return Floor(id=self.floor_id, name=self.name)


@dataclass(frozen=True)
class HaArea:
    """An area of HA's area registry."""

    area_id: str
    """Stable id (HA makes it from the first name: `living_room`)."""
    name: str
    """What people call it."""
    floor_id: str | None = None
    """The floor it is on."""
    aliases: tuple[str, ...] = ()
    """Other names people use for it."""

    @classmethod
    def from_dict(cls, d: Any) -> HaArea:
        aid = _req(d, "area_id", "area")
        return cls(aid, short_str(d.get("name")) or aid, short_str(d.get("floor_id")), _aliases(d.get("aliases")))

    def to_dict(self) -> dict[str, Any]:
        return {"area_id": self.area_id, "name": self.name, "floor_id": self.floor_id, "aliases": list(self.aliases)}

    def area(self) -> Area:
        return Area(id=self.area_id, name=self.name, floor=self.floor_id, aliases=self.aliases)


@dataclass(frozen=True)
class HaDevice:
    """A device of HA's device registry (a satellite is one too)."""

    id: str
    """Device id, as HA's Wyoming integration sends it (`device_id`)."""
    name: str | None = None
    """The integration's name for it."""
    name_by_user: str | None = None
    """The name the user gave it; wins."""
    area_id: str | None = None
    """The area it is in."""

    @classmethod
    def from_dict(cls, d: Any) -> HaDevice:
        return cls(_req(d, "id", "device"), short_str(d.get("name")), short_str(d.get("name_by_user")),
                   short_str(d.get("area_id")))

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "name_by_user": self.name_by_user, "area_id": self.area_id}

    @property
    def display_name(self) -> str | None:
        return self.name_by_user or self.name


@dataclass(frozen=True)
class HaEntityEntry:
    """An entry of HA's entity registry (`config/entity_registry/list`)."""

    entity_id: str
    """`<domain>.<object_id>`."""
    name: str | None = None
    """The name the user gave it."""
    original_name: str | None = None
    """The integration's name; with `has_entity_name` only the part after the device's name."""
    has_entity_name: bool = False
    """The entity's full name is its device's name followed by its own."""
    area_id: str | None = None
    """Its own area; None means its device's."""
    device_id: str | None = None
    """The device it belongs to."""

    @classmethod
    def from_dict(cls, d: Any) -> HaEntityEntry:
        eid = _req(d, "entity_id", "entity registry entry")
        if "." not in eid:
            raise HaMessageError(f"entity id {eid!r} is not '<domain>.<object_id>'")
        return cls(eid, short_str(d.get("name")), short_str(d.get("original_name")), d.get("has_entity_name") is True,
                   short_str(d.get("area_id")), short_str(d.get("device_id")))

    def to_dict(self) -> dict[str, Any]:
        return {"entity_id": self.entity_id, "name": self.name, "original_name": self.original_name,
                "has_entity_name": self.has_entity_name, "area_id": self.area_id, "device_id": self.device_id}


@dataclass(frozen=True)
class HaState:
    """One state object (`get_states`, `state_changed`'s `new_state`), attributes within the caps."""

    entity_id: str
    """`<domain>.<object_id>`."""
    state: str
    """State string (`on`, `21.5`, `unavailable`)."""
    attributes: dict[str, Any] = field(default_factory=dict)
    """Attributes as HA reports them (friendly_name, brightness 0-255, device_class, ...)."""

    @classmethod
    def from_dict(cls, d: Any) -> HaState:
        eid = _req(d, "entity_id", "state")
        if "." not in eid:
            raise HaMessageError(f"entity id {eid!r} is not '<domain>.<object_id>'")
        state = d.get("state")
        if not isinstance(state, str) or len(state) > 255:
            raise HaMessageError(f"state of {eid} is not a string of at most 255 characters")
        attrs = d.get("attributes")
        return cls(eid, state, clean_attributes(attrs) if isinstance(attrs, dict) else {})

    def to_dict(self) -> dict[str, Any]:
        return {"entity_id": self.entity_id, "state": self.state, "attributes": dict(self.attributes)}

    @property
    def friendly_name(self) -> str | None:
        return short_str(self.attributes.get("friendly_name"))


def read_entry_aliases(result: Any) -> dict[str, tuple[str, ...]]:
    """Entity id -> aliases from a `get_entries` result (`{entity_id: entry or null}`); an id HA does not
    know, or an entry without aliases, has none. HaMessageError when the result is not an object."""
    if not isinstance(result, dict):
        raise HaMessageError("a get_entries result that is not an object")
    out: dict[str, tuple[str, ...]] = {}
    for eid, entry in list(result.items())[:MAX_LIST]:
        if isinstance(eid, str) and "." in eid:
            out[eid] = _aliases(entry.get("aliases")) if isinstance(entry, dict) else ()
    return out


R = TypeVar("R", HaFloor, HaArea, HaDevice, HaEntityEntry, HaState)

RECORDS: dict[str, type[HaFloor] | type[HaArea] | type[HaDevice] | type[HaEntityEntry]] = {
    "floor": HaFloor, "area": HaArea, "device": HaDevice, "entity": HaEntityEntry}
"""Registry -> the record its list holds."""


def read_list(cls: type[R], result: Any) -> tuple[list[R], int]:
    """(records read, records skipped) from a list result; HaMessageError when it is not a list."""
    if not isinstance(result, list):
        raise HaMessageError(f"a {cls.__name__} list that is not a list")
    out: list[R] = []
    skipped = max(0, len(result) - MAX_LIST)
    for item in result[:MAX_LIST]:
        try:
            out.append(cls.from_dict(item))
        except HaMessageError:
            skipped += 1
    return out, skipped


def home_attributes(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """HA's attributes in the home model's scales: brightness 0-255 as a percent, a cover's
    `current_position` also as `position` (what the resolver and the answers read)."""
    out = dict(attrs)
    if "brightness" in out:
        pct = percent(out["brightness"], 255)
        if pct is None:
            del out["brightness"]
        else:
            out["brightness"] = pct
    if "position" not in out and isinstance(out.get("current_position"), int | float):
        out["position"] = out["current_position"]
    return out


# -- the mirror -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """Floors and areas to define in the live home, and those to drop (gone from HA's registries)."""

    floors: list[Floor]
    """Every floor HA has."""
    areas: list[Area]
    """Every area HA has."""
    drop_floors: list[str]
    """Ids of floors sent before that HA no longer has."""
    drop_areas: list[str]
    """Ids of areas sent before that HA no longer has."""


@dataclass(frozen=True)
class Change:
    """What one step (a sync, a registry fetched again, an event) changes in the live home."""

    updates: list[EntityUpdate]
    """Entity updates, in order."""
    layout: Layout | None = None
    """New floors and areas, applied before the updates; None: unchanged."""


class HaMirror:
    """What HA last said (states and registries), and the updates that keep a live home in step with it.

    Not thread-safe: one connection's task drives it; readers of `device_area` from other threads
    see whole dicts, each replaced in one assignment."""

    def __init__(self, area_from_device: bool = True, source: str = SOURCE) -> None:
        self.area_from_device = area_from_device
        self.source = source
        self.states: dict[str, HaState] = {}
        self.floors: dict[str, HaFloor] = {}
        self.areas: dict[str, HaArea] = {}
        self.devices: dict[str, HaDevice] = {}
        self.entries: dict[str, HaEntityEntry] = {}
        self.aliases: dict[str, tuple[str, ...]] | None = None
        """Entity id -> aliases from `get_entries`; None until HA has given any (an HA without the command
        never does): the updates then leave the entities' aliases as they are."""
        self._sent: dict[str, tuple[str, str | None, tuple[str, ...] | None]] = {}
        """Entity id -> (name, area, aliases) last sent: a registry change re-sends only the entities it moved."""
        self._sent_floors: set[str] = set()
        self._sent_areas: set[str] = set()

    # derived values

    def device_area(self, device_id: str) -> str | None:
        """The area of a device (a satellite's), from the device registry."""
        device = self.devices.get(device_id)
        return device.area_id if device is not None else None

    def entity_area(self, entity_id: str) -> str | None:
        """The registry's area of the entity, else (with `area_from_device`) its device's."""
        entry = self.entries.get(entity_id)
        if entry is None:
            return None
        if entry.area_id:
            return entry.area_id
        if self.area_from_device and entry.device_id:
            return self.device_area(entry.device_id)
        return None

    def entity_name(self, entity_id: str) -> str:
        """HA's friendly_name (it already applies the registry name and the device name); else the
        registry's name, else the integration's (after the device's name where HA composes them);
        else the object id."""
        state = self.states.get(entity_id)
        if state is not None and state.friendly_name:
            return state.friendly_name
        entry = self.entries.get(entity_id)
        if entry is not None:
            own = entry.name or entry.original_name
            device = self.devices.get(entry.device_id) if entry.device_id else None
            prefix = device.display_name if device is not None and entry.has_entity_name else None
            if prefix and own:
                return f"{prefix} {own}"
            if prefix or own:
                return str(prefix or own)
        return entity_id.split(".", 1)[1].replace("_", " ")

    def entity_aliases(self, entity_id: str) -> tuple[str, ...] | None:
        """The entity's aliases in HA's entity registry; None when HA has not given aliases at all."""
        return None if self.aliases is None else self.aliases.get(entity_id, ())

    def _picture(self, entity_id: str) -> tuple[str, str | None, tuple[str, ...] | None]:
        return self.entity_name(entity_id), self.entity_area(entity_id), self.entity_aliases(entity_id)

    def _update(self, entity_id: str) -> EntityUpdate:
        state = self.states[entity_id]
        name, area, aliases = self._sent[entity_id] = self._picture(entity_id)
        return EntityUpdate(entity_id=entity_id, name=name, area=area, state=state.state, aliases=aliases,
                            attributes=home_attributes(state.attributes), replace=True, source=self.source)

    def layout(self) -> Layout:
        """The floors and areas HA has now; what was sent before and is gone is dropped."""
        floors = [f.floor() for f in self.floors.values()]
        areas = [a.area() for a in self.areas.values()]
        out = Layout(floors, areas, sorted(self._sent_floors - self.floors.keys()),
                     sorted(self._sent_areas - self.areas.keys()))
        self._sent_floors, self._sent_areas = set(self.floors), set(self.areas)
        return out

    # steps

    def resync(self, states: Iterable[HaState], registries: Mapping[str, Iterable[Any]],
               aliases: Mapping[str, tuple[str, ...]] | None = None) -> Change:
        """A full picture after (re)connecting: every entity sent again, those HA no longer has removed.
        `aliases`: every entity's (from `get_entries`), or None when HA could not give them."""
        for kind, records in registries.items():
            self._store(kind, records)
        if aliases is not None:
            self.aliases = dict(aliases)
        self.states = {s.entity_id: s for s in states}
        gone = [eid for eid in self._sent if eid not in self.states]
        updates = [EntityUpdate(entity_id=eid, remove=True, source=self.source) for eid in gone]
        for eid in gone:
            del self._sent[eid]
        updates += [self._update(eid) for eid in self.states]
        return Change(updates, self.layout())

    def registry(self, kind: str, records: Iterable[Any]) -> Change:
        """One registry fetched again: the entities whose name or area it changed, and the new layout."""
        self._store(kind, records)
        updates = [self._update(eid) for eid in self.states if self._sent.get(eid) != self._picture(eid)]
        return Change(updates, self.layout() if kind in ("floor", "area") else None)

    def set_aliases(self, aliases: Mapping[str, tuple[str, ...]]) -> Change:
        """Aliases fetched again for some entities (after `entity_registry_updated`): those whose aliases
        changed are sent again."""
        self.aliases = {**(self.aliases or {}), **{eid: a for eid, a in aliases.items() if eid in self.entries}}
        return Change([self._update(eid) for eid in aliases
                       if eid in self.states and self._sent.get(eid) != self._picture(eid)])

    def state_changed(self, data: Mapping[str, Any]) -> Change:
        """A `state_changed` event's data: the entity's new picture, or its removal (`new_state` null)."""
        eid = data.get("entity_id")
        if not isinstance(eid, str):
            raise HaMessageError("state_changed without an entity_id")
        new = data.get("new_state")
        if new is None:
            self.states.pop(eid, None)
            if self._sent.pop(eid, None) is None:
                return Change([])
            return Change([EntityUpdate(entity_id=eid, remove=True, source=self.source)])
        state = HaState.from_dict(new)
        if state.entity_id != eid:
            raise HaMessageError(f"state_changed for {eid} carries the state of {state.entity_id}")
        self.states[eid] = state
        return Change([self._update(eid)])

    def _store(self, kind: str, records: Iterable[Any]) -> None:
        if kind == "floor":
            self.floors = {r.floor_id: r for r in records}
        elif kind == "area":
            self.areas = {r.area_id: r for r in records}
        elif kind == "device":
            self.devices = {r.id: r for r in records}
        elif kind == "entity":
            self.entries = {r.entity_id: r for r in records}
            if self.aliases is not None:  # an entity gone from the registry takes its aliases along
                self.aliases = {eid: a for eid, a in self.aliases.items() if eid in self.entries}
        else:
            raise ValueError(f"unknown registry {kind!r}")
