"""A throw-away MQTT broker on loopback for the demo and the benchmarks.

Mosquitto when it is installed (what a real hub runs), with a generated config: a free loopback
port, anonymous access, no persistence and `set_tcp_nodelay true` (without it small request /
answer packets wait on delayed ACKs, ~40 ms a round trip). Otherwise the embedded
`minibroker`, so that `make demo` works on a machine with nothing but Python.

Always used as a context manager: the broker process or thread and its temporary folder are
gone when the block ends, whatever happened inside it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from edge_nlu_tools.minibroker import MiniBroker

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
    """A port free right now on `host` (the OS picks it)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_port(host: str, port: int, timeout: float) -> bool:
    """True once something accepts TCP connections on host:port, False after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.02)
    return False


class LocalBroker:
    """Mosquitto or the embedded broker on 127.0.0.1; `uri` is what clients use."""

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
        self._proc: subprocess.Popen[bytes] | None = None
        self._embedded: MiniBroker | None = None
        self._dir: Path | None = None

    @property
    def uri(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """Process id of Mosquitto (None for the embedded broker or when stopped)."""
        return self._proc.pid if self._proc is not None else None

    def __enter__(self) -> LocalBroker:
        self.start()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def start(self) -> None:
        """Start on `port` (a free one the first time); a restart keeps the port."""
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="edge-nlu-broker-"))
        if self.binary is None:
            self._embedded = MiniBroker(self.host, self.port)
            self.port = self._embedded.start(self.start_timeout_s)
            return
        tries = 1 if self.port else 3  # a picked free port can be taken in between: pick again
        for _ in range(tries):
            self.port = self.port or free_port(self.host)
            if self._start_mosquitto():
                return
            self.port = 0 if tries > 1 else self.port
        log = self._dir / "mosquitto.log"
        tail = log.read_text(errors="replace")[-1500:] if log.is_file() else ""
        raise BrokerStartError(f"mosquitto did not start on {self.host}:{self.port or '?'}: {tail}")

    def _start_mosquitto(self) -> bool:
        assert self._dir is not None and self.binary is not None
        lines = [f"listener {self.port} {self.host}", "allow_anonymous true", "persistence false",
                 "set_tcp_nodelay true", "log_dest stderr", "log_type error", "log_type warning"]
        if os.geteuid() == 0:
            lines.append("user root")  # else mosquitto drops to a `mosquitto` user that may not exist
        conf = self._dir / "mosquitto.conf"
        conf.write_text("\n".join(lines) + "\n", encoding="utf-8")
        with (self._dir / "mosquitto.log").open("ab") as log:
            self._proc = subprocess.Popen([self.binary, "-c", str(conf)], stdin=subprocess.DEVNULL,  # noqa: S603
                                          stdout=log, stderr=log)
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._proc = None
                return False
            if wait_port(self.host, self.port, 0.2):
                return True
        self.stop()
        return False

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the broker (terminate, then kill); the port and folder stay for a restart."""
        if self._embedded is not None:
            self._embedded.stop(timeout)
            self._embedded = None
        proc, self._proc = self._proc, None
        if proc is not None:
            stop_process(proc, timeout)

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
            if self._dir is not None:
                shutil.rmtree(self._dir, ignore_errors=True)
                self._dir = None


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 5.0) -> int | None:
    """SIGTERM, wait up to `timeout`, then SIGKILL and reap; returns the exit code."""
    if proc.poll() is None:
        proc.terminate()
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:  # unkillable (D state); nothing more we can do
        return None
