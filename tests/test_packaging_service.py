"""The image's health check against the real `edge-nlu wyoming` (a whole-program run, tier `slow`)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def test_healthcheck_against_edge_nlu_wyoming(tmp_path: Path) -> None:
    """packaging/healthcheck.py as the HEALTHCHECK runs it, against the service with the shipped model."""
    pytest.importorskip("edge_nlu.service.wyoming.server")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    proc = subprocess.Popen([sys.executable, "-m", "edge_nlu.cli.main", "wyoming", "--uri", f"tcp://127.0.0.1:{port}"],
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path)
    try:
        assert proc.stderr is not None
        # the service logs one line once it listens: wait for that line, not for a time
        listening = next((line for line in proc.stderr if "Wyoming intent service on" in line), None)
        assert listening, "the service exited before it listened"
        done = subprocess.run([sys.executable, "-I", str(ROOT / "packaging" / "healthcheck.py"), "--port", str(port),
                               "--require", "intent"], capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        assert done.stdout == f"healthy: info from 127.0.0.1:{port} (edge-nlu)\n"
    finally:
        proc.terminate()
        proc.wait(30)
    stopped = subprocess.run([sys.executable, "-I", str(ROOT / "packaging" / "healthcheck.py"), "--port", str(port)],
                             capture_output=True, text=True, timeout=30)
    assert stopped.returncode == 1 and "cannot connect" in stopped.stderr
