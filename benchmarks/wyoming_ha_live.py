"""`edge-nlu wyoming` answering from Home Assistant's live state, end to end: round trips, a state change, a restart.

    python benchmarks/wyoming_ha_live.py [--n 1000] [--model DIR] [--home FILE] [--seed 0] [--json]

The home file (devices/homes/demo.yaml, the one benchmarks/wyoming_latency.py uses) is turned into what Home
Assistant would hold for it: states in HA's shapes (friendly_name; a light's brightness 0-255 and none when it
is off; volume_level 0-1; a cover's or valve's current_position), the floor and area registries (area aliases
included), a device registry (each light placed by its device, as HA places most, and a satellite device in the
Kitchen) and the entity registry, whose entity aliases HA gives only through `config/entity_registry/get_entries`
(the client asks for them after the registry list). A fake HA (tests/fake_ha.py: HA's documented WebSocket
messages on a real loopback socket) serves it, and the real `edge-nlu wyoming` command runs in a child process
with a `home_assistant:` section pointing at the fake, the token in a chmod-600 file, and no `home:` file: every
answer comes from HA.
This process is its Wyoming client (wyoming's AsyncTcpClient) and, for the baseline, runs its own
`HaStateSource` against the same fake into a LiveHome and parses every text with `EdgeNLU.parse_result` over
that home's snapshot, with the context the service builds (the satellite's area from HA's device registry).

1. ready: the service is up once it says so, `describe` -> `info` names the intent program, and a question whose
   answer needs the live state ("is the front door locked") gets the in-process answer;
2. --n texts (those of wyoming_latency.py), in rotating turns: a transcript -> intent round trip over one
   connection, the same over a connection per request (what HA does), the in-process parse over HA's home
   (the baseline of the ratios), and the in-process parse over the home file itself (for reference); each
   wyoming reply is checked against what the in-process result over HA's home maps to (`reply_for`);
3. the same question twice with a `state_changed` from the fake in between: both answers, and the time from
   the event to the first round trip that gives the changed answer (asked again until it changes);
4. HA stops: the time until the service logs the lost connection; the question answered meanwhile (from the
   last state); the light switched off while HA is away; HA starts again on the same port: the time until the
   answer shows the change, the service's resync log line, the service process and its connection still up.

Reconnect delays are 0.1-1 s here (defaults 0.5-10 s), so the restart figure is mostly the backoff's, not the
client's work. Prints a table; `--json` prints the figures as JSON. Exit status 0 when every check held, else 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from wyoming.client import AsyncTcpClient  # noqa: E402
from wyoming.info import Describe, Info  # noqa: E402
from wyoming_latency import TIMEOUT, WARMUP, pct, read_reply, texts  # noqa: E402

from edge_nlu.domain.home import Entity, Home  # noqa: E402
from edge_nlu.domain.live_home import LiveHome  # noqa: E402
from edge_nlu.domain.result import DEFAULT_MIN_CONFIDENCE  # noqa: E402
from edge_nlu.pipeline import EdgeNLU  # noqa: E402
from edge_nlu.service.ha_client import HaStateSource  # noqa: E402
from edge_nlu.service.ha_settings import HomeAssistantSettings  # noqa: E402
from edge_nlu.service.wyoming.events import PROGRAM, Reply, Request, reply_for  # noqa: E402
from edge_nlu.settings import RuntimeSettings  # noqa: E402
from tests.fake_ha import FakeHomeAssistant, state  # noqa: E402

TOKEN = "wyoming-ha-benchmark-token"  # noqa: S105 - the fake HA's token
SATELLITE = "assist_satellite.kitchen_puck"
"""What HA's wyoming integration sends as `satellite_id`; not in the service's config."""
SAT_DEVICE = "dev-kitchen-satellite"
"""The satellite's HA device id, in the Kitchen in the device registry: the service's only source of its area."""
SAT_AREA = "kitchen"
READY_QUESTION = "is the front door locked"
QUESTION = "is the kitchen ceiling light on"
LIGHT = "light.kitchen_ceiling"
MODES = ("wyoming, one connection", "wyoming, a connection per request", "in-process, HA's home",
         "in-process, the home file")
BASE = MODES[2]
RECONNECT_MIN_S, RECONNECT_MAX_S = 0.1, 1.0
"""The service's and this process's reconnect delays (defaults 0.5 and 10 s): the restart figure is the client's
and a short backoff's."""
DEADLINE = 30.0
"""Longest wait for any condition (ready, a changed answer, a resync)."""
LOST = "lost the connection to Home Assistant"
SYNCED = "synced with Home Assistant"


# -- the HA side of the home --------------------------------------------------------------------------------------


def ha_state(e: Entity, value: str | None = None, **override: Any) -> dict[str, Any]:
    """The entity's state object as HA reports it (its attributes in HA's scales)."""
    value = e.state if value is None else value
    attrs = dict(e.attributes)
    if "brightness" in attrs:  # HA: 0-255, and no brightness at all while a light is off
        pct_ = attrs.pop("brightness")
        if value == "on" and isinstance(pct_, int | float):
            attrs["brightness"] = round(pct_ * 255 / 100)
    if isinstance(attrs.get("volume_level"), int | float):
        attrs["volume_level"] = attrs["volume_level"] / 100  # HA: 0-1
    if e.domain in ("cover", "valve") and "position" in attrs:
        attrs["current_position"] = attrs.pop("position")
    attrs.update(override)
    return state(e.id, value, friendly_name=e.name, **attrs)


def ha_data(home: Home) -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, Any]]], dict[str, list[str]]]:
    """(states by entity id, registries, entity aliases) of the home as HA would hold it."""
    states = {e.id: ha_state(e) for e in home.entities}
    floors: list[dict[str, Any]] = [{"floor_id": f.id, "name": f.name, "level": i, "aliases": [], "icon": None}
              for i, f in enumerate(home.floors)]
    areas = [{"area_id": a.id, "name": a.name, "floor_id": a.floor, "aliases": list(a.aliases), "icon": None,
              "picture": None, "labels": []} for a in home.areas]
    devices: list[dict[str, Any]] = [{"id": SAT_DEVICE, "name": "Kitchen satellite", "name_by_user": None,
                                      "area_id": SAT_AREA, "manufacturer": "Nabu Casa", "model": "Voice PE"}]
    entries: list[dict[str, Any]] = []
    for e in home.entities:
        by_device = e.domain == "light" and e.area is not None
        if by_device:
            devices.append({"id": f"dev-{e.id}", "name": e.name, "name_by_user": None, "area_id": e.area,
                            "manufacturer": "Acme", "model": "Bulb"})
        entries.append({"entity_id": e.id, "name": None, "original_name": e.name, "has_entity_name": False,
                        "area_id": None if by_device else e.area, "device_id": f"dev-{e.id}" if by_device else None,
                        "platform": "demo", "disabled_by": None})
    aliases = {e.id: list(e.aliases) for e in home.entities if e.aliases}
    return states, {"floor": floors, "area": areas, "device": devices, "entity": entries}, aliases


def same_home(file_home: Home, ha_home: Home) -> list[str]:
    """Where HA's home differs from the file's in names, aliases, areas, states, floors and areas (empty: nowhere)."""
    out: list[str] = []
    if {(f.id, f.name) for f in file_home.floors} != {(f.id, f.name) for f in ha_home.floors}:
        out.append("floors")
    if {(a.id, a.name, a.floor, a.aliases) for a in file_home.areas} != \
            {(a.id, a.name, a.floor, a.aliases) for a in ha_home.areas}:
        out.append("areas")
    for e in file_home.entities:
        got = ha_home.entity(e.id)
        if got is None or (got.name, got.aliases, got.area, got.state) != (e.name, e.aliases, e.area, e.state):
            out.append(e.id)
    out += [e.id for e in ha_home.entities if file_home.entity(e.id) is None]
    return out


# -- the service --------------------------------------------------------------------------------------------------


class Log:
    """The service's log lines, drained from its stderr in a thread; waits on them without sleeping."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._cond = threading.Condition()

    def add(self, line: str) -> None:
        with self._cond:
            self.lines.append(line)
            self._cond.notify_all()

    def count(self, text: str) -> int:
        with self._cond:
            return sum(1 for x in self.lines if text in x)

    def wait(self, predicate: Callable[[], bool], timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(predicate, timeout)

    def find(self, pattern: str) -> re.Match[str] | None:
        with self._cond:
            return next((m for m in (re.search(pattern, x) for x in self.lines) if m is not None), None)


class Service:
    """`edge-nlu wyoming` in a child process on a free loopback port, its home from the fake HA only."""

    def __init__(self, model: Path, ha_url: str, workdir: Path) -> None:
        token_file = workdir / "ha.token"
        fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # only its owner may read it
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(TOKEN + "\n")
        config = workdir / "wyoming.yaml"
        config.write_text(yaml.safe_dump({
            "split_compound": False, "threads": 1, "ha_sync_wait_s": DEADLINE,
            "home_assistant": {"url": ha_url, "token_file": str(token_file), "reconnect_min_s": RECONNECT_MIN_S,
                               "reconnect_max_s": RECONNECT_MAX_S}}))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        env.pop("EDGE_NLU_HA_TOKEN", None)
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "edge_nlu.cli.main", "wyoming", "--uri", "tcp://127.0.0.1:0", "--config",
             str(config), "--model", str(model), "--log-level", "INFO"],
            cwd=workdir, env=env, stderr=subprocess.PIPE, text=True)
        self.log = Log()
        threading.Thread(target=self._drain, daemon=True).start()
        if not self.log.wait(lambda: self.log.find(r"Wyoming intent service on tcp://") is not None
                             or self.proc.poll() is not None, 120):
            self.close()
            raise SystemExit("edge-nlu wyoming did not start:\n" + "".join(self.log.lines[-20:]))
        found = self.log.find(r"Wyoming intent service on tcp://[^:]+:(\d+)")
        if found is None:
            raise SystemExit("edge-nlu wyoming did not start:\n" + "".join(self.log.lines[-20:]))
        self.port = int(found.group(1))
        self.listening_s = time.perf_counter() - self.started

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log.add(line)
        self.log.add("")  # wakes a waiter when the process ends

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(TIMEOUT)


# -- the client side ----------------------------------------------------------------------------------------------


def said(reply: Reply) -> str:
    """A reply in a line: the first intent and its spoken text, or not-recognized and its text."""
    if not reply.recognized:
        return f"not-recognized: {reply.text}"
    first = reply.intents[0]
    return f"{first.name}: {first.text}"


def detail(reply: Reply) -> str:
    """A reply in full: every intent with its slots and text, or not-recognized and its text."""
    if not reply.recognized:
        return f"not-recognized: {reply.text}"
    return "; ".join(f"{i.name} {i.slots}: {i.text}" for i in reply.intents)


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def row(values: list[float], base: list[float] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"n": len(values), "p50_ms": round(pct(values, 50), 3), "p99_ms": round(pct(values, 99), 3),
                           "mean_ms": round(sum(values) / len(values), 3)}
    if base is not None:
        out["ratio_p50"] = round(pct(values, 50) / pct(base, 50), 2)
        out["ratio_p99"] = round(pct(values, 99) / pct(base, 99), 2)
    return out


class Bench:
    """The client of the service, the fake HA's controls, and the in-process baseline over HA's own home."""

    def __init__(self, service: Service, ha: FakeHomeAssistant, nlu: EdgeNLU, live: LiveHome, src: HaStateSource,
                 file_home: Home) -> None:
        self.service, self.ha, self.nlu, self.live, self.src, self.file_home = service, ha, nlu, live, src, file_home
        self.client = AsyncTcpClient("127.0.0.1", service.port, read_timeout=TIMEOUT)

    def request(self, text: str) -> Request:
        return Request(text, language="en", satellite_id=SATELLITE, device_id=SAT_DEVICE)

    async def ask(self, text: str) -> Reply:
        """A round trip over the long-lived connection."""
        await self.client.write_event(self.request(text).to_event())
        return Reply.from_events(await read_reply(self.client))

    async def ask_fresh(self, text: str) -> Reply:
        """A round trip over a connection of its own, as HA asks."""
        async with AsyncTcpClient("127.0.0.1", self.service.port, read_timeout=TIMEOUT) as one:
            await one.write_event(self.request(text).to_event())
            return Reply.from_events(await read_reply(one))

    def context(self) -> dict[str, Any]:
        """The context the service builds for the satellite: its area from HA's device registry (here, this
        process's own client of the same fake)."""
        ctx: dict[str, Any] = {"satellite": {"id": SATELLITE, "has_screen": None},
                               "time": datetime.now().isoformat(timespec="seconds")}
        area = self.src.device_area(SAT_DEVICE)
        if area is not None:
            ctx["area"] = area
        return ctx

    def local(self, text: str, home: Home | None = None) -> tuple[float, Reply]:
        """(seconds, reply) of the in-process parse over `home` (default: HA's home now)."""
        home = self.live.snapshot() if home is None else home
        ctx = self.context()
        t0 = time.perf_counter()
        result = self.nlu.parse_result(text, ctx, home=home)
        took = time.perf_counter() - t0
        return took, reply_for([result], home, DEFAULT_MIN_CONFIDENCE)

    async def until(self, text: str, done: Callable[[Reply], bool],
                    timeout: float = DEADLINE) -> tuple[Reply, int, bool]:
        """Ask `text` until `done(reply)` or the deadline: (last reply, round trips, done)."""
        deadline = time.perf_counter() + timeout
        asked = 0
        while True:
            reply = await self.ask(text)
            asked += 1
            if done(reply):
                return reply, asked, True
            if time.perf_counter() > deadline:
                return reply, asked, False

    async def in_thread(self, fn: Callable[[], Any]) -> Any:
        return await asyncio.to_thread(fn)

    # 1
    async def ready(self) -> dict[str, Any]:
        await self.client.write_event(Describe().event())
        info = await self.client.read_event()
        programs = [p.name for p in Info.from_event(info).intent] if info is not None and Info.is_type(info.type) \
            else []
        want = self.local(READY_QUESTION)[1]
        reply, asked, ok = await self.until(READY_QUESTION, lambda r: r == want)
        entities = self.service.log.find(r"home from Home Assistant at \S+: (\d+) entities")
        return {"info_programs": programs, "question": READY_QUESTION, "answer": said(reply), "round_trips": asked,
                "answer_is_in_process_answer": ok, "entities_at_start": int(entities.group(1)) if entities else None,
                "listening_after_s": round(self.service.listening_s, 2),
                "ready_after_s": round(time.perf_counter() - self.service.started, 2),
                "ok": PROGRAM in programs and ok}

    # 2
    async def measure(self, items: list[str]) -> dict[str, Any]:
        times: dict[str, list[float]] = {m: [] for m in MODES}
        agree = differ = file_agree = 0
        examples: list[dict[str, str]] = []
        file_examples: list[dict[str, str]] = []

        async def one(mode: str, text: str) -> tuple[float, Reply]:
            t0 = time.perf_counter()
            if mode == MODES[0]:
                reply = await self.ask(text)
            elif mode == MODES[1]:
                reply = await self.ask_fresh(text)
            else:
                return self.local(text, None if mode == BASE else self.file_home)
            return time.perf_counter() - t0, reply

        for text in items[:WARMUP]:
            for mode in MODES:
                await one(mode, text)
        for i, text in enumerate(items):
            got: dict[str, tuple[float, Reply]] = {}
            for k in range(len(MODES)):  # the order rotates, so machine noise hits all alike
                mode = MODES[(i + k) % len(MODES)]
                got[mode] = await one(mode, text)
            for mode, (took, _) in got.items():
                times[mode].append(took * 1000)
            want = got[BASE][1]
            if got[MODES[0]][1] == want and got[MODES[1]][1] == want:
                agree += 1
            else:
                differ += 1
                if len(examples) < 5:
                    examples.append({"text": text, "wyoming": detail(got[MODES[0]][1]),
                                     "per_request": detail(got[MODES[1]][1]), "in_process": detail(want)})
            if got[MODES[3]][1] == want:
                file_agree += 1
            elif len(file_examples) < 5:
                file_examples.append({"text": text, "ha_home": detail(want), "home_file": detail(got[MODES[3]][1])})
        describe: list[float] = []
        for _ in range(max(200, len(items) // 5)):
            t0 = time.perf_counter()
            await self.client.write_event(Describe().event())
            await self.client.read_event()
            describe.append((time.perf_counter() - t0) * 1000)
        rows = {m: row(v, times[BASE]) for m, v in times.items()}
        rows["wyoming describe -> info"] = row(describe)
        return {"rows": rows, "replies_equal": agree, "replies_differ": differ, "differing_examples": examples,
                "home_file_replies_equal": file_agree, "home_file_differing_examples": file_examples,
                "ok": differ == 0}

    # 3
    async def state_change(self) -> dict[str, Any]:
        light = self.file_home.entity(LIGHT)
        assert light is not None
        first = await self.ask(QUESTION)
        second = await self.ask(QUESTION)  # the same question again: nothing changed, the same answer
        t0 = time.perf_counter()
        await self.in_thread(lambda: self.ha.set_state(LIGHT, "on", **ha_state(light, "on", brightness=200)
                                                       ["attributes"]))
        after, asked, changed = await self.until(QUESTION, lambda r: r != first)
        took = time.perf_counter() - t0
        await self.in_thread(lambda: self.src.wait_until(lambda: self._light() == "on", DEADLINE))
        want = self.local(QUESTION)[1]
        return {"question": QUESTION, "entity": LIGHT, "before": said(first), "before_again": said(second),
                "after": said(after), "changed": changed, "event_to_changed_answer_ms": ms(took),
                "round_trips_until_changed": asked, "after_is_in_process_answer": after == want,
                "ok": changed and first == second and after == want}

    def _light(self) -> str | None:
        e = self.live.snapshot().entity(LIGHT)
        return e.state if e is not None else None

    # 4
    async def restart(self) -> dict[str, Any]:
        light = self.file_home.entity(LIGHT)
        assert light is not None
        log = self.service.log
        lost0, synced0, src_syncs0 = log.count(LOST), log.count(SYNCED), self.src.counters()["syncs"]
        last = await self.ask(QUESTION)
        t0 = time.perf_counter()
        await self.in_thread(self.ha.stop)
        noticed = await self.in_thread(lambda: log.wait(lambda: log.count(LOST) > lost0, DEADLINE))
        noticed_s = time.perf_counter() - t0
        away = await self.ask(QUESTION)
        off = ha_state(light, "off")["attributes"]
        await self.in_thread(lambda: self.ha.set_state(LIGHT, "off", quiet=True, **off))
        t1 = time.perf_counter()
        await self.in_thread(self.ha.start)
        after, asked, changed = await self.until(QUESTION, lambda r: r != away)
        answer_s = time.perf_counter() - t1
        resync_logged = await self.in_thread(lambda: log.wait(lambda: log.count(SYNCED) > synced0, DEADLINE))
        await self.in_thread(lambda: self.src.wait_until(
            lambda: self.src.counters()["syncs"] > src_syncs0 and self.src.synced and self._light() == "off", DEADLINE))
        want = self.local(QUESTION)[1]
        fresh = await self.ask_fresh(QUESTION)
        out = {"question": QUESTION, "answer_before_stop": said(last), "noticed": noticed,
               "stop_to_lost_connection_logged_ms": ms(noticed_s), "answer_while_away": said(away),
               "answered_from_last_state": away == last, "changed_while_away": f"{LIGHT} -> off",
               "answer_after_restart": said(after), "answer_changed": changed,
               "start_to_changed_answer_ms": ms(answer_s), "round_trips_until_changed": asked,
               "resync_logged": resync_logged, "after_is_in_process_answer": after == want,
               "new_connection_answer_equal": fresh == after, "service_alive": self.service.alive,
               "ha_connection_lines": [x.split(": ", 1)[-1].strip() for x in log.lines
                                       if LOST in x or SYNCED in x or "cannot reach Home Assistant" in x]}
        out["ok"] = bool(noticed and away == last and changed and resync_logged and after == want and fresh == after
                         and self.service.alive)
        return out

    async def run(self, items: list[str]) -> dict[str, Any]:
        await self.client.connect()
        try:
            out: dict[str, Any] = {"ready": await self.ready()}
            t = time.perf_counter()
            out["requests"] = await self.measure(items)
            out["requests"]["wall_s"] = round(time.perf_counter() - t, 1)
            out["state_change"] = await self.state_change()
            out["restart"] = await self.restart()
        finally:
            await self.client.disconnect()
        return out


def run(model: Path, home_path: Path, items: list[str]) -> dict[str, Any]:
    """The fake HA serving the home, this process's own HA client and parser, the service; every step."""
    file_home = Home.load(home_path)
    states, registries, aliases = ha_data(file_home)
    nlu = EdgeNLU(RuntimeSettings(model_dir=model, threads=1), home=Home())
    nlu.parse_result("warm up", {})
    ha = FakeHomeAssistant(TOKEN)
    ha.states, ha.registries, ha.aliases = states, registries, aliases
    ha.start()
    try:
        live = LiveHome()
        src = HaStateSource(HomeAssistantSettings(url=ha.url, token=TOKEN, reconnect_min_s=RECONNECT_MIN_S,
                                                  reconnect_max_s=RECONNECT_MAX_S), live, name="bench-ha")
        src.start()
        try:
            if not src.wait_synced(DEADLINE):
                raise SystemExit(f"this process's HA client did not sync with the fake HA in {DEADLINE:g} s")
            differences = same_home(file_home, live.snapshot())
            area = src.device_area(SAT_DEVICE)
            ha_home = {"entities": len(live.snapshot().entities), "file_entities": len(file_home.entities),
                       "areas": len(live.snapshot().areas), "devices": len(registries["device"]),
                       "differences_in_names_aliases_areas_states": differences,
                       "entities_with_aliases": sum(1 for e in live.snapshot().entities if e.aliases),
                       "satellite_area_from_ha": area,
                       "ok": not differences and area == SAT_AREA}
            with tempfile.TemporaryDirectory() as tmp:
                service = Service(model, ha.url, Path(tmp))
                try:
                    out = asyncio.run(Bench(service, ha, nlu, live, src, file_home).run(items))
                finally:
                    service.close()
                leaked = sum(1 for line in service.log.lines if TOKEN in line)
                out["token"] = {"from": "home_assistant.token_file (mode 600)",
                                "service_log_lines": len(service.log.lines), "lines_with_the_token": leaked,
                                "ok": leaked == 0}
        finally:
            src.stop()
    finally:
        ha.close()
    return {"ha_home": ha_home, **out}


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1000, help="requests (at least 1000 for the issue's figure)")
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "home")
    ap.add_argument("--home", type=Path, default=ROOT / "devices" / "homes" / "demo.yaml",
                    help="the home whose HA states and registries the fake HA serves")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="benchmark process %(levelname)s %(name)s: %(message)s")
    items, source = texts(args.n, args.seed)
    started = time.perf_counter()
    out = run(args.model, args.home, items)
    report = {"n": len(items), "texts": source, "model": str(args.model), "home": str(args.home),
              "wall_s": round(time.perf_counter() - started, 1), "python": platform.python_version(),
              "machine": platform.machine(), "cpus": os.cpu_count(), **out}
    checks = {k: bool(out[k]["ok"]) for k in ("ha_home", "ready", "requests", "state_change", "restart", "token")}
    report["checks"] = checks
    ok = all(checks.values())
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print_table(report)
    return 0 if ok else 1


def print_table(r: dict[str, Any]) -> None:
    h, rd, rq, sc, rs = r["ha_home"], r["ready"], r["requests"], r["state_change"], r["restart"]
    n = r["n"]
    print(f"{n} requests ({r['texts']}), model {Path(r['model']).name}; home {Path(r['home']).name} served by a fake "
          f"HA ({h['entities']} entities, {h['areas']} areas, {h['devices']} devices); no home file in the service; "
          f"{r['wall_s']} s; {r['machine']}, {r['cpus']} CPUs, Python {r['python']}")
    print(f"HA's home vs the file: {len(h['differences_in_names_aliases_areas_states'])} differences in names, "
          f"aliases, areas, states ({h['entities_with_aliases']} entities with aliases from get_entries); "
          f"satellite {SAT_DEVICE} in area {h['satellite_area_from_ha']!r} by HA's device registry")
    print(f"ready: listening {rd['listening_after_s']} s after the start (HA synced first: {rd['entities_at_start']} "
          f"entities); describe -> info programs {rd['info_programs']}; {rd['question']!r} -> {rd['answer']!r} "
          f"(the in-process answer: {rd['answer_is_in_process_answer']}); ready {rd['ready_after_s']} s after "
          "the start")
    print()
    print(f"{'':36} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'p50 x':>7} {'p99 x':>7}")
    for name, row_ in rq["rows"].items():
        ratios = (f"{row_['ratio_p50']:>7.2f} {row_['ratio_p99']:>7.2f}" if "ratio_p50" in row_ else f"{'':>7} {'':>7}")
        print(f"{name:36} {row_['p50_ms']:>8.3f} {row_['p99_ms']:>8.3f} {row_['mean_ms']:>8.3f} {ratios}")
    print("wyoming replies (both kinds) equal to what the in-process result over HA's home maps to: "
          f"{rq['replies_equal']} of {n}"
          + (f"; differing: {rq['differing_examples']}" if rq["replies_differ"] else ""))
    print(f"in-process over the home file, the same reply as over HA's home: {rq['home_file_replies_equal']} of {n}"
          + (f"; e.g. {rq['home_file_differing_examples'][:3]}" if rq["home_file_replies_equal"] < n else ""))
    print()
    print(f"state change, {sc['question']!r}:")
    print(f"  asked:          {sc['before']!r}")
    print(f"  asked again:    {sc['before_again']!r}")
    print(f"  state_changed {sc['entity']} -> on from the fake HA")
    print(f"  asked again:    {sc['after']!r}  (changed: {sc['changed']}; {sc['event_to_changed_answer_ms']} ms from "
          f"the event, {sc['round_trips_until_changed']} round trip(s); the in-process answer: "
          f"{sc['after_is_in_process_answer']})")
    print("HA restart:")
    print(f"  before the stop: {rs['answer_before_stop']!r}")
    print(f"  HA stopped; the service logged the lost connection after {rs['stop_to_lost_connection_logged_ms']} ms")
    print(f"  while HA is away: {rs['answer_while_away']!r}  (from the last state: {rs['answered_from_last_state']})")
    print(f"  while away, in HA: {rs['changed_while_away']}; HA started again on the same port")
    print(f"  after:           {rs['answer_after_restart']!r}  ({rs['start_to_changed_answer_ms']} ms after HA "
          f"listened again, {rs['round_trips_until_changed']} round trip(s); resync logged: {rs['resync_logged']}; "
          f"the in-process answer: {rs['after_is_in_process_answer']}; a new connection agrees: "
          f"{rs['new_connection_answer_equal']}; service alive: {rs['service_alive']})")
    for line in rs["ha_connection_lines"]:
        print(f"    service log: {line}")
    print()
    t = r["token"]
    print(f"token from {t['from']}; in {t['lines_with_the_token']} of the service's {t['service_log_lines']} log lines")
    print("checks: " + ", ".join(f"{k} {'ok' if v else 'FAILED'}" for k, v in r["checks"].items()))


if __name__ == "__main__":
    raise SystemExit(main())
