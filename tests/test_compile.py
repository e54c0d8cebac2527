"""``ag.compile``: the contract (../shared/API.md, "Static graphs"), case by case.

Every "never stale" test is a case that would be silently wrong without its guard or its read
at every call: it changes the state between calls and compares with eager code."""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np
import pytest

import autograd_core as ag
import nn
import optim
from autograd_core import Tensor
from autograd_core.compiler import CompiledFunction, CompileWarning

HERE = __file__


def walkthrough() -> tuple[Tensor, optim.Optimizer, Any]:
    w = Tensor(0.0, requires_grad=True, name="w")
    train = optim.GradientDescent([w], lr=0.01)
    cost = lambda x: x[0][0] * w**2 + x[1][0] * w + x[2][0]  # noqa: E731
    return w, train, cost


COEFFICIENTS = np.array([[1.0], [-10.0], [25.0]])


# ============================================================== the function and the decorator


def test_compile_a_function_and_as_a_decorator() -> None:
    w, train, cost = walkthrough()
    step = ag.compile(lambda x: train.minimize(lambda: cost(x)))
    assert isinstance(step, CompiledFunction) and step.traces == 0 and step.source == ""
    losses = [step(COEFFICIENTS) for _ in range(3)]
    assert losses == [25.0, 24.01, 23.059204] and step.traces == 1
    assert "def run(a0):" in step.source and "# GradientDescent.step(), written out" in step.source
    assert "w.data -= group['lr'] * " in step.source  # its py_update

    @ag.compile
    def square(x: Tensor) -> Tensor:
        return x * x

    @ag.compile(max_traces=2)
    def cube(x: Tensor) -> Tensor:
        return x * x * x

    np.testing.assert_array_equal(square(np.array([3.0])).data, [9.0])
    np.testing.assert_array_equal(cube(np.array([2.0])).data, [8.0])
    assert cube.max_traces == 2 and square.__name__ == "square"
    assert ag.compile(square) is square


def test_bad_arguments_to_compile() -> None:
    with pytest.raises(TypeError, match="ag.compile: fn must be callable"):
        ag.compile(3)
    with pytest.raises(ValueError, match="max_traces must be a positive integer"):
        ag.compile(lambda: None, max_traces=0)


def _walkthrough_run(compiled: bool) -> tuple[list[float], bytes, bytes]:
    w, train, cost = walkthrough()
    f = lambda x: train.minimize(lambda: cost(x))  # noqa: E731
    step = ag.compile(f) if compiled else lambda x: f(Tensor(x))
    losses = [step(COEFFICIENTS) for _ in range(1000)]
    return losses, w.data.tobytes(), w.grad.tobytes()


def test_the_walkthrough_compiled_is_eagers_bytes_for_a_thousand_steps() -> None:
    eager, compiled = _walkthrough_run(False), _walkthrough_run(True)
    assert compiled == eager
    assert abs(compiled[0][-1]) < 1e-6  # cost → 0 at w = 5


# ============================================================== inputs: what traces again, what reuses


def test_a_new_shape_or_dtype_traces_again_and_a_new_value_reuses_the_program() -> None:
    calls = []

    def f(x: Tensor) -> Tensor:
        calls.append(x.shape)  # a Python side effect: at trace time only
        return (x * 2).sum()

    step = ag.compile(f)
    assert step(np.ones(3)).item() == 6.0
    assert step(np.arange(3.0)).item() == 6.0 and step.traces == 1  # new values: the same program
    assert step(np.ones(4)).item() == 8.0 and step.traces == 2  # a new shape
    assert step(np.ones(4, dtype=np.float32)).dtype == np.float32 and step.traces == 3  # a new dtype
    assert step(np.full(3, 2.0)).item() == 12.0 and step.traces == 3  # the first program again
    assert calls == [(3,), (4,), (4,)]


def test_python_values_are_part_of_the_program() -> None:
    step = ag.compile(lambda x, k, mode: x * k if mode == "scale" else x + k)
    x = np.array([1.0, 2.0])
    np.testing.assert_array_equal(step(x, 3.0, "scale").data, [3.0, 6.0])
    np.testing.assert_array_equal(step(x, 3.0, "shift").data, [4.0, 5.0])
    np.testing.assert_array_equal(step(x, 5.0, "scale").data, [5.0, 10.0])
    np.testing.assert_array_equal(step(x, 3.0, "scale").data, [3.0, 6.0])
    assert step.traces == 3  # (3.0, "scale") was seen before
    np.testing.assert_array_equal(step(x, 3, "scale").data, [3.0, 6.0])
    assert step.traces == 4  # an int is another value than a float


def test_arguments_inside_tuples_lists_and_dicts() -> None:
    step = ag.compile(lambda batch: batch["x"] * batch["scales"][0] + batch["scales"][1])
    a = step({"x": np.ones(2), "scales": (2.0, np.array([1.0, -1.0]))})
    b = step({"x": np.full(2, 3.0), "scales": (2.0, np.array([0.0, 0.0]))})
    np.testing.assert_array_equal(a.data, [3.0, 1.0])
    np.testing.assert_array_equal(b.data, [6.0, 6.0])
    assert step.traces == 1


def test_max_traces_warns_naming_the_argument_that_keeps_changing_and_goes_on() -> None:
    step = ag.compile(lambda x, n: x * n, max_traces=3)
    x = np.ones(2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for n in range(3):
            step(x, float(n))
    with pytest.warns(CompileWarning, match="traced 4 times.*argument 'n' keeps changing"):
        out = step(x, 3.0)
    np.testing.assert_array_equal(out.data, [3.0, 3.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once
        np.testing.assert_array_equal(step(x, 4.0).data, [4.0, 4.0])


def test_an_array_argument_is_a_tensor_so_indexing_it_is_recorded() -> None:
    seen = []
    step = ag.compile(lambda x: seen.append(type(x)) or x[0][0] * 2)
    assert step(np.array([[1.0], [2.0]])).item() == 2.0
    assert step(np.array([[5.0], [2.0]])).item() == 10.0  # not frozen at 1.0
    assert issubclass(seen[0], Tensor) and not step(np.zeros((2, 1))).requires_grad


def test_integer_arrays_reach_the_function_as_arrays() -> None:
    emb = nn.Embedding(10, 2, rng=0)
    step = ag.compile(lambda i: emb(i).sum(axis=-1))
    for idx in ([1, 2, 3], [9, 0, 9]):
        np.testing.assert_array_equal(step(np.array(idx)).data, emb.weight.data[idx].sum(axis=-1))
    assert step.traces == 1


# ============================================================== never stale


def _eager_and_compiled(make: Any, calls: Any) -> None:
    """Run ``calls(state, step)`` on two copies of the state, eagerly and compiled, and compare the
    outputs and every array the state holds, as bytes."""
    results = []
    for compiled in (False, True):
        state, f = make()
        step = ag.compile(f) if compiled else CompiledFunction(f, 8).eager
        outs = calls(state, step)
        results.append((_as_bytes(outs), _as_bytes(state)))
    assert results[0] == results[1]


def _as_bytes(x: Any) -> Any:
    if isinstance(x, Tensor):
        return ("T", x.data.dtype.str, x.data.tobytes(), None if x.grad is None else x.grad.tobytes())
    if isinstance(x, np.ndarray):
        return ("A", x.dtype.str, x.tobytes())
    if isinstance(x, nn.Module):
        return _as_bytes(x.state_dict())
    if isinstance(x, optim.Optimizer):
        return _as_bytes(x.state_dict())
    if isinstance(x, dict):
        return {k: _as_bytes(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_as_bytes(v) for v in x]
    if isinstance(x, np.random.Generator):
        return repr(x.bit_generator.state)
    return repr(x)


def _mlp(dropout: float = 0.0) -> tuple[dict[str, Any], Any]:
    model = nn.Sequential(nn.Dense(4, 8, rng=0), nn.BatchNorm(8), nn.ReLU(), nn.Dropout(dropout, rng=3),
                          nn.Dense(8, 3, rng=1))  # fmt: skip
    opt = optim.Adam(model.parameters(), lr=0.01)
    state = {"model": model, "opt": opt}
    return state, lambda x, y: opt.minimize(lambda: nn.softmax_cross_entropy(model(x), y))


def _batch(i: int, n: int = 6) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(i)
    return rng.normal(size=(n, 4)), rng.integers(0, 3, size=n)


def test_parameters_changed_between_calls_are_read_at_every_call() -> None:
    def calls(state: dict[str, Any], step: Any) -> list[Any]:
        out = [step(*_batch(0))]
        with ag.no_grad():
            state["model"][0].weight *= 0.5  # changed outside the function
        state["model"][4].bias.data[...] = 1.0  # behind the library's back, in place: still read
        out.append(step(*_batch(1)))
        state["model"].load_state_dict({k: v + 0.1 for k, v in state["model"].state_dict().items()})
        out.append(step(*_batch(2)))
        return out

    _eager_and_compiled(_mlp, calls)


def test_captured_arrays_are_read_at_every_call() -> None:
    def make() -> tuple[dict[str, Any], Any]:
        w = Tensor(np.ones(3), requires_grad=True)
        offsets = np.array([1.0, 2.0, 3.0])
        opt = optim.SGD([w], lr=0.1)
        return {"w": w, "offsets": offsets}, lambda: opt.minimize(lambda: ((w - offsets) ** 2).sum())

    def calls(state: dict[str, Any], step: Any) -> list[Any]:
        out = [step()]
        state["offsets"][...] = [-1.0, 0.0, 5.0]  # the same array, new values
        out.append(step())
        return out

    _eager_and_compiled(make, calls)


def test_learning_rates_set_between_calls_and_schedules_are_read() -> None:
    def calls(state: dict[str, Any], step: Any) -> list[Any]:
        opt = state["opt"]
        out = [step(*_batch(0))]
        opt.lr = 0.5
        out.append(step(*_batch(1)))
        schedule = optim.ExponentialDecay(opt, rate=0.5)
        for i in range(3):
            out.append(step(*_batch(2 + i)))
            schedule.step()
        opt.param_groups[0]["beta1"] = 0.5  # any hyperparameter: the update reads it
        out.append(step(*_batch(9)))
        return out

    _eager_and_compiled(_mlp, calls)


def test_train_and_eval_mode_trace_again() -> None:
    def calls(state: dict[str, Any], step: Any) -> list[Any]:
        model = state["model"]
        out = [step(*_batch(0))]
        model.eval()  # BatchNorm's running statistics, no dropout, no running average update
        out.append(step(*_batch(1)))
        model[1].train()  # mixed modes
        out.append(step(*_batch(2)))
        model.train()
        out.append(step(*_batch(3)))
        return out

    _eager_and_compiled(lambda: _mlp(dropout=0.5), calls)


def test_requires_grad_of_a_captured_tensor_traces_again() -> None:
    def make() -> tuple[dict[str, Any], Any]:
        a = Tensor(np.array([1.0, 2.0]), requires_grad=True)
        b = Tensor(np.array([3.0, 4.0]), requires_grad=True)

        def f() -> Any:
            a.grad = b.grad = None
            loss = (a * b).sum()
            loss.backward()
            return loss

        return {"a": a, "b": b}, f

    def calls(state: dict[str, Any], step: Any) -> list[Any]:
        out = [step()]
        state["b"].requires_grad = False  # b gets no gradient now
        out.append(step())
        out.append((state["a"].grad, state["b"].grad))
        return out

    _eager_and_compiled(make, calls)


def test_dropouts_p_and_the_generator_state() -> None:
    def calls(state: dict[str, Any], step: Any) -> list[Any]:
        out = [step(*_batch(i)) for i in range(3)]
        state["model"][3].p = 0.0  # no draw at all now
        out += [step(*_batch(3)), state["model"][3].rng]
        state["model"][3].p = 0.9
        out += [step(*_batch(4)), state["model"][3].rng]
        return out

    _eager_and_compiled(lambda: _mlp(dropout=0.5), calls)


def test_a_parameter_given_another_shape_traces_again() -> None:
    w = Tensor(np.ones(3), requires_grad=True)
    step = ag.compile(lambda x: (x * w).sum())
    assert step(np.ones(3)).item() == 3.0
    w.data = np.ones(2)  # replaced, with another shape
    assert step(np.ones(2)).item() == 2.0 and step.traces == 2


# ============================================================== .grad of arguments, outputs


def test_argument_tensors_get_their_grad_as_eager_code_fills_it() -> None:
    def f(x: Tensor, w: Tensor) -> Tensor:
        loss = ((x * w) ** 2).sum()
        loss.backward()
        return loss

    step = ag.compile(f)
    w_e, w_c = Tensor([1.0, 2.0], requires_grad=True), Tensor([1.0, 2.0], requires_grad=True)
    for i in range(3):  # accumulates, as eager
        x = np.array([1.0, 3.0]) * (i + 1)
        f(Tensor(x), w_e)
        step(x, w_c)
        assert w_c.grad.tobytes() == w_e.grad.tobytes()
    other = Tensor([0.5, 0.5], requires_grad=True)  # another tensor of the same shape: the same program
    step(np.ones(2), other)
    np.testing.assert_array_equal(other.grad, [1.0, 1.0]) and step.traces == 1  # type: ignore[func-returns-value]


def test_outputs_have_fns_structure_carry_no_graph_and_floats_are_fresh() -> None:
    w = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    opt = optim.SGD([w], lr=0.1)

    def f(x: Tensor) -> dict[str, Any]:
        y = x * w
        loss = opt.minimize(lambda: (y * y).sum())
        return {"loss": loss, "pair": (y, x), "w": w, "n": 3, "label": "step"}

    step = ag.compile(f)
    first = step(np.array([1.0, 1.0]))
    second = step(np.array([2.0, 2.0]))
    assert set(first) == {"loss", "pair", "w", "n", "label"} and second["n"] == 3 and second["label"] == "step"
    assert type(first["loss"]) is float and first["loss"] == 5.0  # w = [1, -2], x = 1
    assert second["loss"] == 12.800000000000002  # fresh: w = [0.8, -1.6] after the first step, x = 2
    y, x = second["pair"]
    assert type(y) is Tensor and not y.requires_grad and y._node is None
    np.testing.assert_array_equal(y.data, [1.6, -3.2])
    np.testing.assert_array_equal(x.data, [2.0, 2.0])
    assert second["w"] is w  # a captured tensor: the object itself


# ============================================================== the library's checks, reads, errors


def test_the_losses_checks_are_made_at_every_call_naming_the_users_line() -> None:
    model = nn.Dense(4, 3, rng=0)
    step = ag.compile(lambda x, y: nn.softmax_cross_entropy(model(x), y))
    x = np.ones((2, 4))
    step(x, np.array([0, 2]))
    with pytest.raises(ValueError) as info:
        step(x, np.array([0, 7]))  # out of range: found on this call
    msg = str(info.value)
    assert "label 7 at position 1 is out of range for 3 classes" in msg
    assert f"{HERE}:" in msg and "nn.softmax_cross_entropy(model(x), y)" in msg


def test_reading_a_traced_value_to_steer_python_raises_naming_the_line() -> None:
    w = Tensor(1.0, requires_grad=True)
    cases = [
        lambda x: x * 2 if (x * w).sum().item() > 1 else x,
        lambda x: x * ((x * w).sum().item() * 2),  # a returned .item() is fresh; one computed with is not
        lambda x: x * float(x.sum()),
        lambda x: Tensor(np.asarray(x) + 1),
        lambda x: x.data * 2,
        lambda x: x * w.item(),  # a parameter's value: the program would hold it
    ]
    for f in cases:
        with pytest.raises(ag.TracingError) as info:
            ag.compile(f)(np.ones(2))
        assert isinstance(info.value, ValueError)
        line = int(re.search(rf"{re.escape(HERE)}:(\d+)", str(info.value)).group(1))
        assert line == f.__code__.co_firstlineno


def test_comparisons_are_recorded_not_frozen() -> None:
    step = ag.compile(lambda x: ag.where(x > 0, x, 0.1 * x))
    step(np.array([1.0, -1.0]))
    np.testing.assert_allclose(step(np.array([-2.0, 3.0])).data, [-0.2, 3.0])


def test_an_error_while_a_program_runs_names_the_op_and_the_users_line() -> None:
    emb = nn.Embedding(4, 2, rng=0)
    step = ag.compile(lambda i: emb(i) * 2)
    step(np.array([0, 3]))
    with pytest.raises(IndexError, match=r"index 9 at position \(1,\) is out of range.*" + re.escape(HERE)):
        step(np.array([0, 9]))


def test_python_side_effects_run_at_trace_time_only_as_documented() -> None:
    assert "Python side effects run at trace time only" in ag.compile.__doc__
    log: list[float] = []
    counter = {"n": 0}

    def f(x: Tensor) -> Tensor:
        log.append(1.0)  # runs when tracing
        counter["n"] += 1
        print("tracing")  # noqa: T201
        return x + 1

    step = ag.compile(f)
    for _ in range(5):
        step(np.ones(2))
    assert log == [1.0] and counter["n"] == 1
    step(np.ones(3))  # a new trace
    assert counter["n"] == 2


# ============================================================== source, traces, eager, drawing


def test_source_traces_and_eager() -> None:
    w, train, cost = walkthrough()
    step = ag.compile(lambda x: train.minimize(lambda: cost(x)))
    assert step.eager(COEFFICIENTS) == 25.0 and step.traces == 0  # run as it is: no program
    assert step(COEFFICIENTS) == 24.01 and step.traces == 1
    source = step.source
    assert "def run(a0):" in source and "a0[0]" in source and "w.data" in source and "accumulate(w," in source
    assert "test_compile.py" in source  # the user's lines, as comments
    compile(source, "<check>", "exec")  # it is Python


def test_draw_graph_of_a_compiled_function_in_both_notations() -> None:
    w, train, cost = walkthrough()
    step = ag.compile(lambda x: train.minimize(lambda: cost(x)))
    with pytest.raises(ValueError, match="not been called yet"):
        ag.draw_graph(step)
    step(COEFFICIENTS)
    values = ag.draw_graph(step).source
    ops = ag.draw_graph(step, labels="ops").source
    assert "label=getitem" in values and "requires grad" in values and "step" in values
    assert "[label=power]" in ops and "power'" in ops and "+= w.grad" in ops


# ============================================================== what the program may contain


class Cube(ag.Function):
    """A user's op: x³, d/dx = 3x²."""

    def forward(self, x):
        return x**3

    def backward(self, g, out, x):
        return g * 3 * x**2


def test_a_users_op_runs_as_calls_of_its_methods() -> None:
    def f(x: Tensor) -> Tensor:
        t = ag.tensor(x, requires_grad=True)
        (g,) = ag.gradients(Cube.apply(t).sum(), [t])
        return g

    step = ag.compile(f)
    step(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(step(np.array([3.0, -1.0])).data, [27.0, 3.0])
    assert "Cube()" in step.source and ".forward(" in step.source and ".backward(" in step.source


def test_a_users_optimizer_through_ag_effect_and_one_without_it() -> None:
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)

    def update(p: Tensor, lr: float) -> None:
        p.data -= lr * p.grad

    def with_effect(x: Tensor) -> Tensor:
        w.grad = None
        loss = (x * w * w).sum()
        loss.backward()
        ag.effect(update, w, 0.1)
        return loss

    step = ag.compile(with_effect)
    step(np.ones(2))
    step(np.ones(2))
    np.testing.assert_allclose(w.data, [1.0 * 0.8 * 0.8, 2.0 * 0.8 * 0.8])  # both steps made

    def without(x: Tensor) -> Tensor:
        loss = (x * w).sum()
        loss.backward()
        w.data -= 0.1 * w.grad  # NumPy on a gradient, behind the library's back
        return loss

    with pytest.raises(ag.TracingError, match=r"w.data -= lr \* w.grad.*w -= lr \* w.grad under ag.no_grad"):
        ag.compile(without)(np.ones(2))

    def in_place(x: Tensor) -> Tensor:
        nonlocal w
        w.grad = None
        loss = (x * w * w).sum()
        loss.backward()
        with ag.no_grad():
            w -= 0.1 * w.grad  # the classic update: recorded (a multiply, and an in-place change of w)
        return loss

    w.data[...] = [1.0, 2.0]
    step = ag.compile(in_place)
    step(np.ones(2))
    step(np.ones(2))
    np.testing.assert_allclose(w.data, [0.64, 1.28])


def test_a_tensors_data_is_read_again_after_an_effect() -> None:
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)

    def double(t: Tensor) -> None:
        t.data = t.data * 2  # a new array: what the program read of w before is not w's data any more

    def f(x: Tensor) -> tuple[Tensor, Tensor]:
        before = (x * w).sum()
        ag.effect(double, w)
        return before, (x * w).sum()

    step = ag.compile(f)
    for k in range(3):
        before, after = step(np.ones(2))
        assert (before.item(), after.item()) == (3.0 * 2**k, 3.0 * 2 ** (k + 1))


OPTIMIZERS = {
    "gd": lambda ps, wd: optim.GradientDescent(ps, lr=0.1, weight_decay=wd),
    "momentum": lambda ps, wd: optim.Momentum(ps, lr=0.1, beta=0.8, weight_decay=wd),
    "rmsprop": lambda ps, wd: optim.RMSprop(ps, lr=0.01, beta=0.9, weight_decay=wd),
    "adam": lambda ps, wd: optim.Adam(ps, lr=0.01, weight_decay=wd),
    "adamw": lambda ps, wd: optim.AdamW(ps, lr=0.01, weight_decay=wd),  # decoupled: its own update, called
}


def _two_layers(seed: int) -> list[Tensor]:
    rng = np.random.default_rng(seed)
    return [Tensor(rng.normal(size=s), requires_grad=True) for s in [(4, 3), (3,), (3, 1), ()]]


@pytest.mark.parametrize("wd", [0.0, 0.05])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_every_optimizer_with_and_without_weight_decay_is_eagers_bytes(name: str, wd: float) -> None:
    x = np.random.default_rng(1).normal(size=(8, 4))
    runs = []
    for compiled in (False, True):
        ps = _two_layers(0)
        opt = OPTIMIZERS[name](ps, wd)

        def step(x: Tensor, ps: list[Tensor] = ps, opt: optim.Optimizer = opt) -> float:
            return opt.minimize(lambda: ((x @ ps[0] + ps[1]).tanh() @ ps[2] + ps[3]).square().mean())

        run = ag.compile(step) if compiled else step
        losses = [run(x) for _ in range(30)]
        runs.append((losses, [p.data.tobytes() for p in ps], [p.grad.tobytes() for p in ps], opt.state_dict()))
        if compiled:
            assert run.traces == 1
            written_out = "update" not in run.source and "_step" not in run.source  # py_update written out
            assert written_out == (name != "adamw")  # AdamW's update has no source form: called
    (l1, p1, g1, s1), (l2, p2, g2, s2) = runs
    assert l1 == l2 and p1 == p2 and g1 == g2
    assert s1.keys() == s2.keys() and all(s1[k].tobytes() == s2[k].tobytes() for k in s1)


def test_a_users_rule_without_py_update_is_called_as_its_step() -> None:
    class Halving(optim.GradientDescent):
        def update(self, p: Tensor, g: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
            p.data -= 0.5 * group["lr"] * g

    results = []
    for compiled in (False, True):
        ps = _two_layers(0)
        opt = Halving(ps, lr=0.1, weight_decay=0.01)
        step = lambda x, ps=ps, opt=opt: opt.minimize(lambda: (x @ ps[0] + ps[1]).sum())  # noqa: E731
        run = ag.compile(step) if compiled else step
        x = np.ones((2, 4))
        losses = [run(x) for _ in range(5)]
        results.append((losses, [p.data.tobytes() for p in ps]))
        if compiled:
            assert "halving_step()" in run.source  # its own step (bound method), called at every call
    assert results[0] == results[1]


def test_nested_grad_inside_compile_is_eagers_bytes() -> None:
    v = np.random.default_rng(5).normal(size=50)
    f = lambda z: (z.tanh() ** 2).sum()  # noqa: E731
    g = ag.grad(f)
    hvp = ag.grad(lambda z: (g(z) * v).sum())
    step = ag.compile(hvp)
    for i in range(3):
        x = np.random.default_rng(i).normal(size=50)
        assert step(x).data.tobytes() == hvp(Tensor(x)).data.tobytes()
    v[...] = 1.0  # a captured array, in place: read at every call
    assert step(x).data.tobytes() == hvp(Tensor(x)).data.tobytes()
    assert step.traces == 1


def test_a_compiled_function_inside_another_trace_runs_eagerly() -> None:
    inner = ag.compile(lambda x: x.exp())
    outer = ag.compile(lambda x: inner(x) * 2)
    np.testing.assert_allclose(outer(np.array([0.0, 1.0])).data, [2.0, 2 * np.e])
    assert inner.traces == 0 and "np.exp" in outer.source


def test_detect_anomaly_runs_the_function_eagerly() -> None:
    step = ag.compile(lambda x: (x.sqrt()).sum())
    x = Tensor([0.0, 1.0], requires_grad=True)
    step(np.ones(2))
    with np.errstate(divide="ignore"), ag.detect_anomaly(), pytest.raises(FloatingPointError, match="sqrt"):
        ag.compile(lambda x: x.sqrt().sum().backward())(x)


# ============================================================== what the compiler does, each keeping the bits


def test_a_program_of_scalars_computes_on_floats_and_writes_back_once() -> None:
    w, train, _ = walkthrough()
    step = ag.compile(lambda: train.minimize(lambda: w**2 - 10 * w + 25))
    step()
    assert "computed on Python floats" in step.source and "w.data[()] = " in step.source
    assert "w1 * w1" in step.source  # NumPy's x ** 2 of an array is its square: so is the float's
    versions = w._version
    step()
    assert w._version == versions + 1 and type(w.grad) is np.ndarray and w.grad.shape == ()


def _ratio_run(compiled: bool, start: float) -> tuple[list[Any], bytes]:
    w = Tensor(start, requires_grad=True)
    opt = optim.Momentum([w], lr=0.1)
    f = lambda: opt.minimize(lambda: 1 / (w - 1) + w * w)  # noqa: E731
    step = ag.compile(f) if compiled else f
    out = []
    for _ in range(3):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out.append((step(), [str(c.message) for c in caught]))
        w.data[...] = 1.0  # a division by zero next: NumPy warns, the floats would raise
    return out, w.data.tobytes()


def test_where_numpy_would_warn_the_scalar_program_runs_the_array_program() -> None:
    assert _ratio_run(True, 3.0) == _ratio_run(False, 3.0)
    w = Tensor(1.0, requires_grad=True)
    step = ag.compile(lambda: (1 / (w - 1)).sum())
    with np.errstate(divide="ignore"):
        step()
    with np.errstate(divide="raise"), pytest.raises(FloatingPointError):
        step()  # as eager code under np.errstate: the array program, which raises


def test_constants_are_folded_and_never_handed_out() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    step = ag.compile(lambda x: ag.gradients(x.sum() * 3.0, [x])[0])  # 3·1: computed once, from the seed
    first = step(x)
    g = step(x)
    assert "expand(" not in step.source.split("def run")[1]  # folded
    g.data[...] = 0.0  # the caller's array, not the program's constant
    np.testing.assert_array_equal(step(x).data, [3.0, 3.0])
    np.testing.assert_array_equal(first.data, [3.0, 3.0])


def test_common_subexpressions_are_shared() -> None:
    step = ag.compile(lambda x: (x.exp() * 2) + (x.exp() * 2))
    x = np.array([0.0, 1.0])
    np.testing.assert_array_equal(step(x).data, (Tensor(x).exp() * 2 + Tensor(x).exp() * 2).data)
    assert step.source.count("np.exp(") == 1


def test_dead_code_is_removed() -> None:
    w = Tensor([1.0, 2.0], requires_grad=True)

    def f(x: Tensor) -> Tensor:
        x.sin()  # nobody reads it
        (g,) = ag.gradients((x * w).sum(), [w])  # the gradient for x is computed by no one
        return g

    step = ag.compile(f)
    np.testing.assert_array_equal(step(np.array([3.0, 4.0])).data, [3.0, 4.0])
    assert "np.sin" not in step.source


def test_a_very_large_program_runs_by_a_loop_over_its_instructions(monkeypatch: pytest.MonkeyPatch) -> None:
    from autograd_core.compiler import _codegen

    monkeypatch.setattr(_codegen, "INTERPRET", 50)

    def chain(x: Tensor) -> Tensor:
        for i in range(60):
            x = x.sin() if i % 2 == 0 else x * 1.0001
        loss = x.sum()
        loss.backward()
        return loss

    step = ag.compile(chain)
    for seed in range(3):
        x0 = np.random.default_rng(seed).uniform(-1, 1, size=5)
        a, b = Tensor(x0, requires_grad=True), Tensor(x0, requires_grad=True)
        assert step(a).data.tobytes() == chain(b).data.tobytes() and a.grad.tobytes() == b.grad.tobytes()
    assert "run by a loop over them" in step.source and "np.sin(" in step.source
    emb = nn.Embedding(3, 1, rng=0)
    looped = ag.compile(lambda i: chain(emb(i).sum(axis=-1)))
    looped(np.array([0, 1]))
    with pytest.raises(IndexError, match=r"out of range.*\(in the compiled program, at .*test_compile.py"):
        looped(np.array([0, 5]))


def test_arrays_are_written_in_place_only_where_no_one_else_holds_them() -> None:
    def f(x: Tensor) -> Any:
        y = x * 2.0  # a new array
        z = (y * 3.0).exp()  # y dies here: written in place
        view = (x * 5.0).reshape(-1)  # x * 5.0 lives on through its view: never written into
        w = (x * 5.0).reshape(-1) * 0.0  # (shared with the line above) a view read: not in place
        return z, view, w

    step = ag.compile(f)
    for i in range(3):
        x = np.random.default_rng(i).normal(size=(2, 3))
        got, expected = step(x), f(Tensor(x))
        assert [t.data.tobytes() for t in got] == [t.data.tobytes() for t in expected]
    assert "out=" in step.source and step.source.count("out=") == 2  # y * 3.0 into y, exp into it


# ============================================================== values that decide a path, at every call


def test_ignored_labels_counted_at_every_call() -> None:
    """softmax_cross_entropy's mean is over the rows whose label is not ignore_index: a count of the
    labels' values, which a program must make again at every call (frozen, the second call's loss and
    gradient would be divided by the first call's count)."""

    def make() -> tuple[Any, list[Tensor], Any]:
        model = nn.Dense(3, 4, rng=0)
        opt = optim.Adam(model.parameters(), lr=0.01)
        return model, list(model.parameters()), lambda x, y: opt.minimize(lambda: nn.softmax_cross_entropy(model(x), y))

    _, eager_params, eager = make()
    _, compiled_params, step = make()
    step = ag.compile(step)
    x = np.random.default_rng(1).normal(size=(2, 5, 3))
    for labels in ([[0, 1, 2, 3, 0], [1, 1, 2, 2, 3]], [[0, -100, 2, -100, 0], [1, 1, -100, 2, 3]],
                   [[-100] * 5, [2, -100, -100, -100, -100]], [[-100] * 5] * 2):  # fmt: skip
        y = np.array(labels)
        want, got = eager(Tensor(x), y), step(x, y)
        assert np.array_equal(want, got, equal_nan=True), (labels, want, got)
        for p, q in zip(eager_params, compiled_params):
            assert p.data.tobytes() == q.data.tobytes()
    assert step.traces == 1


def test_max_pool_nan_and_minus_inf_rules_at_every_call() -> None:
    """max_pool2d's gradient goes to a window's NaN, and -inf inputs are never tied with the padding:
    masks made from the values, so a program makes them at every call."""

    def f(x: Tensor) -> Tensor:
        y = ag.max_pool2d(x, 2, stride=2, padding=1)
        (g,) = ag.gradients(y.sum(), [x])
        return g

    step = ag.compile(f)
    rng = np.random.default_rng(3)
    for call in range(4):
        x = rng.normal(size=(1, 2, 4, 4))
        if call == 1:
            x[0, 0, 1, 1] = np.nan
        if call == 2:
            x[0, 1, :2, :2] = -np.inf
        want = f(Tensor(x, requires_grad=True)).data
        got = step(Tensor(x, requires_grad=True)).data
        assert want.tobytes() == got.tobytes(), call
    assert step.traces == 1


def test_norm_scaling_decided_at_every_call() -> None:
    """A 2-norm of values whose squares overflow (or underflow) is scaled by a power of two: decided
    from the values, so at every call of a program (frozen, the next call would give inf or 0)."""

    def f(x: Tensor) -> tuple[Tensor, Tensor]:
        n = x.norm(axis=-1)
        (g,) = ag.gradients(n.sum(), [x])
        return n, g

    step = ag.compile(f)
    for scale in (1.0, 1e200, 1e-200, 1.0):
        x = np.array([[3.0, 4.0], [1.0, 2.0]]) * scale
        want = f(Tensor(x, requires_grad=True))
        got = step(Tensor(x, requires_grad=True))
        for a, b in zip(want, got):
            assert a.data.tobytes() == b.data.tobytes(), scale
    assert np.isfinite(got[0].data).all() and step.traces == 1


def test_clipped_gradients_and_a_change_of_the_clipping() -> None:
    """An optimizer that clips the gradients' joint norm clips in the program too (and sets grad_norm);
    setting opt.clip_grad_norm between calls is read, not frozen."""

    def make() -> tuple[list[Tensor], Any, Any]:
        model = nn.Dense(4, 3, rng=0)
        opt = optim.Adam(model.parameters(), lr=0.05, clip_grad_norm=0.5)
        return list(model.parameters()), opt, lambda x, y: opt.minimize(lambda: nn.softmax_cross_entropy(model(x), y))

    eager_params, eager_opt, eager = make()
    params, opt, step = make()
    step = ag.compile(step)
    rng = np.random.default_rng(2)
    for call, clip in enumerate([0.5, 0.5, 0.01, None, None, 2.0]):
        eager_opt.clip_grad_norm = opt.clip_grad_norm = clip
        x, y = rng.normal(size=(6, 4)) * 10, rng.integers(0, 3, 6)
        assert eager(Tensor(x), y) == step(x, y)
        assert eager_opt.grad_norm == opt.grad_norm, call
        for p, q in zip(eager_params, params):
            assert p.data.tobytes() == q.data.tobytes(), call


def test_a_recurrent_layers_dropout_drawn_at_every_call_and_its_rate_read() -> None:
    lstm = nn.LSTM(3, 4, num_layers=2, dropout=0.5, rng=0)
    step = ag.compile(lambda x: lstm(x)[0])
    x = np.random.default_rng(1).normal(size=(2, 5, 3))
    first, second = step(x).data, step(x).data
    assert first.tobytes() != second.tobytes()  # a new draw at every call
    lstm.dropout = 0.0  # read: no draw now (frozen, the program would still drop)
    np.testing.assert_array_equal(step(x).data, lstm(Tensor(x))[0].data)
    assert step.traces == 2


def test_a_squares_derivative_at_the_edge_of_the_floats() -> None:
    """x ** 2's derivative is (2g)·x as eager computes it: g·(2x) overflows to inf (and 0 · inf is NaN)
    for |x| above half the largest float, where eager's gives 0."""

    def f(x: Tensor) -> Tensor:
        (g,) = ag.gradients((x**2 * 0.0).sum(), [x])
        return g

    step = ag.compile(f)
    for x in (np.array([1.0, -2.0]), np.array([1e308, -1.5e308])):
        with np.errstate(all="ignore"):  # (x² overflows: NumPy warns, eager and compiled alike)
            want = f(Tensor(x, requires_grad=True)).data
            got = step(Tensor(x, requires_grad=True)).data
        assert want.tobytes() == got.tobytes()


@pytest.mark.parametrize("clip", ["norm", "value"])
def test_clipping_called_between_backward_and_step(clip: str) -> None:
    """optim.clip_grad_norm / clip_grad_value called by the user between backward() and step(), as in
    PyTorch: the gradients changed in place at every call, the norm returned fresh at every call."""

    def make() -> tuple[list[Tensor], Any]:
        model = nn.Dense(4, 3, rng=0)
        opt = optim.Adam(model.parameters(), lr=0.05)

        def step(x: Tensor, y: Any) -> Any:
            opt.zero_grad()
            loss = nn.softmax_cross_entropy(model(x), y)
            loss.backward()
            if clip == "norm":
                norm = optim.clip_grad_norm(model.parameters(), 0.5)
            else:
                optim.clip_grad_value(model.parameters(), 0.05)
                norm = 0.0
            opt.step()
            return loss, norm

        return list(model.parameters()), step

    eager_params, eager = make()
    params, step = make()
    step = ag.compile(step)
    rng = np.random.default_rng(4)
    for _ in range(4):
        x, y = rng.normal(size=(6, 4)) * 10, rng.integers(0, 3, 6)
        (want, want_norm), (got, got_norm) = eager(Tensor(x), y), step(x, y)
        assert want.data.tobytes() == got.data.tobytes() and want_norm == got_norm and type(got_norm) is float
        for p, q in zip(eager_params, params):
            assert p.data.tobytes() == q.data.tobytes()
    assert step.traces == 1


def test_sequence_lengths_read_and_checked_at_every_call() -> None:
    """A recurrent layer's ``lengths`` are an input of the program, read at every call (frozen, the
    first call's lengths would mask every later batch) and checked at every call as eager code does."""
    lstm = nn.LSTM(3, 2, rng=0)

    def f(x: Tensor, lengths: Any) -> Tensor:
        return lstm(x, lengths=lengths)[1][0]

    step = ag.compile(f)
    rng = np.random.default_rng(0)
    for lengths in ([2, 3], [2, 4], [1, 2], [4, 4]):
        x = rng.normal(size=(2, 4, 3))
        assert f(Tensor(x), np.array(lengths)).data.tobytes() == step(x, np.array(lengths)).data.tobytes()
    with pytest.raises(ValueError, match=r"lengths\[0\] = 0 is not positive.*in the compiled program"):
        step(rng.normal(size=(2, 4, 3)), np.array([0, 3]))
    floats = ag.compile(f)
    x = rng.normal(size=(2, 4, 3))
    floats(x, np.array([4.0, 4.0]))
    assert floats(x, np.array([2.0, 3.0])).data.tobytes() == f(Tensor(x), np.array([2.0, 3.0])).data.tobytes()
    assert step.traces == 1 and floats.traces == 1
