"""Fixed test functions for the functional transforms, written once for two frameworks.

Each case is a function ``fn(m, *args)`` where ``m`` supplies the functions (``m.sin``), what
the frameworks spell differently (an axis keyword, a convolution) and captured constants;
everything else is the operators and methods (``@``, ``**``, ``.sum()``, ``.T``, slicing) that
autograd_core, PyTorch and JAX share. ``make_functional_references.py`` evaluates them with
``torch.func`` and stores the results; ``tests/test_transforms.py`` compares ``autograd_core``
with the stored results always, and with ``torch.func`` and ``jax`` live where installed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

_rng = np.random.default_rng(2024)
X = _rng.standard_normal((7, 5))  # a logistic regression's data
Y = (_rng.uniform(size=7) > 0.5).astype(np.float64)
TALL = _rng.standard_normal((8, 2))
WIDE = _rng.standard_normal((2, 8))


@dataclass(frozen=True)
class Case:
    name: str
    fn: Callable[..., Any]  # fn(m, *args)
    shapes: tuple[tuple[int, ...], ...]
    argnums: int | tuple[int, ...] = 0
    scalar: bool = False  # a scalar output: hessian and hvp too

    def inputs(self) -> list[np.ndarray]:
        rng = np.random.default_rng(_seed(self.name))
        return [rng.standard_normal(s) * 0.8 for s in self.shapes]

    def tangents(self) -> list[np.ndarray]:
        rng = np.random.default_rng(_seed(self.name) + 1)
        return [rng.standard_normal(s) for s in self.shapes]


def _seed(name: str) -> int:
    return sum((i + 1) * ord(c) for i, c in enumerate(name))


CASES = [
    Case("elementwise", lambda m, x: m.sin(x) * x**2 + m.exp(-x) / (1 + x * x), ((5,),)),
    Case("mlp", lambda m, x, w, b: m.tanh(x @ w + b), ((3, 4), (4, 5), (5,)), argnums=(0, 1, 2)),
    Case("softmax", lambda m, z: m.softmax(z, -1) * z, ((2, 4),)),
    Case("logsumexp", lambda m, x: m.logsumexp(x, 0) * m.mean(x, 0), ((3, 4),)),
    Case("matrix", lambda m, a: a @ a.T + m.sigmoid(a), ((3, 3),)),
    Case("pair", lambda m, x: (m.sin(x), x.sum() * x), ((4,),)),
    Case("tall", lambda m, x: m.sin(m.const(TALL) @ x), ((2,),)),
    Case("wide", lambda m, x: m.const(WIDE) @ m.tanh(x), ((8,),)),
    Case("conv", lambda m, x, w: m.tanh(m.conv2d(x, w, 1)), ((1, 2, 4, 4), (3, 2, 3, 3)), argnums=(0, 1)),
    Case(
        "logistic",
        lambda m, w: (m.log1p(m.exp(m.const(X) @ w)) - m.const(Y) * (m.const(X) @ w)).sum(),
        ((5,),),
        scalar=True,
    ),
    Case(
        "rosenbrock",
        lambda m, x: (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum(),
        ((6,),),
        scalar=True,
    ),
    Case(
        "two_arguments",
        lambda m, x, y: (x * m.sin(y)).sum() + (x**2).sum() * y.mean() + x @ m.tanh(y),
        ((4,), (4,)),
        argnums=(0, 1),
        scalar=True,
    ),
    Case(
        "conv_loss",
        lambda m, x, w: (m.conv2d(x, w, 1) ** 2).mean(),
        ((2, 2, 3, 3), (2, 2, 2, 2)),
        argnums=(1, 0),
        scalar=True,
    ),
]


class Ours:
    """What the functions need, in autograd_core."""

    @staticmethod
    def _ag() -> Any:
        import autograd_core as ag

        return ag

    sin = staticmethod(lambda x: Ours._ag().sin(x))
    exp = staticmethod(lambda x: Ours._ag().exp(x))
    tanh = staticmethod(lambda x: Ours._ag().tanh(x))
    sigmoid = staticmethod(lambda x: Ours._ag().sigmoid(x))
    log1p = staticmethod(lambda x: Ours._ag().log1p(x))
    softmax = staticmethod(lambda x, axis: x.softmax(axis=axis))
    logsumexp = staticmethod(lambda x, axis: x.logsumexp(axis=axis))
    mean = staticmethod(lambda x, axis: x.mean(axis=axis))
    conv2d = staticmethod(lambda x, w, padding: Ours._ag().conv2d(x, w, padding=padding))
    const = staticmethod(lambda a: a)


class Torch:
    """The same in PyTorch."""

    @staticmethod
    def _torch() -> Any:
        import torch

        return torch

    sin = staticmethod(lambda x: Torch._torch().sin(x))
    exp = staticmethod(lambda x: Torch._torch().exp(x))
    tanh = staticmethod(lambda x: Torch._torch().tanh(x))
    sigmoid = staticmethod(lambda x: Torch._torch().sigmoid(x))
    log1p = staticmethod(lambda x: Torch._torch().log1p(x))
    softmax = staticmethod(lambda x, axis: x.softmax(dim=axis))
    logsumexp = staticmethod(lambda x, axis: x.logsumexp(dim=axis))
    mean = staticmethod(lambda x, axis: x.mean(dim=axis))
    conv2d = staticmethod(lambda x, w, padding: Torch._torch().nn.functional.conv2d(x, w, padding=padding))
    const = staticmethod(lambda a: Torch._torch().from_numpy(a))


class Jax:
    """The same in JAX (``jax.numpy``; 64-bit floats enabled by :class:`JaxRunner`)."""

    @staticmethod
    def _jnp() -> Any:
        import jax.numpy as jnp

        return jnp

    @staticmethod
    def sigmoid(x: Any) -> Any:
        import jax

        return jax.nn.sigmoid(x)

    @staticmethod
    def softmax(x: Any, axis: int) -> Any:
        import jax

        return jax.nn.softmax(x, axis=axis)

    @staticmethod
    def logsumexp(x: Any, axis: int) -> Any:
        import jax.scipy.special

        return jax.scipy.special.logsumexp(x, axis=axis)

    @staticmethod
    def conv2d(x: Any, w: Any, padding: int) -> Any:
        import jax

        return jax.lax.conv_general_dilated(x, w, (1, 1), [(padding, padding)] * 2)  # NCHW, OIHW

    sin = staticmethod(lambda x: Jax._jnp().sin(x))
    exp = staticmethod(lambda x: Jax._jnp().exp(x))
    tanh = staticmethod(lambda x: Jax._jnp().tanh(x))
    log1p = staticmethod(lambda x: Jax._jnp().log1p(x))
    mean = staticmethod(lambda x, axis: Jax._jnp().mean(x, axis=axis))
    const = staticmethod(lambda a: Jax._jnp().asarray(a))


# ============================================================== the transforms, run the same way in both


def _flat(prefix: str, value: Any, to_numpy: Callable[[Any], np.ndarray], out: dict[str, np.ndarray]) -> None:
    """``value`` (a tensor, or nested tuples of them) into ``out`` as ``prefix/0/1``... entries."""
    if isinstance(value, (tuple, list)):
        for i, v in enumerate(value):
            _flat(f"{prefix}/{i}", v, to_numpy, out)
    else:
        out[prefix] = to_numpy(value)


def _leaves(value: Any) -> list[Any]:
    return [v for item in value for v in _leaves(item)] if isinstance(value, (tuple, list)) else [value]


def results(case: Case, fw: Any, inputs: list[np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Every transform of ``case`` at its inputs, computed by framework ``fw`` (one of the runners
    below), as ``{"<transform>/<index>...": array}``."""
    xs_np = case.inputs() if inputs is None else inputs
    vs_np = case.tangents()

    def f(*args: Any) -> Any:
        return case.fn(fw.m, *args)

    out: dict[str, np.ndarray] = {}
    xs = [fw.tensor(a) for a in xs_np]
    vs = [fw.tensor(v) for v in vs_np]
    value = f(*xs)
    _flat("value", value, fw.numpy, out)
    rng = np.random.default_rng(_seed(case.name) + 2)
    us = [fw.tensor(rng.standard_normal(tuple(leaf.shape))) for leaf in _leaves(value)]
    cotangent = tuple(us) if isinstance(value, tuple) else us[0]
    _, vjp_fn = fw.vjp(f, *xs)
    _flat("vjp", tuple(vjp_fn(cotangent)), fw.numpy, out)
    _flat("jvp", fw.jvp(f, tuple(xs), tuple(vs))[1], fw.numpy, out)
    _flat("jacrev", fw.jacobian(f, case.argnums, "rev")(*xs), fw.numpy, out)
    _flat("jacfwd", fw.jacobian(f, case.argnums, "fwd")(*xs), fw.numpy, out)
    if case.scalar:
        _flat("hessian", fw.hessian(f, case.argnums)(*xs), fw.numpy, out)
        _flat("hvp", fw.hvp(f, tuple(xs), tuple(vs)), fw.numpy, out)
    return out


class OurRunner:
    m = Ours

    @staticmethod
    def tensor(a: np.ndarray) -> Any:
        from autograd_core import Tensor

        return Tensor(a)

    @staticmethod
    def numpy(t: Any) -> np.ndarray:
        return np.array(t.data)

    @staticmethod
    def vjp(f: Callable[..., Any], *xs: Any) -> Any:
        import autograd_core as ag

        return ag.vjp(f, *xs)

    @staticmethod
    def jvp(f: Callable[..., Any], xs: tuple[Any, ...], vs: tuple[Any, ...]) -> Any:
        import autograd_core as ag

        return ag.jvp(f, xs, vs)

    @staticmethod
    def jacobian(f: Callable[..., Any], argnums: Any, mode: str) -> Any:
        import autograd_core as ag

        return ag.jacobian(f, argnums, mode=mode)

    @staticmethod
    def hessian(f: Callable[..., Any], argnums: Any) -> Any:
        import autograd_core as ag

        return ag.hessian(f, argnums)

    @staticmethod
    def hvp(f: Callable[..., Any], xs: tuple[Any, ...], vs: tuple[Any, ...]) -> Any:
        import autograd_core as ag

        return ag.hvp(f, xs, vs)[1]


class JaxRunner:
    m = Jax

    @staticmethod
    def tensor(a: np.ndarray) -> Any:
        import jax

        jax.config.update("jax_enable_x64", True)
        return jax.numpy.asarray(a, dtype=np.float64)

    @staticmethod
    def numpy(t: Any) -> np.ndarray:
        return np.array(t)

    @staticmethod
    def vjp(f: Callable[..., Any], *xs: Any) -> Any:
        import jax

        return jax.vjp(f, *xs)

    @staticmethod
    def jvp(f: Callable[..., Any], xs: tuple[Any, ...], vs: tuple[Any, ...]) -> Any:
        import jax

        return jax.jvp(f, xs, vs)

    @staticmethod
    def jacobian(f: Callable[..., Any], argnums: Any, mode: str) -> Any:
        import jax

        return (jax.jacrev if mode == "rev" else jax.jacfwd)(f, argnums=argnums)

    @staticmethod
    def hessian(f: Callable[..., Any], argnums: Any) -> Any:
        import jax

        return jax.hessian(f, argnums=argnums)

    @staticmethod
    def hvp(f: Callable[..., Any], xs: tuple[Any, ...], vs: tuple[Any, ...]) -> Any:
        import jax

        return jax.jvp(jax.grad(f, argnums=tuple(range(len(xs)))), xs, vs)[1]


class TorchRunner:
    m = Torch

    @staticmethod
    def tensor(a: np.ndarray) -> Any:
        import torch

        return torch.tensor(a, dtype=torch.float64)

    @staticmethod
    def numpy(t: Any) -> np.ndarray:
        return t.detach().numpy().copy()

    @staticmethod
    def vjp(f: Callable[..., Any], *xs: Any) -> Any:
        import torch.func

        return torch.func.vjp(f, *xs)

    @staticmethod
    def jvp(f: Callable[..., Any], xs: tuple[Any, ...], vs: tuple[Any, ...]) -> Any:
        import torch.func

        return torch.func.jvp(f, xs, vs)

    @staticmethod
    def jacobian(f: Callable[..., Any], argnums: Any, mode: str) -> Any:
        import torch.func

        return (torch.func.jacrev if mode == "rev" else torch.func.jacfwd)(f, argnums=argnums)

    @staticmethod
    def hessian(f: Callable[..., Any], argnums: Any) -> Any:
        import torch.func

        return torch.func.hessian(f, argnums=argnums)

    @staticmethod
    def hvp(f: Callable[..., Any], xs: tuple[Any, ...], vs: tuple[Any, ...]) -> Any:
        import torch.func  # torch.func's recipe for an HVP: forward over reverse

        return torch.func.jvp(torch.func.grad(f, argnums=tuple(range(len(xs)))), xs, vs)[1]
