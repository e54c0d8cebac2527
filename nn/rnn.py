"""Recurrent layers: ``RNN``, ``LSTM`` and ``GRU`` (stacked, bidirectional, with ``lengths``) and
their cells, with PyTorch's equations, gate order, parameter names and shapes.

Weights copied from PyTorch give PyTorch's outputs::

    lstm = nn.LSTM(28, 128, num_layers=2)
    lstm.load_state_dict({k: v.numpy() for k, v in torch_lstm.state_dict().items()})

The maths (and the fused ops with their backward through time) is in
``autograd_core/ops/rnn.py``; these modules hold the parameters, check the input and put
the layers and directions together.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autograd_core import Tensor, tracing
from autograd_core._checks import check_bool, check_choice, check_real
from autograd_core.ops.rnn import GATES, gru_cell, lstm_cell, recurrence, rnn_cell
from autograd_core.ops.shape import Concatenate, GetItem, Stack, Transpose

from . import init as _init
from .module import Module, Parameter, layer_input, positive_int

__all__ = ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"]


def _shape(x: Any) -> tuple[int, ...]:
    return x.shape if isinstance(x, (Tensor, np.ndarray)) else np.shape(x)


def _uniform(rng: np.random.Generator, hidden: int, shape: tuple[int, ...]) -> np.ndarray:
    """PyTorch's initialisation of every recurrent parameter: ``U(−1/√hidden, 1/√hidden)``."""
    bound = 1.0 / np.sqrt(hidden)
    return rng.uniform(-bound, bound, size=shape)


def _lengths(lengths: Any, batch: int, steps: int, where: str) -> np.ndarray | None:
    """``lengths`` checked (whole numbers in ``[1, steps]``, one per sequence, in any order) as an
    int array; None when every sequence is full length (nothing to mask)."""
    if isinstance(lengths, Tensor):
        lengths = lengths.data
    try:
        arr = np.asanyarray(lengths)  # (a traced index input stays itself: ag.compile reads it at every call)
    except ValueError:
        raise ValueError(f"{where}: lengths must be a list of integers, one per sequence") from None
    if arr.dtype.kind not in "iuf" or arr.ndim != 1:
        raise ValueError(
            f"{where}: lengths must be a 1-D list of integers, one per sequence, got "
            f"{'shape ' + str(arr.shape) if arr.dtype.kind in 'iufb' else 'dtype ' + str(arr.dtype)}"
        )
    if arr.shape[0] != batch:
        raise ValueError(f"{where}: {arr.shape[0]} lengths for a batch of {batch} sequences; give one per sequence")
    if tracing.active:  # checked at every call of a compiled program (an effect); kept, so that an export
        return tracing.effect(_checked_lengths, arr, steps, where)  # masks sequences of any length
    arr = _checked_lengths(arr, steps, where)
    return None if (arr == steps).all() else arr


def _checked_lengths(arr: np.ndarray, steps: int, where: str) -> np.ndarray:
    """``arr`` checked (whole numbers in ``[1, steps]``) as an int array (itself when it is one)."""
    if arr.dtype.kind == "f":
        if not (np.isfinite(arr).all() and (arr == np.round(arr)).all()):
            raise ValueError(f"{where}: lengths must be whole numbers, got {arr.tolist()}")
    bad = (arr < 1) | (arr > steps)
    if bad.any():
        i = int(np.argmax(bad))
        value = arr[i].item()
        why = "longer than the sequence" if value > steps else "not positive"
        raise ValueError(
            f"{where}: lengths[{i}] = {value:g} is {why}; each length must be in [1, {steps}] "
            f"(the input has {steps} time steps)"
        )
    return arr.astype(np.intp, copy=False)  # (the same array when it is: a traced index input stays itself)


# ============================================================== the layers


class _Recurrent(Module):
    """What RNN, LSTM and GRU share: the parameters, the checks, the stacking of layers and directions."""

    kind = ""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = True,
        dropout: float = 0.0,
        bidirectional: bool = False,
        rng: np.random.Generator | int | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.input_size = positive_int(input_size, "input_size", name)
        self.hidden_size = positive_int(hidden_size, "hidden_size", name)
        self.num_layers = positive_int(num_layers, "num_layers", name)
        self.bias = check_bool(bias, "bias", name)
        self.batch_first = check_bool(batch_first, "batch_first", name)
        self.dropout = check_real(dropout, "dropout", name, low=0, high=1)
        self.bidirectional = check_bool(bidirectional, "bidirectional", name)
        draw = _init.as_rng(rng, name)
        self.rng = None if rng is None else draw  # the dropout masks' generator (None: nn's)
        dtype = np.dtype(dtype or np.float64)
        rows = GATES[self.kind] * self.hidden_size
        self._names: list[tuple[str, str, str | None, str | None]] = []
        for layer in range(self.num_layers):
            features = self.input_size if layer == 0 else self.hidden_size * self.directions
            for suffix in ("", "_reverse")[: self.directions]:
                names = [f"weight_ih_l{layer}{suffix}", f"weight_hh_l{layer}{suffix}"]
                shapes: list[tuple[int, ...]] = [(rows, features), (rows, self.hidden_size)]
                if self.bias:
                    names += [f"bias_ih_l{layer}{suffix}", f"bias_hh_l{layer}{suffix}"]
                    shapes += [(rows,), (rows,)]
                for n, shape in zip(names, shapes):  # PyTorch's order, which draws and state dicts follow
                    setattr(self, n, Parameter(_uniform(draw, self.hidden_size, shape), dtype=dtype))
                self._names.append((names[0], names[1], *(names[2:] if self.bias else (None, None))))

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    def _where(self) -> str:
        return f"{type(self).__name__}({self.input_size}, {self.hidden_size})"

    def forward(self, x: Any, h0: Any = None, lengths: Any = None) -> tuple[Tensor, Any]:
        """``(output, h_n)`` (LSTM: ``(output, (h_n, c_n))``) for the sequence ``x``.

        ``x`` is ``(batch, time, features)`` (``(time, batch, features)`` with
        ``batch_first=False``), or ``(time, features)`` for one unbatched sequence. ``h0`` (LSTM:
        ``(h0, c0)``) is ``(layers·directions, batch, hidden)``, zeros by default. ``lengths``
        gives each sequence's length (padded batches): PyTorch's packed-sequence results.
        ``output`` is ``(batch, time, directions·hidden)``; ``h_n`` ``(layers·directions, batch, hidden)``.
        """
        where = self._where()
        w0 = getattr(self, self._names[0][0])
        dtype = (w0.data if isinstance(w0, Tensor) else np.asarray(w0)).dtype
        shape = _shape(x)
        if len(shape) not in (2, 3) or shape[-1] != self.input_size:
            layout = "(batch, time, features)" if self.batch_first else "(time, batch, features)"
            raise ValueError(
                f"{where}: input of shape {tuple(shape)}; expected {layout} with {self.input_size} features "
                f"(the last axis), or (time, {self.input_size}) for one sequence"
            )
        batched = len(shape) == 3
        if not batched:
            if lengths is not None:
                raise ValueError(f"{where}: lengths needs a batch of sequences; this input of shape {shape} is one")
            steps, batch = shape[0], 1
        else:
            steps, batch = (shape[1], shape[0]) if self.batch_first else (shape[0], shape[1])
        if steps == 0:
            raise ValueError(f"{where}: input of shape {tuple(shape)} has no time steps")
        x = layer_input(x, dtype, where)
        if not batched:
            x = x.reshape(steps, 1, self.input_size)
        elif self.batch_first:
            x = Transpose.apply(x, axes=(1, 0, 2))  # time-major inside
        if lengths is not None:
            lengths = _lengths(lengths, batch, steps, where)
        h0, c0 = self._initial(h0, batch, batched, dtype, where)
        dropout = self.dropout if self.training and self.num_layers > 1 else 0.0
        if tracing.active:  # ag.compile: a program draws with this p (0: no draw at all)
            tracing.guard(self, "dropout")
        last = 2 if self.kind == "lstm" else 1  # the final states after the outputs
        finals: list[Any] = []
        cells: list[Any] = []
        inp = x
        for layer in range(self.num_layers):
            outs = []
            for d in range(self.directions):
                k = layer * self.directions + d
                w_ih, w_hh, b_ih, b_hh = (None if n is None else getattr(self, n) for n in self._names[k])
                out = recurrence(
                    self.kind,
                    inp,
                    w_ih,
                    w_hh,
                    b_ih,
                    b_hh,
                    h0=None if h0 is None else h0[k],
                    c0=None if c0 is None else c0[k],
                    lengths=lengths,
                    reverse=d == 1,
                )
                # counted from the end, so that an ONNX export keeps the number of steps free
                outs.append(GetItem.apply(out, index=slice(0, -last)))
                finals.append(GetItem.apply(out, index=-last))
                if last == 2:
                    cells.append(GetItem.apply(out, index=-1))
            inp = outs[0] if len(outs) == 1 else Concatenate.apply(*outs, axis=2)
            if dropout and layer < self.num_layers - 1:
                # a draw: a compiled program draws at every call
                inp = inp * tracing.effect(self._dropout_mask, inp.shape, dropout, inp.dtype)
        if not batched:
            output = inp.reshape(steps, -1)
            h_n = Stack.apply(*finals, axis=0).reshape(len(finals), -1)
            c_n = Stack.apply(*cells, axis=0).reshape(len(cells), -1) if cells else None
        else:
            output = Transpose.apply(inp, axes=(1, 0, 2)) if self.batch_first else inp
            h_n = Stack.apply(*finals, axis=0)
            c_n = Stack.apply(*cells, axis=0) if cells else None
        return output, ((h_n, c_n) if last == 2 else h_n)

    def _initial(self, h0: Any, batch: int, batched: bool, dtype: np.dtype, where: str) -> tuple[Any, Any]:
        """``(h0, c0)`` checked and in the layer's dtype, each ``(layers·directions, batch, hidden)`` or None."""
        if h0 is None:
            return None, None
        if self.kind == "lstm":
            if not isinstance(h0, (tuple, list)) or len(h0) != 2:
                raise ValueError(
                    f"{where}: the initial state of an LSTM is a pair (h0, c0), got a {type(h0).__name__}; "
                    "pass h0=(h0, c0) with both of shape (layers·directions, batch, hidden)"
                )
            pair = [self._state(s, "h0" if i == 0 else "c0", batch, batched, dtype, where) for i, s in enumerate(h0)]
            return pair[0], pair[1]
        return self._state(h0, "h0", batch, batched, dtype, where), None

    def _state(self, s: Any, what: str, batch: int, batched: bool, dtype: np.dtype, where: str) -> Any:
        shape = _shape(s)
        count = self.num_layers * self.directions
        expected = (count, batch, self.hidden_size) if batched else (count, self.hidden_size)
        if tuple(shape) != expected:
            raise ValueError(
                f"{where}: {what} of shape {tuple(shape)}; expected {expected} "
                f"((layers·directions, {'batch, ' if batched else ''}hidden) = ({self.num_layers}·{self.directions}"
                f"{f', {batch}' if batched else ''}, {self.hidden_size}))"
            )
        s = layer_input(s, dtype, where)
        return s if batched else s.reshape(count, 1, self.hidden_size)

    def _dropout_mask(self, shape: tuple[int, ...], p: float, dtype: np.dtype) -> np.ndarray:
        """Inverted dropout's mask, drawn as ``nn.Dropout`` draws it: 1/(1 − p) with probability 1 − p, else 0."""
        if p == 1:
            return np.zeros(shape, dtype=dtype)
        rng = self.rng if self.rng is not None else _init.default_rng()
        mask = (rng.random(shape) >= p).astype(dtype)
        mask *= 1 / (1 - p)
        return mask

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if not self.bias:
            text += ", bias=False"
        if not self.batch_first:
            text += ", batch_first=False"
        if self.dropout:
            text += f", dropout={self.dropout:g}"
        if self.bidirectional:
            text += ", bidirectional=True"
        return text


class RNN(_Recurrent):
    """Elman RNN layers: ``h' = tanh(W_ih x + b_ih + W_hh h + b_hh)`` (``nonlinearity="relu"``: relu).

    ``layer(x, h0=None, lengths=None)`` → ``(output, h_n)``: ``x`` is ``(batch, time, features)``
    (``(time, batch, features)`` with ``batch_first=False``), ``h0`` and ``h_n`` are
    ``(layers·directions, batch, hidden)``, ``output`` is ``(batch, time, directions·hidden)``;
    ``lengths`` (one per sequence) gives PyTorch's packed-sequence results. Parameters
    ``weight_ih_l{k}`` ``(hidden, features)``, ``weight_hh_l{k}`` ``(hidden, hidden)``,
    ``bias_ih_l{k}``, ``bias_hh_l{k}`` (``..._reverse`` for the backward direction), each drawn
    from ``U(−1/√hidden, 1/√hidden)``; ``dropout`` acts on the outputs of every layer but the
    last, in training mode.

    >>> rnn = RNN(3, 5, num_layers=2, rng=0)
    >>> out, h_n = rnn(np.ones((4, 7, 3)))      # 4 sequences of 7 steps
    >>> out.shape, h_n.shape
    ((4, 7, 5), (2, 4, 5))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = True,
        dropout: float = 0.0,
        bidirectional: bool = False,
        rng: np.random.Generator | int | None = None,
        dtype: Any = None,
    ) -> None:
        self.nonlinearity = check_choice(nonlinearity, "nonlinearity", "RNN", ("tanh", "relu"))
        self.kind = f"rnn_{nonlinearity}"
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, rng, dtype)

    def extra_repr(self) -> str:
        text = super().extra_repr()
        return text if self.nonlinearity == "tanh" else f"{text}, nonlinearity='relu'"


class LSTM(_Recurrent):
    """Long short-term memory layers, PyTorch's: gates ``i, f, g, o`` in that order along the rows::

        i, f, o = σ(·), g = tanh(·) of the blocks of W_ih x + b_ih + W_hh h + b_hh
        c' = f ⊙ c + i ⊙ g,   h' = o ⊙ tanh(c')

    ``layer(x, h0=None, lengths=None)`` with ``h0 = (h0, c0)`` → ``(output, (h_n, c_n))``.
    Parameters as :class:`RNN`'s with ``4·hidden`` rows.

    >>> lstm = LSTM(3, 5, bidirectional=True, rng=0)
    >>> out, (h_n, c_n) = lstm(np.ones((4, 7, 3)), lengths=[7, 2, 5, 7])
    >>> out.shape, h_n.shape, float(abs(out.numpy()[1, 2:]).max())   # past its end: zeros
    ((4, 7, 10), (2, 4, 5), 0.0)
    """

    kind = "lstm"


class GRU(_Recurrent):
    """Gated recurrent unit layers, PyTorch's: gates ``r, z, n`` in that order along the rows::

        r, z = σ(·) of the first two blocks of W_ih x + b_ih + W_hh h + b_hh
        n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)),   h' = (1 − z) ⊙ n + z ⊙ h

    ``layer(x, h0=None, lengths=None)`` → ``(output, h_n)``. Parameters as :class:`RNN`'s with
    ``3·hidden`` rows.

    >>> gru = GRU(3, 5, num_layers=2, rng=0)
    >>> out, h_n = gru(np.ones((4, 7, 3)))
    >>> bool(np.allclose(out.numpy()[:, -1], h_n.numpy()[-1]))   # the last layer's last output
    True
    """

    kind = "gru"


# ============================================================== cells


class _Cell(Module):
    """What the cells share: parameters ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh`` and the checks."""

    kind = ""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        rng: np.random.Generator | int | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.input_size = positive_int(input_size, "input_size", name)
        self.hidden_size = positive_int(hidden_size, "hidden_size", name)
        self.bias = check_bool(bias, "bias", name)
        draw = _init.as_rng(rng, name)
        dtype = np.dtype(dtype or np.float64)
        rows = GATES[self.kind] * self.hidden_size
        self.weight_ih = Parameter(_uniform(draw, self.hidden_size, (rows, self.input_size)), dtype=dtype)
        self.weight_hh = Parameter(_uniform(draw, self.hidden_size, (rows, self.hidden_size)), dtype=dtype)
        self.bias_ih: Parameter | None = None
        self.bias_hh: Parameter | None = None
        if self.bias:
            self.bias_ih = Parameter(_uniform(draw, self.hidden_size, (rows,)), dtype=dtype)
            self.bias_hh = Parameter(_uniform(draw, self.hidden_size, (rows,)), dtype=dtype)

    def _where(self) -> str:
        return f"{type(self).__name__}({self.input_size}, {self.hidden_size})"

    def _inputs(self, x: Any, states: list[Any]) -> tuple[Any, list[Any], bool]:
        """``x`` and the states checked and in the cell's dtype; zeros for missing states."""
        where = self._where()
        dtype = self.weight_hh.data.dtype if isinstance(self.weight_hh, Tensor) else np.asarray(self.weight_hh).dtype
        shape = _shape(x)
        if len(shape) not in (1, 2) or shape[-1] != self.input_size:
            raise ValueError(
                f"{where}: input of shape {tuple(shape)}; expected (batch, {self.input_size}), or "
                f"({self.input_size},) for one example"
            )
        batched = len(shape) == 2
        expected = (shape[0], self.hidden_size) if batched else (self.hidden_size,)
        x = layer_input(x, dtype, where)
        checked = []
        for what, s in zip(("h", "c"), states):
            if s is None:
                checked.append(np.zeros(expected, dtype=dtype))
                continue
            if tuple(_shape(s)) != expected:
                raise ValueError(
                    f"{where}: {what} of shape {tuple(_shape(s))}; expected {expected} for an input of shape "
                    f"{tuple(shape)}"
                )
            checked.append(layer_input(s, dtype, where))
        return x, checked, batched

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}{'' if self.bias else ', bias=False'}"


class RNNCell(_Cell):
    """One step of an Elman RNN: ``cell(x, h=None)`` → ``h' = tanh(W_ih x + b_ih + W_hh h + b_hh)``.

    ``x`` is ``(batch, input_size)`` (or ``(input_size,)``), ``h`` ``(batch, hidden)``, zeros
    by default. Parameters as PyTorch's ``RNNCell``: ``weight_ih`` ``(hidden, input)``,
    ``weight_hh``, ``bias_ih``, ``bias_hh``.

    >>> cell = RNNCell(3, 4, rng=0)
    >>> h = None
    >>> for x_t in np.ones((5, 2, 3)):    # a loop over 5 steps of a batch of 2
    ...     h = cell(x_t, h)
    >>> h.shape
    (2, 4)
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        rng: np.random.Generator | int | None = None,
        dtype: Any = None,
    ) -> None:
        self.nonlinearity = check_choice(nonlinearity, "nonlinearity", "RNNCell", ("tanh", "relu"))
        self.kind = f"rnn_{nonlinearity}"
        super().__init__(input_size, hidden_size, bias, rng, dtype)

    def forward(self, x: Any, h: Any = None) -> Tensor:
        x, (h,), _ = self._inputs(x, [h])
        relu = self.nonlinearity == "relu"
        return rnn_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, relu=relu)

    def extra_repr(self) -> str:
        text = super().extra_repr()
        return text if self.nonlinearity == "tanh" else f"{text}, nonlinearity='relu'"


class LSTMCell(_Cell):
    """One LSTM step: ``cell(x, (h, c))`` → ``(h', c')`` (gates ``i, f, g, o``, as :class:`LSTM`).

    ``h`` and ``c`` are ``(batch, hidden)``; ``None`` (or no state) means zeros.

    >>> cell = LSTMCell(3, 4, rng=0)
    >>> h, c = cell(np.ones((2, 3)))
    >>> h, c = cell(np.ones((2, 3)), (h, c))
    >>> h.shape, c.shape
    ((2, 4), (2, 4))
    """

    kind = "lstm"

    def forward(self, x: Any, state: Any = None) -> tuple[Tensor, Tensor]:
        if state is None:
            state = (None, None)
        elif not isinstance(state, (tuple, list)) or len(state) != 2:
            raise ValueError(
                f"{self._where()}: the state of an LSTM cell is a pair (h, c), got a {type(state).__name__}"
            )
        x, (h, c), _ = self._inputs(x, list(state))
        return lstm_cell(x, h, c, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)


class GRUCell(_Cell):
    """One GRU step: ``cell(x, h=None)`` → ``h'`` (gates ``r, z, n``, as :class:`GRU`).

    >>> cell = GRUCell(3, 4, rng=0)
    >>> cell(np.ones((2, 3))).shape
    (2, 4)
    """

    kind = "gru"

    def forward(self, x: Any, h: Any = None) -> Tensor:
        x, (h,), _ = self._inputs(x, [h])
        return gru_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
