"""The joint intent classifier + BIO slot tagger over a BERT encoder (teacher and student)."""

from __future__ import annotations

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


def student_config(teacher_config: BertConfig, n_vocab: int, n_layers: int, max_pos: int) -> BertConfig:
    """The teacher's BERT config with fewer layers, a pruned vocabulary and fewer positions."""
    cfg = BertConfig.from_dict(teacher_config.to_dict())
    cfg.num_hidden_layers = n_layers
    cfg.vocab_size = n_vocab
    cfg.max_position_embeddings = max_pos
    return cfg


def copy_from_teacher(t: Any, s: Any, keep_ids: list[int], layers: list[int], max_pos: int) -> None:
    """Initialise student BERT `s` from teacher BERT `t`: kept vocabulary rows, first positions, chosen layers."""
    with torch.no_grad():
        s.embeddings.word_embeddings.weight.copy_(t.embeddings.word_embeddings.weight[keep_ids])
        s.embeddings.position_embeddings.weight.copy_(t.embeddings.position_embeddings.weight[:max_pos])
        s.embeddings.token_type_embeddings.load_state_dict(t.embeddings.token_type_embeddings.state_dict())
        s.embeddings.LayerNorm.load_state_dict(t.embeddings.LayerNorm.state_dict())
        for i, j in enumerate(layers):
            s.encoder.layer[i].load_state_dict(t.encoder.layer[j].state_dict())


def shrink(teacher: JointModel, keep_ids: list[int], layers: list[int], max_pos: int) -> JointModel:
    """A student initialised from the teacher: chosen layers, pruned vocabulary, short positions."""
    cfg = student_config(teacher.bert.config, len(keep_ids), len(layers), max_pos)
    student = JointModel(cfg, teacher.intent_head.out_features, teacher.slot_head.out_features)
    copy_from_teacher(teacher.bert, student.bert, keep_ids, layers, max_pos)
    with torch.no_grad():
        student.intent_head.load_state_dict(teacher.intent_head.state_dict())
        student.slot_head.load_state_dict(teacher.slot_head.state_dict())
    return student
