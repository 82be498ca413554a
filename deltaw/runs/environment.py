"""What shaped the numbers: Python, numpy, BLAS and plugin versions, the cores, the BLAS threads."""

from __future__ import annotations

import os
import platform
import sys
from typing import Any

import numpy as np

from deltaw.registry import Registry
from deltaw.registry.distributions import installed_version
from deltaw.runs.folder import now
from deltaw.runs.threads import BlasThreads, available_cpus
from deltaw.spec.build import Experiment


def environment(exp: Experiment, registry: Registry | None = None) -> dict[str, Any]:
    """Versions of everything that shaped the numbers."""
    import deltaw

    env: dict[str, Any] = {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "cpus_available": available_cpus(),  # affinity and cgroup quota: what BLAS may use
        "numpy": np.__version__,
        "blas": blas_info(),
        "deltaw": deltaw.__version__,
        "libraries": {
            name: installed_version(name)
            for name in ("pydantic", "pluggy", "typer", "rich", "PyYAML", "matplotlib")
        },
        "plugins_used": exp.plugins_used,
        "data": data_description(exp),
        "command": sys.argv[:],
        "started": now(),
    }
    if registry is not None:
        env["plugins"] = {
            p.name: {"distribution": p.distribution, "version": p.version, "status": p.status}
            for p in registry.plugins.values()
        }
    return env


def data_description(exp: Experiment) -> dict[str, Any] | None:
    """The data set: its name, the size of each split and its own ``DataSplits.info``."""
    if exp.data is None:
        return None
    return {
        "name": exp.spec.data.name,
        "splits": {name: len(split) for name, split in exp.data.items()},
        "info": _jsonable(exp.data.info),
    }


def _jsonable(value: Any) -> Any:
    """``value`` with numpy scalars and small arrays as plain numbers and lists.

    A large array becomes a line giving its shape; anything else not JSON, its ``str``.
    """
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray) and value.size > 100:
        return f"array of shape {list(value.shape)}, {value.dtype}"
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def blas_info() -> dict[str, Any]:
    try:
        config = np.show_config(mode="dicts")  # numpy >= 1.25
        blas = config.get("Build Dependencies", {}).get("blas", {})
        info: dict[str, Any] = {"name": blas.get("name"), "version": blas.get("version")}
    except Exception:  # pragma: no cover - older numpy
        info = {}
    try:
        from threadpoolctl import threadpool_info

        info["threads"] = [
            {"api": p.get("internal_api"), "threads": p.get("num_threads")}
            for p in threadpool_info()
        ]
    except ImportError:
        pass
    return info


def blas_threads(setting: int | str | None, exp: Experiment | None = None) -> BlasThreads:
    """The BLAS thread count for a run: ``setting`` as ``training.threads`` takes it.

    An int limits BLAS to that many threads, None leaves it alone, ``"auto"``
    chooses from the free cores and, given ``exp``, the size of its products
    (:mod:`deltaw.runs.threads`). Use it as a context manager around training
    and add its ``callbacks`` to the trainer; ``record`` goes into ``run.json``.
    """
    if exp is None:
        return BlasThreads(setting)
    return BlasThreads(setting, exp.network.sizes, exp.spec.training.batch_size)
