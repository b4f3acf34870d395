"""The checkers of chapter 11's exercises say right to a reference solution and not right to
plausible mistakes."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest
import sympy as sp
from exercise_harness import checkers

from dlmath.exercises import judge

CHAPTER = "11_graphs"
w = sp.Symbol("w", positive=True)


@pytest.fixture(scope="module")
def verdicts():
    return checkers(CHAPTER)


def test_exercise_1_the_second_eigenvalue(verdicts):
    v = verdicts["Exercise 1"]
    assert judge("Exercise 1", (1 - w) / (1 + w), v).ok is True
    assert judge("Exercise 1", 1 - 2 * w / (1 + w), v).ok is True  # the same, another form
    assert judge("Exercise 1", sp.Integer(-1), v).ok is False  # forgot the self-loops
    assert judge("Exercise 1", (w - 1) / (w + 1), v).ok is False  # sign
    assert judge("Exercise 1", 1 - w, v).ok is False  # forgot the normalisation
    assert judge("Exercise 1", sp.Integer(1), v).ok is False  # the other eigenvalue
    assert judge("Exercise 1", "(1-w)/(1+w)", v).ok is False


def _reference(senders, receivers, x, num_nodes):
    total = jax.ops.segment_sum(x[senders], receivers, num_segments=num_nodes)
    count = jax.ops.segment_sum(jnp.ones(senders.shape), receivers, num_segments=num_nodes)
    return total / jnp.maximum(count, 1)[:, None]


def _one_hot(senders, receivers, x, num_nodes):  # the same, as a dense D^-1 A product
    a = jnp.zeros((num_nodes, x.shape[0])).at[receivers, senders].add(1.0)
    return (a @ x) / jnp.maximum(a.sum(1), 1)[:, None]


def _sum(senders, receivers, x, num_nodes):  # the sum, not the mean
    return jax.ops.segment_sum(x[senders], receivers, num_segments=num_nodes)


def _nan_for_isolated(senders, receivers, x, num_nodes):  # 0 / 0 where nothing arrives
    total = _sum(senders, receivers, x, num_nodes)
    count = jax.ops.segment_sum(jnp.ones(senders.shape), receivers, num_segments=num_nodes)
    return total / count[:, None]


def _out_degree(senders, receivers, x, num_nodes):  # divides by the senders' degrees
    total = _sum(senders, receivers, x, num_nodes)
    count = jax.ops.segment_sum(jnp.ones(senders.shape), senders, num_segments=num_nodes)
    return total / jnp.maximum(count, 1)[:, None]


def _swapped(senders, receivers, x, num_nodes):  # messages flow the wrong way
    return _reference(receivers, senders, x, num_nodes)


def _unique_neighbours(senders, receivers, x, num_nodes):  # repeated edges counted once
    import numpy as np
    edges = zip(np.asarray(senders).tolist(), np.asarray(receivers).tolist(), strict=True)
    pairs = sorted(set(edges))
    s = jnp.array([p[0] for p in pairs])
    r = jnp.array([p[1] for p in pairs])
    return _reference(s, r, x, num_nodes)


def test_exercise_2_mean_aggregate(verdicts):
    v = verdicts["Exercise 2"]
    assert judge("Exercise 2", _reference, v).ok is True
    assert judge("Exercise 2", _one_hot, v).ok is True  # an equivalent rewriting
    for mistake in (_sum, _nan_for_isolated, _out_degree, _swapped, _unique_neighbours):
        assert judge("Exercise 2", mistake, v).ok is False, mistake.__name__
    assert judge("Exercise 2", lambda s, r, x, n: x, v).ok is False
