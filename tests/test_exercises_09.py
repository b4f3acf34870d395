"""The checkers of chapter 09's exercises say right to a reference solution and not right to
plausible mistakes."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest
import sympy as sp
from exercise_harness import checkers

from dlmath.exercises import judge

CHAPTER = "09_normalization"
sigma, b = sp.symbols("sigma b", positive=True)


@pytest.fixture(scope="module")
def verdicts():
    return checkers(CHAPTER)


def test_exercise_1_the_l1_strength_of_a_laplace_prior(verdicts):
    v = verdicts["Exercise 1"]
    assert judge("Exercise 1", sigma**2 / b, v).ok is True
    assert judge("Exercise 1", (sigma / sp.sqrt(b)) ** 2, v).ok is True  # same
    assert judge("Exercise 1", 1 / b, v).ok is False  # forgot the noise variance
    assert judge("Exercise 1", sigma**2 / (2 * b), v).ok is False  # a factor 1/2 from L2
    assert judge("Exercise 1", b / sigma**2, v).ok is False  # upside down
    assert judge("Exercise 1", sigma**2 / b**2, v).ok is False  # the Gaussian's variance
    assert judge("Exercise 1", "sigma**2/b", v).ok is False


@jax.jit
def _reference(x, scale, g, eps=1e-5):
    n = x.shape[0]
    mean = x.mean(0)
    sd = jnp.sqrt(((x - mean) ** 2).mean(0) + eps)
    xh = (x - mean) / sd
    return scale / (n * sd) * (n * g - g.sum(0) - xh * (g * xh).sum(0))


@jax.jit
def _no_xhat_term(x, scale, g, eps=1e-5):  # forgets the variance's path
    n = x.shape[0]
    sd = jnp.sqrt(x.var(0) + eps)
    return scale / (n * sd) * (n * g - g.sum(0))


@jax.jit
def _no_mean_term(x, scale, g, eps=1e-5):  # forgets the mean's path
    n = x.shape[0]
    sd = jnp.sqrt(x.var(0) + eps)
    xh = (x - x.mean(0)) / sd
    return scale / (n * sd) * (n * g - xh * (g * xh).sum(0))


@jax.jit
def _unbiased(x, scale, g, eps=1e-5):  # N - 1 in the variance (NaN for a batch of one)
    n = x.shape[0]
    sd = jnp.sqrt(x.var(0, ddof=1) + eps)
    xh = (x - x.mean(0)) / sd
    return scale / (n * sd) * (n * g - g.sum(0) - xh * (g * xh).sum(0))


@jax.jit
def _no_scale(x, scale, g, eps=1e-5):  # drops gamma
    return _reference(x, jnp.ones_like(scale), g, eps)


def test_exercise_2_batch_norm_input_gradient(verdicts):
    v = verdicts["Exercise 2"]
    assert judge("Exercise 2", _reference, v).ok is True
    for mistake in (_no_xhat_term, _no_mean_term, _unbiased, _no_scale):
        assert judge("Exercise 2", mistake, v).ok is False, mistake.__name__
    assert judge("Exercise 2", lambda x, s, g: g, v).ok is False
