"""Where trials run: one by one here, a process pool, any ``concurrent.futures.Executor``, or Dask.

Each backend submits :class:`~optim.search.trial.Task` s, waits for the first to finish and
hands back its :class:`~optim.search.trial.Outcome`, or raises :class:`Lost` when the worker
running it died (a killed process, out of memory, ``os._exit``). The driver in ``search.py``
does the rest (which trial next, retries, storage) the same way for all of them, and never
asks which kind of backend it has: what differs is said by the backend (how many trials run
at once, whether the objective must travel to another process and how it is sent, whether a
dead worker can take other trials down with it). Dask is the distributed engine: nothing here
schedules across machines.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import pickle
import sys
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from .trial import Outcome, Task, run_trial


class Lost(Exception):
    """The worker running a trial died. ``alone`` is False when other trials died with it
    (a broken process pool loses every trial in flight), so the one to blame is unknown."""

    def __init__(self, reason: str, alone: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.alone = alone


def is_dask_client(obj: Any) -> bool:
    """A ``distributed.Client`` (recognised without importing Dask)."""
    return type(obj).__module__.split(".")[0] == "distributed" and hasattr(obj, "submit") and hasattr(obj, "gather")


def check_picklable(what: str, obj: Any, dumps: Callable[[Any], bytes] = pickle.dumps) -> None:
    """Raise a TypeError that says what to do when ``obj`` cannot be sent to another process."""
    module = getattr(obj, "__module__", None)
    if dumps is pickle.dumps and module == "__main__" and not hasattr(sys.modules["__main__"], "__file__"):
        raise TypeError(
            f"random_search: the {what} {getattr(obj, '__qualname__', obj)!r} is defined interactively "
            "(a notebook or the REPL), so the worker processes of a pool cannot import it: put it in a .py "
            "module and import it, or run with executor=None or a Dask client (which sends it by value)"
        )
    try:
        dumps(obj)
    except Exception as err:
        raise TypeError(
            f"random_search: the {what} must be picklable to run in other processes (a function defined at "
            f"the top level of a module, not a lambda or a function nested in another): {err}"
        ) from None


class Backend:
    """The interface the driver uses (see the module's docstring)."""

    #: How many trials run at once.
    workers = 1
    #: Trials kept in flight per worker when no pruner needs fresh curves (a queue that hides latency).
    depth = 1
    #: True when trials run in other processes (they must be picklable).
    remote = False
    #: True when one worker's death loses every trial in flight (a broken process pool): the
    #: trials lost with others then run again one at a time, so that the one to blame is found.
    loses_together = False

    def check_sendable(self, what: str, obj: Any) -> None:
        """Raise a TypeError saying what to do if ``obj`` (the objective, the pruner) cannot
        reach the processes that run the trials; nothing to check when they run here."""

    def submit(self, task: Task) -> Any:
        raise NotImplementedError

    def wait(self, handles: Iterable[Any]) -> list[Any]:
        """Block until at least one of ``handles`` is done; return the done ones."""
        raise NotImplementedError

    def ready(self, handle: Any) -> bool:
        """True when the trial has finished and its outcome can be read without waiting."""
        return True

    def outcome(self, handle: Any) -> Outcome:
        """The finished trial's outcome; raises :class:`Lost` if its worker died."""
        raise NotImplementedError

    def cancel(self, handles: Iterable[Any]) -> None:
        """Give up on trials that have not finished (on an interrupt or an error)."""

    def close(self, interrupted: bool = False) -> None:
        """Release what the backend started (not what the user passed in)."""


class Serial(Backend):
    """Trials run one by one in this process, when submitted."""

    def submit(self, task: Task) -> Outcome:
        return run_trial(task)

    def wait(self, handles: Iterable[Any]) -> list[Any]:
        return list(handles)

    def outcome(self, handle: Outcome) -> Outcome:
        return handle


class Futures(Backend):
    """Any ``concurrent.futures.Executor``; ``executor=n`` is a process pool of ``n`` made here.

    A process pool whose worker dies is broken for good: every trial in it is lost. The search
    then carries on with a new pool of the same size (its own, shut down at the end); of the
    user's broken pool, only the workers it still has are stopped.
    """

    remote = True
    depth = 2
    loses_together = True

    def __init__(self, executor: cf.Executor | int) -> None:
        self.own = isinstance(executor, int)
        if isinstance(executor, int):
            executor = self._new_pool(executor, None)
        self.executor: cf.Executor = executor
        self.remote = not isinstance(executor, cf.ThreadPoolExecutor)
        self.workers = max(1, int(getattr(executor, "_max_workers", None) or os.cpu_count() or 1))
        self.pool = executor
        self.replacements: list[cf.ProcessPoolExecutor] = []
        self.pool_of: dict[cf.Future, cf.Executor] = {}
        self.alone: dict[int, bool] = {}  # id(broken pool) -> did it break with one trial in it?

    def check_sendable(self, what: str, obj: Any) -> None:
        if self.remote:
            check_picklable(what, obj)

    @staticmethod
    def _new_pool(workers: int, context: Any) -> cf.ProcessPoolExecutor:
        # "spawn": fresh interpreters, the same on every platform, and safe when this process
        # runs threads (a Dask client, a notebook's), where fork can deadlock.
        return cf.ProcessPoolExecutor(workers, mp_context=context or multiprocessing.get_context("spawn"))

    def submit(self, task: Task) -> cf.Future:
        try:
            future = self.pool.submit(run_trial, task)
        except cf.BrokenExecutor:  # a worker died since the last look, before its trial said so
            self._broken(self.pool, reported=0)
            future = self.pool.submit(run_trial, task)
        self.pool_of[future] = self.pool
        return future

    def wait(self, handles: Iterable[Any]) -> list[Any]:
        done, _ = cf.wait(list(handles), return_when=cf.FIRST_COMPLETED)
        return list(done)

    def ready(self, handle: cf.Future) -> bool:
        return handle.done() and not handle.cancelled()

    def outcome(self, handle: cf.Future) -> Outcome:
        pool = self.pool_of.pop(handle)
        try:
            return handle.result()
        except cf.BrokenExecutor as err:
            self._broken(pool, reported=1)
            raise Lost(f"its worker process died ({type(err).__name__}: {err})", alone=self.alone[id(pool)]) from None
        except cf.CancelledError:
            raise Lost("the executor cancelled it", alone=True) from None

    def _broken(self, pool: cf.Executor, reported: int) -> None:
        """On the first news that ``pool`` is broken (from a trial's outcome, or from ``submit``),
        remember whether it held a single trial (the one to blame) and carry on in a new pool.
        ``reported``: the pool's trials already taken out of ``pool_of``."""
        if id(pool) not in self.alone:
            in_pool = reported + sum(p is pool for p in self.pool_of.values())
            self.alone[id(pool)] = in_pool == 1
            self._replace(pool)

    def _replace(self, broken: cf.Executor) -> None:
        if not isinstance(broken, cf.ProcessPoolExecutor):
            raise RuntimeError(
                f"random_search: the executor {type(broken).__name__} is broken and cannot be replaced; "
                "the finished trials are saved (with storage=): run the search again with a working executor"
            )
        # Stop the workers the broken pool still has. It stops them itself, but a worker it
        # started for a trial submitted while it was breaking can escape that (a race in
        # concurrent.futures), and the pool's thread then waits for it forever, which hangs
        # the interpreter at exit. Nothing is submitted to the pool any more: this stops all.
        for process in list((getattr(broken, "_processes", None) or {}).values()):
            process.terminate()
        if broken is not self.executor or self.own:
            broken.shutdown(wait=False, cancel_futures=True)
        self.pool = self._new_pool(self.workers, getattr(broken, "_mp_context", None))
        self.replacements.append(self.pool)

    def cancel(self, handles: Iterable[Any]) -> None:
        for h in handles:
            h.cancel()

    def close(self, interrupted: bool = False) -> None:
        pools = [p for p in (self.executor, *self.replacements) if p is not self.executor or self.own]
        for pool in pools:
            if interrupted:  # do not wait for the trials still running: stop their processes
                for process in list((getattr(pool, "_processes", None) or {}).values()):
                    process.terminate()
            pool.shutdown(wait=not interrupted, cancel_futures=True)


class Dask(Backend):
    """A ``distributed.Client``: a cluster, or a ``LocalCluster`` on this machine.

    Dask itself re-runs a task whose worker died (``distributed.scheduler.allowed-failures``
    times); when it gives up (``KilledWorker``) the trial counts as lost here, and the search's
    own ``retries`` apply on top.
    """

    remote = True
    depth = 4  # a round trip through the scheduler takes milliseconds: keep the workers fed

    def __init__(self, client: Any) -> None:
        from autograd_core._optional import require

        self.distributed = require("distributed", "the Dask executor", "search")
        self.client = client
        self.workers = max(1, sum(client.nthreads().values()))
        self.finished = self.distributed.as_completed()

    def check_sendable(self, what: str, obj: Any) -> None:
        from distributed.protocol.pickle import dumps  # Dask sends functions by value (cloudpickle)

        check_picklable(what, obj, dumps)

    def submit(self, task: Task) -> Any:
        key = f"trial-{task.number}-{uuid.uuid4().hex[:8]}"
        future = self.client.submit(run_trial, task, key=key, pure=False)
        self.finished.add(future)
        return future

    def wait(self, handles: Iterable[Any]) -> list[Any]:
        wanted = set(handles)
        while True:  # skip futures given up on before (cancelled ones come out too)
            done = [f for f in self.finished.next_batch(block=True) if f in wanted]
            if done:
                return done

    def ready(self, handle: Any) -> bool:
        return handle.status == "finished"

    def outcome(self, handle: Any) -> Outcome:
        try:
            return handle.result()
        except self.distributed.KilledWorker as err:
            raise Lost(f"Dask gave up on it: {err}") from None
        except cf.CancelledError as err:
            raise Lost(f"Dask cancelled it ({err})") from None
        finally:
            handle.release()

    def cancel(self, handles: Iterable[Any]) -> None:
        handles = list(handles)
        if handles:
            self.client.cancel(handles)


def check_executor(executor: Any) -> None:
    """Raise if ``executor`` is not something :func:`backend_for` takes (nothing is started)."""
    if executor is None or is_dask_client(executor) or isinstance(executor, cf.Executor):
        return
    if isinstance(executor, bool) or not isinstance(executor, int):
        raise TypeError(
            f"random_search: executor must be None (one by one here), an int (a process pool of that size), "
            f"a concurrent.futures.Executor or a dask.distributed Client, not {type(executor).__name__}"
        )
    if executor < 1:
        raise ValueError(f"random_search: executor={executor!r}; a process pool needs at least 1 process")


def backend_for(executor: Any) -> Backend:
    """The backend for ``random_search``'s ``executor`` argument."""
    check_executor(executor)
    if executor is None:
        return Serial()
    if isinstance(executor, int):
        return Futures(executor)
    if isinstance(executor, cf.Executor):
        return Futures(executor)
    return Dask(executor)
