"""nn.NeuralNetClassifier / NeuralNetRegressor: scikit-learn's own checks, cross-validation, pipelines, search."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="the estimators need scikit-learn (pip install -e '.[dev]')")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import RandomizedSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import check_estimator  # noqa: E402

import nn  # noqa: E402
import optim  # noqa: E402


def mlp(in_features: int, out_features: int, hidden: int = 32) -> nn.Module:
    """A module factory at module level, so fitted estimators pickle."""
    return nn.Sequential(nn.Dense(in_features, hidden), nn.ReLU(), nn.Dense(hidden, out_features))


def failed_checks(estimator) -> list[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(estimator, on_fail=None)
    assert len(results) > 40
    return [f"{r['check_name']}: {r['exception']!r}" for r in results if r["status"] == "failed"]


def test_classifier_passes_check_estimator() -> None:
    # lr and epochs enough to learn check_classifiers_train's blobs (accuracy > 0.83); with the
    # defaults (lr=0.001, 10 epochs of 5 batches) only that score check fails: too little training.
    assert failed_checks(nn.NeuralNetClassifier(mlp, lr=0.01, epochs=30, random_state=0)) == []


def test_regressor_passes_check_estimator() -> None:
    assert failed_checks(nn.NeuralNetRegressor(mlp, lr=0.01, epochs=50, random_state=0)) == []


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    return load_digits(return_X_y=True)


def test_cross_val_score_on_digits_in_a_pipeline(digits) -> None:
    x, y = digits
    pipe = make_pipeline(StandardScaler(), nn.NeuralNetClassifier(mlp, lr=0.01, epochs=10, random_state=0))
    scores = cross_val_score(pipe, x, y, cv=5)
    assert scores.shape == (5,) and scores.mean() >= 0.9


def test_randomized_search_with_loguniform_and_routed_parameters(digits) -> None:
    from scipy.stats import loguniform

    x, y = digits
    space = {"lr": loguniform(1e-3, 1e-1), "module__hidden": [16, 32], "optimizer__weight_decay": [0.0, 1e-4]}
    search = RandomizedSearchCV(nn.NeuralNetClassifier(mlp, epochs=3, random_state=0), space, n_iter=3, cv=2,
                                random_state=0)  # fmt: skip
    search.fit(x / 16, y)
    assert set(search.best_params_) == set(space) and 1e-3 <= search.best_params_["lr"] <= 1e-1
    best = search.best_estimator_
    assert best.module_[0].out_features == search.best_params_["module__hidden"]
    assert best.optimizer_.param_groups[0]["weight_decay"] == search.best_params_["optimizer__weight_decay"]
    assert search.best_score_ > 0.5


def test_parameters_are_routed_and_cloned() -> None:
    clf = nn.NeuralNetClassifier(mlp, optimizer=optim.Momentum, module__hidden=7, optimizer__beta=0.5, epochs=2)
    params = clf.get_params()
    assert params["module__hidden"] == 7 and params["optimizer__beta"] == 0.5 and params["lr"] == 0.001
    assert params["loss"] is nn.softmax_cross_entropy and nn.NeuralNetRegressor(mlp).loss is nn.mse
    other = clone(clf).set_params(module__hidden=5, lr=0.1)
    assert other.get_params()["module__hidden"] == 5 and clf.get_params()["module__hidden"] == 7
    x = np.random.default_rng(0).normal(size=(30, 3))
    y = np.array(["cat", "dog", "emu"] * 10)
    other.fit(x, y)
    assert other.module_[0].weight.shape == (3, 5) and other.optimizer_.param_groups[0]["beta"] == 0.5
    assert other.optimizer_.lr == 0.1
    with pytest.raises(TypeError, match="module__NAME or optimizer__NAME"):
        nn.NeuralNetClassifier(mlp, hidden=3).fit(x, y)


def test_classifier_predictions_probabilities_and_partial_fit() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 4))
    y = np.where(x[:, 0] > 0, "pos", "neg")
    clf = nn.NeuralNetClassifier(mlp, lr=0.05, epochs=15, random_state=0).fit(x, y)
    proba = clf.predict_proba(x)
    assert list(clf.classes_) == ["neg", "pos"] and proba.shape == (120, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(x))
    assert clf.score(x, y) > 0.9 and len(clf.history_.epoch) == 15

    part = nn.NeuralNetClassifier(mlp, lr=0.05, random_state=0)
    part.partial_fit(x[:60], y[:60], classes=["neg", "pos", "zero"])
    part.partial_fit(x[60:], y[60:])
    assert len(part.history_.epoch) == 2 and part.module_[-1].out_features == 3
    with pytest.raises(ValueError, match="label 'other' is not among the classes"):
        part.partial_fit(x[:2], np.array(["other", "pos"]))
    again = nn.NeuralNetClassifier(mlp, lr=0.05, epochs=15, random_state=0).fit(x, y)
    np.testing.assert_array_equal(again.predict_proba(x), proba)  # random_state: reproducible


def test_regressor_keeps_the_shape_of_y() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(100, 3))
    y = x @ np.array([1.0, -2.0, 0.5])
    reg = nn.NeuralNetRegressor(mlp, lr=0.02, epochs=40, random_state=0).fit(x, y)
    assert reg.predict(x).shape == (100,) and reg.score(x, y) > 0.9
    two = np.stack([y, -y], axis=1)
    assert nn.NeuralNetRegressor(mlp, epochs=1).fit(x, two).predict(x).shape == (100, 2)
