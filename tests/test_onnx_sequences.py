"""ONNX export of the sequence layers: RNN, LSTM and GRU (stacked, bidirectional, with ``lengths``
and initial states) and their cells run in onnxruntime like ours for batch sizes and sequence
lengths other than the example's, from one export with ``dynamic_axes=(0, 1)`` (float32 within
1e-5: ONNX's own RNN/LSTM/GRU ops; float64 within 1e-10: the equations in a Scan); GELU and
the normal CDF over their whole range; a sequence classifier exported as docs/how-to/sequences.md shows it;
and a user op whose form has a subgraph."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import autograd_core as ag  # noqa: E402
import nn  # noqa: E402
from autograd_core import Tensor  # noqa: E402
from autograd_core.ops.special import gelu, normal_cdf  # noqa: E402

TOL = {np.float32: 1e-5, np.float64: 1e-10}
EXAMPLE = (4, 6)  # (batch, time) exported with: never one of SHAPES
SHAPES = ((1, 1), (3, 9), (7, 4), (2, 13))
F = 3  # features


def session(model: Any) -> Any:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # the machine is shared
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def run(sess: Any, *arrays: np.ndarray) -> list[np.ndarray]:
    return sess.run(None, {i.name: a for i, a in zip(sess.get_inputs(), arrays)})


def assert_same(ours: Any, theirs: list[np.ndarray], dtype: Any) -> None:
    ours = list(ours) if isinstance(ours, (tuple, list)) else [ours]
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        a = a.numpy() if isinstance(a, Tensor) else a
        assert b.shape == a.shape and b.dtype == a.dtype
        np.testing.assert_allclose(b, a, rtol=TOL[dtype], atol=TOL[dtype])


def dims(value: Any) -> list[Any]:
    return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]


def sequences(batch: int, time: int, dtype: Any, seed: int, lengths: bool) -> list[np.ndarray]:
    """``x`` of shape ``(batch, time, F)`` and, with ``lengths``, one length per sequence in
    ``[1, time]`` (the first full, the second as short as can be)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, time, F)).astype(dtype)
    if not lengths:
        return [x]
    n = rng.integers(1, time + 1, size=batch)
    n[0] = time
    if batch > 1:
        n[1] = 1
    return [x, n]


class Outputs(nn.Module):
    """A recurrent layer's results as a flat tuple: ``(output, h_n)`` or ``(output, h_n, c_n)``."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: Any, lengths: Any = None) -> tuple[Tensor, ...]:
        out, state = self.layer(x, lengths=lengths)
        return (out, *state) if isinstance(state, tuple) else (out, state)


LAYERS = {
    "rnn": lambda **kw: nn.RNN(F, 5, **kw),
    "rnn relu": lambda **kw: nn.RNN(F, 5, nonlinearity="relu", **kw),
    "lstm": lambda **kw: nn.LSTM(F, 5, **kw),
    "gru": lambda **kw: nn.GRU(F, 5, **kw),
}
ONNX_OP = {"rnn": "RNN", "rnn relu": "RNN", "lstm": "LSTM", "gru": "GRU"}
STACKS = {
    "1 layer": {},
    "2 layers, bidirectional, dropout": {"num_layers": 2, "bidirectional": True, "dropout": 0.3},
}


@pytest.mark.filterwarnings("error")  # no fallback to fixed shapes
@pytest.mark.parametrize("lengths", [False, True], ids=["full", "lengths"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("stack", list(STACKS))
@pytest.mark.parametrize("kind", list(LAYERS))
def test_recurrent_layers_run_in_onnxruntime_like_ours(kind: str, stack: str, dtype: Any, lengths: bool) -> None:
    layer = LAYERS[kind](rng=0, dtype=dtype, **STACKS[stack])
    model = Outputs(layer)
    proto = ag.export_onnx(model, *sequences(*EXAMPLE, dtype, seed=0, lengths=lengths), dynamic_axes=(0, 1))
    assert model.training  # exported in eval mode (no dropout), and its mode is back
    assert [dims(v) for v in proto.graph.input] == [["batch", "axis1", F], ["batch"]][: 1 + lengths]
    per_layer = [n.op_type for n in proto.graph.node if n.op_type in ("RNN", "LSTM", "GRU", "Scan")]
    # one ONNX op per layer and direction: ONNX's own in float32, a Scan of the equations in float64
    assert per_layer == [ONNX_OP[kind] if dtype == np.float32 else "Scan"] * layer.num_layers * layer.directions
    sess = session(proto)
    model.eval()
    for seed, (batch, time) in enumerate(SHAPES):
        given = sequences(batch, time, dtype, seed=seed + 1, lengths=lengths)
        with ag.no_grad():
            ours = model(*given)
        theirs = run(sess, *given)
        assert_same(ours, theirs, dtype)
        if lengths:  # what onnxruntime gives past a sequence's end (0) and as the final state (the last step's)
            out, h_n = theirs[0], theirs[1]
            n = given[1]
            hidden = layer.hidden_size
            for i, length in enumerate(n):
                assert not out[i, length:].any()
                np.testing.assert_array_equal(h_n[-layer.directions, i], out[i, length - 1, :hidden])
                if layer.bidirectional:  # the reverse direction ends at the first step
                    np.testing.assert_array_equal(h_n[-1, i], out[i, 0, hidden:])


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_time_major_layers_without_bias(dtype: Any) -> None:
    gru = nn.GRU(F, 4, num_layers=2, bias=False, batch_first=False, rng=1, dtype=dtype)
    model = Outputs(gru)
    proto = ag.export_onnx(model, np.zeros((6, 4, F), dtype), dynamic_axes=(0, 1))  # (time, batch, features)
    assert not [i for i in proto.graph.initializer if i.name.startswith("bias")]
    sess = session(proto)
    for time, batch in SHAPES:
        x = np.random.default_rng(time).normal(size=(time, batch, F)).astype(dtype)
        with ag.no_grad():
            assert_same(model(x), run(sess, x), dtype)


class FromState(nn.Module):
    """An LSTM from a given state ``(h0, c0)``, batch first like ``x``: ``(batch, layers·directions, hidden)``."""

    def __init__(self, dtype: Any) -> None:
        super().__init__()
        self.lstm = nn.LSTM(F, 5, num_layers=2, bidirectional=True, rng=2, dtype=dtype)

    def forward(self, x: Any, h: Any, c: Any) -> tuple[Tensor, ...]:
        out, (h_n, c_n) = self.lstm(x, (h.transpose(1, 0, 2), c.transpose(1, 0, 2)))
        return out, h_n, c_n


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_initial_states_are_graph_inputs(dtype: Any) -> None:
    """h0 and c0 given (every dynamic axis is shared by all inputs that have it, so time is fixed
    here: axis 1 of the states is layers·directions)."""
    model = FromState(dtype)
    time = 5
    draw = lambda rng, *shape: rng.normal(size=shape).astype(dtype)  # noqa: E731
    rng = np.random.default_rng(0)
    proto = ag.export_onnx(model, draw(rng, 4, time, F), draw(rng, 4, 4, 5), draw(rng, 4, 4, 5))
    assert [dims(v) for v in proto.graph.input] == [["batch", time, F], ["batch", 4, 5], ["batch", 4, 5]]
    sess = session(proto)
    for batch in (1, 3, 9):
        given = [draw(rng, batch, time, F), draw(rng, batch, 4, 5), draw(rng, batch, 4, 5)]
        with ag.no_grad():
            assert_same(model(*given), run(sess, *given), dtype)


@pytest.mark.parametrize("opset", [13, 21])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_opsets(opset: int, dtype: Any) -> None:
    model = Outputs(nn.LSTM(F, 3, bidirectional=True, rng=0, dtype=dtype))
    proto = ag.export_onnx(model, *sequences(*EXAMPLE, dtype, 0, lengths=True), opset=opset, dynamic_axes=(0, 1))
    given = sequences(5, 8, dtype, 1, lengths=True)
    with ag.no_grad():
        assert_same(model.eval()(*given), run(session(proto), *given), dtype)


CELLS = {
    "rnn": lambda dtype: nn.RNNCell(F, 4, rng=0, dtype=dtype),
    "rnn relu": lambda dtype: nn.RNNCell(F, 4, nonlinearity="relu", rng=0, dtype=dtype),
    "lstm": lambda dtype: nn.LSTMCell(F, 4, rng=0, dtype=dtype),
    "gru": lambda dtype: nn.GRUCell(F, 4, rng=0, dtype=dtype),
}


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("kind", list(CELLS))
def test_cells_run_in_onnxruntime_like_ours(kind: str, dtype: Any) -> None:
    cell = CELLS[kind](dtype)
    lstm = kind == "lstm"

    def step(x: Any, h: Any, c: Any = None) -> Any:  # two steps from the given state
        state = (h, c) if lstm else h
        for t in range(2):
            state = cell(x[:, t], state)
        return state

    rng = np.random.default_rng(0)
    draw = lambda batch: [rng.normal(size=s).astype(dtype) for s in [(batch, 2, F)] + [(batch, 4)] * (1 + lstm)]  # noqa: E731
    sess = session(ag.export_onnx(step, *draw(2)))
    for batch in (1, 7, 64):
        given = draw(batch)
        with ag.no_grad():
            assert_same(step(*given), run(sess, *given), dtype)


# ============================================================== GELU and Φ over their whole range


def test_gelu_and_normal_cdf_in_their_tails() -> None:
    """float64: the graph evaluates the same series as ours; float32: Erf, to float32's epsilon
    absolutely (0 where Φ is below 1e-8)."""
    x = np.concatenate([np.linspace(-40, 40, 8001), [-1e10, -1e-300, 0.0, 1e-300, 1e10]]).reshape(-1, 1)
    for f in (gelu, normal_cdf):
        for dtype, close in ((np.float64, {"rtol": 1e-13, "atol": 1e-300}), (np.float32, {"rtol": 0, "atol": 1e-6})):
            xs = x.astype(dtype)
            proto = ag.export_onnx(f, xs)
            assert ("Erf" in [n.op_type for n in proto.graph.node]) == (dtype == np.float32)
            with ag.no_grad(), np.errstate(all="ignore"):
                ours = f(Tensor(xs)).numpy()
            theirs = run(session(proto), xs)[0]
            assert theirs.dtype == dtype
            np.testing.assert_allclose(theirs, ours, **close)


# ============================================================== a sequence classifier, as the how-to shows it


class Classifier(nn.Module):
    """Embedding → bidirectional LSTM → Dense on the last layer's final states."""

    def __init__(self, dtype: Any = None) -> None:
        super().__init__()
        self.embed = nn.Embedding(50, 8, rng=0, dtype=dtype)
        self.lstm = nn.LSTM(8, 16, num_layers=2, bidirectional=True, dropout=0.2, rng=1, dtype=dtype)
        self.head = nn.Dense(2 * 16, 3, rng=2, dtype=dtype)

    def forward(self, tokens: Any, lengths: Any = None) -> Tensor:
        out, (h_n, c_n) = self.lstm(self.embed(tokens), lengths=lengths)
        return self.head(ag.concatenate([h_n[-2], h_n[-1]], axis=1))


def tokens(batch: int, time: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 50, size=(batch, time)), rng.integers(1, time + 1, size=batch)


@pytest.mark.filterwarnings("error")
def test_nn_export_onnx_of_a_sequence_classifier(tmp_path: Any) -> None:
    model = Classifier()
    proto = nn.export_onnx(model, tmp_path / "classifier.onnx")  # float32, batch and time free
    assert [(dims(v), v.type.tensor_type.elem_type) for v in proto.graph.input] == [
        (["batch", "axis1"], onnx.TensorProto.INT64)
    ]
    assert [dims(v) for v in proto.graph.output] == [["batch", 3]]
    assert [n.op_type for n in proto.graph.node].count("LSTM") == 4
    assert {"embed.weight", "lstm.weight_ih_l1_reverse", "head.weight"} <= {i.name for i in proto.graph.initializer}
    assert {i.data_type for i in proto.graph.initializer} == {onnx.TensorProto.FLOAT, onnx.TensorProto.INT64}
    model32 = Classifier(np.float32)
    model32.load_state_dict(model.state_dict())  # the model, in float32
    model32.eval()
    sess = session(onnx.load(str(tmp_path / "classifier.onnx")))
    for seed, (batch, time) in enumerate(SHAPES):
        x, _ = tokens(batch, time, seed)
        with ag.no_grad():
            assert_same(model32(x), run(sess, x), np.float32)
    proto64 = nn.export_onnx(model, None, dtype=np.float64)
    model.eval()
    x, _ = tokens(5, 11, 0)
    with ag.no_grad():
        assert_same(model(x), run(session(proto64), x), np.float64)


@pytest.mark.filterwarnings("error")
def test_ag_export_onnx_of_a_sequence_classifier_with_lengths() -> None:
    model = Classifier()
    proto = ag.export_onnx(model, *tokens(2, 5, 0), dynamic_axes=(0, 1), input_names=["tokens", "lengths"])
    assert [dims(v) for v in proto.graph.input] == [["batch", "axis1"], ["batch"]]
    sess = session(proto)
    model.eval()
    for seed, (batch, time) in enumerate(SHAPES):
        given = tokens(batch, time, seed)
        with ag.no_grad():
            assert_same(model(*given), run(sess, *given), np.float64)
        padded = given[0].copy()
        padded[np.arange(time) >= given[1][:, None]] = 0  # what lies past a sequence's end does not matter
        np.testing.assert_array_equal(run(sess, padded, given[1])[0], run(sess, *given)[0])


# ============================================================== a user op whose form has a subgraph


class DecayedSum(ag.Function):
    """``y[t] = k · y[t − 1] + x[t]`` along axis 0, its form a Scan whose body reads a constant
    of the outer graph (``k``)."""

    def forward(self, x, k):
        return self._run(x, k, range(len(x)))

    def backward(self, g, out, x, k):  # the same sum, backwards in time
        return self._run(g, k, range(len(g) - 1, -1, -1)), None

    @staticmethod
    def _run(x, k, steps):
        y, acc = np.empty_like(x), np.zeros_like(x[0])
        for t in steps:
            acc = k * acc + x[t]
            y[t] = acc
        return y

    def to_onnx(self, builder, inputs, output):
        b, dt = builder, builder.dtype(output)
        x, k = inputs
        zeros = b.op("Mul", b.op("Gather", x, b.const(np.array(0, np.int64))), b.const(0.0, dt))
        acc, x_t = b.fresh("acc"), b.fresh("x_t")
        with b.subgraph() as nodes:
            new = b.op("Add", b.op("Mul", acc, k), x_t)
            out = b.op("Identity", new)
        body = b.onnx.helper.make_graph(
            nodes,
            "step",
            [b.value_info(acc, dt), b.value_info(x_t, dt)],
            [b.value_info(new, dt), b.value_info(out, dt)],
        )
        b.op("Scan", zeros, x, out=[b.fresh("last"), output], body=body, num_scan_inputs=1)


def test_a_form_with_a_subgraph_reading_the_outer_graph() -> None:
    f = lambda x: DecayedSum.apply(x * 2, 0.5)  # noqa: E731
    proto = ag.export_onnx(f, np.ones((3, 2)))
    (scan,) = [n for n in proto.graph.node if n.op_type == "Scan"]
    body_reads = {i for n in scan.attribute[0].g.node for i in n.input}
    kept = {i.name for i in proto.graph.initializer}
    assert body_reads & kept and not body_reads & {i for n in proto.graph.node for i in n.input}  # k: only the body
    x = np.random.default_rng(0).normal(size=(6, 2))
    with ag.no_grad():
        np.testing.assert_allclose(run(session(proto), x)[0], f(Tensor(x)).numpy(), rtol=1e-14)
    t = Tensor(x, requires_grad=True)
    f(t).sum().backward()
    np.testing.assert_allclose(t.grad[0], 2 * (1 - 0.5**6) / (1 - 0.5))  # Σ 2·0.5^s over the 6 steps
