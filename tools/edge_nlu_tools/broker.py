"""Throw-away MQTT brokers on loopback, for the demo, the benchmarks and the tests.

`Mosquitto` is the one Mosquitto launcher: a generated config (a free loopback port, no
persistence unless asked, `set_tcp_nodelay true`: without it small request / answer packets wait
on delayed ACKs, ~40 ms a round trip), optionally a TLS listener and password auth; it waits for
*its own* "running" log line, and moves to a new port when a picked one was taken in between.
`LocalBroker` is what the demo and the benchmarks open: Mosquitto when it is installed (what a
real hub runs), otherwise `EmbeddedBroker`, amqtt's broker in a thread, so that `make demo` works
on a machine with nothing but Python.

The embedded broker was a hand-written MQTT 3.1.1 broker until amqtt 0.12.1 was measured against it
(2 shared cores, Python 3.11): the live demo got 10/10 answers in 25 of 25 runs on amqtt (20 of 20 on
the old one), `test_livedemo` passes on both, and amqtt passes the old broker's tests (pub/sub with
wildcards, retained messages and clearing, wills on an abrupt close and none on DISCONNECT,
keep-alive pings, garbage, a clean stop) and a new one (the service's clean-then-persistent
connect, session takeover), except that amqtt delivers a QoS 0 publish at the subscription's QoS 1
where MQTT says the lower of the two (harmless: nothing relies on QoS 0). Start-up in a fresh
process 0.15-0.27 s against 0.05-0.12 s (mostly the import), a bare QoS 1 round trip the same (p50
~0.6 ms), demo answers ~1 ms slower. The price is weight: amqtt brings 17 more packages (~19 MB:
pydantic, typer, argon2-cffi, psutil, transitions, websockets pinned ==15.0.1), in edge-nlu-tools
only, never in the runtime. Like the old one it keeps no messages for an anonymous client while it
is away; the demo's service connects once.

Always stopped in the end (`with`, or `stop()` / `close()` in a finally): the broker process or
thread and its temporary folder are gone when the block ends, whatever happened inside it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

KINDS = ("auto", "mosquitto", "embedded")
"""What `LocalBroker(kind=...)` accepts: auto prefers Mosquitto."""
_MOSQUITTO_CANDIDATES = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto")


class BrokerStartError(RuntimeError):
    """The broker did not come up in time (its log tail is in the message)."""


def find_mosquitto() -> str | None:
    """Path of the mosquitto binary, or None."""
    found = shutil.which("mosquitto")
    if found:
        return found
    return next((p for p in _MOSQUITTO_CANDIDATES if Path(p).is_file() and os.access(p, os.X_OK)), None)


def free_port(host: str = "127.0.0.1") -> int:
    """A port free right now on `host` (the OS picks it; someone else may take it before we bind)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class TLSFiles:
    """A CA and a server certificate for a TLS listener."""

    ca: Path
    """CA certificate (clients verify the server against it)."""
    cert: Path
    """Server certificate."""
    key: Path
    """Server private key."""


class Mosquitto:
    """One Mosquitto process on a loopback port; `restart()` comes back on the same port."""

    host = "127.0.0.1"

    def __init__(self, binary: str, workdir: Path, tls: TLSFiles | None = None,
                 passwords: dict[str, str] | None = None, persistence: bool = False, port: int | None = None) -> None:
        self.binary = binary
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port(self.host)
        self.tls = tls
        self.proc: subprocess.Popen[bytes] | None = None
        self._movable = port is None  # a port we picked may move once if it was taken; a given one never
        self._started_once = False
        self.log = workdir / "mosquitto.log"
        # the broker writes (and flushes) its own log, so start() can see "running" for this process
        self._lines = [f"listener {self.port} {self.host}", "set_tcp_nodelay true",
                       f"persistence {'true' if persistence else 'false'}", f"persistence_location {workdir}/",
                       "log_type error", "log_type warning", "log_type notice", "log_type information",
                       f"log_dest file {self.log}"]
        if os.geteuid() == 0:
            self._lines.append("user root")  # else mosquitto drops to a `mosquitto` user that may not exist
        if tls is not None:
            self._lines += [f"cafile {tls.ca}", f"certfile {tls.cert}", f"keyfile {tls.key}"]
        if passwords:
            pw = workdir / "passwd"
            pw.write_text("")
            tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
            for user, password in passwords.items():
                subprocess.run([tool, "-b", str(pw), user, password], check=True, capture_output=True, timeout=30)
            pw.chmod(0o600)
            self._lines += [f"password_file {pw}", "allow_anonymous false"]
        else:
            self._lines.append("allow_anonymous true")
        self.conf = workdir / "mosquitto.conf"
        self._write_conf()

    def _write_conf(self) -> None:
        self._lines[0] = f"listener {self.port} {self.host}"
        self.conf.write_text("\n".join(self._lines) + "\n", encoding="utf-8")

    @property
    def uri(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """Process id while running."""
        return self.proc.pid if self.proc is not None else None

    def start(self, timeout: float = 30.0, retries: int = 5) -> None:
        """Start and wait until *this* process listens. A free port can be taken by another program
        between `free_port()` and the bind (two test suites side by side): then a first start moves to
        a new port, and a connect alone could reach the other program's broker, so the log decides."""
        for attempt in range(retries + 1):
            offset = self.log.stat().st_size if self.log.exists() else 0
            with self.log.open("ab") as log:
                self.proc = subprocess.Popen([self.binary, "-c", str(self.conf)], stdin=subprocess.DEVNULL,  # noqa: S603
                                             stdout=log, stderr=log)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                text = self.log.read_bytes()[offset:].decode("utf-8", "replace")
                if self.proc.poll() is not None:
                    self.proc = None
                    if "Address already in use" in text and attempt < retries and self._movable \
                            and not self._started_once:
                        self.port = free_port(self.host)
                        self._write_conf()
                        break
                    raise BrokerStartError(f"mosquitto exited: {text[-2000:]}")
                if " running" in text:
                    try:
                        with socket.create_connection((self.host, self.port), timeout=1.0):
                            self._started_once = True
                            return
                    except OSError:
                        pass
                time.sleep(0.02)
            else:
                self.stop(signal.SIGKILL)
                raise BrokerStartError(f"mosquitto did not listen on {self.port} within {timeout} s: "
                                       f"{self.log.read_text(errors='replace')[-2000:]}")
        raise BrokerStartError(f"mosquitto found no free port in {retries + 1} tries")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 5.0) -> None:
        """Send `sig` (SIGKILL after `timeout`) and reap; the port and folder stay for a restart."""
        proc, self.proc = self.proc, None
        if proc is not None:
            stop_process(proc, timeout, sig)

    def kill(self) -> None:
        """SIGKILL: the broker vanishes without closing anything cleanly."""
        self.stop(signal.SIGKILL)

    def restart(self) -> None:
        self.stop()
        self.start()


class EmbeddedBroker:
    """amqtt's broker (MQTT 3.1.1, anonymous) on its own event-loop thread. We own the listening socket
    and hand each connection to amqtt as an `external` listener: port 0 lets the OS pick a free port
    with no race, and the port is known without reaching into amqtt."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self.port = host, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._broker: Any = None
        self._server: asyncio.Server | None = None

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 10.0) -> int:
        """Listen (port 0 picks a free one) and return the port."""
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="edge-nlu-embedded-broker", daemon=True)
        self._thread.start()
        try:
            self.port = asyncio.run_coroutine_threadsafe(self._start(), loop).result(timeout)
        except BaseException:
            self.stop()
            raise
        return self.port

    async def _start(self) -> int:
        from amqtt.broker import Broker  # imported here: a Mosquitto run does not pay for it

        self._broker = Broker({"listeners": {"default": {"type": "external"}},
                               "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin":
                                           {"allow_anonymous": True}}})
        await self._broker.start()
        self._server = await asyncio.start_server(self._connected, self.host, self.port)
        return int(self._server.sockets[0].getsockname()[1])

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        from amqtt.adapters import StreamReaderAdapter, StreamWriterAdapter

        await self._broker.external_connected(StreamReaderAdapter(reader), StreamWriterAdapter(writer), "default")

    def stop(self, timeout: float = 5.0) -> None:
        """Close the listener and every connection (no wills: a clean stop), stop the thread. Safe twice."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if loop.is_running():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        if not thread.is_alive():
            loop.close()
        self._loop = self._thread = self._server = self._broker = None

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        if self._broker is not None:
            await self._broker.shutdown()


class LocalBroker:
    """Mosquitto or the embedded broker on 127.0.0.1, in a temporary folder; `uri` is what clients use."""

    def __init__(self, kind: str = "auto", port: int | None = None, start_timeout_s: float = 10.0) -> None:
        if kind not in KINDS:
            raise ValueError(f"broker kind must be one of {KINDS}, got {kind!r}")
        self.host = "127.0.0.1"
        self.binary = find_mosquitto() if kind in ("auto", "mosquitto") else None
        if kind == "mosquitto" and self.binary is None:
            raise BrokerStartError("mosquitto is not installed")
        self.kind = "mosquitto" if self.binary else "embedded"
        self.port = port or 0
        self.start_timeout_s = start_timeout_s
        self._mosquitto: Mosquitto | None = None
        self._embedded: EmbeddedBroker | None = None
        self._dir: Path | None = None

    @property
    def uri(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """Process id of Mosquitto (None for the embedded broker or when stopped)."""
        return self._mosquitto.pid if self._mosquitto is not None else None

    def __enter__(self) -> LocalBroker:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def start(self) -> None:
        """Start on `port` (a free one the first time); a restart keeps the port."""
        if self.binary is None:
            self._embedded = EmbeddedBroker(self.host, self.port)
            self.port = self._embedded.start(self.start_timeout_s)
            return
        if self._mosquitto is None:
            self._dir = Path(tempfile.mkdtemp(prefix="edge-nlu-broker-"))
            self._mosquitto = Mosquitto(self.binary, self._dir, port=self.port or None)
        self._mosquitto.start(self.start_timeout_s)
        self.port = self._mosquitto.port

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the broker (terminate, then kill); the port and folder stay for a restart."""
        if self._embedded is not None:
            self._embedded.stop(timeout)
            self._embedded = None
        if self._mosquitto is not None:
            self._mosquitto.stop(timeout=timeout)

    def restart(self, down_s: float = 0.0) -> None:
        """Stop, stay down `down_s` seconds, start again on the same port (clients must reconnect)."""
        self.stop()
        time.sleep(down_s)
        self.start()

    def close(self) -> None:
        """Stop and remove the temporary folder."""
        try:
            self.stop()
        finally:
            self._mosquitto = None
            if self._dir is not None:
                shutil.rmtree(self._dir, ignore_errors=True)
                self._dir = None


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 5.0, sig: int = signal.SIGTERM) -> int | None:
    """Send `sig` (SIGTERM: a clean exit), wait up to `timeout`, then SIGKILL and reap; returns the exit code."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:  # unkillable (D state); nothing more we can do
        return None
