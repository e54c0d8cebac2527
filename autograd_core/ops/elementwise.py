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
    def forward(self, a, b):
        return a + b

    def backward(self, g, out, a, b):
        return g, g


class Subtract(Function):
    def forward(self, a, b):
        return a - b

    def backward(self, g, out, a, b):
        return g, (-g if self.needs(1) else None)


class Multiply(Function):
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
    """``a ** b``; d/da = b·a^(b-1), d/db = a^b·log(a) (taken as 0 where a = 0)."""

    def forward(self, a, b):
        return a**b

    def backward(self, g, out, a, b):
        ga = gb = None
        if self.needs(0):
            # x**2, the commonest power, needs no power in its derivative (nor in its graph)
            ga = g * (2 * a) if type(b) is int and b == 2 else g * b * a ** (b - 1)
        if self.needs(1):
            gb = g * out * np.log(np.where(a == 0, 1, a))
        return ga, gb


class Maximum(Function):
    """Elementwise maximum; where ``a == b`` the gradient is split evenly."""

    def forward(self, a, b):
        return np.maximum(a, b)

    def backward(self, g, out, a, b):
        share = ((a > b) + 0.5 * (a == b)).astype(g.dtype)
        return g * share, g * (1 - share)


class Minimum(Function):
    """Elementwise minimum; where ``a == b`` the gradient is split evenly."""

    def forward(self, a, b):
        return np.minimum(a, b)

    def backward(self, g, out, a, b):
        share = ((a < b) + 0.5 * (a == b)).astype(g.dtype)
        return g * share, g * (1 - share)


class Where(Function):
    """``cond ? a : b`` with a constant boolean ``cond``."""

    def forward(self, a, b, cond):
        self.cond = cond
        return np.where(cond, a, b)

    def backward(self, g, out, a, b):
        return np.where(self.cond, g, 0), np.where(self.cond, 0, g)


# ============================================================== unary


class Negative(Function):
    name = "neg"

    def forward(self, x):
        return -x

    def backward(self, g, out, x):
        return -g


class Square(Function):
    def forward(self, x):
        return x * x

    def backward(self, g, out, x):
        return g * (2 * x)


class Exp(Function):
    def forward(self, x):
        return np.exp(x)

    def backward(self, g, out, x):
        return g * out


class Log(Function):
    def forward(self, x):
        return np.log(x)

    def backward(self, g, out, x):
        return g / x


class Sqrt(Function):
    """Square root; its derivative 1/(2√x) is inf at 0."""

    def forward(self, x):
        return np.sqrt(x)

    def backward(self, g, out, x):
        return g / (2 * out)


class Sin(Function):
    def forward(self, x):
        return np.sin(x)

    def backward(self, g, out, x):
        return g * np.cos(x)


class Cos(Function):
    def forward(self, x):
        return np.cos(x)

    def backward(self, g, out, x):
        return -g * np.sin(x)


class Tanh(Function):
    def forward(self, x):
        return np.tanh(x)

    def backward(self, g, out, x):
        return g * (1 - out * out)


class Sigmoid(Function):
    """1 / (1 + e^-x), computed without overflow; d/dx = σ(1 - σ)."""

    def forward(self, x):
        e = np.exp(-np.abs(x))  # in (0, 1]: never overflows
        return np.where(x >= 0, 1, e) / (1 + e)

    def backward(self, g, out, x):
        return g * (out * (1 - out))


class Relu(Function):
    """max(x, 0); the gradient at 0 is 0."""

    def forward(self, x):
        return np.maximum(x, 0)

    def backward(self, g, out, x):
        return g * (x > 0)


class Abs(Function):
    """|x|; the gradient at 0 is 0."""

    def forward(self, x):
        return np.abs(x)

    def backward(self, g, out, x):
        return g * np.sign(x)


class Clip(Function):
    """Clamp to [low, high]; gradient 1 inside and on the bounds, 0 outside (as PyTorch)."""

    def forward(self, x, low, high):
        self.low, self.high = low, high
        return np.clip(x, low, high)

    def backward(self, g, out, x):
        return g * (out == x)


class Cast(Function):
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
    """Clamp ``x`` to ``[low, high]`` (either bound may be None)."""
    if low is None and high is None:
        raise ValueError("clip: give at least one of low and high")
    return Clip.apply(x, low=_bound(low), high=_bound(high))


def astype(x: Any, dtype: Any) -> Tensor:
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"astype: tensors hold floating data; cannot cast to {dtype}")
    return Cast.apply(x, dtype=dtype)


def _bound(b: Any) -> Any:
    if isinstance(b, Tensor):
        return b.data
    return b
