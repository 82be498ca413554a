"""Built-in learning-rate schedules, registered through the public hook like any plugin.

A schedule turns the optimizer's base rate η (``optimizer.lr``) into the rate
of an epoch, or of a step for ``per_step`` schedules: ``lr(base_lr, epoch,
step)`` with ``epoch`` 0-based and ``step`` the 1-based global update count.
Plateau rules (``reduce-on-plateau``, ``nielsen-halving``) also watch a metric
in ``on_epoch_end`` and keep their state in ``state_dict`` for exact resume.
Conventions follow PyTorch's ``torch.optim.lr_scheduler`` (same defaults,
same expected-value lists in the tests) unless a docstring says otherwise.

Schedules that span the whole run (``cosine``, ``one-cycle``) need its length:
``configure(epochs, steps_per_epoch)`` (part of the ``Schedule`` contract) is
called by ``Trainer.fit`` before training; their ``epochs`` parameter
overrides the run's ``training.epochs``.
"""

from __future__ import annotations

import bisect
import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

import deltaw
from deltaw.core.monitor import Monitor
from deltaw.errors import DeltawError
from deltaw.params import MonitorParams


class Constant(deltaw.Schedule):
    """η for every epoch: lr = η.

    The book's choice in chapters 1 and 3. No parameters.
    Reference: optax ``constant_schedule``.
    """

    def lr(self, base_lr: float, epoch: int, step: int) -> float:
        return base_lr


class Step(deltaw.Schedule):
    """Decay by ``gamma`` every ``step_size`` epochs: lr = η · γ^⌊epoch / step_size⌋.

    Defaults: gamma 0.1 (step_size is required). Reference: PyTorch ``StepLR``.
    """

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        step_size: int = Field(ge=1, description="Epochs between two decays.")
        gamma: float = Field(0.1, gt=0, description="Multiplicative factor of each decay.")

    def lr(self, base_lr: float, epoch: int, step: int) -> float:
        return base_lr * self.params.gamma ** (epoch // self.params.step_size)


class MultiStep(deltaw.Schedule):
    """Decay by ``gamma`` at each milestone epoch: lr = η · γ^(number of milestones ≤ epoch).

    Milestones are 0-based epoch indices in increasing order. Defaults: gamma 0.1.
    Reference: PyTorch ``MultiStepLR``.
    """

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        milestones: list[int] = Field(
            min_length=1,
            description="Epochs (0-based) at which the rate is multiplied by gamma, increasing.",
        )
        gamma: float = Field(0.1, gt=0, description="Multiplicative factor at each milestone.")

        @field_validator("milestones")
        @classmethod
        def _increasing(cls, v: list[int]) -> list[int]:
            if any(m < 1 for m in v) or any(b <= a for a, b in zip(v, v[1:])):
                raise ValueError(
                    "milestones must be positive epoch numbers in strictly increasing order"
                )
            return v

    def lr(self, base_lr: float, epoch: int, step: int) -> float:
        return base_lr * self.params.gamma ** bisect.bisect_right(self.params.milestones, epoch)


class Exponential(deltaw.Schedule):
    """Decay by ``gamma`` every epoch: lr = η · γ^epoch.

    ``gamma`` is required. Reference: PyTorch ``ExponentialLR``.
    """

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        gamma: float = Field(
            gt=0, description="Multiplicative factor per epoch (below 1 to decay)."
        )

    def lr(self, base_lr: float, epoch: int, step: int) -> float:
        return base_lr * self.params.gamma**epoch


class _WholeRun(deltaw.Schedule):
    """A per-step schedule over the whole run: it needs the number of steps."""

    per_step = True
    _total: int | None = None
    _steps_per_epoch: int | None = None

    def configure(self, epochs: int, steps_per_epoch: int) -> None:
        """Set the run's length (``params.epochs``, when given, wins over ``epochs``)."""
        epochs = self.params.epochs or epochs
        self._steps_per_epoch = int(steps_per_epoch)
        self._total = max(1, int(epochs) * int(steps_per_epoch))

    def total(self) -> int:
        if self._total is None:
            raise DeltawError(
                f"The {self.name} schedule needs the run's length: call schedule.configure(epochs, "
                "steps_per_epoch) "
                f"before training (Trainer.fit does this for you)."
            )
        return self._total

    def warmup_steps(self, epochs: float) -> int:
        return int(round(epochs * (self._steps_per_epoch or 1)))


class Cosine(_WholeRun):
    """Linear warm-up, then cosine annealing, per step.

    With W warm-up steps and T steps in all (s = 1-based step):
    lr = η · s / W for s ≤ W; then, with p = (s − 1 − W) / (T − W),
    lr = η_min + ½ (η − η_min)(1 + cos π p), where η_min = ``min_factor`` · η;
    after T steps lr = η_min. Defaults: warmup 0 epochs, min_factor 0,
    epochs = the run's ``training.epochs``. With one step per epoch and no
    warm-up it is PyTorch's ``CosineAnnealingLR`` (T_max = epochs); with
    warm-up it is optax's ``warmup_cosine_decay_schedule``. Loshchilov &
    Hutter, "SGDR", 2017.
    """

    name = "cosine"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        epochs: int | None = Field(
            None,
            ge=1,
            description="Length of warm-up + annealing in epochs; default: training.epochs.",
        )
        warmup: float = Field(
            0.0,
            ge=0,
            description="Warm-up length in epochs (fractions allowed): the rate climbs linearly to "
            "η.",
        )
        min_factor: float = Field(0.0, ge=0, le=1, description="The final rate as a fraction of η.")

    def lr(self, base_lr: float, epoch: int, step: int) -> float:
        total, p = self.total(), self.params
        warm = min(self.warmup_steps(p.warmup), total)
        if step <= warm:
            return base_lr * step / warm
        low = base_lr * p.min_factor
        if step > total:
            return low
        progress = (step - 1 - warm) / max(1, total - warm)
        return low + 0.5 * (base_lr - low) * (1.0 + math.cos(math.pi * progress))


class OneCycle(_WholeRun):
    """The 1cycle policy, per step: cosine up from η/div to η, then down to η/(div · final_div).

    η (``optimizer.lr``) is the peak. With T steps, n = s − 1 the 0-based step,
    phase 1 runs from n = 0 to n₁ = pct_start · T − 1 and phase 2 from n₁ to
    T − 1; within a phase lr = end + ½ (start − end)(1 + cos π p), p the
    fraction of the phase done. Defaults (PyTorch ``OneCycleLR``, anneal
    "cos", no momentum cycling): pct_start 0.3, div_factor 25,
    final_div_factor 1e4, epochs = the run's. Smith & Topin, 2018.
    """

    name = "one-cycle"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        epochs: int | None = Field(
            None, ge=1, description="Length of the cycle in epochs; default: training.epochs."
        )
        pct_start: float = Field(
            0.3, gt=0, lt=1, description="Fraction of the cycle spent increasing the rate."
        )
        div_factor: float = Field(25.0, gt=0, description="The starting rate is η / div_factor.")
        final_div_factor: float = Field(
            1e4, gt=0, description="The final rate is η / (div_factor · final_div_factor)."
        )

    def lr(self, base_lr: float, epoch: int, step: int) -> float:
        total, p = self.total(), self.params
        initial = base_lr / p.div_factor
        final = initial / p.final_div_factor
        n = min(step - 1, total - 1)
        phases = ((float(p.pct_start * total) - 1, initial, base_lr), (total - 1, base_lr, final))
        start = 0.0
        for i, (end, lo, hi) in enumerate(phases):
            if n <= end or i == len(phases) - 1:
                frac = (n - start) / (end - start) if end > start else 1.0
                return hi + 0.5 * (lo - hi) * (1.0 + math.cos(math.pi * frac))
            start = end
        raise AssertionError("unreachable")


class NielsenHalving(deltaw.Schedule):
    (
        "The book's rule: halve η whenever the monitored metric has not improved for "
        "``patience`` epochs; stop at η₀/128."
        """

    Each epoch that does not beat the best value so far counts towards the
    patience; after ``patience`` such epochs in a row lr ← factor · lr and the
    count restarts. Training stops as soon as lr ≤ stop_factor · η₀.
    Defaults as in the book: monitor validation_accuracy, patience 10,
    factor ½, stop_factor 1/128. Nielsen, "Neural Networks and Deep
    Learning", ch. 3 ("Variable learning rate" and the η-schedule exercise).
    """
    )

    class Params(MonitorParams):
        patience: int = Field(
            10, ge=1, description="Epochs without improvement before η is multiplied by factor."
        )
        factor: float = Field(
            0.5, gt=0, lt=1, description="Multiplier applied to η on a plateau (½ in the book)."
        )
        stop_factor: float = Field(
            1 / 128, gt=0, lt=1, description="Stop once η ≤ stop_factor · η₀ (1/128 in the book)."
        )

    def __init__(self, params: Any = None, **kwargs: Any) -> None:
        super().__init__(params, **kwargs)
        self.monitor = Monitor(self.params.monitor, self.params.mode)
        self.scale, self.best, self.wait = 1.0, None, 0
        self.stop_reason: str | None = None

    def lr(self, base_lr: float, epoch: int, step: int) -> float:
        return base_lr * self.scale

    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> bool:
        p = self.params
        value = self.monitor.value(metrics, "schedule")
        if self.monitor.improved(value, self.best):
            self.best, self.wait = value, 0
            return False
        self.wait += 1
        if self.wait < p.patience:
            return False
        self.scale *= p.factor
        self.wait = 0
        if self.scale <= p.stop_factor * (1 + 1e-12):
            self.stop_reason = (
                f"nielsen-halving: {p.monitor} did not improve for {p.patience} epochs and η fell "
                "to "
                f"{self.scale:g} · η₀ (stop at {p.stop_factor:g} · η₀)"
            )
            return True
        return False

    def state_dict(self) -> dict[str, Any]:
        return {"scale": self.scale, "best": self.best, "wait": self.wait}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.scale, self.best, self.wait = float(state["scale"]), state["best"], int(state["wait"])


class ReduceOnPlateau(deltaw.Schedule):
    """Multiply η by ``factor`` when the monitored metric stops improving.

    A value improves on the best when it beats it by the threshold: in rel
    mode best · (1 ∓ threshold), in abs mode best ∓ threshold. After more than
    ``patience`` epochs without improvement lr ← max(factor · lr, min_lr), then
    ``cooldown`` epochs pass before counting again. Defaults (PyTorch
    ``ReduceLROnPlateau``): monitor validation_cost, factor 0.1, patience 10,
    threshold 1e-4 rel, cooldown 0, min_lr 0.
    """

    class Params(MonitorParams):
        monitor: str = Field(
            "validation_cost", description="The per-epoch metric to watch: <split>_<metric>."
        )
        factor: float = Field(
            0.1, gt=0, lt=1, description="Multiplier applied to the rate on a plateau."
        )
        patience: int = Field(
            10, ge=0, description="Epochs without improvement tolerated before reducing."
        )
        threshold: float = Field(
            1e-4, ge=0, description="Minimum change that counts as an improvement."
        )
        threshold_mode: Literal["rel", "abs"] = Field(
            "rel", description="rel: relative to the best value; abs: absolute."
        )
        cooldown: int = Field(
            0, ge=0, description="Epochs to wait after a reduction before counting again."
        )
        min_lr: float = Field(0.0, ge=0, description="Lower bound on the rate.")

    def __init__(self, params: Any = None, **kwargs: Any) -> None:
        super().__init__(params, **kwargs)
        p = self.params
        self.monitor = Monitor(
            p.monitor, p.mode, threshold=p.threshold, relative=p.threshold_mode == "rel"
        )
        self.scale, self.best, self.bad, self.cooling = 1.0, None, 0, 0

    def lr(self, base_lr: float, epoch: int, step: int) -> float:
        return max(base_lr * self.scale, self.params.min_lr)

    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> bool:
        p = self.params
        value = self.monitor.value(metrics, "schedule")
        if self.monitor.improved(value, self.best):
            self.best, self.bad = value, 0
        else:
            self.bad += 1
        if self.cooling > 0:
            self.cooling -= 1
            self.bad = 0
        if self.bad > p.patience:
            self.scale *= p.factor
            self.cooling, self.bad = p.cooldown, 0
        return False

    def state_dict(self) -> dict[str, Any]:
        return {"scale": self.scale, "best": self.best, "bad": self.bad, "cooling": self.cooling}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.scale, self.best = float(state["scale"]), state["best"]
        self.bad, self.cooling = int(state["bad"]), int(state["cooling"])


@deltaw.hookimpl
def register_schedules(register: Any) -> None:
    register("constant", Constant)
    register("step", Step)
    register("multistep", MultiStep)
    register("exponential", Exponential)
    register("cosine", Cosine)
    register("one-cycle", OneCycle)
    register("nielsen-halving", NielsenHalving)
    register("reduce-on-plateau", ReduceOnPlateau)
