"""Every example's training step, eager and compiled, bit for bit over many calls: the outputs,
the parameters, the gradients, the optimizer's state, the running statistics and the generators'
states (the walkthrough is in ``test_compile.py``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from helpers import load_example

import autograd_core as ag
import nn
import optim
from autograd_core import Tensor

STEPS = 12


def _state(model: nn.Module, opt: optim.Optimizer, rngs: list[np.random.Generator]) -> Any:
    return (
        {k: (v.dtype.str, v.tobytes()) for k, v in model.state_dict().items()},
        [None if p.grad is None else p.grad.tobytes() for p in model.parameters()],
        {k: np.asarray(v).tobytes() for k, v in opt.state_dict().items()},
        [repr(r.bit_generator.state) for r in rngs],
    )


def _train(make: Any, batches: list[tuple[np.ndarray, np.ndarray]], compiled: bool) -> Any:
    model, opt, rngs = make()

    def step(x: Any, y: Any) -> tuple[float, Tensor]:
        opt.zero_grad()
        out = model(x)
        loss = nn.softmax_cross_entropy(out, y)
        loss.backward()
        opt.step()
        return loss.item(), out

    run = ag.compile(step) if compiled else lambda x, y: step(Tensor(x) if x.dtype.kind == "f" else x, y)
    history = []
    for i, (x, y) in enumerate(batches):
        loss, out = run(x, y)
        history.append((loss, out.data.tobytes(), _state(model, opt, rngs)))
        if i == len(batches) // 2:  # a check of the eval mode in the middle, with the same program later
            model.eval()
            history.append(run(x, y)[1].data.tobytes())
            model.train()
    return history, getattr(run, "traces", None)


def _digits_batches(n: int, batch: int, dtype: Any, image: bool = False) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(dtype)
    if image:
        x = x.reshape(-1, 1, 8, 8)
    order = np.random.default_rng(0).permutation(len(x))[: n * batch]
    return [(x[order[i : i + batch]], y[order[i : i + batch]]) for i in range(0, n * batch, batch)]


def _check(make: Any, batches: list[tuple[np.ndarray, np.ndarray]]) -> None:
    eager, _ = _train(make, batches, compiled=False)
    compiled, traces = _train(make, batches, compiled=True)
    assert compiled == eager
    assert traces == 2  # training mode, and eval mode once


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_digits_mlp_with_batchnorm_and_adam(dtype: Any) -> None:
    pytest.importorskip("sklearn")
    digits = load_example("digits")

    def make() -> Any:
        model = digits.make_model(hidden=(32, 16), seed=0)
        for p in model.parameters():
            p.data = p.data.astype(dtype)
        for m in model.modules():
            if isinstance(m, nn.BatchNorm):
                m.running_mean, m.running_var = m.running_mean.astype(dtype), m.running_var.astype(dtype)
        return model, optim.Adam(model.parameters(), lr=0.01), []

    _check(make, _digits_batches(STEPS, 32, dtype))


def test_the_conv_net() -> None:
    pytest.importorskip("sklearn")
    cnn = load_example("cnn_digits")

    def make() -> Any:
        model = cnn.make_model(seed=0)
        return model, optim.Adam(model.parameters(), lr=0.01), []

    _check(make, _digits_batches(6, 16, np.float32, image=True))


def test_dropout_and_its_generator() -> None:
    pytest.importorskip("sklearn")

    def make() -> Any:
        rng = np.random.default_rng(11)
        model = nn.Sequential(
            nn.Dense(64, 32, rng=0), nn.ReLU(), nn.Dropout(0.3, rng=rng), nn.Dense(32, 10, rng=1), nn.Dropout(0.1)
        )
        nn.init.seed(5)  # the second Dropout draws from nn's generator
        return model, optim.Momentum(model.parameters(), lr=0.05), [rng, nn.init.default_rng()]

    _check(make, _digits_batches(STEPS, 16, np.float64))


def _scheduled_walkthrough(compiled: bool) -> Any:
    w = Tensor(0.0, requires_grad=True, name="w")
    opt = optim.Adam([w], lr=0.2)
    schedule = optim.InverseTimeDecay(opt, decay_rate=0.1)

    def f() -> float:
        loss = opt.minimize(lambda: w**2 - 10 * w + 25)
        schedule.step()  # inside the function: made at every call
        return loss

    step = ag.compile(f) if compiled else f
    losses = [step() for _ in range(200)]
    return losses, w.data.tobytes(), opt.state_dict()["state.0.v"].tobytes(), opt.lr


def test_the_walkthroughs_scalar_program_over_many_steps_with_a_schedule() -> None:
    assert _scheduled_walkthrough(True) == _scheduled_walkthrough(False)


def test_the_lstm_over_image_rows() -> None:
    pytest.importorskip("sklearn")
    sequences = load_example("sequence_digits")

    def make() -> Any:
        model = sequences.RowReader(hidden=16, seed=0)
        return model, optim.Adam(model.parameters(), lr=0.01), []

    batches = [(x.reshape(-1, 8, 8), y) for x, y in _digits_batches(6, 16, np.float64)]
    _check(make, batches)


def test_the_character_language_model_with_clipping() -> None:
    """Embedding, two LSTM layers with dropout between them, logits at every step, a loss over
    (batch, time) targets, Adam with the gradients' norm clipped (and grad_norm) each step."""
    char_lm = load_example("char_lm")
    text = "the quick brown fox jumps over the lazy dog; " * 20
    vocab = char_lm.Vocabulary(text)
    inputs, targets = char_lm.sequences(vocab.encode(text), 12)
    batches = [(inputs[i : i + 4], targets[i : i + 4]) for i in range(0, 4 * STEPS, 4)]
    norms: dict[bool, list[Any]] = {}

    def make(compiled: bool) -> Any:
        model = char_lm.CharLM(len(vocab), hidden=16, embedding=8, layers=2, seed=0)
        opt = optim.Adam(model.parameters(), lr=0.01, clip_grad_norm=0.5)
        norms[compiled] = seen = []
        original = opt._clip

        def clip() -> None:  # (each step's norm before clipping, as the example's callback reads it)
            original()
            seen.append(opt.grad_norm)

        opt._clip = clip
        return model, opt, []

    eager, _ = _train(lambda: make(False), batches, compiled=False)
    compiled, traces = _train(lambda: make(True), batches, compiled=True)
    assert compiled == eager and traces == 2
    assert norms[True] == norms[False] and len(norms[True]) == len(batches) + 1
