"""Bad and extreme input never silences the runtime (issue 10, items 2 and 3).

Long requests are read (context truncated first, then the text), never refused with a
traceback; lone UTF-16 surrogates anywhere become U+FFFD at the wire, so every answer still
encodes; deep nesting, binary files and hostile home files give clear errors.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_nlu.cli.parse import run_batch
from edge_nlu.domain.home import Home
from edge_nlu.domain.live_home import LiveHome
from edge_nlu.errors import HomeError
from edge_nlu.model.runner import MAX_LEN
from edge_nlu.pipeline import EdgeNLU, load
from edge_nlu.sanitize import clean, clean_text, loads
from edge_nlu.service.adapters._common import parse_json, split_topic
from edge_nlu.service.adapters.registry import build_adapters
from edge_nlu.service.hermes import QueryError, intent_reply, not_recognized, parse_query
from tests.conftest import ROOT

KEYS = {"id", "text", "rewrite", "nlu", "action", "response", "error"}
WORDS = ["turn", "on", "the", "kitchen", "lights", "and", "then", "please", "dim", "bedroom", "lamp", "to",
         "thirty", "percent", "what", "is", "temperature", "x.", "supercalifragilistic", "é", "😀"]
ANY_CHAR = st.characters(codec=None, categories=["L", "M", "N", "P", "S", "Z", "C"])  # surrogates included
CONTEXT = {"area": "Kitchen", "satellite": {"id": "kitchen-puck", "has_screen": False},
           "history": [{"text": "turn on the oven", "action": {"intent": "HassTurnOn", "targets": ["switch.oven"]}}],
           "state_overrides": {"switch.oven": {"state": "on"}}}
PROPS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                           HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def nlu() -> EdgeNLU:
    return load()


def utf8(value: Any) -> bytes:
    """How answers leave the process (MQTT publish, stdout): strict UTF-8 JSON."""
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def check(r: dict[str, Any]) -> None:
    assert set(r) == KEYS
    utf8(r)
    if r["error"] is None:
        assert r["nlu"] is not None
        for s in r["nlu"]["slots"]:
            assert r["text"][s["start"]:s["end"]] == s["value"]
    else:
        assert r["error"]["code"] != "internal_error", r["error"]


# -- 2. long requests ----------------------------------------------------------------------------

@PROPS
@given(data=st.data(), with_context=st.booleans())
def test_every_length_up_to_the_cap_gets_a_reading(nlu: EdgeNLU, home: Home, data: st.DataObject,
                                                    with_context: bool) -> None:
    cap = nlu.settings.max_text_chars
    n = data.draw(st.integers(0, cap))
    words = data.draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=cap))
    text = " ".join(words)[:n]
    r = nlu.parse(text, CONTEXT if with_context else None, home=home)
    check(r)
    if text.strip():
        assert r["error"] is None
        assert r["text"] == text.strip()
    else:
        assert r["error"]["code"] == "empty_text"


@pytest.mark.parametrize("text", ["x." * 115, "a " * 200, "turn on the kitchen lights and " * 16, "?" * 512])
@pytest.mark.parametrize("context", [None, CONTEXT])
def test_long_run_on_requests_are_read_not_refused(nlu: EdgeNLU, home: Home, text: str, context: Any) -> None:
    r = nlu.parse(text, context, home=home)
    check(r)
    assert r["error"] is None


def test_context_gives_way_before_the_text(nlu: EdgeNLU) -> None:
    segment = "room kitchen | screen no | active oven on , kettle on | before turn on the oven > turn on switch"
    short = nlu.model.encode("turn on the lights", segment)
    assert len(short.ids) <= MAX_LEN and 1 in short.type_ids  # fits: both segments whole
    text = "turn on the lights " * 12  # ~48 tokens: only part of the context fits
    enc = nlu.model.encode(text, segment)
    assert len(enc.ids) == MAX_LEN
    alone = nlu.model.tok.encode(text, add_special_tokens=False)
    assert [i for i, t in zip(enc.ids, enc.type_ids, strict=True) if t == 0][1:-1] == alone.ids  # text whole
    assert 1 in enc.type_ids
    longer = nlu.model.encode("turn on the lights " * 30, segment)  # the text alone is over: no context
    assert len(longer.ids) == MAX_LEN and set(longer.type_ids) == {0}


def test_slots_in_the_kept_part_keep_their_offsets(nlu: EdgeNLU, home: Home) -> None:
    text = "turn off the kitchen lights " + "and also the other things over there " * 12
    r = nlu.parse(text, {"area": "Kitchen"}, home=home)
    check(r)
    assert r["error"] is None and r["nlu"]["slots"]
    assert all(s["end"] <= 40 for s in r["nlu"]["slots"])  # all in the kept (first) part


# -- 3. lone surrogates ----------------------------------------------------------------------------

def test_clean_text_and_json() -> None:
    assert clean_text("a\ud800b\udfff") == "a\ufffdb\ufffd"
    assert clean_text("\ud83d\ude00 ok") == "\ufffd\ufffd ok"  # an unpaired *pair* in a str is two lone halves
    assert clean({"\ud800": ["\udc00", 1.5, float("nan")]}) == {"\ufffd": ["\ufffd", 1.5, None]}
    assert loads(b'{"a": "\\ud800", "b": "\\ud83d\\ude00"}') == {"a": "\ufffd", "b": "\U0001f600"}
    for bad in (b"\xed\xa0\x80", b"[NaN]", b"[" * 5000, b'{"a":' * 40 + b"1" + b"}" * 40):
        with pytest.raises(ValueError):
            loads(bad)


@PROPS
@given(text=st.text(ANY_CHAR, max_size=80), sid=st.text(ANY_CHAR, max_size=20), user=st.text(ANY_CHAR, max_size=20))
def test_surrogates_anywhere_in_a_request_still_give_an_answer(nlu: EdgeNLU, home: Home, text: str, sid: str,
                                                               user: str) -> None:
    ctx = {"area": "Kitchen", "user": user, "satellite": {"id": sid},
           "history": [{"text": text, "action": {"intent": "HassTurnOn", "targets": ["light.sofa_lamp"],
                                                 "slots": {"name": user}}}]}
    r = nlu.parse(text, ctx, id=sid, home=home)
    check(r)
    assert r["id"] == clean_text(sid)


@PROPS
@given(text=st.text(ANY_CHAR, max_size=60), site=st.text(ANY_CHAR, min_size=1, max_size=20),
       qid=st.text(ANY_CHAR, max_size=20), ascii_only=st.booleans())
def test_hermes_query_with_surrogates_or_controls(nlu: EdgeNLU, text: str, site: str, qid: str,
                                                  ascii_only: bool) -> None:
    body = {"input": text, "siteId": site, "id": qid, "sessionId": qid, "intentFilter": [text]}
    payload = json.dumps(body, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    try:
        q = parse_query(payload)
    except QueryError as exc:
        utf8(not_recognized(exc.partial, exc.message))
        return
    for value in (q.input, q.site_id, q.id, q.session_id):
        assert value is None or isinstance(value.encode("utf-8"), bytes)
    assert split_topic(f"edge-nlu/result/{q.site_id}") is not None  # the answer topic is one a broker takes
    typed = nlu.parse_result(q.input, {"satellite": {"id": q.site_id}}, q.id)
    check(typed.to_dict())
    topic, reply = intent_reply(q, typed)
    utf8(reply)
    topic.encode("utf-8")


@pytest.mark.parametrize("site", ["kitchen\x01", "a\x7fb", "x\ufffe", "\U0010ffff", "tab\there", "a/b", "#"])
def test_site_ids_a_broker_would_refuse_are_rejected(site: str) -> None:
    with pytest.raises(QueryError) as err:
        parse_query(json.dumps({"input": "hi", "siteId": site, "id": "1"}).encode())
    assert "siteId" not in err.value.partial  # so nothing is published on a topic made from it


def test_a_bad_device_name_does_not_silence_queries_about_it(nlu: EdgeNLU) -> None:
    z2m = build_adapters(["zigbee2mqtt"])[0]
    devices = [{"friendly_name": "porch lamp\ud800", "ieee_address": "0x1", "definition": {"exposes": [
        {"type": "light", "features": [{"name": "state", "property": "state"}]}]}}]
    live = LiveHome()
    for payload in (json.dumps(devices).encode(),  # the escape `\ud800`
                    json.dumps(devices, ensure_ascii=False).encode("utf-8", "surrogatepass")):  # raw, not UTF-8
        try:
            live.apply(z2m.handle("zigbee2mqtt/bridge/devices", payload))
        except Exception as exc:  # noqa: BLE001 - only the adapter's own error is allowed
            assert type(exc).__name__ == "AdapterError"
    snap = live.snapshot()
    assert [e.name for e in snap.entities] == ["porch lamp\ufffd"]
    r = nlu.parse("turn on the porch lamp", home=snap)
    check(r)
    assert r["action"]["targets"] == ["light.porch_lamp"]


def test_adapter_json_is_cleaned_only_when_it_needs_to_be() -> None:
    assert parse_json(b'{"name": "x\\udfffy"}', 1000) == {"name": "x\ufffdy"}
    assert parse_json(b'{"name": "\\ud83d\\ude00"}', 1000) == {"name": "\U0001f600"}
    assert split_topic("zigbee2mqtt/lamp\x01") is None and split_topic("zigbee2mqtt/lämp") == ["zigbee2mqtt", "lämp"]


# -- 3. deep nesting, binary files, hostile homes --------------------------------------------------

def test_deep_json_lines_get_error_results_and_the_batch_goes_on(nlu: EdgeNLU, tmp_path: Path) -> None:
    lines = [
        "[" * 100_000 + "]" * 100_000,
        '{"id": "a", "text": "hi", "context": ' + '{"a":' * 5000 + "1" + "}" * 5000 + "}",
        json.dumps({"id": "b", "text": "hi", "context": {"state_overrides": {"switch.oven": {
            "attributes": {"x": json.loads("[" * 500 + "]" * 500)}}}}}),
        json.dumps({"id": "\ud800", "text": "turn on the lights \udfff"}),
        json.dumps({"id": json.loads("[" * 300 + "]" * 300), "text": "hi"}),
        json.dumps({"id": "c", "text": "turn on the lights"}),
    ]
    f = tmp_path / "deep.jsonl"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
    out = io.StringIO()
    run_batch(nlu, str(f), out)
    results = [json.loads(x) for x in out.getvalue().splitlines()]
    assert len(results) == len(lines)
    for r in results:
        check(r)
    assert [r["id"] for r in results] == [None, None, "b", "\ufffd", None, "c"]
    assert results[0]["error"]["code"] == "invalid_input"
    assert results[2]["error"]["code"] == "invalid_context"
    assert results[3]["error"] is None and results[3]["text"] == "turn on the lights \ufffd"
    assert results[5]["error"] is None


def test_deep_context_through_the_python_api(nlu: EdgeNLU) -> None:
    deep: Any = {}
    for _ in range(5000):
        deep = {"a": deep}
    r = nlu.parse("hi", {"history": [{"text": "x", "action": {"slots": deep}}]})
    check(r)
    assert r["error"]["code"] == "invalid_context"


def test_deep_hermes_query_is_an_invalid_query() -> None:
    with pytest.raises(QueryError):
        parse_query(b'{"input": "hi", "siteId": "k", "customData": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    q = parse_query(b'{"input": "hi", "siteId": "k", "x": ' + b"[" * 500 + b"]" * 500 + b"}")  # ignored field
    assert q.input == "hi"


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
) + "entities: [{id: light.x, name: *i}]\n"


@pytest.mark.parametrize("text", [
    BOMB, "a: &a [*a]\nentities: *a\n", "[" * 100_000, '{"a":' * 5000, "entities:\n" + "  - " * 3000 + "x\n",
    "- " * 5000 + "x",
])
def test_hostile_home_text_is_a_home_error(text: str) -> None:
    with pytest.raises(HomeError):
        Home.parse(text)


def test_home_strings_are_cleaned() -> None:
    h = Home.parse(json.dumps({"entities": [{"id": "light.x", "name": "lamp\ud800", "aliases": ["\udfff"]}]}))
    assert h.entities[0].name == "lamp\ufffd" and h.entities[0].aliases == ["\ufffd"]


def cli(*args: str | bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "edge_nlu.cli", *args], capture_output=True, cwd=ROOT,
                          timeout=120, check=False)


def test_cli_bad_context_files_are_error_results(tmp_path: Path) -> None:
    binary = tmp_path / "ctx.bin"
    binary.write_bytes(bytes(range(256)))
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000)
    for arg in (f"@{binary}", f"@{deep}", f"@{tmp_path / 'missing.json'}", "[" * 50_000, "{nope", "[1]"):
        p = cli("parse", "turn on the lights", "--context", arg)
        assert p.returncode == 0, p.stderr
        assert b"Traceback" not in p.stderr
        (line,) = p.stdout.decode().splitlines()
        r = json.loads(line)
        assert r["error"]["code"] == "invalid_context" and r["text"] == "turn on the lights"


def test_cli_hostile_home_files_exit_with_a_clear_error(tmp_path: Path) -> None:
    files = {"binary.yaml": bytes(range(256)), "deep.json": b"[" * 100_000 + b"]" * 100_000,
             "bomb.yaml": BOMB.encode(), "loop.yaml": b"a: &a [*a]\nentities: *a\n"}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        p = cli("parse", "hi", "--home", str(tmp_path / name))
        assert p.returncode == 2
        assert b"Traceback" not in p.stderr
        assert b"edge-nlu: error [invalid_home]" in p.stderr
        assert p.stdout == b""


def test_cli_argv_that_is_not_utf8() -> None:
    p = cli(b"parse", b"turn on the lights \xff\xfe")
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout.decode("utf-8"))
    assert r["error"] is None and r["text"] == "turn on the lights \ufffd\ufffd"


def test_fuzz_quick_in_process() -> None:
    """The fuzzing benchmark's in-process part, quick mode: 0 exceptions, 0 unencodable answers."""
    p = subprocess.run([sys.executable, "benchmarks/fuzz.py", "--quick", "--parts", "inproc"], capture_output=True,
                       cwd=ROOT, timeout=600, check=False, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    report = json.loads(p.stdout)
    assert report["a_inprocess"]["failures"] == 0 and report["a_inprocess"]["total"] >= 2000


@pytest.mark.parametrize("value", ["bright", 10**400, "nan", "1e999", -1e308, None, [], {"a": 1}, True])
@pytest.mark.parametrize(("text", "entity", "attribute"), [
    ("brighten the sofa lamp", "light.sofa_lamp", "brightness"),
    ("turn the volume up on the tv", "media_player.living_room_tv", "volume_level"),
    ("make the kitchen warmer", "climate.kitchen_thermostat", "temperature"),
    ("what is the temperature in the kitchen", "climate.kitchen_thermostat", "current_temperature"),
])
def test_odd_device_values_still_give_an_answer(nlu: EdgeNLU, home: Home, value: Any, text: str, entity: str,
                                                attribute: str) -> None:
    ctx = {"area": "Kitchen", "state_overrides": {entity: {"state": value, "attributes": {attribute: value}}}}
    r = nlu.parse(text, ctx, home=home)
    check(r)
    assert r["error"] is None
    assert "nan" not in str(r["response"]) and "inf" not in str(r["response"])


@pytest.mark.parametrize("text", ["a: 2026-13-45", "a: !!timestamp 99999-01-01", "a: !!float x", "\x00\xff",
                                  "entities: !!python/object:os.system [ls]"])
def test_yaml_the_parser_chokes_on_is_a_home_error(text: str) -> None:
    with pytest.raises(HomeError):
        Home.parse(text)


def test_one_result_is_one_line_for_any_line_splitter(nlu: EdgeNLU, tmp_path: Path) -> None:
    f = tmp_path / "breaks.jsonl"
    f.write_text("".join(json.dumps({"id": str(i), "text": f"turn on{c}the lights"}) + "\n"
                         for i, c in enumerate(["\u2028", "\u2029", "\x85", "\x1c", "\x0b"])), encoding="utf-8")
    out = io.StringIO()
    run_batch(nlu, str(f), out)
    lines = out.getvalue().splitlines()
    assert [json.loads(x)["id"] for x in lines] == ["0", "1", "2", "3", "4"]
