"""Function transforms: ``grad`` and ``value_and_grad`` (JAX's interface)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from . import forward as _forward
from ._checks import check_int
from .engine import gradients, leaves
from .grad_mode import enable_grad, grad_enabled
from .ops.elementwise import Clone
from .tensor import Tensor


def _argnums(argnums: Any, where: str) -> tuple[int, ...]:
    expected = "an int or a non-empty tuple of ints"
    many = argnums if isinstance(argnums, (tuple, list)) else (argnums,)
    if not many:
        raise TypeError(f"{where}: argnums must be {expected}, got {argnums!r}")
    return tuple(check_int(i, "argnums", where, expected=expected) for i in many)


def fresh_leaf(a: Any) -> Tensor:
    """A new leaf that requires grad, holding ``a``'s value: what a transform differentiates with
    respect to. For a Tensor, a recorded copy (``clone``), so that it keeps ``a``'s forward-mode
    tangents (marked as the open levels' own: ``forward.inner``) and a trace (``ag.compile``) sees
    where it came from; ``a`` itself must not require grad."""
    if isinstance(a, Tensor):
        leaf = Clone.apply(a)
        leaf.requires_grad = True
        return _forward.inner(leaf) if _forward.active else leaf
    return Tensor(a, requires_grad=True)


def value_and_grad(f: Callable[..., Any], argnums: int | tuple[int, ...] = 0) -> Callable[..., tuple[Tensor, Any]]:
    """Return a function computing ``(f(*args), gradient)`` of scalar-valued ``f``.

    The gradient is taken with respect to the argument(s) named by ``argnums`` (a
    Tensor, or a tuple of Tensors when ``argnums`` is a tuple). Arguments may be
    numbers, arrays or Tensors. The gradients are themselves differentiable, so
    transforms nest.

    >>> value_and_grad(lambda x: (x ** 2).sum())(Tensor([1.0, 2.0]))
    (Tensor(5.), Tensor([2., 4.]))
    """
    nums = _argnums(argnums, "value_and_grad")
    single = not isinstance(argnums, (tuple, list))

    @functools.wraps(f)
    def wrapped(*args: Any, **kwargs: Any) -> tuple[Tensor, Any]:
        given = list(args)
        for i in nums:
            if not -len(given) <= i < len(given):
                raise IndexError(
                    f"grad: argnums={argnums!r} names argument {i}, but the function was called with "
                    f"{len(given)} positional argument(s)"
                )
        xs = []
        for i in nums:
            a = given[i]
            if not (isinstance(a, Tensor) and a.requires_grad):
                a = fresh_leaf(a)
                given[i] = a
            xs.append(a)
        fresh = {id(x) for x, a in zip(xs, (args[i] for i in nums)) if x is not a}
        with enable_grad():
            out = f(*given, **kwargs)
        if not isinstance(out, Tensor):
            raise TypeError(
                f"grad: the function must return a Tensor computed from its inputs, got "
                f"{type(out).__name__} (did it convert a Tensor to NumPy on the way?)"
            )
        if out.data.size != 1:
            raise ValueError(
                f"grad: the function must return a scalar (single-element) Tensor, got shape {out.shape}; "
                "reduce it (e.g. .sum()) or use ag.gradients with grad= for vector-Jacobian products"
            )
        if not out.requires_grad:  # f does not depend on the inputs: the gradient is zero
            grads = tuple(Tensor._make(x.data * 0, None) for x in xs)
        else:
            # Record the backward pass only if something outside may differentiate it
            # again: an input the caller is tracking (known without a walk: nested grads),
            # or a tracked tensor f closes over.
            create_graph = grad_enabled.get() and (
                len(fresh) < len(xs) or any(id(leaf) not in fresh for leaf in leaves(out))
            )
            grads = gradients(out, xs, create_graph=create_graph)
            if not create_graph:
                out = _forward.detach(out)  # (keeping its tangents, when forward mode is open)
        return out, grads[0] if single else grads

    return wrapped


def grad(f: Callable[..., Any], argnums: int | tuple[int, ...] = 0) -> Callable[..., Any]:
    """Return a function computing the gradient of scalar-valued ``f``.

    >>> d = grad(lambda x: x ** 3)
    >>> d(2.0), grad(d)(2.0)          # 3x² and 6x
    (Tensor(12.), Tensor(12.))
    """
    vg = value_and_grad(f, argnums)

    @functools.wraps(f)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        return vg(*args, **kwargs)[1]

    return wrapped
