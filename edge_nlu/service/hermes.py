"""The Hermes side of the live service (contract section 5): a codec, as pure functions.

Bytes in -> typed query -> request context; a `Result` and plain values (topic prefixes, the
confidence threshold) out -> (topic, bytes) to publish. Nothing here touches the network or
reads the service's configuration, so the mapping is tested without a broker.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from edge_nlu.domain.home import norm
from edge_nlu.domain.result import ErrorInfo, Result, Slot
from edge_nlu.errors import ErrorCode, InvalidInputError
from edge_nlu.sanitize import MQTT_UNSAFE, clean_text

MAX_ID_CHARS = 256
# What cannot be one topic level: separators, wildcards, and what MQTT forbids in any topic (a
# siteId with a control character would otherwise knock the service off the broker when answered)
_TOPIC_UNSAFE = re.compile(f"[/#+]|{MQTT_UNSAFE.pattern}")


class QueryError(InvalidInputError):
    """A `hermes/nlu/query` payload that cannot be answered as a query.

    Carries what could still be read (`site_id`, `id`, `session_id`, `input`) so that the
    satellite that asked gets an `intentNotRecognized` instead of silence."""

    code = ErrorCode.INVALID_QUERY

    def __init__(self, message: str, partial: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.partial: dict[str, Any] = partial or {}


@dataclass(frozen=True)
class HermesQuery:
    """One validated `hermes/nlu/query`."""

    input: str
    """What was said (the ASR transcript)."""
    site_id: str
    """Satellite id; Hermes' default is `default`. Safe to put in a topic (no `/`, `+`, `#`)."""
    session_id: str | None = None
    """Dialogue session; the previous turn of the same (siteId, sessionId) resolves "it"."""
    id: str | None = None
    """Request id, echoed in the answers."""
    intent_filter: tuple[str, ...] | None = None
    """Intents the caller accepts; None (or an empty list on the wire) accepts any."""
    user: str | None = None
    """Speaker, when the satellite knows; else the site's default user."""
    time: str | None = None
    """ISO local time of the request, used instead of the arrival time (replays)."""
    custom_data: str | None = None
    """Hermes `customData`, passed through to the answer."""


def parse_query(payload: bytes, max_bytes: int = 256 * 1024) -> HermesQuery:
    """Validate a query payload; raises QueryError with whatever identifying fields were readable."""
    if len(payload) > max_bytes:
        raise QueryError(f"query payload is {len(payload)} bytes; at most {max_bytes} are accepted")
    try:
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise QueryError(f"query payload is not UTF-8 JSON: {str(exc)[:200]}") from exc
    if not isinstance(data, dict):
        raise QueryError("query payload must be a JSON object")
    if b"\\ud" in payload or b"\\uD" in payload:  # only a \uD800-\uDFFF escape can give a lone surrogate
        data = {k: _clean_field(v) for k, v in data.items()}
    partial = {k: data.get(k) for k in ("siteId", "id", "sessionId", "input")
               if isinstance(data.get(k), str) and len(data[k]) <= MAX_ID_CHARS * 8}
    site = data.get("siteId", "default")
    if not isinstance(site, str) or not site or len(site) > MAX_ID_CHARS or _TOPIC_UNSAFE.search(site):
        partial.pop("siteId", None)
        raise QueryError("siteId must be a non-empty string without '/', '+', '#' or control characters", partial)

    def opt_str(key: str) -> str | None:
        value = data.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or len(value) > MAX_ID_CHARS:
            raise QueryError(f"{key} must be a string of at most {MAX_ID_CHARS} characters", partial)
        return value

    text = data.get("input")
    if not isinstance(text, str):
        raise QueryError("input must be a string", partial)
    flt = data.get("intentFilter")
    if flt is not None and (not isinstance(flt, list) or not all(isinstance(x, str) for x in flt)):
        raise QueryError("intentFilter must be a list of intent names or null", partial)
    when = opt_str("time")
    if when is not None:
        try:
            datetime.fromisoformat(when.replace("Z", "+00:00"))
        except ValueError as exc:
            raise QueryError(f"time {when!r} is not ISO 8601", partial) from exc
    custom = data.get("customData")
    return HermesQuery(
        input=text, site_id=site, session_id=opt_str("sessionId"), id=opt_str("id"),
        intent_filter=tuple(flt) if flt else None, user=opt_str("user"), time=when,
        custom_data=custom if isinstance(custom, str) else None,
    )


def _clean_field(value: Any) -> Any:
    """Strings (and lists of strings) with lone surrogates replaced: everything read from a query
    is echoed in answers, stored and logged, all of which need text that encodes as UTF-8."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [clean_text(x) if isinstance(x, str) else x for x in value]
    return value


class SessionHistory:
    """Earlier turns per (siteId, sessionId), bounded in turns, conversations and idle time."""

    def __init__(self, turns: int = 4, max_sessions: int = 1024, ttl_s: float = 300.0) -> None:
        self.turns = turns
        self.max_sessions = max_sessions
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._data: OrderedDict[tuple[str, str], tuple[float, deque[dict[str, Any]]]] = OrderedDict()

    def get(self, site_id: str, session_id: str | None, now: float) -> list[dict[str, Any]]:
        """Turns of this conversation, oldest first; empty for a query without a session."""
        if session_id is None:
            return []
        with self._lock:
            entry = self._data.get((site_id, session_id))
            if entry is None or now - entry[0] > self.ttl_s:
                return []
            return list(entry[1])

    def record(self, site_id: str, session_id: str | None, turn: dict[str, Any] | None, now: float) -> None:
        if session_id is None or turn is None:
            return
        key = (site_id, session_id)
        with self._lock:
            entry = self._data.pop(key, None)
            turns = entry[1] if entry is not None and now - entry[0] <= self.ttl_s else deque(maxlen=self.turns)
            turns.append(turn)
            self._data[key] = (now, turns)
            while len(self._data) > self.max_sessions:
                self._data.popitem(last=False)

    def forget(self, site_id: str, session_id: str) -> None:
        """The session ended (`hermes/dialogueManager/sessionEnded`)."""
        with self._lock:
            self._data.pop((site_id, session_id), None)

    def __len__(self) -> int:
        return len(self._data)


class SiteInfo(Protocol):
    """What a query's context takes from the satellite's configuration (the service's `SiteSettings`)."""

    @property
    def area(self) -> str | None:
        """Area the satellite is in."""

    @property
    def has_screen(self) -> bool | None:
        """Whether it can show video."""

    @property
    def user(self) -> str | None:
        """Speaker to assume when a query names none."""


def build_context(query: HermesQuery, site: SiteInfo | None, history: list[dict[str, Any]],
                  arrival: str) -> dict[str, Any]:
    """The contract's request context for a query: the site's area and screen, the speaker, the time, history."""
    area, has_screen, site_user = (site.area, site.has_screen, site.user) if site is not None else (None, None, None)
    ctx: dict[str, Any] = {"satellite": {"id": query.site_id, "has_screen": has_screen},
                           "time": query.time or arrival}
    if area is not None:
        ctx["area"] = area
    user = query.user or site_user
    if user is not None:
        ctx["user"] = user
    if history:
        ctx["history"] = history
    return ctx


def next_turn(result: Result) -> dict[str, Any] | None:
    """What the next turn needs to know about this one (a context history entry): only turns that did
    something to the home."""
    action = result.action
    if result.error is not None or action is None or not action.intent:
        return None
    return {"text": result.text,
            "action": {"intent": action.intent, "targets": list(action.targets), "slots": dict(action.slots)}}


def intent_name(result: Result) -> str | None:
    """The action's Home Assistant intent when there is one, else the model's intent."""
    if result.action is not None and result.action.intent:
        return str(result.action.intent)
    return str(result.nlu.intent) if result.nlu is not None and result.nlu.intent else None


def topic_safe(name: str) -> str:
    """An intent name as one topic level."""
    return _TOPIC_UNSAFE.sub("_", name) or "_"


def intent_reply(query: HermesQuery, result: Result, min_confidence: float = 0.0,
                 prefix: str = "hermes") -> tuple[str, dict[str, Any]]:
    """(topic, payload): `<prefix>/intent/<intentName>` when recognized, else `<prefix>/nlu/intentNotRecognized`."""
    name = intent_name(result)
    reason = None
    if result.error is not None:
        reason = "error"
    elif name is None:
        reason = "no_intent"
    elif not result.recognized(min_confidence):
        reason = "low_confidence"
    elif query.intent_filter is not None and name not in query.intent_filter:
        reason = "filtered"
    payload: dict[str, Any] = {
        "input": result.text or query.input, "rawInput": query.input, "id": query.id,
        "siteId": query.site_id, "sessionId": query.session_id, "customData": query.custom_data,
        "intent": {"intentName": name, "confidenceScore": result.confidence},
        "slots": [] if reason else hermes_slots(result),
    }
    if reason:
        payload["reason"] = reason
        return f"{prefix}/nlu/intentNotRecognized", payload
    return f"{prefix}/intent/{topic_safe(name or '')}", payload


def not_recognized(partial: dict[str, Any], message: str, prefix: str = "hermes") -> tuple[str, dict[str, Any]]:
    """The answer to a query that could not be read at all."""
    return f"{prefix}/nlu/intentNotRecognized", {
        "input": partial.get("input", ""), "id": partial.get("id"), "siteId": partial.get("siteId"),
        "sessionId": partial.get("sessionId"), "intent": {"intentName": None, "confidenceScore": 0.0},
        "slots": [], "reason": "invalid_query", "error": message,
    }


_ENCODER = json.JSONEncoder(ensure_ascii=False)
"""One encoder for every answer (`json.dumps` with options builds a new one per call)."""


def encode(payload: dict[str, Any]) -> bytes:
    """A JSON payload as published: UTF-8, non-ASCII characters as themselves."""
    return _ENCODER.encode(payload).encode("utf-8")


@dataclass(frozen=True)
class HermesCodec:
    """Results out as the messages to publish, given the plain values the service was configured with."""

    hermes: str = "hermes"
    """Hermes topic prefix."""
    edge_nlu: str = "edge-nlu"
    """Prefix of edge-nlu's own topics (the full result per satellite)."""
    min_confidence: float = 0.0
    """Below this model confidence a query is answered intentNotRecognized."""

    def answer(self, query: HermesQuery, result: Result) -> list[tuple[str, bytes]]:
        """The Hermes answer (an intent or intentNotRecognized), then the full result on
        `<edge_nlu>/result/<siteId>`."""
        topic, payload = intent_reply(query, result, self.min_confidence, self.hermes)
        return [(topic, encode(payload)), (f"{self.edge_nlu}/result/{query.site_id}", encode(result.to_dict()))]

    def refusal(self, partial: dict[str, Any], error: ErrorInfo) -> list[tuple[str, bytes]]:
        """The answers to a query that is not answered (unreadable, or no room for it): intentNotRecognized and
        a result with the error, when what could be read names the satellite that asked; else none."""
        site = partial.get("siteId")
        if not isinstance(site, str) or not site:
            return []
        topic, payload = not_recognized(partial, error.message, self.hermes)
        result = Result(id=partial.get("id"), text=partial.get("input", ""), error=error)
        return [(topic, encode(payload)), (f"{self.edge_nlu}/result/{site}", encode(result.to_dict()))]


def hermes_slots(result: Result) -> list[dict[str, Any]]:
    """Home Assistant slots when there is an action (with the span they came from, when one matches),
    else the model's slots."""
    spans = list(result.nlu.slots) if result.nlu is not None else []
    confidence = result.confidence
    action = result.action
    if action is None or not action.intent:
        return [_slot(s.type, s.type, s.value, s.value, s, confidence) for s in spans]
    out = []
    for name, value in action.slots.items():
        span = _matching_span(value, spans)
        raw = span.value if span else (value if isinstance(value, str) else json.dumps(value))
        out.append(_slot(str(name), str(name), raw, value, span, confidence))
    return out




def _matching_span(value: Any, spans: list[Slot]) -> Slot | None:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    want = norm(str(value))
    if not want:
        return None
    for s in spans:
        got = norm(s.value)
        if got and (got == want or want in got or got in want):
            return s
    if isinstance(value, (int, float)):
        for s in spans:
            if re.search(rf"(?<!\d){re.escape(str(value))}(?!\d)", s.value):
                return s
    return None


def _slot(entity: str, slot_name: str, raw: Any, value: Any, span: Slot | None,
          confidence: float) -> dict[str, Any]:
    number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return {
        "entity": entity, "slotName": slot_name, "rawValue": str(raw),
        "value": {"kind": "Number" if number else "Custom", "value": value},
        "range": {"start": span.start, "end": span.end} if span else None,
        "confidenceScore": confidence,
    }
