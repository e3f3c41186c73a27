"""The one onnxruntime session factory: the options every model runs with, and bad files as ModelError."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from edge_nlu.errors import ErrorCode, ModelError
from edge_nlu.model.session import make_session


@pytest.fixture()
def tiny_onnx(tmp_path: Path) -> Path:
    """y = x + 1 over a float vector: the smallest graph that loads and runs."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "one"], ["y"])], "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n"])],
        [helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "tiny.onnx"
    onnx.save(model, str(path))
    return path


def test_session_runs_on_the_cpu_with_the_runtime_options(tiny_onnx: Path) -> None:
    s = make_session(tiny_onnx)
    assert s.get_providers() == ["CPUExecutionProvider"]
    opts = s.get_session_options()
    assert opts.intra_op_num_threads == 1 and opts.inter_op_num_threads == 1
    assert opts.execution_mode == ort.ExecutionMode.ORT_SEQUENTIAL
    assert opts.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    out = s.run(None, {"x": np.asarray([1.0, 2.0], dtype=np.float32)})[0]
    np.testing.assert_array_equal(out, [2.0, 3.0])


def test_threads_are_passed_through(tiny_onnx: Path) -> None:
    assert make_session(tiny_onnx, threads=3).get_session_options().intra_op_num_threads == 3


@pytest.mark.parametrize("content", [b"", b"not an onnx graph", b"\x08\x07" * 64])
def test_a_file_onnxruntime_cannot_load_is_a_corrupt_model(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "model.onnx"
    bad.write_bytes(content)
    with pytest.raises(ModelError) as err:
        make_session(bad)
    assert err.value.code == ErrorCode.MODEL_CORRUPT
    assert str(bad) in str(err.value)


def test_a_missing_file_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError):
        make_session(tmp_path / "absent.onnx")
