"""``FitPruning``: pruning inside :func:`nn.fit`, as Optuna's ``KerasPruningCallback`` does for Keras.

This module imports ``nn``; :mod:`optim.search` imports it only when ``search.FitPruning`` is
first used.
"""

from __future__ import annotations

from typing import Any

import nn

from .trial import Trial


def _better_when(name: str) -> str | None:
    """Which way a metric of this name is better, when the name says it (losses and accuracies)."""
    if "loss" in name:
        return "min"
    if "acc" in name:
        return "max"
    return None


class FitPruning(nn.Callback):
    """Report ``monitor`` to the trial after every epoch of :func:`nn.fit`; stop the fit when the
    search's pruner says the trial is behind.

    After each epoch it calls ``trial.report(epoch, **{monitor: logs[monitor]})`` (``epoch`` as
    the callbacks receive it, from 0), then sets ``stop_training`` when ``trial.should_stop()``:
    the fit ends after that epoch, and the trial is recorded as ``"pruned"`` with its curve.

    The search's ``metric`` must be ``monitor`` (the pruner compares the trials' curves of that
    metric), and its ``mode`` must fit the name: ``"min"`` for a loss, ``"max"`` for an accuracy.
    A mismatch, or a ``monitor`` that this fit does not log, is a ValueError at the first report.

    Parameters
    ----------
    trial : Trial
        The objective's second argument.
    monitor : str
        A name ``nn.fit`` logs: ``"loss"``, a metric, or their ``val_`` forms (which need
        ``validation_data=`` or ``validation_split=``).

    Examples
    --------
    ::

        def objective(params, trial):
            model = ...
            history = nn.fit(model, x, y, loss=nn.softmax_cross_entropy, optimizer=optim.Adam(...),
                             epochs=20, validation_split=0.2, metrics=["accuracy"],
                             callbacks=[search.FitPruning(trial, monitor="val_accuracy")])
            return {"val_accuracy": history.history["val_accuracy"][-1]}

        search.random_search(objective, space, metric="val_accuracy", mode="max",
                             pruner=search.MedianPruner(warmup_steps=2))
    """

    def __init__(self, trial: Trial, monitor: str = "val_loss") -> None:
        if not isinstance(trial, Trial):
            raise TypeError(
                f"FitPruning: trial must be the search's Trial (the objective's second argument), got {trial!r}"
            )
        if not isinstance(monitor, str) or not monitor:
            raise TypeError(f"FitPruning: monitor must be the name of a logged value, e.g. 'val_loss', got {monitor!r}")
        self.trial = trial
        self.monitor = monitor
        self.checked = False

    def _check(self, logs: dict[str, Any]) -> None:
        monitor, trial = self.monitor, self.trial
        if monitor not in logs:
            validating = any(k.startswith("val_") for k in logs)
            hint = " (validation values need validation_data= or validation_split=)" if not validating else ""
            hint = hint if monitor.startswith("val_") else ""
            raise ValueError(f"FitPruning: monitor {monitor!r} is not logged by this fit{hint}; it logs {sorted(logs)}")
        if monitor != trial.metric:
            raise ValueError(
                f"FitPruning: monitor {monitor!r} is not the search's metric {trial.metric!r}, so the pruner would "
                f"compare nothing; monitor {trial.metric!r}, or run the search with metric={monitor!r}"
            )
        better = _better_when(monitor)
        if better is not None and better != trial.mode:
            raise ValueError(
                f"FitPruning: the search keeps the {'largest' if trial.mode == 'max' else 'smallest'} {monitor!r} "
                f"(mode={trial.mode!r}), but {'a loss' if better == 'min' else 'an accuracy'} is better "
                f"{'smaller' if better == 'min' else 'larger'}: run the search with mode={better!r}"
            )
        self.checked = True

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        if not self.checked:
            self._check(logs)
        self.trial.report(epoch, **{self.monitor: logs[self.monitor]})
        if self.trial.should_stop():
            self.stop_training = True

    def __repr__(self) -> str:
        return f"FitPruning(trial={self.trial.number}, monitor={self.monitor!r})"


__all__ = ["FitPruning"]
