"""Grouped-query attention (enable_gqa), the aligned causal masks and the causal flash
kernel that skips the blocks above the diagonal."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dlmath import attention as A
from dlmath.testing import in_float64


def _qkv(B=2, Hq=6, Hkv=2, T=5, S=7, D=4, Dv=3, seed=0):
    kq, kk, kv = jax.random.split(jax.random.key(seed), 3)
    return (jax.random.normal(kq, (B, Hq, T, D)), jax.random.normal(kk, (B, Hkv, S, D)),
            jax.random.normal(kv, (B, Hkv, S, Dv)))


def _repeated(q, k, v, mask=None, is_causal=False):
    """The repeat-the-heads formulation: head h uses kv head h // (Hq // Hkv)."""
    g = q.shape[-3] // k.shape[-3]
    k, v = jnp.repeat(k, g, axis=-3), jnp.repeat(v, g, axis=-3)
    return A.scaled_dot_product_attention(q, k, v, mask, is_causal=is_causal)


@pytest.mark.parametrize("Hq,Hkv", [(6, 2), (4, 1), (3, 3)])
@pytest.mark.parametrize("is_causal", [False, True])
def test_gqa_equals_repeated_heads_and_jax_nn(Hq, Hkv, is_causal):
    q, k, v = _qkv(Hq=Hq, Hkv=Hkv, Dv=4)
    got = A.scaled_dot_product_attention(q, k, v, is_causal=is_causal, enable_gqa=True)
    ref = in_float64(lambda *a: _repeated(*a, is_causal=is_causal), q, k, v)
    np.testing.assert_allclose(got, ref, atol=2e-6)
    # jax.nn's layout is (B, T, N, H) and it accepts fewer key/value heads
    T = jnp.swapaxes
    peer = T(jax.nn.dot_product_attention(T(q, 1, 2), T(k, 1, 2), T(v, 1, 2),
                                          is_causal=is_causal), 1, 2)
    np.testing.assert_allclose(got, peer, atol=2e-6)


def test_gqa_with_a_mask_per_query_head_and_the_flash_kernel():
    q, k, v = _qkv()
    mask = jax.random.bernoulli(jax.random.key(5), 0.7, (2, 6, 5, 7))
    got = A.scaled_dot_product_attention(q, k, v, mask, enable_gqa=True)
    np.testing.assert_allclose(got, in_float64(_repeated, q, k, v, mask), atol=2e-6)
    for causal in (False, True):
        flash = A.flash_attention(q, k, v, is_causal=causal, block_size=2, enable_gqa=True)
        ref = in_float64(lambda *a, c=causal: _repeated(*a, is_causal=c), q, k, v)
        np.testing.assert_allclose(flash, ref, atol=2e-6)


def test_gqa_gradients_equal_the_repeated_heads():
    q, k, v = _qkv(T=4, S=4)

    def loss(fn):
        return lambda q, k, v: jnp.sum(jnp.sin(fn(q, k, v)))

    ref = jax.grad(loss(lambda *a: _repeated(*a, is_causal=True)), argnums=(0, 1, 2))(q, k, v)
    for fn in (lambda *a: A.scaled_dot_product_attention(*a, is_causal=True, enable_gqa=True),
               lambda *a: A.flash_attention(*a, is_causal=True, block_size=3, enable_gqa=True)):
        got = jax.grad(loss(fn), argnums=(0, 1, 2))(q, k, v)
        for g, r in zip(got, ref, strict=True):
            np.testing.assert_allclose(g, r, atol=1e-5)


def test_heads_that_do_not_divide_and_missing_head_axes_raise():
    q, k, v = _qkv(Hq=6, Hkv=4)
    for fn in (A.scaled_dot_product_attention, A.flash_attention):
        with pytest.raises(ValueError, match=r"^\w+: the key/value heads Hkv = 4 must divide"):
            fn(q, k, v, enable_gqa=True)
        with pytest.raises(ValueError, match="at least 3 axes"):
            fn(q[0, 0], k[0, 0], v[0, 0], enable_gqa=True)
        with pytest.raises(TypeError, match="enable_gqa"):
            fn(q, k, v, enable_gqa=1)


@pytest.mark.parametrize("T,S", [(3, 5), (5, 3), (4, 4), (0, 2)])
def test_causal_mask_alignments(T, S):
    top = A.causal_mask(T, S)
    bottom = A.causal_mask(T, S, alignment="bottom_right")
    np.testing.assert_array_equal(top, np.tril(np.ones((T, S), bool)))
    np.testing.assert_array_equal(bottom, np.tril(np.ones((T, S), bool), k=S - T))
    if T == S:
        np.testing.assert_array_equal(top, bottom)
    with pytest.raises(ValueError, match="^causal_mask: alignment must be one of"):
        A.causal_mask(T, S, alignment="lower_right")


def test_bottom_right_rows_are_the_last_rows_of_full_causal_attention():
    q, k, v = _qkv(T=7, S=7)
    full = A.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    last = A.scaled_dot_product_attention(q[..., 4:, :], k, v,
                                          A.causal_mask(3, 7, alignment="bottom_right"),
                                          enable_gqa=True)
    np.testing.assert_allclose(last, full[..., 4:, :], atol=1e-6)


def test_causal_flash_never_visits_the_blocks_above_the_diagonal():
    """Keys 4..7 lie in a block after every query of block 0 (queries 0..3). Masking them
    would still multiply their NaN values by weight 0 (NaN); skipping the block leaves
    queries 0..3 finite and equal to the reference."""
    kq, kk, kv = jax.random.split(jax.random.key(1), 3)
    q, k = jax.random.normal(kq, (1, 8, 3)), jax.random.normal(kk, (1, 8, 3))
    v = jax.random.normal(kv, (1, 8, 2)).at[:, 4:].set(jnp.nan)
    out = A.flash_attention(q, k, v, is_causal=True, block_size=4)
    ref = A.scaled_dot_product_attention(q[:, :4], k[:, :4], v[:, :4], is_causal=True)
    np.testing.assert_allclose(out[:, :4], ref, atol=1e-6)
    assert np.isnan(np.asarray(out[:, 4:])).all()
    # the gradient with respect to the queries of block 0 skips them as well
    g = jax.grad(lambda q: jnp.sum(A.flash_attention(q, k, v, is_causal=True,
                                                     block_size=4)[:, :4]))(q)
    assert np.isfinite(np.asarray(g[:, :4])).all()


def test_causal_flash_block_pairs_are_the_lower_triangle():
    """n query blocks visit n (n + 1) / 2 key blocks: the FLOPs saved against n^2."""
    n, b, D, Dv = 4, 2, 3, 2
    computed = sum(min(n, i + 1) for i in range(n))
    assert computed == n * (n + 1) // 2
    flops = 2 * b * b * (D + Dv)
    assert (n * n - computed) * flops == 6 * flops  # 6 of 16 block pairs skipped
    q, k, v = _qkv(B=1, Hq=1, Hkv=1, T=n * b, S=n * b, D=D, Dv=Dv)
    np.testing.assert_allclose(A.flash_attention(q, k, v, is_causal=True, block_size=b),
                               A.scaled_dot_product_attention(q, k, v, is_causal=True),
                               atol=1e-6)
