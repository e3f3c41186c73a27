"""`edge-nlu demo`: a scripted conversation with the shipped model and the demo home, where
the context (device state, the satellite's room and screen, the previous turn) changes the
answer to the same words."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from edge_nlu.domain.home import Entity, Home
from edge_nlu.pipeline import EdgeNLU
from edge_nlu.settings import RuntimeSettings, default_model_dir, devices_dir


def demo_home_path() -> Path:
    return devices_dir() / "homes" / "demo.yaml"


@dataclass
class Turn:
    """One scripted request."""

    text: str
    """What the user says."""
    note: str
    """What is different about the context this time."""
    context: dict[str, Any] = field(default_factory=dict)
    """The request context."""
    remember: bool = False
    """Feed this turn's action to the next turn as history."""


def _find(home: Home, domain: str, word: str) -> Entity | None:
    return next((e for e in home.entities if e.domain == domain and word in e.name.lower()), None)


def script(home: Home) -> list[Turn]:
    oven = _find(home, "switch", "oven")
    oven_temp = _find(home, "sensor", "oven")
    kitchen = home.area(oven.area if oven else None) or home.areas[0]
    living = home.area("living room") or home.areas[1]
    bedroom = home.area("bedroom") or home.areas[-1]
    puck = {"area": kitchen.name, "satellite": {"id": "kitchen-puck", "has_screen": False}}
    tv = {"area": living.name, "satellite": {"id": "living-room-tv", "has_screen": True}}
    turns = [Turn("what is the temperature?", f"{kitchen.name} satellite, oven off", dict(puck))]
    if oven and oven_temp:
        hot = {oven.id: {"state": "on"}, oven_temp.id: {"state": "180"}}
        turns.append(Turn("what is the temperature?", "same words, but the oven is now on at 180",
                          {**puck, "state_overrides": hot}))
    turns += [
        Turn("turn on the kettle", "a device by name", dict(puck), remember=True),
        Turn("turn it off", "'it' is what the previous turn acted on", dict(puck)),
        Turn("turn off the lights", f"satellite in the {living.name}", dict(tv)),
        Turn("turn off the lights", f"satellite in the {bedroom.name}",
             {"area": bedroom.name, "satellite": {"id": "bedroom-puck", "has_screen": False}}),
        Turn("play the hobbit", "a satellite with a screen: the film", dict(tv)),
        Turn("play the hobbit", "no screen: the audiobook", dict(puck)),
    ]
    return turns


def result_lines(r: dict[str, Any], indent: str) -> str:
    """A result as the demos print it: the action, then the spoken answer or the error."""
    action = r.get("action") or {}
    text = (f"{indent}action: {action.get('intent')} -> {', '.join(action.get('targets') or []) or '-'}"
            f"  {action.get('slots') or ''}\n")
    if r.get("response"):
        text += f"{indent}says:   {r['response']}\n"
    if r.get("error"):
        text += f"{indent}error:  {r['error']}\n"
    return text


def run(out: TextIO, model_dir: Path | None = None) -> int:
    nlu = EdgeNLU(RuntimeSettings(model_dir=model_dir or default_model_dir(), home_path=demo_home_path()))
    out.write(f"edge-nlu demo: model {nlu.model.dir}, home {demo_home_path().name} "
              f"({len(nlu.home.entities)} entities)\n\n")
    history: list[dict[str, Any]] = []
    for turn in script(nlu.home):
        ctx = dict(turn.context)
        if history:
            ctx["history"] = history
            history = []
        r = nlu.parse(turn.text, ctx)
        action = r.get("action") or {}
        out.write(f"[{turn.note}]\n  user: {turn.text}\n")
        out.write(f"  nlu:  {r['nlu']['intent']} ({r['nlu']['confidence']:.2f})\n" if r.get("nlu") else "")
        out.write(result_lines(r, "  ") + "\n")
        if turn.remember and action:
            history = [{"text": turn.text, "action": action}]
    return 0
