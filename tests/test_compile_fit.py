"""``nn.fit(..., compile=True)``, ``nn.evaluate``/``nn.predict`` with ``compile=True`` and the
scikit-learn estimators' ``compile=``: bit for bit what they compute without it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import nn
import optim


def _state(model: nn.Module) -> dict[str, bytes]:
    return {k: v.tobytes() for k, v in model.state_dict().items()}


def _fit(make: Any, x: np.ndarray, y: np.ndarray, compile: bool, **options: Any) -> tuple[Any, ...]:  # noqa: A002
    model, opt = make()
    history = nn.fit(model, x, y, optimizer=opt, epochs=3, batch_size=32, seed=0, verbose=0, compile=compile, **options)
    grads = [None if p.grad is None else p.grad.tobytes() for p in model.parameters()]
    return history.history, _state(model), grads, {k: np.asarray(v).tobytes() for k, v in opt.state_dict().items()}


def _classifier() -> tuple[nn.Module, optim.Optimizer]:
    model = nn.Sequential(
        nn.Dense(4, 16, rng=0), nn.BatchNorm(16), nn.ReLU(), nn.Dropout(0.2, rng=5), nn.Dense(16, 3, rng=1)
    )
    return model, optim.Adam(model.parameters(), lr=0.01)


def test_fit_compiled_is_fit_eager_bit_for_bit() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(150, 4))
    y = rng.integers(0, 3, size=150)
    options = dict(loss=nn.softmax_cross_entropy, validation_split=0.2, metrics=["accuracy"])
    assert _fit(_classifier, x, y, True, **options) == _fit(_classifier, x, y, False, **options)


@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_float_targets_of_another_dtype_than_the_model(loss: str) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(70, 3))
    y = (rng.uniform(size=(70, 1)) > 0.5).astype(np.float64)  # float64 targets for a float32 model

    def make() -> tuple[nn.Module, optim.Optimizer]:
        model = nn.Sequential(
            nn.Dense(3, 8, rng=0, dtype=np.float32), nn.Tanh(), nn.Dense(8, 1, rng=1, dtype=np.float32)
        )
        return model, optim.SGD(model.parameters(), lr=0.1)

    assert _fit(make, x, y, True, loss=loss) == _fit(make, x, y, False, loss=loss)


def test_fit_compiled_runs_programs_and_traces_a_few_times() -> None:
    calls: list[int] = []

    class Counting(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.dense = nn.Dense(4, 2, rng=0)

        def forward(self, x: Any) -> Any:
            calls.append(1)  # a Python side effect: when the step is traced, never when it runs
            return self.dense(x)

    x = np.random.default_rng(2).normal(size=(100, 4))
    y = np.arange(100) % 2
    model = Counting()
    nn.fit(model, x, y, loss="cross_entropy", optimizer="sgd", epochs=4, batch_size=32, verbose=0, compile=True)
    assert len(calls) == 2  # batches of 32, and the last of 4: two programs, for 4 epochs of 4 batches


def test_evaluate_and_predict_compiled() -> None:
    model, _ = _classifier()
    x = np.random.default_rng(3).normal(size=(600, 4))
    y = np.arange(600) % 3
    expected = nn.predict(model, x, batch_size=128)
    got = nn.predict(model, x, batch_size=128, compile=True)
    assert got.tobytes() == expected.tobytes() and model.training
    assert nn.evaluate(model, x, y, loss="cross_entropy", compile=True) == nn.evaluate(
        model, x, y, loss="cross_entropy"
    )
    with pytest.raises(TypeError, match="nn.predict: compile must be True or False"):
        nn.predict(model, x, compile="yes")


def test_the_estimators_compile_parameter() -> None:
    pytest.importorskip("sklearn")

    def mlp(in_features: int, out_features: int) -> nn.Module:
        return nn.Sequential(nn.Dense(in_features, 8), nn.ReLU(), nn.Dense(8, out_features))

    rng = np.random.default_rng(4)
    x = rng.normal(size=(90, 5))
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    plain = nn.NeuralNetClassifier(mlp, lr=0.05, epochs=3, random_state=0).fit(x, y)
    compiled = nn.NeuralNetClassifier(mlp, lr=0.05, epochs=3, random_state=0, compile=True).fit(x, y)
    assert compiled.get_params()["compile"] is True and plain.get_params()["compile"] is False
    assert compiled.predict_proba(x).tobytes() == plain.predict_proba(x).tobytes()
    assert _state(compiled.module_) == _state(plain.module_)
    reg = nn.NeuralNetRegressor(mlp, lr=0.05, epochs=2, random_state=0, compile=True).fit(x, x[:, 0])
    assert (
        reg.predict(x).tobytes()
        == nn.NeuralNetRegressor(mlp, lr=0.05, epochs=2, random_state=0).fit(x, x[:, 0]).predict(x).tobytes()
    )
