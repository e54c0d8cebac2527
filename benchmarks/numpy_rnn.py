"""The floor for W9: a one-layer LSTM classifier written by hand in NumPy.

PyTorch's LSTM (gates ``i, f, g, o``; weights ``W_ih (4H, I)``, ``W_hh (4H, H)`` and two biases,
as the framework's and PyTorch's layers hold them), its last hidden state into a Dense
layer, softmax cross-entropy. Arrays are time-major inside: the input projection of every
step is one matrix product before the loop, each step one product with ``W_hh`` and the
gates' functions on the ``(batch, 4H)`` block; the forward pass caches the activations, and
the backward pass through time is written out, each step's gates' gradients overwriting its
saved activations (no second array of their size), so that each weight's gradient is one
matrix product over all the steps at the end. Nothing here uses ``autograd_core``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .numpy_cnn import softmax_cross_entropy
from .numpy_reference import SGD, Adam


def sigmoid(a: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):  # exp(-a) overflows for a < -709: σ is then 0
        return 1.0 / (1.0 + np.exp(-a))


@dataclass
class LSTMClassifier:
    """``LSTM(I → H)`` over ``(batch, time, I)`` sequences, then a Dense layer on the last hidden state;
    ``params`` are ``[W_ih (4H, I), W_hh (4H, H), b_ih (4H,), b_hh (4H,), W (H, C), b (C,)]``
    (the Dense weight is ``(in, out)``, as ``nn.Dense`` holds it)."""

    params: list[np.ndarray]

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray) -> tuple[float, list[np.ndarray]]:
        w_ih, w_hh, b_ih, b_hh, w, b = self.params
        n, steps, features = x.shape
        hidden = w_hh.shape[1]
        h1, h2, h3 = hidden, 2 * hidden, 3 * hidden
        xs = np.ascontiguousarray(x.transpose(1, 0, 2)).reshape(steps * n, features)  # time-major
        acts = (xs @ w_ih.T).reshape(steps, n, 4 * hidden)
        acts += b_ih + b_hh
        hs = np.zeros((steps + 1, n, hidden), dtype=x.dtype)  # hs[t + 1]: h after step t
        cs = np.zeros((steps + 1, n, hidden), dtype=x.dtype)
        taus = np.empty((steps, n, hidden), dtype=x.dtype)  # tanh(c) after step t
        for t in range(steps):
            a = acts[t]
            a += hs[t] @ w_hh.T
            a[:, :h2] = sigmoid(a[:, :h2])
            a[:, h2:h3] = np.tanh(a[:, h2:h3])
            a[:, h3:] = sigmoid(a[:, h3:])
            i, f, g, o = a[:, :h1], a[:, h1:h2], a[:, h2:h3], a[:, h3:]
            cs[t + 1] = f * cs[t] + i * g
            taus[t] = np.tanh(cs[t + 1])
            hs[t + 1] = o * taus[t]
        last = hs[steps]
        logits = last @ w + b
        loss, dlogits = softmax_cross_entropy(logits, y)

        dw = last.T @ dlogits
        db = dlogits.sum(axis=0)
        dh = dlogits @ w.T
        dc = np.zeros_like(dh)
        for t in reversed(range(steps)):  # each step's gradients overwrite its activations, read just before
            a, tau = acts[t], taus[t]
            i, f, g, o = a[:, :h1], a[:, h1:h2], a[:, h2:h3], a[:, h3:]
            dc += dh * o * (1 - tau * tau)
            di = dc * g * i * (1 - i)
            df = dc * cs[t] * f * (1 - f)
            dg = dc * i * (1 - g * g)
            do = dh * tau * o * (1 - o)
            dc *= f
            a[:, :h1], a[:, h1:h2], a[:, h2:h3], a[:, h3:] = di, df, dg, do
            dh = a @ w_hh
        dacts = acts
        d2 = dacts.reshape(steps * n, 4 * hidden)
        dw_ih = d2.T @ xs
        dw_hh = d2.T @ hs[:steps].reshape(steps * n, hidden)
        db_ih = d2.sum(axis=0)
        return loss, [dw_ih, dw_hh, db_ih, db_ih.copy(), dw, db]

    def train_step(self, x: np.ndarray, y: np.ndarray, optimizer: SGD | Adam) -> float:
        """Forward, backward, in-place update; returns the loss before the step."""
        loss, grads = self.loss_and_grads(x, y)
        optimizer.update(self.params, grads)
        return loss
