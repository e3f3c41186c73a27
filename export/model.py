"""The joint intent classifier + BIO slot tagger over a BERT encoder (teacher and student).

A student is the teacher made smaller on every axis the latency scales with: fewer layers (the
teacher's chosen ones), a narrower hidden size (the teacher's hidden states projected onto their
principal directions), fewer attention heads and feed-forward neurons (the teacher's most important
ones), a pruned vocabulary and fewer positions. At the teacher's width the projection is the identity
and every head and neuron is kept, so the student is then an exact copy of the chosen layers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from transformers import BertConfig, BertModel


def new_bert(config: BertConfig) -> BertModel:
    """A freshly initialised BertModel without the pooler (neither head uses it)."""
    return BertModel(config, add_pooling_layer=False)  # type: ignore[no-untyped-call]  # transformers leaves __init__ unannotated


class JointModel(nn.Module):
    """Intent from the [CLS] vector, one BIO tag per token; the context is the second segment."""

    def __init__(self, config: BertConfig, n_intents: int, n_tags: int) -> None:
        super().__init__()
        self.bert = new_bert(config)
        self.dropout = nn.Dropout(0.1)
        self.intent_head = nn.Linear(config.hidden_size, n_intents)
        self.slot_head = nn.Linear(config.hidden_size, n_tags)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.bert(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state
        h = self.dropout(h)
        return self.intent_head(h[:, 0]), self.slot_head(h)


def from_pretrained(path: str, n_intents: int, n_tags: int) -> JointModel:
    base = BertModel.from_pretrained(path, add_pooling_layer=False)
    model = JointModel(base.config, n_intents, n_tags)
    model.bert.load_state_dict(base.state_dict())
    return model


@dataclass(frozen=True)
class StudentShape:
    """The student's size; the defaults of `export build` are the shipped model's."""

    layers: tuple[int, ...]
    """Teacher layers (0-based) the student's layers start from, in order; also the layers it is distilled to."""
    hidden: int
    """Hidden size (the teacher's: 384)."""
    heads: int
    """Attention heads; hidden / heads is the head size."""
    intermediate: int
    """Feed-forward size (the teacher's: 1536)."""
    max_positions: int = 128
    """Position embeddings kept."""


def student_config(teacher_config: BertConfig, n_vocab: int, n_layers: int, max_pos: int) -> BertConfig:
    """The teacher's BERT config with fewer layers, a pruned vocabulary and fewer positions (the rewriter's)."""
    return shaped_config(teacher_config, n_vocab, StudentShape(
        layers=tuple(range(n_layers)), hidden=teacher_config.hidden_size, heads=teacher_config.num_attention_heads,
        intermediate=teacher_config.intermediate_size, max_positions=max_pos))


def shaped_config(teacher_config: BertConfig, n_vocab: int, shape: StudentShape) -> BertConfig:
    """The teacher's BERT config at the student's shape, with a pruned vocabulary."""
    if shape.hidden % shape.heads:
        raise ValueError(f"student hidden size {shape.hidden} is not a multiple of its {shape.heads} heads")
    if (shape.hidden > teacher_config.hidden_size or shape.intermediate > teacher_config.intermediate_size
            or shape.max_positions > teacher_config.max_position_embeddings):
        raise ValueError("a student cannot be wider than its teacher")
    cfg = BertConfig.from_dict(teacher_config.to_dict())
    cfg.num_hidden_layers = len(shape.layers)
    cfg.vocab_size = n_vocab
    cfg.max_position_embeddings = shape.max_positions
    cfg.hidden_size = shape.hidden
    cfg.num_attention_heads = shape.heads
    cfg.intermediate_size = shape.intermediate
    return cfg


def head_ranking(layer: Any, n_heads: int) -> list[int]:
    """The teacher layer's heads, most important first: how much each can move the residual stream
    (norm of its value rows times norm of its output columns)."""
    size = layer.attention.self.attention_head_size
    wv = layer.attention.self.value.weight.view(n_heads, size, -1)
    wo = layer.attention.output.dense.weight.view(-1, n_heads, size)
    score = wv.norm(dim=(1, 2)) * wo.norm(dim=(0, 2))
    return [int(i) for i in torch.argsort(score, descending=True)]


def neuron_ranking(layer: Any) -> list[int]:
    """Feed-forward neurons, most important first (input row norm times output column norm)."""
    score = layer.intermediate.dense.weight.norm(dim=1) * layer.output.dense.weight.norm(dim=0)
    return [int(i) for i in torch.argsort(score, descending=True)]


def _project_norm(src: nn.LayerNorm, dst: nn.LayerNorm, u: torch.Tensor) -> None:
    """A LayerNorm in the projected space: its gain as the diagonal of U^T diag(g) U, its bias U^T b."""
    dst.weight.copy_(((u * src.weight[:, None]) * u).sum(0))
    dst.bias.copy_(src.bias @ u)


def project_from_teacher(t: Any, s: Any, keep_ids: list[int], shape: StudentShape, basis: torch.Tensor) -> None:
    """Initialise student BERT `s` from teacher BERT `t` through the orthonormal `basis` (teacher hidden x
    student hidden): kept vocabulary rows and positions, the chosen layers, per layer the most important
    heads (grouped in order into the student's wider heads) and feed-forward neurons.

    With the identity basis and the teacher's heads and width the copy is exact."""
    u = basis
    t_heads = t.config.num_attention_heads
    t_size = t.config.hidden_size // t_heads
    keep_heads = shape.hidden // t_size  # teacher heads whose dimensions fill the student's attention width
    if shape.hidden % t_size or keep_heads % shape.heads:
        raise ValueError(f"student hidden {shape.hidden} with {shape.heads} heads does not group the teacher's "
                         f"heads of size {t_size}")
    group = keep_heads // shape.heads  # teacher heads per student head
    scale = float(group) ** 0.5  # keeps each teacher head's score scale inside a wider student head
    with torch.no_grad():
        s.embeddings.word_embeddings.weight.copy_(t.embeddings.word_embeddings.weight[keep_ids] @ u)
        positions = t.embeddings.position_embeddings.weight[: shape.max_positions]
        s.embeddings.position_embeddings.weight.copy_(positions @ u)
        s.embeddings.token_type_embeddings.weight.copy_(t.embeddings.token_type_embeddings.weight @ u)
        _project_norm(t.embeddings.LayerNorm, s.embeddings.LayerNorm, u)
        for i, j in enumerate(shape.layers):
            tl, sl = t.encoder.layer[j], s.encoder.layer[i]
            heads = head_ranking(tl, t_heads)[:keep_heads] if keep_heads < t_heads else list(range(t_heads))
            rows = torch.cat([torch.arange(h * t_size, (h + 1) * t_size) for h in heads])
            for name, k in (("query", scale), ("key", 1.0), ("value", 1.0)):
                src, dst = getattr(tl.attention.self, name), getattr(sl.attention.self, name)
                dst.weight.copy_(k * src.weight[rows] @ u)
                dst.bias.copy_(k * src.bias[rows])
            so, do = tl.attention.output, sl.attention.output
            do.dense.weight.copy_(u.T @ so.dense.weight[:, rows])
            do.dense.bias.copy_(so.dense.bias @ u)
            _project_norm(so.LayerNorm, do.LayerNorm, u)
            ff = neuron_ranking(tl)[: shape.intermediate] if shape.intermediate < len(tl.intermediate.dense.bias) \
                else list(range(len(tl.intermediate.dense.bias)))
            sl.intermediate.dense.weight.copy_(tl.intermediate.dense.weight[ff] @ u)
            sl.intermediate.dense.bias.copy_(tl.intermediate.dense.bias[ff])
            sl.output.dense.weight.copy_(u.T @ tl.output.dense.weight[:, ff])
            sl.output.dense.bias.copy_(tl.output.dense.bias @ u)
            _project_norm(tl.output.LayerNorm, sl.output.LayerNorm, u)


def copy_from_teacher(t: Any, s: Any, keep_ids: list[int], layers: list[int], max_pos: int) -> None:
    """Initialise student BERT `s` from teacher BERT `t` at the teacher's width (the rewriter's): kept
    vocabulary rows, first positions, chosen layers."""
    shape = StudentShape(layers=tuple(layers), hidden=t.config.hidden_size, heads=t.config.num_attention_heads,
                         intermediate=t.config.intermediate_size, max_positions=max_pos)
    project_from_teacher(t, s, keep_ids, shape, torch.eye(t.config.hidden_size))


def shrink(teacher: JointModel, keep_ids: list[int], shape: StudentShape,
           basis: torch.Tensor | None = None) -> JointModel:
    """A student initialised from the teacher (see `project_from_teacher`); `basis` None: the identity
    (only at the teacher's width)."""
    cfg = shaped_config(teacher.bert.config, len(keep_ids), shape)
    if basis is None:
        if shape.hidden != teacher.bert.config.hidden_size:
            raise ValueError("a narrower student needs a projection basis")
        basis = torch.eye(shape.hidden)
    student = JointModel(cfg, teacher.intent_head.out_features, teacher.slot_head.out_features)
    project_from_teacher(teacher.bert, student.bert, keep_ids, shape, basis)
    with torch.no_grad():
        for name in ("intent_head", "slot_head"):
            src, dst = getattr(teacher, name), getattr(student, name)
            dst.weight.copy_(src.weight @ basis)
            dst.bias.copy_(src.bias)
    return student
