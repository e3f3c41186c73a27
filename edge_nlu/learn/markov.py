"""Precomputed rewrites from an absorbing Markov chain over rephrase chains (pure numpy).

Users who fail at `u` and rephrase until something works leave a path u -> ... -> h. Pooled over
all users, B = (I - Q)^-1 R gives, for each utterance, the probability of ending successfully at
each h. Every successful final utterance is its own absorbing state, plus one failure state: with a
single "success" state a defective intermediate would score P(success) = 1 merely because users
later succeed elsewhere (see ../shared/notes-self-learning.md).

Decisions:
- A self loop u -> u (the user repeats the same words) adds no transient edge; the repeated visit
  still counts towards u's visits and defects. Dropping it leaves absorption probabilities unchanged
  (a self loop only rescales the row) and keeps I - Q regular.
- A final turn is successful when it worked (`StoredTurn.worked`: no defect signal and it resolved), so an
  abandoned session's last failing phrasing is never taken for an answer.
- A successful final turn absorbs into success(norm of what the model read): when a live rewrite
  made it succeed, the success belongs to the rewrite's target, not to the words said. So src's own
  success rate counts only successes where the model read src itself.
- Likewise src's defect rate counts only visits where the model read src itself: successful rewritten
  uses are evidence for the rewrite, not that src works, so a rewrite is not retired by its own success.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from edge_nlu.config_fields import read_section
from edge_nlu.learn.types import LearnedRewrite, StoredTurn, TurnRecord, normalize

FAILURE = "<failure>"
"""Key of the failure absorbing state in `absorption` rows."""
_MAX_ITER = 100_000
_BLOCK = 2_000_000  # floats per iterative batch (16 MB)
_COARSE = 1e-3  # first push threshold of `mine`; sources that could still pass are refined 100x at a time

Arr = npt.NDArray[Any]


def chains(sessions: list[list[StoredTurn]]) -> list[list[StoredTurn]]:
    """Split time-ordered sessions into rephrase chains: a turn carrying `rephrase` links to the next turn."""
    out: list[list[StoredTurn]] = []
    for session in sessions:
        cur: list[StoredTurn] = []
        for st in sorted(session, key=lambda s: s.turn.ts):  # stable: equal times keep their order
            cur.append(st)
            if "rephrase" not in st.signals:
                out.append(cur)
                cur = []
        if cur:  # rephrased, but the session ended: the chain ends in failure
            out.append(cur)
    return out


@dataclass(frozen=True)
class MinerSettings:
    """Guardrails of the miner; conservative because a wrong global rewrite hurts every user."""

    min_support: int = 3
    """Chains through src needed before it may be rewritten: one user's habit is not a pattern."""
    min_defect_rate: float = 0.5
    """Only rewrite utterances that usually fail; working requests stay untouched."""
    margin: float = 0.2
    """B[src, success(h)] must beat src's own success rate by this much to be worth the risk."""
    min_probability: float = 0.5
    """B[src, success(h)] must be at least this: the rewrite should usually work."""
    max_component: int = 5000
    """Components up to this many states are solved densely (n^2 floats); larger ones iteratively."""
    tolerance: float = 1e-9
    """Iterative solve: mass below this at one state is not pushed on (B rows then sum to 1 - residual)."""

    def __post_init__(self) -> None:
        if self.min_support < 1 or self.max_component < 1 or self.tolerance <= 0:
            raise ValueError("min_support and max_component must be >= 1, tolerance > 0")
        for name in ("min_defect_rate", "margin", "min_probability"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1]")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MinerSettings:
        """`learning.miner`: unknown keys and wrong types are ConfigErrors with their key path."""
        return read_section(cls, d, "learning.miner")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class MineReport:
    """What one mining run saw and did (logged by `edge-nlu learn`)."""

    chains: int = 0
    states: int = 0
    transitions: int = 0
    """Counted u -> v transitions with u != v."""
    self_loops: int = 0
    """Counted u -> u repeats (no edge, see module doc)."""
    components: int = 0
    sources: int = 0
    """States passing min_support and min_defect_rate, i.e. solved for."""
    rewrites: int = 0
    largest_component: int = 0
    iterative_components: int = 0
    residual: float = 0.0
    """Largest unabsorbed mass behind a final decision: scores may be that much low (0 when all dense)."""
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Graph:
    """Counts over chains; states are transient, `absorbing[0]` is failure, the rest success(h)."""

    index: dict[str, int] = field(default_factory=dict)
    abs_index: dict[str, int] = field(default_factory=lambda: {FAILURE: 0})
    edges: Counter[tuple[int, int]] = field(default_factory=Counter)
    ends: Counter[tuple[int, int]] = field(default_factory=Counter)
    visits: Counter[int] = field(default_factory=Counter)
    defects: Counter[int] = field(default_factory=Counter)
    support: Counter[int] = field(default_factory=Counter)
    own_success: Counter[int] = field(default_factory=Counter)
    own_key: defaultdict[int, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    """Success states a state reached when read as said (its own success is not a rewrite target)."""
    texts: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    transitions: int = 0
    self_loops: int = 0

    states: list[str] = field(default_factory=list)  # filled from `index` once built
    absorbing: list[str] = field(default_factory=list)  # filled from `abs_index` once built


def _build(chain_list: list[list[StoredTurn]]) -> _Graph:
    g = _Graph()
    for chain in chain_list:
        seen: set[int] = set()
        for k, st in enumerate(chain):
            u = g.index.setdefault(st.turn.norm, len(g.index))
            seen.add(u)
            if st.turn.rewrite_text is None:  # how src fares as said; a rewritten use tells about the rewrite
                g.visits[u] += 1
                g.defects[u] += not st.worked
            if k + 1 < len(chain):
                v = chain[k + 1].turn.norm
                if v == st.turn.norm:
                    g.self_loops += 1
                else:
                    g.transitions += 1
                    g.edges[(u, g.index.setdefault(v, len(g.index)))] += 1
            elif not st.worked:
                g.ends[(u, 0)] += 1
            else:
                read = st.turn.rewrite_text or st.turn.text
                h = success_key(st.turn)
                g.ends[(u, g.abs_index.setdefault(h, len(g.abs_index)))] += 1
                g.texts[h][read] += 1
                as_said = st.turn.rewrite_text is None or normalize(st.turn.rewrite_text) == st.turn.norm
                g.own_success[u] += as_said
                if as_said:
                    g.own_key[u][h] += 1
        g.support.update(seen)
    g.states, g.absorbing = list(g.index), list(g.abs_index)
    return g


def success_key(turn: TurnRecord) -> str:
    """The absorbing state of a successful final turn: what it did (action, devices, content slots) when the
    turn recorded that, so that users who end at different phrasings of one outcome ("play X on the
    projector", "put X on") pool their evidence; else the words the model read."""
    if turn.slots is None or turn.action is None:
        return normalize(turn.rewrite_text or turn.text)
    return "\x00" + repr(turn.meaning())


def _own(g: _Graph, u: int) -> str:
    """u's own success state: the commonest one it reached as said, else its words."""
    c = g.own_key.get(u)
    return c.most_common(1)[0][0] if c else g.states[u]


def _defect_rate(g: _Graph, u: int) -> float:
    """Defects over the visits where the model read u itself; 1 when every visit was rewritten (a rewrite
    that keeps working must not lose its source: its absorption into failure is what retires it)."""
    return g.defects[u] / g.visits[u] if g.visits[u] else 1.0


def _components(n: int, ei: Arr, ej: Arr) -> Arr:
    """Weakly connected components (union-find); returns a component id per state."""
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in zip(ei.tolist(), ej.tolist(), strict=True):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    roots = np.array([find(x) for x in range(n)], dtype=np.int64)
    return np.unique(roots, return_inverse=True)[1].astype(np.int64)


def _gather(ptr: Arr, rows: Arr) -> tuple[Arr, Arr]:
    """CSR entries of `rows`: (entry indices, position in `rows` of each entry's row)."""
    starts, lens = ptr[rows], ptr[rows + 1] - ptr[rows]
    offs = np.repeat(starts - np.cumsum(lens) + lens, lens) + np.arange(int(lens.sum()))
    return offs, np.repeat(np.arange(len(rows)), lens)


def _add_rows(out: Arr, idx: Arr, vals: Arr) -> None:
    """out[idx[k]] += vals[k] with repeats; one flat bincount, far faster than np.add.at on 2-D."""
    rows, inv = np.unique(idx, return_inverse=True)
    w = vals.shape[1]
    flat = (inv.reshape(-1)[:, None] * w + np.arange(w)).ravel()
    out[rows] += np.bincount(flat, weights=vals.ravel(), minlength=len(rows) * w).reshape(len(rows), w)


def _csr(rows: Arr, n: int) -> tuple[Arr, Arr]:
    order = np.argsort(rows, kind="stable")
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=ptr[1:])
    return order, ptr


Block = tuple[Arr, Arr, Arr, Arr]  # (global source indices, absorbing indices, B: absorbing x sources, residuals)


def _solve_dense(nc: int, cols: Arr, e: tuple[Arr, Arr, Arr], r: tuple[Arr, Arr, Arr], src: Arr, gsrc: Arr,
                 width: int) -> Iterator[Block]:
    """Rows N[src] from (I - Q)^T X = E_src (one LU for all sources), then B = N R in column batches."""
    a = np.eye(nc)
    a[e[0], e[1]] -= e[2]
    rhs = np.zeros((nc, len(src)))
    rhs[src, np.arange(len(src))] = 1.0
    try:
        x = np.linalg.solve(a.T, rhs)
    except np.linalg.LinAlgError:
        x = np.linalg.lstsq(a.T, rhs, rcond=None)[0]
    del a, rhs
    for lo in range(0, len(src), width):
        b = np.zeros((len(cols), min(width, len(src) - lo)))
        _add_rows(b, r[1], x[r[0], lo:lo + width] * r[2][:, None])
        yield gsrc[lo:lo + width], cols, b, np.zeros(b.shape[1])


def _solve_push(nc: int, cols: Arr, e: tuple[Arr, Arr, Arr], r: tuple[Arr, Arr, Arr], src: Arr, gsrc: Arr,
                width: int, tol: float) -> Iterator[Block]:
    """Forward push of each source's mass through Q (sparse entries, a batch of sources at a time).

    Mass above `tol` at a state is pushed on; the rest stays parked, so the work follows the mass rather than the
    component size. Each B entry comes out low by at most the source's parked total (its residual).
    """
    eo, eptr = _csr(e[0], nc)
    ro, rptr = _csr(r[0], nc)
    ej, ep, ra, rp = e[1][eo], e[2][eo], r[1][ro], r[2][ro]
    for lo in range(0, len(src), width):
        w = min(width, len(src) - lo)
        b, parked = np.zeros((len(cols), w)), np.zeros((nc, w))
        bflat, pflat = b.reshape(-1), parked.reshape(-1)
        node, col, mass = src[lo:lo + w], np.arange(w), np.ones(w)  # the entries being pushed
        for _ in range(_MAX_ITER):
            ri, rpos = _gather(rptr, node)
            np.add.at(bflat, ra[ri] * w + col[rpos], mass[rpos] * rp[ri])
            ei, epos = _gather(eptr, node)
            np.add.at(pflat, ej[ei] * w + col[epos], mass[epos] * ep[ei])
            keys = np.flatnonzero(pflat > tol)  # a dense scan beats np.unique on the new keys by far
            if not keys.size:
                break
            mass = pflat[keys]
            pflat[keys] = 0.0
            node, col = np.divmod(keys, w)
        else:  # iteration cap (not reached in practice): keep the unpushed mass in the residual
            pflat[keys] += mass
        yield gsrc[lo:lo + w], cols, b, parked.sum(axis=0)


def _solve(g: _Graph, sources: list[int], settings: MinerSettings, report: MineReport,
           tol: float) -> Iterator[tuple[Arr, Arr, Arr, Arr, int]]:
    """B = (I - Q)^-1 R for the sources, per weakly connected component, in blocks of bounded size.

    Yields (source indices, absorbing indices, B block: absorbing x sources, residual per source, component size).
    """
    n = len(g.states)
    ei, ej, ec = np.array([(u, v, c) for (u, v), c in g.edges.items()], dtype=np.int64).reshape(-1, 3).T
    ri, ra, rc = np.array([(u, a, c) for (u, a), c in g.ends.items()], dtype=np.int64).reshape(-1, 3).T
    out = np.bincount(ei, ec, minlength=n) + np.bincount(ri, rc, minlength=n)  # > 0: every visit leaves or ends
    ep, rp = ec / out[ei], rc / out[ri]
    comp = _components(n, ei, ej)
    sizes = np.bincount(comp, minlength=1)
    report.components, report.largest_component = len(sizes), int(sizes.max(initial=0))
    nodes_o, nodes_p = _csr(comp, len(sizes))
    edge_o, edge_p = _csr(comp[ei], len(sizes))
    end_o, end_p = _csr(comp[ri], len(sizes))
    loc = np.zeros(n, dtype=np.int64)  # index of each state inside its component
    loc[nodes_o] = np.arange(n) - nodes_p[comp[nodes_o]]
    srcs = np.array(sources, dtype=np.int64)
    src_o, src_p = _csr(comp[srcs], len(sizes))
    with_src = np.flatnonzero(np.diff(src_p))
    big = int((sizes[with_src] > settings.max_component).sum())
    report.iterative_components = max(report.iterative_components, big)
    for c in with_src.tolist():
        gsrc = srcs[src_o[src_p[c]:src_p[c + 1]]]
        em, rm = edge_o[edge_p[c]:edge_p[c + 1]], end_o[end_p[c]:end_p[c + 1]]
        cols, rinv = np.unique(ra[rm], return_inverse=True)  # absorbing states this component reaches
        e = (loc[ei[em]], loc[ej[em]], ep[em])
        r = (loc[ri[rm]], rinv.reshape(-1), rp[rm])
        nc = int(sizes[c])
        width = max(1, _BLOCK // max(nc, len(cols)))
        if nc <= settings.max_component:
            blocks = _solve_dense(nc, cols, e, r, loc[gsrc], gsrc, width)
        else:
            blocks = _solve_push(nc, cols, e, r, loc[gsrc], gsrc, width, tol)
        for s, cl, b, res in blocks:
            yield s, cl, np.clip(b, 0.0, 1.0), res, nc


def absorption(chain_list: list[list[StoredTurn]], sources: list[str] | None = None,
               settings: MinerSettings | None = None) -> dict[str, dict[str, float]]:
    """B rows for inspection and tests: {src: {h: P(end successfully at h), FAILURE: P(fail)}} (zeros left out)."""
    settings = settings or MinerSettings()
    g = _build(chain_list)
    idx = [g.index[s] for s in sources if s in g.index] if sources is not None else list(range(len(g.states)))
    rows: dict[str, dict[str, float]] = {}
    for srcs, cols, b, _, _ in _solve(g, idx, settings, MineReport(), settings.tolerance) if idx else ():
        for k, s in enumerate(srcs.tolist()):
            nz = np.flatnonzero(b[:, k])
            rows[g.states[s]] = {g.absorbing[a]: float(p) for a, p in zip(cols[nz], b[nz, k], strict=True)}
    return rows


def mine(chain_list: list[list[StoredTurn]], settings: MinerSettings) -> tuple[list[LearnedRewrite], MineReport]:
    """Global precomputed rewrites src -> dst from pooled rephrase chains, with the guardrails applied.

    Large components are pushed coarsely first: a source whose best target cannot reach its bar even with all
    the unpushed mass is settled; the others are re-solved 100x finer, down to `settings.tolerance`.
    """
    t0 = time.perf_counter()
    g = _build(chain_list)
    report = MineReport(chains=sum(1 for c in chain_list if c), states=len(g.states), transitions=g.transitions,
                        self_loops=g.self_loops)
    todo = [u for u in range(len(g.states)) if g.support[u] >= settings.min_support
            and _defect_rate(g, u) >= settings.min_defect_rate]
    report.sources = len(todo)
    rewrites: list[LearnedRewrite] = []
    tol = max(settings.tolerance, _COARSE)
    while todo:
        final, undecided = tol <= settings.tolerance, []
        for srcs, cols, b, res, size in _solve(g, todo, settings, report, tol):
            # candidates: success(h) for h != src; failure (index 0) and success(src) masked out
            own_col = np.array([g.abs_index.get(_own(g, s), -1) for s in srcs.tolist()])
            masked = np.where((cols[:, None] == 0) | (cols[:, None] == own_col[None, :]), -1.0, b)
            best = masked.argmax(axis=0)  # ties: the absorbing state seen first
            for k, u in enumerate(srcs.tolist()):
                score, h = float(masked[best[k], k]), g.absorbing[int(cols[best[k]])]
                own, defect_rate = g.own_success[u] / g.support[u], _defect_rate(g, u)
                bar = max(own + settings.margin, settings.min_probability)
                if score < 0 or score + res[k] < bar:  # cannot pass even with all unpushed mass
                    continue
                if not final and res[k] > 0:
                    undecided.append(u)
                    continue
                report.residual = max(report.residual, float(res[k]))
                dst = min(g.texts[h].items(), key=lambda kv: (-kv[1], kv[0]))[0]  # most frequent, ties alphabetical
                if score < bar or h == g.states[u] or normalize(dst) == g.states[u]:
                    continue
                rewrites.append(LearnedRewrite(
                    src=g.states[u], dst=dst, source="precomputed", user=None, score=score, support=g.support[u],
                    meta={"src_success": own, "src_defect_rate": defect_rate, "component_size": size},
                ))
        todo, tol = undecided, max(tol * 1e-2, settings.tolerance)
    rewrites.sort(key=lambda rw: rw.src)
    report.rewrites = len(rewrites)
    report.seconds = time.perf_counter() - t0
    return rewrites, report
