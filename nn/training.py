"""``nn.fit``: the training loop, with Keras's names; everything around it is a callback.

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

The loop (:func:`fit`) trains; what happens around it goes through one
:class:`nn.CallbackList`: the :class:`nn.History`, the user's callbacks, the progress
display (``nn.progress``) and the checkpoint writer (``nn.checkpoint.BackupAndRestore``).
Data and batching live in ``nn.data``, metrics in ``nn.metrics``, ``evaluate`` and
``predict`` in ``nn.evaluation``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from autograd_core import Tensor
from autograd_core._checks import check_bool, check_int, check_real
from autograd_core.compiler import CompiledFunction
from autograd_core.threads import blas_threads

from . import checkpoint as _ckpt
from .callbacks import Callback, CallbackList
from .data import examples, generators, hold_out, iterate, slices
from .evaluation import blas_work, evaluate
from .history import History
from .metrics import metric_fns, metric_value
from .module import Module
from .names import OPTIMIZERS, resolve_loss, resolve_optimizer
from .progress import make_progress

__all__ = ["fit"]


def _check_fit_args(model: Any, optimizer: Any, schedule: Any, epochs: Any, initial_epoch: Any, callbacks: Any) -> None:
    for method in ("zero_grad", "step", "state_dict", "load_state_dict"):
        if not callable(getattr(optimizer, method, None)):
            raise TypeError(
                f"nn.fit: optimizer must be an optim optimizer (it has no {method}()) or one of the names "
                f"{', '.join(repr(k) for k in OPTIMIZERS)}; got {optimizer!r}"
            )
    if schedule is not None and getattr(schedule, "optimizer", optimizer) is not optimizer:
        raise ValueError(
            "nn.fit: the schedule steps another optimizer than the one fit trains with; build the optimizer first "
            "and give both: opt = optim.Adam(model.parameters(), lr=0.01), then optimizer=opt, "
            "schedule=optim.ExponentialDecay(opt)"
        )
    check_int(epochs, "epochs", "nn.fit", low=0)
    check_int(initial_epoch, "initial_epoch", "nn.fit", low=0)
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise TypeError(f"nn.fit: callbacks must be nn.Callback instances, got {cb!r}")


def fit(
    model: Module,
    x: Any,
    y: Any,
    *,
    loss: Callable[..., Any] | str,
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
    compile: bool = False,  # noqa: A002 - the contract's name
) -> History:
    """Train ``model`` on ``(x, y)`` with mini-batches; returns the :class:`History` of each epoch.

    Each epoch: the training examples are shuffled (drawn from ``seed``), and for each batch
    ``optimizer.zero_grad()``, ``loss(model(xb), yb).backward()``, ``optimizer.step()``, in
    train mode. Then, when validating, :func:`nn.evaluate` on the validation data (eval mode,
    ``no_grad``), then ``schedule.step()``. Epochs run from ``initial_epoch`` to
    ``epochs - 1`` (Keras's convention: ``epochs`` is the index to stop at); the log and the
    plots count them from 1. A last batch of a single example is merged into the batch
    before it (BatchNorm cannot normalise one example, and no example is skipped). NumPy's
    BLAS runs with the count set by ``ag.set_num_threads``, else with one thread, or with NumPy's
    own count when the model's matrix products are large; the count from before comes back
    afterwards (``autograd_core.threads`` says why).

    Parameters
    ----------
    model : nn.Module
        The model; its outputs for a batch go to ``loss`` and ``metrics``.
    x, y : array_like or Tensor
        The examples (one per row) and one target per example.
    loss : callable or str
        ``loss(outputs, targets)`` returning a scalar Tensor, or a name: ``"cross_entropy"``
        (:func:`nn.softmax_cross_entropy`), ``"mse"``, ``"bce"`` (:func:`nn.binary_cross_entropy`).
    optimizer : optim.Optimizer or str
        An optimizer built on ``model.parameters()``, or a name (``"adam"``, ``"sgd"``,
        ``"momentum"``, ``"rmsprop"``) that ``fit`` builds with ``lr`` (by default 0.001 for
        Adam and RMSprop, 0.01 for the others, as in Keras).
    epochs : int
        The epoch index to stop at.
    batch_size : int
        Examples per mini-batch.
    validation_data : (x_val, y_val), optional
        Validation examples, evaluated at the end of every epoch (the ``val_`` logs).
    validation_split : float
        Or hold out this fraction of ``(x, y)``, drawn at random from ``seed`` (not the
        tail as Keras takes it, which is sorted data's worst case).
    shuffle : bool
        Shuffle the training examples every epoch.
    seed : int, numpy.random.Generator or None
        An int gives independent, reproducible streams for the split and the shuffling; a
        Generator is used as it is; None draws from ``nn``'s generator (:func:`nn.seed`).
    metrics : dict or list, optional
        A dict name → ``fn(outputs, targets)`` on NumPy arrays returning one number, or a
        list of functions and names (``"accuracy"``). Training values are the epoch's
        average over its batches, weighted by batch size; ``val_`` ones are exact, on the
        whole validation set.
    callbacks : sequence of nn.Callback
        Called at named points of training (see ``nn.callbacks``); a callback with
        ``state_dict()``/``load_state_dict(d)`` keeps its state across checkpoints.
    schedule : optim.Schedule, optional
        A learning-rate schedule of ``optimizer``, stepped once per epoch.
    initial_epoch : int
        The epoch to start at.
    verbose : {0, 1, 2, "auto"}
        0 silent; 1 or ``"auto"`` a progress bar per epoch when tqdm is installed and stderr
        is a terminal (or in a notebook), else one line per epoch; 2 one line per epoch.
    checkpoint : path, optional
        After every epoch whose loss and weights are finite, write one file (atomically,
        never pickled) with the model, optimizer, schedule, history, epoch, validation split,
        the state of every random generator used (shuffling, ``nn``'s, the modules' own such
        as Dropout's) and the callbacks' state.
    resume : path, optional
        Continue from such a file: build the same model and optimizer (fresh is fine), call
        ``fit`` with the same data, arguments and callbacks and a larger ``epochs``; weights,
        history, callbacks (best weights restored, best files kept) come out bit for bit as
        an uninterrupted run's. Every entry is checked first: a file from another
        architecture, or a damaged one, raises a ValueError naming the file and the entry,
        and nothing is changed.
    lr : float, optional
        The learning rate: of the optimizer ``fit`` builds from a name; for an optimizer
        object, set at the start (after resuming); with a schedule, its base rate α₀, the
        decay going on from the current epoch. It is how you go back to yesterday's
        checkpoint with a lower learning rate.
    compile : bool
        Compile the training step (``zero_grad``, the forward pass, the loss, ``backward``,
        ``step``) and the evaluation's forward pass with ``ag.compile``: each traces on its first
        batch (and on a last, smaller one), then runs its program. The results are bit for bit
        those of ``compile=False``; a loss or metric of your own receives the targets as arrays
        it computes with through NumPy's functions or tensor ops (``np.asarray(y)`` would hold
        the first batch's values: the traced program cannot see it).

    Returns
    -------
    nn.History
        ``history`` (name → list of per-epoch values: ``loss``, each metric, ``val_`` ones),
        ``epoch``, ``plot()``, ``to_pandas()``.

    Examples
    --------
    >>> model = nn.Sequential(nn.Dense(4, 16, rng=0), nn.ReLU(), nn.Dense(16, 3, rng=1))
    >>> x = np.random.default_rng(0).normal(size=(90, 4)); y = np.arange(90) % 3
    >>> history = nn.fit(model, x, y, loss="cross_entropy", optimizer="adam", lr=0.01, epochs=3,
    ...                  validation_split=0.2, seed=0, metrics=["accuracy"], verbose=0)
    >>> list(history.history)
    ['loss', 'accuracy', 'val_loss', 'val_accuracy']
    """
    if not isinstance(model, Module):
        raise TypeError(f"nn.fit: model must be an nn.Module, got {type(model).__name__}")
    loss = resolve_loss(loss, "nn.fit")
    optimizer = resolve_optimizer(optimizer, model, lr, "nn.fit")
    _check_fit_args(model, optimizer, schedule, epochs, initial_epoch, callbacks)
    if y is None:
        raise ValueError(
            "nn.fit: y is None; fit needs a target for every example (fit(model, x, y, ...)); to train without "
            "targets, write the loop with nn.batches(x, batch_size=...)"
        )
    x, y = examples(x, y, "nn.fit")
    batch_size = check_int(batch_size, "batch_size", "nn.fit", low=1)
    validation_split = check_real(validation_split, "validation_split", "nn.fit")
    shuffle = check_bool(shuffle, "shuffle", "nn.fit")
    metrics = metric_fns(metrics)
    split_rng, shuffle_rng = generators(seed)
    run = _ckpt.load_run(resume) if resume is not None else None
    x, y, validation_data, val_index = hold_out(
        x, y, validation_data, validation_split, split_rng,
        None if run is None else run["val_index"], "" if run is None else run["where"],
    )  # fmt: skip
    keys = ["loss", *metrics] + ([f"val_{k}" for k in ["loss", *metrics]] if validation_data is not None else [])
    bounds = slices(len(x), batch_size, drop_last=False, merge_single=True)
    history = History()
    history.params = dict(epochs=epochs, steps=len(bounds), batch_size=batch_size, samples=len(x), metrics=keys)
    display = make_progress(verbose, epochs, len(bounds))
    internal: list[Callback] = [display]
    backup = None
    if checkpoint is not None or run is not None:
        backup = _ckpt.BackupAndRestore(
            checkpoint, run, keys=keys, initial_epoch=initial_epoch, schedule=schedule,
            rngs=_ckpt.generators(model, shuffle_rng), val_index=val_index, callbacks=callbacks, say=display.message,
        )  # fmt: skip
        internal.append(backup)
    cbs = CallbackList([history, *callbacks, *internal])
    cbs.configure(model, optimizer, history, history.params)
    step = _training_step(model, loss, optimizer)
    if check_bool(compile, "compile", "nn.fit"):  # the batches as arrays, as eager code gets them
        step = CompiledFunction(step, 8, arrays_as_tensors=False)

    logs: dict[str, float] = {}
    # once per fit: the user's count, else one thread or, for large matrix products, NumPy's (autograd_core.threads)
    with blas_threads(work=blas_work(model, min(batch_size, len(x)))):
        cbs.on_train_begin(logs)  # resuming happens here, in the checkpoint's callback, after the others reset
        start = initial_epoch if backup is None else backup.start
        if lr is not None:  # with a schedule, its base rate: the decay goes on from the current epoch
            if schedule is not None:
                schedule.base_lr = lr
            else:
                optimizer.lr = lr
        if run is not None:
            display.message(f"Resuming from {os.fspath(resume)}: {start} epoch(s) done, lr {optimizer.lr:g}")

        try:
            for epoch in range(start, epochs):
                cbs.on_epoch_begin(epoch, logs)
                model.train()
                order = shuffle_rng.permutation(len(x)) if shuffle else None
                sums = dict.fromkeys(["loss", *metrics], 0.0)
                seen = 0
                stopper = None
                for batch, (xb, yb) in enumerate(iterate(x, y, bounds, order)):
                    cost, out = step(xb, yb)
                    batch_logs = {"loss": cost}
                    for k, fn in metrics.items():
                        batch_logs[k] = metric_value(k, fn, out.data, yb, "nn.fit")
                    n = len(xb)
                    seen += n
                    for k, v in batch_logs.items():
                        sums[k] += v * n
                    cbs.on_batch_end(batch, batch_logs)
                    stopper = cbs.stopper
                    if stopper is not None:
                        break
                if stopper is not None:  # stopped mid-epoch (a NaN loss, say): not recorded, validated or checkpointed
                    name = type(stopper).__name__
                    display.message(f"Epoch {epoch + 1}: training stopped by {name} at batch {batch + 1}")
                    break

                logs = {k: v / seen for k, v in sums.items()}
                if validation_data is not None:
                    val = evaluate(model, *validation_data, loss=loss, metrics=metrics, compile=compile)
                    logs.update({f"val_{k}": v for k, v in val.items()})
                if schedule is not None:
                    schedule.step()
                cbs.on_epoch_end(epoch, logs)
                stopper = cbs.stopper
                if stopper is not None:
                    display.message(f"Epoch {epoch + 1}: training stopped by {type(stopper).__name__}")
                    break
        finally:
            cbs.on_train_end(logs)
    return history


def _training_step(model: Module, loss: Callable[..., Any], optimizer: Any) -> Callable[..., tuple[float, Any]]:
    """One training step on a batch: ``zero_grad``, forward, loss, ``backward``, ``step``; returns the
    loss (a float) and the model's outputs (for the metrics)."""

    def step(xb: Any, yb: Any) -> tuple[float, Any]:
        optimizer.zero_grad()
        out = model(xb)
        cost = loss(out, yb)
        if not isinstance(cost, Tensor):
            raise TypeError(f"nn.fit: loss must return a scalar Tensor, got {type(cost).__name__}")
        cost.backward()
        optimizer.step()
        return cost.item(), out

    return step
