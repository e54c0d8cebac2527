"""Babysitting one model
=====================

Babysitting one model (the deep-learning course's panda): train day by day, watch the learning curve,
go back to yesterday's checkpoint and change the learning rate.

Day 1, 2 and 3 each train a few epochs and leave a checkpoint (``dayN.npz``: model,
optimizer, schedule, history, epoch and random generators, in one atomic ``.npz``).
Day 3's curve is disappointing, so we go back to day 2's checkpoint with a lower
learning rate and train day 3 again. Both curves go on one figure,
``docs/babysit.png`` (or the folder given).

    .venv/bin/pip install -e ".[examples]" && .venv/bin/python examples/babysit.py [output directory]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import nn
import optim

EPOCHS_PER_DAY = 4


def data() -> tuple[np.ndarray, np.ndarray]:
    x, y = load_digits(return_X_y=True)
    x_train, _, y_train, _ = train_test_split(x / 16.0, y, test_size=0.2, random_state=0, stratify=y)
    return x_train, y_train


def new_model() -> tuple[nn.Module, optim.Optimizer]:
    """Build the model and its optimizer; resuming overwrites whatever they start with."""
    model = nn.Sequential(nn.Dense(64, 64), nn.ReLU(), nn.Dropout(0.2), nn.Dense(64, 10))
    return model, optim.Momentum(model.parameters(), lr=2.0, beta=0.9)


def day(n: int, folder: Path, resume_from: str | None = None, lr: float | None = None, name: str = "") -> nn.History:
    """Train until the end of day ``n`` (``EPOCHS_PER_DAY`` epochs a day), resuming from a checkpoint."""
    x, y = data()
    model, opt = new_model()
    history = nn.fit(
        model, x, y,
        loss=nn.softmax_cross_entropy, optimizer=opt, metrics=["accuracy"],
        epochs=n * EPOCHS_PER_DAY, batch_size=32, validation_split=0.2, seed=0,
        checkpoint=folder / f"day{n}{name}.npz",
        resume=None if resume_from is None else folder / resume_from,
        lr=lr, verbose=2,
    )  # fmt: skip
    print(f"-- end of day {n}{name}: val_loss {history.history['val_loss'][-1]:.4f}, lr {opt.lr:g}\n")
    return history


def main() -> None:
    out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "docs"
    nn.seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        day(1, folder)
        day(2, folder, resume_from="day1.npz")
        first = day(3, folder, resume_from="day2.npz")
        print("Day 3's curve jumps about: back to day 2's checkpoint with a learning rate ten times lower.\n")
        second = day(3, folder, resume_from="day2.npz", lr=0.2, name="b")
    assert first.history["loss"][: 2 * EPOCHS_PER_DAY] == second.history["loss"][: 2 * EPOCHS_PER_DAY]  # same days 1-2
    for name, h in (("lr 2", first), ("lr 0.2 from day 2", second)):
        print(f"day 3 with {name}: best val_loss {min(h.history['val_loss'][-EPOCHS_PER_DAY:]):.4f}, "
              f"last {h.history['val_loss'][-1]:.4f}")  # fmt: skip

    fig = first.plot(label="lr 2")
    second.plot(axes=fig.axes, label="day 3 again, lr 0.2")
    for ax in fig.axes:
        for d in (1, 2):
            ax.axvline(d * EPOCHS_PER_DAY + 0.5, color="#999999", linewidth=0.8)
    fig.suptitle("Babysitting one model: day 3 twice, from day 2's checkpoint")
    out_dir.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_dir / "babysit.png", dpi=90)
    print("wrote", out_dir / "babysit.png")


if __name__ == "__main__":
    main()
