"""The Wyoming side of the intent service: a codec, as pure functions.

Bytes of an event's header -> a checked `Header`; an event -> a typed `Request`; the `Result`s of one
request (and the home they were resolved in) -> a typed `Reply` -> events out. Nothing here reads a
socket or the configuration, so the mapping is tested without a server, as `service.hermes` is for MQTT.

What Home Assistant does with the reply (its `wyoming` integration, conversation.py): it runs each
`intent` through its own intent handlers with the entities as slots (`{name: {"value": value}}`), so
entities must be what those handlers take (names, not entity ids; numbers as numbers); it speaks the
intent's `text` only where its handler said nothing; and it reads intents up to `intents-stop` after
an `intents-start`, else only the first. Older releases ignore event types they do not know, so a
list still gives them its first intent.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from wyoming.asr import Transcript
from wyoming.event import Event
from wyoming.info import Attribution, Info, IntentModel, IntentProgram
from wyoming.intent import Entity, Intent, IntentsStart, IntentsStop, NotRecognized, Recognize

from edge_nlu.domain.home import Home
from edge_nlu.domain.result import TARGETLESS_INTENTS, Result
from edge_nlu.errors import ErrorCode, InvalidInputError
from edge_nlu.sanitize import clean_text, loads
from edge_nlu.service.wyoming.confirm import confirmation

TRANSCRIPT = "transcript"
"""What Home Assistant sends a conversation agent (`text`, `language`, `context`)."""
RECOGNIZE = "recognize"
"""What Rhasspy 3 sends an intent service (`text`, `context`)."""
REQUEST_TYPES = (TRANSCRIPT, RECOGNIZE)
MAX_ID_CHARS = 256
"""Longest conversation, satellite or device id accepted (HA's are ULIDs, entity ids and 32-hex ids)."""
MAX_LANGUAGE_CHARS = 35
"""Longest language tag accepted (BCP 47 tags in use are far shorter)."""
MAX_TYPE_CHARS = 64
"""Longest event type accepted (wyoming's are a few words)."""
MAX_INTENTS = 8
"""Most intents in one reply: a compound request's parts, or one per device of a follow-up."""
MAX_PARTS = 4
"""A request with more ' and ' parts than this is never split."""
IDENTIFYING_SLOTS = frozenset({"name", "area", "floor", "domain", "device_class"})
"""Slots Home Assistant's handlers find devices by; an action with targets but none of these (a follow-up's
"turn it off") is sent as the targets' names."""
NOT_UNDERSTOOD = "Sorry, I couldn't understand that."
"""The spoken answer of `not-recognized` when the result has none of its own."""
WHICH_DEVICE = "Sorry, which device do you mean?"
"""The spoken answer of `not-recognized` for "turn it off" that refers to nothing (`switches_a_whole_area`)."""
PROGRAM = "edge-nlu"
"""The intent program's name: what Home Assistant calls the conversation agent."""
PROJECT_URL = ""
"""Attribution link in `info`; empty, as the project names no public address yet."""

_AND = re.compile(r"\s+and\s+", re.IGNORECASE)
_TEMPLATE = re.compile(r"\{[{%#]")


class EventError(InvalidInputError):
    """A Wyoming event that cannot be read: malformed framing or JSON, over the size cap, or a request
    of the wrong shape. The connection gets an `error` event with this code."""

    code = ErrorCode.INVALID_EVENT


class EventTooLarge(EventError):
    """An event over the size cap, refused before its data is read."""


# -- framing ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Header:
    """An event's first line, checked: what follows it and how long it is."""

    type: str
    """Event type (`describe`, `transcript`, ...)."""
    data: dict[str, Any]
    """Data given inline in the header line."""
    data_length: int = 0
    """Bytes of JSON data that follow the line (merged over `data`)."""
    payload_length: int = 0
    """Bytes of binary payload that follow the data."""


def decode_header(line: bytes, max_event_bytes: int) -> Header:
    """The header line of an event (without its newline); EventError for anything but a JSON object with a
    string `type`, an object `data` and non-negative lengths that keep the event within `max_event_bytes`."""
    if len(line) > max_event_bytes:
        raise EventTooLarge(f"event header is {len(line)} bytes; at most {max_event_bytes} are accepted")
    try:
        head = loads(line)
    except ValueError as exc:
        raise EventError(f"event header is not JSON: {str(exc)[:200]}") from None
    if not isinstance(head, dict):
        raise EventError("event header must be a JSON object")
    kind = head.get("type")
    if not isinstance(kind, str) or not kind or len(kind) > MAX_TYPE_CHARS:
        raise EventError(f"event type must be a string of 1 to {MAX_TYPE_CHARS} characters")
    data = head.get("data")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise EventError(f"{kind}: data must be a JSON object")
    lengths = [head.get("data_length"), head.get("payload_length")]
    for i, (key, n) in enumerate(zip(("data_length", "payload_length"), lengths, strict=True)):
        if n is None:
            lengths[i] = 0
        elif isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise EventError(f"{kind}: {key} must be a non-negative integer")
    data_length, payload_length = int(lengths[0] or 0), int(lengths[1] or 0)
    total = len(line) + 1 + data_length + payload_length
    if total > max_event_bytes:
        raise EventTooLarge(f"{kind} event is {total} bytes; at most {max_event_bytes} are accepted")
    return Header(type=kind, data=data, data_length=data_length, payload_length=payload_length)


def assemble(header: Header, data: bytes = b"", payload: bytes | None = None) -> Event:
    """The event, with the data bytes that followed the header merged over its inline data."""
    merged = dict(header.data)
    if data:
        try:
            more = loads(data)
        except ValueError as exc:
            raise EventError(f"{header.type}: data is not JSON: {str(exc)[:200]}") from None
        if not isinstance(more, dict):
            raise EventError(f"{header.type}: data must be a JSON object")
        merged.update(more)
    return Event(type=header.type, data=merged, payload=payload or None)


# -- requests -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One `transcript` (Home Assistant) or `recognize` (Rhasspy 3), validated."""

    text: str
    """What was said."""
    kind: str = TRANSCRIPT
    """The event it came as: `transcript` or `recognize` (which decides how several intents are sent)."""
    language: str | None = None
    """Language tag of the text (`en`, `en-US`), when the client says."""
    conversation_id: str | None = None
    """Conversation; the earlier turns of the same one resolve "it"."""
    satellite_id: str | None = None
    """The assist satellite that heard it (HA: its entity id)."""
    device_id: str | None = None
    """The device that heard it (HA: its device registry id)."""

    @property
    def heard_by(self) -> str | None:
        """The satellite, else the device: the request context's satellite id."""
        return self.satellite_id or self.device_id

    @classmethod
    def from_event(cls, event: Event) -> Request:
        """EventError unless `event` is a transcript or recognize with a string `text`, an object `context`
        and short string ids."""
        if event.type not in REQUEST_TYPES:
            raise EventError(f"a {event.type!r} event is not a request")
        data = event.data
        if not isinstance(data, dict):
            raise EventError(f"{event.type}: data must be a JSON object")
        text = data.get("text")
        if not isinstance(text, str):
            raise EventError(f"{event.type}.text must be a string")
        context = data.get("context")
        if context is None:
            context = {}
        if not isinstance(context, dict):
            raise EventError(f"{event.type}.context must be a JSON object")
        return cls(
            text=clean_text(text), kind=event.type,
            language=_opt_str(data, "language", f"{event.type}.language", MAX_LANGUAGE_CHARS),
            conversation_id=_opt_str(context, "conversation_id", f"{event.type}.context.conversation_id"),
            satellite_id=_opt_str(context, "satellite_id", f"{event.type}.context.satellite_id"),
            device_id=_opt_str(context, "device_id", f"{event.type}.context.device_id"),
        )

    def to_event(self) -> Event:
        """The event a client sends (what the tests and the benchmark send)."""
        context = {k: v for k, v in (("conversation_id", self.conversation_id), ("satellite_id", self.satellite_id),
                                     ("device_id", self.device_id)) if v is not None}
        if self.kind == RECOGNIZE:
            event = Recognize(text=self.text, context=context or None).event()
            if self.language is not None:  # not a field of wyoming's Recognize; read back all the same
                event.data["language"] = self.language
            return event
        return Transcript(text=self.text, context=context or None, language=self.language).event()


def _opt_str(d: dict[str, Any], key: str, where: str, limit: int = MAX_ID_CHARS) -> str | None:
    value = d.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise EventError(f"{where} must be a string of at most {limit} characters")
    return clean_text(value)


def speaks(language: str | None, languages: Sequence[str]) -> bool:
    """Whether a request in `language` is ours: no tag, or a tag whose primary language we speak (`en-GB`)."""
    if language is None:
        return True
    primary = language.replace("_", "-").split("-", 1)[0].lower()
    return primary in {x.lower() for x in languages}


def split_compound(text: str) -> list[str]:
    """The parts of "turn off the lights and lock the door" (split on ' and '); `[text]` when there is no
    ' and ', a part is empty, or there are more than `MAX_PARTS` parts. Whether the split is used is the
    caller's call: only when every part is an action (`is_action`)."""
    parts = [p.strip() for p in _AND.split(text.strip())]
    if len(parts) < 2 or len(parts) > MAX_PARTS or not all(parts):
        return [text]
    return parts


def is_action(result: Result, min_confidence: float) -> bool:
    """A part of a compound request that stands on its own: read at least this sure, with a Home Assistant
    intent that resolves in the home (devices, an answer, or an intent that needs none)."""
    return (result.recognized(min_confidence) and result.action is not None and bool(result.action.intent)
            and result.resolved)


# -- replies ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HaIntent:
    """One intent for Home Assistant's handlers: its name and slot values, and our answer to speak."""

    name: str
    """Home Assistant intent (`HassTurnOff`)."""
    entities: tuple[tuple[str, Any], ...] = ()
    """(slot, value) pairs, as HA's handlers take them: `name`, `area`, `domain`, `brightness`, ..."""
    text: str | None = None
    """Spoken answer (questions) or confirmation (actions); HA speaks it where its own handler has nothing to say."""

    @property
    def slots(self) -> dict[str, Any]:
        return dict(self.entities)

    def to_event(self) -> Event:
        return Intent(name=self.name, entities=[Entity(name=k, value=v) for k, v in self.entities],
                      text=self.text).event()

    @classmethod
    def from_event(cls, event: Event) -> HaIntent:
        intent = Intent.from_event(event)
        return cls(name=intent.name, entities=tuple((e.name, e.value) for e in intent.entities), text=intent.text)


@dataclass(frozen=True)
class Reply:
    """The answer to one request: intents, or none and the spoken reason (`not-recognized`)."""

    intents: tuple[HaIntent, ...] = ()
    """Recognized intents, in the order said; empty: not recognized."""
    text: str | None = None
    """Spoken answer of a `not-recognized`."""

    @property
    def recognized(self) -> bool:
        return bool(self.intents)

    def to_events(self, several: bool = True) -> list[Event]:
        """`not-recognized`; one `intent`; or, for several and a client that takes several, `intents-start`,
        the intents, `intents-stop` (else the first intent only)."""
        if not self.intents:
            return [NotRecognized(text=self.text or NOT_UNDERSTOOD).event()]
        if len(self.intents) == 1 or not several:
            return [self.intents[0].to_event()]
        return [IntentsStart().event(), *(i.to_event() for i in self.intents), IntentsStop().event()]

    @classmethod
    def from_events(cls, events: Iterable[Event]) -> Reply:
        """What a client makes of the events of one reply (the tests' reading of the wire)."""
        intents: list[HaIntent] = []
        for event in events:
            if NotRecognized.is_type(event.type):
                return cls(text=NotRecognized.from_event(event).text)
            if Intent.is_type(event.type):
                intents.append(HaIntent.from_event(event))
        return cls(intents=tuple(intents))


def reply_for(results: Sequence[Result], home: Home, min_confidence: float) -> Reply:
    """The reply to one request from its results (one, or one per part of a compound request, in order).

    Each recognized result with a Home Assistant intent gives intents (`intents_for`), except one that would
    switch a whole area (`switches_a_whole_area`); the reply is `not-recognized`, with the first result's answer
    or apology, when none does."""
    intents: list[HaIntent] = []
    unsure = False
    for result in results:
        if result.error is None and result.recognized(min_confidence) and result.action is not None \
                and result.action.intent:
            if switches_a_whole_area(result):
                unsure = True
                continue
            intents.extend(intents_for(result, home))
    if intents:
        return Reply(intents=tuple(intents[:MAX_INTENTS]))
    first = results[0] if results else None
    answer = first.response if first is not None and first.error is None else None
    return Reply(text=answer or (WHICH_DEVICE if unsure else NOT_UNDERSTOOD))


def switches_a_whole_area(result: Result) -> bool:
    """HassTurnOn/HassTurnOff that names no device, domain or device class and that edge-nlu resolved to no
    device: "turn it off" with no earlier turn (Home Assistant releases whose wyoming sends no conversation id),
    where the only slot is the satellite's area. HA's handlers would switch every device in that area (or refuse
    "cannot target all devices" without one), so it is not sent; the reply asks which device."""
    a = result.action
    return (a is not None and a.intent in ("HassTurnOn", "HassTurnOff") and not a.targets
            and not {"name", "domain", "device_class"} & a.slots.keys())


def intents_for(result: Result, home: Home) -> list[HaIntent]:
    """The intents of one result with an action: its slots as entities, and as text its answer (questions) or else
    Home Assistant's confirmation of the action (`confirm`: HA speaks nothing for an action otherwise). An action that
    acts on devices its slots do not name (a follow-up: "turn it off") names them, one intent per device
    (its friendly name, and its area's name where it has one), since HA's handlers find devices by name."""
    action = result.action
    if action is None or not action.intent:
        return []
    slots = {k: v for k, v in action.slots.items() if _wire_value(v)}
    if action.intent == "HassRespond" and result.response and "response" not in slots:
        slots["response"] = result.response
    answer = speech(result.response)
    if action.targets and not IDENTIFYING_SLOTS & slots.keys() and action.intent not in TARGETLESS_INTENTS:
        out = []
        for target in action.targets[:MAX_INTENTS]:
            entity = home.entity(target)
            if entity is None:
                continue
            named = {"name": entity.name, **slots}
            area = home.area(entity.area) if entity.area else None
            if area is not None:
                named["area"] = area.name
            text = answer or speech(confirmation(action.intent, named, [entity]))
            out.append(HaIntent(action.intent, tuple(named.items()), text))
        if out:
            return out
    targets = [e for e in (home.entity(t) for t in action.targets) if e is not None]
    text = answer or speech(confirmation(action.intent, slots, targets))
    return [HaIntent(action.intent, tuple(slots.items()), text)]


def _wire_value(value: Any) -> bool:
    """A slot value HA's slot schemas can take: a string, a finite number, a bool, or a list of strings."""
    if isinstance(value, bool | str | int):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, list) and all(isinstance(x, str) for x in value)


def speech(text: str | None) -> str | None:
    """Our answer as HA will speak it: HA renders an intent's text as a Jinja template when it looks like
    one, so text with template markers (a device named "{{ ... }}") is sent raw-quoted."""
    if text is None or not _TEMPLATE.search(text):
        return text
    return "{% raw %}" + text.replace("{% endraw %}", "") + "{% endraw %}"


# -- describe -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Description:
    """What `describe` answers: the program and its model."""

    version: str
    """edge-nlu's version."""
    model_name: str
    """The model's name (its directory's)."""
    model_version: str | None
    """The model's version (a prefix of its ONNX file's hash, from its manifest)."""
    languages: tuple[str, ...] = ("en",)
    """Languages the model reads."""
    description: str = "Offline, context-aware smart-home intent recognition"
    """One line about the program."""

    def info(self) -> Info:
        attribution = Attribution(name=PROGRAM, url=PROJECT_URL)
        model = IntentModel(name=self.model_name, attribution=attribution, installed=True,
                            description=f"{PROGRAM} model {self.model_name}", version=self.model_version,
                            languages=list(self.languages))
        program = IntentProgram(name=PROGRAM, attribution=attribution, installed=True,
                                description=self.description, version=self.version, models=[model])
        return Info(intent=[program])

    def to_event(self) -> Event:
        return self.info().event()

    @classmethod
    def from_event(cls, event: Event) -> Description:
        program = Info.from_event(event).intent[0]
        model = program.models[0]
        return cls(version=program.version or "", model_name=model.name, model_version=model.version,
                   languages=tuple(model.languages), description=program.description or "")
