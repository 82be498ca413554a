"""Learning curves of one or several runs, and decision regions of a network on 2-D data.

Both write a PNG (matplotlib's Agg backend, through :func:`deltaw.plots.pyplot`)
and take plain data: per-epoch histories (lists of metric dicts such as
``{"epoch": 1, "validation_accuracy": 0.9}``), or a network and its data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deltaw.core.base import DataSplits
from deltaw.core.network import Network
from deltaw.core.numerics import classes
from deltaw.files import atomic_write
from deltaw.plots import pyplot

SPLITS = ("training", "validation", "test")
STYLES = {"training": "--", "validation": "-", "test": ":"}


def metric_names(histories: Sequence[Sequence[dict[str, float]]]) -> list[str]:
    """Metrics recorded per split (``cost``, ``accuracy``, …), in the order first seen; cost first."""
    names: list[str] = []
    for history in histories:
        for row in history:
            for key in row:
                split, _, metric = key.partition("_")
                if split in SPLITS and metric and metric not in names:
                    names.append(metric)
    return sorted(names, key=lambda m: (m != "cost", m != "accuracy"))


def learning_curves(
    histories: Sequence[Sequence[dict[str, float]]],
    labels: Sequence[str],
    path: str | Path,
    title: str | None = None,
) -> Path:
    """One panel per metric (cost, accuracy, …); one colour per run; training dashed, validation solid, test dotted."""
    plt = pyplot()
    from matplotlib.lines import Line2D

    metrics = metric_names(histories) or ["cost"]
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.6 * len(metrics), 4.3), squeeze=False)
    colours = plt.get_cmap("tab10").colors
    splits_seen: list[str] = []
    for ax, metric in zip(axes[0], metrics):
        values_seen: list[float] = []
        for i, history in enumerate(histories):
            colour = colours[i % len(colours)]
            for split in SPLITS:
                key = f"{split}_{metric}"
                points = [
                    (row["epoch"], row[key]) for row in history if key in row and "epoch" in row
                ]
                if not points:
                    continue
                if split not in splits_seen:
                    splits_seen.append(split)
                x, y = zip(*points)
                y = [100 * v for v in y] if metric == "accuracy" else list(y)
                values_seen += [v for v in y if math.isfinite(v)]
                ax.plot(
                    x,
                    y,
                    STYLES[split],
                    color=colour,
                    linewidth=1.6,
                    marker="o" if len(x) <= 12 else None,
                    markersize=3,
                )
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy (%)" if metric == "accuracy" else metric)
        ax.set_title(metric)
        ax.grid(True, alpha=0.3)
        if (
            metric == "cost"
            and values_seen
            and min(values_seen) > 0
            and max(values_seen) / min(values_seen) > 100
        ):
            ax.set_yscale("log")
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
        handles=handles, loc="lower center", ncol=min(len(handles), 6), frameon=False, fontsize=9
    )
    rows = math.ceil(len(handles) / 6)
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.06 * rows, 1, 1))
    return _save(fig, path)


def decision_regions(
    network: Network | Sequence[Network],
    data: DataSplits | Sequence[DataSplits],
    path: str | Path,
    title: str | Sequence[str] | None = None,
    resolution: int = 300,
) -> Path:
    """The class the network picks at every point of the plane, with the training points on top.

    Needs 2-D inputs. Several networks (with their data and titles) give one panel each.
    """
    plt = pyplot()
    nets = [network] if isinstance(network, Network) else list(network)
    datas = [data] if isinstance(data, DataSplits) else list(data)
    titles = [title] * len(nets) if title is None or isinstance(title, str) else list(title)
    spans = [np.ptp(np.concatenate([s.x for _, s in d.items()]), axis=0) for d in datas]
    ratio = float(np.clip(max(s[1] / max(s[0], 1e-9) for s in spans), 0.45, 1.2))
    fig, axes = plt.subplots(
        1, len(nets), figsize=(5.0 * len(nets), 1.0 + 4.2 * ratio), squeeze=False
    )
    cmap = plt.get_cmap("tab10")
    for ax, net, d, t in zip(axes[0], nets, datas, titles):
        if net.sizes[0] != 2:
            raise ValueError(f"decision regions need 2-D inputs, this network takes {net.sizes[0]}")
        xs = np.concatenate([s.x for _, s in d.items()])
        lo, hi = xs.min(axis=0), xs.max(axis=0)
        pad = 0.08 * (hi - lo) + 1e-9
        g0, g1 = np.meshgrid(
            np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution),
            np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution),
        )
        grid = np.column_stack([g0.ravel(), g1.ravel()]).astype(net.dtype)
        with np.errstate(over="ignore", under="ignore"):
            cls = classes(net.feedforward(grid)).reshape(g0.shape)
        k = max(int(cls.max()) + 1, d.train.y.shape[1] if d.train.y.ndim == 2 else 2, 2)
        colours = [cmap(i % 10) for i in range(k)]
        from matplotlib.colors import ListedColormap

        ax.pcolormesh(
            g0,
            g1,
            cls,
            cmap=ListedColormap(colours),
            vmin=-0.5,
            vmax=k - 0.5,
            alpha=0.28,
            shading="auto",
        )
        labels = classes(d.train.y) if d.train.y.ndim == 2 else d.train.y.astype(int)
        ax.scatter(
            d.train.x[:, 0],
            d.train.x[:, 1],
            c=[colours[c] for c in labels],
            s=10,
            edgecolors="k",
            linewidths=0.3,
        )
        with np.errstate(over="ignore", under="ignore"):
            accuracy = float(np.mean(classes(net.feedforward(d.train.x)) == labels))
        ax.set_title(f"{t + ': ' if t else ''}training accuracy {accuracy:.1%}", fontsize=10)
        ax.set_xlabel("x₁")
        ax.set_ylabel("x₂")
        ax.set_aspect("equal", adjustable="box")
    fig.tight_layout()
    return _save(fig, path)


def _save(fig: Any, path: str | Path) -> Path:
    """Save atomically (temporary file + rename) and close the figure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fmt = path.suffix[1:].lower() or "png"
        atomic_write(path, lambda f: fig.savefig(f, dpi=110, format=fmt), mode="wb")
    finally:
        fig.clear()
        from deltaw.plots import pyplot as _p

        _p().close(fig)
    return path
