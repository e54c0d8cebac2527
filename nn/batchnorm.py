"""Batch normalisation: the layer, the fused op it uses, and the same maths from primitives.

For a batch ``x`` of shape ``(m, features)``, per feature::

    μ = mean(x)            σ² = mean((x - μ)²)          (biased variance)
    x̂ = (x - μ) / √(σ² + ε)                              y = γ x̂ + β

and the vector-Jacobian product the fused op computes in one pass::

    dβ = Σ g        dγ = Σ g x̂        dx = (1/√(σ² + ε)) (ĝ - mean(ĝ) - x̂ mean(ĝ x̂)),  ĝ = γ g

In eval mode the running statistics ``μᵣ``, ``σᵣ²`` are constants, so the layer is an
affine map per feature, ``y = γ (x - μᵣ) / √(σᵣ² + ε) + β``, with the VJP::

    dx = g γ / √(σᵣ² + ε)        dγ = Σ g (x - μᵣ) / √(σᵣ² + ε)        dβ = Σ g
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autograd_core import Function, Tensor

from .module import Module, Parameter, layer_input

__all__ = ["BatchNorm", "batch_norm", "batch_norm_eval"]


def _normalise(x: Any, eps: float) -> tuple[Any, Any]:
    """``(x̂, 1/√(σ² + ε))`` with batch statistics; on arrays, or on Tensors (then recorded)."""
    xc = x - x.mean(axis=0, keepdims=True)
    inv = ((xc * xc).mean(axis=0, keepdims=True) + eps) ** -0.5
    return xc * inv, inv


def _batch_stats(x: np.ndarray, eps: float) -> tuple[np.ndarray, ...]:
    """Batch mean, biased variance, ``x̂`` and ``1/√(σ² + ε)`` of an array, in one pass over ``x``."""
    mean = x.mean(axis=0)
    xc = x - mean
    var = np.einsum("ij,ij->j", xc, xc) / x.shape[0]
    inv = 1.0 / np.sqrt(var + eps)
    return mean, var, xc * inv, inv


class BatchNormFn(Function):
    """Training-mode batch norm as one op (see the module docstring for the maths).

    The caller normalises ``x`` once with :func:`_batch_stats` (it also needs the batch
    statistics for the running averages) and passes ``xhat`` and ``inv``; the forward
    only scales and shifts. Under ``create_graph`` the backward recomputes x̂ from the
    Tensor ``x`` so that second derivatives are exact.
    """

    name = "batch_norm"

    def forward(self, x, gamma, beta, xhat, inv, eps):
        self.eps = eps
        self.saved = (xhat, inv)
        return xhat * gamma + beta

    def backward(self, g, out, x, gamma, beta):
        if type(x) is np.ndarray:
            xhat, inv = self.saved
        else:  # create_graph: x is a Tensor; recompute x̂ from it so it is differentiated too
            xhat, inv = _normalise(x, self.eps)
        gx = ggamma = gbeta = None
        if self.needs(0):
            gh = g * gamma
            gx = inv * (gh - gh.mean(axis=0, keepdims=True) - xhat * (gh * xhat).mean(axis=0, keepdims=True))
        if self.needs(1):
            ggamma = (g * xhat).sum(axis=0)
        if self.needs(2):
            gbeta = g.sum(axis=0)
        return gx, ggamma, gbeta


def batch_norm(x: Any, gamma: Any, beta: Any, eps: float = 1e-5, fused: bool = True) -> Tensor:
    """Normalise ``x`` (shape ``(batch, features)``) with its batch statistics, then ``γ x̂ + β``.

    ``fused=True`` runs :class:`BatchNormFn` (one node, one-pass backward);
    ``fused=False`` builds the same function from primitive ops (the reference the
    fused op is tested against).

    >>> y = batch_norm(np.array([[1.0], [3.0]]), np.ones(1), np.zeros(1))
    >>> np.round(y.numpy(), 3)
    array([[-1.],
           [ 1.]])
    """
    if fused:
        data = x.data if isinstance(x, Tensor) else np.asarray(x, dtype=float)
        _, _, xhat, inv = _batch_stats(data, eps)
        return BatchNormFn.apply(x, gamma, beta, xhat=xhat, inv=inv, eps=eps)
    x = x if isinstance(x, Tensor) else Tensor(x)
    xhat, _ = _normalise(x, eps)
    return xhat * gamma + beta


class BatchNormEvalFn(Function):
    """Eval-mode batch norm as one op: ``γ (x - μᵣ) / √(σᵣ² + ε) + β`` with constant running statistics.

    Inputs ``x, gamma, beta, running_mean, running_var``; the running statistics are plain
    arrays (never differentiated). One node, which ONNX export turns into a
    ``BatchNormalization``. The VJP is written with operators on ``gamma`` and ``x``, so
    under ``create_graph`` it is recorded and second derivatives are exact.
    """

    name = "batch_norm_eval"

    def forward(self, x, gamma, beta, mean, var, eps):
        self.eps = eps
        scale = gamma / np.sqrt(var + eps)
        return x * scale + (beta - mean * scale)

    def backward(self, g, out, x, gamma, beta, mean, var):
        inv = 1.0 / np.sqrt(var + self.eps)  # a constant: the running variance is not differentiated
        gx = g * (gamma * inv) if self.needs(0) else None
        ggamma = g * ((x - mean) * inv) if self.needs(1) else None  # the engine sums over the batch
        gbeta = g if self.needs(2) else None
        return gx, ggamma, gbeta, None, None


def batch_norm_eval(
    x: Any, gamma: Any, beta: Any, running_mean: Any, running_var: Any, eps: float = 1e-5, fused: bool = True
) -> Tensor:
    """``γ (x - μᵣ) / √(σᵣ² + ε) + β`` with given (running) statistics: BatchNorm's eval mode.

    ``fused=True`` records one :class:`BatchNormEvalFn` node; ``fused=False`` builds the
    same function from primitive ops (the reference the fused op is tested against).

    >>> y = batch_norm_eval(np.array([[1.0], [3.0]]), np.ones(1), np.zeros(1), np.array([1.0]), np.array([4.0]))
    >>> np.round(y.numpy(), 3)
    array([[0.],
           [1.]])
    """
    mean = running_mean.data if isinstance(running_mean, Tensor) else np.asarray(running_mean)
    var = running_var.data if isinstance(running_var, Tensor) else np.asarray(running_var)
    if fused:
        return BatchNormEvalFn.apply(x, gamma, beta, mean, var, eps=eps)
    x = x if isinstance(x, Tensor) else Tensor(x)
    scale = gamma * (var + eps) ** -0.5
    return x * scale + (beta - mean * scale)


class BatchNorm(Module):
    """Batch normalisation of ``(batch, num_features)`` inputs, with learnable ``gamma``
    (ones) and ``beta`` (zeros).

    Training mode: each feature is normalised with the batch's mean and biased
    variance, ``x̂ = (x - μ) / √(σ² + ε)``, then ``y = gamma * x̂ + beta``; and the running
    averages are updated::

        running_mean = momentum * running_mean + (1 - momentum) * μ
        running_var  = momentum * running_var  + (1 - momentum) * σ²

    Eval mode uses ``running_mean`` and ``running_var`` instead (and leaves them alone),
    so any batch, even one example, can be predicted. They are buffers: part of
    ``state_dict`` but not of ``parameters()``.

    ``momentum`` is the weight of the *old* average (the lecture's β = 0.9). PyTorch's
    ``momentum`` is the weight of the *new* batch: our ``momentum=0.9`` is PyTorch's
    ``momentum=0.1``. (PyTorch also feeds the unbiased batch variance to its running
    average; we use the biased one, the same σ² as the normalisation.)

    A batch of one example cannot be normalised in training mode (its variance is 0)
    and is an error; call ``model.eval()`` to predict single examples.

    >>> bn = BatchNorm(3)
    >>> y = bn(np.random.default_rng(0).normal(size=(8, 3)))   # training: batch statistics
    >>> _ = bn.eval()(np.ones((1, 3)))                         # eval: running statistics
    """

    def __init__(self, num_features: int, momentum: float = 0.9, eps: float = 1e-5, dtype: Any = None) -> None:
        super().__init__()
        if isinstance(num_features, bool) or not isinstance(num_features, (int, np.integer)) or num_features < 1:
            raise ValueError(f"BatchNorm: num_features must be a positive integer, got {num_features!r}")
        if not 0 <= momentum <= 1:
            raise ValueError(
                f"BatchNorm: momentum is the weight of the old running average and must be in [0, 1] "
                f"(0.9 is usual; PyTorch's 0.1 is our 0.9), got {momentum!r}"
            )
        if not eps > 0:
            raise ValueError(f"BatchNorm: eps must be positive, got {eps!r}")
        self.num_features = int(num_features)
        self.momentum = float(momentum)
        self.eps = float(eps)
        dtype = np.dtype(dtype or np.float64)
        self.gamma = Parameter(np.ones(num_features), dtype=dtype)
        self.beta = Parameter(np.zeros(num_features), dtype=dtype)
        self.register_buffer("running_mean", np.zeros(num_features, dtype=dtype))
        self.register_buffer("running_var", np.ones(num_features, dtype=dtype))

    def _check(self, data: np.ndarray) -> None:
        if data.ndim != 2 or data.shape[1] != self.num_features:
            raise ValueError(
                f"BatchNorm({self.num_features}): input of shape {data.shape}; expected (batch, {self.num_features})"
            )

    def forward(self, x: Any) -> Tensor:
        x = layer_input(x, self.gamma.data.dtype, f"BatchNorm({self.num_features})")
        data = x.data if isinstance(x, Tensor) else x
        self._check(data)
        if not self.training:
            return BatchNormEvalFn.apply(x, self.gamma, self.beta, self.running_mean, self.running_var, eps=self.eps)
        if data.shape[0] < 2:
            raise ValueError(
                f"BatchNorm({self.num_features}): a batch of {data.shape[0]} example in training mode has no "
                "variance to normalise with; train on batches of 2 or more, or call model.eval() to predict "
                "single examples with the running statistics"
            )
        mean, var, xhat, inv = _batch_stats(data, self.eps)
        m = self.momentum
        # In place, so the arrays stay the same objects (state_dict hands out copies).
        self.running_mean *= m
        self.running_mean += (1 - m) * mean
        self.running_var *= m
        self.running_var += (1 - m) * var
        return BatchNormFn.apply(x, self.gamma, self.beta, xhat=xhat, inv=inv, eps=self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_features}, momentum={self.momentum}, eps={self.eps}"
