"""The scalar path: a program whose values are all 0-d float64 computes on Python floats.

A NumPy 0-d array costs about ten times more per operation than a float, and ``+ - * /``,
negation and comparisons give the same bits on both (IEEE 754 double arithmetic, the same
hardware instructions); anything else is the same NumPy function, called on a float
(``float(np.exp(x))``), and powers follow NumPy's own rules for an array's ``x ** 2``,
``x ** 0.5``, ``x ** -1`` (a product, a square root, a reciprocal). Shape ops on 0-d values
are the values themselves. Nothing is written while the floats are computed: the changes of
state the program makes (the accumulation into ``.grad``, an optimizer's update written out
from its ``py_update``, ``zero_grad``) are kept in floats and written back once, at the end.
Where NumPy would warn (a division by zero, an overflow, an invalid value: any result that
is not finite) or Python would raise, the call runs the array program instead, from the
start, so that it warns (or raises, under ``np.errstate``) exactly as eager code.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..ops import compare as _cmp
from ..ops import elementwise as _ew
from ..ops import reduce as _reduce
from ..ops import shape as _shape
from ..tensor import Tensor
from ..tracing import CapturedArray, CapturedTensor, Constant
from ._codegen import output_vars, render_output
from ._ir import Instr, Program, Var

#: Ops that are their input on 0-d values, forward and backward.
IDENTITY = (_shape.Reshape, _shape.Transpose, _shape.BroadcastTo, _reduce.Sum, _reduce.Mean, _ew.Detach, _ew.Clone)


class NotScalar(Exception):
    """The program is not one the scalar path can run (the message says why)."""


def pow_array(a: float, b: Any) -> float:
    """``a ** b`` for ``a`` a 0-d float64 array and ``b`` a number, as NumPy computes it: its fast
    paths for the exponents 2, 0.5, -1, 1 and 0, else the C library's ``pow``."""
    if b == 2:
        return a * a
    if b == 0.5:
        return math.sqrt(a)
    if b == -1:
        return 1.0 / a
    if b == 1:
        return a
    if b == 0:
        return 1.0
    return math.pow(a, b)


class _Scalar:
    def __init__(self, program: Program) -> None:
        self.program = program
        self.names = program.names
        self.lines: list[str] = []
        self.local: dict[int, str] = {}  # var -> its float's name (or a constant's literal)
        self.floats: list[str] = []  # every float computed (checked to be finite)
        self.data: dict[int, tuple[Tensor, str]] = {}  # id(tensor) -> (tensor, the local holding its value)
        self.changed: dict[int, Tensor] = {}  # tensors whose data the program changes
        self.grads: dict[int, tuple[Tensor, str, str]] = {}  # id(tensor) -> (tensor, state, local or "")
        self.state: dict[tuple[int, str], tuple[Any, str, str]] = {}  # (id(dict), key) -> (dict, local, kind)
        self.bumps: list[Tensor] = []
        self.count = 0

    def fresh(self, stem: str = "s") -> str:
        self.count += 1
        return f"{stem}{self.count}"

    def src(self, v: Var) -> str:
        if v.const is not None:
            value = v.value if v.value is not None else self.names.globals.get(v.const)
            if (
                isinstance(value, (np.ndarray, np.generic, float, int))
                and np.shape(value) == ()
                and not isinstance(value, bool)
            ):
                if np.asarray(value).dtype != np.float64:
                    raise NotScalar(f"a constant of dtype {np.asarray(value).dtype}")
                return repr(float(value))
            raise NotScalar("a constant that is not a number")
        name = self.local.get(v.n)
        if name is None:
            raise NotScalar(f"{v} is read before it is made")
        return name

    def define(self, v: Var, expr: str, check: bool = True) -> None:
        name = v.name or self.fresh()
        name = "f_" + name
        self.lines.append(f"{name} = {expr}")
        self.local[v.n] = name
        if check:
            self.floats.append(name)

    # ------------------------------------------------------------------ instructions
    def instr(self, instr: Instr) -> None:
        for v in (*instr.ins, *instr.outs):
            if v.role in ("fn", "arg"):
                raise NotScalar("a call of an op's forward or backward, or an argument")
            if v.shape not in ((), None) or (v.dtype is not None and v.dtype not in (np.float64, np.bool_)):
                raise NotScalar(f"a value of shape {v.shape}, {v.dtype}")
        kind = instr.kind
        if kind == "read":
            self.read(instr)
        elif kind in ("op", "vjp"):
            self.form(instr)
        elif kind == "step":
            self.step(instr)
        elif kind == "grad":
            self.grad(instr)
        elif kind == "effect":
            self.effect(instr)
        else:
            raise NotScalar(f"an instruction of kind {kind}")

    def value_of(self, t: Tensor) -> str:
        """The local holding ``t``'s value (read from its data when first needed)."""
        found = self.data.get(id(t))
        if found is None:
            if t.data.shape != () or t.data.dtype != np.float64:
                raise NotScalar(f"a tensor of shape {t.data.shape}, {t.data.dtype}")
            name = self.fresh("w")
            self.lines.append(f"{name} = {self.names.name(t)}.data.item()")
            self.data[id(t)] = (t, name)
            return name
        return found[1]

    def read(self, instr: Instr) -> None:
        if instr.obj is None or not isinstance(instr.obj, Tensor):
            raise NotScalar("a read of an argument")
        self.local[instr.outs[0].n] = self.value_of(instr.obj)

    def form(self, instr: Instr) -> None:
        e = instr.op
        fn = e.fn if e is not None else None
        out = instr.outs[0]
        if any(v.role == "temp" for v in instr.outs):
            raise NotScalar("a source form with temporaries")
        if isinstance(fn, IDENTITY) or (isinstance(fn, _shape.GetItem) and fn.index == ()):
            self.local[out.n] = self.src(instr.ins[0])  # the value itself
            return
        if isinstance(fn, _ew.Power):
            self.power(instr, e)
            return
        names = {f"i{i}": self.src(v) for i, v in enumerate(instr.ins)}
        names["o0"] = "_OUT_"
        (line,) = instr.text if len(instr.text) == 1 else (None,)
        if line is None or not line.startswith("{o0} = "):
            raise NotScalar("a source form of several statements")
        expr = line[7:].format(**names)
        if expr.startswith("np.asarray(") and expr.endswith(")"):
            expr = expr[len("np.asarray(") : -1]  # (apply's array of a 0-d result: here a float)
        if "_float_output(" in expr or "expand(" in expr or "unindex(" in expr or "sum_to(" in expr:
            raise NotScalar(f"{instr.label} on integers or shapes")
        if "np." in expr and not isinstance(fn, _cmp.Comparison):
            expr = f"float({expr})"  # a NumPy function of a float: the same function, made a float again
        elif "np." in expr:
            expr = f"bool({expr})"
        self.define(out, expr, check=out.dtype != np.bool_)

    def power(self, instr: Instr, e: Any) -> None:
        """``a ** b`` and its derivative for ``b`` a number (an array exponent is not scalar-safe)."""
        b = e.args[1]
        if type(b) is not Constant or type(b.value) not in (int, float):
            raise NotScalar("a power with an array exponent")
        a = instr.ins[0] if instr.index < 0 else None
        out = instr.outs[0]
        b_src = repr(b.value)
        base_kind = self.program_kind(e.args[0])
        if instr.index < 0:  # the forward: the base is what forward got, an array
            base = self.src(a)  # type: ignore[arg-type]
            if base_kind == "array":
                self.define(out, f"{base} * {base}" if b.value == 2 else f"pow_array({base}, {b_src})")
            else:
                self.define(out, f"{base} ** {b_src}")
            return
        names = {f"i{i}": self.src(v) for i, v in enumerate(instr.ins)}
        line = instr.text[0][7:].format(**names)
        if "**" in line:  # g * b * a ** (b - 1): the base is the array forward got
            g, x = names["i0"], names.get("i1")
            if x is None:
                raise NotScalar("a power's derivative without its input")
            line = f"{g} * {b_src} * pow_array({x}, {b_src} - 1)"
        self.define(out, line)

    @staticmethod
    def program_kind(arg: Any) -> str:
        """Whether an op's argument was an array (a Tensor's data: NumPy's array rules) or a NumPy scalar."""
        if type(arg) in (CapturedTensor, CapturedArray):
            return "array"
        obj = getattr(getattr(arg, "value", None), "obj", None)
        return "array" if isinstance(obj, (Tensor, np.ndarray)) else "scalar"

    def step(self, instr: Instr) -> None:
        out = instr.outs[0]
        if instr.label == "add":
            self.define(out, f"{self.src(instr.ins[0])} + {self.src(instr.ins[1])}")
        elif instr.label == "sum_to":
            self.local[out.n] = self.src(instr.ins[0])
        else:
            raise NotScalar(f"the engine's step {instr.label}")

    def grad(self, instr: Instr) -> None:
        leaf = instr.obj
        if leaf is None:
            raise NotScalar("an accumulation into an argument's .grad")
        if leaf.data.shape != () or leaf.data.dtype != np.float64:
            raise NotScalar("a gradient that is not a scalar")
        g = self.src(instr.ins[0])
        state = self.grads.get(id(leaf))
        if state is None:  # .grad as it was before the call: None, or an array the program adds into
            before = self.fresh("grad")
            name = self.fresh("g")
            self.lines.append(f"{before} = {self.names.name(leaf)}.grad")
            self.lines.append(f"{name} = {g} if {before} is None else {before}.item() + {g}")
            self.grads[id(leaf)] = (leaf, before, name)
        elif state[1] == "none":
            name = self.fresh("g")
            self.lines.append(f"{name} = {g}")
            self.grads[id(leaf)] = (leaf, "new", name)
        else:
            name = self.fresh("g")
            self.lines.append(f"{name} = {state[2]} + {g}")
            self.grads[id(leaf)] = (leaf, state[1], name)
        self.floats.append(name)
        self.local[instr.outs[0].n] = name

    def effect(self, instr: Instr) -> None:
        what = instr.effect
        if not what:
            raise NotScalar(f"the effect {instr.label}, which says nothing of what it does")
        if "forget_grads" in what:
            for p in what["forget_grads"]:
                self.grads[id(p)] = (p, "none", "")
            return
        if "updates" not in what:
            raise NotScalar(f"the effect {instr.label}")
        for p, state, group in what["updates"]:
            known = self.grads.get(id(p))
            if known is None:
                raise NotScalar("an update whose gradient the program does not know")
            if known[1] == "none":
                continue  # eager: no gradient, no update
            self.update(p, state, group, known[2], what["form"])

    def update(self, p: Tensor, state: dict[str, Any], group: dict[str, Any], g: str, form: tuple[str, ...]) -> None:
        value = self.value_of(p)
        grp = self.names.name(group, "group")
        wd, decay = self.fresh("g"), self.fresh("decay")
        self.lines.append(f"{decay} = {grp}['weight_decay']")
        self.lines.append(f"{wd} = {g} + {decay} * {value} if {decay} else {g}")
        names: dict[str, str] = {"p": value, "g": wd}
        for key in group:
            if key != "params":
                names[key] = f"{grp}[{key!r}]"
        st = self.names.name(state, "state")
        for key, entry in state.items():
            slot = self.state.get((id(state), key))
            if slot is None:
                local = self.fresh(key)
                if isinstance(entry, np.ndarray):
                    if entry.shape != () or entry.dtype != np.float64:
                        raise NotScalar("an optimizer's state that is not a scalar")
                    self.lines.append(f"{local} = {st}[{key!r}].item()")
                    kind = "array"
                elif type(entry) in (int, float):
                    self.lines.append(f"{local} = {st}[{key!r}]")
                    kind = "number"
                else:
                    raise NotScalar("an optimizer's state of another kind")
                self.state[(id(state), key)] = (state, local, kind)
                slot = self.state[(id(state), key)]
            names[key] = slot[1]
        for k in range(4):
            names[f"t{k}"] = self.fresh("t")
        for line in form:
            self.lines.append(line.format(**names))
        self.floats.append(value)
        self.changed[id(p)] = p
        self.bumps.append(p)

    # ------------------------------------------------------------------ the function
    def source(self, title: str) -> str:
        for instr in self.program.instrs:
            self.instr(instr)
        out = self.program.output
        for v in output_vars(out):
            if v.const is None and v.n not in self.local:
                raise NotScalar("an output the floats do not hold")
            if v.kind != "array" and v.kind != "scalar" and v.kind != "float":
                raise NotScalar("an output that is not a number")
        for spec in _leaves(out):
            if spec[0] not in ("float", "const"):
                raise NotScalar("an output that is not a float")
        body = [f"# ag.compile: {title} (its values are all scalars: computed on Python floats, written back once)"]
        body.append("def run():")
        guards = self.program.guards
        if guards:
            body.append("    if not (" + " and\n            ".join(guards) + "):")
            body.append("        raise Retrace")
        body.append("    try:")
        body += ["        " + line for line in self.lines]
        if self.floats:
            body.append(f"        if not isfinite({' + '.join(dict.fromkeys(self.floats))}):")
            body.append("            return run_arrays()  # NumPy would warn: the array program does, from the start")
        body.append("    except (ArithmeticError, ValueError):")
        body.append("        return run_arrays()  # a division by zero, an overflow: the array program, from the start")
        for t, local in self.data.values():
            if id(t) in self.changed:
                body.append(f"    {self.names.name(t)}.data[()] = {local}")
        for t in self.bumps:
            body.append(f"    bump({self.names.name(t)}.data)")
        for t, state, local in self.grads.values():
            name = self.names.name(t)
            if state == "none":
                body.append(f"    {name}.grad = None")
            elif state == "new":
                body.append(f"    {name}.grad = np.array({local})")
            else:  # added into the array it held before the call, if any
                body.append(f"    if {state} is None:")
                body.append(f"        {name}.grad = np.array({local})")
                body.append("    else:")
                body.append(f"        {state}[()] = {local}")
        for (_, key), (state, local, kind) in self.state.items():
            st = self.names.name(state, "state")  # an array in place; a count (Adam's step) as a new int
            body.append(f"    {st}[{key!r}]" + ("[()]" if kind == "array" else "") + f" = {local}")
        saved = {v.n: v.name for v in output_vars(out)}
        for v in output_vars(out):
            if v.const is None:
                v.name = self.local[v.n]
        ret = render_output(out).replace(".item()", "")
        for v in output_vars(out):
            v.name = saved[v.n]
        body.append(f"    return {ret}")
        return "\n".join(body) + "\n"


def _leaves(spec: Any) -> list[Any]:
    kind = spec[0]
    if kind in ("tuple", "list"):
        return [x for s in spec[1] for x in _leaves(s)]
    if kind == "dict":
        return [x for _, s in spec[1] for x in _leaves(s)]
    if kind == "named":
        return [x for s in spec[2] for x in _leaves(s)]
    return [spec]


def scalar_source(program: Program, title: str) -> str | None:
    """The scalar program's source, or None when the program is not all scalars."""
    if program.args:
        return None
    try:
        return _Scalar(program).source(title)
    except NotScalar:
        return None
