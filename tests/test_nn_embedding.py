"""nn.Embedding and nn.LeakyReLU: values, gradients, errors, saving, drawing."""

from __future__ import annotations

import numpy as np
import pytest

import autograd_core as ag
import nn
import optim
from autograd_core import Tensor
from autograd_core.testing import gradcheck, gradgradcheck

# ============================================================== Embedding


def test_embedding_looks_up_rows_for_any_index_shape() -> None:
    emb = nn.Embedding(6, 3, rng=0)
    w = emb.weight.data
    assert emb.weight.shape == (6, 3) and emb.weight.requires_grad and emb.weight.dtype == np.float64
    idx = np.array([[0, 5, 2], [2, 2, 1]])
    out = emb(idx)
    assert out.shape == (2, 3, 3)
    np.testing.assert_array_equal(out.data, w[idx])
    assert emb([4]).shape == (1, 3)
    np.testing.assert_array_equal(emb(4).data, w[4])  # a single index: one vector
    np.testing.assert_array_equal(emb(np.int64(4)).data, w[4])
    assert emb(np.zeros((2, 0, 4), dtype=int)).shape == (2, 0, 4, 3)
    assert emb([]).shape == (0, 3)
    np.testing.assert_array_equal(emb(np.array([1.0, 3.0])).data, w[[1, 3]])  # whole-valued floats
    np.testing.assert_array_equal(emb(np.array([1, 3], dtype=np.uint8)).data, w[[1, 3]])


def test_embedding_gradient_adds_up_repeated_indices() -> None:
    emb = nn.Embedding(5, 2, rng=1)
    idx = np.array([[1, 1], [4, 1]])
    upstream = np.arange(8.0).reshape(2, 2, 2)
    emb(idx).backward(upstream)
    expected = np.zeros((5, 2))
    np.add.at(expected, idx, upstream)
    np.testing.assert_array_equal(emb.weight.grad, expected)
    np.testing.assert_array_equal(emb.weight.grad[1], upstream[0, 0] + upstream[0, 1] + upstream[1, 1])
    assert not emb.weight.grad[[0, 2, 3]].any()


def test_embedding_first_and_second_derivatives() -> None:
    idx = np.array([0, 2, 2, 3])
    g = np.random.default_rng(0).standard_normal((4, 3))
    w = np.random.default_rng(1).standard_normal((4, 3))
    assert gradcheck(lambda t: (t[idx] * g).sum(), w)
    assert gradgradcheck(lambda t: ((t[idx] ** 2) * g).sum(), w)

    emb = nn.Embedding(4, 3, rng=0)

    def loss(weight: Tensor) -> Tensor:
        emb.weight = weight
        return (emb(idx).tanh() * g).sum()

    assert gradcheck(loss, emb.weight.data.copy())


def test_embedding_init_is_standard_normal_and_reproducible() -> None:
    big = nn.Embedding(200, 100, rng=0).weight.data
    assert abs(big.mean()) < 0.02 and abs(big.std() - 1) < 0.02  # N(0, 1), as in PyTorch
    np.testing.assert_array_equal(
        nn.Embedding(4, 2, rng=7).weight.data, np.random.default_rng(7).standard_normal((4, 2))
    )
    nn.seed(3)
    a = nn.Embedding(4, 2).weight.data
    nn.seed(3)
    np.testing.assert_array_equal(nn.Embedding(4, 2).weight.data, a)


def test_embedding_float32() -> None:
    emb = nn.Embedding(3, 2, rng=0, dtype=np.float32)
    out = emb([0, 2])
    assert emb.weight.dtype == np.float32 and out.dtype == np.float32
    out.sum().backward()
    assert emb.weight.grad.dtype == np.float32


def test_embedding_trains() -> None:
    # pull rows 0 and 1 of the table towards two targets with gradient descent
    emb = nn.Embedding(3, 2, rng=0)
    target = np.array([[1.0, -1.0], [0.5, 2.0]])
    opt = optim.GradientDescent(emb.parameters(), lr=0.5)
    untouched = emb.weight.data[2].copy()
    for _ in range(100):
        opt.minimize(lambda: nn.mse(emb([0, 1]), target))
    np.testing.assert_allclose(emb.weight.data[:2], target, atol=1e-6)
    np.testing.assert_array_equal(emb.weight.data[2], untouched)  # never looked up: never changed


@pytest.mark.parametrize(
    ("index", "error", "message"),
    [
        ([1.5], ValueError, r"Embedding\(5, 2\): indices must be whole numbers, got 1.5 at position \(0,\)"),
        (np.array([[0.0, np.nan]]), ValueError, r"whole numbers, got nan at position \(0, 1\)"),
        (2.5, ValueError, "whole numbers, got 2.5"),
        ([True, False], TypeError, r"Embedding\(5, 2\): indices must be integers, got booleans"),
        (True, TypeError, "indices must be integers, got the bool True"),
        (["a", "b"], TypeError, r"indices must be integers, got strings \(list\)"),
        ("3", TypeError, "got strings"),
        (Tensor([1.0, 2.0]), TypeError, r"Embedding\(5, 2\): the indices are a Tensor.*NumPy integer array"),
        ([0, 5], IndexError, r"Embedding\(5, 2\): index 5 at position \(1,\) is out of range.*\[0, 4\]"),
        ([[0, 1], [-1, 9]], IndexError, r"index -1 at position \(1, 0\) is out of range; indices must be in \[0, 4\]"),
        (7, IndexError, r"index 7 is out of range"),
        (np.array([1e20]), IndexError, "index 100000000000000000000 at position"),
        ([[1], [1, 2]], ValueError, "regular"),
    ],
)
def test_embedding_refuses_bad_indices_clearly(index: object, error: type, message: str) -> None:
    emb = nn.Embedding(5, 2, rng=0)
    with pytest.raises(error, match=message):
        emb(index)


@pytest.mark.parametrize("bad", [0, -1, 2.0, True, "3"])
def test_embedding_refuses_bad_sizes(bad: object) -> None:
    with pytest.raises(ValueError, match="Embedding: num_embeddings must be a positive integer"):
        nn.Embedding(bad, 2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Embedding: dim must be a positive integer"):
        nn.Embedding(2, bad)  # type: ignore[arg-type]


def test_embedding_saves_and_loads(tmp_path) -> None:
    model = nn.Sequential(nn.Embedding(7, 4, rng=0), nn.LeakyReLU(0.1), nn.Dense(4, 2, rng=1))
    idx = np.array([[3, 6], [0, 3]])
    before = model(idx).data
    assert list(model.state_dict()) == ["0.weight", "2.weight", "2.bias"]
    path = tmp_path / "emb.npz"
    nn.save(model, path)
    fresh = nn.Sequential(nn.Embedding(7, 4, rng=5), nn.LeakyReLU(0.1), nn.Dense(4, 2, rng=6))
    assert not np.array_equal(fresh(idx).data, before)
    nn.load(fresh, path)
    np.testing.assert_array_equal(fresh(idx).data, before)
    single = tmp_path / "single.npz"
    nn.save(nn.Embedding(7, 4), single)
    with pytest.raises(ValueError, match=r"'weight' has shape \(7, 4\) in the dict but \(8, 4\) in the module"):
        nn.load(nn.Embedding(8, 4), single)


def test_embedding_is_drawn() -> None:
    emb = nn.Embedding(5, 2, rng=0)
    loss = nn.LeakyReLU()(emb(np.array([[1, 1], [4, 0]]))).sum()
    values = ag.draw_graph(loss).source
    assert "leaky_relu(weight[<int64 array>])" in values  # the parameter drawn by its name in the module
    assert "(5, 2)\\nrequires grad" in values  # the table: a leaf that requires grad
    ops = ag.draw_graph(loss, labels="ops").source
    assert "getitem [<int64 array>]" in ops and "leaky_relu" in ops


def test_embedding_repr() -> None:
    assert repr(nn.Embedding(10, 4)) == "Embedding(10, 4)  # 40 params, training mode"


# ============================================================== LeakyReLU


def test_leaky_relu_values_and_gradient_conventions() -> None:
    x = Tensor([-2.0, -0.0, 0.0, 3.0], requires_grad=True)
    y = nn.LeakyReLU()(x)
    np.testing.assert_allclose(y.data, [-0.02, 0.0, 0.0, 3.0])
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [0.01, 0.01, 0.01, 1.0])  # at 0: negative_slope, as in PyTorch
    x.grad = None
    ag.leaky_relu(x, negative_slope=0.2).sum().backward()
    np.testing.assert_allclose(x.grad, [0.2, 0.2, 0.2, 1.0])
    x.grad = None
    ag.leaky_relu(x, 0).sum().backward()
    np.testing.assert_array_equal(x.grad, x.relu().data > 0)  # slope 0 is ReLU, whose gradient at 0 is 0


def test_leaky_relu_module_and_function_agree() -> None:
    x = np.linspace(-3, 3, 13)
    np.testing.assert_array_equal(nn.LeakyReLU(0.3)(x).data, ag.leaky_relu(x, 0.3).data)
    np.testing.assert_array_equal(nn.LeakyReLU(0.3)(x).data, np.where(x > 0, x, 0.3 * x))
    assert repr(nn.LeakyReLU(0.3)) == "LeakyReLU(negative_slope=0.3)  # training mode"
    assert nn.LeakyReLU()(np.array([-1, 2])).data.tolist() == [-0.01, 2.0]  # integers give floats
    y = nn.LeakyReLU(0.5)(Tensor(np.array([-1.0, 1.0], np.float32)))
    assert y.dtype == np.float32


def test_leaky_relu_refuses_a_non_number_slope() -> None:
    with pytest.raises(TypeError, match="LeakyReLU: negative_slope must be a real number, got '0.1'"):
        nn.LeakyReLU("0.1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="leaky_relu: negative_slope must be a real number"):
        ag.leaky_relu(Tensor([1.0]), None)  # type: ignore[arg-type]


def test_leaky_relu_in_a_network_trains() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 2))
    y = (x[:, :1] * x[:, 1:] > 0).astype(float)
    model = nn.Sequential(nn.Dense(2, 16, rng=1), nn.LeakyReLU(0.1), nn.Dense(16, 1, rng=2))
    opt = optim.Adam(model.parameters(), lr=0.05)
    first = opt.minimize(lambda: nn.binary_cross_entropy(model(x), y))
    for _ in range(200):
        last = opt.minimize(lambda: nn.binary_cross_entropy(model(x), y))
    assert last < 0.5 * first
