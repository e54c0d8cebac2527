"""Drawing the graph that produced a tensor: ``draw_graph``.

Two notations, as the deep-learning course draws computation graphs:

* ``labels="values"``: every value is a node (``w``, ``w²``, ``x[0][0]·w²``, ...,
  ``cost``) and each edge is labelled with the op that made the next value.
* ``labels="ops"``: every operation is a node and the values travel on the edges
  (the way TensorFlow's documentation draws graphs).

In both, tensors you created are boxes: the leaves that require grad are filled and
say ``requires grad``; a model's parameters show their names in the model (``0.weight``,
recorded by ``nn.Module`` when it finds them; a ``name`` you set wins); named data
(``x = Tensor(coeffs, name="x")``) appears as a plain box; unnamed numbers and arrays
are folded into the labels (``10·w``).

The walk is the engine's (iterative), so a 100,000-op chain draws;
``max_nodes``/``max_depth`` cut the picture with an explicit ``… N more`` node. Building
the ``graphviz.Digraph`` and its ``.source`` needs only the Python package; rendering it
(``.render()``, ``.pipe()``, inline display in Jupyter) needs Graphviz's ``dot`` program.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import graphviz
import numpy as np

from . import engine
from ._checks import check_choice, check_int
from .function import Function
from .ops.shape import _index_text
from .tensor import DEFAULT_DTYPE, Tensor

__all__ = ["draw_graph", "GraphDrawing", "DotNotFoundError"]

INSTALL_HINT = (
    "Graphviz's `dot` program was not found on PATH, and rendering a graph needs it. Install it with "
    "`apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` (macOS), `conda install graphviz` "
    "or from https://graphviz.org/download/. Without it you can still build the graph and read its DOT "
    "text: `ag.draw_graph(t).source`"
)

# Colours: leaves that require grad are filled blue; the output is outlined in bold.
GRAD_LEAF = {"style": "filled", "fillcolor": "#cfe2ff"}
DATA = {"shape": "box"}
MORE = {"shape": "box", "style": "dashed", "color": "#888888", "fontcolor": "#555555"}
NAME_WIDTH = 24  # longer parameter names (deeply nested modules) are shortened

# Operator precedence for the value labels: higher binds tighter.
SUM, PRODUCT, UNARY, POWER, ATOM = 1, 2, 3, 4, 5
_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
_INFIX = {  # op: (symbol, precedence, least precedence of the right operand)
    "add": (" + ", SUM, SUM),
    "subtract": (" − ", SUM, PRODUCT),
    "multiply": ("·", PRODUCT, PRODUCT),
    "divide": (" / ", PRODUCT, UNARY),
    "matmul": (" @ ", PRODUCT, UNARY),
}


class DotNotFoundError(graphviz.ExecutableNotFound):
    """Rendering was asked for but Graphviz's ``dot`` program is missing (the message says how to install it)."""

    def __init__(self) -> None:
        RuntimeError.__init__(self, INSTALL_HINT)


class GraphDrawing(graphviz.Digraph):
    """A ``graphviz.Digraph`` whose rendering errors say how to install Graphviz.

    Everything else is graphviz's: ``.source``, ``.render(...)``, ``.pipe(...)``, inline SVG in Jupyter.
    """

    def render(self, *args: Any, **kwargs: Any) -> str:
        try:
            return super().render(*args, **kwargs)
        except graphviz.ExecutableNotFound as err:
            raise DotNotFoundError() from err

    def pipe(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().pipe(*args, **kwargs)
        except graphviz.ExecutableNotFound as err:
            raise DotNotFoundError() from err


def _retained(node: Function) -> Tensor | None:
    """The output tensor of ``node`` that ``retain_grad()`` was called on, if it is still alive."""
    return None if node.retained is None else node.retained()


@dataclass
class _Value:
    """One value in the drawing: the output of an op (``obj`` a Function) or a tensor leaf."""

    obj: Any
    depth: int
    ident: str
    text: str = ""  # short expression or name, e.g. "x[0][0]·w²"
    prec: int = ATOM
    inputs: list[_Value | None] = field(default_factory=list)  # per op input: the value, or None for a constant

    @property
    def is_op(self) -> bool:
        return isinstance(self.obj, Function)


def draw_graph(
    t: Tensor,
    labels: str = "values",
    *,
    name: str | None = None,
    names: Mapping[str, Tensor] | None = None,
    show_grad: bool = False,
    max_nodes: int | None = 100,
    max_depth: int | None = None,
    label_width: int = 40,
    rankdir: str = "LR",
) -> GraphDrawing:
    """Draw everything that produced ``t`` as a ``graphviz.Digraph`` (or, for a function compiled with
    ``ag.compile``, its latest program: forward, backward and updates, in the same two notations).

    Leaves show their ``name`` (or their value when scalar), their shape when not scalar and
    their dtype when not float64; leaves that require grad are filled and say so. A value
    used twice is one node with two edges. Constants are drawn by value while the graph's
    saved arrays exist, as ``c`` after a backward released them (draw before ``backward()``
    for the fullest picture).

    Parameters
    ----------
    t : Tensor
        The output whose graph is drawn.
    labels : {"values", "ops"}
        ``"values"`` draws each value as a node, edges labelled with the op that made the
        next value (``w``, ``w²``, ``x[0][0]·w²``, ..., ``cost``); ``"ops"`` draws each op
        as a node with the values on its edges (TensorFlow's documentation's notation).
    name : str, optional
        The label of ``t`` (default: ``t.name``).
    names : mapping of str to Tensor, optional
        Labels for intermediate tensors, ``{"z": z, ...}`` (an op's output is otherwise
        known only through ``t`` and tensors that called ``retain_grad()``).
    show_grad : bool
        Add d``t``/d(value) to each value. While the graph's saved arrays are alive
        (before any backward, or after ``backward(retain_graph=True)``) every gradient is
        computed afresh, touching no ``.grad``, which needs a single-element ``t``; after
        a plain ``backward()`` released them, leaves show their ``.grad``, retained
        tensors theirs and the output its seed 1.
    max_nodes : int or None
        At most this many nodes (default 100); the part cut off becomes one ``… N more``
        node. None draws everything.
    max_depth : int or None
        Only values at most this many ops away from ``t``; None: no limit.
    label_width : int
        Expressions longer than this (at least 4) are truncated.
    rankdir : str
        Graphviz's direction of the layout: ``"LR"`` (left to right) or ``"TB"`` (top to bottom).

    Returns
    -------
    GraphDrawing
        A ``graphviz.Digraph``: ``.source`` is its text, ``.render("graph", format="svg")``
        writes a file (this needs Graphviz's ``dot`` program), and in Jupyter it displays
        inline.

    Examples
    --------
    >>> import autograd_core as ag
    >>> w = ag.Tensor(3.0, requires_grad=True, name="w")
    >>> cost = w**2 - 10 * w + 25
    >>> dot = ag.draw_graph(cost, name="cost")
    >>> "w²" in dot.source and 'label=power' in dot.source
    True
    """
    if not isinstance(t, Tensor):
        if not callable(getattr(t, "_draw_graph", None)):  # (a compiled function draws its program)
            raise TypeError(
                f"draw_graph: expected a Tensor (or a function compiled with ag.compile), got {type(t).__name__}"
            )
    check_choice(labels, "labels", "draw_graph", ("values", "ops"), expected="'values' or 'ops'")
    if max_nodes is not None:
        max_nodes = check_int(max_nodes, "max_nodes", "draw_graph", low=1, expected="a positive integer or None")
    if max_depth is not None:
        max_depth = check_int(max_depth, "max_depth", "draw_graph", low=0, expected="a non-negative integer or None")
    label_width = check_int(label_width, "label_width", "draw_graph", low=4)
    if not isinstance(t, Tensor):  # a compiled function (ag.compile): its program
        return t._draw_graph(labels=labels, max_nodes=max_nodes, rankdir=rankdir)

    root = t._node if t._node is not None else t
    values = _walk(root)
    given = {id(v._node if v._node is not None else v): n for n, v in (names or {}).items()}
    root_name = name if name is not None else t.name
    if root_name is not None:
        given[id(root)] = root_name
    _label_all(values, root, given, label_width)

    # dict order is nearest first, so a cut keeps what is nearest to t
    drawn = [v for v in values.values() if max_depth is None or v.depth <= max_depth][:max_nodes]
    drawn_ids = {id(v.obj) for v in drawn}
    hidden = len(values) - len(drawn)
    grads = _gradients(t, values) if show_grad else {}

    dot = GraphDrawing(name="autograd_graph", comment=f"draw_graph(labels={labels!r})")
    dot.attr(rankdir=rankdir)
    dot.attr("node", fontname="Helvetica", fontsize="11")
    dot.attr("edge", fontname="Helvetica", fontsize="10")

    rootv = values[id(root)]
    for v in drawn:
        attrs: dict[str, str] = {}
        if labels == "values" or not v.is_op:
            lines = _value_lines(v, t if v is rootv else None, grads)
            attrs = _tensor_style(v.obj) if not v.is_op else {}
        else:
            lines = [_op_text(v)]
        if v is rootv and (labels == "values" or not v.is_op):
            attrs["penwidth"] = "2"
        dot.node(v.ident, _label(lines), **attrs)

    if labels == "ops" and rootv.is_op:  # the output value leaves the last op on an edge
        dot.node("out", _label(_value_lines(rootv, t, grads)), shape="plaintext")
        dot.edge(rootv.ident, "out", penwidth="2")

    cut_consumers: list[_Value] = []
    for v in drawn:
        if not v.is_op:
            continue
        for src in v.inputs:
            if src is None:
                continue
            if id(src.obj) not in drawn_ids:
                if not cut_consumers or cut_consumers[-1] is not v:
                    cut_consumers.append(v)
                continue
            if labels == "values":
                dot.edge(src.ident, v.ident, label=_label([v.obj.name]))
            elif src.is_op:
                dot.edge(src.ident, v.ident, label=_label(_value_lines(src, None, grads)))
            else:
                dot.edge(src.ident, v.ident)

    if hidden:
        dot.node("more", _label([f"… {hidden} more"]), **MORE)
        for v in cut_consumers:
            dot.edge("more", v.ident, style="dashed", color="#888888")
    return dot


# ============================================================== walking the graph


def _sources(obj: Any) -> list[Any]:
    """What a value was computed from, per input of its op: the op or leaf, None for a constant."""
    if not isinstance(obj, Function):
        return []
    node: Any = obj
    return [p if p is not None else node.named_inputs.get(i) for i, p in enumerate(node.parents or ())]


def _walk(root: Any) -> dict[int, _Value]:
    """Every value reachable from ``root`` (the engine's walk), nearest first, keyed by ``id``;
    a value's depth is its shortest distance from ``root``."""
    order = engine.walk([root], lambda obj: [p for p in _sources(obj) if p is not None])
    order.reverse()  # every value after all the values computed from it: depths are final when reached
    depth = {id(root): 0}
    for obj in order:
        for p in _sources(obj):
            if p is not None:
                depth[id(p)] = min(depth.get(id(p), len(order)), depth[id(obj)] + 1)
    nearest = sorted(range(len(order)), key=lambda k: (depth[id(order[k])], k))
    values = {id(order[k]): _Value(order[k], depth[id(order[k])], f"v{n}") for n, k in enumerate(nearest)}
    for v in values.values():
        v.inputs = [None if p is None else values[id(p)] for p in _sources(v.obj)]  # None: a constant, in the label
    return values


def _label_all(values: dict[int, _Value], root: Any, given: dict[int, str], width: int) -> None:
    """Give every value its short text, inputs before the ops that use them."""
    for v in values.values():
        if not v.is_op:
            v.text, v.prec = given.get(id(v.obj)) or _tensor_text(v.obj), ATOM
    if not isinstance(root, Function):
        return
    for node in reversed(engine.topological_order(root)):  # inputs first
        v = values[id(node)]
        name = given.get(id(node))
        kept = _retained(node)
        if name is None and kept is not None:
            name = kept.name
        if name is not None:
            v.text, v.prec = name, ATOM
        else:
            text, prec = _expression(v)
            v.text, v.prec = _truncate(text, width), prec


def _args(v: _Value) -> list[tuple[str, int]]:
    """(text, precedence) of each input of op value ``v``: a value's label or a constant's."""
    node = v.obj
    raw = node.inputs
    out = []
    for i, src in enumerate(v.inputs):
        if src is not None:
            out.append((src.text, src.prec))
        elif raw is None:
            out.append(("c", ATOM))  # released by backward: the constant is gone
        else:
            out.append(_constant_text(raw[i]))
    return out


def _expression(v: _Value) -> tuple[str, int]:
    """The value an op computed, written from its inputs' labels (``x[0][0]·w²``, as the
    deep-learning course writes it)."""
    node = v.obj
    op = node.name
    args = _args(v)

    def wrap(arg: tuple[str, int], least: int) -> str:
        return arg[0] if arg[1] >= least else f"({arg[0]})"

    if op in _INFIX and len(args) == 2:
        symbol, prec, right = _INFIX[op]
        return wrap(args[0], prec) + symbol + wrap(args[1], right), prec
    if op == "neg" and len(args) == 1:
        return "−" + wrap(args[0], UNARY), UNARY
    if op == "square" and len(args) == 1:
        return wrap(args[0], ATOM) + "²", POWER
    if op == "power" and len(args) == 2:
        exponent = None if node.inputs is None or v.inputs[1] is not None else node.inputs[1]
        if isinstance(exponent, (int, float)) and float(exponent).is_integer() and abs(exponent) < 100:
            return wrap(args[0], ATOM) + str(int(exponent)).translate(_SUPERSCRIPT), POWER
        return wrap(args[0], ATOM) + "^" + wrap(args[1], ATOM), POWER
    if op == "getitem" and len(args) == 1 and hasattr(node, "index"):
        return f"{wrap(args[0], ATOM)}[{_index_text(node.index)}]", ATOM
    if op == "transpose" and len(args) == 1 and (getattr(node, "axes", None) is None or len(node.axes) == 2):
        return wrap(args[0], ATOM) + "ᵀ", ATOM
    return f"{op}({', '.join(a[0] for a in args)})", ATOM


def _op_text(v: _Value) -> str:
    """An op node's label in the "ops" notation: its name, with any constant operands."""
    node = v.obj
    if node.name == "getitem" and hasattr(node, "index"):
        return f"getitem [{_index_text(node.index)}]"
    if all(src is not None for src in v.inputs):
        return node.name
    parts = ["·" if src is not None else text for src, (text, _) in zip(v.inputs, _args(v))]
    return f"{node.name}({', '.join(parts)})"


# ============================================================== text


def _number(x: float) -> str:
    if float(x).is_integer() and abs(x) < 1e6:
        return str(int(x))
    return f"{x:.4g}"


def _shape_text(shape: tuple[int, ...]) -> str:
    return str(tuple(int(n) for n in shape))


def _constant_text(c: Any) -> tuple[str, int]:
    arr = np.asarray(c)
    if arr.size == 1:
        x = float(arr.reshape(()))
        return _number(x), (ATOM if x >= 0 else UNARY)
    if arr.ndim == 1 and arr.size <= 3:
        return "[" + ", ".join(_number(float(x)) for x in arr) + "]", ATOM
    return f"array{_shape_text(arr.shape)}", ATOM


def _tensor_text(t: Tensor) -> str:
    if t.name is not None:
        return t.name
    found = getattr(t, "module_name", None)  # a parameter's name in its model (nn.Parameter), e.g. "0.weight"
    if found is not None:
        return _short_name(found)
    if t.data.size == 1:
        return _number(float(t.data.reshape(())))
    return "tensor"


def _short_name(name: str, width: int = NAME_WIDTH) -> str:
    """A dotted name that fits ``width``: outer parts shortened to their initials, the last part kept.

    ``"encoder.layers.3.attention.weight"`` → ``"e.l.3.attention.weight"``.
    """
    parts = name.split(".")
    for i in range(len(parts) - 1):
        if len(".".join(parts)) <= width:
            break
        if not parts[i].isdigit():
            parts[i] = parts[i][0]
    short = ".".join(parts)
    return short if len(short) <= width else "…" + short[-(width - 1) :]


def _truncate(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _grad_text(g: Any) -> str:
    g = np.asarray(g)
    if g.size == 1:
        return f"grad {_number(float(g.reshape(())))}"
    if g.size == 0:
        return f"grad {_shape_text(g.shape)}"
    return f"grad {_shape_text(g.shape)} in [{float(g.min()):.3g}, {float(g.max()):.3g}]"


def _value_lines(v: _Value, tensor: Tensor | None, grads: dict[int, Any]) -> list[str]:
    """A value's label: its text, shape when not scalar, dtype when not float64, mark, gradient."""
    lines = [v.text]
    if tensor is None:
        if isinstance(v.obj, Tensor):
            tensor = v.obj
        else:
            tensor = _retained(v.obj)
    data = tensor.data if tensor is not None else v.obj.out  # None once a backward released it
    if data is not None:
        if data.ndim:
            lines.append(_shape_text(data.shape))
        if data.dtype != DEFAULT_DTYPE:
            lines.append(str(data.dtype))
    if isinstance(v.obj, Tensor) and v.obj.requires_grad:
        lines.append("requires grad")
    g = grads.get(id(v.obj))
    if g is not None:
        lines.append(_grad_text(g))
    return lines


def _tensor_style(t: Tensor) -> dict[str, str]:
    return {**DATA, **GRAD_LEAF} if t.requires_grad else dict(DATA)


def _label(lines: list[str]) -> str:
    """Join lines into a DOT label, escaping backslashes and never reading ``<…>`` as HTML."""
    return graphviz.nohtml("\\n".join(line.replace("\\", "\\\\") for line in lines))


# ============================================================== gradients


def _gradients(t: Tensor, values: dict[int, _Value]) -> dict[int, Any]:
    """d t / d value for every value whose gradient can be known, keyed by ``id``."""
    grads: dict[int, Any] = {}
    ops = [v.obj for v in values.values() if v.is_op]
    alive = bool(ops) and all(node.inputs is not None for node in ops)
    if alive and t.data.size == 1:

        def on_leaf(leaf: Tensor, g: Any, owned: bool = False) -> None:
            prev = grads.get(id(leaf))
            grads[id(leaf)] = g if prev is None else prev + g

        def on_node(node: Any, g: Any) -> None:
            if g is not None:
                grads[id(node)] = g

        engine._run(t._node, np.ones_like(t.data), True, False, on_leaf, on_node)
        return grads
    for v in values.values():  # a released graph: what backward stored
        if isinstance(v.obj, Tensor):
            if v.obj.grad is not None:
                grads[id(v.obj)] = v.obj.grad
        elif (kept := _retained(v.obj)) is not None and kept.grad is not None:
            grads[id(v.obj)] = kept.grad
    root = t._node if t._node is not None else t
    if id(root) not in grads and t.requires_grad and t.data.size == 1:
        grads[id(root)] = np.ones_like(t.data)
    return grads
