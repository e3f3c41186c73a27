"""The per-request context (contract section 2): where, when, who, and what came before."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from edge_nlu.errors import ErrorCode, InvalidInputError


def _opt_str(d: dict[str, Any], key: str) -> str | None:
    value = d.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInputError(f"context.{key} must be a string, got {value!r}", ErrorCode.INVALID_CONTEXT)
    return value or None


@dataclass(frozen=True)
class Satellite:
    """The device that heard the request."""

    id: str | None = None
    """Satellite id (Hermes siteId)."""
    has_screen: bool | None = None
    """Whether it can show video; decides movie vs audiobook for a bare title."""

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Satellite:
        if not isinstance(d, dict):
            raise InvalidInputError("context.satellite must be an object", ErrorCode.INVALID_CONTEXT)
        screen = d.get("has_screen")
        if screen is not None and not isinstance(screen, bool):
            raise InvalidInputError("context.satellite.has_screen must be true or false", ErrorCode.INVALID_CONTEXT)
        sid = d.get("id")
        return cls(id=str(sid) if sid is not None else None, has_screen=screen)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "has_screen": self.has_screen}


@dataclass(frozen=True)
class HistoryTurn:
    """An earlier turn of the same conversation."""

    text: str
    """What was said."""
    intent: str | None = None
    """The Home Assistant intent that was carried out."""
    targets: tuple[str, ...] = ()
    """Entity ids it acted on."""
    slots: dict[str, Any] = field(default_factory=dict)
    """Home Assistant slots it used."""

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HistoryTurn:
        if not isinstance(d, dict):
            raise InvalidInputError("context.history items must be objects", ErrorCode.INVALID_CONTEXT)
        text = d.get("text") or ""
        if not isinstance(text, str):
            raise InvalidInputError("context.history[].text must be a string", ErrorCode.INVALID_CONTEXT)
        action = d.get("action") or {}
        if not isinstance(action, dict):
            raise InvalidInputError("context.history[].action must be an object", ErrorCode.INVALID_CONTEXT)
        targets = action.get("targets") or []
        slots = action.get("slots") or {}
        if not isinstance(targets, list) or not isinstance(slots, dict):
            raise InvalidInputError(
                "context.history[].action needs a list of targets and an object of slots",
                ErrorCode.INVALID_CONTEXT,
            )
        intent = action.get("intent")
        return cls(
            text=text,
            intent=str(intent) if intent else None,
            targets=tuple(str(t) for t in targets),
            slots=dict(slots),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "action": {"intent": self.intent, "targets": list(self.targets), "slots": dict(self.slots)},
        }


@dataclass(frozen=True)
class RequestContext:
    """Everything about a request except its words. Every part is optional."""

    area: str | None = None
    """Area (name or id) of the listening satellite."""
    satellite: Satellite | None = None
    """The listening satellite."""
    time: datetime | None = None
    """Local time of the request."""
    user: str | None = None
    """Speaker id, if known."""
    history: tuple[HistoryTurn, ...] = ()
    """Earlier turns, oldest first."""
    state_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per-request state changes on top of the home."""

    @property
    def has_screen(self) -> bool:
        return bool(self.satellite and self.satellite.has_screen)

    @property
    def previous(self) -> HistoryTurn | None:
        return self.history[-1] if self.history else None

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> RequestContext:
        if d is None:
            return cls()
        if not isinstance(d, dict):
            raise InvalidInputError("context must be a JSON object", ErrorCode.INVALID_CONTEXT)
        sat = d.get("satellite")
        when = d.get("time")
        parsed_time: datetime | None = None
        if when is not None:
            if not isinstance(when, str):
                raise InvalidInputError("context.time must be an ISO time string", ErrorCode.INVALID_CONTEXT)
            try:
                parsed_time = datetime.fromisoformat(when.replace("Z", "+00:00"))
            except ValueError as exc:
                raise InvalidInputError(f"context.time {when!r} is not ISO 8601", ErrorCode.INVALID_CONTEXT) from exc
        history = d.get("history")
        history = [] if history is None else history
        if not isinstance(history, list):
            raise InvalidInputError("context.history must be a list", ErrorCode.INVALID_CONTEXT)
        overrides = d.get("state_overrides")
        overrides = {} if overrides is None else overrides
        if not isinstance(overrides, dict):
            raise InvalidInputError("context.state_overrides must be an object", ErrorCode.INVALID_CONTEXT)
        return cls(
            area=_opt_str(d, "area"),
            satellite=Satellite.from_dict(sat) if sat is not None else None,
            time=parsed_time,
            user=_opt_str(d, "user"),
            history=tuple(HistoryTurn.from_dict(h) for h in history),
            state_overrides={str(k): v for k, v in overrides.items()},
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.area is not None:
            out["area"] = self.area
        if self.satellite is not None:
            out["satellite"] = self.satellite.to_dict()
        if self.time is not None:
            out["time"] = self.time.isoformat()
        if self.user is not None:
            out["user"] = self.user
        if self.history:
            out["history"] = [h.to_dict() for h in self.history]
        if self.state_overrides:
            out["state_overrides"] = self.state_overrides
        return out
