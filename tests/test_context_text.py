"""The context segment the model reads."""

from __future__ import annotations

from edge_nlu.context import RequestContext
from edge_nlu.context_text import context_segment
from edge_nlu.home import Home


def test_empty_context_gives_empty_segment(home: Home) -> None:
    assert context_segment(home, RequestContext()) == ""


def test_segment_names_room_screen_active_devices_and_previous_turn(home: Home) -> None:
    ctx = RequestContext.from_dict({
        "area": "kitchen",
        "satellite": {"has_screen": False},
        "history": [{"text": "Turn on the OVEN", "action": {"intent": "HassTurnOn", "targets": ["switch.oven"]}}],
        "state_overrides": {"switch.oven": {"state": "on"}},
    })
    seg = context_segment(home.with_overrides(ctx.state_overrides), ctx)
    assert seg == "room kitchen | screen no | active oven on | before turn on the oven > turn on switch"


def test_state_decides_segment(home: Home) -> None:
    ctx = RequestContext.from_dict({"area": "Kitchen"})
    assert "oven" not in context_segment(home, ctx)
    on = home.with_overrides({"switch.oven": {"state": "on"}})
    assert "active oven on" in context_segment(on, ctx)
