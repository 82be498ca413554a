"""The checkerboard: a 2-D classification set no single straight line gets right."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

import deltaw
from deltaw.errors import DataError


class Checkerboard(deltaw.Dataset):
    """Points in [-1, 1]² coloured like a chessboard of ``cells`` × ``cells`` squares.

    Two classes (one-hot targets), 2 inputs. A point's class is the parity
    of its row plus its column; gaussian ``noise`` then moves it, so classes
    overlap near the borders of the squares. The splits are drawn one after
    another from the run's generator. Parameters: ``samples`` 2000 (total),
    ``cells`` 4, ``noise`` 0.0, ``validation`` 0.1 and ``test`` 0.2
    (fractions of the samples). A classic test of how many hidden units a
    network needs (TensorFlow Playground's "exclusive or" generalised).
    """

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        samples: int = Field(2000, ge=10, description="points over all splits")
        cells: int = Field(4, ge=2, le=64, description="squares per side of the board")
        noise: float = Field(
            0.0,
            ge=0,
            description="standard deviation of the gaussian jitter added to each coordinate",
        )
        validation: float = Field(
            0.1, ge=0, lt=1, description="fraction of the samples held out for validation"
        )
        test: float = Field(
            0.2, ge=0, lt=1, description="fraction of the samples held out for testing"
        )

        @model_validator(mode="after")
        def _leaves_training_data(self):
            if self.validation + self.test >= 1:
                raise ValueError("validation + test must be below 1, leaving points for training")
            return self

    def load(self, rng, dtype):
        p = self.params
        n_val, n_test = round(p.validation * p.samples), round(p.test * p.samples)
        n_train = p.samples - n_val - n_test
        if n_train < 2:
            raise DataError(
                f"data (checkerboard): samples = {p.samples} leaves {n_train} training points;"
                " raise data.samples."
            )
        splits = [
            self._draw(n, rng, np.dtype(dtype)) if n else None for n in (n_train, n_val, n_test)
        ]
        info = {
            "classes": 2,
            "input_dim": 2,
            "outputs": 2,
            "kind": "2d",
            "task": "classification",
            "source": "checkerboard",
        }
        return deltaw.DataSplits(splits[0], splits[1], splits[2], info)

    def _draw(self, n, rng, dtype):
        p = self.params
        x = rng.uniform(-1.0, 1.0, size=(n, 2))
        cell = np.minimum(
            ((x + 1.0) / 2.0 * p.cells).astype(int), p.cells - 1
        )  # row and column of each point
        labels = (cell[:, 0] + cell[:, 1]) % 2
        if p.noise:
            x = x + p.noise * rng.standard_normal(x.shape)
        return deltaw.Split(x.astype(dtype), np.eye(2, dtype=dtype)[labels])
