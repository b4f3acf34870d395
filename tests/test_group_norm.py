"""Unit tests of dlmath.normalization.group_norm: the registered formula, a float64 NumPy
reference, flax.linen.GroupNorm, the identities with layer norm (one group) and instance
norm (one channel per group), independence of the batch, gradients against float64 finite
differences, dtypes, eps = 0 and every error path."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dlmath import normalization as norm
from dlmath.formulas import normalization as F
from dlmath.testing import in_float64, verify


def _data(shape, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    c = shape[-1]
    return (rng.normal(1.0, 2.0, shape).astype(dtype), rng.normal(1.0, 0.3, c).astype(dtype),
            rng.normal(0.0, 0.3, c).astype(dtype))


def _np_group_norm(x, scale, bias, groups, eps):
    """float64 NumPy, channels first as torch.nn.GroupNorm: (N, C, ...) split into groups."""
    x = np.asarray(x, np.float64)
    n = x.shape[0]
    first = np.moveaxis(x, -1, 1).reshape(n, groups, -1)    # (N, G, C/G * positions)
    mu = first.mean(-1, keepdims=True)
    var = ((first - mu) ** 2).mean(-1, keepdims=True)
    y = ((first - mu) / np.sqrt(var + eps)).reshape(np.moveaxis(x, -1, 1).shape)
    y = np.moveaxis(y, 1, -1)
    return y * np.asarray(scale, np.float64) + np.asarray(bias, np.float64)


@pytest.mark.parametrize("shape,groups", [((3, 6), 3), ((2, 4, 5, 6), 2), ((2, 3, 6), 6),
                                          ((2, 3, 6), 1)])
def test_group_norm_is_its_formula_flax_and_numpy(shape, groups):
    x, s, b = _data(shape)
    y = in_float64(lambda x, s, b: norm.group_norm(x, s, b, groups, eps=1e-3), x, s, b)
    np.testing.assert_allclose(y, _np_group_norm(x, s, b, groups, 1e-3), rtol=1e-12,
                               atol=1e-12)
    # the formula on the M values of group g of example n; entry j of that group
    n, g, size = 0, groups - 1, shape[-1] // groups
    values = x[n][..., g * size:(g + 1) * size].reshape(-1)
    for j in (0, len(values) - 1):
        c = g * size + j % size
        ref = in_float64(F.GROUP_NORM.reference, values, j, len(values), s[c], b[c], 1e-3)
        got = y[n][..., g * size:(g + 1) * size].reshape(-1)[j]
        assert float(ref) == pytest.approx(got, rel=1e-12)
    peer = in_float64(lambda x, s, b: nn.GroupNorm(num_groups=groups, epsilon=1e-3).apply(
        {"params": {"scale": s, "bias": b}}, x), x, s, b)
    np.testing.assert_allclose(y, peer, rtol=1e-9, atol=1e-9)


def test_flax_float32_default_layer():
    x, s, b = _data((2, 3, 3, 8), dtype=np.float32)
    peer = nn.GroupNorm(num_groups=4, epsilon=1e-5).apply({"params": {"scale": s, "bias": b}}, x)
    np.testing.assert_allclose(norm.group_norm(x, s, b, 4), peer, atol=2e-5)


def test_one_group_is_layer_norm_and_c_groups_is_instance_norm():
    x, s, b = _data((4, 6))
    ln = in_float64(lambda x, s, b: norm.layer_norm(x, s, b, eps=1e-4), x, s, b)
    gn = in_float64(lambda x, s, b: norm.group_norm(x, s, b, 1, eps=1e-4), x, s, b)
    np.testing.assert_allclose(gn, ln, rtol=1e-12, atol=1e-12)
    # instance norm: each channel of each example over its positions
    x, s, b = _data((2, 5, 7, 3), seed=1)
    gn = in_float64(lambda x, s, b: norm.group_norm(x, s, b, 3, eps=1e-4), x, s, b)
    mu = x.mean(axis=(1, 2), keepdims=True)
    var = x.var(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(gn, (x - mu) / np.sqrt(var + 1e-4) * s + b, rtol=1e-12,
                               atol=1e-12)


def test_groups_take_consecutive_channels():
    """Channels 0, 1 form group 0 (not 0, 2): shifting channel 1 changes channel 0's output
    only when they share a group."""
    x, s, b = _data((2, 4), seed=2)
    shifted = x.copy()
    shifted[:, 1] += 5.0
    y0 = in_float64(lambda x: norm.group_norm(x, s, b, 2), x)
    y1 = in_float64(lambda x: norm.group_norm(x, s, b, 2), shifted)
    assert not np.allclose(y0[:, 0], y1[:, 0])
    np.testing.assert_allclose(y0[:, 2:], y1[:, 2:], rtol=1e-12)


def test_output_does_not_depend_on_the_batch():
    x, s, b = _data((5, 3, 6), seed=3)
    full = in_float64(lambda x: norm.group_norm(x, s, b, 2), x)
    one = in_float64(lambda x: norm.group_norm(x, s, b, 2), x[2:3])
    np.testing.assert_allclose(one[0], full[2], rtol=1e-13)


def test_gradients_match_finite_differences():
    x, s, b = _data((2, 3, 4), seed=4)
    g = np.random.default_rng(5).normal(size=x.shape)

    def loss(x, s, b):
        return jnp.sum(norm.group_norm(x, s, b, 2, eps=1e-3) * g)

    for argnum in (0, 1):
        verify(loss, [x, s, b], argnum=argnum, reference=lambda x, s, b: jnp.sum(
            jnp.asarray(_np_group_norm(x, s, b, 2, 1e-3)) * g), name=f"group_norm arg {argnum}",
            check_grads_order=2 if argnum == 0 else None)  # check_grads takes x, s, b together


def test_dtypes_and_eps_zero():
    x, s, b = _data((2, 4, 4))
    y = norm.group_norm(x.astype(np.float16) * 300, s.astype(np.float16), b.astype(np.float16), 2)
    assert y.dtype == jnp.float16 and bool(jnp.all(jnp.isfinite(y)))
    y = norm.group_norm(x.astype(np.float64), s.astype(np.float32), b.astype(np.float32), 2)
    assert y.dtype == jnp.float32
    const = np.ones((2, 3, 4), np.float32)
    y = norm.group_norm(const, s.astype(np.float32), b.astype(np.float32), 2, eps=0.0)
    np.testing.assert_allclose(y, np.broadcast_to(b.astype(np.float32), (2, 3, 4)))
    assert norm.group_norm(np.zeros((0, 4), np.float32), s.astype(np.float32),
                           b.astype(np.float32), 2).shape == (0, 4)
    assert norm.group_norm(np.zeros((0, 3, 2, 4), np.float32), s.astype(np.float32),
                           b.astype(np.float32), 2).shape == (0, 3, 2, 4)
    j = jax.jit(norm.group_norm, static_argnames="num_groups")
    np.testing.assert_allclose(j(x.astype(np.float32), s.astype(np.float32),
                                 b.astype(np.float32), 2),
                               norm.group_norm(x.astype(np.float32), s.astype(np.float32),
                                               b.astype(np.float32), 2), rtol=1e-6)


def _f32(shape):
    return jnp.ones(shape, jnp.float32)


@pytest.mark.parametrize("call,cls,pattern", [
    (lambda: norm.group_norm(_f32((2, 6)), _f32(6), _f32(6), 4), ValueError,
     r"group_norm: the channels C = 6 must be divisible by num_groups = 4.*\[1, 2, 3, 6\]"),
    (lambda: norm.group_norm(_f32((2, 6)), _f32(6), _f32(6), 0), ValueError,
     r"group_norm: num_groups must be an int >= 1; got 0"),
    (lambda: norm.group_norm(_f32((2, 6)), _f32(6), _f32(6), 2.0), TypeError,
     r"group_norm: num_groups must be an int"),
    (lambda: norm.group_norm(_f32((6,)), _f32(6), _f32(6), 2), ValueError,
     r"group_norm: x must have shape \(N, \.\.\., C\) with a batch axis; got \(6,\)"),
    (lambda: norm.group_norm(_f32((2, 6)), _f32(3), _f32(6), 3), ValueError,
     r"group_norm: scale must have shape \(C,\) = \(6,\)"),
    (lambda: norm.group_norm(_f32((2, 6)), _f32(6), _f32((6, 1)), 3), ValueError,
     r"group_norm: bias must have shape \(C,\) = \(6,\)"),
    (lambda: norm.group_norm(_f32((2, 0, 6)), _f32(6), _f32(6), 3), ValueError,
     r"group_norm: x \(2, 0, 6\) has an empty axis"),
    (lambda: norm.group_norm(_f32((2, 0)), _f32(0), _f32(0), 1), ValueError,
     r"group_norm: x \(2, 0\) has no channels"),
    (lambda: norm.group_norm(_f32((2, 6)), _f32(6), _f32(6), 3, eps=-1.0), ValueError,
     r"group_norm: eps must be a finite number in \[0, inf\)"),
    (lambda: norm.group_norm(jnp.ones((2, 6), jnp.int32), _f32(6), _f32(6), 3), TypeError,
     r"group_norm: x"),
])
def test_errors(call, cls, pattern):
    with pytest.raises(cls, match=pattern):
        call()
