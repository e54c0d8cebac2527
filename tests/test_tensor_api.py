"""The Tensor methods a NumPy/PyTorch user reaches for: argmax/argmin, any/all, clone/copy,
unsqueeze/squeeze, pow, log1p/expm1, var/std/norm arguments, __format__, NumPy interop.
(Their derivatives are checked in test_ops.py's table.)"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import autograd_core as ag
from autograd_core import Tensor

M = np.array([[1.0, 5.0, 5.0], [7.0, -2.0, 0.0]])


# ============================================================== argmax, argmin


def test_argmax_argmin_as_numpy() -> None:
    t = Tensor(M)
    assert t.argmax() == 3 and type(t.argmax()) is int
    assert t.argmin() == 4 and type(t.argmin()) is int
    np.testing.assert_array_equal(t.argmax(axis=1), [1, 0])  # the first of the tied 5s
    np.testing.assert_array_equal(t.argmin(axis=0), [0, 1, 1])
    np.testing.assert_array_equal(t.argmax(axis=-1, keepdims=True), [[1], [0]])
    assert isinstance(t.argmax(axis=0), np.ndarray) and t.argmax(axis=0).dtype.kind == "i"
    assert ag.argmax(t) == 3 and ag.argmin(M, axis=1).tolist() == [0, 1]
    assert np.argmax(t) == 3 and np.argmin(t, axis=1).tolist() == [0, 1]
    assert ag.argmax([3.0, 9.0, 1.0]) == 1


def test_argmax_is_not_differentiable_and_leaves_the_graph_alone() -> None:
    x = Tensor(M, requires_grad=True)
    i = x.argmax()
    assert not isinstance(i, Tensor)
    x.reshape(-1)[i].backward()
    np.testing.assert_array_equal(x.grad, [[0, 0, 0], [1, 0, 0]])


def test_argmax_bad_axis_names_numpy_error() -> None:
    with pytest.raises(np.exceptions.AxisError):
        Tensor(M).argmax(axis=2)


# ============================================================== any, all


def test_any_all_give_plain_bools_and_arrays() -> None:
    t = Tensor([[0.0, 1.0], [0.0, 0.0]])
    assert t.any() is True and t.all() is False
    assert Tensor([1.0, -2.0]).all() is True and Tensor([0.0]).any() is False
    np.testing.assert_array_equal(t.any(axis=1), [True, False])
    np.testing.assert_array_equal(t.all(axis=0), [False, False])
    assert t.any(axis=0, keepdims=True).shape == (1, 2)
    assert (t > 0.5).any()  # comparisons are arrays already
    assert np.any(t) and not np.all(t)


# ============================================================== clone, copy


@pytest.mark.parametrize("method", ["clone", "copy"])
def test_clone_is_a_new_array_with_the_gradient_flowing_back(method: str) -> None:
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = getattr(x, method)()
    assert y.data is not x.data and not np.shares_memory(y.data, x.data)
    assert y.requires_grad and y.op == "clone"
    with ag.no_grad():
        x.data[0] = 10.0  # changing the original does not change the copy
    assert y.data.tolist() == [1.0, 2.0, 3.0]
    (y * Tensor([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 2.0, 3.0])


def test_clone_keeps_dtype_name_free_and_works_without_grad() -> None:
    x = Tensor(np.ones(2, np.float32), name="x")
    y = ag.clone(x)
    assert y.dtype == np.float32 and not y.requires_grad and y.name is None
    assert ag.clone([1, 2]).data.tolist() == [1.0, 2.0]


def test_detach_shares_while_clone_copies() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    assert np.shares_memory(x.detach().data, x.data)
    assert not np.shares_memory(x.clone().data, x.data)


# ============================================================== unsqueeze, squeeze


def test_unsqueeze_and_squeeze_shapes() -> None:
    t = Tensor(np.zeros((2, 3)))
    assert t.unsqueeze(0).shape == (1, 2, 3)
    assert t.unsqueeze(1).shape == (2, 1, 3)
    assert t.unsqueeze(-1).shape == (2, 3, 1)
    assert ag.unsqueeze(t, 2).shape == (2, 3, 1)
    u = Tensor(np.zeros((1, 2, 1)))
    assert u.squeeze().shape == (2,)
    assert u.squeeze(0).shape == (2, 1)
    assert u.squeeze(-1).shape == (1, 2)
    assert u.squeeze((0, 2)).shape == (2,)
    assert ag.squeeze(u, 0).shape == (2, 1)
    assert Tensor(5.0).unsqueeze(0).shape == (1,)


def test_squeeze_and_unsqueeze_refuse_bad_axes_clearly() -> None:
    with pytest.raises(ValueError, match=r"squeeze: cannot remove axis 1 from shape \(1, 2, 1\)"):
        Tensor(np.zeros((1, 2, 1))).squeeze(1)
    with pytest.raises(ValueError, match=r"expand_dims: cannot insert axis 3 into shape \(2, 3\)"):
        Tensor(np.zeros((2, 3))).unsqueeze(3)


def test_unsqueeze_gradient_flows() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x.unsqueeze(0) * Tensor([[3.0, 4.0]])).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 4.0])


# ============================================================== pow, log1p, expm1


def test_pow_log1p_expm1_values() -> None:
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    np.testing.assert_array_equal(x.pow(2).data, [1.0, 4.0, 9.0])
    np.testing.assert_allclose(ag.pow(2.0, x).data, [2.0, 4.0, 8.0])
    x.pow(3).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 12.0, 27.0])
    tiny = Tensor([1e-20, -1e-18])
    np.testing.assert_array_equal(tiny.log1p().data, [1e-20, -1e-18])  # log(1 + x) would give 0
    np.testing.assert_array_equal(tiny.expm1().data, [1e-20, -1e-18])  # exp(x) - 1 would give 0
    np.testing.assert_allclose(np.log1p(Tensor([np.e - 1])).data, [1.0])
    assert isinstance(np.expm1(x), Tensor)


# ============================================================== var, std, norm: arguments


def test_var_std_match_numpy_with_ddof_axis_keepdims() -> None:
    x = np.array([[1.0, 2.0, 4.0, 8.0], [3.0, 3.0, 5.0, 9.0]])
    t = Tensor(x)
    for kw in ({}, {"axis": 1}, {"axis": 0, "ddof": 1}, {"axis": (0, 1), "ddof": 2, "keepdims": True}, {"axis": [1]}):
        ref = {**kw, "axis": tuple(kw["axis"])} if isinstance(kw.get("axis"), list) else kw
        np.testing.assert_allclose(t.var(**kw).data, np.var(x, **ref), rtol=1e-14)
        np.testing.assert_allclose(t.std(**kw).data, np.std(x, **ref), rtol=1e-14)
        np.testing.assert_allclose(ag.std(x, **kw).data, np.std(x, **ref), rtol=1e-14)
    np.testing.assert_allclose(np.std(t, axis=1, ddof=1).data, np.std(x, axis=1, ddof=1))
    assert t.var(1, 1).shape == (2,)  # positional: axis, ddof, as in NumPy


def test_functions_take_integer_arrays() -> None:
    unsigned = np.array([4, 2, 1], dtype=np.uint8)  # differences must not wrap around
    np.testing.assert_allclose(ag.var(unsigned, ddof=1).data, np.var([1.0, 2.0, 4.0], ddof=1))
    for data in (np.array([1, 2, 4]), [1, 2, 4]):
        np.testing.assert_allclose(ag.var(data, ddof=1).data, np.var([1.0, 2.0, 4.0], ddof=1))
        np.testing.assert_allclose(ag.std(data).data, np.std([1.0, 2.0, 4.0]))
        np.testing.assert_allclose(ag.norm(data, 3).data, np.linalg.norm([1.0, 2.0, 4.0], 3))
        np.testing.assert_allclose(ag.log1p(data).data, np.log1p([1.0, 2.0, 4.0]))
        np.testing.assert_array_equal(ag.leaky_relu(data).data, [1.0, 2.0, 4.0])
        assert ag.clone(data).dtype == np.float64 and ag.var(data).dtype == np.float64


def test_var_refuses_keepdims_in_the_place_of_ddof() -> None:
    with pytest.raises(TypeError, match="var: ddof must be an integer.*keepdims=True"):
        Tensor(M).var(0, True)
    with pytest.raises(TypeError, match="ddof must be an integer"):
        ag.std(M, ddof=0.5)


def test_var_bad_axis_names_the_op() -> None:
    with pytest.raises(ValueError, match="var: axis 2 is out of bounds"):
        Tensor(M).var(axis=2)


def test_var_is_one_node() -> None:
    v = Tensor(M, requires_grad=True).var()
    assert v.op == "var"


def test_var_of_a_large_offset_is_accurate() -> None:
    # shifting by the first element keeps digits that centring on a rounded mean loses
    x = 1e9 + np.array([0.1, 0.2, 0.3, 0.4])
    values = [Fraction(v) for v in x]
    mean = sum(values) / len(values)
    exact = float(sum((v - mean) ** 2 for v in values) / len(values))
    assert abs(Tensor(x).var().item() - exact) <= 1e-15 * exact


def test_norm_values_against_numpy() -> None:
    x = np.array([[3.0, -4.0, 0.0], [1.0, 2.0, -2.0]])
    t = Tensor(x)
    cases = [
        {},
        {"keepdims": True},
        {"ord": "fro"},
        {"ord": 1},
        {"ord": -1},
        {"ord": np.inf},
        {"ord": -np.inf},
        {"axis": 1},
        {"ord": 1, "axis": 0},
        {"ord": np.inf, "axis": 1, "keepdims": True},
        {"ord": -np.inf, "axis": 1},
        {"ord": 3, "axis": 1},
        {"ord": 0.5, "axis": 1},
        {"ord": "fro", "axis": (1, 0)},
        {"ord": 1, "axis": (1, 0), "keepdims": True},
        {"ord": np.inf, "axis": [0, 1]},  # a list is taken as a tuple
    ]
    for kw in cases:
        expected = np.linalg.norm(x, **{**kw, "axis": tuple(kw["axis"])} if isinstance(kw.get("axis"), list) else kw)
        np.testing.assert_allclose(t.norm(**kw).data, expected, rtol=1e-14, err_msg=str(kw))
        np.testing.assert_allclose(np.linalg.norm(t, **kw).data, expected, rtol=1e-14, err_msg=str(kw))
    np.testing.assert_allclose(Tensor(x[0]).norm(2).data, 5.0)
    np.testing.assert_allclose(Tensor(np.ones((2, 2, 2))).norm().data, np.sqrt(8))
    assert Tensor(np.ones((2, 2, 2))).norm(keepdims=True).shape == (1, 1, 1)


def test_norm_gradient_values() -> None:
    x = Tensor([3.0, -4.0], requires_grad=True)
    x.norm().backward()
    np.testing.assert_allclose(x.grad, [0.6, -0.8])
    y = Tensor([[1.0, -2.0], [3.0, 4.0]], requires_grad=True)
    y.norm(1).backward()  # the largest column sum |−2| + |4|: its column gets sign(y)
    np.testing.assert_array_equal(y.grad, [[0.0, -1.0], [0.0, 1.0]])
    z = Tensor([2.0, -2.0, 1.0], requires_grad=True)
    z.norm(np.inf).backward()  # a tie: shared evenly, as max does
    np.testing.assert_array_equal(z.grad, [0.5, -0.5, 0.0])


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        (((2, 2), {"ord": 2, "axis": (0, 1)}), NotImplementedError, "singular values"),
        (((2, 2), {"ord": "nuc"}), NotImplementedError, "singular values"),
        (((2, 2), {"ord": 2}), NotImplementedError, "singular values"),
        (((3,), {"ord": 0}), NotImplementedError, r"counts the non-zero elements.*\(x != 0\)\.sum\(\)"),
        (((3,), {"ord": -2}), NotImplementedError, "ord=-2 is not supported"),
        (((3,), {"ord": "fro"}), ValueError, "'fro' is for matrices"),
        (((3,), {"ord": "max"}), ValueError, "not a vector norm"),
        (((2, 2), {"ord": "x", "axis": (0, 1)}), ValueError, "not a matrix norm"),
        (((2, 2, 2), {"ord": 1}), ValueError, r"needs a vector or a matrix.*\(2, 2, 2\).*axis="),
        (((2, 2), {"axis": 2}), ValueError, r"bad axis=2 for a tensor of shape \(2, 2\)"),
        (((2, 2), {"axis": (0, 0)}), ValueError, "bad axis"),
        (((2, 2, 2), {"axis": (0, 1, 2)}), ValueError, "an int or a pair of ints"),
    ],
)
def test_norm_refuses_what_it_does_not_support(args: tuple, error: type, message: str) -> None:
    shape, kw = args
    with pytest.raises(error, match=message):
        Tensor(np.ones(shape)).norm(**kw)


# ============================================================== __format__


def test_format_a_single_element_like_a_float() -> None:
    loss = Tensor([0.5, 0.25]).sum()
    assert f"{loss:.3f}" == "0.750"
    assert f"{Tensor([[2.0]]):.1e}" == "2.0e+00"
    assert f"{Tensor(3.14159, requires_grad=True):>8.2f}" == "    3.14"
    assert f"{Tensor(0.5):%}" == "50.000000%"
    assert f"{Tensor(1.0):.2f}" == "1.00"
    assert format(Tensor(np.float32(0.1), dtype=np.float32), ".3f") == "0.100"


def test_format_without_a_spec_is_str() -> None:
    t = Tensor([1.0, 2.0], requires_grad=True)
    assert f"{t}" == str(t) == repr(t) == "Tensor([1., 2.], requires_grad=True)"
    assert f"{Tensor(2.0)}" == "Tensor(2.)"


def test_format_spec_on_many_elements_is_refused() -> None:
    with pytest.raises(TypeError, match=r"'\.3f' needs a single-element tensor.*shape \(2,\)"):
        f"{Tensor([1.0, 2.0]):.3f}"
    with pytest.raises(ValueError, match="Unknown format code 'd'"):  # as for a float
        f"{Tensor(1.0):d}"


# ============================================================== the ag.* functions and aliases


def test_function_aliases() -> None:
    assert ag.cat is ag.concatenate
    assert ag.pow is ag.power
    out = ag.cat([Tensor([1.0]), np.array([2.0, 3.0])])
    np.testing.assert_array_equal(out.data, [1.0, 2.0, 3.0])
    np.testing.assert_allclose(ag.log1p([0.0, 1.0]).data, np.log1p([0.0, 1.0]))
    np.testing.assert_allclose(ag.expm1(np.array([0.0, 1.0])).data, np.expm1([0.0, 1.0]))
    np.testing.assert_allclose(ag.norm([3.0, 4.0]).data, 5.0)
    np.testing.assert_allclose(ag.var([1.0, 2.0, 3.0], ddof=1).data, 1.0)


def test_new_names_are_exported() -> None:
    names = [
        "cat", "pow", "log1p", "expm1", "leaky_relu", "clone", "norm", "std", "var", "argmax", "argmin",
        "unsqueeze", "squeeze",
    ]  # fmt: skip
    for name in names:
        assert name in ag.__all__ and callable(getattr(ag, name)), name
