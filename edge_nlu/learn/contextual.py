"""Is the next turn a retry of the previous one? The wording, weighed with what happened around it.

The wording detector (`rephrase.py`) sees two sentences only. It misses retries that share no
words with what failed ("I'm freezing", then "turn the heating up") and takes two requests that
share most of their words ("turn on the porch light", then "turn on the garden light") for one.
Contextual rephrase detection (Wang et al., "Contextual Rephrase Detection for Reducing Friction
in Dialogue Systems", EMNLP 2021) adds what the interaction says: the time gap, the signal the
first turn got (a barge-in, a thumbs-down, not being understood), whether the second one worked,
and whether the two acted on the same devices.

We have no labelled pairs to fit such a model on (our own simulator would only teach it our
assumptions), so the evidence is combined as log-odds with fixed, stated weights: each cue moves
the wording detector's odds by a likelihood ratio we can defend without any particular
household's sentences.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from edge_nlu.learn.types import TurnRecord

EXPLICIT = 2.0
"""A barge-in or a thumbs-down on the first turn (about e^2 = 7x the odds): people cut off and retry
what went wrong far more often than they cut off and move on."""
NOT_UNDERSTOOD = 1.5
"""The first turn was not understood (below the recognition threshold, an error): nothing happened,
so what follows is most likely the same request again."""
UNRESOLVED = 1.0
"""The first turn was understood but did nothing (no device, no answer)."""
NOW_WORKS = 1.0
"""The second turn resolved where the first did not: the shape of a successful retry."""
OTHER_DEVICE = -2.5
"""Both turns worked, nothing marked the first as wrong, and the second did the same kind of thing to
other devices, or to the same ones with other content: two requests in a row ("turn on the porch
light", "turn on the garden light"; "add bread to the list", "add lemons to the list")."""
SAME_DEVICE = 0.5
"""The second acted on a device the first did: a correction of the same request is likelier."""
SLOW = -0.5
"""A second turn in the later half of the window: a retry usually comes within seconds."""
MAX_EVIDENCE = 4.5
"""Context cues together move the odds by at most this much (they are not independent): enough for a
failure that was cut off and followed at once by a request that works to outweigh wording that shares
nothing, not enough for context alone to link two requests that both worked."""
_CLIP = 0.05
"""The wording's probability is taken within [_CLIP, 1 - _CLIP]: a small model's certainty is not certain."""


@dataclass(frozen=True)
class Pair:
    """A previous turn and the request that followed it from the same user at the same satellite."""

    first: TurnRecord
    """The earlier turn as recorded."""
    first_signals: tuple[str, ...]
    """Signals the earlier turn got before the next request came (barge_in, negative, not_recognized...)."""
    second: TurnRecord
    """The next request as read (its own reaction is not known yet)."""
    gap_s: float
    """Request-time seconds between them."""
    wording: float
    """P(rephrase) from the wording alone (`RephraseDetector`, or 1/0 for an exact repeat without it)."""


def _logit(p: float) -> float:
    p = min(1.0 - _CLIP, max(_CLIP, p))
    return math.log(p / (1.0 - p))


def evidence(pair: Pair, window_s: float) -> float:
    """The context's log-odds shift, in [-MAX_EVIDENCE, MAX_EVIDENCE]."""
    a, b = pair.first, pair.second
    z = 0.0
    explicit = bool({"barge_in", "negative", "correction"} & set(pair.first_signals))
    understood = a.recognized and a.error_code is None and a.action is not None
    if explicit:
        z += EXPLICIT
    if not understood:
        z += NOT_UNDERSTOOD
    elif not a.resolved:
        z += UNRESOLVED
    if b.resolved and not a.resolved:
        z += NOW_WORKS
    if a.resolved and b.resolved and a.targets and b.targets:
        same_devices = bool(set(a.targets) & set(b.targets))
        other_content = bool(a.slots) and bool(b.slots) and a.meaning()[2] != b.meaning()[2]
        if not explicit and a.action == b.action and (not same_devices or other_content):
            z += OTHER_DEVICE  # "add bread to the list", then "add lemons to the list": another request
        elif same_devices:
            z += SAME_DEVICE
    if pair.gap_s > window_s / 2:
        z += SLOW
    return max(-MAX_EVIDENCE, min(MAX_EVIDENCE, z))


def probability(pair: Pair, window_s: float) -> float:
    """P(the second turn retries the first): the wording's odds moved by the context's evidence."""
    if pair.gap_s < 0 or pair.gap_s > window_s:
        return 0.0
    if pair.first.norm and pair.first.norm == pair.second.norm:
        return 1.0  # the same words again are a retry whatever happened
    z = _logit(pair.wording) + evidence(pair, window_s)
    return 1.0 / (1.0 + math.exp(-z))
