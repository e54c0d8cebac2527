"""W9: an LSTM training step, the framework against the hand-written NumPy of ``numpy_rnn.py``.

One training step of a one-layer LSTM classifier (batch 64, 28 steps of 28 inputs, 128
hidden units: the sequence-MNIST shape), its last hidden state into a Dense layer,
softmax cross-entropy, Adam; float32 (the row with PyTorch beside it) and float64. The
framework side is written as a user writes it: ``nn.LSTM``, ``nn.Dense``, ``minimize``.
W9c is the same step through ``ag.compile`` (its trace-and-generate time apart).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import autograd_core as ag
from autograd_core import Tensor

from . import numpy_rnn as ref
from .numpy_reference import Adam
from .workloads import MEMORY_TARGETS, TARGETS, Case, PeerSpec, Result, Sizes, _require, _tol


def _case(s: Sizes, dtype: Any, compiled: bool = False) -> Case:
    nn, optim = _require(("LSTM", "Dense", "softmax_cross_entropy"), ("Adam",))
    dtype = np.dtype(dtype)
    batch, steps, features, hidden, classes = (8, 5, 6, 16, 4) if s.quick else (64, 28, 28, 128, 10)
    rng = np.random.default_rng(9)
    x = rng.standard_normal((batch, steps, features)).astype(dtype)
    y = rng.integers(0, classes, size=batch)
    xt = Tensor(x)

    class Classifier(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(features, hidden, rng=rng, dtype=dtype)
            self.head = nn.Dense(hidden, classes, init="xavier", rng=rng, dtype=dtype)

        def forward(self, x: Any) -> Any:
            _, (h, _) = self.lstm(x)
            return self.head(h[-1])  # the last layer's final state

    def make_step(model: Any, opt: Any) -> Any:
        def step() -> float:
            return opt.minimize(lambda: nn.softmax_cross_entropy(model(xt), y))

        return ag.compile(step) if compiled else step

    def fresh_step() -> Any:  # a new model, optimizer and compiled step (for the trace-and-generate time)
        model = Classifier()
        return make_step(model, optim.Adam(list(model.parameters()), lr=0.001))

    model = Classifier()
    params = list(model.parameters())  # weight_ih, weight_hh, bias_ih, bias_hh, head weight, head bias
    lstm = ref.LSTMClassifier([p.data.copy() for p in params])
    opt = optim.Adam(params, lr=0.001)
    np_opt = Adam(lr=0.001)
    names = ["W_ih", "W_hh", "b_ih", "b_hh", "W", "b"]
    fw_step = make_step(model, opt)

    def framework() -> Result:
        return {"losses": [fw_step()], **{k: p.data for k, p in zip(names, params)}}

    def np_step() -> float:
        return lstm.train_step(x, y, np_opt)

    def numpy() -> Result:
        return {"losses": [np_step()], **{k: p for k, p in zip(names, lstm.params)}}

    arrays = {"x": x, "y": y, **{k: p.copy() for k, p in zip(names, lstm.params)}}
    extra = {}
    if compiled:  # a fresh compiled function's first call: the trace, the program built, one eager run
        extra = {"trace and generate (a fresh step's first call)": lambda: fresh_step()()}
    key = "W9c" if compiled else "W9"
    return Case(
        key=f"{key}-{'f32' if dtype == np.float32 else 'f64'}",
        title=f"LSTM {features}→{hidden} on {batch}×{steps} steps + Dense, Adam, {dtype.name}"
        + (", compiled" if compiled else ""),
        unit="training step",
        target=TARGETS[key],
        extra=extra,
        framework=framework,
        numpy=numpy,
        tol=_tol(dtype),
        memory=(fw_step, np_step),
        memory_target=MEMORY_TARGETS["W9"],
        peer=None if compiled else PeerSpec("lstm", {"lr": 0.001}, arrays),
    )


def w9(s: Sizes) -> list[Case]:
    """An LSTM classifier's training step (batch 64, 28 steps, 28 inputs, 128 hidden), float32 and float64."""
    return [_case(s, np.float32), _case(s, np.float64)]


def w9c(s: Sizes) -> list[Case]:
    """W9's training step compiled (``ag.compile``), float32 and float64."""
    return [_case(s, np.float32, compiled=True), _case(s, np.float64, compiled=True)]
