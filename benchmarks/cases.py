"""The benchmark's cases: each public numeric kernel of dlmath beside the peer a JAX user
would pick, on the same inputs.

A case builds, from a key and a size (``"full"`` for timing, ``"tiny"`` for the test that
checks the two sides compute the same numbers), a dlmath function and a peer function
with their arguments. Gradient cases differentiate a scalar of the output (its sum, or a
fixed projection of it) with respect to the inputs or the parameters, the same way on
both sides.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from dlmath import activations, attention, conv, information, losses, normalization, optim
from dlmath import recurrent


@dataclass(frozen=True)
class Case:
    """One row of the benchmark.

    ``build(key, size)`` returns ``(ours, peer, ours_args, peer_args)``: the two functions
    and the arguments each is called with (the peer's in its own layout)."""

    kernel: str
    shape: str
    peer_name: str
    build: Callable
    tiny_shape: str = ""


def _vjp(fn, argnums=(0,)):
    """``g(*args, cotangent)``: the gradient of ``<fn(*args), cotangent>`` with respect to
    the arguments ``argnums`` (reverse mode, as ``jax.grad`` of a loss through ``fn``)."""
    def g(*args_and_cotangent):
        *args, cotangent = args_and_cotangent
        def of(*chosen):
            full = list(args)
            for n, a in zip(argnums, chosen, strict=True):
                full[n] = a
            return fn(*full)
        _, pullback = jax.vjp(of, *[args[n] for n in argnums])
        return pullback(cotangent)
    return g


def _with_vjp(ours, peer, args, key, argnums=(0,)):
    """The two gradients, and the arguments with a random cotangent of the output's shape."""
    out = jax.eval_shape(ours, *args)
    cotangent = jax.tree_util.tree_map(
        lambda s: jax.random.normal(key, s.shape, s.dtype), out)
    return _vjp(ours, argnums), _vjp(peer, argnums), (*args, cotangent)


def _same(ours, peer, args):
    return ours, peer, args, args


# --------------------------------------------------------------------------- activations

_ACTIVATIONS = {
    "softmax": jax.nn.softmax, "log_softmax": jax.nn.log_softmax, "sigmoid": jax.nn.sigmoid,
    "tanh": jnp.tanh, "relu": jax.nn.relu, "leaky_relu": jax.nn.leaky_relu,
    "softplus": jax.nn.softplus, "gelu": jax.nn.gelu, "silu": jax.nn.silu,
}


def _activation(name, grad):
    def build(key, size):
        n = 1024 if size == "full" else 8
        x = 3.0 * jax.random.normal(key, (n, n))
        ours, peer, args = getattr(activations, name), _ACTIVATIONS[name], (x,)
        if grad:
            ours, peer, args = _with_vjp(ours, peer, args, jax.random.fold_in(key, 1))
        return _same(ours, peer, args)
    peer = "jax.numpy.tanh" if name == "tanh" else f"jax.nn.{name}"
    return Case(f"activations.{name}" + (" grad" if grad else ""), "1024x1024", peer, build)


# -------------------------------------------------------------------------------- losses

def _logits_and(key, size, kind):
    n, k = (4096, 1024) if size == "full" else (6, 5)
    k1, k2 = jax.random.split(key)
    logits = jax.random.normal(k1, (n, k))
    if kind == "probabilities":
        return logits, jax.nn.softmax(jax.random.normal(k2, (n, k)))
    if kind == "ids":
        return logits, jax.random.randint(k2, (n,), 0, k)
    return logits, jax.random.bernoulli(k2, 0.5, (n, k)).astype(jnp.float32)


def _loss(kernel, peer_name, ours, peer, kind, grad):
    def build(key, size):
        logits, labels = _logits_and(key, size, kind)
        o = lambda z, y: jnp.mean(ours(z, y))  # noqa: E731
        p = lambda z, y: jnp.mean(peer(z, y))  # noqa: E731
        if grad:
            o, p = jax.value_and_grad(o), jax.value_and_grad(p)
        return _same(o, p, (logits, labels))
    return Case(kernel + (" value+grad" if grad else ""), "4096x1024", peer_name, build)


def _mse(grad):
    def build(key, size):
        n = 1 << 22 if size == "full" else 10
        k1, k2 = jax.random.split(key)
        p, t = jax.random.normal(k1, (n,)), jax.random.normal(k2, (n,))
        o, q = losses.mse, lambda a, b: jnp.mean(optax.squared_error(a, b))
        if grad:
            o, q = jax.value_and_grad(o), jax.value_and_grad(q)
        return _same(o, q, (p, t))
    return Case("losses.mse" + (" value+grad" if grad else ""), "4M", "mean(optax.squared_error)",
                build)


def _kl(grad):
    def build(key, size):
        logits, labels = _logits_and(key, size, "probabilities")
        log_q = jax.nn.log_softmax(logits)
        o = lambda a, b: jnp.mean(information.kl_divergence(a, b))  # noqa: E731
        p = lambda a, b: jnp.mean(optax.kl_divergence(a, b))  # noqa: E731
        if grad:
            o, p = jax.grad(o), jax.grad(p)
        return _same(o, p, (log_q, labels))
    return Case("information.kl_divergence" + (" grad" if grad else ""), "4096x1024",
                "optax.kl_divergence", build)


# ---------------------------------------------------------------------------- optimizers

def _optimizer(name, ours_make, peer_make):
    def build(key, size):
        shapes = [(512, 512)] * 8 + [(512,)] * 8 if size == "full" else [(3, 2), (2,)]
        keys = jax.random.split(key, 2 * len(shapes))
        params = [jax.random.normal(k, s) for k, s in zip(keys[:len(shapes)], shapes,
                                                          strict=True)]
        grads = [jax.random.normal(k, s) for k, s in zip(keys[len(shapes):], shapes,
                                                         strict=True)]
        ours, peer = ours_make(), peer_make()

        def step(opt, apply_updates):
            def run(p, g):
                state = opt.init(p)
                for _ in range(3):  # three steps: the moments are not all zero
                    updates, state = opt.update(g, state, p)
                    p = apply_updates(p, updates)
                return p
            return run
        return _same(step(ours, optim.apply_updates), step(peer, optax.apply_updates),
                     (params, grads))
    return Case(f"optim.{name}", "3 steps, 8x(512x512) + 8x(512,)", f"optax.{name}", build)


# ------------------------------------------------------------------------ normalisation

def _norm(name, grad):
    def build(key, size):
        n, d = (256, 1024) if size == "full" else (4, 6)
        k1, k2, k3 = jax.random.split(key, 3)
        x = jax.random.normal(k1, (n, d))
        scale, bias = 1 + 0.1 * jax.random.normal(k2, (d,)), 0.1 * jax.random.normal(k3, (d,))
        if name == "rms_norm":
            module = nn.RMSNorm(epsilon=1e-6)
            ours = lambda x_, s, b: normalization.rms_norm(x_, s, eps=1e-6)  # noqa: E731
            peer = lambda x_, s, b: module.apply({"params": {"scale": s}}, x_)  # noqa: E731
        elif name == "layer_norm":
            module = nn.LayerNorm(epsilon=1e-5)
            ours = lambda x_, s, b: normalization.layer_norm(x_, s, b, eps=1e-5)  # noqa: E731
            peer = lambda x_, s, b: module.apply(  # noqa: E731
                {"params": {"scale": s, "bias": b}}, x_)
        else:
            module = nn.BatchNorm(use_running_average=False, epsilon=1e-5)
            ours = lambda x_, s, b: normalization.batch_norm(x_, s, b, eps=1e-5)  # noqa: E731
            stats = {"mean": jnp.zeros(d), "var": jnp.ones(d)}
            peer = lambda x_, s, b: module.apply(  # noqa: E731
                {"params": {"scale": s, "bias": b}, "batch_stats": stats}, x_,
                mutable=["batch_stats"])[0]
        args = (x, scale, bias)
        if grad:
            ours, peer, args = _with_vjp(ours, peer, args, jax.random.fold_in(key, 1), (0, 1))
        return _same(ours, peer, args)
    peer_name = {"rms_norm": "flax.linen.RMSNorm", "layer_norm": "flax.linen.LayerNorm",
                 "batch_norm": "flax.linen.BatchNorm"}[name]
    return Case(f"normalization.{name}" + (" grad" if grad else ""), "256x1024", peer_name,
                build)


# --------------------------------------------------------------------- convolution, pooling

def _conv(kernel_size, padding, grad):
    def build(key, size):
        n, hw, c, o = (8, 32, 32, 64) if size == "full" else (2, 6, 3, 4)
        k1, k2 = jax.random.split(key)
        x = jax.random.normal(k1, (n, hw, hw, c))
        w = jax.random.normal(k2, (kernel_size, kernel_size, c, o)) / kernel_size
        ours = lambda x_, w_: conv.conv2d(x_, w_, padding=padding)  # noqa: E731
        peer = lambda x_, w_: jax.lax.conv_general_dilated(  # noqa: E731
            x_, w_, (1, 1), padding, dimension_numbers=("NHWC", "HWIO", "NHWC"))
        args = (x, w)
        if grad:
            ours, peer, args = _with_vjp(ours, peer, args, jax.random.fold_in(key, 1), (0, 1))
        return _same(ours, peer, args)
    k = f"{kernel_size}x{kernel_size} {padding}"
    return Case(f"conv.conv2d {k}" + (" grad" if grad else ""), "8x32x32x32 -> 64",
                "lax.conv_general_dilated", build)


def _pool(name, grad):
    def build(key, size):
        shape = (8, 32, 32, 32) if size == "full" else (2, 4, 4, 3)
        x = jax.random.normal(key, shape)
        ours = lambda x_: getattr(conv, name)(x_, (2, 2), strides=(2, 2))  # noqa: E731
        peer = lambda x_: getattr(nn, name)(x_, (2, 2), strides=(2, 2))  # noqa: E731
        args = (x,)
        if grad:
            ours, peer, args = _with_vjp(ours, peer, args, jax.random.fold_in(key, 1))
        return _same(ours, peer, args)
    return Case(f"conv.{name} 2x2" + (" grad" if grad else ""), "8x32x32x32",
                f"flax.linen.{name}", build)


# ------------------------------------------------------------------------------ recurrent

_CELLS = {"rnn": nn.SimpleCell, "lstm": nn.OptimizedLSTMCell, "gru": nn.GRUCell}


def _recurrent(cell, grad):
    def build(key, size):
        b, t, d, h = (32, 64, 128, 256) if size == "full" else (2, 3, 4, 5)
        k1, k2 = jax.random.split(key)
        params = recurrent.init_params(k1, cell, d, h)
        xs = jax.random.normal(k2, (b, t, d))
        zeros = jnp.zeros((b, h))
        state = (zeros, zeros) if cell == "lstm" else zeros
        module = nn.RNN(_CELLS[cell](h))
        flax_state = (zeros, zeros) if cell == "lstm" else zeros  # flax's LSTM carry is (c, h)

        def ours(p, x):
            return getattr(recurrent, cell)(p, x, state)[0]

        def peer(p, x):
            return module.apply({"params": {"cell": recurrent.to_flax(p, cell)}}, x,
                                initial_carry=flax_state)

        args = (params, xs)
        if grad:
            ours, peer, args = _with_vjp(ours, peer, args, jax.random.fold_in(key, 1))
        return _same(ours, peer, args)
    return Case(f"recurrent.{cell}" + (" grad (params)" if grad else ""), "B32 T64 128->256",
                f"flax.linen.RNN({_CELLS[cell].__name__})", build)


# ------------------------------------------------------------------------------ attention

def _sdpa(name, grad, causal=False):
    def build(key, size):
        b, h, t, d = (4, 8, 512, 64) if size == "full" else (1, 2, 5, 4)
        q, k, v = (jax.random.normal(kk, (b, h, t, d)) for kk in jax.random.split(key, 3))
        fn = getattr(attention, name)

        def ours(q_, k_, v_):
            return fn(q_, k_, v_, is_causal=causal)

        def peer(q_, k_, v_):  # jax.nn's layout is (B, T, heads, D)
            out = jax.nn.dot_product_attention(*(jnp.swapaxes(a, 1, 2) for a in (q_, k_, v_)),
                                               is_causal=causal)
            return jnp.swapaxes(out, 1, 2)

        args = (q, k, v)
        if grad:
            ours, peer, args = _with_vjp(ours, peer, args, jax.random.fold_in(key, 1),
                                         (0, 1, 2))
        return _same(ours, peer, args)
    label = f"attention.{name}" + (" causal" if causal else "") + (" grad" if grad else "")
    return Case(label, "B4 H8 T512 D64", "jax.nn.dot_product_attention", build)


def _mha(grad):
    def build(key, size):
        b, t, e, h = (16, 128, 256, 8) if size == "full" else (2, 3, 8, 2)
        k1, k2 = jax.random.split(key)
        params = attention.init_multi_head_attention(k1, e)
        x = jax.random.normal(k2, (b, t, e))
        module = nn.MultiHeadDotProductAttention(num_heads=h, qkv_features=e, out_features=e)

        def ours(p, x_):
            return attention.multi_head_attention(p, x_, x_, x_, h)

        def peer(p, x_):
            return module.apply({"params": attention.to_flax(p, h)}, x_, x_, x_)

        args = (params, x)
        if grad:
            ours, peer, args = _with_vjp(ours, peer, args, jax.random.fold_in(key, 1), (0, 1))
        return _same(ours, peer, args)
    return Case("attention.multi_head_attention" + (" grad" if grad else ""),
                "B16 T128 E256 8 heads", "flax.linen.MultiHeadDotProductAttention", build)


# -------------------------------------------------------------------------------- the list

def all_cases() -> list[Case]:
    """Every row of the benchmark, in the order of the book's chapters."""
    cases = []
    for name in _ACTIVATIONS:
        cases += [_activation(name, False), _activation(name, True)]
    for grad in (False, True):
        cases.append(_mse(grad))
        cases.append(_loss("losses.softmax_cross_entropy", "optax.softmax_cross_entropy",
                           losses.softmax_cross_entropy, optax.softmax_cross_entropy,
                           "probabilities", grad))
        cases.append(_loss("losses.softmax_cross_entropy_with_integer_labels",
                           "optax.softmax_cross_entropy_with_integer_labels",
                           losses.softmax_cross_entropy_with_integer_labels,
                           optax.softmax_cross_entropy_with_integer_labels, "ids", grad))
        cases.append(_loss("losses.sigmoid_binary_cross_entropy",
                           "optax.sigmoid_binary_cross_entropy",
                           losses.sigmoid_binary_cross_entropy,
                           optax.sigmoid_binary_cross_entropy, "binary", grad))
        cases.append(_kl(grad))
    cases += [
        _optimizer("sgd", lambda: optim.sgd(0.1), lambda: optax.sgd(0.1)),
        _optimizer("sgd(momentum=0.9)", lambda: optim.sgd(0.1, momentum=0.9),
                   lambda: optax.sgd(0.1, momentum=0.9)),
        _optimizer("rmsprop", lambda: optim.rmsprop(0.01), lambda: optax.rmsprop(0.01)),
        _optimizer("adam", lambda: optim.adam(0.01), lambda: optax.adam(0.01)),
        _optimizer("adamw", lambda: optim.adamw(0.01), lambda: optax.adamw(0.01)),
    ]
    for kernel, padding in ((3, "VALID"), (5, "SAME")):
        cases += [_conv(kernel, padding, False), _conv(kernel, padding, True)]
    for name in ("max_pool", "avg_pool"):
        cases += [_pool(name, False), _pool(name, True)]
    for cell in ("rnn", "lstm", "gru"):
        cases += [_recurrent(cell, False), _recurrent(cell, True)]
    for grad in (False, True):
        cases += [_sdpa("scaled_dot_product_attention", grad),
                  _sdpa("flash_attention", grad), _sdpa("flash_attention", grad, causal=True)]
    cases += [_mha(False), _mha(True)]
    for name in ("layer_norm", "rms_norm", "batch_norm"):
        cases += [_norm(name, False), _norm(name, True)]
    return cases
