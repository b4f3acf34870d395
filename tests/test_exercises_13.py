"""The checkers of chapter 13's exercises say right to a reference solution and to an
equivalent rewriting, and not right to plausible mistakes."""

from __future__ import annotations

import jax.numpy as jnp
import pytest
import sympy as sp
from exercise_harness import checkers

from dlmath.exercises import judge

CHAPTER = "13_language_models"
T, S, D = sp.symbols("T S D_h", integer=True, positive=True)


@pytest.fixture(scope="module")
def verdicts():
    return checkers(CHAPTER)


def test_exercise_2_attention_flops(verdicts):
    v = verdicts["Exercise 2"]
    assert judge("Exercise 2", 4 * T * S * D, v).ok is True
    assert judge("Exercise 2", 2 * T * S * D + 2 * T * D * S, v).ok is True  # the two products
    assert judge("Exercise 2", 2 * T * S * D, v).ok is False  # one product, or multiply-adds
    assert judge("Exercise 2", 4 * T * S * D**2, v).ok is False  # a factor D too many
    assert judge("Exercise 2", 4 * T**2 * D, v).ok is False  # self-attention's S = T assumed
    assert judge("Exercise 2", "4*T*S*D_h", v).ok is False
    t_, s_, d_ = sp.symbols("T S D_h")  # the same names, no assumptions: the same symbols
    assert judge("Exercise 2", 4 * t_ * s_ * d_, v).ok is True
    off_by_one = T * S * (2 * D - 1) + T * D * (2 * S - 1)  # n - 1 adds per dot product
    verdict = judge("Exercise 2", off_by_one, v)
    assert verdict.ok is False and "2n FLOPs" in verdict.message
    wrong_name = sp.Symbol("D", positive=True)  # D, not D_h
    assert judge("Exercise 2", 4 * T * S * wrong_name, v).ok is False


def _nucleus(probs, rho):
    order = jnp.argsort(-probs, axis=-1, stable=True)
    sorted_p = jnp.take_along_axis(probs, order, axis=-1)
    keep_sorted = jnp.cumsum(sorted_p, axis=-1) - sorted_p < rho
    keep = jnp.put_along_axis(jnp.zeros_like(keep_sorted), order, keep_sorted, axis=-1,
                              inplace=False)
    kept = jnp.where(keep, probs, 0.0)
    return kept / kept.sum(-1, keepdims=True)


def _nucleus_by_comparison(probs, rho):  # the same: mass of the tokens ranked before each one
    K = probs.shape[-1]
    idx = jnp.arange(K)
    pi, pj = probs[..., :, None], probs[..., None, :]  # (.., j, i): is token i before token j?
    before = (pj > pi) | ((pj == pi) & (idx[None, :] < idx[:, None]))
    mass_before = jnp.sum(jnp.where(before, pj, 0.0), axis=-1)
    kept = jnp.where(mass_before < rho, probs, 0.0)
    return kept / kept.sum(-1, keepdims=True)


def _inclusive_cumsum(probs, rho):  # drops the token that crosses rho
    order = jnp.argsort(-probs, axis=-1, stable=True)
    sorted_p = jnp.take_along_axis(probs, order, axis=-1)
    keep_sorted = jnp.cumsum(sorted_p, axis=-1) <= rho
    keep_sorted = keep_sorted.at[..., 0].set(True)
    keep = jnp.put_along_axis(jnp.zeros_like(keep_sorted), order, keep_sorted, axis=-1,
                              inplace=False)
    kept = jnp.where(keep, probs, 0.0)
    return kept / kept.sum(-1, keepdims=True)


def _not_renormalised(probs, rho):
    kept = _nucleus(probs, rho)
    return jnp.where(kept > 0, probs, 0.0)


def _ties_reversed(probs, rho):  # ties broken towards the higher index
    order = jnp.argsort(probs, axis=-1, stable=True)[..., ::-1]
    sorted_p = jnp.take_along_axis(probs, order, axis=-1)
    keep_sorted = jnp.cumsum(sorted_p, axis=-1) - sorted_p < rho
    keep = jnp.put_along_axis(jnp.zeros_like(keep_sorted), order, keep_sorted, axis=-1,
                              inplace=False)
    kept = jnp.where(keep, probs, 0.0)
    return kept / kept.sum(-1, keepdims=True)


def _unsorted(probs, rho):  # the prefix in vocabulary order, not by probability
    keep = jnp.cumsum(probs, axis=-1) - probs < rho
    kept = jnp.where(keep, probs, 0.0)
    return kept / kept.sum(-1, keepdims=True)


def test_exercise_3_nucleus(verdicts):
    v = verdicts["Exercise 3"]
    assert judge("Exercise 3", _nucleus, v).ok is True
    assert judge("Exercise 3", _nucleus_by_comparison, v).ok is True  # an equivalent rewriting
    for mistake in (_inclusive_cumsum, _not_renormalised, _ties_reversed, _unsorted):
        assert judge("Exercise 3", mistake, v).ok is False, mistake.__name__
    assert judge("Exercise 3", lambda probs, rho: probs, v).ok is False
