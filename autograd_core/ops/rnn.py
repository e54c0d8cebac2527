"""Recurrent ops: one layer of an RNN, LSTM or GRU, in one direction, over a whole sequence.

PyTorch's equations and gate order. For the input ``x`` of a step and the state before it,
``h`` (and ``c``), with every weight ``(gates·hidden, features)``, its gates' blocks stacked
along the rows in the order given::

    RNN   h' = tanh(W_ih x + b_ih + W_hh h + b_hh)                       (or relu)
    LSTM  i, f, g, o = σ, σ, tanh, σ of the four blocks of W_ih x + b_ih + W_hh h + b_hh
          c' = f ⊙ c + i ⊙ g,   h' = o ⊙ tanh(c')
    GRU   r, z = σ of the first two blocks of W_ih x + b_ih + W_hh h + b_hh
          n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)),   h' = (1 − z) ⊙ n + z ⊙ h

Two ways to compute a layer, tested against each other:

- **From primitive ops** (:func:`rnn_cell`, :func:`lstm_cell`, :func:`gru_cell`, and
  :func:`recurrence` with ``fused=False``): a graph of about fifteen ops per step. The cells
  use it, and so do second derivatives of the fused ops.
- **Fused** (:class:`RNNLayer`, :class:`LSTMLayer`, :class:`GRULayer`): the whole sequence as
  one op. The input projection of all steps is one matrix product before the loop
  (``(time·batch, features) @ W_ihᵀ``), each step is one product with ``W_hh`` and the gates
  one set of in-place NumPy operations on the ``(batch, gates·hidden)`` block. Backward
  through time is written out: each step's gradient with respect to the gates' inputs is
  computed from the saved activations into one ``(time, batch, gates·hidden)`` array ``dA``,
  and the weights' gradients are then one product each, ``dW_ih = dAᵀ x``,
  ``dW_hh = dAᵀ h_prev``, ``dx = dA W_ih``, as a NumPy LSTM written by hand computes them.

Arrays are time-major, ``(time, batch, features)``. A fused op's output stacks, along the
time axis, the output of every step, then the final ``h`` (and for the LSTM the final ``c``):
``(time + 1, batch, hidden)`` (LSTM: ``time + 2``); the layer modules slice it.

``lengths`` (one per sequence, ``1 ≤ length ≤ time``) gives PyTorch's packed-sequence
results: at a step ``t ≥ length`` a sequence's state is left as it was and its output is 0,
so the final state is the one after its last step; in the reverse direction, which runs
from the last step to the first, each sequence starts at its own last step.

ONNX forms (see :func:`_onnx_layer`): in float32, ONNX's own ``RNN``, ``LSTM`` and ``GRU``
ops, one per layer and direction, with the gates reordered (LSTM ``i, f, g, o`` → ONNX's
``i, o, f, c``; GRU ``r, z, n`` → ``z, r, h`` with ``linear_before_reset=1``, which is
PyTorch's ``r ⊙ (W_hn h + b_hn)``) and ``lengths`` as ``sequence_lens``; onnxruntime has no
double RNN, LSTM or GRU, so in float64 the same equations run in a ``Scan`` over the time
steps. Either way the number of steps stays free.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .. import forward as _forward
from ..engine import gradients
from ..function import Function
from ..tensor import Tensor
from .elementwise import Clone, sigmoid, tanh, where
from .linalg import matmul
from .shape import stack, transpose

if TYPE_CHECKING:
    from ..onnx.builder import OnnxBuilder

__all__ = [
    "RNNLayer",
    "LSTMLayer",
    "GRULayer",
    "rnn_cell",
    "lstm_cell",
    "gru_cell",
    "recurrence",
    "GATES",
]

#: Gates per kind of layer: the rows of a weight are ``GATES[kind] · hidden``.
GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}


# ============================================================== the equations, from primitive ops


def _linear(x: Any, w: Any, b: Any) -> Any:
    """``x @ wᵀ (+ b)``, recorded; ``b`` None for no bias."""
    out = matmul(x, transpose(w))
    return out if b is None else out + b


def rnn_cell(x: Any, h: Any, w_ih: Any, w_hh: Any, b_ih: Any = None, b_hh: Any = None, relu: bool = False) -> Tensor:
    """One step of an Elman RNN from primitive ops: ``tanh(W_ih x + b_ih + W_hh h + b_hh)`` (or relu)."""
    pre = _linear(x, w_ih, b_ih) + _linear(h, w_hh, b_hh)
    return pre.relu() if relu else tanh(pre)


def lstm_cell(
    x: Any, h: Any, c: Any, w_ih: Any, w_hh: Any, b_ih: Any = None, b_hh: Any = None
) -> tuple[Tensor, Tensor]:
    """One LSTM step from primitive ops; returns ``(h', c')`` (see the module docstring)."""
    n = np.shape(w_hh)[1]
    gates = _linear(x, w_ih, b_ih) + _linear(h, w_hh, b_hh)
    i = sigmoid(gates[..., :n])
    f = sigmoid(gates[..., n : 2 * n])
    g = tanh(gates[..., 2 * n : 3 * n])
    o = sigmoid(gates[..., 3 * n :])
    c2 = f * c + i * g
    return o * tanh(c2), c2


def gru_cell(x: Any, h: Any, w_ih: Any, w_hh: Any, b_ih: Any = None, b_hh: Any = None) -> Tensor:
    """One GRU step from primitive ops (``r`` applied to ``W_hn h + b_hn``, as PyTorch does)."""
    n = np.shape(w_hh)[1]
    gi = _linear(x, w_ih, b_ih)
    gh = _linear(h, w_hh, b_hh)
    r = sigmoid(gi[..., :n] + gh[..., :n])
    z = sigmoid(gi[..., n : 2 * n] + gh[..., n : 2 * n])
    cand = tanh(gi[..., 2 * n :] + r * gh[..., 2 * n :])
    return cand + z * (h - cand)  # (1 − z) n + z h


def _steps(steps: int, reverse: bool) -> range:
    return range(steps - 1, -1, -1) if reverse else range(steps)


def _valid(lengths: np.ndarray | None, steps: int) -> np.ndarray | None:
    """``(time, batch, 1)`` booleans: whether step ``t`` is inside sequence ``b`` (None: all are)."""
    if lengths is None:
        return None
    return (np.arange(steps)[:, None] < lengths[None, :])[:, :, None]


def _bias(b: Any) -> Any:
    """A bias input: None where the layer has none (the fused ops take the number 0.0 for it)."""
    return None if isinstance(b, float) else b


def _composite(
    kind: str, x: Any, w_ih: Any, b_ih: Any, h0: Any, c0: Any, w_hh: Any, b_hh: Any, lengths: Any, reverse: bool
) -> Tensor:
    """A fused op's output computed step by step from primitive ops (the same layout)."""
    steps = np.shape(x)[0]
    valid = _valid(lengths, steps)
    b_ih, b_hh = _bias(b_ih), _bias(b_hh)
    h, c = h0, c0
    ys: list[Any] = [None] * steps
    for t in _steps(steps, reverse):
        if kind == "lstm":
            h2, c2 = lstm_cell(x[t], h, c, w_ih, w_hh, b_ih, b_hh)
        elif kind == "gru":
            h2, c2 = gru_cell(x[t], h, w_ih, w_hh, b_ih, b_hh), None
        else:
            h2, c2 = rnn_cell(x[t], h, w_ih, w_hh, b_ih, b_hh, relu=kind == "rnn_relu"), None
        if valid is None:
            ys[t], h, c = h2, h2, c2
        else:
            ys[t] = where(valid[t], h2, 0.0)
            h = where(valid[t], h2, h)
            c = None if c2 is None else where(valid[t], c2, c)
    return stack(ys + ([h] if c is None else [h, c]), axis=0)


# ============================================================== the fused ops: helpers


def _sigmoid_(a: np.ndarray) -> None:
    """``a ← σ(a) = 1 / (1 + e^−a)`` in place (e^−a overflows to inf for a < −709: σ is then 0)."""
    np.negative(a, out=a)
    np.exp(a, out=a)
    a += 1
    np.reciprocal(a, out=a)


def _times_dtanh_(d: np.ndarray, y: np.ndarray) -> None:
    """``d ← d ⊙ tanh'`` in place, from ``y = tanh(a)``: ``tanh' = 1 − y²``."""
    tmp = y * y
    np.subtract(1, tmp, out=tmp)
    d *= tmp


def _project(
    x: np.ndarray, w_ih: np.ndarray, bias: Any, out: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``x W_ihᵀ + bias`` for all steps at once, ``(time, batch, rows)`` (into ``out`` if given), and
    ``x`` as ``(time·batch, features)``."""
    steps, batch, features = x.shape
    x2 = x.reshape(steps * batch, features)  # a copy only when x is not time-major in memory
    acts = np.matmul(x2, w_ih.T, out=None if out is None else out.reshape(steps * batch, -1))
    if bias is not None:
        acts += bias
    return acts.reshape(steps, batch, -1), x2


def _sum_biases(b_ih: Any, b_hh: Any) -> np.ndarray | None:
    b_ih, b_hh = _bias(b_ih), _bias(b_hh)
    if b_ih is None or b_hh is None:
        return b_ih if b_hh is None else b_hh
    return b_ih + b_hh


def _hidden_weight_grad(d: np.ndarray, states: np.ndarray, h0: np.ndarray, reverse: bool) -> np.ndarray:
    """``Σ_t d[t]ᵀ h_prev(t)``, ``h_prev(t)`` the state before step ``t``: ``states`` (the state after
    each step) shifted by one step in the loop's order, ``h0`` before the first, in two products."""
    steps, _, rows = d.shape
    if reverse:  # step t follows step t + 1
        gw = d[steps - 1].T @ h0
        fed, before = d[: steps - 1], states[1:steps]
    else:
        gw = d[0].T @ h0
        fed, before = d[1:], states[: steps - 1]
    if steps > 1:
        gw += fed.reshape(-1, rows).T @ before.reshape(-1, states.shape[2])
    return gw


class _Recurrence(Function):
    """What the three fused layers share: second derivatives (through the same layer built from
    primitive ops), the gradients of the input projection, the saved activations' hand-over.

    Inputs ``x, w_ih, b_ih, h0, [c0,] w_hh, b_hh`` (a bias may be the number 0.0: no bias);
    keywords ``lengths`` (an int array, or None) and ``reverse``. Under ``create_graph``
    the backward recomputes the layer from primitive ops and differentiates that graph, so
    second derivatives are exact.
    """

    name = ""  # a base class of ops, not an op
    kind = ""

    def backward(self, g, out, *xs):
        if isinstance(out, Tensor):  # create_graph: differentiate the same layer built from primitive ops
            return self._recorded_vjp(g, xs)
        return self.vjp(g, out, *xs)

    def vjp(self, g: np.ndarray, out: np.ndarray, *xs: Any) -> tuple[Any, ...]:
        raise NotImplementedError

    def _recorded_vjp(self, g: Any, xs: tuple[Any, ...]) -> tuple[Any, ...]:
        if self.kind == "lstm":
            x, w_ih, b_ih, h0, c0, w_hh, b_hh = xs
        else:
            (x, w_ih, b_ih, h0, w_hh, b_hh), c0 = xs, None
        y = _composite(self.kind, x, w_ih, b_ih, h0, c0, w_hh, b_hh, self.lengths, self.reverse)
        tracked = [i for i in range(len(xs)) if self.needs(i)]
        found = gradients(y, [xs[i] for i in tracked], grad=g, create_graph=True)
        grads: list[Any] = [None] * len(xs)
        for i, gi in zip(tracked, found):
            grads[i] = gi
        return tuple(grads)

    def jvp(self, ds: tuple[Any, ...], out: Any, *xs: Any) -> Any:
        """Forward mode through the same layer built from primitive ops (as second derivatives go):
        the tangent of :func:`_composite`'s output, each input carrying its tangent in a level of its
        own, so about one step-by-step pass of the layer."""
        with _forward.level() as lv:
            ins = []
            for x, d in zip(xs, ds):
                if isinstance(x, Tensor):  # (a recorded copy: it keeps its graph and the outer levels' tangents)
                    x = Clone.apply(x)
                elif d is not None:
                    x = Tensor._make(np.asarray(x), None)
                if d is not None:
                    lv.put(x, d)
                ins.append(x)
            if self.kind == "lstm":
                x, w_ih, b_ih, h0, c0, w_hh, b_hh = ins
            else:
                (x, w_ih, b_ih, h0, w_hh, b_hh), c0 = ins, None
            y = _composite(self.kind, x, w_ih, b_ih, h0, c0, w_hh, b_hh, self.lengths, self.reverse)
            d = lv.get(y)
        return None if d is None else d if isinstance(out, Tensor) or type(d) is np.ndarray else d.data

    def _input_grads(
        self, d_in: np.ndarray, x2: np.ndarray, w_ih: np.ndarray, x_shape: tuple[int, ...]
    ) -> tuple[Any, Any, Any]:
        """Gradients of ``x``, ``W_ih`` and ``b_ih`` from ``d_in``, the gradient of ``x W_ihᵀ + b_ih``."""
        d2 = d_in.reshape(-1, d_in.shape[2])
        gx = (d2 @ w_ih).reshape(x_shape) if self.needs(0) else None
        gw = d2.T @ x2 if self.needs(1) else None
        gb = d2.sum(axis=0) if self.needs(2) else None
        return gx, gw, gb

    def _start(self, lengths: Any, reverse: bool) -> None:
        self.lengths = lengths
        self.reverse = reverse

    def _consume(self, *xs: Any) -> tuple[np.ndarray, ...]:
        """The arrays the forward saved, handed over to the backward, which overwrites them (so it
        needs no second array of their size); a second backward through a retained graph
        recomputes them first."""
        if self.saved is None:
            self.forward(*xs, **self._keywords())
        saved, self.saved = self.saved, None
        return saved

    def _keywords(self) -> dict[str, Any]:
        return {"lengths": self.lengths, "reverse": self.reverse}

    def explain(self, err: Exception, xs: tuple[Any, ...]) -> str:
        shapes = ", ".join(str(np.shape(x)) for x in xs)
        return f"{self.name}: {err} (input shapes {shapes})"

    def to_onnx(self, builder: OnnxBuilder, inputs: list[str], output: str) -> None:
        _onnx_layer(builder, self.kind, inputs, output, self.lengths, self.reverse)


# ============================================================== LSTM


class LSTMLayer(_Recurrence):
    """One LSTM layer in one direction over a sequence, as one op (see the module docstring).

    Inputs ``x (T, B, I)``, ``w_ih (4H, I)``, ``b_ih (4H,)``, ``h0 (B, H)``, ``c0 (B, H)``,
    ``w_hh (4H, H)``, ``b_hh (4H,)``; output ``(T + 2, B, H)``: every step's ``h``, then the
    final ``h`` and ``c``.

    Forward, per step, on the ``(B, 4H)`` block: the rows of the weights that feed ``σ`` are
    halved once per call (exact: a power of two), so that one ``tanh`` over the whole block
    gives ``tanh`` for ``g`` and ``tanh(z/2)`` for the others, and ``σ(z) = (1 + tanh(z/2)) / 2``
    is one scale and one shift of the block. Backward through time, per step from the last
    (``dh``, ``dc`` the gradients reaching ``h'``, ``c'``; ``τ = tanh(c')``)::

        dc ← dc + dh ⊙ o ⊙ (1 − τ²)
        dA = [dc ⊙ g, dc ⊙ c, dc ⊙ i, dh ⊙ τ] ⊙ [i (1 − i), f (1 − f), 1 − g², o (1 − o)]
        dh_prev = dA W_hh,   dc_prev = dc ⊙ f

    ``dA``, the gradient of the gates' pre-activations, overwrites the saved activations step
    by step (a second backward through a retained graph recomputes them first).
    """

    name = "lstm"
    kind = "lstm"

    def forward(self, x, w_ih, b_ih, h0, c0, w_hh, b_hh, lengths=None, reverse=False):
        self._start(lengths, reverse)
        steps, batch, _ = x.shape
        n = w_hh.shape[1]
        half = np.ones(4 * n, dtype=w_hh.dtype)
        half[: 2 * n] = half[3 * n :] = 0.5  # the rows of i, f and o
        shift = half.copy()
        shift[2 * n : 3 * n] = 0  # g: tanh as it is
        bias = _sum_biases(b_ih, b_hh)
        dtype = np.result_type(x, w_ih, w_hh)
        # One allocation for what the backward reads (the gates, c and tanh(c) of every step): fewer,
        # larger blocks, which the allocator keeps from one call to the next (fresh pages cost faults).
        saved = np.empty((6, steps, batch, n), dtype=dtype)
        acts, x2 = _project(x, w_ih * half[:, None], None if bias is None else bias * half, out=saved[:4])
        cs, taus = saved[4], saved[5]  # c after each step, tanh(c')
        w_hh_t = (w_hh * half[:, None]).T
        valid = _valid(lengths, steps)
        out = np.empty((steps + 2, batch, n), dtype=acts.dtype)
        hs = out if valid is None else np.empty((steps, batch, n), dtype=acts.dtype)  # h after each step
        hidden = np.empty((batch, 4 * n), dtype=acts.dtype)  # W_hh h, one buffer for every step
        h, c = h0, c0
        for t in _steps(steps, reverse):
            a = acts[t]
            a += np.matmul(h, w_hh_t, out=hidden)
            np.tanh(a, out=a)
            a *= half  # σ = (1 + tanh(z/2)) / 2 for i, f, o; g stays tanh(z)
            a += shift
            i, f, g, o = a[:, :n], a[:, n : 2 * n], a[:, 2 * n : 3 * n], a[:, 3 * n :]
            c2 = np.multiply(f, c, out=cs[t])
            c2 += i * g
            tau = np.tanh(c2, out=taus[t])
            h2 = np.multiply(o, tau, out=hs[t])
            if valid is not None:
                m = valid[t]
                np.multiply(h2, m, out=out[t])
                np.copyto(h2, h, where=~m)
                np.copyto(c2, c, where=~m)
            h, c = h2, c2
        out[steps] = h
        out[steps + 1] = c
        self.saved = (acts, x2, cs, taus, hs)
        return out

    def vjp(self, g, out, x, w_ih, b_ih, h0, c0, w_hh, b_hh):
        acts, x2, cs, taus, hs = self._consume(x, w_ih, b_ih, h0, c0, w_hh, b_hh)
        steps, batch, n = cs.shape
        valid = _valid(self.lengths, steps)
        # σ' = s (1 − s) for i, f, o and tanh' = 1 − g² for g, as one expression: a (k1 − a) + k0
        k1 = np.ones(4 * n, dtype=acts.dtype)
        k1[2 * n : 3 * n] = 0
        k0 = 1 - k1
        deriv = np.empty((batch, 4 * n), dtype=acts.dtype)
        dh = g[steps].copy()
        dc = g[steps + 1].copy()
        first = steps - 1 if self.reverse else 0
        for t in _steps(steps, not self.reverse):
            c_prev = c0 if t == first else cs[t + 1 if self.reverse else t - 1]
            a, tau = acts[t], taus[t]
            i, f, gg, o = a[:, :n], a[:, n : 2 * n], a[:, 2 * n : 3 * n], a[:, 3 * n :]
            if valid is None:
                dh += g[t]
            else:
                m = valid[t]
                dh += g[t] * m
            tmp = np.multiply(tau, tau)
            np.subtract(1, tmp, out=tmp)
            tmp *= o
            tmp *= dh
            if valid is not None:
                tmp *= m
            dc += tmp
            np.subtract(k1, a, out=deriv)
            deriv *= a
            deriv += k0
            # the block becomes [dc ⊙ g, dc ⊙ c, dc ⊙ i, dh ⊙ τ] (in an order that reads each value before it goes)
            dc_prev = dc * f
            np.multiply(dc, c_prev, out=f)
            np.multiply(dh, tau, out=o)
            di = dc * gg
            np.multiply(dc, i, out=gg)
            i[...] = di
            a *= deriv
            if valid is None:
                dc = dc_prev
                dh = a @ w_hh
            else:  # past a sequence's end its state was carried over unchanged: so is its gradient
                a *= m
                dc = np.where(m, dc_prev, dc)
                carried = dh * ~m
                dh = a @ w_hh
                dh += carried
        gx, gw_ih, gb_ih = self._input_grads(acts, x2, w_ih, x.shape)
        gw_hh = _hidden_weight_grad(acts, hs[:steps], h0, self.reverse) if self.needs(5) else None
        gb_hh = acts.sum(axis=(0, 1)) if self.needs(6) else None
        return gx, gw_ih, gb_ih, (dh if self.needs(3) else None), (dc if self.needs(4) else None), gw_hh, gb_hh


# ============================================================== GRU


class GRULayer(_Recurrence):
    """One GRU layer in one direction over a sequence, as one op (see the module docstring).

    Inputs ``x (T, B, I)``, ``w_ih (3H, I)``, ``b_ih (3H,)``, ``h0 (B, H)``, ``w_hh (3H, H)``,
    ``b_hh (3H,)``; output ``(T + 1, B, H)``: every step's ``h``, then the final ``h``. With
    ``a = W_hn h + b_hn``, backward through time per step from the last::

        dz = dh ⊙ (h − n),   dn = dh ⊙ (1 − z) ⊙ (1 − n²),   dr = dn ⊙ a,   da = dn ⊙ r
        dh_prev = dh ⊙ z + [dr ⊙ σ', dz ⊙ σ', da] W_hh

    and ``[dr ⊙ σ', dz ⊙ σ', dn]`` is the gradient of the input projection ``W_ih x + b_ih``.
    """

    name = "gru"
    kind = "gru"

    def forward(self, x, w_ih, b_ih, h0, w_hh, b_hh, lengths=None, reverse=False):
        self._start(lengths, reverse)
        steps, batch, _ = x.shape
        n = w_hh.shape[1]
        b_ih, b_hh = _bias(b_ih), _bias(b_hh)
        saved = np.empty((4, steps, batch, n), dtype=np.result_type(x, w_ih, w_hh))  # one block (see LSTMLayer)
        acts, x2 = _project(x, w_ih, b_ih, out=saved[:3])  # r, z: their hidden biases are added here too
        if b_hh is not None:
            acts[:, :, : 2 * n] += b_hh[: 2 * n]
        hns = saved[3]  # W_hn h + b_hn
        valid = _valid(lengths, steps)
        out = np.empty((steps + 1, batch, n), dtype=acts.dtype)
        hs = out if valid is None else np.empty((steps, batch, n), dtype=acts.dtype)
        w_hh_t = w_hh.T
        h = h0
        with np.errstate(over="ignore"):
            for t in _steps(steps, reverse):
                a = acts[t]
                gh = h @ w_hh_t
                rz = a[:, : 2 * n]
                rz += gh[:, : 2 * n]
                _sigmoid_(rz)
                hn = hns[t]
                if b_hh is None:
                    hn[...] = gh[:, 2 * n :]
                else:
                    np.add(gh[:, 2 * n :], b_hh[2 * n :], out=hn)
                cand = a[:, 2 * n :]
                cand += a[:, :n] * hn
                np.tanh(cand, out=cand)
                h2 = np.subtract(h, cand, out=hs[t])
                h2 *= a[:, n : 2 * n]
                h2 += cand
                if valid is not None:
                    m = valid[t]
                    np.multiply(h2, m, out=out[t])
                    np.copyto(h2, h, where=~m)
                h = h2
        out[steps] = h
        self.saved = (acts, x2, hns, hs)
        return out

    def vjp(self, g, out, x, w_ih, b_ih, h0, w_hh, b_hh):
        acts, x2, hns, hs = self._consume(x, w_ih, b_ih, h0, w_hh, b_hh)
        steps, _, n = hns.shape
        valid = _valid(self.lengths, steps)
        d_hid = np.empty_like(acts)  # gradient of W_hh h + b_hh (acts becomes that of W_ih x + b_ih)
        dh = g[steps].copy()
        first = steps - 1 if self.reverse else 0
        for t in _steps(steps, not self.reverse):
            h_prev = h0 if t == first else hs[t + 1 if self.reverse else t - 1]
            a, dd = acts[t], d_hid[t]
            if valid is None:
                dh += g[t]
            else:
                m = valid[t]
                dh += g[t] * m
            r, z, cand = a[:, :n], a[:, n : 2 * n], a[:, 2 * n :]
            carried = dh * z if valid is None else dh * np.where(m, z, 1)
            dn = np.subtract(1, z)
            dn *= dh
            _times_dtanh_(dn, cand)
            dz = np.subtract(h_prev, cand)
            dz *= dh
            np.multiply(dn, r, out=dd[:, 2 * n :])
            dr = dn * hns[t]
            rz = a[:, : 2 * n]  # becomes σ' = s (1 − s), then the gradients of r and z
            deriv = 1 - rz
            rz *= deriv
            r *= dr
            z *= dz
            cand[...] = dn
            if valid is not None:
                a *= m
                dd[:, 2 * n :] *= m
            dd[:, : 2 * n] = rz
            dh = dd @ w_hh
            dh += carried
        gx, gw_ih, gb_ih = self._input_grads(acts, x2, w_ih, x.shape)
        gw_hh = _hidden_weight_grad(d_hid, hs[:steps], h0, self.reverse) if self.needs(4) else None
        gb_hh = d_hid.sum(axis=(0, 1)) if self.needs(5) else None
        return gx, gw_ih, gb_ih, (dh if self.needs(3) else None), gw_hh, gb_hh


# ============================================================== RNN


class RNNLayer(_Recurrence):
    """One Elman RNN layer (tanh, or relu with ``relu=True``) in one direction, as one op.

    Inputs ``x (T, B, I)``, ``w_ih (H, I)``, ``b_ih (H,)``, ``h0 (B, H)``, ``w_hh (H, H)``,
    ``b_hh (H,)``; output ``(T + 1, B, H)``: every step's ``h``, then the final ``h``. Backward
    through time, per step from the last: ``dA = dh ⊙ (1 − h'²)`` (relu: ``dh ⊙ [h' > 0]``),
    ``dh_prev = dA W_hh``; ``dA`` is the gradient of both projections.
    """

    name = "rnn"

    def forward(self, x, w_ih, b_ih, h0, w_hh, b_hh, lengths=None, reverse=False, relu=False):
        self._start(lengths, reverse)
        self.kind = "rnn_relu" if relu else "rnn_tanh"
        steps, batch, _ = x.shape
        n = w_hh.shape[1]
        acts, x2 = _project(x, w_ih, _sum_biases(b_ih, b_hh))
        valid = _valid(lengths, steps)
        out = np.empty((steps + 1, batch, n), dtype=acts.dtype)
        hs = out if valid is None else np.empty((steps, batch, n), dtype=acts.dtype)
        w_hh_t = w_hh.T
        h = h0
        for t in _steps(steps, reverse):
            h2 = np.matmul(h, w_hh_t, out=hs[t])
            h2 += acts[t]
            if relu:
                np.maximum(h2, 0, out=h2)
            else:
                np.tanh(h2, out=h2)
            if valid is not None:
                m = valid[t]
                np.multiply(h2, m, out=out[t])
                np.copyto(h2, h, where=~m)
            h = h2
        out[steps] = h
        self.saved = (x2, hs)
        return out

    def _keywords(self) -> dict[str, Any]:
        return {**super()._keywords(), "relu": self.kind == "rnn_relu"}

    def vjp(self, g, out, x, w_ih, b_ih, h0, w_hh, b_hh):
        x2, hs = self.saved
        steps, batch, n = x.shape[0], hs.shape[1], hs.shape[2]
        valid = _valid(self.lengths, steps)
        d = np.empty((steps, batch, n), dtype=hs.dtype)
        dh = g[steps].copy()
        for t in _steps(steps, not self.reverse):
            dt = d[t]
            if valid is None:
                dh += g[t]
            else:
                m = valid[t]
                dh += g[t] * m
            if self.kind == "rnn_relu":
                np.multiply(dh, hs[t] > 0, out=dt)
            else:
                np.multiply(dh, 1 - hs[t] * hs[t], out=dt)
            if valid is None:
                dh = dt @ w_hh
            else:
                dt *= m
                carried = dh * ~m
                dh = dt @ w_hh
                dh += carried
        gx, gw_ih, gb_ih = self._input_grads(d, x2, w_ih, x.shape)
        gw_hh = _hidden_weight_grad(d, hs[:steps], h0, self.reverse) if self.needs(4) else None
        gb_hh = d.sum(axis=(0, 1)) if self.needs(5) else None
        return gx, gw_ih, gb_ih, (dh if self.needs(3) else None), gw_hh, gb_hh


# ============================================================== ONNX forms

#: ONNX's op for each kind of layer, with its attributes.
_ONNX_OPS: dict[str, tuple[str, dict[str, Any]]] = {
    "lstm": ("LSTM", {}),
    "gru": ("GRU", {"linear_before_reset": 1}),  # r ⊙ (W_hn h + b_hn), as PyTorch
    "rnn_tanh": ("RNN", {"activations": ["Tanh"]}),
    "rnn_relu": ("RNN", {"activations": ["Relu"]}),
}
#: Where ONNX's ``LSTM`` and ``GRU`` find each of their gates among ours (blocks of ``hidden`` rows).
_ONNX_GATES = {"lstm": (0, 3, 1, 2), "gru": (1, 0, 2)}  # i, o, f, c of i, f, g, o; z, r, h of r, z, n


def _onnx_layer(
    b: OnnxBuilder, kind: str, inputs: list[str], output: str, lengths: np.ndarray | None, reverse: bool
) -> None:
    """A fused layer's ONNX form: ONNX's own op in float32 (onnxruntime has it for float32 only),
    the equations in a ``Scan`` over the steps otherwise; ``output`` as the fused op's, every
    step's output and then the final ``h`` (and ``c``) stacked along the time axis."""
    dt = np.dtype(b.dtype(output))
    if kind == "lstm":
        x, w_ih, b_ih, h0, c0, w_hh, b_hh = inputs
    else:
        (x, w_ih, b_ih, h0, w_hh, b_hh), c0 = inputs, None
    n = b.dims(w_hh)[1].size
    x, w_ih, w_hh = (b.cast(v, dt) for v in (x, w_ih, w_hh))
    # no bias (the number 0.0) and a state of constant zeros (the default) are left out
    bi, bh = (None if _zero(b, v, number=True) else b.cast(v, dt) for v in (b_ih, b_hh))
    h, c = (None if v is None or _zero(b, v) else b.cast(v, dt) for v in (h0, c0))
    seq = None
    if lengths is not None:  # an index input of the graph (any batch), or a constant
        seq = b.traced(lengths) or b.const(np.asarray(lengths, dtype=np.int64), name="lengths")
    write = _onnx_op if dt == np.float32 else _onnx_scan
    b.op("Concat", *write(b, kind, x, w_ih, bi, h, c, w_hh, bh, seq, reverse, n, dt), out=output, axis=0)


def _zero(b: OnnxBuilder, name: str, number: bool = False) -> bool:
    """Whether ``name`` is a constant of zeros (with ``number``: the number 0, not a parameter)."""
    value = b.constant(name)
    return value is not None and not value.any() and (value.ndim == 0 or not number)


def _blocks(b: OnnxBuilder, w: str, n: int, order: tuple[int, ...]) -> str:
    """``w``'s blocks of ``n`` rows (its gates) in ONNX's ``order``."""
    sizes = b.const(np.full(len(order), n, dtype=np.int64), name="split")
    parts = b.op("Split", w, sizes, out=[b.fresh("gate") for _ in order], axis=0)
    return b.op("Concat", *(parts[k] for k in order), axis=0)


def _onnx_op(
    b: OnnxBuilder, kind: str, x: str, w_ih: str, b_ih: Any, h0: Any, c0: Any, w_hh: str, b_hh: Any,
    seq: Any, reverse: bool, n: int, dt: np.dtype,
) -> list[str]:  # fmt: skip
    """ONNX's ``RNN``, ``LSTM`` or ``GRU`` node; returns ``Y`` as ``(time, batch, hidden)``, then ``Y_h``
    (and ``Y_c``), ``(1, batch, hidden)``."""
    order = _ONNX_GATES.get(kind)
    zero = b.const(np.array([0], dtype=np.int64), name="axes")

    def onnx_form(*vs: str) -> str:  # gates reordered, side by side, with a leading axis for the one direction
        gated = [v if order is None else _blocks(b, v, n, order) for v in vs]
        return b.op("Unsqueeze", gated[0] if len(vs) == 1 else b.op("Concat", *gated, axis=0), zero)

    bias = None
    if b_ih is not None or b_hh is not None:  # ONNX's B: [W_b, R_b]
        missing = b.const(np.zeros(GATES[kind] * n, dtype=dt), name="bias")
        bias = onnx_form(missing if b_ih is None else b_ih, missing if b_hh is None else b_hh)
    op_type, attrs = _ONNX_OPS[kind]
    given = [
        x,
        onnx_form(w_ih),
        onnx_form(w_hh),
        bias,
        None if seq is None else b.op("Cast", seq, to=b.onnx_dtype(np.int32)),
        None if h0 is None else b.op("Unsqueeze", h0, zero),
    ]
    if kind == "lstm":
        given.append(None if c0 is None else b.op("Unsqueeze", c0, zero))
    outs = [b.fresh(op_type.lower() + "_" + v) for v in ("y", "h", "c")[: 3 if kind == "lstm" else 2]]
    b.op(op_type, *given, out=outs, hidden_size=n, direction="reverse" if reverse else "forward", **attrs)
    y = b.op("Squeeze", outs[0], b.const(np.array([1], dtype=np.int64), name="axes"))  # (time, 1, batch, hidden)
    return [y, *outs[1:]]


def _onnx_scan(
    b: OnnxBuilder, kind: str, x: str, w_ih: str, b_ih: Any, h0: Any, c0: Any, w_hh: str, b_hh: Any,
    seq: Any, reverse: bool, n: int, dt: np.dtype,
) -> list[str]:  # fmt: skip
    """The layer's equations, as the fused op computes them, in a ``Scan`` over the time steps:
    the input projection of every step before it (one ``MatMul``), one product with ``W_hh`` and
    the gates per step; past a sequence's end the state is kept and the output is 0. Returns
    every step's ``h`` ``(time, batch, hidden)``, then the final ``h`` (and ``c``) ``(1, batch, hidden)``."""
    onnx = b.onnx
    gru = kind == "gru"
    acts = b.op("MatMul", x, b.op("Transpose", w_ih, perm=[1, 0]))  # (time, batch, gates·hidden)
    biases = [v for v in ((b_ih,) if gru else (b_ih, b_hh)) if v is not None]  # the GRU's b_hn: r ⊙ (W_hn h + b_hn)
    if biases:
        acts = b.op("Add", acts, biases[0] if len(biases) == 1 else b.op("Add", *biases))
    w_hh_t = b.op("Transpose", w_hh, perm=[1, 0])
    shape = b.op("Shape", x)
    ints = lambda *k: b.const(np.array(k, dtype=np.int64), name="ints")  # noqa: E731
    if h0 is None or (kind == "lstm" and c0 is None):  # zeros of (batch, hidden)
        size = b.op("Concat", b.op("Slice", shape, ints(1), ints(2)), ints(n), axis=0)
        zeros = b.op("ConstantOfShape", size, value=onnx.numpy_helper.from_array(np.zeros(1, dtype=dt)))
        h0 = zeros if h0 is None else h0
        c0 = zeros if kind == "lstm" and c0 is None else c0
    scanned = [acts]
    if seq is not None:  # valid[t, b] = t < lengths[b], (time, batch, 1)
        steps = b.op("Gather", shape, b.const(np.array(0, dtype=np.int64), name="index"))
        t = b.op("Range", b.const(np.array(0, dtype=np.int64)), steps, b.const(np.array(1, dtype=np.int64)))
        valid = b.op("Less", b.op("Unsqueeze", t, ints(1)), b.op("Unsqueeze", b.cast(seq, np.int64), ints(0)))
        scanned.append(b.op("Unsqueeze", valid, ints(2)))
    states = [b.fresh("h")] + ([b.fresh("c")] if kind == "lstm" else [])
    a, m = b.fresh("a"), b.fresh("valid")
    with b.subgraph() as nodes:
        h = states[0]
        sizes = ints(*[n] * GATES[kind])

        def gates(v: str) -> list[str]:
            return b.op("Split", v, sizes, out=[b.fresh("gate") for _ in range(GATES[kind])], axis=1)

        hidden = b.op("MatMul", h, w_hh_t)
        if kind == "lstm":
            i, f, g, o = gates(b.op("Add", a, hidden))
            i, f, o, g = (*(b.op("Sigmoid", v) for v in (i, f, o)), b.op("Tanh", g))
            c2 = b.op("Add", b.op("Mul", f, states[1]), b.op("Mul", i, g))
            new = [b.op("Mul", o, b.op("Tanh", c2)), c2]
        elif gru:
            if b_hh is not None:
                hidden = b.op("Add", hidden, b_hh)
            (ar, az, an), (hr, hz, hn) = gates(a), gates(hidden)
            r, z = b.op("Sigmoid", b.op("Add", ar, hr)), b.op("Sigmoid", b.op("Add", az, hz))
            cand = b.op("Tanh", b.op("Add", an, b.op("Mul", r, hn)))
            new = [b.op("Add", cand, b.op("Mul", z, b.op("Sub", h, cand)))]  # (1 − z) n + z h
        else:
            new = [b.op("Relu" if kind == "rnn_relu" else "Tanh", b.op("Add", a, hidden))]
        if seq is None:
            outs = [*new, b.op("Identity", new[0])]
        else:  # past its end a sequence keeps its state and outputs 0
            outs = [b.op("Where", m, v, s) for v, s in zip(new, states)]
            outs.append(b.op("Where", m, new[0], b.const(np.zeros((), dtype=dt), name="zero")))
    body = onnx.helper.make_graph(
        nodes,
        f"{kind}_step",
        [b.value_info(v, dt) for v in states] + [b.value_info(a, dt)] + ([b.value_info(m, bool)] if seq else []),
        [b.value_info(v, dt) for v in outs],
    )
    results = [b.fresh(v) for v in ("h_n", "c_n")[: len(states)]] + [b.fresh("ys")]
    direction = [int(reverse)]
    b.op(
        "Scan", h0, *([c0] if kind == "lstm" else []), *scanned, out=results, body=body,
        num_scan_inputs=len(scanned), scan_input_directions=direction * len(scanned), scan_output_directions=direction,
    )  # fmt: skip
    return [results[-1], *(b.op("Unsqueeze", v, ints(0)) for v in results[:-1])]


# ============================================================== one entry point


def recurrence(
    kind: str,
    x: Any,
    w_ih: Any,
    w_hh: Any,
    b_ih: Any = None,
    b_hh: Any = None,
    h0: Any = None,
    c0: Any = None,
    lengths: np.ndarray | None = None,
    reverse: bool = False,
    fused: bool = True,
) -> Tensor:
    """One layer, one direction, over the time-major sequence ``x`` ``(time, batch, features)``.

    ``kind`` is ``"rnn_tanh"``, ``"rnn_relu"``, ``"lstm"`` or ``"gru"``; ``h0`` (and for the LSTM
    ``c0``) of shape ``(batch, hidden)`` default to zeros; ``lengths`` an int array, one per
    sequence (see the module docstring). Returns ``(time + 1, batch, hidden)``: every step's
    output, then the final ``h``; for the LSTM ``(time + 2, ...)``, the final ``c`` last.
    ``fused=False`` builds the same from primitive ops (the reference the fused ops are tested
    against). The shapes are the caller's to check (the layer modules do).
    """
    shape = np.shape(x.data if isinstance(x, Tensor) else x)
    dtype = (w_hh.data if isinstance(w_hh, Tensor) else np.asarray(w_hh)).dtype
    n = np.shape(w_hh)[1]
    zeros = None
    if h0 is None or (kind == "lstm" and c0 is None):
        zeros = np.zeros((shape[1], n), dtype=dtype)
    h0 = zeros if h0 is None else h0
    c0 = zeros if c0 is None else c0
    if not fused:
        return _composite(kind, x, w_ih, b_ih, h0, c0 if kind == "lstm" else None, w_hh, b_hh, lengths, reverse)
    b_ih = 0.0 if b_ih is None else b_ih
    b_hh = 0.0 if b_hh is None else b_hh
    if kind == "lstm":
        return LSTMLayer.apply(x, w_ih, b_ih, h0, c0, w_hh, b_hh, lengths=lengths, reverse=reverse)
    if kind == "gru":
        return GRULayer.apply(x, w_ih, b_ih, h0, w_hh, b_hh, lengths=lengths, reverse=reverse)
    return RNNLayer.apply(x, w_ih, b_ih, h0, w_hh, b_hh, lengths=lengths, reverse=reverse, relu=kind == "rnn_relu")
