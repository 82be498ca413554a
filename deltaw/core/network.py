"""A feed-forward network of dense layers, with the forward and backward passes.

Batches are rows. Layer l holds ``W[l]`` of shape ``(n_in, n_out)`` and ``b[l]``
of shape ``(n_out,)``; ``z = a_prev @ W + b`` and ``a = σ(z)``. The backward
pass is the four equations of backpropagation (Nielsen, ch. 2), in matrix form
over the whole mini-batch:

* BP1  δᴸ = ∇ₐC ⊙ σ'(zᴸ)                 (or the cost's fused ``output_delta``)
* BP2  δˡ = (δˡ⁺¹ Wˡ⁺¹ᵀ) ⊙ σ'(zˡ)          (``activation.backward`` for non-elementwise σ)
* BP3  ∂C/∂bˡ = δˡ                        (mean over the rows)
* BP4  ∂C/∂Wˡ = aˡ⁻¹ᵀ δˡ                   (mean over the rows)

Speed without changing the math: δᴸ is scaled by 1/m once, in place, so BP3
and BP4 give batch means directly; ``Wᵀ`` and ``aᵀ`` are transposed views that
BLAS reads as they are (no copies); products use ``np.dot``, which costs less
per call than ``@`` on small matrices and refuses to cast into an ``out``
array of another dtype (no float64 δ silently absorbed by float32 gradients);
an elementwise σ multiplies σ'(z) into the ``δ Wᵀ`` product in place (BP2
without the generic ``backward`` call); and :meth:`Network.backward` can write
∂C/∂W and ∂C/∂b into arrays the caller keeps (:meth:`Network.gradient_buffers`),
so training allocates no gradients.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deltaw.core.base import Activation, Array, Cost, Initializer

Gradients = tuple[list[Array], list[Array]]  # (nabla_w, nabla_b)


class Network:
    """Dense layers ``sizes[0] → sizes[1] → … → sizes[-1]`` with one activation per layer."""

    def __init__(
        self,
        sizes: Sequence[int],
        activations: Sequence[Activation],
        dtype: np.dtype | str = np.float64,
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

    @property
    def num_layers(self) -> int:
        """Number of weight layers (``len(sizes) - 1``)."""
        return len(self.weights)

    def initialize(
        self, initializer: Initializer | Sequence[Initializer], rng: np.random.Generator
    ) -> None:
        """Draw every W and b from ``initializer`` (one, or one per layer), cast to the network's dtype."""
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
                    f"{type(init).__name__} returned shapes {self.weights[l].shape}, {self.biases[l].shape}; "
                    f"expected {(fan_in, fan_out)} and {(fan_out,)}"
                )

    def params(self) -> list[Array]:
        """Every parameter array, in the order W₁, b₁, W₂, b₂, …"""
        return [p for wb in zip(self.weights, self.biases) for p in wb]

    def gradient_buffers(self) -> Gradients:
        """Zeroed ``(nabla_w, nabla_b)`` shaped like the weights and biases, for ``backward(..., out=)``."""
        return [np.zeros_like(W) for W in self.weights], [np.zeros_like(b) for b in self.biases]

    def feedforward(self, x: Array) -> Array:
        """The output activations for the rows of ``x`` (all rows in one pass)."""
        a = x
        for W, b, act in zip(self.weights, self.biases, self.activations):
            z = np.dot(a, W)
            z += b  # z = a W + b
            a = act.forward(z)  # a = σ(z)
        return a

    def forward(self, x: Array) -> tuple[list[Array], list[Array]]:
        """``(zs, activations)``: every weighted input and every activation (``activations[0] = x``)."""
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
        """The backward pass given a forward pass's ``zs`` and ``acts`` (``out`` as in :meth:`backprop`)."""
        L = self.num_layers
        nabla_w, nabla_b = out if out is not None else ([None] * L, [None] * L)
        delta = cost.output_delta(zs[-1], acts[-1], y, self.activations[-1])  # BP1
        if out is not None:
            _same_dtype(delta, nabla_w[-1], cost, "output_delta")
        if (
            delta.base is None
            and delta.flags.writeable
            and not (delta is y or delta is acts[-1] or delta is zs[-1])
        ):
            delta *= 1.0 / len(
                y
            )  # so BP3/BP4 below give batch means (in place: δᴸ is a fresh array)
        else:
            delta = delta * (1.0 / len(y))
        for l in range(L - 1, -1, -1):
            if out is None:
                nabla_b[l] = delta.sum(axis=0)  # BP3
                nabla_w[l] = acts[l].T @ delta  # BP4
            else:
                np.add.reduce(delta, axis=0, out=nabla_b[l])  # BP3
                np.dot(acts[l].T, delta, out=nabla_w[l])  # BP4
            if l:
                act = self.activations[l - 1]
                grad = np.dot(delta, self.weights[l].T)  # ∂C/∂aˡ = δˡ⁺¹ Wˡ⁺¹ᵀ
                if type(act).backward is Activation.backward:  # elementwise σ: the ⊙ σ'(z) in place
                    grad *= act.derivative(zs[l - 1], acts[l])  # BP2
                    delta = grad
                else:
                    delta = act.backward(zs[l - 1], acts[l], grad)  # BP2 (vector–Jacobian product)
                    if out is not None:
                        _same_dtype(delta, nabla_w[l - 1], act, "backward")
        return nabla_w, nabla_b


def _same_dtype(delta: Array, buffer: Array, plugin: object, method: str) -> None:
    """A plugin bug, said plainly: δ must keep the network's dtype to go into its gradient buffers."""
    if delta.dtype != buffer.dtype:
        raise TypeError(
            f"{type(plugin).__name__}.{method} returned a {delta.dtype} δ in a {buffer.dtype} network; "
            f"a plugin must keep the dtype of its inputs (float32 stays float32)"
        )
