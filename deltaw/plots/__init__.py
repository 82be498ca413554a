"""Pictures (matplotlib, an optional extra: ``pip install 'deltaw[plot]'``)."""

from __future__ import annotations

import sys
from typing import Any

from deltaw.errors import DeltawError


def pyplot() -> Any:
    """matplotlib.pyplot, or a clear error saying how to get it.

    When nothing chose a backend yet (the command line, a script that never imported
    pyplot), the non-interactive Agg backend is chosen. Inside IPython or Jupyter, or once
    the program imported pyplot itself, its backend is left alone: switching it would close
    the program's figures, and a notebook would lose its inline plots after a run wrote
    ``curves.png``. deltaw closes every figure it draws once it is saved.
    """
    try:
        import matplotlib

        if "matplotlib.pyplot" not in sys.modules and not in_ipython():
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise DeltawError(
            "Plotting needs matplotlib, an optional extra: pip install 'deltaw[plot]'"
            " (or pip install matplotlib)."
        ) from None
    return plt


def in_ipython() -> bool:
    """True inside an IPython shell or a Jupyter kernel (checked without importing IPython)."""
    ipython = sys.modules.get("IPython")
    return ipython is not None and getattr(ipython, "get_ipython", lambda: None)() is not None


def have_matplotlib() -> bool:
    """True when matplotlib can be imported (checked without importing it)."""
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None
