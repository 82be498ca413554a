"""``deltaw explain``: one ∂C/∂w three ways (the nudge, the path sum, backprop).

``w[l][j][k]`` joins neuron k of layer l−1 to neuron j of layer l (from 1).
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.text import Text

from deltaw.cli.app import SetOpt, app, friendly_errors, out, styled
from deltaw.cli.options import (
    ActivationOpt,
    CostOpt,
    InitOpt,
    JsonOpt,
    LayersOpt,
    OutputOpt,
    PlotOpt,
    SeedOpt,
    SpecOpt,
    positive,
    probe,
    save_plot,
)
from deltaw.cli.render import fmt_e, fmt_g

# Defaults mirror deltaw.core.gradcheck / deltaw.core.explain (kept literal so --help never
# imports numpy).
EPS = 1e-5

DW = 0.1

MAX_PATHS = 100_000

TOP = 10


@app.command(
    help="Three views of one derivative ∂C/∂w: nudge the weight and follow the change, "
    "sum over every path, backprop."
)
def explain(
    spec: SpecOpt = None,
    set_: SetOpt = None,
    layers: LayersOpt = None,
    activation: ActivationOpt = None,
    output_activation: OutputOpt = None,
    cost: CostOpt = None,
    init: InitOpt = None,
    weight: Annotated[
        str | None,
        typer.Option(
            "--weight",
            "-w",
            help="The weight w\\[l]\\[j]\\[k] as l,j,k: from neuron k of layer l−1 to neuron j "
            "of layer l (from 1; layer 1 = input). Default: into neuron 1 of layer 2 from the "
            "input with the largest |x|.",
            show_default=False,
        ),
    ] = None,  # noqa: UP045
    sample: Annotated[
        int,
        typer.Option(
            "--sample",
            min=0,
            help="Which sample: a row of the spec's training split, "
            "or of the random samples of --layers.",
        ),
    ] = 0,
    dw: Annotated[
        float,
        typer.Option(
            "--dw",
            callback=positive,
            help="The nudge Δw followed through the network; "
            "the limit table divides it by 10 each row.",
        ),
    ] = DW,
    eps: Annotated[
        float,
        typer.Option("--eps", callback=positive, help="Step ε of the central finite difference."),
    ] = EPS,
    max_paths: Annotated[
        int,
        typer.Option(
            "--max-paths",
            min=1,
            help="List the paths only when there are at most this many "
            "(they are always counted and summed).",
        ),
    ] = MAX_PATHS,
    top: Annotated[
        int, typer.Option("--top", min=1, help="How many of the largest paths to show.")
    ] = TOP,
    seed: SeedOpt = 0,
    json_out: JsonOpt = False,
    plot: PlotOpt = None,
) -> None:
    import numpy as np

    from deltaw.core.explain import explain as run_explain
    from deltaw.errors import DeltawError
    from deltaw.runs.probe import parse_weight

    with friendly_errors():
        if spec is not None:
            p = probe(
                spec,
                set_,
                layers,
                activation,
                output_activation,
                cost,
                init,
                1,
                seed,
                rows=[sample],
            )
            x, y = p.x[0], p.y[0]
        else:
            p = probe(
                spec, set_, layers, activation, output_activation, cost, init, sample + 1, seed
            )
            x, y = p.x[sample], p.y[sample]
        l, j, k = parse_weight(weight) if weight else (2, 1, int(np.argmax(np.abs(x))) + 1)
        try:
            e = run_explain(
                p.network, p.cost, x, y, l, j, k, dw=dw, eps=eps, max_paths=max_paths, top=top
            )
        except ValueError as exc:
            raise DeltawError(f"--weight {l},{j},{k}: {exc}.") from None
        if plot is not None:
            from deltaw.plots.network import draw_explanation

            save_plot(draw_explanation, plot, e, p.layer_names)
    if json_out:
        data = {
            "source": p.source,
            "sample": sample,
            "activations": p.layer_names,
            "cost_name": p.cost_name,
            **e.to_dict(),
        }
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return
    _print_explanation(p, e, sample)


def _vec(v: Any, limit: int = 8) -> str:
    items = [f"{float(t):.4g}" for t in v[:limit]]
    return "[" + ", ".join(items) + (", …" if len(v) > limit else "") + "]"


def _print_explanation(p: Any, e: Any, sample: int) -> None:
    import numpy as np
    from rich.rule import Rule
    from rich.table import Table

    from deltaw.core.explain import relative_difference

    L = len(e.sizes)
    acts = ", ".join(p.layer_names)
    where = f"row {sample} of the training split" if p.rows else f"random sample {sample}"
    out.print(
        styled(
            "[bold]Explaining ∂C/∂{}[/] in the network {} ({}; activations {}; cost {}). "
            "Layer 1 is the input layer, layer {} the output.",
            e.label,
            " → ".join(map(str, e.sizes)),
            p.source,
            acts,
            p.cost_name,
            L,
        )
    )
    out.print(
        f"{e.label} = {e.w:.6g} joins neuron {e.k} of layer {e.l - 1} "
        f"to neuron {e.j} of layer {e.l} "
        f"(weights[{e.l - 2}][{e.k - 1}, {e.j - 1}] in the code). "
        f"Sample: {where}, x = {_vec(e.x)}, y = {_vec(e.y)}; "
        f"C = {e.cost_value:.6g}.",
        highlight=False,
    )

    out.print(Rule("1. Nudge the weight and follow the change"))
    out.print(
        f"Move {e.label} by Δw = {e.dw:g}. "
        f"Only z[{e.l}][{e.j}] moves directly (Δz = a[{e.l - 1}][{e.k}]·Δw); "
        f"every later layer moves because the layer before it did.",
        highlight=False,
    )
    table = Table(title="Δz and Δa, layer by layer", title_justify="left")
    for col in ("neuron", "z", "Δz", "a", "Δa", "Δa/Δw", "∂a/∂w"):
        table.add_column(col, justify="right" if col != "neuron" else "left")
    for c in e.changes:
        order = (
            np.argsort(-np.abs(c.da), kind="stable")[:12] if len(c.da) > 12 else range(len(c.da))
        )
        for n in sorted(order):
            table.add_row(
                f"a[{c.layer}][{n + 1}]",
                *(
                    fmt_g(v, 3)
                    for v in (c.z[n], c.dz[n], c.a[n], c.da[n], c.da[n] / e.dw, c.derivative[n])
                ),
            )
        if len(c.da) > 12:
            table.add_row(Text(f"+{len(c.da) - 12} more", style="dim"), *[""] * 6)
        table.add_section()
    out.print(table)
    out.print(
        f"The cost changes by ΔC = {e.dC:.6g}, so ΔC/Δw = {e.dC / e.dw:.6g}.", highlight=False
    )
    lim = Table(
        title="ΔC/Δw as Δw shrinks: it tends to ∂C/∂w (the gap shrinks in step with Δw)",
        title_justify="left",
    )
    for col in ("Δw", "ΔC", "ΔC/Δw", "ΔC/Δw − ∂C/∂w"):
        lim.add_column(col, justify="right")
    for n in e.nudges:
        lim.add_row(f"{n.dw:g}", fmt_g(n.dC, 6), fmt_g(n.ratio, 10), fmt_e(n.error))
    out.print(lim)

    out.print(Rule("2. Sum over every path from the weight to the cost"))
    ps = e.paths
    out.print(
        f"A path multiplies {ps.factors_per_path} local rates of change: "
        f"∂z/∂w = a[{e.l - 1}][{e.k}], then ∂a/∂z "
        f"(σ'(z), or a Jacobian entry for a non-elementwise activation) "
        f"and ∂z/∂a (the weight of the edge) "
        f"in turn, and finally ∂C/∂a of an output neuron.",
        highlight=False,
    )
    if ps.listed:
        zero = f", {ps.zero_paths:,} of them exactly 0 (some factor is 0)" if ps.zero_paths else ""
        title = (
            f"All {ps.count:,} paths"
            if len(ps.top) == ps.count
            else f"The {len(ps.top)} largest of {ps.count:,} paths"
        )
        paths = Table(title=title + zero, title_justify="left")
        for col in ("#", "path", "factors", "product", "share"):
            paths.add_column(col, justify="right" if col in ("#", "product", "share") else "left")
        for i, path in enumerate(ps.top, 1):
            share = path.product / ps.total if ps.total else float("nan")
            paths.add_row(
                str(i),
                path.label(),
                " × ".join(fmt_g(f, 3) for f in path.factors),
                fmt_g(path.product, 6),
                f"{share:.1%}" if share == share else "-",
            )
        out.print(paths)
        out.print(styled("Sum over all {} paths: [bold]{}[/]", f"{ps.count:,}", f"{ps.total:.12g}"))
    else:
        out.print(
            styled(
                "[yellow]{} paths exceed the cap of {} (--max-paths), so they are not listed.[/] "
                "Their sum, accumulated layer by layer without listing them (adding up shared path "
                "segments first — the trick backprop uses), is [bold]{}[/].",
                f"{ps.count:,}",
                f"{ps.cap:,}",
                f"{ps.total:.12g}",
            )
        )

    out.print(Rule("3. Backprop: δ from the output backwards"))
    bp = Table(title="δ = ∂C/∂z of each layer", title_justify="left")
    for col in ("layer", "equation", "δ"):
        bp.add_column(col)
    for i in range(len(e.deltas) - 1, -1, -1):
        m = i + 2
        rate = (
            "⊙ σ'(z[{m}])" if e.elementwise[i] else "· ∂a[{m}]/∂z[{m}]"
        )  # the Jacobian for softmax & co.
        eq = ("BP1: δ[{m}] = ∇ₐC " if m == L else f"BP2: δ[{m}] = (δ[{m + 1}] W[{m + 1}]ᵀ) ") + rate
        eq = eq.format(m=m)
        bp.add_row(str(m), eq, _vec(e.deltas[i], 10))
    out.print(bp)
    a_k = float(e.changes[0].dz[e.j - 1] / e.dw) if e.dw else float("nan")
    out.print(
        styled(
            "BP4: {} = [bold]{}[/]",
            f"∂C/∂{e.label} = a[{e.l - 1}][{e.k}] · δ[{e.l}][{e.j}] = {a_k:.6g} × "
            f"{e.deltas[e.l - 2][e.j - 1]:.6g}",
            f"{e.backprop:.12g}",
        )
    )

    out.print(Rule("4. Side by side"))
    side = Table(title_justify="left")
    side.add_column("method")
    side.add_column("∂C/∂w", justify="right")
    side.add_column("relative difference to backprop", justify="right")
    for name, value in e.values.items():
        side.add_row(
            name,
            f"{value:.12g}",
            "-" if name == "backprop" else fmt_e(relative_difference(value, e.backprop)),
        )
    out.print(side)
    out.print(
        f"(finite difference: (C(w+ε) − C(w−ε))/2ε with ε = {e.eps:g}; "
        f"path sum and backprop are exact up to rounding)",
        highlight=False,
    )
    costs = Table(
        title="What each method costs for every weight at once (multiplications per sample)",
        title_justify="left",
        show_edge=False,
    )
    for col in (
        "network",
        "weights",
        "paths from a layer-2 weight",
        "paths, all weights",
        "path sums",
        "backprop",
        "ratio",
    ):
        costs.add_column(
            col,
            justify="left" if col == "network" else "right",
            no_wrap=col == "network",
            min_width=8,
        )
    for c in e.costs:
        costs.add_row(
            Text.assemble(_sizes(c.sizes), "\n", (c.note, "dim")),
            f"{c.weights:,}",
            _big(c.paths_one),
            _big(c.paths_all),
            _big(c.path_multiplies),
            _big(c.backprop_multiply_adds),
            _big(c.ratio),
        )
    out.print(costs)
    out.print(
        "Paths multiply with every layer's width; "
        "backprop's work (one forward and one backward pass: about three "
        "multiply-adds per weight) only adds them up. That is why backprop wins.",
        highlight=False,
    )


def _sizes(sizes: list[int]) -> str:
    """784→30×4→10: three or more equal hidden widths in a row folded."""
    parts: list[str] = []
    i = 0
    while i < len(sizes):
        run = 1
        while 0 < i and i + run < len(sizes) - 1 and sizes[i + run] == sizes[i]:
            run += 1
        parts += [f"{sizes[i]}×{run}"] if run >= 3 else [str(sizes[i])] * run
        i += run
    return "→".join(parts)


def _big(v: float) -> str:
    """1,302 or 6.4e+10: at most 7 characters, short enough for a narrow terminal."""
    if v >= 1e5:
        return f"{float(v):.1e}"
    return f"{v:,.0f}" if float(v).is_integer() or v >= 100 else f"{v:.3g}"
