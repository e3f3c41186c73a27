"""`edge-nlu demo`: the live service end to end, on one machine, in a few seconds.

A loopback broker (Mosquitto, else the embedded one), a simulated home publishing retained
Zigbee2MQTT and Tasmota state, and `edge-nlu serve` as a child process with a generated config.
Satellites then speak Hermes to it, and the home changes between turns, so the answers show
what live context does: the oven switching on changes what "what is the temperature?" means,
"turn it off" follows the session, the satellite's room decides "turn off the lights".

Every wait is bounded; the broker, the service and the temporary folder are gone when `run`
returns, whether it succeeded, failed or was interrupted.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import yaml

from edge_nlu_tools.broker import LocalBroker
from edge_nlu_tools.demo.offline import demo_home_path, result_lines
from edge_nlu_tools.demo.satellite import ServeProcess
from edge_nlu_tools.demo.simhome import REPLACES, SimHome
from edge_nlu_tools.hermes_client import Answer, HermesClient

SITES: dict[str, dict[str, Any]] = {
    "kitchen-puck": {"area": "Kitchen", "has_screen": False},
    "living-room-tv": {"area": "Living Room", "has_screen": True},
    "bedroom-puck": {"area": "Bedroom", "has_screen": False},
}
"""Satellites by Hermes siteId, as the serve config maps them."""
OVEN_PROBE = "sensor.oven_ds18b20_temperature"
"""The oven's Tasmota probe as the adapter names it (device `Oven`, sensor `DS18B20`)."""
KITCHEN_TEMP = "climate.kitchen_thermostat"
"""The kitchen's Zigbee thermostat."""


@dataclass(frozen=True)
class LiveTurn:
    """One scripted request from a satellite, and what it should show."""

    site: str
    """Hermes siteId of the satellite that hears it."""
    session: str
    """Hermes sessionId; turns of one session share history."""
    text: str
    """What the user says."""
    expect: str
    """The answer the context should produce, in words."""
    check: Callable[[dict[str, Any]], bool]
    """Whether the full result shows that answer."""
    change: Callable[[SimHome], list[str]] | None = None
    """A change in the home before this turn (published by the simulated hubs)."""
    execute: bool = False
    """Carry the action out on the simulated devices afterwards, as Home Assistant would."""


def _targets(r: dict[str, Any]) -> set[str]:
    return set((r.get("action") or {}).get("targets") or [])


def _intent(r: dict[str, Any]) -> str | None:
    return (r.get("action") or {}).get("intent")


def _media(r: dict[str, Any]) -> Any:
    return ((r.get("action") or {}).get("slots") or {}).get("media_class")


def script() -> list[LiveTurn]:
    temp = "what is the temperature?"
    return [
        LiveTurn("kitchen-puck", "s1", temp, "the kitchen's temperature (oven off)",
                 lambda r: _targets(r) == {KITCHEN_TEMP}),
        LiveTurn("kitchen-puck", "s1", temp, "the oven's temperature: 180 °C",
                 lambda r: _targets(r) == {OVEN_PROBE} and "180" in str(r.get("response")),
                 change=lambda sim: sim.set_oven(True, 180)),
        LiveTurn("kitchen-puck", "s1", "turn off the oven", "the oven's plug",
                 lambda r: _intent(r) == "HassTurnOff" and _targets(r) == {"switch.oven"}, execute=True),
        LiveTurn("kitchen-puck", "s1", temp, "the kitchen's temperature again (the oven is off now)",
                 lambda r: _targets(r) == {KITCHEN_TEMP}),
        LiveTurn("kitchen-puck", "s2", "turn on the kettle", "the kettle, by name",
                 lambda r: _intent(r) == "HassTurnOn" and _targets(r) == {"switch.kettle"}, execute=True),
        LiveTurn("kitchen-puck", "s2", "turn it off", "'it' = the kettle, from this session's previous turn",
                 lambda r: _intent(r) == "HassTurnOff" and _targets(r) == {"switch.kettle"}, execute=True),
        LiveTurn("living-room-tv", "s3", "turn off the lights", "the Living Room's lights (the satellite's room)",
                 lambda r: _targets(r) == {"light.living_room_ceiling", "light.reading_lamp"}, execute=True),
        LiveTurn("bedroom-puck", "s4", "turn off the lights", "the Bedroom's lights",
                 lambda r: bool(_targets(r)) and all(t.startswith("light.bedroom_") for t in _targets(r)),
                 execute=True),
        LiveTurn("living-room-tv", "s5", "play the hobbit", "the film (this satellite has a screen)",
                 lambda r: _media(r) == "movie"),
        LiveTurn("kitchen-puck", "s6", "play the hobbit", "the audiobook (no screen)",
                 lambda r: _media(r) == "audiobook"),
    ]


def write_home(folder: Path) -> Path:
    """The demo home without the entities the simulated hubs now provide: those come live."""
    data = yaml.safe_load(demo_home_path().read_text(encoding="utf-8"))
    data["entities"] = [e for e in data.get("entities", []) if e.get("id") not in REPLACES]
    path = folder / "home.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def write_config(folder: Path, broker_uri: str, sim: SimHome, home: Path, model_dir: Path | None) -> Path:
    """A serve config: the two adapters naming the simulated devices, the satellites, the home."""
    config: dict[str, Any] = {
        "broker": {"uri": broker_uri, "client_id": "edge-nlu-demo", "keepalive_s": 10,
                   "reconnect": {"min_s": 0.2, "max_s": 2}},
        "adapters": sim.adapter_options(),
        "sites": SITES,
        "home": str(home),
        "stats_interval_s": 0,
    }
    if model_dir is not None:
        config["model_dir"] = str(Path(model_dir).resolve())
    path = folder / "serve.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def wait_ready(sat: HermesClient, svc: ServeProcess, timeout: float) -> Answer | None:
    """`edge-nlu/status` online, then a first query answered (its subscriptions are in place)."""
    deadline = time.monotonic() + timeout
    if not sat.wait_status("online", timeout, svc.alive):
        return None
    while svc.alive() and time.monotonic() < deadline:
        answer = sat.ask("hello", "warmup", timeout=min(2.0, max(0.1, deadline - time.monotonic())))
        if answer is not None:
            return answer
    return None


def _show(out: TextIO, turn: LiveTurn, a: Answer | None, ok: bool) -> None:
    out.write(f"  {turn.site} (session {turn.session}) > {turn.text}\n")
    if a is None:
        out.write("    no answer (timed out)\n")
        return
    name = (a.hermes_topic or "?").rsplit("/", 1)[-1]
    conf = ((a.hermes or {}).get("intent") or {}).get("confidenceScore")
    out.write(f"    hermes: {name}" + (f" ({conf:.2f})" if isinstance(conf, int | float) else "")
              + f", {a.result_s * 1000:.0f} ms\n")
    out.write(result_lines(a.result, "    "))
    out.write(f"    {'ok' if ok else 'UNEXPECTED'}: {turn.expect}\n")


def run(out: TextIO, model_dir: Path | None = None, broker: str = "auto", timeout_s: float = 30.0) -> int:
    """Play the script; 0 when every turn got the expected answer, 1 when not, 2 when it could not run."""
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="edge-nlu-demo-")))
        b = stack.enter_context(LocalBroker(broker))
        out.write(f"edge-nlu live demo: {b.kind} broker on {b.host}:{b.port}\n")
        sim = stack.enter_context(SimHome(b.host, b.port))
        sim.publish_all()
        out.write(f"  simulated home: {len(sim.zigbee)} Zigbee2MQTT devices, {len(sim.tasmota)} Tasmota devices "
                  "(retained state)\n")
        config = write_config(folder, b.uri, sim, write_home(folder), model_dir)
        sat = stack.enter_context(HermesClient(b.host, b.port, client_id="edge-nlu-demo-satellite"))
        t0 = time.monotonic()
        svc = stack.enter_context(ServeProcess(b.uri, config, folder / "serve.log"))
        out.write(f"  edge-nlu serve (pid {svc.pid}) --broker {b.uri} --config serve.yaml\n")
        out.flush()
        if wait_ready(sat, svc, timeout_s) is None:
            why = "exited" if not svc.alive() else f"not answering after {timeout_s:.0f} s"
            out.write(f"edge-nlu demo: the service {why}; its log:\n{svc.log_tail()}\n")
            return 2
        out.write(f"  service online and answering after {time.monotonic() - t0:.1f} s\n\n")
        return _play(out, sim, sat, timeout_s)
    return 2  # not reached; keeps mypy sure every path returns


def _play(out: TextIO, sim: SimHome, sat: HermesClient, timeout_s: float) -> int:
    passed = 0
    turns = script()
    for turn in turns:
        if turn.change is not None:
            for line in turn.change(sim):
                out.write(f"  ~ home: {line}\n")
        a = sat.ask(turn.text, turn.site, turn.session, timeout=timeout_s)
        ok = a is not None and turn.check(a.result)
        passed += ok
        _show(out, turn, a, ok)
        if a is None:
            out.write(f"edge-nlu demo: no answer within {timeout_s:.0f} s; stopping\n")
            return 2
        if turn.execute:
            for line in sim.execute(a.result.get("action")):
                out.write(f"    ~ home: {line}\n")
        out.write("\n")
        out.flush()
    out.write(f"{passed}/{len(turns)} answers as expected\n")
    return 0 if passed == len(turns) else 1
