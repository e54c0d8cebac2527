"""RNN, LSTM and GRU layers and cells.

Checked three ways: against PyTorch's outputs and gradients saved in
``reference/torch_references.npz`` (always, within 1e-10 in float64) and against PyTorch run
live on the same inputs when it is installed; against NumPy references of each cell's
equations written here, values and finite differences (always); and the fused ops against
the same layers built from primitive ops (first and second derivatives). Then the rules of
the contract: lengths, dropout, initialisation, names, errors, dtypes, saving.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import upstream

import nn
from autograd_core import Tensor
from autograd_core.ops.rnn import GATES, recurrence
from autograd_core.testing import gradcheck, gradgradcheck, numerical_gradient


def _load_reference_module() -> Any:
    path = Path(__file__).resolve().parent / "reference" / "make_torch_references.py"
    spec = importlib.util.spec_from_file_location("make_torch_references", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


REF = _load_reference_module()
DATA = np.load(REF.PATH, allow_pickle=False)
TOL = 1e-10


def make_layer(config: dict[str, Any]) -> nn.Module:
    kind = config["kind"]
    options = {
        "num_layers": config.get("num_layers", 1),
        "bias": config.get("bias", True),
        "batch_first": config.get("batch_first", True),
        "bidirectional": config.get("bidirectional", False),
    }
    if kind == "RNN_relu":
        return nn.RNN(REF.FEATURES, REF.HIDDEN, nonlinearity="relu", **options)
    return getattr(nn, kind)(REF.FEATURES, REF.HIDDEN, **options)


def run_layer(config: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The library's output, final states and gradients, as ``torch_layer`` computes PyTorch's."""
    layer = make_layer(config)
    layer.load_state_dict({k: v for k, v in arrays.items() if k.startswith(("weight", "bias"))})  # strict
    x = Tensor(arrays["x"], requires_grad=True)
    states = [Tensor(arrays[k], requires_grad=True) for k in ("h0", "c0") if k in arrays]
    hx = None if not states else (tuple(states) if config["kind"] == "LSTM" else states[0])
    out, final = layer(x, hx, lengths=arrays.get("lengths"))
    h_n, c_n = final if config["kind"] == "LSTM" else (final, None)
    total = (out * arrays["g_out"]).sum() + (h_n * arrays["g_h"]).sum()
    if c_n is not None:
        total = total + (c_n * arrays["g_c"]).sum()
    total.backward()
    result = {"out": out.data, "h_n": h_n.data, "grad/x": x.grad}
    if c_n is not None:
        result["c_n"] = c_n.data
    for name, state in zip(("h0", "c0"), states):
        result[f"grad/{name}"] = state.grad
    for name, p in layer.named_parameters():
        result[f"grad/{name}"] = p.grad
    return result


def run_cell(config: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    kind = config["kind"]
    if kind == "RNN_relu":
        cell = nn.RNNCell(REF.FEATURES, REF.HIDDEN, nonlinearity="relu")
    else:
        cell = getattr(nn, f"{kind}Cell")(REF.FEATURES, REF.HIDDEN)
    cell.load_state_dict({k: arrays[k] for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")})
    x = Tensor(arrays["x"], requires_grad=True)
    states = [Tensor(arrays[k], requires_grad=True) for k in ("h", "c") if k in arrays]
    if kind == "LSTM":
        h, c = cell(x, tuple(states) if states else None)
        total = (h * arrays["g_h"]).sum() + (c * arrays["g_c"]).sum()
        result = {"h": h.data, "c": c.data}
    else:
        h = cell(x, states[0] if states else None)
        total = (h * arrays["g_h"]).sum()
        result = {"h": h.data}
    total.backward()
    result["grad/x"] = x.grad
    for name, state in zip(("h", "c"), states):
        result[f"grad/{name}"] = state.grad
    for name, p in cell.named_parameters():
        result[f"grad/{name}"] = p.grad
    return result


def assert_same(ours: dict[str, np.ndarray], theirs: dict[str, np.ndarray], tol: float = TOL) -> None:
    assert sorted(ours) == sorted(theirs)
    for k in theirs:
        assert ours[k].shape == theirs[k].shape, k
        np.testing.assert_allclose(ours[k], theirs[k], rtol=0, atol=tol, err_msg=k)


# ============================================================== against PyTorch


@pytest.mark.parametrize("key", list(REF.LAYERS))
def test_layers_give_pytorchs_outputs_and_gradients(key):
    inputs, expected = REF.case(DATA, key)
    assert_same(run_layer(REF.LAYERS[key], inputs), expected)


@pytest.mark.parametrize("key", list(REF.CELLS))
def test_cells_give_pytorchs_outputs_and_gradients(key):
    inputs, expected = REF.case(DATA, key)
    assert_same(run_cell(REF.CELLS[key], inputs), expected)


@pytest.mark.parametrize("key", list(REF.LAYERS) + list(REF.CELLS))
def test_against_pytorch_live(key):
    pytest.importorskip("torch")
    config = REF.LAYERS.get(key) or REF.CELLS[key]
    inputs, expected = REF.case(DATA, key)
    live = (REF.torch_layer if key in REF.LAYERS else REF.torch_cell)(config, inputs)
    assert_same(live, expected)  # the saved file is PyTorch's current answer
    ours = (run_layer if key in REF.LAYERS else run_cell)(config, inputs)
    assert_same(ours, live)


def test_a_pytorch_state_dict_loads_as_it_is():
    torch = pytest.importorskip("torch")
    lstm = torch.nn.LSTM(3, 5, num_layers=2, bidirectional=True, batch_first=True)
    ours = nn.LSTM(3, 5, num_layers=2, bidirectional=True)
    state = {k: v.numpy() for k, v in lstm.state_dict().items()}
    assert list(state) == list(ours.state_dict())  # the same names, in the same order
    ours.load_state_dict(state)
    x = np.random.default_rng(0).normal(size=(2, 6, 3))
    out, (h, c) = lstm(torch.tensor(x, dtype=torch.float32))
    mine, (h2, c2) = ours(x)
    np.testing.assert_allclose(mine.numpy(), out.detach().numpy(), atol=1e-6)
    np.testing.assert_allclose(c2.numpy(), c.detach().numpy(), atol=1e-6)


def test_parameter_names_shapes_and_order_are_pytorchs():
    lstm = nn.LSTM(3, 5, num_layers=2, bidirectional=True)
    expected = []
    for layer, features in ((0, 3), (1, 10)):
        for s in ("", "_reverse"):
            expected += [
                (f"weight_ih_l{layer}{s}", (20, features)),
                (f"weight_hh_l{layer}{s}", (20, 5)),
                (f"bias_ih_l{layer}{s}", (20,)),
                (f"bias_hh_l{layer}{s}", (20,)),
            ]
    assert [(n, p.shape) for n, p in lstm.named_parameters()] == expected
    assert [n for n, _ in nn.GRU(3, 4, bias=False).named_parameters()] == ["weight_ih_l0", "weight_hh_l0"]
    assert nn.GRU(3, 4).weight_ih_l0.shape == (12, 3) and nn.RNN(3, 4).weight_hh_l0.shape == (4, 4)
    cell = nn.LSTMCell(3, 4)
    assert [(n, p.shape) for n, p in cell.named_parameters()] == [
        ("weight_ih", (16, 3)),
        ("weight_hh", (16, 4)),
        ("bias_ih", (16,)),
        ("bias_hh", (16,)),
    ]


# ============================================================== NumPy references of the equations


def sigmoid(a: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-a))


def np_cell(kind: str, x, h, c, w_ih, w_hh, b_ih, b_hh):
    """One step of PyTorch's equations, written out in NumPy; returns ``(h', c')``."""
    gi = x @ w_ih.T + (0 if b_ih is None else b_ih)
    gh = h @ w_hh.T + (0 if b_hh is None else b_hh)
    n = h.shape[-1]
    if kind == "LSTM":
        i, f = sigmoid(gi[:, :n] + gh[:, :n]), sigmoid(gi[:, n : 2 * n] + gh[:, n : 2 * n])
        g, o = np.tanh(gi[:, 2 * n : 3 * n] + gh[:, 2 * n : 3 * n]), sigmoid(gi[:, 3 * n :] + gh[:, 3 * n :])
        c2 = f * c + i * g
        return o * np.tanh(c2), c2
    if kind == "GRU":
        r, z = sigmoid(gi[:, :n] + gh[:, :n]), sigmoid(gi[:, n : 2 * n] + gh[:, n : 2 * n])
        cand = np.tanh(gi[:, 2 * n :] + r * gh[:, 2 * n :])
        return (1 - z) * cand + z * h, None
    pre = gi + gh
    return (np.maximum(pre, 0) if kind == "RNN_relu" else np.tanh(pre)), None


def np_layer(config: dict[str, Any], arrays: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    """The whole layer in NumPy loops, with PyTorch's packed-sequence rules; returns ``(out, h_n, c_n)``."""
    kind, layers = config["kind"], config.get("num_layers", 1)
    dirs = 2 if config.get("bidirectional") else 1
    x = arrays["x"] if config.get("batch_first", True) else arrays["x"].transpose(1, 0, 2)
    batch, steps, _ = x.shape
    lengths = arrays.get("lengths", np.full(batch, steps))
    zeros = np.zeros((layers * dirs, batch, REF.HIDDEN))
    h0, c0 = arrays.get("h0", zeros), arrays.get("c0", zeros)
    finals_h, finals_c, inp = [], [], x
    for layer in range(layers):
        outs = []
        for d in range(dirs):
            k, s = layer * dirs + d, "_reverse" if d else ""
            w = [arrays.get(f"{name}_l{layer}{s}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            out = np.zeros((batch, steps, REF.HIDDEN))
            hn, cn = np.zeros((batch, REF.HIDDEN)), np.zeros((batch, REF.HIDDEN))
            for b in range(batch):  # one sequence at a time, its own length: no masks at all
                h, c = h0[k, b : b + 1], c0[k, b : b + 1]
                order = range(lengths[b] - 1, -1, -1) if d else range(lengths[b])
                for t in order:
                    h, c = np_cell(kind, inp[b : b + 1, t], h, c, *w)
                    out[b, t] = h[0]
                hn[b], cn[b] = h[0], (c[0] if c is not None else 0)
            outs.append(out)
            finals_h.append(hn)
            finals_c.append(cn)
        inp = np.concatenate(outs, axis=2)
    if not config.get("batch_first", True):
        inp = inp.transpose(1, 0, 2)
    return inp, np.stack(finals_h), np.stack(finals_c)


NUMPY_CASES = ["LSTM/time_major_everything", "GRU/time_major_everything", "RNN/stacked_lengths_h0"]
NUMPY_CASES += ["RNN_relu/bidirectional_lengths", "LSTM/no_bias"]


@pytest.mark.parametrize("key", NUMPY_CASES)
def test_layers_follow_the_numpy_reference_values_and_finite_differences(key):
    config = REF.LAYERS[key]
    arrays, _ = REF.case(DATA, key)
    ours = run_layer(config, arrays)
    out, h_n, c_n = np_layer(config, arrays)
    np.testing.assert_allclose(ours["out"], out, atol=1e-12)
    np.testing.assert_allclose(ours["h_n"], h_n, atol=1e-12)
    if config["kind"] == "LSTM":
        np.testing.assert_allclose(ours["c_n"], c_n, atol=1e-12)

    def objective() -> float:
        out, h_n, c_n = np_layer(config, arrays)
        total = np.sum(out * arrays["g_out"]) + np.sum(h_n * arrays["g_h"])
        return float(total + (np.sum(c_n * arrays["g_c"]) if config["kind"] == "LSTM" else 0))

    for name in ours:
        if name.startswith("grad/"):
            numeric = numerical_gradient(objective, arrays[name[5:]])
            np.testing.assert_allclose(ours[name], numeric, atol=1e-7, err_msg=name)


@pytest.mark.parametrize("key", list(REF.CELLS))
def test_cells_follow_the_numpy_reference_values_and_finite_differences(key):
    config = REF.CELLS[key]
    arrays, _ = REF.case(DATA, key)
    ours = run_cell(config, arrays)
    kind = config["kind"]
    zeros = np.zeros((REF.BATCH, REF.HIDDEN))
    weights = [arrays[k] for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]

    def step() -> tuple[np.ndarray, np.ndarray | None]:
        return np_cell(kind, arrays["x"], arrays.get("h", zeros), arrays.get("c", zeros), *weights)

    h, c = step()
    np.testing.assert_allclose(ours["h"], h, atol=1e-13)

    def objective() -> float:
        h, c = step()
        return float(np.sum(h * arrays["g_h"]) + (np.sum(c * arrays["g_c"]) if kind == "LSTM" else 0))

    for name in ours:
        if name.startswith("grad/"):
            np.testing.assert_allclose(ours[name], numerical_gradient(objective, arrays[name[5:]]), atol=1e-8)


# ============================================================== fused op against the primitives


def _arrays(kind: str, rng: np.random.Generator, steps=4, batch=3, features=3, hidden=2, dtype=np.float64):
    g = GATES[kind]
    return [
        rng.normal(size=(steps, batch, features)).astype(dtype),
        rng.uniform(-0.7, 0.7, (g * hidden, features)).astype(dtype),
        rng.uniform(-0.7, 0.7, (g * hidden, hidden)).astype(dtype),
        rng.uniform(-0.5, 0.5, g * hidden).astype(dtype),
        rng.uniform(-0.5, 0.5, g * hidden).astype(dtype),
        rng.normal(size=(batch, hidden)).astype(dtype),
        rng.normal(size=(batch, hidden)).astype(dtype),
    ]


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh", "rnn_relu"])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("lengths", [None, np.array([4, 1, 3])])
def test_fused_layer_equals_the_layer_built_from_primitives(kind, reverse, lengths):
    arrays = _arrays(kind, np.random.default_rng(3))
    results = []
    for fused in (True, False):
        ts = [Tensor(a, requires_grad=True) for a in arrays]
        c0 = ts[6] if kind == "lstm" else None
        out = recurrence(kind, *ts[:5], h0=ts[5], c0=c0, lengths=lengths, reverse=reverse, fused=fused)
        (out * upstream(out.shape)).sum().backward()
        results.append([out.data] + [t.grad for t in ts[: 7 if kind == "lstm" else 6]])
        assert out.op == ("lstm" if kind == "lstm" else kind[:3]) if fused else out.op == "stack"
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, atol=1e-13)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh"])
def test_fused_layers_first_and_second_derivatives(kind):
    x, w_ih, w_hh, b_ih, b_hh, h0, c0 = _arrays(kind, np.random.default_rng(4), steps=3, batch=2, hidden=2)
    lengths = np.array([3, 2])
    extra = (c0,) if kind == "lstm" else ()

    def f(x, w_ih, w_hh, b_ih, b_hh, h0, *c0):
        c = c0[0] if c0 else None
        return recurrence(kind, x, w_ih, w_hh, b_ih, b_hh, h0=h0, c0=c, lengths=lengths, reverse=True)

    assert gradcheck(f, x, w_ih, w_hh, b_ih, b_hh, h0, *extra)
    assert gradgradcheck(f, x, w_ih, w_hh, b_ih, b_hh, h0, *extra)


def test_a_second_backward_through_a_retained_graph_gives_the_same_gradients():
    lstm = nn.GRU(3, 4, num_layers=2, rng=0), nn.LSTM(3, 4, rng=1)
    x = np.random.default_rng(0).normal(size=(2, 5, 3))
    for layer in lstm:
        out, _ = layer(x)
        loss = (out * out).sum()
        loss.backward(retain_graph=True)
        first = [p.grad.copy() for p in layer.parameters()]
        layer.zero_grad()
        loss.backward()  # the activations the first backward overwrote are recomputed
        for a, b in zip(first, (p.grad for p in layer.parameters())):
            np.testing.assert_array_equal(a, b)


# ============================================================== the contract's rules


def test_lengths_give_zeros_past_the_end_and_the_state_at_the_last_step():
    rng = np.random.default_rng(6)
    lstm = nn.LSTM(3, 4, rng=0)
    x = rng.normal(size=(3, 6, 3))
    out, (h, c) = lstm(x, lengths=[6, 2, 4])
    assert np.all(out.numpy()[1, 2:] == 0) and np.all(out.numpy()[2, 4:] == 0)
    np.testing.assert_allclose(h.numpy()[0, 1], out.numpy()[1, 1])  # each sequence's own last output
    short, (h_short, c_short) = lstm(x[1:2, :2])  # the second sequence alone, cut to its length
    np.testing.assert_allclose(out.numpy()[1, :2], short.numpy()[0], atol=1e-14)
    np.testing.assert_allclose(c.numpy()[0, 1], c_short.numpy()[0, 0], atol=1e-14)
    full, _ = lstm(x, lengths=np.array([6, 6, 6]))  # every sequence full: as without lengths
    np.testing.assert_array_equal(full.numpy(), lstm(x)[0].numpy())


def test_unsorted_lengths_give_the_results_of_the_sorted_batch():
    rng = np.random.default_rng(7)
    gru = nn.GRU(2, 3, bidirectional=True, rng=0)
    x = rng.normal(size=(3, 5, 2))
    lengths = np.array([2, 5, 3])
    order = np.argsort(-lengths)
    out, h = gru(x, lengths=lengths)
    out2, h2 = gru(x[order], lengths=lengths[order])
    np.testing.assert_allclose(out.numpy()[order], out2.numpy(), atol=1e-14)
    np.testing.assert_allclose(h.numpy()[:, order], h2.numpy(), atol=1e-14)


def test_dropout_acts_between_layers_in_training_only():
    x = np.random.default_rng(8).normal(size=(4, 5, 3))
    lstm = nn.LSTM(3, 6, num_layers=2, dropout=0.5, rng=0)
    eval_out = lstm.eval()(x)[0].numpy()
    lstm.train()
    a, b = lstm(x)[0].numpy(), lstm(x)[0].numpy()
    assert not np.allclose(a, eval_out) and not np.allclose(a, b)  # masks drawn afresh each call
    all_dropped = nn.LSTM(3, 6, num_layers=2, dropout=1.0, rng=0)
    out, (h, _) = all_dropped(x)
    second = nn.LSTM(6, 6, rng=0)  # the second layer alone, on a zero input
    second.load_state_dict({k.replace("l1", "l0"): v for k, v in all_dropped.state_dict().items() if "l1" in k})
    np.testing.assert_allclose(out.numpy(), second(np.zeros((4, 5, 6)))[0].numpy(), atol=1e-14)
    one_layer = nn.GRU(3, 6, dropout=0.9, rng=0)  # dropout never touches the last layer's output
    np.testing.assert_array_equal(one_layer(x)[0].numpy(), one_layer.eval()(x)[0].numpy())
    seeded = [nn.LSTM(3, 6, num_layers=3, dropout=0.3, rng=11)(x)[0].numpy() for _ in range(2)]
    np.testing.assert_array_equal(*seeded)


def test_initialisation_is_uniform_in_plus_minus_one_over_root_hidden():
    gru = nn.GRU(10, 64, num_layers=2, rng=0)
    bound = 1 / np.sqrt(64)
    values = np.concatenate([p.data.ravel() for p in gru.parameters()])
    assert np.abs(values).max() <= bound and np.abs(values).max() > 0.99 * bound
    assert abs(values.std() / (bound / np.sqrt(3)) - 1) < 0.02  # the uniform's standard deviation
    assert abs(values.mean()) < 0.01 * bound * 10
    np.testing.assert_array_equal(nn.GRU(10, 64, rng=3).weight_ih_l0.data, nn.GRU(10, 64, rng=3).weight_ih_l0.data)


def test_batch_first_false_takes_time_major_input():
    rng = np.random.default_rng(9)
    a, b = nn.RNN(3, 4, num_layers=2, rng=0), nn.RNN(3, 4, num_layers=2, batch_first=False, rng=0)
    x = rng.normal(size=(2, 5, 3))
    out_a, h_a = a(x)
    out_b, h_b = b(x.transpose(1, 0, 2))
    assert out_b.shape == (5, 2, 4)
    np.testing.assert_allclose(out_b.numpy().transpose(1, 0, 2), out_a.numpy(), atol=1e-14)
    np.testing.assert_allclose(h_b.numpy(), h_a.numpy(), atol=1e-14)


def test_one_unbatched_sequence_is_a_batch_of_one():
    rng = np.random.default_rng(10)
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True, rng=0)
    x = rng.normal(size=(5, 3))
    h0 = rng.normal(size=(4, 4))
    out, (h, c) = lstm(x, (h0, h0))
    batched, (hb, cb) = lstm(x[None], (h0[:, None], h0[:, None]))
    assert out.shape == (5, 8) and h.shape == (4, 4) and c.shape == (4, 4)
    np.testing.assert_allclose(out.numpy(), batched.numpy()[0], atol=1e-14)
    np.testing.assert_allclose(c.numpy(), cb.numpy()[:, 0], atol=1e-14)
    cell = nn.GRUCell(3, 4, rng=0)
    np.testing.assert_allclose(cell(x[0]).numpy(), cell(x[:1]).numpy()[0], atol=1e-15)


def test_float32_layers_compute_in_float32():
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True, dtype=np.float32, rng=0)
    x = Tensor(np.random.default_rng(0).normal(size=(2, 5, 3)), requires_grad=True)  # float64 data
    out, (h, c) = lstm(x, lengths=[5, 3])
    assert out.dtype == h.dtype == c.dtype == np.float32
    (out.sum() + c.sum()).backward()
    assert x.grad.dtype == np.float64 and all(p.grad.dtype == np.float32 for p in lstm.parameters())
    ref = nn.LSTM(3, 4, num_layers=2, bidirectional=True, rng=0)  # the same weights in float64
    np.testing.assert_allclose(out.numpy(), ref(x.data, lengths=[5, 3])[0].numpy(), atol=1e-5)


def test_saving_and_loading_keeps_the_outputs(tmp_path):
    gru = nn.GRU(3, 4, num_layers=2, bidirectional=True, rng=0)
    x = np.random.default_rng(0).normal(size=(2, 5, 3))
    nn.save(gru, tmp_path / "gru.npz")
    again = nn.load(nn.GRU(3, 4, num_layers=2, bidirectional=True, rng=1), tmp_path / "gru.npz")
    np.testing.assert_array_equal(again(x)[0].numpy(), gru(x)[0].numpy())


def test_repr_shows_the_settings():
    assert repr(nn.LSTM(3, 4)).startswith("LSTM(3, 4)")
    text = repr(nn.GRU(3, 4, num_layers=2, dropout=0.1, bidirectional=True, batch_first=False))
    assert text.startswith("GRU(3, 4, num_layers=2, batch_first=False, dropout=0.1, bidirectional=True)")
    assert "nonlinearity='relu'" in repr(nn.RNN(2, 2, nonlinearity="relu"))
    assert repr(nn.LSTMCell(2, 3, bias=False)).startswith("LSTMCell(2, 3, bias=False)")


def test_a_classifier_learns_from_the_last_state():
    """A sequence task the last state must remember: is the first element of the sequence positive?"""
    rng = np.random.default_rng(12)
    x = rng.normal(size=(256, 6, 1))
    y = (x[:, 0, 0] > 0).astype(int)

    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gru = nn.GRU(1, 8, rng=0)
            self.head = nn.Dense(8, 2, rng=0)

        def forward(self, x: Any) -> Any:
            return self.head(self.gru(x)[1][-1])

    model = Model()
    import optim

    opt = optim.Adam(model.parameters(), lr=0.03)
    for _ in range(60):
        opt.minimize(lambda: nn.softmax_cross_entropy(model(x), y))
    assert nn.accuracy(model(x).numpy(), y) > 0.95


# ============================================================== errors


def test_bad_input_is_a_clear_error_naming_the_layer_and_the_shapes():
    lstm = nn.LSTM(3, 4, num_layers=2)
    x = np.zeros((2, 5, 3))
    with pytest.raises(
        ValueError, match=r"LSTM\(3, 4\): input of shape \(2, 5, 7\); expected \(batch, time, features\) with 3"
    ):
        lstm(np.zeros((2, 5, 7)))
    with pytest.raises(ValueError, match=r"input of shape \(5,\)"):
        lstm(np.zeros(5))
    with pytest.raises(ValueError, match=r"h0 of shape \(1, 2, 4\); expected \(2, 2, 4\)"):
        lstm(x, (np.zeros((1, 2, 4)), np.zeros((2, 2, 4))))
    with pytest.raises(ValueError, match=r"c0 of shape \(2, 3, 4\); expected \(2, 2, 4\)"):
        lstm(x, (np.zeros((2, 2, 4)), np.zeros((2, 3, 4))))
    with pytest.raises(ValueError, match=r"initial state of an LSTM is a pair \(h0, c0\)"):
        lstm(x, np.zeros((2, 2, 4)))
    with pytest.raises(ValueError, match=r"GRU\(3, 4\): h0 of shape \(2, 4\); expected \(1, 2, 4\)"):
        nn.GRU(3, 4)(x, np.zeros((2, 4)))
    with pytest.raises(
        ValueError, match=r"lengths\[1\] = 6 is longer than the sequence; each length must be in \[1, 5\]"
    ):
        lstm(x, lengths=[5, 6])
    with pytest.raises(ValueError, match=r"lengths\[0\] = 0 is not positive"):
        lstm(x, lengths=[0, 5])
    with pytest.raises(ValueError, match=r"lengths\[1\] = -2 is not positive"):
        lstm(x, lengths=[1, -2])
    with pytest.raises(ValueError, match=r"3 lengths for a batch of 2 sequences"):
        lstm(x, lengths=[1, 2, 3])
    with pytest.raises(ValueError, match="lengths must be whole numbers"):
        lstm(x, lengths=[1.5, 2])
    with pytest.raises(ValueError, match="lengths needs a batch of sequences"):
        lstm(np.zeros((5, 3)), lengths=[5])
    with pytest.raises(ValueError, match="has no time steps"):
        lstm(np.zeros((2, 0, 3)))
    with pytest.raises(ValueError, match=r"expected \(time, batch, features\)"):
        nn.RNN(3, 4, batch_first=False)(np.zeros((5, 2, 4)))


def test_bad_cell_input_and_bad_settings_are_clear_errors():
    with pytest.raises(ValueError, match=r"GRUCell\(3, 4\): input of shape \(2, 5\); expected \(batch, 3\)"):
        nn.GRUCell(3, 4)(np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"LSTMCell\(3, 4\): c of shape \(2, 3\); expected \(2, 4\)"):
        nn.LSTMCell(3, 4)(np.zeros((2, 3)), (np.zeros((2, 4)), np.zeros((2, 3))))
    with pytest.raises(ValueError, match=r"state of an LSTM cell is a pair \(h, c\)"):
        nn.LSTMCell(3, 4)(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"RNN: nonlinearity must be one of 'tanh', 'relu'; got 'sigmoid'"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="LSTM: hidden_size must be a positive integer, got 0"):
        nn.LSTM(3, 0)
    with pytest.raises(ValueError, match=r"GRU: dropout must be a number in \[0, 1\], got 1.5"):
        nn.GRU(3, 4, dropout=1.5)
    with pytest.raises(TypeError, match="LSTM: bidirectional must be True or False"):
        nn.LSTM(3, 4, bidirectional="yes")
