"""Gradient checks for your own functions and ops, and Hypothesis strategies.

``gradcheck`` and ``gradgradcheck`` need only NumPy. ``strategies`` needs the
optional Hypothesis package (``pip install hypothesis``) and is imported on first use,
so ``import autograd_core`` never needs it.

>>> import numpy as np
>>> from autograd_core.testing import gradcheck
>>> gradcheck(lambda x: (x.exp() * x).sum(), np.array([0.0, 1.0]))
True
"""

from __future__ import annotations

import importlib
from typing import Any

from .gradcheck import gradcheck, gradgradcheck, numerical_gradient

__all__ = ["gradcheck", "gradgradcheck", "numerical_gradient", "strategies"]


def __getattr__(name: str) -> Any:
    if name == "strategies":  # imported on first use: it needs Hypothesis
        return importlib.import_module(f"{__name__}.strategies")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
