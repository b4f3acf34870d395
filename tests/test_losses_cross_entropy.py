"""Unit tests of the cross-entropy losses in dlmath.losses: values and gradients against
optax, jax.nn and the lambdified formulas; stability at logits of +-1e4 in float32 and
float16; every error path."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.test_util import check_grads

from dlmath import losses
from dlmath.formulas import cross_entropy as F
from dlmath.symbolic import docstring_math

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


# ---------------------------------------------------------------- docstrings


@pytest.mark.parametrize("name", ["binary_cross_entropy_with_logits", "softmax_cross_entropy",
                                  "softmax_cross_entropy_with_integer_labels"])
def test_docstring_formulas_are_the_registered_ones(name):
    want = [f.latex for f in F.DOCUMENTED[f"losses.{name}"]]
    assert docstring_math(getattr(losses, name)) == want


def test_mse_is_still_exported():
    assert "mse" in losses.__all__ and callable(losses.mse)


# ---------------------------------------------------------------- values


def test_bce_values_match_optax_jaxnn_and_both_formulas():
    with jax.enable_x64(True):
        z, y = _random(0, (4, 5))
        got = BCE(z, y)
        assert got.shape == (4, 5) and got.dtype == jnp.float64
        np.testing.assert_allclose(got, optax.sigmoid_binary_cross_entropy(z, y), rtol=1e-12)
        jaxnn = -y * jax.nn.log_sigmoid(z) - (1 - y) * jax.nn.log_sigmoid(-z)
        np.testing.assert_allclose(got, jaxnn, rtol=1e-12)
        np.testing.assert_allclose(got, F.BCE_WITH_LOGITS.reference(z, y), rtol=1e-12)
        np.testing.assert_allclose(got, F.BCE_DEFINITION.reference(z, y), rtol=1e-9)


def test_bce_accepts_int_and_bool_targets():
    z = jnp.array([-2.0, 0.5, 3.0])
    want = BCE(z, jnp.array([0.0, 1.0, 1.0]))
    np.testing.assert_allclose(BCE(z, jnp.array([0, 1, 1])), want, rtol=1e-6)
    np.testing.assert_allclose(BCE(z, jnp.array([False, True, True])), want, rtol=1e-6)


def test_softmax_ce_values_match_optax_and_formula():
    with jax.enable_x64(True):
        z, y = _random(1, (2, 3, 5), k=5)
        got = SCE(z, y)
        assert got.shape == (2, 3)
        np.testing.assert_allclose(got, optax.softmax_cross_entropy(z, y), rtol=1e-12)
        np.testing.assert_allclose(got, -jnp.sum(y * jax.nn.log_softmax(z), -1), rtol=1e-12)
        ref = jax.vmap(jax.vmap(lambda a, b: F.SOFTMAX_CROSS_ENTROPY.reference(a, b, 5)))
        np.testing.assert_allclose(got, ref(z, y), rtol=1e-12)


def test_integer_ce_values_match_optax_formula_and_one_hot():
    with jax.enable_x64(True):
        z, _ = _random(2, (4, 3, 6), k=6)
        c = jnp.asarray(np.random.default_rng(3).integers(0, 6, (4, 3)))
        got = ICE(z, c)
        assert got.shape == (4, 3)
        np.testing.assert_allclose(
            got, optax.softmax_cross_entropy_with_integer_labels(z, c), rtol=1e-12)
        np.testing.assert_allclose(got, SCE(z, jax.nn.one_hot(c, 6, dtype=z.dtype)),
                                   rtol=1e-12)
        ref = jax.vmap(jax.vmap(lambda a, b: F.SOFTMAX_CROSS_ENTROPY_INTEGER.reference(a, b, 6)))
        np.testing.assert_allclose(got, ref(z, c), rtol=1e-12)


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
                                         r"targets\[0\] = 3"):
        sbce(jnp.zeros(2), jnp.array([3, 1]))


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
    with jax.enable_x64(True):
        z, y = _random(5, (7,))
        z = z.at[0].set(0.0)  # the kink of max(z, 0) and |z|: the custom JVP is exact there
        g = jax.grad(lambda a: jnp.sum(BCE(a, y)))(z)
        np.testing.assert_allclose(g, jax.nn.sigmoid(z) - y, rtol=1e-12, atol=1e-15)
        g_optax = jax.grad(lambda a: jnp.sum(optax.sigmoid_binary_cross_entropy(a, y)))(z)
        np.testing.assert_allclose(g, g_optax, rtol=1e-12, atol=1e-15)
        gy = jax.grad(lambda b: jnp.sum(BCE(z, b)))(y)
        np.testing.assert_allclose(gy, -z, rtol=1e-12)
        check_grads(lambda a, b: BCE(a, b), (z, y), order=2, modes=("fwd", "rev"))


def test_softmax_ce_gradient_is_softmax_minus_labels():
    with jax.enable_x64(True):
        z, y = _random(6, (3, 5), k=5)
        g = jax.grad(lambda a: jnp.sum(SCE(a, y)))(z)
        np.testing.assert_allclose(g, jax.nn.softmax(z) - y, rtol=1e-10, atol=1e-14)
        g_optax = jax.grad(lambda a: jnp.sum(optax.softmax_cross_entropy(a, y)))(z)
        np.testing.assert_allclose(g, g_optax, rtol=1e-10, atol=1e-14)
        gy = jax.grad(lambda b: jnp.sum(SCE(z, b)))(y)
        np.testing.assert_allclose(gy, -jax.nn.log_softmax(z), rtol=1e-12)


def test_integer_ce_gradient_is_softmax_minus_one_hot():
    with jax.enable_x64(True):
        z, _ = _random(7, (4, 3), k=3)
        c = jnp.array([0, 2, 1, 1])
        g = jax.grad(lambda a: jnp.sum(ICE(a, c)))(z)
        np.testing.assert_allclose(g, jax.nn.softmax(z) - jax.nn.one_hot(c, 3), rtol=1e-10,
                                   atol=1e-14)
        # forward mode too (jvp of the gather and of the stop_gradient shift)
        t = jnp.asarray(np.random.default_rng(9).standard_normal(z.shape), z.dtype)
        _, jvp = jax.jvp(lambda a: jnp.sum(ICE(a, c)), (z,), (t,))
        np.testing.assert_allclose(jvp, jnp.sum(g * t), rtol=1e-12)


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
