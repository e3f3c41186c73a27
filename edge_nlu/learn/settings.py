"""Settings of the self-learning layer (the `learning:` section of the serve config)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from edge_nlu.errors import ConfigError
from edge_nlu.learn.markov import MinerSettings
from edge_nlu.learn.rewriter import RewriterSettings


@dataclass(frozen=True)
class LearnSettings:
    """How the hub learns from its own traffic."""

    store: str = "edge-nlu-learning.sqlite3"
    """Path of the interaction store (SQLite)."""
    retention_days: float = 90.0
    """Turns older than this are erased."""
    rephrase_window_s: float = 45.0
    """A next request later than this is never a rephrase of the previous one."""
    rephrase_threshold: float = 0.5
    """Rephrase-detector probability from which the previous turn counts as rephrased."""
    rephrase_threshold_after_defect: float = 0.25
    """The same when the previous turn already has a defect signal (barge-in, not recognized, negative):
    a retry is then much more likely, so less evidence from the wording is needed."""
    session_gap_s: float = 60.0
    """Turns further apart than this belong to different sessions when mining."""
    min_confidence: float = 0.5
    """Below this NLU confidence the service answers intentNotRecognized (a defect signal)."""
    defect_confidence: float = 0.7
    """Below this the original parse is defect-prone and online retrieval is tried."""
    reload_interval_s: float = 1.0
    """How often the store's version is polled for new rewrites and preferences."""
    learn_interval_s: float = 0.0
    """The service mines by itself this often (0: only `edge-nlu learn`)."""
    personal_min_support: int = 2
    """Chains one user needs through an utterance for a personal precomputed rewrite."""
    teach_window_s: float = 60.0
    """How long an asked "what did you mean?" waits for its answer."""
    rewriter_dir: str | None = None
    """Encoder, rephrase detector and global index; None: the shipped `models/rewriter`."""
    min_global_users: int = 2
    """Distinct users whose chains must support a mined rewrite before it applies to everyone;
    below this (or `min_global_sites`) it stays personal to the users who produced it."""
    min_global_sites: int = 2
    """Distinct satellites (siteIds) those chains must come from: one client forging users is one site."""
    feedback_window_s: float = 120.0
    """A correction (text that becomes a rewrite) is refused when it comes later than this after its turn."""
    max_future_days: float = 366.0
    """A request `time` further than this ahead of the host clock is taken as arrival time instead, so
    retention and `forget --before` still reach it (replays a few months ahead still keep their times)."""
    shared_secret: str | None = None
    """When set, `edge-nlu/feedback` messages must carry it as `token`; others are refused."""
    allowed_sites: tuple[str, ...] | None = None
    """When set, only these siteIds are recorded and learned from; queries from others are answered by
    the plain pipeline and their feedback is refused."""
    miner: MinerSettings = field(default_factory=MinerSettings)
    """Absorbing-chain thresholds."""
    rewriter: RewriterSettings = field(default_factory=RewriterSettings)
    """Online retrieval thresholds."""

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LearnSettings:
        unknown = sorted(str(k) for k in d if k not in cls.__dataclass_fields__)
        if unknown:
            raise ConfigError(f"learning: unknown key(s) {', '.join(unknown)}; "
                              f"allowed: {', '.join(sorted(cls.__dataclass_fields__))}")
        kw: dict[str, Any] = {k: d[k] for k in cls.__dataclass_fields__ if k in d and k not in ("miner", "rewriter")}
        secret = kw.get("shared_secret")
        if secret is not None and (not isinstance(secret, str) or not secret):
            raise ConfigError("learning.shared_secret must be a non-empty string")
        sites = kw.get("allowed_sites")
        if sites is not None:
            if not isinstance(sites, (list, tuple)) or not all(isinstance(x, str) and x for x in sites):
                raise ConfigError("learning.allowed_sites must be a list of siteIds (strings)")
            kw["allowed_sites"] = tuple(sites)
        for k in ("store", "rewriter_dir"):
            if kw.get(k) is not None:
                kw[k] = str(kw[k])
        for k in ("retention_days", "rephrase_window_s", "rephrase_threshold",
                  "rephrase_threshold_after_defect", "session_gap_s", "min_confidence",
                  "defect_confidence", "reload_interval_s", "learn_interval_s", "teach_window_s",
                  "feedback_window_s", "max_future_days"):
            if k in kw:
                try:
                    kw[k] = float(kw[k])
                except (TypeError, ValueError) as exc:
                    raise ConfigError(f"learning.{k} must be a number, not {kw[k]!r}") from exc
        for k in ("personal_min_support", "min_global_users", "min_global_sites"):
            if k in kw:
                if isinstance(kw[k], bool) or not isinstance(kw[k], int) or kw[k] < 1:
                    raise ConfigError(f"learning.{k} must be a whole number >= 1, not {kw[k]!r}")
        try:
            miner = MinerSettings.from_dict(dict(d.get("miner") or {}))
            rewriter = RewriterSettings.from_dict(dict(d.get("rewriter") or {}))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"learning: {exc}") from exc
        return cls(**kw, miner=miner, rewriter=rewriter)

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in ("miner", "rewriter")}
        if self.allowed_sites is not None:
            out["allowed_sites"] = list(self.allowed_sites)
        out["miner"] = self.miner.to_dict()
        out["rewriter"] = self.rewriter.to_dict()
        return out
