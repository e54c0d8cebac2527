"""``ag.compile`` gives the bytes eager code gives, for every op of the op table (``test_ops.py``):
forward, a plain backward (``.grad``), gradients of gradients (``create_graph``), in float64 and
float32, over several calls of one program with other values of the same shapes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_ops import OPS, Op

import autograd_core as ag
from autograd_core import Tensor

CALLS = 4  # calls of one program, each with other values


def _values(arrays: list[np.ndarray], call: int) -> list[np.ndarray]:
    """The inputs of call ``call``: the drawn arrays' values shuffled (the op's domain is kept), the
    first call's as drawn."""
    rng = np.random.default_rng(call)
    return [a if call == 0 else rng.permuted(a.reshape(-1)).reshape(a.shape) for a in arrays]


def _bytes(x: Any) -> Any:
    if isinstance(x, Tensor):
        return ("Tensor", x.data.dtype.str, x.data.shape, x.data.tobytes())
    if isinstance(x, np.ndarray):
        return ("array", x.dtype.str, x.shape, x.tobytes())
    if isinstance(x, (tuple, list)):
        return type(x)(_bytes(v) for v in x)
    if x is None:
        return None
    return (type(x).__name__, repr(x))


def _first_order(op: Op, upstream: np.ndarray) -> Any:
    def f(*xs: Tensor) -> Any:
        out = op.fn(*xs)
        (out * upstream).sum().backward()
        return out

    return f


def _second_order(op: Op, upstream: np.ndarray, directions: list[np.ndarray]) -> Any:
    def f(*xs: Tensor) -> Any:
        out = op.fn(*xs)
        gs = ag.gradients((out * upstream).sum(), xs, create_graph=True)
        total = sum((g * d).sum() for g, d in zip(gs, directions))
        hvp = ag.gradients(total, xs) if total.requires_grad else None
        return out, gs, hvp

    return f


def _run_both(f: Any, arrays: list[np.ndarray], dtype: Any) -> None:
    step = ag.compile(f)
    for call in range(CALLS):
        values = [a.astype(dtype) for a in _values(arrays, call)]
        eager_in = [Tensor(v, requires_grad=True) for v in values]
        compiled_in = [Tensor(v, requires_grad=True) for v in values]
        with np.errstate(all="ignore"):
            expected = f(*eager_in)
            got = step(*compiled_in)
        assert _bytes(got) == _bytes(_detached(expected)), f"call {call}: outputs differ"
        for i, (e, c) in enumerate(zip(eager_in, compiled_in)):
            assert _bytes(c.grad) == _bytes(e.grad), f"call {call}: the .grad of input {i} differs"
    assert step.traces == 1


def _detached(x: Any) -> Any:
    if isinstance(x, Tensor):
        return Tensor(x.data)
    if isinstance(x, (tuple, list)):
        return type(x)(_detached(v) for v in x)
    return x


SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
@given(data=st.data())
@SETTINGS
def test_compiled_forward_and_backward_are_eagers_bytes(op: Op, data: st.DataObject) -> None:
    arrays = op.draw(data)
    out_shape = np.shape(op.ref(*arrays))
    upstream = np.random.default_rng(7).normal(size=out_shape)
    for dtype in (np.float64, np.float32):
        _run_both(_first_order(op, upstream.astype(dtype)), arrays, dtype)


@pytest.mark.parametrize("op", [op for op in OPS if op.second_order], ids=lambda op: op.name)
@given(data=st.data())
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
def test_compiled_second_derivatives_are_eagers_bytes(op: Op, data: st.DataObject) -> None:
    arrays = op.draw(data)
    out_shape = np.shape(op.ref(*arrays))
    rng = np.random.default_rng(8)
    upstream = rng.normal(size=out_shape)
    directions = [rng.normal(size=a.shape) for a in arrays]
    _run_both(_second_order(op, upstream, directions), arrays, np.float64)
