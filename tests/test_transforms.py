"""Unit tests of dlmath.transforms: clip_by_global_norm and global_norm against optax and
their formulas, chain against optax.chain (with dlmath's and optax's transformations mixed),
the chain inside training.fit, and the error paths."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import sympy as sp

from dlmath import optim, training, transforms
from dlmath.formulas import recurrent as F
from dlmath.testing import in_float64


def _clip(grads, max_norm):
    clip = transforms.clip_by_global_norm(max_norm)
    return clip.update(grads, clip.init(grads))[0]


def _tree():
    return {"w": jnp.arange(6.0).reshape(2, 3) - 2.5, "b": jnp.array([3.0, -4.0])}


def test_global_norm_and_clipping_are_their_formulas():
    rng = np.random.default_rng(0)
    g = rng.standard_normal(5)
    values = {F.g[k]: g[k] for k in range(5)}
    norm = F.GLOBAL_NORM.expr.subs(F.n, 5).doit().subs(values)
    norm64 = in_float64(lambda a, b: transforms.global_norm({"a": a, "b": b}), g[:2], g[2:])
    assert abs(float(norm) - float(norm64)) < 1e-12
    clipped = in_float64(lambda g: _clip({"a": g}, 0.5)["a"], g)
    assert clipped.dtype == np.float64
    for u in range(5):
        e = F.CLIPPED.expr.subs(F.n, 5).subs(F.j, u).doit().subs(
            values | {F.c_max: sp.Rational(1, 2)})
        assert abs(float(e) - float(clipped[u])) < 1e-12


def test_clip_by_global_norm_is_optax_and_keeps_the_direction():
    g = _tree()
    np.testing.assert_allclose(transforms.global_norm(g), optax.tree.norm(g), rtol=1e-6)
    for c in (0.5, 2.0, 100.0):
        ours = _clip(g, c)
        theirs, _ = optax.clip_by_global_norm(c).update(g, optax.EmptyState())
        for k in g:
            np.testing.assert_allclose(ours[k], theirs[k], rtol=1e-6)
        assert float(transforms.global_norm(ours)) <= c * (1 + 1e-6)
        flat = np.concatenate([np.ravel(ours[k]) for k in g])
        orig = np.concatenate([np.ravel(g[k]) for k in g])
        assert abs(flat @ orig / (np.linalg.norm(flat) * np.linalg.norm(orig)) - 1) < 1e-6
    zero = _clip({"w": jnp.zeros(3)}, 1.0)["w"]
    assert not np.any(np.asarray(zero)) and np.all(np.isfinite(np.asarray(zero)))
    big = _clip({"w": jnp.full(4, 300.0, jnp.float16)}, 1.0)["w"]  # squares overflow float16
    assert big.dtype == jnp.float16 and np.allclose(np.asarray(big, np.float32), 0.5, atol=1e-3)
    # a traced threshold: the transformation is built inside jit
    traced = jax.jit(lambda c: _clip(g, c))(0.5)
    np.testing.assert_allclose(traced["w"], _clip(g, 0.5)["w"], rtol=1e-6)


@pytest.mark.parametrize("clip_with", ["dlmath", "optax"])
def test_chain_is_optax_chain(clip_with):
    """100 steps of clip-then-Adam: dlmath's chain of dlmath's clip and Adam against
    optax.chain of optax's, and a chain mixing the two libraries."""
    loss = lambda p: jnp.sum((p["w"] - 10.0) ** 2) + jnp.sum(p["b"] ** 4)  # noqa: E731
    clip = transforms.clip_by_global_norm(1.0) if clip_with == "dlmath" else \
        optax.clip_by_global_norm(1.0)
    ours = transforms.chain(clip, optim.adam(0.05))
    theirs = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(0.05))

    def run(opt, apply):
        def step(carry, _):
            p, s = carry
            u, s = opt.update(jax.grad(loss)(p), s, p)
            return (apply(p, u), s), None

        p = {"w": jnp.zeros(3), "b": jnp.ones(2)}
        return jax.lax.scan(step, (p, opt.init(p)), length=100)[0]

    (p1, s1), (p2, _) = run(ours, optim.apply_updates), run(theirs, optax.apply_updates)
    for k in p1:
        np.testing.assert_allclose(p1[k], p2[k], rtol=1e-5, atol=1e-6)
    assert type(s1) is tuple and len(s1) == 2 and isinstance(s1[1], optim.AdamState)
    # without the clip the path differs: the chain really clips
    plain, _ = run(optim.adam(0.05), optim.apply_updates)
    assert not np.allclose(plain["w"], p1["w"], rtol=1e-3)


def test_a_chain_trains_through_fit():
    loss = lambda p: jnp.sum((p["w"] - 10.0) ** 2)  # noqa: E731
    opt = transforms.chain(transforms.clip_by_global_norm(1.0), optim.sgd(0.5))
    params, _ = training.fit(opt, loss, {"w": jnp.zeros(2)}, steps=3)
    # each clipped step moves 0.5 * 1 along the gradient direction (1, 1) / sqrt(2)
    np.testing.assert_allclose(params["w"], 3 * 0.5 / np.sqrt(2), rtol=1e-6)
    assert transforms.chain().update({"w": jnp.ones(2)}, ())[0]["w"].shape == (2,)


def test_errors():
    with pytest.raises(ValueError, match="clip_by_global_norm: max_norm must be a finite number"):
        transforms.clip_by_global_norm(-1.0)
    with pytest.raises(TypeError, match="clip_by_global_norm: max_norm must be a real number"):
        transforms.clip_by_global_norm(True)
    clip = transforms.clip_by_global_norm(1.0)
    with pytest.raises(TypeError, match="clip_by_global_norm: every leaf of grads must be a "
                                        "floating"):
        clip.update({"w": jnp.ones(2, jnp.int32)}, clip.init(None))
    with pytest.raises(ValueError, match="clip_by_global_norm: grads has no arrays"):
        clip.update({}, clip.init(None))
    with pytest.raises(TypeError, match="clip_by_global_norm: state must be the EmptyState"):
        clip.update({"w": jnp.ones(2)}, optim.sgd(0.1).init(jnp.ones(2)))
    with pytest.raises(TypeError, match="global_norm: every leaf of tree must be a floating"):
        transforms.global_norm({"w": jnp.ones(2, jnp.int32)})
    with pytest.raises(ValueError, match="global_norm: tree has no arrays"):
        transforms.global_norm({})
    with pytest.raises(TypeError, match="chain: optimizer must have init"):
        transforms.chain(optim.sgd(0.1), "adam")
    opt = transforms.chain(clip, optim.sgd(0.1))
    with pytest.raises(TypeError, match="chain: state must be the tuple of 2 states"):
        opt.update({"w": jnp.ones(2)}, optim.sgd(0.1).init({"w": jnp.ones(2)}))
