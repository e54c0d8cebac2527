"""Digits read as sequences by an LSTM
====================================

An LSTM reads scikit-learn's 8×8 handwritten digits row by row, as sequences of 8 time steps
of 8 pixels, and classifies each from its last hidden state:

    LSTM(8 → 64) over the 8 rows → h_n (the state after the last row) → Dense(64 → 10)

trained with ``nn.fit`` (Adam, mini-batches of 64, a held-out validation split). Prints the
learning curve, the test accuracy and the training time, then classifies one digit.

    .venv/bin/pip install -e ".[examples]" && .venv/bin/python examples/sequence_digits.py
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import nn
import optim
from autograd_core import Tensor


class RowReader(nn.Module):
    """An LSTM over the rows of an image, then a Dense layer on its final state."""

    def __init__(self, hidden: int = 64, seed: int = 0) -> None:
        super().__init__()
        rng = np.random.default_rng(seed)
        self.lstm = nn.LSTM(8, hidden, rng=rng)  # (batch, 8 rows, 8 pixels): batch first
        self.head = nn.Dense(hidden, 10, init="xavier", rng=rng)

    def forward(self, x: Any) -> Tensor:
        _, (h_n, _) = self.lstm(x)
        return self.head(h_n[-1])  # the last layer's state after the last row: (batch, hidden)


def load_sequences(seed: int = 0) -> tuple[np.ndarray, ...]:
    """The digits as ``(n, 8, 8)`` sequences (8 rows of 8 pixels) scaled to [0, 1], split 80/20."""
    digits = load_digits()
    x = digits.data.reshape(-1, 8, 8) / 16.0
    return tuple(train_test_split(x, digits.target, test_size=0.2, random_state=seed, stratify=digits.target))


def train(epochs: int = 30, seed: int = 0, verbose: int = 0) -> tuple[RowReader, dict[str, Any]]:
    """Train with ``nn.fit``; returns the model (in eval mode) and the figures: accuracies, seconds, history."""
    x_train, x_test, y_train, y_test = load_sequences(seed)
    model = RowReader(seed=seed)
    start = time.perf_counter()
    history = nn.fit(
        model,
        x_train,
        y_train,
        loss=nn.softmax_cross_entropy,
        optimizer=optim.Adam(model.parameters(), lr=0.01),
        epochs=epochs,
        batch_size=64,
        validation_split=0.1,
        seed=seed,
        metrics=["accuracy"],
        verbose=verbose,
    )
    seconds = time.perf_counter() - start
    model.eval()
    test = nn.accuracy(nn.predict(model, x_test), y_test)
    return model, {"test": test, "seconds": seconds, "history": history, "split": (x_test, y_test)}


def main() -> None:
    model, figures = train(verbose=2)
    history = figures["history"].history
    print(model)
    print(
        f"test accuracy {figures['test']:.3f} (train {history['accuracy'][-1]:.3f}, "
        f"validation {history['val_accuracy'][-1]:.3f}) after {len(history['loss'])} epochs, "
        f"trained in {figures['seconds']:.1f} s"
    )
    x_test, y_test = figures["split"]
    one = nn.predict(model, x_test[:1])  # one sequence: a batch of one
    print(f"the first test digit is a {y_test[0]}; the model says {int(np.argmax(one))}")


if __name__ == "__main__":
    main()
