"""Image ops on ``(batch, channels, height, width)`` arrays: convolution and pooling.

A ``kh × kw`` window slides over the zero-padded image in steps of the stride. With
``xp`` the padded input, output pixel ``(h, w)`` sees ``xp[..., h·sh + i, w·sw + j]``
for the window offsets ``0 ≤ i < kh``, ``0 ≤ j < kw``.

Convolution is a matrix product once every window is laid out as a column (im2col,
through ``sliding_window_view``)::

    y[n, o, h, w] = Σ_{c,i,j} W[o, c, i, j] · xp[n, c, h·sh + i, w·sw + j]  (+ b[o])

It is bilinear in ``x`` and ``W``, so its two VJPs are the other two contractions of
the same trilinear form ``⟨conv(x, W), g⟩``: for ``W`` a correlation of the image with
``g`` (:class:`Conv2dWeightGrad`), for ``x`` a transposed convolution that adds every
column back into its window (col2im, :class:`Conv2dTranspose`). The backward of each
of the three is again made of the three, which is how second derivatives work.

Pooling reduces each window; both its forward (average) and its backward (max and
average) are weighted window sums (:class:`WindowSum`) or their transpose, the
weighted scatter back into the windows (:class:`WindowScatter`). Max pooling splits
the gradient evenly among tied maxima, as ``max`` does.

Internally the columns are ordered channel, row, column, batch (the batch innermost):
every copy then runs over long contiguous stretches. Outputs have the usual NCHW
shape with the batch innermost in memory, which NumPy handles transparently (and which
the next layer's im2col reads fastest); ``np.ascontiguousarray`` gives C order.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .. import tracing as _tracing
from ..function import Function
from ..tensor import Tensor
from .elementwise import tangent_sum

if TYPE_CHECKING:
    from ..onnx.builder import OnnxBuilder

# ============================================================== geometry


class Window(NamedTuple):
    """Where a window goes: kernel ``kh × kw``, stride, padding, input ``h × w``, output ``ho × wo``."""

    kh: int
    kw: int
    sh: int
    sw: int
    ph: int
    pw: int
    h: int
    w: int
    ho: int
    wo: int

    @property
    def padded(self) -> tuple[int, int]:
        return self.h + 2 * self.ph, self.w + 2 * self.pw

    def offsets(self) -> tuple[tuple[int, slice, slice], ...]:
        """``(k, rows, cols)`` per window offset ``k = i·kw + j``: the padded-image pixels it sees."""
        return _offsets(self)

    def inside(self) -> tuple[tuple[int, slice, slice, Any], ...]:
        """Per window offset ``k``: ``(k, rows, cols, outputs)``, the pixels of the unpadded image
        that offset ``k`` sees and the index of the output pixels that see them (``None``: all of
        them); what falls on the padding is left out."""
        return _inside(self)

    def overlapping(self) -> bool:
        return self.sh < self.kh or self.sw < self.kw

    def tiles(self) -> bool:
        """Whether the windows cover the image exactly once (side by side, no padding, nothing left over)."""
        return (
            (self.sh, self.sw) == (self.kh, self.kw)
            and not (self.ph or self.pw)
            and (self.ho * self.kh, self.wo * self.kw) == (self.h, self.w)
        )

    def interior(self) -> tuple[slice, slice, slice, slice]:
        """The index of the unpadded image inside the padded one."""
        return (slice(None), slice(None), slice(self.ph, self.ph + self.h), slice(self.pw, self.pw + self.w))


def _clip(i: int, pad: int, stride: int, n_out: int, n_in: int) -> tuple[slice, slice] | None:
    """Outputs ``o < n_out`` whose pixel ``o·stride + i − pad`` at offset ``i`` is inside ``[0, n_in)``:
    ``(pixels, outputs)`` as slices, or None."""
    lo = max(0, -((i - pad) // stride))  # ceil((pad - i) / stride)
    hi = min(n_out, (n_in - 1 + pad - i) // stride + 1)
    if hi <= lo:
        return None
    start = lo * stride + i - pad
    return slice(start, start + (hi - lo - 1) * stride + 1, stride), slice(lo, hi)


@functools.lru_cache(maxsize=256)
def _inside(win: Window) -> tuple[tuple[int, slice, slice, Any], ...]:
    out = []
    for i in range(win.kh):
        rows = _clip(i, win.ph, win.sh, win.ho, win.h)
        for j in range(win.kw):
            cols = _clip(j, win.pw, win.sw, win.wo, win.w)
            if rows is not None and cols is not None:
                full = (rows[1], cols[1]) == (slice(0, win.ho), slice(0, win.wo))
                outputs = None if full else (slice(None), slice(None), rows[1], cols[1])
                out.append((i * win.kw + j, rows[0], cols[0], outputs))
    return tuple(out)


@functools.lru_cache(maxsize=256)
def _offsets(win: Window) -> tuple[tuple[int, slice, slice], ...]:
    out = []
    for i in range(win.kh):
        rows = slice(i, i + win.sh * (win.ho - 1) + 1, win.sh)
        for j in range(win.kw):
            out.append((i * win.kw + j, rows, slice(j, j + win.sw * (win.wo - 1) + 1, win.sw)))
    return tuple(out)


def as_pair(value: Any, what: str, where: str, least: int) -> tuple[int, int]:
    """``value`` (an int, or a pair ``(rows, columns)`` of ints) as a pair, each at least ``least``;
    a ValueError naming ``where`` and ``what`` otherwise."""
    if type(value) is tuple and len(value) == 2 and type(value[0]) is int and type(value[1]) is int:
        if value[0] >= least and value[1] >= least:  # the common case, checked without the general rules
            return value
    elif type(value) is int and value >= least:
        return value, value
    pair = value if isinstance(value, (tuple, list)) else (value, value)
    ok = len(pair) == 2 and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= least for v in pair
    )
    if not ok:
        kind = "a positive int" if least > 0 else "a non-negative int"
        raise ValueError(f"{where}: {what} must be {kind} or a pair of them (rows, columns), got {value!r}")
    return int(pair[0]), int(pair[1])


def _image_shape(shape: tuple[int, ...], where: str, in_channels: int | None = None) -> tuple[int, ...]:
    """Refuse an input that is not 4-D, with a hint at the likely fix (``in_channels``: the
    number a convolution expects, None for a pooling, which cannot tell)."""
    if len(shape) == 4:
        return shape
    hint = ""
    if len(shape) == 3:
        first, last = shape[0], shape[2]
        if in_channels is None:
            hint = (
                "; for a single image (channels, height, width) use x[None], a batch of one; for a batch of "
                "one-channel images (batch, height, width) use x[:, None]"
            )
        elif first == in_channels:  # (1, H, W) with one channel: x[None] and x[:, None] are the same
            hint = "; for a single image use x[None], a batch of one"
        elif in_channels == 1:
            hint = "; for a batch of one-channel images (batch, height, width) use x[:, None] (the channel axis)"
        elif last == in_channels:
            hint = (
                f"; for a single image stored channels last (height, width, {in_channels}) use "
                "x.transpose(2, 0, 1)[None], a batch of one in (batch, channels, height, width)"
            )
    elif len(shape) == 2:
        hint = "; for a single one-channel image use x[None, None]"
    raise ValueError(
        f"{where}: input of shape {tuple(shape)} is {len(shape)}-D; expected 4-D (batch, channels, height, width){hint}"
    )


def _window(shape: tuple[int, ...], kernel: tuple[int, int], stride: Any, padding: Any, where: str) -> Window:
    kh, kw = kernel
    sh, sw = as_pair(stride, "stride", where, 1)
    ph, pw = as_pair(padding, "padding", where, 0)
    h, w = shape[2], shape[3]
    if kh > h + 2 * ph or kw > w + 2 * pw:
        raise ValueError(
            f"{where}: the {kh}×{kw} kernel is larger than the padded input {h + 2 * ph}×{w + 2 * pw} "
            f"(input of shape {tuple(shape)}, padding {(ph, pw)}); use a smaller kernel, more padding or a larger image"
        )
    return Window(kh, kw, sh, sw, ph, pw, h, w, (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1)


def conv_window(
    x_shape: tuple[int, ...],
    w_shape: tuple[int, ...],
    b_shape: tuple[int, ...] | None,
    stride: Any,
    padding: Any,
    where: str = "conv2d",
) -> Window:
    """Check the shapes of a convolution (``where`` names the op or layer in errors) and place its window."""
    if len(w_shape) != 4:
        raise ValueError(f"{where}: weight of shape {tuple(w_shape)} must be 4-D (out_channels, in_channels, kh, kw)")
    _image_shape(x_shape, where, w_shape[1])
    if x_shape[1] != w_shape[1]:
        hint = ""
        if x_shape[3] == w_shape[1]:
            hint = (
                f"; the input looks channels last (batch, height, width, {w_shape[1]}): images here are "
                "(batch, channels, height, width), so pass x.transpose(0, 3, 1, 2)"
            )
        raise ValueError(
            f"{where}: input of shape {tuple(x_shape)} has {x_shape[1]} channels, but the weight of shape "
            f"{tuple(w_shape)} expects {w_shape[1]} (weights are (out_channels, in_channels, kh, kw)){hint}"
        )
    if b_shape is not None and tuple(b_shape) != (w_shape[0],):
        raise ValueError(f"{where}: bias of shape {tuple(b_shape)}; expected ({w_shape[0]},), one per output channel")
    return _window(x_shape, (w_shape[2], w_shape[3]), stride, padding, where)


def pool_window(x_shape: tuple[int, ...], kernel_size: Any, stride: Any, padding: Any, where: str) -> Window:
    """Check a pooling's arguments (``stride=None`` means the kernel size) and place its window."""
    _image_shape(x_shape, where)
    kernel = as_pair(kernel_size, "kernel_size", where, 1)
    ph, pw = as_pair(padding, "padding", where, 0)
    if 2 * ph > kernel[0] or 2 * pw > kernel[1]:
        raise ValueError(
            f"{where}: padding {(ph, pw)} is more than half the {kernel[0]}×{kernel[1]} kernel; "
            "a window could then hold nothing but padding"
        )
    return _window(x_shape, kernel, kernel if stride is None else stride, (ph, pw), where)


# ============================================================== array helpers


def _shape(a: Any) -> tuple[int, ...]:
    return a.shape if isinstance(a, (Tensor, np.ndarray)) else np.shape(a)


def _alloc(like: np.ndarray, shape: tuple[int, ...], dtype: Any, fill: float | None) -> np.ndarray:
    """An array of ``shape`` with its axes in the memory order of ``like``'s (same number of axes),
    filled with ``fill`` (``None``: left uninitialised)."""
    out = np.empty_like(like, dtype=dtype, shape=shape)  # order="K": like's layout
    if fill is not None:
        out.fill(fill)
    return out


def _in_layout_of(a: Any, like: Any) -> Any:
    """The array ``a`` with its elements in the memory order of ``like`` (of the same shape): a
    copy only when they differ, so that the elementwise work that follows runs along memory.
    Tensors pass through."""
    like = like.data if isinstance(like, Tensor) else like
    if type(a) is not np.ndarray or a.strides == like.strides or a.shape != like.shape:
        return a
    out = np.empty_like(like, dtype=a.dtype)
    out[...] = a
    return out


def _pad(x: np.ndarray, win: Window, fill: float) -> np.ndarray:
    """``x`` padded with ``fill``, in ``x``'s memory layout (so window slices stay cheap)."""
    if not (win.ph or win.pw):
        return x
    out = _alloc(x, (*x.shape[:2], *win.padded), x.dtype, fill)
    out[win.interior()] = x
    return out


def _floating(x: np.ndarray) -> np.ndarray:
    return x if x.dtype.kind == "f" else x.astype(np.float64)


def _columns(x: np.ndarray, win: Window) -> np.ndarray:
    """im2col: an array of shape ``(C·kh·kw, Ho·Wo·N)``, row ``(c, i, j)`` and column ``(h, w, n)``
    holding ``xp[n, c, h·sh + i, w·sw + j]``."""
    n, c = x.shape[:2]
    xt = x.transpose(1, 2, 3, 0)  # (C, H, W, N): the batch innermost, so the copy below runs in long stretches
    if win.ph or win.pw:
        padded = np.zeros((c, *win.padded, n), dtype=x.dtype)
        padded[:, win.ph : win.ph + win.h, win.pw : win.pw + win.w] = xt
        xt = padded
    view = sliding_window_view(xt, (win.kh, win.kw), axis=(1, 2))  # (C, rows, cols, N, kh, kw): a view
    if win.sh > 1 or win.sw > 1:
        view = view[:, :: win.sh, :: win.sw]
    return view.transpose(0, 4, 5, 1, 2, 3).reshape(c * win.kh * win.kw, win.ho * win.wo * n)


#: A ``(N, C, H, W)`` array stored channel, row, column, batch: the layout col2im writes in.
_BATCH_INNERMOST = np.empty((2, 2, 2, 2), dtype=np.int8).transpose(3, 0, 1, 2)


def _image(cols: np.ndarray, win: Window, n: int) -> np.ndarray:
    """col2im, the transpose of :func:`_columns`: each column added back into its window.

    One strided add per kernel offset (no loop over the batch or the pixels), clipped to
    the unpadded image. The result has shape ``(N, C, H, W)``: a fresh array (no view, so a
    leaf keeps it as its gradient without a copy) stored channel, row, column, batch."""
    c = cols.shape[0] // (win.kh * win.kw)
    cols = cols.reshape(c, win.kh, win.kw, win.ho, win.wo, n)
    out = np.empty_like(_BATCH_INNERMOST, dtype=cols.dtype, shape=(n, c, win.h, win.w))
    out.fill(0)
    image = out.transpose(1, 2, 3, 0)  # (C, H, W, N), a view of out
    for k, rows, columns, outputs in win.inside():
        part = cols[:, k // win.kw, k % win.kw]  # (C, Ho, Wo, N)
        image[:, rows, columns] += part if outputs is None else part[:, outputs[2], outputs[3]]
    return out


def _rows(g: np.ndarray) -> np.ndarray:
    """``g`` of shape ``(N, O, Ho, Wo)`` as the matrix ``(O, Ho·Wo·N)`` matching the columns' order."""
    n, o, ho, wo = g.shape
    return g.transpose(1, 2, 3, 0).reshape(o, ho * wo * n)


def _conv(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, win: Window) -> tuple[np.ndarray, np.ndarray]:
    """The convolution and its columns (kept for the weight gradient)."""
    cols = _columns(x, win)
    y = w.reshape(w.shape[0], -1) @ cols  # (O, Ho·Wo·N): one matrix product for the whole batch
    if b is not None:
        if b.dtype == y.dtype:
            y += b[:, None]  # in place: no second output-sized array
        else:
            y = y + b[:, None]
    return y.reshape(w.shape[0], win.ho, win.wo, x.shape[0]).transpose(3, 0, 1, 2), cols


def _conv_transpose(g: np.ndarray, w: np.ndarray, win: Window) -> np.ndarray:
    return _image(w.reshape(w.shape[0], -1).T @ _rows(g), win, g.shape[0])


def _run(op: type[Function], *args: Any, **params: Any) -> Any:
    """``op`` recorded when any argument is a Tensor (a VJP under ``create_graph``), else on arrays."""
    for a in args:
        if isinstance(a, Tensor):
            return op.apply(*args, **params)
    return op().forward(*args, **params)


# ============================================================== convolution


class Conv2d(Function):
    """``y = conv(x, W) + b`` (cross-correlation, as every framework computes it).

    VJPs: ``x̄ = conv_transpose(g, W)``, ``W̄ = Σ_{n,h,w} g[n,o,h,w] xp[n,c,h·sh+i,w·sw+j]``,
    ``b̄ = Σ_{n,h,w} g``.
    """

    name = "conv2d"
    saves_output = False

    def forward(self, x, w, *b, win):
        self.win = win
        y, cols = _conv(_floating(x), w, b[0] if b else None, win)
        self.saved = cols
        return y

    def backward(self, g, out, x, w, *b):
        win = self.win
        gx = gw = gb = None
        if type(g) is np.ndarray and type(x) is np.ndarray and type(w) is np.ndarray:
            # Plain backward: g as a matrix once, and the forward's columns (no second im2col).
            g2 = _rows(g)
            if self.needs(1):
                gw = (g2 @ self.saved.T).reshape(w.shape)
            if b and self.needs(2):
                gb = g2.sum(axis=1)
            if self.needs(0):
                gx = _image(w.reshape(w.shape[0], -1).T @ g2, win, g.shape[0])
        else:  # create_graph: recorded, so it can be differentiated again
            if self.needs(0):
                gx = _run(Conv2dTranspose, g, w, win=win)
            if self.needs(1):
                gw = _run(Conv2dWeightGrad, x, g, win=win)
            if b and self.needs(2):
                gb = g.sum(axis=(0, 2, 3))
        return (gx, gw, gb) if b else (gx, gw)

    def jvp(self, ds, out, x, w, *b):
        # bilinear in x and W, affine in b: conv(ẋ, W) + conv(x, Ẇ) + ḃ per channel
        dx, dw, db = ds[0], ds[1], ds[2] if b else None
        return tangent_sum(
            None if dx is None else _run(Conv2d, dx, w, win=self.win),
            None if dw is None else _run(Conv2d, x, dw, win=self.win),
            None if db is None else db.reshape(-1, 1, 1),
        )

    def to_onnx(self, builder: OnnxBuilder, inputs: list[str], output: str) -> None:
        dt, win = builder.dtype(output), self.win
        x, w, *bias = (builder.cast(v, dt) for v in inputs)
        if dt != np.float64:
            builder.op("Conv", x, w, *bias, out=output, **_window_attrs(win))
            return
        # im2col: the views side by side, (N, kh·kw·C, Ho, Wo), times W as a (kh·kw·C, O) matrix
        o, c = (d.size for d in builder.dims(inputs[1])[:2])
        views = builder.op("Concat", *_shifted_views(builder, x, win), axis=1)
        cols = builder.op("Transpose", views, perm=[0, 2, 3, 1])
        shape = builder.const(np.array([win.kh * win.kw * c, o], dtype=np.int64), name="shape")
        matrix = builder.op("Reshape", builder.op("Transpose", w, perm=[2, 3, 1, 0]), shape)
        y = builder.op("MatMul", cols, matrix)  # (N, Ho, Wo, O)
        if bias:
            y = builder.op("Add", y, bias[0])
        builder.op("Transpose", y, out=output, perm=[0, 3, 1, 2])


class Conv2dTranspose(Function):
    """``conv_transpose(g, W)``: the VJP of a convolution for its input, of ``x``'s shape (col2im of ``Wᵀ g``).

    It is linear in ``g`` and in ``W``; its VJPs are ``conv(h, W)`` for ``g`` and ``conv_weight_grad(h, g)`` for ``W``.
    """

    name = "conv2d_transpose"
    saves_output = False

    def forward(self, g, w, win):
        self.win = win
        return _conv_transpose(g, w, win)

    def backward(self, h, out, g, w):
        win = self.win
        gg = _run(Conv2d, h, w, win=win) if self.needs(0) else None
        gw = _run(Conv2dWeightGrad, h, g, win=win) if self.needs(1) else None
        return gg, gw

    def jvp(self, ds, out, g, w):
        dg, dw = ds
        return tangent_sum(
            None if dg is None else _run(Conv2dTranspose, dg, w, win=self.win),
            None if dw is None else _run(Conv2dTranspose, g, dw, win=self.win),
        )


class Conv2dWeightGrad(Function):
    """``conv_weight_grad(x, g)``: the VJP of a convolution for its weight, of ``W``'s shape.

    Linear in ``x`` and in ``g``; its VJPs are ``conv_transpose(g, h)`` for ``x`` and ``conv(x, h)`` for ``g``.
    """

    name = "conv2d_weight_grad"
    saves_output = False

    def forward(self, x, g, win):
        self.win = win
        x = _floating(x)
        return (_rows(g) @ _columns(x, win).T).reshape(g.shape[1], x.shape[1], win.kh, win.kw)

    def backward(self, h, out, x, g):
        win = self.win
        gx = _run(Conv2dTranspose, g, h, win=win) if self.needs(0) else None
        gg = _run(Conv2d, x, h, win=win) if self.needs(1) else None
        return gx, gg

    def jvp(self, ds, out, x, g):
        dx, dg = ds
        return tangent_sum(
            None if dx is None else _run(Conv2dWeightGrad, dx, g, win=self.win),
            None if dg is None else _run(Conv2dWeightGrad, x, dg, win=self.win),
        )


# ============================================================== pooling


def _scatter(g: np.ndarray, weights: Any, win: Window) -> np.ndarray:
    """``x̄`` of the input's shape: ``x̄[pixel of window p at offset k] += weights[k][p] · g[p]``
    (what falls on the padding is dropped).

    ``weights`` is a number (the same for every offset) or a list of ``kh·kw`` arrays
    (numbers or masks) of ``g``'s shape. The result is a fresh array in ``g``'s layout."""
    out = np.empty_like(g, shape=(*g.shape[:2], win.h, win.w))
    if not win.tiles():  # else every pixel is written below
        out.fill(0)
    scalar = not isinstance(weights, (list, tuple))
    if scalar:
        g = g * weights
    overlapping = win.overlapping()
    for k, rows, cols, outputs in win.inside():
        part = g if outputs is None else g[outputs]
        if not scalar:
            weight = weights[k] if outputs is None else weights[k][outputs]
        if overlapping:
            out[:, :, rows, cols] += part if scalar else part * weight
        elif scalar:  # the windows do not overlap: every pixel is written once (or never)
            out[:, :, rows, cols] = part
        else:
            np.multiply(part, weight, out=out[:, :, rows, cols])
    return out


def _window_sum(x: np.ndarray, weights: Any, win: Window) -> np.ndarray:
    """``y[p] = Σ_k weights[k] · xp[window k of pixel p]`` (zero padding), the transpose of :func:`_scatter`."""
    xp = _pad(x, win, 0.0)
    scalar = not isinstance(weights, (list, tuple))
    total: Any = None
    for k, rows, cols in win.offsets():
        part = xp[:, :, rows, cols] if scalar else xp[:, :, rows, cols] * weights[k]
        if total is None:
            total = part.copy(order="K") if scalar else part  # a view of x (scalar) must not be written into
        else:
            np.add(total, part, out=total)
    return total * weights if scalar else total


class WindowSum(Function):
    """Weighted sums over windows (constant ``weights``: a number, or one array per window offset).

    Linear in ``x``; its VJP is :class:`WindowScatter` with the same weights, and the reverse."""

    name = "window_sum"
    saves_inputs = False  # linear: the derivative reads only the weights (and the output's layout)

    def forward(self, x, weights, win):
        self.win, self.weights = win, weights
        return _window_sum(_floating(x), weights, win)

    def backward(self, g, out, x):
        return _run(WindowScatter, _in_layout_of(g, out), weights=self.weights, win=self.win)

    def jvp(self, ds, out, x):
        return _run(type(self), ds[0], weights=self.weights, win=self.win)  # linear: the same sums of the tangent


class WindowScatter(Function):
    """Each pixel of ``g``, times its window's weights, added back into its window (the transpose of WindowSum)."""

    name = "window_scatter"
    saves_inputs = False
    saves_output = False

    def forward(self, g, weights, win):
        self.win, self.weights = win, weights
        return _scatter(g, weights, win)

    def backward(self, h, out, g):
        return _run(WindowSum, h, weights=self.weights, win=self.win)

    def jvp(self, ds, out, g):
        return _run(WindowScatter, ds[0], weights=self.weights, win=self.win)


class AvgPool2d(WindowSum):
    """Mean over each window; padding counts as zeros (each window is divided by ``kh·kw``)."""

    name = "avg_pool2d"

    def to_onnx(self, builder: OnnxBuilder, inputs: list[str], output: str) -> None:
        dt, win = builder.dtype(output), self.win
        if isinstance(self.weights, (list, tuple)) or self.weights != 1.0 / (win.kh * win.kw):
            raise NotImplementedError(f"export_onnx: {builder.current}: a window sum with weights other than 1/(kh·kw)")
        x = builder.cast(inputs[0], dt)
        if dt != np.float64:  # the padding counts as zeros: every window is divided by kh·kw
            builder.op("AveragePool", x, out=output, count_include_pad=1, **_window_attrs(win))
            return
        total = builder.op("Sum", *_shifted_views(builder, x, win))
        builder.op("Mul", total, builder.const(self.weights, dt, name="weight"), out=output)


def _count(hits: list[np.ndarray]) -> np.ndarray:
    """How many of the masks are True at each element (as bytes, the cheapest to add, below 128)."""
    if len(hits) >= 128:
        return np.sum(hits, axis=0)
    count = hits[0].view(np.int8).copy(order="K")
    for hit in hits[1:]:
        count += hit.view(np.int8)
    return count


class MaxPool2d(Function):
    """Maximum over each window (padding is ``-inf``). VJP: ``g`` goes to the window's maximum;
    ``t`` tied maxima each get ``g / t``, as ``max`` splits it. The padding is never a maximum
    (an input of ``-inf`` gets the whole gradient of its window), and a window holding NaN
    (whose maximum is NaN) sends its gradient to its NaNs, as ``max`` and PyTorch do."""

    name = "max_pool2d"

    def to_onnx(self, builder: OnnxBuilder, inputs: list[str], output: str) -> None:
        # MaxPool leaves the padding out of every window, as our -inf padding does (no window is all
        # padding). Where it differs from ours: onnxruntime gives the lowest float, not -inf, for a
        # window of -inf (so the lowest float itself comes out as -inf too); and MaxPool skips NaN,
        # which ours propagates: a window holding one gives NaN (found by a MaxPool of the NaN mask)
        b, dt, attrs = builder, builder.dtype(output), _window_attrs(self.win)
        x = b.cast(inputs[0], dt)
        y = b.op("MaxPool", x, **attrs)
        lowest = b.op("LessOrEqual", y, b.const(np.finfo(dt).min, dt, name="lowest"))
        y = b.op("Where", lowest, b.const(-np.inf, dt, name="minus_inf"), y)
        nan = b.op("Greater", b.op("MaxPool", b.cast(b.op("IsNaN", x), dt), **attrs), b.const(0, dt, name="zero"))
        b.op("Where", nan, b.const(np.nan, dt, name="nan"), y, out=output)

    def forward(self, x, win):
        self.win = win
        xp = _pad(_floating(x), win, -np.inf)
        parts = [xp[:, :, rows, cols] for _, rows, cols in win.offsets()]
        if len(parts) == 1:
            return parts[0].copy(order="K")
        out = np.maximum(parts[0], parts[1])
        for part in parts[2:]:
            np.maximum(out, part, out=out)
        return out

    def backward(self, g, out, x):
        # Which elements are maxima depends on x only piecewise-constantly: the masks are constants
        # (computed from the values, an effect: ag.compile makes them again at every call).
        xd = _floating(x.data if isinstance(x, Tensor) else x)
        od = out.data if isinstance(out, Tensor) else out
        win = self.win
        count, *hits = _tracing.effect(_maxima, xd, od, win)
        share = _in_layout_of(g, od) / count  # t tied maxima: g / t to each
        if type(share) is np.ndarray:
            return _scatter(share, hits, win)
        return WindowScatter.apply(share, weights=hits, win=win)

    def jvp(self, ds, out, x):
        # each output takes its window's maximum: the tangent there (t tied maxima: the mean of their t
        # tangents), a window sum of the tangent with those weights, the transpose of the VJP's scatter
        xd = _floating(x.data if isinstance(x, Tensor) else x)
        od = out.data if isinstance(out, Tensor) else out
        win = self.win
        count, *hits = _tracing.effect(_maxima, xd, od, win)
        return _run(WindowSum, ds[0], weights=[(hit / count).astype(od.dtype) for hit in hits], win=win)


def _maxima(xd: np.ndarray, od: np.ndarray, win: Window) -> tuple[np.ndarray, ...]:
    """Max pooling's masks: for each window offset, where the input is its window's maximum ``od``;
    first how many maxima each window has."""
    xp = _pad(xd, win, np.nan)  # NaN equals nothing: the padding is never a maximum, even of -inf inputs
    offsets = win.offsets()
    hits = [np.equal(xp[:, :, rows, cols], od) for _, rows, cols in offsets]
    # A window holding NaN has NaN as its maximum: its NaNs share the gradient. (The minimum
    # is NaN if any output is: a test without a mask.)
    if od.size and np.isnan(od.min()):
        nan_out = np.isnan(od)
        nan_in = _pad(np.isnan(xd), win, False)
        hits = [hit | (nan_in[:, :, rows, cols] & nan_out) for hit, (_, rows, cols) in zip(hits, offsets)]
    return (_count(hits), *hits)


# ============================================================== ONNX forms
# onnxruntime's CPU provider has no double Conv or AveragePool: in float64 they are written as what they
# compute, from the kh·kw shifted views of the padded image (a matrix product, a sum); MaxPool has both.


def _window_attrs(win: Window) -> dict[str, Any]:
    return {"kernel_shape": [win.kh, win.kw], "strides": [win.sh, win.sw], "pads": [win.ph, win.pw, win.ph, win.pw]}


def _shifted_views(b: OnnxBuilder, x: str, win: Window) -> list[str]:
    """The image ``x`` zero-padded, seen from each window offset ``(i, j)`` (in the order ``i·kw + j``):
    ``xp[:, :, i::sh, j::sw]`` cut to the output's ``Ho × Wo``, for an image of any size."""
    from ..onnx.builder import INT64_MAX

    if win.ph or win.pw:
        x = b.op("Pad", x, b.const(np.array([0, 0, win.ph, win.pw] * 2, dtype=np.int64), name="pads"))
    axes = b.const(np.array([2, 3], dtype=np.int64), name="axes")
    steps = b.const(np.array([win.sh, win.sw], dtype=np.int64), name="steps")
    views = []
    for i in range(win.kh):
        for j in range(win.kw):
            # offset i's last window starts kh - 1 - i rows before the end: stop there
            ends = [-(win.kh - 1 - i) or INT64_MAX, -(win.kw - 1 - j) or INT64_MAX]
            starts = b.const(np.array([i, j], dtype=np.int64), name="starts")
            views.append(b.op("Slice", x, starts, b.const(np.array(ends, dtype=np.int64), name="ends"), axes, steps))
    return views


# ============================================================== public functions


def conv2d(x: Any, w: Any, b: Any = None, stride: Any = 1, padding: Any = 0) -> Tensor:
    """2-D convolution of a batch of images ``x`` of shape ``(batch, in, height, width)`` with
    filters ``w`` of shape ``(out, in, kh, kw)`` and an optional bias ``b`` of shape ``(out,)``.

    Cross-correlation, as in every framework: ``y[n,o,h,w] = Σ_{c,i,j} w[o,c,i,j] ·
    xp[n, c, h·sh + i, w·sw + j] + b[o]``, with ``xp`` the input zero-padded by ``padding``
    on each side. ``stride`` and ``padding`` are an int or a pair ``(rows, columns)``. The
    output is ``(batch, out, (H + 2p - kh) // s + 1, (W + 2p - kw) // s + 1)``.

    >>> import autograd_core as ag
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> ag.conv2d(x, np.ones((1, 1, 2, 2)), stride=2).numpy()   # sums of 2×2 blocks
    array([[[[10., 18.],
             [42., 50.]]]])
    """
    win = conv_window(_shape(x), _shape(w), None if b is None else _shape(b), stride, padding)
    return Conv2d.apply(x, w, win=win) if b is None else Conv2d.apply(x, w, b, win=win)


def max_pool2d(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0) -> Tensor:
    """Maximum over each ``kernel_size`` window of ``x`` (shape ``(batch, channels, height, width)``).

    ``stride`` defaults to ``kernel_size`` (windows side by side); ``padding`` (at most half
    the kernel) adds ``-inf`` borders. The gradient goes to each window's maximum, split
    evenly among tied maxima.

    >>> import autograd_core as ag
    >>> ag.max_pool2d(np.arange(16.0).reshape(1, 1, 4, 4), 2).numpy()
    array([[[[ 5.,  7.],
             [13., 15.]]]])
    """
    return MaxPool2d.apply(x, win=pool_window(_shape(x), kernel_size, stride, padding, "max_pool2d"))


def avg_pool2d(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0) -> Tensor:
    """Mean over each ``kernel_size`` window of ``x`` (shape ``(batch, channels, height, width)``).

    ``stride`` defaults to ``kernel_size``; ``padding`` (at most half the kernel) adds zero
    borders that count in the mean (every window is divided by ``kh·kw``, PyTorch's default).

    >>> import autograd_core as ag
    >>> ag.avg_pool2d(np.arange(16.0).reshape(1, 1, 4, 4), 2).numpy()
    array([[[[ 2.5,  4.5],
             [10.5, 12.5]]]])
    """
    win = pool_window(_shape(x), kernel_size, stride, padding, "avg_pool2d")
    return AvgPool2d.apply(x, weights=1.0 / (win.kh * win.kw), win=win)
