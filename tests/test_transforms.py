"""Each built-in transform against its paper's formula, rewritten independently in plain numpy."""

import math

import numpy as np
import pytest

import deltaw
from deltaw.core.chain import Chain
from deltaw.plugins.optimizers import SGD, Adam
from deltaw.plugins.transforms import (
    AddNoise,
    Centralize,
    ClipGlobalNorm,
    ClipValue,
    Lookahead,
    Scale,
)
from deltaw.registry import Registry

SHAPES = [(4, 3), (3,), (3, 2), (2,)]  # W₁, b₁, W₂, b₂ of a [4, 3, 2] network


def arrays(seed, scale=1.0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [(scale * rng.standard_normal(s)).astype(dtype) for s in SHAPES]


def run_gradient_transform(t, grads, step=1):
    params = arrays(99)
    states = [t.init(p) for p in params]
    return t.apply_all([g.copy() for g in grads], states, params, step)


def test_every_builtin_transform_is_registered_documented_and_keeps_dtype():
    reg = Registry()
    reg.load_builtins()
    names = reg.names("transform")
    assert names == [
        "add-noise",
        "centralize",
        "clip-global-norm",
        "clip-value",
        "lookahead",
        "scale",
    ]
    samples = {"clip-global-norm": {"max_norm": 0.1}, "clip-value": {"max_value": 0.1}}
    samples["scale"] = {"factor": 0.5}
    for name in names:
        cls = reg.entry("transform", name).cls
        assert issubclass(cls, deltaw.Transform) and cls.__doc__.strip()
        t = cls(**samples.get(name, {}))
        for dtype in (np.float32, np.float64):
            grads, params = arrays(1, dtype=dtype), arrays(2, dtype=dtype)
            states = [t.init(p) for p in params]
            assert all(v.dtype == dtype for s in states for v in s.values())
            if t.acts_on == "gradient":
                out = t.apply_all(grads, states, params, 5)
                assert all(g.dtype == dtype and g.shape == s for g, s in zip(out, SHAPES))
            else:
                t.after_update_all(params, states, 5)
                assert all(p.dtype == dtype for p in params)


# -- clipping (Pascanu et al. 2013; optax clip_by_global_norm, clip) -------------------------


def test_clip_global_norm_scales_all_arrays_by_one_factor_when_their_joint_norm_is_too_big():
    grads = arrays(3)
    per_array = [math.sqrt(float(np.sum(g * g))) for g in grads]
    total = math.sqrt(sum(n * n for n in per_array))  # ‖g‖ of all arrays as one vector
    max_norm = max(per_array) * 1.01  # every array alone is below it, together they are not
    assert total > max_norm
    out = run_gradient_transform(ClipGlobalNorm(max_norm=max_norm), grads)
    for g, o in zip(grads, out):
        np.testing.assert_allclose(o, g * (max_norm / total), rtol=1e-15)
    joint = math.sqrt(sum(float(np.sum(o * o)) for o in out))
    assert joint == pytest.approx(max_norm, rel=1e-14)


def test_clip_global_norm_leaves_gradients_below_the_norm_alone():
    grads = arrays(4)
    total = math.sqrt(sum(float(np.sum(g * g)) for g in grads))
    out = run_gradient_transform(ClipGlobalNorm(max_norm=total * 1.001), grads)
    assert all(np.array_equal(o, g) for o, g in zip(out, grads))


def test_clip_value_clips_every_entry():
    grads = arrays(5, scale=3.0)
    out = run_gradient_transform(ClipValue(max_value=0.7), grads)
    for g, o in zip(grads, out):
        expected = np.where(g > 0.7, 0.7, np.where(g < -0.7, -0.7, g))
        assert np.array_equal(o, expected)


# -- gradient centralization (Yong et al. 2020, eq. 1) ---------------------------------------


def test_centralize_subtracts_each_output_units_mean_from_its_weight_gradients_only():
    grads = arrays(6, scale=2.0)
    out = run_gradient_transform(Centralize(), grads)
    for g, o in zip(grads, out):
        if g.ndim == 1:
            assert np.array_equal(o, g)  # biases untouched
            continue
        n_in, n_out = g.shape
        for j in range(n_out):  # column j: the weights into output unit j
            mean = sum(g[i, j] for i in range(n_in)) / n_in
            for i in range(n_in):
                assert o[i, j] == pytest.approx(g[i, j] - mean, abs=1e-15)
        np.testing.assert_allclose(o.sum(axis=0), 0.0, atol=1e-14)


# -- gradient noise (Neelakantan et al. 2015) ------------------------------------------------


@pytest.mark.parametrize("eta,gamma,step", [(0.01, 0.55, 1), (0.3, 0.55, 50), (1.0, 1.0, 7)])
def test_add_noise_has_the_papers_annealed_variance(eta, gamma, step):
    """σₜ² = η/(1 + t)^γ with t = step − 1 updates before this one."""
    t = AddNoise(eta=eta, gamma=gamma, seed=3)
    zeros = [np.zeros((400, 250)), np.zeros(1000)]  # 101 000 draws
    out = t.apply_all(zeros, [{}, {}], zeros, step)
    noise = np.concatenate([o.ravel() for o in out])
    variance = eta / (1 + (step - 1)) ** gamma
    # the sample variance of n normals has relative standard error √(2/n) ≈ 0.0045
    assert np.var(noise) == pytest.approx(variance, rel=0.02)
    assert abs(np.mean(noise)) < 5 * math.sqrt(variance / noise.size)


def test_add_noise_depends_only_on_seed_and_step_so_a_resumed_run_adds_the_same():
    grads = arrays(7)
    long_run, fresh = AddNoise(seed=5), AddNoise(seed=5)
    for step in range(1, 8):
        mid = run_gradient_transform(long_run, grads, step)
    again = run_gradient_transform(fresh, grads, 7)  # a new process starting at step 7
    assert all(np.array_equal(a, b) for a, b in zip(mid, again))
    other_step = run_gradient_transform(fresh, grads, 6)
    other_seed = run_gradient_transform(AddNoise(seed=6), grads, 7)
    assert not np.array_equal(other_step[0], again[0])
    assert not np.array_equal(other_seed[0], again[0])


def test_add_noise_draws_in_the_gradients_dtype():
    out = run_gradient_transform(AddNoise(eta=1.0), arrays(8, dtype=np.float32))
    assert all(o.dtype == np.float32 for o in out)


def test_scale_multiplies():
    grads = arrays(9)
    out = run_gradient_transform(Scale(factor=-0.25), grads)
    assert all(np.array_equal(o, -0.25 * g) for o, g in zip(out, grads))


# -- Lookahead (Zhang et al. 2019, Algorithm 1) ----------------------------------------------


def quadratic_grads(params, A):
    """∇ of ½ Σ θᵀAθ over every array flattened: gradients that depend on where θ is."""
    return [(A[: p.size, : p.size] @ p.ravel()).reshape(p.shape) for p in params]


def lookahead_reference(params0, A, inner, k, alpha, outer_steps):
    """Algorithm 1, written as the paper does: outer loop over slow weights, k inner steps each."""
    phi = [p.copy() for p in params0]  # slow weights φ
    state = [inner.init(p) for p in params0]
    t = 0  # the inner optimizer's global step counter
    for _ in range(outer_steps):
        theta = [p.copy() for p in phi]  # θ_{t,0} ← φ_{t−1}
        for _ in range(k):
            t += 1
            for p, g, s in zip(theta, quadratic_grads(theta, A), state):
                inner.update(p, g, s, t, 0.05)
        phi = [f + alpha * (th - f) for f, th in zip(phi, theta)]  # φ_t = φ + α(θ_{t,k} − φ)
    return phi


@pytest.mark.parametrize("k,alpha", [(5, 0.5), (3, 0.8), (1, 0.3)])
@pytest.mark.parametrize("inner", [SGD, Adam], ids=["sgd", "adam"])
def test_lookahead_matches_the_papers_algorithm_for_25_steps(k, alpha, inner):
    rng = np.random.default_rng(10)
    q, _ = np.linalg.qr(rng.standard_normal((12, 12)))
    A = q @ np.diag(np.linspace(0.5, 3.0, 12)) @ q.T
    params0 = arrays(11)
    steps = 25 - 25 % k  # whole outer loops: 25 steps, or the multiple of k just below
    expected = lookahead_reference(params0, A, inner(), k, alpha, steps // k)

    chain = Chain([inner(), Lookahead(k=k, alpha=alpha)])
    params = [p.copy() for p in params0]
    states = [chain.init(p) for p in params]
    for step in range(1, steps + 1):
        chain.update_all(params, quadratic_grads(params, A), states, step, [0.05] * len(params))
    for p, e in zip(params, expected):
        np.testing.assert_allclose(p, e, rtol=1e-13, atol=1e-15)
    for s, e in zip(states, expected):  # the slow weights are the state, for checkpoints
        np.testing.assert_allclose(s["1.slow"], e, rtol=1e-13, atol=1e-15)


def test_lookahead_between_synchronisations_leaves_the_fast_weights_to_the_rule():
    p = np.array([1.0, 2.0])
    t = Lookahead(k=4, alpha=0.5)
    state = t.init(p)
    p += 1.0  # the rule's step
    t.after_update(p, state, 3)
    assert np.array_equal(p, [2.0, 3.0]) and np.array_equal(state["slow"], [1.0, 2.0])
    t.after_update(p, state, 4)
    assert np.array_equal(p, [1.5, 2.5]) and np.array_equal(state["slow"], [1.5, 2.5])
