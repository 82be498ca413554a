"""``check_callback``: driven through a run as the trainer drives it; a resume equals no
interruption."""

from __future__ import annotations

import copy
import fnmatch
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from deltaw.core.base import Callback, overrides
from deltaw.core.network import Network
from deltaw.core.run_context import RunContext
from deltaw.core.training import Trainer
from deltaw.runs.checkpoint import save_run_checkpoint
from deltaw.testing._common import Settings, fail, instances
from deltaw.testing._records import records, same, through_checkpoint

__all__ = ["check_callback"]

STEPS = 3  # mini-batches per epoch (on_batch_end is called for each)


def check_callback(
    callback: Callback | type[Callback],
    *,
    epochs: int = 24,
    seed: int = 0,
    settings: Settings = None,
) -> None:
    """Check a callback against the contract; raise ``AssertionError`` on the first failure.

    The callback runs with a real :class:`~deltaw.core.training.Trainer` (a
    small network, ``trainer.run`` a :class:`~deltaw.core.run_context.RunContext`
    on a temporary run folder whose ``save_checkpoint`` writes the run's
    checkpoint format) and is driven as ``Trainer.fit`` drives it:
    ``on_run_start``, per epoch the weights move, ``on_batch_end`` per batch
    (if overridden) and ``on_epoch_end(trainer, epoch, record)`` with records
    whose metrics improve for 8 epochs, then plateau (one ``training_cost``
    is NaN late in the run), until something sets ``trainer.stop``;
    ``on_run_end`` last.

    * ``on_epoch_end`` leaves the record alone; a stop comes with a
      ``trainer.stop_reason``;
    * two runs from the same start agree: stops, weights, ``state_dict()`` and
      every file written into the run folder;
    * ``state_dict`` → the run's checkpoint file → ``load_state_dict`` in a
      fresh copy, resumed (``trainer.run.resumed_from`` set, ``on_run_start``
      called again) after epoch 1, and halfway to and just before where the
      run ends, gives the same stops, weights, state and run folder as the
      uninterrupted run.

    ``callback`` is an instance, or a class checked at several settings of its
    ``Params`` (``settings``: see :func:`deltaw.testing.param_settings`).
    """
    for cb, check in instances(callback, Callback, "check_callback", settings):
        run = _Run(check, cb, epochs, seed)
        with tempfile.TemporaryDirectory() as tmp:
            a = run.straight(Path(tmp) / "a")
            b = run.straight(Path(tmp) / "b")
            run.compare(a, b, "two runs from the same start differ")
            end = a["epochs"]
            for k in sorted({1, end // 2, end - 1}):
                if 0 < k < end:
                    resumed = run.resumed(Path(tmp) / f"r{k}", k)
                    run.compare(a, resumed, f"resumed after epoch {k}, the run differs")


class _Run:
    def __init__(self, check: str, cb: Callback, epochs: int, seed: int) -> None:
        self.check, self.pristine, self.epochs, self.seed = check, copy.deepcopy(cb), epochs, seed
        self.records = records(epochs, seed, [cb], 0.1, nan_at=max(2, (4 * epochs) // 5))
        rng = np.random.default_rng(seed)
        net = Network([3, 4, 2], _activations(), dtype=np.float64)
        net.weights = [rng.standard_normal(w.shape) for w in net.weights]
        net.biases = [rng.standard_normal(b.shape) for b in net.biases]
        self.network = net
        self.moves = [[rng.standard_normal(p.shape) for p in net.params()] for _ in range(epochs)]

    def trainer(self, cb: Callback, folder: Path, resumed_from: int | None = None) -> Trainer:
        from deltaw.plugins.costs import Quadratic
        from deltaw.plugins.optimizers import SGD

        folder.mkdir(parents=True, exist_ok=True)
        net = copy.deepcopy(self.network)
        t = Trainer(
            net,
            Quadratic(),
            SGD(lr=0.1),
            epochs=self.epochs,
            batch_size=4,
            rng=np.random.default_rng(self.seed),
            callbacks=[cb],
        )

        def save_checkpoint(path: Path) -> None:
            save_run_checkpoint(Path(path), t.state_dict(), [cb.state_dict()])

        t.run = RunContext(folder, save_checkpoint, resumed_from)
        return t

    def drive(self, t: Trainer, cb: Callback, end: int, trace: list) -> None:
        """``Trainer.fit``'s callback protocol, from ``t.epoch`` to ``end``, with fixed records."""
        batches = overrides(cb, Callback, "on_batch_end")
        cb.on_run_start(t)
        try:
            while t.epoch < end and not t.stop:
                for p, move in zip(t.network.params(), self.moves[t.epoch]):
                    p += 0.05 * move  # what an epoch of training would do to the weights
                if batches:
                    for batch in range(1, STEPS + 1):
                        t.step += 1
                        cb.on_batch_end(t, t.epoch + 1, batch)
                else:
                    t.step += STEPS
                t.epoch += 1
                record = dict(self.records[t.epoch - 1])
                t.history.append(dict(record))
                cb.on_epoch_end(t, t.epoch, record)
                if not same(record, self.records[t.epoch - 1]):
                    fail(self.check, f"on_epoch_end changed the record of epoch {t.epoch}")
                if t.stop and not (isinstance(t.stop_reason, str) and t.stop_reason):
                    fail(
                        self.check,
                        f"set trainer.stop at epoch {t.epoch} without trainer.stop_reason; say "
                        "why, the run shows it",
                    )
                trace.append((t.epoch, bool(t.stop), t.stop_reason))
        finally:
            cb.on_run_end(t)

    def straight(self, folder: Path) -> dict[str, Any]:
        cb = copy.deepcopy(self.pristine)
        t, trace = self.trainer(cb, folder), []
        self.drive(t, cb, self.epochs, trace)
        return self._outcome(t, cb, folder, trace)

    def resumed(self, folder: Path, k: int) -> dict[str, Any]:
        cb = copy.deepcopy(self.pristine)
        t, trace = self.trainer(cb, folder), []
        self.drive(t, cb, k, trace)  # interrupted after epoch k
        state, cb_states = through_checkpoint(t.state_dict(), [cb.state_dict()])
        cb = copy.deepcopy(self.pristine)  # a new process: only the checkpoint carries over
        t = self.trainer(cb, folder, resumed_from=k)
        t.load_state_dict(state)
        if cb_states and cb_states[0] is not None:
            cb.load_state_dict(cb_states[0])
        self.drive(t, cb, self.epochs, trace)
        return self._outcome(t, cb, folder, trace)

    def _outcome(self, t: Trainer, cb: Callback, folder: Path, trace: list) -> dict[str, Any]:
        return {
            "epochs": t.epoch,
            "trace": trace,
            "weights": [p.copy() for p in t.network.params()],
            "state": cb.state_dict(),
            "files": _files(folder, type(cb).volatile_files),
        }

    def compare(self, want: dict[str, Any], got: dict[str, Any], what: str) -> None:
        check = self.check
        for (e1, stop1, why1), (_, stop2, why2) in zip(want["trace"], got["trace"]):
            if (stop1, why1) != (stop2, why2):
                fail(
                    check,
                    f"{what}: after epoch {e1} trainer.stop is {stop2} ({why2!r}) where it "
                    f"should be {stop1} ({why1!r}); keep what on_epoch_end learns in state_dict",
                )
        if want["epochs"] != got["epochs"]:
            fail(check, f"{what}: it ends after epoch {got['epochs']}, not {want['epochs']}")
        if not same(want["weights"], got["weights"]):
            fail(check, f"{what}: the weights at the end differ")
        names1, names2 = sorted(want["files"]), sorted(got["files"])
        if names1 != names2:
            fail(check, f"{what}: the run folder holds {names2} where it should hold {names1}")
        for name in names1:
            if not same(want["files"][name], got["files"][name]):
                fail(
                    check,
                    f"{what}: the file {name} in the run folder differs; on resume, continue "
                    "the file from what the checkpoint says was written",
                )
        if not same(want["state"], got["state"]):
            fail(
                check,
                f"{what}: state_dict() at the end is {_short(got['state'])} where it should be "
                f"{_short(want['state'])}",
            )


def _activations() -> list[Any]:
    from deltaw.plugins.activations import Sigmoid

    return [Sigmoid(), Sigmoid()]


def _files(folder: Path, volatile: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every file under ``folder``: bytes, or for ``.npz`` the arrays (zip stamps differ).

    Files matching a ``volatile`` pattern count by their presence only: their names and
    bytes carry wall-clock stamps.
    """
    out: dict[str, Any] = {}
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        name = path.relative_to(folder).as_posix()
        pattern = next((p for p in volatile if fnmatch.fnmatch(name, p)), None)
        if pattern is not None:
            out[pattern] = b"(present)"
        elif path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                out[name] = {k: z[k] for k in z.files}
        else:
            out[name] = path.read_bytes()
    return out


def _short(state: Any) -> str:
    text = repr(state)
    return text if len(text) <= 200 else text[:200] + "…"
