"""The checkers of chapter 12's exercises say right to a reference solution and not right to
plausible mistakes."""

from __future__ import annotations

import jax.numpy as jnp
import pytest
import sympy as sp
from exercise_harness import checkers

from dlmath.exercises import judge

CHAPTER = "12_parallel"
n = sp.Symbol("n", integer=True, positive=True)


@pytest.fixture(scope="module")
def verdicts():
    return checkers(CHAPTER)


def test_exercise_1_naive_over_ring_traffic(verdicts):
    v = verdicts["Exercise 1"]
    assert judge("Exercise 1", n / 2, v).ok is True
    assert judge("Exercise 1", (n - 1) / (2 * (n - 1) / n), v).ok is True  # the same, unsimplified
    assert judge("Exercise 1", n, v).ok is False  # forgot the ring's factor 2
    assert judge("Exercise 1", (n - 1) / 2, v).ok is False  # naive traffic counted as (n-1)^2 M / n
    assert judge("Exercise 1", 2 * (n - 1) / n, v).ok is False  # the ring's fraction itself
    assert judge("Exercise 1", 2 / n, v).ok is False  # ring over naive, upside down
    assert judge("Exercise 1", "n/2", v).ok is False


def _reference(means, sizes):
    w = sizes.astype(means.dtype)
    return (w[:, None] * means).sum(0) / w.sum()


def _plain_mean(means, sizes):  # ignores the sizes
    return means.mean(0)


def _unnormalised(means, sizes):  # weights by the sizes, divides by the number of shards
    return (sizes[:, None] * means).sum(0) / sizes.shape[0]


def _nonempty_mean(means, sizes):  # drops empty shards, but then averages without weights
    keep = (sizes > 0).astype(means.dtype)
    return (keep[:, None] * means).sum(0) / keep.sum()


def _integer_division(means, sizes):  # fractions of the batch in integer arithmetic: all 0 or 1
    frac = sizes // sizes.sum()
    return (frac[:, None] * means).sum(0)


def test_exercise_2_combine_shard_means(verdicts):
    v = verdicts["Exercise 2"]
    assert judge("Exercise 2", _reference, v).ok is True
    for wrong in (_plain_mean, _unnormalised, _nonempty_mean, _integer_division):
        assert judge("Exercise 2", wrong, v).ok is False, wrong.__name__
    assert judge("Exercise 2", lambda means, sizes: jnp.zeros(means.shape[1]), v).ok is False
