"""A real Mosquitto for tests: free loopback port, generated config, stop/kill/restart on the same port,
an optional TLS listener with a self-made CA and password auth; and a probe client that records messages."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

USER, PASSWORD = "edge", "s3cret-pass"


def find_or_install_mosquitto() -> tuple[str | None, str]:
    """(path to mosquitto, reason if missing); installs it with apt-get when it is not there."""
    for cand in (shutil.which("mosquitto"), "/usr/sbin/mosquitto"):
        if cand and Path(cand).is_file():
            return cand, ""
    if shutil.which("apt-get"):
        env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
        proc = subprocess.run(["apt-get", "install", "-y", "mosquitto"], capture_output=True, text=True,
                              timeout=300, env=env)
        if proc.returncode != 0:  # stale package lists
            subprocess.run(["apt-get", "update"], capture_output=True, timeout=300, env=env)
            proc = subprocess.run(["apt-get", "install", "-y", "mosquitto"], capture_output=True, text=True,
                                  timeout=300, env=env)
        for cand in (shutil.which("mosquitto"), "/usr/sbin/mosquitto"):
            if cand and Path(cand).is_file():
                return cand, ""
        return None, f"mosquitto is not installed and apt-get failed: {proc.stderr[-500:]}"
    return None, "mosquitto is not installed and there is no apt-get"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class TLSFiles:
    """A self-made CA and a server certificate for 127.0.0.1 / localhost."""

    ca: Path
    cert: Path
    key: Path


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


class Mosquitto:
    """One broker process on a fixed loopback port; `restart()` comes back on the same port."""

    def __init__(self, binary: str, workdir: Path, tls: TLSFiles | None = None,
                 passwords: dict[str, str] | None = None, persistence: bool = False) -> None:
        self.binary = binary
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.tls = tls
        self.proc: subprocess.Popen[bytes] | None = None
        self._started_once = False
        lines = [f"listener {self.port} 127.0.0.1", "set_tcp_nodelay true", "user root",
                 f"persistence {'true' if persistence else 'false'}", f"persistence_location {workdir}/",
                 "log_type error", "log_type warning", "log_type notice"]
        if tls is not None:
            lines += [f"cafile {tls.ca}", f"certfile {tls.cert}", f"keyfile {tls.key}"]
        if passwords:
            pw = workdir / "passwd"
            pw.write_text("")
            tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
            for user, password in passwords.items():
                subprocess.run([tool, "-b", str(pw), user, password], check=True, capture_output=True, timeout=30)
            pw.chmod(0o600)
            lines += [f"password_file {pw}", "allow_anonymous false"]
        else:
            lines.append("allow_anonymous true")
        self.log = workdir / "mosquitto.log"
        # the broker writes (and flushes) its own log, so start() can see "running" for this port
        self._lines = [*lines, "log_type information", f"log_dest file {self.log}"]
        self.conf = workdir / "mosquitto.conf"
        self._write_conf()

    def _write_conf(self) -> None:
        self._lines[0] = f"listener {self.port} 127.0.0.1"
        self.conf.write_text("\n".join(self._lines) + "\n")

    @property
    def uri(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0, retries: int = 5) -> None:
        """Start and wait until *this* process listens. A free port can be taken by another test run
        between `free_port()` and the bind (two suites side by side): then a first start moves to a
        new port, and a connect alone could reach the other run's broker, so the log decides."""
        for attempt in range(retries + 1):
            offset = self.log.stat().st_size if self.log.exists() else 0
            with self.log.open("ab") as log:
                self.proc = subprocess.Popen([self.binary, "-c", str(self.conf)], stdout=log, stderr=log)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                text = self.log.read_bytes()[offset:].decode("utf-8", "replace")
                if self.proc.poll() is not None:
                    if "Address already in use" in text and attempt < retries and not self._started_once:
                        self.port = free_port()
                        self._write_conf()
                        break
                    raise RuntimeError(f"mosquitto exited: {text[-2000:]}")
                if " running" in text:
                    try:
                        with socket.create_connection(("127.0.0.1", self.port), timeout=1.0):
                            self._started_once = True
                            return
                    except OSError:
                        pass
                time.sleep(0.02)
            else:
                self.stop(signal.SIGKILL)
                raise RuntimeError(f"mosquitto did not listen on {self.port}: {self.log.read_text()[-2000:]}")
        raise RuntimeError(f"mosquitto found no free port in {retries + 1} tries")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL: the broker vanishes without closing anything cleanly."""
        self.stop(signal.SIGKILL)

    def restart(self) -> None:
        self.stop()
        self.start()


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
