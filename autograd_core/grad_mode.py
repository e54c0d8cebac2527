"""Whether ops are recorded: ``no_grad`` and ``enable_grad``.

The flag is a context variable: each thread (and each asyncio task) has its own, so one
thread evaluating a model under ``no_grad`` never stops another thread (a parallel
hyperparameter search, say) from recording its graph. (A ``ContextVar`` is also the
cheapest per-thread value to read, and every op reads it.)
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from contextvars import ContextVar, Token
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

#: True when ops on tensors that require grad are recorded (per thread and task).
grad_enabled: ContextVar[bool] = ContextVar("grad_enabled", default=True)


def is_grad_enabled() -> bool:
    """True when ops on tensors that require grad are being recorded."""
    return grad_enabled.get()


class _SetGradMode:
    _mode: bool

    def __init__(self) -> None:
        self._tokens: list[Token[bool]] = []  # a stack: the same object may be entered twice

    def __enter__(self) -> None:
        self._tokens.append(grad_enabled.set(self._mode))

    def __exit__(self, *exc: object) -> None:
        grad_enabled.reset(self._tokens.pop())

    def __call__(self, fn: F) -> F:
        return wrap_in_context(fn, type(self))


def wrap_in_context(fn: F, context: Callable[[], Any]) -> F:
    """``fn`` run inside ``with context():`` — the decorator form of a mode.

    A generator function gets the mode around each of its steps only, not while it is
    suspended: the caller's code between two ``next()`` calls runs in the caller's mode.
    """
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def generator(*args: Any, **kwargs: Any) -> Any:
            with context():
                gen = fn(*args, **kwargs)
            resume, value = gen.send, None  # the next step: send a value in, or throw an error in
            while True:
                try:
                    with context():
                        item = resume(value)
                except StopIteration as stop:
                    return stop.value
                try:
                    resume, value = gen.send, (yield item)
                except GeneratorExit:
                    with context():
                        gen.close()
                    raise
                except BaseException as err:  # thrown in by the caller: hand it on to fn
                    resume, value = gen.throw, err

        return generator  # type: ignore[return-value]

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with context():
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
