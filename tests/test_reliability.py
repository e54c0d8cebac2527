"""No silently wrong gradient, no lost weight, no leak: in-place changes, augmented operators,
special points of derivatives, fused losses, threads, reference cycles, user ops, loaded
checkpoints, pickling, and the debugging tool for NaN gradients."""

from __future__ import annotations

import copy
import gc
import pickle
import re
import threading
import warnings

import numpy as np
import pytest

import autograd_core as ag
import nn
import optim
from autograd_core import Tensor
from autograd_core.testing import gradcheck, gradgradcheck

# ============================================================== changed-in-place detection

VERSION_ERROR = r"multiply: its input 0 \(shape \(2,\)\).*changed in place.*version 1 now.*saved version 0"


def test_an_in_place_change_under_no_grad_is_refused_before_any_grad_changes():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    with ag.no_grad():
        x += 1
    with pytest.raises(RuntimeError, match=VERSION_ERROR):
        y.backward(retain_graph=True)
    assert x.grad is None
    with ag.no_grad():
        x -= 1
    with pytest.raises(RuntimeError, match="version 2 now"):  # versions count changes, not values
        y.backward()
    assert x.grad is None


def test_item_assignment_and_a_detached_alias_bump_the_shared_version():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    with ag.no_grad():
        x[0] = 5
    assert x._version == 1
    with pytest.raises(RuntimeError, match="changed in place"):
        y.backward()

    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    d = x.detach()
    d += 1  # d does not require grad: in place, even in grad mode
    assert d._version == x._version == 1  # one counter for the memory they share
    with pytest.raises(RuntimeError, match="changed in place"):
        y.backward()


def test_views_share_the_version_of_their_memory():
    x = Tensor(np.arange(6.0), requires_grad=True)
    v = x.reshape(2, 3)
    y = (v * v).sum()
    with ag.no_grad():
        x += 1
    assert v._version == 1
    with pytest.raises(RuntimeError, match="changed in place"):
        y.backward()
    # ... and the other way round: a change through a view is a change of the base.
    x = Tensor(np.arange(6.0), requires_grad=True)
    y = (x * x).sum()
    with ag.no_grad():
        x[1:3] += 1  # item assignment of a slice
    with pytest.raises(RuntimeError, match="changed in place"):
        y.backward()


def test_an_optimizer_step_between_two_backward_passes_of_a_retained_graph_is_refused():
    w = nn.Parameter(np.array([1.0, 2.0]))
    opt = optim.GradientDescent([w], lr=0.1)
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    opt.step()
    assert w._version == 1
    before = w.grad.copy()
    with pytest.raises(RuntimeError, match="multiply.*changed in place.*opt.step\\(\\) after loss.backward\\(\\)"):
        loss.backward()
    np.testing.assert_array_equal(w.grad, before)  # nothing accumulated


def test_a_changed_output_is_detected_by_the_op_that_saved_it():
    x = Tensor([0.0, 1.0], requires_grad=True)
    e = x.exp()  # exp's derivative reads its output
    y = e.sum()
    with ag.no_grad():
        e *= 2
    with pytest.raises(RuntimeError, match="exp: its output"):
        y.backward()


def test_ops_that_do_not_read_a_changed_value_still_work():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x + 1).sum()  # add's derivative does not read x
    with ag.no_grad():
        x += 1
    y.backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0])


def test_load_state_dict_and_batchnorm_running_statistics_bump_versions():
    layer = nn.Dense(2, 2, rng=0)
    loss = (layer(np.ones((3, 2))) ** 2).sum()
    layer.load_state_dict(nn.Dense(2, 2, rng=1).state_dict())
    with pytest.raises(RuntimeError, match="dense: its input 1"):
        loss.backward()
    bn = nn.BatchNorm(2)
    before = bn.running_mean._version if hasattr(bn.running_mean, "_version") else None
    assert before is None  # buffers are plain arrays ...
    from autograd_core import versions

    bn(np.random.default_rng(0).normal(size=(4, 2)))
    assert versions.version(bn.running_mean) == 1  # ... whose memory is versioned all the same


def test_training_loops_pay_no_check_and_raise_nothing():
    w = nn.Parameter(np.array([0.5, -0.5]))
    opt = optim.Adam([w], lr=0.1)
    for _ in range(5):
        opt.minimize(lambda: ((w - 3) ** 2).sum())
    assert w._version == 5


# ============================================================== augmented operators


@pytest.mark.parametrize("op", ["+=", "-=", "*=", "/=", "**=", "@="])
def test_augmented_operators_keep_the_parameter_under_no_grad(op):
    model = nn.Dense(2, 2, rng=0)
    w = model.weight
    before = w.data.copy()
    other = np.eye(2) * 2 if op == "@=" else 2.0
    with ag.no_grad():
        if op == "+=":
            model.weight += other
        elif op == "-=":
            model.weight -= other
        elif op == "*=":
            model.weight *= other
        elif op == "/=":
            model.weight /= other
        elif op == "**=":
            model.weight **= other
        else:
            model.weight @= other
    assert model.weight is w and type(w) is nn.Parameter
    expected = {"+=": before + 2, "-=": before - 2, "*=": before * 2, "/=": before / 2, "**=": before**2}
    np.testing.assert_allclose(w.data, expected[op] if op != "@=" else before @ other)
    np.testing.assert_array_equal(model.state_dict()["weight"], w.data)
    assert w._version == 1


@pytest.mark.parametrize("op", ["+=", "-=", "*=", "/=", "**=", "@="])
def test_augmented_operators_on_a_leaf_that_requires_grad_raise_in_grad_mode(op):
    w = nn.Parameter(np.eye(2))
    with pytest.raises(RuntimeError, match=re.escape(f"in-place {op} on a leaf tensor that requires grad")):
        exec(f"w {op} np.eye(2)", {"w": w, "np": np})


def test_in_place_matmul_that_changes_the_shape_is_refused():
    x = Tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"in-place @=.*shape \(2, 4\), not the tensor's \(2, 3\)"):
        x @= np.ones((3, 4))


def test_in_place_with_a_tracked_operand_records_instead_of_dropping_the_gradient():
    w = Tensor([1.0, 2.0], requires_grad=True)
    x = Tensor([0.0, 0.0])
    x += w * 3  # x does not require grad, but what is added does: recorded, x rebound
    assert x.requires_grad
    x.sum().backward()
    np.testing.assert_array_equal(w.grad, [3.0, 3.0])
    with pytest.raises(RuntimeError, match="item assignment is not recorded"):
        Tensor([0.0, 0.0])[0] = w[0]


# ============================================================== special points


def test_power_zero_has_gradient_zero_at_zero():
    x = Tensor([0.0, 2.0], requires_grad=True)
    (x**0).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])
    x.grad = None
    (x ** np.array([0.0, 1.0])).sum().backward()  # an array exponent, broadcast
    np.testing.assert_array_equal(x.grad, [0.0, 1.0])
    x = Tensor([[0.0], [3.0]], requires_grad=True)
    (x ** np.array([0.0, 1.0, 2.0])).sum().backward()  # broadcast to (2, 3)
    np.testing.assert_array_equal(x.grad, [[1.0], [1.0 + 6.0]])


def test_power_of_a_tensor_exponent_of_zero_and_second_derivatives_at_zero():
    x = Tensor(0.0, requires_grad=True)
    p = Tensor(0.0, requires_grad=True)
    (x**p).backward()
    assert x.grad == 0.0 and np.isfinite(p.grad)
    d = ag.grad(lambda t: t**1)
    assert d(0.0).item() == 1.0  # d/dx x = 1 at 0
    assert ag.grad(d)(0.0).item() == 0.0
    assert ag.grad(ag.grad(lambda t: t**2))(0.0).item() == 2.0


# ============================================================== fused losses, second derivatives


def _primitive_cross_entropy(z, y):
    return -(y * ag.log_softmax(z, axis=-1)).sum() / z.shape[0]


def test_softmax_cross_entropy_second_derivatives_match_the_primitive_composition():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(3, 4))
    y = rng.dirichlet(np.ones(4), size=3)
    for argnums in [(0,), (1,), (0, 1)]:

        def hessian_vector(f, argnums=argnums):
            v = [np.random.default_rng(1).normal(size=a.shape) for a in (z, y)]
            zt, yt = Tensor(z, requires_grad=True), Tensor(y, requires_grad=True)
            args = (zt, yt)
            gs = ag.gradients(f(zt, yt), [args[i] for i in argnums], create_graph=True)
            inner = sum((g * v[i]).sum() for g, i in zip(gs, argnums))
            return [g.numpy() for g in ag.gradients(inner, [zt, yt])]

        fused = hessian_vector(nn.softmax_cross_entropy)
        primitive = hessian_vector(_primitive_cross_entropy)
        for a, b in zip(fused, primitive):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    assert gradgradcheck(nn.softmax_cross_entropy, z, y)


def test_binary_cross_entropy_second_derivatives_match_the_primitive_composition():
    rng = np.random.default_rng(0)
    z, y = rng.normal(size=(5,)), rng.uniform(size=(5,))
    assert gradgradcheck(nn.binary_cross_entropy, z, y)


# ============================================================== threads


def test_concurrent_backward_into_a_shared_leaf_loses_nothing():
    w = Tensor(np.zeros(200_000), requires_grad=True)
    n_threads, rounds = 4, 10
    barrier = threading.Barrier(n_threads)

    def work():
        barrier.wait()
        for _ in range(rounds):
            (w * 1.0).sum().backward()

    threads = [threading.Thread(target=work) for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    np.testing.assert_array_equal(w.grad, np.full(200_000, n_threads * rounds))


# ============================================================== reference cycles


def _collected_after(loop) -> int:
    gc.collect()
    gc.disable()
    try:
        loop()
        return gc.collect()
    finally:
        gc.enable()


def test_retain_grad_makes_no_reference_cycle():
    x = Tensor(np.ones((50, 50)), requires_grad=True)

    def loop():
        for _ in range(200):
            h = (x * 2).tanh()
            h.retain_grad()
            (h * h).sum().backward()
            assert h.grad is not None

    assert _collected_after(loop) == 0


def test_common_loops_make_no_reference_cycles():
    rng = np.random.default_rng(0)
    xb, yb = rng.normal(size=(16, 4)), rng.integers(0, 3, size=16)
    model = nn.Sequential(nn.Dense(4, 8, rng=0), nn.BatchNorm(8), nn.ReLU(), nn.Dense(8, 3, rng=1))
    opt = optim.Adam(model.parameters())
    v = np.ones(5)

    def fine():
        for _ in range(20):
            opt.minimize(lambda: nn.softmax_cross_entropy(model(xb), yb))
            hvp = ag.grad(lambda t: (ag.grad(lambda s: (s.tanh() ** 2).sum())(t) * v).sum())(v)
            assert hvp.shape == (5,)
            model.eval()
            with ag.no_grad():
                model(xb)
            model.train()

    assert _collected_after(fine) == 0


# ============================================================== user ops' gradients are checked


class _WrongShape(ag.Function):
    def forward(self, x):
        return x * 2

    def backward(self, g, out, x):
        return np.ones(5)


class _FloatGradient(ag.Function):
    def forward(self, x):
        return x * 2

    def backward(self, g, out, x):
        return 2.0


class _ComplexGradient(ag.Function):
    def forward(self, x):
        return x * 2

    def backward(self, g, out, x):
        return g * (2 + 1j)


def test_a_user_gradient_of_the_wrong_shape_is_refused():
    x = Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match=r"_wrongshape: backward returned a gradient of shape \(5,\) for input 0 "):
        _WrongShape.apply(x).sum().backward()
    assert x.grad is None


class _FewerAxes(ag.Function):
    def forward(self, x):
        return x * 2

    def backward(self, g, out, x):
        return g[:, 0]  # shape (3,) for an input of shape (3, 4): broadcasts to nothing


def test_a_user_gradient_with_fewer_axes_that_does_not_broadcast_is_refused_by_name():
    x = Tensor(np.ones((3, 4)), requires_grad=True)
    with pytest.raises(ValueError, match=r"_feweraxes: backward returned a gradient of shape \(3,\) for input 0 "):
        _FewerAxes.apply(x).sum().backward()
    assert x.grad is None


def test_a_user_gradient_that_is_not_an_array_is_refused():
    x = Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(TypeError, match=r"_floatgradient: backward returned a float as the gradient of input 0"):
        _FloatGradient.apply(x).sum().backward()
    with pytest.raises(TypeError, match=r"_complexgradient: backward returned a gradient of dtype complex128"):
        _ComplexGradient.apply(x).sum().backward()


# ============================================================== clip's bounds


def test_clip_gives_bounds_that_require_grad_their_gradient():
    x = Tensor([-2.0, 0.0, 0.5, 1.0, 3.0], requires_grad=True)
    lo = Tensor(0.0, requires_grad=True)
    hi = Tensor(1.0, requires_grad=True)
    y = ag.clip(x, lo, hi)
    np.testing.assert_array_equal(y.data, [0.0, 0.0, 0.5, 1.0, 1.0])
    (y * Tensor([1.0, 2.0, 3.0, 4.0, 5.0])).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 2.0, 3.0, 4.0, 0.0])  # inside and on the bounds
    assert lo.grad == 1.0 and hi.grad == 5.0
    rng = np.random.default_rng(0)
    assert gradcheck(lambda a, b, c: ag.clip(a, b, c).sum(), rng.normal(size=6), -0.3, np.full(6, 0.4))
    assert gradgradcheck(lambda a, b, c: (ag.clip(a, b, c) ** 2).sum(), rng.normal(size=6), -0.3, 0.4)


# ============================================================== loaded optimizer state


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("state.0.step", np.array(-1), "'state.0.step' must be a non-negative whole number, got -1"),
        ("state.0.step", np.array(2.7), "'state.0.step' must be a non-negative whole number, got 2.7"),
        ("state.0.step", np.array(np.inf), "'state.0.step' must be a non-negative whole number"),
        ("state.0.s", np.array([-1.0, 0.0]), "'state.0.s' holds negative values"),
        ("state.0.v", np.array([np.nan, 0.0]), "'state.0.v' holds NaN or infinity"),
        ("state.0.v", np.array(["a", "b"]), "'state.0.v' has dtype <U1"),
        ("groups.0.lr", np.array(-0.1), "lr must be a non-negative finite number"),
        ("groups.0.beta1", np.array(1.5), r"beta1 must be in \[0, 1\)"),
        ("groups.0.size", np.array(1.5), "'groups.0.size' must be a non-negative whole number"),
        ("params.0.shape", np.array([2.5]), "'params.0.shape' must be a non-negative whole number"),
    ],
)
def test_optim_load_validates_every_field(tmp_path, key, value, message):
    w = nn.Parameter(np.ones(2))
    opt = optim.Adam([w], lr=0.1)
    opt.minimize(lambda: (w * w).sum())
    state = opt.state_dict()
    state[key] = value
    np.savez(tmp_path / "opt.npz", **state)
    fresh = optim.Adam([w], lr=0.1)
    with pytest.raises(ValueError, match=message):
        optim.load(fresh, tmp_path / "opt.npz")
    assert fresh.state[0]["step"] == 0  # nothing changed


def test_schedule_and_module_loads_validate_their_fields():
    opt = optim.GradientDescent([nn.Parameter(np.ones(2))], lr=0.1)
    schedule = optim.ExponentialDecay(opt, rate=0.5)
    state = schedule.state_dict()
    with pytest.raises(ValueError, match="'epoch' must be a whole number, got 2.5"):
        schedule.load_state_dict({**state, "epoch": np.array(2.5)})
    with pytest.raises(ValueError, match="lr must be a non-negative finite number"):
        schedule.load_state_dict({**state, "base_lrs": np.array([np.nan])})
    assert schedule.epoch == 1 and schedule.base_lr == 0.1
    model = nn.Sequential(nn.Dense(2, 2), nn.BatchNorm(2))
    state = model.state_dict()
    with pytest.raises(ValueError, match="'0.weight' holds NaN or infinity"):
        model.load_state_dict({**state, "0.weight": np.full((2, 2), np.inf)})
    with pytest.raises(ValueError, match="'1.running_var' holds negative values"):
        model.load_state_dict({**state, "1.running_var": np.array([1.0, -1.0])})


# ============================================================== smaller ones


def test_max_over_a_slice_with_nan_sends_the_gradient_to_the_nan_only():
    x = Tensor([[1.0, np.nan, 3.0], [1.0, 2.0, 3.0]], requires_grad=True)
    x.max(axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad, [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    x.grad = None
    x.min().backward()
    np.testing.assert_array_equal(x.grad, [[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])


def test_no_grad_on_a_generator_holds_inside_it_but_not_in_the_caller():
    w = Tensor(1.0, requires_grad=True)
    seen = []

    @ag.no_grad()
    def steps():
        for _ in range(2):
            seen.append(ag.is_grad_enabled())
            received = yield w * 2
            seen.append(received)
        return "done"

    gen = steps()
    first = next(gen)
    assert not first.requires_grad and ag.is_grad_enabled()  # the caller's mode between steps
    assert gen.send("hello").requires_grad is False
    with pytest.raises(StopIteration) as stop:
        gen.send("bye")
    assert stop.value.value == "done"
    assert seen == [False, "hello", False, "bye"]


def test_a_complex_seed_gradient_is_refused():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(TypeError, match="grad must hold real numbers, got dtype complex128; casting would"):
            (x * 2).backward(np.array([1 + 1j, 1.0]))


def test_a_hand_set_gradient_of_the_wrong_shape_is_refused_by_the_optimizer():
    w = nn.Parameter(np.ones(3))
    opt = optim.GradientDescent([w], lr=0.1)
    w.grad = np.ones(1)
    with pytest.raises(ValueError, match=r"params\[0\] has shape \(3,\) but its .grad has shape \(1,\)"):
        opt.step()
    w.grad = [1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="its .grad has type list"):
        opt.step()
    np.testing.assert_array_equal(w.data, np.ones(3))


@pytest.mark.parametrize("label", [np.inf, 1e20, -np.inf])
def test_huge_labels_are_reported_as_they_are(label):
    with pytest.raises(ValueError, match=re.escape(f"label {label!r} at position 1 is out of range for 3 classes")):
        nn.softmax_cross_entropy(np.zeros((2, 3)), np.array([0.0, label]))


def test_requires_grad_must_be_a_bool():
    with pytest.raises(TypeError, match="requires_grad must be True or False, got 'no'"):
        Tensor(1.0, requires_grad="no")
    assert Tensor(1.0, requires_grad=np.True_).requires_grad is True


def test_every_loss_of_an_empty_batch_is_nan():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's "mean of empty slice" for mse
        assert np.isnan(nn.mse(np.zeros((0, 2)), np.zeros((0, 2))).item())
    assert np.isnan(nn.binary_cross_entropy(np.zeros(0), np.zeros(0)).item())
    assert np.isnan(nn.softmax_cross_entropy(np.zeros((0, 3)), np.zeros(0, dtype=int)).item())
    z = Tensor(np.zeros((0, 3)), requires_grad=True)
    nn.softmax_cross_entropy(z, np.zeros((0, 3))).backward()
    assert z.grad.shape == (0, 3)


def test_a_list_of_tracked_tensors_is_not_silently_made_constant():
    w = Tensor(1.0, requires_grad=True)
    with pytest.raises(TypeError, match="add: a list holding Tensors that require grad"):
        ag.add(Tensor([1.0, 2.0]), [w, w])


# ============================================================== pickling keeps no graph


def test_pickle_and_deepcopy_keep_data_grad_flags_and_name_but_never_the_graph():
    big = Tensor(np.ones(1_000_000), requires_grad=True)
    y = (big * 2).sum()
    assert len(pickle.dumps(y)) < 1000  # not the 16 MB of the graph's saved arrays
    w = nn.Parameter(np.arange(3.0), name="w")
    w.grad = np.ones(3)
    for again in (pickle.loads(pickle.dumps(w)), copy.deepcopy(w)):
        assert type(again) is nn.Parameter and again.name == "w" and again.requires_grad
        np.testing.assert_array_equal(again.data, w.data)
        np.testing.assert_array_equal(again.grad, w.grad)
        assert again.data is not w.data
    z = copy.deepcopy(y)
    assert z.is_leaf and z.requires_grad and z.item() == 2_000_000
    model = pickle.loads(pickle.dumps(nn.Sequential(nn.Dense(2, 2, rng=0))))
    assert model(np.ones((1, 2))).shape == (1, 2)


# ============================================================== detect_anomaly


def test_detect_anomaly_names_the_op_the_input_and_the_users_line():
    x = Tensor([0.0, 1.0], requires_grad=True, name="x")
    with np.errstate(divide="ignore"), ag.detect_anomaly():
        y = x.sqrt().sum()  # the line the error must name
        line = test_detect_anomaly_names_the_op_the_input_and_the_users_line.__code__.co_firstlineno + 3
        with pytest.raises(FloatingPointError) as err:
            y.backward()
    message = str(err.value)
    assert message.startswith("sqrt: its backward produced infinity in the gradient of input 0 ('x'), shape (2,)")
    assert f"test_reliability.py:{line}, in test_detect_anomaly" in message
    assert "y = x.sqrt().sum()" in message


def test_detect_anomaly_finds_the_first_nan_and_costs_nothing_outside():
    x = Tensor([-1.0, 1.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # sqrt(-1)
        z = (x.sqrt() * 0).sum()  # multiply's gradient is fine; sqrt's is 0 / (2·NaN) = NaN
        assert z._node.trace is None  # outside the mode nothing is remembered
        with ag.detect_anomaly():
            w = (x.sqrt() * 0).sum()
            assert w._node.trace is not None
            with pytest.raises(FloatingPointError, match="sqrt: its backward produced NaN in the gradient of input 0"):
                w.backward()

    @ag.detect_anomaly()
    def decorated():
        return ag.is_grad_enabled(), ag.anomaly.active

    assert decorated() == (True, True)
    assert not ag.anomaly.active
    z.backward()  # outside: no check, NaN or not
    assert np.isnan(x.grad[0]) and x.grad[1] == 0


def test_ops_on_small_integer_arrays_give_the_default_float_not_float16():
    for data in (np.array([1, 2], np.uint8), np.array([1], np.int16), np.array([True, False])):
        assert ag.exp(data).dtype == ag.sqrt(data).dtype == ag.add(data, data).dtype == np.float64
    assert ag.exp(Tensor(np.ones(2, np.float16))).dtype == np.float16  # asked for: kept


def test_gradients_of_a_tensor_with_respect_to_itself_are_fresh_writable_arrays():
    y = Tensor(2.0, requires_grad=True)
    for out in (y, y * 3):
        (g,) = ag.gradients(out, [out])
        g.data += 1  # the caller's own array: changing it changes no later gradient
    (g,) = ag.gradients(y * 3, [y])
    assert g.item() == 3.0
    (g,) = ag.gradients(y, [y])
    assert g.item() == 1.0
