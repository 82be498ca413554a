"""deltaw from Python, for notebooks and scripts: train, resume, sweep and load runs.

::

    import deltaw

    run = deltaw.run("examples/quickstart.yaml", set={"training.epochs": 5})
    run.history[-1]            # the last epoch's metrics; run.df is a pandas DataFrame
    run.predict(x)             # outputs and classes
    run.evaluate()             # metrics per split, as `deltaw predict` reports them

These functions (:mod:`deltaw.api.calls`) write the same run and sweep folders as
``deltaw run`` and ``deltaw sweep``, so a run made here is reported, plotted, predicted
and resumed from the shell, and the other way round. :class:`Run` and :class:`Sweep`
(:mod:`deltaw.api.handles`) read those folders. A spec given as a dict or a
:class:`~deltaw.spec.models.Spec` has no file: the run folder's ``spec.yaml`` is written
from it (:mod:`deltaw.api.specs`), so such a run resumes like any other. Progress is drawn
with rich on stderr, or into the notebook under Jupyter (:mod:`deltaw.api.display`);
``quiet=True`` shows nothing. The package sits on top of ``runs``, beside ``cli``, whose
progress display it borrows.
"""

from deltaw.api.calls import load_run, load_sweep, resume, run, sweep, validate
from deltaw.api.handles import Prediction, Run
from deltaw.api.sweeps import Sweep

__all__ = [
    "Prediction",
    "Run",
    "Sweep",
    "load_run",
    "load_sweep",
    "resume",
    "run",
    "sweep",
    "validate",
]
