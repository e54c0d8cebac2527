"""nn losses: values against NumPy formulas, stability, gradients, 2-class equivalence, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import autograd_core as ag
import nn
from autograd_core import Tensor
from autograd_core.testing import gradcheck, gradgradcheck
from autograd_core.testing.strategies import arrays, shapes, tensors

matrices = shapes(min_dims=2, max_dims=2, min_side=1, max_side=5)


def np_log_softmax(z: np.ndarray) -> np.ndarray:
    m = z.max(axis=1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))


def np_softmax(z: np.ndarray) -> np.ndarray:
    return np.exp(np_log_softmax(z))


def grad_of(loss_fn, *arrays_):
    ts = [Tensor(a, requires_grad=True) for a in arrays_]
    loss = loss_fn(*ts)
    loss.backward()
    return loss.item(), [t.grad for t in ts]


# ============================================================== softmax cross-entropy


def test_softmax_cross_entropy_with_indices_one_hot_and_probabilities():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(6, 4))
    labels = np.array([0, 3, 1, 1, 2, 0])
    expected = -np_log_softmax(z)[np.arange(6), labels].mean()
    loss = nn.softmax_cross_entropy(z, labels)
    assert loss.shape == () and loss.item() == pytest.approx(expected, rel=1e-14)
    one_hot = np.eye(4)[labels]
    assert nn.softmax_cross_entropy(z, one_hot).item() == pytest.approx(expected, rel=1e-14)
    assert nn.softmax_cross_entropy(z, list(labels)).item() == pytest.approx(expected, rel=1e-14)
    assert nn.softmax_cross_entropy(z, labels.astype(float)).item() == pytest.approx(expected, rel=1e-14)
    probs = rng.dirichlet(np.ones(4), size=6)
    assert nn.softmax_cross_entropy(z, probs).item() == pytest.approx(
        -(probs * np_log_softmax(z)).sum(axis=1).mean(), rel=1e-14
    )


def test_softmax_cross_entropy_gradient_is_softmax_minus_y_over_batch():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(5, 3))
    labels = np.array([2, 0, 1, 1, 0])
    _, (g,) = grad_of(lambda t: nn.softmax_cross_entropy(t, labels), z)
    np.testing.assert_allclose(g, (np_softmax(z) - np.eye(3)[labels]) / 5, rtol=1e-13, atol=1e-16)
    probs = rng.dirichlet(np.ones(3), size=5)
    _, (gz, gy) = grad_of(nn.softmax_cross_entropy, z, probs)
    np.testing.assert_allclose(gz, (np_softmax(z) - probs) / 5, rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(gy, -np_log_softmax(z) / 5, rtol=1e-13)


def test_softmax_cross_entropy_is_stable_for_huge_and_minus_inf_logits():
    z = np.array([[1e4, 0.0, -1e4], [-5e3, 5e3, 0.0]])
    value, (g,) = grad_of(lambda t: nn.softmax_cross_entropy(t, np.array([0, 0])), z)
    assert value == pytest.approx((0.0 + 1e4) / 2)  # row 1: log-softmax of the true class is -1e4
    np.testing.assert_allclose(g, np.array([[0, 0, 0], [-1, 1, 0]]) / 2, atol=1e-300)
    masked = np.array([[2.0, -np.inf, 0.5], [-np.inf, 1.0, 1.0]])
    value, (g,) = grad_of(lambda t: nn.softmax_cross_entropy(t, np.array([0, 2])), masked)
    assert np.isfinite(value) and np.all(np.isfinite(g))
    finite = np.where(np.isinf(masked), -1e300, masked)
    assert value == pytest.approx(-np_log_softmax(finite)[[0, 1], [0, 2]].mean(), rel=1e-14)
    np.testing.assert_allclose(g, (np_softmax(finite) - np.eye(3)[[0, 2]]) / 2, rtol=1e-13)
    assert g[0, 1] == 0 and g[1, 0] == 0


def test_softmax_cross_entropy_keeps_float32():
    z = Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    loss = nn.softmax_cross_entropy(z, np.array([0, 1]))
    loss.backward()
    assert loss.dtype == np.float32 and z.grad.dtype == np.float32


@given(z=tensors(shape=matrices, elements=dict(min_value=-5, max_value=5)), data=st.data())
def test_softmax_cross_entropy_gradients_with_indices(z, data):
    labels = np.array(data.draw(st.lists(st.integers(0, z.shape[1] - 1), min_size=z.shape[0], max_size=z.shape[0])))
    f = lambda t: nn.softmax_cross_entropy(t, labels)  # noqa: E731
    assert gradcheck(f, z)
    assert gradgradcheck(f, z)


@given(z=tensors(shape=matrices, elements=dict(min_value=-5, max_value=5)), data=st.data())
def test_softmax_cross_entropy_gradients_with_probability_rows(z, data):
    w = data.draw(arrays(shape=z.shape, elements=dict(min_value=0.1, max_value=1.0)))
    probs = w / w.sum(axis=1, keepdims=True)
    assert gradcheck(nn.softmax_cross_entropy, z, probs)  # with respect to both the logits and the targets
    assert gradgradcheck(nn.softmax_cross_entropy, z, probs)


def test_softmax_cross_entropy_errors():
    z = np.zeros((3, 4))
    with pytest.raises(
        ValueError, match=r"label 4 at position 1 is out of range for 4 classes \(labels must be in 0..3\)"
    ):
        nn.softmax_cross_entropy(z, np.array([0, 4, 1]))
    with pytest.raises(ValueError, match="label -1 at position 2 is out of range"):
        nn.softmax_cross_entropy(z, np.array([0, 1, -1]))
    with pytest.raises(ValueError, match=r"2 class indices for a batch of 3 logits rows"):
        nn.softmax_cross_entropy(z, np.array([0, 1]))
    with pytest.raises(ValueError, match=r"target rows have shape \(3, 5\) but logits \(3, 4\)"):
        nn.softmax_cross_entropy(z, np.zeros((3, 5)))
    with pytest.raises(ValueError, match=r"targets contain NaN \(first at index \(1,\)\)"):
        nn.softmax_cross_entropy(z, np.array([0.0, np.nan, 1.0]))
    with pytest.raises(ValueError, match=r"targets contain NaN \(first at index \(0, 2\)\)"):
        nn.softmax_cross_entropy(z, np.array([[0, 0, np.nan, 1]] * 3))
    with pytest.raises(ValueError, match="must be whole numbers; got 0.5"):
        nn.softmax_cross_entropy(z, np.array([0.0, 0.5, 1.0]))
    with pytest.raises(ValueError, match="target row 0 sums to 2.0"):
        nn.softmax_cross_entropy(z, np.array([[1.0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1]]))
    with pytest.raises(ValueError, match="negative values"):
        nn.softmax_cross_entropy(z, np.array([[2.0, -1, 0, 0]] * 3))
    with pytest.raises(ValueError, match=r"logits must have shape \(batch, classes\), got \(4,\); .*reshape\(1, -1\)"):
        nn.softmax_cross_entropy(np.zeros(4), np.array([1]))
    with pytest.raises(ValueError, match=r"class indices of shape \(3,\) or rows of shape \(3, 4\)"):
        nn.softmax_cross_entropy(z, np.zeros((3, 4, 1)))


# ============================================================== two classes: softmax regression = logistic regression


def test_two_class_softmax_regression_equals_logistic_regression():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(20, 3))
    y = rng.integers(0, 2, size=20)
    W, b = rng.normal(size=(3, 2)), rng.normal(size=2)

    # softmax regression with two classes ...
    Wt, bt = Tensor(W, requires_grad=True), Tensor(b, requires_grad=True)
    soft = nn.softmax_cross_entropy(x @ Wt + bt, y)
    soft.backward()
    # ... is logistic regression on the difference of the two classes' scores
    w, c = Tensor(W[:, 1] - W[:, 0], requires_grad=True), Tensor(b[1] - b[0], requires_grad=True)
    logistic = nn.binary_cross_entropy(x @ w + c, y.astype(float))
    logistic.backward()

    assert soft.item() == pytest.approx(logistic.item(), rel=1e-13)
    np.testing.assert_allclose(Wt.grad[:, 1], w.grad, rtol=1e-12)  # d/dW₁ = d/dw, d/dW₀ = -d/dw
    np.testing.assert_allclose(Wt.grad[:, 0], -w.grad, rtol=1e-12)
    assert bt.grad[1] == pytest.approx(c.grad.item(), rel=1e-12)
    np.testing.assert_allclose(  # and the predicted probabilities agree
        np_softmax(x @ W + b)[:, 1], 1 / (1 + np.exp(-(x @ w.data + c.data))), rtol=1e-12
    )


# ============================================================== binary cross-entropy


def test_binary_cross_entropy_value_and_gradient():
    z = np.array([[-3.0, -0.5], [0.0, 2.0], [4.0, 1.0]])
    y = np.array([[0.0, 1.0], [1.0, 0.3], [1.0, 0.0]])
    s = 1 / (1 + np.exp(-z))
    expected = np.mean(-y * np.log(s) - (1 - y) * np.log(1 - s))
    value, (gz, gy) = grad_of(nn.binary_cross_entropy, z, y)
    assert value == pytest.approx(expected, rel=1e-13)
    np.testing.assert_allclose(gz, (s - y) / 6, rtol=1e-13)
    np.testing.assert_allclose(gy, -z / 6, rtol=1e-13)


def test_binary_cross_entropy_is_stable_for_huge_logits():
    z = np.array([1000.0, -1000.0, 1000.0, -1000.0])
    y = np.array([1.0, 0.0, 0.0, 1.0])
    value, (g,) = grad_of(lambda t: nn.binary_cross_entropy(t, y), z)
    assert value == pytest.approx((0 + 0 + 1000 + 1000) / 4)
    np.testing.assert_allclose(g, [0, 0, 0.25, -0.25])


@given(z=tensors(shape=matrices, elements=dict(min_value=-6, max_value=6)), data=st.data())
def test_binary_cross_entropy_gradients(z, data):
    y = data.draw(arrays(shape=z.shape, elements=dict(min_value=0.01, max_value=0.99)))
    assert gradcheck(nn.binary_cross_entropy, z, y)  # z = 0 included: the fused op has no kink there
    assert gradgradcheck(nn.binary_cross_entropy, z, y)


def test_binary_cross_entropy_errors():
    with pytest.raises(ValueError, match=r"logits of shape \(4, 1\) and targets of shape \(4,\).*reshape"):
        nn.binary_cross_entropy(np.zeros((4, 1)), np.zeros(4))
    with pytest.raises(ValueError, match=r"targets must be in \[0, 1\], got values from 0.0 to 2.0"):
        nn.binary_cross_entropy(np.zeros(3), np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="targets contain NaN"):
        nn.binary_cross_entropy(np.zeros(2), np.array([np.nan, 1.0]))


# ============================================================== mean squared error


def test_mse_value_and_gradient():
    p, t = np.array([[1.0, 2.0], [3.0, -1.0]]), np.array([[0.5, 2.0], [1.0, 1.0]])
    value, (gp, gt) = grad_of(nn.mse, p, t)
    assert value == pytest.approx(np.mean((p - t) ** 2), rel=1e-15)
    np.testing.assert_allclose(gp, 2 * (p - t) / 4, rtol=1e-15)
    np.testing.assert_allclose(gt, -2 * (p - t) / 4, rtol=1e-15)
    with pytest.raises(ValueError, match=r"mse: pred of shape \(5,\) and target of shape \(5, 1\) must have the same"):
        nn.mse(np.zeros(5), np.zeros((5, 1)))


@given(p=tensors(shape=matrices), data=st.data())
def test_mse_gradients(p, data):
    t = data.draw(arrays(shape=p.shape))
    assert gradcheck(nn.mse, p, t)
    assert gradgradcheck(nn.mse, p, t)


def test_losses_are_means_over_the_batch():
    z = np.random.default_rng(5).normal(size=(4, 3))
    labels = np.array([0, 1, 2, 0])
    halves = [nn.softmax_cross_entropy(z[:2], labels[:2]).item(), nn.softmax_cross_entropy(z[2:], labels[2:]).item()]
    assert nn.softmax_cross_entropy(z, labels).item() == pytest.approx(np.mean(halves), rel=1e-14)
    assert ag.is_grad_enabled()
