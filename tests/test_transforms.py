"""The functional transforms: ``vjp``, ``jvp`` (forward mode), ``jacobian``, ``hessian``, ``hvp``.

Against ``torch.func`` (stored results always, live when PyTorch is installed), against closed
forms and finite differences, through their identities on random functions built from the op
table (Jacobian rows are VJPs, columns are JVPs, the Jacobian of the gradient is the Hessian,
``hvp`` is ``H v``), nested in each other without confusing their tangents, inside a trace,
and with the errors a JAX user expects.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import examples
from hypothesis import HealthCheck, assume, given
from hypothesis import strategies as st
from reference.functional_cases import CASES, JaxRunner, OurRunner, TorchRunner, results
from test_ops import OPS, Op

import autograd_core as ag
from autograd_core import Function, Tensor
from autograd_core.testing import strategies as ats

REFERENCES = np.load(Path(__file__).parent / "reference" / "functional_references.npz")


def _stored(name: str) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
    inputs, found = {}, {}
    for key in REFERENCES.files:
        case, _, what = key.partition(":")
        if case != name:
            continue
        if what.startswith("input/"):
            inputs[int(what.split("/")[1])] = REFERENCES[key]
        else:
            found[what] = REFERENCES[key]
    return [inputs[i] for i in range(len(inputs))], found


def _assert_close(ours: dict[str, np.ndarray], theirs: dict[str, np.ndarray], tol: float) -> None:
    assert sorted(ours) == sorted(theirs)
    for key in theirs:
        assert ours[key].shape == theirs[key].shape, key
        np.testing.assert_allclose(ours[key], theirs[key], rtol=tol, atol=tol, err_msg=key)


# ============================================================== against torch.func


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_against_torch_func_stored(case: Any) -> None:
    """vjp, jvp, jacrev, jacfwd (and hessian, hvp for scalar functions) agree with the results
    ``torch.func`` gave (``tests/reference/make_functional_references.py``), within 1e-12."""
    inputs, stored = _stored(case.name)
    for a, b in zip(inputs, case.inputs()):
        np.testing.assert_array_equal(a, b)  # the stored file was made from these very cases
    assert any(k.startswith("hvp/") for k in stored) == case.scalar
    _assert_close(results(case, OurRunner, inputs), stored, 1e-12)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_against_torch_func_live(case: Any) -> None:
    pytest.importorskip("torch")
    theirs = results(case, TorchRunner)
    _assert_close(results(case, OurRunner), theirs, 1e-12)
    _assert_close(theirs, _stored(case.name)[1], 1e-13)  # and the stored file is up to date


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_against_jax_live(case: Any) -> None:
    pytest.importorskip("jax")
    _assert_close(results(case, OurRunner), results(case, JaxRunner), 1e-12)


def test_the_stored_references_cover_every_transform() -> None:
    transforms = {key.partition(":")[2].split("/")[0] for key in REFERENCES.files if ":" in key}
    assert {"vjp", "jvp", "jacrev", "jacfwd", "hessian", "hvp"} <= transforms
    assert str(REFERENCES["torch_version"]).startswith("2.")


# ============================================================== closed forms


def test_jvp_is_the_directional_derivative() -> None:
    x, v = np.array([0.3, -1.2, 2.0]), np.array([1.0, 0.5, -2.0])
    out, t = ag.jvp(lambda z: z.sin() * z**2, (x,), (v,))
    np.testing.assert_allclose(out.data, np.sin(x) * x**2, rtol=1e-15)
    np.testing.assert_allclose(t.data, (np.cos(x) * x**2 + 2 * x * np.sin(x)) * v, rtol=1e-14)
    assert isinstance(out, Tensor) and isinstance(t, Tensor) and not t.requires_grad


def test_jvp_of_several_arguments_sums_their_terms() -> None:
    out, t = ag.jvp(lambda a, b: a * b, (Tensor([2.0, 3.0]), 4.0), (Tensor([1.0, 0.0]), 0.5))
    np.testing.assert_array_equal(t.data, [1.0 * 4.0 + 2.0 * 0.5, 0.0 + 3.0 * 0.5])
    _, t = ag.jvp(lambda x: x**2, (3.0,), (1.0,))  # numbers: 0-d tensors
    assert t.item() == 6.0 and t.shape == ()


def test_jacobian_shapes_are_output_then_input() -> None:
    w = np.arange(12.0).reshape(4, 3) / 10

    def f(x: Tensor) -> Tensor:
        return (x @ w.T).tanh()  # (2, 3) -> (2, 4)

    x = np.linspace(-1, 1, 6).reshape(2, 3)
    expected = np.zeros((2, 4, 2, 3))
    t = np.tanh(x @ w.T)
    for i in range(2):
        for j in range(4):
            expected[i, j, i, :] = (1 - t[i, j] ** 2) * w[j]
    for mode in ("rev", "fwd"):
        J = ag.jacobian(f, mode=mode)(x)
        assert J.shape == (2, 4, 2, 3)
        np.testing.assert_allclose(J.data, expected, rtol=1e-13, atol=1e-15)
    g = ag.jacobian(lambda x: (x**2).sum())(np.array([1.0, 2.0]))  # a scalar output: the gradient's shape
    np.testing.assert_array_equal(g.data, [2.0, 4.0])


def test_hessian_of_a_quadratic_form() -> None:
    A = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, -1.0], [4.0, 0.0, 1.0]])
    x = np.array([0.5, -1.0, 2.0])
    H = ag.hessian(lambda z: z @ (A @ z))(x)
    np.testing.assert_allclose(H.data, A + A.T, rtol=1e-15)
    value, hv = ag.hvp(lambda z: z @ (A @ z), x, np.array([1.0, 2.0, 3.0]))
    assert value.item() == pytest.approx(x @ A @ x)
    np.testing.assert_allclose(hv.data, (A + A.T) @ [1.0, 2.0, 3.0], rtol=1e-15)
    assert ag.hessian(lambda z: z**3)(2.0).item() == 12.0  # a 0-d input: a 0-d Hessian


def test_hvp_with_one_primal_or_a_tuple() -> None:
    f = lambda x: (x**3).sum()  # noqa: E731
    x, v = Tensor([1.0, 2.0]), Tensor([1.0, -1.0])
    value, hv = ag.hvp(f, x, v)
    assert isinstance(hv, Tensor)
    np.testing.assert_array_equal(hv.data, [6.0, -12.0])
    value2, (hv2,) = ag.hvp(f, (x,), (v,))
    np.testing.assert_array_equal(hv2.data, hv.data)
    assert value.item() == value2.item() == 9.0
    _, (hx, hy) = ag.hvp(lambda x, y: (x * y).sum(), (x, Tensor([3.0, 4.0])), (v, Tensor([0.5, 0.25])))
    np.testing.assert_array_equal(hx.data, [0.5, 0.25])  # ∂²/∂x∂y = I: H (v, w) = (w, v)
    np.testing.assert_array_equal(hy.data, [1.0, -1.0])


def test_vjp_gives_one_gradient_per_primal_and_can_be_called_again() -> None:
    a, b = Tensor([1.0, 2.0]), Tensor([3.0, 5.0])
    out, vjp_fn = ag.vjp(lambda a, b: a * b, a, b)
    np.testing.assert_array_equal(out.data, [3.0, 10.0])
    ga, gb = vjp_fn(Tensor([1.0, 1.0]))
    np.testing.assert_array_equal(ga.data, [3.0, 5.0])
    np.testing.assert_array_equal(gb.data, [1.0, 2.0])
    ga, gb = vjp_fn(np.array([2.0, 0.0]))  # again, with another cotangent
    np.testing.assert_array_equal(ga.data, [6.0, 0.0])
    assert not out.requires_grad  # nothing outside needs its graph: handed back plain


# ============================================================== pytrees, argnums, has_aux

Pair = namedtuple("Pair", "first second")


def test_outputs_may_be_tuples_lists_dicts_and_namedtuples() -> None:
    def f(x: Tensor) -> Any:
        return {"sin": x.sin(), "parts": [x * 2, Pair(x.sum(), x**2)]}

    x, v = np.array([0.5, 1.5]), np.array([1.0, -1.0])
    out, t = ag.jvp(f, (x,), (v,))
    assert set(out) == {"sin", "parts"} and isinstance(t["parts"][1], Pair)
    np.testing.assert_allclose(t["sin"].data, np.cos(x) * v)
    np.testing.assert_allclose(t["parts"][1].first.data, v.sum())
    for mode in ("rev", "fwd"):
        J = ag.jacobian(f, mode=mode)(x)
        np.testing.assert_allclose(J["sin"].data, np.diag(np.cos(x)), atol=1e-16)
        np.testing.assert_allclose(J["parts"][0].data, 2 * np.eye(2))
        np.testing.assert_allclose(J["parts"][1].first.data, [1.0, 1.0])
        np.testing.assert_allclose(J["parts"][1].second.data, np.diag(2 * x))
    _, vjp_fn = ag.vjp(f, x)
    cotangent = {"parts": [np.ones(2), Pair(np.array(2.0), np.zeros(2))], "sin": np.zeros(2)}  # any key order
    (g,) = vjp_fn(cotangent)
    np.testing.assert_allclose(g.data, [4.0, 4.0])


def test_argnums_tuples_give_tuples_and_nested_hessian_blocks() -> None:
    def f(x: Tensor, y: Tensor, scale: float) -> Tensor:
        return scale * ((x**2).sum() * y.sum() + y.sin().sum())

    x, y = np.array([1.0, 2.0, 3.0]), np.array([0.5, -0.5])
    for mode in ("rev", "fwd"):
        gx, gy = ag.jacobian(f, argnums=(0, 1), mode=mode)(x, y, 2.0)
        np.testing.assert_allclose(gx.data, 2 * 2 * x * y.sum())
        np.testing.assert_allclose(gy.data, 2 * ((x**2).sum() + np.cos(y)))
        (g_y,) = ag.jacobian(f, argnums=(-2,), mode=mode)(x, y, 2.0)  # negative: counted from the end
        np.testing.assert_allclose(g_y.data, gy.data)
    (hxx, hxy), (hyx, hyy) = ag.hessian(f, argnums=(0, 1))(x, y, 2.0)
    assert hxx.shape == (3, 3) and hxy.shape == (3, 2) and hyx.shape == (2, 3) and hyy.shape == (2, 2)
    np.testing.assert_allclose(hxx.data, 4 * y.sum() * np.eye(3))
    np.testing.assert_allclose(hxy.data, np.outer(4 * x, np.ones(2)))
    np.testing.assert_allclose(hyx.data, hxy.data.T)
    np.testing.assert_allclose(hyy.data, np.diag(-2 * np.sin(y)), atol=1e-16)


def test_has_aux_passes_the_aux_through() -> None:
    aux = {"note": "anything", "t": Tensor([7.0])}

    def f(x: Tensor) -> tuple[Tensor, Any]:
        return (x**2).sum(), aux

    x = np.array([1.0, 2.0])
    out, vjp_fn, got = ag.vjp(f, x, has_aux=True)
    assert got is aux and out.item() == 5.0
    out, t, got = ag.jvp(f, (x,), (np.ones(2),), has_aux=True)
    assert got is aux and t.item() == 6.0
    J, got = ag.jacobian(f, has_aux=True)(x)
    assert got is aux and np.array_equal(J.data, [2.0, 4.0])
    J, got = ag.jacobian(f, has_aux=True, mode="fwd")(x)
    assert got is aux and np.array_equal(J.data, [2.0, 4.0])
    H, got = ag.hessian(f, has_aux=True)(x)
    assert got is aux and np.array_equal(H.data, 2 * np.eye(2))
    value, hv, got = ag.hvp(f, x, np.array([1.0, 0.0]), has_aux=True)
    assert got is aux and value.item() == 5.0 and np.array_equal(hv.data, [2.0, 0.0])


def test_constant_outputs_have_zero_derivatives() -> None:
    x = np.array([1.0, 2.0])
    _, t = ag.jvp(lambda z: Tensor([3.0, 4.0, 5.0]), (x,), (np.ones(2),))
    np.testing.assert_array_equal(t.data, np.zeros(3))
    for mode in ("rev", "fwd"):
        np.testing.assert_array_equal(ag.jacobian(lambda z: Tensor([1.0]), mode=mode)(x).data, np.zeros((1, 2)))
    np.testing.assert_array_equal(ag.hessian(lambda z: Tensor(1.0))(x).data, np.zeros((2, 2)))
    (g,) = ag.vjp(lambda z: Tensor(2.0), x)[1](1.0)
    np.testing.assert_array_equal(g.data, np.zeros(2))


def test_float32_stays_float32() -> None:
    x = np.array([1.0, 2.0], dtype=np.float32)
    out, t = ag.jvp(lambda z: z.exp(), (x,), (np.ones(2, dtype=np.float32),))
    assert out.dtype == t.dtype == np.float32
    for mode in ("rev", "fwd"):
        assert ag.jacobian(lambda z: z.exp(), mode=mode)(x).dtype == np.float32
    assert ag.hessian(lambda z: (z**3).sum())(x).dtype == np.float32
    assert ag.hvp(lambda z: (z**3).sum(), x, np.ones(2, dtype=np.float32))[1].dtype == np.float32


# ============================================================== random functions from the op table


def _shape_keeping_unary_ops() -> list[Op]:
    """The table's one-input ops on real numbers without kinks that keep their input's shape."""
    probes = [np.linspace(-0.9, 0.8, 6).reshape(2, 3), np.linspace(-0.7, 0.6, 4).reshape(2, 2)]
    found = []
    for op in OPS:
        if type(op) is not Op or op.elements is not None or op.ok is not None or op.unique:
            continue
        try:
            same = all(np.shape(op.ref(p)) == p.shape and op.fn(Tensor(p)).shape == p.shape for p in probes)
        except (TypeError, ValueError):
            continue
        if same:
            found.append(op)
    return found


UNARY = _shape_keeping_unary_ops()


def test_the_random_functions_draw_from_many_ops() -> None:
    names = {op.name for op in UNARY}
    assert len(names) >= 20 and {"exp", "tanh", "softmax", "x ** 3", "log_softmax", "sigmoid"} <= names


@st.composite
def programs(draw: st.DrawFn) -> tuple[Callable[..., Tensor], list[np.ndarray], list[str]]:
    """``f(x, w) = after(before(x) @ w)`` with ``before`` and ``after`` chains of table ops, x (2, 3), w (3, 2)."""
    before = draw(st.lists(st.sampled_from(UNARY), min_size=1, max_size=3), label="before")
    after = draw(st.lists(st.sampled_from(UNARY), max_size=2), label="after")
    x = draw(ats.arrays((2, 3), elements={"min_value": -1.0, "max_value": 1.0}), label="x")
    w = draw(ats.arrays((3, 2), elements={"min_value": -1.0, "max_value": 1.0}), label="w")

    def f(x: Tensor, w: Tensor, seen: list[float] | None = None) -> Tensor:
        h = x
        for op in before:
            h = op.fn(h)
            seen is None or seen.append(float(np.abs(h.data).max()))
        h = h @ w
        for op in after:
            h = op.fn(h)
            seen is None or seen.append(float(np.abs(h.data).max()))
        return h

    seen: list[float] = []
    with np.errstate(all="ignore"):
        f(Tensor(x), Tensor(w), seen)
    assume(max(seen) < 30)  # (exp of exp of x + 2.5 overflows: not what this is about)
    return f, [x, w], [op.name for op in before] + ["@ w"] + [op.name for op in after]


# each example is dozens of transforms (a Jacobian column by column, a Hessian block by block)
RANDOM = examples(0.3, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def _central(f: Callable[..., Tensor], args: list[np.ndarray], k: int, eps: float = 1e-6) -> np.ndarray:
    """∂f/∂args[k] by central differences, shape output + input."""
    x = args[k]
    cols = []
    for j in range(x.size):
        e = np.zeros(x.size)
        e[j] = eps
        plus = [a if i != k else a + e.reshape(a.shape) for i, a in enumerate(args)]
        minus = [a if i != k else a - e.reshape(a.shape) for i, a in enumerate(args)]
        cols.append((f(*map(Tensor, plus)).data - f(*map(Tensor, minus)).data) / (2 * eps))
    out = np.stack(cols, axis=-1)
    return out.reshape(out.shape[:-1] + x.shape)


@given(program=programs())
@RANDOM
def test_jacobian_rows_are_vjps_and_columns_are_jvps(program: Any) -> None:
    f, args, _ = program
    rev = ag.jacobian(f, argnums=(0, 1))(*args)
    fwd = ag.jacobian(f, argnums=(0, 1), mode="fwd")(*args)
    out = f(*map(Tensor, args))
    _, vjp_fn = ag.vjp(f, *args)
    for k, (jr, jf) in enumerate(zip(rev, fwd)):
        x = args[k]
        assert jr.shape == jf.shape == out.shape + x.shape
        np.testing.assert_allclose(jr.data, jf.data, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(jr.data, _central(f, args, k), rtol=1e-5, atol=1e-6)
        for i in np.ndindex(out.shape):  # row i: the VJP of the unit cotangent e_i
            e = np.zeros(out.shape)
            e[i] = 1
            np.testing.assert_allclose(vjp_fn(e)[k].data, jr.data[i], rtol=1e-13, atol=1e-14)
        for j in np.ndindex(x.shape):  # column j: the JVP of the unit tangent e_j
            tangents = [np.zeros(a.shape) for a in args]
            tangents[k][j] = 1
            _, t = ag.jvp(f, tuple(args), tuple(tangents))
            np.testing.assert_allclose(t.data, jf.data[(..., *j)], rtol=1e-13, atol=1e-14)


@given(program=programs(), data=st.data())
@RANDOM
def test_hessians_of_random_functions(program: Any, data: st.DataObject) -> None:
    g, args, _ = program
    c = data.draw(ats.arrays((2, 2), elements={"min_value": -1.0, "max_value": 1.0}), label="c")

    def f(x: Tensor, w: Tensor) -> Tensor:
        return (g(x, w) * c).sum()

    H = ag.hessian(f, argnums=(0, 1))(*args)
    grads = ag.grad(f, argnums=(0, 1))
    for mode in ("rev", "fwd"):  # the Jacobian of the gradient is the Hessian
        JG = ag.jacobian(grads, argnums=(0, 1), mode=mode)(*args)
        for i in range(2):
            for j in range(2):
                np.testing.assert_allclose(JG[i][j].data, H[i][j].data, rtol=1e-11, atol=1e-12)
    n = [a.size for a in args]
    full = np.block([[H[i][j].data.reshape(n[i], n[j]) for j in range(2)] for i in range(2)])
    np.testing.assert_allclose(full, full.T, rtol=1e-11, atol=1e-12)  # symmetric
    for k in range(2):  # and the central differences of the gradient
        fd = _central(lambda *ts, k=k: grads(*ts)[k], args, k)
        np.testing.assert_allclose(H[k][k].data, fd, rtol=1e-4, atol=1e-5)
    unit = {"min_value": -1.0, "max_value": 1.0}
    vs = [data.draw(ats.arrays(a.shape, elements=unit), label=f"v{i}") for i, a in enumerate(args)]
    value, hv = ag.hvp(f, tuple(args), tuple(vs))  # hvp is H v
    expected = full @ np.concatenate([v.reshape(-1) for v in vs])
    np.testing.assert_allclose(np.concatenate([h.data.reshape(-1) for h in hv]), expected, rtol=1e-11, atol=1e-12)
    assert value.item() == pytest.approx(f(*map(Tensor, args)).item(), rel=1e-14, abs=1e-15)


# ============================================================== nesting: no perturbation confusion


def test_nested_jvps_keep_their_tangents_apart() -> None:
    """Siskind and Pearlmutter's example: d/dx [x · d/dy (x + y)] = 1 (a confused implementation,
    which lets the inner derivative see x's tangent, gives 2)."""

    def inner(x: Tensor) -> Tensor:
        return ag.jvp(lambda y: x + y, (1.0,), (1.0,))[1]

    _, d = ag.jvp(lambda x: x * inner(x), (1.0,), (1.0,))
    assert d.item() == 1.0
    # the same variable differentiated twice, by two levels: the second derivative
    x = np.array([0.3, 1.1])
    _, d2 = ag.jvp(lambda z: ag.jvp(lambda y: y.sin() * z, (z,), (np.ones(2),))[1], (x,), (np.ones(2),))
    np.testing.assert_allclose(d2.data, np.cos(x) - x * np.sin(x), rtol=1e-14)  # d/dz [z cos z]


def test_transforms_compose() -> None:
    f = lambda x: (x.tanh() ** 2).sum() * x.sin().sum()  # noqa: E731
    x, v = np.array([0.2, -0.7, 1.3]), np.array([1.0, 2.0, -0.5])
    H = ag.hessian(f)(x).data
    for mode in ("rev", "fwd"):
        np.testing.assert_allclose(ag.jacobian(ag.jacobian(f), mode=mode)(x).data, H, rtol=1e-12, atol=1e-13)
    # reverse over forward: the gradient of a JVP is H v too
    hv = ag.grad(lambda z: ag.jvp(f, (z,), (v,))[1])(x)
    np.testing.assert_allclose(hv.data, H @ v, rtol=1e-12)
    # the Jacobian of hvp with respect to its tangent is the Hessian
    np.testing.assert_allclose(ag.jacobian(lambda u: ag.hvp(f, x, u)[1])(v).data, H, rtol=1e-12, atol=1e-13)
    # third derivatives: f = Σ x⁴/4 has ∂³f/∂x_i³ = 6 x_i, the rest 0
    third = np.zeros((3, 3, 3))
    third[np.arange(3), np.arange(3), np.arange(3)] = 6 * x
    for mode in ("rev", "fwd"):
        T = ag.jacobian(ag.hessian(lambda z: (z**4).sum() / 4), mode=mode)(x)
        np.testing.assert_allclose(T.data, third, rtol=1e-13, atol=1e-14)
    # forward over forward over reverse
    _, t = ag.jvp(lambda z: ag.hvp(lambda y: (y**4).sum() / 4, z, v)[1], (x,), (v,))
    np.testing.assert_allclose(t.data, 6 * x * v * v, rtol=1e-13)


def test_a_tangent_through_captured_parameters_can_be_trained() -> None:
    """Tangent propagation (a penalty on J v, as in Simard et al.): the JVP of a network whose weights
    it captures is differentiated with respect to those weights by a plain backward()."""
    rng = np.random.default_rng(0)
    W = Tensor(rng.standard_normal((3, 2)), requires_grad=True)
    x, v = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))

    def penalty(w: Tensor) -> Tensor:
        return (ag.jvp(lambda z: (z @ w).tanh(), (x,), (v,))[1] ** 2).sum()

    loss = penalty(W)
    loss.backward()
    assert ag.testing.gradcheck(penalty, W.data)
    np.testing.assert_allclose(W.grad, ag.grad(penalty)(W.data).data, rtol=1e-13)


def test_results_never_touch_grad_and_keep_their_inputs_graph() -> None:
    x = Tensor([0.5, -1.0], requires_grad=True)
    w = Tensor([2.0, 3.0], requires_grad=True)
    f = lambda z: ((z * w).sin() ** 2).sum()  # noqa: E731
    v = np.array([1.0, 1.0])
    results = [
        ag.vjp(f, x)[1](1.0)[0],
        ag.jvp(f, (x,), (v,))[1],
        ag.jacobian(f)(x),
        ag.jacobian(f, mode="fwd")(x),
        ag.hessian(f)(x),
        ag.hvp(f, x, v)[1],
    ]
    assert x.grad is None and w.grad is None
    for r in results:  # each depends on x and w, and says so
        assert r.requires_grad
    (g,) = ag.gradients(results[-1].sum(), [w])  # d(Hv)/dw, against finite differences
    eps = 1e-6
    fd = []
    for j in range(2):
        e = np.eye(2)[j] * eps
        hp = ag.hvp(lambda z, e=e: ((z * (w.data + e)).sin() ** 2).sum(), x.data, v)[1].data.sum()
        hm = ag.hvp(lambda z, e=e: ((z * (w.data - e)).sin() ** 2).sum(), x.data, v)[1].data.sum()
        fd.append((hp - hm) / (2 * eps))
    np.testing.assert_allclose(g.data, fd, rtol=1e-6)
    assert x.grad is None and w.grad is None


def test_inputs_that_do_not_require_grad_give_plain_results() -> None:
    f = lambda z: (z**3).sum()  # noqa: E731
    x = Tensor([1.0, 2.0])
    for r in (ag.hessian(f)(x), ag.hvp(f, x, x)[1], ag.jacobian(f, mode="fwd")(x), ag.jvp(f, (x,), (x,))[1]):
        assert not r.requires_grad and r._node is None
    assert not x.requires_grad and x.grad is None


def test_an_argument_given_twice_gets_two_derivatives() -> None:
    x = Tensor([1.0, 2.0])
    ga, gb = ag.jacobian(lambda a, b: (a * b**2).sum(), argnums=(0, 1))(x, x)
    np.testing.assert_array_equal(ga.data, [1.0, 4.0])
    np.testing.assert_array_equal(gb.data, [2.0, 8.0])
    _, t = ag.jvp(lambda a, b: a * b**2, (x, x), (np.ones(2), np.zeros(2)))
    np.testing.assert_array_equal(t.data, [1.0, 4.0])


# ============================================================== ops written by users


class Cube(Function):
    """x³, with both derivatives."""

    def forward(self, x):
        return x**3

    def backward(self, g, out, x):
        return g * 3 * x**2

    def jvp(self, ds, out, x):
        return ds[0] * 3 * x**2


class CubeWithoutJvp(Function):
    name = "my_cube"

    def forward(self, x):
        return x**3

    def backward(self, g, out, x):
        return g * 3 * x**2


def test_a_users_op_with_a_jvp_works_in_every_transform() -> None:
    x, v = np.array([1.0, -2.0]), np.array([0.5, 1.0])
    _, t = ag.jvp(Cube.apply, (x,), (v,))
    np.testing.assert_allclose(t.data, 3 * x**2 * v)
    np.testing.assert_allclose(ag.jacobian(Cube.apply, mode="fwd")(x).data, np.diag(3 * x**2))
    np.testing.assert_allclose(ag.hvp(lambda z: Cube.apply(z).sum(), x, v)[1].data, 6 * x * v)


def test_a_users_op_without_a_jvp_is_named_in_forward_mode_and_works_in_reverse() -> None:
    x = np.array([1.0, 2.0])
    with pytest.raises(NotImplementedError, match=r"my_cube: this op has no forward-mode rule.*jvp\(self, ds, out"):
        ag.jvp(CubeWithoutJvp.apply, (x,), (x,))
    with pytest.raises(NotImplementedError, match="my_cube"):
        ag.hessian(lambda z: CubeWithoutJvp.apply(z).sum())(x)
    np.testing.assert_allclose(ag.jacobian(CubeWithoutJvp.apply)(x).data, np.diag(3 * x**2))


# ============================================================== errors


def test_tangents_must_match_their_primals() -> None:
    f = lambda x: x * 2  # noqa: E731
    with pytest.raises(ValueError, match=r"jvp: the tangent has shape \(2,\) but its primal has shape \(3,\)"):
        ag.jvp(f, (np.zeros(3),), (np.zeros(2),))
    with pytest.raises(TypeError, match=r"jvp: the tangent has dtype float32 but its primal has dtype float64"):
        ag.jvp(f, (np.zeros(3),), (np.zeros(3, dtype=np.float32),))
    with pytest.raises(TypeError, match="tangent 1 has dtype int64"):
        ag.jvp(lambda a, b: a + b, (np.zeros(2), np.zeros(2)), (np.zeros(2), np.zeros(2, dtype=np.int64)))
    with pytest.raises(ValueError, match=r"the tangent is a number but its primal has shape \(3,\)"):
        ag.jvp(f, (np.zeros(3),), (1.0,))
    with pytest.raises(ValueError, match=r"jvp: 1 primal\(s\) but 2 tangent\(s\)"):
        ag.jvp(f, (np.zeros(3),), (np.zeros(3), np.zeros(3)))
    with pytest.raises(TypeError, match=r"jvp: primals must be a tuple.*ag.jvp|jvp\(f, \(x,\), \(v,\)\)"):
        ag.jvp(f, np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match=r"hvp: the tangent has shape \(1,\)"):
        ag.hvp(lambda x: x.sum(), np.zeros(2), np.zeros(1))
    with pytest.raises(TypeError, match="hvp: the primal is a single value but the tangents are a tuple"):
        ag.hvp(lambda x: x.sum(), np.zeros(2), (np.zeros(2),))


def test_hessian_and_hvp_need_a_scalar_function() -> None:
    with pytest.raises(ValueError, match=r"hessian: the function must return a scalar.*got shape \(2,\)"):
        ag.hessian(lambda x: x**2)(np.ones(2))
    with pytest.raises(ValueError, match=r"hvp: the function must return a scalar.*got shape \(2,\)"):
        ag.hvp(lambda x: x**2, np.ones(2), np.ones(2))
    with pytest.raises(TypeError, match="hessian: the function must return a scalar Tensor.*got float"):
        ag.hessian(lambda x: 1.0)(np.ones(2))
    assert ag.hessian(lambda x: (x**2).sum().reshape(1, 1))(np.ones(2)).shape == (2, 2)  # one element will do


def test_argnums_are_checked() -> None:
    f = lambda x, y: (x * y).sum()  # noqa: E731
    with pytest.raises(IndexError, match=r"jacobian: argnums=2 names argument 2, but the function was called with 2"):
        ag.jacobian(f, argnums=2)(1.0, 2.0)
    with pytest.raises(IndexError, match=r"hessian: argnums=\(0, -3\) names argument -3"):
        ag.hessian(f, argnums=(0, -3))(1.0, 2.0)
    with pytest.raises(ValueError, match=r"argnums=\(0, -2\) names argument 0 twice"):
        ag.jacobian(f, argnums=(0, -2))(1.0, 2.0)
    for bad in ("0", (), True, None):
        with pytest.raises(TypeError, match="jacobian: argnums must be an int or a non-empty tuple of ints"):
            ag.jacobian(f, argnums=bad)
    with pytest.raises(ValueError, match="hessian: argnums must be an int or a non-empty tuple of ints, got 1.5"):
        ag.hessian(f, argnums=(0, 1.5))
    gx, gy = ag.jacobian(f, argnums=[0, 1])(2.0, 3.0)  # a list will do, as for ag.grad
    assert (gx.item(), gy.item()) == (3.0, 2.0)
    with pytest.raises(ValueError, match="jacobian: mode must be one of 'rev', 'fwd'; got 'forward'"):
        ag.jacobian(f, mode="forward")


def test_cotangents_and_aux_are_checked() -> None:
    _, vjp_fn = ag.vjp(lambda x: (x, x.sum()), np.ones(3))
    with pytest.raises(ValueError, match=r"vjp_fn: the cotangent has the structure \*.*has \(\*, \*\)"):
        vjp_fn(np.ones(3))
    with pytest.raises(ValueError, match=r"vjp_fn: cotangent 1 has shape \(3,\) but the output has shape \(\)"):
        vjp_fn((np.ones(3), np.ones(3)))
    with pytest.raises(TypeError, match="vjp_fn: cotangent 0 has dtype float32 but the output has dtype float64"):
        vjp_fn((np.ones(3, dtype=np.float32), 1.0))
    with pytest.raises(TypeError, match=r"has_aux=True the function must return a pair \(output, aux\), got Tensor"):
        ag.jacobian(lambda x: x, has_aux=True)(np.ones(2))
    with pytest.raises(TypeError, match=r"jvp: the function returned a str as output leaf 1 of \(\*, \*\)"):
        ag.jvp(lambda x: (x, "text"), (np.ones(2),), (np.ones(2),))
    with pytest.raises(TypeError, match="jvp: primal 0 is a str"):
        ag.jvp(lambda x: x, ("x",), (1.0,))


# ============================================================== traced: ag.export_onnx, ag.compile


def test_transforms_are_traced_not_frozen() -> None:
    """A function computing a JVP, an HVP and a Jacobian exports to ONNX (the tracer ag.compile
    shares) and gives the right values in onnxruntime for other inputs: the tangent computation
    was recorded, not frozen at the example's values."""
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    v = np.array([1.0, -0.5, 2.0])
    f = lambda z: (z.tanh() ** 2).sum()  # noqa: E731

    def program(x: Tensor) -> tuple[Tensor, ...]:
        jvp = ag.jvp(lambda z: z.sin() * z, (x,), (v,))[1]
        return jvp, ag.hvp(f, x, v)[1], ag.jacobian(lambda z: z.exp() * z.sum(), mode="fwd")(x)

    model = ag.export_onnx(program, np.array([0.1, 0.2, 0.3]), dynamic_axes=())
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    for x in (np.array([0.5, -1.0, 2.0]), np.array([-0.3, 0.0, 0.7])):
        got = session.run(None, {session.get_inputs()[0].name: x})
        for a, b in zip(got, program(Tensor(x))):
            np.testing.assert_allclose(a, b.data, rtol=1e-12, atol=1e-13)


def test_transforms_inside_compile() -> None:
    if not hasattr(ag, "compile"):
        pytest.skip("ag.compile has not landed on this branch yet")
    v = np.array([1.0, -0.5, 2.0])
    f = lambda z: (z.tanh() ** 2).sum()  # noqa: E731

    def program(x: Tensor) -> tuple[Tensor, ...]:
        return ag.jvp(lambda z: z.sin() * z, (x,), (v,))[1], ag.hvp(f, x, v)[1], ag.hessian(f)(x)

    step = ag.compile(program)
    for x in (np.array([0.5, -1.0, 2.0]), np.array([-0.3, 0.0, 0.7]), np.array([1.0, 1.0, 1.0])):
        for a, b in zip(step(x), program(Tensor(x))):
            np.testing.assert_array_equal(a.data, b.data)


def test_forward_mode_keeps_no_graph() -> None:
    """A JVP through a long chain holds the tangents of the values alive, not of every value it
    met: its memory is that of a forward pass, not of a recorded graph."""
    import tracemalloc

    x, v = np.linspace(-1, 1, 10_000), np.ones(10_000)  # 80 kB each

    others = []  # Tensors made along the way and kept: they take the places freed values leave

    def chain(z: Tensor) -> Tensor:
        for _ in range(300):
            z = (z * 0.999).sin()
            others.extend(Tensor(0.0) for _ in range(3))
        return z

    tracemalloc.start()
    try:
        _, t = ag.jvp(chain, (x,), (v,))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20e6, f"{peak / 1e6:.0f} MB: the tangents of the 600 values (48 MB) were kept"
    expected = np.ones_like(x)
    z = x
    for _ in range(300):
        expected = np.cos(z * 0.999) * 0.999 * expected
        z = np.sin(z * 0.999)
    np.testing.assert_allclose(t.data, expected, rtol=1e-12)


def test_a_level_belongs_to_its_thread() -> None:
    """Forward mode open on one thread gives no tangents to another thread's values (and costs it
    only the look-up); both compute what they compute alone."""
    import threading

    x = np.linspace(-1, 1, 50)
    f = lambda z: (z.tanh() ** 2).sum()  # noqa: E731
    expected_hv = ag.hvp(f, x, np.ones(50))[1].data
    expected_g = ag.grad(f)(x).data
    errors: list[BaseException] = []

    def run(work: Callable[[], None]) -> None:
        try:
            for _ in range(200):
                work()
        except BaseException as err:  # (reported by the main thread)
            errors.append(err)

    def hvps() -> None:
        np.testing.assert_allclose(ag.hvp(f, x, np.ones(50))[1].data, expected_hv, rtol=1e-14)

    def grads() -> None:
        np.testing.assert_allclose(ag.grad(f)(x).data, expected_g, rtol=1e-14)

    threads = [threading.Thread(target=run, args=(w,)) for w in (hvps, grads, hvps, grads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
