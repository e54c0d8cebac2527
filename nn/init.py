"""Weight initialisation and the seeded generator every layer draws from.

Initialisers take the weight's shape ``(fan_in, fan_out)`` and a NumPy
``Generator`` and return an array of that shape::

    W = he((64, 32), np.random.default_rng(0))      # N(0, 2 / 64)

Layers take ``rng=`` (a ``Generator`` or an int seed); without it they draw from the
module-wide generator, which :func:`seed` resets, so ``nn.seed(0)`` before building
a model makes its initialisation (and its dropout masks) reproducible.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from autograd_core import Tensor

__all__ = ["seed", "default_rng", "as_rng", "he", "xavier", "zeros", "resolve"]

_rng = np.random.default_rng()


def seed(value: int) -> None:
    """Reset the generator that layers use when no ``rng=`` is given.

    >>> seed(0)
    >>> a = he((3, 2), default_rng())
    >>> seed(0)
    >>> bool((he((3, 2), default_rng()) == a).all())
    True
    """
    global _rng
    _rng = np.random.default_rng(value)


def default_rng() -> np.random.Generator:
    """The module-wide generator (see :func:`seed`)."""
    return _rng


def as_rng(rng: np.random.Generator | int | None, where: str = "nn") -> np.random.Generator:
    """``None`` → the module-wide generator; an int → a new generator seeded with it."""
    if rng is None:
        return _rng
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(f"{where}: rng must be a numpy.random.Generator, an int seed or None, got {type(rng).__name__}")


def he(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """He initialisation for ReLU layers: ``W ~ N(0, 2 / fan_in)`` with ``fan_in = shape[0]``."""
    return rng.standard_normal(shape) * np.sqrt(2.0 / shape[0])


def xavier(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Xavier (Glorot) initialisation for tanh/sigmoid layers: ``W ~ N(0, 2 / (fan_in + fan_out))``."""
    return rng.standard_normal(shape) * np.sqrt(2.0 / (shape[0] + shape[-1]))


def zeros(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """All zeros (for biases, or to test a layer by hand)."""
    return np.zeros(shape)


_BY_NAME: dict[str, Callable[[tuple[int, ...], np.random.Generator], Any]] = {
    "he": he,
    "xavier": xavier,
    "glorot": xavier,
    "zeros": zeros,
}


def resolve(init: str | Callable[..., Any], where: str) -> Callable[[tuple[int, ...], np.random.Generator], Any]:
    """The initialiser named by ``init`` (or ``init`` itself when it is callable)."""
    if callable(init):
        return init
    fn = _BY_NAME.get(init) if isinstance(init, str) else None
    if fn is None:
        raise ValueError(
            f"{where}: unknown init {init!r}; use 'he' (ReLU), 'xavier' (tanh/sigmoid) or a callable "
            "init(shape, rng) returning an array of that shape"
        )
    return fn


def weights(init: str | Callable[..., Any], shape: tuple[int, int], rng: Any, where: str, what: str = "") -> np.ndarray:
    """A ``(fan_in, fan_out)`` weight drawn by ``init`` (a name or a callable ``init(shape, rng)``),
    checked for its shape; ``what`` says what the shape means, for the error."""
    w = resolve(init, where)(shape, as_rng(rng, where))
    w = w.data if isinstance(w, Tensor) else np.asarray(w)
    if w.shape != shape:
        raise ValueError(f"{where}: the init callable returned shape {w.shape}; it must return {shape}{what}")
    return w
