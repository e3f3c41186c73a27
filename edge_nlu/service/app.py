"""`edge-nlu serve`: the live MQTT service (contract section 5).

Three kinds of thread, so that no slow work runs where it could stall another:

- paho's network thread sorts messages into two bounded queues, and answers a query that finds the
  service idle (nothing queued for the query thread, every earlier device message applied) itself,
  after its pass of the network loop: the answers go to the socket from the thread that read the
  query, with no hand-off between threads (each one costs a wake-up, which on a busy two-core hub is
  most of the service's own time);
- the ingest thread runs the adapters and applies their updates to the LiveHome, in batches;
- the query thread answers the rest in arrival order: queries behind a backlog or behind device
  messages not yet applied, and the learning side's feedback messages.

A query waits (at most `limits.state_wait_s`) for device messages that arrived before it, so an
answer reflects the state the speaker saw; no lock is held during inference, so queries are
answered while state pours in. With learning on, a query's turn is committed to the store before its
answers go out (an answered query is never lost to a crash), and the rest of learning's bookkeeping
(marking the turn it rephrases, which may run the rephrase detector) runs after them, on the same
thread, before the next query. Nothing a publisher sends can stop the service: oversized,
binary, malformed and unknown messages are counted and dropped, each bad topic logged once.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from edge_nlu.domain.home import Home
from edge_nlu.domain.live_home import EntityUpdate, LiveHome
from edge_nlu.domain.result import ErrorInfo, Result
from edge_nlu.errors import ConfigError, EdgeNLUError, ErrorCode
from edge_nlu.pipeline import EdgeNLU
from edge_nlu.service.adapters import registry
from edge_nlu.service.adapters.base import Adapter, AdapterError, CapReached
from edge_nlu.service.config import ServeSettings
from edge_nlu.service.hermes import (
    HermesCodec,
    HermesQuery,
    QueryError,
    SessionHistory,
    build_context,
    next_turn,
    parse_query,
)
from edge_nlu.service.mqtt import MqttLink
from edge_nlu.service.routes import TopicRoutes
from edge_nlu.service.timers import BadTimerAction, TimerBook, done_text, instant

if TYPE_CHECKING:  # imported when learning is configured (the engine's numeric stack is not needed otherwise)
    from edge_nlu.service.ha_client import HaStateSource
    from edge_nlu.service.learning import LearningBridge

log = logging.getLogger("edge_nlu.service.app")

TRACE_ENV = "EDGE_NLU_TRACE"
"""Names a JSON-lines file: the service then stamps each query's stages (perf_counter_ns, one clock for every
process on the host) and writes them there on stop, for benchmarks/service_overhead.py. Unset: no stamps."""
TRACE_STAGES = ("recv", "dequeued", "query_read", "context", "parsed", "encoded", "published", "done")
"""The stamps of a traced query, in order."""
TRACE_MAX = 100_000
"""Traced queries kept (the rest are not stamped)."""
PILED_UP_BYTES = 256
"""Unread bytes after answering on the network thread past which later queries go to the query thread: more than
the PUBACKs of the answers (4 bytes each) and a query or two; under a flood the network thread keeps reading, so
the bounded query queue refuses the excess (`overloaded`) as it did before queries were answered there."""
BATCH = 256
"""Device messages applied to the home in one go (one snapshot rebuild per batch, not per message)."""
MAX_LOGGED_TOPICS = 4096
"""Distinct bad topics remembered for log-once; past this, bad messages are only counted."""
COUNTERS = ("messages", "ingested", "retained", "rejected", "ignored", "adapter_errors", "queries", "answered",
            "invalid_queries", "overloaded", "errors", "connects", "learning_errors")


@dataclass(frozen=True)
class _Pending:
    """A query as it arrived, before parsing (parsing is the worker's job)."""

    payload: bytes
    """Raw payload."""
    seq: int
    """Device messages enqueued before it; the worker waits until these are applied."""
    arrival: str
    """Local arrival time, ISO; the context's time unless the query brings its own."""
    recv_ns: int = 0
    """perf_counter_ns() on the network thread when it came in (for the trace)."""


@dataclass(frozen=True)
class _Event:
    """A feedback-side message (learning), queued with the queries to keep their order."""

    topic: str
    """Where it came from."""
    payload: bytes
    """Raw payload."""
    arrival: float
    """Epoch seconds at arrival."""


class Service:
    """The running service; `run()` blocks until stopped, `start()`/`stop()` for embedding and tests."""

    def __init__(self, settings: ServeSettings, nlu: EdgeNLU | None = None,
                 adapters: list[Adapter] | None = None, *, inline: bool = True) -> None:
        """`inline=False` sends every query through the query thread (the tests compare both paths)."""
        from edge_nlu.settings import RuntimeSettings

        self.settings = settings
        lim = settings.limits
        self.nlu = nlu or EdgeNLU(RuntimeSettings(model_dir=settings.model_dir, threads=settings.threads), home=Home())
        base = Home.load(settings.home_path) if settings.home_path else Home()
        self.home = LiveHome(base, max_entities=lim.max_devices)
        self.adapters: list[Adapter] = adapters if adapters is not None else build_adapters(settings)
        self._routes = TopicRoutes(a.subscriptions() for a in self.adapters)
        self.history = SessionHistory(lim.history_turns, lim.max_sessions, lim.session_ttl_s)
        self.timers = TimerBook()
        t = settings.topics
        self.query_topic = f"{t.hermes}/nlu/query"
        self.session_ended_topic = f"{t.hermes}/dialogueManager/sessionEnded"
        self.status_topic = f"{t.edge_nlu}/status"
        self.codec = HermesCodec(hermes=t.hermes, edge_nlu=t.edge_nlu, min_confidence=settings.min_confidence)
        self.learning: LearningBridge | None = None
        self.ha: HaStateSource | None = None
        """Live state from Home Assistant (`home_assistant:` in the config), started with the service."""
        if settings.learning is not None:
            from edge_nlu.service.learning import LearningBridge

            try:
                self.learning = LearningBridge(settings.learning, self.nlu, t.hermes, t.edge_nlu,
                                               min_confidence=settings.min_confidence)
            except Exception as exc:  # learning is an extra: without it the hub still answers
                detail = f"[{exc.code}] {exc.message}" if isinstance(exc, EdgeNLUError) else repr(exc)
                log.error("self-learning is OFF: cannot start it with store %s: %s; answering without learning "
                          "(fix the store, then restart)", settings.learning.store, detail,
                          exc_info=not isinstance(exc, EdgeNLUError))
        self._queries: queue.Queue[_Pending | _Event | None] = queue.Queue(lim.max_queued_queries)
        self._messages: queue.Queue[tuple[int, str, bytes, bool] | None] = queue.Queue(lim.max_queued_messages)
        self._enqueued = 0  # written by the network thread only
        self._inline = inline
        self._idle_items: list[_Pending | _Event] = []
        """Queries (and what follows them in the same network pass) to answer on the network thread."""
        self._handed = 0  # items put on the query queue; written by the network thread only
        self._piled_up = False
        """Messages piled up while the network thread answered: queries go to the query thread (and its bounded
        queue, past which they are refused as overloaded) until it has caught up."""
        self._piled_at = 0  # `_handed` when they did
        self._finished = 0  # items the query thread is done with; written by the query thread only
        self._applied = 0
        self._applied_cond = threading.Condition()
        self._counts = dict.fromkeys(COUNTERS, 0)
        self._count_lock = threading.Lock()
        self._logged: set[str] = set()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._trace_path = os.environ.get(TRACE_ENV) or None
        self._trace: list[tuple[str | None, list[int]]] | None = [] if self._trace_path else None
        self.link = MqttLink(settings.broker, self.status_topic, self._on_message, self._all_topics,
                             on_connected=lambda: self._count("connects"), on_idle=self._answer_idle)
        reliable = {self.query_topic, self.session_ended_topic}
        if self.learning is not None:
            reliable |= set(self.learning.topics())
        self.link.reliable_topics = frozenset(reliable)

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        loops: list[tuple[str, Callable[[], object]]] = [
            ("edge-nlu-ingest", self._ingest_loop), ("edge-nlu-query", self._query_loop),
            ("edge-nlu-stats", self._stats_loop), ("edge-nlu-census", self._census),
            ("edge-nlu-timers", self._timer_loop)]
        if self.learning is not None:
            loops.append(("edge-nlu-learn", self._learn_loop))
        for name, target in loops:
            th = threading.Thread(target=target, name=name, daemon=True)
            th.start()
            self._threads.append(th)
        if self.settings.home_assistant is not None:
            try:  # an extra source: when it cannot start, the MQTT service still answers
                from edge_nlu.service.ha_client import HaStateSource

                self.ha = HaStateSource(self.settings.home_assistant, self.home)
                self.ha.start()
            except Exception:
                log.exception("cannot start the Home Assistant state source; serving without it")
        self.link.start()
        log.info("edge-nlu serving %s (%d adapters, model %s)", self.settings.broker.uri, len(self.adapters),
                 self.settings.model_dir)

    def stop(self, timeout: float = 3.0) -> None:
        """Answer what is queued, publish `offline`, disconnect."""
        if self._stop.is_set():
            return
        self._stop.set()
        for q in (self._queries, self._messages):
            try:
                q.put(None, timeout=timeout)
            except queue.Full:
                pass
        deadline = time.monotonic() + timeout
        for th in self._threads:
            th.join(max(0.0, deadline - time.monotonic()))
        self.link.stop()
        if self.ha is not None:
            self.ha.stop()
        if self.learning is not None:
            self.learning.close()
        self._write_trace()
        log.info("edge-nlu stopped: %s", self.counters())

    def _write_trace(self) -> None:
        if self._trace is None or self._trace_path is None:
            return
        try:
            with open(self._trace_path, "w", encoding="utf-8") as f:
                for qid, stamps in self._trace:
                    f.write(json.dumps({"id": qid, **dict(zip(TRACE_STAGES, stamps, strict=False))}) + "\n")
        except OSError as exc:
            log.warning("cannot write the trace to %s: %s", self._trace_path, exc)

    def run(self, stop: threading.Event) -> None:
        """Serve until `stop` is set (signal handler) or the broker refuses our login (raises BrokerError)."""
        self.start()
        try:
            while not stop.wait(0.2):
                if self.link.fatal is not None:
                    break
        finally:
            self.stop()
        if self.link.fatal is not None:
            raise self.link.fatal

    def counters(self) -> dict[str, int]:
        """Counters since start: messages seen, updates ingested, rejected, queries, errors, ..."""
        with self._count_lock:
            out = dict(self._counts)
        out["entities"] = len(self.home)
        out["queued_queries"] = self._queries.qsize()
        out["queued_messages"] = self._messages.qsize()
        if self.learning is not None:
            health = self.learning.store.health()
            out["store_degraded"] = int(health["state"] != "ok")
            out["store_dropped_writes"] = health["dropped_writes"]
        if self.ha is not None:
            out.update({f"ha_{k}": v for k, v in self.ha.counters().items()})
        return out

    def _count(self, name: str, n: int = 1) -> None:
        with self._count_lock:
            self._counts[name] += n

    def _log_once(self, key: str, msg: str, *args: Any) -> None:
        if key in self._logged or len(self._logged) >= MAX_LOGGED_TOPICS:
            return
        self._logged.add(key)
        log.warning(msg + " (further problems here are only counted)", *args)

    # --- network thread: sort and enqueue only ------------------------------------------------

    def _all_topics(self) -> list[str]:
        topics = [self.query_topic, self.session_ended_topic]
        if self.learning is not None:
            topics.extend(self.learning.topics())
        topics.extend(self._routes.filters())
        return topics

    def _on_message(self, topic: str | None, payload: bytes, retained: bool) -> None:
        recv = time.perf_counter_ns()
        self._count("messages")
        if topic is None:
            self._count("rejected")
            self._log_once("<invalid-utf8>", "dropped a message whose topic is not valid UTF-8")
            return
        if len(payload) > self.settings.limits.max_payload_bytes:
            self._count("rejected")
            self._log_once(topic, "dropped a %d-byte message on %s (limit %d)", len(payload), topic,
                           self.settings.limits.max_payload_bytes)
            if topic == self.query_topic:
                self._count("invalid_queries")
            return
        if topic == self.query_topic:
            self._enqueue_query(payload, recv)
            return
        if self.learning is not None and self.learning.wants(topic):
            event = _Event(topic, payload, time.time())
            if self._idle_items:  # behind a query answered on this thread: keep the order
                self._idle_items.append(event)
            elif not self._hand_over(event):
                self._count("overloaded")
            if topic != self.session_ended_topic:
                return
        try:
            self._messages.put_nowait((self._enqueued + 1, topic, payload, retained))
            self._enqueued += 1
        except queue.Full:
            self._count("rejected")
            self._log_once("<ingest-full>", "device messages arrive faster than they can be applied; dropping")

    def _enqueue_query(self, payload: bytes, recv_ns: int = 0) -> None:
        pending = _Pending(payload, self._enqueued, datetime.now().isoformat(timespec="seconds"), recv_ns)
        self._count("queries")
        if self._piled_up and self._handed == self._finished and self._handed > self._piled_at:
            self._piled_up = False  # the query thread has had some of the pile and caught up
        if self._idle_items or (self._inline and not self._piled_up and self._handed == self._finished):
            self._idle_items.append(pending)  # answered by `_answer_idle` at the end of this network pass
            return
        if not self._hand_over(pending):
            self._count("overloaded")
            self._reject(payload, "the service is overloaded; try again", ErrorCode.OVERLOADED)

    def _hand_over(self, item: _Pending | _Event) -> bool:
        """Queue for the query thread (network thread only); False when the queue is full."""
        self._handed += 1
        try:
            self._queries.put_nowait(item)
        except queue.Full:
            self._handed -= 1
            return False
        return True

    def _answer_idle(self) -> None:
        """After a network pass (network thread, outside paho's callbacks): answer the queries that found the
        service idle, in order, so their answers are written from here at once. One whose device messages are
        not all applied yet goes to the query thread, with everything after it (which keeps the order)."""
        items, self._idle_items = self._idle_items, []
        for i, item in enumerate(items):
            if isinstance(item, _Pending) and self._applied < item.seq:
                for rest in items[i:]:
                    if not self._hand_over(rest):
                        self._count("overloaded")
                        if isinstance(rest, _Pending):
                            self._reject(rest.payload, "the service is overloaded; try again", ErrorCode.OVERLOADED)
                return
            self._run_item(item)
        if items and self.link.waiting_bytes() > PILED_UP_BYTES:
            self._piled_up, self._piled_at = True, self._handed

    def _run_item(self, item: _Pending | _Event) -> None:
        try:
            if isinstance(item, _Event):
                self._learning_event(item)
            else:
                self._answer(item)
        except Exception:
            self._count("errors")
            log.exception("error answering a query")

    # --- ingest thread ---------------------------------------------------------------------

    def _ingest_loop(self) -> None:
        while True:
            item = self._messages.get()
            batch = [item]
            while item is not None and len(batch) < BATCH:
                try:
                    item = self._messages.get_nowait()
                except queue.Empty:
                    break
                batch.append(item)
            updates: list[EntityUpdate] = []
            last = None
            for entry in batch:
                if entry is None:
                    continue
                last = entry[0]
                try:
                    updates.extend(self._handle(entry[1], entry[2], entry[3]))
                except Exception:  # a bug in an adapter must not stop the service
                    self._count("errors")
                    log.exception("error handling a message on %s", entry[1])
            if updates:
                try:
                    n = self.home.apply(updates)
                except Exception:
                    n = 0
                    self._count("errors")
                    log.exception("error applying %d updates", len(updates))
                self._count("ingested", n)
                self._count("rejected", len(updates) - n)
            if last is not None:
                with self._applied_cond:
                    self._applied = last
                    self._applied_cond.notify_all()
            if any(entry is None for entry in batch):
                return

    def _handle(self, topic: str, payload: bytes, retained: bool) -> list[EntityUpdate]:
        if topic == self.session_ended_topic:
            self._session_ended(payload)
            return []
        out: list[EntityUpdate] = []
        matched = self._routes.match(topic)
        for i in matched:
            adapter = self.adapters[i]
            try:
                out.extend(adapter.handle(topic, payload))
            except CapReached:
                self._count("rejected")  # the adapter logged the cap once
            except AdapterError as exc:
                self._count("adapter_errors")
                self._count("rejected")
                self._log_once(topic, "%s: unusable message on %s: %s", adapter.name, topic, exc.message[:300])
            self._follow_subscriptions(i)
        if not matched:
            self._count("ignored")
        elif retained:
            self._count("retained")
        return out

    def _follow_subscriptions(self, i: int) -> None:
        """Route (and subscribe to) the topics adapter `i` learned; drop those it forgot."""
        take = getattr(self.adapters[i], "take_subscription_changes", None)
        if take is None:
            return
        added, removed = take()
        if added:
            new = self._routes.add(i, added)
            if new:
                self.link.subscribe(new)
        if removed:
            gone = self._routes.remove(i, removed)
            if gone:
                self.link.unsubscribe(gone)

    def _session_ended(self, payload: bytes) -> None:
        try:
            data = json.loads(payload)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return
        if isinstance(data, dict) and isinstance(data.get("siteId"), str) and isinstance(data.get("sessionId"), str):
            self.history.forget(data["siteId"], data["sessionId"])

    # --- query thread ------------------------------------------------------------------------

    def _query_loop(self) -> None:
        while True:
            item = self._queries.get()
            if item is None:
                return
            self._run_item(item)
            self._finished += 1

    def _answer(self, item: _Pending) -> None:
        s = self.settings
        trace = None
        if self._trace is not None and len(self._trace) < TRACE_MAX:
            trace = [item.recv_ns, time.perf_counter_ns()]
        try:
            q = parse_query(item.payload, s.limits.max_payload_bytes)
        except QueryError as exc:
            self._count("invalid_queries")
            self._log_once("<invalid-query>", "invalid query: %s", exc.message)
            self._reject(item.payload, exc.message, exc.code, exc.partial)
            return
        if trace is not None:
            trace.append(time.perf_counter_ns())
        with self._applied_cond:
            self._applied_cond.wait_for(lambda: self._applied >= item.seq, timeout=s.limits.state_wait_s)
        home = self.home.snapshot()
        now = time.monotonic()
        history = self.history.get(q.site_id, q.session_id, now)
        ctx = build_context(q, s.sites.get(q.site_id), history, item.arrival)
        area = ctx.get("area")
        if area is not None and home.areas and home.area(area) is None:
            self._log_once(f"<area:{q.site_id}>", "site %s: area %r is not in the home; answering without it",
                           q.site_id, area)
            del ctx["area"]
        if trace is not None:
            trace.append(time.perf_counter_ns())
        learning = self.learning
        bookkeeping: Callable[[], None] | None = None
        if learning is not None:
            site = s.sites.get(q.site_id)
            try:
                result, bookkeeping = learning.answer(q, ctx, home, q.user or (site.user if site else None))
            except Exception:  # a learning fault must not cost the answer: plain parsing for this one
                self._learning_failed("query")
                result = self.nlu.parse_result(q.input, ctx, q.id, home=home)
        else:
            result = self.nlu.parse_result(q.input, ctx, q.id, home=home)
        if trace is not None:
            trace.append(time.perf_counter_ns())
        result = self._keep_timers(q, result)
        self.history.record(q.site_id, q.session_id, next_turn(result), now)
        answers = self.codec.answer(q, result)
        if trace is not None:
            trace.append(time.perf_counter_ns())
        for topic, data in answers:
            self.link.publish(topic, data)
        if trace is not None:
            trace.append(time.perf_counter_ns())
        self._count("answered")
        if bookkeeping is not None:  # learning's rest (the turn is recorded already), once the answers are out
            try:
                bookkeeping()
            except Exception:
                self._learning_failed("query's bookkeeping")
        if learning is not None:
            for topic, payload in learning.questions():
                self.link.publish(topic, payload)
        if trace is not None and self._trace is not None:
            trace.append(time.perf_counter_ns())
            self._trace.append((q.id, trace))

    def _learning_failed(self, where: str) -> None:
        """Count a learning exception; the first of each kind is logged with its traceback."""
        self._count("learning_errors")
        if f"<learning:{where}>" not in self._logged:
            self._logged.add(f"<learning:{where}>")
            log.error("self-learning failed on a %s; carrying on without it there (further failures are only "
                      "counted in learning_errors)", where, exc_info=True)

    def _learning_event(self, item: _Event) -> None:
        learning = self.learning
        if learning is None:
            return
        try:
            refused = learning.on_event(item.topic, item.payload, item.arrival)
        except Exception:
            self._learning_failed("feedback message")
            return
        if refused is not None:
            self._count("rejected")
            self._log_once(f"<learn:{item.topic}>", "ignored a message on %s: %s", item.topic, refused)
        for topic, payload in learning.questions():
            self.link.publish(topic, payload)

    def _learn_loop(self) -> None:
        learning = self.learning
        if learning is None:
            return
        while not self._stop.wait(1.0):
            try:
                learning.tick()
            except Exception:
                self._learning_failed("reload or learning run")

    def _keep_timers(self, q: HermesQuery, result: Result) -> Result:
        """A timer intent the satellite is answered with is carried out in its timer book, and the book's
        answer spoken; a bad one is logged and answered as parsed."""
        action = result.action
        if action is None or not action.intent or not result.recognized(self.settings.min_confidence) \
                or (q.intent_filter is not None and action.intent not in q.intent_filter):
            return result
        try:
            host = time.time()
            said = self.timers.apply(q.site_id, action, instant(q.time, host), host)
        except BadTimerAction as exc:
            log.info("site %s: %s not carried out: %s", q.site_id, action.intent, exc)
            return result
        except Exception:  # a fault in the book must not cost the answer
            self._count("errors")
            log.exception("site %s: %s not carried out", q.site_id, action.intent)
            return result
        return result if said is None else replace(result, response=said)

    def _timer_loop(self) -> None:
        """About once a second: say that a timer ended on its satellite (`<hermes>/tts/say`), or run its
        command as that satellite's query (`<hermes>/nlu/query`, answered by this service)."""
        hermes = self.settings.topics.hermes
        while not self._stop.wait(1.0):
            try:
                for site, timer in self.timers.due(time.time()):
                    if timer.conversation_command:
                        self.link.publish(f"{hermes}/nlu/query", {
                            "input": timer.conversation_command, "siteId": site, "id": uuid.uuid4().hex,
                            "sessionId": None})
                    else:
                        self.link.publish(f"{hermes}/tts/say", {
                            "text": done_text(timer), "siteId": site, "id": uuid.uuid4().hex})
            except Exception:
                self._count("errors")
                log.exception("error ending a timer")

    def _reject(self, payload: bytes, message: str, code: ErrorCode, partial: dict[str, Any] | None = None) -> None:
        """Answer a query that cannot be parsed (or not now), when we can tell who asked."""
        if partial is None:
            try:
                q = parse_query(payload, self.settings.limits.max_payload_bytes)
                partial = {"siteId": q.site_id, "id": q.id, "sessionId": q.session_id, "input": q.input}
            except QueryError as exc:
                partial = exc.partial
        for topic, data in self.codec.refusal(partial, ErrorInfo(code, message)):
            self.link.publish(topic, data)

    def _stats_loop(self) -> None:
        interval = self.settings.stats_interval_s
        if interval <= 0:
            return
        while not self._stop.wait(interval):
            log.info("edge-nlu counters: %s", self.counters())

    def _census(self, quiet_s: float = 1.0, max_s: float = 10.0) -> dict[str, int] | None:
        """Once the retained burst after the first connect has settled (no device message for `quiet_s`,
        all applied; at most `max_s`), log what each adapter found and warn when the home is empty:
        a wrong base_topic or broker otherwise only shows as answers that find nothing."""
        while not self.link.connected:
            if self._stop.wait(0.1):
                return None
        start = time.monotonic()
        seen, since = -1, start
        while time.monotonic() - start < max_s:
            if self._stop.wait(0.1):
                return None
            now, enq = time.monotonic(), self._enqueued
            if enq != seen:
                seen, since = enq, now
            elif now - since >= quiet_s and self._applied >= enq:
                break
        found = self.home.entities_by_source()
        per = {a.name: found.get(a.name, 0) for a in self.adapters}
        if self.ha is not None:
            per["home_assistant"] = found.get("home_assistant", 0)
        listening = ", ".join(f"{a.name} at {' '.join(a.subscriptions())}" for a in self.adapters) or "no adapters"
        if sum(per.values()):
            log.info("devices found after start: %s entities (%s); listening: %s", sum(per.values()),
                     ", ".join(f"{k} {v}" for k, v in per.items()), listening)
        else:
            known = len(self.home)
            log.warning("no devices found on %s after %.0f s (listening: %s)%s; commands will find nothing to "
                        "act on. Check the broker and each adapter's base_topic in the config's adapters section",
                        self.settings.broker.uri, time.monotonic() - start, listening,
                        f"; only the {known} entities of the home file" if known else "")
        return per


def build_adapters(settings: ServeSettings) -> list[Adapter]:
    """The configured adapters, from the registry."""
    if not settings.adapters:
        return []
    try:
        return list(registry.build_adapters(list(settings.adapters), settings.adapter_options))
    except EdgeNLUError:
        raise
    except (KeyError, ValueError, TypeError) as exc:
        raise ConfigError(f"adapters: {exc}", ErrorCode.BAD_ADAPTER_CONFIG) from exc
