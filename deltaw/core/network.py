"""A feed-forward network of dense layers, with the forward and backward passes.

Batches are rows. Layer l holds ``W[l]`` of shape ``(n_in, n_out)`` and ``b[l]``
of shape ``(n_out,)``; ``z = a_prev @ W + b`` and ``a = σ(z)``. The backward
pass is the four equations of backpropagation (Nielsen, ch. 2), in matrix form
over the whole mini-batch:

* BP1  δᴸ = ∇ₐC ⊙ σ'(zᴸ)                 (``cost.output_delta``; costs may fuse it)
* BP2  δˡ = (δˡ⁺¹ Wˡ⁺¹ᵀ) ⊙ σ'(zˡ)          (``activation.backward`` unless ``uses_derivative``)
* BP3  ∂C/∂bˡ = δˡ                        (mean over the rows)
* BP4  ∂C/∂Wˡ = aˡ⁻¹ᵀ δˡ                   (mean over the rows)
* with dropout, BP2 is δˡ = (δˡ⁺¹ Wˡ⁺¹ᵀ ⊙ σ'(zˡ)) ⊙ maskˡ and BP4 uses ãˡ⁻¹ = aˡ⁻¹ ⊙ maskˡ⁻¹

:meth:`Network.backward` has one path: it writes ∂C/∂W and ∂C/∂b into
buffers, the caller's (:meth:`Network.gradient_buffers`, so training
allocates no gradients) or ones it allocates when given none. Speed without
changing the math, in two small helpers: δᴸ is divided by m once, in place
when it is a fresh array (:func:`_batch_mean`), so BP3 and BP4 give batch
means directly; and for an elementwise σ that keeps the base ``backward``
(:func:`deltaw.core.base.uses_derivative`) BP2 multiplies σ'(z) into the
fresh ``δ Wᵀ`` product in place (:func:`_bp2`). ``Wᵀ`` and ``aᵀ`` are
transposed views that BLAS reads as they are (no copies); products use
``np.dot``, which costs less per call than ``@`` on small matrices and
refuses to cast into an ``out`` array of another dtype (no float64 δ silently
absorbed by float32 gradients).

Dropout (``dropout``, one rate per hidden layer; :mod:`deltaw.core.dropout`)
changes only training: :meth:`Network.backprop_dropout` runs the forward pass
with every hidden activation multiplied by its mask (ãˡ = aˡ ⊙ maskˡ, kept
units scaled by 1/p) and the backward pass with the same masks
(:meth:`Network.backward_dropout`). :meth:`feedforward`, :meth:`forward` and
:meth:`backprop` never drop a unit: evaluation, gradient checks and
explanations see the whole network, which inverted scaling makes right as it is.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deltaw.core.base import Activation, Array, Cost, Initializer, uses_derivative
from deltaw.core.dropout import dropout_rates

Gradients = tuple[list[Array], list[Array]]  # (nabla_w, nabla_b)


class Network:
    """Dense layers ``sizes[0] → sizes[1] → … → sizes[-1]`` with one activation per layer.

    ``dropout`` is the fraction of hidden units dropped in training: one rate
    for every hidden layer, or a list with one per hidden layer (0 ≤ rate < 1).
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activations: Sequence[Activation],
        dtype: np.dtype | str = np.float64,
        dropout: float | Sequence[float] = 0.0,
    ) -> None:
        if len(sizes) < 2:
            raise ValueError("a network needs at least an input and an output layer")
        if len(activations) != len(sizes) - 1:
            raise ValueError(
                f"{len(sizes) - 1} layers need {len(sizes) - 1} activations, got {len(activations)}"
            )
        self.sizes = [int(s) for s in sizes]
        self.activations = list(activations)
        self.dtype = np.dtype(dtype)
        self.weights: list[Array] = [
            np.zeros((i, o), self.dtype) for i, o in zip(self.sizes[:-1], self.sizes[1:])
        ]
        self.biases: list[Array] = [np.zeros(o, self.dtype) for o in self.sizes[1:]]
        self.dropout = dropout_rates(dropout, len(self.sizes) - 2)  # per hidden layer

    @property
    def num_layers(self) -> int:
        """Number of weight layers (``len(sizes) - 1``)."""
        return len(self.weights)

    def initialize(
        self, initializer: Initializer | Sequence[Initializer], rng: np.random.Generator
    ) -> None:
        """Draw every W and b from ``initializer`` (one, or one per layer), cast to the network's
        dtype."""
        inits = (
            list(initializer)
            if isinstance(initializer, Sequence)
            else [initializer] * self.num_layers
        )
        for l, (init, fan_in, fan_out) in enumerate(zip(inits, self.sizes[:-1], self.sizes[1:])):
            self.weights[l] = np.ascontiguousarray(
                init.weights(fan_in, fan_out, rng), dtype=self.dtype
            )
            self.biases[l] = np.ascontiguousarray(init.biases(fan_out, rng), dtype=self.dtype)
            if self.weights[l].shape != (fan_in, fan_out) or self.biases[l].shape != (fan_out,):
                raise ValueError(
                    f"{type(init).__name__} returned shapes {self.weights[l].shape}, "
                    f"{self.biases[l].shape}; "
                    f"expected {(fan_in, fan_out)} and {(fan_out,)}"
                )

    def params(self) -> list[Array]:
        """Every parameter array, in the order W₁, b₁, W₂, b₂, …"""
        return [p for wb in zip(self.weights, self.biases) for p in wb]

    def gradient_buffers(self, dtype: np.dtype | str | None = None) -> Gradients:
        """Zeroed ``(nabla_w, nabla_b)`` shaped like the weights and biases, for ``backward(out=)``.

        In the network's dtype, or ``dtype`` when given.
        """
        return (
            [np.zeros_like(W, dtype=dtype) for W in self.weights],
            [np.zeros_like(b, dtype=dtype) for b in self.biases],
        )

    def feedforward(self, x: Array) -> Array:
        """The output activations for the rows of ``x`` (all rows in one pass)."""
        a = x
        for W, b, act in zip(self.weights, self.biases, self.activations):
            z = np.dot(a, W)
            z += b  # z = a W + b
            a = act.forward(z)  # a = σ(z)
        return a

    def forward(self, x: Array) -> tuple[list[Array], list[Array]]:
        """``(zs, activations)``: every weighted input and every activation (``activations[0] =
        x``)."""
        zs, acts = [], [x]
        for W, b, act in zip(self.weights, self.biases, self.activations):
            z = np.dot(acts[-1], W)
            z += b  # z = a W + b
            zs.append(z)
            acts.append(act.forward(z))  # a = σ(z)
        return zs, acts

    def backprop(self, x: Array, y: Array, cost: Cost, out: Gradients | None = None) -> Gradients:
        """``(nabla_w, nabla_b)``: ∂C/∂W and ∂C/∂b, each the mean over the rows of ``x``.

        With ``out`` (from :meth:`gradient_buffers`) the gradients are written
        into those arrays and ``out`` is returned; otherwise they are new arrays.
        """
        zs, acts = self.forward(x)
        return self.backward(zs, acts, y, cost, out)

    def backward(
        self, zs: list[Array], acts: list[Array], y: Array, cost: Cost, out: Gradients | None = None
    ) -> Gradients:
        """BP1–BP4 given a forward pass's ``zs`` and ``acts`` (``out`` as in :meth:`backprop`).

        Without ``out``, buffers are allocated here, in the dtype of δᴸ (the
        network's, unless the inputs came in another), and filled the same way.
        """
        W, sigma = self.weights, self.activations
        # BP1  δᴸ = ∇ₐC ⊙ σ'(zᴸ), divided by m so BP3 and BP4 give batch means
        delta = _batch_mean(cost.output_delta(zs[-1], acts[-1], y, sigma[-1]), zs, acts, y)
        nabla_w, nabla_b = out if out is not None else self.gradient_buffers(delta.dtype)
        _same_dtype(delta, nabla_w[-1], cost, "output_delta")
        for l in range(self.num_layers - 1, -1, -1):
            np.add.reduce(delta, axis=0, out=nabla_b[l])  # BP3  ∂C/∂bˡ = δˡ
            np.dot(acts[l].T, delta, out=nabla_w[l])  # BP4  ∂C/∂Wˡ = aˡ⁻¹ᵀ δˡ
            if l:  # BP2  δˡ = (δˡ⁺¹ Wˡ⁺¹ᵀ) ⊙ σ'(zˡ)
                delta = _bp2(sigma[l - 1], zs[l - 1], acts[l], np.dot(delta, W[l].T))
        return nabla_w, nabla_b

    # -- training with dropout --------------------------------------------------------------
    def forward_dropout(
        self, x: Array, masks: Sequence[Array], dropped: Sequence[Array] | None = None
    ) -> tuple[list[Array], list[Array], list[Array]]:
        """``(zs, activations, inputs)`` of a training pass whose hidden units are masked.

        ``masks[l]`` multiplies hidden layer l's activations (1/p kept, 0 dropped);
        ``activations`` are the unmasked aˡ (σ' needs them), ``inputs`` what each
        weight layer received: x, then ãˡ = aˡ ⊙ maskˡ, written into ``dropped[l]``
        when given (buffers of :class:`~deltaw.core.dropout.DropoutMasks`).
        """
        zs, acts, inputs = [], [x], [x]
        hidden = len(masks)
        for l, (W, b, act) in enumerate(zip(self.weights, self.biases, self.activations)):
            z = np.dot(inputs[-1], W)
            z += b  # z = ã W + b
            zs.append(z)
            acts.append(act.forward(z))  # a = σ(z)
            if l < hidden:  # ã = a ⊙ mask: dropped units 0, kept ones × 1/p
                inputs.append(np.multiply(acts[-1], masks[l], out=dropped[l] if dropped else None))
        return zs, acts, inputs

    def backprop_dropout(
        self,
        x: Array,
        y: Array,
        cost: Cost,
        masks: Sequence[Array],
        dropped: Sequence[Array] | None = None,
        out: Gradients | None = None,
    ) -> Gradients:
        """:meth:`backprop` with dropout: the gradient of the thinned network the masks pick."""
        zs, acts, inputs = self.forward_dropout(x, masks, dropped)
        return self.backward_dropout(zs, acts, inputs, masks, y, cost, out)

    def backward_dropout(
        self,
        zs: list[Array],
        acts: list[Array],
        inputs: list[Array],
        masks: Sequence[Array],
        y: Array,
        cost: Cost,
        out: Gradients | None = None,
    ) -> Gradients:
        """BP1–BP4 through the masks of :meth:`forward_dropout` (the same masks).

        A dropped unit passes nothing forward, so it gets no error back: BP2
        multiplies ∂C/∂ãˡ by the mask before σ', and BP4 uses the masked inputs.
        """
        W, sigma = self.weights, self.activations
        # BP1  δᴸ = ∇ₐC ⊙ σ'(zᴸ), divided by m (the output layer has no mask)
        delta = _batch_mean(cost.output_delta(zs[-1], acts[-1], y, sigma[-1]), zs, acts, y)
        nabla_w, nabla_b = out if out is not None else self.gradient_buffers(delta.dtype)
        _same_dtype(delta, nabla_w[-1], cost, "output_delta")
        for l in range(self.num_layers - 1, -1, -1):
            np.add.reduce(delta, axis=0, out=nabla_b[l])  # BP3  ∂C/∂bˡ = δˡ
            np.dot(inputs[l].T, delta, out=nabla_w[l])  # BP4  ∂C/∂Wˡ = ãˡ⁻¹ᵀ δˡ
            # BP2 with dropout: δˡ = ((wˡ⁺¹)ᵀ δˡ⁺¹ ⊙ σ'(zˡ)) ⊙ maskˡ, in rows (δˡ⁺¹ Wˡ⁺¹ᵀ);
            # the mask goes on ∂C/∂ãˡ before σ', which is the same for an elementwise σ
            # and right for any other (its vector–Jacobian product sees ∂C/∂aˡ)
            if l:
                grad = np.dot(delta, W[l].T)  # ∂C/∂ãˡ
                grad *= masks[l - 1]  # ∂C/∂aˡ = ∂C/∂ãˡ ⊙ maskˡ
                delta = _bp2(sigma[l - 1], zs[l - 1], acts[l], grad)
        return nabla_w, nabla_b


def _batch_mean(delta: Array, zs: list[Array], acts: list[Array], y: Array) -> Array:
    """δᴸ / m: in place when δᴸ is a fresh array the cost or activation handed back.

    A copy instead when it may be an array someone else holds: the targets,
    aᴸ or zᴸ themselves, a view of another array, or a read-only one.
    """
    if (
        delta.base is None
        and delta.flags.writeable
        and not (delta is y or delta is acts[-1] or delta is zs[-1])
    ):
        delta *= 1.0 / len(y)
        return delta
    return delta * (1.0 / len(y))


def _bp2(act: Activation, z: Array, a: Array, grad: Array) -> Array:
    """δ = ∂C/∂z of a hidden layer from ``grad`` = ∂C/∂a = δˡ⁺¹ Wˡ⁺¹ᵀ, a fresh product.

    On the fast path (:func:`~deltaw.core.base.uses_derivative`) σ'(z) is
    multiplied into ``grad`` in place; otherwise the activation's ``backward``
    (its vector–Jacobian product) computes δ.
    """
    if uses_derivative(act):
        grad *= act.derivative(z, a)  # ⊙ σ'(zˡ)
        return grad
    delta = act.backward(z, a, grad)  # (∂C/∂a) · ∂a/∂z, row by row
    _same_dtype(delta, grad, act, "backward")
    return delta


def _same_dtype(delta: Array, like: Array, plugin: object, method: str) -> None:
    """A plugin bug, said plainly: δ must keep the network's dtype to go into its gradient
    buffers."""
    if delta.dtype != like.dtype:
        raise TypeError(
            f"{type(plugin).__name__}.{method} returned a {delta.dtype} δ in a {like.dtype} "
            "network; a plugin must keep the dtype of its inputs (float32 stays float32)"
        )
