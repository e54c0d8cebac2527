"""ONNX export: every exportable op, driven from one table, runs in onnxruntime and agrees with
ours (float32 within 1e-5, float64 within 1e-10) for batch sizes other than the example's,
from one export; models in eval mode; the errors.

Each row says how to build the function (its weights and constants are made once, in the
dtype under test), the shapes of its inputs (``"n"`` is the batch) and their domain.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import autograd_core as ag  # noqa: E402
import nn  # noqa: E402
import optim  # noqa: E402
from autograd_core import Tensor  # noqa: E402
from autograd_core.export import ONNX_FORMS  # noqa: E402
from autograd_core.ops.rnn import recurrence  # noqa: E402
from autograd_core.ops.special import gelu, normal_cdf  # noqa: E402
from nn.batchnorm import batch_norm_eval  # noqa: E402
from nn.layers import DenseFn  # noqa: E402

TOL = {np.float32: 1e-5, np.float64: 1e-10}
BATCHES = (1, 7, 64)
EXAMPLE = 4  # the batch size exported with: never one of BATCHES


def session(model: Any) -> Any:
    onnx.checker.check_model(model, full_check=True)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # the machine is shared
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def run(sess: Any, *arrays: np.ndarray) -> list[np.ndarray]:
    return sess.run(None, {i.name: a for i, a in zip(sess.get_inputs(), arrays)})


def assert_same(ours: Any, theirs: list[np.ndarray], dtype: Any) -> float:
    """Outputs equal within the dtype's tolerance (relative to values above 1), with the same shapes and dtypes;
    returns the worst difference, |theirs - ours| / max(1, |ours|)."""
    ours = list(ours) if isinstance(ours, (tuple, list)) else [ours]
    assert len(ours) == len(theirs)
    worst = 0.0
    for a, b in zip(ours, theirs):
        assert b.shape == a.shape and b.dtype == a.dtype
        np.testing.assert_allclose(b, a.data, rtol=TOL[dtype], atol=TOL[dtype])
        if a.size:
            with np.errstate(invalid="ignore"):  # inf - inf where both are inf
                worst = max(worst, float(np.max(np.abs(b.astype(np.float64) - a.data) / np.maximum(1, np.abs(a.data)))))
    return worst


# ============================================================== the table

DOMAINS: dict[str, Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]] = {
    "real": lambda rng, s: rng.normal(size=s),
    "pos": lambda rng, s: rng.uniform(0.2, 3.0, size=s),
    "away": lambda rng, s: rng.choice([-1.0, 1.0], size=s) * rng.uniform(0.1, 3.0, size=s),
    "unit": lambda rng, s: rng.uniform(0.0, 1.0, size=s),
    "prob": lambda rng, s: (lambda e: e / e.sum(axis=-1, keepdims=True))(np.exp(rng.normal(size=s))),
    "small": lambda rng, s: rng.choice([-1.0, 1.0], size=s) * 10.0 ** rng.uniform(-9, 0, size=s),
    "flat": lambda rng, s: _every_other(rng.normal(size=s), rng.normal()),  # some examples constant
    "zeros": lambda rng, s: _every_other(rng.normal(size=s), 0.0),  # some examples all zero
    "index": lambda rng, s: rng.integers(0, 10, size=s),  # int64: an index input
}


def _every_other(x: np.ndarray, value: float) -> np.ndarray:
    x[::2] = value
    return x


@dataclass
class Case:
    name: str
    body: Callable[..., Any]  # body(*inputs, *weights)
    inputs: list[tuple[Any, ...]]  # shapes, "n" standing for the batch
    weights: tuple[Any, ...] = ()  # ("w", shape): a Tensor requiring grad; ("c", shape): an array; ("b", shape): bools
    domains: Any = "real"  # one for all inputs, or a list
    dynamic: bool = True

    def make(self, dtype: Any) -> Callable[..., Any]:
        rng = np.random.default_rng(99)
        made = []
        for kind, shape in self.weights:
            if kind == "b":
                made.append(rng.random(shape) > 0.5)
            else:
                data = rng.uniform(0.5, 2.0, size=shape).astype(dtype) * rng.choice([-1, 1], size=shape).astype(dtype)
                made.append(Tensor(data, requires_grad=True) if kind == "w" else data)
        return lambda *xs: self.body(*xs, *made)

    def draw(self, n: int, dtype: Any, seed: int) -> list[np.ndarray]:
        rng = np.random.default_rng(seed)
        domains = self.domains if isinstance(self.domains, list) else [self.domains] * len(self.inputs)
        shapes = [tuple(n if d == "n" else d for d in s) for s in self.inputs]
        arrays = [DOMAINS[d](rng, s) for s, d in zip(shapes, domains)]
        return [a if a.dtype.kind == "i" else a.astype(dtype) for a in arrays]


def tensors(xs: list[np.ndarray], **kw: Any) -> list[Any]:
    """What f is called with: floats as Tensors, integer indices as they are (as export_onnx gives them)."""
    return [Tensor(x, **kw) if x.dtype.kind == "f" else x for x in xs]


def C(name: str, body: Callable[..., Any], *inputs: tuple[Any, ...], **kw: Any) -> Case:
    return Case(name, body, list(inputs) or [("n", 3)], **kw)


N3, N34, IMG = ("n", 3), ("n", 3, 4), ("n", 2, 6, 5)


def gates(k: int, hidden: int = 5, features: int = 4) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """A recurrent layer's weights ``w_ih``, ``w_hh``, ``b_ih``, ``b_hh`` for ``k`` gates."""
    rows = k * hidden
    return (("w", (rows, features)), ("w", (rows, hidden)), ("w", (rows,)), ("w", (rows,)))


RNN_WEIGHTS = gates(1)


def _not_finite(x: Tensor) -> Tensor:
    """Masks of NaN (log x where x < 0) and of inf (e^(1000 x) where it overflows), from the input."""
    with np.errstate(invalid="ignore", over="ignore"):
        nan, inf = x.log(), (x * 1000).exp()
        return ag.where(np.isnan(nan) | np.isinf(inf), 0, x) + ag.where(np.isfinite(inf), 1, -1)


CASES = [
    # ---- elementwise, with broadcasting against weights, constants and a second input
    C("add weight", lambda x, w: x + w, N3, weights=(("w", (3,)),)),
    C("add broadcast inputs", lambda x, y: ag.add(x, y), ("n", 1, 3), ("n", 4, 1)),
    C("add number", lambda x: x + 2.5),
    C("subtract", lambda x, c: 3 - x - c, N34, weights=(("c", (4,)),)),
    C("multiply", lambda x, y, w: x * y * w, ("n", 2, 3), ("n", 1, 3), weights=(("w", (2, 1)),)),
    C("divide", lambda x, w: x / w, N3, weights=(("w", (3,)),)),
    C("divide number", lambda x: 2 / x, domains="away"),
    C("power square", lambda x: x**2),
    C("power cube", lambda x: ag.power(x, 3)),
    C("power half", lambda x: x**0.5, domains="pos"),
    C("power negative", lambda x: x**-1.5, domains="pos"),
    C("power of number", lambda x: 2.0**x),
    C("power of inputs", lambda x, y: x**y, N3, ("n", 1), domains=["pos", "real"]),
    C("maximum", lambda x, w: ag.maximum(x, w), N3, weights=(("w", (3,)),)),
    C("minimum", lambda x: ag.minimum(x, 0.3)),
    C("where", lambda x, c: ag.where(c, x, -2 * x), N34, weights=(("b", (3, 4)),)),
    C("neg", lambda x: -x),
    C("square", lambda x: x.square()),
    C("exp", lambda x: x.exp()),
    C("log", lambda x: x.log(), domains="pos"),
    C("sqrt", lambda x: ag.sqrt(x), domains="pos"),
    C("sin", lambda x: x.sin()),
    C("cos", lambda x: ag.cos(x)),
    C("tanh", lambda x: x.tanh()),
    C("sigmoid", lambda x: (4 * x).sigmoid()),
    C("relu", lambda x: x.relu()),
    C("abs", lambda x: x.abs()),
    C("log1p", lambda x: x.log1p(), domains="small"),
    C("expm1", lambda x: ag.expm1(x), domains="small"),
    C("leaky_relu", lambda x: ag.leaky_relu(x, 0.01)),  # 0.01 is no float32: not LeakyRelu's alpha in float64
    C("leaky_relu exact slope", lambda x: nn.LeakyReLU(0.25)(x)),
    C("clone", lambda x: x.clone() * 2),
    C("clip", lambda x: x.clip(-0.5, 0.8)),
    C("clip low", lambda x: ag.clip(x, low=0.1)),
    C("clip array bounds", lambda x, lo: ag.clip(x, lo, lo + 1.0), N3, weights=(("c", (3,)),)),
    C("cast", lambda x: x.astype(np.float64).exp().astype(np.float32)),
    C("detach", lambda x: x * x.detach()),
    # ---- comparisons and masks: recorded, so the mask is computed from the input, never frozen
    C("where of a comparison", lambda x: ag.where(x > 0, x, 0.1 * x)),
    C("mask times x", lambda x: x * (x > 0.2) - (x < -0.2)),
    C("mask logic", lambda x, y: ag.where((x < y) | ~(x >= 0.5) & (y <= 1), x, y), N3, N3),
    C("equal, not equal, xor", lambda x: (lambda c: ag.where((c == 0.5) ^ (c != -0.5), c, 2 * c))(x.clip(-0.5, 0.5))),
    C("where of a tensor", lambda x: ag.where(x.relu(), 1.0, x)),
    C("isnan isinf isfinite", lambda x: _not_finite(x), N34),
    C("array constant", lambda x: np.array([2.0, -1.0, 0.5]) * x),  # float64 wins: NumPy's promotion
    # ---- reductions over all axes, the batch axis, other axes, with and without keepdims
    C("sum", lambda x: x.sum(), N34),
    C("sum batch axis", lambda x: x.sum(axis=0, keepdims=True), N34),
    C("sum axes", lambda x: ag.sum(x, axis=(1, 2)), N34),
    C("sum negative axis", lambda x: x.sum(axis=-1, keepdims=True), N34),
    C("mean", lambda x: x.mean(axis=1), N34),
    C("mean all keepdims", lambda x: x.mean(keepdims=True), N34),
    C("mean batch axis", lambda x: ag.mean(x, axis=0), N3),
    C("max", lambda x: x.max(axis=-1), N34),
    C("max all", lambda x: x.max(), N34),
    C("min", lambda x: x.min(axis=(0, 2), keepdims=True), N34),
    C("logsumexp", lambda x: x.logsumexp(axis=1, keepdims=True), N34),
    C("logsumexp all", lambda x: ag.logsumexp(x), N3),
    C("var", lambda x: x.var(axis=0), N34),
    C("var all", lambda x: ag.var(x), N3),
    C("var ddof", lambda x: ag.var(x, axis=-1, ddof=1), N34),
    C("var ddof batch axis", lambda x: x.var(axis=(0, 2), ddof=1, keepdims=True), N34),  # n - ddof from Shape
    C("var ddof all", lambda x: x.var(ddof=2), N34),
    C("var constant slices", lambda x: x.var(axis=(1, 2)), N34, domains="flat"),
    C("var no axes", lambda x: ag.var(x, axis=()), N3),
    # std and norm are 0 with gradient 0 at zeros (a where on s == 0): examples with and without them
    C("std", lambda x: x.std(axis=1), N34, domains="flat"),
    C("std all", lambda x: ag.std(x), N3),
    C("std ddof batch axis", lambda x: ag.std(x, axis=(0, 2), ddof=1), N34, domains="flat"),
    C("norm", lambda x: x.norm(axis=1), N3, domains="zeros"),
    C("norm all", lambda x: ag.norm(x), N34),
    C("norm ord 3", lambda x: x.norm(ord=3, axis=-1, keepdims=True), N34, domains="zeros"),
    C("norm matrix", lambda x: ag.norm(x, axis=(1, 2)), N34, domains="zeros"),
    C("norm inf", lambda x: ag.norm(x, ord=np.inf, axis=1), N3),
    C("softmax", lambda x: x.softmax(), N34),
    C("softmax axis 1", lambda x: ag.softmax(x, axis=1), N34),
    C("log_softmax", lambda x: x.log_softmax(axis=-1), N3),
    C("log_softmax batch axis", lambda x: ag.log_softmax(x, axis=0), N3),
    # ---- products
    C("matmul", lambda x, w: x @ w, N3, weights=(("w", (3, 5)),)),
    C("matmul batched", lambda x, w: ag.matmul(x, w), ("n", 2, 3), weights=(("w", (3, 4)),)),
    C("matmul weight first", lambda x, w: w @ x, N34, weights=(("w", (2, 3)),)),
    C("matmul vector", lambda x, w: x @ w, N3, weights=(("w", (3,)),)),
    C("matmul inputs", lambda x, y: x @ y, ("n", 2, 3), ("n", 3, 2)),
    C("dot", lambda x, w: ag.dot(x, w), N3, weights=(("w", (3, 2)),)),
    # ---- movement
    C("reshape -1", lambda x: x.reshape(-1, 12), N34),
    C("reshape from x.shape", lambda x: x.reshape(x.shape[0], 2, 6).exp(), N34),
    C("reshape flatten", lambda x: x.flatten(), N34),
    C("reshape split batch", lambda x: x.reshape(-1, 1, 3).reshape(1, -1, 3), N3),
    C("expand_dims", lambda x: ag.expand_dims(x, 1), N3),
    C("squeeze", lambda x: ag.squeeze(x, 1), ("n", 1, 3)),
    C("transpose", lambda x: x.T, N34),
    C("transpose axes", lambda x: x.transpose(0, 2, 1), N34),
    C("swapaxes", lambda x: ag.swapaxes(x, 0, -1), N34),
    C("broadcast_to", lambda x: ag.broadcast_to(x, (x.shape[0], 2, 3)), ("n", 1, 3)),
    C("broadcast_to weight", lambda x, w: x + ag.broadcast_to(w, (4, 3)), ("n", 4, 3), weights=(("w", (3,)),)),
    C("getitem column", lambda x: x[:, 1], N34),
    C("getitem reversed", lambda x: x[:, ::-1], N34),
    C("getitem batch slice", lambda x: x[1:], N3),
    C("getitem stride", lambda x: x[::2, 1:3], N34),
    C("getitem first row", lambda x: x[0], N34),
    C("getitem last row", lambda x: x[-1, -1], N34),
    C("getitem ellipsis", lambda x: x[..., 0], N34),
    C("getitem new axis", lambda x: x[:, None, 1:3], N3),
    C("getitem integer array", lambda x: x[:, [0, 2, 0]], N3),
    C("getitem 2-d integer array", lambda x: x[:, np.array([[0, 1], [2, 0]])], N34),
    C("getitem int and array", lambda x: x[:, 0, [1, 3]], N34),
    C("getitem int, slice, array", lambda x: x[:, 1, :, np.array([1, 2])], ("n", 2, 3, 4)),
    C("getitem negative array", lambda x: x[:, np.array([-1, 0])], N3),
    C("concatenate", lambda x, y: ag.concatenate([x, y], axis=1), N3, ("n", 2)),
    C("concatenate batch axis", lambda x: ag.concatenate([x, 2 * x]), N3),
    C("concatenate weight", lambda x, w: ag.concatenate([x, x * w], axis=-1), N34, weights=(("w", (4,)),)),
    C("stack", lambda x: ag.stack([x, x.exp()], axis=1), N3),
    C("stack batch axis", lambda x, y: ag.stack([x, y]), N3, N3),
    C("stack last", lambda x: ag.stack([x, -x, x * x], axis=-1), N34),
    # ---- images: convolution and pooling
    C("conv2d", lambda x, w, b: ag.conv2d(x, w, b), IMG, weights=(("w", (3, 2, 3, 3)), ("w", (3,)))),
    C(
        "conv2d stride padding",
        lambda x, w: ag.conv2d(x, w, stride=(2, 1), padding=(1, 2)),
        IMG,
        weights=(("w", (4, 2, 2, 3)),),
    ),
    C(
        "conv2d 1x1 stride",
        lambda x, w, b: ag.conv2d(x, w, b, stride=2),
        IMG,
        weights=(("w", (3, 2, 1, 1)), ("c", (3,))),
    ),
    C("conv2d input weight", lambda x, w: ag.conv2d(x, w.exp(), padding=1), IMG, weights=(("w", (1, 2, 3, 3)),)),
    C("max_pool2d", lambda x: ag.max_pool2d(x, 2), IMG),  # a column left over
    C("max_pool2d overlapping padded", lambda x: ag.max_pool2d(x, 3, stride=(1, 2), padding=1), IMG),
    C("avg_pool2d", lambda x: nn.AvgPool2d(2)(x), IMG),
    C("avg_pool2d overlapping padded", lambda x: ag.avg_pool2d(x, (3, 2), stride=1, padding=(1, 1)), IMG),
    C("Flatten", lambda x: nn.Flatten()(x), IMG),
    C("tensor (a copy of a traced value)", lambda x: ag.tensor(x, requires_grad=True) * x, N3),
    # ---- integer index inputs (int64 in the graph)
    C("index input", lambda i, w: w[i], N3, weights=(("w", (10, 4)),), domains="index"),
    C(
        "index input and float input",
        lambda i, x, w: (w[i] * x).sum(axis=-1),
        N3,
        N34,
        weights=(("w", (10, 4)),),
        domains=["index", "real"],
    ),
    C("index input on axis 1", lambda i, w: w[:, i], N3, weights=(("w", (4, 10)),), domains="index"),
    C("index input in arithmetic", lambda i, x: x * i, N3, N3, domains=["index", "real"]),
    # ---- layers and losses (fused ops)
    C("dense", lambda x, w, b: DenseFn.apply(x, w, b), N3, weights=(("w", (3, 5)), ("w", (5,)))),
    C("batch_norm (batch statistics)", lambda x, g, b: nn.batch_norm(x, g, b), N3, weights=(("w", (3,)), ("w", (3,)))),
    C(
        "batch_norm per channel (batch statistics)",
        lambda x, g, b: nn.batch_norm(x, g, b, axes=(0, 2, 3)),
        ("n", 2, 3, 4),
        weights=(("w", (2,)), ("w", (2,))),
    ),
    C(
        "batch_norm_eval",
        lambda x, g, b, m, v: batch_norm_eval(x, g, b, m, np.abs(v) * 1e-3, eps=1e-5),
        N3,
        weights=(("w", (3,)), ("w", (3,)), ("c", (3,)), ("c", (3,))),
    ),
    C(
        "batch_norm_eval per channel",
        lambda x, g, b, m, v: batch_norm_eval(x, g, b, m, np.abs(v), eps=1e-3, axes=(0, 2, 3)),
        ("n", 2, 3, 4),
        weights=(("w", (2,)), ("w", (2,)), ("c", (2,)), ("c", (2,))),
    ),
    C(
        "batch_norm_eval channels of sequences",
        lambda x, g, b, m, v: batch_norm_eval(x, g, b, m, np.abs(v), eps=1e-3, axes=(0, 2)),
        N34,
        weights=(("w", (3,)), ("w", (3,)), ("c", (3,)), ("c", (3,))),
    ),
    C(
        "batch_norm_eval last axis",  # statistics over the leading axes, not on axis 1: elementwise
        lambda x, g, b, m, v: batch_norm_eval(x, g, b, m, np.abs(v), eps=1e-3, axes=(0, 1)),
        N34,
        weights=(("w", (4,)), ("w", (4,)), ("c", (4,)), ("c", (4,))),
    ),
    C("softmax_cross_entropy", lambda z, y: nn.softmax_cross_entropy(z, y), N3, N3, domains=["real", "prob"]),
    C("binary_cross_entropy", lambda z, y: nn.binary_cross_entropy(z, y), N3, N3, domains=["real", "unit"]),
    C("mse", lambda p, t: nn.mse(p, t), N3, N3),
    C("layer_norm", lambda x, w, b: nn.layer_norm(x, 4, w, b), N34, weights=(("w", (4,)), ("w", (4,)))),
    C("layer_norm two axes, no affine", lambda x: nn.layer_norm(x, (3, 4), eps=1e-3), N34, domains="flat"),
    C("gelu", lambda x: gelu(3 * x)),  # (its tails: tests/test_onnx_sequences.py)
    C("normal_cdf", lambda x: normal_cdf(3 * x)),
    # ---- recurrent layers, one layer and direction each: (n, time, features) read time-major
    C("rnn layer", lambda x, *w: recurrence("rnn_tanh", x.transpose(1, 0, 2), *w), N34, weights=RNN_WEIGHTS),
    C(
        "rnn relu layer reversed, no bias",
        lambda x, wi, wh: recurrence("rnn_relu", x.transpose(1, 0, 2), wi * 0.3, wh * 0.3, reverse=True),
        N34,
        weights=RNN_WEIGHTS[:2],
    ),
    C(
        "lstm layer from a given state",
        lambda x, h, c, *w: recurrence("lstm", x.transpose(1, 0, 2), *w, h0=h, c0=c),
        N34,
        ("n", 5),
        ("n", 5),
        weights=gates(4),
    ),
    C(
        "lstm layer reversed",
        lambda x, *w: recurrence("lstm", x.transpose(1, 0, 2), *w, reverse=True),
        N34,
        weights=gates(4),
    ),
    C("gru layer", lambda x, *w: recurrence("gru", x.transpose(1, 0, 2), *w), N34, weights=gates(3)),
    C(
        "gru layer reversed from a given state",
        lambda x, h, *w: recurrence("gru", x.transpose(1, 0, 2), *w, h0=h, reverse=True),
        N34,
        ("n", 5),
        weights=gates(3),
    ),
    # ---- several outputs, fixed shapes
    C("two outputs", lambda x: (x.exp(), x.sum(axis=1)), N3),
    C("fixed shapes", lambda x, y: (x + y).reshape(6), (2, 3), (3,), dynamic=False),
]


@pytest.mark.filterwarnings("error")  # no row falls back to fixed shapes
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_op_runs_in_onnxruntime_like_ours(case: Case, dtype: Any) -> None:
    f = case.make(dtype)
    example = case.draw(EXAMPLE, dtype, seed=0)
    model = ag.export_onnx(f, *example, dynamic_axes=(0,) if case.dynamic else ())
    sess = session(model)
    for n in BATCHES if case.dynamic else (EXAMPLE,):
        xs = case.draw(n, dtype, seed=n)
        with ag.no_grad():
            ours = f(*tensors(xs))
        assert_same(ours, run(sess, *xs), dtype)


#: Ops only a trace makes (never a node of an eager graph), each exercised by a row of the table.
TRACE_ONLY = {"tensor": "tensor (a copy of a traced value)"}


def test_every_op_with_an_onnx_form_is_in_the_table():
    traced = {name for name, row in TRACE_ONLY.items() if row in {c.name for c in CASES}}
    for case in CASES:
        xs = tensors(case.draw(3, np.float64, seed=0), requires_grad=True)
        out = case.make(np.float64)(*xs)
        for t in out if isinstance(out, tuple) else (out,):
            stack = [t._node]
            while stack:
                node = stack.pop()
                if node is not None:
                    traced.add(node.name)
                    stack.extend(p for p in node.parents if p is not None and not isinstance(p, Tensor))
    assert set(ONNX_FORMS) <= traced, set(ONNX_FORMS) - traced


def test_reshape_keeps_the_batch_symbolic():
    model = ag.export_onnx(lambda x: x.reshape(x.shape[0], -1), np.ones((4, 2, 3)))
    (shape,) = [i for i in model.graph.initializer if i.name.startswith("shape")]
    assert onnx.numpy_helper.to_array(shape).tolist() == [0, 6]
    assert [d.dim_param or d.dim_value for d in model.graph.output[0].type.tensor_type.shape.dim] == ["batch", 6]
    flat = ag.export_onnx(lambda x: x.reshape(-1), np.ones((4, 2, 3)))
    (shape,) = [i for i in flat.graph.initializer if i.name.startswith("shape")]
    assert onnx.numpy_helper.to_array(shape).tolist() == [-1]


# ============================================================== models


def trained_model(dtype: Any) -> nn.Sequential:
    rng = np.random.default_rng(0)
    model = nn.Sequential(
        nn.Dense(6, 16, rng=1, dtype=dtype),
        nn.BatchNorm(16, dtype=dtype),
        nn.ReLU(),
        nn.Dropout(0.3, rng=2),
        nn.Dense(16, 8, bias=False, init="xavier", rng=3, dtype=dtype),
        nn.BatchNorm(8, dtype=dtype),
        nn.Tanh(),
        nn.Dense(8, 8, rng=4, dtype=dtype),
        nn.Sigmoid(),
        nn.Dense(8, 4, rng=5, dtype=dtype),
        nn.Softmax(),
    )
    x = rng.normal(size=(64, 6)).astype(dtype)
    y = rng.integers(0, 4, size=64)
    opt = optim.GradientDescent(model.parameters(), lr=0.1)
    for i in range(0, 64, 16):  # a few steps: running statistics and weights away from their start
        opt.minimize(lambda i=i: nn.mse(model(x[i : i + 16]), np.eye(4, dtype=dtype)[y[i : i + 16]]))
    return model


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.filterwarnings("error")
def test_model_runs_in_onnxruntime_like_ours_for_every_batch_size(dtype: Any, tmp_path: Any) -> None:
    model = trained_model(dtype)
    state = model.state_dict()
    path = tmp_path / "model.onnx"
    proto = nn.export_onnx(model, path, dtype=dtype)
    assert model.training and all(m.training for m in model.modules())  # its mode is back
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, state[k])  # running statistics untouched
    assert path.read_bytes() == proto.SerializeToString()
    layers = "Gemm BatchNormalization Relu MatMul BatchNormalization Tanh Gemm Sigmoid Gemm Softmax"
    assert [n.op_type for n in proto.graph.node] == layers.split()  # Dropout is gone in eval mode
    names = {i.name for i in proto.graph.initializer}
    assert {"0.weight", "0.bias", "1.gamma", "1.running_mean", "4.weight", "5.beta"} <= names
    assert ("5.running_var" if dtype == np.float32 else "5.running_var+2.5e-13") in names
    sess = session(onnx.load(str(path)))
    rng = np.random.default_rng(1)
    for n in BATCHES:
        x = rng.normal(size=(n, 6)).astype(dtype)
        model.eval()
        with ag.no_grad():
            ours = model(x)
        model.train()
        assert_same(ours, run(sess, x), dtype)


def test_export_of_a_float64_model_from_float32_inputs_keeps_both_dtypes():
    model = nn.Sequential(nn.Dense(3, 2, rng=0))
    proto = ag.export_onnx(model, np.ones((2, 3), np.float32))
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert proto.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    with ag.no_grad():
        assert_same(model(x), run(session(proto), x), np.float64)


def test_batchnorm_with_tiny_running_variance_in_float64():
    """BatchNormalization's epsilon is a float32 attribute: the float64 export keeps ε exact anyway."""
    bn = nn.BatchNorm(3)
    bn.running_var[...] = [0.0, 1e-7, 2.0]
    bn.running_mean[...] = [0.5, -1.0, 0.0]
    proto = nn.export_onnx(bn, None, dtype=np.float64, in_features=3)
    x = np.random.default_rng(0).normal(size=(7, 3))
    bn.eval()
    with ag.no_grad():
        assert_same(bn(x), run(session(proto), x), np.float64)


@pytest.mark.parametrize("opset", [13, 15, 17, 18, 21])
def test_opsets_and_lowest_ir_version(opset: int) -> None:
    model = trained_model(np.float64).eval()  # f is a plain function: its modules' mode is ours to set
    f = lambda x: (model(x).mean(axis=1, keepdims=True), x[:, ::-1].reshape(-1).max(), x.logsumexp(axis=0))  # noqa: E731
    proto = ag.export_onnx(f, np.ones((3, 6)), opset=opset)
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", opset)]
    assert proto.ir_version == onnx.helper.find_min_ir_version_for(list(proto.opset_import))
    assert proto.ir_version <= onnx.IR_VERSION
    x = np.random.default_rng(0).normal(size=(7, 6))
    with ag.no_grad():
        assert_same(f(Tensor(x)), run(session(proto), x), np.float64)


def test_inputs_outputs_names_and_identities(tmp_path: Any) -> None:
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True, name="w")
    f = lambda x, y: (x * w + y, x, w, x * w + y)  # noqa: E731
    proto = ag.export_onnx(f, np.ones((3, 2)), np.ones((3, 2)), input_names=["a", "b"], output_names=list("pqrs"))
    assert [i.name for i in proto.graph.input] == ["a", "b"]
    assert [o.name for o in proto.graph.output] == list("pqrs")
    assert "w" in {i.name for i in proto.graph.initializer}
    x, y = np.arange(10.0).reshape(5, 2), np.ones((5, 2))
    p, q, r, s = run(session(proto), x, y)
    np.testing.assert_array_equal(p, x * [1, 2] + 1)
    np.testing.assert_array_equal(q, x)
    np.testing.assert_array_equal(r, [1, 2])
    np.testing.assert_array_equal(s, p)


def test_fixed_shapes_without_dynamic_axes():
    proto = ag.export_onnx(lambda x: x.reshape(6), np.ones((2, 3), np.float32), dynamic_axes=())
    assert [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim] == [2, 3]


def test_example_inputs_are_not_touched():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    ag.export_onnx(lambda t: (t * 2).sum(), x)
    assert x.grad is None and x._node is None and np.array_equal(x.data, np.ones((2, 3)))


# ============================================================== conv nets, embeddings


def trained_cnn(dtype: Any, pool: type) -> nn.Sequential:
    """The digits CNN's shape (examples/cnn_digits.py) with a BatchNorm2d, a few steps from its start."""
    model = nn.Sequential(
        nn.Conv2d(1, 8, kernel_size=3, padding=1, rng=1, dtype=dtype),  # (n, 8, 8, 8)
        nn.BatchNorm2d(8, dtype=dtype),
        nn.ReLU(),
        nn.MaxPool2d(2),  # (n, 8, 4, 4)
        nn.Conv2d(8, 16, kernel_size=3, padding=1, rng=2, dtype=dtype),  # (n, 16, 4, 4)
        nn.ReLU(),
        pool(2),  # (n, 16, 2, 2)
        nn.Flatten(),  # (n, 64)
        nn.Dense(16 * 2 * 2, 10, init="xavier", rng=3, dtype=dtype),
    )
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, size=(48, 1, 8, 8)).astype(dtype)
    y = rng.integers(0, 10, size=48)
    opt = optim.Adam(model.parameters(), lr=0.01)
    for i in range(0, 48, 16):  # running statistics and weights away from their start
        opt.minimize(lambda i=i: nn.softmax_cross_entropy(model(x[i : i + 16]), y[i : i + 16]))
    return model


@pytest.mark.parametrize("pool", [nn.MaxPool2d, nn.AvgPool2d], ids=["max", "avg"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.filterwarnings("error")
def test_cnn_runs_in_onnxruntime_like_ours_for_every_batch_size(dtype: Any, pool: type) -> None:
    model = trained_cnn(dtype, pool)
    proto = ag.export_onnx(model, np.zeros((EXAMPLE, 1, 8, 8), dtype))  # one export for every batch size
    assert model.training  # its mode is back
    ops = [n.op_type for n in proto.graph.node]
    if dtype == np.float32:
        # MaxPool, with NaN propagated and windows of -inf giving -inf, as ours
        max_pool = ["MaxPool", "LessOrEqual", "Where", "IsNaN", "Cast", "MaxPool", "Greater", "Where"]
        second = max_pool if pool is nn.MaxPool2d else ["AveragePool"]
        assert ops == ["Conv", "BatchNormalization", "Relu", *max_pool, "Conv", "Relu", *second, "Reshape", "Gemm"]
    else:  # onnxruntime has no double Conv or AveragePool: their maths instead
        assert "Conv" not in ops and "AveragePool" not in ops and ops.count("MatMul") == 2
        assert ops.count("BatchNormalization") == 1
    stored = {i.name: list(i.dims) for i in proto.graph.initializer}
    assert {"0.weight", "0.bias", "1.gamma", "4.weight", "8.bias"} <= set(stored)
    assert stored["1.running_mean"] == [8]  # per channel: (C,)
    dims = [
        [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
        for v in (*proto.graph.input, *proto.graph.output)
    ]
    assert dims == [["batch", 1, 8, 8], ["batch", 10]]
    sess = session(proto)
    rng = np.random.default_rng(1)
    model.eval()
    for n in BATCHES:
        x = rng.uniform(0, 1, size=(n, 1, 8, 8)).astype(dtype)
        with ag.no_grad():
            assert_same(model(x), run(sess, x), dtype)


@pytest.mark.filterwarnings("error")
def test_conv2d_keeps_other_image_sizes_dynamic():
    """Height and width may be dynamic axes too: the float64 form does not depend on them."""
    w = np.random.default_rng(0).normal(size=(2, 1, 3, 2))
    f = lambda x: ag.avg_pool2d(ag.conv2d(x, w, stride=(2, 1), padding=1), 2, stride=1, padding=1)  # noqa: E731
    for dtype in (np.float32, np.float64):
        proto = ag.export_onnx(f, np.ones((2, 1, 7, 6), dtype), dynamic_axes=(0, 2, 3))
        sess = session(proto)
        for shape in ((1, 1, 5, 9), (3, 1, 8, 4)):
            x = np.random.default_rng(1).normal(size=shape).astype(dtype)
            with ag.no_grad():
                assert_same(f(Tensor(x)), run(sess, x), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_embedding_model_takes_int64_indices(dtype: Any) -> None:
    model = nn.Sequential(nn.Embedding(20, 4, rng=0, dtype=dtype), nn.Flatten(), nn.Dense(12, 3, rng=1, dtype=dtype))
    proto = ag.export_onnx(model, np.array([[1, 5, 19], [0, 0, 7]]))  # integer examples: an int64 input
    (given,) = proto.graph.input
    assert given.type.tensor_type.elem_type == onnx.TensorProto.INT64
    assert [d.dim_param or d.dim_value for d in given.type.tensor_type.shape.dim] == ["batch", 3]
    assert [n.op_type for n in proto.graph.node] == ["Gather", "Reshape", "Gemm"]
    sess = session(proto)
    for n in BATCHES:
        index = np.random.default_rng(n).integers(0, 20, size=(n, 3))
        with ag.no_grad():
            assert_same(model(index), run(sess, index), dtype)


def test_integer_inputs_that_are_not_indices_are_refused():
    with pytest.raises(ValueError, match="example input 0 holds integers, so it is an index input.*float example"):
        ag.export_onnx(nn.Dense(3, 2), np.ones((2, 3), dtype=int))  # the layer casts it: float data
    emb = nn.Embedding(10, 2)
    with pytest.raises(ValueError, match="example input 1 holds integers.*i \\+ 1"):
        ag.export_onnx(lambda x, i: x * emb(i + 1), np.ones((2, 3, 2)), np.ones((2, 3), dtype=np.int32))
    with pytest.raises(ValueError, match="example input 0 holds integers"):
        ag.export_onnx(lambda i: emb(i), np.int64(3))  # a single index becomes an int in the layer


def test_var_divides_by_the_run_time_count():
    """n - ddof follows the batch, and is never negative (NumPy's rule): 0/0 is NaN, x/0 is inf."""
    for ddof in (1, 2):
        f = lambda x, ddof=ddof: (x.var(axis=0, ddof=ddof), ag.var(x.sum(axis=0), ddof=ddof))  # noqa: E731
        sess = session(ag.export_onnx(f, np.ones((4, 3))))
        for n in (1, 2, 5):
            x = np.random.default_rng(n).normal(size=(n, 3))
            with ag.no_grad(), pytest.warns(RuntimeWarning) if n <= ddof else contextlib.nullcontext():
                ours = f(Tensor(x))
            assert_same(ours, run(sess, x), np.float64)


def test_std_and_norm_compute_their_zero_mask_in_the_graph():
    x = np.random.default_rng(0).normal(size=(4, 3))
    x[1] = 0.0  # norm 0: the zero-safe where enters the graph
    proto = ag.export_onnx(lambda x: x.norm(axis=1), x)
    assert "Equal" in [n.op_type for n in proto.graph.node]
    assert not [i for i in proto.graph.initializer if i.name.startswith("cond")]  # no frozen mask
    y = np.random.default_rng(1).normal(size=(6, 3))
    y[[0, 4]] = 0.0  # zeros elsewhere
    with ag.no_grad():
        assert_same(Tensor(y).norm(axis=1), run(session(proto), y), np.float64)


def test_forms_chosen_for_the_dtype():
    ops = lambda f, dtype: [n.op_type for n in ag.export_onnx(f, np.ones((2, 3), dtype)).graph.node]  # noqa: E731
    assert ops(lambda x: ag.leaky_relu(x, 0.01), np.float32) == ["LeakyRelu"]
    assert ops(lambda x: ag.leaky_relu(x, 0.01), np.float64) == ["Greater", "Mul", "Where"]  # alpha is float32
    assert ops(lambda x: ag.leaky_relu(x, 0.5), np.float64) == ["LeakyRelu"]
    assert ops(lambda x: x.log1p(), np.float32) == ["Add", "Log"]
    assert ops(lambda x: x.clone(), np.float32) == ["Identity"]


def test_tiny_values_in_log1p_and_expm1():
    """ONNX has no Log1p or Expm1: log(1 + x) and exp(x) - 1 are right to the dtype's epsilon, absolutely."""
    x = np.array([[1e-12, -1e-9, 3e-8, 1e-6, -1e-4]])
    for dtype, eps in ((np.float32, 2**-23), (np.float64, 2**-52)):
        for f in (lambda t: t.log1p(), lambda t: t.expm1()):
            theirs = run(session(ag.export_onnx(f, x.astype(dtype))), x.astype(dtype))[0]
            with ag.no_grad():
                ours = f(Tensor(x.astype(dtype))).numpy()
            assert np.max(np.abs(theirs - ours)) <= eps


def test_flatten_keeps_the_batch_symbolic():
    proto = ag.export_onnx(nn.Flatten(), np.ones((4, 2, 3, 5)))
    (shape,) = [i for i in proto.graph.initializer if i.name.startswith("shape")]
    assert onnx.numpy_helper.to_array(shape).tolist() == [0, 30]
    assert [d.dim_param or d.dim_value for d in proto.graph.output[0].type.tensor_type.shape.dim] == ["batch", 30]


# ============================================================== a user op


class Swish(ag.Function):
    """x σ(x), with its ONNX form."""

    def forward(self, x):
        return x / (1 + np.exp(-x))

    def backward(self, g, out, x):
        s = 1 / (1 + np.exp(-x))
        return g * (s + out * (1 - s))

    def to_onnx(self, builder, inputs, output):
        x = inputs[0]
        builder.op("Mul", x, builder.op("Sigmoid", x), out=output)


class ScaleRows(ag.Function):
    """x · k for a number k: a constant input, a symbolic shape and a custom attribute-free form."""

    def forward(self, x, k):
        return x * k

    def backward(self, g, out, x, k):
        return g * k, None

    def to_onnx(self, builder, inputs, output):
        assert builder.shape(inputs[0])[0] == "batch" and builder.dtype(inputs[1]) == builder.dtype(output)
        builder.op("Mul", inputs[0], inputs[1], out=output)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_user_op_supplies_its_onnx_form(dtype: Any) -> None:
    f = lambda x: ScaleRows.apply(Swish.apply(x), 3.0).sum(axis=1)  # noqa: E731
    proto = ag.export_onnx(f, np.ones((2, 4), dtype))
    assert [n.op_type for n in proto.graph.node] == ["Sigmoid", "Mul", "Mul", "ReduceSum"]
    sess = session(proto)
    for n in BATCHES:
        x = np.random.default_rng(n).normal(size=(n, 4)).astype(dtype)
        with ag.no_grad():
            assert_same(f(Tensor(x)), run(sess, x), dtype)


# ============================================================== errors


class NoForm(ag.Function):
    def forward(self, x):
        return 2 * x

    def backward(self, g, out, x):
        return 2 * g


class Exp(ag.Function):  # shares a built-in op's name, not its ONNX form
    def forward(self, x):
        return np.exp(x) - 1

    def backward(self, g, out, x):
        return g * (out + 1)


def test_op_without_onnx_form_is_named():
    with pytest.raises(NotImplementedError, match=r"op 'noform' \(NoForm\) has no ONNX form.*to_onnx\(self, builder"):
        ag.export_onnx(lambda x: NoForm.apply(x).exp(), np.ones((2, 2)))
    with pytest.raises(NotImplementedError, match=r"op 'exp' \(Exp\) has no ONNX form"):
        ag.export_onnx(lambda x: Exp.apply(x), np.ones((2, 2)))
    from autograd_core.ops.shape import Unindex

    with pytest.raises(NotImplementedError, match="op 'unindex'"):
        ag.export_onnx(lambda x: Unindex.apply(x, index=0, shape=(3, 2)), np.ones(2), dynamic_axes=())


def test_gradient_only_ops_are_named():
    from autograd_core.ops.conv import Conv2dTranspose, Conv2dWeightGrad, WindowScatter, WindowSum, conv_window

    w = np.ones((1, 1, 3, 3))
    win = conv_window((2, 1, 4, 4), w.shape, None, 1, 1)  # a 4×4 image stays 4×4
    for name, f in {
        "conv2d_transpose": lambda g: Conv2dTranspose.apply(g, w, win=win),
        "conv2d_weight_grad": lambda x: Conv2dWeightGrad.apply(x, x, win=win),
        "window_sum": lambda x: WindowSum.apply(x, weights=0.5, win=win),
        "window_scatter": lambda g: WindowScatter.apply(g, weights=0.5, win=win),
    }.items():
        with pytest.raises(NotImplementedError, match=f"op '{name}' .* has no ONNX form"):
            ag.export_onnx(f, np.ones((2, 1, 4, 4)))


def test_batch_norm_off_the_channel_axis_is_refused():
    f = lambda x: batch_norm_eval(x, np.ones(5), np.zeros(5), np.zeros(5), np.ones(5), axes=(0, 1, 3))  # noqa: E731
    with pytest.raises(NotImplementedError, match=r"batch_norm_eval \(op #0\): batch norm over axes \(0, 1, 3\)"):
        ag.export_onnx(f, np.ones((2, 3, 5, 4)))  # statistics (5,) along the rows of an image


def test_boolean_mask_is_refused_clearly():
    with pytest.raises(NotImplementedError, match="boolean mask.*depends on the data.*ag.where"):
        ag.export_onnx(lambda x: x[:, np.array([True, False, True])], np.ones((2, 3)))


def test_opset_checks():
    with pytest.raises(ValueError, match="opset 12 is too old.*Softmax.*13 or later"):
        ag.export_onnx(lambda x: x.softmax(), np.ones((2, 3)), opset=12)
    with pytest.raises(ValueError, match="newer than the installed onnx"):
        ag.export_onnx(lambda x: x.exp(), np.ones((2, 3)), opset=1000)


def test_mode_is_restored_when_the_export_fails():
    model = nn.Sequential(nn.Dense(3, 3, rng=0), nn.BatchNorm(3), nn.Dropout(0.5))
    model[1].eval()  # mixed modes come back as they were
    bad = nn.Sequential(model, _Wrap())
    with pytest.raises(NotImplementedError, match="noform"):
        nn.export_onnx(bad, None, in_features=3)
    assert bad.training and model.training and model[0].training and not model[1].training and model[2].training


class _Wrap(nn.Module):
    def forward(self, x):
        return NoForm.apply(x)


def test_values_computed_outside_the_graph_are_refused():
    x = np.array([[1.0, -1.0], [-2.0, 3.0]])
    same_shape = r"changes \(its constant 'cond' changes value\) for inputs of the same shape.*x.data"
    with pytest.raises(ValueError, match=r"where \(op #\d\) " + same_shape):
        ag.export_onnx(lambda x: ag.where(x.data > 0, x, 0.1 * x), x)
    with pytest.raises(ValueError, match="multiply.*changes.*for inputs of the same shape"):
        ag.export_onnx(lambda x: x * np.asarray(x)[0, 0], x)
    with pytest.raises(ValueError, match="different graph for inputs of the same shape.*control flow"):
        ag.export_onnx(lambda x: x.exp() if x.data[0, 0] > 0 else x.sin(), x)
    model = nn.Sequential(nn.Dense(2, 3), nn.Dropout(0.5))
    with pytest.raises(ValueError, match=r"random \(a Dropout in training mode: call .eval\(\)"):
        ag.export_onnx(lambda x: model(x), x)
    with pytest.raises(ValueError, match="do not depend on its inputs"):
        ag.export_onnx(lambda x: Tensor(np.asarray(x)) * 2, x)


def _outer(x: Tensor) -> Tensor:
    """(2, 2, n, n) for x of shape (n, 2)."""
    return x.T[:, None, :, None] * x.T[None, :, None]


SIZE_DEPENDENT = [
    ("f fails when axis 0 of the inputs grows from 2 to 3", lambda x: x * np.ones((2, 3)), (2, 3)),
    ("f fails when axis 0 .* cannot reshape", lambda x: x.reshape(6), (2, 3)),
    ("different graph when axis 0 .* grows", lambda x: x.exp() if len(x) < 3 else x.sin(), (2, 3)),
    (
        "broadcast_to .* follows the batch but the input does not",
        lambda x: x + ag.broadcast_to(x[0], (len(x), 3)),
        (2, 3),
    ),
    ("reshape .* spreads the dynamic axes", lambda x: _outer(x).reshape(len(x), -1, 4), (3, 2)),
    ("getitem .* changes .* 'indices'", lambda x: x[:, np.arange(len(x))], (2, 3)),
]


@pytest.mark.parametrize("why, f, shape", SIZE_DEPENDENT, ids=[w.split(" ")[0] for w, *_ in SIZE_DEPENDENT])
def test_size_dependent_functions_are_exported_with_fixed_shapes(why: str, f: Callable[..., Any], shape: Any) -> None:
    x = np.arange(6.0).reshape(shape)
    with pytest.warns(ag.export.OnnxExportWarning, match=f"axis 0 cannot stay dynamic: .*{why}.*exactly the examples"):
        proto = ag.export_onnx(f, x)
    assert [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim] == list(x.shape)
    with ag.no_grad():
        assert_same(f(Tensor(x)), run(session(proto), x), np.float64)


def test_bad_arguments():
    with pytest.raises(TypeError, match="returned a ndarray"):
        ag.export_onnx(lambda x: x.numpy(), np.ones((2, 3)))
    with pytest.raises(ValueError, match="input_names must be 1"):
        ag.export_onnx(lambda x: x.exp(), np.ones((2, 3)), input_names=["a", "b"])
    with pytest.raises(ValueError, match="'x' is given twice"):
        ag.export_onnx(lambda x: x.exp(), np.ones((2, 3)), input_names=["x"], output_names=["x"])
    with pytest.raises(ValueError, match="dynamic axis 0 has sizes \\[2, 5\\]"):
        ag.export_onnx(lambda x, y: x.sum() + y.sum(), np.ones((2, 3)), np.ones((5,)))
    with pytest.raises(ValueError, match="at least one example input"):
        ag.export_onnx(lambda: Tensor(1.0))
    with pytest.raises(ValueError, match="in_features"):
        nn.export_onnx(nn.Sequential(nn.ReLU()), None)
    cnn = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Dense(2, 3))
    with pytest.raises(ValueError, match=r"starts with Conv2d, so it takes images.*ag.export_onnx\(model, example\)"):
        nn.export_onnx(cnn, None)
    with pytest.raises(ValueError, match="starts with Embedding, so it takes integer indices"):
        nn.export_onnx(nn.Sequential(nn.Embedding(5, 2), nn.Dense(2, 2)), None)
    with pytest.raises(TypeError, match="dtype"):
        nn.export_onnx(nn.Dense(2, 2), None, dtype=np.int32)


def test_missing_onnx_names_the_extra(monkeypatch: Any) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r'pip install "autograd-core\[onnx\]"'):
        ag.export_onnx(lambda x: x.exp(), np.ones(2))


def test_importing_the_library_does_not_import_onnx():
    code = "import sys, autograd_core, nn, optim; assert 'onnx' not in sys.modules and 'onnxruntime' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_deployment_example_runs(tmp_path: Any, capsys: Any) -> None:
    pytest.importorskip("sklearn")
    from helpers import load_example

    module = load_example("export_onnx")
    diff = module.main(str(tmp_path / "digits.onnx"))
    assert diff < 1e-8 and (tmp_path / "digits.onnx").exists()
    assert "100.0% identical predictions" in capsys.readouterr().out
