"""Unit tests of dlmath.transformer: the pre-norm block against a NumPy reference (values,
causality, parameter count) and the sinusoidal positions, with their error paths."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_attention import _per_head_reference

from dlmath import attention as A
from dlmath import transformer as T


def test_sinusoidal_positions():
    pe = T.sinusoidal_positions(6, 4)
    assert pe.shape == (6, 4)
    t = np.arange(6)[:, None]
    np.testing.assert_allclose(pe[:, 0::2], np.sin(t * 10000.0 ** (-np.arange(0, 4, 2) / 4)),
                               atol=1e-6)
    np.testing.assert_allclose(pe[:, 1::2], np.cos(t * 10000.0 ** (-np.arange(0, 4, 2) / 4)),
                               atol=1e-6)


def test_positions_errors_and_a_traced_base():
    with pytest.raises(ValueError, match=r"sinusoidal_positions: dim must be even"):
        T.sinusoidal_positions(4, 3)
    with pytest.raises(ValueError, match=r"sinusoidal_positions: base must be a finite number"):
        T.sinusoidal_positions(4, 4, base=1.0)
    traced = jax.jit(lambda b: T.sinusoidal_positions(3, 4, base=b))(10000.0)
    np.testing.assert_allclose(traced, T.sinusoidal_positions(3, 4), atol=1e-6)


# ---------------------------------------------------------------- the pre-norm block


def test_transformer_block_equals_a_numpy_reference_and_counts_its_parameters():
    E, F, H = 8, 12, 2
    p = T.init_transformer_block(jax.random.key(4), E, F)
    assert set(p) == set(T.BLOCK_PARAM_NAMES)
    assert sum(a.size for a in p.values()) == 4 * E**2 + 2 * E * F + 9 * E + F
    p["norm1_weight"] = p["norm1_weight"] * 1.5
    p["norm2_bias"] = p["norm2_bias"] + 0.2
    x = jax.random.normal(jax.random.key(5), (2, 5, E))

    def ln(z, w, b):
        z = np.asarray(z, np.float64)
        mu = z.mean(-1, keepdims=True)
        return (z - mu) / np.sqrt(((z - mu) ** 2).mean(-1, keepdims=True) + 1e-5) * w + b

    attn = {n: p[f"self_attn_{n}"] for n in A.PARAM_NAMES}
    z = z1 = ln(x, p["norm1_weight"], p["norm1_bias"])
    h = np.asarray(x) + _per_head_reference(attn, z, z, z, H)
    z = ln(h, p["norm2_weight"], p["norm2_bias"])
    hidden = np.maximum(z @ np.asarray(p["linear1_weight"]).T + np.asarray(p["linear1_bias"]), 0)
    want = h + hidden @ np.asarray(p["linear2_weight"]).T + np.asarray(p["linear2_bias"])
    np.testing.assert_allclose(T.transformer_block(p, x, H), want, atol=3e-5)
    np.testing.assert_allclose(T.block_attention_weights(p, x, H),  # the weights behind h
                               A.multi_head_attention_weights(attn, z1, z1, H), atol=1e-6)
    causal = T.transformer_block(p, x, H, is_causal=True)
    later = x.at[:, 3:].set(0.0)  # changing positions >= 3 leaves outputs 0..2 unchanged
    np.testing.assert_allclose(T.transformer_block(p, later, H, is_causal=True)[:, :3],
                               causal[:, :3], atol=1e-6)


def test_transformer_block_errors():
    p = T.init_transformer_block(jax.random.key(4), 8, 12)
    x = jnp.ones((2, 5, 8))
    f = T.transformer_block
    with pytest.raises(ValueError, match=r"transformer_block: params must be a dict with exactly"):
        f({k: v for k, v in p.items() if k != "norm2_bias"}, x, 2)
    with pytest.raises(ValueError, match=r"transformer_block: params\['linear2_weight'\] must "
                                         r"have shape \(8, 12\)"):
        f({**p, "linear2_weight": jnp.ones((8, 11))}, x, 2)
    with pytest.raises(ValueError, match=r"transformer_block: params\['self_attn_in_proj_weight"
                                         r"'\] must have shape \(18, 6\)"):
        f(p, jnp.ones((2, 5, 6)), 2)
    with pytest.raises(TypeError, match=r"transformer_block: x must be a floating-point array"):
        f(p, x.astype(jnp.int32), 2)
    with pytest.raises(ValueError, match=r"transformer_block: eps must be a finite number"):
        f(p, x, 2, eps=0.0)
    with pytest.raises(ValueError, match=r"transformer_block: the embedding size E = 8 must "
                                         r"be divisible by num_heads = 3"):
        f(p, x, 3)
    with pytest.raises(ValueError, match=r"transformer_block: mask must broadcast to .* "
                                         r"\(2, 5, 5\)"):
        f(p, x, 2, jnp.ones((5, 4), bool))
    with pytest.raises(TypeError, match=r"transformer_block: is_causal"):
        f(p, x, 2, is_causal=1)
    with pytest.raises(TypeError, match=r"init_transformer_block: dtype must be a floating"):
        T.init_transformer_block(jax.random.key(0), 8, 4, dtype=jnp.int32)
    with pytest.raises(ValueError, match=r"init_transformer_block: hidden_dim must be an int"):
        T.init_transformer_block(jax.random.key(0), 8, 0)
