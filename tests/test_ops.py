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
from helpers import examples
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import autograd_core as ag
import nn
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


def _stat_cases(ddof: int) -> st.SearchStrategy:
    """(shape, axis, keepdims) for var/std with ``ddof``: every slice keeps more than ddof values."""

    def enough(case: tuple[tuple[int, ...], Any, bool]) -> bool:
        shape, axis, _ = case
        axes = range(len(shape)) if axis is None else (axis,) if isinstance(axis, int) else axis
        return int(np.prod([shape[a] for a in axes])) > ddof

    return _axis_cases().filter(enough)


class _StatOp(Op):
    """var/std over drawn axes with ``ddof``, as a method or through ``call(x, **kw)``; values
    on GRID, unique, so no slice is nearly constant (std's kink) unless it has one element."""

    def __init__(self, name: str, call: Callable[..., Any], ref: Callable[..., Any], ddof: int) -> None:
        super().__init__(name, fn=None, ref=None, unique=True)  # type: ignore[arg-type]
        self.call, self.ref_fn, self.ddof = call, ref, ddof

    def draw(self, data: st.DataObject) -> list[np.ndarray]:
        shape, axis, keepdims = data.draw(_stat_cases(self.ddof), label="shape, axis, keepdims")
        kw = {"axis": axis, "ddof": self.ddof, "keepdims": keepdims}
        self.fn = lambda x: self.call(x, **kw)
        self.ref = lambda x: self.ref_fn(x, **kw)
        return [data.draw(ats.arrays(shape, elements=GRID, unique=True), label="x0")]


def _norm_away_from_zero(axis: Any = None) -> Callable[[np.ndarray], bool]:
    """Keep draws whose norms are all clear of 0, the norm's kink (tested on its own below)."""
    return lambda x: bool(np.all(np.linalg.norm(x.reshape(-1) if axis is None else x, axis=axis) > 0.1))


def _distinct(v: np.ndarray) -> bool:
    """No two values within 1e-3: a max/min over them has no tie (a kink)."""
    v = np.sort(np.asarray(v).reshape(-1))
    return bool(np.all(np.diff(v) > 1e-3))


def _leaky(x: np.ndarray, slope: float = 0.01) -> np.ndarray:
    return np.where(x > 0, x, slope * x)


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
    # ---- more of the API: log1p, expm1, pow, leaky_relu, clone, unsqueeze/squeeze
    Op("log1p", lambda x: x.log1p(), np.log1p, elements={"min_value": -0.5, "max_value": 3.0}),
    Op("ag.log1p", ag.log1p, np.log1p, elements={"min_value": -0.5, "max_value": 3.0}),
    Op("np.log1p(t)", np.log1p, np.log1p, elements={"min_value": -0.5, "max_value": 3.0}),
    Op("expm1", lambda x: x.expm1(), np.expm1),
    Op("ag.expm1", ag.expm1, np.expm1),
    Op("np.expm1(t)", np.expm1, np.expm1),
    Op("pow(3)", lambda x: x.pow(3), lambda x: x**3),
    Op("pow(2.5)", lambda x: x.pow(2.5), lambda x: x**2.5, elements=POSITIVE),
    Op("ag.pow", ag.pow, np.power, shapes_n(2), [POSITIVE, REAL]),
    Op("leaky_relu", ag.leaky_relu, _leaky, elements=AWAY_FROM_ZERO),
    Op("leaky_relu(0.2)", lambda x: ag.leaky_relu(x, 0.2), lambda x: _leaky(x, 0.2), elements=AWAY_FROM_ZERO),
    Op("leaky_relu(-1.5)", lambda x: ag.leaky_relu(x, -1.5), lambda x: _leaky(x, -1.5), elements=AWAY_FROM_ZERO),
    Op("nn.LeakyReLU", lambda x: nn.LeakyReLU(0.3)(x), lambda x: _leaky(x, 0.3), elements=AWAY_FROM_ZERO),
    Op("clone", lambda x: x.clone(), np.copy),
    Op("copy", lambda x: x.copy(), np.copy),
    Op("ag.clone", ag.clone, np.copy),
    Op("clone * clone", lambda x: x.clone() * x.clone(), np.square),
    Op("unsqueeze(0)", lambda x: x.unsqueeze(0), lambda x: np.expand_dims(x, 0)),
    Op("unsqueeze(-1)", lambda x: x.unsqueeze(-1), lambda x: np.expand_dims(x, -1)),
    Op("ag.unsqueeze", lambda x: ag.unsqueeze(x, 1), lambda x: np.expand_dims(x, 1), one_shape(min_dims=1)),
    Op(
        "squeeze(axis)", lambda x: x.squeeze(-1), lambda x: np.squeeze(x, -1), one_shape().map(lambda s: (s[0] + (1,),))
    ),
    Op("squeeze()", lambda x: x.squeeze(), np.squeeze, one_shape(max_side=2)),
    # ---- var and std with ddof; norms
    _StatOp("var(ddof=1)", lambda x, **kw: x.var(**kw), np.var, ddof=1),
    _StatOp("ag.var(ddof=2)", ag.var, np.var, ddof=2),
    _StatOp("np.var(t, ddof=1)", np.var, np.var, ddof=1),
    _StatOp("std", lambda x, **kw: x.std(**kw), np.std, ddof=0),
    _StatOp("std(ddof=1)", lambda x, **kw: x.std(**kw), np.std, ddof=1),
    _StatOp("ag.std", ag.std, np.std, ddof=0),
    _StatOp("np.std(t, ddof=1)", np.std, np.std, ddof=1),
    *reduction("std", "std", np.std, unique=True),
    Op("norm", lambda x: x.norm(), np.linalg.norm, ok=_norm_away_from_zero()),
    Op("ag.norm", ag.norm, np.linalg.norm, ok=_norm_away_from_zero()),
    Op("np.linalg.norm(t)", np.linalg.norm, np.linalg.norm, ok=_norm_away_from_zero()),
    Op(
        "norm(axis=-1, keepdims)",
        lambda x: x.norm(axis=-1, keepdims=True),
        lambda x: np.linalg.norm(x, axis=-1, keepdims=True),
        one_shape(min_dims=1),
        ok=_norm_away_from_zero(axis=-1),
    ),  # fmt: skip
    Op(
        "norm(2, axis=0)",
        lambda x: x.norm(2, axis=0),
        lambda x: np.linalg.norm(x, 2, axis=0),
        one_shape(min_dims=1),
        ok=_norm_away_from_zero(axis=0),
    ),  # fmt: skip
    Op(
        "norm(1)",
        lambda x: x.norm(1),
        lambda x: np.linalg.norm(x, 1),
        one_shape(min_dims=1, max_dims=1),
        AWAY_FROM_ZERO,
    ),
    Op(
        "norm(inf)",
        lambda x: x.norm(np.inf),
        lambda x: np.linalg.norm(x, np.inf),
        one_shape(min_dims=1, max_dims=1),
        AWAY_FROM_ZERO,
        ok=lambda x: _distinct(np.abs(x)),
    ),  # fmt: skip
    Op(
        "norm(-inf, axis=1)",
        lambda x: x.norm(-np.inf, axis=1),
        lambda x: np.linalg.norm(x, -np.inf, axis=1),
        one_shape(min_dims=2),
        AWAY_FROM_ZERO,
        ok=lambda x: all(_distinct(r) for r in np.moveaxis(np.abs(x), 1, -1).reshape(-1, x.shape[1])),
    ),  # fmt: skip
    Op(
        "norm(3)",
        lambda x: x.norm(3, axis=-1),
        lambda x: np.linalg.norm(x, 3, axis=-1),
        one_shape(min_dims=1),
        AWAY_FROM_ZERO,
    ),
    Op(
        "norm(1.5)",
        lambda x: x.norm(1.5, axis=0),
        lambda x: np.linalg.norm(x, 1.5, axis=0),
        one_shape(min_dims=1),
        AWAY_FROM_ZERO,
    ),
    Op(
        "norm(0.5)",
        lambda x: x.norm(0.5, axis=-1),
        lambda x: np.linalg.norm(x, 0.5, axis=-1),
        one_shape(min_dims=1),
        AWAY_FROM_ZERO,
    ),
    Op(
        "norm('fro')",
        lambda x: x.norm("fro"),
        lambda x: np.linalg.norm(x, "fro"),
        one_shape(min_dims=2, max_dims=2),
        ok=_norm_away_from_zero(),
    ),  # fmt: skip
    Op(
        "norm('fro', axis=(0, 2), keepdims)",
        lambda x: x.norm("fro", axis=(0, 2), keepdims=True),
        lambda x: np.linalg.norm(x, "fro", axis=(0, 2), keepdims=True),
        one_shape(min_dims=3, max_dims=3),
        ok=lambda x: bool(np.all(np.sqrt((x * x).sum(axis=(0, 2))) > 0.1)),
    ),  # fmt: skip
    *[
        Op(
            f"matrix norm({o})",
            lambda x, o=o: x.norm(o),
            lambda x, o=o: np.linalg.norm(x, o),
            one_shape(min_dims=2, max_dims=2),
            AWAY_FROM_ZERO,
            # no tie between the column (ord ±1) or row (ord ±inf) sums that max/min pick from
            ok=lambda x, o=o: _distinct(np.abs(x).sum(axis=0 if o in (1, -1) else 1)),
        )
        for o in (1, -1, np.inf, -np.inf)
    ],
    Op(
        "norm(1, axis=(2, 0))",
        lambda x: x.norm(1, axis=(2, 0)),
        lambda x: np.linalg.norm(x, 1, axis=(2, 0)),
        one_shape(min_dims=3, max_dims=3),
        AWAY_FROM_ZERO,
        ok=lambda x: all(_distinct(np.abs(x).sum(axis=2)[:, j]) for j in range(x.shape[1])),
    ),  # fmt: skip
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


# ---- special functions, layer norm, recurrent layers (fused; the references are their maths in NumPy, or
# the same layer built from primitive ops); their second derivatives are tested with their layers


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    from scipy.special import ndtr

    return ndtr(x)


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    xc = x - x.mean(axis=-1, keepdims=True)
    return xc / np.sqrt((xc * xc).mean(axis=-1, keepdims=True) + 1e-5) * w + b


def _recurrent(kind: str, lengths: bool = False) -> Op:
    """One fused layer (``ops/rnn.py``) on ``x (T, B, I)``, weights, biases and initial states."""
    gates = {"rnn_tanh": 1, "lstm": 4, "gru": 3}[kind]

    def shapes(t: tuple[int, int, int, int]) -> tuple[tuple[int, ...], ...]:
        steps, batch, features, hidden = t
        states = ((batch, hidden),) * (2 if kind == "lstm" else 1)
        return ((steps, batch, features), (gates * hidden, features), (gates * hidden, hidden),
                (gates * hidden,), (gates * hidden,), *states)  # fmt: skip

    def call(fused: bool) -> Callable[..., Any]:
        def run(x: Any, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any, h0: Any, c0: Any = None) -> Any:
            size = x.shape  # (the shape: not a read of values, which ag.compile refuses)
            steps = np.array([size[0], 1][: size[1]] + [size[0]] * max(0, size[1] - 2)) if lengths else None
            return ag.ops.rnn.recurrence(kind, x, w_ih, w_hh, b_ih, b_hh, h0, c0, lengths=steps, fused=fused)

        return run

    return Op(
        f"{kind}{' (lengths)' if lengths else ''}",
        call(True),
        lambda *a: call(False)(*a).data,
        st.tuples(st.integers(1, 3), st.integers(1, 2), st.integers(1, 2), st.integers(1, 2)).map(shapes),
        {"min_value": -1.5, "max_value": 1.5},
        second_order=False,
    )


OPS += [
    Op("gelu", lambda x: nn.GELU()(x), lambda x: x * _normal_cdf(x)),
    Op("normal_cdf", ag.ops.special.normal_cdf, _normal_cdf),
    Op(
        "layer_norm",
        lambda x, w, b: nn.normalization.layer_norm(x, x.shape[-1], w, b),
        _layer_norm,
        st.tuples(st.integers(1, 3), st.integers(2, 4)).map(lambda t: ((t[0], t[1]), (t[1],), (t[1],))),
        unique=True,  # no row nearly constant (the division by its spread)
    ),
    _recurrent("rnn_tanh"),
    _recurrent("lstm"),
    _recurrent("gru"),
    _recurrent("lstm", lengths=True),
]


def _ids(op: Op) -> str:
    return op.name


# The ops' draws filter their domains (log of positives, ...): some filtering is expected.
FIRST = settings(suppress_health_check=[HealthCheck.filter_too_much])
# gradgradcheck costs about as many gradchecks as the input has elements: fewer examples.
SECOND = examples(0.4, suppress_health_check=[HealthCheck.filter_too_much])


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
@examples(0.25, suppress_health_check=[HealthCheck.filter_too_much])  # a dtype rule: a few examples show it
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


# ============================================================== kinks: norm at 0, std of a constant


def _grad_and_hessian(f: Callable[[Tensor], Tensor], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First derivative of scalar f at x, and its full Hessian (rows by Hessian-vector products)."""
    t = Tensor(x, requires_grad=True)
    (g,) = ag.gradients(f(t), [t], create_graph=True)
    rows = []
    for i in range(x.size):
        e = np.zeros(x.size)
        e[i] = 1.0
        if not g.requires_grad:  # the gradient does not depend on x (abs, max): its derivative is 0
            rows.append(np.zeros(x.size))
            continue
        (h,) = ag.gradients((g * e.reshape(x.shape)).sum(), [t], retain_graph=True)
        rows.append(h.data.reshape(-1))
    return g.data, np.array(rows)


@pytest.mark.parametrize(
    "f",
    [
        lambda t: t.norm(),
        lambda t: ag.norm(t, 2),
        lambda t: np.linalg.norm(t),
        lambda t: t.norm(1),
        lambda t: t.norm(np.inf),
        lambda t: t.norm(3),
        lambda t: t.norm(1.5),
        lambda t: t.norm(0.5),
        lambda t: t.reshape(2, 2).norm("fro"),
        lambda t: t.reshape(2, 2).norm(1),
        lambda t: t.reshape(2, 2).norm(axis=1).sum(),
    ],
    ids=["norm()", "ag.norm(2)", "np.linalg.norm", "1", "inf", "3", "1.5", "0.5", "fro", "matrix 1", "rows"],
)
def test_norm_at_the_zero_vector_has_zero_first_and_second_derivatives(f: Callable[[Tensor], Tensor]) -> None:
    with np.errstate(all="raise"):  # no NaN or inf made anywhere, not even in a branch that is not used
        value = f(Tensor(np.zeros(4)))
        g, h = _grad_and_hessian(f, np.zeros(4))
    assert value.item() == 0.0
    np.testing.assert_array_equal(g, np.zeros(4))
    np.testing.assert_array_equal(h, np.zeros((4, 4)))


def test_norm_of_a_zero_row_among_others() -> None:
    x = np.array([[0.0, 0.0], [3.0, 4.0]])
    with np.errstate(all="raise"):
        g, h = _grad_and_hessian(lambda t: t.norm(axis=1).sum(), x)
    np.testing.assert_allclose(g, [[0.0, 0.0], [0.6, 0.8]])
    # the Hessian of ‖v‖ at v = (3, 4) is (I - v vᵀ/‖v‖²) / ‖v‖; the zero row's part is 0
    v = np.array([3.0, 4.0])
    expected = np.zeros((4, 4))
    expected[2:, 2:] = (np.eye(2) - np.outer(v, v) / 25) / 5
    np.testing.assert_allclose(h, expected, atol=1e-12)


@pytest.mark.parametrize("p", [0.5, 1.5, 3.0])
def test_p_norm_with_zero_elements_is_finite_and_right_elsewhere(p: float) -> None:
    x = np.array([0.0, 1.0, -2.0])
    with np.errstate(all="raise"):
        g, h = _grad_and_hessian(lambda t: t.norm(p), x)
    n = np.sum(np.abs(x) ** p) ** (1 / p)
    a = np.abs(x[1:])
    expected = np.concatenate([[0.0], np.sign(x[1:]) * a ** (p - 1) / n ** (p - 1)])  # 0 at the zero element
    np.testing.assert_allclose(g, expected, rtol=1e-12)
    assert np.isfinite(h).all()
    # away from the zero element the second derivatives are the true ones
    fd = np.array(
        [
            (_grad_and_hessian(lambda t: t.norm(p), x + d)[0] - _grad_and_hessian(lambda t: t.norm(p), x - d)[0]) / 2e-6
            for d in np.eye(3)[1:] * 1e-6
        ]
    )
    np.testing.assert_allclose(h[1:, 1:], fd[:, 1:], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("ddof", [0, 1])
@pytest.mark.parametrize("value", [2.0, 0.1, -1e-3, 7.3])
def test_std_of_a_constant_has_zero_first_and_second_derivatives(value: float, ddof: int) -> None:
    x = np.full(3, value)
    if value == 0.1:  # the naive mean of three 0.1s is off by a rounding error, and NumPy's std is not 0
        assert np.mean(x) != value and np.std(x) > 0
    for f in (lambda t: t.std(ddof=ddof), lambda t: ag.std(t, ddof=ddof), lambda t: np.std(t, ddof=ddof)):
        with np.errstate(all="raise"):
            s = f(Tensor(x))
            g, h = _grad_and_hessian(f, x)
        assert s.item() == 0.0  # exactly: var shifts by the first element, so no rounding is left
        np.testing.assert_array_equal(g, np.zeros(3))
        np.testing.assert_array_equal(h, np.zeros((3, 3)))
    assert Tensor(x).var(ddof=ddof).item() == 0.0


def test_std_of_a_constant_row_among_others() -> None:
    x = np.array([[0.3, 0.3, 0.3], [1.0, 2.0, 4.0]])
    with np.errstate(all="raise"):
        g, h = _grad_and_hessian(lambda t: t.std(axis=1, ddof=1).sum(), x)
    np.testing.assert_array_equal(g[0], np.zeros(3))
    row = x[1]
    np.testing.assert_allclose(g[1], (row - row.mean()) / (2 * np.std(row, ddof=1)), rtol=1e-12)
    assert np.isfinite(h).all() and not h[:3].any() and not h[:, :3].any()
    assert gradgradcheck(lambda t: t.std(ddof=1), x[1])


def test_single_element_std_and_var() -> None:
    x = Tensor([[5.0], [6.0]], requires_grad=True)
    s = x.std(axis=1)
    np.testing.assert_array_equal(s.data, [0.0, 0.0])
    s.sum().backward()
    np.testing.assert_array_equal(x.grad, [[0.0], [0.0]])


def test_var_with_ddof_at_least_n_is_inf_or_nan_like_numpy() -> None:
    with pytest.warns(RuntimeWarning, match="ddof=2 >= 2"):
        v = ag.var(np.array([1.0, 3.0]), ddof=2)
    assert v.item() == np.inf
    with pytest.warns(RuntimeWarning, match="ddof=1 >= 1"):
        s = ag.std(np.array([4.0]), ddof=1)
    assert np.isnan(s.item())
    with pytest.warns(RuntimeWarning):
        np.testing.assert_array_equal(
            Tensor([[1.0, 2.0]]).var(axis=0, ddof=1).data, np.var([[1.0, 2.0]], axis=0, ddof=1)
        )


# ============================================================== forward mode: every op's JVP rule


def _tangents(data: st.DataObject, arrays: list[np.ndarray]) -> list[np.ndarray]:
    """A random tangent per input, of its shape (float64)."""
    return [data.draw(ats.arrays(a.shape, elements=REAL), label=f"v{i}") for i, a in enumerate(arrays)]


def _directional_difference(f: Callable[..., Any], arrays: list[np.ndarray], vs: list[np.ndarray]) -> np.ndarray:
    """(f(x + εv) - f(x - εv)) / 2ε, central differences along the tangents, in float64."""
    eps = 1e-6
    plus = f(*[Tensor(a + eps * v) for a, v in zip(arrays, vs)]).data
    minus = f(*[Tensor(a - eps * v) for a, v in zip(arrays, vs)]).data
    return (plus - minus) / (2 * eps)


def _inner(a: Any, b: Any) -> float:
    return float(np.sum(np.asarray(a, dtype=np.float64) * np.asarray(b, dtype=np.float64)))


@pytest.mark.parametrize("op", OPS, ids=_ids)
@given(data=st.data())
@examples(0.5, suppress_health_check=[HealthCheck.filter_too_much])  # (each example also runs a VJP)
def test_jvp_against_finite_differences_and_its_vjp(op: Op, data: st.DataObject) -> None:
    arrays = op.draw(data)
    originals = [a.copy() for a in arrays]
    vs = _tangents(data, arrays)
    out, tangent = ag.jvp(op.fn, tuple(arrays), tuple(vs))
    np.testing.assert_allclose(out.data, op.ref(*arrays), rtol=1e-10, atol=1e-12)
    assert tangent.shape == out.shape and tangent.dtype == np.float64
    for a, o in zip(arrays, originals):
        np.testing.assert_array_equal(a, o)  # nothing mutated
    np.testing.assert_allclose(tangent.data, _directional_difference(op.fn, arrays, vs), rtol=1e-5, atol=1e-6)
    # ⟨J v, u⟩ = ⟨v, Jᵀ u⟩: the rule is the transpose of the op's own VJP
    u = _upstream(data, out.shape)
    _, vjp_fn = ag.vjp(op.fn, *arrays)
    grads = vjp_fn(u)
    left, right = _inner(tangent.data, u), sum(_inner(v, g.data) for v, g in zip(vs, grads))
    scale = np.sum(np.abs(tangent.data * u)) + sum(np.sum(np.abs(v * g.data)) for v, g in zip(vs, grads))
    assert abs(left - right) <= 1e-10 * scale + 1e-12, (left, right)


@pytest.mark.parametrize("op", [op for op in OPS if op.second_order], ids=_ids)
@given(data=st.data())
@SECOND
def test_forward_over_reverse(op: Op, data: st.DataObject) -> None:
    """``hvp`` (the JVP of the gradient: every VJP's own ops carry tangents) against reverse over
    reverse and against finite differences of the gradient."""
    arrays = op.draw(data)
    G = _upstream(data, np.shape(op.ref(*arrays)))
    vs = _tangents(data, arrays)
    n = len(arrays)

    def f(*ts: Tensor) -> Tensor:
        return (op.fn(*ts) * G).sum()

    value, hv = ag.hvp(f, tuple(arrays), tuple(vs))
    assert value.item() == pytest.approx(float(np.sum(op.ref(*arrays) * G)), rel=1e-10, abs=1e-12)
    grad = ag.grad(f, argnums=tuple(range(n)))
    xs = [Tensor(a, requires_grad=True) for a in arrays]
    gs = ag.gradients(f(*xs), xs, create_graph=True)
    dot = sum(((g * v).sum() for g, v in zip(gs, vs) if g.requires_grad), Tensor(0.0))
    reverse = ag.gradients(dot, xs) if dot.requires_grad else [np.zeros(a.shape) for a in arrays]
    eps = 1e-6
    plus = grad(*[a + eps * v for a, v in zip(arrays, vs)])
    minus = grad(*[a - eps * v for a, v in zip(arrays, vs)])
    for h, r, p, m in zip(hv, reverse, plus, minus):
        np.testing.assert_allclose(h.data, np.asarray(r), rtol=1e-9, atol=1e-10)
        np.testing.assert_allclose(h.data, (p.data - m.data) / (2 * eps), rtol=1e-4, atol=1e-5)
