"""The checkers of chapter 14's exercises say right to a reference solution and not right to
plausible mistakes."""

from __future__ import annotations

import jax.numpy as jnp
import pytest
import sympy as sp
from exercise_harness import checkers

from dlmath.exercises import judge

CHAPTER = "14_diffusion"
abar, abar_prev = sp.Symbol("abar", positive=True), sp.Symbol("abar_prev", positive=True)


@pytest.fixture(scope="module")
def verdicts():
    return checkers(CHAPTER)


def test_exercise_1_the_bound_weight_through_the_noise_levels(verdicts):
    v = verdicts["Exercise 1"]
    assert judge("Exercise 1", (abar_prev - abar) / (2 * abar * (1 - abar_prev)), v).ok is True
    # the same, as half the drop of the signal-to-noise ratio minus one
    snr, snr_prev = abar / (1 - abar), abar_prev / (1 - abar_prev)
    assert judge("Exercise 1", (snr_prev / snr - 1) / 2, v).ok is True
    assert judge("Exercise 1", (snr_prev / snr) / 2, v).ok is False  # forgot the - 1
    assert judge("Exercise 1", (abar_prev - abar) / (abar * (1 - abar_prev)), v).ok is False  # no 2
    beta_swapped = 1 - abar_prev / abar  # the ratio of the levels upside down
    assert judge("Exercise 1", beta_swapped / (2 * (1 - beta_swapped) * (1 - abar_prev)),
                 v).ok is False
    assert judge("Exercise 1", (abar_prev - abar) / (2 * abar * (1 - abar)), v).ok is False
    assert judge("Exercise 1", "abar", v).ok is False


def _reference(x_t, eps_hat, abar_t, abar_next):
    x0_hat = (x_t - jnp.sqrt(1 - abar_t) * eps_hat) / jnp.sqrt(abar_t)
    return jnp.sqrt(abar_next) * x0_hat + jnp.sqrt(1 - abar_next) * eps_hat


def _euler(x_t, eps_hat, abar_t, abar_next):  # the same, as an Euler step in sigma
    sigma_t, sigma_next = jnp.sqrt((1 - abar_t) / abar_t), jnp.sqrt((1 - abar_next) / abar_next)
    return jnp.sqrt(abar_next) * (x_t / jnp.sqrt(abar_t) + (sigma_next - sigma_t) * eps_hat)


def _no_rescale(x_t, eps_hat, abar_t, abar_next):  # x0_hat not scaled by sqrt(abar')
    x0_hat = (x_t - jnp.sqrt(1 - abar_t) * eps_hat) / jnp.sqrt(abar_t)
    return x0_hat + jnp.sqrt(1 - abar_next) * eps_hat


def _variances(x_t, eps_hat, abar_t, abar_next):  # variances where standard deviations go
    x0_hat = (x_t - (1 - abar_t) * eps_hat) / abar_t
    return abar_next * x0_hat + (1 - abar_next) * eps_hat


def _swapped(x_t, eps_hat, abar_t, abar_next):  # the two levels exchanged
    return _reference(x_t, eps_hat, abar_next, abar_t)


def _noise_dropped(x_t, eps_hat, abar_t, abar_next):  # returns sqrt(abar') x0_hat only
    x0_hat = (x_t - jnp.sqrt(1 - abar_t) * eps_hat) / jnp.sqrt(abar_t)
    return jnp.sqrt(abar_next) * x0_hat


def test_exercise_2_the_ddim_update(verdicts):
    v = verdicts["Exercise 2"]
    assert judge("Exercise 2", _reference, v).ok is True
    assert judge("Exercise 2", _euler, v).ok is True  # an equivalent rewriting
    for mistake in (_no_rescale, _variances, _swapped, _noise_dropped):
        assert judge("Exercise 2", mistake, v).ok is False, mistake.__name__
    assert judge("Exercise 2", lambda x, e, a, b: x, v).ok is False
