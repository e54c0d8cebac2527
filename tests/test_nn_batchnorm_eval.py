"""BatchNorm's eval mode as one fused op: values and first and second derivatives against the
same function built from primitive ops."""

from __future__ import annotations

import numpy as np
from hypothesis import given

import autograd_core as ag
import nn
from autograd_core import Tensor
from autograd_core.testing import gradcheck, gradgradcheck
from autograd_core.testing.strategies import shapes, tensors
from nn.batchnorm import BatchNormEvalFn, batch_norm_eval

batches = shapes(min_dims=2, max_dims=2, min_side=1, max_side=5)  # eval mode: a batch of one is fine


def _stats(features: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    gamma, beta = rng.normal(size=features), rng.normal(size=features)
    mean, var = rng.normal(size=features), rng.uniform(0.05, 3.0, size=features)
    return gamma, beta, mean, var


def test_fused_eval_batchnorm_matches_the_primitive_composition():
    rng = np.random.default_rng(1)
    x0 = rng.normal(size=(6, 4))
    gamma0, beta0, mean, var = _stats(4)
    v = rng.normal(size=(6, 4))
    results = []
    for fused in (True, False):
        x, g, b = (Tensor(a, requires_grad=True) for a in (x0, gamma0, beta0))
        y = batch_norm_eval(x, g, b, mean, var, eps=1e-3, fused=fused)
        assert (y.op == "batch_norm_eval") == fused
        results.append((y.numpy(), *(t.numpy() for t in ag.gradients((y * v).sum(), [x, g, b]))))
    for fused_value, reference in zip(*results):
        np.testing.assert_allclose(fused_value, reference, rtol=1e-12, atol=1e-12)
    expected = gamma0 * (x0 - mean) / np.sqrt(var + 1e-3) + beta0
    np.testing.assert_allclose(results[0][0], expected, rtol=1e-12)


@given(x=tensors(shape=batches))
def test_fused_eval_batchnorm_first_and_second_derivatives(x):
    gamma, beta, mean, var = _stats(x.shape[1])
    v = np.random.default_rng(2).normal(size=x.shape)

    def fused(x, gamma, beta):
        return (batch_norm_eval(x, gamma, beta, mean, var) * v).sum()

    def primitive(x, gamma, beta):
        return (batch_norm_eval(x, gamma, beta, mean, var, fused=False) * v).sum()

    assert gradcheck(fused, x, gamma, beta)
    assert gradgradcheck(fused, x, gamma, beta)
    # the second derivatives agree with the primitive version's, not only with finite differences
    hvps = []
    for f in (fused, primitive):
        ts = [Tensor(a, requires_grad=True) for a in (x.data, gamma, beta)]
        grads = ag.gradients(f(*ts), ts, create_graph=True)
        hvps.append(ag.gradients(sum((g * g).sum() for g in grads), ts))
    for a, b in zip(*hvps):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)


def test_batchnorm_layer_in_eval_mode_is_one_node_and_keeps_float32():
    bn = nn.BatchNorm(3, dtype=np.float32)
    bn(np.random.default_rng(3).normal(size=(8, 3)))
    bn.eval()
    x = Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    y = bn(x)
    assert isinstance(y._node, BatchNormEvalFn) and y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32 and bn.gamma.grad.dtype == np.float32
    scale = bn.gamma.data / np.sqrt(bn.running_var + bn.eps)
    np.testing.assert_allclose(x.grad, np.broadcast_to(scale, (2, 3)), rtol=1e-6)
