"""scikit-learn estimators (FFNNClassifier, FFNNRegressor) that train an ffnn.Network on any backend."""

from __future__ import annotations

import copy
import itertools
import numbers
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import Tags, check_random_state
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from backends import get_backend

from . import optimizers
from .layers import Dense
from .network import Network
from .training import PREDICT_BATCH_SIZE

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["FFNNClassifier", "FFNNRegressor"]

_HIDDEN_ACTIVATIONS = {
    "relu": "relu",
    "tanh": "tanh",
    "logistic": "sigmoid",
    "sigmoid": "sigmoid",
    "identity": "linear",
    "linear": "linear",
}
_FLOAT_DTYPES = (np.float64, np.float32)


def _check_int(value: Any, name: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        msg = f"{name} must be an integer >= {minimum}, got {value!r}"
        raise ValueError(msg)
    return int(value)


def _check_real(value: Any, name: str, *, low: float, open_low: bool = False, high: float | None = None) -> float:
    """A finite real ``value`` >= low (> low when ``open_low``) and < high when given."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and bool(np.isfinite(value))
    ok = ok and (value > low if open_low else value >= low) and (high is None or value < high)
    if not ok:
        bound = f"{'>' if open_low else '>='} {low}" + ("" if high is None else f" and < {high}")
        msg = f"{name} must be a finite real number {bound}, got {value!r}"
        raise ValueError(msg)
    return float(value)


def _warn_not_converged(message: str, *, stacklevel: int) -> None:
    warnings.warn(message, ConvergenceWarning, stacklevel=stacklevel + 1)


def _hidden_sizes(spec: Any) -> list[int]:
    sizes = [spec] if isinstance(spec, numbers.Integral) else spec
    try:
        sizes = list(sizes)
    except TypeError:
        sizes = None
    if sizes is None or any(isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1 for s in sizes):
        msg = (
            f"hidden_layer_sizes must be a positive integer or a sequence of positive integers "
            f"(e.g. (100,) or (64, 32); () for no hidden layer), got {spec!r}"
        )
        raise ValueError(msg)
    return [int(s) for s in sizes]


class _FFNNBase(BaseEstimator):
    """Parameters, fit / partial_fit, training loop and pickling shared by the classifier
    and the regressor.

    Subclasses define ``_prepare`` (validate X and encode y as float64 columns),
    ``_output_layer`` (output activation and loss for that encoding) and
    ``_score_validation`` (the early-stopping score).
    """

    def __init__(
        self,
        *,
        hidden_layer_sizes: Any = (100,),
        activation: str = "relu",
        solver: Any = "adam",
        learning_rate: Any = 0.001,
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        max_iter: int = 200,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 10,
        tol: float = 1e-4,
        random_state: Any = None,
        backend: Any = "numpy",
        device: Any = None,
        dtype: str | None = None,
        verbose: bool = False,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.learning_rate = learning_rate
        self.alpha = alpha
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.backend = backend
        self.device = device
        self.dtype = dtype
        self.verbose = verbose

    # ------------------------------------------------------------------ parameters
    def _check_params(self) -> None:
        """Validate every constructor parameter (scikit-learn validates in fit, never in __init__).

        Raises
        ------
        ValueError
            The message names the parameter, its value and the accepted ones.
        TypeError
            ``backend`` is not a name (a Backend object cannot be cloned).
        """
        _hidden_sizes(self.hidden_layer_sizes)
        if self.activation not in _HIDDEN_ACTIVATIONS:
            msg = f"activation must be one of {', '.join(_HIDDEN_ACTIVATIONS)}, got {self.activation!r}"
            raise ValueError(msg)
        names = optimizers.OPTIMIZERS.names()
        if not (self.solver in names or isinstance(self.solver, optimizers.Optimizer)):
            msg = f"solver must be one of {', '.join(names)} or an ffnn.optimizers.Optimizer, got {self.solver!r}"
            raise ValueError(msg)
        self._new_optimizer()  # validates learning_rate
        _check_real(self.alpha, "alpha", low=0.0)
        if self.batch_size != "auto":
            _check_int(self.batch_size, "batch_size ('auto' or a positive integer)", minimum=1)
        _check_int(self.max_iter, "max_iter", minimum=1)
        _check_real(self.validation_fraction, "validation_fraction", low=0.0, open_low=True, high=1.0)
        _check_int(self.n_iter_no_change, "n_iter_no_change", minimum=1)
        _check_real(self.tol, "tol", low=0.0)
        if not isinstance(self.backend, str):
            msg = (
                f"backend must be a backend name ('numpy', 'cupy', 'torch', 'jax', 'array_api_strict', 'auto'), "
                f"with the device in device=, got {self.backend!r}; a name keeps the estimator clonable"
            )
            raise TypeError(msg)
        if self.dtype not in (None, "float32", "float64"):
            msg = f"dtype must be None, 'float32' or 'float64', got {self.dtype!r}"
            raise ValueError(msg)

    def _new_optimizer(self) -> optimizers.Optimizer:
        """A fresh optimizer: ``solver`` by name with ``learning_rate``, or a deep copy of the
        given optimizer object (its state then never leaks between fits or clones)."""
        if isinstance(self.solver, optimizers.Optimizer):
            return copy.deepcopy(self.solver)
        rate = self.learning_rate
        rate = float(rate) if isinstance(rate, numbers.Real) and not isinstance(rate, bool) else rate
        return optimizers.OPTIMIZERS.get(self.solver)(rate)

    # ------------------------------------------------------------------ fit and partial_fit
    def fit(self, X: Any, y: Any) -> Self:
        """Train a new network on (X, y) for up to ``max_iter`` epochs.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
        y : array_like of shape (n_samples,) or (n_samples, n_outputs)
            Classifier: class labels, or a binary indicator matrix for multi-label
            targets. Regressor: real-valued targets.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            Invalid parameters, NaN/inf or empty data, targets the estimator cannot
            take (classifier: fewer than two classes, continuous values; regressor:
            non-numeric values), a validation split with fewer than two samples.
        TypeError
            Sparse X, or ``backend`` given as an object instead of a name.

        Warns
        -----
        ConvergenceWarning
            ``max_iter`` epochs ran without meeting the ``tol`` criterion, or training
            diverged (a non-finite cost) and stopped with the last finite weights.
        """
        self._check_params()
        X, Y = self._prepare(X, y, reset=True)
        self._initialize(X, Y.shape[1])
        self._train(X, Y, incremental=False)
        return self

    def _partial_fit(self, X: Any, y: Any, **options: Any) -> Self:
        """The body of ``partial_fit``: build the model on the first call, then one epoch.

        ``options`` go to :meth:`_prepare` (the classifier's ``classes``).
        """
        first = not hasattr(self, "network_")
        if first:
            self._check_params()
        if self.early_stopping:
            msg = "partial_fit does not support early_stopping=True; use fit, or set early_stopping=False"
            raise ValueError(msg)
        X, Y = self._prepare(X, y, reset=first, partial=True, **options)
        if first:
            self._initialize(X, Y.shape[1])
        elif Y.shape[1] != self.n_outputs_:
            msg = f"y has {Y.shape[1]} outputs but the model was trained with {self.n_outputs_}"
            raise ValueError(msg)
        self._train(X, Y, incremental=True)
        return self

    def _prepare(self, X: Any, y: Any, *, reset: bool, partial: bool = False, **options: Any) -> tuple[Any, Any]:
        """Validated rows X and the targets encoded as float64 columns Y (n_samples, n_outputs).

        ``reset`` (fit, or the first partial_fit call) learns the target encoding and
        the number of features; ``partial`` says the call comes from partial_fit.
        """
        raise NotImplementedError

    def _score_validation(self, X: Any, Y: np.ndarray) -> float:
        """The early-stopping score of the network on held-out rows (higher is better)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ network
    def _output_layer(self) -> tuple[str, str]:
        """(output activation, loss) for the encoded targets."""
        raise NotImplementedError

    def _task_name(self) -> str:
        """"binary", "multiclass", "multilabel" or "regression"."""
        raise NotImplementedError

    def _build_network(self, n_features: int, n_outputs: int, dtype: str, seed: int) -> Network:
        hidden = _HIDDEN_ACTIVATIONS[self.activation]
        output, loss = self._output_layer()
        sizes = [n_features, *_hidden_sizes(self.hidden_layer_sizes)]
        layers = [Dense(a, b, activation=hidden) for a, b in itertools.pairwise(sizes)]
        layers.append(Dense(sizes[-1], n_outputs, activation=output))
        return Network(layers, loss=loss, backend=self.backend, device=self.device, dtype=dtype, seed=seed)

    def _model_record(self) -> dict[str, Any]:
        """What ``network_.save(path)`` keeps of the data, in the form ``ffnn train
        --save`` writes it (so ``ffnn evaluate``/``predict`` can use the file)."""
        record: dict[str, Any] = {"task": self._task_name()}
        if hasattr(self, "feature_names_in_"):
            record["feature_names"] = [str(n) for n in self.feature_names_in_]
        return record

    def _initialize(self, X: np.ndarray, n_outputs: int) -> None:
        """Draw the network, the optimizer and the shuffling generator; reset the curves.

        The network's dtype is ``dtype``, or X's (float32 or float64) when it is None.
        """
        dtype = self.dtype or ("float32" if X.dtype == np.float32 else "float64")
        random_state = check_random_state(self.random_state)
        seed, stream = (int(s) for s in random_state.randint(np.iinfo(np.int32).max, size=2))
        self.n_outputs_ = n_outputs
        self.network_ = self._build_network(X.shape[1], n_outputs, dtype, seed)
        self.network_.metadata = self._model_record()
        self.out_activation_ = self.network_.layers[-1].activation.name
        self._optimizer = self._new_optimizer()
        self._rng = np.random.default_rng(stream)
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_ = None
        self.loss_curve_ = []
        self._no_improvement_count = 0
        if self.early_stopping:
            self.validation_scores_, self.validation_loss_curve_ = [], []
            self.best_validation_score_, self.best_loss_ = -np.inf, None
        else:
            self.validation_scores_ = self.validation_loss_curve_ = self.best_validation_score_ = None
            self.best_loss_ = np.inf

    # ------------------------------------------------------------------ training
    def _batch_size(self, n_samples: int) -> int:
        return min(200 if self.batch_size == "auto" else int(self.batch_size), n_samples)

    def _split(self, X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Hold out ``validation_fraction`` of the rows (stratified for single-output classes)."""
        stratify = self._stratify(Y)
        seed = int(self._rng.integers(np.iinfo(np.int32).max))
        X_train, X_val, Y_train, Y_val = train_test_split(
            X, Y, test_size=self.validation_fraction, random_state=seed, stratify=stratify
        )
        if X_val.shape[0] < 2:
            msg = (
                f"the validation set holds {X_val.shape[0]} sample(s) (validation_fraction="
                f"{self.validation_fraction} of {X.shape[0]}); increase validation_fraction or pass more data"
            )
            raise ValueError(msg)
        return X_train, Y_train, X_val, Y_val

    def _stratify(self, Y: np.ndarray) -> np.ndarray | None:
        return None

    def _train(self, X: np.ndarray, Y: np.ndarray, *, incremental: bool) -> None:
        """Run epochs until convergence, ``max_iter`` or, when ``incremental``, one epoch.

        Stopping follows MLPClassifier: the training loss (or, with ``early_stopping``,
        the validation score) fails to improve by ``tol`` for more than
        ``n_iter_no_change`` consecutive epochs; early stopping then restores the
        weights of the best epoch.
        """
        # A warning points at the user's call: fit -> _train, or partial_fit -> _partial_fit -> _train.
        stacklevel = 4 if incremental else 3
        net = self.network_
        early_stopping = self.early_stopping and not incremental
        validation = best_weights = None
        if early_stopping:
            X, Y, X_val, Y_val = self._split(X, Y)
            validation = (net.inputs(X_val), net.targets(Y_val, X_val.shape[0]))
            best_weights = net.get_weights()
        x, y = net.inputs(X), net.targets(Y, X.shape[0])
        for _ in range(1 if incremental else int(self.max_iter)):
            history = self._epoch(x, y, validation)
            if history.stop_reason == "diverged":
                _warn_not_converged(
                    f"training diverged in epoch {self.n_iter_ + 1} (a non-finite cost or weight) and stopped "
                    "with the weights of the last finite epoch; lower learning_rate or scale the data",
                    stacklevel=stacklevel,
                )
                break
            self._record(history, X.shape[0])
            if not early_stopping:
                self._track_loss()
            elif self._track_validation(self._score_validation(validation[0], Y_val)):
                best_weights = net.get_weights()
            if self._no_improvement_count > self.n_iter_no_change:
                if self.verbose:
                    print(
                        f"{'Validation score' if early_stopping else 'Training loss'} did not improve more than "
                        f"tol={self.tol} for {self.n_iter_no_change} consecutive epochs. Stopping."
                    )
                break
        else:
            if not incremental:
                _warn_not_converged(
                    f"Stochastic optimizer: maximum iterations ({self.max_iter}) reached and the optimization "
                    "hasn't converged yet; raise max_iter or tol",
                    stacklevel=stacklevel,
                )
        if best_weights is not None:
            net.set_weights(best_weights)

    def _epoch(self, x: Any, y: Any, validation: tuple[Any, Any] | None) -> Any:
        """One :meth:`ffnn.Network.fit` epoch over device rows (x, y) in a fresh order.

        The order is drawn here, from the estimator's generator, so that consecutive
        calls see new permutations; the optimizer object (and its state) persists
        across epochs and ``partial_fit`` calls. ``alpha`` is Network.fit's ``l2``:
        J + (alpha/2m) Σ‖W‖² per mini-batch of m rows, as in MLPClassifier.
        """
        net, xp = self.network_, self.network_.xp
        n_samples = x.shape[0]
        order = net.backend.asarray(self._rng.permutation(n_samples), dtype=xp.int64)
        return net.fit(
            xp.take(x, order, axis=0),
            xp.take(y, order, axis=0),
            epochs=1,
            batch_size=self._batch_size(n_samples),
            optimizer=self._optimizer,
            l2=float(self.alpha),
            shuffle=False,
            validation_data=validation,
        )

    def _record(self, history: Any, n_samples: int) -> None:
        """Append the epoch's training (and held-out) loss to the curves."""
        self.n_iter_ += 1
        self.t_ += n_samples
        self.loss_ = float(history.train_cost[-1])
        self.loss_curve_.append(self.loss_)
        if history.val_cost:
            self.validation_loss_curve_.append(float(history.val_cost[-1]))
        if self.verbose:
            print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")

    def _track_loss(self) -> None:
        loss = self.loss_curve_[-1]
        self._no_improvement_count = self._no_improvement_count + 1 if loss > self.best_loss_ - self.tol else 0
        self.best_loss_ = min(self.best_loss_, loss)

    def _track_validation(self, score: float) -> bool:
        """Record a validation score; True when it is the best so far."""
        self.validation_scores_.append(score)
        if self.verbose:
            print(f"Validation score: {score:.6f}")
        improved = score >= self.best_validation_score_ + self.tol
        self._no_improvement_count = 0 if improved else self._no_improvement_count + 1
        if score > self.best_validation_score_:
            self.best_validation_score_ = score
            return True
        return False

    # ------------------------------------------------------------------ prediction
    def _outputs(self, X: Any) -> np.ndarray:
        """Network outputs A^[L] for X as a float64 NumPy array of shape (m, n_outputs_)."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=_FLOAT_DTYPES)
        return self._raw_outputs(X)

    def _raw_outputs(self, X: Any) -> np.ndarray:
        """Outputs for validated rows X (NumPy, or already on the network's device), as a
        writable float64 NumPy array that the caller owns (JAX's host views are read-only)."""
        net = self.network_
        return np.array(net.backend.to_numpy(net.predict(X, batch_size=PREDICT_BATCH_SIZE)), dtype=np.float64)

    def _validate_X_y(self, X: Any, y: Any, *, reset: bool, **kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
        return validate_data(self, X, y, reset=reset, multi_output=True, dtype=_FLOAT_DTYPES, **kwargs)

    # ------------------------------------------------------------------ pickling
    def __getstate__(self) -> dict[str, Any]:
        """The estimator's state with the network and the optimizer's slots as host
        (NumPy) arrays: a Backend holds modules, and device arrays should not travel."""
        state = dict(super().__getstate__())  # a copy: object.__getstate__ may return __dict__ itself
        if "network_" in state:
            state["network_"] = _network_state(state["network_"])
            state["_optimizer"] = copy.copy(state["_optimizer"]).to(get_backend("numpy"))
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Rebuild the network, and the optimizer's slots, on the saved backend and device.

        Raises
        ------
        backends.BackendUnavailableError
            The backend or device the estimator was trained on is not usable here.
        """
        if isinstance(state.get("network_"), dict):
            net = _network_from_state(state["network_"])
            state = {**state, "network_": net, "_optimizer": state["_optimizer"].to(net.backend)}
        super().__setstate__(state)

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


def _network_state(net: Network) -> dict[str, Any]:
    """A plain description of a Network: layer specs, loss, placement, host weights."""
    return {
        "layers": [(la.n_in, la.n_out, la.activation.name, la.init.name) for la in net.layers],
        "loss": net.loss.name,
        "backend": net.backend.name,
        "device": net.backend.device_name,
        "dtype": net.dtype,
        "seed": net.seed,
        "fuse_output": net.fuse_output,
        "weights": net.get_weights(),
        "metadata": copy.deepcopy(net.metadata),
    }


def _network_from_state(state: dict[str, Any]) -> Network:
    layers = [Dense(n_in, n_out, activation=act, init=init) for n_in, n_out, act, init in state["layers"]]
    net = Network(
        layers,
        loss=state["loss"],
        backend=state["backend"],
        device=state["device"],
        dtype=state["dtype"],
        seed=state["seed"],
        fuse_output=state["fuse_output"],
    )
    net.set_weights(state["weights"])
    net.metadata = state.get("metadata", {})
    return net


_PARAMETERS_DOC = """    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int, default (100,)
        Units of each hidden layer; ``()`` for none.
    activation : {"relu", "tanh", "logistic", "identity"}, default "relu"
        Hidden-layer activation (ffnn's names "sigmoid" and "linear" work too).
    solver : {"adam", "sgd", "adamw"} or ffnn.optimizers.Optimizer, default "adam"
        The optimizer. An optimizer object is deep-copied at the start of each fit
        (its own learning rate and settings are used; ``learning_rate`` is ignored).
    learning_rate : float or schedule, default 0.001
        Step size of a named solver (a float, or an ``ffnn.optimizers`` schedule).
    alpha : float, default 0.0001
        L2 penalty on the weights (not the biases), as in MLPClassifier: each
        mini-batch of b samples adds (alpha / 2b) Σ‖W‖² to its cost.
    batch_size : int or "auto", default "auto"
        Mini-batch size; "auto" is min(200, n_samples); a size above the number of
        training samples means full batches.
    max_iter : int, default 200
        Maximum number of epochs (passes over the data) of ``fit``.
    early_stopping : bool, default False
        Hold out ``validation_fraction`` of the training data (stratified for single
        output classification), stop when the validation score (accuracy or R²) has
        not improved by ``tol`` for more than ``n_iter_no_change`` epochs, and keep
        the best weights. ``partial_fit`` refuses it (as MLPClassifier does).
    validation_fraction : float in (0, 1), default 0.1
        Share of the training data held out when ``early_stopping``.
    n_iter_no_change : int, default 10
        Epochs without an improvement of ``tol`` tolerated before stopping.
    tol : float, default 1e-4
        Minimum improvement of the training loss (or validation score).
    random_state : int, RandomState or None, default None
        Seeds the initial weights, the shuffling and the validation split; an int
        gives the same model on every backend.
    backend : str, default "numpy"
        Array library that trains the network: "numpy", "cupy" (GPU), "torch",
        "jax", "array_api_strict" or "auto" (see :func:`backends.get_backend`).
        Inputs and outputs are NumPy arrays whatever the backend.
    device : str, optional
        Device of the backend: "cpu", "gpu", "cuda:N".
    dtype : {"float32", "float64"} or None, default None
        Precision of the network's parameters and arithmetic. None follows
        scikit-learn's rule: float32 when the first X given to fit is float32, else
        float64. "float32" is usually the faster choice on a GPU. Outputs are
        returned as float64 NumPy arrays whatever the precision.
    verbose : bool, default False
        Print the loss (and validation score) after each epoch.
"""

_ATTRIBUTES_DOC = """    network_ : ffnn.Network
        The trained network (save it with ``network_.save(path)``).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of str
        Names of features seen during fit, when X had string column names.
    n_outputs_ : int
        Output units of the network.
    out_activation_ : str
        Output activation: "softmax", "sigmoid" or "linear".
    loss_ : float or None
        Training loss of the last epoch: the mean over its mini-batches (weighted by
        their sizes) of the cost plus the L2 penalty, each taken before its update.
        None until an epoch completes.
    loss_curve_ : list of float
        Training loss of each epoch.
    validation_loss_curve_ : list of float or None
        With ``early_stopping``, the cost on the held-out set with the weights at the
        end of each epoch (the same loss as ``loss_curve_``, without the L2 penalty,
        so that it measures the fit alone); else None.
    validation_scores_ : list of float or None
        With ``early_stopping``, the validation score of each epoch; else None.
    best_validation_score_ : float or None
        Best of ``validation_scores_`` (the weights kept), or None.
    best_loss_ : float or None
        Lowest training loss (None with ``early_stopping``).
    n_iter_ : int
        Epochs run (summed over ``partial_fit`` calls).
    t_ : int
        Training samples seen.
"""


def _estimator_doc(summary: str, *, attributes: str, example: str) -> str:
    """A class docstring: ``summary``, the shared Parameters, the Attributes (the
    estimator's own ``attributes`` first, then the shared ones) and ``example``."""
    return (
        f"{summary}\n{_PARAMETERS_DOC}\n    Attributes\n    ----------\n{attributes}{_ATTRIBUTES_DOC}\n"
        f"    Examples\n    --------\n{example}"
    )


class FFNNClassifier(ClassifierMixin, _FFNNBase):
    __doc__ = _estimator_doc(
        """Feedforward network classifier, a drop-in for scikit-learn's MLPClassifier.

    Binary (one sigmoid output, binary cross-entropy), multiclass (softmax,
    categorical cross-entropy) and multi-label (one sigmoid per label, binary
    cross-entropy summed over labels) classification. Inputs are dense NumPy-like
    arrays; sparse matrices are refused.
""",
        attributes="""    classes_ : ndarray of shape (n_classes,)
        Class labels (for multi-label targets, the column indices).
""",
        example="""    >>> from sklearn.datasets import load_iris
    >>> from ffnn.sklearn import FFNNClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = FFNNClassifier(hidden_layer_sizes=(16,), max_iter=50, random_state=0)
    >>> clf.fit(X, y).predict(X[:3]).shape
    (3,)
""",
    )

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> FFNNClassifier:
        """One epoch over (X, y), continuing from the current weights and optimizer state.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
        y : array_like of shape (n_samples,) or (n_samples, n_labels)
        classes : array_like of shape (n_classes,), optional
            All the labels the model will ever see; required on the first call
            (unless y is a multi-label indicator matrix), ignored after.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            First call without ``classes``, fewer than two classes, labels not in
            ``classes_``, a different number of features than before, or
            ``early_stopping=True``.
        """
        return self._partial_fit(X, y, classes=classes)

    def predict(self, X: Any) -> np.ndarray:
        """Class labels (or a multi-label indicator matrix) for X.

        Returns
        -------
        ndarray of shape (n_samples,), or (n_samples, n_labels) for multi-label
        """
        out = self._outputs(X)
        return self._binarizer.inverse_transform(out)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities for X, columns ordered as ``classes_`` (float64).

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Rows sum to one, except for multi-label targets, where each column is
            the independent probability of its label.
        """
        out = self._outputs(X)
        if self._binarizer.y_type_ == "binary":
            return np.hstack([1.0 - out, out])
        return out

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Natural logarithm of :meth:`predict_proba` (float64)."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    # ------------------------------------------------------------------ targets
    def _prepare(
        self, X: Any, y: Any, *, reset: bool, partial: bool = False, classes: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Validated X, and y one column per class (multiclass, multi-label) or a single
        0/1 column (binary), float64.

        ``reset`` learns the classes: from y in fit and for multi-label targets, from
        ``classes`` on partial_fit's first call. partial_fit refuses labels outside them.
        """
        X, y = self._validate_X_y(X, y, reset=reset)
        y = self._labels(y)
        if reset:
            self._set_classes(LabelBinarizer().fit(self._class_source(y, classes, partial=partial)))
        if partial and self._binarizer.y_type_ != "multilabel-indicator":
            unseen = np.setdiff1d(unique_labels(y), self.classes_)
            if unseen.size:
                msg = f"y has classes {unseen.tolist()} that are not in classes_ {self.classes_.tolist()}"
                raise ValueError(msg)
        return X, np.asarray(self._binarizer.transform(y), dtype=np.float64)

    @staticmethod
    def _class_source(y: np.ndarray, classes: Any, *, partial: bool) -> np.ndarray:
        """What the classes are learnt from: y (fit, multi-label targets) or ``classes``."""
        if not partial or type_of_target(y).startswith("multilabel"):
            return y
        if classes is None:
            msg = "classes must be passed on the first call to partial_fit, e.g. classes=np.unique(y_all)"
            raise ValueError(msg)
        return np.asarray(classes)

    def _set_classes(self, binarizer: LabelBinarizer) -> None:
        """Adopt the classes of a fitted LabelBinarizer, refusing fewer than two."""
        if len(binarizer.classes_) < 2:
            msg = (
                f"FFNNClassifier needs samples of at least 2 classes, but y (or classes) contains only one "
                f"class: {binarizer.classes_[0]!r}"
            )
            raise ValueError(msg)
        self._binarizer = binarizer
        self.classes_ = binarizer.classes_

    @staticmethod
    def _labels(y: np.ndarray) -> np.ndarray:
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        return y

    def _task_name(self) -> str:
        return {"multiclass": "multiclass", "binary": "binary"}.get(self._binarizer.y_type_, "multilabel")

    def _model_record(self) -> dict[str, Any]:
        record = super()._model_record()
        if record["task"] != "multilabel":
            record["classes"] = [str(c) for c in self.classes_]
        return record

    def _output_layer(self) -> tuple[str, str]:
        """Softmax + categorical cross-entropy for multiclass targets, else sigmoid + binary
        cross-entropy (one unit for binary targets, one per label for multi-label)."""
        if self._binarizer.y_type_ == "multiclass":
            return "softmax", "categorical_crossentropy"
        return "sigmoid", "binary_crossentropy"

    def _stratify(self, Y: np.ndarray) -> np.ndarray | None:
        if self._binarizer.y_type_ == "multilabel-indicator":
            return None
        return Y

    def _score_validation(self, X: Any, Y: np.ndarray) -> float:
        """Accuracy (subset accuracy for multi-label) on the held-out set."""
        return float(
            accuracy_score(
                self._binarizer.inverse_transform(Y), self._binarizer.inverse_transform(self._raw_outputs(X))
            )
        )

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class FFNNRegressor(RegressorMixin, _FFNNBase):
    __doc__ = _estimator_doc(
        """Feedforward network regressor, a drop-in for scikit-learn's MLPRegressor.

    A linear output layer trained on the mean squared error
    J = (1/m) Σ_i Σ_j (y_ji − ŷ_ji)² (L6); single- and multi-output targets.
    Predictions keep the shape of the targets seen in fit: (n_samples,) for 1-D y,
    (n_samples, n_outputs) for 2-D y.
""",
        attributes="",
        example="""    >>> from sklearn.datasets import load_diabetes
    >>> from ffnn.sklearn import FFNNRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = FFNNRegressor(hidden_layer_sizes=(16,), max_iter=20, random_state=0)
    >>> reg.fit(X, y).predict(X[:3]).shape
    (3,)
""",
    )

    def partial_fit(self, X: Any, y: Any) -> FFNNRegressor:
        """One epoch over (X, y), continuing from the current weights and optimizer state.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
        y : array_like of shape (n_samples,) or (n_samples, n_outputs)

        Returns
        -------
        self

        Raises
        ------
        ValueError
            ``early_stopping=True``, a different number of features or outputs than
            before, or the errors of :meth:`fit`.
        """
        return self._partial_fit(X, y)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted targets for X (float64).

        Returns
        -------
        ndarray of shape (n_samples,) when fit saw 1-D y, else (n_samples, n_outputs)
        """
        out = self._outputs(X)
        return out[:, 0] if self._y_1d else out

    def _prepare(self, X: Any, y: Any, *, reset: bool, partial: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Validated X, and numeric y as float64 columns (n_samples, n_outputs); ``reset``
        records whether y was 1-D, the shape :meth:`predict` returns."""
        X, y = self._validate_X_y(X, y, reset=reset, y_numeric=True)
        if reset:
            self._y_1d = y.ndim == 1
        return X, np.asarray(np.reshape(y, (len(y), -1)), dtype=np.float64)

    def _output_layer(self) -> tuple[str, str]:
        return "linear", "mse"

    def _task_name(self) -> str:
        return "regression"

    def _score_validation(self, X: Any, Y: np.ndarray) -> float:
        """R² on the held-out set (NaN when the predictions are not finite)."""
        pred = self._raw_outputs(X)
        if not np.isfinite(pred).all():
            return float("nan")
        return float(r2_score(Y, pred))

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
