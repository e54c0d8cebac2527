"""The floors: every workload written by hand, the fastest way a person would.

Forward passes cache what the backward pass needs, backward passes are written out
line by line, and parameters are updated in place. The walkthrough's scalar loop is
also written on plain Python floats (its floor: a NumPy 0-d array is about ten times
slower), and the Hessian-vector product is its closed form. Nothing here uses
``autograd_core``; the framework's versions live in ``workloads.py`` and run on the
same data, the same dtype and the same initial weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# ============================================================== W1: the walkthrough


def scalar_loop(steps: int, lr: float = 0.01) -> tuple[float, float]:
    """Minimise ``J(w) = w² − 10w + 25`` from ``w = 0`` with ``dJ/dw = 2w − 10`` written by hand.

    ``w`` is a 0-d NumPy array updated in place, as the framework's parameter is;
    the cost is computed and turned into a float each step, as ``minimize`` returns it.
    Returns ``(w, last cost)``.
    """
    w = np.array(0.0)
    cost = 0.0
    for _ in range(steps):
        cost = float(w**2 - 10 * w + 25)
        g = 2 * w - 10
        w -= lr * g
    return float(w), cost


def scalar_loop_python(steps: int, lr: float = 0.01) -> tuple[float, float]:
    """The same loop on plain Python floats: the fastest hand-written program, W1's floor.

    A float's arithmetic costs tens of nanoseconds, a NumPy 0-d array's about ten times more.
    Returns ``(w, last cost)``."""
    w = 0.0
    cost = 0.0
    for _ in range(steps):
        cost = w**2 - 10 * w + 25
        w -= lr * (2 * w - 10)
    return w, cost


# ============================================================== W4: a deep chain


def chain(x0: np.ndarray, n_ops: int, scale: float) -> tuple[float, np.ndarray]:
    """``y = sum(f(x0))`` where ``f`` alternates ``x = sin(x)`` and ``x = x * scale``.

    Forward keeps each ``sin`` input (its derivative needs ``cos(x)``); backward goes
    through the chain in reverse. Returns ``(y, dy/dx0)``.
    """
    saved = []
    x = x0
    for i in range(n_ops):
        if i % 2 == 0:
            saved.append(x)
            x = np.sin(x)
        else:
            x = x * scale
    y = float(x.sum())
    g = np.ones_like(x)
    for i in reversed(range(n_ops)):
        if i % 2 == 0:
            g = g * np.cos(saved.pop())
        else:
            g = g * scale
    return y, g


# ============================================================== W5: Hessian-vector product


def tanh_sq_hvp(x: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``H v`` for ``f = Σ tanh(x)²``, in closed form: the floor of an HVP.

    With ``t = tanh(x)``: ``∂f/∂xᵢ = 2tᵢ(1 − tᵢ²)`` and, the Hessian being diagonal,
    ``H v = 2(1 − t²)(1 − 3t²) ⊙ v``.
    """
    t2 = np.tanh(x)
    t2 *= t2
    return 2 * (1 - t2) * (1 - 3 * t2) * v


# ============================================================== W2, W3, W6: MLPs


class SGD:
    """Gradient descent, in place: ``w ← w − lr · g``."""

    def __init__(self, lr: float) -> None:
        self.lr = lr

    def update(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        for p, g in zip(params, grads):
            p -= self.lr * g


class Adam:
    """Adam with bias correction, in place.

    ``m ← β₁m + (1−β₁)g``, ``v ← β₂v + (1−β₂)g²``, ``w ← w − lr · m̂ / (√v̂ + ε)``
    with ``m̂ = m / (1−β₁ᵗ)`` and ``v̂ = v / (1−β₂ᵗ)``.
    """

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.t = 0
        self.m: list[np.ndarray] = []
        self.v: list[np.ndarray] = []

    def update(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        if not self.m:
            self.m = [np.zeros_like(p) for p in params]
            self.v = [np.zeros_like(p) for p in params]
        self.t += 1
        c1 = 1 - self.beta1**self.t
        c2 = 1 - self.beta2**self.t
        for p, g, m, v in zip(params, grads, self.m, self.v):
            m *= self.beta1
            m += (1 - self.beta1) * g
            v *= self.beta2
            v += (1 - self.beta2) * (g * g)
            p -= self.lr * (m / c1) / (np.sqrt(v / c2) + self.eps)


@dataclass
class MLP:
    """A hand-written MLP: ``Dense → [BatchNorm] → ReLU`` hidden layers, a Dense output,
    softmax cross-entropy averaged over the batch.

    ``weights`` and ``biases`` hold one array per Dense layer (a bias may be ``None``);
    with ``batchnorm`` every hidden Dense is followed by a BatchNorm (``gamma`` ones,
    ``beta`` zeros, biased batch variance, running averages with ``momentum``).
    """

    weights: list[np.ndarray]
    biases: list[np.ndarray | None]
    batchnorm: bool = False
    momentum: float = 0.9
    eps: float = 1e-5
    gammas: list[np.ndarray] = field(default_factory=list)
    betas: list[np.ndarray] = field(default_factory=list)
    running_mean: list[np.ndarray] = field(default_factory=list)
    running_var: list[np.ndarray] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.batchnorm and not self.gammas:
            for w in self.weights[:-1]:
                n = w.shape[1]
                self.gammas.append(np.ones(n, dtype=w.dtype))
                self.betas.append(np.zeros(n, dtype=w.dtype))
                self.running_mean.append(np.zeros(n, dtype=w.dtype))
                self.running_var.append(np.ones(n, dtype=w.dtype))

    def params(self) -> list[np.ndarray]:
        """Every trainable array, in the order :meth:`loss_and_grads` returns gradients."""
        out = [*self.weights, *(b for b in self.biases if b is not None)]
        return out + self.gammas + self.betas

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray) -> tuple[float, list[np.ndarray]]:
        """Forward (caching activations) and backward for a batch ``x`` with class indices ``y``."""
        n_layers = len(self.weights)
        inputs = []  # the input of each Dense (for hidden layers, the ReLU's output)
        norms = []  # BatchNorm: (normalised z, 1/std) per hidden layer
        a = x
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            inputs.append(a)
            z = a @ w
            if b is not None:
                z += b
            if i == n_layers - 1:
                break
            if self.batchnorm:
                mu = z.mean(axis=0)
                zc = z - mu
                var = (zc * zc).mean(axis=0)
                inv_std = 1 / np.sqrt(var + self.eps)
                zn = zc * inv_std
                norms.append((zn, inv_std))
                self.running_mean[i] *= self.momentum
                self.running_mean[i] += (1 - self.momentum) * mu
                self.running_var[i] *= self.momentum
                self.running_var[i] += (1 - self.momentum) * var
                z = self.gammas[i] * zn + self.betas[i]
            a = np.maximum(z, 0)

        # Softmax cross-entropy from the logits z, and its gradient (softmax − onehot) / n.
        n = len(y)
        rows = np.arange(n)
        shifted = z - z.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = float(-log_p[rows, y].mean())
        dz = np.exp(log_p)
        dz[rows, y] -= 1
        dz /= n

        dws: list[np.ndarray] = [None] * n_layers  # type: ignore[list-item]
        dbs: list[np.ndarray | None] = [None] * n_layers
        dgammas: list[np.ndarray] = [None] * (n_layers - 1)  # type: ignore[list-item]
        dbetas: list[np.ndarray] = [None] * (n_layers - 1)  # type: ignore[list-item]
        for i in reversed(range(n_layers)):
            dws[i] = inputs[i].T @ dz
            if self.biases[i] is not None:
                dbs[i] = dz.sum(axis=0).reshape(self.biases[i].shape)
            if i == 0:
                break
            dz = (dz @ self.weights[i].T) * (inputs[i] > 0)  # ReLU: its output is this Dense's input
            if self.batchnorm:
                zn, inv_std = norms[i - 1]
                dgammas[i - 1] = (dz * zn).sum(axis=0)
                dbetas[i - 1] = dz.sum(axis=0)
                dzn = dz * self.gammas[i - 1]
                dz = inv_std * (dzn - dzn.mean(axis=0) - zn * (dzn * zn).mean(axis=0))
        grads = [*dws, *(g for g in dbs if g is not None)]
        if self.batchnorm:
            grads += dgammas + dbetas
        return loss, grads

    def train_step(self, x: np.ndarray, y: np.ndarray, optimizer: SGD | Adam) -> float:
        """One step: forward, backward, in-place update. Returns the loss before the step."""
        loss, grads = self.loss_and_grads(x, y)
        optimizer.update(self.params(), grads)
        return loss
