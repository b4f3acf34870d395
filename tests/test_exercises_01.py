"""The exercise checkers of chapter 01, run on a reference solution (it must say right) and
on plausible mistakes (each must say not right). The verdicts come from the notebook itself
(tests/exercise_harness.py), so a checker that drifts from its exercise fails here."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp
from exercise_harness import checkers

from dlmath import data
from dlmath import formulas as F
from dlmath import linear_regression as lr
from dlmath.exercises import judge

CHAPTER = "01_linear_regression"
Xs, ws, ys, _ = F.LINEAR_GRADIENT.args
N, D = F.regression.N, F.regression.D
alpha = sp.Symbol("alpha", positive=True)
I = sp.Identity(D)


@pytest.fixture(scope="module")
def verdicts():
    return checkers(CHAPTER)


def test_every_exercise_has_a_checker(verdicts):
    assert sorted(verdicts) == [f"Exercise {k}" for k in range(1, 6)]



def _verdict(verdicts, label, answer):
    return judge(label, answer, verdicts[label])


# ---------------------------------------------------------------- 1: ridge gradient (derive)

RIDGE_GRADIENT_RIGHT = [
    2 * Xs.T * (Xs * ws - ys) / N + 2 * alpha * ws,
    2 / N * (Xs.T * Xs * ws - Xs.T * ys) + 2 * alpha * ws,      # expanded
    2 * (Xs.T * Xs + N * alpha * I) * ws / N - 2 * Xs.T * ys / N,  # factored
]
RIDGE_GRADIENT_WRONG = {
    "the data term without its 2": Xs.T * (Xs * ws - ys) / N + 2 * alpha * ws,
    "the penalty without its 2": 2 * Xs.T * (Xs * ws - ys) / N + alpha * ws,
    "the sign of the residual flipped": 2 * Xs.T * (ys - Xs * ws) / N + 2 * alpha * ws,
    "no 1/N": 2 * Xs.T * (Xs * ws - ys) + 2 * alpha * ws,
    "a number, not a matrix": sp.Integer(0),
    "a string": "2*X.T*(X*w - y)/N + 2*alpha*w",
}


@pytest.mark.parametrize("answer", RIDGE_GRADIENT_RIGHT, ids=["as derived", "expanded", "factored"])
def test_exercise_1_accepts_every_form_of_the_ridge_gradient(verdicts, answer):
    v = _verdict(verdicts, "Exercise 1", answer)
    assert v.ok is True, v.message


@pytest.mark.parametrize("name", RIDGE_GRADIENT_WRONG)
def test_exercise_1_refuses_a_wrong_gradient(verdicts, name):
    v = _verdict(verdicts, "Exercise 1", RIDGE_GRADIENT_WRONG[name])
    assert v.ok is False, v.message
    assert "not yet right" in v.message


# ---------------------------------------------------------------- 2: ridge minimiser (derive)


def test_exercise_2_accepts_the_ridge_minimiser(verdicts):
    for answer in [(Xs.T * Xs + N * alpha * I).I * Xs.T * ys,
                   (Xs.T * Xs / N + alpha * I).I * Xs.T * ys / N]:
        v = _verdict(verdicts, "Exercise 2", answer)
        assert v.ok is True, v.message


@pytest.mark.parametrize("answer", [
    (Xs.T * Xs + alpha * I).I * Xs.T * ys,         # N forgotten in front of alpha
    (Xs.T * Xs + 2 * N * alpha * I).I * Xs.T * ys,  # a factor 2 too many
    (Xs.T * Xs).I * Xs.T * ys,                      # the unregularised solution
    (Xs * Xs.T + N * alpha * sp.Identity(N)).I * Xs * ys,  # transposed: wrong shapes
], ids=["no N", "2N alpha", "ordinary least squares", "transposed"])
def test_exercise_2_refuses_a_wrong_minimiser(verdicts, answer):
    v = _verdict(verdicts, "Exercise 2", answer)
    assert v.ok is False, v.message


# ---------------------------------------------------------------- 3: weighted gradient (implement)


def _weighted_right(w, X, y, c):
    return 2 * X.T @ (c * (X @ w - y)) / X.shape[0]


WEIGHTED_WRONG = {
    "without the factor 2": lambda w, X, y, c: X.T @ (c * (X @ w - y)) / X.shape[0],
    "a sum instead of a mean": lambda w, X, y, c: 2 * X.T @ (c * (X @ w - y)),
    "the weights ignored (the MSE gradient)": lambda w, X, y, c: lr.mse_gradient(w, X, y),
    "the weights squared": lambda w, X, y, c: 2 * X.T @ (c**2 * (X @ w - y)) / X.shape[0],
    "X not transposed": lambda w, X, y, c: 2 * X @ (c * (X @ w - y)) / X.shape[0],
    "the residual's sign flipped": lambda w, X, y, c: 2 * X.T @ (c * (y - X @ w)) / X.shape[0],
    "divided by D instead of N": lambda w, X, y, c: 2 * X.T @ (c * (X @ w - y)) / X.shape[1],
}


def _weighted_numpy_float64(w, X, y, c):  # an equivalent rewriting: NumPy, float64, a sum
    X, w, y, c = (np.asarray(t, np.float64) for t in (X, w, y, c))
    return sum(2 * c[n] * (X[n] @ w - y[n]) * X[n] for n in range(len(y))) / len(y)


def _weighted_via_scaled_rows(w, X, y, c):  # another: the MSE gradient of rows scaled by sqrt(c)
    root = jnp.sqrt(c)
    return lr.mse_gradient(w, root[:, None] * X, root * y)


def test_exercise_3_accepts_the_weighted_gradient(verdicts):
    v = _verdict(verdicts, "Exercise 3", _weighted_right)
    assert v.ok is True, v.message
    assert "5 cases" in v.message
    # a jitted answer, a NumPy float64 one and a rewriting are as good
    for answer in (jax.jit(_weighted_right), _weighted_numpy_float64, _weighted_via_scaled_rows):
        v = _verdict(verdicts, "Exercise 3", answer)
        assert v.ok is True, v.message


def test_exercise_3_judges_low_precision_by_its_numbers(verdicts):
    """A bfloat16 answer holds the right numbers to about 3 digits: it is not right (the
    exercise asks for about 4), and the message says which precision is needed, never that
    numbers were expected."""
    v = _verdict(verdicts, "Exercise 3",
                 lambda w, X, y, c: _weighted_right(w, X, y, c).astype(jnp.bfloat16))
    assert v.ok is False, v.message
    assert "expected numbers" not in v.message
    assert "bfloat16" in v.message and "float32" in v.message


@pytest.mark.parametrize("name", WEIGHTED_WRONG)
def test_exercise_3_refuses_a_wrong_weighted_gradient(verdicts, name):
    v = _verdict(verdicts, "Exercise 3", WEIGHTED_WRONG[name])
    assert v.ok is False, v.message


def test_exercise_3_edge_cases_catch_what_random_data_alone_would_not(verdicts):
    """An answer that special-cases N > 1 (a batch of one is the edge case) is caught."""

    def only_for_batches(w, X, y, c):
        if X.shape[0] == 1:
            return jnp.zeros_like(w)
        return _weighted_right(w, X, y, c)

    v = _verdict(verdicts, "Exercise 3", only_for_batches)
    assert v.ok is False and "N = 1" in v.message


# ---------------------------------------------------------------- 4: feature scaling (predict)


def _true_ratio():
    x, _ = data.linear(jax.random.split(jax.random.key(0), 3)[0], 50, w=2.0, b=-1.0, noise=1.0)
    X, X10 = lr.design_matrix(x), lr.design_matrix(10 * x)
    return float(lr.max_stable_learning_rate(X10) / lr.max_stable_learning_rate(X))


def test_exercise_4_accepts_the_predicted_and_the_computed_ratio(verdicts):
    for answer in (0.01, _true_ratio(), np.float32(0.0101)):
        v = _verdict(verdicts, "Exercise 4", answer)
        assert v.ok is True, v.message


@pytest.mark.parametrize("answer", [0.1, 100.0, 1.0, 10.0, 0.001])
def test_exercise_4_refuses_a_wrong_ratio(verdicts, answer):
    v = _verdict(verdicts, "Exercise 4", answer)
    assert v.ok is False, v.message


# ---------------------------------------------------------------- 5: minimum norm (explore)


@pytest.fixture(scope="module")
def duplicated():
    x, y = data.linear(jax.random.split(jax.random.key(0), 3)[0], 50, w=2.0, b=-1.0, noise=1.0)
    X = lr.design_matrix(x)
    X3 = jnp.concatenate([X, X[:, 1:]], axis=1)
    return X, X3, y


def test_exercise_5_accepts_where_gradient_descent_ends(verdicts, duplicated):
    _, X3, y = duplicated
    w_last, _ = lr.gradient_descent(jnp.zeros(3), X3, y, 0.9 * lr.max_stable_learning_rate(X3),
                                    2000)
    v = _verdict(verdicts, "Exercise 5", w_last)
    assert v.ok is True, v.message


def test_exercise_5_accepts_the_pseudo_inverse_solution(verdicts, duplicated):
    _, X3, y = duplicated
    X3_64, y64 = np.asarray(X3, np.float64), np.asarray(y, np.float64)
    for answer in (np.linalg.pinv(X3_64) @ y64,                        # the pseudo-inverse
                   np.linalg.lstsq(X3_64, y64, rcond=None)[0],          # lstsq: the same point
                   jnp.asarray(np.linalg.pinv(X3_64) @ y64, jnp.float32)):
        v = _verdict(verdicts, "Exercise 5", answer)
        assert v.ok is True, v.message


def test_exercise_5_refuses_other_minimisers_and_wrong_shapes(verdicts, duplicated):
    X, X3, y = duplicated
    w0, w1 = np.asarray(lr.normal_equations(X, y), np.float64)
    h = w1 / 2
    minimisers = ([w0, w1, 0.0],               # a minimiser, not the one of minimum norm
                  [w0, 0.0, w1],               # another
                  [w0, 2 * w1, -w1],           # another
                  [w0, h + 1e-3, h - 1e-3])    # close to it, but off along the flat direction
    for answer in minimisers:
        v = _verdict(verdicts, "Exercise 5", answer)
        assert v.ok is False, v.message
        assert "is a minimiser" in v.message and "not the minimum-norm" in v.message, v.message
    for answer in (np.zeros(3),                # the start
                   [w0 + 0.1, h, h],           # not a minimiser at all
                   [w0, w1 / 2]):              # two weights, not three
        v = _verdict(verdicts, "Exercise 5", answer)
        assert v.ok is False, v.message
        assert "is a minimiser" not in v.message
    # all three minimise the loss: the checker tells them apart by their norm only
    for answer in ([w0, w1, 0.0], [w0, 0.0, w1]):
        assert float(lr.loss(jnp.asarray(answer, jnp.float32), X3, y)) == pytest.approx(
            float(lr.loss(jnp.asarray([w0, w1 / 2, w1 / 2]), X3, y)), rel=1e-5)
