"""Hermes glue of the self-learning layer: feedback topics in, teachable-moment questions out.

Runs on the service's query thread, so a feedback message is applied in the order it came
relative to the queries (a barge-in marks the turn that was being spoken, not a later one).
"""

from __future__ import annotations

import hmac
import itertools
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from edge_nlu.domain.home import Home
from edge_nlu.domain.result import DEFAULT_MIN_CONFIDENCE, Result
from edge_nlu.learn.engine import Parser, SelfLearning
from edge_nlu.learn.settings import LearnSettings
from edge_nlu.learn.store import InteractionStore
from edge_nlu.sanitize import loads
from edge_nlu.service.hermes import HermesQuery

log = logging.getLogger("edge_nlu.service.app")

ASK_PREFIX = "edge-nlu-ask-"
FEEDBACK_SIGNALS = ("positive", "negative", "correction")
MAX_TRACKED = 1024
"""Sites whose unfinished TTS, and queries whose answer time, are remembered (oldest dropped first)."""
SPEAKING_TTL_S = 300.0
"""An unfinished `tts/say` older than this (host clock) no longer makes the next query a barge-in."""


def request_ts(when: str | None) -> float:
    """The Hermes `time` field as epoch seconds (naive = local time); arrival time otherwise."""
    if not when:
        return time.time()
    try:
        return datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return time.time()


class LearningBridge:
    """Owns the store and the `SelfLearning` engine for one running service."""

    def __init__(self, settings: LearnSettings, nlu: Parser, hermes: str, edge_nlu: str,
                 min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> None:
        self.settings = settings
        # resilient: a corrupt, read-only, full or deleted store degrades learning, never the answers
        self.store = InteractionStore(Path(settings.store), retention_days=settings.retention_days, resilient=True)
        self.engine = SelfLearning(nlu, self.store, settings, min_confidence=min_confidence)
        self.feedback_topic = f"{edge_nlu}/feedback"
        self.session_ended_topic = f"{hermes}/dialogueManager/sessionEnded"
        self.not_recognized_topic = f"{hermes}/nlu/intentNotRecognized"
        self.say_topic = f"{hermes}/tts/say"
        self.say_finished_topic = f"{hermes}/tts/sayFinished"
        self._hermes = hermes
        # site -> (session, say id, monotonic time) of a say not finished yet; bounded, entries expire
        self._speaking: OrderedDict[str, tuple[str | None, str | None, float]] = OrderedDict()
        # query id -> monotonic time it was answered: a correction must follow its answer closely
        self._answered: OrderedDict[str, float] = OrderedDict()
        self._ask_ids = itertools.count(1)
        self._last_learn = time.monotonic()

    def topics(self) -> list[str]:
        return [self.feedback_topic, self.not_recognized_topic, self.say_topic, self.say_finished_topic]

    def wants(self, topic: str) -> bool:
        return topic in self.topics() or topic == self.session_ended_topic

    # -- events ------------------------------------------------------------------------------------
    def on_event(self, topic: str, payload: bytes, arrival: float) -> str | None:
        """Apply one feedback-side message; returns why it was refused, or None."""
        try:
            data = loads(payload)  # strict UTF-8, lone surrogates replaced: the store needs encodable text
        except (ValueError, UnicodeDecodeError, RecursionError):
            return "not JSON"
        if not isinstance(data, dict):
            return "not a JSON object"
        site = data.get("siteId") if isinstance(data.get("siteId"), str) else None
        session = data.get("sessionId") if isinstance(data.get("sessionId"), str) else None
        if topic == self.feedback_topic:
            return self._feedback(data, site)
        if topic == self.session_ended_topic:
            term = data.get("termination")
            reason = term.get("reason") if isinstance(term, dict) else None
            if reason == "abortedByUser" and site is not None:  # no time of its own: it takes its turn's
                self.engine.barge_in(site, session, None)
            return None
        if topic == self.not_recognized_topic:
            qid = data.get("id")
            if isinstance(qid, str):  # our own answers come back here too; the engine marks a turn once
                self.engine.not_recognized(qid, None, site)
            return None
        if site is None:
            return "siteId missing"
        say_id = data.get("id") if isinstance(data.get("id"), str) else None
        if say_id is not None and say_id.startswith(ASK_PREFIX):
            return None  # our own question
        if topic == self.say_topic:
            if self.engine.site_allowed(site):
                _put(self._speaking, site, (session, say_id, time.monotonic()))
        elif topic == self.say_finished_topic:
            self._speaking.pop(site, None)
        return None

    def _feedback(self, data: dict[str, Any], site: str | None) -> str | None:
        qid, signal, text = data.get("id"), data.get("signal"), data.get("text")
        if not isinstance(qid, str) or signal not in FEEDBACK_SIGNALS:
            return f"feedback needs a string id and a signal in {FEEDBACK_SIGNALS}"
        if text is not None and not isinstance(text, str):
            return "feedback text must be a string"
        secret = self.settings.shared_secret
        token = data.get("token")
        if secret is not None and not (isinstance(token, str) and hmac.compare_digest(token.encode(), secret.encode())):
            return "feedback without the learning.shared_secret token"
        if site is not None and not self.engine.site_allowed(site):
            return f"site {site!r} is not in learning.allowed_sites"
        user = data.get("user")
        if user is not None and not isinstance(user, str):
            return "feedback user must be a string"
        when = data.get("time")
        ts = request_ts(when) if isinstance(when, str) and when else None
        answered = self._answered.get(qid)  # live, by the host clock: feedback follows its answer closely
        if answered is None or time.monotonic() - answered > self.settings.feedback_window_s:
            return f"feedback must follow its answer within {self.settings.feedback_window_s:g} s"
        return self.engine.feedback_refusal(qid, signal, ts, text, site=site, user=user)

    # -- queries -----------------------------------------------------------------------------------
    def handle(self, q: HermesQuery, ctx: dict[str, Any], home: Home, user: str | None) -> dict[str, Any]:
        """`handle_result` as the contract's result dict."""
        return self.handle_result(q, ctx, home, user).to_dict()

    def handle_result(self, q: HermesQuery, ctx: dict[str, Any], home: Home, user: str | None) -> Result:
        """Answer a query through the learning engine, marking a barge-in when it cut an answer off."""
        result, bookkeeping = self.answer(q, ctx, home, user)
        bookkeeping()
        return result

    def answer(self, q: HermesQuery, ctx: dict[str, Any], home: Home,
               user: str | None) -> tuple[Result, Callable[[], None]]:
        """`handle_result` in two steps (see `SelfLearning.answer`): the answer, its turn recorded, and the rest of
        the bookkeeping, which the service runs once the answer is published, before the next query."""
        ts = self.engine.clamp_ts(request_ts(q.time))
        speaking = self._speaking.pop(q.site_id, None)
        cut_off = speaking is not None and time.monotonic() - speaking[2] <= SPEAKING_TTL_S
        if q.user is None and user is not None and self.engine.site_allowed(q.site_id):
            self.engine.site_users[q.site_id] = user  # the configured default user of this site
        if q.id is not None and self.engine.site_allowed(q.site_id):
            _put(self._answered, q.id, time.monotonic())
        if cut_off and speaking is not None:
            # the answer was still being spoken: the user cut it off (marked before this turn is read, as it reads
            # the earlier turn's signals)
            self.engine.barge_in(q.site_id, speaking[0] if speaking[0] is not None else q.session_id, ts)
        return self.engine.answer(q.input, site=q.site_id, session=q.session_id, user=user, ts=ts, query_id=q.id,
                                  context=ctx, home=home)

    def questions(self) -> list[tuple[str, dict[str, Any]]]:
        """Teachable moments to ask over Hermes TTS."""
        out = []
        while self.engine.questions:
            site, session, text = self.engine.questions.popleft()
            out.append((f"{self._hermes}/tts/say", {"text": text, "siteId": site, "sessionId": session,
                                                   "id": f"{ASK_PREFIX}{next(self._ask_ids)}", "lang": "en"}))
        return out

    def tick(self) -> None:
        """Periodic: pick up `edge-nlu learn` results; learn by itself when configured to."""
        self.engine.reload()
        if self.engine.stale_indexes():  # `edge-nlu learn` ran elsewhere: rebuild here, off the query thread
            self.engine.refresh_indexes()
        every = self.settings.learn_interval_s
        if every > 0 and time.monotonic() - self._last_learn >= every:
            self._last_learn = time.monotonic()
            report = self.engine.learn()
            log.info("learned: %d precomputed, %d personal rewrites from %d chains",
                     report["precomputed"], report["personal"], report["chains"])

    def close(self) -> None:
        self.store.close()


def _put(d: OrderedDict[str, Any], key: str, value: Any) -> None:
    """Insert as newest; beyond MAX_TRACKED the oldest entries go."""
    d.pop(key, None)
    d[key] = value
    while len(d) > MAX_TRACKED:
        d.popitem(last=False)
