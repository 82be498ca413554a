"""How much memory this process may still use: a run that can never fit is refused before it starts.

A layer of 10⁹ units or a data set of 10¹² samples would otherwise end in a
``MemoryError`` deep inside numpy, or in the operating system killing the
process (or the machine swapping for hours). :func:`check_fits` compares an
estimate with what is available and raises the caller's error class, naming
what takes the memory and how much.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

GiB = 2**30


def available_bytes() -> int | None:
    """Memory this process could still allocate, in bytes; None when the system does not say.

    The smallest of: ``MemAvailable`` in ``/proc/meminfo`` (Linux), the room
    left under a cgroup v2 limit (containers), and the free physical pages
    (``os.sysconf``) where there is no ``/proc``.
    """
    found = [n for n in (_meminfo(), _cgroup_room()) if n is not None]
    if not found:
        found = [n for n in (_sysconf("SC_AVPHYS_PAGES"), _sysconf("SC_PHYS_PAGES")) if n][:1]
    return min(found) if found else None


def check_fits(need: int, what: str, fix: str, error: type[Exception]) -> None:
    """Raise ``error`` when ``need`` bytes (for ``what``) exceed what is available."""
    free = available_bytes()
    if free is not None and need > free:
        raise error(
            f"{what} would take {gib(need)} of memory, but this machine has {gib(free)} available. "
            f"{fix}"
        )


def gib(n: int) -> str:
    """``n`` bytes for a message: ``512.0 MiB``, ``22.9 GiB``, ``5.1 TiB``, ``3.2e+08 PiB``."""
    for unit, size in (("MiB", 2**20), ("GiB", 2**30), ("TiB", 2**40)):
        if n < 1024 * size:
            return f"{n / size:,.1f} {unit}"
    pib = Decimal(n) / 2**50  # exact for any int, where n / 2**50 overflows a float
    return f"{pib:,.1f} PiB" if pib < 10**6 else f"{pib:.1e} PiB"


def many(n: int) -> str:
    """A count for a message: ``1,000,000`` or, past 15 digits, ``1.000e+30``."""
    return f"{n:,}" if abs(n) < 10**15 else f"{Decimal(n):.3e}"


def _meminfo() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_room() -> int | None:
    root = Path("/sys/fs/cgroup")
    try:
        limit = (root / "memory.max").read_text().strip()
        if limit == "max":
            return None
        return max(int(limit) - int((root / "memory.current").read_text()), 0)
    except (OSError, ValueError):
        return None


def _sysconf(name: str) -> int | None:
    try:
        return int(os.sysconf(name)) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None
