"""The exercise checkers of chapter 04, run outside the notebook: each says right to a
reference solution and not right to plausible mistakes (tests/exercise_harness.py)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp
from exercise_harness import checkers

from dlmath.exercises import judge

CHAPTER = "04_backprop"


@pytest.fixture(scope="module")
def verdicts():
    return checkers(CHAPTER)


def test_every_exercise_has_a_checker(verdicts):
    assert sorted(verdicts) == [f"Exercise {n}" for n in range(1, 5)]



def test_exercise_1_max_of_tanh_prime(verdicts):
    v = verdicts["Exercise 1"]
    assert judge("Exercise 1", 1.0, v).ok is True
    assert judge("Exercise 1", 1, v).ok is True
    assert judge("Exercise 1", 0.25, v).ok is False          # sigmoid's factor
    assert judge("Exercise 1", 0.5, v).ok is False
    assert judge("Exercise 1", "one", v).ok is False         # a wrong type is not right, no crash


def test_exercise_2_leaky_relu_variance(verdicts):
    v = verdicts["Exercise 2"]
    alpha = sp.Symbol("alpha", positive=True)
    n_in = sp.Symbol("n_in", integer=True, positive=True)
    assert judge("Exercise 2", 2 / ((1 + alpha**2) * n_in), v).ok is True
    assert judge("Exercise 2", 2 / (n_in + alpha**2 * n_in), v).ok is True   # another form
    assert judge("Exercise 2", 2 / n_in, v).ok is False                      # He, alpha ignored
    assert judge("Exercise 2", 2 / ((1 + alpha) * n_in), v).ok is False      # alpha, not alpha^2
    assert judge("Exercise 2", 1 / ((1 + alpha**2) * n_in), v).ok is False   # the halving lost
    assert judge("Exercise 2", 0.5, v).ok is False


def _reference(W1, b1, W2, b2, x, y):
    a1 = jnp.tanh(x @ W1 + b1)
    d2 = (a1 @ W2 + b2 - y) / x.shape[0]
    d1 = (d2 @ W2.T) * (1 - a1**2)
    return x.T @ d1, d1.sum(0), a1.T @ d2, d2.sum(0)


def _no_transpose(W1, b1, W2, b2, x, y):
    a1 = jnp.tanh(x @ W1 + b1)
    d2 = (a1 @ W2 + b2 - y) / x.shape[0]
    d1 = (d2 @ W2.T) * (1 - a1**2)
    return x.T @ d1, d1.sum(0), d2.T @ a1, d2.sum(0)           # dW2 transposed: (3, 5)


def _no_local_derivative(W1, b1, W2, b2, x, y):
    a1 = jnp.tanh(x @ W1 + b1)
    d2 = (a1 @ W2 + b2 - y) / x.shape[0]
    d1 = d2 @ W2.T                                               # tanh' dropped
    return x.T @ d1, d1.sum(0), a1.T @ d2, d2.sum(0)


def _no_mean(W1, b1, W2, b2, x, y):
    a1 = jnp.tanh(x @ W1 + b1)
    d2 = a1 @ W2 + b2 - y                                        # the 1/N dropped
    d1 = (d2 @ W2.T) * (1 - a1**2)
    return x.T @ d1, d1.sum(0), a1.T @ d2, d2.sum(0)


def test_exercise_3_backprop_by_hand(verdicts):
    v = verdicts["Exercise 3"]
    assert judge("Exercise 3", _reference, v).ok is True
    for wrong in (_no_transpose, _no_local_derivative, _no_mean):
        assert judge("Exercise 3", wrong, v).ok is False, wrong.__name__
    assert judge("Exercise 3", lambda *a: None, v).ok is False


def test_exercise_4_number_of_jvps(verdicts):
    v = verdicts["Exercise 4"]
    assert judge("Exercise 4", 64 * 128 + 128 + 128 * 10 + 10, v).ok is True
    assert judge("Exercise 4", np.int64(9610), v).ok is True
    assert judge("Exercise 4", 64 * 128 + 128 * 10, v).ok is False            # biases forgotten
    assert judge("Exercise 4", 9611, v).ok is False
    assert judge("Exercise 4", 9610.5, v).ok is False
    assert judge("Exercise 4", 1, v).ok is False                              # reverse mode's count
