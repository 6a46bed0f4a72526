"""The estimator shared by FFNNClassifier and FFNNRegressor: MLP's parameters, fit,
partial_fit, warm start, the stochastic solvers' epoch driver and L-BFGS."""

from __future__ import annotations

import copy
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
from ..layers import Dense
from ..network import Network
from ._dispatch import as_dispatchable, backend_of, dispatch_enabled, float_dtypes, host, is_host
from ._init import mlp_initial_parameters
from ._losses import Exp, l2_gradient, l2_penalty, mlp_loss
from ._optim import MLPSGD, MLPAdam
from ._sampler import MLPSampler, batch_slices
from ._stopping import MLPStopping

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
_OUTPUT_ACTIVATIONS = {"identity": "linear", "logistic": "sigmoid", "softmax": "softmax", "exp": Exp()}
_STOCHASTIC = ("sgd", "adam", "adamw")
_DRIVER_APPLIES_DROPOUT = False
"""Whether the epoch driver passes dropout masks to the step (True once it runs on
ffnn.training's loop, which draws them: MATH.md §8, ffnn.dropout)."""
PREDICT_BATCH_ROWS = 4096


class _FFNNSolver:
    """An ffnn optimizer object (an extension of ``solver``) behind the functional
    interface of :mod:`._optim`: it updates the network it is bound to."""

    def __init__(self, optimizer: optimizers.Optimizer, net: Network) -> None:
        self.optimizer, self.net = optimizer, net

    def init(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"learning_rate": self.optimizer.learning_rate_at(0)}

    def update(self, params: dict[str, Any], grads: dict[str, Any], state: dict[str, Any]) -> tuple[dict, dict]:
        n = len(self.net.layers)
        self.optimizer.step(self.net, [(grads[f"W{l}"], grads[f"b{l}"]) for l in range(1, n + 1)])
        state["learning_rate"] = self.optimizer.learning_rate_at(self.optimizer.iterations)
        return get_params(self.net), state

    def epoch_end(self, state: dict[str, Any], samples_seen: int) -> dict[str, Any]:
        return state

    def on_plateau(self, state: dict[str, Any], message: str = "", *, verbose: bool = False) -> bool:
        if verbose:
            print(message + " Stopping.")
        return True


class _SolverRun:
    """A solver and its state, kept between fit and partial_fit calls (``_optimizer``)."""

    def __init__(self, solver: Any, params: dict[str, Any]) -> None:
        self.solver = solver
        self.state = solver.init(params)

    @property
    def learning_rate(self) -> float:
        """The current learning rate (MLP's ``_optimizer.learning_rate``)."""
        return self.state["learning_rate"]


def get_params(net: Network) -> dict[str, Any]:
    """The network's parameters keyed by name: {"W1": W^[1], "b1": b^[1], …} (not copies)."""
    out = {}
    for l, layer in enumerate(net.layers, start=1):
        out[f"W{l}"], out[f"b{l}"] = layer.W, layer.b
    return out


def set_params(net: Network, params: dict[str, Any]) -> None:
    """Bind ``params`` (keyed as :func:`get_params`) to the network's layers (no copies)."""
    for l, layer in enumerate(net.layers, start=1):
        layer.W, layer.b = params[f"W{l}"], params[f"b{l}"]


def backward_from_seed(net: Network, cache: list[Any], dZ: Any) -> dict[str, Any]:
    """ffnn's backward pass (P1 (15)/(16)/(22), P2) from a given output seed dZ^[L].

    The same layer rules as :meth:`ffnn.Network.backward_columns`, which computes its
    seed from the network's loss; MLP seeds (Ŷ − Y) ⊙ s / Σs with sample weights s,
    which the core will offer as ``backward_columns(cache, Y, weights=s)``.
    """
    xp, layers = net.xp, net.layers
    grads: dict[str, Any] = {}
    for l in range(len(layers) - 1, 0, -1):
        grads[f"W{l + 1}"], grads[f"b{l + 1}"], dA = layers[l].backward(dZ, cache[l], xp=xp)
        dZ = layers[l - 1].activation_backward(cache[l], dA, xp=xp, Z=getattr(cache, "z", {}).get(l), in_place=True)
    grads["W1"], grads["b1"], _ = layers[0].backward(dZ, cache[0], xp=xp, need_input_grad=False)
    return grads


def _copies(params: dict[str, Any], xp: Any) -> dict[str, Any]:
    return {k: xp.asarray(v, copy=True) for k, v in params.items()}


class _Rows:
    """Training rows on the network's device: dense X moved once, sparse X densified per
    batch; targets Y (m, n_out) and sample weights (m,) follow X."""

    def __init__(self, X: Any, Y: np.ndarray, sw: np.ndarray | None, backend: Backend, dtype: str) -> None:
        self.backend, self.xp = backend, backend.xp
        self.dtype = backend.dtype(dtype)
        self.sparse = sp.issparse(X)
        self.X = X if self.sparse else self._put(X)
        self.Y = self._put(Y)
        self.sw = None if sw is None else self._put(sw)
        self.n = X.shape[0]

    def _put(self, a: Any) -> Any:
        return self.xp.astype(self.backend.asarray(a), self.dtype, copy=False)

    def subset(self, index: np.ndarray) -> _Rows:
        """The rows ``index`` (host ints) as a new _Rows."""
        sub = copy.copy(self)
        ix = self.backend.asarray(index)
        sub.X = self.X[index] if self.sparse else self.xp.take(self.X, ix, axis=0)
        sub.Y = self.xp.take(self.Y, ix, axis=0)
        sub.sw = None if self.sw is None else self.xp.take(self.sw, ix, axis=0)
        sub.n = int(index.shape[0])
        return sub

    def batch(self, start: int, stop: int, order: np.ndarray | None, order_dev: Any) -> tuple[Any, Any, Any]:
        """(X, Y, s) of rows order[start:stop] (or start:stop), X and Y as columns, s as a (1, m) row."""
        xp = self.xp
        if order is None:
            X = self.X[start:stop] if self.sparse else self.X[start:stop, :]
            Y, s = self.Y[start:stop, :], None if self.sw is None else self.sw[start:stop]
        else:
            ix = order_dev[start:stop]
            X = self.X[order[start:stop]] if self.sparse else xp.take(self.X, ix, axis=0)
            Y, s = xp.take(self.Y, ix, axis=0), None if self.sw is None else xp.take(self.sw, ix, axis=0)
        if self.sparse:
            X = self._put(X.toarray())
        return X.T, Y.T, None if s is None else xp.reshape(s, (1, -1))

    def full(self) -> tuple[Any, Any, Any]:
        return self.batch(0, self.n, None, None)


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
        if net.dropout and not _DRIVER_APPLIES_DROPOUT:
            msg = (
                "dropout= is validated and stored in network_, but this estimator's epoch driver does not apply "
                "masks yet (it will on ffnn's shared training loop); train ffnn.Network(..., dropout=...) meanwhile"
            )
            raise NotImplementedError(msg)
        data = _Rows(X, Y, sample_weight, backend, dtype)
        self._loss = mlp_loss(self._loss_name(), self.out_activation_)
        if self.solver == "lbfgs":
            self._fit_lbfgs(net, data)
        else:
            self._fit_stochastic(net, data, incremental)
        self._store(net)
        if not _all_finite(net):
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
            self.loss_curve_ = []
            self._no_improvement_count = 0
            rule = MLPStopping.fresh(self.tol, self.n_iter_no_change, self.early_stopping)
            self.validation_scores_ = rule.scores
            self.best_validation_score_ = rule.best_score
            self.best_loss_ = rule.best_loss

    def _build_network(self, backend: Backend, dtype: str, *, copy: bool = True) -> Network:
        """An ffnn Network holding ``coefs_``/``intercepts_`` (W^[l] = coefs_[l-1]ᵀ) on ``backend``."""
        hidden = _hidden_activation(self.activation)
        output = _OUTPUT_ACTIVATIONS[self.out_activation_]
        shapes = [tuple(c.shape) for c in self.coefs_]
        layers = [Dense(a, b, activation=hidden) for a, b in shapes[:-1]]
        layers.append(Dense(*shapes[-1], activation=output))
        net = Network(
            layers, loss=_ffnn_loss(self.out_activation_), backend=backend, dtype=dtype, seed=0, dropout=self.dropout
        )
        xp, dt = backend.xp, backend.dtype(dtype)
        params = {}
        for l, (coef, intercept) in enumerate(zip(self.coefs_, self.intercepts_), start=1):
            W = backend.asarray(coef if is_host(coef) or backend.owns(coef) else host(coef))
            b = backend.asarray(intercept if is_host(intercept) or backend.owns(intercept) else host(intercept))
            params[f"W{l}"] = xp.asarray(xp.astype(W.T, dt), copy=copy)
            params[f"b{l}"] = xp.asarray(xp.astype(xp.reshape(b, (-1, 1)), dt), copy=copy)
        set_params(net, params)
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
        """MLP's cost (with the L2 term) and its gradients for one batch (X, Y columns, s row)."""
        xp = net.xp
        cache, _ = net.forward_columns(X)
        A = cache[-1]
        denominator = X.shape[1] if s is None else xp.sum(s)
        params = get_params(net)
        weights = [p for k, p in params.items() if k.startswith("W")]
        loss = self._loss.value(A, Y, s, xp=xp) + l2_penalty(weights, float(self.alpha), denominator, xp=xp)
        grads = backward_from_seed(net, cache, self._loss.seed(A, Y, s, xp=xp))
        l2_gradient(grads, params, float(self.alpha), denominator)
        return loss, grads

    # ------------------------------------------------------------------ sgd / adam
    def _new_solver(self, net: Network) -> Any:
        if isinstance(self.solver, optimizers.Optimizer) or self.solver == "adamw":
            opt = (
                copy.deepcopy(self.solver)
                if isinstance(self.solver, optimizers.Optimizer)
                else optimizers.OPTIMIZERS.get("adamw")(float(self.learning_rate_init))
            )
            return _FFNNSolver(opt, net)
        if self.solver == "sgd":
            return MLPSGD(
                self.learning_rate_init,
                self.learning_rate,
                momentum=self.momentum,
                nesterov=self.nesterovs_momentum,
                power_t=self.power_t,
                backend=net.backend,
            )
        return MLPAdam(
            self.learning_rate_init, beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon, backend=net.backend
        )

    def _fit_stochastic(self, net: Network, data: _Rows, incremental: bool) -> None:
        """MLP's epochs. (A small driver; the shared ffnn training loop takes these
        components — sampler, solver, stopping rule, gradient hook — once it has them.)"""
        xp = net.xp
        params = get_params(net)
        if not incremental or not hasattr(self, "_optimizer"):
            self._optimizer = _SolverRun(self._new_solver(net), params)
        run = self._optimizer
        if isinstance(run.solver, _FFNNSolver):
            run.solver.net = net
        if self.early_stopping and incremental:
            msg = "partial_fit does not support early_stopping=True"
            raise ValueError(msg)
        early_stopping = self.early_stopping
        if getattr(self, "_best_params", None) is None:
            self._best_params = _copies(params, xp)
        train, val = data, None
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
        rule = MLPStopping(
            self.tol,
            self.n_iter_no_change,
            early_stopping,
            best_loss=getattr(self, "best_loss_", None),
            best_score=getattr(self, "best_validation_score_", None),
            scores=getattr(self, "validation_scores_", None),
            count=getattr(self, "_no_improvement_count", 0),
        )
        sampler = MLPSampler(self._random_state, n, shuffle=self.shuffle)
        slices = batch_slices(n, batch_size)
        self.n_iter_ = 0
        try:
            for _ in range(self.max_iter):
                order = sampler.next_epoch()
                order_dev = None if order is None else net.backend.asarray(order)
                total = None
                for start, stop in slices:
                    Xb, Yb, sb = train.batch(start, stop, order, order_dev)
                    loss, grads = self._loss_and_gradients(net, Xb, Yb, sb)
                    total = loss * (stop - start) if total is None else total + loss * (stop - start)
                    params, run.state = run.solver.update(params, grads, run.state)
                    set_params(net, params)
                self.n_iter_ += 1
                self.loss_ = float(total) / n
                self.t_ += n
                self.loss_curve_.append(self.loss_)
                if self.verbose:
                    print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
                score = self._validation_score(net, val, y_val, sw_val) if early_stopping else None
                if rule.update(self.loss_, score):
                    self._best_params = _copies(params, xp)
                if early_stopping and self.verbose:
                    print(f"Validation score: {score:f}")
                self.best_loss_, self.best_validation_score_ = rule.best_loss, rule.best_score
                self._no_improvement_count = rule.count
                run.state = run.solver.epoch_end(run.state, self.t_)
                if rule.plateau:
                    what = "Validation score" if early_stopping else "Training loss"
                    message = (
                        f"{what} did not improve more than tol={self.tol:f} for "
                        f"{self.n_iter_no_change} consecutive epochs."
                    )
                    if run.solver.on_plateau(run.state, message, verbose=bool(self.verbose)):
                        break
                    rule.count = self._no_improvement_count = 0
                if incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warnings.warn(
                        f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                        "optimization hasn't converged yet.",
                        ConvergenceWarning,
                        stacklevel=5,
                    )
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.", stacklevel=5)
        if early_stopping:
            if self._best_params != "live":
                set_params(net, self._best_params)
            # MLP keeps its best weights as the live ones: a later warm start trains them in place.
            self._best_params = "live"
        elif self._best_params == "live":
            self._best_params = _copies(get_params(net), xp)

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
        self._loss = mlp_loss(self._loss_name(), self.out_activation_)
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

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        if isinstance(state.get("_optimizer"), _SolverRun) and isinstance(state["_optimizer"].solver, _FFNNSolver):
            run = copy.copy(state["_optimizer"])
            run.solver = copy.copy(run.solver)
            run.solver.net = None
            state["_optimizer"] = run
        return state

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


def _ffnn_loss(out_activation: str) -> Any:
    """ffnn's loss for the output (what ``network_.save`` records); Poisson has none in the core."""
    names = {"identity": "mse", "logistic": "binary_crossentropy", "softmax": "categorical_crossentropy"}
    return names.get(out_activation, "mse")


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
    set_params(net, params)
