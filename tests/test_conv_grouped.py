"""Grouped convolution (conv2d's ``groups``): against a float64 loop over the defining sum,
``lax.conv_general_dilated(feature_group_count=...)``, flax.linen's ``Conv``, the dense
convolution with a block-diagonal kernel, jax.vjp and finite differences (the hand-written
backward pass); translation equivariance for shifts by multiples of the stride; the errors."""

from __future__ import annotations

import itertools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax
from sums import unroll

from dlmath import conv
from dlmath.testing import finite_difference_grad, in_float64

DN = ("NHWC", "HWIO", "NHWC")
# (H, W, C, O, KH, KW, stride, padding, dilation, groups)
CASES = [
    (5, 6, 4, 6, 3, 2, (2, 1), ((1, 0), (0, 1)), (1, 2), 2),   # two groups, all geometry
    (4, 5, 3, 3, 3, 3, 1, "SAME", 1, 3),                     # depthwise
    (4, 4, 4, 8, 1, 1, 1, 0, 1, 4),                           # grouped 1x1
    (6, 5, 2, 4, 2, 3, 2, 1, 1, 2),                           # depthwise, multiplier 2
]


def _pairs(v):
    return v if isinstance(v, tuple) else (v, v)


def _pads(padding, sizes, kernel, stride, dilation):
    if padding == "SAME":
        return tuple(conv.same_padding(n, k, stride=s, dilation=d)
                     for n, k, s, d in zip(sizes, kernel, stride, dilation, strict=True))
    return tuple(p if isinstance(p, tuple) else (p, p) for p in _pairs(padding))


def reference(x, w, b, stride, padding, dilation, groups):
    """y[n, i, j, o] = b[o] + sum over u, v and the C/G channels c of o's group of
    x[n, s i + d u - p, s j + d v - p, (C/G) floor(o G / O) + c] w[u, v, c, o], in float64."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    n, h, wd, _ = x.shape
    kh, kw, cg, o = w.shape
    s, d = _pairs(stride), _pairs(dilation)
    pads = _pads(padding, (h, wd), (kh, kw), s, d)
    ho = (h + sum(pads[0]) - d[0] * (kh - 1) - 1) // s[0] + 1
    wo = (wd + sum(pads[1]) - d[1] * (kw - 1) - 1) // s[1] + 1
    y = np.tile(np.asarray(b, np.float64), (n, ho, wo, 1))
    for i, j, u, v, oc, c in itertools.product(range(ho), range(wo), range(kh), range(kw),
                                               range(o), range(cg)):
        a, bb = s[0] * i + d[0] * u - pads[0][0], s[1] * j + d[1] * v - pads[1][0]
        if 0 <= a < h and 0 <= bb < wd:
            y[:, i, j, oc] += x[:, a, bb, (oc * groups // o) * cg + c] * w[u, v, c, oc]
    return y


def _draw(case, seed=0):
    h, wd, c, o, kh, kw = case[:6]
    groups = case[9]
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((2, h, wd, c)), rng.standard_normal((kh, kw, c // groups, o)),
            rng.standard_normal(o))


def _geometry(case):
    return dict(zip(("stride", "padding", "dilation", "groups"), case[6:], strict=True))


@pytest.mark.parametrize("case", CASES)
def test_grouped_conv_is_its_sum_lax_and_flax(case):
    x, w, b = _draw(case)
    geo = _geometry(case)
    s, d = _pairs(geo["stride"]), _pairs(geo["dilation"])
    pads = _pads(geo["padding"], x.shape[1:3], w.shape[:2], s, d)

    @jax.jit
    def both(x, w, b):
        peer = lax.conv_general_dilated(x, w, s, pads, rhs_dilation=d, dimension_numbers=DN,
                                        feature_group_count=geo["groups"],
                                        precision=lax.Precision.HIGHEST) + b
        return conv.conv2d(x, w, b, **geo), conv.conv2d_im2col(x, w, b, **geo), peer

    want = reference(x, w, b, **geo)
    for got in in_float64(both, x, w, b):
        np.testing.assert_allclose(got, want, atol=1e-12)
    layer = nn.Conv(w.shape[3], w.shape[:2], strides=s, padding=pads, kernel_dilation=d,
                    feature_group_count=geo["groups"], precision=lax.Precision.HIGHEST)
    x32, w32, b32 = (jnp.asarray(a, jnp.float32) for a in (x, w, b))
    flax_y = layer.apply({"params": {"kernel": w32, "bias": b32}}, x32)
    np.testing.assert_allclose(conv.conv2d(x32, w32, b32, **geo), flax_y, atol=1e-5)


@pytest.mark.parametrize("case", CASES[:2])
def test_grouped_conv_is_the_dense_conv_with_a_block_diagonal_kernel(case):
    """Kernel (KH, KW, C, O) zero outside the G diagonal blocks (C/G x O/G): the dense
    convolution with it is the grouped one."""
    x, w, b = _draw(case, seed=1)
    geo = _geometry(case)
    groups = geo.pop("groups")
    kh, kw, cg, o = w.shape
    og = o // groups
    dense = np.zeros((kh, kw, cg * groups, o))
    for g in range(groups):
        dense[:, :, g * cg:(g + 1) * cg, g * og:(g + 1) * og] = w[:, :, :, g * og:(g + 1) * og]
    grouped, full = in_float64(jax.jit(lambda x, w, dense: (
        conv.conv2d(x, w, groups=groups, **geo), conv.conv2d(x, dense, **geo))), x, w, dense)
    np.testing.assert_allclose(grouped, full, atol=1e-12)


def test_grouped_backward_is_the_vjp_and_finite_differences():
    """Two groups with every hyper-parameter against float64 finite differences; the
    depthwise and grouped 1x1 cases against jax.vjp."""
    draws = [_draw(case, seed=2) for case in CASES[:3]]
    geos = [_geometry(case) for case in CASES[:3]]
    gs = [np.random.default_rng(3).standard_normal(jax.eval_shape(
        lambda x, w, geo=geo: conv.conv2d(x, w, **geo), x, w).shape)
        for (x, w, _), geo in zip(draws, geos, strict=True)]

    @jax.jit
    def hand_and_vjp(draws, gs):
        out = []
        for (x, w, _), g, geo in zip(draws, gs, geos, strict=True):
            _, vjp = jax.vjp(lambda x_, w_, geo=geo: conv.conv2d(x_, w_, **geo), x, w)
            out.append((conv.conv2d_backward(x, w, g, **geo), vjp(g)))
        return out

    for ((dx, dw, db), (vx, vw)), g in zip(in_float64(hand_and_vjp, draws, gs), gs,
                                           strict=True):
        np.testing.assert_allclose(dx, vx, atol=1e-12)
        np.testing.assert_allclose(dw, vw, atol=1e-12)
        np.testing.assert_allclose(db, g.sum(axis=(0, 1, 2)), atol=1e-12)
    (x, w, b), g, geo = draws[0], gs[0], geos[0]

    def loss(z):  # x and w in one vector: one compiled finite-difference program
        x_, w_ = z[:x.size].reshape(x.shape), z[x.size:].reshape(w.shape)
        return jnp.sum(g * conv.conv2d(x_, w_, b, **geo))

    fd = finite_difference_grad(loss, np.concatenate([x.ravel(), w.ravel()]))
    (dx, dw, _), _ = in_float64(hand_and_vjp, draws, gs)[0]
    np.testing.assert_allclose(dx, fd[:x.size].reshape(x.shape), atol=1e-7)
    np.testing.assert_allclose(dw, fd[x.size:].reshape(w.shape), atol=1e-7)


def test_grouped_equivariance_holds_for_shifts_by_the_stride_only():
    """A circular image (wrap-around padding: no border) shifted by the stride s = 2 moves
    the output by one position; shifted by one pixel it gives no shift of the output."""
    rng = np.random.default_rng(4)
    x = jnp.asarray(rng.standard_normal((1, 8, 8, 4)), jnp.float32)
    w = jnp.asarray(rng.standard_normal((3, 3, 1, 4)), jnp.float32)

    def layer(z):  # wrap two columns and rows around: the circular convolution
        z = jnp.concatenate([z, z[:, :2]], axis=1)
        return conv.conv2d(jnp.concatenate([z, z[:, :, :2]], axis=2), w, stride=2, groups=4)

    y = layer(x)
    shifted = layer(jnp.roll(x, (2, 4), axis=(1, 2)))
    np.testing.assert_allclose(shifted, jnp.roll(y, (1, 2), axis=(1, 2)), atol=1e-5)
    odd = layer(jnp.roll(x, (1, 0), axis=(1, 2)))
    assert all(not np.allclose(odd, jnp.roll(y, (t, 0), axis=(1, 2)), atol=1e-3)
               for t in range(y.shape[1]))


def test_documented_grouped_formula_equals_the_code():
    import sympy as sp

    from dlmath.formulas import conv as F

    case = CASES[0]
    x, w, b = _draw(case, seed=5)
    geo = _geometry(case)
    y = in_float64(jax.jit(lambda x, w, b: conv.conv2d(x, w, b, stride=2, padding=1,
                                                       groups=2)), x, w, b)
    h, wd, c, o, kh, kw = case[:6]
    at = {F.s: 2, F.d: 1, F.p: 1, F.K_H: kh, F.K_W: kw, F.C: c, F.O_: o, F.G: 2}
    for i_, j_, o_ in [(0, 0, 0), (1, 2, 4), (y.shape[1] - 1, y.shape[2] - 1, o - 1)]:
        e = unroll(F.GROUPED_CONV2D.expr.subs(at).subs({F.n: 1, F.i: i_, F.j: j_, F.o: o_}))

        def value(t):
            idx = tuple(int(k) for k in t.indices)
            if str(t.base) == "x":
                return float(x[idx]) if 0 <= idx[1] < h and 0 <= idx[2] < wd else 0.0
            return float({"w": w, "b": b}[str(t.base)][idx])
        got = float(e.xreplace({t: value(t) for t in e.atoms(sp.Indexed)}))
        assert abs(got - y[1, i_, j_, o_]) < 1e-9
    assert geo["groups"] == 2


def test_groups_errors_name_the_argument():
    x, w = jnp.ones((1, 5, 5, 4)), jnp.ones((3, 3, 2, 6))
    with pytest.raises(ValueError, match=r"^conv2d: groups = 4 must divide the channels O = 6"):
        conv.conv2d(x, jnp.ones((3, 3, 1, 6)), groups=4)
    with pytest.raises(ValueError, match=r"^conv2d: x must have C = 6 channels .*\(KH, KW, "
                                         r"C/groups, O\): 2 x groups = 3"):
        conv.conv2d(x, w, groups=3)
    with pytest.raises(ValueError, match=r"^conv2d_backward: groups must be an int >= 1"):
        conv.conv2d_backward(x, w, jnp.ones((1, 3, 3, 6)), groups=0)
    with pytest.raises(TypeError, match=r"^conv2d_im2col: groups must be an int; got bool"):
        conv.conv2d_im2col(x, w, groups=True)
    with pytest.raises(TypeError, match=r"^conv2d: unexpected argument feature_group_count "
                                        r".*calls it groups"):
        conv.conv2d(x, w, feature_group_count=2)
    assert conv.conv2d(x, w, groups=2).shape == (1, 3, 3, 6)
