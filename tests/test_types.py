"""Wire and file types: from_dict/to_dict round trips and clear errors on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge_nlu.domain.context import HistoryTurn, RequestContext, Satellite
from edge_nlu.domain.home import Area, Entity, Floor, Home
from edge_nlu.domain.result import NLU, Action, Alternative, ErrorInfo, Result, Rewrite, Slot
from edge_nlu.errors import HomeError, InvalidInputError

CONTEXT = {
    "area": "Kitchen",
    "satellite": {"id": "kitchen-puck", "has_screen": False},
    "time": "2026-11-24T07:30:00",
    "user": "alex",
    "history": [{"text": "turn on the oven", "action": {"intent": "HassTurnOn", "targets": ["switch.oven"],
                                                         "slots": {}}}],
    "state_overrides": {"switch.oven": {"state": "on"}},
}


@pytest.mark.parametrize(
    "obj",
    [
        Floor("g", "Ground"),
        Area("k", "Kitchen", "g", ("cookhouse",)),
        Entity("light.a", "A", "k", "on", ["big light"], {"brightness": 5}),
        Satellite("s1", True),
        HistoryTurn("turn it on", "HassTurnOn", ("light.a",), {"area": "Kitchen"}),
        Slot("device_type", "lights", 9, 15),
        NLU("iot_hue_lightoff", 0.5, (Slot("house_place", "kitchen", 0, 7),)),
        Alternative("iot_hue_lightdim", 0.25),
        NLU("iot_hue_lightoff", 0.5, (), (Alternative("iot_hue_lightdim", 0.25), Alternative("iot_wemo_off", 0.125))),
        Action("HassTurnOff", {"area": "Kitchen"}, ("light.a",)),
        Rewrite("turn on the lights", "personal", 0.9),
        ErrorInfo("empty_text", "text is empty"),
        Result("r1", "x", Rewrite("y", "global", 0.5), NLU("a", 0.1), Action(None), "hi", None),
    ],
)
def test_round_trip(obj: object) -> None:
    again = type(obj).from_dict(obj.to_dict())  # type: ignore[attr-defined]
    assert again == obj
    json.dumps(obj.to_dict())  # type: ignore[attr-defined]


def test_a_result_carries_the_confidence_its_dict_reports() -> None:
    """Decisions taken on the object (thresholds, the learning guard) are those a reader of the dict takes."""
    r = Result("r1", "x", nlu=NLU("a", 0.123456789), action=Action("HassTurnOn", {}, ("light.a",)))
    assert r.confidence == 0.1235 == r.to_dict()["nlu"]["confidence"]
    assert Result.from_dict(r.to_dict()) == r
    assert Result("r", "x").confidence == 0.0


@pytest.mark.parametrize(
    ("result", "recognized", "succeeded"),
    [
        (Result("r", "x", nlu=NLU("a", 0.9), action=Action("HassTurnOn", {}, ("light.a",))), True, True),
        (Result("r", "x", nlu=NLU("a", 0.9), action=Action("HassGetState"), response="It is on."), True, True),
        (Result("r", "x", nlu=NLU("a", 0.9), action=Action("HassTurnOn")), True, False),  # found nothing to act on
        (Result("r", "x", nlu=NLU("a", 0.9)), True, False),  # not about the home
        (Result("r", "x", nlu=NLU("a", 0.4), action=Action("HassTurnOn", {}, ("light.a",))), False, False),
        (Result("r", "x", error=ErrorInfo("empty_text", "text is empty")), False, False),
    ],
)
def test_recognized_and_succeeded(result: Result, recognized: bool, succeeded: bool) -> None:
    assert result.recognized(0.5) is recognized and result.succeeded(0.5) is succeeded
    assert result.recognized(0.4) == (result.error is None)


def test_home_round_trip(home: Home) -> None:
    assert Home.from_dict(home.to_dict()).to_dict() == home.to_dict()


def test_context_round_trip() -> None:
    ctx = RequestContext.from_dict(CONTEXT)
    assert RequestContext.from_dict(ctx.to_dict()) == ctx
    assert ctx.previous is not None and ctx.previous.targets == ("switch.oven",)
    assert RequestContext.from_dict(None) == RequestContext() == RequestContext.from_dict({})


@pytest.mark.parametrize("suffix", [".yaml", ".json", ".txt"])
def test_home_loads_json_or_yaml_by_content(home: Home, tmp_path: Path, suffix: str) -> None:
    p = tmp_path / f"home{suffix}"
    p.write_text(json.dumps(home.to_dict()) if suffix == ".json" else json.dumps(home.to_dict(), indent=2))
    assert Home.load(p).to_dict() == home.to_dict()


@pytest.mark.parametrize(
    "text",
    ["entities: [", "[1, 2]", "entities: {a: 1}", "entities: [{id: nodot}]", "entities: [{name: x}]",
     "entities: [{id: light.a}, {id: light.a}]"],
)
def test_bad_home_is_a_clear_error(tmp_path: Path, text: str) -> None:
    p = tmp_path / "home.yaml"
    p.write_text(text)
    with pytest.raises(HomeError):
        Home.load(p)


def test_missing_home_file(tmp_path: Path) -> None:
    with pytest.raises(HomeError, match="cannot read"):
        Home.load(tmp_path / "nope.yaml")


def test_lookups(home: Home) -> None:
    assert home.area("living room") is home.area("Living_Room") is home.area("living_room")
    assert home.area("garage") is None
    assert home.floor("upstairs") is not None
    fl = home.floor_of("bedroom")
    assert fl is not None and fl.name == "Upstairs"
    assert [e.id for e in home.in_area("bedroom")] == ["light.bedroom_ceiling"]


def test_overrides_copy_and_merge(home: Home) -> None:
    new = home.with_overrides({"sensor.oven_temperature": {"state": "180", "attributes": {"extra": 1}}})
    e = new.entity("sensor.oven_temperature")
    assert e is not None and e.state == "180"
    assert e.attributes == {"device_class": "temperature", "unit_of_measurement": "°C", "extra": 1}
    old = home.entity("sensor.oven_temperature")
    assert old is not None and old.state == "21" and "extra" not in old.attributes


def test_override_of_unknown_entity_is_rejected(home: Home) -> None:
    with pytest.raises(InvalidInputError) as ei:
        home.with_overrides({"light.nowhere": {"state": "on"}})
    assert ei.value.code == "unknown_entity"


@pytest.mark.parametrize(
    "bad",
    [[], "kitchen", {"area": 5}, {"time": "yesterday"}, {"history": "x"}, {"history": [5]},
     {"satellite": {"has_screen": "yes"}}, {"state_overrides": []}],
)
def test_bad_context(bad: object) -> None:
    with pytest.raises(InvalidInputError):
        RequestContext.from_dict(bad)  # type: ignore[arg-type]
