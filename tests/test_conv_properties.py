"""Property tests of conv2d, max_pool2d and avg_pool2d: forward values and gradients against
plain NumPy loops written here, at shapes, strides, paddings and kernel sizes Hypothesis draws,
with values that tie, and NaN and ±inf among them. When PyTorch is installed, the same cases
are compared with it too (where it is defined the same way: without ties in a max-pool window,
since PyTorch gives a tie's gradient to one element and we split it evenly).

Dilation is not an option of these ops, so it is not drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import autograd_core as ag
from autograd_core import Tensor

SPECIALS = (np.nan, np.inf, -np.inf)

# ============================================================== the references: plain loops


def _padded(x: np.ndarray, ph: int, pw: int, fill: float) -> np.ndarray:
    n, c, h, w = x.shape
    out = np.full((n, c, h + 2 * ph, w + 2 * pw), fill, dtype=np.float64)
    out[:, :, ph : ph + h, pw : pw + w] = x
    return out


def _out_size(size: int, k: int, s: int, p: int) -> int:
    return (size + 2 * p - k) // s + 1


def conv_reference(x, w, b, stride, padding, g):
    """``y[n,o,r,q] = Σ_{c,i,j} w[o,c,i,j] · xp[n,c,r·sh+i,q·sw+j] + b[o]`` and its three VJPs for
    the upstream gradient ``g``, one output pixel at a time."""
    (sh, sw), (ph, pw) = stride, padding
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = _padded(x, ph, pw, 0.0)
    ho, wo = _out_size(h, kh, sh, ph), _out_size(wd, kw, sw, pw)
    y = np.zeros((n, o, ho, wo))
    gxp = np.zeros_like(xp)
    gw = np.zeros((o, c, kh, kw))
    for r in range(ho):
        for q in range(wo):
            rows, cols = slice(r * sh, r * sh + kh), slice(q * sw, q * sw + kw)
            patch = xp[:, :, rows, cols]  # (n, c, kh, kw)
            y[:, :, r, q] = (patch[:, None] * w[None]).sum(axis=(2, 3, 4))
            gq = g[:, :, r, q]  # (n, o)
            gxp[:, :, rows, cols] += (gq[:, :, None, None, None] * w[None]).sum(axis=1)
            gw += (gq[:, :, None, None, None] * patch[:, None]).sum(axis=0)
    gb = None
    if b is not None:
        y += b[None, :, None, None]
        gb = g.sum(axis=(0, 2, 3))
    return y, gxp[:, :, ph : ph + h, pw : pw + wd], gw, gb


def max_pool_reference(x, kernel, stride, padding, g):
    """Each window's maximum (NaN if it holds one; the ``-inf`` padding never wins a tie) and
    the VJP: a window's gradient split evenly among its maxima, or among its NaNs."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    n, c, h, wd = x.shape
    ho, wo = _out_size(h, kh, sh, ph), _out_size(wd, kw, sw, pw)
    y = np.zeros((n, c, ho, wo))
    gx = np.zeros((n, c, h, wd))
    for a in range(n):
        for d in range(c):
            for r in range(ho):
                for q in range(wo):
                    r0, r1 = max(r * sh - ph, 0), min(r * sh - ph + kh, h)
                    q0, q1 = max(q * sw - pw, 0), min(q * sw - pw + kw, wd)
                    window = x[a, d, r0:r1, q0:q1]  # the image pixels only: padding is never the maximum
                    if np.isnan(window).any():
                        y[a, d, r, q] = np.nan
                        hits = np.isnan(window)
                    else:
                        y[a, d, r, q] = window.max()
                        hits = window == window.max()
                    gx[a, d, r0:r1, q0:q1] += hits * (g[a, d, r, q] / hits.sum())
    return y, gx


def avg_pool_reference(x, kernel, stride, padding, g):
    """Each window's sum, zero padding included, over ``kh·kw``; the VJP spreads ``g / (kh·kw)``."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    n, c, h, wd = x.shape
    xp = _padded(x, ph, pw, 0.0)
    ho, wo = _out_size(h, kh, sh, ph), _out_size(wd, kw, sw, pw)
    y = np.zeros((n, c, ho, wo))
    gxp = np.zeros_like(xp)
    for r in range(ho):
        for q in range(wo):
            rows, cols = slice(r * sh, r * sh + kh), slice(q * sw, q * sw + kw)
            y[:, :, r, q] = xp[:, :, rows, cols].sum(axis=(2, 3)) / (kh * kw)
            gxp[:, :, rows, cols] += g[:, :, r, q][:, :, None, None] / (kh * kw)
    return y, gxp[:, :, ph : ph + h, pw : pw + wd]


# ============================================================== the cases Hypothesis draws


@dataclass
class Case:
    x: np.ndarray
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    g: np.ndarray  # the upstream gradient, of the output's shape
    w: np.ndarray | None = None
    b: np.ndarray | None = None

    @property
    def tol(self) -> dict[str, float]:
        return {"rtol": 1e-5, "atol": 1e-4} if self.x.dtype == np.float32 else {"rtol": 1e-10, "atol": 1e-10}


def _with_specials(draw, a: np.ndarray, at_most: int) -> np.ndarray:
    """``a`` with up to ``at_most`` elements replaced by NaN, inf or -inf."""
    flat = a.reshape(-1)
    for _ in range(draw(st.integers(0, min(at_most, flat.size)))):
        flat[draw(st.integers(0, flat.size - 1))] = draw(st.sampled_from(SPECIALS))
    return a


def _values(draw, shape: tuple[int, ...], ties: bool, distinct: bool = False) -> np.ndarray:
    """Small integers (many ties), or any floats in [-10, 10], or distinct values (no ties)."""
    size = int(np.prod(shape))
    if distinct:
        return np.array(draw(st.permutations(range(size))), dtype=np.float64).reshape(shape) - size / 2
    elements = st.integers(-2, 2).map(float) if ties else st.floats(-10, 10, allow_subnormal=False)
    return draw(hnp.arrays(np.float64, shape, elements=elements))


@st.composite
def cases(draw, op: str, specials: int = 3, distinct: bool = False) -> Case:
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    if op == "conv":
        ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    else:  # a pooling window must hold an image pixel: padding at most half the kernel
        ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    h = draw(st.integers(max(1, kh - 2 * ph), kh - 2 * ph + 5))
    w = draw(st.integers(max(1, kw - 2 * pw), kw - 2 * pw + 5))
    ties = draw(st.booleans())
    x = _with_specials(draw, _values(draw, (n, c, h, w), ties, distinct), specials)
    out_c = c
    case = Case(x, (kh, kw), (sh, sw), (ph, pw), g=np.zeros(0))
    if op == "conv":
        out_c = draw(st.integers(1, 3))
        case.w = _with_specials(draw, _values(draw, (out_c, c, kh, kw), ties), specials // 2)
        case.b = draw(st.none() | hnp.arrays(np.float64, (out_c,), elements=st.floats(-5, 5)))
    ho, wo = _out_size(h, kh, sh, ph), _out_size(w, kw, sw, pw)
    # upstream gradients with zeros among them (outputs the loss does not read)
    case.g = draw(hnp.arrays(np.float64, (n, out_c, ho, wo), elements=st.sampled_from([0.0, 1.0, -0.5, 2.0, 0.25])))
    if draw(st.booleans()):  # float32 too: the ops keep the dtype
        case.x = case.x.astype(np.float32)
        case.w = None if case.w is None else case.w.astype(np.float32)
        case.b = None if case.b is None else case.b.astype(np.float32)
        case.g = case.g.astype(np.float32)
    return case


def _close(actual: np.ndarray, expected: np.ndarray, case: Case) -> None:
    np.testing.assert_allclose(actual, expected, equal_nan=True, **case.tol)


# ============================================================== against the NumPy loops


@given(cases("conv"))
def test_conv2d_forward_and_gradients_match_the_loops(case: Case):
    x, w = Tensor(case.x, requires_grad=True), Tensor(case.w, requires_grad=True)
    b = None if case.b is None else Tensor(case.b, requires_grad=True)
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf and 0 · inf make NaN: on purpose
        y = ag.conv2d(x, w, b, stride=case.stride, padding=case.padding)
        y.backward(case.g)
        x64, w64 = case.x.astype(np.float64), case.w.astype(np.float64)
        ref = conv_reference(x64, w64, case.b, case.stride, case.padding, case.g)
    assert y.dtype == case.x.dtype and x.grad.dtype == case.x.dtype
    _close(y.data, ref[0], case)
    _close(x.grad, ref[1], case)
    _close(w.grad, ref[2], case)
    if b is not None:
        _close(b.grad, ref[3], case)


@given(cases("max"))
def test_max_pool2d_forward_and_gradient_match_the_loops(case: Case):
    x = Tensor(case.x, requires_grad=True)
    with np.errstate(invalid="ignore"):
        y = ag.max_pool2d(x, case.kernel, stride=case.stride, padding=case.padding)
        y.backward(case.g)
        ref = max_pool_reference(case.x, case.kernel, case.stride, case.padding, case.g)
    assert y.dtype == case.x.dtype and x.grad.dtype == case.x.dtype
    np.testing.assert_array_equal(y.data, ref[0])  # a maximum is one of the values: exact
    assert not np.isnan(x.grad).any()  # finite upstream gradients never make a NaN gradient
    _close(x.grad, ref[1], case)


@given(cases("avg"))
def test_avg_pool2d_forward_and_gradient_match_the_loops(case: Case):
    x = Tensor(case.x, requires_grad=True)
    with np.errstate(invalid="ignore"):
        y = ag.avg_pool2d(x, case.kernel, stride=case.stride, padding=case.padding)
        y.backward(case.g)
        ref = avg_pool_reference(case.x.astype(np.float64), case.kernel, case.stride, case.padding, case.g)
    assert y.dtype == case.x.dtype
    _close(y.data, ref[0], case)
    _close(x.grad, ref[1], case)  # linear: the gradient does not depend on x, NaN or not


# ============================================================== against PyTorch, when installed


def _torch_run(torch, fn, arrays, g):
    ts = [None if a is None else torch.tensor(a, requires_grad=True) for a in arrays]
    y = fn(*ts)
    y.backward(torch.tensor(g))
    return y.detach().numpy(), [None if t is None else t.grad.numpy() for t in ts]


# Finite values only: where a NaN or an infinity meets the zero padding, PyTorch's kernels skip
# the product (0 there) that IEEE arithmetic, the loops above and we make NaN (0 · NaN).
@given(cases("conv", specials=0))
def test_conv2d_matches_pytorch(case: Case):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    with np.errstate(invalid="ignore", over="ignore"):
        x, w = Tensor(case.x, requires_grad=True), Tensor(case.w, requires_grad=True)
        b = None if case.b is None else Tensor(case.b, requires_grad=True)
        y = ag.conv2d(x, w, b, stride=case.stride, padding=case.padding)
        y.backward(case.g)

    def conv(x, w, b):
        return F.conv2d(x, w, b, stride=case.stride, padding=case.padding)

    ty, grads = _torch_run(torch, conv, [case.x, case.w, case.b], case.g)
    _close(y.data, ty, case)
    for ours, theirs in zip([x, w, b], grads):
        if ours is not None:
            _close(ours.grad, theirs, case)


@given(cases("max", specials=1, distinct=True), st.sampled_from(["max", "avg"]))
def test_pooling_matches_pytorch_without_ties(case: Case, kind: str):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    ours_fn, theirs_fn = (ag.max_pool2d, F.max_pool2d) if kind == "max" else (ag.avg_pool2d, F.avg_pool2d)
    x = Tensor(case.x, requires_grad=True)
    with np.errstate(invalid="ignore"):
        y = ours_fn(x, case.kernel, stride=case.stride, padding=case.padding)
        y.backward(case.g)
    ty, (tgx,) = _torch_run(
        torch, lambda x: theirs_fn(x, case.kernel, stride=case.stride, padding=case.padding), [case.x], case.g
    )
    _close(y.data, ty, case)
    _close(x.grad, tgx, case)
