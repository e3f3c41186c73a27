"""`python -m export rewriter --out models/rewriter [--quick]`: the self-learning models.

1. A sentence encoder distilled from all-MiniLM-L6-v2 (mean pooled, L2-normalised): a few
   teacher layers, a pruned vocabulary, 64 positions; MSE + (1 - cosine) + in-batch
   similarity-structure loss against the teacher's embeddings of HWU64 train texts,
   generated home requests and ASR-noised / paraphrased copies. Exported with the pooling
   and normalisation inside the graph, through the recipe the NLU model uses (`onnx_export.py`).
2. The global index: the shipped successful phrasings, embedded by the int8 encoder.
3. The rephrase detector: a features -> 16 -> 1 MLP over `edge_nlu.learn.rephrase.pair_features`,
   trained on pairs from `rephrase_data.make_pairs`.
Writes encoder.onnx, tokenizer.json, rephrase.onnx, global_index.npy, global_texts.json and
manifest.json (sha256 + bytes per file, figures measured at build time).
"""

from __future__ import annotations

import argparse
import random
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tokenizers import Tokenizer
from torch import nn
from tqdm import tqdm
from transformers import BertModel

from edge_nlu.learn.encoder import OnnxSentenceEncoder, SentenceEncoder, load_global_index, verify_dir
from edge_nlu.learn.rephrase import FEATURES, N_FEATURES, RephraseDetector, pair_features
from edge_nlu.learn.types import normalize
from edge_nlu.model.session import make_session

from .common import (
    DATA,
    ROOT,
    TEACHER,
    dev_free_vocab,
    file_entries,
    hash_file,
    load_exclusions,
    log,
    prepare,
    teacher_dir,
    write_json,
    write_manifest,
)
from .dataset import make_tokenizer, read_jsonl
from .generate import generate
from .homes import load_kinds
from .model import copy_from_teacher, new_bert, student_config
from .onnx_export import BATCH, Int8Export, export_int8
from .rephrase_data import make_pairs, noise, paraphrase, request_key
from .train import optimizer, prune_vocab

HOME_SCENARIO_ORDER = ("iot", "audio", "play", "music", "weather", "datetime", "alarm", "lists", "general")
"""HWU64 scenarios whose texts join the global index, in order of preference when it is capped."""


# -- torch pieces ---------------------------------------------------------------------------------
class Pooled(nn.Module):
    """BERT -> attention-masked mean of the last hidden state -> L2 normalisation."""

    def __init__(self, bert: BertModel) -> None:
        super().__init__()
        self.bert = bert

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor) -> torch.Tensor:
        h = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                      token_type_ids=token_type_ids).last_hidden_state
        m = attention_mask.unsqueeze(-1).to(h.dtype)
        v = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return F.normalize(v, p=2.0, dim=-1)


class RephraseMLP(nn.Module):
    """Standardise (constants baked in) -> 16 ReLU -> 1 sigmoid."""

    mean: torch.Tensor
    """Feature means of the training pairs (a buffer, exported as a constant)."""
    scale: torch.Tensor
    """1 / feature standard deviation, floored at 1e-3 (a buffer)."""

    def __init__(self, mean: np.ndarray, std: np.ndarray, hidden: int = 16) -> None:
        super().__init__()
        self.register_buffer("mean", torch.from_numpy(mean.astype(np.float32)))
        self.register_buffer("scale", torch.from_numpy((1.0 / np.maximum(std, 1e-3)).astype(np.float32)))
        self.net = nn.Sequential(nn.Linear(len(mean), hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.net((x - self.mean) * self.scale)
        return out

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(features))


ENCODER_OUTPUTS = {"embedding": {0: BATCH}}
"""The encoder graph's one output and its dynamic axis."""


def _ids(tok: Tokenizer, texts: list[str]) -> list[list[int]]:
    return [tok.encode(t).ids for t in texts]


def _batch(ids: list[list[int]], idx: list[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    n = max(len(ids[i]) for i in idx)
    x = np.zeros((len(idx), n), dtype=np.int64)
    m = np.zeros_like(x)
    for r, i in enumerate(idx):
        x[r, : len(ids[i])] = ids[i]
        m[r, : len(ids[i])] = 1
    xt, mt = torch.from_numpy(x), torch.from_numpy(m)
    return xt, mt, torch.zeros_like(xt)


def _buckets(ids: list[list[int]], size: int, rng: random.Random | None) -> list[list[int]]:
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    chunks = [order[i: i + size] for i in range(0, len(order), size)]
    if rng is not None:
        rng.shuffle(chunks)
    return chunks


def embed_torch(model: Pooled, tok: Tokenizer, texts: list[str], batch: int = 128) -> np.ndarray:
    """Unit embeddings from a Pooled torch model, no grad, length-bucketed batches."""
    ids = _ids(tok, texts)
    out = np.zeros((len(texts), 384), dtype=np.float32)
    model.eval()
    with torch.no_grad():
        for idx in _buckets(ids, batch, None):
            out[idx] = model(*_batch(ids, idx)).numpy()
    return out


def make_student(teacher_bert: BertModel, keep: list[int], layers: list[int], max_pos: int) -> BertModel:
    """A BertModel from the teacher's chosen layers, pruned vocabulary rows and first positions."""
    s = new_bert(student_config(teacher_bert.config, len(keep), len(layers), max_pos))
    copy_from_teacher(teacher_bert, s, keep, layers, max_pos)
    return s


def distil(student: Pooled, ids: list[list[int]], target: np.ndarray, epochs: int, lr: float, batch: int,
           seed: int, max_steps: int | None = None) -> dict[str, float]:
    """MSE + (1 - cosine) to the teacher's unit embeddings, plus the in-batch similarity structure."""
    rng = random.Random(seed)
    torch.manual_seed(seed)
    per_epoch = len(_buckets(ids, batch, None))
    total = per_epoch * epochs if max_steps is None else min(max_steps, per_epoch * epochs)
    opt, sched = optimizer(student, lr, total)
    tgt = torch.from_numpy(target)
    student.train()
    step, t0, last = 0, time.time(), 0.0
    with tqdm(total=total, desc="encoder", unit="step", mininterval=5) as bar:
        for _ in range(epochs):
            for idx in _buckets(ids, batch, rng):
                if step >= total:
                    break
                s = student(*_batch(ids, idx))
                t = tgt[idx]
                cos = (s * t).sum(-1)
                loss = F.mse_loss(s, t) + (1 - cos).mean() + F.mse_loss(s @ s.T, t @ t.T)
                opt.zero_grad()
                torch.autograd.backward(loss)
                torch.nn.utils.clip_grad_norm_(opt.param_groups[0]["params"], 1.0)
                opt.step()
                sched.step()
                step += 1
                last = float(loss.item())
                bar.update(1)
                bar.set_postfix(loss=f"{last:.4f}")
    student.eval()
    log.info("encoder: %d steps in %.0f s, last loss %.4f", step, time.time() - t0, last)
    return {"steps": step, "seconds": round(time.time() - t0, 1), "last_loss": round(last, 5)}


def export_encoder(bert: BertModel, onnx_out: Path, work: Path, tag: str) -> Int8Export:
    """Pooled BERT through the shared recipe (fp32 ONNX -> transformer fusion -> dynamic int8) at onnx_out."""
    result = export_int8(Pooled(bert), bert, onnx_out, work, tag, ENCODER_OUTPUTS)
    log.info("%s fusion: %s", tag, result.fusion)
    return result


def train_rephrase(x: np.ndarray, y: np.ndarray, seed: int, epochs: int) -> RephraseMLP:
    torch.manual_seed(seed)
    model = RephraseMLP(x.mean(0), x.std(0))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-4)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.float32))[:, None]
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        perm = torch.randperm(len(xt), generator=gen)
        for b in range(0, len(xt), 256):
            i = perm[b: b + 256]
            loss = F.binary_cross_entropy_with_logits(model.logits(xt[i]), yt[i])
            opt.zero_grad()
            torch.autograd.backward(loss)
            opt.step()
    model.eval()
    return model


def export_rephrase(model: RephraseMLP, n_features: int, path: Path) -> None:
    """A 2 KB fp32 MLP over hand-made features: no transformer config of Optimum's fits it and there is nothing
    to fuse or quantize, so it keeps the plain torch exporter."""
    torch.onnx.export(model, (torch.zeros((1, n_features)),), str(path), input_names=["features"],
                      output_names=["probability"],
                      dynamic_axes={"features": {0: "batch"}, "probability": {0: "batch"}},
                      opset_version=17, dynamo=False)


# -- measures --------------------------------------------------------------------------------------
def binary_metrics(p: np.ndarray, y: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    pred = p > threshold
    tp = int(np.sum(pred & (y == 1)))
    fp = int(np.sum(pred & (y == 0)))
    fn = int(np.sum(~pred & (y == 1)))
    return {"n": int(len(y)), "accuracy": round(float(np.mean(pred == (y == 1))), 4),
            "precision": round(tp / max(1, tp + fp), 4), "recall": round(tp / max(1, tp + fn), 4),
            "roc_auc": round(roc_auc(p, y), 4)}


def roc_auc(p: np.ndarray, y: np.ndarray) -> float:
    """Mann-Whitney U with average ranks for ties."""
    order = np.argsort(p, kind="mergesort")
    ranks = np.empty(len(p), dtype=np.float64)
    sp = p[order]
    i = 0
    while i < len(sp):
        j = i
        while j + 1 < len(sp) and sp[j + 1] == sp[i]:
            j += 1
        ranks[order[i: j + 1]] = (i + j) / 2 + 1
        i = j + 1
    n1, n0 = int(np.sum(y == 1)), int(np.sum(y == 0))
    if not n1 or not n0:
        return float("nan")
    return float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def recall_at(q: np.ndarray, index: np.ndarray, gold: list[int], keys: list[Any] | None = None,
              ks: tuple[int, ...] = (1, 5)) -> dict[str, float]:
    """Share of queries whose gold row is among the k nearest; with `keys` (one per row) also the share whose
    nearest row asks for the same request (same intent and slot values) as the gold one."""
    sims = q @ index.T
    top = np.argsort(-sims, axis=1)[:, : max(ks)]
    g = np.asarray(gold)[:, None]
    out = {f"recall@{k}": round(float(np.mean((top[:, :k] == g).any(1))), 4) for k in ks}
    if keys is not None:
        out["same_request@1"] = round(float(np.mean([keys[t] == keys[i] for t, i in zip(top[:, 0], gold,
                                                                                          strict=True)])), 4)
    return out


def latency(encoders: dict[str, Any], texts: list[str], warmup: int = 20) -> dict[str, dict[str, float]]:
    """Per-text ms at batch 1, the encoders interleaved text by text (alternating who goes first)."""
    names = list(encoders)
    for t in texts[:warmup]:
        for n in names:
            encoders[n].encode([t])
    times: dict[str, list[float]] = {n: [] for n in names}
    for k, t in enumerate(texts):
        for n in names if k % 2 == 0 else reversed(names):
            t0 = time.perf_counter()
            encoders[n].encode([t])
            times[n].append((time.perf_counter() - t0) * 1000)
    return {n: {"p50_ms": round(float(np.percentile(v, 50)), 3), "p99_ms": round(float(np.percentile(v, 99)), 3),
                "n": len(v)} for n, v in times.items()}


# -- the build ------------------------------------------------------------------------------------
def _index_texts(gen: list[dict[str, Any]], hwu: list[dict[str, Any]], cap: int, rng: random.Random
                 ) -> tuple[list[str], dict[str, int]]:
    seen: set[str] = set()
    texts: list[str] = []
    counts = {"generated": 0, "hwu64": 0}
    for r in gen:
        k = normalize(r["text"])
        if k and k not in seen and len(texts) < cap:
            seen.add(k)
            texts.append(r["text"])
            counts["generated"] += 1
    pool = [r for r in hwu if r.get("scenario") in HOME_SCENARIO_ORDER and r["intent"] != "general_quirky"]
    rng.shuffle(pool)
    pool.sort(key=lambda r: HOME_SCENARIO_ORDER.index(r["scenario"]))
    for r in pool:
        k = normalize(r["text"])
        if k and k not in seen and len(texts) < cap:
            seen.add(k)
            texts.append(r["text"])
            counts["hwu64"] += 1
    return texts, counts


def build(args: argparse.Namespace) -> dict[str, Any]:
    """Encoder, global index and rephrase detector into args.out; returns the manifest."""
    t_start = time.time()
    out: Path = args.out
    work = prepare(out, args.threads, "edge-nlu-rewriter-")
    (out / "manifest.json").unlink(missing_ok=True)  # a half-written directory must not verify
    rng = random.Random(args.seed)
    q = args.quick
    figures: dict[str, Any] = {}

    # 1. data -----------------------------------------------------------------------------------
    hwu_path = DATA / "hwu64" / "train.jsonl"
    hwu = read_jsonl(hwu_path)
    for r in hwu:
        r["src"] = "hwu64"
    gen, dropped = generate(150 if q else args.generated, args.seed, load_kinds(), load_exclusions())
    for r in gen:
        r["src"] = "generated"
    if q:
        hwu = rng.sample(hwu, 200)
    clean: dict[str, str] = {}
    for r in gen + hwu:
        clean.setdefault(normalize(r["text"]), r["text"])
    keys = sorted(k for k in clean if k)
    rng.shuffle(keys)
    n_hold = 30 if q else max(200, len(keys) // 25)
    train_clean = [clean[k] for k in keys[n_hold:]]
    hold_clean = [clean[k] for k in keys[:n_hold]]
    aug: dict[str, str] = {}
    misheard: dict[str, str] = {}  # normalised noised copy -> normalised clean source
    arng = random.Random(args.seed + 1)
    for k in keys[n_hold:]:
        p = paraphrase(clean[k], arng)
        if p and normalize(p) not in clean:
            aug.setdefault(normalize(p), p)
        v = noise(clean[k], arng) if arng.random() < 0.6 else None
        if v and normalize(v) not in clean and normalize(v) not in aug:
            aug[normalize(v)] = v
            misheard[normalize(v)] = k
    train_texts = train_clean + list(aug.values())
    hold_noisy = [v for t in hold_clean if (v := noise(t, arng)) and normalize(v) not in clean]
    log.info("data: %d HWU64 + %d generated (%d dev twins dropped) -> %d clean texts (%d held out) + %d augmented",
             len(hwu), len(gen), dropped, len(keys), n_hold, len(aug))

    # 2. teacher embeddings ---------------------------------------------------------------------
    tdir = teacher_dir()
    tok_t = make_tokenizer(tdir / "tokenizer.json")
    teacher_bert = BertModel.from_pretrained(str(tdir), add_pooling_layer=False)
    teacher_bert.set_attn_implementation("eager")
    teacher = Pooled(teacher_bert).eval()
    t0 = time.time()
    t_train = embed_torch(teacher, tok_t, train_texts)
    log.info("teacher: %d embeddings in %.0f s", len(train_texts), time.time() - t0)
    if args.denoise > 0:  # a misheard copy should land near what was meant, not only near what was heard
        row = {normalize(t): i for i, t in enumerate(train_texts)}
        for nv, k in misheard.items():
            mix = (1 - args.denoise) * t_train[row[nv]] + args.denoise * t_train[row[k]]
            t_train[row[nv]] = mix / max(1e-9, float(np.linalg.norm(mix)))

    # 3. pruned vocabulary + student ------------------------------------------------------------
    used = {i for t in train_texts + hold_clean + hold_noisy for i in tok_t.encode(t).ids}
    keep = prune_vocab(tdir / "tokenizer.json", used | dev_free_vocab(tok_t), out / "tokenizer.json")
    tok_s = make_tokenizer(out / "tokenizer.json")
    log.info("vocabulary: %d -> %d pieces", tok_t.get_vocab_size(), len(keep))
    student_bert = make_student(teacher_bert, keep, args.layers, max_pos=64)
    student = Pooled(student_bert)
    figures["distillation"] = distil(student, _ids(tok_s, train_texts), t_train, epochs=args.epochs, lr=args.lr,
                                     batch=args.batch, seed=args.seed + 2, max_steps=15 if q else None)
    params = int(sum(p.numel() for p in student_bert.parameters()))

    # 4. ONNX + int8 ----------------------------------------------------------------------------
    sizes = export_encoder(student_bert, out / "encoder.onnx", work, "student")
    enc = OnnxSentenceEncoder(out / "encoder.onnx", out / "tokenizer.json", threads=args.threads)
    figures["encoder"] = {"int8_bytes": sizes.int8_bytes, "fp32_bytes": sizes.fp32_bytes, "params": params,
                          "vocab": len(keep), "layers": args.layers,
                          "fused": {k: v for k, v in sizes.fusion.items() if v}}
    hold_all = hold_clean + hold_noisy
    t_hold = embed_torch(teacher, tok_t, hold_all)
    s_hold = enc.encode(hold_all, batch_size=64)
    s_hold_fp32 = embed_torch(student, tok_s, hold_all)
    cos_int8 = np.sum(s_hold * t_hold, 1)
    figures["student_vs_teacher_cosine"] = {
        "n": len(hold_all),
        "int8_mean": round(float(np.mean(cos_int8)), 4),
        "int8_p05": round(float(np.percentile(cos_int8, 5)), 4),
        "fp32_mean": round(float(np.mean(np.sum(s_hold_fp32 * t_hold, 1))), 4),
        "int8_mean_clean": round(float(np.mean(cos_int8[: len(hold_clean)])), 4),
        "int8_mean_misheard": round(float(np.mean(cos_int8[len(hold_clean):])), 4),
    }
    log.info("student vs teacher cosine (held out): %s", figures["student_vs_teacher_cosine"])

    # 5. global index ---------------------------------------------------------------------------
    index_texts, index_counts = _index_texts(gen, hwu, 300 if q else args.index_cap, random.Random(args.seed + 3))
    vecs = enc.encode(index_texts, batch_size=1)  # batch 1, like a request at run time
    np.save(out / "global_index.npy", vecs.astype(np.float16), allow_pickle=False)
    write_json(out / "global_texts.json", index_texts, indent=0, ensure_ascii=False)
    # retrieval: a held-out text misheard (or paraphrased) -> its clean form among the index
    index_norm = [normalize(t) for t in index_texts]
    req: dict[str, Any] = {}
    for r in gen + hwu:
        req.setdefault(normalize(r["text"]), request_key(r))
    index_keys = [req.get(k) for k in index_norm]
    pos = {k: i for i, k in enumerate(index_norm)}
    qrng = random.Random(args.seed + 4)
    held_in_index = [t for t in hold_clean if normalize(t) in pos]
    retrieval: dict[str, Any] = {"index": len(index_texts)}
    t_index = embed_torch(teacher, tok_t, index_texts)
    index16 = np.load(out / "global_index.npy").astype(np.float32)
    for name, fn in (("noised", noise), ("paraphrased", paraphrase)):
        pairs = [(v, pos[normalize(t)]) for t in held_in_index
                 if (v := fn(t, qrng)) and normalize(v) not in pos]
        if not pairs:
            continue
        qs, gold = [p[0] for p in pairs], [p[1] for p in pairs]
        retrieval[name] = {
            "n": len(qs),
            "student_int8": recall_at(enc.encode(qs, batch_size=1), index16, gold, index_keys),
            "teacher_fp32": recall_at(embed_torch(teacher, tok_t, qs), t_index, gold, index_keys)}
    figures["retrieval"] = retrieval
    log.info("retrieval: %s", retrieval)

    # 6. rephrase detector ----------------------------------------------------------------------
    recs = [{"text": r["text"], "intent": r["intent"], "slots": r["slots"], "scenario": r.get("scenario")}
            for r in hwu + gen]
    prng = random.Random(args.seed + 5)
    split = {k: prng.random() < 0.1 for k in sorted({normalize(r["text"]) for r in recs})}
    n_pairs = 600 if q else args.pairs
    pairs_train = make_pairs([r for r in recs if not split[normalize(r["text"])]], n_pairs - n_pairs // 10, prng)
    pairs_hold = make_pairs([r for r in recs if split[normalize(r["text"])]], n_pairs // 10, prng)
    uniq = sorted({t for p in pairs_train + pairs_hold for t in (p["prev"], p["next"])})
    emb = dict(zip(uniq, enc.encode(uniq, batch_size=1), strict=True))  # batch 1: as the detector runs

    def feats(ps: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        x = np.stack([pair_features(p["prev"], p["next"], emb[p["prev"]], emb[p["next"]], p["gap_s"]) for p in ps])
        return x.astype(np.float32), np.asarray([p["label"] for p in ps], dtype=np.int64)

    x_tr, y_tr = feats(pairs_train)
    x_ho, y_ho = feats(pairs_hold)
    mlp = train_rephrase(x_tr, y_tr, args.seed + 6, epochs=10 if q else 60)
    export_rephrase(mlp, N_FEATURES, out / "rephrase.onnx")
    sess = make_session(out / "rephrase.onnx", 1)
    p_ho = sess.run(None, {"features": x_ho})[0].ravel()
    p_tr = sess.run(None, {"features": x_tr})[0].ravel()
    kinds = sorted({p["kind"] for p in pairs_hold})
    by_kind = {k: round(float(np.mean([(pp > 0.5) == bool(p["label"]) for p, pp in zip(pairs_hold, p_ho, strict=True)
                                       if p["kind"] == k])), 4) for k in kinds}
    figures["rephrase"] = {"train": binary_metrics(p_tr, y_tr), "holdout": binary_metrics(p_ho, y_ho),
                           "holdout_accuracy_by_kind": by_kind,
                           "holdout_positive_share": round(float(np.mean(y_ho)), 4)}
    log.info("rephrase: %s", figures["rephrase"])

    # 7. latency: student int8 vs teacher int8, one thread, interleaved --------------------------
    lat_texts = (hold_all + index_texts)[: 60 if q else 300]
    encoders: dict[str, Any] = {"student_int8": OnnxSentenceEncoder(out / "encoder.onnx", out / "tokenizer.json",
                                                                    threads=1, cache_size=0)}
    if not q:
        tq = export_encoder(teacher_bert, work / "teacher_int8.onnx", work, "teacher")
        tok_t.save(str(work / "teacher_tokenizer.json"))
        encoders["teacher_int8"] = OnnxSentenceEncoder(work / "teacher_int8.onnx", work / "teacher_tokenizer.json",
                                                       threads=1, cache_size=0)
        figures["encoder"]["teacher_int8_bytes"] = tq.int8_bytes
    lat: dict[str, Any] = dict(latency(encoders, lat_texts))
    if "teacher_int8" in lat:
        ratio = lat["teacher_int8"]["p50_ms"] / max(1e-9, lat["student_int8"]["p50_ms"])
        lat["teacher_over_student_p50"] = round(ratio, 2)
    figures["latency_one_thread"] = lat
    log.info("latency: %s", lat)

    # 8. manifest --------------------------------------------------------------------------------
    names = ("encoder.onnx", "tokenizer.json", "rephrase.onnx", "global_index.npy", "global_texts.json")
    files = file_entries(out, names)
    figures["total_bytes"] = sum(int(f["bytes"]) for f in files.values())
    figures["build_seconds"] = round(time.time() - t_start, 1)
    manifest = {
        "name": out.name,
        "format": 1,
        "kind": "rewriter",
        "quick": q,
        "files": files,
        "encoder": {"teacher": TEACHER,
                    "from_teacher_layers": args.layers, "hidden": 384, "vocab": len(keep), "max_positions": 64,
                    "pooling": "attention-masked mean of the last hidden state, L2-normalised (inside the graph)",
                    "inputs": ["input_ids", "attention_mask", "token_type_ids"], "output": "embedding",
                    "epochs": args.epochs, "params": params, "quantization": "dynamic int8 (QInt8 weights)",
                    "onnx": sizes.recipe},
        "rephrase": {"features": list(FEATURES), "hidden": 16, "input": "features", "output": "probability",
                     "pairs": {"train": len(pairs_train), "holdout": len(pairs_hold)}},
        "global_index": {"count": len(index_texts), "dtype": "float16", **index_counts},
        "training_data": {
            "hwu64/train.jsonl": hash_file(hwu_path),
            "devices/profiles.yaml": hash_file(ROOT / "devices" / "profiles.yaml"),
            "hwu64_count": len(hwu),
            "generated": {"count": len(gen), "seed": args.seed, "dropped_dev_twins": dropped},
            "clean_texts": len(keys), "held_out_texts": n_hold, "augmented_texts": len(aug),
            "misheard_copies": len(misheard), "denoise": args.denoise,
        },
        "figures": figures,
        "build_seconds": figures["build_seconds"],
        "threads": args.threads,
    }
    write_manifest(out, manifest)
    verify_dir(out)
    load_global_index(out)
    RephraseDetector(out, SentenceEncoder(out))
    shutil.rmtree(work, ignore_errors=True)
    return manifest
