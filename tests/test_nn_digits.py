"""The digits example trains to ≥ 95 % test accuracy (a small, fast variant) and predicts one example."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="the digits check needs scikit-learn (pip install -e '.[dev]')")

from helpers import load_example  # noqa: E402

import nn  # noqa: E402
from autograd_core import no_grad  # noqa: E402


def test_digits_network_reaches_95_percent_and_predicts_single_examples(tmp_path):
    digits = load_example("digits")
    model, scores, (_, x_test, _, y_test) = digits.train(epochs=10, hidden=(64,), seed=0)
    assert scores["test"] >= 0.95
    assert scores["train"] >= scores["test"] - 0.05
    assert not model.training
    with no_grad():
        batch = model(x_test).numpy()
        singles = np.concatenate([model(x_test[i : i + 1]).numpy() for i in range(5)])
    np.testing.assert_allclose(singles, batch[:5], rtol=1e-12, atol=1e-12)  # eval mode: no batch dependence
    assert np.mean(np.argmax(batch, axis=1) == y_test) == scores["test"]

    nn.save(model, tmp_path / "digits.npz")
    again = nn.load(digits.make_model((64,), seed=1), tmp_path / "digits.npz").eval()
    with no_grad():
        np.testing.assert_array_equal(again(x_test).numpy(), batch)
