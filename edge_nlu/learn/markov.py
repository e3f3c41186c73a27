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
- A successful final turn absorbs into success(norm of what the model read): when a live rewrite
  made it succeed, the success belongs to the rewrite's target, not to the words said. So src's own
  success rate counts only successes where the model read src itself.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from edge_nlu.learn.types import LearnedRewrite, StoredTurn, normalize

FAILURE = "<failure>"
"""Key of the failure absorbing state in `absorption` rows."""
_MAX_ITER = 100_000
_BLOCK = 2_000_000  # floats per iterative batch (16 MB)

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
    tolerance: float = 1e-12
    """Iterative solve stops when every source's unabsorbed mass is below this."""

    def __post_init__(self) -> None:
        if self.min_support < 1 or self.max_component < 1 or self.tolerance <= 0:
            raise ValueError("min_support and max_component must be >= 1, tolerance > 0")
        for name in ("min_defect_rate", "margin", "min_probability"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1]")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MinerSettings:
        """Build from config; unknown keys are errors so a typo cannot silently keep a default."""
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown miner settings: {sorted(unknown)}")
        ints = ("min_support", "max_component")
        kwargs: dict[str, Any] = {k: int(v) if k in ints else float(v) for k, v in d.items()}
        return cls(**kwargs)

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
    """Largest unabsorbed mass left by the iterative solver (0 for dense solves)."""
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Graph:
    """Counts over chains; states are transient, `absorbing[0]` is failure, the rest success(h)."""

    states: list[str] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)
    absorbing: list[str] = field(default_factory=lambda: [FAILURE])
    abs_index: dict[str, int] = field(default_factory=dict)
    edges: Counter[tuple[int, int]] = field(default_factory=Counter)
    ends: Counter[tuple[int, int]] = field(default_factory=Counter)
    visits: Counter[int] = field(default_factory=Counter)
    defects: Counter[int] = field(default_factory=Counter)
    support: Counter[int] = field(default_factory=Counter)
    own_success: Counter[int] = field(default_factory=Counter)
    texts: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    transitions: int = 0
    self_loops: int = 0

    def state(self, norm: str) -> int:
        if norm not in self.index:
            self.index[norm] = len(self.states)
            self.states.append(norm)
        return self.index[norm]

    def success(self, h: str) -> int:
        if h not in self.abs_index:
            self.abs_index[h] = len(self.absorbing)
            self.absorbing.append(h)
        return self.abs_index[h]


def _build(chain_list: list[list[StoredTurn]]) -> _Graph:
    g = _Graph()
    for chain in chain_list:
        seen: set[int] = set()
        for k, st in enumerate(chain):
            u = g.state(st.turn.norm)
            seen.add(u)
            g.visits[u] += 1
            g.defects[u] += st.defect
            if k + 1 < len(chain):
                v = chain[k + 1].turn.norm
                if v == st.turn.norm:
                    g.self_loops += 1
                else:
                    g.transitions += 1
                    g.edges[(u, g.state(v))] += 1
            elif st.defect:
                g.ends[(u, 0)] += 1
            else:
                read = st.turn.rewrite_text or st.turn.text
                h = normalize(read) if st.turn.rewrite_text else st.turn.norm
                g.ends[(u, g.success(h))] += 1
                g.texts[h][read] += 1
                g.own_success[u] += h == st.turn.norm
        for u in seen:
            g.support[u] += 1
    return g


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
    total = int(lens.sum())
    offs = np.repeat(starts - np.cumsum(lens) + lens, lens) + np.arange(total)
    return offs, np.repeat(np.arange(len(rows)), lens)


def _csr(rows: Arr, n: int) -> tuple[Arr, Arr]:
    order = np.argsort(rows, kind="stable")
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=ptr[1:])
    return order, ptr


def _solve_dense(nc: int, na: int, e: tuple[Arr, Arr, Arr], r: tuple[Arr, Arr, Arr], src: Arr) -> Arr:
    """N[src, :] rows via (I - Q)^T X = E_src, then B = N R; returns (absorbing cols x sources)."""
    a = np.eye(nc)
    a[e[0], e[1]] -= e[2]
    rhs = np.zeros((nc, len(src)))
    rhs[src, np.arange(len(src))] = 1.0
    try:
        x = np.linalg.solve(a.T, rhs)
    except np.linalg.LinAlgError:
        x = np.linalg.lstsq(a.T, rhs, rcond=None)[0]
    b = np.zeros((na, len(src)))
    np.add.at(b, r[1], x[r[0]] * r[2][:, None])
    return b


def _solve_iterative(nc: int, na: int, e: tuple[Arr, Arr, Arr], r: tuple[Arr, Arr, Arr], src: Arr,
                     tol: float) -> tuple[Arr, float]:
    """Absorbed mass by forward propagation (Neumann series of Q) over the active rows only."""
    eo, eptr = _csr(e[0], nc)
    ro, rptr = _csr(r[0], nc)
    b = np.zeros((na, len(src)))
    width = max(1, _BLOCK // max(nc, na))
    residual = 0.0
    for lo in range(0, len(src), width):
        cols = slice(lo, min(lo + width, len(src)))
        act = src[cols]
        mass = np.eye(len(act))  # mass[i, s]: probability of being at state act[i], starting from source s
        for _ in range(_MAX_ITER):
            ri, rpos = _gather(rptr, act)
            np.add.at(b[:, cols], r[1][ro[ri]], mass[rpos] * r[2][ro[ri]][:, None])
            ei, epos = _gather(eptr, act)
            act, inv = np.unique(e[1][eo[ei]], return_inverse=True)
            nxt = np.zeros((len(act), mass.shape[1]))
            np.add.at(nxt, inv, mass[epos] * e[2][eo[ei]][:, None])
            mass = nxt
            if mass.size == 0 or mass.sum(axis=0).max() < tol:
                break
        residual = max(residual, float(mass.sum(axis=0).max()) if mass.size else 0.0)
    return b, residual


def _solve(g: _Graph, sources: list[int], settings: MinerSettings,
           report: MineReport) -> tuple[dict[int, dict[int, float]], dict[int, int]]:
    """B rows {absorbing index: probability} per source, solved per connected component."""
    n = len(g.states)
    ei, ej, ec = np.array([(u, v, c) for (u, v), c in g.edges.items()], dtype=np.int64).reshape(-1, 3).T
    ri, ra, rc = np.array([(u, a, c) for (u, a), c in g.ends.items()], dtype=np.int64).reshape(-1, 3).T
    out = np.bincount(ei, ec, minlength=n) + np.bincount(ri, rc, minlength=n)  # > 0: every visit leaves or ends
    ep, rp = ec / out[ei], rc / out[ri]
    comp = _components(n, ei, ej)
    sizes = np.bincount(comp, minlength=1)
    report.components, report.largest_component = len(sizes), int(sizes.max(initial=0))
    rows: dict[int, dict[int, float]] = {}
    by_comp: defaultdict[int, list[int]] = defaultdict(list)
    for s in sources:
        by_comp[int(comp[s])].append(s)
    for c, srcs in by_comp.items():
        nodes = np.flatnonzero(comp == c)
        loc = np.full(n, -1, dtype=np.int64)
        loc[nodes] = np.arange(len(nodes))
        em, rm = comp[ei] == c, comp[ri] == c
        cols, rinv = np.unique(ra[rm], return_inverse=True)  # absorbing states this component reaches
        e = (loc[ei[em]], loc[ej[em]], ep[em])
        r = (loc[ri[rm]], rinv.astype(np.int64), rp[rm])
        src = loc[np.array(srcs, dtype=np.int64)]
        if len(nodes) <= settings.max_component:
            b = _solve_dense(len(nodes), len(cols), e, r, src)
        else:
            report.iterative_components += 1
            b, res = _solve_iterative(len(nodes), len(cols), e, r, src, settings.tolerance)
            report.residual = max(report.residual, res)
        b = np.clip(b, 0.0, 1.0)
        for k, s in enumerate(srcs):
            nz = np.flatnonzero(b[:, k])
            rows[s] = {int(cols[i]): float(b[i, k]) for i in nz}
    return rows, {s: int(sizes[comp[s]]) for s in sources}


def absorption(chain_list: list[list[StoredTurn]], sources: list[str] | None = None,
               settings: MinerSettings | None = None) -> dict[str, dict[str, float]]:
    """B rows for inspection and tests: {src: {h: P(end successfully at h), FAILURE: P(fail)}}."""
    settings = settings or MinerSettings()
    g = _build(chain_list)
    if not g.states:
        return {}
    idx = [g.index[s] for s in sources if s in g.index] if sources is not None else list(range(len(g.states)))
    rows, _ = _solve(g, idx, settings, MineReport())
    return {g.states[s]: {g.absorbing[a]: p for a, p in rows[s].items()} for s in idx}


def mine(chain_list: list[list[StoredTurn]], settings: MinerSettings) -> tuple[list[LearnedRewrite], MineReport]:
    """Global precomputed rewrites src -> dst from pooled rephrase chains, with the guardrails applied."""
    t0 = time.perf_counter()
    g = _build(chain_list)
    report = MineReport(chains=sum(1 for c in chain_list if c), states=len(g.states), transitions=g.transitions,
                        self_loops=g.self_loops)
    sources = [u for u in range(len(g.states)) if g.support[u] >= settings.min_support
               and g.defects[u] / g.visits[u] >= settings.min_defect_rate]
    report.sources = len(sources)
    rows, sizes = _solve(g, sources, settings, report) if sources else ({}, {})
    rewrites: list[LearnedRewrite] = []
    for u in sources:
        src = g.states[u]
        own = g.own_success[u] / g.support[u]
        ranked = sorted((-p, g.absorbing[a]) for a, p in rows[u].items() if a != 0 and g.absorbing[a] != src)
        if not ranked:
            continue
        score, h = -ranked[0][0], ranked[0][1]
        if score < own + settings.margin or score < settings.min_probability:
            continue
        dst = min(g.texts[h].items(), key=lambda kv: (-kv[1], kv[0]))[0]  # most frequent, ties alphabetical
        if normalize(dst) == src:
            continue
        rewrites.append(LearnedRewrite(
            src=src, dst=dst, source="precomputed", user=None, score=score, support=g.support[u],
            meta={"src_success": own, "src_defect_rate": g.defects[u] / g.visits[u], "component_size": sizes[u]},
        ))
    rewrites.sort(key=lambda rw: rw.src)
    report.rewrites = len(rewrites)
    report.seconds = time.perf_counter() - t0
    return rewrites, report
