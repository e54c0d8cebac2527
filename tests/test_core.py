"""The engine: the walkthrough, graph shapes, accumulation, release, modes, errors, interop."""

from __future__ import annotations

import gc
import threading

import numpy as np
import pytest

import autograd_core as ag
import optim
from autograd_core import Tensor


def J(w: Tensor) -> Tensor:
    return w**2 - 10 * w + 25


# ============================================================== the lecture's walkthrough


def test_walkthrough_numbers() -> None:
    w = Tensor(0.0, requires_grad=True, name="w")
    train = optim.GradientDescent([w], lr=0.01)
    assert w.item() == 0.0
    cost = train.minimize(lambda: J(w))
    assert cost == 25.0
    assert abs(w.item() - 0.1) < 1e-12
    for _ in range(1000):
        train.minimize(lambda: J(w))
    assert abs(w.item() - 5) < 1e-4
    assert w.item() < 5  # approached from below: 4.9999...


@pytest.mark.parametrize(
    ("coefficients", "minimiser"), [([[1.0], [-10.0], [25.0]], 5.0), ([[1.0], [-20.0], [100.0]], 10.0)]
)
def test_walkthrough_coefficients_as_data(coefficients: list[list[float]], minimiser: float) -> None:
    x = np.array(coefficients)
    w = Tensor(0.0, requires_grad=True, name="w")
    train = optim.GradientDescent([w], lr=0.01)
    cost = lambda x: x[0][0] * w**2 + x[1][0] * w + x[2][0]  # noqa: E731 - as the user types it
    first = train.minimize(lambda: cost(x))
    assert first == pytest.approx(coefficients[2][0])
    for _ in range(1000):
        train.minimize(lambda: cost(x))
    assert abs(w.item() - minimiser) < 1e-4


def test_walkthrough_example_script_prints_the_lecture_numbers() -> None:
    import runpy
    from contextlib import redirect_stdout
    from io import StringIO
    from pathlib import Path

    buf = StringIO()
    with redirect_stdout(buf):
        runpy.run_path(str(Path(__file__).parent.parent / "examples" / "walkthrough.py"), run_name="__main__")
    lines = buf.getvalue().splitlines()
    assert float(lines[0].split()[-1]) == 0.0
    assert float(lines[1].split()[-1]) == pytest.approx(0.1, abs=1e-12)
    assert float(lines[2].split()[-1]) == pytest.approx(5, abs=1e-4)
    assert lines[-2].endswith("w = 5.0") and lines[-1].endswith("w = 10.0")


# ============================================================== graph shapes


def test_chain_of_100000_ops_backpropagates_without_recursion() -> None:
    x = Tensor(np.ones(3), requires_grad=True)
    y = x
    for _ in range(50_000):
        y = y * 1.0001
        y = y - 0.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad, np.full(3, 1.0001**50_000), rtol=1e-9)


def test_diamond_and_shared_subexpressions() -> None:
    x = Tensor(2.0, requires_grad=True)
    a = x.exp()
    y = a * a.sin() + a  # a feeds three consumers
    y.backward()
    e = np.exp(2.0)
    assert x.grad == pytest.approx((np.sin(e) + e * np.cos(e) + 1) * e, rel=1e-12)


def test_same_tensor_twice_in_one_op() -> None:
    x = Tensor([1.0, -3.0], requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, -6.0])


def test_deep_diamond_ladder() -> None:
    # Each rung doubles the number of paths: the order of accumulation must be right.
    x = Tensor(1.5, requires_grad=True)
    y = x
    for _ in range(30):
        y = y * 0.5 + y * 0.5  # value and derivative unchanged
    y.backward()
    assert x.grad == pytest.approx(1.0, rel=1e-12)


def test_gradients_accumulate_over_two_backward_calls() -> None:
    w = Tensor([1.0, 2.0], requires_grad=True)
    (w * 3).sum().backward()
    (w * w).sum().backward()
    np.testing.assert_array_equal(w.grad, [3 + 2, 3 + 4])
    w.grad = None
    (w * 3).sum().backward()
    np.testing.assert_array_equal(w.grad, [3, 3])


def test_broadcast_gradient_is_summed_back_to_each_shape() -> None:
    a = Tensor(np.ones((2, 3)), requires_grad=True)
    b = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    c = Tensor(2.0, requires_grad=True)
    ((a * b) * c).sum().backward()
    np.testing.assert_array_equal(a.grad, np.tile([2.0, 4.0, 6.0], (2, 1)))
    np.testing.assert_array_equal(b.grad, [4.0, 4.0, 4.0])
    assert c.grad == 12.0 and c.grad.shape == ()


def test_grad_has_the_shape_and_dtype_of_its_tensor() -> None:
    w = Tensor(np.ones((1, 3), dtype=np.float32), requires_grad=True)
    x = np.ones((4, 3))  # float64 data promotes the forward, the gradient still matches w
    (w * x).sum().backward()
    assert w.grad.shape == (1, 3) and w.grad.dtype == np.float32
    np.testing.assert_array_equal(w.grad, [[4, 4, 4]])


# ============================================================== release, retain_graph


def test_backward_releases_the_graph_and_says_so() -> None:
    x = Tensor(3.0, requires_grad=True)
    y = x.exp() * 2
    y.backward()
    assert y._node.inputs is None and y._node.out is None  # saved arrays released
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward() -> None:
    x = Tensor(3.0, requires_grad=True)
    y = x.exp() * 2
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad == pytest.approx(4 * np.exp(3.0))


def test_graph_structure_survives_release() -> None:
    x = Tensor(3.0, requires_grad=True, name="x")
    y = (x * 2).exp()
    y.backward()
    assert y.op == "exp" and y._node.parents[0].name == "multiply" and y._node.parents[0].parents[0] is x


def test_retain_grad_keeps_an_intermediate_gradient() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_array_equal(h.grad, [6.0, 12.0])
    np.testing.assert_array_equal(x.grad, [18.0, 36.0])


# ============================================================== no_grad, detach, leaves


def test_no_grad_context_and_decorator() -> None:
    w = Tensor(2.0, requires_grad=True)
    with ag.no_grad():
        y = w * 3
        assert not ag.is_grad_enabled()
        with ag.enable_grad():
            z = w * 3
    assert ag.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf
    assert z.requires_grad

    @ag.no_grad()
    def predict(v: Tensor) -> Tensor:
        return v * 5

    assert not predict(w).requires_grad
    assert ag.is_grad_enabled()


def test_no_grad_is_per_thread() -> None:
    w = Tensor(2.0, requires_grad=True)
    seen = []
    entered, release = threading.Event(), threading.Event()

    def other() -> None:
        entered.wait()
        seen.append((w * 2).requires_grad)  # main thread is inside no_grad right now
        release.set()

    t = threading.Thread(target=other)
    t.start()
    with ag.no_grad():
        entered.set()
        release.wait()
    t.join()
    assert seen == [True]


def test_detach_shares_data_and_cuts_the_graph() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.is_leaf and np.shares_memory(d.data, y.data)
    (d * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])  # d is a constant


def test_backward_on_a_leaf_and_on_a_tensor_without_grad() -> None:
    w = Tensor(3.0, requires_grad=True)
    w.backward()
    assert w.grad == 1.0
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor(3.0).backward()


# ============================================================== data and dtypes


def test_data_becomes_float() -> None:
    assert Tensor(3).dtype == np.float64
    assert Tensor([True, False]).dtype == np.float64
    assert Tensor(np.arange(3, dtype=np.int32)).dtype == np.float64
    assert Tensor(np.ones(2, dtype=np.float32)).dtype == np.float32
    assert Tensor([1, 2], dtype=np.float32).dtype == np.float32
    assert Tensor(Tensor([1.0], dtype=np.float32)).dtype == np.float32
    t = Tensor([[1, 2], [3, 4]], requires_grad=True)
    assert t.shape == (2, 2) and t.ndim == 2 and t.size == 4 and len(t) == 2
    assert isinstance(t.data, np.ndarray) and t.grad is None


def test_tensor_copies_its_input() -> None:
    a = np.ones(3)
    t = Tensor(a)
    t.data[0] = 5
    assert a[0] == 1


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ("abc", "numeric"),
        (["1", "2"], "numeric"),
        (object(), "numeric"),
        (None, "numeric"),
        ([[1, 2], [3]], "regular"),
        (np.array([1 + 2j]), "numeric"),
    ],
)
def test_bad_data_is_refused(data: object, match: str) -> None:
    with pytest.raises((TypeError, ValueError), match=match):
        Tensor(data, requires_grad=True)


def test_integer_dtype_is_refused() -> None:
    with pytest.raises(TypeError, match="floating"):
        Tensor([1, 2], dtype=np.int64)


def test_float32_kept_through_a_network_and_its_gradients() -> None:
    rng = np.random.default_rng(0)
    W = Tensor(rng.standard_normal((4, 3)).astype(np.float32), requires_grad=True)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    h = (x @ W).tanh()
    loss = (h.log_softmax(axis=1) * 0.5).mean() + (h**2).sum() / 2.0 + h.max() + np.float64(1.0) * h.mean()
    assert loss.dtype == np.float32
    loss.backward()
    assert W.grad.dtype == np.float32


# ============================================================== conventions


def test_max_and_min_split_ties_evenly() -> None:
    x = Tensor([1.0, 3.0, 3.0, 2.0], requires_grad=True)
    x.max().backward()
    np.testing.assert_array_equal(x.grad, [0, 0.5, 0.5, 0])
    y = Tensor([[1.0, 1.0, 1.0], [0.0, 2.0, 5.0]], requires_grad=True)
    y.min(axis=1).sum().backward()
    np.testing.assert_allclose(y.grad, [[1 / 3, 1 / 3, 1 / 3], [1, 0, 0]])
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([1.0, 0.0], requires_grad=True)
    ag.maximum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad, [0.5, 1])
    np.testing.assert_array_equal(b.grad, [0.5, 0])


def test_abs_and_relu_have_zero_gradient_at_zero() -> None:
    x = Tensor([-1.0, 0.0, 2.0], requires_grad=True)
    (x.abs() + x.relu()).sum().backward()
    np.testing.assert_array_equal(x.grad, [-1.0, 0.0, 2.0])


def test_sqrt_at_zero_has_infinite_derivative() -> None:
    x = Tensor(0.0, requires_grad=True)
    with np.errstate(divide="ignore"):
        x.sqrt().backward()
    assert x.grad == np.inf


def test_stable_softmax_logsumexp_sigmoid_at_extremes() -> None:
    x = Tensor([1000.0, -1000.0, 0.0], requires_grad=True)
    assert np.all(np.isfinite(x.softmax().data)) and x.logsumexp().item() == pytest.approx(1000.0)
    x.log_softmax().sum().backward()
    assert np.all(np.isfinite(x.grad))
    s = Tensor([-800.0, 800.0]).sigmoid().data
    np.testing.assert_array_equal(s, [0.0, 1.0])
    z = Tensor([-np.inf, 0.0, 1.0], requires_grad=True)
    z.log_softmax()[2].backward()
    assert np.all(np.isfinite(z.grad)) and z.grad[0] == 0


# ============================================================== NumPy interop


def test_numpy_on_the_left_gives_tensors() -> None:
    w = Tensor(2.0, requires_grad=True)
    coefficients = np.array([[1.0], [-10.0], [25.0]])
    for y in (np.float64(3) * w, coefficients[0][0] * w**2, np.array([1.0, 2.0]) * w, np.exp(w), np.sum(w)):
        assert isinstance(y, Tensor) and y.requires_grad and y.dtype == np.float64
    y = np.array([1.0, 2.0]) - w
    y.sum().backward()
    assert w.grad == -2


def test_asarray_comparisons_and_queries() -> None:
    t = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    assert np.asarray(t) is t.data
    assert isinstance(t > 1.5, np.ndarray) and (t > 1.5).dtype == bool
    np.testing.assert_array_equal(t == Tensor([1.0, 0.0, 3.0]), [True, False, True])
    assert np.allclose(t, [1, 2, 3]) and np.shape(t) == (3,) and np.argmax(t) == 2


def test_unsupported_numpy_function_raises_instead_of_dropping_the_gradient() -> None:
    t = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="not supported on Tensors"):
        np.cumsum(t)
    with pytest.raises(TypeError, match="not supported on Tensors"):
        np.floor(t)


def test_in_place_update_of_a_parameter_under_no_grad() -> None:
    w = Tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    data = w.data
    with ag.no_grad():
        w -= 0.1 * w.grad
    assert w.data is data and w.is_leaf
    np.testing.assert_allclose(w.data, [0.8, 1.6])
    with pytest.raises(RuntimeError, match="no_grad"):
        w += 1


# ============================================================== errors, raised where the mistake is made


def test_shapes_that_do_not_broadcast() -> None:
    a = Tensor(np.ones((3, 4)), requires_grad=True)
    with pytest.raises(ValueError, match=r"add: shapes \(3, 4\) and \(5,\) do not broadcast"):
        a + np.ones(5)
    with pytest.raises(ValueError, match=r"multiply: shapes \(3, 4\) and \(2, 4\)"):
        ag.multiply(a, Tensor(np.ones((2, 4))))


def test_matmul_alignment_message() -> None:
    with pytest.raises(ValueError, match=r"matmul: shapes \(3, 4\) and \(5, 2\) are not aligned: 4 \(dim 1\) != 5"):
        Tensor(np.ones((3, 4))) @ Tensor(np.ones((5, 2)))
    with pytest.raises(ValueError, match="at least 1-D"):
        Tensor(np.ones(3)) @ 2.0


def test_backward_of_a_non_scalar_needs_grad() -> None:
    y = Tensor([1.0, 2.0], requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"single-element.*\.sum\(\)\.backward\(\)"):
        y.backward()
    with pytest.raises(ValueError, match=r"grad has shape \(3,\) but the tensor has shape \(2,\)"):
        y.backward(np.ones(3))
    Tensor([[5.0]], requires_grad=True).backward()  # one element: fine


def test_bad_operands() -> None:
    t = Tensor([1.0, 2.0])
    with pytest.raises(TypeError, match="add: unsupported operand of type str"):
        t + "a"
    with pytest.raises(TypeError, match="multiply: unsupported operand of type object"):
        t * object()


def test_reduction_axis_and_reshape_errors_name_the_op() -> None:
    t = Tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"sum: .*axis 2 is out of bounds"):
        t.sum(axis=2)
    with pytest.raises(ValueError, match=r"reshape: cannot reshape"):
        t.reshape(4)
    with pytest.raises(IndexError, match=r"getitem: .*\(tensor shape \(2, 3\)\)"):
        t[5]


def test_grad_argnums_and_non_scalar_errors() -> None:
    with pytest.raises(IndexError, match="argnums=2"):
        ag.grad(lambda x, y: x * y, argnums=2)(1.0, 2.0)
    with pytest.raises(TypeError, match="argnums"):
        ag.grad(lambda x: x, argnums="0")
    with pytest.raises(ValueError, match=r"scalar.*shape \(2,\)"):
        ag.grad(lambda x: x * 2)(np.array([1.0, 2.0]))
    with pytest.raises(TypeError, match="must return a Tensor"):
        ag.grad(lambda x: 3.0)(1.0)


def test_gradients_errors() -> None:
    x = Tensor(1.0)
    with pytest.raises(ValueError, match="does not require grad"):
        ag.gradients(x * 2, [x])


# ============================================================== higher order


def test_grad_nests_to_any_order() -> None:
    f = lambda x: x**3 + x.sin()  # noqa: E731
    d1, d2, d3 = ag.grad(f), ag.grad(ag.grad(f)), ag.grad(ag.grad(ag.grad(f)))
    x = 0.7
    assert d1(x).item() == pytest.approx(3 * x**2 + np.cos(x), rel=1e-12)
    assert d2(x).item() == pytest.approx(6 * x - np.sin(x), rel=1e-12)
    assert d3(x).item() == pytest.approx(6 - np.cos(x), rel=1e-12)
    assert isinstance(d1(x), Tensor) and not d1(x).requires_grad


def test_value_and_grad_with_several_argnums() -> None:
    value, (gx, gy) = ag.value_and_grad(lambda x, y: (x * y**2).sum(), argnums=(0, 1))(
        np.array([1.0, 2.0]), np.array([3.0, 4.0])
    )
    assert value.item() == 1 * 9 + 2 * 16
    np.testing.assert_array_equal(gx.data, [9.0, 16.0])
    np.testing.assert_array_equal(gy.data, [6.0, 16.0])


def test_grad_of_a_closure_over_a_tracked_tensor_is_differentiable() -> None:
    w = Tensor(3.0, requires_grad=True)
    g = ag.grad(lambda x: x * x * w)(2.0)  # 2xw
    assert g.item() == 12.0 and g.requires_grad
    g.backward()
    assert w.grad == 4.0


def test_hessian_vector_product() -> None:
    rng = np.random.default_rng(1)
    x0, v = rng.standard_normal(6), rng.standard_normal(6)
    x = Tensor(x0, requires_grad=True)
    (g,) = ag.gradients((x.tanh() ** 2).sum(), [x], create_graph=True)
    (hv,) = ag.gradients(g, [x], grad=Tensor(v))
    t = np.tanh(x0)
    hess_diag = 2 * (1 - t**2) * (1 - 3 * t**2)  # d²/dx² tanh(x)² (the Hessian is diagonal)
    np.testing.assert_allclose(hv.data, hess_diag * v, rtol=1e-10)
    assert x.grad is None  # ag.gradients touches no .grad


def test_gradients_of_unused_input_and_intermediate() -> None:
    x = Tensor(2.0, requires_grad=True)
    z = Tensor(5.0, requires_grad=True)
    h = x * 3
    gx, gz, gh = ag.gradients(h * h, [x, z, h])
    assert gx.item() == 36.0 and gz.item() == 0.0 and gh.item() == 12.0


# ============================================================== user-defined ops


class Softplus(ag.Function):
    """log(1 + eˣ); derivative sigmoid(x) = 1 − e^(−softplus(x))."""

    def forward(self, x):
        return np.logaddexp(0, x)

    def backward(self, g, out, x):
        return g * (1 - np.exp(-out))


def test_custom_function_first_and_second_order() -> None:
    x0 = np.array([-2.0, 0.0, 1.5])
    y = Softplus.apply(Tensor(x0, requires_grad=True))
    np.testing.assert_allclose(y.data, np.log1p(np.exp(x0)))
    assert y.op == "softplus"
    assert ag.testing.gradcheck(lambda x: Softplus.apply(x).sum(), x0)
    assert ag.testing.gradgradcheck(lambda x: Softplus.apply(x).sum(), x0)


def test_repr_and_conversions() -> None:
    w = Tensor(0.5, requires_grad=True, name="w")
    assert repr(w) == "Tensor(0.5, requires_grad=True, name='w')"
    assert repr(Tensor([1, 2], dtype=np.float32)) == "Tensor([1., 2.], dtype=float32)"
    assert float(w) == 0.5 and w.item() == 0.5 and w.numpy() is w.data
    with pytest.raises(ValueError, match="single-element"):
        Tensor([1.0, 2.0]).item()
    assert [t.item() for t in Tensor([3.0, 4.0])] == [3.0, 4.0]


# ============================================================== gradients never alias


def test_leaf_gradients_are_never_shared_or_aliased() -> None:
    a = Tensor(np.ones(3), requires_grad=True)
    b = Tensor(np.ones(3), requires_grad=True)
    seed = np.array([1.0, 2.0, 3.0])
    (a + b).backward(seed)  # add's VJP hands the same array to both inputs
    assert not np.shares_memory(a.grad, b.grad) and not np.shares_memory(a.grad, seed)
    a.grad += 10
    np.testing.assert_array_equal(b.grad, seed)
    np.testing.assert_array_equal(seed, [1.0, 2.0, 3.0])
    c = Tensor(np.ones((2, 3)), requires_grad=True)
    c.sum().backward()  # sum's VJP is a read-only broadcast view
    assert c.grad.flags.writeable and c.grad.flags.owndata
    c.grad *= 2
    np.testing.assert_array_equal(c.grad, np.full((2, 3), 2.0))


def test_leaf_gradient_does_not_alias_saved_data() -> None:
    class Leaky(ag.Function):  # a careless user op whose VJP returns an input array itself
        def forward(self, x, y):
            return x * y

        def backward(self, g, out, x, y):
            return y, x

    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = Tensor(np.array([3.0, 4.0]), requires_grad=True)
    Leaky.apply(x, y).backward(np.ones(2))
    x.grad += 100
    np.testing.assert_array_equal(y.data, [3.0, 4.0])


def test_a_refused_backward_changes_no_gradient() -> None:
    x = Tensor(2.0, requires_grad=True)
    h = x * 3
    y1 = h * 2
    y1.backward()  # releases h's node too
    assert x.grad == 6.0
    y2 = x * 5 + h  # reaches x directly and through the released h
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y2.backward()
    assert x.grad == 6.0  # not 11: nothing was accumulated before the error
    assert gc.isenabled()  # and the collector, paused during backward, is back on


def test_a_vjp_returning_the_wrong_number_of_gradients_is_an_error() -> None:
    class Forgetful(ag.Function):
        def forward(self, a, b):
            return a * b

        def backward(self, g, out, a, b):
            return g * b  # one gradient for two inputs

    a, b = Tensor(2.0, requires_grad=True), Tensor(3.0, requires_grad=True)
    with pytest.raises(TypeError, match="forgetful: backward returned 1 gradient"):
        Forgetful.apply(a, b).backward()
    assert gc.isenabled()


def test_a_tensor_is_not_accepted_as_an_index() -> None:
    t = Tensor([1.0, 2.0, 3.0])
    mask = Tensor(np.array([True, False, True]))  # becomes 1.0, 0.0, 1.0
    with pytest.raises(IndexError, match="NumPy integer or boolean array"):
        t[mask]
    np.testing.assert_array_equal(t[mask.data > 0].data, [1.0, 3.0])


def test_functions_on_plain_numbers_and_int_arrays_give_float_tensors() -> None:
    for t in (ag.add(1, 2), ag.maximum(np.array([1, 5]), 3), ag.concatenate([np.array([1]), np.array([2])])):
        assert isinstance(t, Tensor) and t.dtype == np.float64
    np.testing.assert_array_equal(ag.maximum(np.array([1, 5]), 3).data, [3.0, 5.0])


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: ag.clip(Tensor([1.0])), ValueError, "clip: give at least one of low and high"),
        (lambda: Tensor([1.0]).astype(np.int32), TypeError, "astype: .*cannot cast to int32"),
        (lambda: ag.concatenate([]), ValueError, "concatenate: need at least one tensor"),
        (lambda: ag.stack([]), ValueError, "stack: need at least one tensor"),
        (lambda: ag.dot(np.ones((2, 2, 2)), np.ones((2, 2))), ValueError, "dot: only up to 2-D"),
        (lambda: ag.gradients(Tensor(1.0, requires_grad=True), [np.ones(2)]), TypeError, r"inputs\[0\] is a ndarray"),
        (lambda: ag.gradients(3.0, [Tensor(1.0, requires_grad=True)]), TypeError, "output is a float"),
        (lambda: len(Tensor(1.0)), TypeError, "len.. of a 0-d tensor"),
        (lambda: ag.grad(lambda x: x, argnums=()), TypeError, "argnums must be an int or a non-empty tuple"),
        (lambda: Tensor([1.0], requires_grad=True).__setitem__(0, 2.0), RuntimeError, "item assignment"),
    ],
)
def test_each_misuse_gets_a_message_naming_it(call, error, match) -> None:  # noqa: ANN001
    with pytest.raises(error, match=match):
        call()


def test_astype_casts_and_its_gradient_comes_back_in_the_original_dtype() -> None:
    x = Tensor(np.array([1.5, -2.0], dtype=np.float32), requires_grad=True)
    y = x.astype(np.float64)
    assert y.dtype == np.float64 and y.op == "cast"
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, [3.0, -4.0])
    # first and second derivatives through a cast (float64 to float64 here, so gradcheck applies)
    x64 = np.array([0.3, -1.2])
    assert ag.testing.gradcheck(lambda t: (ag.astype(t, np.float64) ** 3).sum(), x64)
    assert ag.testing.gradgradcheck(lambda t: (ag.astype(t, np.float64) ** 3).sum(), x64)


# ============================================================== what a node keeps


def test_a_node_keeps_only_what_its_derivative_reads():
    import weakref

    x = Tensor(np.linspace(0.1, 1.0, 50), requires_grad=True)
    s = x.sin()  # sin's derivative reads x, not its output
    m = s * 1.0001  # a product by a constant reads the constant, not s
    kept = weakref.ref(s.data)
    del s
    assert kept() is None  # nothing in the graph holds sin's output any more
    h = (x @ np.ones((50, 4))).relu()  # ReLU's mask comes from its output: the product is freed
    y = (m.sum() + h.sum()) * 2.0
    y.backward()
    np.testing.assert_allclose(x.grad, 2 * 1.0001 * np.cos(x.data) + 2 * 4 * (x.data > 0), rtol=1e-12)


def test_stand_ins_keep_shapes_for_drawings_and_second_derivatives():
    x = Tensor(np.linspace(-1, 1, 6).reshape(2, 3), requires_grad=True)
    y = (x.sin() * 3.0).sum()
    assert "(2, 3)" in ag.draw_graph(y).source
    (g,) = ag.gradients(y, [x], create_graph=True)
    (h,) = ag.gradients(g.sum(), [x])
    np.testing.assert_allclose(h.numpy(), -3 * np.sin(x.data), rtol=1e-12)
