"""Activation layers: thin Modules over the core's elementwise ops (which hold the derivatives)."""

from __future__ import annotations

from typing import Any

from autograd_core import Tensor
from autograd_core._checks import check_real
from autograd_core.ops.elementwise import LeakyRelu, Relu
from autograd_core.ops.elementwise import Sigmoid as _Sigmoid
from autograd_core.ops.elementwise import Tanh as _Tanh
from autograd_core.ops.reduce import Softmax as _Softmax
from autograd_core.ops.special import Gelu

from .module import Module

__all__ = ["ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "GELU", "Identity"]


class ReLU(Module):
    """``max(x, 0)``; derivative 1 where ``x > 0``, else 0 (0 at 0)."""

    def forward(self, x: Any) -> Tensor:
        return Relu.apply(x)


class LeakyReLU(Module):
    """``x`` where ``x > 0``, else ``negative_slope · x``: a ReLU whose negative side keeps a
    small slope, so a unit pushed below 0 still gets a gradient.

    Derivative: 1 where ``x > 0``, ``negative_slope`` where ``x <= 0`` (at 0 too, as in PyTorch).

    >>> LeakyReLU(0.1)(Tensor([-2.0, 0.0, 3.0]))
    Tensor([-0.2,  0. ,  3. ])
    """

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = check_real(negative_slope, "negative_slope", "LeakyReLU", noun="real number")

    def forward(self, x: Any) -> Tensor:
        return LeakyRelu.apply(x, slope=self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


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


class GELU(Module):
    """The Gaussian error linear unit, exact: ``x Φ(x)`` with ``Φ`` the standard normal CDF
    (``Φ(x) = (1 + erf(x/√2)) / 2``; PyTorch's ``nn.GELU()``, not its tanh approximation).
    Derivative ``Φ(x) + x φ(x)``.

    >>> GELU()(Tensor([-1.0, 0.0, 1.0]))
    Tensor([-0.15865525,  0.        ,  0.84134475])
    """

    def forward(self, x: Any) -> Tensor:
        return Gelu.apply(x)


class Identity(Module):
    """Returns its input unchanged: a placeholder where a layer is optional (``nn.Identity()``
    instead of a normalisation, say), so the model's code stays the same.

    >>> x = Tensor([1.0, 2.0])
    >>> Identity()(x) is x
    True
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # any arguments, ignored (as PyTorch's)
        super().__init__()

    def forward(self, x: Any) -> Any:
        return x
