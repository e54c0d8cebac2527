"""W7: convolutional networks, the framework against the hand-written NumPy of ``numpy_cnn.py``.

Two cases, both float32:

- ``W7``: one training epoch of a LeNet-like network on the digits as ``(n, 1, 8, 8)``
  images (Conv2d 1→8 → ReLU → MaxPool2d → Conv2d 8→16 → ReLU → MaxPool2d → Flatten →
  Dense 64→10), mini-batches of 64, Adam. The network of ``examples/cnn_digits.py``.
- ``W7-conv``: one convolution layer at a realistic size (batch 32, 16→32 channels,
  28×28, 3×3, padding 1), forward and backward (input, weight and bias gradients).
  With PyTorch importable, its time for the same layer is printed for information.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autograd_core import Tensor

from . import numpy_cnn as ref
from .numpy_reference import Adam
from .workloads import TARGETS, Case, Result, Sizes, _require, _tol, load_digits_data

F32 = np.dtype(np.float32)


def _cnn_case(s: Sizes) -> Case:
    nn, optim = _require(("Sequential", "Conv2d", "MaxPool2d", "Flatten", "Dense", "ReLU"), ("Adam",))
    x, y, note = load_digits_data(s.digits_samples)
    x = x.reshape(-1, 1, 8, 8).astype(F32)
    batches = [(x[i : i + 64], y[i : i + 64]) for i in range(0, len(x), 64)]
    tensor_batches = [(Tensor(xb), yb) for xb, yb in batches]
    c1, c2 = (4, 8) if s.quick else (8, 16)
    rng = np.random.default_rng(7)
    model = nn.Sequential(
        nn.Conv2d(1, c1, 3, padding=1, rng=rng, dtype=F32),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 3, padding=1, rng=rng, dtype=F32),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Dense(c2 * 2 * 2, 10, rng=rng, dtype=F32),
    )
    model.train()
    params = list(model.parameters())  # conv1 weight, bias, conv2 weight, bias, dense weight, bias
    cnn = ref.CNN([p.data.copy() for p in params])
    opt = optim.Adam(params, lr=0.001)
    np_opt = Adam(lr=0.001)

    def fw_step(xb: Tensor, yb: np.ndarray) -> float:
        return opt.minimize(lambda: nn.softmax_cross_entropy(model(xb), yb))

    def framework() -> Result:
        losses = [fw_step(xb, yb) for xb, yb in tensor_batches]
        return {"losses": losses, **{f"p{i}": p.data for i, p in enumerate(params)}}

    def numpy() -> Result:
        losses = [cnn.train_step(xb, yb, np_opt) for xb, yb in batches]
        return {"losses": losses, **{f"p{i}": p for i, p in enumerate(cnn.params)}}

    return Case(
        key="W7",
        title=f"digits CNN conv{c1}-pool-conv{c2}-pool-dense, Adam, float32",
        unit=f"epoch ({len(batches)} batches of 64)",
        target=TARGETS["W7"],
        framework=framework,
        numpy=numpy,
        tol=_tol(F32),
        memory=(lambda: fw_step(*tensor_batches[0]), lambda: cnn.train_step(*batches[0], np_opt)),
        note=note,
    )


def _layer_case(s: Sizes) -> Case:
    nn, _ = _require(("Conv2d",), ())
    n, c, o, side = (2, 4, 8, 8) if s.quick else (32, 16, 32, 28)
    rng = np.random.default_rng(8)
    x = rng.standard_normal((n, c, side, side)).astype(F32)
    g = rng.standard_normal((n, o, side, side)).astype(F32)
    layer = nn.Conv2d(c, o, 3, padding=1, rng=rng, dtype=F32)
    layer.bias.data[...] = rng.standard_normal(o)
    w, b = layer.weight.data.copy(), layer.bias.data.copy()
    xt = Tensor(x, requires_grad=True)  # an activation of the layer before, say

    def framework() -> Result:
        xt.grad = None
        layer.zero_grad()
        out = layer(xt)
        out.backward(g)
        return {"y": out.data, "dx": xt.grad, "dw": layer.weight.grad, "db": layer.bias.grad}

    def numpy() -> Result:
        y_, dx, dw, db = ref.conv_layer(x, w, b, g, 1)
        return {"y": y_, "dx": dx, "dw": dw, "db": db}

    extra = {} if s.quick else _torch_layer(x, w, b, g)
    return Case(
        key="W7-conv",
        title=f"one Conv2d {c}→{o}, 3×3, padding 1, on {n}×{c}×{side}×{side}, float32",
        unit="forward + backward",
        target=TARGETS["W7"],
        framework=framework,
        numpy=numpy,
        tol=_tol(F32),
        extra=extra,
    )


def _torch_layer(x: np.ndarray, w: np.ndarray, b: np.ndarray, g: np.ndarray) -> dict[str, Any]:
    """The same layer in PyTorch, when it is installed (for information only)."""
    try:
        import torch
    except ImportError:
        return {}
    conv = torch.nn.Conv2d(w.shape[1], w.shape[0], w.shape[2], padding=1)
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(w))
        conv.bias.copy_(torch.from_numpy(b))
    xt, gt = torch.from_numpy(x), torch.from_numpy(g)

    def run() -> None:
        xin = xt.clone().requires_grad_(True)
        conv.zero_grad()
        conv(xin).backward(gt)

    threads = torch.get_num_threads()

    def run_one_thread() -> None:  # steadier on a busy machine, and like NumPy's own (single-threaded) loops
        torch.set_num_threads(1)
        try:
            run()
        finally:
            torch.set_num_threads(threads)

    return {
        f"PyTorch {torch.__version__} (same layer, {threads} threads)": run,
        f"PyTorch {torch.__version__} (same layer, 1 thread)": run_one_thread,
    }


def w7(s: Sizes) -> list[Case]:
    """Convolutional networks: the digits CNN per epoch, and one conv layer forward + backward."""
    return [_cnn_case(s), _layer_case(s)]
