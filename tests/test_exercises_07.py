"""The checkers of chapter 07's exercises say right to a reference solution and not right to
plausible mistakes."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest
import sympy as sp
from exercise_harness import checkers

from dlmath.exercises import judge

CHAPTER = "07_recurrent"
f, i, g, o, c = sp.symbols("f i g o c", real=True)
D, H = sp.symbols("D H", integer=True, positive=True)


@pytest.fixture(scope="module")
def verdicts():
    return checkers(CHAPTER)


def test_exercise_1_the_cell_path_of_the_hidden_state(verdicts):
    v = verdicts["Exercise 1"]
    c_new = f * c + i * g
    assert judge("Exercise 1", o * f * (1 - sp.tanh(c_new) ** 2), v).ok is True
    assert judge("Exercise 1", o * f / sp.cosh(c_new) ** 2, v).ok is True  # the same, other form
    assert judge("Exercise 1", o * (1 - sp.tanh(c_new) ** 2), v).ok is False  # forgot f
    assert judge("Exercise 1", o * f * (1 - c_new ** 2), v).ok is False  # tanh' as 1 - x^2
    assert judge("Exercise 1", f, v).ok is False  # dc'/dc, not dh'/dc
    assert judge("Exercise 1", o * f * (1 - sp.tanh(c) ** 2), v).ok is False  # tanh' at c, not c'
    assert judge("Exercise 1", "o*f*(1 - tanh(f*c + i*g)**2)", v).ok is False


def test_exercise_2_the_gru_parameter_count(verdicts):
    v = verdicts["Exercise 2"]
    assert judge("Exercise 2", 3 * H * (D + H + 2), v).ok is True
    assert judge("Exercise 2", 3 * H * D + 3 * H**2 + 6 * H, v).ok is True
    assert judge("Exercise 2", 3 * H * (D + H + 1), v).ok is False  # one bias only
    assert judge("Exercise 2", 4 * H * (D + H + 2), v).ok is False  # LSTM's four blocks
    assert judge("Exercise 2", 3 * (H * D + H**2) + 2 * H, v).ok is False  # biases not per gate


def _split(params, x, h):
    hid = params["weight_hh"].shape[1]
    gx = x @ params["weight_ih"].T + params["bias_ih"]
    gh = h @ params["weight_hh"].T + params["bias_hh"]
    return hid, gx, gh


def _reference(params, x, h):
    hid, gx, gh = _split(params, x, h)
    r = jax.nn.sigmoid(gx[:, :hid] + gh[:, :hid])
    z = jax.nn.sigmoid(gx[:, hid:2 * hid] + gh[:, hid:2 * hid])
    n = jnp.tanh(gx[:, 2 * hid:] + r * gh[:, 2 * hid:])
    return (1 - z) * n + z * h


def _z_swapped(params, x, h):  # h' = z n + (1 - z) h: the other convention
    hid, gx, gh = _split(params, x, h)
    r = jax.nn.sigmoid(gx[:, :hid] + gh[:, :hid])
    z = jax.nn.sigmoid(gx[:, hid:2 * hid] + gh[:, hid:2 * hid])
    n = jnp.tanh(gx[:, 2 * hid:] + r * gh[:, 2 * hid:])
    return z * n + (1 - z) * h


def _reset_before_bias(params, x, h):  # r * (W_hn h) + b_hn: the bias outside the reset
    hid, gx, gh = _split(params, x, h)
    r = jax.nn.sigmoid(gx[:, :hid] + gh[:, :hid])
    z = jax.nn.sigmoid(gx[:, hid:2 * hid] + gh[:, hid:2 * hid])
    b_hn = params["bias_hh"][2 * hid:]
    n = jnp.tanh(gx[:, 2 * hid:] + r * (gh[:, 2 * hid:] - b_hn) + b_hn)
    return (1 - z) * n + z * h


def _gates_swapped(params, x, h):  # (z, r, n) instead of PyTorch's (r, z, n)
    hid, gx, gh = _split(params, x, h)
    z = jax.nn.sigmoid(gx[:, :hid] + gh[:, :hid])
    r = jax.nn.sigmoid(gx[:, hid:2 * hid] + gh[:, hid:2 * hid])
    n = jnp.tanh(gx[:, 2 * hid:] + r * gh[:, 2 * hid:])
    return (1 - z) * n + z * h


def _one_bias(params, x, h):  # bias_hh dropped (a framework that adds one bias per gate)
    hid, gx, _ = _split(params, x, h)
    gh = h @ params["weight_hh"].T
    r = jax.nn.sigmoid(gx[:, :hid] + gh[:, :hid])
    z = jax.nn.sigmoid(gx[:, hid:2 * hid] + gh[:, hid:2 * hid])
    n = jnp.tanh(gx[:, 2 * hid:] + r * gh[:, 2 * hid:])
    return (1 - z) * n + z * h


def test_exercise_3_gru_step(verdicts):
    v = verdicts["Exercise 3"]
    assert judge("Exercise 3", _reference, v).ok is True
    for mistake in (_z_swapped, _reset_before_bias, _gates_swapped, _one_bias):
        assert judge("Exercise 3", mistake, v).ok is False, mistake.__name__
    assert judge("Exercise 3", lambda params, x, h: h, v).ok is False
