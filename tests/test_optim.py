"""dlmath.optim: 100 steps of every optimizer and option against optax, jit, the
registered formulas against the code, and every error path."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from dlmath import optim, training
from dlmath.formulas import optim as F
from dlmath.testing import in_float64

KEY = jax.random.key(0)


def _params():
    k1, k2, k3 = jax.random.split(jax.random.key(1), 3)
    return {
        "dense": {"w": jax.random.normal(k1, (4, 3)), "b": jnp.zeros(3)},
        "out": (jax.random.normal(k2, (3,)), jax.random.normal(k3, ())),
        "scale": [jnp.full((2, 2), 0.5)],
    }


def _grads_at(step):
    return jax.tree_util.tree_map(lambda g: g[step], _grad_sequence())


CASES = [  # every option of every optimizer at least once, some combined
    ("sgd", dict(learning_rate=0.05)),
    ("sgd", dict(learning_rate=0.05, momentum=0.9)),
    ("sgd", dict(learning_rate=0.05, momentum=0.9, nesterov=True)),
    ("rmsprop", dict(learning_rate=0.01)),
    ("rmsprop", dict(learning_rate=0.01, decay=0.5, eps=1e-3, initial_scale=1.0)),
    ("rmsprop", dict(learning_rate=0.01, eps_in_sqrt=False)),
    ("rmsprop", dict(learning_rate=0.01, centered=True, eps=1e-4)),
    ("rmsprop", dict(learning_rate=0.01, momentum=0.9, bias_correction=True)),
    ("rmsprop", dict(learning_rate=0.01, centered=True, eps_in_sqrt=False, bias_correction=True,
                     eps=1e-4, momentum=0.5, nesterov=True, initial_scale=0.1)),
    ("adam", dict(learning_rate=0.01)),
    ("adam", dict(learning_rate=0.01, b1=0.5, b2=0.9, eps=1e-3, eps_root=1e-8)),
    ("adam", dict(learning_rate=0.01, b1=0.0, nesterov=True)),
    ("adamw", dict(learning_rate=0.01)),
    ("adamw", dict(learning_rate=0.01, weight_decay=0.1, eps_root=1e-6, nesterov=True,
                   mask={"dense": {"w": True, "b": False}, "out": False, "scale": True})),
    ("adamw", dict(learning_rate=0.01, weight_decay=0.0)),
    ("adamw", dict(learning_rate=0.01, weight_decay=0.1, mask={"dense": True, "out": False,
                                                               "scale": False})),
    ("adamw", dict(learning_rate=0.01, weight_decay=0.1,
                   mask=lambda p: jax.tree_util.tree_map(lambda x: x.ndim >= 2, p))),
]


def _id(case):
    name, kw = case
    return name + "(" + ",".join(f"{k}={v if not callable(v) else 'fn'}" for k, v in kw.items()
                                  if k != "learning_rate") + ")"


@functools.cache
def _grad_sequence(steps=100):
    """``steps`` random gradient pytrees stacked on a leading axis (NumPy, drawn once): the
    scale changes by 10x from step to step over five decades, and leaf 1 is exactly 0 at
    every 7th step (tests the eps handling)."""
    rng = np.random.default_rng(0)
    leaves, tree = jax.tree_util.tree_flatten(_params())
    scale = 10.0 ** (np.arange(steps) % 5 - 2.0)
    out = []
    for k, p in enumerate(leaves):
        g = rng.standard_normal((steps, *p.shape)) * scale.reshape((steps,) + (1,) * p.ndim)
        if k == 1:
            g[np.arange(steps) % 7 == 3] = 0.0
        out.append(jnp.asarray(g, jnp.float32))
    return jax.tree_util.tree_unflatten(tree, out)


def _run(opt, apply):
    """100 updates from _params() with _grad_sequence(), scanned under one jit: all the
    updates and the final params."""

    def step(carry, g):
        p, s = carry
        u, s = opt.update(g, s, p)
        return (apply(p, u), s), u

    @jax.jit
    def run(p, gs):
        return jax.lax.scan(step, (p, opt.init(p)), gs)

    (p, _), us = run(_params(), _grad_sequence())
    return p, us


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_matches_optax_for_100_steps(case):
    name, kw = case
    p_ours, u_ours = _run(getattr(optim, name)(**kw), optim.apply_updates)
    p_theirs, u_theirs = _run(getattr(optax, name)(**kw), optax.apply_updates)
    assert jax.tree_util.tree_structure(p_ours) == jax.tree_util.tree_structure(_params())
    for a, b in zip(jax.tree_util.tree_leaves(u_ours), jax.tree_util.tree_leaves(u_theirs),
                    strict=True):
        assert a.shape[0] == 100
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    for a, b in zip(jax.tree_util.tree_leaves(p_ours), jax.tree_util.tree_leaves(p_theirs),
                    strict=True):
        assert bool(jnp.all(jnp.isfinite(a)))
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["sgd", "rmsprop", "adam", "adamw"])
def test_jit_equals_eager_and_scans(name):
    opt = getattr(optim, name)(0.01) if name != "sgd" else optim.sgd(0.01, momentum=0.9)
    params = _params()
    state = jax.jit(opt.init)(params)
    g = _grads_at(0)
    eager, s1 = opt.update(g, state, params)
    jitted, s2 = jax.jit(opt.update)(g, state, params)
    for a, b in zip(jax.tree_util.tree_leaves((eager, s1)), jax.tree_util.tree_leaves((jitted, s2)),
                    strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)

    def loss(p):
        return sum(jnp.sum(x**2) for x in jax.tree_util.tree_leaves(p))

    @jax.jit
    def train(p, s):
        def step(carry, _):
            p, s = carry
            u, s = opt.update(jax.grad(loss)(p), s, p)
            return (optim.apply_updates(p, u), s), loss(p)
        return jax.lax.scan(step, (p, s), None, length=100)

    (_, _), losses = train(params, state)
    assert float(losses[-1]) < 0.5 * float(losses[0])


def _r(key, shape=(5,)):
    return jax.random.normal(key, shape, jnp.float64)


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_formulas_against_code(nesterov):
    def pairs():
        """(code, formula, rtol) of every quantity, computed in float64."""
        k1, k2 = jax.random.split(KEY)
        g, m_prev, eta, mu = _r(k1), _r(k2), 0.3, 0.7
        u, _ = optim.sgd(eta).update(g, optim.SgdState(None))
        out = [(u, F.SGD_STEP.reference(g, eta), 1e-14)]
        u, s = optim.sgd(eta, momentum=mu, nesterov=nesterov).update(g, optim.SgdState(m_prev))
        m = F.MOMENTUM_TRACE.reference(g, m_prev, mu)
        ref = (F.NESTEROV_STEP.reference(g, m, eta, mu) if nesterov
               else F.HEAVY_BALL_STEP.reference(m, eta))
        return out + [(s.trace, m, 1e-14), (u, ref, 1e-14)]

    for got, want, rtol in in_float64(pairs):
        np.testing.assert_allclose(got, want, rtol=rtol)


@pytest.mark.parametrize("centered", [False, True])
@pytest.mark.parametrize("eps_in_sqrt", [False, True])
def test_rmsprop_formulas_against_code(centered, eps_in_sqrt):
    def pairs():
        """(code, formula, rtol) of every quantity, computed in float64."""
        k1, k2, k3 = jax.random.split(KEY, 3)
        g, nu_prev, gbar_prev = _r(k1), 1.0 + _r(k2) ** 2, 0.1 * _r(k3)
        eta, rho, eps = 0.01, 0.8, 1e-3
        opt = optim.rmsprop(eta, decay=rho, eps=eps, eps_in_sqrt=eps_in_sqrt, centered=centered)
        state = optim.RmspropState(jnp.zeros([], jnp.int32), nu_prev,
                                   gbar_prev if centered else None, None)
        u, s = opt.update(g, state)
        nu = F.RMS_NU.reference(g, nu_prev, rho)
        out = [(s.nu, nu, 1e-14)]
        if centered:
            gbar = F.ADAM_M.reference(g, gbar_prev, rho)  # the same moving average
            out.append((s.mu, gbar, 1e-14))
            if eps_in_sqrt:
                ref = F.RMS_STEP_CENTERED.reference(g, nu, gbar, eta, eps)
            else:  # the docstring states it in words: eps + sqrt(nu - gbar^2)
                ref = F.RMS_STEP_EPS_OUTSIDE.reference(g, nu - gbar**2, eta, eps)
        else:
            ref = (F.RMS_STEP.reference(g, nu, eta, eps) if eps_in_sqrt
                   else F.RMS_STEP_EPS_OUTSIDE.reference(g, nu, eta, eps))
        return out + [(u, ref, 1e-13)]

    for got, want, rtol in in_float64(pairs):
        np.testing.assert_allclose(got, want, rtol=rtol)


@pytest.mark.parametrize("name", ["adam", "adamw"])
@pytest.mark.parametrize("nesterov", [False, True])
def test_adam_formulas_against_code(name, nesterov):
    t = 4

    def pairs():
        """(code, formula, rtol) of every quantity, computed in float64, and the count."""
        k1, k2, k3, k4 = jax.random.split(KEY, 4)
        g, m_prev, v_prev, theta = _r(k1), _r(k2), _r(k3) ** 2, _r(k4)
        eta, b1, b2, eps, eps_root, lam = 0.01, 0.8, 0.95, 1e-3, 1e-4, 0.2
        kw = dict(eps_root=eps_root, nesterov=nesterov)
        if name == "adamw":
            kw["weight_decay"] = lam
        opt = getattr(optim, name)(eta, b1, b2, eps, **kw)
        state = optim.AdamState(jnp.asarray(t - 1, jnp.int32), m_prev, v_prev)
        u, s = opt.update(g, state, theta)
        m = F.ADAM_M.reference(g, m_prev, b1)
        v = F.ADAM_V.reference(g, v_prev, b2)
        if nesterov:  # the step formula with m_t replaced so that m_t/(1-b1^t) = NAdam's mhat
            m_used = F.NADAM_MHAT.reference(g, m, t, b1) * (1 - b1**t)
        else:
            m_used = m
        if name == "adam":
            ref = F.ADAM_STEP.reference(m_used, v, t, eta, b1, b2, eps, eps_root)
        else:
            ref = F.ADAMW_STEP.reference(m_used, v, theta, t, eta, b1, b2, eps, eps_root, lam)
        return [(s.mu, m, 1e-14), (s.nu, v, 1e-14), (u, ref, 1e-12)], s.count

    checks, count = in_float64(pairs)
    assert int(count) == t
    for got, want, rtol in checks:
        np.testing.assert_allclose(got, want, rtol=rtol)


def test_adam_bias_correction_makes_a_constant_gradient_exact():
    """For a constant gradient, m_t = (1 - b1^t) g, so mhat_t = g and every update is
    -eta g / (|g| + eps): the notebook's derivation, checked on the code."""
    g = jnp.asarray([2.0, -0.5, 1e-3])
    opt = optim.adam(0.1, b1=0.9, b2=0.99, eps=1e-3)
    state = opt.init(g)
    update = jax.jit(opt.update)
    for _ in range(20):
        u, state = update(g, state)
        np.testing.assert_allclose(u, -0.1 * g / (jnp.abs(g) + 1e-3), rtol=1e-5)


def test_apply_updates_keeps_dtypes_and_structure():
    params = {"a": jnp.ones(3, jnp.bfloat16), "b": (jnp.ones((2, 2)),)}
    updates = {"a": jnp.full(3, 0.5, jnp.float32), "b": (jnp.full((2, 2), -1.0),)}
    new = optim.apply_updates(params, updates)
    assert new["a"].dtype == jnp.bfloat16
    np.testing.assert_array_equal(new["a"].astype(jnp.float32), 1.5)
    np.testing.assert_array_equal(new["b"][0], 0.0)


def test_apply_updates_of_none_is_none_as_optax():
    updates = {"a": jnp.ones(2)}
    assert optim.apply_updates(None, updates) is None
    assert optax.apply_updates(None, updates) is None
    params, ups = {"a": None, "b": jnp.ones(2)}, {"a": None, "b": jnp.full(2, 0.5)}
    ours, theirs = optim.apply_updates(params, ups), optax.apply_updates(params, ups)
    assert ours["a"] is None and theirs["a"] is None
    np.testing.assert_array_equal(ours["b"], theirs["b"])
    # the kernel is the computation alone, for callers that have checked their inputs
    np.testing.assert_array_equal(optim.apply_updates.kernel(params, ups)["b"], 1.5)


# ------------------------------------------------------------------------- error paths


@pytest.mark.parametrize("name", ["sgd", "rmsprop", "adam", "adamw"])
@pytest.mark.parametrize("lr", [0.0, -0.1, float("nan"), float("inf")])
def test_learning_rate_must_be_positive(name, lr):
    with pytest.raises(ValueError,
                       match=rf"{name}: learning_rate must be a finite number in \(0, inf\)"):
        getattr(optim, name)(lr)


@pytest.mark.parametrize("name", ["sgd", "rmsprop", "adam", "adamw"])
def test_learning_rate_type_errors(name):
    with pytest.raises(TypeError, match=f"{name}: learning_rate .*Schedules are not supported"):
        getattr(optim, name)(lambda step: 0.1)
    with pytest.raises(TypeError, match=f"{name}: learning_rate must be a real number"):
        getattr(optim, name)("0.1")
    with pytest.raises(TypeError, match=f"{name}: learning_rate must be a real number"):
        getattr(optim, name)(True)
    with pytest.raises(ValueError, match=f"{name}: learning_rate must be a scalar"):
        getattr(optim, name)(jnp.ones(2))


@pytest.mark.parametrize("call, match", [
    (lambda: optim.sgd(0.1, momentum=1.0), r"sgd: momentum must be a finite number in \[0, 1\)"),
    (lambda: optim.sgd(0.1, momentum=-0.1), r"sgd: momentum must be a finite number in"),
    (lambda: optim.sgd(0.1, nesterov=True), "sgd: nesterov=True needs a momentum"),
    (lambda: optim.rmsprop(0.1, decay=1.0), "rmsprop: decay must be a finite number in"),
    (lambda: optim.rmsprop(0.1, eps=-1e-8), r"rmsprop: eps must be a finite number in \[0, inf\)"),
    (lambda: optim.rmsprop(0.1, initial_scale=-1.0), "rmsprop: initial_scale must be a finite"),
    (lambda: optim.rmsprop(0.1, momentum=1.5), "rmsprop: momentum must be a finite number in"),
    (lambda: optim.rmsprop(0.1, nesterov=True), "rmsprop: nesterov=True needs a momentum"),
    (lambda: optim.adam(0.1, b1=1.0), "adam: b1 must be a finite number in"),
    (lambda: optim.adam(0.1, b2=-0.5), "adam: b2 must be a finite number in"),
    (lambda: optim.adam(0.1, eps=-1.0), "adam: eps must be a finite number in"),
    (lambda: optim.adam(0.1, eps_root=float("nan")), "adam: eps_root must be a finite number"),
    (lambda: optim.adamw(0.1, b2=1.0), "adamw: b2 must be a finite number in"),
    (lambda: optim.adamw(0.1, weight_decay=-1e-4), "adamw: weight_decay must be a finite"),
    (lambda: optim.adam(0.1, b1=jnp.ones(2)), "adam: b1 must be a scalar"),
])
def test_hyper_parameter_ranges(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_adamw_needs_params():
    opt = optim.adamw(0.1)
    params = _params()
    state = opt.init(params)
    with pytest.raises(ValueError, match="adamw: update needs params"):
        opt.update(_grads_at(0), state)
    with pytest.raises(ValueError, match="adamw: params must have the pytree structure of grads"):
        opt.update(_grads_at(0), state, {"w": jnp.ones(3)})


_MASK = {"dense": {"w": True, "b": False}, "out": False, "scale": True}  # a prefix of params


@pytest.mark.parametrize("name, args", [
    ("adam", (0.01, 0.8, 0.99, 1e-3, 1e-2, jnp.bfloat16)),
    ("adamw", (0.01, 0.8, 0.99, 1e-3, 1e-2, None, 0.5, _MASK)),
])
def test_adam_and_adamw_take_optax_positional_order(name, args):
    """Every argument by position, as optax reads it (eps_root 5th, mu_dtype 6th, adamw's
    weight_decay 7th and mask 8th): the same 100 steps as optax's."""
    p_ours, u_ours = _run(getattr(optim, name)(*args), optim.apply_updates)
    p_theirs, u_theirs = _run(getattr(optax, name)(*args), optax.apply_updates)
    for a, b in zip(jax.tree_util.tree_leaves((p_ours, u_ours)),
                    jax.tree_util.tree_leaves((p_theirs, u_theirs)), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    # a positional call and the keyword call build the same object (compiled once by fit)
    assert getattr(optim, name)(*args[:4]) is getattr(optim, name)(
        args[0], b1=args[1], b2=args[2], eps=args[3])
    with pytest.raises(TypeError):  # nesterov and state_dtype are keyword-only
        getattr(optim, name)(*args[:6], *([0.5, None] if name == "adamw" else []), False)


@pytest.mark.parametrize("name", ["sgd", "rmsprop", "adam", "adamw"])
def test_grads_must_match_the_state(name):
    opt = getattr(optim, name)(0.1) if name != "sgd" else optim.sgd(0.1, momentum=0.9)
    params = {"w": jnp.ones((2, 3)), "b": jnp.zeros(3)}
    state = opt.init(params)
    with pytest.raises(ValueError, match=f"{name}: grads must have the pytree structure"):
        opt.update({"w": jnp.ones((2, 3))}, state, params)
    with pytest.raises(ValueError, match=rf"{name}: leaf \d of grads must have the shape"):
        opt.update({"w": jnp.ones((3, 2)), "b": jnp.zeros(3)}, state, params)
    with pytest.raises(TypeError, match=f"{name}: every leaf of grads must be a floating"):
        opt.update({"w": jnp.ones((2, 3), jnp.int32), "b": jnp.zeros(3)}, state, params)
    with pytest.raises(TypeError, match=f"{name}: every leaf of params must be a floating"):
        opt.init({"w": jnp.ones((2, 3), jnp.int32)})


def test_adamw_mask_errors():
    params = {"w": jnp.ones((2, 3)), "b": jnp.zeros(3)}
    bad_structure = optim.adamw(0.1, mask={"w": True})
    with pytest.raises(ValueError, match="adamw: mask must be a pytree with the structure"):
        bad_structure.update(params, bad_structure.init(params), params)
    bad_leaf = optim.adamw(0.1, mask={"w": 1, "b": 0})
    with pytest.raises(TypeError, match="adamw: the leaves of mask must be Python bools"):
        bad_leaf.update(params, bad_leaf.init(params), params)


def test_apply_updates_errors():
    with pytest.raises(ValueError, match="apply_updates: updates must have the pytree structure"):
        optim.apply_updates({"a": jnp.ones(2)}, {"b": jnp.ones(2)})
    with pytest.raises(ValueError, match=r"apply_updates: leaf 0 of updates must have the shape"):
        optim.apply_updates({"a": jnp.ones(2)}, {"a": jnp.ones(3)})
    with pytest.raises(TypeError, match="apply_updates: every leaf of params must be a floating"):
        optim.apply_updates({"a": np.zeros(2, np.uint8)}, {"a": jnp.ones(2)})
    with pytest.raises(TypeError, match="apply_updates: every leaf of updates must be a "
                                        "floating.*Complex numbers are not supported"):
        optim.apply_updates({"a": jnp.ones(2)}, {"a": jnp.ones(2, jnp.complex64)})


def test_trajectory_is_the_loop_of_updates():
    loss = lambda w: jnp.sum(jnp.asarray([1.0, 10.0]) * w**2) / 2
    w0 = jnp.asarray([1.0, -2.0])
    opt = optim.sgd(0.05, momentum=0.5)
    path, losses = training.trajectory(opt, loss, w0, 30)
    assert path.shape == (31, 2) and losses.shape == (31,)
    w, s = w0, opt.init(w0)
    np.testing.assert_array_equal(path[0], w0)
    for k in range(1, 31):
        u, s = opt.update(jax.grad(loss)(w), s)
        w = optim.apply_updates(w, u)
        np.testing.assert_allclose(path[k], w, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(losses, jax.vmap(loss)(path), rtol=1e-6)
    with pytest.raises(ValueError, match="trajectory: steps must be an int >= 0"):
        training.trajectory(opt, loss, w0, -1)
    with pytest.raises(TypeError, match="trajectory: optimizer must have init and update"):
        training.trajectory(lambda g: g, loss, w0, 3)
    with pytest.raises(TypeError, match="trajectory: optimizer must have init and update"):
        training.trajectory(1.0, loss, w0, 3)
    with pytest.raises(TypeError, match="trajectory: loss_fn must be a callable"):
        training.trajectory(opt, 1.0, w0, 3)


def test_traced_hyper_parameters_work_under_jit():
    g = jnp.asarray([0.5, -1.0, 2.0])

    def first_update(lr, b1):
        opt = optim.adam(lr, b1=b1)
        return opt.update(g, opt.init(g))[0]

    np.testing.assert_allclose(jax.jit(first_update)(0.1, 0.8), first_update(0.1, 0.8),
                               rtol=1e-6)


# ------------------------------------------------------------- dtypes, states, tracing


@pytest.mark.parametrize("name", ["sgd", "rmsprop", "adam", "adamw"])
def test_float32_grads_for_float16_params_keep_the_state_dtype(name):
    """The package's rule: gradients are cast to the dtype of the state (the params'), the
    state keeps its dtype, and the updates have the params' dtype."""
    opt = getattr(optim, name)(0.01) if name != "sgd" else optim.sgd(0.01, momentum=0.9)
    params = {"w": jnp.ones((2, 3), jnp.float16), "b": jnp.zeros(3, jnp.float16)}
    state = opt.init(params)
    grads = {"w": jnp.full((2, 3), 0.5, jnp.float32), "b": jnp.full(3, -0.25, jnp.float32)}
    u, new = opt.update(grads, state, params)
    for leaf in jax.tree_util.tree_leaves(u):
        assert leaf.dtype == jnp.float16
    for a, b in zip(jax.tree_util.tree_leaves(state), jax.tree_util.tree_leaves(new),
                    strict=True):
        assert a.dtype == b.dtype
    # and it scans: the carry keeps its type
    def body(carry, _):
        p, s = carry
        u, s = opt.update(grads, s, p)
        return (optim.apply_updates(p, u), s), None

    (p, _), _ = jax.lax.scan(body, (params, state), None, length=3)
    assert p["w"].dtype == jnp.float16


def test_sgd_without_momentum_checks_grads_against_params():
    opt = optim.sgd(0.1)
    params = {"w": jnp.ones((2, 3), jnp.float16)}
    state = opt.init(params)
    with pytest.raises(ValueError, match="sgd: grads must have the pytree structure of params"):
        opt.update({"v": jnp.ones((2, 3))}, state, params)
    with pytest.raises(ValueError, match=r"sgd: leaf 0 of grads must have the shape of leaf 0 "
                                         r"of params \(2, 3\)"):
        opt.update({"w": jnp.ones(3)}, state, params)
    u, _ = opt.update({"w": jnp.ones((2, 3), jnp.float32)}, state, params)
    assert u["w"].dtype == jnp.float16
    # without params there is nothing to compare with (documented): only the float check
    u, _ = opt.update({"v": jnp.ones(2)}, state)
    np.testing.assert_allclose(u["v"], -0.1)
    with pytest.raises(TypeError, match="sgd: every leaf of grads must be a floating"):
        opt.update({"w": jnp.ones((2, 3), jnp.complex64)}, state, params)


@pytest.mark.parametrize("name, other", [("sgd", optim.RmspropState(0, 0, 0, 0)),
                                         ("rmsprop", optim.SgdState(None)),
                                         ("adam", optim.SgdState(None)),
                                         ("adamw", optim.RmspropState(0, 0, 0, 0))])
def test_state_misuse_is_a_clear_type_error(name, other):
    opt = getattr(optim, name)(0.1)
    params = {"w": jnp.ones(3)}
    state_type = type(opt.init(params)).__name__
    for bad in (None, other):
        with pytest.raises(TypeError, match=f"{name}: state must be the {state_type} that this "
                                            "optimizer's init"):
            opt.update({"w": jnp.ones(3)}, bad, params)


@pytest.mark.parametrize("name", ["rmsprop", "adam", "adamw"])
def test_float16_params_need_a_float32_state(name):
    """eps = 1e-8 and the squares of small gradients round to 0 in float16: with the state
    in float16 the first updates are NaN (zero gradient) or infinite (tiny gradient); with
    state_dtype=float32 they are finite and equal the float32 computation."""
    params = jnp.ones(3, jnp.float16)
    grads = jnp.asarray([0.0, 1e-4, 0.5], jnp.float16)
    plain = getattr(optim, name)(1e-2)
    u16, _ = plain.update(grads, plain.init(params), params)
    assert not bool(jnp.all(jnp.isfinite(u16)))          # the failure the docstring describes
    fixed = getattr(optim, name)(1e-2, state_dtype=jnp.float32)
    s = fixed.init(params)
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree_util.tree_leaves(s)
               if jnp.issubdtype(leaf.dtype, jnp.floating))
    u, s2 = fixed.update(grads, s, params)
    assert u.dtype == jnp.float32 and bool(jnp.all(jnp.isfinite(u)))
    assert optim.apply_updates(params, u).dtype == jnp.float16
    ref = getattr(optim, name)(1e-2)
    p32 = params.astype(jnp.float32)
    u_ref, _ = ref.update(grads.astype(jnp.float32), ref.init(p32), p32)
    np.testing.assert_allclose(u, u_ref, rtol=1e-6)


def test_mu_dtype_is_optax_s():
    """mu_dtype sets the first moment's dtype only, as optax's (and like optax it does not
    cure float16 parameters: the second moment stays float16)."""
    p, us = _run(optim.adam(0.01, mu_dtype=jnp.bfloat16), optim.apply_updates)
    p_ox, us_ox = _run(optax.adam(0.01, mu_dtype=jnp.bfloat16), optax.apply_updates)
    for a, b in zip(jax.tree_util.tree_leaves(us), jax.tree_util.tree_leaves(us_ox), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    s = optim.adam(0.1, mu_dtype=jnp.bfloat16).init(_params())
    assert {x.dtype for x in jax.tree_util.tree_leaves(s.mu)} == {jnp.dtype(jnp.bfloat16)}
    assert {x.dtype for x in jax.tree_util.tree_leaves(s.nu)} == {jnp.dtype(jnp.float32)}
    with pytest.raises(TypeError, match="adam: mu_dtype must be None or a floating dtype"):
        optim.adam(0.1, mu_dtype=jnp.int32)
    with pytest.raises(TypeError, match="adamw: state_dtype must be None or a floating dtype"):
        optim.adamw(0.1, state_dtype="nonsense")


def test_switches_must_be_bools():
    with pytest.raises(TypeError, match="sgd: nesterov must be a Python bool"):
        optim.sgd(0.1, momentum=0.9, nesterov="yes")
    with pytest.raises(TypeError, match="rmsprop: centered must be a Python bool"):
        optim.rmsprop(0.1, centered=1)
    with pytest.raises(TypeError, match="adam: nesterov must be a Python bool"):
        optim.adam(0.1, nesterov=None)


def test_mixed_float_params_are_refused_at_init():
    with pytest.raises(TypeError, match="adam: every leaf of params must have one float dtype"):
        optim.adam(0.1).init({"a": jnp.ones(2), "b": jnp.ones(2, jnp.float16)})


@pytest.mark.parametrize("case", CASES[:1] + CASES[3:4] + CASES[9:10] + CASES[12:13],
                         ids=lambda c: c[0])
def test_every_hyper_parameter_may_be_traced(case):
    name, _ = case
    numbers = {"sgd": dict(learning_rate=0.05, momentum=0.9),
               "rmsprop": dict(learning_rate=0.01, decay=0.8, eps=1e-6, initial_scale=0.1,
                               momentum=0.5),
               "adam": dict(learning_rate=0.01, b1=0.8, b2=0.99, eps=1e-6, eps_root=1e-8),
               "adamw": dict(learning_rate=0.01, b1=0.8, b2=0.99, eps=1e-6, eps_root=1e-8,
                             weight_decay=0.1)}[name]
    params, g = _params(), _grads_at(0)

    def two_steps(hp):
        opt = getattr(optim, name)(**hp)
        u, s = opt.update(g, opt.init(params), params)
        return opt.update(g, s, optim.apply_updates(params, u))[0]

    traced = jax.jit(two_steps)(numbers)
    for a, b in zip(jax.tree_util.tree_leaves(traced),
                    jax.tree_util.tree_leaves(two_steps(numbers)), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)


def test_trajectory_with_a_factory_compiles_once():
    """Hyper-parameters given by name are traced: other values reuse the compiled path
    (counted by the traces of the loss), and the result is the object path's."""
    traces = []

    def loss(w):
        traces.append(1)
        return jnp.sum(jnp.asarray([1.0, 10.0]) * w**2) / 2

    w0 = jnp.asarray([1.0, -2.0])
    path, losses = training.trajectory(optim.adam, loss, w0, 25, learning_rate=0.1, b1=0.9)
    first = len(traces)
    assert first > 0
    path2, _ = training.trajectory(optim.adam, loss, w0, 25, learning_rate=0.02, b1=0.5)
    path3, _ = training.trajectory(optim.adam, loss, w0, 25, learning_rate=0.3, b1=0.0)
    assert len(traces) == first                      # no new trace, so no recompilation
    assert not np.allclose(path, path2)
    ref, ref_losses = training.trajectory(optim.adam(0.02, b1=0.5), loss, w0, 25)
    np.testing.assert_allclose(path2, ref, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(losses, jax.vmap(loss)(path), rtol=1e-6)
    assert path3.shape == (26, 2) and ref_losses.shape == (26,)


def test_trajectory_factory_errors():
    loss = lambda w: jnp.sum(w**2)
    w0 = jnp.ones(2)
    with pytest.raises(ValueError, match="adam: learning_rate must be a finite number"):
        training.trajectory(optim.adam, loss, w0, 3, learning_rate=-0.1)  # checked before tracing
    with pytest.raises(TypeError, match="trajectory: hyper-parameter nesterov must be a real "
                                        "scalar"):
        training.trajectory(optim.sgd, loss, w0, 3, learning_rate=0.1, nesterov=True)
    with pytest.raises(TypeError, match="trajectory: hyper-parameters .* were given with an "
                                        "optimizer object"):
        training.trajectory(optim.sgd(0.1), loss, w0, 3, learning_rate=0.1)
    with pytest.raises(TypeError, match="trajectory: optimizer must have init and update"):
        training.trajectory(optim.sgd, loss, w0, 3, rate=0.1)
    with pytest.raises(TypeError, match=r"trajectory: optimizer must have init\(params\)"):
        training.trajectory(lambda learning_rate: learning_rate, loss, w0, 3, learning_rate=0.1)
    with pytest.raises(TypeError, match="trajectory: steps must be an int"):
        training.trajectory(optim.sgd(0.1), loss, w0, 2.0)
    for opt in (optim.sgd(0.1), optim.sgd):   # the message names trajectory, not fit
        with pytest.raises(TypeError, match="trajectory: every leaf of params must be a floating"):
            training.trajectory(opt, loss, {"w": np.zeros(2, np.uint8)}, 2, **(
                {} if opt is not optim.sgd else {"learning_rate": 0.1}))


def test_the_same_hyper_parameters_give_the_same_optimizer_so_fit_compiles_once():
    from dlmath import training

    assert optim.sgd(0.1, momentum=0.9) is optim.sgd(0.1, momentum=0.9)
    assert optim.adam(1e-3) is not optim.adam(2e-3)
    with pytest.raises(TypeError, match="sgd: momentum must be a real number; got the bool"):
        optim.sgd(0.1, momentum=False)  # never served from the entry of momentum=0
    traces = []

    def loss(w):
        traces.append(1)
        return jnp.sum(w**2)

    for _ in range(3):
        training.fit(optim.adam(0.05), loss, jnp.ones(2), steps=3)
    assert len(traces) == 1
