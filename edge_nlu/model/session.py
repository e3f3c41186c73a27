"""The one place an onnxruntime session is made: the NLU model, the sentence encoder, the rephrase
detector and the bench's teacher baselines all run with the same options, so a measured difference
between them is the graph's, never the session's."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort

from edge_nlu.errors import ErrorCode, ModelError

PROVIDERS = ("CPUExecutionProvider",)
"""The runtime targets small CPUs only; naming the provider keeps a GPU build of onnxruntime off the GPU."""


def session_options(threads: int = 1) -> ort.SessionOptions:
    """One request at a time on a small CPU: `threads` intra-op threads (0: onnxruntime's default,
    one per physical core), one inter-op thread, sequential execution, all graph optimisations."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # x86 without VNNI runs int8 matmuls with AVX2 kernels that can saturate (onnxruntime's quantize.py warns of
    # it): near ties then went another way than on an ARM hub (2 of 466 dev answers). The exact kernel answers
    # as aarch64 does (466 of 466, benchmarks/aarch64_parse.py) for ~1.05x parse time.
    opts.add_session_config_entry("session.x64quantprecision", "1")
    return opts


def make_session(path: Path, threads: int = 1) -> ort.InferenceSession:
    """An inference session over the ONNX file at `path`.

    Raises ModelError (MODEL_CORRUPT) when onnxruntime cannot load the file, so a damaged or
    foreign graph is reported like any other bad model file instead of as an onnxruntime error.
    """
    try:
        return ort.InferenceSession(str(path), session_options(threads), providers=list(PROVIDERS))
    except Exception as exc:
        raise ModelError(f"onnxruntime cannot load {path}: {exc}", ErrorCode.MODEL_CORRUPT) from exc
