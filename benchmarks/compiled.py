"""The compiled rows: W1c, W2c, W3c, W4c, W5c, W6c, W7c, the workloads of ``workloads.py`` and
``conv.py`` written with ``ag.compile`` around the step, against the same floors.

Each case compiles its step once, when it is built; its first call (the harness's warm-up,
whose results are compared with the floor's) traces, and every timed call runs the program.
The trace-and-generate time is timed apart (an ``extra`` line: a fresh compiled function's
first call, which traces, builds the program and runs that first call eagerly). The peers
(``--peers``: JAX's ``jit``, PyTorch eager) run the same units as the eager rows.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

import autograd_core as ag
from autograd_core import Tensor

from . import numpy_cnn
from . import numpy_reference as ref
from .conv import F32
from .workloads import (
    MEMORY_TARGETS,
    TARGETS,
    Case,
    PeerSpec,
    Result,
    Sizes,
    _batches,
    _dense_weights,
    _mlp_pair,
    _mlp_peer,
    _require,
    _tol,
    load_digits_data,
)


def _tracing(make: Callable[[], Callable[[], Any]]) -> dict[str, Callable[[], Any]]:
    """The trace-and-generate time: a fresh compiled step's first call (the trace, and the program
    built and compiled)."""
    return {"trace and generate (a fresh step's first call)": lambda: make()()}


# ============================================================== W1c


def w1c(s: Sizes) -> list[Case]:
    """The walkthrough compiled: ``ag.compile(lambda: train.minimize(cost))``, 1000 calls."""
    import optim

    steps, lr = s.w1_steps, 0.01

    def setup() -> tuple[Tensor, Any]:
        w = Tensor(0.0, requires_grad=True, name="w")
        train = optim.GradientDescent([w], lr=lr)
        return w, ag.compile(lambda: train.minimize(lambda: w**2 - 10 * w + 25))

    w, step = setup()

    def framework() -> Result:
        w.data[...] = 0.0  # from the start, as the floor: the same array (the program reads it)
        w.grad = None
        cost = 0.0
        for _ in range(steps):
            cost = step()
        return {"w": w.item(), "cost": cost}

    def floats() -> Result:
        w_, cost = ref.scalar_loop_python(steps, lr)
        return {"w": w_, "cost": cost}

    def first() -> Callable[[], Any]:
        _, fresh = setup()
        return fresh

    return [
        Case(
            key="W1c",
            title="walkthrough, compiled",
            unit=f"{steps} steps",
            target=TARGETS["W1c"],
            framework=framework,
            numpy=floats,
            tol=1e-10,
            floor="Python floats",
            extra=_tracing(first),
            peer=PeerSpec("walkthrough", {"steps": steps, "lr": lr}, {}),
        )
    ]


# ============================================================== W2c, W3c, W6c


def _digits_compiled(s: Sizes, dtype: Any, batchnorm: bool) -> Case:
    names_nn = ("Sequential", "Dense", "ReLU", "softmax_cross_entropy") + (("BatchNorm",) if batchnorm else ())
    nn, optim = _require(names_nn, ("Adam",) if batchnorm else ("GradientDescent",))
    dtype = np.dtype(dtype)
    x, y, note = load_digits_data(s.digits_samples)
    x = x.astype(dtype)
    batches = _batches(x, y, 64)
    h = s.mlp_hidden

    def build() -> tuple[Any, list[Any], Any, Any]:
        state = np.random.get_state()
        np.random.seed(1)
        try:
            model, dense, mlp = _mlp_pair(nn, (64, h, h, 10), dtype, batchnorm)
        finally:
            np.random.set_state(state)
        opt = (optim.Adam if batchnorm else optim.GradientDescent)(model.parameters(), lr=0.001 if batchnorm else 0.1)
        step = ag.compile(lambda xb, yb: opt.minimize(lambda: nn.softmax_cross_entropy(model(xb), yb)))
        return dense, mlp, step, opt

    dense, mlp, step, _ = build()
    np_opt: ref.SGD | ref.Adam = ref.Adam(lr=0.001) if batchnorm else ref.SGD(lr=0.1)

    def framework() -> Result:
        losses = [step(xb, yb) for xb, yb in batches]
        return {"losses": losses, **_dense_weights(dense)}

    def numpy() -> Result:
        losses = [mlp.train_step(xb, yb, np_opt) for xb, yb in batches]
        return {"losses": losses, **{f"W{i}": w for i, w in enumerate(mlp.weights)}}

    def first() -> Callable[[], Any]:
        _, _, fresh, _ = build()
        return lambda: fresh(*batches[0])

    key = "W6c" if batchnorm else "W2c"
    suffix = "f64" if dtype == np.float64 else "f32"
    what = "+ BatchNorm, Adam" if batchnorm else "gradient descent"
    return Case(
        key=f"{key}-{suffix}",
        title=f"digits MLP 64-{h}-{h}-10 {what}, {dtype.name}, compiled",
        unit=f"epoch ({len(batches)} batches)",
        target=TARGETS[key],
        framework=framework,
        numpy=numpy,
        tol=_tol(dtype),
        memory=(lambda: step(*batches[0]), lambda: mlp.train_step(*batches[0], np_opt)),
        extra=_tracing(first),
        note=note,
        peer=None if batchnorm else _mlp_peer(mlp, x, y, lr=0.1, batch=64),
    )


def w2c(s: Sizes) -> list[Case]:
    """W2 with its training step compiled (float64 and float32)."""
    return [_digits_compiled(s, np.float64, False), _digits_compiled(s, np.float32, False)]


def w6c(s: Sizes) -> list[Case]:
    """W6 (BatchNorm, Adam) with its training step compiled."""
    return [_digits_compiled(s, np.float64, True)]


def w3c(s: Sizes) -> list[Case]:
    """W3 (a large MLP, one step) compiled: its time, and its peak memory against NumPy's."""
    nn, optim = _require(("Sequential", "Dense", "ReLU", "softmax_cross_entropy"), ("GradientDescent",))
    dtype = np.dtype(np.float32)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((s.w3_batch, s.w3_layers[0])).astype(dtype)
    y = rng.integers(0, s.w3_layers[-1], size=s.w3_batch)
    model, dense, mlp = _mlp_pair(nn, s.w3_layers, dtype, batchnorm=False)
    opt = optim.GradientDescent(model.parameters(), lr=0.01)
    np_opt = ref.SGD(lr=0.01)
    step = ag.compile(lambda xb, yb: opt.minimize(lambda: nn.softmax_cross_entropy(model(xb), yb)))

    def framework() -> Result:
        return {"losses": [step(x, y)], **_dense_weights(dense)}

    def numpy() -> Result:
        return {"losses": [mlp.train_step(x, y, np_opt)], **{f"W{i}": w for i, w in enumerate(mlp.weights)}}

    layers = "-".join(map(str, s.w3_layers))
    return [
        Case(
            key="W3c",
            title=f"large MLP {layers}, batch {s.w3_batch}, float32, compiled",
            unit="training step",
            target=TARGETS["W3"],
            framework=framework,
            numpy=numpy,
            tol=_tol(dtype),
            memory=(lambda: step(x, y), lambda: mlp.train_step(x, y, np_opt)),
            memory_target=MEMORY_TARGETS["W3c"],
            peer=_mlp_peer(mlp, x, y, lr=0.01, batch=len(x)),
        )
    ]


# ============================================================== W4c


def w4c(s: Sizes) -> list[Case]:
    """W4's chain compiled: forward and backward of 100,000 ops, as one program."""
    n_ops, scale = s.w4_ops, 1.0001
    x0 = np.random.default_rng(4).uniform(-1.0, 1.0, size=100)

    def chain(x_in: Tensor) -> Tensor:
        x = x_in
        for i in range(n_ops):
            x = x.sin() if i % 2 == 0 else x * scale
        y = x.sum()
        y.backward()
        return y

    step = ag.compile(chain)

    def framework() -> Result:
        x_in = Tensor(x0, requires_grad=True)
        y = step(x_in)
        return {"y": y.item(), "grad": x_in.grad}

    def numpy() -> Result:
        y, g = ref.chain(x0, n_ops, scale)
        return {"y": y, "grad": g}

    def first() -> Callable[[], Any]:
        fresh = ag.compile(chain)
        return lambda: fresh(Tensor(x0, requires_grad=True))

    return [
        Case(
            key="W4c",
            title=f"deep chain: {n_ops:,} ops (sin, ×{scale}) on 100, compiled",
            unit="forward + backward",
            target=TARGETS["W4c"],
            framework=framework,
            numpy=numpy,
            tol=1e-10,
            memory=(framework, numpy),
            extra=_tracing(first),
            peer=PeerSpec("chain", {"n_ops": n_ops, "scale": scale}, {"x0": x0.copy()}),
        )
    ]


# ============================================================== W5c


def w5c(s: Sizes) -> list[Case]:
    """W5's Hessian-vector product (nested ``ag.grad``) compiled."""
    rng = np.random.default_rng(5)
    x_np = rng.standard_normal(s.w5_n)
    v = rng.standard_normal(s.w5_n)
    inner = s.w5_inner

    def make() -> Any:
        g = ag.grad(lambda z: (z.tanh() ** 2).sum())
        return ag.compile(ag.grad(lambda z: (g(z) * v).sum()))

    hvp = make()

    def framework() -> Result:
        x = Tensor(x_np)
        for _ in range(inner):
            hv = hvp(x)
        return {"hv": hv.data}

    def closed_form() -> Result:
        for _ in range(inner):
            hv = ref.tanh_sq_hvp(x_np, v)
        return {"hv": hv}

    def first() -> Callable[[], Any]:
        fresh = make()
        return lambda: fresh(Tensor(x_np))

    return [
        Case(
            key="W5c",
            title=f"HVP of sum(tanh(x)**2), n={s.w5_n}, nested ag.grad, compiled",
            unit="HVP",
            target=TARGETS["W5c"],
            framework=framework,
            numpy=closed_form,
            tol=1e-10,
            inner=inner,
            floor="closed form",
            extra=_tracing(first),
            peer=PeerSpec("hvp_nested", {"inner": inner}, {"x": x_np, "v": v}),
        )
    ]


# ============================================================== W7c


def w7c(s: Sizes) -> list[Case]:
    """W7's digits CNN (Adam, float32) with its training step compiled."""
    nn, optim = _require(("Sequential", "Conv2d", "MaxPool2d", "Flatten", "Dense", "ReLU"), ("Adam",))
    x, y, note = load_digits_data(s.digits_samples)
    x = x.reshape(-1, 1, 8, 8).astype(F32)
    batches = [(x[i : i + 64], y[i : i + 64]) for i in range(0, len(x), 64)]
    c1, c2 = (4, 8) if s.quick else (8, 16)

    def build() -> tuple[list[Any], Any, Any]:
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
        params = list(model.parameters())
        opt = optim.Adam(params, lr=0.001)
        step = ag.compile(lambda xb, yb: opt.minimize(lambda: nn.softmax_cross_entropy(model(xb), yb)))
        return params, step, model

    params, step, _ = build()
    cnn = numpy_cnn.CNN([p.data.copy() for p in params])
    np_opt = ref.Adam(lr=0.001)

    def framework() -> Result:
        losses = [step(xb, yb) for xb, yb in batches]
        return {"losses": losses, **{f"p{i}": p.data for i, p in enumerate(params)}}

    def numpy() -> Result:
        losses = [cnn.train_step(xb, yb, np_opt) for xb, yb in batches]
        return {"losses": losses, **{f"p{i}": p for i, p in enumerate(cnn.params)}}

    def first() -> Callable[[], Any]:
        _, fresh, _ = build()
        return lambda: fresh(*batches[0])

    return [
        Case(
            key="W7c",
            title=f"digits CNN conv{c1}-pool-conv{c2}-pool-dense, Adam, float32, compiled",
            unit=f"epoch ({len(batches)} batches of 64)",
            target=TARGETS["W7c"],
            framework=framework,
            numpy=numpy,
            tol=_tol(F32),
            memory=(lambda: step(*batches[0]), lambda: cnn.train_step(*batches[0], np_opt)),
            extra=_tracing(first),
            note=note,
        )
    ]


__all__ = [name for name, f in list(globals().items()) if inspect.isfunction(f) and name.startswith("w")]
