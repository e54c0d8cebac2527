"""AdamW: Adam with decoupled weight decay (Loshchilov and Hutter), as ``torch.optim.AdamW``."""

from __future__ import annotations

from typing import Any

import numpy as np

from autograd_core import Tensor

from .adam import Adam
from .optimizer import ParamsLike


class AdamW(Adam):
    """Adam whose weight decay shrinks the weights directly instead of entering the gradient::

        w ← w − lr · λ · w                   (decoupled weight decay, λ = weight_decay)
        then Adam's step with the gradient g = ∂J/∂w as it is

    With Adam's L2 form (``optim.Adam(weight_decay=λ)``) the decay is divided by ``√ŝ`` like
    the rest of the gradient, so weights with large gradients are barely decayed; here every
    weight shrinks by the same factor ``1 − lr·λ`` each step. The same as ``torch.optim.AdamW``
    with the same defaults (``weight_decay=0.01``). Give biases and normalisation weights their
    own group to exempt them: ``AdamW([{"params": weights}, {"params": biases, "weight_decay": 0}])``.
    ``clip_grad_norm`` scales the gradients together first, as for every optimizer (see
    :class:`Optimizer`); the decay is not clipped.

    >>> w = Tensor(1.0, requires_grad=True)
    >>> opt = AdamW([w], lr=0.1, weight_decay=0.5)
    >>> opt.minimize(lambda: w * 0.0)            # no gradient to follow: only the decay acts
    0.0
    >>> round(w.item(), 6)                       # 1 − 0.1 · 0.5
    0.95
    """

    #: The base class must not add the decay to the gradient: :meth:`update` applies it.
    decoupled_weight_decay = True

    def __init__(
        self,
        params: ParamsLike,
        lr: float = 0.001,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0.01,
        clip_grad_norm: float | None = None,
    ) -> None:
        super().__init__(
            params, lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay, clip_grad_norm=clip_grad_norm
        )

    def update(self, p: Tensor, g: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        decay = group["weight_decay"]
        if decay:
            p.data *= 1.0 - group["lr"] * decay
        super().update(p, g, state, group)
