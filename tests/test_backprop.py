"""Tests of dlmath.backprop: the hand-written loss gradients against optax, dlmath.losses
and jax.grad (float64); stability at huge logits; the one rule for class ids (concrete ids
out of range raise, NaN under jit); empty inputs; and every error path of loss_and_grad."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.flatten_util import ravel_pytree

from dlmath import activations, backprop, layers, losses
from dlmath.testing import in_float64, relative_error, verify

KEY = jax.random.key(0)


def _net(n=6, sizes=(5, 4, 3), dtype=jnp.float64):
    kp, kx, ky = jax.random.split(KEY, 3)
    params = layers.init_mlp(kp, sizes, scheme="glorot", dtype=dtype)
    x = jax.random.normal(kx, (n, sizes[0]), dtype)
    y = jax.random.randint(ky, (n,), 0, sizes[-1])
    return params, x, y


def _optax_mean_ce(logits, y):
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, y))


# In both tests the reference loss is verify's function, so its jax.grad is the gradient the
# hand-written one must equal; differencing the reference itself (optax's, dlmath.losses') adds
# nothing, hence finite_differences=False and check_grads_order=None.

def test_loss_values_and_gradients_match_optax_and_losses_mse():
    params, x, y = in_float64(_net)
    logits = in_float64(layers.mlp, params, x)
    ce = lambda z: backprop.cross_entropy_and_grad(z, y)  # noqa: E731
    verify(lambda z: _optax_mean_ce(z, y), [logits], peer=lambda z: ce(z)[0],   # the 1/N included
           peer_name="backprop", grad=lambda z: ce(z)[1], rtol=1e-14, finite_differences=False,
           check_grads_order=None)
    t = np.ones_like(logits)
    mse = lambda p: backprop.mse_and_grad(p, t)  # noqa: E731
    verify(lambda p: losses.mse(p, t), [logits], peer=lambda p: mse(p)[0],      # the 2 included
           peer_name="backprop", grad=lambda p: mse(p)[1], rtol=1e-14, finite_differences=False,
           check_grads_order=None)


def test_loss_and_grad_equals_jax_value_and_grad():
    params, x, y = in_float64(_net)
    flat, unravel = in_float64(ravel_pytree, params)   # verify differentiates one array
    ours = lambda f, a: backprop.loss_and_grad(unravel(f), x, y, activation=a)  # noqa: E731
    for act in ("sigmoid", activations.TANH, "relu"):
        verify(lambda f, a=act: _optax_mean_ce(layers.mlp(unravel(f), x, activation=a), y),
               [flat], peer=lambda f, a=act: ours(f, a)[0], peer_name="backprop",
               grad=lambda f, a=act: ravel_pytree(ours(f, a)[1])[0], rtol=1e-14,
               finite_differences=False, check_grads_order=None)


def test_cross_entropy_and_grad_is_stable_for_huge_logits():
    logits = jnp.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]], jnp.float32)
    value, g = backprop.cross_entropy_and_grad(logits, jnp.array([1, 1]))
    assert np.isfinite(float(value)) and np.all(np.isfinite(np.asarray(g)))
    assert abs(float(value) - 1e4) < 1.0  # example 0: log-likelihood -2e4, example 1: 0


def test_class_ids_of_any_width_and_the_out_of_range_rule():
    logits = jnp.zeros((2, 300), jnp.float32)
    value, _ = backprop.cross_entropy_and_grad(logits, jnp.array([5, 100], jnp.uint8))
    assert float(value) == pytest.approx(np.log(300), rel=1e-6)
    with pytest.raises(ValueError, match=r"cross_entropy_and_grad: class ids must lie in \[0, K\)"):
        backprop.cross_entropy_and_grad(jnp.zeros((2, 3)), jnp.array([0, 3]))
    with pytest.raises(ValueError, match="class ids must lie"):
        backprop.cross_entropy_and_grad(jnp.zeros((2, 3)), jnp.array([-1, 0]))
    value, g = jax.jit(backprop.cross_entropy_and_grad)(jnp.zeros((2, 3)), jnp.array([0, 3]))
    assert np.isnan(float(value))                       # never a silent loss of 0
    assert np.all(np.isnan(np.asarray(g[1]))) and np.all(np.isfinite(np.asarray(g[0])))
    params, x, _ = _net(dtype=jnp.float32)
    with pytest.raises(ValueError, match=r"loss_and_grad: class ids must lie .* targets\[5\] = 7"):
        backprop.loss_and_grad(params, x, jnp.array([0, 1, 2, 0, 1, 7]))


def test_empty_inputs_raise():
    with pytest.raises(ValueError, match="mse_and_grad: predictions .* has no element"):
        backprop.mse_and_grad(jnp.zeros((0, 3)), jnp.zeros((0, 3)))
    with pytest.raises(ValueError, match=r"cross_entropy_and_grad: logits \(N, K\) has no "
                                         r"examples \(N = 0\)"):
        backprop.cross_entropy_and_grad(jnp.zeros((0, 3)), jnp.zeros((0,), jnp.int32))
    with pytest.raises(ValueError, match=r"cross_entropy_and_grad: logits .* has no classes"):
        backprop.cross_entropy_and_grad(jnp.zeros((2, 0)), jnp.zeros((2,), jnp.int32))


def test_errors_on_bad_input():
    params, x, y = _net(dtype=jnp.float32)
    logits = layers.mlp(params, x)
    with pytest.raises(TypeError, match="integer class ids"):
        backprop.cross_entropy_and_grad(logits, y.astype(jnp.float32))
    with pytest.raises(ValueError, match=r"labels must have shape \(\*B,\) = \(6,\)"):
        backprop.cross_entropy_and_grad(logits, y[:3])
    with pytest.raises(ValueError, match=r"logits must have shape \(N, K\)"):
        backprop.cross_entropy_and_grad(logits[0], y)
    with pytest.raises(TypeError, match="cross_entropy_and_grad: logits must be a floating"):
        backprop.cross_entropy_and_grad(logits.astype(jnp.complex64), y)
    with pytest.raises(ValueError, match="targets must have the shape"):
        backprop.mse_and_grad(x, x[:, :2])
    with pytest.raises(TypeError, match="mse_and_grad: predictions must be a floating"):
        backprop.mse_and_grad(x.astype(jnp.int32), x)
    with pytest.raises(TypeError, match="mse_and_grad: targets must hold real"):
        backprop.mse_and_grad(x, x.astype(jnp.complex64))
    with pytest.raises(ValueError, match="loss must be one of"):
        backprop.loss_and_grad(params, x, y, loss="hinge")
    with pytest.raises(ValueError, match="loss_and_grad: targets must have the shape"):
        backprop.loss_and_grad(params, x, y, loss="mse")
    with pytest.raises(ValueError, match="loss_and_grad: targets must have shape"):
        backprop.loss_and_grad(params, x, y[:2])
    with pytest.raises(ValueError, match="loss_and_grad: x must have shape"):
        backprop.loss_and_grad(params, x[:, :2], y)
    with pytest.raises(TypeError, match="loss_and_grad: targets must be integer class ids"):
        backprop.loss_and_grad(params, x, y.astype(jnp.float32))
    with pytest.raises(ValueError, match="loss_and_grad: activation must be one of"):
        backprop.loss_and_grad(params, x, y, activation="swish")


def test_the_mean_losses_start_from_the_gradients_beside_their_losses():
    params, x, y = _net(dtype=jnp.float32)
    logits = layers.mlp(params, x)
    value, g = backprop.cross_entropy_and_grad(logits, y)
    np.testing.assert_array_equal(
        value, jnp.mean(losses.softmax_cross_entropy_with_integer_labels(logits, y)))
    np.testing.assert_array_equal(
        g, losses.softmax_cross_entropy_with_integer_labels_gradient(logits, y) / 6)
    t = jnp.ones_like(logits)
    value, g = backprop.mse_and_grad(logits, t)
    np.testing.assert_array_equal(value, losses.mse(logits, t))
    np.testing.assert_array_equal(g, losses.mse_gradient(logits, t))


def test_loss_and_grad_casts_float_targets_to_the_parameters_dtype():
    params, x, _ = _net(dtype=jnp.float32)
    t = np.ones((6, 3), np.float64)
    value, grads = backprop.loss_and_grad(params, x, t, loss="mse")
    assert value.dtype == jnp.float32 and grads[0]["w"].dtype == jnp.float32
    ref_v, ref_g = jax.value_and_grad(lambda p: losses.mse(layers.mlp(p, x),
                                                           jnp.asarray(t, jnp.float32)))(params)
    assert abs(float(value) - float(ref_v)) < 1e-6
    assert relative_error(grads[0]["w"], ref_g[0]["w"]) < 1e-5
