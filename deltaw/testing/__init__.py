"""Contract checks for plugin authors — the same checks every built-in passes.

Call them from your own test suite::

    # tests/test_my_plugin.py
    from deltaw.testing import check_activation, check_cost, check_optimizer
    from my_plugin import Lion, Mish, FocalLoss, lion_step

    def test_lion_keeps_the_contract_and_follows_the_paper():
        check_optimizer(Lion, reference=lion_step)   # a class: several settings

    def test_mish_derivative_is_right():
        check_activation(Mish)

    def test_focal_loss_gradient_is_right():
        check_cost(FocalLoss)                 # γ = 2 (the default), 0, 6, 1
        check_cost(FocalLoss(gamma=0.5))      # an instance: that setting only

A check given a *class* runs at several settings of its ``Params``, drawn
deterministically from the fields' own constraints (the defaults, values near
each bound, in between: see :func:`param_settings`), because a slip in a
derivative can be invisible at the defaults. An instance is checked as it is.

Each check raises ``AssertionError`` naming the check, the plugin with its
parameters (and the setting), where it failed (index, dtype, output
activation, step, epoch) and by how much, e.g.::

    check_activation(Sigmoid): derivative at z[3,1]=0.52 is 0.2499 but finite
    differences give 0.235 (relative error 1.5e-02, tolerance 1e-06)

How derivatives are checked: central finite differences in float64 with step
``FD_STEP`` = 1e-6 at random points away from kinks (|z| ≥ 0.01, probabilities
in [0.05, 0.95]); the error is |analytic − numeric| / max(1, |analytic|,
|numeric|) — relative for values above 1, absolute below, so derivatives that
pass near 0 don't fail on rounding — and must not exceed ``FD_TOL`` = 1e-6.

Costs may declare ``domain`` (a class attribute): ``"real"`` (default: any
output), ``"unit"`` (each a in (0, 1), e.g. binary cross-entropy) or
``"simplex"`` (rows are probability distributions, e.g. log-likelihood).
:func:`check_cost` pairs a cost only with output activations whose outputs fit;
``domain`` is read by these checks only, never by training. A cost with kinks
(hinge at its margin) says how far each row of ``a`` is from them through
``kink_distance(a, y)``; :func:`check_cost` redraws rows until they are at
least ``KINK_GAP`` = 0.01 away, so finite differences never straddle a kink and
the tolerance stays the same.

One module per kind — ``deltaw.testing.costs``, ``.activations``,
``.initializers``, ``.optimizers`` (with ``.reference``), ``.transforms``,
``.regularizers``, ``.metrics``, ``.datasets``, ``.schedules``,
``.callbacks``, ``.executors`` — and :func:`check_plugin` runs the check of
each plugin's kind; everything public is importable from ``deltaw.testing``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # at run time a name loads its module on first use (PEP 562)
    from deltaw.testing._common import FD_STEP, FD_TOL
    from deltaw.testing.activations import check_activation
    from deltaw.testing.callbacks import check_callback
    from deltaw.testing.costs import KINK_GAP, check_cost
    from deltaw.testing.datasets import check_dataset
    from deltaw.testing.executors import check_executor
    from deltaw.testing.initializers import check_initializer
    from deltaw.testing.metrics import check_metric
    from deltaw.testing.optimizers import check_optimizer
    from deltaw.testing.plugins import check_plugin, check_registered
    from deltaw.testing.reference import REFERENCE_STEPS, Trajectory, reference_inputs
    from deltaw.testing.regularizers import check_regularizer
    from deltaw.testing.schedules import check_schedule
    from deltaw.testing.settings import DEFAULT_SETTINGS, param_settings
    from deltaw.testing.transforms import check_transform

# Public name → its module, imported on first use: a sweep worker that imports
# deltaw.testing.executors for its job function pays for nothing else.
_LAZY = {
    "FD_STEP": "_common",
    "FD_TOL": "_common",
    "check_activation": "activations",
    "check_callback": "callbacks",
    "KINK_GAP": "costs",
    "check_cost": "costs",
    "check_dataset": "datasets",
    "check_executor": "executors",
    "check_initializer": "initializers",
    "check_metric": "metrics",
    "check_optimizer": "optimizers",
    "check_plugin": "plugins",
    "check_registered": "plugins",
    "REFERENCE_STEPS": "reference",
    "Trajectory": "reference",
    "reference_inputs": "reference",
    "check_regularizer": "regularizers",
    "check_schedule": "schedules",
    "DEFAULT_SETTINGS": "settings",
    "param_settings": "settings",
    "check_transform": "transforms",
}

__all__ = [
    "DEFAULT_SETTINGS",
    "FD_STEP",
    "FD_TOL",
    "KINK_GAP",
    "REFERENCE_STEPS",
    "Trajectory",
    "check_activation",
    "check_callback",
    "check_cost",
    "check_dataset",
    "check_executor",
    "check_initializer",
    "check_metric",
    "check_optimizer",
    "check_plugin",
    "check_registered",
    "check_regularizer",
    "check_schedule",
    "check_transform",
    "param_settings",
    "reference_inputs",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
