"""Settings of the self-learning layer (the `learning:` section of the serve config)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from edge_nlu.config_fields import NonEmpty, Range, read_section, to_mapping
from edge_nlu.errors import ConfigError
from edge_nlu.learn.markov import MinerSettings
from edge_nlu.learn.rewriter import RewriterSettings


@dataclass(frozen=True)
class LearnSettings:
    """How the hub learns from its own traffic."""

    store: Annotated[str, NonEmpty()] = "edge-nlu-learning.sqlite3"
    """Path of the interaction store (SQLite); in a config file, relative to the file's folder."""
    retention_days: float = 90.0
    """Turns older than this on their site's request clock (its requests' time, advanced by the host time since)
    are erased."""
    rephrase_window_s: float = 45.0
    """A next request later than this is never a rephrase of the previous one."""
    rephrase_threshold: float = 0.5
    """Probability from which the previous turn counts as retried: the wording detector's, moved by what
    happened around the pair (contextual.py: a barge-in or a failure on the first turn, whether the second
    worked, the devices both acted on)."""
    variant_threshold: float = 0.85
    """Wording-detector probability from which a request counts as a rewording of a learned failing phrasing,
    so that its rewrite carries over (variants.py)."""
    session_gap_s: float = 60.0
    """Turns further apart than this belong to different sessions when mining."""
    defect_confidence: float = 0.7
    """Below this the original parse is defect-prone and online retrieval is tried."""
    reload_interval_s: float = 1.0
    """How often the store's version is polled for new rewrites and preferences."""
    learn_interval_s: float = 0.0
    """The service mines by itself this often (0: only `edge-nlu learn`)."""
    personal_min_support: Annotated[int, Range(1)] = 2
    """Chains one user needs through an utterance for a personal precomputed rewrite."""
    teach_window_s: float = 60.0
    """How long an asked "what did you mean?" waits for its answer."""
    rewriter_dir: str | None = None
    """Encoder, rephrase detector and global index; None: the shipped `models/rewriter`."""
    min_global_users: Annotated[int, Range(1)] = 2
    """Distinct users whose chains must support a mined rewrite before it applies to everyone;
    below this (or `min_global_sites`) it stays personal to the users who produced it."""
    min_global_sites: Annotated[int, Range(1)] = 2
    """Distinct satellites (siteIds) those chains must come from: one client forging users is one site."""
    feedback_window_s: float = 120.0
    """A correction (text that becomes a rewrite) is refused when it comes later than this after its turn."""
    max_future_days: float = 366.0
    """A request `time` further than this ahead of the host clock is taken as arrival time instead, so
    retention and `forget --before` still reach it (replays a few months ahead still keep their times)."""
    shared_secret: Annotated[str | None, NonEmpty()] = field(default=None, repr=False)
    """When set, `edge-nlu/feedback` messages must carry it as `token`; others are refused."""
    allowed_sites: tuple[Annotated[str, NonEmpty()], ...] | None = None
    """When set, only these siteIds are recorded and learned from; queries from others are answered by
    the plain pipeline and their feedback is refused."""
    miner: MinerSettings = field(default_factory=MinerSettings)
    """Absorbing-chain thresholds."""
    rewriter: RewriterSettings = field(default_factory=RewriterSettings)
    """Online retrieval thresholds."""

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LearnSettings:
        """Read the `learning:` section; unknown keys, wrong types and bad values are ConfigErrors."""
        if isinstance(d, Mapping) and "rephrase_threshold_after_defect" in d:
            raise ConfigError("learning.rephrase_threshold_after_defect: removed; the contextual rephrase detector "
                              "weighs a defect on the first turn itself (learning.rephrase_threshold is the one "
                              "threshold)")
        if isinstance(d, Mapping) and "min_confidence" in d:
            raise ConfigError("learning.min_confidence: removed; the top-level min_confidence is the one threshold "
                              "(below it a query is not recognized, and learning counts that turn as a defect)")
        return read_section(cls, d, "learning")

    def to_dict(self) -> dict[str, Any]:
        """The `learning:` section; `from_dict(to_dict())` gives back an equal object."""
        out: dict[str, Any] = to_mapping(self)
        return out
