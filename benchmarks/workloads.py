"""The workloads, each as a pair: the framework's version and its floor.

A builder (``w1`` … ``w7``) returns one or more :class:`Case` s. A case holds two
zero-argument callables, ``framework`` and ``numpy``, each running one timed unit
(1000 walkthrough steps, one epoch, one training step, ...) on its own copy of the
same initial state and returning a dict of results; ``compare`` says how far apart
the two dicts are. The first call of each side starts from identical state, so the
warm-up results are compared before any timing.

The ``numpy`` side is the *floor*: the fastest program a person writes by hand for the
same result (``numpy_reference.py``): NumPy with the backward pass written out for the
networks, plain Python floats for the walkthrough's scalar loop (its NumPy 0-d version
is a second row), the closed form for the Hessian-vector product. ``Case.floor`` names it.

The framework side is written the way a user writes it, against the public API
(``/work/shared/API.md``). A case's ``peer`` (a :class:`PeerSpec`) holds its initial
state, so that ``--peers`` can run the same unit in PyTorch and JAX (``peers/``).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import autograd_core as ag
from autograd_core import Tensor

from . import numpy_reference as ref

Result = dict[str, Any]


class Skip(Exception):
    """A workload cannot run here (``nn``/``optim`` not available yet, say); the message says why."""


@dataclass
class Sizes:
    """Problem sizes: the benchmark's by default, tiny ones with ``quick=True`` (for the smoke test)."""

    quick: bool = False
    w1_steps: int = 1000
    digits_samples: int | None = None  # None: all 1797
    mlp_hidden: int = 128
    w3_batch: int = 512
    w3_layers: tuple[int, ...] = (1024, 2048, 2048, 10)
    w4_ops: int = 100_000
    w5_n: int = 1000
    w5_inner: int = 200
    jac_small: int = 10  # the Jacobians: 10 → 1,000 and 1,000 → 10
    jac_large: int = 1000

    @classmethod
    def make(cls, quick: bool) -> Sizes:
        if not quick:
            return cls()
        return cls(
            quick=True,
            w1_steps=50,
            digits_samples=200,
            mlp_hidden=32,
            w3_batch=16,
            w3_layers=(32, 64, 64, 10),
            w4_ops=200,
            w5_n=50,
            w5_inner=2,
            jac_small=3,
            jac_large=40,
        )


@dataclass
class PeerSpec:
    """The same unit of work for another framework (``peers/``): which workload, its numbers,
    and copies of the initial state (data, weights) taken before either side ran."""

    kind: str  # "walkthrough", "mlp", "chain", "hvp_nested", "hvp_gradients" or "hvp_forward"
    params: dict[str, Any]
    arrays: dict[str, np.ndarray]


@dataclass
class Case:
    """One row of the table: a framework callable against its floor (the ``numpy`` callable)."""

    key: str
    title: str
    unit: str
    target: float  # NaN: no target (a row for information)
    framework: Callable[[], Result]
    numpy: Callable[[], Result]
    tol: float
    inner: int = 1  # calls per timed unit; reported times are divided by it
    memory: tuple[Callable[[], Any], Callable[[], Any]] | None = None  # one training step each
    memory_target: float = math.nan  # peak-memory ratio to meet (NaN: reported only)
    extra: dict[str, Callable[[], Any]] = field(default_factory=dict)  # timed for information only
    note: str = ""
    floor: str = "NumPy"  # what the floor is: "NumPy", "Python floats", "closed form"
    peer: PeerSpec | None = None

    def compare(self, fw: Result, np_: Result) -> float:
        """Largest discrepancy over the results: ``max|a − b| / max(1, max|b|)``."""
        return max_discrepancy(fw, np_)


@dataclass
class Report:
    """A workload measured its own way, not as a ratio to NumPy (the search's overhead, say).

    ``run(repeats)`` returns ``(figures, lines, passed)``: named measurements (for the JSON),
    the lines to print, and whether every target was met (None: no target).
    """

    key: str
    title: str
    run: Callable[[int], tuple[dict[str, float], list[str], bool | None]]


def max_discrepancy(fw: Result, np_: Result) -> float:
    """Largest scaled difference between two result dicts with the same keys."""
    if fw.keys() != np_.keys():
        raise ValueError(f"results differ in their keys: {sorted(fw)} vs {sorted(np_)}")
    worst = 0.0
    for k in fw:
        a = np.asarray(fw[k], dtype=np.float64)
        b = np.asarray(np_[k], dtype=np.float64)
        if a.shape != b.shape:
            raise ValueError(f"result {k!r}: shapes {a.shape} and {b.shape} differ")
        if a.size == 0:
            continue
        if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
            return float("inf")
        worst = max(worst, float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b))))))
    return worst


def _tol(dtype: Any) -> float:
    return 1e-10 if np.dtype(dtype) == np.float64 else 1e-4


# ============================================================== nn / optim, per the contract


def _require(names_nn: tuple[str, ...], names_optim: tuple[str, ...]) -> tuple[Any, Any]:
    """Import ``nn`` and ``optim`` and check they have what the workload uses, or raise Skip."""
    try:
        import nn
        import optim
    except ImportError as err:  # pragma: no cover - both packages ship with the project
        raise Skip(f"nn/optim not available ({err})") from None
    missing = [f"nn.{n}" for n in names_nn if not hasattr(nn, n)]
    missing += [f"optim.{n}" for n in names_optim if not hasattr(optim, n)]
    if missing:
        raise Skip(f"nn/optim not available: missing {', '.join(missing)}")
    return nn, optim


def _dense(nn: Any, n_in: int, n_out: int, dtype: Any, bias: bool = True) -> Any:
    """``nn.Dense``, in ``dtype`` if the layer takes a ``dtype`` (else its parameters are cast)."""
    kwargs: dict[str, Any] = {"bias": bias}
    if "dtype" in inspect.signature(nn.Dense).parameters:
        kwargs["dtype"] = dtype
    layer = nn.Dense(n_in, n_out, **kwargs)
    for p in layer.parameters():
        if p.data.dtype != dtype:
            p.data = p.data.astype(dtype)
    return layer


def _dense_params(layer: Any) -> tuple[Tensor, Tensor | None]:
    """A Dense layer's weight (the 2-D parameter whose shape is ``(in, out)``) and bias."""
    params = list(layer.parameters())
    weights = [p for p in params if p.ndim == 2]
    if len(weights) != 1 or len(params) > 2:
        raise Skip(f"nn.Dense: expected a weight and an optional bias, got shapes {[p.shape for p in params]}")
    w = weights[0]
    others = [p for p in params if p is not w]
    return w, (others[0] if others else None)


def _mlp_pair(nn: Any, sizes: tuple[int, ...], dtype: Any, batchnorm: bool) -> tuple[Any, list[Any], ref.MLP]:
    """The framework's ``Sequential`` and a NumPy MLP holding copies of its initial weights."""
    modules: list[Any] = []
    dense: list[Any] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        hidden = i < len(sizes) - 2
        layer = _dense(nn, n_in, n_out, dtype, bias=not (hidden and batchnorm))  # no bias before BatchNorm
        dense.append(layer)
        modules.append(layer)
        if hidden:
            if batchnorm:
                has_dtype = "dtype" in inspect.signature(nn.BatchNorm).parameters
                bn = nn.BatchNorm(n_out, **({"dtype": dtype} if has_dtype else {}))
                for p in bn.parameters():
                    if p.data.dtype != dtype:
                        p.data = p.data.astype(dtype)
                modules.append(bn)
            modules.append(nn.ReLU())
    model = nn.Sequential(*modules)
    model.train()
    weights, biases = [], []
    for layer in dense:
        w, b = _dense_params(layer)
        weights.append(w.data.copy())
        biases.append(None if b is None else b.data.copy())
    return model, dense, ref.MLP(weights, biases, batchnorm=batchnorm)


def _mlp_peer(mlp: ref.MLP, x: np.ndarray, y: np.ndarray, lr: float, batch: int) -> PeerSpec:
    """Gradient descent on an MLP without BatchNorm, from ``mlp``'s (initial) weights: one
    epoch of ``x`` in mini-batches of ``batch`` per unit; results ``losses`` and ``W0``, ``W1``, ..."""
    arrays = {"x": x, "y": y}
    for i, (w, b) in enumerate(zip(mlp.weights, mlp.biases)):
        arrays[f"W{i}"] = w.copy()
        if b is not None:
            arrays[f"b{i}"] = b.copy()
    return PeerSpec("mlp", {"lr": lr, "batch": batch, "layers": len(mlp.weights)}, arrays)


def _dense_weights(dense: list[Any]) -> Result:
    return {f"W{i}": _dense_params(layer)[0].data for i, layer in enumerate(dense)}


def load_digits_data(n: int | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """scikit-learn's digits (1797 × 64, 10 classes), standardised per feature, in a fixed
    shuffled order. Without scikit-learn: random data of the same shape (and a note saying so)."""
    rng = np.random.default_rng(0)
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        x = rng.integers(0, 17, size=(1797, 64)).astype(np.float64)
        y = rng.integers(0, 10, size=1797)
        note = "scikit-learn missing: random data of the digits' shape"
    else:
        x, y = load_digits(return_X_y=True)
        note = ""
    std = x.std(axis=0)
    x = (x - x.mean(axis=0)) / np.where(std > 0, std, 1.0)  # constant pixels stay 0
    order = rng.permutation(len(x))
    x, y = x[order], y[order].astype(np.intp)
    if n is not None:
        x, y = x[:n], y[:n]
    return x, y, note


def _batches(x: np.ndarray, y: np.ndarray, batch: int) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(x[i : i + batch], y[i : i + batch]) for i in range(0, len(x), batch)]


# ============================================================== W1


def w1(s: Sizes) -> list[Case]:
    """The walkthrough: ``minimize(w**2 - 10*w + 25)`` with gradient descent, 1000 steps.

    Two rows, one run of the framework each: against the fastest hand-written loop
    (plain Python floats, the row with the target) and against the same loop on a NumPy
    0-d array (about ten times slower than floats, for information)."""
    import optim  # GradientDescent ships with the core

    steps, lr = s.w1_steps, 0.01

    def framework() -> Result:
        w = Tensor(0.0, requires_grad=True, name="w")
        train = optim.GradientDescent([w], lr=lr)
        cost = 0.0
        for _ in range(steps):
            cost = train.minimize(lambda: w**2 - 10 * w + 25)
        return {"w": w.item(), "cost": cost}

    def floats() -> Result:
        w, cost = ref.scalar_loop_python(steps, lr)
        return {"w": w, "cost": cost}

    def numpy() -> Result:
        w, cost = ref.scalar_loop(steps, lr)
        return {"w": w, "cost": cost}

    common = dict(unit=f"{steps} steps", framework=framework, tol=1e-10)
    peer = PeerSpec("walkthrough", {"steps": steps, "lr": lr}, {})
    return [
        Case(
            key="W1",
            title="walkthrough",
            target=TARGETS["W1"],
            numpy=floats,
            floor="Python floats",
            peer=peer,
            **common,
        ),
        Case(key="W1-np", title="walkthrough", target=math.nan, numpy=numpy, floor="NumPy 0-d", peer=peer, **common),
    ]


# ============================================================== W2 and W6


def _digits_case(s: Sizes, dtype: Any, batchnorm: bool) -> Case:
    names_nn = ("Sequential", "Dense", "ReLU", "softmax_cross_entropy") + (("BatchNorm",) if batchnorm else ())
    names_optim = ("Adam",) if batchnorm else ("GradientDescent",)
    nn, optim = _require(names_nn, names_optim)
    dtype = np.dtype(dtype)
    x, y, note = load_digits_data(s.digits_samples)
    x = x.astype(dtype)
    batches = _batches(x, y, 64)
    tensor_batches = [(Tensor(xb), yb) for xb, yb in batches]
    h = s.mlp_hidden

    rng_state = np.random.get_state()
    np.random.seed(1)  # in case nn initialises from the global generator
    try:
        model, dense, mlp = _mlp_pair(nn, (64, h, h, 10), dtype, batchnorm)
    finally:
        np.random.set_state(rng_state)
    if batchnorm:
        opt = optim.Adam(model.parameters(), lr=0.001)
        np_opt: ref.SGD | ref.Adam = ref.Adam(lr=0.001)
    else:
        opt = optim.GradientDescent(model.parameters(), lr=0.1)
        np_opt = ref.SGD(lr=0.1)

    def fw_step(xb: Tensor, yb: np.ndarray) -> float:
        return opt.minimize(lambda: nn.softmax_cross_entropy(model(xb), yb))

    def framework() -> Result:
        losses = [fw_step(xb, yb) for xb, yb in tensor_batches]
        return {"losses": losses, **_dense_weights(dense)}

    def numpy() -> Result:
        losses = [mlp.train_step(xb, yb, np_opt) for xb, yb in batches]
        return {"losses": losses, **{f"W{i}": w for i, w in enumerate(mlp.weights)}}

    key = "W6" if batchnorm else "W2"
    suffix = "f64" if dtype == np.float64 else "f32"
    what = "+ BatchNorm, Adam" if batchnorm else "gradient descent"
    return Case(
        key=f"{key}-{suffix}",
        title=f"digits MLP 64-{h}-{h}-10 {what}, {dtype.name}",
        unit=f"epoch ({len(batches)} batches)",
        target=TARGETS[key],
        framework=framework,
        numpy=numpy,
        tol=_tol(dtype),
        memory=(
            lambda: fw_step(*tensor_batches[0]),
            lambda: mlp.train_step(*batches[0], np_opt),
        ),
        note=note,
        floor="NumPy",
        peer=None if batchnorm else _mlp_peer(mlp, x, y, lr=0.1, batch=64),
    )


def w2(s: Sizes) -> list[Case]:
    """Digits, MLP 64-128-128-10, ReLU, softmax cross-entropy, batch 64, GD lr 0.1, per epoch."""
    return [_digits_case(s, np.float64, False), _digits_case(s, np.float32, False)]


def w6(s: Sizes) -> list[Case]:
    """W2 with BatchNorm after each hidden Dense, trained with Adam."""
    return [_digits_case(s, np.float64, True)]


# ============================================================== W3


def w3(s: Sizes) -> list[Case]:
    """Random data, batch 512, MLP 1024-2048-2048-10, float32, one training step."""
    nn, optim = _require(("Sequential", "Dense", "ReLU", "softmax_cross_entropy"), ("GradientDescent",))
    dtype = np.dtype(np.float32)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((s.w3_batch, s.w3_layers[0])).astype(dtype)
    y = rng.integers(0, s.w3_layers[-1], size=s.w3_batch)
    xt = Tensor(x)
    model, dense, mlp = _mlp_pair(nn, s.w3_layers, dtype, batchnorm=False)
    opt = optim.GradientDescent(model.parameters(), lr=0.01)
    np_opt = ref.SGD(lr=0.01)
    peer = _mlp_peer(mlp, x, y, lr=0.01, batch=len(x))  # one step: an "epoch" of one batch

    def fw_step() -> float:
        return opt.minimize(lambda: nn.softmax_cross_entropy(model(xt), y))

    def framework() -> Result:
        return {"losses": [fw_step()], **_dense_weights(dense)}

    def np_step() -> float:
        return mlp.train_step(x, y, np_opt)

    def numpy() -> Result:
        return {"losses": [np_step()], **{f"W{i}": w for i, w in enumerate(mlp.weights)}}

    layers = "-".join(map(str, s.w3_layers))
    return [
        Case(
            key="W3",
            title=f"large MLP {layers}, batch {s.w3_batch}, float32",
            unit="training step",
            target=TARGETS["W3"],
            framework=framework,
            numpy=numpy,
            tol=_tol(dtype),
            memory=(fw_step, np_step),
            memory_target=MEMORY_TARGETS["W3"],
            peer=peer,
        )
    ]


# ============================================================== W4


def w4(s: Sizes) -> list[Case]:
    """A chain of alternating ``x = sin(x)`` and ``x = x * 1.0001`` on a vector of 100, forward and backward."""
    n_ops = s.w4_ops
    scale = 1.0001
    x0 = np.random.default_rng(4).uniform(-1.0, 1.0, size=100)

    def framework() -> Result:
        x_in = Tensor(x0, requires_grad=True)
        x = x_in
        for i in range(n_ops):
            x = x.sin() if i % 2 == 0 else x * scale
        y = x.sum()
        y.backward()
        return {"y": y.item(), "grad": x_in.grad}

    def numpy() -> Result:
        y, g = ref.chain(x0, n_ops, scale)
        return {"y": y, "grad": g}

    return [
        Case(
            key="W4",
            title=f"deep chain: {n_ops:,} ops (sin, ×{scale}) on 100",
            unit="forward + backward",
            target=TARGETS["W4"],
            framework=framework,
            numpy=numpy,
            tol=1e-10,
            memory=(framework, numpy),
            memory_target=MEMORY_TARGETS["W4"],
            peer=PeerSpec("chain", {"n_ops": n_ops, "scale": scale}, {"x0": x0.copy()}),
        )
    ]


# ============================================================== W5


def w5(s: Sizes) -> list[Case]:
    """Hessian-vector product of ``f(x) = sum(tanh(x)**2)``, written the three ways a user writes it
    (nested ``ag.grad``, ``ag.gradients`` twice, ``ag.hvp``: forward over reverse), against the
    closed form ``H v = 2(1 − t²)(1 − 3t²) ⊙ v`` with ``t = tanh(x)``."""
    rng = np.random.default_rng(5)
    x_np = rng.standard_normal(s.w5_n)
    v = rng.standard_normal(s.w5_n)
    inner = s.w5_inner

    def f(z: Tensor) -> Tensor:
        return (z.tanh() ** 2).sum()

    g = ag.grad(f)
    hvp = ag.grad(lambda z: (g(z) * v).sum())

    def nested() -> Result:
        x = Tensor(x_np)
        for _ in range(inner):
            hv = hvp(x)
        return {"hv": hv.data}

    def gradients() -> Result:
        x = Tensor(x_np, requires_grad=True)
        for _ in range(inner):
            (gx,) = ag.gradients(f(x), [x], create_graph=True)
            (hv,) = ag.gradients((gx * v).sum(), [x])
        return {"hv": hv.data}

    def forward_over_reverse() -> Result:
        x = Tensor(x_np)
        for _ in range(inner):
            _, hv = ag.hvp(f, x, v)
        return {"hv": hv.data}

    def closed_form() -> Result:
        for _ in range(inner):
            hv = ref.tanh_sq_hvp(x_np, v)
        return {"hv": hv}

    arrays = {"x": x_np, "v": v}
    common = dict(unit="HVP", target=TARGETS["W5"], numpy=closed_form, tol=1e-10, inner=inner, floor="closed form")
    return [
        Case(
            key="W5",
            title=f"HVP of sum(tanh(x)**2), n={s.w5_n}, nested ag.grad",
            framework=nested,
            peer=PeerSpec("hvp_nested", {"inner": inner}, arrays),
            **common,
        ),
        Case(
            key="W5-gradients",
            title=f"HVP of sum(tanh(x)**2), n={s.w5_n}, ag.gradients twice",
            framework=gradients,
            peer=PeerSpec("hvp_gradients", {"inner": inner}, arrays),
            **common,
        ),
        Case(
            key="W5-hvp",
            title=f"HVP of sum(tanh(x)**2), n={s.w5_n}, ag.hvp (forward over reverse)",
            framework=forward_over_reverse,
            peer=PeerSpec("hvp_forward", {"inner": inner}, arrays),
            **common,
        ),
    ]


#: The targets: framework time / floor time (W1: / the loop on Python floats; W5: / the closed form).
TARGETS = {"W1": 35.0, "W2": 1.15, "W3": 1.03, "W4": 2.5, "W5": 6.0, "W6": 1.5}
TARGETS["W7"] = 1.2
TARGETS["FIT"] = 1.05
TARGETS["W9"] = 1.3
#: The compiled rows (``compiled.py``: ``ag.compile`` around the step), against the same floors.
TARGETS.update({"W1c": 10.0, "W2c": 1.08, "W4c": 1.5, "W5c": 2.5, "W6c": 1.10, "W7c": 1.10, "W9c": 1.10})
#: Peak memory of one unit (tracemalloc), framework / NumPy.
MEMORY_TARGETS = {"W3": 1.05, "W4": 2.0, "W9": 1.3, "W3c": 1.05}
