"""Distributions (installed packages): their normalized names and installed versions."""

from __future__ import annotations

import re
from importlib import metadata


def canonical_name(dist: str) -> str:
    """A distribution name normalized as PEP 503 does: 'Deltaw_Lion' == 'deltaw-lion'."""
    return re.sub(r"[-_.]+", "-", dist).lower()


def installed_version(dist: str) -> str | None:
    """The installed version of ``dist``, or None when it is not installed."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None
