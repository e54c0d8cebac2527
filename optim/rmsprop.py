"""RMSprop: divide each step by the root of a running mean of squared gradients."""

from __future__ import annotations

from typing import Any

import numpy as np

from autograd_core import Tensor

from .optimizer import Optimizer, ParamsLike


class RMSprop(Optimizer):
    """RMSprop (Tieleman and Hinton, 2012; ``s`` starts at 0, squares are elementwise)::

        s ← β · s + (1 − β) · g²
        w ← w − lr · g / (√s + ε)

    ``ε`` is added to the square root, outside it, only to avoid dividing by zero. With
    ``weight_decay``, ``g = ∂J/∂w + weight_decay · w``; with ``clip_grad_norm``, the gradients
    are first scaled together to that joint norm at most (see :class:`Optimizer`).

    The same formula as ``torch.optim.RMSprop`` (whose ``alpha`` is our ``beta``; ε is outside
    the root there too), but our default ``beta=0.999`` where PyTorch's ``alpha`` is 0.99, and
    there are no ``momentum`` or ``centered`` options.

    >>> w = Tensor(0.0, requires_grad=True)
    >>> opt = RMSprop([w], lr=0.01, beta=0.999)
    >>> opt.minimize(lambda: w**2 - 10*w + 25)      # s = 0.1, step = 0.01 · 10 / √0.1
    25.0
    >>> round(w.item(), 6)
    0.316228
    """

    def __init__(
        self,
        params: ParamsLike,
        lr: float,
        beta: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        clip_grad_norm: float | None = None,
    ) -> None:
        super().__init__(params, lr, weight_decay=weight_decay, clip_grad_norm=clip_grad_norm, beta=beta, eps=eps)

    nonnegative_state = ("s",)

    def init_state(self, p: Tensor) -> dict[str, Any]:
        return {"s": np.zeros_like(p.data)}

    def update(self, p: Tensor, g: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        beta = group["beta"]
        s = state["s"]
        s *= beta
        s += (1.0 - beta) * np.square(g)
        denom = np.sqrt(s)
        denom += group["eps"]
        step = group["lr"] * g
        step /= denom
        p.data -= step

    py_update = (
        "{s} *= {beta}", "{s} += (1.0 - {beta}) * np.square({g})", "{t0} = np.sqrt({s})", "{t0} += {eps}",
        "{t1} = {lr} * {g}", "{t1} /= {t0}", "{p} -= {t1}",
    )  # fmt: skip
