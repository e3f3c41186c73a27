"""The whole export pipeline in --quick mode produces a model the runtime accepts."""

from __future__ import annotations

import json
from pathlib import Path

import onnx

from edge_nlu.model.runner import NLUModel, verify
from tests.conftest import require_export


def test_quick_build_writes_a_verified_int8_model(quick_model: Path) -> None:
    manifest = verify(quick_model)
    assert manifest["quick"] is True
    assert manifest["training_data"]["generated"]["count"] > 0
    figures = manifest["figures"]
    assert 0.0 <= figures["int8_holdout_no_context"]["intent_accuracy"] <= 1.0
    assert figures["int8_bytes"] < figures["fp32_bytes"]
    graph = onnx.load(str(quick_model / "model.onnx")).graph
    ops = {n.op_type for n in graph.node}
    assert "Attention" in ops or "QAttention" in ops  # transformer fusion happened
    assert ops & {"MatMulInteger", "DynamicQuantizeMatMul", "QAttention"}  # and int8 quantization
    labels = json.loads((quick_model / "labels.json").read_text())
    names = {i["name"] for i in labels["intents"]}
    assert {"iot_hue_lightoff", "iot_climate_query"} <= names


def test_quick_build_goes_through_the_optimum_recipe(quick_model: Path) -> None:
    """The quick build is the full build's code path: Optimum's exporter, optimizer and quantizer."""
    onnx_record = verify(quick_model)["onnx"]
    assert onnx_record["exporter"] == "optimum.exporters.onnx"
    assert onnx_record["fusion"]["optimizer"] == "ORTOptimizer" and onnx_record["fused"]["Attention"] >= 1
    assert onnx_record["quantization"]["quantizer"] == "ORTQuantizer"
    graph = onnx.load(str(quick_model / "model.onnx"))
    assert any(o.domain in ("", "ai.onnx") and o.version == onnx_record["opset"] for o in graph.opset_import)


def test_quick_build_records_the_student_shape_it_built(quick_model: Path) -> None:
    student = verify(quick_model)["student"]
    graph = onnx.load(str(quick_model / "model.onnx")).graph
    words = next(i for i in graph.initializer
                 if i.name.startswith("bert.embeddings.word_embeddings.weight") and len(i.dims) == 2)
    assert words.dims[1] == student["hidden"]  # the graph is as wide as the manifest says
    assert student["hidden"] % student["heads"] == 0 and student["intermediate"] > 0


def test_quick_model_runs_in_the_runtime(quick_model: Path) -> None:
    m = NLUModel(quick_model)
    out = m.predict("turn off the kitchen lights", "room kitchen | screen no")
    assert out.intent in m.labels.intents
    assert 0.0 < out.confidence <= 1.0
    for s in out.slots:
        assert "turn off the kitchen lights"[s.start:s.end] == s.value


def test_pruned_vocabulary_keeps_unseen_words(quick_model: Path) -> None:
    m = NLUModel(quick_model)
    enc = m.tok.encode("zyxwvut qqq")
    assert "[UNK]" not in enc.tokens


def test_build_measures_teacher_student_and_quantization_on_the_dev_set(quick_model: Path) -> None:
    figures = verify(quick_model)["figures"]
    dev, teacher = figures["dev"], figures["teacher_dev"]
    assert dev["n"] == teacher["n"] == 24
    assert teacher["precision"] == "fp32"
    gap = figures["student_minus_teacher_points"]
    assert gap["intent_accuracy"] == round(100 * (dev["intent_accuracy"] - teacher["intent_accuracy"]), 2)
    quant = figures["quantization"]
    assert set(quant) == {"dynamic_int8", "static_qdq_fused_matmul", "static_qdq_plain_matmul_gather"}
    assert quant["dynamic_int8"]["intent_accuracy"] == dev["intent_accuracy"]  # the shipped model itself
    for v in quant.values():
        assert v["n"] == 24 and v["bytes"] > 100_000
        assert 0 < v["p50_ms"] <= v["p99_ms"]


def _corpus_record(i: int) -> dict[str, object]:
    cities = ["paris", "oslo", "lima", "cairo", "quito", "rome", "kyiv", "dakar"]
    artists = ["miles davis", "nina simone", "bjork", "fela kuti", "abba", "sade"]
    if i % 2:
        city = cities[i % len(cities)]
        text = f"what will the weather be in {city} tomorrow"
        return {"text": text, "intent": "GetWeather",
                "slots": [{"type": "city", "start": text.index(city), "end": text.index(city) + len(city),
                           "value": city}]}
    artist = artists[i % len(artists)]
    text = f"play a song by {artist}"
    return {"text": text, "intent": "PlayMusic",
            "slots": [{"type": "artist", "start": 15, "end": 15 + len(artist), "value": artist}]}


def test_corpus_recipe_trains_on_the_corpus_labels_without_context(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys


    require_export()
    corpus = tmp_path / "train.jsonl"
    corpus.write_text("".join(json.dumps(_corpus_record(i)) + "\n" for i in range(240)))
    (tmp_path / "valid.jsonl").write_text("".join(json.dumps(_corpus_record(i)) + "\n" for i in range(7, 27)))
    out = tmp_path / "corpus_model"
    cache = tmp_path / "teachers"

    def build(dest: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "export", "build", "--quick", "--train", str(corpus), "--out", str(dest),
             "--threads", "2", "--teacher-cache", str(cache)],
            cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True, timeout=900,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )

    proc = build(out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    manifest = verify(out)
    assert manifest["teacher"]["from_cache"] is False and len(list(cache.glob("teacher-*.pt"))) == 1
    # the teacher is a separate step: a second build on the same data reuses it instead of training
    again = build(tmp_path / "again")
    assert again.returncode == 0, again.stderr[-3000:]
    second = verify(tmp_path / "again")
    assert "teacher: loaded" in again.stderr and second["teacher"]["from_cache"] is True
    assert second["teacher"]["key"] == manifest["teacher"]["key"]
    assert second["figures"]["teacher_holdout"] == manifest["figures"]["teacher_holdout"]
    assert second["figures"]["teacher_dev"]["intent_accuracy"] == manifest["figures"]["teacher_dev"]["intent_accuracy"]
    data = manifest["training_data"]
    assert data["context"] is False and data["generated"]["count"] == 0
    assert data[f"{tmp_path.name}_count"] == 240
    assert manifest["figures"]["dev"]["file"] == "valid.jsonl"  # found next to --train
    labels = json.loads((out / "labels.json").read_text())
    assert [i["name"] for i in labels["intents"]] == ["GetWeather", "PlayMusic"]
    assert labels["intents"][0]["description"] == "get weather"
    assert labels["tags"] == ["O", "B-artist", "I-artist", "B-city", "I-city"]
    assert NLUModel(out).predict("play a song by abba").intent in {"GetWeather", "PlayMusic"}


def test_build_refuses_a_missing_corpus(tmp_path: Path) -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "export", "build", "--train", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path)],
        cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2 and "no such file" in proc.stderr


def test_build_ships_a_temperature_fitted_on_its_holdout(quick_model: Path) -> None:
    calibration = verify(quick_model)["figures"]["calibration"]
    labels = json.loads((quick_model / "labels.json").read_text())
    assert labels["temperature"] == calibration["temperature"] > 0
    assert calibration["fitted_on"] == "build holdout" and calibration["n"] > 0
    assert calibration["holdout_nll_after"] <= calibration["holdout_nll_before"]  # 1.0 is a candidate
    assert NLUModel(quick_model).labels.temperature == labels["temperature"]


def test_build_trains_on_home_assistant_templates(quick_model: Path) -> None:
    ha = verify(quick_model)["training_data"]["ha_templates"]
    assert ha["package"] == "home-assistant-intents" and ha["pool"] == "train"
    assert ha["samples"] > 0 and 0 <= ha["reproduced"] <= ha["samples"]
    names = {i["name"] for i in json.loads((quick_model / "labels.json").read_text())["intents"]}
    assert {"timer_control", "broadcast"} <= names


def test_calibrate_command_refits_the_same_temperature_from_the_build_arguments(quick_model: Path,
                                                                               tmp_path: Path) -> None:
    import os
    import shutil
    import subprocess
    import sys

    from export.common import file_entries
    from tests.conftest import ROOT

    copy = tmp_path / "m"
    shutil.copytree(quick_model, copy)
    labels = json.loads((copy / "labels.json").read_text())
    labels["temperature"] = 5.0
    (copy / "labels.json").write_text(json.dumps(labels))
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["files"] = file_entries(copy, list(manifest["files"]))
    (copy / "manifest.json").write_text(json.dumps(manifest))
    proc = subprocess.run([sys.executable, "-m", "export", "calibrate", "--quick", "--out", str(copy)], cwd=ROOT,
                          capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads((copy / "labels.json").read_text())["temperature"] == labels_t(quick_model)
    verify(copy)  # the manifest lists the rewritten labels.json
    wrong = subprocess.run([sys.executable, "-m", "export", "calibrate", "--quick", "--seed", "99",
                            "--out", str(copy)], cwd=ROOT, capture_output=True, text=True,
                           env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=600)
    assert wrong.returncode != 0 and "trained on other data" in wrong.stderr


def labels_t(model: Path) -> float:
    return float(json.loads((model / "labels.json").read_text())["temperature"])
