"""optim: the update rules against hand-computed values and PyTorch's formulas, the base class,
validation, and state_dict round trips."""

from __future__ import annotations

import math

import numpy as np
import pytest

import optim
from autograd_core import Tensor


def walkthrough_cost(w: Tensor) -> Tensor:
    return w**2 - 10 * w + 25


def run_linear(opt_factory, steps: int = 3) -> list[float]:
    """Minimise J = 2w from w = 1: the gradient is the constant 2, so the steps can be done by hand."""
    w = Tensor(1.0, requires_grad=True)
    opt = opt_factory([w])
    out = []
    for _ in range(steps):
        opt.minimize(lambda: 2 * w)
        out.append(w.item())
    return out


# --------------------------------------------------------------------------- hand-computed steps
def test_gradient_descent_by_hand():
    assert run_linear(lambda p: optim.GradientDescent(p, lr=0.1)) == pytest.approx([0.8, 0.6, 0.4], abs=1e-15)


def test_momentum_by_hand():
    # v1 = 0.1·2 = 0.2; v2 = 0.9·0.2 + 0.2 = 0.38; v3 = 0.9·0.38 + 0.2 = 0.542; w -= 0.1·v
    got = run_linear(lambda p: optim.Momentum(p, lr=0.1, beta=0.9))
    assert got == pytest.approx([0.98, 0.942, 0.8878], abs=1e-15)


def test_rmsprop_by_hand():
    # s1 = 0.1·4 = 0.4; s2 = 0.9·0.4 + 0.4 = 0.76; s3 = 0.9·0.76 + 0.4 = 1.084; w -= 0.1·2/√s
    got = run_linear(lambda p: optim.RMSprop(p, lr=0.1, beta=0.9, eps=0.0))
    w1 = 1 - 0.2 / math.sqrt(0.4)
    w2 = w1 - 0.2 / math.sqrt(0.76)
    w3 = w2 - 0.2 / math.sqrt(1.084)
    assert got == pytest.approx([w1, w2, w3], abs=1e-14)
    assert got == pytest.approx([0.683772234, 0.454356500, 0.262261813], abs=1e-9)


def test_rmsprop_eps_is_outside_the_root():
    w = Tensor(0.0, requires_grad=True)
    w.grad = np.array(1e-6)
    optim.RMSprop([w], lr=1.0, beta=0.0, eps=1e-6).step()  # s = 1e-12: step = 1e-6 / (1e-6 + 1e-6)
    assert w.item() == pytest.approx(-0.5, rel=1e-12)


def test_adam_by_hand_bias_correction_makes_steps_of_lr():
    # A constant gradient g: v̂ = g and ŝ = g² exactly, so each step is lr·g/|g| = lr.
    got = run_linear(lambda p: optim.Adam(p, lr=0.1, eps=0.0))
    assert got == pytest.approx([0.9, 0.8, 0.7], abs=1e-14)
    got = run_linear(lambda p: optim.Adam(p, lr=0.1))  # eps = 1e-8 shortens each step by lr·eps/2
    assert got == pytest.approx([1 - k * 0.1 / (1 + 0.5e-8) for k in (1, 2, 3)], abs=1e-15)


def test_adam_by_hand_on_the_walkthrough():
    w = Tensor(0.0, requires_grad=True)
    opt = optim.Adam([w], lr=0.1, beta1=0.5, beta2=0.5, eps=0.0)
    opt.minimize(lambda: walkthrough_cost(w))  # g = -10: v̂ = -10, ŝ = 100
    assert w.item() == pytest.approx(0.1, abs=1e-15)
    # g = -9.8: v = -2.5 - 4.9 = -7.4, v̂ = -7.4 / 0.75; s = 25 + 48.02 = 73.02, ŝ = 73.02 / 0.75
    opt.minimize(lambda: walkthrough_cost(w))
    assert w.item() == pytest.approx(0.1 + 0.1 * (7.4 / 0.75) / math.sqrt(73.02 / 0.75), abs=1e-15)


def test_walkthrough_first_step_is_the_lectures():
    w = Tensor(0.0, requires_grad=True, name="w")
    train = optim.GradientDescent([w], lr=0.01)
    assert train.minimize(lambda: walkthrough_cost(w)) == 25.0
    assert w.item() == 0.1
    assert optim.SGD is optim.GradientDescent


# --------------------------------------------------------------------------- PyTorch's formulas
# The references below are torch.optim's documented algorithms written out in NumPy.
C = np.array([[1.0, 0.5], [2.0, 3.0]])
D = np.array([[-1.0, 2.0], [0.25, -4.0]])
W0 = np.array([[0.3, -0.7], [1.2, 0.05]])


def quadratic(w: Tensor) -> Tensor:
    return (C * w**2 / 2 + D * w).sum()  # gradient C·w + D


def torch_reference(rule: str, steps: int, lr: float, wd: float, **h: float) -> list[np.ndarray]:
    p = W0.copy()
    buf = np.zeros_like(p)
    sq = np.zeros_like(p)
    out = []
    for t in range(1, steps + 1):
        g = C * p + D + wd * p  # torch: d_p = d_p.add(p, alpha=weight_decay)
        if rule == "sgd":
            p = p - lr * g
        elif rule == "sgd_momentum":  # torch.optim.SGD(momentum=μ, dampening=0)
            buf = g.copy() if t == 1 else h["momentum"] * buf + g
            p = p - lr * buf
        elif rule == "rmsprop":  # torch.optim.RMSprop(alpha=α)
            sq = h["alpha"] * sq + (1 - h["alpha"]) * g * g
            p = p - lr * g / (np.sqrt(sq) + h["eps"])
        elif rule == "adam":  # torch.optim.Adam
            buf = h["beta1"] * buf + (1 - h["beta1"]) * g
            sq = h["beta2"] * sq + (1 - h["beta2"]) * g * g
            bc1, bc2 = 1 - h["beta1"] ** t, 1 - h["beta2"] ** t
            p = p - (lr / bc1) * buf / (np.sqrt(sq) / math.sqrt(bc2) + h["eps"])
        out.append(p)
    return out


def ours(factory, steps: int) -> list[np.ndarray]:
    w = Tensor(W0, requires_grad=True)
    opt = factory([w])
    out = []
    for _ in range(steps):
        opt.minimize(lambda: quadratic(w))
        out.append(w.data.copy())
    return out


@pytest.mark.parametrize("wd", [0.0, 0.1])
@pytest.mark.parametrize(
    "factory, rule, lr, hyper",
    [
        (lambda p, wd: optim.GradientDescent(p, lr=0.1, weight_decay=wd), "sgd", 0.1, {}),
        # ours with lr equals PyTorch's SGD momentum with lr·(1 − β)
        (lambda p, wd: optim.Momentum(p, lr=0.1, beta=0.8, weight_decay=wd), "sgd_momentum", 0.1 * 0.2,
         {"momentum": 0.8}),
        (lambda p, wd: optim.RMSprop(p, lr=0.01, beta=0.99, eps=1e-8, weight_decay=wd), "rmsprop", 0.01,
         {"alpha": 0.99, "eps": 1e-8}),
        (lambda p, wd: optim.Adam(p, lr=0.01, weight_decay=wd), "adam", 0.01,
         {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8}),
    ],
    ids=["GradientDescent", "Momentum", "RMSprop", "Adam"],
)  # fmt: skip
def test_first_three_steps_match_torch_formulas(factory, rule, lr, hyper, wd):
    got = ours(lambda p: factory(p, wd), 3)
    want = torch_reference(rule, 3, lr, wd, **hyper)
    for step, (a, b) in enumerate(zip(got, want), 1):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14, err_msg=f"step {step}")


def test_momentum_is_not_torch_sgd_momentum_with_the_same_lr():
    got = ours(lambda p: optim.Momentum(p, lr=0.1, beta=0.9), 1)[0]
    assert not np.allclose(got, torch_reference("sgd_momentum", 1, 0.1, 0.0, momentum=0.9)[0])


# --------------------------------------------------------------------------- the walkthrough converges
# Tolerance per optimizer, from w = 0 on (w − 5)²: each reaches 5 to rounding well within the step
# budget (GD: 39 steps to 1e-3, Momentum: 107, RMSprop: 520, Adam: 144); the tolerance is loose
# enough to be robust to platform rounding.
@pytest.mark.parametrize(
    "factory, steps, tol",
    [
        (lambda p: optim.GradientDescent(p, lr=0.01), 1001, 1e-7),  # the lecture's: 4.99999999
        (lambda p: optim.GradientDescent(p, lr=0.1), 500, 1e-12),
        (lambda p: optim.Momentum(p, lr=0.1, beta=0.9), 1000, 1e-12),
        (lambda p: optim.RMSprop(p, lr=0.01), 2000, 1e-10),
        (lambda p: optim.Adam(p, lr=0.1), 1000, 1e-12),
    ],
    ids=["GD-lecture", "GD", "Momentum", "RMSprop", "Adam"],
)
def test_walkthrough_converges_to_5(factory, steps, tol):
    w = Tensor(0.0, requires_grad=True)
    opt = factory([w])
    for _ in range(steps):
        opt.minimize(lambda: walkthrough_cost(w))
    assert abs(w.item() - 5) < tol


@pytest.mark.parametrize("coefficients, minimiser", [([1.0, -10.0, 25.0], 5.0), ([1.0, -20.0, 100.0], 10.0)])
def test_walkthrough_with_coefficients_as_data(coefficients, minimiser):
    x = np.array(coefficients).reshape(3, 1)
    w = Tensor(0.0, requires_grad=True)
    opt = optim.Adam([w], lr=0.1)
    for _ in range(2000):
        opt.minimize(lambda: x[0][0] * w**2 + x[1][0] * w + x[2][0])
    assert w.item() == pytest.approx(minimiser, abs=1e-9)


# --------------------------------------------------------------------------- the base class
ALL = [
    lambda p, **k: optim.GradientDescent(p, lr=0.1, **k),
    lambda p, **k: optim.Momentum(p, lr=0.1, **k),
    lambda p, **k: optim.RMSprop(p, lr=0.1, **k),
    lambda p, **k: optim.Adam(p, lr=0.1, **k),
]
IDS = ["GradientDescent", "Momentum", "RMSprop", "Adam"]


@pytest.mark.parametrize("factory", ALL, ids=IDS)
def test_float32_stays_float32(factory):
    w = Tensor(W0.astype(np.float32), requires_grad=True)
    opt = factory([w], weight_decay=0.01)
    w64 = Tensor(W0, requires_grad=True)
    opt64 = factory([w64], weight_decay=0.01)
    for _ in range(3):
        opt.minimize(lambda: quadratic(w))
        opt64.minimize(lambda: quadratic(w64))
    assert w.dtype == np.float32 and w.grad.dtype == np.float32
    for value in opt.state[0].values():
        if isinstance(value, np.ndarray):
            assert value.dtype == np.float32
    np.testing.assert_allclose(w.data, w64.data, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("factory", ALL, ids=IDS)
def test_updates_in_place_and_skips_params_without_grad(factory):
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([3.0], requires_grad=True)
    array = a.data
    opt = factory([a, b])
    opt.minimize(lambda: (a * a).sum())  # b gets no gradient
    assert a.data is array
    assert b.grad is None and b.data.tolist() == [3.0]
    assert not np.array_equal(a.data, [1.0, 2.0])
    if "step" in opt.state[1]:
        assert opt.state[0]["step"] == 1 and opt.state[1]["step"] == 0


@pytest.mark.parametrize("factory", ALL, ids=IDS)
def test_weight_decay_is_l2_added_to_the_gradient(factory):
    # weight_decay = λ on J is the same as no weight decay on J + λ/2·‖w‖²
    w1 = Tensor(W0, requires_grad=True)
    w2 = Tensor(W0, requires_grad=True)
    opt1 = factory([w1], weight_decay=0.3)
    opt2 = factory([w2])
    for _ in range(3):
        before = w1.data.copy()
        opt1.minimize(lambda: quadratic(w1))
        opt2.minimize(lambda: quadratic(w2) + 0.15 * (w2**2).sum())
    np.testing.assert_allclose(w1.data, w2.data, rtol=1e-12)
    np.testing.assert_allclose(w1.grad, C * before + D, rtol=1e-12)  # .grad is the cost's gradient only


def test_lr_is_settable_at_any_time():
    w = Tensor(0.0, requires_grad=True)
    opt = optim.GradientDescent([w], lr=0.01)
    opt.minimize(lambda: walkthrough_cost(w))
    opt.lr = 0.1
    assert opt.lr == 0.1
    opt.minimize(lambda: walkthrough_cost(w))  # g = -9.8
    assert w.item() == pytest.approx(0.1 + 0.98)


def test_parameter_groups_have_their_own_hyperparameters():
    a = Tensor(0.0, requires_grad=True)
    b = Tensor(0.0, requires_grad=True)
    opt = optim.Momentum([{"params": [a]}, {"params": [b], "lr": 1.0, "beta": 0.5}], lr=0.1)
    opt.minimize(lambda: -a - b)  # both gradients are -1
    assert a.item() == pytest.approx(0.1 * 0.1) and b.item() == pytest.approx(1.0 * 0.5)
    assert opt.lr == 0.1 and opt.params == [a, b]
    opt.lr = 0.2
    assert [g["lr"] for g in opt.param_groups] == [0.2, 0.2]
    with pytest.raises(ValueError, match=r"unknown option.*'betta'"):
        optim.Momentum([{"params": [a], "betta": 0.5}], lr=0.1)


def test_zero_grad():
    w = Tensor([1.0, 2.0], requires_grad=True)
    opt = optim.GradientDescent([w], lr=0.1)
    (w * w).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert w.grad.tolist() == [0.0, 0.0]
    opt.zero_grad()
    assert w.grad is None


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda w: optim.GradientDescent([w], lr=-0.1), r"GradientDescent: lr must be a non-negative.*-0\.1"),
        (lambda w: optim.Momentum([w], lr=0.1, beta=1.0), r"Momentum: beta must be in \[0, 1\), got 1\.0"),
        (lambda w: optim.Momentum([w], lr=0.1, beta=-0.5), r"Momentum: beta must be in \[0, 1\), got -0\.5"),
        (lambda w: optim.RMSprop([w], lr=0.1, eps=-1e-8), r"RMSprop: eps must be a non-negative.*-1e-08"),
        (lambda w: optim.Adam([w], beta2=1.5), r"Adam: beta2 must be in \[0, 1\), got 1\.5"),
        (lambda w: optim.Adam([w], lr=float("nan")), r"Adam: lr must be a non-negative.*nan"),
        (lambda w: optim.Adam([w], weight_decay=-1), r"Adam: weight_decay must be a non-negative.*-1"),
        (lambda w: optim.Adam([w], lr="fast"), r"Adam: lr must be a number, got 'fast'"),
        (lambda w: optim.Adam([]), r"Adam: got an empty parameter list"),
        (lambda w: optim.Adam(w), r"Adam: params must be an iterable of Tensors"),
        (lambda w: optim.Adam([w, w]), r"Adam: params\[1\].*appears more than once"),
        (lambda w: optim.Adam([w * 2]), r"Adam: params\[0\].*leaf tensor with requires_grad=True"),
        (lambda w: optim.Adam([Tensor(1.0)]), r"Adam: params\[0\].*leaf tensor with requires_grad=True"),
        (lambda w: optim.Adam([np.zeros(2)]), r"Adam: params\[0\] is a ndarray, not a Tensor"),
    ],
)
def test_invalid_arguments_raise_clear_errors(make, message):
    w = Tensor(1.0, requires_grad=True)
    with pytest.raises((ValueError, TypeError), match=message):
        make(w)


def test_setting_a_bad_lr_raises():
    opt = optim.Adam([Tensor(1.0, requires_grad=True)])
    with pytest.raises(ValueError, match=r"Adam: lr must be a non-negative.*-1"):
        opt.lr = -1
    assert opt.lr == 0.001


# --------------------------------------------------------------------------- state_dict
def trained(factory, steps=3):
    a = Tensor(W0, requires_grad=True)
    b = Tensor([0.5, -0.5], requires_grad=True)
    opt = factory([a, b])
    for _ in range(steps):
        opt.minimize(lambda: quadratic(a) + (b**2).sum())
    return a, b, opt


@pytest.mark.parametrize("factory", ALL, ids=IDS)
def test_state_dict_round_trip_continues_identically(factory, tmp_path):
    a, b, opt = trained(factory)
    opt.lr = 0.05
    optim.save(opt, tmp_path / "opt.npz")
    with np.load(tmp_path / "opt.npz", allow_pickle=False) as f:  # plain arrays, no pickle
        assert str(f["optimizer"]) == type(opt).__name__

    a2, b2 = Tensor(a.data, requires_grad=True), Tensor(b.data, requires_grad=True)
    opt2 = factory([a2, b2])
    optim.load(opt2, tmp_path / "opt.npz")
    assert opt2.lr == 0.05
    for _ in range(3):
        opt.minimize(lambda: quadratic(a) + (b**2).sum())
        opt2.minimize(lambda: quadratic(a2) + (b2**2).sum())
    assert np.array_equal(a.data, a2.data) and np.array_equal(b.data, b2.data)


def test_state_dict_is_a_copy():
    a, b, opt = trained(lambda p: optim.Adam(p, lr=0.1))
    d = opt.state_dict()
    v = d["state.0.v"].copy()
    opt.minimize(lambda: quadratic(a))
    assert np.array_equal(d["state.0.v"], v)
    assert int(d["state.0.step"]) == 3 and float(d["groups.0.lr"]) == 0.1


def test_load_state_dict_errors():
    a, b, opt = trained(lambda p: optim.Adam(p, lr=0.1))
    d = opt.state_dict()
    with pytest.raises(ValueError, match="from a Adam optimizer, not a RMSprop"):
        optim.RMSprop([a, b], lr=0.1).load_state_dict(d)
    with pytest.raises(ValueError, match=r"2 parameter\(s\).*this optimizer has 1"):
        optim.Adam([a]).load_state_dict(d)
    with pytest.raises(ValueError, match=r"parameter 1 has shape \(3,\), but the state is for shape \(2,\)"):
        optim.Adam([a, Tensor([1.0, 2.0, 3.0], requires_grad=True)]).load_state_dict(d)
    with pytest.raises(ValueError, match=r"unexpected entries \['extra'\]"):
        optim.Adam([a, b]).load_state_dict({**d, "extra": np.zeros(1)})
    broken = {k: v for k, v in d.items() if k != "state.1.s"}
    fresh = optim.Adam([a, b], lr=0.5)
    with pytest.raises(ValueError, match="missing entry 'state.1.s'"):
        fresh.load_state_dict(broken)
    assert fresh.lr == 0.5 and fresh.state[0]["step"] == 0  # nothing changed by a failed load
    with pytest.raises(ValueError, match="beta1 must be in"):
        optim.Adam([a, b]).load_state_dict({**d, "groups.0.beta1": np.array(2.0)})


def test_load_casts_state_to_the_parameter_dtype():
    a = Tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    opt = optim.Momentum([a], lr=0.1)
    opt.load_state_dict({**opt.state_dict(), "state.0.v": np.array([1.0, 2.0])})
    assert opt.state[0]["v"].dtype == np.float32 and opt.state[0]["v"].tolist() == [1.0, 2.0]


def test_repr():
    opt = optim.Adam([Tensor(1.0, requires_grad=True)])
    assert repr(opt).startswith("Adam(1 parameters, lr=0.001")
