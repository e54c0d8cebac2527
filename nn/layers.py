"""Dense (fully connected) and Dropout layers. Data is batch-first: ``(batch, features)``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from autograd_core import Function, Tensor, tracing
from autograd_core._checks import check_real
from autograd_core.ops.elementwise import Add, Multiply, tangent_sum
from autograd_core.ops.linalg import MatMul

from . import init as _init
from .module import Module, Parameter, layer_input, positive_int

__all__ = ["Dense", "DenseFn", "Dropout"]


def _shape_of(x: Any) -> tuple[int, ...]:
    return x.shape if isinstance(x, (Tensor, np.ndarray)) else np.shape(x)


class DenseFn(Function):
    """``x @ W + b`` for a batch ``x`` of shape ``(batch, in)``, as one op.

    The same function as ``matmul`` then ``add`` (and tested against them); one node
    instead of two makes a training step cheaper. VJPs: ``g Wᵀ`` for x, ``xᵀ g`` for W,
    and ``g`` for b, which the engine sums over the batch like any broadcast operand.
    """

    saves_inputs = "others"  # g Wᵀ reads W, xᵀ g reads x
    saves_output = False

    name = "dense"
    onnx_op = "Gemm"  # (x, W, b), cast to the output's dtype
    py_forward = ("{t0} = {0} @ {1}", "{t0} += {2}", "{t0}")
    py_backward = ("{g} @ {1}.mT", "{0}.mT @ {g}", "{g}")

    def forward(self, x, w, b):
        out = x @ w
        out += b  # in place: no second batch-sized array
        return out

    def backward(self, g, out, x, w, b):
        gx = g @ w.mT if self.needs(0) else None
        gw = x.mT @ g if self.needs(1) else None
        return gx, gw, g

    def jvp(self, ds, out, x, w, b):
        dx, dw, db = ds
        return tangent_sum(None if dx is None else dx @ w, None if dw is None else x @ dw, db)


class Dense(Module):
    """Fully connected layer: ``y = x @ W + b``, ``W`` of shape ``(in_features, out_features)``.

    ``init`` draws ``W``: ``"he"`` (``N(0, 2/in)``, for ReLU), ``"xavier"``
    (``N(0, 2/(in+out))``, for tanh/sigmoid) or a callable ``init(shape, rng)``; ``b``
    starts at zero. ``rng`` (a ``numpy.random.Generator`` or an int seed) makes the
    draw reproducible; without it the generator of :func:`nn.seed` is used. Followed by
    BatchNorm, whose ``beta`` does the bias's job, a layer needs no bias: ``bias=False``.

    >>> layer = Dense(3, 2, rng=0)
    >>> layer(np.ones((4, 3))).shape
    (4, 2)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        init: str | Callable[..., Any] = "he",
        rng: np.random.Generator | int | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.in_features = positive_int(in_features, "in_features", "Dense")
        self.out_features = positive_int(out_features, "out_features", "Dense")
        where = f"Dense({in_features}, {out_features})"
        self.init = init
        w = _init.weights(init, (self.in_features, self.out_features), rng, where)
        self.weight = Parameter(w, dtype=dtype or np.float64)
        self.bias = Parameter(np.zeros(self.out_features), dtype=self.weight.dtype) if bias else None

    def forward(self, x: Any) -> Tensor:
        shape = _shape_of(x)
        if not shape or shape[-1] != self.in_features:
            raise ValueError(
                f"Dense({self.in_features}, {self.out_features}): input of shape {tuple(shape)}; expected "
                f"(batch, {self.in_features}) — the last axis must hold the {self.in_features} features"
            )
        x = layer_input(x, self.weight.data.dtype, f"Dense({self.in_features}, {self.out_features})")
        if self.bias is None:
            return MatMul.apply(x, self.weight)
        if len(shape) == 2:
            return DenseFn.apply(x, self.weight, self.bias)
        return Add.apply(MatMul.apply(x, self.weight), self.bias)

    def extra_repr(self) -> str:
        init = self.init if isinstance(self.init, str) else getattr(self.init, "__name__", "custom")
        return (
            f"in_features={self.in_features}, out_features={self.out_features}"
            f"{'' if self.bias is not None else ', bias=False'}{'' if init == 'he' else f', init={init!r}'}"
        )


class Dropout(Module):
    """Inverted dropout: in training each element is zeroed with probability ``p`` and the
    survivors are scaled by ``1 / (1 - p)``, so the expected value is unchanged and eval
    mode is the identity.

    ``rng`` (a Generator or an int seed) fixes the masks; by default they come from the
    generator of :func:`nn.seed`.

    >>> drop = Dropout(0.5, rng=0)
    >>> drop(np.ones((2, 4))).numpy()          # doctest: +SKIP
    array([[2., 0., 2., 2.], [0., 0., 2., 0.]])
    >>> drop.eval()(np.ones((2, 4))).numpy()   # doctest: +SKIP
    array([[1., 1., 1., 1.], [1., 1., 1., 1.]])
    """

    def __init__(self, p: float = 0.5, rng: np.random.Generator | int | None = None) -> None:
        super().__init__()
        meaning = "the probability of dropping an element"
        self.p = check_real(p, "p", "Dropout", low=0, high=1, meaning=meaning, expected="in [0, 1]")
        self.rng = None if rng is None else _init.as_rng(rng, "Dropout")

    def forward(self, x: Any) -> Any:
        if not self.training:
            return x
        if tracing.active:  # ag.compile: a program draws as this p does (0: no draw at all)
            tracing.guard(self, "p")
        if self.p == 0:
            return x
        data = x.data if isinstance(x, Tensor) else np.asarray(x)
        dtype = data.dtype if data.dtype.kind == "f" else np.float64
        mask = tracing.effect(self._mask, data.shape, dtype)  # a draw: a compiled program draws at every call
        return Multiply.apply(x, mask)

    def _mask(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        """A mask of ``shape``: 0 with probability ``p``, else ``1 / (1 - p)``, drawn from the layer's generator."""
        rng = self.rng if self.rng is not None else _init.default_rng()
        if self.p == 1:
            return np.zeros(shape, dtype=dtype)
        mask = (rng.random(shape) >= self.p).astype(dtype)
        mask *= 1 / (1 - self.p)
        return mask

    def extra_repr(self) -> str:
        return f"p={self.p}"
