"""The one module of argument checks (autograd_core._checks) and the layers, optimizers and
functions that use it: every refusal names the function, the argument and the value."""

from __future__ import annotations

import re

import numpy as np
import pytest

import autograd_core as ag
import nn
import optim
from autograd_core import Tensor
from autograd_core._checks import check_bool, check_choice, check_int, check_real


def test_check_bool_takes_numpys_bools_and_refuses_look_alikes():
    assert check_bool(np.True_, "flag", "f") is True and check_bool(np.bool_(False), "flag", "f") is False
    for bad in (1, 0, "yes", None, np.int64(1)):
        with pytest.raises(TypeError, match=re.escape(f"f: flag must be True or False, got {bad!r}")):
            check_bool(bad, "flag", "f")


def test_the_message_can_say_what_a_value_is_and_what_it_must_be():
    with pytest.raises(
        ValueError, match=r"^Dropout: p is the probability of dropping an element and must be in \[0, 1\]"
    ):
        check_real(
            2, "p", "Dropout", low=0, high=1, meaning="the probability of dropping an element", expected="in [0, 1]"
        )
    with pytest.raises(TypeError, match=r"^LeakyReLU: negative_slope must be a real number, got 1j$"):
        check_real(1j, "negative_slope", "LeakyReLU", noun="real number")
    with pytest.raises(ValueError, match=r"^f: x must be a non-negative real number, got -1$"):
        check_real(-1, "x", "f", low=0, noun="real number")
    with pytest.raises(ValueError, match=r"^Sched.step: epoch must be an integer >= 1, got 0$"):
        check_int(0, "epoch", "Sched.step", low=1, expected="an integer >= 1")
    with pytest.raises(ValueError, match=r"^draw_graph: labels must be 'values' or 'ops'; got 'nodes'$"):
        check_choice("nodes", "labels", "draw_graph", ("values", "ops"), expected="'values' or 'ops'")
    # without them, the usual wording
    with pytest.raises(ValueError, match=r"^f: x must be a number in \[0, 1\], got 2$"):
        check_real(2, "x", "f", low=0, high=1)
    with pytest.raises(ValueError, match=r"^f: mode must be one of 'max', 'min'; got 'up'$"):
        check_choice("up", "mode", "f", ("max", "min"))


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: nn.BatchNorm(3, momentum="0.9"), TypeError, r"BatchNorm: momentum is the weight of .* got '0.9'"),
        (lambda: nn.BatchNorm(3, eps=0), ValueError, r"BatchNorm: eps must be a positive number, got 0"),
        (lambda: nn.LeakyReLU(float("nan")), ValueError, r"LeakyReLU: negative_slope must be a finite real number"),
        (lambda: nn.Dropout("0.5"), TypeError, r"Dropout: p is the probability .* must be a number, got '0.5'"),
        (lambda: nn.Dense(3, "2"), ValueError, r"Dense: out_features must be a positive integer, got '2'"),
        (lambda: ag.grad(lambda x: x, argnums=True), TypeError, r"argnums must be an int or a non-empty tuple"),
        (lambda: ag.grad(lambda x: x, argnums=()), TypeError, r"argnums must be an int or a non-empty tuple"),
        (lambda: ag.draw_graph(Tensor(1.0), max_depth=-1), ValueError, r"max_depth must be a non-negative integer"),
        (lambda: ag.draw_graph(Tensor(1.0), label_width=2), ValueError, r"label_width must be an integer >= 4, got 2"),
        (lambda: ag.arange(0, "5"), TypeError, r"arange: stop must be a real number, got '5'"),
        (lambda: ag.linspace(0, 1, 2.0), ValueError, r"linspace: num must be a non-negative integer, got 2.0"),
        (lambda: ag.eye(2, k=0.5), ValueError, r"eye: k \(the diagonal's offset\) must be an integer, got 0.5"),
        (lambda: ag.leaky_relu(Tensor([1.0]), np.inf), ValueError, r"leaky_relu: negative_slope must be a finite"),
        (lambda: optim.SGD([Tensor(1.0, requires_grad=True)], lr=np.inf), ValueError, r"lr must be a non-negative"),
        (lambda: optim.StaircaseDecay(optim.SGD([Tensor(1.0, requires_grad=True)], lr=0.1), 2, drop="half"),
         TypeError, r"StaircaseDecay: drop must be a number, got 'half'"),
    ],
)  # fmt: skip
def test_converted_checks_name_the_function_the_argument_and_the_value(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_converted_checks_still_accept_numpy_numbers_and_return_plain_ones():
    assert nn.Dropout(np.float32(0.25)).p == 0.25 and type(nn.Dropout(np.float32(0.25)).p) is float
    assert nn.Dense(np.int64(3), 2).in_features == 3
    opt = optim.Adam([Tensor(1.0, requires_grad=True)], lr=np.float64(0.1), beta1=np.float32(0.5))
    assert type(opt.lr) is float and opt.param_groups[0]["beta1"] == 0.5
    assert ag.grad(lambda x, y: x * y, argnums=np.int64(1))(2.0, 3.0).item() == 2.0  # one argnum: one gradient
    assert ag.eye(3, k=np.int64(1)).data[0, 1] == 1.0
