"""Fuzzing everything edge-nlu reads from outside (issue 10): 0 tracebacks, 0 lost answers.

    python benchmarks/fuzz.py [--quick] [--seed 0] [--parts inproc,serve,cli] [--scale 1.0]

(a) in-process: every adapter's `handle` on its own topics (Zigbee2MQTT, HA discovery, Tasmota,
    Homie), with the updates applied to a LiveHome and queries asked about the devices they made;
    the Hermes query decoder through to the published answer; the learning bridge's event parser
    and query path; `EdgeNLU.parse` with random texts, contexts and ids; home files (`Home.parse`).
    Every output is encoded as UTF-8 JSON, as publishing and printing do.
(b) a real Mosquitto and `edge-nlu serve` as a child process (all four adapters and learning on):
    fuzzed messages on every topic it subscribes to, in bursts, each burst followed by a valid
    Hermes query whose answer must arrive without an error (some ask for a device whose name
    carries a lone surrogate); at the end the service must be alive with no traceback in its log.
(c) the CLI: `edge-nlu parse --jsonl` on a file of fuzzed lines (one result per non-blank line,
    same ids), plus invocations with fuzzed argv texts, `--context @binary-file` and hostile home
    files (a clear `edge-nlu: error [...]`, never a traceback).

Inputs are mutations of valid payloads, random bytes, unicode edge cases (lone surrogates,
controls, RTL marks, astral characters), deep nesting, huge values and long texts, drawn from one
seeded `random.Random`, so a run is reproducible. Prints one JSON report on stdout (progress on
stderr); exit status 1 when any count that must be 0 is not.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edge_nlu.domain.home import Home  # noqa: E402
from edge_nlu.domain.live_home import LiveHome  # noqa: E402
from edge_nlu.errors import EdgeNLUError  # noqa: E402
from edge_nlu.service.adapters.base import AdapterError  # noqa: E402
from edge_nlu.service.adapters.registry import build_adapters  # noqa: E402
from edge_nlu.service.config import SiteSettings  # noqa: E402
from edge_nlu.service.hermes import (  # noqa: E402
    QueryError,
    build_context,
    intent_reply,
    next_turn,
    not_recognized,
    parse_query,
)

RESULT_KEYS = {"id", "text", "rewrite", "nlu", "action", "response", "error"}
FULL = {"adapters": 42_000, "hermes": 9_000, "learning": 5_000, "parse": 9_000, "home": 2_000,
        "serve": 25_000, "cli_lines": 15_000, "cli_runs": 24}
QUICK = {"adapters": 1_200, "hermes": 300, "learning": 200, "parse": 300, "home": 100,
         "serve": 800, "cli_lines": 400, "cli_runs": 8}

# -- seeds: valid inputs of every kind --------------------------------------------------------------

UTTERANCES = [
    "turn on the kitchen lights", "turn off the lights", "what is the temperature?", "play the hobbit",
    "set the bedroom radiator to 20 degrees", "turn on the reading lamp", "dim the sofa lamp to 30 percent",
    "open the bedroom blind halfway", "is the front door locked", "what's the weather like tomorrow",
    "set a timer for ten minutes", "add milk to my shopping list", "turn it off", "pause the music",
    "turn the volume up on the tv", "how warm is it in the living room", "start the vacuum",
]
EDGE_STRINGS = [
    "", " ", "\x00", "\ud800", "\udfff", "a\ud800b", "\udc80\udcff", "\ud83d\ude00", "😀", "\u202e lights", "\u200b",
    "\ufeff", "e\u0301", "\u2028", "Ⅻ", "١٢٣", "ｔｕｒｎ ｏｎ ｔｈｅ ｌｉｇｈｔｓ", "NaN", "Infinity", "-0", "1e999",
    "9" * 30,
    "\\", '"', "'", "{", "}", "[", "%s%n%x", "../../etc/passwd", "+", "#", "/", "a/b/#", "null", "true",
    "TURN ON THE LIGHTS", "turn on the lights " * 40, "x" * 600, "\t\n\r", "\x1b[31m", "İ", "ß", "ﬁ",
    "\U0010ffff", "\uffff", "ǅ", "Kitchen", "kitchen-puck", "light.kitchen_ceiling", "ON", "OFF", "online",
    "2026-11-24T07:30:00", "2026-13-45T99:99:99", "9999-12-31T23:59:59", "0001-01-01", "\ud800" * 300,
]
CONTEXTS: list[Any] = [
    {"area": "Kitchen", "satellite": {"id": "kitchen-puck", "has_screen": False}, "time": "2026-11-24T07:30:00",
     "user": "alex", "history": [{"text": "turn on the oven", "action": {"intent": "HassTurnOn",
                                                                        "targets": ["switch.oven"]}}],
     "state_overrides": {"switch.oven": {"state": "on"}, "sensor.oven_temperature": {"state": "180"}}},
    {"area": "Living Room", "satellite": {"id": "tv", "has_screen": True}},
    {"area": "bedroom"}, {}, None,
]
HERMES: list[dict[str, Any]] = [
    {"input": "turn on the kitchen lights", "siteId": "kitchen-puck", "sessionId": "s1", "id": "q1",
     "intentFilter": None, "user": "alex", "time": "2026-11-24T07:30:00", "customData": "x"},
    {"input": "what is the temperature?", "siteId": "living-room-tv", "id": "q2", "intentFilter": ["HassGetState"]},
    {"input": "play the hobbit", "siteId": "default"},
]
LEARN_TOPICS = ["edge-nlu/feedback", "hermes/dialogueManager/sessionEnded", "hermes/nlu/intentNotRecognized",
                "hermes/tts/say", "hermes/tts/sayFinished"]
LEARN: list[tuple[str, dict[str, Any]]] = [
    ("edge-nlu/feedback", {"id": "q1", "signal": "negative", "text": "turn on the lamp"}),
    ("edge-nlu/feedback", {"id": "q2", "signal": "positive"}),
    ("hermes/dialogueManager/sessionEnded", {"siteId": "kitchen-puck", "sessionId": "s1",
                                             "termination": {"reason": "abortedByUser"}}),
    ("hermes/nlu/intentNotRecognized", {"id": "q1", "siteId": "kitchen-puck", "input": "blah"}),
    ("hermes/tts/say", {"text": "ok", "siteId": "kitchen-puck", "sessionId": "s1", "id": "say1"}),
    ("hermes/tts/sayFinished", {"id": "say1", "siteId": "kitchen-puck"}),
]
Z2M_DEVICES = [
    {"friendly_name": "Coordinator", "ieee_address": "0x00124b0000000000", "type": "Coordinator"},
    {"friendly_name": "kitchen/ceiling", "ieee_address": "0x0017880100000001", "type": "Router",
     "definition": {"model": "9290012573A", "vendor": "Philips", "exposes": [
         {"type": "light", "features": [{"type": "binary", "name": "state", "property": "state", "value_on": "ON"},
                                        {"type": "numeric", "name": "brightness", "property": "brightness",
                                         "value_min": 0, "value_max": 254}]}]}},
    {"friendly_name": "coffee plug", "ieee_address": "0x0017880100000002", "description": "area: Kitchen",
     "definition": {"exposes": [{"type": "switch", "features": [{"name": "state", "property": "state"}]},
                                {"type": "numeric", "name": "power", "property": "power", "unit": "W"}]}},
    {"friendly_name": "bathroom_sensor", "ieee_address": "0x00158d0000000003", "definition": {"exposes": [
        {"type": "numeric", "name": "temperature", "property": "temperature", "unit": "°C"}]}},
    {"friendly_name": "bedroom blind", "definition": {"exposes": [
        {"type": "cover", "features": [{"name": "state", "property": "state"},
                                       {"name": "position", "property": "position"}]}]}},
]
ADAPTER_SEEDS: dict[str, list[tuple[str, Any]]] = {
    "zigbee2mqtt": [
        ("zigbee2mqtt/bridge/devices", Z2M_DEVICES), ("zigbee2mqtt/kitchen/ceiling", {"state": "ON", "brightness": 80}),
        ("zigbee2mqtt/bathroom_sensor", {"temperature": 21.5, "humidity": 40}),
        ("zigbee2mqtt/bedroom blind", {"state": "OPEN", "position": 30}),
        ("zigbee2mqtt/kitchen/ceiling/availability", {"state": "online"}), ("zigbee2mqtt/coffee plug/availability",
                                                                           "offline"),
        ("zigbee2mqtt/bridge/state", {"state": "online"}), ("zigbee2mqtt/new device", {"state": "OFF"}),
    ],
    "ha_discovery": [
        ("homeassistant/sensor/esp-office/temperature/config", {
            "~": "esp-office/sensor/office_temperature", "name": "Temperature", "stat_t": "~/state",
            "avty_t": "esp-office/status", "dev_cla": "temperature", "unit_of_meas": "°C",
            "uniq_id": "esp-office-temp", "dev": {"name": "Office", "ids": ["esp-office"], "sa": "Office"}}),
        ("homeassistant/switch/0x01/switch/config", {
            "name": None, "stat_t": "porch/state", "val_tpl": "{{ value_json.state }}", "pl_on": "ON",
            "pl_off": "OFF", "json_attr_t": "porch/state", "uniq_id": "0x01_switch", "obj_id": "porch_light",
            "avty": [{"t": "porch/bridge", "val_tpl": "{{ value_json.state }}"}], "dev": {"name": "Porch light"}}),
        ("homeassistant/light/hall/config", {"name": "Hall", "schema": "json", "stat_t": "hall/state", "bri_scl": 100}),
        ("homeassistant/device/kitchen/config", {
            "dev": {"ids": "ea334450945afc", "name": "Kitchen"}, "stat_t": "sensorKitchen/state",
            "cmps": {"t": {"p": "sensor", "dev_cla": "temperature", "val_tpl": "{{ value_json.temperature }}",
                           "uniq_id": "t1", "name": "Temperature"}}}),
        ("esp-office/sensor/office_temperature/state", "22.4"), ("esp-office/status", "online"),
        ("porch/state", {"state": "ON", "linkquality": 99}), ("hall/state", {"state": "ON", "brightness": 40}),
        ("sensorKitchen/state", {"temperature": 23.2}), ("homeassistant/status", "online"),
    ],
    "tasmota": [
        ("tele/tasmota_8A7F3C/LWT", "Online"), ("tele/tasmota_8A7F3C/STATE", {"POWER": "ON", "Wifi": {"RSSI": 60}}),
        ("stat/tasmota_8A7F3C/RESULT", {"POWER": "ON", "Dimmer": 40}),
        ("tele/tasmota_8A7F3C/SENSOR", {"AM2301": {"Temperature": 21.5, "Humidity": 40.1}, "TempUnit": "C"}),
        ("stat/sonoff_dual/POWER2", "ON"), ("tele/oven/SENSOR", {"DS18B20": {"Temperature": 180}}),
    ],
    "homie": [
        ("homie/kitchen-lamp/$homie", "4.0.0"), ("homie/kitchen-lamp/$name", "Kitchen lamp"),
        ("homie/kitchen-lamp/$nodes", "light"), ("homie/kitchen-lamp/$state", "ready"),
        ("homie/kitchen-lamp/light/$properties", "on,brightness"), ("homie/kitchen-lamp/light/on", "true"),
        ("homie/kitchen-lamp/light/on/$datatype", "boolean"), ("homie/kitchen-lamp/light/brightness", "51"),
        ("homie/kitchen-lamp/light/brightness/$format", "0:255"), ("homie/weather/outside/temperature", "-3.5"),
    ],
}
ADAPTER_OPTIONS: dict[str, dict[str, Any]] = {
    "zigbee2mqtt": {"areas": {"kitchen/ceiling": "Kitchen", "bad name lamp": "Kitchen"}},
    "ha_discovery": {"areas": {"Porch light": "Garden"}},
    "tasmota": {"devices": {"oven": {"name": "Oven", "area": "Kitchen"}}},
    "homie": {},
}
BAD_NAME = "bad name lamp\ud800"
"""A Zigbee friendly name with a lone surrogate (sent as the JSON escape `\\ud800`)."""


class Fuzzer:
    """Seeded generators and mutators for texts, JSON values, payloads and topics."""

    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)

    def chance(self, p: float) -> bool:
        return self.r.random() < p

    def char(self) -> str:
        k = self.r.random()
        if k < 0.5:
            return chr(self.r.randint(32, 126))
        if k < 0.6:
            return chr(self.r.randint(0, 31))
        if k < 0.7:
            return chr(self.r.randint(0xD800, 0xDFFF))  # lone surrogates
        if k < 0.8:
            return chr(self.r.randint(0x10000, 0x10FFFF))
        if k < 0.85:
            return chr(self.r.randint(0x300, 0x36F))  # combining marks
        return chr(self.r.randint(0x80, 0xFFFF))

    def text(self, max_len: int = 600) -> str:
        k = self.r.random()
        if k < 0.2:
            return self.r.choice(EDGE_STRINGS)
        if k < 0.4:
            return self.edit(self.r.choice(UTTERANCES))
        if k < 0.6:
            return "".join(self.char() for _ in range(self.r.choice([1, 3, 10, 40, 120, max_len])))
        if k < 0.8:  # run-on requests of every length up to past the cap
            n = self.r.randint(0, max_len)
            words = " ".join(self.r.choice(UTTERANCES) for _ in range(n // 10 + 1))
            return words[:n]
        if k < 0.95:
            return " ".join(self.r.choice(self.r.choice(UTTERANCES).split()) for _ in range(self.r.randint(1, 12)))
        return self.r.choice(["a", "turn on ", "\ud800", "é", "😀"]) * self.r.choice([5_000, 100_000])

    def edit(self, s: str) -> str:
        chars = list(s)
        for _ in range(self.r.randint(0, 3)):
            op = self.r.random()
            i = self.r.randint(0, len(chars))
            if op < 0.4:
                chars.insert(i, self.char())
            elif op < 0.7 and chars:
                del chars[min(i, len(chars) - 1)]
            elif chars:
                chars[min(i, len(chars) - 1)] = self.char()
        return "".join(chars)

    def scalar(self) -> Any:
        return self.r.choice([
            None, True, False, 0, -1, 1, 2**31, -(2**63), 2**64, 10**30, 10**300, 0.5, -0.0, 1e308, -1e308,
            float("nan"), float("inf"), float("-inf"), 5e-324, self.r.randint(-1000, 1000), self.r.random() * 100,
        ]) if self.chance(0.6) else self.text(60)

    def value(self, depth: int = 0) -> Any:
        k = self.r.random()
        if depth > 4 or k < 0.55:
            return self.scalar()
        if k < 0.75:
            return [self.value(depth + 1) for _ in range(self.r.randint(0, 4))]
        if k < 0.95:
            keys = ["state", "name", "id", "text", "area", "siteId", "input", "friendly_name", "brightness", "POWER",
                    "stat_t", "dev", "history", "satellite", "state_overrides", "time", "user", "signal"]
            return {(self.r.choice(keys) if self.chance(0.6) else self.text(20)): self.value(depth + 1)
                    for _ in range(self.r.randint(0, 5))}
        return self.deep_value(self.r.choice([40, 200, 900]))

    def deep_value(self, depth: int) -> Any:
        v: Any = "x"
        for i in range(depth):
            v = [v] if i % 2 else {"a": v}
        return v

    def mutate(self, obj: Any, depth: int = 0) -> Any:
        """A random change somewhere in a JSON-like value (sometimes several)."""
        if depth > 6 or self.chance(0.12):
            return self.value()
        if isinstance(obj, dict):
            out = dict(obj)
            for _ in range(self.r.randint(1, 2)):
                op = self.r.random()
                keys = list(out)
                if keys and op < 0.55:
                    k = self.r.choice(keys)
                    out[k] = self.mutate(out[k], depth + 1)
                elif keys and op < 0.7:
                    del out[self.r.choice(keys)]
                elif op < 0.85:
                    out[self.text(20) if self.chance(0.5) else self.r.choice(keys or ["x"])] = self.value()
                elif keys:
                    k = self.r.choice(keys)
                    out[self.edit(k)] = out.pop(k)
            return out
        if isinstance(obj, list):
            out_l = list(obj)
            op = self.r.random()
            if out_l and op < 0.5:
                i = self.r.randrange(len(out_l))
                out_l[i] = self.mutate(out_l[i], depth + 1)
            elif op < 0.7:
                out_l.append(self.value())
            elif out_l and op < 0.85:
                del out_l[self.r.randrange(len(out_l))]
            else:
                out_l = out_l * self.r.randint(2, 30)
            return out_l
        if isinstance(obj, str):
            return self.edit(obj) if self.chance(0.5) else self.text(80)
        return self.scalar()

    def encode(self, obj: Any) -> bytes:
        try:
            if self.chance(0.75):
                return json.dumps(obj, ensure_ascii=True).encode()
            # raw UTF-8 with any surrogates encoded as bytes: invalid UTF-8 on the wire
            return json.dumps(obj, ensure_ascii=False).encode("utf-8", "surrogatepass")
        except (ValueError, RecursionError):
            return b"{}"

    def mutate_bytes(self, b: bytes) -> bytes:
        data = bytearray(b)
        for _ in range(self.r.randint(1, 4)):
            op = self.r.random()
            i = self.r.randint(0, len(data))
            if op < 0.2 and data:
                data[min(i, len(data) - 1)] ^= 1 << self.r.randint(0, 7)
            elif op < 0.35:
                del data[i:]
            elif op < 0.55:
                data[i:i] = bytes(self.r.randint(0, 255) for _ in range(self.r.randint(1, 8)))
            elif op < 0.7:
                data[i:i] = self.r.choice([b"\\ud800", b"\\udfff", b"\xed\xa0\x80", b"\xff\xfe", b"\x00", b'"', b"\\",
                                           b"NaN", b"1e999", b"9" * 400, b"[", b"{", b"}", b"]", b","])
            elif op < 0.85 and data:
                j = self.r.randint(0, len(data))
                data[i:i] = data[min(i, j):max(i, j)][:4096]
            else:
                del data[i:i + self.r.randint(1, 16)]
        return bytes(data)

    def deep_bytes(self, inner: bytes = b"1") -> bytes:
        d = self.r.choice([100, 999, 1000, 3000, 100_000])
        if self.chance(0.5):
            return b"[" * d + inner + b"]" * d
        return b'{"a":' * d + inner + b"}" * d

    def payload(self, seed: Any) -> bytes:
        """A message body derived from a valid one, or not derived from anything."""
        k = self.r.random()
        if k < 0.05:
            return self.encode(seed) if not isinstance(seed, str) else seed.encode()
        if k < 0.55:
            return self.encode(self.mutate(seed)) if not isinstance(seed, str) else self.text(60).encode(
                "utf-8", "surrogatepass")
        if k < 0.7:
            return self.mutate_bytes(self.encode(seed) if not isinstance(seed, str) else seed.encode())
        if k < 0.78:
            return bytes(self.r.randint(0, 255) for _ in range(self.r.choice([0, 1, 8, 64, 512])))
        if k < 0.86 and isinstance(seed, dict) and seed:  # a valid message with one field nested very deep
            key = self.r.choice(list(seed))
            head = json.dumps({k: v for k, v in seed.items() if k != key})[:-1]
            sep = ", " if len(seed) > 1 else ""
            return f'{head}{sep}"{key}": '.encode() + self.deep_bytes(b'"x"') + b"}"
        if k < 0.9:
            return self.deep_bytes()
        if k < 0.95:
            return self.encode(self.value())
        huge = self.r.choice([b'"' + b"x" * 300_000 + b'"', b"9" * 5000, b"[" + b"1," * 100_000 + b"1]",
                              json.dumps({f"k{i}": "v" * 300 for i in range(300)}).encode()])
        return huge if not isinstance(seed, dict) or self.chance(0.5) else self.encode(
            {**seed, self.r.choice(list(seed) or ["x"]): huge.decode()})

    def topic(self, seed: str) -> str:
        if self.chance(0.75):
            return seed
        parts = seed.split("/")
        op = self.r.random()
        if op < 0.3:
            parts[self.r.randrange(len(parts))] = self.text(12).replace("\x00", "")
        elif op < 0.5:
            parts.append(self.r.choice(["set", "availability", "$name", "config", "STATE", "", "ümlaut", "a b"]))
        elif op < 0.7 and len(parts) > 1:
            parts.pop()
        else:
            parts.insert(1, self.text(8).replace("\x00", ""))
        topic = "/".join(parts)
        # a topic must be valid UTF-8 without wildcards to be published at all
        return topic.encode("utf-8", "replace").decode().replace("+", "_").replace("#", "_") or seed


# -- checks -----------------------------------------------------------------------------------------


class Tally:
    """Inputs per target and every way one went wrong (with one sample each)."""

    def __init__(self) -> None:
        self.inputs: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()
        self.samples: dict[str, str] = {}

    def fail(self, target: str, what: str, sample: Any) -> None:
        key = f"{target}: {what}"[:300]
        self.failures[key] += 1
        self.samples.setdefault(key, repr(sample)[:400])

    def exception(self, target: str, exc: BaseException, sample: Any) -> None:
        where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        loc = f" at {Path(where.filename).name}:{where.lineno}" if where else ""
        self.fail(target, f"{type(exc).__name__}: {str(exc)[:120]}{loc}", sample)

    def report(self) -> dict[str, Any]:
        return {"inputs": dict(self.inputs), "total": sum(self.inputs.values()),
                "failures": sum(self.failures.values()),
                "kinds": [{"what": k, "count": n, "sample": self.samples[k]} for k, n in self.failures.most_common(30)]}


def utf8_json(value: Any) -> bytes:
    """What publishing and printing do with a result: strict UTF-8 JSON."""
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def check_result(t: Tally, target: str, r: Any, sample: Any, text: str | None = None) -> None:
    if not isinstance(r, dict) or set(r) != RESULT_KEYS:
        t.fail(target, "result is not the contract's object", sample)
        return
    try:
        utf8_json(r)
    except (ValueError, TypeError) as exc:
        t.fail(target, f"result does not encode: {type(exc).__name__}", sample)
    err = r.get("error")
    if err:
        if err.get("code") == "internal_error":
            t.fail(target, f"internal error result: {err.get('message')}", sample)
        return
    if r.get("nlu") is None:
        t.fail(target, "no error and no nlu", sample)
        return
    read = (r.get("rewrite") or {}).get("text") or r["text"]  # a learned rewrite: the slots are in what was read
    for s in r["nlu"]["slots"]:
        if read[s["start"]:s["end"]] != s["value"]:
            t.fail(target, "slot offsets do not index the text", sample)
    if text is not None and r["text"] != text.strip() and "\ufffd" not in r["text"]:
        t.fail(target, "result text differs from the request", sample)


# -- (a) in-process ---------------------------------------------------------------------------------


def run_inprocess(fz: Fuzzer, n: dict[str, int], tmp: Path) -> dict[str, Any]:
    from edge_nlu.learn.settings import LearnSettings
    from edge_nlu.pipeline import load
    from edge_nlu.service.learning import LearningBridge
    from edge_nlu_tools.demo.offline import demo_home_path

    t = Tally()
    home = Home.load(demo_home_path())
    nlu = load(home=home)
    t0 = time.monotonic()
    _fuzz_adapters(fz, t, n["adapters"], nlu, home)
    log(f"  adapters: {n['adapters']} in {time.monotonic() - t0:.0f} s")
    t0 = time.monotonic()
    _fuzz_hermes(fz, t, n["hermes"], nlu, home)
    log(f"  hermes: {n['hermes']} in {time.monotonic() - t0:.0f} s")
    t0 = time.monotonic()
    bridge = LearningBridge(LearnSettings(store=str(tmp / "learn.sqlite3")), nlu, "hermes", "edge-nlu")
    try:
        _fuzz_learning(fz, t, n["learning"], bridge, home)
    finally:
        bridge.close()
    log(f"  learning: {n['learning']} in {time.monotonic() - t0:.0f} s")
    t0 = time.monotonic()
    _fuzz_parse(fz, t, n["parse"], nlu)
    log(f"  parse: {n['parse']} in {time.monotonic() - t0:.0f} s")
    t0 = time.monotonic()
    _fuzz_home(fz, t, n["home"], nlu)
    log(f"  home: {n['home']} in {time.monotonic() - t0:.0f} s")
    return t.report()


def _fuzz_adapters(fz: Fuzzer, t: Tally, count: int, nlu: Any, base: Home) -> None:
    names = sorted(ADAPTER_SEEDS)
    adapters: list[Any] = []
    live = LiveHome(base)
    for i in range(count):
        if i % 2000 == 0:
            adapters = build_adapters(names, ADAPTER_OPTIONS)
            live = LiveHome(base)
            for a in adapters:  # start from a home the seeds built
                for topic, seed in ADAPTER_SEEDS[a.name]:
                    live.apply(a.handle(topic, seed.encode() if isinstance(seed, str) else json.dumps(seed).encode()))
            bad = [{"friendly_name": BAD_NAME, "ieee_address": "0x1", "definition": {"exposes": [
                {"type": "light", "features": [{"name": "state", "property": "state"}]}]}}]
            live.apply(adapters[names.index("zigbee2mqtt")].handle("zigbee2mqtt/bridge/devices",
                                                                   json.dumps(Z2M_DEVICES + bad).encode()))
        adapter = adapters[i % len(adapters)]
        seed_topic, seed = fz.r.choice(ADAPTER_SEEDS[adapter.name])
        topic, payload = fz.topic(seed_topic), fz.payload(seed)
        sample = (adapter.name, topic, payload[:300])
        t.inputs["adapters"] += 1
        try:
            updates = adapter.handle(topic, payload)
        except AdapterError:
            continue
        except Exception as exc:  # noqa: BLE001 - counting is the point
            t.exception(f"adapter {adapter.name}", exc, sample)
            continue
        try:
            live.apply(updates)
            adapter.extra_subscriptions()
        except Exception as exc:  # noqa: BLE001
            t.exception(f"apply {adapter.name}", exc, sample)
        if i % 100 == 99:
            _probe_home(t, live, nlu, fz, sample)


def _probe_home(t: Tally, live: LiveHome, nlu: Any, fz: Fuzzer, sample: Any) -> None:
    """The home the fuzzed messages made must encode, and queries naming its devices must be answered."""
    try:
        snap = live.snapshot()
        utf8_json(snap.to_dict())
    except Exception as exc:  # noqa: BLE001
        t.exception("home snapshot", exc, sample)
        return
    entities = snap.entities
    picks = [e for e in entities if "\ufffd" in e.name or "bad" in e.name][:1]
    picks += fz.r.sample(entities, min(2, len(entities)))
    for e in picks:
        text = f"turn on the {e.name}"[:400]
        try:
            r = nlu.parse(text, {"area": "Kitchen"} if fz.chance(0.5) else None, home=snap)
        except Exception as exc:  # noqa: BLE001
            t.exception("parse about a fuzzed device", exc, (text, sample))
            continue
        check_result(t, "parse about a fuzzed device", r, (text, sample))


def _fuzz_hermes(fz: Fuzzer, t: Tally, count: int, nlu: Any, home: Home) -> None:
    sites = {"kitchen-puck": SiteSettings(area="Kitchen", has_screen=False), "living-room-tv": SiteSettings(
        area="Living Room", has_screen=True, user="sam")}
    for _ in range(count):
        payload = fz.payload(fz.r.choice(HERMES))
        t.inputs["hermes"] += 1
        sample = payload[:300]
        try:
            q = parse_query(payload)
        except QueryError as exc:
            try:
                utf8_json(not_recognized(exc.partial, exc.message))
            except Exception as exc2:  # noqa: BLE001
                t.exception("hermes not_recognized", exc2, sample)
            continue
        except Exception as exc:  # noqa: BLE001
            t.exception("hermes parse_query", exc, sample)
            continue
        try:
            ctx = build_context(q, sites.get(q.site_id), [], "2026-11-24T07:30:00")
            if ctx.get("area") and home.area(ctx["area"]) is None:
                del ctx["area"]
            typed = nlu.parse_result(q.input, ctx, q.id, home=home)
            result = typed.to_dict()
            check_result(t, "hermes answer", result, sample)
            topic, reply = intent_reply(q, typed, 0.5)
            utf8_json(reply)
            if any(c in topic for c in "+#\x00"):
                t.fail("hermes answer", f"bad answer topic {topic!r}", sample)
            topic.encode("utf-8")
            f"edge-nlu/result/{q.site_id}".encode()
            next_turn(typed)
        except Exception as exc:  # noqa: BLE001
            t.exception("hermes answer", exc, sample)


def _fuzz_learning(fz: Fuzzer, t: Tally, count: int, bridge: Any, home: Home) -> None:
    arrival = 1_790_000_000.0
    for i in range(count):
        arrival += fz.r.random() * 5
        t.inputs["learning"] += 1
        if i % 10 == 0:  # a query through the learning path, so that feedback has turns to refer to
            payload = fz.payload(fz.r.choice(HERMES)) if fz.chance(0.5) else json.dumps(
                {**fz.r.choice(HERMES), "id": fz.r.choice(["q1", "q2", "q3"])}).encode()
            try:
                q = parse_query(payload)
            except QueryError:
                continue
            except Exception as exc:  # noqa: BLE001
                t.exception("learning parse_query", exc, payload[:300])
                continue
            try:
                ctx = build_context(q, None, [], "2026-11-24T07:30:00")
                r = bridge.handle(q, ctx, home, q.user)
                check_result(t, "learning handle", r, payload[:300])
                for _topic, p in bridge.questions():
                    utf8_json(p)
            except Exception as exc:  # noqa: BLE001
                t.exception("learning handle", exc, payload[:300])
            continue
        topic, seed = fz.r.choice(LEARN)
        topic = topic if fz.chance(0.9) else fz.r.choice(LEARN_TOPICS)
        payload = fz.payload(seed)
        try:
            refused = bridge.on_event(topic, payload, arrival)
            if refused is not None and not isinstance(refused, str):
                t.fail("learning on_event", "refusal is not a string", payload[:300])
            for _topic, p in bridge.questions():
                utf8_json(p)
        except Exception as exc:  # noqa: BLE001
            t.exception("learning on_event", exc, (topic, payload[:300]))


ATTRIBUTES = ["brightness", "volume_level", "temperature", "current_temperature", "position", "device_class",
              "unit_of_measurement", "media_title", "temperature_unit"]


def _fuzz_parse(fz: Fuzzer, t: Tally, count: int, nlu: Any) -> None:
    ids = [e.id for e in nlu.home.entities]
    areas = [a.name for a in nlu.home.areas]
    for i in range(count):
        text: Any = fz.text() if fz.chance(0.95) else fz.scalar()
        if i % 3 == 0:  # lengths 0..cap and past it, with and without context, evenly
            text = (" ".join(UTTERANCES) * 4)[: fz.r.randint(0, nlu.settings.max_text_chars + 20)]
        if fz.chance(0.3):  # real devices with odd states and attributes, asked about in plain words
            text = fz.r.choice(UTTERANCES) if fz.chance(0.7) else text
            ctx: Any = {"area": fz.r.choice(areas), "state_overrides": {
                fz.r.choice(ids): {"state": fz.scalar(), "attributes": {fz.r.choice(ATTRIBUTES): fz.scalar()}}
                for _ in range(fz.r.randint(1, 4))}}
        else:
            ctx = fz.mutate(fz.r.choice(CONTEXTS)) if fz.chance(0.6) else fz.r.choice(CONTEXTS + [fz.value()])
        rid = fz.r.choice([None, "r1", 7, fz.text(30), fz.value()])
        t.inputs["parse"] += 1
        sample = (text[:200] if isinstance(text, str) else text, repr(ctx)[:200], repr(rid)[:100])
        try:
            r = nlu.parse(text, ctx, rid)
        except Exception as exc:  # noqa: BLE001
            t.exception("EdgeNLU.parse", exc, sample)
            continue
        check_result(t, "EdgeNLU.parse", r, sample, text if isinstance(text, str) and "\x00" not in text else None)


HOME_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
) + "entities: [{id: light.x, name: *i}]\n"


def _fuzz_home(fz: Fuzzer, t: Tally, count: int, nlu: Any) -> None:
    import yaml

    from edge_nlu_tools.demo.offline import demo_home_path

    base_text = demo_home_path().read_text(encoding="utf-8")
    base = yaml.safe_load(base_text)
    specials = [HOME_BOMB, "a: &a [*a]\nentities: *a\n", "[" * 100_000, "- " * 5000 + "x", '{"a":' * 5000,
                "entities:\n" + "  - " * 2000 + "x",
                json.dumps({"entities": [{"id": "light.\ud800", "name": "\udfff"}]}), "\x00\xff",
                "entities: !!python/object:os.system [ls]", "? [a, b]\n: c\n", "entities: [{id: x.y, name: [1, [2]]}]"]
    for i in range(count):
        k = fz.r.random()
        if i < len(specials):
            text = specials[i]
        elif k < 0.5:
            text = json.dumps(fz.mutate(base), ensure_ascii=fz.chance(0.5))
        elif k < 0.8:
            text = fz.mutate_bytes(base_text.encode()).decode("utf-8", "replace")
        elif fz.chance(0.5):
            try:
                text = yaml.safe_dump(fz.mutate(base), allow_unicode=True)
            except (RecursionError, yaml.YAMLError):  # the fuzzer's own value is too deep for the dumper
                text = "[" * 5000
        else:
            text = fz.text(2000)
        t.inputs["home"] += 1
        try:
            h = Home.parse(text)
        except EdgeNLUError:
            continue
        except Exception as exc:  # noqa: BLE001
            t.exception("Home.parse", exc, text[:300])
            continue
        try:
            utf8_json(h.to_dict())
            if i % 20 == 0:
                check_result(t, "parse on a fuzzed home", nlu.parse("turn on the lights", home=h), text[:300])
        except Exception as exc:  # noqa: BLE001
            t.exception("fuzzed home", exc, text[:300])


# -- (b) over a real Mosquitto ----------------------------------------------------------------------

VALID = [("what is the temperature?", "kitchen-puck"), ("turn off the lights", "living-room-tv"),
         ("turn on the kettle", "kitchen-puck"), ("play the hobbit", "living-room-tv"),
         ("set the bedroom radiator to 20 degrees", "bedroom-puck"), ("turn on the bad name lamp", "kitchen-puck")]


def broker_topic(topic: str, fallback: str) -> str:
    """The topic as a broker takes it: Mosquitto disconnects a client that publishes a topic with
    control characters, surrogates, non-characters or wildcards (MQTT 5 section 1.5.4)."""
    def ok(c: str) -> bool:
        cp = ord(c)
        return not (cp <= 0x1F or 0x7F <= cp <= 0x9F or 0xD800 <= cp <= 0xDFFF or 0xFDD0 <= cp <= 0xFDEF
                    or cp & 0xFFFE == 0xFFFE or c in "+#")
    return "".join(c for c in topic[:2000] if ok(c)) or fallback


def run_serve(fz: Fuzzer, count: int, tmp: Path, keep_log: Path | None = None) -> dict[str, Any]:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from edge_nlu_tools.broker import LocalBroker
    from edge_nlu_tools.demo.live import SITES, wait_ready, write_home
    from edge_nlu_tools.demo.satellite import Satellite, ServeProcess

    report: dict[str, Any] = {}
    with LocalBroker("mosquitto") as b:
        report["broker"] = b.kind
        config = {"broker": {"uri": b.uri, "client_id": "edge-nlu-fuzz"}, "adapters": ADAPTER_OPTIONS,
                  "sites": SITES, "home": str(write_home(tmp)), "stats_interval_s": 5,
                  "learning": {"store": str(tmp / "serve-learn.sqlite3")}}
        (tmp / "serve.json").write_text(json.dumps(config), encoding="utf-8")
        log_path = tmp / "serve.log"
        svc = ServeProcess(b.uri, tmp / "serve.json", log_path)
        sat = Satellite(b.host, b.port, client_id="fuzz-satellite")
        pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="fuzz-publisher")
        pub.max_queued_messages_set(0)
        pub_drops: list[int] = []
        pub.on_disconnect = lambda *a: pub_drops.append(1)  # the broker refused something we sent
        env_pp = os.environ.get("PYTHONPATH")
        os.environ["PYTHONPATH"] = str(ROOT) + (os.pathsep + env_pp if env_pp else "")
        try:
            sat.connect()
            svc.start()
            if wait_ready(sat, svc, 60) is None:
                raise SystemExit(f"service did not come up:\n{svc.log_tail()}")
            pub.connect(b.host, b.port)
            pub.loop_start()
            seeds: list[tuple[str, Any]] = [(topic, seed) for name in sorted(ADAPTER_SEEDS)
                                            for topic, seed in ADAPTER_SEEDS[name]]
            seeds += [("hermes/nlu/query", q) for q in HERMES] * 4 + LEARN
            sent, burst, lost, errored, bad_name_hits, bad_name_asked, asked = 0, 50, 0, 0, 0, 0, 0
            lost_samples: list[str] = []
            while sent < count:
                for _ in range(min(burst, count - sent)):
                    topic, seed = fz.r.choice(seeds)
                    pub.publish(broker_topic(fz.topic(topic), topic), fz.payload(seed), qos=fz.r.choice([0, 1]))
                    sent += 1
                text, site = VALID[asked % len(VALID)]
                if "bad name" in text:  # the device list with a lone surrogate in one name, then its state
                    devices = Z2M_DEVICES + [{"friendly_name": BAD_NAME, "ieee_address": "0xbad", "definition": {
                        "exposes": [{"type": "light", "features": [{"name": "state", "property": "state"}]}]}}]
                    pub.publish("zigbee2mqtt/bridge/devices", json.dumps(devices).encode(), qos=1).wait_for_publish(10)
                    pub.publish(f"zigbee2mqtt/{BAD_NAME.replace(chr(0xD800), chr(0xFFFD))}",
                                json.dumps({"state": "OFF"}).encode(), qos=1).wait_for_publish(10)
                    bad_name_asked += 1
                asked += 1
                a = sat.ask(text, site, timeout=30)
                if a is None:
                    lost += 1
                    lost_samples.append(f"{text} @ {site}: no answer in 30 s")
                elif a.result.get("error"):
                    errored += 1
                    lost_samples.append(f"{text} @ {site}: {a.result['error']}")
                elif "bad name" in text and "light.bad_name_lamp" in ((a.result.get("action") or {}).get("targets")
                                                                      or []):
                    bad_name_hits += 1
                if asked % 10 == 0:
                    log(f"  serve: {sent} fuzzed, {asked} valid queries, {lost} lost, {errored} errors")
            alive = svc.alive()
            pub_disconnects = len(pub_drops)
        finally:
            pub.disconnect()
            pub.loop_stop()
            sat.close()
            svc.stop()
            if env_pp is None:
                os.environ.pop("PYTHONPATH", None)
            else:
                os.environ["PYTHONPATH"] = env_pp
        text_log = log_path.read_text(encoding="utf-8", errors="replace")
        if keep_log is not None:
            keep_log.write_text(text_log, encoding="utf-8")
        counters = {}
        for line in text_log.splitlines():
            if "edge-nlu stopped: " in line:
                counters = json.loads(line.split("edge-nlu stopped: ", 1)[1].replace("'", '"'))
    report.update({
        "fuzzed_messages": sent, "valid_queries": asked, "lost_answers": lost, "error_answers": errored,
        "publisher_disconnects": pub_disconnects, "bad_name_queries": bad_name_asked,
        "bad_name_resolved": bad_name_hits,
        "tracebacks": text_log.count("Traceback"), "alive_at_end": alive, "serve_counters": counters,
        "samples": lost_samples[:10],
        "traceback_sample": text_log[text_log.find("Traceback") - 300:][:1500] if "Traceback" in text_log else None,
    })
    return report


# -- (c) the CLI ------------------------------------------------------------------------------------


def cli(args: list[str], stdin: bytes | None = None, timeout: float = 1800) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "edge_nlu.cli", *args], input=stdin, capture_output=True,
                          cwd=ROOT, env=env, timeout=timeout, check=False)


def cli_bytes(args: list[bytes], timeout: float) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([os.fsencode(sys.executable), b"-m", b"edge_nlu.cli", *args], capture_output=True,
                          cwd=ROOT, env=env, timeout=timeout, check=False)


def run_cli(fz: Fuzzer, lines_n: int, runs_n: int, tmp: Path) -> dict[str, Any]:
    from edge_nlu.cli.parse import MAX_LINE_BYTES
    from edge_nlu_tools.demo.offline import demo_home_path

    home = str(demo_home_path())
    t = Tally()
    seeds: list[Any] = [{"id": f"r{i}", "text": u, "context": fz.r.choice(CONTEXTS)} for i, u in enumerate(UTTERANCES)]
    lines: list[bytes] = []
    for i in range(lines_n):
        k = fz.r.random()
        if k < 0.7:
            raw = fz.payload(fz.r.choice(seeds))
        elif k < 0.8:
            raw = fz.encode({"id": f"L{i}", "text": fz.text(), "context": fz.mutate(fz.r.choice(CONTEXTS))})
        elif k < 0.9:
            raw = fz.encode({"id": f"L{i}", "text": (" ".join(UTTERANCES) * 4)[:fz.r.randint(0, 530)]})
        else:
            raw = fz.encode(fz.value())
        lines.append(raw.replace(b"\n", b" "))
    if lines_n >= 1000:
        lines.append(b'{"id": "huge", "text": "' + b"a" * (MAX_LINE_BYTES + 10) + b'"}')
    data = b"\n".join(lines) + b"\n"
    req = tmp / "fuzz.jsonl"
    req.write_bytes(data)
    expected = sum(1 for raw in data.split(b"\n")[:-1]
                   if len(raw) + 1 > MAX_LINE_BYTES or raw.decode("utf-8", "replace").strip())
    t.inputs["jsonl_lines"] += len(lines)
    t0 = time.monotonic()
    p = cli(["parse", "--home", home, "--jsonl", str(req)])
    log(f"  cli --jsonl: {len(lines)} lines in {time.monotonic() - t0:.0f} s")
    out = p.stdout.decode("utf-8", "replace").splitlines()
    if p.returncode != 0:
        t.fail("cli --jsonl", f"exit {p.returncode}", p.stderr[-500:])
    if b"Traceback" in p.stderr:
        t.fail("cli --jsonl", "traceback on stderr", p.stderr[-1500:])
    if len(out) != expected:
        t.fail("cli --jsonl", f"{len(out)} results for {expected} non-blank lines", p.stderr[-500:])
    for line in out:
        try:
            check_result(t, "cli --jsonl", json.loads(line), line[:300])
        except ValueError:
            t.fail("cli --jsonl", "output line is not JSON", line[:300])
    # whole invocations: hostile argv texts, context files and home files
    (tmp / "binary.json").write_bytes(bytes(range(256)) * 4)
    (tmp / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (tmp / "bomb.yaml").write_text(HOME_BOMB)
    (tmp / "loop.yaml").write_text("a: &a [*a]\nentities: *a\n")
    (tmp / "deep.yaml").write_text("entities:\n" + "  - " * 3000 + "x\n")
    (tmp / "nested.json").write_text('{"entities": ' + "[" * 5000 + "]" * 5000 + "}")
    (tmp / "surrogate.json").write_text(json.dumps({"entities": [{"id": "light.x", "name": "lamp\ud800"}]}))
    runs: list[tuple[list[str], str]] = [
        (["parse", "hi", "--home", home, "--context", f"@{tmp / 'binary.json'}"], "result"),
        (["parse", "hi", "--home", home, "--context", f"@{tmp / 'deep.json'}"], "result"),
        (["parse", "hi", "--context", "[" * 50_000], "result"),
        (["parse", "hi", "--context", '{"area": "Kitchen", "user": "\\ud800"}', "--home", home], "result"),
        (["parse", "hi", "--context", f"@{tmp / 'missing.json'}"], "result"),
        (["parse", "hi", "--home", str(tmp / "binary.json")], "error"),
        (["parse", "hi", "--home", str(tmp / "deep.json")], "error"),
        (["parse", "hi", "--home", str(tmp / "bomb.yaml")], "error"),
        (["parse", "hi", "--home", str(tmp / "loop.yaml")], "error"),
        (["parse", "hi", "--home", str(tmp / "deep.yaml")], "error"),
        (["parse", "hi", "--home", str(tmp / "nested.json")], "error"),
        (["parse", "turn on the lamp", "--home", str(tmp / "surrogate.json")], "result"),
    ]
    while len(runs) < runs_n:
        text = fz.text(700).replace("\x00", "")[:20_000]  # one argv string is at most 128 KiB (MAX_ARG_STRLEN)
        runs.append((["parse", text, "--home", home], "result"))
    for args, want in runs[:max(runs_n, 12)]:
        t.inputs["cli_runs"] += 1
        try:  # argv as bytes: a shell passes whatever bytes it has, including invalid UTF-8
            p = cli_bytes([a.encode("utf-8", "surrogatepass") for a in args], timeout=120)
        except subprocess.TimeoutExpired:
            t.fail("cli run", "timed out", args[:3])
            continue
        sample = [a[:80] for a in args]
        if b"Traceback" in p.stderr:
            t.fail("cli run", "traceback on stderr", (sample, p.stderr[-600:]))
        if want == "error":
            if p.returncode == 0 or b"edge-nlu: error [" not in p.stderr:
                t.fail("cli run", f"no clear error for {args[-1][-20:]}", (sample, p.stderr[-300:]))
            continue
        if p.returncode != 0:
            t.fail("cli run", f"exit {p.returncode}", (sample, p.stderr[-300:]))
            continue
        out = p.stdout.decode("utf-8", "replace").splitlines()
        if len(out) != 1:
            t.fail("cli run", f"{len(out)} result lines", sample)
            continue
        check_result(t, "cli run", json.loads(out[0]), sample)
    return t.report()


# -- main -------------------------------------------------------------------------------------------


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a few thousand inputs instead of over 100,000")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--parts", default="inproc,serve,cli", help="comma-separated: inproc, serve, cli")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every count (for a shorter or longer run)")
    ap.add_argument("--serve-log", type=Path, help="keep the service's log here")
    args = ap.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up the broker and the service
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    n = {k: max(1, int(v * args.scale)) for k, v in (QUICK if args.quick else FULL).items()}
    fz = Fuzzer(args.seed)
    report: dict[str, Any] = {"mode": "quick" if args.quick else "full", "seed": args.seed, "counts": n}
    ok = True
    total = 0
    t_start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="edge-nlu-fuzz-") as tmp_s:
        tmp = Path(tmp_s)
        if "inproc" in parts:
            log("(a) in-process")
            t0 = time.monotonic()
            a = run_inprocess(fz, n, tmp)
            a["seconds"] = round(time.monotonic() - t0, 1)
            report["a_inprocess"] = a
            total += a["total"]
            ok &= a["failures"] == 0
        if "serve" in parts:
            log("(b) serve over Mosquitto")
            t0 = time.monotonic()
            b = run_serve(fz, n["serve"], tmp, args.serve_log)
            b["seconds"] = round(time.monotonic() - t0, 1)
            report["b_serve"] = b
            total += b["fuzzed_messages"]
            ok &= (b["lost_answers"] == 0 and b["error_answers"] == 0 and b["tracebacks"] == 0 and b["alive_at_end"])
        if "cli" in parts:
            log("(c) CLI")
            t0 = time.monotonic()
            c = run_cli(fz, n["cli_lines"], n["cli_runs"], tmp)
            c["seconds"] = round(time.monotonic() - t0, 1)
            report["c_cli"] = c
            total += c["total"]
            ok &= c["failures"] == 0
    report["total_fuzzed_inputs"] = total
    report["seconds"] = round(time.monotonic() - t_start, 1)
    report["ok"] = ok
    print(json.dumps(report, indent=2, ensure_ascii=True))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
