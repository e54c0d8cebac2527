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


# Modules that need an optional extra are not collected for their docstrings when it is missing.
collect_ignore = [] if importlib.util.find_spec("sklearn") else ["nn/sklearn.py"]
