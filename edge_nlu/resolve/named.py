"""Requests that are a device's whole name and a switch word, as Home Assistant's matcher reads them.

HA's templates match "turn on {name}", "turn {name} off", "{name} on" and a scene or script said by its
name alone ("movie night", "activate bedtime") against the names and aliases of the home, so a name
the model never heard still works there. Here the same sentences decide where the model read something
else (a name it did not know is often read as a title to play): the whole utterance must be one of
these shapes around the full name or alias of one device, so nothing longer or vaguer is taken.
"""

from __future__ import annotations

import re

from edge_nlu.domain.home import Entity, norm
from edge_nlu.domain.result import Action
from edge_nlu.resolve.match import Request

_VERB = r"(?:turn|switch|put|flick|power)"
_SWITCH = (
    re.compile(rf"^(?:please )?{_VERB} (?P<state>on|off) (?P<name>.+?)(?: please)?$"),
    re.compile(rf"^(?:please )?{_VERB} (?P<name>.+?) (?P<state>on|off)(?: please)?$"),
    re.compile(r"^(?P<name>.+?) (?P<state>on|off)(?: please)?$"),
)
_ACTIVATE = re.compile(r"^(?:please )?(?:(?:activate|run|start|trigger|turn on|switch on|set) )?"
                       r"(?P<name>.+?)(?: (?:scene|script|mode))?(?: please)?$")
_SWITCHABLE = frozenset({"switch", "light", "fan", "input_boolean", "media_player", "climate", "humidifier",
                         "valve", "cover"})
_DETERMINERS = ("the ", "my ", "our ")


def named_command(req: Request, model_ha: str | None) -> Action | None:
    """HassTurnOn/Off on the one device the whole request names, where the model read another intent."""
    t = req.t.strip(" .!?")
    if model_ha not in ("HassTurnOn", "HassTurnOff"):
        for pattern in _SWITCH:
            m = pattern.match(t)
            if m:
                e = _one(req, m.group("name"), _SWITCHABLE)
                if e is not None:
                    return Action("HassTurnOn" if m.group("state") == "on" else "HassTurnOff", {"name": e.name},
                                  (e.id,))
    if model_ha != "HassTurnOn":
        m = _ACTIVATE.match(t)
        if m:
            e = _one(req, m.group("name"), frozenset({"scene", "script"}))
            if e is not None:
                return Action("HassTurnOn", {"name": e.name}, (e.id,))
    return None


def _one(req: Request, said: str, domains: frozenset[str]) -> Entity | None:
    """The device of these domains whose full name or alias is `said`; several: the satellite's room's."""
    key = norm(said)
    while key.startswith(_DETERMINERS):
        key = key.split(" ", 1)[1]
    entities = req.home.entities
    found = [e for e in (entities[pos] for pos in req.names.by_name.get(key, ())) if e.domain in domains]
    area = req.home.area(req.ctx.area) if req.ctx.area else None
    if len(found) > 1 and area is not None:
        found = [e for e in found if e.area == area.id] or found
    return found[0] if len(found) == 1 else None
