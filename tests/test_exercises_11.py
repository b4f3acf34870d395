"""The checkers of chapter 11's exercises say right to a reference solution and not right to
plausible mistakes."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
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


def _softmax_reference(scores, receivers, num_nodes):
    top = jax.ops.segment_max(scores, receivers, num_segments=num_nodes)
    z = jnp.exp(scores - top[receivers])
    return z / jax.ops.segment_sum(z, receivers, num_segments=num_nodes)[receivers]


def _softmax_by_mask(scores, receivers, num_nodes):  # the same, as a dense masked softmax
    mask = receivers[None, :] == jnp.arange(num_nodes)[:, None]           # (N, E)
    dense = jax.nn.softmax(jnp.where(mask, scores[None, :], -jnp.inf), axis=1)
    return jnp.sum(jnp.where(mask, dense, 0.0), axis=0)


def _softmax_unshifted(scores, receivers, num_nodes):  # overflows at 1e4: NaN
    z = jnp.exp(scores)
    return z / jax.ops.segment_sum(z, receivers, num_segments=num_nodes)[receivers]


def _softmax_global(scores, receivers, num_nodes):  # one softmax over all edges
    return jax.nn.softmax(scores)


def _softmax_by_senders_count(scores, receivers, num_nodes):  # divides by the in-degree
    count = jax.ops.segment_sum(jnp.ones_like(scores), receivers, num_segments=num_nodes)
    return 1.0 / count[receivers]


def _softmax_log_sum_exp(scores, receivers, num_nodes):  # stable, in the log domain
    top = jax.ops.segment_max(scores, receivers, num_segments=num_nodes)
    total = jax.ops.segment_sum(jnp.exp(scores - top[receivers]), receivers, num_segments=num_nodes)
    lse = jnp.log(total) + top
    return jnp.exp(scores - lse[receivers])


def _softmax_numpy_loop(scores, receivers, num_nodes):  # a loop over the nodes, as a list
    s, r = np.asarray(scores, np.float64), np.asarray(receivers)
    out = np.zeros_like(s)
    for node in range(num_nodes):
        into = r == node
        if into.any():
            z = np.exp(s[into] - s[into].max())
            out[into] = z / z.sum()
    return out.tolist()


def _softmax_no_num_segments(scores, receivers, num_nodes):  # segment count left to jax.ops
    top = jax.ops.segment_max(scores, receivers)
    z = jnp.exp(scores - top[receivers])
    return z / jax.ops.segment_sum(z, receivers)[receivers]


def _softmax_eps_denominator(scores, receivers, num_nodes):  # a harmless 1e-6 guard
    top = jax.ops.segment_max(scores, receivers, num_segments=num_nodes)
    z = jnp.exp(scores - top[receivers])
    return z / (jax.ops.segment_sum(z, receivers, num_segments=num_nodes)[receivers] + 1e-6)


def _softmax_global_max(scores, receivers, num_nodes):  # one shift for all: underflows to 0/0
    z = jnp.exp(scores - jnp.max(scores))
    return z / jax.ops.segment_sum(z, receivers, num_segments=num_nodes)[receivers]


def _softmax_segment_min(scores, receivers, num_nodes):  # subtracts the minimum: overflows
    low = -jax.ops.segment_max(-scores, receivers, num_segments=num_nodes)
    z = jnp.exp(scores - low[receivers])
    return z / jax.ops.segment_sum(z, receivers, num_segments=num_nodes)[receivers]


def _softmax_half_shifted(scores, receivers, num_nodes):  # shifted numerator, plain denominator
    top = jax.ops.segment_max(scores, receivers, num_segments=num_nodes)
    z = jnp.exp(scores - top[receivers])
    return z / jax.ops.segment_sum(jnp.exp(scores), receivers, num_segments=num_nodes)[receivers]


def _softmax_unnormalised(scores, receivers, num_nodes):  # forgets the denominator
    top = jax.ops.segment_max(scores, receivers, num_segments=num_nodes)
    return jnp.exp(scores - top[receivers])


def _softmax_per_node(scores, receivers, num_nodes):  # returns the (N,) denominators
    top = jax.ops.segment_max(scores, receivers, num_segments=num_nodes)
    return jax.ops.segment_sum(jnp.exp(scores - top[receivers]), receivers, num_segments=num_nodes)


def _softmax_column(scores, receivers, num_nodes):  # (E, 1) instead of (E,)
    return _softmax_reference(scores, receivers, num_nodes)[:, None]


def test_exercise_4_segment_softmax(verdicts):
    v = verdicts["Exercise 4"]
    assert judge("Exercise 4", _softmax_reference, v).ok is True
    for rewriting in (_softmax_by_mask, _softmax_log_sum_exp, _softmax_numpy_loop,
                      _softmax_no_num_segments, _softmax_eps_denominator):
        assert judge("Exercise 4", rewriting, v).ok is True, rewriting.__name__
    for mistake in (_softmax_unshifted, _softmax_global, _softmax_by_senders_count,
                    _softmax_global_max, _softmax_segment_min, _softmax_half_shifted,
                    _softmax_unnormalised, _softmax_per_node, _softmax_column):
        assert judge("Exercise 4", mistake, v).ok is False, mistake.__name__


def test_exercise_4_log_sum_exp_answer_is_right(verdicts):
    """The log-domain form loses digits near 1e4 in float32 (spacing ~1e-3) and must pass."""
    verdict = judge("Exercise 4", _softmax_log_sum_exp, verdicts["Exercise 4"])
    assert verdict.ok is True, verdict
