"""Every op, driven from one table: forward against NumPy, first and second derivatives
against float64 central differences, inputs never mutated, float32 kept.

Each row says how to call our op, the NumPy reference, and how to draw its inputs
(shapes and the op's domain). Hypothesis draws broadcastable shapes (size-1 axes,
0-d scalars) and values; a random upstream gradient G turns the op into the scalar
``sum(op(x) * G)`` that ``gradcheck`` differentiates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import autograd_core as ag
from autograd_core import Tensor
from autograd_core.testing import gradcheck, gradgradcheck
from autograd_core.testing import strategies as ats

REAL = {"min_value": -3.0, "max_value": 3.0}
POSITIVE = {"min_value": 0.2, "max_value": 3.0}
AWAY_FROM_ZERO = st.one_of(st.floats(0.1, 3.0), st.floats(-3.0, -0.1))
GRID = st.integers(-30, 30).map(lambda i: i / 10)  # with unique=True: no two values within 0.1


def shapes_n(n: int, **kw: Any) -> st.SearchStrategy:
    return ats.mutually_broadcastable_shapes(n, max_dims=kw.pop("max_dims", 3), max_side=kw.pop("max_side", 3), **kw)


def one_shape(**kw: Any) -> st.SearchStrategy:
    return ats.shapes(max_dims=kw.pop("max_dims", 3), max_side=kw.pop("max_side", 3), **kw).map(lambda s: (s,))


@dataclass
class Op:
    name: str
    fn: Callable[..., Any]
    ref: Callable[..., Any]
    shapes: st.SearchStrategy = field(default_factory=lambda: one_shape())
    elements: Any = None  # one spec for all inputs, or a list with one per input
    ok: Callable[..., bool] | None = None  # reject draws too close to a kink
    unique: bool = False
    second_order: bool = True

    def draw(self, data: st.DataObject) -> list[np.ndarray]:
        shapes = data.draw(self.shapes, label="shapes")
        elems = self.elements if isinstance(self.elements, list) else [self.elements] * len(shapes)
        arrays = [
            data.draw(ats.arrays(s, elements=REAL if e is None else e, unique=self.unique), label=f"x{i}")
            for i, (s, e) in enumerate(zip(shapes, elems))
        ]
        if self.ok is not None:
            assume(self.ok(*arrays))
        return arrays


def _separated(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.all(np.abs(a - b) > 1e-3))


def _matmul_shapes() -> st.SearchStrategy:
    side = st.integers(1, 3)

    @st.composite
    def draw(d: st.DrawFn) -> tuple[tuple[int, ...], tuple[int, ...]]:
        m, k, n = d(side), d(side), d(side)
        kind = d(st.sampled_from(["mm", "vm", "mv", "vv", "batch", "broadcast"]))
        if kind == "mm":
            return (m, k), (k, n)
        if kind == "vm":
            return (k,), (k, n)
        if kind == "mv":
            return (m, k), (k,)
        if kind == "vv":
            return (k,), (k,)
        if kind == "batch":
            return (2, m, k), (2, k, n)
        return (2, 1, m, k), (3, k, n)

    return draw()


def _axis_cases() -> st.SearchStrategy:
    """(shape, axis, keepdims) for reductions."""

    @st.composite
    def draw(d: st.DrawFn) -> tuple[tuple[int, ...], Any, bool]:
        shape = d(ats.shapes(min_dims=1, max_dims=3, max_side=3))
        nd = len(shape)
        axis = d(
            st.one_of(
                st.none(),
                st.integers(-nd, nd - 1),
                st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True).map(tuple),
            )
        )
        return shape, axis, d(st.booleans())

    return draw()


def reduction(name: str, ours: str, ref: Callable[..., Any], unique: bool = False) -> list[Op]:
    """A reduction over all axes on any shape (0-d included), and over drawn axes."""
    return [
        Op(
            f"{name}(all)",
            lambda x: getattr(x, ours)(),
            lambda x: ref(x),
            elements=GRID if unique else None,
            unique=unique,
        ),  # fmt: skip
        _AxisOp(f"{name}(axis)", ours, ref, unique=unique),
    ]


class _AxisOp(Op):
    def __init__(self, name: str, ours: str, ref: Callable[..., Any], unique: bool) -> None:
        super().__init__(name, fn=None, ref=None, unique=unique)  # type: ignore[arg-type]
        self.ours, self.ref_fn = ours, ref

    def draw(self, data: st.DataObject) -> list[np.ndarray]:
        shape, axis, keepdims = data.draw(_axis_cases(), label="shape, axis, keepdims")
        self.fn = lambda x: getattr(x, self.ours)(axis=axis, keepdims=keepdims)
        self.ref = lambda x: self.ref_fn(x, axis=axis, keepdims=keepdims)
        elements = GRID if self.unique else REAL
        return [data.draw(ats.arrays(shape, elements=elements, unique=self.unique), label="x0")]


def _getitem_cases() -> st.SearchStrategy:
    @st.composite
    def draw(d: st.DrawFn) -> tuple[tuple[int, ...], Any]:
        shape = d(ats.shapes(min_dims=1, max_dims=3, min_side=2, max_side=4))
        kind = d(st.sampled_from(["int", "slice", "tuple", "ints_repeated", "mask", "ellipsis"]))
        if kind == "int":
            return shape, d(st.integers(-shape[0], shape[0] - 1))
        if kind == "slice":
            return shape, slice(d(st.integers(0, 1)), None, d(st.integers(1, 2)))
        if kind == "tuple":
            return shape, (slice(None, None, -1),) + (0,) * (len(shape) > 1)
        if kind == "ints_repeated":
            return shape, np.array(d(st.lists(st.integers(0, shape[0] - 1), min_size=1, max_size=6)))
        if kind == "mask":
            return shape, np.array(d(st.lists(st.booleans(), min_size=shape[0], max_size=shape[0])))
        return shape, (Ellipsis, d(st.integers(0, shape[-1] - 1)))

    return draw()


class _GetItemOp(Op):
    def draw(self, data: st.DataObject) -> list[np.ndarray]:
        shape, index = data.draw(_getitem_cases(), label="shape, index")
        self.fn = lambda x: x[index]
        self.ref = lambda x: x[index]
        return [data.draw(ats.arrays(shape, elements=REAL), label="x0")]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _logsumexp(x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def _softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


OPS: list[Op] = [
    # ---- binary arithmetic, with broadcasting; operators and ag.* functions
    Op("add", lambda a, b: a + b, np.add, shapes_n(2)),
    Op("ag.add", ag.add, np.add, shapes_n(2)),
    Op("subtract", lambda a, b: a - b, np.subtract, shapes_n(2)),
    Op("ag.subtract", ag.subtract, np.subtract, shapes_n(2)),
    Op("multiply", lambda a, b: a * b, np.multiply, shapes_n(2)),
    Op("ag.multiply", ag.multiply, np.multiply, shapes_n(2)),
    Op("divide", lambda a, b: a / b, np.divide, shapes_n(2), [REAL, AWAY_FROM_ZERO]),
    Op("ag.divide", ag.divide, np.divide, shapes_n(2), [REAL, AWAY_FROM_ZERO]),
    Op("power", lambda a, b: a**b, np.power, shapes_n(2), [POSITIVE, REAL]),
    Op("ag.power", ag.power, np.power, shapes_n(2), [POSITIVE, REAL]),
    Op("maximum", ag.maximum, np.maximum, shapes_n(2), ok=lambda a, b: _separated(a, b)),
    Op("minimum", ag.minimum, np.minimum, shapes_n(2), ok=lambda a, b: _separated(a, b)),
    Op("matmul", lambda a, b: a @ b, np.matmul, _matmul_shapes()),
    Op("ag.matmul", ag.matmul, np.matmul, _matmul_shapes()),
    # where: the third input is only the (non-differentiable) condition, c > 0
    Op(
        "where",
        lambda a, b, c: ag.where(c > 0, a, b),
        lambda a, b, c: np.where(c > 0, a, b),
        shapes_n(3),
        [REAL, REAL, AWAY_FROM_ZERO],
    ),  # fmt: skip
    # ---- constants on either side (numbers and arrays)
    Op("x + 2.5", lambda x: x + 2.5, lambda x: x + 2.5),
    Op("3 - x", lambda x: 3 - x, lambda x: 3 - x),
    Op(
        "array * x",
        lambda x: np.array([2.0, -1.0, 0.5]) * x,
        lambda x: np.array([2.0, -1.0, 0.5]) * x,
        ats.broadcastable_shapes((3,), max_dims=3).map(lambda s: (s,)),
    ),  # fmt: skip
    Op("2 / x", lambda x: 2 / x, lambda x: 2 / x, elements=AWAY_FROM_ZERO),
    Op("x ** 2", lambda x: x**2, lambda x: x**2),
    Op("x ** 3", lambda x: x**3, lambda x: x**3),
    Op("x ** 0.5", lambda x: x**0.5, np.sqrt, elements=POSITIVE),
    Op("x ** -1.5", lambda x: x**-1.5, lambda x: x**-1.5, elements=POSITIVE),
    Op("2 ** x", lambda x: 2.0**x, lambda x: 2.0**x),
    Op("np.float64 * x", lambda x: np.float64(3.0) * x, lambda x: 3.0 * x),
    # ---- unary
    Op("neg", lambda x: -x, np.negative),
    Op("ag.negative", ag.negative, np.negative),
    Op("square", lambda x: x.square(), np.square),
    Op("ag.square", ag.square, np.square),
    Op("exp", lambda x: x.exp(), np.exp),
    Op("ag.exp", ag.exp, np.exp),
    Op("log", lambda x: x.log(), np.log, elements=POSITIVE),
    Op("ag.log", ag.log, np.log, elements=POSITIVE),
    Op("sqrt", lambda x: x.sqrt(), np.sqrt, elements=POSITIVE),
    Op("ag.sqrt", ag.sqrt, np.sqrt, elements=POSITIVE),
    Op("sin", lambda x: x.sin(), np.sin),
    Op("ag.sin", ag.sin, np.sin),
    Op("cos", lambda x: x.cos(), np.cos),
    Op("ag.cos", ag.cos, np.cos),
    Op("tanh", lambda x: x.tanh(), np.tanh),
    Op("ag.tanh", ag.tanh, np.tanh),
    Op("sigmoid", lambda x: x.sigmoid(), _sigmoid),
    Op("ag.sigmoid", ag.sigmoid, _sigmoid),
    Op("relu", lambda x: x.relu(), lambda x: np.maximum(x, 0), elements=AWAY_FROM_ZERO),
    Op("ag.relu", ag.relu, lambda x: np.maximum(x, 0), elements=AWAY_FROM_ZERO),
    Op("abs", lambda x: x.abs(), np.abs, elements=AWAY_FROM_ZERO),
    Op("ag.abs", ag.abs, np.abs, elements=AWAY_FROM_ZERO),
    Op(
        "clip",
        lambda x: x.clip(-1.0, 1.5),
        lambda x: np.clip(x, -1.0, 1.5),
        ok=lambda x: bool(np.all(np.abs(x + 1.0) > 1e-3) and np.all(np.abs(x - 1.5) > 1e-3)),
    ),
    Op("np.exp(t)", np.exp, np.exp),
    Op("np.tanh(t)", np.tanh, np.tanh),
    # ---- reductions
    *reduction("sum", "sum", np.sum),
    *reduction("mean", "mean", np.mean),
    *reduction("max", "max", np.max, unique=True),
    *reduction("min", "min", np.min, unique=True),
    *reduction("logsumexp", "logsumexp", _logsumexp),
    *reduction("var", "var", np.var),
    Op("ag.sum", lambda x: ag.sum(x, axis=-1), lambda x: np.sum(x, axis=-1), one_shape(min_dims=1)),
    Op("ag.mean", lambda x: ag.mean(x, axis=0), lambda x: np.mean(x, axis=0), one_shape(min_dims=1)),
    Op("np.sum(t)", lambda x: np.sum(x, axis=0), lambda x: np.sum(x, axis=0), one_shape(min_dims=1)),
    Op("softmax", lambda x: x.softmax(), _softmax, one_shape(min_dims=1)),
    Op("softmax(axis=0)", lambda x: x.softmax(axis=0), lambda x: _softmax(x, axis=0), one_shape(min_dims=1)),
    Op("log_softmax", lambda x: x.log_softmax(), lambda x: np.log(_softmax(x)), one_shape(min_dims=1)),
    Op("ag.softmax", ag.softmax, _softmax, one_shape(min_dims=1)),
    Op("ag.log_softmax", lambda x: ag.log_softmax(x, axis=0), lambda x: np.log(_softmax(x, 0)), one_shape(min_dims=1)),
    # ---- movement
    Op("reshape", lambda x: x.reshape(-1), lambda x: x.reshape(-1)),
    Op("reshape(*shape)", lambda x: x.reshape(1, *x.shape, 1), lambda x: x.reshape(1, *x.shape, 1)),
    Op("ag.reshape", lambda x: ag.reshape(x, (-1, 1)), lambda x: x.reshape(-1, 1)),
    Op("T", lambda x: x.T, lambda x: x.T),
    Op("transpose(axes)", lambda x: x.transpose(2, 0, 1), lambda x: x.transpose(2, 0, 1), one_shape(min_dims=3)),
    Op("ag.transpose", ag.transpose, np.transpose),
    Op("swapaxes", lambda x: x.swapaxes(0, -1), lambda x: x.swapaxes(0, -1), one_shape(min_dims=2)),
    Op(
        "broadcast_to",
        lambda x: ag.broadcast_to(x, (2, 3, 3)),
        lambda x: np.broadcast_to(x, (2, 3, 3)),
        ats.broadcastable_shapes((2, 3, 3), max_dims=3).map(lambda s: (s,)),
    ),  # fmt: skip
    Op("expand_dims", lambda x: ag.expand_dims(x, 0), lambda x: np.expand_dims(x, 0)),
    Op("squeeze", lambda x: ag.squeeze(x), np.squeeze),
    _GetItemOp("getitem", fn=None, ref=None),  # type: ignore[arg-type]
    Op(
        "concatenate",
        lambda a, b: ag.concatenate([a, b], axis=1),
        lambda a, b: np.concatenate([a, b], axis=1),
        st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)).map(lambda t: ((t[0], t[1]), (t[0], t[2]))),
    ),  # fmt: skip
    Op(
        "concatenate(3)",
        lambda a, b, c: ag.concatenate([a, b, c]),
        lambda a, b, c: np.concatenate([a, b, c]),
        st.integers(1, 3).map(lambda n: ((n, 2), (1, 2), (2, 2))),
    ),  # fmt: skip
    Op(
        "stack",
        lambda a, b: ag.stack([a, b], axis=-1),
        lambda a, b: np.stack([a, b], axis=-1),
        one_shape().map(lambda s: (s[0], s[0])),
    ),  # fmt: skip
    Op("dot", ag.dot, np.dot, _matmul_shapes().filter(lambda s: len(s[0]) <= 2 and len(s[1]) <= 2)),
]


# ---- images (NCHW): convolution and pooling, drawn with their geometry; the references are plain loops


def _padded(x: np.ndarray, ph: int, pw: int, fill: float) -> np.ndarray:
    n, c, h, w = x.shape
    xp = np.full((n, c, h + 2 * ph, w + 2 * pw), fill, dtype=x.dtype)
    xp[:, :, ph : ph + h, pw : pw + w] = x
    return xp


def _conv_reference(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: Any, padding: Any) -> np.ndarray:
    (sh, sw), (ph, pw) = (np.broadcast_to(stride, 2), np.broadcast_to(padding, 2))
    xp = _padded(x, ph, pw, 0.0)
    n, o, kh, kw = x.shape[0], w.shape[0], w.shape[2], w.shape[3]
    ho, wo = (xp.shape[2] - kh) // sh + 1, (xp.shape[3] - kw) // sw + 1
    y = np.zeros((n, o, ho, wo), dtype=np.result_type(x, w))
    for i in range(n):
        for k in range(o):
            for r in range(ho):
                for c in range(wo):
                    y[i, k, r, c] = np.sum(xp[i, :, r * sh : r * sh + kh, c * sw : c * sw + kw] * w[k])
            if b is not None:
                y[i, k] += b[k]
    return y


def _pool_reference(x: np.ndarray, kernel: Any, stride: Any, padding: Any, reduce: str) -> np.ndarray:
    (kh, kw), (ph, pw) = np.broadcast_to(kernel, 2), np.broadcast_to(padding, 2)
    sh, sw = np.broadcast_to(kernel if stride is None else stride, 2)
    xp = _padded(x, ph, pw, -np.inf if reduce == "max" else 0.0)
    ho, wo = (xp.shape[2] - kh) // sh + 1, (xp.shape[3] - kw) // sw + 1
    y = np.zeros(x.shape[:2] + (ho, wo), dtype=x.dtype)
    for r in range(ho):
        for c in range(wo):
            window = xp[:, :, r * sh : r * sh + kh, c * sw : c * sw + kw]
            y[:, :, r, c] = window.max(axis=(2, 3)) if reduce == "max" else window.mean(axis=(2, 3))
    return y


def _int_or_pair(d: st.DrawFn, low: int, high: int) -> Any:
    return d(st.one_of(st.integers(low, high), st.tuples(st.integers(low, high), st.integers(low, high))))


def _image_size(d: st.DrawFn, kernel: int, pad: int) -> int:
    return d(st.integers(max(1, kernel - 2 * pad), 5))  # the kernel fits the padded image


class _ConvOp(Op):
    """conv2d with a drawn batch, channels, image size, kernel, stride, padding and bias."""

    def draw(self, data: st.DataObject) -> list[np.ndarray]:
        d = data.draw
        n, c, o = d(st.integers(1, 2), label="batch"), d(st.integers(1, 2), label="in"), d(st.integers(1, 2))
        kh, kw = d(st.integers(1, 3), label="kh"), d(st.integers(1, 3), label="kw")
        stride, padding = _int_or_pair(d, 1, 2), _int_or_pair(d, 0, 1)
        ph, pw = np.broadcast_to(padding, 2)
        shapes = [(n, c, _image_size(d, kh, ph), _image_size(d, kw, pw)), (o, c, kh, kw)]
        if d(st.booleans(), label="bias"):
            shapes.append((o,))
        arrays = [d(ats.arrays(s, elements=REAL), label=f"x{i}") for i, s in enumerate(shapes)]
        self.fn = lambda *ts: ag.conv2d(*ts, stride=stride, padding=padding)
        self.ref = lambda x, w, b=None: _conv_reference(x, w, b, stride, padding)
        return arrays


FINE_GRID = st.integers(-300, 300).map(lambda i: i / 100)  # unique: no ties within reach of finite differences


class _PoolOp(Op):
    """max_pool2d / avg_pool2d with a drawn kernel, stride (None: the kernel), padding and image."""

    def __init__(self, name: str, reduce: str) -> None:
        super().__init__(name, fn=None, ref=None, unique=reduce == "max")  # type: ignore[arg-type]
        self.reduce = reduce

    def draw(self, data: st.DataObject) -> list[np.ndarray]:
        d = data.draw
        kh, kw = d(st.integers(1, 3), label="kh"), d(st.integers(1, 3), label="kw")
        kernel = kh if kh == kw and d(st.booleans()) else (kh, kw)
        stride = d(st.one_of(st.none(), st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
        ph, pw = d(st.integers(0, kh // 2), label="ph"), d(st.integers(0, kw // 2), label="pw")
        padding = (ph, pw)
        shape = (d(st.integers(1, 2)), d(st.integers(1, 2)), _image_size(d, kh, ph), _image_size(d, kw, pw))
        elements = FINE_GRID if self.unique else REAL
        x = d(ats.arrays(shape, elements=elements, unique=self.unique), label="x0")
        ours = ag.max_pool2d if self.reduce == "max" else ag.avg_pool2d
        self.fn = lambda t: ours(t, kernel, stride, padding)
        self.ref = lambda a: _pool_reference(a, kernel, stride, padding, self.reduce)
        return [x]


OPS += [
    _ConvOp("conv2d", fn=None, ref=None),  # type: ignore[arg-type]
    _PoolOp("max_pool2d", "max"),
    _PoolOp("avg_pool2d", "avg"),
    Op(
        "conv2d(x², w)",  # the gradient of a conv of a non-linear input: second derivatives meet both VJPs
        lambda x, w: ag.conv2d(x * x, w, padding=1),
        lambda x, w: _conv_reference(x * x, w, None, 1, 1),
        st.tuples(st.integers(1, 2), st.integers(1, 3)).map(lambda t: ((t[0], 2, 3, t[1]), (2, 2, 2, 2))),
    ),  # fmt: skip
]


def _ids(op: Op) -> str:
    return op.name


FIRST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
SECOND = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])


def _upstream(data: st.DataObject, shape: tuple[int, ...]) -> np.ndarray:
    return data.draw(ats.arrays(shape, elements={"min_value": -2.0, "max_value": 2.0}), label="G")


@pytest.mark.parametrize("op", OPS, ids=_ids)
@given(data=st.data())
@FIRST
def test_forward_and_gradient(op: Op, data: st.DataObject) -> None:
    arrays = op.draw(data)
    originals = [a.copy() for a in arrays]
    xs = [Tensor(a, requires_grad=True) for a in arrays]
    out = op.fn(*xs)
    expected = op.ref(*arrays)
    np.testing.assert_allclose(out.data, expected, rtol=1e-10, atol=1e-12)
    assert out.dtype == np.float64 and out.shape == np.shape(expected)

    G = _upstream(data, out.shape)
    out.backward(G)
    for x, a in zip(xs, originals):
        np.testing.assert_array_equal(x.data, a)  # the op did not mutate its input
        if x.grad is not None:  # None only for where's condition, which nothing differentiates
            assert x.grad.shape == x.shape and x.grad.dtype == np.float64
    assert gradcheck(lambda *ts: (op.fn(*ts) * G).sum(), *arrays)
    # ag.gradients (no .grad touched) must agree with what backward() accumulated
    fresh = [Tensor(a, requires_grad=True) for a in arrays]
    for g, x in zip(ag.gradients((op.fn(*fresh) * G).sum(), fresh), xs):
        np.testing.assert_allclose(g.data, np.zeros(x.shape) if x.grad is None else x.grad, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("op", [op for op in OPS if op.second_order], ids=_ids)
@given(data=st.data())
@SECOND
def test_second_derivative(op: Op, data: st.DataObject) -> None:
    arrays = op.draw(data)
    out_shape = np.shape(op.ref(*arrays))
    G = _upstream(data, out_shape)
    assert gradgradcheck(lambda *ts: (op.fn(*ts) * G).sum(), *arrays, atol=1e-4, rtol=1e-3)


@pytest.mark.parametrize("op", OPS, ids=_ids)
@given(data=st.data())
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
def test_float32_is_kept(op: Op, data: st.DataObject) -> None:
    arrays = [a.astype(np.float32) for a in op.draw(data)]
    xs = [Tensor(a, requires_grad=True) for a in arrays]
    out = op.fn(*xs)
    expected = np.asarray(op.ref(*arrays))
    # float32 in, float32 out: unless a float64 array constant takes part (NumPy's rule, and PyTorch's)
    assert out.dtype == expected.dtype == (np.float64 if op.name == "array * x" else np.float32)
    np.testing.assert_allclose(out.data, expected, rtol=2e-5, atol=2e-5)
    out.backward(np.ones(out.shape, dtype=out.dtype))
    for x in xs:
        assert x.grad is None or x.grad.dtype == np.float32  # a gradient has its tensor's dtype
