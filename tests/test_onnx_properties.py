"""Random models, exported and run in onnxruntime, agree with eager (float32 within 1e-5, float64
within 1e-10) at the example's batch size and at others: chains and small DAGs of elementwise ops,
comparisons, reductions, matrix products and movement ops on ``(batch, features)`` values, and
convolution/pooling chains on images.

Hypothesis draws the program (which op, on which earlier values) and the seeds of its weights and
data; every op of the table is written so that its value stays finite on any real input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import autograd_core as ag  # noqa: E402
from autograd_core import Tensor  # noqa: E402

TOL = {np.float32: 1e-5, np.float64: 1e-10}
EXAMPLE, OTHERS = 3, (1, 6)
PROPERTY = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ============================================================== the op table, on (batch, features) values

UNARY: dict[str, Callable[[Tensor], Tensor]] = {
    "tanh": lambda x: x.tanh(),
    "sigmoid": lambda x: x.sigmoid(),
    "relu": lambda x: x.relu(),
    "abs": lambda x: x.abs(),
    "sin": lambda x: x.sin(),
    "cos": lambda x: ag.cos(x),
    "neg": lambda x: -x,
    "exp": lambda x: ag.exp(x.clip(-4, 4)),
    "log": lambda x: ag.log(x.abs() + 0.5),
    "log1p": lambda x: ag.log1p(x.abs()),
    "expm1": lambda x: ag.expm1(x.clip(-3, 3)),
    "sqrt": lambda x: ag.sqrt(x.abs()),
    "square": lambda x: x.clip(-3, 3).square(),
    "power": lambda x: (x.abs() + 1) ** 1.5,
    "leaky_relu": lambda x: ag.leaky_relu(x, 0.1),
    "softmax": lambda x: x.softmax(axis=1),
    "log_softmax": lambda x: x.log_softmax(axis=-1),
    "where": lambda x: ag.where(x > 0.1, x, -0.5 * x),
    "mask": lambda x: x * ((x < -0.2) | (x > 0.3)),
    "centre": lambda x: x - x.mean(axis=0, keepdims=True),
    "scale": lambda x: x / (x.std(axis=0, keepdims=True) + 1),
    "reverse": lambda x: x[:, ::-1],
    "roll": lambda x: ag.concatenate([x[:, 1:], x[:, :1]], axis=1),
    "transpose": lambda x: x.reshape(-1, 1, x.shape[1]).transpose(0, 2, 1).reshape(x.shape[0], -1),
    "unsqueeze": lambda x: ag.squeeze(ag.expand_dims(x, 1), 1),
    "clone": lambda x: x.clone(),
    "detach": lambda x: x.detach() * 1.5,
}
#: (batch, d) → (batch, 1): a reduction of each row.
ROWWISE: dict[str, Callable[[Tensor], Tensor]] = {
    "sum": lambda x: x.sum(axis=1, keepdims=True),
    "mean": lambda x: x.mean(axis=-1, keepdims=True),
    "max": lambda x: x.max(axis=1, keepdims=True),
    "min": lambda x: ag.min(x, axis=1, keepdims=True),
    "logsumexp": lambda x: x.logsumexp(axis=1, keepdims=True),
    "var": lambda x: x.var(axis=1, keepdims=True),
    "norm": lambda x: x.norm(axis=1, keepdims=True),
    "column": lambda x: x[:, -1:],
}
#: two values of one shape (or the second (batch, 1), broadcast) → the first's shape.
BINARY: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "add": lambda x, y: x + y,
    "subtract": lambda x, y: ag.subtract(x, y),
    "multiply": lambda x, y: x * y.tanh(),
    "divide": lambda x, y: x / (y.abs() + 1),
    "maximum": lambda x, y: ag.maximum(x, y),
    "minimum": lambda x, y: ag.minimum(x, y),
    "where": lambda x, y: ag.where(x < y, x, y * 0.5),
    "mask logic": lambda x, y: ag.where((x > 0) & ~(y > 0) ^ (x < y), x, y),
}


@st.composite
def vector_programs(draw: Any) -> tuple[Callable[..., Any], list[tuple[int, ...]], int]:
    """A function of one or two ``(batch, d)`` inputs: a DAG of steps, each reading earlier values."""
    widths = [draw(st.integers(1, 4)) for _ in range(draw(st.integers(1, 2)))]
    steps = []
    dims = list(widths)  # the feature width of every value so far
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["unary", "rowwise", "binary", "matmul", "concat"]))
        i = draw(st.integers(0, len(dims) - 1))
        if kind == "unary":
            steps.append((kind, draw(st.sampled_from(sorted(UNARY))), i, None))
        elif kind == "rowwise":
            steps.append((kind, draw(st.sampled_from(sorted(ROWWISE))), i, None))
            dims.append(1)
            continue
        elif kind == "binary":
            j = draw(st.integers(0, len(dims) - 1))
            if dims[j] not in (1, dims[i]):  # reduce it to a column, which broadcasts
                steps.append(("rowwise", draw(st.sampled_from(sorted(ROWWISE))), j, None))
                dims.append(1)
                j = len(dims) - 1
            steps.append((kind, draw(st.sampled_from(sorted(BINARY))), i, j))
        elif kind == "matmul":
            out = draw(st.integers(1, 4))
            steps.append((kind, draw(st.sampled_from(["weight", "array", "bias"])), i, (dims[i], out)))
            dims.append(out)
            continue
        else:
            j = draw(st.integers(0, len(dims) - 1))
            steps.append((kind, "", i, j))
            dims.append(dims[i] + dims[j])
            continue
        dims.append(dims[i])
    outputs = draw(st.lists(st.integers(0, len(dims) - 1), min_size=1, max_size=2, unique=True))
    seed = draw(st.integers(0, 2**31))
    return _vector_function(steps, outputs, seed), [("n", d) for d in widths], seed


def _vector_function(steps: list[Any], outputs: list[int], seed: int) -> Callable[..., Any]:
    rng = np.random.default_rng(seed)
    weights = {}
    for k, (kind, how, _, shape) in enumerate(steps):
        if kind == "matmul":
            w = rng.normal(size=shape) / np.sqrt(shape[0])
            weights[k] = (Tensor(w, requires_grad=True), rng.normal(size=shape[1])) if how != "array" else (w, None)

    def f(*inputs: Tensor) -> Any:
        values = list(inputs)
        for k, (kind, how, i, j) in enumerate(steps):
            x = values[i]
            if kind == "unary":
                values.append(UNARY[how](x))
            elif kind == "rowwise":
                values.append(ROWWISE[how](x))
            elif kind == "binary":
                values.append(BINARY[how](x, values[j]))
            elif kind == "matmul":
                w, b = weights[k]
                values.append(x @ w + b if how == "bias" else x @ w)
            else:
                values.append(ag.concatenate([x, values[j]], axis=1))
        result = [values[o] * 1.0 for o in outputs]  # (an op: an output is never an input as it is)
        return result[0] if len(result) == 1 else tuple(result)

    return f


# ============================================================== images


@st.composite
def image_programs(draw: Any) -> tuple[Callable[..., Any], list[tuple[Any, ...]], int]:
    """A chain on ``(batch, c, h, w)`` images: convolutions, pooling, activations; flattened at the end."""
    c, h, w = draw(st.integers(1, 2)), draw(st.integers(4, 8)), draw(st.integers(4, 8))
    steps = []
    channels = c
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["conv", "max", "avg", "act"]))
        if kind == "conv":
            out, k = draw(st.integers(1, 3)), draw(st.integers(1, 3))
            stride, padding = draw(st.integers(1, 2)), draw(st.integers(0, 1))
            steps.append(("conv", (out, channels, k, k), stride, padding, draw(st.booleans())))
            channels = out
        elif kind in ("max", "avg"):
            k = draw(st.integers(1, 3))
            steps.append((kind, k, draw(st.integers(1, 3)), draw(st.integers(0, k // 2)), None))
        else:
            steps.append(("act", draw(st.sampled_from(["relu", "tanh", "leaky_relu"])), None, None, None))
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    weights = [
        (Tensor(rng.normal(size=s[1]) / np.sqrt(np.prod(s[1][1:])), requires_grad=True), rng.normal(size=s[1][0]))
        if s[0] == "conv"
        else None
        for s in steps
    ]

    def f(x: Tensor) -> Tensor:
        for (kind, a, stride, padding, bias), wb in zip(steps, weights):
            if kind == "conv":
                x = ag.conv2d(x, wb[0], wb[1] if bias else None, stride=stride, padding=padding)
            elif kind == "max":
                x = ag.max_pool2d(x, a, stride=stride, padding=padding)
            elif kind == "avg":
                x = ag.avg_pool2d(x, a, stride=stride, padding=padding)
            else:
                x = ag.leaky_relu(x, 0.2) if a == "leaky_relu" else getattr(x, a)()
        return x.reshape(x.shape[0], -1)

    return f, [("n", c, h, w)], seed


# ============================================================== the property


def _arrays(shapes: list[tuple[Any, ...]], n: int, dtype: Any, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng([seed, n])
    return [rng.normal(size=tuple(n if d == "n" else d for d in s)).astype(dtype) for s in shapes]


def _check(f: Callable[..., Any], shapes: list[tuple[Any, ...]], seed: int, dtype: Any) -> None:
    example = _arrays(shapes, EXAMPLE, dtype, seed)
    try:
        with ag.no_grad():
            f(*(Tensor(a) for a in example))
    except ValueError as err:  # a kernel larger than the image it gets: not a program
        assume("larger than the padded input" not in str(err))
        raise
    model = ag.export_onnx(f, *example)  # dynamic batch; no fallback to fixed shapes (warnings are errors)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    for n in (EXAMPLE, *OTHERS):
        xs = _arrays(shapes, n, dtype, seed)
        with ag.no_grad():
            ours = f(*(Tensor(a) for a in xs))
        ours = list(ours) if isinstance(ours, tuple) else [ours]
        theirs = sess.run(None, {i.name: a for i, a in zip(sess.get_inputs(), xs)})
        for a, b in zip(ours, theirs):
            assert b.shape == a.shape and b.dtype == a.dtype
            np.testing.assert_allclose(b, a.data, rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@PROPERTY
@given(program=vector_programs())
def test_random_vector_programs_run_in_onnxruntime_like_ours(program: Any, dtype: Any) -> None:
    f, shapes, seed = program
    _check(f, shapes, seed, dtype)


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@PROPERTY
@given(program=image_programs())
def test_random_image_programs_run_in_onnxruntime_like_ours(program: Any, dtype: Any) -> None:
    f, shapes, seed = program
    _check(f, shapes, seed, dtype)
