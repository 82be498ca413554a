"""Small synthetic classification sets, drawn from the run's rng (same seed, same data).

Every set draws its training, validation and test splits one after another
from the rng it is given, each split with its classes balanced (counts differ
by at most one) and its rows shuffled. Inputs are 2-D points roughly inside
[-1.5, 1.5]² (``blobs`` may have any number of features); targets are one-hot.
``info`` describes the set (``{"kind": "2d", "input_dim": 2, "classes": …}``);
a run records it in its environment.json.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

import deltaw
from deltaw.errors import DataError
from deltaw.memory import check_fits, many
from deltaw.plugins.datasets.splits import Amount, as_split, count_of, one_hot

TAU = 2 * np.pi


class SyntheticParams(BaseModel):
    """Sizes shared by every synthetic set."""

    model_config = ConfigDict(extra="forbid")

    samples: int = Field(1500, ge=2, description="Total number of points, over all splits.")
    validation: Amount = Field(
        0.1,
        description="Validation points: a fraction of `samples` (below 1) or a count; 0 = no "
        "validation split.",
    )
    test: Amount = Field(
        0.2,
        description="Test points: a fraction of `samples` (below 1) or a count; 0 = no test split.",
    )


class Synthetic(deltaw.Dataset):
    """Base of the synthetic sets: sizes, balanced labels, one-hot targets; subclasses draw the
    points."""

    Params: ClassVar[Any] = SyntheticParams
    name: ClassVar[str] = "synthetic"

    def n_classes(self) -> int:
        return 2

    def n_features(self) -> int:
        return 2

    def prepare(self, rng: np.random.Generator) -> Any:
        """Anything every split shares (drawn once, before the splits), passed to :meth:`points`."""
        return None

    def points(self, labels: np.ndarray, rng: np.random.Generator, shared: Any) -> np.ndarray:
        """Float64 inputs of shape (len(labels), features) for the given class labels."""
        raise NotImplementedError

    def draw(self, n: int, rng: np.random.Generator, dtype: np.dtype, shared: Any) -> deltaw.Split:
        """``n`` shuffled points, classes balanced."""
        labels = rng.permutation(np.arange(n) % self.n_classes())
        x = self.points(labels, rng, shared)
        return as_split(x, one_hot(labels, self.n_classes(), dtype), dtype)

    def check_memory(self, samples: int, dtype: np.dtype) -> None:
        """Refuse, before drawing, a set that cannot fit in memory (the points are drawn in
        float64, then cast; labels and their permutation are int64; targets one-hot)."""
        d, k = self.n_features(), self.n_classes()
        need = samples * (3 * 8 * d + dtype.itemsize * (d + k) + 2 * 8) + 8 * k * d
        check_fits(
            need,
            f"data ({self.name}): samples = {many(samples)} points of {many(d)} features and "
            f"{many(k)} "
            f"classes, in {dtype}",
            "Lower data.samples (a synthetic set learns well from a few thousand points).",
            DataError,
        )

    def load(self, rng: np.random.Generator, dtype: np.dtype) -> deltaw.DataSplits:
        p, dtype = self.params, np.dtype(dtype)
        self.check_memory(p.samples, dtype)
        n_val, n_test = count_of(p.validation, p.samples), count_of(p.test, p.samples)
        n_train = p.samples - n_val - n_test
        if n_train < self.n_classes():
            raise DataError(
                f"data ({self.name}): samples = {p.samples} with validation = {n_val} and test = "
                f"{n_test} points leaves "
                f"{max(n_train, 0)} for training, fewer than the {self.n_classes()} classes. Raise "
                "data.samples or lower "
                f"data.validation / data.test."
            )
        shared = self.prepare(rng)
        train = self.draw(n_train, rng, dtype, shared)
        validation = self.draw(n_val, rng, dtype, shared) if n_val else None
        test = self.draw(n_test, rng, dtype, shared) if n_test else None
        d = self.n_features()
        info = {
            "classes": self.n_classes(),
            "input_dim": d,
            "outputs": self.n_classes(),
            "kind": "2d" if d == 2 else "tabular",
            "task": "classification",
            "source": self.name,
        }
        return deltaw.DataSplits(train, validation, test, info)


def _noise(rng: np.random.Generator, n: int, sigma: float, d: int = 2) -> np.ndarray:
    return sigma * rng.standard_normal((n, d)) if sigma else np.zeros((n, d))


class Spirals(Synthetic):
    """Interleaved spiral arms, one per class: the classic set a linear model cannot separate.

    Yields 2-D points in about [-1, 1]² and one-hot targets (``classes``
    columns). The point of arm k at radius r (uniform in [0.1, 1]: the centre,
    where every arm meets, is left out) has the angle 2πk/classes + 2π·turns·r;
    gaussian ``noise`` (standard deviation, in units of the outer radius) is
    then added to each coordinate.
    Parameters: ``classes`` 3, ``samples`` 1500 (total), ``turns`` 0.75,
    ``noise`` 0.05, ``validation`` 0.1, ``test`` 0.2 (fractions below 1, or
    counts).
    Reference: the spiral data of Stanford's CS231n notes ("Putting it together:
    minimal neural network case study"); K. Lang and M. Witbrock, "Learning to
    tell two spirals apart" (1988).
    """

    name = "spirals"

    class Params(SyntheticParams):
        classes: int = Field(3, ge=2, description="Number of arms, one class each.")
        turns: float = Field(
            0.75, gt=0, le=5, description="How many times each arm winds around the centre."
        )
        noise: float = Field(
            0.05,
            ge=0,
            description="Standard deviation of the gaussian noise added to each coordinate (outer "
            "radius = 1).",
        )

    def n_classes(self) -> int:
        return self.params.classes

    def points(
        self, labels: np.ndarray, rng: np.random.Generator, shared: Any = None
    ) -> np.ndarray:
        p, n = self.params, len(labels)
        r = rng.uniform(0.1, 1.0, n)  # keep clear of the centre, where every arm meets
        angle = TAU * labels / p.classes + TAU * p.turns * r
        return np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1) + _noise(rng, n, p.noise)


class Moons(Synthetic):
    """Two interleaving half circles ("moons"), one per class.

    Yields 2-D points centred on the origin (x in about [-1.5, 1.5], y in
    about [-0.75, 0.75]) and one-hot targets of 2 classes: class 0 on the upper
    unit half circle, class 1 on the lower one shifted right by 1 and up by
    0.5, both moved by (-0.5, -0.25) so the set is centred; gaussian ``noise``
    is added to each coordinate.
    Parameters: ``samples`` 1500 (total), ``noise`` 0.1, ``validation`` 0.1,
    ``test`` 0.2 (fractions below 1, or counts).
    Reference: scikit-learn's ``make_moons`` (same shape, centred here).
    """

    name = "moons"

    class Params(SyntheticParams):
        noise: float = Field(
            0.1,
            ge=0,
            description="Standard deviation of the gaussian noise added to each coordinate.",
        )

    def points(
        self, labels: np.ndarray, rng: np.random.Generator, shared: Any = None
    ) -> np.ndarray:
        n = len(labels)
        t = rng.uniform(0, np.pi, n)
        upper = np.stack([np.cos(t), np.sin(t)], axis=1)
        lower = np.stack([1 - np.cos(t), 0.5 - np.sin(t)], axis=1)
        x = np.where(labels[:, None] == 0, upper, lower) - np.array([0.5, 0.25])
        return x + _noise(rng, n, self.params.noise)


class Circles(Synthetic):
    """A ring around a smaller ring: class 0 outside (radius 1), class 1 inside (radius ``factor``).

    Yields 2-D points in about [-1, 1]² and one-hot targets of 2 classes; the
    angle of each point is uniform, and gaussian ``noise`` is added to each
    coordinate.
    Parameters: ``factor`` 0.5 (inner radius / outer radius), ``samples`` 1500
    (total), ``noise`` 0.05, ``validation`` 0.1, ``test`` 0.2 (fractions
    below 1, or counts).
    Reference: scikit-learn's ``make_circles``.
    """

    name = "circles"

    class Params(SyntheticParams):
        factor: float = Field(
            0.5, gt=0, lt=1, description="Radius of the inner circle relative to the outer one."
        )
        noise: float = Field(
            0.05,
            ge=0,
            description="Standard deviation of the gaussian noise added to each coordinate.",
        )

    def points(
        self, labels: np.ndarray, rng: np.random.Generator, shared: Any = None
    ) -> np.ndarray:
        n, p = len(labels), self.params
        t = rng.uniform(0, TAU, n)
        r = np.where(labels == 0, 1.0, p.factor)
        return np.stack([r * np.cos(t), r * np.sin(t)], axis=1) + _noise(rng, n, p.noise)


class Xor(Synthetic):
    """XOR in the plane: class 0 where x and y have the same sign, class 1 where they differ.

    Yields 2-D points and one-hot targets of 2 classes. ``layout: clusters``
    puts four gaussian clusters (standard deviation ``noise``, default 0.15) at
    (±0.5, ±0.5); ``layout: quadrants`` spreads the points uniformly over the
    quadrants of [-1, 1]² and then adds gaussian ``noise`` (default 0) to each
    coordinate — points near the axes may then cross them, so even 0.05 caps the
    attainable accuracy near 95%.
    Parameters: ``layout`` "clusters", ``samples`` 1500 (total), ``noise``
    0.15 (clusters) or 0 (quadrants), ``validation`` 0.1, ``test`` 0.2
    (fractions below 1, or counts).
    Reference: M. Minsky and S. Papert, Perceptrons (1969) — the function a
    single layer cannot compute; Nielsen, ch. 1 (networks of perceptrons).
    """

    name = "xor"

    class Params(SyntheticParams):
        layout: Literal["clusters", "quadrants"] = Field(
            "clusters",
            description="Four gaussian clusters, or uniform points in the four quadrants.",
        )
        noise: float | None = Field(
            None,
            ge=0,
            description="Cluster standard deviation (clusters; default 0.15), or noise added to "
            "each coordinate (quadrants; default 0).",
        )

    def points(
        self, labels: np.ndarray, rng: np.random.Generator, shared: Any = None
    ) -> np.ndarray:
        n, p = len(labels), self.params
        sx = rng.choice([-1.0, 1.0], n)  # each class has two quadrants: pick one
        sy = np.where(labels == 0, sx, -sx)
        signs = np.stack([sx, sy], axis=1)
        if p.layout == "clusters":
            return 0.5 * signs + _noise(rng, n, 0.15 if p.noise is None else p.noise)
        return signs * rng.uniform(0, 1, (n, 2)) + _noise(rng, n, p.noise or 0.0)


class Blobs(Synthetic):
    """Gaussian blobs, one per class, around well-separated centres in any number of dimensions.

    Yields points of ``features`` dimensions and one-hot targets (``classes``
    columns). The centres lie at distance 1 from the origin: evenly spaced on
    the unit circle (with a random rotation) in 2-D, evenly spaced on [-1, 1]
    in 1-D, and drawn at random on the unit sphere in more dimensions. Each
    blob is an isotropic gaussian with standard deviation ``spread``.
    Parameters: ``classes`` 3, ``features`` 2, ``spread`` 0.2, ``samples`` 1500
    (total), ``validation`` 0.1, ``test`` 0.2 (fractions below 1, or counts).
    Reference: scikit-learn's ``make_blobs`` (centres placed differently).
    """

    name = "blobs"

    class Params(SyntheticParams):
        classes: int = Field(3, ge=2, description="Number of blobs, one class each.")
        features: int = Field(2, ge=1, description="Dimension of the inputs.")
        spread: float = Field(
            0.2, ge=0, description="Standard deviation of each blob around its centre."
        )

    def n_classes(self) -> int:
        return self.params.classes

    def n_features(self) -> int:
        return self.params.features

    def prepare(self, rng: np.random.Generator) -> np.ndarray:
        """The blob centres, shared by every split."""
        k, d = self.params.classes, self.params.features
        if d == 1:
            return np.linspace(-1, 1, k)[:, None]
        if d == 2:
            angle = rng.uniform(0, TAU) + TAU * np.arange(k) / k
            return np.stack([np.cos(angle), np.sin(angle)], axis=1)
        c = rng.standard_normal((k, d))
        return c / np.linalg.norm(c, axis=1, keepdims=True)

    def points(
        self, labels: np.ndarray, rng: np.random.Generator, shared: Any = None
    ) -> np.ndarray:
        return shared[labels] + _noise(rng, len(labels), self.params.spread, self.params.features)
