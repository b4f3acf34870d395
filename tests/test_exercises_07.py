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
f, i, o, c = sp.symbols("f i o c", real=True)
g = sp.Symbol(r"\tilde{c}", real=True)  # the LSTM's candidate
h, a_f, a_i, a_g, w_f, w_i, w_g = sp.symbols("h a_f a_i a_g w_f w_i w_g", real=True)


def sig(u):
    return 1 / (1 + sp.exp(-u))


@pytest.fixture(scope="module")
def verdicts():
    return checkers(CHAPTER)


def test_exercise_2_the_cell_path_of_the_hidden_state(verdicts):
    v = verdicts["Exercise 2"]
    c_new = f * c + i * g
    assert judge("Exercise 2", o * f * (1 - sp.tanh(c_new) ** 2), v).ok is True
    assert judge("Exercise 2", o * f / sp.cosh(c_new) ** 2, v).ok is True  # the same, other form
    assert judge("Exercise 2", o * (1 - sp.tanh(c_new) ** 2), v).ok is False  # forgot f
    assert judge("Exercise 2", o * f * (1 - c_new ** 2), v).ok is False  # tanh' as 1 - x^2
    assert judge("Exercise 2", f, v).ok is False  # dc'/dc, not dh'/dc
    assert judge("Exercise 2", o * f * (1 - sp.tanh(c) ** 2), v).ok is False  # tanh' at c, not c'
    assert judge("Exercise 2", "o*f*(1 - tanh(f*c + i*g)**2)", v).ok is False


def test_exercise_3_the_gate_path_of_the_cell_state(verdicts):
    v = verdicts["Exercise 3"]
    sf, si, tg = sig(a_f + w_f * h), sig(a_i + w_i * h), sp.tanh(a_g + w_g * h)
    reference = w_f * sf * (1 - sf) * c + w_i * si * (1 - si) * tg + si * w_g * (1 - tg ** 2)
    assert judge("Exercise 3", reference, v).ok is True
    # the same, with sigma' = e^{-u}/(1 + e^{-u})^2 and tanh' = 1/cosh^2
    u_f, u_i = a_f + w_f * h, a_i + w_i * h
    other = (w_f * sp.exp(-u_f) / (1 + sp.exp(-u_f)) ** 2 * c
             + w_i * sp.exp(-u_i) / (1 + sp.exp(-u_i)) ** 2 * tg
             + si * w_g / sp.cosh(a_g + w_g * h) ** 2)
    assert judge("Exercise 3", other, v).ok is True
    no_c = w_f * sf * (1 - sf) + w_i * si * (1 - si) * tg + si * w_g * (1 - tg ** 2)  # forgot c
    assert judge("Exercise 3", no_c, v).ok is False
    # forgot the inner derivatives (the weights)
    no_w = sf * (1 - sf) * c + si * (1 - si) * tg + si * (1 - tg ** 2)
    assert judge("Exercise 3", no_w, v).ok is False
    only_candidate = si * w_g * (1 - tg ** 2)  # the gates held fixed
    assert judge("Exercise 3", only_candidate, v).ok is False


def _split(params, x, h):
    """The two projections as recurrent.init_gru's dense layers compute them (x @ w + b)."""
    hid = params["hh"]["w"].shape[0]
    gx = x @ params["ih"]["w"] + params["ih"]["b"]
    gh = h @ params["hh"]["w"] + params["hh"]["b"]
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
    b_hn = params["hh"]["b"][2 * hid:]
    n = jnp.tanh(gx[:, 2 * hid:] + r * (gh[:, 2 * hid:] - b_hn) + b_hn)
    return (1 - z) * n + z * h


def _gates_swapped(params, x, h):  # (z, r, n) instead of PyTorch's (r, z, n)
    hid, gx, gh = _split(params, x, h)
    z = jax.nn.sigmoid(gx[:, :hid] + gh[:, :hid])
    r = jax.nn.sigmoid(gx[:, hid:2 * hid] + gh[:, hid:2 * hid])
    n = jnp.tanh(gx[:, 2 * hid:] + r * gh[:, 2 * hid:])
    return (1 - z) * n + z * h


def _one_bias(params, x, h):  # the hidden bias dropped (a framework that adds one per gate)
    hid, gx, _ = _split(params, x, h)
    gh = h @ params["hh"]["w"]
    r = jax.nn.sigmoid(gx[:, :hid] + gh[:, :hid])
    z = jax.nn.sigmoid(gx[:, hid:2 * hid] + gh[:, hid:2 * hid])
    n = jnp.tanh(gx[:, 2 * hid:] + r * gh[:, 2 * hid:])
    return (1 - z) * n + z * h


def _reference_rewritten(params, x, h):  # the same step, gate by gate, h + (1 - z)(n - h)
    hid = params["hh"]["w"].shape[0]
    cols = lambda q: slice(q * hid, (q + 1) * hid)  # noqa: E731
    pre = lambda q: x @ params["ih"]["w"][:, cols(q)] + params["ih"]["b"][cols(q)]  # noqa: E731
    rec = lambda q: h @ params["hh"]["w"][:, cols(q)] + params["hh"]["b"][cols(q)]  # noqa: E731
    r, z = jax.nn.sigmoid(pre(0) + rec(0)), jax.nn.sigmoid(pre(1) + rec(1))
    n = jnp.tanh(pre(2) + r * rec(2))
    return h + (1 - z) * (n - h)


def _hidden_kernel_transposed(params, x, h):  # h w^T, PyTorch's (out, in) habit, on (H, 3H)
    hid, gx, _ = _split(params, x, h)
    gh = h @ params["hh"]["w"].reshape(3, hid, hid).transpose(0, 2, 1).reshape(hid, 3 * hid) \
        + params["hh"]["b"]
    r = jax.nn.sigmoid(gx[:, :hid] + gh[:, :hid])
    z = jax.nn.sigmoid(gx[:, hid:2 * hid] + gh[:, hid:2 * hid])
    n = jnp.tanh(gx[:, 2 * hid:] + r * gh[:, 2 * hid:])
    return (1 - z) * n + z * h


def test_exercise_4_gru_step(verdicts):
    v = verdicts["Exercise 4"]
    assert judge("Exercise 4", _reference, v).ok is True
    assert judge("Exercise 4", _reference_rewritten, v).ok is True
    for mistake in (_z_swapped, _reset_before_bias, _gates_swapped, _one_bias,
                    _hidden_kernel_transposed):
        assert judge("Exercise 4", mistake, v).ok is False, mistake.__name__
    assert judge("Exercise 4", lambda params, x, h: h, v).ok is False


def _lstm_gates(a):
    i, f, g, o = jnp.split(a, 4, axis=-1)
    return jax.nn.sigmoid(i), jax.nn.sigmoid(f), jnp.tanh(g), jax.nn.sigmoid(o)


def _lstm_backward(a, c, h_bar, c_bar):  # Section 9's local gradients
    i, f, g, o = _lstm_gates(a)
    tanh_c = jnp.tanh(f * c + i * g)
    d_c = c_bar + h_bar * o * (1 - tanh_c ** 2)
    a_bar = jnp.concatenate([d_c * g * i * (1 - i), d_c * c * f * (1 - f), d_c * i * (1 - g ** 2),
                             h_bar * tanh_c * o * (1 - o)], axis=-1)
    return a_bar, d_c * f


def _lstm_backward_rewritten(a, c, h_bar, c_bar):  # sigma' and tanh' written out, a list
    a_i, a_f, a_g, a_o = jnp.split(a, 4, axis=-1)
    s = jax.nn.sigmoid
    c_new = s(a_f) * c + s(a_i) * jnp.tanh(a_g)
    d_c = c_bar + h_bar * s(a_o) / jnp.cosh(c_new) ** 2
    parts = [d_c * jnp.tanh(a_g) * s(a_i) * s(-a_i), d_c * c * s(a_f) * s(-a_f),
             d_c * s(a_i) / jnp.cosh(a_g) ** 2, h_bar * jnp.tanh(c_new) * s(a_o) * s(-a_o)]
    return [jnp.concatenate(parts, axis=-1), d_c * s(a_f)]


def _lstm_backward_no_h_path(a, c, h_bar, c_bar):  # delta^c without the path through h'
    i, f, g, o = _lstm_gates(a)
    tanh_c = jnp.tanh(f * c + i * g)
    d_c = c_bar
    a_bar = jnp.concatenate([d_c * g * i * (1 - i), d_c * c * f * (1 - f), d_c * i * (1 - g ** 2),
                             h_bar * tanh_c * o * (1 - o)], axis=-1)
    return a_bar, d_c * f


def _lstm_backward_carry_c_bar(a, c, h_bar, c_bar):  # carries c_bar * f, not delta^c * f
    a_bar, _ = _lstm_backward(a, c, h_bar, c_bar)
    return a_bar, c_bar * _lstm_gates(a)[1]


def _lstm_backward_swapped_gates(a, c, h_bar, c_bar):  # (f, i, g, o): the gates' order mixed up
    a_bar, c_prev = _lstm_backward(a, c, h_bar, c_bar)
    i_bar, f_bar, g_bar, o_bar = jnp.split(a_bar, 4, axis=-1)
    return jnp.concatenate([f_bar, i_bar, g_bar, o_bar], axis=-1), c_prev


def _lstm_backward_tanh_slope_of_g(a, c, h_bar, c_bar):  # tanh' taken at a_g's sigmoid
    i, f, g, o = _lstm_gates(a)
    a_bar, c_prev = _lstm_backward(a, c, h_bar, c_bar)
    tanh_c = jnp.tanh(f * c + i * g)
    d_c = c_bar + h_bar * o * (1 - tanh_c ** 2)
    hid = c.shape[-1]
    return a_bar.at[:, 2 * hid:3 * hid].set(d_c * i * g * (1 - g)), c_prev


def test_exercise_5_lstm_backward_step(verdicts):
    v = verdicts["Exercise 5"]
    assert judge("Exercise 5", _lstm_backward, v).ok is True
    assert judge("Exercise 5", _lstm_backward_rewritten, v).ok is True
    for mistake in (_lstm_backward_no_h_path, _lstm_backward_carry_c_bar,
                    _lstm_backward_swapped_gates, _lstm_backward_tanh_slope_of_g):
        assert judge("Exercise 5", mistake, v).ok is False, mistake.__name__
    assert judge("Exercise 5", lambda a, c, h_bar, c_bar: (a, c), v).ok is False


def _lstm_backward_by_vjp(a, c, h_bar, c_bar):  # right values, but by jax's differentiation
    def step(a, c):
        i, f, g, o = _lstm_gates(a)
        c_new = f * c + i * g
        return o * jnp.tanh(c_new), c_new

    return jax.vjp(step, a, c)[1]((h_bar, c_bar))


def _lstm_backward_by_grad(a, c, h_bar, c_bar):  # jax.grad of the linearised loss Lambda
    def lam(a, c):
        i, f, g, o = _lstm_gates(a)
        c_new = f * c + i * g
        return jnp.sum(h_bar * o * jnp.tanh(c_new) + c_bar * c_new)

    return jax.grad(lam, argnums=(0, 1))(a, c)


def test_exercise_5_refuses_jax_differentiation(verdicts):
    v = verdicts["Exercise 5"]
    for autodiff in (_lstm_backward_by_vjp, _lstm_backward_by_grad):
        verdict = judge("Exercise 5", autodiff, v)
        assert verdict.ok is False, autodiff.__name__
        assert "by hand" in verdict.message
    # a name that merely contains one of the words is no call of jax's differentiation
    def with_gradient_names(a, c, h_bar, c_bar):
        a_grad, c_grad = _lstm_backward(a, c, h_bar, c_bar)
        return a_grad, c_grad

    assert judge("Exercise 5", with_gradient_names, v).ok is True
