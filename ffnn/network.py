"""The feedforward network: forward P1 (5)/(6), cost P1 (9), backward P1 (15)(16)(22)."""

from __future__ import annotations

import copy
from typing import Any, Sequence

import numpy as np

from backends import Backend, get_backend

from ._validation import as_inputs, as_targets
from .layers import Dense
from .losses import Loss, get_loss

__all__ = ["Network"]

Gradients = list[tuple[Any, Any]]

PREDICT_BATCH_SIZE = 4096
"""Rows per forward pass in :meth:`Network.predict` and evaluation (bounds memory)."""


class Network:
    """A stack of :class:`~ffnn.Dense` layers with a cost, living on one backend.

    The public methods take samples as ROWS, (m, n_features), like NumPy,
    scikit-learn and PyTorch; inside, every equation uses the seeds' column layout
    (MATH.md §1), reached by a transpose view.

    Parameters
    ----------
    layers : sequence of Dense
        Consecutive sizes must chain: ``layers[i].n_out == layers[i+1].n_in``.
    loss : str or Loss, default "mse"
        mse, binary_crossentropy, categorical_crossentropy.
    backend : str or Backend, default "auto"
        See :func:`backends.get_backend`.
    device : str, optional
        ``"cpu"``, ``"gpu"``, ``"cuda:N"``.
    dtype : {"float32", "float64"}
    seed : int, optional
        Seeds the host Generator that draws the initial weights; the same seed gives
        bit-identical weights on every backend.
    fuse_output : bool, default True
        Use the exact fused dJ/dZ^[L] and the stable cost-from-Z when the output
        activation matches the loss (sigmoid+BCE, softmax+CCE, linear+MSE).
        ``False`` forces the general path: seed dJ/dA^[L], then P2's backward.

    Raises
    ------
    ValueError
        Empty or non-chaining layers, bad dtype, unknown loss/backend names, or a
        cross-entropy loss after an output activation whose values can leave (0, 1)
        (relu, tanh, linear).
    TypeError
        A layer that is not a Dense.
    """

    def __init__(
        self,
        layers: Sequence[Dense],
        *,
        loss: str | Loss = "mse",
        backend: str | Backend = "auto",
        device: Any = None,
        dtype: str = "float32",
        seed: int | None = None,
        fuse_output: bool = True,
    ) -> None:
        self.layers = list(layers)
        _check_layers(self.layers)
        self.loss = get_loss(loss)
        _check_pairing(self.layers[-1].activation.name, self.loss.name)
        self.backend = get_backend(backend, device)
        self._dtype = self.backend.dtype(dtype)
        self.dtype = dtype
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            msg = f"seed must be a non-negative integer or None, got {seed!r}"
            raise ValueError(msg)
        self.seed = seed
        self.fuse_output = bool(fuse_output)
        rng = np.random.default_rng(seed)
        self.set_weights([p for layer in self.layers for p in layer.initial_parameters(rng, dtype)])

    # ------------------------------------------------------------------ properties
    @property
    def xp(self) -> Any:
        """The backend's Array API namespace."""
        return self.backend.xp

    @property
    def n_in(self) -> int:
        """n^[0], the number of input features."""
        return self.layers[0].n_in

    @property
    def n_out(self) -> int:
        """n^[L], the number of outputs."""
        return self.layers[-1].n_out

    @property
    def n_params(self) -> int:
        """Number of trainable scalars, Σ n^[l](n^[l-1] + 1)."""
        return sum(layer.n_out * (layer.n_in + 1) for layer in self.layers)

    @property
    def fused(self) -> bool:
        """Whether the output/cost pair takes the fused gradient (MATH.md §4)."""
        return self.fuse_output and self.layers[-1].activation.name == self.loss.fused_activation

    # ------------------------------------------------------------------ parameters
    def parameters(self) -> list[Any]:
        """[W^[1], b^[1], …, W^[L], b^[L]] as arrays of the backend (not copies)."""
        return [p for layer in self.layers for p in (layer.W, layer.b)]

    def get_weights(self) -> list[np.ndarray]:
        """Host (NumPy) copies of :meth:`parameters`."""
        return [self.backend.to_numpy(p).copy() for p in self.parameters()]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Replace every parameter by copies of ``weights`` ([W1, b1, …]; any
        array-like), cast to the network's dtype and moved to its device. Training
        never writes into the caller's arrays.

        Raises
        ------
        ValueError
            Wrong count or shape (the message names the parameter).
        """
        if len(weights) != 2 * len(self.layers):
            msg = f"expected {2 * len(self.layers)} arrays [W1, b1, ...], got {len(weights)}"
            raise ValueError(msg)
        new = []
        for i, layer in enumerate(self.layers):
            for j, (label, shape) in enumerate((("W", (layer.n_out, layer.n_in)), ("b", (layer.n_out, 1)))):
                value = weights[2 * i + j]
                host = value if hasattr(value, "shape") else np.asarray(value)
                array = self.backend.asarray(host, dtype=self._dtype, copy=True)  # never alias the caller's array
                if tuple(array.shape) != shape:
                    msg = f"{label}^[{i + 1}] must have shape {shape}, got {tuple(array.shape)}"
                    raise ValueError(msg)
                new.append(array)
        for i, layer in enumerate(self.layers):
            layer.W, layer.b = new[2 * i], new[2 * i + 1]

    def copy(self, *, backend: str | Backend | None = None, device: Any = None, dtype: str | None = None) -> Network:
        """A copy of the architecture, parameters and :attr:`metadata`, optionally on
        another backend/device or in another dtype. The optimizer and training state
        are not copied (use :meth:`to` to move a network with them)."""
        layers = [Dense(la.n_in, la.n_out, activation=la.activation, init=la.init) for la in self.layers]
        target = self.backend if backend is None and device is None else get_backend(backend or self.backend.name, device)
        clone = Network(
            layers, loss=self.loss, backend=target, dtype=dtype or self.dtype, seed=self.seed, fuse_output=self.fuse_output
        )
        clone.set_weights(self.get_weights())
        clone.metadata = copy.deepcopy(self.metadata)
        return clone

    # ------------------------------------------------------------------ column-layout core
    def forward_columns(self, X: Any, /) -> tuple[list[Any], Any]:
        """Forward pass in the seeds' layout: P1 (5)/(6) for l = 1..L.

        ``X`` is A^[0], shape (n^[0], m), already on the backend. Returns the cache
        [A^[0], …, A^[L]] (what backward needs) and Z^[L] (for the fused cost).
        """
        xp = self.xp
        cache = [X]
        Z = X
        for layer in self.layers:
            Z, A = layer.forward(cache[-1], xp=xp)
            cache.append(A)
        return cache, Z

    def cost_columns(self, cache: list[Any], Z_L: Any, Y: Any, /) -> Any:
        """P1 (9): J = f(A^[L], Y) as a 0-d array; from Z^[L] on the fused path."""
        if self.fused:
            return self.loss.cost_from_logits(Z_L, Y, xp=self.xp)
        return self.loss.cost(cache[-1], Y, xp=self.xp)

    def backward_columns(self, cache: list[Any], Y: Any, /, *, release_cache: bool = False) -> Gradients:
        """Backward pass in the seeds' layout, l = L..1.

        Seeds dJ/dZ^[L] with the fused (1/m)(A − Y) rule, or with the loss's
        dJ/dA^[L] followed by g^[L]'s P2 backward; then P1 (15)/(16)/(22) and P2
        per layer. dJ/dX is never computed. Returns [(dW^[l], db^[l])] for l = 1..L.

        Each dJ/dA^[l-1] = W^[l]ᵀ dJ/dZ^[l] is a fresh array that becomes dJ/dZ^[l-1]
        in place, and dJ/dZ^[l] is released as soon as it is used: the pass holds one
        (n, m) gradient at a time besides the cache.

        Parameters
        ----------
        cache : list
            [A^[0], …, A^[L]] from :meth:`forward_columns`.
        Y : array (n^[L], m)
        release_cache : bool, default False
            Consume the cache: set ``cache[l]`` to None for l = 1..L−1 as soon as
            A^[l] has been used, which lowers the peak memory of a training step by
            up to the size of the hidden activations. A^[0] and A^[L] are kept.
        """
        xp = self.xp
        layers = self.layers
        A_L = cache[-1]
        if self.fused:
            dZ = self.loss.fused_gradient(A_L, Y, xp=xp)
        else:
            dZ = layers[-1].activation.backward(A_L, self.loss.gradient(A_L, Y, xp=xp), xp=xp)
        grads: Gradients = [None] * len(layers)  # type: ignore[list-item]
        for l in range(len(layers) - 1, 0, -1):
            dW, db, dZ = layers[l].backward(dZ, cache[l], xp=xp)
            grads[l] = (dW, db)
            dZ = layers[l - 1].activation.backward_in_place(cache[l], dZ, xp=xp)
            if release_cache:
                cache[l] = None
        dW, db, _ = layers[0].backward(dZ, cache[0], xp=xp, need_input_grad=False)
        grads[0] = (dW, db)
        return grads

    # ------------------------------------------------------------------ public, samples as rows
    def inputs(self, X: Any, /) -> Any:
        """Validate X (m, n_in) and move it to the network's backend and dtype."""
        return as_inputs(X, self.backend, self.dtype, self.n_in)

    def targets(self, Y: Any, m: int, /) -> Any:
        """Validate targets for m examples and return them as (m, n_out) on the backend
        (class labels one-hot encoded for categorical cross-entropy)."""
        return as_targets(Y, self.backend, self.dtype, self.loss.name, self.n_out, m)

    def predict(self, X: Any, /, *, batch_size: int | None = PREDICT_BATCH_SIZE) -> Any:
        """Network outputs Ŷ = A^[L] for inputs X.

        Parameters
        ----------
        X : array_like, shape (m, n_in)
        batch_size : int or None, default 4096
            Evaluate this many rows at a time, so large inputs never hold every
            layer's activations at once; ``None`` evaluates all rows in one pass.

        Returns
        -------
        array of the backend, shape (m, n_out)
        """
        x = self.inputs(X)
        m = x.shape[0]
        step = m if batch_size is None else _positive(batch_size, "batch_size")
        parts = [self.forward_columns(x[i : min(i + step, m), :].T)[0][-1].T for i in range(0, m, step)]
        return parts[0] if len(parts) == 1 else self.xp.concat(parts, axis=0)

    def cost(self, X: Any, Y: Any, /) -> float:
        """J (P1 (9)) of the whole batch (X, Y) as a Python float."""
        x = self.inputs(X)
        y = self.targets(Y, x.shape[0])
        cache, Z_L = self.forward_columns(x.T)
        return float(self.cost_columns(cache, Z_L, y.T))

    def loss_and_gradients(self, X: Any, Y: Any, /) -> tuple[float, Gradients]:
        """Cost and gradients at the current parameters, by backpropagation.

        Parameters
        ----------
        X : array_like, shape (m, n_in)
        Y : array_like, shape (m, n_out), or (m,) (see :meth:`targets`)

        Returns
        -------
        cost : float
            J, the mean over the m examples.
        grads : list of (dW, db)
            ``grads[l]`` has the shapes of (W, b) of ``layers[l]``:
            P1 (15) dJ/dW = dJ/dZ A^[l-1]ᵀ and P1 (16) dJ/db = Σ_{axis=1} dJ/dZ.
        """
        x = self.inputs(X)
        y = self.targets(Y, x.shape[0])
        cache, Z_L = self.forward_columns(x.T)
        cost = self.cost_columns(cache, Z_L, y.T)
        return float(cost), self.backward_columns(cache, y.T)

    def __repr__(self) -> str:
        inner = ", ".join(repr(layer) for layer in self.layers)
        return (
            f"Network([{inner}], loss={self.loss.name!r}, backend={self.backend.name!r}, "
            f"device={self.backend.device_name!r}, dtype={self.dtype!r})"
        )

    # ------------------------------------------------------------------ training and files
    # Thin delegations to ffnn.training and ffnn.serialization (imported on use).
    optimizer: Any = None
    """The :class:`~ffnn.optimizers.Optimizer` of the last fit (state on this device), or None."""
    training_state: Any = None
    """Where the last fit stands (:class:`~ffnn.training.TrainingState`: epoch, history,
    early-stopping state), or None; saved with the optimizer so a fit can resume."""

    @property
    def metadata(self) -> dict[str, Any]:
        """Your own facts about this network (class names, feature names, provenance…):
        a dict, ``{}`` until set. :meth:`save` stores it in the file (it must then be
        JSON-ready) and :func:`ffnn.load` restores it.

        Raises
        ------
        TypeError
            Setting it to something other than a dict.
        """
        return self.__dict__.setdefault("_metadata", {})

    @metadata.setter
    def metadata(self, value: dict[str, Any]) -> None:
        if not isinstance(value, dict):
            msg = f"metadata must be a dict, got {type(value).__name__}"
            raise TypeError(msg)
        self._metadata = value

    @property
    def task(self) -> str:
        """"multiclass" (categorical cross-entropy), "binary" / "multilabel" (binary
        cross-entropy with one / several outputs) or "regression" (mse)."""
        from .metrics import task_of

        return task_of(self.loss.name, self.n_out)

    def fit(
        self,
        X: Any,
        y: Any,
        *,
        epochs: int = 10,
        batch_size: int | None = 32,
        optimizer: Any = "adam",
        l2: float = 0.0,
        shuffle: bool = True,
        validation_data: tuple[Any, Any] | None = None,
        validation_split: float = 0.0,
        early_stopping: Any = None,
        callbacks: Sequence[Any] = (),
        checkpoint: Any = None,
        verbose: bool = False,
        resume: bool = False,
    ) -> Any:
        """Train by mini-batch gradient descent (P1 forward/backward, then the optimizer).

        Each epoch visits every example once, in mini-batches of ``batch_size`` rows
        (the last, smaller batch is used too), in the order :func:`ffnn.training.shuffle_order`
        draws on the host from the network's seed and the epoch's number counted over
        all of this network's fits (identical on every backend). The count starts at 0
        for a new network and continues from one call to the next (it is
        ``training_state.epochs_trained``, saved with the training state): repeated
        calls draw new permutations, and k calls with ``epochs=1`` and the same
        optimizer object train exactly as one call with ``epochs=k``. The data move to
        the device once per call; costs and hits accumulate on the device and are read
        once per epoch.

        Parameters
        ----------
        X : array_like, shape (m, n_in)
            NumPy, nested lists, or arrays of this network's backend and device.
        y : array_like
            Integer class labels (m,) (one-hot encoded) or (m, n_out) probabilities
            for categorical cross-entropy; 0/1 labels (m,) or (m, n_out) for binary
            cross-entropy (multi-label too); real targets for mse.
        epochs : int, default 10
            Epochs to run in total (with ``resume``, including those already run).
        batch_size : int or None, default 32
            Rows per update; None or a size ≥ m gives full-batch descent.
        optimizer : {"adam", "sgd", "adamw"} or Optimizer, default "adam"
            A name gives that optimizer with default settings.
        l2 : float, default 0
            λ: J + (λ/2m) Σ ‖W^[l]‖², dW^[l] + (λ/m) W^[l] (m = batch size).
        shuffle : bool, default True
        validation_data : (X_val, y_val), optional
        validation_split : float, default 0
            Fraction of the LAST rows of X/y held out for validation (before shuffling).
        early_stopping : EarlyStopping or int, optional
            An int is the patience of ``EarlyStopping(patience=...)`` on val_cost.
        callbacks : sequence of Callback or functions f(logs)
        checkpoint : Checkpoint or path, optional
            Save during training (a path saves after every epoch).
        verbose : bool, default False
            A progress bar (tqdm) with cost and accuracy per epoch, on terminals.
        resume : bool, default False
            Continue the fit recorded in :attr:`training_state` (after
            :func:`ffnn.load` of a checkpoint, or an interrupted fit) exactly as if
            it had not stopped; the other arguments must repeat the original call.

        Returns
        -------
        History
            Per-epoch ``train_cost``, ``val_cost``, ``train_accuracy``,
            ``val_accuracy`` (Python floats), ``epochs`` and ``stop_reason``.

        Raises
        ------
        ValueError
            Bad data (see :meth:`inputs`, :meth:`targets`), non-positive epochs or
            batch_size, negative l2, both or a bad validation split, monitoring
            val_cost without validation data, an unknown optimizer name, an optimizer
            holding another network's state, or a ``resume`` that does not match the
            saved fit.
        TypeError
            Wrong kinds of options (optimizer, early_stopping, checkpoint, callbacks,
            validation_data).

        Notes
        -----
        A non-finite cost or weight ends training (``stop_reason == "diverged"``)
        with the weights and optimizer state of the last finite epoch.
        """
        from .training import fit

        return fit(
            self,
            X,
            y,
            epochs=epochs,
            batch_size=batch_size,
            optimizer=optimizer,
            l2=l2,
            shuffle=shuffle,
            validation_data=validation_data,
            validation_split=validation_split,
            early_stopping=early_stopping,
            callbacks=callbacks,
            checkpoint=checkpoint,
            verbose=verbose,
            resume=resume,
        )

    def predict_proba(self, X: Any, *, batch_size: int | None = None) -> Any:
        """Probabilities of a classifier, shape (m, n_out), backend array, computed in
        batches of ``batch_size`` rows (default 4096).

        Raises
        ------
        ValueError
            The network is a regression (mse) network.
        """
        from .training import predict_proba

        return predict_proba(self, X, batch_size=batch_size)

    def predict_classes(self, X: Any, *, batch_size: int | None = None) -> np.ndarray:
        """Class labels as a NumPy int64 array: (m,) argmax for multiclass, (m,) 0/1
        for binary, (m, n_out) 0/1 for multi-label (threshold 0.5).

        Raises
        ------
        ValueError
            The network is a regression (mse) network.
        """
        from .training import predict_classes

        return predict_classes(self, X, batch_size=batch_size)

    def evaluate(self, X: Any, y: Any, *, batch_size: int | None = None) -> dict[str, float | None]:
        """Cost J (P1 (9), no penalty) and accuracy on (X, y), in batches.

        Returns
        -------
        dict
            ``{"cost": float, "accuracy": float or None}`` (None for regression).
        """
        from .training import evaluate

        return evaluate(self, X, y, batch_size=batch_size)

    def to(self, backend: str | Backend, device: Any = None) -> Network:
        """Move this network (in place) to another backend/device and return it;
        parameters and optimizer state go along, values and dtype unchanged.
        Use :meth:`copy` for a copy instead.

        Raises
        ------
        ValueError, BackendUnavailableError
            As for :func:`backends.get_backend`.
        """
        target = get_backend(backend, device)
        if target != self.backend:
            weights = self.get_weights()
            self.backend, self._dtype = target, target.dtype(self.dtype)
            self.set_weights(weights)
            if self.optimizer is not None:
                self.optimizer.to(target)
        return self

    def save(
        self,
        path: Any,
        *,
        include_optimizer: bool = True,
        metadata: dict[str, Any] | None = None,
        overwrite: bool = False,
    ) -> str:
        """Write the network to ``path`` (.npz + JSON metadata, atomically); see
        :func:`ffnn.serialization.save`. Read it back with :func:`ffnn.load`.

        ``metadata`` (default: this network's :attr:`metadata`) is stored in the file
        and becomes the loaded network's :attr:`metadata`.

        Raises
        ------
        FileExistsError
            ``path`` exists and ``overwrite`` is False, or it is not an ffnn model
            file (never replaced).
        TypeError
            ``metadata`` is not a dict of JSON-ready values with string keys.
        """
        from .serialization import save

        chosen = self.metadata if metadata is None else metadata
        return save(self, path, include_optimizer=include_optimizer, metadata=chosen, overwrite=overwrite)


def _positive(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        msg = f"{name} must be a positive integer, got {value!r}"
        raise ValueError(msg)
    return int(value)


_PROBABILITY_OUTPUTS = {
    "binary_crossentropy": ("sigmoid", "softmax"),
    "categorical_crossentropy": ("softmax", "sigmoid"),
}


def _check_pairing(activation: str, loss: str) -> None:
    """Cross-entropies take logs of Ŷ and 1 − Ŷ: the output must lie in (0, 1)."""
    allowed = _PROBABILITY_OUTPUTS.get(loss)
    if allowed and activation not in allowed:
        msg = (
            f"{loss} needs outputs in (0, 1), but the output layer uses {activation}; "
            f"use a {' or '.join(allowed)} output layer, or loss='mse'"
        )
        raise ValueError(msg)


def _check_layers(layers: list[Dense]) -> None:
    if not layers:
        msg = "a Network needs at least one Dense layer"
        raise ValueError(msg)
    for i, layer in enumerate(layers):
        if not isinstance(layer, Dense):
            msg = f"layer {i} is a {type(layer).__name__}; Network takes ffnn.Dense layers"
            raise TypeError(msg)
        if i and layers[i - 1].n_out != layer.n_in:
            msg = (
                f"layer {i} expects {layer.n_in} inputs but layer {i - 1} has {layers[i - 1].n_out} outputs; "
                f"make Dense({layers[i - 1].n_out}, ...) follow Dense(..., {layers[i - 1].n_out})"
            )
            raise ValueError(msg)
