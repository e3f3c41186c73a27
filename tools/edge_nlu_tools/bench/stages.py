"""The measured work of `edge-nlu bench`: requests, the staged pipeline, the interleaved loop.

`EdgeNLU.parse_result` runs validate -> context -> `NLUModel.predict` -> `resolve` in one go; here
the same steps run one at a time so each can be timed (the ONNX run apart from tokenizing and
decoding). `check_mirror` guards that this copy still computes what `predict` computes.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_nlu.domain.context import RequestContext
from edge_nlu.domain.home import Home
from edge_nlu.domain.result import NLU
from edge_nlu.model.context_segment import context_segment
from edge_nlu.model.runner import ModelInput
from edge_nlu.pipeline import EdgeNLU
from edge_nlu.resolve.resolver import resolve
from edge_nlu_tools.bench import baseline

STAGES = ("prepare", "tokenize", "model", "decode", "resolve")
FULL = "parse"
HWU_TRAIN = Path(__file__).resolve().parents[3] / "export" / "data" / "hwu64" / "train.jsonl"
BUILTIN = (
    "turn on the lights", "turn off the kitchen lights", "dim the living room lamp to 30 percent",
    "what's the temperature in here", "set the thermostat to 21 degrees", "is the front door locked",
    "play some jazz in the kitchen", "pause the music", "next song please", "turn the volume down",
    "open the blinds in the bedroom", "close the garage door", "start the vacuum", "what's the weather tomorrow",
    "set a timer for ten minutes", "switch off the kettle", "turn on the coffee machine",
    "make the bedroom lights warmer", "is the oven on", "play the next episode on the tv",
    "lower the blinds halfway", "how warm is it in the kids room", "turn everything off downstairs",
    "put on the radio", "resume", "what time is it", "brighten the study lights", "stop the vacuum",
)
WARMUP = 20
Subject = Callable[["Request"], dict[str, float]]


@dataclass(frozen=True)
class Request:
    """One benchmark request."""

    text: str
    """What was said."""
    context: dict[str, Any] | None
    """The request context (area, satellite, previous turn), or None for half of the requests."""



def sample_texts(n: int, rng: random.Random) -> tuple[list[str], str]:
    """n request texts drawn from HWU64 train (else the built-in list), and where they came from."""
    if HWU_TRAIN.is_file():
        texts = [json.loads(x)["text"] for x in HWU_TRAIN.read_text(encoding="utf-8").splitlines() if x.strip()]
        source = "hwu64/train.jsonl"
    else:
        texts, source = list(BUILTIN), "built-in"
    return (rng.sample(texts, n) if n <= len(texts) else rng.choices(texts, k=n)), source


def build_requests(home: Home, n: int, seed: int) -> tuple[list[Request], str]:
    """n requests from HWU64 train (else the built-in list); every other one gets a context of this home."""
    rng = random.Random(seed)  # noqa: S311 - sampling benchmark requests, not secrets
    picked, source = sample_texts(n, rng)
    out = []
    for i, text in enumerate(picked):
        out.append(Request(text, _context(home, rng) if i % 2 else None))
    return out, source


def _context(home: Home, rng: random.Random) -> dict[str, Any]:
    ctx: dict[str, Any] = {"satellite": {"id": "bench", "has_screen": rng.random() < 0.3}}
    if home.areas:
        area = rng.choice(home.areas)
        ctx["area"] = area.name
        ctx["satellite"]["id"] = f"sat-{area.id}"
        here = home.in_area(area.id)
        if here and rng.random() < 0.4:
            target = rng.choice(here)
            ctx["history"] = [{"text": f"turn on the {target.name.lower()}",
                               "action": {"intent": "HassTurnOn", "targets": [target.id], "slots": {}}}]
    return ctx


def decode(nlu: EdgeNLU, clean: str, enc: ModelInput, outputs: list[Any]) -> NLU:
    """`NLUModel.predict`'s decoding step on its own (the ONNX run is timed apart from it)."""
    return nlu.model.decode(clean, enc, outputs)


def prepare(nlu: EdgeNLU, req: Request) -> tuple[str, RequestContext, Home, str]:
    """`parse_result`'s steps before the model: validate, read the context, build the context segment."""
    clean = nlu._check_text(req.text)
    ctx = RequestContext.from_dict(req.context)
    home = nlu.home.with_overrides(ctx.state_overrides)
    return clean, ctx, home, context_segment(home, ctx)


def run_model(nlu: EdgeNLU, enc: ModelInput) -> list[Any]:
    return nlu.model.run(enc)


def check_mirror(nlu: EdgeNLU, reqs: list[Request]) -> None:
    """The staged path must give what `predict` gives, or its timings would be of something else."""
    for req in reqs:
        clean, _, _, segment = prepare(nlu, req)
        enc = nlu.model.encode(clean, segment)
        if decode(nlu, clean, enc, run_model(nlu, enc)) != nlu.model.predict(clean, segment):
            raise RuntimeError(f"bench's staged pipeline differs from NLUModel.predict on {req.text!r}")


def staged(nlu: EdgeNLU) -> Subject:
    """A subject that runs `parse_result`'s steps one by one, timing each, then the whole `parse`."""
    clock = time.perf_counter

    def run(req: Request) -> dict[str, float]:
        t0 = clock()
        clean, ctx, home, segment = prepare(nlu, req)
        t1 = clock()
        enc = nlu.model.encode(clean, segment)
        t2 = clock()
        outputs = run_model(nlu, enc)
        t3 = clock()
        out = decode(nlu, clean, enc, outputs)
        t4 = clock()
        resolve(out, clean, home, ctx, nlu.profiles)
        t5 = clock()
        nlu.parse(req.text, req.context)
        t6 = clock()
        ms = [(b - a) * 1e3 for a, b in ((t0, t1), (t1, t2), (t2, t3), (t3, t4), (t4, t5), (t5, t6))]
        return dict(zip((*STAGES, FULL), ms, strict=True))

    return run


def teacher(t: baseline.Teacher, nlu: EdgeNLU) -> Subject:
    """The teacher's forward pass on the same text and context segment our model reads."""
    def run(req: Request) -> dict[str, float]:
        clean, _, _, segment = prepare(nlu, req)
        enc = t.tokenize(clean, segment)
        t0 = time.perf_counter()
        t.forward(enc)
        return {"model": (time.perf_counter() - t0) * 1e3}

    return run


def measure(subjects: dict[str, Subject], reqs: list[Request]) -> dict[str, dict[str, list[float]]]:
    """Every subject on every request, taking turns (rotating who goes first) so noise hits all alike."""
    names = list(subjects)
    for req in reqs[:WARMUP]:
        for name in names:
            subjects[name](req)
    out: dict[str, dict[str, list[float]]] = {name: {} for name in names}
    for i, req in enumerate(reqs):
        k = i % len(names)
        for name in names[k:] + names[:k]:
            for stage, ms in subjects[name](req).items():
                out[name].setdefault(stage, []).append(ms)
    return out


def token_counts(tokenize: Callable[[str, str], Any], nlu: EdgeNLU, reqs: list[Request]) -> list[int]:
    counts = []
    for req in reqs:
        clean, _, _, segment = prepare(nlu, req)
        counts.append(len(tokenize(clean, segment).ids))
    return counts


def _tok(nlu: EdgeNLU) -> Callable[[str, str], ModelInput]:
    return nlu.model.encode
