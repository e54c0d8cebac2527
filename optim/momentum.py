"""Gradient descent with momentum: an exponentially weighted average of the gradients."""

from __future__ import annotations

from typing import Any

import numpy as np

from autograd_core import Tensor

from .optimizer import Optimizer, ParamsLike


class Momentum(Optimizer):
    """Gradient descent with momentum, as an exponentially weighted average (``v`` starts at 0)::

        v ← β · v + (1 − β) · g
        w ← w − lr · v

    ``v`` is an exponentially weighted average of the gradients, over roughly the last
    ``1 / (1 − β)`` steps; there is no bias correction, so the first steps are short.
    With ``weight_decay``, ``g = ∂J/∂w + weight_decay · w``; with ``clip_grad_norm``, the
    gradients are first scaled together to that joint norm at most (see :class:`Optimizer`).

    Differs from ``torch.optim.SGD(momentum=μ)``, which accumulates ``v ← μ · v + g`` (no
    ``1 − β`` on the gradient): ours with learning rate ``lr`` follows exactly the same path as
    PyTorch's with ``lr · (1 − β)`` and ``μ = β``. Nesterov momentum is not offered.

    >>> w = Tensor(0.0, requires_grad=True)
    >>> opt = Momentum([w], lr=0.1, beta=0.9)
    >>> opt.minimize(lambda: w**2 - 10*w + 25)      # g = -10, v = -1
    25.0
    >>> round(w.item(), 12)
    0.1
    """

    def __init__(
        self,
        params: ParamsLike,
        lr: float,
        beta: float = 0.9,
        weight_decay: float = 0.0,
        clip_grad_norm: float | None = None,
    ) -> None:
        super().__init__(params, lr, weight_decay=weight_decay, clip_grad_norm=clip_grad_norm, beta=beta)

    def init_state(self, p: Tensor) -> dict[str, Any]:
        return {"v": np.zeros_like(p.data)}

    def update(self, p: Tensor, g: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        beta = group["beta"]
        v = state["v"]
        v *= beta
        v += (1.0 - beta) * g
        p.data -= group["lr"] * v

    py_update = ("{v} *= {beta}", "{v} += (1.0 - {beta}) * {g}", "{p} -= {lr} * {v}")
