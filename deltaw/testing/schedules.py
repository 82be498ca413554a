"""``check_schedule``: rates, stop requests, determinism, and a resume equal to no interruption."""

from __future__ import annotations

import copy
import math
from typing import Any

from deltaw.core.base import Schedule
from deltaw.testing._common import Settings, fail, instances
from deltaw.testing._records import records, same, through_checkpoint

__all__ = ["check_schedule"]

Event = tuple[Any, ...]


def check_schedule(
    schedule: Schedule | type[Schedule],
    *,
    epochs: int = 30,
    steps_per_epoch: int = 4,
    base_lr: float = 0.1,
    seed: int = 0,
    settings: Settings = None,
) -> None:
    """Check a learning-rate schedule against the contract; raise ``AssertionError`` on failure.

    The schedule is driven as ``Trainer.fit`` drives it: ``configure(epochs,
    steps_per_epoch)`` first, then ``lr(base_lr, epoch, step)`` once per epoch
    (every step when ``per_step``), and ``on_epoch_end(epoch, record)`` with
    per-epoch records whose metrics improve for 8 epochs and then plateau
    (the watched ``monitor`` key included), until it asks to stop.

    * every rate is a finite number ≥ 0;
    * ``on_epoch_end`` returns a bool, leaves the record alone, and when it
      asks to stop says why in ``stop_reason``;
    * two fresh copies give the same rates and stops;
    * ``state_dict`` → the run's checkpoint file → ``load_state_dict`` in a
      fresh copy (then ``configure``, as a resumed run does) after epoch 1, a
      third and two thirds of the run gives the same rates and stops from
      there on as the uninterrupted run.

    ``schedule`` is an instance, or a class checked at several settings of its
    ``Params`` (``settings``: see :func:`deltaw.testing.param_settings`).
    """
    for sched, check in instances(schedule, Schedule, "check_schedule", settings):
        run = _Run(check, sched, epochs, steps_per_epoch, base_lr, seed)
        straight = run.events(copy.deepcopy(sched), 0)
        if run.events(copy.deepcopy(sched), 0) != straight:
            fail(check, "two fresh copies gave different rates or stops for the same records")
        last = max(e[1] for e in straight)
        for k in sorted({1, epochs // 3, 2 * epochs // 3}):
            if 0 < k <= last:
                run.check_resume(sched, straight, k)


class _Run:
    """A schedule driven through a run of ``epochs`` epochs, as the trainer drives it."""

    def __init__(
        self, check: str, sched: Schedule, epochs: int, spe: int, base_lr: float, seed: int
    ) -> None:
        self.check, self.epochs, self.spe, self.base_lr = check, epochs, spe, base_lr
        self.records = records(epochs, seed, [sched], base_lr)

    def events(self, sched: Schedule, start: int, end: int | None = None) -> list[Event]:
        """``("lr", epoch, step, rate)`` and ``("stop", epoch, reason)`` of epochs
        start … end − 1."""
        check, out, step = self.check, [], start * self.spe
        sched.configure(self.epochs, self.spe)
        for epoch in range(start, self.epochs if end is None else end):  # 0-based, as fit's
            steps = range(step + 1, step + self.spe + 1) if sched.per_step else [step + 1]
            for s in steps:
                rate = sched.lr(self.base_lr, epoch, s)
                self._check_rate(rate, epoch, s)
                out.append(("lr", epoch, s, float(rate)))
            step += self.spe
            record = dict(self.records[epoch])
            stop = sched.on_epoch_end(epoch, record)
            if not same(record, self.records[epoch]):
                fail(check, f"on_epoch_end changed the record of epoch {epoch}; only read it")
            if not isinstance(stop, bool):
                fail(check, f"on_epoch_end returned {stop!r} at epoch {epoch}; expected a bool")
            if stop:
                reason = sched.stop_reason
                if not (isinstance(reason, str) and reason):
                    fail(
                        check,
                        f"on_epoch_end asked to stop at epoch {epoch} without saying why: "
                        "set self.stop_reason to a sentence the run shows",
                    )
                out.append(("stop", epoch, reason))
                break
        return out

    def _check_rate(self, rate: Any, epoch: int, step: int) -> None:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)):
            try:
                rate = float(rate)  # a numpy number is fine
            except (TypeError, ValueError):
                fail(self.check, f"lr returned {rate!r} at epoch {epoch}; expected a number")
        if not (math.isfinite(float(rate)) and float(rate) >= 0):
            fail(
                self.check,
                f"lr(base_lr={self.base_lr:g}, epoch={epoch}, step={step}) returned {rate}; "
                "expected a finite rate ≥ 0",
            )

    def check_resume(self, pristine: Schedule, straight: list[Event], k: int) -> None:
        """Stop after epoch ``k``, go through a checkpoint into a fresh copy, and go on."""
        first = copy.deepcopy(pristine)
        self.events(first, 0, k)  # the first k epochs, then the run is interrupted
        state, _ = through_checkpoint(
            {"weights": [], "biases": [], "optimizer": [], "schedule": first.state_dict()}
        )
        second = copy.deepcopy(pristine)  # a new process: only the checkpoint carries over
        second.load_state_dict(state["schedule"])
        resumed = self.events(second, k)
        expected = [e for e in straight if e[1] >= k]
        for got, want in zip(resumed + [None], expected + [None]):
            if got != want:
                fail(
                    self.check,
                    f"resumed after epoch {k} (state_dict → checkpoint → load_state_dict in a "
                    f"fresh copy) it gives {_say(got)} where the uninterrupted run gives "
                    f"{_say(want)}; keep everything on_epoch_end learns in state_dict",
                )


def _say(event: Event | None) -> str:
    if event is None:
        return "nothing more"
    if event[0] == "lr":
        return f"lr {event[3]:.10g} at epoch {event[1]}, step {event[2]}"
    return f"a stop at epoch {event[1]}"
