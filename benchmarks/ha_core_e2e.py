"""A real Home Assistant core end to end: HA's own `wyoming` integration as edge-nlu's client, live state from HA.

    python benchmarks/ha_core_e2e.py [--ha-venv /tmp/ha-venv] [--model DIR] [--n 50] [--keep DIR] [--json]

Not part of CI: it needs Home Assistant core installed in a virtual environment of its own (see
docs/home-assistant-e2e.md); without one it says so and exits 0 (skipped). What it does:

1. writes a small HA configuration (http on a free loopback port, api, config, onboarding, conversation, intent;
   two template lights and a template switch without value templates, so HA keeps their state; a template
   temperature sensor) and starts `hass` from the HA venv;
2. onboards an owner through HA's onboarding API, trades the auth code for an access token, and makes a
   long-lived token over the WebSocket API (`auth/long_lived_access_token`); creates the areas Kitchen, Living
   Room and Hallway, places the entities in them and gives the sofa lamp the entity alias "reading lamp"
   (`config/entity_registry/update`);
3. starts the real `edge-nlu wyoming` (this tree, this Python) with a `home_assistant:` section and
   `default_area: Living Room` (HA sends no satellite id): its home is HA's live state over the WebSocket API,
   the token in a chmod-600 file;
4. adds the Wyoming integration for it through HA's config flow REST API (`/api/config/config_entries/flow`),
   which makes HA's `WyomingConversationEntity` (homeassistant/components/wyoming/conversation.py);
5. drives HA's conversation API (`POST /api/conversation/process` with that agent): HA sends `transcript` to
   edge-nlu and runs the intent edge-nlu returns with its own intent handlers. Each case checks what HA did
   (the entity's state in HA's REST API) and what HA said (its speech against edge-nlu's own reply to the same
   text over a direct Wyoming connection; an action must be confirmed aloud: HA's speech is edge-nlu's text, not
   empty); a state changed in HA by a service call is asked about until edge-nlu's answer follows; "turn off the
   lights" with no satellite id turns off the default area's lights only;
6. times --n questions through HA's conversation API beside the same question straight to edge-nlu over
   Wyoming (the baseline of the ratio), in alternating turns.

HA releases whose wyoming integration has no conversation platform (2024.1 and older: `data.py` makes only
stt, tts and wake_word platforms and `has_services()` ignores intent programs, so the config flow aborts with
`no_services`) cannot be the client; with such an HA (or with --client library) wyoming's client library sends
the transcripts and HA's own intent handlers run edge-nlu's intents through `POST /api/intent/handle`. HA
releases pinning wyoming < 1.7 (2025.1.4 and 2025.4.4 pin 1.5.4) drop the transcript's context on the wire, so
HA's conversation id never reaches edge-nlu: the follow-up case is then n/a, with the reason.
Prints a table (or --json); exit 1 when a check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from websockets.asyncio.client import connect  # noqa: E402
from wyoming.asr import Transcript  # noqa: E402
from wyoming.client import AsyncTcpClient  # noqa: E402
from wyoming_latency import pct, read_reply  # noqa: E402

from edge_nlu.service.wyoming.events import Reply  # noqa: E402

DEADLINE = 60.0
"""Longest wait for a condition (an entity's state, a changed answer, edge-nlu's sync)."""
HA_START_S = 300.0
"""Longest wait for HA's first start (it writes its storage and compiles translations)."""
PASSWORD = uuid.uuid4().hex  # a throwaway owner of a throwaway HA
AREAS = {"kitchen": "Kitchen", "living_room": "Living Room", "hallway": "Hallway"}
ENTITIES = {  # entity id -> (area id, aliases)
    "light.kitchen_light": ("kitchen", []),
    "light.sofa_lamp": ("living_room", ["reading lamp"]),
    "switch.kettle": ("kitchen", []),
    "sensor.hallway_temperature": ("hallway", []),
}
QUESTION = "is the kitchen light on"
DEFAULT_AREA = "Living Room"
"""edge-nlu's `default_area`: HA sends no satellite or device id (none at all before wyoming 1.7, and none from
HA's conversation API), so "turn off the lights" is about this room's lights."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def configuration(port: int) -> str:
    """HA's configuration.yaml: the integrations the run needs (not default_config) and the devices."""
    event = "\n".join(["        - event: edge_nlu_e2e", "          event_data: {{entity: {name}, on: {on}}}"])

    def actions(name: str) -> str:
        return (f"        turn_on:\n{event.format(name=name, on='true')}\n"
                f"        turn_off:\n{event.format(name=name, on='false')}\n")

    return f"""homeassistant:
  name: edge-nlu e2e
  unit_system: metric
  time_zone: UTC
  country: GB
  language: en
  latitude: 51.5
  longitude: 0.0
  elevation: 10
http:
  server_host: 127.0.0.1
  server_port: {port}
api:
config:
onboarding:
conversation:
intent:
logger:
  default: warning
  logs:
    homeassistant.components.wyoming: debug
light:
  - platform: template
    lights:
      kitchen_light:
        friendly_name: Kitchen light
        unique_id: e2e-kitchen-light
{actions("kitchen_light")}      sofa_lamp:
        friendly_name: Sofa lamp
        unique_id: e2e-sofa-lamp
{actions("sofa_lamp")}switch:
  - platform: template
    switches:
      kettle:
        friendly_name: Kettle
        unique_id: e2e-kettle
{actions("kettle")}template:
  - sensor:
      - name: Hallway temperature
        unique_id: e2e-hallway-temperature
        state: "21.5"
        unit_of_measurement: "°C"
        device_class: temperature
        state_class: measurement
"""


class Lines:
    """A child's output lines, drained in a thread; waits on them without sleeping."""

    def __init__(self, stream: Any) -> None:
        self.lines: list[str] = []
        self._cond = threading.Condition()
        threading.Thread(target=self._drain, args=(stream,), daemon=True).start()

    def _drain(self, stream: Any) -> None:
        for line in stream:
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self.lines.append("")
            self._cond.notify_all()

    def find(self, pattern: str) -> re.Match[str] | None:
        with self._cond:
            return next((m for m in (re.search(pattern, x) for x in self.lines) if m is not None), None)

    def wait(self, predicate: Callable[[], bool], timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(predicate, timeout)


def stop(proc: subprocess.Popen[str], timeout: float = 30.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


# -- Home Assistant -------------------------------------------------------------------------------------------------


class HomeAssistant:
    """`hass` from its own venv on a free loopback port, and its REST and WebSocket APIs."""

    def __init__(self, venv: Path, config_dir: Path) -> None:
        self.venv, self.config_dir = venv, config_dir
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.token: str | None = None
        self.version: str | None = None
        (config_dir / "configuration.yaml").write_text(configuration(self.port), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        self.started = time.perf_counter()
        self.proc = subprocess.Popen([str(venv / "bin" / "hass"), "-c", str(config_dir), "--skip-pip"],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        self.out = Lines(self.proc.stdout)

    def close(self) -> None:
        stop(self.proc)

    def request(self, method: str, path: str, body: Any = None, form: dict[str, str] | None = None,
                auth: bool = True, timeout: float = 30.0) -> tuple[int, Any]:
        """(HTTP status, JSON body or text) of one REST call."""
        headers = {}
        data = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if auth and self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(self.base + path, data=data, method=method,  # noqa: S310 - http://127.0.0.1
                                     headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - loopback HA
                raw = resp.read().decode()
                status = resp.status
        except urllib.error.HTTPError as err:
            raw, status = err.read().decode(errors="replace"), err.code
        try:
            return status, json.loads(raw) if raw else None
        except json.JSONDecodeError:
            return status, raw

    def wait_up(self) -> float:
        """Seconds until HA answers HTTP (its onboarding view needs no token)."""
        deadline = time.perf_counter() + HA_START_S
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit("hass exited:\n" + "".join(self.out.lines[-40:]))
            try:
                status, _ = self.request("GET", "/api/onboarding", auth=False, timeout=2)
                if status == 200:
                    return time.perf_counter() - self.started
            except OSError:
                pass
            self.out.wait(lambda: False, 0.25)  # HA logs little at WARNING: poll the port meanwhile
        raise SystemExit(f"HA did not answer on {self.base} within {HA_START_S:g} s:\n" + "".join(self.out.lines[-40:]))

    def onboard(self) -> None:
        """An owner through the onboarding API, then an access token from its auth code."""
        client_id = self.base + "/"
        status, body = self.request("POST", "/api/onboarding/users", {
            "client_id": client_id, "name": "edge-nlu e2e", "username": "e2e", "password": PASSWORD,
            "language": "en"}, auth=False)
        if status != 200 or not isinstance(body, dict) or "auth_code" not in body:
            raise SystemExit(f"onboarding refused the owner: HTTP {status} {body}")
        status, token = self.request("POST", "/auth/token", form={
            "grant_type": "authorization_code", "code": body["auth_code"], "client_id": client_id}, auth=False)
        if status != 200 or not isinstance(token, dict):
            raise SystemExit(f"no access token: HTTP {status} {token}")
        self.token = token["access_token"]

    async def ws(self, commands: list[dict[str, Any]]) -> list[Any]:
        """Run WebSocket commands in order on one connection; their results (SystemExit on a failure)."""
        out: list[Any] = []
        async with connect(f"ws://127.0.0.1:{self.port}/api/websocket", proxy=None) as ws:
            hello = json.loads(await ws.recv())
            self.version = hello.get("ha_version")
            await ws.send(json.dumps({"type": "auth", "access_token": self.token}))
            if json.loads(await ws.recv()).get("type") != "auth_ok":
                raise SystemExit("HA refused the access token over the WebSocket API")
            for i, cmd in enumerate(commands, 1):
                await ws.send(json.dumps({"id": i, **cmd}))
                while True:
                    msg = json.loads(await ws.recv())
                    if msg.get("id") == i and msg.get("type") == "result":
                        break
                if not msg.get("success"):
                    raise SystemExit(f"HA refused {cmd['type']}: {msg.get('error')}")
                out.append(msg.get("result"))
        return out

    def state(self, entity_id: str) -> str | None:
        status, body = self.request("GET", f"/api/states/{entity_id}")
        return body.get("state") if status == 200 and isinstance(body, dict) else None

    def wait_state(self, entity_id: str, want: str, timeout: float = DEADLINE) -> bool:
        deadline = time.perf_counter() + timeout
        while True:
            if self.state(entity_id) == want:
                return True
            if time.perf_counter() > deadline:
                return False
            self.out.wait(lambda: False, 0.05)

    def converse(self, text: str, agent_id: str, conversation_id: str | None = None) -> tuple[float, dict[str, Any]]:
        """(seconds, HA's answer) of one `POST /api/conversation/process`."""
        body: dict[str, Any] = {"text": text, "language": "en", "agent_id": agent_id}
        if conversation_id:
            body["conversation_id"] = conversation_id
        t0 = time.perf_counter()
        status, answer = self.request("POST", "/api/conversation/process", body)
        took = time.perf_counter() - t0
        if status != 200 or not isinstance(answer, dict):
            raise SystemExit(f"conversation/process refused {text!r}: HTTP {status} {answer}")
        return took, answer


def speech_of(answer: dict[str, Any]) -> str:
    return str(((answer.get("response") or {}).get("speech") or {}).get("plain", {}).get("speech") or "")


def kind_of(answer: dict[str, Any]) -> str:
    response = answer.get("response") or {}
    kind = str(response.get("response_type"))
    code = (response.get("data") or {}).get("code")
    return f"{kind} ({code})" if code else kind


# -- edge-nlu ---------------------------------------------------------------------------------------------------


class EdgeNlu:
    """`edge-nlu wyoming` in a child process, its home from HA only."""

    def __init__(self, model: Path, ha: HomeAssistant, workdir: Path, token: str) -> None:
        token_file = workdir / "ha.token"
        fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(token + "\n")
        config = workdir / "wyoming.yaml"
        config.write_text(json.dumps({"threads": 1, "ha_sync_wait_s": DEADLINE, "default_area": DEFAULT_AREA,
                                      "home_assistant": {
            "url": f"ws://127.0.0.1:{ha.port}/api/websocket", "token_file": str(token_file)}}), encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        env.pop("EDGE_NLU_HA_TOKEN", None)
        self.token = token
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "edge_nlu.cli.main", "wyoming", "--uri", "tcp://127.0.0.1:0", "--config",
             str(config), "--model", str(model), "--log-level", "INFO"],
            cwd=workdir, env=env, stderr=subprocess.PIPE, text=True)
        self.log = Lines(self.proc.stderr)
        if not self.log.wait(lambda: self.log.find(r"Wyoming intent service on tcp://") is not None
                             or self.proc.poll() is not None, 180):
            self.close()
        found = self.log.find(r"Wyoming intent service on tcp://[^:]+:(\d+)")
        if found is None:
            self.close()
            raise SystemExit("edge-nlu wyoming did not start:\n" + "".join(self.log.lines[-20:]))
        self.port = int(found.group(1))

    def close(self) -> None:
        stop(self.proc)

    async def ask(self, text: str, conversation_id: str) -> tuple[float, Reply]:
        """(seconds, reply) of a transcript over a connection of its own, as HA sends it."""
        t0 = time.perf_counter()
        async with AsyncTcpClient("127.0.0.1", self.port) as client:
            await client.write_event(Transcript(text, context={"conversation_id": conversation_id}).event())
            reply = Reply.from_events(await read_reply(client))
        return time.perf_counter() - t0, reply


def reply_text(reply: Reply) -> str:
    return (reply.intents[0].text or "") if reply.recognized else (reply.text or "")


# -- the run ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Release:
    """What the HA venv holds."""

    version: str | None
    """HA's version; None: no HA there."""
    conversation: bool = False
    """Its wyoming integration has a conversation platform (HA can be an intent client)."""
    wyoming: str | None = None
    """The wyoming package's version in HA's venv."""
    sends_context: bool = False
    """That wyoming's `Transcript.event()` puts `context` on the wire: without it HA's conversation_id never
    reaches the service, and a follow-up ("turn it off") has no earlier turn to refer to."""


PROBE = """
import importlib.metadata as m, importlib.util as u, json, homeassistant.const as c
from wyoming.asr import Transcript
try:
    sends = "context" in Transcript("x", context={"a": 1}).event().data
except TypeError:  # wyoming before 1.5: no context at all
    sends = False
print(json.dumps([c.__version__, u.find_spec("homeassistant.components.wyoming.conversation") is not None,
                  m.version("wyoming"), sends]))
"""


def ha_release(venv: Path) -> Release:
    """What HA release the venv holds, and what its wyoming integration can do (Release(None) without HA)."""
    python = venv / "bin" / "python"
    if not (venv / "bin" / "hass").exists() or not python.exists():
        return Release(None)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([str(python), "-c", PROBE], capture_output=True, text=True, env=env, timeout=120,
                          check=False)
    if done.returncode != 0:
        return Release(None)
    version, conversation, wyoming, sends_context = json.loads(done.stdout.strip().splitlines()[-1])
    return Release(version, conversation, wyoming, sends_context)


def passed(rows: list[dict[str, Any]]) -> bool:
    """Every case that applies held (a case this HA release cannot support is None: left out)."""
    return all(r["ok"] for r in rows if r["ok"] is not None)


async def add_wyoming(ha: HomeAssistant, port: int) -> tuple[str, str]:
    """The Wyoming integration for edge-nlu through the config flow REST API: (entry id, conversation agent)."""
    status, flow = ha.request("POST", "/api/config/config_entries/flow", {"handler": "wyoming",
                                                                          "show_advanced_options": False})
    if status != 200 or not isinstance(flow, dict) or "flow_id" not in flow:
        raise SystemExit(f"HA would not start the wyoming config flow: HTTP {status} {flow}")
    status, done = ha.request("POST", f"/api/config/config_entries/flow/{flow['flow_id']}",
                              {"host": "127.0.0.1", "port": port})
    if status != 200 or not isinstance(done, dict) or done.get("type") != "create_entry":
        raise SystemExit(f"the wyoming config flow did not create an entry: HTTP {status} {done}")
    entry_id = done["result"]["entry_id"] if isinstance(done.get("result"), dict) else str(done.get("result"))
    deadline = time.perf_counter() + DEADLINE
    while time.perf_counter() < deadline:
        entities = await ha.ws([{"type": "config/entity_registry/list"}])
        agents = [e["entity_id"] for e in entities[0]
                  if e.get("config_entry_id") == entry_id and e["entity_id"].startswith("conversation.")]
        if agents and ha.state(agents[0]) is not None:
            return entry_id, agents[0]
        ha.out.wait(lambda: False, 0.2)
    raise SystemExit("the wyoming entry made no conversation entity:\n" + "".join(ha.out.lines[-30:]))


Converse = Callable[[str, str | None], Awaitable[tuple[float, dict[str, Any]]]]
"""(text, conversation id or None) -> (seconds, HA's answer as `/api/conversation/process` gives it)."""


def through_agent(ha: HomeAssistant, agent: str) -> Converse:
    """HA's own wyoming integration is the client: `POST /api/conversation/process` to its agent."""
    async def converse(text: str, conversation_id: str | None) -> tuple[float, dict[str, Any]]:
        return await asyncio.to_thread(ha.converse, text, agent, conversation_id)

    return converse


def through_library(ha: HomeAssistant, edge: EdgeNlu) -> Converse:
    """For an HA whose wyoming integration cannot be the client: wyoming's AsyncTcpClient sends the transcript
    (with the conversation id in its context), and HA runs each intent edge-nlu returns with its own handlers
    (`POST /api/intent/handle`, the intent integration's REST view); what HA says is its speech, else edge-nlu's
    text, as HA's wyoming agent does."""
    async def converse(text: str, conversation_id: str | None) -> tuple[float, dict[str, Any]]:
        cid = conversation_id or f"lib-{uuid.uuid4().hex}"
        t0 = time.perf_counter()
        _, reply = await edge.ask(text, cid)
        if not reply.recognized:
            answer: dict[str, Any] = {"response_type": "error", "data": {"code": "no_intent_match"},
                                      "speech": {"plain": {"speech": reply.text or ""}}}
        else:
            said: list[str] = []
            for intent in reply.intents:
                status, handled = await asyncio.to_thread(ha.request, "POST", "/api/intent/handle",
                                                          {"name": intent.name, "data": dict(intent.slots)})
                if status != 200 or not isinstance(handled, dict):
                    handled = {"response_type": "error", "data": {"code": f"http_{status}"},
                               "speech": {"plain": {"speech": str(handled)}}}
                answer = handled
                speech = speech_of({"response": handled}) or intent.text or ""
                if speech:
                    said.append(speech)
            answer["speech"] = {"plain": {"speech": "\n".join(said)}}
        return time.perf_counter() - t0, {"response": answer, "conversation_id": cid}

    return converse


class Cases:
    """Each case: a text through HA (`converse`), what HA did and said, edge-nlu's own reply."""

    def __init__(self, ha: HomeAssistant, edge: EdgeNlu, converse: Converse, release: Release,
                 passes_conversation: bool) -> None:
        self.ha, self.edge, self.converse, self.release = ha, edge, converse, release
        self.passes_conversation = passes_conversation
        self.rows: list[dict[str, Any]] = []

    async def case(self, name: str, text: str, entity: str | None = None, want: str | None = None,
                   conversation_id: str | None = None, want_kind: str | None = None,
                   before: tuple[str, ...] = (), unchanged: tuple[str, str] | None = None) -> dict[str, Any]:
        """`before`: the texts of the conversation so far, sent first on the direct side, so that a follow-up's
        direct reply has the same history as HA's conversation. An action (`entity`, `want`) must also be
        confirmed aloud: HA's speech is edge-nlu's text, and that is not empty. `unchanged`: (entity, state)
        that the action must leave as it is."""
        took, answer = await self.converse(text, conversation_id)
        said = speech_of(answer)
        direct_id = f"direct-{uuid.uuid4().hex}"
        for earlier in before:
            await self.edge.ask(earlier, direct_id)
        direct_took, direct = await self.edge.ask(text, direct_id)
        checks: dict[str, bool] = {}
        if entity is not None and want is not None:
            checks[f"{entity} {want} in HA"] = await asyncio.to_thread(self.ha.wait_state, entity, want)
        checks["HA said edge-nlu's text"] = said == reply_text(direct)
        if entity is not None and want is not None:
            checks["HA confirmed the action aloud"] = bool(said) and said == reply_text(direct)
        if unchanged is not None:
            checks[f"{unchanged[0]} still {unchanged[1]}"] = self.ha.state(unchanged[0]) == unchanged[1]
        if want_kind is not None:
            checks[f"HA's response is {want_kind}"] = kind_of(answer) == want_kind
        row = {"case": name, "text": text, "ha_said": said, "ha_response": kind_of(answer),
               "edge_nlu_reply": (f"{direct.intents[0].name} {dict(direct.intents[0].slots)}" if direct.recognized
                                  else "not-recognized"),
               "checks": checks, "ha_ms": round(took * 1000, 1), "direct_ms": round(direct_took * 1000, 1),
               "conversation_id": answer.get("conversation_id"), "ok": all(checks.values()) and bool(checks)}
        self.rows.append(row)
        return row

    async def follows(self) -> dict[str, Any]:
        """A light switched on by a service call in HA: the question is asked until edge-nlu's answer follows."""
        _, before = await self.converse(QUESTION, None)
        t0 = time.perf_counter()
        status, _ = await asyncio.to_thread(self.ha.request, "POST", "/api/services/light/turn_on",
                                            {"entity_id": "light.kitchen_light"})
        asked, after = 0, before
        while time.perf_counter() - t0 < DEADLINE:
            _, after = await self.converse(QUESTION, None)
            asked += 1
            if speech_of(after) != speech_of(before):
                break
        took = time.perf_counter() - t0
        _, direct = await self.edge.ask(QUESTION, f"direct-{uuid.uuid4().hex}")
        checks = {"service call ok": status == 200, "answer changed": speech_of(after) != speech_of(before),
                  "light.kitchen_light on in HA": self.ha.state("light.kitchen_light") == "on",
                  "HA said edge-nlu's text": speech_of(after) == reply_text(direct)}
        row = {"case": "state changed in HA by a service call", "text": QUESTION,
               "ha_said": f"{speech_of(before)!r} -> {speech_of(after)!r}", "ha_response": kind_of(after),
               "edge_nlu_reply": f"{asked} question(s) until it changed", "checks": checks,
               "ha_ms": round(took * 1000, 1), "direct_ms": None, "ok": all(checks.values())}
        self.rows.append(row)
        return row

    async def run(self) -> list[dict[str, Any]]:
        await self.case("turn on", "turn on the kitchen light", "light.kitchen_light", "on")
        await self.case("question (on)", QUESTION, want_kind="query_answer")
        await self.case("turn off", "turn off the kitchen light", "light.kitchen_light", "off")
        await self.case("entity alias from HA's registry", "turn on the reading lamp", "light.sofa_lamp", "on")
        await self.case("switch", "turn on the kettle", "switch.kettle", "on")
        conversation = self.rows[-1].get("conversation_id") or f"e2e-{uuid.uuid4().hex}"
        follow_up = await self.case("follow-up in the same conversation", "turn it off", "switch.kettle", "off",
                                    conversation_id=conversation, before=("turn on the kettle",))
        if not self.passes_conversation:  # HA cannot pass the conversation on: the case says so, not a failure
            follow_up["ok"] = None
            follow_up["not_applicable"] = (
                f"HA {self.release.version} pins wyoming {self.release.wyoming}, whose Transcript.event() sends "
                "only `text`: the context with HA's conversation_id never reaches edge-nlu, so 'it' has no "
                "earlier turn (the direct reply, with the same two turns over one conversation_id, is the one "
                "HA would get)")
            await asyncio.to_thread(self.ha.request, "POST", "/api/services/switch/turn_off",
                                    {"entity_id": "switch.kettle"})
        await self.case("sensor question", "what is the temperature in the hallway", want_kind="query_answer")
        await self.case("not a home request", "tell me a joke", want_kind="error (no_intent_match)")
        await self.follows()
        await self.default_area()
        return self.rows

    async def default_area(self) -> dict[str, Any]:
        """No satellite or device id reaches edge-nlu: "turn off the lights" acts in `default_area` alone."""
        for eid in ("light.sofa_lamp", "light.kitchen_light"):
            await asyncio.to_thread(self.ha.request, "POST", "/api/services/light/turn_on", {"entity_id": eid})
            await asyncio.to_thread(self.ha.wait_state, eid, "on")
        return await self.case("default_area, no satellite id", "turn off the lights",
                               "light.sofa_lamp", "off", unchanged=("light.kitchen_light", "on"))


async def latency(converse: Converse, edge: EdgeNlu, n: int, client: str) -> dict[str, Any]:
    """n questions through HA and n straight to edge-nlu over Wyoming, alternating."""
    via_ha: list[float] = []
    direct: list[float] = []
    for i in range(n + 5):
        order = (0, 1) if i % 2 == 0 else (1, 0)
        for which in order:
            if which == 0:
                took, _ = await converse(QUESTION, None)
                if i >= 5:
                    via_ha.append(took * 1000)
            else:
                took, _ = await edge.ask(QUESTION, f"lat-{i}")
                if i >= 5:
                    direct.append(took * 1000)

    def row(values: list[float]) -> dict[str, float]:
        return {"p50_ms": round(pct(values, 50), 2), "p99_ms": round(pct(values, 99), 2),
                "mean_ms": round(sum(values) / len(values), 2)}

    out = {"n": n, "question": QUESTION, "through_ha": client, "via_ha": row(via_ha), "direct": row(direct)}
    out["ratio_p50"] = round(pct(via_ha, 50) / pct(direct, 50), 2)
    out["ratio_p99"] = round(pct(via_ha, 99) / pct(direct, 99), 2)
    return out


async def setup_home(ha: HomeAssistant) -> dict[str, Any]:
    """A long-lived token, the areas, the entities placed in them, the sofa lamp's alias."""
    (token,) = await ha.ws([{"type": "auth/long_lived_access_token", "client_name": "edge-nlu e2e",
                             "lifespan": 1}])
    ha.token = token
    (areas,) = await ha.ws([{"type": "config/area_registry/list"}])
    have = {a["area_id"] for a in areas}
    await ha.ws([{"type": "config/area_registry/create", "name": name} for aid, name in AREAS.items()
                 if aid not in have])
    for eid in ENTITIES:
        if await asyncio.to_thread(ha.state, eid) is None:
            raise SystemExit(f"HA has no {eid}:\n" + "".join(ha.out.lines[-30:]))
    await ha.ws([{"type": "config/entity_registry/update", "entity_id": eid, "area_id": area, "aliases": aliases}
                 for eid, (area, aliases) in ENTITIES.items()])
    return {"areas": list(AREAS.values()), "entities": {e: a for e, (a, _) in ENTITIES.items()},
            "aliases": {e: al for e, (_, al) in ENTITIES.items() if al}}


def run(venv: Path, model: Path, n: int, keep: Path | None, client: str) -> dict[str, Any]:
    release = ha_release(venv)
    version, has_conversation = release.version, release.conversation
    out: dict[str, Any] = {"ha_venv": str(venv), "ha_version": version, "release": asdict(release)}
    if keep is not None and keep.exists() and any(keep.iterdir()):
        raise SystemExit(f"--keep {keep}: give a new or empty folder (HA there is onboarded already)")
    workdir = keep if keep is not None else Path(tempfile.mkdtemp(prefix="edge-nlu-e2e-"))
    config_dir = workdir / "ha-config"
    config_dir.mkdir(parents=True, exist_ok=True)
    ha = HomeAssistant(venv, config_dir)
    edge: EdgeNlu | None = None
    try:
        out["ha_up_s"] = round(ha.wait_up(), 1)
        ha.onboard()
        out["home"] = asyncio.run(setup_home(ha))
        out["ha_version"] = ha.version or version
        t0 = time.perf_counter()
        edge = EdgeNlu(model, ha, workdir, ha.token or "")
        synced = edge.log.find(r"home from Home Assistant at \S+: (\d+) entities")
        sync_line = edge.log.find(r"synced with Home Assistant .*")
        notes = [x.split(": ", 1)[-1].strip() for x in edge.log.lines
                 if "no floor registry" in x or "does not answer" in x or "cannot reach" in x]
        out["edge_nlu"] = {"listening_after_s": round(time.perf_counter() - t0, 1),
                           "entities_from_ha": int(synced.group(1)) if synced else None,
                           "sync_log": sync_line.group(0) if sync_line else None, "notes": notes}
        if not has_conversation:
            try:
                asyncio.run(add_wyoming(ha, edge.port))
                flow = "it created an entry all the same"
            except SystemExit as exc:
                flow = str(exc)
            out["agent_unavailable"] = (
                f"HA {version}: homeassistant/components/wyoming has no conversation.py (its data.py makes only stt, "
                "tts and wake_word platforms and has_services() ignores intent programs), so HA cannot use edge-nlu as "
                f"a conversation agent; its config flow for edge-nlu: {flow}")
            if client == "agent":
                out["ok"] = False
                return out
            client = "library"
        if client == "library":
            converse = through_library(ha, edge)
            out["client"] = ("wyoming's AsyncTcpClient -> edge-nlu; each intent run by HA's own handlers through "
                             "POST /api/intent/handle")
            passes_conversation = True
        else:
            entry_id, agent = asyncio.run(add_wyoming(ha, edge.port))
            out["wyoming_entry"] = {"entry_id": entry_id, "agent": agent}
            out["client"] = f"HA's wyoming integration ({agent}) through POST /api/conversation/process"
            converse = through_agent(ha, agent)
            passes_conversation = release.sends_context

        async def drive() -> tuple[list[dict[str, Any]], dict[str, Any]]:
            assert edge is not None
            rows = await Cases(ha, edge, converse, release, passes_conversation).run()
            return rows, await latency(converse, edge, n, out["client"])

        out["cases"], out["latency"] = asyncio.run(drive())
        leaked = sum(1 for line in edge.log.lines if ha.token and ha.token in line)
        out["token_in_edge_nlu_log_lines"] = leaked
        out["edge_nlu_alive"] = edge.proc.poll() is None
        out["ok"] = passed(out["cases"]) and leaked == 0 and out["edge_nlu_alive"]
        return out
    finally:
        if edge is not None:
            edge.close()
        ha.close()
        out["ha_log_errors"] = [x.rstrip() for x in ha.out.lines if " ERROR " in x][:10]
        if keep is None:
            shutil.rmtree(workdir, ignore_errors=True)


def print_table(r: dict[str, Any]) -> None:
    rel = r["release"]
    print(f"Home Assistant {r['ha_version']} ({r['ha_venv']}; wyoming {rel['wyoming']}, conversation platform: "
          f"{rel['conversation']}, Transcript sends context: {rel['sends_context']}), up in {r.get('ha_up_s')} s; "
          "edge-nlu on "
          f"{r['machine']}, {r['cpus']} CPUs, Python {r['python']}; {r['wall_s']} s in all")
    e = r.get("edge_nlu") or {}
    print(f"edge-nlu wyoming, home from HA only: {e.get('entities_from_ha')} entities; {e.get('sync_log')}")
    for note in e.get("notes") or []:
        print(f"  edge-nlu log: {note}")
    if r.get("agent_unavailable"):
        print(f"HA's wyoming integration as the client: {r['agent_unavailable']}")
    if "cases" not in r:
        print("result: not run (this HA release cannot be the client; --client library drives it instead)")
        return
    print(f"client: {r['client']}")
    print()
    print(f"{'case':38} {'text':40} {'HA ms':>8} {'direct':>8}  result")
    for row in r["cases"]:
        direct = f"{row['direct_ms']:>8.1f}" if row["direct_ms"] is not None else f"{'':>8}"
        verdict = "n/a" if row["ok"] is None else "pass" if row["ok"] else "FAIL"
        print(f"{row['case']:38} {row['text']:40} {row['ha_ms']:>8.1f} {direct}  {verdict}")
        print(f"{'':38}   HA said {row['ha_said']!r} ({row['ha_response']}); edge-nlu: {row['edge_nlu_reply']}")
        failed = [k for k, v in row["checks"].items() if not v]
        if row.get("not_applicable"):
            print(f"{'':38}   n/a: {row['not_applicable']}")
        elif failed:
            print(f"{'':38}   failed: {failed}")
    confirmed = [row["checks"]["HA confirmed the action aloud"] for row in r["cases"] if row["ok"] is not None
                 and "HA confirmed the action aloud" in row["checks"]]
    print(f"actions HA confirmed aloud with edge-nlu's text: {sum(confirmed)} of {len(confirmed)}")
    lat = r["latency"]
    print()
    print(f"{lat['n']} x {lat['question']!r}, alternating     p50 ms   p99 ms  mean ms")
    for name, label in (("via_ha", "through HA (the client above)"), ("direct", "straight to edge-nlu (Wyoming)")):
        v = lat[name]
        print(f"  {label:34} {v['p50_ms']:>8.2f} {v['p99_ms']:>8.2f} {v['mean_ms']:>8.2f}")
    print(f"  through HA / direct: p50 x{lat['ratio_p50']}, p99 x{lat['ratio_p99']}")
    print(f"token in edge-nlu's log: {r['token_in_edge_nlu_log_lines']} lines; edge-nlu alive: {r['edge_nlu_alive']}")
    if r.get("ha_log_errors"):
        print("HA log errors:", *r["ha_log_errors"], sep="\n  ")
    print("result:", "ok" if r["ok"] else "FAILED")


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--ha-venv", type=Path, default=Path(tempfile.gettempdir()) / "ha-venv",
                    help="the virtual environment Home Assistant core is installed in (default: /tmp/ha-venv)")
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "home")
    ap.add_argument("--n", type=int, default=50, help="questions timed through HA and straight to edge-nlu")
    ap.add_argument("--keep", type=Path, help="a new folder for HA's config (DIR/ha-config) and edge-nlu's config and "
                    "token, kept after the run (default: a temporary folder, removed)")
    ap.add_argument("--client", choices=("auto", "agent", "library"), default="auto",
                    help="agent: HA's wyoming integration (its conversation agent); library: wyoming's client "
                    "library sends the transcript and HA's /api/intent/handle runs the intents; auto: the agent where "
                    "HA's wyoming integration has one, else the library")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if ha_release(args.ha_venv).version is None:
        print(f"skipped: no Home Assistant core in {args.ha_venv} (no bin/hass, or `import homeassistant` fails); "
              "docs/home-assistant-e2e.md says how to install one")
        return 0
    started = time.perf_counter()
    report = run(args.ha_venv, args.model, args.n, args.keep, args.client)
    report.update({"wall_s": round(time.perf_counter() - started, 1), "python": platform.python_version(),
                   "machine": platform.machine(), "cpus": os.cpu_count()})
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print_table(report)
    return 0 if report.get("ok") else 1


if __name__ == "__main__":
    raise SystemExit(main())
