"""Losses: each returns the mean over the batch as a scalar Tensor (NaN for an empty batch:
the mean of nothing, as NumPy's and PyTorch's means give it).

``softmax_cross_entropy`` and ``binary_cross_entropy`` take *logits* (the scores
before softmax/sigmoid) and are fused ops: a stable forward and a one-line derivative.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from autograd_core import Function, Tensor, tracing
from autograd_core._checks import check_int
from autograd_core.ops.elementwise import sigmoid, tangent_sum
from autograd_core.ops.reduce import log_softmax, softmax
from autograd_core.ops.shape import Reshape

if TYPE_CHECKING:
    from autograd_core.onnx import OnnxBuilder

__all__ = ["softmax_cross_entropy", "binary_cross_entropy", "mse"]


def _data(x: Any, what: str) -> np.ndarray:
    if isinstance(x, Tensor):
        return x.data
    arr = x if isinstance(x, np.ndarray) else np.asarray(x)  # (an array as it is: a traced one stays traced)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{what} must be numeric, got dtype {arr.dtype}")
    return arr


def _no_nan(arr: np.ndarray, what: str) -> None:
    if arr.dtype.kind == "f" and np.isnan(arr).any():
        bad = tuple(int(i) for i in np.argwhere(np.isnan(arr))[0])
        raise ValueError(f"{what} contain NaN (first at index {bad}); clean the labels before computing the loss")


# ============================================================== softmax cross-entropy


class SoftmaxCrossEntropy(Function):
    """``-(1/m) Σᵢ Σₖ yᵢₖ log softmax(zᵢ)ₖ`` for logits ``z`` and target rows ``y``.

    Forward: ``log softmax(z) = z - max z - log Σ exp(z - max z)`` (no overflow; a ``-inf``
    logit with target 0 contributes 0). VJP: ``g (softmax(z) Σₖ yₖ - y) / m`` for the logits,
    which is the familiar ``g (softmax(z) - y) / m`` when rows sum to 1 (``one_hot`` says that the
    rows are one-hot or zero, as labels make them: then they do exactly when none is zero, ``count``
    of them), and ``-g log softmax(z) / m`` for the targets. The general form matters
    for second derivatives through targets that require grad: their rows need not sum to 1
    once perturbed.
    """

    saves_output = False

    name = "softmax_cross_entropy"

    def forward(self, z, y, one_hot, count=None):
        self.n = z.shape[0] if count is None else count  # the rows that count (the others have y = 0)
        self.one_hot = one_hot and self.n == z.shape[0]  # (decided here: a compiled program passes the count)
        if not self.n:  # the mean over an empty batch, as NumPy's mean gives it
            self.saved = (z, z)
            return np.array(np.nan, dtype=z.dtype)
        m = z.max(axis=-1, keepdims=True)
        if not np.isfinite(m).all():  # a row of -inf (or +inf): shift by 0 there
            m = np.where(np.isfinite(m), m, 0)
        shifted = z - m
        e = np.exp(shifted)
        s = e.sum(axis=-1, keepdims=True)
        logp = shifted - np.log(s)
        self.saved = (e / s, logp)
        total = np.vdot(y, logp)  # a dot product: no temporary, no floating-point warnings
        if np.isnan(total):  # 0 · (-inf) where a logit is -inf and its target 0: that term is 0
            with np.errstate(invalid="ignore"):
                total = np.sum(np.where(y != 0, y * logp, 0))
        return -total / self.n

    def backward(self, g, out, z, y):
        if not self.n:  # no row counts (every one ignored): nothing depends on the logits, as in PyTorch
            gz = np.zeros(np.shape(z), dtype=out.dtype) if self.needs(0) else None
            return gz, (np.zeros(np.shape(y), dtype=out.dtype) if self.needs(1) else None)
        if type(z) is np.ndarray and type(y) is np.ndarray:
            p, logp = self.saved
        else:  # create_graph: recompute from the Tensors so second derivatives are exact
            p, logp = softmax(z, axis=-1), log_softmax(z, axis=-1)
        if self.needs(0):
            gz = g * ((p - y) if self.one_hot else (p * y.sum(axis=-1, keepdims=True) - y)) / self.n
        else:
            gz = None
        gy = -g * logp / self.n if self.needs(1) else None
        return gz, gy

    def jvp(self, ds, out, z, y):
        # a scalar output: the sum of each input's VJP (at g = 1) times its tangent
        if not self.n:
            return None  # the mean of nothing: NaN, whatever the inputs
        dz, dy = ds
        if type(z) is np.ndarray and type(y) is np.ndarray:
            p, logp = self.saved
        else:
            p, logp = softmax(z, axis=-1), log_softmax(z, axis=-1)
        tz = None
        if dz is not None:
            tz = (((p - y) if self.one_hot else (p * y.sum(axis=-1, keepdims=True) - y)) * dz).sum()
        return tangent_sum(tz, None if dy is None else -(logp * dy).sum()) / self.n

    def to_onnx(self, builder: OnnxBuilder, inputs: list[str], output: str) -> None:
        b, dt = builder, builder.dtype(output)
        z, y = (b.cast(v, dt) for v in inputs)
        terms = b.op("Mul", y, b.op("LogSoftmax", z, axis=-1))
        zero = b.const(0, dt, name="zero")
        terms = b.op("Where", b.op("Equal", y, zero), zero, terms)  # a -inf logit with target 0 adds 0, not NaN
        rows = b.reduce("ReduceSum", terms, [1], keepdims=False)
        b.op("Neg", b.reduce("ReduceMean", rows, None, keepdims=False), out=output)


def softmax_cross_entropy(logits: Any, targets: Any, ignore_index: int = -100) -> Tensor:
    """Mean cross-entropy between ``softmax(logits)`` and the targets, computed from the logits.

    ``logits`` has shape ``(batch, classes)``, or ``(batch, time, classes)`` for sequences (any
    leading axes, the classes last). ``targets`` is either integer class indices of the
    logits' shape without the classes (``(batch,)``, ``(batch, time)``) or one-hot / probability
    rows of the logits' shape (each row summing to 1). With ``y`` the target rows and ``m`` the
    number of rows that count::

        loss = -(1/m) Σᵢ Σₖ yᵢₖ log softmax(logitsᵢ)ₖ,   d loss / d logits = (softmax(logits) - y) / m

    A class index equal to ``ignore_index`` (PyTorch's default, -100) marks a row that counts
    for nothing, a padded step of a sequence say: it adds nothing to the loss, gets a zero
    gradient, and the mean is over the other rows (NaN when none is left, as in PyTorch).
    Computed with log-sum-exp, so huge logits do not overflow and ``-inf`` logits (masked
    classes) give finite gradients.

    >>> softmax_cross_entropy(np.array([[2.0, 0.0, -1.0]]), np.array([0])).item()  # doctest: +ELLIPSIS
    0.1698...
    >>> z = np.zeros((1, 3, 4))                     # one sequence of 3 steps, 4 classes
    >>> round(softmax_cross_entropy(z, np.array([[1, 2, -100]])).item(), 4)   # log 4: the padded step is ignored
    1.3863
    """
    z = _data(logits, "softmax_cross_entropy: logits")
    if z.ndim < 2:
        raise ValueError(
            f"softmax_cross_entropy: logits must have shape (batch, classes), got {z.shape}"
            + ("; for a single example use logits.reshape(1, -1)" if z.ndim == 1 else "")
            + " (sequences: (batch, time, classes))"
        )
    classes = z.shape[-1]
    lead = z.shape[:-1]
    rows = int(np.prod(lead))
    dtype = z.dtype if z.dtype.kind == "f" else np.float64
    t = _data(targets, "softmax_cross_entropy: targets")
    if z.ndim > 2 and t.ndim in (z.ndim - 1, z.ndim):  # sequences: one row per step
        logits = Reshape.apply(logits, shape=(rows, classes))
    if t.ndim == z.ndim - 1:
        if t.shape != lead:
            if t.ndim == 1:
                raise ValueError(
                    f"softmax_cross_entropy: {t.shape[0]} class indices for a batch of {lead[0]} logits rows "
                    f"(logits {z.shape}, targets {t.shape}); give one label per row"
                )
            raise ValueError(
                f"softmax_cross_entropy: class indices of shape {t.shape} for logits of shape {z.shape}; "
                f"they must have shape {lead}, one label per row"
            )
        # The rows and their count are made from the labels' values: an effect, which ag.compile makes
        # again at every call (the count as a float there, a value the program passes on).
        y, count = tracing.effect(_label_rows, t, classes, dtype, ignore_index, tracing.compiling())
        return SoftmaxCrossEntropy.apply(logits, y, one_hot=True, count=count)
    if t.ndim == z.ndim:
        if t.shape != z.shape:
            raise ValueError(
                f"softmax_cross_entropy: target rows have shape {t.shape} but logits {z.shape}; "
                f"they must match (or give class indices of shape {lead})"
            )
        checked = tracing.effect(_probability_rows, t, dtype, isinstance(targets, Tensor), lead)
        if not isinstance(targets, Tensor):
            targets = checked
        if z.ndim > 2:
            targets = Reshape.apply(targets, shape=(rows, classes))
        return SoftmaxCrossEntropy.apply(logits, targets, one_hot=False)
    raise ValueError(
        f"softmax_cross_entropy: targets must be class indices of shape {lead} or rows of shape "
        f"{z.shape}, got shape {t.shape}"
    )


def _label_rows(t: np.ndarray, classes: int, dtype: Any, ignore_index: int, as_float: bool) -> tuple[np.ndarray, Any]:
    """Class indices ``t`` (checked) as target rows of ``dtype``: one-hot, zeros where a label is
    ``ignore_index``; with the number of rows that count (a float when ``as_float``, for ag.compile)."""
    labels, keep = _class_indices(t, classes, ignore_index)
    rows = labels.shape[0]
    y = np.zeros((rows, classes), dtype=dtype)
    if keep is None:
        y[np.arange(rows), labels] = 1
        count = rows
    else:
        y[np.flatnonzero(keep), labels[keep]] = 1
        count = int(keep.sum())
    return y, (float(count) if as_float else count)


def _probability_rows(t: np.ndarray, dtype: Any, tensor: bool, lead: tuple[int, ...]) -> np.ndarray:
    """Target rows ``t``, checked (no NaN, non-negative, each summing to 1), in ``dtype`` unless a Tensor gave them."""
    _no_nan(t, "softmax_cross_entropy: targets")
    if (t < 0).any():
        raise ValueError("softmax_cross_entropy: targets contain negative values; rows must be probabilities")
    sums = t.sum(axis=-1)
    if sums.size and np.abs(sums - 1).max() > 1e-4:
        at = np.unravel_index(int(np.argmax(np.abs(sums - 1))), lead)
        where = int(at[0]) if len(at) == 1 else tuple(int(i) for i in at)
        raise ValueError(
            f"softmax_cross_entropy: target row {where} sums to {float(sums[at])!r}; one-hot or probability "
            "rows must sum to 1"
        )
    return t.astype(dtype) if not tensor and t.dtype != dtype else t


def _class_indices(t: np.ndarray, classes: int, ignore_index: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Class indices checked (whole numbers in ``0..classes-1``, or ``ignore_index``) and flattened;
    with the rows that count (None: all of them)."""
    ignore = check_int(ignore_index, "ignore_index", "softmax_cross_entropy")
    if t.dtype.kind == "b":
        raise TypeError("softmax_cross_entropy: targets are booleans; give integer class indices")
    flat = t.reshape(-1)
    if t.dtype.kind in "iu" and flat.size and not 0 <= ignore < classes:  # the common case, in two reductions
        if flat.min() >= 0 and flat.max() < classes:
            return flat, None
    if t.dtype.kind == "f":
        _no_nan(t, "softmax_cross_entropy: targets")
        bad = ~np.isfinite(flat) | (((flat < 0) | (flat >= classes)) & (flat != ignore))
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(
                f"softmax_cross_entropy: label {float(flat[i])!r} at position {_position(i, t.shape)} is out of range "
                f"for {classes} classes (labels must be in 0..{classes - 1}); ignore_index={ignore} marks a row "
                "that counts for nothing"
            )
        whole = flat == np.round(flat)
        if not whole.all():
            raise ValueError(
                f"softmax_cross_entropy: targets of shape {t.shape} are class indices and must be whole numbers; "
                f"got {float(flat[np.argmax(~whole)])!r}. For probabilities give rows of shape {t.shape + (classes,)}"
            )
        flat = flat.astype(np.int64)
    ignored = flat == ignore
    bad = ((flat < 0) | (flat >= classes)) & ~ignored
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"softmax_cross_entropy: label {int(flat[i])} at position {_position(i, t.shape)} is out of range for "
            f"{classes} classes (labels must be in 0..{classes - 1}); ignore_index={ignore} marks a row that "
            "counts for nothing"
        )
    if not ignored.any():
        return flat, None
    return flat, ~ignored


def _position(i: int, shape: tuple[int, ...]) -> Any:
    """Flat index ``i`` as a position in ``shape``: an int for 1-D targets, else a tuple."""
    if len(shape) == 1:
        return i
    return tuple(int(k) for k in np.unravel_index(i, shape))


# ============================================================== binary cross-entropy


class BinaryCrossEntropy(Function):
    """``(1/n) Σ [max(z, 0) - z y + log(1 + e^-|z|)]``, the cross-entropy of ``σ(z)`` against ``y``,
    never overflowing. VJP: ``g (σ(z) - y) / n`` for the logits, ``-g z / n`` for the targets."""

    saves_output = False

    name = "binary_cross_entropy"

    def forward(self, z, y):
        e = np.exp(-np.abs(z))
        self.saved = np.where(z >= 0, 1, e) / (1 + e)  # σ(z), for the backward
        self.n = z.size
        if not self.n:  # the mean over an empty batch, as NumPy's mean gives it
            return np.array(np.nan, dtype=z.dtype)
        return np.sum(np.maximum(z, 0) - z * y + np.log1p(e)) / self.n

    def backward(self, g, out, z, y):
        s = self.saved if type(z) is np.ndarray else sigmoid(z)
        gz = g * (s - y) / self.n if self.needs(0) else None
        gy = -g * z / self.n if self.needs(1) else None
        return gz, gy

    def jvp(self, ds, out, z, y):
        if not self.n:
            return None
        dz, dy = ds
        s = self.saved if type(z) is np.ndarray else sigmoid(z)
        tz = None if dz is None else ((s - y) * dz).sum()
        ty = None if dy is None else -(z * dy).sum()
        return tangent_sum(tz, ty) / self.n

    def to_onnx(self, builder: OnnxBuilder, inputs: list[str], output: str) -> None:
        b, dt = builder, builder.dtype(output)
        z, y = (b.cast(v, dt) for v in inputs)
        softplus = b.op("Log", b.op("Add", b.const(1, dt, name="one"), b.op("Exp", b.op("Neg", b.op("Abs", z)))))
        terms = b.op("Add", b.op("Sub", b.op("Relu", z), b.op("Mul", z, y)), softplus)
        b.reduce("ReduceMean", terms, None, keepdims=False, out=output)


def binary_cross_entropy(logits: Any, targets: Any) -> Tensor:
    """Mean binary cross-entropy of ``sigmoid(logits)`` against ``targets`` in [0, 1], from the logits::

        loss = mean(-y log σ(z) - (1 - y) log(1 - σ(z))) = mean(max(z, 0) - z y + log(1 + e^-|z|))

    Stable for any logit (``z = ±1000`` gives ``0`` or ``1000``, not ``inf``/``nan``); its
    gradient is ``(σ(z) - y) / n``. ``logits`` and ``targets`` must have the same shape; the
    mean is over all their elements (the batch, and the outputs for multi-label data).

    >>> round(binary_cross_entropy(np.array([0.0]), np.array([1.0])).item(), 4)  # log 2
    0.6931
    """
    z = _data(logits, "binary_cross_entropy: logits")
    t = _data(targets, "binary_cross_entropy: targets")
    if z.shape != t.shape:
        hint = ""
        if z.size == t.size:
            hint = f"; reshape one of them (e.g. targets.reshape({', '.join(map(str, z.shape))}))"
        raise ValueError(
            f"binary_cross_entropy: logits of shape {z.shape} and targets of shape {t.shape} must have the same "
            f"shape (broadcasting them would compare every example with every label){hint}"
        )
    checked = tracing.effect(_unit_targets, t, z.dtype, isinstance(targets, Tensor))  # (from the values)
    if not isinstance(targets, Tensor):
        targets = checked
    return BinaryCrossEntropy.apply(logits, targets)


def _unit_targets(t: np.ndarray, zdtype: Any, tensor: bool) -> np.ndarray:
    """Binary targets ``t``, checked (no NaN, in [0, 1]), in the logits' floating dtype unless a Tensor gave them."""
    _no_nan(t, "binary_cross_entropy: targets")
    if t.size and (t.min() < 0 or t.max() > 1):
        raise ValueError(
            f"binary_cross_entropy: targets must be in [0, 1], got values from {float(t.min())!r} to {float(t.max())!r}"
        )
    if tensor:
        return t
    return t.astype(zdtype if zdtype.kind == "f" else np.float64, copy=False)


# ============================================================== mean squared error


def mse(pred: Any, target: Any) -> Tensor:
    """Mean squared error over all elements: ``mean((pred - target)²)``; gradient ``2 (pred - target) / n``.

    The shapes must match exactly (``(batch,)`` against ``(batch, 1)`` would broadcast
    to ``(batch, batch)`` and silently compute the wrong thing).

    >>> mse(np.array([1.0, 3.0]), np.array([0.0, 0.0])).item()
    5.0
    """
    sp = _data(pred, "mse: pred").shape
    st = _data(target, "mse: target").shape
    if sp != st:
        raise ValueError(
            f"mse: pred of shape {sp} and target of shape {st} must have the same shape "
            "(broadcasting them would silently compare every prediction with every target); reshape one"
        )
    d = (pred if isinstance(pred, Tensor) else Tensor(pred)) - target
    return (d * d).mean()
