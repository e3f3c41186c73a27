"""The live home: adapters feed entity updates in, queries take consistent snapshots out.

Writers hold a short lock to mutate a dict; readers get an immutable `Home` that is rebuilt
only when something changed since the last snapshot. No lock is held during inference, so
queries are answered while state pours in.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from edge_nlu.domain.home import Area, Entity, Floor, Home

_SLUG = re.compile(r"[^a-z0-9]+")


def slug(text: str) -> str:
    return _SLUG.sub("_", text.lower()).strip("_") or "unnamed"


@dataclass(frozen=True)
class EntityUpdate:
    """One change to one entity, as an adapter understood a message. None means 'unchanged'."""

    entity_id: str
    """`<domain>.<object_id>`."""
    name: str | None = None
    """Friendly name, when the message carries one."""
    area: str | None = None
    """Area name or id, when the message or the config gives one."""
    state: str | None = None
    """New state string."""
    attributes: dict[str, Any] | None = None
    """Attributes to merge over the current ones."""
    available: bool | None = None
    """Availability (LWT / availability topics); an unavailable entity has state `unavailable`."""
    remove: bool = False
    """The device is gone (removed from the bridge's device list, empty retained config)."""
    replace: bool = False
    """The update is the entity's whole picture (a source that knows it all, such as Home Assistant's own
    state): its attributes replace the current ones and a None area clears the area."""
    source: str = ""
    """Adapter name, for counters and logs."""
    aliases: tuple[str, ...] | None = None
    """Other names people use for it (Home Assistant's entity aliases); None: unchanged."""


@dataclass
class IngestStats:
    """Counters the service reports."""

    applied: int = 0
    """Updates applied."""
    rejected: int = 0
    """Updates refused (cap on entities reached)."""
    per_source: dict[str, int] = field(default_factory=dict)
    """Updates applied per adapter."""


class LiveHome:
    """A home model that many adapter threads update and many queries read."""

    def __init__(self, base: Home | None = None, max_entities: int = 5000) -> None:
        base = base or Home()
        self._lock = threading.Lock()
        self._floors = {f.id: f for f in base.floors}
        self._areas = {a.id: a for a in base.areas}
        self._entities: dict[str, Entity] = {e.id: e for e in base.entities}
        self._sources: dict[str, str] = {}
        """Entity id -> adapter that last updated it (entities only the base home knows are absent)."""
        self._area_keys: dict[str, str] = {}
        """slug of an area's id or name -> area id: one lookup per update, however many areas."""
        for a in self._areas.values():
            self._index_area(a)
        self._version = 0
        self._snap_version = -1
        self._snap = base
        self.max_entities = max_entities
        self.stats = IngestStats()

    def apply(self, updates: Iterable[EntityUpdate]) -> int:
        """Apply updates; returns how many were applied."""
        n = 0
        with self._lock:
            for u in updates:
                if self._apply_one(u):
                    n += 1
                    self.stats.per_source[u.source] = self.stats.per_source.get(u.source, 0) + 1
                else:
                    self.stats.rejected += 1
            if n:
                self._version += 1
                self.stats.applied += n
        return n

    def _index_area(self, a: Area) -> None:
        for k in (slug(a.id), slug(a.name)):
            self._area_keys.setdefault(k, a.id)

    def _area_id(self, ref: str) -> str:
        key = slug(ref)
        found = self._area_keys.get(key)
        if found is not None:
            return found
        area = Area(id=key, name=ref.strip().replace("_", " ").title() if ref.islower() else ref)
        self._areas[key] = area
        self._index_area(area)
        return key

    def _apply_one(self, u: EntityUpdate) -> bool:
        if "." not in u.entity_id:
            return False
        if u.remove:
            self._sources.pop(u.entity_id, None)
            return self._entities.pop(u.entity_id, None) is not None
        old = self._entities.get(u.entity_id)
        if old is None:
            if len(self._entities) >= self.max_entities:
                return False
            old = Entity(id=u.entity_id, name=u.name or u.entity_id.split(".", 1)[1].replace("_", " "))
        attrs = {} if u.replace else dict(old.attributes)
        if u.attributes:
            attrs.update(u.attributes)
        state = old.state
        if u.state is not None:
            state = u.state
        if u.available is False:
            state = "unavailable"
        elif u.available is True and state == "unavailable":
            state = "unknown"
        if u.source:
            self._sources[u.entity_id] = u.source
        self._entities[u.entity_id] = Entity(
            id=u.entity_id,
            name=u.name or old.name,
            area=self._area_id(u.area) if u.area else (None if u.replace else old.area),
            state=state,
            aliases=list(old.aliases) if u.aliases is None else list(u.aliases),
            attributes=attrs,
        )
        return True

    def add_floor(self, floor: Floor) -> None:
        with self._lock:
            self._floors[floor.id] = floor
            self._version += 1

    def set_layout(self, floors: Iterable[Floor] = (), areas: Iterable[Area] = (),
                   drop_floors: Iterable[str] = (), drop_areas: Iterable[str] = ()) -> None:
        """Define floors and areas from a registry (Home Assistant's): each replaces the one with its id,
        and the ids in `drop_*` (gone from the registry) are removed. Entities are not touched: the
        registry's source sends their new areas as updates."""
        with self._lock:
            for fid in drop_floors:
                self._floors.pop(fid, None)
            for aid in drop_areas:
                self._areas.pop(aid, None)
            for f in floors:
                self._floors[f.id] = f
            for a in areas:
                self._areas[a.id] = a
            self._area_keys = {}
            for a in self._areas.values():
                self._index_area(a)
            self._version += 1

    def snapshot(self) -> Home:
        """A consistent, immutable-by-convention copy; cheap when nothing changed."""
        with self._lock:
            if self._snap_version != self._version:
                self._snap = Home(
                    floors=list(self._floors.values()),
                    areas=list(self._areas.values()),
                    entities=list(self._entities.values()),
                )
                self._snap_version = self._version
            return self._snap

    def entities_by_source(self) -> dict[str, int]:
        """Entities per adapter that feeds them (what the service reports after start)."""
        out: dict[str, int] = {}
        with self._lock:
            for source in self._sources.values():
                out[source] = out.get(source, 0) + 1
        return out

    def __len__(self) -> int:
        return len(self._entities)
