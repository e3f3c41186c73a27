"""Multiply-accumulates per request: the machine-independent cost of one forward pass.

Time on a Pi is roughly MACs / (the Pi core's int8 MAC rate), so with this count and this
machine's model time a user can place a Pi's time without owning one. For a BERT encoder with
L layers, hidden size d, feed-forward size f and S tokens (tagging head with T tags, intent head
with I intents on the first token):

    MACs(S) = L * (S*(3d*d + d*d + 2*d*f) + 2*S*S*d) + S*d*T + d*I

per layer: the Q, K, V projections (3d*d per token), the attention output projection (d*d),
the feed-forward pair (2*d*f), and the attention itself, Q.K^T and softmax.V (S*S*d each, summed
over the heads). Embedding lookups, layer norms, GELU and softmax are not MACs and are left out.
The graph count reads the same terms off the ONNX file (every MatMul / Gemm / MatMulInteger /
Attention / QAttention with a weight initializer, rows = tokens, or 1 after the first-token
Gather); it needs the `onnx` package, the formula does not. The two agree for our model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

DENSE_OPS = {"MatMul", "Gemm", "MatMulInteger", "DynamicQuantizeMatMul", "MatMulIntegerToFloat", "FusedMatMul"}
ATTENTION_OPS = {"Attention", "QAttention"}


@dataclass(frozen=True)
class Macs:
    """Compute for one request of a typical length."""

    seq_len: int
    """Tokens the count is for: the run's median request, context segment included."""
    total: int
    """MACs per request: the graph count when `onnx` is installed, else the formula."""
    formula: int
    """The module docstring's formula with the model's config."""
    graph: int | None
    """Counted from the ONNX graph; None without the `onnx` package."""
    expression: str
    """The formula with this model's numbers filled in."""


def formula(layers: int, hidden: int, ffn: int, seq: int, tags: int = 0, intents: int = 0) -> tuple[int, str]:
    d, f, s = hidden, ffn, seq
    value = layers * (s * (4 * d * d + 2 * d * f) + 2 * s * s * d) + s * d * tags + d * intents
    text = f"{layers}*({s}*(4*{d}^2 + 2*{d}*{f}) + 2*{s}^2*{d}) + {s}*{d}*{tags} + {d}*{intents}"
    return value, text


def graph_macs(path: Path, seq: int, hidden: int) -> int | None:
    """MACs read off the graph for a batch of one with `seq` tokens; None without `onnx`."""
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        return None
    g = onnx.load(str(path), load_external_data=False).graph
    weights = {t.name: list(t.dims) for t in g.initializer}
    consts = set(weights)
    rows: dict[str, int] = {i.name: seq for i in g.input if i.name not in consts}
    total = 0
    for node in g.node:
        if node.op_type == "Constant":
            consts.update(node.output)
            continue
        acts = [rows[x] for x in node.input if x in rows]
        r = max(acts) if acts else None
        if r is None:
            continue
        if node.op_type == "Gather" and len(node.input) > 1 and node.input[1] in consts:
            idx = _const(g, node.input[1], numpy_helper)
            if idx is not None and idx.ndim == 0:
                r = 1  # one token picked out (the intent head's first token)
        w = next((weights[x] for x in node.input[:2] if x in weights and len(weights[x]) == 2), None)
        if node.op_type in DENSE_OPS:
            if w is not None:
                k, n = (w[1], w[0]) if node.op_type == "Gemm" and _attr(node, "transB") else (w[0], w[1])
                total += r * k * n
            elif len(acts) == 2:
                total += r * r * hidden  # an unfused Q.K^T or softmax.V, all heads together
        elif node.op_type in ATTENTION_OPS and w is not None:
            total += r * w[0] * w[1] + 2 * r * r * (w[1] // 3)
        for out in node.output:
            rows[out] = r
    return total


def _attr(node: Any, name: str) -> int:
    return next((int(a.i) for a in node.attribute if a.name == name), 0)


def _const(g: Any, name: str, numpy_helper: Any) -> Any:
    for t in g.initializer:
        if t.name == name:
            return numpy_helper.to_array(t)
    for node in g.node:
        if node.op_type == "Constant" and name in node.output:
            return next((numpy_helper.to_array(a.t) for a in node.attribute if a.name == "value"), None)
    return None


def count_macs(path: Path, seq: int, layers: int, hidden: int, tags: int = 0, intents: int = 0,
               ffn: int | None = None) -> Macs:
    """Our model or the teacher; the feed-forward size is the BERT default 4*hidden unless given."""
    value, text = formula(layers, hidden, ffn or 4 * hidden, seq, tags, intents)
    counted = graph_macs(path, seq, hidden)
    return Macs(seq_len=seq, total=counted if counted is not None else value, formula=value, graph=counted,
                expression=text)
