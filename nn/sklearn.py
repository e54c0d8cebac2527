"""scikit-learn estimators around :func:`nn.fit`: ``NeuralNetClassifier`` and ``NeuralNetRegressor``.

They follow skorch's shape: ``module`` is a callable returning an ``nn.Module`` (a
function or a Module class), called at each ``fit``; keywords ``module__NAME=value``
reach it and ``optimizer__NAME=value`` reach the optimizer, so ``GridSearchCV`` and
``RandomizedSearchCV`` can tune both. When the callable takes ``in_features`` and
``out_features`` (and you did not set them), they are filled in from the data: the
number of columns of ``X`` and the number of classes (or of regression targets).

>>> from sklearn.model_selection import cross_val_score             # doctest: +SKIP
>>> def mlp(in_features, out_features, hidden=64):
...     return nn.Sequential(nn.Dense(in_features, hidden), nn.ReLU(), nn.Dense(hidden, out_features))
>>> clf = nn.NeuralNetClassifier(mlp, lr=0.01, epochs=20, module__hidden=32, random_state=0)
>>> cross_val_score(clf, X, y, cv=5)                               # doctest: +SKIP

Needs scikit-learn (the ``sklearn`` extra); ``import nn`` alone does not.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

import optim
from autograd_core._optional import require

from . import init as _init
from .evaluation import predict as _predict
from .losses import mse, softmax_cross_entropy
from .module import Module
from .training import fit as _fit

require("sklearn", "nn.NeuralNetClassifier and nn.NeuralNetRegressor", "sklearn")
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin  # noqa: E402
from sklearn.utils.multiclass import check_classification_targets  # noqa: E402
from sklearn.utils.validation import check_is_fitted, validate_data  # noqa: E402

__all__ = ["NeuralNetClassifier", "NeuralNetRegressor"]

_ROUTED = ("module__", "optimizer__")


@contextlib.contextmanager
def _drawing_from(rng: np.random.Generator) -> Iterator[None]:
    """Make ``nn``'s default generator ``rng`` for a while: layers built without ``rng=`` draw from it."""
    saved = _init._rng
    _init._rng = rng
    try:
        yield
    finally:
        _init._rng = saved


class _NeuralNet(BaseEstimator):
    """What the classifier and the regressor share, their ``__init__`` included (skorch's shape:
    a subclass's ``__init__`` only states the defaults that differ, ``loss``, and passes the rest on)."""

    def __init__(
        self,
        module: Callable[..., Module],
        *,
        loss: Callable[..., Any],
        optimizer: Callable[..., Any] = optim.Adam,
        lr: float = 0.001,
        epochs: int = 10,
        batch_size: int = 64,
        random_state: int | np.random.Generator | None = None,
        verbose: int | str = 0,
        compile: bool = False,  # noqa: A002 - nn.fit's name
        **kwargs: Any,
    ) -> None:
        # Only stores: scikit-learn checks parameters at fit, never in __init__ or set_params.
        self.module = module
        self.loss = loss
        self.optimizer = optimizer
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.random_state = random_state
        self.verbose = verbose
        self.compile = compile
        self._routed = dict(kwargs)  # the module__* and optimizer__* keywords

    @classmethod
    def _get_param_names(cls) -> list[str]:
        """The parameters of this ``__init__`` and of the shared one (scikit-learn reads only the first)."""
        names: set[str] = set()
        for init in (cls.__init__, _NeuralNet.__init__):
            params = inspect.signature(init).parameters.values()
            names.update(p.name for p in params if p.name != "self" and p.kind is not p.VAR_KEYWORD)
        return sorted(names)

    # ------------------------------------------------------------------ parameters
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's parameters, ``module__*`` and ``optimizer__*`` ones included."""
        return {**super().get_params(deep=deep), **self._routed}

    def set_params(self, **params: Any) -> _NeuralNet:
        """Set parameters; ``module__NAME`` and ``optimizer__NAME`` may be new names."""
        routed = {k: v for k, v in params.items() if k.startswith(_ROUTED)}
        self._routed.update(routed)
        super().set_params(**{k: v for k, v in params.items() if k not in routed})
        return self

    def _prefixed(self, prefix: str) -> dict[str, Any]:
        return {k[len(prefix) :]: v for k, v in self._routed.items() if k.startswith(prefix)}

    # ------------------------------------------------------------------ building
    def _generators(self) -> tuple[np.random.Generator, np.random.Generator]:
        """``(initialisation, training)`` generators from ``random_state``."""
        rs = self.random_state
        if isinstance(rs, np.random.Generator):
            return rs, rs
        if isinstance(rs, np.random.RandomState):
            rs = int(rs.randint(2**31))
        a, b = np.random.SeedSequence(rs).spawn(2)
        return np.random.default_rng(a), np.random.default_rng(b)

    def _initialize(self, n_features: int, n_outputs: int) -> None:
        unknown = [k for k in self._routed if not k.startswith(_ROUTED)]
        if unknown:
            raise TypeError(
                f"{type(self).__name__}: unknown parameter(s) {unknown}; extra keywords must be module__NAME or "
                "optimizer__NAME"
            )
        if not callable(self.module):
            raise TypeError(f"{type(self).__name__}: module must be a callable returning an nn.Module")
        kwargs = self._prefixed("module__")
        try:
            params = inspect.signature(self.module).parameters
        except (TypeError, ValueError):
            params = {}
        takes_any = any(p.kind == p.VAR_KEYWORD for p in params.values())
        for name, value in (("in_features", n_features), ("out_features", n_outputs)):
            if name not in kwargs and (name in params or takes_any):
                kwargs[name] = value
        init_rng, self._rng = self._generators()
        with _drawing_from(init_rng):
            model = self.module(**kwargs)
        if not isinstance(model, Module):
            raise TypeError(f"{type(self).__name__}: module(...) must return an nn.Module, got {type(model).__name__}")
        self.module_ = model
        self.optimizer_ = self.optimizer(model.parameters(), lr=self.lr, **self._prefixed("optimizer__"))
        self.history_ = None

    def _train(self, x: np.ndarray, targets: np.ndarray, epochs: int) -> None:
        with _drawing_from(self._rng):  # Dropout masks and shuffling: reproducible from random_state
            history = _fit(
                self.module_, x, targets, loss=self.loss, optimizer=self.optimizer_,
                epochs=epochs, batch_size=self.batch_size, seed=self._rng, verbose=self.verbose, compile=self.compile,
            )  # fmt: skip
        if self.history_ is None:
            self.history_ = history
        else:  # partial_fit: one more epoch on the same curves
            for i in range(len(history.epoch)):
                self.history_.append(len(self.history_.epoch), {k: v[i] for k, v in history.history.items()})

    def _outputs(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "module_")
        x = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return _predict(self.module_, x, batch_size=256, compile=self.compile)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags


class NeuralNetClassifier(ClassifierMixin, _NeuralNet):
    """A scikit-learn classifier training an ``nn.Module`` that outputs one logit per class.

    ``NeuralNetClassifier(module, *, loss=nn.softmax_cross_entropy, optimizer=optim.Adam,
    lr=0.001, epochs=10, batch_size=64, random_state=None, verbose=0, **kwargs)``:

    - ``module``: a callable returning the Module; ``module__NAME=`` keywords reach it, and
      ``in_features`` / ``out_features`` are filled in (columns of X, number of classes)
      when it takes them. ``optimizer__NAME=`` keywords reach the optimizer.
    - ``fit(X, y)`` builds a fresh module and trains ``epochs`` epochs with :func:`nn.fit`;
      ``partial_fit(X, y, classes=None)`` trains one more epoch (building the module on the
      first call; ``classes`` lists every label when the first batch lacks some).
    - ``predict``, ``predict_proba`` (softmax of the logits), ``score`` (accuracy),
      ``classes_``, ``n_features_in_``, ``module_``, ``optimizer_``, ``history_``.
    - ``random_state`` (an int) makes the initialisation, shuffling and dropout reproducible:
      layers built without ``rng=`` draw from it while ``module`` runs.
    - ``compile=True`` compiles the training and prediction steps (``nn.fit(..., compile=True)``):
      the same results, bit for bit.
    """

    def __init__(
        self, module: Callable[..., Module], *, loss: Callable[..., Any] = softmax_cross_entropy, **kwargs: Any
    ) -> None:
        super().__init__(module, loss=loss, **kwargs)

    def fit(self, X: Any, y: Any) -> NeuralNetClassifier:
        """Build a fresh module and train it for ``epochs`` epochs."""
        x, targets = self._prepare(X, y, classes=None, reset=True)
        self._train(x, targets, self.epochs)
        return self

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> NeuralNetClassifier:
        """Train one epoch (building the module first, if there is none)."""
        first = not hasattr(self, "module_")
        x, targets = self._prepare(X, y, classes=classes, reset=first)
        self._train(x, targets, 1)
        return self

    def _prepare(self, X: Any, y: Any, classes: Any, reset: bool) -> tuple[np.ndarray, np.ndarray]:
        x, y = validate_data(self, X, y, reset=reset, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        if reset:
            labels = np.unique(y) if classes is None else np.unique(np.asarray(classes))
            if len(labels) < 2:
                raise ValueError(f"{type(self).__name__}: y has only one class ({labels[0].item()!r}); need 2 or more")
            self.classes_ = labels
            self._initialize(x.shape[1], len(labels))
        targets = np.searchsorted(self.classes_, y)
        unseen = (targets >= len(self.classes_)) | (self.classes_[np.minimum(targets, len(self.classes_) - 1)] != y)
        if unseen.any():
            raise ValueError(
                f"{type(self).__name__}: label {y[np.argmax(unseen)].item()!r} is not among the classes "
                f"{self.classes_.tolist()}"
            )
        return x, targets

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape ``(examples, classes)``: the softmax of the module's outputs."""
        z = self._outputs(X)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        """The most likely class of each example (one of ``classes_``)."""
        scores = self._outputs(X)  # first: it raises NotFittedError before fit
        return self.classes_[np.argmax(scores, axis=1)]


class NeuralNetRegressor(RegressorMixin, _NeuralNet):
    """A scikit-learn regressor training an ``nn.Module`` (default loss ``nn.mse``).

    The same parameters as :class:`NeuralNetClassifier`; ``out_features`` is the number
    of targets (1 for a 1-D ``y``, whose predictions are 1-D too). ``score`` is R².
    """

    def __init__(self, module: Callable[..., Module], *, loss: Callable[..., Any] = mse, **kwargs: Any) -> None:
        super().__init__(module, loss=loss, **kwargs)

    def fit(self, X: Any, y: Any) -> NeuralNetRegressor:
        """Build a fresh module and train it for ``epochs`` epochs."""
        x, targets = self._prepare(X, y, reset=True)
        self._train(x, targets, self.epochs)
        return self

    def partial_fit(self, X: Any, y: Any) -> NeuralNetRegressor:
        """Train one epoch (building the module first, if there is none)."""
        x, targets = self._prepare(X, y, reset=not hasattr(self, "module_"))
        self._train(x, targets, 1)
        return self

    def _prepare(self, X: Any, y: Any, reset: bool) -> tuple[np.ndarray, np.ndarray]:
        x, y = validate_data(self, X, y, reset=reset, multi_output=True, y_numeric=True, dtype=[np.float64, np.float32])
        targets = np.asarray(y, dtype=x.dtype)
        targets = targets.reshape(-1, 1) if targets.ndim == 1 else targets
        if reset:
            self._y_1d = np.ndim(y) == 1
            self._initialize(x.shape[1], targets.shape[1])
        elif targets.shape[1] != self.module_out_:
            raise ValueError(f"{type(self).__name__}: y has {targets.shape[1]} targets, the model {self.module_out_}")
        self.module_out_ = targets.shape[1]
        return x, targets

    def predict(self, X: Any) -> np.ndarray:
        """The module's outputs (1-D when it was fitted on a 1-D ``y``)."""
        out = self._outputs(X)
        return out.ravel() if self._y_1d and out.ndim == 2 and out.shape[1] == 1 else out

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
