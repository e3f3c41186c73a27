"""Two helpers for driving a live `edge-nlu serve` from outside, as a home would: a Hermes satellite
client, and the service as a child process. The live demo and the MQTT benchmark share them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge_nlu_tools.broker import stop_process

MAX_PENDING = 1024
"""Queries awaited at once; answers to ids nobody waits for are dropped."""


@dataclass(frozen=True)
class Answer:
    """What came back for one query."""

    result: dict[str, Any]
    """The full result object from `edge-nlu/result/<siteId>`."""
    hermes_topic: str | None
    """`hermes/intent/<name>` or `hermes/nlu/intentNotRecognized` (None if it had not arrived)."""
    hermes: dict[str, Any] | None
    """The Hermes payload."""
    hermes_s: float | None
    """Seconds from publishing the query to the Hermes answer."""
    result_s: float
    """Seconds from publishing the query to the full result."""


class Satellite:
    """A paho client that asks `hermes/nlu/query` and collects both answers by query id."""

    def __init__(self, host: str, port: int, client_id: str | None = None, hermes: str = "hermes",
                 edge_nlu: str = "edge-nlu") -> None:
        self.host, self.port, self.hermes, self.edge_nlu = host, port, hermes, edge_nlu
        self.status: str | None = None
        """Last `edge-nlu/status` payload seen."""
        self._cond = threading.Condition()
        self._pending: dict[str, dict[str, Any]] = {}
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or f"sat-{uuid.uuid4().hex[:8]}")
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.05, 0.5)  # type: ignore[arg-type]  # paho handles float delays
        self.client.on_socket_open = _nodelay

    def __enter__(self) -> Satellite:
        self.connect()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def connect(self, timeout: float = 5.0) -> None:
        self.client.connect(self.host, self.port, keepalive=30)
        self.client.loop_start()
        if not self._subscribed.wait(timeout):
            self.close()
            raise TimeoutError(f"satellite: not subscribed on {self.host}:{self.port} after {timeout} s")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        client.subscribe([(f"{self.edge_nlu}/status", 1), (f"{self.edge_nlu}/result/+", 1),
                          (f"{self.hermes}/intent/#", 1), (f"{self.hermes}/nlu/intentNotRecognized", 1)])

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        now = time.perf_counter()
        topic = msg.topic
        if topic == f"{self.edge_nlu}/status":
            with self._cond:
                self.status = msg.payload.decode("utf-8", "replace")
                self._cond.notify_all()
            return
        try:
            data = json.loads(msg.payload)
        except (ValueError, RecursionError):  # anyone may publish here; a deep payload must not kill the client
            return
        qid = data.get("id") if isinstance(data, dict) else None
        with self._cond:
            slot = self._pending.get(qid) if isinstance(qid, str) else None
            if slot is None:
                return
            if topic.startswith(f"{self.edge_nlu}/result/"):
                slot["result"], slot["result_t"] = data, now
            else:
                slot["hermes_topic"], slot["hermes"], slot["hermes_t"] = topic, data, now
            self._cond.notify_all()

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

    def ask(self, text: str, site_id: str, session_id: str | None = None, timeout: float = 10.0,
            hermes_only: bool = False, **extra: Any) -> Answer | None:
        """Publish a query and wait for its full result (or only the Hermes answer); None on timeout."""
        qid = uuid.uuid4().hex
        with self._cond:
            if len(self._pending) >= MAX_PENDING:
                raise RuntimeError("too many queries in flight")
            self._pending[qid] = {}
        query = {"input": text, "siteId": site_id, "sessionId": session_id or qid, "id": qid,
                 "intentFilter": None, **extra}
        t0 = time.perf_counter()
        self.client.publish(f"{self.hermes}/nlu/query", json.dumps(query), qos=1)
        key = "hermes" if hermes_only else "result"
        deadline = time.monotonic() + timeout
        with self._cond:
            try:
                while key not in self._pending[qid]:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return None
                    self._cond.wait(left)
                slot = self._pending[qid]
            finally:
                self._pending.pop(qid, None)
        hermes_t = slot.get("hermes_t")
        return Answer(result=slot.get("result") or {}, hermes_topic=slot.get("hermes_topic"),
                      hermes=slot.get("hermes"), hermes_s=None if hermes_t is None else hermes_t - t0,
                      result_s=slot.get("result_t", t0) - t0)


def _nodelay(client: mqtt.Client, userdata: Any, sock: Any) -> None:
    import socket

    setsockopt = getattr(sock, "setsockopt", None)
    if setsockopt is not None:
        setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class ServeProcess:
    """`edge-nlu serve` as a child process; stopping it terminates, then kills, and always reaps."""

    def __init__(self, broker_uri: str, config: Path, log_path: Path, log_level: str = "INFO") -> None:
        self.cmd = [sys.executable, "-m", "edge_nlu.cli", "serve", "--broker", broker_uri, "--config", str(config),
                    "--log-level", log_level]
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ServeProcess:
        self.start()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)  # noqa: S603

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM (the service says `offline` and disconnects), SIGKILL after `timeout`."""
        proc, self.proc = self.proc, None
        return stop_process(proc, timeout) if proc is not None else None

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""
