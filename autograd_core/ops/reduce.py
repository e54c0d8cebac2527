"""Reductions (sum, mean, max, min, logsumexp) and normalisations along an axis
(softmax, log_softmax)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..function import Function
from ..tensor import Tensor
from .shape import expand


def _kept_shape(shape: tuple[int, ...], axis: Any) -> tuple[int, ...]:
    """The shape a reduction over ``axis`` has with ``keepdims=True``."""
    if axis is None:
        return (1,) * len(shape)
    axes = {a % len(shape) for a in ((axis,) if isinstance(axis, (int, np.integer)) else axis)}
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


# ============================================================== reductions


class Sum(Function):
    def forward(self, x, axis, keepdims):
        out = np.sum(x, axis=axis, keepdims=keepdims)
        self.kept = _kept_shape(x.shape, axis)
        self.axis, self.keepdims = axis, keepdims
        return out

    def backward(self, g, out, x):
        return expand(g.reshape(self.kept), x.shape)


class Mean(Function):
    def forward(self, x, axis, keepdims):
        out = np.mean(x, axis=axis, keepdims=keepdims)
        self.kept = _kept_shape(x.shape, axis)
        self.axis, self.keepdims = axis, keepdims
        self.n = x.size // (out.size or 1)  # (the builtin max is shadowed here)
        return out

    def backward(self, g, out, x):
        return expand(g.reshape(self.kept) / self.n, x.shape)


class Max(Function):
    """Maximum over ``axis``; tied maxima share the gradient evenly."""

    pick = staticmethod(np.max)

    def forward(self, x, axis, keepdims):
        out = self.pick(x, axis=axis, keepdims=keepdims)
        self.kept = _kept_shape(x.shape, axis)
        self.axis, self.keepdims = axis, keepdims
        return out

    def backward(self, g, out, x):
        hit = x == out.reshape(self.kept)
        share = hit / hit.sum(axis=self.axis, keepdims=True)
        return g.reshape(self.kept) * share.astype(x.dtype)


class Min(Max):
    """Minimum over ``axis``; tied minima share the gradient evenly."""

    pick = staticmethod(np.min)


class LogSumExp(Function):
    """log Σ exp(x), shifted by the maximum so nothing overflows; d/dx = softmax(x)."""

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


# ============================================================== along an axis


class Softmax(Function):
    """exp(x) / Σ exp(x) along ``axis``; VJP: y ⊙ (g - Σ g ⊙ y)."""

    def forward(self, x, axis):
        self.axis = axis
        e = np.exp(x - np.max(x, axis=axis, keepdims=True))
        return e / np.sum(e, axis=axis, keepdims=True)

    def backward(self, g, out, x):
        return out * (g - (g * out).sum(axis=self.axis, keepdims=True))


class LogSoftmax(Function):
    """x - logsumexp(x) along ``axis``; VJP: g - softmax(x) Σ g."""

    def forward(self, x, axis):
        self.axis = axis
        return x - LogSumExp().forward(x, axis=axis, keepdims=True)

    def backward(self, g, out, x):
        return g - np.exp(out) * g.sum(axis=self.axis, keepdims=True)


# ============================================================== public functions


def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001 - mirrors np.sum
    """Sum over ``axis`` (all axes by default)."""
    return Sum.apply(x, axis=axis, keepdims=keepdims)


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Arithmetic mean over ``axis`` (all axes by default)."""
    return Mean.apply(x, axis=axis, keepdims=keepdims)


def max(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001 - mirrors np.max
    """Maximum over ``axis``; ties share the gradient evenly."""
    return Max.apply(x, axis=axis, keepdims=keepdims)


def min(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001 - mirrors np.min
    """Minimum over ``axis``; ties share the gradient evenly."""
    return Min.apply(x, axis=axis, keepdims=keepdims)


def var(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Biased variance over ``axis`` (``ddof=0``), built from mean and square."""
    centred = x - Mean.apply(x, axis=axis, keepdims=True)
    return Mean.apply(centred * centred, axis=axis, keepdims=keepdims)


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """log(sum(exp(x))) over ``axis``, computed stably."""
    return LogSumExp.apply(x, axis=axis, keepdims=keepdims)


def softmax(x: Any, axis: int = -1) -> Tensor:
    """Softmax along ``axis``, computed stably."""
    return Softmax.apply(x, axis=axis)


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    """Log of the softmax along ``axis``, computed stably."""
    return LogSoftmax.apply(x, axis=axis)
