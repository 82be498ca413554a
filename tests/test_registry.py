"""The registry: built-ins and entry points loaded one by one, isolation of broken plugins,
allow/block lists, conflicts and qualified names, unknown names, and who used to provide a name."""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

from deltaw.errors import DeltawPluginWarning, DuplicateNameError, PluginError, UnknownNameError
from deltaw.registry import KINDS, Registry, get_registry, provenance, reset_registry

LION = """
    import numpy as np
    from pydantic import BaseModel, Field
    import deltaw

    class Lion(deltaw.Optimizer):
        '''Sign of interpolated momentum.'''
        class Params(BaseModel):
            lr: float = Field(1e-4, gt=0)

        def update(self, param, grad, state, step, lr):
            param -= lr * np.sign(grad)

    @deltaw.hookimpl
    def register_optimizers(register):
        register("lion", Lion)
"""


class Site:
    """A folder on sys.path holding fake installed distributions (real dist-info, real entry
    points)."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root, self.mp, self.modules, self.names = root, monkeypatch, [], []
        root.mkdir(parents=True, exist_ok=True)
        monkeypatch.syspath_prepend(str(root))

    def add(
        self,
        dist: str,
        entry_points: dict[str, str],
        modules: dict[str, str] | None = None,
        version: str = "1.0",
    ) -> Path:
        info = self.root / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(
            "[deltaw]\n" + "".join(f"{k} = {v}\n" for k, v in entry_points.items())
        )
        for mod, source in (modules or {}).items():
            (self.root / f"{mod}.py").write_text(textwrap.dedent(source))
            self.modules.append(mod)
        self.names += list(entry_points)
        self.allow(*self.names)
        importlib.invalidate_caches()
        return info

    def allow(self, *names: str) -> None:
        """Load exactly these entry points (anything else installed in the environment stays
        out)."""
        self.mp.setenv("DELTAW_LOAD_PLUGINS", ",".join(names))

    def cleanup(self) -> None:
        for mod in self.modules:
            sys.modules.pop(mod, None)


@pytest.fixture
def site(tmp_path, monkeypatch):
    s = Site(tmp_path / "site", monkeypatch)
    yield s
    s.cleanup()


@pytest.fixture(autouse=True)
def _own_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("DELTAW_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("DELTAW_DISABLE_PLUGINS", raising=False)
    monkeypatch.delenv("DELTAW_STRICT_PLUGINS", raising=False)


def fresh(disable: tuple[str, ...] = ()) -> Registry:
    reset_registry()
    return get_registry(disable=disable)


def plugin_warnings(caught: pytest.WarningsRecorder) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, DeltawPluginWarning)]


# -- built-ins -------------------------------------------------------------------------------------


def test_builtins_are_one_plugin_called_deltaw_registering_every_shipped_name():
    reg = fresh()
    assert reg.plugins["deltaw"].status == "loaded" and reg.plugins["deltaw"].origin == "built-in"
    expected = {
        "cost": {"quadratic", "cross-entropy", "log-likelihood", "mse", "huber"},
        "activation": {
            "identity",
            "sigmoid",
            "tanh",
            "relu",
            "leaky-relu",
            "elu",
            "softplus",
            "silu",
            "swish",
            "gelu",
            "softmax",
        },
        "initializer": {
            "nielsen-large",
            "nielsen",
            "glorot-uniform",
            "glorot-normal",
            "he-uniform",
            "he-normal",
            "lecun-normal",
            "orthogonal",
            "zeros",
        },
        "optimizer": {
            "sgd",
            "momentum",
            "adagrad",
            "rmsprop",
            "adam",
            "adamw",
            "nadam",
            "radam",
            "adamax",
            "adadelta",
            "lamb",
            "adabelief",
        },
        "regularizer": {"l1", "l2"},
        "metric": {"accuracy", "cost"},
        "dataset": {"mnist", "spirals", "moons", "circles", "xor", "blobs", "npz", "csv"},
    }
    for kind_name, names in expected.items():
        assert names <= set(reg.names(kind_name)), kind_name
    assert all(e.plugin.name == "deltaw" for e in reg.entries())
    assert all(issubclass(e.cls, KINDS[e.kind].base) for e in reg.entries())


def test_the_registry_is_built_on_first_use_not_when_the_cli_is_imported():
    code = "import sys, deltaw.cli; print(any(m.startswith('deltaw.plugins') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- entry points ----------------------------------------------------------------------------------


def test_an_installed_plugin_is_loaded_with_its_distribution_and_version(site):
    site.add("deltaw-lion", {"lion": "lion_mod"}, {"lion_mod": LION}, version="0.3.1")
    reg = fresh()
    info = reg.plugins["lion"]
    assert (info.status, info.distribution, info.version, info.registers) == (
        "loaded",
        "deltaw-lion",
        "0.3.1",
        [("optimizer", "lion")],
    )
    entry = reg.entry("optimizer", "lion")
    assert (
        entry.plugin is info
        and entry.qualified == "lion:lion"
        and entry.summary == "Sign of interpolated momentum."
    )
    assert info.origin == "deltaw-lion 0.3.1"


def test_a_plugin_that_fails_to_import_is_reported_once_and_everything_else_works(site):
    site.add(
        "deltaw-broken",
        {"broken": "broken_mod"},
        {"broken_mod": "import numpy\nraise RuntimeError('no GPU here')\n"},
    )
    site.add("deltaw-lion", {"lion": "lion_mod"}, {"lion_mod": LION})
    with pytest.warns(DeltawPluginWarning) as caught:
        reg = fresh()
        get_registry()  # asking again does not load (or report) again
    (warned,) = plugin_warnings(caught)
    assert "failed to load" in warned
    assert (
        "'broken' (from deltaw-broken 1.0)" in warned
        and "RuntimeError: no GPU here" in warned
        and "broken_mod.py:2" in warned
    )
    assert reg.plugins["broken"].status == "failed" and "no GPU here" in reg.plugins["broken"].error
    assert reg.entry("optimizer", "lion").plugin.name == "lion"
    assert reg.entry("optimizer", "adam").plugin.name == "deltaw"


def test_a_syntax_error_in_a_plugin_names_the_file_and_line(site):
    site.add("deltaw-typo", {"typo": "typo_mod"}, {"typo_mod": "x = 1\ndef f(:\n    pass\n"})
    with pytest.warns(DeltawPluginWarning, match="SyntaxError"):
        reg = fresh()
    assert (
        "SyntaxError" in reg.plugins["typo"].error and "typo_mod.py:2" in reg.plugins["typo"].error
    )


def test_a_missing_module_is_reported_without_pointing_into_import_machinery(site):
    site.add("deltaw-ghost", {"ghost": "no_such_module_xyz"})
    with pytest.warns(DeltawPluginWarning, match="ModuleNotFoundError"):
        error = fresh().plugins["ghost"].error
    assert "cannot import 'no_such_module_xyz'" in error and "ModuleNotFoundError" in error
    # the location is not a frame of Python's import machinery (another library's path may
    # contain the word, e.g. a backport imported by an earlier test: compare the folder)
    assert "_bootstrap" not in error and f"{os.sep}importlib{os.sep}" not in error, error


def test_a_plugin_raising_inside_its_register_hook_has_its_partial_registrations_rolled_back(
    site,
):
    half = """
        import deltaw
        from deltaw.plugins.costs import Quadratic

        @deltaw.hookimpl
        def register_costs(register):
            register("half-a", Quadratic)
            register("half-b", Quadratic)
            raise ValueError("forgot something")
    """
    site.add("deltaw-half", {"half": "half_mod"}, {"half_mod": half})
    with pytest.warns(DeltawPluginWarning, match="forgot something"):
        reg = fresh()
    assert (
        reg.plugins["half"].status == "failed"
        and "ValueError: forgot something" in reg.plugins["half"].error
    )
    assert "half_mod.py" in reg.plugins["half"].error
    assert "half-a" not in reg.names("cost") and "half-b" not in reg.names("cost")
    assert reg.plugins["half"].registers == [] and not reg.pm.has_plugin("half")


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        (
            "import deltaw\n@deltaw.hookimpl\ndef register_costs(register):\n    register('bad', "
            "dict)\n",
            "cost 'bad' must be a subclass of deltaw.Cost",
        ),
        (
            "import deltaw\nfrom deltaw.plugins.costs import Quadratic\n@deltaw.hookimpl\ndef "
            "register_costs(register):\n    register('a:b', Quadratic)\n",
            "names must be non-empty strings without ':'",
        ),
        (
            "import deltaw\nfrom deltaw.plugins.costs import Quadratic\n@deltaw.hookimpl\ndef "
            "register_costs(register):\n"
            "    register('twice', Quadratic)\n    register('twice', Quadratic)\n",
            "registered twice by the same plugin",
        ),
        (
            "import deltaw\n@deltaw.hookimpl\ndef register_cost(register):\n    pass\n",
            "register_cost",
        ),  # misspelt hook
        (
            "from deltaw.plugins.costs import Quadratic\ndef register_costs(register):\n    "
            "register('q2', Quadratic)\n",
            "register_costs() is not decorated with @deltaw.hookimpl",
        ),
    ],
    ids=["not-a-subclass", "colon-in-name", "same-name-twice", "misspelt-hook", "missing-hookimpl"],
)
def test_a_plugin_that_registers_wrongly_fails_with_the_reason_instead_of_being_ignored(
    site, source, reason
):
    site.add("deltaw-wrong", {"wrong": "wrong_mod"}, {"wrong_mod": source})
    with pytest.warns(DeltawPluginWarning, match=re.escape(reason)):
        reg = fresh()
    assert reg.plugins["wrong"].status == "failed"
    assert reason in reg.plugins["wrong"].error


def test_strict_mode_turns_a_broken_plugin_into_an_error(site, monkeypatch):
    site.add(
        "deltaw-broken",
        {"broken": "broken_mod"},
        {"broken_mod": "raise ImportError('missing dependency scipy')\n"},
    )
    monkeypatch.setenv("DELTAW_STRICT_PLUGINS", "1")
    with pytest.raises(
        PluginError,
        match=r"plugin 'broken' \(from deltaw-broken 1.0\).*missing dependency "
        r"scipy.*DELTAW_STRICT_PLUGINS",
    ):
        fresh()


def test_a_program_embedding_deltaw_can_make_the_plugin_warning_an_error(site):
    site.add("deltaw-broken", {"broken": "broken_mod"}, {"broken_mod": "raise OSError('gone')\n"})
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeltawPluginWarning)
        with pytest.raises(DeltawPluginWarning, match="plugin 'broken'.*OSError: gone"):
            fresh()


def test_two_entry_points_with_the_same_name_load_the_first_and_fail_the_second(site):
    site.add("deltaw-lion", {"lion": "lion_mod"}, {"lion_mod": LION})
    site.add("other-lion", {"lion": "lion_mod"})
    with pytest.warns(DeltawPluginWarning, match="another plugin is already called 'lion'"):
        reg = fresh()
    assert reg.plugins["lion"].status == "loaded"


# -- allow and block lists -------------------------------------------------------------------------


def test_an_empty_allow_list_loads_the_builtins_only(site, monkeypatch):
    site.add("deltaw-lion", {"lion": "lion_mod"}, {"lion_mod": LION})
    monkeypatch.setenv("DELTAW_LOAD_PLUGINS", "")
    reg = fresh()
    assert (
        reg.plugins["lion"].status == "disabled"
        and reg.plugins["lion"].error == "not in DELTAW_LOAD_PLUGINS"
    )
    assert "lion" not in reg.names("optimizer") and "lion_mod" not in sys.modules


def test_the_allow_list_loads_only_the_named_plugins(site):
    site.add("deltaw-lion", {"lion": "lion_mod"}, {"lion_mod": LION})
    site.add("deltaw-lion2", {"lion2": "lion_mod"})
    site.allow("lion2")
    reg = fresh()
    assert reg.plugins["lion"].status == "disabled" and reg.plugins["lion2"].status == "loaded"


def test_the_block_list_and_the_disable_option_disable_a_plugin_and_say_why(site, monkeypatch):
    site.add("deltaw-lion", {"lion": "lion_mod"}, {"lion_mod": LION})
    site.add("deltaw-lion2", {"lion2": "lion_mod"})
    monkeypatch.setenv("DELTAW_DISABLE_PLUGINS", "lion")
    reg = fresh(disable=("lion2",))
    assert (reg.plugins["lion"].status, reg.plugins["lion"].error) == (
        "disabled",
        "named in DELTAW_DISABLE_PLUGINS",
    )
    assert (reg.plugins["lion2"].status, reg.plugins["lion2"].error) == (
        "disabled",
        "named in --disable-plugin",
    )
    assert "lion" not in reg.names("optimizer")


def test_a_switch_naming_a_distribution_instead_of_a_plugin_says_the_plugin_name(site, monkeypatch):
    site.add("deltaw-lion", {"lion": "lion_mod"}, {"lion_mod": LION})
    monkeypatch.setenv("DELTAW_DISABLE_PLUGINS", "deltaw-lion")
    with pytest.warns(DeltawPluginWarning) as caught:
        reg = fresh(disable=("lino",))
    err = "\n".join(plugin_warnings(caught))
    assert reg.plugins["lion"].status == "loaded"
    assert (
        "DELTAW_DISABLE_PLUGINS names 'deltaw-lion'" in err and "its plugin name is 'lion'" in err
    )
    assert "--disable-plugin names 'lino'" in err and "Did you mean 'lion'?" in err


# -- conflicts and qualified names -----------------------------------------------------------------


def test_two_plugins_registering_one_name_are_an_error_naming_both_and_a_qualified_name_picks_one(
    site,
):
    site.add("deltaw-lion", {"lion": "lion_mod"}, {"lion_mod": LION}, version="1.0")
    site.add("Other_Lion", {"otherlion": "lion_mod2"}, {"lion_mod2": LION}, version="2.0")
    reg = fresh()
    with pytest.raises(DuplicateNameError) as exc:
        reg.entry("optimizer", "lion", where="optimizer")
    message = str(exc.value)
    assert (
        "deltaw-lion 1.0 (use 'lion:lion')" in message
        and "Other_Lion 2.0 (use 'otherlion:lion')" in message
    )
    assert "at optimizer" in message
    assert reg.entry("optimizer", "lion:lion").plugin.name == "lion"
    assert reg.entry("optimizer", "otherlion:lion").plugin.name == "otherlion"
    assert (
        reg.entry("optimizer", "deltaw-lion:lion").plugin.name == "lion"
    )  # the distribution name works too,
    assert (
        reg.entry("optimizer", "other-lion:lion").plugin.name == "otherlion"
    )  # spelt any way pip accepts
    assert [[e.plugin.name for e in found] for found in reg.conflicts()] == [["lion", "otherlion"]]


SHADOW = """
    import deltaw
    from deltaw.plugins.optimizers import SGD

    class MyNadam(SGD):
        '''A third party's nadam, older than deltaw's.'''

    @deltaw.hookimpl
    def register_optimizers(register):
        register("sgd", SGD)
        register("nadam", MyNadam)
"""


def test_a_name_that_deltaw_and_one_installed_plugin_register_means_the_plugin_with_a_notice(site):
    site.add("deltaw-shadow", {"shadow": "shadow_mod"}, {"shadow_mod": SHADOW}, version="1.2")
    reg = fresh()
    with pytest.warns(DeltawPluginWarning) as notices:
        entry = reg.entry("optimizer", "nadam", where="optimizer")
    assert entry.plugin.name == "shadow" and entry.cls.__name__ == "MyNadam"
    (notice,) = notices
    text = str(notice.message)
    assert "\n" not in text
    assert "the optimizer 'nadam' at optimizer means plugin 'shadow' (deltaw-shadow 1.2)" in text
    assert "shadows deltaw's built-in 'nadam'" in text and "write 'deltaw:nadam'" in text
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # qualified names are silent
        assert reg.entry("optimizer", "deltaw:nadam").plugin.name == "deltaw"
        assert reg.entry("optimizer", "shadow:nadam").plugin.name == "shadow"
        assert reg.entry("optimizer", "adam").plugin.name == "deltaw"
    assert reg.conflicts() == []
    assert sorted((a.qualified, b.qualified) for a, b in reg.shadows()) == [
        ("shadow:nadam", "deltaw:nadam"),
        ("shadow:sgd", "deltaw:sgd"),
    ]


def test_two_installed_plugins_registering_a_builtin_name_stay_an_error_naming_both(site):
    site.add("deltaw-shadow", {"shadow": "shadow_mod"}, {"shadow_mod": SHADOW})
    site.add("other-shadow", {"shadow2": "shadow_mod2"}, {"shadow_mod2": SHADOW})
    reg = fresh()
    with pytest.raises(DuplicateNameError) as exc:
        reg.entry("optimizer", "sgd", where="optimizer")
    message = str(exc.value)
    assert "registered by more than one plugin" in message
    assert "deltaw-shadow 1.0 (use 'shadow:sgd')" in message
    assert "other-shadow 1.0 (use 'shadow2:sgd')" in message
    assert reg.entry("optimizer", "deltaw:sgd").plugin.name == "deltaw"
    assert reg.shadows() == [] and len(reg.conflicts()) == 2


def test_a_qualifier_naming_the_wrong_plugin_says_who_registers_the_name():
    reg = fresh()
    with pytest.raises(
        UnknownNameError,
        match=r"asks for plugin 'lion', which does not register optimizer 'adam'.*'deltaw:adam' "
        r"\(built-in\)",
    ):
        reg.entry("optimizer", "lion:adam", where="optimizer")


# -- unknown names ---------------------------------------------------------------------------------


def test_an_unknown_name_lists_the_three_closest_and_points_at_deltaw_plugins():
    reg = fresh()
    with pytest.raises(UnknownNameError) as exc:
        reg.entry("optimizer", "adamm", where="optimizer")
    message = str(exc.value)
    assert message.startswith("Unknown optimizer 'adamm' at optimizer.")
    closest = message.split("Closest registered optimizers: ")[1].split(".")[0].split(", ")
    assert len(closest) == 3 and closest[0] in ("adam", "adamw")
    assert "Run `deltaw plugins`" in message


def test_after_uninstalling_a_plugin_its_names_say_which_package_provided_them(site, monkeypatch):
    info = site.add("deltaw-lion", {"lion": "lion_mod"}, {"lion_mod": LION}, version="0.3.1")
    fresh()  # loading it records what it provides
    assert provenance.provider("optimizer", "lion") == {
        "plugin": "lion",
        "distribution": "deltaw-lion",
        "version": "0.3.1",
    }
    for f in info.iterdir():  # pip uninstall deltaw-lion
        f.unlink()
    info.rmdir()
    importlib.invalidate_caches()
    with pytest.warns(DeltawPluginWarning, match="names 'lion', but no installed plugin has"):
        reg = fresh()
    assert "lion" not in reg.plugins
    with pytest.raises(UnknownNameError) as exc:
        reg.entry("optimizer", "lion", where="optimizer")
    message = str(exc.value)
    assert (
        "It was provided by plugin 'lion' of the package deltaw-lion 0.3.1, which is not installed"
        in message
    )
    assert "`deltaw install deltaw-lion`" in message and sys.executable in message
    assert "Closest registered optimizers:" in message and "Run `deltaw plugins`" in message


def test_a_name_of_a_disabled_plugin_says_the_plugin_is_disabled(site, monkeypatch):
    site.add("deltaw-lion", {"lion": "lion_mod"}, {"lion_mod": LION})
    fresh()
    monkeypatch.setenv("DELTAW_DISABLE_PLUGINS", "lion")
    with pytest.raises(
        UnknownNameError,
        match=r"deltaw-lion 1.0, which is disabled \(named in DELTAW_DISABLE_PLUGINS\)",
    ):
        fresh().entry("optimizer", "lion")


def test_builtins_and_plugins_registered_in_code_are_not_remembered(tmp_path):
    import types

    import deltaw
    from deltaw.plugins.costs import Quadratic

    @deltaw.hookimpl
    def register_costs(register):
        register("q-copy", Quadratic)

    reg = fresh()
    reg.register_plugin(types.SimpleNamespace(register_costs=register_costs), "copies")
    provenance.remember(reg.plugins.values())
    assert not (tmp_path / "cache" / provenance.FILENAME).exists()


def test_the_name_cache_is_only_a_convenience_corrupt_or_unwritable_it_is_ignored(
    site, tmp_path, monkeypatch
):
    cache = tmp_path / "cache" / provenance.FILENAME
    cache.parent.mkdir()
    cache.write_text("{not json")
    site.add("deltaw-lion", {"lion": "lion_mod"}, {"lion_mod": LION})
    fresh()
    assert (
        json.loads(cache.read_text())["names"]["optimizer"]["lion"]["distribution"] == "deltaw-lion"
    )
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    monkeypatch.setenv("DELTAW_CACHE_DIR", str(blocked / "cache"))
    assert fresh().plugins["lion"].status == "loaded"  # nothing raised
    assert provenance.provider("optimizer", "lion") is None


def test_the_cache_lives_in_the_user_cache_folder_unless_overridden(monkeypatch, tmp_path):
    monkeypatch.delenv("DELTAW_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):
        assert provenance.cache_file() == tmp_path / "xdg" / "deltaw" / provenance.FILENAME
    monkeypatch.setenv("DELTAW_CACHE_DIR", str(tmp_path / "mine"))
    assert provenance.cache_file() == tmp_path / "mine" / provenance.FILENAME


# -- plugins registered in code --------------------------------------------------------------------


def test_a_plugin_registered_in_code_adds_its_names_until_it_is_unregistered():
    import types

    import deltaw
    from deltaw.plugins.costs import Quadratic

    @deltaw.hookimpl
    def register_costs(register):
        register("q-copy", Quadratic)

    reg = fresh()
    info = reg.register_plugin(
        types.SimpleNamespace(register_costs=register_costs),
        "copies",
        distribution="my-dist",
        version="9",
    )
    assert (
        info.registers == [("cost", "q-copy")]
        and reg.entry("cost", "q-copy").plugin.origin == "my-dist 9"
    )
    reg.unregister_plugin("copies")
    assert "q-copy" not in reg.names("cost") and "copies" not in reg.plugins
    with pytest.raises(PluginError, match="No plugin called 'copies'"):
        reg.unregister_plugin("copies")
    with pytest.raises(PluginError):
        reg.unregister_plugin("deltaw")


def test_a_plugin_registered_in_code_that_fails_raises_and_leaves_the_registry_as_it_was():
    import types

    import deltaw
    from deltaw.plugins.costs import Quadratic

    @deltaw.hookimpl
    def register_costs(register):
        register("fine", Quadratic)
        register("broken", object)

    reg = fresh()
    before = reg.names("cost")
    with pytest.raises(
        PluginError,
        match="'bad' could not be registered: PluginError: cost 'broken' must be a subclass",
    ):
        reg.register_plugin(types.SimpleNamespace(register_costs=register_costs), "bad")
    assert reg.names("cost") == before and "bad" not in reg.plugins and not reg.pm.has_plugin("bad")
    with pytest.raises(PluginError, match="already registered"):
        reg.register_plugin(types.SimpleNamespace(), "deltaw")


def test_report_lists_every_plugin_and_name_as_plain_data(site):
    site.add("deltaw-lion", {"lion": "lion_mod"}, {"lion_mod": LION})
    report = fresh().report()
    lion = next(p for p in report["plugins"] if p["name"] == "lion")
    assert lion == {
        "name": "lion",
        "distribution": "deltaw-lion",
        "version": "1.0",
        "status": "loaded",
        "error": None,
        "registers": [{"kind": "optimizer", "name": "lion"}],
        "path": None,
        "hooks": [],
    }
    assert {
        "kind": "optimizer",
        "name": "lion",
        "plugin": "lion",
        "qualified": "lion:lion",
        "summary": "Sign of interpolated momentum.",
    } in report["names"]
    json.dumps(report)


TRACKER = """
import deltaw

@deltaw.hookimpl
def deltaw_epoch_end(metrics, run):
    pass

@deltaw.hookimpl
def deltaw_trial_end(sweep, trial, result):
    pass
"""


def test_a_plugin_that_only_implements_hooks_reports_them(site):
    site.add("deltaw-tracker", {"tracker": "tracker_mod"}, {"tracker_mod": TRACKER})
    report = fresh().report()
    tracker = next(p for p in report["plugins"] if p["name"] == "tracker")
    assert tracker["registers"] == []
    assert sorted(tracker["hooks"]) == ["deltaw_epoch_end", "deltaw_trial_end"]
