"""Options and helpers shared by several commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from deltaw.cli.app import err, registry, styled

PathsArg = Annotated[
    list[Path],
    typer.Argument(
        help="Run folders, sweep folders, or folders of runs (e.g. runs/).", show_default=False
    ),
]

MetricOpt = Annotated[
    str | None,
    typer.Option(
        "--metric",
        "-m",
        help="Metric that ranks the runs, e.g. validation_cost; "
        "default: validation accuracy when recorded.",
    ),
]  # noqa: UP045

ByOpt = Annotated[
    str,
    typer.Option(
        "--by", help="Rank by the final value of the metric, or the best over the epochs."
    ),
]


def check_by(by: str) -> str:
    if by not in ("best", "final"):
        err.print(styled("[bold red]Error:[/] --by {}: use best or final.", repr(by)))
        raise typer.Exit(2)
    return by


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
        help="With --layers: activation of every layer (name, or "
        "'{name: leaky-relu, alpha: 0.1}'). \\[default: sigmoid]",
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
        "--cost",
        help="With --layers: the cost function. \\[default: quadratic]",
        show_default=False,
    ),
]  # noqa: UP045

InitOpt = Annotated[
    str | None,
    typer.Option(
        "--init",
        help="With --layers: the weight initializer. \\[default: nielsen]",
        show_default=False,
    ),
]  # noqa: UP045

SeedOpt = Annotated[
    int,
    typer.Option(
        "--seed",
        help="Seeds the choice of samples and checked parameters; "
        "with --layers also the weights and the random samples.",
    ),
]

JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print one JSON object for programs instead of tables.")
]

PlotOpt = Annotated[
    Path | None,
    typer.Option(
        "--plot",
        help="Also draw the network into this PNG file "
        "(needs matplotlib: pip install 'deltaw\\[plot]').",
        show_default=False,
    ),
]  # noqa: UP045


def probe(
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
            "Give a SPEC file (e.g. deltaw gradcheck examples/quickstart.yaml) "
            "or build a network with "
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
                f"{', '.join(given)} only go with --layers; "
                f"to change the spec's network, use --set, "
                f"e.g. --set network.activation=relu or --set cost=cross-entropy."
            )
        return from_spec(
            spec, set_ or [], samples=samples, seed=seed, rows=rows, registry=registry()
        )
    if set_:
        raise DeltawError(
            "--set changes a SPEC file; "
            "with --layers, use --activation, --output-activation, --cost and --init."
        )
    return from_layers(
        layers,
        activation or "deltaw:sigmoid",
        output_activation,
        cost or "deltaw:quadratic",
        init or "deltaw:nielsen",
        samples=samples,
        seed=seed,
        registry=registry(),
    )


def save_plot(draw: Any, path: Path, *args: Any) -> None:
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


def positive(value: float) -> float:
    if not value > 0:
        raise typer.BadParameter(f"must be greater than 0, got {value:g}")
    return value
