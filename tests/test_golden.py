"""Golden cases for the shipped model on a home unlike the ones it was trained and tuned on.

The cases (tests/golden/shipped_model.yaml) say what a user expects: the Home Assistant intent, the
exact targets, the slots that matter. A known gap is a non-strict xfail with its reason, never an
assertion of the wrong answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from edge_nlu.domain.home import Home
from edge_nlu.domain.result import Result
from edge_nlu.pipeline import EdgeNLU, load

GOLDEN = yaml.safe_load((Path(__file__).parent / "golden" / "shipped_model.yaml").read_text(encoding="utf-8"))


def _cases() -> list[Any]:
    out = []
    for case in GOLDEN["cases"]:
        marks = [pytest.mark.xfail(reason=case["gap"], strict=False)] if case.get("gap") else []
        out.append(pytest.param(case, id=case["text"], marks=marks))
    return out


@pytest.fixture(scope="module")
def nlu() -> EdgeNLU:
    return load(home=Home.from_dict(GOLDEN["home"]))


@pytest.mark.parametrize("case", _cases())
def test_golden(nlu: EdgeNLU, case: dict[str, Any]) -> None:
    got = Result.from_dict(nlu.parse(case["text"], case.get("context")))
    want = case["expect"]
    assert got.error is None
    assert got.action is not None, f"no action for {case['text']!r}"
    assert got.action.intent == want["intent"]
    if "targets" in want:
        assert sorted(got.action.targets) == sorted(want["targets"])
    for slot, value in want.get("slots", {}).items():
        assert str(got.action.slots.get(slot)).lower() == str(value).lower(), (slot, got.action.slots)
    if "response_has" in want:
        assert want["response_has"] in (got.response or "")
