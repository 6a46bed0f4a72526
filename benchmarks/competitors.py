"""The systems a user would pick instead: PyTorch eager and scikit-learn's MLPClassifier."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .configs import Config

__all__ = ["SklearnMLP", "TorchEager", "torch_threads"]


def torch_threads(threads: int) -> None:
    """Give PyTorch's intra-op pool the same thread count as the BLAS of NumPy."""
    import torch

    torch.set_num_threads(threads)


class TorchEager:
    """PyTorch eager on the same network: nn.Linear/nn.ReLU, nn.CrossEntropyLoss, optim.SGD.

    Samples are rows, as PyTorch users write it; the input needs no gradient, so
    dJ/dX is not computed (as in ffnn). ``weights`` are ffnn's [W1, b1, …] (host).
    """

    def __init__(
        self, config: Config, weights: Sequence[np.ndarray], X: np.ndarray, labels: np.ndarray, *,
        lr: float, device: str = "cpu", dtype: str = "float32",
    ) -> None:
        import torch

        self.torch = torch
        self.device = torch.device(device)
        mods: list[Any] = []
        for l, (n_out, n_in) in enumerate(config.layer_shapes):
            linear = torch.nn.Linear(n_in, n_out)
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(np.asarray(weights[2 * l])))
                linear.bias.copy_(torch.from_numpy(np.asarray(weights[2 * l + 1]).reshape(-1)))
            mods.append(linear)
            if l < len(config.layer_shapes) - 1:
                mods.append(torch.nn.ReLU())
        tdtype = getattr(torch, dtype)
        self.model = torch.nn.Sequential(*mods).to(device=self.device, dtype=tdtype)
        self.loss = torch.nn.CrossEntropyLoss()
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=lr)
        self.X = torch.from_numpy(X).to(device=self.device, dtype=tdtype)
        self.y = torch.from_numpy(labels.astype(np.int64)).to(self.device)

    def step(self) -> Any:
        """zero_grad, forward, cross-entropy, backward, SGD step; returns the (detached) loss."""
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.loss(self.model(self.X), self.y)
        loss.backward()
        self.optimizer.step()
        return loss.detach()

    def synchronize(self) -> None:
        """Wait for queued CUDA work (nothing to wait for on the CPU)."""
        if self.device.type == "cuda":
            self.torch.cuda.synchronize(self.device)


class SklearnMLP:
    """scikit-learn's MLPClassifier with the same architecture, batch, plain SGD and no L2.

    One :meth:`epoch` is one ``partial_fit`` over ``X`` (``len(X) // batch`` steps,
    shuffled as MLPClassifier does by default).
    """

    def __init__(self, config: Config, X: np.ndarray, labels: np.ndarray, *, lr: float, seed: int = 0) -> None:
        from sklearn.neural_network import MLPClassifier

        self.X, self.labels = X, labels
        self.steps_per_epoch = -(-len(X) // config.batch)
        self.model = MLPClassifier(
            hidden_layer_sizes=tuple(config.sizes[1:-1]), activation="relu", solver="sgd",
            learning_rate_init=lr, momentum=0.0, nesterovs_momentum=False, alpha=0.0,
            batch_size=config.batch, shuffle=True, random_state=seed,
        )
        self.classes = np.arange(config.sizes[-1])

    def epoch(self) -> None:
        """One pass over the data (the first call also initialises the weights)."""
        if hasattr(self.model, "coefs_"):
            self.model.partial_fit(self.X, self.labels)
        else:
            self.model.partial_fit(self.X, self.labels, classes=self.classes)

    @property
    def dtype(self) -> str | None:
        """The dtype MLPClassifier trains in (it keeps float32 inputs); None before the first epoch."""
        return str(self.model.coefs_[0].dtype) if hasattr(self.model, "coefs_") else None
