"""Objectives for tests/test_search.py, in a small module of their own: process-pool and Dask
workers import it to unpickle them, and it imports nothing heavier than NumPy."""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np


def bowl(params: dict[str, Any], trial: Any) -> dict[str, float]:
    """Deterministic: best at lr = 0.01; a learning curve of 4 steps; uses trial.rng."""
    target = -((np.log10(params["lr"]) + 2.0) ** 2)
    noise = 1e-3 * trial.rng.standard_normal()
    score = 0.0
    for step in range(4):
        score = target * (4 - step) / 4 + noise + target
        trial.report(step, score=score, loss=-score)
    return {"score": score, "loss": -score}


def climb(params: dict[str, Any], trial: Any) -> dict[str, float]:
    """A curve that rises with the step, higher for larger ``q``; stops when told to."""
    score = 0.0
    for step in range(6):
        score = params["q"] * (step + 1)
        trial.report(step, score=score)
        if trial.should_stop():
            break
    return {"score": score}


def raise_when(params: dict[str, Any], trial: Any) -> float:
    """Fails for small lr, diverges (NaN) for large lr, inf for the very largest."""
    lr = params["lr"]
    if lr < 1e-3:
        raise RuntimeError(f"lr {lr:.3g} is too small")
    if lr > 0.3:
        return float("inf") if lr > 0.6 else float("nan")
    return -lr


def interrupt_at(params: dict[str, Any], trial: Any, *, log: str, at: int) -> float:
    """Logs each call; raises KeyboardInterrupt at trial ``at`` while the file ``log + '.stop'`` exists."""
    with open(log, "a") as f:
        f.write(f"{trial.number}\n")
    if trial.number == at and os.path.exists(log + ".stop"):
        raise KeyboardInterrupt
    return -((np.log10(params["lr"]) + 2.0) ** 2)


def crash_at(params: dict[str, Any], trial: Any, *, at: int) -> float:
    """Kills the whole process at trial ``at`` (a crash of the search itself, when run serially)."""
    if trial.number == at:
        os._exit(3)
    return -((np.log10(params["lr"]) + 2.0) ** 2)


def kill_worker(
    params: dict[str, Any], trial: Any, *, folder: str, once: tuple[int, ...], always: tuple[int, ...]
) -> float:
    """Kills its worker process: on the first attempt for trials in ``once``, every time for ``always``."""
    marker = os.path.join(folder, f"attempt-{trial.number}")
    first = not os.path.exists(marker)
    with open(marker, "a") as f:
        f.write("x")
    if trial.number in always or (trial.number in once and first):
        os._exit(1)
    return -((np.log10(params["lr"]) + 2.0) ** 2)


def no_metric(params: dict[str, Any], trial: Any) -> dict[str, float]:
    return {"loss": params["lr"]}


def metric_missing_later(params: dict[str, Any], trial: Any) -> dict[str, float]:
    return {"loss": params["lr"]} if trial.number == 3 else {"score": params["lr"]}


def huge(params: dict[str, Any], trial: Any) -> Any:
    """Returns an int too large for a float (10**400) for trial 1, reported and returned; else a number."""
    if trial.number == 1:
        trial.report(0, value=10**400)
        return 10**400
    if trial.number == 2:
        return {"value": -(10**400), "other": 1.0}
    return params["lr"]


def gated(
    params: dict[str, Any], trial: Any, *, folder: str, gate: int | tuple[int, ...] = -1, pause: float = 0.0
) -> float:
    """Logs ``"<number> <pid>"`` to ``folder/log`` as it starts; trial ``gate`` (or each trial in
    it) then waits while the file ``folder/hold`` exists (at most 60 s); each trial takes ``pause`` seconds."""
    gates = gate if isinstance(gate, tuple) else (gate,)
    with open(os.path.join(folder, "log"), "a") as f:
        f.write(f"{trial.number} {os.getpid()}\n")
    deadline = time.monotonic() + 60
    while trial.number in gates and os.path.exists(os.path.join(folder, "hold")) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(pause)
    return -((np.log10(params["lr"]) + 2.0) ** 2)


def fit_mlp(params: dict[str, Any], trial: Any, *, monitor: str = "val_loss", epochs: int = 6) -> dict[str, float]:
    """An MLP trained by ``nn.fit`` with ``search.FitPruning(trial, monitor)``; returns the last
    epoch's logs and how many epochs ran."""
    import nn
    import optim
    from optim import search

    rng = np.random.default_rng(0)  # the same data for every trial
    x = rng.normal(size=(240, 4))
    y = (x[:, 0] + x[:, 1] * x[:, 2] > 0).astype(int)
    model = nn.Sequential(nn.Dense(4, 16, rng=trial.rng), nn.ReLU(), nn.Dense(16, 2, rng=trial.rng))
    history = nn.fit(
        model, x[:180], y[:180], loss=nn.softmax_cross_entropy,
        optimizer=optim.Adam(model.parameters(), lr=params["lr"]), epochs=epochs, batch_size=30,
        validation_data=(x[180:], y[180:]), metrics=["accuracy"], seed=0, verbose=0,
        callbacks=[search.FitPruning(trial, monitor=monitor)],
    )  # fmt: skip
    return {**{k: v[-1] for k, v in history.history.items()}, "epochs": float(len(history.epoch))}


def long_dot(params: dict[str, Any], trial: Any) -> dict[str, float]:
    """A dot product of two vectors of 20,000 drawn from ``trial.rng``: OpenBLAS splits one that long
    between its threads, so its last bits depend on their count, which it returns too."""
    import autograd_core as ag

    a, b = trial.rng.standard_normal((2, 20_000))
    return {"value": float(a @ b) * params["scale"], "threads": ag.get_num_threads()}
