"""A light's new values as Home Assistant's HassLightSet takes them.

Three things can be set, each in its own slot: `brightness` (percent; 'lowest' is 1 and 'highest'
100, as HA's brightness_level list says), `color` (a colour name) and `temperature` (the colour
temperature in kelvin; HA names four: candle light, warm white, cool/cold white and daylight).
A request that names a colour temperature, or says 'temperature' or 'kelvin', sets no brightness.
"""

from __future__ import annotations

import re
from typing import Any

from edge_nlu.domain.home import Entity, norm
from edge_nlu.resolve.match import Request
from edge_nlu.resolve.numbers import Number
from edge_nlu.sanitize import finite_float

COLOR_TEMPERATURES: tuple[tuple[str, int], ...] = (
    ("candle light", 1900), ("candlelight", 1900), ("warm white", 2700), ("soft white", 2700),
    ("cool white", 4000), ("cold white", 4000), ("neutral white", 4000), ("day light", 6500),
    ("daylight", 6500),
)
"""Colour temperatures by name, in kelvin (HA's color_temperature_names, and two common synonyms)."""
KELVIN = (1000, 10000)
"""The colour temperatures a spoken number can mean (HA's color_temperature range)."""
COLORS = ("white", "black", "red", "orange", "yellow", "green", "blue", "purple", "brown", "pink",
          "turquoise", "cyan", "magenta", "violet", "teal", "amber", "gold", "lavender", "lilac",
          "indigo", "lime")
"""Colour names HA's `color` slot takes (its colour list first)."""
LOWEST, HIGHEST = 1, 100
"""What 'the lowest' and 'the highest' brightness are (HA's brightness_level list)."""
_LOWEST_WORDS = ("lowest", "minimum", "min", "dimmest")
_HIGHEST_WORDS = ("highest", "maximum", "max", "brightest", "full brightness")
_TEMPERATURE_RE = re.compile(r"\b(?:temperature|kelvin|\d+\s?k)\b")
BRIGHTER = ("brighter", "brighten", "up", "raise", "increase", "higher", "more")
"""Words that move a light's brightness up."""
DIMMER = ("dimmer", "dim", "down", "lower", "decrease", "less", "reduce")
"""Words that move a light's brightness down."""
STEP = 20
"""How far 'brighter' or 'dimmer' moves the brightness when no amount is said."""


def _said(req: Request, phrase: str) -> bool:
    """A phrase in the words outside the names of devices, rooms and titles ('the red lamp' is a name)."""
    return f" {phrase} " in f" {' '.join(req.rest.split())} "


def color_temperature(req: Request) -> int | Number | None:
    """The colour temperature the words set, in kelvin: a named one, else a number said with
    'temperature' or 'kelvin', else a number only a colour temperature can be (1000 to 10000)."""
    typed = norm(req.slot("color_type") or "")
    for name, kelvin in COLOR_TEMPERATURES:
        if name == typed or _said(req, name):
            return kelvin
    said = req.number()
    if said is None:
        return None
    if KELVIN[0] <= said <= KELVIN[1]:
        return said
    return None


def says_temperature(req: Request) -> bool:
    """The words are about the colour temperature ('color temperature', '4000 kelvin', '2700k')."""
    return bool(_TEMPERATURE_RE.search(req.rest))


def color(req: Request) -> str | None:
    """The colour name said: the color_type slot, else a colour word outside names."""
    typed = norm(req.slot("color_type") or "")
    if typed and not any(typed == n for n, _ in COLOR_TEMPERATURES):
        return typed
    return next((c for c in COLORS if _said(req, c)), None)


def _extreme(req: Request) -> int | None:
    if req.has(*_LOWEST_WORDS):
        return LOWEST
    if req.has(*_HIGHEST_WORDS):
        return HIGHEST
    return None


def light_values(req: Request, targets: list[Entity], slots: dict[str, Any], usual: Any = None) -> dict[str, Any]:
    """The value slots of HassLightSet for this request: a colour temperature (and a percentage said
    beside a named one), else a colour and/or a brightness (said, moved from the lights' mean,
    'lowest'/'highest', the usual one, else a step the way the words or the intent go). `usual` is this
    user's habitual brightness, if asked for."""
    kelvin = color_temperature(req)
    if kelvin is not None or says_temperature(req):
        out: dict[str, Any] = {"temperature": kelvin} if kelvin is not None else {}
        said = req.number()
        if said is not None and said != kelvin and 0 <= said <= 100 and not says_temperature(req):
            out["brightness"] = said  # 'warm white at 40 percent'
        return out
    out = {}
    named = color(req)
    if named:
        out["color"] = named
    cur = [finite_float(e.attributes.get("brightness")) or 0.0 for e in targets] or [50.0]
    mean = sum(cur) / len(cur)
    way = {"iot_hue_lightup": 1, "iot_hue_lightdim": -1}.get(req.nlu.intent, 0)
    level: Any = req.level(mean, 100, BRIGHTER, DIMMER, direction=way)
    if level is not None:
        level = max(0, min(100, level))
    if level is None:
        level = _extreme(req)
    if level is None:
        level = usual
    if level is None and not named and "brightness" not in slots:
        up = req.nlu.intent == "iot_hue_lightup" or req.has("brighter", "up", "increase", "more")
        level = int(min(100, mean + STEP)) if up else int(max(5, mean - STEP))
    if level is not None:
        out["brightness"] = level
    return out

