r"""Sampling the next token from a language model's logits, and generating a continuation.

Legend: ``B`` batch axes, ``K`` the vocabulary (the logits' last axis), ``P`` a prompt's
length. The order of the truncations is Hugging Face's: the temperature first, then top-k
on the tempered logits, then top-p (nucleus) on the tempered, top-k-truncated
distribution; the kept tokens' probabilities are renormalised (a softmax over the kept
logits). Derived in ``notebooks/13_language_models.ipynb``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from dlmath import _checks
from dlmath.attention import init_kv_cache
from dlmath.transformer_decoder import check_decoder_inputs, decoder, decoder_step

__all__ = ["top_k_mask", "top_p_mask", "sampling_distribution", "sample_logits", "greedy",
           "generate"]


def _check_logits(who, logits):
    _checks.require_floating(who, "logits", logits)
    if len(_checks.shape_of(logits)) < 1:
        raise ValueError(f"{who}: logits must have shape (*B, K); got a scalar.")
    _checks.require_nonempty(who, "logits", logits, -1, "(*B, K)", "tokens")
    return _checks.shape_of(logits)[-1]


def _check_truncation(who, K, temperature=1.0, top_k=None, top_p=None):
    _checks.hyperparameter(who, "temperature", temperature, low=0.0,
                           hint="0 is greedy decoding (the argmax).")
    if top_k is not None:
        _checks.count(who, "top_k", top_k, low=1, high=K)
    if top_p is not None:
        _checks.hyperparameter(who, "top_p", top_p, low=0.0, high=1.0, low_open=True)


@_checks.checked(lambda logits, k: (_checks.count("top_k_mask", "k", k, low=1, high=_check_logits(
    "top_k_mask", logits))), static_argnames=("k",))
def top_k_mask(logits, k):
    r"""The ``k`` tokens of largest logit: ``True`` = kept (ties go to the lower index, as
    ``jax.lax.top_k``). Sampling from the kept tokens renormalised gives token $j$ the
    probability $p_j / \sum_{i \in \text{top-}k} p_i$.

    Args:
        logits: floating ``(*B, K)``. k: an int in ``[1, K]``.

    Returns:
        boolean ``(*B, K)`` with ``k`` entries ``True`` per row.

    Raises:
        TypeError: non-floating logits; ``k`` not an int.
        ValueError: a scalar or ``K = 0``; ``k`` outside ``[1, K]``.
    """
    _, idx = jax.lax.top_k(logits, k)
    return jnp.any(jax.nn.one_hot(idx, logits.shape[-1], dtype=jnp.bool_), axis=-2)


def _top_p(logits, p):
    probs = jax.nn.softmax(logits.astype(jnp.promote_types(logits.dtype, jnp.float32)), axis=-1)
    order = jnp.argsort(-probs, axis=-1, stable=True)
    sorted_p = jnp.take_along_axis(probs, order, axis=-1)
    before = jnp.cumsum(sorted_p, axis=-1) - sorted_p  # mass of the more probable tokens
    keep_sorted = before < p
    return jnp.put_along_axis(jnp.zeros_like(keep_sorted), order, keep_sorted, axis=-1,
                              inplace=False)


def _check_top_p(logits, p) -> None:
    _check_logits("top_p_mask", logits)
    _checks.hyperparameter("top_p_mask", "p", p, low=0.0, high=1.0, low_open=True)


@_checks.checked(_check_top_p)
def top_p_mask(logits, p):
    r"""The nucleus: the most probable tokens, in order of probability, until their mass
    reaches ``p``. Token $j$ is kept when the tokens more probable than it (ties: lower
    index first) hold less than ``p``, $\sum_{i \prec j} p_i < p$, with
    $p = \mathrm{softmax}(\text{logits})$; so the top token is always kept, and the kept
    set is the smallest prefix of mass $\ge p$. Renormalised, a kept token has probability
    $p_j / \sum_{i \text{ kept}} p_i$.

    Args:
        logits: floating ``(*B, K)``. p: a number in ``(0, 1]`` (may be traced).

    Returns:
        boolean ``(*B, K)``, at least one ``True`` per row (all for ``p = 1`` unless some
        probabilities are 0).

    Raises:
        TypeError: non-floating logits; a non-number ``p``.
        ValueError: a scalar or ``K = 0``; ``p`` outside ``(0, 1]``.
    """
    return _top_p(logits, p)


def _truncated(logits, temperature, top_k, top_p):
    """The tempered logits with the tokens cut by top-k and top-p at -inf (greedy: the
    argmax alone when the temperature is 0)."""
    z = logits.astype(jnp.promote_types(logits.dtype, jnp.float32))
    t = jnp.asarray(temperature, z.dtype)
    greedy_ = jax.nn.one_hot(jnp.argmax(z, axis=-1), z.shape[-1], dtype=jnp.bool_)
    z = z / jnp.where(t > 0, t, 1.0)
    keep = jnp.ones(z.shape, jnp.bool_)
    if top_k is not None:
        keep = top_k_mask.kernel(z, top_k)
    if top_p is not None:
        keep = keep & _top_p(jnp.where(keep, z, -jnp.inf), top_p)
    return jnp.where(jnp.where(t > 0, keep, greedy_), z, -jnp.inf)


def _check_distribution(who):
    def check(logits, *, temperature=1.0, top_k=None, top_p=None):
        _check_truncation(who, _check_logits(who, logits), temperature, top_k, top_p)
    return check


@_checks.checked(_check_distribution("sampling_distribution"), static_argnames=("top_k",))
def sampling_distribution(logits, *, temperature=1.0, top_k=None, top_p=None):
    r"""The distribution a sampler draws the next token from: the softmax at temperature
    $\tau$,

    $$\frac{e^{\frac{{z}_{j}}{\tau}}}{\sum_{r=0}^{K - 1} e^{\frac{{z}_{r}}{\tau}}}$$

    restricted to the tokens kept by ``top_k`` (:func:`top_k_mask`) and then ``top_p``
    (:func:`top_p_mask`, on the tempered, top-k-truncated distribution), renormalised over
    them. As $\tau \to 0$ it tends to the one-hot of the argmax (``temperature=0`` is that
    limit: greedy decoding); as $\tau \to \infty$ to the uniform distribution over the kept
    tokens (both proven in the chapter).

    Args:
        logits: floating ``(*B, K)``.
        temperature: $\tau \ge 0$ (may be traced). top_k: ``None`` or an int in ``[1, K]``
            (static). top_p: ``None`` or a number in ``(0, 1]``.

    Returns:
        ``(*B, K)`` probabilities in at least float32, 0 outside the kept tokens, each row
        summing to 1.

    Raises:
        TypeError: non-floating logits; non-number hyper-parameters.
        ValueError: a scalar or ``K = 0``; hyper-parameters out of range.
    """
    return jax.nn.softmax(_truncated(logits, temperature, top_k, top_p), axis=-1)


def _check_sample(key, logits, *, temperature=1.0, top_k=None, top_p=None):
    _checks.require_key("sample_logits", key, "the draw")
    _check_distribution("sample_logits")(logits, temperature=temperature, top_k=top_k,
                                         top_p=top_p)


@_checks.checked(_check_sample, static_argnames=("top_k",))
def sample_logits(key, logits, *, temperature=1.0, top_k=None, top_p=None):
    r"""One token per row drawn from :func:`sampling_distribution` (``jax.random.categorical``
    on the truncated tempered logits); ``temperature=0`` is :func:`greedy`.

    Args:
        key: a ``jax.random`` key. logits, temperature, top_k, top_p: as
            :func:`sampling_distribution`.

    Returns:
        int32 ``(*B,)`` token ids.

    Raises:
        TypeError, ValueError: as :func:`sampling_distribution`; a missing key.
    """
    return jax.random.categorical(key, _truncated(logits, temperature, top_k, top_p),
                                  axis=-1).astype(jnp.int32)


@_checks.checked(lambda logits: _check_logits("greedy", logits))
def greedy(logits):
    r"""Greedy decoding: the token of largest logit, $\arg\max_j z_j$ (the first on ties),
    the $\tau \to 0$ limit of sampling.

    Args:
        logits: floating ``(*B, K)``.

    Returns:
        int32 ``(*B,)``.

    Raises:
        TypeError: non-floating logits.
        ValueError: a scalar or ``K = 0``.
    """
    return jnp.argmax(logits, axis=-1).astype(jnp.int32)


def _check_generate(key, params, prompt, num_tokens, num_heads, *, temperature=1.0, top_k=None,
                    top_p=None, use_cache=True, eps=1e-6, base=10000.0):
    who = "generate"
    _checks.require_key(who, key, "the samples")
    _checks.count(who, "num_tokens", num_tokens)
    check_decoder_inputs(params, prompt, num_heads, eps=eps, base=base, who=who, name="prompt")
    if _checks.shape_of(prompt)[1] < 1:
        raise ValueError(f"{who}: prompt must hold at least one token (B, P), P >= 1; got "
                         f"{_checks.fmt(_checks.shape_of(prompt))}.")
    _check_truncation(who, params["embed"].shape[0], temperature, top_k, top_p)
    _checks.require_flag(who, "use_cache", use_cache)


def _generate_cached(key, params, prompt, num_tokens, num_heads, sample, eps, base):
    """Prefill the caches with the prompt, then one cached step per token (a ``scan``)."""
    B, P = prompt.shape
    E = params["embed"].shape[1]
    dh = E // num_heads
    n = sum(1 for k in params if k.startswith("block"))
    caches = tuple(init_kv_cache.kernel(B, params["block0"]["k"]["w"].shape[1] // dh,
                                        P + num_tokens, dh, params["embed"].dtype)
                   for _ in range(n))
    keys = jax.random.split(key, num_tokens)
    logits, caches = decoder_step.kernel(params, prompt, caches, num_heads, eps=eps, base=base)
    first = sample(keys[0], logits[:, -1])

    def step(carry, k):
        token, caches = carry
        logits, caches = decoder_step.kernel(params, token[:, None], caches, num_heads, eps=eps,
                                             base=base)
        return (sample(k, logits[:, -1]), caches), token

    (last, _), tokens = jax.lax.scan(step, (first, caches), keys[1:])
    return jnp.concatenate([prompt.astype(jnp.int32), tokens.T, last[:, None]], axis=1)


def _generate_full(key, params, prompt, num_tokens, num_heads, sample, eps, base):
    """No cache: each token runs the whole decoder over a fixed buffer of ``P + n`` tokens
    (the causal mask makes the positions after ``t`` irrelevant to position ``t``)."""
    B, P = prompt.shape
    keys = jax.random.split(key, num_tokens)
    buf = jnp.concatenate([prompt.astype(jnp.int32), jnp.zeros((B, num_tokens), jnp.int32)], 1)

    def body(i, buf):
        logits = decoder.kernel(params, buf, num_heads, eps=eps, base=base)
        z = jax.lax.dynamic_index_in_dim(logits, P + i - 1, axis=1, keepdims=False)
        return jax.lax.dynamic_update_index_in_dim(buf, sample(keys[i], z), P + i, axis=1)

    return jax.lax.fori_loop(0, num_tokens, body, buf)


@_checks.checked(_check_generate, static_argnames=("num_tokens", "num_heads", "top_k",
                                                   "use_cache"))
def generate(key, params, prompt, num_tokens, num_heads, *, temperature=1.0, top_k=None,
             top_p=None, use_cache=True, eps=1e-6, base=10000.0):
    r"""Autoregressive generation from :func:`dlmath.transformer_decoder.decoder`: token
    $P + i$ is drawn from :func:`sampling_distribution` of the model's logits given the
    prompt and the tokens drawn so far, $x_{t+1} \sim p_\theta(\cdot \mid x_{\le t})$, with
    the key ``jax.random.split(key, num_tokens)[i]``. With ``use_cache`` the prompt fills
    the key/value caches in one step (prefill) and each new token is one cached step
    (:func:`dlmath.transformer_decoder.decoder_step`, $O(L)$ attention work); without,
    each token reruns the decoder over the whole sequence. Both give the same tokens
    (asserted for greedy decoding, ``temperature=0``, in the tests).

    Args:
        key: a ``jax.random`` key.
        params, num_heads, eps, base: as :func:`dlmath.transformer_decoder.decoder`.
        prompt: integer ``(B, P)``, ``P >= 1``, ids in ``[0, V)``.
        num_tokens: new tokens, an int ``>= 0``.
        temperature, top_k, top_p: as :func:`sampling_distribution`.
        use_cache: a bool (static).

    Returns:
        int32 ``(B, P + num_tokens)``: the prompt, then the new tokens. A prompt id outside
        ``[0, V)`` raises when the prompt is concrete; under an outer ``jit`` it cannot be
        checked, its logits are NaN (as the decoder's) and the tokens drawn from them are
        meaningless: call ``generate`` with a concrete prompt.

    Raises:
        TypeError, ValueError: as :func:`dlmath.transformer_decoder.decoder` for ``params``
            and ``prompt``; an empty prompt; a missing key; ``num_tokens`` not an int
            ``>= 0``; sampling hyper-parameters as :func:`sampling_distribution`.
    """
    if num_tokens == 0:
        return prompt.astype(jnp.int32)

    def sample(k, z):
        return jax.random.categorical(k, _truncated(z, temperature, top_k, top_p),
                                      axis=-1).astype(jnp.int32)

    run = _generate_cached if use_cache else _generate_full
    return run(key, params, prompt, num_tokens, num_heads, sample, eps, base)
