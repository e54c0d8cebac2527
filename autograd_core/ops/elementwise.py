"""Elementwise ops: each forward beside its vector-Jacobian product.

Binary ops broadcast like NumPy; their VJPs return gradients of the broadcast shape
and the engine sums them back to each input's shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..function import Function
from ..tensor import Tensor

# ============================================================== binary arithmetic


class Add(Function):
    saves_inputs = False
    saves_output = False

    def forward(self, a, b):
        return a + b

    def backward(self, g, out, a, b):
        return g, g


class Subtract(Function):
    saves_inputs = False
    saves_output = False

    def forward(self, a, b):
        return a - b

    def backward(self, g, out, a, b):
        return g, (-g if self.needs(1) else None)


class Multiply(Function):
    saves_output = False

    def forward(self, a, b):
        return a * b

    def backward(self, g, out, a, b):
        return (g * b if self.needs(0) else None), (g * a if self.needs(1) else None)


class Divide(Function):
    def forward(self, a, b):
        return a / b

    def backward(self, g, out, a, b):
        return (g / b if self.needs(0) else None), (-g * out / b if self.needs(1) else None)


class Power(Function):
    """``a ** b``; d/da = b·a^(b-1), taken as 0 where b = 0 (even at a = 0, where the
    formula is 0·0⁻¹, as in PyTorch and JAX); d/db = a^b·log(a), taken as 0 where a = 0."""

    def forward(self, a, b):
        return a**b

    def backward(self, g, out, a, b):
        ga = gb = None
        if self.needs(0):
            if type(b) is int or type(b) is float:  # a number: decide once
                # x**2, the commonest power, needs no power in its derivative (nor in its graph)
                ga = g * (2 * a) if b == 2 else g * 0 if b == 0 else g * b * a ** (b - 1)
            else:  # an array: where a = b = 0 take a = 1, so that no 0⁻¹ (nor a NaN gradient) is ever made
                ga = g * b * np.where((b == 0) & (a == 0), 1, a) ** (b - 1)
        if self.needs(1):
            gb = g * out * np.log(np.where(a == 0, 1, a))
        return ga, gb


class Maximum(Function):
    """Elementwise maximum; where ``a == b`` the gradient is split evenly."""

    saves_output = False

    def forward(self, a, b):
        return np.maximum(a, b)

    def backward(self, g, out, a, b):
        share = ((a > b) + 0.5 * (a == b)).astype(g.dtype)
        return g * share, g * (1 - share)


class Minimum(Function):
    """Elementwise minimum; where ``a == b`` the gradient is split evenly."""

    saves_output = False

    def forward(self, a, b):
        return np.minimum(a, b)

    def backward(self, g, out, a, b):
        share = ((a < b) + 0.5 * (a == b)).astype(g.dtype)
        return g * share, g * (1 - share)


class Where(Function):
    """``cond ? a : b`` with a constant boolean ``cond``."""

    saves_inputs = False
    saves_output = False

    def forward(self, a, b, cond):
        self.cond = cond
        return np.where(cond, a, b)

    def backward(self, g, out, a, b):
        return np.where(self.cond, g, 0), np.where(self.cond, 0, g)


# ============================================================== unary


class Negative(Function):
    name = "neg"
    saves_inputs = False
    saves_output = False

    def forward(self, x):
        return -x

    def backward(self, g, out, x):
        return -g


class Square(Function):
    saves_output = False

    def forward(self, x):
        return x * x

    def backward(self, g, out, x):
        return g * (2 * x)


class Exp(Function):
    saves_inputs = False

    def forward(self, x):
        return np.exp(x)

    def backward(self, g, out, x):
        return g * out


class Log(Function):
    saves_output = False

    def forward(self, x):
        return np.log(x)

    def backward(self, g, out, x):
        return g / x


class Sqrt(Function):
    """Square root; its derivative 1/(2√x) is inf at 0."""

    saves_inputs = False

    def forward(self, x):
        return np.sqrt(x)

    def backward(self, g, out, x):
        return g / (2 * out)


class Sin(Function):
    saves_output = False

    def forward(self, x):
        return np.sin(x)

    def backward(self, g, out, x):
        return g * np.cos(x)


class Cos(Function):
    saves_output = False

    def forward(self, x):
        return np.cos(x)

    def backward(self, g, out, x):
        return -g * np.sin(x)


class Tanh(Function):
    saves_inputs = False

    def forward(self, x):
        return np.tanh(x)

    def backward(self, g, out, x):
        return g * (1 - out * out)


class Sigmoid(Function):
    """1 / (1 + e^-x), computed without overflow; d/dx = σ(1 - σ)."""

    saves_inputs = False

    def forward(self, x):
        e = np.exp(-np.abs(x))  # in (0, 1]: never overflows
        return np.where(x >= 0, 1, e) / (1 + e)

    def backward(self, g, out, x):
        return g * (out * (1 - out))


class Relu(Function):
    """max(x, 0); the gradient at 0 is 0."""

    saves_output = False

    def forward(self, x):
        return np.maximum(x, 0)

    def backward(self, g, out, x):
        return g * (x > 0)


class Abs(Function):
    """|x|; the gradient at 0 is 0."""

    saves_output = False

    def forward(self, x):
        return np.abs(x)

    def backward(self, g, out, x):
        return g * np.sign(x)


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


class Cast(Function):
    saves_inputs = False
    saves_output = False

    def forward(self, x, dtype):
        return x.astype(dtype)

    def backward(self, g, out, x):
        return g.astype(x.dtype)


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
    """Elements of ``a`` where ``cond`` is true, else of ``b`` (``cond`` is not differentiated)."""
    if isinstance(cond, Tensor):
        cond = cond.data
    return Where.apply(a, b, cond=np.asarray(cond, dtype=bool))


def negative(x: Any) -> Tensor:
    return Negative.apply(x)


def square(x: Any) -> Tensor:
    return Square.apply(x)


def exp(x: Any) -> Tensor:
    return Exp.apply(x)


def log(x: Any) -> Tensor:
    """Natural logarithm."""
    return Log.apply(x)


def sqrt(x: Any) -> Tensor:
    return Sqrt.apply(x)


def sin(x: Any) -> Tensor:
    return Sin.apply(x)


def cos(x: Any) -> Tensor:
    return Cos.apply(x)


def tanh(x: Any) -> Tensor:
    return Tanh.apply(x)


def sigmoid(x: Any) -> Tensor:
    return Sigmoid.apply(x)


def relu(x: Any) -> Tensor:
    return Relu.apply(x)


def abs(x: Any) -> Tensor:  # noqa: A001 - mirrors np.abs
    return Abs.apply(x)


def clip(x: Any, low: Any = None, high: Any = None) -> Tensor:
    """Clamp ``x`` to ``[low, high]`` (either bound may be None). Bounds may be Tensors that
    require grad: they get their gradient where they are the result."""
    if low is None and high is None:
        raise ValueError("clip: give at least one of low and high")
    return Clip.apply(x, -np.inf if low is None else low, np.inf if high is None else high)


def astype(x: Any, dtype: Any) -> Tensor:
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"astype: tensors hold floating data; cannot cast to {dtype}")
    return Cast.apply(x, dtype=dtype)
