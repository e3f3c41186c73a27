"""packaging/: the health check, the add-on (options -> config, run script, discovery, config.yaml and
build.yaml), the systemd units and the Dockerfiles, as far as they run without Docker or a Pi.

Real sockets throughout: a tiny Wyoming server in a thread answers `describe` (written with the
wyoming package's own writer), a tiny HTTP server plays the Supervisor, and the run script runs under
bash with a fake `edge-nlu` on PATH that records its argv and answers one describe.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import socketserver
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from wyoming.event import Event, write_event

from tests.conftest import ROOT, load_script

pytestmark = pytest.mark.unit

PKG = ROOT / "packaging"
ADDON = PKG / "ha-addon" / "edge_nlu"
ROOTFS = ADDON / "rootfs"
UNITS = sorted((PKG / "systemd").glob("*.service"))
TOKEN = "s3cr3t-supervisor-token-do-not-log"  # noqa: S105 - a test value


def _load(name: str, path: Path) -> ModuleType:
    return load_script(path, name)


healthcheck = _load("healthcheck", PKG / "healthcheck.py")
options_to_config = _load("options_to_config", ROOTFS / "options_to_config.py")
discovery = _load("discovery", ROOTFS / "discovery.py")


def _service_port() -> int:
    """The Wyoming service's default port: the runtime's own constant where it is in the tree."""
    try:
        from edge_nlu.service.wyoming.settings import DEFAULT_PORT
    except ImportError:
        return int(healthcheck.DEFAULT_PORT)
    return int(DEFAULT_PORT)


PORT = _service_port()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- a tiny Wyoming server --------------------------------------------------------------------------

INFO_DATA = {"intent": [{"name": "edge-nlu", "description": "test", "installed": True, "version": "0.1.0",
                         "attribution": {"name": "edge-nlu", "url": ""},
                         "models": [{"name": "home", "languages": ["en"], "installed": True,
                                     "attribution": {"name": "edge-nlu", "url": ""}, "description": None,
                                     "version": None}]}]}


class _WyomingHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        server: Any = self.server
        line = self.rfile.readline(65536)
        server.seen.append(json.loads(line) if line.strip() else None)
        server.answer(self.wfile)


class _Wyoming(socketserver.ThreadingTCPServer):
    daemon_threads = True

    def __init__(self, answer: Callable[[Any], None]) -> None:
        super().__init__(("127.0.0.1", 0), _WyomingHandler)
        self.answer = answer
        self.seen: list[Any] = []
        self.port = int(self.server_address[1])


@pytest.fixture
def wyoming_server() -> Iterator[Callable[[Callable[[Any], None]], _Wyoming]]:
    """Start a server whose answer to any first line is `answer(wfile)`."""
    servers: list[_Wyoming] = []

    def start(answer: Callable[[Any], None]) -> _Wyoming:
        srv = _Wyoming(answer)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def _info(wfile: Any) -> None:
    write_event(Event(type="info", data=INFO_DATA, payload=b"\x00payload"), wfile)


# --- the health check -------------------------------------------------------------------------------

def test_healthcheck_passes_on_an_info_answer(wyoming_server: Any, capsys: pytest.CaptureFixture[str]) -> None:
    port = wyoming_server(_info).port
    assert healthcheck.main(["--port", str(port), "--require", "intent"]) == 0
    assert "healthy" in capsys.readouterr().out
    data = healthcheck.check("127.0.0.1", port, 2.0, "intent")
    assert data["intent"][0]["name"] == "edge-nlu"  # the data block (data_length) was merged in


def test_healthcheck_sends_a_describe_event(wyoming_server: Any) -> None:
    srv = wyoming_server(_info)
    healthcheck.check("127.0.0.1", srv.port, 2.0)
    assert [e["type"] for e in srv.seen] == ["describe"]


def test_healthcheck_script_runs_standalone(wyoming_server: Any) -> None:
    """As the image runs it: its own interpreter, no edge_nlu, exit status only."""
    port = wyoming_server(_info).port
    env = {"PATH": os.environ.get("PATH", ""), "EDGE_NLU_PORT": str(port)}
    ok = subprocess.run([sys.executable, "-I", str(PKG / "healthcheck.py"), "--quiet", "--require", "intent"],
                        env=env, capture_output=True, text=True, timeout=30)
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, "", "")


def test_healthcheck_fails_when_nothing_listens(capsys: pytest.CaptureFixture[str]) -> None:
    assert healthcheck.main(["--port", str(_free_port()), "--timeout", "2"]) == 1
    assert "cannot connect" in capsys.readouterr().err


@pytest.mark.parametrize(("answer", "why"), [
    (lambda w: write_event(Event(type="error", data={"text": "no"}), w), "expected an info event, got 'error'"),
    (lambda w: w.write(b"HTTP/1.1 400 Bad Request\r\n\r\n"), "not JSON"),
    (lambda w: w.write(b'["info"]\n'), "no type"),
    (lambda w: None, "closed the connection"),
    (lambda w: write_event(Event(type="info", data={"asr": []}), w), "no installed intent program"),
    (lambda w: w.write(b'{"type": "info", "data_length": -4}\n'), "bad data_length"),
    (lambda w: w.write(b'{"type": "info", "data_length": 10}\n{"a": '), "closed the connection"),
])
def test_healthcheck_fails_on_a_wrong_answer(wyoming_server: Any, capsys: pytest.CaptureFixture[str],
                                             answer: Callable[[Any], None], why: str) -> None:
    port = wyoming_server(answer).port
    assert healthcheck.main(["--port", str(port), "--timeout", "2", "--require", "intent"]) == 1
    assert why in capsys.readouterr().err


def test_healthcheck_gives_up_on_a_silent_service(wyoming_server: Any, capsys: pytest.CaptureFixture[str]) -> None:
    release = threading.Event()
    port = wyoming_server(lambda w: release.wait(10)).port
    try:
        assert healthcheck.main(["--port", str(port), "--timeout", "0.3"]) == 1
    finally:
        release.set()
    assert "timed out" in capsys.readouterr().err


# --- the add-on's options -> config -----------------------------------------------------------------

GOOD_OPTIONS = {"log_level": "debug", "live_state": True, "min_confidence": 0.6,
                "satellites": [{"id": "assist_satellite.kitchen_voice", "area": "Kitchen"},
                               {"id": "9f2c: 'odd' id", "area": "Salle de séjour"}]}


def _convert(tmp_path: Path, options: Any, env: dict[str, str] | None = None,
             raw: str | None = None) -> subprocess.CompletedProcess[str]:
    src, dst = tmp_path / "options.json", tmp_path / "edge-nlu.yaml"
    src.write_text(raw if raw is not None else json.dumps(options), encoding="utf-8")
    return subprocess.run([sys.executable, "-I", str(ROOTFS / "options_to_config.py"), str(src), str(dst)],
                          env={"PATH": os.environ.get("PATH", ""), **(env or {})},
                          capture_output=True, text=True, timeout=30)


def test_options_become_a_config(tmp_path: Path) -> None:
    done = _convert(tmp_path, GOOD_OPTIONS, {"SUPERVISOR_TOKEN": TOKEN})
    assert (done.returncode, done.stdout, done.stderr) == (0, "DEBUG\n", "")
    config = yaml.safe_load((tmp_path / "edge-nlu.yaml").read_text(encoding="utf-8"))
    assert config == {
        "min_confidence": 0.6,
        "satellites": {"assist_satellite.kitchen_voice": {"area": "Kitchen"},
                       "9f2c: 'odd' id": {"area": "Salle de séjour"}},
        "home_assistant": {"url": "ws://supervisor/core/websocket", "token_env": "SUPERVISOR_TOKEN"},
    }
    assert TOKEN not in (tmp_path / "edge-nlu.yaml").read_text(encoding="utf-8")


def test_the_config_is_one_the_service_accepts(tmp_path: Path) -> None:
    """Read by the runtime's own settings classes, where they are in the tree."""
    settings = pytest.importorskip("edge_nlu.service.wyoming.settings")
    ha_settings = pytest.importorskip("edge_nlu.service.ha_settings")
    assert _convert(tmp_path, GOOD_OPTIONS, {"SUPERVISOR_TOKEN": TOKEN}).returncode == 0
    s = settings.load_wyoming_settings(None, tmp_path / "edge-nlu.yaml")
    assert s.min_confidence == 0.6
    assert s.satellites["assist_satellite.kitchen_voice"].area == "Kitchen"
    ha = s.home_assistant
    if not isinstance(ha, ha_settings.HomeAssistantSettings):  # read where the service starts
        ha = ha_settings.HomeAssistantSettings.from_dict(ha)
    assert ha.url == "ws://supervisor/core/websocket"
    assert ha.read_token({"SUPERVISOR_TOKEN": TOKEN}) == TOKEN


def test_live_state_off_and_no_satellites(tmp_path: Path) -> None:
    opts = {"log_level": "warning", "live_state": False, "min_confidence": 1}
    done = _convert(tmp_path, opts)
    assert (done.returncode, done.stdout) == (0, "WARNING\n")
    assert yaml.safe_load((tmp_path / "edge-nlu.yaml").read_text(encoding="utf-8")) == {"min_confidence": 1.0}


@pytest.mark.parametrize(("change", "message"), [
    ({"log_level": None}, "log_level: missing"),
    ({"live_state": None}, "live_state: missing"),
    ({"min_confidence": "0.5"}, 'min_confidence: expected a number, got str "0.5"'),
    ({"min_confidence": True}, "min_confidence: expected a number, got bool true"),
    ({"min_confidence": 1.5}, "min_confidence: 1.5 is outside 0..1"),
    ({"live_state": "yes"}, 'live_state: expected true or false, got str "yes"'),
    ({"log_level": "loud"}, 'log_level: "loud" is not one of debug, info, warning, error'),
    ({"satellites": {"a": "Kitchen"}}, 'satellites: expected a list, got dict {"a": "Kitchen"}'),
    ({"satellites": ["kitchen"]}, 'satellites[0]: expected {id, area}, got str "kitchen"'),
    ({"satellites": [{"id": 3, "area": "Kitchen"}]}, "satellites[0].id: expected a string, got int 3"),
    ({"satellites": [{"id": "a"}]}, "satellites[0].area: missing"),
    ({"satellites": [{"id": "a", "area": " "}]}, "satellites[0].area: empty"),
    ({"satellites": [{"id": "a", "area": "K", "room": "x"}]}, "satellites[0]: unknown key(s) room (known: id, area)"),
    ({"satellites": [{"id": "a", "area": "K"}, {"id": "a", "area": "L"}]}, 'satellites[1].id: "a" is listed twice'),
    ({"volume": 3}, "unknown option(s): volume (known: log_level, live_state, min_confidence, satellites)"),
])
def test_bad_options_are_one_clear_line(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    opts = {**GOOD_OPTIONS, **change}
    opts = {k: v for k, v in opts.items() if v is not None}
    done = _convert(tmp_path, opts, {"SUPERVISOR_TOKEN": TOKEN})
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == f"edge-nlu add-on: bad options: {message}\n"
    assert not (tmp_path / "edge-nlu.yaml").exists()


def test_live_state_needs_the_supervisor_token(tmp_path: Path) -> None:
    done = _convert(tmp_path, GOOD_OPTIONS)
    assert done.returncode == 2
    assert "live_state: on, but $SUPERVISOR_TOKEN is not set" in done.stderr


@pytest.mark.parametrize(("raw", "message"), [("{not json", "is not JSON"), ("[1, 2]", "not an object (got list)")])
def test_unreadable_options(tmp_path: Path, raw: str, message: str) -> None:
    done = _convert(tmp_path, None, raw=raw)
    assert done.returncode == 2 and message in done.stderr


def test_missing_options_file(tmp_path: Path) -> None:
    assert options_to_config.main([str(tmp_path / "nope.json"), str(tmp_path / "out.yaml")]) == 2
    assert options_to_config.main([]) == 2


# --- the add-on's config.yaml and build.yaml --------------------------------------------------------

def _addon_config() -> dict[str, Any]:
    data = yaml.safe_load((ADDON / "config.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _matches_schema(value: Any, schema: Any) -> bool:
    """The parts of the Supervisor's option schema language this add-on uses."""
    if isinstance(schema, list):
        return isinstance(value, list) and all(_matches_schema(v, schema[0]) for v in value)
    if isinstance(schema, dict):
        keys = {k.rstrip("?"): v for k, v in schema.items()}
        required = {k for k in schema if not k.endswith("?")}
        return (isinstance(value, dict) and required <= set(value) <= set(keys)
                and all(_matches_schema(v, keys[k]) for k, v in value.items()))
    schema = schema.rstrip("?")
    if schema == "bool":
        return isinstance(value, bool)
    if schema == "str":
        return isinstance(value, str)
    if m := re.fullmatch(r"float\(([\d.]*),([\d.]*)\)", schema):
        lo, hi = (float(x) if x else None for x in m.groups())
        return (isinstance(value, (int, float)) and not isinstance(value, bool)
                and (lo is None or value >= lo) and (hi is None or value <= hi))
    if m := re.fullmatch(r"list\(([^)]*)\)", schema):
        return value in m.group(1).split("|")
    raise AssertionError(f"schema type {schema!r} is not one this test knows")


def test_addon_config_has_what_home_assistant_needs() -> None:
    c = _addon_config()
    for key in ("name", "version", "slug", "description", "arch", "options", "schema", "ports"):
        assert c.get(key), key
    assert isinstance(c["version"], str)
    assert re.fullmatch(r"[a-z0-9_]+", c["slug"])
    assert sorted(c["arch"]) == ["aarch64", "amd64"]
    assert c["discovery"] == ["wyoming"]
    assert c["homeassistant_api"] is True  # SUPERVISOR_TOKEN for the WebSocket API
    assert c["ports"] == {f"{PORT}/tcp": PORT}
    assert c["watchdog"] == f"tcp://[HOST]:[PORT:{PORT}]"


def test_addon_schema_options_and_script_agree() -> None:
    c = _addon_config()
    assert set(c["options"]) == set(c["schema"]), "every option needs a schema entry and the other way round"
    assert set(c["schema"]) == set(options_to_config.OPTIONS), "options_to_config.py must know every option"
    for key, value in c["options"].items():
        assert _matches_schema(value, c["schema"][key]), (key, value, c["schema"][key])
    assert c["schema"]["log_level"] == f"list({'|'.join(options_to_config.LOG_LEVELS)})"
    assert list(c["schema"]["satellites"][0]) == list(options_to_config.SATELLITE_KEYS)
    # the defaults are options the script accepts
    config, level = options_to_config.to_config(c["options"], {"SUPERVISOR_TOKEN": TOKEN})
    assert level == "INFO" and config["home_assistant"]["token_env"] == "SUPERVISOR_TOKEN"
    # a translation (the options' labels in HA's UI) for every option
    en = yaml.safe_load((ADDON / "translations" / "en.yaml").read_text(encoding="utf-8"))
    assert set(en["configuration"]) == set(c["schema"])


def test_build_yaml_covers_every_arch() -> None:
    build = yaml.safe_load((ADDON / "build.yaml").read_text(encoding="utf-8"))
    assert set(build["build_from"]) == set(_addon_config()["arch"]) == {"aarch64", "amd64"}
    for image in build["build_from"].values():
        assert image.endswith("python:3.11-slim-bookworm"), image  # glibc: onnxruntime has no musl wheels


# --- the add-on's discovery ------------------------------------------------------------------------

class _Supervisor(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        server: Any = self.server
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        server.posts.append((self.path, self.headers["Authorization"], body))
        reply = json.dumps({"result": "ok", "data": {"uuid": "abc123"}}).encode()
        self.send_response(server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)
        server.posted.set()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def supervisor() -> Iterator[Any]:
    srv: Any = HTTPServer(("127.0.0.1", 0), _Supervisor)
    srv.posts, srv.status, srv.posted = [], 200, threading.Event()
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_discovery_announces_once_the_service_answers(wyoming_server: Any, supervisor: Any,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    port = wyoming_server(_info).port
    monkeypatch.setenv("SUPERVISOR_TOKEN", TOKEN)
    monkeypatch.setattr(discovery, "SUPERVISOR_URL", supervisor.url)
    assert discovery.main(["--port", str(port), "--wait", "5"]) == 0
    uri = f"tcp://{socket.gethostname()}:{port}"
    assert supervisor.posts == [("/discovery", f"Bearer {TOKEN}", {"service": "wyoming", "config": {"uri": uri}})]
    err = capsys.readouterr().err
    assert f"announced {uri}" in err and "abc123" in err and TOKEN not in err


def test_discovery_refused_is_logged_without_the_token(wyoming_server: Any, supervisor: Any,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    port = wyoming_server(_info).port
    supervisor.status = 401
    monkeypatch.setenv("SUPERVISOR_TOKEN", TOKEN)
    monkeypatch.setattr(discovery, "SUPERVISOR_URL", supervisor.url)
    assert discovery.main(["--port", str(port), "--wait", "5"]) == 1
    err = capsys.readouterr().err
    assert "HTTP 401" in err and TOKEN not in err


def test_discovery_outside_an_addon_does_nothing(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("SUPERVISOR_TOKEN", raising=False)
    assert discovery.main(["--port", str(_free_port())]) == 0
    assert "not running as an add-on" in capsys.readouterr().err


def test_discovery_gives_up_when_the_service_never_answers(monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SUPERVISOR_TOKEN", TOKEN)
    assert discovery.main(["--port", str(_free_port()), "--wait", "0.2"]) == 1
    assert "did not answer" in capsys.readouterr().err


# --- the add-on's run script ------------------------------------------------------------------------

FAKE_EDGE_NLU = """#!{python}
# Records its argv, then answers one Wyoming describe on the --uri port, as the service would.
import json, socket, sys
from urllib.parse import urlsplit
open({argv_file!r}, "w").write(json.dumps(sys.argv[1:]))
uri = sys.argv[sys.argv.index("--uri") + 1]
srv = socket.create_server(("127.0.0.1", urlsplit(uri).port))
srv.settimeout(30)
conn, _ = srv.accept()
conn.makefile("rb").readline()
data = json.dumps({info!r}).encode()
conn.sendall(json.dumps({{"type": "info", "data_length": len(data)}}).encode() + b"\\n" + data)
conn.close()
"""


def test_run_script_is_valid_bash() -> None:
    for script in (ADDON / "run.sh", PKG / "ha-addon" / "prepare.sh"):
        subprocess.run(["bash", "-n", str(script)], check=True, timeout=30)
        assert script.stat().st_mode & stat.S_IXUSR, f"{script} is not executable"


def _stage_addon(tmp_path: Path) -> Path:
    """What the image holds in /usr/local/lib/edge-nlu-addon (prepare.sh stages healthcheck.py)."""
    lib = tmp_path / "addon-lib"
    shutil.copytree(ROOTFS, lib, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PKG / "healthcheck.py", lib / "healthcheck.py")
    return lib


def _run_addon(tmp_path: Path, options: dict[str, Any], env: dict[str, str]) -> tuple[int, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "edge-nlu"
    fake.write_text(FAKE_EDGE_NLU.format(python=sys.executable, argv_file=str(tmp_path / "argv.json"),
                                         info=INFO_DATA), encoding="utf-8")
    fake.chmod(0o755)
    (tmp_path / "options.json").write_text(json.dumps(options), encoding="utf-8")
    log = tmp_path / "run.log"
    with log.open("w") as out:
        done = subprocess.run(["bash", str(ADDON / "run.sh")], stdout=out, stderr=subprocess.STDOUT, timeout=60,
                              env={"PATH": f"{bin_dir}:{os.environ.get('PATH', '')}",
                                   "EDGE_NLU_ADDON_DIR": str(_stage_addon(tmp_path)),
                                   "EDGE_NLU_OPTIONS": str(tmp_path / "options.json"),
                                   "EDGE_NLU_CONFIG": str(tmp_path / "edge-nlu.yaml"),
                                   "EDGE_NLU_PYTHON": sys.executable, **env})
    return done.returncode, log.read_text(encoding="utf-8")


def test_run_script_starts_the_service_with_the_generated_config(tmp_path: Path, supervisor: Any) -> None:
    port = _free_port()
    code, log = _run_addon(tmp_path, GOOD_OPTIONS, {"SUPERVISOR_TOKEN": TOKEN, "SUPERVISOR_URL": supervisor.url,
                                                    "EDGE_NLU_PORT": str(port)})
    assert code == 0, log
    argv = json.loads((tmp_path / "argv.json").read_text(encoding="utf-8"))
    assert argv == ["wyoming", "--uri", f"tcp://0.0.0.0:{port}", "--config", str(tmp_path / "edge-nlu.yaml"),
                    "--log-level", "DEBUG"]
    assert yaml.safe_load((tmp_path / "edge-nlu.yaml").read_text(encoding="utf-8"))["home_assistant"]["token_env"] \
        == "SUPERVISOR_TOKEN"
    # the announcer, left running in the background, posts once the (fake) service has answered
    assert supervisor.posted.wait(30), "no discovery message reached the Supervisor"
    assert supervisor.posts[0][2] == {"service": "wyoming", "config": {"uri": f"tcp://{socket.gethostname()}:{port}"}}
    assert TOKEN not in log and TOKEN not in " ".join(argv)


def test_run_script_default_port_is_the_service_port() -> None:
    text = (ADDON / "run.sh").read_text(encoding="utf-8")
    assert f'PORT="${{EDGE_NLU_PORT:-{PORT}}}"' in text
    assert healthcheck.DEFAULT_PORT == PORT


def test_run_script_stops_on_bad_options(tmp_path: Path) -> None:
    code, log = _run_addon(tmp_path, {**GOOD_OPTIONS, "min_confidence": "high"}, {"SUPERVISOR_TOKEN": TOKEN})
    assert code == 2
    assert 'bad options: min_confidence: expected a number, got str "high"' in log
    assert not (tmp_path / "argv.json").exists(), "edge-nlu must not start on bad options"


# --- systemd units ----------------------------------------------------------------------------------

def _unit(path: Path) -> dict[str, list[str]]:
    """key -> values (a key may repeat) of a unit file, comments left out."""
    out: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            out.setdefault(key.strip(), []).append(value.strip())
    return out


@pytest.mark.parametrize("unit", UNITS, ids=[u.name for u in UNITS])
def test_unit_runs_unprivileged_and_hardened(unit: Path) -> None:
    u = _unit(unit)
    assert u["User"] == ["edge-nlu"] and u["Group"] == ["edge-nlu"]
    for key, value in {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
                       "PrivateTmp": "yes", "PrivateDevices": "yes", "CapabilityBoundingSet": "",
                       "RestrictSUIDSGID": "yes", "UMask": "0077"}.items():
        assert u.get(key) == [value], key
    exec_start = shlex.split(u["ExecStart"][0])
    assert exec_start[0] == "/opt/edge-nlu/bin/edge-nlu"
    assert "--config" in exec_start and exec_start[exec_start.index("--config") + 1].startswith("/etc/edge-nlu/")
    assert not any("token" in a.lower() or "password" in a.lower() for a in exec_start), "secrets never in argv"


def test_wyoming_unit_listens_on_the_service_port_and_loads_the_token() -> None:
    u = _unit(PKG / "systemd" / "edge-nlu-wyoming.service")
    assert f"--uri tcp://0.0.0.0:{PORT}" in u["ExecStart"][0]
    assert u["LoadCredential"] == ["ha-token:/etc/edge-nlu/ha-token"]
    # the path docs/packaging.md tells the config to name
    docs = (ROOT / "docs" / "packaging.md").read_text(encoding="utf-8")
    assert "token_file: /run/credentials/edge-nlu-wyoming.service/ha-token" in docs


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
@pytest.mark.parametrize("unit", UNITS, ids=[u.name for u in UNITS])
def test_systemd_analyze_verify(unit: Path, tmp_path: Path) -> None:
    """`systemd-analyze verify` checks every key; it also wants ExecStart to exist, so that points at a stub."""
    stub = tmp_path / "edge-nlu"
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    copy = tmp_path / unit.name
    copy.write_text(unit.read_text(encoding="utf-8").replace("/opt/edge-nlu/bin/edge-nlu", str(stub)))
    done = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path)
    ours = [line for line in (done.stdout + done.stderr).splitlines() if unit.name in line]
    # verify exits 0 on unknown keys and bad values but names them (with the file) on stderr
    assert done.returncode == 0 and not ours, done.stdout + done.stderr


# --- Dockerfiles ------------------------------------------------------------------------------------

def _instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined and comments left out."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        word, _, rest = line.partition(" ")
        out.append((word.upper(), " ".join(rest.split())))
    assert not pending, f"{path}: a continuation runs off the end"
    return out


def _final_stage(ins: list[tuple[str, str]]) -> list[tuple[str, str]]:
    last = max(i for i, (word, _) in enumerate(ins) if word == "FROM")
    return ins[last:]


RUNTIME_ONLY = re.compile(r"torch|transformers|optimum|\bonnx\b|\[[^\]]*\b(export|dev)\b")
PIP_INSTALL = re.compile(r"pip install ([^;&|]*)")
"""The arguments of each `pip install` in a RUN line (the guard that `pip show`s torch is no install)."""
ARCH_SPECIFIC = re.compile(r"uname|TARGETARCH|TARGETPLATFORM|dpkg --print-architecture|aarch64|arm64|amd64|x86_64")


def test_dockerfile_builds_the_runtime_only() -> None:
    ins = _instructions(PKG / "docker" / "Dockerfile")
    args = dict(a.split("=", 1) for w, a in ins if w == "ARG" and "=" in a)
    froms = [a.split()[0] for w, a in ins if w == "FROM"]
    assert froms and all(f in ("${PYTHON_IMAGE}", "python:3.11-slim-bookworm") for f in froms)
    assert args["PYTHON_IMAGE"] == "python:3.11-slim-bookworm"
    runs = [a for w, a in ins if w == "RUN"]
    installs = [a.strip() for r in runs for a in PIP_INSTALL.findall(r)]
    assert installs == ['".[zeroconf]"'], installs
    assert not [a for a in installs if RUNTIME_ONLY.search(a)], "the runtime image takes no export/dev deps"
    assert not [r for r in runs if ARCH_SPECIFIC.search(r)], "no architecture-specific step"


def test_dockerfile_runs_unprivileged_with_a_wyoming_health_check() -> None:
    final = _final_stage(_instructions(PKG / "docker" / "Dockerfile"))
    users = [a for w, a in final if w == "USER"]
    assert users and users[-1] not in ("root", "0") and not users[-1].startswith(("root:", "0:"))
    assert ("EXPOSE", str(PORT)) in final
    health = [a for w, a in final if w == "HEALTHCHECK"]
    assert len(health) == 1 and "CMD" in health[0] and "edge-nlu-healthcheck" in health[0]
    assert ("ENV", f"PATH=/opt/edge-nlu/bin:$PATH PYTHONUNBUFFERED=1 EDGE_NLU_PORT={PORT}") in final
    entry = json.loads(dict(final)["ENTRYPOINT"])
    assert entry == ["edge-nlu", "wyoming"]
    assert json.loads(dict(final)["CMD"]) == ["--uri", f"tcp://0.0.0.0:{PORT}"]


def _dockerignore_allows(path: str, patterns: list[str]) -> bool:
    """The root .dockerignore's verdict on a context path (last matching pattern wins; `*` is one level)."""
    allowed = True
    for pattern in patterns:
        negate = pattern.startswith("!")
        pat = pattern[1:] if negate else pattern
        pat = pat.rstrip("/")
        rx = re.escape(pat).replace(r"\*\*/", "(?:.*/)?").replace(r"\*", "[^/]*")
        if re.fullmatch(rx + "(?:/.*)?", path):
            allowed = negate
    return allowed


def test_dockerignore_lets_in_exactly_what_the_image_copies() -> None:
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
                if line.strip() and not line.startswith("#")]
    ins = _instructions(PKG / "docker" / "Dockerfile")
    sources = [a.split()[:-1] for w, a in ins if w == "COPY" and "--from" not in a]
    for src in (s for group in sources for s in group):
        assert (ROOT / src).exists(), src
        assert _dockerignore_allows(src, patterns), f".dockerignore keeps {src} out of the context"
    for kept_out in (".venv/bin/python", ".git/HEAD", "tests/test_cli.py", "export/generate.py",
                     "edge_nlu/__pycache__/x.pyc", "tools/pyproject.toml"):
        assert not _dockerignore_allows(kept_out, patterns), kept_out
    assert _dockerignore_allows("models/home/model.onnx", patterns)


def test_runtime_dependencies_have_no_training_stack() -> None:
    """What `pip install ".[zeroconf]"` asks for at the top; the closure is checked in docs/packaging.md."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["zeroconf"]]
    assert not [r for r in wanted if RUNTIME_ONLY.search(r)]
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    assert "*.onnx" in data["package-data"]["edge_nlu.models.home"], "the shipped model is package data"


def test_addon_dockerfile() -> None:
    ins = _instructions(ADDON / "Dockerfile")
    assert ins[0][0] == "ARG" and ins[0][1].startswith("BUILD_FROM")
    assert ("FROM", "${BUILD_FROM}") in ins
    runs = " ".join(a for w, a in ins if w == "RUN")
    assert [a.strip() for a in PIP_INSTALL.findall(runs)] == ["/tmp/wheels/edge_nlu-*.whl"]
    assert ("EXPOSE", str(PORT)) in ins
    assert any(w == "HEALTHCHECK" and "healthcheck.py" in a for w, a in ins)
    assert json.loads(dict(ins)["CMD"]) == ["/run.sh"]
    for w, a in ins:
        if w == "COPY":
            src = a.split()[0]
            assert (ADDON / src).exists() or src == "wheels/", src  # wheels/ is staged by prepare.sh

