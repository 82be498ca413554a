"""A third-party plugin cannot take deltaw down (issue 9 §4).

Misbehaving plugins, installed as real distributions (dist-info + entry point
in a folder on sys.path): a run hook, a cost's gradient, a metric and a
callback that raise in epoch 2, a data set that raises while loading. Each run
stops with exit code 3 and one message naming the plugin, its distribution and
the method; the run folder keeps the checkpoint of the last finished epoch
(intact and loadable), ``run.json`` says ``failed`` with the message, and the
run resumes. Errors of deltaw itself, and errors a plugin raises on purpose,
are left as they are.

Then the name rule: a name that deltaw and one installed plugin register means
the plugin (with a notice), ``deltaw:NAME`` the built-in, and a default the
spec leaves out is always the built-in.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml
from test_registry import Site
from typer.testing import CliRunner

from deltaw import hookimpl
from deltaw.cli import app
from deltaw.errors import DeltawPluginWarning, PluginError
from deltaw.registry import reset_registry
from deltaw.runs.checkpoint import load_run_checkpoint
from deltaw.runs.train import run_spec
from deltaw.spec.loading import validate_spec
from deltaw.spec.schema import spec_schema

runner = CliRunner()

SPEC = {
    "name": "tiny",
    "seed": 1,
    "data": {"name": "xor", "samples": 80},  # 56 training rows
    "network": {"layers": [2, 4, 2], "activation": "tanh", "output_activation": "softmax"},
    "cost": "log-likelihood",
    "optimizer": {"name": "sgd", "lr": 0.5},
    "training": {"epochs": 4, "batch_size": 64, "evaluate": ["training"]},  # one batch an epoch
}

HOOKY = """
    import deltaw

    @deltaw.hookimpl
    def deltaw_epoch_end(trainer, epoch, metrics):
        if epoch == 2:
            raise RuntimeError("the dashboard is down")
"""

COSTLY = """
    import numpy as np
    import deltaw

    class HalfSquare(deltaw.Cost):
        '''Half the squared error; its gradient fails once, in epoch 2.'''

        calls = 0

        def value(self, a, y):
            return float(0.5 * np.sum((a - y) ** 2) / len(a))

        def gradient(self, a, y):
            HalfSquare.calls += 1
            if HalfSquare.calls == 2:
                return _check(a - y)
            return a - y

    def _check(g):
        raise ValueError("the gradient is not finite")

    @deltaw.hookimpl
    def register_costs(register):
        register("half-square", HalfSquare)
"""

METRICKY = """
    import deltaw

    class Flaky(deltaw.Metric):
        '''Always 1; fails on its second evaluation.'''

        calls = 0

        def compute(self, a, y, context):
            Flaky.calls += 1
            if Flaky.calls == 2:
                raise KeyError("no such split")
            return 1.0

    @deltaw.hookimpl
    def register_metrics(register):
        register("flaky", Flaky)
"""

CALLBACKY = """
    import deltaw

    class Notify(deltaw.Callback):
        '''Sends a message after every epoch; the network fails in epoch 2.'''

        def on_epoch_end(self, trainer, epoch, metrics):
            if epoch == 2:
                raise ConnectionError("smtp server refused")

    @deltaw.hookimpl
    def register_callbacks(register):
        register("notify", Notify)
"""


@pytest.fixture
def site(tmp_path, monkeypatch):
    s = Site(tmp_path / "site", monkeypatch)
    monkeypatch.setenv("DELTAW_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("DELTAW_DISABLE_PLUGINS", raising=False)
    monkeypatch.delenv("DELTAW_STRICT_PLUGINS", raising=False)
    yield s
    s.cleanup()


def deltaw(*args: object):
    reset_registry()  # every invocation is a new process as far as plugins go
    return runner.invoke(app, [str(a) for a in args])


def spec_file(tmp_path: Path, **changes: object) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({**SPEC, **changes}))
    return path


def one_line(text: str) -> str:
    return " ".join(text.split())


def failed_run(tmp_path: Path, *args: object) -> tuple[Path, str]:
    """Run the spec; expect exit 3; return the run folder and the message on one line."""
    result = deltaw("run", spec_file(tmp_path), "--out", tmp_path / "runs", "--quiet", *args)
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    (folder,) = (tmp_path / "runs").iterdir()
    return folder, one_line(result.output)


def assert_kept(folder: Path, epoch: int, message: str) -> None:
    """run.json says failed with the message; checkpoint and weights.npz are those of ``epoch``."""
    info = json.loads((folder / "run.json").read_text())
    assert (info["status"], info["epochs"]) == ("failed", epoch)
    assert one_line(info["message"]) in message
    state, _ = load_run_checkpoint(folder / "checkpoint.npz")
    assert state["epoch"] == epoch  # (the history lives in metrics.jsonl, not the checkpoint)
    with np.load(folder / "weights.npz") as saved:
        for i, w in enumerate(state["weights"]):
            np.testing.assert_array_equal(saved[f"w{i}"], w)
    rows = (folder / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(r)["epoch"] for r in rows] == list(range(1, epoch + 1))


# -- a plugin that raises during a run -------------------------------------------------------------


def test_a_raising_run_hook_names_the_plugin_keeps_the_checkpoint_and_says_how_to_disable_it(
    site, tmp_path
):
    site.add("deltaw-hooky", {"hooky": "hooky_mod"}, {"hooky_mod": HOOKY}, version="1.2")
    folder, message = failed_run(tmp_path)
    assert message.startswith(
        "Error: plugin 'hooky' (distribution deltaw-hooky 1.2) raised RuntimeError in "
        "deltaw_epoch_end: the dashboard is down (at hooky_mod.py:7)."
    )
    # the hook runs after the epoch was saved: epoch 2 is kept
    assert f"The run folder {folder} keeps the checkpoint of epoch 2." in message
    assert f"To run without it: deltaw --disable-plugin hooky run --resume {folder}" in message
    assert "DELTAW_DISABLE_PLUGINS=hooky" in message
    assert_kept(folder, 2, message)
    resumed = deltaw("--disable-plugin", "hooky", "run", "--resume", folder, "--quiet")
    assert resumed.exit_code == 0, resumed.output
    assert json.loads((folder / "run.json").read_text())["status"] == "completed"
    assert load_run_checkpoint(folder / "checkpoint.npz")[0]["epoch"] == 4


def test_a_raising_cost_gradient_names_the_method_deltaw_called_and_where_it_raised(site, tmp_path):
    site.add("deltaw-costly", {"costly": "costly_mod"}, {"costly_mod": COSTLY}, version="0.4")
    spec = {"cost": "half-square", "network": {**SPEC["network"], "output_activation": "sigmoid"}}
    result = deltaw("run", spec_file(tmp_path, **spec), "--out", tmp_path / "runs", "--quiet")
    assert result.exit_code == 3, result.output
    (folder,) = (tmp_path / "runs").iterdir()
    message = one_line(result.output)
    assert (
        "plugin 'costly' (distribution deltaw-costly 0.4) raised ValueError in "
        "HalfSquare.gradient: the gradient is not finite (at costly_mod.py:20 in _check)."
    ) in message
    assert f"The run folder {folder} keeps the checkpoint of epoch 1." in message
    # disabling the plugin would not help a spec that uses its cost
    assert "The spec uses its cost 'half-square': upgrade or fix deltaw-costly" in message
    assert "--disable-plugin" not in message
    assert_kept(folder, 1, message)
    resumed = deltaw("run", "--resume", folder, "--quiet")  # the gradient fails only once
    assert resumed.exit_code == 0, resumed.output
    assert json.loads((folder / "run.json").read_text())["epochs"] == 4


def test_a_raising_metric_names_the_plugin_and_the_method(site, tmp_path):
    site.add("deltaw-metricky", {"metricky": "metricky_mod"}, {"metricky_mod": METRICKY})
    spec_file(tmp_path, metrics=["cost", "flaky"])
    result = deltaw("run", tmp_path / "spec.yaml", "--out", tmp_path / "runs", "--quiet")
    assert result.exit_code == 3, result.output
    (folder,) = (tmp_path / "runs").iterdir()
    message = one_line(result.output)
    assert (
        "plugin 'metricky' (distribution deltaw-metricky 1.0) raised KeyError in Flaky.compute: "
        "'no such split'"
    ) in message
    assert "The spec uses its metric 'flaky'" in message
    assert_kept(folder, 1, message)


def test_a_raising_callback_names_the_plugin_and_the_method(site, tmp_path):
    site.add("deltaw-callbacky", {"callbacky": "callbacky_mod"}, {"callbacky_mod": CALLBACKY})
    spec_file(tmp_path, callbacks=["notify"])
    result = deltaw("run", tmp_path / "spec.yaml", "--out", tmp_path / "runs", "--quiet")
    assert result.exit_code == 3, result.output
    (folder,) = (tmp_path / "runs").iterdir()
    message = one_line(result.output)
    assert (
        "plugin 'callbacky' (distribution deltaw-callbacky 1.0) raised ConnectionError in "
        "Notify.on_epoch_end: smtp server refused"
    ) in message
    # a spec callback runs before the epoch is saved: epoch 1 is the last one kept
    assert "keeps the checkpoint of epoch 1. The spec uses its callback 'notify'" in message
    assert_kept(folder, 1, message)


KINDS_THAT_RAISE = {
    "optimizer": (
        """
        from deltaw.plugins.optimizers import SGD

        class Sgd2(SGD):
            '''SGD that fails in its second step (four parameters a step).'''

            calls = 0

            def update(self, param, grad, state, step, lr):
                Sgd2.calls += 1
                if Sgd2.calls == 5:
                    raise FloatingPointError("step 2 went wrong")
                super().update(param, grad, state, step, lr)
        """,
        ("register_optimizers", "sgd2", "Sgd2"),
        {"optimizer": {"name": "sgd2", "lr": 0.5}},
        "FloatingPointError in Sgd2.update: step 2 went wrong",
    ),
    "schedule": (
        """
        import deltaw

        class Broken(deltaw.Schedule):
            '''Fails when asked for the second epoch's rate.'''

            def lr(self, base_lr, epoch, step):
                if epoch == 1:
                    raise ZeroDivisionError("division by zero")
                return base_lr
        """,
        ("register_schedules", "broken", "Broken"),
        {"schedule": "broken"},
        "ZeroDivisionError in Broken.lr: division by zero",
    ),
    "activation": (
        """
        from deltaw.plugins.activations import Tanh

        class Tanh2(Tanh):
            '''tanh that fails in the second epoch's forward pass.'''

            calls = 0

            def forward(self, z):
                Tanh2.calls += 1
                if Tanh2.calls == 3:  # train and evaluate in epoch 1, then train in epoch 2
                    raise MemoryError("out of memory")
                return super().forward(z)
        """,
        ("register_activations", "tanh2", "Tanh2"),
        {"network": {**SPEC["network"], "activation": "tanh2"}},
        "MemoryError in Tanh2.forward: out of memory",
    ),
}


@pytest.mark.parametrize("kind", KINDS_THAT_RAISE)
def test_any_kind_of_plugin_that_raises_is_named_with_its_method(site, tmp_path, kind):
    source, (hook, name, cls), changes, what = KINDS_THAT_RAISE[kind]
    source += f"""
        import deltaw

        @deltaw.hookimpl
        def {hook}(register):
            register("{name}", {cls})
    """
    site.add(f"deltaw-{kind}-x", {f"{kind}x": f"{kind}x_mod"}, {f"{kind}x_mod": source})
    result = deltaw("run", spec_file(tmp_path, **changes), "--out", tmp_path / "runs", "--quiet")
    assert result.exit_code == 3, result.output
    (folder,) = (tmp_path / "runs").iterdir()
    message = one_line(result.output)
    assert f"plugin '{kind}x' (distribution deltaw-{kind}-x 1.0) raised {what}" in message
    assert f"The spec uses its {kind} '{name}'" in message
    assert_kept(folder, 1, message)


def test_a_method_a_plugin_forgot_to_write_is_named_with_the_plugins_class(site, tmp_path):
    lazy = """
        import deltaw

        class Lazy(deltaw.Cost):
            '''Forgot its gradient.'''

            def value(self, a, y):
                return 0.0

        @deltaw.hookimpl
        def register_costs(register):
            register("lazy", Lazy)
    """
    site.add("deltaw-lazy", {"lazy": "lazy_mod"}, {"lazy_mod": lazy})
    spec = {"cost": "lazy", "network": {**SPEC["network"], "output_activation": "sigmoid"}}
    result = deltaw("run", spec_file(tmp_path, **spec), "--out", tmp_path / "runs", "--quiet")
    assert result.exit_code == 3, result.output
    message = one_line(result.output)
    assert "plugin 'lazy' (distribution deltaw-lazy 1.0) raised NotImplementedError" in message
    assert "in Lazy.gradient" in message
    assert "No epoch had finished, so the run folder" in message


def test_a_data_set_that_raises_while_loading_is_named_before_any_folder_is_made(site, tmp_path):
    broken = """
        import deltaw

        class Remote(deltaw.Dataset):
            '''Downloads its data.'''

            def load(self, rng, dtype):
                raise TimeoutError("the server did not answer")

        @deltaw.hookimpl
        def register_datasets(register):
            register("remote", Remote)
    """
    site.add("deltaw-remote", {"remote": "remote_mod"}, {"remote_mod": broken}, version="2.0")
    spec = spec_file(tmp_path, data="remote")
    result = deltaw("run", spec, "--out", tmp_path / "runs", "--quiet")
    assert result.exit_code == 3, result.output
    message = one_line(result.output)
    assert (
        "plugin 'remote' (distribution deltaw-remote 2.0) raised TimeoutError in Remote.load: "
        "the server did not answer"
    ) in message
    assert "Nothing was trained." in message and f"then: deltaw run {spec}" in message
    assert not (tmp_path / "runs").exists()


def test_an_error_a_plugin_raises_on_purpose_keeps_its_own_message_and_exit_code(site, tmp_path):
    missing = """
        import deltaw
        from deltaw.errors import DataError

        class Local(deltaw.Dataset):
            '''Reads a file.'''

            def load(self, rng, dtype):
                raise DataError("data.bin: no such file; download it with `get-data`.")

        @deltaw.hookimpl
        def register_datasets(register):
            register("local", Local)
    """
    site.add("deltaw-local", {"local": "local_mod"}, {"local_mod": missing})
    result = deltaw("run", spec_file(tmp_path, data="local"), "--out", tmp_path / "runs")
    assert result.exit_code == 4, result.output
    assert "Error: data.bin: no such file; download it with `get-data`." in one_line(result.output)


def test_an_error_of_deltaw_itself_is_not_blamed_on_a_plugin(site, tmp_path):
    # the hook calls into deltaw, which raises: deltaw's own frame is the deepest
    misuse = HOOKY.replace('raise RuntimeError("the dashboard is down")', "trainer.evaluate(None)")
    site.add("deltaw-hooky", {"hooky": "hooky_mod"}, {"hooky_mod": misuse})
    result = deltaw("run", spec_file(tmp_path), "--out", tmp_path / "runs", "--quiet")
    assert isinstance(result.exception, AttributeError), result.output
    (folder,) = (tmp_path / "runs").iterdir()
    info = json.loads((folder / "run.json").read_text())
    assert info["status"] == "failed" and info["message"].startswith("AttributeError:")


class InlinePlugin:
    """A plugin object registered in code (a notebook, a test)."""

    @hookimpl
    def deltaw_run_start(self, trainer):
        raise OSError("no display")


def test_a_plugin_registered_in_code_is_named_as_such(deltaw_plugin, tmp_path):
    deltaw_plugin(InlinePlugin(), "inline")
    with pytest.raises(PluginError) as exc:
        run_spec(spec_file(tmp_path), out=tmp_path / "runs", plots=False)
    message = str(exc.value)
    assert "plugin 'inline' (registered in code, no distribution) raised OSError" in message
    assert "in InlinePlugin.deltaw_run_start: no display" in message
    assert "To run without it: registry.unregister_plugin('inline'), then: deltaw run" in message
    assert isinstance(exc.value.__cause__, OSError)


# -- the name rule ---------------------------------------------------------------------------------

SHADOW = """
    import deltaw
    from deltaw.plugins.optimizers import SGD

    class OldNadam(SGD):
        '''A third party's nadam, written before deltaw had one.'''

    @deltaw.hookimpl
    def register_optimizers(register):
        register("sgd", SGD)
        register("nadam", OldNadam)
"""


def test_a_name_deltaw_and_an_installed_plugin_share_means_the_plugin_with_a_notice(site, tmp_path):
    site.add("deltaw-nadam", {"oldnadam": "oldnadam_mod"}, {"oldnadam_mod": SHADOW}, version="1.2")
    reset_registry()
    with pytest.warns(DeltawPluginWarning) as notices:
        spec = validate_spec({**SPEC, "optimizer": {"name": "nadam", "lr": 0.1}})
    assert spec.plugins["optimizer"].cls.__name__ == "OldNadam"
    assert [one_line(str(n.message)) for n in notices] == [
        "deltaw: the optimizer 'nadam' at optimizer means plugin 'oldnadam' (deltaw-nadam 1.2), "
        "which shadows deltaw's built-in 'nadam': write 'deltaw:nadam' for the built-in, or "
        "'oldnadam:nadam' to keep the plugin's without this notice."
    ]
    # resolved.yaml names it so that it means the same plugin wherever it is read
    assert spec.resolved()["optimizer"]["name"] == "oldnadam:nadam"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        builtin = validate_spec({**SPEC, "optimizer": {"name": "deltaw:nadam", "lr": 0.1}})
        assert builtin.plugins["optimizer"].entry.plugin.name == "deltaw"
        left_out = validate_spec({k: v for k, v in SPEC.items() if k != "optimizer"})
    assert left_out.plugins["optimizer"].entry.plugin.name == "deltaw"
    assert left_out.plugins["optimizer"].entry.name == "sgd"


def test_a_spec_that_leaves_out_a_name_a_plugin_registers_trains_with_the_builtin_silently(
    site, tmp_path
):
    site.add("deltaw-nadam", {"oldnadam": "oldnadam_mod"}, {"oldnadam_mod": SHADOW})
    spec = {k: v for k, v in SPEC.items() if k != "optimizer"}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    result = deltaw("run", path, "--out", tmp_path / "runs", "--quiet", "--set", "optimizer.lr=1")
    assert result.exit_code == 0, result.output
    assert "shadows" not in result.output
    (folder,) = (tmp_path / "runs").iterdir()
    resolved = yaml.safe_load((folder / "resolved.yaml").read_text())
    assert resolved["optimizer"]["name"] == "deltaw:sgd"  # qualified: a plugin shares the name
    used = json.loads((folder / "environment.json").read_text())["plugins_used"]
    assert used["optimizer:sgd"] == "built-in"


def test_the_notice_is_one_line_on_stderr_and_validate_exits_0(site, tmp_path):
    site.add("deltaw-nadam", {"oldnadam": "oldnadam_mod"}, {"oldnadam_mod": SHADOW})
    result = deltaw("validate", spec_file(tmp_path, optimizer="nadam"))
    assert result.exit_code == 0, result.output
    (line,) = [ln for ln in result.output.splitlines() if "shadows" in ln]
    assert line.startswith("deltaw: the optimizer 'nadam' at optimizer means plugin 'oldnadam'")
    listed = one_line(deltaw("plugins").output)
    assert (
        "Shadowed: optimizer 'nadam' is registered by deltaw and by deltaw-nadam 1.0; a spec's "
        "'nadam' means 'oldnadam:nadam', 'deltaw:nadam' is the built-in"
    ) in listed
    assert "Ambiguous" not in listed


def test_without_a_shadowing_plugin_resolved_yaml_shows_bare_builtin_names(tmp_path):
    spec = validate_spec({k: v for k, v in SPEC.items() if k != "optimizer"})
    assert spec.spec.optimizer.name == "deltaw:sgd"  # a default is the built-in, as data
    assert spec.resolved()["optimizer"]["name"] == "sgd"
    assert spec.resolved()["metrics"] == [{"name": "cost"}, {"name": "accuracy"}]


def test_the_schema_accepts_the_bare_name_for_the_plugin_and_the_qualified_one_for_the_builtin(
    site,
):
    site.add("deltaw-nadam", {"oldnadam": "oldnadam_mod"}, {"oldnadam_mod": SHADOW})
    reset_registry()
    from deltaw.registry import get_registry

    defs = spec_schema(get_registry())["$defs"]
    mine = defs["optimizer.oldnadam.nadam"]["properties"]["name"]["enum"]
    builtin = defs["optimizer.deltaw.nadam"]["properties"]["name"]["enum"]
    assert "nadam" in mine and "oldnadam:nadam" in mine
    assert "nadam" not in builtin and "deltaw:nadam" in builtin
