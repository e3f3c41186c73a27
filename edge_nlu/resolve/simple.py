"""Requests the home's devices play no part in: weather, time and date, timers and lists."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from edge_nlu.domain.context import RequestContext
from edge_nlu.domain.home import norm
from edge_nlu.domain.result import Action
from edge_nlu.resolve import answers as respond
from edge_nlu.resolve.match import Request
from edge_nlu.resolve.numbers import parse_duration


def _now(ctx: RequestContext) -> datetime:
    return ctx.time or datetime.now()  # noqa: DTZ005 - local time is what the user means


def not_about_devices(req: Request) -> tuple[Action, str | None] | None:
    intent = req.nlu.intent
    if intent == "weather_query":
        return _weather(req), respond.weather_sentence(req.home)
    if intent == "datetime_query":
        if req.has("date", "day", "today", "what day", "month", "year"):
            return Action(intent="HassGetCurrentDate"), respond.date_sentence(_now(req.ctx))
        return Action(intent="HassGetCurrentTime"), respond.time_sentence(_now(req.ctx))
    if intent == "timer_set":
        duration = parse_duration(req.slot("time")) or parse_duration(req.t)
        return Action(intent="HassStartTimer", slots=duration.to_slots() if duration else {}), None
    if intent == "lists_createoradd":
        return _list_add(req), None
    return None


def _weather(req: Request) -> Action:
    """HassGetWeather on the named weather entity, else the home's only one (as HA targets it)."""
    named = [e for e in req.entities if e.domain == "weather"]
    if named:
        return Action("HassGetWeather", {"name": named[0].name}, (named[0].id,))
    forecasts = [e for e in req.home.entities if e.domain == "weather"]
    return Action("HassGetWeather", {}, (forecasts[0].id,) if len(forecasts) == 1 else ())


def _list_add(req: Request) -> Action:
    item = req.slot("item")
    if not item and " to " in f" {req.t} " and req.t.startswith(("add ", "put ")):
        item = req.t.split(" ", 1)[1].rsplit(" to ", 1)[0]
    list_name = norm(req.slot("list_name") or "")
    if not list_name:
        tail = req.t.rsplit(" to ", 1)[-1] if " to " in req.t else ""
        list_name = tail if tail.endswith("list") else ""
    words = [w for w in list_name.split() if w not in ("my", "the", "our", "list", "a")]
    slots: dict[str, Any] = {"item": item.strip()} if item else {}
    if not words or {"shopping", "grocery", "groceries"} & set(words):
        return Action(intent="HassShoppingListAddItem", slots=slots)
    slots["name"] = " ".join(words)
    return Action(intent="HassListAddItem", slots=slots)
