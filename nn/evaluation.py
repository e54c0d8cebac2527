"""Using a trained model: ``nn.predict`` (outputs as a NumPy array) and ``nn.evaluate`` (loss and metrics).

Both run in eval mode under ``no_grad`` and restore every module's mode afterwards; NumPy's BLAS
runs with ``nn.fit``'s thread count (one, or the count set by ``ag.set_num_threads``).

>>> nn.predict(nn.Dense(3, 2, rng=0), np.ones((5, 3))).shape
(5, 2)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from autograd_core import Tensor, no_grad
from autograd_core._checks import check_int
from autograd_core.threads import blas_threads

from .data import as_array, examples, iterate, slices
from .metrics import metric_fns, metric_value, scalar
from .module import Module
from .names import resolve_loss

__all__ = ["predict", "evaluate"]


def _data(out: Any, where: str) -> np.ndarray:
    if isinstance(out, Tensor):
        return out.data
    if isinstance(out, np.ndarray):
        return out
    raise TypeError(f"{where}: the model must return a Tensor or an array, got {type(out).__name__}")


def predict(model: Module, x: Any, batch_size: int = 256) -> np.ndarray:
    """The model's outputs for ``x`` as one NumPy array, computed in batches in eval mode under ``no_grad``.

    Every module's mode (``training``) is restored afterwards.

    >>> nn.predict(nn.Dense(3, 2, rng=0), np.ones((5, 3))).shape
    (5, 2)
    """
    x = as_array(x, "nn.predict: x")
    batch_size = check_int(batch_size, "batch_size", "nn.predict", low=1)
    with model.evaluating(), blas_threads():
        outs = [_data(model(xb), "nn.predict") for xb in iterate(x, None, slices(len(x), batch_size, False), None)]
        if not outs:  # no examples: the model still tells the output's shape
            outs = [_data(model(x), "nn.predict")]
    return np.concatenate(outs) if len(outs) > 1 else np.array(outs[0])


def evaluate(
    model: Module, x: Any, y: Any, *, loss: Callable[..., Any] | str, metrics: Any = None, batch_size: int = 256
) -> dict[str, float]:
    """``{"loss": ..., metric: ...}`` on ``(x, y)``, in eval mode under ``no_grad`` (modes restored).

    ``loss`` is a function ``loss(outputs, targets)`` or one of the names ``nn.fit`` takes
    (``"cross_entropy"``, ``"mse"``, ``"bce"``).

    The outputs of all batches are gathered first, so the loss and every metric are
    computed once on the whole set (exact for any metric, not an average of batches).

    >>> model = nn.Dense(3, 2, rng=0)
    >>> sorted(nn.evaluate(model, np.ones((4, 3)), np.array([0, 1, 1, 0]), loss=nn.softmax_cross_entropy,
    ...                    metrics={"acc": nn.accuracy}))
    ['acc', 'loss']
    """
    loss = resolve_loss(loss, "nn.evaluate")
    x, y = examples(x, y, "nn.evaluate")
    if len(x) == 0:
        raise ValueError("nn.evaluate: no examples")
    fns = metric_fns(metrics)
    with blas_threads():  # the loss too (a long dot product's last bits depend on the count)
        out = predict(model, x, batch_size)
        with no_grad():
            logs = {"loss": scalar(loss(out, y), "nn.evaluate: the loss")}
        logs.update({name: metric_value(name, fn, out, y, "nn.evaluate") for name, fn in fns.items()})
    return logs
