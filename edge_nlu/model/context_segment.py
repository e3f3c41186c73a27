"""The context as the model reads it: a short second segment after the request text.

Training (export/) and the runtime both build the segment here, so the model always sees
context in exactly the form it was trained on. Only what can change a request's meaning
goes in: the satellite's room and screen, the appliances and players that are active
there, and the previous turn. It is kept short because every token costs latency.
"""

from __future__ import annotations

from edge_nlu.domain.context import RequestContext
from edge_nlu.domain.home import Home

_HA_WORDS = {
    "HassTurnOn": "turn on",
    "HassTurnOff": "turn off",
    "HassGetState": "state",
    "HassClimateGetTemperature": "room temperature",
    "HassClimateSetTemperature": "set temperature",
    "HassLightSet": "light level",
    "HassSetPosition": "position",
    "HassSetVolume": "volume",
    "HassMediaSearchAndPlay": "play",
    "HassMediaPause": "pause",
    "HassMediaUnpause": "resume",
    "HassMediaNext": "next",
    "HassMediaPrevious": "previous",
    "HassVacuumStart": "vacuum",
    "HassGetWeather": "weather",
    "HassStartTimer": "timer",
}

# Domains whose "on" matters for meaning (an oven that is on changes "what's the temperature").
_ACTIVE_DOMAINS = ("switch", "fan", "media_player", "vacuum")
MAX_ACTIVE = 4


def ha_words(intent: str | None) -> str:
    if not intent:
        return "none"
    return _HA_WORDS.get(intent, intent.removeprefix("Hass").lower())


def context_segment(home: Home, ctx: RequestContext) -> str:
    """Describe the context in a few words; empty when the request has none."""
    parts: list[str] = []
    area = home.area(ctx.area)
    if area is not None:
        parts.append(f"room {area.name.lower()}")
    elif ctx.area:
        parts.append(f"room {ctx.area.lower()}")
    if ctx.satellite is not None and ctx.satellite.has_screen is not None:
        parts.append("screen yes" if ctx.satellite.has_screen else "screen no")
    if area is not None:
        active: list[str] = []
        for e in home.in_area(area.id):
            if e.domain not in _ACTIVE_DOMAINS:
                continue
            if e.state in ("on", "playing", "paused", "cleaning"):
                word = "on" if e.state == "on" else e.state
                active.append(f"{e.name.lower()} {word}")
        if active:
            parts.append("active " + " , ".join(active[:MAX_ACTIVE]))
    prev = ctx.previous
    if prev is not None:
        domains = sorted({t.split(".", 1)[0] for t in prev.targets})
        what = " ".join(d.replace("_", " ") for d in domains[:2])
        parts.append(f"before {prev.text.lower()} > {ha_words(prev.intent)} {what}".strip())
    return " | ".join(parts)
