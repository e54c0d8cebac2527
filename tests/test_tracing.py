"""The shared tracer (autograd_core/tracing.py): what it records, what it refuses, and that eager
code is untouched by it."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

import autograd_core as ag
import nn
from autograd_core import Tensor
from autograd_core.ops.compare import Greater, LogicalAnd, LogicalNot, LogicalOr
from autograd_core.ops.elementwise import Detach, Exp, Multiply, Where
from autograd_core.tracing import (
    CapturedArray,
    CapturedTensor,
    Constant,
    OpEvent,
    ReadEvent,
    Traced,
    TracedMask,
    TracedTensor,
    Tracer,
    TracingError,
)

HERE = __file__


def trace(f: Any, *arrays: Any, reads: str = "raise") -> tuple[Any, Tracer, list[Any]]:
    tracer = Tracer(reads=reads)  # type: ignore[arg-type]
    with tracer:
        xs = [tracer.input(a) for a in arrays]
        out = f(*xs)
    return out, tracer, xs


# ============================================================== the tape


def test_every_op_is_recorded_in_order_in_and_out_of_grad_mode() -> None:
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True, name="w")
    c = np.array([3.0, 4.0])

    def f(x: Tensor) -> Tensor:
        y = x * w  # grad mode: a node of the autograd graph too
        with ag.no_grad():
            z = (y + c).exp()  # no graph at all: still on the tape
        return z * 2

    out, tracer, (x,) = trace(f, np.ones(2))
    ops = tracer.tape.ops
    assert [op.fn.name for op in ops] == ["multiply", "add", "exp", "multiply"]
    assert [type(a) for a in ops[0].args] == [Traced, CapturedTensor]
    assert ops[0].args[0].value is tracer.tape.inputs[0] and ops[0].args[1].tensor is w  # the object, kept
    assert [type(a) for a in ops[1].args] == [Traced, CapturedArray] and ops[1].args[1].array is c
    assert ops[3].args[1] == Constant(2)
    assert ops[2].args[0].value is ops[1].out and tracer.tape.value(out) is ops[3].out
    assert not out.requires_grad  # made under no_grad, recorded all the same
    assert isinstance(ops[2].fn, Exp) and ops[1].where[0] == HERE  # the user's line that ran it


def test_the_tracer_sees_the_real_arguments_not_the_stand_ins() -> None:
    # Exp's backward reads only its output: its node keeps a zero-memory stand-in of the input
    out, tracer, (x,) = trace(lambda x: x.exp(), np.array([1.0, 2.0]))
    (op,) = tracer.tape.ops
    assert op.args[0].value.obj is x
    np.testing.assert_array_equal(op.args[0].value.array, [1.0, 2.0])


def test_ops_for_walks_only_what_the_outputs_need() -> None:
    def f(x: Tensor) -> Tensor:
        x.sin()  # dead: not part of the result
        return (x.exp() * 2).sum()

    out, tracer, _ = trace(f, np.ones(3))
    assert [op.fn.name for op in tracer.tape.ops] == ["sin", "exp", "multiply", "sum"]
    assert [op.fn.name for op in tracer.tape.ops_for([tracer.tape.value(out)])] == ["exp", "multiply", "sum"]


def test_traced_tensors_become_plain_when_the_trace_ends() -> None:
    out, tracer, (x,) = trace(lambda x: x * 2, np.ones(2))
    assert type(out) is Tensor and type(x) is Tensor
    assert float(out.sum()) == 4.0 and out.data.tolist() == [2.0, 2.0]  # reads are ordinary again
    assert ag.tracing.active == 0


def test_integer_inputs_are_traced_arrays_found_in_parameters() -> None:
    w = Tensor(np.arange(12.0).reshape(4, 3), requires_grad=True)
    out, tracer, (i,) = trace(lambda i: w[i], np.array([[0, 3], [1, 1]]))
    (op,) = tracer.tape.ops
    assert op.traced_params == (tracer.tape.inputs[0],) and op.params["index"] is i


def test_other_threads_are_not_recorded() -> None:
    done = []

    def elsewhere() -> None:
        done.append(Tensor([1.0]).exp())

    def f(x: Tensor) -> Tensor:
        t = threading.Thread(target=elsewhere)
        t.start()
        t.join()
        return x + 1

    out, tracer, _ = trace(f, np.ones(1))
    assert [op.fn.name for op in tracer.tape.ops] == ["add"] and type(done[0]) is Tensor


def test_detach_of_a_traced_tensor_is_recorded() -> None:
    out, tracer, (x,) = trace(lambda x: x * x.detach(), np.ones(2))
    detach, mul = tracer.tape.ops
    assert isinstance(detach.fn, Detach) and mul.args[1].value is detach.out


# ============================================================== reads of traced values


READS = [
    (".item()", lambda x: x.sum().item()),
    ("float()", lambda x: float(x.sum())),
    ("int()", lambda x: int(x.sum())),
    ("bool()", lambda x: 1 if x.sum() else 0),
    (".data", lambda x: x.data),
    ("np.asarray", lambda x: np.asarray(x)),
    ("np.asarray", lambda x: np.array(x)),
    (".numpy()", lambda x: x.numpy()),
    (".tolist()", lambda x: x.tolist()),
    ("format", lambda x: f"{x.sum():.3f}"),
    ("np.sign", lambda x: np.sign(x)),
    ("np.argmax", lambda x: np.argmax(x)),
    (".argmax()", lambda x: x.argmax()),
    (".any()", lambda x: x.any()),
    ("bool()", lambda x: 1 if (x > 0).any() else 0),  # a mask: its .any() is a reduction
]


@pytest.mark.parametrize("what, f", READS, ids=[f"{w} {i}" for i, (w, _) in enumerate(READS)])
def test_reads_by_the_users_code_raise_naming_the_line(what: str, f: Any) -> None:
    with pytest.raises(TracingError) as info:
        trace(f, np.ones(3))
    msg = str(info.value)
    assert f"{HERE}:" in msg and "READS = [" not in msg  # this file, at the lambda's line
    line = int(msg.split(f"{HERE}:")[1].split(" ")[0])
    assert f.__code__.co_firstlineno == line
    assert "ag.where(x > 0, a, b)" in msg and isinstance(info.value, ValueError)
    assert ag.TracingError is TracingError


def test_reads_can_be_recorded_instead() -> None:
    out, tracer, _ = trace(lambda x: x * x.sum().item(), np.array([1.0, 2.0]), reads="record")
    (read,) = tracer.tape.reads
    assert isinstance(read, ReadEvent) and read.what == ".item()" and read.where[0] == HERE
    assert read.value is tracer.tape.ops[0].out  # the sum
    np.testing.assert_array_equal(out.data, [3.0, 6.0])  # the read gave the value: the code went on


def test_the_librarys_own_reads_do_not_raise() -> None:
    model = nn.Sequential(nn.Dense(3, 4, rng=0), nn.BatchNorm(4), nn.ReLU(), nn.Dense(4, 2, rng=1))  # training mode

    def f(x: Tensor) -> Tensor:
        logits = model(x)  # BatchNorm reads the batch's statistics
        loss = nn.softmax_cross_entropy(logits, np.array([0, 1, 1]))  # the loss checks its targets
        return loss + ag.std(x, axis=1).sum() + ag.norm(x)  # std's and norm's zero masks

    out, tracer, _ = trace(f, np.random.default_rng(0).normal(size=(3, 3)))
    assert np.isfinite(out.data) and not tracer.tape.reads


class Masked(ag.Function):
    """A user op whose forward computes with a mask it is given: arrays, not traced values."""

    def forward(self, x, mask):
        return np.where(mask, x, 0.0) + mask.sum()

    def backward(self, g, out, x, mask):
        return g, None


def test_a_user_ops_forward_reads_its_arrays_freely() -> None:
    out, tracer, _ = trace(lambda x: Masked.apply(x, x > 0), np.array([-1.0, 2.0]))
    np.testing.assert_array_equal(out.data, [1.0, 3.0])


def test_in_place_changes_of_traced_tensors_are_refused() -> None:
    def assign(x: Tensor) -> Tensor:
        with ag.no_grad():
            x[0] = 1.0
        return x

    def add(x: Tensor) -> Tensor:
        with ag.no_grad():
            x += 1.0
        return x

    for f in (assign, add):
        with pytest.raises(TracingError, match="in.place"):
            trace(f, np.ones(2))


# ============================================================== comparisons and masks


def test_comparisons_are_recorded_and_masks_follow_the_inputs() -> None:
    out, tracer, (x,) = trace(lambda x: ag.where(x > 0, x, 0.1 * x), np.array([-1.0, 2.0]))
    greater, mul, where = tracer.tape.ops
    assert isinstance(greater.fn, Greater) and type(greater.out.obj) is TracedMask
    assert isinstance(where.fn, Where) and where.traced_params == (greater.out,)


def test_mask_logic_is_recorded() -> None:
    def f(x: Tensor, y: Tensor) -> Tensor:
        m = (x > 0) & ~(y < 1) | (x < y)
        return x * m

    x, y = np.array([-1.0, 2.0, 0.5]), np.array([3.0, 0.0, 1.0])
    out, tracer, _ = trace(f, x, y)
    kinds = [type(op.fn) for op in tracer.tape.ops]
    assert LogicalAnd in kinds and LogicalNot in kinds and LogicalOr in kinds
    assert type(tracer.tape.ops[-1].fn) is Multiply and type(tracer.tape.ops[-1].args[1]) is Traced
    np.testing.assert_array_equal(out.data, f(Tensor(x), Tensor(y)).data)  # as eager: [-1, 0, 0.5]
    np.testing.assert_array_equal(out.data, [-1.0, 0.0, 0.5])


def test_numbers_from_a_mask_and_masks_changed_with_numpy_are_refused() -> None:
    with pytest.raises(TracingError, match="mask"):
        trace(lambda x: ag.where((x > 0).reshape(-1), x, 0), np.ones(3))  # a reshaped mask: not the recorded one
    with pytest.raises(TracingError):
        trace(lambda x: x * (x > 0)[0], np.ones(3))


def test_eager_comparisons_are_plain_arrays() -> None:
    x = Tensor([1.0, -2.0])
    for m in (x > 0, x <= 0, x == 1, x != 1, np.less(x, 0), np.isnan(x), 0 < x):
        assert type(m) is np.ndarray and m.dtype == bool
    out, tracer, (t,) = trace(lambda t: t > 0, np.ones(2))
    assert isinstance(out, np.ndarray) and bool(out.all()) and out.tolist() == [True, True]  # after: an array


def test_a_traced_tensor_is_a_tensor_while_the_trace_runs() -> None:
    seen = []
    trace(lambda x: seen.append((type(x), isinstance(x, Tensor), x.shape, x.dtype)) or x, np.ones((2, 3)))
    assert seen == [(TracedTensor, True, (2, 3), np.dtype(np.float64))]


def test_events_are_dataclasses_of_the_documented_kinds() -> None:
    out, tracer, _ = trace(lambda x: x + 1, np.ones(1))
    (op,) = tracer.tape.events
    assert isinstance(op, OpEvent) and op.inputs() == [tracer.tape.inputs[0]]


# ============================================================== the program tracer (ag.compile)

import optim  # noqa: E402
from autograd_core.tracing import (  # noqa: E402
    EffectEvent,
    GradEvent,
    GuardEvent,
    ProgramTracer,
    StepEvent,
    TracedArray,
    VjpEvent,
)


def program_trace(f: Any, *args: Any) -> tuple[Any, ProgramTracer]:
    tracer = ProgramTracer()
    with tracer:
        xs = [tracer.input_array(np.asarray(a)) for a in args]
        out = f(*xs)
    return out, tracer


def kinds(tracer: ProgramTracer) -> list[str]:
    names = []
    for e in tracer.tape.events:
        if type(e) is OpEvent:
            names.append(e.fn.name)
        elif type(e) is VjpEvent:
            names.append(f"vjp {e.op.fn.name}")
        elif type(e) is StepEvent:
            names.append(e.kind)
        elif type(e) is GradEvent:
            names.append("grad")
        elif type(e) is EffectEvent:
            names.append(f"effect {e.fn.__name__}")
    return names


def test_a_plain_backward_is_recorded_step_by_step_in_the_engines_order() -> None:
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = Tensor(0.5, requires_grad=True)

    def f(x: Tensor) -> Tensor:
        loss = ((x * w + b) ** 2).sum()
        loss.backward()
        return loss

    out, tracer = program_trace(f, np.ones(2))
    assert kinds(tracer) == [
        "multiply", "add", "power", "sum",  # the forward
        "constant", "vjp sum", "vjp power", "vjp add", "sum_to", "vjp multiply",  # the seed, each VJP, b's sum
        "grad", "grad",  # the leaves, in the order their first share came: b, then w
    ]  # fmt: skip
    b_grad, w_grad = [e for e in tracer.tape.events if type(e) is GradEvent]
    assert b_grad.leaf is b and w_grad.leaf is w and b_grad.leaf_value is None  # captured leaves
    np.testing.assert_array_equal(w.grad, 2 * (np.ones(2) * w.data + 0.5))  # eager's values
    assert type(w.grad) is np.ndarray  # a plain array again after the trace


def test_gradients_in_grad_are_traced_arrays_that_the_users_code_may_not_read_but_may_compute_with() -> None:
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    seen = []

    def read(x: Tensor) -> Any:
        (x * w).sum().backward()
        seen.append(type(w.grad))
        return w.grad.sum()  # a read: refused

    with pytest.raises(TracingError, match="np.add.reduce reads a traced value"):
        program_trace(read, np.ones(2))
    assert seen == [TracedArray]

    def update(x: Tensor) -> Any:
        nonlocal w
        w.grad = None
        (x * w).sum().backward()
        with ag.no_grad():
            w -= 0.1 * w.grad  # recorded: a multiply, then an in-place change of w (an effect)
        return w

    out, tracer = program_trace(update, np.ones(2))
    assert kinds(tracer)[-2:] == ["multiply", "effect _change_in_place"]
    np.testing.assert_allclose(w.data, [0.9, 1.9])  # eager's values (the first call's)


def test_effects_of_the_library_are_recorded_and_their_results_are_traced() -> None:
    model = nn.Sequential(nn.Dense(3, 4, rng=0), nn.BatchNorm(4), nn.Dropout(0.5, rng=1), nn.Dense(4, 2, rng=2))
    opt = optim.SGD(model.parameters(), lr=0.1)

    def step(x: Tensor, y: Any) -> float:
        return opt.minimize(lambda: nn.softmax_cross_entropy(model(x), y))

    loss, tracer = program_trace(step, np.ones((3, 3)), np.array([0, 1, 1]))
    effects = [e for e in tracer.tape.events if type(e) is EffectEvent]
    assert [e.fn.__name__ for e in effects] == ["_zero_grad", "_batch_stats", "_update_running", "_mask", "_label_rows",
                                                "_step"]  # fmt: skip
    stats, running, mask, one_hot = effects[1:5]
    assert type(stats.args[0]) is Traced  # the batch's values: that call's, at every call
    bn = next(op for op in tracer.tape.ops if op.fn.name == "batch_norm")
    assert {v.producer for v in bn.traced_params} == {stats}  # x̂ and 1/σ come from the effect
    dropout = next(op for op in tracer.tape.ops if op.fn.name == "multiply")
    assert dropout.args[1].value.producer is mask
    assert type(one_hot.args[0]) is Traced and one_hot.args[0].value is tracer.tape.inputs[1]
    assert type(loss) is float and tracer.floats[id(loss)][1].producer.fn.name == "softmax_cross_entropy"


def test_guards_on_modes_unless_the_function_sets_the_mode() -> None:
    model = nn.Sequential(nn.Dense(2, 2, rng=0), nn.Dropout(0.5))
    _, tracer = program_trace(lambda x: model(x), np.ones((1, 2)))
    guards = list(tracer.guards.values())
    assert all(type(g) is GuardEvent for g in guards)
    assert {(type(g.obj).__name__, g.attr, g.value) for g in guards} == {
        ("Sequential", "training", True), ("Dense", "training", True), ("Dropout", "training", True),
        ("Dropout", "p", 0.5),
    }  # fmt: skip

    def evaluate(x: Tensor) -> Tensor:
        model.eval()  # an effect; what it sets is not a guard
        return model(x)

    _, tracer = program_trace(evaluate, np.ones((1, 2)))
    assert not tracer.guards and kinds(tracer)[0] == "effect _set_modes"
    model.train()


def test_the_user_may_not_read_a_parameter_but_the_library_may() -> None:
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    s = Tensor(2.0, requires_grad=True)
    with pytest.raises(TracingError, match=r"float\(\) reads the value of a tensor made outside the compiled function"):
        program_trace(lambda x: x * float(s), np.ones(2))
    with pytest.raises(TracingError, match=r"\.item\(\) reads the value of a tensor made outside"):
        program_trace(lambda x: x * Tensor(3.0).item(), np.ones(2))
    out, _ = program_trace(lambda x: x * w, np.ones(2))  # through an op: read at every call
    assert type(out) is Tensor


def test_a_tensor_made_from_a_traced_value_is_traced() -> None:
    def f(x: Tensor) -> Tensor:
        t = ag.tensor(x, requires_grad=True)
        return (t * t).sum()

    out, tracer = program_trace(f, np.array([1.0, 2.0]))
    copy = tracer.tape.ops[0]
    assert copy.fn.name == "tensor" and copy.args[0].value is tracer.tape.inputs[0]


def test_in_place_changes_of_traced_arrays_outside_effects_are_refused() -> None:
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)

    def clip(x: Tensor) -> Tensor:
        (x * w).sum().backward()
        np.multiply(w.grad, 0.5, out=w.grad)  # not through ag.effect: a program would not make it
        return x

    with pytest.raises(TracingError, match="changes a traced array in place.*ag.effect"):
        program_trace(clip, np.ones(2))
    w.grad = None

    def clipped(x: Tensor) -> Tensor:
        (x * w).sum().backward()
        ag.tracing.effect(np.multiply, w.grad, 0.5, out=w.grad)  # reported: recorded
        return x

    _, tracer = program_trace(clipped, np.ones(2))
    assert kinds(tracer)[-1] == "effect multiply" and w.grad.tolist() == [0.5, 0.5]


def test_a_backward_with_create_graph_is_recorded_on_the_traced_values() -> None:
    def f(x: Tensor) -> Tensor:
        (g,) = ag.gradients((x**3).sum(), [x], create_graph=True)
        return g

    out, tracer = program_trace(lambda x: f(ag.tensor(x, requires_grad=True)), np.array([1.0, 2.0]))
    assert not any(type(a) is CapturedTensor for op in tracer.tape.ops for a in op.args)  # no wrapper frozen
    np.testing.assert_array_equal(out.data, [3.0, 12.0])
