"""nn.Module, Parameter, Sequential: discovery, modes, repr, state dicts, saving."""

from __future__ import annotations

import os

import numpy as np
import pytest

import nn
import optim
from autograd_core import Tensor, no_grad


def small_model(seed: int = 0) -> nn.Sequential:
    rng = np.random.default_rng(seed)
    return nn.Sequential(
        nn.Dense(4, 6, bias=False, rng=rng), nn.BatchNorm(6), nn.ReLU(), nn.Dense(6, 3, init="xavier", rng=rng)
    )


class Custom(nn.Module):
    """A model with sub-modules as attributes, in a list, and a bare Parameter in a list."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Dense(3, 5, bias=False, rng=0)
        self.bn1 = nn.BatchNorm(5)
        self.blocks = [nn.Dense(5, 5, rng=1), nn.Tanh()]
        self.scales = [nn.Parameter(np.ones(2))]
        self.head = nn.Sequential(nn.Dense(5, 2, rng=2))
        self.not_a_layer = np.zeros(3)  # plain arrays are neither parameters nor buffers

    def forward(self, x):
        h = self.bn1(self.fc1(x)).relu()
        for b in self.blocks:
            h = b(h)
        return self.head(h)


class NoSuper(nn.Module):
    def __init__(self) -> None:  # forgets super().__init__(): must still work
        self.layer = nn.Dense(2, 2, rng=0)

    def forward(self, x):
        return self.layer(x)


# ============================================================== Parameter


def test_parameter_is_a_leaf_tensor_requiring_grad_and_copies_its_data():
    data = np.arange(3.0)
    p = nn.Parameter(data)
    assert isinstance(p, Tensor) and p.requires_grad and p.is_leaf and p.dtype == np.float64
    data[0] = 99.0
    assert p.data[0] == 0.0
    assert nn.Parameter(np.ones(2, dtype=np.float32)).dtype == np.float32
    assert repr(nn.Parameter([1.0, 2.0])) == "Parameter([1., 2.])"


# ============================================================== discovery


def test_named_parameters_of_sequential_use_indices():
    m = small_model()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["0.weight", "1.gamma", "1.beta", "3.weight", "3.bias"]
    assert [p.shape for p in m.parameters()] == [(4, 6), (6,), (6,), (6, 3), (3,)]
    assert [n for n, _ in m.named_buffers()] == ["1.running_mean", "1.running_var"]


def test_custom_module_finds_attributes_lists_and_nested_sequentials():
    m = Custom()
    names = [n for n, _ in m.named_parameters()]
    assert names == [
        "fc1.weight", "bn1.gamma", "bn1.beta", "blocks.0.weight", "blocks.0.bias", "scales.0", "head.0.weight",
        "head.0.bias",
    ]  # fmt: skip
    assert list(m.state_dict()) == names[:3] + ["bn1.running_mean", "bn1.running_var"] + names[3:]
    mods = [n for n, _ in m.named_modules()]
    assert mods == ["", "fc1", "bn1", "blocks.0", "blocks.1", "head", "head.0"]
    assert len(list(m.modules())) == 7
    assert [type(c).__name__ for c in m.children()] == ["Dense", "BatchNorm", "Dense", "Tanh", "Sequential"]


def test_module_without_super_init_works():
    m = NoSuper()
    assert m.training
    assert [n for n, _ in m.named_parameters()] == ["layer.weight", "layer.bias"]
    m.eval()
    assert not m.training and not m.layer.training


def test_shared_layer_is_listed_once():
    shared = nn.Dense(3, 3, rng=0)
    m = nn.Sequential(shared, nn.ReLU(), shared)
    assert [n for n, _ in m.named_parameters()] == ["0.weight", "0.bias"]
    assert len(list(m.modules())) == 3  # the Sequential, the Dense, the ReLU


def test_call_runs_forward_and_sequential_composes():
    m = small_model()
    x = np.random.default_rng(1).normal(size=(5, 4))
    manual = x
    for layer in m:
        manual = layer(manual)
    np.testing.assert_array_equal(m(x).numpy(), manual.numpy())


def test_sequential_is_indexable_iterable_and_sized():
    m = small_model()
    assert len(m) == 4
    assert isinstance(m[1], nn.BatchNorm) and m[-1] is list(m)[-1]
    head = m[2:]
    assert isinstance(head, nn.Sequential) and len(head) == 2 and head[1] is m[3]
    with pytest.raises(IndexError, match="index 7 out of range for 4 layers"):
        m[7]
    with pytest.raises(TypeError, match="item 1 is a ufunc, not a Module"):
        nn.Sequential(nn.ReLU(), np.tanh)
    m.append(nn.Softmax())
    assert len(m) == 5


# ============================================================== modes, grads, repr


def test_train_and_eval_are_recursive():
    m = Custom()
    assert all(mod.training for mod in m.modules())
    assert m.eval() is m
    assert not any(mod.training for mod in m.modules())
    m.train()
    assert all(mod.training for mod in m.modules())
    m.train(False)
    assert not m.head[0].training


def test_zero_grad_clears_every_parameter():
    m = small_model()
    nn.softmax_cross_entropy(m(np.ones((3, 4)) * np.arange(3)[:, None]), np.array([0, 1, 2])).backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())


def test_repr_shows_structure_parameter_counts_and_mode():
    m = small_model()
    expected = (
        "Sequential(\n"
        "  (0): Dense(in_features=4, out_features=6, bias=False)  # 24 params\n"
        "  (1): BatchNorm(6, momentum=0.9, eps=1e-05)  # 12 params\n"
        "  (2): ReLU()\n"
        "  (3): Dense(in_features=6, out_features=3, init='xavier')  # 21 params\n"
        ")  # 57 params, training mode"
    )
    assert repr(m) == expected
    m.eval()
    assert repr(m).endswith(")  # 57 params, eval mode")
    m[1].train()  # a child whose mode differs from the whole says so
    assert "(1): BatchNorm(6, momentum=0.9, eps=1e-05)  # 12 params, training mode" in repr(m)
    assert repr(nn.ReLU()) == "ReLU()  # training mode"
    assert repr(Custom()).splitlines()[1] == "  (fc1): Dense(in_features=3, out_features=5, bias=False)  # 15 params"


# ============================================================== state dicts


def test_state_dict_holds_copies_of_parameters_and_running_statistics():
    m = small_model()
    m(np.random.default_rng(0).normal(size=(8, 4)))  # move the running statistics
    d = m.state_dict()
    assert set(d) == {"0.weight", "1.gamma", "1.beta", "1.running_mean", "1.running_var", "3.weight", "3.bias"}
    assert all(type(v) is np.ndarray for v in d.values())
    np.testing.assert_array_equal(d["1.running_mean"], m[1].running_mean)
    d["0.weight"][...] = 0  # a copy: the model is untouched
    assert np.abs(m[0].weight.data).sum() > 0
    assert "1.running_mean" not in dict(m.named_parameters())


def test_load_state_dict_restores_in_place_and_keeps_optimizers_working():
    a, b = small_model(0), small_model(1)
    a(np.random.default_rng(0).normal(size=(8, 4)))
    w = b[0].weight
    opt = optim.GradientDescent(b.parameters(), lr=0.1)
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert b[0].weight is w
    for (name, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        np.testing.assert_array_equal(va, vb, err_msg=name)
    x = np.random.default_rng(3).normal(size=(4, 4))
    opt.minimize(lambda: nn.softmax_cross_entropy(b(x), np.array([0, 1, 2, 0])))
    assert not np.array_equal(b[0].weight.data, a[0].weight.data)  # the optimizer still updates b's parameters


def test_load_state_dict_names_missing_unexpected_and_misshaped_keys():
    m = small_model()
    d = m.state_dict()
    del d["3.bias"]
    d["4.weight"] = np.zeros(2)
    d["1.gamma"] = np.ones(7)
    before = m.state_dict()
    with pytest.raises(ValueError) as info:
        m.load_state_dict(d)
    msg = str(info.value)
    assert "missing keys (in the module, not in the dict): '3.bias'" in msg
    assert "unexpected keys (in the dict, not in the module): '4.weight'" in msg
    assert "'1.gamma' has shape (7,) in the dict but (6,) in the module" in msg
    for k, v in m.state_dict().items():  # nothing was changed
        np.testing.assert_array_equal(v, before[k])


def test_load_state_dict_non_strict_skips_missing_and_unexpected_but_not_bad_shapes():
    m = small_model(0)
    d = small_model(1).state_dict()
    del d["3.bias"]
    d["extra"] = np.zeros(1)
    result = m.load_state_dict(d, strict=False)
    assert result.missing_keys == ["3.bias"] and result.unexpected_keys == ["extra"]
    np.testing.assert_array_equal(m[0].weight.data, d["0.weight"])
    d["0.weight"] = np.zeros((6, 4))
    with pytest.raises(ValueError, match=r"'0.weight' has shape \(6, 4\) in the dict but \(4, 6\)"):
        m.load_state_dict(d, strict=False)
    with pytest.raises(ValueError, match="'0.weight' has dtype <U1"):
        m.load_state_dict({**d, "0.weight": np.full((4, 6), "a")}, strict=False)


# ============================================================== saving


def test_save_load_round_trip_reproduces_predictions_exactly(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 4)), rng.integers(0, 3, size=32)
    model = small_model(0)
    opt = optim.GradientDescent(model.parameters(), lr=0.1)
    for _ in range(20):
        opt.minimize(lambda: nn.softmax_cross_entropy(model(x), y))
    model.eval()
    with no_grad():
        expected = model(x).numpy()
    path = tmp_path / "model.npz"
    nn.save(model, path)
    assert os.listdir(tmp_path) == ["model.npz"]  # written atomically: no temporary file left behind
    fresh = small_model(1).eval()
    assert nn.load(fresh, path) is fresh
    with no_grad():
        np.testing.assert_array_equal(fresh(x).numpy(), expected)
        np.testing.assert_array_equal(fresh(x[:1]).numpy(), expected[:1])  # one example, eval mode
    np.testing.assert_array_equal(fresh[1].running_var, model[1].running_var)
    nn.save(fresh, str(path))  # overwriting an existing file works too
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]


def test_load_into_another_architecture_names_the_file_and_keys(tmp_path):
    path = tmp_path / "m.npz"
    nn.save(small_model(), path)
    other = nn.Sequential(nn.Dense(4, 6), nn.ReLU())
    with pytest.raises(ValueError, match=r"(?s)nn.load\('.*m.npz'\).*missing keys.*'0.bias'") as info:
        nn.load(other, path)
    assert "'1.gamma'" in str(info.value) and "unexpected" in str(info.value)


def test_load_refuses_object_arrays_and_non_npz_files(tmp_path):
    evil = tmp_path / "evil.npz"
    np.savez(evil, **{"0.weight": np.array([{"a": 1}, None], dtype=object)})  # needs pickle to load
    with pytest.raises(ValueError, match="object arrays.*refusing to unpickle"):
        nn.load(small_model(), evil)
    text = tmp_path / "notes.npz"
    text.write_text("not a zip")
    with pytest.raises(ValueError, match="not a .npz file"):
        nn.load(small_model(), text)
    with pytest.raises(FileNotFoundError):
        nn.load(small_model(), tmp_path / "missing.npz")
    with pytest.raises(TypeError, match="build the model first"):
        nn.load(str(evil), evil)
