"""A program as a list of instructions, built from a trace's tape (``tracing.ProgramTracer``).

Each event of the tape becomes one instruction (or a few) that makes, at run time, the same
Python and NumPy calls the event made in the trace: an op's forward (written out from its
source form, ``np.exp(v3)``, or a call of its ``forward``), a VJP of a plain backward pass (its
source form, or a call of its ``backward``), one of the engine's steps (``sum_to``, a cast, the
sum of two shares), the accumulation into a leaf's ``.grad``, an effect. An instruction is
Python statements with placeholders: ``{i0}``, ``{i1}``, ... for the variables it reads and
``{o0}``, ... for those it writes; constants are already in the text, as literals or as the
names of the program's globals (``_names.Names``).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import function as _function
from ..ops.compare import Comparison
from ..tensor import Tensor
from ..tracing import (
    CapturedArray,
    CapturedTensor,
    Constant,
    EffectEvent,
    GradEvent,
    Nested,
    OpEvent,
    ProgramTracer,
    StepEvent,
    Traced,
    Value,
    VjpEvent,
)
from ._names import Names

_FORMATTER = string.Formatter()
_WORDS = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PARSED: dict[str, list[tuple[str, str | None]]] = {}  # a source form's parts, parsed once


class Var:
    """A variable of the program: a value (an array, a NumPy scalar, a float), an op's instance,
    an argument. ``const``: the source of a constant (a literal or a global's name), never assigned."""

    __slots__ = ("n", "kind", "shape", "dtype", "const", "role", "name", "fresh", "value")

    def __init__(self, n: int, role: str, obj: Any = None, const: str | None = None) -> None:
        self.n = n
        self.role = role  # "value", "grad", "fn", "arg", "data", "temp", "result"
        self.const = const
        self.name: str | None = None
        self.fresh = False  # a new array that nothing outside the program holds
        self.value = obj if const is not None else None  # a folded constant's value
        if isinstance(obj, Tensor):
            obj = obj.data
        if isinstance(obj, np.ndarray):
            self.kind, self.shape, self.dtype = "array", obj.shape, obj.dtype
        elif isinstance(obj, np.generic):
            self.kind, self.shape, self.dtype = "scalar", (), obj.dtype
        elif type(obj) is float:
            self.kind, self.shape, self.dtype = "float", (), np.dtype(np.float64)
        else:
            self.kind, self.shape, self.dtype = "object", None, None

    def __repr__(self) -> str:
        return f"Var({self.name or self.n}, {self.role}, {self.kind} {self.shape} {self.dtype})"


@dataclass(eq=False)
class Instr:
    """Statements that read ``ins`` and write ``outs``; ``pure``: nothing but its outputs changes
    (so it may be removed when they are not used, or shared with an equal one). ``label`` names it
    in drawings; ``where`` is the user's line that recorded it."""

    text: list[str]
    ins: list[Var]
    outs: list[Var]
    pure: bool
    label: str
    where: tuple[str, int, str, str] | None = None
    kind: str = "op"  # "op", "call" (forward), "vjp", "vjpcall", "step", "read", "grad", "effect"
    #: What it came from: the op (an op, a VJP: then ``index`` is the input), the tensor (a read of its
    #: data, an accumulation into its .grad), the effect ``(fn, args, description)``; for the scalar path.
    op: Any = None
    index: int = -1
    obj: Any = None
    effect: Any = None


@dataclass(eq=False)
class Program:
    """What a trace became: instructions, the arguments and the outputs, and the guards."""

    names: Names
    instrs: list[Instr]
    args: list[Var]  # one per input of the call (the object: a Tensor or an array)
    output: Any  # the structure fn returned, with Vars and constants' sources in it (see build)
    guards: list[str]  # Python conditions over the globals, all true for this program
    guard_notes: list[str]  # what each guard is about (for the retrace warning)
    first: Any = None  # the first call's results (the trace's own), in the same structure
    scalar: bool = False  # every value is 0-d: the program can compute on Python floats


class Builder:
    """Turns a tape into a :class:`Program` (``build``)."""

    def __init__(self, tracer: ProgramTracer, inputs: list[Any], names: Names) -> None:
        self.tracer = tracer
        self.tape = tracer.tape
        self.names = names
        self.instrs: list[Instr] = []
        self.vars: dict[Value, Var] = {}
        self.count = 0
        self.args = [self.new("arg", x) for x in inputs]
        for k, a in enumerate(self.args):
            a.name = f"a{k}"
        self.data: dict[int, Var] = {}  # current data read of a tensor (by id), until an effect
        self.fn_vars: dict[OpEvent, Var] = {}  # instances of ops whose VJP the program calls
        self.saved: dict[OpEvent, list[Any]] = {}  # what each op's forward got (its VJP gets the same)
        self.forms: dict[OpEvent, tuple[Any, Any]] = {}
        self.captured: dict[int, Tensor] = {}  # captured tensors the ops read (guarded)
        self.arrays: dict[int, np.ndarray] = {}  # captured arrays the ops read (guarded)
        self.local_grads: dict[int, Var] = {}  # .grad of leaves made inside the function
        self.where: tuple[str, int, str, str] | None = None
        vjps = {e.op for e in self.tape.events if type(e) is VjpEvent}
        graph_vjps = {e.op for e in self.tape.events if type(e) is VjpEvent and e.tensors is not None}
        for e in self.tape.events:
            if type(e) is OpEvent:
                fwd, bwd = e.fn.python_form(tuple(self.trace_value(a) for a in e.args))
                if e in graph_vjps:
                    bwd = None  # called again with Tensors: its instance is needed
                if bwd is None and e in vjps:
                    fwd = None  # its VJP is a call of backward, which reads what forward kept on the instance
                self.forms[e] = (fwd, bwd)

    # ------------------------------------------------------------------ variables
    def new(self, role: str, obj: Any = None, const: str | None = None) -> Var:
        v = Var(self.count, role, obj, const)
        self.count += 1
        return v

    def const(self, obj: Any, source: str | None = None) -> Var:
        return self.new("value", obj, const=source if source is not None else self.names.literal(obj))

    def var(self, value: Value) -> Var:
        """The variable holding a traced value (an argument's is its data, read when first needed)."""
        v = self.vars.get(value)
        if v is not None:
            return v
        if value.producer is None and value.input is not None:
            return self.arg_value(value.input)
        raise AssertionError(f"ag.compile: {value!r} is used before it is made")

    def arg_value(self, k: int) -> Var:
        """An input's value: an argument Tensor's data (read when first needed), an argument array itself."""
        arg = self.args[k]
        obj = self.tape.inputs[k].obj
        if isinstance(obj, Tensor) and id(obj) not in self.tracer.arrays:
            return self.data_of(id(obj), "{i0}.data", [arg], obj)
        return arg

    def data_of(self, key: int, text: str, ins: list[Var], obj: Tensor) -> Var:
        """The variable holding a tensor's data: read once, again after every effect."""
        v = self.data.get(key)
        if v is None:
            v = self.data[key] = self.new("data", obj)
            self.emit([f"{{o0}} = {text}"], ins, [v], True, "data", kind="read").obj = obj
        return v

    def captured_data(self, t: Tensor) -> Var:
        self.captured[id(t)] = t
        return self.data_of(id(t), f"{self.names.name(t)}.data", [], t)

    def trace_value(self, a: Any) -> Any:
        """What an op's argument was in the trace (for ``python_form``)."""
        if type(a) is Traced:
            return a.value.array
        if type(a) is CapturedTensor:
            return a.tensor.data
        if type(a) is CapturedArray:
            return a.array
        return a.value

    def emit(
        self,
        text: list[str],
        ins: list[Var],
        outs: list[Var],
        pure: bool,
        label: str,
        kind: str = "op",
        foldable: bool = False,
    ) -> Instr:
        instr = Instr(text, ins, outs, pure, label, self.where, kind)
        if foldable and all(v.const is not None for v in ins) and not self.reads_state(text):
            self.fold(instr)  # computed from constants only: computed now, a constant of the program
        else:
            self.instrs.append(instr)
        return instr

    def fold(self, instr: Instr) -> None:
        """Run ``instr`` now (its inputs are all constants: the seed of a backward pass, numbers) and make
        its outputs constants: the same calls, made once."""
        env = dict(self.names.globals)
        names = {f"i{i}": v.const for i, v in enumerate(instr.ins)}
        for i, v in enumerate(instr.outs):
            names[f"o{i}"] = f"_fold_o{i}"
            if v.role == "temp":
                names[f"t{v.value}"] = f"_fold_t{v.value}"
        for line in instr.text:
            exec(line.format(**names), env)  # noqa: S102 - the program's own statement
        for i, v in enumerate(instr.outs):
            if v.role != "temp":
                v.value = env[f"_fold_o{i}"]
                v.const = self.names.constant(v.value, "c")

    def reads_state(self, text: list[str]) -> bool:
        """Whether statements name a global holding state (a captured array, say)."""
        state = self.names.state
        return bool(state) and any(word in state for line in text for word in _WORDS.findall(line))

    # ------------------------------------------------------------------ rendering
    def render(self, x: Any, ins: list[Var], tensor: bool = False) -> str:
        """``x`` as source in an instruction reading ``ins``: a traced value becomes a placeholder
        (appended to ``ins``), anything else a literal or a global's name."""
        if isinstance(x, (Tensor, np.ndarray, np.generic, float)) and not isinstance(x, bool):
            value = self.tape.value(x)
            if value is not None:
                return self.placeholder(self.var(value), ins)
        if isinstance(x, tuple) and type(x) is tuple:
            items = [self.render(v, ins) for v in x]
            return f"({items[0]},)" if len(items) == 1 else "(" + ", ".join(items) + ")"
        if isinstance(x, list) and type(x) is list:
            return "[" + ", ".join(self.render(v, ins) for v in x) + "]"
        return self.names.literal(x)

    @staticmethod
    def placeholder(v: Var, ins: list[Var]) -> str:
        for i, u in enumerate(ins):
            if u is v:
                return f"{{i{i}}}"
        ins.append(v)
        return f"{{i{len(ins) - 1}}}"

    def arg_item(self, a: Any) -> Var | str:
        """An op's positional argument: its variable (a captured tensor's data), or a constant's source."""
        if type(a) is Traced:
            return self.var(a.value)
        if type(a) is CapturedTensor:
            return self.captured_data(a.tensor)
        if type(a) is CapturedArray:
            self.arrays[id(a.array)] = a.array
            return self.names.name(a.array)
        return self.names.literal(a.value)

    def sources(self, items: list[Var | str], ins: list[Var]) -> list[str]:
        return [self.placeholder(x, ins) if isinstance(x, Var) else x for x in items]

    def form(self, template: str | tuple[str, ...], sources: dict[str, Any], ins: list[Var], fn: Any,
             params: dict[str, Any], statics: list[Any], temps: list[Var]) -> list[str]:  # fmt: skip
        """A source form (``py_forward``, an entry of ``py_backward``) as statements whose last line is
        ``{o0} = <expression>`` (or the statements alone when the last entry is a temporary)."""
        lines = [template] if isinstance(template, str) else list(template)
        out: list[str] = []
        for k, line in enumerate(lines):
            text = ""
            parsed = _PARSED.get(line)
            if parsed is None:
                parsed = _PARSED[line] = [(lit, name) for lit, name, _spec, _conv in _FORMATTER.parse(line)]
            for literal, field_name in parsed:
                text += literal.replace("{", "{{").replace("}", "}}")
                if field_name is None:
                    continue
                head, _, attr = field_name.partition(".")
                if head in sources and not attr:
                    x = sources[head]
                    text += self.placeholder(x, ins) if isinstance(x, Var) else x
                elif head.isdigit() and attr in ("shape", "dtype", "ndim"):
                    text += self.names.literal(getattr(np.asarray(statics[int(head)]), attr))
                elif head.startswith("t") and head[1:].isdigit():
                    j = int(head[1:])
                    while len(temps) <= j:
                        temp = self.new("temp")
                        temp.value = len(temps)  # its number in the form: {t0}, {t1}, ...
                        temps.append(temp)
                    text += f"{{t{j}}}"
                elif head in params:
                    text += self.render(params[head], ins)
                else:
                    text += self.names.literal(getattr(fn, head))
            out.append(text if k < len(lines) - 1 else f"{{o0}} = {text}")
        last = out[-1]
        if len(out) > 1 and last.startswith("{o0} = {t") and last.endswith("}") and last[7:].count("{") == 1:
            result = last[7:]  # the result is a temporary (``t0 = x @ w; t0 += b``): write it as the output
            out = [line.replace(result, "{o0}") for line in out[:-1]]
            j = int(result[2:-1])
            temps[:] = [t for t in temps if t.value != j]
        return out

    # ------------------------------------------------------------------ events
    def build(self) -> list[Instr]:
        for event in self.tape.events:
            self.where = getattr(event, "where", None)
            kind = type(event)
            if kind is OpEvent:
                self.op(event)
            elif kind is VjpEvent:
                self.vjp(event)
            elif kind is StepEvent:
                self.step(event)
            elif kind is GradEvent:
                self.grad(event)
            elif kind is EffectEvent:
                self.effect(event)
        return self.instrs

    def op(self, e: OpEvent) -> None:
        fn = e.fn
        items = [self.arg_item(a) for a in e.args]
        self.saved[e] = items  # what the VJP gets too (the engine's node keeps the forward's arrays)
        ins: list[Var] = []
        sources: dict[str, Any] = {str(i): x for i, x in enumerate(items)}
        out = self.new("value", e.out.obj)
        self.vars[e.out] = out
        statics = [self.trace_value(a) for a in e.args]
        fwd, _ = self.forms[e]
        comparison = isinstance(fn, Comparison) or getattr(fn, "recorded_as_array", False)
        temps: list[Var] = []
        if fwd is not None:
            text = self.form(fwd, sources, ins, fn, e.params, statics, temps)
            outs = [out, *temps]
            kind = "op"
        else:
            f = self.new("fn")
            self.fn_vars[e] = f
            srcs = self.sources(items, ins)
            parents = getattr(fn, "parents", None)
            kw = ", ".join(f"{k}={self.render(v, ins)}" for k, v in e.params.items())
            call = ", ".join(x for x in (", ".join(srcs), kw) if x)
            text = [f"{{o1}} = {self.names.name(type(fn))}()"]
            if parents is not None:
                pattern = tuple(None if p is None else 1 for p in parents)
                text.append(f"{{o1}}.parents = {self.names.literal(pattern)}")
            text.append(f"{{o0}} = {{o1}}.forward({call})")
            outs = [out, f]
            kind = "call"
        # Function.apply's own steps after forward: the default float where no float came in, and an
        # array where NumPy gave a scalar (comparisons: np.asarray only)
        wrap = []
        if not comparison and not self.any_float(e):
            wrap.append(f"_float_output({{}}, [{', '.join(self.sources(items, ins))}])")
        if out.shape == () or comparison:
            wrap.append("np.asarray({})")
        if wrap:
            if text[-1].startswith("{o0} = "):
                expr = text[-1][7:]
            else:
                expr = "{o0}"
                text.append("")
            for w in wrap:
                expr = w.format(expr) if "{i" not in w else w.replace("{}", expr, 1)
            text[-1] = f"{{o0}} = {expr}"
        self.emit(text, ins, outs, True, fn.name, kind=kind, foldable=kind == "op").op = e

    def any_float(self, e: OpEvent) -> bool:
        """Whether a float came into the op (else ``Function.apply`` casts its output to float64)."""
        if any(isinstance(a, Traced) and isinstance(a.value.obj, Tensor) and a.value.obj.requires_grad for a in e.args):
            return True  # tracked: apply keeps forward's float output as it is
        for a in e.args:
            x = self.trace_value(a)
            if type(x) is float or (getattr(x, "dtype", None) is not None and x.dtype.kind == "f"):
                return True
        return False

    def vjp(self, e: VjpEvent) -> None:
        op, fn = e.op, e.op.fn
        g = self.var(e.g)
        _, bwd = self.forms[op]
        out_var = self.vars[op.out]
        items = self.saved[op]
        if bwd is not None:
            statics = [self.trace_value(a) for a in op.args]
            for i, gv in enumerate(e.grads):
                if gv is None or gv in self.vars or fn.parents[i] is None:
                    continue  # none, an array that is already a variable (g itself), or one the engine drops
                if i >= len(bwd) or bwd[i] is None:
                    raise AssertionError(f"ag.compile: {fn.name}'s py_backward has no entry for input {i}")
                ins: list[Var] = []
                sources: dict[str, Any] = {str(j): x for j, x in enumerate(items)}
                sources["g"], sources["out"] = g, out_var
                temps: list[Var] = []
                text = self.form(bwd[i], sources, ins, fn, op.params, statics, temps)
                var = self.new("grad", gv.obj)
                self.vars[gv] = var
                instr = self.emit(text, ins, [var, *temps], True, f"{fn.name}'", kind="vjp", foldable=True)
                instr.op, instr.index = op, i
            return
        f = self.fn_vars[op]
        ins = [f]
        g_src = self.placeholder(g, ins)
        srcs = self.sources(items, ins)
        if e.tensors is not None:  # under create_graph: called again as it was, with Tensors where it had them
            wrap = ["as_tensor({})".format if t else str for t in e.tensors]
            out_src = wrap[1](self.placeholder(out_var, ins))
            args = [wrap[0](g_src), out_src] + [wrap[2 + j](x) for j, x in enumerate(srcs)]
            self.vjp_call(e, fn, f"{{i0}}.backward({', '.join(args)})", ins)
            return
        saves_in, saves_out = fn.saves_inputs, fn.saves_output
        tracked = sum(p is not None for p in fn.parents)
        if out_var.shape != () and not (saves_in is True or (saves_in and tracked > 1)):
            for j, a in enumerate(op.args):  # the node keeps stand-ins of the tracked inputs its VJP does not read
                if fn.parents[j] is not None:
                    srcs[j] = self.names.constant(_function._stand_in(np.asarray(self.trace_value(a))), "stand_in")
        if out_var.shape != () and not saves_out:
            out_src = self.names.constant(_function._stand_in(op.out.array), "stand_in")
        else:
            out_src = self.placeholder(out_var, ins)
        self.vjp_call(e, fn, f"{{i0}}.backward({g_src}, {out_src}" + "".join(f", {x}" for x in srcs) + ")", ins)

    def vjp_call(self, e: VjpEvent, fn: Any, call: str, ins: list[Var]) -> None:
        outs: list[Var] = []
        targets = []
        for gv in e.grads:
            if gv is None or gv in self.vars:
                targets.append("_")
            else:
                var = self.new("grad", gv.obj)
                self.vars[gv] = var
                outs.append(var)
                targets.append(f"{{o{len(outs) - 1}}}")
        lhs = ", ".join(targets) + ("," if len(targets) == 1 else "") if e.tupled else targets[0]
        self.emit([f"{lhs} = {call}"], ins, outs, True, f"{fn.name}'", kind="vjpcall")

    def step(self, e: StepEvent) -> None:
        k, info = e.kind, e.info
        if k == "constant":
            self.vars[e.out] = self.const(info, self.names.constant(info, "one"))
            return
        if k == "captured":
            self.vars[e.out] = self.new("data", info)
            self.vars[e.out].const = self.names.name(info)
            return
        if k == "tensor":
            self.vars[e.out] = self.var(e.inputs[0])
            return
        out = self.new("grad", e.out.obj)
        self.vars[e.out] = out
        ins = [self.var(v) for v in e.inputs]
        if k == "sum_to":
            text = [f"{{o0}} = {_sum_to_source(np.asarray(e.inputs[0].obj), info, self.names)}"]
        elif k == "cast":
            text = [f"{{o0}} = {{i0}}.astype({self.names.literal(info)})"]
        elif k == "add":
            text = ["{o0} = {i0} + {i1}"]
        elif k == "data":
            text = [f"{{o0}} = {self.names.name(info)}.data"]
        elif k == "asarray":
            grad, dtype = info
            text = [f"{{o0}} = np.asarray({self.names.name(grad)}).astype({self.names.literal(dtype)}, copy=False)"]
        elif k == "zeros":
            shape, dtype = info
            text = [f"{{o0}} = np.zeros({self.names.literal(shape)}, {self.names.literal(dtype)})"]
        elif k == "copy":
            text = [f"{{o0}} = np.array({{i0}}, dtype={self.names.literal(info)})"]
        else:
            raise AssertionError(f"ag.compile: unknown engine step {k!r}")
        self.emit(text, ins, [out], True, k, kind="step", foldable=k in ("sum_to", "cast", "add"))

    def grad(self, e: GradEvent) -> None:
        g = self.var(e.g)
        leaf, lv = e.leaf, e.leaf_value
        out = self.new("grad", e.out.obj)
        self.vars[e.out] = out
        if lv is None or lv.input is not None:  # a captured tensor or an argument: its .grad, at run time
            ins = [g]
            target = self.names.name(leaf) if lv is None else self.placeholder(self.args[lv.input], ins)  # type: ignore[index]
            owned = e.owned and g.const is None  # a folded constant is never handed out
            what = f"{leaf.name or getattr(leaf, 'module_name', None) or target}.grad"
            text = [f"{{o0}} = accumulate({target}, {{i0}}, {owned})"]
            self.emit(text, ins, [out], False, f"+= {what}", kind="grad").obj = leaf if lv is None else None
            return
        # a leaf made inside the function: its .grad is the program's own variable
        before = self.local_grads.get(id(leaf))
        dtype = self.names.literal(leaf.data.dtype)
        if before is None:
            adopt = e.owned and g.kind == "array" and g.const is None
            text = ["{o0} = {i0}" if adopt else f"{{o0}} = np.array(np.asarray({{i0}}), dtype={dtype})"]
            self.emit(text, [g], [out], True, "grad", kind="step")
        else:
            self.emit(["{i1} += {i0}", "{o0} = {i1}"], [g, before], [out], False, "grad", kind="grad")
        self.local_grads[id(leaf)] = out

    def effect(self, e: EffectEvent) -> None:
        ins: list[Var] = []
        args = [self.slot(a, ins) for a in e.args] + [f"{k}={self.slot(v, ins)}" for k, v in e.kwargs.items()]
        call = f"{self.names.name(e.fn)}({', '.join(args)})"
        outs: list[Var] = []
        results = e.results
        if type(results) is Traced:
            var = self.new("result", results.value.obj)
            self.vars[results.value] = var
            outs.append(var)
            text = [f"{{o0}} = {call}" + (".data" if results.tensor else "")]
        elif (
            type(results) is Nested
            and results.kind in (tuple, list)
            and all(type(r) in (Traced, Constant) and not (type(r) is Traced and r.tensor) for r in results.items)
        ):
            targets = []
            for r in results.items:
                if type(r) is Traced:
                    var = self.new("result", r.value.obj)
                    self.vars[r.value] = var
                    outs.append(var)
                    targets.append(f"{{o{len(outs) - 1}}}")
                else:
                    targets.append("_")
            text = [f"{', '.join(targets)}{',' if len(targets) == 1 else ''} = {call}"]
        elif type(results) is Constant:
            text = [call]
        else:
            raise NotImplementedError(
                f"ag.compile: the effect {getattr(e.fn, '__qualname__', e.fn)} returned {type(results).__name__} "
                "holding tensors in a nested structure; return an array, a Tensor or a flat tuple of arrays"
            )
        instr = self.emit(text, ins, outs, False, getattr(e.fn, "__name__", "effect").strip("_"), kind="effect")
        owner, method = getattr(e.fn, "__self__", None), getattr(e.fn, "__name__", "")
        describe = getattr(owner, "python_effect", None)
        if callable(describe) and all(type(a) is Constant for a in e.args) and not e.kwargs:
            instr.effect = describe(method, tuple(a.value for a in e.args))  # (ag.compile may write it out)
            if instr.effect and "updates" in instr.effect and not outs:
                instr.text = [f"# {type(owner).__name__}.step(), written out"] + self.updates(instr.effect)
        self.data.clear()  # the effect may have changed any tensor's data: read it again

    def updates(self, what: dict[str, Any]) -> list[str]:
        """An optimizer's step written out: for each parameter with a gradient (checked as the step
        checks it), weight decay, the rule's ``py_update``, the version bump; what ``step`` does,
        without its loop."""
        lines = []
        refuse = self.names.name(what["refuse"], "refuse")
        for k, (p, state, group) in enumerate(what["updates"]):
            P, S, G = self.names.name(p), self.names.name(state, "state"), self.names.name(group, "group")
            g = f"_g{k}"
            names = {"p": f"{P}.data", "g": g}
            names.update({key: f"{G}[{key!r}]" for key in group if key != "params"})
            names.update({key: f"{S}[{key!r}]" for key in state})
            names.update({f"t{j}": f"_t{k}_{j}" for j in range(4)})
            lines += [
                f"{g} = {P}.grad",
                f"if {g} is not None:",
                f"    if not isinstance({g}, np.ndarray) or {g}.shape != {P}.data.shape:",
                f"        raise {refuse}({P}, {g})",
                f"    if {G}['weight_decay']:",
                f"        {g} = {g} + {G}['weight_decay'] * {P}.data",
                *("    " + line.format(**names) for line in what["form"]),
                f"    bump({P}.data)",
            ]
        return lines

    def slot(self, s: Any, ins: list[Var]) -> str:
        if type(s) is Traced:
            src = self.placeholder(self.var(s.value), ins)
            if s.tensor and not (s.value.producer is None and s.value.input is not None):
                return f"as_tensor({src})"
            if s.tensor:  # an argument Tensor: the object itself
                return self.placeholder(self.args[s.value.input], ins)  # type: ignore[index]
            return src
        if type(s) is Nested:
            if s.kind is dict:
                return "dict(" + ", ".join(f"{k}={self.slot(v, ins)}" for k, v in s.items) + ")"
            items = [self.slot(v, ins) for v in s.items]
            if s.kind is tuple:
                return f"({items[0]},)" if len(items) == 1 else "(" + ", ".join(items) + ")"
            return "[" + ", ".join(items) + "]"
        return self.names.literal(s.value)


def _sum_to_source(g: np.ndarray, shape: tuple[int, ...], names: Names) -> str:
    """``engine.sum_to(g, shape)`` written out for ``g``'s shape (known when the program is made)."""
    lead = g.ndim - len(shape)
    if lead < 0:
        return f"np.broadcast_to({{i0}}, {names.literal(shape)})"
    gshape = g.shape
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and gshape[lead + i] != 1)
    src = "{i0}"
    if axes:
        src = f"{src}.sum(axis={names.literal(axes)}, keepdims=True)"
    return f"{src}.reshape({names.literal(shape)})" if lead else src


__all__ = ["Var", "Instr", "Program", "Builder"]
