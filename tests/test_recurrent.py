"""Unit tests of dlmath.recurrent: the cells against flax.linen's (weights mapped by
dlmath.convert) and against float64 NumPy written out here in PyTorch's layout, the
sequences against a Python loop of cells (the hoisted projection changes nothing), the
public steps and scan, gradients against finite differences, PyTorch's draw and state_dict,
the documented formulas and every error path."""

from __future__ import annotations

import itertools
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dlmath import convert
from dlmath import recurrent as R
from dlmath.testing import in_float64

B, T, D, H = 2, 5, 3, 4


def _init(cell, key, d=D, h=H, **kw):
    return getattr(R, f"init_{cell}")(key, d, h, **kw)


def _setup(cell, seed=0, dtype=jnp.float32):
    k = jax.random.split(jax.random.key(seed), 4)
    p = _init(cell, k[0], dtype=dtype)
    xs = jax.random.normal(k[1], (B, T, D), dtype)
    h0 = 0.5 * jax.random.normal(k[2], (B, H), dtype)
    c0 = 0.5 * jax.random.normal(k[3], (B, H), dtype)
    return p, xs, h0, c0


def _shifted_biases(p, d_ih=0.3, d_hh=-0.1):
    """Biases that are not zero in both layers, so a dropped or unsummed bias shows."""
    return {"ih": {**p["ih"], "b": p["ih"]["b"] + d_ih},
            "hh": {**p["hh"], "b": p["hh"]["b"] + d_hh}}


# ---- float64 NumPy, the formulas written out -------------------------------------------

def _sig(z):
    return 1 / (1 + np.exp(-z))


def _np_step(cell, p, x, h, c=None):
    """One step in PyTorch's layout (``weight_ih (G·H, D)``, ``x W^T + b``)."""
    p = {k.removesuffix("_l0"): np.asarray(v, np.float64)
         for k, v in convert.to_pytorch(p, cell).items()}
    x, h = np.asarray(x, np.float64), np.asarray(h, np.float64)
    gx = x @ p["weight_ih"].T + p["bias_ih"]
    gh = h @ p["weight_hh"].T + p["bias_hh"]
    if cell == "rnn":
        return np.tanh(gx + gh)
    if cell == "lstm":
        i, f, g, o = np.split(gx + gh, 4, -1)
        c = _sig(f) * np.asarray(c, np.float64) + _sig(i) * np.tanh(g)
        return _sig(o) * np.tanh(c), c
    r = _sig(gx[:, :H] + gh[:, :H])
    z = _sig(gx[:, H:2 * H] + gh[:, H:2 * H])
    n = np.tanh(gx[:, 2 * H:] + r * gh[:, 2 * H:])
    return (1 - z) * n + z * h


def _np_sequence(cell, p, xs, h, c=None):
    hs = []
    for t in range(xs.shape[1]):
        if cell == "lstm":
            h, c = _np_step(cell, p, xs[:, t], h, c)
        else:
            h = _np_step(cell, p, xs[:, t], h)
        hs.append(h)
    return np.stack(hs, 1), (h, c)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_sequences_equal_float64_numpy_and_a_loop_of_cells(cell):
    p, xs, h0, c0 = _setup(cell)
    want_hs, (want_h, want_c) = _np_sequence(cell, p, xs, h0, c0)
    if cell == "lstm":
        hs, (h, c) = R.lstm(p, xs, (h0, c0))
        np.testing.assert_allclose(c, want_c, atol=2e-6)
        loop_h, loop_c = h0, c0
        for t in range(T):
            loop_h, loop_c = R.lstm_cell(p, xs[:, t], (loop_h, loop_c))
    else:
        hs, h = getattr(R, cell)(p, xs, h0)
        loop_h = h0
        for t in range(T):
            loop_h = getattr(R, f"{cell}_cell")(p, xs[:, t], loop_h)
    assert hs.shape == (B, T, H) and h.shape == (B, H)
    np.testing.assert_allclose(hs, want_hs, atol=2e-6)
    np.testing.assert_allclose(h, want_h, atol=2e-6)
    np.testing.assert_allclose(hs[:, -1], h, atol=0)
    np.testing.assert_allclose(loop_h, h, atol=1e-6)


@pytest.mark.parametrize("cell,flax_cell", [("rnn", nn.SimpleCell), ("lstm", nn.LSTMCell),
                                            ("lstm", nn.OptimizedLSTMCell),
                                            ("gru", nn.GRUCell)])
def test_cells_equal_flax_with_the_documented_mapping(cell, flax_cell):
    p, xs, h0, c0 = _setup(cell, seed=1)
    p = _shifted_biases(p)
    module = flax_cell(features=H)
    variables = {"params": convert.to_flax(p, cell)}
    init = module.init(jax.random.key(0), (c0, h0) if cell == "lstm" else h0, xs[:, 0])
    assert jax.tree_util.tree_map(jnp.shape, init) == jax.tree_util.tree_map(jnp.shape,
                                                                               variables)
    if cell == "lstm":
        (c_f, h_f), _ = module.apply(variables, (c0, h0), xs[:, 0])
        h, c = R.lstm_cell(p, xs[:, 0], (h0, c0))
        np.testing.assert_allclose(c, c_f, atol=1e-6)
    else:
        h_f, _ = module.apply(variables, h0, xs[:, 0])
        h = getattr(R, f"{cell}_cell")(p, xs[:, 0], h0)
    np.testing.assert_allclose(h, h_f, atol=1e-6)


def test_lstm_equals_flax_optimized_cell_under_nn_scan():
    p, xs, h0, c0 = _setup("lstm", seed=2)
    scanned = nn.scan(nn.OptimizedLSTMCell, variable_broadcast="params",
                      split_rngs={"params": False}, in_axes=1, out_axes=1)(features=H)
    (c_f, h_f), hs_f = scanned.apply({"params": convert.to_flax(p, "lstm")}, (c0, h0), xs)
    hs, (h, c) = R.lstm(p, xs, (h0, c0))
    np.testing.assert_allclose(hs, hs_f, atol=1e-6)
    np.testing.assert_allclose(c, c_f, atol=1e-6)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_gradients_float64_against_finite_differences(cell):
    from jax.test_util import check_grads

    # check_grads over the parameter pytree too: verify differentiates arrays only
    with jax.enable_x64(True):
        p, xs, h0, c0 = _setup(cell, seed=3, dtype=jnp.float64)
        xs = xs[:1, :2]
        h0, c0 = h0[:1], c0[:1]

        def loss(p, xs, h0):
            if cell == "lstm":
                hs, (h, c) = R.lstm(p, xs, (h0, c0))
                return jnp.sum(hs**2) + jnp.sum(c)
            hs, h = getattr(R, cell)(p, xs, h0)
            return jnp.sum(hs**2) + jnp.sum(h)

        check_grads(loss, (p, xs, h0), order=1, modes=("rev",), eps=1e-6, atol=1e-7, rtol=1e-7)


def test_pytorch_state_dict_loads_through_convert():
    """A dict with exactly the keys and shapes of torch.nn.LSTM(D, H, batch_first=True)
    .state_dict() (weight_ih_l0 (4H, D), weight_hh_l0 (4H, H), bias_ih_l0, bias_hh_l0 (4H,)):
    the LSTM on its weights, as PyTorch computes it (x W^T + b, written out in NumPy)."""
    rng = np.random.default_rng(0)
    state_dict = {"weight_ih_l0": rng.standard_normal((4 * H, D)).astype(np.float32),
                  "weight_hh_l0": rng.standard_normal((4 * H, H)).astype(np.float32),
                  "bias_ih_l0": rng.standard_normal(4 * H).astype(np.float32),
                  "bias_hh_l0": rng.standard_normal(4 * H).astype(np.float32)}
    params = convert.from_pytorch(state_dict, "lstm")
    xs = jnp.ones((B, T, D))
    hs, _ = R.lstm(params, xs, (jnp.zeros((B, H)), jnp.zeros((B, H))))
    p = {k.removesuffix("_l0"): np.float64(v) for k, v in state_dict.items()}
    h = c = np.zeros((B, H))
    for t in range(T):
        i, f, g, o = np.split(xs[:, t] @ p["weight_ih"].T + p["bias_ih"] + h @ p["weight_hh"].T
                              + p["bias_hh"], 4, -1)
        c = _sig(f) * c + _sig(i) * np.tanh(g)
        h = _sig(o) * np.tanh(c)
        np.testing.assert_allclose(hs[:, t], h, atol=2e-6)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_init_draws_as_pytorch_in_its_layout(cell):
    """One uniform draw in (-1/sqrt(H), 1/sqrt(H)) for the four arrays, in PyTorch's order
    and (out, in) layout, the weights transposed into the kernels (the draw of the book's
    chapter 07 is unchanged)."""
    key, G = jax.random.key(5), R.GATES[cell]
    p = _init(cell, key)
    assert jax.tree_util.tree_map(jnp.shape, p) == {"ih": {"w": (D, G * H), "b": (G * H,)},
                                                    "hh": {"w": (H, G * H), "b": (G * H,)}}
    shapes = [(G * H, D), (G * H, H), (G * H,), (G * H,)]
    sizes = [math.prod(s) for s in shapes]
    bound = 1 / math.sqrt(H)
    flat = jax.random.uniform(key, (4096,), jnp.float32, -bound, bound)
    want = [flat[lo:lo + n].reshape(s) for s, lo, n in
            zip(shapes, itertools.accumulate(sizes, initial=0), sizes, strict=False)]
    got = convert.to_pytorch(p, cell)
    for name, w in zip(("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"), want,
                       strict=True):
        np.testing.assert_array_equal(got[name], w)
    assert float(jnp.max(jnp.abs(p["hh"]["w"]))) <= bound
    assert _init(cell, key, dtype=jnp.float16)["ih"]["w"].dtype == jnp.float16


def test_the_public_steps_and_scan_are_the_cells_and_sequences():
    """A cell is its step on the input projection dense(params['ih'], x); a sequence is
    scan of the step over the projections of all steps."""
    from dlmath.layers import dense

    for cell in ("rnn", "lstm", "gru"):
        p, xs, h0, c0 = _setup(cell, seed=6)
        p = _shifted_biases(p)
        state = (h0, c0) if cell == "lstm" else h0
        step = getattr(R, f"{cell}_step")
        xw = dense(p["ih"], xs[:, 0])
        np.testing.assert_allclose(jnp.hstack(jax.tree_util.tree_leaves(
            step(p["hh"], xw, state))), jnp.hstack(jax.tree_util.tree_leaves(
                getattr(R, f"{cell}_cell")(p, xs[:, 0], state))), atol=1e-6)
        hs, last = R.scan(lambda xw_t, s, step=step, hh=p["hh"]: step(hh, xw_t, s), state,
                          jax.vmap(dense, (None, 0), 0)(p["ih"], xs))
        want_hs, want_last = getattr(R, cell)(p, xs, state)
        np.testing.assert_allclose(hs, want_hs, atol=1e-6)
        for a, b in zip(jax.tree_util.tree_leaves(last), jax.tree_util.tree_leaves(want_last),
                        strict=True):
            np.testing.assert_allclose(a, b, atol=1e-6)


def test_empty_sequence_returns_the_initial_state():
    p, xs, h0, c0 = _setup("lstm")
    hs, (h, c) = R.lstm(p, xs[:, :0], (h0, c0))
    assert hs.shape == (B, 0, H)
    np.testing.assert_array_equal(h, h0)
    np.testing.assert_array_equal(c, c0)


def test_float16_parameters_cast_the_inputs():
    p, xs, h0, _ = _setup("gru")
    p16 = jax.tree_util.tree_map(lambda v: v.astype(jnp.float16), p)
    hs, h = R.gru(p16, xs, h0)
    assert hs.dtype == jnp.float16 and h.dtype == jnp.float16
    np.testing.assert_allclose(hs.astype(np.float32), R.gru(p, xs, h0)[0], atol=1e-2)


# ---- errors ------------------------------------------------------------------------------

def _raises(exc, fn, *words):
    with pytest.raises(exc) as e:
        fn()
    msg = str(e.value)
    for w in words:
        assert w in msg, (w, msg)
    return msg


def test_errors_name_the_function_the_argument_and_the_shapes():
    p, xs, h0, c0 = _setup("lstm")
    _raises(ValueError, lambda: R.lstm(p, xs[..., :2], (h0, c0)), "lstm:", "xs", "D = 3",
            "(2, 5, 2)")
    _raises(ValueError, lambda: R.lstm({"ih": p["ih"], "hh": {"w": p["hh"]["w"]}}, xs,
                                       (h0, c0)), "lstm:", "params", "['hh']['b']")
    _raises(ValueError, lambda: R.lstm({**p, "weight_ih_l0": p["ih"]["w"]}, xs, (h0, c0)),
            "from_pytorch")
    _raises(ValueError, lambda: R.lstm(p, xs, (h0[:, :3], c0)), "lstm:", "initial_state[0]",
            "(B, H) = (2, 4)", "(2, 3)")
    _raises(ValueError, lambda: R.lstm(p, xs, (h0, c0[:1])), "initial_state[1]")
    _raises(TypeError, lambda: R.lstm(p, xs, h0), "lstm:", "initial_state", "(h, c)")
    _raises(ValueError, lambda: R.lstm(p, xs[0], (h0, c0)), "lstm:", "xs", "(B, T, D)")
    _raises(ValueError, lambda: R.gru(p, xs, h0), "gru:", "G = 3")  # LSTM weights in a GRU
    _raises(ValueError, lambda: R.rnn_cell(R.init_rnn(jax.random.key(0), D, H), xs, h0),
            "rnn_cell:", "x", "(B, D)")
    _raises(TypeError, lambda: R.rnn(R.init_rnn(jax.random.key(0), D, H),
                                     xs.astype(jnp.int32), h0), "rnn:", "xs")
    mixed = {**p, "ih": {**p["ih"], "b": p["ih"]["b"].astype(jnp.float16)}}
    _raises(TypeError, lambda: R.lstm(mixed, xs, (h0, c0)), "lstm:", "params")
    bad_bias = {**p, "ih": {**p["ih"], "b": p["ih"]["b"][:-1]}}
    _raises(ValueError, lambda: R.lstm_cell(bad_bias, xs[:, 0], (h0, c0)), "lstm_cell:",
            "params['ih']['b']", "(16,)")
    _raises(ValueError, lambda: R.init_lstm(jax.random.key(0), D, 0), "init_lstm:",
            "hidden_size")
    _raises(TypeError, lambda: R.init_gru(0, D, H), "init_gru:", "key")
    _raises(ValueError, lambda: R.lstm_step(p["hh"], jnp.ones((B, 3 * H)), (h0, c0)),
            "lstm_step:", "xw", "(B, G·H) = (B, 16)")
    _raises(ValueError, lambda: R.gru_step(p["hh"], jnp.ones((B, 3 * H)), h0), "gru_step:",
            "G = 3")
    _raises(TypeError, lambda: R.rnn_step({"w": p["hh"]["w"]}, jnp.ones((B, H)), h0),
            "rnn_step:", "hh", "dense layer")
    _raises(TypeError, lambda: R.scan(None, h0, xs), "scan:", "step")
    _raises(ValueError, lambda: R.scan(lambda xw, h: h, h0, xs[0]), "scan:", "(B, T, G·H)")


# ---- the documented formulas ---------------------------------------------------------------

def test_documented_formulas_equal_the_code():
    """The $$ formulas of the docstrings (dlmath.formulas.recurrent) at D = 3, H = 2 (two
    sizes that differ, so a sum to the wrong limit shows), with numbers for every entry,
    against the cells (one sequence, one step)."""
    import sympy as sp

    from dlmath.formulas import recurrent as F

    d, hh = 3, 2
    rng = np.random.default_rng(1)
    x, h, c = rng.standard_normal(d), rng.standard_normal(hh), rng.standard_normal(hh)
    for cell, G in R.GATES.items():
        p = {"weight_ih": rng.standard_normal((G * hh, d)),
             "weight_hh": rng.standard_normal((G * hh, hh)),
             "bias_ih": rng.standard_normal(G * hh), "bias_hh": rng.standard_normal(G * hh)}
        nums = {F.W_ih[r_, a_]: p["weight_ih"][r_, a_] for r_ in range(G * hh)
                for a_ in range(d)}
        nums |= {F.W_hh[r_, b_]: p["weight_hh"][r_, b_] for r_ in range(G * hh)
                 for b_ in range(hh)}
        nums |= {F.b_ih[r_]: p["bias_ih"][r_] for r_ in range(G * hh)}
        nums |= {F.b_hh[r_]: p["bias_hh"][r_] for r_ in range(G * hh)}
        step = {F.x[a_]: x[a_] for a_ in range(d)} | {F.h[b_]: h[b_] for b_ in range(hh)}
        step |= {F.c[b_]: c[b_] for b_ in range(hh)}
        seq = {F.x[1, a_]: x[a_] for a_ in range(d)} | {F.h[0, b_]: h[b_]
                                                         for b_ in range(hh)}
        seq |= {F.c[0, b_]: c[b_] for b_ in range(hh)}

        def cell_fn(x, *state, p=p, cell=cell):  # the formulas' W are PyTorch's (G·H, D)
            return getattr(R, f"{cell}_cell")(convert.from_pytorch(p, cell), x[None], *state)

        if cell == "lstm":
            h_new, c_new = in_float64(lambda x, h, c: cell_fn(x, (h[None], c[None])), x, h, c)
            pairs = [(F.LSTM_CELL_STATE, step, c_new), (F.LSTM_STEP_CELL, seq, c_new)]
            cn = {F.c_new[u]: float(c_new[0, u]) for u in range(hh)}
            pairs += [(F.LSTM_HIDDEN, step | cn, h_new), (F.LSTM_STEP_HIDDEN, seq | cn, h_new)]
        else:
            h_new = in_float64(lambda x, h: cell_fn(x, h[None]), x, h)
            one, many = {"rnn": (F.RNN_CELL, F.RNN_STEP), "gru": (F.GRU_CELL, F.GRU_STEP)}[cell]
            pairs = [(one, step, h_new), (many, seq, h_new)]
        for formula, values, want in pairs:
            expr = formula.expr.xreplace({F.D: d, F.H: hh, F.t: 1})
            for u in range(hh):
                e = expr.xreplace({F.j: u}).doit()
                got = float(e.xreplace({k_: sp.Float(v) for k_, v in (nums | values).items()}))
                assert abs(got - float(want[0, u])) < 1e-10, (formula.name, u)
