"""What the benchmark measures outside the training loop: the machine, start-up time, peak
memory."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BLAS_ENV = (
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
)


def machine() -> dict[str, Any]:
    """CPU, cores, Python, numpy, the BLAS numpy runs (and its threads) and the BLAS-related
    environment."""
    import numpy as np

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info: dict[str, Any] = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "numpy": np.__version__,
        "env": {k: os.environ[k] for k in BLAS_ENV if k in os.environ},
    }
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [
            {
                k: p.get(k)
                for k in (
                    "internal_api",
                    "version",
                    "architecture",
                    "num_threads",
                    "threading_layer",
                )
            }
            for p in threadpool_info()
            if p.get("user_api") == "blas"
        ]
    except ImportError:
        info["blas"] = (
            "threadpoolctl not installed (pip install threadpoolctl): BLAS kernel and threads "
            "unknown"
        )
    try:
        import torch

        info["torch"] = {"version": str(torch.__version__), "threads": torch.get_num_threads()}
    except ImportError:
        info["torch"] = None
    return info


def deltaw_command() -> list[str]:
    """The ``deltaw`` console script beside this Python (not a pyenv shim), else ``python -m
    deltaw``."""
    script = Path(sys.executable).parent / "deltaw"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "deltaw"]


def startup(args: list[str], repeats: int) -> dict[str, Any]:
    """Wall time of ``deltaw ARGS`` (output discarded): median and all runs, after one warm-up
    run."""
    cmd = deltaw_command() + args
    times = []
    for i in range(repeats + 1):
        started = time.perf_counter()
        done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()}")
        if i:  # the first run fills the OS file cache
            times.append(elapsed)
    return {
        "command": " ".join(["deltaw", *args]),
        "median": statistics.median(times),
        "times": times,
    }


_MEASURE = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
if done.returncode:
    sys.exit(done.stderr)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def peak_memory(spec: Path, out: Path) -> float:
    """Peak resident memory (MB) of ``deltaw run SPEC -q`` — the whole process, start to finish."""
    cmd = [
        sys.executable,
        "-c",
        _MEASURE,
        *deltaw_command(),
        "run",
        str(spec),
        "--quiet",
        "--out",
        str(out),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"deltaw run {spec} failed: {done.stderr.strip()}")
    return int(done.stdout.strip()) / 1024  # ru_maxrss is in KiB on Linux
