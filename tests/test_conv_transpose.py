"""conv_transpose2d: against a float64 loop over PyTorch's defining scatter sum, the adjoint
identity <conv2d(x, w), y> = <x, conv_transpose2d(y, w')>, flax.linen's ConvTranspose, finite
differences; its output size and what output_padding chooses; the errors."""

from __future__ import annotations

import itertools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax
from sums import unroll

from dlmath import conv, convert
from dlmath.testing import finite_difference_grad, in_float64

# (H, W, C, O, KH, KW, stride, padding, output_padding, dilation, groups)
CASES = [
    (3, 4, 4, 6, 3, 2, (2, 3), (1, 0), (1, 2), 1, 2),
    (3, 3, 2, 2, 2, 2, 3, 0, 0, 1, 1),        # stride > K: the checkerboard
    (2, 3, 3, 6, 2, 3, (1, 2), 1, (0, 1), (2, 1), 3),
    (6, 3, 2, 3, 2, 2, 1, (3, 0), 0, 1, 1),   # padding beyond d(K - 1): the output cropped
]
_NAMES = ("stride", "padding", "output_padding", "dilation", "groups")


def _pairs(v):
    return v if isinstance(v, tuple) else (v, v)


def scatter_reference(x, w, b, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
    """PyTorch's definition, in float64: out[s i - p + d u] += x[i] w[u] per axis, input
    channel c of group g feeding the O/G output channels of that group."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    n, h, wd, c = x.shape
    kh, kw, _, og = w.shape
    s, p, a, d = (_pairs(v) for v in (stride, padding, output_padding, dilation))
    ho = (h - 1) * s[0] - 2 * p[0] + d[0] * (kh - 1) + a[0] + 1
    wo = (wd - 1) * s[1] - 2 * p[1] + d[1] * (kw - 1) + a[1] + 1
    y = np.tile(np.asarray(b, np.float64), (n, ho, wo, 1))
    for i, j, u, v, ci in itertools.product(range(h), range(wd), range(kh), range(kw), range(c)):
        r, q = s[0] * i - p[0] + d[0] * u, s[1] * j - p[1] + d[1] * v
        if 0 <= r < ho and 0 <= q < wo:
            g = ci // (c // groups)
            y[:, r, q, g * og:(g + 1) * og] += x[:, i, j, ci, None] * w[u, v, ci]
    return y


def _draw(case, seed=0):
    h, wd, c, o, kh, kw = case[:6]
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((2, h, wd, c)), rng.standard_normal((kh, kw, c, o // case[10])),
            rng.standard_normal(o))


def test_values_are_the_scatter_sum_and_the_adjoint_of_conv2d():
    """Every case against the scatter loop; and <conv2d(z, w), y> = <z, convT(y, w')> with
    w' = w.swapaxes(2, 3), conv2d's kernel being (KH, KW, O/G, C) for the C-channel y."""
    draws = [_draw(case) for case in CASES]
    geos = [dict(zip(_NAMES, case[6:], strict=True)) for case in CASES]

    @jax.jit
    def run(draws):
        out = []
        for (x, w, b), geo in zip(draws, geos, strict=True):
            y = conv.conv_transpose2d(x, w, b, **geo)
            z = jnp.cos(jnp.arange(y.size, dtype=y.dtype)).reshape(y.shape)  # any image
            conv_geo = {k: geo[k] for k in ("stride", "padding", "dilation", "groups")}
            forward = conv.conv2d(z, jnp.swapaxes(w, 2, 3), **conv_geo)  # back to x's shape
            lhs = jnp.vdot(forward, x)
            rhs = jnp.vdot(z, conv.conv_transpose2d(x, w, **geo))
            out.append((y, forward.shape == x.shape, lhs, rhs))
        return out

    for (y, same_shape, lhs, rhs), (x, w, b), geo in zip(in_float64(run, draws), draws, geos,
                                                        strict=True):
        np.testing.assert_allclose(y, scatter_reference(x, w, b, **geo), atol=1e-12)
        assert same_shape and abs(lhs - rhs) < 1e-10 * (1 + abs(lhs))


def test_equals_flax_conv_transpose_and_the_vjp_of_lax():
    """flax's ConvTranspose(transpose_kernel=True, padding='VALID') is ours with p = 0 where
    K >= s (its kernel (KH, KW, O, C): ours with the channel axes swapped); jax.vjp of
    lax.conv_general_dilated is ours at every padding (output_padding: the rows no window of
    the forward convolution read)."""
    rng = np.random.default_rng(1)
    x = jnp.asarray(rng.standard_normal((2, 4, 3, 3)), jnp.float32)
    w = jnp.asarray(rng.standard_normal((3, 2, 3, 5)), jnp.float32)
    layer = nn.ConvTranspose(5, (3, 2), strides=(2, 2), padding="VALID", transpose_kernel=True,
                             use_bias=False, precision=lax.Precision.HIGHEST)
    flax_y = layer.apply({"params": {"kernel": jnp.swapaxes(w, 2, 3)}}, x)
    np.testing.assert_allclose(conv.conv_transpose2d(x, w, stride=2), flax_y, atol=1e-5)
    z = jnp.zeros((2, 8, 5, 5))  # conv2d of 8 x 5 with p = 1, s = 2: 4 x 3 (a = 1, 1)
    _, vjp = jax.vjp(lambda z_: lax.conv_general_dilated(
        z_, jnp.swapaxes(w, 2, 3), (2, 2), [(1, 1), (1, 1)], dimension_numbers=(
            "NHWC", "HWIO", "NHWC"), precision=lax.Precision.HIGHEST), z)
    ours = conv.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1)
    np.testing.assert_allclose(ours, vjp(x)[0], atol=1e-5)


def test_gradients_equal_finite_differences():
    case = CASES[0]
    x, w, b = _draw(case, seed=2)
    geo = dict(zip(_NAMES, case[6:], strict=True))
    y = jax.eval_shape(lambda x, w: conv.conv_transpose2d(x, w, **geo), x, w)
    g = np.random.default_rng(3).standard_normal(y.shape)

    def loss(z):
        x_, w_ = z[:x.size].reshape(x.shape), z[x.size:].reshape(w.shape)
        return jnp.sum(g * conv.conv_transpose2d(x_, w_, b, **geo))

    point = np.concatenate([x.ravel(), w.ravel()])
    fd = finite_difference_grad(loss, point)
    grad = in_float64(jax.jit(jax.grad(loss)), point)
    np.testing.assert_allclose(grad, fd, atol=1e-7)


def test_output_size_and_output_padding_recover_every_input_size():
    """A strided convolution maps s input sizes to one output size; conv_transpose2d with
    output_padding a = (H + 2p - d(K - 1) - 1) mod s gives each one back."""
    for h, k, s, p, d in itertools.product(range(3, 9), (1, 2, 3), (1, 2, 3), (0, 1), (1, 2)):
        if d * (k - 1) + 1 > h + 2 * p:
            continue
        ho = conv.output_size(h, k, stride=s, padding=p, dilation=d)
        a = (h + 2 * p - d * (k - 1) - 1) % s
        assert (ho - 1) * s - 2 * p + d * (k - 1) + a + 1 == h
        if a < max(s, d):
            shape = jax.eval_shape(lambda x, k=k, s=s, p=p, a=a, d=d: conv.conv_transpose2d(
                x, jnp.zeros((k, 1, 1, 1)), stride=(s, 1), padding=(p, 0),
                output_padding=(a, 0), dilation=(d, 1)), jax.ShapeDtypeStruct(
                (1, ho, 1, 1), jnp.float32)).shape
            assert shape[1] == h


def test_checkerboard_when_the_stride_exceeds_the_kernel():
    """Stride 3, kernel 2, all ones: output pixels get 1 contribution or none (every third
    row and column is never written)."""
    y = conv.conv_transpose2d(jnp.ones((1, 3, 3, 1)), jnp.ones((2, 2, 1, 1)), stride=3)
    counts = np.asarray(y[0, :, :, 0])
    assert counts.shape == (8, 8) and set(np.unique(counts)) == {0.0, 1.0}
    assert not counts[2::3].any() and not counts[:, 2::3].any()


def test_documented_formula_equals_the_code():
    import sympy as sp

    from dlmath.formulas import conv as F

    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((1, 2, 3, 2)), rng.standard_normal((2, 3, 2, 3)), \
        rng.standard_normal(3)
    y = in_float64(jax.jit(lambda x, w, b: conv.conv_transpose2d(x, w, b, stride=2,
                                                                 padding=1)), x, w, b)
    at = {F.s: 2, F.d: 1, F.p: 1, F.H: 2, F.W: 3, F.K_H: 2, F.K_W: 3, F.C: 2}
    for a_, b_, o_ in [(0, 0, 0), (1, 2, 1), (y.shape[1] - 1, y.shape[2] - 1, 2)]:
        e = unroll(F.CONV_TRANSPOSE2D.expr.subs(at).subs({F.n: 0, F.a: a_, F.b_: b_, F.o: o_}))
        arrays = {"x": x, "w": w, "b": b}
        got = float(e.xreplace({t: float(arrays[str(t.base)][tuple(int(k) for k in t.indices)])
                                for t in e.atoms(sp.Indexed)}))
        assert abs(got - y[0, a_, b_, o_]) < 1e-9


def test_pytorch_weight_converts():
    """PyTorch's ConvTranspose2d.weight (C, O/G, KH, KW) -> ours by (2, 3, 0, 1); Conv2d's
    (O, C/G, KH, KW) by (2, 3, 1, 0); Conv1d's (O, C/G, K) by (2, 1, 0)."""
    t = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    ours = convert.conv_from_pytorch(t, "conv_transpose2d")
    assert ours.shape == (4, 5, 2, 3) and ours[1, 2, 0, 1] == t[0, 1, 1, 2]
    ours = convert.conv_from_pytorch(t, "conv2d")
    assert ours.shape == (4, 5, 3, 2) and ours[1, 2, 0, 1] == t[1, 0, 1, 2]
    ours = convert.conv_from_pytorch(t[0], "conv1d")
    assert ours.shape == (5, 4, 3) and ours[2, 1, 0] == t[0, 0, 1, 2]
    with pytest.raises(ValueError, match=r"^conv_from_pytorch: weight must have shape \(C, "
                                         r"O/groups, KH, KW\); got \(3, 4, 5\)"):
        convert.conv_from_pytorch(t[0], "conv_transpose2d")
    with pytest.raises(ValueError, match=r"^conv_from_pytorch: model must be one of"):
        convert.conv_from_pytorch(t, "dense")


def test_errors_name_the_argument():
    x, w = jnp.ones((1, 3, 3, 4)), jnp.ones((3, 3, 4, 2))
    with pytest.raises(ValueError, match=r"^conv_transpose2d: output_padding 2 along H must "
                                         r"be smaller than the stride \(2\) or the dilation"):
        conv.conv_transpose2d(x, w, stride=2, output_padding=2)
    with pytest.raises(ValueError, match=r"^conv_transpose2d: groups = 3 must divide the "
                                         r"channels C = 4"):
        conv.conv_transpose2d(x, w, groups=3)
    with pytest.raises(ValueError, match=r"^conv_transpose2d: b must have shape \(O,\) = \(4,\)"):
        conv.conv_transpose2d(x, w, jnp.ones(2), groups=2)
    with pytest.raises(ValueError, match=r"^conv_transpose2d: the output would have -1 pixels"):
        conv.conv_transpose2d(x, w, padding=3)
    with pytest.raises(TypeError, match=r"^conv_transpose2d: padding must be an int or a pair"):
        conv.conv_transpose2d(x, w, padding="SAME")
    with pytest.raises(ValueError, match=r"^conv_transpose2d: x must have C = 4 channels"):
        conv.conv_transpose2d(jnp.ones((1, 3, 3, 2)), w)
    with pytest.raises(TypeError, match=r"^conv_transpose2d: unexpected argument strides"):
        conv.conv_transpose2d(x, w, strides=2)
    assert conv.conv_transpose2d(x, w, jnp.ones(4), groups=2).shape == (1, 5, 5, 4)
