"""The service's one MQTT connection: paho 2.x with the habits of robust hub clients.

- last will `<edge-nlu>/status` = `offline` (retained), `online` (retained) on every connect;
- every subscription is made again on every connect, so retained messages rebuild the home;
- a persistent session (MQTT 5: clean start on the first connect only, session expiry; 3.1.1: one
  clean connect at start, then clean_session=0) with QoS 1 Hermes subscriptions, so the broker queues
  queries that arrive while we are away and hands them over when we are back;
- our own reconnect loop (paho's hides why a connect failed): each distinct failure reason (refused,
  DNS, TLS verification, CONNACK code) is logged once; the backoff stays short (<= `recent_max_s`)
  while the broker was seen recently and grows to `max_s` only after a long absence, with jitter so
  that many satellites' services do not hammer a restarted broker in lock step;
- bad credentials stop the service instead of retrying forever (as Home Assistant does);
- TCP_NODELAY on our socket: small request/answer packets must not wait on delayed ACKs;
- callbacks only hand messages over; `on_idle` (the service's answers to queries that found it idle) runs on
  the network thread after each pass of paho's loop, outside its callbacks, so what it publishes is written
  to the socket at once, from this thread: no hand-off to another thread on the way out.
"""

from __future__ import annotations

import json
import logging
import random
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edge_nlu.errors import EdgeNLUError, ErrorCode
from edge_nlu.service.config import BrokerSettings

log = logging.getLogger("edge_nlu.service.app")

SUBSCRIBE_CHUNK = 64
"""Topics per SUBSCRIBE packet; keeps packets small for brokers with a packet-size limit."""
AUTH_FAILURES = {134, 135}
"""CONNACK reason codes that retrying will not fix: bad user name or password, not authorized."""
MAX_OUT_QUEUE = 10000
"""QoS 1 answers kept while the broker is away; paho resends them on reconnect."""
MAX_REASONS = 64
"""Distinct failure reasons remembered for log-once."""

try:  # POSIX; elsewhere `waiting_bytes` says 0
    import fcntl
    import termios

    _FIONREAD: int | None = termios.FIONREAD
except ImportError:  # pragma: no cover - Windows
    _FIONREAD = None



def _drop_not_connected(record: logging.LogRecord) -> bool:
    """paho's loop logs 'Client is not connected' at ERROR once more after a clean disconnect; our own
    loop never runs a disconnected client otherwise, so it is noise."""
    return not record.getMessage().startswith("Client is not connected")


PAHO_LOG = logging.getLogger("edge_nlu.service.app.paho")
PAHO_LOG.addFilter(_drop_not_connected)

OnMessage = Callable[[str | None, bytes, bool], None]
"""(topic, or None when it is not valid UTF-8; payload; retained)."""


class BrokerError(EdgeNLUError):
    """The broker refused us in a way that retrying cannot fix."""

    code = ErrorCode.BROKER_REFUSED


def failure_reason(exc: BaseException, broker: BrokerSettings) -> str:
    """Why a connect attempt failed, in words an operator can act on."""
    where = broker.uri
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS: the broker's certificate is not trusted ({exc.verify_message}); set broker.tls.ca_file"
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake failed ({exc.reason or exc})"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve {broker.host!r} ({exc.strerror})"
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused: nothing listens on {where}"
    if isinstance(exc, TimeoutError):
        return f"no answer from {where} (timed out)"
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}"
    return f"{type(exc).__name__}: {exc}"


class MqttLink:
    """One paho client on its own network thread, started and stopped by the service."""

    def __init__(self, broker: BrokerSettings, status_topic: str, on_message: OnMessage,
                 topics: Callable[[], list[str]], on_connected: Callable[[], None] | None = None,
                 on_idle: Callable[[], None] | None = None) -> None:
        self.broker = broker
        self._on_idle = on_idle
        self.status_topic = status_topic
        self._on_message_cb = on_message
        self._topics = topics
        self._on_connected_cb = on_connected
        self.reliable_topics: frozenset[str] = frozenset()
        """Topics subscribed at QoS 1 (Hermes); device state is QoS 0, as Home Assistant subscribes
        it, so a state flood cannot fill the in-flight window ahead of a query."""
        self._stop = threading.Event()
        self._connected = threading.Event()
        self.fatal: BrokerError | None = None
        """Set when the broker refused the credentials; the service then stops."""
        self.connects = 0
        """Successful connections so far (reconnects included)."""
        self.last_seen = 0.0
        """Monotonic time the broker was last connected (0: never); keeps the backoff short after it."""
        self._attempt = 0
        self._reasons: set[str] = set()
        self._thread: threading.Thread | None = None
        self.client = self._make_client()

    def _make_client(self, clean: bool = False) -> mqtt.Client:
        b = self.broker
        v5 = b.protocol == "5"
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=b.client_id, transport=b.transport,  # type: ignore[arg-type]
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311, clean_session=None if v5 else clean,
            reconnect_on_failure=False,  # our loop reconnects: it knows why a try failed
        )
        client.suppress_exceptions = True  # our callbacks catch their own; never let one kill the loop
        client.enable_logger(PAHO_LOG)
        if b.transport == "websockets":
            client.ws_set_options(path=b.ws_path)
        if b.username is not None:
            client.username_pw_set(b.username, b.password)
        if b.tls.enabled:
            client.tls_set_context(self._tls_context())
        if clean:
            return client
        client.will_set(self.status_topic, "offline", qos=1, retain=True)
        client.max_queued_messages_set(MAX_OUT_QUEUE)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_socket_open = self._on_socket_open
        props = None
        if v5:
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = int(b.session_expiry_s)
        # MQTT 5: a fresh session on the first connect (nothing stale from a previous run), resumed after
        client.connect_async(b.host, b.port, keepalive=b.keepalive_s, clean_start=mqtt.MQTT_CLEAN_START_FIRST_ONLY,
                             properties=props)
        return client

    def _tls_context(self) -> ssl.SSLContext:
        t = self.broker.tls
        try:
            ctx = ssl.create_default_context(cafile=str(t.ca_file) if t.ca_file else None)
            if t.cert_file and t.key_file:
                ctx.load_cert_chain(str(t.cert_file), str(t.key_file))
        except (OSError, ssl.SSLError) as exc:
            raise BrokerError(f"TLS files cannot be used: {exc}", ErrorCode.BAD_TLS_FILES) from exc
        if t.insecure:
            ctx.check_hostname = False  # the chain is still verified against the CA
        return ctx

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background; the network thread retries the first connection too."""
        for warning in self.broker.security_warnings():
            log.warning("%s", warning)
        self._thread = threading.Thread(target=self._run, name="edge-nlu-mqtt", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Say `offline` (retained), end the session (nothing should queue for a stopped service), disconnect."""
        self._stop.set()
        if self._connected.is_set():
            info = self.client.publish(self.status_topic, "offline", qos=1, retain=True)
            try:
                info.wait_for_publish(timeout)
            except (ValueError, RuntimeError) as exc:
                log.warning("could not publish offline status: %s", exc)
        props = None
        if self.broker.protocol == "5":
            props = Properties(PacketTypes.DISCONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = 0
        self.client.disconnect(properties=props)
        if self._thread is not None:
            self._thread.join(timeout + 6.0)  # a connect in progress times out after paho's 5 s
        self._connected.clear()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def _run(self) -> None:
        """Connect, serve until the connection ends, wait a little, again; until stop() or fatal."""
        if self.broker.protocol != "5":
            self._discard_old_session()
        while not self._stop.is_set():
            try:
                self.client.reconnect()
            except Exception as exc:  # OSError, ssl.SSLError, websocket handshake errors, ...
                self._failed(failure_reason(exc, self.broker))
                self._backoff()
                continue
            self._serve()
            if self._stop.is_set() or self.fatal is not None:
                return
            self._backoff()

    def _serve(self) -> None:
        """paho's loop until the connection ends (what loop_forever does without its reconnects), running
        `on_idle` after every pass: outside paho's callbacks, a publish there goes straight to the socket."""
        client, idle = self.client, self._on_idle
        while True:
            rc = client.loop(1.0)
            if idle is not None:
                try:
                    idle()
                except Exception:
                    log.exception("error after a network pass")
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return

    def _discard_old_session(self) -> None:
        """MQTT 3.1.1 has no 'clean start first only': one clean connect ends a session a previous run
        left behind (with queries queued long ago), so the persistent session starts empty."""
        done = threading.Event()
        while not self._stop.is_set():
            tmp = self._make_client(clean=True)
            tmp.on_connect = lambda *a: done.set()
            try:
                tmp.connect(self.broker.host, self.broker.port, keepalive=self.broker.keepalive_s)
            except Exception as exc:
                self._failed(failure_reason(exc, self.broker))
                self._backoff()
                continue
            tmp.loop_start()
            done.wait(5.0)
            tmp.disconnect()
            tmp.loop_stop()
            return

    def _failed(self, reason: str) -> None:
        """Log each distinct reason once per outage; repeats go to debug."""
        if reason in self._reasons or len(self._reasons) >= MAX_REASONS:
            log.debug("cannot connect to %s: %s; retrying", self.broker.uri, reason)
            return
        self._reasons.add(reason)
        log.warning("cannot connect to %s: %s; retrying (logged once per reason)", self.broker.uri, reason)

    def next_delay(self) -> float:
        """Exponential from min_s, capped at recent_max_s while the broker was seen within recent_s
        (an outage of a few seconds costs at most that), at max_s after; times a jitter of 0.5-1."""
        b = self.broker
        recent = self.last_seen > 0 and time.monotonic() - self.last_seen < b.reconnect_recent_s
        cap = min(b.reconnect_recent_max_s, b.reconnect_max_s) if recent else b.reconnect_max_s
        delay = min(cap, b.reconnect_min_s * 2 ** min(self._attempt, 30))
        self._attempt += 1
        return float(delay * random.uniform(0.5, 1.0))  # noqa: S311 - timing jitter, not crypto

    def _backoff(self) -> None:
        self._stop.wait(self.next_delay())

    # --- outgoing ----------------------------------------------------------------------------

    def publish(self, topic: str, payload: dict[str, Any] | str | bytes, qos: int = 1, retain: bool = False) -> bool:
        """Queue a message; QoS 1 messages survive a reconnect. False when paho's queue is full."""
        data = payload if isinstance(payload, (str, bytes)) else json.dumps(payload, ensure_ascii=False)
        info = self.client.publish(topic, data, qos=qos, retain=retain)
        if info.rc == MQTTErrorCode.MQTT_ERR_QUEUE_SIZE:
            log.warning("outgoing queue full; dropped a message on %s", topic)
            return False
        return True

    def waiting_bytes(self) -> int:
        """Bytes received and not yet read (FIONREAD), 0 where the OS or transport cannot tell: after the service
        answered a query on the network thread, more than a few PUBACKs waiting means messages piled up meanwhile."""
        sock = self.client.socket()
        fileno = getattr(sock, "fileno", None)
        if fileno is None or _FIONREAD is None:
            return 0
        try:
            buf = fcntl.ioctl(fileno(), _FIONREAD, b"\0\0\0\0")
        except (OSError, ValueError):
            return 0
        return int.from_bytes(buf, sys.byteorder, signed=True)

    def subscribe(self, topics: Iterable[str]) -> None:
        """Subscribe now if connected; either way `topics()` names them again on every connect."""
        if not self._connected.is_set():
            return
        self._subscribe(list(topics))

    def unsubscribe(self, topics: Iterable[str]) -> None:
        """Unsubscribe now if connected; `topics()` no longer names them on the next connect."""
        if not self._connected.is_set():
            return
        unique = list(dict.fromkeys(topics))
        for i in range(0, len(unique), SUBSCRIBE_CHUNK):
            rc, _ = self.client.unsubscribe(unique[i:i + SUBSCRIBE_CHUNK])
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return

    def _subscribe(self, topics: list[str]) -> None:
        unique = list(dict.fromkeys(topics))
        for i in range(0, len(unique), SUBSCRIBE_CHUNK):
            chunk = unique[i:i + SUBSCRIBE_CHUNK]
            rc, _ = self.client.subscribe([(t, 1 if t in self.reliable_topics else 0) for t in chunk])
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                log.warning("subscribe failed (%s); will retry on the next connect", mqtt.error_string(rc))
                return

    # --- paho callbacks (network thread) -----------------------------------------------------

    def _on_socket_open(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        setsockopt = getattr(sock, "setsockopt", None)
        if setsockopt is not None:
            try:
                setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode,
                    properties: Any) -> None:
        try:
            if reason.is_failure:
                if reason.value in AUTH_FAILURES:
                    self.fatal = BrokerError(f"broker {self.broker.uri} refused the login: {reason} "
                                             f"(CONNACK {reason.value})", ErrorCode.BROKER_AUTH)
                    log.error("%s; not retrying", self.fatal.message)
                    self._stop.set()
                else:
                    self._failed(f"the broker refused the connection: {reason} (CONNACK {reason.value})")
                client.disconnect()
                return
            self.connects += 1
            self._attempt = 0
            self._reasons.clear()
            self.last_seen = time.monotonic()
            self._connected.set()
            resumed = bool(getattr(flags, "session_present", False))
            log.info("connected to %s (connection %d%s)", self.broker.uri, self.connects,
                     ", session resumed" if resumed else "")
            # subscribe first: the broker handles one connection's packets in order, so a satellite
            # that sees `online` can rely on its next query being heard
            self._subscribe(self._topics())
            client.publish(self.status_topic, "online", qos=1, retain=True)
            if self._on_connected_cb is not None:
                self._on_connected_cb()
        except Exception:
            log.exception("error in on_connect")

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode,
                       properties: Any) -> None:
        was = self._connected.is_set()
        self._connected.clear()
        if was:
            self.last_seen = time.monotonic()
        if self._stop.is_set():
            return
        if was:
            log.warning("lost the broker %s (%s); reconnecting", self.broker.uri, reason)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            try:
                topic: str | None = msg.topic
            except UnicodeDecodeError:
                topic = None
            self._on_message_cb(topic, bytes(msg.payload), bool(msg.retain))
        except Exception:
            log.exception("error handling a message")
