"""Requests the home's devices play no part in: weather, time and date (timers: timers.py; lists: lists.py)."""

from __future__ import annotations

from datetime import datetime

from edge_nlu.domain.context import RequestContext
from edge_nlu.domain.result import Action
from edge_nlu.resolve import answers as respond
from edge_nlu.resolve.match import Request


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
    return None


def _weather(req: Request) -> Action:
    """HassGetWeather on the named weather entity, else the home's only one (as HA targets it)."""
    named = [e for e in req.entities if e.domain == "weather"]
    if named:
        return Action("HassGetWeather", {"name": named[0].name}, (named[0].id,))
    forecasts = [e for e in req.home.entities if e.domain == "weather"]
    return Action("HassGetWeather", {}, (forecasts[0].id,) if len(forecasts) == 1 else ())

