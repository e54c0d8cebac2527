"""The CNN example (examples/cnn_digits.py) learns the 8×8 digits and predicts single images."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="the digits need scikit-learn (pip install -e '.[dev]')")

from helpers import load_example  # noqa: E402

import nn  # noqa: E402
from autograd_core import no_grad  # noqa: E402


def test_cnn_learns_the_digits_and_predicts_one_image(tmp_path):
    example = load_example("cnn_digits")
    model, scores, (_, x_test, _, y_test) = example.train(epochs=10, seed=0)  # the example runs 20
    assert scores["test"] >= 0.96 and scores["train"] >= 0.97
    assert not model.training and x_test.shape[1:] == (1, 8, 8) and x_test.dtype == np.float32
    with no_grad():
        logits = model(x_test).numpy()
        one = model(x_test[3][None]).numpy()  # a single image: a batch of one
    assert logits.dtype == np.float32 and np.mean(np.argmax(logits, axis=1) == y_test) == scores["test"]
    np.testing.assert_allclose(one, logits[3:4], rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match=r"is 3-D.*x\[None\]"):
        model(x_test[3])

    nn.save(model, tmp_path / "cnn.npz")
    again = nn.load(example.make_model(seed=1), tmp_path / "cnn.npz").eval()
    with no_grad():
        np.testing.assert_array_equal(again(x_test).numpy(), logits)
