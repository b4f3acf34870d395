"""The decoder-only transformer: causal, its cached step equals the full pass, its
parameter count, and its errors."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dlmath import transformer_decoder as TD

V, E, N, HQ, HKV, F = 7, 8, 2, 4, 2, 16


@pytest.fixture(scope="module")
def params():
    return TD.init_decoder(jax.random.key(0), V, E, N, HQ, HKV, F)


def _tokens(B=2, T=6, seed=1):
    return jax.random.randint(jax.random.key(seed), (B, T), 0, V)


def test_parameter_count_is_the_tree_size(params):
    assert sum(x.size for x in jax.tree_util.tree_leaves(params)) == \
        TD.decoder_parameter_count(V, E, N, HQ, HKV, F)
    mha = TD.decoder_parameter_count(V, E, N, HQ, HQ, F)
    gqa = TD.decoder_parameter_count(V, E, N, HQ, HKV, F)
    dh = E // HQ
    assert mha - gqa == 2 * N * (E + 1) * (HQ - HKV) * dh  # k and v, weights and biases


def test_rows_depend_on_earlier_tokens_only(params):
    tokens = _tokens()
    logits = TD.decoder(params, tokens, HQ)
    assert logits.shape == (2, 6, V)
    changed = TD.decoder(params, tokens.at[:, 4].set((tokens[:, 4] + 1) % V), HQ)
    np.testing.assert_allclose(changed[:, :4], logits[:, :4], atol=1e-6)
    assert np.abs(np.asarray(changed[:, 4:] - logits[:, 4:])).max() > 1e-4


def test_cached_steps_equal_the_full_pass(params):
    tokens = _tokens()
    full = TD.decoder(params, tokens, HQ)
    caches = TD.init_decoder_cache(params, 2, 8, HQ)
    first, caches = TD.decoder_step(params, tokens[:, :4], caches, HQ)
    rest = []
    for t in range(4, 6):
        logits, caches = TD.decoder_step(params, tokens[:, t:t + 1], caches, HQ)
        rest.append(logits)
    np.testing.assert_allclose(jnp.concatenate([first, *rest], axis=1), full, atol=1e-5)
    assert all(int(c.length) == 6 for c in caches)


def test_errors(params):
    tokens = _tokens()
    with pytest.raises(ValueError, match="^decoder: the embedding size E = 8 must be divisible"):
        TD.decoder(params, tokens, 3)
    with pytest.raises(ValueError, match="^decoder: the head size Dh = E / num_heads = 8 / 8"):
        TD.decoder(params, tokens, 8)
    odd = TD.init_decoder(jax.random.key(0), V, 12, 1, 2, 1, F)  # k's width 6 = 1 head of 6
    with pytest.raises(ValueError, match="^decoder: the key/value heads must divide"):
        TD.decoder(odd, tokens, 3)  # Dh = 4: k's width 6 is no whole number of heads
    with pytest.raises(TypeError, match="^decoder: tokens must be integer"):
        TD.decoder(params, tokens.astype(jnp.float32), HQ)
    with pytest.raises(ValueError, match="^decoder: token ids must lie in"):
        TD.decoder(params, tokens.at[0, 0].set(V), HQ)
    caches = TD.init_decoder_cache(params, 2, 6, HQ)
    _, caches = TD.decoder_step(params, tokens, caches, HQ)
    with pytest.raises(ValueError, match="^decoder_step: the cache is full"):
        TD.decoder_step(params, tokens[:, :1], caches, HQ)
    with pytest.raises(TypeError, match="^decoder_step: caches must be a tuple of 2 KVCache"):
        TD.decoder_step(params, tokens[:, :1], list(caches), HQ)
    with pytest.raises(ValueError, match="^decoder_parameter_count: num_heads = 4 must be "
                                         "divisible by num_kv_heads = 3"):
        TD.decoder_parameter_count(V, E, N, HQ, 3, F)


def test_bad_input_found_by_the_fuzz(params):
    """Each case raised an unclear error (or none) before its check: a clear ValueError or
    TypeError naming the function and the argument, or the documented result."""
    tokens = _tokens()
    # an empty batch passes through (the heads' reshape could not infer -1 from 0 elements)
    assert TD.decoder(params, tokens[:0], HQ).shape == (0, 6, V)
    # a scalar weight is a wrong shape, not an IndexError
    bad = {**params, "block0": {**params["block0"], "q": {**params["block0"]["q"],
                                                          "w": jnp.float32(1.0)}}}
    with pytest.raises(ValueError, match="^decoder: params"):
        TD.decoder(bad, tokens, HQ)
    # init_decoder's messages carry its own name; an odd head size is refused up front
    with pytest.raises(ValueError, match="^init_decoder: .*embed_dim"):
        TD.init_decoder(jax.random.key(0), V, 6, 1, 4, 2, F)
    with pytest.raises(ValueError, match="^init_decoder: the head size Dh"):
        TD.init_decoder(jax.random.key(0), V, 6, 1, 2, 1, F)
    with pytest.raises(ValueError, match="^decoder_parameter_count: the head size Dh"):
        TD.decoder_parameter_count(V, 6, 1, 2, 1, F)
    # caches that do not fit the tokens or the parameters
    caches = TD.init_decoder_cache(params, 3, 8, HQ)
    with pytest.raises(ValueError, match=r"^decoder_step: caches\[0\].key must be"):
        TD.decoder_step(params, tokens, caches, HQ)
    wrong = tuple(c._replace(key=c.key[..., :1, :]) for c in TD.init_decoder_cache(
        params, 2, 8, HQ))
    with pytest.raises(ValueError, match=r"^decoder_step: caches\[0\]"):
        TD.decoder_step(params, tokens, wrong, HQ)
    # generate names its argument: prompt
    from dlmath import sampling

    with pytest.raises(TypeError, match="^generate: prompt must be integer"):
        sampling.generate(jax.random.key(0), params, tokens.astype(jnp.float32), 1, HQ)
