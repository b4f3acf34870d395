"""The checkers of chapter 10's exercises say right to a reference solution and not right to
plausible mistakes."""

from __future__ import annotations

import jax.numpy as jnp
import pytest
import sympy as sp
from exercise_harness import checkers

from dlmath.exercises import judge

CHAPTER = "10_generative"
mu = sp.Symbol("mu", real=True)
sigma, s = sp.Symbol("sigma", positive=True), sp.Symbol("s", positive=True)


@pytest.fixture(scope="module")
def verdicts():
    return checkers(CHAPTER)


def test_every_exercise_has_a_checker(verdicts):
    assert sorted(verdicts) == ["Exercise 1", "Exercise 2", "Exercise 4"]


def test_exercise_1_kl_from_a_wide_prior(verdicts):
    v = verdicts["Exercise 1"]
    right = sp.log(s / sigma) + (sigma**2 + mu**2) / (2 * s**2) - sp.Rational(1, 2)
    assert judge("Exercise 1", right, v).ok is True
    another_form = ((sigma**2 + mu**2) / s**2 - 1 - sp.log(sigma**2 / s**2)) / 2
    assert judge("Exercise 1", another_form, v).ok is True
    unit_prior = (sigma**2 + mu**2 - 1 - sp.log(sigma**2)) / 2  # ignored s
    assert judge("Exercise 1", unit_prior, v).ok is False
    no_log_s = ((sigma**2 + mu**2) / s**2 - 1 - sp.log(sigma**2)) / 2  # forgot log s^2
    assert judge("Exercise 1", no_log_s, v).ok is False
    s_not_squared = ((sigma**2 + mu**2) / s - 1 - sp.log(sigma**2 / s)) / 2  # s for s^2
    assert judge("Exercise 1", s_not_squared, v).ok is False
    assert judge("Exercise 1", "log(s/sigma)", v).ok is False


def _right(mq, lq, mp, lp):
    per_coordinate = 0.5 * (lp - lq) + (jnp.exp(lq - lp) + (mq - mp) ** 2 * jnp.exp(-lp)) / 2 - 0.5
    return jnp.sum(per_coordinate, -1)


def _in_log_std(mq, lq, mp, lp):  # the same, written with log-standard-deviations
    sq, sp_ = lq / 2, lp / 2
    ratio, scaled_gap = jnp.exp(2 * (sq - sp_)), (mq - mp) * jnp.exp(-sp_)
    return jnp.sum(sp_ - sq + 0.5 * ratio + 0.5 * scaled_gap**2 - 0.5, axis=-1)


def _naive(mq, lq, mp, lp):  # right on paper, but e^lq / e^lp is inf / inf = NaN near l = 90
    return jnp.sum(0.5 * (lp - lq) + (jnp.exp(lq) + (mq - mp) ** 2) / (2 * jnp.exp(lp)) - 0.5, -1)


def _swapped(mq, lq, mp, lp):  # KL(p || q): the arguments' roles exchanged
    return _right(mp, lp, mq, lq)


def _no_half_on_logs(mq, lq, mp, lp):  # log(sigma_p / sigma_q) taken as lp - lq
    return jnp.sum((lp - lq) + (jnp.exp(lq - lp) + (mq - mp) ** 2 * jnp.exp(-lp)) / 2 - 0.5, -1)


def _mean_over_z(mq, lq, mp, lp):  # averaged over the coordinates instead of summed
    per_coordinate = 0.5 * (lp - lq) + (jnp.exp(lq - lp) + (mq - mp) ** 2 * jnp.exp(-lp)) / 2 - 0.5
    return jnp.mean(per_coordinate, -1)


def _unit_prior(mq, lq, mp, lp):  # ignores the second Gaussian
    return jnp.sum(0.5 * (jnp.exp(lq) + mq**2 - 1 - lq), -1)


def _prior_mean_ignored(mq, lq, mp, lp):  # (mu_q)^2 where (mu_q - mu_p)^2 belongs
    return jnp.sum(0.5 * (lp - lq) + (jnp.exp(lq - lp) + mq**2 * jnp.exp(-lp)) / 2 - 0.5, -1)


def test_exercise_2_diagonal_gaussian_kl(verdicts):
    v = verdicts["Exercise 2"]
    assert judge("Exercise 2", _right, v).ok is True
    assert judge("Exercise 2", _in_log_std, v).ok is True
    for wrong in (_naive, _swapped, _no_half_on_logs, _mean_over_z, _unit_prior,
                  _prior_mean_ignored):
        assert judge("Exercise 2", wrong, v).ok is False, wrong.__name__


def test_exercise_4_js_of_a_partly_misplaced_generator(verdicts):
    v = verdicts["Exercise 4"]
    a = sp.Symbol("a", positive=True)
    right = sp.log(2) + (1 - a) * sp.log(1 - a) / 2 - (2 - a) * sp.log(2 - a) / 2
    assert judge("Exercise 4", right, v).ok is True
    by_definition = (-sp.log(1 - a / 2) + (1 - a) * sp.log((1 - a) / (1 - a / 2))
                     + a * sp.log(2)) / 2  # the two KL terms from the mixture, halved
    assert judge("Exercise 4", by_definition, v).ok is True
    no_half = 2 * right  # KL(p_d || m) + KL(p_g || m), the 1/2 forgotten
    assert judge("Exercise 4", no_half, v).ok is False
    saturated = sp.log(2)  # as if the supports were disjoint
    assert judge("Exercise 4", saturated, v).ok is False
    misplaced_only = a * sp.log(2)  # only the mass at theta counted
    assert judge("Exercise 4", misplaced_only, v).ok is False
    no_log_2 = right - sp.log(2)  # the constant dropped
    assert judge("Exercise 4", no_log_2, v).ok is False
    in_bits = right / sp.log(2)  # base-2 logarithms: the statement asks for nats
    assert judge("Exercise 4", in_bits, v).ok is False
    generator_term_only = ((1 - a) * sp.log((1 - a) / (1 - a / 2)) + a * sp.log(2)) / 2
    assert judge("Exercise 4", generator_term_only, v).ok is False  # KL(p_d || m) forgotten
    assert judge("Exercise 4", "log(2)", v).ok is False
