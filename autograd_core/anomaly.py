"""``detect_anomaly()``: find the op whose derivative produced the first NaN or infinity.

Inside it, every recorded op remembers where the user's code called it (the first frame
outside the library, see ``_callers.py``), and backward checks each op's gradients
as they are computed: the first that holds a NaN or an infinity raises a
``FloatingPointError`` naming the op, the input and that file and line. Outside it,
nothing is remembered and nothing is checked. The mode is process-wide, as PyTorch's is.

>>> x = Tensor([0.0, 1.0], requires_grad=True)
>>> with np.errstate(divide="ignore"), detect_anomaly():  # doctest: +ELLIPSIS
...     y = x.sqrt().sum()  # d√x/dx = 1/(2√x) is infinite at 0
...     y.backward()
Traceback (most recent call last):
FloatingPointError: sqrt: its backward produced infinity in the gradient of input 0, shape (2,); the forward call ...
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from . import _callers
from .grad_mode import wrap_in_context
from .tensor import Tensor

__all__ = ["detect_anomaly"]

F = TypeVar("F", bound=Callable[..., Any])

#: True while any thread is inside ``detect_anomaly()``; read by ``Function.apply``.
active = False
_depth = 0
_lock = threading.Lock()


class detect_anomaly:
    """Context manager and decorator: trace ops to the user's code, and stop at the first
    gradient holding NaN or infinity with a ``FloatingPointError`` that says where.

    Costly (a stack walk per op, a finiteness check per gradient): use it to debug.
    """

    def __enter__(self) -> None:
        global active, _depth
        with _lock:
            _depth += 1
            active = True

    def __exit__(self, *exc: object) -> None:
        global active, _depth
        with _lock:
            _depth -= 1
            active = _depth > 0

    def __call__(self, fn: F) -> F:
        return wrap_in_context(fn, type(self))


#: ``(file, line, function, code)`` of the innermost frame outside the library (``_callers.py``).
caller = _callers.caller


def check(node: Any, grads: tuple[Any, ...]) -> None:
    """Raise ``FloatingPointError`` if one of ``node``'s gradients holds a NaN or an infinity."""
    for i, gi in enumerate(grads):
        if gi is None:
            continue
        arr = np.asarray(gi.data if isinstance(gi, Tensor) else gi)
        if arr.dtype.kind not in "fc" or np.isfinite(arr).all():
            continue
        what = "NaN" if np.isnan(arr).any() else "infinity"
        parent = node.parents[i]
        name = parent.name if isinstance(parent, Tensor) else None
        about = f"input {i}" + (f" ({name!r})" if name else "") + f", shape {np.shape(node.inputs[i])}"
        if node.trace is None:
            origin = "it was recorded outside detect_anomaly(), so where it was called is unknown"
        else:
            file, line, func, text = node.trace
            origin = f"the forward call was at {file}:{line}, in {func}" + (f": {text}" if text else "")
        raise FloatingPointError(f"{node.name}: its backward produced {what} in the gradient of {about}; {origin}")
