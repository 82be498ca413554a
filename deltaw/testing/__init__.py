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

One module per kind: ``deltaw.testing.costs``, ``.activations``,
``.initializers``, ``.optimizers`` (with ``.reference``), ``.regularizers``;
everything public is importable from ``deltaw.testing`` itself.
"""

from __future__ import annotations

from deltaw.testing._common import FD_STEP, FD_TOL
from deltaw.testing.activations import check_activation
from deltaw.testing.costs import KINK_GAP, check_cost
from deltaw.testing.initializers import check_initializer
from deltaw.testing.optimizers import check_optimizer
from deltaw.testing.reference import REFERENCE_STEPS, Trajectory, reference_inputs
from deltaw.testing.regularizers import check_regularizer
from deltaw.testing.settings import DEFAULT_SETTINGS, param_settings

__all__ = [
    "DEFAULT_SETTINGS",
    "FD_STEP",
    "FD_TOL",
    "KINK_GAP",
    "REFERENCE_STEPS",
    "Trajectory",
    "check_activation",
    "check_cost",
    "check_initializer",
    "check_optimizer",
    "check_regularizer",
    "param_settings",
    "reference_inputs",
]
