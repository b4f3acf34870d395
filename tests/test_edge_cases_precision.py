"""Low precision and zero epsilons: where a reduction in float16 would overflow, or an
``eps = 0`` would divide 0 by 0, dlmath gives the right number (the package's rules in the
docstring of ``dlmath._checks``: reductions in at least float32, ``eps >= 0`` with 0/0 = 0).

The ``eps = 0`` test is driven by the bad-input table (``bad_input_cases.SPECS``): every
public function with an ``eps`` hyper-parameter, so a new one is covered when it joins.
"""

from __future__ import annotations

import bad_input_cases as bic
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_bad_input import invoke

from dlmath import activations, information, losses, normalization, optim
from dlmath.testing import in_float64

EPS_SPECS = [s for s in bic.SPECS if "eps" in s.hypers]


def test_the_table_has_every_eps():
    names = {s.name for s in EPS_SPECS}
    assert {"normalization.batch_norm", "normalization.layer_norm", "normalization.rms_norm",
            "optim.adam", "optim.rmsprop", "transformer.transformer_block"} <= names


@pytest.mark.parametrize("spec", EPS_SPECS, ids=[f"{s.name}{s.tag}" for s in EPS_SPECS])
def test_eps_zero_on_constant_input_is_finite(spec):
    """eps = 0 with every data array (not the parameters) zero: a constant row, a batch
    statistic of 0, a zero gradient history. 0/0 is 0, so the result is finite."""
    kwargs = spec.build(spec.sizes_(), np.random.default_rng(0))
    kwargs["eps"] = 0.0
    for path, a in spec.arrays.items():
        if a.kind == "float" and not a.param and not a.positive:
            x = bic.get(kwargs, path)
            kwargs = bic.put(kwargs, path, np.zeros_like(np.asarray(x)))
    leaves = jax.tree_util.tree_leaves(invoke(spec, kwargs))
    assert leaves and all(bool(np.all(np.isfinite(np.asarray(v, np.float64))))
                          for v in leaves if np.issubdtype(np.asarray(v).dtype, np.floating))


def test_eps_zero_keeps_the_documented_values():
    """The batch of one gives the bias; a zero gradient gives no step; a nonzero gradient
    with eps = 0 is the sign step of Adam's first update."""
    bias = jnp.arange(3.0)
    one = jnp.ones((1, 3))
    np.testing.assert_array_equal(normalization.batch_norm(one, jnp.ones(3), bias, eps=0.0)[0],
                                  bias)
    np.testing.assert_array_equal(normalization.layer_norm(one, jnp.ones(3), bias, eps=0.0)[0],
                                  bias)
    for opt in (optim.adam(0.1, eps=0.0), optim.rmsprop(0.1, eps=0.0),
                optim.rmsprop(0.1, eps=0.0, eps_in_sqrt=False)):
        params = jnp.ones(2)
        updates, _ = opt.update(jnp.asarray([0.0, 2.0]), opt.init(params), params)
        assert float(updates[0]) == 0.0 and np.isfinite(float(updates[1]))
    updates, _ = optim.adam(0.1, eps=0.0).update(jnp.asarray([0.0, -2.0]),
                                                 optim.adam(0.1).init(jnp.ones(2)))
    np.testing.assert_allclose(updates, [0.0, 0.1], rtol=1e-5)  # the bias correction rounds


def _norms(x, scale, bias):
    return (normalization.layer_norm(x, scale, bias), normalization.rms_norm(x, scale),
            normalization.batch_norm(x, scale, bias))


def test_normalisations_reduce_float16_in_float32():
    """|x - mu| = 300: its square (90000) is beyond float16's 65504. The float16 results
    are the float32 ones rounded (flax reduces in float32 too)."""
    x = jnp.asarray([[300.0, -300.0, 0.0], [-300.0, 300.0, 0.0]])
    scale, bias = jnp.ones(3), jnp.zeros(3)
    ref = _norms(x, scale, bias)
    got = _norms(x.astype(jnp.float16), scale.astype(jnp.float16), bias.astype(jnp.float16))
    for r, g in zip(ref, got, strict=True):
        assert g.dtype == jnp.float16
        np.testing.assert_allclose(np.asarray(g, np.float32), r, rtol=2e-3, atol=1e-3)
    # the gradient at a constant row is finite (it was NaN: 0 * inf in float16)
    row = jnp.full((2, 3), 7.0, jnp.float16)
    grad = jax.grad(lambda z: normalization.layer_norm(z, scale.astype(jnp.float16),
                                                       bias.astype(jnp.float16))
                    .astype(jnp.float32).sum())(row)
    assert bool(jnp.all(jnp.isfinite(grad)))


@pytest.mark.parametrize("name", ["gelu", "silu", "sigmoid"])
def test_float16_activation_gradients_at_the_range_limit(name):
    """At +-6e4 (float16's range ends at 65504) the gradient is the float64 one rounded."""
    fn = getattr(activations, name)
    x = np.asarray([-6e4, -300.0, -12.0, 0.5, 12.0, 300.0, 6e4])
    grad16 = jax.vmap(jax.grad(lambda z: fn(z)))(jnp.asarray(x, jnp.float16))
    grad64 = in_float64(lambda z: jax.vmap(jax.grad(lambda t: fn(t)))(z), x)
    np.testing.assert_allclose(np.asarray(grad16, np.float64), grad64, rtol=2e-3, atol=1e-4)


def test_mse_and_its_gradient_in_float16_at_the_range_limit():
    """Residuals of 6e4: their squares (3.6e9) overflow float16, their mean gradient
    2 r / N does not; both are the float64 values rounded to float16."""
    p = np.asarray([6e4, -6e4, 3e4, 0.0])
    t = np.asarray([0.0, 0.0, -3e4, 1.0])
    g16 = jax.grad(lambda a: losses.mse(a, jnp.asarray(t, jnp.float16)).astype(jnp.float32))(
        jnp.asarray(p, jnp.float16))
    np.testing.assert_allclose(np.asarray(g16, np.float64), 2 * (p - t) / p.size, rtol=1e-3)
    hand = losses.mse_gradient(jnp.asarray(p, jnp.float16), jnp.asarray(t, jnp.float16))
    np.testing.assert_allclose(np.asarray(hand, np.float64), 2 * (p - t) / p.size, rtol=1e-3)
    small = np.asarray([300.0, -200.0])  # squares beyond 65504, mean 65000 within range
    value = losses.mse(jnp.asarray(small, jnp.float16), jnp.zeros(2, jnp.float16))
    assert value.dtype == jnp.float16
    assert float(value) == pytest.approx(np.mean(small**2), rel=1e-3)


def test_cross_entropy_gradient_where_p_and_q_are_zero():
    """A class with p = q = 0 contributes 0 and sends no 0/0 into either gradient."""
    p, q = jnp.asarray([0.0, 0.25, 0.75]), jnp.asarray([0.0, 0.5, 0.5])
    gp, gq = jax.grad(information.cross_entropy, (0, 1))(p, q)
    assert bool(jnp.all(jnp.isfinite(gp))) and bool(jnp.all(jnp.isfinite(gq)))
    np.testing.assert_allclose(gq[1:], -p[1:] / q[1:], rtol=1e-6)
    assert float(information.cross_entropy(p, q)) == pytest.approx(
        -(0.25 * np.log(0.5) + 0.75 * np.log(0.5)))


def test_softmax_cross_entropy_is_exact_where_a_zero_label_meets_minus_infinity():
    """The plain sum -sum y log p is NaN where y = 0 meets log p = -inf; that batch is
    recomputed with 0 log 0 = 0, in value and gradient."""
    z = jnp.asarray([[0.0, -jnp.inf, 1.0], [1.0, 2.0, 3.0]])
    y = jnp.asarray([[0.5, 0.0, 0.5], [0.2, 0.3, 0.5]])
    value = losses.softmax_cross_entropy(z, y)
    finite = losses.softmax_cross_entropy(z[:, [0, 2]], y[:, [0, 2]])
    np.testing.assert_allclose(value[0], finite[0], rtol=1e-6)
    gz, gy = jax.grad(lambda a, b: losses.softmax_cross_entropy(a, b).sum(), (0, 1))(z, y)
    assert bool(jnp.all(jnp.isfinite(gz))) and bool(jnp.all(jnp.isfinite(gy)))
    assert float(gz[0, 1]) == 0.0 and float(gy[0, 1]) == 0.0
