"""Spoken answers for questions: states, temperatures, weather, time and date.

Short sentences a voice satellite can say as they are; only questions get one.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from edge_nlu.domain.home import Area, Entity, Floor, Home
from edge_nlu.sanitize import finite_float

_STATE_WORDS: dict[str, dict[str, str]] = {
    "lock": {"locked": "locked", "unlocked": "unlocked", "jammed": "jammed",
             "locking": "locking", "unlocking": "unlocking", "open": "open"},
    "cover": {"open": "open", "closed": "closed", "opening": "opening", "closing": "closing"},
    "valve": {"open": "open", "closed": "closed", "opening": "opening", "closing": "closing"},
    "vacuum": {"docked": "docked", "cleaning": "cleaning", "returning": "returning to its dock",
               "idle": "idle", "paused": "paused", "error": "reporting an error"},
}
_BINARY_WORDS: dict[str, tuple[str, str]] = {
    "door": ("open", "closed"), "window": ("open", "closed"), "garage_door": ("open", "closed"),
    "opening": ("open", "closed"), "smoke": ("detecting smoke", "clear"),
    "motion": ("detecting motion", "clear"), "occupancy": ("occupied", "clear"),
    "moisture": ("wet", "dry"), "lock": ("unlocked", "locked"), "problem": ("reporting a problem",
                                                                          "ok"),
}


def _num(value: Any) -> str:
    """Numbers as they are said: 21, 21.5; other values unchanged."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        return str(value)
    except OverflowError:  # an integer past any float: no reading a person could use
        return "unknown"
    if not math.isfinite(f):  # "nan", "inf", "1e999": the device does not know either
        return "unknown"
    return str(int(f)) if f.is_integer() else f"{f:g}"


def _the(name: str) -> str:
    return f"The {name[:1].lower()}{name[1:]}" if name else "It"


def _unit(e: Entity) -> str:
    unit = e.attributes.get("unit_of_measurement")
    if unit is None and e.device_class == "temperature":
        unit = "°C"
    return f" {unit}" if unit else ""


def state_sentence(e: Entity) -> str:
    """One entity's state as a sentence: "The apartment door is locked."."""
    if e.domain == "person":
        return where_sentence(e)
    name = _the(e.name)
    if e.state in ("unavailable", "unknown"):
        return f"{name} is {e.state}."
    if e.domain == "sensor":
        return f"{name} is {_num(e.state)}{_unit(e)}."
    if e.domain == "binary_sensor":
        on, off = _BINARY_WORDS.get(e.device_class or "", ("on", "off"))
        return f"{name} is {on if e.state == 'on' else off}."
    if e.domain == "climate":
        cur = finite_float(e.attributes.get("current_temperature"))
        if cur is not None:
            return f"{name} is {e.state}, at {_num(cur)} °C."
    if e.domain == "media_player" and e.state == "playing" and e.attributes.get("media_title"):
        return f"{name} is playing {e.attributes['media_title']}."
    word = _STATE_WORDS.get(e.domain, {}).get(e.state, e.state.replace("_", " "))
    return f"{name} is {word}."


def states_sentence(entities: list[Entity]) -> str | None:
    """A sentence per entity, or a count when many share one state."""
    if not entities:
        return None
    if len(entities) > 3 and len({e.state for e in entities}) == 1:
        return f"All {len(entities)} are {entities[0].state}."
    return " ".join(state_sentence(e) for e in entities)


def where_sentence(person: Entity) -> str:
    """Where a person is, as HA's person states say it: "Alex is away.", "Alex is at work."."""
    name = person.name[:1].upper() + person.name[1:]
    if person.state == "not_home":
        return f"{name} is away."
    if person.state in ("unavailable", "unknown"):
        return f"I don't know where {name} is."
    return f"{name} is at {person.state.replace('_', ' ')}."


def names_said(entities: list[Entity]) -> str:
    """Names as HA lists them: sorted, "A, B and C", past four "A, B, C and 2 more"."""
    names = sorted(e.name for e in entities)
    if len(names) > 4:
        return f"{', '.join(names[:3])} and {len(names) - 3} more"
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _be(entities: list[Entity]) -> str:
    return "is" if len(entities) == 1 else "are"


def yes_no_sentence(targets: list[Entity], matched: list[Entity], said: str) -> str:
    """'is the X on': yes or no with the state it is in; for several devices, which are."""
    if len(targets) == 1:
        s = state_sentence(targets[0])
        s = f"{s[0].lower()}{s[1:]}" if s.startswith("The ") else s
        return f"{'Yes' if matched else 'No'}, {s}"
    if len(matched) == len(targets):
        return f"Yes, {'both' if len(targets) == 2 else f'all {len(targets)}'} are {said}."
    if not matched:
        return f"No, none of them are {said}."
    unmatched = [e for e in targets if e not in matched]
    return f"{names_said(matched)} {_be(matched)} {said}, {names_said(unmatched)} {_be(unmatched)} not."


def any_sentence(matched: list[Entity]) -> str:
    """HA's answer to 'are any ...': yes with the ones that are, or no."""
    return f"Yes, {names_said(matched)}." if matched else "No."


def all_sentence(unmatched: list[Entity], said: str) -> str:
    """HA's answer to 'are all ...': yes, or no with the ones that are not."""
    return f"No, {names_said(unmatched)} {_be(unmatched)} not {said}." if unmatched else "Yes."


def which_sentence(matched: list[Entity], said: str) -> str:
    """HA's answer to 'which ... are ...': the names of the ones that are."""
    return f"{names_said(matched)}." if matched else f"None are {said}."


def count_sentence(count: int, said: str) -> str:
    """HA's answer to 'how many ... are ...': the count."""
    if count == 0:
        return f"None are {said}."
    return f"{count} {'is' if count == 1 else 'are'} {said}."


def none_found_sentence(kind: str, area: Area | None, floor: Floor | None) -> str:
    """A question about a kind of device the place has none of (HA: no entity matched)."""
    where = f" in the {area.name.lower()}" if area else f" on the {floor.name.lower()}" if floor else ""
    return f"I couldn't find any {kind}{where}."


def temperature_sentence(e: Entity, area: Area | None) -> str:
    """"It is 21 °C in the lounge." for climate, the sensor's sentence for sensors."""
    if e.domain == "climate":
        cur = finite_float(e.attributes.get("current_temperature"))
        where = f" in the {area.name.lower()}" if area is not None else ""
        if cur is None:
            return f"I don't know the temperature{where}."
        return f"It is {_num(cur)} °C{where}."
    if e.domain == "sensor":
        return f"{_the(e.name)} is {_num(e.state)}{_unit(e)}."
    return state_sentence(e)


def weather_sentence(home: Home) -> str:
    """From the home's weather entity: condition and temperature."""
    w = next((e for e in home.entities if e.domain == "weather"), None)
    if w is None:
        return "I have no weather forecast for this home."
    plain = w.state.replace("_", " ").replace("-", " ")
    condition = {"partlycloudy": "partly cloudy", "clear-night": "clear",
                 "lightning-rainy": "stormy"}.get(w.state, plain)
    temp = w.attributes.get("temperature")
    if temp is None:
        return f"It is {condition}."
    unit = w.attributes.get("temperature_unit", "°C")
    return f"It is {condition} and {_num(temp)} {unit}."


def time_sentence(now: datetime) -> str:
    hour = now.hour % 12 or 12
    return f"It is {hour}:{now.minute:02d} {'AM' if now.hour < 12 else 'PM'}."


def date_sentence(now: datetime) -> str:
    return f"Today is {now.strftime('%A')}, {now.day} {now.strftime('%B %Y')}."


def unknown_area_sentence(place: str) -> str:
    return f"I don't know an area called {place} in this home."
