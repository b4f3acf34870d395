"""The exercise checkers of chapter 05 (optimizers), run on reference answers (right) and
on plausible mistakes (not right)."""

from __future__ import annotations

import jax.numpy as jnp
import pytest
import sympy as sp
from exercise_harness import checkers

from dlmath.exercises import judge

CHAPTER = "05_optimizers"


@pytest.fixture(scope="module")
def verdicts():
    return checkers(CHAPTER)


def test_every_exercise_has_a_checker(verdicts):
    assert sorted(verdicts) == [f"Exercise {k}" for k in range(1, 6)]



def test_exercise_1_best_rate(verdicts):
    v = verdicts["Exercise 1"]
    lo, hi = sp.symbols("lambda_min lambda_max", positive=True)
    kappa = hi / lo
    assert judge("Exercise 1", (hi - lo) / (hi + lo), v).ok is True
    assert judge("Exercise 1", (kappa - 1) / (kappa + 1), v).ok is True        # another form
    assert judge("Exercise 1", 1 - lo / hi, v).ok is False          # eta = 1/lambda_max
    assert judge("Exercise 1", (hi + lo) / (hi - lo), v).ok is False             # inverted
    assert judge("Exercise 1", (hi - lo) / (2 * (hi + lo)), v).ok is False       # a factor
    assert judge("Exercise 1", 9 / 11, v).ok is False                 # a number, not SymPy


def test_exercise_2_variance_factor(verdicts):
    v = verdicts["Exercise 2"]
    assert judge("Exercise 2", 1 / 6, v).ok is True
    assert judge("Exercise 2", 0.1667, v).ok is True
    assert judge("Exercise 2", 1 / 4, v).ok is False                 # with replacement
    assert judge("Exercise 2", 6 / 40, v).ok is False                # N instead of N - 1
    assert judge("Exercise 2", "a sixth", v).ok is False


def test_exercise_3_bias_correction(verdicts):
    v = verdicts["Exercise 3"]
    beta, g = sp.symbols("beta g", positive=True)
    t = sp.Symbol("t", integer=True, positive=True)
    k = sp.Symbol("k", integer=True, positive=True)
    assert judge("Exercise 3", (1 - beta**t) * g, v).ok is True
    assert judge("Exercise 3", g - g * beta**t, v).ok is True
    assert judge("Exercise 3", sp.Sum((1 - beta) * beta ** (t - k) * g, (k, 1, t)), v).ok is True
    assert judge("Exercise 3", (1 - beta ** (t - 1)) * g, v).ok is False      # one step off
    assert judge("Exercise 3", (1 - beta ** (t + 1)) * g, v).ok is False      # the other way
    assert judge("Exercise 3", beta**t * g, v).ok is False
    assert judge("Exercise 3", g, v).ok is False                     # the corrected m-hat


def test_exercise_4_l2_coefficient(verdicts):
    v = verdicts["Exercise 4"]
    assert judge("Exercise 4", 0.01, v).ok is True
    assert judge("Exercise 4", 1e-3, v).ok is False                  # lambda_p itself
    assert judge("Exercise 4", 1e-4, v).ok is False                  # lambda_p * eta


def _adam_step(g, m, v, t, *, eps_inside=False, t_shift=0, b1_in_v=False, b1=0.9, b2=0.999,
               eps=1e-8, lr=1e-3):
    """A reader's Adam step, and the mistakes it can be switched to."""
    m_t = b1 * m + (1 - b1) * g
    b = b1 if b1_in_v else b2
    v_t = b * v + (1 - b) * g**2
    tc = t + t_shift
    m_hat, v_hat = m_t / (1 - b1**tc), v_t / (1 - b2**tc)
    denom = jnp.sqrt(v_hat + eps) if eps_inside else jnp.sqrt(v_hat) + eps
    return -lr * m_hat / denom, m_t, v_t


@pytest.mark.parametrize("mistake", [dict(eps_inside=True), dict(t_shift=-1), dict(t_shift=1),
                                     dict(b1_in_v=True)],
                         ids=["eps inside the root", "bias correction t-1",
                              "bias correction t+1", "b1 in the second moment"])
def test_exercise_5_adam_step_rejects_the_classic_mistakes(verdicts, mistake):
    v = verdicts["Exercise 5"]
    wrong = judge("Exercise 5", lambda g, m, vv, t: _adam_step(g, m, vv, t, **mistake), v)
    assert wrong.ok is False, wrong.message


def test_exercise_5_adam_step(verdicts):
    v = verdicts["Exercise 5"]
    right = judge("Exercise 5", _adam_step, v)
    assert right.ok is True, right.message

    def in_float32(g, m, vv, t):   # right numbers, but float16 inputs give float32 results
        return _adam_step(g.astype(jnp.float32), m.astype(jnp.float32),
                          vv.astype(jnp.float32), t)

    assert judge("Exercise 5", in_float32, v).ok is False
    assert judge("Exercise 5", lambda g, m, vv, t: (g, m), v).ok is False    # wrong arity
    assert judge("Exercise 5", 0.001, v).ok is False                          # not a function
