"""The NLU model build (`python -m export build`): data -> teacher -> student -> int8 ONNX.

Writes model.onnx, tokenizer.json, labels.json and manifest.json (file sha256s, training
data hashes and the figures measured at build time) into the output directory.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import BertConfig

from edge_nlu.domain.schema import ADDED_INTENTS, ADDED_SLOTS
from edge_nlu.model.evaluate import evaluate, read_records
from edge_nlu.model.runner import NLUModel

from .calibrate import calibrate
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
from .dataset import bio_labels, encode, make_tokenizer, read_jsonl
from .distill import distill_layers, hidden_basis
from .from_onnx import load_shipped
from .generate import generate, hwu_context
from .ha_labels import training_examples
from .homes import HomeBuilder, load_kinds
from .model import StudentShape, from_pretrained, shrink
from .onnx_export import BATCH, SEQ, export_int8, to_onnx
from .quant_compare import compare, model_dir
from .train import accuracy, fit, predict_logits, prune_vocab

OUTPUTS = {"intent_logits": {0: BATCH}, "slot_logits": {0: BATCH, 1: SEQ}}
"""The joint model's graph outputs and their dynamic axes."""
FILES = ("model.onnx", "tokenizer.json", "labels.json")
"""The shipped files the manifest lists (besides itself)."""


@dataclass
class Data:
    """The build's examples, split, and where they came from (for the manifest)."""

    base_path: Path
    """The corpus (HWU64 train, or `--train`)."""
    base: list[dict[str, Any]]
    """Its examples (with context segments in the home recipe)."""
    generated: int
    """Generated home requests among `extra`."""
    dropped: int
    """Generated texts dropped as dev-set twins."""
    ha_report: dict[str, Any] | None
    """The HA template sample's report (export.ha_labels), None when not used."""
    hold: list[dict[str, Any]]
    """The holdout: never trained on; the student is measured and calibrated on it."""
    train: list[dict[str, Any]]
    """The training examples."""
    rng: random.Random
    """The build's random state after the data step (the rest of the build goes on drawing from it)."""


def training_data(args: argparse.Namespace) -> Data:
    """The examples and their split: the same for the same arguments (`export calibrate` relies on it)."""
    rng = random.Random(args.seed)
    q = args.quick
    corpus: Path | None = args.train
    base_path = corpus or DATA / "hwu64" / "train.jsonl"
    base = read_jsonl(base_path)
    if q:
        base = rng.sample(base, min(600, len(base)))
    kinds = load_kinds()
    gen: list[dict[str, Any]] = []
    dropped = 0
    ha_report: dict[str, Any] | None = None
    n_generated = 0
    if corpus is None:  # the home recipe: HWU64 with home context + generated home requests
        builder = HomeBuilder(kinds, random.Random(args.seed + 1))
        homes = [builder.build() for _ in range(50)]
        for r in base:
            r["context"] = hwu_context(rng.choice(homes), rng, r["intent"], r["text"])
        gen, dropped = generate(300 if q else args.generated, args.seed, kinds, load_exclusions())
        n_generated = len(gen)
        if args.ha_templates:
            per_intent = 4 if q else args.ha_templates
            ha, ha_report = training_examples(per_intent, args.seed + 3)
            ha_report["per_intent_asked"] = per_intent
            log.info("HA templates: %d samples (train pool), the resolver reproduces HA's frame from %d of them",
                     ha_report["samples"], ha_report["reproduced"])
            gen += ha
    else:  # a plain corpus (e.g. SNIPS): its own labels, no context segment
        for r in base:
            r["context"] = ""
    log.info("data: %d from %s + %d generated (%d generated texts dropped as dev-set twins)",
             len(base), base_path.name, len(gen), dropped)
    allx = base + gen
    rng.shuffle(allx)
    n_hold = max(50, len(allx) // 25)
    return Data(base_path, base, n_generated, dropped, ha_report, allx[:n_hold], allx[n_hold:], rng)


def build(args: argparse.Namespace) -> dict[str, Any]:
    """The home recipe (HWU64 with home context + generated requests), or a plain corpus with `--train`."""
    t_start = time.time()
    out: Path = args.out
    work = prepare(out, args.threads, "edge-nlu-build-")
    q = args.quick

    # 1. data ----------------------------------------------------------------------------------
    data = training_data(args)
    corpus, base_path, base, rng = args.train, data.base_path, data.base, data.rng
    hold, train = data.hold, data.train
    allx = hold + train
    intents = sorted({r["intent"] for r in allx})
    slot_types = sorted({s["type"] for r in allx for s in r["slots"]})
    tags = bio_labels(slot_types)
    iid = {n: i for i, n in enumerate(intents)}
    tid = {n: i for i, n in enumerate(tags)}

    # 2. teacher -------------------------------------------------------------------------------
    tdir = teacher_dir()
    cached: Path | None = None
    loaded = False
    if args.teacher_from is not None:  # a shipped model teaches (its int8 weights read back)
        tok_path = args.teacher_from / "tokenizer.json"
        teacher = load_shipped(args.teacher_from, BertConfig.from_pretrained(str(tdir)))
        shipped_labels = json.loads((args.teacher_from / "labels.json").read_text())
        if [i["name"] for i in shipped_labels["intents"]] != intents or shipped_labels["tags"] != tags:
            raise SystemExit(f"--teacher-from {args.teacher_from}: its labels are not this data's")
        teacher_key = "from-" + json.loads((args.teacher_from / "manifest.json").read_text())["files"][
            "model.onnx"]["sha256"][:16]
        tok_t = make_tokenizer(tok_path)
        enc_train = [encode(tok_t, r, iid, tid) for r in train]
        enc_hold = [encode(tok_t, r, iid, tid) for r in hold]
        extra = set(range(tok_t.get_vocab_size()))  # its vocabulary is already pruned: keep all of it
        log.info("teacher: %s read back from int8 (%d layers x %d)", args.teacher_from,
                 teacher.bert.config.num_hidden_layers, teacher.bert.config.hidden_size)
    else:
        tok_path = tdir / "tokenizer.json"
        tok_t = make_tokenizer(tok_path)
        enc_train = [encode(tok_t, r, iid, tid) for r in train]
        enc_hold = [encode(tok_t, r, iid, tid) for r in hold]
        extra = dev_free_vocab(tok_t)
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
    keep = prune_vocab(tok_path, used | extra, out / "tokenizer.json")
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
    shape = student_shape(args, teacher.bert.config.num_hidden_layers)
    layers = list(shape.layers)
    basis = hidden_basis(teacher, enc_train, shape.layers, shape.hidden, n=200 if q else 2000, seed=args.seed + 4)
    student = shrink(teacher, keep, shape, basis)
    if args.student_init is not None:  # go on training a student built before (same shape and vocabulary)
        student.load_state_dict(load_shipped(args.student_init, BertConfig.from_pretrained(str(tdir))).state_dict())
        log.info("student: starts from %s", args.student_init)
    layer_figures: dict[str, Any] | None = None
    if args.layer_epochs:
        layer_figures = distill_layers(student, teacher, s_train, enc_train, shape.layers, basis,
                                       epochs=args.layer_epochs, lr=3e-4, batch=32, seed=args.seed + 5,
                                       max_steps=10 if q else args.layer_max_steps)
    fit(student, s_train, epochs=args.student_epochs, lr=1.5e-4, batch=32, seed=args.seed + 2,
        desc="student", soft=soft, max_steps=15 if q else args.student_max_steps)
    student_hold = accuracy(student, s_hold)
    log.info("student holdout: %s", student_hold)

    # 4. ONNX + int8 ---------------------------------------------------------------------------
    int8 = export_int8(student, student.bert, out / "model.onnx", work, "student", OUTPUTS)
    log.info("fusion: %s", int8.fusion)
    sizes = {"fp32_bytes": int8.fp32_bytes, "int8_bytes": int8.int8_bytes}
    scheme = (f"the intents and slot types of {base_path.parent.name}/{base_path.name}" if corpus
              else "HWU64/SLURP scenario_action intents plus the project's home intents")
    labels: dict[str, Any] = {
        "scheme": scheme,
        "intents": [{"name": n, "description": ADDED_INTENTS.get(n, _describe(n))} for n in intents],
        "slot_types": [{"name": n, "description": ADDED_SLOTS.get(n, n.replace("_", " "))} for n in slot_types],
        "tags": tags,
    }
    write_json(out / "labels.json", labels, indent=1)
    write_manifest(out, {"files": file_entries(out, FILES)}, indent=None)  # enough for NLUModel to load it
    calibration = calibrate(out, hold)
    log.info("calibration: %s", calibration)
    labels["temperature"] = calibration["temperature"]
    write_json(out / "labels.json", labels, indent=1)
    files = file_entries(out, FILES)
    write_manifest(out, {"files": files}, indent=None)
    runtime = NLUModel(out)
    hold_records = [{"text": r["text"], "intent": r["intent"], "slots": r["slots"]} for r in hold if not r["context"]]
    figures: dict[str, Any] = {
        "teacher_holdout": teacher_hold,
        "student_holdout": student_hold,
        "int8_holdout_no_context": evaluate(runtime, hold_records),
        "calibration": calibration,
        **sizes,
    }
    if args.dev and args.dev.exists():
        dev = read_records(args.dev)
        if q:
            dev = dev[:200]
        figures["dev"] = {"file": args.dev.name, **evaluate(runtime, dev)}
        tdir_onnx = work / "teacher"
        tdir_onnx.mkdir()
        to_onnx(teacher, teacher.bert, tdir_onnx / "teacher_fp32.onnx", OUTPUTS)
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
        figures["quantization"] = _quantization(args, work, out, calib, dev, student.bert.config)
    manifest = {
        "name": out.name,
        "format": 1,
        "quick": q,
        "files": files,
        "teacher": ({"source": f"{args.teacher_from.name} (shipped int8 student, read back)",
                     "layers": teacher.bert.config.num_hidden_layers, "hidden": teacher.bert.config.hidden_size,
                     "key": teacher_key} if args.teacher_from is not None else
                    {"source": TEACHER, "layers": 6, "hidden": 384, "epochs": args.teacher_epochs,
                     "key": teacher_key, "from_cache": cached is not None and loaded}),
        "student": {"layers": len(layers), "from_teacher_layers": layers, "hidden": shape.hidden,
                    "heads": shape.heads, "intermediate": shape.intermediate,
                    "vocab": len(keep), "max_positions": shape.max_positions, "epochs": args.student_epochs,
                    "layer_distillation": {"epochs": args.layer_epochs, **(layer_figures or {})},
                    "params": int(sum(p.numel() for p in student.parameters()))},
        "onnx": {**int8.recipe, "fused": {k: v for k, v in int8.fusion.items() if v}},
        "training_data": {
            f"{base_path.parent.name}/{base_path.name}": hash_file(base_path),
            "devices/profiles.yaml": hash_file(ROOT / "devices" / "profiles.yaml"),
            "generated": {"count": data.generated, "seed": args.seed, "dropped_dev_twins": data.dropped},
            "ha_templates": _ha_entry(args, data),
            f"{base_path.parent.name}_count": len(base),
            "context": corpus is None,
        },
        "figures": figures,
        "build_seconds": round(time.time() - t_start, 1),
        "threads": args.threads,
    }
    write_manifest(out, manifest)
    return manifest


def _quantization(args: argparse.Namespace, work: Path, out: Path, calib: list[tuple[str, str]],
                  dev: list[dict[str, Any]], config: BertConfig) -> dict[str, Any]:
    """The shipped dynamic int8 graph against static QDQ variants (export.quant_compare), unless skipped."""
    if args.skip_quant_compare:
        return {"skipped": "--skip-quant-compare"}
    try:
        return compare(work, out, calib, dev, config)
    except Exception as exc:  # noqa: BLE001 - a comparison failure must not lose the build
        log.warning("static QDQ comparison failed: %s", exc)
        return {"error": str(exc)}


def student_shape(args: argparse.Namespace, teacher_layers: int) -> StudentShape:
    """The student's shape from the arguments (the quick build: the teacher's last layer alone)."""
    layers = (teacher_layers - 1,) if args.quick else tuple(args.student_layers)
    return StudentShape(layers=layers, hidden=args.student_hidden, heads=args.student_heads,
                        intermediate=args.student_intermediate)


def _ha_entry(args: argparse.Namespace, data: Data) -> dict[str, Any] | None:
    """The manifest's record of the HA template sample."""
    if data.ha_report is None:
        return None
    return {"package": "home-assistant-intents", "pool": "train", "per_intent": data.ha_report["per_intent_asked"],
            "seed": args.seed + 3, **{k: data.ha_report[k] for k in ("samples", "reproduced", "dropped_dev_twins")}}


def recalibrate(args: argparse.Namespace) -> dict[str, Any]:
    """Fit the temperature of an already built model (`args.out`) on its build's holdout, re-derived from
    the same arguments; refused when the manifest says the model was trained on other data."""
    out: Path = args.out
    manifest = json.loads((out / "manifest.json").read_text())
    data = training_data(args)
    trained = manifest.get("training_data", {})
    want = {"generated": trained.get("generated", {}).get("count"), "seed": trained.get("generated", {}).get("seed"),
            "ha_templates": (trained.get("ha_templates") or {}).get("samples")}
    got = {"generated": data.generated, "seed": args.seed,
           "ha_templates": data.ha_report["samples"] if data.ha_report else None}
    if want != got or trained.get(f"{data.base_path.parent.name}_count") != len(data.base):
        raise SystemExit(f"{out} was trained on other data ({want}) than these arguments give ({got}): "
                         "its holdout cannot be re-derived")
    calibration = calibrate(out, data.hold)
    labels = json.loads((out / "labels.json").read_text())
    labels["temperature"] = calibration["temperature"]
    write_json(out / "labels.json", labels, indent=1)
    manifest["files"] = file_entries(out, FILES)
    manifest.setdefault("figures", {})["calibration"] = calibration
    write_manifest(out, manifest)
    return calibration


def _teacher_key(args: argparse.Namespace, base_path: Path, train: list[dict[str, Any]], intents: list[str],
                 tags: list[str]) -> str:
    """What the teacher depends on: the exact training examples (in order), labels, seed and epochs."""
    h = hashlib.sha256()
    h.update(json.dumps([args.seed, args.teacher_epochs, args.quick, intents, tags, base_path.name]).encode())
    for r in train:
        h.update(json.dumps([r["text"], r.get("context") or "", r["intent"], r["slots"]], sort_keys=True).encode())
    return h.hexdigest()[:16]


def _fit_len(a: np.ndarray, n: int) -> np.ndarray:
    """Teacher slot logits cut or zero-padded to the student's token count."""
    out = np.zeros((n, a.shape[-1]), dtype=np.float32)
    out[: min(n, len(a))] = a[:n]
    return out


def _describe(intent: str) -> str:
    """A label's description when the schema has none: iot_hue_lightoff -> 'iot: hue lightoff'."""
    scenario, _, action = intent.partition("_")
    if action:
        return f"{scenario}: {action.replace('_', ' ')}"
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", intent).lower()  # SNIPS style: PlayMusic -> play music
