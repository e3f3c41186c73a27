"""`edge-nlu demo` (live): broker + simulated hubs + `edge-nlu serve` + Hermes satellites, end to end.

Each run gets its own TMPDIR, so every process it starts (Mosquitto's config, serve's config)
carries that path on its command line: after the run, no process may still show it.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge_nlu_tools.broker import find_mosquitto
from edge_nlu_tools.demo import live as livedemo

ROOT = Path(__file__).resolve().parent.parent


def _processes_mentioning(marker: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\x00", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmd:
            found.append(f"{entry.name}: {cmd}")
    return found


def _children() -> list[int]:
    me, out = str(os.getpid()), []
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[1] == me:
            out.append(int(entry.name))
    return out


def _run_cli(tmp_path: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    return subprocess.run([sys.executable, "-m", "edge_nlu.cli", "demo", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("broker", ["mosquitto", "embedded"])
def test_live_demo_end_to_end(broker: str, tmp_path: Path) -> None:
    if broker == "mosquitto" and find_mosquitto() is None:
        pytest.skip("mosquitto is not installed")
    proc = _run_cli(tmp_path, "--broker", broker)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert f"{broker} broker on 127.0.0.1:" in out
    turns = out.split("\n\n")
    temp = [t for t in turns if "> what is the temperature?" in t]
    assert len(temp) == 3
    assert "climate.kitchen_thermostat" in temp[0] and "21.5 °C" in temp[0]
    assert "tele/oven/SENSOR DS18B20 180" in temp[1]
    assert "-> sensor.oven_ds18b20_temperature" in temp[1] and "180 °C" in temp[1]
    assert "climate.kitchen_thermostat" in temp[2]
    it = next(t for t in turns if "> turn it off" in t)
    assert "HassTurnOff -> switch.kettle" in it
    lights = [t for t in turns if "> turn off the lights" in t]
    assert "living-room-tv" in lights[0] and "-> light.living_room_ceiling, light.reading_lamp" in lights[0]
    assert "bedroom-puck" in lights[1] and "-> light.bedroom_ceiling" in lights[1]
    assert "10/10 answers as expected" in out
    assert "UNEXPECTED" not in out
    assert _processes_mentioning(str(tmp_path)) == []
    assert list(tmp_path.glob("edge-nlu-*")) == []  # the broker's and the demo's temporary folders are gone


def test_interrupted_demo_leaves_nothing(tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    # a suite started in the background (`make test &`) inherits SIGINT ignored, and Python then keeps it ignored:
    # give the demo the default disposition, as a terminal would
    proc = subprocess.Popen([sys.executable, "-m", "edge_nlu.cli", "demo", "--broker", "embedded"], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        serve_pid = None
        deadline = time.monotonic() + 60
        assert proc.stdout is not None
        while serve_pid is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, "demo ended before starting the service"
            if "edge-nlu serve (pid " in line:
                serve_pid = int(line.split("(pid ", 1)[1].split(")", 1)[0])
        assert serve_pid is not None
        proc.send_signal(signal.SIGINT)  # only the demo: the service must be stopped by its finally
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode != 0
    assert not Path(f"/proc/{serve_pid}").exists() or "Z" in Path(f"/proc/{serve_pid}/stat").read_text().split()[2]
    assert _processes_mentioning(str(tmp_path)) == []


def test_service_that_cannot_start_fails_fast_and_cleanly(tmp_path: Path) -> None:
    out = io.StringIO()
    t0 = time.monotonic()
    rc = livedemo.run(out, model_dir=tmp_path / "no-such-model", broker="embedded", timeout_s=120)
    assert rc == 2
    assert time.monotonic() - t0 < 60  # noticed the exit, did not wait out the timeout
    assert "the service exited" in out.getvalue()
    assert _children() == []


def test_offline_demo_still_runs(tmp_path: Path) -> None:
    proc = _run_cli(tmp_path, "--offline", timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "sensor.oven_temperature" in proc.stdout and "HassTurnOff -> switch.kettle" in proc.stdout
