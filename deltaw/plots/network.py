"""Network drawings: each edge's share of ∂C/∂w (``deltaw explain --plot``) and each
parameter's gradient-check error (``deltaw gradcheck --plot``).

Layers larger than ``MAX_SHOWN`` neurons show only their most involved
neurons, with a "+N more" mark. Needs matplotlib (``pip install 'deltaw[plot]'``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from deltaw.plots import pyplot

MAX_SHOWN = 12  # neurons drawn per layer
DX = 2.6  # distance between layers, in neuron spacings
GREY = "#d0d0d0"


def _shown(
    sizes: Sequence[int], importance: Sequence[np.ndarray], required: dict[int, set[int]]
) -> list[list[int]]:
    """Which neurons to draw in each layer: all of them, or the most important plus the required
    ones."""
    out = []
    for m, n in enumerate(sizes):
        if n <= MAX_SHOWN:
            out.append(list(range(n)))
            continue
        need = sorted(required.get(m, set()))
        order = [int(i) for i in np.argsort(-importance[m], kind="stable") if int(i) not in need]
        out.append(sorted(need + order[: MAX_SHOWN - len(need)]))
    return out


def _positions(shown: list[list[int]]) -> list[dict[int, tuple[float, float]]]:
    pos = []
    for m, neurons in enumerate(shown):
        top = (len(neurons) - 1) / 2  # every column centred on y = 0
        pos.append({n: (DX * m, top - r) for r, n in enumerate(neurons)})
    return pos


def _frame(
    ax: Any, sizes: Sequence[int], shown: list[list[int]], pos: list[dict], names: Sequence[str]
) -> None:
    """Neuron labels, the '+N more' marks and the layer captions under each column."""
    low = min(y for p in pos for _, y in p.values())
    for m, neurons in enumerate(shown):
        if len(neurons) < sizes[m]:
            ax.text(
                DX * m,
                low - 0.6,
                f"+{sizes[m] - len(neurons)} more",
                ha="center",
                va="center",
                fontsize=7,
                color="#777",
            )
        caption = (
            f"layer {m + 1}\n" + ("input" if m == 0 else names[m - 1]) + f"\n{sizes[m]} neurons"
        )
        ax.text(DX * m, low - 0.95, caption, ha="center", va="top", fontsize=8)
    ax.set_xlim(-0.8, DX * (len(sizes) - 1) + 0.8)
    ax.set_ylim(low - 2.3, max(y for p in pos for _, y in p.values()) + 0.9)
    ax.set_aspect("equal")
    ax.axis("off")


def _figsize(sizes: Sequence[int], shown: list[list[int]]) -> tuple[float, float]:
    """About 0.5 inch per neuron spacing, plus room for the captions, title and colour bar."""
    return 0.5 * DX * (len(sizes) - 1) + 3.5, 0.5 * max(len(s) for s in shown) + 2.6


def _nodes(
    ax: Any,
    shown: list[list[int]],
    pos: list[dict],
    colours: dict[tuple[int, int], Any] | None = None,
    ring: set[tuple[int, int]] = frozenset(),
) -> None:
    for m, neurons in enumerate(shown):
        for n in neurons:
            x, y = pos[m][n]
            face = (colours or {}).get((m, n), "white")
            edge, lw = ("black", 2.2) if (m, n) in ring else ("#555", 0.8)
            ax.add_patch(_circle(x, y, face, edge, lw))
            ax.text(x, y, str(n + 1), ha="center", va="center", fontsize=7, zorder=5)


def _circle(x: float, y: float, face: Any, edge: str, lw: float) -> Any:
    from matplotlib.patches import Circle

    return Circle((x, y), 0.25, facecolor=face, edgecolor=edge, linewidth=lw, zorder=4)


def draw_explanation(e: Any, layer_names: Sequence[str]) -> Any:
    """The network with each edge's share of ∂C/∂w: width ∝ |share|, blue positive, red negative."""
    plt = pyplot()
    from matplotlib.colors import TwoSlopeNorm

    sizes = e.sizes
    i = e.l - 2
    edges = e.edges
    importance = [np.zeros(n) for n in sizes]
    for m, E in enumerate(edges):
        if E is not None:
            importance[m] += np.abs(E).sum(axis=1)
            importance[m + 1] += np.abs(E).sum(axis=0)
    required = {i: {e.k - 1}, i + 1: {e.j - 1}}
    shown = _shown(sizes, importance, required)
    pos = _positions(shown)
    scale = max((float(np.abs(E).max()) for E in edges if E is not None), default=0.0) or 1.0
    cmap = plt.get_cmap("coolwarm_r")
    norm = TwoSlopeNorm(vmin=-scale, vcenter=0.0, vmax=scale)
    fig, ax = plt.subplots(figsize=_figsize(sizes, shown))
    for m, E in enumerate(edges):
        for r in shown[m]:
            for q in shown[m + 1]:
                (x0, y0), (x1, y1) = pos[m][r], pos[m + 1][q]
                v = 0.0 if E is None else float(E[r, q])
                if v == 0.0:
                    ax.plot([x0, x1], [y0, y1], color=GREY, lw=0.4, zorder=1)
                else:
                    ax.plot(
                        [x0, x1],
                        [y0, y1],
                        color=cmap(norm(v)),
                        lw=0.6 + 5.0 * abs(v) / scale,
                        zorder=2,
                    )
    (x0, y0), (x1, y1) = pos[i][e.k - 1], pos[i + 1][e.j - 1]
    ax.plot(
        [x0, x1],
        [y0, y1],
        color="black",
        lw=4.0 + 5.0 * abs(edges[i][e.k - 1, e.j - 1]) / scale,
        zorder=1.5,
    )
    ax.annotate(
        f"nudged {e.label}",
        xy=(0.6 * x0 + 0.4 * x1, 0.6 * y0 + 0.4 * y1),
        xytext=(0, 14),
        textcoords="offset points",
        ha="center",
        fontsize=9,
        fontweight="bold",
        zorder=6,
        bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "black", "lw": 0.6},
    )
    _nodes(ax, shown, pos, ring={(i, e.k - 1), (i + 1, e.j - 1)})
    _frame(ax, sizes, shown, pos, layer_names)
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=norm)
    fig.colorbar(
        sm,
        ax=ax,
        fraction=0.03,
        pad=0.01,
        label="edge's share of ∂C/∂w (sum over the paths through it)",
    )
    ax.set_title(
        f"∂C/∂{e.label} = {e.backprop:.6g}: {e.paths.count:,} paths; "
        f"every layer of edges after the "
        f"weight adds up to it\n(grey edges lie on no path from the weight to the cost)",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def draw_gradcheck(report: Any, sizes: Sequence[int]) -> Any:
    """The network with each checked weight's error (edges) and bias error (neurons); unchecked
    ones grey."""
    plt = pyplot()
    from matplotlib.colors import LogNorm

    L = len(sizes)
    w_err = [np.full((sizes[m], sizes[m + 1]), np.nan) for m in range(L - 1)]
    b_err = [np.full(n, np.nan) for n in sizes]
    for c in report.params:
        target = w_err[c.layer - 2] if c.param == "w" else b_err[c.layer - 1]
        for idx, err in zip(c.indices, c.errors):
            target[idx] = err
    importance = [np.zeros(n) for n in sizes]
    for m, E in enumerate(w_err):
        F = np.nan_to_num(E, nan=0.0)
        importance[m] += F.max(axis=1)
        importance[m + 1] += F.max(axis=0)
    shown = _shown(sizes, importance, {})
    pos = _positions(shown)
    lo = report.tol**2  # the colour scale is centred (yellow) on the tolerance
    norm = LogNorm(vmin=lo, vmax=1.0, clip=True)
    cmap = plt.get_cmap("RdYlGn_r")
    fig, ax = plt.subplots(figsize=_figsize(sizes, shown))
    for m, E in enumerate(w_err):
        for r in shown[m]:
            for q in shown[m + 1]:
                (x0, y0), (x1, y1) = pos[m][r], pos[m + 1][q]
                err = E[r, q]
                if np.isnan(err):
                    ax.plot([x0, x1], [y0, y1], color=GREY, lw=0.4, zorder=1)
                else:
                    bad = err > report.tol
                    ax.plot(
                        [x0, x1],
                        [y0, y1],
                        color=cmap(norm(max(err, lo))),
                        lw=2.6 if bad else 1.0,
                        zorder=3 if bad else 2,
                    )
    colours = {
        (m, n): cmap(norm(max(b_err[m][n], lo)))
        for m in range(1, L)
        for n in shown[m]
        if not np.isnan(b_err[m][n])
    }
    _nodes(ax, shown, pos, colours)
    _frame(ax, sizes, shown, pos, report.layer_names)
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=norm)
    bar = fig.colorbar(
        sm, ax=ax, fraction=0.03, pad=0.01, label="error |bp − fd| / max(|bp|, |fd|, floor)"
    )
    bar.ax.axhline(report.tol, color="black", lw=1.5)
    bar.ax.text(
        -0.15,
        report.tol,
        "tol ",
        transform=bar.ax.get_yaxis_transform(),
        ha="right",
        va="center",
        fontsize=8,
    )
    failing = sorted({c.layer for c in report.params if not c.passed})
    verdict = (
        "passed"
        if report.passed
        else f"FAILED in layer{'s' if len(failing) > 1 else ''} {', '.join(map(str, failing))}"
        if failing
        else "FAILED (a plugin on its own)"
    )
    ax.set_title(
        f"Gradient check {verdict}: edges are weights, neuron fills are biases (grey: not checked)",
        fontsize=10,
    )
    fig.tight_layout()
    return fig
