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
    with pytest.raises(ValueError, match="l2_penalty: mask must have the pytree structure"):
        regularization.l2_penalty(p, 1.0, mask={"w": True})
    with pytest.raises(TypeError, match="l2_penalty: the leaves of mask must be Python bools"):
        regularization.l2_penalty(p, 1.0, mask={"w": 1, "b": 0})
    with pytest.raises(TypeError, match="l2_penalty: every leaf of params must be a floating"):
        regularization.l2_penalty({"w": jnp.ones(2, jnp.int32)}, 1.0)
