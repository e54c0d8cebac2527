"""Whether ops are recorded: ``no_grad`` and ``enable_grad``.

The flag is thread-local, so one thread evaluating a model under ``no_grad`` never
stops another thread (a parallel hyperparameter search, say) from recording its graph.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class _GradMode(threading.local):
    enabled = True  # class attribute: the default seen by every new thread


_state = _GradMode()


def is_grad_enabled() -> bool:
    """True when ops on tensors that require grad are being recorded."""
    return _state.enabled


class _SetGradMode:
    _mode: bool

    def __enter__(self) -> None:
        self._prev = _state.enabled
        _state.enabled = self._mode

    def __exit__(self, *exc: object) -> None:
        _state.enabled = self._prev

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with type(self)():
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class no_grad(_SetGradMode):
    """Context manager and decorator inside which no graph is recorded.

    >>> w = Tensor(2.0, requires_grad=True)
    >>> with no_grad():
    ...     y = w * 3
    >>> y.requires_grad
    False
    """

    _mode = False


class enable_grad(_SetGradMode):
    """Context manager and decorator that turns recording back on inside ``no_grad``."""

    _mode = True
