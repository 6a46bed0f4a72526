"""What the training loop needs of a network: a structural type, so that this package
never imports :mod:`ffnn.network` (the network subclasses :class:`~ffnn.training.Trainer`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from .._types import Array, Namespace, Params

if TYPE_CHECKING:
    from backends import Backend

    from ..losses import Loss
    from ..optimizers import Optimizer
    from .history import TrainingState


class ModelPasses(Protocol):
    """The passes a training step runs (:class:`ffnn.network.Passes`), built once per step."""

    def forward_cost(
        self, X: Array, Y: Array, params: Params | None = None, masks: dict[int, Array] | None = None,
        weights: Array = None,
    ) -> tuple[Any, Array]: ...
    def backward(
        self, cache: list[Array], Y: Array, params: Params | None = None, weights: Array = None,
        release_cache: bool = False, input_gradient: bool = False,
    ) -> Params | tuple[Params, Array]: ...

    train: Callable[[Array, Array, Params], tuple[Array, Array, Params]] | None
    """``train(X, Y, params) -> (J, A^[L], gradients)``: forward, cost and backward in one
    pass for a batch without weights or masks, where the network allows it; else None."""


class Model(Protocol):
    """The network as the loop sees it (see :class:`ffnn.Network`)."""

    backend: Backend
    loss: Loss
    dtype: str
    seed: int | None
    optimizer: Optimizer | None
    training_state: TrainingState | None
    dropout: dict[int, Any]
    """Keep probabilities by layer (D (1)), {} without dropout."""
    layers: list[Any]
    """The Dense layers (their ``n_in`` and ``activation`` are read)."""

    @property
    def xp(self) -> Namespace: ...
    @property
    def n_in(self) -> int: ...
    @property
    def n_out(self) -> int: ...
    @property
    def sizes(self) -> list[int]: ...
    @property
    def task(self) -> str: ...

    def named_parameters(self) -> Params: ...
    def parameters(self) -> list[Array]: ...
    def set_parameters(self, params: Params, /, *, check: bool = True) -> None: ...
    def set_weights(self, weights: Sequence[Any] | Params) -> None: ...
    def inputs(self, X: Any, /) -> Array: ...
    def targets(self, Y: Any, m: int, /) -> Array: ...
    def predict(self, X: Any, /, *, batch_size: int | None = ...) -> Array: ...
    def forward_columns(
        self, X: Array, /, params: Params | None = None, *, masks: dict[int, Array] | None = None
    ) -> tuple[Any, Array]: ...
    def cost_columns(self, cache: Sequence[Array], Z_L: Array, Y: Array, /, *, weights: Array = None) -> Array: ...
    def forward_cost_columns(
        self, X: Array, Y: Array, /, params: Params | None = None, *, masks: dict[int, Array] | None = None,
        weights: Array = None,
    ) -> tuple[Any, Array]: ...
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
    ) -> Params | tuple[Params, Array]: ...
    def passes(self) -> ModelPasses: ...
    def save(self, path: Any, *, overwrite: bool = False) -> str: ...
