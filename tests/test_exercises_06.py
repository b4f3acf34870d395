"""The checkers of chapter 06's exercises say right to a reference solution and to an
equivalent rewriting, and not right to plausible mistakes."""

from __future__ import annotations

import jax.numpy as jnp
import pytest
import sympy as sp
from exercise_harness import checkers

from dlmath import conv
from dlmath.exercises import judge
from dlmath.formulas import conv as FC

CHAPTER = "06_convolution"
K, s, C, O = FC.K, FC.s, FC.C, FC.O_  # the symbols the exercise cells hand out
q = sp.Symbol("q", integer=True, nonnegative=True)
m = sp.Symbol("m", integer=True, positive=True)


@pytest.fixture(scope="module")
def verdicts():
    return checkers(CHAPTER)


def test_exercise_2_copies_per_row_of_a_transposed_convolution(verdicts):
    v = verdicts["Exercise 2"]
    assert judge("Exercise 2", sp.ceiling((K - q) / s), v).ok is True
    # the same count written with a floor: u = q, q + s, ... <= K - 1
    assert judge("Exercise 2", sp.floor((K - q - 1) / s) + 1, v).ok is True
    assert judge("Exercise 2", sp.floor((K - q + s - 1) / s), v).ok is True
    # 0 made explicit where q >= K
    assert judge("Exercise 2", sp.Max(0, sp.ceiling((K - q) / s)), v).ok is True
    assert judge("Exercise 2", sp.Piecewise((sp.ceiling((K - q) / s), q < K), (0, True)),
                 v).ok is True
    assert judge("Exercise 2", sp.ceiling(K / s), v).ok is False  # forgets q
    assert judge("Exercise 2", sp.floor((K - q) / s), v).ok is False  # floor, not ceiling
    assert judge("Exercise 2", (K - q) / s, v).ok is False  # no rounding
    assert judge("Exercise 2", sp.floor(K / s), v).ok is False  # the copies in a full stride
    assert judge("Exercise 2", sp.ceiling((K + q) / s), v).ok is False  # sign of q
    assert judge("Exercise 2", "ceil((K - q)/s)", v).ok is False  # not SymPy


def test_exercise_3_the_cost_with_a_depth_multiplier(verdicts):
    v = verdicts["Exercise 3"]
    assert judge("Exercise 3", (K**2 * C * m + C * m * O) / (K**2 * C * O), v).ok is True
    assert judge("Exercise 3", m / O + m / K**2, v).ok is True  # C cancels
    assert judge("Exercise 3", m * (K**2 + O) / (K**2 * O), v).ok is True
    assert judge("Exercise 3", m / K**2 + 1 / O, v).ok is False  # the 1x1 reads C, not Cm
    assert judge("Exercise 3", 1 / O + 1 / K**2, v).ok is False  # the multiplier-1 ratio
    assert judge("Exercise 3", m / O + m / K, v).ok is False  # forgets the square
    assert judge("Exercise 3", m / (O * K**2), v).ok is False  # multiplies the two parts
    assert judge("Exercise 3", (K**2 * C * O) / (K**2 * C * m + C * m * O), v).ok is False


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


def _step(buffer, x_t, w, dilation):  # the oldest input first; taps d apart
    window = jnp.concatenate([buffer, x_t[:, None]], axis=1)
    return window[:, 1:], jnp.einsum("nkc,kco->no", window[:, ::dilation], w)


def _step_newest_first(buffer, x_t, w, dilation):  # the buffer kept in the other order
    window = jnp.concatenate([x_t[:, None], buffer], axis=1)
    taps = window[:, ::dilation][:, ::-1]
    return window[:, :-1], jnp.einsum("nkc,kco->no", taps, w)


def _step_by_conv1d(buffer, x_t, w, dilation):  # one VALID conv1d over the window
    window = jnp.concatenate([buffer, x_t[:, None]], axis=1)
    return window[:, 1:], conv.conv1d(window, w, dilation=dilation)[:, 0]


def _step_flipped(buffer, x_t, w, dilation):  # tap 0 on the newest input
    window = jnp.concatenate([buffer, x_t[:, None]], axis=1)
    return window[:, 1:], jnp.einsum("nkc,kco->no", window[:, ::dilation], w[::-1])


def _step_no_dilation(buffer, x_t, w, dilation):  # the last K inputs, adjacent
    window = jnp.concatenate([buffer, x_t[:, None]], axis=1)
    return window[:, 1:], jnp.einsum("nkc,kco->no", window[:, -w.shape[0]:], w)


def _step_buffer_kept(buffer, x_t, w, dilation):  # never stores the new input
    window = jnp.concatenate([buffer, x_t[:, None]], axis=1)
    return buffer, jnp.einsum("nkc,kco->no", window[:, ::dilation], w)


def _step_current_only(buffer, x_t, w, dilation):  # the last tap alone
    return buffer, x_t @ w[-1]


def test_exercise_5_causal_convolution_one_step_at_a_time(verdicts):
    v = verdicts["Exercise 5"]
    for right in (_step, _step_newest_first, _step_by_conv1d):
        assert judge("Exercise 5", right, v).ok is True, right.__name__
    for mistake in (_step_flipped, _step_no_dilation, _step_buffer_kept, _step_current_only):
        assert judge("Exercise 5", mistake, v).ok is False, mistake.__name__
    assert judge("Exercise 5", lambda buffer, x_t, w, dilation: x_t, v).ok is False
