"""FFNNClassifier: MLPClassifier on ffnn's network, any array library."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import Tags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import _check_partial_fit_first_call, type_of_target, unique_labels
from sklearn.utils.validation import column_or_1d, validate_data

from ._base import MLPBase
from ._dispatch import as_dispatchable, backend_of, float_dtypes, host, is_host
from ._docs import estimator_doc

__all__ = ["FFNNClassifier"]


class FFNNClassifier(ClassifierMixin, MLPBase):
    __doc__ = estimator_doc("classifier")

    def __init__(
        self,
        hidden_layer_sizes: Any = (100,),
        activation: str = "relu",
        *,
        solver: Any = "adam",
        alpha: float = 0.0001,
        batch_size: Any = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: Any = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: Any = 10,
        max_fun: int = 15000,
        backend: str = "numpy",
        device: str | None = None,
        dtype: str | None = None,
        dropout: Any = None,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.backend = backend
        self.device = device
        self.dtype = dtype
        self.dropout = dropout

    # ------------------------------------------------------------------ targets
    def _validate_input(self, X: Any, y: Any, incremental: bool, reset: bool) -> tuple[Any, np.ndarray]:
        """Validated X and y binarized as MLP does: one 0/1 column (binary) or one per class / label."""
        X, y = validate_data(
            self, X, y, accept_sparse=["csr", "csc"], multi_output=True, dtype=float_dtypes(X), reset=reset
        )
        y = host(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    msg = (
                        "warm_start can only be used where `y` has the same classes as in the previous call "
                        f"to fit. Previously got {self.classes_}, `y` has {classes}"
                    )
                    raise ValueError(msg)
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                msg = f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}. 'y' has {classes}."
                raise ValueError(msg)
        return X, self._label_binarizer.transform(y).astype(bool)

    def _loss_name(self) -> str:
        return "log_loss"

    def _out_activation(self) -> str:
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _task_name(self) -> str:
        kind = self._label_binarizer.y_type_
        return kind if kind in ("binary", "multiclass") else "multilabel"

    def _model_record(self) -> dict[str, Any]:
        record = super()._model_record()
        if record["task"] != "multilabel":
            record["classes"] = [str(c) for c in self.classes_]
        return record

    def _is_classifier(self) -> bool:
        return True

    def _validation_targets(self, Y_val: np.ndarray) -> np.ndarray:
        return self._label_binarizer.inverse_transform(Y_val)

    def _score_host(self, out: np.ndarray, y: np.ndarray, sample_weight: Any) -> float:
        pred = self._label_binarizer.inverse_transform(out.ravel() if self.n_outputs_ == 1 else out)
        return float(accuracy_score(y, pred, sample_weight=sample_weight))

    # ------------------------------------------------------------------ API
    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None, classes: Any = None) -> FFNNClassifier:
        """One epoch over (X, y), continuing from the current weights and solver state.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
        sample_weight : array-like of shape (n_samples,), optional
        classes : array-like of shape (n_classes,), optional
            Every class the model will see; required on the first call (unless y is
            a multi-label indicator matrix); a different set later is an error.

        Returns
        -------
        self
        """
        y = as_dispatchable(y)
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(host(y) if not isinstance(y, list) else y).startswith("multilabel"):
                self._label_binarizer.fit(host(y))
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X: Any) -> Any:
        """Class labels, or a label indicator matrix for multi-label targets.

        Returns
        -------
        array of shape (n_samples,) or (n_samples, n_labels), in X's namespace with
        array API dispatch (numeric labels), else NumPy.
        """
        out = self._forward(X, "predict")
        if is_host(out):
            return self._label_binarizer.inverse_transform(out.ravel() if self.n_outputs_ == 1 else out)
        return self._labels_on_device(out)

    def _labels_on_device(self, out: Any) -> Any:
        backend = backend_of(out)
        xp = backend.xp
        kind = self._label_binarizer.y_type_
        if kind == "multilabel-indicator":
            return xp.astype(out > 0.5, xp.int64)
        index = xp.argmax(out, axis=1) if kind == "multiclass" else xp.astype(out[:, 0] > 0.5, xp.int64)
        return xp.take(backend.asarray(self.classes_), index, axis=0)

    def predict_proba(self, X: Any) -> Any:
        """Probabilities, columns ordered as ``classes_`` (for multi-label targets, each
        label's own probability); the dtype of the network (X's float dtype)."""
        return self._proba(X, "predict_proba")

    def _proba(self, X: Any, method: str) -> Any:
        out = self._forward(X, method)
        if self.n_outputs_ != 1:
            return out
        if is_host(out):
            p = out.ravel()
            return np.vstack([1 - p, p]).T
        return backend_of(out).xp.concat([1 - out, out], axis=1)

    def predict_log_proba(self, X: Any) -> Any:
        """log of :meth:`predict_proba`."""
        proba = self._proba(X, "predict_log_proba")
        if is_host(proba):
            with np.errstate(divide="ignore"):
                return np.log(proba)
        return backend_of(proba).xp.log(proba)

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Mean accuracy of :meth:`predict` on (X, y), a Python float computed in float64
        on the host whatever the namespace (torch would otherwise average in float32)."""
        pred = host(self.predict(X))
        y, sample_weight = as_dispatchable(y), as_dispatchable(sample_weight)
        weights = None if sample_weight is None else host(sample_weight)
        return float(accuracy_score(host(y), pred, sample_weight=weights))

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags
