"""The result object (contract section 3), the one thing every front end returns."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

CONFIDENCE_DIGITS = 4
"""Decimals of the model confidence a result carries (the contract reports no more)."""


DEFAULT_MIN_CONFIDENCE = 0.5
"""The one confidence threshold (`min_confidence` in the serve config). Below it a query is not
recognized: the service answers `intentNotRecognized` and learning counts the turn as a defect. One
setting, so an answered turn can never be a defect signal (see Result.recognized)."""

TARGETLESS_INTENTS = frozenset({
    "HassNevermind", "HassRespond", "HassBroadcast", "HassGetCurrentDate", "HassGetCurrentTime",
    "HassShoppingListAddItem", "HassShoppingListCompleteItem", "HassStartTimer", "HassCancelAllTimers",
    "HassCancelTimer", "HassIncreaseTimer", "HassDecreaseTimer", "HassPauseTimer", "HassUnpauseTimer",
    "HassTimerStatus",
})
"""Home Assistant intents that do their work without a device (timers, the clock, a broadcast, the shopping
list): resolved without targets, so learning does not take "set a timer" for a failure."""


REQUIRED_SLOTS: dict[str, tuple[str, ...]] = {
    "HassMediaSearchAndPlay": ("search_query",), "HassLightSet": ("brightness", "color", "temperature", "color_temp"),
    "HassClimateSetTemperature": ("temperature",), "HassSetPosition": ("position",),
    "HassSetVolume": ("volume_level",), "HassListAddItem": ("item",), "HassShoppingListAddItem": ("item",),
    "HassStartTimer": ("hours", "minutes", "seconds"), "HassBroadcast": ("message",),
}
"""Home Assistant intents that do nothing without one of these slots (their slot combinations): "play" with
nothing to search for, "set the light" to no level or colour."""


QUESTION_INTENTS = frozenset({
    "HassGetState", "HassClimateGetTemperature", "HassGetWeather", "HassGetCurrentTime", "HassGetCurrentDate",
    "HassTimerStatus", "HassRespond",
})
"""Intents whose spoken answer is the outcome ("nobody is home"); for any other intent a reply without a
device is an apology ("there is no area called wet room"), not a result."""


def resolved_action(intent: str | None, targets: tuple[str, ...] | list[str], answered: bool = False,
                    slots: dict[str, Any] | None = None) -> bool:
    """An action that does something: it names devices, answers a question, or is an intent that needs no
    device, and it has what its intent needs to act (`REQUIRED_SLOTS`; not checked when `slots` is None)."""
    answered = answered and intent in QUESTION_INTENTS
    if intent is None or not (targets or answered or intent in TARGETLESS_INTENTS):
        return False
    need = REQUIRED_SLOTS.get(intent)
    return slots is None or need is None or any(slots.get(k) not in (None, "") for k in need)

@dataclass(frozen=True)
class Slot:
    """A slot span the model found, with character offsets into the request text."""

    type: str
    """Slot type in the model's label scheme."""
    value: str
    """The text of the span."""
    start: int
    """Offset of its first character."""
    end: int
    """Offset past its last character."""

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Slot:
        return cls(type=str(d["type"]), value=str(d["value"]), start=int(d["start"]), end=int(d["end"]))

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "value": self.value, "start": self.start, "end": self.end}


@dataclass(frozen=True)
class Alternative:
    """A next-best intent of the model, for a caller that wants to ask back or disambiguate."""

    intent: str
    """Intent label."""
    confidence: float
    """Its probability."""

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Alternative:
        return cls(intent=str(d["intent"]), confidence=float(d["confidence"]))

    def to_dict(self) -> dict[str, Any]:
        return {"intent": self.intent, "confidence": round(self.confidence, CONFIDENCE_DIGITS)}


@dataclass(frozen=True)
class NLU:
    """What the model read: intent and slots in its own label scheme."""

    intent: str
    """Intent label."""
    confidence: float
    """Softmax probability of that intent."""
    slots: tuple[Slot, ...] = ()
    """Slot spans, in text order."""
    alternatives: tuple[Alternative, ...] = ()
    """The next best intents, best first (contract section 3: up to 2)."""

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NLU:
        return cls(
            intent=str(d["intent"]),
            confidence=float(d["confidence"]),
            slots=tuple(Slot.from_dict(s) for s in d.get("slots") or []),
            alternatives=tuple(Alternative.from_dict(a) for a in d.get("alternatives") or []),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "intent": self.intent,
            "confidence": round(self.confidence, CONFIDENCE_DIGITS),
            "slots": [s.to_dict() for s in self.slots],
            "alternatives": [a.to_dict() for a in self.alternatives],
        }


@dataclass(frozen=True)
class Action:
    """The Home Assistant action the meaning maps to, resolved against the home."""

    intent: str | None
    """Home Assistant intent name, or None when the request is not about the home."""
    slots: dict[str, Any] = field(default_factory=dict)
    """Home Assistant slot names and values; numbers are numbers."""
    targets: tuple[str, ...] = ()
    """Entity ids the action acts on."""

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Action:
        return cls(
            intent=d.get("intent"),
            slots=dict(d.get("slots") or {}),
            targets=tuple(d.get("targets") or ()),
        )

    def to_dict(self) -> dict[str, Any]:
        return {"intent": self.intent, "slots": dict(self.slots), "targets": list(self.targets)}


@dataclass(frozen=True)
class Rewrite:
    """Set when learning changed the words before the model read them."""

    text: str
    """The text the model read instead."""
    source: str
    """precomputed, personal, global or taught."""
    score: float
    """How sure the rewriter was."""

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Rewrite:
        return cls(text=str(d["text"]), source=str(d["source"]), score=float(d["score"]))

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "source": self.source, "score": self.score}


@dataclass(frozen=True)
class ErrorInfo:
    """Why a request was rejected, with a machine-readable code."""

    code: str
    """Stable, machine-readable reason."""
    message: str
    """Human-readable explanation."""

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ErrorInfo:
        return cls(code=str(d["code"]), message=str(d["message"]))

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class Result:
    """One request's outcome; `error` is set instead of raising for bad input."""

    id: str | None
    """The request id, echoed."""
    text: str
    """The request text as received."""
    rewrite: Rewrite | None = None
    """Set when learning rewrote the request."""
    nlu: NLU | None = None
    """Model output."""
    action: Action | None = None
    """Resolved Home Assistant action."""
    response: str | None = None
    """Spoken answer for questions."""
    error: ErrorInfo | None = None
    """Set when the request was rejected."""

    def __post_init__(self) -> None:
        # the confidence is kept as the wire reports it, so that every decision taken on the object (thresholds,
        # the learning guard) is the one a reader of its dict would take, and from_dict(to_dict()) is the object
        if self.nlu is not None and self.nlu.confidence != round(self.nlu.confidence, CONFIDENCE_DIGITS):
            object.__setattr__(self, "nlu", replace(self.nlu, confidence=round(self.nlu.confidence, CONFIDENCE_DIGITS)))

    @property
    def confidence(self) -> float:
        """The model's confidence; 0 when the model did not read the request (an error)."""
        return float(self.nlu.confidence) if self.nlu is not None else 0.0

    def recognized(self, min_confidence: float) -> bool:
        """Read without error and at least this sure: the service answers it as an intent, not
        intentNotRecognized, and learning does not count it as a failure to understand."""
        return self.error is None and self.confidence >= min_confidence

    def succeeded(self, min_confidence: float) -> bool:
        """Looks like a working answer: recognized, and it acted on some device or answered a question.
        Learning's one rule for a turn that worked (the opposite is a defect-prone turn)."""
        return self.recognized(min_confidence) and self.resolved

    @property
    def resolved(self) -> bool:
        """The action does something (devices, an answer, or an intent that needs no device)."""
        a = self.action
        return a is not None and resolved_action(a.intent, a.targets, bool(self.response), a.slots)

    def resolution(self, min_confidence: float) -> int:
        """How far the request got: 0 not understood (an error, below `min_confidence`, or no action),
        1 understood but resolving to nothing it can do, 2 resolved. A learned rewrite must reach at least the
        original's level (learning never makes a request resolve worse)."""
        if not self.recognized(min_confidence) or self.action is None or self.action.intent is None:
            return 0
        return 2 if self.resolved else 1

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Result:
        return cls(
            id=d.get("id"),
            text=str(d.get("text") or ""),
            rewrite=Rewrite.from_dict(d["rewrite"]) if d.get("rewrite") else None,
            nlu=NLU.from_dict(d["nlu"]) if d.get("nlu") else None,
            action=Action.from_dict(d["action"]) if d.get("action") else None,
            response=d.get("response"),
            error=ErrorInfo.from_dict(d["error"]) if d.get("error") else None,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "rewrite": self.rewrite.to_dict() if self.rewrite else None,
            "nlu": self.nlu.to_dict() if self.nlu else None,
            "action": self.action.to_dict() if self.action else None,
            "response": self.response,
            "error": self.error.to_dict() if self.error else None,
        }
