"""Hypothesis strategies for property-based tests of differentiable code.

A complete test of a custom function's gradient::

    import numpy as np
    from hypothesis import given
    import autograd_core as ag
    from autograd_core.testing import gradcheck
    from autograd_core.testing.strategies import tensors

    @given(tensors(shape=(3, 4), elements=dict(min_value=-2, max_value=2)))
    def test_softplus_gradient(x):
        softplus = lambda t: (1 + t.exp()).log().sum()
        assert gradcheck(softplus, x)
"""

from __future__ import annotations

from typing import Any

import numpy as np

try:
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError as err:  # pragma: no cover - exercised only without Hypothesis
    raise ImportError(
        "autograd_core.testing.strategies needs Hypothesis, an optional dependency: "
        "pip install hypothesis  (or pip install 'autograd-core[dev]')"
    ) from err

from ..tensor import Tensor

__all__ = ["shapes", "broadcastable_shapes", "mutually_broadcastable_shapes", "arrays", "tensors"]


def shapes(min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4) -> st.SearchStrategy:
    """Array shapes, 0-d scalars included by default.

    >>> shapes(max_dims=2).example()  # doctest: +SKIP
    (3, 1)
    """
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcastable_shapes(
    shape: tuple[int, ...],
    min_dims: int = 0,
    max_dims: int | None = None,
    min_side: int = 1,
    max_side: int | None = None,
) -> st.SearchStrategy:
    """Shapes that broadcast with ``shape`` (size-1 axes and missing leading axes included)."""
    return hnp.broadcastable_shapes(shape, min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def mutually_broadcastable_shapes(
    num_shapes: int, min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4
) -> st.SearchStrategy:
    """``num_shapes`` shapes that broadcast together (a tuple of shapes)."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    ).map(lambda bs: bs.input_shapes)


def _elements(elements: Any, dtype: np.dtype) -> st.SearchStrategy:
    if elements is None:
        elements = {"min_value": -3.0, "max_value": 3.0}
    if isinstance(elements, dict):
        opts = {"allow_nan": False, "allow_infinity": False, "width": 32 if dtype == np.float32 else 64}
        opts.update(elements)
        return st.floats(**opts)
    return elements


def arrays(shape: Any = None, dtype: Any = np.float64, elements: Any = None, unique: bool = False) -> st.SearchStrategy:
    """Float NumPy arrays. ``shape`` is a tuple or a strategy of shapes (default: :func:`shapes`);
    ``elements`` a strategy or a dict of ``st.floats`` options (default: finite, in [-3, 3])."""
    dtype = np.dtype(dtype)
    return hnp.arrays(dtype, shapes() if shape is None else shape, elements=_elements(elements, dtype), unique=unique)


def tensors(
    shape: Any = None, dtype: Any = np.float64, elements: Any = None, requires_grad: bool = True, unique: bool = False
) -> st.SearchStrategy:
    """Tensors drawn like :func:`arrays`, requiring grad by default.

    >>> from hypothesis import given
    >>> @given(tensors(shape=(2, 3)))
    ... def test_sum_of_squares(x):
    ...     assert gradcheck(lambda t: (t * t).sum(), x)
    """
    return arrays(shape, dtype, elements, unique).map(lambda a: Tensor(a, requires_grad=requires_grad, dtype=dtype))
