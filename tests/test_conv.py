"""dlmath.conv against lax.conv_general_dilated (values and jax.vjp), flax.linen's Conv and
pooling, float64 finite differences, and its own documented formulas; ties of max pooling;
the output size over a grid of sizes; the errors that name the shapes."""

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
HI = lax.Precision.HIGHEST

# (H, W, C, O, KH, KW, stride, padding, dilation)
CASES = [
    (7, 6, 2, 3, 3, 2, (2, 1), (1, 2), (1, 2)),
    (8, 8, 3, 2, 3, 3, 2, "SAME", 1),
    (5, 9, 1, 4, 2, 3, 3, ((0, 2), (1, 0)), 2),
    (4, 4, 3, 1, 3, 3, 1, "VALID", 1),
]


def _normal(seed, shape):
    """float32 standard normal draws (NumPy: jax.random compiles a program per shape)."""
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), jnp.float32)


def _lax_padding(padding):
    if isinstance(padding, str):
        return padding
    if isinstance(padding, int):
        return [(padding, padding)] * 2
    return [p if isinstance(p, tuple) else (p, p) for p in padding]


def _pair(v):
    return v if isinstance(v, tuple) else (v, v)


def _draw(case, seed=0):
    H, W, C, O, KH, KW = case[:6]
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((2, H, W, C)), rng.standard_normal((KH, KW, C, O)),
            rng.standard_normal(O))


def _peer(case):
    stride, padding, dilation = case[6:]
    return lambda x, w: lax.conv_general_dilated(
        x, w, _pair(stride), _lax_padding(padding), rhs_dilation=_pair(dilation),
        dimension_numbers=DN, precision=HI)


def test_forward_backward_and_im2col_equal_lax():
    """Every case in one compiled program (compiles dominate the time of this file)."""
    def one(case, x, w, b, g):
        stride, padding, dilation = case[6:]
        geometry = {"stride": stride, "padding": padding, "dilation": dilation}
        peer = _peer(case)
        ours = conv.conv2d(x, w, b, **geometry)
        patches = conv.im2col(x, w.shape[:2], **geometry)
        _, vjp = jax.vjp(peer, x, w)
        want_grads = (*vjp(g), g.sum((0, 1, 2)))
        by_hand = (conv.conv2d_im2col(x, w, b, **geometry),
                   patches @ w.reshape(-1, w.shape[-1]) + b)
        return (ours, peer(x, w) + b, by_hand, conv.conv2d_backward(x, w, g, **geometry),
                want_grads)

    def run_all():
        inputs = []
        for case in CASES:
            x, w, b = _draw(case)
            geometry = dict(zip(("stride", "padding", "dilation"), case[6:], strict=True))
            out = jax.eval_shape(lambda x, w, geometry=geometry: conv.conv2d(x, w, **geometry),
                                 x, w).shape
            inputs.append((x, w, b, np.random.default_rng(1).standard_normal(out)))
        return jax.jit(lambda inputs: [one(c, *args) for c, args in zip(
            CASES, inputs, strict=True)])(inputs)

    results = in_float64(run_all)
    for case, (ours, want, by_hand, grads, grads_want) in zip(CASES, results, strict=True):
        np.testing.assert_allclose(ours, want, rtol=1e-12, atol=1e-12, err_msg=str(case))
        for form in by_hand:  # conv2d_im2col, and im2col's patches times the kernel
            np.testing.assert_allclose(form, ours, rtol=1e-12, atol=1e-12, err_msg=str(case))
        for got, ref in zip(grads, grads_want, strict=True):  # dx, dw, db
            np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12, err_msg=str(case))


def test_flax_conv_values_and_gradients():
    x = _normal(0, (2, 9, 8, 3))
    layer = nn.Conv(4, (3, 2), strides=(2, 1), padding="SAME", kernel_dilation=(1, 2))
    shapes = jax.eval_shape(layer.init, jax.random.key(1), x)
    params = jax.tree_util.tree_map(lambda a: 0.3 * _normal(a.size, a.shape), shapes)  # bias != 0
    kernel, bias = params["params"]["kernel"], params["params"]["bias"]
    geometry = {"stride": (2, 1), "padding": "SAME", "dilation": (1, 2)}
    weights = jnp.cos(jnp.arange(2 * 5 * 8 * 4, dtype=jnp.float32)).reshape(2, 5, 8, 4)

    @jax.jit
    def both(params, x):
        ours = conv.conv2d(x, kernel, bias, **geometry)
        g_flax = jax.grad(lambda p, x: jnp.sum(weights * layer.apply(p, x)), (0, 1))(params, x)
        return ours, layer.apply(params, x), g_flax, conv.conv2d_backward(x, kernel, weights,
                                                                          **geometry)

    ours, theirs, g_flax, (dx, dw, db) = both(params, x)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dx, g_flax[1], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dw, g_flax[0]["params"]["kernel"], rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(db, g_flax[0]["params"]["bias"], rtol=1e-5, atol=1e-4)


def test_backward_equals_float64_finite_differences():
    case = (4, 3, 2, 2, 3, 2, 2, 1, (1, 2))
    geometry = dict(zip(("stride", "padding", "dilation"), case[6:], strict=True))
    x, w, b = _draw(case, seed=3)
    g = np.random.default_rng(4).standard_normal((2, 2, 2, 2))  # 2 rows, 2 columns

    def loss(z):  # x and w in one vector: one compiled finite-difference program
        x_, w_ = z[:x.size].reshape(x.shape), z[x.size:].reshape(w.shape)
        return jnp.sum(g * conv.conv2d(x_, w_, b, **geometry))

    fd = finite_difference_grad(loss, np.concatenate([x.ravel(), w.ravel()]))
    dx, dw, _ = in_float64(jax.jit(lambda x, w, g: conv.conv2d_backward(x, w, g, **geometry)),
                           x, w, g)
    np.testing.assert_allclose(dx, fd[:x.size].reshape(x.shape), atol=1e-7)
    np.testing.assert_allclose(dw, fd[x.size:].reshape(w.shape), atol=1e-7)


def test_output_size_matches_conv2d_over_a_grid():
    x_cache = {}
    for H, K, s, p, d in itertools.product((1, 2, 3, 5, 6), (1, 2, 3), (1, 2, 3), (0, 1, 2),
                                           (1, 2)):
        span = d * (K - 1) + 1
        if span > H + 2 * p:
            with pytest.raises(ValueError, match="output_size: the kernel"):
                conv.output_size(H, K, stride=s, padding=p, dilation=d)
            continue
        x = x_cache.setdefault(H, jnp.ones((1, H, 1, 1)))
        y = jax.eval_shape(lambda x, K=K, s=s, p=p, d=d: conv.conv2d(
            x, jnp.ones((K, 1, 1, 1)), stride=(s, 1), padding=((p, p), (0, 0)),
            dilation=(d, 1)), x)
        assert y.shape[1] == conv.output_size(H, K, stride=s, padding=p, dilation=d)
        assert y.shape[1] == (H + 2 * p - d * (K - 1) - 1) // s + 1


def test_same_padding_is_lax_and_gives_ceil_h_over_s():
    for H, K, s, d in itertools.product(range(1, 9), range(1, 5), range(1, 4), range(1, 3)):
        lo, hi = conv.same_padding(H, K, stride=s, dilation=d)
        want = lax.padtype_to_pads((H,), (d * (K - 1) + 1,), (s,), "SAME")[0]
        assert (lo, hi) == tuple(want)
        assert conv.output_size(H, K, stride=s, padding=(lo, hi), dilation=d) == -(-H // s)
        assert conv.output_size(H, K, stride=s, padding="SAME", dilation=d) == -(-H // s)


def test_pooling_equals_flax_values_and_gradients():
    x = _normal(2, (2, 7, 6, 3))
    weights = jnp.sin(jnp.arange(2 * 7 * 6 * 3, dtype=jnp.float32))
    pairs = [(lambda x: conv.global_avg_pool(x), lambda x: jnp.mean(x, axis=(1, 2)))]
    for window, strides, padding in [((3, 3), (2, 2), "SAME"), ((3, 2), (2, 1), ((1, 1), (0, 1)))]:
        geo = (window, strides, padding)
        pairs += [(lambda x, geo=geo: conv.max_pool(x, *geo),
                   lambda x, geo=geo: nn.max_pool(x, *geo)),
                  (lambda x, geo=geo: conv.avg_pool(x, *geo),
                   lambda x, geo=geo: nn.avg_pool(x, *geo)),
                  (lambda x, geo=geo: conv.avg_pool(x, *geo, False),
                   lambda x, geo=geo: nn.avg_pool(x, *geo, count_include_pad=False))]

    @jax.jit
    def values_and_gradients(x):
        out = []
        for f in itertools.chain.from_iterable(pairs):
            y, vjp = jax.vjp(f, x)
            out.append((y, vjp(weights[:y.size].reshape(y.shape))[0]))
        return out

    results = values_and_gradients(x)
    for ours, theirs in zip(results[::2], results[1::2], strict=True):
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_max_pool_ties_route_the_whole_gradient_to_the_first_maximum():
    x = jnp.array([[1.0, 3.0, 3.0], [3.0, 0.0, 3.0]]).reshape(1, 2, 3, 1)
    def grads(x):
        return (jax.grad(lambda x: conv.max_pool(x, (2, 3)).sum())(x),
                jax.grad(lambda x: nn.max_pool(x, (2, 3)).sum())(x))

    g, g_flax = (a[0, :, :, 0] for a in jax.jit(grads)(x))
    np.testing.assert_array_equal(g, [[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])  # row-major first
    np.testing.assert_array_equal(g, g_flax)
    # an all-equal window: still one entry gets it all (jnp.max would give 1/4 each)
    flat = jax.jit(jax.grad(lambda x: conv.max_pool(x, (2, 2)).sum()))(jnp.ones((1, 2, 2, 1)))
    np.testing.assert_array_equal(flat[0, :, :, 0], [[1.0, 0.0], [0.0, 0.0]])
    split = jax.grad(lambda x: jnp.max(x))(jnp.ones((2, 2)))
    np.testing.assert_array_equal(split, np.full((2, 2), 0.25))
    # overlapping windows add their gradients on a shared maximum
    x = jnp.array([0.0, 5.0, 1.0, 2.0]).reshape(1, 1, 4, 1)
    g = jax.jit(jax.grad(lambda x: conv.max_pool(x, (1, 2), (1, 1)).sum()))(x)[0, 0, :, 0]
    np.testing.assert_array_equal(g, [0.0, 2.0, 0.0, 1.0])
    # a NaN is never passed over: it counts as the maximum
    y = conv.max_pool(x.at[0, 0, 2, 0].set(jnp.nan), (1, 2), (1, 1))[0, 0, :, 0]
    np.testing.assert_array_equal(np.isnan(y), [False, True, True])


def test_documented_formulas_equal_the_code():
    """The $$ formulas (dlmath.formulas.conv), evaluated entry by entry at small sizes, all
    different (H, W, C, O, K_H, K_W), so no formula can sum to the wrong limit unseen."""
    import sympy as sp

    from dlmath.formulas import conv as F

    rng = np.random.default_rng(5)
    H, W, C, O, KH, KW = 4, 5, 3, 4, 2, 3
    s, d, p = 2, 1, 1
    x = rng.standard_normal((1, H, W, C))
    w = rng.standard_normal((KH, KW, C, O))
    b = rng.standard_normal(O)
    # output grid: (4 + 2 - 2) // 2 + 1 = 3 rows, (5 + 2 - 3) // 2 + 1 = 3 columns
    g = rng.standard_normal((1, 3, 3, O))

    @jax.jit
    def everything(x, w, b, g):
        geometry = {"stride": s, "padding": p, "dilation": d}
        return (conv.conv2d(x, w, b, **geometry), *conv.conv2d_backward(x, w, g, **geometry),
                conv.avg_pool(x, (KH, KW), (s, s), ((p, p), (p, p))), conv.global_avg_pool(x),
                conv.conv2d_im2col(x, w, b, **geometry))

    y, dx, dw, _, pooled, gap, y_im2col = in_float64(everything, x, w, b, g)

    def x_entry(idx):
        n_, r, c_, ch = idx
        return float(x[n_, r, c_, ch]) if 0 <= r < H and 0 <= c_ < W else 0.0

    def value(e):
        idx = tuple(int(t) for t in e.indices)
        arrays = {"w": w, "b": b, "g": g}
        return x_entry(idx) if str(e.base) == "x" else float(arrays[str(e.base)][idx])

    def numbers(expr):
        """The sums written out, every x, w, b, g entry replaced by its value (x is 0 in the
        padding)."""
        expr = unroll(expr)
        return float(expr.xreplace({e: value(e) for e in expr.atoms(sp.Indexed)}))

    geo = {F.s: s, F.d: d, F.p: p, F.K_H: KH, F.K_W: KW, F.C: C}
    ho, wo = y.shape[1:3]
    for i_, j_, o_ in [(0, 0, 0), (1, 2, 1), (ho - 1, wo - 1, O - 1)]:
        e = F.CONV2D.expr.subs(geo).subs({F.n: 0, F.i: i_, F.j: j_, F.o: o_})
        assert abs(numbers(e) - y[0, i_, j_, o_]) < 1e-9
        assert abs(numbers(e) - y_im2col[0, i_, j_, o_]) < 1e-9
    e = F.WEIGHT_GRADIENT.expr.subs(geo).subs({F.N_: 1, F.H_out: ho, F.W_out: wo, F.u: 1,
                                               F.v: 2, F.c: 2, F.o: 3})
    assert abs(numbers(e) - dw[1, 2, 2, 3]) < 1e-9
    for a_, b2 in [(0, 0), (2, 3), (3, 4)]:
        e = F.INPUT_GRADIENT.expr.subs(geo).subs({F.H_out: ho, F.W_out: wo, F.O_: O, F.n: 0,
                                                  F.a: a_, F.b_: b2, F.c: 2})
        assert abs(numbers(e) - dx[0, a_, b2, 2]) < 1e-9
    e = F.AVG_POOL.expr.subs({F.s: s, F.p: p, F.K_H: KH, F.K_W: KW}).subs(
        {F.n: 0, F.i: 1, F.j: 1, F.c: 2})
    assert abs(numbers(e) - pooled[0, 1, 1, 2]) < 1e-9
    e = F.GLOBAL_AVG_POOL.expr.subs({F.H: H, F.W: W}).subs({F.n: 0, F.c: 1})
    assert abs(numbers(e) - float(gap[0, 1])) < 1e-9
    for H_, K_, s_, P_, d_ in [(7, 3, 2, 2, 1), (8, 2, 3, 1, 2), (5, 5, 1, 0, 1)]:
        assert int(F.OUTPUT_SIZE.expr.subs({F.H: H_, F.K: K_, F.s: s_, F.P: P_, F.d: d_})) == \
            conv.output_size(H_, K_, stride=s_, padding=(P_ // 2, P_ - P_ // 2), dilation=d_)
        total = int(F.SAME_PADDING_TOTAL.expr.subs({F.H: H_, F.K: K_, F.s: s_, F.d: d_}))
        assert sum(conv.same_padding(H_, K_, stride=s_, dilation=d_)) == total


def test_jit_and_low_precision_dtypes():
    x = _normal(4, (2, 6, 6, 3))
    w = _normal(5, (3, 3, 3, 4))
    f = jax.jit(conv.conv2d, static_argnames=("stride", "padding", "dilation"))
    ref = lax.conv_general_dilated(x, w, (2, 2), "SAME", dimension_numbers=DN, precision=HI)
    y = f(x, w.astype(jnp.float16), stride=2, padding="SAME")  # x is cast to w's dtype
    assert y.dtype == jnp.float16
    np.testing.assert_allclose(np.asarray(y, np.float32), ref, atol=0.1, rtol=3e-2)
    assert jax.eval_shape(lambda x, w: conv.conv2d(x, w), x, w.astype(jnp.bfloat16)).dtype \
        == jnp.bfloat16
    assert jax.eval_shape(lambda x: conv.max_pool(x, (2, 2)), x.astype(jnp.bfloat16)).dtype \
        == jnp.bfloat16


def test_errors_name_the_shapes():
    x = jnp.ones((2, 6, 6, 3))
    w = jnp.ones((3, 3, 3, 4))
    with pytest.raises(ValueError, match=r"conv2d: x must have C = 3 channels.*\(2, 6, 6, 2\)"):
        conv.conv2d(jnp.ones((2, 6, 6, 2)), w)
    with pytest.raises(ValueError, match="looks like NCHW"):
        conv.conv2d(jnp.ones((2, 3, 6, 6)), w)
    with pytest.raises(ValueError, match=r"conv2d: x must have shape \(N, H, W, C\); got "
                                         r"\(6, 6, 3\)\. A single image"):
        conv.conv2d(jnp.ones((6, 6, 3)), w)
    with pytest.raises(ValueError, match="kernel w covers 5 pixels along H.*padded image's 4"):
        conv.conv2d(jnp.ones((1, 4, 4, 3)), w, dilation=2)
    with pytest.raises(ValueError, match="conv2d: stride must be an int >= 1; got 0"):
        conv.conv2d(x, w, stride=0)
    with pytest.raises(ValueError, match="conv2d: stride must be an int >= 1; got -1"):
        conv.conv2d(x, w, stride=(1, -1))
    with pytest.raises(ValueError, match="conv2d: padding must be an int >= 0"):
        conv.conv2d(x, w, padding=-1)
    with pytest.raises(ValueError, match="conv2d: padding must be an int"):
        conv.conv2d(x, w, padding="FULL")
    with pytest.raises(ValueError, match=r"b must have shape \(O,\) = \(4,\)"):
        conv.conv2d(x, w, jnp.ones(3))
    with pytest.raises(ValueError, match=r"w must have shape \(KH, KW, C, O\)"):
        conv.conv2d(x, jnp.ones((3, 3, 3)))
    with pytest.raises(TypeError, match="conv2d: x must be a floating-point"):
        conv.conv2d(jnp.ones((2, 6, 6, 3), jnp.int32), w)
    with pytest.raises(TypeError, match="conv2d: stride must be an int"):
        conv.conv2d(x, w, stride=1.5)
    with pytest.raises(ValueError, match=r"conv2d_backward: grad_output must have the shape "
                                         r"of conv2d's output \(N, H', W', O\) = \(2, 4, 4, 4\)"):
        conv.conv2d_backward(x, w, jnp.ones((2, 6, 6, 4)))
    with pytest.raises(ValueError, match="max_pool: the window"):
        conv.max_pool(x, (7, 7))
    with pytest.raises(ValueError, match=r"global_avg_pool: x \(N, H, W, C\) has no pixels"):
        conv.global_avg_pool(jnp.ones((2, 0, 3, 1)))
    with pytest.raises(TypeError, match="avg_pool: count_include_pad must be a Python bool"):
        conv.avg_pool(x, (2, 2), count_include_pad=1)


def test_one_vocabulary_stride_and_the_peers_names_are_refused_clearly():
    """``stride`` everywhere (PyTorch's name); flax's ``strides`` (its pooling and Conv) and
    ``kernel_dilation`` get an error that names dlmath's argument. Geometry is static under
    jit, so a list (not hashable) is refused with a hint to pass a tuple."""
    x = _normal(3, (1, 6, 6, 2))
    w = _normal(4, (3, 3, 2, 2))
    np.testing.assert_allclose(conv.max_pool(x, (2, 2), stride=(2, 2)),
                               nn.max_pool(x, (2, 2), strides=(2, 2)), atol=0)
    np.testing.assert_allclose(conv.avg_pool(x, (3, 3), stride=2, padding="SAME"),
                               nn.avg_pool(x, (3, 3), strides=(2, 2), padding="SAME"), atol=1e-6)
    for call, name in ((lambda: conv.max_pool(x, (2, 2), strides=(2, 2)), "max_pool"),
                       (lambda: conv.avg_pool(x, (2, 2), strides=2), "avg_pool"),
                       (lambda: conv.conv2d(x, w, strides=2), "conv2d"),
                       (lambda: conv.im2col(x, 3, strides=2), "im2col")):
        with pytest.raises(TypeError, match=rf"{name}: unexpected argument strides .*dlmath "
                                            r"calls it stride"):
            call()
    with pytest.raises(TypeError, match=r"conv2d: unexpected argument kernel_dilation .*calls "
                                        r"it dilation"):
        conv.conv2d(x, w, kernel_dilation=2)
    with pytest.raises(TypeError, match=r"conv2d: stride must be an int or a tuple of two ints; "
                                        r"got the list \[1, 1\].*pass \(1, 1\)"):
        conv.conv2d(x, w, stride=[1, 1])
    with pytest.raises(TypeError, match=r"max_pool: padding must be .*got the list"):
        conv.max_pool(x, (2, 2), padding=[(0, 0), (1, 1)])


@pytest.mark.parametrize("name", ["max_pool", "avg_pool"])
@pytest.mark.parametrize("padding", [2, ((0, 0), (0, 2)), ((2, 0), (0, 0))])
def test_pooling_refuses_padding_as_large_as_the_window(name, padding):
    """A window wholly in the padding has no pixel: max would be -inf, the average without
    the padding 0/0. Either side of either axis as large as the window is refused."""
    x = _normal(6, (1, 5, 5, 2))
    with pytest.raises(ValueError, match=rf"^{name}: padding .* must be smaller than the window"):
        getattr(conv, name)(x, (2, 2), (2, 2), padding)
    one_less = 1 if padding == 2 else tuple((min(lo, 1), min(hi, 1)) for lo, hi in padding)
    y = getattr(conv, name)(x, (2, 2), (2, 2), one_less)
    assert bool(jnp.all(jnp.isfinite(y)))


def test_avg_pool_sums_float16_in_float32():
    """Four float16 pixels of 30000: their sum (120000) is beyond float16's 65504, their mean
    is not; the mean comes back in float16."""
    x = jnp.full((1, 2, 2, 1), 30000.0, jnp.float16)
    for flag in (True, False):
        y = conv.avg_pool(x, (2, 2), count_include_pad=flag)
        assert y.dtype == jnp.float16 and float(y[0, 0, 0, 0]) == 30000.0
