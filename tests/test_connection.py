"""The service's broker connection against a real Mosquitto: outages lose no query, failures say why,
and `edge-nlu serve --broker URL` with no config finds a Zigbee2MQTT home by itself."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from edge_nlu.domain.home import Home
from edge_nlu.pipeline import EdgeNLU
from edge_nlu.service.app import Service
from edge_nlu.service.config import BrokerSettings, ServeSettings, TLSSettings
from edge_nlu.service.mqtt import MqttLink
from edge_nlu.settings import RuntimeSettings
from tests.broker import PASSWORD, USER, Mosquitto, Probe, free_port, until
from tests.conftest import ROOT, SHIPPED

PROTOCOLS = ["3.1.1", "5"]


@pytest.fixture(scope="module")
def nlu() -> EdgeNLU:
    return EdgeNLU(RuntimeSettings(model_dir=SHIPPED), home=Home())


def listen(probe: Probe) -> Probe:
    probe.subscribe("hermes/intent/#", "hermes/nlu/intentNotRecognized", "edge-nlu/result/#")
    return probe


def ask(probe: Probe, text: str) -> str:
    """Publish a query (without waiting for the answer); its id."""
    qid = uuid.uuid4().hex
    probe.publish("hermes/nlu/query", {"input": text, "siteId": "kitchen-puck", "sessionId": None, "id": qid})
    return qid


def test_queries_sent_while_the_service_reconnects_are_answered(
        broker_factory: Callable[..., Mosquitto], nlu: EdgeNLU) -> None:
    """The broker restarts; queries published before the service is back are queued by the broker for
    its persistent session (QoS 1) and answered after the reconnect, none lost. MQTT 3.1.1 only:
    Mosquitto 2.0.11 restores 3.1.1 sessions from its database after a restart but answers an MQTT 5
    client's resume with session_present=0 (the session is gone), so there is nothing to resume."""
    protocol = "3.1.1"
    broker = broker_factory(persistence=True)  # a broker that keeps sessions over a restart, as HA's add-on does
    # a long first retry (>= 1.5 s with jitter) makes sure the queries below reach the broker before we do
    d = {"broker": {"uri": broker.uri, "protocol": protocol, "client_id": f"edge-nlu-{uuid.uuid4().hex[:6]}",
                    "reconnect": {"min_s": 3.0, "max_s": 3.0, "recent_max_s": 3.0}},
         "adapters": {}, "stats_interval_s": 0}
    svc = Service(ServeSettings.from_dict(d), nlu=nlu)
    svc.start()
    try:
        until(lambda: svc.link.connected, what="first connect")
        p = listen(Probe(broker))
        until(lambda: _answered(p, ask(p, "what time is it"), 1.0), what="first answer")
        p.close()
        broker.stop()  # SIGTERM: Mosquitto saves its sessions
        broker.start()
        p = listen(Probe(broker))
        assert not svc.link.connected
        ids = [ask(p, "what time is it") for _ in range(5)]
        assert not svc.link.connected  # all five were queued for the service, not delivered
        for qid in ids:
            assert _answered(p, qid, 30.0)
        assert svc.counters()["connects"] == 2
        p.close()
    finally:
        svc.stop()


def _answered(p: Probe, qid: str, timeout: float) -> bool:
    def has_id(m: Any) -> bool:
        try:
            return bool(m.topic.startswith("hermes/") and json.loads(m.payload).get("id") == qid)
        except ValueError:
            return False

    try:
        p.expect(has_id, timeout)
    except AssertionError:
        return False
    return True


def _link(broker: BrokerSettings) -> MqttLink:
    return MqttLink(broker, "edge-nlu/status", lambda *a: None, lambda: [])


def _warnings(caplog: pytest.LogCaptureFixture, needle: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and needle in r.getMessage()]


def test_refused_connection_is_logged_once_with_its_reason(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="edge_nlu.service.app")
    link = _link(BrokerSettings(port=free_port(), reconnect_min_s=0.02, reconnect_max_s=0.05))
    link.start()
    try:
        until(lambda: sum("cannot connect" in r.getMessage() for r in caplog.records) >= 4, what="retries")
    finally:
        link.stop()
    assert len(_warnings(caplog, "connection refused")) == 1


def test_untrusted_certificate_reason_is_logged(tls_broker: Mosquitto, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="edge_nlu.service.app")
    link = _link(BrokerSettings(port=tls_broker.port, tls=TLSSettings(enabled=True), username=USER,
                                password=PASSWORD, reconnect_min_s=0.05, reconnect_max_s=0.1))
    link.start()
    try:
        until(lambda: bool(_warnings(caplog, "not trusted")), what="TLS warning")
    finally:
        link.stop()
    assert not link.connected and link.fatal is None


def test_backoff_stays_short_while_the_broker_was_recently_seen() -> None:
    link = _link(BrokerSettings())  # defaults: min 0.5, recent cap 2, long cap 30
    link.last_seen = time.monotonic()
    assert max(link.next_delay() for _ in range(20)) <= 2.0
    link.last_seen = time.monotonic() - 3600
    delays = [link.next_delay() for _ in range(20)]
    assert max(delays) > 2.0 and max(delays) <= 30.0


Z2M_DEVICES = [
    {"friendly_name": "Coordinator", "ieee_address": "0x00124b0000000000", "type": "Coordinator"},
    {"friendly_name": "desk lamp", "ieee_address": "0x0017880100000011", "type": "Router",
     "definition": {"exposes": [{"type": "light", "features": [
         {"type": "binary", "name": "state", "property": "state", "value_on": "ON", "value_off": "OFF"},
         {"type": "numeric", "name": "brightness", "property": "brightness", "value_min": 0, "value_max": 254}]}]}},
]


@pytest.fixture
def zero_config_service(broker_factory: Callable[..., Mosquitto],
                        tmp_path: Path) -> Iterator[tuple[Mosquitto, subprocess.Popen[str], list[str]]]:
    broker = broker_factory()
    seed = Probe(broker)
    seed.publish("zigbee2mqtt/bridge/devices", json.dumps(Z2M_DEVICES), retain=True)
    seed.publish("zigbee2mqtt/desk lamp", {"state": "ON", "brightness": 200}, retain=True)
    seed.close()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "edge_nlu.cli", "serve", "--broker", broker.uri],
                            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)

    threading.Thread(target=read, daemon=True).start()
    try:
        yield broker, proc, lines
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def test_zero_config_finds_a_zigbee2mqtt_home(
        zero_config_service: tuple[Mosquitto, subprocess.Popen[str], list[str]]) -> None:
    broker, proc, lines = zero_config_service
    until(lambda: any("devices found after start" in line for line in lines) or proc.poll() is not None,
          timeout=60, what="the start-up census")
    census = next(line for line in lines if "devices found after start" in line)
    assert "zigbee2mqtt 1" in census and "homie 0" in census
    p = listen(Probe(broker))
    try:
        qid = ask(p, "turn off the desk lamp")
        m = p.expect(lambda m: m.topic.startswith("edge-nlu/result/") and json.loads(m.payload).get("id") == qid,
                     timeout=30)
        assert json.loads(m.payload)["action"]["targets"] == ["light.desk_lamp"]
    finally:
        p.close()


def test_empty_home_is_warned_about(broker_factory: Callable[..., Mosquitto], nlu: EdgeNLU,
                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="edge_nlu.service.app")
    broker = broker_factory()
    svc = Service(ServeSettings.from_dict({"broker": {"uri": broker.uri}, "stats_interval_s": 0}), nlu=nlu)
    svc.start()
    try:
        until(lambda: bool(_warnings(caplog, "no devices found")), what="the empty-home warning")
    finally:
        svc.stop()
    warning = _warnings(caplog, "no devices found")[0]
    assert "zigbee2mqtt at zigbee2mqtt/#" in warning and "homie at homie/#" in warning
