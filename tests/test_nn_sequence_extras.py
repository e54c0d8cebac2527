"""What sequence models need around the recurrent layers: LayerNorm, GELU, Identity, the
cross-entropy of sequences with ``ignore_index``, gradient clipping and AdamW.

Each against PyTorch's results saved in ``reference/torch_references.npz`` (within 1e-10,
float64), and against PyTorch live when it is installed; gradients against finite
differences; errors.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import upstream

import nn
import optim
from autograd_core import Tensor
from autograd_core.ops.special import erfc_nonnegative, gelu, normal_cdf
from autograd_core.testing import gradcheck, gradgradcheck


def _load_reference_module() -> Any:
    path = Path(__file__).resolve().parent / "reference" / "make_torch_references.py"
    spec = importlib.util.spec_from_file_location("make_torch_references_extras", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


REF = _load_reference_module()
DATA = np.load(REF.PATH, allow_pickle=False)


def ours(key: str, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The library's answer to case ``key``, in the form ``torch_extra`` gives PyTorch's."""
    if key.startswith("LayerNorm"):
        norm = nn.LayerNorm(arrays["weight"].shape)
        norm.load_state_dict({"weight": arrays["weight"], "bias": arrays["bias"]})
        x = Tensor(arrays["x"], requires_grad=True)
        y = norm(x)
        (y * arrays["g"]).sum().backward()
        return {"y": y.data, "grad/x": x.grad, "grad/weight": norm.weight.grad, "grad/bias": norm.bias.grad}
    if key == "GELU":
        x = Tensor(arrays["x"], requires_grad=True)
        y = nn.GELU()(x)
        (y * arrays["g"]).sum().backward()
        return {"y": y.data, "grad/x": x.grad}
    if key.startswith("cross_entropy"):
        logits = Tensor(arrays["logits"], requires_grad=True)
        ignore = int(arrays["ignore_index"]) if "ignore_index" in arrays else -100
        loss = nn.softmax_cross_entropy(logits, arrays["targets"], ignore_index=ignore)
        loss.backward()
        return {"loss": loss.data, "grad/logits": logits.grad}
    if key.startswith("clip_grad_norm"):
        params = [Tensor(np.zeros(arrays[k].shape), requires_grad=True) for k in ("g0", "g1")]
        for p, k in zip(params, ("g0", "g1")):
            p.grad = arrays[k].copy()
        norm = optim.clip_grad_norm(params, float(arrays["max_norm"]), norm_type=float(key.split("/")[1]))
        assert isinstance(norm, float)
        return {"norm": np.array(norm), "g0": params[0].grad, "g1": params[1].grad}
    if key == "AdamW":
        params = [Tensor(arrays[k], requires_grad=True) for k in ("w0", "w1")]
        opt = optim.AdamW(params, lr=0.05, weight_decay=0.1)
        for step in range(4):
            params[0].grad = arrays[f"g0/{step}"].copy()
            params[1].grad = arrays[f"g1/{step}"].copy()
            opt.step()
        return {"w0": params[0].data, "w1": params[1].data}
    raise KeyError(key)


def assert_same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert sorted(a) == sorted(b)
    for k in b:
        assert np.shape(a[k]) == np.shape(b[k]), k
        np.testing.assert_allclose(a[k], b[k], rtol=0, atol=1e-10, err_msg=k)


@pytest.mark.parametrize("key", REF.EXTRAS)
def test_against_pytorchs_saved_results(key):
    inputs, expected = REF.case(DATA, key)
    assert_same(ours(key, inputs), expected)


@pytest.mark.parametrize("key", REF.EXTRAS)
def test_against_pytorch_live(key):
    pytest.importorskip("torch")
    inputs, expected = REF.case(DATA, key)
    live = REF.torch_extra(key, inputs)
    assert_same(live, expected)
    assert_same(ours(key, inputs), live)


# ============================================================== LayerNorm


@pytest.mark.parametrize("shape", [(5,), (3, 5)])
def test_layer_norm_fused_equals_primitives_and_passes_gradient_checks(shape):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2,) + (3, 5)[-len(shape) :]) * 2 + 1
    w, b = rng.normal(size=shape), rng.normal(size=shape)
    v = upstream(x.shape)
    fused = nn.layer_norm(Tensor(x, requires_grad=True), shape, w, b)
    prim = nn.layer_norm(x, shape, w, b, fused=False)
    assert fused.op == "layer_norm"
    np.testing.assert_allclose(fused.numpy(), prim.numpy(), atol=1e-14)

    def f(x, w, b):
        return (nn.layer_norm(x, shape, w, b) * v).sum()

    assert gradcheck(f, x, w, b)
    assert gradgradcheck(f, x, w, b)
    y = nn.layer_norm(x, shape).numpy()  # no affine part: mean 0 and variance 1 per example
    axes = tuple(range(-len(shape), 0))
    np.testing.assert_allclose(y.mean(axis=axes), 0, atol=1e-14)
    np.testing.assert_allclose(y.var(axis=axes), 1, atol=1e-4)  # ε = 1e-5 in the denominator


def test_layer_norm_module_rules():
    norm = nn.LayerNorm(4)
    assert norm.weight.shape == norm.bias.shape == (4,) and np.all(norm.weight.data == 1)
    assert [n for n, _ in norm.named_parameters()] == ["weight", "bias"]
    assert list(nn.LayerNorm(4, elementwise_affine=False).parameters()) == []
    assert [n for n, _ in nn.LayerNorm(4, bias=False).named_parameters()] == ["weight"]
    x = np.random.default_rng(1).normal(size=(2, 3, 4))
    np.testing.assert_array_equal(norm(x).numpy(), norm.eval()(x).numpy())  # no running statistics
    small = nn.LayerNorm(4, dtype=np.float32)(x)
    assert small.dtype == np.float32
    assert nn.LayerNorm(4, elementwise_affine=False, dtype=np.float32)(x).dtype == np.float32
    assert repr(nn.LayerNorm((3, 4), eps=1e-6)).startswith("LayerNorm((3, 4), eps=1e-06)")
    with pytest.raises(ValueError, match=r"LayerNorm\(4\): input of shape \(2, 5\); its last 1 axis must be \(4,\)"):
        norm(np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"LayerNorm\(\(3, 4\)\): input of shape \(4,\); its last 2 axes"):
        nn.LayerNorm((3, 4))(np.zeros(4))
    with pytest.raises(ValueError, match="LayerNorm: eps must be a positive number"):
        nn.LayerNorm(4, eps=0)


# ============================================================== GELU


def test_gelu_is_exact_against_math_erf_everywhere():
    x = np.concatenate([np.linspace(-40, 40, 8001), [-1e-300, 0.0, 1e-300, 1e308, -1e308]])
    exact = np.array([v * 0.5 * math.erfc(-v / math.sqrt(2)) if abs(v) < 1e300 else (v if v > 0 else -0.0) for v in x])
    got = gelu(x).numpy()
    np.testing.assert_allclose(got, exact, rtol=1e-14, atol=1e-15)
    z = np.linspace(0, 26, 5001)  # erfc itself: absolute 2e-15, relative 2e-13 down to 1e-300
    reference = np.array([math.erfc(v) for v in z])
    np.testing.assert_allclose(erfc_nonnegative(z), reference, rtol=2e-13, atol=0)
    assert round(normal_cdf(1.959963984540054).item(), 12) == 0.975


def test_gelu_derivatives_first_and_second():
    x = np.linspace(-4, 4, 13)
    assert gradcheck(lambda x: gelu(x).sum(), x)
    assert gradgradcheck(lambda x: gelu(x).sum(), x)
    assert gradgradcheck(lambda x: normal_cdf(x).sum(), x)
    t = Tensor(np.float32([1.0, -2.0]))
    assert gelu(t).dtype == np.float32 and nn.GELU()(t).dtype == np.float32


def test_identity_returns_its_input():
    x = Tensor([1.0, 2.0], requires_grad=True)
    assert nn.Identity()(x) is x and nn.Identity(54, unused="argument")(x) is x
    assert list(nn.Identity().parameters()) == []


# ============================================================== cross-entropy of sequences


def test_sequence_cross_entropy_is_the_mean_over_the_steps_that_count():
    rng = np.random.default_rng(2)
    z = rng.normal(size=(2, 3, 4))
    t = np.array([[1, 2, -100], [0, -100, -100]])
    kept = [(0, 0), (0, 1), (1, 0)]
    expected = -np.mean([z[b, s, t[b, s]] - np.log(np.exp(z[b, s]).sum()) for b, s in kept])
    assert nn.softmax_cross_entropy(z, t).item() == pytest.approx(expected, abs=1e-14)
    rows = nn.softmax_cross_entropy(z.reshape(6, 4), t.reshape(6)).item()  # the same as flat rows
    assert rows == pytest.approx(expected, abs=1e-14)
    zt = Tensor(z, requires_grad=True)
    nn.softmax_cross_entropy(zt, t).backward()
    assert np.all(zt.grad[0, 2] == 0) and np.all(zt.grad[1, 1:] == 0)  # ignored steps: no gradient
    probs = np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(zt.grad[0, 0], (probs[0, 0] - np.eye(4)[1]) / 3, atol=1e-14)
    one_hot = np.eye(4)[np.where(t < 0, 0, t)]
    full = nn.softmax_cross_entropy(z, one_hot).item()  # probability rows of (batch, time, classes)
    assert full == pytest.approx(nn.softmax_cross_entropy(z, np.where(t < 0, 0, t)).item(), abs=1e-14)


def test_sequence_cross_entropy_gradients():
    rng = np.random.default_rng(3)
    z = rng.normal(size=(2, 3, 4))
    t = np.array([[3, -100, 0], [-100, 2, 2]])
    assert gradcheck(lambda z: nn.softmax_cross_entropy(z, t), z)
    assert gradgradcheck(lambda z: nn.softmax_cross_entropy(z, t), z)
    t2 = np.where(t < 0, 1, t)
    assert gradcheck(lambda z: nn.softmax_cross_entropy(z, t2, ignore_index=2), z)
    every = Tensor(z, requires_grad=True)
    loss = nn.softmax_cross_entropy(every, np.full((2, 3), -100))  # nothing counts: NaN, as in PyTorch
    loss.backward()
    assert np.isnan(loss.item()) and np.all(every.grad == 0)


def test_sequence_cross_entropy_errors():
    z = np.zeros((2, 3, 4))
    with pytest.raises(ValueError, match=r"label 4 at position \(1, 2\) is out of range for 4 classes"):
        nn.softmax_cross_entropy(z, np.array([[0, 1, 2], [3, 0, 4]]))
    with pytest.raises(ValueError, match=r"label -1 at position \(0, 1\) .*ignore_index=-100 marks a row"):
        nn.softmax_cross_entropy(z, np.array([[0, -1, 2], [3, 0, 1]]))
    with pytest.raises(ValueError, match=r"class indices of shape \(3, 2\) for logits of shape \(2, 3, 4\)"):
        nn.softmax_cross_entropy(z, np.zeros((3, 2), dtype=int))
    with pytest.raises(ValueError, match=r"target rows have shape \(2, 3, 5\) but logits \(2, 3, 4\)"):
        nn.softmax_cross_entropy(z, np.zeros((2, 3, 5)))
    with pytest.raises(ValueError, match="target row \\(1, 0\\) sums to 2.0"):
        rows = np.eye(4)[np.zeros((2, 3), dtype=int)]
        rows[1, 0, 1] = 1
        nn.softmax_cross_entropy(z, rows)
    with pytest.raises(TypeError, match="ignore_index must be an integer"):
        nn.softmax_cross_entropy(z[0], np.array([0, 1, 2]), ignore_index="pad")


# ============================================================== clipping and AdamW


def test_clip_grad_norm_scales_every_gradient_together():
    a = Tensor(np.zeros(2), requires_grad=True)
    b = Tensor(np.zeros(1), requires_grad=True)
    skipped = Tensor(np.zeros(3), requires_grad=True)
    a.grad, b.grad = np.array([3.0, 0.0]), np.array([4.0])
    norm = optim.clip_grad_norm([a, b, skipped], max_norm=1.0)
    assert norm == 5.0 and skipped.grad is None
    np.testing.assert_allclose(np.concatenate([a.grad, b.grad]), np.array([3, 0, 4]) / (5 + 1e-6))
    a.grad = np.array([0.3, 0.4])
    assert optim.clip_grad_norm(a, max_norm=1.0) == pytest.approx(0.5)  # a single tensor; under the limit
    np.testing.assert_array_equal(a.grad, [0.3, 0.4])
    assert optim.clip_grad_norm(a, 1.0, norm_type="inf") == pytest.approx(0.4)
    assert optim.clip_grad_norm([skipped], 1.0) == 0.0  # no gradients at all
    a.grad = np.array([np.inf, 1.0])
    with pytest.raises(RuntimeError, match="total norm of the gradients is inf"):
        optim.clip_grad_norm([a], 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(a.grad, [np.inf, 1.0])  # raised before changing anything
    with pytest.raises(ValueError, match="clip_grad_norm: max_norm must be a non-negative number"):
        optim.clip_grad_norm([a], -1.0)
    with pytest.raises(TypeError, match=r"clip_grad_norm: params\[0\] is a ndarray, not a Tensor"):
        optim.clip_grad_norm([np.zeros(2)], 1.0)


def test_clip_grad_value_clips_in_place():
    a = Tensor(np.zeros(3), requires_grad=True)
    a.grad = np.array([-5.0, 0.5, 7.0])
    kept = a.grad
    optim.clip_grad_value([a], 1.0)
    assert a.grad is kept
    np.testing.assert_array_equal(a.grad, [-1.0, 0.5, 1.0])


def test_adamw_decays_the_weights_apart_from_the_gradient():
    w = Tensor(np.array([2.0, -2.0]), requires_grad=True)
    adam_l2 = Tensor(np.array([2.0, -2.0]), requires_grad=True)
    opt, l2 = optim.AdamW([w], lr=0.1, weight_decay=0.5), optim.Adam([adam_l2], lr=0.1, weight_decay=0.5)
    w.grad = np.array([1.0, 1.0])
    adam_l2.grad = np.array([1.0, 1.0])
    opt.step()
    l2.step()
    np.testing.assert_allclose(w.data, np.array([2.0, -2.0]) * (1 - 0.05) - 0.1, atol=1e-7)  # decay, then a step of lr
    assert not np.allclose(w.data, adam_l2.data)  # Adam's L2 goes through the moments instead
    assert np.array_equal(w.grad, [1.0, 1.0])  # the gradient itself is left alone
    exempt = Tensor(np.array([2.0]), requires_grad=True)
    groups = optim.AdamW([{"params": [exempt], "weight_decay": 0.0}], lr=0.1)
    exempt.grad = np.array([0.0])
    groups.step()
    assert exempt.item() == 2.0
    assert optim.AdamW([w]).param_groups[0]["weight_decay"] == 0.01  # PyTorch's default


def test_adamw_checkpoints_like_every_optimizer(tmp_path):
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    opt = optim.AdamW([w], lr=0.1)
    w.grad = np.array([0.5, -0.5])
    opt.step()
    optim.save(opt, tmp_path / "opt.npz")
    again = optim.AdamW([Tensor(w.data.copy(), requires_grad=True)], lr=0.3)
    optim.load(again, tmp_path / "opt.npz")
    assert again.lr == 0.1 and again.state[0]["step"] == 1
