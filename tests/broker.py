"""A real Mosquitto for tests (the tools' launcher: free loopback port, generated config, stop/kill/restart
on the same port), installed with apt-get when missing, with a self-made CA for its TLS listener; and a
probe client (the tools' Hermes client) that records messages."""

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

from edge_nlu_tools.broker import Mosquitto, TLSFiles, find_mosquitto, free_port
from edge_nlu_tools.hermes_client import HermesClient

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


class Probe(HermesClient):
    """A test client: records every message it gets (`expect` takes them out), publishes, and runs Hermes
    queries through the tools' client (answers matched by id). Subscribes only to what a test asks for."""

    def __init__(self, broker: Mosquitto, client_id: str | None = None, username: str | None = None,
                 password: str | None = None) -> None:
        tls = ssl.create_default_context(cafile=str(broker.tls.ca)) if broker.tls else None
        super().__init__("127.0.0.1", broker.port, client_id or f"probe-{uuid.uuid4().hex[:8]}", answers=False,
                         username=username, password=password, tls=tls)
        self.messages: list[mqtt.MQTTMessage] = []
        self.cond = threading.Condition()
        self.connect(timeout=30)

    def received(self, msg: mqtt.MQTTMessage) -> None:
        with self.cond:
            self.messages.append(msg)
            self.cond.notify_all()

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
                    raise AssertionError(f"no matching message within {timeout}s; last seen: {self._last_seen()}")
                self.cond.wait(left)

    def _last_seen(self) -> list[tuple[str, bytes]]:
        return [(m.topic, bytes(m.payload[:200])) for m in self.messages[-10:]]

    def query(self, text: str, site: str = "kitchen-puck", session: str | None = "s1", timeout: float = 30.0,
              **extra: Any) -> tuple[str, dict[str, Any], dict[str, Any]]:
        """Publish a Hermes query; (hermes topic, hermes payload, full result) once both answers are in."""
        qid = self.send(text, site, session, wait=True, **extra)
        return self.answer(qid, site, timeout)

    def answer(self, qid: str, site: str, timeout: float = 30.0) -> tuple[str, dict[str, Any], dict[str, Any]]:
        """Both answers to query `qid` (sent by anyone), the result on `edge-nlu/result/<site>`; both are
        taken out of the record."""
        a = self.wait(qid, timeout, "both")
        with self.cond:
            if a is None:
                raise AssertionError(f"no answer to {qid} within {timeout}s; last seen: {self._last_seen()}")
            self.messages = [m for m in self.messages if not _answers_to(m, qid)]
        assert a.hermes_topic is not None and a.hermes is not None
        if a.result_topic != f"edge-nlu/result/{site}":
            raise AssertionError(f"the result to {qid} came on {a.result_topic}, not edge-nlu/result/{site}")
        return a.hermes_topic, a.hermes, a.result

    def clear(self) -> None:
        with self.cond:
            self.messages.clear()
        self.forget()


def _answers_to(m: mqtt.MQTTMessage, qid: str) -> bool:
    if not m.topic.startswith(("hermes/intent/", "hermes/nlu/intentNotRecognized", "edge-nlu/result/")):
        return False
    try:
        data = json.loads(m.payload)
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("id") == qid


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
