"""Pydantic models of an experiment spec (the skeleton; plugin parameters are validated per
plugin)."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from deltaw.registry.kinds import BUILTIN

NonNegative = Annotated[float, Field(ge=0)]
Rate = Annotated[float, Field(ge=0, lt=1)]  # a dropout rate: the fraction of units dropped


class Strict(BaseModel):
    """Unknown keys forbidden; every float finite (inf or nan is never a sensible setting here)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


def _finite(value: Any) -> Any:
    """``value`` unchanged, if no float inside it is inf or nan."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError("every number must be finite")
        if isinstance(item, dict):
            stack += item.values()
        elif isinstance(item, (list, tuple)):
            stack += item
    return value


#: Any value (a sweep's grid, zip or choice entry) with no inf or nan inside.
FiniteAny = Annotated[Any, AfterValidator(_finite)]


class PluginRef(BaseModel):
    """A plugin reference: a bare name, or a mapping with ``name`` and that plugin's parameters.

    Plain data, exactly as written: :func:`deltaw.spec.resolve.resolve` turns it
    into the plugin class and validated parameters.
    """

    model_config = ConfigDict(extra="allow")

    name: str = Field(
        description="Registered name, "
        "or 'plugin:name' to pick one of two plugins that share a name."
    )

    @model_validator(mode="before")
    @classmethod
    def _bare_name(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    @property
    def given(self) -> dict[str, Any]:
        """The parameters as written (everything but ``name``)."""
        return dict(self.model_extra or {})


def builtin(name: str) -> PluginRef:
    """A default the user did not write: deltaw's own ``name`` whatever plugins are installed.

    It is the qualified ``deltaw:NAME``, so a plugin that registers the same name
    never changes a spec that leaves the field out; ``resolved.yaml`` still shows
    the bare name.
    """
    return PluginRef(name=f"{BUILTIN}:{name}")


class NetworkSpec(Strict):
    layers: list[int] = Field(min_length=2, description="Layer sizes, input first: [784, 30, 10].")
    activation: PluginRef = Field(
        default_factory=lambda: builtin("sigmoid"),
        description="Activation of every layer (hidden layers when output_activation is set).",
    )
    output_activation: PluginRef | None = Field(
        None, description="Activation of the output layer; defaults to `activation`."
    )
    init: PluginRef = Field(
        default_factory=lambda: builtin("nielsen"), description="Weight initializer."
    )
    dropout: Rate | list[Rate] = Field(
        0.0,
        description="Dropout (Srivastava et al. 2014; book ch. 3): the fraction of hidden units "
        "dropped on every training mini-batch (kept ones scaled by 1/(1 − rate); evaluation "
        "uses every unit). One rate for every hidden layer, e.g. 0.5, or a list with one per "
        "hidden layer; 0 = off.",
    )

    @field_validator("layers")
    @classmethod
    def _positive(cls, v: list[int]) -> list[int]:
        if any(n < 1 for n in v):
            raise ValueError("every layer size must be at least 1")
        return v

    @field_validator("dropout", mode="before")
    @classmethod
    def _rates(cls, v: Any) -> Any:
        """Name the bad rate, rather than report both shapes of the union as failing."""
        for rate in v if isinstance(v, list) else [v]:
            if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
                raise ValueError(
                    f"{rate!r} is not a dropout rate: the fraction of hidden units dropped, "
                    "a number with 0 ≤ rate < 1 (0.5 drops half)"
                )
        return v

    def dropout_problems(self) -> list[str]:
        """What is wrong with ``dropout`` for these layers (a list: one rate per hidden layer)."""
        hidden, rates = len(self.layers) - 2, self.dropout
        if isinstance(rates, list) and len(rates) != hidden:
            return [
                f"network.dropout: {len(rates)} rate{'s' if len(rates) != 1 else ''} for "
                f"layers {self.layers}, which has {hidden} hidden layer{'s' if hidden != 1 else ''}"
                ": give one rate per hidden layer, or one number for all."
            ]
        if not isinstance(rates, list) and rates and not hidden:
            return [
                f"network.dropout: {rates} needs a hidden layer to drop units from, but layers "
                f"{self.layers} has none. Remove dropout or add a hidden layer."
            ]
        return []


class PreprocessSpec(Strict):
    standardize: bool = Field(
        False,
        description="Standardize every input feature to mean 0, std 1 (std 0 counts as 1), "
        "with statistics from the training split only, applied to every split; stored in the "
        "run folder (preprocess.npz) so predict applies the same.",
    )


class ClipSpec(Strict):
    norm: float | None = Field(
        None, gt=0, description="Scale the gradients so their global L2 norm is at most this."
    )
    value: float | None = Field(
        None, gt=0, description="Clip every gradient entry to [-value, value]."
    )


EvalSplit = Literal["training", "validation", "test"]


class TrainingSpec(Strict):
    epochs: int = Field(30, ge=1, description="Passes over the training split.")
    batch_size: int = Field(10, ge=1, description="Mini-batch size m.")
    shuffle: bool = Field(True, description="Shuffle the training split every epoch.")
    evaluate: list[EvalSplit] = Field(
        default_factory=lambda: ["training", "validation"],
        description="Splits evaluated after every epoch (the book's monitor_* flags).",
    )
    clip: ClipSpec = Field(
        default_factory=ClipSpec, description="Gradient clipping, for every optimizer."
    )
    weight_decay: float = Field(
        0.0, ge=0, description="Decoupled weight decay λ: w ← w − ηλw before every update."
    )
    lr_multipliers: list[NonNegative] | dict[int, NonNegative] | None = Field(
        None,
        description="Per-layer learning rates (book ch. 5): weight layer l's W and b learn at "
        "η × factor. A list with one factor per weight layer, e.g. [1.0, 0.1], or a mapping "
        "{layer index: factor} (0 is the first weight layer; unnamed layers keep 1). "
        "0 freezes a layer.",
    )
    threads: Annotated[int, Field(ge=1)] | Literal["auto"] | None = Field(
        "auto",
        description="BLAS threads: auto (the free cores, as many as the products can use, "
        "re-checked every second), a number, or null to leave BLAS as it is.",
    )
    stall_check: bool = Field(
        True,
        description="Stop as diverged when an epoch leaves some layer's weights unchanged "
        "(its units saturated or dead, usually η far too large).",
    )

    @field_validator("lr_multipliers", mode="before")
    @classmethod
    def _factors(cls, v: Any) -> Any:
        """Name the bad factor, rather than report both shapes of the union as failing."""
        items = v.items() if isinstance(v, dict) else enumerate(v) if isinstance(v, list) else ()
        for key, factor in items:
            if isinstance(factor, bool) or not isinstance(factor, (int, float)) or factor < 0:
                raise ValueError(
                    f"the factor of layer {key} is {factor!r}; each factor is a number ≥ 0 "
                    "(0 freezes the layer, 1 is the plain rate)"
                )
        return v

    def layer_lr_multipliers(self, layers: int) -> list[float] | None:
        """``lr_multipliers`` as one factor per weight layer (None when not given)."""
        m = self.lr_multipliers
        if m is None or isinstance(m, list):
            return m
        return [m.get(l, 1.0) for l in range(layers)]

    def lr_multiplier_problems(self, layers: int) -> list[str]:
        """What is wrong with ``lr_multipliers`` for a network of ``layers`` weight layers."""
        m = self.lr_multipliers
        if isinstance(m, list) and len(m) != layers:
            return [
                f"training.lr_multipliers: {len(m)} factor{'s' if len(m) != 1 else ''} for a "
                f"network with {layers} weight layer{'s' if layers != 1 else ''}: give exactly "
                f"{layers}, one per layer (or a mapping {{layer index: factor}})."
            ]
        if isinstance(m, dict):
            wrong = sorted(l for l in m if not 0 <= l < layers)
            if wrong:
                return [
                    f"training.lr_multipliers: layer index {', '.join(map(str, wrong))} does not "
                    f"exist: the network has {layers} weight layers, indices 0 to {layers - 1}."
                ]
        return []


class RandomParam(Strict):
    """How one key of a random sweep is drawn: exactly one of ``range``, ``log_range``,
    ``int_range``, ``choice``."""

    range: tuple[float, float] | None = Field(None, description="Uniform between the two numbers.")
    log_range: tuple[float, float] | None = Field(
        None, description="Log-uniform between two positive numbers (learning rates)."
    )
    int_range: tuple[int, int] | None = Field(
        None, description="A whole number between the two, both included."
    )
    choice: list[FiniteAny] | None = Field(
        None, min_length=1, description="One of these values, each as likely."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> RandomParam:
        given = [
            k for k in ("range", "log_range", "int_range", "choice") if getattr(self, k) is not None
        ]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of range, log_range, int_range, choice "
                f"(got {', '.join(given) or 'none'})"
            )
        bounds = self.range or self.log_range or self.int_range
        if bounds is not None and not bounds[0] < bounds[1]:
            raise ValueError(f"{given[0]} needs [low, high] with low < high, got {list(bounds)}")
        if self.log_range is not None and self.log_range[0] <= 0:
            raise ValueError(f"log_range needs two positive numbers, got {list(self.log_range)}")
        return self


class RandomSweep(Strict):
    samples: int = Field(ge=1, description="How many random draws.")
    seed: int | None = Field(None, ge=0, description="Seed of the draws; default: the spec's seed.")
    params: dict[str, RandomParam] = Field(
        min_length=1,
        description="Dotted key → how to draw it, e.g. optimizer.lr: {log_range: [0.01, 10]}.",
    )


class SweepSpec(Strict):
    """Trials of a sweep: every combination of ``grid``, times the paired rows of ``zip``, times
    ``random`` draws, each repeated with every seed of ``seeds`` (or ``repeat``)."""

    grid: dict[str, list[FiniteAny]] = Field(
        default_factory=dict, description="Dotted key → values; every combination is a trial."
    )
    zip: dict[str, list[FiniteAny]] = Field(
        default_factory=dict,
        description="Dotted key → values of one length; the i-th values go together.",
    )
    random: RandomSweep | None = Field(
        None, description="Random draws from ranges, log-ranges or choices."
    )
    metric: str | None = Field(
        None,
        description="Metric that ranks the trials (best over epochs), e.g. validation_accuracy; "
        "default: the first of validation, test, training accuracy or cost.",
    )
    mode: Literal["auto", "max", "min"] = Field(
        "auto", description="Whether a higher metric is better; auto asks the metric plugin."
    )
    executor: PluginRef = Field(
        default_factory=lambda: builtin("local"),
        description="What runs the trials (local processes by default).",
    )
    workers: int | None = Field(
        None, ge=1, description="Trials at once; default: the number of CPU cores."
    )
    seeds: list[int] | None = Field(
        None,
        min_length=1,
        description="Repeat every configuration with each of these seeds (the spec's `seed`).",
    )
    repeat: int | None = Field(
        None,
        ge=1,
        description="Repeat every configuration this many times, with seeds seed, seed + 1, ….",
    )

    @model_validator(mode="after")
    def _consistent(self) -> SweepSpec:
        repeats = self.seeds is not None or self.repeat is not None
        if not self.grid and not self.zip and self.random is None and not repeats:
            raise ValueError(
                "a sweep needs grid, zip, random, seeds or repeat, "
                "e.g. grid: {optimizer.lr: [0.025, 0.25, 2.5]}"
            )
        if self.seeds is not None and self.repeat is not None:
            raise ValueError("give seeds or repeat, not both (repeat: N means N seeds from seed)")
        if self.seeds is not None and len(set(self.seeds)) < len(self.seeds):
            raise ValueError(f"seeds has a seed twice: {self.seeds}")
        for part in ("grid", "zip"):
            for key, values in getattr(self, part).items():
                if not values:
                    raise ValueError(f"{part}.{key} has no values")
        lengths = {k: len(v) for k, v in self.zip.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(
                f"zip lists must have one length, "
                f"got {', '.join(f'{k}: {n}' for k, n in lengths.items())}"
            )
        seen: dict[str, str] = {}
        for part, keys in (
            ("grid", self.grid),
            ("zip", self.zip),
            ("random", self.random.params if self.random else {}),
        ):
            for key in keys:
                if not key or key.startswith(".") or key.endswith(".") or ".." in key:
                    raise ValueError(
                        f"{part} key {key!r} is not a dotted spec key like optimizer.lr"
                    )
                if key == "sweep" or key.startswith("sweep."):
                    raise ValueError(f"{part} key {key!r}: a sweep cannot change the sweep section")
                if key in seen:
                    raise ValueError(
                        f"{key!r} appears in both {seen[key]} and {part}; "
                        f"give each key in one place"
                    )
                if key == "seed" and repeats:
                    raise ValueError(
                        f"{part} sets seed and the sweep repeats seeds too; give seeds in one place"
                    )
                seen[key] = part
        return self


class Spec(Strict):
    """An experiment: data, network, cost, optimizer and how to train."""

    name: str = Field("experiment", description="A label for the run folder and reports.")
    seed: int = Field(
        0,
        ge=0,
        description="Seeds initialization, shuffling and synthetic data: same seed, same run.",
    )
    dtype: Literal["float64", "float32"] = Field(
        "float64", description="Floating-point type of every array."
    )
    data: PluginRef = Field(description="The data set.")
    preprocess: PreprocessSpec = Field(
        default_factory=PreprocessSpec,
        description="What is done to the data set's inputs before training (standardize).",
    )
    network: NetworkSpec
    cost: PluginRef = Field(
        default_factory=lambda: builtin("quadratic"), description="The cost function."
    )
    optimizer: PluginRef = Field(
        default_factory=lambda: builtin("sgd"),
        description="The update rule and its hyper-parameters (lr = η).",
    )
    regularizers: list[PluginRef] = Field(
        default_factory=list, description="Weight penalties, e.g. [{name: l2, lmbda: 5.0}]."
    )
    metrics: list[PluginRef] = Field(
        default_factory=lambda: [builtin("cost"), builtin("accuracy")],
        description="Metrics computed on every evaluated split.",
    )
    schedule: PluginRef | None = Field(
        None, description="Learning-rate schedule; constant η when absent."
    )
    callbacks: list[PluginRef] = Field(
        default_factory=list, description="Training callbacks (early stopping, checkpoints, …)."
    )
    training: TrainingSpec = Field(default_factory=TrainingSpec)
    sweep: SweepSpec | None = Field(
        None, description="Sweep definition, used by `deltaw sweep` (ignored by `deltaw run`)."
    )

    def plugin_refs(self) -> list[tuple[str, str, PluginRef]]:
        """Every plugin reference as ``(kind, location, ref)``."""
        refs: list[tuple[str, str, PluginRef]] = [
            ("dataset", "data", self.data),
            ("activation", "network.activation", self.network.activation),
            ("initializer", "network.init", self.network.init),
            ("cost", "cost", self.cost),
            ("optimizer", "optimizer", self.optimizer),
        ]
        if self.network.output_activation is not None:
            refs.append(("activation", "network.output_activation", self.network.output_activation))
        refs += [("regularizer", f"regularizers[{i}]", r) for i, r in enumerate(self.regularizers)]
        refs += [("metric", f"metrics[{i}]", r) for i, r in enumerate(self.metrics)]
        if self.schedule is not None:
            refs.append(("schedule", "schedule", self.schedule))
        refs += [("callback", f"callbacks[{i}]", r) for i, r in enumerate(self.callbacks)]
        if self.sweep is not None:
            refs.append(("executor", "sweep.executor", self.sweep.executor))
        return refs


def plugin_locations() -> dict[tuple[str, ...], str]:
    """Spec key path (list indices dropped) → plugin kind, read from ``Spec.plugin_refs``.

    ``plugin_refs`` runs on a probe spec with every optional plugin reference
    and section filled in, so a new reference added to the models is found.
    """
    out = {}
    for kind_name, where, _ in _probe(Spec).plugin_refs():
        path = tuple(re.sub(r"\[\d+\]", "", where).split("."))
        out[path] = kind_name
    return out


def _probe(model: type[BaseModel]) -> Any:
    values: dict[str, Any] = {}
    for name, f in model.model_fields.items():
        many, inner = inner_model(f.annotation)
        if inner is PluginRef:
            ref = PluginRef(name="x")
            values[name] = [ref] if many else ref
        elif inner is not None:
            values[name] = [_probe(inner)] if many else _probe(inner)
    return model.model_construct(**values)


def inner_model(annotation: Any, many: bool = False) -> tuple[bool, type[BaseModel] | None]:
    """``(is a list, the model inside)`` for ``M``, ``M | None``, ``list[M]``, …"""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return many, annotation
    is_list = get_origin(annotation) in (list, tuple)
    for arg in get_args(annotation):
        found = inner_model(arg, many or is_list)
        if found[1] is not None:
            return found
    return many, None
