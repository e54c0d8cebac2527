"""Four optimizers on one cost
===========================

The deep-learning course's walkthrough cost J(w) = w² − 10w + 25 = (w − 5)², minimised from w = 0 by all
four optimizers. Swapping the optimizer is one line.

Run:  python examples/optimizers.py
"""

import optim
from autograd_core import Tensor

TOL = 1e-3
MAX_STEPS = 20_000

# One line each: the rule and its hyperparameters (beta's defaults: Momentum 0.9, RMSprop 0.999).
OPTIMIZERS = {
    "GradientDescent": lambda p, lr: optim.GradientDescent(p, lr=lr),
    "Momentum": lambda p, lr: optim.Momentum(p, lr=lr, beta=0.9),
    "RMSprop": lambda p, lr: optim.RMSprop(p, lr=lr, beta=0.999),
    "Adam": lambda p, lr: optim.Adam(p, lr=lr),
}
TUNED_LR = {"GradientDescent": 0.1, "Momentum": 0.1, "RMSprop": 0.01, "Adam": 0.1}


def steps_to_converge(name: str, lr: float) -> tuple[int | None, float]:
    """Steps until |w − 5| < TOL (None if not within MAX_STEPS), and w then."""
    w = Tensor(0.0, requires_grad=True, name="w")
    train = OPTIMIZERS[name]([w], lr)
    for step in range(1, MAX_STEPS + 1):
        train.minimize(lambda: w**2 - 10 * w + 25)
        if abs(w.item() - 5) < TOL:
            return step, w.item()
    return None, w.item()


if __name__ == "__main__":
    print(f"steps to reach |w - 5| < {TOL:g} from w = 0 on w**2 - 10*w + 25")
    for title, lrs in [("the course's lr = 0.01", dict.fromkeys(OPTIMIZERS, 0.01)), ("a good lr each", TUNED_LR)]:
        print(f"{title}:")
        for name in OPTIMIZERS:
            steps, w = steps_to_converge(name, lrs[name])
            shown = f"{steps:6d}" if steps is not None else f" >{MAX_STEPS}"
            print(f"  {name:16s} lr={lrs[name]:<5g} {shown} steps   w = {w:.6f}")
