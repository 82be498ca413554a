"""Which process owns a running run, and whether it is still alive.

``run.json`` of a running run records its owner: the process id, the host, the
boot it runs in and the process's start time. A reader on the same host can
then tell a run that is still training from one whose process was killed
(``kill -9``, a lost machine, an out-of-memory kill): the pid is gone, the
machine has rebooted since, or the pid now belongs to another process.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def this_process() -> dict[str, Any]:
    """The owner record of the current process: ``pid``, ``host``, ``boot``, ``started``."""
    pid = os.getpid()
    return {"pid": pid, "host": socket.gethostname(), "boot": boot_id(), "started": started(pid)}


def owner_alive(owner: dict[str, Any] | None) -> bool | None:
    """Whether the process in ``owner`` still runs: True, False, or None when this host cannot
    tell (no owner recorded, another host, or a system without process ids to check)."""
    if not owner or owner.get("host") != socket.gethostname() or os.name == "nt":
        return None  # os.kill(pid, 0) would end the process on Windows
    boot = boot_id()
    if owner.get("boot") and boot and owner["boot"] != boot:
        return False  # the machine rebooted since
    pid = int(owner.get("pid", 0))
    if pid <= 0:
        return None
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    now = started(pid)
    if now is None:
        return True
    if now == "zombie":
        return False  # killed, not yet reaped by its parent
    return owner.get("started") in (None, now)  # another start time: the pid was reused


def boot_id() -> str | None:
    """The kernel's id of the current boot (Linux), else None."""
    try:
        return BOOT_ID.read_text().strip() or None
    except OSError:
        return None


def started(pid: int) -> int | str | None:
    """When ``pid`` started, in clock ticks since boot (Linux ``/proc``); ``"zombie"`` for a
    process that has ended but is not reaped; None where this cannot be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (name) ": state, ppid, …
    if fields[0] in ("Z", "X"):
        return "zombie"
    return int(fields[19])  # field 22 of proc(5), counted from the state (field 3)
