"""Hermes mapping without a broker: query validation, context, session history, intent payloads."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_nlu.domain.result import NLU, Action, ErrorInfo, Result, Slot
from edge_nlu.errors import ErrorCode
from edge_nlu.service.hermes import (
    HermesCodec,
    HermesQuery,
    QueryError,
    SessionHistory,
    build_context,
    hermes_slots,
    intent_reply,
    next_turn,
    not_recognized,
    parse_query,
)


@dataclass(frozen=True)
class Site:
    """A satellite's configuration as `build_context` reads it (the service passes its `SiteSettings`)."""

    area: str | None = None
    has_screen: bool | None = None
    user: str | None = None


def q(**kw: Any) -> bytes:
    base: dict[str, Any] = {"input": "turn on the oven", "siteId": "kitchen-puck", "sessionId": "s1", "id": "r1",
                            "intentFilter": None}
    base.update(kw)
    return json.dumps(base).encode()


TURN_ON_OVEN = Result(
    id="r1", text="turn on the oven",
    nlu=NLU("iot_wemo_on", 0.99, (Slot("device_name", "oven", 12, 16),)),
    action=Action("HassTurnOn", {"name": "Oven", "area": "Kitchen"}, ("switch.oven",)),
)
WEATHER_NO_ACTION = Result(
    id="r2", text="will it rain in paris", nlu=NLU("weather_query", 0.9, (Slot("place_name", "paris", 16, 21),)),
)


def test_parse_query_reads_all_fields() -> None:
    got = parse_query(q(user="alex", time="2026-11-24T07:30:00", intentFilter=["HassTurnOn"], customData="x"))
    assert got == HermesQuery(input="turn on the oven", site_id="kitchen-puck", session_id="s1", id="r1",
                              intent_filter=("HassTurnOn",), user="alex", time="2026-11-24T07:30:00", custom_data="x")


def test_parse_query_defaults_follow_hermes() -> None:
    got = parse_query(b'{"input": "hi"}')
    assert (got.site_id, got.session_id, got.id, got.intent_filter, got.user) == ("default", None, None, None, None)
    assert parse_query(q(intentFilter=[])).intent_filter is None  # empty filter = no filter, as in Rhasspy


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        (b"\xff\xfe\x00garbage", "UTF-8 JSON"),
        (b"{not json", "UTF-8 JSON"),
        (b"[1, 2]", "JSON object"),
        (q(input=None), "input must be a string"),
        (q(input=5), "input must be a string"),
        (q(siteId="a/b"), "siteId"),
        (q(siteId="#"), "siteId"),
        (q(siteId=""), "siteId"),
        (q(siteId=7), "siteId"),
        (q(intentFilter="HassTurnOn"), "intentFilter"),
        (q(intentFilter=[1]), "intentFilter"),
        (q(time="yesterday"), "ISO 8601"),
        (q(sessionId=["x"]), "sessionId"),
        (q(user="u" * 1000), "user"),
    ],
)
def test_parse_query_rejects_bad_payloads(payload: bytes, needle: str) -> None:
    with pytest.raises(QueryError) as err:
        parse_query(payload)
    assert needle in err.value.message
    assert err.value.code == "invalid_query"


def test_parse_query_keeps_who_asked_for_the_error_answer() -> None:
    with pytest.raises(QueryError) as err:
        parse_query(q(input=None, id="r9"))
    assert err.value.partial == {"siteId": "kitchen-puck", "id": "r9", "sessionId": "s1"}
    topic, payload = not_recognized(err.value.partial, err.value.message)
    assert topic == "hermes/nlu/intentNotRecognized"
    assert payload["id"] == "r9" and payload["siteId"] == "kitchen-puck" and payload["reason"] == "invalid_query"


def test_parse_query_size_cap() -> None:
    with pytest.raises(QueryError, match="bytes"):
        parse_query(q(input="x" * 2000), max_bytes=1000)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["input", "siteId", "sessionId", "id", "intentFilter", "user", "time", "x"]), children,
        max_size=6),
    max_leaves=12).map(lambda v: json.dumps(v).encode())))
def test_parse_query_never_raises_anything_but_query_error(payload: bytes) -> None:
    try:
        got = parse_query(payload)
    except QueryError:
        return
    assert isinstance(got.input, str) and "/" not in got.site_id


def test_lone_surrogates_are_replaced_so_the_answer_can_be_published() -> None:
    got = parse_query(b'{"input": "lights \\ud800", "siteId": "k\\udfff", "id": "\\udc00", "sessionId": "s"}')
    assert (got.input, got.site_id, got.id) == ("lights \ufffd", "k\ufffd", "\ufffd")
    with pytest.raises(QueryError, match="UTF-8"):  # surrogates encoded raw are not UTF-8 at all
        parse_query('{"input": "\ud800", "siteId": "k"}'.encode("utf-8", "surrogatepass"))


@pytest.mark.parametrize("site", ["kitchen\x01", "a\x7fb", "x\ufffe", "tab\there"])
def test_site_ids_mqtt_forbids_in_topics_are_refused(site: str) -> None:
    with pytest.raises(QueryError, match="siteId"):
        parse_query(q(siteId=site))


def test_context_from_site_config_and_query() -> None:
    site = Site(area="Kitchen", has_screen=False, user="alex")
    hist = [{"text": "turn on the oven", "action": {"intent": "HassTurnOn", "targets": ["switch.oven"], "slots": {}}}]
    ctx = build_context(parse_query(q()), site, hist, arrival="2026-01-01T08:00:00")
    assert ctx == {"area": "Kitchen", "satellite": {"id": "kitchen-puck", "has_screen": False},
                   "time": "2026-01-01T08:00:00", "user": "alex", "history": hist}
    ctx = build_context(parse_query(q(user="sam", time="2026-11-24T07:30:00")), site, [], arrival="x")
    assert ctx["user"] == "sam" and ctx["time"] == "2026-11-24T07:30:00" and "history" not in ctx
    ctx = build_context(parse_query(q(siteId="unknown")), None, [], arrival="t")
    assert "area" not in ctx and "user" not in ctx and ctx["satellite"]["id"] == "unknown"


def test_session_history_is_per_site_and_session_and_bounded() -> None:
    h = SessionHistory(turns=2, max_sessions=2, ttl_s=10)
    t = [{"text": f"t{i}", "action": {"intent": "HassTurnOn", "targets": [], "slots": {}}} for i in range(3)]
    for turn in t:
        h.record("site", "s1", turn, now=0)
    assert h.get("site", "s1", now=1) == t[1:]  # bounded turns, oldest first
    assert h.get("other", "s1", now=1) == [] and h.get("site", "s2", now=1) == []
    assert h.get("site", None, now=1) == []
    assert h.get("site", "s1", now=11) == []  # idle past the TTL
    h.record("site", "s2", t[0], now=2)
    h.record("site", "s3", t[0], now=3)
    assert len(h) == 2 and h.get("site", "s1", now=3) == []  # least recently used forgotten
    h.forget("site", "s3")
    assert h.get("site", "s3", now=3) == []
    h.record("site", None, t[0], now=4)
    h.record("site", "s4", None, now=4)
    assert h.get("site", "s4", now=4) == []


def test_history_turn_only_for_actions() -> None:
    assert next_turn(TURN_ON_OVEN) == {"text": "turn on the oven", "action": {
        "intent": "HassTurnOn", "targets": ["switch.oven"], "slots": {"name": "Oven", "area": "Kitchen"}}}
    assert next_turn(WEATHER_NO_ACTION) is None
    assert next_turn(replace(TURN_ON_OVEN, error=ErrorInfo("x", "y"))) is None


def test_intent_payload_uses_home_assistant_intent_and_slots() -> None:
    topic, p = intent_reply(parse_query(q(customData="c")), TURN_ON_OVEN, min_confidence=0.5)
    assert topic == "hermes/intent/HassTurnOn"
    assert {k: p[k] for k in ("input", "id", "siteId", "sessionId", "customData")} == {
        "input": "turn on the oven", "id": "r1", "siteId": "kitchen-puck", "sessionId": "s1", "customData": "c"}
    assert p["intent"] == {"intentName": "HassTurnOn", "confidenceScore": 0.99}
    by_name = {s["slotName"]: s for s in p["slots"]}
    assert by_name["name"] == {"entity": "name", "slotName": "name", "rawValue": "oven",
                               "value": {"kind": "Custom", "value": "Oven"}, "range": {"start": 12, "end": 16},
                               "confidenceScore": 0.99}
    assert by_name["area"]["range"] is None and by_name["area"]["rawValue"] == "Kitchen"  # from context, not said


def test_intent_payload_without_action_uses_the_model() -> None:
    topic, p = intent_reply(parse_query(q(input="will it rain in paris")), WEATHER_NO_ACTION)
    assert topic == "hermes/intent/weather_query"
    assert p["slots"] == [{"entity": "place_name", "slotName": "place_name", "rawValue": "paris",
                           "value": {"kind": "Custom", "value": "paris"}, "range": {"start": 16, "end": 21},
                           "confidenceScore": 0.9}]


def test_numbers_are_number_slots() -> None:
    result = Result(id=None, text="set the lights to 40 percent",
                    nlu=NLU("iot_hue_lightchange", 0.9, (Slot("change_amount", "40 percent", 18, 28),)),
                    action=Action("HassLightSet", {"brightness": 40}, ("light.a",)))
    (slot,) = hermes_slots(result)
    assert slot["value"] == {"kind": "Number", "value": 40} and slot["range"] == {"start": 18, "end": 28}


@pytest.mark.parametrize(
    ("query", "result", "min_conf", "reason"),
    [
        (q(intentFilter=["HassTurnOff"]), TURN_ON_OVEN, 0.0, "filtered"),
        (q(intentFilter=["iot_wemo_on"]), TURN_ON_OVEN, 0.0, "filtered"),  # the filter names the resolved intent
        (q(), TURN_ON_OVEN, 0.995, "low_confidence"),
        (q(), replace(TURN_ON_OVEN, nlu=None, action=None, error=ErrorInfo("empty_text", "x")), 0.0, "error"),
        (q(), replace(TURN_ON_OVEN, nlu=None, action=None), 0.0, "no_intent"),
    ],
)
def test_not_recognized(query: bytes, result: Result, min_conf: float, reason: str) -> None:
    topic, p = intent_reply(parse_query(query), result, min_confidence=min_conf)
    assert topic == "hermes/nlu/intentNotRecognized"
    assert p["reason"] == reason and p["slots"] == [] and p["id"] == "r1" and p["siteId"] == "kitchen-puck"


def test_filter_that_allows_the_intent() -> None:
    topic, _ = intent_reply(parse_query(q(intentFilter=["HassTurnOff", "HassTurnOn"])), TURN_ON_OVEN)
    assert topic == "hermes/intent/HassTurnOn"


def test_topic_prefix_and_unsafe_intent_names() -> None:
    weird = replace(WEATHER_NO_ACTION, nlu=NLU("a/b#c", 1.0))
    topic, p = intent_reply(parse_query(q()), weird, prefix="house1/hermes")
    assert topic == "house1/hermes/intent/a_b_c" and p["intent"]["intentName"] == "a/b#c"


def test_the_codec_answers_in_bytes_on_both_topics() -> None:
    codec = HermesCodec(hermes="house1/hermes", edge_nlu="house1/edge-nlu", min_confidence=0.5)
    query = parse_query(q(input="turn on the öven"))
    result = replace(TURN_ON_OVEN, text="turn on the öven")
    (hermes_topic, hermes), (result_topic, full) = codec.answer(query, result)
    assert hermes_topic == "house1/hermes/intent/HassTurnOn"
    assert json.loads(hermes) == intent_reply(query, result, 0.5, "house1/hermes")[1]
    assert "öven".encode() in hermes  # UTF-8 as is, not \u escapes
    assert result_topic == "house1/edge-nlu/result/kitchen-puck" and json.loads(full) == result.to_dict()
    low = HermesCodec(min_confidence=0.995).answer(query, result)
    assert low[0][0] == "hermes/nlu/intentNotRecognized" and json.loads(low[0][1])["reason"] == "low_confidence"


def test_the_codec_refuses_only_where_the_asker_is_known() -> None:
    codec = HermesCodec()
    error = ErrorInfo(ErrorCode.OVERLOADED, "the service is overloaded; try again")
    (topic, hermes), (result_topic, full) = codec.refusal({"siteId": "k", "id": "r5", "input": "hi"}, error)
    assert topic == "hermes/nlu/intentNotRecognized" and json.loads(hermes)["id"] == "r5"
    assert result_topic == "edge-nlu/result/k"
    assert json.loads(full) == {"id": "r5", "text": "hi", "rewrite": None, "nlu": None, "action": None,
                                "response": None, "error": {"code": "overloaded", "message": error.message}}
    assert codec.refusal({"id": "r5"}, error) == [] and codec.refusal({"siteId": ""}, error) == []
