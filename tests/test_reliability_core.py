"""Reliability of the core: the garbage collector's state, max pooling at NaN and -inf, indices
kept by the graph, norms that do not overflow, and clear errors for common mistakes."""

from __future__ import annotations

import gc
import threading

import numpy as np
import pytest

import autograd_core as ag
import nn
from autograd_core import Tensor

# ============================================================== the garbage collector


def test_backward_leaves_the_collector_as_another_thread_set_it_during_the_pass():
    inside, proceed = threading.Event(), threading.Event()

    class Slow(ag.Function):
        def forward(self, x):
            return x * 2

        def backward(self, g, out, x):
            inside.set()  # the pass is running: the other thread acts now
            assert proceed.wait(10)
            return g * 2

    x = Tensor([1.0, 2.0], requires_grad=True)
    y = Slow.apply(x).sum()
    worker = threading.Thread(target=y.backward)
    assert gc.isenabled()
    try:
        worker.start()
        assert inside.wait(10)
        gc.disable()  # another thread's choice, made while the pass runs
        proceed.set()
        worker.join(10)
        assert not worker.is_alive()
        assert not gc.isenabled()  # the pass did not switch the collector back on
        np.testing.assert_array_equal(x.grad, [2.0, 2.0])
    finally:
        gc.enable()
