"""Plugins in single files, without packaging: every ``*.py`` of the folders in
``DELTAW_PLUGINS_DIR`` (``deltaw --plugins-dir DIR`` sets it) is one plugin.

A student writes a cost in ``plugins/focal.py`` — the class and its
``@deltaw.hookimpl`` registration hook, as in a package's module — and runs
``deltaw --plugins-dir plugins run spec.yaml``. Each file is imported by its
path as the module ``deltaw_local_<stem>`` and registered directly with
pluggy under the plugin name ``<stem>``, on its own, with the failure isolation
of entry points (:meth:`deltaw.registry.Registry.load_plugin`): a broken file
is reported once and skipped, ``DELTAW_STRICT_PLUGINS=1`` makes it an error,
``--disable-plugin <stem>`` leaves it out, and ``deltaw plugins`` shows the
file as its origin. Files whose name starts with a dot (editor files) are
skipped; the folders are read in the order given, the files of a folder in
name order.

The variable, not a module-level list, carries the folders so that the
processes a sweep starts load the same plugins.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from deltaw.registry.manager import Registry

ENV = "DELTAW_PLUGINS_DIR"
MODULE_PREFIX = "deltaw_local_"


def plugin_dirs() -> list[Path]:
    """The folders ``DELTAW_PLUGINS_DIR`` names (``os.pathsep``-separated, empty parts ignored)."""
    raw = os.environ.get(ENV, "")
    return [Path(part).expanduser() for part in raw.split(os.pathsep) if part.strip()]


def add_plugin_dirs(folders: list[Path]) -> None:
    """Put ``folders`` (made absolute) in front of ``DELTAW_PLUGINS_DIR``, for this process
    and the ones it starts; a folder already named is not repeated."""
    given = [str(Path(f).expanduser().resolve()) for f in folders]
    rest = [str(d) for d in plugin_dirs() if str(d) not in given]
    os.environ[ENV] = os.pathsep.join(dict.fromkeys([*given, *rest]))


def plugin_files(folder: Path) -> list[Path]:
    """The plugin files of ``folder``, in name order; ``NotADirectoryError`` if it is none."""
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder} is not a folder (named in {ENV} or --plugins-dir)")
    found = (p for p in folder.absolute().glob("*.py") if not p.name.startswith("."))
    return sorted(p for p in found if p.is_file())


def module_name(path: Path) -> str:
    """``deltaw_local_<stem>``: the module a plugin file is imported as."""
    return MODULE_PREFIX + path.stem


def import_file(path: Path) -> ModuleType:
    """Import ``path`` as :func:`module_name` (in ``sys.modules`` while it runs, so its
    classes resolve their annotations; removed again if it raises)."""
    name = module_name(path)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{path} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    previous = sys.modules.get(name)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        if previous is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = previous
        raise
    return module


def load_plugin_files(registry: Registry, disable: list[str] | tuple[str, ...] = ()) -> None:
    """Load every plugin file of the folders of ``DELTAW_PLUGINS_DIR`` into ``registry``,
    each on its own; a folder that does not exist is reported like a broken plugin."""
    for folder in plugin_dirs():
        try:
            files = plugin_files(folder)
        except NotADirectoryError as exc:
            registry.load_plugin(str(folder), _raise(exc), str(folder), path=str(folder))
            continue
        for path in files:
            registry.load_plugin(
                path.stem,
                lambda path=path: import_file(path),
                str(path),
                path=str(path),
                disable=disable,
            )


def _raise(exc: BaseException):  # noqa: ANN202
    def load() -> ModuleType:
        raise exc

    return load
