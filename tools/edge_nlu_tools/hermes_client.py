"""A Hermes client, as a satellite would be: it asks `hermes/nlu/query` and collects the answers by id.

edge-nlu answers a query twice, both with the query's id: the Hermes reply (`hermes/intent/<name>` or
`hermes/nlu/intentNotRecognized`) and the full result on `edge-nlu/result/<siteId>`. The demo's
satellites, the benchmarks and the tests' Probe all use this one class.

Answers are kept by id whether or not this client sent the query, so a query someone else published
(a test sending a raw payload) can be awaited afterwards too; those are bounded (the oldest go).
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

MAX_PENDING = 1024
"""Queries of our own awaited at once."""
MAX_UNCLAIMED = 1024
"""Answers kept for ids nobody awaits yet (someone else's queries, or ours after a timeout)."""


@dataclass(frozen=True)
class Answer:
    """What came back for one query."""

    result: dict[str, Any]
    """The full result object from `edge-nlu/result/<siteId>` (empty if it had not arrived)."""
    hermes_topic: str | None
    """`hermes/intent/<name>` or `hermes/nlu/intentNotRecognized` (None if it had not arrived)."""
    hermes: dict[str, Any] | None
    """The Hermes payload."""
    hermes_s: float | None
    """Seconds from publishing the query to the Hermes answer (None if it had not arrived, or we did not send it)."""
    result_s: float
    """Seconds from publishing the query to the full result (0 if it had not arrived, or we did not send it)."""
    result_topic: str | None = None
    """`edge-nlu/result/<siteId>` the result came on."""


@dataclass
class _Slot:
    """The answers to one query id, as they come in (guarded by the client's condition)."""

    sent: float | None = None
    """perf_counter() when we published it; None for someone else's query."""
    hermes_topic: str | None = None
    """Topic of the Hermes answer."""
    hermes: dict[str, Any] | None = None
    """The Hermes answer."""
    hermes_t: float | None = None
    """perf_counter() when it arrived."""
    result_topic: str | None = None
    """Topic of the full result."""
    result: dict[str, Any] | None = None
    """The full result."""
    result_t: float | None = None
    """perf_counter() when it arrived."""


class HermesClient:
    """A paho client on `host:port` that sends Hermes queries and awaits their answers by id.

    With `answers` (the default) it subscribes to the answer topics and `edge-nlu/status` on every
    connect; without, the caller subscribes to what it wants (the tests' Probe records everything).
    """

    def __init__(self, host: str, port: int, client_id: str | None = None, *, hermes: str = "hermes",
                 edge_nlu: str = "edge-nlu", answers: bool = True, username: str | None = None,
                 password: str | None = None, tls: ssl.SSLContext | None = None, keepalive: int = 30) -> None:
        self.host, self.port, self.hermes, self.edge_nlu = host, port, hermes, edge_nlu
        self.keepalive = keepalive
        self.status: str | None = None
        """Last `edge-nlu/status` payload seen."""
        self._answers = answers
        self._cond = threading.Condition()
        self._asked: dict[str, _Slot] = {}
        self._unclaimed: OrderedDict[str, _Slot] = OrderedDict()
        self._suback: set[int] = set()
        self._connected = threading.Event()
        self._refused: str | None = None
        self._ready_mid: int | None = None
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or f"sat-{uuid.uuid4().hex[:8]}")
        if username:
            self.client.username_pw_set(username, password)
        if tls is not None:
            self.client.tls_set_context(tls)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.05, 0.5)  # type: ignore[arg-type]  # paho handles float delays
        self.client.on_socket_open = _nodelay

    def __enter__(self) -> HermesClient:
        self.connect()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def connect(self, timeout: float = 5.0) -> None:
        """Connect (and subscribe to the answers); TimeoutError when not done within `timeout`,
        ConnectionRefusedError when the broker says no."""
        self.client.connect(self.host, self.port, keepalive=self.keepalive)
        self.client.loop_start()
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._ready() and self._refused is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            refused, ready = self._refused, self._ready()
        if not ready:
            self.close()
            if refused is not None:
                raise ConnectionRefusedError(f"{self.host}:{self.port} refused the connection: {refused}")
            what = "subscribed" if self._answers else "connected"
            raise TimeoutError(f"hermes client: not {what} on {self.host}:{self.port} after {timeout} s")

    def _ready(self) -> bool:
        if not self._connected.is_set():
            return False
        return not self._answers or (self._ready_mid is not None and self._ready_mid in self._suback)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def subscribe(self, *topics: str, timeout: float = 30.0) -> None:
        """Subscribe at QoS 1 and wait for the SUBACK."""
        _, mid = self.client.subscribe([(t, 1) for t in topics])
        deadline = time.monotonic() + timeout
        with self._cond:
            while mid not in self._suback:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no SUBACK for {topics} within {timeout} s")
                self._cond.wait(left)

    def publish(self, topic: str, payload: bytes | str | dict[str, Any], retain: bool = False, qos: int = 1,
                wait: bool = True) -> None:
        """Publish (a dict as JSON); with `wait`, until the broker has it (PUBACK at QoS 1)."""
        data = json.dumps(payload) if isinstance(payload, dict) else payload
        info = self.client.publish(topic, data, qos=qos, retain=retain)
        if wait:
            info.wait_for_publish(30)

    # -- queries ---------------------------------------------------------------------------------

    def ask(self, text: str, site_id: str, session_id: str | None = None, timeout: float = 10.0,
            hermes_only: bool = False, **extra: Any) -> Answer | None:
        """Send a query (a session of its own unless `session_id`) and wait for its full result, or only
        the Hermes answer; None on timeout."""
        qid = uuid.uuid4().hex
        self.send(text, site_id, session_id or qid, qid=qid, **extra)
        return self.wait(qid, timeout, "hermes" if hermes_only else "result")

    def send(self, text: str, site_id: str, session_id: str | None, qid: str | None = None, wait: bool = False,
             **extra: Any) -> str:
        """Publish a query (`session_id` as given: None is sent as null) and return its id; `extra` adds
        or overrides payload fields. With `wait`, returns once the broker has it."""
        qid = qid or uuid.uuid4().hex
        with self._cond:
            if len(self._asked) >= MAX_PENDING:
                raise RuntimeError("too many queries in flight")
            self._asked[qid] = _Slot(sent=time.perf_counter())
        query = {"input": text, "siteId": site_id, "sessionId": session_id, "id": qid, "intentFilter": None,
                 **extra}
        self.publish(f"{self.hermes}/nlu/query", query, wait=wait)
        return qid

    def wait(self, qid: str, timeout: float, need: Literal["result", "hermes", "both"] = "result") -> Answer | None:
        """The answer to query `qid` once `need` has arrived (None after `timeout`); forgets the id."""
        deadline = time.monotonic() + timeout
        with self._cond:
            try:
                while True:
                    slot = self._asked.get(qid) or self._unclaimed.get(qid)
                    if slot is not None and (need == "hermes" or slot.result is not None) \
                            and (need == "result" or slot.hermes is not None):
                        break
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return None
                    self._cond.wait(left)
            finally:
                self._asked.pop(qid, None)
                self._unclaimed.pop(qid, None)
        t0 = slot.sent
        return Answer(result=slot.result or {}, hermes_topic=slot.hermes_topic, hermes=slot.hermes,
                      hermes_s=None if slot.hermes_t is None or t0 is None else slot.hermes_t - t0,
                      result_s=0.0 if slot.result_t is None or t0 is None else slot.result_t - t0,
                      result_topic=slot.result_topic)

    def wait_status(self, value: str, timeout: float, alive: Callable[[], bool] | None = None) -> bool:
        """Wait until `edge-nlu/status` says `value`; gives up early when `alive()` turns False."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.status != value:
                left = deadline - time.monotonic()
                if left <= 0 or (alive is not None and not alive()):
                    return False
                self._cond.wait(min(left, 0.1))
        return True

    def forget(self) -> None:
        """Drop the answers nobody awaits."""
        with self._cond:
            self._unclaimed.clear()

    # -- paho callbacks (its network thread) --------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        with self._cond:
            if reason.is_failure:
                self._refused = str(reason)
            else:
                self._connected.set()
                if self._answers:
                    _, self._ready_mid = client.subscribe(
                        [(f"{self.edge_nlu}/status", 1), (f"{self.edge_nlu}/result/+", 1),
                         (f"{self.hermes}/intent/#", 1), (f"{self.hermes}/nlu/intentNotRecognized", 1)])
            self._cond.notify_all()

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, props: Any) -> None:
        with self._cond:
            self._suback.add(mid)
            self._cond.notify_all()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        now = time.perf_counter()
        self.received(msg)
        topic = msg.topic
        if topic == f"{self.edge_nlu}/status":
            with self._cond:
                self.status = msg.payload.decode("utf-8", "replace")
                self._cond.notify_all()
            return
        is_result = topic.startswith(f"{self.edge_nlu}/result/")
        if not (is_result or topic.startswith(f"{self.hermes}/intent/")
                or topic == f"{self.hermes}/nlu/intentNotRecognized"):
            return
        try:
            data = json.loads(msg.payload)
        except (ValueError, RecursionError):  # anyone may publish here; a deep payload must not kill the client
            return
        qid = data.get("id") if isinstance(data, dict) else None
        if not isinstance(qid, str):
            return
        with self._cond:
            slot = self._asked.get(qid) or self._unclaimed.get(qid)
            if slot is None:
                slot = self._unclaimed[qid] = _Slot()
                while len(self._unclaimed) > MAX_UNCLAIMED:
                    self._unclaimed.popitem(last=False)
            if is_result:
                slot.result_topic, slot.result, slot.result_t = topic, data, now
            else:
                slot.hermes_topic, slot.hermes, slot.hermes_t = topic, data, now
            self._cond.notify_all()

    def received(self, msg: mqtt.MQTTMessage) -> None:
        """Every message, before it is looked at; a subclass may record them."""


def _nodelay(client: mqtt.Client, userdata: Any, sock: Any) -> None:
    setsockopt = getattr(sock, "setsockopt", None)  # a TLS or websocket wrapper may not have it
    if setsockopt is not None:
        setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
