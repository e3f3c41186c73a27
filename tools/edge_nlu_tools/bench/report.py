"""What `edge-nlu bench` measured, as frozen dataclasses: built by `main`, drawn and tabled by `plot`,
written as bench.json."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from edge_nlu_tools.bench.macs import Macs


@dataclass(frozen=True)
class Stat:
    """Latency of one stage over a run, in milliseconds."""

    p50_ms: float
    """Median."""
    p99_ms: float
    """99th percentile (the tail a user notices)."""
    mean_ms: float
    """Mean; above p50 when there are outliers."""
    n: int
    """Timed requests."""

    @classmethod
    def of(cls, ms: list[float]) -> Stat:
        a = np.asarray(ms)
        return cls(float(np.percentile(a, 50)), float(np.percentile(a, 99)), float(a.mean()), len(ms))


@dataclass(frozen=True)
class Run:
    """One runtime configuration measured over all requests."""

    label: str
    """`1 thread`, `2 threads`, `pi-class (1 core)`."""
    threads: int
    """onnxruntime intra-op threads."""
    cpus: list[int] | None
    """CPUs the process may use (None where the OS does not tell)."""
    stages: dict[str, Stat]
    """Per stage, plus `parse` for the whole request."""


@dataclass(frozen=True)
class ColdStart:
    """Starting the runtime in a fresh process, the way a hub service starts."""

    process_s: float
    """Spawn to exit: interpreter, imports, load, first parse (median of the runs)."""
    import_s: float
    """Importing edge_nlu and onnxruntime."""
    load_s: float
    """Verifying the model files, loading tokenizer and ONNX session, the home and profiles."""
    first_parse_s: float
    """The first request (includes onnxruntime's lazy first-run work)."""
    rss_after_load_mb: float
    """Resident memory after load (VmRSS)."""
    peak_rss_mb: float
    """Peak resident memory after the first parse."""
    runs: int
    """Fresh processes started."""


@dataclass(frozen=True)
class Baseline:
    """A teacher variant timed in the same loop as our model."""

    name: str
    """`minilm_int8` or `minilm_fp32`."""
    bytes: int
    """Its ONNX file size."""
    model: Stat
    """Its forward pass (our `model` stage's equivalent)."""
    macs: Macs | None
    """Its compute per request, at its own median token count."""
    ratio_model_p50: float
    """Our one-thread model stage p50 / its p50 (below 1: ours is faster)."""
    ratio_model_p99: float
    """The same at p99."""
    ratio_parse_p50: float
    """Our whole parse p50 / its bare forward p50."""


@dataclass(frozen=True)
class BenchReport:
    """Everything `edge-nlu bench` measured; written as bench.json."""

    machine: dict[str, Any]
    """Platform, CPU, core count, onnxruntime version."""
    requests: dict[str, Any]
    """How many, from where, how many with a context, token counts."""
    model: dict[str, Any]
    """Model directory, file sizes, parameters."""
    macs: Macs | None
    """Our model's compute per request at the median token count."""
    runs: list[Run]
    """One thread, all threads, and the pinned Pi-class child when asked."""
    cold_start: ColdStart
    """Fresh-process start."""
    baselines: list[Baseline] = field(default_factory=list)
    """The teacher, when the export extra is installed."""
    baselines_skipped: str | None = None
    """Why there are no baselines."""
    pi_estimate: dict[str, Any] | None = None
    """Rough Pi model-stage times scaled from this machine (x86 only)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
