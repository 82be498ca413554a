"""Built-in data sets: MNIST, synthetic 2-D sets, and the user's own npz/csv files.

Registered through the public hook, exactly as a third-party package would.
"""

from __future__ import annotations

from typing import Any

import deltaw
from deltaw.plugins.datasets.csvfile import Csv
from deltaw.plugins.datasets.files import Npz
from deltaw.plugins.datasets.mnist import Mnist
from deltaw.plugins.datasets.synthetic import Blobs, Circles, Moons, Spirals, Xor


@deltaw.hookimpl
def register_datasets(register: Any) -> None:
    register("mnist", Mnist)
    register("spirals", Spirals)
    register("moons", Moons)
    register("circles", Circles)
    register("xor", Xor)
    register("blobs", Blobs)
    register("npz", Npz)
    register("csv", Csv)
