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

import numpy as np

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
    if kind in ("tensor", "var") and spec[1].const is not None and isinstance(spec[1].value, np.ndarray):
        return f"{'as_tensor' if kind == 'tensor' else ''}(np.array({spec[1].const}))"  # a constant: a copy
    if kind == "tensor":
        return f"as_tensor({spec[1].name if spec[1].const is None else spec[1].const})"
    if kind == "float":  # (a Python float already, from an effect; else a NumPy scalar or a 0-d array)
        src = spec[1].name if spec[1].const is None else spec[1].const
        return src if spec[1].kind == "float" else f"{src}.item()"
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


def _last_uses(program: Program) -> tuple[dict[int, int], list[Var]]:
    """Each variable's last reader (an instruction's index; the outputs count as one more), and the outputs."""
    outputs = output_vars(program.output)
    last: dict[int, int] = {}
    for k, instr in enumerate(program.instrs):
        for v in instr.ins:
            last[v.n] = k
        for v in instr.outs:
            last.setdefault(v.n, k)  # written and never read: dropped at once
    end = len(program.instrs)
    for v in outputs:
        last[v.n] = end
    return last, outputs


def _lines(instr: Instr, k: int, last: dict[int, int]) -> list[str]:
    """An instruction's statements (an effect whose result nothing reads: the call alone)."""
    rendered = _render(instr)
    if not instr.pure and len(instr.outs) == 1 and last.get(instr.outs[0].n) == k:
        name = instr.outs[0].name
        rendered = [t[len(name) + 3 :] if t.startswith(f"{name} = ") else t for t in rendered]  # type: ignore[arg-type]
        rendered = [t for t in rendered if t != name]
    return [line for text in rendered for line in text.split("\n")]


def _dead(instr: Instr, k: int, last: dict[int, int]) -> list[Var]:
    dead: list[Var] = []
    for v in (*instr.ins, *instr.outs):
        if v.const is None and v.role != "arg" and last.get(v.n) == k and v not in dead:
            dead.append(v)
    if not instr.pure and len(instr.outs) == 1 and last.get(instr.outs[0].n) == k:
        dead = [v for v in dead if v is not instr.outs[0]]
    return dead


def _guard_lines(program: Program) -> list[str]:
    if not program.guards:
        return []
    return ("if not (" + " and\n        ".join(program.guards) + "):").split("\n") + ["    raise Retrace"]


#: Instructions above which a program is run by a loop over its instructions (each distinct kind of
#: statement compiled once) rather than compiled as Python: CPython's compile() takes about 9 µs a
#: line, 3 s for a 100,000-op chain, where the loop costs a fraction of a microsecond per instruction.
INTERPRET = 20000


def generate(program: Program, title: str) -> Generated:
    """The source of ``program`` and its function ``run(a0, a1, ...)``."""
    _name_vars(program)
    if len(program.instrs) > INTERPRET:
        return _interpreted(program, title)
    instrs = program.instrs
    last, outputs = _last_uses(program)
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
        body: list[str] = _guard_lines(program) if c == 0 else []
        comment = None
        base = c * CHUNK
        for j, instr in enumerate(chunk):
            k = base + j
            note = _comment(instr.where)
            if note and note != comment:
                body.append(note)
                comment = note
            for line in _lines(instr, k, last):
                body.append(line)
                where_of[(f"chunk{c}", len(body))] = instr
            dead = [v.name for v in _dead(instr, k, last)]
            singles = [n for n in dead if not n.startswith("S[")]  # type: ignore[union-attr]
            if singles:
                body.append("del " + ", ".join(singles))  # type: ignore[arg-type]
            body.extend(f"{n} = None" for n in dead if n.startswith("S["))  # type: ignore[union-attr]
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


class _Interpreted(Generated):
    """A program run by a loop over its instructions; its source is written when asked for."""

    def __init__(self, program: Program, fn: Callable[..., Any], filename: str, lines: Any, title: str) -> None:
        super().__init__("", fn, filename, lines)
        self._program, self._title = program, title

    @property  # type: ignore[override]
    def source(self) -> str:
        program = self._program
        last, _ = _last_uses(program)
        body = _guard_lines(program)
        comment = None
        for k, instr in enumerate(program.instrs):
            note = _comment(instr.where)
            if note and note != comment:
                body.append(note)
                comment = note
            body += _lines(instr, k, last)
            dead = [v.name for v in _dead(instr, k, last)]
            if dead:
                body.append("del " + ", ".join(dead))  # type: ignore[arg-type]
        args = ", ".join(a.name for a in program.args)  # type: ignore[misc]
        head = [
            f"# ag.compile: {self._title} ({len(program.instrs):,} instructions, run by a loop over them: this is what",
            "# each does, in order)",
            f"def run({args}):",
        ]
        return "\n".join(head + ["    " + b for b in body] + [f"    return {render_output(program.output)}"]) + "\n"

    @source.setter
    def source(self, value: str) -> None:
        pass


def _interpreted(program: Program, title: str) -> Generated:
    """A very large program as a table of steps, each a function of the slots list and its slots
    (``k3(S, 5, 6, 4)``: reads ``S[5]``, writes ``S[6]``, frees ``S[4]``), one function per distinct
    kind of statement and number of slots freed, compiled once, run by a loop."""
    instrs = program.instrs
    last, outputs = _last_uses(program)
    slot: dict[int, int] = {}
    for a in program.args:
        slot[a.n] = len(slot)
    for instr in instrs:
        for v in instr.outs:
            if v.const is None and v.role != "temp" and v.n not in slot:
                slot[v.n] = len(slot)
    kinds: dict[tuple[Any, ...], int] = {}
    table = []
    sources = []
    for k, instr in enumerate(instrs):
        ins, outs = instr.ins, instr.outs
        dead = tuple(slot[v.n] for v in _dead(instr, k, last) if v.n in slot)
        key = (
            tuple(instr.text),
            tuple(v.const for v in ins),
            tuple(v.value if v.role == "temp" else -1 for v in outs),
            len(dead),
        )
        reads = [i for i, v in enumerate(ins) if v.const is None]
        writes = [i for i, v in enumerate(outs) if v.role != "temp"]
        kind = kinds.get(key)
        if kind is None:
            kind = kinds[key] = len(kinds)
            names = {}
            for i, v in enumerate(ins):
                names[f"i{i}"] = v.const if v.const is not None else f"i{i}"
            for i, v in enumerate(outs):
                names[f"o{i}"] = f"o{i}"
                if v.role == "temp":
                    names[f"t{v.value}"] = f"t{v.value}"
            body = [line.format(**names) for line in instr.text]
            params = [f"a{i}" for i in reads] + [f"b{i}" for i in writes] + [f"c{j}" for j in range(len(dead))]
            lines = [f"def k{kind}(S, {', '.join(params)}):" if params else f"def k{kind}(S):"]
            lines += [f"    i{i} = S[a{i}]" for i in reads]
            lines += [f"    {b}" for b in body]
            lines += [f"    S[b{i}] = o{i}" for i in writes]
            lines += [f"    S[c{j}] = None" for j in range(len(dead))]
            sources.append("\n".join(lines) + "\n")
        args = tuple(slot[instr.ins[i].n] for i in reads) + tuple(slot[instr.outs[i].n] for i in writes) + dead
        table.append((kind, args))
    filename = f"<ag.compile {title} #{next(_ids)} (interpreted)>"
    namespace = program.names.globals
    exec(compile("".join(sources), filename, "exec"), namespace)
    fns = [namespace[f"k{i}"] for i in range(len(kinds))]
    steps = tuple((fns[kind], args) for kind, args in table)
    n_args = len(program.args)
    size = len(slot)
    guard_src = "\n".join(["def guards():"] + ["    " + line for line in _guard_lines(program)] + ["    return True"])
    exec(compile(guard_src, filename + " guards", "exec"), namespace)
    guards = namespace["guards"]
    out_names = {v.n: f"S[{slot[v.n]}]" for v in outputs if v.n in slot}
    saved = {v.n: v.name for v in outputs}
    for v in outputs:
        if v.n in out_names:
            v.name = out_names[v.n]
    ret_src = f"def result(S):\n    return {render_output(program.output)}\n"
    for v in outputs:
        v.name = saved[v.n]
    exec(compile(ret_src, filename + " outputs", "exec"), namespace)
    result = namespace["result"]

    def run(*args: Any) -> Any:
        guards()
        S: list[Any] = [None] * size
        S[:n_args] = args
        k = 0
        try:
            for fn, slots in steps:
                fn(S, *slots)
                k += 1
        except Exception as err:
            err.__ag_instr__ = instrs[k]  # type: ignore[attr-defined]  # (named in the error: compiler.explain)
            raise
        return result(S)

    return _Interpreted(program, run, filename, {}, title)
