"""Training with Keras's ease: ``nn.fit``, ``nn.evaluate``, ``nn.predict``, ``nn.batches``, ``nn.accuracy``.

>>> import numpy as np, nn, optim
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=(200, 4)); y = (x[:, 0] > 0).astype(int)
>>> model = nn.Sequential(nn.Dense(4, 16, rng=0), nn.ReLU(), nn.Dense(16, 2, rng=1))
>>> history = nn.fit(model, x, y, loss=nn.softmax_cross_entropy, optimizer=optim.Adam(model.parameters(), lr=0.01),
...                  epochs=5, batch_size=32, validation_split=0.2, seed=0, metrics=["accuracy"], verbose=0)
>>> sorted(history.history), history.epoch
(['accuracy', 'loss', 'val_accuracy', 'val_loss'], [0, 1, 2, 3, 4])
>>> nn.evaluate(model, x, y, loss=nn.softmax_cross_entropy)["loss"] < history.history["loss"][0]
True
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from autograd_core import Tensor, no_grad
from autograd_core._optional import require

from . import checkpoint as _ckpt
from . import init as _init
from .callbacks import Callback
from .module import Module
from .progress import make_progress

__all__ = ["batches", "accuracy", "binary_accuracy", "fit", "evaluate", "predict", "History"]

Metric = Callable[[np.ndarray, np.ndarray], float]


# ============================================================== data


def _array(x: Any, what: str) -> np.ndarray:
    arr = x.data if isinstance(x, Tensor) else np.asarray(x)
    if arr.ndim == 0:
        raise ValueError(f"{what} must hold one example per row (an array of shape (examples, ...)), got a scalar")
    return arr


def _examples(x: Any, y: Any, where: str) -> tuple[np.ndarray, np.ndarray | None]:
    """``x`` and ``y`` as arrays with as many examples each (NumPy arrays are not copied)."""
    x = _array(x, f"{where}: x")
    if y is None:
        return x, None
    y = _array(y, f"{where}: y")
    if len(x) != len(y):
        raise ValueError(f"{where}: x has {len(x)} examples but y has {len(y)}; give one target per example")
    return x, y


def _positive_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


def _slices(n: int, batch_size: int, drop_last: bool, merge_single: bool = False) -> list[tuple[int, int]]:
    """``(start, stop)`` of each batch; with ``merge_single`` a last batch of one joins the one before."""
    bounds = [(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]
    if drop_last and bounds and bounds[-1][1] - bounds[-1][0] < batch_size:
        bounds.pop()
    if merge_single and len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
        bounds[-2:] = [(bounds[-2][0], n)]
    return bounds


def batches(
    x: Any,
    y: Any = None,
    batch_size: int = 64,
    shuffle: bool = False,
    rng: np.random.Generator | int | None = None,
    drop_last: bool = False,
) -> Iterator[Any]:
    """Mini-batches of NumPy arrays: ``(xb, yb)`` pairs, or ``xb`` alone when ``y`` is None.

    In order, the batches are views (slices); with ``shuffle=True`` a permutation is
    drawn from ``rng`` (an int seed or a ``numpy.random.Generator``; by default ``nn``'s
    generator, which :func:`nn.seed` resets) and the batches are copies. The last batch is
    smaller when ``batch_size`` does not divide the data, unless ``drop_last=True``.

    >>> [xb.tolist() for xb in nn.batches(np.arange(5), batch_size=2)]
    [[0, 1], [2, 3], [4]]
    >>> [len(xb) for xb, yb in nn.batches(np.zeros((10, 3)), np.zeros(10), batch_size=4, shuffle=True, rng=0)]
    [4, 4, 2]
    """
    x, y = _examples(x, y, "nn.batches")
    batch_size = _positive_int(batch_size, "nn.batches: batch_size")
    order = _init.as_rng(rng, "nn.batches").permutation(len(x)) if shuffle else None
    return _iterate(x, y, _slices(len(x), batch_size, drop_last), order)


def _iterate(x: np.ndarray, y: np.ndarray | None, bounds: list[tuple[int, int]], order: np.ndarray | None) -> Iterator:
    for start, stop in bounds:
        if order is None:
            xb, yb = x[start:stop], None if y is None else y[start:stop]
        else:
            idx = order[start:stop]
            xb, yb = x[idx], None if y is None else y[idx]
        yield xb if y is None else (xb, yb)


# ============================================================== metrics


def _class_targets(targets: Any, n: int, where: str) -> np.ndarray:
    t = _array(targets, f"{where}: targets")
    if len(t) != n:
        raise ValueError(f"{where}: {n} outputs but {len(t)} targets")
    return t.argmax(axis=-1) if t.ndim == 2 else t


def accuracy(logits_or_probs: Any, targets: Any) -> float:
    """The fraction of rows whose largest score is at the target class.

    ``logits_or_probs`` has shape ``(examples, classes)`` (logits or probabilities: the
    arg max is the same); ``targets`` are class indices ``(examples,)`` or one-hot /
    probability rows ``(examples, classes)``. For one output per example (a binary
    classifier) use :func:`binary_accuracy`.

    >>> nn.accuracy(np.array([[2.0, 0.1], [0.3, 0.9], [1.0, 0.0]]), np.array([0, 1, 1]))
    0.6666666666666666
    """
    z = _array(logits_or_probs, "accuracy: logits_or_probs")
    if z.ndim != 2 or z.shape[1] < 2:
        raise ValueError(
            f"accuracy: expected scores of shape (examples, classes), got {z.shape}; for one output per "
            "example (a binary classifier) use nn.binary_accuracy(logits, targets)"
        )
    if len(z) == 0:
        raise ValueError("accuracy: no examples")
    return float(np.mean(z.argmax(axis=-1) == _class_targets(targets, len(z), "accuracy")))


def binary_accuracy(outputs: Any, targets: Any, threshold: float = 0.0) -> float:
    """The fraction of examples with ``(outputs > threshold) == targets`` (targets 0/1).

    ``threshold=0`` reads logits (as ``nn.binary_cross_entropy`` takes them); use 0.5
    for probabilities.

    >>> nn.binary_accuracy(np.array([2.0, -1.0, 0.5]), np.array([1, 0, 0]))
    0.6666666666666666
    """
    z = _array(outputs, "binary_accuracy: outputs")
    t = _array(targets, "binary_accuracy: targets")
    if z.shape != t.shape or len(z) == 0:
        raise ValueError(
            f"binary_accuracy: outputs {z.shape} and targets {t.shape} must have the same, non-empty shape"
        )
    return float(np.mean((z > threshold) == (t > 0.5)))


_NAMED: dict[str, Metric] = {"accuracy": accuracy, "acc": accuracy, "binary_accuracy": binary_accuracy}


def _metric_fns(metrics: Any) -> dict[str, Metric]:
    """``{name: fn}`` from a dict, or a list of names (``"accuracy"``) and functions (named by ``__name__``)."""
    if metrics is None:
        return {}
    if isinstance(metrics, (str, Mapping)) or callable(metrics):
        metrics = metrics if isinstance(metrics, Mapping) else [metrics]
    items = metrics.items() if isinstance(metrics, Mapping) else [(None, m) for m in metrics]
    out = {}
    for name, fn in items:
        if isinstance(fn, str):
            if fn not in _NAMED:
                raise ValueError(f"nn.fit: unknown metric {fn!r}; known by name: {sorted(_NAMED)}, or pass a function")
            name, fn = name or fn, _NAMED[fn]
        if not callable(fn):
            raise TypeError(f"nn.fit: metric {name!r} must be a function fn(outputs, targets) -> float, got {fn!r}")
        name = name or getattr(fn, "__name__", "metric")
        if name == "loss" or name.startswith("val_"):
            raise ValueError(f"nn.fit: {name!r} cannot name a metric (loss and val_* are fit's own)")
        out[name] = fn
    return out


# ============================================================== evaluation


def _data(out: Any, where: str) -> np.ndarray:
    if isinstance(out, Tensor):
        return out.data
    if isinstance(out, np.ndarray):
        return out
    raise TypeError(f"{where}: the model must return a Tensor or an array, got {type(out).__name__}")


def predict(model: Module, x: Any, batch_size: int = 256) -> np.ndarray:
    """The model's outputs for ``x`` as one NumPy array, computed in batches in eval mode under ``no_grad``.

    Every module's mode (``training``) is restored afterwards.

    >>> nn.predict(nn.Dense(3, 2, rng=0), np.ones((5, 3))).shape
    (5, 2)
    """
    x = _array(x, "nn.predict: x")
    batch_size = _positive_int(batch_size, "nn.predict: batch_size")
    with model.evaluating():
        outs = [_data(model(xb), "nn.predict") for xb in _iterate(x, None, _slices(len(x), batch_size, False), None)]
        if not outs:  # no examples: the model still tells the output's shape
            outs = [_data(model(x), "nn.predict")]
    return np.concatenate(outs) if len(outs) > 1 else np.array(outs[0])


def _scalar(value: Any, what: str) -> float:
    arr = value.data if isinstance(value, Tensor) else np.asarray(value)
    if arr.size != 1:
        raise ValueError(f"{what} must be a single number, got shape {arr.shape}")
    return float(arr.reshape(()))


def evaluate(
    model: Module, x: Any, y: Any, *, loss: Callable[..., Any], metrics: Any = None, batch_size: int = 256
) -> dict[str, float]:
    """``{"loss": ..., metric: ...}`` on ``(x, y)``, in eval mode under ``no_grad`` (modes restored).

    The outputs of all batches are gathered first, so the loss and every metric are
    computed once on the whole set (exact for any metric, not an average of batches).

    >>> model = nn.Dense(3, 2, rng=0)
    >>> sorted(nn.evaluate(model, np.ones((4, 3)), np.array([0, 1, 1, 0]), loss=nn.softmax_cross_entropy,
    ...                    metrics={"acc": nn.accuracy}))
    ['acc', 'loss']
    """
    x, y = _examples(x, y, "nn.evaluate")
    if len(x) == 0:
        raise ValueError("nn.evaluate: no examples")
    fns = _metric_fns(metrics)
    out = predict(model, x, batch_size)
    with no_grad():
        logs = {"loss": _scalar(loss(out, y), "nn.evaluate: the loss")}
    logs.update({name: float(fn(out, y)) for name, fn in fns.items()})
    return logs


# ============================================================== History


class History:
    """The learning curves of :func:`fit`: ``history`` (name → list of per-epoch values) and ``epoch``.

    Names are ``loss``, each metric, and ``val_``-prefixed ones when validating; epochs
    count from 0, as in Keras. ``plot()`` draws them, ``to_pandas()`` tabulates them.
    """

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.params: dict[str, Any] = {}

    def append(self, epoch: int, logs: Mapping[str, float]) -> None:
        """Record one finished epoch."""
        self.epoch.append(int(epoch))
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))

    def plot(self, keys: Sequence[str] | None = None, *, axes: Any = None, label: str | None = None) -> Any:
        """A matplotlib Figure: one panel per quantity (loss, each metric), training solid, validation dashed.

        ``keys`` picks the quantities (default: all, without the ``val_`` prefix).
        ``axes`` (a sequence of Axes, one per quantity) draws into an existing figure and
        ``label`` prefixes the legend, so two runs can share a figure::

            fig = day1.plot(label="lr 0.1")
            day2.plot(axes=fig.axes, label="lr 0.01")
            fig.savefig("curves.png")

        When ``matplotlib.pyplot`` is already imported the figure is made through it (so
        ``plt.show()`` shows it); otherwise it is a standalone Figure (``fig.savefig(...)``;
        it displays in Jupyter as the cell's value). Needs the ``plot`` extra.
        """
        Figure = require("matplotlib.figure", "History.plot", "plot").Figure
        import sys

        names = list(keys) if keys is not None else [k for k in self.history if not k.startswith("val_")]
        if not names:
            raise ValueError("History.plot: nothing to plot (no epoch was recorded)")
        unknown = [k for k in names if k not in self.history]
        if unknown:
            raise ValueError(f"History.plot: unknown name(s) {unknown}; the history has {sorted(self.history)}")
        if axes is None:
            size = (4.2 * len(names), 3.2)
            if "matplotlib.pyplot" in sys.modules:
                fig, axes = sys.modules["matplotlib.pyplot"].subplots(1, len(names), figsize=size, squeeze=False)
            else:
                fig = Figure(figsize=size, layout="constrained")
                axes = fig.subplots(1, len(names), squeeze=False)
            axes = list(axes.ravel())
        axes = list(axes)
        if len(axes) < len(names):
            raise ValueError(f"History.plot: {len(names)} quantities to draw but {len(axes)} axes")
        prefix = f"{label}: " if label else ""
        epochs = [e + 1 for e in self.epoch]
        for ax, name in zip(axes, names):
            (line,) = ax.plot(
                epochs, self.history[name], label=f"{prefix}train", marker="." if len(epochs) < 30 else ""
            )
            if "val_" + name in self.history:
                ax.plot(epochs, self.history["val_" + name], "--", color=line.get_color(), label=f"{prefix}validation")
            ax.set_title(name)
            ax.set_xlabel("epoch")
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize="small")
        return axes[0].figure

    def to_pandas(self) -> Any:
        """A ``pandas.DataFrame``: one row per epoch (the index, named ``epoch``), one column per name."""
        pd = require("pandas", "History.to_pandas", "plot")
        return pd.DataFrame(self.history, index=pd.Index(self.epoch, name="epoch"))

    def __repr__(self) -> str:
        if not self.epoch:
            return "History(no epochs)"
        last = ", ".join(f"{k} {v[-1]:.4g}" for k, v in self.history.items())
        return f"History({len(self.epoch)} epochs; last: {last})"


# ============================================================== fit


def _split(n: int, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, validation)``: a random ``fraction`` held out, both in their original order."""
    n_val = int(round(n * fraction))
    if not 1 <= n_val < n:
        raise ValueError(
            f"nn.fit: validation_split={fraction} of {n} examples holds out {n_val}; it must leave at least one "
            "example on each side"
        )
    perm = rng.permutation(n)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def _generators(seed: Any) -> tuple[np.random.Generator, np.random.Generator]:
    """``(split, shuffle)`` generators: two independent streams of an int seed; else one shared generator."""
    if seed is None:
        return _init.default_rng(), _init.default_rng()
    if isinstance(seed, np.random.Generator):
        return seed, seed
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        a, b = np.random.SeedSequence(int(seed)).spawn(2)
        return np.random.default_rng(a), np.random.default_rng(b)
    raise TypeError(f"nn.fit: seed must be an int, a numpy.random.Generator or None, got {type(seed).__name__}")


def _hold_out(
    x: np.ndarray, y: np.ndarray, validation_data: Any, fraction: float, rng: np.random.Generator, run: Any
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray] | None, np.ndarray | None]:
    """The training data, the validation data and the held-out indices (a resumed run keeps its own)."""
    if validation_data is not None and fraction:
        raise ValueError("nn.fit: give validation_data or validation_split, not both")
    val_index = None
    if fraction:
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"nn.fit: validation_split must be in [0, 1), got {fraction!r}")
        val_index = run["val_index"] if run is not None else None
        if val_index is None:
            train_index, val_index = _split(len(x), fraction, rng)
        elif int(val_index.max(initial=-1)) >= len(x) or len(val_index) != round(len(x) * fraction):
            raise ValueError(f"{run['where']}: the checkpoint's validation split does not fit these {len(x)} examples")
        else:
            train_index = np.setdiff1d(np.arange(len(x)), val_index)
        validation_data = (x[val_index], y[val_index])
        x, y = x[train_index], y[train_index]
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise TypeError("nn.fit: validation_data must be a pair (x_val, y_val)")
        validation_data = _examples(*validation_data, "nn.fit: validation_data")
    if len(x) == 0:
        raise ValueError("nn.fit: no training examples")
    return x, y, validation_data, val_index


def _resume(
    run: Any, model: Module, optimizer: Any, schedule: Any, keys: list[str], rngs: Any, history: History, initial: int
) -> int:
    """Load a checkpoint into the model, optimizer, schedule, generators and history; the epoch to start at."""
    _ckpt.check_run(run, model, optimizer, schedule, keys)
    if initial not in (0, run["epoch"]):
        raise ValueError(f"{run['where']}: initial_epoch={initial}, but the checkpoint is at epoch {run['epoch']}")
    _ckpt.apply_run(run, model, optimizer, schedule, rngs)
    for i, epoch in enumerate(run["history.epoch"]):
        history.append(int(epoch), {k: run["history"][k][i] for k in keys})
    return run["epoch"]


def _check_fit_args(model: Any, loss: Any, optimizer: Any, epochs: Any, initial_epoch: Any, callbacks: Any) -> None:
    if not isinstance(model, Module):
        raise TypeError(f"nn.fit: model must be an nn.Module, got {type(model).__name__}")
    if not callable(loss):
        raise TypeError(
            f"nn.fit: loss must be a function loss(outputs, targets), e.g. nn.softmax_cross_entropy; got {loss!r}"
        )
    for method in ("zero_grad", "step", "state_dict", "load_state_dict"):
        if not callable(getattr(optimizer, method, None)):
            raise TypeError(f"nn.fit: optimizer must be an optim optimizer (it has no {method}()), got {optimizer!r}")
    for what, value in (("epochs", epochs), ("initial_epoch", initial_epoch)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
            raise ValueError(f"nn.fit: {what} must be a non-negative integer, got {value!r}")
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise TypeError(f"nn.fit: callbacks must be nn.Callback instances, got {cb!r}")


def fit(
    model: Module,
    x: Any,
    y: Any,
    *,
    loss: Callable[..., Any],
    optimizer: Any,
    epochs: int = 1,
    batch_size: int = 64,
    validation_data: tuple[Any, Any] | None = None,
    validation_split: float = 0.0,
    shuffle: bool = True,
    seed: np.random.Generator | int | None = None,
    metrics: Any = None,
    callbacks: Sequence[Callback] = (),
    schedule: Any = None,
    initial_epoch: int = 0,
    verbose: int | str = "auto",
    checkpoint: str | os.PathLike[str] | None = None,
    resume: str | os.PathLike[str] | None = None,
    lr: float | None = None,
) -> History:
    """Train ``model`` on ``(x, y)`` with mini-batches; returns the :class:`History` of each epoch.

    Each epoch: the training examples are shuffled (``shuffle=True``, drawn from ``seed``),
    and for each batch ``optimizer.zero_grad()``, ``loss(model(xb), yb).backward()``,
    ``optimizer.step()``, in train mode. Then, when validating, :func:`evaluate` on the
    validation data (eval mode, ``no_grad``), then ``schedule.step()``. Epochs run from
    ``initial_epoch`` to ``epochs - 1`` (Keras's convention: ``epochs`` is the index to stop at).

    - ``loss(outputs, targets)`` returns a scalar Tensor; ``metrics`` is a dict name →
      ``fn(outputs, targets)`` on NumPy arrays (or a list of functions and names such as
      ``"accuracy"``). Training values are the epoch's average over its batches, weighted
      by batch size, from the outputs as training went; ``val_`` ones are exact, on the
      whole validation set at the end of the epoch.
    - ``validation_data=(x_val, y_val)``, or ``validation_split=0.2``: a random 20 % of
      ``(x, y)`` (drawn from ``seed``, not the tail as Keras takes it) is held out.
    - ``seed``: an int gives independent, reproducible streams for the split and the
      shuffling; a Generator is used as it is; None draws from ``nn``'s generator (:func:`nn.seed`).
    - A last batch of a single example is merged into the batch before it (BatchNorm
      cannot normalise one example, and no example is skipped).
    - ``callbacks``: :class:`nn.Callback` objects (see ``nn.callbacks`` for when each hook runs).
    - ``verbose``: 0 silent; 1 or ``"auto"`` a progress bar per epoch when tqdm is installed
      and stderr is a terminal (or in a notebook), else one line per epoch; 2 one line per epoch.

    Babysitting one model (checkpoints):

    - ``checkpoint="run.npz"`` writes, after every epoch whose loss is finite, one file
      (atomically, never pickled) with the model, optimizer, schedule, history, epoch, the
      validation split and the state of every random generator used (shuffling, ``nn``'s,
      the modules' own such as Dropout's).
    - ``resume="run.npz"`` continues from it: build the same model and optimizer (fresh is
      fine), call ``fit`` with the same data and arguments and a larger ``epochs``; weights
      and history come out bit for bit as an uninterrupted run's. A checkpoint from another
      architecture raises a ValueError naming what differs, before anything is changed.
    - ``lr=0.01`` sets the learning rate at the start (after resuming); with a schedule it
      sets the schedule's base rate α₀ and the decay continues from the current epoch. It is
      how you go back to yesterday's checkpoint with a lower learning rate.
    """
    _check_fit_args(model, loss, optimizer, epochs, initial_epoch, callbacks)
    x, y = _examples(x, y, "nn.fit")
    batch_size = _positive_int(batch_size, "nn.fit: batch_size")
    metrics = _metric_fns(metrics)
    split_rng, shuffle_rng = _generators(seed)
    run = _ckpt.load_run(resume) if resume is not None else None
    x, y, validation_data, val_index = _hold_out(x, y, validation_data, validation_split, split_rng, run)
    keys = ["loss", *metrics] + ([f"val_{k}" for k in ["loss", *metrics]] if validation_data is not None else [])
    rngs = _ckpt.generators(model, shuffle_rng)
    history, start = History(), initial_epoch
    if run is not None:
        start = _resume(run, model, optimizer, schedule, keys, rngs, history, initial_epoch)
    if lr is not None:  # with a schedule, its base rate: the decay goes on from the current epoch
        if schedule is not None:
            schedule.base_lr = lr
        else:
            optimizer.lr = lr

    bounds = _slices(len(x), batch_size, drop_last=False, merge_single=True)
    history.params = dict(epochs=epochs, steps=len(bounds), batch_size=batch_size, samples=len(x), metrics=keys)
    progress = make_progress(verbose, epochs, len(bounds))
    if run is not None:
        progress.message(f"Resuming from {os.fspath(resume)}: {start} epoch(s) done, lr {optimizer.lr:g}")
    for cb in callbacks:
        cb.model, cb.optimizer, cb.history, cb.params = model, optimizer, history, history.params
        cb.stop_training = False
    logs: dict[str, float] = {}

    for cb in callbacks:
        cb.on_train_begin(logs)
    try:
        for epoch in range(start, epochs):
            for cb in callbacks:
                cb.on_epoch_begin(epoch, logs)
            progress.start_epoch(epoch)
            model.train()
            order = shuffle_rng.permutation(len(x)) if shuffle else None
            sums = dict.fromkeys(["loss", *metrics], 0.0)
            seen = 0
            cut_short = False
            for batch, (xb, yb) in enumerate(_iterate(x, y, bounds, order)):
                optimizer.zero_grad()
                out = model(xb)
                cost = loss(out, yb)
                if not isinstance(cost, Tensor):
                    raise TypeError(f"nn.fit: loss must return a scalar Tensor, got {type(cost).__name__}")
                cost.backward()
                optimizer.step()
                batch_logs = {"loss": cost.item(), **{k: float(fn(out.data, yb)) for k, fn in metrics.items()}}
                n = len(xb)
                seen += n
                for k, v in batch_logs.items():
                    sums[k] += v * n
                for cb in callbacks:
                    cb.on_batch_end(batch, batch_logs)
                progress.batch(sums, seen)
                if callbacks and any(cb.stop_training for cb in callbacks):
                    cut_short = True
                    break
            if cut_short:  # stopped mid-epoch (a NaN loss, say): not recorded, validated or checkpointed
                progress.cut_epoch()
                progress.message(f"Epoch {epoch + 1}: training stopped by {_stopper(callbacks)} at batch {batch + 1}")
                break

            logs = {k: v / seen for k, v in sums.items()}
            if validation_data is not None:
                val = evaluate(model, *validation_data, loss=loss, metrics=metrics)
                logs.update({f"val_{k}": v for k, v in val.items()})
            history.append(epoch, logs)
            if schedule is not None:
                schedule.step()
            for cb in callbacks:
                cb.on_epoch_end(epoch, dict(logs))
            progress.end_epoch(logs)
            if checkpoint is not None:
                if math.isfinite(logs["loss"]):
                    _ckpt.save_run(checkpoint, model=model, optimizer=optimizer, schedule=schedule, history=history,
                                   epoch=epoch + 1, rngs=rngs, val_index=val_index)  # fmt: skip
                else:
                    progress.message(
                        f"Epoch {epoch + 1}: the loss is {logs['loss']}; {os.fspath(checkpoint)} not updated"
                    )
            if any(cb.stop_training for cb in callbacks):
                progress.message(f"Epoch {epoch + 1}: training stopped by {_stopper(callbacks)}")
                break
    finally:
        progress.close()
        for cb in callbacks:
            cb.on_train_end(dict(logs))
    return history


def _stopper(callbacks: Sequence[Callback]) -> str:
    return next((type(cb).__name__ for cb in callbacks if cb.stop_training), "a callback")
