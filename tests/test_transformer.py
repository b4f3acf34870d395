"""Unit tests of dlmath.transformer: the pre-norm block against a NumPy reference of
PyTorch's layer (values, causality, parameter count), its initialisation, its one check of
the mask, and the sinusoidal positions, with their error paths."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_attention import _per_head_reference

from dlmath import attention as A
from dlmath import convert
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
    assert set(p) == {"self_attn", "linear1", "linear2", "norm1", "norm2"}
    assert sum(a.size for a in jax.tree_util.tree_leaves(p)) == 4 * E**2 + 2 * E * F + 9 * E + F
    p["norm1"]["scale"] = p["norm1"]["scale"] * 1.5
    p["norm2"]["bias"] = p["norm2"]["bias"] + 0.2
    x = jax.random.normal(jax.random.key(5), (2, 5, E))

    def ln(z, w, b):
        z = np.asarray(z, np.float64)
        mu = z.mean(-1, keepdims=True)
        return (z - mu) / np.sqrt(((z - mu) ** 2).mean(-1, keepdims=True) + 1e-5) * w + b

    # the reference: PyTorch's TransformerEncoderLayer on its state_dict (x W^T + b)
    sd = {k: np.asarray(v, np.float64)
          for k, v in convert.to_pytorch(p, "transformer_block").items()}
    z = z1 = ln(x, sd["norm1.weight"], sd["norm1.bias"])
    h = np.asarray(x) + _per_head_reference(p["self_attn"], z, z, z, H)
    z = ln(h, sd["norm2.weight"], sd["norm2.bias"])
    hidden = np.maximum(z @ sd["linear1.weight"].T + sd["linear1.bias"], 0)
    want = h + hidden @ sd["linear2.weight"].T + sd["linear2.bias"]
    np.testing.assert_allclose(T.transformer_block(p, x, H), want, atol=3e-5)
    np.testing.assert_allclose(T.block_attention_weights(p, x, H),  # the weights behind h
                               A.multi_head_attention_weights(p["self_attn"], z1, z1, H),
                               atol=1e-6)
    causal = T.transformer_block(p, x, H, is_causal=True)
    later = x.at[:, 3:].set(0.0)  # changing positions >= 3 leaves outputs 0..2 unchanged
    np.testing.assert_allclose(T.transformer_block(p, later, H, is_causal=True)[:, :3],
                               causal[:, :3], atol=1e-6)


def test_transformer_block_errors():
    p = T.init_transformer_block(jax.random.key(4), 8, 12)
    x = jnp.ones((2, 5, 8))
    f = T.transformer_block
    with pytest.raises(ValueError, match=r"transformer_block: params must be a dict with exactly"):
        f({**p, "norm2": {"scale": p["norm2"]["scale"]}}, x, 2)
    with pytest.raises(ValueError, match=r"transformer_block: params\['linear2'\]\['w'\] must "
                                         r"have shape \(F, E\) = \(12, 8\)"):
        f({**p, "linear2": {"w": jnp.ones((11, 8)), "b": p["linear2"]["b"]}}, x, 2)
    with pytest.raises(ValueError, match=r"transformer_block: params\['self_attn'\]\['in_proj'\]"
                                         r"\['w'\] must have shape \(E, 3E\) = \(6, 18\)"):
        f(p, jnp.ones((2, 5, 6)), 2)
    with pytest.raises(TypeError, match=r"transformer_block: x must be a floating-point array"):
        f(p, x.astype(jnp.int32), 2)
    with pytest.raises(ValueError, match=r"transformer_block: eps must be a finite number"):
        f(p, x, 2, eps=-1e-5)
    assert bool(jnp.all(jnp.isfinite(f(p, x, 2, eps=0.0))))  # eps >= 0, the package's one rule
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


def test_init_draws_pytorchs_linear_default_in_its_layout():
    """linear1/linear2: PyTorch's U(-1/sqrt(fan_in), 1/sqrt(fan_in)) drawn in its (out, in)
    layout, kernels transposed (the draw of chapter 08 is unchanged); norms 1 and 0."""
    E, F, key = 8, 12, jax.random.key(6)
    p = T.init_transformer_block(key, E, F)
    _, k1, k2, k3, k4 = jax.random.split(key, 5)
    u = lambda k, shape, fan_in: jax.random.uniform(  # noqa: E731
        k, shape, jnp.float32, -1 / np.sqrt(fan_in), 1 / np.sqrt(fan_in))
    np.testing.assert_array_equal(p["linear1"]["w"].T, u(k1, (F, E), E))
    np.testing.assert_array_equal(p["linear1"]["b"], u(k2, (F,), E))
    np.testing.assert_array_equal(p["linear2"]["w"].T, u(k3, (E, F), F))
    np.testing.assert_array_equal(p["linear2"]["b"], u(k4, (E,), F))
    np.testing.assert_array_equal(p["norm1"]["scale"], np.ones(E))
    np.testing.assert_array_equal(p["norm2"]["bias"], np.zeros(E))


def test_the_block_checks_its_mask_once(monkeypatch):
    """transformer_block -> multi_head_attention -> scaled_dot_product_attention: the outer
    function checks the mask, the inner ones run as their kernels."""
    from dlmath import _checks

    calls = []
    real = _checks.require_mask
    monkeypatch.setattr(_checks, "require_mask", lambda *a: calls.append(a[0]) or real(*a))
    p = T.init_transformer_block(jax.random.key(4), 8, 12)
    x = jax.random.normal(jax.random.key(5), (2, 5, 8))
    mask = jnp.tril(jnp.ones((5, 5), bool))
    T.transformer_block(p, x, 2, mask)
    assert calls == ["transformer_block"]
    calls.clear()
    A.multi_head_attention(p["self_attn"], x, x, x, 2, mask)
    assert calls == ["multi_head_attention"]
