"""The live service against a real Mosquitto, with the shipped model, over MQTT 3.1.1 and 5."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_nlu.domain.home import Home
from edge_nlu.domain.live_home import EntityUpdate
from edge_nlu.domain.result import Action
from edge_nlu.pipeline import EdgeNLU
from edge_nlu.service.app import Service
from edge_nlu.service.config import ServeSettings
from edge_nlu.settings import RuntimeSettings
from tests.broker import PASSWORD, USER, Mosquitto, Probe, retained_status, until
from tests.conftest import HOME_YAML, ROOT, SHIPPED

HAVE_ADAPTERS = importlib.util.find_spec("edge_nlu.service.adapters.registry") is not None
needs_adapters = pytest.mark.skipif(not HAVE_ADAPTERS, reason="edge_nlu.service.adapters.registry is not there yet")
PROTOCOLS = ["3.1.1", "5"]
SITES = {"kitchen-puck": {"area": "Kitchen", "has_screen": False, "user": "alex"}, "lounge": {"area": "Living Room"}}
RESULT_KEYS = {"id", "text", "rewrite", "nlu", "action", "response", "error"}
SLOT_KEYS = {"entity", "slotName", "rawValue", "value", "range", "confidenceScore"}
CAP = 64 * 1024


def config(broker: Mosquitto, home: Path, protocol: str = "3.1.1", **over: Any) -> dict[str, Any]:
    """A service config for `broker`; `over` replaces top-level keys, `broker_extra` adds broker keys."""
    broker_d = {"uri": broker.uri, "protocol": protocol, "client_id": f"edge-nlu-{uuid.uuid4().hex[:6]}",
                "keepalive_s": 5, "reconnect": {"min_s": 0.1, "max_s": 0.5}, **over.pop("broker_extra", {})}
    d: dict[str, Any] = {
        "broker": broker_d, "sites": SITES, "home": str(home), "stats_interval_s": 0,
        "adapters": {"zigbee2mqtt": {}, "ha_discovery": {}} if HAVE_ADAPTERS else {},
        "limits": {"max_payload_bytes": CAP},
    }
    d.update(over)
    return d


@pytest.fixture(scope="session")
def nlu() -> EdgeNLU:
    """One loaded model for every in-thread service (the services pass their own home per query)."""
    return EdgeNLU(RuntimeSettings(model_dir=SHIPPED), home=Home())


@pytest.fixture(scope="session")
def home_yaml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("home") / "home.yaml"
    p.write_text(HOME_YAML)
    return p


def running(d: dict[str, Any], nlu: EdgeNLU) -> Service:
    svc = Service(ServeSettings.from_dict(d), nlu=nlu)
    svc.start()
    if not svc.link.wait_connected(60):
        svc.stop()
        raise AssertionError("the service did not connect")
    return svc


def wait_ready(probe: Probe, site: str = "kitchen-puck", timeout: float = 60.0) -> None:
    """Retry a query until answered: the service's SUBSCRIBE may still be in flight after CONNACK. Each try
    waits longer (a loaded machine can take seconds for a first answer)."""
    deadline = time.monotonic() + timeout
    wait = 0.5
    while True:
        try:
            probe.query("what time is it", site=site, timeout=wait)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            wait = min(wait * 2, 5.0)


def listen(probe: Probe) -> Probe:
    probe.subscribe("hermes/intent/#", "hermes/nlu/intentNotRecognized", "edge-nlu/#")
    return probe


@pytest.fixture(scope="module", params=PROTOCOLS)
def service(request: pytest.FixtureRequest, broker: Mosquitto, nlu: EdgeNLU, home_yaml: Path) -> Iterator[Service]:
    svc = running(config(broker, home_yaml, request.param), nlu)
    yield svc
    svc.stop()


@pytest.fixture(scope="module")
def probe(broker: Mosquitto) -> Iterator[Probe]:
    p = listen(Probe(broker))
    yield p
    p.close()


@pytest.fixture
def ready(service: Service, probe: Probe) -> Probe:
    wait_ready(probe)
    probe.clear()
    return probe


def set_oven(svc: Service, probe: Probe, state: str, wait: bool = True) -> None:
    """A Zigbee2MQTT state message through the adapters when they exist, else straight into the live home."""
    if HAVE_ADAPTERS:
        probe.publish("zigbee2mqtt/Oven", {"state": state.upper()}, wait=wait)
    else:
        svc.home.apply([EntityUpdate("switch.oven", state=state.lower())])


def test_hermes_round_trip(service: Service, ready: Probe) -> None:
    topic, hermes, result = ready.query("turn off the lights", session="rt", user="sam",
                                        time="2026-11-24T07:30:00")
    assert topic == "hermes/intent/HassTurnOff"
    assert {k: hermes[k] for k in ("input", "siteId", "sessionId")} == {
        "input": "turn off the lights", "siteId": "kitchen-puck", "sessionId": "rt"}
    assert hermes["id"] == result["id"] and isinstance(hermes["id"], str)
    assert hermes["intent"]["intentName"] == "HassTurnOff" and 0.5 < hermes["intent"]["confidenceScore"] <= 1
    slots = {s["slotName"]: s for s in hermes["slots"]}
    assert all(set(s) == SLOT_KEYS and set(s["value"]) == {"kind", "value"} for s in hermes["slots"])
    assert slots["area"]["value"] == {"kind": "Custom", "value": "Kitchen"}  # the site's area from the config
    assert slots["domain"]["range"] == {"start": 13, "end": 19}  # "lights"
    assert set(result) == RESULT_KEYS and result["error"] is None and result["text"] == "turn off the lights"
    assert result["action"]["targets"] == ["light.kitchen_ceiling"]
    # a site without config: no area, so the lights of the whole home
    _, _, other = ready.query("turn off the lights", site="garage-puck")
    assert "light.sofa_lamp" in other["action"]["targets"]


def test_intent_filter(service: Service, ready: Probe) -> None:
    topic, hermes, result = ready.query("turn off the lights", intentFilter=["HassTurnOn"])
    assert topic == "hermes/nlu/intentNotRecognized" and hermes["reason"] == "filtered"
    assert result["action"]["intent"] == "HassTurnOff"  # the full result still goes out
    topic, _, _ = ready.query("turn off the lights", intentFilter=["HassTurnOn", "HassTurnOff"])
    assert topic == "hermes/intent/HassTurnOff"


def test_previous_turn_of_the_same_session_resolves_it(service: Service, ready: Probe) -> None:
    session = uuid.uuid4().hex
    _, _, first = ready.query("turn on the sofa lamp", session=session)
    assert first["action"]["targets"] == ["light.sofa_lamp"]
    _, _, second = ready.query("turn it off", session=session)
    assert second["action"]["intent"] == "HassTurnOff" and second["action"]["targets"] == ["light.sofa_lamp"]
    _, _, fresh = ready.query("turn it off", session=uuid.uuid4().hex)
    assert fresh["action"]["targets"] != ["light.sofa_lamp"]
    _, _, other_site = ready.query("turn it off", session=session, site="lounge")
    assert other_site["action"]["targets"] != ["light.sofa_lamp"]  # history is per (siteId, sessionId)


def test_state_change_between_identical_queries_changes_the_answer(service: Service, ready: Probe) -> None:
    set_oven(service, ready, "off")
    _, _, before = ready.query("is the oven on")
    for i in range(300):  # a burst of other state, so that the oven's message is still queued when the query comes
        ready.publish(f"zigbee2mqtt/burst {i}", {"state": "ON", "brightness": i % 255}, wait=False)
    set_oven(service, ready, "on", wait=False)
    _, _, after = ready.query("is the oven on")  # no sleep: a query waits for state that arrived before it
    set_oven(service, ready, "off")
    assert before["response"] == "No, the oven is off." and after["response"] == "Yes, the oven is on."


def test_queries_are_not_lost_while_state_pours_in(service: Service, ready: Probe) -> None:
    ids = [uuid.uuid4().hex for _ in range(40)]
    for i, qid in enumerate(ids):
        for j in range(5):
            ready.publish(f"zigbee2mqtt/lamp {i}-{j}", {"state": "ON", "brightness": j}, qos=0)
        ready.publish("hermes/nlu/query", {"input": "turn on the oven", "siteId": "kitchen-puck", "id": qid})
    for qid in ids:
        topic, _, result = ready.answer(qid, "kitchen-puck")
        assert topic == "hermes/intent/HassTurnOn" and result["action"]["targets"] == ["switch.oven"]


BAD_DEVICE = [b"", b"\xff\xfe\x00\x01", b"{", b"[]", b"null", b'{"state": {"nested": [1, 2]}}', b"x" * (CAP + 1),
              b'{"state": "ON", "brightness": "bright"}', b"1e999999"]
BAD_QUERY = [b"\xff", b"{", b"[]", b'{"siteId": "kitchen-puck"}', b'{"input": 3}', b"x" * (CAP + 1),
             b'{"input": "hi", "siteId": "a/b"}', b'{"input": "' + b"a" * 5000 + b'"}']


def test_garbage_does_not_stop_the_service(service: Service, ready: Probe) -> None:
    before = service.counters()
    for payload in BAD_DEVICE:
        for topic in ("zigbee2mqtt/junk box", "zigbee2mqtt/bridge/devices", "homeassistant/light/x/config"):
            ready.publish(topic, payload)
    for payload in BAD_QUERY:
        ready.publish("hermes/nlu/query", payload)
    # a query we can attribute gets an error answer instead of silence
    ready.publish("hermes/nlu/query", {"siteId": "kitchen-puck", "id": "bad-1", "input": None})
    topic, hermes, result = ready.answer("bad-1", "kitchen-puck")
    assert topic == "hermes/nlu/intentNotRecognized" and hermes["reason"] == "invalid_query"
    assert result["error"]["code"] == "invalid_query"
    _, _, ok = ready.query("turn on the oven")
    assert ok["action"]["targets"] == ["switch.oven"]
    after = service.counters()
    assert after["errors"] == 0, "an adapter or the service raised instead of rejecting"
    assert after["invalid_queries"] - before["invalid_queries"] >= len(BAD_QUERY)
    assert after["rejected"] > before["rejected"]
    assert service.link.connected


# MQTT forbids wildcards in topic names, and Mosquitto drops a publisher that sends control or
# non-characters; anything else is fair game
_topic_text = st.text(st.characters(blacklist_characters="+#", blacklist_categories=("Cc", "Cs", "Cn", "Co")),
                      min_size=1, max_size=12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    messages=st.lists(st.tuples(
        st.one_of(_topic_text.map(lambda n: f"zigbee2mqtt/{n}"), st.just("zigbee2mqtt/bridge/devices"),
                  _topic_text.map(lambda n: f"homeassistant/sensor/{n}/config"), st.just("hermes/nlu/query")),
        st.one_of(st.binary(max_size=200), st.text(max_size=80).map(str.encode),
                  st.dictionaries(st.text(max_size=8), st.one_of(st.none(), st.integers(), st.text(max_size=8),
                                                                 st.booleans(), st.floats(allow_nan=True)),
                                  max_size=4).map(lambda d: json.dumps(d).encode()))),
        min_size=1, max_size=6),
)
def test_property_any_payload_on_any_topic_leaves_the_service_answering(
        service: Service, ready: Probe, messages: list[tuple[str, bytes]]) -> None:
    for topic, payload in messages:
        ready.publish(topic, payload, qos=0)
    topic, _, result = ready.query("turn on the oven")
    assert result["action"]["targets"] == ["switch.oven"]
    assert service.counters()["errors"] == 0
    ready.clear()


@needs_adapters
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_broker_restart_reconnects_and_rebuilds_from_retained(
        protocol: str, broker_factory: Callable[..., Mosquitto], nlu: EdgeNLU, home_yaml: Path) -> None:
    broker = broker_factory()
    seed = Probe(broker)
    seed.publish("zigbee2mqtt/Oven", {"state": "OFF"}, retain=True)
    seed.close()
    # reconnect min 1 s: the restarted broker is back long before the service's first retry
    svc = running(config(broker, home_yaml, protocol, broker_extra={"reconnect": {"min_s": 1.0, "max_s": 2.0}}), nlu)
    try:
        p = listen(Probe(broker))
        wait_ready(p)
        assert p.query("is the oven on")[2]["response"] == "No, the oven is off."
        retained_before = svc.counters()["retained"]
        assert retained_before >= 1
        p.close()
        broker.kill()
        broker.start()  # same port, and a broker without the old retained state
        seed = Probe(broker)
        seed.publish("zigbee2mqtt/Oven", {"state": "ON"}, retain=True)  # changed while the service was away
        seed.close()
        until(lambda: svc.counters()["connects"] >= 2, "the reconnect", timeout=60)
        assert svc.counters()["connects"] == 2
        p = listen(Probe(broker))
        wait_ready(p)
        assert p.query("is the oven on")[2]["response"] == "Yes, the oven is on."
        assert svc.counters()["retained"] > retained_before  # it came as a retained message on resubscribe
        assert retained_status(broker) == "online"  # status republished on the new broker
        p.close()
    finally:
        svc.stop()


def _spawn(broker: Mosquitto, home: Path, tmp_path: Path) -> subprocess.Popen[str]:
    cfg = tmp_path / "serve.yaml"
    d = config(broker, home)
    cfg.write_text(json.dumps(d))  # JSON is YAML
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "edge_nlu.cli", "serve", "--config", str(cfg)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@contextlib.contextmanager
def _service_process(broker: Mosquitto, home_yaml: Path,
                     tmp_path: Path) -> Iterator[tuple[Probe, subprocess.Popen[str]]]:
    """`edge-nlu serve` as a subprocess, with a client watching its status; stopped and closed after."""
    watch = Probe(broker)
    watch.subscribe("edge-nlu/status")
    proc = _spawn(broker, home_yaml, tmp_path)
    try:
        try:
            watch.expect(lambda m: m.topic == "edge-nlu/status" and m.payload == b"online", timeout=120)
        except AssertionError:
            if proc.poll() is not None:  # say why it never came online
                raise AssertionError(f"serve exited {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
            raise
        yield watch, proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        watch.close()


def test_status_online_retained_and_last_will_on_kill(broker_factory: Callable[..., Mosquitto], home_yaml: Path,
                                                      tmp_path: Path) -> None:
    broker = broker_factory()
    with _service_process(broker, home_yaml, tmp_path) as (watch, proc):
        assert retained_status(broker) == "online"
        p = listen(Probe(broker))
        wait_ready(p)
        assert p.query("turn on the oven")[2]["action"]["targets"] == ["switch.oven"]
        p.close()
        proc.send_signal(signal.SIGKILL)  # no goodbye: the broker publishes the last will
        proc.wait(30)
        watch.expect(lambda m: m.topic == "edge-nlu/status" and m.payload == b"offline", timeout=30)
        assert retained_status(broker) == "offline"


def test_sigterm_publishes_offline_and_exits_zero(broker_factory: Callable[..., Mosquitto], home_yaml: Path,
                                                  tmp_path: Path) -> None:
    broker = broker_factory()
    with _service_process(broker, home_yaml, tmp_path) as (watch, proc):
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, proc.stderr.read() if proc.stderr else ""
        watch.expect(lambda m: m.topic == "edge-nlu/status" and m.payload == b"offline", timeout=30)
        assert retained_status(broker) == "offline"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_tls_with_own_ca_and_password(protocol: str, tls_broker: Mosquitto, nlu: EdgeNLU, home_yaml: Path) -> None:
    assert tls_broker.tls is not None
    tls = {"tls": {"ca_file": str(tls_broker.tls.ca)}}
    uri = f"mqtts://{USER}:{PASSWORD}@127.0.0.1:{tls_broker.port}"
    svc = running(config(tls_broker, home_yaml, protocol, broker_extra={"uri": uri, **tls}), nlu)
    try:
        p = listen(Probe(tls_broker, username=USER, password=PASSWORD))
        wait_ready(p)
        assert p.query("turn on the oven")[2]["action"]["targets"] == ["switch.oven"]
        p.close()
    finally:
        svc.stop()


def test_wrong_password_stops_the_service(tls_broker: Mosquitto, nlu: EdgeNLU, home_yaml: Path) -> None:
    assert tls_broker.tls is not None
    extra = {"uri": f"mqtts://{USER}:wrong@127.0.0.1:{tls_broker.port}", "tls": {"ca_file": str(tls_broker.tls.ca)}}
    svc = Service(ServeSettings.from_dict(config(tls_broker, home_yaml, broker_extra=extra)), nlu=nlu)
    stop = threading.Event()
    t0 = time.monotonic()
    with pytest.raises(Exception) as err:
        svc.run(stop)  # returns by itself: retrying bad credentials is pointless
    assert getattr(err.value, "code", None) == "broker_auth" and time.monotonic() - t0 < 10


def test_untrusted_broker_certificate_is_refused(tls_broker: Mosquitto, nlu: EdgeNLU, home_yaml: Path) -> None:
    extra = {"uri": f"mqtts://{USER}:{PASSWORD}@127.0.0.1:{tls_broker.port}"}  # system CAs do not know ours
    svc = Service(ServeSettings.from_dict(config(tls_broker, home_yaml, broker_extra=extra)), nlu=nlu)
    svc.start()
    try:
        assert not svc.link.wait_connected(1.5)
        assert svc.link.fatal is None  # a TLS failure may be transient: it keeps trying
    finally:
        svc.stop()


def _discovery_flood(svc: Service, n: int) -> float:
    """n HA discovery configs naming 3 topics each, then one message on every topic; this thread's CPU
    seconds (wall time swings with whatever else the machine runs; a busy CI box once made it 57x)."""
    t0 = time.thread_time()
    for i in range(n):
        conf = {"name": f"Flood {i}", "uniq_id": f"flood_{n}_{i}", "stat_t": f"flood{n}/{i}/state",
                "json_attr_t": f"flood{n}/{i}/attr", "avty_t": f"flood{n}/{i}/avail"}
        svc._handle(f"homeassistant/switch/flood{n}_{i}/config", json.dumps(conf).encode(), True)
    for i in range(n):
        svc._handle(f"flood{n}/{i}/state", b"ON", False)
        svc._handle(f"flood{n}/{i}/attr", b'{"power": 3}', False)
        svc._handle(f"flood{n}/{i}/avail", b"online", False)
    return time.thread_time() - t0


def test_discovery_flood_ingest_stays_linear(nlu: EdgeNLU, broker: Mosquitto, home_yaml: Path) -> None:
    """3,000 configs naming 9,000 topics: every message is one route lookup, so ten times the configs
    costs about ten times the work (a per-message scan or sort of the learned topics made it ~100x)."""
    d = config(broker, home_yaml, adapters={"ha_discovery": {}})
    svc = Service(ServeSettings.from_dict(d), nlu=nlu)  # not started: _handle is the ingest thread's work
    subscribed: list[str] = []
    svc.link.subscribe = subscribed.extend  # type: ignore[method-assign,assignment]
    svc.link._connected.set()  # noqa: SLF001 - count what would be subscribed without a broker round trip
    small = min(_discovery_flood(svc, 300) for _ in range(3))
    big = _discovery_flood(svc, 3000)
    assert len(subscribed) == 3 * 300 + 3 * 3000 and len(set(subscribed)) == len(subscribed)
    assert svc.counters()["adapter_errors"] == 0 and svc.counters()["ignored"] == 0
    assert big / small < 40, (small, big)


def test_a_timer_started_by_voice_is_said_done_on_its_satellite(service: Service, ready: Probe) -> None:
    ready.subscribe("hermes/tts/say")
    _, _, result = ready.query("set a timer for 1 second", site="lounge")
    assert result["action"]["intent"] == "HassStartTimer" and result["response"] == "Timer started for 1 second."

    def said() -> dict[str, Any] | None:
        with ready.cond:
            for m in ready.messages:
                if m.topic == "hermes/tts/say":
                    return dict(json.loads(m.payload))
        return None

    done = until(said, "the timer's end said on hermes/tts/say")
    assert done["siteId"] == "lounge" and done["text"] == "Your 1 second timer is done." and done["id"]
    assert service.timers.timers("lounge") == ()


def test_a_timer_with_a_command_runs_it_as_its_satellites_query(service: Service, ready: Probe) -> None:
    ready.subscribe("hermes/nlu/query")
    service.timers.apply("lounge", Action("HassStartTimer", {"seconds": 1, "conversation_command": "turn on the oven"}),
                         time.time())

    def ran() -> dict[str, Any] | None:
        with ready.cond:
            for m in ready.messages:
                data = json.loads(m.payload) if m.topic == "hermes/intent/HassTurnOn" else None
                if data is not None and data["siteId"] == "lounge":
                    return dict(data)
        return None

    ran_at = until(ran, "the timer's command answered as the lounge's query")
    assert ran_at["input"] == "turn on the oven"
    with ready.cond:
        asked = [json.loads(m.payload) for m in ready.messages if m.topic == "hermes/nlu/query"]
        said = [m for m in ready.messages if m.topic == "hermes/tts/say"]
    assert any(q["input"] == "turn on the oven" and q["siteId"] == "lounge" for q in asked)
    assert not said  # a timer with a command runs it instead of saying it is done
