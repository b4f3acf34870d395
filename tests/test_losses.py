"""Unit tests of dlmath.losses.mse (the cross-entropies are tested in their own file)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dlmath import losses
from dlmath.testing import in_float64, verify

SHAPES = [(), (1,), (7,), (4, 5), (2, 3, 4)]


def _pair(shape, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return rng.normal(size=shape).astype(dtype), rng.normal(size=shape).astype(dtype)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_mse_equals_numpy_mean_squared_error(shape):
    p, t = _pair(shape)
    assert in_float64(losses.mse, p, t).shape == ()
    verify(losses.mse, [p, t], peer=lambda p, t: np.mean((np.asarray(p) - np.asarray(t)) ** 2),
           peer_name="numpy", rtol=1e-15)


def test_mse_float32_and_integer_targets():
    p = np.array([1.5, -0.5, 2.0], np.float32)
    t = np.array([1, 0, 3], np.int32)
    got = losses.mse(jnp.asarray(p), jnp.asarray(t))
    assert got.dtype == jnp.float32
    assert float(got) == pytest.approx((0.25 + 0.25 + 1.0) / 3, rel=1e-6)


@pytest.mark.parametrize("shape", [(7,), (4, 5)], ids=str)
def test_mse_gradient_is_two_residuals_over_n(shape):
    p, t = _pair(shape, seed=1)
    verify(losses.mse, [p, t], grad=lambda p, t: 2 * (p - t) / p.size, rtol=1e-15)


def test_mse_check_grads():
    # verify runs jax.test_util.check_grads to order 2, forward and reverse, in both arguments
    p, t = _pair((3, 4), seed=2)
    verify(losses.mse, [p, t], finite_differences=False, check_grads_order=2, fd_rtol=1e-6)


def test_mse_shape_mismatch_is_an_error_not_a_broadcast():
    p = jnp.zeros((3,))
    t = jnp.zeros((3, 1))
    # broadcasting would silently average a (3, 3) matrix of differences
    with pytest.raises(ValueError) as info:
        losses.mse(p, t)
    msg = str(info.value)
    assert msg.startswith("mse:")
    assert "targets (3, 1)" in msg and "predictions (3,)" in msg
    with pytest.raises(ValueError, match=r"targets \(3,\), predictions \(3, 1\)"):
        losses.mse(t, p)
    with pytest.raises(ValueError):
        losses.mse(jnp.zeros((2, 3)), jnp.zeros((3, 2)))


def test_mse_refuses_integer_predictions():
    with pytest.raises(TypeError, match="mse: predictions"):
        losses.mse(jnp.arange(3), jnp.zeros(3))


def test_mse_refuses_non_real_targets():
    with pytest.raises(TypeError, match="mse: targets"):
        losses.mse(jnp.zeros(2), jnp.zeros(2, jnp.complex64))


@pytest.mark.parametrize("shape", [(0,), (2, 0)], ids=str)
@pytest.mark.parametrize("name", ["mse", "mse_gradient"])
def test_mse_refuses_empty_input(shape, name):
    with pytest.raises(ValueError, match=f"{name}: predictions .* has no element"):
        getattr(losses, name)(jnp.zeros(shape), jnp.zeros(shape))


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_mse_gradient_is_autodiff_of_mse_and_the_formula(shape):
    from dlmath.formulas.regression import MSE_GRADIENT

    p, t = _pair(shape, seed=4)
    n = max(p.size, 1)
    # mse_gradient against jax.grad (shapes must agree), jax.grad against the derived formula
    verify(losses.mse, [p, t], grad=losses.mse_gradient, rtol=1e-15,
           grad_reference=lambda p, t: MSE_GRADIENT.reference(p.ravel(), t.ravel(),
                                                              jnp.arange(n), n))


def test_mse_gradient_checks_as_mse():
    with pytest.raises(ValueError, match=r"mse_gradient: targets .* \(3, 1\)"):
        losses.mse_gradient(jnp.zeros(3), jnp.zeros((3, 1)))
    with pytest.raises(TypeError, match="mse_gradient: predictions"):
        losses.mse_gradient(jnp.arange(3), jnp.zeros(3))
    assert losses.mse_gradient(jnp.zeros(3, jnp.float16), jnp.arange(3)).dtype == jnp.float16


def test_mse_works_inside_jit_and_checks_while_tracing():
    p, t = _pair((5,), seed=3, dtype=np.float32)

    @jax.jit
    def loss(p, t):
        return 3.0 * losses.mse(p, t)

    assert float(loss(p, t)) == pytest.approx(3.0 * float(np.mean((p - t) ** 2)), rel=1e-5)
    # the static shape check still fires under jit
    with pytest.raises(ValueError, match="mse:"):
        loss(p, t[:, None])
    # and under grad of jit
    g = jax.jit(jax.grad(losses.mse))(p, t)
    np.testing.assert_allclose(np.asarray(g), 2 * (p - t) / p.size, rtol=1e-5, atol=1e-7)
