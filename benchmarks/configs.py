"""The benchmarked networks and batches, with their FLOP counts and matmul shapes."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DIGITS_BATCH", "DIGITS_SIZES", "GPU_EXTRA_CONFIGS", "STEP_CONFIGS", "TINY_CONFIG", "Config"]


@dataclass(frozen=True)
class Config:
    """One network (layer sizes n^[0..L]) trained with one batch size m.

    Hidden layers use ReLU, the output softmax with categorical cross-entropy.
    """

    name: str
    sizes: tuple[int, ...]
    batch: int
    regime: str

    @property
    def layer_shapes(self) -> list[tuple[int, int]]:
        """(n^[l], n^[l-1]) for l = 1..L: the shape of each W^[l]."""
        return list(zip(self.sizes[1:], self.sizes[:-1]))

    @property
    def n_params(self) -> int:
        """Σ n^[l](n^[l-1] + 1)."""
        return sum(n_out * (n_in + 1) for n_out, n_in in self.layer_shapes)

    def matmul_shapes(self) -> list[tuple[str, int, int, int, bool, bool]]:
        """Every matrix product of one training step, C = A(M×K) B(K×N), as
        (label, M, K, N, A is a transposed view, B is a transposed view).

        Forward P1 (5): Z^[l] = W^[l] A^[l-1]; backward P1 (15): dW^[l] = dZ^[l] A^[l-1]ᵀ;
        P1 (22): dA^[l-1] = W^[l]ᵀ dZ^[l] for l ≥ 2 (dJ/dX is never computed). The
        flags give the operand layouts of the column-layout step, where A^[0] = Xᵀ is
        a transposed view of the row-layout batch and everything else is contiguous.
        """
        m = self.batch
        shapes = []
        for l, (n_out, n_in) in enumerate(self.layer_shapes, start=1):
            shapes.append((f"Z{l}=W{l}A{l - 1}", n_out, n_in, m, False, l == 1))
            shapes.append((f"dW{l}=dZ{l}A{l - 1}T", n_out, m, n_in, False, l > 1))
            if l > 1:
                shapes.append((f"dA{l - 1}=W{l}TdZ{l}", n_in, n_out, m, True, False))
        return shapes

    @property
    def flops_per_step(self) -> int:
        """2·M·K·N summed over :meth:`matmul_shapes`: 6·m·Σ n^[l]n^[l-1] − 2·m·n^[1]n^[0]."""
        return sum(2 * M * K * N for _, M, K, N, _, _ in self.matmul_shapes())

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "sizes": list(self.sizes),
            "batch": self.batch,
            "regime": self.regime,
            "n_params": self.n_params,
            "flops_per_step": self.flops_per_step,
        }


STEP_CONFIGS: tuple[Config, ...] = (
    Config("small", (64, 128, 64, 10), 64, "overhead-bound"),
    Config("mnist-128", (784, 256, 256, 10), 128, "mixed"),
    Config("mnist-1024", (784, 256, 256, 10), 1024, "mixed"),
    Config("large", (1024, 4096, 4096, 10), 512, "matmul-bound"),
)

GPU_EXTRA_CONFIGS: tuple[Config, ...] = (
    Config("mnist-8192", (784, 256, 256, 10), 8192, "GPU-saturating"),
    Config("large-4096", (1024, 4096, 4096, 10), 4096, "GPU-saturating"),
)

TINY_CONFIG = Config("tiny", (6, 5, 4, 3), 8, "test")

DIGITS_SIZES: tuple[int, ...] = (64, 128, 64, 10)
DIGITS_BATCH = 64
