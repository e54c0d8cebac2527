"""The walkthrough: gradient descent on one weight
===============================================

The deep-learning course's walkthrough: minimise J(w) = w² − 10w + 25 = (w − 5)² with gradient descent.

Run:  python examples/walkthrough.py
"""

import time

import numpy as np

import optim
from autograd_core import Tensor

w = Tensor(0.0, requires_grad=True, name="w")
train = optim.GradientDescent([w], lr=0.01)
print("w at the start:       ", w.item())  # 0.0

train.minimize(lambda: w**2 - 10 * w + 25)
print("w after one step:     ", w.item())  # 0.1

start = time.perf_counter()
for _ in range(1000):
    train.minimize(lambda: w**2 - 10 * w + 25)
elapsed = time.perf_counter() - start
print("w after 1000 more:    ", w.item())  # 4.9999...
print(f"  (1000 steps took {elapsed * 1000:.1f} ms)")


# The cost's coefficients as data: the same code minimises another quadratic.
def cost(x, w):
    return x[0][0] * w**2 + x[1][0] * w + x[2][0]


def fit(coefficients):
    w = Tensor(0.0, requires_grad=True, name="w")
    train = optim.GradientDescent([w], lr=0.01)
    for _ in range(1000):
        train.minimize(lambda: cost(coefficients, w))
    return w.item()


print("coefficients [1, -10, 25]: w =", round(fit(np.array([[1.0], [-10.0], [25.0]])), 6))  # 5
print("coefficients [1, -20, 100]: w =", round(fit(np.array([[1.0], [-20.0], [100.0]])), 6))  # 10
