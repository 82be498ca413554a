"""``deltaw gradcheck``: backprop against central finite differences, per layer and plugin."""

from __future__ import annotations

import json
import re
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

TOL = 1e-6

PER_PARAM = 100


@app.command()
def gradcheck(
    spec: SpecOpt = None,
    set_: SetOpt = None,
    layers: LayersOpt = None,
    activation: ActivationOpt = None,
    output_activation: OutputOpt = None,
    cost: CostOpt = None,
    init: InitOpt = None,
    samples: Annotated[
        int,
        typer.Option(
            "--samples",
            min=1,
            help="Samples (rows of the training split) the cost is averaged over.",
        ),
    ] = 3,
    eps: Annotated[
        float, typer.Option("--eps", callback=positive, help="Finite-difference step ε.")
    ] = EPS,
    tol: Annotated[
        float,
        typer.Option(
            "--tol",
            callback=positive,
            help="Largest accepted error |bp − fd| / max(|bp|, |fd|, 1e-3·max(1, C)).",
        ),
    ] = TOL,
    per_param: Annotated[
        int,
        typer.Option(
            "--per-param",
            min=1,
            help="Parameters checked per W or b (a random subset of larger arrays).",
        ),
    ] = PER_PARAM,
    seed: SeedOpt = 0,
    json_out: JsonOpt = False,
    plot: PlotOpt = None,
) -> None:
    """Compare backprop's ∂C/∂w and ∂C/∂b with central finite differences, layer by layer (float64).

    Exits with code 6 when any error exceeds --tol, saying which layer and which plugin is most
    likely wrong. Parameters next to a kink of an activation (ReLU at 0) are reported, not failed.
    """
    import numpy as np

    from deltaw.core.gradcheck import gradcheck as check
    from deltaw.errors import GradientCheckError

    with friendly_errors():
        p = probe(spec, set_, layers, activation, output_activation, cost, init, samples, seed)
        report = check(
            p.network,
            p.cost,
            p.x,
            p.y,
            eps=eps,
            tol=tol,
            per_param=per_param,
            rng=np.random.default_rng(seed),
            regularizers=p.regularizers,
            n=p.n_train,
            layer_names=p.layer_names,
            cost_name=p.cost_name,
            regularizer_names=p.regularizer_names,
        )
        if plot is not None:
            from deltaw.plots.network import draw_gradcheck

            save_plot(draw_gradcheck, plot, report, p.network.sizes)
        if json_out:
            data = {
                "source": p.source,
                "sizes": p.network.sizes,
                "rows": p.rows,
                **report.to_dict(),
            }
            sys.stdout.write(json.dumps(data, indent=2) + "\n")
        else:
            _print_gradcheck(p, report)
        if not report.passed:
            raise GradientCheckError("Gradient check failed. " + report.diagnosis())
    if not json_out:
        out.print(styled("[green]Passed.[/] {}", report.diagnosis()))


def _print_gradcheck(p: Any, report: Any) -> None:
    from rich.table import Table

    dtype = f"float64 (the network is {report.dtype})" if report.dtype != "float64" else "float64"
    rows = f", rows {', '.join(map(str, p.rows))} of the training split" if p.rows else ""
    out.print(
        styled(
            "[bold]Gradient check[/] of {}",
            f"{p.source}: layers {p.network.sizes}, cost {p.cost_name} = {report.cost_value:.6g} "
            f"on {report.samples} sample(s){rows}; ε = {report.eps:g}, tolerance {report.tol:g}, "
            f"{dtype}.",
        )
    )
    table = Table(
        title="Backprop against finite differences, per layer (layer 1 = input)",
        title_justify="left",
        show_edge=False,
    )
    for col in ("layer", "param", "checked", "max error", "median", "worst", "bp/fd"):
        table.add_column(
            col,
            justify="left" if col in ("layer", "param", "worst") else "right",
            no_wrap=col in ("param", "worst"),
        )
    for c in report.params:
        kinks = styled(" [yellow]({} at kink)[/]", c.at_kinks) if c.at_kinks else ""
        ratio = (
            c.worst_backprop / c.worst_numeric
            if c.worst is not None and c.worst_numeric != 0
            else None
        )
        table.add_row(
            f"{c.layer} {report.layer_name(c.layer)}",
            f"{c.param} {'×'.join(map(str, c.shape))}",
            Text.assemble(f"{c.checked}/{c.size}", kinks),
            _mark(c.max_error, c.passed),
            fmt_e(c.median_error),
            c.label(c.worst),
            fmt_g(ratio),
            style=None if c.passed else "bold red",
        )
    out.print(table)
    parts = Table(
        title="Each plugin on its own, at this network's values",
        title_justify="left",
        show_edge=False,
    )
    for col in ("plugin", "layer", "check", "max error", "worst at"):
        parts.add_column(col, justify="right" if col == "max error" else "left")
    for c in report.components:
        parts.add_row(
            f"{c.what} {c.name}",
            str(c.layer) if c.layer is not None else "",
            _short(c.check),
            _mark(c.max_error, c.passed),
            c.where,
            style=None if c.passed else "bold red",
        )
    out.print(parts)


def _mark(error: float, passed: bool) -> str:
    """'1.7e-10 ✓' or '2.0e+00 ✗': readable without colour too."""
    return f"{fmt_e(error)} {'✓' if passed else '✗'}"


def _short(check: str) -> str:
    """'backward(z, a, g) vs finite differences of forward(z)' → 'backward vs FD of forward'."""
    return re.sub(r"\([^()]*(\([^()]*\))?[^()]*\)", "", check).replace("finite differences", "FD")
