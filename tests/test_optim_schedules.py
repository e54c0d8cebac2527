"""optim schedules: the lecture's learning-rate decays, for the first epochs."""

from __future__ import annotations

import math

import numpy as np
import pytest

import optim
from autograd_core import Tensor


def lrs(schedule: optim.Schedule, epochs: int = 4) -> list[float]:
    """The optimizer's learning rate during epochs 1..epochs."""
    out = [schedule.optimizer.lr]
    for _ in range(epochs - 1):
        schedule.step()
        out.append(schedule.optimizer.lr)
    return out


def make_opt(lr: float = 0.2, cls=optim.GradientDescent) -> optim.Optimizer:
    return cls([Tensor([1.0, 2.0], requires_grad=True)], lr=lr)


def test_inverse_time_decay_is_the_lectures_table():
    # α₀ = 0.2, decay_rate = 1: epoch 1 → 0.1, 2 → 0.067, 3 → 0.05, 4 → 0.04
    got = lrs(optim.InverseTimeDecay(make_opt(), decay_rate=1.0))
    assert got == pytest.approx([0.1, 0.2 / 3, 0.05, 0.04], rel=1e-15)


def test_exponential_decay():
    got = lrs(optim.ExponentialDecay(make_opt(), rate=0.95))
    assert got == pytest.approx([0.19, 0.1805, 0.171475, 0.16290125], rel=1e-14)


def test_inverse_sqrt_decay():
    got = lrs(optim.InverseSqrtDecay(make_opt(), k=1.0))
    assert got == pytest.approx([0.2, 0.2 / math.sqrt(2), 0.2 / math.sqrt(3), 0.1], rel=1e-15)
    assert optim.InverseSqrtDecay(make_opt(), k=0.5).optimizer.lr == pytest.approx(0.1)


def test_staircase_decay():
    got = lrs(optim.StaircaseDecay(make_opt(), every=2, drop=0.5), epochs=6)
    assert got == pytest.approx([0.2, 0.2, 0.1, 0.1, 0.05, 0.05], rel=1e-15)


def test_lambda_decay_and_explicit_epoch():
    s = optim.LambdaDecay(make_opt(), lambda epoch: 1.0 if epoch < 3 else 0.1)
    assert s.optimizer.lr == 0.2 and s.epoch == 1
    s.step(5)
    assert s.epoch == 5 and s.optimizer.lr == pytest.approx(0.02)
    assert s.lr_at(2) == 0.2


@pytest.mark.parametrize("cls", [optim.GradientDescent, optim.Momentum, optim.RMSprop, optim.Adam])
def test_works_with_any_optimizer_and_is_used_by_step(cls):
    w = Tensor(0.0, requires_grad=True)
    opt = cls([w], lr=0.1)
    schedule = optim.ExponentialDecay(opt, rate=0.5)
    assert opt.lr == 0.05
    schedule.step()
    assert opt.lr == 0.025
    ref = Tensor(0.0, requires_grad=True)
    ref_opt = cls([ref], lr=0.025)
    opt.minimize(lambda: (w - 5) ** 2)
    ref_opt.minimize(lambda: (ref - 5) ** 2)
    assert w.item() == ref.item()


def test_groups_keep_their_ratio():
    a, b = Tensor(0.0, requires_grad=True), Tensor(0.0, requires_grad=True)
    opt = optim.Adam([{"params": [a]}, {"params": [b], "lr": 0.01}], lr=0.1)
    schedule = optim.InverseTimeDecay(opt, decay_rate=1.0)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.05, 0.005])
    assert schedule.base_lrs == [0.1, 0.01]


def test_changing_base_lr_by_hand_applies_at_once():
    schedule = optim.InverseTimeDecay(make_opt(), decay_rate=1.0)
    schedule.step()  # epoch 2: 0.2 / 3
    schedule.base_lr = 0.3
    assert schedule.optimizer.lr == pytest.approx(0.1)
    schedule.step()
    assert schedule.optimizer.lr == pytest.approx(0.075)


def test_state_dict_round_trip():
    s = optim.ExponentialDecay(make_opt(), rate=0.9)
    s.step()
    s.step()
    s.base_lr = 0.5
    s2 = optim.ExponentialDecay(make_opt(), rate=0.9)
    s2.load_state_dict(s.state_dict())
    assert (s2.epoch, s2.base_lr, s2.optimizer.lr) == (3, 0.5, s.optimizer.lr)
    with pytest.raises(ValueError, match="from a ExponentialDecay, not a InverseTimeDecay"):
        optim.InverseTimeDecay(make_opt()).load_state_dict(s.state_dict())


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda o: optim.InverseTimeDecay(o, decay_rate=-1), r"InverseTimeDecay: decay_rate must be a non-neg"),
        (lambda o: optim.ExponentialDecay(o, rate=0), r"ExponentialDecay: rate must be a positive.*got 0"),
        (lambda o: optim.InverseSqrtDecay(o, k=-2), r"InverseSqrtDecay: k must be a positive.*got -2"),
        (lambda o: optim.StaircaseDecay(o, every=0), r"StaircaseDecay: every must be a positive integer"),
        (lambda o: optim.StaircaseDecay(o, every=2, drop=1.5), r"StaircaseDecay: drop must be in \(0, 1\]"),
        (lambda o: optim.LambdaDecay(o, 3), r"LambdaDecay: fn must be callable"),
        (lambda o: optim.ExponentialDecay(o).step(0), r"ExponentialDecay.step: epoch must be an integer >= 1"),
        (lambda o: optim.ExponentialDecay(np.zeros(1)), r"ExponentialDecay: expected an optim optimizer"),
    ],
)
def test_invalid_arguments(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make(make_opt())
