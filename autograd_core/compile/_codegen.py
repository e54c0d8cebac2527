"""Python source from a :class:`~._ir.Program`: one function of the call's inputs, straight-line
NumPy code with the guards first, each variable deleted after its last use (so memory is freed
as the engine frees it), comments naming the user's lines; very large programs are split into
functions of a few thousand lines, which call each other in turn."""

from __future__ import annotations

import itertools
import linecache
import os
from collections.abc import Callable
from typing import Any

from ._ir import Instr, Program, Var

#: Instructions per function before a program is split.
CHUNK = 2000
_ids = itertools.count(1)


class Generated:
    """A program's source and its Python function; ``where(lineno)`` names the instruction at a line."""

    def __init__(self, source: str, fn: Callable[..., Any], filename: str, lines: dict[tuple[str, int], Instr]) -> None:
        self.source = source
        self.fn = fn
        self.filename = filename
        self.lines = lines


_PREFIX = {"value": "v", "grad": "g", "fn": "f", "data": "d", "temp": "t", "result": "r", "arg": "a"}


def _name_vars(program: Program) -> None:
    counters: dict[str, itertools.count[int]] = {}
    for instr in program.instrs:
        for v in instr.outs:
            if v.name is None and v.const is None:
                prefix = _PREFIX.get(v.role, "v")
                counter = counters.setdefault(prefix, itertools.count(1))
                v.name = f"{prefix}{next(counter)}"


def _render(instr: Instr) -> list[str]:
    names: dict[str, str] = {}
    for i, v in enumerate(instr.ins):
        names[f"i{i}"] = v.const if v.const is not None else v.name  # type: ignore[assignment]
    for i, v in enumerate(instr.outs):
        names[f"o{i}"] = v.name  # type: ignore[assignment]
        if v.role == "temp":
            names[f"t{v.value}"] = v.name  # type: ignore[assignment]
    return [line.format(**names) for line in instr.text]


def render_output(spec: Any) -> str:
    """The return expression of the structure ``spec`` (see ``compile._outputs``)."""
    kind = spec[0]
    if kind == "tensor":
        return f"as_tensor({spec[1].name if spec[1].const is None else spec[1].const})"
    if kind == "float":
        return f"{spec[1].name if spec[1].const is None else spec[1].const}.item()"
    if kind == "var":
        return spec[1].name if spec[1].const is None else spec[1].const
    if kind == "const":
        return spec[1]
    if kind == "tuple":
        items = [render_output(s) for s in spec[1]]
        return f"({items[0]},)" if len(items) == 1 else "(" + ", ".join(items) + ")"
    if kind == "list":
        return "[" + ", ".join(render_output(s) for s in spec[1]) + "]"
    if kind == "dict":
        return "{" + ", ".join(f"{k}: {render_output(s)}" for k, s in spec[1]) + "}"
    if kind == "named":
        return f"{spec[1]}(" + ", ".join(render_output(s) for s in spec[2]) + ")"
    raise AssertionError(kind)


def output_vars(spec: Any) -> list[Var]:
    kind = spec[0]
    if kind in ("tensor", "float", "var"):
        return [spec[1]]
    if kind in ("tuple", "list"):
        return [v for s in spec[1] for v in output_vars(s)]
    if kind == "dict":
        return [v for _, s in spec[1] for v in output_vars(s)]
    if kind == "named":
        return [v for s in spec[2] for v in output_vars(s)]
    return []


def _comment(where: tuple[str, int, str, str] | None) -> str:
    if where is None:
        return ""
    file, line, _, code = where
    return f"# {os.path.basename(file)}:{line}" + (f"  {code}" if code else "")


def generate(program: Program, title: str) -> Generated:
    """The source of ``program`` and its function ``run(a0, a1, ...)``."""
    _name_vars(program)
    instrs = program.instrs
    outputs = output_vars(program.output)
    last: dict[int, int] = {}  # var -> index of the instruction that reads it last
    for k, instr in enumerate(instrs):
        for v in instr.ins:
            last[v.n] = k
        for v in instr.outs:
            last.setdefault(v.n, k)  # written and never read: dropped at once
    end = len(instrs)
    for v in outputs:
        last[v.n] = end
    args = ", ".join(a.name for a in program.args)  # type: ignore[misc]
    filename = f"<ag.compile {title} #{next(_ids)}>"
    chunks = [instrs[i : i + CHUNK] for i in range(0, len(instrs), CHUNK)] or [[]]
    split = len(chunks) > 1
    lines: list[str] = [f"# ag.compile: {title}"]
    where_of: dict[tuple[str, int], Instr] = {}
    # variables read in a later chunk than the one that writes them live in a list, S
    slot_of: dict[int, int] = {}
    if split:
        chunk_of = {}
        for c, chunk in enumerate(chunks):
            for instr in chunk:
                for v in instr.outs:
                    chunk_of[v.n] = c
        for c, chunk in enumerate(chunks):
            for instr in chunk:
                for v in instr.ins:
                    if v.const is None and v.role != "arg" and chunk_of.get(v.n, c) != c and v.n not in slot_of:
                        slot_of[v.n] = len(slot_of)
        for v in outputs:
            if v.const is None and v.role != "arg" and v.n not in slot_of:
                slot_of[v.n] = len(slot_of)
        for instr in instrs:
            for v in (*instr.ins, *instr.outs):
                if v.n in slot_of:
                    v.name = f"S[{slot_of[v.n]}]"
    body_fns: list[tuple[str, list[str]]] = []
    for c, chunk in enumerate(chunks):
        body: list[str] = []
        if c == 0 and program.guards:
            guard = "if not (" + " and\n        ".join(program.guards) + "):"
            body.extend(guard.split("\n"))
            body.append("    raise Retrace")
        comment = None
        base = c * CHUNK
        for j, instr in enumerate(chunk):
            k = base + j
            note = _comment(instr.where)
            if note and note != comment:
                body.append(note)
                comment = note
            rendered = _render(instr)
            if not instr.pure and len(instr.outs) == 1 and last.get(instr.outs[0].n) == k:
                name = instr.outs[0].name  # an effect whose result nothing reads: the call alone
                rendered = [t[len(name) + 3 :] if t.startswith(f"{name} = ") else t for t in rendered]
                rendered = [t for t in rendered if t != name]
            for text in rendered:
                for line in text.split("\n"):
                    body.append(line)
                    where_of[(f"chunk{c}", len(body))] = instr
            dead = []
            for v in (*instr.ins, *instr.outs):
                if v.const is None and v.role != "arg" and last.get(v.n) == k and v.name not in dead:
                    dead.append(v.name)
            if not instr.pure and len(instr.outs) == 1 and last.get(instr.outs[0].n) == k:
                dead = [n for n in dead if n != instr.outs[0].name]
            if dead:
                singles = [n for n in dead if not n.startswith("S[")]
                slots = [n for n in dead if n.startswith("S[")]
                if singles:
                    body.append("del " + ", ".join(singles))
                for n in slots:
                    body.append(f"{n} = None")
        body_fns.append((f"chunk{c}", body))
    out_expr = render_output(program.output)
    if not split:
        name, body = body_fns[0]
        fn_lines = [f"def run({args}):"] + ["    " + b for b in body] + [f"    return {out_expr}"]
        offsets = {name: 1}
    else:
        fn_lines = []
        offsets = {}
        for name, body in body_fns:
            offsets[name] = len(fn_lines) + 1
            fn_lines.append(f"def {name}(S, {args}):")
            fn_lines += ["    " + b for b in body] or ["    pass"]
            fn_lines.append("")
        fn_lines.append(f"def run({args}):")
        fn_lines.append(f"    S = [None] * {len(slot_of)}")
        for name, _ in body_fns:
            fn_lines.append(f"    {name}(S, {args})")
        fn_lines.append(f"    return {out_expr}")
    header_len = len(lines)
    source = "\n".join(lines + fn_lines) + "\n"
    lines_map = {(filename, header_len + offsets[chunk] + n): instr for (chunk, n), instr in where_of.items()}
    code = compile(source, filename, "exec")
    namespace = program.names.globals
    exec(code, namespace)
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    return Generated(source, namespace["run"], filename, lines_map)
