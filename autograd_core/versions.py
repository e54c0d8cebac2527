"""Changed-in-place detection: version counters.

Every in-place change made through the library (an in-place operator under ``no_grad``,
``t[index] = value``, an optimizer's ``step()``, ``load_state_dict``) calls :func:`bump`
on the array it wrote to. Versions belong to *memory*, not to Tensor objects: the count
is kept for the array that owns the memory, so a tensor, its ``detach()`` alias and its
views (``reshape``, basic slices, ``.T``) all see the same count, as PyTorch's shared
version counters do. ``Tensor._version`` reads it.

Each recorded op remembers when it was made (``node.stamp``, a reading of the process-wide
:data:`clock` of changes). A backward that reaches an op made before the latest change
calls :func:`check`, which raises if an array that op saved for its derivative changed
since. While nothing is changed in place, backward pays one comparison per op, and ops
pay one attribute store.

Changes made behind the library's back (writing into ``t.data`` or into a NumPy array
you passed to an op) are not seen.
"""

from __future__ import annotations

import functools
import itertools
import threading
import weakref
from collections import deque
from typing import Any

import numpy as np

#: Numbers ops and in-place changes in the order they happen, process-wide: every recorded
#: op takes the next number as its ``stamp`` (so an op's stamp is larger than its inputs'), and
#: so does every change. ``clock`` is the stamp of the latest change: an op whose stamp is
#: larger has seen every change.
order = itertools.count(1)
clock = 0

_HISTORY = 64  # change stamps remembered per array, to report the version an op saw


class _Counter:
    """The version of one array's memory: how often it changed, and when (the last few)."""

    __slots__ = ("count", "stamps", "ref")

    def __init__(self) -> None:
        self.count = 0
        self.stamps: deque[int] = deque(maxlen=_HISTORY)
        self.ref: weakref.ref[np.ndarray] | None = None


_counters: dict[int, _Counter] = {}  # id(owner array) -> its counter, dropped when the array dies
_lock = threading.Lock()


def _owner(a: np.ndarray) -> np.ndarray:
    """The array that owns ``a``'s memory (``a`` itself unless it is a view)."""
    base = a.base
    while isinstance(base, np.ndarray):
        a, base = base, base.base
    return a


def bump(data: np.ndarray) -> None:
    """Record an in-place change of ``data`` (and so of every view of its memory)."""
    global clock
    owner = data if data.base is None else _owner(data)
    key = id(owner)
    _lock.acquire()  # (acquire/release rather than `with`: 3x cheaper, and this runs every step)
    try:
        counter = _counters.get(key)
        if counter is None:
            counter = _counters[key] = _Counter()
            # Forget the count when the memory goes (its id may then be reused).
            counter.ref = weakref.ref(owner, functools.partial(_forget, key))
        clock = next(order)
        counter.count += 1
        counter.stamps.append(clock)
    finally:
        _lock.release()


def _forget(key: int, _: Any) -> None:
    _counters.pop(key, None)


def version(data: np.ndarray) -> int:
    """How many in-place changes the library has made to ``data``'s memory."""
    counter = _counters.get(id(_owner(data)))
    return 0 if counter is None else counter.count


def check(node: Any) -> None:
    """Raise if an array ``node`` saved for its derivative changed in place after it was made.

    The arrays checked are the op's inputs (unless its class says ``saves_inputs = False``:
    its derivative does not read them) and its output (unless ``saves_output = False``).
    """
    saved: list[tuple[str, Any]] = []
    if node.saves_inputs:
        saved.extend((f"input {i}", x) for i, x in enumerate(node.inputs))
    if node.saves_output:
        saved.append(("output", node.out))
    for what, x in saved:
        if type(x) is not np.ndarray:
            continue  # a Python number: nothing to change
        counter = _counters.get(id(_owner(x)))
        if counter is None or counter.stamps[-1] <= node.stamp:
            continue
        later = sum(1 for s in counter.stamps if s > node.stamp)
        then = counter.count - later
        exact = later < len(counter.stamps) or counter.count == len(counter.stamps)
        raise RuntimeError(
            f"{node.name}: its {what} (shape {x.shape}), which it saved for backward, was changed in place "
            f"afterwards: it is at version {counter.count} now, but {node.name} saved version {then}"
            f"{'' if exact else ' or earlier'}, so the gradient would be wrong. Change it after backward "
            "(e.g. opt.step() after loss.backward()), run the forward again after the change, or write "
            "x = x + 1 instead of an in-place x += 1"
        )
