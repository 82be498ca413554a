"""Learning curves of repeated runs: per configuration, the mean curve with ± one std shaded.

Takes plain data, as :mod:`deltaw.plots.curves` does: per configuration, the
histories (lists of per-epoch metric dicts) of its runs, one per seed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from deltaw.plots import pyplot
from deltaw.plots.curves import SPLITS, STYLES, _save, metric_names

History = Sequence[dict[str, float]]


def band(histories: Sequence[History], key: str) -> tuple[list[float], list[float], list[float]]:
    """Epochs, mean and sample std (0 for one run) of ``key`` over the runs that have that epoch."""
    by_epoch: dict[float, list[float]] = {}
    for history in histories:
        for row in history:
            value = row.get(key)
            if "epoch" in row and isinstance(value, (int, float)) and math.isfinite(value):
                by_epoch.setdefault(row["epoch"], []).append(float(value))
    epochs = sorted(by_epoch)
    means = [float(np.mean(by_epoch[e])) for e in epochs]
    stds = [float(np.std(by_epoch[e], ddof=1)) if len(by_epoch[e]) > 1 else 0.0 for e in epochs]
    return epochs, means, stds


def learning_bands(
    groups: Sequence[Sequence[History]],
    labels: Sequence[str],
    path: str | Path,
    title: str | None = None,
) -> Path:
    """One panel per metric; per configuration one colour: the mean line, ± std shaded."""
    plt = pyplot()
    from matplotlib.lines import Line2D

    metrics = metric_names([h for g in groups for h in g]) or ["cost"]
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.6 * len(metrics), 4.3), squeeze=False)
    colours = plt.get_cmap("tab10").colors
    splits_seen: list[str] = []
    for ax, metric in zip(axes[0], metrics):
        for i, histories in enumerate(groups):
            colour = colours[i % len(colours)]
            for split in SPLITS:
                epochs, means, stds = band(histories, f"{split}_{metric}")
                if not epochs:
                    continue
                if split not in splits_seen:
                    splits_seen.append(split)
                scale = 100.0 if metric == "accuracy" else 1.0
                mean, std = np.array(means) * scale, np.array(stds) * scale
                ax.plot(epochs, mean, STYLES[split], color=colour, linewidth=1.6)
                ax.fill_between(epochs, mean - std, mean + std, color=colour, alpha=0.18, lw=0)
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy (%)" if metric == "accuracy" else metric)
        ax.set_title(f"{metric}: mean ± std over seeds")
        ax.grid(True, alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
    handles = [
        Line2D([], [], color=colours[i % len(colours)], linewidth=2, label=label)
        for i, label in enumerate(labels)
    ]
    handles += [
        Line2D([], [], color="0.3", linestyle=STYLES[s], label=s)
        for s in SPLITS
        if s in splits_seen
    ]
    fig.legend(
        handles=handles, loc="lower center", ncol=min(len(handles), 4), frameon=False, fontsize=9
    )
    rows = math.ceil(len(handles) / 4)
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.06 * rows, 1, 1))
    return _save(fig, path)
