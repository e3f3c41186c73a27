"""The home's device, room and floor names, normalised and grouped once per home content, not on every request.

`Home` and `Entity` are mutable dataclasses (a live home is rebuilt on change, but nothing stops code from
renaming an entity or appending an alias in place), so the index is looked up by the names themselves: the
key is every entity's id, name, area and aliases and every area's and floor's id, name and aliases, read on each
request (one pass, no normalising). A change to any of them is a different key and so a fresh index; an
unchanged home, or the per-request copies that state overrides make, find the one built before. Entities,
areas and floors are kept as positions in the home's lists, so a request always gets its own home's objects
(and states).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from edge_nlu.domain.home import Area, Home, norm

_MAX_HOMES = 8
"""Indexes kept: the live home, a changed one, test homes; more than this and the cache starts over."""


@dataclass(frozen=True)
class NameIndex:
    """What resolution needs from the entities' names, for one home content."""

    by_first_word: dict[str, tuple[tuple[int, int, str], ...]]
    """First word of a normalised name -> (name number, entity position, name), in home order: a name said in
    the text has its first word among the text's words."""
    by_name: dict[str, tuple[int, ...]]
    """Normalised name or alias -> positions of the entities called that, in home order."""
    choices: dict[str, str]
    """`"<entity id>\\n<name as written>"` -> normalised name: the device_name slot's fuzzy choices."""
    tails: tuple[tuple[int, tuple[list[str], ...]], ...]
    """(entity position, word lists of its names of two words or more), in home order."""
    tails_in: dict[str, tuple[tuple[int, tuple[list[str], ...]], ...]]
    """The same per area id."""
    areas: tuple[tuple[int, tuple[str, ...]], ...]
    """(area position, its normalised names, id and aliases), in home order."""
    area_choices: dict[str, str]
    """`"<area id>\\n<name>"` -> normalised name, every name of every area: the house_place slot's fuzzy
    choices (one name per area, picked by set order, made the answer change with PYTHONHASHSEED)."""
    floor_only: tuple[str, ...]
    """Normalised floor names and ids that no room has."""
    floors_longest: tuple[tuple[int, tuple[str, ...]], ...]
    """(floor position, its normalised name and id), longest name first."""
    by_size: dict[int, tuple[tuple[tuple[int, int, str, list[str]], ...], list[str]]]
    """Word count -> ((name number, entity position, name, words), ...) of names of 6 characters or more, and
    the names alone (rapidfuzz's choices), in home order."""


_lock = threading.Lock()
_Key = tuple[tuple[tuple[str | None, ...], ...], tuple[tuple[str, ...], ...], tuple[tuple[str, ...], ...]]
_cache: dict[_Key, NameIndex] = {}


def _key(home: Home) -> _Key:
    return (tuple((e.id, e.name, e.area, *e.aliases) for e in home.entities),
            tuple((a.id, a.name, *a.aliases) for a in home.areas),
            tuple((f.id, f.name) for f in home.floors))


def name_index(home: Home) -> NameIndex:
    """The index of this home's names as they are now (built on first sight of this content)."""
    key = _key(home)
    found = _cache.get(key)
    if found is not None:
        return found
    index = _build(home)
    with _lock:
        if len(_cache) >= _MAX_HOMES:
            _cache.clear()
        _cache[key] = index
    return index


def _build(home: Home) -> NameIndex:
    by_first: dict[str, list[tuple[int, int, str]]] = {}
    by_name: dict[str, list[int]] = {}
    choices: dict[str, str] = {}
    tails: list[tuple[int, tuple[list[str], ...]]] = []
    tails_in: dict[str, list[tuple[int, tuple[list[str], ...]]]] = {}
    by_size: dict[int, list[tuple[int, int, str, list[str]]]] = {}
    order = 0
    for pos, e in enumerate(home.entities):
        long_names: list[list[str]] = []
        for name in e.names():
            n = norm(name)
            parts = n.split()
            if parts:
                by_first.setdefault(parts[0], []).append((order, pos, n))
            at = by_name.setdefault(n, [])
            if not at or at[-1] != pos:
                at.append(pos)
            choices[f"{e.id}\n{name}"] = n
            if len(parts) >= 2:
                long_names.append(parts)
                if len(n) >= 6:
                    by_size.setdefault(len(parts), []).append((order, pos, n, parts))
            order += 1
        if long_names:
            entry = (pos, tuple(long_names))
            tails.append(entry)
            if e.area is not None:
                tails_in.setdefault(e.area, []).append(entry)
    areas = tuple((pos, area_names(a)) for pos, a in enumerate(home.areas))
    rooms = {n for _, names in areas for n in names}
    floors = home.floors
    return NameIndex(
        by_first_word={w: tuple(v) for w, v in by_first.items()},
        by_name={n: tuple(v) for n, v in by_name.items()},
        choices=choices,
        tails=tuple(tails),
        tails_in={a: tuple(v) for a, v in tails_in.items()},
        by_size={size: (tuple(v), [n for _, _, n, _ in v]) for size, v in by_size.items()},
        areas=areas,
        area_choices={f"{home.areas[pos].id}\n{n}": n for pos, names in areas for n in names},
        floor_only=tuple(dict.fromkeys(n for f in floors for n in (norm(f.name), norm(f.id)) if n and n not in rooms)),
        floors_longest=tuple((i, tuple(dict.fromkeys((norm(floors[i].name), norm(floors[i].id)))))
                             for i in sorted(range(len(floors)), key=lambda i: -len(floors[i].name))),
    )


def area_names(a: Area) -> tuple[str, ...]:
    """An area's names as said: name, id and aliases, normalised, in that order (never set order: which
    name is tried first must not depend on the hash seed)."""
    return tuple(n for n in dict.fromkeys((norm(a.name), norm(a.id), *(norm(x) for x in a.aliases))) if n)
