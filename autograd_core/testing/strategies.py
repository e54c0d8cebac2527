"""Hypothesis strategies for property-based tests of differentiable code.

Needs the optional Hypothesis package (``pip install hypothesis``). A complete test of a
custom function's gradient, at shapes and values Hypothesis chooses::

    import numpy as np
    from hypothesis import given
    from autograd_core.testing import gradcheck
    from autograd_core.testing.strategies import shapes, tensors


    def softplus(t):
        return (1 + t.exp()).log()


    @given(tensors(shape=shapes(max_dims=2), elements={"min_value": -5.0, "max_value": 5.0}))
    def test_softplus_gradient(x):
        assert gradcheck(lambda t: softplus(t).sum(), x)

The strategies: :func:`shapes`, :func:`broadcastable_shapes`,
:func:`mutually_broadcastable_shapes`, :func:`arrays` and :func:`tensors`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

try:
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError as err:
    raise ImportError(
        "autograd_core.testing.strategies needs Hypothesis, an optional dependency: "
        "pip install hypothesis  (or pip install 'autograd-core[dev]'). "
        "gradcheck and gradgradcheck work without it"
    ) from err

from ..tensor import Tensor

__all__ = ["shapes", "broadcastable_shapes", "mutually_broadcastable_shapes", "arrays", "tensors"]


def shapes(min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4) -> st.SearchStrategy:
    """Array shapes, 0-d scalars included by default (``min_dims=0``).

    A complete test, run at many shapes::

        from hypothesis import given
        import autograd_core as ag
        from autograd_core.testing.strategies import shapes

        @given(shapes(max_dims=3))
        def test_sum_gradient_is_ones(shape):
            x = ag.Tensor(np.ones(shape), requires_grad=True)
            x.sum().backward()
            assert (x.grad == 1).all()
    """
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcastable_shapes(
    shape: tuple[int, ...],
    min_dims: int = 0,
    max_dims: int | None = None,
    min_side: int = 1,
    max_side: int | None = None,
) -> st.SearchStrategy:
    """Shapes that broadcast with ``shape``: size-1 axes and missing leading axes included.

    A complete test that a bias of any broadcastable shape gets the right gradient::

        from hypothesis import given
        from autograd_core.testing import gradcheck
        from autograd_core.testing.strategies import arrays, broadcastable_shapes

        @given(arrays((2, 3)), broadcastable_shapes((2, 3)).flatmap(arrays))
        def test_add_broadcasts(a, b):
            assert gradcheck(lambda x, y: ((x + y) ** 2).sum(), a, b)
    """
    return hnp.broadcastable_shapes(shape, min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def mutually_broadcastable_shapes(
    num_shapes: int, min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4
) -> st.SearchStrategy:
    """``num_shapes`` shapes that broadcast together, as a tuple of shapes.

    Example::

        @given(mutually_broadcastable_shapes(2).flatmap(lambda s: st.tuples(arrays(s[0]), arrays(s[1]))))
        def test_multiply(ab):
            assert gradcheck(lambda x, y: (x * y).sum(), *ab)
    """
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    ).map(lambda bs: bs.input_shapes)


def _elements(elements: Any, dtype: np.dtype) -> st.SearchStrategy:
    """A strategy as given, or ``st.floats`` from a dict of its options (finite, in [-3, 3] by default)."""
    if elements is None:
        elements = {"min_value": -3.0, "max_value": 3.0}
    if not isinstance(elements, dict):
        return elements
    opts: dict[str, Any] = {"allow_nan": False, "allow_infinity": False, "width": 64}
    if dtype == np.float32:
        opts["width"] = 32
        # Hypothesis wants bounds exactly representable at width 32; the nearest float32 is close enough.
        elements = {k: float(np.float32(v)) if k in ("min_value", "max_value") else v for k, v in elements.items()}
    elif dtype == np.float16:
        opts["width"] = 16
        elements = {k: float(np.float16(v)) if k in ("min_value", "max_value") else v for k, v in elements.items()}
    opts.update(elements)
    return st.floats(**opts)


def arrays(shape: Any = None, dtype: Any = np.float64, elements: Any = None, unique: bool = False) -> st.SearchStrategy:
    """Float NumPy arrays.

    ``shape`` is a tuple or a strategy of shapes (default: :func:`shapes`); ``elements`` is a
    strategy or a dict of ``st.floats`` options (default: finite, in [-3, 3]); ``unique``
    asks for distinct elements (useful near kinks such as ``max``).

    Example::

        @given(arrays((4,), elements={"min_value": 0.1, "max_value": 10.0}))
        def test_log_gradient(a):
            assert gradcheck(lambda x: x.log().sum(), a)
    """
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"arrays: tensors hold floating data; dtype must be a float type, got {dtype}")
    return hnp.arrays(dtype, shapes() if shape is None else shape, elements=_elements(elements, dtype), unique=unique)


def tensors(
    shape: Any = None, dtype: Any = np.float64, elements: Any = None, requires_grad: bool = True, unique: bool = False
) -> st.SearchStrategy:
    """Tensors drawn like :func:`arrays`, requiring grad by default.

    A complete test::

        from hypothesis import given
        from autograd_core.testing import gradcheck
        from autograd_core.testing.strategies import tensors

        @given(tensors(shape=(2, 3)))
        def test_sum_of_squares(x):
            assert gradcheck(lambda t: (t * t).sum(), x)
    """
    dtype = np.dtype(dtype)
    return arrays(shape, dtype, elements, unique).map(lambda a: Tensor(a, requires_grad=requires_grad, dtype=dtype))
