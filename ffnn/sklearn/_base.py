"""The estimator shared by FFNNClassifier and FFNNRegressor: MLP's parameters, fit,
partial_fit, warm start; the stochastic solvers on ffnn's training loop
(:class:`ffnn.training.Loop`) and L-BFGS on scipy."""

from __future__ import annotations

import copy
import math
import sys
import warnings
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import scipy.optimize
import scipy.sparse as sp
from sklearn.base import BaseEstimator, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import Tags, check_random_state
from sklearn.utils._array_api import check_same_namespace
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.fixes import _get_additional_lbfgs_options_dict
from sklearn.utils.optimize import _check_optimize_result
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from backends import Backend, get_backend

from .. import optimizers
from ..activations import get_activation
from ..network import Network
from ..training import EarlyStopping, History, TrainingState
from ..training.loop import Data, Loop
from ._dispatch import as_dispatchable, backend_of, dispatch_enabled, float_dtypes, host, is_host
from ._init import mlp_initial_parameters
from ._losses import CORE_LOSSES, MLPPenalty, MLPReportedLoss
from ._optim import MLPSGD, MLPAdam
from ._sampler import MLPSampler

__all__ = ["MLPBase"]

# scikit-learn's activation names, and ffnn's own spellings, to ffnn's activations.
HIDDEN_ACTIVATIONS = {
    "identity": "linear",
    "logistic": "sigmoid",
    "tanh": "tanh",
    "relu": "relu",
    "sigmoid": "sigmoid",
    "linear": "linear",
}
_OUTPUT_ACTIVATIONS = {"identity": "linear", "logistic": "sigmoid", "softmax": "softmax", "exp": "exp"}
_STOCHASTIC = ("sgd", "adam", "adamw")
PREDICT_BATCH_ROWS = 4096


def get_params(net: Network) -> dict[str, Any]:
    """The network's parameters keyed by name (not copies)."""
    return net.named_parameters()


def _copies(params: dict[str, Any], xp: Any) -> dict[str, Any]:
    return {k: xp.asarray(v, copy=True) for k, v in params.items()}


class _Rows:
    """Rows on the network's device: X (sparse X densified once), targets Y (m, n_out)
    and sample weights (m,), with the host copy of the weights the loop takes."""

    def __init__(self, X: Any, Y: np.ndarray, sw: np.ndarray | None, backend: Backend, dtype: str) -> None:
        self.backend, self.xp = backend, backend.xp
        self.dtype = backend.dtype(dtype)
        self.X = self._put(X.toarray() if sp.issparse(X) else X)
        self.Y = self._put(Y)
        self.sw_host = None if sw is None else np.asarray(sw)
        self.sw = None if sw is None else self._put(sw)
        self.n = X.shape[0]

    def _put(self, a: Any) -> Any:
        return self.xp.astype(self.backend.asarray(a), self.dtype, copy=False)

    def subset(self, index: np.ndarray) -> _Rows:
        """The rows ``index`` (host ints) as a new _Rows."""
        sub = copy.copy(self)
        ix = self.backend.asarray(index)
        sub.X = self.xp.take(self.X, ix, axis=0)
        sub.Y = self.xp.take(self.Y, ix, axis=0)
        sub.sw = None if self.sw is None else self.xp.take(self.sw, ix, axis=0)
        sub.sw_host = None if self.sw_host is None else self.sw_host[index]
        sub.n = int(index.shape[0])
        return sub

    def full(self) -> tuple[Any, Any, Any]:
        """(X, Y, s): X and Y as columns, s as a (1, m) row or None."""
        s = None if self.sw is None else self.xp.reshape(self.sw, (1, -1))
        return self.X.T, self.Y.T, s


class MLPBase(BaseEstimator):
    """Parameters, fit, partial_fit and the solvers shared by the classifier and the regressor.

    Subclasses define ``_validate_input`` (X and the targets encoded as float columns),
    ``_loss_name``, ``_out_activation`` and ``_score_host`` (the early-stopping score).
    """

    _parameter_constraints: ClassVar[dict] = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [str],  # MLP's names or any ffnn activation spec: checked by _hidden_activation
        "solver": [StrOptions({"lbfgs", "sgd", "adam", "adamw"}), optimizers.Optimizer],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "backend": [StrOptions({"auto", "numpy", "cupy", "torch", "jax", "array_api_strict"})],
        "device": [None, str],
        "dtype": [None, StrOptions({"float32", "float64"})],
        "dropout": [None, Interval(Real, 0, 1, closed="right"), dict, list, tuple],  # D (1): keep probabilities
    }

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPBase:
        """Train on (X, y) from MLP's initial weights (or, with ``warm_start``, from the last fit).

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            With ``sklearn.set_config(array_api_dispatch=True)``, an array of any
            supported library: training happens on its library and device.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), optional
            J = Σ s_i J0_i / Σ s_i per mini-batch (and α/(2Σs) Σ‖W‖²).

        Returns
        -------
        self

        Raises
        ------
        ValueError
            Invalid parameters or data; "Solver produced non-finite parameter
            weights" when training overflowed; a validation set of fewer than 2 samples.

        Warns
        -----
        ConvergenceWarning
            ``max_iter`` reached (or L-BFGS stopped by ``max_fun``/``max_iter``).
        """
        return self._fit(X, y, sample_weight, incremental=False)

    def _check_solver(self) -> bool:
        if self.solver not in _STOCHASTIC and not isinstance(self.solver, optimizers.Optimizer):
            msg = f"partial_fit is only available for stochastic optimizers. {self.solver} is not stochastic."
            raise AttributeError(msg)
        return True

    def _fit(self, X: Any, y: Any, sample_weight: Any, *, incremental: bool) -> MLPBase:
        sizes = self.hidden_layer_sizes
        sizes = list(sizes) if hasattr(sizes, "__iter__") else [sizes]
        if np.any(np.array(sizes) <= 0):
            msg = f"hidden_layer_sizes must be > 0, got {sizes}."
            raise ValueError(msg)
        _hidden_activation(self.activation)  # a clear ValueError before any work
        if self.dropout is not None and self.solver == "lbfgs":
            msg = "dropout needs a stochastic solver (sgd, adam, adamw); lbfgs minimises one fixed cost"
            raise ValueError(msg)
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, y, sample_weight = as_dispatchable(X), as_dispatchable(y), as_dispatchable(sample_weight)
        X, Y = self._validate_input(X, y, incremental, reset=first_pass)
        backend = backend_of(X) if dispatch_enabled() and not is_host(X) else get_backend(self.backend, self.device)
        self._native = dispatch_enabled() and not is_host(X)
        dtype = self.dtype or _dtype_name(X)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(host(sample_weight), np.empty((X.shape[0], 0), dtype=dtype))
        self.n_outputs_ = Y.shape[1]
        layer_units = [X.shape[1], *sizes, self.n_outputs_]
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(layer_units, dtype)
        net = self._build_network(backend, dtype)  # validates dropout against the layer sizes
        data = _Rows(X, Y, sample_weight, backend, dtype)
        net.loss = MLPReportedLoss(self.out_activation_, self.n_outputs_)
        if self.solver == "lbfgs":
            self._fit_lbfgs(net, data)
        else:
            self._fit_stochastic(net, data, incremental)
        self._store(net)
        if self.__dict__.pop("_diverged", False) or not _all_finite(net):
            msg = (
                "Solver produced non-finite parameter weights. The input data may contain large values "
                "and need to be preprocessed."
            )
            raise ValueError(msg)
        return self

    def _initialize(self, layer_units: list[int], dtype: str) -> None:
        """Draw MLP's initial weights from ``_random_state`` and reset the training record."""
        self.n_iter_ = 0
        self.t_ = 0
        self.n_layers_ = len(layer_units)
        self.out_activation_ = self._out_activation()
        activation = "logistic" if _hidden_activation(self.activation) == "sigmoid" else self.activation
        params = mlp_initial_parameters(layer_units, activation, self._random_state, dtype)
        n = len(layer_units) - 1
        self.coefs_ = [params[f"W{l}"].T for l in range(1, n + 1)]
        self.intercepts_ = [params[f"b{l}"][:, 0] for l in range(1, n + 1)]
        self._best_params: Any = None  # None: the initial weights (copied when training starts)
        if self.solver != "lbfgs":
            self.loss_curve_: list[float] = []
            self._no_improvement_count = 0
            self.validation_scores_: list[float] | None = [] if self.early_stopping else None
            self.best_validation_score_ = -np.inf if self.early_stopping else None
            self.best_loss_ = None if self.early_stopping else np.inf

    def _network_config(self, dtype: str) -> dict[str, Any]:
        """The network's architecture as :meth:`Network.get_config` writes it (W^[l] = coefs_[l-1]ᵀ)."""
        shapes = [tuple(int(n) for n in c.shape) for c in self.coefs_]
        names = [_hidden_activation(self.activation)] * (len(shapes) - 1) + [_OUTPUT_ACTIVATIONS[self.out_activation_]]
        layers = [
            {"n_in": a, "n_out": b, "activation": g, "init": "glorot_uniform"} for (a, b), g in zip(shapes, names)
        ]
        config = {"layers": layers, "loss": CORE_LOSSES[self.out_activation_], "dtype": dtype, "seed": 0}
        if self.dropout is not None:
            config["dropout"] = self.dropout
        return config

    def _build_network(self, backend: Backend, dtype: str, *, copy: bool = True) -> Network:
        """An ffnn Network (:meth:`Network.from_config`) holding ``coefs_``/``intercepts_`` on ``backend``."""
        net = Network.from_config(self._network_config(dtype), backend=backend)
        xp, dt = backend.xp, backend.dtype(dtype)
        params = {}
        for l, (coef, intercept) in enumerate(zip(self.coefs_, self.intercepts_), start=1):
            W = backend.asarray(coef if is_host(coef) or backend.owns(coef) else host(coef))
            b = backend.asarray(intercept if is_host(intercept) or backend.owns(intercept) else host(intercept))
            params[f"W{l}"] = xp.asarray(xp.astype(W.T, dt), copy=copy)
            params[f"b{l}"] = xp.asarray(xp.astype(xp.reshape(b, (-1, 1)), dt), copy=copy)
        net.set_parameters(params)
        return net

    def _store(self, net: Network) -> None:
        """coefs_ and intercepts_ from the network: views on X's device with array API
        dispatch, NumPy arrays otherwise."""
        params = get_params(net)
        out = (lambda a: a) if self._native else host
        n = len(net.layers)
        self.coefs_ = [out(params[f"W{l}"]).T for l in range(1, n + 1)]
        self.intercepts_ = [_column_to_vector(out(params[f"b{l}"])) for l in range(1, n + 1)]

    # ------------------------------------------------------------------ one step's maths
    def _loss_and_gradients(self, net: Network, X: Any, Y: Any, s: Any) -> tuple[Any, dict[str, Any]]:
        """MLP's cost (with the L2 term) and its gradients for one batch (X, Y columns, s row):
        the network's forward, cost and backward (``weights=s``) and :class:`MLPPenalty`,
        as one step of the training loop computes them."""
        params = net.named_parameters()
        cache, loss = net.forward_cost_columns(X, Y, weights=s)
        grads = net.backward(cache, Y, weights=s)
        assert isinstance(grads, dict)
        loss = loss + MLPPenalty(float(self.alpha))(params, grads, X.shape[1], s, xp=net.xp)
        return loss, grads

    # ------------------------------------------------------------------ sgd / adam
    def _new_solver(self, net: Network) -> Any:
        """A fresh optimizer of the training loop's protocol, its state built for ``net``."""
        if isinstance(self.solver, optimizers.Optimizer) or self.solver == "adamw":
            opt = (
                copy.deepcopy(self.solver)
                if isinstance(self.solver, optimizers.Optimizer)
                else optimizers.OPTIMIZERS.get("adamw")(float(self.learning_rate_init))
            )
        elif self.solver == "sgd":
            opt = MLPSGD(
                self.learning_rate_init,
                self.learning_rate,
                momentum=self.momentum,
                nesterov=self.nesterovs_momentum,
                power_t=self.power_t,
                backend=net.backend,
                samples_seen=self.t_,
            )
        else:
            opt = MLPAdam(
                self.learning_rate_init,
                beta_1=self.beta_1,
                beta_2=self.beta_2,
                epsilon=self.epsilon,
                backend=net.backend,
            )
        opt.state = opt.init(net.named_parameters(), xp=net.xp)
        return opt

    def _stopping_rule(self) -> EarlyStopping:
        """MLP's tol / n_iter_no_change as the loop's stopping rule: no improvement when
        loss > best − tol (or, with early stopping, validation score < best + tol), for
        more than n_iter_no_change epochs; the best weights restored with early stopping."""
        finite = not (isinstance(self.n_iter_no_change, float) and math.isinf(self.n_iter_no_change))
        return EarlyStopping(
            patience=int(self.n_iter_no_change) + 1 if finite else sys.maxsize,
            min_delta=float(self.tol),
            restore_best=bool(self.early_stopping),
            monitor="val_score" if self.early_stopping else "train_cost",
            mode="max" if self.early_stopping else "min",
            reference="best",
            inclusive=True,
        )

    def _fit_stochastic(self, net: Network, data: _Rows, incremental: bool) -> None:
        """MLP's epochs on ffnn's training loop (:class:`ffnn.training.Loop`) with MLP's
        components: its sampler, solver, stopping rule, reported cost and L2 penalty."""
        xp = net.xp
        if self.early_stopping and incremental:
            msg = "partial_fit does not support early_stopping=True"
            raise ValueError(msg)
        if not incremental or not hasattr(self, "_optimizer"):
            self._optimizer = self._new_solver(net)
        opt = self._optimizer
        if isinstance(opt, (MLPSGD, MLPAdam)):
            what = "Validation score" if self.early_stopping else "Training loss"
            opt.plateau_message = (
                f"{what} did not improve more than tol={self.tol:f} for {self.n_iter_no_change} consecutive epochs."
            )
            opt.verbose = bool(self.verbose)
        early_stopping = self.early_stopping
        if getattr(self, "_best_params", None) is None:
            self._best_params = _copies(net.named_parameters(), xp)
        train, val, y_val, sw_val = data, None, None, None
        if early_stopping:
            train, val, y_val, sw_val = self._split(data)
        n = train.n
        if self.batch_size == "auto":
            batch_size = min(200, n)
        else:
            if self.batch_size > n:
                warnings.warn(
                    "Got `batch_size` less than 1 or larger than sample size. It is going to be clipped", stacklevel=5
                )
            batch_size = int(np.clip(self.batch_size, 1, n))
        stopper = self._stopping_rule()
        best = self.best_validation_score_ if early_stopping else self.best_loss_
        kept = None if isinstance(self._best_params, str) else list(self._best_params.values())
        state = TrainingState(
            epoch=0,
            shuffle_seed=0,
            history=History(),
            settings={},
            best=best,
            wait=getattr(self, "_no_improvement_count", 0),
            best_weights=kept if early_stopping else None,
        )
        rows = Data(train.X, train.Y, None, None, batch_size, bool(self.shuffle), train.sw_host, mean_by_rows=True)

        def metrics(net: Any, logs: dict[str, float]) -> dict[str, float]:
            if self.verbose:
                print(f"Iteration {self.n_iter_ + int(logs['epoch'])}, loss = {logs['train_cost']:.8f}")
            if not early_stopping:
                return {}
            assert val is not None and y_val is not None
            score = self._validation_score(net, val, y_val, sw_val)
            if self.verbose:
                print(f"Validation score: {score:f}")
            return {"val_score": score}

        loop = Loop(
            net,
            opt,
            state,
            rows,
            stopper=stopper,
            saver=None,
            hooks=[],
            l2=MLPPenalty(float(self.alpha)),
            sampler=MLPSampler(self._random_state, n, shuffle=self.shuffle),
            metrics=metrics,
        )
        self.n_iter_ = 0
        try:
            loop.run(1 if incremental else self.max_iter, verbose=False)
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.", stacklevel=5)
            if early_stopping and state.best_weights is not None:
                net.set_weights([host(w) for w in state.best_weights])
        history = state.history
        self.n_iter_ = history.epochs
        self.t_ += n * history.epochs
        self.loss_curve_.extend(history.train_cost)
        if history.train_cost:
            self.loss_ = history.train_cost[-1]
        if early_stopping:
            assert self.validation_scores_ is not None
            self.validation_scores_.extend(history.val_score)
            self.best_validation_score_ = state.best
            # MLP keeps its best weights as the live ones: a later warm start trains them in place.
            self._best_params = "live"
        else:
            self.best_loss_ = state.best
            if self._best_params == "live":
                self._best_params = _copies(net.named_parameters(), xp)
        self._no_improvement_count = state.wait
        if history.stop_reason == "diverged":
            # The loop stops at the first non-finite epoch (its weights undone), where MLP
            # runs on with non-finite weights: record that epoch as MLP would (nan loss
            # and score), then keep the best weights (early stopping) or fail as MLP does.
            self.n_iter_ += 1
            self.t_ += n
            self.loss_ = math.nan
            self.loss_curve_.append(math.nan)
            if early_stopping:
                assert self.validation_scores_ is not None
                self.validation_scores_.append(math.nan)
            else:
                self._diverged = True
        elif history.stop_reason == "completed" and not incremental:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                "optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=5,
            )

    def _split(self, data: _Rows) -> tuple[_Rows, _Rows, np.ndarray, np.ndarray | None]:
        """MLP's hold-out: train_test_split of the row indices with ``_random_state``,
        stratified on the encoded targets for single-output classification."""
        Y_host = host(data.Y) > 0.5 if self._is_classifier() else host(data.Y)
        stratify = Y_host if self._is_classifier() and self.n_outputs_ == 1 else None
        train_idx, val_idx = train_test_split(
            np.arange(data.n), random_state=self._random_state, test_size=self.validation_fraction, stratify=stratify
        )
        if val_idx.shape[0] < 2:
            msg = "The validation set is too small. Increase 'validation_fraction' or the size of your dataset."
            raise ValueError(msg)
        sw_val = None if data.sw is None else host(data.sw)[val_idx]
        return data.subset(train_idx), data.subset(val_idx), self._validation_targets(Y_host[val_idx]), sw_val

    def _validation_score(self, net: Network, val: _Rows, y_val: np.ndarray, sw_val: np.ndarray | None) -> float:
        X, _, _ = val.full()
        out = host(net.forward_columns(X)[0][-1].T)
        if not np.isfinite(out).all():
            return np.nan
        return self._score_host(out, y_val, sw_val)

    # ------------------------------------------------------------------ lbfgs
    def _fit_lbfgs(self, net: Network, data: _Rows) -> None:
        """scipy's L-BFGS-B on MLP's cost, parameters packed as MLP packs them
        (every coefs_[l] row-major, then every intercepts_[l])."""
        X, Y, s = data.full()
        objective = self._lbfgs_objective(net, X, Y, s)
        iprint = 1 if self.verbose is True or self.verbose >= 1 else -1
        result = scipy.optimize.minimize(
            objective,
            _pack(net),
            method="L-BFGS-B",
            jac=True,
            options={
                "maxfun": self.max_fun,
                "maxiter": self.max_iter,
                "gtol": self.tol,
                **_get_additional_lbfgs_options_dict("iprint", iprint),
            },
        )
        self.n_iter_ = _check_optimize_result("lbfgs", result, self.max_iter)
        self.loss_ = result.fun
        _unpack(net, result.x)

    def _lbfgs_objective(self, net: Network, X: Any, Y: Any, s: Any) -> Any:
        def objective(packed: np.ndarray) -> tuple[float, np.ndarray]:
            _unpack(net, packed)
            loss, grads = self._loss_and_gradients(net, X, Y, s)
            n = len(net.layers)
            parts = [host(grads[f"W{l}"]).T.ravel() for l in range(1, n + 1)]
            parts += [host(grads[f"b{l}"]).ravel() for l in range(1, n + 1)]
            return float(loss), np.hstack(parts)

        return objective

    def _loss_grad_lbfgs(self, packed: np.ndarray, X: Any, y: Any, sample_weight: Any = None, *buffers: Any) -> Any:
        """MLP's cost and packed gradient at ``packed`` (MLP's private hook, kept for its tests)."""
        net = self._build_network(get_backend(self.backend, self.device), _dtype_name(np.asarray(packed)))
        net.loss = MLPReportedLoss(self.out_activation_, net.n_out)
        Y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        sw = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        Xc, Yc, s = _Rows(np.asarray(X, dtype=np.float64), Y, sw, net.backend, "float64").full()
        loss, grad = self._lbfgs_objective(net, Xc, Yc, s)(packed)
        self._store(net)
        return loss, grad

    # ------------------------------------------------------------------ prediction
    @property
    def network_(self) -> Network:
        """The fitted ffnn Network (W^[l] = coefs_[l-1]ᵀ), on the device it trained on."""
        check_is_fitted(self)
        return self._network()

    @property
    def _fit_reference(self) -> Any:
        return self.coefs_[0]

    def _network(self) -> Network:
        """A Network viewing ``coefs_``/``intercepts_`` (no copies) on their device."""
        reference = self.coefs_[0]
        backend = get_backend(self.backend, self.device) if is_host(reference) else backend_of(reference)
        net = self._build_network(backend, _dtype_name(reference), copy=False)
        net.metadata = self._model_record()
        return net

    def _model_record(self) -> dict[str, Any]:
        """What ``network_.save(path)`` keeps of the data, as ``ffnn train --save`` writes it."""
        record: dict[str, Any] = {"task": self._task_name()}
        if hasattr(self, "feature_names_in_"):
            record["feature_names"] = [str(n) for n in self.feature_names_in_]
        return record

    def _task_name(self) -> str:
        return "regression"

    def _forward(self, X: Any, method: str) -> Any:
        """Outputs A^[L] (m, n_outputs_) for X, in X's namespace with array API dispatch, else NumPy."""
        check_is_fitted(self)
        X = as_dispatchable(X)
        X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False, dtype=float_dtypes(X))
        check_same_namespace(X, self, attribute="_fit_reference", method=method)
        net = self._network()
        xp, dt = net.xp, net.backend.dtype(net.dtype)
        parts = []
        for start in range(0, X.shape[0], PREDICT_BATCH_ROWS):
            stop = min(start + PREDICT_BATCH_ROWS, X.shape[0])
            rows = X[start:stop].toarray() if sp.issparse(X) else X[start:stop, ...]
            x = xp.astype(net.backend.asarray(rows), dt, copy=False)
            parts.append(net.forward_columns(x.T)[0][-1].T)
        out = parts[0] if len(parts) == 1 else xp.concat(parts, axis=0)
        return out if dispatch_enabled() and not is_host(X) else host(out)

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.array_api_support = True
        return tags

    # ------------------------------------------------------------------ subclass hooks
    def _is_classifier(self) -> bool:
        return False

    def _validation_targets(self, Y_val: np.ndarray) -> np.ndarray:
        return Y_val


def _hidden_activation(name: str) -> str:
    """ffnn's spec of the hidden activation: MLP's names mapped (logistic → sigmoid,
    identity → linear), any other ffnn activation (leaky_relu(alpha=0.2), elu,
    softplus, silu, gelu …, MATH.md §9) as given.

    Raises
    ------
    ValueError
        An activation neither MLP nor ffnn knows (the message lists ffnn's).
    """
    if name in HIDDEN_ACTIVATIONS:
        return HIDDEN_ACTIVATIONS[name]
    try:
        g = get_activation(name)
    except (TypeError, ValueError) as exc:
        msg = (
            f"The 'activation' parameter of the estimator must be one of {sorted(HIDDEN_ACTIVATIONS)} "
            f"or an ffnn activation: {exc}"
        )
        raise ValueError(msg) from None
    if not g.elementwise:
        msg = f"The 'activation' parameter must be an element-wise activation for hidden layers, got {name!r}"
        raise ValueError(msg)
    return g.spec


def _dtype_name(x: Any) -> str:
    name = str(getattr(x, "dtype", "float64")).rsplit(".", 1)[-1]
    return name if name in ("float32", "float64") else "float64"


def _column_to_vector(b: Any) -> Any:
    return b[:, 0]


def _all_finite(net: Network) -> bool:
    xp = net.xp
    return all(bool(xp.all(xp.isfinite(p))) for p in get_params(net).values())


def _pack(net: Network) -> np.ndarray:
    n = len(net.layers)
    params = get_params(net)
    parts = [host(params[f"W{l}"]).T.ravel() for l in range(1, n + 1)]
    parts += [host(params[f"b{l}"]).ravel() for l in range(1, n + 1)]
    return np.hstack(parts)


def _unpack(net: Network, packed: np.ndarray) -> None:
    """Set the network's parameters from MLP's packed vector (cast to the network's dtype)."""
    backend, start = net.backend, 0
    dt = backend.dtype(net.dtype)
    params = {}
    for l, layer in enumerate(net.layers, start=1):
        end = start + layer.n_in * layer.n_out
        params[f"W{l}"] = backend.xp.astype(
            backend.asarray(packed[start:end].reshape(layer.n_in, layer.n_out).T.copy()), dt
        )
        start = end
    for l, layer in enumerate(net.layers, start=1):
        end = start + layer.n_out
        params[f"b{l}"] = backend.xp.astype(backend.asarray(packed[start:end].reshape(layer.n_out, 1).copy()), dt)
        start = end
    net.set_parameters({k: params[k] for k in net.parameter_names()})
