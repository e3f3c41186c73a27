"""The hub's timers, per satellite: Home Assistant's timer intents carried out and answered.

The resolver says what was asked (HassStartTimer, HassTimerStatus, ...); this book keeps the timers
each satellite started and answers in words, the way HA's timer manager does: which timer is meant is
read from its name, then its starting duration, then its area; one left is the one, and where several
are left the most recent is taken (HA would ask back; a satellite without dialogue cannot answer).

Pure and clock-free: every call is given `now` (epoch seconds), so that a request's own time is used
where it carries one and tests need no sleeping. Thread-safe: the query thread applies, a ticker asks
`due()`.
"""

from __future__ import annotations

import math
import threading
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from edge_nlu.domain.home import norm
from edge_nlu.domain.result import Action

TIMER_INTENTS = frozenset({"HassStartTimer", "HassCancelTimer", "HassCancelAllTimers", "HassIncreaseTimer",
                           "HassDecreaseTimer", "HassPauseTimer", "HassUnpauseTimer", "HassTimerStatus"})
"""The intents the book carries out."""
MAX_TIMERS_PER_SITE = 32
"""Timers one satellite may keep; a bound, so that a stuck client cannot grow the hub's memory."""
MAX_SECONDS = 366 * 24 * 3600
"""Longest timer accepted (a year): longer is a misreading, not a timer."""
_UNITS = (("hour", 3600), ("minute", 60), ("second", 1))


class BadTimerAction(ValueError):
    """An action the book cannot carry out (a duration that is not a whole non-negative number, none at
    all for a new timer, no room for another); the service answers without the book."""


@dataclass(frozen=True)
class Timer:
    """One running (or paused) timer of a satellite."""

    id: str
    """Unique id (HA's timer id)."""
    seq: int
    """Start order in the book; the highest is the most recent."""
    name: str | None
    """Its name as said ('pizza'), None when unnamed."""
    area: str | None
    """Area it was started for, as the action said it."""
    started_with: int
    """Seconds it was started with: what 'the 5 minute timer' refers to after changes."""
    seconds: int
    """Total duration in seconds, changes included."""
    start: float
    """Epoch seconds it (notionally) started: it ends at start + seconds while running."""
    paused_left: float | None = None
    """Seconds left while paused; None while running."""
    conversation_command: str | None = None
    """Command to run when it ends ('turn off the lights') instead of saying it is done."""
    offset: float = 0.0
    """The request's clock minus the host's when it started: it rings on the host clock at
    start + seconds - offset, so a query carrying its own time (a replay) never rings it early or late."""

    def left(self, now: float) -> float:
        """Seconds left at `now`."""
        if self.paused_left is not None:
            return self.paused_left
        return max(0.0, self.start + self.seconds - now)

    @property
    def label(self) -> str:
        """How it is spoken of: 'pizza timer', '5 minute timer'."""
        return f"{self.name} timer" if self.name else f"{_adjective(self.started_with)} timer"


class TimerBook:
    """Timers per siteId, applied from timer Actions and answered in words."""

    def __init__(self, max_per_site: int = MAX_TIMERS_PER_SITE) -> None:
        self.max_per_site = max_per_site
        self._lock = threading.Lock()
        self._sites: dict[str, list[Timer]] = {}
        self._seq = 0

    def timers(self, site: str) -> tuple[Timer, ...]:
        """The site's timers, oldest first."""
        with self._lock:
            return tuple(self._sites.get(site, ()))

    def apply(self, site: str, action: Action, now: float, host_now: float | None = None) -> str | None:
        """Carry out `action` for `site` at `now` (the request's time; `host_now`: the host clock then, what
        `due` is called with); the spoken answer, or None when it is not a timer intent.
        Raises BadTimerAction for an action that cannot be carried out (nothing is changed then)."""
        intent = action.intent
        if intent not in TIMER_INTENTS:
            return None
        slots = action.slots
        with self._lock:
            timers = self._sites.setdefault(site, [])
            try:
                if intent == "HassStartTimer":
                    return self._start(timers, slots, now, now - (now if host_now is None else host_now))
                if intent == "HassCancelAllTimers":
                    return _cancel_all(timers, slots)
                if intent == "HassTimerStatus":
                    return _status(timers, slots, now)
                return _one(timers, intent or "", slots, now)
            finally:
                if not timers:
                    del self._sites[site]

    def due(self, now: float) -> list[tuple[str, Timer]]:
        """Running timers that have ended by `now` (the host clock), as (site, timer), soonest first; they
        leave the book."""
        out: list[tuple[str, Timer]] = []
        with self._lock:
            for site, timers in list(self._sites.items()):
                done = [t for t in timers if t.paused_left is None and t.left(now + t.offset) <= 0]
                if not done:
                    continue
                out.extend((site, t) for t in done)
                kept = [t for t in timers if t not in done]
                if kept:
                    self._sites[site] = kept
                else:
                    del self._sites[site]
        out.sort(key=lambda st: st[1].start + st[1].seconds - st[1].offset)
        return out

    def _start(self, timers: list[Timer], slots: dict[str, Any], now: float, offset: float) -> str:
        seconds = _seconds(slots, "")
        if seconds is None or seconds <= 0:
            raise BadTimerAction("a new timer needs a duration")
        if len(timers) >= self.max_per_site:
            raise BadTimerAction(f"the site already keeps {len(timers)} timers")
        name, area, command = (_text(slots, k) for k in ("name", "area", "conversation_command"))
        self._seq += 1
        timers.append(Timer(id=uuid.uuid4().hex, seq=self._seq, name=name, area=area, started_with=seconds,
                            seconds=seconds, start=now, conversation_command=command, offset=offset))
        if command:
            return f"I will {command} in {spoken(seconds)}."
        return f"{_cap(name + ' timer') if name else 'Timer'} started for {spoken(seconds)}."


def _one(timers: list[Timer], intent: str, slots: dict[str, Any], now: float) -> str:
    """Cancel, pause, resume or change the one timer the slots mean."""
    change = _seconds(slots, "") if intent in ("HassIncreaseTimer", "HassDecreaseTimer") else None
    if intent in ("HassIncreaseTimer", "HassDecreaseTimer") and not change:
        raise BadTimerAction(f"{intent} needs the time to add or take off")
    matched = _find(timers, slots)
    if isinstance(matched, str):
        return matched
    t = matched[-1]
    i = timers.index(t)
    if intent == "HassCancelTimer":
        del timers[i]
        return f"{_cap(t.label)} cancelled."
    if intent == "HassPauseTimer":
        if t.paused_left is not None:
            return f"Your {t.label} is already paused."
        timers[i] = replace(t, paused_left=t.left(now))
        return f"{_cap(t.label)} paused."
    if intent == "HassUnpauseTimer":
        if t.paused_left is None:
            return f"Your {t.label} is already running."
        timers[i] = replace(t, start=now - (t.seconds - t.paused_left), paused_left=None)
        return f"{_cap(t.label)} resumed."
    assert change is not None
    if intent == "HassDecreaseTimer":
        change = -min(change, math.ceil(t.left(now)))
    paused = None if t.paused_left is None else max(0.0, t.paused_left + change)
    timers[i] = replace(t, seconds=t.seconds + change, paused_left=paused)
    if change >= 0:
        return f"Added {spoken(change)} to your {t.label}."
    return f"Took {spoken(-change)} off your {t.label}."


def _cancel_all(timers: list[Timer], slots: dict[str, Any]) -> str:
    area = _text(slots, "area")
    gone = [t for t in timers if area is None or _same(t.area, area)]
    if not gone:
        return "No timers are running." if area is None else f"There are no timers in the {area}."
    timers[:] = [t for t in timers if t not in gone]
    return "Timer cancelled." if len(gone) == 1 else f"{len(gone)} timers cancelled."


def _status(timers: list[Timer], slots: dict[str, Any], now: float) -> str:
    matched = _find(timers, slots, every=True)
    if isinstance(matched, str):
        return matched
    parts = [_left(t, now) for t in sorted(matched, key=lambda t: t.left(now))]
    if len(parts) == 1:
        return _cap(parts[0]) + "."
    return f"{len(parts)} timers: {', '.join(parts[:-1])} and {parts[-1]}."


def _left(t: Timer, now: float) -> str:
    left = spoken(math.ceil(t.left(now)))
    if t.paused_left is not None:
        return f"your {t.label} is paused with {left} left"
    return f"{left} left on your {t.label}"


def _find(timers: list[Timer], slots: dict[str, Any], every: bool = False) -> list[Timer] | str:
    """The timers the slots mean, oldest first, or the spoken reason there are none. Like HA's
    `_find_timers`: by name, then starting duration, then area, stopping as soon as one is left; the
    area is a preference (the satellite's own room may be in every request), not a demand."""
    if not timers:
        return "No timers are running."
    found = list(timers)
    name = _text(slots, "name")
    if name is not None:
        found = [t for t in found if _same(t.name, name)]
        if not found:
            return f"There is no {name} timer."
        if len(found) == 1:
            return found
    start = _seconds(slots, "start_")
    if start:
        found = [t for t in found if t.started_with == start]
        if not found:
            return f"There is no {_adjective(start)} timer."
        if len(found) == 1:
            return found
    area = _text(slots, "area")
    if area is not None:
        found = [t for t in found if _same(t.area, area)] or found
    return found if every else found[-1:]


def _seconds(slots: dict[str, Any], prefix: str) -> int | None:
    """hours/minutes/seconds (with `prefix`) as seconds; None when none is given."""
    total, given = 0, False
    for unit, size in _UNITS:
        value = slots.get(f"{prefix}{unit}s")
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or value < 0 or value != int(value):
            raise BadTimerAction(f"{prefix}{unit}s must be a whole number of at least 0, not {value!r}")
        total += int(value) * size
        given = True
    if total > MAX_SECONDS:
        raise BadTimerAction(f"{total} seconds is longer than a timer may run ({MAX_SECONDS})")
    return total if given else None


def _text(slots: dict[str, Any], key: str) -> str | None:
    value = slots.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadTimerAction(f"{key} must be text, not {value!r}")
    return value.strip() or None


def _same(have: str | None, said: str) -> bool:
    return have is not None and norm(have) == norm(said)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _parts(seconds: int) -> list[tuple[int, str]]:
    """Seconds as (count, unit) from the largest unit down, zero counts left out."""
    parts = []
    for unit, size in _UNITS:
        n, seconds = divmod(seconds, size)
        if n:
            parts.append((n, unit))
    return parts


def spoken(seconds: int) -> str:
    """'2 minutes and 10 seconds', '1 hour', '0 seconds'."""
    parts = [f"{n} {unit}{'' if n == 1 else 's'}" for n, unit in _parts(seconds)]
    if not parts:
        return "0 seconds"
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


def _adjective(seconds: int) -> str:
    """A duration before a noun: '5 minute', '1 hour 30 minute'."""
    return " ".join(f"{n} {unit}" for n, unit in _parts(seconds)) or "0 second"


def done_text(timer: Timer) -> str:
    """What a satellite says when `timer` ends."""
    return f"Your {timer.label} is done."


def instant(iso: str | None, default: float) -> float:
    """Epoch seconds of a request's ISO 8601 time (local time when it names no zone); `default` when it
    carries none or one that cannot be read."""
    if not iso:
        return default
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except (ValueError, OverflowError, OSError):
        return default
