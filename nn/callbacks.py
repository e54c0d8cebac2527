"""Callbacks: code that :func:`nn.fit` runs at named points of training (Keras's hook names).

``fit`` calls, in this order::

    on_train_begin(logs)
    for each epoch:   on_epoch_begin(epoch, logs)
                      for each batch: on_batch_end(batch, logs)     logs: this batch's loss and metrics
                      on_epoch_end(epoch, logs)                      logs: the epoch's loss, metrics, val_*
    on_train_end(logs)                                               always, however training ends

Epochs are numbered from 0, as in Keras (the progress display counts from 1). Before
``on_train_begin`` each callback gets ``model``, ``optimizer``, ``history`` (the
:class:`nn.History` being filled, earlier epochs included when resuming) and ``params``
(``epochs``, ``steps`` per epoch, ``batch_size``, ``samples`` and ``metrics``: the names
``on_epoch_end`` will see). Setting ``self.stop_training = True`` stops training: after
the current batch when set in ``on_batch_end`` (that epoch is then cut short: not
recorded, validated or checkpointed), after the current epoch when set in ``on_epoch_end``.

>>> class PrintLR(nn.Callback):
...     def on_epoch_end(self, epoch, logs):
...         print(f"epoch {epoch}: lr {self.optimizer.lr:g}, loss {logs['loss']:.3f}")
"""

from __future__ import annotations

import math
import os
import warnings
from typing import Any

import numpy as np

from .module import Module
from .saving import save

__all__ = ["Callback", "CallbackList", "EarlyStopping", "ModelCheckpoint", "TerminateOnNaN"]


class Callback:
    """Base class: override the hooks you need; each does nothing by default."""

    model: Module | None = None
    optimizer: Any = None
    history: Any = None
    params: dict[str, Any] = {}
    stop_training: bool = False

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        """Before the first epoch (``model``, ``optimizer``, ``history`` and ``params`` are set)."""

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any]) -> None:
        """Before epoch ``epoch`` (from 0); ``logs`` are the previous epoch's."""

    def on_batch_end(self, batch: int, logs: dict[str, Any]) -> None:
        """After each training step; ``logs`` holds that batch's ``loss`` and training metrics."""

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        """After a complete epoch: ``logs`` holds ``loss``, the metrics and the ``val_`` ones."""

    def on_train_end(self, logs: dict[str, Any]) -> None:
        """After training, however it ended (finished, stopped, or interrupted by an exception)."""


class CallbackList(Callback):
    """Several callbacks as one: each event goes to every callback, in the list's order.

    ``nn.fit`` trains through one of these: the :class:`nn.History` first, then the user's
    callbacks, then the progress display and the checkpoint writer, so each of them sees
    the same events and the display and the checkpoint come after the user's changes.
    ``on_batch_end`` goes only to the callbacks that override it (a batch is the hot path).
    """

    def __init__(self, callbacks: list[Callback]) -> None:
        self.callbacks = list(callbacks)
        self._batch_hooks = [cb.on_batch_end for cb in self.callbacks if _overrides(cb, "on_batch_end")]

    def configure(self, model: Module, optimizer: Any, history: Any, params: dict[str, Any]) -> None:
        """Give every callback the model, optimizer, history and params; clear ``stop_training``."""
        for cb in [self, *self.callbacks]:
            cb.model, cb.optimizer, cb.params = model, optimizer, params
            if cb is not history:  # the History's own ``history`` is its dict of curves
                cb.history = history
            cb.stop_training = False

    @property
    def stopper(self) -> Callback | None:
        """The first callback that asked to stop training (None if none did)."""
        for cb in self.callbacks:  # checked after every batch: a plain loop is the cheapest
            if cb.stop_training:
                return cb
        return None

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        for cb in self.callbacks:
            cb.on_train_begin(logs)

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any]) -> None:
        for cb in self.callbacks:
            cb.on_epoch_begin(epoch, logs)

    def on_batch_end(self, batch: int, logs: dict[str, Any]) -> None:
        for hook in self._batch_hooks:
            hook(batch, logs)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        for cb in self.callbacks:
            cb.on_epoch_end(epoch, dict(logs))  # a copy each: one callback's edits never reach another

    def on_train_end(self, logs: dict[str, Any]) -> None:
        for cb in self.callbacks:
            cb.on_train_end(dict(logs))


def _overrides(cb: Callback, hook: str) -> bool:
    """Whether ``cb`` does something at ``hook`` (the base class's hooks do nothing)."""
    return getattr(getattr(cb, hook), "__func__", None) is not getattr(Callback, hook)


def _mode(owner: str, monitor: str, mode: str) -> str:
    """``"min"`` or ``"max"``: ``"auto"`` is max for accuracies, min for everything else (losses)."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{owner}: mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        return "max" if "acc" in monitor else "min"
    return mode


def _check_monitor(owner: str, monitor: str, params: dict[str, Any]) -> None:
    """Refuse, before training starts, a monitored name that ``on_epoch_end`` will never see."""
    names = list(params.get("metrics", ()))
    if monitor not in names:
        hint = ""
        if monitor.startswith("val_"):
            hint = " (validation values need validation_data= or validation_split=)"
        raise ValueError(f"{owner}: monitor {monitor!r} is not logged by this fit{hint}; it logs {names}")


class _Monitor(Callback):
    """What EarlyStopping and ModelCheckpoint share: a monitored value and which way is better."""

    def __init__(self, monitor: str, mode: str, min_delta: float = 0.0) -> None:
        self.monitor = monitor
        self.mode = _mode(type(self).__name__, monitor, mode)
        self.min_delta = abs(float(min_delta))
        self.best: float = math.inf if self.mode == "min" else -math.inf

    def improved(self, value: float) -> bool:
        """True when ``value`` beats ``best`` by more than ``min_delta`` (NaN never does)."""
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


class EarlyStopping(_Monitor):
    """Stop when ``monitor`` has not improved for ``patience`` epochs in a row.

    An epoch improves when its value beats the best so far by more than ``min_delta``
    (lower for ``mode="min"``, higher for ``"max"``; ``"auto"`` is max for names holding
    ``acc``, min otherwise). Training stops at the end of the ``patience``-th epoch in a row
    without improvement (``patience`` 0 and 1 both stop at the first, as in Keras).

    ``restore_best_weights=True`` puts the weights (and running statistics) of the best
    epoch back into the model when training ends, *however* it ends: stopped by this
    callback, run to ``epochs``, stopped by another callback or interrupted. (Keras
    restores only when this callback stopped training.) After training, ``best``,
    ``best_epoch`` and ``stopped_epoch`` (None if it did not stop training) tell what happened.

    When fit resumes from a checkpoint, the best value and the patience count are
    replayed from the resumed history; the best epoch's weights are known only if it is
    in this run (save them with ``ModelCheckpoint(path, save_best_only=True)`` to keep them).

    >>> stop = nn.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
    >>> history = nn.fit(model, x, y, loss=nn.softmax_cross_entropy, optimizer=opt, epochs=100,
    ...                  validation_split=0.2, callbacks=[stop])    # doctest: +SKIP
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 0,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_weights: bool = False,
    ) -> None:
        if isinstance(patience, bool) or not isinstance(patience, (int, np.integer)) or patience < 0:
            raise ValueError(f"EarlyStopping: patience must be a non-negative integer, got {patience!r}")
        super().__init__(monitor, mode, min_delta)
        self.patience = int(patience)
        self.restore_best_weights = bool(restore_best_weights)
        self._reset()

    def _reset(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch: int | None = None
        self.best_weights: dict[str, np.ndarray] | None = None
        self.stopped_epoch: int | None = None
        self.wait = 0

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        _check_monitor("EarlyStopping", self.monitor, self.params)
        self._reset()
        if self.history is not None:  # resuming: replay the epochs already trained
            for epoch, value in zip(self.history.epoch, self.history.history.get(self.monitor, [])):
                self._see(epoch, value, keep_weights=False)

    def _see(self, epoch: int, value: float, keep_weights: bool) -> None:
        if self.improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            self.best_weights = self.model.state_dict() if keep_weights and self.restore_best_weights else None
        else:
            self.wait += 1

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        self._see(epoch, float(logs[self.monitor]), keep_weights=True)
        if self.wait and self.wait >= max(self.patience, 1):
            self.stopped_epoch = epoch
            self.stop_training = True

    def on_train_end(self, logs: dict[str, Any]) -> None:
        if not self.restore_best_weights or self.best_epoch is None:
            return
        if self.best_weights is None:
            warnings.warn(
                f"EarlyStopping: the best {self.monitor} was at epoch {self.best_epoch}, before this run resumed; "
                "its weights are not in memory, so the model keeps its last weights "
                "(ModelCheckpoint(path, save_best_only=True) keeps the best on disk)",
                stacklevel=2,
            )
            return
        self.model.load_state_dict(self.best_weights)


class ModelCheckpoint(_Monitor):
    """Save the model (``nn.save``: parameters and running statistics, an atomic ``.npz``) after each epoch.

    ``path`` may hold ``{epoch}`` (counted from 1) and the logged values, formatted as
    with ``str.format``: ``"model-{epoch:02d}-{val_loss:.3f}.npz"``. With
    ``save_best_only=True`` a file is written only when ``monitor`` improves (``mode`` as
    in :class:`EarlyStopping`), so ``path`` always holds the best model so far. An epoch
    whose monitored value (or loss) is NaN or infinite is never saved. ``nn.load(model, path)``
    reads it back. To resume training (optimizer, schedule and history too), use
    ``nn.fit(..., checkpoint=path)`` instead.
    """

    def __init__(
        self, path: str | os.PathLike[str], monitor: str = "val_loss", save_best_only: bool = False, mode: str = "auto"
    ) -> None:
        super().__init__(monitor, mode)
        self.path = path
        self.save_best_only = bool(save_best_only)
        self.last_saved: str | None = None

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        if self.save_best_only:
            _check_monitor("ModelCheckpoint", self.monitor, self.params)
        self.best = math.inf if self.mode == "min" else -math.inf

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        watched = float(logs[self.monitor]) if self.monitor in logs else float(logs.get("loss", 0.0))
        if not math.isfinite(watched) or not math.isfinite(float(logs.get("loss", 0.0))):
            return
        if self.save_best_only:
            if not self.improved(watched):
                return
            self.best = watched
        try:
            path = os.fspath(self.path).format(epoch=epoch + 1, **logs)
        except (KeyError, IndexError, ValueError) as err:
            raise ValueError(
                f"ModelCheckpoint: cannot fill in the path {os.fspath(self.path)!r} ({err!r}); it may use {{epoch}} "
                f"and the logged names {sorted(logs)}"
            ) from None
        save(self.model, path)
        self.last_saved = path


class TerminateOnNaN(Callback):
    """Stop training as soon as a batch's loss is NaN or infinite.

    The epoch it happens in is cut short: it is not recorded in the history, not
    validated, and ``nn.fit(..., checkpoint=...)`` does not write it, so the checkpoint
    on disk stays the last good epoch's: resume from it with a lower learning rate
    (``nn.fit(..., resume=path, lr=...)``). ``stopped_at`` is ``(epoch, batch)`` afterwards.
    """

    def __init__(self) -> None:
        self.stopped_at: tuple[int, int] | None = None
        self._epoch = 0

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        self.stopped_at = None

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any]) -> None:
        self._epoch = epoch

    def on_batch_end(self, batch: int, logs: dict[str, Any]) -> None:
        if not math.isfinite(logs["loss"]):
            self.stopped_at = (self._epoch, batch)
            self.stop_training = True
