"""What several test files share: loading an example script, checking a whole layer's gradients."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

import nn
from autograd_core.testing import gradcheck, gradgradcheck


def check_layer(layer: nn.Module, x: Any, v: np.ndarray, order: int = 1) -> bool:
    """gradcheck (order 1) or gradgradcheck (order 2) of ``sum(layer(x) * v)`` with respect to
    the input and every parameter of ``layer``: the parameters are swapped for the checker's
    tensors during the check. ``v`` is a fixed random upstream gradient."""
    names = [n for n, _ in layer.named_parameters()]
    originals = [getattr(layer, n) for n in names]

    def f(x, *params):
        for n, p in zip(names, params):
            setattr(layer, n, p)
        return (layer(x) * v).sum()

    try:
        return (gradcheck if order == 1 else gradgradcheck)(f, x, *[p.data for p in originals])
    finally:
        for n, p in zip(names, originals):
            setattr(layer, n, p)


def upstream(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """A fixed random upstream gradient of ``shape``."""
    return np.random.default_rng(seed).normal(size=shape)


def load_example(name: str) -> ModuleType:
    """The script ``examples/<name>.py`` as a module, without running its ``__main__`` part."""
    path = Path(__file__).resolve().parent.parent / "examples" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"{name}_example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def examples(share: float, **kwargs: Any) -> Any:
    """Hypothesis settings with ``share`` of the current profile's example count (at least 2),
    for a test that needs fewer or more examples than the others, for a reason its caller
    states; other settings (``kwargs``) as given, the rest from the profile (``conftest.py``)."""
    from hypothesis import settings

    return settings(max_examples=max(2, round(settings.default.max_examples * share)), **kwargs)
