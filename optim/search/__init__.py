"""Hyperparameter search as the deep-learning course teaches it: random (never a grid), on the right scale,
coarse to fine, many models in parallel, with learning curves and pruning.

::

    from optim import search

    space = {
        "lr": search.LogUniform(1e-4, 1.0),             # r = uniform(-4, 0), lr = 10**r
        "beta": search.OneMinusLogUniform(0.9, 0.999),  # 1 - beta = 10**uniform(-3, -1)
        "hidden": search.IntUniform(50, 100),           # both ends included
        "batch_size": search.Choice([32, 64, 128, 256]),
    }

    def objective(params, trial):       # a top-level function: it may run in another process
        ...                              # train, calling trial.report(epoch, dev_accuracy=acc)
        return {"dev_accuracy": acc}

    result = search.random_search(objective, space, n_trials=50, metric="dev_accuracy", mode="max")
    result = search.coarse_to_fine(objective, space, rounds=3, n_trials=25, top=5,
                                   metric="dev_accuracy", executor=client, storage="search.sqlite")
    result.best_params, result.to_pandas(), result.plot(), result.plot_curves()

Inside ``nn.fit``, ``search.FitPruning(trial, monitor="val_loss")`` reports each epoch to the
trial and stops the fit when the pruner says so.

The core needs only NumPy: running trials one by one or in a process pool works as it is. A
Dask client (``pip install "autograd-core[search]"``, which also brings pandas for
``to_pandas``) runs them on a cluster; the pictures need matplotlib
(``pip install "autograd-core[plot]"``).
"""

from typing import Any

from .distributions import Choice, Distribution, IntUniform, LogUniform, OneMinusLogUniform, Uniform
from .pruners import MedianPruner, Pruner, SuccessiveHalving
from .result import SearchResult
from .samplers import sample_params
from .search import coarse_to_fine, load, random_search
from .trial import Trial, TrialPruned, TrialResult


def __getattr__(name: str) -> Any:
    if name == "FitPruning":  # it imports nn: only when it is used
        from .fit_pruning import FitPruning

        return FitPruning
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Distribution", "Uniform", "LogUniform", "OneMinusLogUniform", "IntUniform", "Choice",
    "random_search", "coarse_to_fine", "load", "SearchResult", "Trial", "TrialResult", "TrialPruned",
    "sample_params", "Pruner", "MedianPruner", "SuccessiveHalving", "FitPruning",
]  # fmt: skip
