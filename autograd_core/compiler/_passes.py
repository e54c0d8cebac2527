"""What a compiler does to a program, each only where it keeps the bits: dead code removed
(gradients nobody reads, values only a removed op used), common subexpressions shared, arrays
written in place (``out=``) where no one else holds them. (Constants are folded as the program is
built: ``_ir.Builder.fold``.)"""

from __future__ import annotations

import ast
import re
from typing import Any

from ._codegen import output_vars
from ._ir import Instr, Program


def eliminate_dead_code(program: Program) -> int:
    """Remove the pure instructions whose results nothing reads (the outputs, an effect, a ``.grad``,
    another kept instruction). Returns how many were removed."""
    needed = {v.n for v in output_vars(program.output)}
    kept: list[Instr] = []
    for instr in reversed(program.instrs):
        if not instr.pure or any(v.n in needed for v in instr.outs if v.role != "temp"):
            kept.append(instr)
            needed.update(v.n for v in instr.ins)
    removed = len(program.instrs) - len(kept)
    kept.reverse()
    program.instrs = kept
    return removed


def share_common_subexpressions(program: Program) -> int:
    """Make an instruction that computes what an earlier one computed (the same source on the same
    variables, both written out from source forms) use the earlier result. Effects and accumulations
    may change arrays in place, so nothing is shared across them."""
    seen: dict[Any, Instr] = {}
    alias: dict[int, Any] = {}
    kept: list[Instr] = []
    shared = 0
    for instr in program.instrs:
        if alias:
            instr.ins = [alias.get(v.n, v) for v in instr.ins]
        if not instr.pure:
            seen.clear()
            kept.append(instr)
            continue
        if instr.kind not in ("op", "vjp", "step") or any(v.role == "temp" for v in instr.outs):
            kept.append(instr)
            continue
        key = (tuple(instr.text), tuple(v.n for v in instr.ins))
        first = seen.get(key)
        if first is None:
            seen[key] = instr
            kept.append(instr)
            continue
        for mine, theirs in zip(instr.outs, first.outs):
            alias[mine.n] = theirs
        shared += 1
    if shared:
        program.instrs = kept
        _realias_outputs(program, alias)
    return shared


def _realias_outputs(program: Program, alias: dict[int, Any]) -> None:
    def walk(spec: Any) -> Any:
        kind = spec[0]
        if kind in ("tensor", "float", "var"):
            return (kind, alias.get(spec[1].n, spec[1]))
        if kind in ("tuple", "list"):
            return (kind, [walk(s) for s in spec[1]])
        if kind == "dict":
            return (kind, [(k, walk(s)) for k, s in spec[1]])
        if kind == "named":
            return (kind, spec[1], [walk(s) for s in spec[2]])
        return spec

    program.output = walk(program.output)


# ============================================================== in place: out= where no one else holds the array

_BINARY = {ast.Add: "add", ast.Sub: "subtract", ast.Mult: "multiply", ast.Div: "divide"}
_UNARY_UFUNCS = {"exp", "log", "log1p", "expm1", "sqrt", "sin", "cos", "tanh", "abs", "absolute", "negative", "square"}
_PLACEHOLDER = re.compile(r"\{i(\d+)\}")


class _Form:
    """What the in-place pass knows of one statement text: whether it makes a new array, and, for an
    elementwise one, its ufunc and for each input that may be its ``out``, the rewritten text."""

    __slots__ = ("fresh", "rewrites")

    def __init__(self, text: str) -> None:
        self.fresh = False
        self.rewrites: dict[int, str] = {}  # input placeholder -> the text writing into it
        source = _PLACEHOLDER.sub(r"_i\1", text[7:]) if text.startswith("{o0} = ") else ""
        if not source or "{" in source:
            return
        try:
            expr = ast.parse(source, mode="eval").body
        except SyntaxError:
            return
        self.fresh = _fresh(expr)
        if not self.fresh:
            return
        if isinstance(expr, ast.BinOp) and type(expr.op) in _BINARY:
            operands, ufunc = [expr.left, expr.right], _BINARY[type(expr.op)]
        elif isinstance(expr, ast.UnaryOp):
            operands, ufunc = [expr.operand], "negative"
        elif isinstance(expr, ast.Call) and len(expr.args) == 1 and not expr.keywords:
            operands, ufunc = [expr.args[0]], expr.func.attr  # type: ignore[attr-defined]
        else:
            return
        args = ", ".join(_unparse(o) for o in operands)
        for node in operands:
            i = _name(node)
            if i is not None:
                self.rewrites.setdefault(i, f"{{o0}} = np.{ufunc}({args}, out={{i{i}}})")


def _form(instr: Instr, cache: dict[str, _Form]) -> _Form | None:
    if len(instr.text) != 1 or instr.kind not in ("op", "vjp", "step"):
        return None
    text = instr.text[0]
    form = cache.get(text)
    if form is None:
        form = cache[text] = _Form(text)
    return form


def _fresh(expr: ast.expr | None) -> bool:
    """Whether an expression's value is a new array: arithmetic, a ufunc, a product (never a view)."""
    if isinstance(expr, ast.BinOp):
        return type(expr.op) in (*_BINARY, ast.MatMult, ast.Pow)
    if isinstance(expr, ast.UnaryOp):
        return isinstance(expr.op, ast.USub)
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) and isinstance(expr.func.value, ast.Name):
        return expr.func.value.id == "np" and (expr.func.attr in _UNARY_UFUNCS or expr.func.attr in _BINARY.values())
    return False


def _name(node: ast.expr) -> int | None:
    """The input a bare placeholder stands for."""
    if isinstance(node, ast.Name) and node.id.startswith("_i") and node.id[2:].isdigit():
        return int(node.id[2:])
    return None


def _unparse(node: ast.expr) -> str:
    return re.sub(r"\b_i(\d+)\b", r"{i\1}", ast.unparse(node))


def write_in_place(program: Program) -> int:
    """Give an elementwise operation its input's array as ``out=`` where that input dies there and no
    one else holds it: a new array the program made (arithmetic, a ufunc, a product), read only by
    operations that make new arrays (no view of it lives on), never passed to a call, an effect, a
    ``.grad`` or the outputs, of the result's shape and dtype, not a scalar. NumPy computes the same
    values into ``out``. Returns how many operations write in place."""
    instrs = program.instrs
    cache: dict[str, _Form] = {}
    forms = [_form(i, cache) for i in instrs]
    fresh: set[int] = set()  # variables holding new arrays no one else holds
    readers: dict[int, list[int]] = {}
    for k, instr in enumerate(instrs):
        for v in instr.ins:
            readers.setdefault(v.n, []).append(k)
        form = forms[k]
        if form is not None and form.fresh and len(instr.outs) == 1:
            fresh.add(instr.outs[0].n)
    outputs = {v.n for v in output_vars(program.output)}
    done = 0
    for k, (instr, form) in enumerate(zip(instrs, forms)):
        if form is None or not form.rewrites or not instr.pure:
            continue
        out = instr.outs[0]
        if out.kind != "array" or not out.shape:
            continue
        for i, text in form.rewrites.items():
            x = instr.ins[i]
            if (
                x.n not in fresh
                or x.n in outputs
                or x.const is not None
                or x.kind != "array"
                or x.shape != out.shape
                or x.dtype != out.dtype
                or readers[x.n][-1] != k
                or not all(instrs[j].pure and forms[j] is not None and forms[j].fresh for j in readers[x.n])  # type: ignore[union-attr]
            ):
                continue
            instr.text = [text]
            fresh.add(out.n)
            done += 1
            break
    return done
