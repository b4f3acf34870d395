"""Unit tests of dlmath.recurrent: the cells against flax.linen's (weights mapped by
to_flax) and against float64 NumPy written out here, the sequences against a Python loop of
cells (the hoisted projection changes nothing), gradients against finite differences,
PyTorch's parameter names, the documented formulas, every error path, and
training.global_norm / clip_by_global_norm against optax."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from dlmath import recurrent as R
from dlmath import training

B, T, D, H = 2, 5, 3, 4


def _setup(cell, seed=0, dtype=jnp.float32):
    k = jax.random.split(jax.random.key(seed), 4)
    p = R.init_params(k[0], cell, D, H, dtype=dtype)
    xs = jax.random.normal(k[1], (B, T, D), dtype)
    h0 = 0.5 * jax.random.normal(k[2], (B, H), dtype)
    c0 = 0.5 * jax.random.normal(k[3], (B, H), dtype)
    return p, xs, h0, c0


# ---- float64 NumPy, the formulas written out -------------------------------------------

def _sig(z):
    return 1 / (1 + np.exp(-z))


def _np_step(cell, p, x, h, c=None):
    p = {k: np.asarray(v, np.float64) for k, v in p.items()}
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
    # biases that are not zero in both sets, so a dropped or unsummed bias shows
    p = {**p, "bias_ih": p["bias_ih"] + 0.3, "bias_hh": p["bias_hh"] - 0.1}
    module = flax_cell(features=H)
    variables = {"params": R.to_flax(p, cell)}
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
    (c_f, h_f), hs_f = scanned.apply({"params": R.to_flax(p, "lstm")}, (c0, h0), xs)
    hs, (h, c) = R.lstm(p, xs, (h0, c0))
    np.testing.assert_allclose(hs, hs_f, atol=1e-6)
    np.testing.assert_allclose(c, c_f, atol=1e-6)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_gradients_float64_against_finite_differences(cell):
    from jax.test_util import check_grads

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


def test_pytorch_state_dict_names_and_shapes_load_by_name():
    """A dict with exactly the keys and shapes of torch.nn.LSTM(D, H, batch_first=True)
    .state_dict() (weight_ih_l0 (4H, D), weight_hh_l0 (4H, H), bias_ih_l0, bias_hh_l0 (4H,)),
    mapped as the module docstring says."""
    rng = np.random.default_rng(0)
    state_dict = {"weight_ih_l0": rng.standard_normal((4 * H, D)).astype(np.float32),
                  "weight_hh_l0": rng.standard_normal((4 * H, H)).astype(np.float32),
                  "bias_ih_l0": rng.standard_normal(4 * H).astype(np.float32),
                  "bias_hh_l0": rng.standard_normal(4 * H).astype(np.float32)}
    params = {k.removesuffix("_l0"): jnp.asarray(v) for k, v in state_dict.items()}
    assert set(params) == set(R.PARAM_NAMES)
    xs = jnp.ones((B, T, D))
    hs, _ = R.lstm(params, xs, (jnp.zeros((B, H)), jnp.zeros((B, H))))
    want, _ = _np_sequence("lstm", params, xs, np.zeros((B, H)), np.zeros((B, H)))
    np.testing.assert_allclose(hs, want, atol=2e-6)
    for cell, G in R.GATES.items():
        p = R.init_params(jax.random.key(0), cell, D, H)
        assert {k: v.shape for k, v in p.items()} == {
            "weight_ih": (G * H, D), "weight_hh": (G * H, H), "bias_ih": (G * H,),
            "bias_hh": (G * H,)}
        assert float(jnp.max(jnp.abs(p["weight_hh"]))) <= 1 / np.sqrt(H)


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
    _raises(ValueError, lambda: R.lstm({k: v for k, v in p.items() if k != "bias_hh"}, xs,
                                       (h0, c0)), "lstm:", "params", "bias_hh")
    _raises(ValueError, lambda: R.lstm({**p, "weight_ih_l0": p["weight_ih"]}, xs, (h0, c0)),
            "removesuffix")
    _raises(ValueError, lambda: R.lstm(p, xs, (h0[:, :3], c0)), "lstm:", "initial_state[0]",
            "(B, H) = (2, 4)", "(2, 3)")
    _raises(ValueError, lambda: R.lstm(p, xs, (h0, c0[:1])), "initial_state[1]")
    _raises(TypeError, lambda: R.lstm(p, xs, h0), "lstm:", "initial_state", "(h, c)")
    _raises(ValueError, lambda: R.lstm(p, xs[0], (h0, c0)), "lstm:", "xs", "(B, T, D)")
    _raises(ValueError, lambda: R.gru(p, xs, h0), "gru:", "G = 3")  # LSTM weights in a GRU
    _raises(ValueError, lambda: R.rnn_cell(R.init_params(jax.random.key(0), "rnn", D, H),
                                           xs, h0), "rnn_cell:", "x", "(B, D)")
    _raises(TypeError, lambda: R.rnn(R.init_params(jax.random.key(0), "rnn", D, H),
                                     xs.astype(jnp.int32), h0), "rnn:", "xs")
    mixed = {**p, "bias_ih": p["bias_ih"].astype(jnp.float16)}
    _raises(TypeError, lambda: R.lstm(mixed, xs, (h0, c0)), "lstm:", "params")
    bad_bias = {**p, "bias_ih": p["bias_ih"][:-1]}
    _raises(ValueError, lambda: R.lstm_cell(bad_bias, xs[:, 0], (h0, c0)), "lstm_cell:",
            "bias_ih", "(16,)")
    _raises(ValueError, lambda: R.init_params(jax.random.key(0), "lstmcell", D, H), "cell")
    _raises(ValueError, lambda: R.to_flax(p, "elman"), "to_flax:", "cell")


# ---- the documented formulas ---------------------------------------------------------------

def test_documented_formulas_equal_the_code():
    """The $$ formulas of the docstrings (dlmath.formulas.recurrent) at D = 2, H = 2, with
    numbers for every entry, against the cells (one sequence, one step)."""
    import sympy as sp

    from dlmath.formulas import recurrent as F

    d, hh = 2, 2
    with jax.enable_x64(True):
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
            if cell == "lstm":
                h_new, c_new = R.lstm_cell(p, x[None], (h[None], c[None]))
                pairs = [(F.LSTM_CELL_STATE, step, c_new), (F.LSTM_STEP_CELL, seq, c_new)]
                cn = {F.c_new[u]: float(c_new[0, u]) for u in range(hh)}
                pairs += [(F.LSTM_HIDDEN, step | cn, h_new), (F.LSTM_STEP_HIDDEN, seq | cn, h_new)]
            else:
                h_new = getattr(R, f"{cell}_cell")(p, x[None], h[None])
                one, many = {"rnn": (F.RNN_CELL, F.RNN_STEP), "gru": (F.GRU_CELL, F.GRU_STEP)}[cell]
                pairs = [(one, step, h_new), (many, seq, h_new)]
            for formula, values, want in pairs:
                expr = formula.expr.xreplace({F.D: d, F.H: hh, F.t: 1})
                for u in range(hh):
                    e = expr.xreplace({F.j: u}).doit()
                    got = float(e.xreplace({k_: sp.Float(v) for k_, v in (nums | values).items()}))
                    assert abs(got - float(want[0, u])) < 1e-10, (formula.name, u)
        g = rng.standard_normal(5)
        norm = F.GLOBAL_NORM.expr.subs(F.n, 5).doit().subs({F.g[q]: g[q] for q in range(5)})
        assert abs(float(norm) - float(training.global_norm({"a": g[:2], "b": g[2:]}))) < 1e-12
        clipped = training.clip_by_global_norm({"a": g}, 0.5)["a"]
        for u in range(5):
            e = F.CLIPPED.expr.subs(F.n, 5).subs(F.j, u).doit().subs(
                {F.g[q]: g[q] for q in range(5)} | {F.c_max: sp.Rational(1, 2)})
            assert abs(float(e) - float(clipped[u])) < 1e-12


# ---- gradient clipping (dlmath.training) ------------------------------------------------

def test_clip_by_global_norm_is_optax_and_keeps_the_direction():
    g = {"w": jnp.arange(6.0).reshape(2, 3) - 2.5, "b": jnp.array([3.0, -4.0])}
    np.testing.assert_allclose(training.global_norm(g), optax.tree.norm(g), rtol=1e-6)
    for c in (0.5, 2.0, 100.0):
        ours = training.clip_by_global_norm(g, c)
        theirs, _ = optax.clip_by_global_norm(c).update(g, optax.EmptyState())
        for k in g:
            np.testing.assert_allclose(ours[k], theirs[k], rtol=1e-6)
        norm = float(training.global_norm(ours))
        assert norm <= c * (1 + 1e-6)
        flat = np.concatenate([np.ravel(ours[k]) for k in g])
        orig = np.concatenate([np.ravel(g[k]) for k in g])
        cos = flat @ orig / (np.linalg.norm(flat) * np.linalg.norm(orig))
        assert abs(cos - 1) < 1e-6
    zero = training.clip_by_global_norm({"w": jnp.zeros(3)}, 1.0)["w"]
    assert not np.any(np.asarray(zero)) and np.all(np.isfinite(np.asarray(zero)))
    big = training.clip_by_global_norm({"w": jnp.full(4, 300.0, jnp.float16)}, 1.0)["w"]
    assert big.dtype == jnp.float16 and np.allclose(np.asarray(big, np.float32), 0.5, atol=1e-3)


def test_clip_errors_and_use_in_fit():
    with pytest.raises(ValueError, match="clip_by_global_norm: max_norm"):
        training.clip_by_global_norm({"w": jnp.ones(2)}, -1.0)
    with pytest.raises(TypeError, match="global_norm"):
        training.global_norm({"w": jnp.ones(2, jnp.int32)})
    with pytest.raises(ValueError, match="global_norm"):
        training.global_norm({})
    from dlmath import optim

    loss = lambda p: jnp.sum((p["w"] - 10.0) ** 2)  # noqa: E731

    def clipped(p):
        v, gr = jax.value_and_grad(loss)(p)
        return v, training.clip_by_global_norm(gr, 1.0)

    params, _ = training.fit(optim.sgd(0.5), loss, {"w": jnp.zeros(2)}, steps=3,
                             value_and_grad=clipped)
    # each clipped step moves 0.5 * 1 along the gradient direction (1, 1) / sqrt(2)
    np.testing.assert_allclose(params["w"], 3 * 0.5 / np.sqrt(2), rtol=1e-6)
