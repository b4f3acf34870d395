"""Unit tests of dlmath.normalization: values against the registered formulas, NumPy and
flax.linen's BatchNorm / LayerNorm / RMSNorm; the hand-derived backward passes against
jax.vjp and float64 finite differences; running statistics; a batch of one; errors."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dlmath import normalization as norm
from dlmath.formulas import normalization as F
from dlmath.testing import finite_difference_grad


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


def _data(shape, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    c = shape[-1]
    return (rng.normal(1.0, 2.0, shape).astype(dtype), rng.normal(1.0, 0.3, c).astype(dtype),
            rng.normal(0.0, 0.3, c).astype(dtype), rng.normal(size=shape).astype(dtype))


# ---------------------------------------------------------------- values


def test_batch_norm_is_its_formula_and_numpy(x64):
    x, s, b, _ = _data((5, 3))
    y = np.asarray(norm.batch_norm(jnp.asarray(x), jnp.asarray(s), jnp.asarray(b), eps=1e-3))
    for c, j in ((0, 0), (2, 4)):
        ref = F.BATCH_NORM.reference(jnp.asarray(x[:, c]), j, 5, s[c], b[c], 1e-3)
        assert float(ref) == pytest.approx(y[j, c], rel=1e-12)
    mu, var = x.mean(0), x.var(0)
    np.testing.assert_allclose(y, (x - mu) / np.sqrt(var + 1e-3) * s + b, rtol=1e-12)


def test_batch_norm_reduces_over_every_axis_but_the_last(x64):
    x, s, b, _ = _data((2, 3, 4, 3))
    y = norm.batch_norm(x, s, b)
    flat = norm.batch_norm(x.reshape(-1, 3), s, b)
    np.testing.assert_allclose(np.asarray(y).reshape(-1, 3), flat, rtol=1e-12)


def test_layer_and_rms_norm_are_their_formulas(x64):
    x, s, b, _ = _data((4, 6))
    y = np.asarray(norm.layer_norm(x, s, b, eps=1e-4))
    r = np.asarray(norm.rms_norm(x, s, eps=1e-4))
    for n, j in ((0, 0), (3, 5)):
        if True:
            assert float(F.LAYER_NORM.reference(jnp.asarray(x[n]), jnp.asarray(s),
                                                jnp.asarray(b), j, 6, 1e-4)) == pytest.approx(
                y[n, j], rel=1e-12)
            assert float(F.RMS_NORM.reference(jnp.asarray(x[n]), jnp.asarray(s), j, 6, 1e-4)
                         ) == pytest.approx(r[n, j], rel=1e-12)


def test_equal_to_flax():
    shape = (2, 3, 3, 4)  # images: the statistics over N, H and W
    x, s, b, _ = _data(shape, dtype=np.float32)
    bn = nn.BatchNorm(use_running_average=False, epsilon=1e-5)
    variables = {"params": {"scale": s, "bias": b},
                 "batch_stats": {"mean": np.zeros(shape[-1], np.float32),
                                 "var": np.ones(shape[-1], np.float32)}}
    y_flax, updated = jax.jit(lambda v, x: bn.apply(v, x, mutable=["batch_stats"]))(variables, x)
    np.testing.assert_allclose(norm.batch_norm(x, s, b), y_flax, atol=2e-5)
    mean, var = norm.update_running_statistics(np.zeros(shape[-1], np.float32),
                                               np.ones(shape[-1], np.float32), x)
    np.testing.assert_allclose(mean, updated["batch_stats"]["mean"], atol=1e-6)
    np.testing.assert_allclose(var, updated["batch_stats"]["var"], atol=1e-5)
    # inference mode with those statistics
    bn_eval = nn.BatchNorm(use_running_average=True, epsilon=1e-5)
    y_eval = bn_eval.apply({"params": {"scale": s, "bias": b},
                            "batch_stats": updated["batch_stats"]}, x)
    np.testing.assert_allclose(norm.batch_norm_inference(x, s, b, mean, var), y_eval, atol=2e-5)
    ln = nn.LayerNorm(epsilon=1e-5).apply({"params": {"scale": s, "bias": b}}, x)
    np.testing.assert_allclose(norm.layer_norm(x, s, b), ln, atol=2e-5)
    rms = nn.RMSNorm(epsilon=1e-6).apply({"params": {"scale": s}}, x)
    np.testing.assert_allclose(norm.rms_norm(x, s), rms, atol=2e-5)


def test_running_statistics_are_the_exponential_average(x64):
    rng = np.random.default_rng(5)
    b1, b2 = rng.normal(3.0, 2.0, (2, 16, 2))
    m0, v0 = np.zeros(2), np.ones(2)
    m1, v1 = norm.update_running_statistics(m0, v0, b1, momentum=0.9)
    m2, v2 = norm.update_running_statistics(m1, v1, b2, momentum=0.9)
    np.testing.assert_allclose(m2, 0.81 * m0 + 0.09 * b1.mean(0) + 0.1 * b2.mean(0), rtol=1e-12)
    np.testing.assert_allclose(v2, 0.81 * v0 + 0.09 * b1.var(0) + 0.1 * b2.var(0), rtol=1e-12)
    # momentum 0: the last batch's (biased) statistics; momentum 1: nothing changes
    m0_, v0_ = norm.update_running_statistics(m2, v2, b2, momentum=0.0)
    np.testing.assert_allclose(m0_, b2.mean(0), rtol=1e-12)
    np.testing.assert_allclose(v0_, b2.var(0), rtol=1e-12)
    np.testing.assert_array_equal(norm.update_running_statistics(m2, v2, b1, momentum=1.0)[0], m2)


def test_a_batch_of_one_gives_the_bias_and_no_gradient(x64):
    x = jnp.array([[1.5, -2.0, 7.0]])
    s, b = jnp.array([2.0, 3.0, 4.0]), jnp.array([0.1, 0.2, 0.3])
    np.testing.assert_array_equal(norm.batch_norm(x, s, b), b[None])
    dx, ds, db = norm.batch_norm_backward(x, s, jnp.ones_like(x))
    np.testing.assert_array_equal(dx, jnp.zeros_like(x))
    np.testing.assert_array_equal(db, jnp.ones(3))
    # at inference a single example is fine
    y = norm.batch_norm_inference(x[0], s, b, jnp.zeros(3), jnp.ones(3))
    np.testing.assert_allclose(y, x[0] / np.sqrt(1 + 1e-5) * s + b, rtol=1e-12)


# ---------------------------------------------------------------- backward passes


def _bn_eps(x, s, b):
    return norm.batch_norm(x, s, b, eps=1e-3)


def _vjp(f, x, s, b, g):
    _, vjp = jax.vjp(f, x, s, b)
    return vjp(g)


def test_batch_norm_backward_is_jax_vjp(x64):
    for shape in ((7, 3), (2, 3, 2, 4), (1, 5, 2)):
        x, s, b, g = (jnp.asarray(a) for a in _data(shape))
        ours = jax.jit(norm.batch_norm_backward)(x, s, g, eps=1e-3)
        auto = jax.jit(_vjp, static_argnums=0)(_bn_eps, x, s, b, g)
        for a, r in zip(ours, auto, strict=True):
            np.testing.assert_allclose(a, r, rtol=1e-10, atol=1e-12)


def test_batch_norm_backward_is_its_formula(x64):
    x, s, b, g = _data((6, 2))
    dx = np.asarray(norm.batch_norm_backward(x, s, g, eps=1e-2)[0])
    for c, j in ((0, 1), (1, 5)):
        sigma = np.sqrt(x[:, c].var() + 1e-2)
        xh = (x[:, c] - x[:, c].mean()) / sigma
        if True:
            ref = F.BATCH_NORM_BACKWARD.reference(jnp.asarray(g[:, c]), jnp.asarray(xh), j, 6,
                                                  s[c], sigma)
            assert float(ref) == pytest.approx(dx[j, c], rel=1e-10)


@jax.jit
def _layer_and_rms(x, s, b, g):
    """(hand-derived, jax.vjp) gradients of layer norm and RMS norm, all in one list each."""
    ours = [*norm.layer_norm_backward(x, s, g, eps=1e-3),
            *norm.rms_norm_backward(x, s, g, eps=1e-3)]
    auto = [*_vjp(lambda x, s, b: norm.layer_norm(x, s, b, eps=1e-3), x, s, b, g),
            *jax.vjp(lambda x, s: norm.rms_norm(x, s, eps=1e-3), x, s)[1](g)]
    return ours, auto


def test_layer_and_rms_norm_backward_are_jax_vjp(x64):
    for shape in ((2, 3, 6), (5,)):
        x, s, b, g = (jnp.asarray(a) for a in _data(shape))
        ours, auto = _layer_and_rms(x, s, b, g)
        for a, r in zip(ours, auto, strict=True):
            np.testing.assert_allclose(a, r, rtol=1e-10, atol=1e-12)


def test_backward_passes_match_finite_differences(x64):
    # one central-difference gradient of a combination of the three losses checks all three
    # backward passes at once (the weights 1, 2, 3 keep errors from cancelling)
    x, s, b, g = (jnp.asarray(a) for a in _data((4, 3), seed=3))

    @jax.jit
    def combined(x):
        return (jnp.sum(g * norm.batch_norm(x, s, b)) + 2 * jnp.sum(g * norm.layer_norm(x, s, b))
                + 3 * jnp.sum(g * norm.rms_norm(x, s)))

    @jax.jit
    def by_hand(x):
        return (norm.batch_norm_backward(x, s, g)[0] + 2 * norm.layer_norm_backward(x, s, g)[0]
                + 3 * norm.rms_norm_backward(x, s, g)[0])

    np.testing.assert_allclose(by_hand(x), finite_difference_grad(combined, x), rtol=1e-6,
                               atol=1e-8)


# ---------------------------------------------------------------- invariances


def test_invariances(x64):
    x, s, b, _ = _data((6, 4))
    bn, ln = jax.jit(norm.batch_norm), jax.jit(norm.layer_norm)
    # batch norm: a positive scale of each channel's inputs (eps = 0) changes nothing
    w = np.array([0.5, 3.0, 7.0, 0.01])
    np.testing.assert_allclose(bn(x * w, s, b, eps=0.0), bn(x, s, b, eps=0.0), rtol=1e-10,
                               atol=1e-12)
    # layer norm: a shift of each example (any eps) and a positive scale (eps = 0)
    shift = np.arange(6.0)[:, None]
    np.testing.assert_allclose(ln(x + shift, s, b, eps=1e-5), ln(x, s, b, eps=1e-5), rtol=1e-10,
                               atol=1e-12)
    np.testing.assert_allclose(ln(4.0 * x, s, b, eps=0.0), ln(x, s, b, eps=0.0), rtol=1e-10,
                               atol=1e-12)


# ---------------------------------------------------------------- dtypes and errors


def test_empty_batches():
    s, b = jnp.ones(3), jnp.zeros(3)
    assert norm.layer_norm(jnp.zeros((0, 3)), s, b).shape == (0, 3)
    with pytest.raises(ValueError, match="batch_norm: x .* has no examples"):
        norm.batch_norm(jnp.zeros((0, 3)), s, b)


def test_errors():
    x, s, b, g = _data((4, 3), dtype=np.float32)
    with pytest.raises(ValueError, match=r"batch_norm: scale must have shape \(C,\) = \(3,\)"):
        norm.batch_norm(x, s[:2], b)
    with pytest.raises(ValueError, match=r"layer_norm: bias must have shape \(C,\) = \(3,\)"):
        norm.layer_norm(x, s, np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="batch_norm: x must have shape .* with a batch axis"):
        norm.batch_norm(x[0], s, b)
    with pytest.raises(ValueError, match="rms_norm: eps"):
        norm.rms_norm(x, s, eps=-1.0)
    with pytest.raises(TypeError, match="layer_norm: x must be a floating-point array"):
        norm.layer_norm(x.astype(np.int32), s, b)
    # the parameters' dtype (scale's) wins: a float16 bias is cast to it
    assert norm.batch_norm(x, s, b.astype(np.float16)).dtype == jnp.float32
    with pytest.raises(ValueError, match="layer_norm_backward: grad_output must have the shape"):
        norm.layer_norm_backward(x, s, g[:2])
    with pytest.raises(ValueError, match="update_running_statistics: momentum"):
        norm.update_running_statistics(s, s, x, momentum=1.5)
    with pytest.raises(ValueError, match="batch_norm_inference: running_var must have shape"):
        norm.batch_norm_inference(x, s, b, s, s[:1])


@pytest.mark.parametrize("offset", [0.0, 3.5, 1000.0, "one example at 1000"])
def test_variance_keeps_its_digits_whatever_the_mean(offset, x64):
    """In float32 the outputs of layer, batch and group norm and their gradients stay close
    to float64 on the same inputs, for a mean of 0, of 3.5, of 1000 and for one example far
    off (whichever pass each group takes). The plain one-pass variance E[x^2] - E[x]^2 is
    off by more than 5 % at a mean of 1000."""
    rng = np.random.default_rng(3)
    data = rng.normal(size=(8, 4, 4, 16))
    if offset == "one example at 1000":
        data[3] += 1000.0
    else:
        data += offset
    s64, b64 = rng.normal(1.0, 0.1, 16), rng.normal(0.0, 0.1, 16)
    g64 = rng.normal(size=data.shape)
    x, s, b, g = (jnp.asarray(a, jnp.float32) for a in (data, s64, b64, g64))
    exact = [jnp.asarray(np.asarray(a, np.float64)) for a in (x, s, b, g)]  # the same values
    kernels = {"layer_norm": norm.layer_norm, "batch_norm": norm.batch_norm,
               "group_norm": lambda x_, s_, b_: norm.group_norm(x_, s_, b_, 4)}
    small = offset in (0.0, 3.5)
    for name, f in kernels.items():
        y, pull = jax.vjp(f, x, s, b)
        y64, pull64 = jax.vjp(f, *exact[:3])
        assert y.dtype == jnp.float32 and y64.dtype == jnp.float64
        assert np.max(np.abs(np.asarray(y, np.float64) - y64)) < (2e-5 if small else 1e-3), name
        for got, ref in zip(pull(g), pull64(exact[3]), strict=True):
            err = np.max(np.abs(np.asarray(got, np.float64) - ref)) / np.max(np.abs(ref))
            assert err < (2e-5 if small else 3e-4), name
    if offset == 1000.0:
        x32 = np.asarray(x)
        plain = (x32 * x32).mean(-1) - x32.mean(-1) ** 2      # E[x^2] - E[x]^2 in float32
        assert np.max(np.abs(plain - data.astype(np.float32).astype(np.float64).var(-1))) > 0.05


@pytest.mark.parametrize("offset", [0.0, 3.9, 4.1, 30.0, 1000.0])
def test_the_statistics_keep_their_digits_on_either_side_of_the_one_pass_test(offset):
    """The statistics of every norm (normalization._moments): rows of exactly mean 0 and
    spread 1, moved by ``offset``. At 3.9 spreads (mu^2 <= 16 sigma^2) the one-pass variance
    is kept, its error at most about 49u (u = 2^-24 in float32); from 4.1 on two passes are
    taken, a few u. The derivative d var = 2/N sum (x - mu) dx keeps its digits too. The
    plain one pass is thousands of u off at 30 spreads."""
    u = 2.0 ** -24
    rng = np.random.default_rng(0)
    z = rng.normal(size=(64, 1024))
    z = (z - z.mean(-1, keepdims=True)) / z.std(-1, keepdims=True)
    x = jnp.asarray(z + offset, jnp.float32)
    dx = jnp.asarray(rng.normal(size=z.shape), jnp.float32)
    xr, dxr = np.asarray(x, np.float64), np.asarray(dx, np.float64)
    (mean, var), (_, d_var) = jax.jvp(lambda a: norm._moments(a, -1), (x,), (dx,))
    ref_var = xr.var(-1)
    ref_d_var = 2 * ((xr - xr.mean(-1, keepdims=True)) * dxr).mean(-1)
    assert np.max(np.abs(np.asarray(var[:, 0], np.float64) - ref_var) / ref_var) < 64 * u
    assert np.max(np.abs(np.asarray(mean[:, 0], np.float64) - xr.mean(-1))) < 64 * u
    assert np.max(np.abs(np.asarray(d_var[:, 0], np.float64) - ref_d_var)) < \
        64 * u * np.max(np.abs(ref_d_var))
    if offset >= 30:
        plain = (np.asarray(x) ** 2).mean(-1) - np.asarray(x).mean(-1) ** 2   # float32
        assert np.max(np.abs(plain - ref_var) / ref_var) > 1000 * u


def test_overflowing_squares_and_constant_groups_with_eps_zero():
    """A sum of squares that overflows float32 (values of 1e19) takes the two passes, not
    an infinite variance; a constant group with eps = 0 gives exactly the bias, also where
    its value is not exactly representable as a mean (0.1, 1000.1)."""
    rng = np.random.default_rng(1)
    big = 1e19 + 1e14 * rng.normal(size=(2, 8))
    s, b = np.ones(8), np.full(8, 0.5)
    got = norm.layer_norm(jnp.asarray(big, jnp.float32), jnp.asarray(s, jnp.float32),
                          jnp.asarray(b, jnp.float32))
    xr = np.asarray(jnp.asarray(big, jnp.float32), np.float64)
    want = (xr - xr.mean(-1, keepdims=True)) / xr.std(-1, keepdims=True) + 0.5
    np.testing.assert_allclose(np.asarray(got), want, atol=1e-2)  # x is spaced 1e12 apart
    for c in (0.1, 1000.1):
        x = jnp.full((4, 3, 3, 8), c, jnp.float32)
        s32, b32 = jnp.asarray(s, jnp.float32), jnp.asarray(b, jnp.float32)
        for y in (norm.layer_norm(x, s32, b32, eps=0.0), norm.batch_norm(x, s32, b32, eps=0.0),
                  norm.group_norm(x, s32, b32, 2, eps=0.0)):
            assert np.all(np.asarray(y) == 0.5), c
