"""The home model: floors, areas and entities, in the shape of Home Assistant's intent fixtures.

Adapters (files today, MQTT later) all produce this one model, so resolution never
cares where the state came from.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from edge_nlu.errors import EdgeNLUError, ErrorCode, HomeError, InvalidInputError
from edge_nlu.sanitize import clean

MAX_HOME_BYTES = 64 << 20
"""Largest home file read: a home of 5000 entities is a few MiB."""

_NORM_RE = re.compile(r"[^a-z0-9]+")


@lru_cache(maxsize=8192)
def norm(text: str) -> str:
    """Compare names the way people say them: case, punctuation and `_` do not matter.

    Cached: resolution normalises the same entity names on every request."""
    return _NORM_RE.sub(" ", text.lower().replace("'", "")).strip()


def _req_str(d: dict[str, Any], key: str, what: str) -> str:
    value = d.get(key)
    if not isinstance(value, str) or not value.strip():
        raise HomeError(f"{what}: '{key}' must be a non-empty string, got {value!r}")
    return value


@dataclass(frozen=True)
class Floor:
    """A floor of the home."""

    id: str
    """Stable id, e.g. `ground_floor`."""
    name: str
    """What people call it, e.g. `Ground Floor`."""

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Floor:
        if not isinstance(d, dict):
            raise HomeError(f"floor must be an object, got {d!r}")
        fid = _req_str(d, "id", "floor")
        return cls(id=fid, name=str(d.get("name") or fid))

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name}


@dataclass(frozen=True)
class Area:
    """A room or zone; satellites live in one."""

    id: str
    """Stable id, e.g. `kitchen`."""
    name: str
    """What people call it."""
    floor: str | None = None
    """Id of the floor it is on."""
    aliases: tuple[str, ...] = ()
    """Other names people use for it."""

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Area:
        if not isinstance(d, dict):
            raise HomeError(f"area must be an object, got {d!r}")
        aid = _req_str(d, "id", "area")
        floor = d.get("floor")
        aliases = d.get("aliases") or []
        if not isinstance(aliases, list):
            raise HomeError(f"area {aid}: aliases must be a list")
        return cls(
            id=aid,
            name=str(d.get("name") or aid),
            floor=str(floor) if floor else None,
            aliases=tuple(str(a) for a in aliases),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "name": self.name}
        if self.floor:
            out["floor"] = self.floor
        if self.aliases:
            out["aliases"] = list(self.aliases)
        return out


@dataclass
class Entity:
    """One Home Assistant entity with its live state."""

    id: str
    """`<domain>.<object_id>`."""
    name: str
    """Friendly name, what people say."""
    area: str | None = None
    """Area id, if it has one."""
    state: str = "unknown"
    """State as a string, as Home Assistant keeps it."""
    aliases: list[str] = field(default_factory=list)
    """Extra names people use."""
    attributes: dict[str, Any] = field(default_factory=dict)
    """Attributes such as brightness, device_class, current_temperature."""

    @property
    def domain(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def device_class(self) -> str | None:
        dc = self.attributes.get("device_class")
        return str(dc) if dc else None

    def names(self) -> list[str]:
        return [self.name, *self.aliases]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Entity:
        if not isinstance(d, dict):
            raise HomeError(f"entity must be an object, got {d!r}")
        eid = _req_str(d, "id", "entity")
        if "." not in eid:
            raise HomeError(f"entity id {eid!r} must be '<domain>.<object_id>'")
        attrs = d.get("attributes") or {}
        if not isinstance(attrs, dict):
            raise HomeError(f"entity {eid}: attributes must be an object")
        aliases = d.get("aliases") or []
        if not isinstance(aliases, list):
            raise HomeError(f"entity {eid}: aliases must be a list")
        area = d.get("area")
        state = d.get("state")
        return cls(
            id=eid,
            name=str(d.get("name") or eid.split(".", 1)[1].replace("_", " ")),
            area=str(area) if area else None,
            state="unknown" if state is None else str(state),
            aliases=[str(a) for a in aliases],
            attributes=dict(attrs),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "name": self.name}
        if self.area:
            out["area"] = self.area
        out["state"] = self.state
        if self.aliases:
            out["aliases"] = list(self.aliases)
        if self.attributes:
            out["attributes"] = dict(self.attributes)
        return out


@dataclass
class Home:
    """Floors, areas and entities; the live picture resolution works on."""

    floors: list[Floor] = field(default_factory=list)
    """All floors."""
    areas: list[Area] = field(default_factory=list)
    """All areas."""
    entities: list[Entity] = field(default_factory=list)
    """All entities, in snapshot order."""

    def __post_init__(self) -> None:
        self._by_id = {e.id: e for e in self.entities}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Home:
        if not isinstance(d, dict):
            raise HomeError("a home snapshot must be an object with floors, areas and entities")
        for key in ("floors", "areas", "entities"):
            if d.get(key) is not None and not isinstance(d.get(key), list):
                raise HomeError(f"home: '{key}' must be a list")
        home = cls(
            floors=[Floor.from_dict(f) for f in d.get("floors") or []],
            areas=[Area.from_dict(a) for a in d.get("areas") or []],
            entities=[Entity.from_dict(e) for e in d.get("entities") or []],
        )
        seen: set[str] = set()
        for e in home.entities:
            if e.id in seen:
                raise HomeError(f"home: entity id {e.id!r} appears twice")
            seen.add(e.id)
        return home

    def to_dict(self) -> dict[str, Any]:
        return {
            "floors": [f.to_dict() for f in self.floors],
            "areas": [a.to_dict() for a in self.areas],
            "entities": [e.to_dict() for e in self.entities],
        }

    @classmethod
    def load(cls, path: str | Path) -> Home:
        """Read a snapshot file; JSON or YAML, decided by content so any extension works."""
        p = Path(path)
        try:
            with p.open("rb") as f:
                raw = f.read(MAX_HOME_BYTES + 1)
        except OSError as exc:
            raise HomeError(f"cannot read home file {p}: {exc.strerror or exc}") from exc
        if len(raw) > MAX_HOME_BYTES:
            raise HomeError(f"home file {p} is over {MAX_HOME_BYTES >> 20} MiB")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise HomeError(f"home file {p} is not UTF-8 text") from exc
        return cls.parse(text, source=str(p))

    @classmethod
    def parse(cls, text: str, source: str = "home") -> Home:
        """A home from JSON or YAML text; HomeError for anything else, however hostile.

        Strings are cleaned (no lone surrogates), and nesting, self-references and YAML alias
        bombs are refused before anything walks the data."""
        try:
            data = json.loads(text)
        except RecursionError:
            raise HomeError(f"{source} is nested too deeply") from None
        except ValueError:
            try:
                data = yaml.safe_load(text)
            except RecursionError:
                raise HomeError(f"{source} is nested too deeply") from None
            except Exception as exc:  # noqa: BLE001 - PyYAML's constructors raise anything on bad tags and dates
                raise HomeError(f"{source} is neither valid JSON nor valid YAML: {exc}") from exc
        try:
            data = clean(data)
        except EdgeNLUError as exc:
            raise HomeError(f"{source}: {exc.message}") from None
        if data is None:
            data = {}
        return cls.from_dict(data)

    # -- look-ups -----------------------------------------------------------------------------

    def entity(self, entity_id: str) -> Entity | None:
        return self._by_id.get(entity_id)

    def area(self, ref: str | None) -> Area | None:
        """An area by id, name or alias, however it is cased or punctuated."""
        if not ref:
            return None
        key = norm(ref)
        for a in self.areas:
            if key in (norm(a.id), norm(a.name), *(norm(x) for x in a.aliases)):
                return a
        return None

    def floor(self, ref: str | None) -> Floor | None:
        if not ref:
            return None
        key = norm(ref)
        for f in self.floors:
            if key in (norm(f.id), norm(f.name)):
                return f
        return None

    def floor_of(self, area_id: str | None) -> Floor | None:
        area = self.area(area_id)
        if area is None or area.floor is None:
            return None
        return self.floor(area.floor)

    def in_area(self, area_id: str) -> list[Entity]:
        return [e for e in self.entities if e.area == area_id]

    def with_overrides(self, overrides: dict[str, dict[str, Any]]) -> Home:
        """A copy with per-request state changes; the shared home is never touched."""
        if not overrides:
            return self
        entities = list(self.entities)
        index = {e.id: i for i, e in enumerate(entities)}
        for eid, change in overrides.items():
            if eid not in index:
                raise InvalidInputError(
                    f"state_overrides names {eid!r}, which is not in the home", code=ErrorCode.UNKNOWN_ENTITY
                )
            if not isinstance(change, dict):
                raise InvalidInputError(f"state_overrides[{eid!r}] must be an object")
            old = entities[index[eid]]
            attrs = copy.deepcopy(old.attributes)
            new_attrs = change.get("attributes") or {}
            if not isinstance(new_attrs, dict):
                raise InvalidInputError(f"state_overrides[{eid!r}].attributes must be an object")
            attrs.update(new_attrs)
            state = change.get("state", old.state)
            entities[index[eid]] = Entity(
                id=old.id,
                name=old.name,
                area=old.area,
                state=str(state),
                aliases=list(old.aliases),
                attributes=attrs,
            )
        return Home(floors=self.floors, areas=self.areas, entities=entities)
