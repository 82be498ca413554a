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
    """Metrics recorded per split (``cost``, ``accuracy``, …), in the order first seen; cost
    first."""
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
    """One panel per metric (cost, accuracy, …), one colour per run; training dashed, validation
    solid, test dotted.

    The legend sits below the panels and is readable at any number of runs:
    labels of the form ``key=value, key=value`` with the same keys in every
    run (what :func:`deltaw.runs.report.labels` gives) show the keys once, in
    the legend's title, and only the values per run; long values are
    shortened; above 10 runs every run is numbered, in the legend and at the
    end of its curves, and the font gets smaller.
    """
    plt = pyplot()
    from matplotlib.lines import Line2D

    n = len(histories)
    heading, entries = legend_entries([literal(label) for label in labels])
    numbered = n > 10
    if numbered:
        entries = [f"{i}: {e}" for i, e in enumerate(entries, 1)]
    colours = run_colours(plt, n)
    font = 9 if n <= 10 else 8 if n <= 20 else 7
    metrics = metric_names(histories) or ["cost"]
    width = 5.6 * len(metrics)
    columns = legend_columns(entries, width, font)
    rows = math.ceil(len(entries) / columns) if entries else 0
    legend_height = 0.45 + (rows + (1.6 if heading else 0)) * font * 1.45 / 72
    fig = plt.figure(figsize=(width, 4.3 + legend_height))
    grid = fig.add_gridspec(2, len(metrics), height_ratios=(4.3, legend_height), hspace=0.35)
    axes = [fig.add_subplot(grid[0, i]) for i in range(len(metrics))]
    splits_seen: list[str] = []
    for ax, metric in zip(axes, metrics):
        values_seen: list[float] = []
        for i, history in enumerate(histories):
            last: tuple[float, float] | None = None
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
                    color=colours[i],
                    linewidth=1.6 if n <= 10 else 1.1,
                    marker="o" if len(x) <= 12 and n <= 10 else None,
                    markersize=3,
                )
                if math.isfinite(y[-1]) and (last is None or split == "validation"):
                    last = (x[-1], y[-1])
            if numbered and last is not None:  # the run's number where its curve ends
                ax.annotate(
                    str(i + 1),
                    last,
                    xytext=(2, 0),
                    textcoords="offset points",
                    fontsize=font - 1,
                    color=colours[i],
                    va="center",
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
    box = fig.add_subplot(grid[1, :])
    box.axis("off")
    styles = [
        Line2D([], [], color="0.3", linestyle=STYLES[s], label=s)
        for s in SPLITS
        if s in splits_seen
    ]
    if len(splits_seen) > 1:  # which line is which split, in the first panel
        axes[0].legend(handles=styles, loc="best", fontsize=font, framealpha=0.8)
    runs = [
        Line2D([], [], color=colours[i], linewidth=2, label=entry)
        for i, entry in enumerate(entries)
    ]
    if runs:
        box.legend(
            handles=runs,
            loc="upper center",
            ncol=columns,
            frameon=False,
            fontsize=font,
            title=heading,
            title_fontsize=font,
            handlelength=1.6,
            columnspacing=1.2,
            borderaxespad=0,
        )
    if title:
        fig.suptitle(literal(title))
    return _save(fig, path)


def literal(text: str) -> str:
    """``text`` as matplotlib shows it literally: a ``$`` would start mathtext."""
    return str(text).replace("$", r"\$")


MAX_VALUE = 28  # characters of one value in a legend entry; longer ones are shortened in the middle


def legend_entries(labels: Sequence[str]) -> tuple[str | None, list[str]]:
    """The legend's title and entries: ``a=1, b=x``-style labels with the same keys in every run
    give ``("a, b", ["1, x", …])``.

    Other labels are kept as they are; every value is shortened to MAX_VALUE characters.
    """
    parsed = [[part.partition("=") for part in label.split(", ")] for label in labels]
    keys = [[k for k, eq, _ in parts] for parts in parsed]
    same = all(eq for parts in parsed for _, eq, _ in parts) and all(k == keys[0] for k in keys)
    if labels and same:
        values = [", ".join(_shorten(v) for _, _, v in parts) for parts in parsed]
        return ", ".join(keys[0]), values
    return None, [_shorten(label, 2 * MAX_VALUE) for label in labels]


def _shorten(text: str, limit: int = MAX_VALUE) -> str:
    """``text`` in at most ``limit`` characters: a path by its file name, else cut in the middle."""
    if len(text) <= limit:
        return text
    if "/" in text.strip("/"):
        text = "…/" + text.rstrip("/").rsplit("/", 1)[1]
        if len(text) <= limit:
            return text
    keep = limit - 1
    return text[: keep - keep // 2] + "…" + text[len(text) - keep // 2 :]


def legend_columns(entries: Sequence[str], width: float, font: float) -> int:
    """As many columns as fit ``width`` inches at ``font`` points (about 0.6 em a character)."""
    if not entries:
        return 1
    longest = max(len(e) for e in entries)
    per_column = (longest * 0.6 + 4.0) * font / 72  # text + handle and spacing
    return max(1, min(len(entries), int(width / per_column), 8))


def run_colours(plt: Any, n: int) -> list[Any]:
    """A colour per run: tab10 up to 10 runs, tab20 up to 20, then evenly along the turbo map."""
    if n <= 10:
        return list(plt.get_cmap("tab10").colors[:n])
    if n <= 20:
        return list(plt.get_cmap("tab20").colors[:n])
    cmap = plt.get_cmap("turbo")
    return [cmap(0.05 + 0.9 * i / (n - 1)) for i in range(n)]


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
        ax.set_title(
            literal(f"{t + ': ' if t else ''}training accuracy {accuracy:.1%}"), fontsize=10
        )
        ax.set_xlabel("x₁")
        ax.set_ylabel("x₂")
        ax.set_aspect("equal", adjustable="box")
    fig.tight_layout()
    return _save(fig, path)


def _save(fig: Any, path: str | Path) -> Path:
    """Save through :func:`deltaw.files.atomic_write` (a normal file's mode); close the figure."""
    from deltaw.errors import DeltawError
    from deltaw.plots import pyplot

    path = Path(path)
    kind = path.suffix.lower().lstrip(".") or "png"
    try:
        supported = fig.canvas.get_supported_filetypes()
        if kind not in supported:
            raise DeltawError(
                f"{path}: matplotlib cannot write .{kind} files; give a name ending in "
                f"{', '.join('.' + k for k in sorted(supported))} (.png is the usual)."
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(
            path, lambda f: fig.savefig(f, format=kind, dpi=110, bbox_inches="tight"), "wb"
        )
    finally:
        fig.clear()
        pyplot().close(fig)
    return path
