"""Reliability of the core: the garbage collector's state, max pooling at NaN and -inf, indices
kept by the graph, norms that do not overflow, and clear errors for common mistakes."""

from __future__ import annotations

import gc
import threading

import numpy as np
import pytest

import autograd_core as ag
import nn
from autograd_core import Tensor

# ============================================================== the garbage collector


def test_backward_leaves_the_collector_as_another_thread_set_it_during_the_pass():
    inside, proceed = threading.Event(), threading.Event()

    class Slow(ag.Function):
        def forward(self, x):
            return x * 2

        def backward(self, g, out, x):
            inside.set()  # the pass is running: the other thread acts now
            assert proceed.wait(10)
            return g * 2

    x = Tensor([1.0, 2.0], requires_grad=True)
    y = Slow.apply(x).sum()
    worker = threading.Thread(target=y.backward)
    assert gc.isenabled()
    try:
        worker.start()
        assert inside.wait(10)
        gc.disable()  # another thread's choice, made while the pass runs
        proceed.set()
        worker.join(10)
        assert not worker.is_alive()
        assert not gc.isenabled()  # the pass did not switch the collector back on
        np.testing.assert_array_equal(x.grad, [2.0, 2.0])
    finally:
        gc.enable()


# ============================================================== max pooling at NaN and -inf


def test_max_pool_sends_the_gradient_of_a_nan_window_to_the_nan_and_nothing_else():
    x = Tensor(np.array([[[[np.nan, 1.0, 5.0, 6.0], [2.0, 3.0, 7.0, 8.0]]]]), requires_grad=True)
    y = ag.max_pool2d(x, 2)  # windows [[nan, 1], [2, 3]] and [[5, 6], [7, 8]]
    assert np.isnan(y.data[0, 0, 0, 0]) and y.data[0, 0, 0, 1] == 8.0
    y[..., 1].sum().backward()  # the NaN window's output is never read: its pixels get 0, not NaN
    np.testing.assert_array_equal(x.grad, [[[[0, 0, 0, 0], [0, 0, 0, 1]]]])
    x.grad = None
    ag.max_pool2d(x, 2).sum().backward()  # as PyTorch: the gradient goes to the NaN
    np.testing.assert_array_equal(x.grad, [[[[1, 0, 0, 0], [0, 0, 0, 1]]]])


def test_max_pool_splits_a_window_holding_two_nans_between_them_as_max_does():
    data = np.array([[[[np.nan, 1.0], [np.nan, 3.0]]]])
    x = Tensor(data, requires_grad=True)
    ag.max_pool2d(x, 2).sum().backward()
    m = Tensor(data.reshape(-1), requires_grad=True)
    m.max().backward()
    np.testing.assert_array_equal(x.grad.reshape(-1), m.grad)
    np.testing.assert_array_equal(x.grad, [[[[0.5, 0], [0.5, 0]]]])


def test_max_pool_padding_never_ties_with_an_input_of_minus_infinity():
    x = Tensor(np.array([[[[-np.inf, 1.0], [2.0, 3.0]]]]), requires_grad=True)
    y = ag.max_pool2d(x, 2, stride=2, padding=1)  # each window: one pixel and three of padding
    np.testing.assert_array_equal(y.data, x.data)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, np.ones((1, 1, 2, 2)))  # PyTorch's; was [0.25, 1, 1, 1]


def test_max_pool_recorded_gradient_at_nan_and_minus_infinity_is_the_same():
    x = Tensor(np.array([[[[np.nan, 1.0, -np.inf, -np.inf], [2.0, 3.0, 0.0, -1.0]]]]), requires_grad=True)
    w = Tensor(np.ones((1, 1, 2, 2)), requires_grad=True)  # makes the upstream gradient a recorded Tensor
    y = (ag.max_pool2d(x, 2, stride=2, padding=(1, 0)) * w).sum()
    (g,) = ag.gradients(y, [x], create_graph=True)
    np.testing.assert_array_equal(g.data, [[[[1, 0, 0.5, 0.5], [0, 1, 1, 0]]]])
    (gw,) = ag.gradients(g.sum(), [w])  # d/dw of the gradient sent to x: each window's share, summed
    np.testing.assert_array_equal(gw.data, np.ones((1, 1, 2, 2)))


# ============================================================== indices kept by the graph


def test_embedding_keeps_its_own_indices_when_the_callers_buffer_is_refilled():
    emb = nn.Embedding(5, 2, rng=0)
    batch = np.array([[0, 1], [1, 2]])
    out = emb(batch)
    batch[...] = 4  # a data loader refills its reused buffer before backward
    out.sum().backward()
    np.testing.assert_array_equal(emb.weight.grad[:, 0], [1, 2, 1, 0, 0])


@pytest.mark.parametrize("kind", ["integers", "mask", "tuple"])
def test_indexing_keeps_its_own_index_arrays_until_backward(kind):
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    if kind == "integers":
        index = np.array([2, 0, 2])
        y, expected = x[:, index], [[1, 0, 2], [1, 0, 2]]
    elif kind == "mask":
        index = np.array([[True, False, True], [False, False, True]])
        y, expected = x[index], index.astype(float)
    else:
        index = (np.array([0, 1]), np.array([1, 1]))
        y, expected = x[index], [[0, 1, 0], [0, 1, 0]]
    for part in index if isinstance(index, tuple) else (index,):
        if part.dtype == bool:  # changed behind the graph's back
            np.logical_not(part, out=part)
        else:
            part.fill(0)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, expected)


# ============================================================== norms without overflow


@pytest.mark.parametrize(
    ("value", "ord", "dtype"),
    [(1e150, 2.5, np.float64), (1e200, 2, np.float64), (1e-200, 2, np.float64), (1e-160, 3, np.float64),
     (1e20, 2, np.float32), (1e-25, 2, np.float32), (1e200, None, np.float64)],
)  # fmt: skip
def test_norm_scales_before_it_overflows_or_underflows(value, ord, dtype):
    p = 2.0 if ord is None else ord
    x = Tensor(np.full(4, value, dtype=dtype) * np.array([1, -1, 1, 1], dtype=dtype), requires_grad=True)
    with np.errstate(all="raise"):  # and no warning about an intermediate overflow
        y = ag.norm(x, ord)
    np.testing.assert_allclose(y.data, 4 ** (1 / p) * value, rtol=1e-6)
    assert y.dtype == dtype
    y.backward()  # d‖x‖ₚ/dx = sign(x) (|x| / ‖x‖ₚ)^(p-1): 4^(-(p-1)/p) each, as PyTorch gives
    np.testing.assert_allclose(x.grad, 4 ** (-(p - 1) / p) * np.array([1, -1, 1, 1]), rtol=1e-6)


def test_norm_scales_each_slice_on_its_own_and_keeps_the_matrix_and_keepdims_forms():
    data = np.array([[1e200, 1e200], [3.0, 4.0], [0.0, 0.0], [1e-200, 0.0]])
    x = Tensor(data, requires_grad=True)
    y = ag.norm(x, axis=1, keepdims=True)
    np.testing.assert_allclose(y.data[:, 0], [np.sqrt(2) * 1e200, 5.0, 0.0, 1e-200], rtol=1e-12)
    assert y.shape == (4, 1)
    y.sum().backward()
    expected = [[2**-0.5, 2**-0.5], [0.6, 0.8], [0.0, 0.0], [1.0, 0.0]]  # 0 at the zero vector, not NaN
    np.testing.assert_allclose(x.grad, expected, rtol=1e-12)
    fro = ag.norm(Tensor(data[:2]), "fro")
    np.testing.assert_allclose(fro.data, np.sqrt(2) * 1e200, rtol=1e-12)  # 3 and 4 are lost in it


def test_norm_of_ordinary_values_matches_numpy_and_huge_ones_have_the_same_second_derivatives():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 7))
    for ord in (None, 2, 3.5):
        np.testing.assert_allclose(ag.norm(x, ord, axis=1).data, np.linalg.norm(x, ord, axis=1), rtol=1e-14)
    v = rng.normal(size=(5, 7))
    for ord in (2, 3.5):  # ‖s·x‖ / s = ‖x‖: the Hessian-vector products agree at every scale s

        def hvp(scale, ord=ord):
            t = Tensor(x, requires_grad=True)
            (g,) = ag.gradients(ag.norm(t * scale, ord, axis=1).sum() / scale, [t], create_graph=True)
            return ag.gradients((g * v).sum(), [t])[0].data

        np.testing.assert_allclose(hvp(1e200), hvp(1.0), rtol=1e-10)


# ============================================================== clear errors (and NumPy's behaviour)


def test_numpy_functions_with_out_say_how_to_change_a_tensor_in_place():
    t = Tensor([0.5, 2.0, -1.0])
    with pytest.raises(TypeError, match=r"np\.clip with out=.*t\[\.\.\.\] = "):
        np.clip(t, 0, 1, out=t)
    with pytest.raises(TypeError, match=r"np\.clip with out="):
        np.clip(np.zeros(3), 0, 1, out=t)
    with pytest.raises(TypeError, match=r"np\.add with out=.*t\[\.\.\.\] = "):
        np.add(t, 1, out=t)
    np.testing.assert_array_equal(t.data, [0.5, 2.0, -1.0])  # untouched
    with ag.no_grad():  # what the message proposes works, and is seen by the version counter
        t[...] = np.clip(t, 0, 1)
    np.testing.assert_array_equal(t.data, [0.5, 1.0, 0.0])
    assert t._version == 1


def test_cat_with_axis_none_flattens_as_numpy_does():
    a = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    b = Tensor([5.0, 6.0, 7.0], requires_grad=True)
    y = ag.cat([a, b], axis=None)
    np.testing.assert_array_equal(y.data, np.concatenate([a.data, b.data], axis=None))
    (y * np.arange(7.0)).sum().backward()
    np.testing.assert_array_equal(a.grad, [[0, 1], [2, 3]])
    np.testing.assert_array_equal(b.grad, [4, 5, 6])
    np.testing.assert_array_equal(np.concatenate([a, b], axis=None).data, np.arange(1.0, 8.0))


@pytest.mark.parametrize("axis", ["0", 1.0, True, None])
def test_cat_and_stack_refuse_an_axis_that_is_not_an_integer(axis):
    error = ValueError if isinstance(axis, float) else TypeError  # (as the other argument checks)
    if axis is not None:
        with pytest.raises(error, match=rf"concatenate: axis must be an integer, got {axis!r}"):
            ag.cat([Tensor([1.0]), Tensor([2.0])], axis=axis)
    with pytest.raises(error, match=rf"stack: axis must be an integer, got {axis!r}"):
        ag.stack([Tensor([1.0]), Tensor([2.0])], axis=axis)
    assert ag.stack([Tensor([1.0]), Tensor([2.0])], axis=np.int64(1)).shape == (1, 2)


def test_max_norms_of_empty_slices_are_zero_as_in_numpy():
    x = Tensor(np.zeros((0, 3)), requires_grad=True)
    for ord, axis in [(np.inf, 0), (np.inf, None), (1, 0), (2, 0), (3, 0)]:
        y = ag.norm(x, ord, axis=axis)
        np.testing.assert_array_equal(y.data, np.linalg.norm(x.data, ord, axis=axis))
        y.sum().backward()
        assert x.grad.shape == (0, 3)
    np.testing.assert_array_equal(ag.norm(x, np.inf).data, np.linalg.norm(x.data, np.inf))  # matrix: max row sum
    np.testing.assert_array_equal(ag.norm(x.T, 1).data, np.linalg.norm(x.data.T, 1))  # max column sum
    assert ag.norm(x, np.inf, axis=0, keepdims=True).shape == (1, 3)


def test_min_norms_of_empty_slices_are_refused_clearly():
    x = Tensor(np.zeros((0, 3)))
    with pytest.raises(ValueError, match=r"norm: ord=-inf over axis 0 of shape \(0, 3\) is the smallest of no values"):
        ag.norm(x, -np.inf, axis=0)
    with pytest.raises(ValueError, match=r"norm: ord=-inf over axis 0 of shape \(0, 3\)"):
        ag.norm(x, -np.inf)  # the matrix norm: the smallest row sum, of no rows
    np.testing.assert_array_equal(ag.norm(x, -np.inf, axis=1).data, np.zeros(0))  # no slices: nothing to refuse


def test_conv2d_hints_at_a_batch_without_its_channel_axis_and_at_channels_last():
    one = nn.Conv2d(1, 4, 3)
    with pytest.raises(ValueError, match=r"\(32, 8, 8\) is 3-D.*one-channel images.*x\[:, None\]") as err:
        one(np.zeros((32, 8, 8)))
    assert "x[None]" not in str(err.value)  # (1, 32, 8, 8) would be one image of 32 channels
    with pytest.raises(ValueError, match=r"\(1, 8, 8\) is 3-D.*x\[None\]"):
        one(np.zeros((1, 8, 8)))  # one image or a batch of one: both hints give (1, 1, 8, 8)
    three = nn.Conv2d(3, 4, 3)
    channels_last = r"\(32, 28, 28, 3\) has 28 channels.*channels last.*x\.transpose\(0, 3, 1, 2\)"
    with pytest.raises(ValueError, match=channels_last):
        three(np.zeros((32, 28, 28, 3)))
    with pytest.raises(ValueError, match=r"\(28, 28, 3\) is 3-D.*channels last.*x\.transpose\(2, 0, 1\)\[None\]"):
        three(np.zeros((28, 28, 3)))
    with pytest.raises(ValueError, match=r"\(32, 8, 8\) is 3-D.*x\[None\].*x\[:, None\]"):
        ag.max_pool2d(np.zeros((32, 8, 8)), 2)  # a pooling cannot tell: both
    with pytest.raises(ValueError, match=r"has 2 channels, but the weight.*expects 3") as err:
        three(np.zeros((32, 2, 8, 8)))
    assert "transpose" not in str(err.value)
