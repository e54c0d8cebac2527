"""Reductions (sum, mean, max, min, logsumexp) and normalisations along an axis
(softmax, log_softmax)."""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.lib.array_utils import normalize_axis_tuple

from .. import tracing as _tracing
from ..function import Function
from ..tensor import Tensor
from .elementwise import Sqrt, zero_safe
from .shape import expand

if TYPE_CHECKING:
    from ..onnx.builder import OnnxBuilder


def _kept_shape(shape: tuple[int, ...], axis: Any) -> tuple[int, ...]:
    """The shape a reduction over ``axis`` has with ``keepdims=True``."""
    if axis is None:
        return (1,) * len(shape)
    axes = {a % len(shape) for a in ((axis,) if isinstance(axis, (int, np.integer)) else axis)}
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _onnx_axes(axis: Any, ndim: int) -> tuple[int, ...] | None:
    """``axis`` as sorted non-negative axes (None: all of them), as ONNX's reductions take them."""
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    return tuple(sorted(int(a) % ndim for a in axes))


# ============================================================== reductions


class Reduction(Function):
    """A reduction over ``axis`` (kept on ``self`` by ``forward``, with ``keepdims``): its ONNX form is
    the one node ``onnx_reduce`` (``ReduceSum``, ...), written for the opset by the builder."""

    name = ""  # a base class of ops, not an op
    onnx_reduce: str = ""
    axis: Any  # set by forward
    keepdims: bool

    def to_onnx(self, builder: OnnxBuilder, inputs: list[str], output: str) -> None:
        ndim = len(builder.dims(inputs[0]))
        axes = _onnx_axes(self.axis, ndim) if ndim else ()
        if axes == () or (axes is None and ndim == 0):
            builder.op("Identity", inputs[0], out=output)  # nothing to reduce
            return
        builder.reduce(self.onnx_reduce, inputs[0], axes, keepdims=self.keepdims, out=output)


class Sum(Reduction):
    onnx_reduce = "ReduceSum"
    saves_inputs = False
    saves_output = False
    py_forward = "np.sum({0}, axis={axis}, keepdims={keepdims})"
    py_backward = ("expand({g}.reshape({kept}), {0.shape})",)

    def forward(self, x, axis, keepdims):
        out = np.sum(x, axis=axis, keepdims=keepdims)
        self.kept = _kept_shape(x.shape, axis)
        self.axis, self.keepdims = axis, keepdims
        return out

    def backward(self, g, out, x):
        return expand(g.reshape(self.kept), x.shape)

    def jvp(self, ds, out, x):
        return ds[0].sum(axis=self.axis, keepdims=self.keepdims)


class Mean(Reduction):
    onnx_reduce = "ReduceMean"
    saves_inputs = False
    saves_output = False
    py_forward = "np.mean({0}, axis={axis}, keepdims={keepdims})"
    py_backward = ("expand({g}.reshape({kept}) / {n}, {0.shape})",)

    def forward(self, x, axis, keepdims):
        out = np.mean(x, axis=axis, keepdims=keepdims)
        self.kept = _kept_shape(x.shape, axis)
        self.axis, self.keepdims = axis, keepdims
        self.n = x.size // (out.size or 1)  # (the builtin max is shadowed here)
        return out

    def backward(self, g, out, x):
        return expand(g.reshape(self.kept) / self.n, x.shape)

    def jvp(self, ds, out, x):
        return ds[0].mean(axis=self.axis, keepdims=self.keepdims)


class Max(Reduction):
    """Maximum over ``axis``; tied maxima share the gradient evenly."""

    onnx_reduce = "ReduceMax"
    pick = staticmethod(np.max)

    def forward(self, x, axis, keepdims):
        out = self.pick(x, axis=axis, keepdims=keepdims)
        self.kept = _kept_shape(x.shape, axis)
        self.axis, self.keepdims = axis, keepdims
        return out

    def backward(self, g, out, x):
        kept = out.reshape(self.kept)
        hit = x == kept
        if _tracing.active or np.isnan(out).any():  # a slice holding NaN has NaN as its maximum: the NaNs get it
            # (in a trace always, so that no branch depends on the values: hit | False is hit)
            hit = hit | (np.isnan(x) & np.isnan(kept))
        share = hit / hit.sum(axis=self.axis, keepdims=True)
        return g.reshape(self.kept) * share.astype(x.dtype)

    def jvp(self, ds, out, x):
        hit = x == out.reshape(self.kept)  # tied maxima: the mean of their tangents, as the VJP splits
        if np.isnan(out).any():
            hit = hit | (np.isnan(x) & np.isnan(out.reshape(self.kept)))
        share = (hit / hit.sum(axis=self.axis, keepdims=True)).astype(out.dtype)
        return (ds[0] * share).sum(axis=self.axis, keepdims=self.keepdims)


class Min(Max):
    """Minimum over ``axis``; tied minima share the gradient evenly."""

    onnx_reduce = "ReduceMin"
    pick = staticmethod(np.min)


class Var(Function):
    """Variance over ``axis`` with ``n - ddof`` in the denominator (n elements per slice):
    ``var = Σ(x - mean)² / (n - ddof)``, ``d var/dx = 2(x - mean) / (n - ddof)``.

    The forward first subtracts each slice's first element, which leaves the variance
    unchanged, so a constant slice gives exactly 0 (not a rounding error such as 1e-34,
    whose square root would give ``std`` a meaningless gradient).
    """

    saves_output = False

    def forward(self, x, axis, ddof, keepdims):
        axes = tuple(range(x.ndim)) if axis is None else normalize_axis_tuple(axis, x.ndim)
        self.axis, self.ddof, self.keepdims = axis, ddof, keepdims
        self.kept = _kept_shape(x.shape, axis)
        n = math.prod(x.shape[a] for a in axes)
        self.d = n - ddof if n > ddof else 0  # as NumPy: never negative
        if not self.d:
            msg = f"var: ddof={ddof} >= {n} values per slice: dividing by 0 gives inf or nan"
            warnings.warn(msg, RuntimeWarning, stacklevel=4)  # the caller of ag.var
        if x.dtype.kind != "f":  # integer data (a constant): no wrap-around of unsigned differences
            x = x.astype(np.float64)
        c = x - x[tuple(slice(0, 1) if i in axes else slice(None) for i in range(x.ndim))]
        c -= np.mean(c, axis=axis, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):  # ddof >= n: inf or nan, as NumPy
            return np.sum(c * c, axis=axis, keepdims=keepdims) / self.d

    def backward(self, g, out, x):
        return g.reshape(self.kept) * (2 * (x - x.mean(axis=self.axis, keepdims=True))) / self.d

    def jvp(self, ds, out, x):
        centred = x - x.mean(axis=self.axis, keepdims=True)
        return (ds[0] * centred).sum(axis=self.axis, keepdims=self.keepdims) * 2 / self.d

    def to_onnx(self, builder: OnnxBuilder, inputs: list[str], output: str) -> None:
        # as forward: shift by each slice's first element (a constant slice gives exactly 0), centre, Σc² / (n - ddof)
        b, dt = builder, builder.dtype(output)
        x, dims = b.cast(inputs[0], dt), b.dims(inputs[0])
        found = _onnx_axes(self.axis, len(dims)) if dims else ()
        axes = list(range(len(dims)) if found is None else found)
        if axes:
            ones = b.const(np.ones(len(axes), dtype=np.int64), name="ends")
            at = b.const(np.array(axes, dtype=np.int64), name="axes")
            first = b.op("Slice", x, b.const(np.zeros(len(axes), dtype=np.int64), name="starts"), ones, at)
            c = b.op("Sub", x, first)
            c = b.op("Sub", c, b.reduce("ReduceMean", c, axes, keepdims=True))
            squares = b.reduce("ReduceSum", b.op("Mul", c, c), axes, keepdims=self.keepdims)
        else:  # over no axes: every element is its own slice
            c = b.op("Sub", x, x)
            squares = b.op("Mul", c, c)
        fixed = math.prod(dims[a].size for a in axes if dims[a].static)
        moving = [a for a in axes if not dims[a].static]
        if not moving:
            count = fixed - self.ddof if fixed > self.ddof else 0  # (the builtin max is shadowed here)
            b.op("Div", squares, b.const(count, dt, name="count"), out=output)
            return
        # the count follows the batch: n from the input's run-time shape, then max(n - ddof, 0) as NumPy
        sizes = b.op("Gather", b.op("Shape", x), b.const(np.array(moving, dtype=np.int64), name="axes"))
        n = b.cast(b.reduce("ReduceProd", sizes, None, keepdims=False), dt)
        if fixed != 1:
            n = b.op("Mul", n, b.const(fixed, dt, name="count"))
        if self.ddof:
            n = b.op("Relu", b.op("Sub", n, b.const(self.ddof, dt, name="ddof")))
        b.op("Div", squares, n, out=output)


class LogSumExp(Reduction):
    """log Σ exp(x), shifted by the maximum so nothing overflows; d/dx = softmax(x)."""

    onnx_reduce = "ReduceLogSumExp"

    def forward(self, x, axis, keepdims):
        m = np.max(x, axis=axis, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)  # all -inf (or inf) slices: no shift
        s = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
        self.kept = s.shape
        self.axis, self.keepdims = axis, keepdims
        if keepdims:
            return s
        return s.reshape(()) if axis is None else np.squeeze(s, axis=axis)

    def backward(self, g, out, x):
        return g.reshape(self.kept) * np.exp(x - out.reshape(self.kept))

    def jvp(self, ds, out, x):
        return (ds[0] * np.exp(x - out.reshape(self.kept))).sum(axis=self.axis, keepdims=self.keepdims)


# ============================================================== along an axis


class Softmax(Function):
    """exp(x) / Σ exp(x) along ``axis``; VJP: y ⊙ (g - Σ g ⊙ y)."""

    saves_inputs = False
    py_forward = (
        "{t0} = np.exp({0} - np.max({0}, axis={axis}, keepdims=True))",
        "{t0} / np.sum({t0}, axis={axis}, keepdims=True)",
    )
    py_backward = ("{out} * ({g} - ({g} * {out}).sum(axis={axis}, keepdims=True))",)

    def forward(self, x, axis):
        self.axis = axis
        e = np.exp(x - np.max(x, axis=axis, keepdims=True))
        return e / np.sum(e, axis=axis, keepdims=True)

    def backward(self, g, out, x):
        return out * (g - (g * out).sum(axis=self.axis, keepdims=True))

    def jvp(self, ds, out, x):
        dx = ds[0]
        return out * (dx - (dx * out).sum(axis=self.axis, keepdims=True))

    def to_onnx(self, builder: OnnxBuilder, inputs: list[str], output: str) -> None:
        builder.op("Softmax", inputs[0], out=output, axis=int(self.axis))


class LogSoftmax(Function):
    """x - logsumexp(x) along ``axis``; VJP: g - softmax(x) Σ g."""

    saves_inputs = False
    py_backward = ("{g} - np.exp({out}) * {g}.sum(axis={axis}, keepdims=True)",)

    def forward(self, x, axis):
        self.axis = axis
        return x - LogSumExp().forward(x, axis=axis, keepdims=True)

    def backward(self, g, out, x):
        return g - np.exp(out) * g.sum(axis=self.axis, keepdims=True)

    def jvp(self, ds, out, x):
        dx = ds[0]
        return dx - (np.exp(out) * dx).sum(axis=self.axis, keepdims=True)

    def to_onnx(self, builder: OnnxBuilder, inputs: list[str], output: str) -> None:
        builder.op("LogSoftmax", inputs[0], out=output, axis=int(self.axis))


# ============================================================== public functions


def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001 - mirrors np.sum
    """Sum over ``axis`` (all axes by default)."""
    return Sum.apply(x, axis=axis, keepdims=keepdims)


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Arithmetic mean over ``axis`` (all axes by default)."""
    return Mean.apply(x, axis=axis, keepdims=keepdims)


def max(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001 - mirrors np.max
    """Maximum over ``axis``; ties share the gradient evenly.

    The values only, as ``np.max``: for the indices that PyTorch's ``x.max(1)`` also returns, use ``argmax``.
    """
    return Max.apply(x, axis=axis, keepdims=keepdims)


def min(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001 - mirrors np.min
    """Minimum over ``axis``; ties share the gradient evenly."""
    return Min.apply(x, axis=axis, keepdims=keepdims)


def var(x: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
    """Variance over ``axis`` (all axes by default): ``Σ(x - mean)² / (n - ddof)``.

    ``ddof=0`` (the default, NumPy's) is the biased variance of the data; ``ddof=1``
    the unbiased estimate from a sample. As in NumPy, ``ddof >= n`` divides by zero:
    the result is ``inf`` (or ``nan`` where the sum of squares is 0).

    >>> var(Tensor([1.0, 2.0, 3.0, 4.0]))
    Tensor(1.25)
    >>> var(Tensor([1.0, 2.0, 3.0, 4.0]), ddof=1).item()
    1.6666666666666667
    """
    return Var.apply(x, axis=_axis(axis), ddof=_ddof(ddof, "var"), keepdims=keepdims)


def std(x: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
    """Standard deviation over ``axis``: ``√var(x, axis, ddof)`` (see :func:`var` for ``ddof``).

    Its gradient is ``(x - mean) / ((n - ddof) · std)``. Where ``std`` is 0 (a constant
    slice, or a single element) that is 0/0; we give 0 there, a subgradient (as for
    ``norm`` at the zero vector), and so do second derivatives. PyTorch gives NaN there.

    >>> x = Tensor([2.0, 2.0, 2.0], requires_grad=True)
    >>> s = std(x)
    >>> s.backward()
    >>> s.item(), x.grad
    (0.0, array([0., 0., 0.]))
    """
    return zero_safe(Sqrt.apply, var(x, axis=axis, ddof=ddof, keepdims=keepdims))


def argmax(x: Any, axis: int | None = None, keepdims: bool = False) -> Any:
    """Index of the largest element (the first one on ties), as NumPy gives it: an ``int``
    over the flattened tensor when ``axis`` is None, else an integer array. Not
    differentiable (an index has no gradient).

    >>> argmax(Tensor([[1.0, 5.0], [7.0, 2.0]]))
    2
    >>> argmax(Tensor([[1.0, 5.0], [7.0, 2.0]]), axis=1)
    array([1, 0])
    """
    return _index_result(np.argmax(_values(x), axis=axis, keepdims=keepdims))


def argmin(x: Any, axis: int | None = None, keepdims: bool = False) -> Any:
    """Index of the smallest element (the first one on ties); see :func:`argmax`.

    >>> argmin(Tensor([3.0, -1.0, 4.0]))
    1
    """
    return _index_result(np.argmin(_values(x), axis=axis, keepdims=keepdims))


def _values(x: Any) -> np.ndarray:
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def _index_result(i: Any) -> Any:
    return int(i) if np.ndim(i) == 0 else i


def _axis(axis: Any) -> Any:
    return tuple(axis) if isinstance(axis, list) else axis


def _ddof(ddof: Any, where: str) -> int:
    if isinstance(ddof, bool) or not isinstance(ddof, (int, np.integer)):
        raise TypeError(
            f"{where}: ddof must be an integer (the n - ddof divisor), got {ddof!r}; "
            f"pass keepdims by name: {where}(axis, keepdims=True)"
        )
    return int(ddof)


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """log(sum(exp(x))) over ``axis``, computed stably."""
    return LogSumExp.apply(x, axis=axis, keepdims=keepdims)


def softmax(x: Any, axis: int = -1) -> Tensor:
    """Softmax along ``axis``, computed stably."""
    return Softmax.apply(x, axis=axis)


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    """Log of the softmax along ``axis``, computed stably."""
    return LogSoftmax.apply(x, axis=axis)
