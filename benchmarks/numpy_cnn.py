"""The floor for W7: a small convolutional network written by hand in NumPy.

Activations are kept as ``(channels, height, width, batch)`` arrays, the layout a hand
-written NumPy convolution is fastest in: im2col is then one ``sliding_window_view`` and
one copy that runs over long contiguous stretches, a convolution is one matrix product
whose result needs no transposing, and col2im is one strided add per kernel offset.
The forward pass caches what the backward pass needs; the backward pass is written out
line by line. Nothing here uses ``autograd_core``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .numpy_reference import SGD, Adam

# ============================================================== layers on (C, H, W, N) arrays


def conv_forward(a: np.ndarray, w: np.ndarray, b: np.ndarray, pad: int) -> tuple[np.ndarray, np.ndarray]:
    """``z[o] = Σ_c w[o, c] ⋆ a[c] + b[o]`` (stride 1, zero padding ``pad``); returns ``(z, cols)``.

    ``cols`` (im2col) has one row per ``(c, i, j)`` of the kernel and one column per
    output position ``(h, w, n)``, so ``z = W · cols`` with ``W`` of shape ``(O, C·k·k)``."""
    c, h, wd, n = a.shape
    o, _, k, _ = w.shape
    ap = np.zeros((c, h + 2 * pad, wd + 2 * pad, n), dtype=a.dtype)
    ap[:, pad : pad + h, pad : pad + wd] = a
    ho, wo = h + 2 * pad - k + 1, wd + 2 * pad - k + 1
    windows = sliding_window_view(ap, (k, k), axis=(1, 2))  # (C, Ho, Wo, N, k, k), no copy
    cols = windows.transpose(0, 4, 5, 1, 2, 3).reshape(c * k * k, ho * wo * n)
    z = w.reshape(o, -1) @ cols
    z += b[:, None]
    return z.reshape(o, ho, wo, n), cols


def conv_backward(
    dz: np.ndarray, w: np.ndarray, cols: np.ndarray, a_shape: tuple[int, ...], pad: int, need_da: bool = True
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """``(da, dw, db)`` from ``dz`` (shape ``(O, Ho, Wo, N)``): ``dw = dz · colsᵀ``, and ``da`` the
    col2im of ``Wᵀ · dz`` (each column added back into its window)."""
    o, _, k, _ = w.shape
    dz2 = dz.reshape(o, -1)
    dw = (dz2 @ cols.T).reshape(w.shape)
    db = dz2.sum(axis=1)
    if not need_da:
        return None, dw, db
    c, h, wd, n = a_shape
    _, ho, wo, _ = dz.shape
    dcols = (w.reshape(o, -1).T @ dz2).reshape(c, k, k, ho, wo, n)
    dap = np.zeros((c, h + 2 * pad, wd + 2 * pad, n), dtype=dz.dtype)
    for i in range(k):
        for j in range(k):
            dap[:, i : i + ho, j : j + wo] += dcols[:, i, j]
    return dap[:, pad : pad + h, pad : pad + wd], dw, db


def maxpool_forward(a: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """2×2 max pooling with stride 2 (even height and width); returns the output and the four
    quarter views (the backward pass compares them with the output)."""
    quarters = [a[:, i::2, j::2] for i in (0, 1) for j in (0, 1)]
    out = np.maximum(quarters[0], quarters[1])
    np.maximum(out, quarters[2], out=out)
    np.maximum(out, quarters[3], out=out)
    return out, quarters


def maxpool_backward(dout: np.ndarray, out: np.ndarray, quarters: list[np.ndarray], a_shape: tuple[int, ...]):
    """Each window's gradient to its maximum; ``t`` tied maxima get ``dout / t`` each (as ``max`` does)."""
    hits = [q == out for q in quarters]
    count = hits[0].view(np.int8) + hits[1].view(np.int8)  # booleans as bytes: 0 or 1
    count += hits[2].view(np.int8)
    count += hits[3].view(np.int8)
    share = dout / count
    da = np.empty(a_shape, dtype=dout.dtype)
    for (i, j), hit in zip(((0, 0), (0, 1), (1, 0), (1, 1)), hits):
        np.multiply(share, hit, out=da[:, i::2, j::2])
    return da


def softmax_cross_entropy(z: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of the logits ``z`` (batch, classes) for class indices ``y``, and its gradient."""
    n = len(y)
    rows = np.arange(n)
    shifted = z - z.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    s = e.sum(axis=1, keepdims=True)
    loss = float(-(shifted - np.log(s))[rows, y].sum() / n)
    dz = e / s
    dz[rows, y] -= 1
    dz /= n
    return loss, dz


# ============================================================== the network


@dataclass
class CNN:
    """``conv(1→c1, 3×3, pad 1) → ReLU → maxpool 2 → conv(c1→c2, 3×3, pad 1) → ReLU → maxpool 2
    → flatten → dense``, on images ``(batch, 1, 8, 8)``.

    ``params`` are ``[w1, b1, w2, b2, w3, b3]``: conv weights ``(out, in, 3, 3)``, the dense
    weight ``(c2·2·2, classes)`` whose rows are the features in ``(channel, row, column)`` order.
    """

    params: list[np.ndarray]

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray) -> tuple[float, list[np.ndarray]]:
        w1, b1, w2, b2, w3, b3 = self.params
        n = x.shape[0]
        a0 = x.transpose(1, 2, 3, 0)  # (1, 8, 8, N)
        z1, cols1 = conv_forward(a0, w1, b1, 1)
        r1 = np.maximum(z1, 0)
        p1, q1 = maxpool_forward(r1)
        z2, cols2 = conv_forward(p1, w2, b2, 1)
        r2 = np.maximum(z2, 0)
        p2, q2 = maxpool_forward(r2)
        flat = p2.reshape(-1, n).T  # (N, c2·2·2), features in (channel, row, column) order
        logits = flat @ w3
        logits += b3

        loss, dlogits = softmax_cross_entropy(logits, y)
        dw3 = flat.T @ dlogits
        db3 = dlogits.sum(axis=0)
        dp2 = (dlogits @ w3.T).T.reshape(p2.shape)
        dz2 = maxpool_backward(dp2, p2, q2, r2.shape) * (z2 > 0)
        dp1, dw2, db2 = conv_backward(dz2, w2, cols2, p1.shape, 1)
        dz1 = maxpool_backward(dp1, p1, q1, r1.shape) * (z1 > 0)
        _, dw1, db1 = conv_backward(dz1, w1, cols1, a0.shape, 1, need_da=False)
        return loss, [dw1, db1, dw2, db2, dw3, db3]

    def train_step(self, x: np.ndarray, y: np.ndarray, optimizer: SGD | Adam) -> float:
        """Forward, backward, in-place update; returns the loss before the step."""
        loss, grads = self.loss_and_grads(x, y)
        optimizer.update(self.params, grads)
        return loss


# ============================================================== one layer


def conv_layer(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, g: np.ndarray, pad: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One convolution layer on NCHW arrays, forward and backward for the upstream gradient ``g``:
    returns ``(y, dx, dw, db)`` (``y`` and ``dx`` are NCHW views of (C, H, W, N) arrays)."""
    a = x.transpose(1, 2, 3, 0)
    z, cols = conv_forward(a, w, b, pad)
    da, dw, db = conv_backward(g.transpose(1, 2, 3, 0), w, cols, a.shape, pad)
    return z.transpose(3, 0, 1, 2), da.transpose(3, 0, 1, 2), dw, db
