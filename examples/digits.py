"""Handwritten digits with nn.fit
==============================

Handwritten digits (scikit-learn's bundled 8×8 ``load_digits``) with a small network:

    Dense → BatchNorm → ReLU → Dense → BatchNorm → ReLU → Dense (10 logits)

trained with ``nn.fit``: mini-batch gradient descent on the softmax cross-entropy, a
random 10 % of the training set held out for validation, early stopping on the
validation loss (the best epoch's weights restored). Prints one line per epoch, the
train and test accuracy, predicts a single test example in eval mode, and draws the
learning curves to ``docs/digits_curves.png`` (or the folder given).

    .venv/bin/pip install -e ".[examples]" && .venv/bin/python examples/digits.py [output directory]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import nn
import optim


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


def load(seed: int = 0) -> tuple[np.ndarray, ...]:
    """80 % / 20 % stratified split of the digits, standardised with the training statistics."""
    digits = load_digits()
    x = digits.data / 16.0  # pixels 0..16 → [0, 1]
    x_train, x_test, y_train, y_test = train_test_split(
        x, digits.target, test_size=0.2, random_state=seed, stratify=digits.target
    )
    mu, sd = x_train.mean(axis=0), x_train.std(axis=0) + 1e-8
    return (x_train - mu) / sd, (x_test - mu) / sd, y_train, y_test


def run(
    epochs: int = 30,
    batch_size: int = 32,
    lr: float = 0.1,
    hidden: tuple[int, ...] = (128, 64),
    seed: int = 0,
    verbose: int | str = 0,
) -> tuple[nn.Sequential, dict[str, float], tuple[np.ndarray, ...], nn.History]:
    """Train on 80 % of the digits; returns the model (in eval mode), the accuracies, the split and the history."""
    x_train, x_test, y_train, y_test = load(seed)
    model = make_model(hidden, seed)
    history = nn.fit(
        model, x_train, y_train,
        loss=nn.softmax_cross_entropy,
        optimizer=optim.GradientDescent(model.parameters(), lr=lr),
        epochs=epochs, batch_size=batch_size, seed=seed,
        validation_split=0.1,
        metrics=["accuracy"],
        callbacks=[nn.EarlyStopping(monitor="val_loss", patience=5, restore_best_weights=True)],
        verbose=verbose,
    )  # fmt: skip
    model.eval()
    scores = {
        "train": nn.accuracy(nn.predict(model, x_train), y_train),
        "test": nn.accuracy(nn.predict(model, x_test), y_test),
    }
    return model, scores, (x_train, x_test, y_train, y_test), history


def train(**options: object) -> tuple[nn.Sequential, dict[str, float], tuple[np.ndarray, ...]]:
    """:func:`run` without the history: the model (in eval mode), the accuracies and the split."""
    return run(**options)[:3]  # type: ignore[arg-type]


def main() -> None:
    out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "docs"
    start = time.perf_counter()
    model, scores, (_, x_test, _, y_test), history = run(verbose="auto")
    elapsed = time.perf_counter() - start
    print(model)
    print(f"train accuracy {scores['train']:.4f}   test accuracy {scores['test']:.4f}   ({elapsed:.1f} s)")

    probs = nn.Softmax()(nn.predict(model, x_test[:1])).numpy()[0]  # one example: eval mode's running statistics
    print(f"single example: predicted {int(np.argmax(probs))} (p = {probs.max():.3f}), true label {y_test[0]}")

    fig = history.plot()
    fig.suptitle("digits: learning curves (nn.fit, EarlyStopping)")
    out_dir.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_dir / "digits_curves.png", dpi=90)
    print("wrote", out_dir / "digits_curves.png")


if __name__ == "__main__":
    main()
