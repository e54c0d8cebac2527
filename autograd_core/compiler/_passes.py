"""What a compiler does to a program, each only where it keeps the bits: dead code removed
(gradients nobody reads, values only a removed op used), common subexpressions shared, constants
folded."""

from __future__ import annotations

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
