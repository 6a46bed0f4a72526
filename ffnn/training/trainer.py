"""The training methods every network inherits: fit, evaluate, class predictions.

:class:`Trainer` never imports :mod:`ffnn.network`; :class:`ffnn.Network` subclasses it
(as Keras' models subclass their trainer), so ``net.fit(...)`` needs no import cycle.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._types import Array, GradientHook, Sampler
from .._validation import Interval, positive_int
from ..optimizers import Optimizer, get_optimizer
from .callbacks import Callback, Checkpoint, EarlyStopping
from .evaluation import evaluate, predict_classes, predict_proba
from .history import History, TrainingState
from .loop import (
    Loop,
    check_monitors,
    check_options,
    new_state,
    require_weighted_loss,
    resumable,
    settings_of,
    training_data,
)
from .sampling import ShuffleSampler

if TYPE_CHECKING:
    from backends import Backend

    from ._model import Model

__all__ = ["Trainer", "fit"]


class Trainer:
    """Base class giving a network :meth:`fit`, :meth:`evaluate`,
    :meth:`predict_proba` and :meth:`predict_classes`, and holding what a fit
    leaves behind (:attr:`optimizer`, :attr:`training_state`)."""

    optimizer: Optimizer | None = None
    """The :class:`~ffnn.optimizers.Optimizer` of the last fit (state on this device), or None."""
    training_state: TrainingState | None = None
    """Where the last fit stands (:class:`~ffnn.training.TrainingState`: epoch, history,
    early-stopping state), or None; saved with the optimizer so a fit can resume."""

    def fit(
        self,
        X: Any,
        y: Any,
        /,
        *,
        epochs: int = 10,
        batch_size: int | None = 32,
        optimizer: str | Optimizer = "adam",
        l2: float = 0.0,
        shuffle: bool = True,
        validation_data: tuple[Any, Any] | None = None,
        validation_split: float = 0.0,
        early_stopping: EarlyStopping | int | None = None,
        callbacks: Sequence[Callback | Callable[[dict[str, float]], Any]] = (),
        checkpoint: Checkpoint | str | os.PathLike[str] | None = None,
        verbose: bool = False,
        resume: bool = False,
        sample_weight: Any = None,
        sampler: Sampler | None = None,
        reduce_gradients: GradientHook | None = None,
        compile: bool = False,
    ) -> History:
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
            The stopping rule (monitor, mode, patience, min_delta, restore_best,
            reference); an int is the patience of ``EarlyStopping(patience=...)`` on val_cost.
        callbacks : sequence of Callback or functions f(logs)
        checkpoint : Checkpoint or path, optional
            Save during training (a path saves after every epoch).
        verbose : bool, default False
            A progress bar (tqdm) with cost and accuracy per epoch, on terminals.
        resume : bool, default False
            Continue the fit recorded in :attr:`training_state` (after
            :func:`ffnn.load` of a checkpoint, or an interrupted fit) exactly as if
            it had not stopped; the other arguments must repeat the original call
            (an optimizer equal to the saved one, same class and configuration, is
            accepted; the saved one continues with its state).
        sample_weight : array_like (m,), optional
            Per-example weights s_i ≥ 0: each batch's cost becomes
            J = Σ s_i J0^(i) / Σ s_i (the epoch's train_cost the weighted mean).
            Needs losses that take ``weights=`` (NotImplementedError until then).
        sampler : callable (epoch, m) → permutation, optional
            The order of the rows in each epoch when ``shuffle`` (default:
            :class:`~ffnn.training.ShuffleSampler` of the network's seed, i.e.
            :func:`~ffnn.training.shuffle_order`). It may return None for "in order".
        reduce_gradients : callable, optional
            Applied to every batch's gradients (a dict keyed "W1", "b1", …) between
            backward and the optimizer update, e.g. an all-reduce over processes.
        compile : bool, default False
            Compile the whole training step (forward, cost, backward, update: the same
            equations) with the backend's compiler, ``jax.jit`` for jax and
            ``torch.compile`` for torch (:func:`ffnn.training.compiled_step`); the
            first batch of each batch size compiles. Results agree with the eager step
            within the parity tolerances. Needs a backend with a compiler and no
            ``reduce_gradients`` (ValueError otherwise).

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
        net: Model = self  # type: ignore[assignment]
        epochs = positive_int(epochs, "epochs")
        l2 = Interval(0.0, None).check(l2, "l2", " (the λ of (λ/2m) Σ ‖W‖²)")
        stopper: Any = early_stopping
        if isinstance(early_stopping, int) and not isinstance(early_stopping, bool):
            stopper = EarlyStopping(patience=early_stopping)
        saver = Checkpoint(checkpoint) if isinstance(checkpoint, (str, os.PathLike)) else checkpoint
        hooks = check_options(stopper, saver, callbacks, sampler, reduce_gradients)
        data = training_data(net, X, y, validation_data, validation_split, batch_size, shuffle, sample_weight)
        if data.weights is not None:
            require_weighted_loss(net)
        check_monitors(stopper, saver, data, net.task)
        settings = settings_of(epochs, l2, data, stopper)
        if resume:
            state, opt = resumable(net, optimizer, settings)
            if state.history.stop_reason:
                return state.history
        else:
            opt = get_optimizer(optimizer)
            state = new_state(net.training_state, net.seed, settings)
        opt.bind(net)
        self.optimizer = opt
        self.training_state = state
        loop = Loop(
            net,
            opt,
            state,
            data,
            stopper=stopper,
            saver=saver,
            hooks=hooks,
            l2=l2,
            sampler=sampler or ShuffleSampler(state.shuffle_seed),
            reduce_gradients=reduce_gradients,
            compile=bool(compile),
        )
        loop.run(epochs, verbose)
        return state.history

    def evaluate(self, X: Any, y: Any, *, batch_size: int | None = None) -> dict[str, float | None]:
        """Cost J (P1 (9), no penalty) and accuracy on (X, y), in batches.

        Returns
        -------
        dict
            ``{"cost": float, "accuracy": float or None}`` (None for regression).
        """
        return evaluate(self, X, y, batch_size=batch_size)  # type: ignore[arg-type]

    def predict_proba(self, X: Any, *, batch_size: int | None = None) -> Array:
        """Probabilities of a classifier, shape (m, n_out), backend array, computed in
        batches of ``batch_size`` rows (default 4096).

        Raises
        ------
        ValueError
            The network is a regression (mse) network.
        """
        return predict_proba(self, X, batch_size=batch_size)  # type: ignore[arg-type]

    def predict_classes(self, X: Any, *, batch_size: int | None = None) -> np.ndarray:
        """Class labels as a NumPy int64 array: (m,) argmax for multiclass, (m,) 0/1
        for binary, (m, n_out) 0/1 for multi-label (threshold 0.5).

        Raises
        ------
        ValueError
            The network is a regression (mse) network.
        """
        return predict_classes(self, X, batch_size=batch_size)  # type: ignore[arg-type]

    def _moved_to(self, backend: Backend) -> None:
        """Called by the network after it moved to ``backend``: the optimizer state follows."""
        if self.optimizer is not None:
            self.optimizer.to(backend)


fit = Trainer.fit
"""``fit(net, X, y, **options)``: :meth:`Trainer.fit` as a function (the same signature)."""
