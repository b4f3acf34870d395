"""conv1d: against a float64 loop over its defining sum, lax and flax.linen's Conv (causal
padding included), finite differences; causality from the Jacobian's zero pattern;
translation equivariance for shifts by multiples of the stride only; the errors."""

from __future__ import annotations

import itertools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from dlmath import conv
from dlmath.testing import finite_difference_grad, in_float64

# (L, C, O, K, stride, padding, dilation, groups)
CASES = [
    (7, 4, 6, 3, 1, "CAUSAL", 2, 2),
    (8, 3, 2, 2, 2, (2, 1), 1, 1),
    (6, 2, 4, 3, 3, "SAME", 1, 2),
    (5, 3, 3, 2, 1, "VALID", 3, 3),
    (4, 1, 2, 3, 1, 1, 1, 1),
]
_NAMES = ("stride", "padding", "dilation", "groups")


def _pads(padding, size, k, s, d):
    if padding == "CAUSAL":
        return (d * (k - 1), 0)
    if padding == "SAME":
        return conv.same_padding(size, k, stride=s, dilation=d)
    if padding == "VALID":
        return (0, 0)
    return padding if isinstance(padding, tuple) else (padding, padding)


def reference(x, w, b, stride=1, padding=0, dilation=1, groups=1):
    """y[n, i, o] = b[o] + sum over u and o's group's channels c of x[n, s i + d u - p, c]
    w[u, c, o], in float64 (0 outside the sequence)."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    n, length, _ = x.shape
    k, cg, o = w.shape
    lo, hi = _pads(padding, length, k, stride, dilation)
    out = (length + lo + hi - dilation * (k - 1) - 1) // stride + 1
    y = np.tile(np.asarray(b, np.float64), (n, out, 1))
    for i, u, oc, c in itertools.product(range(out), range(k), range(o), range(cg)):
        t = stride * i + dilation * u - lo
        if 0 <= t < length:
            y[:, i, oc] += x[:, t, (oc * groups // o) * cg + c] * w[u, c, oc]
    return y


def _draw(case, seed=0):
    length, c, o, k = case[:4]
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((2, length, c)), rng.standard_normal((k, c // case[7], o)),
            rng.standard_normal(o))


def test_values_are_the_sum_and_lax():
    draws = [_draw(case) for case in CASES]
    geos = [dict(zip(_NAMES, case[4:], strict=True)) for case in CASES]

    @jax.jit
    def run(draws):
        out = []
        for (x, w, b), geo in zip(draws, geos, strict=True):
            pads = _pads(geo["padding"], x.shape[1], w.shape[0], geo["stride"], geo["dilation"])
            peer = lax.conv_general_dilated(x, w, (geo["stride"],), [pads],
                                            rhs_dilation=(geo["dilation"],),
                                            dimension_numbers=("NWC", "WIO", "NWC"),
                                            feature_group_count=geo["groups"],
                                            precision=lax.Precision.HIGHEST)
            out.append((conv.conv1d(x, w, b, **geo), peer + b))
        return out

    for (ours, peer), (x, w, b), geo in zip(in_float64(run, draws), draws, geos, strict=True):
        want = reference(x, w, b, **geo)
        np.testing.assert_allclose(ours, want, atol=1e-12)
        np.testing.assert_allclose(peer, want, atol=1e-12)


def test_equals_flax_conv_causal_and_grouped():
    x, w, b = (jnp.asarray(a, jnp.float32) for a in _draw(CASES[0], seed=1))
    layer = nn.Conv(6, (3,), padding="CAUSAL", kernel_dilation=(2,), feature_group_count=2,
                    precision=lax.Precision.HIGHEST)
    flax_y = layer.apply({"params": {"kernel": w, "bias": b}}, x)
    ours = conv.conv1d(x, w, b, padding="CAUSAL", dilation=2, groups=2)
    np.testing.assert_allclose(ours, flax_y, atol=1e-5)


def test_causal_outputs_see_only_the_past():
    """The Jacobian d y[i] / d x[t] (summed over channels) is zero for every t > i and not
    zero exactly at t = i, i - d, ..., i - d(K - 1) (inside the sequence), for K = 3, d = 2."""
    rng = np.random.default_rng(2)
    x = jnp.asarray(rng.standard_normal((1, 9, 2)), jnp.float32)
    w = jnp.asarray(np.abs(rng.standard_normal((3, 2, 1))) + 0.1, jnp.float32)
    jac = jax.jacrev(lambda z: conv.conv1d(z, w, padding="CAUSAL", dilation=2)[0, :, 0])(x)
    support = np.abs(np.asarray(jac)[:, 0]).sum(axis=-1) > 0  # (output i, input t)
    assert support.shape == (9, 9)
    want = np.zeros((9, 9), bool)
    for i, u in itertools.product(range(9), range(3)):
        if i - 2 * u >= 0:
            want[i, i - 2 * u] = True
    np.testing.assert_array_equal(support, want)
    assert not np.triu(support, 1).any()  # nothing from the future
    same = conv.conv1d(x, w, padding="SAME", dilation=2)[0, :, 0]  # "SAME" reads ahead
    jac_same = jax.jacrev(lambda z: conv.conv1d(z, w, padding="SAME", dilation=2)[0, :, 0])(x)
    assert same.shape == (9,) and np.triu(np.abs(np.asarray(jac_same)[:, 0]).sum(-1), 1).any()


def test_gradient_equals_finite_differences():
    x, w, b = _draw(CASES[1], seed=3)
    geo = dict(zip(_NAMES, CASES[1][4:], strict=True))
    g = np.random.default_rng(4).standard_normal(
        jax.eval_shape(lambda x, w: conv.conv1d(x, w, **geo), x, w).shape)

    def loss(z):
        x_, w_ = z[:x.size].reshape(x.shape), z[x.size:].reshape(w.shape)
        return jnp.sum(g * conv.conv1d(x_, w_, b, **geo))

    point = np.concatenate([x.ravel(), w.ravel()])
    np.testing.assert_allclose(in_float64(jax.jit(jax.grad(loss)), point),
                               finite_difference_grad(loss, point), atol=1e-7)


def test_equivariance_holds_for_shifts_by_the_stride_and_fails_otherwise():
    """A periodic sequence (wrapped, no border) with stride 2: shifting the input by 2 or 4
    shifts the output by 1 or 2; shifting it by 1 or 3 gives no shift of the output."""
    rng = np.random.default_rng(5)
    x = jnp.asarray(rng.standard_normal((1, 12, 2)), jnp.float32)
    w = jnp.asarray(rng.standard_normal((3, 2, 2)), jnp.float32)

    def layer(z):
        return conv.conv1d(jnp.concatenate([z, z[:, :2]], axis=1), w, stride=2)

    y = layer(x)
    for t in (2, 4):
        np.testing.assert_allclose(layer(jnp.roll(x, t, axis=1)), jnp.roll(y, t // 2, axis=1),
                                   atol=1e-5)
    for t in (1, 3):
        shifted = layer(jnp.roll(x, t, axis=1))
        assert all(not np.allclose(shifted, jnp.roll(y, q, axis=1), atol=1e-3)
                   for q in range(y.shape[1]))


def test_documented_formula_equals_the_code():
    import sympy as sp

    from dlmath.formulas import conv as F

    x, w, b = _draw(CASES[4], seed=6)
    y = in_float64(jax.jit(lambda x, w, b: conv.conv1d(x, w, b, stride=2, padding=2,
                                                       dilation=2)), x, w, b)
    for i_, o_ in [(0, 0), (1, 1), (y.shape[1] - 1, 1)]:
        e = F.CONV1D.expr.subs({F.s: 2, F.d: 2, F.p: 2, F.K: 3, F.C: 1}).subs(
            {F.n: 1, F.i: i_, F.o: o_}).doit()

        def value(t):
            idx = tuple(int(k) for k in t.indices)
            if str(t.base) == "x":
                return float(x[idx]) if 0 <= idx[1] < x.shape[1] else 0.0
            return float({"w": w, "b": b}[str(t.base)][idx])
        got = float(e.xreplace({t: value(t) for t in e.atoms(sp.Indexed)}))
        assert abs(got - y[1, i_, o_]) < 1e-9


def test_errors_name_the_argument():
    x, w = jnp.ones((2, 6, 4)), jnp.ones((3, 4, 2))
    with pytest.raises(ValueError, match=r"^conv1d: x must have shape \(N, L, C\); got "
                                         r"\(6, 4\).*x\[None\]"):
        conv.conv1d(x[0], w)
    with pytest.raises(ValueError, match=r"^conv1d: x must have C = 4 channels.*It looks like "
                                         r"NCL"):
        conv.conv1d(jnp.ones((2, 4, 6)), w)
    with pytest.raises(ValueError, match=r"^conv1d: padding must be an int, a pair .*'CAUSAL'; "
                                         r"got the string 'causl'"):
        conv.conv1d(x, w, padding="causl")
    with pytest.raises(TypeError, match=r"^conv1d: padding must be .*got the list"):
        conv.conv1d(x, w, padding=[1, 0])
    with pytest.raises(ValueError, match=r"^conv1d: the kernel w covers 7 pixels along L"):
        conv.conv1d(x, w, dilation=3)
    with pytest.raises(ValueError, match=r"^conv1d: groups = 4 must divide the channels O = 2"):
        conv.conv1d(x, jnp.ones((3, 1, 2)), groups=4)
    with pytest.raises(ValueError, match=r"^conv1d: w must have shape \(K, C, O\)"):
        conv.conv1d(x, jnp.ones((3, 3, 4, 2)))
    assert conv.conv1d(x, w, padding="causal").shape == (2, 6, 2)
