"""Images: Conv2d, MaxPool2d, AvgPool2d, Flatten and BatchNorm2d, and the ops under them.

Values against plain-loop references, gradients (first and second order) against finite
differences, the running-average rule, errors, the dtype rule, saving and drawing.
The ops' own Hypothesis tests are rows of ``test_ops.py``'s table.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import check_layer, upstream
from hypothesis import assume, given
from hypothesis import strategies as st

import autograd_core as ag
import nn
from autograd_core import Tensor
from autograd_core.testing import gradcheck, gradgradcheck


def conv_loops(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: int, padding: int) -> np.ndarray:
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.zeros((n, c, h + 2 * padding, wd + 2 * padding))
    xp[:, :, padding : padding + h, padding : padding + wd] = x
    ho, wo = (h + 2 * padding - kh) // stride + 1, (wd + 2 * padding - kw) // stride + 1
    y = np.zeros((n, o, ho, wo))
    for r in range(ho):
        for col in range(wo):
            patch = xp[:, :, r * stride : r * stride + kh, col * stride : col * stride + kw]
            y[:, :, r, col] = np.einsum("ncij,ocij->no", patch, w)
    return y if b is None else y + b[None, :, None, None]


# ============================================================== Conv2d


def test_conv2d_layer_computes_the_cross_correlation():
    rng = np.random.default_rng(0)
    layer = nn.Conv2d(3, 4, kernel_size=3, stride=2, padding=1, rng=0)
    layer.bias.data[...] = rng.normal(size=4)
    x = rng.normal(size=(2, 3, 7, 6))
    y = layer(x)
    assert layer.weight.shape == (4, 3, 3, 3) and layer.bias.shape == (4,)
    assert y.shape == (2, 4, 4, 3) and y.op == "conv2d"
    np.testing.assert_allclose(y.numpy(), conv_loops(x, layer.weight.data, layer.bias.data, 2, 1), atol=1e-12)
    # not a convolution in the flipped-kernel sense: a one-hot kernel copies, it does not mirror
    w = np.zeros((1, 1, 3, 3))
    w[0, 0, 0, 0] = 1.0
    img = np.arange(16.0).reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(ag.conv2d(img, w).numpy()[0, 0], img[0, 0, :2, :2])


def test_conv2d_initialisation_uses_fan_in_of_the_patch():
    layer = nn.Conv2d(16, 64, kernel_size=5, rng=0)
    fan_in = 16 * 5 * 5
    assert abs(layer.weight.data.std() / np.sqrt(2 / fan_in) - 1) < 0.03
    np.testing.assert_array_equal(layer.bias.data, np.zeros(64))
    np.testing.assert_array_equal(nn.Conv2d(2, 3, 2, rng=4).weight.data, nn.Conv2d(2, 3, 2, rng=4).weight.data)
    seen = []

    def init(shape, rng):
        seen.append(shape)
        return np.arange(np.prod(shape), dtype=float).reshape(shape)

    custom = nn.Conv2d(2, 3, (1, 2), init=init, bias=False)
    assert seen == [(4, 3)] and custom.bias is None  # (in·kh·kw, out): the equivalent Dense weight
    # row (c, i, j) of that matrix holds the weights of patch element (c, i, j)
    np.testing.assert_array_equal(custom.weight.data[1], np.arange(12.0).reshape(4, 3)[:, 1].reshape(2, 1, 2))
    assert [n for n, _ in custom.named_parameters()] == ["weight"]


@given(
    n=st.integers(1, 2),
    c=st.integers(1, 2),
    o=st.integers(1, 3),
    k=st.integers(1, 3),
    stride=st.integers(1, 2),
    padding=st.integers(0, 1),
    bias=st.booleans(),
)
def test_conv2d_layer_gradients(n, c, o, k, stride, padding, bias):
    layer = nn.Conv2d(c, o, k, stride=stride, padding=padding, bias=bias, rng=0)
    x = np.random.default_rng(1).normal(size=(n, c, 4, 3))
    v = upstream(layer(x).shape)
    assert check_layer(layer, x, v)
    assert check_layer(layer, x, v, order=2)


def test_conv2d_errors_name_the_layer_the_shapes_and_the_fix():
    layer = nn.Conv2d(3, 8, kernel_size=3, rng=0)
    with pytest.raises(ValueError, match=r"Conv2d\(3, 8, kernel_size=3\): input of shape \(2, 4, 8, 8\) has 4 chan"):
        layer(np.ones((2, 4, 8, 8)))
    with pytest.raises(
        ValueError, match=r"Conv2d\(3, 8, kernel_size=3\): input of shape \(3, 8, 8\) is 3-D.*x\[None\]"
    ):
        layer(np.ones((3, 8, 8)))
    with pytest.raises(ValueError, match=r"input of shape \(8, 8\) is 2-D.*x\[None, None\]"):
        nn.Conv2d(1, 2, 3)(np.ones((8, 8)))
    with pytest.raises(ValueError, match=r"kernel_size=3\): the 3×3 kernel is larger than the padded input 2×4"):
        layer(np.ones((1, 3, 2, 4)))
    assert nn.Conv2d(3, 8, 3, padding=1)(np.ones((1, 3, 1, 1))).shape == (1, 8, 1, 1)  # padding makes it fit
    with pytest.raises(ValueError, match=r"Conv2d\(3, 8\): padding must be a non-negative int.*got -1"):
        nn.Conv2d(3, 8, 3, padding=-1)
    with pytest.raises(ValueError, match=r"Conv2d\(3, 8\): stride must be a positive int.*got 0"):
        nn.Conv2d(3, 8, 3, stride=0)
    with pytest.raises(ValueError, match=r"Conv2d\(3, 8\): kernel_size must be a positive int.*\(3, 0\)"):
        nn.Conv2d(3, 8, (3, 0))
    with pytest.raises(ValueError, match="Conv2d: in_channels must be a positive integer, got 0"):
        nn.Conv2d(0, 8, 3)
    with pytest.raises(ValueError, match=r"init callable returned shape \(3, 3\); it must return \(27, 8\)"):
        nn.Conv2d(3, 8, 3, init=lambda shape, rng: np.zeros((3, 3)))
    with pytest.raises(TypeError, match=r"Conv2d\(3, 8, kernel_size=3\): input must be numeric"):
        layer(np.full((1, 3, 4, 4), "a"))


def test_conv2d_function_errors():
    x, w = np.ones((2, 3, 5, 5)), np.ones((4, 3, 3, 3))
    with pytest.raises(ValueError, match=r"conv2d: input of shape \(2, 2, 5, 5\) has 2 channels, but the weight"):
        ag.conv2d(np.ones((2, 2, 5, 5)), w)
    with pytest.raises(ValueError, match=r"conv2d: bias of shape \(3,\); expected \(4,\)"):
        ag.conv2d(x, w, np.ones(3))
    with pytest.raises(ValueError, match=r"conv2d: weight of shape \(4, 3, 3\) must be 4-D"):
        ag.conv2d(x, np.ones((4, 3, 3)))
    with pytest.raises(ValueError, match="conv2d: stride must be a positive int or a pair"):
        ag.conv2d(x, w, stride=(1, 2, 3))
    assert ag.conv2d(x, w, stride=(2, 1), padding=(0, 1)).shape == (2, 4, 2, 5)


# ============================================================== pooling


def test_max_pool_values_defaults_and_ties_split_evenly():
    x = np.arange(36.0).reshape(1, 1, 6, 6)
    np.testing.assert_array_equal(nn.MaxPool2d(2)(x).numpy()[0, 0], [[7, 9, 11], [19, 21, 23], [31, 33, 35]])
    assert nn.MaxPool2d(3, stride=1)(x).shape == (1, 1, 4, 4)
    assert nn.MaxPool2d(2, padding=1)(x).shape == (1, 1, 4, 4)
    tied = Tensor(np.array([[[[1.0, 3.0], [3.0, 3.0]]]]), requires_grad=True)
    ag.max_pool2d(tied, 2).backward(np.array([[[[6.0]]]]))
    np.testing.assert_array_equal(tied.grad, [[[[0.0, 2.0], [2.0, 2.0]]]])  # three tied maxima share 6
    flat = Tensor(np.zeros((1, 1, 12, 12)), requires_grad=True)  # 144 tied maxima (more than a byte counts)
    ag.max_pool2d(flat, 12).backward(np.ones((1, 1, 1, 1)))
    np.testing.assert_allclose(flat.grad, np.full((1, 1, 12, 12), 1 / 144))
    # overlapping windows: one element that is the maximum of two windows gets both gradients
    x = Tensor(np.array([[[[0.0, 5.0, 1.0]]]]), requires_grad=True)
    ag.max_pool2d(x, (1, 2), stride=1).sum().backward()
    np.testing.assert_array_equal(x.grad, [[[[0.0, 2.0, 0.0]]]])


def test_avg_pool_values_and_padding_counts_as_zero():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(nn.AvgPool2d(2)(x).numpy()[0, 0], [[2.5, 4.5], [10.5, 12.5]])
    padded = nn.AvgPool2d(3, stride=3, padding=1)(x).numpy()[0, 0]
    assert padded[0, 0] == (0 + 1 + 4 + 5) / 9  # the padded corner window is divided by 9, not 4
    x = Tensor(np.ones((1, 1, 3, 3)), requires_grad=True)
    ag.avg_pool2d(x, 2, stride=1).sum().backward()
    np.testing.assert_allclose(x.grad[0, 0], [[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]])


@given(k=st.integers(1, 3), stride=st.one_of(st.none(), st.integers(1, 3)), data=st.data())
def test_pool_layer_gradients(k, stride, data):
    padding = data.draw(st.integers(0, k // 2))
    x = np.array(data.draw(st.permutations(range(80)))).reshape(2, 2, 5, 4) / 10.0  # no ties
    for layer in (nn.MaxPool2d(k, stride, padding), nn.AvgPool2d(k, stride, padding)):
        v = upstream(layer(x).shape)
        assert check_layer(layer, x, v)
        assert check_layer(layer, x, v, order=2)


def test_pool_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"MaxPool2d: padding 2 is more than half the kernel 3"):
        nn.MaxPool2d(3, padding=2)
    with pytest.raises(ValueError, match=r"AvgPool2d: stride must be a positive int.*got 0"):
        nn.AvgPool2d(2, stride=0)
    with pytest.raises(ValueError, match=r"MaxPool2d: padding must be a non-negative int.*got -1"):
        nn.MaxPool2d(2, padding=-1)
    with pytest.raises(ValueError, match=r"MaxPool2d\(kernel_size=3\): the 3×3 kernel is larger than the padded input"):
        nn.MaxPool2d(3)(np.ones((1, 1, 2, 2)))
    with pytest.raises(ValueError, match=r"AvgPool2d\(kernel_size=2\): input of shape \(1, 4, 4\) is 3-D.*x\[None\]"):
        nn.AvgPool2d(2)(np.ones((1, 4, 4)))
    with pytest.raises(ValueError, match="max_pool2d: padding"):
        ag.max_pool2d(np.ones((1, 1, 4, 4)), 2, padding=(0, 2))
    assert repr(nn.MaxPool2d(2)) == "MaxPool2d(kernel_size=2)  # training mode"
    assert "stride=1, padding=1" in repr(nn.AvgPool2d(3, 1, 1))


# ============================================================== Flatten


def test_flatten_keeps_the_batch_axis_in_c_order():
    x = Tensor(np.arange(24.0).reshape(2, 3, 2, 2), requires_grad=True)
    y = nn.Flatten()(x)
    np.testing.assert_array_equal(y.numpy(), np.arange(24.0).reshape(2, 12))
    y.backward(np.arange(24.0).reshape(2, 12))
    np.testing.assert_array_equal(x.grad, np.arange(24.0).reshape(2, 3, 2, 2))
    assert nn.Flatten()(np.zeros((0, 3, 2))).shape == (0, 6)
    with pytest.raises(ValueError, match=r"Flatten: input of shape \(5,\) has no axes after the batch axis"):
        nn.Flatten()(np.zeros(5))


# ============================================================== BatchNorm2d


def bn2d_reference(x, gamma, beta, eps=1e-5):
    mu = x.mean(axis=(0, 2, 3), keepdims=True)
    var = ((x - mu) ** 2).mean(axis=(0, 2, 3), keepdims=True)
    return gamma[None, :, None, None] * (x - mu) / np.sqrt(var + eps) + beta[None, :, None, None]


def test_batchnorm2d_normalises_each_channel_over_batch_height_and_width():
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, size=(4, 3, 5, 6))
    bn = nn.BatchNorm2d(3)
    bn.gamma.data[...] = [1.0, 2.0, -0.5]
    bn.beta.data[...] = [0.0, 1.0, -2.0]
    np.testing.assert_allclose(bn(x).numpy(), bn2d_reference(x, bn.gamma.data, bn.beta.data), rtol=1e-12, atol=1e-12)
    # the same numbers as BatchNorm on the pixels as rows: (n·h·w, channels)
    rows = x.transpose(0, 2, 3, 1).reshape(-1, 3)
    flat = nn.BatchNorm(3)
    flat.gamma.data[...], flat.beta.data[...] = bn.gamma.data, bn.beta.data
    expected = flat(rows).numpy().reshape(4, 5, 6, 3).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(bn(x).numpy(), expected, rtol=1e-12, atol=1e-12)


def test_batchnorm2d_running_averages_and_eval_mode():
    rng = np.random.default_rng(1)
    bn = nn.BatchNorm2d(2, momentum=0.8)
    mean, var = np.zeros(2), np.ones(2)
    for _ in range(4):
        x = rng.normal(2.0, 3.0, size=(3, 2, 4, 4))
        bn(x)
        mean = 0.8 * mean + 0.2 * x.mean(axis=(0, 2, 3))
        var = 0.8 * var + 0.2 * x.var(axis=(0, 2, 3))
    np.testing.assert_allclose(bn.running_mean, mean, rtol=1e-13)
    np.testing.assert_allclose(bn.running_var, var, rtol=1e-13)
    assert list(bn.state_dict()) == ["gamma", "beta", "running_mean", "running_var"]
    bn.gamma.data[...] = [1.5, -0.5]
    bn.eval()
    one = rng.normal(size=(1, 2, 3, 3))  # a single image, predicted with the running statistics
    expected = (one - mean[:, None, None]) / np.sqrt(var[:, None, None] + 1e-5) * bn.gamma.data[:, None, None]
    np.testing.assert_allclose(bn(one).numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(bn.running_mean, mean, rtol=1e-13)  # eval leaves them alone
    assert repr(bn).startswith("BatchNorm2d(2, momentum=0.8, eps=1e-05)")


def test_fused_batchnorm2d_matches_the_primitive_composition():
    rng = np.random.default_rng(3)
    x0, g0, b0 = rng.normal(size=(3, 4, 2, 5)), rng.normal(size=4), rng.normal(size=4)
    v = rng.normal(size=x0.shape)
    results = []
    for fused in (True, False):
        x, g, b = (Tensor(a, requires_grad=True) for a in (x0, g0, b0))
        y = nn.batch_norm(x, g, b, fused=fused, axes=(0, 2, 3))
        results.append((y.numpy(), *(t.numpy() for t in ag.gradients((y * v).sum(), [x, g, b]))))
    for fused_value, reference in zip(*results):
        np.testing.assert_allclose(fused_value, reference, rtol=1e-10, atol=1e-12)


@given(n=st.integers(1, 3), c=st.integers(1, 2), h=st.integers(1, 3), w=st.integers(2, 3), fused=st.booleans())
def test_batchnorm2d_gradients(n, c, h, w, fused):
    x = np.random.default_rng(n * 10 + h).normal(size=(n, c, h, w))
    assume(np.all(x.var(axis=(0, 2, 3)) > 1e-2))
    rng = np.random.default_rng(0)
    gamma, beta, v = rng.normal(size=c), rng.normal(size=c), upstream(x.shape)

    def f(x, gamma, beta):
        return (nn.batch_norm(x, gamma, beta, fused=fused, axes=(0, 2, 3)) * v).sum()

    assert gradcheck(f, x, gamma, beta)
    assert gradgradcheck(f, x, gamma, beta)
    bn = nn.BatchNorm2d(c)
    bn.gamma.data[...] = gamma
    assert check_layer(bn, x, v)
    bn.running_var[...] = 2.0
    assert check_layer(bn.eval(), x, v, order=2)


def test_batchnorm2d_errors():
    bn = nn.BatchNorm2d(3)
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3\): input of shape \(3, 4, 4\) is 3-D.*x\[None\]"):
        bn(np.ones((3, 4, 4)))
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3\): input of shape \(2, 4, 4, 4\) has 4 channels; expected 3"):
        bn(np.ones((2, 4, 4, 4)))
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3\): a batch of 1 example in training mode"):
        bn(np.ones((1, 3, 1, 1)))
    assert bn(np.random.default_rng(0).normal(size=(1, 3, 2, 2))).shape == (1, 3, 2, 2)  # 4 values per channel
    with pytest.raises(ValueError, match="BatchNorm2d: channels must be a positive integer, got 0"):
        nn.BatchNorm2d(0)
    with pytest.raises(ValueError, match="BatchNorm2d: momentum"):
        nn.BatchNorm2d(3, momentum=2.0)


# ============================================================== whole networks


def small_cnn(dtype=None, seed=0) -> nn.Sequential:
    rng = np.random.default_rng(seed)
    return nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1, bias=False, rng=rng, dtype=dtype),
        nn.BatchNorm2d(3, dtype=dtype),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(3, 4, 2, rng=rng, dtype=dtype),
        nn.AvgPool2d(2, stride=1),
        nn.Flatten(),
        nn.Dense(4 * 1 * 1, 3, rng=rng, dtype=dtype),
    )


def test_a_small_cnn_has_correct_first_and_second_derivatives():
    model = small_cnn()
    x = np.random.default_rng(5).normal(size=(2, 1, 6, 6))
    params = list(model.parameters())
    names = [n for n, _ in model.named_parameters()]
    owners = {n: model[int(n.split(".")[0])] for n in names}

    def f(x, *ps):
        for n, p in zip(names, ps):
            setattr(owners[n], n.split(".")[1], p)
        return nn.softmax_cross_entropy(model(x), np.array([0, 2]))

    try:
        assert gradcheck(f, x, *[p.data for p in params])
        assert gradgradcheck(f, x, *[p.data for p in params], atol=1e-4)
    finally:
        for n, p in zip(names, params):
            setattr(owners[n], n.split(".")[1], p)


@pytest.mark.parametrize("model_dtype, data_dtype", [(np.float32, np.float64), (np.float64, np.float32)])
def test_cnn_layers_compute_in_their_parameters_dtype(model_dtype, data_dtype):
    model = small_cnn(dtype=model_dtype)
    x = np.random.default_rng(0).normal(size=(3, 1, 6, 6)).astype(data_dtype)
    out = model(x)
    assert out.dtype == model_dtype
    np.testing.assert_array_equal(out.data, model(x.astype(model_dtype)).data)
    xt = Tensor(x, requires_grad=True)
    model(xt).sum().backward()
    assert all(p.grad.dtype == model_dtype for p in model.parameters())
    assert xt.grad.dtype == data_dtype and np.abs(xt.grad).sum() > 0


def test_input_memory_layout_does_not_matter():
    rng = np.random.default_rng(2)
    model = small_cnn()
    x = rng.normal(size=(3, 1, 6, 6))
    strided = np.asfortranarray(x)  # the same numbers, another memory order
    np.testing.assert_allclose(model(strided).numpy(), model(x).numpy(), rtol=1e-12, atol=1e-12)
    w = rng.normal(size=(2, 3, 2, 2))
    channels_last = x.repeat(3, axis=1).transpose(0, 2, 3, 1).copy().transpose(0, 3, 1, 2)
    np.testing.assert_allclose(
        ag.conv2d(channels_last, w, padding=1).numpy(), conv_loops(x.repeat(3, axis=1), w, None, 1, 1), atol=1e-12
    )


def test_cnn_save_and_load_round_trip(tmp_path):
    model = small_cnn(seed=0)
    x = np.random.default_rng(3).normal(size=(4, 1, 6, 6))
    model(x)  # one training step's worth of running statistics
    model.eval()
    path = tmp_path / "cnn.npz"
    nn.save(model, path)
    again = nn.load(small_cnn(seed=1), path).eval()
    assert list(again.state_dict()) == list(model.state_dict())
    assert "1.running_var" in again.state_dict() and again.state_dict()["0.weight"].shape == (3, 1, 3, 3)
    with ag.no_grad():
        np.testing.assert_array_equal(again(x).numpy(), model(x).numpy())
    wrong = nn.Sequential(nn.Conv2d(1, 5, 3, padding=1, bias=False), *list(small_cnn())[1:])
    with pytest.raises(ValueError, match=r"'0.weight' has shape \(3, 1, 3, 3\) in the dict but \(5, 1, 3, 3\)"):
        nn.load(wrong, path)


def test_cnn_graph_draws_in_both_notations():
    model = small_cnn()
    x = Tensor(np.random.default_rng(4).normal(size=(2, 1, 6, 6)), name="x")
    loss = nn.softmax_cross_entropy(model(x), np.array([1, 0]))
    values = ag.draw_graph(loss).source
    for op in ("conv2d", "batch_norm", "max_pool2d", "avg_pool2d", "reshape", "dense"):
        assert f"label={op}" in values  # each op labels the edge into its value
    assert 'label="x\\n(2, 1, 6, 6)"' in values
    assert "conv2d(x, 0.weight)" in values  # parameters drawn by their names in the model
    ops = ag.draw_graph(loss, labels="ops", show_grad=True).source
    for op in ("conv2d", "max_pool2d", "avg_pool2d"):
        assert f"label={op}]" in ops
    assert "(3, 1, 3, 3)\\nrequires grad\\ngrad (3, 1, 3, 3) in" in ops
