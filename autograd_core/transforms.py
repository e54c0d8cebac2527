"""Function transforms beyond ``grad``: ``vjp``, ``jvp``, ``jacobian``, ``hessian``, ``hvp``
(JAX's and ``torch.func``'s interface).

- ``vjp(f, *primals)`` runs ``f`` once and returns a function of a cotangent ``u`` giving
  ``uᵀ J`` for every primal: reverse mode, one backward pass per call.
- ``jvp(f, primals, tangents)`` gives ``J v``: forward mode (``forward.py``), the tangent is
  carried beside every value while ``f`` runs, so it costs about one more forward pass.
- ``jacobian(f, mode="rev")`` builds ``J`` a row at a time, one VJP per output element;
  ``mode="fwd"`` a column at a time, one JVP per input element: ``"fwd"`` for tall Jacobians
  (few inputs, many outputs), ``"rev"`` for wide ones.
- ``hessian(f)`` is the Jacobian, column by column in forward mode, of ``f``'s gradient (forward
  over reverse, as JAX's ``jacfwd(jacrev(f))``); ``hvp(f, x, v)`` is one such column, ``H v``,
  the JVP of the gradient.

Inputs are Tensors, NumPy arrays or numbers; outputs may be pytrees of them (tuples, lists,
dicts). Results are Tensors that never touch any ``.grad``; they carry a recorded graph when
something outside may differentiate them (an input that requires grad, a captured tensor that
does, a tangent or cotangent that does), so transforms nest: ``jacobian(jacobian(f))``,
``jacobian(grad(f))``, ``grad`` of a ``jvp``. Transforms of transforms never confuse their
tangents (each forward-mode computation keeps its own, see ``forward.py``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import forward as _forward
from . import tracing as _tracing
from ._checks import check_bool, check_choice
from .engine import gradients, leaves
from .functional import _argnums as _grad_argnums
from .functional import fresh_leaf
from .grad_mode import enable_grad, grad_enabled
from .ops.elementwise import Clone
from .ops.shape import Reshape, Stack
from .tensor import Tensor

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp"]


# ============================================================== pytrees of outputs

_LEAF = "*"  # the spec of a leaf


def _flatten(tree: Any) -> tuple[list[Any], Any]:
    """The leaves of ``tree`` (tuples, namedtuples, lists and dicts of anything else; None is an
    empty subtree), in order, and its spec (its shape without the leaves, comparable with ``==``).
    Dicts are walked in sorted key order, as JAX does, so ``{"a": .., "b": ..}`` matches in any order."""
    if isinstance(tree, Tensor):  # the common cases, without the walk
        return [tree], _LEAF
    if type(tree) is tuple and all(isinstance(t, Tensor) for t in tree):
        return list(tree), (tuple, (_LEAF,) * len(tree))
    found: list[Any] = []

    def walk(t: Any) -> Any:
        if t is None:
            return None
        if isinstance(t, (tuple, list)):
            return (type(t), tuple(walk(c) for c in t))
        if isinstance(t, dict):
            try:
                keys = sorted(t)
            except TypeError:  # keys that do not sort: their own order
                keys = list(t)
            return (type(t), tuple(keys), tuple(walk(t[k]) for k in keys))
        found.append(t)
        return _LEAF

    return found, walk(tree)


def _unflatten(spec: Any, items: Sequence[Any]) -> Any:
    """The tree of ``spec`` with ``items`` as its leaves, in order."""
    if spec == _LEAF:
        return items[0]
    if spec[0] is tuple and all(c == _LEAF for c in spec[1]):
        return tuple(items)
    it = iter(items)

    def build(sp: Any) -> Any:
        if sp is None:
            return None
        if sp == _LEAF:
            return next(it)
        kind = sp[0]
        if len(sp) == 3:  # a dict
            return kind(zip(sp[1], [build(c) for c in sp[2]]))
        children = [build(c) for c in sp[1]]
        if kind is list:
            return children
        if hasattr(kind, "_fields"):  # a namedtuple
            return kind(*children)
        return kind(children)

    return build(spec)


def _show(spec: Any) -> str:
    """A spec as Python would print the tree, ``*`` for each leaf: ``(*, {'a': *})``."""
    if spec is None:
        return "None"
    if spec == _LEAF:
        return "*"
    if len(spec) == 3:
        return "{" + ", ".join(f"{k!r}: {_show(c)}" for k, c in zip(spec[1], spec[2])) + "}"
    inner = ", ".join(_show(c) for c in spec[1])
    if spec[0] is list:
        return f"[{inner}]"
    return f"({inner}{',' if len(spec[1]) == 1 else ''})"


def _outputs(out: Any, where: str) -> tuple[list[Tensor], Any]:
    """The output leaves of ``out`` as Tensors (numbers and arrays become constant Tensors), and its spec."""
    found, spec = _flatten(out)
    result = []
    for k, o in enumerate(found):
        if not isinstance(o, Tensor):
            if isinstance(o, (bool, np.bool_)) or not isinstance(o, (int, float, np.ndarray, np.generic)):
                raise TypeError(
                    f"{where}: the function returned a {type(o).__name__} as output leaf {k} of {_show(spec)}; "
                    "outputs are Tensors (or numbers and arrays) in tuples, lists and dicts"
                )
            o = Tensor(o)
        result.append(o)
    return result, spec


def _split_aux(out: Any, has_aux: bool, where: str) -> tuple[Any, Any]:
    if not has_aux:
        return out, None
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise TypeError(
            f"{where}: with has_aux=True the function must return a pair (output, aux), got "
            f"{type(out).__name__}{f' of length {len(out)}' if isinstance(out, (tuple, list)) else ''}"
        )
    return out[0], out[1]


# ============================================================== arguments


def _argnums(argnums: Any, where: str) -> tuple[tuple[int, ...], bool]:
    """``argnums`` as a tuple (checked as ``ag.grad`` checks it), and whether it was a single int."""
    return _grad_argnums(argnums, where), not isinstance(argnums, (tuple, list))


def _positions(nums: tuple[int, ...], count: int, argnums: Any, where: str) -> list[int]:
    """The argument positions ``nums`` names, for a call with ``count`` positional arguments."""
    out = []
    for i in nums:
        if not -count <= i < count:
            raise IndexError(
                f"{where}: argnums={argnums!r} names argument {i}, but the function was called with "
                f"{count} positional argument(s); differentiate with respect to arguments 0 to {count - 1}"
            )
        j = i % count
        if j in out:
            raise ValueError(f"{where}: argnums={argnums!r} names argument {j} twice")
        out.append(j)
    return out


def _as_tuple(value: Any, what: str, where: str) -> tuple[Any, ...]:
    if not isinstance(value, (tuple, list)):
        raise TypeError(
            f"{where}: {what} must be a tuple (one entry per argument of the function), got "
            f"{type(value).__name__}; write {where}(f, (x,), (v,)) for one argument"
        )
    return tuple(value)


def _checked(a: Any, where: str, what: str) -> Any:
    """``a`` if it is something a Tensor can be made of; else a TypeError naming it."""
    if not isinstance(a, Tensor) and (
        isinstance(a, (bool, np.bool_)) or not isinstance(a, (int, float, list, tuple, np.ndarray, np.generic))
    ):
        raise TypeError(f"{where}: {what} is a {type(a).__name__}; give a Tensor, a NumPy array or a number")
    return a


def _value(a: Any, where: str, what: str) -> Tensor:
    """An argument as a Tensor that is a new object (so that each argument gets its own
    tangents and gradient): a recorded copy of a Tensor (keeping its graph, its tangents at the
    open levels, its place in a trace), or where nothing needs that a new Tensor of the same
    data; a new Tensor from an array or number."""
    if not isinstance(a, Tensor):
        return Tensor(_checked(a, where, what))
    if a.requires_grad or _tracing.active or _forward.levels():
        return Clone.apply(a)
    return Tensor._make(a.data, None)


def _differentiable(a: Any, where: str, what: str, own: bool = False) -> tuple[Tensor, bool]:
    """An argument to differentiate with respect to, and whether it is fresh (a new leaf that
    nothing outside can differentiate through): a copy that keeps ``a``'s graph when ``a``
    requires grad, so that results can be differentiated with respect to ``a`` too. ``own``: ``a``
    is a Tensor this module made for this call, which can become the leaf itself."""
    if isinstance(a, Tensor) and a.requires_grad:
        return Clone.apply(a), False
    if own:
        a.requires_grad = True
        return _forward.inner(a), True
    return fresh_leaf(_checked(a, where, what)), True


def _record(outs: list[Tensor], xs: list[Tensor], fresh: list[bool], extra: Sequence[Any] = ()) -> bool:
    """Whether a backward pass from ``outs`` must be recorded, so that its results can be
    differentiated again: something outside requires grad (an input, a tensor ``f`` captured,
    one of ``extra``: cotangents). As ``grad`` decides."""
    if not grad_enabled.get():
        return False
    if not all(fresh) or any(isinstance(e, Tensor) and e.requires_grad for e in extra):
        return True
    mine = {id(x) for x in xs}
    return any(id(leaf) not in mine for o in outs for leaf in leaves(o))


def _live(tensors: Sequence[Any]) -> bool:
    """Whether results assembled from ``tensors`` must be assembled with ops (recorded, traced, or
    carrying tangents of an open forward-mode level) rather than on their arrays."""
    if _tracing.active or _forward.levels():
        return True
    return any(isinstance(t, Tensor) and t.requires_grad for t in tensors)


def _stacked(parts: list[Any], shape: tuple[int, ...], dtype: Any, axis: int) -> Tensor:
    """``parts`` (Tensors, arrays, or None for zeros, each of one shape) stacked along ``axis`` and
    reshaped to ``shape``: with ops when they must be recorded, else on their arrays."""
    if not parts:
        return Tensor._make(np.zeros(shape, dtype=dtype), None)
    like = next((p for p in parts if p is not None), None)
    if like is None:
        return Tensor._make(np.zeros(shape, dtype=dtype), None)
    zero = np.zeros(np.shape(like), dtype=dtype)
    parts = [zero if p is None else p for p in parts]
    if _live(parts):
        return Reshape.apply(Stack.apply(*parts, axis=axis), shape=shape)
    arrays = [p.data if isinstance(p, Tensor) else p for p in parts]
    return Tensor._make(np.stack(arrays, axis=axis).reshape(shape).astype(dtype, copy=False), None)


# ============================================================== vjp


def vjp(f: Callable[..., Any], *primals: Any, has_aux: bool = False) -> tuple[Any, ...]:
    """Run ``f(*primals)`` and return ``(output, vjp_fn)``: ``vjp_fn(u)`` is the tuple of
    vector-Jacobian products ``uᵀ ∂output/∂primal``, one per primal (reverse mode).

    The cotangent ``u`` has the output's structure (a Tensor, or a tuple/list/dict of them),
    each leaf its output's shape and dtype. ``vjp_fn`` may be called many times (the graph is
    kept while it lives). With ``has_aux=True``, ``f`` returns ``(output, aux)`` and the result
    is ``(output, vjp_fn, aux)``, ``aux`` passed through undifferentiated.

    >>> import autograd_core as ag
    >>> out, vjp_fn = ag.vjp(lambda x: x ** 2, ag.Tensor([1.0, 2.0]))
    >>> vjp_fn(ag.Tensor([1.0, 10.0]))   # uᵀ J, J = diag(2x)
    (Tensor([ 2., 40.]),)
    """
    check_bool(has_aux, "has_aux", "vjp")
    if not primals:
        raise TypeError("vjp: give at least one primal: vjp(f, x) differentiates f at x")
    pairs = [_differentiable(p, "vjp", f"primal {i}") for i, p in enumerate(primals)]
    xs = [x for x, _ in pairs]
    with enable_grad():
        result = f(*xs)
    result, aux = _split_aux(result, has_aux, "vjp")
    outs, spec = _outputs(result, "vjp")
    outside = _record(outs, xs, [fresh for _, fresh in pairs])

    def vjp_fn(cotangent: Any) -> tuple[Tensor, ...]:
        cts, cspec = _flatten(cotangent)
        if cspec != spec:
            raise ValueError(
                f"vjp_fn: the cotangent has the structure {_show(cspec)} but the function's output has "
                f"{_show(spec)}; give one cotangent per output, in the same structure"
            )
        seeds = [_cotangent(u, o, k, len(cts)) for k, (u, o) in enumerate(zip(cts, outs))]
        create_graph = outside or _record([], [], [], seeds)
        total: list[Any] = [None] * len(xs)
        for o, u in zip(outs, seeds):
            if not o.requires_grad:
                continue  # a constant output: no contribution
            for k, g in enumerate(gradients(o, xs, grad=u, retain_graph=True, create_graph=create_graph)):
                total[k] = g if total[k] is None else total[k] + g
        return tuple(
            Tensor._make(np.zeros(x.shape, dtype=x.dtype), None) if g is None else g for x, g in zip(xs, total)
        )

    shown = _unflatten(spec, outs if outside else [_forward.detach(o) for o in outs])
    return (shown, vjp_fn, aux) if has_aux else (shown, vjp_fn)


def _cotangent(u: Any, o: Tensor, k: int, n: int) -> Any:
    """A cotangent checked against its output ``o`` (the ``k``-th of ``n``): a Tensor or an array."""
    name = "the cotangent" if n == 1 else f"cotangent {k}"
    shape = np.shape(u.data if isinstance(u, Tensor) else u)
    dtype = u.dtype if isinstance(u, Tensor) else np.result_type(u)
    if shape != o.shape:
        raise ValueError(
            f"vjp_fn: {name} has shape {shape} but the output has shape {o.shape}; a cotangent must "
            "have its output's shape and dtype"
        )
    if isinstance(u, (int, float)) and not isinstance(u, bool):
        return np.asarray(u, dtype=o.dtype)
    if dtype != o.dtype:
        raise TypeError(
            f"vjp_fn: {name} has dtype {dtype} but the output has dtype {o.dtype}; a cotangent must have its "
            f"output's shape and dtype (cast it: u.astype(np.{o.dtype.name}))"
        )
    return u if isinstance(u, Tensor) else np.asarray(u)


# ============================================================== jvp


def jvp(
    f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any], has_aux: bool = False
) -> tuple[Any, ...]:
    """``(f(*primals), J v)``: the output and its tangent for the given input tangents ``v``
    (forward mode: one pass of ``f`` with the tangents carried along, whatever the size of ``v``).

    ``primals`` and ``tangents`` are tuples with one entry per argument of ``f``; each tangent has
    its primal's shape and dtype. The tangent has the output's structure. With
    ``has_aux=True``, ``f`` returns ``(output, aux)`` and the result is
    ``(output, tangent, aux)``. Every op needs a forward-mode rule (``Function.jvp``): all the
    library's ops have one; a user's op without one is a clear error.

    >>> import autograd_core as ag
    >>> out, t = ag.jvp(lambda x: x ** 3, (ag.Tensor([1.0, 2.0]),), (ag.Tensor([1.0, 0.5]),))
    >>> t                                    # 3x² v
    Tensor([3., 6.])
    """
    check_bool(has_aux, "has_aux", "jvp")
    primals = _as_tuple(primals, "primals", "jvp")
    tangents = _as_tuple(tangents, "tangents", "jvp")
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primal(s) but {len(tangents)} tangent(s); give one tangent per primal")
    return _jvp(f, primals, tangents, has_aux, "jvp")


def _jvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any], has_aux: bool, where: str) -> Any:
    xs = [_value(p, where, f"primal {i}") for i, p in enumerate(primals)]  # (before the level opens)
    seeds = [_tangent(v, x, i, len(xs), where) for i, (v, x) in enumerate(zip(tangents, xs))]
    with _forward.level() as lv:
        for x, d in zip(xs, seeds):
            lv.put(x, d)
        result = f(*xs)
        result, aux = _split_aux(result, has_aux, where)
        outs, spec = _outputs(result, where)
        found = [lv.get(o) for o in outs]
    # the level is closed: the tangents are plain values now (still carrying an outer level's)
    seen = {id(d) for d in seeds}
    tans = [_tangent_out(d, o, seen) for d, o in zip(found, outs)]
    primal_out = _unflatten(spec, outs)
    tangent_out = _unflatten(spec, tans)
    return (primal_out, tangent_out, aux) if has_aux else (primal_out, tangent_out)


def _tangent(v: Any, x: Tensor, i: int, n: int, where: str) -> Any:
    """The tangent ``v`` of primal ``x`` (the ``i``-th of ``n``), checked: a Tensor or an array."""
    name = "the tangent" if n == 1 else f"tangent {i}"
    if isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{where}: {name} is a bool; give a Tensor, an array or a number of the primal's dtype")
    if isinstance(v, (int, float)):  # a Python number takes the primal's dtype, as NumPy does
        if x.shape != ():
            raise ValueError(
                f"{where}: {name} is a number but its primal has shape {x.shape}; a tangent must have its "
                "primal's shape and dtype"
            )
        return np.asarray(v, dtype=x.dtype)
    if not isinstance(v, Tensor):
        if not isinstance(v, (list, tuple, np.ndarray, np.generic)):
            raise TypeError(f"{where}: {name} is a {type(v).__name__}; give a Tensor, a NumPy array or a number")
        v = np.asarray(v)
    if v.shape != x.shape:
        raise ValueError(
            f"{where}: {name} has shape {v.shape} but its primal has shape {x.shape}; a tangent must have its "
            "primal's shape and dtype"
        )
    if v.dtype != x.dtype:
        raise TypeError(
            f"{where}: {name} has dtype {v.dtype} but its primal has dtype {x.dtype}; a tangent must have its "
            f"primal's shape and dtype (cast it: v.astype(np.{x.dtype.name}))"
        )
    return v


def _tangent_out(d: Any, o: Tensor, seeds: set[int]) -> Tensor:
    """A result tangent as a Tensor of its own: zeros for none; an array as it is when a rule made
    it, else a copy (a view, perhaps of the caller's tangent); a recorded copy of a Tensor that is a
    caller's tangent itself."""
    if d is None:
        return Tensor._make(np.zeros(o.shape, dtype=o.dtype), None)
    if isinstance(d, Tensor):
        return Clone.apply(d) if id(d) in seeds else d
    if d.base is not None or id(d) in seeds or not d.flags.writeable:
        d = np.array(d)
    return Tensor._make(d, None)


# ============================================================== jacobian


def jacobian(
    f: Callable[..., Any], argnums: int | tuple[int, ...] = 0, mode: str = "rev", has_aux: bool = False
) -> Callable[..., Any]:
    """Return a function computing the Jacobian of ``f`` with respect to the argument(s) ``argnums``.

    For an output of shape ``out`` and an input of shape ``in`` the Jacobian has shape
    ``out + in``: ``J[i..., j...] = ∂output[i...] / ∂input[j...]``. With a tuple ``argnums`` each
    output gets a tuple of Jacobians, one per argument; an output that is a tuple/list/dict of
    Tensors gets the same structure of Jacobians. ``has_aux=True``: ``f`` returns
    ``(output, aux)`` and the function returns ``(jacobian, aux)``.

    Parameters
    ----------
    f
        A function of Tensors (or arrays, numbers) returning Tensors.
    argnums
        The argument, or tuple of arguments, to differentiate with respect to.
    mode
        ``"rev"`` (JAX's ``jacrev``): one backward pass per output element, the right choice
        when there are fewer outputs than inputs. ``"fwd"`` (``jacfwd``): one forward-mode
        pass per input element, for more outputs than inputs.
    has_aux
        Whether ``f`` returns ``(output, aux)``.

    >>> import autograd_core as ag
    >>> J = ag.jacobian(lambda x: x ** 2)(ag.Tensor([1.0, 3.0]))
    >>> J
    Tensor([[2., 0.],
            [0., 6.]])
    >>> ag.jacobian(lambda x: x ** 2, mode="fwd")(ag.Tensor([1.0, 3.0]))
    Tensor([[2., 0.],
            [0., 6.]])
    """
    nums, single = _argnums(argnums, "jacobian")
    check_choice(mode, "mode", "jacobian", ("rev", "fwd"))
    check_bool(has_aux, "has_aux", "jacobian")
    build = _jacrev if mode == "rev" else _jacfwd

    @functools.wraps(f)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        where = "jacobian"
        result, aux = build(f, args, kwargs, _positions(nums, len(args), argnums, where), single, has_aux, where)
        return (result, aux) if has_aux else result

    return wrapped


def _jacrev(
    f: Callable[..., Any], args: Any, kwargs: Any, idx: list[int], single: bool, has_aux: bool, where: str
) -> tuple[Any, Any]:
    """The Jacobian a row at a time: one backward pass per output element (``uᵀ J`` for each unit ``u``)."""
    args = list(args)
    xs, fresh = [], []
    for i in idx:
        x, new = _differentiable(args[i], where, f"argument {i}")
        args[i] = x
        xs.append(x)
        fresh.append(new)
    with enable_grad():
        result = f(*args, **kwargs)
    result, aux = _split_aux(result, has_aux, where)
    outs, spec = _outputs(result, where)
    record = _record(outs, xs, fresh)
    blocks = []
    for o in outs:
        rows: list[list[Any]] = [[] for _ in xs]
        if o.requires_grad:
            m = o.size
            for e in range(m):
                unit = np.zeros(m, dtype=o.dtype)
                unit[e] = 1
                grads = gradients(o, xs, grad=unit.reshape(o.shape), retain_graph=True, create_graph=record)
                for k, g in enumerate(grads):
                    rows[k].append(g)
        jac = [
            _stacked(r, o.shape + x.shape, o.dtype, 0)
            if r
            else Tensor._make(np.zeros(o.shape + x.shape, o.dtype), None)
            for r, x in zip(rows, xs)
        ]
        blocks.append(jac[0] if single else tuple(jac))
    return _unflatten(spec, blocks), aux


def _jacfwd(
    f: Callable[..., Any], args: Any, kwargs: Any, idx: list[int], single: bool, has_aux: bool, where: str
) -> tuple[Any, Any]:
    """The Jacobian a column at a time: one forward-mode pass per input element (``J e`` for each unit ``e``)."""
    args = list(args)
    base = [
        a if isinstance(a, Tensor) else Tensor(_checked(a, where, f"argument {i}"))
        for i, a in ((i, args[i]) for i in idx)
    ]
    columns: list[list[list[Any]]] = []  # per input: per column: the output leaves' tangents
    spec = aux = outs = None
    for i, x in zip(idx, base):
        cols = []
        for e in range(x.size):
            unit = np.zeros(x.size, dtype=x.dtype)
            unit[e] = 1
            call = list(args)
            for j, b in zip(idx, base):  # new objects each time: each column's own leaves and tangents
                call[j] = _value(b, where, f"argument {j}")
            with _forward.level() as lv:
                lv.put(call[i], unit.reshape(x.shape))
                result = f(*call, **kwargs)
                result, extra = _split_aux(result, has_aux, where)
                found, shape = _outputs(result, where)
                cols.append([lv.get(o) for o in found])
            if outs is None:
                outs, spec, aux = found, shape, extra
            elif shape != spec:
                raise ValueError(
                    f"{where}: the function returned {_show(shape)} for one input and {_show(spec)} for another"
                )
        columns.append(cols)
    if outs is None:  # every input is empty: one call for the output's structure
        result = f(*args, **kwargs)
        result, aux = _split_aux(result, has_aux, where)
        outs, spec = _outputs(result, where)
    blocks = []
    for n, o in enumerate(outs):
        jac = [_stacked([c[n] for c in cols], o.shape + x.shape, o.dtype, -1) for cols, x in zip(columns, base)]
        blocks.append(jac[0] if single else tuple(jac))
    return _unflatten(spec, blocks), aux


# ============================================================== hessian, hvp


def _gradient_of(
    f: Callable[..., Any], idx: list[int] | None, has_aux: bool, where: str, single: bool = False
) -> Callable[..., Any]:
    """``x ↦ (∇f(x), (f(x), aux))`` for scalar-valued ``f``: the gradient with respect to the
    arguments at ``idx`` (all of them for None), as a tuple (a Tensor when ``single``); the value
    and aux as an aux. Called by this module's forward mode only, with arguments it made (they
    become the leaves)."""

    def grads(*args: Any, **kwargs: Any) -> tuple[Any, tuple[Tensor, Any]]:
        given = list(args)
        positions = range(len(given)) if idx is None else idx
        xs, fresh = [], []
        for i in positions:
            x, new = _differentiable(given[i], where, f"argument {i}", own=True)
            given[i] = x
            xs.append(x)
            fresh.append(new)
        with enable_grad():
            result = f(*given, **kwargs)
        out, aux = _split_aux(result, has_aux, where)
        if not isinstance(out, Tensor):
            raise TypeError(
                f"{where}: the function must return a scalar Tensor computed from its inputs, got "
                f"{type(out).__name__}" + (" (with has_aux=True: as the first of the pair)" if has_aux else "")
            )
        if out.size != 1:
            raise ValueError(
                f"{where}: the function must return a scalar (single-element) Tensor, got shape {out.shape}; "
                f"{where} is for scalar functions (a loss): reduce the output (.sum()), or take "
                "jacobian(jacobian(f)) of a vector function"
            )
        if not out.requires_grad:  # f does not depend on the inputs
            gs = tuple(Tensor._make(np.zeros(x.shape, dtype=x.dtype), None) for x in xs)
        else:
            record = _record([out], xs, fresh)
            gs = gradients(out, xs, create_graph=record)
            if not record:
                out = out.detach()  # (aux: passed through undifferentiated, its tangents are not wanted)
        return (gs[0] if single else gs), (out, aux)

    return grads


def hessian(f: Callable[..., Any], argnums: int | tuple[int, ...] = 0, has_aux: bool = False) -> Callable[..., Any]:
    """Return a function computing the Hessian of scalar-valued ``f`` with respect to ``argnums``.

    Forward over reverse, as JAX's ``hessian`` (``jacfwd(jacrev(f))``): one forward-mode pass of
    the gradient per input element. For an input of shape ``in`` the Hessian has shape ``in + in``
    (like ``ag.grad``, the output's single element adds no axes). With a tuple ``argnums`` the
    result is a tuple of tuples of blocks, ``H[i][j] = ∂²f / ∂x_i ∂x_j`` of shape
    ``x_i.shape + x_j.shape``. ``has_aux=True``: ``f`` returns ``(output, aux)`` and the function
    returns ``(hessian, aux)``. A non-scalar output is an error (take ``jacobian(jacobian(f))``).

    >>> import autograd_core as ag
    >>> ag.hessian(lambda x: (x ** 3).sum())(ag.Tensor([1.0, 2.0]))   # diag(6x)
    Tensor([[ 6.,  0.],
            [ 0., 12.]])
    """
    nums, single = _argnums(argnums, "hessian")
    check_bool(has_aux, "has_aux", "hessian")

    @functools.wraps(f)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        idx = _positions(nums, len(args), argnums, "hessian")
        grads = _gradient_of(f, idx, has_aux, "hessian", single)
        blocks, (_, aux) = _jacfwd(grads, args, kwargs, idx, single, True, "hessian")
        return (blocks, aux) if has_aux else blocks

    return wrapped


def hvp(f: Callable[..., Any], primals: Any, tangents: Any, has_aux: bool = False) -> tuple[Any, ...]:
    """``(f(x), H v)``: the Hessian of scalar-valued ``f`` at the primals times the tangents, without
    forming ``H`` (forward over reverse: the JVP of the gradient, about the cost of three passes of ``f``).

    ``hvp(f, x, v)`` with a Tensor (array, number) ``x`` returns ``(output, Hv)``; with tuples
    ``hvp(f, (x, y), (v, w))`` it differentiates with respect to every primal and returns
    ``(output, (Hv_x, Hv_y))``, a 1-tuple for one. Each tangent has its primal's shape and
    dtype. ``has_aux=True``: ``f`` returns ``(output, aux)`` and the result is
    ``(output, Hv, aux)``.

    >>> import autograd_core as ag
    >>> value, hv = ag.hvp(lambda x: (x ** 3).sum(), ag.Tensor([1.0, 2.0]), ag.Tensor([1.0, 1.0]))
    >>> value, hv                          # Σx³ and diag(6x) v
    (Tensor(9.), Tensor([ 6., 12.]))
    """
    check_bool(has_aux, "has_aux", "hvp")
    single = not isinstance(primals, (tuple, list))
    if single:
        if isinstance(tangents, (tuple, list)):
            raise TypeError(
                "hvp: the primal is a single value but the tangents are a tuple; give hvp(f, x, v) or "
                "hvp(f, (x,), (v,))"
            )
        primals, tangents = (primals,), (tangents,)
    else:
        tangents = _as_tuple(tangents, "tangents", "hvp")
        if len(primals) != len(tangents):
            raise ValueError(
                f"hvp: {len(primals)} primal(s) but {len(tangents)} tangent(s); give one tangent per primal"
            )
    _, hv, (value, aux) = _jvp(_gradient_of(f, None, has_aux, "hvp"), primals, tangents, True, "hvp")
    hv = hv[0] if single else hv
    return (value, hv, aux) if has_aux else (value, hv)
