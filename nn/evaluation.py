"""Using a trained model: ``nn.predict`` (outputs as a NumPy array) and ``nn.evaluate`` (loss and metrics).

Both run in eval mode under ``no_grad`` and restore every module's mode afterwards; NumPy's BLAS
runs with ``nn.fit``'s thread count (the count set by ``ag.set_num_threads``; else one thread,
or NumPy's own count for large matrix products: see :func:`blas_work`). With
``compile=True`` the model's forward pass is compiled (``ag.compile``, one compiled forward per
model, kept as long as the model lives: later calls with batches of the same shapes run its
program).

>>> nn.predict(nn.Dense(3, 2, rng=0), np.ones((5, 3))).shape
(5, 2)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from autograd_core import Tensor, no_grad
from autograd_core._checks import check_bool, check_int
from autograd_core.compiler import CompiledFunction
from autograd_core.threads import blas_threads

from .data import as_array, examples, iterate, slices
from .metrics import metric_fns, metric_value, scalar
from .module import Module
from .names import resolve_loss

__all__ = ["predict", "evaluate"]


def blas_work(model: Module, batch: int) -> int:
    """The multiply-adds of the model's largest matrix product on a batch of ``batch`` examples: the
    batch times its largest weight matrix (for a convolution, its product at one output pixel, so
    the estimate errs towards one thread), from which
    ``fit``, ``predict`` and ``evaluate`` run NumPy's BLAS with more than one thread by default
    (``autograd_core.threads.LARGE``). It depends only on the model and the batch size, so a
    resumed ``fit`` computes with the same count.

    >>> from autograd_core.threads import LARGE
    >>> blas_work(nn.Dense(512, 512, rng=0), 256) >= LARGE, blas_work(nn.Dense(64, 10, rng=0), 64) >= LARGE
    (True, False)
    """
    return batch * max((p.data.size for p in model.parameters() if p.data.ndim >= 2), default=0)


def _data(out: Any, where: str) -> np.ndarray:
    if isinstance(out, Tensor):
        return out.data
    if isinstance(out, np.ndarray):
        return out
    raise TypeError(f"{where}: the model must return a Tensor or an array, got {type(out).__name__}")


def compiled_forward(model: Module) -> Any:
    """The model's forward pass compiled (``ag.compile``), one per model, kept on it (its programs
    hold its parameters: kept anywhere else, they would keep the model alive)."""
    forward = model.__dict__.get("_compiled_forward")
    if forward is None:
        # (batches reach the model as the arrays eager code gives it: bit for bit the same calls)
        forward = model.__dict__["_compiled_forward"] = CompiledFunction(model.__call__, 8, arrays_as_tensors=False)
    return forward


def predict(model: Module, x: Any, batch_size: int = 256, compile: bool = False) -> np.ndarray:  # noqa: A002
    """The model's outputs for ``x`` as one NumPy array, computed in batches in eval mode under ``no_grad``.

    Every module's mode (``training``) is restored afterwards. ``compile=True`` runs the
    model's compiled forward pass (see the module docstring): the same values, bit for bit.

    >>> nn.predict(nn.Dense(3, 2, rng=0), np.ones((5, 3))).shape
    (5, 2)
    """
    x = as_array(x, "nn.predict: x")
    batch_size = check_int(batch_size, "batch_size", "nn.predict", low=1)
    forward = compiled_forward(model) if check_bool(compile, "compile", "nn.predict") else model
    with model.evaluating(), blas_threads(work=blas_work(model, min(batch_size, len(x)))):
        outs = [_data(forward(xb), "nn.predict") for xb in iterate(x, None, slices(len(x), batch_size, False), None)]
        if not outs:  # no examples: the model still tells the output's shape
            outs = [_data(forward(x), "nn.predict")]
    return np.concatenate(outs) if len(outs) > 1 else np.array(outs[0])


def evaluate(
    model: Module,
    x: Any,
    y: Any,
    *,
    loss: Callable[..., Any] | str,
    metrics: Any = None,
    batch_size: int = 256,
    compile: bool = False,  # noqa: A002 - nn.fit's name
) -> dict[str, float]:
    """``{"loss": ..., metric: ...}`` on ``(x, y)``, in eval mode under ``no_grad`` (modes restored).

    ``loss`` is a function ``loss(outputs, targets)`` or one of the names ``nn.fit`` takes
    (``"cross_entropy"``, ``"mse"``, ``"bce"``).

    The outputs of all batches are gathered first, so the loss and every metric are
    computed once on the whole set (exact for any metric, not an average of batches).
    ``compile=True``: the model's forward pass is compiled (as :func:`predict`'s).

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
    batch_size = check_int(batch_size, "batch_size", "nn.evaluate", low=1)
    # the loss too (a long dot product's last bits depend on the count), with predict's count
    with blas_threads(work=blas_work(model, min(batch_size, len(x)))):
        out = predict(model, x, batch_size, compile=compile)
        with no_grad():
            logs = {"loss": scalar(loss(out, y), "nn.evaluate: the loss")}
        logs.update({name: metric_value(name, fn, out, y, "nn.evaluate") for name, fn in fns.items()})
    return logs
