"""Elementwise ops: each forward beside its vector-Jacobian product.

Binary ops broadcast like NumPy; their VJPs return gradients of the broadcast shape
and the engine sums them back to each input's shape. Most are one ONNX node on inputs
cast to the output's dtype (NumPy's promotion): ``onnx_op``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import forward as _forward
from .. import tracing as _tracing
from .._checks import check_real
from ..function import Function
from ..tensor import Tensor

if TYPE_CHECKING:
    from ..onnx.builder import OnnxBuilder


def tangent_sum(*terms: Any) -> Any:
    """The sum of a JVP's terms, one per input that has a tangent (None: no term); None if none."""
    total = None
    for term in terms:
        if term is not None:
            total = term if total is None else total + term
    return total


def _shared(ds: tuple[Any, Any], share: Any) -> Any:
    """``da·share + db·(1 - share)``: the JVP of an elementwise choice between a and b."""
    da, db = ds
    return tangent_sum(None if da is None else da * share, None if db is None else db * (1 - share))


# ============================================================== binary arithmetic


class Add(Function):
    onnx_op = "Add"
    py_forward, py_backward = "{0} + {1}", ("{g}", "{g}")
    saves_inputs = False
    saves_output = False

    def forward(self, a, b):
        return a + b

    def backward(self, g, out, a, b):
        return g, g

    def jvp(self, ds, out, a, b):
        da, db = ds
        return da if db is None else db if da is None else da + db


class Subtract(Function):
    onnx_op = "Sub"
    py_forward, py_backward = "{0} - {1}", ("{g}", "-{g}")
    saves_inputs = False
    saves_output = False

    def forward(self, a, b):
        return a - b

    def backward(self, g, out, a, b):
        return g, (-g if self.needs(1) else None)

    def jvp(self, ds, out, a, b):
        da, db = ds
        return da if db is None else -db if da is None else da - db


class Multiply(Function):
    onnx_op = "Mul"
    py_forward, py_backward = "{0} * {1}", ("{g} * {1}", "{g} * {0}")
    saves_inputs = "others"  # d(ab)/da = b: each input is read only for the other's gradient
    saves_output = False

    def forward(self, a, b):
        return a * b

    def backward(self, g, out, a, b):
        return (g * b if self.needs(0) else None), (g * a if self.needs(1) else None)

    def jvp(self, ds, out, a, b):
        da, db = ds
        if db is None:
            return da * b
        if da is None:
            return a * db
        if a is b and da is db:  # x * x: one product fewer
            return 2 * (a * da)
        return da * b + a * db


class Divide(Function):
    onnx_op = "Div"
    py_forward, py_backward = "{0} / {1}", ("{g} / {1}", "-{g} * {out} / {1}")

    def forward(self, a, b):
        return a / b

    def backward(self, g, out, a, b):
        return (g / b if self.needs(0) else None), (-g * out / b if self.needs(1) else None)

    def jvp(self, ds, out, a, b):
        da, db = ds
        if db is None:
            return da / b
        return (-out * db if da is None else da - out * db) / b


class Power(Function):
    """``a ** b``; d/da = b·a^(b-1), taken as 0 where b = 0 (even at a = 0, where the
    formula is 0·0⁻¹, as in PyTorch and JAX); d/db = a^b·log(a), taken as 0 where a = 0."""

    py_forward = "{0} ** {1}"

    def python_form(self, inputs: tuple[Any, ...]) -> tuple[Any, Any]:
        b = inputs[1]
        if type(b) is not int and type(b) is not float:
            return self.py_forward, None  # an array exponent: the program calls backward
        ga = "(2 * {g}) * {0}" if b == 2 else "{g} * 0" if b == 0 else "{g} * {1} * {0} ** ({1} - 1)"
        return self.py_forward, (ga, None)

    def forward(self, a, b):
        return a**b

    def backward(self, g, out, a, b):
        ga = gb = None
        if self.needs(0):
            if type(b) is int or type(b) is float:  # a number: decide once
                # x**2, the commonest power, needs no power in its derivative (nor in its graph); 2g is
                # exact, and one op fewer when g is an array and a a Tensor (forward mode over backward)
                ga = (2 * g) * a if b == 2 else g * 0 if b == 0 else g * b * a ** (b - 1)
            else:  # an array: where a = b = 0 take a = 1, so that no 0⁻¹ (nor a NaN gradient) is ever made
                ga = g * b * np.where((b == 0) & (a == 0), 1, a) ** (b - 1)
        if self.needs(1):
            gb = g * out * np.log(np.where(a == 0, 1, a))
        return ga, gb

    def jvp(self, ds, out, a, b):
        da, db = ds  # the VJP's local derivatives, times the tangents
        ta = tb = None
        if da is not None:
            if type(b) is int or type(b) is float:
                ta = da * (2 * a) if b == 2 else da * 0 if b == 0 else da * b * a ** (b - 1)
            else:
                ta = da * b * np.where((b == 0) & (a == 0), 1, a) ** (b - 1)
        if db is not None:
            tb = db * out * np.log(np.where(a == 0, 1, a))
        return tangent_sum(ta, tb)

    def to_onnx(self, builder: OnnxBuilder, inputs: list[str], output: str) -> None:
        dt = builder.dtype(output)
        base, exponent = builder.cast(inputs[0], dt), builder.constant(inputs[1])
        if exponent is not None and exponent.shape == () and exponent == 2:
            builder.op("Mul", base, base, out=output)  # NumPy squares for x ** 2; so do we
        else:
            builder.op("Pow", base, builder.cast(inputs[1], dt), out=output)


class Maximum(Function):
    """Elementwise maximum; where ``a == b`` the gradient is split evenly."""

    onnx_op = "Max"
    saves_output = False

    def forward(self, a, b):
        return np.maximum(a, b)

    def backward(self, g, out, a, b):
        share = ((a > b) + 0.5 * (a == b)).astype(g.dtype)
        return g * share, g * (1 - share)

    def jvp(self, ds, out, a, b):
        return _shared(ds, ((a > b) + 0.5 * (a == b)).astype(out.dtype))  # ties: the mean of the two tangents


class Minimum(Function):
    """Elementwise minimum; where ``a == b`` the gradient is split evenly."""

    onnx_op = "Min"
    saves_output = False

    def forward(self, a, b):
        return np.minimum(a, b)

    def backward(self, g, out, a, b):
        share = ((a < b) + 0.5 * (a == b)).astype(g.dtype)
        return g * share, g * (1 - share)

    def jvp(self, ds, out, a, b):
        return _shared(ds, ((a < b) + 0.5 * (a == b)).astype(out.dtype))


class Where(Function):
    """``cond ? a : b`` with a boolean ``cond`` (not differentiated; in a trace, a mask computed
    from traced values is recorded with them, see ``ops/compare.py``)."""

    py_forward, py_backward = "np.where({cond}, {0}, {1})", ("np.where({cond}, {g}, 0)", "np.where({cond}, 0, {g})")

    saves_inputs = False
    saves_output = False

    def forward(self, a, b, cond):
        self.cond = cond
        return np.where(cond, a, b)

    def backward(self, g, out, a, b):
        return np.where(self.cond, g, 0), np.where(self.cond, 0, g)

    def jvp(self, ds, out, a, b):
        da, db = ds
        return np.where(self.cond, 0 if da is None else da, 0 if db is None else db)

    def to_onnx(self, builder: OnnxBuilder, inputs: list[str], output: str) -> None:
        dt = builder.dtype(output)
        cond = builder.traced(self.cond) or builder.const(self.cond, bool, name="cond")
        builder.op("Where", cond, builder.cast(inputs[0], dt), builder.cast(inputs[1], dt), out=output)


# ============================================================== unary


class Negative(Function):
    onnx_op = "Neg"
    py_forward, py_backward = "-{0}", ("-{g}",)
    name = "neg"
    saves_inputs = False
    saves_output = False

    def forward(self, x):
        return -x

    def backward(self, g, out, x):
        return -g

    def jvp(self, ds, out, x):
        return -ds[0]


class Square(Function):
    saves_output = False
    py_forward, py_backward = "{0} * {0}", ("{g} * (2 * {0})",)

    def forward(self, x):
        return x * x

    def backward(self, g, out, x):
        return g * (2 * x)

    def jvp(self, ds, out, x):
        return ds[0] * (2 * x)

    def to_onnx(self, builder: OnnxBuilder, inputs: list[str], output: str) -> None:
        x = builder.cast(inputs[0], builder.dtype(output))
        builder.op("Mul", x, x, out=output)


class Exp(Function):
    onnx_op = "Exp"
    py_forward, py_backward = "np.exp({0})", ("{g} * {out}",)
    saves_inputs = False

    def forward(self, x):
        return np.exp(x)

    def backward(self, g, out, x):
        return g * out

    def jvp(self, ds, out, x):
        return ds[0] * out


class Log(Function):
    onnx_op = "Log"
    py_forward, py_backward = "np.log({0})", ("{g} / {0}",)
    saves_output = False

    def forward(self, x):
        return np.log(x)

    def backward(self, g, out, x):
        return g / x

    def jvp(self, ds, out, x):
        return ds[0] / x


class Log1p(Function):
    """log(1 + x), accurate for tiny x; d/dx = 1/(1 + x)."""

    py_forward, py_backward = "np.log1p({0})", ("{g} / (1 + {0})",)

    saves_output = False

    def forward(self, x):
        return np.log1p(x)

    def backward(self, g, out, x):
        return g / (1 + x)

    def jvp(self, ds, out, x):
        return ds[0] / (1 + x)

    def to_onnx(self, builder: OnnxBuilder, inputs: list[str], output: str) -> None:
        # ONNX has no Log1p: log(1 + x) loses the digits of x below the dtype's epsilon (absolute error ≤ ε)
        dt = builder.dtype(output)
        one = builder.const(1, dt, name="one")
        builder.op("Log", builder.op("Add", builder.cast(inputs[0], dt), one), out=output)


class Expm1(Function):
    """eˣ - 1, accurate for tiny x; d/dx = eˣ = out + 1."""

    py_forward, py_backward = "np.expm1({0})", ("{g} * ({out} + 1)",)

    saves_inputs = False

    def forward(self, x):
        return np.expm1(x)

    def backward(self, g, out, x):
        return g * (out + 1)

    def jvp(self, ds, out, x):
        return ds[0] * (out + 1)

    def to_onnx(self, builder: OnnxBuilder, inputs: list[str], output: str) -> None:
        dt = builder.dtype(output)  # ONNX has no Expm1: exp(x) - 1, absolute error ≤ ε as for log1p
        one = builder.const(1, dt, name="one")
        builder.op("Sub", builder.op("Exp", builder.cast(inputs[0], dt)), one, out=output)


class Sqrt(Function):
    """Square root; its derivative 1/(2√x) is inf at 0."""

    onnx_op = "Sqrt"
    py_forward, py_backward = "np.sqrt({0})", ("{g} / (2 * {out})",)
    saves_inputs = False

    def forward(self, x):
        return np.sqrt(x)

    def backward(self, g, out, x):
        return g / (2 * out)

    def jvp(self, ds, out, x):
        return ds[0] / (2 * out)


class Sin(Function):
    onnx_op = "Sin"
    py_forward, py_backward = "np.sin({0})", ("{g} * np.cos({0})",)
    saves_output = False

    def forward(self, x):
        return np.sin(x)

    def backward(self, g, out, x):
        return g * np.cos(x)

    def jvp(self, ds, out, x):
        return ds[0] * np.cos(x)


class Cos(Function):
    onnx_op = "Cos"
    py_forward, py_backward = "np.cos({0})", ("-{g} * np.sin({0})",)
    saves_output = False

    def forward(self, x):
        return np.cos(x)

    def backward(self, g, out, x):
        return -g * np.sin(x)

    def jvp(self, ds, out, x):
        return -ds[0] * np.sin(x)


class Tanh(Function):
    onnx_op = "Tanh"
    py_forward, py_backward = "np.tanh({0})", ("{g} * (1 - {out} * {out})",)
    saves_inputs = False

    def forward(self, x):
        return np.tanh(x)

    def backward(self, g, out, x):
        return g * (1 - out * out)

    def jvp(self, ds, out, x):
        return ds[0] * (1 - out * out)


class Sigmoid(Function):
    """1 / (1 + e^-x), computed without overflow; d/dx = σ(1 - σ)."""

    onnx_op = "Sigmoid"
    py_forward = ("{t0} = np.exp(-np.abs({0}))", "np.where({0} >= 0, 1, {t0}) / (1 + {t0})")
    py_backward = ("{g} * ({out} * (1 - {out}))",)
    saves_inputs = False

    def forward(self, x):
        e = np.exp(-np.abs(x))  # in (0, 1]: never overflows
        return np.where(x >= 0, 1, e) / (1 + e)

    def backward(self, g, out, x):
        return g * (out * (1 - out))

    def jvp(self, ds, out, x):
        return ds[0] * (out * (1 - out))


class Relu(Function):
    """max(x, 0); the gradient at 0 is 0. The mask comes from the output (out > 0 exactly where
    x > 0), so the input need not be kept: a Dense layer's pre-activation is freed at once."""

    onnx_op = "Relu"
    py_forward, py_backward = "np.maximum({0}, 0)", ("{g} * ({out} > 0)",)
    saves_inputs = False

    def forward(self, x):
        return np.maximum(x, 0)

    def backward(self, g, out, x):
        return g * (out > 0)

    def jvp(self, ds, out, x):
        return ds[0] * (out > 0)


class LeakyRelu(Function):
    """x where x > 0, else slope·x; the gradient at 0 is ``slope`` (PyTorch's convention,
    and ReLU's when slope = 0)."""

    name = "leaky_relu"
    saves_output = False
    py_forward = "np.where({0} > 0, {0}, {0} * {slope})"
    py_backward = ("{g} * np.where({0} > 0, 1, {slope}).astype({0}.dtype)",)

    def forward(self, x, slope):
        self.slope = slope
        return np.where(x > 0, x, x * slope)

    def backward(self, g, out, x):
        return g * np.where(x > 0, 1, self.slope).astype(x.dtype)

    def jvp(self, ds, out, x):
        return ds[0] * np.where(x > 0, 1, self.slope).astype(x.dtype)

    def to_onnx(self, builder: OnnxBuilder, inputs: list[str], output: str) -> None:
        dt = builder.dtype(output)
        x = builder.cast(inputs[0], dt)
        if float(np.float32(self.slope)) == self.slope or dt != np.float64:
            builder.op("LeakyRelu", x, out=output, alpha=float(self.slope))
        else:  # LeakyRelu's alpha is a float32 attribute: in float64 a slope such as 0.01 would be rounded
            positive = builder.op("Greater", x, builder.const(0, dt, name="zero"))
            builder.op(
                "Where", positive, x, builder.op("Mul", x, builder.const(self.slope, dt, name="slope")), out=output
            )


class Abs(Function):
    """|x|; the gradient at 0 is 0."""

    onnx_op = "Abs"
    py_forward, py_backward = "np.abs({0})", ("{g} * np.sign({0})",)
    saves_output = False

    def forward(self, x):
        return np.abs(x)

    def backward(self, g, out, x):
        return g * np.sign(x)

    def jvp(self, ds, out, x):
        return ds[0] * np.sign(x)


class Clip(Function):
    """Clamp to [low, high], i.e. ``min(max(x, low), high)``. The gradient goes to ``x`` inside
    the bounds and on them, to ``low`` where ``x`` is below it and to ``high`` where the result
    is ``high`` (as PyTorch's ``clamp``, bounds that require grad included)."""

    saves_output = False

    def forward(self, x, low, high):
        return np.minimum(np.maximum(x, low), high)

    def backward(self, g, out, x, low, high):
        above = (x > high) | (low > high)  # comparisons give plain masks, never recorded
        below = (x < low) & ~above
        inside = ~(above | below)
        return g * inside, (g * below if self.needs(1) else None), (g * above if self.needs(2) else None)

    def jvp(self, ds, out, x, low, high):
        above = (x > high) | (low > high)
        below = (x < low) & ~above
        dx, dlow, dhigh = ds
        return tangent_sum(
            None if dx is None else dx * ~(above | below),
            None if dlow is None else dlow * below,
            None if dhigh is None else dhigh * above,
        )

    def to_onnx(self, builder: OnnxBuilder, inputs: list[str], output: str) -> None:
        dt = builder.dtype(output)
        x, low, high = (builder.cast(v, dt) for v in inputs)
        if all(len(builder.dims(v)) == 0 for v in inputs[1:]):
            builder.op("Clip", x, low, high, out=output)  # scalar bounds (an absent one is ±inf)
        else:  # bounds that broadcast, which Clip's scalar bounds cannot: NumPy's minimum(maximum(x, low), high)
            builder.op("Min", builder.op("Max", x, low), high, out=output)


class Clone(Function):
    """A copy of x in a new array; the gradient passes through unchanged."""

    onnx_op = "Identity"
    saves_inputs = False
    saves_output = False
    py_forward, py_backward = "np.array({0}, copy=True)", ("{g}",)

    def forward(self, x):
        return np.array(x, copy=True)

    def backward(self, g, out, x):
        return g

    def jvp(self, ds, out, x):
        return ds[0]


class Copy(Function):
    """What ``Tensor(t)`` of a traced value records (``ag.compile``, ``ag.export_onnx``): a new leaf
    holding a copy of ``t``'s values in ``dtype``. Not differentiable (a new leaf)."""

    name = "tensor"
    saves_inputs = False
    saves_output = False
    py_forward = "np.array({0}, dtype={dtype}, copy=True)"

    def forward(self, x, dtype):
        self.dtype = dtype
        return np.array(x, dtype=dtype, copy=True)

    def backward(self, g, out, x):
        return None

    def to_onnx(self, builder: OnnxBuilder, inputs: list[str], output: str) -> None:
        builder.cast(inputs[0], builder.dtype(output), out=output)


class Cast(Function):
    saves_inputs = False
    saves_output = False
    py_forward, py_backward = "{0}.astype({dtype})", ("{g}.astype({0.dtype})",)

    def forward(self, x, dtype):
        return x.astype(dtype)

    def backward(self, g, out, x):
        return g.astype(x.dtype)

    def jvp(self, ds, out, x):
        return ds[0].astype(out.dtype)

    def to_onnx(self, builder: OnnxBuilder, inputs: list[str], output: str) -> None:
        builder.cast(inputs[0], builder.dtype(output), out=output)


class Detach(Function):
    """``x`` itself, cut from the graph: what ``detach()`` of a traced tensor records (eager
    ``detach()`` makes no op; a recorded one keeps the value traced rather than captured)."""

    onnx_op = "Identity"
    saves_inputs = False
    saves_output = False
    py_forward, py_backward = "{0}", (None,)

    def forward(self, x):
        return x

    def backward(self, g, out, x):
        return None

    def jvp(self, ds, out, x):
        return None  # cut from the graph: no tangent either (JAX's stop_gradient, PyTorch's detach)


# ============================================================== public functions


def add(a: Any, b: Any) -> Tensor:
    """``a + b`` with broadcasting."""
    return Add.apply(a, b)


def subtract(a: Any, b: Any) -> Tensor:
    """``a - b`` with broadcasting."""
    return Subtract.apply(a, b)


def multiply(a: Any, b: Any) -> Tensor:
    """``a * b`` with broadcasting."""
    return Multiply.apply(a, b)


def divide(a: Any, b: Any) -> Tensor:
    """``a / b`` with broadcasting."""
    return Divide.apply(a, b)


def power(a: Any, b: Any) -> Tensor:
    """``a ** b`` with broadcasting."""
    return Power.apply(a, b)


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise maximum; ties split the gradient evenly."""
    return Maximum.apply(a, b)


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise minimum; ties split the gradient evenly."""
    return Minimum.apply(a, b)


def where(cond: Any, a: Any, b: Any) -> Tensor:
    """Elements of ``a`` where ``cond`` is true, else of ``b`` (``cond`` is not differentiated;
    a Tensor ``cond`` is true where it is non-zero)."""
    if isinstance(cond, Tensor):
        cond = cond != 0  # (a comparison: recorded while tracing, like x > 0)
    elif not (isinstance(cond, np.ndarray) and cond.dtype == bool):  # a mask stays the same object
        cond = np.asarray(cond, dtype=bool)
    return Where.apply(a, b, cond=cond)


def negative(x: Any) -> Tensor:
    """``-x``."""
    return Negative.apply(x)


def square(x: Any) -> Tensor:
    """``x ** 2``; its derivative is ``2x``."""
    return Square.apply(x)


def exp(x: Any) -> Tensor:
    """``e ** x``; its derivative is its output, ``e ** x``."""
    return Exp.apply(x)


def log(x: Any) -> Tensor:
    """Natural logarithm."""
    return Log.apply(x)


def log1p(x: Any) -> Tensor:
    """``log(1 + x)``, accurate where ``x`` is tiny (``log(1 + 1e-20)`` would be 0).

    >>> log1p(Tensor(1e-20)).item()
    1e-20
    """
    return Log1p.apply(x)


def expm1(x: Any) -> Tensor:
    """``exp(x) - 1``, accurate where ``x`` is tiny.

    >>> expm1(Tensor(1e-20)).item()
    1e-20
    """
    return Expm1.apply(x)


def sqrt(x: Any) -> Tensor:
    """Square root; its derivative ``1 / (2 sqrt(x))`` is infinite at 0."""
    return Sqrt.apply(x)


def sin(x: Any) -> Tensor:
    """Sine; its derivative is ``cos(x)``."""
    return Sin.apply(x)


def cos(x: Any) -> Tensor:
    """Cosine; its derivative is ``-sin(x)``."""
    return Cos.apply(x)


def tanh(x: Any) -> Tensor:
    """Hyperbolic tangent; its derivative is ``1 - tanh(x) ** 2``."""
    return Tanh.apply(x)


def sigmoid(x: Any) -> Tensor:
    """The logistic function ``1 / (1 + e ** -x)``; its derivative is ``s (1 - s)``."""
    return Sigmoid.apply(x)


def relu(x: Any) -> Tensor:
    """``max(x, 0)``; its derivative is 1 where ``x > 0``, else 0 (0 at 0)."""
    return Relu.apply(x)


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Tensor:
    """``x`` where ``x > 0``, else ``negative_slope * x``.

    The derivative is 1 for ``x > 0`` and ``negative_slope`` for ``x <= 0``: at 0 it
    is ``negative_slope``, as in PyTorch (ReLU's 0 at 0 is the case ``negative_slope=0``).

    >>> leaky_relu(Tensor([-2.0, 0.0, 3.0]), 0.1)
    Tensor([-0.2,  0. ,  3. ])
    """
    slope = check_real(negative_slope, "negative_slope", "leaky_relu", noun="real number")
    return LeakyRelu.apply(x, slope=slope)


def clone(x: Any) -> Tensor:
    """A differentiable copy: new data, same values; the gradient flows back to ``x``
    (unlike ``detach()``, which shares the data and cuts the graph).

    >>> x = Tensor([1.0, 2.0], requires_grad=True)
    >>> y = clone(x)
    >>> (y * y).sum().backward()
    >>> x.grad
    array([2., 4.])
    """
    return Clone.apply(x)


def abs(x: Any) -> Tensor:  # noqa: A001 - mirrors np.abs
    """Absolute value; its derivative is ``sign(x)`` (0 at 0)."""
    return Abs.apply(x)


def clip(x: Any, low: Any = None, high: Any = None) -> Tensor:
    """Clamp ``x`` to ``[low, high]`` (either bound may be None). Bounds may be Tensors that
    require grad: they get their gradient where they are the result."""
    if low is None and high is None:
        raise ValueError("clip: give at least one of low and high")
    return Clip.apply(x, -np.inf if low is None else low, np.inf if high is None else high)


def astype(x: Any, dtype: Any) -> Tensor:
    """``x`` cast to the floating ``dtype``, differentiably (the gradient is cast back)."""
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"astype: tensors hold floating data; cannot cast to {dtype}")
    return Cast.apply(x, dtype=dtype)


def zero_safe(fn: Callable[[Tensor], Tensor], s: Tensor) -> Tensor:
    """``fn(s)`` where ``s != 0`` and 0 where ``s == 0``, with gradient 0 there (for ``fn``
    such as √ or a power below 1, whose derivative is infinite at 0, with ``fn(0) = 0``).

    The safe-where pattern: ``where(s == 0, 0, fn(where(s == 0, 1, s)))``. Selecting
    after ``fn(s)`` is not enough: the unused branch would still compute ``fn'(0) = inf``,
    and ``0 · inf`` is NaN. Feeding it a safe value (1) keeps every derivative finite,
    second ones included. Used by ``std`` and ``norm`` (0 at a constant slice or the zero
    vector: a subgradient).
    """
    zero = s == 0  # (a comparison: in a trace, recorded, so an exported model computes the mask)
    # (a tangent needs the safe pattern too; traced: no branch on the values)
    if not (s.requires_grad or _forward.active) or (not _tracing.active and not zero.any()):
        return fn(s)
    return Where.apply(0, fn(Where.apply(1, s, cond=zero)), cond=zero)
