"""generative.gan_game_loss: both players' losses in one scalar whose gradient in each
player's parameters is the gradient of that player's own loss alone (the other player seen
through stop_gradient). References in float64 from optax's binary cross-entropy and from
the registered formula."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from dlmath import generative as G
from dlmath import layers
from dlmath.formulas import generative as F
from dlmath.testing import in_float64


def _players(seed=0):
    k_g, k_d, k_r, k_z = jax.random.split(jax.random.key(seed), 4)
    return (layers.init_mlp(k_g, (2, 8, 2)), layers.init_mlp(k_d, (2, 8, 1)),
            jax.random.normal(k_r, (5, 2)), jax.random.normal(k_z, (7, 2)))


def _in64(fn, *trees):
    """``fn(*trees)`` in float64, every floating leaf of every pytree promoted."""
    def run(*ts):
        return fn(*(jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), t)
                    for t in ts))
    return in_float64(jax.jit(run), *trees)  # one compile instead of op-by-op dispatch


def _log_sigmoid(t):
    return -optax.sigmoid_binary_cross_entropy(t, jnp.ones_like(t))


def _d_alone(dp, gp, real, noise):
    """The discriminator's loss, its own parameters the only variables (optax's BCE)."""
    fake = layers.mlp(gp, noise)
    return (jnp.mean(optax.sigmoid_binary_cross_entropy(layers.mlp(dp, real), 1.0))
            + jnp.mean(optax.sigmoid_binary_cross_entropy(layers.mlp(dp, fake), 0.0)))


def _g_alone(gp, dp, noise, saturating):
    """The generator's loss, its own parameters the only variables (optax's BCE)."""
    f = layers.mlp(dp, layers.mlp(gp, noise))
    if saturating:
        return jnp.mean(-optax.sigmoid_binary_cross_entropy(f, 0.0))  # log(1 - D)
    return jnp.mean(-_log_sigmoid(f))


def _game(gp, dp, real, noise, saturating):
    return G.gan_game_loss(gp, dp, real, noise, generator=layers.mlp, discriminator=layers.mlp,
                           saturating=saturating)


@pytest.mark.parametrize("saturating", [False, True])
def test_each_players_gradient_is_the_gradient_of_its_own_loss(saturating):
    gp, dp, real, noise = _players()

    def run(gp, dp, real, noise):
        value, (g_gen, g_dis) = jax.value_and_grad(_game, argnums=(0, 1))(
            gp, dp, real, noise, saturating)
        want_gen = jax.grad(_g_alone)(gp, dp, noise, saturating)
        want_dis = jax.grad(_d_alone)(dp, gp, real, noise)
        want_value = _d_alone(dp, gp, real, noise) + _g_alone(gp, dp, noise, saturating)
        return value, g_gen, g_dis, want_value, want_gen, want_dis

    value, g_gen, g_dis, want_value, want_gen, want_dis = _in64(run, gp, dp, real, noise)
    np.testing.assert_allclose(value, want_value, rtol=1e-12)
    for got, want in ((g_gen, want_gen), (g_dis, want_dis)):
        for a, b in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want),
                        strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    # not the gradient of the sum without stop_gradient: that one differs for both players
    plain = _in64(jax.grad(lambda g, d: _d_alone(d, g, real, noise)
                                + _g_alone(g, d, noise, saturating), argnums=(0, 1)), gp, dp)
    for got, other in ((g_gen, plain[0]), (g_dis, plain[1])):
        assert any(not np.allclose(a, b, rtol=1e-6) for a, b in
                   zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(other),
                       strict=True))


def test_float32_gradients_match_the_float64_reference():
    gp, dp, real, noise = _players(1)
    got = jax.grad(_game, argnums=(0, 1))(gp, dp, real, noise, False)
    want = _in64(lambda *a: (jax.grad(_g_alone)(a[0], a[1], a[3], False),
                                  jax.grad(_d_alone)(a[1], a[0], a[2], a[3])), gp, dp, real, noise)
    for a, b in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want), strict=True):
        assert a.dtype == jnp.float32
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_gan_game_loss_is_its_formula():
    """The registered formula at N = 2, M = 3, the logits read off linear networks."""
    real = np.array([[0.3], [-1.2]])  # float64 numbers, exact in the float64 call
    noise = np.array([[0.5], [1.5], [-2.0]])
    gp, dp = {"a": np.array(0.7)}, {"w": np.array(1.3), "b": np.array(-0.4)}

    def gen(p, z):
        return p["a"] * z

    def dis(p, x):
        return p["w"] * x[:, 0] + p["b"]

    got = float(_in64(lambda *a: G.gan_game_loss(*a, generator=gen, discriminator=dis),
                           gp, dp, real, noise))
    r = 1.3 * np.array([0.3, -1.2]) - 0.4
    f = 1.3 * 0.7 * np.array([0.5, 1.5, -2.0]) - 0.4
    nums = {**{F.r[k]: r[k] for k in range(2)}, **{F.f[k]: f[k] for k in range(3)}}
    want = float(F.GAN_GAME_LOSS.expr.subs({F.N: 2, F.M: 3}).doit().xreplace(nums).evalf())
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_chapter_10s_game_is_one_call():
    """The two-player loss written out with stop_gradient (chapter 10's `game`) is this call."""
    gp, dp, real, noise = _players(2)
    stop = jax.lax.stop_gradient

    def written_out(params):
        fake = layers.mlp(params["G"], noise)
        d_loss = G.discriminator_loss(layers.mlp(params["D"], real),
                                      layers.mlp(params["D"], stop(fake)))
        return d_loss + G.generator_loss(layers.mlp(stop(params["D"]), fake))

    def one_call(params):
        return G.gan_game_loss(params["G"], params["D"], real, noise, generator=layers.mlp,
                               discriminator=layers.mlp)

    params = {"G": gp, "D": dp}
    (v1, g1), (v2, g2) = _in64(lambda p: (jax.value_and_grad(written_out)(p),
                                               jax.value_and_grad(one_call)(p)), params)
    np.testing.assert_allclose(v1, v2, rtol=1e-12)
    for a, b in zip(jax.tree_util.tree_leaves(g1), jax.tree_util.tree_leaves(g2), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_errors():
    gp, dp, real, noise = _players()
    kw = {"generator": layers.mlp, "discriminator": layers.mlp}
    with pytest.raises(TypeError, match=r"^gan_game_loss: generator must be a function"):
        G.gan_game_loss(gp, dp, real, noise, generator=None, discriminator=layers.mlp)
    with pytest.raises(TypeError, match=r"^gan_game_loss: saturating must be a Python bool"):
        G.gan_game_loss(gp, dp, real, noise, saturating=1, **kw)
    with pytest.raises(TypeError, match=r"^gan_game_loss: every leaf of generator_params"):
        G.gan_game_loss([{**gp[0], "b": gp[0]["b"].astype(jnp.float16)}, gp[1]], dp, real,
                        noise, **kw)
    with pytest.raises(TypeError, match=r"^gan_game_loss: real must be a floating"):
        G.gan_game_loss(gp, dp, real.astype(jnp.int32), noise, **kw)
    with pytest.raises(ValueError, match=r"^gan_game_loss: real must have shape \(N, \*F\)"):
        G.gan_game_loss(gp, dp, real[0, 0], noise, **kw)
    with pytest.raises(ValueError, match=r"^gan_game_loss: generator\(generator_params, noise\)"
                                         r" gives samples of shape \(7, 2\), real has shape "
                                         r"\(5, 3\)"):
        G.gan_game_loss(gp, dp, jnp.zeros((5, 3)), noise, **kw)
    with pytest.raises(ValueError, match=r"^gan_game_loss: generator\(generator_params, noise\) "
                                         r"failed on these arguments: mlp"):
        G.gan_game_loss(gp, dp, real, jnp.zeros((7, 3)), **kw)
    with pytest.raises(ValueError, match=r"^gan_game_loss: discriminator\(discriminator_params, "
                                         r"x\) gives no logits on real"):
        G.gan_game_loss(gp, dp, jnp.zeros((0, 2)), noise, **kw)
