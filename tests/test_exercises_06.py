"""The checkers of chapter 06's exercises say right to a reference solution and to an
equivalent rewriting, and not right to plausible mistakes."""

from __future__ import annotations

import jax.numpy as jnp
import pytest
import sympy as sp
from exercise_harness import checkers

from dlmath import conv
from dlmath.exercises import judge

CHAPTER = "06_convolution"
H_out, s, p, d, K = sp.symbols("H' s p d K", integer=True, positive=True)
a = sp.Symbol("a", integer=True, nonnegative=True)
C, O = sp.symbols("C O", integer=True, positive=True)


@pytest.fixture(scope="module")
def verdicts():
    return checkers(CHAPTER)


def test_exercise_2_the_transposed_convolutions_output_size(verdicts):
    v = verdicts["Exercise 2"]
    assert judge("Exercise 2", (H_out - 1) * s - 2 * p + d * (K - 1) + a + 1, v).ok is True
    # the same, multiplied out and regrouped
    assert judge("Exercise 2", H_out * s - s - 2 * p + d * K - d + a + 1, v).ok is True
    # solved from the remainder form: H = s(H' - 1) + a + 1 + d(K - 1) - 2p
    assert judge("Exercise 2", s * (H_out - 1) + a - (2 * p - d * (K - 1) - 1), v).ok is True
    assert judge("Exercise 2", (H_out - 1) * s + 2 * p + d * (K - 1) + a + 1, v).ok is False  # +2p
    assert judge("Exercise 2", (H_out - 1) * s - 2 * p + d * (K - 1) + a, v).ok is False  # no +1
    assert judge("Exercise 2", H_out * s - 2 * p + d * (K - 1) + a + 1, v).ok is False  # H' s
    assert judge("Exercise 2", (H_out - 1) * s - 2 * p + K + a, v).ok is False  # no dilation
    assert judge("Exercise 2", "(H'-1)s - 2p + d(K-1) + a + 1", v).ok is False  # not SymPy


def test_exercise_3_the_depthwise_separable_cost(verdicts):
    v = verdicts["Exercise 3"]
    assert judge("Exercise 3", (K**2 * C + C * O) / (K**2 * C * O), v).ok is True
    assert judge("Exercise 3", 1 / O + 1 / K**2, v).ok is True  # C cancels
    assert judge("Exercise 3", (K**2 + O) / (K**2 * O), v).ok is True
    assert judge("Exercise 3", 1 / O + 1 / K, v).ok is False  # forgets the square
    assert judge("Exercise 3", 1 / (O * K**2), v).ok is False  # multiplies the two parts
    assert judge("Exercise 3", (K**2 * C + C * O) / (K**2 * O), v).ok is False  # a factor C
    assert judge("Exercise 3", (K**2 * C * O) / (K**2 * C + C * O), v).ok is False  # inverted


def _reference(x, w):
    return conv.conv2d(x, w[::-1, ::-1])


def _by_transposes(x, w):  # the flip with jnp.flip instead of slicing
    return conv.conv2d(x, jnp.flip(w, axis=(0, 1)))


def _no_flip(x, w):  # the cross-correlation itself
    return conv.conv2d(x, w)


def _one_axis(x, w):  # flips the rows only
    return conv.conv2d(x, w[::-1])


def _channels_too(x, w):  # flips the channel axes as well
    return conv.conv2d(x, w[::-1, ::-1, ::-1, ::-1])


def _same_padding(x, w):  # a "SAME" output instead of "VALID"
    return conv.conv2d(x, w[::-1, ::-1], padding="SAME")


def test_exercise_4_true_convolution(verdicts):
    v = verdicts["Exercise 4"]
    assert judge("Exercise 4", _reference, v).ok is True
    assert judge("Exercise 4", _by_transposes, v).ok is True
    for mistake in (_no_flip, _one_axis, _channels_too, _same_padding):
        assert judge("Exercise 4", mistake, v).ok is False, mistake.__name__
    assert judge("Exercise 4", lambda x, w: jnp.zeros(()), v).ok is False
