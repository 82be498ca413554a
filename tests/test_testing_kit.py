"""deltaw.testing catches broken plugins and says which check failed, where, and by how much."""

import numpy as np
import pytest
from pydantic import BaseModel, Field

import deltaw
from deltaw.plugins.activations import Sigmoid, Softmax, Tanh
from deltaw.plugins.costs import CrossEntropy, LogLikelihood, Quadratic
from deltaw.plugins.optimizers import SGD, Adam
from deltaw.plugins.regularizers import L2
from deltaw.testing import (
    check_activation,
    check_cost,
    check_initializer,
    check_optimizer,
    check_regularizer,
)

# every finite-difference failure says by how much
ERR = r"relative error \d\.\de[+-]\d\d, tolerance 1e-0\d"

# -- activations -------------------------------------------------------------------------------


class SlightlyWrongDerivative(Sigmoid):
    def derivative(self, z, a):
        return 1.06 * a * (1.0 - a)


class SoftmaxWithoutTheCrossTerm(Softmax):
    def backward(self, z, a, grad):
        return a * grad  # forgets −⟨g, a⟩: only the diagonal of the Jacobian


class SoftmaxClaimingToBeElementwise(Softmax):
    elementwise = True

    def derivative(self, z, a):
        return a * (1.0 - a)  # the diagonal; the Jacobian's off-diagonal terms are lost


class Upcasting(Tanh):
    def forward(self, z):
        return np.tanh(z.astype(np.float64))


class Mutating(Tanh):
    def forward(self, z):
        np.tanh(z, out=z)
        return z.copy()


class NaiveSigmoid(Sigmoid):
    def forward(self, z):
        return 1.0 / (1.0 + np.exp(-z))


class RowSum(Tanh):
    def forward(self, z):
        return np.tanh(z).sum(axis=1)


def test_a_wrong_derivative_is_reported_with_its_index_value_and_error():
    pattern = (
        r"^check_activation\(SlightlyWrongDerivative\): derivative at z\[\d,\d\]=-?[\d.]+ is "
        r"[\d.]+ "
        rf"but finite differences give [\d.]+ \({ERR}\)$"
    )
    with pytest.raises(AssertionError, match=pattern):
        check_activation(SlightlyWrongDerivative())


def test_a_wrong_vector_jacobian_product_is_caught_against_the_fd_jacobian():
    pattern = (
        r"check_activation\(SoftmaxWithoutTheCrossTerm\): backward \(vector–Jacobian product\) at "
        rf"z\[\d,\d\].*finite differences of the Jacobian.*{ERR}"
    )
    with pytest.raises(AssertionError, match=pattern):
        check_activation(SoftmaxWithoutTheCrossTerm)


def test_an_activation_wrongly_declared_elementwise_is_caught():
    with pytest.raises(
        AssertionError, match=r"declares elementwise = True but a\[\d,\d\] changes with z\[\d,\d\]"
    ):
        check_activation(SoftmaxClaimingToBeElementwise)


class TanhWithAForeignBackward(Tanh):
    """Declares elementwise (inherited) but its backward is not derivative · g."""

    def backward(self, z, a, grad):
        return grad * (1.0 - a * a) + 1e-3 * np.abs(grad)


class TanhOnlyBackward(deltaw.Activation):
    """Forgets to say elementwise = False: backward only, no derivative."""

    def forward(self, z):
        return np.tanh(z)

    def backward(self, z, a, grad):
        return grad * (1.0 - a * a)


class TanhClaimingNotElementwise(Tanh):
    """Says elementwise = False but keeps the elementwise backward of the base class."""

    elementwise = False


class ReLUWithAnotherSubgradient(deltaw.Activation):
    """σ'(0) = 0 in derivative but 1 in backward: agrees everywhere except at the kink."""

    kinks = (0.0,)

    def forward(self, z):
        return np.maximum(z, 0.0)

    def derivative(self, z, a):
        return (z > 0).astype(z.dtype)

    def backward(self, z, a, grad):
        return grad * (z >= 0)


@pytest.mark.parametrize(
    "cls, pattern",
    [
        (
            TanhWithAForeignBackward,
            r"declares elementwise = True, so backward\(z, a, g\) must equal "
            r"derivative\(z, a\) \* g \(the network may use either\), "
            r"but at z\[\d,\d\]=-?[\d.]+ \(float64\) backward gives -?[\d.e-]+ "
            r"and derivative \* g gives -?[\d.e-]+ \(relative error .*\); "
            r"drop the backward override, or set elementwise = False",
        ),
        (
            ReLUWithAnotherSubgradient,
            r"declares elementwise = True, .* at z\[0,0\]=0 \(float64\) backward gives",
        ),
        (
            TanhOnlyBackward,
            r"declares elementwise = True \(the default\) but does not implement "
            r"derivative\(z, a\)",
        ),
        (
            TanhClaimingNotElementwise,
            r"declares elementwise = False but does not override backward"
            r".*vector–Jacobian product",
        ),
    ],
    ids=["foreign-backward", "subgradient", "no-derivative", "false-without-backward"],
)
def test_an_elementwise_flag_that_disagrees_with_backward_is_caught(cls, pattern):
    with pytest.raises(AssertionError, match=rf"^check_activation\({cls.__name__}\): {pattern}"):
        check_activation(cls)


def test_a_non_elementwise_activation_is_checked_against_finite_differences_of_forward():
    check_activation(Softmax)  # overrides backward, and its gᵀJ matches the FD Jacobian
    with pytest.raises(AssertionError, match=r"backward \(vector–Jacobian product\)"):
        check_activation(SoftmaxWithoutTheCrossTerm)


def test_an_activation_that_changes_the_dtype_is_caught():
    with pytest.raises(
        AssertionError,
        match=r"check_activation\(Upcasting\): forward returned float64 for float32 inputs",
    ):
        check_activation(Upcasting)


def test_an_activation_that_mutates_its_input_is_caught():
    with pytest.raises(AssertionError, match=r"forward changed its input z \(float64\)"):
        check_activation(Mutating)


def test_an_activation_returning_the_wrong_shape_is_caught():
    with pytest.raises(AssertionError, match=r"forward returned shape \(6,\) .* expected \(6, 5\)"):
        check_activation(RowSum)


def test_an_overflowing_activation_is_caught_at_large_z_and_can_be_exempted():
    with pytest.raises(
        AssertionError,
        match=r"NaiveSigmoid\): forward at z=\[-1000.0, .*\] \(float64\) warned overflow",
    ):
        check_activation(NaiveSigmoid)
    check_activation(NaiveSigmoid, extreme=None)


class HardTanh(deltaw.Activation):
    kinks = (-1.0, 1.0)

    def forward(self, z):
        return np.clip(z, -1.0, 1.0)

    def derivative(self, z, a):
        return (np.abs(z) < 1.0).astype(z.dtype)


def test_an_activation_with_declared_kinks_is_checked_away_from_them():
    check_activation(HardTanh)


class NeedsAName(deltaw.Regularizer):
    class Params(BaseModel):
        label: str

    def penalty(self, weights, n):
        return 0.0

    def gradient(self, w, n):
        return np.zeros_like(w)


def test_a_class_is_checked_at_settings_drawn_from_its_params_even_without_defaults():
    check_activation(Sigmoid)
    check_regularizer(L2)  # lmbda is required: its values come from its bound ge=0
    with pytest.raises(TypeError, match=r"NeedsAName.Params.label is required .* pass an instance"):
        check_regularizer(NeedsAName)
    check_regularizer(NeedsAName(label="x"))


# -- costs ---------------------------------------------------------------------------------------


class DoubledGradient(Quadratic):
    def gradient(self, a, y):
        return 2.0 * (a - y)


class GradientDividedByBatch(Quadratic):
    def gradient(self, a, y):
        return (a - y) / len(a)


class SummedValue(Quadratic):
    def value(self, a, y):
        return float(0.5 * np.sum((a - y) ** 2))


class WrongFusedDelta(CrossEntropy):
    def output_delta(self, z, a, y, activation):
        if isinstance(activation, Sigmoid):
            return (a - y) * a * (1.0 - a)  # the quadratic cost's δ, not cross-entropy's
        return super().output_delta(z, a, y, activation)


@pytest.mark.parametrize("cls", [DoubledGradient, GradientDividedByBatch])
def test_a_wrong_cost_gradient_is_reported_with_index_and_error(cls):
    with pytest.raises(
        AssertionError,
        match=rf"check_cost\({cls.__name__}\): gradient at a\[\d,\d\]=.* finite differences of "
        rf"m·value give .*{ERR}",
    ):
        check_cost(cls)


def test_a_value_summed_instead_of_averaged_over_rows_is_caught():
    with pytest.raises(
        AssertionError, match=r"value\(a, y\) = .* but the mean of the per-row values is"
    ):
        check_cost(SummedValue)


def test_a_fused_output_delta_that_disagrees_with_the_generic_path_is_caught():
    with pytest.raises(
        AssertionError,
        match=r"WrongFusedDelta\): output_delta at z\[\d,\d\]=.*with Sigmoid outputs\) is .* "
        r"but finite differences of m·value\(forward\(z\)\) give .*relative error",
    ):
        check_cost(WrongFusedDelta)


class SlowCrossEntropy(CrossEntropy):
    """Fused δ = a − y with a sigmoid is right; gradient is off by a factor 1.5."""

    def gradient(self, a, y):
        return 1.5 * super().gradient(a, y)


def test_a_wrong_gradient_behind_a_right_fused_delta_is_named_cost_gradient():
    with pytest.raises(AssertionError) as exc:
        check_cost(SlowCrossEntropy)
    message = str(exc.value)
    assert message.startswith(
        "check_cost(SlowCrossEntropy): Cost.gradient is wrong: gradient at a["
    ), message
    assert "(y=" in message and "with Sigmoid outputs) is " in message
    assert "The fused output_delta with Sigmoid outputs is right" in message
    assert "output_delta at" not in message


def test_costs_are_only_paired_with_outputs_in_their_domain():
    check_cost(LogLikelihood)  # sigmoid and identity outputs are skipped: they aren't distributions
    with pytest.raises(
        ValueError, match=r"outputs of Tanh \(real\) don't fit the cost's domain 'unit'"
    ):
        check_cost(CrossEntropy, output_activations=[Tanh()])


# -- optimizers ------------------------------------------------------------------------------------


class NotInPlace(SGD):
    def update(self, param, grad, state, step, lr):
        param = param - lr * grad  # rebinds the name; the caller's array never changes


class MutatesGrad(SGD):
    def update(self, param, grad, state, step, lr):
        grad *= lr
        param -= grad


class Uphill(SGD):
    def update(self, param, grad, state, step, lr):
        param += lr * grad


class Float64State(Adam):
    def init(self, param):
        return {"exp_avg": np.zeros(param.shape), "exp_avg_sq": np.zeros(param.shape)}


class HiddenCounter(Adam):
    """Counts steps itself instead of using ``step``: the count is lost in a checkpoint."""

    t = 0

    def update(self, param, grad, state, step, lr):
        self.t += 1
        super().update(param, grad, state, self.t, lr)


class CounterInState(SGD):
    def init(self, param):
        return {"t": 0}

    def update(self, param, grad, state, step, lr):
        param -= lr * grad


class NoLearningRate(deltaw.Optimizer):
    class Params(BaseModel):
        beta: float = Field(0.9)

    def update(self, param, grad, state, step, lr):
        param -= lr * grad


@pytest.mark.parametrize(
    ("cls", "pattern"),
    [
        (
            NotInPlace,
            r"5 update steps \(float64\) left param unchanged; update must change param in place",
        ),
        (MutatesGrad, r"after update step 1 \(float64\): update changed grad"),
        (
            Uphill,
            r"200 steps at lr=0.001 did not decrease the convex quadratic .* f went from [\d.]+ to "
            r"[\d.]+",
        ),
        (Float64State, r"after init \(float32\) state\['exp_avg'\] is float64 for a float32 param"),
        (
            HiddenCounter,
            r"resuming from a state saved with np.savez after step 3 gives a different param .* "
            r"\(max \|difference\| \d\.\de[+-]\d\d\)",
        ),
        (
            CounterInState,
            r"after init \(float64\) state\['t'\] is int; the state must hold numpy arrays only",
        ),
        (NoLearningRate, r"Params must have a positive `lr` field"),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_a_broken_optimizer_is_caught_by_the_check_that_names_its_fault(cls, pattern):
    with pytest.raises(AssertionError, match=rf"^check_optimizer\({cls.__name__}.*\): {pattern}"):
        check_optimizer(cls)


# -- initializers and regularizers ----------------------------------------------------------------


class HeNormalOnFanOut(deltaw.Initializer):
    def weights(self, fan_in, fan_out, rng):
        return rng.normal(0.0, np.sqrt(2.0 / fan_out), (fan_in, fan_out))


class OwnRandomness(deltaw.Initializer):
    def weights(self, fan_in, fan_out, rng):
        return np.random.default_rng().standard_normal((fan_in, fan_out))


class Transposed(deltaw.Initializer):
    def weights(self, fan_in, fan_out, rng):
        return rng.standard_normal((fan_out, fan_in))


def test_an_initializer_with_the_wrong_variance_is_caught_by_the_moment_check():
    pattern = (
        r"sample variance of weights\(500, 200\) is [\d.]+ but expected 0.004 \(relative error .*; "
        r"[\d.]+ standard errors off, tolerance 5\)"
    )
    with pytest.raises(AssertionError, match=pattern):
        check_initializer(
            HeNormalOnFanOut, expected_mean=0.0, expected_var=lambda fan_in, fan_out: 2.0 / fan_in
        )


def test_an_initializer_not_drawing_from_the_rng_passed_in_is_caught():
    with pytest.raises(AssertionError, match="different weights for the same seed"):
        check_initializer(OwnRandomness)


def test_an_initializer_returning_the_wrong_shape_is_caught():
    with pytest.raises(
        AssertionError, match=r"weights\(3, 7\) returned \(7, 3\), expected shape \(3, 7\)"
    ):
        check_initializer(Transposed)


class L2WithoutTheHalf(L2):
    def gradient(self, w, n):
        return (2.0 * self.params.lmbda / n) * w


def test_a_regularizer_gradient_that_does_not_match_its_penalty_is_caught():
    with pytest.raises(
        AssertionError,
        match=r"check_regularizer\(L2WithoutTheHalf\(lmbda=5.0\)\): gradient of weights\[0\] at "
        rf"\[\d,\d\] .* finite differences of penalty .*{ERR}",
    ):
        check_regularizer(L2WithoutTheHalf(lmbda=5.0))
