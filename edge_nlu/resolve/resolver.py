"""From meaning to action: the model's intent and slots, plus the context, become a Home
Assistant intent with its slots and the exact entities it targets.

The conventions of shared/context/README.md live here: the satellite's room by default,
group requests, previous turns and follow-ups, device state, the screen, habits, relative
requests, the night light, one robot per floor and HA's lock/cover mappings.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from edge_nlu.domain.context import RequestContext
from edge_nlu.domain.home import Area, Entity, Home, norm
from edge_nlu.domain.profiles import Profiles
from edge_nlu.domain.result import NLU, Action
from edge_nlu.domain.schema import HA_INTENT
from edge_nlu.resolve import answers as respond
from edge_nlu.resolve.broadcast import broadcast_action
from edge_nlu.resolve.covers import by_class
from edge_nlu.resolve.lights import light_values
from edge_nlu.resolve.lists import LIST_INTENTS, list_action
from edge_nlu.resolve.match import Request, understand
from edge_nlu.resolve.media import music_settings_intent, play, players, transport, transport_phrase
from edge_nlu.resolve.named import named_command
from edge_nlu.resolve.respond import about_assistant
from edge_nlu.resolve.simple import not_about_devices
from edge_nlu.resolve.state_query import ask, stated
from edge_nlu.resolve.timers import timer_action
from edge_nlu.sanitize import finite_float

QUESTIONS = {"HassGetState", "HassClimateGetTemperature", "HassGetWeather",
             "HassGetCurrentTime", "HassGetCurrentDate"}
MEDIA_TRANSPORT = {"HassMediaPause", "HassMediaUnpause", "HassMediaNext", "HassMediaPrevious",
                   "HassSetVolume"}
# What a level said about a device means, by its domain (rule 3).
LEVEL_BY_DOMAIN = {
    "light": ("HassLightSet", "brightness"),
    "cover": ("HassSetPosition", "position"),
    "valve": ("HassSetPosition", "position"),
    "media_player": ("HassSetVolume", "volume_level"),
    "climate": ("HassClimateSetTemperature", "temperature"),
}
VALUE_SLOTS = ("temperature", "brightness", "position", "volume_level", "color",
               "search_query", "media_class")
_INTENT_KIND = {
    "iot_hue_lighton": "light", "iot_hue_lightoff": "light", "iot_hue_lightchange": "light",
    "iot_hue_lightdim": "light", "iot_hue_lightup": "light", "iot_lock": "lock",
    "iot_unlock": "lock", "iot_cleaning": "vacuum", "iot_climate_set": "climate",
}
_COVER_INTENTS = {"iot_cover_open", "iot_cover_close", "iot_cover_set"}
_TEMP_WORDS = ("temperature", "warm", "hot", "cold", "degrees", "chilly", "heat")
_WARMER = ("warmer", "hotter", "up", "raise", "increase", "heat it up", "higher", "more")
_COOLER = ("cooler", "colder", "down", "lower", "decrease", "cool", "less", "reduce")
_TO_DOCK = ("dock", "base", "charger", "charging", "return", "go home", "back home", "send it home")
"""Words that send a robot vacuum back ('return the robovac to base', 'dock the hoover')."""
MAX_TEMPERATURE_STEP = 10
"""'Up two degrees' moves the setpoint; 'up, 22 degrees' is a setpoint (no one means +22)."""
_USUAL = ("usual", "normal", "regular", "favourite", "favorite", "same as always")
_NIGHT_NAMES = ("night light", "nightlight", "night lamp")
_HOME_WIDE = {"lock", "valve", "vacuum", "weather"}
_LEVEL_HA = {"HassLightSet", "HassSetPosition", "HassSetVolume", "HassClimateSetTemperature",
             "HassTurnOn", "HassTurnOff"}


def resolve(nlu: NLU, text: str, home: Home, ctx: RequestContext,
            profiles: Profiles) -> tuple[Action | None, str | None]:
    """The Home Assistant action and the spoken answer (questions only) for one request."""
    req = understand(nlu, text, home, ctx, profiles)
    action, answer = _resolve(req, nlu)
    if action is not None and action.intent in ("HassTurnOn", "HassTurnOff") and not action.targets:
        # the model read on/off but its spans named nothing here ("turn on the kiln" with "kiln" read as a
        # title): the whole request naming one device, as HA's own matcher reads it, decides
        by_name = named_command(req, None)
        if by_name is not None and by_name.intent == action.intent:
            return by_name, None
    return action, answer


def _resolve(req: Request, nlu: NLU) -> tuple[Action | None, str | None]:
    outright = timer_action(req) or broadcast_action(req)
    if outright is not None:
        return outright, None
    about_me = about_assistant(req)
    if about_me is not None:
        return about_me
    by_name = named_command(req, HA_INTENT.get(nlu.intent))
    if by_name is not None:
        return by_name, None
    skip = transport_phrase(req)
    if skip is not None and HA_INTENT.get(nlu.intent) not in MEDIA_TRANSPORT:
        return transport(req, skip), None
    if nlu.intent in LIST_INTENTS:
        return list_action(req), None
    if HA_INTENT.get(nlu.intent) is None:
        return _asked_anyway(req)
    ha = HA_INTENT[nlu.intent]
    remaining = _remaining_time(req)
    if remaining is not None:
        return remaining, _answer(req, remaining)
    simple = not_about_devices(req)
    if simple is not None:
        return simple
    asked = ask(req, ha)
    if asked is not None:
        return asked
    if req.unknown_area and req.area is None and not req.entities and not req.floor:
        return (Action(intent=_device_intent(req, ha), slots={"area": req.unknown_area}),
                respond.unknown_area_sentence(req.unknown_area))
    if req.is_follow_up():
        action = _follow_up(req)
        if action is not None:
            return _spoken(req, action)
    action = _about_previous(req, ha)
    if action is None:
        action = _dispatch(req, _device_intent(req, ha))
    return _spoken(req, action)


_QUESTION = re.compile(r"^(?:is|are|was|were|do|does|did|has|have|which|what|how many|who|where)\b")
"""How a question begins (the model's misreading is only overruled for questions)."""
_READING = re.compile(r"^(?:how's|hows|how is|what's|whats|what is|tell me)\b")
"""How a question for a sensor's reading begins."""


def _asked_anyway(req: Request) -> tuple[Action | None, str | None]:
    """A question the model read as something outside the home that HA's matcher still takes: time left
    ('how long is left?'), or a state question naming a room, floor or device of this home ('is there a
    leak in the utility room'). Questions only: nothing in the home changes on a misreading."""
    remaining = _remaining_time(req)
    if remaining is not None:
        return remaining, _answer(req, remaining)
    if (req.area is not None or req.floor is not None or req.entities) and _QUESTION.match(req.t):
        asked = ask(req, "HassGetState")
        if asked is not None:
            return asked
    sensors = [e for e in req.entities if e.domain in ("sensor", "binary_sensor")]
    if not req.entities and req.area is not None:  # a kind of sensor in a named room ('the co2 in the office')
        sensors = [e for e in req.home.in_area(req.area.id) if e.domain in ("sensor", "binary_sensor")
                   and any(k.matches(e) for k in req.kinds)]
    if len(sensors) == 1 and _READING.match(req.t):  # "how's the co2 in the office": HA's 'what is {name}'
        said = {"area": req.area.name} if req.area is not None else {}
        return _spoken(req, Action("HassGetState", {"name": sensors[0].name, **said}, (sensors[0].id,)))
    return None, None


def _spoken(req: Request, action: Action) -> tuple[Action, str | None]:
    """The action and its answer; a yes/no state question gets HA's state slot (state_query)."""
    return stated(req, action) or (action, _answer(req, action))


# -- intents the home decides ---------------------------------------------------------------

def _device_intent(req: Request, ha: str) -> str:
    """Correct the table's HA intent where the words or the device say otherwise."""
    intent = req.nlu.intent
    if intent == "music_settings":
        return music_settings_intent(req)
    if intent in _COVER_INTENTS:
        level = req.number()
        if intent == "iot_cover_set" and level is None:
            return "HassTurnOff" if req.has("close", "shut", "lower") else "HassTurnOn"
        if level is not None and level not in (0, 100):
            return "HassSetPosition"
    if intent in ("iot_hue_lighton", "iot_hue_lightoff") and req.number() is not None:
        return "HassLightSet"
    robot = intent == "iot_cleaning" or any(e.domain == "vacuum" for e in req.entities)
    if robot and req.has(*_TO_DOCK):
        return "HassVacuumReturnToBase"
    return ha


def _dispatch(req: Request, ha: str) -> Action:
    if ha == "HassMediaSearchAndPlay":
        return play(req)
    if ha == "HassLightSet" and _means_volume(req):
        return transport(req, "HassSetVolume")
    if ha in MEDIA_TRANSPORT:
        if ha == "HassSetVolume" or not req.entities or players(req.entities):
            return transport(req, ha)
    if ha == "HassClimateGetTemperature" or (ha == "HassGetState" and _temperature_question(req)):
        return _temperature(req, here_wins=True)
    if ha in ("HassVacuumStart", "HassVacuumReturnToBase"):
        return _vacuum(req, ha)
    if ha == "HassClimateSetTemperature":
        targets, slots = _targets(req, "climate", {"climate"})
        return _climate_set(req, targets, slots)
    domains = {"HassLightSet": {"light"}}.get(ha)
    req.everywhere = req.everywhere or _all_lights_off(req, ha)
    targets, slots = _targets(req, _INTENT_KIND.get(req.nlu.intent), domains)
    return _act(req, ha, targets, slots)


def _all_lights_off(req: Request, ha: str) -> bool:
    """'Turn off all the lights' with no room, floor or 'here' is every light in the home, as Home
    Assistant reads it (its light_all sentences; 'all the lights here' stays in the room)."""
    return (ha == "HassTurnOff" and not req.here and not req.entities and req.area is None
            and req.floor is None and req.has("all", "every", "each")
            and any(k.domain == "light" for k in req.kinds))


def _means_volume(req: Request) -> bool:
    """'turn it down' read as dimming while nothing says light but a player is playing."""
    if req.nlu.intent not in ("iot_hue_lightdim", "iot_hue_lightup") or req.entities:
        return False
    if any(k.domain == "light" for k in req.kinds) or req.slot("color_type"):
        return False
    area = req.scope_area
    pool = req.home.in_area(area.id) if area else req.home.entities
    return any(e.state == "playing" for e in players(pool))


def _act(req: Request, ha: str, targets: list[Entity], slots: dict[str, Any],
         values: dict[str, Any] | None = None) -> Action:
    """Apply the domain rules (lock/cover mappings, levels, night light) and build the action."""
    domains = {e.domain for e in targets}
    if domains == {"lock"} and req.nlu.intent in ("iot_cover_open", "iot_cover_close"):
        ha = "HassTurnOff" if req.nlu.intent == "iot_cover_open" else "HassTurnOn"
    if domains and domains <= {"cover", "valve"} and ha == "HassLightSet":
        ha = "HassSetPosition"
    if domains == {"media_player"} and ha == "HassLightSet":
        return transport(req, "HassSetVolume", targets)
    if domains == {"light"} and ha == "HassSetVolume":
        ha = "HassLightSet"
    if domains == {"climate"} and ha in ("HassLightSet", "HassSetVolume"):
        return _climate_set(req, targets, slots)
    if ha == "HassTurnOn" and domains == {"light"} and not req.entities:
        targets = _night_rule(req, targets)
    slots = dict(slots)
    if values:
        slots.update({k: v for k, v in values.items() if k in VALUE_SLOTS})
    if ha == "HassLightSet":
        usual = _usual(req, "HassLightSet", "brightness") if req.has(*_USUAL) else None
        slots.update(light_values(req, targets, slots, usual))
    elif ha == "HassSetPosition":
        pos = req.number()
        if pos is not None:
            slots["position"] = pos
        slots.setdefault("position", 50)
    elif ha == "HassGetState" and len(targets) == 1 and not slots.get("name"):
        slots["name"] = targets[0].name
    return Action(intent=ha, slots=slots, targets=tuple(sorted(e.id for e in targets)))


def _night_rule(req: Request, targets: list[Entity]) -> list[Entity]:
    """Rule 8: between 22:00 and 06:00 a general 'lights on' means the night light."""
    when = req.ctx.time
    if when is None or not (when.hour >= 22 or when.hour < 6) or req.has("all", "every"):
        return targets
    night = [e for e in targets if any(n in norm(x) for x in e.names() for n in _NIGHT_NAMES)]
    return night or targets


def _usual(req: Request, ha: str, slot: str) -> Any:
    """The value this user set most often for this intent in the history (rule 6)."""
    values = [t.slots[slot] for t in req.ctx.history if t.intent == ha and slot in t.slots]
    if not values:
        return None
    counts = Counter(str(v) for v in values)
    best = max(counts, key=lambda v: (counts[v], max(i for i, x in enumerate(values)
                                                      if str(x) == v)))
    return next(v for v in values if str(v) == best)


# -- which entities ---------------------------------------------------------------------------

def _targets(req: Request, default_kind: str | None,
             domains: set[str] | None = None) -> tuple[list[Entity], dict[str, Any]]:
    """Named entities, else every entity of the kind in the floor / area (rule 1 and 2)."""
    if req.entities:
        named = [e for e in req.entities if domains is None or e.domain in domains]
        if named:
            slots: dict[str, Any] = {"name": named[0].name} if len(named) == 1 else {}
            if req.area is not None:
                slots["area"] = req.area.name
            return named, slots
    kinds = [k for k in req.kinds if domains is None or k.domain in domains]
    if req.nlu.intent in _COVER_INTENTS:
        kinds = by_class(req.rest, _pool(req)) or [k for k in kinds if k.domain in ("cover", "valve", "lock")]
        if not kinds:
            kinds = [k for k in req.profiles.kinds if k.domain in ("cover", "valve")]
    default = req.profiles.kind(default_kind) if default_kind else None
    if default is not None and len({k.domain for k in kinds}) > 1 and default in kinds:
        kinds = [default]  # "light switch" in a lights request: the lights
    if not kinds and default is not None:
        kinds = [default]
    if not kinds:
        return [], _place_slots(req, req.scope_area)
    pool = _pool(req)
    found = [e for e in pool if any(k.matches(e) for k in kinds)]
    slots = _place_slots(req, req.scope_area if req.floor is None and not req.everywhere else None)
    if not found and req.area is None and req.floor is None and all(
            k.domain in _HOME_WIDE or k.device_class == "garage" for k in kinds):
        # a door lock or the garage is meant even when asked from another room
        found = [e for e in req.home.entities if any(k.matches(e) for k in kinds)]
        slots = {}
    if len({k.domain for k in kinds}) == 1:
        slots["domain"] = kinds[0].domain
        if kinds[0].device_class and len(kinds) == 1:
            slots["device_class"] = kinds[0].device_class
    return found, slots


def _pool(req: Request) -> list[Entity]:
    """The entities in play: the floor's, else the room's, else the whole home's ('everywhere')."""
    home = req.home
    if req.everywhere:
        return list(home.entities)
    if req.floor is not None:
        on_floor = {a.id for a in home.areas if a.floor == req.floor.id}
        if req.area is not None:
            on_floor = {req.area.id}
        return [e for e in home.entities if e.area in on_floor]
    area = req.scope_area
    return home.in_area(area.id) if area is not None else list(home.entities)


def _place_slots(req: Request, area: Area | None) -> dict[str, Any]:
    slots: dict[str, Any] = {}
    if area is not None:
        slots["area"] = area.name
    if req.floor is not None:
        slots["floor"] = req.floor.name
    return slots


# -- temperature, climate, state --------------------------------------------------------------

def _temperature_question(req: Request) -> bool:
    if any(k.domain not in ("climate", "sensor") or (k.domain == "sensor" and k.device_class
                                                     != "temperature") for k in req.kinds):
        return False
    named = req.entities
    if named and not all(e.domain == "climate" or req.profiles.is_cooking(e) for e in named):
        return False
    return req.has(*_TEMP_WORDS)


_REMAINING_ASK = re.compile(r"\b(?:how (?:long|much time|many minutes)|when will|time (?:left|remaining))\b")
_REMAINING_END = re.compile(r"\b(?:left|remaining|done|finished|finish|ready|over|end)\b")


def _is_remaining(e: Entity) -> bool:
    """A sensor of the time an appliance (or a timer-like device) has left."""
    return e.domain == "sensor" and (e.device_class == "duration" or any(
        w in norm(e.name) for w in ("remaining", "time left", "finish")))


def _remaining_of(req: Request, e: Entity) -> Entity | None:
    """The time-left sensor of a named device (same room, name starting with its name), or the sensor."""
    if _is_remaining(e):
        return e
    name = norm(e.name)
    return next((s for s in req.home.entities if _is_remaining(s) and s.area == e.area
                 and norm(s.name).startswith(name)), None)


def _appliance_of(req: Request, sensor: Entity) -> Entity | None:
    name = norm(sensor.name)
    return next((e for e in req.home.entities if e.domain != "sensor" and e.area == sensor.area
                 and name.startswith(norm(e.name))), None)


def _remaining_time(req: Request) -> Action | None:
    """'how long is left?', 'when will the washer be done': the time-left sensor of the named appliance,
    else of the one running (in the satellite's room first); with nothing running, the satellite's timer
    (HassTimerStatus, as Home Assistant answers it)."""
    if not (_REMAINING_ASK.search(req.t) and _REMAINING_END.search(req.t)):
        return None
    named = [s for s in (_remaining_of(req, e) for e in req.entities) if s is not None]
    if named:
        return Action("HassGetState", {}, tuple(sorted({e.id for e in named})))
    if req.entities:
        return None  # a device with no time-left sensor: an ordinary question about it
    running = [s for s in req.home.entities if _is_remaining(s)
               and (a := _appliance_of(req, s)) is not None and a.state == "on"]
    area = req.scope_area
    here = [s for s in running if area is not None and s.area == area.id]
    if here:
        return Action("HassGetState", {"area": area.name} if area else {}, tuple(sorted(e.id for e in here)))
    if running:
        return Action("HassGetState", {}, tuple(sorted(e.id for e in running)))
    return Action("HassTimerStatus", {})


def _sensor_of(req: Request, appliance: Entity) -> Entity | None:
    """The appliance's own temperature sensor: same room, name starting with its name."""
    cls = req.profiles.sensor_class(appliance) or "temperature"
    name = norm(appliance.name)
    for e in req.home.entities:
        if (e.domain == "sensor" and e.device_class == cls and e.area == appliance.area
                and norm(e.name).startswith(name)):
            return e
    return None


def _temperature(req: Request, here_wins: bool) -> Action:
    """Rule 4: an appliance that is on, else the room's climate, else its sensor."""
    said = {"area": req.area.name} if req.area is not None else {}  # 'the co2 in the office', as _targets
    for e in req.entities:
        if e.domain == "climate":
            return Action("HassClimateGetTemperature", {"name": e.name, **said}, (e.id,))
        sensor = e if e.domain == "sensor" else _sensor_of(req, e)
        if sensor is not None:
            return Action("HassGetState", {"name": sensor.name, **said}, (sensor.id,))
    if req.floor is not None and req.area is None:
        # "how warm is it upstairs": the climate devices of that floor, not the satellite's room
        on_floor = {a.id for a in req.home.areas if a.floor == req.floor.id}
        climates = [e for e in req.home.entities if e.domain == "climate" and e.area in on_floor]
        if climates:
            return Action("HassClimateGetTemperature", {"floor": req.floor.name},
                          tuple(sorted(e.id for e in climates)))
    area = req.scope_area
    slots = _place_slots(req, area)
    if area is None:
        climates = [e for e in req.home.entities if e.domain == "climate"]
        if len(climates) == 1:
            return Action("HassClimateGetTemperature", slots, (climates[0].id,))
        return Action("HassClimateGetTemperature", slots)
    room = req.home.in_area(area.id)
    if req.area is None and not (here_wins and req.here):
        cooking = [e for e in room if req.profiles.is_cooking(e) and e.state == "on"]
        sensors = [s for s in (_sensor_of(req, e) for e in cooking) if s is not None]
        if sensors:
            return Action("HassGetState", slots, tuple(sorted(s.id for s in sensors)))
    climates = [e for e in room if e.domain == "climate"]
    if climates:
        return Action("HassClimateGetTemperature", slots, tuple(sorted(e.id for e in climates)))
    # an appliance's probe (the oven's temperature) says nothing about the room
    probes = {s.id for s in (_sensor_of(req, e) for e in room if req.profiles.is_cooking(e)) if s is not None}
    sensors = [e for e in room if e.domain == "sensor" and e.device_class == "temperature" and e.id not in probes]
    return Action("HassGetState", slots, tuple(sorted(e.id for e in sensors)))


def _climate_set(req: Request, targets: list[Entity], slots: dict[str, Any]) -> Action:
    """Rule 7: an absolute, usual or relative temperature on the room's climate device."""
    targets = [e for e in targets if e.domain == "climate"]
    if not targets and req.scope_area is None:
        climates = [e for e in req.home.entities if e.domain == "climate"]
        targets = climates if len(climates) == 1 else []
    slots = dict(slots)
    cur = next((e.attributes.get("temperature") or e.attributes.get("current_temperature") for e in targets), None)
    value = req.level(finite_float(cur), MAX_TEMPERATURE_STEP, _WARMER, _COOLER)
    if value is None and req.has(*_USUAL):
        value = _usual(req, "HassClimateSetTemperature", "temperature")
    if value is None and "temperature" in slots:
        value = slots["temperature"]
    if value is None:
        warmer, cooler = req.has(*_WARMER), req.has(*_COOLER)
        if cur is not None and warmer != cooler:
            now = finite_float(cur)
            value = None if now is None else now + (1 if warmer else -1)
            value = int(value) if value is not None and value.is_integer() else value
    if value is not None:
        slots["temperature"] = value
        # Home Assistant refuses a target outside the device's range (climate.set_temperature validates
        # min_temp/max_temp, 7-35 by default): such a request ("to 218 degrees", a misheard 18) does nothing
        targets = [e for e in targets if _in_range(e, value)]
    return Action("HassClimateSetTemperature", slots, tuple(sorted(e.id for e in targets)))


def _in_range(e: Entity, value: Any) -> bool:
    v = finite_float(value)
    if v is None:
        return True
    lo, hi = finite_float(e.attributes.get("min_temp")), finite_float(e.attributes.get("max_temp"))
    fahrenheit = str(e.attributes.get("temperature_unit") or "").upper().endswith("F")
    lo = (45.0 if fahrenheit else 7.0) if lo is None else lo
    hi = (95.0 if fahrenheit else 35.0) if hi is None else hi
    return lo <= v <= hi


def _vacuum(req: Request, ha: str = "HassVacuumStart") -> Action:
    """Rule 9: the robot of the room's floor, or the only one (to start it, or send it back to its dock)."""
    robots = [e for e in req.home.entities if e.domain == "vacuum"]
    named = [e for e in req.entities if e.domain == "vacuum"]
    slots = _place_slots(req, req.area or (req.sat_area if not (named or req.floor) else None))
    if named:
        slots["name"] = named[0].name
        return Action(ha, slots, tuple(sorted(e.id for e in named)))
    floor = req.floor
    if floor is None and req.scope_area is not None:
        floor = req.home.floor_of(req.scope_area.id)
    chosen = robots
    if floor is not None and len(robots) > 1:
        on_floor = [e for e in robots if e.area and req.home.floor_of(e.area) == floor]
        chosen = on_floor or robots
    return Action(ha, slots, tuple(sorted(e.id for e in chosen)))


# -- previous turns ---------------------------------------------------------------------------

def _previous_targets(req: Request) -> list[Entity]:
    prev = req.ctx.previous
    if prev is None:
        return []
    return [e for e in (req.home.entity(t) for t in prev.targets) if e is not None]


def _fits(ha: str, targets: list[Entity]) -> bool:
    """Whether an HA intent can act on the previous turn's targets at all."""
    domains = {e.domain for e in targets}
    if ha in ("HassTurnOn", "HassTurnOff", "HassGetState"):
        return True
    if ha == "HassSetVolume":
        return domains <= {"media_player", "light", "climate"}
    if ha in MEDIA_TRANSPORT:
        return domains <= {"media_player"}
    if ha == "HassLightSet":
        return domains <= {"light", "cover", "valve", "media_player"}
    if ha == "HassSetPosition":
        return domains <= {"cover", "valve"}
    if ha in ("HassClimateSetTemperature", "HassClimateGetTemperature"):
        return domains <= {"climate"}
    return False


def _about_previous(req: Request, ha: str) -> Action | None:
    """Rule 3: it/them/that are the previous turn's targets; a level follows their domain."""
    if not req.pronoun or req.here or req.entities or req.area is not None or req.floor:
        return None
    prev = _previous_targets(req)
    ha = _device_intent(req, ha)
    if not prev or ha in ("HassMediaSearchAndPlay", "HassVacuumStart"):
        return None
    if req.kinds and not any(k.matches(e) for k in req.kinds for e in prev):
        return None
    domains = {e.domain for e in prev}
    level = req.number()
    if level is not None and ha in _LEVEL_HA and len(domains) == 1:
        domain = next(iter(domains))
        if domain in LEVEL_BY_DOMAIN:
            new_ha, slot = LEVEL_BY_DOMAIN[domain]
            if new_ha == "HassSetVolume":
                return transport(req, new_ha, prev)
            if new_ha == "HassClimateSetTemperature":
                return _climate_set(req, prev, {})
            return Action(new_ha, {slot: level}, tuple(sorted(e.id for e in prev)))
    if ha == "HassGetState" and _temperature_question(req):
        cooking = [s for s in (_sensor_of(req, e) for e in prev
                               if req.profiles.is_cooking(e)) if s is not None]
        if cooking:
            return Action(ha, {}, tuple(sorted(s.id for s in cooking)))
        if not all(e.domain == "climate" or e.device_class == "temperature" for e in prev):
            return None
    if not _fits(ha, prev):
        return None
    if ha in MEDIA_TRANSPORT and domains == {"media_player"}:
        return transport(req, ha, prev)
    if ha == "HassClimateSetTemperature":
        return _climate_set(req, prev, {})
    return _act(req, ha, prev, {})


def _follow_up(req: Request) -> Action | None:
    """'what about the X?': the previous intent and values for a new room or device."""
    prev = req.ctx.previous
    if prev is None or not prev.intent:
        return None
    ha = prev.intent
    values = {k: v for k, v in prev.slots.items() if k in VALUE_SLOTS}
    if req.area is None and req.floor is None and not req.entities:
        req.area = req.home.area(str(prev.slots.get("area") or "")) or None
    level = req.number()
    if req.entities and ha == "HassGetState" and any(_is_remaining(e) for e in _previous_targets(req)):
        # 'how long is left on the washer?' then 'and the dryer?': the dryer's time left
        found = [s for s in (_remaining_of(req, e) for e in req.entities) if s is not None]
        if found:
            return Action("HassGetState", {}, tuple(sorted(e.id for e in found)))
    if req.entities:
        return _act(req, ha, req.entities, {"name": req.entities[0].name}
                    if len(req.entities) == 1 else {}, values)
    if ha in ("HassClimateGetTemperature",) or (ha == "HassGetState" and _prev_is_temperature(req)):
        return _temperature(req, here_wins=False)
    if ha == "HassVacuumStart":
        return _vacuum(req)
    if ha == "HassMediaSearchAndPlay":
        base = play(req)
        slots = {**base.slots, **{k: v for k, v in values.items()
                                  if k in ("search_query", "media_class")}}
        return Action(ha, slots, base.targets)
    if ha in MEDIA_TRANSPORT:
        return transport(req, ha)
    old = _previous_targets(req)
    kinds = req.kinds or [k for k in req.profiles.kinds
                          if k.device_class is not None and any(k.matches(e) for e in old)]
    if not kinds:
        kinds = [k for k in req.profiles.kinds if any(k.matches(e) for e in old)]
    pool = _pool(req)
    found = [e for e in pool if any(k.matches(e) for k in kinds)]
    slots = _place_slots(req, req.scope_area if req.floor is None else None)
    if ha == "HassClimateSetTemperature":
        return _climate_set(req, [e for e in pool if e.domain == "climate"], {**slots, **values})
    if level is not None and found and found[0].domain in LEVEL_BY_DOMAIN:
        values[LEVEL_BY_DOMAIN[found[0].domain][1]] = level
    return _act(req, ha, found, slots, values)


def _prev_is_temperature(req: Request) -> bool:
    prev = _previous_targets(req)
    return bool(prev) and all(e.domain == "climate" or e.device_class == "temperature"
                              for e in prev)


def _answer(req: Request, action: Action) -> str | None:
    """The spoken answer where the action is a question."""
    if action.intent not in QUESTIONS:
        return None
    entities = [e for e in (req.home.entity(t) for t in action.targets) if e is not None]
    if action.intent == "HassClimateGetTemperature" and entities:
        area = req.home.area(entities[0].area)
        return " ".join(respond.temperature_sentence(e, area) for e in entities)
    if action.intent == "HassGetState":
        if not entities:
            return "I couldn't find that device."
        if all(e.domain == "sensor" for e in entities):
            return " ".join(respond.temperature_sentence(e, None) for e in entities)
        return respond.states_sentence(entities)
    if action.intent == "HassClimateGetTemperature":
        return "I couldn't find a thermostat or temperature sensor there."
    return None
