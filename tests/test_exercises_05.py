"""The exercise checkers of chapter 05 (optimizers), run on reference answers (right), on
equivalent rewritings (right) and on plausible mistakes (not right)."""

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
    # exercises 1 and 5 are predict-then-run: the reader compares a guess with the output
    assert sorted(verdicts) == ["Exercise 2", "Exercise 3", "Exercise 4"]


def test_exercise_2_safe_learning_rate(verdicts):
    v = verdicts["Exercise 2"]
    lo, hi = sp.symbols("lambda_min lambda_max", positive=True)
    kappa = hi / lo
    eta = 1 / hi
    assert judge("Exercise 2", 1 - lo / hi, v).ok is True
    assert judge("Exercise 2", (hi - lo) / hi, v).ok is True                    # another form
    assert judge("Exercise 2", (kappa - 1) / kappa, v).ok is True              # in kappa
    # the rate's literal definition: right under the exercise's premise lambda_min < lambda_max
    literal = sp.Max(sp.Abs(1 - eta * lo), sp.Abs(1 - eta * hi))
    assert judge("Exercise 2", literal, v).ok is True
    assert judge("Exercise 2", (hi - lo) / (hi + lo), v).ok is False           # the rate at eta*
    assert judge("Exercise 2", 1 - hi / lo, v).ok is False                     # inverted ratio
    assert judge("Exercise 2", 1 - 2 * lo / hi, v).ok is False                 # eta = 2/lambda_max
    assert judge("Exercise 2", lo / hi, v).ok is False                         # 1/kappa
    assert judge("Exercise 2", 0.99, v).ok is False                            # a number


def test_exercise_3_momentum_buffer(verdicts):
    v = verdicts["Exercise 3"]
    mu, g = sp.symbols("mu g", positive=True)
    t = sp.Symbol("t", integer=True, positive=True)
    k = sp.Symbol("k", integer=True, positive=True)
    assert judge("Exercise 3", g * (1 - mu**t) / (1 - mu), v).ok is True
    assert judge("Exercise 3", (g - g * mu**t) / (1 - mu), v).ok is True
    # the unrolled sum: SymPy's value has a branch at mu = 1, outside the premise 0 < mu < 1
    assert judge("Exercise 3", g * sp.Sum(mu ** (t - k), (k, 1, t)), v).ok is True
    assert judge("Exercise 3", g * sp.Sum(mu**k, (k, 0, t - 1)), v).ok is True
    assert judge("Exercise 3", g * (1 - mu ** (t + 1)) / (1 - mu), v).ok is False   # one step off
    assert judge("Exercise 3", g / (1 - mu), v).ok is False                          # the limit
    assert judge("Exercise 3", g * (1 - mu**t), v).ok is False                       # Adam's EMA
    assert judge("Exercise 3", g * (1 + mu**t) / (1 - mu), v).ok is False            # a sign


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
def test_exercise_4_adam_step_rejects_the_classic_mistakes(verdicts, mistake):
    v = verdicts["Exercise 4"]
    wrong = judge("Exercise 4", lambda g, m, vv, t: _adam_step(g, m, vv, t, **mistake), v)
    assert wrong.ok is False, wrong.message


def test_exercise_4_adam_step(verdicts):
    v = verdicts["Exercise 4"]
    right = judge("Exercise 4", _adam_step, v)
    assert right.ok is True, right.message

    def rewritten(g, m, vv, t):   # the same step, written another way (a list, the paper's eta_t)
        m_t = m + (1 - 0.9) * (g - m)
        v_t = vv + (1 - 0.999) * (g * g - vv)
        step = 1e-3 / (1 - 0.9**t)
        return [-step * m_t / (jnp.sqrt(v_t / (1 - 0.999**t)) + 1e-8), m_t, v_t]

    again = judge("Exercise 4", rewritten, v)
    assert again.ok is True, again.message

    def in_float32(g, m, vv, t):   # right numbers, but float16 inputs give float32 results
        return _adam_step(g.astype(jnp.float32), m.astype(jnp.float32),
                          vv.astype(jnp.float32), t)

    assert judge("Exercise 4", in_float32, v).ok is False
    assert judge("Exercise 4", lambda g, m, vv, t: (g, m), v).ok is False    # wrong arity
    assert judge("Exercise 4", 0.001, v).ok is False                          # not a function
