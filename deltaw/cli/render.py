"""Formatting numbers for the terminal (shared by the commands)."""

from __future__ import annotations

from typing import Any

from deltaw.core.history import BOOKKEEPING


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
    return " · ".join(fmt_metric(k, v) for k, v in record.items() if k not in BOOKKEEPING)


def epoch_line(record: dict[str, Any]) -> str:
    """``Epoch 3: training cost 0.0912 · validation accuracy 94.21% · 1.20s``"""
    return (
        f"Epoch {int(record['epoch'])}: {metrics_text(record)}"
        f" · {record.get('train_time', 0.0):.2f}s"
    )
