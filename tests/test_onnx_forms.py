"""ONNX forms beside their ops (one mechanism for the library's ops and the user's), reads of
traced values refused at export, and exports that match eager where they used not to: MaxPool
at NaN, backward slices at small batches, the dtype of ``nn.export_onnx``."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import autograd_core as ag  # noqa: E402
import nn  # noqa: E402
from autograd_core import Function, Tensor  # noqa: E402
from autograd_core.onnx.backend import forms, has_form, in_library  # noqa: E402
from autograd_core.ops.elementwise import Exp  # noqa: E402

HERE = __file__


def run(model: Any, *arrays: np.ndarray) -> list[np.ndarray]:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return sess.run(None, {i.name: a for i, a in zip(sess.get_inputs(), arrays)})


def eager(f: Any, *arrays: np.ndarray) -> np.ndarray:
    with ag.no_grad():
        return f(*(Tensor(a) for a in arrays)).numpy()


# ============================================================== one mechanism, beside the ops


class Renamed(Exp):
    """The library's Exp under another class name and op name: it keeps its form."""

    name = "my_exp"


Subclassed = type("Subclassed", (Exp,), {})  # a subclass that says nothing of its own


class Twice(Function):
    """A user op in one ONNX node, said the way the library's one-node ops say it."""

    onnx_op = "Add"

    def forward(self, x, y):
        return x + y

    def backward(self, g, out, x, y):
        return g, g


def test_renaming_or_subclassing_an_op_keeps_its_form() -> None:
    x = np.array([[0.5, -1.0], [2.0, 0.0]])
    for f in (lambda t: Renamed.apply(t), lambda t: Subclassed.apply(t)):
        proto = ag.export_onnx(f, x)
        assert [n.op_type for n in proto.graph.node] == ["Exp"]
        np.testing.assert_allclose(run(proto, x)[0], np.exp(x), rtol=1e-15)


def test_a_user_op_uses_the_same_attribute_as_the_librarys() -> None:
    x = np.array([[1.0, 2.0]])
    proto = ag.export_onnx(lambda t: Twice.apply(t, t * 3), x)
    assert [n.op_type for n in proto.graph.node] == ["Mul", "Add"]
    np.testing.assert_array_equal(run(proto, x)[0], [[4.0, 8.0]])


#: The library's ops with no ONNX form, on purpose, and why.
NO_FORM = {
    "Unindex": "the VJP of getitem: only backward passes make it",
    "Conv2dTranspose": "the VJP of conv2d for its input: only backward passes make it",
    "Conv2dWeightGrad": "the VJP of conv2d for its weight: only backward passes make it",
    "WindowSum": "pooling's VJPs: avg_pool2d (a subclass) has the form for the forward",
    "WindowScatter": "pooling's VJPs: only backward passes make it",
    "Ufunc": "NumPy arithmetic on masks inside a VJP under create_graph: only ag.compile's tracer records it",
}
#: Base classes of ops, not ops (their ``name`` is empty).
BASES = {"Comparison", "Reduction", "_Recurrence"}


def _library_ops() -> dict[str, type]:
    found, stack = {}, list(Function.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if in_library(cls):
            found[cls.__qualname__] = cls
    return found


def test_every_op_of_the_library_has_a_form_or_is_listed_without_one() -> None:
    ops = _library_ops()
    assert {"DenseFn", "BatchNormEvalFn", "SoftmaxCrossEntropy", "MaxPool2d", "Greater"} <= set(ops)  # core and nn
    without = {name for name, cls in ops.items() if not has_form(cls)}
    assert without == set(NO_FORM), "give the op an onnx_op or a to_onnx, or list it in NO_FORM with the reason"
    assert {name for name, cls in ops.items() if not cls.name} == BASES
    assert set(forms()) == {cls.name for name, cls in ops.items() if has_form(cls) and name not in BASES}


def test_nns_forms_live_in_nn() -> None:
    from nn.batchnorm import BatchNormEvalFn, BatchNormFn
    from nn.layers import DenseFn
    from nn.losses import BinaryCrossEntropy, SoftmaxCrossEntropy

    for cls in (BatchNormEvalFn, BatchNormFn, BinaryCrossEntropy, SoftmaxCrossEntropy):
        assert cls.to_onnx.__module__ == cls.__module__ and cls.__module__.startswith("nn.")
    assert DenseFn.onnx_op == "Gemm"


def test_the_core_exports_without_nn_or_optim() -> None:
    code = (
        "import sys, numpy as np, autograd_core as ag\n"
        "ag.export_onnx(lambda x: ag.where(x > 0, x, 0).sum(axis=1), np.ones((2, 3)))\n"
        "assert 'nn' not in sys.modules and 'optim' not in sys.modules, sorted(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ============================================================== reads of traced values (issue: silently frozen)

# The three functions that used to export, frozen to the example's values, and gave wrong results elsewhere.
FROZEN = [
    lambda x: x / x.abs().max().item(),
    lambda x: x[:, int(np.argmax(x.data[0]))],
    lambda x: 2 * x if float(x.data.sum()) > 0 else -x,
]


@pytest.mark.parametrize("f", FROZEN, ids=["item", "argmax of data", "control flow on data"])
def test_export_refuses_values_read_out_of_the_graph(f: Any) -> None:
    x = np.array([[1.0, -3.0, 2.0], [0.5, 4.0, -1.0]])
    with pytest.raises(ag.TracingError) as info:
        ag.export_onnx(f, x)
    line = f.__code__.co_firstlineno
    assert f"{HERE}:{line}" in str(info.value)  # the user's line
    assert "ag.where(x > 0, a, b)" in str(info.value)


def test_masks_from_comparisons_are_computed_in_the_graph() -> None:
    f = lambda x: ag.where((x > 0) & (x < 2), x, 0.1 * x) * (x != 1)  # noqa: E731
    x = np.array([[1.0, -3.0, 2.5], [0.5, 4.0, -1.0]])
    proto = ag.export_onnx(f, x)
    assert not [i for i in proto.graph.initializer if i.data_type == onnx.TensorProto.BOOL]  # no frozen mask
    y = np.random.default_rng(0).normal(size=(5, 3)) * 2
    y[0, 0] = 1.0
    np.testing.assert_allclose(run(proto, y)[0], eager(f, y), rtol=1e-12)


# ============================================================== matching eager (issue: MaxPool at NaN, x[-2::-1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_max_pool_propagates_nan_as_eager_does(dtype: Any) -> None:
    f = lambda x: ag.max_pool2d(x, 2, stride=1, padding=1)  # noqa: E731
    x = np.arange(32, dtype=dtype).reshape(2, 1, 4, 4)
    proto = ag.export_onnx(f, x)
    x[0, 0, 1, 2] = np.nan
    x[1, 0, 3, 3] = -np.inf
    ours, theirs = eager(f, x), run(proto, x)[0]
    assert np.isnan(ours).sum() == 4 and ours[1, 0, 4, 4] == -np.inf  # the four windows that see it; a corner
    np.testing.assert_array_equal(theirs, ours)  # NaN where ours is NaN, -inf where ours is, the same numbers elsewhere


@pytest.mark.parametrize(
    "index",
    [np.s_[-2::-1], np.s_[-1:-4:-1], np.s_[-3::-2], np.s_[-2:0:-1], np.s_[:, -2::-1], np.s_[-5::-1]],
    ids=["-2::-1", "-1:-4:-1", "-3::-2", "-2:0:-1", ":, -2::-1", "-5::-1"],
)
def test_backward_slices_match_numpy_at_every_batch_size(index: Any) -> None:
    f = lambda x: x[index]  # noqa: E731
    proto = ag.export_onnx(f, np.ones((2, 4)))
    for n in (1, 2, 3, 6):
        x = np.arange(n * 4.0).reshape(n, 4)
        theirs = run(proto, x)[0]
        assert theirs.shape == x[index].shape
        np.testing.assert_array_equal(theirs, x[index])


# ============================================================== nn.export_onnx's dtype (issue: float64 inside)


def test_nn_export_onnx_dtype_is_the_models_dtype_throughout() -> None:
    model = nn.Sequential(nn.Dense(3, 8, rng=0), nn.BatchNorm(8), nn.ReLU(), nn.Dense(8, 2, rng=1))
    model(np.random.default_rng(0).normal(size=(16, 3)))  # running statistics away from their start
    state = model.state_dict()
    proto = nn.export_onnx(model, None)  # dtype=np.float32, the default, from a float64 model
    graph = proto.graph
    assert {i.data_type for i in graph.initializer} == {onnx.TensorProto.FLOAT}
    assert "Cast" not in [n.op_type for n in graph.node]
    assert [v.type.tensor_type.elem_type for v in (*graph.input, *graph.output)] == [onnx.TensorProto.FLOAT] * 2
    x = np.random.default_rng(1).normal(size=(5, 3)).astype(np.float32)
    (theirs,) = run(proto, x)
    assert theirs.dtype == np.float32
    model32 = nn.Sequential(nn.Dense(3, 8, dtype=np.float32), nn.BatchNorm(8, dtype=np.float32), nn.ReLU())
    model32.append(nn.Dense(8, 2, dtype=np.float32)).load_state_dict(state)  # the same model, built in float32
    with model32.evaluating():
        np.testing.assert_allclose(theirs, model32(x).numpy(), rtol=1e-5, atol=1e-5)
    assert model.training and all(a.dtype == np.float64 for a in model.state_dict().values())  # left alone
    assert all(np.array_equal(v, state[k]) for k, v in model.state_dict().items())
    proto64 = nn.export_onnx(model, None, dtype=np.float64)
    assert {i.data_type for i in proto64.graph.initializer} == {onnx.TensorProto.DOUBLE}
