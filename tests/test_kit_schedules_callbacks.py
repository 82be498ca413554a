"""check_schedule and check_callback: a resumed sequence equals an uninterrupted one.

Every built-in passes at several settings; a rule that forgets part of its state in
state_dict, or a log that restarts its file on resume, is caught and named.
"""

import json

import pytest
from pydantic import BaseModel, ConfigDict, Field

import deltaw
from deltaw.plugins.callbacks import CsvLog, EarlyStopping, _Log
from deltaw.plugins.schedules import Cosine, NielsenHalving
from deltaw.registry import Registry
from deltaw.testing import check_callback, check_schedule


def builtin_entries(kind):
    reg = Registry()
    reg.load_builtins()
    return reg.entries(kind)


# -- schedules ---------------------------------------------------------------------------------


@pytest.mark.parametrize("entry", builtin_entries("schedule"), ids=lambda e: e.name)
def test_every_builtin_schedule_passes_at_several_settings(entry):
    check_schedule(entry.cls)


class ForgetsItsWait(NielsenHalving):
    """The patience count is not in the state: a resumed run starts counting afresh."""

    def state_dict(self):
        return {"scale": self.scale, "best": self.best}

    def load_state_dict(self, state):
        self.scale, self.best, self.wait = state["scale"], state["best"], 0


class SilentStop(NielsenHalving):
    def on_epoch_end(self, epoch, metrics):
        asked = super().on_epoch_end(epoch, metrics)
        self.stop_reason = None
        return asked


class Negative(deltaw.Schedule):
    def lr(self, base_lr, epoch, step):
        return base_lr * (1.0 - 0.1 * epoch)  # below zero after epoch 10


class CountsItself(deltaw.Schedule):
    """Decays by the number of calls rather than the epoch it is told: a resume starts over."""

    per_step = True
    calls = 0

    def lr(self, base_lr, epoch, step):
        self.calls += 1
        return base_lr * 0.99**self.calls


class WritesTheRecord(NielsenHalving):
    def on_epoch_end(self, epoch, metrics):
        metrics["lr"] = 0.0
        return super().on_epoch_end(epoch, metrics)


@pytest.mark.parametrize(
    ("schedule", "pattern"),
    [
        (
            ForgetsItsWait(patience=4),
            r"resumed after epoch \d+ \(state_dict → checkpoint → load_state_dict in a fresh "
            r"copy\) it gives .* where the uninterrupted run gives .*; keep everything "
            r"on_epoch_end learns in state_dict",
        ),
        (SilentStop(patience=2), r"asked to stop at epoch \d+ without saying why"),
        (Negative(), r"lr\(base_lr=0.1, epoch=11, step=45\) returned -0.01\d*; expected a finite"),
        (CountsItself(), r"resumed after epoch 1 .* gives lr [\d.]+ at epoch 1, step 5 where"),
        (WritesTheRecord(), r"on_epoch_end changed the record of epoch 0"),
    ],
    ids=lambda v: type(v).__name__,
)
def test_a_broken_schedule_is_named_by_the_check_it_fails(schedule, pattern):
    with pytest.raises(AssertionError, match=rf"^check_schedule\({type(schedule).__name__}"):
        check_schedule(schedule)
    with pytest.raises(AssertionError, match=pattern):
        check_schedule(schedule)


def test_a_whole_run_schedule_is_configured_before_it_is_asked_and_again_on_resume():
    check_schedule(Cosine(warmup=2.0), epochs=10, steps_per_epoch=3)


# -- callbacks ---------------------------------------------------------------------------------


@pytest.mark.parametrize("entry", builtin_entries("callback"), ids=lambda e: e.name)
def test_every_builtin_callback_passes_at_several_settings(entry):
    if entry.name == "tensorboard":  # its gradient norms need the run's data (trainer.run.data)
        settings = [{}, {"hparams": False}, {"folder": "events", "samples": 10}]
        check_callback(entry.cls, settings=settings)
        return
    check_callback(entry.cls)


class Restarts(CsvLog):
    """Forgets that the file already holds the first epochs: a resumed run starts it afresh."""

    def load_state_dict(self, state):
        pass


class Appends(_Log):
    """Keeps nothing in its state: a resumed run does not know what the file holds."""

    class Params(_Log.Params):
        path: str = "log.jsonl"

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass

    def on_epoch_end(self, trainer, epoch, metrics):
        self._write(json.dumps({"epoch": epoch}) + "\n", 1)


class Impatient(EarlyStopping):
    """Keeps its patience count outside state_dict."""

    def state_dict(self):
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": 0}


class Quiet(deltaw.Callback):
    def on_epoch_end(self, trainer, epoch, metrics):
        if epoch == 3:
            trainer.stop = True


class Vanishing(deltaw.Callback):
    """Writes a file named after the process's own counter: differs between runs."""

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        every: int = Field(2, ge=1)

    count = 0

    def on_epoch_end(self, trainer, epoch, metrics):
        Vanishing.count += 1
        if epoch % self.params.every == 0:
            (trainer.run.folder / f"note-{Vanishing.count}.txt").write_text("x")


class Pops(deltaw.Callback):
    def on_epoch_end(self, trainer, epoch, metrics):
        metrics.pop("validation_accuracy")


@pytest.mark.parametrize(
    ("callback", "pattern"),
    [
        (
            Restarts(),
            r"resumed after epoch 1, the run differs: the file log.csv in the run folder "
            r"differs; on resume, continue the file",
        ),
        (Appends(), r"resumed after epoch 1, the run differs: the file log.jsonl"),
        (
            Impatient(),
            r"resumed after epoch \d+, the run differs: after epoch \d+ trainer.stop is False "
            r"\(None\) where it should be True \('early stopping",
        ),
        (Quiet(), r"set trainer.stop at epoch 3 without trainer.stop_reason"),
        (Vanishing(), r"two runs from the same start differ: the run folder holds"),
        (Pops(), r"on_epoch_end changed the record of epoch 1"),
    ],
    ids=lambda v: type(v).__name__,
)
def test_a_broken_callback_is_named_by_the_check_it_fails(callback, pattern):
    with pytest.raises(AssertionError, match=rf"^check_callback\({type(callback).__name__}.*: "):
        check_callback(callback)
    with pytest.raises(AssertionError, match=pattern):
        check_callback(callback)


class Fresh(deltaw.Callback):
    """Tells a fresh run from a resume through trainer.run.resumed_from."""

    def __init__(self, params=None, **kwargs):
        super().__init__(params, **kwargs)
        self.starts: list = []

    def on_run_start(self, trainer):
        self.starts.append(trainer.run.resumed_from)

    def state_dict(self):
        return {"starts": list(self.starts)}

    def load_state_dict(self, state):
        self.starts = list(state["starts"])


def test_a_resumed_callback_sees_resumed_from_and_a_second_run_start():
    with pytest.raises(
        AssertionError,
        match=r"resumed after epoch 1, the run differs: state_dict\(\) at the end is "
        r"\{'starts': \[None, 1\]\} where it should be \{'starts': \[None\]\}",
    ):
        check_callback(Fresh())
