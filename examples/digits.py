"""Handwritten digits (scikit-learn's bundled 8×8 ``load_digits``) with a small network:

    Dense → BatchNorm → ReLU → Dense → BatchNorm → ReLU → Dense (10 logits)

trained with mini-batch gradient descent on the softmax cross-entropy. Prints the
train and test accuracy, then predicts a single test example in eval mode.

    .venv/bin/pip install -e ".[examples]" && .venv/bin/python examples/digits.py
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import nn
import optim
from autograd_core import no_grad


def make_model(hidden: tuple[int, ...] = (128, 64), seed: int = 0) -> nn.Sequential:
    """64 pixels → hidden layers (Dense without bias, BatchNorm, ReLU) → 10 logits."""
    rng = np.random.default_rng(seed)
    layers: list[nn.Module] = []
    width = 64
    for h in hidden:
        layers += [nn.Dense(width, h, bias=False, rng=rng), nn.BatchNorm(h), nn.ReLU()]
        width = h
    layers.append(nn.Dense(width, 10, init="xavier", rng=rng))
    return nn.Sequential(*layers)


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    with no_grad():
        return float(np.mean(np.argmax(model(x).numpy(), axis=1) == y))


def train(
    epochs: int = 30, batch_size: int = 32, lr: float = 0.1, hidden: tuple[int, ...] = (128, 64), seed: int = 0
) -> tuple[nn.Sequential, dict[str, float], tuple[np.ndarray, ...]]:
    """Train on 80 % of the digits; returns the model (in eval mode), the accuracies and the split."""
    digits = load_digits()
    x = digits.data / 16.0  # pixels 0..16 → [0, 1]
    x_train, x_test, y_train, y_test = train_test_split(
        x, digits.target, test_size=0.2, random_state=seed, stratify=digits.target
    )
    mu, sd = x_train.mean(axis=0), x_train.std(axis=0) + 1e-8  # standardise with training statistics
    x_train, x_test = (x_train - mu) / sd, (x_test - mu) / sd

    model = make_model(hidden, seed)
    opt = optim.GradientDescent(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    n = len(x_train)
    model.train()
    for _ in range(epochs):
        order = rng.permutation(n)
        for start in range(0, n - 1, batch_size):  # n - 1: never a last batch of one example
            idx = order[start : start + batch_size]
            xb, yb = x_train[idx], y_train[idx]
            opt.minimize(lambda xb=xb, yb=yb: nn.softmax_cross_entropy(model(xb), yb))
    model.eval()
    scores = {"train": accuracy(model, x_train, y_train), "test": accuracy(model, x_test, y_test)}
    return model, scores, (x_train, x_test, y_train, y_test)


def main() -> None:
    start = time.perf_counter()
    model, scores, (_, x_test, _, y_test) = train()
    elapsed = time.perf_counter() - start
    print(model)
    print(f"train accuracy {scores['train']:.4f}   test accuracy {scores['test']:.4f}   ({elapsed:.1f} s)")

    one = x_test[:1]  # a single example: possible because eval mode uses the running statistics
    with no_grad():
        probs = nn.Softmax()(model(one)).numpy()[0]
    print(f"single example: predicted {int(np.argmax(probs))} (p = {probs.max():.3f}), true label {y_test[0]}")


if __name__ == "__main__":
    main()
