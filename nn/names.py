"""Keras's strings for ``nn.fit`` and ``nn.evaluate``: losses and optimizers by name.

=====================================  =====================================================
``loss=``                              the function
=====================================  =====================================================
``"cross_entropy"``                    :func:`nn.softmax_cross_entropy` (from logits)
``"mse"``                              :func:`nn.mse`
``"bce"``                              :func:`nn.binary_cross_entropy` (from logits)
=====================================  =====================================================

``optimizer=`` ``"adam"``, ``"sgd"``, ``"momentum"`` or ``"rmsprop"`` builds ``optim.Adam``,
``optim.GradientDescent``, ``optim.Momentum`` or ``optim.RMSprop`` on ``model.parameters()``
with ``lr=`` or, when ``lr`` is None, the default learning rate below (Adam's own, and
Keras's for the others, which have none in ``optim``).

>>> resolve_loss("mse", "nn.fit") is nn.mse
True
>>> resolve_optimizer("sgd", nn.Dense(2, 1), None, "nn.fit").lr
0.01
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import optim

from .losses import binary_cross_entropy, mse, softmax_cross_entropy
from .module import Module

__all__ = ["LOSSES", "OPTIMIZERS", "DEFAULT_LR", "resolve_loss", "resolve_optimizer"]

LOSSES: dict[str, Callable[..., Any]] = {
    "cross_entropy": softmax_cross_entropy,
    "softmax_cross_entropy": softmax_cross_entropy,
    "mse": mse,
    "bce": binary_cross_entropy,
    "binary_cross_entropy": binary_cross_entropy,
}

OPTIMIZERS: dict[str, type[optim.Optimizer]] = {
    "adam": optim.Adam,
    "sgd": optim.GradientDescent,
    "momentum": optim.Momentum,
    "rmsprop": optim.RMSprop,
}

#: The learning rate of an optimizer given by name without ``lr=``.
DEFAULT_LR = {"adam": 0.001, "sgd": 0.01, "momentum": 0.01, "rmsprop": 0.001}


def _unknown(kind: str, name: Any, known: dict[str, Any], where: str, alternative: str) -> ValueError:
    listed = ", ".join(repr(k) for k in known)
    return ValueError(f"{where}: unknown {kind} {name!r}; the known names are {listed}, or pass {alternative}")


def resolve_loss(loss: Any, where: str) -> Callable[..., Any]:
    """``loss`` itself when it is a function, the function it names when it is a string."""
    if isinstance(loss, str):
        fn = LOSSES.get(loss)
        if fn is None:
            raise _unknown("loss", loss, LOSSES, where, "a function loss(outputs, targets)")
        return fn
    if not callable(loss):
        raise TypeError(
            f"{where}: loss must be a function loss(outputs, targets), e.g. nn.softmax_cross_entropy, or one of "
            f"the names {', '.join(repr(k) for k in LOSSES)}; got {loss!r}"
        )
    return loss


def resolve_optimizer(optimizer: Any, model: Module, lr: float | None, where: str) -> Any:
    """``optimizer`` itself, or the optimizer its name says, built on ``model.parameters()``."""
    if not isinstance(optimizer, str):
        return optimizer
    cls = OPTIMIZERS.get(optimizer)
    if cls is None:
        raise _unknown("optimizer", optimizer, OPTIMIZERS, where, "an optimizer such as optim.Adam(model.parameters())")
    return cls(model.parameters(), lr=DEFAULT_LR[optimizer] if lr is None else lr)
