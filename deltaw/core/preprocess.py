"""Input standardisation: every feature shifted and scaled to mean 0, std 1 on the training split.

Tables come with features in their own units (wine's proline near 1000, its
hue near 1): fed as they are, the large ones saturate tanh and sigmoid units
from the first mini-batch, whatever the learning rate. :class:`Standardizer`
learns each feature's mean and standard deviation from the training split
only (no peeking at validation or test rows) and applies the same
``(x − mean) / std`` to every split and, later, to whatever a trained run is
asked to predict. A constant feature (std 0) is only shifted (std taken as 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deltaw.core.base import Array, DataSplits, Split


@dataclass(frozen=True)
class Standardizer:
    """``x ↦ (x − mean) / std`` per feature, with ``mean`` and ``std`` from the training inputs."""

    mean: Array  # (n_in,), float64
    std: Array  # (n_in,), float64, no zeros

    @classmethod
    def fit(cls, x: Array) -> Standardizer:
        """The statistics of the rows of ``x`` (computed in float64; std 0 → 1)."""
        mean = np.mean(x, axis=0, dtype=np.float64)
        std = np.std(x, axis=0, dtype=np.float64)
        std[std == 0] = 1.0  # a constant feature: shifted to 0, not divided by 0
        return cls(mean, std)

    def apply(self, x: Array) -> Array:
        """``(x − mean) / std`` as a new array in ``x``'s dtype (float32 stays float32)."""
        if x.shape[1:] != self.mean.shape:
            raise ValueError(
                f"inputs of shape {x.shape} do not have the {len(self.mean)} features "
                "the statistics were taken on"
            )
        out = np.subtract(x, self.mean.astype(x.dtype, copy=False))
        out /= self.std.astype(x.dtype, copy=False)
        return out

    def apply_splits(self, data: DataSplits) -> DataSplits:
        """Every split of ``data`` with its inputs standardised (targets and info as they are)."""
        splits = {name: Split(self.apply(s.x), s.y) for name, s in data.items()}
        return DataSplits(
            splits["training"], splits.get("validation"), splits.get("test"), data.info
        )

    def arrays(self) -> dict[str, Array]:
        """``{"mean": …, "std": …}``, for a run folder's ``preprocess.npz``."""
        return {"mean": self.mean, "std": self.std}
