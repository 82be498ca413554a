"""Making backprop visible: ``deltaw gradcheck`` and ``deltaw explain``.

Layers and weights use the book's numbering: layer 1 is the input layer and
``w[l][j][k]`` joins neuron k of layer l−1 to neuron j of layer l (from 1).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from deltaw.cli.app import SetOpt, app, err, friendly_errors, out, registry

# Defaults mirror deltaw.core.gradcheck / deltaw.core.explain (kept literal so --help never imports numpy).
EPS = 1e-5
TOL = 1e-6
PER_PARAM = 100
DW = 0.1
MAX_PATHS = 100_000
TOP = 10

SpecOpt = Annotated[
    Path | None, typer.Argument(help="Spec file; or give --layers instead.", show_default=False)
]  # noqa: UP045
LayersOpt = Annotated[
    str | None,
    typer.Option(
        "--layers",
        help="Build a network directly instead of from a spec: sizes, input first, e.g. 2,3,3,2.",
        show_default=False,
    ),
]  # noqa: UP045
ActivationOpt = Annotated[
    str | None,
    typer.Option(
        "--activation",
        help="With --layers: activation of every layer (name, or '{name: leaky-relu, alpha: 0.1}'). [default: sigmoid]",
        show_default=False,
    ),
]  # noqa: UP045
OutputOpt = Annotated[
    str | None,
    typer.Option(
        "--output-activation",
        help="With --layers: activation of the output layer (default: --activation).",
        show_default=False,
    ),
]  # noqa: UP045
CostOpt = Annotated[
    str | None,
    typer.Option(
        "--cost", help="With --layers: the cost function. [default: quadratic]", show_default=False
    ),
]  # noqa: UP045
InitOpt = Annotated[
    str | None,
    typer.Option(
        "--init",
        help="With --layers: the weight initializer. [default: nielsen]",
        show_default=False,
    ),
]  # noqa: UP045
SeedOpt = Annotated[
    int,
    typer.Option(
        "--seed",
        help="Seeds the choice of samples and checked parameters; with --layers also the weights and the random samples.",
    ),
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print one JSON object for programs instead of tables.")
]
PlotOpt = Annotated[
    Path | None,
    typer.Option(
        "--plot",
        help="Also draw the network into this PNG file (needs matplotlib: pip install 'deltaw[plot]').",
        show_default=False,
    ),
]  # noqa: UP045


def _probe(
    spec: Path | None,
    set_: list[str] | None,
    layers: str | None,
    activation: str | None,
    output_activation: str | None,
    cost: str | None,
    init: str | None,
    samples: int,
    seed: int,
    rows: list[int] | None = None,
) -> Any:
    from deltaw.errors import DeltawError
    from deltaw.runs.probe import from_layers, from_spec

    if spec is not None and layers is not None:
        raise DeltawError("Give either a SPEC file or --layers, not both.")
    if spec is None and layers is None:
        raise DeltawError(
            "Give a SPEC file (e.g. deltaw gradcheck examples/quickstart.yaml) or build a network with "
            "--layers, e.g. --layers 2,3,3,2 --activation sigmoid --cost quadratic."
        )
    if spec is not None:
        given = [
            o
            for o, v in (
                ("--activation", activation),
                ("--output-activation", output_activation),
                ("--cost", cost),
                ("--init", init),
            )
            if v is not None
        ]
        if given:
            raise DeltawError(
                f"{', '.join(given)} only go with --layers; to change the spec's network, use --set, "
                f"e.g. --set network.activation=relu or --set cost=cross-entropy."
            )
        return from_spec(
            spec, set_ or [], samples=samples, seed=seed, rows=rows, registry=registry()
        )
    if set_:
        raise DeltawError(
            "--set changes a SPEC file; with --layers, use --activation, --output-activation, --cost and --init."
        )
    return from_layers(
        layers,
        activation or "sigmoid",
        output_activation,
        cost or "quadratic",
        init or "nielsen",
        samples=samples,
        seed=seed,
        registry=registry(),
    )


def _mark(error: float, passed: bool) -> str:
    """'1.7e-10 ✓' or '2.0e+00 ✗': readable without colour too."""
    return f"{_e(error)} {'✓' if passed else '✗'}"


def _short(check: str) -> str:
    """'backward(z, a, g) vs finite differences of forward(z)' → 'backward vs FD of forward'."""
    return re.sub(r"\([^()]*(\([^()]*\))?[^()]*\)", "", check).replace("finite differences", "FD")


def _positive(value: float) -> float:
    if not value > 0:
        raise typer.BadParameter(f"must be greater than 0, got {value:g}")
    return value


def _g(v: float | None, digits: int = 4) -> str:
    return "-" if v is None or v != v else f"{v + 0.0:.{digits}g}"  # + 0.0 turns -0 into 0


def _e(v: float | None) -> str:
    return "-" if v is None or v != v else f"{v:.1e}"


def _save_plot(draw: Any, path: Path, *args: Any) -> None:
    from deltaw.files import atomic_write
    from deltaw.plots import pyplot

    plt = pyplot()
    fig = draw(*args)
    try:
        atomic_write(
            path, lambda f: fig.savefig(f, format="png", dpi=130, bbox_inches="tight"), mode="wb"
        )
    finally:
        plt.close(fig)
    err.print(f"Wrote {path}")


# -- deltaw gradcheck -----------------------------------------------------------------------------------------


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
        float, typer.Option("--eps", callback=_positive, help="Finite-difference step ε.")
    ] = EPS,
    tol: Annotated[
        float,
        typer.Option(
            "--tol",
            callback=_positive,
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
        p = _probe(spec, set_, layers, activation, output_activation, cost, init, samples, seed)
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

            _save_plot(draw_gradcheck, plot, report, p.network.sizes)
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
        out.print(f"[green]Passed.[/] {report.diagnosis()}", highlight=False)


def _print_gradcheck(p: Any, report: Any) -> None:
    from rich.table import Table

    dtype = f"float64 (the network is {report.dtype})" if report.dtype != "float64" else "float64"
    rows = f", rows {', '.join(map(str, p.rows))} of the training split" if p.rows else ""
    out.print(
        f"[bold]Gradient check[/] of {p.source}: layers {p.network.sizes}, cost {p.cost_name} = {report.cost_value:.6g} "
        f"on {report.samples} sample(s){rows}; ε = {report.eps:g}, tolerance {report.tol:g}, {dtype}.",
        highlight=False,
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
        kinks = f" [yellow]({c.at_kinks} at kink)[/]" if c.at_kinks else ""
        ratio = (
            c.worst_backprop / c.worst_numeric
            if c.worst is not None and c.worst_numeric != 0
            else None
        )
        table.add_row(
            f"{c.layer} {report.layer_name(c.layer)}",
            f"{c.param} {'×'.join(map(str, c.shape))}",
            f"{c.checked}/{c.size}{kinks}",
            _mark(c.max_error, c.passed),
            _e(c.median_error),
            c.label(c.worst),
            _g(ratio),
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


# -- deltaw explain -------------------------------------------------------------------------------------------


@app.command()
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
            help="The weight w[l][j][k] as l,j,k: from neuron k of layer l−1 to neuron j of layer l (from 1; layer 1 = input). Default: into neuron 1 of layer 2 from the input with the largest |x|.",
            show_default=False,
        ),
    ] = None,  # noqa: UP045
    sample: Annotated[
        int,
        typer.Option(
            "--sample",
            min=0,
            help="Which sample: a row of the spec's training split, or of the random samples of --layers.",
        ),
    ] = 0,
    dw: Annotated[
        float,
        typer.Option(
            "--dw",
            callback=_positive,
            help="The nudge Δw followed through the network; the limit table divides it by 10 each row.",
        ),
    ] = DW,
    eps: Annotated[
        float,
        typer.Option("--eps", callback=_positive, help="Step ε of the central finite difference."),
    ] = EPS,
    max_paths: Annotated[
        int,
        typer.Option(
            "--max-paths",
            min=1,
            help="List the paths only when there are at most this many (they are always counted and summed).",
        ),
    ] = MAX_PATHS,
    top: Annotated[
        int, typer.Option("--top", min=1, help="How many of the largest paths to show.")
    ] = TOP,
    seed: SeedOpt = 0,
    json_out: JsonOpt = False,
    plot: PlotOpt = None,
) -> None:
    """Three views of one derivative ∂C/∂w: nudge the weight and follow the change, sum over every path, backprop."""
    import numpy as np

    from deltaw.core.explain import explain as run_explain
    from deltaw.errors import DeltawError
    from deltaw.runs.probe import parse_weight

    with friendly_errors():
        if spec is not None:
            p = _probe(
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
            p = _probe(
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

            _save_plot(draw_explanation, plot, e, p.layer_names)
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
        f"[bold]Explaining ∂C/∂{e.label}[/] in the network {' → '.join(map(str, e.sizes))} ({p.source}; "
        f"activations {acts}; cost {p.cost_name}). Layer 1 is the input layer, layer {L} the output.",
        highlight=False,
    )
    out.print(
        f"{e.label} = {e.w:.6g} joins neuron {e.k} of layer {e.l - 1} to neuron {e.j} of layer {e.l} "
        f"(weights[{e.l - 2}][{e.k - 1}, {e.j - 1}] in the code). Sample: {where}, x = {_vec(e.x)}, y = {_vec(e.y)}; "
        f"C = {e.cost_value:.6g}.",
        highlight=False,
    )

    out.print(Rule("1. Nudge the weight and follow the change"))
    out.print(
        f"Move {e.label} by Δw = {e.dw:g}. Only z[{e.l}][{e.j}] moves directly (Δz = a[{e.l - 1}][{e.k}]·Δw); "
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
                    _g(v, 3)
                    for v in (c.z[n], c.dz[n], c.a[n], c.da[n], c.da[n] / e.dw, c.derivative[n])
                ),
            )
        if len(c.da) > 12:
            table.add_row(f"[dim]+{len(c.da) - 12} more[/]", *[""] * 6)
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
        lim.add_row(f"{n.dw:g}", _g(n.dC, 6), _g(n.ratio, 10), _e(n.error))
    out.print(lim)

    out.print(Rule("2. Sum over every path from the weight to the cost"))
    ps = e.paths
    out.print(
        f"A path multiplies {ps.factors_per_path} local rates of change: ∂z/∂w = a[{e.l - 1}][{e.k}], then ∂a/∂z "
        f"(σ'(z), or a Jacobian entry for a non-elementwise activation) and ∂z/∂a (the weight of the edge) "
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
                " × ".join(_g(f, 3) for f in path.factors),
                _g(path.product, 6),
                f"{share:.1%}" if share == share else "-",
            )
        out.print(paths)
        out.print(f"Sum over all {ps.count:,} paths: [bold]{ps.total:.12g}[/]", highlight=False)
    else:
        out.print(
            f"[yellow]{ps.count:,} paths exceed the cap of {ps.cap:,} (--max-paths), so they are not listed.[/] "
            f"Their sum, accumulated layer by layer without listing them (adding up shared path segments "
            f"first — the trick backprop uses), is [bold]{ps.total:.12g}[/].",
            highlight=False,
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
        f"BP4: ∂C/∂{e.label} = a[{e.l - 1}][{e.k}] · δ[{e.l}][{e.j}] = {a_k:.6g} × {e.deltas[e.l - 2][e.j - 1]:.6g} "
        f"= [bold]{e.backprop:.12g}[/]",
        highlight=False,
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
            "-" if name == "backprop" else _e(relative_difference(value, e.backprop)),
        )
    out.print(side)
    out.print(
        f"(finite difference: (C(w+ε) − C(w−ε))/2ε with ε = {e.eps:g}; path sum and backprop are exact up to rounding)",
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
            f"{_sizes(c.sizes)}\n[dim]{c.note}[/]",
            f"{c.weights:,}",
            _big(c.paths_one),
            _big(c.paths_all),
            _big(c.path_multiplies),
            _big(c.backprop_multiply_adds),
            _big(c.ratio),
        )
    out.print(costs)
    out.print(
        "Paths multiply with every layer's width; backprop's work (one forward and one backward pass: about three "
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
