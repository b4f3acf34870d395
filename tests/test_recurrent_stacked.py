"""Unit tests of dlmath.recurrent_stacked: stacked, bidirectional and packed RNN / LSTM / GRU
against float64 NumPy loops written from PyTorch's documented equations (each sequence run
alone over its valid steps, per layer and direction), against dlmath's single-layer
sequences, against flax.linen (nn.Bidirectional of nn.RNN with seq_lengths), gradients
against finite differences, PyTorch's draw, the documented formulas and the errors."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dlmath import convert
from dlmath import recurrent as R
from dlmath import recurrent_stacked as S

B, T, D, H = 3, 4, 2, 3
LENGTHS = np.array([4, 1, 3])


def _setup(cell, num_layers, bidirectional, seed=0, dtype=jnp.float32):
    k = jax.random.split(jax.random.key(seed), 4)
    p = S.init_stacked(k[0], cell, D, H, num_layers=num_layers, bidirectional=bidirectional,
                       dtype=dtype)
    p = {name: v + 0.2 if name.startswith("bias") else v for name, v in p.items()}
    n = num_layers * (2 if bidirectional else 1)
    xs = jax.random.normal(k[1], (B, T, D), dtype)
    h0 = 0.5 * jax.random.normal(k[2], (n, B, H), dtype)
    c0 = 0.5 * jax.random.normal(k[3], (n, B, H), dtype)
    return p, xs, ((h0, c0) if cell == "lstm" else h0)


def _call(cell, p, xs, state=None, **kw):
    return getattr(S, f"stacked_{cell}")(p, xs, state, **kw)


# ---- float64 NumPy, PyTorch's equations, one sequence at a time -------------------------

def _sig(z):
    return 1 / (1 + np.exp(-z))


def _np_step(cell, w, x, h, c):
    gx = w["weight_ih"] @ x + w["bias_ih"]
    gh = w["weight_hh"] @ h + w["bias_hh"]
    if cell == "rnn":
        return np.tanh(gx + gh), c
    if cell == "lstm":
        i, f, g, o = np.split(gx + gh, 4)
        c = _sig(f) * c + _sig(i) * np.tanh(g)
        return _sig(o) * np.tanh(c), c
    r = _sig(gx[:H] + gh[:H])
    z = _sig(gx[H:2 * H] + gh[H:2 * H])
    n = np.tanh(gx[2 * H:] + r * gh[2 * H:])
    return (1 - z) * n + z * h, c


def _np_stacked(cell, p, xs, state, num_layers, bidirectional, lengths):
    """PyTorch's nn.RNN / LSTM / GRU on a packed batch: each sequence alone, its first
    ``lengths[b]`` steps, layer by layer; outputs padded with zeros."""
    p = {k: np.asarray(v, np.float64) for k, v in p.items()}
    xs = np.asarray(xs, np.float64)
    sfx = ("", "_reverse") if bidirectional else ("",)
    n = num_layers * len(sfx)
    if state is None:
        state = np.zeros((n, B, H))
    h0, c0 = (np.asarray(s, np.float64) for s in (state if cell == "lstm" else (state, state)))
    out = np.zeros((B, T, len(sfx) * H))
    h_n, c_n = np.zeros((n, B, H)), np.zeros((n, B, H))
    for b in range(B):
        seq = xs[b, :lengths[b]]
        for layer in range(num_layers):
            ys = []
            for k, s in enumerate(sfx):
                w = {name: p[f"{name}_l{layer}{s}"]
                     for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
                m = layer * len(sfx) + k
                h, c, y = h0[m, b], c0[m, b], []
                for x in (seq if k == 0 else seq[::-1]):
                    h, c = _np_step(cell, w, x, h, c)
                    y.append(h)
                ys.append(np.array(y if k == 0 else y[::-1]))
                h_n[m, b], c_n[m, b] = h, c
            seq = np.concatenate(ys, axis=-1)
        out[b, :lengths[b]] = seq
    return out, ((h_n, c_n) if cell == "lstm" else h_n)


@pytest.mark.parametrize("cell,num_layers,bidirectional,packed", [
    ("rnn", 2, True, True), ("lstm", 2, True, True), ("gru", 2, True, True),
    ("lstm", 2, True, False)])
def test_equals_float64_numpy_of_pytorchs_equations(cell, num_layers, bidirectional, packed):
    p, xs, state = _setup(cell, num_layers, bidirectional, seed=1)
    lengths = LENGTHS if packed else np.full(B, T)
    out, final = _call(cell, p, xs, state, num_layers=num_layers,
                       bidirectional=bidirectional, lengths=lengths if packed else None)
    want_out, want_final = _np_stacked(cell, p, xs, state, num_layers, bidirectional, lengths)
    dirs = 2 if bidirectional else 1
    assert out.shape == (B, T, dirs * H) and out.dtype == jnp.float32
    np.testing.assert_allclose(out, want_out, atol=3e-6)
    for got, want in zip(jax.tree_util.tree_leaves(final),
                         jax.tree_util.tree_leaves(want_final), strict=True):
        assert got.shape == (num_layers * dirs, B, H)
        np.testing.assert_allclose(got, want, atol=3e-6)


def test_one_layer_one_direction_is_the_single_layer_sequence():
    for cell in ("rnn", "lstm", "gru"):
        p, xs, state = _setup(cell, 1, False, seed=2)
        out, final = _call(cell, p, xs, state)
        one = convert.from_pytorch(p, cell)
        if cell == "lstm":
            hs, (h, c) = R.lstm(one, xs, (state[0][0], state[1][0]))
            np.testing.assert_allclose(final[1][0], c, atol=1e-6)
            final = final[0]
        else:
            hs, h = getattr(R, cell)(one, xs, state[0])
        np.testing.assert_allclose(out, hs, atol=1e-6)
        np.testing.assert_allclose(final[0], h, atol=1e-6)
        assert R.stacked_lstm is S.stacked_lstm  # also under dlmath.recurrent


def test_padded_batch_is_each_sequence_alone_and_the_packing_rule():
    """Outputs past a length are 0, the final forward state is the output at the last valid
    step, the reverse direction's is its output at step 0 (it started at the last valid
    step), and a padded batch gives each sequence's result run alone, unpadded."""
    p, xs, _ = _setup("lstm", 2, True, seed=3)
    out, (h_n, c_n) = _call("lstm", p, xs, num_layers=2, bidirectional=True, lengths=LENGTHS)
    for b, n in enumerate(LENGTHS):
        assert np.all(np.asarray(out[b, n:]) == 0)
        np.testing.assert_allclose(h_n[2, b], out[b, n - 1, :H], atol=0)
        np.testing.assert_allclose(h_n[3, b], out[b, 0, H:], atol=0)
    b, n = 2, LENGTHS[2]
    alone, (h_alone, c_alone) = _call("lstm", p, xs[b:b + 1, :n], num_layers=2,
                                      bidirectional=True)
    np.testing.assert_allclose(out[b:b + 1, :n], alone, atol=1e-6)
    np.testing.assert_allclose(h_n[:, b:b + 1], h_alone, atol=1e-6)
    np.testing.assert_allclose(c_n[:, b:b + 1], c_alone, atol=1e-6)


def test_padding_without_lengths_changes_every_final_state():
    """What lengths are for: run over zero padding, the forward state moves on past the
    last valid step, and the reverse direction starts in the padding."""
    p, xs, state = _setup("lstm", 2, True, seed=4)
    xs = xs.at[1, 1:].set(0.0)  # sequence 1 has one valid step, then zero padding
    kw = {"num_layers": 2, "bidirectional": True}
    _, (h_packed, _) = S.stacked_lstm(p, xs, state, lengths=LENGTHS, **kw)
    _, (h_padded, _) = S.stacked_lstm(p, xs, state, **kw)
    assert np.all(np.asarray(jnp.max(jnp.abs(h_packed[:, 1] - h_padded[:, 1]), -1)) > 1e-3)
    np.testing.assert_allclose(h_packed[:, 0], h_padded[:, 0], atol=1e-6)  # a full one


def test_two_bidirectional_layers_equal_flax_with_seq_lengths():
    """flax's nn.Bidirectional(nn.RNN(OptimizedLSTMCell), nn.RNN(...)) twice, on the same
    weights (convert.to_flax per layer and direction) and seq_lengths: the outputs at valid
    steps (flax leaves the others unspecified) and every final carry."""
    p, xs, (h0, c0) = _setup("lstm", 2, True, seed=5)
    out, (h_n, c_n) = S.stacked_lstm(p, xs, (h0, c0), num_layers=2, bidirectional=True,
                                     lengths=LENGTHS)
    bi = nn.Bidirectional(nn.RNN(nn.OptimizedLSTMCell(H)), nn.RNN(nn.OptimizedLSTMCell(H)),
                          return_carry=True)
    y = xs
    for layer in range(2):
        cells = [convert.to_flax(convert.from_pytorch(
            {f"{k}_l0": p[f"{k}_l{layer}{s}"] for k in
             ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}, "lstm"), "lstm")
            for s in ("", "_reverse")]
        params = {"forward_rnn": {"cell": cells[0]}, "backward_rnn": {"cell": cells[1]}}
        carries = tuple((c0[2 * layer + k], h0[2 * layer + k]) for k in (0, 1))
        (fwd, bwd), y = bi.apply({"params": params}, y, initial_carry=carries,
                                 seq_lengths=jnp.asarray(LENGTHS))
        for k, (c, h) in enumerate((fwd, bwd)):
            np.testing.assert_allclose(h_n[2 * layer + k], h, atol=2e-6)
            np.testing.assert_allclose(c_n[2 * layer + k], c, atol=2e-6)
    valid = np.arange(T)[None, :] < LENGTHS[:, None]
    np.testing.assert_allclose(np.asarray(out)[valid], np.asarray(y)[valid], atol=2e-6)


def test_gradients_float64_against_finite_differences():
    """jax.grad (params, inputs and initial state at once) against central differences
    along random directions, in float64; the padding takes no part (zero gradient)."""
    with jax.enable_x64(True):
        p, xs, h0 = _setup("rnn", 2, True, seed=6, dtype=jnp.float64)
        args, lengths = (p, xs[:2, :3], h0[:, :2]), jnp.array([3, 2])

        @jax.jit
        def loss(p, xs, h0):
            out, h = S.stacked_rnn(p, xs, h0, num_layers=2, bidirectional=True,
                                   lengths=lengths)
            return jnp.sum(out**2) + jnp.sum(h**3)

        grads = jax.jit(jax.grad(loss, argnums=(0, 1, 2)))(*args)
        leaves, tree = jax.tree_util.tree_flatten(args)
        rng, eps = np.random.default_rng(0), 1e-6
        for _ in range(3):
            v = [rng.standard_normal(x.shape) for x in leaves]
            moved = [jax.tree_util.tree_unflatten(tree, [x + sign * eps * d for x, d in
                                                         zip(leaves, v, strict=True)])
                     for sign in (1, -1)]
            fd = (float(loss(*moved[0])) - float(loss(*moved[1]))) / (2 * eps)
            ad = sum(float(jnp.vdot(g, d)) for g, d in zip(
                jax.tree_util.tree_leaves(grads), v, strict=True))
            assert abs(fd - ad) <= 1e-7 * max(1.0, abs(ad)), (fd, ad)
        g_xs = np.asarray(grads[1])
        assert np.all(g_xs[1, 2:] == 0) and np.max(np.abs(g_xs[1, :2])) > 0


def test_init_draws_as_pytorch_with_its_keys():
    key = jax.random.key(7)
    p = S.init_stacked(key, "gru", D, H, num_layers=2, bidirectional=True)
    assert {k: v.shape for k, v in p.items()} == {
        f"{kind}_{part}_l{layer}{s}": ((3 * H, (D if layer == 0 else 2 * H) if part == "ih"
                                        else H) if kind == "weight" else (3 * H,))
        for layer in (0, 1) for s in ("", "_reverse") for part in ("ih", "hh")
        for kind in ("weight", "bias")}
    keys = jax.random.split(key, 4)
    one = convert.to_pytorch(R.init_gru(keys[3], 2 * H, H), "gru")  # layer 1 reverse
    for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        np.testing.assert_array_equal(p[f"{k}_l1_reverse"], one[f"{k}_l0"])
    assert max(float(jnp.max(jnp.abs(v))) for v in p.values()) <= 1 / np.sqrt(H)
    assert S.init_stacked(key, "rnn", D, H, dtype=jnp.float16)["weight_ih_l0"].dtype \
        == jnp.float16


def test_documented_formulas_equal_the_code():
    """The packing rule, the reversed input and the layer input of the docstring (dlmath.
    formulas.recurrent), iterated with dlmath's one-step cell, give the stacked outputs
    and final states."""
    from dlmath.formulas import recurrent as F

    p, xs, _ = _setup("rnn", 2, True, seed=8)
    layer0 = {k: v for k, v in p.items() if "_l0" in k}
    out1, h1 = S.stacked_rnn(layer0, xs, bidirectional=True, lengths=LENGTHS)
    xs64 = np.asarray(xs, np.float64)
    for k, s in enumerate(("", "_reverse")):
        cell = convert.from_pytorch({f"{n}_l0": layer0[f"{n}_l0{s}"] for n in
                                     ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}, "rnn")
        for b, ell in enumerate(LENGTHS):
            x = xs64[b]
            if k:  # the reverse direction's input, entry by entry from the formula
                x = np.array([[float(F.REVERSED_INPUT.expr.xreplace(
                    {F.t: t + 1, F.a: a, F.ell: int(ell)}).xreplace(
                    {F.x[t_, a_]: xs64[b, t_ - 1, a_] for t_ in range(1, T + 1)
                     for a_ in range(D)})) for a in range(D)] for t in range(T)])
            h, ys = np.zeros(H), []
            for t in range(1, T + 1):
                h_tilde = np.asarray(R.rnn_cell(cell, x[None, t - 1], h[None]), np.float64)[0]
                h = np.array([float(F.PACKED_STATE.expr.xreplace(
                    {F.t: t, F.j: j, F.ell: int(ell)}).xreplace(
                    {F.h_step[t, j]: h_tilde[j], F.h[t - 1, j]: h[j]})) for j in range(H)])
                ys.append([float(F.PACKED_OUTPUT.expr.xreplace(
                    {F.t: t, F.j: j, F.ell: int(ell)}).xreplace({F.h[t, j]: h[j]}))
                    for j in range(H)])
            ys = np.array(ys)
            if k:
                ys[:ell] = ys[:ell][::-1]
            np.testing.assert_allclose(out1[b, :, k * H:(k + 1) * H], ys, atol=1e-6)
            np.testing.assert_allclose(h1[k, b], h, atol=1e-6)
    # layer 1 reads the formula's side-by-side input
    out1 = np.asarray(out1, np.float64)
    x1 = np.array([[[float(F.LAYER_INPUT.expr.xreplace({F.t: t, F.a: a, F.H: H}).xreplace(
        {F.y_forward[t, a_]: out1[b, t, a_] for a_ in range(H)}
        | {F.y_reverse[t, a_]: out1[b, t, H + a_] for a_ in range(H)}))
        for a in range(2 * H)] for t in range(T)] for b in range(B)])
    layer1 = {k.replace("_l1", "_l0"): v for k, v in p.items() if "_l1" in k}
    want, _ = S.stacked_rnn(layer1, jnp.asarray(x1, jnp.float32), bidirectional=True,
                            lengths=LENGTHS)
    got, _ = S.stacked_rnn(p, xs, num_layers=2, bidirectional=True, lengths=LENGTHS)
    np.testing.assert_allclose(got, want, atol=1e-6)


def _raises(cls, match, fn, *args, **kw):
    with pytest.raises(cls, match=match):
        fn(*args, **kw)


def test_errors_name_the_function_the_argument_and_the_shapes():
    p, xs, (h0, c0) = _setup("lstm", 2, True, seed=9)
    kw = {"num_layers": 2, "bidirectional": True}
    lstm = S.stacked_lstm
    missing = {k: v for k, v in p.items() if k != "bias_hh_l1_reverse"}
    _raises(ValueError, r"stacked_lstm: params.*Missing: \[\"params\['bias_hh_l1_reverse'\]\"\]",
            lstm, missing, xs, **kw)
    _raises(ValueError, r"stacked_lstm: params.*Unexpected: \[.*weight_ih_l1.*\]",
            lstm, p, xs, num_layers=1, bidirectional=True)
    bad = {**p, "weight_ih_l1": p["weight_ih_l1"][:, :H]}
    _raises(ValueError, r"stacked_lstm: params\['weight_ih_l1'\] must have shape "
            r"\(G·H, 2H\) = \(12, 6\).*got \(12, 3\)", lstm, bad, xs, **kw)
    _raises(TypeError, "stacked_lstm: params must be a dict", lstm, [p], xs, **kw)
    _raises(ValueError, r"stacked_lstm: xs must have D = 2", lstm, p, xs[..., :1], **kw)
    _raises(ValueError, r"stacked_lstm: initial_state\[0\] \(h_0\) must have shape "
            r"\(L·dirs, B, H\) = \(4, 3, 3\)", lstm, p, xs, (h0[:2], c0), **kw)
    _raises(TypeError, "stacked_lstm: initial_state must be None or the tuple", lstm, p, xs,
            h0, **kw)
    _raises(ValueError, r"stacked_lstm: lengths must lie in \[1, T\] = \[1, 4\]; got "
            r"lengths\[1\] = 0", lstm, p, xs, lengths=np.array([4, 0, 2]), **kw)
    _raises(ValueError, r"lengths\[0\] = 5", lstm, p, xs, lengths=np.array([5, 1, 2]), **kw)
    _raises(ValueError, r"stacked_lstm: lengths must have shape \(B,\) = \(3,\)", lstm, p, xs,
            lengths=np.array([4, 1]), **kw)
    _raises(TypeError, "stacked_lstm: lengths must be integers", lstm, p, xs,
            lengths=np.array([4.0, 1.0, 2.0]), **kw)
    _raises(ValueError, "stacked_lstm: num_layers must be an int >= 1", lstm, p, xs,
            num_layers=0, bidirectional=True)
    _raises(TypeError, "stacked_lstm: bidirectional must be a Python bool", lstm, p, xs,
            num_layers=2, bidirectional=1)
    q, ys, h = _setup("gru", 1, False, seed=9)
    _raises(ValueError, r"stacked_gru: initial_state must have shape \(L·dirs, B, H\) = "
            r"\(1, 3, 3\)", S.stacked_gru, q, ys, h[0])
    _raises(ValueError, "init_stacked: kind must be one of", S.init_stacked,
            jax.random.key(0), "elman", D, H)
    _raises(ValueError, "init_stacked: num_layers", S.init_stacked, jax.random.key(0), "rnn",
            D, H, num_layers=0)
