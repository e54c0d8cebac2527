"""Layers for images ``(batch, channels, height, width)``: Conv2d, MaxPool2d, AvgPool2d, Flatten.

The maths (and the derivatives) live in ``autograd_core/ops/conv.py``; these Modules hold
the weights and the settings, and check their input where the mistake is made.

>>> import nn
>>> model = nn.Sequential(
...     nn.Conv2d(1, 8, 3, padding=1, rng=0), nn.ReLU(), nn.MaxPool2d(2),   # (n, 8, 4, 4)
...     nn.Flatten(), nn.Dense(8 * 4 * 4, 10, rng=0),
... )
>>> model(np.zeros((5, 1, 8, 8))).shape
(5, 10)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from autograd_core import Tensor
from autograd_core.ops import conv as _conv
from autograd_core.ops.shape import Reshape

from . import init as _init
from .module import Module, Parameter, layer_input, positive_int

__all__ = ["Conv2d", "MaxPool2d", "AvgPool2d", "Flatten"]

# A layer sees the same few input shapes again and again: check each and place its window once.
_conv_window = functools.lru_cache(maxsize=512)(_conv.conv_window)
_pool_window = functools.lru_cache(maxsize=512)(_conv.pool_window)


def _shape_of(x: Any) -> tuple[int, ...]:
    return x.shape if isinstance(x, (Tensor, np.ndarray)) else np.shape(x)


def _text(pair: tuple[int, int]) -> str:
    return str(pair[0]) if pair[0] == pair[1] else str(pair)


class Conv2d(Module):
    """2-D convolution: ``y[n, o] = Σ_c W[o, c] ⋆ x[n, c] + b[o]`` (cross-correlation, as in
    every framework), with ``weight`` of shape ``(out_channels, in_channels, kh, kw)`` and
    ``bias`` of shape ``(out_channels,)``.

    ``kernel_size``, ``stride`` and ``padding`` are an int or a pair ``(rows, columns)``;
    ``padding`` adds zeros on each side, so ``padding=k // 2`` with stride 1 keeps an odd
    ``k × k`` kernel's output the input's size. The output is ``(batch, out_channels,
    (H + 2p - kh) // s + 1, (W + 2p - kw) // s + 1)``.

    A convolution is a Dense layer applied to every ``kh × kw`` patch, and it is
    initialised as one: ``init`` (``"he"``, ``"xavier"`` or a callable ``init(shape, rng)``)
    draws a ``(in_channels·kh·kw, out_channels)`` matrix, so He's variance is
    ``2 / fan_in`` with ``fan_in = in_channels·kh·kw``; the bias starts at zero.
    ``rng`` and ``dtype`` work as for :class:`nn.Dense`; followed by BatchNorm2d, a
    layer needs no bias (``bias=False``).

    >>> conv = Conv2d(3, 16, kernel_size=3, padding=1, rng=0)
    >>> conv.weight.shape, conv(np.ones((2, 3, 28, 28))).shape
    ((16, 3, 3, 3), (2, 16, 28, 28))
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        bias: bool = True,
        init: str | Callable[..., Any] = "he",
        rng: np.random.Generator | int | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.in_channels = positive_int(in_channels, "in_channels", "Conv2d")
        self.out_channels = positive_int(out_channels, "out_channels", "Conv2d")
        where = f"Conv2d({in_channels}, {out_channels})"
        self.kernel_size = _conv.as_pair(kernel_size, "kernel_size", where, 1)
        self.stride = _conv.as_pair(stride, "stride", where, 1)
        self.padding = _conv.as_pair(padding, "padding", where, 0)
        self.init = init
        kh, kw = self.kernel_size
        shape = (self.in_channels * kh * kw, self.out_channels)
        what = " (in_channels·kh·kw, out_channels), the shape of the equivalent Dense weight"
        w = _init.weights(init, shape, rng, where, what)
        weight = w.T.reshape(self.out_channels, self.in_channels, kh, kw)  # row (c, i, j) of w → weight[:, c, i, j]
        self.weight = Parameter(weight, dtype=dtype or np.float64)
        self.bias = Parameter(np.zeros(self.out_channels), dtype=self.weight.dtype) if bias else None

    def _where(self) -> str:
        return f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={_text(self.kernel_size)})"

    def forward(self, x: Any) -> Tensor:
        where = self._where()
        bias_shape = None if self.bias is None else self.bias.shape
        win = _conv_window(_shape_of(x), self.weight.shape, bias_shape, self.stride, self.padding, where)
        x = layer_input(x, self.weight.data.dtype, where)
        if self.bias is None:
            return _conv.Conv2d.apply(x, self.weight, win=win)
        return _conv.Conv2d.apply(x, self.weight, self.bias, win=win)

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={_text(self.kernel_size)}"
        if self.stride != (1, 1):
            text += f", stride={_text(self.stride)}"
        if self.padding != (0, 0):
            text += f", padding={_text(self.padding)}"
        if self.bias is None:
            text += ", bias=False"
        init = self.init if isinstance(self.init, str) else getattr(self.init, "__name__", "custom")
        return text + ("" if init == "he" else f", init={init!r}")


class _Pool2d(Module):
    """What MaxPool2d and AvgPool2d share: the window's settings, checked when the layer is built."""

    def __init__(self, kernel_size: int | tuple[int, int], stride: Any = None, padding: Any = 0) -> None:
        super().__init__()
        name = type(self).__name__
        self.kernel_size = _conv.as_pair(kernel_size, "kernel_size", name, 1)
        self.stride = self.kernel_size if stride is None else _conv.as_pair(stride, "stride", name, 1)
        self.padding = _conv.as_pair(padding, "padding", name, 0)
        if 2 * self.padding[0] > self.kernel_size[0] or 2 * self.padding[1] > self.kernel_size[1]:
            raise ValueError(
                f"{name}: padding {_text(self.padding)} is more than half the kernel {_text(self.kernel_size)}; "
                "a window could then hold nothing but padding"
            )

    def _window(self, x: Any) -> Any:
        where = f"{type(self).__name__}(kernel_size={_text(self.kernel_size)})"
        return _pool_window(tuple(_shape_of(x)), self.kernel_size, self.stride, self.padding, where)

    def extra_repr(self) -> str:
        text = f"kernel_size={_text(self.kernel_size)}"
        if self.stride != self.kernel_size:
            text += f", stride={_text(self.stride)}"
        if self.padding != (0, 0):
            text += f", padding={_text(self.padding)}"
        return text


class MaxPool2d(_Pool2d):
    """Maximum over each ``kernel_size`` window, per channel; ``stride`` defaults to the kernel
    size (windows side by side), ``padding`` (at most half the kernel) adds ``-inf`` borders.
    The gradient goes to each window's maximum, split evenly among tied maxima.

    >>> MaxPool2d(2)(np.arange(16.0).reshape(1, 1, 4, 4)).numpy()
    array([[[[ 5.,  7.],
             [13., 15.]]]])
    """

    def forward(self, x: Any) -> Tensor:
        return _conv.MaxPool2d.apply(x, win=self._window(x))


class AvgPool2d(_Pool2d):
    """Mean over each ``kernel_size`` window, per channel; ``stride`` defaults to the kernel
    size, ``padding`` (at most half the kernel) adds zeros that count in the mean
    (every window is divided by ``kh·kw``, as PyTorch does by default).

    >>> AvgPool2d(2)(np.arange(16.0).reshape(1, 1, 4, 4)).numpy()
    array([[[[ 2.5,  4.5],
             [10.5, 12.5]]]])
    """

    def forward(self, x: Any) -> Tensor:
        win = self._window(x)
        return _conv.AvgPool2d.apply(x, weights=1.0 / (win.kh * win.kw), win=win)


class Flatten(Module):
    """Everything but the batch axis flattened: ``(batch, c, h, w)`` → ``(batch, c·h·w)``, in
    C order (channel, then row, then column), ready for a Dense layer.

    >>> Flatten()(np.zeros((5, 16, 2, 2))).shape
    (5, 64)
    """

    def forward(self, x: Any) -> Tensor:
        shape = _shape_of(x)
        if len(shape) < 2:
            raise ValueError(
                f"Flatten: input of shape {tuple(shape)} has no axes after the batch axis to flatten; "
                "expected (batch, ...) with at least 2 dimensions"
            )
        return Reshape.apply(x, shape=(shape[0], math.prod(shape[1:])))
