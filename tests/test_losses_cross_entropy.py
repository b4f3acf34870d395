"""Unit tests of the cross-entropy losses in dlmath.losses: values and gradients against
optax, jax.nn and the lambdified formulas; stability at logits of +-1e4 in float32 and
float16; every error path."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from dlmath import losses
from dlmath.formulas import cross_entropy as F
from dlmath.testing import in_float64, verify

BCE = losses.binary_cross_entropy_with_logits
SCE = losses.softmax_cross_entropy
ICE = losses.softmax_cross_entropy_with_integer_labels


def _random(seed, shape_z, k=None, scale=3.0, dtype=None):
    # NumPy draws (no JAX compilation), converted to the current default float type
    rng = np.random.default_rng(seed)
    dtype = dtype or (jnp.float64 if jax.config.jax_enable_x64 else jnp.float32)
    z = jnp.asarray(scale * rng.standard_normal(shape_z), dtype)
    if k is None:  # probabilities, one per element
        return z, jnp.asarray(rng.uniform(size=shape_z), dtype)
    e = rng.exponential(size=shape_z)
    return z, jnp.asarray(e / e.sum(-1, keepdims=True), dtype)  # rows sum to 1


# ---------------------------------------------------------------- exports


def test_mse_is_still_exported():
    assert "mse" in losses.__all__ and callable(losses.mse)


# ---------------------------------------------------------------- values


def test_bce_values_match_optax_jaxnn_and_both_formulas():
    z, y = in_float64(lambda: _random(0, (4, 5)))
    got = in_float64(BCE, z, y)
    assert got.shape == (4, 5) and got.dtype == np.float64
    verify(BCE, [z, y], peer=optax.sigmoid_binary_cross_entropy, peer_name="optax",
           reference=F.BCE_WITH_LOGITS.reference, rtol=1e-13)
    verify(BCE, [z, y], peer_name="jax.nn", rtol=1e-13,
           peer=lambda z, y: -y * jax.nn.log_sigmoid(z) - (1 - y) * jax.nn.log_sigmoid(-z))
    # the definition, -y log(sigma) - (1 - y) log(1 - sigma), loses digits to 1 - sigma
    verify(BCE, [z, y], reference=F.BCE_DEFINITION.reference, rtol=1e-10)


def test_bce_accepts_int_and_bool_targets():
    z = jnp.array([-2.0, 0.5, 3.0])
    want = BCE(z, jnp.array([0.0, 1.0, 1.0]))
    np.testing.assert_allclose(BCE(z, jnp.array([0, 1, 1])), want, rtol=1e-6)
    np.testing.assert_allclose(BCE(z, jnp.array([False, True, True])), want, rtol=1e-6)


def test_softmax_ce_values_match_optax_and_formula():
    z, y = in_float64(lambda: _random(1, (2, 3, 5), k=5))
    assert in_float64(SCE, z, y).shape == (2, 3)
    ref = jax.vmap(jax.vmap(lambda a, b: F.SOFTMAX_CROSS_ENTROPY.reference(a, b, 5)))
    verify(SCE, [z, y], peer=optax.softmax_cross_entropy, peer_name="optax", reference=ref,
           rtol=1e-13)
    verify(SCE, [z, y], peer=lambda z, y: -jnp.sum(y * jax.nn.log_softmax(z), -1),
           peer_name="jax.nn", rtol=1e-13)


def test_integer_ce_values_match_optax_formula_and_one_hot():
    z, _ = in_float64(lambda: _random(2, (4, 3, 6), k=6))
    c = np.random.default_rng(3).integers(0, 6, (4, 3))
    assert in_float64(ICE, z, c).shape == (4, 3)
    ref = jax.vmap(jax.vmap(lambda a, b: F.SOFTMAX_CROSS_ENTROPY_INTEGER.reference(a, b, 6)))
    verify(ICE, [z, c], peer=optax.softmax_cross_entropy_with_integer_labels, peer_name="optax",
           reference=ref, rtol=1e-13)
    verify(ICE, [z, c], peer=lambda z, c: SCE(z, jax.nn.one_hot(c, 6, dtype=z.dtype)),
           peer_name="one-hot", rtol=1e-13)


def test_out_of_range_class_ids_raise_when_concrete_and_give_nan_under_jit():
    z = jnp.array([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0], [0.0, 0.0, 0.0]])
    with pytest.raises(ValueError, match=r"with_integer_labels: class ids must lie in \[0, K\) "
                                         r"= \[0, 3\); got labels\[0\] = -1"):
        ICE(z, jnp.array([-1, 0, 1]))
    with pytest.raises(ValueError, match=r"got labels\[1\] = 3"):
        ICE(z, jnp.array([0, 3, 1]))
    # under jit the values are unknown: the documented rule is NaN for that example and a
    # zero gradient for its row
    c = jnp.array([-1, 3, 1])
    out = jax.jit(ICE)(z, c)
    assert np.isnan(out[0]) and np.isnan(out[1]) and np.isfinite(out[2])
    g = jax.jit(jax.grad(lambda a, c: ICE(a, c)[2] + 0.0 * jnp.nansum(ICE(a, c))))(z, c)
    assert np.all(g[:2] == 0)


@pytest.mark.parametrize("dtype", [jnp.uint8, jnp.int8, jnp.int16, jnp.uint16, jnp.int32])
def test_class_ids_of_every_integer_width_are_widened(dtype):
    # uint8 id 100 with K = 300: the comparison labels < K must not run in uint8
    z = jnp.asarray(np.random.default_rng(0).standard_normal((2, 300)), jnp.float32)
    c = jnp.array([5, 100], dtype)
    want = optax.softmax_cross_entropy_with_integer_labels(z, jnp.array([5, 100]))
    np.testing.assert_allclose(ICE(z, c), want, rtol=1e-6)
    np.testing.assert_allclose(jax.jit(ICE)(z, c), want, rtol=1e-6)


def test_int8_ids_out_of_range_raise_value_error_not_overflow():
    with pytest.raises(ValueError, match=r"got labels\[1\] = -100"):
        ICE(jnp.zeros((2, 300)), jnp.array([5, -100], jnp.int8))


def test_masked_logit_with_label_zero_gives_the_exact_loss_and_finite_gradient():
    # a logit of -inf (an attention-style mask) under a label of 0: 0 log 0 = 0
    z = jnp.array([[-jnp.inf, 0.0, 1.0]])
    y = jnp.array([[0.0, 0.25, 0.75]])
    want = -(0.25 * jax.nn.log_softmax(z[:, 1:])[0, 0] + 0.75 * jax.nn.log_softmax(z[:, 1:])[0, 1])
    np.testing.assert_allclose(SCE(z, y), [want], rtol=1e-6)
    g = jax.grad(lambda a: SCE(a, y)[0])(z)
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g, jax.nn.softmax(z) - y, atol=1e-7)
    # deliberately unlike optax, which gives 0 * (-inf) = NaN here
    assert np.isnan(optax.softmax_cross_entropy(z, y)[0])
    # a one-hot row whose other log-probabilities underflow (float16 at +-6e4): loss 0
    z16 = jnp.array([[6e4, -6e4]], jnp.float16)
    y16 = jnp.array([[1.0, 0.0]], jnp.float16)
    out = SCE(z16, y16)
    assert float(out[0]) == 0.0 and not np.signbit(np.asarray(out, np.float32)[0])
    assert np.all(np.isfinite(np.asarray(jax.grad(lambda a: SCE(a, y16)[0])(z16), np.float32)))


def test_mixed_float_dtypes_follow_jax_promotion():
    z16 = jnp.zeros((2, 3), jnp.float16)
    y32 = jnp.full((2, 3), 1 / 3, jnp.float32)
    assert SCE(z16, y32).dtype == jnp.float32
    assert BCE(z16[:, 0], y32[:, 0]).dtype == jnp.float32
    assert BCE(z16[:, 0], jnp.array([0, 1], jnp.uint8)).dtype == jnp.float16
    assert ICE(z16, jnp.array([0, 2], jnp.uint8)).dtype == jnp.float16


def test_bce_integer_targets_are_0_1_labels():
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits: class ids must lie "
                                         r"in \[0, K\) = \[0, 2\); got targets\[1\] = 2"):
        BCE(jnp.zeros(2), jnp.array([1, 2]))
    out = jax.jit(BCE)(jnp.zeros(2), jnp.array([1, 2]))
    assert np.isfinite(out[0]) and np.isnan(out[1])


def test_sigmoid_binary_cross_entropy_is_optaxs_name_for_the_same_function():
    assert "sigmoid_binary_cross_entropy" in losses.__all__
    z, y = _random(11, (5,))
    z = z.at[0].set(0.0)
    sbce = losses.sigmoid_binary_cross_entropy
    np.testing.assert_array_equal(sbce(z, y), BCE(z, y))
    np.testing.assert_allclose(sbce(z, y), optax.sigmoid_binary_cross_entropy(z, y), rtol=1e-6)
    g = jax.grad(lambda a: jnp.sum(sbce(a, y)))(z)
    np.testing.assert_allclose(g, jax.nn.sigmoid(z) - y, rtol=1e-6, atol=1e-7)  # exact at 0
    with pytest.raises(TypeError, match="sigmoid_binary_cross_entropy: logits must be a floating"):
        sbce(jnp.array([1, 2]), jnp.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"sigmoid_binary_cross_entropy: class ids.*got "
                                         r"labels\[0\] = 3"):
        sbce(jnp.zeros(2), jnp.array([3, 1]))
    # optax's argument name, by keyword
    np.testing.assert_array_equal(sbce(logits=z, labels=y), BCE(z, y))
    with pytest.raises(TypeError, match="sigmoid_binary_cross_entropy: labels must hold real"):
        sbce(z, labels=y.astype(jnp.complex64))


def test_empty_batch_passes_through_as_in_optax():
    assert ICE(jnp.zeros((0, 3)), jnp.zeros((0,), jnp.int32)).shape == (0,)
    assert SCE(jnp.zeros((0, 3)), jnp.zeros((0, 3))).shape == (0,)


def test_everything_works_under_jit_and_vmap():
    z, y = _random(4, (3, 4), k=4)
    z, y = z.astype(jnp.float32), y.astype(jnp.float32)
    np.testing.assert_allclose(jax.jit(SCE)(z, y), SCE(z, y), rtol=1e-6)
    np.testing.assert_allclose(jax.vmap(SCE)(z, y), SCE(z, y), rtol=1e-6)
    c = jnp.array([0, 3, 2])
    np.testing.assert_allclose(jax.jit(ICE)(z, c), ICE(z, c), rtol=1e-6)
    np.testing.assert_allclose(jax.jit(BCE)(z, y), BCE(z, y), rtol=1e-6)


# ---------------------------------------------------------------- gradients


def test_bce_gradient_is_sigmoid_minus_target_including_zero():
    z, y = in_float64(lambda: _random(5, (7,)))
    z = np.concatenate([[0.0], z[1:]])  # the kink of max(z, 0) and |z|: the custom JVP is exact
    bce_sum = lambda z, y: jnp.sum(BCE(z, y))  # noqa: E731
    # in z against sigmoid - y and finite differences; check_grads to order 2 in (z, y)
    verify(bce_sum, [z, y], grad=lambda z, y: jax.nn.sigmoid(z) - y, rtol=1e-14)
    verify(jax.grad(bce_sum), [z, y], peer_name="optax", rtol=1e-14,
           peer=jax.grad(lambda z, y: jnp.sum(optax.sigmoid_binary_cross_entropy(z, y))))
    verify(bce_sum, [z, y], argnum=1, grad=lambda z, y: -z, rtol=1e-14, check_grads_order=None)


def test_softmax_ce_gradient_is_softmax_minus_labels():
    z, y = in_float64(lambda: _random(6, (3, 5), k=5))
    sce_sum = lambda z, y: jnp.sum(SCE(z, y))  # noqa: E731
    verify(sce_sum, [z, y], grad=lambda z, y: jax.nn.softmax(z) - y, rtol=1e-13)
    verify(jax.grad(sce_sum), [z, y], peer_name="optax", rtol=1e-13,
           peer=jax.grad(lambda z, y: jnp.sum(optax.softmax_cross_entropy(z, y))))
    verify(sce_sum, [z, y], argnum=1, grad=lambda z, y: -jax.nn.log_softmax(z), rtol=1e-13,
           check_grads_order=None)


def test_integer_ce_gradient_is_softmax_minus_one_hot():
    z, _ = in_float64(lambda: _random(7, (4, 3), k=3))
    c = np.array([0, 2, 1, 1])
    ice_sum = lambda z: jnp.sum(ICE(z, c))  # noqa: E731
    verify(ice_sum, [z], grad=lambda z: jax.nn.softmax(z) - jax.nn.one_hot(c, 3), rtol=1e-13)
    # forward mode too (jvp of the gather and of the stop_gradient shift)
    t = np.random.default_rng(9).standard_normal(z.shape)
    jvp, g = in_float64(lambda z, t: (jax.jvp(ice_sum, (z,), (t,))[1], jax.grad(ice_sum)(z)),
                        z, t)
    np.testing.assert_allclose(jvp, np.sum(g * t), rtol=1e-12)


# ---------------------------------------------------------------- stability


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float16])
def test_bce_finite_at_huge_logits(dtype):
    z = jnp.array([1e4, -1e4, 1e4, -1e4], dtype)
    y = jnp.array([0.0, 1.0, 1.0, 0.0], dtype)
    loss, g = jax.value_and_grad(lambda a: jnp.sum(BCE(a, y)))(z)
    per = BCE(z, y)
    assert per.dtype == dtype and np.all(np.isfinite(per)) and np.all(np.isfinite(g))
    # the exact values: the wrong side costs |z|, the right side e^{-1e4} = 0 in floats
    np.testing.assert_array_equal(np.asarray(per, np.float64), [1e4, 1e4, 0.0, 0.0])
    np.testing.assert_array_equal(np.asarray(g, np.float64), [1.0, -1.0, 0.0, 0.0])
    assert np.isfinite(loss)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float16])
def test_softmax_ces_finite_at_huge_logits(dtype):
    z = jnp.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4]], dtype)
    y = jnp.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], dtype)
    c = jnp.array([1, 2])
    for f, lab in ((SCE, y), (ICE, c)):
        per, g = f(z, lab), jax.grad(lambda a, f=f, lab=lab: jnp.sum(f(a, lab)))(z)
        assert per.dtype == dtype
        assert np.all(np.isfinite(per)) and np.all(np.isfinite(g)), (f.__name__, per, g)
        # logsumexp is the max (the others are e^{-1e4} = 0 away): exact values
        np.testing.assert_array_equal(np.asarray(per, np.float64), [2e4, 0.0])
        np.testing.assert_array_equal(np.asarray(g, np.float64),
                                      [[1.0, -1.0, 0.0], [0.0, 0.0, 0.0]])


def test_integer_ce_keeps_float16_precision_at_large_equal_logits():
    # log 2 for two equal logits of 1e4: the shift is subtracted before the difference, so
    # no 1e4 + 0.69 - 1e4 cancellation (float16's spacing at 1e4 is 8)
    z = jnp.array([[1e4, 1e4], [1e4, 1e4 - 8]], jnp.float16)
    got = ICE(z, jnp.array([0, 1]))
    want = np.array([np.log(2.0), 8 + np.log1p(np.exp(-8.0))])
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=2e-3)
    np.testing.assert_allclose(np.asarray(SCE(z, jnp.eye(2, dtype=jnp.float16)), np.float64),
                               want, rtol=2e-3)


# ---------------------------------------------------------------- errors


def test_softmax_ce_refuses_integer_labels_with_a_hint():
    with pytest.raises(TypeError, match="softmax_cross_entropy_with_integer_labels"):
        SCE(jnp.zeros((3, 3)), jnp.array([0, 1, 2]))


def test_softmax_ce_refuses_labels_of_another_shape():
    msg = ("softmax_cross_entropy: labels must have the shape of logits (*B, K); got labels "
           "(3,), logits (3, 3). For class ids use softmax_cross_entropy_with_integer_labels.")
    with pytest.raises(ValueError) as e:
        SCE(jnp.zeros((3, 3)), jnp.zeros(3))
    assert str(e.value) == msg
    with pytest.raises(ValueError, match=r"got labels \(1, 3\), logits \(3, 3\)"):
        SCE(jnp.zeros((3, 3)), jnp.zeros((1, 3)))  # would broadcast; refused


def test_integer_ce_refuses_float_labels():
    with pytest.raises(TypeError, match="integer class ids.*softmax_cross_entropy"):
        ICE(jnp.zeros((3, 3)), jnp.array([0.0, 1.0, 2.0]))


def test_integer_ce_refuses_wrong_batch_shape():
    with pytest.raises(ValueError, match=r"labels must have shape \(\*B,\) = \(3,\); got "
                                         r"\(3, 4\)\. labels are one class id per row of logits"):
        ICE(jnp.zeros((3, 4)), jnp.zeros((3, 4), jnp.int32))
    with pytest.raises(ValueError, match=r"got \(2,\)"):
        ICE(jnp.zeros((3, 4)), jnp.array([0, 1]))


def test_logits_must_be_floating_with_a_class_axis():
    with pytest.raises(TypeError, match="logits must be a floating-point array"):
        SCE(jnp.zeros((2, 3), jnp.int32), jnp.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"logits must have shape \(\*B, K\).*got \(\)"):
        ICE(jnp.float32(1.0), jnp.int32(0))
    with pytest.raises(TypeError, match="logits must be a floating-point array"):
        BCE(jnp.array([1, 2]), jnp.array([0.0, 1.0]))


def test_bce_refuses_other_shapes_and_complex_targets():
    with pytest.raises(ValueError, match=r"targets must have the shape of logits \(\*B,\); "
                                         r"got targets \(3, 1\), logits \(3,\)"):
        BCE(jnp.zeros(3), jnp.zeros((3, 1)))
    with pytest.raises(TypeError, match="targets must hold real numbers"):
        BCE(jnp.zeros(2), jnp.zeros(2, jnp.complex64))


def test_non_array_labels_are_named_in_the_error():
    with pytest.raises(TypeError, match="softmax_cross_entropy: labels must be an array"):
        SCE(jnp.zeros((2, 3)), [[0.0, 1.0, 0.0]] * 2)
    with pytest.raises(TypeError, match="with_integer_labels: labels must be an array"):
        ICE(jnp.zeros((2, 3)), [0, 1])
    with pytest.raises(TypeError, match="binary_cross_entropy_with_logits: targets must be an"):
        BCE(jnp.zeros(2), [0.0, 1.0])


# ---------------------------------------------------------------- the hand-written gradients

BCE_GRAD = losses.sigmoid_binary_cross_entropy_gradient
ICE_GRAD = losses.softmax_cross_entropy_with_integer_labels_gradient


def test_bce_gradient_is_autodiff_of_the_loss_optax_and_the_formula():
    z, y = in_float64(lambda: _random(21, (3, 4)))
    z = np.where(np.arange(z.size).reshape(z.shape) == 0, 0.0, z)   # z[0, 0] = 0
    got = in_float64(BCE_GRAD, z, y)
    assert got.shape == z.shape and got.dtype == np.float64
    # the custom JVP is this function: jax.grad of the loss equals it exactly
    verify(lambda z, y: jnp.sum(losses.sigmoid_binary_cross_entropy(z, y)), [z, y], grad=BCE_GRAD,
           rtol=0.0, finite_differences=False, check_grads_order=None)
    verify(BCE_GRAD, [z, y], reference=F.BCE_GRADIENT.reference, peer_name="optax", rtol=1e-15,
           peer=jax.grad(lambda z, y: jnp.sum(optax.sigmoid_binary_cross_entropy(z, y))))


def test_bce_gradient_takes_0_1_labels_and_gives_nan_for_other_ids_under_jit():
    z = jnp.array([-2.0, 0.5, 3.0])
    want = BCE_GRAD(z, jnp.array([0.0, 1.0, 1.0]))
    np.testing.assert_array_equal(BCE_GRAD(z, jnp.array([0, 1, 1], jnp.uint8)), want)
    np.testing.assert_array_equal(BCE_GRAD(z, jnp.array([False, True, True])), want)
    with pytest.raises(ValueError, match=r"sigmoid_binary_cross_entropy_gradient: class ids "
                                         r".*got labels\[2\] = 2"):
        BCE_GRAD(z, jnp.array([0, 1, 2]))
    out = jax.jit(BCE_GRAD)(z, jnp.array([0, 1, 2]))
    assert np.all(np.isfinite(out[:2])) and np.isnan(out[2])


def test_integer_ce_gradient_is_autodiff_of_the_loss_optax_and_the_formula():
    z, _ = in_float64(lambda: _random(22, (2, 3, 5), k=5))
    c = np.random.default_rng(23).integers(0, 5, (2, 3)).astype(np.uint8)
    got = in_float64(ICE_GRAD, z, c)
    assert got.shape == z.shape and got.dtype == np.float64
    verify(lambda z: jnp.sum(ICE(z, c)), [z], grad=lambda z: ICE_GRAD(z, c), rtol=1e-15)
    peer = lambda z: jnp.sum(optax.softmax_cross_entropy_with_integer_labels(  # noqa: E731
        z, c.astype(np.int32)))

    def ref(z):
        return jnp.array([[F.SOFTMAX_CROSS_ENTROPY_INTEGER_GRADIENT.reference(a, k, int(b), 5)
                           for k in range(5)]
                          for a, b in zip(z.reshape(6, 5), c.reshape(6), strict=True)])

    verify(lambda z: ICE_GRAD(z, c), [z], peer=jax.grad(peer), peer_name="optax", reference=ref,
           rtol=1e-15)


def test_integer_ce_gradient_checks_ids_and_gives_a_nan_row_under_jit():
    z = jnp.zeros((2, 3))
    with pytest.raises(ValueError, match=r"with_integer_labels_gradient: class ids .*labels\[1\]"):
        ICE_GRAD(z, jnp.array([0, 3]))
    g = jax.jit(ICE_GRAD)(z, jnp.array([0, 3]))
    assert np.all(np.isfinite(g[0])) and np.all(np.isnan(g[1]))


# ---------------------------------------------------------------- optax's axis and where


def _mask(seed, shape, full_row=None):
    w = np.random.default_rng(seed).random(shape) > 0.35
    w[..., 0] = True
    if full_row is not None:
        w[full_row] = False           # a row with no entry left
    return jnp.asarray(w)


def _grads(f, *args):
    return jax.grad(lambda a, b: jnp.sum(f(a, b)), argnums=(0, 1))(*args)


def test_softmax_ce_where_matches_optax_values_and_gradients():
    # kept: masked entries are compared by index (exact zeros, optax only where w holds)
    with jax.enable_x64(True):
        z, y = _random(24, (4, 6), k=6)
        w = _mask(25, (4, 6), full_row=2)
        got = SCE(z, y, where=w)
        want = optax.softmax_cross_entropy(z, y, where=w)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
        assert float(got[2]) == 0.0
        gz, gy = _grads(lambda a, b: SCE(a, b, where=w), z, y)
        pz, py = _grads(lambda a, b: optax.softmax_cross_entropy(a, b, where=w), z, y)
        np.testing.assert_allclose(gz, pz, rtol=1e-12, atol=1e-15)
        assert np.all(np.asarray(gz)[~np.asarray(w)] == 0)
        # in the labels: optax's at the entries that take part, 0 (not NaN) at masked ones
        np.testing.assert_allclose(np.asarray(gy)[np.asarray(w)], np.asarray(py)[np.asarray(w)],
                                   rtol=1e-12)
        assert np.all(np.asarray(gy)[~np.asarray(w)] == 0)
        # a mask of one flag per example (optax expands it at axis)
        rows = jnp.array([True, False, True, True])
        np.testing.assert_allclose(SCE(z, y, where=rows),
                                   optax.softmax_cross_entropy(z, y, where=rows), rtol=1e-12)
        np.testing.assert_allclose(_grads(lambda a, b: SCE(a, b, where=rows), z, y)[0],
                                   _grads(lambda a, b: optax.softmax_cross_entropy(
                                       a, b, where=rows), z, y)[0], rtol=1e-12, atol=1e-15)


def test_integer_ce_where_matches_optax_values_and_gradients():
    # kept: exact zeros of masked rows and five comparisons under several masks, in one context
    with jax.enable_x64(True):
        z, _ = _random(26, (5, 6), k=6)
        c = jnp.array([0, 3, 0, 5, 0])
        w = _mask(27, (5, 6), full_row=1)
        got = ICE(z, c, where=w)
        want = optax.softmax_cross_entropy_with_integer_labels(z, c, where=w)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
        assert float(got[1]) == 0.0
        g = jax.grad(lambda a: jnp.sum(ICE(a, c, where=w)))(z)
        p = jax.grad(lambda a: jnp.sum(optax.softmax_cross_entropy_with_integer_labels(
            a, c, where=w)))(z)
        assert np.all(np.isfinite(g))
        np.testing.assert_allclose(g, p, rtol=1e-12, atol=1e-15)
        rows = jnp.array([True, False, True, True, False])
        np.testing.assert_allclose(ICE(z, c, where=rows),
                                   optax.softmax_cross_entropy_with_integer_labels(
                                       z, c, where=rows), rtol=1e-12)
        # the unmasked call is unchanged by an all-True mask
        np.testing.assert_allclose(ICE(z, c, where=jnp.ones((5, 6), bool)), ICE(z, c),
                                   rtol=1e-12)


@pytest.mark.parametrize("axis", [0, 1, -2])
def test_class_axis_matches_optax(axis):
    z, _ = in_float64(lambda: _random(28, (4, 5, 3)))
    y = in_float64(lambda x: jax.nn.softmax(x, axis=axis),
                   np.random.default_rng(29).standard_normal(z.shape))
    ours = lambda z, y: SCE(z, y, axis=axis)  # noqa: E731
    peer = lambda z, y: optax.softmax_cross_entropy(z, y, axis=axis)  # noqa: E731
    verify(ours, [z, y], peer=peer, peer_name="optax", rtol=1e-13)
    verify(lambda z, y: _grads(ours, z, y)[0], [z, y], peer=lambda z, y: _grads(peer, z, y)[0],
           peer_name="optax", rtol=1e-13)
    k = z.shape[axis]
    c = np.random.default_rng(30).integers(
        0, k, tuple(s for d, s in enumerate(z.shape) if d != axis % 3))
    ours = lambda z: jnp.sum(ICE(z, c, axis=axis))  # noqa: E731
    peer = lambda z: jnp.sum(optax.softmax_cross_entropy_with_integer_labels(  # noqa: E731
        z, c, axis=axis))
    verify(lambda z: ICE(z, c, axis=axis), [z], peer_name="optax", rtol=1e-13,
           peer=lambda z: optax.softmax_cross_entropy_with_integer_labels(z, c, axis=axis))
    verify(jax.grad(ours), [z], peer=jax.grad(peer), peer_name="optax", rtol=1e-14)


def test_axis_and_where_are_checked():
    z, y = jnp.zeros((2, 3)), jnp.full((2, 3), 1 / 3)
    with pytest.raises(ValueError, match=r"softmax_cross_entropy: axis must be an int in "
                                         r"\[-2, 2\)"):
        SCE(z, y, axis=2)
    with pytest.raises(ValueError, match=r"with_integer_labels: labels must have shape "
                                         r"\(\*B,\) = \(3,\)"):
        ICE(z, jnp.array([0, 1]), axis=0)
    with pytest.raises(TypeError, match="softmax_cross_entropy: where must be a bool array"):
        SCE(z, y, where=jnp.ones((2, 3)))
    with pytest.raises(ValueError, match=r"with_integer_labels: where must broadcast to .* "
                                         r"= \(2, 3\); got \(3, 2\)"):
        ICE(z, jnp.array([0, 1]), where=jnp.ones((3, 2), bool))
