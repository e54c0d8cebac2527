"""Constructors: ag.tensor, zeros/ones/full (and *_like), arange, linspace, eye, randn, rand."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest

import autograd_core as ag
from autograd_core import Tensor


@pytest.fixture
def global_state_untouched() -> Iterator[None]:
    """NumPy's global random state is the same after the test as before it."""
    np.random.seed(1234)
    before = np.random.get_state()
    yield
    after = np.random.get_state()
    assert before[0] == after[0] and np.array_equal(before[1], after[1]) and before[2:] == after[2:]


# ============================================================== tensor


def test_constructors_are_exported() -> None:
    names = ["tensor", "zeros", "ones", "full", "zeros_like", "ones_like", "full_like", "arange", "linspace", "eye"]
    for name in [*names, "randn", "rand"]:
        assert name in ag.__all__ and callable(getattr(ag, name)), name


def test_tensor_is_the_constructor() -> None:
    t = ag.tensor([[1, 2], [3, 4]], requires_grad=True, name="t")
    assert isinstance(t, Tensor) and t.dtype == np.float64 and t.requires_grad and t.name == "t"
    np.testing.assert_array_equal(t.data, [[1.0, 2.0], [3.0, 4.0]])
    assert ag.tensor(np.ones(2, np.float32)).dtype == np.float32
    assert ag.tensor(1.5, dtype=np.float32).dtype == np.float32
    a = np.array([1.0, 2.0])
    assert not np.shares_memory(ag.tensor(a).data, a)  # copied, as Tensor(...) does
    with pytest.raises(TypeError, match="dtype must be a floating type"):
        ag.tensor([1, 2], dtype=np.int64)


# ============================================================== zeros, ones, full


@pytest.mark.parametrize(("make", "value"), [(ag.zeros, 0.0), (ag.ones, 1.0)])
def test_zeros_and_ones_take_a_shape_either_way(make: Callable[..., Tensor], value: float) -> None:
    for t in (make(2, 3), make((2, 3)), make([2, 3]), make(np.int64(2), 3), make(np.array([2, 3]))):
        assert t.shape == (2, 3) and t.dtype == np.float64 and not t.requires_grad and t.is_leaf
        assert (t.data == value).all()
    assert make(4).shape == (4,)
    assert make(()).shape == () and make(()).item() == value
    assert make(0, 3).shape == (0, 3)
    t = make(2, dtype=np.float32, requires_grad=True, name="w")
    assert t.dtype == np.float32 and t.requires_grad and t.name == "w"


def test_zeros_with_grad_is_a_trainable_leaf() -> None:
    w = ag.zeros(3, requires_grad=True)
    (w * Tensor([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_array_equal(w.grad, [1.0, 2.0, 3.0])


@pytest.mark.parametrize("make", [ag.zeros, ag.ones, ag.randn, ag.rand])
def test_shape_errors_name_the_constructor(make: Callable[..., Tensor]) -> None:
    name = make.__name__
    with pytest.raises(TypeError, match=rf"{name}: give a shape"):
        make()
    with pytest.raises(ValueError, match=rf"{name}: a shape is made of non-negative integers, got -1"):
        make(2, -1)
    with pytest.raises(ValueError, match="non-negative integers, got 2.5"):
        make((2.5, 3))
    with pytest.raises(ValueError, match="got True"):
        make(True)
    with pytest.raises(TypeError, match=rf"{name}: dtype must be a floating type"):
        make(2, dtype=np.int32)
    with pytest.raises(TypeError, match=rf"{name}: 'banana' is not a dtype"):
        make(2, dtype="banana")


def test_full() -> None:
    t = ag.full((2, 3), 7)
    assert t.shape == (2, 3) and t.dtype == np.float64 and (t.data == 7.0).all()
    assert ag.full(3, 0.5).data.tolist() == [0.5, 0.5, 0.5]
    assert ag.full((), -1.0).item() == -1.0
    assert ag.full(2, 1.5, dtype=np.float32, requires_grad=True).dtype == np.float32
    np.testing.assert_array_equal(ag.full((2, 2), [1.0, 2.0]).data, [[1.0, 2.0], [1.0, 2.0]])  # broadcast
    np.testing.assert_array_equal(ag.full(2, Tensor(3.0)).data, [3.0, 3.0])
    with pytest.raises(ValueError, match=r"full: value of shape \(3,\) does not broadcast to the shape \(2,\)"):
        ag.full(2, [1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="full: data must be numeric"):
        ag.full(2, "a")
    with pytest.raises(ValueError, match=r"the shape is the first argument: full\(shape, value\)"):
        ag.full(2.5, 3)


def test_full_data_is_writable_and_owned() -> None:
    t = ag.full((2,), 1.0)
    t.data[0] = 5.0  # not a read-only broadcast view
    assert t.data.tolist() == [5.0, 1.0]


# ============================================================== *_like


def test_like_constructors_copy_shape_and_dtype() -> None:
    x = Tensor(np.arange(6.0).reshape(2, 3), dtype=np.float32, requires_grad=True)
    for make, value in ((ag.zeros_like, 0.0), (ag.ones_like, 1.0)):
        t = make(x)
        assert t.shape == (2, 3) and t.dtype == np.float32 and not t.requires_grad and (t.data == value).all()
        assert make(x, dtype=np.float64).dtype == np.float64
        assert make(x, requires_grad=True).requires_grad
        assert make(np.zeros((4,), dtype=np.int64)).dtype == np.float64  # integers: the default float
        assert make([[1, 2]]).shape == (1, 2)
    f = ag.full_like(x, 2.5)
    assert f.dtype == np.float32 and (f.data == 2.5).all()
    assert ag.ones_like(x, name="o").name == "o"
    with pytest.raises(TypeError, match="zeros_like: expected a Tensor or a numeric array"):
        ag.zeros_like(["a"])


# ============================================================== arange, linspace, eye


def test_arange_has_numpys_signature_and_gives_floats() -> None:
    np.testing.assert_array_equal(ag.arange(4).data, [0.0, 1.0, 2.0, 3.0])
    np.testing.assert_array_equal(ag.arange(2, 5).data, [2.0, 3.0, 4.0])
    np.testing.assert_array_equal(ag.arange(0, 1, 0.25).data, [0.0, 0.25, 0.5, 0.75])
    np.testing.assert_array_equal(ag.arange(3, 0, -1).data, [3.0, 2.0, 1.0])
    assert ag.arange(4).dtype == np.float64
    assert ag.arange(4, dtype=np.float32).dtype == np.float32
    assert ag.arange(3, requires_grad=True, name="i").requires_grad
    assert ag.arange(0).shape == (0,)
    with pytest.raises(ValueError, match="arange: step must not be 0"):
        ag.arange(0, 3, 0)
    with pytest.raises(TypeError, match="arange: stop must be a real number"):
        ag.arange(0, "3")


def test_linspace_and_eye() -> None:
    np.testing.assert_array_equal(ag.linspace(0, 1, 5).data, [0.0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_array_equal(ag.linspace(0, 1, 4, endpoint=False).data, [0.0, 0.25, 0.5, 0.75])
    assert ag.linspace(0, 1).shape == (50,)
    assert ag.linspace(0, 1, 3, dtype=np.float32).dtype == np.float32
    with pytest.raises(ValueError, match="linspace: num must be a non-negative integer"):
        ag.linspace(0, 1, -1)
    np.testing.assert_array_equal(ag.eye(2).data, [[1.0, 0.0], [0.0, 1.0]])
    np.testing.assert_array_equal(ag.eye(2, 3, k=1).data, np.eye(2, 3, 1))
    assert ag.eye(3, dtype=np.float32, requires_grad=True).requires_grad
    with pytest.raises(ValueError, match="eye: a shape is made of non-negative integers"):
        ag.eye(-2)


# ============================================================== randn, rand


@pytest.mark.usefixtures("global_state_untouched")
def test_random_constructors_take_a_seed_or_a_generator() -> None:
    a = ag.randn(2, 3, rng=0)
    assert a.shape == (2, 3) and a.dtype == np.float64
    np.testing.assert_array_equal(a.data, np.random.default_rng(0).standard_normal((2, 3)))
    np.testing.assert_array_equal(ag.randn((2, 3), rng=0).data, a.data)
    g = np.random.default_rng(5)
    b = ag.rand(4, rng=g)
    np.testing.assert_array_equal(b.data, np.random.default_rng(5).random(4))
    c = ag.rand(4, rng=g)  # the generator moved on
    assert not np.array_equal(b.data, c.data)
    f32 = ag.randn(3, rng=0, dtype=np.float32)
    assert f32.dtype == np.float32
    np.testing.assert_array_equal(f32.data, ag.randn(3, rng=0).data.astype(np.float32))
    w = ag.randn(3, 2, rng=1, requires_grad=True, name="w")
    assert w.requires_grad and w.name == "w" and w.is_leaf


@pytest.mark.usefixtures("global_state_untouched")
def test_random_constructors_never_touch_numpys_global_state() -> None:
    ag.randn(100)
    ag.rand(3, 3)
    ag.randn(5, rng=3)
    ag.rand(5, rng=np.random.default_rng(2))


def test_global_seed_does_not_fix_unseeded_draws() -> None:
    np.random.seed(0)
    a = ag.randn(20)
    np.random.seed(0)
    b = ag.randn(20)
    assert not np.array_equal(a.data, b.data)  # a fresh generator each time, not NumPy's global one


def test_random_values_have_the_right_distribution() -> None:
    x = ag.randn(20000, rng=0).data
    assert abs(x.mean()) < 0.03 and abs(x.std() - 1) < 0.03
    u = ag.rand(20000, rng=0).data
    assert u.min() >= 0 and u.max() < 1 and abs(u.mean() - 0.5) < 0.01


@pytest.mark.parametrize("bad", [-1, 1.5, True, "0", np.random.RandomState(0)])
def test_random_constructors_refuse_a_bad_rng(bad: object) -> None:
    with pytest.raises(TypeError, match="randn: rng must be a non-negative int seed, a numpy.random.Generator"):
        ag.randn(2, rng=bad)
