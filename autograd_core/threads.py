"""How many threads NumPy's BLAS uses: ``set_num_threads`` / ``get_num_threads`` (PyTorch's names).

``nn.fit``, ``nn.predict``, ``nn.evaluate`` and every trial of a hyperparameter search run with
the count the user set, or by default with :data:`DEFAULT` (one) BLAS thread, unless the
model's matrix products are large (:data:`LARGE`): then with NumPy's own count (a thread per
core); the count in force before the call comes back after it. One thread for small products,
because OpenBLAS splits even a small matrix product (the digits CNN's 1024 × 72 by 72 × 16)
between its threads, which gains little on products this small, and when another process holds
a core each product waits for it: an epoch of the digits CNN took 0.7–2.3 s with two threads
and 0.05–0.12 s with one, on 2 cores with one busy. Large products (a layer of 2048 units on
batches of 512) take milliseconds each: a second core nearly halves them on an idle machine,
and a busy core costs them a fifth, not a collapse (``python -m benchmarks --only THREADS``).
The count depends only on the model and the batch size, never on the machine's load, which
keeps results bit for bit: OpenBLAS's ``dot`` of a vector longer than 10,000 gives other last
bits with 2 threads than with 1, so a resumed ``fit`` computes with the count of the first run,
and a search hands its driver's count to every trial on every executor.

>>> import autograd_core as ag
>>> ag.set_num_threads(1)
>>> ag.get_num_threads()
1

The counts go through threadpoolctl. A library call of ours (``blas_threads``) sets the count
when it starts and puts back the previous one when it ends; calls that run inside it (the
validation of a ``fit``, a ``fit`` inside a trial), or at the same time in other threads, keep
the count the first one chose, and the last to end puts the previous count back.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from ._checks import check_int
from .grad_mode import wrap_in_context

__all__ = ["set_num_threads", "get_num_threads", "blas_threads", "DEFAULT", "LARGE", "ENVIRONMENT"]

F = TypeVar("F", bound=Callable[..., Any])

#: The BLAS threads of ``fit``, ``predict``, ``evaluate`` and a search's trials unless the user set a count
#: (or their matrix products are large).
DEFAULT = 1

#: Multiply-adds of a call's largest matrix product (a batch times a weight matrix) from which the
#: default is NumPy's own count: about 30 M, a few milliseconds of one core's work per product.
LARGE = 2**25

_lock = threading.RLock()
_user: int | None = None  # the count given to set_num_threads
_libs: list[Any] | None = None  # threadpoolctl's controllers of the BLAS libraries loaded
_running = 0  # library calls (blas_threads blocks) running now, in every thread
_count = 0  # the count they run with
_before: list[tuple[Any, int]] = []  # each library's count before the first of them started
_warned = False

if hasattr(os, "register_at_fork"):  # a child forked while another thread held the lock must not wait for it forever

    def _new_lock() -> None:
        global _lock
        _lock = threading.RLock()

    os.register_at_fork(after_in_child=_new_lock)


def _blas(refresh: bool = False) -> list[Any]:
    """The BLAS libraries threadpoolctl controls, NumPy's first (found once: a scan costs 0.4 ms)."""
    global _libs
    if _libs is None or refresh:
        from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]

        libs = [lib for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas"]
        libs.sort(key=lambda lib: "numpy" not in str(lib.filepath))
        _libs = libs
    return _libs


def _set(lib: Any, n: int) -> None:
    # threadpoolctl >= 3.8 lets only one Python thread change an OpenBLAS built on pthreads (its
    # pool is shared by the whole process) and silently ignores the others; changes here are
    # serialised by _lock, so any thread may make them, and none keeps the control afterwards.
    clear = getattr(type(lib), "clear_controlling_thread", None)
    if clear is not None:
        clear(force=True)
    lib.set_num_threads(n)
    if clear is not None:
        clear(force=True)


def _apply(n: int) -> None:
    """Set every BLAS library to ``n`` threads, as seen from this thread (where it differs)."""
    for lib in _blas():
        if lib.get_num_threads() != n:
            _set(lib, n)


def set_num_threads(n: int) -> None:
    """Use ``n`` threads in NumPy's BLAS (matrix products) from now on, as ``torch.set_num_threads``.

    The count holds until changed, and wins over the default of ``nn.fit``, ``nn.predict``,
    ``nn.evaluate`` and a search (:data:`DEFAULT`, one thread, or NumPy's own count for large
    matrix products): a search hands it to every trial, on every executor.

    >>> ag.set_num_threads(2); ag.get_num_threads()
    2
    >>> ag.set_num_threads(0)
    Traceback (most recent call last):
    ValueError: ag.set_num_threads: n must be a positive integer, got 0
    """
    global _user, _count, _before, _warned
    n = check_int(n, "n", "ag.set_num_threads", low=1)
    with _lock:
        _user = n
        libs = _blas(refresh=_running == 0)  # libraries loaded since (SciPy's OpenBLAS, say)
        if not libs and not _warned:
            _warned = True
            warnings.warn(
                "ag.set_num_threads: threadpoolctl finds no BLAS it can control in this process (Apple's "
                "Accelerate, say), so the count cannot be applied; NumPy's BLAS chooses its own threads",
                RuntimeWarning,
                stacklevel=2,
            )
        _apply(n)
        if _running:  # the calls running now go on with it, and leave it behind when they end
            _count = n
            _before = [(lib, n) for lib in libs]


def get_num_threads() -> int:
    """The threads NumPy's BLAS uses now, as ``torch.get_num_threads``.

    Inside ``nn.fit`` (a callback, say) or a search's objective it is the count they run with.
    When threadpoolctl finds no BLAS it can control, the count last set (or the CPU count).
    """
    libs = _blas()
    if libs:
        return int(libs[0].get_num_threads())
    return _user if _user is not None else (os.cpu_count() or 1)


#: Environment variables through which a user sets BLAS threads for a whole process.
ENVIRONMENT = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")


def _from_environment() -> int | None:
    """The count set for the process in the environment (``OPENBLAS_NUM_THREADS=2``), if any:
    a count the user chose, so it wins over :data:`DEFAULT` as one set in code does."""
    for name in ENVIRONMENT:
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return None


def count(work: float | None = None) -> int:
    """The count a library call starts with: the user's (:func:`set_num_threads`, else one set in
    the environment such as ``OPENBLAS_NUM_THREADS``); else, for ``work`` (the multiply-adds of
    the call's largest matrix product) of at least :data:`LARGE`, NumPy's own count; else
    :data:`DEFAULT`."""
    if _user is not None:
        return _user
    env = _from_environment()
    if env is not None:
        return env
    if work is not None and work >= LARGE:
        return _native()
    return DEFAULT


def _native() -> int:
    """NumPy's own count (a thread per core unless limited): the BLAS's, as it was before our calls."""
    with _lock:
        if _running and _before:
            return max(n for _, n in _before)
        libs = _blas()
        return int(libs[0].get_num_threads()) if libs else 1


class blas_threads:
    """Context manager (and decorator) for a library call that runs with ``n`` BLAS threads.

    ``n=None``: :func:`count` for ``work`` (the user's count; else by the size of the call's
    largest matrix product, one thread or NumPy's count). Inside another such block, or while
    one runs in another thread, the count already chosen holds. The count from before comes
    back when the last block ends. Entering costs about a microsecond: enter it once per
    ``fit``, ``predict`` or trial, never per batch.
    """

    __slots__ = ("n", "work")

    def __init__(self, n: int | None = None, work: float | None = None) -> None:
        self.n = n
        self.work = work

    def __enter__(self) -> None:
        global _running, _count, _before
        with _lock:
            if _running == 0:
                _before = [(lib, lib.get_num_threads()) for lib in _blas()]
                _count = count(self.work) if self.n is None else self.n
            _running += 1
            _apply(_count)  # in this thread too, for a BLAS whose count is per thread (OpenMP's)

    def __exit__(self, *exc: object) -> None:
        global _running
        with _lock:
            _running -= 1
            if _running == 0:
                for lib, n in _before:
                    if lib.get_num_threads() != n:
                        _set(lib, n)

    def __call__(self, fn: F) -> F:
        return wrap_in_context(fn, lambda: self)
