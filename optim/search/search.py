"""``random_search`` and ``coarse_to_fine``: the driver that hands out trials and records them.

The driver is the same for every search: a :class:`~optim.search.samplers.Sampler` says which
trials each round runs and what they try, a :class:`~optim.search.executors.Backend` runs them,
a :class:`~optim.search.storage.Storage` records them. ``random_search`` and
``coarse_to_fine`` differ only in their sampler.
"""

from __future__ import annotations

import inspect
import math
import os
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from autograd_core import threads
from autograd_core._checks import check_choice, check_int, check_real

from .codec import round_trip
from .distributions import Distribution
from .executors import Backend, Lost, backend_for, check_executor
from .pruners import Pruner
from .result import SearchResult
from .samplers import RandomSampler, Sampler, ZoomSampler
from .storage import CLAIMED, SQLiteStorage, Storage, open_storage
from .trial import COMPLETE, FAILED, PRUNED, Outcome, Task, TrialResult

Objective = Callable[[dict[str, Any], Any], Any]

#: Seconds between two looks at the storage when only other drivers' trials are left (first, most).
_POLL = (0.02, 0.5)


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


# ============================================================== checking the arguments


def _check_space(space: Any, where: str = "random_search") -> dict[str, Distribution]:
    if not isinstance(space, Mapping):
        raise TypeError(f"{where}: space must be a dict of name -> distribution, got {type(space).__name__}")
    if not space:
        raise ValueError(
            f"{where}: the space is empty; give at least one hyperparameter, e.g. {{'lr': LogUniform(1e-4, 1)}}"
        )
    for name, dist in space.items():
        if not isinstance(name, str):
            raise TypeError(f"{where}: space keys must be strings (parameter names), got {name!r}")
        if not isinstance(dist, Distribution):
            raise TypeError(
                f"{where}: space[{name!r}] is {dist!r}, not a distribution; use Uniform, LogUniform, "
                "OneMinusLogUniform, IntUniform or Choice (Choice([value]) for a fixed value)"
            )
    return dict(space)


def _check_objective(objective: Any) -> None:
    if not callable(objective):
        raise TypeError(f"random_search: objective must be a function objective(params, trial), got {objective!r}")
    try:
        signature = inspect.signature(objective)
    except (TypeError, ValueError):  # some builtins and C functions have none: trust them
        return
    try:
        signature.bind({}, None)
    except TypeError:
        raise ValueError(
            f"random_search: the objective {getattr(objective, '__name__', objective)}{signature} must accept two "
            "arguments, (params, trial)"
        ) from None


class _Options:
    """The validated arguments shared by ``random_search`` and ``coarse_to_fine``."""

    def __init__(
        self,
        objective: Objective,
        metric: str,
        mode: str,
        seed: int | None,
        executor: Any,
        storage: str | os.PathLike[str] | None,
        pruner: Pruner | None,
        retries: int,
        callback: Callable[[TrialResult], Any] | None,
        timeout: float | None,
    ) -> None:
        _check_objective(objective)
        if not isinstance(metric, str) or not metric:
            raise ValueError(
                f"random_search: metric must be a non-empty string (a name the objective returns), got {metric!r}"
            )
        check_choice(mode, "mode", "random_search", ("max", "min"))
        if seed is not None:
            seed = check_int(seed, "seed", "random_search", low=0)
        retries = check_int(retries, "retries", "random_search", low=0)
        if pruner is not None and not isinstance(pruner, Pruner):
            raise TypeError(
                f"random_search: pruner must be a MedianPruner, a SuccessiveHalving (or another Pruner) or None, "
                f"got {pruner!r}"
            )
        if storage is not None and not isinstance(storage, (str, os.PathLike)):
            raise TypeError(
                f"random_search: storage must be a file path (e.g. 'search.sqlite') or None, got {storage!r}"
            )
        if callback is not None and not callable(callback):
            raise TypeError(f"random_search: callback must be a function of a TrialResult, got {callback!r}")
        if timeout is not None:
            timeout = check_real(timeout, "timeout", "random_search", low=0, low_open=True)
        check_executor(executor, timeout)
        self.objective = objective
        self.metric = metric
        self.mode = mode
        self.seed = seed
        self.executor = executor
        self.storage = storage
        self.pruner = pruner
        self.retries = retries
        self.callback = callback
        self.timeout = timeout


# ============================================================== the driver


class _Driver:
    """Runs the rounds of one search: hands out trials, retries lost ones, records every result.

    Trials are submitted a few at a time (as many as there are workers with a pruner, so that
    each new trial is handed the freshest curves; a few per worker without, to hide the round
    trip), and every result is written to the storage the moment it arrives.
    """

    def __init__(self, options: _Options, space: dict[str, Distribution], sampler: Sampler) -> None:
        self.o = options
        self.space = space
        self.sampler = sampler
        self.store: Storage = open_storage(options.storage)
        try:
            self.seed = self.store.start(options.seed, options.metric, options.mode)
            self.done: dict[int, TrialResult] = self.store.trials()
            self.backend: Backend = backend_for(options.executor, options.timeout)
        except BaseException:
            self.store.close()
            raise
        try:
            for what, obj in (("objective", options.objective), ("pruner", options.pruner)):
                if obj is not None:
                    self.backend.check_sendable(what, obj)
        except TypeError:
            self.close(interrupted=True)
            raise
        self.threads = threads.count()  # the user's count or the default, for every trial on every executor
        self.spaces: dict[int, dict[str, Distribution]] = {}
        self.numbers: list[int] = []
        self.checked = False  # a returned result has been seen holding the metric
        self.curves = [self._curve(t) for t in self.done.values() if t.status in (COMPLETE, PRUNED)]

    def _curve(self, t: TrialResult) -> list[tuple[float, float]]:
        return [(p["step"], p[self.o.metric]) for p in t.curve if self.o.metric in p]

    def close(self, interrupted: bool = False) -> None:
        try:
            if hasattr(self, "backend"):
                self.backend.close(interrupted)
        finally:
            self.store.close()

    def run(self) -> SearchResult:
        """Every round the sampler asks for; the result of them all."""
        start = 0
        for r, count in enumerate(self.sampler.rounds(), start=1):
            space = self.sampler.space(r, self.space, self.result())
            self.run_round(r, space, range(start, start + count))
            start += count
        return self.result()

    # ------------------------------------------------------------------ one round
    def run_round(self, round: int, space: dict[str, Distribution], numbers: Sequence[int]) -> None:
        """Run the trials ``numbers`` of round ``round``, sampling ``space``.

        Each trial is claimed in the storage before it is submitted; one claimed by another
        driver sharing the file is waited for (and taken over if that driver dies), so that
        this round ends with every trial recorded, whoever ran it.
        """
        o = self.o
        self.spaces[round] = space
        self.numbers.extend(numbers)
        self.store.start_round(round, space)
        todo: deque[int] = deque()
        for n in numbers:
            previous = self.done.get(n)
            if previous is None or previous.status == FAILED:  # a failure is tried again on resume
                self._check_recorded(previous, round, space, params=False)
                todo.append(n)
            else:  # the recorded trial, with its parameters as drawn (objects, not their stored form)
                self._check_recorded(previous, round, space)
        params = {n: self.sampler.sample(space, self.seed, n) for n in todo}
        backend = self.backend
        # With a pruner, as many trials as workers, so that each is handed the freshest curves;
        # with a timeout too, so that a trial starts when it is submitted.
        fresh = o.pruner is not None or o.timeout is not None
        limit = backend.workers * (1 if fresh else backend.depth)
        in_flight: dict[Any, int] = {}
        suspects: deque[int] = deque()
        waiting: set[int] = set()  # claimed by other drivers, or recorded by them since
        losses: Counter[int] = Counter()
        attempts: Counter[int] = Counter()
        pause = _POLL[0]

        def submit(n: int) -> None:
            attempts[n] += 1
            task = Task(
                o.objective,
                n,
                round,
                params[n],
                self.seed,
                o.metric,
                o.mode,
                o.pruner,
                list(self.curves) if o.pruner is not None else [],
                remote=backend.remote,
                threads=self.threads,
            )
            in_flight[backend.submit(task)] = n

        try:
            while todo or suspects or in_flight or waiting:
                if suspects:
                    if not in_flight:
                        submit(suspects.popleft())
                else:
                    while todo and len(in_flight) < limit:
                        n = todo.popleft()
                        if self.store.claim(n) == CLAIMED:
                            submit(n)
                        else:
                            waiting.add(n)
                if waiting:
                    finished, orphaned = self.store.poll(sorted(waiting))
                    for n, recorded in finished.items():
                        waiting.discard(n)
                        self._check_recorded(recorded, round, space)
                        self._known(recorded)
                    waiting.difference_update(orphaned)  # their driver died: claim them again
                    todo.extendleft(sorted(orphaned, reverse=True))
                if not in_flight:
                    if waiting and not todo and not suspects:  # only others' trials are left
                        _sleep(pause)
                        pause = min(pause * 1.5, _POLL[1])
                    continue
                pause = _POLL[0]
                for handle in backend.wait(list(in_flight)):
                    n = in_flight.pop(handle)
                    try:
                        outcome = backend.outcome(handle)
                    except Lost as lost:
                        if not lost.alone:  # lost with others: run it again, alone, uncharged
                            suspects.append(n)
                            continue
                        losses[n] += 1
                        if losses[n] > o.retries:
                            self._finish(self._lost(n, round, params[n], lost, losses[n], attempts[n]), round, space)
                        elif backend.loses_together:  # run it alone: if it dies again, it is to blame
                            suspects.appendleft(n)
                        else:
                            todo.appendleft(n)
                        continue
                    self._finish(self._result(n, round, params[n], outcome, attempts[n]), round, space)
        except BaseException as err:
            interrupted = isinstance(err, KeyboardInterrupt)
            if interrupted:  # keep what has already finished
                for handle in [h for h in in_flight if backend.ready(h)]:
                    n = in_flight.pop(handle)
                    try:
                        outcome = backend.outcome(handle)
                        if not outcome.interrupted:
                            self._finish(self._result(n, round, params[n], outcome, attempts[n]), round, space)
                    except Exception:
                        pass  # lost, or a contract problem: not recorded; it runs again on resume
            backend.cancel(list(in_flight))
            raise

    def _check_recorded(
        self, previous: TrialResult | None, round: int, space: dict[str, Distribution], params: bool = True
    ) -> None:
        """Refuse a recorded trial that belongs to another search; give it its parameters as drawn."""
        if previous is None:
            return
        n = previous.number
        if previous.round != round:
            raise ValueError(
                f"storage: trial {n} in {self.store.name} belongs to round {previous.round}, not {round}: "
                "the file holds another search; give this one another file"
            )
        if params:
            drawn = self.sampler.sample(space, self.seed, n)
            if {k: round_trip(v) for k, v in drawn.items()} != previous.params:
                raise ValueError(
                    f"storage: trial {n} in {self.store.name} tried {previous.params}, but this search draws "
                    f"{drawn} for it: the file holds another search; give this one another file"
                )
            previous.params = drawn

    # ------------------------------------------------------------------ results
    def _result(self, n: int, round: int, params: dict[str, Any], outcome: Outcome, attempts: int) -> TrialResult:
        if outcome.interrupted:
            raise KeyboardInterrupt(f"trial {n} was interrupted")
        metric = self.o.metric
        value: float | None = None
        metrics: dict[str, float] = {}
        error = outcome.error
        if error is not None:
            status = FAILED
        elif outcome.problem is not None:
            if not self.checked:
                raise ValueError(
                    f"random_search: {outcome.problem} (trial {n}, the first to return: the search stops here "
                    "and records nothing of it)"
                )
            status, error = FAILED, f"ValueError: {outcome.problem}"
        else:
            metrics = outcome.metrics or {}
            if metric in metrics:
                value = metrics[metric]
                self.checked = True
            else:  # a pruned trial that returned nothing: its last reported value
                reported = [p[metric] for p in outcome.curve if metric in p]
                value = reported[-1] if reported else None
            status = PRUNED if outcome.pruned else COMPLETE
            if value is not None and not math.isfinite(value):
                status = "diverged"
        return TrialResult(
            number=n,
            params=params,
            value=value,
            metrics=metrics,
            status=status,
            error=error,
            curve=outcome.curve,
            seconds=outcome.seconds,
            round=round,
            attempts=attempts,
        )

    def _lost(self, n: int, round: int, params: dict[str, Any], lost: Lost, losses: int, attempts: int) -> TrialResult:
        error = (
            f"WorkerLost: the worker running this trial died {losses} time(s) (retries={self.o.retries}); "
            f"last time {lost.reason}. A process that is killed, runs out of memory or calls os._exit loses its trial."
        )
        return TrialResult(n, params, None, {}, FAILED, error, [], 0.0, round, attempts)

    def _known(self, result: TrialResult) -> None:
        """A finished trial of this search (its curve now guides the pruner)."""
        self.done[result.number] = result
        if result.status in (COMPLETE, PRUNED):
            self.curves.append(self._curve(result))

    def _finish(self, result: TrialResult, round: int, space: dict[str, Distribution]) -> None:
        recorded = self.store.add(result)
        if recorded is not result:  # another driver took it over (thinking this one dead) and recorded it first
            self._check_recorded(recorded, round, space)
            self._known(recorded)
            return
        self._known(result)
        if self.o.callback is not None:
            self.o.callback(result)

    def result(self) -> SearchResult:
        trials = [self.done[n] for n in sorted(set(self.numbers)) if n in self.done]
        return SearchResult(
            trials,
            metric=self.o.metric,
            mode=self.o.mode,
            seed=self.seed,
            space=self.space,
            spaces=dict(self.spaces),
            path=self.store.path,
        )


def _run(options: _Options, space: dict[str, Distribution], sampler: Sampler) -> SearchResult:
    driver = _Driver(options, space, sampler)
    interrupted = True
    try:
        result = driver.run()
        interrupted = False
        return result
    finally:
        driver.close(interrupted=interrupted)


# ============================================================== the public functions


def random_search(
    objective: Objective,
    space: Mapping[str, Distribution],
    n_trials: int = 50,
    metric: str = "value",
    mode: str = "max",
    seed: int | None = 0,
    executor: Any = None,
    storage: str | os.PathLike[str] | None = None,
    pruner: Pruner | None = None,
    retries: int = 0,
    callback: Callable[[TrialResult], Any] | None = None,
    timeout: float | None = None,
) -> SearchResult:
    """Random search: ``n_trials`` trials, each with parameters drawn at random from ``space``.

    Random, never a grid: with 25 trials over two hyperparameters, a 5 × 5 grid tries only 5
    values of the one that matters; random trials try 25.

    Parameters
    ----------
    objective : callable
        ``objective(params, trial)``: trains with ``params`` (a dict), may report its learning
        curve with ``trial.report(step, **metrics)`` and stop early when ``trial.should_stop()``,
        and returns a dict of metrics holding ``metric`` (or a float, which is ``metric``). In
        other processes it must be picklable: a function defined at the top level of a module.
    space : dict
        Parameter name → distribution (``Uniform``, ``LogUniform``, ``OneMinusLogUniform``,
        ``IntUniform``, ``Choice``).
    n_trials : int
        How many trials.
    metric, mode : str
        The returned metric the trials are ranked by; ``"max"`` keeps the largest, ``"min"`` the
        smallest.
    seed : int or None
        Trial ``i`` draws its parameters from ``numpy.random.SeedSequence(seed)``'s ``i``-th
        child (:func:`sample_params`), and ``trial.rng`` from that child's first child. ``None``
        draws a fresh seed (``result.seed`` says which).
    executor : None, int, concurrent.futures.Executor or distributed.Client
        ``None`` runs the trials one by one in this process; an int ``n`` runs them in ``n``
        worker processes of the search's own (fresh interpreters: a script needs the usual
        ``if __name__ == "__main__":`` guard); any ``concurrent.futures.Executor``; or a Dask
        ``distributed.Client``, for a cluster or a ``LocalCluster`` on this machine: the same
        call runs on a laptop or a cluster.
    storage : path or None
        An SQLite file every finished trial is written to the moment it finishes; see below.
    pruner : Pruner or None
        ``MedianPruner`` or ``SuccessiveHalving``: stops trials whose curve is behind (status
        ``"pruned"``, curve kept); see :mod:`optim.search.pruners`.
    retries : int
        How many times a trial lost with its worker (the process died) runs again before it
        is recorded as failed.
    callback : callable or None
        ``callback(trial_result)``, called here as each trial this process ran finishes.
    timeout : float or None
        Seconds a trial may run. A trial past it is stopped and recorded as ``"failed"`` (a
        ``TimeoutError``, with its time), and the search goes on. It applies where the trial
        runs in a process the search can stop: with ``executor=n`` its worker process is ended
        (a new one takes its place; the other trials go on), on Dask its worker is restarted
        (Dask workers in processes, with a nanny); with ``executor=None`` each trial runs in a
        process of its own (so the objective must be picklable). A ``concurrent.futures``
        executor of your own cannot stop one trial alone and takes no timeout.

    Returns
    -------
    SearchResult
        Every trial (``number, params, value, metrics, status, error, curve, seconds, round``),
        ``.best``, ``.best_params``, tables and pictures.

    Notes
    -----
    **The same trials everywhere**: the parameters depend only on the seed and the trial's
    number, so every executor tries the same ones, and without a pruner a deterministic
    objective gives the same results on every executor. Each trial runs NumPy's BLAS with one
    thread, or with the count ``ag.set_num_threads`` set here before the search, wherever it
    runs: the workers do not fight over the cores, and a long dot product (whose last bits
    depend on the count) comes out the same on every executor. With a pruner, a trial is compared
    with the trials that had finished when it started, so a parallel search's results depend on
    which trials finished first (serially, trial ``i`` sees every trial before it).

    **Failures never stop the search**: a trial that raises is recorded as ``"failed"`` with its
    traceback; one whose value is NaN or infinite (or too large for a float) as ``"diverged"``;
    a trial lost with its worker runs again, up to ``retries`` times, then is recorded as
    failed. When a ``concurrent.futures`` process pool of your own breaks, every trial in it is
    lost and the pool is replaced; those trials run again one at a time, uncharged, so that a
    retry is only counted against the trial that killed its worker. A KeyboardInterrupt
    (Ctrl-C, or raised by the objective) stops the search: it propagates after the trials that
    had finished are recorded.

    **The metric** is checked on the first result that comes back: if the objective returns a
    dict without ``metric`` (or something that is not a number or a dict of numbers), the search
    stops at once with a ValueError saying what it returned, and records nothing of that trial
    (so the corrected objective starts clean). A later trial that does so is recorded as failed.
    Every other mistake in the arguments raises before any trial runs.

    **storage** (e.g. ``"search.sqlite"``): each finished trial is written to that SQLite file
    at once. Stopped half way by Ctrl-C or a crash, the same call with the same storage resumes:
    trials on disk are not run again, except failed ones (often a fixed bug or a lost machine),
    which are. The file refuses a search with another seed, metric, mode or space. Several
    processes on one machine may run the same search on one file at once: each trial is claimed
    before it runs, so they share the trials, none is recorded twice, the trials of a driver
    that died are taken over, and each returns the whole result. SQLite's locking is not to be
    trusted on a network file system (NFS, SMB): keep the file on a local disk, and to use
    several machines, give one driver a Dask cluster. A lock held by another program is waited
    for, never a lost trial. :func:`load` reads the file back.

    >>> from optim import search
    >>> def objective(params, trial):
    ...     return -(np.log10(params["lr"]) + 2) ** 2          # best at lr = 0.01
    >>> result = search.random_search(objective, {"lr": search.LogUniform(1e-4, 1.0)}, n_trials=20)
    >>> len(result.trials), 0.003 < result.best_params["lr"] < 0.03
    (20, True)
    """
    space = _check_space(space)
    n_trials = check_int(n_trials, "n_trials", "random_search", low=1)
    options = _Options(objective, metric, mode, seed, executor, storage, pruner, retries, callback, timeout)
    return _run(options, space, RandomSampler(n_trials))


def coarse_to_fine(
    objective: Objective,
    space: Mapping[str, Distribution],
    rounds: int = 3,
    n_trials: int | Sequence[int] = 25,
    top: int = 5,
    margin: float = 0.5,
    **options: Any,
) -> SearchResult:
    """Coarse to fine: round 1 samples the whole ``space``; each later round samples the box
    around the ``top`` best trials of all rounds before it (:meth:`SearchResult.zoom` with
    ``margin``, on each parameter's own scale, inside the original bounds).

    ``n_trials`` is the number of trials per round, or one number per round (e.g. ``[30, 15,
    15]``). The other keywords are :func:`random_search`'s (``metric``, ``mode``, ``seed``,
    ``executor``, ``storage``, ``pruner``, ``retries``, ``callback``, ``timeout``); one pool or
    client serves every round. Trials are numbered across rounds and carry their ``round``; resuming from
    ``storage`` redoes the zooms from the recorded trials, so it picks up in any round. If a
    round ends with no complete trial, the next one searches the same space again (with a warning).

    >>> from optim import search
    >>> def objective(params, trial):
    ...     return -(np.log10(params["lr"]) + 2) ** 2
    >>> result = search.coarse_to_fine(objective, {"lr": search.LogUniform(1e-4, 1.0)}, rounds=2, n_trials=10)
    >>> [t.round for t in result.trials].count(2), result.spaces[2]["lr"].high < 1.0
    (10, True)
    """
    space = _check_space(space, "coarse_to_fine")
    rounds = check_int(rounds, "rounds", "coarse_to_fine", low=1)
    if isinstance(n_trials, Sequence):
        counts = [check_int(n, "n_trials", "coarse_to_fine", low=1) for n in n_trials]
        if len(counts) != rounds:
            raise ValueError(f"coarse_to_fine: n_trials has {len(counts)} entries for {rounds} rounds")
    else:
        counts = [check_int(n_trials, "n_trials", "coarse_to_fine", low=1)] * rounds
    top = check_int(top, "top", "coarse_to_fine", low=1)
    margin = check_real(margin, "margin", "coarse_to_fine", low=0)
    known = set(inspect.signature(random_search).parameters) - {"objective", "space", "n_trials"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(f"coarse_to_fine: unknown option(s) {unknown}; the options are {sorted(known)}")
    defaults = {k: p.default for k, p in inspect.signature(random_search).parameters.items() if k in known}
    opts = _Options(objective, **{**defaults, **options})
    return _run(opts, space, ZoomSampler(counts, top, margin))


def load(path: str | os.PathLike[str]) -> SearchResult:
    """The :class:`SearchResult` recorded in a search's storage file (read only; never unpickled).

    Parameter values come back as they were drawn (numbers, strings, tuples, ...); a Choice
    option that is another kind of object comes back as its ``repr``.
    """
    with SQLiteStorage(path, readonly=True) as store:
        meta = store.meta()
        spaces = store.spaces()
        trials = sorted(store.trials().values(), key=lambda t: t.number)
    if "metric" not in meta or not spaces:
        raise ValueError(f"search.load: {os.fspath(path)} holds no search yet")
    return SearchResult(
        trials,
        metric=meta["metric"],
        mode=meta["mode"],
        seed=meta["seed"],
        space=spaces[min(spaces)],
        spaces=spaces,
        path=os.fspath(path),
    )


__all__ = ["random_search", "coarse_to_fine", "load"]
