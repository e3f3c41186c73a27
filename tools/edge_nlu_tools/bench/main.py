"""`edge-nlu bench`: where a request's time goes on this machine, and what that means for a Pi.

Each request is run stage by stage (prepare -> tokenize -> model -> decode -> resolve) and, separately,
as one full `EdgeNLU.parse`, on a one-thread and an all-threads runtime (and the teacher baselines),
taking turns request by request so that machine noise hits every subject alike. Figures are medians
and p99 of one run; compare ratios, not absolute numbers, across machines. See `bench_macs` for
the compute count that lets a user scale this machine's time to a Pi.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from edge_nlu.domain.home import Home
from edge_nlu.errors import EdgeNLUError, ErrorCode
from edge_nlu.pipeline import EdgeNLU
from edge_nlu.settings import RuntimeSettings
from edge_nlu_tools.bench import baseline
from edge_nlu_tools.bench.macs import count_macs
from edge_nlu_tools.bench.plot import INSTALL_HINT, format_table, write_png
from edge_nlu_tools.bench.report import Baseline, BenchReport, ColdStart, Run, Stat
from edge_nlu_tools.bench.stages import (
    FULL,
    WARMUP,
    build_requests,
    check_mirror,
    measure,
    staged,
    teacher,
    token_counts,
)

# The child's first lines time the import of the runtime itself, before anything of bench loads.
CHILD = ("import sys, time\nt0 = time.perf_counter()\nimport edge_nlu.pipeline\n"
         "took = time.perf_counter() - t0\nfrom edge_nlu_tools.bench.main import child_main\n"
         "raise SystemExit(child_main(sys.argv[1:], took))\n")
# Rule of thumb for small int8 BERTs under onnxruntime, one thread: how many times slower than an
# x86 core with AVX-512/VNNI a Pi core runs them (Pi 4: Cortex-A72, no dot product; Pi 5: A76, UDOT).
PI_FACTORS = {"pi4": (20.0, 25.0), "pi5": (6.0, 10.0)}
PI4_TEACHER_MS = 34.0
COLD_TEXT = "turn on the lights in the kitchen"


@dataclass(frozen=True)
class BenchOptions:
    """What `edge-nlu bench` was asked to do."""

    model_dir: Path
    """The model directory to measure."""
    home_path: Path | None = None
    """Home snapshot; None for the demo home."""
    n: int = 1000
    """Timed requests per subject."""
    out_dir: Path = Path(".")
    """Where bench.json and bench.png go."""
    pi: bool = False
    """Also re-run in a child pinned to one core with one thread."""
    baselines: bool = True
    """Time the teacher too, when the export extra is installed."""
    seed: int = 1
    """Request sampling seed."""
    cold_runs: int = 3
    """Fresh processes for the cold start."""


def _cpus() -> list[int] | None:
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None


def _stats(times: dict[str, list[float]]) -> dict[str, Stat]:
    return {stage: Stat.of(ms) for stage, ms in times.items()}


def _rss_mb() -> tuple[float, float]:
    """(current, peak) resident memory of this process, in MB."""
    try:
        fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines()
                      if ":" in line)
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024
    except (OSError, KeyError, ValueError):
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1 << 20 if sys.platform == "darwin" else 1024)
        return peak, peak


def _spawn(args: list[str], timeout: float) -> tuple[dict[str, Any], float]:
    """Run a bench child in a fresh interpreter; its JSON answer and its wall time."""
    env = dict(os.environ)
    here = Path(__file__).resolve()
    root = os.pathsep.join((str(here.parents[3]), str(here.parents[2])))  # a checkout's edge_nlu and tools
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True, text=True,  # noqa: S603
                          env=env, timeout=timeout, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0 or not proc.stdout.strip():
        raise EdgeNLUError(f"bench child {args[0]} failed: {proc.stderr.strip()[-800:]}", ErrorCode.BENCH_FAILED)
    answer: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return answer, wall


def child_main(argv: list[str], import_s: float) -> int:
    """Entry of the fresh processes: `cold` (start-up cost) or `pi` (pinned one-core run)."""
    mode, model, home, n, seed = argv
    if mode == "cold":
        t0 = time.perf_counter()
        nlu = EdgeNLU(RuntimeSettings(Path(model), home_path=Path(home), threads=1))
        t1 = time.perf_counter()
        rss, _ = _rss_mb()
        nlu.parse(COLD_TEXT)
        t2 = time.perf_counter()
        print(json.dumps({"import_s": import_s, "load_s": t1 - t0, "first_parse_s": t2 - t1,
                          "rss_after_load_mb": rss, "peak_rss_mb": _rss_mb()[1]}))
        return 0
    cpus = _cpus()
    if cpus and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpus[-1]})  # one core, before the session makes its thread pool
    loaded = Home.load(home)
    nlu = EdgeNLU(RuntimeSettings(Path(model), threads=1), home=loaded)
    reqs, _ = build_requests(loaded, int(n), int(seed))
    run = Run("pi-class (1 core)", 1, _cpus(), _stats(measure({"pi": staged(nlu)}, reqs)["pi"]))
    print(json.dumps(asdict(run)))
    return 0


def cold_start(opts: BenchOptions, home: Path) -> ColdStart:
    """Median over `cold_runs` fresh processes: load the runtime, parse one request."""
    rows = []
    for _ in range(max(1, opts.cold_runs)):
        answer, wall = _spawn(["cold", str(opts.model_dir), str(home), "1", "0"], timeout=300)
        rows.append({**answer, "process_s": wall})
    med = {k: float(np.median([r[k] for r in rows])) for k in rows[0]}
    return ColdStart(process_s=med["process_s"], import_s=med["import_s"], load_s=med["load_s"],
                     first_parse_s=med["first_parse_s"], rss_after_load_mb=med["rss_after_load_mb"],
                     peak_rss_mb=med["peak_rss_mb"], runs=len(rows))


def pi_run(opts: BenchOptions, home: Path) -> Run:
    answer, _ = _spawn(["pi", str(opts.model_dir), str(home), str(opts.n), str(opts.seed)], timeout=3600)
    stages = {k: Stat(**v) for k, v in answer.pop("stages").items()}
    return Run(label=answer["label"], threads=answer["threads"], cpus=answer["cpus"], stages=stages)


def machine() -> dict[str, Any]:
    cpu, flags = platform.processor(), set()
    try:
        info = Path("/proc/cpuinfo").read_text().splitlines()
        cpu = next((x.split(":", 1)[1].strip() for x in info if x.startswith("model name")), cpu)
        flags = set(next((x.split(":", 1)[1].split() for x in info if x.startswith("flags")), []))
    except OSError:
        pass
    return {"platform": platform.platform(), "arch": platform.machine(), "cpu": cpu, "cpu_count": os.cpu_count(),
            "affinity": _cpus(), "vnni": bool(flags & {"avx512_vnni", "avx_vnni"}),
            "python": platform.python_version(), "onnxruntime": ort.__version__,
            "load_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None}


def _teachers(opts: BenchOptions) -> tuple[list[baseline.Teacher], str | None]:
    if not opts.baselines:
        return [], "--no-baselines"
    cache = baseline.cache_dir()
    why = baseline.unavailable(cache)
    if why is not None:
        return [], why
    print(f"edge-nlu bench: teacher baselines from {cache} (exported on first use)", file=sys.stderr)
    return baseline.load_teachers(cache), None


def _baseline(t: baseline.Teacher, times: dict[str, list[float]], ours: Run, seq: int) -> Baseline:
    stat = Stat.of(times["model"])
    return Baseline(name=t.name, bytes=t.path.stat().st_size, model=stat,
                    macs=count_macs(t.path, seq, baseline.LAYERS, baseline.HIDDEN),
                    ratio_model_p50=ours.stages["model"].p50_ms / stat.p50_ms,
                    ratio_model_p99=ours.stages["model"].p99_ms / stat.p99_ms,
                    ratio_parse_p50=ours.stages[FULL].p50_ms / stat.p50_ms)


def run(opts: BenchOptions) -> BenchReport:
    """Measure everything `edge-nlu bench` reports; prints progress to stderr."""
    if opts.n < 1:
        raise EdgeNLUError("--n must be at least 1", ErrorCode.INVALID_INPUT)
    from edge_nlu_tools.demo.offline import demo_home_path

    home_path = opts.home_path or demo_home_path()
    home = Home.load(home_path)
    host = machine()
    one = EdgeNLU(RuntimeSettings(opts.model_dir, threads=1), home=home)
    reqs, source = build_requests(home, opts.n, opts.seed)
    check_mirror(one, reqs[:8])
    teachers, skipped = _teachers(opts)
    subjects = {"1 thread": staged(one), **{t.name: teacher(t, one) for t in teachers}}
    print(f"edge-nlu bench: {opts.n} requests x {len(subjects)} subjects, taking turns", file=sys.stderr)
    times = measure(subjects, reqs)
    runs = [Run("1 thread", 1, _cpus(), _stats(times["1 thread"]))]
    cores = os.cpu_count() or 1
    if cores > 1:
        # A loop of its own: after each run a multi-thread session's workers spin for a while and would
        # steal the core from whichever one-thread subject came next (3x slower on a busy 2-core box).
        multi = EdgeNLU(RuntimeSettings(opts.model_dir, threads=cores), home=home)
        label = f"{cores} threads"
        runs.append(Run(label, cores, _cpus(), _stats(measure({label: staged(multi)}, reqs)[label])))
    if opts.pi:
        print("edge-nlu bench: pi-class child pinned to one core", file=sys.stderr)
        runs.append(pi_run(opts, home_path))
    cold = cold_start(opts, home_path)
    tokens = token_counts(lambda a, b: one.model.tok.encode(a, b) if b else one.model.tok.encode(a), one, reqs)
    seq = int(np.median(tokens))
    cfg = one.model.manifest.get("student") or {}
    macs = count_macs(opts.model_dir / "model.onnx", seq, int(cfg.get("layers", 0)), int(cfg.get("hidden", 0)),
                      len(one.model.labels.tags), len(one.model.labels.intents), cfg.get("intermediate"))
    base = [_baseline(t, times[t.name], runs[0], int(np.median(token_counts(t.tokenize, one, reqs))))
            for t in teachers]
    files = {name: (opts.model_dir / name).stat().st_size for name in [*one.model.manifest["files"], "manifest.json"]}
    model_p50 = runs[-1].stages["model"].p50_ms if opts.pi else runs[0].stages["model"].p50_ms
    model = {"dir": str(opts.model_dir), "files": files, "total_bytes": sum(files.values()),
             "params": cfg.get("params"), "layers": cfg.get("layers"), "hidden": cfg.get("hidden"),
             "heads": cfg.get("heads"), "intermediate": cfg.get("intermediate"),
             "vocab": cfg.get("vocab"), "gmac_per_s_1thread": macs.total / runs[0].stages["model"].p50_ms / 1e6}
    pi: dict[str, Any] = {}
    if host["vnni"]:  # the factors were measured against such a core
        pi["basis_factors"] = (f"Pi 4 {PI_FACTORS['pi4']}x, Pi 5 {PI_FACTORS['pi5']}x slower than an AVX-512/VNNI x86 "
                               "core for small int8 BERTs on one thread; model stage, "
                               + ("pi-class run" if opts.pi else "1-thread run"))
        pi.update({f"{k}_model_ms": [model_p50 * lo, model_p50 * hi] for k, (lo, hi) in PI_FACTORS.items()})
    if base:
        pi["basis_teacher"] = (f"all-MiniLM-L6-v2 reported at ~{PI4_TEACHER_MS:.0f} ms on a Pi 4, times our "
                               "model/teacher-int8 p50 ratio from this run (teacher's request length unknown)")
        pi["pi4_model_ms_from_teacher"] = PI4_TEACHER_MS * base[0].ratio_model_p50
    requests = {"n": opts.n, "source": source, "with_context": sum(r.context is not None for r in reqs),
                "warmup": min(opts.n, WARMUP), "tokens_p50": seq, "tokens_max": max(tokens)}
    return BenchReport(machine=host, requests=requests, model=model, macs=macs, runs=runs, cold_start=cold,
                       baselines=base, baselines_skipped=skipped, pi_estimate=pi or None)


def main(opts: BenchOptions) -> int:
    """Run, print the table, write bench.json and (with matplotlib) bench.png into `opts.out_dir`."""
    report = run(opts)
    print(format_table(report))
    opts.out_dir.mkdir(parents=True, exist_ok=True)
    (opts.out_dir / "bench.json").write_text(json.dumps(report.to_dict(), indent=1) + "\n", encoding="utf-8")
    if write_png(report, opts.out_dir / "bench.png"):
        print(f"wrote {opts.out_dir / 'bench.json'} and {opts.out_dir / 'bench.png'} (matplotlib)")
    else:
        print(f"wrote {opts.out_dir / 'bench.json'}; bench.png needs matplotlib: {INSTALL_HINT}")
    return 0
