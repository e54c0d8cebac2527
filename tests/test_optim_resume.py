"""Babysitting a model (the lecture's panda): checkpoint each day, go back to yesterday, change the
learning rate, continue. Resuming must give bit-for-bit the trajectory of never having stopped."""

from __future__ import annotations

import numpy as np
import pytest

import optim
from autograd_core import Tensor
from autograd_core.serialization import load_arrays, save_arrays

RNG = np.random.default_rng(0)
X = RNG.normal(size=(32, 3))
Y = np.tanh(X @ np.array([[1.0, -2.0], [0.5, 0.0], [-1.0, 1.0]])) + 0.1 * RNG.normal(size=(32, 2))


class Model:
    """A two-layer net written by hand: tanh(x @ W1 + b1) @ W2 + b2, with mean squared error."""

    def __init__(self, seed: int, dtype: type = np.float64) -> None:
        rng = np.random.default_rng(seed)
        self.params = {
            "W1": Tensor(rng.normal(size=(3, 4)) * 0.5, requires_grad=True, dtype=dtype),
            "b1": Tensor(np.zeros(4), requires_grad=True, dtype=dtype),
            "W2": Tensor(rng.normal(size=(4, 2)) * 0.5, requires_grad=True, dtype=dtype),
            "b2": Tensor(np.zeros(2), requires_grad=True, dtype=dtype),
        }

    def loss(self, x: np.ndarray, y: np.ndarray) -> Tensor:
        p = self.params
        pred = (x @ p["W1"] + p["b1"]).tanh() @ p["W2"] + p["b2"]
        return ((pred - y) ** 2).mean()

    def save(self, path) -> None:
        save_arrays(path, {k: t.data for k, t in self.params.items()})

    def load(self, path) -> None:
        for k, v in load_arrays(path).items():
            self.params[k].data[...] = v


def make(seed: int, dtype: type = np.float64):
    model = Model(seed, dtype)
    opt = optim.Adam(model.params.values(), lr=0.05)
    schedule = optim.ExponentialDecay(opt, rate=0.9)
    return model, opt, schedule


def train_day(day: int, model: Model, opt: optim.Optimizer, schedule: optim.Schedule) -> list[float]:
    """One epoch of four mini-batches, shuffled by the day's own seed; then the schedule steps."""
    order = np.random.default_rng(1000 + day).permutation(len(X))
    losses = []
    for batch in np.split(order, 4):
        losses.append(opt.minimize(lambda b=batch: model.loss(X[b], Y[b])))
    schedule.step()
    return losses


def checkpoint(folder, day, model, opt, schedule) -> None:
    model.save(folder / f"day{day}-model.npz")
    optim.save(opt, folder / f"day{day}-optim.npz", schedule)


def restore(folder, day, model, opt, schedule) -> None:
    model.load(folder / f"day{day}-model.npz")
    optim.load(opt, folder / f"day{day}-optim.npz", schedule)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_resume_equals_uninterrupted(tmp_path, dtype):
    model, opt, schedule = make(seed=1, dtype=dtype)
    trajectory = []
    for day in range(1, 7):
        trajectory += train_day(day, model, opt, schedule)
        checkpoint(tmp_path, day, model, opt, schedule)
    final = {k: t.data.copy() for k, t in model.params.items()}

    # A new process: different initial weights and a fresh optimizer, then yesterday's checkpoint.
    model2, opt2, schedule2 = make(seed=99, dtype=dtype)
    restore(tmp_path, 3, model2, opt2, schedule2)
    assert schedule2.epoch == 4 and opt2.lr == 0.05 * 0.9**4
    resumed = trajectory[: 3 * 4]
    for day in range(4, 7):
        resumed += train_day(day, model2, opt2, schedule2)
    assert resumed == trajectory  # every loss, bit for bit
    for k, v in final.items():
        assert model2.params[k].dtype == dtype
        assert np.array_equal(model2.params[k].data, v), k
    for s, s2 in zip(opt.state, opt2.state):
        assert s["step"] == s2["step"] == 24
        assert np.array_equal(s["v"], s2["v"]) and np.array_equal(s["s"], s2["s"])


def test_go_back_to_yesterday_and_change_the_learning_rate(tmp_path):
    # The run we wish we had made: on day 4 the learning rate is halved, and training goes on.
    ref, ref_opt, ref_schedule = make(seed=1)
    ref_losses = []
    for day in range(1, 4):
        ref_losses += train_day(day, ref, ref_opt, ref_schedule)
    ref_schedule.base_lr = ref_schedule.base_lr / 2
    for day in range(4, 7):
        ref_losses += train_day(day, ref, ref_opt, ref_schedule)

    # The babysitter: trains five days, checkpointing, dislikes days 4-5, reloads day 3, halves lr.
    model, opt, schedule = make(seed=1)
    for day in range(1, 6):
        train_day(day, model, opt, schedule)
        checkpoint(tmp_path, day, model, opt, schedule)
    restore(tmp_path, 3, model, opt, schedule)
    schedule.base_lr = schedule.base_lr / 2
    losses = []
    for day in range(4, 7):
        losses += train_day(day, model, opt, schedule)

    assert losses == ref_losses[12:]
    for k, t in ref.params.items():
        assert np.array_equal(model.params[k].data, t.data), k


def test_load_into_an_optimizer_of_another_kind_fails(tmp_path):
    model, opt, schedule = make(seed=1)
    train_day(1, model, opt, schedule)
    checkpoint(tmp_path, 1, model, opt, schedule)
    other = optim.RMSprop(model.params.values(), lr=0.1)
    with pytest.raises(ValueError, match="from a Adam optimizer, not a RMSprop"):
        optim.load(other, tmp_path / "day1-optim.npz")
    plain = tmp_path / "plain.npz"
    optim.save(opt, plain)
    with pytest.raises(ValueError, match="holds no schedule state"):
        optim.load(opt, plain, schedule)
