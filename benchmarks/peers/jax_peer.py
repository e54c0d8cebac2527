"""The workloads in JAX, the way an expert user writes them: ``jax.jit`` around
``jax.grad``/``jax.value_and_grad``/``jax.jvp``, parameters as pytrees, updates as new arrays.

Float64 is switched on (``jax_enable_x64``) so that float64 cases run in float64 as the
framework's do; float32 arrays stay float32. The first call of each case compiles (the
harness's warm-up); every timed call runs compiled code and waits for its results
(``jax.block_until_ready``), since JAX dispatches asynchronously. Each builder takes the
case's numbers and initial state and returns ``(run, note)``. Run in its own process by
``worker.py``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402 - after switching float64 on
import numpy as np  # noqa: E402

Run = Callable[[], dict[str, Any]]


def setup(threads: int) -> dict[str, str]:
    """Report how XLA's CPU threads are bounded (the worker has set them before the import)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    how = f"XLA CPU pool sized from {cpus} CPU(s) (the process's affinity)"
    if "intra_op_parallelism_threads=1" in os.environ.get("XLA_FLAGS", ""):
        how += ", Eigen kernels not split (XLA_FLAGS)"
    return {"label": "JAX", "version": f"{jax.__version__} (jaxlib {version('jaxlib')})", "threads": how}


def to_numpy(result: dict[str, Any]) -> dict[str, np.ndarray]:
    """The results as NumPy arrays (lists of scalars become one array)."""
    return {k: np.asarray([np.asarray(x) for x in v] if isinstance(v, list) else v) for k, v in result.items()}


def walkthrough(params: dict[str, Any], arrays: dict[str, np.ndarray]) -> tuple[Run, str]:
    """W1: ``w**2 - 10*w + 25`` minimised by gradient descent from ``w = 0``, one jitted step a call."""
    steps, lr = params["steps"], params["lr"]

    def cost(w: jax.Array) -> jax.Array:
        return w**2 - 10 * w + 25

    @jax.jit
    def step(w: jax.Array) -> tuple[jax.Array, jax.Array]:
        c, g = jax.value_and_grad(cost)(w)
        return w - lr * g, c

    def run() -> dict[str, Any]:
        w = jnp.asarray(0.0, dtype=jnp.float64)
        c = jnp.asarray(0.0)
        for _ in range(steps):
            w, c = step(w)
        return jax.block_until_ready({"w": w, "cost": c})

    return run, (
        "a jitted step (jax.value_and_grad and the update) called from a Python loop, costs not turned into "
        "floats each step; the whole loop in one lax.fori_loop would be a single call"
    )


def mlp(params: dict[str, Any], arrays: dict[str, np.ndarray]) -> tuple[Run, str]:
    """W2/W3: dense layers with ReLU, cross-entropy, gradient descent over the batches of ``x``; one jitted
    step (``value_and_grad`` and the update) per batch."""
    lr, batch, n_layers = params["lr"], params["batch"], params["layers"]
    x, y = jnp.asarray(arrays["x"]), jnp.asarray(arrays["y"])
    state = [
        [
            {"W": jnp.asarray(arrays[f"W{i}"]), **({"b": jnp.asarray(arrays[f"b{i}"])} if f"b{i}" in arrays else {})}
            for i in range(n_layers)
        ]
    ]

    def loss_fn(layers: list[dict[str, jax.Array]], xb: jax.Array, yb: jax.Array) -> jax.Array:
        a = xb
        for i, layer in enumerate(layers):
            a = a @ layer["W"] + layer["b"] if "b" in layer else a @ layer["W"]
            if i < len(layers) - 1:
                a = jax.nn.relu(a)
        log_p = jax.nn.log_softmax(a, axis=-1)
        return -jnp.take_along_axis(log_p, yb[:, None], axis=1).mean()

    @jax.jit
    def step(
        layers: list[dict[str, jax.Array]], xb: jax.Array, yb: jax.Array
    ) -> tuple[list[dict[str, jax.Array]], jax.Array]:
        loss, grads = jax.value_and_grad(loss_fn)(layers, xb, yb)
        return jax.tree.map(lambda p, g: p - lr * g, layers, grads), loss

    batches = [(x[i : i + batch], y[i : i + batch]) for i in range(0, len(x), batch)]

    def run() -> dict[str, Any]:
        layers, losses = state[0], []
        for xb, yb in batches:
            layers, loss = step(layers, xb, yb)
            losses.append(loss)
        state[0] = layers
        return jax.block_until_ready({"losses": losses, **{f"W{i}": p["W"] for i, p in enumerate(layers)}})

    return run, "one jitted step per batch (jax.value_and_grad and the update); losses stay arrays"


def chain(params: dict[str, Any], arrays: dict[str, np.ndarray]) -> tuple[Run, str]:
    """W4: alternating ``sin`` and ``* scale`` as a ``lax.fori_loop`` of pairs, ``jax.value_and_grad``, jitted."""
    n_ops, scale = params["n_ops"], params["scale"]
    pairs, odd = divmod(n_ops, 2)
    x0 = jnp.asarray(arrays["x0"])

    def f(x: jax.Array) -> jax.Array:
        x = jax.lax.fori_loop(0, pairs, lambda i, x: jnp.sin(x) * scale, x)
        if odd:
            x = jnp.sin(x)
        return x.sum()

    value_and_grad = jax.jit(jax.value_and_grad(f))

    def run() -> dict[str, Any]:
        y, g = value_and_grad(x0)
        return jax.block_until_ready({"y": y, "grad": g})

    return run, (
        "jit of jax.value_and_grad over a lax.fori_loop of (sin, ×scale) pairs; the 100,000-op Python loop "
        "itself does not compile in reasonable time under jit, and runs at about 0.2 ms per op without"
    )


def _f(z: jax.Array) -> jax.Array:
    return (jnp.tanh(z) ** 2).sum()


def hvp_nested(params: dict[str, Any], arrays: dict[str, np.ndarray]) -> tuple[Run, str]:
    """W5: ``grad(z ↦ grad(f)(z) · v)``, jitted (reverse over reverse)."""
    inner, x, v = params["inner"], jnp.asarray(arrays["x"]), jnp.asarray(arrays["v"])
    hvp = jax.jit(jax.grad(lambda z, v: (jax.grad(_f)(z) * v).sum()))

    def run() -> dict[str, Any]:
        for _ in range(inner):
            hv = hvp(x, v)
        return jax.block_until_ready({"hv": hv})

    return run, "jax.grad nested (reverse over reverse), jitted"


def hvp_gradients(params: dict[str, Any], arrays: dict[str, np.ndarray]) -> tuple[Run, str]:
    """W5: ``jvp(grad(f), (x,), (v,))``, jitted (forward over reverse: JAX's own way to an HVP)."""
    inner, x, v = params["inner"], jnp.asarray(arrays["x"]), jnp.asarray(arrays["v"])
    hvp = jax.jit(lambda z, v: jax.jvp(jax.grad(_f), (z,), (v,))[1])

    def run() -> dict[str, Any]:
        for _ in range(inner):
            hv = hvp(x, v)
        return jax.block_until_ready({"hv": hv})

    return run, "JAX has no create_graph: jax.jvp of jax.grad (forward over reverse), jitted"


def hvp_forward(params: dict[str, Any], arrays: dict[str, np.ndarray]) -> tuple[Run, str]:
    """W5-hvp: ``jvp(grad(f), (x,), (v,))``, jitted (forward over reverse)."""
    return hvp_gradients(params, arrays)[0], "jax.jvp of jax.grad (forward over reverse), jitted"


BUILDERS = {
    "walkthrough": walkthrough,
    "mlp": mlp,
    "chain": chain,
    "hvp_nested": hvp_nested,
    "hvp_gradients": hvp_gradients,
    "hvp_forward": hvp_forward,
}
