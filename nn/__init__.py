"""Neural networks on autograd_core: layers, losses, saving, and training (``nn.fit``).

>>> import nn, optim
>>> model = nn.Sequential(nn.Dense(64, 32, bias=False), nn.BatchNorm(32), nn.ReLU(), nn.Dense(32, 10))
>>> train = optim.GradientDescent(model.parameters(), lr=0.1)
>>> loss = train.minimize(lambda: nn.softmax_cross_entropy(model(x), labels))   # doctest: +SKIP
>>> model.eval(); model(x[:1])                                                  # doctest: +SKIP
"""

from typing import Any

from autograd_core import _callers

from . import init
from .activations import GELU, Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .batchnorm import BatchNorm, BatchNorm2d, batch_norm
from .callbacks import Callback, CallbackList, EarlyStopping, ModelCheckpoint, TerminateOnNaN
from .conv import AvgPool2d, Conv2d, Flatten, MaxPool2d
from .data import batches
from .embedding import Embedding
from .evaluation import evaluate, predict
from .export import export_onnx
from .history import History
from .init import seed
from .layers import Dense, Dropout
from .losses import binary_cross_entropy, mse, softmax_cross_entropy
from .metrics import accuracy, binary_accuracy
from .module import LoadResult, Module, Parameter, Sequential
from .normalization import LayerNorm, layer_norm
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from .saving import load, save
from .summary import Summary, summary
from .training import fit

_callers.register_library(__file__)  # our frames are the library's, not the user's (see _callers.py)

_SKLEARN = ("NeuralNetClassifier", "NeuralNetRegressor")


def __getattr__(name: str) -> Any:
    """The scikit-learn estimators load on first use: ``import nn`` never needs scikit-learn."""
    if name in _SKLEARN:
        from . import sklearn

        return getattr(sklearn, name)
    raise AttributeError(f"module 'nn' has no attribute {name!r}")


__all__ = [
    "Module", "Parameter", "Sequential", "LoadResult", "Dense", "Dropout", "BatchNorm", "batch_norm",
    "Embedding", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "softmax_cross_entropy",
    "binary_cross_entropy", "mse", "save", "load", "seed", "init",
    "Conv2d", "MaxPool2d", "AvgPool2d", "Flatten", "BatchNorm2d",
    "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell", "LayerNorm", "layer_norm", "GELU", "Identity",
    "export_onnx",
    "batches", "accuracy", "binary_accuracy", "fit", "evaluate", "predict",
    "summary", "Summary",
    "History", "Callback", "CallbackList", "EarlyStopping", "ModelCheckpoint", "TerminateOnNaN", *_SKLEARN,
]  # fmt: skip
