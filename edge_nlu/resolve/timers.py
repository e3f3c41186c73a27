"""Timer control and "never mind", as Home Assistant's intents expect them.

The model has labels for starting a timer, not for cancelling, pausing, resuming, changing or
asking about one, nor for "never mind" (issue 12: the next model build learns them from HA's
templates). Until then these are read from the words, the way HA's own matcher reads them: they are
short, formulaic, and always say "timer" (or "never mind"). Which timer is meant is said by its name
("the pizza timer", "the timer for pizza"), by its starting duration ("my ten minute timer") or by
its room ("the kitchen timer"); HA's handlers take those as `name`, `start_hours|minutes|seconds`
and `area`, and a change as `hours|minutes|seconds`.
"""

from __future__ import annotations

import re
from typing import Any

from edge_nlu.domain.home import norm
from edge_nlu.domain.result import Action
from edge_nlu.resolve.match import Request
from edge_nlu.resolve.numbers import parse_duration, parse_number

_NEVERMIND = {"never mind", "nevermind", "never mind that", "forget it", "forget that", "cancel that"}
_CANCEL = re.compile(r"\b(?:cancel|stop|delete|end|clear|kill|remove|turn off|get rid of)\b")
_PAUSE = re.compile(r"\b(?:pause|hold|freeze)\b")
_RESUME = re.compile(r"\b(?:resume|continue|unpause|restart|carry on)\b")
_ADD = re.compile(r"\b(?:add|increase|extend)\b")
_TAKE = re.compile(r"\b(?:remove|decrease|subtract|take|reduce|shorten|knock)\b")
_STATUS = re.compile(r"\b(?:how (?:much time|long|many minutes)|time left|remaining|status|left on)\b")
_CHANGE_SPLIT = re.compile(r"\b(?:to|from|off|onto|on)\b")
_NAME_AFTER = re.compile(r"\btimer (?:named|called|for) (.+)$")
_BEFORE_TIMER = re.compile(r"^(.*?)\btimers?\b")
_UNITS = {"second", "seconds", "minute", "minutes", "hour", "hours", "half", "quarter", "and"}


_STOP = {"the", "my", "our", "a", "an", "all", "every", "this", "that", "these", "those", "current", "running",
         "active", "cancel", "stop", "delete", "end", "clear", "kill", "remove", "turn", "off", "get", "rid", "of",
         "pause", "hold", "freeze", "resume", "continue", "unpause", "restart", "carry", "on", "with", "add",
         "increase", "extend", "decrease", "subtract", "take", "reduce", "shorten", "knock", "how", "much", "long",
         "many", "time", "left", "is", "for", "in", "to", "from", "by", "status", "what", "whats", "please"}
"""Words that end a timer's name when reading back from 'timer'."""


def timer_action(req: Request) -> Action | None:
    """The HA timer intent (or HassNevermind) the words say, else None."""
    t = req.t
    if t in _NEVERMIND or t.startswith("never mind"):
        return Action("HassNevermind")
    words = set(t.split())
    if not words & {"timer", "timers"} or req.entities:  # a device named "... timer ..." is a device
        return None
    if _STATUS.search(t):
        return Action("HassTimerStatus", _which(req, t))
    if _ADD.search(t) and not _CANCEL.search(t):
        return _change(req, t, "HassIncreaseTimer", _ADD)
    if _TAKE.search(t) and re.search(r"\b(?:by|from|off)\b", t) and parse_duration(t) is not None:
        return _change(req, t, "HassDecreaseTimer", _TAKE)
    if _CANCEL.search(t):
        if "all" in words or "every" in words or ("timers" in words and "timer" not in words):
            return Action("HassCancelAllTimers", _area(req))
        return Action("HassCancelTimer", _which(req, t))
    if _PAUSE.search(t):
        return Action("HassPauseTimer", _which(req, t))
    if _RESUME.search(t):
        return Action("HassUnpauseTimer", _which(req, t))
    return None


def _change(req: Request, t: str, intent: str, verb: re.Pattern[str]) -> Action:
    """'add 5 minutes to the pizza timer', 'increase my timer by 2 minutes': the change and which timer."""
    if " by " in f" {t} ":
        described, delta_text = t.split(" by ", 1)
    else:
        said = verb.search(t)
        after = t[said.end():] if said else t
        parts = _CHANGE_SPLIT.split(after, maxsplit=1)
        delta_text, described = (parts[0], parts[1]) if len(parts) == 2 else (after, "")
    delta = parse_duration(delta_text)
    slots = _which(req, described)
    if delta is not None:
        slots.update(delta.to_slots())
    return Action(intent, slots)


def _which(req: Request, described: str) -> dict[str, Any]:
    """The slots that say which timer: its name, its starting duration, its room."""
    slots = _area(req)
    area = norm(str(slots.get("area", "")))
    name = None
    m = _NAME_AFTER.search(described)
    if m and parse_duration(m.group(1)) is None:
        name = m.group(1)
    if name is None:
        m = _BEFORE_TIMER.search(described)
        if m:
            # 'the lasagne timer', 'my eggs timer': the words right before 'timer', back to the first
            # word that cannot be part of a name (a determiner, a verb, a duration)
            kept: list[str] = []
            for w in reversed(m.group(1).split()):
                if w in _STOP or w in _UNITS or parse_number(w) is not None:
                    break
                kept.insert(0, w)
            candidate = " ".join(kept)
            if candidate and candidate != area:
                name = candidate
    if name:
        slots["name"] = name.strip()
    start = parse_duration(described if name is None else described.replace(name, " "))
    if start is not None:
        slots.update({f"start_{k}": v for k, v in start.to_slots().items()})
    return slots


def _area(req: Request) -> dict[str, Any]:
    return {"area": req.area.name} if req.area is not None else {}
