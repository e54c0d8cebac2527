"""A convolutional network on the digits
=====================================

A small convolutional network (LeNet's shape) on scikit-learn's 8×8 handwritten digits:

    Conv2d(1→8, 3×3, padding 1) → ReLU → MaxPool2d(2)       (n, 8, 4, 4)
    Conv2d(8→16, 3×3, padding 1) → ReLU → MaxPool2d(2)      (n, 16, 2, 2)
    Flatten → Dense(64 → 10)                                 10 logits

trained with Adam on mini-batches of 64 in float32. Prints the test accuracy and the
training time, then predicts a single image (``x[None]``: a batch of one).

    .venv/bin/pip install -e ".[examples]" && .venv/bin/python examples/cnn_digits.py
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import autograd_core as ag
import nn
import optim
from autograd_core import no_grad


def make_model(seed: int = 0, dtype: type = np.float32) -> nn.Sequential:
    """Two convolution + pooling stages, then a Dense layer on the 16 × 2 × 2 features."""
    rng = np.random.default_rng(seed)
    return nn.Sequential(
        nn.Conv2d(1, 8, kernel_size=3, padding=1, rng=rng, dtype=dtype),  # (n, 8, 8, 8)
        nn.ReLU(),
        nn.MaxPool2d(2),  # (n, 8, 4, 4)
        nn.Conv2d(8, 16, kernel_size=3, padding=1, rng=rng, dtype=dtype),  # (n, 16, 4, 4)
        nn.ReLU(),
        nn.MaxPool2d(2),  # (n, 16, 2, 2)
        nn.Flatten(),  # (n, 64)
        nn.Dense(16 * 2 * 2, 10, init="xavier", rng=rng, dtype=dtype),
    )


def load_images(seed: int = 0, dtype: type = np.float32) -> tuple[np.ndarray, ...]:
    """The digits as ``(n, 1, 8, 8)`` images scaled to [0, 1], split 80/20 (stratified)."""
    digits = load_digits()
    x = (digits.data / 16.0).reshape(-1, 1, 8, 8).astype(dtype)  # NCHW: one channel
    return tuple(train_test_split(x, digits.target, test_size=0.2, random_state=seed, stratify=digits.target))


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    with no_grad():
        return float(np.mean(np.argmax(model(x).numpy(), axis=1) == y))


def train(
    epochs: int = 20, batch_size: int = 64, lr: float = 0.01, seed: int = 0
) -> tuple[nn.Sequential, dict[str, float], tuple[np.ndarray, ...]]:
    """Train with Adam; returns the model (in eval mode), accuracies and seconds, and the split."""
    x_train, x_test, y_train, y_test = load_images(seed)
    model = make_model(seed)
    opt = optim.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    for _ in range(epochs):
        order = rng.permutation(len(x_train))
        for i in range(0, len(order), batch_size):
            idx = order[i : i + batch_size]
            xb, yb = x_train[idx], y_train[idx]
            opt.minimize(lambda xb=xb, yb=yb: nn.softmax_cross_entropy(model(xb), yb))
    seconds = time.perf_counter() - start
    model.eval()
    scores = {
        "train": accuracy(model, x_train, y_train),
        "test": accuracy(model, x_test, y_test),
        "seconds": seconds,
    }
    return model, scores, (x_train, x_test, y_train, y_test)


def main() -> None:
    # A loop of our own, so we choose the BLAS threads as nn.fit does: one (products this small gain
    # nothing from a second thread, and wait for it when another process holds a core).
    ag.set_num_threads(1)
    model, scores, (_, x_test, _, y_test) = train()
    print(model)
    print(
        f"train accuracy {scores['train']:.4f}   test accuracy {scores['test']:.4f}   "
        f"(training: {scores['seconds']:.1f} s)"
    )
    image = x_test[0]  # (1, 8, 8): one channel; the network wants a batch, so x[None]
    with no_grad():
        probs = nn.Softmax()(model(image[None])).numpy()[0]
    print(f"single image: predicted {int(np.argmax(probs))} (p = {probs.max():.3f}), true label {y_test[0]}")


if __name__ == "__main__":
    main()
