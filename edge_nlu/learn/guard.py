"""The security guard of learning: a rewrite may fix how a request is read, never what it does to a lock.

A learned or taught rewrite replaces the words the model reads. Whoever can publish on the broker can
shape the traffic learning mines, so a rewrite is only kept (at mining time) and only used (per request)
when it neither changes the effect on a security-sensitive device (locks, alarm panels, valves, garage,
door and gate covers) nor flips an action to its opposite (on <-> off, open <-> close, lock <-> unlock,
arm <-> disarm, pause <-> play), whatever the device. Taught commands that touch such devices go through
a spoken confirmation instead (see `engine.SelfLearning`).
"""

from __future__ import annotations

import re
from typing import Any

from edge_nlu.domain.home import Home
from edge_nlu.domain.result import NLU, Action, Result

SENSITIVE_DOMAINS = frozenset({"lock", "alarm_control_panel", "valve"})
"""Every entity of these domains is security-sensitive."""
SENSITIVE_COVER_CLASSES = frozenset({"garage", "door", "gate"})
"""Covers of these device classes are entries to the house."""
_ENTRY_WORDS = re.compile(r"(?:^|[._\s])(?:garage|door|gate|entry|entrance)(?:$|[._\s])")
SENSITIVE_NLU_INTENTS = frozenset({"iot_lock", "iot_unlock", "alarm_set", "alarm_remove"})
"""Model intents about locks and alarms, sensitive even when no device was resolved."""
SENSITIVE_WORDS = re.compile(r"\b(?:un)?lock(?:s|ed)?\b|\bgarage\b|\bgates?\b|\bdoors?\b|\b(?:dis)?arm(?:ed)?\b|"
                             r"\balarms?\b|\bvalves?\b|\bsecurity\b|\bdeadbolt\b")
"""Words that make a taught command need confirmation even when the model resolves no device."""

# (group, sign): actions of one group with opposite signs undo each other
_HA_POLARITY = {
    "HassTurnOn": ("power", 1), "HassTurnOff": ("power", -1),
    "HassMediaUnpause": ("play", 1), "HassMediaPause": ("play", -1),
    "HassMediaNext": ("skip", 1), "HassMediaPrevious": ("skip", -1),
    "HassVacuumStart": ("vacuum", 1), "HassVacuumReturnToBase": ("vacuum", -1),
}
_NLU_POLARITY = {
    "alarm_set": ("alarm", 1), "alarm_remove": ("alarm", -1),
    "iot_lock": ("power", 1), "iot_unlock": ("power", -1),
    "iot_hue_lighton": ("power", 1), "iot_hue_lightoff": ("power", -1),
    "iot_wemo_on": ("power", 1), "iot_wemo_off": ("power", -1),
    "iot_cover_open": ("power", 1), "iot_cover_close": ("power", -1),
}
_EFFECT_SLOTS = ("position", "brightness", "temperature", "volume_level")
_DIRECTION_WORDS: dict[tuple[str, int], frozenset[str]] = {
    ("power", 1): frozenset({"on", "open", "opened", "lock", "locked", "start", "up", "raise"}),
    ("power", -1): frozenset({"off", "close", "closed", "shut", "unlock", "unlocked", "stop", "down", "lower"}),
    ("play", 1): frozenset({"play", "resume", "unpause", "continue"}),
    ("play", -1): frozenset({"pause", "stop", "hold"}),
    ("skip", 1): frozenset({"next", "forward", "skip"}),
    ("skip", -1): frozenset({"previous", "back", "last"}),
    ("vacuum", 1): frozenset({"start", "clean", "vacuum", "hoover"}),
    ("vacuum", -1): frozenset({"stop", "dock", "return", "home"}),
    ("alarm", 1): frozenset({"arm", "armed", "set"}),
    ("alarm", -1): frozenset({"disarm", "disarmed", "off"}),
}
"""Words that say a direction outright: a reading they back is what the words mean."""


def is_sensitive(entity_id: str, home: Home | None = None) -> bool:
    """Locks, alarm panels, valves, and covers that are a garage, door or gate (by device class, or by their
    id and name when the class is unknown, as at mining time without a home)."""
    domain = entity_id.split(".", 1)[0]
    if domain in SENSITIVE_DOMAINS:
        return True
    if domain != "cover":
        return False
    ent = home.entity(entity_id) if home is not None else None
    if ent is not None and ent.device_class:
        return ent.device_class in SENSITIVE_COVER_CLASSES
    words = entity_id.lower() + (" " + " ".join(ent.names()).lower() if ent is not None else "")
    return bool(_ENTRY_WORDS.search(words))


_NO_ACTION = Action(intent=None)


def _action(result: Result | None) -> Action:
    return result.action if result is not None and result.action is not None else _NO_ACTION


def _nlu_intent(result: Result | None) -> str | None:
    return result.nlu.intent if result is not None and result.nlu is not None and result.nlu.intent else None


def polarity(result: Result | None) -> tuple[str, int] | None:
    """(group, +1/-1) of what a parse does, or None when it has no direction (a level, a question, nothing)."""
    a = _action(result)
    intent = a.intent
    if intent in _HA_POLARITY:
        return _HA_POLARITY[str(intent)]
    if intent == "HassSetPosition":
        pos = a.slots.get("position")
        if isinstance(pos, (int, float)) and pos in (0, 100):
            return ("power", 1 if pos else -1)
        return None
    if intent:
        return None
    nlu = _nlu_intent(result)
    return _NLU_POLARITY.get(nlu) if nlu else None


def _effects(result: Result | None, home: Home | None) -> dict[str, tuple[Any, ...]]:
    """What the parse does to each sensitive thing it touches ("alarm:" stands for an unresolved alarm)."""
    a = _action(result)
    eff = (a.intent, *(a.slots.get(k) for k in _EFFECT_SLOTS))
    out = {str(t): eff for t in a.targets if is_sensitive(str(t), home)}
    nlu = _nlu_intent(result)
    if nlu in SENSITIVE_NLU_INTENTS and not out:
        out["alarm:" if nlu and nlu.startswith("alarm") else "lock:"] = (nlu,)
    return out


OPENS, NEUTRAL, SECURES = 0, 1, 2
"""How secure an effect leaves a sensitive device: unlock/open/disarm < nothing or a question < lock/close/arm."""
_QUESTIONS = frozenset({"HassGetState", "HassClimateGetTemperature"})


def security(entity: str, effect: tuple[Any, ...] | None) -> int | None:
    """OPENS, NEUTRAL or SECURES for an effect on a sensitive entity; None when it is none of these (a level,
    an unknown action): such a change is never allowed."""
    if effect is None or effect[0] is None or effect[0] in _QUESTIONS:
        return NEUTRAL
    head = effect[0]
    if entity in ("alarm:", "lock:"):  # the model's lock/alarm intent without a resolved device
        return SECURES if head in ("iot_lock", "alarm_set") else OPENS if head in ("iot_unlock", "alarm_remove") \
            else None
    domain = entity.split(".", 1)[0]
    if head == "HassSetPosition":
        pos = effect[1] if len(effect) > 1 else None
        return None if not isinstance(pos, (int, float)) else SECURES if pos == 0 else OPENS
    if domain == "lock":  # Home Assistant: turning a lock on locks it
        return {"HassTurnOn": SECURES, "HassTurnOff": OPENS}.get(head)
    if domain in ("cover", "valve"):  # turning a cover or valve on opens it
        return {"HassTurnOn": OPENS, "HassTurnOff": SECURES}.get(head)
    return None


def _more_secure(entity: str, before: tuple[Any, ...] | None, after: tuple[Any, ...] | None,
                 same_action: bool, original_failed: bool) -> bool:
    """The change leaves the device strictly more secure: locked/closed/armed where a failed original did
    nothing to it ("close the stop cook" resolving nothing -> closes the stopcock), or left out of the same
    action that opened it ("unlock the back eight" unlocking every lock -> only the back gate). Opening
    turned into a question is not allowed: "open the stopcock" must not become "is the stopcock open"; nor
    may a request that worked ("turn on the kitchen lights") be turned into locking something."""
    s0, s1 = security(entity, before), security(entity, after)
    if s0 is None or s1 is None or s1 <= s0:
        return False
    return (s1 == SECURES and original_failed) or (after is None and same_action)


def confidence(result: Result | None) -> float:
    return result.confidence if result is not None else 0.0


def said_direction(text: str, pol: tuple[str, int]) -> bool:
    """The words themselves say this direction (and not the other): "turn ON the lights", not "turn of"."""
    words = set(re.findall(r"[a-z]+", text.lower()))
    same, other = _DIRECTION_WORDS.get(pol, frozenset()), _DIRECTION_WORDS.get((pol[0], -pol[1]), frozenset())
    return bool(words & same) and not words & other


def check_rewrite(original: Result | None, rewritten: Result | None,
                  home: Home | None = None, sure: float = 0.0, text: str | None = None) -> str | None:
    """Why the rewritten parse may not replace the original one, or None when it may.

    "sensitive": it changes what happens to a lock, alarm, valve or entry cover (including acting on one
    where the original did not, or no longer acting on one the original did), unless the change only
    leaves that device more secure (locked, closed or armed where a failed original - no targets, or read
    with less than `sure` confidence - did nothing to it, or
    left out of the same action that unlocked or opened it): a rewrite can never open the house, and
    lock-ups that users rephrase ("bolt the front door") can still be learned. "opposite": it does the
    opposite of the original (on -> off, open -> close, pause -> play, ...) on the same devices, or when
    either side names none, when the model read the original with at least `sure` confidence and, given the
    original's words (`text`), those words say that direction outright. A confident reading the words back
    ("turn on the kitchen lights") is what they mean and must not be turned around; an unsure one ("douse
    the kitchen lights" read as turn on) or one the words do not back ("turn of the kitchen lights", misheard,
    read as turn on) is the misreading learning exists to fix. Sensitive devices have no such exception.
    """
    e0, e1 = _effects(original, home), _effects(rewritten, home)
    same = _action(original).intent is not None and _action(original).intent == _action(rewritten).intent
    failed = not _action(original).targets or confidence(original) < sure
    if any(e0.get(k) != e1.get(k) and not _more_secure(k, e0.get(k), e1.get(k), same, failed)
           for k in set(e0) | set(e1)):
        return "sensitive"
    return "opposite" if flips(original, rewritten, sure, text) else None


def flips(original: Result | None, rewritten: Result | None, sure: float = 0.0,
          text: str | None = None) -> bool:
    """The "opposite" rule of `check_rewrite` alone."""
    if not opposite(original, rewritten) or confidence(original) < sure:
        return False
    pol = polarity(original)
    return text is None or pol is None or said_direction(text, pol)


def opposite(original: Result | None, rewritten: Result | None) -> bool:
    """The rewritten parse undoes the original (same group, other sign) on the same devices, or when either
    side names none (an unresolved "lights off" must not become "lights on" somewhere)."""
    p0, p1 = polarity(original), polarity(rewritten)
    if p0 is None or p1 is None or p0[0] != p1[0] or p0[1] == p1[1]:
        return False
    t0 = set(_action(original).targets)
    t1 = set(_action(rewritten).targets)
    return not t0 or not t1 or bool(t0 & t1)


def touches_sensitive(result: Result | None, text: str = "", home: Home | None = None) -> bool:
    """A command that needs a spoken confirmation before it may be taught: it acts on a sensitive device,
    is about locks or alarms, or names one (checked on the words too, over-inclusive on purpose)."""
    return bool(_effects(result, home)) or bool(SENSITIVE_WORDS.search(text.lower()))


def turn_result(intent: str | None, action: str | None, targets: tuple[str, ...] | list[str],
                confidence: float = 1.0) -> Result:
    """A parse as far as the store records it (no text, no slots), for the mining-time check."""
    return Result(id=None, text="", nlu=NLU(intent, confidence) if intent else None,
                  action=Action(action, {}, tuple(targets)) if action else None)
