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


def _reference(K1, b1, K2, b2, x, y):
    a1 = jnp.tanh(x @ K1 + b1)
    d2 = (a1 @ K2 + b2 - y) / x.shape[0]
    d1 = (d2 @ K2.T) * (1 - a1**2)
    return x.T @ d1, d1.sum(0), a1.T @ d2, d2.sum(0)


def _rewritten_float32(K1, b1, K2, b2, x, y):
    """An equivalent answer: einsum, the hidden slope from cosh, everything cast to float32."""
    K1, b1, K2, b2, x, y = (jnp.asarray(t, jnp.float32) for t in (K1, b1, K2, b2, x, y))
    z1 = x @ K1 + b1
    a1 = jnp.tanh(z1)
    d2 = (a1 @ K2 + b2 - y) / jnp.float32(x.shape[0])
    d1 = jnp.einsum("no,ho->nh", d2, K2) / jnp.cosh(z1) ** 2
    return (jnp.einsum("ni,nh->ih", x, d1), jnp.einsum("nh->h", d1),
            jnp.einsum("nh,no->ho", a1, d2), jnp.einsum("no->o", d2))


def _as_list_of_numpy(K1, b1, K2, b2, x, y):
    """An equivalent answer as a list of NumPy float64 arrays."""
    return [np.asarray(g, np.float64) for g in _reference(K1, b1, K2, b2, x, y)]


def _no_transpose(K1, b1, K2, b2, x, y):
    a1 = jnp.tanh(x @ K1 + b1)
    d2 = (a1 @ K2 + b2 - y) / x.shape[0]
    d1 = (d2 @ K2.T) * (1 - a1**2)
    return x.T @ d1, d1.sum(0), d2.T @ a1, d2.sum(0)           # dK2 transposed: (3, 5)


def _no_local_derivative(K1, b1, K2, b2, x, y):
    a1 = jnp.tanh(x @ K1 + b1)
    d2 = (a1 @ K2 + b2 - y) / x.shape[0]
    d1 = d2 @ K2.T                                               # tanh' dropped
    return x.T @ d1, d1.sum(0), a1.T @ d2, d2.sum(0)


def _no_mean(K1, b1, K2, b2, x, y):
    a1 = jnp.tanh(x @ K1 + b1)
    d2 = a1 @ K2 + b2 - y                                        # the 1/N dropped
    d1 = (d2 @ K2.T) * (1 - a1**2)
    return x.T @ d1, d1.sum(0), a1.T @ d2, d2.sum(0)


def _bias_keepdims(K1, b1, K2, b2, x, y):
    dK1, _, dK2, db2 = _reference(K1, b1, K2, b2, x, y)
    a1 = jnp.tanh(x @ K1 + b1)
    d1 = (((a1 @ K2 + b2 - y) / x.shape[0]) @ K2.T) * (1 - a1**2)
    return dK1, d1.sum(0, keepdims=True), dK2, db2               # db1 of shape (1, 5), not (5,)


def _sign_flipped(K1, b1, K2, b2, x, y):
    return tuple(-g for g in _reference(K1, b1, K2, b2, x, y))    # y - yhat instead of yhat - y


def test_exercise_3_backprop_by_hand(verdicts):
    v = verdicts["Exercise 3"]
    assert judge("Exercise 3", _reference, v).ok is True
    assert judge("Exercise 3", _rewritten_float32, v).ok is True
    assert judge("Exercise 3", _as_list_of_numpy, v).ok is True
    for wrong in (_no_transpose, _no_local_derivative, _no_mean, _bias_keepdims, _sign_flipped):
        verdict = judge("Exercise 3", wrong, v)
        assert verdict.ok is False, wrong.__name__
    # the leaf that is wrong is named
    assert "db1" in judge("Exercise 3", _bias_keepdims, v).message
    assert "dK2" in judge("Exercise 3", _no_transpose, v).message
    assert judge("Exercise 3", lambda *a: None, v).ok is False


def test_exercise_4_number_of_jvps(verdicts):
    v = verdicts["Exercise 4"]
    assert judge("Exercise 4", 64 * 128 + 128 + 128 * 10 + 10, v).ok is True
    assert judge("Exercise 4", np.int64(9610), v).ok is True
    assert judge("Exercise 4", 64 * 128 + 128 * 10, v).ok is False            # biases forgotten
    assert judge("Exercise 4", 9611, v).ok is False
    assert judge("Exercise 4", 9610.5, v).ok is False
    assert judge("Exercise 4", 1, v).ok is False                              # reverse mode's count
