"""Gradient checking: backprop's ∂C/∂w and ∂C/∂b against central finite differences.

Everything runs on a float64 copy of the network, whatever its dtype. For a
parameter p the numerical derivative is the central difference

    ∂C/∂p ≈ (C(p + ε) − C(p − ε)) / 2ε

of the batch-mean cost ``cost.value(feedforward(x), y)``, and its error is

    error = |backprop − numeric| / max(|backprop|, |numeric|, floor)

with ``floor = FLOOR · max(1, |C|)``: a true relative error for gradients above
the floor, an absolute one (scaled by 1/floor) below it, so gradients that are
zero up to rounding do not fail. A parameter fails when ``error > tol``.

Layers and weights are named as in Nielsen's book: layer 1 is the input layer,
so the first weight matrix belongs to layer 2, and ``w[l][j][k]`` joins
neuron k of layer l−1 to neuron j of layer l (1-based). In the code that is
``network.weights[l - 2][k - 1, j - 1]``.

Parameters whose perturbed weighted inputs z come within ε of a point where an
activation is not differentiable (declared in ``Activation.kinks``, e.g. ReLU
at 0), or whose perturbed outputs may cross a kink of the cost (declared by
``Cost.kink_distance``, e.g. the hinge at its margin), are reported as at a
kink and never fail.

Besides the whole network, the check looks at each ingredient on its own —
every activation's backward pass against finite differences of its forward
pass, the cost's gradient against its value, a fused ``output_delta`` against
finite differences of the value in z (δᴸ itself, not the generic ∇ₐC·σ'(z),
so a wrong ``gradient`` behind a right fused δ is blamed on ``gradient``
alone), each regularizer's gradient against its penalty — so
:meth:`GradCheckReport.diagnosis` can say which plugin is wrong.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deltaw.core.base import Activation, Array, Cost, Regularizer, overrides
from deltaw.core.network import Network

DEFAULT_EPS = 1e-5  # central-difference step: near the float64 optimum ∛u ≈ 6e-6
DEFAULT_TOL = 1e-6  # largest accepted error
FLOOR = 1e-3  # errors are relative above FLOOR·max(1, |C|), absolute below
DEFAULT_PER_PARAM = 100  # parameters checked per W or b array (all of them when fewer)


def weight_label(l: int, j: int, k: int) -> str:
    """``w[l][j][k]`` in the book's numbering (layer l ≥ 2, neurons from 1)."""
    return f"w[{l}][{j}][{k}]"


def relative_error(got: Array, ref: Array, floor: float) -> Array:
    """|got − ref| / max(|got|, |ref|, floor), elementwise."""
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(got - ref) / np.maximum(np.maximum(np.abs(got), np.abs(ref)), floor)
    return np.where(np.isfinite(err), err, np.inf)


def float64_copy(network: Network) -> Network:
    """A float64 network with the same sizes, activations and parameters."""
    net = Network(network.sizes, network.activations, dtype=np.float64)
    net.weights = [np.array(W, dtype=np.float64) for W in network.weights]
    net.biases = [np.array(b, dtype=np.float64) for b in network.biases]
    return net


@dataclass
class ParamCheck:
    """The check of one parameter array: W or b of one layer."""

    layer: int  # the book's l: 2 is the first layer with weights
    param: str  # "w" or "b"
    shape: tuple[int, ...]
    checked: int
    at_kinks: int  # checked parameters reported at a kink (never failed)
    failed: int
    max_error: float
    median_error: float
    worst: tuple[int, ...] | None  # numpy index into weights[l-2] or biases[l-2]
    worst_backprop: float
    worst_numeric: float
    errors: list[float] = field(
        default_factory=list, repr=False
    )  # per checked parameter (NaN at kinks)
    indices: list[tuple[int, ...]] = field(default_factory=list, repr=False)

    @property
    def passed(self) -> bool:
        return self.failed == 0

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def label(self, index: tuple[int, ...] | None) -> str:
        """The book's name of the parameter at ``index``: ``w[3][1][2]`` or ``b[3][1]``."""
        if index is None:
            return "-"
        if self.param == "w":
            k, j = index
            return weight_label(self.layer, j + 1, k + 1)
        return f"b[{self.layer}][{index[0] + 1}]"

    def to_dict(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "param": self.param,
            "shape": list(self.shape),
            "size": self.size,
            "checked": self.checked,
            "at_kinks": self.at_kinks,
            "failed": self.failed,
            "passed": self.passed,
            "max_error": _num(self.max_error),
            "median_error": _num(self.median_error),
            "worst": self.label(self.worst),
            "worst_index": list(self.worst) if self.worst is not None else None,
            "worst_backprop": _num(self.worst_backprop),
            "worst_numeric": _num(self.worst_numeric),
        }


@dataclass
class ComponentCheck:
    """One plugin checked on its own at the network's own values: ``got`` against ``numeric``."""

    what: str  # "activation", "cost", "output delta", "regularizer"
    name: str  # plugin label
    layer: int | None
    check: str  # e.g. "backward(z, a, g) vs finite differences of forward(z)"
    checked: int
    max_error: float
    passed: bool
    where: str = ""  # the worst entry, e.g. "z[1,24] = 0.2002"
    got: float = np.nan
    numeric: float = np.nan

    @property
    def detail(self) -> str:
        """'backward(z, a, g) gives 1.93 but finite differences of forward(z) give 0.388 at z[0,1] =
        -1.1'."""
        if not self.checked:
            return "nothing to check away from kinks"
        mine, _, theirs = self.check.partition(" vs ")
        verb = "give" if theirs.startswith("finite differences") else "gives"
        return f"{mine} gives {self.got:.6g} but {theirs} {verb} {self.numeric:.6g} at {self.where}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "what": self.what,
            "name": self.name,
            "layer": self.layer,
            "check": self.check,
            "checked": self.checked,
            "max_error": _num(self.max_error),
            "passed": self.passed,
            "where": self.where,
            "got": _num(self.got),
            "numeric": _num(self.numeric),
            "detail": self.detail,
        }


@dataclass
class GradCheckReport:
    """Everything :func:`gradcheck` found, per parameter array and per plugin."""

    params: list[ParamCheck]
    components: list[ComponentCheck]
    layer_names: list[str]  # the activation of each weight layer (index 0 = layer 2)
    cost_name: str
    cost_value: float
    samples: int
    eps: float
    tol: float
    floor: float
    dtype: str  # the original network's dtype (the check itself is float64)

    @property
    def passed(self) -> bool:
        return all(p.passed for p in self.params) and all(c.passed for c in self.components)

    @property
    def checked(self) -> int:
        return sum(p.checked for p in self.params)

    @property
    def at_kinks(self) -> int:
        return sum(p.at_kinks for p in self.params)

    def layer_name(self, layer: int) -> str:
        return self.layer_names[layer - 2]

    def diagnosis(self) -> str:
        """A paragraph: which layer is wrong, by how much, and the plugin most likely at fault."""
        worst = max(self.params, key=lambda p: _sortable(p.max_error))
        kinks = (
            f" {self.at_kinks} parameter(s) at a kink were reported, not checked."
            if self.at_kinks
            else ""
        )
        if self.passed and np.isnan(worst.max_error):
            return f"Nothing could be judged: every checked parameter sits at a kink.{kinks}"
        if self.passed:
            return (
                f"Backprop agrees with finite differences: {self.checked} parameters checked, "
                "largest error "
                f"{worst.max_error:.1e} ({worst.label(worst.worst)}), tolerance "
                f"{self.tol:.0e}.{kinks}"
            )
        lines = []
        failing = [p for p in self.params if not p.passed]
        if failing:
            layers = sorted({p.layer for p in failing}, reverse=True)
            top = layers[0]
            bad = max((p for p in failing if p.layer == top), key=lambda p: _sortable(p.max_error))
            last = len(self.layer_names) + 1
            lines.append(
                "Backprop disagrees with finite differences in "
                f"layer{'s' if len(layers) > 1 else ''} "
                f"{', '.join(map(str, layers))} (layer {last} is the output). Worst in layer "
                f"{top}: "
                f"{bad.label(bad.worst)} — backprop {bad.worst_backprop:.6g}, finite differences "
                f"{bad.worst_numeric:.6g}{_ratio(bad.worst_backprop, bad.worst_numeric)}; error "
                f"{bad.max_error:.2e} > "
                f"tolerance {self.tol:.0e}; {bad.failed} of {bad.checked} checked {bad.param}'s "
                "fail."
            )
            if top == last:
                lines.append(
                    "The output layer is wrong, so δ of the output layer (BP1) is wrong: suspect "
                    "the cost "
                    f"{self.cost_name!r} (gradient or output_delta) or the output activation "
                    f"{self.layer_name(last)!r} (its derivative/backward)."
                )
            else:
                lines.append(
                    f"Layer {top + 1} above it is right, so δ reaches layer {top} correctly and "
                    "goes wrong in "
                    f"BP2's ⊙ σ'(z): suspect the derivative/backward of layer {top}'s activation "
                    f"{self.layer_name(top)!r}. Layers below inherit the error through δ."
                )
        for c in self.components:
            if not c.passed:
                where = f" (layer {c.layer})" if c.layer is not None else ""
                lines.append(
                    f"{c.what} {c.name!r}{where}: {c.detail}; error {c.max_error:.2e} > tolerance "
                    f"{self.tol:.0e}."
                )
        lines += self._fused_note()
        return " ".join(lines) + kinks

    def _fused_note(self) -> list[str]:
        """Why the layers can pass while the cost fails: its fused δ bypasses ``gradient``."""
        bad = {c.what for c in self.components if not c.passed}
        fused = [c for c in self.components if c.what == "output delta"]
        if "cost" not in bad or not fused or not fused[0].passed:
            return []
        return [
            f"The cost's Cost.gradient is wrong, but its fused output_delta with "
            f"{self.layer_name(len(self.layer_names) + 1)!r} is right, so backprop through "
            "this network (and training with this pair) is unaffected; gradient is what "
            "every output activation the cost does not fuse with uses: fix gradient."
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "checked": self.checked,
            "at_kinks": self.at_kinks,
            "cost": self.cost_name,
            "cost_value": _num(self.cost_value),
            "layers": self.layer_names,
            "samples": self.samples,
            "eps": self.eps,
            "tol": self.tol,
            "floor": self.floor,
            "dtype": self.dtype,
            "params": [p.to_dict() for p in self.params],
            "components": [c.to_dict() for c in self.components],
            "diagnosis": self.diagnosis(),
        }


def gradcheck(
    network: Network,
    cost: Cost,
    x: Array,
    y: Array,
    *,
    eps: float = DEFAULT_EPS,
    tol: float = DEFAULT_TOL,
    per_param: int = DEFAULT_PER_PARAM,
    rng: np.random.Generator | None = None,
    regularizers: Sequence[Regularizer] = (),
    n: int | None = None,
    layer_names: Sequence[str] | None = None,
    cost_name: str | None = None,
    regularizer_names: Sequence[str] | None = None,
) -> GradCheckReport:
    """Compare backprop with central finite differences on the rows of ``x`` (float64 throughout).

    ``per_param`` parameters of each W and b are checked, drawn from ``rng``
    (all of them for smaller arrays). ``regularizers`` (with the training-set
    size ``n``) are checked on their own: penalty against gradient.
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    net = float64_copy(network)
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    names = (
        list(layer_names)
        if layer_names is not None
        else [type(a).__name__ for a in net.activations]
    )
    cname = cost_name or type(cost).__name__
    zs, acts = net.forward(x)
    c0 = cost.value(acts[-1], y)
    floor = FLOOR * max(1.0, abs(c0)) if np.isfinite(c0) else FLOOR
    nabla_w, nabla_b = net.backprop(x, y, cost)
    checks = []
    for i in range(net.num_layers):
        for param, arrays, grads in (("w", net.weights, nabla_w), ("b", net.biases, nabla_b)):
            checks.append(
                _check_array(
                    net, cost, x, y, i, param, arrays[i], grads[i], eps, tol, floor, per_param, rng
                )
            )
    components = _check_activations(net, zs, acts, names, eps, tol, rng, per_param)
    components += _check_cost(cost, cname, net, zs, acts, y, eps, tol, rng, per_param)
    reg_names = (
        list(regularizer_names)
        if regularizer_names is not None
        else [type(r).__name__ for r in regularizers]
    )
    for reg, rname in zip(regularizers, reg_names):
        components.append(
            _check_regularizer(reg, rname, net.weights, n or len(x), eps, tol, rng, per_param)
        )
    return GradCheckReport(
        checks,
        components,
        names,
        cname,
        float(c0),
        len(x),
        eps,
        tol,
        floor,
        str(np.dtype(network.dtype)),
    )


# -- the whole network -----------------------------------------------------------------------------


def _check_array(
    net: Network,
    cost: Cost,
    x: Array,
    y: Array,
    i: int,
    param: str,
    p: Array,
    grad: Array,
    eps: float,
    tol: float,
    floor: float,
    per_param: int,
    rng: np.random.Generator,
) -> ParamCheck:
    flat = (
        np.arange(p.size)
        if p.size <= per_param
        else np.sort(rng.choice(p.size, per_param, replace=False))
    )
    indices = [tuple(int(v) for v in np.unravel_index(f, p.shape)) for f in flat]
    errors, numeric, kinked = [], [], []
    for idx in indices:
        old = p[idx]
        p[idx] = old + eps
        zs_plus, a_plus = net.forward(x)
        c_plus = cost.value(a_plus[-1], y)
        p[idx] = old - eps
        zs_minus, a_minus = net.forward(x)
        c_minus = cost.value(a_minus[-1], y)
        p[idx] = old
        num = (c_plus - c_minus) / (2 * eps)  # central difference: (C(p+ε) − C(p−ε)) / 2ε
        numeric.append(num)
        at_kink = _straddles_kink(net.activations, zs_plus, zs_minus, eps) or (
            _straddles_cost_kink(cost, a_plus[-1], a_minus[-1], y, eps)
        )
        kinked.append(at_kink)
        errors.append(np.nan if at_kink else float(relative_error(grad[idx], num, floor)))
    err = np.array(errors, dtype=np.float64)
    judged = ~np.isnan(err)
    worst, wb, wn = None, np.nan, np.nan
    if judged.any():
        w = int(np.nanargmax(err))
        worst, wb, wn = indices[w], float(grad[indices[w]]), float(numeric[w])
    return ParamCheck(
        layer=i + 2,
        param=param,
        shape=tuple(p.shape),
        checked=len(indices),
        at_kinks=int(sum(kinked)),
        failed=int(np.sum(err[judged] > tol)),
        max_error=float(err[judged].max()) if judged.any() else np.nan,
        median_error=float(np.median(err[judged])) if judged.any() else np.nan,
        worst=worst,
        worst_backprop=wb,
        worst_numeric=wn,
        errors=errors,
        indices=indices,
    )


def _straddles_kink(
    activations: Sequence[Activation], zs_plus: list[Array], zs_minus: list[Array], eps: float
) -> bool:
    """True when a z that the perturbation moved comes within ε of one of its activation's kinks."""
    for act, zp, zm in zip(activations, zs_plus, zs_minus):
        kinks = act.kinks
        if not kinks:
            continue
        moved = zp != zm
        if not moved.any():
            continue
        lo, hi = np.minimum(zp, zm)[moved] - eps, np.maximum(zp, zm)[moved] + eps
        if any(np.any((lo <= k) & (k <= hi)) for k in kinks):
            return True
    return False


def _straddles_cost_kink(cost: Cost, a_plus: Array, a_minus: Array, y: Array, eps: float) -> bool:
    """True when a row of outputs that the perturbation moved may have crossed a kink of the cost.

    ``kink_distance`` bounds the ∞-norm distance to the nearest kink; a row
    whose move (plus ε of slack, as for activations) reaches that far is at a kink.
    """
    d = cost.kink_distance(a_minus, y)
    if d is None:
        return False
    step = np.abs(a_plus - a_minus).max(axis=-1)
    moved = step > 0
    return bool(np.any(moved & ~(np.asarray(d) > step + eps)))


# -- each plugin on its own ------------------------------------------------------------------------


def _check_activations(
    net: Network,
    zs: list[Array],
    acts: list[Array],
    names: list[str],
    eps: float,
    tol: float,
    rng: np.random.Generator,
    per_param: int,
) -> list[ComponentCheck]:
    """backward(z, a, g) against finite differences of ⟨g, forward(z)⟩, at every layer's own z."""
    out = []
    for i, (act, z, a) in enumerate(zip(net.activations, zs, acts[1:])):
        g = rng.standard_normal(z.shape)
        vjp = np.asarray(act.backward(z, a, g), np.float64)  # ∂⟨g, σ(z)⟩/∂z, row by row
        kinks = act.kinks
        entries = [tuple(int(v) for v in ix) for ix in np.ndindex(z.shape)]
        if len(entries) > per_param:
            entries = [
                entries[f] for f in np.sort(rng.choice(len(entries), per_param, replace=False))
            ]
        entries = [e for e in entries if not any(abs(z[e] - k) <= 2 * eps for k in kinks)]
        nums = []
        for r, c in entries:
            row = z[r : r + 1].copy()
            row[0, c] = z[r, c] + eps
            up = float(np.sum(g[r] * act.forward(row)[0]))
            row[0, c] = z[r, c] - eps
            down = float(np.sum(g[r] * act.forward(row)[0]))
            nums.append((up - down) / (2 * eps))
        nums_arr = np.array(nums, dtype=np.float64)
        got = np.array([vjp[e] for e in entries], dtype=np.float64)
        scale = FLOOR * max(1.0, float(np.max(np.abs(g))))
        out.append(
            _component(
                "activation",
                names[i],
                i + 2,
                got,
                nums_arr,
                scale,
                tol,
                lambda w, e=entries, z=z: f"z[{e[w][0]},{e[w][1]}] = {z[e[w]]:.4g}",
                "backward(z, a, g) vs finite differences of forward(z)",
            )
        )
    return out


def _check_cost(
    cost: Cost,
    name: str,
    net: Network,
    zs: list[Array],
    acts: list[Array],
    y: Array,
    eps: float,
    tol: float,
    rng: np.random.Generator,
    per_param: int,
) -> list[ComponentCheck]:
    """gradient(a, y) against finite differences of value(a, y); a fused output_delta against the
    generic δᴸ."""
    a, z = acts[-1].copy(), zs[-1]
    m = len(a)
    grad = (
        np.asarray(cost.gradient(a, y), np.float64) / m
    )  # value is the batch mean, gradient per row
    entries = [tuple(int(v) for v in ix) for ix in np.ndindex(a.shape)]
    if len(entries) > per_param:
        entries = [entries[f] for f in np.sort(rng.choice(len(entries), per_param, replace=False))]
    d = cost.kink_distance(a, y)
    if d is not None:  # a step of ε in one entry moves a by ε in ∞-norm
        entries = [e for e in entries if np.asarray(d)[e[0]] > 2 * eps]
    nums = []
    for e in entries:
        old = a[e]
        a[e] = old + eps
        up = cost.value(a, y)
        a[e] = old - eps
        down = cost.value(a, y)
        a[e] = old
        nums.append((up - down) / (2 * eps))
    scale = FLOOR * max(1.0, abs(cost.value(a, y)))
    got = np.array([grad[e] for e in entries], dtype=np.float64)
    out = [
        _component(
            "cost",
            name,
            None,
            got,
            np.array(nums, dtype=np.float64),
            scale,
            tol,
            lambda w: (
                f"a[{entries[w][0]},{entries[w][1]}] = {a[entries[w]]:.4g}, y = {y[entries[w]]:.4g}"
            ),
            "gradient(a, y)/m vs finite differences of value(a, y)",
        )
    ]
    if overrides(cost, Cost, "output_delta"):
        out.append(_check_fused_delta(cost, name, net, z, y, eps, tol, rng, per_param))
    return out


def _check_fused_delta(
    cost: Cost,
    name: str,
    net: Network,
    z: Array,
    y: Array,
    eps: float,
    tol: float,
    rng: np.random.Generator,
    per_param: int,
) -> ComponentCheck:
    """A fused output_delta against finite differences of value(σ(z), y) in z: δᴸ itself.

    Compared with the truth rather than with ``backward(z, a, gradient(a, y))``, so
    that a wrong ``gradient`` behind a right fused δ is blamed on ``gradient`` alone.
    """
    output, m = net.activations[-1], len(z)
    a = output.forward(z)
    delta = np.asarray(cost.output_delta(z, a, y, output), np.float64) / m  # δᴸ is per row
    entries = [tuple(int(v) for v in ix) for ix in np.ndindex(z.shape)]
    if len(entries) > per_param:
        entries = [entries[f] for f in np.sort(rng.choice(len(entries), per_param, replace=False))]
    kinks = output.kinks
    entries = [e for e in entries if not any(abs(z[e] - k) <= 2 * eps for k in kinks)]
    d = cost.kink_distance(a, y)
    if d is not None:  # σ moves a row of a by at most ~ε when z moves by ε
        entries = [e for e in entries if np.asarray(d)[e[0]] > 2 * eps]
    zp, nums = z.copy(), []
    for e in entries:
        old = zp[e]
        zp[e] = old + eps
        up = cost.value(output.forward(zp), y)
        zp[e] = old - eps
        down = cost.value(output.forward(zp), y)
        zp[e] = old
        nums.append((up - down) / (2 * eps))
    return _component(
        "output delta",
        name,
        net.num_layers + 1,
        np.array([delta[e] for e in entries], dtype=np.float64),
        np.array(nums, dtype=np.float64),
        FLOOR * max(1.0, abs(cost.value(a, y))),
        tol,
        lambda w: f"z[{entries[w][0]},{entries[w][1]}] = {z[entries[w]]:.4g}",
        "output_delta(z, a, y)/m vs finite differences of value(forward(z), y)",
    )


def _check_regularizer(
    reg: Regularizer,
    name: str,
    weights: list[Array],
    n: int,
    eps: float,
    tol: float,
    rng: np.random.Generator,
    per_param: int,
) -> ComponentCheck:
    """gradient(w, n) against finite differences of penalty(weights, n)."""
    ws = copy.deepcopy(weights)
    got, nums, where = [], [], []
    for i, W in enumerate(ws):
        grad = np.asarray(reg.gradient(W, n), np.float64)
        flat = (
            np.arange(W.size)
            if W.size <= per_param
            else np.sort(rng.choice(W.size, per_param, replace=False))
        )
        for f in flat:
            e = np.unravel_index(f, W.shape)
            old = W[e]
            if any(abs(old - k) <= 2 * eps for k in reg.kinks):
                continue  # a penalty may declare kinks too (|w| at 0)
            W[e] = old + eps
            up = reg.penalty(ws, n)
            W[e] = old - eps
            down = reg.penalty(ws, n)
            W[e] = old
            got.append(grad[e])
            nums.append((up - down) / (2 * eps))
            where.append(weight_label(i + 2, int(e[1]) + 1, int(e[0]) + 1))
    return _component(
        "regularizer",
        name,
        None,
        np.array(got, dtype=np.float64),
        np.array(nums, dtype=np.float64),
        FLOOR,
        tol,
        lambda w: where[w],
        "gradient(w, n) vs finite differences of penalty(weights, n)",
    )


def _component(
    what: str,
    name: str,
    layer: int | None,
    got: Array,
    ref: Array,
    floor: float,
    tol: float,
    where: Any,
    check: str,
) -> ComponentCheck:
    if got.size == 0:
        return ComponentCheck(what, name, layer, check, 0, 0.0, True)
    err = relative_error(got, ref, floor)
    w = int(np.argmax(err))
    return ComponentCheck(
        what,
        name,
        layer,
        check,
        int(got.size),
        float(err[w]),
        bool(err[w] <= tol),
        where(w),
        float(got[w]),
        float(ref[w]),
    )


def _ratio(got: float, ref: float) -> str:
    if ref == 0 or not np.isfinite(got) or not np.isfinite(ref):
        return ""
    return f" (ratio {got / ref:.3g})"


def _sortable(v: float) -> float:
    return -1.0 if np.isnan(v) else v


def _num(v: float) -> float | None:
    """JSON-friendly: NaN and ±inf (nothing judged, or a non-finite gradient) become None."""
    return float(v) if v is not None and np.isfinite(v) else None
