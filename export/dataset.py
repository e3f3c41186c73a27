"""Training examples -> token ids, segment ids and labels (intent id, token BIO ids)."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

MAX_LEN = 64


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def make_tokenizer(path: Path) -> Tokenizer:
    tok = Tokenizer.from_file(str(path))
    tok.no_padding()
    tok.enable_truncation(MAX_LEN, strategy="only_second")
    return tok


@dataclass
class Encoded:
    """One example ready for the model."""

    ids: list[int]
    """Token ids."""
    types: list[int]
    """Segment ids: 0 for the request text, 1 for the context."""
    intent: int
    """Intent label id."""
    tags: list[int]
    """BIO tag id per token, -100 where no loss applies."""


def bio_labels(slot_types: list[str]) -> list[str]:
    return ["O"] + [f"{p}-{t}" for t in slot_types for p in ("B", "I")]


def encode(tok: Tokenizer, ex: dict[str, Any], intents: dict[str, int], tags: dict[str, int]) -> Encoded:
    ctx = ex.get("context") or ""
    enc = tok.encode(ex["text"], ctx) if ctx else tok.encode(ex["text"])
    out_tags: list[int] = []
    for i, (s, _end) in enumerate(enc.offsets):
        if enc.type_ids[i] != 0 or enc.special_tokens_mask[i]:
            out_tags.append(-100)
            continue
        label = "O"
        for sl in ex["slots"]:
            if sl["start"] <= s < sl["end"]:
                label = ("B-" if s == sl["start"] else "I-") + sl["type"]
                break
        out_tags.append(tags.get(label, 0))
    return Encoded(list(enc.ids), list(enc.type_ids), intents[ex["intent"]], out_tags)


def batches(data: list[Encoded], size: int, rng: random.Random | None) -> list[list[int]]:
    """Length-bucketed batches of indices: similar lengths share a batch, so padding is small."""
    order = sorted(range(len(data)), key=lambda i: len(data[i].ids))
    chunks = [order[i:i + size] for i in range(0, len(order), size)]
    if rng is not None:
        rng.shuffle(chunks)
    return chunks


def collate(data: list[Encoded], idx: list[int]) -> dict[str, np.ndarray]:
    n = max(len(data[i].ids) for i in idx)
    ids = np.zeros((len(idx), n), dtype=np.int64)
    types = np.zeros_like(ids)
    mask = np.zeros_like(ids)
    tags = np.full_like(ids, -100)
    intent = np.zeros(len(idx), dtype=np.int64)
    for r, i in enumerate(idx):
        ex = data[i]
        k = len(ex.ids)
        ids[r, :k] = ex.ids
        types[r, :k] = ex.types
        mask[r, :k] = 1
        tags[r, :k] = ex.tags
        intent[r] = ex.intent
    return {"ids": ids, "types": types, "mask": mask, "tags": tags, "intent": intent, "idx": np.array(idx)}
