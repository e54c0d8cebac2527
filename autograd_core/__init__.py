"""autograd_core: reverse-mode automatic differentiation on NumPy.

>>> import autograd_core as ag
>>> w = ag.Tensor(0.0, requires_grad=True, name="w")
>>> cost = w ** 2 - 10 * w + 25
>>> cost.backward()
>>> w.grad
array(-10.)
"""

from .tensor import Tensor  # noqa: I001 - first: the ops import it
from .anomaly import detect_anomaly
from .creation import arange, eye, full, full_like, linspace, ones, ones_like, rand, randn, tensor, zeros, zeros_like
from .engine import gradients
from .onnx import export_onnx  # onnx itself is imported on first use
from . import export  # noqa: F401  (the export's former module: its names still import from there)
from .function import Function
from .functional import grad, value_and_grad
from .transforms import hessian, hvp, jacobian, jvp, vjp
from .grad_mode import enable_grad, is_grad_enabled, no_grad
from .tracing import TracingError, effect
from .compiler import compile  # noqa: A004 - ag.compile, as torch.compile
from .ops.elementwise import (
    abs,
    add,
    astype,
    clip,
    clone,
    cos,
    divide,
    exp,
    expm1,
    leaky_relu,
    log,
    log1p,
    maximum,
    minimum,
    multiply,
    negative,
    power,
    relu,
    sigmoid,
    sin,
    sqrt,
    square,
    subtract,
    tanh,
    where,
)
from .ops.conv import avg_pool2d, conv2d, max_pool2d
from .ops.linalg import dot, matmul, norm
from .ops.reduce import argmax, argmin, log_softmax, logsumexp, max, mean, min, softmax, std, sum, var
from .ops.shape import (
    broadcast_to,
    concatenate,
    expand_dims,
    reshape,
    squeeze,
    stack,
    swapaxes,
    transpose,
    unsqueeze,
)
from .threads import get_num_threads, set_num_threads
from .viz import draw_graph

from . import testing  # noqa: E402  (no Hypothesis needed)

cat = concatenate  # PyTorch's name
pow = power  # noqa: A001 - NumPy 2's and PyTorch's name

__version__ = "0.1.0"  # the one place the version is written: pyproject.toml reads it from here

__all__ = [
    "Tensor", "Function", "testing", "detect_anomaly", "gradients", "grad", "value_and_grad", "no_grad", "enable_grad",
    "is_grad_enabled", "abs", "add", "astype", "clip", "cos", "divide", "exp", "log", "maximum",
    "minimum", "multiply", "negative", "power", "relu", "sigmoid", "sin", "sqrt", "square",
    "subtract", "tanh", "where", "dot", "matmul", "log_softmax", "logsumexp", "max", "mean", "min",
    "softmax", "sum", "var", "broadcast_to", "concatenate", "expand_dims", "reshape", "squeeze",
    "stack", "swapaxes", "transpose", "draw_graph",
    "tensor", "zeros", "ones", "full", "zeros_like", "ones_like", "full_like", "arange", "linspace", "eye",
    "randn", "rand", "cat", "pow", "log1p", "expm1", "leaky_relu", "clone", "norm", "std", "argmax",
    "argmin", "unsqueeze",
    "conv2d", "max_pool2d", "avg_pool2d",
    "export_onnx", "TracingError", "compile", "effect", "set_num_threads", "get_num_threads",
    "vjp", "jvp", "jacobian", "hessian", "hvp",
]  # fmt: skip
