"""The context segment the model reads."""

from __future__ import annotations

from edge_nlu.domain.context import RequestContext
from edge_nlu.domain.home import Home
from edge_nlu.model.context_segment import context_segment


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


def test_a_long_context_gives_way_to_the_text(home: Home) -> None:
    """The segment is as long as the names and the previous turn make it; the model reads the request
    whole and as much of the context as fits (see NLUModel.encode)."""
    from edge_nlu.model.runner import MAX_LEN, NLUModel
    from edge_nlu.settings import default_model_dir

    ctx = RequestContext.from_dict({"area": "Kitchen", "history": [{"text": "turn on the oven " * 30,
                                                                     "action": {"intent": "HassTurnOn"}}]})
    seg = context_segment(home, ctx)
    model = NLUModel(default_model_dir())
    text = "what is the temperature in here please"
    enc = model.encode(text, seg)
    assert len(enc.ids) == MAX_LEN
    kept = [i for i, t in zip(enc.ids, enc.type_ids, strict=True) if t == 0][1:-1]
    assert kept == model.tok.encode(text, add_special_tokens=False).ids
