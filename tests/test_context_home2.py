"""The second public context benchmark (benchmarks/context/home2) is well formed.

These tests check the benchmark files, never the model: a broken case would silently
measure nothing. The checks against ../shared (HA's intent list, the dev sentences) skip
where a clone has no ../shared next to it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from edge_nlu.domain.context import RequestContext
from edge_nlu.domain.home import Home

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
HOME2 = ROOT / "benchmarks" / "context" / "home2"
SHARED = ROOT.parent / "shared"
DEV = SHARED / "context" / "dev"
HA_INTENTS = SHARED / "spec" / "ha_intents.json"

CASE_KEYS = {"id", "text", "context", "expect", "group", "why"}
CONTEXT_KEYS = {"area", "satellite", "time", "user", "history", "state_overrides"}
EXPECT_KEYS = {"intent", "targets", "slots"}
FAMILIES = {"appliance", "remaining", "followup", "room", "night", "mediastate", "screen",
            "mediaclass", "relative", "pronoun", "unheard", "control"}


def _cases(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _said(text: str) -> str:
    """A sentence as said: case, punctuation and spacing do not make it a new sentence."""
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split())


def _intents(expect: dict[str, Any]) -> list[str]:
    intent = expect["intent"]
    return intent if isinstance(intent, list) else [intent]


@pytest.fixture(scope="module")
def home() -> Home:
    return Home.load(HOME2 / "home.json")


@pytest.fixture(scope="module")
def cases() -> list[dict[str, Any]]:
    return _cases(HOME2 / "cases.jsonl")


def test_home_loads_with_areas_on_floors_and_entities_in_known_areas(home: Home) -> None:
    assert len(home.entities) >= 60 and len(home.areas) >= 10 and len(home.floors) == 2
    floor_ids = {f.id for f in home.floors}
    assert all(a.floor is None or a.floor in floor_ids for a in home.areas)
    area_ids = {a.id for a in home.areas}
    assert all(e.area is None or e.area in area_ids for e in home.entities)


def test_every_case_has_the_dev_shape(cases: list[dict[str, Any]], home: Home) -> None:
    assert 80 <= len(cases) <= 150
    assert len({c["id"] for c in cases}) == len(cases)
    for c in cases:
        assert set(c) <= CASE_KEYS and {"id", "text", "context", "expect", "why"} <= set(c), c["id"]
        assert c["id"].split("-")[2] in FAMILIES, c["id"]
        assert isinstance(c["text"], str) and c["text"].strip(), c["id"]
        assert set(c["context"]) <= CONTEXT_KEYS, c["id"]
        ctx = RequestContext.from_dict(c["context"])
        home.with_overrides(ctx.state_overrides)  # every overridden entity exists
        if ctx.area is not None:
            assert home.area(ctx.area) is not None, c["id"]
        assert set(c["expect"]) <= EXPECT_KEYS and isinstance(c["expect"].get("slots", {}), dict), c["id"]


def test_every_expected_and_previous_target_is_in_the_home(cases: list[dict[str, Any]], home: Home) -> None:
    for c in cases:
        turns = [t["action"] for t in c["context"].get("history", [])]
        for action in [c["expect"], *turns]:
            for eid in action.get("targets", []):
                assert home.entity(eid) is not None, (c["id"], eid)


def test_area_and_floor_slots_name_the_home_as_the_snapshot_does(cases: list[dict[str, Any]], home: Home) -> None:
    areas = {a.name for a in home.areas}
    floors = {f.name for f in home.floors}
    for c in cases:
        slots = c["expect"].get("slots", {})
        assert slots.get("area", next(iter(areas))) in areas, c["id"]
        assert slots.get("floor", next(iter(floors))) in floors, c["id"]


def test_the_same_words_in_a_group_have_different_answers(cases: list[dict[str, Any]]) -> None:
    groups: dict[str, list[dict[str, Any]]] = {}
    for c in cases:
        if "group" in c:
            groups.setdefault(c["group"], []).append(c)
    assert len(groups) >= 20
    for name, members in groups.items():
        assert len({json.dumps(m["expect"], sort_keys=True) for m in members}) >= 2, name
        said: dict[str, set[str]] = {}
        for m in members:
            answer = json.dumps(m["expect"], sort_keys=True)
            assert answer not in said.setdefault(_said(m["text"]), set()), f"{name}: same words, same answer"
            said[_said(m["text"])].add(answer)


@pytest.mark.skipif(not HA_INTENTS.is_file(), reason="no ../shared/spec next to this clone")
def test_every_expected_intent_is_a_home_assistant_intent(cases: list[dict[str, Any]]) -> None:
    known = set(json.loads(HA_INTENTS.read_text(encoding="utf-8"))["intents"])
    for c in cases:
        turns = [t["action"] for t in c["context"].get("history", [])]
        for intent in [*_intents(c["expect"]), *(t["intent"] for t in turns)]:
            assert intent in known, (c["id"], intent)


@pytest.mark.skipif(not DEV.is_dir(), reason="no ../shared/context/dev next to this clone")
def test_no_sentence_or_name_comes_from_the_dev_set(cases: list[dict[str, Any]], home: Home) -> None:
    dev_said = {_said(c["text"]) for c in _cases(DEV / "cases.jsonl")}
    assert not [c["id"] for c in cases if _said(c["text"]) in dev_said]
    dev = Home.load(DEV / "home.json")
    assert not {e.id for e in dev.entities} & {e.id for e in home.entities}
    dev_names = {_said(n) for e in dev.entities for n in e.names()} | {_said(a.name) for a in dev.areas}
    names = {_said(n) for e in home.entities for n in e.names()} | {_said(a.name) for a in home.areas}
    assert not dev_names & names
