"""`edge-nlu parse` as users and benchmarks call it (contract section 4), with the shipped model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edge_nlu.cli", *args], input=stdin, capture_output=True,
                          text=True, cwd=ROOT, timeout=120)


def test_single_request(home_file: Path) -> None:
    p = cli("parse", "turn off the lights in the kitchen", "--home", str(home_file))
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert len(lines) == 1
    r = json.loads(lines[0])
    assert set(r) == {"id", "text", "rewrite", "nlu", "action", "response", "error"}
    assert r["error"] is None
    assert r["action"]["intent"] == "HassTurnOff"
    assert r["action"]["targets"] == ["light.kitchen_ceiling"]


def test_context_argument(home_file: Path) -> None:
    ctx = {"area": "Bedroom", "satellite": {"id": "b", "has_screen": False}}
    p = cli("parse", "turn on the lights", "--home", str(home_file), "--context", json.dumps(ctx))
    r = json.loads(p.stdout)
    assert r["action"]["targets"] == ["light.bedroom_ceiling"]
    assert r["action"]["slots"]["area"] == "Bedroom"


def test_batch_goes_on_past_bad_lines(home_file: Path, tmp_path: Path) -> None:
    lines = [
        json.dumps({"id": "a", "text": "turn on the sofa lamp"}),
        "{broken json",
        json.dumps({"id": "b", "text": ""}),
        json.dumps({"id": "c", "text": "x" * 5000}),
        json.dumps({"id": "d", "text": "turn on the lights", "context": {"area": "Garage"}}),
        json.dumps([1, 2]),
        json.dumps({"id": "e", "text": "hello", "context": {"time": "noonish"}}),
        json.dumps({"id": "f", "text": 42}),
        "\x00\xff binary",
        json.dumps({"id": "g", "text": "turn off the sofa lamp"}),
    ]
    f = tmp_path / "req.jsonl"
    f.write_text("\n".join(lines) + "\n")
    p = cli("parse", "--home", str(home_file), "--jsonl", str(f))
    assert p.returncode == 0, p.stderr
    out = [json.loads(x) for x in p.stdout.splitlines()]
    assert len(out) == 10
    assert [r["id"] for r in out] == ["a", None, "b", "c", "d", None, "e", "f", None, "g"]
    codes = [r["error"]["code"] if r["error"] else None for r in out]
    assert codes == [None, "invalid_input", "empty_text", "text_too_long", "unknown_area",
                     "invalid_input", "invalid_context", "invalid_text", "invalid_input", None]
    assert out[0]["action"]["targets"] == ["light.sofa_lamp"]
    assert out[-1]["action"]["intent"] == "HassTurnOff"


def test_batch_from_stdin(home_file: Path) -> None:
    p = cli("parse", "--home", str(home_file), "--jsonl", "-", stdin=json.dumps({"id": 1, "text": "hi"}) + "\n")
    assert p.returncode == 0
    assert json.loads(p.stdout)["id"] == "1"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("parse", "hi", "--home", "/nonexistent/home.yaml"), "invalid_home"),
        (("parse", "hi", "--model", "/nonexistent"), "model_not_found"),
        (("parse",), "give a request text"),
    ],
)
def test_unusable_invocation_exits_nonzero_with_clear_message(args: tuple[str, ...], needle: str) -> None:
    p = cli(*args)
    assert p.returncode == 2
    assert needle in p.stderr
    assert p.stdout == ""


@pytest.mark.parametrize("context", ["{nope", "[1, 2]", "@/nonexistent/context.json"])
def test_a_bad_context_is_the_requests_error_result(context: str) -> None:
    p = cli("parse", "turn on the lights", "--context", context)
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert r["error"]["code"] == "invalid_context" and r["text"] == "turn on the lights"


def test_broken_home_file(tmp_path: Path) -> None:
    bad = tmp_path / "home.yaml"
    bad.write_text("entities: [")
    p = cli("parse", "hi", "--home", str(bad))
    assert p.returncode == 2
    assert "invalid_home" in p.stderr


def test_python_api_load() -> None:
    import edge_nlu

    nlu = edge_nlu.load()
    r = nlu.parse("what's the weather like tomorrow")
    assert r["nlu"]["intent"] == "weather_query"
    assert r["action"]["intent"] == "HassGetWeather"
    assert nlu.parse("   ")["error"]["code"] == "empty_text"


def test_a_reader_that_goes_away_ends_the_run_quietly() -> None:
    """`edge-nlu parse --jsonl ... | head -1`: no traceback, no error line, exit 0."""
    lines = "".join(json.dumps({"text": "turn off the kitchen lights"}) + "\n" for _ in range(300))
    proc = subprocess.Popen([sys.executable, "-m", "edge_nlu.cli", "parse", "--jsonl", "-"], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    proc.stdin.write(lines.encode())
    proc.stdin.close()
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert "error" not in err and "Traceback" not in err


def test_a_tool_command_without_the_tools_package_says_where_to_get_it(monkeypatch: pytest.MonkeyPatch,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """`demo` and `bench` live in edge-nlu-tools; a runtime-only install names the package, exit 2."""
    from edge_nlu.cli import main as cli_main

    monkeypatch.setattr(cli_main, "_plugins", list)  # as if no edge_nlu.commands entry point were installed
    assert cli_main.main(["demo", "--offline"]) == 2
    err = capsys.readouterr().err
    assert "error [missing_tool]" in err and "pip install ./tools" in err


def test_the_tools_plug_in_through_entry_points() -> None:
    from importlib.metadata import entry_points

    from edge_nlu.cli.main import PLUGIN_GROUP, build_parser

    assert {ep.name for ep in entry_points(group=PLUGIN_GROUP)} >= {"demo", "bench"}
    args = build_parser().parse_args(["bench", "--n", "5"])
    assert args.n == 5 and args.run.__module__ == "edge_nlu_tools.bench.cli"
