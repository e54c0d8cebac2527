"""Activation layers: thin Modules over the core's elementwise ops (which hold the derivatives)."""

from __future__ import annotations

from typing import Any

from autograd_core import Tensor
from autograd_core.ops.elementwise import Relu
from autograd_core.ops.elementwise import Sigmoid as _Sigmoid
from autograd_core.ops.elementwise import Tanh as _Tanh
from autograd_core.ops.reduce import Softmax as _Softmax

from .module import Module

__all__ = ["ReLU", "Sigmoid", "Tanh", "Softmax"]


class ReLU(Module):
    """``max(x, 0)``; derivative 1 where ``x > 0``, else 0 (0 at 0)."""

    def forward(self, x: Any) -> Tensor:
        return Relu.apply(x)


class Sigmoid(Module):
    """``σ(x) = 1 / (1 + e^-x)`` (computed without overflow); derivative ``σ(1 - σ)``."""

    def forward(self, x: Any) -> Tensor:
        return _Sigmoid.apply(x)


class Tanh(Module):
    """``tanh(x)``; derivative ``1 - tanh²``."""

    def forward(self, x: Any) -> Tensor:
        return _Tanh.apply(x)


class Softmax(Module):
    """``exp(x) / Σ exp(x)`` along ``axis`` (the classes, last by default), computed stably.

    For training, feed the logits (the output *before* Softmax) to
    :func:`nn.softmax_cross_entropy`, which is stabler and faster; use Softmax to
    turn logits into probabilities.
    """

    def __init__(self, axis: int = -1) -> None:
        super().__init__()
        self.axis = axis

    def forward(self, x: Any) -> Tensor:
        return _Softmax.apply(x, axis=self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"
