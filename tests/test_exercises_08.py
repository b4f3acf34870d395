"""The checkers of chapter 08's exercises say right to a reference solution and not right to
plausible mistakes."""

from __future__ import annotations

import jax.numpy as jnp
import pytest
import sympy as sp
from exercise_harness import checkers

from dlmath.exercises import judge

CHAPTER = "08_attention"
L, H, D, b = sp.symbols("L H D b", integer=True, positive=True)


@pytest.fixture(scope="module")
def verdicts():
    return checkers(CHAPTER)


def test_exercise_2_the_key_value_cache(verdicts):
    v = verdicts["Exercise 2"]
    assert judge("Exercise 2", 2 * L * H * D * b, v).ok is True
    assert judge("Exercise 2", (L * H) * (D * b + D * b), v).ok is True  # same, keys plus values
    assert judge("Exercise 2", L * H * D * b, v).ok is False  # forgot the values (or the keys)
    assert judge("Exercise 2", 2 * L * D * b, v).ok is False  # forgot the heads
    assert judge("Exercise 2", 2 * L * H * D, v).ok is False  # numbers, not bytes
    assert judge("Exercise 2", 2 * L * H * D**2 * b, v).ok is False  # a D x D matrix per head


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


def test_exercise_3_masked_softmax(verdicts):
    v = verdicts["Exercise 3"]
    assert judge("Exercise 3", _reference, v).ok is True
    for mistake in (_naive, _finite_fill, _unmasked, _wrong_axis):
        assert judge("Exercise 3", mistake, v).ok is False, mistake.__name__
    assert judge("Exercise 3", lambda s, m: s, v).ok is False
