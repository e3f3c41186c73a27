"""The shipped models exported both ways in one run (issue 16): the hand-written recipe the project used
until it moved to Optimum, against `export.onnx_export` (Optimum's exporter, ORTOptimizer, ORTQuantizer).

    python benchmarks/export_recipes.py [--out DIR] [--rounds 3] [--json]

Both recipes start from the same torch weights: each shipped int8 graph read back into torch
(`export.from_onnx`: lossless, every weight is on its int8 grid) and the teacher baseline of
`edge-nlu bench` (all-MiniLM-L6-v2) from its package. For each model and recipe:

- dev accuracy: the home model on SLURP devel (intent accuracy, slot F1) and on the public context
  benchmark (frame accuracy, through `EdgeNLU.parse` on its home); the SNIPS model on SNIPS valid;
  the rewriter's encoder and the teacher, which have no labels, as agreement with their fp32 torch
  forward (mean cosine, and for the encoder the same top-1 neighbour in the shipped global index);
- size of the int8 file;
- p50/p99 with one thread: the home model's whole `EdgeNLU.parse`, the SNIPS model's `NLUModel.predict`,
  the encoder's `encode` of one text, the teacher's session forward; the two recipes interleaved request
  by request so machine noise hits both alike;
- the fused graph's fused operators, and the int8 graph's operator counts;
- for the home model also the static calibrated QDQ variants the build compares (`export.quant_compare`,
  through ORTQuantizer.fit/quantize), calibrated on 200 HWU64 train requests with home contexts as the
  build makes them, measured on SLURP devel.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
sys.path[:0] = [str(ROOT), str(ROOT / "tools"), str(ROOT / "benchmarks")]

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402
from context_eval import score  # noqa: E402
from onnxruntime.quantization import QuantType, quantize_dynamic  # noqa: E402
from onnxruntime.transformers.optimizer import optimize_model  # noqa: E402
from optimum.onnxruntime import ORTOptimizer  # noqa: E402
from transformers import AutoModel, BertConfig, BertModel  # noqa: E402

from edge_nlu.learn.encoder import OnnxSentenceEncoder, load_global_index  # noqa: E402
from edge_nlu.model.evaluate import evaluate, read_records  # noqa: E402
from edge_nlu.model.runner import NLUModel  # noqa: E402
from edge_nlu.model.session import make_session  # noqa: E402
from edge_nlu.pipeline import load  # noqa: E402
from edge_nlu_tools.bench import baseline  # noqa: E402
from export.build import OUTPUTS  # noqa: E402
from export.common import file_entries, teacher_dir, write_manifest  # noqa: E402
from export.from_onnx import load_encoder, load_shipped  # noqa: E402
from export.generate import hwu_context  # noqa: E402
from export.homes import HomeBuilder, load_kinds  # noqa: E402
from export.onnx_export import eager_attention, export_int8, quantize_int8  # noqa: E402
from export.quant_compare import compare  # noqa: E402
from export.rewriter import ENCODER_OUTPUTS, Pooled  # noqa: E402

RECIPES = ("manual", "optimum")
"""`manual`: the pre-Optimum recipe below; `optimum`: export.onnx_export, what the build runs now."""


# -- the hand-written recipe, as export/onnx_export.py had it before Optimum (the baseline) ----------------
def manual_int8(model: torch.nn.Module, bert: BertModel, dest: Path, work: Path, tag: str,
                outputs: dict[str, dict[int, str]]) -> dict[str, int]:
    """TorchScript torch.onnx.export -> onnxruntime optimize_model (BERT fusion, opt_level 0) -> quantize_dynamic."""
    model.eval()
    eager_attention(bert)
    fp32, fused = work / f"{tag}_manual_fp32.onnx", work / f"{tag}_manual_fused.onnx"
    ids = torch.ones((1, 12), dtype=torch.long)
    inputs = ("input_ids", "attention_mask", "token_type_ids")
    torch.onnx.export(model, (ids, torch.ones_like(ids), torch.zeros_like(ids)), str(fp32),
                      input_names=list(inputs), output_names=list(outputs),
                      dynamic_axes={**{n: {0: "batch", 1: "seq"} for n in inputs},
                                    **{n: dict(a) for n, a in outputs.items()}},
                      opset_version=17, dynamo=False)
    opt = optimize_model(str(fp32), model_type="bert", num_heads=bert.config.num_attention_heads,
                         hidden_size=bert.config.hidden_size, opt_level=0)
    stats = {k: int(v) for k, v in opt.get_fused_operator_statistics().items() if v}
    opt.save_model_to_file(str(fused))
    quantize_dynamic(str(fused), str(dest), weight_type=QuantType.QInt8,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    return stats


def build(recipe: str, model: torch.nn.Module, bert: BertModel, dest: Path, work: Path, tag: str,
          outputs: dict[str, dict[int, str]]) -> dict[str, Any]:
    """One model through one recipe: the int8 file, its fused operators, its operator counts, seconds."""
    t0 = time.perf_counter()
    if recipe == "manual":
        fused = manual_int8(model, bert, dest, work, tag, outputs)
        return graph_facts(dest, fused, time.perf_counter() - t0)
    result = export_int8(model, bert, dest, work, f"{tag}_optimum", outputs)
    out = graph_facts(dest, result.fusion, time.perf_counter() - t0)
    # the other hub's AutoQuantizationConfig, from the same fused graph
    other = work / f"{tag}_optimum_avx512_vnni.onnx"
    quantize_int8(result.fused, other, bert.config, "avx512_vnni")
    out["avx512_vnni_graph_identical_to_arm64"] = other.read_bytes() == dest.read_bytes()
    return out


def graph_facts(int8: Path, fused: dict[str, int], seconds: float) -> dict[str, Any]:
    """Size, fused operators (non-zero) and operator counts of an int8 graph, and how long its export took."""
    ops = Counter(n.op_type for n in onnx.load(str(int8)).graph.node)
    return {"bytes": int8.stat().st_size, "fused": {k: v for k, v in fused.items() if v},
            "int8_ops": dict(sorted(ops.items())), "int8_nodes": sum(ops.values()), "export_s": round(seconds, 1)}


# -- timing --------------------------------------------------------------------------------------------
def interleaved(subjects: dict[str, Callable[[Any], object]], items: list[Any], rounds: int) -> dict[str, Any]:
    """p50/p99 ms per subject, the subjects taking turns on every item, in alternating order."""
    times: dict[str, list[float]] = {k: [] for k in subjects}
    for fn in subjects.values():
        for x in items[:20]:
            fn(x)
    order = list(subjects.items())
    for _ in range(rounds):
        for x in items:
            order.reverse()  # who goes first alternates: the second runs on warmer caches
            for k, fn in order:
                t0 = time.perf_counter_ns()
                fn(x)
                times[k].append((time.perf_counter_ns() - t0) / 1e6)
    out = {k: {"p50_ms": round(float(np.percentile(v, 50)), 4), "p99_ms": round(float(np.percentile(v, 99)), 4),
               "n": len(v)} for k, v in times.items()}
    base = out[RECIPES[0]]
    for k in out:
        out[k]["p50_vs_manual"] = round(out[k]["p50_ms"] / base["p50_ms"], 3)
    return out


def _parse(nlu: Any) -> Callable[[Any], object]:
    def call(request: Any) -> object:
        return nlu.parse(*request)
    return call


def _encode(encoder: OnnxSentenceEncoder) -> Callable[[Any], object]:
    def call(text: Any) -> object:
        return encoder.encode([text], batch_size=1)
    return call


def _forward(session: Any) -> Callable[[Any], object]:
    def call(feed: Any) -> object:
        return session.run(None, feed)
    return call


def model_copy(src: Path, onnx_path: Path, dest: Path) -> Path:
    """A model directory like `src` with another graph, its manifest rewritten so it verifies."""
    shutil.copytree(src, dest)
    shutil.copyfile(onnx_path, dest / "model.onnx")
    manifest = json.loads((src / "manifest.json").read_text())
    manifest["files"] = file_entries(dest, list(manifest["files"]))
    write_manifest(dest, manifest)
    return dest


# -- the models ----------------------------------------------------------------------------------------
def nlu_model(name: str, work: Path, base: BertConfig, data: Path, rounds: int,
              parse_home: Path | None = None, cases: Path | None = None) -> dict[str, Any]:
    shipped = ROOT / "models" / name
    model = load_shipped(shipped, base)
    out: dict[str, Any] = {"recipes": {}}
    dirs: dict[str, Path] = {}
    for recipe in RECIPES:
        graph = work / f"{name}_{recipe}.onnx"
        out["recipes"][recipe] = build(recipe, model, model.bert, graph, work, name, OUTPUTS)
        dirs[recipe] = model_copy(shipped, graph, work / f"{name}_{recipe}")
    records = read_records(data)
    models = {r: NLUModel(d, threads=1) for r, d in dirs.items()}
    for recipe, m in models.items():
        ev = evaluate(m, records)
        out["recipes"][recipe]["dev"] = {"file": f"{data.parent.name}/{data.name}", "n": ev["n"],
                                         "intent_accuracy": round(ev["intent_accuracy"], 4),
                                         "slot_f1": round(ev["slot_f1"], 4)}
    texts = [r["text"] for r in records]
    out["same_answers"] = sum(
        _answer(models["manual"], t) == _answer(models["optimum"], t) for t in texts) / len(texts)
    if parse_home is not None and cases is not None:
        lines = [json.loads(x) for x in cases.read_text().splitlines() if x.strip()]
        nlus = {r: load(model=d, home=parse_home, threads=1) for r, d in dirs.items()}
        for recipe, nlu in nlus.items():
            results = [nlu.parse(c["text"], c.get("context") or {}, c["id"]) for c in lines]
            sc = score(lines, results)
            out["recipes"][recipe]["context_dev"] = {"cases": sc["cases"], "frame_accuracy": round(
                sc["frame_accuracy"], 4), "intent_accuracy": round(sc["intent_accuracy"], 4)}
        reqs = [(c["text"], c.get("context") or {}) for c in lines] + [(t, {}) for t in texts[:300]]
        out["latency"] = {"what": "EdgeNLU.parse (whole parse), one thread",
                          **interleaved({r: _parse(n) for r, n in nlus.items()}, reqs, rounds)}
        out["static"] = static_variants(work, dirs["optimum"], records, model.bert.config)
    else:
        out["latency"] = {"what": "NLUModel.predict, one thread",
                          **interleaved({r: m.predict for r, m in models.items()}, texts[:500], rounds)}
    return out


def static_variants(work: Path, dynamic_dir: Path, dev: list[dict[str, Any]], config: BertConfig) -> dict[str, Any]:
    """The build's static QDQ comparison on the Optimum graphs (named as the build names them)."""
    static = work / "static"
    static.mkdir(exist_ok=True)
    for kind in ("fp32", "fused"):
        shutil.copyfile(work / f"home_optimum_{kind}.onnx", static / f"student_{kind}.onnx")
    rng = random.Random(16)
    builder = HomeBuilder(load_kinds(), random.Random(17))
    homes = [builder.build() for _ in range(50)]
    train = rng.sample(read_records(SHARED / "data" / "hwu64" / "train.jsonl"), 200)
    calib = [(r["text"], hwu_context(rng.choice(homes), rng, r["intent"], r["text"])) for r in train]
    got = compare(static, dynamic_dir, calib, dev, config)
    return {k: {m: (round(v, 4) if isinstance(v, float) else v) for m, v in x.items()} for k, x in got.items()}


def _answer(m: NLUModel, text: str) -> tuple[str, tuple[tuple[str, int, int], ...]]:
    p = m.predict(text)
    return p.intent, tuple((s.type, s.start, s.end) for s in p.slots)


def _mean_pool(bert: BertModel, tok: Any, texts: list[str]) -> np.ndarray:
    rows = []
    with torch.no_grad():
        for t in texts:
            ids = torch.tensor([tok.encode(t).ids])
            h = bert(input_ids=ids, attention_mask=torch.ones_like(ids),
                     token_type_ids=torch.zeros_like(ids)).last_hidden_state[0]
            v = h.mean(0)
            rows.append((v / v.norm()).numpy())
    return np.stack(rows)


def encoder(work: Path, base: BertConfig, texts: list[str], rounds: int) -> dict[str, Any]:
    shipped = ROOT / "models" / "rewriter"
    bert = load_encoder(shipped / "encoder.onnx", base)
    out: dict[str, Any] = {"recipes": {}}
    encs: dict[str, OnnxSentenceEncoder] = {}
    for recipe in RECIPES:
        graph = work / f"encoder_{recipe}.onnx"
        out["recipes"][recipe] = build(recipe, Pooled(bert), bert, graph, work, "encoder", ENCODER_OUTPUTS)
        encs[recipe] = OnnxSentenceEncoder(graph, shipped / "tokenizer.json", threads=1, cache_size=0)
    ref = _mean_pool(bert, encs["manual"].tok, texts)
    _, index = load_global_index(shipped)
    index = index.astype(np.float32)
    ref_top = (ref @ index.T).argmax(1)
    for recipe, enc in encs.items():
        vecs = enc.encode(texts, batch_size=1)
        out["recipes"][recipe]["dev"] = {
            "texts": f"SLURP devel, first {len(texts)}",
            "mean_cosine_to_fp32": round(float((vecs * ref).sum(1).mean()), 5),
            "same_top1_in_global_index_as_fp32": round(float(((vecs @ index.T).argmax(1) == ref_top).mean()), 4)}
    out["latency"] = {"what": "encode one text, one thread",
                      **interleaved({r: _encode(e) for r, e in encs.items()}, texts, rounds)}
    return out


def teacher(work: Path, texts: list[str], rounds: int) -> dict[str, Any]:
    """all-MiniLM-L6-v2 both ways: the old recipe, and `edge-nlu bench`'s own export (baseline.export_teacher)."""
    bert = AutoModel.from_pretrained(str(baseline.teacher_source()), attn_implementation="eager",
                                     local_files_only=True).eval()

    class Plain(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                    token_type_ids: torch.Tensor) -> torch.Tensor:
            h: torch.Tensor = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                                        token_type_ids=token_type_ids).last_hidden_state
            return h

    manual = work / "teacher_manual.onnx"
    out: dict[str, Any] = {"recipes": {"manual": build("manual", Plain(), bert, manual, work, "teacher",
                                                        {"last_hidden_state": {0: "batch", 1: "seq"}})}}
    # the Optimum side is what `edge-nlu bench` itself runs (its built-in BertOnnxConfig)
    cache = work / "bench_cache"
    t0 = time.perf_counter()
    baseline.export_teacher(cache)
    graph = cache / baseline.FILES["int8"]
    out["recipes"]["optimum"] = graph_facts(
        graph, ORTOptimizer.get_fused_operators(cache / baseline.FILES["fp32"]), time.perf_counter() - t0)
    sessions = {"manual": make_session(manual, 1), "optimum": make_session(graph, 1)}
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(baseline.teacher_source() / "tokenizer.json"))
    tok.no_padding()
    encs = [tok.encode(t) for t in texts]
    feeds = [{"input_ids": np.asarray([e.ids]), "attention_mask": np.ones((1, len(e.ids)), dtype=np.int64),
              "token_type_ids": np.zeros((1, len(e.ids)), dtype=np.int64)} for e in encs]
    ref = _mean_pool(bert, tok, texts)
    for recipe, s in sessions.items():
        vecs = np.stack([s.run(None, f)[0][0].mean(0) for f in feeds])
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        out["recipes"][recipe]["dev"] = {"texts": f"SLURP devel, first {len(texts)}",
                                         "mean_cosine_to_fp32": round(float((vecs * ref).sum(1).mean()), 5)}
    out["latency"] = {"what": "session forward, one thread",
                      **interleaved({r: _forward(s) for r, s in sessions.items()}, feeds, rounds)}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, help="keep the graphs here (default: a temporary folder)")
    ap.add_argument("--rounds", type=int, default=3, help="timing passes over the texts")
    ap.add_argument("--only", nargs="*", choices=("home", "snips", "encoder", "teacher"),
                    default=["home", "snips", "encoder", "teacher"])
    ap.add_argument("--json", action="store_true", help="print the whole report as JSON")
    args = ap.parse_args()
    torch.set_num_threads(1)
    work = args.out or Path(tempfile.mkdtemp(prefix="export-recipes-"))
    work.mkdir(parents=True, exist_ok=True)
    base = BertConfig.from_pretrained(str(teacher_dir()))
    slurp = SHARED / "data" / "slurp" / "devel.jsonl"
    texts = [r["text"] for r in read_records(slurp)[:300]]
    report: dict[str, Any] = {}
    t0 = time.time()
    if "home" in args.only:
        report["home"] = nlu_model("home", work, base, slurp, args.rounds,
                                   SHARED / "context" / "dev" / "home.json", SHARED / "context" / "dev" / "cases.jsonl")
    if "snips" in args.only:
        report["snips"] = nlu_model("snips", work, base, SHARED / "data" / "snips" / "valid.jsonl", args.rounds)
    if "encoder" in args.only:
        report["encoder"] = encoder(work, base, texts, args.rounds)
    if "teacher" in args.only:
        report["teacher"] = teacher(work, texts, args.rounds)
    report["seconds"] = round(time.time() - t0, 1)
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        _table(report)
    if args.out is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _table(report: dict[str, Any]) -> None:
    for name, r in report.items():
        if not isinstance(r, dict):
            continue
        lat = r["latency"]
        print(f"\n{name}  ({lat['what']})" + (f", same answers {r['same_answers']:.4f}" if "same_answers" in r else ""))
        for recipe in RECIPES:
            x = r["recipes"][recipe]
            dev = {k: v for k, v in x["dev"].items() if k not in ("file", "texts", "n")}
            extra = x.get("context_dev")
            print(f"  {recipe:8s} {x['bytes'] / 1e6:7.3f} MB  p50 {lat[recipe]['p50_ms']:.3f} ms "
                  f"p99 {lat[recipe]['p99_ms']:.3f} ms ({lat[recipe]['p50_vs_manual']:.3f}x)  dev {dev}"
                  + (f" context {extra}" if extra else ""))
            print(f"           fused {x['fused']}  int8 nodes {x['int8_nodes']} {x['int8_ops']}"
                  + (f"  avx512_vnni graph = arm64 graph: {x['avx512_vnni_graph_identical_to_arm64']}"
                     if "avx512_vnni_graph_identical_to_arm64" in x else ""))
        for variant, x in (r.get("static") or {}).items():
            print(f"  {variant:32s} {x['bytes'] / 1e6:7.3f} MB  intent {x['intent_accuracy']} slot F1 {x['slot_f1']}"
                  f"  p50 {x['p50_ms']} ms p99 {x['p99_ms']} ms (NLUModel.predict)")
    print(f"\n{report['seconds']} s")


if __name__ == "__main__":
    raise SystemExit(main())
