"""Teacher fine-tuning and student distillation (logits on both heads, with temperature)."""

from __future__ import annotations

import json
import logging
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tokenizers import Tokenizer
from tqdm import tqdm

from .dataset import Encoded, batches, collate
from .model import JointModel

log = logging.getLogger("export")


def _tensors(b: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(v) for k, v in b.items()}


def _loss_hard(il: torch.Tensor, sl: torch.Tensor, b: dict[str, torch.Tensor]) -> torch.Tensor:
    li = F.cross_entropy(il, b["intent"])
    ls = F.cross_entropy(sl.reshape(-1, sl.shape[-1]), b["tags"].reshape(-1), ignore_index=-100)
    return li + ls


def optimizer(model: torch.nn.Module, lr: float, total: int) -> tuple[Any, Any]:
    """AdamW on the trainable parameters, 10 % linear warm-up, then linear decay to 0 at `total` steps."""
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / max(1, total // 10)) * max(0.0, 1 - s / total))
    return opt, sched


def fit(
    model: JointModel,
    data: list[Encoded],
    epochs: int,
    lr: float,
    batch: int,
    seed: int,
    desc: str,
    soft: dict[str, Any] | None = None,
    max_steps: int | None = None,
) -> None:
    """Train; with `soft` (teacher logits) the loss mixes hard labels and temperature-scaled KL."""
    rng = random.Random(seed)
    torch.manual_seed(seed)
    steps_per_epoch = len(batches(data, batch, None))
    total = steps_per_epoch * epochs if max_steps is None else min(max_steps, steps_per_epoch * epochs)
    opt, sched = optimizer(model, lr, total)
    model.train()
    step = 0
    t0 = time.time()
    with tqdm(total=total, desc=desc, unit="step", mininterval=5) as bar:
        for _ in range(epochs):
            for idx in batches(data, batch, rng):
                if step >= total:
                    break
                b = _tensors(collate(data, idx))
                il, sl = model(b["ids"], b["mask"], b["types"])
                loss = _loss_hard(il, sl, b)
                if soft is not None:
                    temp, alpha = soft["T"], soft["alpha"]
                    ti = torch.from_numpy(np.stack([soft["intent"][i] for i in idx]))
                    n = sl.shape[1]
                    ts = torch.from_numpy(np.stack([_pad(soft["slots"][i], n) for i in idx]))
                    kl_i = F.kl_div(F.log_softmax(il / temp, -1), F.softmax(ti / temp, -1), reduction="batchmean")
                    tok = b["tags"] != -100
                    kl_s = F.kl_div(
                        F.log_softmax(sl[tok] / temp, -1), F.softmax(ts[tok] / temp, -1), reduction="batchmean"
                    )
                    loss = (1 - alpha) * loss + alpha * temp * temp * (kl_i + kl_s)
                opt.zero_grad()
                torch.autograd.backward(loss)
                torch.nn.utils.clip_grad_norm_(opt.param_groups[0]["params"], 1.0)
                opt.step()
                sched.step()
                step += 1
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.3f}")
    log.info("%s: %d steps in %.0f s", desc, step, time.time() - t0)


def _pad(a: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros((n, a.shape[-1]), dtype=np.float32)
    out[: min(n, len(a))] = a[:n]
    return out


@torch.no_grad()
def predict_logits(model: JointModel, data: list[Encoded], batch: int = 64) -> dict[str, Any]:
    model.eval()
    intents: list[np.ndarray] = [np.zeros(0)] * len(data)
    slots: list[np.ndarray] = [np.zeros(0)] * len(data)
    for idx in batches(data, batch, None):
        b = _tensors(collate(data, idx))
        il, sl = model(b["ids"], b["mask"], b["types"])
        for r, i in enumerate(idx):
            intents[i] = il[r].numpy().astype(np.float32)
            slots[i] = sl[r, : len(data[i].ids)].numpy().astype(np.float32)
    model.train()
    return {"intent": intents, "slots": slots}


def accuracy(model: JointModel, data: list[Encoded]) -> dict[str, float]:
    """Intent accuracy and token-tag accuracy (a cheap in-training check, not the reported F1)."""
    out = predict_logits(model, data)
    ok = sum(int(np.argmax(out["intent"][i]) == d.intent) for i, d in enumerate(data))
    tk = tt = 0
    for i, d in enumerate(data):
        pred = np.argmax(out["slots"][i], -1)
        for p, g in zip(pred, d.tags, strict=False):
            if g != -100:
                tt += 1
                tk += int(p == g)
    return {"intent_acc": ok / max(1, len(data)), "tag_acc": tk / max(1, tt)}


def prune_vocab(tok_path: Path, used: set[int], out_path: Path) -> list[int]:
    """Keep the special tokens, every single character piece and the pieces the data uses.

    With every character kept, any word still splits into known pieces, so the pruned
    tokenizer never loses text; it only loses long pieces nobody needed.
    """
    spec = json.loads(tok_path.read_text())
    vocab: dict[str, int] = spec["model"]["vocab"]
    keep: list[int] = []
    for piece, i in sorted(vocab.items(), key=lambda kv: kv[1]):
        core = piece[2:] if piece.startswith("##") else piece
        special = piece.startswith("[") and piece.endswith("]") and i < 1000 and not piece.startswith("[unused")
        if i in used or special or (len(core) == 1 and core.isascii()):
            keep.append(i)
    inv = {i: p for p, i in vocab.items()}
    spec["model"]["vocab"] = {inv[old]: new for new, old in enumerate(keep)}
    pp = spec.get("post_processor") or {}
    for name, tok in (pp.get("special_tokens") or {}).items():
        tok["ids"] = [keep.index(vocab[name])]
    for added in spec.get("added_tokens") or []:
        if added["content"] in spec["model"]["vocab"]:
            added["id"] = spec["model"]["vocab"][added["content"]]
    spec["added_tokens"] = [a for a in spec.get("added_tokens") or [] if a["content"] in spec["model"]["vocab"]]
    spec["padding"] = None
    spec["truncation"] = None
    out_path.write_text(json.dumps(spec, ensure_ascii=False))
    Tokenizer.from_file(str(out_path))  # must load
    return keep
