"""Callbacks: code that :func:`nn.fit` runs at named points of training (Keras's hook names).

``fit`` calls, in this order::

    on_train_begin(logs)
    for each epoch:   on_epoch_begin(epoch, logs)
                      for each batch: on_batch_end(batch, logs)     logs: this batch's loss and metrics
                      on_epoch_end(epoch, logs)                      logs: the epoch's loss, metrics, val_*
    on_train_end(logs)                                               always, however training ends

Epochs are numbered from 0, as in Keras (the log, the plots and messages count from 1:
epoch 5 is "Epoch 6/40"). Before ``on_train_begin`` each callback gets ``model``,
``optimizer``, ``history`` (the :class:`nn.History` being filled) and ``params``
(``epochs``, ``steps`` per epoch, ``batch_size``, ``samples`` and ``metrics``: the names
``on_epoch_end`` will see). Setting ``self.stop_training = True`` stops training: after
the current batch when set in ``on_batch_end`` (that epoch is then cut short: not
recorded, validated or checkpointed), after the current epoch when set in ``on_epoch_end``.

A callback keeps state across ``nn.fit(..., checkpoint=..., resume=...)`` by defining
``state_dict()`` (a dict of name → number, string or array) and ``load_state_dict(d)``:
the state is written into every checkpoint, and a resumed ``fit`` hands it back to the
callback of the same class (the k-th of its class in ``callbacks``) right after every
callback's ``on_train_begin``, so resetting in ``on_train_begin`` (as Keras's callbacks do)
is fine. The model, optimizer, schedule and history are restored at that same moment, all
or nothing; from the first ``on_epoch_begin`` on, a resumed run looks like the uninterrupted one.

>>> class PrintLR(nn.Callback):
...     def on_epoch_end(self, epoch, logs):
...         print(f"epoch {epoch}: lr {self.optimizer.lr:g}, loss {logs['loss']:.3f}")
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from autograd_core._checks import check_bool, check_choice, check_int, check_real
from autograd_core.serialization import save_arrays

from .module import Module

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
    check_choice(mode, "mode", owner, ("auto", "min", "max"))
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


def _entry(state: Mapping[str, Any], key: str, owner: str) -> np.ndarray:
    if key not in state:
        raise ValueError(f"{owner}.load_state_dict: {key!r} is missing from the state")
    value = np.asarray(state[key])
    if value.shape != ():
        raise ValueError(f"{owner}.load_state_dict: {key!r} must be a single value, got shape {value.shape}")
    return value


def _number(state: Mapping[str, Any], key: str, owner: str, whole: bool = False) -> float:
    value = _entry(state, key, owner)
    if value.dtype.kind not in ("iu" if whole else "iuf"):
        raise ValueError(f"{owner}.load_state_dict: {key!r} must be a {'whole ' if whole else ''}number, got {value!r}")
    return int(value) if whole else float(value)


class _Monitor(Callback):
    """What EarlyStopping and ModelCheckpoint share: a monitored value, which way is better, the best so far.

    Their state (``state_dict()``/``load_state_dict(d)``) goes into ``nn.fit``'s checkpoints,
    so a resumed run goes on from the best value seen before the interruption.
    """

    def __init__(self, monitor: str, mode: str, min_delta: float = 0.0) -> None:
        owner = type(self).__name__
        if not isinstance(monitor, str):
            raise TypeError(f"{owner}: monitor must be a logged name such as 'val_loss', got {monitor!r}")
        self.monitor = monitor
        self.mode = _mode(owner, monitor, mode)
        self.min_delta = abs(check_real(min_delta, "min_delta", owner))
        self._reset()

    def _reset(self) -> None:
        self.best: float = math.inf if self.mode == "min" else -math.inf
        self.best_epoch: int | None = None

    def improved(self, value: float) -> bool:
        """True when ``value`` is the first number seen, or beats ``best`` by more than ``min_delta``.

        NaN never improves (nor does anything on NaN).
        """
        if math.isnan(value):
            return False
        if self.best_epoch is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def state_dict(self) -> dict[str, np.ndarray]:
        """``monitor``, ``best`` and ``best_epoch`` (-1: none yet), as arrays."""
        return {
            "monitor": np.array(self.monitor),
            "best": np.array(self.best, dtype=np.float64),
            "best_epoch": np.array(-1 if self.best_epoch is None else self.best_epoch, dtype=np.int64),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Take back what :meth:`state_dict` gave; a state of another monitored name is refused."""
        owner = type(self).__name__
        monitor = str(_entry(state, "monitor", owner))
        if monitor != self.monitor:
            raise ValueError(f"{owner}.load_state_dict: the state watched {monitor!r}, this callback {self.monitor!r}")
        best = _number(state, "best", owner)
        best_epoch = _number(state, "best_epoch", owner, whole=True)
        self.best, self.best_epoch = best, (None if best_epoch < 0 else int(best_epoch))


class EarlyStopping(_Monitor):
    """Stop when ``monitor`` has not improved for ``patience`` epochs in a row.

    An epoch improves when its value beats the best so far by more than ``min_delta``
    (lower for ``mode="min"``, higher for ``"max"``; ``"auto"`` is max for names holding
    ``acc``, min otherwise); the first value that is a number always does, and NaN never
    does. Training stops at the end of the ``patience``-th epoch in a row without
    improvement (``patience`` 0 and 1 both stop at the first), but never at the first epoch
    (epoch 0), as in Keras 3.

    ``restore_best_weights=True`` puts the weights (and running statistics) of the best
    epoch back into the model when training ends, *however* it ends: stopped by this
    callback, run to ``epochs``, stopped by another callback or interrupted, as Keras 3
    does. After training, ``best``, ``best_epoch`` and ``stopped_epoch`` (None if it did not
    stop training) tell what happened; epochs count from 0, as the hooks receive them.

    Its state (best value, epoch and weights, and the count of epochs without improvement)
    goes into ``nn.fit(..., checkpoint=...)``'s file, so a resumed run stops and restores
    exactly as the uninterrupted one would.

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
        self.patience = check_int(patience, "patience", "EarlyStopping", low=0)
        self.restore_best_weights = check_bool(restore_best_weights, "restore_best_weights", "EarlyStopping")
        super().__init__(monitor, mode, min_delta)

    def _reset(self) -> None:
        super()._reset()
        self.best_weights: dict[str, np.ndarray] | None = None
        self.stopped_epoch: int | None = None
        self.wait = 0

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        _check_monitor("EarlyStopping", self.monitor, self.params)
        self._reset()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        value = float(logs[self.monitor])
        if self.improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.model.state_dict()
        else:
            self.wait += 1
            if self.wait >= max(self.patience, 1) and epoch > 0:
                self.stopped_epoch = epoch
                self.stop_training = True

    def on_train_end(self, logs: dict[str, Any]) -> None:
        if not self.restore_best_weights or self.best_epoch is None:
            return
        if self.best_weights is None:
            warnings.warn(
                f"EarlyStopping: the best {self.monitor} was at epoch {self.best_epoch + 1}, before this run resumed "
                "from a checkpoint that did not keep its weights, so the model keeps its last weights",
                stacklevel=2,
            )
            return
        self.model.load_state_dict(self.best_weights)

    def state_dict(self) -> dict[str, np.ndarray]:
        """The monitored name, ``best``, ``best_epoch``, ``wait``, ``stopped_epoch`` (-1: none) and
        the best weights (``weights/<name>``) when restoring them."""
        state = super().state_dict()
        state["wait"] = np.array(self.wait, dtype=np.int64)
        state["stopped_epoch"] = np.array(-1 if self.stopped_epoch is None else self.stopped_epoch, dtype=np.int64)
        if self.best_weights is not None:
            state.update({f"weights/{k}": v for k, v in self.best_weights.items()})
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Take back what :meth:`state_dict` gave (everything is checked before anything changes)."""
        wait = _number(state, "wait", "EarlyStopping", whole=True)
        stopped = _number(state, "stopped_epoch", "EarlyStopping", whole=True)
        if wait < 0:
            raise ValueError(f"EarlyStopping.load_state_dict: 'wait' must not be negative, got {wait}")
        weights = {k[len("weights/") :]: np.array(v) for k, v in state.items() if k.startswith("weights/")}
        super().load_state_dict(state)
        self.wait = int(wait)
        self.stopped_epoch = None if stopped < 0 else int(stopped)
        self.best_weights = weights if weights and self.restore_best_weights else None


class ModelCheckpoint(_Monitor):
    """Save the model (``nn.save``: parameters and running statistics, an atomic ``.npz``) after each epoch.

    ``path`` may hold ``{epoch}`` (counted from 1) and the logged values, formatted as
    with ``str.format``: ``"model-{epoch:02d}-{val_loss:.3f}.npz"``. With
    ``save_best_only=True`` a file is written only when ``monitor`` improves (``mode`` as
    in :class:`EarlyStopping`), so ``path`` always holds the best model so far; its best
    value goes into ``nn.fit(..., checkpoint=...)``'s file, so a resumed run never replaces
    the best model with a worse one. An epoch whose monitored value (or loss) or whose
    weights are NaN or infinite is never saved. ``nn.load(model, path)`` reads it back. To
    resume training (optimizer, schedule and history too), use ``nn.fit(..., checkpoint=path)``.
    """

    def __init__(
        self, path: str | os.PathLike[str], monitor: str = "val_loss", save_best_only: bool = False, mode: str = "auto"
    ) -> None:
        super().__init__(monitor, mode)
        self.path = path
        self.save_best_only = check_bool(save_best_only, "save_best_only", "ModelCheckpoint")
        self.last_saved: str | None = None

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        if self.save_best_only:
            _check_monitor("ModelCheckpoint", self.monitor, self.params)
        self._reset()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        watched = float(logs[self.monitor]) if self.monitor in logs else float(logs.get("loss", 0.0))
        if not math.isfinite(watched) or not math.isfinite(float(logs.get("loss", 0.0))):
            return
        if self.save_best_only and not self.improved(watched):
            return
        try:
            path = os.fspath(self.path).format(epoch=epoch + 1, **logs)
        except (KeyError, IndexError, ValueError) as err:
            raise ValueError(
                f"ModelCheckpoint: cannot fill in the path {os.fspath(self.path)!r} ({err!r}); it may use {{epoch}} "
                f"and the logged names {sorted(logs)}"
            ) from None
        state = self.model.state_dict()
        if not all(np.isfinite(v).all() for v in state.values() if v.dtype.kind == "f"):
            return
        save_arrays(path, state)
        self.best, self.best_epoch, self.last_saved = watched, epoch, path


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
