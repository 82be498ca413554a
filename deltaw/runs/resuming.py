"""What a resume may change, and what it refuses: a resume trains what the run recorded.

A run folder records its experiment three times: the spec as written, its
``--set`` overrides and ``resolved.yaml`` (every default filled in). ``run.json``
holds a SHA-256 of each (:func:`fingerprints`). A resume builds the experiment from
``resolved.yaml``; when a file no longer matches its fingerprint, the spec and overrides
are resolved again and any key that now differs is refused by name. A deliberate
change goes through ``--set`` (only the keys in :data:`ON_RESUME`) and is recorded in
``run.json`` (``changes``) with the epoch from which it applies. A resume never starts
again from epoch 0 when epochs were done but the checkpoint is gone.
"""

from __future__ import annotations

import hashlib
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from deltaw.errors import DeltawError, SpecError
from deltaw.registry import Registry
from deltaw.runs.folder import read_metrics, resume_command, run_overrides, run_spec_file
from deltaw.spec.loading import load_spec
from deltaw.spec.overrides import parse_override

# the keys a resume may change with --set: how long to train, and the base learning rate
ON_RESUME = ("training.epochs", "optimizer.lr")
RECORDED = ("overrides.json", "resolved.yaml")  # with the spec file: what fingerprints cover


def check_overrides(folder: Path, overrides: Sequence[str]) -> None:
    """Every ``--set`` of a resume changes a key of :data:`ON_RESUME`."""
    for text in overrides:
        key, _ = parse_override(text)
        if key not in ON_RESUME:
            raise SpecError(
                f"--resume {folder}: --set {text!r} would change the experiment; when resuming "
                f"only {' and '.join(ON_RESUME)} may change (the change is recorded in run.json "
                f"with the epoch it took effect). Start a new run to change {key}."
            )


def fingerprints(folder: Path) -> dict[str, str]:
    """The SHA-256 of the spec file, ``overrides.json`` and ``resolved.yaml`` in ``folder``."""
    names = [run_spec_file(folder).name, *RECORDED]
    return {
        name: hashlib.sha256((folder / name).read_bytes()).hexdigest()
        for name in names
        if (folder / name).is_file()
    }


def check_unchanged(folder: Path, info: dict[str, Any], registry: Registry) -> None:
    """Refuse to resume when the spec, its overrides or ``resolved.yaml`` were edited so that
    they no longer agree, naming the files and the keys that differ."""
    recorded = info.get("files") or {}
    now = fingerprints(folder)
    edited = [name for name in now if recorded.get(name) != now[name]]
    if recorded and not edited:
        return  # as the run wrote them
    spec_path = run_spec_file(folder)
    which = ", ".join(edited) if recorded else f"{spec_path.name} or resolved.yaml"
    head = (
        f"--resume {folder}: {which} changed since the run started (edited after it was "
        f"written); a resume trains what the run recorded in resolved.yaml"
    )
    overrides = run_overrides(folder)  # a damaged overrides.json is a FileError (exit 7) itself
    try:
        spec, _ = load_spec(spec_path, overrides, registry=registry)
    except DeltawError as exc:
        raise SpecError(f"{head}, and {spec_path.name} no longer loads: {exc}") from None
    resolved = read_resolved(folder)
    differ = differences(resolved, spec.resolved())
    if not differ:
        return  # a comment or formatting edit: the same experiment
    shown = "; ".join(
        f"{k} is {a!r} in resolved.yaml but {b!r} in {spec_path.name}" for k, a, b in differ[:8]
    )
    more = f" (and {len(differ) - 8} more)" if len(differ) > 8 else ""
    raise SpecError(
        f"{head}, and they now disagree (overrides.json applied): {shown}{more}. Undo the "
        f"edit to resume. To change {' or '.join(ON_RESUME)} from here on: "
        f"{resume_command(folder)} --set KEY=VALUE (recorded in run.json). To train the edited "
        f"spec, start a new run: deltaw run {shlex.quote(str(spec_path))}{sets(folder)}"
    )


def read_resolved(folder: Path) -> dict[str, Any]:
    """``resolved.yaml`` of a run folder as a mapping."""
    path = folder / "resolved.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SpecError(f"{path} cannot be read ({exc}); the run folder is damaged.") from None
    if not isinstance(data, dict):
        raise SpecError(f"{path} does not hold a resolved spec; the run folder is damaged.")
    return data


def differences(a: Any, b: Any, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """The dotted keys (``optimizer.lr``, ``callbacks[0].patience``) where ``a``, ``b`` differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in [*a, *(k for k in b if k not in a)]:
            key = f"{prefix}.{k}" if prefix else str(k)
            out += differences(a.get(k), b.get(k), key)
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{prefix}[{i}]")
        ]
    return [] if a == b else [(prefix, a, b)]


def check_checkpoint(folder: Path, epochs: int) -> None:
    """Refuse to resume from epoch 0 when ``epochs`` (run.json) or metrics.jsonl say that
    epochs were done but ``checkpoint.npz`` is gone."""
    ckpt = folder / "checkpoint.npz"
    if ckpt.exists():
        return
    rows = len(read_metrics(folder))
    done = max(epochs, rows)
    if done < 1:
        return  # interrupted in its first epoch: starting again is resuming
    where = f"run.json records {epochs}" if epochs >= rows else f"metrics.jsonl has {rows}"
    final = folder / "weights.npz"
    kept = (
        " weights.npz still holds the weights when the run last stopped (`deltaw predict` "
        "reads it), but not the optimizer state, counters and RNG a resume needs."
        if final.is_file()
        else ""
    )
    spec = run_spec_file(folder)
    raise DeltawError(
        f"--resume {folder}: {ckpt.name} is missing, but {where} completed epoch(s); resuming "
        f"would train again from epoch 0 over them. Put the checkpoint back if it was moved.{kept} "
        f"To train again from the start in a new folder: "
        f"deltaw run {shlex.quote(str(spec))}{sets(folder)}"
    )


def sets(folder: Path) -> str:
    """The run's recorded overrides as ``--set`` options (`` --set a=1 --set b=2``)."""
    return "".join(f" --set {shlex.quote(o)}" for o in run_overrides(folder))


def history_until(folder: Path, epoch: int) -> list[dict[str, float]]:
    """The first ``epoch`` records of ``metrics.jsonl`` (later rows, written before a crash
    stopped the epoch's checkpoint, are left out)."""
    rows = read_metrics(folder)[:epoch]
    if [int(r.get("epoch", 0)) for r in rows] != list(range(1, epoch + 1)):
        have = f"{len(rows)} rows" if rows else "no rows"
        raise DeltawError(
            f"--resume {folder}: the checkpoint holds epoch {epoch}, but metrics.jsonl has "
            f"{have} for epochs 1…{epoch} (missing or out of order): the history of the run "
            f"would be lost. Put back the metrics.jsonl that belongs to this checkpoint."
        )
    return rows
