"""Compare autodiff gradients with central finite differences in float64.

``gradcheck`` checks first derivatives, ``gradgradcheck`` second derivatives (through
``create_graph=True``). Both need only NumPy, so users can run them on their own ops.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..engine import gradients
from ..grad_mode import enable_grad
from ..tensor import Tensor

__all__ = ["gradcheck", "gradgradcheck", "numerical_gradient"]


class _Inputs:
    """The checked inputs as float64 arrays, and the constants passed through unchanged.

    Numbers, arrays and Tensors that require grad are checked (copied to float64);
    Tensors with ``requires_grad=False`` are constants, as in PyTorch's gradcheck.
    """

    def __init__(self, inputs: tuple[Any, ...], where: str) -> None:
        self.args: list[Any] = list(inputs)
        self.checked: list[int] = []
        self.names: dict[int, str] = {}
        for i, x in enumerate(inputs):
            if isinstance(x, Tensor):
                if not x.requires_grad:
                    continue  # a constant: passed as it is
                data = x.data
                if x.name is not None:
                    self.names[i] = x.name
            else:
                data = np.asarray(x)
            if data.dtype.kind not in "biuf":
                raise TypeError(f"{where}: input {i} is not numeric (dtype {data.dtype})")
            # Our own C-ordered copy, perturbed in place through a flat view (a transposed,
            # Fortran-ordered copy would make reshape(-1) a copy and every difference 0).
            self.args[i] = np.array(data, dtype=np.float64, order="C")
            self.checked.append(i)
        if not self.checked:
            raise ValueError(
                f"{where}: nothing to check: every input is a Tensor with requires_grad=False, which "
                "gradcheck treats as a constant. Pass arrays, numbers or tensors that require grad"
            )

    def describe(self, i: int) -> str:
        name = self.names.get(i)
        return f"input {i}" + ("" if name is None else f" ({name!r})")

    def tensors(self) -> list[Any]:
        """The arguments for ``f``: fresh tracked Tensors for the checked inputs."""
        xs = list(self.args)
        for i in self.checked:
            xs[i] = Tensor(self.args[i], requires_grad=True)
        return xs


def _output(f: Callable[..., Any], xs: list[Any], where: str) -> Tensor:
    with enable_grad():  # gradcheck inside no_grad must still record f
        out = f(*xs)
    if not isinstance(out, Tensor):
        raise TypeError(
            f"{where}: f must return a Tensor computed from its inputs, got {type(out).__name__} "
            "(did it convert a Tensor to NumPy on the way?)"
        )
    return out


def _upstream(out: Tensor, seed: int) -> np.ndarray | None:
    """None for a single-element output; else a fixed random upstream gradient (a random projection)."""
    if out.data.size == 1:
        return None
    return np.random.default_rng(seed + 1).standard_normal(out.shape)


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
    """Check the gradient of ``f`` at ``inputs`` against central finite differences in float64.

    Every input that is a number, an array or a Tensor requiring grad is copied to float64
    and checked; a Tensor with ``requires_grad=False`` is a constant (passed as it is, not
    checked). For an input of at most ``max_elements`` elements each partial derivative
    is compared with ``(f(x + eps·eₖ) − f(x − eps·eₖ)) / 2eps``; a larger input is checked
    along ``directions`` random unit directions instead (a 1000×1000 input takes 16
    evaluations, not two million). It passes when ``|analytic − numerical| ≤ atol +
    rtol·|numerical|`` everywhere, and returns True; otherwise it raises AssertionError
    naming the input, the worst element's index, both values and the error.

    ``f`` should return a single-element Tensor; for any other shape, the check is of
    ``sum(f(x) * G)`` with a fixed random ``G`` (seeded by ``seed``), which tests the whole
    Jacobian, not just its column sums. The check also fails if ``f`` modifies an input in place.

    >>> import numpy as np
    >>> gradcheck(lambda x: (x.sin() * x).sum(), np.array([0.5, 1.0, 2.0]))
    True
    """
    where = "gradcheck"
    ins = _Inputs(inputs, where)
    xs = ins.tensors()
    out = _output(f, xs, where)
    upstream = _upstream(out, seed)
    for i in ins.checked:
        if not np.array_equal(xs[i].data, ins.args[i], equal_nan=True):
            raise AssertionError(f"{where}: f modified {ins.describe(i)} in place; it must not change its inputs")
    if out.requires_grad:
        tracked = [xs[i] for i in ins.checked]
        analytic = [g.data for g in gradients(out, tracked, grad=upstream)]
    else:  # f does not depend on its inputs (or hid them from the graph): the gradient is 0
        analytic = [np.zeros_like(ins.args[i]) for i in ins.checked]

    def value() -> float:
        y = _output(f, ins.tensors(), where).data
        return float(np.sum(y * upstream)) if upstream is not None else float(y.reshape(()))

    rng = np.random.default_rng(seed)
    for i, ga in zip(ins.checked, analytic):
        x = ins.args[i]
        if ga.shape != x.shape:
            raise AssertionError(f"{where}: the gradient of {ins.describe(i)} has shape {ga.shape}, expected {x.shape}")
        if x.size <= max_elements:
            _compare(where, ins.describe(i), ga, numerical_gradient(value, x, eps), atol, rtol)
            continue
        for d in range(directions):
            v = rng.standard_normal(x.shape)
            v /= np.linalg.norm(v)
            numeric = _derivative_along(x, v, value, eps)
            along = float(np.sum(ga * v))
            err, allowed = abs(along - numeric), atol + rtol * abs(numeric)
            if not err <= allowed:
                raise AssertionError(
                    f"{where}: {ins.describe(i)} (shape {x.shape}), random direction {d}: directional derivative "
                    f"analytic {along!r} vs numerical {numeric!r} (error {err:.3g}, allowed {allowed:.3g})"
                )
    return True


def numerical_gradient(value: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences ``(value() at x + eps·eₖ − value() at x − eps·eₖ) / 2eps`` for every
    element ``k`` of the array ``x``, which ``value`` reads: ``x`` is perturbed in place and
    restored. For checking hand-written NumPy derivatives too.

    >>> w = np.array([1.0, 2.0])
    >>> np.round(numerical_gradient(lambda: float(np.sum(w**3)), w), 6)
    array([ 3., 12.])
    """
    numeric = np.empty(x.shape)
    for k in np.ndindex(x.shape):
        orig = x[k]
        x[k] = orig + eps
        hi = value()
        x[k] = orig - eps
        lo = value()
        x[k] = orig
        numeric[k] = (hi - lo) / (2 * eps)
    return numeric


def _derivative_along(x: np.ndarray, v: np.ndarray, value: Callable[[], float], eps: float) -> float:
    orig = x.copy()
    x += eps * v
    hi = value()
    x[...] = orig - eps * v
    lo = value()
    x[...] = orig
    return (hi - lo) / (2 * eps)


def _compare(where: str, what: str, analytic: np.ndarray, numeric: np.ndarray, atol: float, rtol: float) -> None:
    err = np.abs(analytic - numeric)
    allowed = atol + rtol * np.abs(numeric)
    bad = ~(err <= allowed)  # NaN counts as a failure
    if not bad.any():
        return
    excess = np.where(bad, np.nan_to_num(err - allowed, nan=np.inf), -np.inf)
    k = np.unravel_index(int(np.argmax(excess)), analytic.shape)
    element = f"element {tuple(int(j) for j in k)}" if analytic.ndim else "its only element"
    raise AssertionError(
        f"{where}: {what} (shape {analytic.shape}), {element}: analytic gradient {float(analytic[k])!r} "
        f"vs numerical {float(numeric[k])!r} (error {float(err[k]):.3g}, allowed {float(allowed[k]):.3g}); "
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
    """Check the second derivatives of ``f`` at ``inputs``.

    The gradient of ``Σᵢ ⟨∇ᵢ f(x), vᵢ⟩`` (a Hessian-vector product, with fixed random
    ``vᵢ``), computed with ``create_graph=True``, is compared with finite differences of
    first-order gradients by :func:`gradcheck`; inputs, output shapes and the error
    message follow ``gradcheck``. Extra keywords (``max_elements``, ``directions``) go to it.

    >>> import numpy as np
    >>> gradgradcheck(lambda x: (x ** 3).sum(), np.array([1.0, -2.0]))
    True
    """
    where = "gradgradcheck"
    ins = _Inputs(inputs, where)
    rng = np.random.default_rng(seed)
    vs = {i: rng.standard_normal(np.shape(ins.args[i])) for i in ins.checked}

    def grad_dot_v(*xs: Any) -> Tensor:
        out = _output(f, list(xs), where)
        if not out.requires_grad:
            return Tensor(0.0)
        tracked = [xs[i] for i in ins.checked]
        total: Tensor | None = None
        for i, g in zip(ins.checked, gradients(out, tracked, grad=_upstream(out, seed), create_graph=True)):
            term = (g * vs[i]).sum()
            total = term if total is None else total + term
        assert total is not None
        return total

    try:
        return gradcheck(grad_dot_v, *ins.args, eps=eps, atol=atol, rtol=rtol, seed=seed, **kwargs)
    except AssertionError as err:
        raise AssertionError(
            f"gradgradcheck: second derivatives disagree (checked as the gradient of Σ⟨∇f, v⟩ with fixed random v): "
            f"{str(err).removeprefix('gradcheck: ')}"
        ) from None
