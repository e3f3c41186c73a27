"""The narrower student's initialisation: projection of a teacher through a basis of its hidden states,
and reading a shipped int8 graph back into torch (on tiny random BERTs: no training, seconds)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="the export extra is not installed")

from transformers import BertConfig  # noqa: E402

from export.dataset import Encoded  # noqa: E402
from export.distill import distill_layers, hidden_basis  # noqa: E402
from export.model import JointModel, StudentShape, shaped_config, shrink  # noqa: E402


def _teacher(seed: int = 0) -> JointModel:
    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=50, hidden_size=64, num_hidden_layers=3, num_attention_heads=4,
                     intermediate_size=128, max_position_embeddings=32)
    cfg._attn_implementation = "eager"
    model = JointModel(cfg, n_intents=5, n_tags=7)
    model.eval()
    return model


def _data(n: int = 24) -> list[Encoded]:
    g = torch.Generator().manual_seed(1)
    out = []
    for i in range(n):
        k = 4 + i % 6
        ids = [1, *torch.randint(3, 50, (k,), generator=g).tolist(), 2]
        out.append(Encoded(ids=ids, types=[0] * len(ids), intent=i % 5, tags=[-100] + [0] * k + [-100]))
    return out


def _forward(m: JointModel, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    m.eval()
    with torch.no_grad():
        return m(ids, torch.ones_like(ids), torch.zeros_like(ids))


def test_at_the_teachers_width_the_student_is_an_exact_copy_of_the_chosen_layers() -> None:
    t = _teacher()
    shape = StudentShape(layers=(0, 1, 2), hidden=64, heads=4, intermediate=128, max_positions=32)
    s = shrink(t, list(range(50)), shape)
    ids = torch.tensor([[1, 5, 9, 14, 2]])
    for a, b in zip(_forward(t, ids), _forward(s, ids), strict=True):
        assert torch.allclose(a, b, atol=1e-5)


def test_a_narrow_student_keeps_the_teachers_function_approximately() -> None:
    t = _teacher()
    data = _data()
    basis = hidden_basis(t, data, (0, 1, 2), 32, n=len(data))
    assert torch.allclose(basis.T @ basis, torch.eye(32), atol=1e-4)  # orthonormal columns
    shape = StudentShape(layers=(0, 1, 2), hidden=32, heads=1, intermediate=96, max_positions=32)
    s = shrink(t, list(range(50)), shape, basis)
    assert s.bert.config.hidden_size == 32 and s.bert.config.num_attention_heads == 1
    ids = torch.tensor([d.ids for d in data[:1]])
    _, slots_t = _forward(t, ids)
    _, slots_s = _forward(s, ids)
    assert slots_s.shape == slots_t.shape
    # an untrained narrow copy is closer to its teacher than a fresh network of the same shape
    fresh = JointModel(shaped_config(t.bert.config, 50, shape), 5, 7)
    _, slots_f = _forward(fresh, ids)
    assert (slots_s - slots_t).norm() < (slots_f - slots_t).norm()


def test_heads_that_do_not_group_are_refused() -> None:
    t = _teacher()
    with pytest.raises(ValueError, match="group"):
        shrink(t, list(range(50)), StudentShape(layers=(0,), hidden=48, heads=4, intermediate=96, max_positions=32),
               torch.eye(64)[:, :48])
    with pytest.raises(ValueError, match="wider"):
        shrink(t, list(range(50)), StudentShape(layers=(0,), hidden=64, heads=4, intermediate=256))


def test_layer_distillation_brings_the_student_closer_to_the_teacher() -> None:
    t = _teacher()
    data = _data(64)
    basis = hidden_basis(t, data, (0, 2), 32, n=len(data))
    shape = StudentShape(layers=(0, 2), hidden=32, heads=1, intermediate=96, max_positions=32)
    s = shrink(t, list(range(50)), shape, basis)
    first = distill_layers(s, t, data, data, (0, 2), basis, epochs=1, lr=1e-3, batch=16, seed=0, max_steps=1)
    last = distill_layers(s, t, data, data, (0, 2), basis, epochs=8, lr=1e-3, batch=16, seed=0)
    assert last["steps"] == 32 and last["examples"] == 64
    assert last["hidden"] + last["relations"] < first["hidden"] + first["relations"]


def test_the_shipped_int8_graph_reads_back_into_torch() -> None:
    from pathlib import Path

    import numpy as np

    from edge_nlu.model.runner import NLUModel
    from export.from_onnx import load_shipped

    shipped = Path(__file__).resolve().parent.parent / "models" / "home"
    back = load_shipped(shipped, BertConfig())
    runtime = NLUModel(shipped)
    agree = total = 0
    for text, segment in (("turn off the kitchen lights", "room kitchen | screen no"),
                          ("what is the temperature", "room kitchen | screen no | active oven on"),
                          ("wake me up at five am tomorrow", ""), ("play the hobbit", "room den | screen yes"),
                          ("how many calories in an apple", "")):
        enc = runtime.encode(text, segment)
        intent, slots = runtime.run(enc)
        ids = torch.from_numpy(enc.ids[None, :])
        with torch.no_grad():
            il, sl = back(ids, torch.ones_like(ids), torch.from_numpy(enc.type_ids[None, :]))
        assert int(il.argmax()) == int(np.argmax(intent))
        agree += int((sl.numpy().argmax(-1) == slots.argmax(-1)).sum())
        total += slots.shape[1]
    assert agree / total >= 0.95  # only the int8 activations differ
