"""Edge cases of keys, unclear errors and transformations, across the package.

* **Keys.** Every public function with a ``jax.random`` key argument (found from the rows of
  ``bad_input_cases.SPECS``) refuses what is not one key: a seed, a uint32 array of another
  length, a float array, a batch of keys. The error is the package's: a ``TypeError`` whose
  message starts with the function's name, names ``key``, and says what came.
* **Errors that named nothing.** ``init_mlp`` with one int for ``sizes``, ``backward`` with
  the cache of another network, ``fit`` and ``trajectory`` with a loss that is not a scalar,
  and the argument names in ``recurrent``'s messages.
* **Optimizers of one's own.** ``fit`` takes a user ``@dataclass`` with ``init``/``update``
  (the documented protocol), hashable or not, with the numbers of dlmath's own optimizer.
* **Forward mode.** ``flash_attention`` under ``jax.jvp``/``jax.jacfwd`` gives the tangents of
  ``jax.nn.dot_product_attention``; its reverse mode keeps linear memory.
"""

from __future__ import annotations

import dataclasses
import inspect
import re

import bad_input_cases as bic
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from bad_input_cases import SPECS

from dlmath import attention, layers, optim, recurrent, training
from dlmath.testing import verify

# --------------------------------------------------------------------------- keys


def _takes_a_key(spec) -> bool:
    """A row whose function draws from a ``jax.random`` key (not attention's key array)."""
    if ("key",) in spec.arrays:
        return False
    kw = spec.build(spec.sizes_(), np.random.default_rng(0))
    if "key" in kw:
        return True
    try:
        return "key" in inspect.signature(spec.fn()).parameters
    except (TypeError, ValueError):
        return False


KEY_SPECS = [s for s in SPECS if _takes_a_key(s)]

#: the functions the rows must find (a guard on the selection above)
MUST_HAVE_KEYS = {
    "layers.init_mlp", "linear_regression.minibatch_gradient_descent", "training.fit",
    "data.linear", "data.digits", "recurrent.init_rnn", "recurrent.init_lstm",
    "recurrent.init_gru", "attention.init_multi_head_attention", "generative.reparameterize",
    "regularization.dropout", "transformer.init_transformer_block",
    "initializers.variance_scaling", "initializers.he_normal",
}


def _bad_keys():
    """(label, value, words the message must hold to say what came)."""
    typed = jax.random.split(jax.random.key(0), 2)
    return [
        ("seed 0", 0, ("int",)),
        ("uint32 (3,)", np.zeros(3, np.uint32), ("uint32", "(3,)")),
        ("uint32 (4,)", jnp.zeros(4, jnp.uint32), ("uint32", "(4,)")),
        ("float32 (2,)", np.zeros(2, np.float32), ("float32", "(2,)")),
        ("batch of 2 keys", typed, ("batch", "(2,)")),
        ("batch of 2 raw keys", jax.random.split(jax.random.PRNGKey(0), 2),
         ("uint32", "(2, 2)")),
    ]


def _call_with_key(spec, bad):
    """Call the row's function with ``key=bad``: in the built arguments, or, where the row's
    ``call`` supplies a key itself (``data.*``, ``dropout``, ``fit``), in that call."""
    kw = spec.build(spec.sizes_(), np.random.default_rng(0))
    fn = spec.fn()
    if "key" in kw:
        kw["key"] = bad
        target = fn
    else:
        signature = inspect.signature(fn)

        def target(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.arguments["key"] = bad
            return fn(*bound.args, **bound.kwargs)

    result = spec.call(target, **kw) if spec.call else target(**kw)
    return jax.block_until_ready(result)


def test_every_function_with_a_key_has_a_row():
    names = {s.name for s in KEY_SPECS}
    assert MUST_HAVE_KEYS <= names, sorted(MUST_HAVE_KEYS - names)


@pytest.mark.parametrize("spec", KEY_SPECS, ids=[f"{s.name}{s.tag}" for s in KEY_SPECS])
def test_a_key_that_is_not_one_key_is_refused_clearly(spec):
    problems = []
    for label, bad, shown in _bad_keys():
        def says_what_came(msg, shown=shown):
            got = msg.split("got", 1)[-1]
            missing = [w for w in shown if w not in got]
            return f"the message does not say what came ({missing})" if missing else None

        try:
            _call_with_key(spec, bad)
        except Exception as e:  # noqa: BLE001 - judged below
            problem = bic.error_problem(e, spec.who_, ["key"], TypeError, says_what_came,
                                        spec.who_ok)
            if problem:
                problems.append(f"{label}: {problem}: {type(e).__name__}: {str(e)[:200]}")
            continue
        problems.append(f"{label}: no error")
    assert not problems, f"{spec.name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("spec", KEY_SPECS, ids=[f"{s.name}{s.tag}" for s in KEY_SPECS])
def test_one_key_of_either_kind_is_accepted(spec):
    """The check refuses batches, not keys: a new-style key and a raw PRNGKey both work."""
    for good in (jax.random.key(3), jax.random.PRNGKey(3)):
        _call_with_key(spec, good)


def test_a_function_mapped_over_keys_checks_each_key():
    """A batch of keys is mapped with jax.vmap; each call then sees one key."""
    from dlmath import generative

    keys = jax.random.split(jax.random.key(0), 4)
    mean, log_var = jnp.zeros((3, 2)), jnp.zeros((3, 2))
    z = jax.vmap(lambda k: generative.reparameterize(k, mean, log_var))(keys)
    one = [generative.reparameterize(keys[i], mean, log_var) for i in range(4)]
    np.testing.assert_array_equal(np.asarray(z), np.stack([np.asarray(x) for x in one]))


# --------------------------------------------------------------------------- init_mlp sizes


@pytest.mark.parametrize("sizes, cls", [(3, TypeError), (None, TypeError), ("23", TypeError),
                                        (2.5, TypeError), ((3,), ValueError),
                                        ((2, 0, 1), ValueError), ((2, 3.0), TypeError)])
def test_init_mlp_sizes_that_are_not_a_sequence_of_ints(sizes, cls):
    with pytest.raises(cls) as info:
        layers.init_mlp(jax.random.key(0), sizes)
    assert bic.error_problem(info.value, "init_mlp", ["sizes", "sizes[1]", "sizes[0]"], cls) \
        is None, str(info.value)
    assert "got" in str(info.value)


def test_init_mlp_takes_any_sequence_of_sizes():
    want = layers.init_mlp(jax.random.key(0), (2, 3, 4))
    for sizes in ([2, 3, 4], range(2, 5), np.array([2, 3, 4])):
        got = layers.init_mlp(jax.random.key(0), sizes)
        for a, b in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want),
                        strict=True):
            np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------- backward cache


def test_backward_with_the_cache_of_another_width_names_the_cache():
    key = jax.random.key(0)
    params = layers.init_mlp(key, (2, 3, 4))
    other = layers.init_mlp(key, (2, 5, 4))
    x, g = jnp.ones((6, 2)), jnp.ones((6, 4))
    with pytest.raises(ValueError) as info:
        layers.backward(params, layers.forward(other, x), g)
    msg = str(info.value)
    assert bic.error_problem(info.value, "backward", ["cache"], ValueError) is None, msg
    assert "(N, 3)" in msg and "(6, 5)" in msg, msg  # what was expected, what came
    # the cache of these params still works, and matches autodiff
    cache = layers.forward(params, x)
    got = layers.backward(params, cache, g)
    want = jax.grad(lambda p: jnp.sum(layers.mlp(p, x) * g))(params)
    for a, b in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want),
                    strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_backward_with_a_cache_of_another_batch_names_the_cache():
    params = layers.init_mlp(jax.random.key(0), (2, 3, 4))
    cache = layers.forward(params, jnp.ones((6, 2)))
    mixed = layers.Cache(cache.zs, [jnp.ones((5, 2)), *cache.activations[1:]])
    with pytest.raises(ValueError, match=r"^backward: cache .*cache\.activations\[1\]"):
        layers.backward(params, mixed, jnp.ones((6, 4)))


# --------------------------------------------------------------------------- scalar losses


def _data(n=8, d=3):
    X = jax.random.normal(jax.random.key(1), (n, d))
    return X, X @ jnp.arange(1.0, d + 1.0)


def test_fit_with_a_vector_loss_says_so():
    X, y = _data()
    per_example = lambda w, X, y: (X @ w - y) ** 2  # noqa: E731 - not reduced
    with pytest.raises(ValueError, match=r"^fit: loss_fn\(params, \*batch\) must return a real "
                                         r"floating scalar .*shape \(8,\)"):
        training.fit(optim.sgd(0.1), per_example, jnp.zeros(3), (X, y), steps=2)
    with pytest.raises(ValueError, match=r"^fit: loss_fn.*shape \(4,\)"):  # the batch's shape
        training.fit(optim.sgd(0.1), per_example, jnp.zeros(3), (X, y), steps=2,
                     batch_size=4, key=jax.random.key(0))
    vg = jax.vmap(jax.value_and_grad(lambda w, x, y: (x @ w - y) ** 2), (None, 0, 0))
    with pytest.raises(ValueError, match=r"^fit: the loss of value_and_grad"):
        training.fit(optim.sgd(0.1), per_example, jnp.zeros(3), (X, y), steps=2,
                     value_and_grad=vg)
    with pytest.raises(TypeError, match=r"^fit: loss_fn.*dtype int32"):
        training.fit(optim.sgd(0.1), lambda w, X, y: jnp.sum(X > 0), jnp.zeros(3), (X, y),
                     steps=2)


def test_trajectory_with_a_vector_loss_says_so():
    vector = lambda p: p ** 2  # noqa: E731
    for opt, hypers in ((optim.sgd(0.1), {}), (optim.sgd, {"learning_rate": 0.1})):
        with pytest.raises(ValueError, match=r"^trajectory: loss_fn\(params\) must return a "
                                             r"real floating scalar .*shape \(3,\)"):
            training.trajectory(opt, vector, jnp.ones(3), 4, **hypers)


def test_a_loss_with_a_step_key_is_checked_with_the_key():
    X, y = _data()

    def noisy(w, X, y, k):
        return jnp.mean((X @ (w + 0.01 * jax.random.normal(k, w.shape)) - y) ** 2)

    w, h = training.fit(optim.sgd(0.05), noisy, jnp.zeros(3), (X, y), steps=3,
                        key=jax.random.key(0), step_key=True)
    assert h.loss.shape == (3,) and np.all(np.isfinite(np.asarray(h.loss)))


# --------------------------------------------------------------------------- recurrent names


def _recurrent_calls():
    k = jax.random.key(0)
    P = {c: getattr(recurrent, f"init_{c}")(k, 2, 3) for c in ("rnn", "lstm", "gru")}
    x, xs, h = jnp.ones((4, 2)), jnp.ones((4, 5, 2)), jnp.zeros((4, 3))
    bad_h = h[:2]
    return [
        ("lstm_cell", lambda: recurrent.lstm_cell(P["lstm"], x, h)),
        ("lstm_cell", lambda: recurrent.lstm_cell(P["lstm"], x, (h, bad_h))),
        ("lstm_cell", lambda: recurrent.lstm_cell(P["lstm"], xs, (h, h))),
        ("lstm_cell", lambda: recurrent.lstm_cell(P["rnn"], x, (h, h))),
        ("lstm", lambda: recurrent.lstm(P["lstm"], xs, h)),
        ("lstm", lambda: recurrent.lstm(P["lstm"], xs, (h, bad_h))),
        ("rnn_cell", lambda: recurrent.rnn_cell(P["rnn"], x, bad_h)),
        ("gru_cell", lambda: recurrent.gru_cell(P["gru"], x, bad_h)),
        ("rnn", lambda: recurrent.rnn(P["rnn"], xs, bad_h)),
        ("gru", lambda: recurrent.gru(P["gru"], xs, (h, h))),
        ("rnn_step", lambda: recurrent.rnn_step(P["rnn"]["hh"], jnp.ones((4, 3)), bad_h)),
        ("gru_step", lambda: recurrent.gru_step(P["gru"]["hh"], jnp.ones((4, 9)), bad_h)),
        ("lstm_step", lambda: recurrent.lstm_step(P["lstm"]["hh"], jnp.ones((4, 12)), h)),
        ("scan", lambda: recurrent.scan(lambda a, c: c, bad_h, jnp.ones((4, 5, 3)))),
        ("init_lstm", lambda: recurrent.init_lstm(k, 0, 3)),
        ("init_gru", lambda: recurrent.init_gru(k, 2, 3.0)),
    ]


@pytest.mark.parametrize("who, call", _recurrent_calls(),
                         ids=[f"{w}-{i}" for i, (w, _) in enumerate(_recurrent_calls())])
def test_recurrent_messages_name_the_arguments_the_function_has(who, call):
    """The argument a message blames (``NAME must`` / ``NAME[k] ... must``) is a parameter
    of the function that raised (lstm_cell's state is ``state``, lstm's ``initial_state``)."""
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    msg = str(info.value)
    assert msg.startswith(f"{who}: "), msg
    blamed = re.match(rf"{who}: (\w+)", msg).group(1)
    params = set(inspect.signature(getattr(recurrent, who)).parameters)
    assert blamed in params, f"{msg!r} blames {blamed!r}, not one of {sorted(params)}"


# --------------------------------------------------------------------------- own optimizers


class _HeavyBall:
    """Heavy-ball SGD of one's own, the protocol of fit: ``init(params)`` and
    ``update(grads, state, params) -> (updates, state)``."""

    learning_rate: float
    momentum: float

    def init(self, params):
        return jax.tree_util.tree_map(jnp.zeros_like, params)

    def update(self, grads, state, params=None):
        trace = jax.tree_util.tree_map(lambda g, m: g + self.momentum * m, grads, state)
        return jax.tree_util.tree_map(lambda m: -self.learning_rate * m, trace), trace


@dataclasses.dataclass
class Momentum(_HeavyBall):
    """A mutable dataclass: it cannot be hashed."""

    learning_rate: float
    momentum: float


@dataclasses.dataclass(frozen=True)
class FrozenMomentum(_HeavyBall):
    """The same, frozen: hashable."""

    learning_rate: float
    momentum: float


def _mse(w, X, y):
    return jnp.mean((X @ w - y) ** 2)


@pytest.mark.parametrize("cls", [Momentum, FrozenMomentum])
def test_fit_takes_a_dataclass_optimizer_with_the_numbers_of_dlmath_sgd(cls):
    X, y = _data(n=12)
    w0 = jnp.zeros(3)
    for extra in ({}, {"batch_size": 4, "key": jax.random.key(2)}, {"log_every": 3}):
        ours, h_ours = training.fit(cls(0.05, 0.9), _mse, w0, (X, y), steps=7, **extra)
        want, h_want = training.fit(optim.sgd(0.05, momentum=0.9), _mse, w0, (X, y), steps=7,
                                    **extra)
        np.testing.assert_allclose(ours, want, rtol=1e-6)
        np.testing.assert_allclose(h_ours.loss, h_want.loss, rtol=1e-6)
    # optax's sgd is the same rule
    theirs, _ = training.fit(optax.sgd(0.05, momentum=0.9), _mse, w0, (X, y), steps=7)
    np.testing.assert_allclose(training.fit(cls(0.05, 0.9), _mse, w0, (X, y), steps=7)[0],
                               theirs, rtol=1e-6)


def test_a_mutable_optimizer_is_read_afresh_at_every_call():
    X, y = _data()
    opt = Momentum(0.05, 0.0)
    first, _ = training.fit(opt, _mse, jnp.zeros(3), (X, y), steps=3)
    opt.learning_rate = 0.01
    second, _ = training.fit(opt, _mse, jnp.zeros(3), (X, y), steps=3)
    want, _ = training.fit(optim.sgd(0.01), _mse, jnp.zeros(3), (X, y), steps=3)
    np.testing.assert_allclose(second, want, rtol=1e-6)
    assert not np.allclose(first, second)


def test_trajectory_takes_a_dataclass_optimizer_and_factory():
    loss = lambda p: jnp.sum((p - 1.0) ** 2)  # noqa: E731
    want_path, want_losses = training.trajectory(optim.sgd(0.1, momentum=0.5), loss,
                                                 jnp.zeros(2), 5)
    for opt, hypers in ((Momentum(0.1, 0.5), {}),
                        (Momentum, {"learning_rate": 0.1, "momentum": 0.5})):
        path, losses = training.trajectory(opt, loss, jnp.zeros(2), 5, **hypers)
        np.testing.assert_allclose(path, want_path, rtol=1e-6)
        np.testing.assert_allclose(losses, want_losses, rtol=1e-6)


def test_fit_takes_a_loss_that_cannot_be_hashed():
    @dataclasses.dataclass
    class Scaled:
        scale: float

        def __call__(self, w, X, y):
            return self.scale * _mse(w, X, y)

    X, y = _data()
    got, _ = training.fit(optim.sgd(0.05), Scaled(2.0), jnp.zeros(3), (X, y), steps=4)
    want, _ = training.fit(optim.sgd(0.1), _mse, jnp.zeros(3), (X, y), steps=4)
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_train_step_says_that_its_optimizer_must_be_hashable():
    X, y = _data()
    w = jnp.zeros(3)
    opt = Momentum(0.1, 0.9)
    with pytest.raises(TypeError, match=r"^train_step: optimizer must be hashable.*Momentum"):
        training.train_step(opt, jax.value_and_grad(_mse), w, opt.init(w), X, y)
    frozen = FrozenMomentum(0.1, 0.9)
    w1, _, _ = training.train_step(frozen, jax.value_and_grad(_mse), w, frozen.init(w), X, y)
    np.testing.assert_allclose(w1, w - 0.1 * jax.grad(_mse)(w, X, y), rtol=1e-6)


# --------------------------------------------------------------------------- flash, jvp


def _qkv(T=6, S=6, D=4, seed=0):
    k = jax.random.split(jax.random.key(seed), 6)
    q, kk, v = (jax.random.normal(k[i], (2, n, D)) for i, n in enumerate((T, S, S)))
    tq, tk, tv = (jax.random.normal(k[3 + i], x.shape) for i, x in enumerate((q, kk, v)))
    return (q, kk, v), (tq, tk, tv)


def _peer(q, k, v, is_causal=False):
    return jax.nn.dot_product_attention(q[:, :, None], k[:, :, None], v[:, :, None],
                                        is_causal=is_causal)[:, :, 0]


@pytest.mark.parametrize("is_causal", [False, True])
@pytest.mark.parametrize("block_size", [1, 4, 64])
def test_flash_attention_forward_mode_is_jax_nn_jvp(is_causal, block_size):
    primals, tangents = _qkv()
    fl = lambda *a: attention.flash_attention(*a, is_causal=is_causal,  # noqa: E731
                                              block_size=block_size)
    out, t_out = jax.jvp(fl, primals, tangents)
    out_peer, t_peer = jax.jvp(lambda *a: _peer(*a, is_causal=is_causal), primals, tangents)
    np.testing.assert_allclose(out, out_peer, atol=1e-6)
    np.testing.assert_allclose(t_out, t_peer, rtol=1e-5, atol=1e-5)


def test_flash_attention_jacfwd_equals_jacrev_and_second_order_checks():
    (q, k, v), _ = _qkv(T=3, S=5, D=2)
    f = lambda q, k, v: attention.flash_attention(q, k, v, block_size=2)  # noqa: E731
    fwd = jax.jit(jax.jacfwd(f, argnums=(0, 1, 2)))(q, k, v)
    rev = jax.jit(jax.jacrev(f, argnums=(0, 1, 2)))(q, k, v)
    for a, b in zip(fwd, rev, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    w = np.linspace(-1.0, 1.0, 2 * 3 * 2).reshape(2, 3, 2)
    # forward and reverse mode to second order, float64: check_grads perturbs q, k and v
    # together, so one call covers all three
    verify(jax.jit(lambda q, k, v: jnp.sum(w * attention.flash_attention(q, k, v, block_size=2))),
           [q, k, v], check_grads_order=2, finite_differences=False)


def test_flash_attention_forward_mode_under_vmap_and_jit():
    primals, tangents = _qkv(T=4, S=7)
    f = jax.jit(lambda p, t: jax.jvp(
        lambda *a: attention.flash_attention(*a, block_size=3), p, t)[1])
    batched = jax.vmap(f)(tuple(x[None].repeat(2, 0) for x in primals),
                          tuple(jnp.stack([x, 2 * x]) for x in tangents))
    _, t_peer = jax.jvp(_peer, primals, tangents)
    np.testing.assert_allclose(batched[0], t_peer, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(batched[1], 2 * t_peer, rtol=1e-5, atol=2e-5)


def test_flash_attention_gradient_memory_grows_linearly():
    """Reverse mode transposes the blocked tangent with each block rematerialised: its
    compiled temporaries grow like T, never like the T x S score matrix."""
    def temp(T):
        x = jax.ShapeDtypeStruct((T, 16), jnp.float32)
        g = jax.grad(lambda q, k, v: jnp.sum(attention.flash_attention(q, k, v, block_size=64)),
                     argnums=(0, 1, 2))
        return jax.jit(g).lower(x, x, x).compile().memory_analysis().temp_size_in_bytes

    T = 1024
    small, large = temp(T), temp(2 * T)
    assert large < 2.5 * small, (small, large)
    assert large < 4 * T * 2 * T, large  # far below one T x S float32 matrix
