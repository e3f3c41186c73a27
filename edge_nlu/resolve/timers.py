"""Timers and "never mind", as Home Assistant's intents expect them.

Starting a timer is the model's `timer_set`; HA's StartTimer takes the duration, a `name` ("a pizza
timer", "a timer called pizza") and, for a delayed command ("turn off the lights in 4 hours"), the
command to run when it ends as `conversation_command`.

Cancelling, pausing, resuming, changing or asking about a timer, and "never mind", are read from the
words whatever the model said (a model built before issue 12 has no label for them), the way HA's own
matcher reads them: they are short, formulaic, and always say "timer" (or "never mind"). Which timer
is meant is said by its name ("the pizza timer", "the timer for pizza"), by its starting duration
("my ten minute timer", "the timer for 2 hours") or by its room ("the kitchen timer"); HA's handlers
take those as `name`, `start_hours|minutes|seconds` and `area`, and a change as `hours|minutes|seconds`.
"""

from __future__ import annotations

import re
from typing import Any

from edge_nlu.domain.home import norm
from edge_nlu.domain.result import Action
from edge_nlu.resolve.match import Request
from edge_nlu.resolve.numbers import Duration, duration_spans, parse_duration, parse_number, spoken_fractions

_NEVERMIND = {"never mind", "nevermind", "never mind that", "forget it", "forget that", "cancel that"}
_CANCEL = re.compile(r"\b(?:cancel|stop|delete|end|clear|kill|remove|turn off|get rid of)\b")
_PAUSE = re.compile(r"\b(?:pause|hold|freeze)\b")
_RESUME = re.compile(r"\b(?:resume|continue|unpause|restart|carry on)\b")
_ADD = re.compile(r"\b(?:add|increase|extend)\b")
_TAKE = re.compile(r"\b(?:remove|decrease|subtract|take|reduce|shorten|knock)\b")
_STATUS = re.compile(r"\b(?:how (?:much time|long|many minutes)|time left|remaining|status|left on)\b")
_START = re.compile(r"^(?:please )?(?:set|start|create|make|begin|put)\b")
"""How a request to start a timer begins: its other words ('to turn off the lights') are not control."""
_CALLED = re.compile(r"\b(?:named|called) (.+)$")
_TIMER_FOR = re.compile(r"\btimers? for (.+)$")
_NAME_END = re.compile(r" (?:by|for|to|from|off) ")
"""Where a name said after 'called'/'for' ends: the change or the duration that follows it."""
_BEFORE_TIMER = re.compile(r"^(.*?)\btimers?\b")
_DELAY = re.compile(r"\b(?:in|after)\s*$", re.IGNORECASE)
_TIMER_INTENTS = frozenset({"timer_set", "timer_control"})
"""The model's readings of a request about a timer."""
_UNITS = {"second", "seconds", "minute", "minutes", "hour", "hours", "half", "quarter", "and"}

_STOP = {"the", "my", "our", "a", "an", "all", "every", "this", "that", "these", "those", "current", "running",
         "active", "cancel", "stop", "delete", "end", "clear", "kill", "remove", "turn", "off", "get", "rid", "of",
         "pause", "hold", "freeze", "resume", "continue", "unpause", "restart", "carry", "on", "with", "add",
         "increase", "extend", "decrease", "subtract", "take", "reduce", "shorten", "knock", "how", "much", "long",
         "many", "time", "left", "is", "for", "in", "to", "from", "by", "status", "what", "whats", "please",
         "set", "start", "create", "make", "begin", "put", "new", "another"}
"""Words that end a timer's name when reading back from 'timer'."""


def timer_action(req: Request) -> Action | None:
    """The HA timer intent (or HassNevermind) the words say, else None."""
    t = norm(spoken_fractions(req.text))
    if t in _NEVERMIND or t.startswith("never mind"):
        return Action("HassNevermind")
    starting = req.nlu.intent == "timer_set"
    if _says_timer(req, t) and not (starting and _START.search(t)):
        control = _control(req, t)
        if control is not None:
            return control
    return _start(req) if starting else None


def _says_timer(req: Request, t: str) -> bool:
    """'timer' is said, and not as part of a device's name ('the oven timer plug' is a device). Read as
    anything but a timer, a device named in full outside the durations ('the washer timer') is asked
    about ('Quiet hours' found in '3 hours' is not)."""
    if not set(t.split()) & {"timer", "timers"}:
        return False
    names = [norm(n) for e in req.entities for n in e.names()]
    if any("timer" in n for n in names):
        return False
    if req.nlu.intent in _TIMER_INTENTS:
        return True
    blanked = f" {t} "
    for start, end, _ in duration_spans(blanked):
        blanked = blanked[:start] + " " * (end - start) + blanked[end:]
    area = f" {norm(req.area.name)} " if req.area is not None else ""
    # 'the cinema room timer' is the room's, even in a home with a scene called 'Cinema'
    return not any(f" {n} " in blanked and f" {n} " not in area for n in names)


def _control(req: Request, t: str) -> Action | None:
    words = set(t.split())
    if _STATUS.search(t):
        return Action("HassTimerStatus", _which(req, t))
    if _ADD.search(t) and not _CANCEL.search(t):
        return _change(req, t, "HassIncreaseTimer")
    if _TAKE.search(t) and re.search(r"\b(?:by|from|off)\b", t) and duration_spans(t):
        return _change(req, t, "HassDecreaseTimer")
    if _CANCEL.search(t):
        if "all" in words or "every" in words or ("timers" in words and "timer" not in words):
            return Action("HassCancelAllTimers", _area(req))
        return Action("HassCancelTimer", _which(req, t))
    if _PAUSE.search(t):
        return Action("HassPauseTimer", _which(req, t))
    if _RESUME.search(t):
        return Action("HassUnpauseTimer", _which(req, t))
    return None


# -- starting one ------------------------------------------------------------------------------

def _start(req: Request) -> Action:
    """HassStartTimer: the duration, the timer's name, or the command it runs when it ends."""
    said = spoken_fractions(req.text)
    spans = duration_spans(said)
    duration: Duration | None = spans[0][2] if spans else None
    if duration is None:
        duration = parse_duration(req.slot("time")) or parse_duration(req.t)
    slots: dict[str, Any] = duration.to_slots() if duration else {}
    t = norm(said)
    if "timer" not in t.split() and "timers" not in t.split():
        command = _delayed_command(said, spans)
        if command:
            slots["conversation_command"] = command
        return Action("HassStartTimer", slots)
    name = _name(req, t)
    if name:
        slots["name"] = name
    return Action("HassStartTimer", slots)


def _delayed_command(said: str, spans: list[tuple[int, int, Duration]]) -> str | None:
    """'turn off the lights in 4 hours', 'after 10 minutes turn off the fan': the command, as said."""
    for start, end, _ in spans:
        delay = _DELAY.search(said[:start])
        if delay is None:
            continue
        rest = f"{said[:delay.start()]} {said[end:]}"
        command = " ".join(rest.split()).strip(" ,.;:!?")
        if command:
            return command
    return None


# -- which timer -------------------------------------------------------------------------------

def _change(req: Request, t: str, intent: str) -> Action:
    """'add 5 minutes to the pizza timer', 'increase my 2 hour timer by 10 minutes': the change, and
    which timer (a duration next to 'timer' is the one it was started with)."""
    spans = duration_spans(t)
    start = [s for s in spans if _starts_timer(t, s[0], s[1])]
    change = [s for s in spans if s not in start]
    if not change and len(start) > 1:
        change = [start.pop()]
    if len(change) > 1:  # 'increase the timer of 5 minutes by 2 minutes': the change follows 'by'
        after_by = [s for s in change if re.search(r"\bby\s*$", t[:s[0]])]
        change = after_by or change[:1]
    slots = _which(req, t, start[0][2] if start else None, look=False)
    if change:
        slots.update(change[0][2].to_slots())
    return Action(intent, slots)


def _starts_timer(t: str, start: int, end: int) -> bool:
    """A duration that describes the timer: 'the 2 hour timer', 'the timer for 2 hours'."""
    return bool(re.match(r"\s*timers?\b", t[end:]) or re.search(r"\btimers? (?:for|of)\s*$", t[:start]))


def _which(req: Request, t: str, start: Duration | None = None, look: bool = True) -> dict[str, Any]:
    """The slots that say which timer: its name, its starting duration (given, else any said where
    `look`), its room."""
    slots = _area(req)
    name = _name(req, t)
    if name:
        slots["name"] = name
    if start is None and look:
        spans = duration_spans(t.replace(name, " ") if name else t)
        start = spans[0][2] if spans else None
    if start is not None:
        slots.update({f"start_{k}": v for k, v in start.to_slots().items()})
    return slots


def _name(req: Request, t: str) -> str | None:
    """The timer's name: after 'called'/'named', after 'timer for' (when not a duration), else the
    words right before 'timer' back to the first word that cannot be part of a name; a room's name
    there says the room, not a name."""
    area = norm(req.area.name) if req.area is not None else ""
    for pattern in (_CALLED, _TIMER_FOR):
        m = pattern.search(t)
        if m is None:
            continue
        said = _NAME_END.split(m.group(1), maxsplit=1)[0].strip()
        if said and not _starts_with_duration(said) and said != area:
            return said
    m = _BEFORE_TIMER.search(t)
    if m is None:
        return None
    kept: list[str] = []
    for w in reversed(m.group(1).split()):
        if w in _STOP or w in _UNITS or parse_number(w) is not None:
            break
        kept.insert(0, w)
    candidate = " ".join(kept)
    if not candidate or (area and (candidate == area or candidate.endswith(f" {area}"))):
        return None
    return candidate


def _starts_with_duration(text: str) -> bool:
    spans = duration_spans(text)
    return (bool(spans) and spans[0][0] == 0) or parse_number(text.split()[0]) is not None


def _area(req: Request) -> dict[str, Any]:
    return {"area": req.area.name} if req.area is not None else {}
