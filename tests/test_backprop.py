"""Tests of dlmath.backprop: the hand-written loss gradients against optax, dlmath.losses
and jax.grad (float64); stability at huge logits; the one rule for class ids (concrete ids
out of range raise, NaN under jit); empty inputs; and every error path of loss_and_grad."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from dlmath import backprop, layers, losses
from dlmath.testing import relative_error

KEY = jax.random.key(0)


def _net(n=6, sizes=(5, 4, 3), dtype=jnp.float64):
    kp, kx, ky = jax.random.split(KEY, 3)
    params = layers.init_mlp(kp, sizes, scheme="xavier", dtype=dtype)
    x = jax.random.normal(kx, (n, sizes[0]), dtype)
    y = jax.random.randint(ky, (n,), 0, sizes[-1])
    return params, x, y


def test_loss_values_and_gradients_match_optax_and_losses_mse():
    with jax.enable_x64(True):
        params, x, y = _net()
        logits = layers.mlp(params, x)
        value, g = backprop.cross_entropy_and_grad(logits, y)
        ref = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, y))
        assert abs(float(value) - float(ref)) < 1e-13
        g_ref = jax.grad(lambda z: jnp.mean(
            optax.softmax_cross_entropy_with_integer_labels(z, y)))(logits)
        assert relative_error(g, g_ref) < 1e-13          # the 1/N included
        t = jnp.ones_like(logits)
        value, g = backprop.mse_and_grad(logits, t)
        assert abs(float(value) - float(losses.mse(logits, t))) < 1e-13
        assert relative_error(g, jax.grad(losses.mse)(logits, t)) < 1e-13   # the 2 included


def test_loss_and_grad_equals_jax_value_and_grad():
    with jax.enable_x64(True):
        params, x, y = _net()
        for act in ("sigmoid", layers.TANH, "relu"):
            value, grads = backprop.loss_and_grad(params, x, y, activation=act)
            ref_v, ref_g = jax.value_and_grad(lambda p, a=act: jnp.mean(
                optax.softmax_cross_entropy_with_integer_labels(
                    layers.mlp(p, x, activation=a), y)))(params)
            assert abs(float(value) - float(ref_v)) < 1e-13
            flat = lambda t: jnp.concatenate([v.ravel() for v in jax.tree_util.tree_leaves(t)])  # noqa: E731
            assert relative_error(flat(grads), flat(ref_g)) < 1e-12


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
    with pytest.raises(ValueError, match="cross_entropy_and_grad: .* holds no example"):
        backprop.cross_entropy_and_grad(jnp.zeros((0, 3)), jnp.zeros((0,), jnp.int32))
    with pytest.raises(ValueError, match="K >= 1"):
        backprop.cross_entropy_and_grad(jnp.zeros((2, 0)), jnp.zeros((2,), jnp.int32))


def test_errors_on_bad_input():
    params, x, y = _net(dtype=jnp.float32)
    logits = layers.mlp(params, x)
    with pytest.raises(TypeError, match="integer class ids"):
        backprop.cross_entropy_and_grad(logits, y.astype(jnp.float32))
    with pytest.raises(ValueError, match=r"labels must have shape \(N,\) = \(6,\)"):
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
