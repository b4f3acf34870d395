"""The checkers of chapter 06's exercises say right to a reference solution and not right to
plausible mistakes."""

from __future__ import annotations

import jax.numpy as jnp
import pytest
import sympy as sp
from exercise_harness import checkers

from dlmath import conv
from dlmath.exercises import judge

CHAPTER = "06_convolution"
H, K, s, d, p = sp.symbols("H K s d p", integer=True, positive=True)
L = sp.Symbol("L", integer=True, positive=True)


@pytest.fixture(scope="module")
def verdicts():
    return checkers(CHAPTER)


def test_exercise_1_the_output_size(verdicts):
    v = verdicts["Exercise 1"]
    assert judge("Exercise 1", sp.floor((H + 2 * p - d * (K - 1) - 1) / s) + 1, v).ok is True
    assert judge("Exercise 1", sp.floor((H - d * K + d + 2 * p - 1) / s) + 1, v).ok is True  # same
    assert judge("Exercise 1", sp.floor((H + 2 * p - d * (K - 1) - 1) / s), v).ok is False  # no +1
    assert judge("Exercise 1", sp.floor((H + p - d * (K - 1) - 1) / s) + 1, v).ok is False  # 1 side
    assert judge("Exercise 1", sp.floor((H + 2 * p - K) / s) + 1, v).ok is False  # no dilation
    assert judge("Exercise 1", (H + 2 * p - d * (K - 1) - 1) / s + 1, v).ok is False  # no floor
    assert judge("Exercise 1", "floor((H + 2p - d(K-1) - 1)/s) + 1", v).ok is False


def test_exercise_2_the_receptive_field(verdicts):
    v = verdicts["Exercise 2"]
    assert judge("Exercise 2", 1 + L * (K - 1), v).ok is True
    assert judge("Exercise 2", L * K - L + 1, v).ok is True  # expanded
    assert judge("Exercise 2", L * K, v).ok is False  # forgets the overlap
    assert judge("Exercise 2", (K - 1) ** L + 1, v).ok is False  # multiplies instead of adds
    assert judge("Exercise 2", L * (K - 1), v).ok is False  # misses the first pixel


def _reference(x, w):
    return conv.conv2d(x, w[::-1, ::-1])


def _no_flip(x, w):  # the cross-correlation itself
    return conv.conv2d(x, w)


def _one_axis(x, w):  # flips the rows only
    return conv.conv2d(x, w[::-1])


def _channels_too(x, w):  # flips the channel axes as well
    return conv.conv2d(x, w[::-1, ::-1, ::-1, ::-1])


def _same_padding(x, w):  # a "SAME" output instead of "VALID"
    return conv.conv2d(x, w[::-1, ::-1], padding="SAME")


def test_exercise_3_true_convolution(verdicts):
    v = verdicts["Exercise 3"]
    assert judge("Exercise 3", _reference, v).ok is True
    for mistake in (_no_flip, _one_axis, _channels_too, _same_padding):
        assert judge("Exercise 3", mistake, v).ok is False, mistake.__name__
    assert judge("Exercise 3", lambda x, w: jnp.zeros(()), v).ok is False
