"""The key/value cache: prefill and decode steps equal full causal attention (the causal
mask aligned at the bottom right), one compiled step serves every position, and the
errors of a full cache, a position past the buffer and heads that do not divide."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dlmath import attention as A


def _seq(B=2, Hq=4, Hkv=2, T=6, D=3, seed=0):
    kq, kk, kv = jax.random.split(jax.random.key(seed), 3)
    return (jax.random.normal(kq, (B, Hq, T, D)), jax.random.normal(kk, (B, Hkv, T, D)),
            jax.random.normal(kv, (B, Hkv, T, D)))


def test_prefill_then_decode_equals_full_causal_attention():
    q, k, v = _seq()
    full = A.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    cache = A.init_kv_cache(2, 2, 8, 3)
    cache = A.update_kv_cache(cache, k[:, :, :3], v[:, :, :3])  # prefill 3 positions
    outs = [A.decode_attention(q[:, :, :3], cache)]
    for t in range(3, 6):
        cache = A.update_kv_cache(cache, k[:, :, t:t + 1], v[:, :, t:t + 1])
        outs.append(A.decode_attention(q[:, :, t:t + 1], cache))
    np.testing.assert_allclose(jnp.concatenate(outs, axis=2), full, atol=1e-6)
    assert int(cache.length) == 6
    # the same rows as attention with the mask aligned at the bottom right
    last = A.scaled_dot_product_attention(q[:, :, 4:], k, v,
                                          A.causal_mask(2, 6, alignment="bottom_right"),
                                          enable_gqa=True)
    np.testing.assert_allclose(last, full[:, :, 4:], atol=1e-6)


def test_one_compiled_step_serves_every_position():
    q, k, v = _seq(T=5)

    @jax.jit
    def step(cache, q1, k1, v1):
        cache = A.update_kv_cache.kernel(cache, k1, v1)
        return A.decode_attention.kernel(q1, cache), cache

    cache = A.init_kv_cache(2, 2, 5, 3)
    outs = []
    for t in range(5):
        o, cache = step(cache, q[:, :, t:t + 1], k[:, :, t:t + 1], v[:, :, t:t + 1])
        outs.append(o)
    assert step._cache_size() == 1
    full = A.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    np.testing.assert_allclose(jnp.concatenate(outs, axis=2), full, atol=1e-6)
    # past the buffer under jit: unchecked, the step returns NaN and leaves the buffers
    o, after = step(cache, q[:, :, :1], k[:, :, :1], v[:, :, :1])
    assert np.isnan(np.asarray(o)).all() and int(after.length) == 6
    np.testing.assert_array_equal(after.key, cache.key)


def test_cache_bytes():
    cache = A.init_kv_cache(1, 2, 16, 8, jnp.bfloat16)
    assert cache.key.nbytes + cache.value.nbytes == 2 * 2 * 16 * 8 * 2
    assert cache.key.dtype == jnp.bfloat16 and cache.length.dtype == jnp.int32


def test_errors():
    q, k, v = _seq(T=3)
    cache = A.update_kv_cache(A.init_kv_cache(2, 2, 3, 3), k, v)
    with pytest.raises(ValueError, match=r"^update_kv_cache: the cache is full \(length 3"):
        A.update_kv_cache(cache, k[:, :, :1], v[:, :, :1])
    half = A.update_kv_cache(A.init_kv_cache(2, 2, 3, 3), k[:, :, :2], v[:, :, :2])
    with pytest.raises(ValueError, match="^update_kv_cache: the cache has room for 1"):
        A.update_kv_cache(half, k[:, :, :2], v[:, :, :2])
    past = cache._replace(length=jnp.asarray(4, jnp.int32))
    with pytest.raises(ValueError, match="^decode_attention: cache.length = 4 is a position past"):
        A.decode_attention(q, past)
    with pytest.raises(ValueError, match="^decode_attention: the key/value heads Hkv = 2 must "
                                         "divide the query heads Hq = 3"):
        A.decode_attention(q[:, :3], cache)
    with pytest.raises(ValueError, match="^decode_attention: the query's T = 3 positions"):
        A.decode_attention(q, half)
    with pytest.raises(TypeError, match="^decode_attention: cache must be a KVCache"):
        A.decode_attention(q, (k, v, 3))
    with pytest.raises(ValueError, match="^update_kv_cache: key must be"):
        A.update_kv_cache(A.init_kv_cache(2, 2, 3, 3), k[:, :1], v[:, :1])
    with pytest.raises(ValueError, match="^init_kv_cache: max_len"):
        A.init_kv_cache(2, 2, 0, 3)
