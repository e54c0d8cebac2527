"""Pruners: stop the trials whose learning curve is clearly behind.

A pruner looks at the curve a trial has reported so far (``trial.report(step, metric=...)``)
and at the curves of the trials it is compared with, and says whether to stop it. The
objective asks with ``trial.should_stop()`` and returns early; the trial is then recorded as
``"pruned"`` with its curve.

How the comparison crosses processes: a trial is handed, when it is submitted, the curves of
the trials that had finished by then (the search's metric only). ``should_stop()`` then decides
inside the trial's own process, with no shared state, so it works the same in this process,
in a process pool and on a Dask worker (Dask cannot cancel a running task: the trial stops
itself). Run one by one, trial ``i`` is compared with every trial before it; in parallel, with
those finished when it started (the ``n_workers`` trials running beside it are not seen), so a
parallel search's results with a pruner depend on which trials finished first, and may differ
from run to run and from the serial run (without a pruner they are the same on every executor).
The driver keeps no more trials in flight than there are workers when a pruner is set, so the
curves are as fresh as they can be.

>>> pruner = MedianPruner(warmup_steps=1, n_startup_trials=2)
>>> others = [[(0, 0.5), (1, 0.8)], [(0, 0.4), (1, 0.7)]]
>>> pruner.prune([(0, 0.3), (1, 0.5)], others, mode="max")   # 0.5 < median(0.8, 0.7)
True
>>> pruner.prune([(0, 0.3)], others, mode="max")             # step 0 is within the warm-up
False
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from autograd_core._checks import check_int, check_real

Curve = Sequence[tuple[float, float]]  # (step, value) pairs in step order


def _better(a: float, b: float, mode: str) -> bool:
    """``a`` is strictly better than ``b``."""
    return a > b if mode == "max" else a < b


def _best_until(curve: Curve, step: float, mode: str) -> float | None:
    """The best finite value reported at steps ≤ ``step`` (None if there is none)."""
    values = [v for s, v in curve if s <= step and math.isfinite(v)]
    if not values:
        return None
    return max(values) if mode == "max" else min(values)


class Pruner:
    """The interface: :meth:`prune` says whether a trial should stop."""

    def prune(self, own: Curve, others: Sequence[Curve], mode: str) -> bool:
        """True when the trial whose curve is ``own`` is behind the ``others`` (``mode``: "max"/"min")."""
        raise NotImplementedError


class MedianPruner(Pruner):
    """Stop a trial whose best value so far is worse than the median of the others' at the same step.

    At a trial's latest reported step ``s`` (once ``s >= warmup_steps`` and at least
    ``n_startup_trials`` trials have finished), take each finished trial that reached step ``s``
    and its best value up to ``s``; if fewer than ``n_min_trials`` did, keep going. The trial
    stops when its own best value up to ``s`` is worse than their median. A NaN or infinite
    latest value stops it at once. Optuna's ``MedianPruner`` follows the same rule.
    """

    def __init__(self, warmup_steps: int = 0, n_startup_trials: int = 5, n_min_trials: int = 1) -> None:
        self.warmup_steps = check_int(warmup_steps, "warmup_steps", "MedianPruner", low=0)
        self.n_startup_trials = check_int(n_startup_trials, "n_startup_trials", "MedianPruner", low=0)
        self.n_min_trials = check_int(n_min_trials, "n_min_trials", "MedianPruner", low=1)

    def prune(self, own: Curve, others: Sequence[Curve], mode: str) -> bool:
        if not own:
            return False
        step, value = own[-1]
        if not math.isfinite(value):
            return True
        if step < self.warmup_steps or len(others) < self.n_startup_trials:
            return False
        theirs = [_best_until(c, step, mode) for c in others if c and c[-1][0] >= step]
        theirs = [v for v in theirs if v is not None]
        if len(theirs) < self.n_min_trials:
            return False
        mine = _best_until(own, step, mode)
        return mine is None or _better(float(np.median(theirs)), mine, mode)

    def __repr__(self) -> str:
        return (
            f"MedianPruner(warmup_steps={self.warmup_steps}, n_startup_trials={self.n_startup_trials}, "
            f"n_min_trials={self.n_min_trials})"
        )


class SuccessiveHalving(Pruner):
    """Asynchronous successive halving (ASHA): at each rung keep only the top ``1/eta``.

    Rungs are at steps ``min_steps · etaᵏ`` (k = 0, 1, ...; with the defaults 1, 3, 9, 27, ...).
    When a trial has reached a rung, its value there (its best value up to the first step it
    reported at or after the rung) is ranked with the values of the finished trials that reached
    the same rung; it goes on only if it is among the best ``max(1, n // eta)`` of those ``n``
    values, itself included. A NaN or infinite latest value stops it at once.
    """

    def __init__(self, min_steps: float = 1, eta: float = 3) -> None:
        check_real(min_steps, "min_steps", "SuccessiveHalving", low=0, low_open=True)
        check_real(eta, "eta", "SuccessiveHalving", low=1, low_open=True)
        self.min_steps = min_steps  # as given: an int stays an int in the rungs and the repr
        self.eta = eta

    def rung(self, step: float) -> float | None:
        """The highest rung at or below ``step`` (None below the first)."""
        if step < self.min_steps:
            return None
        r = self.min_steps
        while r * self.eta <= step:
            r *= self.eta
        return r

    @staticmethod
    def _value_at(curve: Curve, rung: float, mode: str) -> float | None:
        reached = [s for s, _ in curve if s >= rung]
        return _best_until(curve, min(reached), mode) if reached else None

    def prune(self, own: Curve, others: Sequence[Curve], mode: str) -> bool:
        if not own:
            return False
        step, value = own[-1]
        if not math.isfinite(value):
            return True
        rung = self.rung(step)
        if rung is None:
            return False
        mine = self._value_at(own, rung, mode)
        if mine is None:
            return True
        theirs = [v for v in (self._value_at(c, rung, mode) for c in others) if v is not None]
        keep = max(1, int((len(theirs) + 1) // self.eta))
        return sum(_better(v, mine, mode) for v in theirs) >= keep

    def __repr__(self) -> str:
        return f"SuccessiveHalving(min_steps={self.min_steps}, eta={self.eta})"
