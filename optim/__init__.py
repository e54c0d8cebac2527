"""Optimizers (gradient descent, momentum, RMSprop, Adam, with the deep-learning course's update
rules), learning-rate schedules and checkpoints.

Swapping the optimizer is one line::

    opt = optim.GradientDescent(params, lr=0.1)
    opt = optim.Momentum(params, lr=0.1, beta=0.9)
    opt = optim.RMSprop(params, lr=0.01, beta=0.999)
    opt = optim.Adam(params, lr=0.001)
    opt = optim.AdamW(params, lr=0.001, weight_decay=0.01)
"""

import importlib
from typing import Any

from autograd_core import _callers

from .adam import Adam
from .adamw import AdamW
from .checkpoint import load, save
from .clip import clip_grad_norm, clip_grad_value
from .momentum import Momentum
from .optimizer import SGD, GradientDescent, Optimizer
from .rmsprop import RMSprop
from .schedules import (
    ExponentialDecay,
    InverseSqrtDecay,
    InverseTimeDecay,
    LambdaDecay,
    Schedule,
    StaircaseDecay,
)

_callers.register_library(__file__)  # our frames are the library's, not the user's (see _callers.py)

__all__ = [
    "Optimizer",
    "GradientDescent",
    "SGD",
    "Momentum",
    "RMSprop",
    "Adam",
    "AdamW",
    "clip_grad_norm",
    "clip_grad_value",
    "Schedule",
    "InverseTimeDecay",
    "ExponentialDecay",
    "InverseSqrtDecay",
    "StaircaseDecay",
    "LambdaDecay",
    "save",
    "load",
]


def __getattr__(name: str) -> Any:
    if name == "search":  # imported on first use: `optim.search` works after a plain `import optim`
        return importlib.import_module(f"{__name__}.search")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
