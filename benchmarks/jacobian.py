"""JAC: Jacobians in forward and in reverse mode, for a tall and a wide function.

``jacobian(f, mode="fwd")`` costs one forward-mode pass per *input* element, ``mode="rev"`` one
backward pass per *output* element, so the right mode depends on the shape:

- ``JAC-tall``: ``f(x) = tanh(A x)`` from 10 inputs to 1,000 outputs (forward mode's case);
- ``JAC-wide``: ``f(x) = tanh(B x)`` from 1,000 inputs to 10 outputs (reverse mode's case).

Each is timed both ways against the closed form ``J = diag(1 − tanh²(A x)) A``, computed by
hand in NumPy (for information: there is no target; the point is the ratio between the modes).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

import autograd_core as ag
from autograd_core import Tensor

from .workloads import Case, Result, Sizes


def jac(s: Sizes) -> list[Case]:
    """Jacobians of tanh(A x), 10 → 1,000 and 1,000 → 10, forward and reverse mode."""
    rng = np.random.default_rng(8)
    cases = []
    for shape, (n_out, n_in) in (("tall", (s.jac_large, s.jac_small)), ("wide", (s.jac_small, s.jac_large))):
        a = rng.standard_normal((n_out, n_in)) / math.sqrt(n_in)
        x_np = rng.standard_normal(n_in)

        def f(x: Tensor, a: np.ndarray = a) -> Tensor:
            return (a @ x).tanh()

        def closed_form(a: np.ndarray = a, x_np: np.ndarray = x_np) -> Result:
            t = np.tanh(a @ x_np)
            return {"J": (1 - t * t)[:, None] * a}

        for mode in ("fwd", "rev"):
            jacobian = ag.jacobian(f, mode=mode)

            def framework(jacobian: Callable[..., Tensor] = jacobian, x_np: np.ndarray = x_np) -> Result:
                return {"J": jacobian(Tensor(x_np)).data}

            passes = n_in if mode == "fwd" else n_out
            cases.append(
                Case(
                    key=f"JAC-{shape}-{mode}",
                    title=f"jacobian of tanh(A x), {n_in:,} → {n_out:,}, mode={mode!r} ({passes:,} passes)",
                    unit="Jacobian",
                    target=math.nan,
                    framework=framework,
                    numpy=closed_form,
                    tol=1e-12,
                    floor="closed form",
                )
            )
    return cases
