"""Where and when a personal habit holds.

A phrase one person uses for one thing is often tied to a room ("play some songs" at bedtime in a
child's room) or to a time of day. A personal or taught rewrite therefore keeps the areas and local
hours it was learned from, and is used only there: in the area it was seen in, or anywhere on the
floor when it was seen in several rooms of one floor (anywhere when seen on several floors); at
the hours it was seen, when enough evidence says it is a habit of one part of the day.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from edge_nlu.domain.home import Home

MIN_TIMED = 3
"""Observations needed before a habit is taken to belong to one part of the day (two may agree by chance)."""
MAX_SPAN_H = 6.0
"""Observations spread over more than this many hours of the day make a habit of any time."""
SLACK_H = 1.0
"""A timed habit also holds this long before its earliest and after its latest observed hour."""


def local_hour(ts: float) -> float:
    """Hour of the day of a request time (epoch seconds from the request's local `time`)."""
    d = datetime.fromtimestamp(ts)
    return d.hour + d.minute / 60.0


def _area_id(area: str | None, home: Home | None) -> str | None:
    if not area:
        return None
    found = home.area(area) if home is not None else None
    return found.id if found is not None else area.strip().lower()


def _arc(hours: list[float]) -> tuple[float, float] | None:
    """The shortest stretch of the 24 h clock holding every hour, as (start, end), or None when longer than
    `MAX_SPAN_H`."""
    hs = sorted(h % 24.0 for h in hours)
    gaps = [(hs[(i + 1) % len(hs)] - hs[i]) % 24.0 for i in range(len(hs))]
    i = max(range(len(hs)), key=lambda k: gaps[k]) if len(hs) > 1 else 0
    start, end = hs[(i + 1) % len(hs)], hs[i]
    if (end - start) % 24.0 > MAX_SPAN_H:
        return None
    return (start - SLACK_H) % 24.0, (end + SLACK_H) % 24.0


def learn_scope(seen: Iterable[tuple[str | None, float]], home: Home | None) -> dict[str, Any]:
    """`meta` entries for a rewrite learned from these (area, request time) observations: `areas` (absent:
    anywhere) and `hours` ([start, end] local hours; absent: any time)."""
    obs = list(seen)
    out: dict[str, Any] = {}
    areas = {_area_id(a, home) for a, _ in obs}
    if obs and None not in areas:
        known = sorted(a for a in areas if a is not None)
        found = [home.area(a) if home is not None else None for a in known]
        floors = {f.floor if f is not None else None for f in found}
        if len(known) == 1:
            out["areas"] = known
        elif len(floors) == 1 and None not in floors and home is not None:
            floor = next(iter(floors))
            out["areas"] = sorted(a.id for a in home.areas if a.floor == floor)
        # several floors: anywhere
    if len(obs) >= MIN_TIMED:
        arc = _arc([local_hour(ts) for _, ts in obs])
        if arc is not None:
            out["hours"] = [round(arc[0], 2), round(arc[1], 2)]
    return out


def in_scope(meta: dict[str, Any], area: str | None, ts: float, home: Home | None, site: str | None = None) -> bool:
    """The rewrite may be used for a request from this area at this time (and this satellite, for one learned
    from a single satellite's traffic: `only_sites`)."""
    only = meta.get("only_sites")
    if only and site not in {str(x) for x in only}:
        return False
    areas = meta.get("areas")
    if areas:
        here = _area_id(area, home)
        if here is None or here not in {_area_id(str(a), home) for a in areas}:
            return False
    hours = meta.get("hours")
    if isinstance(hours, list) and len(hours) == 2:
        start, end, h = float(hours[0]), float(hours[1]), local_hour(ts)
        inside = start <= h <= end if start <= end else (h >= start or h <= end)
        if not inside:
            return False
    return True
