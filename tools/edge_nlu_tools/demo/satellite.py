"""`edge-nlu serve` as a child process, for the live demo and the benchmarks; `Satellite` is the tools'
Hermes client (edge_nlu_tools.hermes_client) under the name the benchmarks import.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import TracebackType

from edge_nlu_tools.broker import stop_process
from edge_nlu_tools.hermes_client import Answer
from edge_nlu_tools.hermes_client import HermesClient as Satellite

__all__ = ["Answer", "Satellite", "ServeProcess"]


class ServeProcess:
    """`edge-nlu serve` as a child process; stopping it terminates, then kills, and always reaps."""

    def __init__(self, broker_uri: str, config: Path, log_path: Path, log_level: str = "INFO") -> None:
        self.cmd = [sys.executable, "-m", "edge_nlu.cli", "serve", "--broker", broker_uri, "--config", str(config),
                    "--log-level", log_level]
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ServeProcess:
        self.start()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)  # noqa: S603

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM (the service says `offline` and disconnects), SIGKILL after `timeout`."""
        proc, self.proc = self.proc, None
        return stop_process(proc, timeout) if proc is not None else None

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""
