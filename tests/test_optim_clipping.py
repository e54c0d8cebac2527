"""Gradient clipping as an optimizer option: ``clip_grad_norm=`` on every optimizer does what
``optim.clip_grad_norm(params, max_norm)`` called between ``backward()`` and ``step()`` does,
bit for bit, inside ``nn.fit`` too; it is a setting, not part of the state; bad values."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import nn
import optim
from autograd_core import Tensor

OPTIMIZERS = {
    "GradientDescent": lambda params, **kw: optim.GradientDescent(params, lr=0.1, **kw),
    "Momentum": lambda params, **kw: optim.Momentum(params, lr=0.1, beta=0.8, **kw),
    "RMSprop": lambda params, **kw: optim.RMSprop(params, lr=0.01, **kw),
    "Adam": lambda params, **kw: optim.Adam(params, lr=0.01, weight_decay=0.1, **kw),
    "AdamW": lambda params, **kw: optim.AdamW(params, lr=0.01, **kw),
}


def parameters(seed: int = 0) -> list[Tensor]:
    rng = np.random.default_rng(seed)
    return [Tensor(rng.normal(size=s), requires_grad=True) for s in ((3, 2), (2,), (4,))]


def groups(params: list[Tensor]) -> list[dict[str, Any]]:
    return [{"params": params[:2]}, {"params": params[2:], "lr": 0.05}]  # the norm is over both groups


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_every_optimizer_clips_as_clip_grad_norm_does_by_hand(name: str) -> None:
    make = OPTIMIZERS[name]
    ours, theirs = parameters(), parameters()
    opt = make(groups(ours), clip_grad_norm=0.5)
    by_hand = make(groups(theirs))
    assert opt.clip_grad_norm == 0.5 and opt.grad_norm is None and by_hand.clip_grad_norm is None
    rng = np.random.default_rng(1)
    for step, scale in enumerate((10.0, 0.01, 3.0, 0.05)):  # above the limit, below it, ...
        grads = [rng.normal(size=p.shape) * scale for p in ours]
        for p, q, g in zip(ours, theirs, grads):
            p.grad, q.grad = g.copy(), g.copy()
        if step == 2:
            ours[1].grad = theirs[1].grad = None  # a parameter without a gradient counts for nothing
        kept = [p.grad for p in ours]
        opt.step()
        norm = optim.clip_grad_norm(theirs, 0.5)
        by_hand.step()
        assert opt.grad_norm == norm
        assert (norm > 0.5) == (scale > 1)
        for p, q, g in zip(ours, theirs, kept):
            assert p.grad is g  # scaled in place, as PyTorch's clip_grad_norm_ does
            np.testing.assert_array_equal(p.grad, q.grad)
            np.testing.assert_array_equal(p.data, q.data)  # the same update, bit for bit
    assert np.linalg.norm(np.concatenate([p.grad.ravel() for p in ours if p.grad is not None])) <= 0.5


def test_nn_fit_clips_with_the_option() -> None:
    """The optimizer option in nn.fit follows the path of clipping by hand between backward() and step()."""

    class ClippedByHand(optim.Adam):
        def step(self) -> None:
            optim.clip_grad_norm(self.params, 0.05)
            super().step()

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 5)), rng.integers(0, 3, size=40)
    runs = []
    for make in (lambda p: optim.Adam(p, lr=0.05, clip_grad_norm=0.05), lambda p: ClippedByHand(p, lr=0.05)):
        model = nn.Sequential(nn.Dense(5, 8, rng=1), nn.Tanh(), nn.Dense(8, 3, rng=2))
        opt = make(model.parameters())
        history = nn.fit(model, x, y, loss=nn.softmax_cross_entropy, optimizer=opt, epochs=3, batch_size=8, seed=0)
        runs.append((model.state_dict(), history.history["loss"], opt))
    (ours, loss, opt), (theirs, their_loss, _) = runs
    assert loss == their_loss and opt.grad_norm > 0.05  # it clipped
    for k in ours:
        np.testing.assert_array_equal(ours[k], theirs[k])


def test_a_setting_not_part_of_the_state(tmp_path: Any) -> None:
    """state_dict leaves it out; a run resumed with a clipping optimizer follows the uninterrupted one."""
    rng = np.random.default_rng(0)
    grads = [[rng.normal(size=p.shape) * 5 for p in parameters()] for _ in range(6)]

    def steps(opt: optim.Optimizer, params: list[Tensor], todo: list[list[np.ndarray]]) -> None:
        for gs in todo:
            for p, g in zip(params, gs):
                p.grad = g.copy()
            opt.step()

    whole = parameters()
    steps(optim.Adam(whole, lr=0.1, clip_grad_norm=1.0), whole, grads)
    first = parameters()
    opt = optim.Adam(first, lr=0.1, clip_grad_norm=1.0)
    steps(opt, first, grads[:3])
    assert not [k for k in opt.state_dict() if "clip" in k]
    optim.save(opt, tmp_path / "opt.npz")
    resumed = [Tensor(p.data.copy(), requires_grad=True) for p in first]
    again = optim.Adam(resumed, lr=0.1, clip_grad_norm=1.0)
    optim.load(again, tmp_path / "opt.npz")
    steps(again, resumed, grads[3:])
    for p, q in zip(whole, resumed):
        np.testing.assert_array_equal(p.data, q.data)
    unclipped = optim.Adam(parameters(), lr=0.1)
    unclipped.load_state_dict(opt.state_dict())  # a state saved while clipping loads anywhere
    assert unclipped.clip_grad_norm is None


def test_bad_values_and_bad_gradients() -> None:
    for bad in (0, -1.0, float("nan"), float("inf")):
        with pytest.raises(
            ValueError, match=r"Adam: clip_grad_norm must be a positive number \(None for no clipping\)"
        ):
            optim.Adam(parameters(), clip_grad_norm=bad)
    for bad in ("1", True):
        with pytest.raises(TypeError, match="Momentum: clip_grad_norm must be a number"):
            optim.Momentum(parameters(), lr=0.1, clip_grad_norm=bad)
    params = parameters()
    opt = optim.RMSprop(params, lr=0.1, clip_grad_norm=1.0)
    params[1].grad = np.ones(3)
    with pytest.raises(ValueError, match=r"RMSprop.step: params\[1\] has shape \(2,\) but its .grad has shape \(3,\)"):
        opt.step()
    params[1].grad = [1.0, 1.0]
    with pytest.raises(ValueError, match=r"params\[1\] has shape \(2,\) but its .grad has type list"):
        opt.step()
    assert repr(opt).endswith("eps=1e-08, clip_grad_norm=1)")
