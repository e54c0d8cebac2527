"""Special functions: the normal distribution's CDF ``Φ`` and GELU, ``x Φ(x)`` (exact, erf-based).

NumPy has no ``erf``, so ``erfc`` is computed here, to about 1e-15 (absolute; relative
1e-13 in the far tail), with the representation of Numerical Recipes' ``erfccheb``:
for ``z ≥ 0``, with ``t = 2 / (2 + z)`` (which maps ``[0, ∞)`` onto ``(0, 1]``)::

    erfc(z) = t · exp(−z² + P(2t − 1))

where ``P`` is a Chebyshev series. Its coefficients are not written down: they are the
Chebyshev interpolant of ``log(erfc(z) / t) + z²`` at 25 points, computed from
``math.erfc`` (and its asymptotic series where ``math.erfc`` underflows) the first time
they are needed. ``Φ(x) = erfc(−x/√2) / 2``, and ``erfc(−z) = 2 − erfc(z)``.

ONNX forms: in float32 ONNX's ``Erf``, ``Φ(x) = (1 + erf(x/√2)) / 2`` (what onnxruntime
fuses into its GELU kernel; its absolute error is about float32's epsilon, but past
``x ≈ −5.5`` it gives 0 where ``Φ`` is below 1e-8); onnxruntime has no double ``Erf``,
so in float64 the graph evaluates the same series as here, to the same accuracy.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.polynomial import chebyshev

from ..function import Function
from ..tensor import Tensor

if TYPE_CHECKING:
    from ..onnx.builder import OnnxBuilder

__all__ = ["Gelu", "NormalCdf", "gelu", "normal_cdf"]

_DEGREE = 24
_coefficients: np.ndarray | None = None
_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)


def _scaled_log_erfc(z: float) -> float:
    """``log(erfc(z)) + z²``: from ``math.erfc``, or past ``z = 25`` (where it would underflow)
    from the asymptotic series ``erfc(z) = e^{−z²} / (z√π) · Σₖ (−1)ᵏ (2k − 1)!! / (2z²)ᵏ``."""
    if z < 25:
        return math.log(math.erfc(z)) + z * z
    term, total = 1.0, 1.0
    for k in range(1, 8):  # at z = 25 the eighth term is below 1e-16
        term *= -(2 * k - 1) / (2 * z * z)
        total += term
    return math.log(total / (z * math.sqrt(math.pi)))


def _erfc_coefficients() -> np.ndarray:
    global _coefficients
    if _coefficients is None:
        k = np.arange(_DEGREE + 1)
        u = np.cos(np.pi * (k + 0.5) / (_DEGREE + 1))  # Chebyshev points of the first kind
        t = (u + 1) / 2
        z = 2 / t - 2
        values = [_scaled_log_erfc(float(zi)) - math.log(ti) for zi, ti in zip(z, t)]
        _coefficients = chebyshev.chebfit(u, values, _DEGREE)
    return _coefficients


def erfc_nonnegative(z: np.ndarray) -> np.ndarray:
    """``erfc(z)`` for an array ``z ≥ 0`` (see the module docstring), in ``z``'s dtype."""
    c = _erfc_coefficients()
    shape = np.shape(z)
    z = np.reshape(z, -1)  # (a 0-d array would give NumPy scalars, which cannot be written into)
    t = 2 / (2 + z)
    u2 = 4 * t - 2  # 2u, u = 2t − 1: Clenshaw's recurrence b_k = c_k + 2u b_{k+1} − b_{k+2}
    b1 = np.full_like(z, c[-1])
    b2 = np.zeros_like(z)
    for ck in c[-2:0:-1]:
        b0 = u2 * b1
        b0 -= b2
        b0 += ck
        b2, b1 = b1, b0
    p = u2 * b1
    p *= 0.5
    p -= b2
    p += c[0]
    with np.errstate(over="ignore"):  # z² overflows past 1e154: exp(−inf) = 0 is erfc's value there
        p -= z * z
    np.exp(p, out=p)
    p *= t
    return p.reshape(shape)


def _floats(x: Any) -> np.ndarray:
    """A number or an integer array as a floating array (a float array as it is)."""
    x = np.asarray(x)
    return x if x.dtype.kind == "f" else x.astype(np.float64)


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    """``Φ(x) = erfc(−x/√2) / 2`` for an array, accurate in both tails."""
    half = erfc_nonnegative(np.abs(x) * _SQRT_HALF)
    half *= 0.5  # Φ(−|x|)
    return np.where(x < 0, half, 1 - half)


def _normal_cdf_onnx(b: OnnxBuilder, x: str, dt: np.dtype, out: str | None = None) -> str:
    """``Φ(x)`` in ONNX (see the module docstring): ``Erf`` in float32, the series otherwise; into
    ``out`` if given."""

    def c(value: float) -> str:
        return b.const(np.array(value, dtype=dt), name="const")

    if dt == np.float32:
        return b.op("Mul", c(0.5), b.op("Add", c(1.0), b.op("Erf", b.op("Mul", x, c(_SQRT_HALF)))), out=out)
    coeffs = _erfc_coefficients()
    z = b.op("Mul", b.op("Abs", x), c(_SQRT_HALF))
    t = b.op("Div", c(2.0), b.op("Add", c(2.0), z))
    u2 = b.op("Sub", b.op("Mul", c(4.0), t), c(2.0))
    b2, b1 = None, c(coeffs[-1])  # Clenshaw's recurrence, as erfc_nonnegative
    for ck in coeffs[-2:0:-1]:
        b0 = b.op("Mul", u2, b1)
        if b2 is not None:
            b0 = b.op("Sub", b0, b2)
        b2, b1 = b1, b.op("Add", b0, c(ck))
    p = b.op("Add", b.op("Sub", b.op("Mul", b.op("Mul", u2, b1), c(0.5)), b2), c(coeffs[0]))
    half = b.op("Mul", b.op("Mul", b.op("Exp", b.op("Sub", p, b.op("Mul", z, z))), t), c(0.5))  # Φ(−|x|)
    return b.op("Where", b.op("Less", x, c(0.0)), half, b.op("Sub", c(1.0), half), out=out)


class NormalCdf(Function):
    """``Φ(x)``, the standard normal distribution's CDF; ``d/dx = φ(x) = e^{−x²/2} / √(2π)``."""

    name = "normal_cdf"
    saves_output = False

    def forward(self, x):
        x = _floats(x)
        return _normal_cdf(x).astype(x.dtype, copy=False)

    def backward(self, g, out, x):
        return g * (np.exp(-0.5 * x * x) * _INV_SQRT_2PI)

    def jvp(self, ds, out, x):
        return ds[0] * (np.exp(-0.5 * x * x) * _INV_SQRT_2PI)

    def to_onnx(self, builder: OnnxBuilder, inputs: list[str], output: str) -> None:
        dt = np.dtype(builder.dtype(output))
        _normal_cdf_onnx(builder, builder.cast(inputs[0], dt), dt, out=output)


class Gelu(Function):
    """GELU, exact: ``x Φ(x)``; ``d/dx = Φ(x) + x φ(x)``. Under ``create_graph`` ``Φ`` is the
    recorded :class:`NormalCdf`, so second derivatives are exact too."""

    saves_output = False

    def forward(self, x):
        x = _floats(x)
        cdf = _normal_cdf(x).astype(x.dtype, copy=False)
        self.saved = cdf
        return x * cdf

    def backward(self, g, out, x):
        cdf = self.saved if type(x) is np.ndarray else NormalCdf.apply(x)
        return g * (cdf + x * (np.exp(-0.5 * x * x) * _INV_SQRT_2PI))

    def jvp(self, ds, out, x):
        cdf = self.saved if type(x) is np.ndarray else NormalCdf.apply(x)
        return ds[0] * (cdf + x * (np.exp(-0.5 * x * x) * _INV_SQRT_2PI))

    def to_onnx(self, builder: OnnxBuilder, inputs: list[str], output: str) -> None:
        dt = np.dtype(builder.dtype(output))
        x = builder.cast(inputs[0], dt)
        builder.op("Mul", x, _normal_cdf_onnx(builder, x, dt), out=output)


def normal_cdf(x: Any) -> Tensor:
    """The standard normal distribution's CDF, ``Φ(x) = (1 + erf(x/√2)) / 2``, differentiable.

    >>> round(normal_cdf(Tensor(1.0)).item(), 10)
    0.8413447461
    """
    return NormalCdf.apply(x)


def gelu(x: Any) -> Tensor:
    """The Gaussian error linear unit, exact (PyTorch's ``approximate="none"``): ``x Φ(x)``.

    >>> gelu(Tensor([-1.0, 0.0, 1.0]))
    Tensor([-0.15865525,  0.        ,  0.84134475])
    """
    return Gelu.apply(x)
