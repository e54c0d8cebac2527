"""Layer normalisation: every example normalised over its own last axes, with no batch statistics.

For ``x`` of shape ``(..., *normalized_shape)``, over the last ``len(normalized_shape)`` axes::

    μ = mean(x)        σ² = mean((x − μ)²)      (biased variance)
    x̂ = (x − μ) / √(σ² + ε)                     y = w ⊙ x̂ + b

and the vector-Jacobian product the fused op computes in one pass (BatchNorm's, over the
other axes)::

    dx = (1/√(σ² + ε)) (ĝ − mean(ĝ) − x̂ mean(ĝ ⊙ x̂)),  ĝ = w ⊙ g     dw = Σ g ⊙ x̂     db = Σ g

(``dw`` and ``db`` summed over the leading axes). The same in train and eval mode: there are
no running statistics.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from autograd_core import Function, Tensor
from autograd_core._checks import check_bool, check_real
from autograd_core.ops.elementwise import tangent_sum

from .batchnorm import _normalise, normalise_onnx
from .module import Module, Parameter, layer_input, positive_int

if TYPE_CHECKING:
    from autograd_core.onnx import OnnxBuilder

__all__ = ["LayerNorm", "LayerNormFn", "layer_norm"]


class LayerNormFn(Function):
    """Layer norm as one op (see the module docstring for the maths). Inputs ``x``, ``weight``,
    ``bias`` (the number 1.0 and 0.0 without the affine part); keywords ``eps`` and ``axes``,
    the normalised axes (the last ones). Under ``create_graph`` the backward recomputes ``x̂``
    from the Tensor ``x`` so that second derivatives are exact."""

    name = "layer_norm"
    saves_output = False

    def forward(self, x, weight, bias, eps, axes):
        self.eps, self.axes = eps, axes
        mean = x.mean(axis=axes, keepdims=True)
        xc = x - mean
        var = np.mean(xc * xc, axis=axes, keepdims=True)
        var += eps
        inv = 1 / np.sqrt(var)
        xhat = xc
        xhat *= inv
        self.saved = (xhat, inv)
        return xhat * weight + bias

    def backward(self, g, out, x, weight, bias):
        axes = self.axes
        if type(x) is np.ndarray:
            xhat, inv = self.saved
        else:  # create_graph: x is a Tensor; recompute x̂ from it so that it is differentiated too
            xhat, inv = _normalise(x, self.eps, axes)
        gx = gw = gb = None
        if self.needs(0):
            gh = g * weight
            gx = inv * (gh - gh.mean(axis=axes, keepdims=True) - xhat * (gh * xhat).mean(axis=axes, keepdims=True))
        if self.needs(1):
            gw = g * xhat  # the engine sums it over the leading axes, to the weight's shape
        if self.needs(2):
            gb = g
        return gx, gw, gb

    def jvp(self, ds, out, x, weight, bias):
        # ẋ̂ = (ẋ - mean(ẋ) - x̂ mean(ẋ x̂)) / √(σ² + ε): the VJP's formula (the map is self-adjoint)
        axes = self.axes
        dx, dw, db = ds
        xhat, inv = self.saved if type(x) is np.ndarray else _normalise(x, self.eps, axes)
        dxhat = None
        if dx is not None:
            dxhat = inv * (dx - dx.mean(axis=axes, keepdims=True) - xhat * (dx * xhat).mean(axis=axes, keepdims=True))
        return tangent_sum(None if dxhat is None else dxhat * weight, None if dw is None else xhat * dw, db)

    def to_onnx(self, builder: OnnxBuilder, inputs: list[str], output: str) -> None:
        # the maths (onnxruntime fuses it into its layer norm kernel): ONNX's LayerNormalization
        # needs opset 17 and computes its statistics in float32 by default
        b, dt = builder, builder.dtype(output)
        x, weight, bias = (b.cast(v, dt) for v in inputs)
        steps = [(op, v) for op, v, number in (("Mul", weight, 1), ("Add", bias, 0)) if not _is(b, v, number)]
        y = normalise_onnx(b, x, self.eps, list(self.axes), dt, out=None if steps else output)
        for k, (op_type, v) in enumerate(steps):
            y = b.op(op_type, y, v, out=output if k == len(steps) - 1 else None)


def _is(b: OnnxBuilder, name: str, number: float) -> bool:
    """Whether ``name`` is the number ``number`` (LayerNorm's weight and bias without the affine part)."""
    value = b.constant(name)
    return value is not None and value.ndim == 0 and value == number


def layer_norm(
    x: Any,
    normalized_shape: int | tuple[int, ...],
    weight: Any = None,
    bias: Any = None,
    eps: float = 1e-5,
    fused: bool = True,
) -> Tensor:
    """Normalise ``x`` over its last axes (those of ``normalized_shape``), then ``w ⊙ x̂ + b``.

    ``fused=True`` runs :class:`LayerNormFn` (one node, one-pass backward); ``fused=False``
    builds the same function from primitive ops (the reference the fused op is tested against).

    >>> y = layer_norm(np.array([[1.0, 3.0], [0.0, 10.0]]), 2)
    >>> np.round(y.numpy(), 3)
    array([[-1.,  1.],
           [-1.,  1.]])
    """
    shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else tuple(normalized_shape)
    axes = tuple(range(-len(shape), 0))
    if fused:
        return LayerNormFn.apply(
            x, 1.0 if weight is None else weight, 0.0 if bias is None else bias, eps=float(eps), axes=axes
        )
    x = x if isinstance(x, Tensor) else Tensor(x)
    y, _ = _normalise(x, eps, axes)
    if weight is not None:
        y = y * weight
    return y if bias is None else y + bias


class LayerNorm(Module):
    """Layer normalisation (PyTorch's ``nn.LayerNorm``): each example is normalised over its last
    axes, those of ``normalized_shape`` (an int for the last axis alone), with its own mean and
    biased variance, then scaled by ``weight`` (ones) and shifted by ``bias`` (zeros), both of
    shape ``normalized_shape``; ``elementwise_affine=False`` has neither (``bias=False``: no
    bias). Train and eval mode compute the same thing.

    >>> norm = LayerNorm(4)
    >>> y = norm(np.array([[1.0, 2.0, 3.0, 4.0]]))
    >>> np.round(y.numpy(), 4)
    array([[-1.3416, -0.4472,  0.4472,  1.3416]])
    """

    def __init__(
        self,
        normalized_shape: int | tuple[int, ...],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else tuple(normalized_shape)
        if not shape:
            raise ValueError("LayerNorm: normalized_shape must name at least one axis, got ()")
        self.normalized_shape = tuple(positive_int(n, "normalized_shape", "LayerNorm") for n in shape)
        self.eps = check_real(eps, "eps", "LayerNorm", low=0, low_open=True)
        self.elementwise_affine = check_bool(elementwise_affine, "elementwise_affine", "LayerNorm")
        dtype = self._dtype = np.dtype(dtype or np.float64)
        affine = self.elementwise_affine
        self.weight = Parameter(np.ones(self.normalized_shape), dtype=dtype) if affine else None
        self.bias = Parameter(np.zeros(self.normalized_shape), dtype=dtype) if affine and bias else None

    def forward(self, x: Any) -> Tensor:
        shape = x.shape if isinstance(x, (Tensor, np.ndarray)) else np.shape(x)
        k = len(self.normalized_shape)
        if tuple(shape[len(shape) - k :]) != self.normalized_shape or len(shape) < k:
            raise ValueError(
                f"{self._where()}: input of shape {tuple(shape)}; its last {k} ax{'is' if k == 1 else 'es'} must be "
                f"{self.normalized_shape}, the shape normalised over"
            )
        x = layer_input(x, self._dtype if self.weight is None else self.weight.dtype, self._where())
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def _where(self) -> str:
        shape = self.normalized_shape[0] if len(self.normalized_shape) == 1 else self.normalized_shape
        return f"LayerNorm({shape})"

    def extra_repr(self) -> str:
        shape = self.normalized_shape[0] if len(self.normalized_shape) == 1 else self.normalized_shape
        text = f"{shape}"
        if self.eps != 1e-5:
            text += f", eps={self.eps:g}"
        if not self.elementwise_affine:
            text += ", elementwise_affine=False"
        elif self.bias is None:
            text += ", bias=False"
        return text
