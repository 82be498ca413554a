"""Three views of one derivative ∂C/∂w, for one weight and one sample.

1. **Change.** Nudge the weight by Δw and follow the change forward: Δz and Δa
   of every affected neuron, layer by layer, up to ΔC. As Δw shrinks, ΔC/Δw
   tends to ∂C/∂w.
2. **Paths.** By the chain rule, ∂C/∂w is a sum over every path from the
   weight to the cost of the product of the local rates of change along it:
   ∂z/∂w = a of the neuron the weight comes from, ∂a/∂z = σ'(z) (for
   non-elementwise activations such as softmax, every entry of the Jacobian:
   the cross terms are paths too), ∂z/∂a = the weight of the edge, and finally
   ∂C/∂a of the output neuron.
3. **Backprop.** δᴸ = ∂C/∂zᴸ (BP1), δˡ = (δˡ⁺¹ Wˡ⁺¹ᵀ) ⊙ σ'(zˡ) (BP2), and
   ∂C/∂wˡⱼₖ = aˡ⁻¹ₖ δˡⱼ (BP4): the same path sum with the shared ends of
   the paths added up once, from the output backwards.

Numbering follows Nielsen's book: layer 1 is the input layer; ``w[l][j][k]``
joins neuron k of layer l−1 to neuron j of layer l, all 1-based. In the code
that is ``network.weights[l - 2][k - 1, j - 1]``. Everything is float64.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deltaw.core.base import Activation, Array, Cost
from deltaw.core.gradcheck import DEFAULT_EPS, float64_copy, weight_label
from deltaw.core.network import Network

DEFAULT_DW = 0.1  # the first nudge; the limit table divides it by 10 each row
DEFAULT_STEPS = 6  # rows of the limit table
DEFAULT_MAX_PATHS = 100_000  # paths are listed only up to this many (always counted)
DEFAULT_TOP = 10  # largest paths shown


@dataclass
class LayerChange:
    """How one layer moves when the weight moves by Δw."""

    layer: int
    z: Array
    dz: Array  # z(w + Δw) − z(w)
    a: Array
    da: Array  # a(w + Δw) − a(w)
    derivative: Array  # ∂a/∂w by the chain rule: the sum over paths from w to each neuron

    def to_dict(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "z": self.z.tolist(),
            "dz": self.dz.tolist(),
            "a": self.a.tolist(),
            "da": self.da.tolist(),
            "da_dw": self.derivative.tolist(),
        }


@dataclass
class Nudge:
    """ΔC for one Δw, and the ratio that tends to ∂C/∂w."""

    dw: float
    dC: float
    ratio: float  # ΔC/Δw
    error: float  # ΔC/Δw − ∂C/∂w (backprop)

    def to_dict(self) -> dict[str, Any]:
        return {"dw": self.dw, "dC": self.dC, "ratio": self.ratio, "error": self.error}


@dataclass
class Path:
    """One path from the weight to the cost: its neurons, local derivatives and their product."""

    nodes: list[tuple[str, int, int]]  # ("z" | "a", layer, neuron), 1-based, in order
    factors: list[float]  # ∂z/∂w, then ∂a/∂z and ∂z/∂a alternately, then ∂C/∂a
    product: float

    def label(self) -> str:
        """``a[2][1] → a[3][2] → C``; a cross term of a non-elementwise layer shows as
        ``z[3][1]→a[3][2]``."""
        parts, i = [], 0
        while i < len(self.nodes):
            kind, layer, n = self.nodes[i]
            nxt = self.nodes[i + 1] if i + 1 < len(self.nodes) else None
            if kind == "z" and nxt is not None and nxt[0] == "a" and nxt[1] == layer:
                parts.append(
                    f"a[{layer}][{n}]" if nxt[2] == n else f"z[{layer}][{n}]→a[{layer}][{nxt[2]}]"
                )
                i += 2
            else:
                parts.append(f"{kind}[{layer}][{n}]")
                i += 1
        return " → ".join([*parts, "C"])

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.label(),
            "nodes": [list(n) for n in self.nodes],
            "factors": self.factors,
            "product": self.product,
        }


@dataclass
class PathSum:
    """Every path from the weight to the cost: how many, their sum, the largest ones."""

    count: int  # exact, even when too many to list
    cap: int
    total: float  # the sum over all paths
    listed: bool  # False when count > cap: the sum was then accumulated layer by layer
    zero_paths: int | None  # listed paths whose product is exactly 0 (a factor is 0)
    top: list[Path] = field(default_factory=list)
    factors_per_path: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "cap": self.cap,
            "listed": self.listed,
            "sum": self.total,
            "zero_paths": self.zero_paths,
            "factors_per_path": self.factors_per_path,
            "top": [p.to_dict() for p in self.top],
        }


@dataclass
class MethodCost:
    """What each method costs for one network: path sums against backprop."""

    sizes: list[int]
    note: str
    weights: int
    paths_one: int  # paths from one weight of the first weight layer
    paths_all: int  # paths summed over every weight
    path_multiplies: int  # multiplications for every path product (plus one forward pass)
    backprop_multiply_adds: int  # one forward and one backward pass, all weights at once

    @property
    def ratio(self) -> float:
        return self.path_multiplies / self.backprop_multiply_adds

    def to_dict(self) -> dict[str, Any]:
        return {
            "sizes": self.sizes,
            "note": self.note,
            "weights": self.weights,
            "paths_one_weight": self.paths_one,
            "paths_all_weights": self.paths_all,
            "path_multiplies": self.path_multiplies,
            "backprop_multiply_adds": self.backprop_multiply_adds,
            "ratio": self.ratio,
        }


@dataclass
class Explanation:
    """The three views of ∂C/∂w for one weight and one sample, side by side."""

    l: int
    j: int
    k: int
    w: float
    sizes: list[int]
    x: Array
    y: Array
    cost_value: float
    dw: float
    changes: list[LayerChange]  # layers l … L
    dC: float
    nudges: list[Nudge]
    numeric: float  # central finite difference
    eps: float
    paths: PathSum
    deltas: list[Array]  # δ of layers 2 … L (index 0 = layer 2)
    backprop: float
    edges: list[Array | None]  # per weight layer: each edge's share of ∂C/∂w, None before layer l
    costs: list[MethodCost]
    elementwise: list[bool] = field(
        default_factory=list
    )  # per weight layer: is its activation elementwise?

    @property
    def label(self) -> str:
        return weight_label(self.l, self.j, self.k)

    @property
    def values(self) -> dict[str, float]:
        return {
            "finite difference": self.numeric,
            "path sum": self.paths.total,
            "backprop": self.backprop,
        }

    def differences(self) -> dict[str, float]:
        """Relative difference of every pair of the three values."""
        v = self.values
        names = list(v)
        return {
            f"{a} vs {b}": relative_difference(v[a], v[b])
            for i, a in enumerate(names)
            for b in names[i + 1 :]
        }

    def to_dict(self) -> dict[str, Any]:
        L = len(self.sizes)
        return {
            "weight": {
                "label": self.label,
                "l": self.l,
                "j": self.j,
                "k": self.k,
                "value": self.w,
                "array": f"weights[{self.l - 2}]",
                "index": [self.k - 1, self.j - 1],
            },
            "network": {"sizes": self.sizes},
            "sample": {"x": self.x.tolist(), "y": self.y.tolist()},
            "cost": self.cost_value,
            "change": {"dw": self.dw, "dC": self.dC, "layers": [c.to_dict() for c in self.changes]},
            "limit": [n.to_dict() for n in self.nudges],
            "paths": self.paths.to_dict(),
            "backprop": {
                "deltas": {str(i + 2): d.tolist() for i, d in enumerate(self.deltas)},
                "gradient": self.backprop,
                "formula": f"a[{self.l - 1}][{self.k}] * delta[{self.l}][{self.j}]",
            },
            "compare": {
                "values": self.values,
                "relative_differences": self.differences(),
                "finite_difference_eps": self.eps,
            },
            "edges": {
                str(m + 2): (e.tolist() if e is not None else None)
                for m, e in enumerate(self.edges)
            },
            "costs": [c.to_dict() for c in self.costs],
            "layers": L,
        }


def relative_difference(a: float, b: float) -> float:
    """|a − b| / max(|a|, |b|), and 0 when both are 0."""
    scale = max(abs(a), abs(b))
    return 0.0 if scale == 0 else abs(a - b) / scale


def explain(
    network: Network,
    cost: Cost,
    x: Array,
    y: Array,
    l: int,
    j: int,
    k: int,
    *,
    dw: float = DEFAULT_DW,
    steps: int = DEFAULT_STEPS,
    eps: float = DEFAULT_EPS,
    max_paths: int = DEFAULT_MAX_PATHS,
    top: int = DEFAULT_TOP,
) -> Explanation:
    """Explain ∂C/∂w for ``w[l][j][k]`` (book numbering) on one sample ``x`` (1-D) with target
    ``y``."""
    net = float64_copy(network)
    check_weight(net.sizes, l, j, k)
    x = np.asarray(x, np.float64).reshape(1, -1)
    y = np.asarray(y, np.float64).reshape(1, -1)
    i, idx = l - 2, (k - 1, j - 1)  # storage: weights[l-2][k-1, j-1]
    zs, acts = net.forward(x)
    c0 = cost.value(acts[-1], y)
    grad_a = np.asarray(cost.gradient(acts[-1], y), np.float64)[0]  # ∂C/∂aᴸ for this sample
    jac = [_jacobian(act, z[0], a[0]) for act, z, a in zip(net.activations, zs, acts[1:])]

    tangents = _forward_mode(net, acts, jac, i, j - 1, k - 1)  # ∂a/∂w of every layer from l on
    changes, dC = _nudge(net, x, y, cost, zs, acts, c0, i, idx, dw, tangents)
    deltas = _deltas(net, zs, acts, y, cost)
    backprop = float(net.backprop(x, y, cost)[0][i][idx])
    nudges = []
    for s in range(steps):
        h = dw / 10**s
        dc = _cost_with(net, x, y, cost, i, idx, h) - c0
        nudges.append(Nudge(h, dc, dc / h, dc / h - backprop))
    numeric = (
        _cost_with(net, x, y, cost, i, idx, eps) - _cost_with(net, x, y, cost, i, idx, -eps)
    ) / (2 * eps)
    paths = _path_sum(net, acts, jac, grad_a, tangents, i, j - 1, k - 1, max_paths, top)
    edges = _edge_contributions(net, acts, tangents, deltas, i, idx)
    elementwise = [act.elementwise for act in net.activations]
    return Explanation(
        l=l,
        j=j,
        k=k,
        w=float(net.weights[i][idx]),
        sizes=list(net.sizes),
        x=x[0],
        y=y[0],
        cost_value=float(c0),
        dw=dw,
        changes=changes,
        dC=dC,
        nudges=nudges,
        numeric=float(numeric),
        eps=eps,
        paths=paths,
        deltas=[d[0] for d in deltas],
        backprop=backprop,
        edges=edges,
        costs=comparison_costs(net.sizes, elementwise[-1]),
        elementwise=elementwise,
    )


def check_weight(sizes: Sequence[int], l: int, j: int, k: int) -> None:
    """Raise ``ValueError`` with the valid ranges when ``w[l][j][k]`` is not a weight of
    ``sizes``."""
    L = len(sizes)
    if not 2 <= l <= L:
        raise ValueError(
            f"layer l = {l} has no weights: for layers {list(sizes)} choose l from 2 to {L} "
            f"(layer 1 is the input layer)"
        )
    if not 1 <= j <= sizes[l - 1]:
        raise ValueError(
            f"neuron j = {j} is not in layer {l}, which has neurons 1 to {sizes[l - 1]}"
        )
    if not 1 <= k <= sizes[l - 2]:
        raise ValueError(
            f"neuron k = {k} is not in layer {l - 1}, which has neurons 1 to {sizes[l - 2]}"
        )


# -- view 1: the forward propagation of change -----------------------------------------------------


def _cost_with(
    net: Network, x: Array, y: Array, cost: Cost, i: int, idx: tuple[int, int], h: float
) -> float:
    """C with the weight moved by h (and put back)."""
    W = net.weights[i]
    old = W[idx]
    W[idx] = old + h
    try:
        return cost.value(net.feedforward(x), y)
    finally:
        W[idx] = old


def _nudge(
    net: Network,
    x: Array,
    y: Array,
    cost: Cost,
    zs: list[Array],
    acts: list[Array],
    c0: float,
    i: int,
    idx: tuple[int, int],
    dw: float,
    tangents: list[Array],
) -> tuple[list[LayerChange], float]:
    W = net.weights[i]
    old = W[idx]
    W[idx] = old + dw
    try:
        zs2, acts2 = net.forward(x)
    finally:
        W[idx] = old
    changes = [
        LayerChange(
            m + 2,
            zs[m][0],
            zs2[m][0] - zs[m][0],
            acts[m + 1][0],
            acts2[m + 1][0] - acts[m + 1][0],
            t,
        )
        for m, t in zip(range(i, net.num_layers), tangents)
    ]
    return changes, cost.value(acts2[-1], y) - c0  # ΔC


def _forward_mode(
    net: Network, acts: list[Array], jac: list[Array], i: int, j: int, k: int
) -> list[Array]:
    """∂a/∂w for every layer from the weight's own on, pushed forward through the chain rule."""
    dz = np.zeros(net.sizes[i + 1])
    dz[j] = acts[i][0, k]  # ∂z_j/∂w_jk = a_k of the previous layer
    tangents = [jac[i] @ dz]  # ∂a/∂w = (∂a/∂z)(∂z/∂w)
    for m in range(i + 1, net.num_layers):
        dz = tangents[-1] @ net.weights[m]  # ∂z/∂w = (∂a_prev/∂w) W
        tangents.append(jac[m] @ dz)  # ∂a/∂w = J (∂z/∂w)
    return tangents


def _jacobian(act: Activation, z: Array, a: Array) -> Array:
    """∂a_r/∂z_q of one sample: diagonal σ'(z) for elementwise activations, else the full
    Jacobian."""
    if act.elementwise:
        return np.diag(
            np.asarray(act.backward(z[None], a[None], np.ones((1, len(z))))[0], np.float64)
        )
    return np.asarray(act.jacobian(z, a), np.float64)


# -- view 2: the sum over paths --------------------------------------------------------------------


def count_paths(sizes: Sequence[int], l: int, elementwise: Sequence[bool]) -> int:
    """Paths from a weight of layer l to the cost: one neuron per later layer, two in
    non-elementwise layers."""
    L = len(sizes)
    count = math.prod(
        sizes[m - 1] for m in range(l + 1, L + 1)
    )  # the z neuron of every later layer
    count *= math.prod(
        sizes[m - 1] for m in range(l, L + 1) if not elementwise[m - 2]
    )  # and an a neuron via J
    return count


def _path_sum(
    net: Network,
    acts: list[Array],
    jac: list[Array],
    grad_a: Array,
    tangents: list[Array],
    i: int,
    j: int,
    k: int,
    max_paths: int,
    top: int,
) -> PathSum:
    L = net.num_layers
    elementwise = [act.elementwise for act in net.activations]
    count = count_paths(net.sizes, i + 2, elementwise)
    n_factors = 2 * (L - 1 - i) + 3  # ∂z/∂w, then (∂a/∂z, ∂z/∂a) per layer, ∂a/∂z, ∂C/∂a
    if count > max_paths:
        total = float(grad_a @ tangents[-1])  # Σ paths, shared segments added first (forward mode)
        return PathSum(count, max_paths, total, False, None, [], n_factors)
    # nodes[p] holds path p's neuron indices (0-based) z, a, z, a, … from layer l on; prod[p] its
    # product
    prod = np.array([acts[i][0, k]])  # ∂z_j/∂w_jk = a_k
    nodes = np.array([[j]])
    for m in range(i, L):
        if m > i:  # a of layer m−1 → z of layer m, factor w (storage W[r, q])
            r = nodes[:, -1]
            step = net.weights[m][r, :]
            prod, nodes = _extend(prod, nodes, step)
        q = nodes[:, -1]  # z of layer m → a of layer m, factor ∂a_r/∂z_q
        if elementwise[m]:
            prod = prod * jac[m][q, q]
            nodes = np.column_stack([nodes, q])
        else:
            prod, nodes = _extend(prod, nodes, jac[m][:, q].T)
    prod = prod * grad_a[nodes[:, -1]]  # a of the output layer → C, factor ∂C/∂a
    order = np.argsort(-np.abs(prod), kind="stable")[:top]
    shown = [_path(net, acts, jac, grad_a, nodes[p], float(prod[p]), i, k) for p in order]
    return PathSum(
        count, max_paths, float(prod.sum()), True, int(np.sum(prod == 0)), shown, n_factors
    )


def _extend(prod: Array, nodes: Array, step: Array) -> tuple[Array, Array]:
    """Every path times every next neuron: ``step[p, n]`` is the factor from path p's last node to
    neuron n."""
    width = step.shape[1]
    prod = (prod[:, None] * step).ravel()
    nodes = np.column_stack(
        [np.repeat(nodes, width, axis=0), np.tile(np.arange(width), len(nodes))]
    )
    return prod, nodes


def _path(
    net: Network,
    acts: list[Array],
    jac: list[Array],
    grad_a: Array,
    n: Array,
    product: float,
    i: int,
    k: int,
) -> Path:
    """The nodes and factors of one enumerated path."""
    nodes, factors = [], [float(acts[i][0, k])]
    for s in range(0, len(n), 2):
        m = i + s // 2
        q, r = int(n[s]), int(n[s + 1])
        if s:
            factors.append(float(net.weights[m][int(n[s - 1]), q]))
        factors.append(float(jac[m][r, q]))
        nodes += [("z", m + 2, q + 1), ("a", m + 2, r + 1)]
    factors.append(float(grad_a[int(n[-1])]))
    return Path(nodes, factors, product)


# -- view 3: backprop ------------------------------------------------------------------------------


def _deltas(net: Network, zs: list[Array], acts: list[Array], y: Array, cost: Cost) -> list[Array]:
    """δ of every layer, from the output backwards."""
    deltas = [cost.output_delta(zs[-1], acts[-1], y, net.activations[-1])]  # BP1
    for m in range(net.num_layers - 2, -1, -1):
        deltas.insert(
            0, net.activations[m].backward(zs[m], acts[m + 1], deltas[0] @ net.weights[m + 1].T)
        )  # BP2
    return [np.asarray(d, np.float64) for d in deltas]


def _edge_contributions(
    net: Network,
    acts: list[Array],
    tangents: list[Array],
    deltas: list[Array],
    i: int,
    idx: tuple[int, int],
) -> list[Array | None]:
    """Each edge's share of ∂C/∂w: the sum over the paths through it, (∂a_prev/∂w) · w · δ.

    Every path crosses each later layer of edges exactly once, so each layer's shares add up to
    ∂C/∂w.
    """
    edges: list[Array | None] = [None] * i
    own = np.zeros_like(net.weights[i])
    own[idx] = acts[i][0, idx[0]] * deltas[i][0, idx[1]]  # BP4: a_k δ_j
    edges.append(own)
    for m in range(i + 1, net.num_layers):
        edges.append(tangents[m - 1 - i][:, None] * net.weights[m] * deltas[m][0][None, :])
    return edges


# -- what each method costs ------------------------------------------------------------------------


def method_cost(
    sizes: Sequence[int], output_elementwise: bool = True, note: str = ""
) -> MethodCost:
    """Path sums for every weight against backprop, for a network of ``sizes`` (elementwise hidden
    layers)."""
    sizes = list(sizes)
    L = len(sizes)
    elementwise = [True] * (L - 2) + [output_elementwise]
    per_layer = [sizes[m - 2] * sizes[m - 1] for m in range(2, L + 1)]  # weights of layer m
    forward = sum(per_layer)
    paths_all, multiplies = 0, forward
    for m in range(2, L + 1):
        paths = count_paths(sizes, m, elementwise)
        paths_all += per_layer[m - 2] * paths
        multiplies += per_layer[m - 2] * paths * (2 * (L - m) + 2)  # factors − 1 per path
    backward = sum(per_layer[1:]) + sum(per_layer)  # BP2 (δ Wᵀ) for layers 3…L, BP4 (aᵀ δ) for all
    return MethodCost(
        sizes,
        note,
        forward,
        count_paths(sizes, 2, elementwise),
        paths_all,
        multiplies,
        forward + backward,
    )


def comparison_costs(sizes: Sequence[int], output_elementwise: bool = True) -> list[MethodCost]:
    """The network at hand, a deeper and a wider version of it, and the book's MNIST networks."""
    sizes = list(sizes)
    hidden = sizes[1:-1] or [sizes[0]]
    out = [method_cost(sizes, output_elementwise, "this one")]
    out.append(
        method_cost([sizes[0], *hidden, hidden[-1], sizes[-1]], output_elementwise, "deeper")
    )
    out.append(
        method_cost([sizes[0], *[2 * h for h in hidden], sizes[-1]], output_elementwise, "wider")
    )
    for book, note in (
        ([784, 30, 10], "book ch. 1"),
        ([784, 100, 10], "book ch. 3"),
        ([784, 30, 30, 30, 30, 10], "book ch. 5"),
    ):
        if book != sizes:
            out.append(method_cost(book, output_elementwise, note))
    return out
