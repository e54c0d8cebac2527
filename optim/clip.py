"""Gradient clipping, as ``torch.nn.utils`` does it: call between ``backward()`` and ``step()``.

>>> w = Tensor([3.0, 4.0], requires_grad=True)
>>> (w * w).sum().backward()                      # w.grad = [6, 8], of norm 10
>>> clip_grad_norm([w], max_norm=1.0)             # the norm before clipping
10.0
>>> np.round(w.grad, 6)
array([0.6, 0.8])
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from autograd_core import Tensor, tracing
from autograd_core._checks import check_bool, check_real

__all__ = ["clip_grad_norm", "clip_grad_value"]


def _grads(params: Tensor | Iterable[Tensor], where: str) -> list[np.ndarray]:
    """The ``.grad`` arrays of ``params`` (a Tensor or an iterable of them) that have one."""
    if isinstance(params, Tensor):
        params = [params]
    grads = []
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"{where}: params[{i}] is a {type(p).__name__}, not a Tensor (pass model.parameters())")
        if p.grad is not None:
            grads.append(p.grad)
    return grads


def clip_grad_norm(
    params: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> float:
    """Scale the gradients of ``params`` together so that their joint norm is at most ``max_norm``.

    The norm is that of all the gradients as one vector: ``(Σ |g|ᵖ)^(1/p)`` for ``norm_type=p``
    (``inf``: the largest ``|g|``). Every ``.grad`` is multiplied in place by
    ``min(1, max_norm / (norm + 1e-6))``, as ``torch.nn.utils.clip_grad_norm_`` does; parameters
    without a gradient are skipped. Returns the norm *before* clipping, as a float. A NaN or
    infinite norm means a gradient is: as in PyTorch the gradients are then scaled by NaN or 0
    (``error_if_nonfinite=True`` raises instead, before anything changes).

    Parameters
    ----------
    params : a Tensor or an iterable of Tensors (``model.parameters()``)
    max_norm : the largest norm allowed, ``> 0``
    norm_type : ``p > 0`` of the p-norm, or ``inf`` (``math.inf`` or ``"inf"``)
    error_if_nonfinite : raise a RuntimeError when the norm is NaN or infinite
    """
    where = "clip_grad_norm"
    max_norm = check_real(max_norm, "max_norm", where, low=0)
    if norm_type == "inf":  # PyTorch's spelling too
        norm_type = math.inf
    norm_type = check_real(norm_type, "norm_type", where, low=0, low_open=True, finite=False)
    error_if_nonfinite = check_bool(error_if_nonfinite, "error_if_nonfinite", where)
    params = [params] if isinstance(params, Tensor) else list(params)
    if tracing.active:  # inside ag.compile: a change of the gradients the program makes at every call
        return tracing.effect(_clip_norm, params, max_norm, norm_type, error_if_nonfinite)
    return _clip_norm(params, max_norm, norm_type, error_if_nonfinite)


def _clip_norm(params: list[Tensor], max_norm: float, norm_type: float, error_if_nonfinite: bool) -> float:
    where = "clip_grad_norm"
    grads = _grads(params, where)
    if not grads:
        return 0.0
    if norm_type == math.inf:
        total = max(float(np.max(np.abs(g))) if g.size else 0.0 for g in grads)
    else:
        total = float(np.linalg.norm([np.linalg.norm(g.reshape(-1), ord=norm_type) for g in grads], ord=norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"{where}: the total norm of the gradients is {total}; a gradient holds NaN or infinity, so clipping "
            "cannot fix it (error_if_nonfinite=False clips anyway and returns the norm)"
        )
    scale = max_norm / (total + 1e-6)
    if not scale >= 1:  # min(1, scale), NaN included: a NaN norm makes every gradient NaN, as in PyTorch
        for g in grads:
            g *= scale
    return total


def clip_grad_value(params: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clip every gradient element of ``params`` to ``[-clip_value, clip_value]``, in place
    (``torch.nn.utils.clip_grad_value_``); parameters without a gradient are skipped.

    >>> w = Tensor([1.0, -3.0], requires_grad=True)
    >>> (w ** 3).sum().backward()                     # w.grad = [3, 27]
    >>> clip_grad_value([w], 5.0)
    >>> w.grad
    array([3., 5.])
    """
    clip_value = check_real(clip_value, "clip_value", "clip_grad_value", low=0)
    params = [params] if isinstance(params, Tensor) else list(params)
    if tracing.active:  # inside ag.compile: a change of the gradients the program makes at every call
        tracing.effect(_clip_value, params, clip_value)
    else:
        _clip_value(params, clip_value)


def _clip_value(params: list[Tensor], clip_value: float) -> None:
    for g in _grads(params, "clip_grad_value"):
        np.clip(g, -clip_value, clip_value, out=g)
