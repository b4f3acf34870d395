"""Unit tests of dlmath.attention: values against jax.nn.dot_product_attention (its layout is
(B, T, heads, D): the tests insert a head axis of 1), gradients against jax.grad, jax.vjp
and float64 finite differences, the blocked kernel against the reference, masks, float16,
and every error path."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dlmath import attention as A
from dlmath import convert
from dlmath.testing import verify


def _qkv(seed=0, batch=(2,), T=5, S=7, D=4, Dv=4, scale=1.0, dtype=jnp.float32):
    k = jax.random.split(jax.random.key(seed), 3)
    q = scale * jax.random.normal(k[0], (*batch, T, D), dtype)
    kk = scale * jax.random.normal(k[1], (*batch, S, D), dtype)
    v = jax.random.normal(k[2], (*batch, S, Dv), dtype)
    return q, kk, v


def _peer(q, k, v, mask=None, is_causal=False):
    """jax.nn.dot_product_attention in dlmath's layout (*B, T, D): one head axis inserted."""
    m = None if mask is None else jnp.broadcast_to(mask, (*q.shape[:-1], k.shape[-2]))[:, None]
    return jax.nn.dot_product_attention(q[:, :, None], k[:, :, None], v[:, :, None], mask=m,
                                        is_causal=is_causal)[:, :, 0]


def _naive(q, k, v, allowed=None):
    """float64 NumPy reference, the formula written out."""
    q, k, v = (np.asarray(x, np.float64) for x in (q, k, v))
    s = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if allowed is not None:
        s = np.where(allowed, s, -np.inf)
    m = np.max(s, -1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    e = np.exp(s - m)
    z = e.sum(-1, keepdims=True)
    return (e / np.where(z > 0, z, 1)) @ v


@pytest.mark.parametrize("is_causal", [False, True])
def test_values_equal_jax_nn_and_the_formula(is_causal):
    q, k, v = _qkv()
    out = A.scaled_dot_product_attention(q, k, v, is_causal=is_causal)
    np.testing.assert_allclose(out, _peer(q, k, v, is_causal=is_causal), atol=2e-6)
    allowed = np.tril(np.ones((5, 7), bool)) if is_causal else None
    np.testing.assert_allclose(out, _naive(q, k, v, allowed), atol=2e-6)


def test_mask_and_many_batch_axes():
    q, k, v = _qkv(batch=(2, 3), Dv=3)
    mask = jax.random.bernoulli(jax.random.key(5), 0.6, (2, 1, 5, 7)).at[..., 0].set(True)
    out = A.scaled_dot_product_attention(q, k, v, mask)
    np.testing.assert_allclose(out, _naive(q, k, v, np.broadcast_to(mask, (2, 3, 5, 7))),
                               atol=2e-6)
    q2, k2, v2 = _qkv()
    pad = jnp.arange(7) < 4  # a padding mask over the keys, (S,)
    np.testing.assert_allclose(A.scaled_dot_product_attention(q2, k2, v2, pad),
                               _peer(q2, k2, v2, pad), atol=2e-6)


def test_fully_masked_row_is_zero_with_zero_gradient_never_nan():
    q, k, v = _qkv()
    mask = jnp.ones((5, 7), bool).at[2].set(False)
    out = A.scaled_dot_product_attention(q, k, v, mask)
    assert np.all(np.asarray(out[:, 2]) == 0)
    grads = jax.grad(lambda *a: A.scaled_dot_product_attention(*a, mask).sum(),
                     argnums=(0, 1, 2))(q, k, v)
    assert all(bool(jnp.isfinite(g).all()) for g in grads)
    assert np.all(np.asarray(grads[0][:, 2]) == 0)
    w = A.attention_weights(q, k, mask)
    np.testing.assert_allclose(w.sum(-1), np.where(np.arange(5) == 2, 0.0, 1.0)[None].repeat(2, 0),
                               atol=1e-6)
    empty = A.scaled_dot_product_attention(q, k[:, :0], v[:, :0])  # no keys at all
    assert empty.shape == (2, 5, 4) and not np.any(np.asarray(empty))


def test_large_scores_are_stable_in_float32_and_float16():
    q, k, v = _qkv(scale=100.0)
    out = A.scaled_dot_product_attention(q, k, v)
    assert bool(jnp.isfinite(out).all())
    np.testing.assert_allclose(out, _naive(q, k, v), atol=1e-3)
    q16, k16, v16 = (x.astype(jnp.float16) for x in (q, k, v))
    for f in (A.scaled_dot_product_attention, lambda *a: A.flash_attention(*a, block_size=3)):
        o16 = f(q16, k16, v16)
        assert o16.dtype == jnp.float16 and bool(jnp.isfinite(o16).all())
        np.testing.assert_allclose(np.asarray(o16, np.float32), _naive(q16, k16, v16), atol=2e-2)
        g = jax.grad(lambda x, f=f: f(x, k16, v16).astype(jnp.float32).sum())(q16)
        assert g.dtype == jnp.float16 and bool(jnp.isfinite(g).all())


@pytest.mark.parametrize("is_causal", [False, True])
def test_float64_gradients_against_jax_grad_and_finite_differences(is_causal):
    allowed = np.tril(np.ones((3, 4), bool)) if is_causal else None
    q, k, v = _qkv(batch=(), T=3, S=4, D=2, Dv=2)  # verify promotes them to float64
    w = np.linspace(-1.0, 1.0, 6).reshape(3, 2)
    reference_fn = jax.jit(lambda q, k, v: jnp.sum(w * A.scaled_dot_product_attention(
        q, k, v, is_causal=is_causal)))
    flash_fn = jax.jit(lambda q, k, v: jnp.sum(w * A.flash_attention(
        q, k, v, is_causal=is_causal, block_size=3)))
    for argnum in range(3):
        verify(reference_fn, [q, k, v], argnum=argnum,
               reference=lambda q, k, v: jnp.sum(w * _naive(q, k, v, allowed)),
               check_grads_order=1 if argnum == 0 else None)
        verify(flash_fn, [q, k, v], argnum=argnum, check_grads_order=None)


@pytest.mark.parametrize("is_causal", [False, True])
@pytest.mark.parametrize("block_size", [1, 3, 64])
@pytest.mark.parametrize("T,S", [(5, 7), (7, 5), (1, 1)])
def test_flash_equals_the_reference_values_and_vjp(is_causal, block_size, T, S):
    q, k, v = _qkv(T=T, S=S, Dv=3)
    ref = lambda *a: A.scaled_dot_product_attention(*a, is_causal=is_causal)
    fl = lambda *a: A.flash_attention(*a, is_causal=is_causal, block_size=block_size)
    out, vjp = jax.vjp(fl, q, k, v)
    out_ref, vjp_ref = jax.vjp(ref, q, k, v)
    np.testing.assert_allclose(out, out_ref, atol=1e-6)
    d_out = jax.random.normal(jax.random.key(9), out.shape)
    for a, b in zip(vjp(d_out), vjp_ref(d_out), strict=True):
        np.testing.assert_allclose(a, b, atol=5e-6)


def test_flash_fully_masked_rows_and_empty_inputs():
    q, k, v = _qkv(T=6, S=3)  # causal with T > S: no row is fully masked (s = 0 <= t)
    np.testing.assert_allclose(A.flash_attention(q, k, v, is_causal=True, block_size=2),
                               A.scaled_dot_product_attention(q, k, v, is_causal=True),
                               atol=1e-6)
    assert A.flash_attention(q, k[:, :0], v[:, :0]).shape == (2, 6, 4)
    assert A.flash_attention(q[:, :0], k, v).shape == (2, 0, 4)


def test_flash_never_builds_the_score_matrix():
    """Its compiled temporaries grow linearly in T; the reference's quadratically."""
    def temp(f, T):
        x = jax.ShapeDtypeStruct((T, 16), jnp.float32)
        return jax.jit(f).lower(x, x, x).compile().memory_analysis().temp_size_in_bytes

    flash = lambda q, k, v: A.flash_attention(q, k, v, block_size=64)
    ref = A.scaled_dot_product_attention
    T = 2048
    assert temp(ref, 2 * T) > 3 * temp(ref, T)  # ~4x: T^2
    assert temp(flash, 2 * T) < 2.5 * temp(flash, T)  # ~2x: T
    assert temp(flash, 2 * T) < 4 * T * 2 * T  # far below one T x S float32 matrix


def _torch(params):
    """PyTorch's nn.MultiheadAttention state_dict of ``params``, in float64 NumPy."""
    return {k: np.asarray(v, np.float64)
            for k, v in convert.to_pytorch(params, "multi_head_attention").items()}


def _per_head_reference(params, x_q, x_k, x_v, H, mask=None):
    """Per-head attention as PyTorch computes it from its state_dict (x W^T + b)."""
    E, sd = x_q.shape[-1], _torch(params)
    w_q, w_k, w_v = np.split(sd["in_proj_weight"], 3)
    b_q, b_k, b_v = np.split(sd["in_proj_bias"], 3)
    q, k, v = x_q @ w_q.T + b_q, x_k @ w_k.T + b_k, x_v @ w_v.T + b_v
    d = E // H
    heads = [_naive(q[..., h * d:(h + 1) * d], k[..., h * d:(h + 1) * d],
                    v[..., h * d:(h + 1) * d], mask) for h in range(H)]
    return np.concatenate(heads, -1) @ sd["out_proj.weight"].T + sd["out_proj.bias"]


def _mha_problem():
    """Multi-head parameters for E = 8 with biases that are not zero, and query, key and
    value inputs (T = 5, S = 6)."""
    params = A.init_multi_head_attention(jax.random.key(1), 8)
    params["in_proj"]["b"] = 0.1 * jax.random.normal(jax.random.key(2), (24,))
    params["out_proj"]["b"] = 0.1 * jax.random.normal(jax.random.key(3), (8,))
    return params, _qkv(T=5, S=6, D=8, Dv=8)


def test_multi_head_equals_per_head_reference_and_jax_nn_per_head():
    params, (xq, xk, xv) = _mha_problem()
    mask = jnp.arange(6) < 5
    out = A.multi_head_attention(params, xq, xk, xv, 2, mask)
    np.testing.assert_allclose(out, _per_head_reference(params, xq, xk, xv, 2, mask), atol=2e-5)
    # jax.nn with its (B, T, heads, D) layout: the projections split into 2 heads of 4
    w_q, w_k, w_v = jnp.split(params["in_proj"]["w"], 3, axis=1)
    b_q, b_k, b_v = jnp.split(params["in_proj"]["b"], 3)
    q = (xq @ w_q + b_q).reshape(2, 5, 2, 4)
    k = (xk @ w_k + b_k).reshape(2, 6, 2, 4)
    v = (xv @ w_v + b_v).reshape(2, 6, 2, 4)
    o = jax.nn.dot_product_attention(q, k, v, mask=jnp.broadcast_to(mask, (2, 2, 5, 6)))
    peer = o.reshape(2, 5, 8) @ params["out_proj"]["w"] + params["out_proj"]["b"]
    np.testing.assert_allclose(out, peer, atol=2e-5)
    causal = A.multi_head_attention(params, xq, xq, xq, 4, is_causal=True)
    np.testing.assert_allclose(causal, _per_head_reference(
        params, xq, xq, xq, 4, np.tril(np.ones((5, 5), bool))), atol=2e-5)
    assert A.multi_head_attention(params, xq, xk, xv, 8).shape == (2, 5, 8)


def test_multi_head_weights_are_each_heads_softmax_and_give_the_output():
    params, (xq, xk, xv) = _mha_problem()
    mask = jnp.arange(6) < 5
    weights = A.multi_head_attention_weights(params, xq, xk, 2, mask)
    assert weights.shape == (2, 2, 5, 6)
    sd = _torch(params)
    w_q, w_k, w_v = np.split(sd["in_proj_weight"], 3)
    b_q, b_k, b_v = np.split(sd["in_proj_bias"], 3)
    q, k, v = (np.asarray(x, np.float64) @ w.T + b for x, w, b in
               ((xq, w_q, b_q), (xk, w_k, b_k), (xv, w_v, b_v)))
    heads = []
    for h in range(2):
        cols = slice(4 * h, 4 * h + 4)  # the weights: the formula applied to the identity
        want = _naive(q[..., cols], k[..., cols], np.eye(6), mask)
        np.testing.assert_allclose(weights[:, h], want, atol=1e-6)
        heads.append(np.asarray(weights[:, h], np.float64) @ v[..., cols])
    out = np.concatenate(heads, -1) @ sd["out_proj.weight"].T + sd["out_proj.bias"]
    np.testing.assert_allclose(A.multi_head_attention(params, xq, xk, xv, 2, mask), out, atol=2e-5)
    causal = A.multi_head_attention_weights(params, xq, xq, 4, is_causal=True)
    assert causal.shape == (2, 4, 5, 5)
    assert np.all(np.triu(np.asarray(causal), 1) == 0)
    np.testing.assert_allclose(np.asarray(causal).sum(-1), 1.0, atol=1e-6)
    with pytest.raises(ValueError, match=r"multi_head_attention_weights: the embedding size E = 8 "
                                         r"must be divisible by num_heads = 3"):
        A.multi_head_attention_weights(params, xq, xk, 3)


def test_multi_head_equals_flax_multi_head_dot_product_attention():
    """flax.linen's module with the weights mapped by convert.to_flax: values (padding mask,
    causal mask, several heads) and the gradients with respect to the inputs."""
    import flax.linen as nn

    params, (xq, xk, xv) = _mha_problem()
    mask = jnp.arange(6) < 4
    causal = np.tril(np.ones((5, 5), bool))
    for heads in (4, 2):
        module = nn.MultiHeadDotProductAttention(num_heads=heads, qkv_features=8, out_features=8)
        variables = {"params": convert.to_flax(params, "multi_head_attention", num_heads=heads)}
        flax_shapes = jax.eval_shape(module.init, jax.random.key(0), xq, xk, xv)
        assert jax.tree_util.tree_map(jnp.shape, variables) == jax.tree_util.tree_map(
            jnp.shape, flax_shapes)
        peer = jax.jit(module.apply)
        ours = A.multi_head_attention(params, xq, xk, xv, heads, mask)
        np.testing.assert_allclose(ours, peer(variables, xq, xk, xv, mask=mask), atol=2e-5)
        causal_out = A.multi_head_attention(params, xq, xq, xq, heads, is_causal=True)
        np.testing.assert_allclose(causal_out, peer(variables, xq, xq, xq, mask=causal), atol=2e-5)
    head = jnp.linspace(-1.0, 1.0, 8)
    g_ours = jax.jit(jax.grad(lambda q, k: jnp.sum(
        A.multi_head_attention(params, q, k, k, 2, mask) * head), (0, 1)))(xq, xk)
    g_flax = jax.jit(jax.grad(lambda q, k: jnp.sum(
        module.apply(variables, q, k, k, mask=mask) * head), (0, 1)))(xq, xk)
    for a, b in zip(g_ours, g_flax, strict=True):
        np.testing.assert_allclose(a, b, atol=2e-5)


def test_init_is_pytorchs_glorot_draw_in_its_layout():
    """The kernels are the transposes of uniform draws in PyTorch's (out, in) layout with
    Glorot's bound sqrt(6 / (fan_in + fan_out)) (the draw of chapter 08 is unchanged)."""
    E, key = 6, jax.random.key(4)
    params = A.init_multi_head_attention(key, E)
    k_in, k_out = jax.random.split(key)
    a_in, a_out = np.sqrt(6.0 / (E + 3 * E)), np.sqrt(6.0 / (2 * E))
    np.testing.assert_array_equal(params["in_proj"]["w"].T, jax.random.uniform(
        k_in, (3 * E, E), jnp.float32, -a_in, a_in))
    np.testing.assert_array_equal(params["out_proj"]["w"].T, jax.random.uniform(
        k_out, (E, E), jnp.float32, -a_out, a_out))
    assert not np.any(np.asarray(params["in_proj"]["b"]))
    assert jax.tree_util.tree_map(jnp.shape, params) == {"in_proj": {"w": (6, 18), "b": (18,)},
                                                         "out_proj": {"w": (6, 6), "b": (6,)}}


def test_multi_head_casts_inputs_to_the_parameters_dtype():
    params = A.init_multi_head_attention(jax.random.key(1), 4, dtype=jnp.float16)
    x = jnp.ones((3, 4), jnp.float32)
    assert A.multi_head_attention(params, x, x, x, 2).dtype == jnp.float16


# ---------------------------------------------------------------- bad input


FUNCTIONS = [A.scaled_dot_product_attention, A.flash_attention]


@pytest.mark.parametrize("f", FUNCTIONS, ids=lambda f: f.__name__)
def test_shape_errors(f):
    q, k, v = _qkv()
    name = f.__name__
    with pytest.raises(ValueError, match=rf"{name}: query and key must have the same feature"):
        f(q, k[..., :3], v)
    with pytest.raises(ValueError, match=rf"{name}: key and value must have the same length S"):
        f(q, k, v[:, :6])
    with pytest.raises(ValueError, match=rf"{name}: query, key and value must have the same "
                                         "batch axes"):
        f(q, k[:1], v[:1])
    with pytest.raises(ValueError, match=rf"{name}: query must have at least 2 axes"):
        f(q[0, 0], k, v)
    with pytest.raises(ValueError, match=rf"{name}: query and key have feature size D = 0"):
        f(q[..., :0], k[..., :0], v)


@pytest.mark.parametrize("f", FUNCTIONS, ids=lambda f: f.__name__)
def test_dtype_and_flag_errors(f):
    q, k, v = _qkv()
    name = f.__name__
    with pytest.raises(TypeError, match=rf"{name}: key must be a floating-point array"):
        f(q, k.astype(jnp.int32), v)
    with pytest.raises(TypeError, match=rf"{name}: value must be a floating-point array.*"
                                        "Complex"):
        f(q, k, v.astype(jnp.complex64))
    with pytest.raises(TypeError, match=rf"{name}: query must be an array"):
        f(q.tolist(), k, v)
    with pytest.raises(TypeError, match=rf"{name}: is_causal must be a Python bool"):
        f(q, k, v, is_causal=1)


def test_mask_errors():
    q, k, v = _qkv()
    f = A.scaled_dot_product_attention
    with pytest.raises(ValueError, match=r"scaled_dot_product_attention: mask must broadcast to "
                                         r"\(\*B, T, S\) = \(2, 5, 7\); got mask \(5, 6\)"):
        f(q, k, v, jnp.ones((5, 6), bool))
    with pytest.raises(ValueError, match=r"mask must broadcast to .*got mask \(3, 5, 7\)"):
        f(q, k, v, jnp.ones((3, 5, 7), bool))
    with pytest.raises(TypeError, match=r"scaled_dot_product_attention: mask must be boolean"):
        f(q, k, v, jnp.zeros((5, 7)))
    with pytest.raises(ValueError, match=r"attention_weights: mask must broadcast"):
        A.attention_weights(q, k, jnp.ones((4,), bool))


def test_flash_block_size_errors():
    q, k, v = _qkv()
    with pytest.raises(ValueError, match=r"flash_attention: block_size must be an int >= 1"):
        A.flash_attention(q, k, v, block_size=0)
    with pytest.raises(TypeError, match=r"flash_attention: block_size must be an int"):
        A.flash_attention(q, k, v, block_size=2.0)


def test_multi_head_errors():
    params = A.init_multi_head_attention(jax.random.key(1), 6)
    x = jnp.ones((2, 3, 6))
    f = A.multi_head_attention
    with pytest.raises(ValueError, match=r"multi_head_attention: the embedding size E = 6 must "
                                         r"be divisible by num_heads = 4.*\[1, 2, 3, 6\]"):
        f(params, x, x, x, 4)
    with pytest.raises(TypeError, match=r"multi_head_attention: num_heads must be an int"):
        f(params, x, x, x, 2.0)
    with pytest.raises(ValueError, match=r"multi_head_attention: num_heads must be an int >= 1"):
        f(params, x, x, x, 0)
    with pytest.raises(ValueError, match=r"multi_head_attention: params\['in_proj'\]\['w'\] "
                                         r"must have shape \(E, 3E\) = \(8, 24\)"):
        f(params, jnp.ones((2, 3, 8)), jnp.ones((2, 3, 8)), jnp.ones((2, 3, 8)), 2)
    with pytest.raises(ValueError, match=r"multi_head_attention: params must be a dict with "
                                         r"exactly the entries"):
        f({**params, "in_proj_weight": params["in_proj"]["w"].T}, x, x, x, 2)
    half = {**params, "out_proj": {**params["out_proj"],
                                   "b": params["out_proj"]["b"].astype(jnp.float16)}}
    with pytest.raises(TypeError, match=r"multi_head_attention: every leaf of params must have "
                                        r"one float dtype"):
        f(half, x, x, x, 2)
    with pytest.raises(ValueError, match=r"multi_head_attention: value must have the embedding "
                                         r"size E"):
        f(params, x, x, jnp.ones((2, 3, 5)), 2)
    with pytest.raises(ValueError, match=r"multi_head_attention: mask must broadcast"):
        f(params, x, x, x, 2, jnp.ones((3, 4), bool))
    with pytest.raises(ValueError, match=r"multi_head_attention: key and value must have the "
                                         r"same length S"):
        f(params, x, x, x[:, :2], 2)


def test_init_errors():
    with pytest.raises(ValueError, match=r"init_multi_head_attention: embed_dim must be an int"):
        A.init_multi_head_attention(jax.random.key(0), 0)
    for dtype in (jnp.int32, jnp.complex64, jnp.bool_):
        with pytest.raises(TypeError, match=r"init_multi_head_attention: dtype must be a floating"):
            A.init_multi_head_attention(jax.random.key(0), 4, dtype=dtype)
    with pytest.raises(TypeError, match=r"init_multi_head_attention: key must be a jax.random"):
        A.init_multi_head_attention(None, 4)


# ---------------------------------------------------------------- the documented formulas


def test_documented_formulas_equal_the_code():
    """The $$ formulas of the docstrings (dlmath.formulas.attention), evaluated at S = 3,
    D = 2 with numbers for every entry, against the code."""
    import sympy as sp

    from dlmath.formulas import attention as FA

    q, k, v = _qkv(batch=(), T=2, S=3, D=2, Dv=1)
    numbers = {FA.q[r, c]: float(q[r, c]) for r in range(2) for c in range(2)}
    numbers |= {FA.k[r, c]: float(k[r, c]) for r in range(3) for c in range(2)}
    numbers |= {FA.v[r]: float(v[r, 0]) for r in range(3)}
    sizes = {FA.S: 3, FA.D: 2}
    weights = A.attention_weights(q, k)
    out = A.scaled_dot_product_attention(q, k, v)
    for row in range(2):
        for col in range(3):
            w = FA.ATTENTION_WEIGHT.expr.subs(sizes).subs({FA.i: row, FA.j: col}).doit()
            assert abs(float(w.subs(numbers)) - float(weights[row, col])) < 1e-6
        o = FA.ATTENTION_OUTPUT.expr.subs(sizes).subs({FA.i: row}).doit()
        assert abs(float(o.subs(numbers)) - float(out[row, 0])) < 1e-6
    # the streaming sum of one block, against the plain sum it keeps track of
    x = [0.3, -1.2, 2.5]
    m_old, ell_old = 1.0, 0.7
    new = FA.STREAMING_SUM.expr.subs(FA.n, 3).doit().subs(
        {FA.x[c]: x[c] for c in range(3)} | {FA.m: m_old, FA.m_new: 2.5, FA.ell: ell_old})
    assert abs(float(sp.exp(2.5) * new) - (ell_old * np.exp(m_old) + np.exp(x).sum())) < 1e-9
