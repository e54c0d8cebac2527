"""Compare autodiff gradients with central finite differences in float64."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..engine import gradients
from ..tensor import Tensor


def _as_inputs(inputs: tuple[Any, ...]) -> list[np.ndarray]:
    arrays = []
    for i, x in enumerate(inputs):
        data = x.data if isinstance(x, Tensor) else np.asarray(x)
        if data.dtype.kind not in "biuf":
            raise TypeError(f"gradcheck: input {i} is not numeric ({data.dtype})")
        arrays.append(np.array(data, dtype=np.float64))
    return arrays


def _scalar(f: Callable[..., Any], arrays: list[np.ndarray], track: bool) -> Tensor:
    xs = [Tensor(a, requires_grad=track) for a in arrays]
    out = f(*xs)
    if not isinstance(out, Tensor) or out.data.size != 1:
        shape = out.shape if isinstance(out, Tensor) else type(out).__name__
        raise ValueError(f"gradcheck: f must return a single-element Tensor, got {shape}")
    return out, xs


def _value(f: Callable[..., Any], arrays: list[np.ndarray]) -> float:
    # Inputs require grad even here, so that f may itself take gradients (gradgradcheck).
    return float(_scalar(f, arrays, True)[0].data.reshape(()))


def gradcheck(
    f: Callable[..., Any],
    *inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    max_elements: int = 1000,
    directions: int = 8,
    seed: int = 0,
) -> bool:
    """Check the gradient of scalar-valued ``f`` at ``inputs`` against finite differences.

    Every input (Tensor, array or number) is copied to float64. For inputs of at most
    ``max_elements`` elements, each partial derivative is compared with the central
    difference ``(f(x + eps·e) − f(x − eps·e)) / 2eps``; larger inputs are checked along
    ``directions`` random unit directions instead (so a 1000×1000 input does not take
    two million evaluations). Passes when ``|analytic − numeric| ≤ atol + rtol·|numeric|``
    everywhere; returns True, or raises AssertionError naming the input, the worst
    element, both values and the error.

    >>> import autograd_core as ag
    >>> gradcheck(lambda x: (x.sin() * x).sum(), np.array([0.5, 1.0, 2.0]))
    True
    """
    arrays = _as_inputs(inputs)
    out, xs = _scalar(f, arrays, True)
    if not out.requires_grad:
        analytic = [np.zeros_like(a) for a in arrays]
    else:
        analytic = [g.data for g in gradients(out, xs)]
    rng = np.random.default_rng(seed)
    for i, (x, ga) in enumerate(zip(arrays, analytic)):
        if ga.shape != x.shape:
            raise AssertionError(f"gradcheck: the gradient of input {i} has shape {ga.shape}, expected {x.shape}")
        if x.size <= max_elements:
            numeric = np.empty_like(x)
            flat = x.reshape(-1)  # a view: perturb in place, then restore
            num_flat = numeric.reshape(-1)
            for k in range(x.size):
                orig = flat[k]
                flat[k] = orig + eps
                hi = _value(f, arrays)
                flat[k] = orig - eps
                lo = _value(f, arrays)
                flat[k] = orig
                num_flat[k] = (hi - lo) / (2 * eps)
            _compare(i, ga, numeric, atol, rtol)
        else:
            for d in range(directions):
                v = rng.standard_normal(x.shape)
                v /= np.linalg.norm(v)
                orig = x.copy()
                x += eps * v
                hi = _value(f, arrays)
                x[...] = orig - eps * v
                lo = _value(f, arrays)
                x[...] = orig
                numeric = (hi - lo) / (2 * eps)
                along = float(np.sum(ga * v))
                if not abs(along - numeric) <= atol + rtol * abs(numeric):
                    raise AssertionError(
                        f"gradcheck: input {i} (shape {x.shape}), random direction {d}: directional derivative "
                        f"analytic {along!r} vs numerical {numeric!r} (error {abs(along - numeric):.3g}, "
                        f"allowed {atol + rtol * abs(numeric):.3g})"
                    )
    return True


def _compare(i: int, analytic: np.ndarray, numeric: np.ndarray, atol: float, rtol: float) -> None:
    err = np.abs(analytic - numeric)
    allowed = atol + rtol * np.abs(numeric)
    bad = ~(err <= allowed)  # NaN counts as a failure
    if bad.any():
        excess = np.where(bad, np.nan_to_num(err - allowed, nan=np.inf), -np.inf)
        k = np.unravel_index(int(np.argmax(excess)), analytic.shape)
        where = f"element {tuple(int(j) for j in k)}" if analytic.ndim else "its only element"
        raise AssertionError(
            f"gradcheck: input {i} (shape {analytic.shape}), {where}: analytic gradient {analytic[k]!r} "
            f"vs numerical {numeric[k]!r} (error {err[k]:.3g}, allowed {allowed[k]:.3g}); "
            f"{int(bad.sum())} of {bad.size} elements disagree"
        )


def gradgradcheck(
    f: Callable[..., Any],
    *inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
    **kwargs: Any,
) -> bool:
    """Check second derivatives of scalar-valued ``f``: the gradient of
    ``Σᵢ ⟨∇ᵢ f(x), vᵢ⟩`` (a Hessian-vector product, with fixed random ``vᵢ``)
    is compared with finite differences of first-order gradients.

    >>> gradgradcheck(lambda x: (x ** 3).sum(), np.array([1.0, -2.0]))
    True
    """
    arrays = _as_inputs(inputs)
    rng = np.random.default_rng(seed)
    vs = [rng.standard_normal(a.shape) for a in arrays]

    def grad_dot_v(*xs: Tensor) -> Tensor:
        out = f(*xs)
        if not isinstance(out, Tensor) or out.data.size != 1:
            raise ValueError("gradgradcheck: f must return a single-element Tensor")
        if not out.requires_grad:
            return Tensor(0.0)
        total = None
        for g, v in zip(gradients(out, xs, create_graph=True), vs):
            term = (g * v).sum()
            total = term if total is None else total + term
        return total

    return gradcheck(grad_dot_v, *arrays, eps=eps, atol=atol, rtol=rtol, seed=seed, **kwargs)
