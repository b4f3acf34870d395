"""The checkers of chapter 12's exercises say right to a reference solution and not right to
plausible mistakes."""

from __future__ import annotations

import jax
import pytest
import sympy as sp
from exercise_harness import checkers, namespace
from jax.sharding import PartitionSpec as P

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


def _data_parallel(combine):
    """An answer to Exercise 2 that combines the per-device gradients with ``combine``."""
    mesh = namespace(CHAPTER)["mesh"]

    def gradient(loss_fn, params, x, y):
        def local(p, xs, ys):
            return jax.tree_util.tree_map(lambda v: combine(v, xs), jax.grad(loss_fn)(p, xs, ys))

        return jax.shard_map(local, mesh=mesh, in_specs=(P(), P("data"), P("data")), out_specs=P(),
                             check_vma=False)(params, x, y)

    return gradient


def test_the_harness_has_eight_devices():
    assert namespace(CHAPTER)["mesh"].size == 8


def test_exercise_2_data_parallel_gradient(verdicts):
    v = verdicts["Exercise 2"]
    size = namespace(CHAPTER)["mesh"].size
    reference = _data_parallel(lambda v_, xs: jax.lax.psum(v_, "data") / size)
    assert judge("Exercise 2", reference, v).ok is True
    rewritten = _data_parallel(lambda v_, xs: jax.lax.pmean(v_, "data"))  # pmean = psum / n
    assert judge("Exercise 2", rewritten, v).ok is True
    mistakes = {
        "psum without dividing": lambda v_, xs: jax.lax.psum(v_, "data"),
        "no psum: device 0's shard gradient": lambda v_, xs: v_,
        "psum divided by the shard's size": lambda v_, xs: jax.lax.psum(v_, "data") / xs.shape[0],
    }
    for name, combine in mistakes.items():
        assert judge("Exercise 2", _data_parallel(combine), v).ok is False, name


def test_exercise_4_stage_1_fraction_of_stage_0(verdicts):
    v = verdicts["Exercise 4"]
    k = sp.Symbol("k", integer=True, nonnegative=True)
    assert judge("Exercise 4", 2 / (2 + k), v).ok is True
    assert judge("Exercise 4", sp.Integer(2) / (k + 2), v).ok is True  # the same, rewritten
    assert judge("Exercise 4", 1 - k / (k + 2), v).ok is True  # one minus the split share
    mistakes = {
        "stage 2's fraction": 1 / (k + 2),
        "the n-dependent ratio, no limit taken": (2 + k / n) / (2 + k),
        "the share that is split, not the share kept": k / (k + 2),
        "stage 3's limit": sp.Integer(0),
        "upside down": (k + 2) / 2,
    }
    for name, answer in mistakes.items():
        assert judge("Exercise 4", answer, v).ok is False, name
