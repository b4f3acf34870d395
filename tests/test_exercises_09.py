"""The checkers of chapter 09's exercises say right to a reference solution and to an
equivalent rewriting, and not right to plausible mistakes."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest
import sympy as sp
from exercise_harness import checkers

from dlmath.exercises import judge

CHAPTER = "09_normalization"
v = sp.Symbol("v", real=True)
eta, l1, l2 = sp.symbols("eta lambda_1 lambda_2", positive=True)
tau = eta * l1


@pytest.fixture(scope="module")
def verdicts():
    return checkers(CHAPTER)


def test_exercise_2_the_elastic_net_proximal_step(verdicts):
    v_ = verdicts["Exercise 2"]
    d = 1 + eta * l2
    reference = sp.sign(v) * sp.Max(sp.Abs(v) - tau, 0) / (1 + eta * l2)
    piecewise = sp.Piecewise(((v - tau) / d, v > tau), ((v + tau) / d, v < -tau), (0, True))
    via_max = (sp.Max(v - tau, 0) - sp.Max(-v - tau, 0)) / d  # the two one-sided parts
    assert judge("Exercise 2", reference, v_).ok is True
    assert judge("Exercise 2", piecewise, v_).ok is True
    assert judge("Exercise 2", via_max, v_).ok is True
    # shrink first, then threshold (the order swapped)
    assert judge("Exercise 2", sp.sign(v) * sp.Max(sp.Abs(v) / d - tau, 0), v_).ok is False
    # forgot the learning rate on the L2 part
    assert judge("Exercise 2", sp.sign(v) * sp.Max(sp.Abs(v) - tau, 0) / (1 + l2), v_).ok is False
    # a gradient step for L2 instead of its proximal step
    step = sp.sign(v) * sp.Max(sp.Abs(v) - tau, 0) * (1 - eta * l2)
    assert judge("Exercise 2", step, v_).ok is False
    # a sign: thresholds towards the wrong side
    assert judge("Exercise 2", sp.sign(v) * sp.Max(sp.Abs(v) + tau, 0) / d, v_).ok is False
    text = "sign(v)*Max(Abs(v) - eta*lambda_1, 0)/(1 + eta*lambda_2)"
    assert judge("Exercise 2", text, v_).ok is False  # a string is not an expression


@jax.jit
def _reference(x, scale, g, eps=1e-5):
    n = x.shape[0]
    mean = x.mean(0)
    sd = jnp.sqrt(((x - mean) ** 2).mean(0) + eps)
    xh = (x - mean) / sd
    return scale / (n * sd) * (n * g - g.sum(0) - xh * (g * xh).sum(0))


@jax.jit
def _rewritten(x, scale, g, eps=1e-5):  # the same, with the mean of g and of g xh
    xh = (x - x.mean(0)) / jnp.sqrt(x.var(0) + eps)
    return scale / jnp.sqrt(x.var(0) + eps) * (g - g.mean(0) - xh * (g * xh).mean(0))


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


def test_exercise_3_batch_norm_input_gradient(verdicts):
    v_ = verdicts["Exercise 3"]
    assert judge("Exercise 3", _reference, v_).ok is True
    assert judge("Exercise 3", _rewritten, v_).ok is True
    for mistake in (_no_xhat_term, _no_mean_term, _unbiased, _no_scale):
        assert judge("Exercise 3", mistake, v_).ok is False, mistake.__name__
    assert judge("Exercise 3", lambda x, s, g: g, v_).ok is False
