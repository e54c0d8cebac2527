"""nn layers: values against NumPy formulas, gradients through autograd_core.testing, errors."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import check_layer, examples, upstream
from hypothesis import assume, given
from hypothesis import strategies as st

import autograd_core as ag
import nn
from autograd_core import Tensor
from autograd_core.testing import gradcheck, gradgradcheck
from autograd_core.testing.strategies import arrays, shapes, tensors

matrices = shapes(min_dims=2, max_dims=2, min_side=1, max_side=5)
batches = shapes(min_dims=2, max_dims=2, min_side=2, max_side=5)  # batch ≥ 2 for BatchNorm


# ============================================================== Dense


def test_dense_computes_x_at_w_plus_b():
    layer = nn.Dense(3, 2, rng=0)
    layer.bias.data[...] = [0.5, -1.0]
    x = np.arange(12.0).reshape(4, 3)
    np.testing.assert_allclose(layer(x).numpy(), x @ layer.weight.data + layer.bias.data, rtol=1e-15)
    assert layer.weight.shape == (3, 2) and layer.bias.shape == (2,)
    no_bias = nn.Dense(3, 2, bias=False, rng=0)
    assert no_bias.bias is None and [n for n, _ in no_bias.named_parameters()] == ["weight"]
    np.testing.assert_array_equal(no_bias(x).numpy(), x @ no_bias.weight.data)
    assert layer(Tensor(x)).shape == (4, 2)


def test_dense_initialisations_have_the_stated_scale():
    he = nn.Dense(400, 300, rng=0).weight.data
    xavier = nn.Dense(400, 300, init="xavier", rng=0).weight.data
    assert abs(he.std() / np.sqrt(2 / 400) - 1) < 0.02 and abs(he.mean()) < 0.01
    assert abs(xavier.std() / np.sqrt(2 / 700) - 1) < 0.02
    np.testing.assert_array_equal(nn.Dense(400, 300, bias=True, rng=0).bias.data, np.zeros(300))
    custom = nn.Dense(2, 3, init=lambda shape, rng: np.full(shape, 0.25))
    np.testing.assert_array_equal(custom.weight.data, np.full((2, 3), 0.25))


def test_dense_initialisation_is_reproducible_with_rng_or_global_seed():
    np.testing.assert_array_equal(nn.Dense(5, 4, rng=7).weight.data, nn.Dense(5, 4, rng=7).weight.data)
    gen = np.random.default_rng(3)
    expected = np.random.default_rng(3).standard_normal((5, 4)) * np.sqrt(2 / 5)
    np.testing.assert_array_equal(nn.Dense(5, 4, rng=gen).weight.data, expected)
    nn.seed(11)
    a = nn.Dense(5, 4).weight.data
    nn.seed(11)
    b = nn.Dense(5, 4).weight.data
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, nn.Dense(5, 4).weight.data)  # the generator moves on


def test_dense_errors_name_the_layer_and_the_fix():
    with pytest.raises(ValueError, match=r"Dense\(3, 2\): input of shape \(4, 5\); expected \(batch, 3\)"):
        nn.Dense(3, 2, rng=0)(np.ones((4, 5)))
    with pytest.raises(ValueError, match="unknown init 'kaiming'; use 'he'"):
        nn.Dense(3, 2, init="kaiming")
    with pytest.raises(ValueError, match=r"init callable returned shape \(2, 3\); it must return \(3, 2\)"):
        nn.Dense(3, 2, init=lambda shape, rng: np.zeros((2, 3)))
    with pytest.raises(ValueError, match="in_features must be a positive integer, got 0"):
        nn.Dense(0, 2)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        nn.Dense(3, 2, rng="seed")


@given(x=tensors(shape=matrices), bias=st.booleans(), out=st.integers(1, 4))
def test_dense_gradients(x, bias, out):
    layer = nn.Dense(x.shape[1], out, bias=bias, rng=0)
    v = upstream((x.shape[0], out))
    assert check_layer(layer, x, v)
    assert check_layer(layer, x, v, order=2)


@given(x=tensors(shape=matrices), out=st.integers(1, 4))
def test_fused_dense_matches_matmul_then_add(x, out):
    layer = nn.Dense(x.shape[1], out, rng=1)
    y = layer(x)
    assert y.op == "dense"  # one node for the whole layer
    w = Tensor(layer.weight.data, requires_grad=True)
    b = Tensor(layer.bias.data, requires_grad=True)
    x2 = Tensor(x.data, requires_grad=True)
    ref = x2 @ w + b
    np.testing.assert_allclose(y.data, ref.data, rtol=1e-12, atol=1e-12)
    v = upstream(y.shape)
    y.backward(v)
    ref.backward(v)
    for ours, theirs in ((x.grad, x2.grad), (layer.weight.grad, w.grad), (layer.bias.grad, b.grad)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


# ============================================================== BatchNorm


def bn_reference(x, gamma, beta, eps=1e-5):
    mu = x.mean(axis=0)
    var = ((x - mu) ** 2).mean(axis=0)
    return gamma * (x - mu) / np.sqrt(var + eps) + beta


def test_batchnorm_training_normalises_with_batch_statistics():
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, size=(16, 4))
    bn = nn.BatchNorm(4)
    bn.gamma.data[...] = [1.0, 2.0, 0.5, -1.0]
    bn.beta.data[...] = [0.0, 1.0, -2.0, 3.0]
    y = bn(x).numpy()
    np.testing.assert_allclose(y, bn_reference(x, bn.gamma.data, bn.beta.data), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(bn.__class__(4)(x).numpy().mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(bn.__class__(4)(x).numpy().var(axis=0), np.var(x, 0) / (np.var(x, 0) + 1e-5))


def test_batchnorm_running_averages_over_several_batches():
    rng = np.random.default_rng(1)
    bn = nn.BatchNorm(3, momentum=0.8)
    mean, var = np.zeros(3), np.ones(3)
    for _ in range(5):
        x = rng.normal(2.0, 3.0, size=(10, 3))
        bn(x)
        mean = 0.8 * mean + 0.2 * x.mean(axis=0)
        var = 0.8 * var + 0.2 * x.var(axis=0)  # the biased variance, as used for normalising
    np.testing.assert_allclose(bn.running_mean, mean, rtol=1e-13)
    np.testing.assert_allclose(bn.running_var, var, rtol=1e-13)
    assert [n for n, _ in bn.named_parameters()] == ["gamma", "beta"]  # running stats are not learnable
    assert list(bn.state_dict()) == ["gamma", "beta", "running_mean", "running_var"]


def test_batchnorm_eval_uses_running_statistics_and_predicts_one_example():
    rng = np.random.default_rng(2)
    bn = nn.BatchNorm(3)
    for _ in range(3):
        bn(rng.normal(size=(8, 3)))
    bn.gamma.data[...] = [1.5, 1.0, -0.5]
    bn.beta.data[...] = [0.1, 0.2, 0.3]
    saved_mean, saved_var = bn.running_mean.copy(), bn.running_var.copy()
    bn.eval()
    one = rng.normal(size=(1, 3))
    expected = bn.gamma.data * (one - saved_mean) / np.sqrt(saved_var + bn.eps) + bn.beta.data
    np.testing.assert_allclose(bn(one).numpy(), expected, rtol=1e-13)
    bn(rng.normal(size=(5, 3)))
    np.testing.assert_array_equal(bn.running_mean, saved_mean)  # eval never updates them
    np.testing.assert_array_equal(bn.running_var, saved_var)
    bn.train()
    x = rng.normal(size=(5, 3))
    np.testing.assert_allclose(bn(x).numpy(), bn_reference(x, bn.gamma.data, bn.beta.data), rtol=1e-12)


def test_batchnorm_errors():
    bn = nn.BatchNorm(3)
    with pytest.raises(ValueError, match=r"BatchNorm\(3\): a batch of 1 example in training mode.*model.eval\(\)"):
        bn(np.ones((1, 3)))
    with pytest.raises(ValueError, match=r"BatchNorm\(3\): input of shape \(4, 2\); expected \(batch, 3\)"):
        bn(np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"expected \(batch, 3\)"):
        bn(np.ones(3))
    with pytest.raises(ValueError, match="PyTorch's 0.1 is our 0.9"):
        nn.BatchNorm(3, momentum=1.5)
    np.testing.assert_array_equal(bn.running_mean, np.zeros(3))  # failed calls changed nothing


def test_fused_batchnorm_matches_the_primitive_composition():
    rng = np.random.default_rng(3)
    x0, g0, b0 = rng.normal(size=(6, 4)), rng.normal(size=4), rng.normal(size=4)
    v = rng.normal(size=(6, 4))
    results = []
    for fused in (True, False):
        x, g, b = (Tensor(a, requires_grad=True) for a in (x0, g0, b0))
        y = nn.batch_norm(x, g, b, fused=fused)
        results.append((y.numpy(), *(t.numpy() for t in ag.gradients((y * v).sum(), [x, g, b]))))
    for fused_value, reference in zip(*results):
        np.testing.assert_allclose(fused_value, reference, rtol=1e-10, atol=1e-12)
    assert results[0][0].shape == (6, 4)


@given(x=tensors(shape=batches), fused=st.booleans())
def test_batchnorm_function_gradients(x, fused):
    assume(np.all(x.data.var(axis=0) > 1e-2))  # near-constant features make finite differences ill-conditioned
    rng = np.random.default_rng(0)
    gamma, beta = rng.normal(size=x.shape[1]), rng.normal(size=x.shape[1])
    v = upstream(x.shape)

    def f(x, gamma, beta):
        return (nn.batch_norm(x, gamma, beta, fused=fused) * v).sum()

    assert gradcheck(f, x, gamma, beta)
    assert gradgradcheck(f, x, gamma, beta)


@given(x=tensors(shape=batches))
def test_batchnorm_layer_gradients_in_training_and_eval(x):
    assume(np.all(x.data.var(axis=0) > 1e-2))
    bn = nn.BatchNorm(x.shape[1])
    bn.gamma.data[...] = np.linspace(0.5, 2.0, x.shape[1])
    v = upstream(x.shape)
    assert check_layer(bn, x, v)
    bn.running_mean[...] = 0.3
    bn.running_var[...] = 2.0
    bn.eval()
    assert check_layer(bn, x, v)
    assert check_layer(bn, x, v, order=2)


def test_batchnorm_gradient_is_correct_for_a_batch_of_two():
    x = np.array([[1.0, -2.0], [3.0, 0.5]])
    assert check_layer(nn.BatchNorm(2), Tensor(x), upstream((2, 2)))


# ============================================================== activations


def away_from_zero(a: np.ndarray) -> bool:
    return bool(np.all(np.abs(a) > 1e-3))


def test_activations_compute_their_formulas():
    x = np.array([[-2.0, -0.5, 0.0, 0.5, 3.0]])
    np.testing.assert_array_equal(nn.ReLU()(x).numpy(), np.maximum(x, 0))
    np.testing.assert_allclose(nn.Sigmoid()(x).numpy(), 1 / (1 + np.exp(-x)), rtol=1e-15)
    np.testing.assert_allclose(nn.Tanh()(x).numpy(), np.tanh(x), rtol=1e-15)
    e = np.exp(x - x.max())
    np.testing.assert_allclose(nn.Softmax()(x).numpy(), e / e.sum(), rtol=1e-14)
    cols = np.array([[1.0, 2.0], [3.0, 5.0]])
    np.testing.assert_allclose(nn.Softmax(axis=0)(cols).numpy().sum(axis=0), [1.0, 1.0])
    np.testing.assert_allclose(nn.Softmax()(np.array([[1000.0, 0.0]])).numpy(), [[1.0, 0.0]])  # no overflow
    assert repr(nn.Softmax(axis=0)) == "Softmax(axis=0)  # training mode"


@given(x=tensors(shape=matrices))
def test_activation_gradients(x):
    v = upstream(x.shape)
    for layer in (nn.Sigmoid(), nn.Tanh(), nn.Softmax(), nn.Softmax(axis=0)):
        assert check_layer(layer, x, v)
        assert check_layer(layer, x, v, order=2)
    if away_from_zero(x.data):  # relu has a kink at 0, where finite differences disagree by design
        assert check_layer(nn.ReLU(), x, v)


# ============================================================== Dropout


def test_dropout_is_inverted_in_training_and_identity_in_eval():
    x = np.random.default_rng(0).normal(size=(200, 50)) + 5.0
    drop = nn.Dropout(0.3, rng=0)
    y = drop(x).numpy()
    kept = y != 0
    np.testing.assert_allclose(y[kept], x[kept] / 0.7, rtol=1e-15)
    assert abs(kept.mean() - 0.7) < 0.01
    expected_mask = np.random.default_rng(0).random(x.shape) >= 0.3
    np.testing.assert_array_equal(kept, expected_mask)
    drop.eval()
    assert drop(x) is x
    np.testing.assert_array_equal(nn.Dropout(0.0)(x), x)
    np.testing.assert_array_equal(nn.Dropout(1.0)(x).numpy(), np.zeros_like(x))
    with pytest.raises(ValueError, match=r"Dropout: p is the probability .* must be in \[0, 1\], got 1.5"):
        nn.Dropout(1.5)


def test_dropout_masks_follow_the_global_seed():
    x = np.ones((4, 6))
    nn.seed(5)
    a = nn.Dropout(0.5)(x).numpy()
    nn.seed(5)
    np.testing.assert_array_equal(nn.Dropout(0.5)(x).numpy(), a)


@given(x=tensors(shape=matrices), p=st.sampled_from([0.2, 0.5]))
def test_dropout_gradients(x, p):
    v = upstream(x.shape)
    # A fresh layer with the same seed in every evaluation: the same mask each time.
    assert gradcheck(lambda t: (nn.Dropout(p, rng=1)(t) * v).sum(), x)
    xt = Tensor(x.data, requires_grad=True)
    out = nn.Dropout(p, rng=1)(xt)
    out.sum().backward()
    mask = (np.random.default_rng(1).random(x.shape) >= p) / (1 - p)
    np.testing.assert_allclose(xt.grad, mask, rtol=1e-15)


# ============================================================== a whole network


@examples(0.5)  # a whole network's gradient check: each example costs many
@given(x=arrays(shape=(5, 3)))
def test_sequential_network_gradients(x):
    assume(np.all(x.var(axis=0) > 1e-2))
    model = nn.Sequential(nn.Dense(3, 4, bias=False, rng=0), nn.BatchNorm(4), nn.Tanh(), nn.Dense(4, 2, rng=1))
    names = [n for n, _ in model.named_parameters()]
    params = dict(model.named_parameters())
    labels = np.array([0, 1, 1, 0, 1])

    def f(x, *ps):
        layers = {n: p for n, p in zip(names, ps)}
        model[0].weight, model[1].gamma, model[1].beta = layers["0.weight"], layers["1.gamma"], layers["1.beta"]
        model[3].weight, model[3].bias = layers["3.weight"], layers["3.bias"]
        return nn.softmax_cross_entropy(model(x), labels)

    assert gradcheck(f, x, *[params[n].data for n in names])


# ============================================================== the input dtype rule


@pytest.mark.parametrize("model_dtype, data_dtype", [(np.float32, np.float64), (np.float64, np.float32)])
def test_layers_compute_in_their_parameters_dtype(model_dtype, data_dtype):
    model = nn.Sequential(nn.Dense(3, 4, rng=0, dtype=model_dtype), nn.BatchNorm(4, dtype=model_dtype), nn.ReLU())
    x = np.random.default_rng(0).normal(size=(6, 3)).astype(data_dtype)
    out = model(x)
    assert out.dtype == model_dtype
    reference = model(x.astype(model_dtype))
    np.testing.assert_array_equal(out.data, reference.data)
    out.sum().backward()
    assert all(p.grad.dtype == model_dtype for p in model.parameters())
    # A tracked input is cast differentiably: its gradient comes back in its own dtype.
    xt = Tensor(x, requires_grad=True)
    model(xt).sum().backward()
    assert xt.grad.dtype == data_dtype and np.abs(xt.grad).sum() > 0
    model.eval()
    assert model(x).dtype == model_dtype


def test_layers_refuse_non_numeric_input():
    with pytest.raises(TypeError, match=r"Dense\(2, 1\): input must be numeric"):
        nn.Dense(2, 1)(np.array([["a", "b"]]))
