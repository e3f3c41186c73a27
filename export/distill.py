"""Intermediate-layer distillation of a narrower student (TinyBERT's first stage, MiniLM's relations).

Before the student learns the teacher's logits (`train.fit`), it learns to reproduce the teacher's
inner workings at every mapped layer: the hidden states (through a learned projection back to the
teacher's width, started at the initialisation basis) and the self-attention relations of queries,
keys and values (MiniLMv2: softmax(X X^T / sqrt(d)) per relation head, which needs no equal head
count or width). The projection basis itself comes from the teacher's hidden states on training data.
"""

from __future__ import annotations

import logging
import random
import time
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from .dataset import Encoded, batches, collate
from .model import JointModel
from .train import _tensors, optimizer

log = logging.getLogger("export")

RELATION_HEADS = 8
"""Relation heads for the query/key/value relations (divides both 384 and 256)."""


@torch.no_grad()
def hidden_basis(teacher: JointModel, data: list[Encoded], layers: tuple[int, ...], width: int,
                 n: int = 2000, seed: int = 0) -> torch.Tensor:
    """The teacher hidden size x `width` orthonormal basis of the top principal directions (uncentred:
    the mean direction matters to the residual stream) of the teacher's hidden states at the embeddings
    and after each of `layers`, over up to `n` training examples, each layer weighted alike."""
    size = teacher.bert.config.hidden_size
    if width == size:
        return torch.eye(size)
    teacher.eval()
    rng = random.Random(seed)
    pick = rng.sample(range(len(data)), min(n, len(data)))
    sub = [data[i] for i in pick]
    second = torch.zeros(len(layers) + 1, size, size, dtype=torch.float64)
    for idx in batches(sub, 64, None):
        b = _tensors(collate(sub, idx))
        hs = teacher.bert(input_ids=b["ids"], attention_mask=b["mask"], token_type_ids=b["types"],
                          output_hidden_states=True).hidden_states
        m = b["mask"].bool()
        for k, j in enumerate((-1, *layers)):
            x = hs[j + 1][m].double()
            second[k] += x.T @ x
    # weight each layer alike: each layer's second moment normalised by its trace
    cov = (second / second.diagonal(dim1=1, dim2=2).sum(-1)[:, None, None]).sum(0)
    vals, vecs = torch.linalg.eigh(cov)
    top = torch.argsort(vals, descending=True)[:width]
    kept = float(vals[top].sum() / vals.sum())
    log.info("projection basis: %d of %d directions keep %.1f %% of the hidden states' energy", width, size, 100 * kept)
    teacher.train()
    basis: torch.Tensor = vecs[:, top].float().contiguous()
    return basis


class _Capture:
    """Forward hooks that keep the query, key and value outputs of the self-attention of chosen layers."""

    def __init__(self, bert: Any, layers: list[int]) -> None:
        self.out: dict[tuple[int, str], torch.Tensor] = {}
        self.handles = []
        for k, j in enumerate(layers):
            att = bert.encoder.layer[j].attention.self
            for name in ("query", "key", "value"):
                self.handles.append(getattr(att, name).register_forward_hook(self._hook(k, name)))

    def _hook(self, k: int, name: str) -> Any:
        def keep(_m: nn.Module, _inp: Any, out: torch.Tensor) -> None:
            self.out[(k, name)] = out
        return keep

    def close(self) -> None:
        for h in self.handles:
            h.remove()


def _relation(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Log of the self-relation distribution softmax(x_r x_r^T / sqrt(d_r)) per relation head."""
    b, n, d = x.shape
    r = x.view(b, n, RELATION_HEADS, d // RELATION_HEADS).transpose(1, 2)
    scores = r @ r.transpose(-1, -2) / (d // RELATION_HEADS) ** 0.5
    scores = scores.masked_fill(~mask[:, None, None, :], -1e4)
    return F.log_softmax(scores, -1)


def distill_layers(student: JointModel, teacher: JointModel, s_data: list[Encoded], t_data: list[Encoded],
                   layers: tuple[int, ...], basis: torch.Tensor, epochs: int, lr: float, batch: int, seed: int,
                   max_steps: int | None = None) -> dict[str, float]:
    """Train the student's encoder to match the teacher at the embeddings and after each mapped layer
    (hidden-state MSE through a learned projection + query/key/value relation KL); returns the last losses.

    Examples whose student and teacher tokenizations differ in length (the pruned vocabulary splits a
    rare word differently) are left out: their positions do not align."""
    pairs = [(s, t) for s, t in zip(s_data, t_data, strict=True) if len(s.ids) == len(t.ids)]
    s_use, t_use = [a for a, _ in pairs], [b for _, b in pairs]
    lins = [nn.Linear(student.bert.config.hidden_size, teacher.bert.config.hidden_size, bias=False)
            for _ in range(len(layers) + 1)]
    with torch.no_grad():
        for lin in lins:
            lin.weight.copy_(basis)
    proj = nn.ModuleList(lins)
    rng = random.Random(seed)
    torch.manual_seed(seed)
    per_epoch = len(batches(s_use, batch, None))
    total = per_epoch * epochs if max_steps is None else min(max_steps, per_epoch * epochs)
    holder = nn.ModuleList([student.bert, proj])
    opt, sched = optimizer(holder, lr, max(1, total))
    teacher.eval()
    student.train()
    t_cap = _Capture(teacher.bert, list(layers))
    s_cap = _Capture(student.bert, list(range(len(layers))))
    step, t0, last = 0, time.time(), {"hidden": 0.0, "relations": 0.0}
    try:
        with tqdm(total=total, desc="student layers", unit="step", mininterval=5) as bar:
            for _ in range(epochs):
                for idx in batches(s_use, batch, rng):
                    if step >= total:
                        break
                    sb, tb = _tensors(collate(s_use, idx)), _tensors(collate(t_use, idx))
                    with torch.no_grad():
                        th = teacher.bert(input_ids=tb["ids"], attention_mask=tb["mask"], token_type_ids=tb["types"],
                                          output_hidden_states=True).hidden_states
                    sh = student.bert(input_ids=sb["ids"], attention_mask=sb["mask"], token_type_ids=sb["types"],
                                      output_hidden_states=True).hidden_states
                    m = sb["mask"].bool()
                    hidden = torch.stack([F.mse_loss(proj[k](sh[k])[m], th[j + 1][m])
                                          for k, j in enumerate((-1, *layers))]).sum()
                    rel = torch.zeros(())
                    for k in range(len(layers)):
                        for name in ("query", "key", "value"):
                            ls = _relation(s_cap.out[(k, name)], m)
                            lt = _relation(t_cap.out[(k, name)], m)
                            kl = F.kl_div(ls, lt, log_target=True, reduction="none").sum(-1)
                            rel = rel + (kl * m[:, None, :]).sum() / (m.sum() * RELATION_HEADS)
                    loss = hidden + rel
                    opt.zero_grad()
                    torch.autograd.backward(loss)
                    torch.nn.utils.clip_grad_norm_(holder.parameters(), 1.0)
                    opt.step()
                    sched.step()
                    step += 1
                    last = {"hidden": float(hidden.detach()), "relations": float(rel.detach())}
                    bar.update(1)
                    bar.set_postfix(hidden=f"{last['hidden']:.3f}", rel=f"{last['relations']:.3f}")
    finally:
        t_cap.close()
        s_cap.close()
    log.info("student layers: %d steps on %d examples in %.0f s, last losses %s", step, len(s_use),
             time.time() - t0, last)
    return {**last, "steps": step, "examples": len(s_use)}
