"""Rendering an `edge-nlu bench` report: the plain-text table and bench.png.

matplotlib is not a runtime dependency, so when it is missing the chart is drawn with numpy into
an RGB array and written by a few lines of PNG encoding (zlib + CRC chunks) with a 3x5 pixel
font: the plot always exists, on a bare hub too.
"""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from edge_nlu_tools.bench.main import BenchReport

STAGE_ORDER = ("prepare", "tokenize", "model", "decode", "resolve", "parse")
# Each glyph: the character, then five rows of three pixels, a row as one octal digit (4 = left pixel).
FONT = ("075557 126227 271747 371717 455711 574717 674757 771111 875757 975717 A25755 B65656 "
        "C34443 D65556 E74647 F74644 G34553 H55755 I72227 J11152 K55655 L44447 M57755 N65555 "
        "O25552 P65644 Q25563 R65655 S34216 T72222 U55557 V55552 W55775 X55255 Y55222 Z71247 "
        ".00002 -00700 /11244 (24442 )21112 :02020 %51245 _00007 =07070 +02720 ,00024")
P50, P99, INK, GRID = (52, 101, 164), (239, 160, 60), (30, 30, 30), (215, 215, 215)


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


def write_png(report: BenchReport, path: Path) -> str:
    """Write the bar chart; says which renderer drew it."""
    groups = bars(report)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        path.write_bytes(png_bytes(draw(groups, f"edge-nlu bench, {report.runs[0].label}, ms (log)")))
        return "built-in PNG encoder"
    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=100)
    x = np.arange(len(groups))
    ax.bar(x - 0.18, [g[1] for g in groups], 0.36, label="p50", color=np.asarray(P50) / 255)
    ax.bar(x + 0.18, [g[2] for g in groups], 0.36, label="p99", color=np.asarray(P99) / 255)
    ax.set_xticks(x, [g[0] for g in groups])
    ax.set_yscale("log")
    ax.set_ylabel("ms")
    ax.set_title(f"edge-nlu bench, {report.runs[0].label}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return "matplotlib"


def draw(groups: list[tuple[str, float, float]], title: str, w: int = 800, h: int = 420) -> np.ndarray:
    """A log-scale bar chart, p50 and p99 side by side per group, as an h x w x 3 uint8 array."""
    img = np.full((h, w, 3), 255, dtype=np.uint8)
    left, right, top, bottom = 70, w - 20, 50, h - 50
    vals = [v for g in groups for v in g[1:] if v > 0] or [1.0]
    lo, hi = math.floor(math.log10(min(vals))), math.ceil(math.log10(max(vals)))
    hi = max(hi, lo + 1)

    def y_of(v: float) -> int:
        frac = (math.log10(max(v, 10.0**lo)) - lo) / (hi - lo)
        return int(round(bottom - frac * (bottom - top)))

    for d in range(lo, hi + 1):
        y = y_of(10.0**d)
        img[y, left:right] = GRID
        label = f"{10.0**d:g}"
        text(img, left - 8 - 8 * len(label), y - 5, label, 2, INK)
    slot = (right - left) / max(1, len(groups))
    for i, (name, p50, p99) in enumerate(groups):
        x0 = int(left + i * slot + slot * 0.15)
        bw = max(1, int(slot * 0.33))
        for k, (v, color) in enumerate(((p50, P50), (p99, P99))):
            xs = x0 + k * bw
            img[y_of(v):bottom, xs:xs + bw - 1] = color
        label = name.upper()[: max(1, int((slot - 8) // 8))]
        text(img, int(left + i * slot + (slot - 8 * len(label)) / 2), bottom + 10, label, 2, INK)
    img[top:bottom + 1, left] = INK
    img[bottom, left:right] = INK
    text(img, left, 15, title.upper(), 2, INK)
    for k, (name, color) in enumerate((("P50", P50), ("P99", P99))):
        x = right - 120 + 60 * k
        img[16:26, x:x + 10] = color
        text(img, x + 14, 16, name, 2, INK)
    return img


def text(img: np.ndarray, x: int, y: int, s: str, scale: int, color: tuple[int, int, int]) -> None:
    """Draw `s` with the 3x5 font; unknown characters become blanks."""
    glyphs = {item[0]: item[1:] for item in FONT.split(" ") if item}
    for ch in s:
        rows = glyphs.get(ch, "00000")
        for r, digit in enumerate(rows):
            for c in range(3):
                if int(digit) & (4 >> c):
                    ys, xs = y + r * scale, x + c * scale
                    if 0 <= ys and ys + scale <= img.shape[0] and 0 <= xs and xs + scale <= img.shape[1]:
                        img[ys:ys + scale, xs:xs + scale] = color
        x += 4 * scale


def png_bytes(rgb: np.ndarray) -> bytes:
    """Encode an h x w x 3 uint8 array as a truecolor PNG (filter 0 on every row)."""
    h, w, _ = rgb.shape
    raw = np.concatenate([np.zeros((h, 1), dtype=np.uint8), rgb.reshape(h, w * 3)], axis=1).tobytes()

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
