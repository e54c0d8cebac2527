"""Batch normalisation: the layers, the fused op they use, and the same maths from primitives.

For a batch ``x`` of shape ``(m, features)``, per feature (for images ``(m, channels, h, w)``,
per channel, over the batch, height and width: the same formulas over those axes)::

    μ = mean(x)            σ² = mean((x - μ)²)          (biased variance)
    x̂ = (x - μ) / √(σ² + ε)                              y = γ x̂ + β

and the vector-Jacobian product the fused op computes in one pass::

    dβ = Σ g        dγ = Σ g x̂        dx = (1/√(σ² + ε)) (ĝ - mean(ĝ) - x̂ mean(ĝ x̂)),  ĝ = γ g
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from autograd_core import Function, Tensor, tracing
from autograd_core import versions as _versions
from autograd_core._checks import check_real
from autograd_core.ops.elementwise import tangent_sum

from .module import Module, Parameter, layer_input, positive_int

if TYPE_CHECKING:
    from autograd_core.onnx import OnnxBuilder

__all__ = ["BatchNorm", "BatchNorm2d", "batch_norm", "batch_norm_eval"]


def _normalise(x: Any, eps: float, axes: tuple[int, ...] = (0,)) -> tuple[Any, Any]:
    """``(x̂, 1/√(σ² + ε))`` with the statistics over ``axes``; on arrays, or on Tensors (then recorded)."""
    xc = x - x.mean(axis=axes, keepdims=True)
    inv = ((xc * xc).mean(axis=axes, keepdims=True) + eps) ** -0.5
    return xc * inv, inv


def normalise_onnx(b: OnnxBuilder, x: str, eps: float, axes: list[int], dt: np.dtype, out: str | None = None) -> str:
    """``x̂ = (x − μ) · 1/√(σ² + ε)`` with the statistics over ``axes``, in ONNX, as :func:`_normalise`
    computes it (the batch's own statistics here, each example's in LayerNorm); into ``out`` if given."""
    xc = b.op("Sub", x, b.reduce("ReduceMean", x, axes, keepdims=True))
    var = b.reduce("ReduceMean", b.op("Mul", xc, xc), axes, keepdims=True)
    inv = b.op("Reciprocal", b.op("Sqrt", b.op("Add", var, b.const(eps, dt, name="eps"))))
    return b.op("Mul", xc, inv, out=out)


def _kept(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...] | None:
    """The shape per-feature arrays take to broadcast against ``shape`` (1 on the ``axes``); None
    when they broadcast as they are (the statistics are over the leading axes, as for ``(batch, features)``)."""
    if axes == tuple(range(len(axes))):
        return None
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _per_feature(p: Any, kept: tuple[int, ...] | None) -> Any:
    """A per-feature array (or Tensor) shaped to broadcast against the input (images: ``(1, C, 1, 1)``)."""
    return p if kept is None else p.reshape(kept)


def _batch_stats(x: np.ndarray, eps: float, axes: tuple[int, ...] = (0,)) -> tuple[np.ndarray, ...]:
    """Mean and biased variance over ``axes`` (one per feature), ``x̂`` and ``1/√(σ² + ε)`` of an
    array, in one pass over ``x``."""
    if x.ndim == 2 and axes == (0,):  # (batch, features), the commonest: kept lean
        mean = x.mean(axis=0)
        xc = x - mean
        var = np.einsum("ij,ij->j", xc, xc) / x.shape[0]
        inv = 1.0 / np.sqrt(var + eps)
        return mean, var, xc * inv, inv
    kept = _kept(x.shape, axes)
    mean = x.mean(axis=axes)
    xc = x - _per_feature(mean, kept)
    axis_letters = "abcdefgh"[: x.ndim]
    feature_letters = "".join(a for i, a in enumerate(axis_letters) if i not in axes)
    var = np.einsum(f"{axis_letters},{axis_letters}->{feature_letters}", xc, xc) / (x.size // max(mean.size, 1))
    inv = _per_feature(1.0 / np.sqrt(var + eps), kept)
    return mean, var, xc * inv, inv


class BatchNormFn(Function):
    """Training-mode batch norm as one op (see the module docstring for the maths).

    The caller normalises ``x`` once with :func:`_batch_stats` (it also needs the batch
    statistics for the running averages) and passes ``xhat`` and ``inv``; the forward
    only scales and shifts. Under ``create_graph`` the backward recomputes x̂ from the
    Tensor ``x`` so that second derivatives are exact. The statistics are taken over
    ``axes``: ``(0,)`` for ``(batch, features)``, ``(0, 2, 3)`` for images.
    """

    saves_output = False

    name = "batch_norm"

    def forward(self, x, gamma, beta, xhat, inv, eps, axes=(0,)):
        self.eps, self.axes, self.kept = eps, axes, _kept(x.shape, axes)
        self.saved = (xhat, inv)
        return xhat * _per_feature(gamma, self.kept) + _per_feature(beta, self.kept)

    def backward(self, g, out, x, gamma, beta):
        axes = self.axes
        if type(x) is np.ndarray:
            xhat, inv = self.saved
        else:  # create_graph: x is a Tensor; recompute x̂ from it so it is differentiated too
            xhat, inv = _normalise(x, self.eps, axes)
        gx = ggamma = gbeta = None
        if self.needs(0):
            gh = g * _per_feature(gamma, self.kept)
            gx = inv * (gh - gh.mean(axis=axes, keepdims=True) - xhat * (gh * xhat).mean(axis=axes, keepdims=True))
        if self.needs(1):
            ggamma = (g * xhat).sum(axis=axes)
        if self.needs(2):
            gbeta = g.sum(axis=axes)
        return gx, ggamma, gbeta

    def jvp(self, ds, out, x, gamma, beta):
        # ẋ̂ = (ẋ - mean(ẋ) - x̂ mean(ẋ x̂)) / √(σ² + ε): the VJP's formula (the map is self-adjoint)
        axes, kept = self.axes, self.kept
        dx, dgamma, dbeta = ds
        xhat, inv = self.saved if type(x) is np.ndarray else _normalise(x, self.eps, axes)
        dxhat = None
        if dx is not None:
            dxhat = inv * (dx - dx.mean(axis=axes, keepdims=True) - xhat * (dx * xhat).mean(axis=axes, keepdims=True))
        return tangent_sum(
            None if dxhat is None else dxhat * _per_feature(gamma, kept),
            None if dgamma is None else xhat * _per_feature(dgamma, kept),
            None if dbeta is None else _per_feature(dbeta, kept),
        )

    def to_onnx(self, builder: OnnxBuilder, inputs: list[str], output: str) -> None:
        # normalised with the batch's own statistics, which BatchNormalization cannot do in inference
        b, dt = builder, builder.dtype(output)
        x, gamma, beta = (b.cast(v, dt) for v in inputs)
        axes = list(self.axes)
        if self.kept is not None:  # per channel of an image: (C,) → (1, C, 1, 1), keeping the batch axis symbolic
            shape = b.const(np.array([1 if i in self.axes else -1 for i in range(len(self.kept))], dtype=np.int64))
            gamma, beta = b.op("Reshape", gamma, shape), b.op("Reshape", beta, shape)
        b.op("Add", b.op("Mul", normalise_onnx(b, x, self.eps, axes, dt), gamma), beta, out=output)


def batch_norm(
    x: Any, gamma: Any, beta: Any, eps: float = 1e-5, fused: bool = True, axes: tuple[int, ...] = (0,)
) -> Tensor:
    """Normalise ``x`` with its batch statistics over ``axes``, then ``γ x̂ + β``.

    ``axes=(0,)`` for ``x`` of shape ``(batch, features)``; ``axes=(0, 2, 3)`` for images
    ``(batch, channels, height, width)``, normalised per channel (``γ``, ``β`` of shape ``(channels,)``).
    ``fused=True`` runs :class:`BatchNormFn` (one node, one-pass backward);
    ``fused=False`` builds the same function from primitive ops (the reference the
    fused op is tested against).

    >>> y = batch_norm(np.array([[1.0], [3.0]]), np.ones(1), np.zeros(1))
    >>> np.round(y.numpy(), 3)
    array([[-1.],
           [ 1.]])
    """
    axes = tuple(axes)
    if fused:
        data = x.data if isinstance(x, Tensor) else np.asarray(x, dtype=float)
        _, _, xhat, inv = tracing.effect(_batch_stats, data, eps, axes)  # (computed from x's values)
        return BatchNormFn.apply(x, gamma, beta, xhat=xhat, inv=inv, eps=eps, axes=axes)
    x = x if isinstance(x, Tensor) else Tensor(x)
    xhat, _ = _normalise(x, eps, axes)
    kept = _kept(x.shape, axes)
    return xhat * _per_feature(gamma, kept) + _per_feature(beta, kept)


class BatchNormEvalFn(Function):
    """Eval-mode batch norm as one op: ``γ (x - μᵣ) / √(σᵣ² + ε) + β`` with constant running
    statistics, per feature over ``axes`` (as :class:`BatchNormFn`).

    Inputs ``x, gamma, beta, running_mean, running_var``, the last four of shape
    ``(features,)``; the running statistics are plain arrays, never differentiated. One node,
    which ONNX export turns into a ``BatchNormalization``. The VJP is written with operators,
    so under ``create_graph`` it is recorded and second derivatives are exact.
    """

    name = "batch_norm_eval"
    saves_output = False

    def forward(self, x, gamma, beta, mean, var, eps, axes=(0,)):
        self.eps, self.axes, self.kept = eps, axes, _kept(x.shape, axes)
        scale = gamma / np.sqrt(var + eps)
        return x * _per_feature(scale, self.kept) + _per_feature(beta - mean * scale, self.kept)

    def backward(self, g, out, x, gamma, beta, mean, var):
        kept, axes = self.kept, self.axes
        inv = _per_feature(1.0 / np.sqrt(var + self.eps), kept)  # a constant: σᵣ² is not differentiated
        gx = g * (_per_feature(gamma, kept) * inv) if self.needs(0) else None
        ggamma = (g * ((x - _per_feature(mean, kept)) * inv)).sum(axis=axes) if self.needs(1) else None
        gbeta = g.sum(axis=axes) if self.needs(2) else None
        return gx, ggamma, gbeta, None, None

    def jvp(self, ds, out, x, gamma, beta, mean, var):
        kept = self.kept  # the running statistics are constants, as in the VJP
        inv = _per_feature(1.0 / np.sqrt(var + self.eps), kept)
        dx, dgamma, dbeta = ds[:3]
        return tangent_sum(
            None if dx is None else dx * (_per_feature(gamma, kept) * inv),
            None if dgamma is None else _per_feature(dgamma, kept) * ((x - _per_feature(mean, kept)) * inv),
            None if dbeta is None else _per_feature(dbeta, kept),
        )

    def to_onnx(self, builder: OnnxBuilder, inputs: list[str], output: str) -> None:
        b, dt = builder, builder.dtype(output)
        x, gamma, beta, mean, var = (b.cast(v, dt) for v in inputs)
        ndim = len(b.dims(inputs[0]))
        if ndim < 2 or tuple(self.axes) != (0, *range(2, ndim)):  # the features are not on ONNX's channel axis, 1
            if self.kept is not None:
                raise NotImplementedError(
                    f"export_onnx: {b.current}: batch norm over axes {tuple(self.axes)} of a {ndim}-D input has no "
                    "ONNX form: BatchNormalization keeps axis 1 (the channels); move the features there (transpose)"
                )
            # statistics that broadcast as they are (over the leading axes): our maths, elementwise
            scale = b.op("Div", gamma, b.op("Sqrt", b.op("Add", var, b.const(self.eps, dt, name="eps"))))
            shift = b.op("Sub", beta, b.op("Mul", mean, scale))
            b.op("Add", b.op("Mul", x, scale), shift, out=output)
            return
        # BatchNormalization's epsilon is a float32 attribute; in float64 the rest of ε goes into the variance
        eps32 = float(np.float32(self.eps))
        if dt == np.float64 and eps32 != self.eps:
            rest = self.eps - eps32
            stored = b.constant(var)
            if stored is not None:  # e.g. "1.running_var+2.5e-13"
                var = b.const(stored + rest, dt, name=f"{var}{rest:+.2g}")
            else:
                var = b.op("Add", var, b.const(rest, dt, name="eps"))
        b.op("BatchNormalization", x, gamma, beta, mean, var, out=output, epsilon=eps32)


def batch_norm_eval(
    x: Any,
    gamma: Any,
    beta: Any,
    running_mean: Any,
    running_var: Any,
    eps: float = 1e-5,
    fused: bool = True,
    axes: tuple[int, ...] = (0,),
) -> Tensor:
    """``γ (x - μᵣ) / √(σᵣ² + ε) + β`` with given (running) statistics over ``axes``: BatchNorm's eval mode.

    ``fused=True`` records one :class:`BatchNormEvalFn` node; ``fused=False`` builds the
    same function from primitive ops (the reference the fused op is tested against).

    >>> y = batch_norm_eval(np.array([[1.0], [3.0]]), np.ones(1), np.zeros(1), np.array([1.0]), np.array([4.0]))
    >>> np.round(y.numpy(), 3)
    array([[0.],
           [1.]])
    """
    axes = tuple(axes)
    mean = running_mean.data if isinstance(running_mean, Tensor) else np.asarray(running_mean)
    var = running_var.data if isinstance(running_var, Tensor) else np.asarray(running_var)
    if fused:
        return BatchNormEvalFn.apply(x, gamma, beta, mean, var, eps=eps, axes=axes)
    x = x if isinstance(x, Tensor) else Tensor(x)
    kept = _kept(x.shape, axes)
    scale = gamma * (var + eps) ** -0.5
    return x * _per_feature(scale, kept) + _per_feature(beta - mean * scale, kept)


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

    ``momentum`` is the weight of the *old* average (β = 0.9 in the deep-learning course). PyTorch's
    ``momentum`` is the weight of the *new* batch: our ``momentum=0.9`` is PyTorch's
    ``momentum=0.1``. (PyTorch also feeds the unbiased batch variance to its running
    average; we use the biased one, the same σ² as the normalisation.)

    A batch of one example cannot be normalised in training mode (its variance is 0)
    and is an error; call ``model.eval()`` to predict single examples.

    >>> bn = BatchNorm(3)
    >>> y = bn(np.random.default_rng(0).normal(size=(8, 3)))   # training: batch statistics
    >>> _ = bn.eval()(np.ones((1, 3)))                         # eval: running statistics
    """

    #: The axes the statistics are taken over (one statistic per remaining feature).
    _axes: tuple[int, ...] = (0,)

    def __init__(self, num_features: int, momentum: float = 0.9, eps: float = 1e-5, dtype: Any = None) -> None:
        super().__init__()
        name = type(self).__name__
        positive_int(num_features, "channels" if self._axes != (0,) else "num_features", name)
        meaning = "the weight of the old running average"
        expected = "in [0, 1] (0.9 is usual; PyTorch's 0.1 is our 0.9)"
        self.momentum = check_real(momentum, "momentum", name, low=0, high=1, meaning=meaning, expected=expected)
        self.eps = check_real(eps, "eps", name, low=0, low_open=True)
        self.num_features = int(num_features)
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
        x = layer_input(x, self.gamma.data.dtype, f"{type(self).__name__}({self.num_features})")
        data = x.data if isinstance(x, Tensor) else x
        self._check(data)
        if not self.training:
            return BatchNormEvalFn.apply(
                x, self.gamma, self.beta, self.running_mean, self.running_var, eps=self.eps, axes=self._axes
            )
        if data.size // self.num_features < 2:
            where = f"{type(self).__name__}({self.num_features})"
            raise ValueError(
                f"{where}: a batch of {data.shape[0]} example in training mode has no "
                "variance to normalise with; train on batches of 2 or more, or call model.eval() to predict "
                "single examples with the running statistics"
            )
        # Both are computed from x's values and the second changes state: effects (``ag.effect``), which a
        # compiled program makes again at every call; outside ag.compile they are the plain calls.
        mean, var, xhat, inv = tracing.effect(_batch_stats, data, self.eps, self._axes)
        tracing.effect(self._update_running, mean, var)
        return BatchNormFn.apply(x, self.gamma, self.beta, xhat=xhat, inv=inv, eps=self.eps, axes=self._axes)

    def _update_running(self, mean: np.ndarray, var: np.ndarray) -> None:
        """``running = momentum · running + (1 − momentum) · batch statistic``, in place (the arrays stay the
        same objects: ``state_dict`` hands out copies)."""
        m = self.momentum
        self.running_mean *= m
        self.running_mean += (1 - m) * mean
        self.running_var *= m
        self.running_var += (1 - m) * var
        _versions.bump(self.running_mean)  # an eval-mode graph recorded earlier may have saved them
        _versions.bump(self.running_var)

    def check_state(self, name: str, value: np.ndarray) -> str | None:
        if name == "running_var" and (value < 0).any():
            return "holds negative values; a variance is never negative"
        return None

    def extra_repr(self) -> str:
        return f"{self.num_features}, momentum={self.momentum}, eps={self.eps}"


class BatchNorm2d(BatchNorm):
    """Batch normalisation of images ``(batch, channels, height, width)``: per channel, over
    the batch, height and width.

    The same layer as :class:`BatchNorm` (training and eval modes, running averages
    ``running = momentum * running + (1 - momentum) * batch_stat``, ``gamma`` and ``beta``
    of shape ``(channels,)``) with statistics over axes ``(0, 2, 3)``: what a Conv2d's
    output needs (no bias needed before it, as for Dense).

    >>> bn = BatchNorm2d(3)
    >>> y = bn(np.random.default_rng(0).normal(size=(4, 3, 5, 5)))   # training: batch statistics
    >>> np.round(y.numpy().mean(axis=(0, 2, 3)), 6) + 0.0
    array([0., 0., 0.])
    """

    _axes = (0, 2, 3)

    def __init__(self, channels: int, momentum: float = 0.9, eps: float = 1e-5, dtype: Any = None) -> None:
        super().__init__(channels, momentum=momentum, eps=eps, dtype=dtype)

    def _check(self, data: np.ndarray) -> None:
        where = f"BatchNorm2d({self.num_features})"
        if data.ndim != 4:
            hint = "; for a single image use x[None], a batch of one" if data.ndim == 3 else ""
            raise ValueError(
                f"{where}: input of shape {data.shape} is {data.ndim}-D; expected 4-D "
                f"(batch, {self.num_features}, height, width){hint}"
            )
        if data.shape[1] != self.num_features:
            raise ValueError(
                f"{where}: input of shape {data.shape} has {data.shape[1]} channels; expected {self.num_features}"
            )
