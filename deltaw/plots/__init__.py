"""Pictures (matplotlib, an optional extra: ``pip install 'deltaw[plot]'``)."""

from __future__ import annotations

from typing import Any

from deltaw.errors import DeltawError


def pyplot() -> Any:
    """matplotlib.pyplot with a non-interactive backend, or a clear error saying how to get it."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise DeltawError(
            "Plotting needs matplotlib, an optional extra: pip install 'deltaw[plot]' (or pip install matplotlib)."
        ) from None
    return plt


def have_matplotlib() -> bool:
    """True when matplotlib can be imported (checked without importing it)."""
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None
