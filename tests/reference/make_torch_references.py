"""PyTorch's results for the sequence layers and their companions, saved for the tests.

    .venv/bin/pip install torch==2.13.0      # the CPU build
    .venv/bin/python tests/reference/make_torch_references.py

writes ``torch_references.npz`` beside this file: for every case below, its inputs (random
weights, sequences, initial states, upstream gradients) and PyTorch's outputs and gradients,
all float64. ``tests/test_nn_rnn.py`` (and ``test_nn_sequence_extras.py``) compare the library
with them within 1e-10 whether PyTorch is installed or not, and, where it is, with PyTorch run
live on the same inputs through the functions here. :func:`case` reads a case back.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

PATH = Path(__file__).resolve().parent / "torch_references.npz"
BATCH, STEPS, FEATURES, HIDDEN = 3, 4, 3, 3
LENGTHS = np.array([2, 4, 3])  # unsorted, as enforce_sorted=False accepts them

#: The recurrent layers: kind (torch class, and nonlinearity for RNN), then the options.
LAYERS: dict[str, dict[str, Any]] = {}
for _kind in ("RNN", "RNN_relu", "LSTM", "GRU"):
    for _name, _opts in {
        "plain": {},
        "stacked_bidirectional_h0": {"num_layers": 2, "bidirectional": True, "h0": True},
        "stacked_lengths_h0": {"num_layers": 2, "lengths": True, "h0": True},
        "bidirectional_lengths": {"bidirectional": True, "lengths": True},
        "time_major_everything": {
            "num_layers": 2,
            "bidirectional": True,
            "lengths": True,
            "h0": True,
            "batch_first": False,
        },
        "no_bias": {"bias": False, "h0": True},
    }.items():
        if _kind == "RNN_relu" and _name not in ("plain", "stacked_bidirectional_h0", "bidirectional_lengths"):
            continue
        LAYERS[f"{_kind}/{_name}"] = {"kind": _kind, **_opts}

CELLS = {
    f"{kind}Cell/{state}": {"kind": kind, "state": state == "state"}
    for kind in ("RNN", "RNN_relu", "LSTM", "GRU")
    for state in ("zeros", "state")
}


def gates(kind: str) -> int:
    return {"LSTM": 4, "GRU": 3}.get(kind, 1)


# ============================================================== inputs


def layer_inputs(key: str, config: dict[str, Any]) -> dict[str, np.ndarray]:
    """Random weights (PyTorch's names), a sequence, initial states and upstream gradients for a layer case."""
    rng = np.random.default_rng(sum(map(ord, key)))
    kind = config["kind"]
    layers, dirs = config.get("num_layers", 1), 2 if config.get("bidirectional") else 1
    rows = gates(kind) * HIDDEN
    arrays: dict[str, np.ndarray] = {}
    for layer in range(layers):
        features = FEATURES if layer == 0 else HIDDEN * dirs
        for suffix in ("", "_reverse")[:dirs]:
            arrays[f"weight_ih_l{layer}{suffix}"] = rng.uniform(-0.8, 0.8, (rows, features))
            arrays[f"weight_hh_l{layer}{suffix}"] = rng.uniform(-0.8, 0.8, (rows, HIDDEN))
            if config.get("bias", True):
                arrays[f"bias_ih_l{layer}{suffix}"] = rng.uniform(-0.5, 0.5, rows)
                arrays[f"bias_hh_l{layer}{suffix}"] = rng.uniform(-0.5, 0.5, rows)
    batch_first = config.get("batch_first", True)
    arrays["x"] = rng.normal(size=(BATCH, STEPS, FEATURES) if batch_first else (STEPS, BATCH, FEATURES))
    if config.get("h0"):
        arrays["h0"] = rng.normal(size=(layers * dirs, BATCH, HIDDEN))
        if kind == "LSTM":
            arrays["c0"] = rng.normal(size=(layers * dirs, BATCH, HIDDEN))
    if config.get("lengths"):
        arrays["lengths"] = LENGTHS
    out_shape = (BATCH, STEPS, dirs * HIDDEN) if batch_first else (STEPS, BATCH, dirs * HIDDEN)
    arrays["g_out"] = rng.normal(size=out_shape)
    arrays["g_h"] = rng.normal(size=(layers * dirs, BATCH, HIDDEN))
    if kind == "LSTM":
        arrays["g_c"] = rng.normal(size=(layers * dirs, BATCH, HIDDEN))
    return arrays


def cell_inputs(key: str, config: dict[str, Any]) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(sum(map(ord, key)))
    rows = gates(config["kind"]) * HIDDEN
    arrays = {
        "weight_ih": rng.uniform(-0.8, 0.8, (rows, FEATURES)),
        "weight_hh": rng.uniform(-0.8, 0.8, (rows, HIDDEN)),
        "bias_ih": rng.uniform(-0.5, 0.5, rows),
        "bias_hh": rng.uniform(-0.5, 0.5, rows),
        "x": rng.normal(size=(BATCH, FEATURES)),
        "g_h": rng.normal(size=(BATCH, HIDDEN)),
    }
    if config["state"]:
        arrays["h"] = rng.normal(size=(BATCH, HIDDEN))
        if config["kind"] == "LSTM":
            arrays["c"] = rng.normal(size=(BATCH, HIDDEN))
    if config["kind"] == "LSTM":
        arrays["g_c"] = rng.normal(size=(BATCH, HIDDEN))
    return arrays


def extra_inputs(key: str) -> dict[str, np.ndarray]:
    """Inputs of the other cases: LayerNorm, GELU, cross-entropy with ignore_index, clipping, AdamW."""
    rng = np.random.default_rng(sum(map(ord, key)))
    if key.startswith("LayerNorm"):
        shape = (4,) if key.endswith("last_axis") else (3, 4)
        return {
            "x": rng.normal(size=(2, 3, 4)) * 3 + 1,
            "weight": rng.normal(size=shape),
            "bias": rng.normal(size=shape),
            "g": rng.normal(size=(2, 3, 4)),
        }
    if key == "GELU":
        x = np.concatenate([np.linspace(-12, 12, 49), rng.normal(size=20) * 3])
        return {"x": x, "g": rng.normal(size=x.shape)}
    if key.startswith("cross_entropy"):
        if key.endswith("sequences"):
            targets = rng.integers(0, 5, size=(3, 4))
            targets[0, 2:] = -100  # padded steps
            targets[2, 3] = -100
            return {"logits": rng.normal(size=(3, 4, 5)) * 2, "targets": targets}
        targets = rng.integers(0, 5, size=6)
        targets[[1, 4]] = 7  # ignore_index=7 this time
        return {"logits": rng.normal(size=(6, 5)) * 2, "targets": targets, "ignore_index": np.array(7)}
    if key.startswith("clip_grad_norm"):
        return {"g0": rng.normal(size=(3, 4)), "g1": rng.normal(size=5) * 4, "max_norm": np.array(2.5)}
    if key == "AdamW":
        arrays = {"w0": rng.normal(size=(3, 4)), "w1": rng.normal(size=5)}
        for step in range(4):
            arrays[f"g0/{step}"] = rng.normal(size=(3, 4))
            arrays[f"g1/{step}"] = rng.normal(size=5)
        return arrays
    raise KeyError(key)


EXTRAS = ["LayerNorm/last_axis", "LayerNorm/two_axes", "GELU", "cross_entropy/sequences", "cross_entropy/rows"]
EXTRAS += [f"clip_grad_norm/{p}" for p in ("2", "1", "3.5", "inf")] + ["AdamW"]


# ============================================================== PyTorch


def _torch() -> Any:
    import torch

    return torch


def torch_layer(config: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """PyTorch's output, final states and gradients (of ``Σ out·g_out + Σ h_n·g_h (+ Σ c_n·g_c)``)."""
    torch = _torch()
    kind = config["kind"]
    options = {
        "num_layers": config.get("num_layers", 1),
        "bias": config.get("bias", True),
        "batch_first": config.get("batch_first", True),
        "bidirectional": config.get("bidirectional", False),
        "dtype": torch.float64,
    }
    if kind == "RNN_relu":
        layer = torch.nn.RNN(FEATURES, HIDDEN, nonlinearity="relu", **options)
    else:
        layer = getattr(torch.nn, kind)(FEATURES, HIDDEN, **options)
    layer.load_state_dict({k: torch.tensor(v) for k, v in arrays.items() if k.startswith(("weight", "bias"))})
    x = torch.tensor(arrays["x"], requires_grad=True)
    states = [torch.tensor(arrays[k], requires_grad=True) for k in ("h0", "c0") if k in arrays]
    hx = None if not states else (tuple(states) if kind == "LSTM" else states[0])
    if "lengths" in arrays:
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            x, torch.tensor(arrays["lengths"]), batch_first=options["batch_first"], enforce_sorted=False
        )
        out, final = layer(packed, hx)
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=options["batch_first"], total_length=STEPS)
    else:
        out, final = layer(x, hx)
    h_n, c_n = final if kind == "LSTM" else (final, None)
    total = (out * torch.tensor(arrays["g_out"])).sum() + (h_n * torch.tensor(arrays["g_h"])).sum()
    if c_n is not None:
        total = total + (c_n * torch.tensor(arrays["g_c"])).sum()
    total.backward()
    result = {"out": out, "h_n": h_n, "grad/x": x.grad}
    if c_n is not None:
        result["c_n"] = c_n
    for name, state in zip(("h0", "c0"), states):
        result[f"grad/{name}"] = state.grad
    for name, p in layer.named_parameters():
        result[f"grad/{name}"] = p.grad
    return {k: v.detach().numpy().copy() for k, v in result.items()}


def torch_cell(config: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    torch = _torch()
    kind = config["kind"]
    if kind == "RNN_relu":
        cell = torch.nn.RNNCell(FEATURES, HIDDEN, nonlinearity="relu", dtype=torch.float64)
    else:
        cell = getattr(torch.nn, f"{kind}Cell")(FEATURES, HIDDEN, dtype=torch.float64)
    cell.load_state_dict({k: torch.tensor(arrays[k]) for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")})
    x = torch.tensor(arrays["x"], requires_grad=True)
    states = [torch.tensor(arrays[k], requires_grad=True) for k in ("h", "c") if k in arrays]
    if kind == "LSTM":
        h, c = cell(x, tuple(states) if states else None)
        total = (h * torch.tensor(arrays["g_h"])).sum() + (c * torch.tensor(arrays["g_c"])).sum()
        result = {"h": h, "c": c}
    else:
        h = cell(x, states[0] if states else None)
        total = (h * torch.tensor(arrays["g_h"])).sum()
        result = {"h": h}
    total.backward()
    result["grad/x"] = x.grad
    for name, state in zip(("h", "c"), states):
        result[f"grad/{name}"] = state.grad
    for name, p in cell.named_parameters():
        result[f"grad/{name}"] = p.grad
    return {k: v.detach().numpy().copy() for k, v in result.items()}


def torch_extra(key: str, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    torch = _torch()
    if key.startswith("LayerNorm"):
        shape = arrays["weight"].shape
        norm = torch.nn.LayerNorm(shape, dtype=torch.float64)
        norm.load_state_dict({"weight": torch.tensor(arrays["weight"]), "bias": torch.tensor(arrays["bias"])})
        x = torch.tensor(arrays["x"], requires_grad=True)
        y = norm(x)
        (y * torch.tensor(arrays["g"])).sum().backward()
        result = {"y": y, "grad/x": x.grad, "grad/weight": norm.weight.grad, "grad/bias": norm.bias.grad}
    elif key == "GELU":
        x = torch.tensor(arrays["x"], requires_grad=True)
        y = torch.nn.GELU()(x)
        (y * torch.tensor(arrays["g"])).sum().backward()
        result = {"y": y, "grad/x": x.grad}
    elif key.startswith("cross_entropy"):
        logits = torch.tensor(arrays["logits"], requires_grad=True)
        classes = logits.shape[-1]
        ignore = int(arrays["ignore_index"]) if "ignore_index" in arrays else -100
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, classes), torch.tensor(arrays["targets"]).reshape(-1), ignore_index=ignore
        )
        loss.backward()
        result = {"loss": loss, "grad/logits": logits.grad}
    elif key.startswith("clip_grad_norm"):
        norm_type = float(key.split("/")[1])
        params = [torch.zeros(arrays[k].shape, dtype=torch.float64, requires_grad=True) for k in ("g0", "g1")]
        for p, k in zip(params, ("g0", "g1")):
            p.grad = torch.tensor(arrays[k])
        total = torch.nn.utils.clip_grad_norm_(params, float(arrays["max_norm"]), norm_type=norm_type)
        result = {"norm": total, "g0": params[0].grad, "g1": params[1].grad}
    elif key == "AdamW":
        params = [torch.tensor(arrays[k], requires_grad=True) for k in ("w0", "w1")]
        opt = torch.optim.AdamW(params, lr=0.05, weight_decay=0.1)
        for step in range(4):
            params[0].grad = torch.tensor(arrays[f"g0/{step}"])
            params[1].grad = torch.tensor(arrays[f"g1/{step}"])
            opt.step()
        result = {"w0": params[0], "w1": params[1]}
    else:
        raise KeyError(key)
    return {k: v.detach().numpy().copy() for k, v in result.items()}


# ============================================================== the file


def case(data: Any, key: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The inputs and PyTorch's results of case ``key`` in the loaded file ``data``.

    Each case is two entries: ``key`` (every array of the case, flattened and joined, as
    float64) and ``key/index`` (their names and shapes, as text), so that the file holds a
    few dozen entries, not hundreds of tiny ones (each costs a zip header).
    """
    flat = data[key]
    inputs: dict[str, np.ndarray] = {}
    expected: dict[str, np.ndarray] = {}
    start = 0
    for line in str(data[f"{key}/index"]).splitlines():
        name, dims = line.split(" ")
        shape = tuple(int(n) for n in dims.split(",") if n)
        size = math.prod(shape)
        value = flat[start : start + size].reshape(shape)
        start += size
        side, _, name = name.partition("/")
        (inputs if side == "in" else expected)[name] = (
            value.astype(np.int64) if name in ("lengths", "targets", "ignore_index") else value
        )
    return inputs, expected


def main() -> None:
    entries: dict[str, np.ndarray] = {}

    def add(key: str, inputs: dict[str, np.ndarray], results: dict[str, np.ndarray]) -> None:
        named = [(f"in/{k}", v) for k, v in inputs.items()] + [(f"out/{k}", v) for k, v in results.items()]
        entries[key] = np.concatenate([np.asarray(v, dtype=np.float64).reshape(-1) for _, v in named])
        entries[f"{key}/index"] = np.array("\n".join(f"{k} {','.join(map(str, np.shape(v)))}" for k, v in named))

    for key, config in LAYERS.items():
        inputs = layer_inputs(key, config)
        add(key, inputs, torch_layer(config, inputs))
    for key, config in CELLS.items():
        inputs = cell_inputs(key, config)
        add(key, inputs, torch_cell(config, inputs))
    for key in EXTRAS:
        inputs = extra_inputs(key)
        add(key, inputs, torch_extra(key, inputs))
    np.savez_compressed(PATH, **entries)
    torch = _torch()
    size = PATH.stat().st_size / 1024
    print(f"wrote {PATH} ({size:.0f} KiB, {len(entries) // 2} cases) with PyTorch {torch.__version__}")


if __name__ == "__main__":
    sys.exit(main())
