"""Metrics for ``nn.fit`` and ``nn.evaluate``: ``nn.accuracy``, ``nn.binary_accuracy``, and metrics by name.

A metric is any function ``fn(outputs, targets) -> float`` on NumPy arrays.

>>> nn.accuracy(np.array([[2.0, 0.1], [0.3, 0.9], [1.0, 0.0]]), np.array([0, 1, 1]))
0.6666666666666666
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from autograd_core import Tensor, tracing

from .data import as_array

__all__ = ["accuracy", "binary_accuracy", "Metric", "metric_fns", "metric_value", "scalar"]

Metric = Callable[[np.ndarray, np.ndarray], float]


def _class_targets(targets: Any, n: int, where: str) -> np.ndarray:
    t = as_array(targets, f"{where}: targets")
    if len(t) != n:
        raise ValueError(f"{where}: {n} outputs but {len(t)} targets")
    return t.argmax(axis=-1) if t.ndim == 2 else t


def accuracy(logits_or_probs: Any, targets: Any) -> float:
    """The fraction of rows whose largest score is at the target class.

    ``logits_or_probs`` has shape ``(examples, classes)`` (logits or probabilities: the
    arg max is the same); ``targets`` are class indices ``(examples,)`` or one-hot /
    probability rows ``(examples, classes)``. For one output per example (a binary
    classifier) use :func:`binary_accuracy`.

    >>> nn.accuracy(np.array([[2.0, 0.1], [0.3, 0.9], [1.0, 0.0]]), np.array([0, 1, 1]))
    0.6666666666666666
    """
    if tracing.active:  # inside ag.compile: computed from the values, so made again at every call
        return tracing.effect(_accuracy, logits_or_probs, targets)
    return _accuracy(logits_or_probs, targets)


def _accuracy(logits_or_probs: Any, targets: Any) -> float:
    z = as_array(logits_or_probs, "accuracy: logits_or_probs")
    if z.ndim != 2 or z.shape[1] < 2:
        raise ValueError(
            f"accuracy: expected scores of shape (examples, classes), got {z.shape}; for one output per "
            "example (a binary classifier) use nn.binary_accuracy(logits, targets)"
        )
    if len(z) == 0:
        raise ValueError("accuracy: no examples")
    return float(np.mean(z.argmax(axis=-1) == _class_targets(targets, len(z), "accuracy")))


def binary_accuracy(outputs: Any, targets: Any, threshold: float = 0.0) -> float:
    """The fraction of examples with ``(outputs > threshold) == targets`` (targets 0/1).

    ``threshold=0`` reads logits (as ``nn.binary_cross_entropy`` takes them); use 0.5
    for probabilities.

    >>> nn.binary_accuracy(np.array([2.0, -1.0, 0.5]), np.array([1, 0, 0]))
    0.6666666666666666
    """
    if tracing.active:  # inside ag.compile: computed from the values, so made again at every call
        return tracing.effect(_binary_accuracy, outputs, targets, threshold)
    return _binary_accuracy(outputs, targets, threshold)


def _binary_accuracy(outputs: Any, targets: Any, threshold: float) -> float:
    z = as_array(outputs, "binary_accuracy: outputs")
    t = as_array(targets, "binary_accuracy: targets")
    if z.shape != t.shape or len(z) == 0:
        raise ValueError(
            f"binary_accuracy: outputs {z.shape} and targets {t.shape} must have the same, non-empty shape"
        )
    return float(np.mean((z > threshold) == (t > 0.5)))


_NAMED: dict[str, Metric] = {"accuracy": accuracy, "acc": accuracy, "binary_accuracy": binary_accuracy}


def metric_fns(metrics: Any) -> dict[str, Metric]:
    """``{name: fn}`` from a dict, or a list of names (``"accuracy"``) and functions (named by ``__name__``)."""
    if metrics is None:
        return {}
    if isinstance(metrics, (str, Mapping)) or callable(metrics):
        metrics = metrics if isinstance(metrics, Mapping) else [metrics]
    items = metrics.items() if isinstance(metrics, Mapping) else [(None, m) for m in metrics]
    out = {}
    for name, fn in items:
        if isinstance(fn, str):
            if fn not in _NAMED:
                raise ValueError(f"nn.fit: unknown metric {fn!r}; known by name: {sorted(_NAMED)}, or pass a function")
            name, fn = name or fn, _NAMED[fn]
        if not callable(fn):
            raise TypeError(f"nn.fit: metric {name!r} must be a function fn(outputs, targets) -> float, got {fn!r}")
        name = name or getattr(fn, "__name__", "metric")
        if name == "loss" or name.startswith("val_"):
            raise ValueError(f"nn.fit: {name!r} cannot name a metric (loss and val_* are fit's own)")
        out[name] = fn
    return out


def scalar(value: Any, what: str) -> float:
    """``value`` (a one-element Tensor, array or number) as a float; anything bigger is an error naming ``what``."""
    arr = value.data if isinstance(value, Tensor) else np.asarray(value)
    if arr.size != 1:
        raise ValueError(f"{what} must be a single number, got shape {arr.shape}")
    return float(arr.reshape(()))


def metric_value(name: str, fn: Metric, outputs: np.ndarray, targets: np.ndarray, where: str) -> float:
    """``fn(outputs, targets)`` as a float; a result that is not one number is an error naming the metric."""
    value = fn(outputs, targets)
    if isinstance(value, float):  # the usual case first: a Python or NumPy float
        return float(value)
    arr = value.data if isinstance(value, Tensor) else np.asarray(value)
    if arr.size != 1 or arr.dtype.kind not in "biuf":
        got = f"an array of shape {arr.shape}" if arr.size != 1 else repr(value)
        raise ValueError(
            f"{where}: metric {name!r} returned {got}; a metric returns one number (for per-example values, "
            "return their mean: np.mean(...))"
        )
    return float(arr.reshape(()))
