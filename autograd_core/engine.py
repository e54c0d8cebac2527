"""Reverse mode: topological order, gradient accumulation, release of saved arrays.

The graph is made of nodes (``Function`` instances). A node's ``parents`` hold, for
each input, the node that produced it, the leaf Tensor itself, or ``None`` when the
input needs no gradient. Every node is numbered when it is made (``stamp``), after the
nodes it reads from; backward runs the pending node with the largest number first, so
each node runs once, after all of its consumers, with the sum of their gradients (one
walk, a heap of pending nodes). Each node's saved arrays are dropped as soon as it has
run; the leaves get their gradients at the end. There is no recursion anywhere, so a
chain of 100,000 ops back-propagates.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from heapq import heappop, heappush
from typing import Any

import numpy as np

from . import anomaly as _anomaly
from . import versions
from .grad_mode import grad_enabled
from .tensor import Tensor

FREED = (
    "backward through a graph that was already freed: an earlier backward() released its "
    "saved arrays. Pass retain_graph=True to the first backward() (or ag.gradients) if you "
    "need to go through the same graph twice"
)


def sum_to(g: Any, shape: tuple[int, ...]) -> Any:
    """Sum a broadcast gradient back to ``shape``: the one place broadcasting is undone.

    Works on arrays and on Tensors alike (it only uses ``sum`` and ``reshape``).
    """
    lead = g.ndim - len(shape)
    if lead < 0:
        return np.broadcast_to(g, shape)
    gshape = g.shape
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and gshape[lead + i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape) if lead else g


def node_inputs(node: Any) -> list[Any]:
    """The ops a recorded op reads from (its parents that are ops, not leaves), in input order."""
    return [p for p in node.parents or () if p is not None and not isinstance(p, Tensor)]


def walk(roots: Iterable[Any], inputs: Callable[[Any], Iterable[Any]] = node_inputs) -> list[Any]:
    """Every node reachable from ``roots`` through ``inputs(node)``, each after all the nodes it
    reads: the one graph walk (the engine's graph by default; the export's tape, the drawing's
    values). Iterative depth-first post-order, so a chain of 100,000 ops walks; deterministic:
    roots and inputs are visited in their order. Nodes must be hashable (identity will do).

    >>> x = Tensor(2.0, requires_grad=True)
    >>> [node.name for node in walk([(x.exp() * 3).sum()._node])]
    ['exp', 'multiply', 'sum']
    """
    order: list[Any] = []
    seen: set[Any] = set()
    stack = [(r, False) for r in reversed(list(roots))]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)  # every node it reads is already in order
            continue
        if node in seen:  # pushed twice, already finished (a DAG has no cycles)
            continue
        seen.add(node)
        stack.append((node, True))
        for p in reversed(list(inputs(node))):
            if p not in seen:
                stack.append((p, False))
    return order


def topological_order(root: Any) -> list[Any]:
    """Nodes reachable from ``root``, each after every node that consumes it (the root first)."""
    order = walk([root])
    order.reverse()
    return order


def leaves(t: Tensor) -> list[Tensor]:
    """The leaf tensors requiring grad that ``t`` was computed from."""
    if t._node is None:
        return [t] if t.requires_grad else []
    found = {}
    seen = {t._node}
    stack = [t._node]
    while stack:  # reachability, in no particular order: cheaper than topological_order
        for p in stack.pop().parents:
            if p is None:
                continue
            if isinstance(p, Tensor):
                found[id(p)] = p
            elif p not in seen:
                seen.add(p)
                stack.append(p)
    return list(found.values())


_ONES: dict[tuple[tuple[int, ...], np.dtype], np.ndarray] = {}


def _seed(t: Tensor, grad: Any, where: str, create_graph: bool) -> Any:
    if not t.requires_grad:
        raise RuntimeError(
            f"{where}: this tensor does not require grad, so there is no graph to go back through. "
            "Create the inputs with requires_grad=True (and outside no_grad)"
        )
    if grad is None:
        if t.data.size != 1:
            raise RuntimeError(
                f"{where}: grad can be omitted only for a single-element tensor, but this one has "
                f"shape {t.shape}. Reduce it first (e.g. y.sum().backward()) or pass grad= an array "
                f"of shape {t.shape}"
            )
        # A shared, read-only 1 of the right shape and dtype: VJPs never write into g, and a
        # leaf never adopts it as its .grad (_owned), so one per shape will do, at no cost.
        key = (t.data.shape, t.data.dtype)
        one = _ONES.get(key)
        if one is None:
            one = _ONES[key] = np.ones(t.shape, dtype=t.dtype)
            one.flags.writeable = False
        return one
    g: Any
    if isinstance(grad, Tensor):
        if create_graph:
            g = grad
        else:
            g = grad.data
    else:
        g = np.asarray(grad)
        if g.dtype.kind not in "biuf":
            raise TypeError(
                f"{where}: grad must hold real numbers, got dtype {g.dtype}"
                + ("; casting would silently drop the imaginary part" if g.dtype.kind == "c" else "")
            )
        g = g.astype(t.dtype, copy=False)
    if g.shape != t.shape:
        raise ValueError(f"{where}: grad has shape {g.shape} but the tensor has shape {t.shape}; they must match")
    return g


def _run(
    root: Any,
    seed: Any,
    retain_graph: bool,
    create_graph: bool,
    on_leaf: Callable[[Tensor, Any, bool], None],
    on_node: Callable[[Any, Any], None] | None = None,
) -> None:
    """Propagate ``seed`` from node ``root`` to the leaves, in one walk.

    Every op is made after the ops whose outputs it reads, and takes a larger ``stamp``; so
    running the pending node with the largest stamp first runs every node after all of its
    consumers, with its gradient complete (a heap of pending nodes: PyTorch orders its ready
    queue by sequence number the same way). A node runs only if some gradient reached it.
    Each leaf's shares are summed as they come and handed over at the end,
    ``on_leaf(leaf, g, owned)`` (``owned``: ``g`` is a fresh array nobody else holds, so it can
    be kept without a copy), so a pass refused half way (a freed graph, a value changed in
    place) has changed no ``.grad``.

    While ``ag.compile`` traces (``rec``, a ``tracing.ProgramTracer``), each step on arrays is
    also reported to it, so that a compiled program makes the same calls in the same order.
    """
    # (The garbage collector is left alone: its switch is process-wide, and pausing it here
    # would undo a choice another thread makes meanwhile, for no measurable gain.)
    rec = _tracing.recorder() if _tracing.active else None
    mode = grad_enabled.set(create_graph)  # record the VJPs only when asked to
    # While forward mode is open (forward.py: hvp, jvp of a gradient), the VJPs get Tensors too,
    # recorded or not, so that the tangents of what they compute follow them.
    tensors = create_graph or (_forward.active > 0 and bool(_forward.levels()))
    changes = versions.clock  # the latest in-place change: ops made before it are checked
    anomaly = _anomaly.active
    try:
        pending = {root: seed}  # node -> its gradient so far
        heap = [(-root.stamp, root)]
        leaves: dict[Tensor, list[Any]] = {}  # leaf -> [its gradient so far, whether fresh]
        retained = []  # (tensor, gradient) for retain_grad(), handed over at the end too
        while heap:
            node = heappop(heap)[1]
            g = pending.pop(node)
            inputs = node.inputs
            if inputs is None:
                raise RuntimeError(FREED)
            if node.stamp < changes:
                versions.check(node)
            if on_node is not None:
                on_node(node, g)
            parents = node.parents
            if node.retained is not None and on_node is None and not create_graph:
                kept = node.retained()
                if kept is not None:
                    if rec is not None:
                        raise _tracing.TracingError(
                            "retain_grad() inside ag.compile: a compiled program keeps no intermediate "
                            "tensors; return the gradient with ag.gradients(loss, [t]) instead"
                        )
                    retained.append((kept, g))
            if tensors:  # the VJP gets Tensors, so what it computes is recorded (and carries tangents)
                if rec is not None:  # on the traced tensors themselves, checked (tracing.ProgramTracer)
                    grads = rec.graph_backward(node, g, inputs)
                else:
                    xs = []
                    for p, x in zip(parents, inputs):
                        xs.append(x if p is None else p if isinstance(p, Tensor) else _tensor(x, p))
                    grads = node.backward(g, _tensor(node.out, node), *xs)
            elif rec is None:
                grads = node.backward(g, node.out, *inputs)
            else:
                grads = rec.vjp(node, g, node.out, inputs)
            if type(grads) is not tuple:
                grads = (grads,)
            if len(grads) != len(parents):
                raise TypeError(
                    f"{node.name}: backward returned {len(grads)} gradient(s) for {len(parents)} input(s); "
                    "return one per input of forward (None where an input needs none)"
                )
            if anomaly:
                _anomaly.check(node, grads)
            for p, x, gi in zip(parents, inputs, grads):
                if p is None or gi is None:
                    continue
                try:
                    if gi.shape != x.shape:
                        summed = _fit(gi, x, node, inputs)
                        if rec is not None and not isinstance(summed, Tensor):
                            rec.step("sum_to", (gi,), summed, x.shape)
                        gi = summed
                    if gi.dtype is not x.dtype:  # (builtin dtypes are singletons: identity is the cheap test)
                        cast = _cast(gi, x, node, inputs)
                        if rec is not None and not isinstance(cast, Tensor):
                            rec.step("cast", (gi,), cast, x.dtype)
                        gi = cast
                except AttributeError:
                    raise _not_an_array(gi, x, node, inputs) from None
                if isinstance(p, Tensor):
                    share = leaves.get(p)
                    if share is None:
                        leaves[p] = [gi, _owned(gi, g, grads, inputs, node.out)]
                    else:
                        total = share[0] + gi  # a new array: the leaf may keep it
                        if rec is not None and not isinstance(total, Tensor):
                            rec.step("add", (share[0], gi), total)
                        share[0] = total
                        share[1] = True
                    continue
                so_far = pending.get(p)
                if so_far is None:
                    pending[p] = gi
                    heappush(heap, (-p.stamp, p))
                else:
                    total = so_far + gi
                    if rec is not None and not isinstance(total, Tensor):
                        rec.step("add", (so_far, gi), total)
                    pending[p] = total
            if not retain_graph:
                node.inputs = node.out = node.saved = None  # release the saved arrays; parents stay
        for kept, g in retained:
            _accumulate_into_grad(kept, g, False)
        for leaf, (g, owned) in leaves.items():
            if rec is None:
                on_leaf(leaf, g, owned)
            else:
                rec.leaf(leaf, g, owned, on_leaf)
    finally:
        grad_enabled.reset(mode)


def _tensor(x: Any, node: Any) -> Tensor:
    """The output of ``node`` (its saved array ``x``) as a Tensor, for a VJP run on Tensors: while a trace
    records, the traced Tensor itself, so that the trace follows it (``tracing.output_of``)."""
    if _tracing.active:
        traced = _tracing.output_of(node)
        if traced is not None:
            return traced
    return Tensor._make(x, node)


def _owned(gi: Any, g: Any, grads: tuple[Any, ...], inputs: tuple[Any, ...], out: Any) -> bool:
    """Whether a VJP's result ``gi`` is a fresh array that may become a leaf's ``.grad`` as is.

    Not when it is a view (a broadcast or a reshape of something else), the upstream
    gradient passed straight through (``add`` does that), returned twice, or one of
    the op's saved arrays. (Plain loops: generator expressions cost more than the checks.)
    """
    if type(gi) is not np.ndarray or gi.base is not None or gi is g or gi is out:
        return False
    seen = 0
    for q in grads:
        if q is gi:
            seen += 1
    for x in inputs:
        if x is gi:
            return False
    return seen == 1 and gi.flags.writeable


def _which(inputs: tuple[Any, ...], x: Any) -> int:
    """The position of input ``x`` (for error messages only)."""
    return next(i for i, q in enumerate(inputs) if q is x)


def _fit(gi: Any, x: Any, node: Any, inputs: tuple[Any, ...]) -> Any:
    """A VJP's gradient, summed back to its input's shape: refuse one that cannot be."""
    try:
        summed = sum_to(gi, np.shape(x))
    except ValueError:  # (a gradient with fewer axes that does not broadcast to the input)
        summed = None
    if summed is None or summed.shape != np.shape(x):
        raise ValueError(
            f"{node.name}: backward returned a gradient of shape {gi.shape} for input {_which(inputs, x)} of "
            f"shape {np.shape(x)}; a gradient must have its input's shape (or broadcast to it)"
        )
    return summed


def _cast(gi: Any, x: Any, node: Any, inputs: tuple[Any, ...]) -> Any:
    """A VJP's gradient in its input's dtype; a complex one is refused, not silently made real."""
    if gi.dtype == x.dtype:
        return gi
    if gi.dtype.kind not in "biuf":
        raise TypeError(
            f"{node.name}: backward returned a gradient of dtype {gi.dtype} for input "
            f"{_which(inputs, x)} (dtype {x.dtype}); gradients must hold real numbers"
        )
    return gi.astype(x.dtype)


def _not_an_array(gi: Any, x: Any, node: Any, inputs: tuple[Any, ...]) -> TypeError:
    return TypeError(
        f"{node.name}: backward returned a {type(gi).__name__} as the gradient of input {_which(inputs, x)} "
        f"(shape {np.shape(x)}); return a NumPy array (or a Tensor) of that shape, or None"
    )


# Accumulating into a leaf's .grad is a read-modify-write, so threads running backward()
# at once on graphs that share a leaf take that leaf's lock: a few striped locks, chosen by
# the leaf's identity, so unrelated leaves rarely wait for each other and no lock is
# held for a whole backward pass. (acquire/release rather than `with`: 3x cheaper.)
_LOCKS = tuple(threading.Lock() for _ in range(64))


def _accumulate_into_grad(leaf: Tensor, g: Any, owned: bool) -> None:
    if type(g) is not np.ndarray:  # a Tensor or a NumPy scalar from a user's VJP
        g = np.asarray(g)
        owned = False
    lock = _LOCKS[(id(leaf) >> 4) & 63]
    lock.acquire()
    try:
        if leaf.grad is None:
            # Keep a fresh array as it is (saves a copy of every weight gradient); copy anything shared.
            leaf.grad = g if owned else np.array(g, dtype=leaf.data.dtype)
        else:
            leaf.grad += g
    finally:
        lock.release()


def backward(t: Tensor, grad: Any = None, retain_graph: bool = False) -> None:
    """``t.backward()``: accumulate d(t)/d(leaf) into ``leaf.grad`` for every leaf."""
    seed = _seed(t, grad, "backward", create_graph=False)
    rec = _tracing.recorder() if _tracing.active else None
    if rec is not None:
        rec.seed(seed, grad)
    if t._node is None:
        if rec is not None:
            rec.leaf(t, seed, False, _accumulate_into_grad)
            return
        _accumulate_into_grad(t, seed, False)
        return
    _run(t._node, seed, retain_graph, False, _accumulate_into_grad)


def gradients(
    output: Tensor,
    inputs: Sequence[Tensor] | Tensor,
    grad: Any = None,
    create_graph: bool = False,
    retain_graph: bool | None = None,
) -> tuple[Tensor, ...]:
    """Gradients of ``output`` with respect to each of ``inputs``, as Tensors.

    Nothing's ``.grad`` is touched (PyTorch's ``torch.autograd.grad``). With
    ``create_graph=True`` the backward pass is recorded, so the gradients can be
    differentiated again; the forward graph is then kept (``retain_graph`` defaults
    to ``create_graph``). An input the output does not depend on gets zeros.

    >>> x = Tensor([1.0, 2.0], requires_grad=True)
    >>> (g,) = gradients((x ** 3).sum(), [x], create_graph=True)   # 3x²
    >>> gradients((g * Tensor([1.0, 0.0])).sum(), [x])[0]           # Hessian-vector product: 6x·v
    Tensor([6., 0.])
    """
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if retain_graph is None:
        retain_graph = create_graph
    for i, x in enumerate(inputs):
        if not isinstance(x, Tensor):
            raise TypeError(f"gradients: inputs[{i}] is a {type(x).__name__}, not a Tensor")
        if not x.requires_grad:
            raise ValueError(
                f"gradients: inputs[{i}] (shape {x.shape}) does not require grad, so no gradient can be "
                "traced to it; create it with requires_grad=True"
            )
    if not isinstance(output, Tensor):
        raise TypeError(f"gradients: output is a {type(output).__name__}, not a Tensor")
    tensors = create_graph or (_forward.active > 0 and bool(_forward.levels()))
    seed = _seed(output, grad, "gradients", tensors)
    rec = _tracing.recorder() if _tracing.active else None
    if rec is not None and not isinstance(seed, Tensor):
        rec.seed(seed, grad)
        if tensors:  # a traced Tensor, so that what the VJPs compute from it is recorded (tracing.py)
            seed = rec.seed_tensor(seed)

    leaf_ids = {id(x) for x in inputs if x._node is None}
    nodes = {x._node for x in inputs if x._node is not None}
    found: dict[Any, Any] = {}

    def on_leaf(leaf: Tensor, g: Any, owned: bool) -> None:
        if id(leaf) in leaf_ids:
            prev = found.get(id(leaf))
            found[id(leaf)] = g if prev is None else prev + g

    def on_node(node: Any, g: Any) -> None:
        if node in nodes and g is not None:
            found[node] = g

    if output._node is None:
        found[id(output)] = seed
    else:
        _run(output._node, seed, retain_graph, create_graph, on_leaf, on_node if nodes else None)

    result = []
    for x in inputs:
        g = found.get(id(x) if x._node is None else x._node)
        if g is None:
            g = np.zeros_like(x.data)
            if rec is not None:
                rec.step("zeros", (), g, (x.shape, x.dtype))
        if g is seed and not isinstance(g, Tensor):  # the output itself: never hand out the shared seed
            g = np.array(g, dtype=x.dtype)
            if rec is not None:
                rec.step("copy", (seed,), g, x.dtype)
        if isinstance(g, Tensor):
            result.append(g)
            continue
        arr = np.asarray(g, dtype=x.dtype)
        if rec is not None and arr is not g:
            rec.step("cast", (g,), arr, x.dtype)
        t = Tensor._make(arr, None)
        if rec is not None:
            rec.result(t, arr)
        result.append(t)
    return tuple(result)


# The Tensor path's helpers (forward mode, the tracer) import the ops, which need this module: imported last.
from . import forward as _forward  # noqa: E402
from . import tracing as _tracing  # noqa: E402
