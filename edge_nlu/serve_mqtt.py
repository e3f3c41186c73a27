"""The service's one MQTT connection: paho 2.x with the habits of robust hub clients.

- last will `<edge-nlu>/status` = `offline` (retained), `online` (retained) on every connect;
- every subscription is made again on every connect, so retained messages rebuild the home;
- exponential reconnect backoff (paho's) plus random jitter (paho adds none), so that many
  satellites' services do not hammer a restarted broker in lock step;
- bad credentials stop the service instead of retrying forever (as Home Assistant does);
- TCP_NODELAY on our socket: small request/answer packets must not wait on delayed ACKs;
- callbacks only hand messages over; nothing slow runs on the network thread.
"""

from __future__ import annotations

import json
import logging
import random
import socket
import ssl
import threading
from collections.abc import Callable, Iterable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from .errors import EdgeNLUError
from .serve_config import BrokerSettings

log = logging.getLogger("edge_nlu.serve")

SUBSCRIBE_CHUNK = 64
"""Topics per SUBSCRIBE packet; keeps packets small for brokers with a packet-size limit."""
AUTH_FAILURES = {134, 135}
"""CONNACK reason codes that retrying will not fix: bad user name or password, not authorized."""
MAX_OUT_QUEUE = 10000
"""QoS 1 answers kept while the broker is away; paho resends them on reconnect."""

OnMessage = Callable[[str | None, bytes, bool], None]
"""(topic, or None when it is not valid UTF-8; payload; retained)."""


class BrokerError(EdgeNLUError):
    """The broker refused us in a way that retrying cannot fix."""

    code = "broker_refused"


class MqttLink:
    """One paho client, started and stopped by the service."""

    def __init__(self, broker: BrokerSettings, status_topic: str, on_message: OnMessage,
                 topics: Callable[[], list[str]], on_connected: Callable[[], None] | None = None) -> None:
        self.broker = broker
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
        self.client = self._make_client()

    def _make_client(self) -> mqtt.Client:
        b = self.broker
        v5 = b.protocol == "5"
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=b.client_id, transport=b.transport,  # type: ignore[arg-type]
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311, clean_session=None if v5 else True,
        )
        client.suppress_exceptions = True  # our callbacks catch their own; never let one kill the loop
        client.enable_logger(logging.getLogger("edge_nlu.serve.paho"))
        if b.transport == "websockets":
            client.ws_set_options(path=b.ws_path)
        if b.username is not None:
            client.username_pw_set(b.username, b.password)
        if b.tls.enabled:
            client.tls_set_context(self._tls_context())
        client.will_set(self.status_topic, "offline", qos=1, retain=True)
        # paho's annotation says int; it does plain float arithmetic with these, and tests need sub-second delays
        client.reconnect_delay_set(b.reconnect_min_s, b.reconnect_max_s)  # type: ignore[arg-type]
        client.max_queued_messages_set(MAX_OUT_QUEUE)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.on_message = self._on_message
        client.on_socket_open = self._on_socket_open
        return client

    def _tls_context(self) -> ssl.SSLContext:
        t = self.broker.tls
        try:
            ctx = ssl.create_default_context(cafile=str(t.ca_file) if t.ca_file else None)
            if t.cert_file and t.key_file:
                ctx.load_cert_chain(str(t.cert_file), str(t.key_file))
        except (OSError, ssl.SSLError) as exc:
            raise BrokerError(f"TLS files cannot be used: {exc}", "bad_tls_files") from exc
        if t.insecure:
            ctx.check_hostname = False  # the chain is still verified against the CA
        return ctx

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background; paho's thread retries the first connection too."""
        b = self.broker
        self.client.connect_async(b.host, b.port, keepalive=b.keepalive_s)
        self.client.loop_start()

    def stop(self, timeout: float = 2.0) -> None:
        """Say `offline` (retained), disconnect cleanly, stop the network thread."""
        self._stop.set()
        if self._connected.is_set():
            info = self.client.publish(self.status_topic, "offline", qos=1, retain=True)
            try:
                info.wait_for_publish(timeout)
            except (ValueError, RuntimeError) as exc:
                log.warning("could not publish offline status: %s", exc)
        self.client.disconnect()
        self.client.loop_stop()
        self._connected.clear()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    # --- outgoing ----------------------------------------------------------------------------

    def publish(self, topic: str, payload: dict[str, Any] | str, qos: int = 1, retain: bool = False) -> bool:
        """Queue a message; QoS 1 messages survive a reconnect. False when paho's queue is full."""
        data = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
        info = self.client.publish(topic, data, qos=qos, retain=retain)
        if info.rc == MQTTErrorCode.MQTT_ERR_QUEUE_SIZE:
            log.warning("outgoing queue full; dropped a message on %s", topic)
            return False
        return True

    def subscribe(self, topics: Iterable[str]) -> None:
        """Subscribe now if connected; either way `topics()` names them again on every connect."""
        if not self._connected.is_set():
            return
        self._subscribe(list(topics))

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
                    self.fatal = BrokerError(f"broker {self.broker.uri} refused the login: {reason}", "broker_auth")
                    log.error("%s; not retrying", self.fatal.message)
                    self._stop.set()
                    client.disconnect()
                else:
                    log.warning("broker %s refused the connection: %s", self.broker.uri, reason)
                return
            self.connects += 1
            self._connected.set()
            log.info("connected to %s (connection %d)", self.broker.uri, self.connects)
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
        if self._stop.is_set():
            return
        if was:
            log.warning("lost the broker %s (%s); reconnecting", self.broker.uri, reason)
        self._jitter()

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        log.debug("cannot reach %s; retrying", self.broker.uri)
        self._jitter()

    def _jitter(self) -> None:
        """Random extra wait before paho's own backoff; interruptible by stop()."""
        self._stop.wait(random.uniform(0, self.broker.reconnect_min_s))  # noqa: S311 - timing jitter, not crypto

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            try:
                topic: str | None = msg.topic
            except UnicodeDecodeError:
                topic = None
            self._on_message_cb(topic, bytes(msg.payload), bool(msg.retain))
        except Exception:
            log.exception("error handling a message")
