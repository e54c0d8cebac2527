"""The Optimizer base: parameter groups, per-parameter state, ``zero_grad``, ``step``, ``minimize``,
``state_dict``/``load_state_dict``; and plain gradient descent.

A subclass names its hyperparameters in ``__init__``, creates each parameter's state in
:meth:`Optimizer.init_state` and updates one parameter in :meth:`Optimizer.update`. Everything
else (groups, weight decay, skipping parameters without a gradient, validation, checkpoints)
lives here, once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from autograd_core import Tensor, tracing
from autograd_core import versions as _versions
from autograd_core._checks import check_real
from autograd_core.grad_mode import grad_enabled

from .clip import clip_grad_norm as _clip_grad_norm

ParamsLike = Iterable[Tensor] | Iterable[Mapping[str, Any]]


class Optimizer:
    """Base class of the optimizers. Subclasses implement :meth:`init_state` and :meth:`update`.

    ``params`` is an iterable of Tensors (``nn.Parameter`` s, or leaf Tensors with
    ``requires_grad=True``), or an iterable of *groups*: dicts with a ``"params"`` entry and
    optional per-group hyperparameters that override the optimizer's defaults::

        optim.Momentum([{"params": body}, {"params": head, "lr": 0.1}], lr=0.01)

    Every optimizer takes ``weight_decay`` (L2 regularisation, default 0): it is added to the
    gradient before the rule sees it, ``g ← g + weight_decay · w`` (PyTorch's ``weight_decay``,
    not AdamW's decoupled decay); ``p.grad`` itself is left untouched.

    Every optimizer takes ``clip_grad_norm`` (None: no clipping): before each update the
    gradients of all its parameters are scaled together, in place, so that their joint norm is
    at most ``clip_grad_norm``, as ``optim.clip_grad_norm(params, clip_grad_norm)`` (PyTorch's
    ``clip_grad_norm_``) called between ``backward()`` and ``step()`` does (Keras's
    ``global_clipnorm``), so that ``nn.fit`` clips too. ``grad_norm`` is then the norm before
    clipping at the latest step. It is a setting of the optimizer, like its parameter groups,
    not part of its ``state_dict``: a resumed run clips as the optimizer built for it says.

    ``lr`` may be read or set at any time; setting it sets the learning rate of every group
    (reading it gives the first group's). Per-parameter state (moment estimates, step counts)
    is in ``state``, a list parallel to ``params``.
    """

    def __init__(
        self,
        params: ParamsLike,
        lr: float,
        *,
        weight_decay: float = 0.0,
        clip_grad_norm: float | None = None,
        **hyper: float,
    ) -> None:
        name = type(self).__name__
        #: The largest joint norm of the gradients an update uses (None: no clipping).
        self.clip_grad_norm = None
        if clip_grad_norm is not None:
            expected = "a positive number (None for no clipping)"
            self.clip_grad_norm = check_real(
                clip_grad_norm, "clip_grad_norm", name, low=0, low_open=True, expected=expected
            )
        #: The gradients' joint norm before clipping, at the latest step (None until a step clips).
        self.grad_norm: float | None = None
        self.defaults: dict[str, float] = {"lr": lr, "weight_decay": weight_decay, **hyper}
        for key, value in self.defaults.items():
            self.defaults[key] = self._check(key, value)
        if isinstance(params, Tensor):
            raise TypeError(f"{name}: params must be an iterable of Tensors (e.g. [w]), got a single Tensor")
        items = list(params)
        if not items:
            raise ValueError(f"{name}: got an empty parameter list")
        self.param_groups: list[dict[str, Any]] = []
        self.params: list[Tensor] = []
        self.state: list[dict[str, Any]] = []
        self._pairs: list[list[tuple[Tensor, dict[str, Any]]]] = []  # per group: (param, its state)
        if all(isinstance(item, Mapping) for item in items):
            for group in items:
                self.add_param_group(group)
        elif any(isinstance(item, Mapping) for item in items):
            raise TypeError(f"{name}: params must be all Tensors or all parameter groups (dicts), not a mixture")
        else:
            self.add_param_group({"params": items})

    # ------------------------------------------------------------------ hyperparameters
    def _check(self, key: str, value: Any) -> float:
        """Validate one hyperparameter and return it as a Python float.

        Python floats (not NumPy scalars) keep float32 parameters in float32 arithmetic.
        """
        name = type(self).__name__
        if isinstance(value, np.ndarray) and value.size == 1:  # a loaded state's entry
            value = value.reshape(()).item()
        if key.startswith("beta"):  # the weight of an old average
            return check_real(value, key, name, low=0, high=1, high_open=True, expected="in [0, 1)")
        return check_real(value, key, name, low=0, expected="a non-negative finite number")

    @property
    def lr(self) -> float:
        """The learning rate (of the first group). Setting it sets every group's."""
        return self.param_groups[0]["lr"]

    @lr.setter
    def lr(self, value: float) -> None:
        value = self._check("lr", value)
        if tracing.active:  # inside ag.compile: a change of state the program makes too
            tracing.effect(self._set_lr, value)
        else:
            self._set_lr(value)

    def _set_lr(self, value: float) -> None:
        for group in self.param_groups:
            group["lr"] = value

    def add_param_group(self, group: Mapping[str, Any]) -> None:
        """Add a group of parameters, with hyperparameters overriding the defaults."""
        name = type(self).__name__
        if "params" not in group:
            raise ValueError(f"{name}: a parameter group needs a 'params' entry")
        unknown = set(group) - set(self.defaults) - {"params"}
        if unknown:
            raise ValueError(
                f"{name}: unknown option(s) {sorted(unknown)} in a parameter group; "
                f"the options are {sorted(self.defaults)}"
            )
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        if not params:
            raise ValueError(f"{name}: parameter group {len(self.param_groups)} is empty")
        seen = {id(p) for p in self.params}
        for p in params:
            i = len(self.params)
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: params[{i}] is a {type(p).__name__}, not a Tensor")
            if not p.requires_grad or not p.is_leaf:
                raise ValueError(f"{name}: params[{i}] (shape {p.shape}) must be a leaf tensor with requires_grad=True")
            if id(p) in seen:
                raise ValueError(f"{name}: params[{i}] (shape {p.shape}) appears more than once")
            seen.add(id(p))
            self.params.append(p)
            self.state.append(self.init_state(p))
        new = {"params": params}
        for key, default in self.defaults.items():
            new[key] = self._check(key, group[key]) if key in group else default
        self.param_groups.append(new)
        self._pairs.append(list(zip(params, self.state[len(self.state) - len(params) :])))

    # ------------------------------------------------------------------ the rule
    #: True when :meth:`update` applies ``weight_decay`` itself (AdamW's decoupled decay) instead
    #: of the L2 term ``weight_decay · w`` being added to the gradient here.
    decoupled_weight_decay: bool = False

    #: State arrays that can never be negative (second-moment estimates): a loaded checkpoint
    #: holding a negative one is refused.
    nonnegative_state: tuple[str, ...] = ()

    def init_state(self, p: Tensor) -> dict[str, Any]:
        """The initial state of one parameter (zero moment estimates, step count 0)."""
        return {}

    def update(self, p: Tensor, g: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        """Update ``p.data`` in place from its gradient ``g`` (weight decay already added)."""
        raise NotImplementedError

    #: ``ag.compile``'s Python source of :meth:`update`, for rules that have one: statements over ``{p}``
    #: (the parameter's data, changed in place), ``{g}`` (its gradient, weight decay added), the group's
    #: hyperparameters by name (``{lr}``), the parameter's state by name (``{v}``, changed in place) and
    #: temporaries (``{t0}``). It makes the same NumPy calls as ``update``, so a compiled program may
    #: write it out (on Python floats when every parameter is a scalar) instead of calling ``step``.
    #: A subclass that overrides ``update`` without its own ``py_update`` has none.
    py_update: tuple[str, ...] | None = None

    def python_effect(self, method: str, args: tuple[Any, ...]) -> dict[str, Any] | None:
        """What ``ag.compile`` may write out instead of calling the effect ``method`` with ``args``:
        ``_zero_grad`` (to None) forgets the parameters' gradients; ``_step`` without clipping updates
        each parameter that has a gradient with ``py_update`` (see above). None: the program calls the
        method."""
        if method == "_zero_grad" and args == (True,):
            return {"forget_grads": list(self.params)}
        if method == "_step" and self.clip_grad_norm is None:  # (clipping: the program calls the step)
            owner = next(c for c in type(self).__mro__ if "update" in c.__dict__)
            form = owner.__dict__.get("py_update")
            if form is None:
                return None
            return {"updates": [(p, state, group) for group, pairs in zip(self.param_groups, self._pairs)
                                for p, state in pairs], "form": form, "refuse": self._bad_grad}  # fmt: skip
        return None

    # ------------------------------------------------------------------ training
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the accumulated gradients: ``.grad = None`` (or zeros with ``set_to_none=False``)."""
        if tracing.active:  # inside ag.compile: a change of state the program makes too (ag.effect)
            tracing.effect(self._zero_grad, set_to_none)
        else:
            self._zero_grad(set_to_none)

    def _zero_grad(self, set_to_none: bool) -> None:
        for p in self.params:
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad.fill(0)

    def step(self) -> None:
        """Update every parameter that has a gradient; those whose ``.grad`` is None are skipped.

        Runs under ``no_grad``. Each update is an in-place change of the parameter: it bumps
        its version, so a backward through a graph recorded before the step refuses to run
        (its saved values are gone) instead of computing a wrong gradient. Inside ``ag.compile``
        the step is an effect (``ag.effect``): the program makes it at every call, reading the
        learning rate and the gradients of that call.
        """
        if tracing.active:
            tracing.guard(self, "clip_grad_norm")  # (whether the program clips: set since, it traces again)
            tracing.effect(self._step)
        else:
            self._step()

    def _step(self) -> None:
        mode = grad_enabled.set(False)  # no_grad, without a context manager's calls (this runs every step)
        try:
            if self.clip_grad_norm is not None:
                self._clip()
            for group, pairs in zip(self.param_groups, self._pairs):
                wd = group["weight_decay"]
                for p, state in pairs:
                    g = p.grad
                    if g is None:
                        continue
                    if not isinstance(g, np.ndarray) or g.shape != p.data.shape:
                        raise self._bad_grad(p, g)
                    if wd and not self.decoupled_weight_decay:
                        g = g + wd * p.data  # a new array: p.grad stays the loss's gradient
                    self.update(p, g, state, group)
                    _versions.bump(p.data)
        finally:
            grad_enabled.reset(mode)

    def _clip(self) -> None:
        """Scale every ``.grad`` in place so that their joint norm is at most ``clip_grad_norm``."""
        for p in self.params:
            g = p.grad
            if g is not None and (not isinstance(g, np.ndarray) or g.shape != p.data.shape):
                raise self._bad_grad(p, g)
        self.grad_norm = _clip_grad_norm(self.params, self.clip_grad_norm)

    def _bad_grad(self, p: Tensor, g: Any) -> Exception:
        j = next(j for j, q in enumerate(self.params) if q is p)
        what = f"shape {g.shape}" if isinstance(g, np.ndarray) else f"type {type(g).__name__}"
        return ValueError(
            f"{type(self).__name__}.step: params[{j}] has shape {p.shape} but its .grad has {what}; a "
            "gradient set by hand must be a NumPy array of the parameter's shape (it is never broadcast)"
        )

    def minimize(self, cost_fn: Callable[[], Tensor]) -> float:
        """One training step: ``zero_grad``, ``cost = cost_fn()``, ``backward``, ``step``.

        Returns the cost (before the step) as a float.
        """
        self.zero_grad()
        cost = cost_fn()
        if not isinstance(cost, Tensor):
            raise TypeError(f"minimize: cost_fn must return a Tensor, got {type(cost).__name__}")
        cost.backward()
        self.step()
        return cost.item()

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, np.ndarray]:
        """Everything needed to resume: a flat dict of name → NumPy array (copies), ready for ``.npz``.

        Keys: ``optimizer`` (the class name), ``groups.{i}.size`` and ``groups.{i}.{hyperparameter}``
        (``lr`` included), ``params.{j}.shape``, and ``state.{j}.{name}`` for each parameter's state
        (moment estimates, step counts).
        """
        d: dict[str, np.ndarray] = {"optimizer": np.array(type(self).__name__)}
        for i, group in enumerate(self.param_groups):
            d[f"groups.{i}.size"] = np.array(len(group["params"]), dtype=np.int64)
            for key in self.defaults:
                d[f"groups.{i}.{key}"] = np.array(group[key], dtype=np.float64)
        for j, (p, state) in enumerate(zip(self.params, self.state)):
            d[f"params.{j}.shape"] = np.array(p.shape, dtype=np.int64)
            for key, value in state.items():
                d[f"state.{j}.{key}"] = np.array(value, copy=True)
        return d

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore hyperparameters (``lr`` included), moment estimates and step counts.

        Checks everything before changing anything: a different optimizer type, a different
        number of groups or parameters, a parameter of another shape, or missing or unexpected
        entries raise a ValueError that says which.
        """
        name = type(self).__name__
        where = f"{name}.load_state_dict"
        d = dict(state_dict)
        if "optimizer" not in d:
            raise ValueError(f"{where}: not an optimizer state (no 'optimizer' entry)")
        saved_type = str(np.asarray(d["optimizer"]))
        if saved_type != name:
            raise ValueError(f"{where}: the state is from a {saved_type} optimizer, not a {name}")
        expected = {"optimizer"}
        sizes = [len(group["params"]) for group in self.param_groups]
        saved_sizes = []
        i = 0
        while f"groups.{i}.size" in d:
            saved_sizes.append(_whole(where, f"groups.{i}.size", d[f"groups.{i}.size"]))
            i += 1
        if saved_sizes != sizes:
            raise ValueError(
                f"{where}: the state has {sum(saved_sizes)} parameter(s) in groups of sizes {saved_sizes}, "
                f"but this optimizer has {sum(sizes)} in groups of sizes {sizes}"
            )
        hyper: list[dict[str, float]] = []
        for i in range(len(sizes)):
            expected.add(f"groups.{i}.size")
            values = {}
            for key in self.defaults:
                k = f"groups.{i}.{key}"
                expected.add(k)
                if k not in d:
                    raise ValueError(f"{where}: missing entry {k!r}")
                values[key] = self._check(key, np.asarray(d[k]).item())
            hyper.append(values)
        new_states = []
        for j, (p, state) in enumerate(zip(self.params, self.state)):
            k = f"params.{j}.shape"
            expected.add(k)
            if k not in d:
                raise ValueError(f"{where}: missing entry {k!r}")
            shape = tuple(_whole(where, k, n) for n in np.asarray(d[k]).reshape(-1))
            if shape != p.shape:
                raise ValueError(f"{where}: parameter {j} has shape {p.shape}, but the state is for shape {shape}")
            new = {}
            for key, current in state.items():
                k = f"state.{j}.{key}"
                expected.add(k)
                if k not in d:
                    raise ValueError(f"{where}: missing entry {k!r}")
                value = np.asarray(d[k])
                if isinstance(current, np.ndarray):
                    if value.shape != current.shape:
                        raise ValueError(f"{where}: entry {k!r} has shape {value.shape}, expected {current.shape}")
                    if value.dtype.kind not in "biuf":
                        raise ValueError(f"{where}: entry {k!r} has dtype {value.dtype}; expected numbers")
                    if not np.isfinite(value).all():
                        raise ValueError(f"{where}: entry {k!r} holds NaN or infinity")
                    if key in self.nonnegative_state and (value < 0).any():
                        raise ValueError(f"{where}: entry {k!r} holds negative values; it can never be negative")
                    new[key] = np.array(value, dtype=current.dtype)  # a copy, in the parameter's dtype
                elif isinstance(current, int):  # a count (steps taken)
                    new[key] = _whole(where, k, value)
                else:
                    new[key] = type(current)(value.item())
            new_states.append(new)
        unexpected = sorted(set(d) - expected)
        if unexpected:
            raise ValueError(f"{where}: unexpected entries {unexpected}")
        for group, values in zip(self.param_groups, hyper):
            group.update(values)
        for state, new in zip(self.state, new_states):
            state.update(new)  # in place: the (param, state) pairs keep pointing at these dicts

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v:g}" for k, v in self.param_groups[0].items() if k != "params")
        if self.clip_grad_norm is not None:
            options += f", clip_grad_norm={self.clip_grad_norm:g}"
        return f"{type(self).__name__}({len(self.params)} parameters, {options})"


def _whole(where: str, key: str, value: Any) -> int:
    """A count read from a checkpoint: a non-negative whole number, or a ValueError naming it."""
    arr = np.asarray(value)
    if (
        arr.shape != ()
        or arr.dtype.kind not in "iuf"
        or not np.isfinite(arr)
        or arr != np.round(arr)
        or arr < 0
        or arr > np.iinfo(np.int64).max
    ):
        raise ValueError(f"{where}: entry {key!r} must be a non-negative whole number, got {arr.tolist()!r}")
    return int(arr)


class GradientDescent(Optimizer):
    """Plain gradient descent: ``w ← w − lr · g``.

    With ``weight_decay``, ``g = ∂J/∂w + weight_decay · w``; with ``clip_grad_norm``, the
    gradients are first scaled together to that joint norm at most (see :class:`Optimizer`).
    The same as ``torch.optim.SGD`` without momentum. Alias: ``optim.SGD``.

    >>> w = Tensor(0.0, requires_grad=True)
    >>> GradientDescent([w], lr=0.01).minimize(lambda: w**2 - 10*w + 25)
    25.0
    >>> w.item()
    0.1
    """

    def __init__(
        self, params: ParamsLike, lr: float, weight_decay: float = 0.0, clip_grad_norm: float | None = None
    ) -> None:
        super().__init__(params, lr, weight_decay=weight_decay, clip_grad_norm=clip_grad_norm)

    def update(self, p: Tensor, g: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        p.data -= group["lr"] * g

    py_update = ("{p} -= {lr} * {g}",)


SGD = GradientDescent
