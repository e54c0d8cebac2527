"""Forward mode: tangents carried beside the values while a function runs.

``ag.jvp`` (and ``jacobian(mode="fwd")``, ``hessian``, ``hvp``, which are built on it) opens a
:class:`Level`: one forward-mode computation, with a table of the tangents of the values it
has seen. The inputs get the given tangents; then every op that runs, in ``Function.apply``,
asks each open level for the tangents of its Tensor arguments and, if any has one, computes
its output's tangent with the op's ``jvp`` rule, right after its forward. A JVP therefore
costs about one forward pass (each rule is about as much NumPy work as its op), whatever
the size of the input.

**The hook.** ``Function.apply`` ends with ``if forward.active: forward.propagate(...)``: one
module-global read when no level is open (on any thread), so other code pays nothing more.

**The rules.** ``jvp(self, ds, out, *xs)`` sits beside ``backward(self, g, out, *xs)``: ``ds``
holds one tangent per input (``None`` for an input with none: a constant, or a value this
level is not differentiating), ``out`` is the output and ``xs`` the inputs; it returns the
output's tangent (``None`` for zero), of the output's shape or one that broadcasts to it (the
hook broadcasts: the mirror of the engine's ``sum_to``). Like a VJP it is written in NumPy's
vocabulary, so that it runs on arrays when nothing else needs to see it (the fast path) and
on Tensors otherwise: then its ops are recorded for reverse mode (a tangent can be
differentiated again), traced by ``ag.compile``/``ag.export_onnx``, and seen by the levels
outside this one.

**Nesting without confusion** (JAX's "perturbation confusion"). Each level keeps its own
table, so a value can carry tangents of several levels without mixing them. An op's
tangents are computed outermost level first, and a level's rule runs with only the levels
outside it open: the outer levels see the rule's ops (and so differentiate the inner
tangent), the inner ones never see an outer tangent's computation.

**Where a tangent is kept.** A recorded value (``t._node`` set) is keyed by its node, so the
Tensors the engine makes from a node's saved arrays during a backward pass (``create_graph``,
or here: a backward pass run while a level is open gives its VJPs Tensors, so that forward
over reverse, ``hvp``, sees them) find the tangent of the value they stand for. Any other
Tensor is keyed by identity, with a weak reference that every look-up checks; dead entries are
swept whenever the table has doubled, so memory follows the live values (forward mode keeps
no graph). ``detach()`` makes a new Tensor without tangents, as in PyTorch (and JAX's
``stop_gradient``).

**When a rule is recorded for reverse mode.** When a tangent requires grad (a caller's tangent
that does, or one recorded before), or when the op's inputs require grad because of something
outside the level (an input of ``jvp`` that requires grad, a parameter the function uses). A
value that requires grad only because of a leaf a transform made inside the level (``hvp``'s
gradient differentiates with respect to such a leaf) is marked ``inner``: nothing outside can
differentiate with respect to it, so its tangents run on arrays, and a recorded rule sees it as
a constant.
"""

from __future__ import annotations

import threading
import weakref
from contextvars import ContextVar
from typing import Any

import numpy as np

from . import tracing as _tracing
from .grad_mode import grad_enabled
from .grad_mode import no_grad as _no_grad
from .tensor import Tensor

__all__ = ["Level", "active", "level", "levels", "propagate", "detach", "carried", "inner"]

#: How many levels are open, on any thread: ``Function.apply`` reads it (one global read).
active = 0
_count_lock = threading.Lock()
#: The levels open on this thread (and task), outermost first; a rule runs with a prefix of them.
_stack: ContextVar[tuple[Level, ...]] = ContextVar("forward_levels", default=())


class Level:
    """One forward-mode computation: the tangents it has given to values (see the module docstring).

    An entry is ``[tangent, inner]`` (and, for an entry by identity, a weak reference to the
    Tensor, checked at every look-up: an entry outlives its Tensor until the next sweep, which
    drops the dead ones whenever the table has doubled, so memory follows the live values).
    ``inner`` says that the value requires grad only because of leaves made inside this level (by a
    transform: ``hvp``'s gradient, say), which nothing outside the level can differentiate, so its
    tangent need not be recorded for reverse mode."""

    __slots__ = ("nodes", "ids", "sweep_at")

    def __init__(self) -> None:
        self.nodes: dict[Any, list[Any]] = {}  # node -> [tangent of its output, inner]
        self.ids: dict[int, list[Any]] = {}  # id(tensor) -> [tangent, inner, weak reference to the tensor]
        self.sweep_at = 64

    def entry(self, t: Tensor) -> list[Any] | None:
        node = t._node
        if node is not None:
            return self.nodes.get(node)
        e = self.ids.get(id(t))
        return e if e is not None and e[2]() is t else None

    def get(self, t: Tensor) -> Any:
        """The tangent of ``t`` at this level (an array or a Tensor), or None."""
        e = self.entry(t)
        return None if e is None else e[0]

    def put(self, t: Tensor, d: Any, inner: bool = False) -> None:
        node = t._node
        if node is not None:
            self.nodes[node] = [d, inner]
            return
        ids = self.ids
        ids[id(t)] = [d, inner, weakref.ref(t)]
        if len(ids) > self.sweep_at:
            for key in [key for key, e in ids.items() if e[2]() is None]:
                del ids[key]
            self.sweep_at = max(64, 2 * len(ids))

    def close(self) -> None:
        self.nodes.clear()
        self.ids.clear()


def levels() -> tuple[Level, ...]:
    """The levels open on this thread, outermost first."""
    return _stack.get() if active else ()


class level:  # noqa: N801 - used as a function: ``with forward.level() as lv:``
    """Open a new, innermost level for the duration of the ``with`` block (a class, not a generator:
    ``hvp`` and every column of ``jacobian(mode="fwd")`` open one)."""

    __slots__ = ("new", "token")

    def __enter__(self) -> Level:
        global active
        self.new = Level()
        self.token = _stack.set((*_stack.get(), self.new))
        with _count_lock:
            active += 1
        return self.new

    def __exit__(self, *exc: object) -> None:
        global active
        with _count_lock:
            active -= 1
        _stack.reset(self.token)
        self.new.close()


def carried(src: Tensor, dst: Tensor) -> Tensor:
    """``dst`` given ``src``'s tangents at every open level (for a new Tensor that stands for the same value)."""
    for lv in levels():
        e = lv.entry(src)
        if e is not None:
            lv.put(dst, e[0], e[1])
    return dst


def detach(t: Tensor) -> Tensor:
    """``t.detach()``, keeping its tangents: a value handed back without its reverse-mode graph
    (``value_and_grad``'s value) is still the same function of the inputs to forward mode."""
    return carried(t, t.detach()) if active else t.detach()


def inner(leaf: Tensor) -> Tensor:
    """Mark ``leaf``, a leaf a transform made inside the open levels to differentiate with respect
    to, as theirs: what requires grad only because of it needs no recorded tangents."""
    for lv in levels():
        e = lv.entry(leaf)
        if e is not None:
            e[1] = True
    return leaf


def propagate(fn: Any, args: tuple[Any, ...], raw: list[Any], out: Tensor) -> None:
    """``Function.apply``'s hook (called while ``active``): give ``out``, the output of ``fn`` on
    ``args`` (which it received as ``raw``), its tangent at every open level where an argument has one."""
    stack = _stack.get()
    for i, lv in enumerate(stack):  # outermost first: an inner rule reads the outer tangents of out
        ds = None
        outer = False  # an argument requires grad because of something outside this level
        record = False  # a tangent requires grad
        tensors = False  # a tangent is a Tensor
        nodes, ids = lv.nodes, lv.ids
        for j, a in enumerate(args):
            if isinstance(a, Tensor):
                node = a._node  # (Level.entry, inlined: this runs for every argument of every op)
                if node is None:
                    e = ids.get(id(a))
                    if e is not None and e[2]() is not a:
                        e = None
                else:
                    e = nodes.get(node)
                if e is None:
                    outer = outer or a.requires_grad
                    continue
                if ds is None:
                    ds = [None] * len(args)
                d = ds[j] = e[0]
                outer = outer or (a.requires_grad and not e[1])
                if type(d) is not np.ndarray:
                    tensors = True
                    record = record or d.requires_grad
        if ds is None:
            continue
        # Record the rule's ops for reverse mode when a tangent requires grad (then even in a backward pass
        # that records nothing else), or when the op is recorded because of something outside this level.
        record = record or (outer and grad_enabled.get())
        target = out.data
        if record or i or _tracing.active:  # something must see the rule's ops: run it on Tensors
            d = _on_tensors(fn, stack, i, ds, args, raw, out, record, outer)
        else:  # nothing needs the rule's ops: on arrays, without the cost of Tensors (no op is made)
            if tensors:
                ds = [d if d is None or type(d) is np.ndarray else d.data for d in ds]
            d = fn.jvp(tuple(ds), target, *raw)
            if d is not None and (type(d) is not np.ndarray or d.shape != target.shape or d.dtype is not target.dtype):
                d = _fit(d, target, fn)
        if d is not None:
            lv.put(out, d, not outer)


def _on_tensors(
    fn: Any,
    stack: tuple[Level, ...],
    i: int,
    ds: list[Any],
    args: Any,
    raw: list[Any],
    out: Tensor,
    record: bool,
    outer: bool,
) -> Any:
    """``fn.jvp`` on Tensors for level ``stack[i]``, with only the levels outside it open (they see its
    ops; the inner ones never do), recorded for reverse mode when ``record``.

    Recorded, the rule sees the values that require grad only because of this level's own leaves
    as constants: nothing outside can differentiate with respect to those leaves, so an edge from
    the tangent back to them would only cost a walk through a graph that may be freed already."""
    lv = stack[i]
    xs = []
    for a, r in zip(args, raw):
        if not isinstance(a, Tensor):
            a = r
        elif record and a.requires_grad:
            e = lv.entry(a)
            if e is not None and e[1]:
                a = _constant(a, stack[:i])
        xs.append(a)
    if record and not outer and out.requires_grad:
        out = _constant(out, stack[:i])
    token = _stack.set(stack[:i])
    mode = grad_enabled.set(record)
    try:
        d = fn.jvp(tuple(ds), out, *xs)
        return None if d is None else _fit(d, out.data, fn)
    finally:
        grad_enabled.reset(mode)
        _stack.reset(token)


def _constant(t: Tensor, outside: tuple[Level, ...]) -> Tensor:
    """``t`` cut from the reverse-mode graph (``detach()``: recorded in a trace), keeping its tangents at
    the levels ``outside``."""
    with _no_grad():
        d = t.detach()
    for lv in outside:
        e = lv.entry(t)
        if e is not None:
            lv.put(d, e[0], e[1])
    return d


def _fit(d: Any, target: np.ndarray, fn: Any) -> Any:
    """A rule's result as the tangent of an output like ``target``: broadcast to its shape (the
    mirror of the engine's ``sum_to``), in its dtype; a clear error for one that cannot be."""
    if not isinstance(d, (Tensor, np.ndarray)):
        d = np.asarray(d)  # a NumPy scalar from a reduction of arrays
    if d.shape != target.shape:
        try:
            d = np.broadcast_to(d, target.shape)  # (recorded for a Tensor: shape.broadcast_to)
        except ValueError:
            raise ValueError(
                f"{fn.name}: jvp returned a tangent of shape {d.shape} for an output of shape {target.shape}; "
                "a tangent must have its output's shape (or broadcast to it)"
            ) from None
    if d.dtype != target.dtype:
        if d.dtype.kind not in "biuf":
            raise TypeError(f"{fn.name}: jvp returned a tangent of dtype {d.dtype}; tangents hold real numbers")
        d = d.astype(target.dtype)
    return d
