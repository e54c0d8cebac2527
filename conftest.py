"""Names every docstring example may use (the suite runs them with --doctest-modules)."""

import numpy as np
import pytest

import autograd_core as ag
import nn
import optim
from autograd_core import Tensor


@pytest.fixture(autouse=True)
def _doctest_names(doctest_namespace: dict) -> None:
    doctest_namespace.update(np=np, ag=ag, Tensor=Tensor, nn=nn, optim=optim)
