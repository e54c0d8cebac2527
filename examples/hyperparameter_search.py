"""Hyperparameter search, coarse to fine
=====================================

Hyperparameter search on scikit-learn's digits, as the deep-learning course teaches it.

An MLP 64 → hidden → 10 (``nn``) trained with ``optim.Adam``; searched: the learning rate (on a
log scale), Adam's β₁ and β₂ (on the scale of 1 − β), the hidden units and the mini-batch size.
Random trials, never a grid: 30 coarse trials over the whole space, then two finer rounds of
15 in the box around the 5 best so far. Every trial reports its dev accuracy after each epoch;
the median pruner stops the ones clearly behind. The trials run on a Dask ``LocalCluster`` of
2 workers when Dask is installed (the same call runs on a cluster with a ``Client`` of it),
else on a process pool of 2. Prints the best trials and writes ``search.png`` and ``curves.png``.

    .venv/bin/pip install -e ".[examples,search,plot]"
    .venv/bin/python examples/hyperparameter_search.py [--out DIR] [--storage search.sqlite]

With ``--storage`` every finished trial is saved as it finishes; stop the search (Ctrl-C) and run
the same command again: it goes on where it stopped. ``--trials 12,6,6`` runs smaller rounds (the
documentation's build does, to stay short); the full run's figure is ``docs/search.png``.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import numpy as np

import nn
import optim
from autograd_core import no_grad
from optim import search

SPACE = {
    "lr": search.LogUniform(1e-4, 1.0),  # r = uniform(-4, 0), lr = 10**r
    "beta1": search.OneMinusLogUniform(0.8, 0.99),  # 1 - β₁ = 10**uniform(-2, log10(0.2))
    "beta2": search.OneMinusLogUniform(0.99, 0.9999),  # 1 - β₂ = 10**uniform(-4, -2)
    "hidden": search.IntUniform(16, 128),
    "batch_size": search.Choice([16, 32, 64, 128]),
}
EPOCHS = 8


def digits_split(seed: int = 0) -> tuple[np.ndarray, ...]:
    """Digits standardised with the training statistics, split 60 / 20 / 20 into train, dev, test."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x_train, x_rest, y_train, y_rest = train_test_split(x, y, test_size=0.4, random_state=seed, stratify=y)
    x_dev, x_test, y_dev, y_test = train_test_split(x_rest, y_rest, test_size=0.5, random_state=seed, stratify=y_rest)
    mu, sd = x_train.mean(axis=0), x_train.std(axis=0) + 1e-8
    return (x_train - mu) / sd, y_train, (x_dev - mu) / sd, y_dev, (x_test - mu) / sd, y_test


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    with no_grad():
        return float(np.mean(np.argmax(model(x).numpy(), axis=1) == y))


def objective(params: dict[str, Any], trial: search.Trial) -> dict[str, float]:
    """Train one MLP with ``params``; report the dev accuracy after every epoch.

    A top-level function, so that worker processes can run it. It loads the digits itself
    (a few milliseconds): nothing big travels with each trial.
    """
    x_train, y_train, x_dev, y_dev, x_test, y_test = digits_split()
    rng = trial.rng  # the trial's own seeded generator: the same result on any worker
    model = nn.Sequential(
        nn.Dense(64, params["hidden"], rng=rng), nn.ReLU(), nn.Dense(params["hidden"], 10, init="xavier", rng=rng)
    )
    opt = optim.Adam(model.parameters(), lr=params["lr"], beta1=params["beta1"], beta2=params["beta2"])
    batch = params["batch_size"]
    loss = float("nan")
    for epoch in range(1, EPOCHS + 1):
        order = rng.permutation(len(x_train))
        losses = []
        for start in range(0, len(order), batch):
            idx = order[start : start + batch]
            xb, yb = x_train[idx], y_train[idx]
            losses.append(opt.minimize(lambda xb=xb, yb=yb: nn.softmax_cross_entropy(model(xb), yb)))
        loss = float(np.mean(losses))
        trial.report(epoch, dev_accuracy=accuracy(model, x_dev, y_dev), train_loss=loss)
        if trial.should_stop():  # clearly behind the trials before it: stop here
            break
    return {
        "dev_accuracy": accuracy(model, x_dev, y_dev),
        "test_accuracy": accuracy(model, x_test, y_test),
        "train_loss": loss,
    }


def describe(params: dict[str, Any]) -> str:
    return (
        f"lr={params['lr']:.2e}  β₁={params['beta1']:.4f}  β₂={params['beta2']:.5f}  "
        f"hidden={params['hidden']:3d}  batch={params['batch_size']:3d}"
    )


def show(result: search.TrialResult) -> None:
    value = "    -" if result.value is None else f"{result.value:.3f}"
    print(
        f"  round {result.round}  trial {result.number:2d}  {result.status:9s} dev {value}  "
        f"{describe(result.params)}  ({result.seconds:.1f} s)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Hyperparameter search on the digits, coarse to fine.")
    parser.add_argument("--out", default=".", help="folder for search.png and curves.png (default: here)")
    parser.add_argument("--storage", help="an SQLite file that keeps every finished trial (and resumes from it)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument(
        "--trials", default="30,15,15", help="trials per round, comma-separated (default 30,15,15: three rounds)"
    )
    args = parser.parse_args()

    options = {
        "rounds": len(args.trials.split(",")),
        "n_trials": [int(n) for n in args.trials.split(",")],
        "top": 5,
        "metric": "dev_accuracy",
        "mode": "max",
        "seed": 0,
        "pruner": search.MedianPruner(warmup_steps=2, n_startup_trials=5),
        "storage": args.storage,
        "callback": show,
    }
    start = time.perf_counter()
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        print(f"Dask is not installed: a process pool of {args.workers}", flush=True)
        result = search.coarse_to_fine(objective, SPACE, executor=args.workers, **options)
    else:
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None)
        with cluster, Client(cluster) as client:
            print(f"Dask LocalCluster: {args.workers} workers", flush=True)
            result = search.coarse_to_fine(objective, SPACE, executor=client, **options)
    elapsed = time.perf_counter() - start

    print(f"\n{result}  ({elapsed:.0f} s)")
    for r, space in result.spaces.items():
        print(f"round {r} searched: " + ", ".join(f"{name} {dist!r}" for name, dist in space.items()))
    print("\nthe 5 best trials (ranked by dev accuracy; test accuracy for information only):")
    for t in result.top(5):
        print(
            f"  trial {t.number:2d} (round {t.round})  dev {t.metrics['dev_accuracy']:.4f}  "
            f"test {t.metrics['test_accuracy']:.4f}  {describe(t.params)}"
        )
    result.plot().savefig(os.path.join(args.out, "search.png"), dpi=110)
    result.plot_curves().savefig(os.path.join(args.out, "curves.png"), dpi=110)
    print(f"\nwrote {os.path.join(args.out, 'search.png')} and {os.path.join(args.out, 'curves.png')}")


if __name__ == "__main__":
    main()
