"""Extra plugins for deltaw, all in one package (entry point ``extras``).

* cost ``log-cosh`` — C_x = Σ_j ln cosh(a_j − y_j)
* activations ``mish`` — z·tanh(softplus z), and ``softsign`` — z/(1 + |z|)
* data set ``checkerboard`` — 2-D points coloured like a chessboard
"""

from __future__ import annotations

import deltaw
from deltaw_extras.activations import Mish, Softsign
from deltaw_extras.costs import LogCosh
from deltaw_extras.datasets import Checkerboard

__version__ = "0.1.0"
__all__ = ["Checkerboard", "LogCosh", "Mish", "Softsign"]


@deltaw.hookimpl
def register_costs(register):
    register("log-cosh", LogCosh)


@deltaw.hookimpl
def register_activations(register):
    register("mish", Mish)
    register("softsign", Softsign)


@deltaw.hookimpl
def register_datasets(register):
    register("checkerboard", Checkerboard)
