"""ag.testing: gradcheck and gradgradcheck catch wrong derivatives with a useful message;
the Hypothesis strategies draw what they promise and are optional."""

from __future__ import annotations

import doctest
import importlib
import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import autograd_core as ag
from autograd_core import Tensor
from autograd_core.testing import gradcheck, gradgradcheck
from autograd_core.testing import strategies as ats


class BrokenSquare(ag.Function):
    """x², with the classic mistake in its derivative: x instead of 2x."""

    def forward(self, x):
        return x * x

    def backward(self, g, out, x):
        return g * x


class Reverse(ag.Function):
    """x[::-1] whose VJP forgets to reverse g: invisible to an all-ones upstream gradient."""

    def forward(self, x):
        return x[::-1]

    def backward(self, g, out, x):
        return g


class SquareOutsideTheGraph(ag.Function):
    """x² with a right first derivative computed on raw arrays, so its second derivative is lost."""

    def forward(self, x):
        return x * x

    def backward(self, g, out, x):
        return g * 2 * np.asarray(x)  # np.asarray leaves the graph: d/dx of this is wrongly 0


# ============================================================== gradcheck


def test_gradcheck_passes_on_correct_gradients() -> None:
    assert gradcheck(lambda x: (x.sin() * x).sum(), np.array([0.5, 1.0, 2.0])) is True
    assert gradcheck(lambda a, b: (a @ b).tanh().sum(), np.ones((2, 3)) / 3, np.arange(12.0).reshape(3, 4) / 10)
    assert gradcheck(lambda x: x**3, 2.0)  # a number is an input too
    assert gradcheck(lambda x: (x * x).mean(), np.array([1.0, 2.0], dtype=np.float32))  # checked in float64
    m = np.arange(6.0).reshape(2, 3) / 6
    assert gradcheck(lambda x: (x * x.sin()).sum(), m.T)  # a transposed (Fortran-ordered) input


def test_a_broken_vjp_fails_naming_input_element_values_and_error() -> None:
    w = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True, name="w")
    with pytest.raises(AssertionError) as err:
        gradcheck(lambda x: BrokenSquare.apply(x).sum(), w)
    message = str(err.value)
    assert re.fullmatch(
        r"gradcheck: input 0 \('w'\) \(shape \(2, 2\)\), element \(1, 1\): analytic gradient 4\.0 "
        r"vs numerical (7\.99999\d*|8\.0000\d*) \(error 4, allowed 0\.00801\); 4 of 4 elements disagree",
        message,
    ), message


def test_the_worst_element_is_named() -> None:
    x = np.array([1.0, 1.0, 1.0])
    # analytic 2x everywhere but a wrong extra term at index 2 only
    with pytest.raises(
        AssertionError, match=r"input 1 \(shape \(3,\)\), element \(2,\): analytic gradient 2\.0 vs numerical 2\.99"
    ):
        gradcheck(lambda c, t: (t * t + (t * Tensor([0.0, 0.0, 1.0])).detach()).sum() * c, 1.0, x)


def test_a_non_scalar_output_is_checked_with_a_random_upstream_gradient() -> None:
    x = np.arange(4.0)
    assert (Reverse.apply(Tensor(x, requires_grad=True)).sum()).requires_grad
    assert gradcheck(lambda t: Reverse.apply(t).sum(), x)  # the bug hides behind sum()
    with pytest.raises(AssertionError, match="input 0"):
        gradcheck(lambda t: Reverse.apply(t), x)  # a random G exposes it
    assert gradcheck(lambda t: t[::-1] * t, x)


def test_large_inputs_are_checked_along_random_directions() -> None:
    calls = []

    def f(t: Tensor) -> Tensor:
        calls.append(1)
        return (t * t).sum()

    x = np.linspace(-1, 1, 2000)
    assert gradcheck(f, x, directions=4)
    assert len(calls) == 1 + 2 * 4  # not 1 + 2 * 2000
    with pytest.raises(
        AssertionError, match=r"input 0 \(shape \(2000,\)\), random direction 0: directional derivative"
    ):
        gradcheck(lambda t: BrokenSquare.apply(t).sum(), x + 2)


def test_constant_tensors_are_passed_through_unchecked() -> None:
    data = Tensor([[1.0, 2.0]], name="data")
    seen = []

    def f(w: Tensor, d: Tensor) -> Tensor:
        seen.append(d)
        return (w * d).sum()

    assert gradcheck(f, np.array([0.5, -0.5]), data)
    assert all(d is data for d in seen)  # never perturbed, never copied
    with pytest.raises(ValueError, match="nothing to check"):
        gradcheck(lambda d: d.sum(), data)


def test_misuse_is_reported() -> None:
    def mutates(t: Tensor) -> Tensor:
        t.data[0] += 1.0
        return t.sum()

    with pytest.raises(AssertionError, match="f modified input 0 in place"):
        gradcheck(mutates, np.array([1.0, 2.0]))
    with pytest.raises(TypeError, match="must return a Tensor"):
        gradcheck(lambda t: float(t.sum()), np.array([1.0]))
    with pytest.raises(TypeError, match="input 0 is not numeric"):
        gradcheck(lambda t: t, np.array(["a"]))


def test_gradcheck_works_inside_no_grad_and_for_constant_functions() -> None:
    with ag.no_grad():
        assert gradcheck(lambda t: (t * t).sum(), np.array([1.0, 2.0]))
    assert gradcheck(lambda t: Tensor(3.0), np.array([1.0, 2.0]))  # does not depend on t: gradient 0


# ============================================================== gradgradcheck


def test_gradgradcheck_passes_on_correct_second_derivatives() -> None:
    x = np.array([[0.3, -1.2], [0.7, 2.0]])
    assert gradgradcheck(lambda t: (t.tanh() * t.sin()).sum(), x)
    assert gradgradcheck(lambda a, b: (a @ b).sigmoid(), x, x.T)  # non-scalar output: random upstream
    assert gradgradcheck(lambda t: (t * 2).sum(), x)  # linear: the Hessian is 0


def test_gradgradcheck_catches_a_backward_that_leaves_the_graph() -> None:
    x = np.array([1.0, 2.0])
    f = lambda t: SquareOutsideTheGraph.apply(t).sum()  # noqa: E731
    assert gradcheck(f, x)  # first order is right
    with pytest.raises(AssertionError, match=r"gradgradcheck: second derivatives disagree .* input 0 \(shape \(2,\)\)"):
        gradgradcheck(f, x)


# ============================================================== property-based, with our own strategies


@given(ats.tensors(shape=ats.shapes(max_dims=2, max_side=3), elements={"min_value": -2.0, "max_value": 2.0}))
def test_gradcheck_accepts_composites_at_drawn_shapes(x: Tensor) -> None:
    assert isinstance(x, Tensor) and x.requires_grad and x.dtype == np.float64
    assert gradcheck(lambda t: ((1 + t.exp()).log() * t.cos()).sum(), x)


@given(
    ats.broadcastable_shapes((2, 3), max_dims=3).flatmap(
        lambda s: st.tuples(ats.arrays((2, 3)), ats.arrays(s, elements={"min_value": 0.5, "max_value": 2.0}))
    )
)
def test_broadcast_gradients_at_drawn_shapes(ab: tuple[np.ndarray, np.ndarray]) -> None:
    a, b = ab
    assert np.broadcast_shapes(a.shape, b.shape) == np.broadcast_shapes((2, 3), b.shape)
    assert gradcheck(lambda x, y: (x / y + x * y).sum(), a, b)


@given(ats.mutually_broadcastable_shapes(3, max_dims=3, max_side=3))
def test_mutually_broadcastable_shapes_broadcast(shapes: tuple[tuple[int, ...], ...]) -> None:
    assert len(shapes) == 3
    np.broadcast_shapes(*shapes)  # raises if they did not


@given(ats.tensors(shape=(3,), elements={"min_value": 0.5, "max_value": 3.0}))
def test_gradcheck_always_catches_the_broken_square(x: Tensor) -> None:
    with pytest.raises(AssertionError, match=r"analytic gradient .* vs numerical"):
        gradcheck(lambda t: BrokenSquare.apply(t).sum(), x)


@given(ats.tensors(shape=(2,), dtype=np.float32, elements={"min_value": 0.1, "max_value": 0.3}, requires_grad=False))
def test_float32_tensors_and_bounds(x: Tensor) -> None:
    assert x.dtype == np.float32 and not x.requires_grad
    assert np.all((x.data >= np.float32(0.1)) & (x.data <= np.float32(0.3)))


def test_arrays_refuse_non_float_dtypes() -> None:
    with pytest.raises(TypeError, match="float type"):
        ats.arrays((2,), dtype=np.int64)


# ============================================================== Hypothesis is optional


def test_strategies_say_clearly_that_hypothesis_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "hypothesis", None)  # `import hypothesis` now fails
    monkeypatch.delitem(sys.modules, "autograd_core.testing.strategies")
    with pytest.raises(ImportError, match=r"needs Hypothesis.*pip install hypothesis"):
        importlib.import_module("autograd_core.testing.strategies")


def test_autograd_core_and_gradcheck_work_without_hypothesis() -> None:
    code = (
        "import sys; sys.modules['hypothesis'] = None\n"
        "import numpy as np, autograd_core as ag\n"
        "assert ag.testing.gradcheck(lambda t: (t * t).sum(), np.array([1.0, 2.0]))\n"
        "try:\n"
        "    ag.testing.strategies\n"
        "except ImportError as err:\n"
        "    print(err)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "needs Hypothesis" in result.stdout


def test_docstring_examples() -> None:
    for module in (
        importlib.import_module("autograd_core.testing.gradcheck"),
        importlib.import_module("autograd_core.testing"),
    ):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0
