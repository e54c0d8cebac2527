"""The workloads in PyTorch, eager, the way an expert user writes them.

``torch.autograd`` for gradients (``torch.func`` for the nested-``grad`` Hessian-vector
product), ``torch.nn`` layers, ``torch.nn.functional.cross_entropy`` and
``torch.optim.SGD``, in the dtype of the arrays handed over (float64 or float32). Each
builder takes the case's numbers and initial state and returns ``(run, note)``: ``run()``
does one timed unit and returns the same result keys as the framework's side.
Run in its own process by ``worker.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

Run = Callable[[], dict[str, Any]]


def setup(threads: int) -> dict[str, str]:
    """Pin PyTorch's intra-op pool (its BLAS and its own kernels) to ``threads``."""
    torch.set_num_threads(threads)
    return {
        "label": "PyTorch",
        "version": torch.__version__,
        "threads": f"{torch.get_num_threads()} intra-op threads (torch.set_num_threads)",
    }


def to_numpy(result: dict[str, Any]) -> dict[str, np.ndarray]:
    """The results as NumPy arrays (a copy: the weights go on changing)."""

    def one(v: Any) -> np.ndarray:
        if isinstance(v, torch.Tensor):
            return v.detach().numpy().copy()
        return np.asarray(v)

    return {k: one(v) for k, v in result.items()}


def walkthrough(params: dict[str, Any], arrays: dict[str, np.ndarray]) -> tuple[Run, str]:
    """W1: ``w**2 - 10*w + 25`` minimised by ``torch.optim.SGD`` from ``w = 0``."""
    steps, lr = params["steps"], params["lr"]

    def run() -> dict[str, Any]:
        w = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.SGD([w], lr=lr)
        cost = 0.0
        for _ in range(steps):
            opt.zero_grad()
            loss = w**2 - 10 * w + 25
            loss.backward()
            opt.step()
            cost = loss.item()  # as minimize returns the cost as a float
        return {"w": w.item(), "cost": cost}

    return run, "a 0-d float64 tensor, torch.optim.SGD, loss.item() each step"


def mlp(params: dict[str, Any], arrays: dict[str, np.ndarray]) -> tuple[Run, str]:
    """W2/W3: ``Linear``/``ReLU`` layers, cross-entropy, gradient descent over the batches of ``x``."""
    lr, batch = params["lr"], params["batch"]
    x, y = torch.from_numpy(arrays["x"]), torch.from_numpy(arrays["y"]).long()
    linears = []
    for i in range(params["layers"]):
        w = torch.from_numpy(arrays[f"W{i}"])  # (in, out): torch keeps (out, in)
        has_bias = f"b{i}" in arrays
        layer = torch.nn.Linear(w.shape[0], w.shape[1], bias=has_bias, dtype=w.dtype)
        with torch.no_grad():
            layer.weight.copy_(w.T)
            if has_bias:
                layer.bias.copy_(torch.from_numpy(arrays[f"b{i}"]))
        linears.append(layer)
    modules: list[torch.nn.Module] = []
    for layer in linears:
        modules += [layer, torch.nn.ReLU()]
    model = torch.nn.Sequential(*modules[:-1])
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    batches = [(x[i : i + batch], y[i : i + batch]) for i in range(0, len(x), batch)]

    def run() -> dict[str, Any]:
        losses = []
        for xb, yb in batches:
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return {"losses": losses, **{f"W{i}": layer.weight.T for i, layer in enumerate(linears)}}

    return run, "nn.Sequential of nn.Linear/nn.ReLU, F.cross_entropy, torch.optim.SGD, loss.item() each step"


def chain(params: dict[str, Any], arrays: dict[str, np.ndarray]) -> tuple[Run, str]:
    """W4: alternating ``sin`` and ``* scale``, forward and ``backward()``."""
    n_ops, scale = params["n_ops"], params["scale"]
    x0 = torch.from_numpy(arrays["x0"])

    def run() -> dict[str, Any]:
        x_in = x0.clone().requires_grad_(True)
        x = x_in
        for i in range(n_ops):
            x = x.sin() if i % 2 == 0 else x * scale
        y = x.sum()
        y.backward()
        return {"y": y.item(), "grad": x_in.grad}

    return run, "eager: the graph recorded op by op, then y.backward()"


def _hvp_inputs(params: dict[str, Any], arrays: dict[str, np.ndarray]) -> tuple[int, torch.Tensor, torch.Tensor]:
    return params["inner"], torch.from_numpy(arrays["x"]), torch.from_numpy(arrays["v"])


def _f(z: torch.Tensor) -> torch.Tensor:
    return (z.tanh() ** 2).sum()


def hvp_nested(params: dict[str, Any], arrays: dict[str, np.ndarray]) -> tuple[Run, str]:
    """W5: ``grad(z ↦ grad(f)(z) · v)`` with ``torch.func.grad``."""
    inner, x, v = _hvp_inputs(params, arrays)
    g = torch.func.grad(_f)
    hvp = torch.func.grad(lambda z: (g(z) * v).sum())

    def run() -> dict[str, Any]:
        for _ in range(inner):
            hv = hvp(x)
        return {"hv": hv}

    return run, "torch.func.grad nested (reverse over reverse)"


def hvp_gradients(params: dict[str, Any], arrays: dict[str, np.ndarray]) -> tuple[Run, str]:
    """W5: ``torch.autograd.grad(..., create_graph=True)``, then again."""
    inner, x0, v = _hvp_inputs(params, arrays)

    def run() -> dict[str, Any]:
        x = x0.clone().requires_grad_(True)
        for _ in range(inner):
            (g,) = torch.autograd.grad(_f(x), x, create_graph=True)
            (hv,) = torch.autograd.grad((g * v).sum(), x)
        return {"hv": hv}

    return run, "torch.autograd.grad(create_graph=True), then torch.autograd.grad"


def hvp_forward(params: dict[str, Any], arrays: dict[str, np.ndarray]) -> tuple[Run, str]:
    """W5-hvp: ``torch.func.jvp`` of ``torch.func.grad`` (forward over reverse, torch.func's recipe)."""
    inner, x, v = _hvp_inputs(params, arrays)
    g = torch.func.grad(_f)

    def run() -> dict[str, Any]:
        for _ in range(inner):
            hv = torch.func.jvp(g, (x,), (v,))[1]
        return {"hv": hv}

    return run, "torch.func.jvp of torch.func.grad (forward over reverse)"


def lstm(params: dict[str, Any], arrays: dict[str, np.ndarray]) -> tuple[Run, str]:
    """W9: ``nn.LSTM`` (batch first) and ``nn.Linear`` on its last state, cross-entropy, ``torch.optim.Adam``."""
    x, y = torch.from_numpy(arrays["x"]), torch.from_numpy(arrays["y"]).long()
    w_ih = torch.from_numpy(arrays["W_ih"])
    hidden = w_ih.shape[0] // 4
    rnn = torch.nn.LSTM(w_ih.shape[1], hidden, batch_first=True, dtype=w_ih.dtype)
    head = torch.nn.Linear(hidden, arrays["W"].shape[1], dtype=w_ih.dtype)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(w_ih)
        rnn.weight_hh_l0.copy_(torch.from_numpy(arrays["W_hh"]))
        rnn.bias_ih_l0.copy_(torch.from_numpy(arrays["b_ih"]))
        rnn.bias_hh_l0.copy_(torch.from_numpy(arrays["b_hh"]))
        head.weight.copy_(torch.from_numpy(arrays["W"]).T)  # (in, out) → torch's (out, in)
        head.bias.copy_(torch.from_numpy(arrays["b"]))
    opt = torch.optim.Adam([*rnn.parameters(), *head.parameters()], lr=params["lr"])

    def run() -> dict[str, Any]:
        opt.zero_grad()
        _, (h, _) = rnn(x)
        loss = F.cross_entropy(head(h[-1]), y)
        loss.backward()
        opt.step()
        return {
            "losses": [loss.item()],
            "W_ih": rnn.weight_ih_l0,
            "W_hh": rnn.weight_hh_l0,
            "b_ih": rnn.bias_ih_l0,
            "b_hh": rnn.bias_hh_l0,
            "W": head.weight.T,
            "b": head.bias,
        }

    return run, "nn.LSTM(batch_first=True) and nn.Linear on h_n[-1], F.cross_entropy, torch.optim.Adam, loss.item()"


BUILDERS = {
    "walkthrough": walkthrough,
    "mlp": mlp,
    "chain": chain,
    "hvp_nested": hvp_nested,
    "hvp_gradients": hvp_gradients,
    "hvp_forward": hvp_forward,
    "lstm": lstm,
}
