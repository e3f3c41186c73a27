"""What Home Assistant says after an action edge-nlu recognized: "Turned on the kitchen light", "Opening the garage
door", "Brightness set".

Home Assistant's own agent speaks a response template of the sentence that matched; its intent handlers set no
speech for actions, and its wyoming conversation agent speaks an intent's `text` only where the handler set none.
An intent without text is so done in silence. These are Home Assistant's English responses (`responses.intents` of
`home-assistant-intents`, data/en.json of 2026.11.25; tests/test_wyoming.py checks the fixed ones against the
installed package): where HA's sentence names only the kind of device ("Turned on the light", "Locking"), this one
names the device ("Turned on the kettle", "Locking the front door"), since we know which one it is. Nothing is said
where HA's wording needs what only its handler knows (how many timers "cancel all timers" cancelled).

Pure: slot values and the target entities in, a sentence or None out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from edge_nlu.domain.home import Entity

TURN_VERBS: dict[str, tuple[str, str]] = {
    "cover": ("Opening", "Closing"), "valve": ("Opening", "Closing"), "lock": ("Locking", "Unlocking"),
    "scene": ("Activated", "Turned off"), "script": ("Started", "Turned off"), "button": ("Pressed", "Turned off"),
    "input_button": ("Pressed", "Turned off"),
}
"""HassTurnOn / HassTurnOff by domain (HA's `cover`, `valve`, `lock`, `scene`, `script`, `button` responses); any
other domain is "Turned on" / "Turned off"."""
DOMAIN_NOUNS: dict[str, tuple[str, str]] = {
    "light": ("the light", "the lights"), "switch": ("the switch", "the switches"), "fan": ("the fan", "the fans"),
    "input_boolean": ("the switch", "the switches"), "climate": ("the thermostat", "the thermostats"),
    "media_player": ("the media player", "the media players"), "humidifier": ("the humidifier", "the humidifiers"),
    "siren": ("the siren", "the sirens"), "water_heater": ("the water heater", "the water heaters"),
    "vacuum": ("the vacuum cleaner", "the vacuum cleaners"), "camera": ("the camera", "the cameras"),
    "automation": ("the automation", "the automations"), "remote": ("the remote", "the remotes"),
    "alarm_control_panel": ("the alarm", "the alarms"), "lawn_mower": ("the lawn mower", "the lawn mowers"),
    "button": ("the button", "the buttons"), "input_button": ("the button", "the buttons"),
    "cover": ("the cover", "the covers"), "valve": ("the valve", "the valves"), "lock": ("the lock", "the locks"),
}
"""What HA's HassTurnOn/Off default response calls a device of each domain (its `translations`), and the plural."""
COVER_NOUNS: dict[str, str] = {"garage": "garage door", "door": "door", "gate": "gate", "window": "window",
                               "blind": "blind", "curtain": "curtain", "shade": "shade", "shutter": "shutter",
                               "awning": "awning", "damper": "damper"}
"""HA's cover device classes as they are said ("open the garage door": device_class `garage`)."""
FIXED: dict[str, str] = {
    "HassMediaPause": "Paused", "HassMediaUnpause": "Resumed", "HassMediaNext": "Playing next",
    "HassMediaPrevious": "Playing previous", "HassMediaPlayerMute": "Muted", "HassMediaPlayerUnmute": "Unmuted",
    "HassSetVolume": "Volume set", "HassSetVolumeRelative": "Volume set", "HassFanSetSpeed": "Speed set",
    "HassVacuumStart": "Started", "HassVacuumReturnToBase": "Returning", "HassLawnMowerStartMowing": "Started",
    "HassLawnMowerDock": "Docking", "HassCancelTimer": "Timer cancelled", "HassPauseTimer": "Timer paused",
    "HassUnpauseTimer": "Timer resumed", "HassBroadcast": "Done",
}
"""Intents whose response is one fixed sentence, HA's words exactly."""
LIGHT_SET: tuple[tuple[tuple[str, ...], str], ...] = (
    (("brightness",), "Brightness set"), (("color",), "Color set"),
    (("temperature", "color_temp"), "Color temperature set"),
)
"""HassLightSet's responses (`brightness`, `color`, `temperature`), by the slot that is set."""
MEDIA_PLAYING = "Playing media"
"""HassMediaSearchAndPlay's response when something was found (HA's handler decides whether it was)."""


def confirmation(intent: str, slots: Mapping[str, Any], targets: Sequence[Entity]) -> str | None:
    """HA's spoken confirmation of an action: its intent, the slots sent with it, the entities it acts on
    (possibly none: HA's handler finds them by the slots). None where HA says nothing (HassNevermind) or its
    words depend on what only its handler knows."""
    if intent in ("HassTurnOn", "HassTurnOff"):
        return _turn(intent == "HassTurnOn", slots, targets)
    if intent == "HassSetPosition":
        return _position(slots, targets)
    if intent in FIXED:
        return FIXED[intent]
    make = _BUILDERS.get(intent)
    return make(slots) if make is not None else None


def _turn(on: bool, slots: Mapping[str, Any], targets: Sequence[Entity]) -> str:
    domain = _domain(slots, targets)
    verb = TURN_VERBS.get(domain or "", ("Turned on", "Turned off"))[0 if on else 1]
    name = slots.get("name")  # what HA's handler acts on: an area's lights are "the lights", however many
    if isinstance(name, str) and name.strip():
        return f"{verb} {the(name)}"
    several = len(targets) > 1
    device_class = slots.get("device_class")
    if domain == "cover" and isinstance(device_class, str) and device_class in COVER_NOUNS:
        return f"{verb} the {_cover_noun(device_class, targets)}"
    placed = any(isinstance(slots.get(k), str) for k in ("area", "floor"))
    if domain in ("light", "fan") and not placed:
        return f"{verb} all of {DOMAIN_NOUNS[domain][1]}"  # HA's light_all, fan_all
    if domain == "light" or domain == "fan":
        return f"{verb} {DOMAIN_NOUNS[domain][1]}"  # HA's lights_area, fans_area: plural whatever the count
    if domain == "media_player" and device_class == "tv":
        return f"{verb} the TV{'s' if several else ''}"
    if domain in DOMAIN_NOUNS:
        return f"{verb} {DOMAIN_NOUNS[domain][1 if several else 0]}"
    return verb if domain in TURN_VERBS else "Done"


def _domain(slots: Mapping[str, Any], targets: Sequence[Entity]) -> str | None:
    """The one domain the action is about: its `domain` slot, else its targets' if they share one."""
    d = slots.get("domain")
    if isinstance(d, list) and len(d) == 1:
        d = d[0]
    if isinstance(d, str) and d:
        return d
    domains = {t.domain for t in targets}
    return domains.pop() if len(domains) == 1 else None


def the(name: str) -> str:
    """A friendly name inside a sentence: "Kitchen light" -> "the kitchen light"; "TV corner" and "the hall" keep
    their capitals and get no second article."""
    name = " ".join(name.split())
    first = name.split(" ", 1)[0]
    if first.lower() == "the":
        return "the" + name[3:]
    if len(first) > 1 and first[1:2].isupper():  # an acronym or a brand written so: "TV", "iPad"
        return f"the {name}"
    return f"the {name[:1].lower()}{name[1:]}"


def _number(value: Any) -> str | None:
    """A slot number as said: 21, 21.5; None for what is not a finite number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def duration(slots: Mapping[str, Any]) -> str | None:
    """'1 hour, 5 minutes and 30 seconds' from the hours, minutes and seconds slots, as HA's timer responses say
    it; None when none is a number."""
    parts = []
    for key, unit in (("hours", "hour"), ("minutes", "minute"), ("seconds", "second")):
        n = _number(slots.get(key))
        if n is not None and n != "0":
            parts.append(f"{n} {unit}{'' if n == '1' else 's'}")
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


def _named(slots: Mapping[str, Any]) -> str:
    name = slots.get("name")
    return f" named {name.strip()}" if isinstance(name, str) and name.strip() else ""


def _timer(template: str) -> Callable[[Mapping[str, Any]], str | None]:
    def make(slots: Mapping[str, Any]) -> str | None:
        said = duration(slots)
        return None if said is None else template.format(said, _named(slots))
    return make


def _item(verb: str) -> Callable[[Mapping[str, Any]], str | None]:
    def make(slots: Mapping[str, Any]) -> str | None:
        item = slots.get("item")
        return f"{verb} {item.strip()}" if isinstance(item, str) and item.strip() else None
    return make


def _light_set(slots: Mapping[str, Any]) -> str | None:
    return next((said for keys, said in LIGHT_SET if any(slots.get(k) not in (None, "") for k in keys)), None)


def _climate(slots: Mapping[str, Any]) -> str | None:
    t = _number(slots.get("temperature"))
    return None if t is None else f"Temperature set to {t} {'degree' if t == '1' else 'degrees'}"


def _cover_noun(device_class: str, targets: Sequence[Entity]) -> str:
    """"garage door", "blinds": plural unless it is one cover (none known: people say "the blinds")."""
    noun = COVER_NOUNS[device_class]
    return noun if len(targets) == 1 else f"{noun}s"


def _position(slots: Mapping[str, Any], targets: Sequence[Entity]) -> str:
    device_class = slots.get("device_class")
    if not isinstance(slots.get("name"), str) and isinstance(device_class, str) and device_class in COVER_NOUNS:
        noun = _cover_noun(device_class, targets)
        return f"{noun[:1].upper()}{noun[1:]} position set"  # HA's cover_device_class
    return "Position set"


def _fan_mode(slots: Mapping[str, Any]) -> str | None:
    mode = slots.get("fan_mode")
    return f"Fan mode set to {mode}" if isinstance(mode, str) and mode else None


def _clean_area(slots: Mapping[str, Any]) -> str | None:
    area = slots.get("area")
    return f"Cleaning {area}" if isinstance(area, str) and area else None


_BUILDERS: dict[str, Callable[[Mapping[str, Any]], str | None]] = {
    "HassLightSet": _light_set,
    "HassClimateSetTemperature": _climate,
    "HassClimateSetFanMode": _fan_mode,
    "HassVacuumCleanArea": _clean_area,
    "HassMediaSearchAndPlay": lambda slots: MEDIA_PLAYING,
    "HassStartTimer": _timer("Timer set for {}{}"),
    "HassIncreaseTimer": _timer("{} added to timer{}"),
    "HassDecreaseTimer": _timer("{} removed from timer{}"),
    "HassShoppingListAddItem": _item("Added"), "HassListAddItem": _item("Added"),
    "HassShoppingListCompleteItem": _item("Checked off"), "HassListCompleteItem": _item("Checked off"),
    "HassListRemoveItem": _item("Removed"),
}
"""Intents whose response says a slot's value (HA's `{{ slots.x }}`)."""
