"""The feedforward network, structure and maths: forward P1 (5)/(6), cost P1 (9),
backward P1 (15)(16)(22), parameters by name ("W1", "b1", …).

Training (:class:`~ffnn.training.Trainer`: ``fit``, ``evaluate``, class predictions)
and saving (:class:`~ffnn.serialization.Saver`: ``save``) come from base classes that
never import this module, so every dependency points one way.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import Any

import numpy as np

from backends import Backend, get_backend, reductions

from ._types import Array, Device, Namespace, Params
from ._validation import PREDICT_BATCH_SIZE, Interval, as_inputs, as_sample_weight, positive_int
from .activations import Activation
from .dropout import Probabilities, apply, dropout_config, keep_probabilities
from .layers import BINDINGS, Dense, affine, affine_backward
from .losses import Loss, checked_targets, get_loss, log_methods
from .metrics import task_of
from .optimizers import parameter_names
from .serialization import MODELS, Saver
from .training import Trainer
from .training.parallel import is_rows, predict_rows

__all__ = ["PREDICT_BATCH_SIZE", "Cache", "Network", "Passes", "infer_loss"]

Gradients = list[tuple[Array, Array]]

_INFERRED_LOSS = {"softmax": "categorical_crossentropy", "sigmoid": "binary_crossentropy"}


def infer_loss(output_activation: str) -> str:
    """The loss a network uses when none is given: categorical cross-entropy after a
    softmax output, binary cross-entropy after a sigmoid, mean squared error otherwise
    (linear, relu, tanh: regression)."""
    return _INFERRED_LOSS.get(output_activation, "mse")


class Cache(list[Array]):
    """The forward pass's cache [A^[0], …, A^[L]] (a list), plus ``z``: Z^[l] by layer
    number l for the layers whose activation declares ``needs_z`` (no other Z is kept);
    with dropout, ``masks`` {l: (1/p^[l]) ⊙ R^[l]} and ``dropped`` {l: Ã^[l]} (D (2))."""

    __slots__ = ("dropped", "masks", "z")

    def __init__(self, items: Sequence[Array] = ()) -> None:
        list.__init__(self, items)
        self.z: dict[int, Array] = {}
        self.masks: dict[int, Array] = {}
        self.dropped: dict[int, Array] = {}


class Network(Trainer, Saver):
    """A stack of :class:`~ffnn.Dense` layers with a cost, living on one backend.

    The public methods take samples as ROWS, (m, n_features), like NumPy,
    scikit-learn and PyTorch; inside, every equation uses the seeds' column layout
    (MATH.md §1), reached by a transpose view. Parameters are named "W1", "b1", …,
    "WL", "bL" (P1's superscript [l], 1-based).

    Parameters
    ----------
    layers : sequence of Dense
        Consecutive sizes must chain: ``layers[i].n_out == layers[i+1].n_in``.
    loss : str or Loss, optional
        mse, binary_crossentropy, categorical_crossentropy. Default: inferred from
        the output activation by :func:`infer_loss` (softmax → categorical
        cross-entropy, sigmoid → binary cross-entropy, otherwise mse).
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
    dropout : float, dict or list, optional
        Inverted dropout (MATH.md §8, D (1)–(8)) while training: KEEP probabilities
        p^[l] in (0, 1] (1 keeps every unit). A number is p of every hidden layer;
        ``{l: p}`` picks layers, 0 being the input; a list gives layers 0 … L−1; each
        p^[l] is a scalar or one value per unit. ``predict``/``evaluate``/``cost``
        never drop. See :func:`ffnn.dropout.keep_probabilities`.

    Raises
    ------
    ValueError
        Empty or non-chaining layers, bad dtype, unknown loss/backend names, or a
        cross-entropy loss after an output activation whose values can leave (0, 1)
        (relu, tanh, linear).
    TypeError
        A layer that is not a Dense.
    DropoutError (a ValueError)
        Keep probabilities outside (0, 1], a per-unit list of the wrong length, or
        dropout on the output layer.
    """

    def __init__(
        self,
        layers: Sequence[Dense],
        *,
        loss: str | Loss | None = None,
        backend: str | Backend = "auto",
        device: Device = None,
        dtype: str = "float32",
        seed: int | None = None,
        fuse_output: bool = True,
        dropout: Any = None,
    ) -> None:
        self.layers = list(layers)
        _check_layers(self.layers)
        self.dropout: Probabilities = keep_probabilities(dropout, self.sizes)
        self.loss = get_loss(infer_loss(self.layers[-1].activation.name) if loss is None else loss)
        _check_pairing(self.layers[-1].activation.name, self.loss.name)
        self.backend = get_backend(backend, device)
        self._dtype = self.backend.dtype(dtype)
        self.dtype = dtype
        if seed is not None:
            seed = int(Interval(0, None, integer=True).check(seed, "seed", " or None"))
        self.seed = seed
        self.fuse_output = bool(fuse_output)
        rng = np.random.default_rng(seed)
        self.set_weights([p for layer in self.layers for p in layer.initial_parameters(rng, dtype)])

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name in _COUNTED:
            BINDINGS.count += 1  # what a network's passes and training steps are built from

    # ------------------------------------------------------------------ properties
    @property
    def xp(self) -> Namespace:
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
    def sizes(self) -> list[int]:
        """[n^[0], n^[1], …, n^[L]]."""
        return [self.layers[0].n_in] + [layer.n_out for layer in self.layers]

    @property
    def n_params(self) -> int:
        """Number of trainable scalars, Σ n^[l](n^[l-1] + 1)."""
        return sum(layer.n_params for layer in self.layers)

    @property
    def fused(self) -> bool:
        """Whether the output/cost pair takes the fused gradient (MATH.md §4)."""
        return self.fuse_output and self.layers[-1].activation.name == self.loss.fused_activation

    @property
    def task(self) -> str:
        """ "multiclass" (categorical cross-entropy), "binary" / "multilabel" (binary
        cross-entropy with one / several outputs) or "regression" (mse)."""
        return task_of(self.loss.name, self.n_out)

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

    # ------------------------------------------------------------------ parameters
    def parameter_names(self) -> list[str]:
        """["W1", "b1", …, "WL", "bL"]."""
        return parameter_names(len(self.layers))

    def named_parameters(self) -> Params:
        """{"W1": W^[1], "b1": b^[1], …} in layer order: the backend's arrays, not copies."""
        out: Params = {}
        for layer, (kW, kb) in zip(self.layers, _names(len(self.layers))):
            out[kW] = layer.W
            out[kb] = layer.b
        return out

    def parameters(self) -> list[Array]:
        """[W^[1], b^[1], …, W^[L], b^[L]]: the values of :meth:`named_parameters` as a list."""
        return [p for layer in self.layers for p in (layer.W, layer.b)]

    def set_parameters(self, params: Params, /, *, check: bool = True) -> None:
        """Rebind the parameters to the arrays of ``params`` (keyed as
        :meth:`named_parameters`; no copy, no transfer: they must already be the
        backend's arrays in the network's dtype). This is how a training step's new
        parameters return to the network.

        ``check=False`` skips the checks of names, library and shapes: for the outputs
        of a compiled step whose outputs were checked once (their shapes are fixed when
        it is traced). Arrays that are already the network's are never checked again.

        Raises
        ------
        ValueError
            Missing or unknown names, or a wrong shape.
        """
        layers = self.layers
        if len(params) == 2 * len(layers):
            for layer, (kW, kb) in zip(layers, _names(len(layers))):
                if params.get(kW) is not layer.W or params.get(kb) is not layer.b:
                    break
            else:
                return  # updated in place: the same arrays, already checked when they were bound
        if check:
            self._check_parameters(params)
        rebind = object.__setattr__
        for layer, (kW, kb) in zip(layers, _names(len(layers))):
            if type(layer).__setattr__ is Dense.__setattr__:  # its counting, once for all below
                rebind(layer, "W", params[kW])
                rebind(layer, "b", params[kb])
            else:
                layer.W, layer.b = params[kW], params[kb]
        BINDINGS.count += 1

    def _check_parameters(self, params: Params) -> None:
        names = self.parameter_names()
        if list(params) != names:
            msg = f"set_parameters needs the keys {names} in that order, got {list(params)}"
            raise ValueError(msg)
        for l, layer in enumerate(self.layers, start=1):
            W, b = params[f"W{l}"], params[f"b{l}"]
            for label, value, shape in (("W", W, (layer.n_out, layer.n_in)), ("b", b, (layer.n_out, 1))):
                self.backend.check_array(value, f"{label}{l}")
                if tuple(value.shape) != shape:
                    msg = f"{label}^[{l}] must have shape {shape}, got {tuple(value.shape)}"
                    raise ValueError(msg)

    def get_weights(self) -> list[np.ndarray]:
        """Host (NumPy) copies of :meth:`parameters`."""
        return [self.backend.to_numpy(p).copy() for p in self.parameters()]

    def set_weights(self, weights: Sequence[Any] | Params) -> None:
        """Replace every parameter by copies of ``weights`` ([W1, b1, …] or a dict
        keyed "W1", "b1", …; any array-like), cast to the network's dtype and moved
        to its device. Training never writes into the caller's arrays.

        Raises
        ------
        ValueError
            Wrong count or shape (the message names the parameter).
        """
        if isinstance(weights, dict):
            names = self.parameter_names()
            if sorted(weights) != sorted(names):
                msg = f"expected the arrays {names}, got {list(weights)}"
                raise ValueError(msg)
            weights = [weights[k] for k in names]
        if len(weights) != 2 * len(self.layers):
            msg = f"expected {2 * len(self.layers)} arrays [W1, b1, ...], got {len(weights)}"
            raise ValueError(msg)
        new = []
        for i, layer in enumerate(self.layers):
            for j, (label, shape) in enumerate((("W", (layer.n_out, layer.n_in)), ("b", (layer.n_out, 1)))):
                value = weights[2 * i + j]
                host = value if hasattr(value, "shape") else np.asarray(value)
                self.backend.check_array(host, f"{label}^[{i + 1}]")
                array = self.backend.asarray(host, dtype=self._dtype, copy=True)  # never alias the caller's array
                if tuple(array.shape) != shape:
                    msg = f"{label}^[{i + 1}] must have shape {shape}, got {tuple(array.shape)}"
                    raise ValueError(msg)
                new.append(array)
        for i, layer in enumerate(self.layers):
            layer.W, layer.b = new[2 * i], new[2 * i + 1]

    # ------------------------------------------------------------------ configuration
    def get_config(self) -> dict[str, Any]:
        """JSON-ready architecture: layers, loss, dtype, seed, fuse_output, and with
        dropout its keep probabilities {"l": p} (no parameters)."""
        config: dict[str, Any] = {
            "layers": [layer.get_config() for layer in self.layers],
            "loss": self.loss.name,
            "dtype": self.dtype,
            "seed": self.seed,
            "fuse_output": self.fuse_output,
        }
        if self.dropout:  # absent without dropout: such files read as before issue 12
            config["dropout"] = dropout_config(self.dropout)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any], *, backend: str | Backend = "auto", device: Device = None) -> Network:
        """A new network from :meth:`get_config` (fresh weights from its seed).

        Raises
        ------
        KeyError, TypeError, ValueError
            An incomplete or invalid configuration.
        """
        return cls(
            [Dense.from_config(spec) for spec in config["layers"]],
            loss=config["loss"],
            backend=backend,
            device=device,
            dtype=config.get("dtype", "float32"),
            seed=config.get("seed"),
            fuse_output=bool(config.get("fuse_output", True)),
            dropout=config.get("dropout"),
        )

    def copy(self, *, backend: str | Backend | None = None, device: Device = None, dtype: str | None = None) -> Network:
        """A copy of the architecture, parameters and :attr:`metadata`, optionally on
        another backend/device or in another dtype. The optimizer and training state
        are not copied (use :meth:`to` to move a network with them)."""
        target = (
            self.backend if backend is None and device is None else get_backend(backend or self.backend.name, device)
        )
        layers = [Dense(la.n_in, la.n_out, activation=la.activation, init=la.init) for la in self.layers]
        clone = type(self)(
            layers,
            loss=self.loss,
            backend=target,
            dtype=dtype or self.dtype,
            seed=self.seed,
            fuse_output=self.fuse_output,
            dropout=self.dropout,
        )
        clone.set_weights(self.get_weights())
        clone.metadata = copy.deepcopy(self.metadata)
        return clone

    def to(self, backend: str | Backend, device: Device = None) -> Network:
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
            self._moved_to(target)
        return self

    # ------------------------------------------------------------------ column-layout core
    def passes(self) -> Passes:
        """The network's passes as a :class:`Passes`, kept while what it fixes (the backend,
        the loss, ``fuse_output`` and every layer's activation object) stays the same,
        and rebuilt otherwise."""
        held = self.__dict__.get("_passes")
        if held is not None and held.net is self and held.seen == BINDINGS.count and held.layers == self.layers:
            return held  # nothing it was built from was rebound since it was last checked
        if held is None or held.net is not self or held.key != _passes_key(self):
            held = self.__dict__["_passes"] = Passes(self)
        held.seen, held.layers = BINDINGS.count, list(self.layers)
        return held

    def forward_columns(
        self, X: Array, /, params: Params | None = None, *, masks: dict[int, Array] | None = None
    ) -> tuple[Cache, Array]:
        """Forward pass in the seeds' layout: P1 (5)/(6) for l = 1..L.

        ``X`` is A^[0], shape (n^[0], m), already on the backend. ``params`` (keyed
        as :meth:`named_parameters`) evaluates the network at other parameters than
        its own. ``masks`` ({l: (1/p^[l]) ⊙ R^[l]}, each (n^[l], m), l < L) applies
        dropout: layer l+1 reads Ã^[l] = mask ⊙ A^[l] (D (2)/(3)); training passes
        them (:class:`ffnn.dropout.EpochMasks`), nothing else does. Returns the
        :class:`Cache` [A^[0], …, A^[L]] (with Z^[l] of the layers that need it, and
        the masks and Ã^[l]) and Z^[L] (for the fused cost).
        """
        return self.passes().forward(X, params, masks)

    def forward_cost_columns(
        self, X: Array, Y: Array, /, params: Params | None = None, *, masks: dict[int, Array] | None = None,
        weights: Array = None,
    ) -> tuple[Cache, Array]:
        """:meth:`forward_columns` and :meth:`cost_columns` together: (cache, J).

        With softmax and categorical cross-entropy fused, the output layer computes
        log Ŷ from the terms of its softmax (:meth:`~ffnn.activations.Softmax.forward_log`)
        and the cost is −(1/m) Σ Y ⊙ log Ŷ (P3 (4)), the same number, bit for bit, as
        :meth:`cost_columns` (no second max/exp/sum over Z^[L]). Otherwise the two
        methods run one after the other.
        """
        return self.passes().forward_cost(X, Y, params, masks, weights)

    def cost_columns(self, cache: Sequence[Array], Z_L: Array, Y: Array, /, *, weights: Array = None) -> Array:
        """P1 (9): J = f(A^[L], Y) as a 0-d array; from Z^[L] on the fused path.

        ``weights``, a (1, m) row of per-example weights s_i, gives
        J = Σ s_i J0^(i) / Σ s_i (passed to the loss as ``weights=``).
        """
        extra = {} if weights is None else {"weights": weights}
        if self.fused:
            return self.loss.cost_from_logits(Z_L, Y, xp=self.xp, **extra)
        return self.loss.cost(cache[-1], Y, xp=self.xp, **extra)

    def backward(
        self,
        cache: list[Array],
        Y: Array,
        /,
        *,
        params: Params | None = None,
        weights: Array = None,
        release_cache: bool = False,
        input_gradient: bool = False,
    ) -> Params | tuple[Params, Array]:
        """Backward pass in the seeds' layout, l = L..1; gradients keyed by parameter name.

        Seeds dJ/dZ^[L] with the fused (1/m)(A − Y) rule, or with the loss's
        dJ/dA^[L] followed by g^[L]'s P2 backward; then P1 (15)/(16)/(22) and P2
        per layer. Each dJ/dA^[l-1] = W^[l]ᵀ dJ/dZ^[l] is a fresh array that becomes
        dJ/dZ^[l-1] in place, and dJ/dZ^[l] is released as soon as it is used: the
        pass holds one (n, m) gradient at a time besides the cache.

        Parameters
        ----------
        cache : list
            [A^[0], …, A^[L]] from :meth:`forward_columns` (its Z^[l] where needed).
        Y : array (n^[L], m)
        params : dict, optional
            The parameters the cache was computed with (default: the network's own).
        weights : array (1, m), optional
            Per-example weights, passed to the loss's seed as ``weights=``.
        release_cache : bool, default False
            Consume the cache: set ``cache[l]`` to None for l = 1..L−1 as soon as
            A^[l] has been used (lowers the peak memory of a training step). A^[0]
            and A^[L] are kept.
        input_gradient : bool, default False
            Also compute dJ/dA^[0] = W^[1]ᵀ dJ/dZ^[1] (P1 (22) for l = 1), i.e. dJ/dX
            in the column layout, shape (n^[0], m).

        Returns
        -------
        dict, or (dict, array) with ``input_gradient``
            {"W1": dJ/dW^[1], "b1": dJ/db^[1], …}: P1 (15) dJ/dW = dJ/dZ A^[l-1]ᵀ and
            P1 (16) dJ/db = Σ_{axis=1} dJ/dZ; and dJ/dA^[0].
        """
        return self.passes().backward(cache, Y, params, weights, release_cache, input_gradient)

    def backward_columns(self, cache: list[Array], Y: Array, /, *, release_cache: bool = False) -> Gradients:
        """:meth:`backward` as the list [(dW^[l], db^[l])] for l = 1..L (the older form)."""
        grads = self.backward(cache, Y, release_cache=release_cache)
        assert isinstance(grads, dict)
        return [(grads[f"W{l}"], grads[f"b{l}"]) for l in range(1, len(self.layers) + 1)]

    # ------------------------------------------------------------------ public, samples as rows
    def inputs(self, X: Any, /) -> Array:
        """Validate X (m, n_in) and move it to the network's backend and dtype."""
        return as_inputs(X, self.backend, self.dtype, self.n_in, feature_names=self.feature_names)

    @property
    def feature_names(self) -> list[str] | None:
        """The input columns' names recorded in :attr:`metadata` ("feature_names", as
        ``ffnn train --save`` writes them), or None: data frames given to predict,
        evaluate and fit are then matched by column name."""
        names = self.metadata.get("feature_names")
        ok = isinstance(names, list) and len(names) == self.n_in and all(isinstance(n, str) for n in names)
        return names if ok else None

    def targets(self, Y: Any, m: int, /) -> Array:
        """Validate targets for m examples and return them as (m, n_out) on the backend
        (class labels one-hot encoded for categorical cross-entropy; plain lists of
        integer labels work too)."""
        return checked_targets(Y, self.backend, self.dtype, self.loss.name, self.n_out, m)[0]

    def predict(self, X: Any, /, *, batch_size: int | None = PREDICT_BATCH_SIZE) -> Array:
        """Network outputs Ŷ = A^[L] for inputs X.

        Parameters
        ----------
        X : array_like, shape (m, n_in)
            A pandas DataFrame is matched by column name when :attr:`feature_names`
            are recorded (extra columns dropped with a warning), by position otherwise.
        batch_size : int or None, default 4096
            Evaluate this many rows at a time, so large inputs never hold every
            layer's activations at once; ``None`` evaluates all rows in one pass.

        Returns
        -------
        array of the backend, shape (m, n_out)
        """
        if is_rows(X):  # a memory map or .npy path: read and forwarded chunk by chunk
            return predict_rows(self, X, batch_size=batch_size)
        with self.backend.on_device():  # CuPy creates arrays on the current device: make it the network's
            x = self.inputs(X)
            m = x.shape[0]
            step = m if batch_size is None else positive_int(batch_size, "batch_size")
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

    def input_gradient(self, X: Any, y: Any, /, *, sample_weight: Any = None) -> Array:
        """dJ/dX: the gradient of the cost J (P1 (9), the mean over the rows) with
        respect to the inputs, by P1 (22) carried down to l = 1 (MATH.md §3).

        No dropout is applied (the network as :meth:`predict` sees it).

        Parameters
        ----------
        X : array_like, shape (m, n_in)
        y : array_like, targets as :meth:`targets` takes them
        sample_weight : array_like (m,), optional
            Per-example weights s_i: J = Σ s_i J0^(i) / Σ s_i.

        Returns
        -------
        array of the backend, shape (m, n_in)
            Row i is ∂J/∂x^(i); it carries J's 1/m (or s_i / Σ s), so it is the
            gradient of the batch cost, not of example i's own loss.

        Raises
        ------
        ValueError, TypeError
            Bad X, y or sample_weight (as for :meth:`fit`).
        """
        x = self.inputs(X)
        m = x.shape[0]
        t = self.targets(y, m)
        weights = None
        if sample_weight is not None:
            host = as_sample_weight(sample_weight, m)
            weights = self.xp.reshape(self.backend.asarray(host, dtype=self._dtype), (1, m))
        cache, _ = self.forward_columns(x.T)
        result = self.backward(cache, t.T, weights=weights, input_gradient=True)
        assert isinstance(result, tuple)
        return result[1].T

    # ------------------------------------------------------------------ description
    def summary(self) -> str:
        """A table of the layers (Keras style): output shape, activation, parameter
        count, and the totals, loss, backend, device and dtype.

        Returns
        -------
        str
            The table (print it).
        """
        rows = [("Layer", "Output shape", "Activation", "Params")]
        rows.append(("input", f"(None, {self.n_in})", "", "0"))
        for l, layer in enumerate(self.layers, start=1):
            rows.append(
                (
                    f"dense_{l} ({layer.n_in}→{layer.n_out})",
                    f"(None, {layer.n_out})",
                    layer.activation.name,
                    f"{layer.n_params:,}",
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        rule = "-" * (sum(widths) + 6)

        def line(r: tuple[str, str, str, str]) -> str:
            return "  ".join(
                (r[0].ljust(widths[0]), r[1].ljust(widths[1]), r[2].ljust(widths[2]), r[3].rjust(widths[3]))
            )

        body = [line(rows[0]), rule.replace("-", "=")] + [line(r) for r in rows[1:]]
        facts = (
            f"Total params: {self.n_params:,} (trainable)\n"
            f"Loss: {self.loss.name}{' (fused with the output)' if self.fused else ''}\n"
            f"Backend: {self.backend.name} on {self.backend.device_name}, dtype {self.dtype}"
        )
        return "\n".join([*body, rule, facts])

    def __getstate__(self) -> dict[str, Any]:
        """Copies leave the kept :class:`Passes` out (it is rebuilt on first use, for the copy)."""
        state = self.__dict__.copy()
        state.pop("_passes", None)
        return state

    def __repr__(self) -> str:
        inner = ", ".join(repr(layer) for layer in self.layers)
        return (
            f"Network([{inner}], loss={self.loss.name!r}, backend={self.backend.name!r}, "
            f"device={self.backend.device_name!r}, dtype={self.dtype!r})"
        )


_HiddenSteps = tuple[tuple[str, str, Callable[[Array], Array]], ...]
_BackwardSteps = tuple[tuple[int, str, str, Callable[[Array, Array], Array] | None], ...]


class Passes:
    """A network's forward and backward passes with every decision that depends on its
    structure alone made once: the parameter names, each layer's activation rules (its
    ``forward`` and ``backward_in_place``, bound) and whether it caches Z^[l], whether
    the output and cost are fused and whether the cost comes from log Ŷ.
    :meth:`Network.passes` keeps one per network, which its column methods run; a
    training step (:func:`ffnn.training.make_step`) takes it when it is made and runs
    every batch through it, so a batch pays for the equations and little else (on a
    small network the bookkeeping of a pass costs as much as its arithmetic). The
    equations themselves are the layers' (:func:`ffnn.layers.affine`,
    :func:`ffnn.layers.affine_backward`), the activations' and the loss's.

    A ``Passes`` reads the layers' parameters at every call; the rest it fixes when
    built, which :meth:`Network.passes` checks (the backend, the loss, ``fuse_output``
    and every layer's activation object).
    """

    __slots__ = (
        "L", "backward_steps", "cost_from_log", "flat", "forward_steps", "fused", "fused_gradient", "kernel_dtype",
        "key", "layers", "log_output", "loss", "names", "net", "plain_steps", "rules", "seen", "sum_along", "train",
        "xp",
    )

    def __init__(self, net: Network) -> None:
        self.net, self.xp, self.loss = net, net.xp, net.loss
        self.key = _passes_key(net)
        # BINDINGS.count and the layers list when the key was last found current (Network.passes)
        self.seen, self.layers = -1, list(net.layers)
        self.L = len(net.layers)
        self.names, self.flat = _names(self.L), _FLAT_NAMES[self.L]
        self.fused = net.fused
        self.fused_gradient = self.loss.fused_gradient
        # Per layer: g's forward, g's in-place backward, whether Z^[l] is cached.
        self.rules = tuple(
            (layer.activation.forward, layer.activation.backward_in_place, layer.needs_z) for layer in net.layers
        )
        # What each layer's turn reads, in the order the passes visit the layers:
        # forward (l, W name, b name, g^[l]'s forward, caches Z^[l]) for l = 1..L;
        # backward (l, W name, b name, g^[l-1]'s in-place backward or None at l = 1) for l = L..1.
        self.forward_steps = tuple(
            (l, kW, kb, forward, needs_z)
            for l, ((kW, kb), (forward, _, needs_z)) in enumerate(zip(self.names, self.rules), 1)
        )
        self.backward_steps = tuple(
            (l, *self.names[l - 1], self.rules[l - 2][1] if l > 1 else None) for l in range(self.L, 0, -1)
        )
        self.sum_along = reductions(self.xp)[0]
        cost_from_log = getattr(self.loss, "cost_from_log_probabilities", None)
        forward_log = getattr(net.layers[-1].activation, "forward_log", None)
        use_log = self.fused and cost_from_log is not None and forward_log is not None
        self.cost_from_log = cost_from_log if use_log else None
        self.log_output: Callable[..., tuple[Array, Array]] | None = forward_log if use_log else None
        # The plain training pass (train_plain): the output and cost fused through log Ŷ and
        # no layer caching Z^[l]; None otherwise (a step then runs forward_cost and backward).
        plain = use_log and not any(needs_z for _, _, needs_z in self.rules)
        self.train: Callable[[Array, Array, Params], tuple[Array, Array, Params]] | None = (
            self.train_plain if plain else None
        )
        # train_plain's layers: the activations' kernels for arrays of the network's own
        # dtype (the 0 of ReLU made once); the bound methods for any other dtype, made
        # when such a batch first comes (_bound_steps).
        self.kernel_dtype: Any = None
        self.plain_steps: list[tuple[Any, ...] | None] = [None, None]
        if plain:
            xp, like = self.xp, net.layers[0].W
            output = net.layers[-1].activation
            self.kernel_dtype = like.dtype
            log_kernel, log_kernels = getattr(output, "log_kernel", None), getattr(self.loss, "log_kernels", None)
            self.plain_steps[0] = (
                *self._plain_steps([layer.activation.kernels(like, xp=xp) for layer in net.layers[:-1]]),
                self._bound_log() if log_kernel is None else log_kernel(like, xp=xp),
                *(log_methods(self.loss, xp) if log_kernels is None else log_kernels(like, xp=xp)),
            )

    def _bound_log(self) -> Callable[[Array], tuple[Array, Array]]:
        return functools.partial(self.log_output, xp=self.xp)  # type: ignore[arg-type, misc]  # set: plain needs it

    def _bound_steps(self) -> tuple[Any, ...]:
        """:attr:`plain_steps`' entry for batches not of the network's dtype: the
        activations' and the loss's methods with ``xp`` bound (made once, when needed)."""
        xp = self.xp
        steps = self.plain_steps[1] = (
            *self._plain_steps([_bound(layer.activation, xp) for layer in self.net.layers[:-1]]),
            self._bound_log(),
            *log_methods(self.loss, xp),
        )
        return steps

    def _plain_steps(self, kernels: list[tuple[Callable[..., Array], Callable[..., Array]]]) -> tuple[
        _HiddenSteps, _BackwardSteps
    ]:
        """:meth:`train_plain`'s (hidden layers' forward, backward) steps from the hidden
        layers' ``kernels`` (forward(Z), backward_in_place(dA, A)): (W name, b name,
        forward) for l = 1..L−1, and (l, W name, b name, backward or None at l = 1) for
        l = L..1."""
        hidden: _HiddenSteps = tuple((kW, kb, forward) for (kW, kb), (forward, _) in zip(self.names, kernels))
        backward: _BackwardSteps = tuple(
            (l, *self.names[l - 1], kernels[l - 2][1] if l > 1 else None) for l in range(self.L, 0, -1)
        )
        return hidden, backward

    def forward(
        self, X: Array, params: Params | None = None, masks: dict[int, Array] | None = None, *, log: bool = False
    ) -> tuple[Cache, Array]:
        """:meth:`Network.forward_columns`: the cache and Z^[L]; with ``log`` (only when
        :attr:`log_output` is set) the output layer's A^[L] and log A^[L] come from
        ``g^[L]``'s ``forward_log`` and the second value is log A^[L]."""
        xp = self.xp
        if params is None:
            params = self.net.named_parameters()
        cache = Cache.__new__(Cache)  # Cache([X]) without a Python-level __init__ (the training hot path)
        cache.append(X)
        cache.z = z = {}
        cache.masks, cache.dropped = {}, {}
        L = self.L
        A = Z = last = X
        for l, kW, kb, forward, needs_z in self.forward_steps:
            if masks and l - 1 in masks:  # D (2)/(3): the layer reads Ã^[l-1]
                cache.masks[l - 1] = masks[l - 1]
                A = cache.dropped[l - 1] = apply(A, masks[l - 1])
            Z = affine(params[kW], A, params[kb])  # P1 (5)
            if log and l == L:
                A, last = self.log_output(Z, xp=xp)  # type: ignore[misc]
            else:
                A = forward(Z, xp=xp)  # P1 (6)
            if needs_z:
                z[l] = Z
            cache.append(A)
        return cache, (last if log else Z)

    def forward_cost(
        self, X: Array, Y: Array, params: Params | None = None, masks: dict[int, Array] | None = None,
        weights: Array = None,
    ) -> tuple[Cache, Array]:
        """:meth:`Network.forward_cost_columns`: (cache, J)."""
        if self.log_output is None:
            cache, Z_L = self.forward(X, params, masks)
            return cache, self.net.cost_columns(cache, Z_L, Y, weights=weights)
        cache, log_A = self.forward(X, params, masks, log=True)
        if weights is None:
            return cache, self.cost_from_log(log_A, Y, xp=self.xp)  # type: ignore[misc]
        return cache, self.cost_from_log(log_A, Y, xp=self.xp, weights=weights)  # type: ignore[misc]

    def train_plain(self, X: Array, Y: Array, params: Params, /) -> tuple[Array, Array, Params]:
        """The training step's passes on a batch without example weights or dropout,
        for a network whose output and cost are fused through log Ŷ (softmax with
        categorical cross-entropy) and whose activations do not read Z^[l]: (J, A^[L],
        the gradients keyed "W1", "b1", …).

        The same equations, in the same order, as :meth:`forward_cost` followed by
        :meth:`backward` with ``release_cache`` (the same bits, tested): forward P1 (5)/(6),
        the cost P3 (4) from log Ŷ, the fused gradient P3 (6), backward P1 (15)/(16)/(22) with
        each A^[l-1] released once used. Kept as its own loop because it is the training
        hot path of the common network: without the cache object and the per-layer
        tests for masks, logs and Z (on a small network they cost as much as a layer's
        arithmetic). :attr:`train` is this method where it applies, else None.
        """
        dtype = self.kernel_dtype
        other = (X.dtype is not dtype and X.dtype != dtype) or (Y.dtype is not dtype and Y.dtype != dtype)
        steps = self.plain_steps[other] or self._bound_steps()
        hidden_steps, backward_steps, log_output, cost_from_log, fused_gradient = steps
        A = X
        cache = [X]
        for kW, kb, forward in hidden_steps:
            A = forward(affine(params[kW], A, params[kb]))  # P1 (5)/(6)
            cache.append(A)
        kW, kb = self.names[-1]
        A, log_A = log_output(affine(params[kW], A, params[kb]))
        cost = cost_from_log(log_A, Y)  # P3 (4)
        log_A = None
        dZ = fused_gradient(A, Y)  # P3 (6)
        grads: Params = dict.fromkeys(self.flat)
        sum_along = self.sum_along
        for l, kW, kb, backward_in_place in backward_steps:  # P1 (15)/(16), then P1 (22) and P2
            A_prev = cache[l - 1]
            grads[kW], grads[kb], dA = affine_backward(dZ, A_prev, params[kW], sum_along, backward_in_place is not None)
            dZ = None  # released before the next dZ is made (peak memory)
            if backward_in_place is not None:
                dZ = backward_in_place(dA, A_prev)
                cache[l - 1] = A_prev = None
        return cost, A, grads

    def backward(
        self, cache: list[Array], Y: Array, params: Params | None = None, weights: Array = None,
        release_cache: bool = False, input_gradient: bool = False,
    ) -> Params | tuple[Params, Array]:
        """:meth:`Network.backward` (same arguments and results)."""
        xp = self.xp
        if params is None:
            params = self.net.named_parameters()
        if type(cache) is Cache:
            z, masks, dropped = cache.z, cache.masks, cache.dropped
        else:  # a plain list, or a list-like cache of the caller's
            z = getattr(cache, "z", None) or {}
            masks = getattr(cache, "masks", None) or {}
            dropped = getattr(cache, "dropped", None) or {}
        sum_along = self.sum_along
        A_L = cache[-1]
        if self.fused:
            if weights is None:  # a loss without weights= still trains
                dZ = self.fused_gradient(A_L, Y, xp=xp)
            else:
                dZ = self.fused_gradient(A_L, Y, xp=xp, weights=weights)
        else:
            extra = {} if weights is None else {"weights": weights}
            dJ_dA = self.loss.gradient(A_L, Y, xp=xp, **extra)
            dZ = self.net.layers[-1].activation_backward(A_L, dJ_dA, xp=xp, Z=z.get(self.L))
        grads: Params = dict.fromkeys(self.flat)  # "W1", "b1", … in layer order, filled from L down
        dA = None
        for l, kW, kb, backward_in_place in self.backward_steps:  # P1 (15)/(16), then P1 (22) and P2
            A_prev = dropped[l - 1] if dropped and l - 1 in dropped else cache[l - 1]
            grads[kW], grads[kb], dA = affine_backward(
                dZ, A_prev, params[kW], sum_along, backward_in_place is not None or input_gradient
            )
            dZ = None  # released before the next dZ is made: a layer's pair of them is the peak memory
            if masks and l - 1 in masks and dA is not None:  # D (7)/(8): dJ/dA = dJ/dÃ ⊙ (1/p) ⊙ R
                dA = apply(dA, masks[l - 1])  # (D (5): dW above used Ã^[l-1])
            if backward_in_place is not None:
                dZ = backward_in_place(dA, cache[l - 1], z.get(l - 1) if z else None, xp=xp)
                if release_cache:
                    cache[l - 1] = None
                    if dropped:
                        dropped.pop(l - 1, None)
        return (grads, dA) if input_gradient else grads


_COUNTED = frozenset({"layers", "loss", "backend", "_dtype", "dtype", "fuse_output"})


def _bound(g: Activation, xp: Namespace) -> tuple[Callable[..., Array], Callable[..., Array]]:
    """``g``'s forward and backward_in_place with ``xp`` bound: :meth:`Activation.kernels`'s
    calling convention for arrays of any dtype."""
    return Activation.kernels(g, None, xp=xp)


def _passes_key(net: Network) -> tuple[Any, ...]:
    """What a :class:`Passes` fixes when built."""
    return (net.backend, net.loss, net.fuse_output, *map(_ACTIVATION, net.layers))


_ACTIVATION = attrgetter("activation")


_NAMES: dict[int, tuple[tuple[str, str], ...]] = {}
_FLAT_NAMES: dict[int, tuple[str, ...]] = {}


def _names(n_layers: int) -> tuple[tuple[str, str], ...]:
    """:func:`~ffnn.optimizers.parameter_names` as (W, b) pairs per layer, built once per depth
    (the training step reads them at every batch; a plain dict, which torch.compile traces)."""
    pairs = _NAMES.get(n_layers)
    if pairs is None:
        names = parameter_names(n_layers)
        pairs = _NAMES[n_layers] = tuple(zip(names[0::2], names[1::2]))
        _FLAT_NAMES[n_layers] = tuple(names)
    return pairs


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


MODELS.register("network", Network)
