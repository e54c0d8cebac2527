"""Where trials run: one by one here, worker processes of the search's own, any
``concurrent.futures.Executor``, or Dask.

Each backend submits :class:`~optim.search.trial.Task` s, waits for the first to finish and
hands back its :class:`~optim.search.trial.Outcome`, or raises :class:`Lost` when the worker
running it died (a killed process, out of memory, ``os._exit``). The driver in ``search.py``
does the rest (which trial next, retries, storage) the same way for all of them, and never
asks which kind of backend it has: what differs is said by the backend (how many trials run
at once, whether the objective must travel to another process and how it is sent, whether a
dead worker can take other trials down with it). Dask is the distributed engine: nothing here
schedules across machines.

``timeout=`` (seconds a trial may run) applies where a trial runs in a process the search can
stop: a trial of :class:`Processes` past it has its worker process ended (a new one takes its
place), one on Dask has its worker restarted by the worker's nanny. Run one by one with a
timeout, the trials run in a worker process of their own (``Processes(1)``). A
``concurrent.futures`` executor of the user's cannot stop one trial alone: it takes no timeout.

Worker processes the search starts end themselves when their driver dies, however it dies
(a SIGKILL included): each watches its parent's sentinel from a thread.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import multiprocessing.connection
import os
import pickle
import sys
import threading
import time
import traceback
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


def check_picklable(what: str, obj: Any, dumps: Callable[[Any], bytes] = pickle.dumps, why: str = "") -> None:
    """Raise a TypeError that says what to do when ``obj`` cannot be sent to another process
    (``why``: the reason the trials run in other processes, when the user did not ask for it)."""
    module = getattr(obj, "__module__", None)
    if dumps is pickle.dumps and module == "__main__" and not hasattr(sys.modules["__main__"], "__file__"):
        raise TypeError(
            f"random_search: the {what} {getattr(obj, '__qualname__', obj)!r} is defined interactively "
            f"(a notebook or the REPL), so the worker processes of a pool cannot import it{why}: put it in a .py "
            "module and import it, or run with executor=None or a Dask client (which sends it by value)"
        )
    try:
        dumps(obj)
    except Exception as err:
        raise TypeError(
            f"random_search: the {what} must be picklable to run in other processes{why} (a function defined at "
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


def exit_with_parent() -> None:
    """In a worker process: end it (``os._exit``) as soon as the process that started it dies."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="optim.search: exit with the driver", daemon=True).start()


def _timed_out(seconds: float, timeout: float, how: str) -> str:
    return f"TimeoutError: the trial ran for {seconds:.3g} s, past timeout={timeout:g} s, and was stopped ({how})"


class Serial(Backend):
    """Trials run one by one in this process, when submitted."""

    def submit(self, task: Task) -> Outcome:
        return run_trial(task)

    def wait(self, handles: Iterable[Any]) -> list[Any]:
        return list(handles)

    def outcome(self, handle: Outcome) -> Outcome:
        return handle


class Futures(Backend):
    """Any ``concurrent.futures.Executor`` (``Futures(n)``: a process pool of ``n`` made here).

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
        return cf.ProcessPoolExecutor(
            workers, mp_context=context or multiprocessing.get_context("spawn"), initializer=exit_with_parent
        )

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


def _serve(conn: multiprocessing.connection.Connection) -> None:
    """A worker of :class:`Processes`: runs the trials it is sent, one at a time, until told to stop."""
    exit_with_parent()
    while True:
        try:
            message = conn.recv_bytes()
        except EOFError:
            return
        except KeyboardInterrupt:  # Ctrl-C reaches every process of the terminal: the driver decides
            continue
        try:
            task = pickle.loads(message)
        except Exception:  # e.g. the objective's module cannot be imported here
            conn.send(("crash", traceback.format_exc()))
            continue
        if task is None:
            return
        conn.send(("started", None))
        conn.send(("outcome", run_trial(task)))


class _Worker:
    """One process of :class:`Processes`, its pipe, and the trial it runs (if any)."""

    def __init__(self, context: Any) -> None:
        self.conn, theirs = context.Pipe()
        self.process = context.Process(target=_serve, args=(theirs,), name="optim.search worker")
        self.process.start()
        theirs.close()
        self.running: _Running | None = None

    def stop(self, now: bool) -> None:
        """End the process: at once (``now``), or once it has finished what it was doing."""
        if not now:
            try:
                self.conn.send_bytes(pickle.dumps(None))
            except OSError:
                now = True
        if now:
            self.process.kill()
        self.process.join(timeout=None if now else 10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


class _Running:
    """The handle of one trial submitted to :class:`Processes`."""

    def __init__(self, number: int, worker: _Worker) -> None:
        self.number = number
        self.worker = worker
        self.started: float | None = None  # when the worker began it (time.monotonic, here)
        self.done = False
        self.outcome: Outcome | None = None
        self.lost: str | None = None
        self.crash: str | None = None
        self.timed_out: float | None = None  # the seconds it ran before it was stopped


class Processes(Backend):
    """``executor=n``: ``n`` worker processes of the search's own, each running one trial at a time.

    The search knows which process runs which trial, so a worker that dies loses only its own
    trial (the one to blame), and a trial past ``timeout`` is stopped by ending its process
    alone; a new process takes the place of either. The processes are fresh interpreters
    ("spawn": the same on every platform, and safe when this process runs threads), started on
    the first trials and stopped at the end of the search; they end themselves if the driver
    dies.
    """

    remote = True

    def __init__(self, workers: int, timeout: float | None = None) -> None:
        self.workers = workers
        self.timeout = timeout
        self.context = multiprocessing.get_context("spawn")
        self.pool: list[_Worker] = []

    def check_sendable(self, what: str, obj: Any) -> None:
        why = " (with timeout=, trials run in a process of their own, which the search can stop)"
        check_picklable(what, obj, why=why if self.workers == 1 and self.timeout is not None else "")

    def submit(self, task: Task) -> _Running:
        message = pickle.dumps(task)
        while True:
            worker = next((w for w in self.pool if w.running is None), None)
            if worker is None:
                if len(self.pool) >= self.workers:
                    raise RuntimeError(f"Processes: {self.workers} trials already run (the driver submits no more)")
                worker = _Worker(self.context)
                self.pool.append(worker)
            try:
                worker.conn.send_bytes(message)
            except OSError:  # it died while idle (killed from outside): another takes its place
                self._drop(worker, now=True)
                continue
            worker.running = handle = _Running(task.number, worker)
            return handle

    def _read(self, handle: _Running) -> None:
        """Take in what the worker of ``handle`` has said; notice if it died."""
        worker = handle.worker
        try:
            while not handle.done and worker.conn.poll():
                kind, payload = worker.conn.recv()
                if kind == "started":
                    handle.started = time.monotonic()
                else:
                    handle.done = True
                    worker.running = None
                    handle.outcome, handle.crash = (payload, None) if kind == "outcome" else (None, payload)
        except (EOFError, OSError):
            pass
        if not handle.done and not worker.process.is_alive():
            handle.done = True
            handle.lost = f"its worker process died (exit code {worker.process.exitcode})"
            self._drop(worker, now=True)

    def _drop(self, worker: _Worker, now: bool) -> None:
        if worker in self.pool:
            self.pool.remove(worker)
            worker.stop(now)

    def _expire(self, handles: list[_Running]) -> None:
        """Stop the trials that have run past the timeout."""
        if self.timeout is None:
            return
        now = time.monotonic()
        for h in handles:
            if not h.done and h.started is not None and now - h.started >= self.timeout:
                self._read(h)  # it may have just finished
                if not h.done:
                    h.done, h.timed_out = True, now - h.started
                    self._drop(h.worker, now=True)

    def wait(self, handles: Iterable[Any]) -> list[Any]:
        handles = list(handles)
        while True:
            done = [h for h in handles if h.done]
            if done:
                return done
            waitables: dict[Any, _Running] = {}
            for h in handles:
                waitables[h.worker.conn] = h
                waitables[h.worker.process.sentinel] = h
            left = None
            if self.timeout is not None:
                ends = [h.started + self.timeout for h in handles if h.started is not None]
                left = max(0.0, min(ends) - time.monotonic()) if ends else None
            for ready in multiprocessing.connection.wait(list(waitables), left):
                self._read(waitables[ready])
            self._expire(handles)

    def ready(self, handle: _Running) -> bool:
        self._read(handle)
        return handle.done

    def outcome(self, handle: _Running) -> Outcome:
        if handle.crash is not None:
            raise RuntimeError(f"random_search: a worker process could not run trial {handle.number}:\n{handle.crash}")
        if handle.lost is not None:
            raise Lost(handle.lost, alone=True)
        if handle.timed_out is not None:
            error = _timed_out(handle.timed_out, self.timeout or 0.0, "its worker process was ended")
            return Outcome(handle.number, error=error, seconds=handle.timed_out)
        assert handle.outcome is not None
        return handle.outcome

    def cancel(self, handles: Iterable[Any]) -> None:
        for h in handles:
            if not h.done:
                h.done = True
                self._drop(h.worker, now=True)

    def close(self, interrupted: bool = False) -> None:
        for worker in list(self.pool):
            self._drop(worker, now=interrupted or worker.running is not None)


def _run_on_dask(task: Task, timeout: float | None) -> Outcome:
    """Run a trial on a Dask worker; past ``timeout``, give up on it and ask for the worker's restart."""
    if timeout is None:
        return run_trial(task)
    box: list[Outcome] = []
    thread = threading.Thread(target=lambda: box.append(run_trial(task)), name=f"trial {task.number}", daemon=True)
    start = time.perf_counter()
    thread.start()
    thread.join(timeout)
    if box:
        return box[0]
    from distributed import get_worker

    seconds = time.perf_counter() - start
    error = _timed_out(seconds, timeout, "its Dask worker process was restarted")
    return Outcome(task.number, error=error, seconds=seconds, restart=get_worker().address)


class Dask(Backend):
    """A ``distributed.Client``: a cluster, or a ``LocalCluster`` on this machine.

    Dask itself re-runs a task whose worker died (``distributed.scheduler.allowed-failures``
    times); when it gives up (``KilledWorker``) the trial counts as lost here, and the search's
    own ``retries`` apply on top.
    """

    remote = True
    depth = 4  # a round trip through the scheduler takes milliseconds: keep the workers fed

    def __init__(self, client: Any, timeout: float | None = None) -> None:
        from autograd_core._optional import require

        self.distributed = require("distributed", "the Dask executor", "search")
        self.client = client
        self.workers = max(1, sum(client.nthreads().values()))
        self.finished = self.distributed.as_completed()
        self.timeout = timeout
        self.restarts = 0  # workers restarted to stop a trial past its timeout
        self.submitted: dict[Any, int] = {}  # future -> restarts when it was submitted
        if timeout is not None:
            threads = [a for a, w in client.scheduler_info()["workers"].items() if not w.get("nanny")]
            if threads:
                raise ValueError(
                    f"random_search: timeout= stops a trial by restarting its Dask worker process, but the workers "
                    f"{threads} run in this process (no nanny): use LocalCluster(processes=True), or no timeout"
                )
            self.depth = 1  # a trial starts when it is submitted

    def check_sendable(self, what: str, obj: Any) -> None:
        from distributed.protocol.pickle import dumps  # Dask sends functions by value (cloudpickle)

        check_picklable(what, obj, dumps)

    def submit(self, task: Task) -> Any:
        key = f"trial-{task.number}-{uuid.uuid4().hex[:8]}"
        future = self.client.submit(_run_on_dask, task, self.timeout, key=key, pure=False)
        self.finished.add(future)
        self.submitted[future] = self.restarts
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
        # A trial lost while a worker was restarted (to stop another past its timeout) may have
        # died with it: it runs again, uncharged.
        alone = self.submitted.pop(handle, self.restarts) == self.restarts
        try:
            outcome = handle.result()
        except self.distributed.KilledWorker as err:
            raise Lost(f"Dask gave up on it: {err}", alone=alone) from None
        except cf.CancelledError as err:
            raise Lost(f"Dask cancelled it ({err})", alone=alone) from None
        finally:
            handle.release()
        if outcome.restart is not None:  # past its timeout: its thread still runs there
            self.restarts += 1
            self.client.restart_workers([outcome.restart], raise_for_error=False)
            outcome.restart = None
        return outcome

    def cancel(self, handles: Iterable[Any]) -> None:
        handles = list(handles)
        if handles:
            self.client.cancel(handles)


def check_executor(executor: Any, timeout: float | None = None) -> None:
    """Raise if ``executor`` is not something :func:`backend_for` takes (nothing is started)."""
    if isinstance(executor, cf.Executor) and timeout is not None:
        raise ValueError(
            f"random_search: timeout= needs to stop a trial alone, which a {type(executor).__name__} cannot do; "
            "pass executor=n (n worker processes of the search's own) or a Dask client instead"
        )
    if executor is None or is_dask_client(executor) or isinstance(executor, cf.Executor):
        return
    if isinstance(executor, bool) or not isinstance(executor, int):
        raise TypeError(
            f"random_search: executor must be None (one by one here), an int (a process pool of that size), "
            f"a concurrent.futures.Executor or a dask.distributed Client, not {type(executor).__name__}"
        )
    if executor < 1:
        raise ValueError(f"random_search: executor={executor!r}; a process pool needs at least 1 process")


def backend_for(executor: Any, timeout: float | None = None) -> Backend:
    """The backend for ``random_search``'s ``executor`` and ``timeout`` arguments."""
    check_executor(executor, timeout)
    if executor is None:
        return Serial() if timeout is None else Processes(1, timeout)
    if isinstance(executor, int):
        return Processes(executor, timeout)
    if isinstance(executor, cf.Executor):
        return Futures(executor)
    return Dask(executor, timeout)
