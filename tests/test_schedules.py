"""Learning-rate schedules against expected-value lists (PyTorch's ``test_lrscheduler.py``
style)."""

import math

import pytest
import yaml

import deltaw
from deltaw.errors import DeltawError, SpecError, TrainingError
from deltaw.plugins.schedules import (
    Constant,
    Cosine,
    Exponential,
    MultiStep,
    NielsenHalving,
    OneCycle,
    ReduceOnPlateau,
    Step,
)
from deltaw.registry import get_registry
from deltaw.runs.train import run_spec
from deltaw.spec.loading import validate_spec


def rates(schedule, epochs, base=0.05, steps_per_epoch=1, metrics=None, key="validation_accuracy"):
    """The rate the Trainer would use for every epoch (or step), feeding ``metrics`` after each
    epoch."""
    if hasattr(schedule, "configure"):
        schedule.configure(epochs, steps_per_epoch)
    out, step = [], 0
    for epoch in range(epochs):
        if schedule.per_step:
            for _ in range(steps_per_epoch):
                step += 1
                out.append(schedule.lr(base, epoch, step))
        else:
            out.append(schedule.lr(base, epoch, step + 1))
            step += steps_per_epoch
        if metrics is not None and schedule.on_epoch_end(epoch, {key: metrics[epoch]}):
            break
    return out


def close(actual, expected):
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        assert a == pytest.approx(e, rel=1e-12, abs=1e-15), (actual, expected)


def test_constant_keeps_the_base_rate():
    close(rates(Constant(), 5), [0.05] * 5)


def test_step_decays_every_step_size_epochs():  # PyTorch test_step_lr
    close(
        rates(Step(step_size=3, gamma=0.1), 10), [0.05] * 3 + [0.005] * 3 + [0.0005] * 3 + [0.00005]
    )


def test_multistep_decays_at_each_milestone():  # PyTorch test_multi_step_lr
    close(
        rates(MultiStep(milestones=[2, 5, 9], gamma=0.1), 10),
        [0.05] * 2 + [0.005] * 3 + [0.0005] * 4 + [0.00005],
    )


def test_exponential_multiplies_by_gamma_every_epoch():  # PyTorch test_exp_lr
    close(rates(Exponential(gamma=0.9), 10), [0.05 * 0.9**i for i in range(10)])


def test_cosine_with_one_step_per_epoch_is_pytorch_cosine_annealing():  # PyTorch test_cos_anneal_lr
    eta_min, T = 1e-10, 10
    expected = [eta_min + (0.05 - eta_min) * (1 + math.cos(math.pi * x / T)) / 2 for x in range(T)]
    close(rates(Cosine(min_factor=eta_min / 0.05), T), expected)


def test_cosine_warms_up_linearly_then_anneals_per_step():
    # 4 epochs × 2 steps, 1 epoch of warm-up: η·s/W for s ≤ 2, then ½(1 + cos π p)
    # with p = 0, 1/6, …, 5/6
    c = [(1 + math.cos(math.pi * k / 6)) / 2 for k in range(6)]
    close(rates(Cosine(warmup=1), 4, base=1.0, steps_per_epoch=2), [0.5, 1.0, *c])


def test_cosine_epochs_parameter_wins_over_the_run_length_and_stays_at_the_floor_after():
    r = rates(Cosine(epochs=2, min_factor=0.1), 4, base=1.0)
    close(r, [1.0, 0.55, 0.1, 0.1])


def test_one_cycle_matches_pytorch_cosine_onecycle():  # PyTorch test_onecycle_lr_cosine_annealing
    def annealing_cos(start, end, pct):
        return end + (start - end) / 2 * (math.cos(math.pi * pct) + 1)

    expected = [1, 13, 25] + [annealing_cos(25, 0.5, k / 7) for k in range(1, 7)] + [0.5]
    close(rates(OneCycle(final_div_factor=2), 10, base=25.0), expected)


def test_whole_run_schedules_say_they_need_the_run_length():
    with pytest.raises(DeltawError, match="needs the run's length"):
        Cosine().lr(0.1, 0, 1)


def test_reduce_on_plateau_waits_more_than_patience_epochs():
    # best 10 → 9 (improves), then 9 ×4: bad epochs 1, 2, 3 > patience 2 → ×0.5 after epoch 4;
    # 8 at epoch 6 improves; bad 1, 2, 3 → ×0.5 after epoch 9
    metrics = [10, 9, 9, 9, 9, 9, 8, 8, 8, 8, 8]
    r = rates(
        ReduceOnPlateau(patience=2, factor=0.5),
        11,
        base=1.0,
        metrics=metrics,
        key="validation_cost",
    )
    close(r, [1.0] * 5 + [0.5] * 5 + [0.25])


def test_reduce_on_plateau_cooldown_and_min_lr():
    # patience 0, cooldown 1: reduce, skip one epoch, reduce … never below min_lr
    r = rates(
        ReduceOnPlateau(patience=0, factor=0.1, cooldown=1, min_lr=0.02),
        7,
        base=1.0,
        metrics=[5] * 7,
        key="validation_cost",
    )
    close(r, [1.0, 1.0, 0.1, 0.1, 0.02, 0.02, 0.02])


def test_reduce_on_plateau_threshold_is_relative_by_default():
    s = ReduceOnPlateau(patience=0, threshold=0.1, monitor="validation_cost")
    s.on_epoch_end(0, {"validation_cost": 1.0})
    s.on_epoch_end(1, {"validation_cost": 0.95})  # better, but not by 10 %: a bad epoch
    assert s.scale == pytest.approx(0.1)


def test_nielsen_halving_halves_after_patience_epochs_and_stops_at_the_floor():
    metrics = [0.5, 0.6, 0.6, 0.6, 0.7, 0.7, 0.7, 0.7, 0.7]
    s = NielsenHalving(patience=2, stop_factor=0.25)
    r = rates(s, 9, base=1.0, metrics=metrics)
    close(r, [1.0] * 4 + [0.5] * 3)  # stops after epoch 7, when η reaches η₀/4
    assert "η fell to 0.25" in s.stop_reason


def test_nielsen_halving_defaults_are_the_books():
    p = NielsenHalving().params
    assert (p.monitor, p.patience, p.factor, p.stop_factor) == (
        "validation_accuracy",
        10,
        0.5,
        1 / 128,
    )
    s = NielsenHalving(patience=1)
    stops = [s.on_epoch_end(e, {"validation_accuracy": 0.9}) for e in range(8)]
    assert stops == [False] * 7 + [True] and s.lr(1.0, 8, 1) == 1 / 128  # seven halvings: η₀/128


def test_plateau_state_round_trips_so_a_resumed_run_continues_the_same():
    metrics = [10, 9, 9, 9, 8, 8, 8, 8]
    straight = ReduceOnPlateau(patience=1, factor=0.5, monitor="validation_cost")
    r1 = rates(straight, 8, base=1.0, metrics=metrics, key="validation_cost")
    first = ReduceOnPlateau(patience=1, factor=0.5, monitor="validation_cost")
    rates(first, 4, base=1.0, metrics=metrics[:4], key="validation_cost")
    second = ReduceOnPlateau(patience=1, factor=0.5, monitor="validation_cost")
    second.load_state_dict(first.state_dict())
    tail = []
    for e in range(4, 8):
        tail.append(second.lr(1.0, e, e + 1))
        second.on_epoch_end(e, {"validation_cost": metrics[e]})
    assert r1[4:] == tail


def test_a_missing_monitored_metric_is_a_clear_error():
    with pytest.raises(
        TrainingError,
        match="monitors 'validation_accuracy', but this run records only: training_cost",
    ):
        NielsenHalving().on_epoch_end(0, {"epoch": 1, "training_cost": 0.3})


def spec_with(schedule):
    return {"data": "moons", "network": {"layers": [2, 4, 2]}, "schedule": schedule}


def test_schedule_parameters_are_validated_with_their_location():
    with pytest.raises(SpecError) as info:
        validate_spec(spec_with({"name": "multistep", "milestones": [5, 2], "gama": 0.5}))
    text = str(info.value)
    assert "schedule.milestones" in text and "increasing" in text
    assert "schedule.gama: unknown key" in text and "milestones, gamma" in text
    with pytest.raises(SpecError, match="schedule.step_size: required"):
        validate_spec(spec_with("step"))
    with pytest.raises(SpecError, match="Closest registered schedules: cosine"):
        validate_spec(spec_with("cosin"))


# -- the declared contracts: deltaw.Monitor, deltaw.MonitorParams and Schedule.stop_reason -------


def test_plateau_schedules_share_the_public_monitor_parameters():
    for cls in (NielsenHalving, ReduceOnPlateau):
        assert issubclass(cls.Params, deltaw.MonitorParams)
        assert isinstance(cls().monitor, deltaw.Monitor)
        assert "cost: lower" in cls.Params.model_fields["mode"].description
    assert ReduceOnPlateau().monitor.key == "validation_cost"  # its own default, as in PyTorch
    assert NielsenHalving(mode="min").monitor.higher is False
    assert Constant().monitor is None and Constant().stop_reason is None


class Target(deltaw.Schedule):
    """A third-party schedule: constant η; stop once the monitored metric reaches ``target``."""

    class Params(deltaw.MonitorParams):
        target: float = 0.0

    def __init__(self, params=None, **kwargs):
        super().__init__(params, **kwargs)
        self.monitor = deltaw.Monitor(self.params.monitor, self.params.mode)

    def lr(self, base_lr, epoch, step):
        return base_lr

    def on_epoch_end(self, epoch, metrics):
        value = self.monitor.value(metrics, "target schedule")
        if (value >= self.params.target) == self.monitor.higher:
            self.stop_reason = f"{self.monitor.key} reached {value:.3g}"
            return True
        return False


class TargetPlugin:
    @deltaw.hookimpl
    def register_schedules(self, register):
        register("target", Target)


def test_a_third_party_schedule_monitor_is_checked_and_its_stop_reason_reported(tmp_path):
    get_registry().register_plugin(TargetPlugin(), "target-plugin")
    path = tmp_path / "spec.yaml"
    spec = {**spec_with({"name": "target", "monitor": "validation_acc"}), "training": {"epochs": 5}}
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(SpecError, match="schedule.monitor is 'validation_acc'"):
        run_spec(path, out=tmp_path / "runs", plots=False)
    spec["schedule"] = {"name": "target", "monitor": "validation_accuracy", "target": 0.0}
    path.write_text(yaml.safe_dump(spec))
    result = run_spec(path, out=tmp_path / "runs", plots=False)
    assert result.status == "stopped" and len(result.history) == 1
    assert result.message.startswith("validation_accuracy reached")
