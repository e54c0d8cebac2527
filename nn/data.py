"""Data for training: examples as arrays, mini-batches (``nn.batches``), the validation hold-out.

>>> [xb.tolist() for xb in nn.batches(np.arange(5), batch_size=2)]
[[0, 1], [2, 3], [4]]
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator
from typing import Any

import numpy as np

from autograd_core import Tensor
from autograd_core._checks import check_int

from . import init as _init

__all__ = ["batches", "as_array", "examples", "slices", "iterate", "split", "generators", "hold_out"]


def as_array(x: Any, what: str) -> np.ndarray:
    """``x`` as a NumPy array of examples (a Tensor's data, not copied); a scalar is refused."""
    arr = x.data if isinstance(x, Tensor) else np.asarray(x)
    if arr.ndim == 0:
        raise ValueError(f"{what} must hold one example per row (an array of shape (examples, ...)), got a scalar")
    return arr


def examples(x: Any, y: Any, where: str) -> tuple[np.ndarray, np.ndarray | None]:
    """``x`` and ``y`` as arrays with as many examples each (NumPy arrays are not copied)."""
    x = as_array(x, f"{where}: x")
    if y is None:
        return x, None
    y = as_array(y, f"{where}: y")
    if len(x) != len(y):
        raise ValueError(f"{where}: x has {len(x)} examples but y has {len(y)}; give one target per example")
    return x, y


def slices(n: int, batch_size: int, drop_last: bool, merge_single: bool = False) -> list[tuple[int, int]]:
    """``(start, stop)`` of each batch; with ``merge_single`` a last batch of one joins the one before."""
    bounds = [(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]
    if drop_last and bounds and bounds[-1][1] - bounds[-1][0] < batch_size:
        bounds.pop()
    if merge_single and len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
        bounds[-2:] = [(bounds[-2][0], n)]
    return bounds


def iterate(x: np.ndarray, y: np.ndarray | None, bounds: list[tuple[int, int]], order: np.ndarray | None) -> Iterator:
    """The batches ``bounds`` cut out of ``x`` (and ``y``), in ``order`` when given (copies), else views."""
    for start, stop in bounds:
        if order is None:
            xb, yb = x[start:stop], None if y is None else y[start:stop]
        else:
            idx = order[start:stop]
            xb, yb = x[idx], None if y is None else y[idx]
        yield xb if y is None else (xb, yb)


def batches(
    x: Any,
    y: Any = None,
    batch_size: int = 64,
    shuffle: bool = False,
    rng: np.random.Generator | int | None = None,
    drop_last: bool = False,
) -> Iterator[Any]:
    """Mini-batches of NumPy arrays: ``(xb, yb)`` pairs, or ``xb`` alone when ``y`` is None.

    In order, the batches are views (slices); with ``shuffle=True`` a permutation is
    drawn from ``rng`` (an int seed or a ``numpy.random.Generator``; by default ``nn``'s
    generator, which :func:`nn.seed` resets) and the batches are copies. The last batch is
    smaller when ``batch_size`` does not divide the data, unless ``drop_last=True``.

    >>> [xb.tolist() for xb in nn.batches(np.arange(5), batch_size=2)]
    [[0, 1], [2, 3], [4]]
    >>> [len(xb) for xb, yb in nn.batches(np.zeros((10, 3)), np.zeros(10), batch_size=4, shuffle=True, rng=0)]
    [4, 4, 2]
    """
    x, y = examples(x, y, "nn.batches")
    batch_size = check_int(batch_size, "batch_size", "nn.batches", low=1)
    order = _init.as_rng(rng, "nn.batches").permutation(len(x)) if shuffle else None
    return iterate(x, y, slices(len(x), batch_size, drop_last), order)


def split(n: int, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, validation)``: a random ``fraction`` held out, both in their original order."""
    n_val = int(round(n * fraction))
    if not 1 <= n_val < n:
        raise ValueError(
            f"nn.fit: validation_split={fraction} of {n} examples holds out {n_val}; it must leave at least one "
            "example on each side"
        )
    perm = rng.permutation(n)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def generators(seed: Any) -> tuple[np.random.Generator, np.random.Generator]:
    """``(split, shuffle)`` generators: two independent streams of an int seed; else one shared generator."""
    if seed is None:
        return _init.default_rng(), _init.default_rng()
    if isinstance(seed, np.random.Generator):
        return seed, seed
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        a, b = np.random.SeedSequence(check_int(seed, "seed", "nn.fit", low=0)).spawn(2)
        return np.random.default_rng(a), np.random.default_rng(b)
    raise TypeError(
        f"nn.fit: seed must be a non-negative integer, a numpy.random.Generator or None, got {type(seed).__name__}"
    )


def hold_out(
    x: np.ndarray,
    y: np.ndarray,
    validation_data: Any,
    fraction: float,
    rng: np.random.Generator,
    saved_index: np.ndarray | None = None,
    where: str = "nn.fit",
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray] | None, np.ndarray | None]:
    """The training data, the validation data and the held-out indices.

    ``saved_index`` (a resumed run's own hold-out, read from ``where``) is used instead of
    drawing a new one.
    """
    if validation_data is not None and fraction:
        raise ValueError("nn.fit: give validation_data or validation_split, not both")
    val_index = None
    if fraction:
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"nn.fit: validation_split must be in [0, 1), got {fraction!r}")
        val_index = saved_index
        if val_index is None:
            train_index, val_index = split(len(x), fraction, rng)
        elif int(val_index.max(initial=-1)) >= len(x) or len(val_index) != round(len(x) * fraction):
            raise ValueError(
                f"{where}: the checkpoint's validation split (entry 'split/val_index': {len(val_index)} examples, "
                f"numbers up to {int(val_index.max(initial=-1))}) does not fit these {len(x)} examples with "
                f"validation_split={fraction}; resume with the same data (nothing was changed)"
            )
        else:
            train_index = np.setdiff1d(np.arange(len(x)), val_index)
        validation_data = (x[val_index], y[val_index])
        x, y = x[train_index], y[train_index]
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise TypeError("nn.fit: validation_data must be a pair (x_val, y_val)")
        validation_data = examples(validation_data[0], validation_data[1], "nn.fit: validation_data")
    if len(x) == 0:
        raise ValueError("nn.fit: no training examples")
    return x, y, validation_data, val_index
