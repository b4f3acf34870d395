"""Sampling: the tempered softmax formula, its limits, top-k and nucleus truncations,
greedy decoding with and without the cache; the Markov source's stationary distribution
and entropy rate."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dlmath import data, information, sampling
from dlmath import transformer_decoder as TD

Z = jnp.array([[2.0, 1.0, 0.5, -1.0, 1.0], [0.0, 3.0, -2.0, 0.1, 0.2]])


def _np_probs(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_sampling_distribution_is_the_tempered_softmax_formula():
    from dlmath.formulas import language as FL

    for tau in (0.5, 1.0, 3.0):
        got = sampling.sampling_distribution(Z, temperature=tau)
        ref = np.array([[FL.TEMPERED_SOFTMAX.reference(Z[b], j, tau, 5) for j in range(5)]
                        for b in range(2)])
        np.testing.assert_allclose(got, ref, atol=1e-6)


def test_temperature_limits_argmax_and_uniform():
    z = np.asarray(Z, np.float64)
    np.testing.assert_allclose(sampling.sampling_distribution(Z, temperature=1e-3),
                               np.eye(5)[z.argmax(-1)], atol=1e-6)
    np.testing.assert_allclose(sampling.sampling_distribution(Z, temperature=0.0),
                               np.eye(5)[z.argmax(-1)], atol=0)
    np.testing.assert_allclose(sampling.sampling_distribution(Z, temperature=1e5),
                               np.full((2, 5), 0.2), atol=1e-4)
    np.testing.assert_array_equal(sampling.greedy(Z), z.argmax(-1))


def test_top_k_and_top_p_keep_the_documented_tokens_renormalised():
    z = np.asarray(Z, np.float64)
    keep_k = np.asarray(sampling.top_k_mask(Z, 2))
    np.testing.assert_array_equal(keep_k, [[1, 1, 0, 0, 0], [0, 1, 0, 0, 1]])  # ties: lower id
    p = _np_probs(z)
    keep_p = np.zeros_like(keep_k)
    for b in range(2):
        order = np.argsort(-p[b], kind="stable")
        before = np.cumsum(p[b][order]) - p[b][order]
        keep_p[b, order] = before < 0.7
    np.testing.assert_array_equal(sampling.top_p_mask(Z, 0.7), keep_p)
    got = sampling.sampling_distribution(Z, top_p=0.7)
    np.testing.assert_allclose(got, np.where(keep_p, p, 0) / (p * keep_p).sum(-1, keepdims=True),
                               atol=1e-6)
    both = sampling.sampling_distribution(Z, top_k=2, top_p=1.0)
    np.testing.assert_allclose(both, np.where(keep_k, p, 0) / (p * keep_k).sum(-1, keepdims=True),
                               atol=1e-6)
    assert np.asarray(sampling.top_p_mask(Z, 1e-6)).sum(-1).tolist() == [1, 1]


def test_sample_frequencies_follow_the_distribution():
    n = 20000
    keys = jax.random.split(jax.random.key(0), n)
    draws = jax.vmap(lambda k: sampling.sample_logits.kernel(k, Z[0], top_k=3))(keys)
    freq = np.bincount(np.asarray(draws), minlength=5) / n
    p = np.asarray(sampling.sampling_distribution(Z[0], top_k=3), np.float64)
    se = np.sqrt(p * (1 - p) / n)  # the standard error of each frequency
    assert np.all(np.abs(freq - p) <= 5 * se + 1e-12), (freq, p)
    assert np.all(freq[p == 0] == 0)  # a token cut by top-k is never drawn


@pytest.fixture(scope="module")
def tiny_model():
    """A one-block decoder, V = 5, E = 4, two query heads sharing one key/value head (the
    tree of init_decoder(key, 5, 4, 1, 2, 1, 8), drawn with NumPy: no compiles)."""
    rng = np.random.default_rng(0)
    shapes = {"embed": (5, 4), "norm": {"scale": (4,)}, "head": {"w": (4, 5), "b": (5,)},
              "block0": {"norm1": {"scale": (4,)}, "norm2": {"scale": (4,)},
                         **{k: {"w": (i, o), "b": (o,)} for k, i, o in (
                             ("q", 4, 4), ("k", 4, 2), ("v", 4, 2), ("o", 4, 4),
                             ("linear1", 4, 8), ("linear2", 8, 4))}}}
    params = jax.tree_util.tree_map(
        lambda sh: jnp.asarray(rng.standard_normal(sh), jnp.float32), shapes,
        is_leaf=lambda x: isinstance(x, tuple))
    ref = jax.eval_shape(lambda: TD.init_decoder(jax.random.key(0), 5, 4, 1, 2, 1, 8))
    assert jax.tree_util.tree_structure(params) == jax.tree_util.tree_structure(ref)
    return params


def test_greedy_with_the_cache_equals_greedy_without_token_for_token(tiny_model):
    params, n = tiny_model, 5
    prompt = jax.random.randint(jax.random.key(1), (3, 3), 0, 5)
    cached = sampling.generate(jax.random.key(2), params, prompt, n, 2, temperature=0.0)
    plain = sampling.generate(jax.random.key(2), params, prompt, n, 2, temperature=0.0,
                              use_cache=False)
    assert cached.shape == (3, 3 + n)
    np.testing.assert_array_equal(cached, plain)
    np.testing.assert_array_equal(cached[:, :3], prompt)
    # greedy by hand: token t + 1 is the argmax of the full decoder's logits at position t.
    # One buffer of 3 + n tokens (one compile): the decoder is causal
    # (test_decoder.test_rows_depend_on_earlier_tokens_only), so its row t ignores the
    # zeros after t.
    seq = np.zeros((3, 3 + n), np.int32)
    seq[:, :3] = np.asarray(prompt)
    for t in range(3, 3 + n):
        seq[:, t] = np.asarray(sampling.greedy(TD.decoder(params, jnp.asarray(seq), 2)[:, t - 1]))
    np.testing.assert_array_equal(cached, seq)


def test_entropy_rate_is_its_formula_and_the_sampled_nll():
    from dlmath.formulas import language as FL

    table = data.markov_chain(jax.random.key(0), 3, 2, concentration=0.5)
    pi = information.stationary_distribution(table)
    ref = FL.ENTROPY_RATE.reference(table, pi, 9, 3)
    h = information.entropy_rate(table)
    np.testing.assert_allclose(h, ref, rtol=1e-5)
    # the mean next-token NLL of sampled text: independent sequences, so the standard error
    # is that of the per-sequence means
    x = np.asarray(data.markov_sample(jax.random.key(1), table, 64, 200))
    nll = -np.log(np.asarray(table)[x[:, :-2] * 3 + x[:, 1:-1], x[:, 2:]]).mean(axis=1)
    se = nll.std(ddof=1) / np.sqrt(len(nll))
    assert abs(nll.mean() - float(h)) < 5 * se, (nll.mean(), float(h), se)
    assert se < 0.02  # the test can tell a wrong rate apart


def test_stationary_distribution_is_an_eigenvector():
    table = np.random.default_rng(3).dirichlet(np.ones(2), size=8)  # V = 2, order 3
    pi = np.asarray(information.stationary_distribution(table), np.float64)
    M = np.zeros((8, 8))
    for s in range(8):
        for x in range(2):
            M[s, (2 * s + x) % 8] += table[s, x]
    np.testing.assert_allclose(pi @ M, pi, atol=1e-6)
    assert abs(pi.sum() - 1) < 1e-6 and (pi > 0).all()


def test_errors(tiny_model):
    with pytest.raises(ValueError, match="^top_k_mask: k must be an int"):
        sampling.top_k_mask(Z, 6)
    with pytest.raises(ValueError, match="^top_p_mask: p must be a finite number in"):
        sampling.top_p_mask(Z, 0.0)
    with pytest.raises(ValueError, match="^sample_logits: temperature"):
        sampling.sample_logits(jax.random.key(0), Z, temperature=-1.0)
    with pytest.raises(ValueError, match=r"^entropy_rate: table must have shape \(V\*\*n, V\)"):
        information.entropy_rate(jnp.ones((5, 3)) / 3)
    with pytest.raises(ValueError, match="^markov_chain: order"):
        data.markov_chain(jax.random.key(0), 3, 0)
    with pytest.raises(ValueError, match="^generate: prompt must hold at least one token"):
        sampling.generate(jax.random.key(0), tiny_model, jnp.zeros((1, 0), jnp.int32), 2, 2)
