"""Formatting numbers for the terminal (shared by the commands)."""

from __future__ import annotations

from typing import Any


def fmt_g(v: float | None, digits: int = 4) -> str:
    return "-" if v is None or v != v else f"{v + 0.0:.{digits}g}"  # + 0.0 turns -0 into 0


def fmt_e(v: float | None) -> str:
    return "-" if v is None or v != v else f"{v:.1e}"


def fmt_metric(key: str, value: Any, bare: bool = False) -> str:
    if value is None:
        return "-"
    text = (
        f"{value:.2%}"
        if key.endswith("accuracy") and isinstance(value, float)
        else f"{value:.4g}"
        if isinstance(value, float)
        else str(value)
    )
    return text if bare else f"{key.replace('_', ' ')} {text}"


def metrics_text(record: dict[str, Any]) -> str:
    """``training cost 0.0912 · validation accuracy 94.21%`` (bookkeeping keys left out)."""
    parts = []
    for key, value in record.items():
        if key in ("epoch", "lr", "train_time", "eval_time"):
            continue
        label = key.replace("_", " ")
        parts.append(f"{label} {value:.2%}" if key.endswith("accuracy") else f"{label} {value:.4g}")
    return " · ".join(parts)


def epoch_line(record: dict[str, Any]) -> str:
    """``Epoch 3: training cost 0.0912 · validation accuracy 94.21% · 1.20s``"""
    return f"Epoch {int(record['epoch'])}: {metrics_text(record)} · {record.get('train_time', 0.0):.2f}s"
