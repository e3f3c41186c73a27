"""A real Mosquitto for tests (the tools' launcher: free loopback port, generated config, stop/kill/restart
on the same port), installed with apt-get when missing, with a self-made CA for its TLS listener; and a
probe client that records messages."""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge_nlu_tools.broker import Mosquitto, TLSFiles, find_mosquitto, free_port

__all__ = ["PASSWORD", "USER", "Mosquitto", "Probe", "TLSFiles", "find_or_install_mosquitto", "free_port",
           "make_tls", "retained_status", "until"]

USER, PASSWORD = "edge", "s3cret-pass"


def find_or_install_mosquitto() -> tuple[str | None, str]:
    """(path to mosquitto, reason if missing); installs it with apt-get when it is not there."""
    found = find_mosquitto()
    if found:
        return found, ""
    if shutil.which("apt-get"):
        env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
        proc = subprocess.run(["apt-get", "install", "-y", "mosquitto"], capture_output=True, text=True,
                              timeout=300, env=env)
        if proc.returncode != 0:  # stale package lists
            subprocess.run(["apt-get", "update"], capture_output=True, timeout=300, env=env)
            proc = subprocess.run(["apt-get", "install", "-y", "mosquitto"], capture_output=True, text=True,
                                  timeout=300, env=env)
        found = find_mosquitto()
        if found:
            return found, ""
        return None, f"mosquitto is not installed and apt-get failed: {proc.stderr[-500:]}"
    return None, "mosquitto is not installed and there is no apt-get"


def make_tls(workdir: Path) -> TLSFiles:
    """CA + server certificate with openssl (EC keys: fast)."""
    workdir.mkdir(parents=True, exist_ok=True)
    ca_key, ca, key, csr, cert = (workdir / n for n in ("ca.key", "ca.crt", "server.key", "server.csr", "server.crt"))
    ext = workdir / "server.ext"
    ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                   "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
                   "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for cmd in (
        ["openssl", "req", "-x509", *ec, "-keyout", str(ca_key), "-out", str(ca), "-days", "2",
         "-subj", "/CN=edge-nlu test CA", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        ["openssl", "req", *ec, "-keyout", str(key), "-out", str(csr), "-subj", "/CN=localhost"],
        ["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
         "-out", str(cert), "-days", "2", "-extfile", str(ext)],
    ):
        subprocess.run(cmd, check=True, capture_output=True, timeout=30)
    return TLSFiles(ca=ca, cert=cert, key=key)


class Probe:
    """A test client: records every message it gets, publishes, and runs Hermes queries."""

    def __init__(self, broker: Mosquitto, client_id: str | None = None, username: str | None = None,
                 password: str | None = None) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or f"probe-{uuid.uuid4().hex[:8]}")
        if username:
            self.client.username_pw_set(username, password)
        if broker.tls:
            self.client.tls_set_context(ssl.create_default_context(cafile=str(broker.tls.ca)))
        self.messages: list[mqtt.MQTTMessage] = []
        self.cond = threading.Condition()
        self.connected = threading.Event()
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, u, f, rc, p: self.connected.set() if not rc.is_failure else None
        self.client.connect("127.0.0.1", broker.port, keepalive=30)
        self.client.loop_start()
        if not self.connected.wait(30):
            raise RuntimeError("probe could not connect")

    def _on_message(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self.cond:
            self.messages.append(msg)
            self.cond.notify_all()

    def subscribe(self, *topics: str) -> None:
        done = threading.Event()
        self.client.on_subscribe = lambda *a: done.set()
        self.client.subscribe([(t, 1) for t in topics])
        if not done.wait(30):
            raise RuntimeError("no SUBACK")

    def publish(self, topic: str, payload: bytes | str | dict[str, Any], retain: bool = False, qos: int = 1,
                wait: bool = True) -> None:
        data = json.dumps(payload) if isinstance(payload, dict) else payload
        info = self.client.publish(topic, data, qos=qos, retain=retain)
        if wait:
            info.wait_for_publish(30)

    def expect(self, pred: Callable[[mqtt.MQTTMessage], bool], timeout: float = 30.0) -> mqtt.MQTTMessage:
        """The first recorded message that matches (removed from the record); fails after `timeout`."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i, m in enumerate(self.messages):
                    if pred(m):
                        return self.messages.pop(i)
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(m.topic, m.payload[:200]) for m in self.messages[-10:]]
                    raise AssertionError(f"no matching message within {timeout}s; last seen: {seen}")
                self.cond.wait(left)

    def query(self, text: str, site: str = "kitchen-puck", session: str | None = "s1", timeout: float = 30.0,
              **extra: Any) -> tuple[str, dict[str, Any], dict[str, Any]]:
        """Publish a Hermes query; (hermes topic, hermes payload, full result) once both answers are in."""
        qid = uuid.uuid4().hex
        self.publish("hermes/nlu/query", {"input": text, "siteId": site, "sessionId": session, "id": qid,
                                          "intentFilter": None, **extra})
        return self.answer(qid, site, timeout)

    def answer(self, qid: str, site: str, timeout: float = 30.0) -> tuple[str, dict[str, Any], dict[str, Any]]:
        def has_id(prefix: str) -> Callable[[mqtt.MQTTMessage], bool]:
            def pred(m: mqtt.MQTTMessage) -> bool:
                if not m.topic.startswith(prefix):
                    return False
                try:
                    return bool(json.loads(m.payload).get("id") == qid)
                except ValueError:
                    return False
            return pred

        hermes = self.expect(lambda m: has_id("hermes/intent/")(m) or has_id("hermes/nlu/intentNotRecognized")(m),
                             timeout)
        result = self.expect(has_id(f"edge-nlu/result/{site}"), timeout)
        return hermes.topic, json.loads(hermes.payload), json.loads(result.payload)

    def clear(self) -> None:
        with self.cond:
            self.messages.clear()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def retained_status(broker: Mosquitto, topic: str = "edge-nlu/status", timeout: float = 15.0) -> str | None:
    """What a fresh subscriber is told as retained on `topic` (None when nothing is retained)."""
    probe = Probe(broker)
    try:
        probe.subscribe(topic)
        try:
            m = probe.expect(lambda m: m.topic == topic and bool(m.retain), timeout)
        except AssertionError:
            return None
        return bytes(m.payload).decode()
    finally:
        probe.close()


def until(cond: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Poll `cond` until it returns something truthy and return that; fail after `timeout` seconds. Tests
    await conditions this way instead of sleeping for them; the deadline is generous for a loaded machine."""
    deadline = time.monotonic() + timeout
    while True:
        got = cond()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.05)
