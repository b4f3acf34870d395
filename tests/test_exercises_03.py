"""The exercise checkers of chapter 03 (notebooks/03_cross_entropy.md), run outside the
notebook: each says right for the reference answer and for an equivalent rewriting of it,
and not right for plausible mistakes."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from exercise_harness import checkers, namespace

from dlmath.exercises import judge

CHAPTER = "03_cross_entropy"


@pytest.fixture(scope="module")
def verdicts():
    return checkers(CHAPTER)


def test_every_exercise_has_a_checker(verdicts):
    assert sorted(verdicts) == [f"Exercise {n}" for n in range(1, 6)]


def test_exercise_1_second_derivative_of_the_bce(verdicts):
    ns = namespace(CHAPTER)
    sp = ns["sp"]
    z, y = sp.symbols("z y", real=True)
    sigma = 1 / (1 + sp.exp(-z))
    v = verdicts["Exercise 1"]
    assert judge("Exercise 1", sigma * (1 - sigma), v).ok is True  # the reference
    # equivalent rewritings, which an earlier checker called wrong
    assert judge("Exercise 1", sp.exp(-z) / (1 + sp.exp(-z)) ** 2, v).ok is True
    assert judge("Exercise 1", 1 / (4 * sp.cosh(z / 2) ** 2), v).ok is True
    assert judge("Exercise 1", 1 / (2 + 2 * sp.cosh(z)), v).ok is True
    assert judge("Exercise 1", sigma - y, v).ok is False  # the first derivative
    assert judge("Exercise 1", -sigma * (1 - sigma), v).ok is False  # a sign
    assert judge("Exercise 1", y * sigma * (1 - sigma), v).ok is False  # a spurious factor y
    assert judge("Exercise 1", sigma * (1 - sigma) / 2, v).ok is False  # a factor
    assert judge("Exercise 1", "sigma*(1-sigma)", v).ok is False  # a string is never parsed


def test_exercise_2_predicted_gradient(verdicts):
    v = verdicts["Exercise 2"]
    assert judge("Exercise 2", [0.25, -0.75, 0.25, 0.25], v).ok is True
    assert judge("Exercise 2", np.array([1, -3, 1, 1]) / 4, v).ok is True  # another form
    assert judge("Exercise 2", [-0.25, 0.75, -0.25, -0.25], v).ok is False  # the sign
    assert judge("Exercise 2", [0.0, -1.0, 0.0, 0.0], v).ok is False  # -y: p forgotten
    assert judge("Exercise 2", [0.25, 0.25, 0.25, 0.25], v).ok is False  # p, the target forgotten
    assert judge("Exercise 2", [0.25, -0.75, 0.25], v).ok is False  # three numbers
    assert judge("Exercise 2", None, v).ok is None


def test_exercise_3_stable_logsumexp(verdicts):
    v = verdicts["Exercise 3"]

    def reference(z):
        m = jnp.max(z, axis=-1, keepdims=True)
        return (m + jnp.log(jnp.sum(jnp.exp(z - m), axis=-1, keepdims=True)))[..., 0]

    def rewritten(z):  # the same, written another way
        m = jax.lax.stop_gradient(jnp.max(z, axis=-1))
        return m + jnp.log(jnp.sum(jnp.exp(z - m[..., None]), axis=-1))

    def naive(z):
        return jnp.log(jnp.sum(jnp.exp(z), axis=-1))

    def global_shift(z):  # one maximum for the whole batch, not one per row
        m = jnp.max(z)
        return m + jnp.log(jnp.sum(jnp.exp(z - m), axis=-1))

    def shift_not_added_back(z):
        m = jnp.max(z, axis=-1, keepdims=True)
        return jnp.log(jnp.sum(jnp.exp(z - m), axis=-1))

    def wrong_axis(z):
        m = jnp.max(z, axis=0, keepdims=True)
        return (m + jnp.log(jnp.sum(jnp.exp(z - m), axis=0, keepdims=True)))[0]

    def keepdims(z):  # right numbers, but the last axis kept
        m = jnp.max(z, axis=-1, keepdims=True)
        return m + jnp.log(jnp.sum(jnp.exp(z - m), axis=-1, keepdims=True))

    assert judge("Exercise 3", reference, v).ok is True
    assert judge("Exercise 3", rewritten, v).ok is True
    assert judge("Exercise 3", lambda z: jax.nn.logsumexp(z, axis=-1), v).ok is True
    for mistake in (naive, global_shift, shift_not_added_back, wrong_axis):
        assert judge("Exercise 3", mistake, v).ok is False, mistake.__name__
    kept = judge("Exercise 3", keepdims, v)
    assert kept.ok is False and "(6,)" in kept.message and "not kept" in kept.message, kept.message
    assert judge("Exercise 3", lambda z: None, v).ok is False  # returns nothing


def test_exercise_4_smallest_loss_under_label_smoothing(verdicts):
    v = verdicts["Exercise 4"]
    y = np.full(10, 0.01)
    y[3] = 0.91
    entropy = float(-np.sum(y * np.log(y)))
    assert judge("Exercise 4", entropy, v).ok is True
    assert judge("Exercise 4", np.float32(entropy), v).ok is True  # another type
    assert judge("Exercise 4", 0.0, v).ok is False  # "the loss can reach 0"
    # eps spread over the K - 1 other classes instead of all K
    other = np.full(10, 0.1 / 9)
    other[3] = 0.9
    assert judge("Exercise 4", float(-np.sum(other * np.log(other))), v).ok is False
    assert judge("Exercise 4", float(-np.log(0.91)), v).ok is False  # -log y_c only
    assert judge("Exercise 4", None, v).ok is None


def test_exercise_5_an_asymmetric_pair(verdicts):
    v = verdicts["Exercise 5"]
    assert judge("Exercise 5", (0.5, 0.01), v).ok is True
    assert judge("Exercise 5", [0.5, 0.001], v).ok is True  # another pair, as a list
    assert judge("Exercise 5", (0.5, 0.5), v).ok is False  # KL = 0 both ways
    assert judge("Exercise 5", (0.1, 0.5), v).ok is False  # the asymmetry the other way
    assert judge("Exercise 5", (0.01, 0.5), v).ok is False  # the two swapped
    assert judge("Exercise 5", (0.0, 0.5), v).ok is False  # outside (0, 1)
    assert judge("Exercise 5", 0.5, v).ok is False  # not a pair
