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
from ..distributed import abort_on_failure
from ..optimizers import Optimizer, get_optimizer
from .callbacks import Callback, Checkpoint, EarlyStopping
from .evaluation import evaluate as evaluate_arrays
from .evaluation import predict_classes, predict_proba
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
from .parallel import Parallel, communicator_for, evaluate_rows, is_rows, row_data
from .sampling import ShuffleSampler

if TYPE_CHECKING:
    from backends import Backend

    from ._model import Model

__all__ = ["Trainer", "fit"]

_NON_NEGATIVE = Interval(0.0, None)
"""``l2``'s constraint, made once (fit checks it at every call)."""


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
        distributed: Any = None,
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
            Integer weights train exactly as the rows repeated that many times
            (with full batches).
        sampler : callable (epoch, m) → permutation, optional
            The order of the rows in each epoch when ``shuffle`` (default:
            :class:`~ffnn.training.ShuffleSampler` of the network's seed, i.e.
            :func:`~ffnn.training.shuffle_order`). It may return None for "in order".
        reduce_gradients : callable, optional
            Applied to every batch's gradients (a dict keyed "W1", "b1", …) between
            backward and the optimizer update, e.g. an all-reduce over processes.
        distributed : None, True, {"auto", "mpi", "nccl"} or Communicator, optional
            Data-parallel training over the ranks of ``mpiexec -n N`` (see
            :mod:`ffnn.training.parallel`): ``batch_size`` is the global batch, each
            rank computes its share of every batch, gradients are summed in one
            all-reduce, per-epoch numbers are all-reduced, so N ranks reproduce one
            up to rounding and stop together; checkpoints are written by rank 0.
            Every rank calls fit with the same network (seed), data and options.
            ``"auto"``/True picks NCCL for CuPy on GPUs, MPI otherwise (one rank:
            no communication). X (and y, and validation inputs) may also be a NumPy
            memory map or the path of a ``.npy`` file, with or without this option:
            only each batch's rows (this rank's share) are read.
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
            ``val_accuracy`` (classifiers) or ``train_r2``, ``train_mae``,
            ``train_rmse`` and the ``val_`` ones (regression), as Python floats;
            ``epochs`` and ``stop_reason``.

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
        A non-finite cost, weight or optimizer-state entry ends training
        (``stop_reason == "diverged"``) with the weights and optimizer state of the
        last finite epoch. After every fit the parameters, the optimizer state and
        the predictions on the training inputs are finite; when no epoch of the fit
        gives that, :class:`~ffnn.training.DivergedError` (a ValueError) is raised
        with the network back at its weights from before the fit. A fit refuses to
        start from non-finite weights (ValueError).

        Every epoch is one transaction: an exception anywhere in it (Ctrl-C
        included) leaves the network, its optimizer and :attr:`training_state` at
        the last completed epoch, so ``resume=True`` continues exactly.

        A pandas DataFrame X is matched by column name when the network's
        :attr:`metadata` records ``"feature_names"`` (by position otherwise).
        """
        net: Model = self  # type: ignore[assignment]
        epochs = positive_int(epochs, "epochs")
        l2 = _NON_NEGATIVE.check(l2, "l2", " (the λ of (λ/2m) Σ ‖W‖²)")
        stopper: Any = early_stopping
        if isinstance(early_stopping, int) and not isinstance(early_stopping, bool):
            stopper = EarlyStopping(patience=early_stopping)
        saver = Checkpoint(checkpoint) if isinstance(checkpoint, (str, os.PathLike)) else checkpoint
        hooks = check_options(stopper, saver, callbacks, sampler, reduce_gradients)
        by_rows = is_rows(X)  # memory map / .npy path: read one batch at a time (ffnn.training.parallel)
        if (distributed is not None or by_rows) and reduce_gradients is not None:
            msg = "reduce_gradients cannot be combined with distributed= or inputs read by rows (they reduce already)"
            raise ValueError(msg)
        if (distributed is not None or by_rows) and compile:
            msg = "compile=True is not supported yet with distributed= or inputs read by rows; fit without compile"
            raise ValueError(msg)
        if compile and getattr(net, "dropout", None):
            msg = "compile=True does not apply dropout masks yet; fit without compile, or without dropout"
            raise ValueError(msg)
        if (distributed is not None or by_rows) and getattr(net, "dropout", None):
            msg = (
                "dropout is not supported yet with distributed= or inputs read by rows (memory maps, .npy paths): "
                "the masks would not be applied; train with in-memory arrays on one process, or without dropout"
            )
            raise ValueError(msg)
        reader = row_data if by_rows else training_data
        with net.backend.on_device():  # CuPy creates arrays on the current device: make it the network's
            data = reader(net, X, y, validation_data, validation_split, batch_size, shuffle, sample_weight)
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
        comm = communicator_for(net, distributed)
        with abort_on_failure(comm):  # a failing rank takes the job down instead of hanging it
            parallel = None
            if distributed is not None or by_rows:
                state.shuffle_seed = int(comm.bcast(state.shuffle_seed))
                parallel = Parallel(net, opt, comm, l2=l2)
                verbose = verbose and parallel.writes
            self._run_loop(
                net, opt, state, data, stopper, saver, hooks, l2, sampler, reduce_gradients, parallel, epochs, verbose,
                compile=bool(compile),
            )
        return state.history

    def _run_loop(
        self,
        net: Model,
        opt: Optimizer,
        state: TrainingState,
        data: Any,
        stopper: Any,
        saver: Any,
        hooks: list[Callback],
        l2: float,
        sampler: Sampler | None,
        reduce_gradients: GradientHook | None,
        parallel: Parallel | None,
        epochs: int,
        verbose: bool,
        *,
        compile: bool = False,
    ) -> None:
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
            parallel=parallel,
            compile=compile,
        )
        with net.backend.on_device():
            loop.run(epochs, verbose)

    def evaluate(self, X: Any, y: Any, *, batch_size: int | None = None) -> dict[str, float | None]:
        """Cost J (P1 (9), no penalty) and accuracy on (X, y), in batches.

        Returns
        -------
        dict
            ``{"cost": float, "accuracy": float or None}`` (None for regression);
            a regression adds ``"r2"``, ``"mae"`` and ``"rmse"`` (in the targets' units).
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



def evaluate(net: Model, X: Any, y: Any, /, *, batch_size: int | None = None) -> dict[str, float | None]:
    """Cost J (P1 (9)) and accuracy (R², MAE, RMSE for a regression) of ``net`` on (X, y):
    in-memory arrays, or a memory map / ``.npy`` path read by chunks of rows."""
    if is_rows(X):
        return evaluate_rows(net, X, y, batch_size=batch_size)
    return evaluate_arrays(net, X, y, batch_size=batch_size)
