"""Record types shared by the store, the miner, the rewriter and the service."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from edge_nlu.domain.result import resolved_action

SIGNALS = ("barge_in", "not_recognized", "positive", "negative", "correction", "rephrase")
"""Signal kinds a turn can receive after it was answered."""
DEFECT_SIGNALS = frozenset({"barge_in", "not_recognized", "negative", "correction", "rephrase"})
"""Any of these after a turn makes it a defect."""
REWRITE_SOURCES = ("precomputed", "personal", "global", "taught")
MEANING_SLOTS = ("search_query", "item", "message", "temperature", "brightness", "position",
                 "volume_level", "color", "color_temp", "hours", "minutes", "seconds", "response")
"""Slots whose value is what was asked for, kept with a turn; names, areas and domains only say where."""

STOPWORDS = frozenset(
    "a an the to of off on in at for from by with and or is are was be it its it's this that these those "
    "me my i you your we our us please can could would will you'd i'd want like just now some any do does "
    "what what's whats how how's is there here up down turn switch set make put get".split()
)
"""Function words and the commonest command verbs: overlap in these says little about the request."""
_PUNCT = re.compile(r"[^\w\s']+")
_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """The state key of an utterance: case, accents-as-typed, punctuation and spacing folded."""
    t = unicodedata.normalize("NFKC", text).lower()
    t = _PUNCT.sub(" ", t)
    return _SPACE.sub(" ", t).strip()


@dataclass(frozen=True)
class TurnRecord:
    """One request as the interaction store keeps it."""

    ts: float
    """Request time, epoch seconds (the Hermes `time` field when given, else arrival)."""
    site: str
    """Hermes siteId."""
    text: str
    """What the satellite sent, before any rewrite."""
    query_id: str | None = None
    """Hermes query id; feedback refers to it."""
    session: str | None = None
    """Hermes sessionId."""
    user: str | None = None
    """Speaker, when known."""
    norm: str = ""
    """Normalised text (`normalize(text)` when left empty)."""
    rewrite_text: str | None = None
    """The text the model read instead, when learning rewrote the request."""
    rewrite_source: str | None = None
    """precomputed, personal, global or taught."""
    context_digest: str = ""
    """sha256[:16] of the context segment the model saw."""
    intent: str | None = None
    """NLU intent."""
    action: str | None = None
    """Home Assistant intent name, or None."""
    targets: tuple[str, ...] = ()
    """Entity ids acted on."""
    confidence: float = 0.0
    """NLU confidence."""
    recognized: bool = True
    """False when the answer was intentNotRecognized."""
    error_code: str | None = None
    """The result's error code, if any."""
    area: str | None = None
    """The area the request came from (the satellite's), as the context named it: where a habit holds."""
    slots: dict[str, Any] | None = None
    """The action's slots that carry what was asked for (a search, an item, a level; see `MEANING_SLOTS`):
    with the action and targets, what the turn meant, so that two users' different meanings of one phrase
    are told apart when mining. None: not recorded (a turn from before the store kept them)."""

    def __post_init__(self) -> None:
        if not self.norm:
            object.__setattr__(self, "norm", normalize(self.text))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TurnRecord:
        return cls(
            ts=float(d["ts"]), site=str(d["site"]), text=str(d["text"]), query_id=d.get("query_id"),
            session=d.get("session"), user=d.get("user"), norm=str(d.get("norm") or ""),
            rewrite_text=d.get("rewrite_text"), rewrite_source=d.get("rewrite_source"),
            context_digest=str(d.get("context_digest") or ""), intent=d.get("intent"), action=d.get("action"),
            targets=tuple(d.get("targets") or ()), confidence=float(d.get("confidence") or 0.0),
            recognized=bool(d.get("recognized", True)), error_code=d.get("error_code"), area=d.get("area"),
            slots=dict(d["slots"]) if isinstance(d.get("slots"), dict) else None,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "ts": self.ts, "site": self.site, "text": self.text, "query_id": self.query_id,
            "session": self.session, "user": self.user, "norm": self.norm, "rewrite_text": self.rewrite_text,
            "rewrite_source": self.rewrite_source, "context_digest": self.context_digest, "intent": self.intent,
            "action": self.action, "targets": list(self.targets), "confidence": self.confidence,
            "recognized": self.recognized, "error_code": self.error_code, "area": self.area,
            "slots": dict(self.slots) if self.slots is not None else None,
        }

    @property
    def resolved(self) -> bool:
        """Understood and acted on something (see `Result.resolution`); what a turn needs, besides no
        defect signal after it, to count as having worked."""
        return self.recognized and self.error_code is None and resolved_action(self.action, self.targets,
                                                                                slots=self.slots)

    def meaning(self) -> tuple[Any, ...]:
        """What the turn did, as mining compares outcomes: action, devices and the slots that carry content."""
        return (self.action, tuple(sorted(self.targets)),
                tuple(sorted((k, str(v).lower()) for k, v in (self.slots or {}).items())))


@dataclass(frozen=True)
class StoredTurn:
    """A turn read back from the store, with its row id and the signals that followed it."""

    id: int
    """Row id."""
    turn: TurnRecord
    """What was recorded."""
    signals: tuple[str, ...] = ()
    """Signal kinds received, oldest first."""

    @property
    def defect(self) -> bool:
        return any(s in DEFECT_SIGNALS for s in self.signals)

    @property
    def worked(self) -> bool:
        """No defect signal followed it and it resolved: only such a turn may be learned as an answer (a
        failing phrasing that merely ended an abandoned session is not)."""
        return not self.defect and self.turn.resolved


@dataclass(frozen=True)
class LearnedRewrite:
    """A rewrite applied before NLU."""

    src: str
    """Normalised source utterance."""
    dst: str
    """Text the model reads instead."""
    source: str
    """precomputed or taught (personal/global online rewrites are not stored)."""
    user: str | None = None
    """Only for this user; None for everyone."""
    score: float = 1.0
    """Probability of success through dst (precomputed), 1.0 for taught."""
    support: int = 0
    """Chains the miner saw through src."""
    meta: dict[str, Any] = field(default_factory=dict)
    """Miner details (src success rate, margin) for inspection."""

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LearnedRewrite:
        return cls(src=str(d["src"]), dst=str(d["dst"]), source=str(d["source"]), user=d.get("user"),
                   score=float(d.get("score", 1.0)), support=int(d.get("support", 0)), meta=dict(d.get("meta") or {}))

    def to_dict(self) -> dict[str, Any]:
        return {"src": self.src, "dst": self.dst, "source": self.source, "user": self.user, "score": self.score,
                "support": self.support, "meta": dict(self.meta)}


@dataclass(frozen=True)
class Preference:
    """Something a user taught: a liked genre or team, a name for a device, a phrase's meaning."""

    user: str
    """Who taught it."""
    kind: str
    """music_genre, team, alias or phrase."""
    key: str
    """music_genre/team: the value liked; alias: the new name; phrase: the normalised trigger phrase."""
    value: str
    """alias: the existing device name; phrase: the request it stands for; else the key as said."""
    ts: float = 0.0
    """When it was taught (epoch seconds)."""

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Preference:
        return cls(user=str(d["user"]), kind=str(d["kind"]), key=str(d["key"]), value=str(d["value"]),
                   ts=float(d.get("ts", 0.0)))

    def to_dict(self) -> dict[str, Any]:
        return {"user": self.user, "kind": self.kind, "key": self.key, "value": self.value, "ts": self.ts}
