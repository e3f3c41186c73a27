"""The embedded demo broker (amqtt) against real paho clients: what the demo and satellites rely on."""

from __future__ import annotations

import queue
import socket
import threading
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge_nlu_tools.broker import EmbeddedBroker, LocalBroker
from tests.broker import until


@pytest.fixture
def broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as b:
        yield b


class Probe:
    """A paho client that records what it receives."""

    def __init__(self, port: int, client_id: str, will: tuple[str, str] | None = None, keepalive: int = 30,
                 clean_session: bool = True) -> None:
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.connected = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean_session)
        if will:
            self.client.will_set(will[0], will[1], qos=1, retain=True)
        self.client.on_connect = lambda *a: self.connected.set()
        self.client.on_message = lambda c, u, m: self.messages.put(m)
        self.client.connect("127.0.0.1", port, keepalive=keepalive)
        self.client.loop_start()
        assert self.connected.wait(30)

    def sub(self, *filters: str, qos: int = 1) -> None:
        done = threading.Event()
        self.client.on_subscribe = lambda *a: done.set()
        self.client.subscribe([(f, qos) for f in filters])
        assert done.wait(30)

    def unsub(self, *filters: str) -> None:
        done = threading.Event()
        self.client.on_unsubscribe = lambda *a: done.set()
        self.client.unsubscribe(list(filters))
        assert done.wait(30)

    def get(self, timeout: float = 30.0) -> mqtt.MQTTMessage:
        return self.messages.get(timeout=timeout)

    def none(self, wait: float = 0.3) -> bool:
        try:
            self.messages.get(timeout=wait)
        except queue.Empty:
            return True
        return False

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_publish_subscribe_wildcards_and_qos(broker: EmbeddedBroker) -> None:
    sub, pub = Probe(broker.port, "sub"), Probe(broker.port, "pub")
    try:
        sub.sub("zigbee2mqtt/+", "tele/#")
        info = pub.client.publish("zigbee2mqtt/lamp", b'{"state":"ON"}', qos=1)
        info.wait_for_publish(5)
        assert info.is_published()
        pub.client.publish("tele/kettle/STATE", b"x", qos=0)
        pub.client.publish("zigbee2mqtt/a/b", b"not matched", qos=0)
        got = [sub.get(), sub.get()]
        # amqtt delivers the QoS 0 publish at the subscription's QoS 1 (MQTT says the lower one); nothing
        # here relies on QoS 0, so only the QoS 1 delivery is pinned
        assert [(m.topic, m.retain) for m in got] == [("zigbee2mqtt/lamp", False), ("tele/kettle/STATE", False)]
        assert got[0].qos == 1
        assert got[0].payload == b'{"state":"ON"}'
        assert sub.none()
        sub.unsub("tele/#")
        pub.client.publish("tele/kettle/STATE", b"y", qos=1).wait_for_publish(5)
        assert sub.none()
    finally:
        sub.close()
        pub.close()


def test_retained_messages_and_clearing(broker: EmbeddedBroker) -> None:
    pub = Probe(broker.port, "pub")
    pub.client.publish("edge-nlu/status", "online", qos=1, retain=True).wait_for_publish(5)
    pub.client.publish("gone/topic", "x", qos=1, retain=True).wait_for_publish(5)
    pub.client.publish("gone/topic", b"", qos=1, retain=True).wait_for_publish(5)
    late = Probe(broker.port, "late")
    try:
        late.sub("#")
        m = late.get()
        assert (m.topic, m.payload, m.retain) == ("edge-nlu/status", b"online", True)
        assert late.none()
        pub.client.publish("edge-nlu/status", "busy", qos=0, retain=True)
        m = late.get()
        assert (m.payload, m.retain) == (b"busy", False)  # live delivery: retain flag cleared
    finally:
        late.close()
        pub.close()


def test_will_on_abrupt_close_not_on_disconnect(broker: EmbeddedBroker) -> None:
    watcher = Probe(broker.port, "watcher")
    watcher.sub("svc/status")
    clean = Probe(broker.port, "clean", will=("svc/status", "offline"))
    clean.close()
    assert watcher.none()
    # An abrupt close: a raw CONNECT with a will, then the socket just goes away.
    will_topic, payload = b"svc/status", b"offline"
    body = (b"\x00\x04MQTT\x04" + bytes([0x02 | 0x04 | 0x08 | 0x20]) + b"\x00\x3c" + b"\x00\x03raw"
            + len(will_topic).to_bytes(2, "big") + will_topic + len(payload).to_bytes(2, "big") + payload)
    with socket.create_connection(("127.0.0.1", broker.port), timeout=5) as s:
        s.sendall(bytes([0x10, len(body)]) + body)
        assert s.recv(4) == b"\x20\x02\x00\x00"
    m = watcher.get()
    assert (m.topic, m.payload) == ("svc/status", b"offline")
    watcher.close()


def test_ping_keepalive_and_garbage(broker: EmbeddedBroker) -> None:
    probe = Probe(broker.port, "pinger", keepalive=1)
    pongs = threading.Semaphore(0)
    probe.client.on_log = lambda c, u, level, buf: pongs.release() if "PINGRESP" in buf else None
    for _ in range(2):  # paho pings; the broker must answer or paho drops the link
        assert pongs.acquire(timeout=30)
    assert probe.client.is_connected()
    with socket.create_connection(("127.0.0.1", broker.port), timeout=5) as s:
        s.sendall(b"\xff\xff\xff\xff\xff")
        assert s.recv(10) == b""  # malformed: closed
    probe.sub("t")
    probe.client.publish("t", "still fine", qos=1)
    assert probe.get().payload == b"still fine"
    probe.close()


def test_stop_closes_clients_and_thread() -> None:
    before = {t.name for t in threading.enumerate()}
    with LocalBroker(kind="embedded") as b:
        assert b.kind == "embedded"
        probe = Probe(b.port, "x")
        port = b.port
    until(lambda: not probe.client.is_connected(), "the client sees the broker go away")
    probe.client.loop_stop()
    assert not probe.client.is_connected()
    assert "edge-nlu-embedded-broker" not in {t.name for t in threading.enumerate()} - before
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()


def test_the_services_connect_sequence(broker: EmbeddedBroker) -> None:
    """`edge-nlu serve` on MQTT 3.1.1: one clean connect that ends an old session, then the same client id
    with clean_session=0, QoS 1 subscriptions, a will; a second link with that id takes the session over."""
    Probe(broker.port, "svc", clean_session=True).close()
    svc = Probe(broker.port, "svc", will=("edge-nlu/status", "offline"), clean_session=False)
    sat = Probe(broker.port, "sat")
    try:
        svc.sub("hermes/nlu/query")
        sat.client.publish("hermes/nlu/query", b'{"input": "hi"}', qos=1).wait_for_publish(5)
        m = svc.get()
        assert (m.topic, m.payload, m.qos) == ("hermes/nlu/query", b'{"input": "hi"}', 1)
        sat.sub("edge-nlu/status")
        svc.client.publish("edge-nlu/status", "online", qos=1, retain=True).wait_for_publish(5)
        assert sat.get().payload == b"online"
        again = Probe(broker.port, "svc", clean_session=False)  # a restarted service while the old link hangs
        until(lambda: not svc.client.is_connected(), "the old link is dropped")
        again.close()
    finally:
        svc.client.loop_stop()
        sat.close()
