"""One trial: what the objective receives (:class:`Trial`), what the search records
(:class:`TrialResult`), and the function a worker runs (:func:`run_trial`).

The objective is called as ``objective(params, trial)`` wherever the trial runs: in this
process, in a process pool or on a Dask worker. It trains with ``params``, reports its
learning curve with ``trial.report(step, **metrics)``, may stop early when
``trial.should_stop()`` says so, and returns the final metrics (a dict, or a float for the
search's metric).
"""

from __future__ import annotations

import math
import numbers
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autograd_core._checks import check_real
from autograd_core.threads import blas_threads

from .pruners import Curve, Pruner

#: The statuses of a finished trial.
COMPLETE, PRUNED, FAILED, DIVERGED = "complete", "pruned", "failed", "diverged"
STATUSES = (COMPLETE, PRUNED, FAILED, DIVERGED)


class TrialPruned(Exception):
    """Raise it from the objective to stop a trial early (after ``trial.should_stop()`` said so).

    Returning early does the same; raising saves passing the metrics back: the trial's value
    is then the last one it reported.
    """


def seed_sequence(seed: int, number: int) -> np.random.SeedSequence:
    """Trial ``number``'s seed: the ``number``-th child of ``numpy.random.SeedSequence(seed)``.

    >>> seed_sequence(0, 3).spawn_key == np.random.SeedSequence(0).spawn(4)[3].spawn_key
    True
    """
    return np.random.SeedSequence(seed, spawn_key=(number,))


def _float(value: Any) -> float | None:
    """``value`` as a float (an integer too large for one, such as ``10**400``, is ±inf), or None
    when it is not a number."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.ndarray)):
        return None
    try:
        return float(value)
    except OverflowError:  # an int (or Fraction, Decimal) beyond float's range
        big: Any = value
        return math.inf if big > 0 else -math.inf
    except (TypeError, ValueError):
        return None


class Trial:
    """What the objective receives beside its ``params``.

    - ``number``: the trial's index in the search (0, 1, ...); ``round``: its coarse-to-fine round.
    - ``params``: the hyperparameters it tries (also the objective's first argument).
    - ``rng``: a ``numpy.random.Generator`` for the objective's own randomness (initial weights,
      shuffling), seeded from the trial's seed (the first child of :func:`seed_sequence`), so
      a trial gives the same result whichever process runs it.
    - ``report(step, **metrics)``: one point of the learning curve.
    - ``should_stop()``: True when the pruner says this trial is behind.

    >>> trial = Trial(0, {"lr": 0.1}, metric="dev_accuracy")
    >>> trial.report(1, dev_accuracy=0.8, loss=0.5)
    >>> trial.curve
    [{'step': 1, 'dev_accuracy': 0.8, 'loss': 0.5}]
    >>> trial.should_stop()        # no pruner: never
    False
    """

    def __init__(
        self,
        number: int,
        params: Mapping[str, Any],
        rng: np.random.Generator | None = None,
        round: int = 1,
        *,
        metric: str = "value",
        mode: str = "max",
        pruner: Pruner | None = None,
        others: Sequence[Curve] = (),
    ) -> None:
        self.number = number
        self.params = dict(params)
        self.rng = rng if rng is not None else np.random.default_rng(seed_sequence(0, number).spawn(1)[0])
        self.round = round
        self.metric = metric
        self.mode = mode
        self.pruner = pruner
        self.others = others
        self.curve: list[dict[str, Any]] = []
        self.stopped = False  # set once should_stop() has said True

    def report(self, step: int | float, **metrics: float) -> None:
        """Record the metrics at ``step`` (an epoch, a number of examples): one point of the curve.

        Steps must not decrease; reporting the same step again adds to that point.
        """
        check_real(step, "step", "trial.report")
        if not metrics:
            raise ValueError("trial.report: give at least one metric, e.g. trial.report(epoch, dev_accuracy=acc)")
        point: dict[str, Any] = {}
        for name, value in metrics.items():
            v = _float(value)
            if v is None:
                raise TypeError(f"trial.report: metric {name!r} must be a number, got {value!r}")
            point[name] = v
        step = int(step) if float(step).is_integer() else float(step)
        if self.curve and step < self.curve[-1]["step"]:
            raise ValueError(
                f"trial.report: step {step} comes after step {self.curve[-1]['step']}; steps must not decrease"
            )
        if self.curve and step == self.curve[-1]["step"]:
            self.curve[-1].update(point)
        else:
            self.curve.append({"step": step, **point})

    def own_curve(self) -> list[tuple[float, float]]:
        """This trial's ``(step, value)`` pairs of the search's metric."""
        return [(p["step"], p[self.metric]) for p in self.curve if self.metric in p]

    def should_stop(self) -> bool:
        """True when the pruner says this trial is behind (then it stays True).

        The trial decides in its own process, from its curve and the curves of the trials
        that had finished when it was submitted (see :mod:`optim.search.pruners`).
        """
        if self.pruner is not None and not self.stopped:
            self.stopped = bool(self.pruner.prune(self.own_curve(), self.others, self.mode))
        return self.stopped

    def __repr__(self) -> str:
        return f"Trial(number={self.number}, round={self.round}, params={self.params})"


@dataclass
class TrialResult:
    """A finished trial, as the search records it.

    ``status`` is ``"complete"``, ``"pruned"`` (stopped early; ``value`` is the last one it
    returned or reported), ``"failed"`` (it raised, or its worker was lost: ``error`` holds the
    traceback or the reason) or ``"diverged"`` (its value is NaN or infinite). ``curve`` is the
    list of reported points (``{"step": ..., metric: ...}``), ``seconds`` the objective's wall
    time, ``attempts`` how many times it was started (more than 1 after a lost worker).
    """

    number: int
    params: dict[str, Any]
    value: float | None
    metrics: dict[str, float]
    status: str
    error: str | None = None
    curve: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    round: int = 1
    attempts: int = 1

    @property
    def finished(self) -> bool:
        """True for a trial that ran to its end (status ``"complete"``)."""
        return self.status == COMPLETE

    def __repr__(self) -> str:
        value = "None" if self.value is None else f"{self.value:.6g}"
        return (
            f"TrialResult(number={self.number}, round={self.round}, status={self.status!r}, value={value}, "
            f"params={self.params})"
        )


@dataclass
class Task:
    """What a worker needs to run one trial (all of it is pickled to the worker)."""

    objective: Callable[..., Any]
    number: int
    round: int
    params: dict[str, Any]
    seed: int
    metric: str
    mode: str
    pruner: Pruner | None = None
    others: list[list[tuple[float, float]]] = field(default_factory=list)
    remote: bool = False  # in another process: a KeyboardInterrupt there is sent back, not raised
    threads: int | None = None  # BLAS threads, the driver's count (None: this process's, see ag.set_num_threads)


@dataclass(eq=False)  # hashable by identity: the serial backend's handle is the outcome itself
class Outcome:
    """What a worker sends back; the driver turns it into a :class:`TrialResult`."""

    number: int
    metrics: dict[str, float] | None = None
    problem: str | None = None  # the objective's return value broke the contract (what and why)
    pruned: bool = False
    error: str | None = None  # the traceback, when it raised
    curve: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    interrupted: bool = False
    restart: str | None = None  # a Dask worker to restart: the trial ran past its timeout there


def read_return(out: Any, metric: str, pruned: bool) -> tuple[dict[str, float] | None, str | None]:
    """The metrics an objective returned, or the reason they break the contract."""
    if out is None and pruned:
        return None, None
    v = _float(out)
    if v is not None and np.ndim(out) == 0:
        return {metric: v}, None
    if isinstance(out, Mapping):
        metrics: dict[str, float] = {}
        for name, value in out.items():
            v = _float(value)
            if v is None or np.ndim(value) != 0:
                return None, f"the objective returned {name!r}: {value!r}, which is not a number"
            metrics[str(name)] = v
        if metric not in metrics and not pruned:
            return None, (
                f"the objective returned the metrics {sorted(metrics)} but not {metric!r}, the metric the search "
                f"ranks by; return {metric!r} too, or pass metric= naming one of these"
            )
        return metrics, None
    return None, (
        f"the objective must return a number or a dict of numbers holding {metric!r}; "
        f"it returned {type(out).__name__} {out!r:.80}"
    )


def run_trial(task: Task) -> Outcome:
    """Run one trial (in whichever process this is) and say how it went. Never raises for the
    objective's errors; a KeyboardInterrupt is raised here, or sent back from another process.
    """
    ss = seed_sequence(task.seed, task.number)
    trial = Trial(
        task.number,
        task.params,
        np.random.default_rng(ss.spawn(1)[0]),
        task.round,
        metric=task.metric,
        mode=task.mode,
        pruner=task.pruner,
        others=task.others,
    )
    outcome = Outcome(task.number, curve=trial.curve)
    start = time.perf_counter()
    try:
        with blas_threads(task.threads):  # the same count on every executor: the same bits
            out = task.objective(dict(task.params), trial)
    except TrialPruned:
        outcome.pruned = True
    except KeyboardInterrupt:
        if not task.remote:
            raise
        outcome.interrupted = True
    except (Exception, SystemExit):
        outcome.error = traceback.format_exc()
    else:
        outcome.pruned = trial.stopped
        outcome.metrics, outcome.problem = read_return(out, task.metric, outcome.pruned)
    outcome.seconds = time.perf_counter() - start
    return outcome
