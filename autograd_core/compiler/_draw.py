"""``ag.draw_graph(step)``: a compiled program, drawn in either of ``draw_graph``'s notations.

``labels="values"``: each value of the program is a node (its variable and shape), each edge
is labelled with the op that computed the next value; ``labels="ops"``: each instruction is a
node (an op, its derivative ``op'``, a step of the engine, an effect) and the values travel on
the edges. The inputs are boxes (arguments, captured tensors and arrays, constants stay in the
labels); effects and the accumulations into ``.grad`` are dashed boxes, in program order.
"""

from __future__ import annotations

from typing import Any

from ..viz import DATA, GRAD_LEAF, MORE, GraphDrawing, _label
from ._codegen import output_vars
from ._ir import Instr, Program, Var

EFFECT = {"shape": "box", "style": "dashed,rounded"}


def _shape(v: Var) -> str:
    if v.shape is None:
        return ""
    return "scalar" if v.shape == () else "×".join(map(str, v.shape))


def draw_program(
    program: Program,
    labels: str = "values",
    title: str = "",
    max_nodes: int | None = 100,
    rankdir: str = "LR",
    **_: Any,
) -> GraphDrawing:
    """The drawing of ``program`` (see the module docstring)."""
    if labels not in ("values", "ops"):
        raise ValueError(f"draw_graph: labels must be 'values' or 'ops', got {labels!r}")
    dot = GraphDrawing(name="compiled_program", comment=f"ag.compile program of {title} (labels={labels!r})")
    dot.attr(rankdir=rankdir, label=f"ag.compile: {title}", labelloc="t")
    dot.attr("node", fontname="Helvetica", fontsize="11")
    dot.attr("edge", fontname="Helvetica", fontsize="10")
    instrs = program.instrs
    limit = len(instrs) if max_nodes is None else max_nodes
    made: dict[int, str] = {}  # var -> the node that stands for it ("values": itself; "ops": its instruction)
    names = program.names
    fn_of: dict[int, Var] = {}  # an op's instance -> its output (the VJP depends on the forward)

    def source_node(v: Var) -> str | None:
        """The node of an input variable, making one for an argument or a captured tensor's data."""
        if v.n in made:
            return made[v.n]
        if v.role == "arg":
            ident = f"in{v.n}"
            dot.node(ident, _label([v.name or "input", _shape(v)]), **DATA)
            made[v.n] = ident
            return ident
        return None

    for a in program.args:
        source_node(a)
    shown = 0
    for k, instr in enumerate(instrs):
        if shown >= limit:
            dot.node("more", _label([f"… {len(instrs) - k} more"]), **MORE)
            break
        if instr.kind == "read":  # a captured tensor's (or an argument's) data: the tensor itself
            (v,) = instr.outs
            arg = next((x for x in instr.ins if x.role == "arg"), None)
            if arg is not None:
                made[v.n] = source_node(arg)  # type: ignore[assignment]
                continue
            text = instr.text[0].split(" = ", 1)[1].removesuffix(".data")
            tensor = names.globals.get(text)
            ident = f"t{v.n}"
            style = GRAD_LEAF if getattr(tensor, "requires_grad", False) else {}
            dot.node(ident, _label([text, _shape(v)] + (["requires grad"] if style else [])), **DATA, **style)
            made[v.n] = ident
            shown += 1
            continue
        for v in instr.outs:
            if v.role == "fn" and instr.outs:
                fn_of[v.n] = instr.outs[0]
        ins = [fn_of.get(v.n, v) for v in instr.ins]
        effect = not instr.pure
        if labels == "ops" or effect:
            ident = f"i{k}"
            dot.node(ident, _label([instr.label]), **(EFFECT if effect else {}))
            for v in ins:
                src = source_node(v)
                if src is not None:
                    dot.edge(src, ident, label=_label([_edge(v)]) if labels == "ops" else "")
            for v in instr.outs:
                made[v.n] = ident
        else:
            for v in instr.outs:
                if v.role in ("temp", "fn"):
                    continue
                ident = f"v{v.n}"
                dot.node(ident, _label([v.name or "", _shape(v)]))
                made[v.n] = ident
                for u in ins:
                    src = source_node(u)
                    if src is not None:
                        dot.edge(src, ident, label=_label([instr.label]))
        shown += 1
    outs = output_vars(program.output)
    for i, v in enumerate(outs):
        src = made.get(v.n)
        if src is not None:
            dot.node(f"out{i}", _label([f"output {i}" if len(outs) > 1 else "output"]), shape="plaintext")
            dot.edge(src, f"out{i}", penwidth="2")
    return dot


def _edge(v: Var) -> str:
    return f"{v.name} {_shape(v)}" if v.name else _shape(v)


__all__ = ["draw_program", "Instr"]
