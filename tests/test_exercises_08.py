"""The checkers of chapter 08's exercises say right to a reference solution and not right to
plausible mistakes."""

from __future__ import annotations

import jax.numpy as jnp
import pytest
import sympy as sp
from exercise_harness import checkers

from dlmath.exercises import judge

CHAPTER = "08_attention"
sigma_q, sigma_k = sp.symbols("sigma_q sigma_k", positive=True)
d = sp.Symbol("D", integer=True, positive=True)


@pytest.fixture(scope="module")
def verdicts():
    return checkers(CHAPTER)


def test_exercise_1_the_score_scale(verdicts):
    v = verdicts["Exercise 1"]
    assert judge("Exercise 1", 1 / (sigma_q * sigma_k * sp.sqrt(d)), v).ok is True
    assert judge("Exercise 1", 1 / sp.sqrt(sigma_q**2 * sigma_k**2 * d), v).ok is True  # same
    assert judge("Exercise 1", 1 / sp.sqrt(d), v).ok is False  # forgot the variances
    assert judge("Exercise 1", 1 / (sigma_q**2 * sigma_k**2 * d), v).ok is False  # variance, not sd
    assert judge("Exercise 1", 1 / (sigma_q * sigma_k * d), v).ok is False  # 1/D, not 1/sqrt(D)
    assert judge("Exercise 1", -1 / (sigma_q * sigma_k * sp.sqrt(d)), v).ok is False  # sign
    assert judge("Exercise 1", "1/sqrt(D)", v).ok is False


def _reference(scores, mask):
    s = jnp.where(mask, scores, -jnp.inf)
    top = jnp.max(s, -1, keepdims=True)
    e = jnp.where(mask, jnp.exp(s - jnp.where(jnp.isfinite(top), top, 0.0)), 0.0)
    total = e.sum(-1, keepdims=True)
    return e / jnp.where(total > 0, total, 1.0)


def _naive(scores, mask):  # no max shift: overflows at 1e4
    e = jnp.where(mask, jnp.exp(scores), 0.0)
    return e / e.sum(-1, keepdims=True)


def _finite_fill(scores, mask):  # -1e9 instead of -inf: a fully masked row becomes uniform
    s = jnp.where(mask, scores, -1e9)
    e = jnp.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _unmasked(scores, mask):  # forgets the mask
    e = jnp.exp(scores - scores.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _wrong_axis(scores, mask):  # normalises over the queries
    return jnp.swapaxes(_reference(jnp.swapaxes(scores, 0, 1), jnp.swapaxes(mask, 0, 1)), 0, 1)


def test_exercise_2_masked_softmax(verdicts):
    v = verdicts["Exercise 2"]
    assert judge("Exercise 2", _reference, v).ok is True
    for mistake in (_naive, _finite_fill, _unmasked, _wrong_axis):
        assert judge("Exercise 2", mistake, v).ok is False, mistake.__name__
    assert judge("Exercise 2", lambda s, m: s, v).ok is False
