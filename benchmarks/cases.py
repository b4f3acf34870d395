"""The benchmark's cases: each public numeric kernel of dlmath beside the peer a JAX user
would pick, on the same inputs.

A case builds, from a key and a size (``"full"`` for timing, ``"tiny"`` for the test that
checks the two sides compute the same numbers), a dlmath function and a peer function
with their arguments. A gradient row is reverse mode through the kernel for a random
output cotangent (:func:`benchmarks.case.vjp_of`: what ``jax.grad`` of a loss does
there), with respect to the inputs or the parameters, the same way on both sides.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from benchmarks.case import Case, same, with_vjp
from benchmarks.layer_cases import (
    conv1d_case,
    conv_case,
    conv_transpose_case,
    decode_case,
    gat_case,
    gqa_case,
    group_norm_case,
    grouped_conv_case,
    mha_case,
    norm_case,
    pool_case,
    recurrent_case,
    sdpa_case,
    stacked_case,
)
from benchmarks.parallel_cases import parallel_cases
from dlmath import activations, information, losses, optim

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
            ours, peer, args = with_vjp(ours, peer, args, jax.random.fold_in(key, 1))
        return same(ours, peer, args)
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


#: why the probability-label cross-entropy computes differently from optax's
_ZERO_LOG_ZERO = (
    "dlmath's loss is exact where a label is 0 and its log-probability -inf (0 log 0 = 0; "
    "optax gives NaN): the plain sum is taken and a lax.cond recomputes the batch the careful "
    "way only if a row came out NaN; the gradient is the derived softmax - y, with the "
    "exponentials of the log-sum-exp, so the compiled value-and-gradient makes optax's passes "
    "over the (B, K) arrays, and the cond (an any-NaN test on the B losses) besides")


def _loss(kernel, peer_name, ours, peer, kind, grad, note=""):
    def build(key, size):
        logits, labels = _logits_and(key, size, kind)
        o = lambda z, y: jnp.mean(ours(z, y))  # noqa: E731
        p = lambda z, y: jnp.mean(peer(z, y))  # noqa: E731
        if grad:
            o, p = jax.value_and_grad(o), jax.value_and_grad(p)
        return same(o, p, (logits, labels))
    return Case(kernel + (" value+grad" if grad else ""), "4096x1024", peer_name, build,
                note=note)


def _mse(grad):
    def build(key, size):
        n = 1 << 22 if size == "full" else 10
        k1, k2 = jax.random.split(key)
        p, t = jax.random.normal(k1, (n,)), jax.random.normal(k2, (n,))
        o, q = losses.mse, lambda a, b: jnp.mean(optax.squared_error(a, b))
        if grad:
            o, q = jax.value_and_grad(o), jax.value_and_grad(q)
        return same(o, q, (p, t))
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
        return same(o, p, (log_q, labels))
    return Case("information.kl_divergence" + (" grad" if grad else ""), "4096x1024",
                "optax.kl_divergence", build)


# ---------------------------------------------------------------------------- optimizers

def _smooth_labels():
    def build(key, size):
        n, k = (4096, 1000) if size == "full" else (4, 5)
        labels = jax.nn.one_hot(jax.random.randint(key, (n,), 0, k), k)
        return same(lambda y: losses.smooth_labels(y, 0.1),
                    lambda y: optax.smooth_labels(y, 0.1), (labels,))
    return Case("losses.smooth_labels", "4096x1000", "optax.smooth_labels", build)


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
        return same(step(ours, optim.apply_updates), step(peer, optax.apply_updates),
                     (params, grads))
    return Case(f"optim.{name}", "3 steps, 8x(512x512) + 8x(512,)", f"optax.{name}", build)


# -------------------------------------------------------------------------------- the list

def all_cases() -> list[Case]:
    """Every row of the benchmark, in the order of the book's chapters. The parallel rows
    name the devices of their mesh, so this starts JAX's backend (XLA's flags, such as the
    number of CPU devices, must be set before)."""
    cases = []
    for name in _ACTIVATIONS:
        cases += [_activation(name, False), _activation(name, True)]
    for grad in (False, True):
        cases.append(_mse(grad))
        cases.append(_loss("losses.softmax_cross_entropy", "optax.softmax_cross_entropy",
                           losses.softmax_cross_entropy, optax.softmax_cross_entropy,
                           "probabilities", grad, _ZERO_LOG_ZERO))
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
        cases += [conv_case(kernel, padding, False), conv_case(kernel, padding, True)]
    for grad in (False, True):
        cases += [grouped_conv_case(False, grad), grouped_conv_case(True, grad),
                  conv_transpose_case(grad), conv1d_case(grad)]
    for name in ("max_pool", "avg_pool"):
        cases += [pool_case(name, False), pool_case(name, True)]
    for cell in ("rnn", "lstm", "gru"):
        cases += [recurrent_case(cell, False), recurrent_case(cell, True)]
    cases += [stacked_case(False), stacked_case(True)]
    for grad in (False, True):
        cases += [sdpa_case("scaled_dot_product_attention", grad),
                  sdpa_case("flash_attention", grad),
                  sdpa_case("flash_attention", grad, causal=True), gqa_case(grad)]
    cases.append(decode_case())
    cases += [mha_case(False), mha_case(True)]
    for name in ("layer_norm", "rms_norm", "batch_norm"):
        cases += [norm_case(name, False), norm_case(name, True)]
        if name != "rms_norm":
            cases += [norm_case(name, False, fast_variance=False),
                      norm_case(name, True, fast_variance=False)]
    cases += [group_norm_case(False), group_norm_case(True),
              group_norm_case(False, fast_variance=False),
              group_norm_case(True, fast_variance=False), _smooth_labels(),
              gat_case(False), gat_case(True)]
    return cases + parallel_cases()
