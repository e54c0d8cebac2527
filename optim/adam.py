"""Adam: momentum and RMSprop together, with bias correction."""

from __future__ import annotations

from typing import Any

import numpy as np

from autograd_core import Tensor

from .optimizer import Optimizer, ParamsLike


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015). At step ``t = 1, 2, ...`` of a parameter (``v``, ``s`` start at 0)::

        v ← β₁ · v + (1 − β₁) · g            (momentum)
        s ← β₂ · s + (1 − β₂) · g²           (RMSprop)
        v̂ = v / (1 − β₁ᵗ),  ŝ = s / (1 − β₂ᵗ)  (bias correction)
        w ← w − lr · v̂ / (√ŝ + ε)

    ``ε`` is added to the root of the *corrected* ``ŝ``. Each parameter counts its own steps
    (a step where its ``.grad`` is None does not count). With ``weight_decay``,
    ``g = ∂J/∂w + weight_decay · w`` (L2 in the gradient, like ``torch.optim.Adam``'s
    ``weight_decay``; not AdamW's decoupled decay). With ``clip_grad_norm``, the gradients are
    first scaled together to that joint norm at most (see :class:`Optimizer`):
    ``Adam(params, lr=0.003, clip_grad_norm=0.5)`` clips inside ``nn.fit`` too.

    The same as ``torch.optim.Adam`` with the same defaults (PyTorch writes the step as
    ``lr / (1 − β₁ᵗ) · v / (√s / √(1 − β₂ᵗ) + ε)``, which is this rule); ``amsgrad`` is not offered.

    >>> w = Tensor(0.0, requires_grad=True)
    >>> opt = Adam([w], lr=0.1)
    >>> opt.minimize(lambda: w**2 - 10*w + 25)      # v̂ = -10, ŝ = 100: a step of lr
    25.0
    >>> round(w.item(), 6)
    0.1
    """

    def __init__(
        self,
        params: ParamsLike,
        lr: float = 0.001,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        clip_grad_norm: float | None = None,
    ) -> None:
        super().__init__(
            params, lr, weight_decay=weight_decay, clip_grad_norm=clip_grad_norm, beta1=beta1, beta2=beta2, eps=eps
        )

    nonnegative_state = ("s",)

    def init_state(self, p: Tensor) -> dict[str, Any]:
        return {"step": 0, "v": np.zeros_like(p.data), "s": np.zeros_like(p.data)}

    def update(self, p: Tensor, g: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        beta1, beta2 = group["beta1"], group["beta2"]
        t = state["step"] = state["step"] + 1
        v, s = state["v"], state["s"]
        v *= beta1
        v += (1.0 - beta1) * g
        s *= beta2
        s += (1.0 - beta2) * np.square(g)
        denom = np.sqrt(s / (1.0 - beta2**t))  # √ŝ
        denom += group["eps"]
        step = v / (1.0 - beta1**t)  # v̂
        step *= group["lr"]
        step /= denom
        p.data -= step

    py_update = (
        "{step} = {step} + 1", "{v} *= {beta1}", "{v} += (1.0 - {beta1}) * {g}", "{s} *= {beta2}",
        "{s} += (1.0 - {beta2}) * np.square({g})", "{t0} = np.sqrt({s} / (1.0 - {beta2} ** {step}))",
        "{t0} += {eps}", "{t1} = {v} / (1.0 - {beta1} ** {step})", "{t1} *= {lr}", "{t1} /= {t0}", "{p} -= {t1}",
    )  # fmt: skip
