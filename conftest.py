"""Names every docstring example may use (the suite runs them with --doctest-modules)."""

import importlib.util

import numpy as np
import pytest

import autograd_core as ag
import nn
import optim
from autograd_core import Tensor


@pytest.fixture(autouse=True)
def _doctest_names(doctest_namespace: dict) -> None:
    doctest_namespace.update(np=np, ag=ag, Tensor=Tensor, nn=nn, optim=optim)


@pytest.fixture(autouse=True)
def _blas_threads_restored():
    """A test (or docstring example) that calls ag.set_num_threads leaves nothing behind for the next one."""
    from autograd_core import threads

    user, n = threads._user, ag.get_num_threads()
    yield
    threads._user = user
    threads._apply(n)


# Modules that need an optional extra are not collected for their docstrings when it is missing.
collect_ignore = [] if importlib.util.find_spec("sklearn") else ["nn/sklearn.py"]
