"""Unit tests of dlmath.regularization.l2_penalty: value, gradient lambda*theta, masks."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dlmath import optim, regularization


def _params():
    return {"w": jnp.array([[1.0, -2.0], [3.0, 0.5]]), "b": jnp.array([4.0, -1.0])}


def test_value_and_gradient():
    p = _params()
    value = regularization.l2_penalty(p, 0.3)
    assert float(value) == pytest.approx(0.15 * (1 + 4 + 9 + 0.25 + 16 + 1))
    g = jax.grad(lambda q: regularization.l2_penalty(q, 0.3))(p)
    np.testing.assert_allclose(g["w"], 0.3 * p["w"])
    np.testing.assert_allclose(g["b"], 0.3 * p["b"])


def test_mask_leaves_out_the_biases_and_a_callable_mask_works():
    p = _params()
    mask = {"w": True, "b": False}
    assert float(regularization.l2_penalty(p, 2.0, mask=mask)) == pytest.approx(14.25)
    assert float(regularization.l2_penalty(p, 2.0, mask=lambda q: mask)) == pytest.approx(14.25)
    g = jax.grad(lambda q: regularization.l2_penalty(q, 2.0, mask=mask))(p)
    np.testing.assert_array_equal(g["b"], jnp.zeros(2))


def test_a_prefix_mask_selects_as_optax_masks_do():
    """A mask may be a prefix of params (one bool for a whole layer), as optax's masks: the
    gradient of the penalty is optax.add_decayed_weights with the same mask."""
    import optax

    p = {"layer": _params(), "out": {"w": jnp.array([1.0, 2.0]), "b": jnp.array(3.0)}}
    mask = {"layer": {"w": True, "b": False}, "out": True}
    g = jax.grad(lambda q: regularization.l2_penalty(q, 0.3, mask=mask))(p)
    decay = optax.add_decayed_weights(0.3, mask=mask)
    decayed, _ = decay.update(jax.tree_util.tree_map(jnp.zeros_like, p), decay.init(p), p)
    for a, b in zip(jax.tree_util.tree_leaves(g), jax.tree_util.tree_leaves(decayed),
                    strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert float(regularization.l1_penalty(p, 1.0, mask={"layer": False, "out": True})) == \
        pytest.approx(6.0)


def test_under_sgd_the_penalty_is_weight_decay():
    # one SGD step on the penalty alone shrinks every weight by the factor (1 - eta * lambda)
    p = _params()
    g = jax.grad(lambda q: regularization.l2_penalty(q, 0.5))(p)
    u, _ = optim.sgd(0.1).update(g, optim.sgd(0.1).init(p))
    new = optim.apply_updates(p, u)
    np.testing.assert_allclose(new["w"], (1 - 0.1 * 0.5) * p["w"], rtol=1e-6)


def test_traced_strength_and_dtype():
    p = {"w": jnp.ones(3, jnp.float16)}
    out = jax.jit(lambda l2: regularization.l2_penalty(p, l2))(0.5)
    assert out.dtype == jnp.float16 and float(out) == pytest.approx(0.75)


def test_errors():
    p = _params()
    with pytest.raises(ValueError, match=r"l2_penalty: l2 must be a finite number in \[0, inf\)"):
        regularization.l2_penalty(p, -1.0)
    with pytest.raises(ValueError, match="l2_penalty: l2"):
        regularization.l2_penalty(p, float("nan"))
    with pytest.raises(TypeError, match="l2_penalty: l2 must be a real number"):
        regularization.l2_penalty(p, True)
    with pytest.raises(ValueError, match="l2_penalty: mask must be a pytree with the structure "
                                         "of params, or a prefix of it"):
        regularization.l2_penalty(p, 1.0, mask={"w": True})
    with pytest.raises(TypeError, match="l2_penalty: the leaves of mask must be Python bools"):
        regularization.l2_penalty(p, 1.0, mask={"w": 1, "b": 0})
    with pytest.raises(TypeError, match="l2_penalty: every leaf of params must be a floating"):
        regularization.l2_penalty({"w": jnp.ones(2, jnp.int32)}, 1.0)


# ---------------------------------------------------------------- L1, soft-thresholding, dropout


def test_l1_penalty_value_gradient_and_mask():
    p = _params()
    assert float(regularization.l1_penalty(p, 0.5)) == pytest.approx(0.5 * (6.5 + 5.0))
    assert float(regularization.l1_penalty(p, 1.0, mask={"w": True, "b": False})) == \
        pytest.approx(6.5)
    g = jax.grad(lambda q: regularization.l1_penalty(q, 0.3))(p)
    np.testing.assert_allclose(g["w"], 0.3 * np.sign(p["w"]))
    with pytest.raises(ValueError, match=r"l1_penalty: l1 must be a finite number in \[0, inf\)"):
        regularization.l1_penalty(p, -0.1)


def test_soft_threshold_is_its_formula_and_the_argmin():
    from dlmath.formulas import normalization as F

    v = jnp.linspace(-3.0, 3.0, 61)
    out = regularization.soft_threshold(v, 0.7)
    np.testing.assert_allclose(out, F.SOFT_THRESHOLD.reference(v, 0.7), atol=1e-6)
    assert int(jnp.sum(out == 0)) == int(jnp.sum(jnp.abs(v) <= 0.7))  # exact zeros
    # the argmin of 1/2 (w - v)^2 + tau |w| over a fine grid of w

    @jax.jit
    def grid_argmin(v):
        w = jnp.linspace(-4.0, 4.0, 8001)
        objective = 0.5 * (w[None] - v[:, None]) ** 2 + 0.7 * jnp.abs(w[None])
        return w[jnp.argmin(objective, axis=1)]

    np.testing.assert_allclose(out, grid_argmin(v), atol=2e-3)


def test_ista_step_finds_a_sparse_lasso_solution():
    # minimise 1/2 ||w - c||^2 + l1 ||w||_1: one proximal step from anywhere with eta = 1
    c = jnp.array([2.0, 0.3, -0.1, -1.5])
    w = jnp.zeros(4)
    grad = w - c
    step = regularization.soft_threshold(w - 1.0 * grad, 1.0 * 0.5)
    np.testing.assert_allclose(step, [1.5, 0.0, 0.0, -1.0])


def test_dropout_mean_variance_formula_and_evaluation():
    from dlmath.formulas import normalization as F

    key = jax.random.key(3)
    x = jnp.full((200_000,), 2.0)
    y = jax.jit(regularization.dropout, static_argnames="deterministic")(key, x, 0.25)
    assert float(y.mean()) == pytest.approx(2.0, rel=0.01)
    assert float(y.var()) == pytest.approx(4.0 * 0.25 / 0.75, rel=0.03)
    kept = np.asarray(y != 0)
    np.testing.assert_allclose(np.asarray(y)[kept], F.DROPOUT.reference(1, 2.0, 0.25), rtol=1e-6)
    np.testing.assert_array_equal(regularization.dropout(key, x, 0.9, deterministic=True), x)
    np.testing.assert_array_equal(regularization.dropout(key, x, 0.0), x)
    again = regularization.dropout(key, x[:10], 0.25)
    np.testing.assert_array_equal(again, regularization.dropout(key, x[:10], 0.25))


def test_dropout_equals_flax_statistics_and_errors():
    import flax.linen as nn

    x = jnp.ones((1000, 8))
    ours = regularization.dropout(jax.random.key(0), x, 0.5)
    theirs = nn.Dropout(0.5).apply({}, x, deterministic=False, rngs={"dropout": jax.random.key(0)})
    # the same kept value 1/(1 - p), dropped 0, and about half of each
    assert set(np.unique(np.asarray(ours))) == set(np.unique(np.asarray(theirs))) == {0.0, 2.0}
    assert abs(float((ours == 0).mean()) - float((theirs == 0).mean())) < 0.03
    with pytest.raises(ValueError, match=r"dropout: rate must be a finite number in \[0, 1\)"):
        regularization.dropout(jax.random.key(0), x, 1.0)
    with pytest.raises(ValueError, match="dropout: rate"):
        regularization.dropout(jax.random.key(0), x, -0.1)
    with pytest.raises(TypeError, match="dropout: key must be a jax.random key"):
        regularization.dropout(0, x, 0.5)
    with pytest.raises(TypeError, match="dropout: key must be a jax.random key"):
        regularization.dropout(None, x, 0.5)
    with pytest.raises(TypeError, match="dropout: deterministic must be a Python bool"):
        regularization.dropout(jax.random.key(0), x, 0.5, deterministic=1)
    # the kernel is the computation alone: the same mask from the same key
    np.testing.assert_array_equal(regularization.dropout.kernel(jax.random.key(0), x, 0.5),
                                  ours)
    with pytest.raises(TypeError, match="dropout: x must be a floating-point array"):
        regularization.dropout(jax.random.key(0), jnp.ones(3, jnp.int32), 0.5)
