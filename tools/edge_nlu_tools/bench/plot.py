"""Rendering an `edge-nlu bench` report: the plain-text table and bench.png.

The chart is drawn by matplotlib (the `bench` extra: `pip install ./tools[bench]`) on the Agg
canvas, so it needs no display; without matplotlib the bench still writes bench.json and the table.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from edge_nlu_tools.bench.report import BenchReport

STAGE_ORDER = ("prepare", "tokenize", "model", "decode", "resolve", "parse")
P50, P99 = "#3465a4", "#efa03c"
"""Bar colours: p50 blue, p99 orange."""
INSTALL_HINT = "pip install ./tools[bench]"
"""What installs matplotlib for the plot."""


def bars(report: BenchReport) -> list[tuple[str, float, float]]:
    """(label, p50 ms, p99 ms) per bar group: our stages on one thread, then the teachers' (`t-`) model stage."""
    run = report.runs[0]
    out = [(s, run.stages[s].p50_ms, run.stages[s].p99_ms) for s in STAGE_ORDER if s in run.stages]
    out += [(b.name.replace("minilm_", "t-"), b.model.p50_ms, b.model.p99_ms) for b in report.baselines]
    return out


def format_table(report: BenchReport) -> str:
    m, rq = report.machine, report.requests
    lines = [f"edge-nlu bench on {m['cpu']} ({m['cpu_count']} CPUs, {m['arch']}), onnxruntime {m['onnxruntime']}, "
             f"load {m['load_1m']}",
             f"{rq['n']} requests from {rq['source']}, {rq['with_context']} with a context; "
             f"median {rq['tokens_p50']} tokens (max {rq['tokens_max']})", "",
             "latency ms, p50 / p99".ljust(24) + "".join(r.label.ljust(22) for r in report.runs)]
    for stage in STAGE_ORDER:
        name = "parse (whole request)" if stage == "parse" else stage
        cells = [f"{r.stages[stage].p50_ms:.3f} / {r.stages[stage].p99_ms:.3f}" for r in report.runs]
        lines.append(("  " + name).ljust(24) + "".join(c.ljust(22) for c in cells))
    if report.baselines:
        lines += ["", "teacher all-MiniLM-L6-v2 forward, same requests and loop, 1 thread "
                      "(ratios: ours on 1 thread / teacher)"]
        for b in report.baselines:
            macs = f"{b.macs.total / 1e6:.1f} MMAC" if b.macs else "?"
            lines.append(f"  {b.name:<12} {b.model.p50_ms:.3f} / {b.model.p99_ms:.3f} ms  {b.bytes / 1e6:.1f} MB  "
                         f"{macs}  model p50 {b.ratio_model_p50:.2f}  p99 {b.ratio_model_p99:.2f}  "
                         f"whole parse p50 {b.ratio_parse_p50:.2f}")
    else:
        lines += ["", f"teacher baselines skipped: {report.baselines_skipped}"]
    if report.macs:
        c = report.macs
        check = "graph count = formula" if c.graph == c.formula else f"graph {c.graph}, formula {c.formula}"
        lines += ["", f"compute   {c.total / 1e6:.1f} MMAC per request at {c.seq_len} tokens ({check}); "
                      f"{report.model['gmac_per_s_1thread']:.1f} GMAC/s on one thread here",
                  f"          {c.expression}"]
    p = report.pi_estimate or {}
    if "pi4_model_ms" in p:
        lines.append("pi guess  model stage: Pi 4 ~{:.1f}-{:.1f} ms, Pi 5 ~{:.1f}-{:.1f} ms ({})".format(
            *p["pi4_model_ms"], *p["pi5_model_ms"], p["basis_factors"]))
    if "pi4_model_ms_from_teacher" in p:
        lines.append(f"pi guess  model stage: Pi 4 ~{p['pi4_model_ms_from_teacher']:.1f} ms ({p['basis_teacher']})")
    cs = report.cold_start
    lines.append(f"cold      {cs.process_s:.2f} s fresh process to first answer (import {cs.import_s:.2f} s, "
                 f"load {cs.load_s:.2f} s, first parse {cs.first_parse_s * 1e3:.1f} ms); RSS after load "
                 f"{cs.rss_after_load_mb:.0f} MB, peak {cs.peak_rss_mb:.0f} MB; median of {cs.runs}")
    files = ", ".join(f"{k} {v / 1e6:.2f} MB" for k, v in report.model["files"].items())
    lines.append(f"files     {files}; total {report.model['total_bytes'] / 1e6:.2f} MB")
    return "\n".join(lines)


def write_png(report: BenchReport, path: Path) -> bool:
    """Write the bar chart; False (and no file) when matplotlib is not installed."""
    try:
        fig = figure(bars(report), f"edge-nlu bench, {report.runs[0].label}")
    except ImportError:
        return False
    fig.savefig(path)
    return True


def figure(groups: list[tuple[str, float, float]], title: str) -> Figure:
    """p50 and p99 bars side by side per (label, p50 ms, p99 ms) group on a log axis, 800 x 420 px, on
    the Agg canvas (no display, no pyplot state). Raises ImportError without matplotlib."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4.2), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    x = range(len(groups))
    ax.bar([i - 0.18 for i in x], [g[1] for g in groups], 0.36, label="p50", color=P50)
    ax.bar([i + 0.18 for i in x], [g[2] for g in groups], 0.36, label="p99", color=P99)
    ax.set_xticks(list(x), [g[0] for g in groups])
    ax.set_yscale("log")
    ax.set_ylabel("ms")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return fig
