r"""A small decoder-only transformer (a language model): token embeddings, pre-norm blocks
with rotary embeddings and grouped-query causal self-attention, and a projection to the
vocabulary; the full forward pass and the cached step of decoding.

Legend: ``B`` batch, ``T`` positions, ``V`` the vocabulary, ``E`` the embedding size,
``N`` blocks, ``Hq`` query heads and ``Hkv`` key/value heads of ``Dh = E / Hq`` features,
``F`` the MLP's width. The parameters are nested dicts (``"embed" (V, E)``, ``"block0"``
... ``"block{N-1}"``, ``"norm"``, ``"head"``), each dense layer ``{"w": (D_in, D_out), "b":
(D_out,)}`` (:func:`dlmath.layers.dense`). Derived and trained in
``notebooks/13_language_models.ipynb``; sampling is :mod:`dlmath.sampling`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from dlmath import _checks, initializers
from dlmath.activations import gelu
from dlmath.attention import (
    KVCache,
    decode_attention,
    rotary_embedding,
    scaled_dot_product_attention,
    update_kv_cache,
)
from dlmath.attention.cache import check_cache
from dlmath.layers import dense
from dlmath.normalization import rms_norm

__all__ = ["init_decoder", "decoder", "decoder_step", "init_decoder_cache",
           "decoder_parameter_count"]

_HINT = "Build them with init_decoder(key, V, E, N, Hq, Hkv, F)."


def _sizes(params) -> tuple:
    """``(V, E, N, Hq*Dh, Hkv*Dh, F)`` read from the parameters (0 where absent)."""
    def shape(*path):
        try:
            node = params
            for k in path:
                node = node[k]
            return _checks.shape_of(node)
        except (TypeError, KeyError, IndexError):
            return (0, 0)
    def width(*path):  # a weight's output width; 0 for a scalar (refused by the checks)
        s = shape(*path)
        return s[-1] if s else 0

    V, E = shape("embed")[:2] if len(shape("embed")) == 2 else (0, 0)
    n = sum(1 for k in params if str(k).startswith("block")) if isinstance(params, dict) else 0
    return (V, E, n, width("block0", "q", "w"), width("block0", "k", "w"),
            width("block0", "linear1", "w"))


def _shapes(V, E, n, Q, K, F) -> dict:
    dense_ = {"q": (E, Q), "k": (E, K), "v": (E, K), "o": (Q, E), "linear1": (E, F),
              "linear2": (F, E)}
    out = {("embed",): ("(V, E)", (V, E)), ("norm", "scale"): ("(E,)", (E,)),
           ("head", "w"): ("(E, V)", (E, V)), ("head", "b"): ("(V,)", (V,))}
    for b in range(n):
        for name, (i, o) in dense_.items():
            out[(f"block{b}", name, "w")] = (f"({i}, {o})", (i, o))
            out[(f"block{b}", name, "b")] = (f"({o},)", (o,))
        for norm in ("norm1", "norm2"):
            out[(f"block{b}", norm, "scale")] = ("(E,)", (E,))
    return out


def _check_params(who, params, num_heads):
    V, E, n, Q, K, F = _sizes(params)
    if n < 1:
        raise ValueError(f"{who}: params must hold blocks 'block0' ... ; got "
                         f"{sorted(params) if isinstance(params, dict) else type(params)}. "
                         + _HINT)
    _checks.require_shapes(who, "params", params, _shapes(V, E, n, Q, K, F),
                           f" for V = {V}, E = {E}", _HINT)
    _checks.require_divisor(who, "num_heads", num_heads, E, "the embedding size E")
    dh = E // num_heads
    if dh % 2:
        raise ValueError(f"{who}: the head size Dh = E / num_heads = {E} / {num_heads} = {dh} "
                         "must be even (rotary embeddings turn pairs of features); choose "
                         "fewer heads.")
    if Q != E or K % dh or num_heads % (K // dh or 1) or K == 0:
        raise ValueError(f"{who}: the key/value heads must divide the query heads: q's width "
                         f"{Q} must be E = {E} and k's width {K} a multiple of Dh = E / "
                         f"num_heads = {dh} dividing {E}. " + _HINT)


def _check_tokens(who, tokens, V, name="tokens"):
    _checks.require_ndim(who, name, tokens, 2, "(B, T)", "A single sequence is (1, T).")
    dt = _checks.dtype_of(tokens, who, name)
    if not jnp.issubdtype(dt, jnp.integer):
        raise TypeError(f"{who}: {name} must be integer ids in [0, V), V = {V}; got dtype {dt}.")
    _checks.ids_in_range(who, name, tokens, V, what="token", letter="V", check=name)


def _layer(p, x, positions, num_heads, cache, eps, base):
    """One pre-norm block: attention (rotary, grouped-query, causal) then the MLP."""
    B, T, E = x.shape
    dh = E // num_heads

    def heads(y):  # the head count is explicit: -1 cannot be inferred when B or T is 0
        return jnp.moveaxis(y.reshape(B, T, y.shape[-1] // dh, dh), 2, 1)

    z = rms_norm.kernel(x, p["norm1"]["scale"], eps=eps)
    q, k, v = (heads(dense.kernel(p[n], z)) for n in ("q", "k", "v"))
    q = rotary_embedding.kernel(q, positions, base=base)
    k = rotary_embedding.kernel(k, positions, base=base)
    if cache is None:
        o = scaled_dot_product_attention.kernel(q, k, v, is_causal=True, enable_gqa=True)
    else:
        cache = update_kv_cache.kernel(cache, k, v)
        o = decode_attention.kernel(q, cache)
    h = x + dense.kernel(p["o"], jnp.moveaxis(o, 1, 2).reshape(B, T, E))
    z = rms_norm.kernel(h, p["norm2"]["scale"], eps=eps)
    return h + dense.kernel(p["linear2"], gelu(dense.kernel(p["linear1"], z))), cache


def _blocks(params):
    return [params[f"block{b}"] for b in range(_sizes(params)[2])]


def check_decoder_inputs(params, tokens, num_heads, *, eps=1e-6, base=10000.0,
                         who="decoder", name="tokens"):
    """The checks of :func:`decoder`'s arguments, for the functions built on it (messages
    begin with ``who``; the token ids are the argument ``name``)."""
    _check_params(who, params, num_heads)
    _check_tokens(who, tokens, _sizes(params)[0], name)
    _checks.hyperparameter(who, "eps", eps, low=0.0)
    _checks.hyperparameter(who, "base", base, low=1.0, low_open=True)


def _embed(table, tokens):
    """The rows of ``table`` for the tokens, NaN for an id outside ``[0, V)`` (under ``jit``,
    where it cannot be checked: the package's rule). A negative id is out of range too, not
    counted from the end."""
    tokens = _checks.as_ids(tokens)       # widened: uint8 ids with V >= 256 never wrap
    outside = (tokens < 0) | (tokens >= table.shape[0])
    return jnp.take(table, jnp.where(outside, table.shape[0], tokens), axis=0, mode="fill",
                    fill_value=jnp.nan)


@_checks.checked(check_decoder_inputs, static_argnames=("num_heads",))
def decoder(params, tokens, num_heads, *, eps=1e-6, base=10000.0):
    r"""The logits of the next token at every position: $x_0 = \mathrm{embed}[tokens]$,
    then for each block $h = x + \mathrm{Attn}(\mathrm{RMS}_1(x))$ and
    $x' = h + \mathrm{gelu}(\mathrm{RMS}_2(h) W_1 + b_1) W_2 + b_2$, and the logits
    $\mathrm{RMS}(x_N) W + b$. The attention projects $Q$ (``Hq`` heads), $K$ and $V$
    (``Hkv`` heads), rotates $Q$ and $K$ by their positions (:func:`rotary_embedding`) and
    attends causally with grouped-query heads (:func:`scaled_dot_product_attention`,
    ``is_causal=True, enable_gqa=True``). Row $t$ of the result depends on tokens
    $0, \dots, t$ only (the causal mask): one pass gives every position's next-token
    logits (teacher forcing).

    Args:
        params: from :func:`init_decoder`; floating, one dtype.
        tokens: integer ``(B, T)`` in ``[0, V)``.
        num_heads: $H_q$, an int dividing ``E`` (``Hkv`` is read from ``k``'s width).
        eps: the RMS norms' $\epsilon \ge 0$. base: the rotary base ``> 1``.

    Returns:
        ``(B, T, V)`` logits in the parameters' dtype; under ``jit`` (ids unchecked) a token
        outside ``[0, V)`` embeds as NaN, which shows in every later logit of its row.

    Raises:
        TypeError: non-integer tokens; non-floating or mixed parameters.
        ValueError: wrong parameter names or shapes; heads that do not divide; tokens not
            ``(B, T)`` or (when concrete) outside ``[0, V)``; ``eps < 0``; ``base <= 1``.
    """
    x = _embed(params["embed"], tokens)
    positions = jnp.arange(tokens.shape[1])
    for p in _blocks(params):
        x, _ = _layer(p, x, positions, num_heads, None, eps, base)
    return dense.kernel(params["head"], rms_norm.kernel(x, params["norm"]["scale"], eps=eps))


def _check_step(params, tokens, caches, num_heads, *, eps=1e-6, base=10000.0):
    who = "decoder_step"
    check_decoder_inputs(params, tokens, num_heads, eps=eps, base=base, who=who)
    n = _sizes(params)[2]
    if not isinstance(caches, tuple) or len(caches) != n or not all(
            isinstance(c, KVCache) for c in caches):
        raise TypeError(f"{who}: caches must be a tuple of {n} KVCache (one per block); got "
                        f"{type(caches).__name__}. Build them with "
                        "init_decoder_cache(params, batch, max_len, num_heads).")
    B, T = _checks.shape_of(tokens)
    V, E, n, Q, K, F = _sizes(params)
    dh = E // num_heads
    for b, c in enumerate(caches):
        name = f"caches[{b}]"
        ks, vs, n0 = check_cache(who, c, name)
        for part, got in (("key", ks), ("value", vs)):
            if got[:2] != (B, K // dh) or got[3] != dh:
                raise ValueError(
                    f"{who}: {name}.{part} must be (B, Hkv, L, Dh) = ({B}, {K // dh}, L, {dh}) "
                    f"for tokens {_checks.fmt((B, T))} and the parameters' heads; got "
                    f"{_checks.fmt(got)}. Build them with init_decoder_cache(params, batch, "
                    "max_len, num_heads).")
        if n0 is not None and n0 + T > ks[2]:
            L = ks[2]
            state = "is full" if n0 == L else f"has room for {L - n0} positions"
            raise ValueError(f"{who}: the cache {state} (length {n0} of L = {L}); got T = {T} "
                             "new tokens: a position past the buffer. Use a larger max_len.")


@_checks.checked(_check_step, static_argnames=("num_heads",))
def decoder_step(params, tokens, caches, num_heads, *, eps=1e-6, base=10000.0):
    r"""The cached step of decoding: the logits of the ``T`` new tokens, which take the
    positions $n, \dots, n + T - 1$ after the $n$ cached ones, and the caches with their keys
    and values appended (:func:`update_kv_cache`, :func:`decode_attention`). Equal to the
    last ``T`` rows of :func:`decoder` on the whole sequence (proven in the chapter). A
    prompt is one step of ``T`` tokens (prefill); then each step is one token, and the same
    compiled step serves every position.

    Args:
        params, num_heads, eps, base: as :func:`decoder`.
        tokens: integer ``(B, T)``, the new tokens.
        caches: a tuple of one :class:`~dlmath.attention.KVCache` per block
            (:func:`init_decoder_cache`).

    Returns:
        ``(logits (B, T, V), caches)``.

    Raises:
        TypeError, ValueError: as :func:`decoder`; ``caches`` not a tuple of ``KVCache``; a
            full cache or new tokens past its buffer (when the length is concrete).
    """
    x = _embed(params["embed"], tokens)
    positions = caches[0].length + jnp.arange(tokens.shape[1])
    new = []
    for p, c in zip(_blocks(params), caches, strict=True):
        x, c = _layer(p, x, positions, num_heads, c, eps, base)
        new.append(c)
    logits = dense.kernel(params["head"], rms_norm.kernel(x, params["norm"]["scale"], eps=eps))
    return logits, tuple(new)


def init_decoder_cache(params, batch: int, max_len: int, num_heads: int):
    r"""Empty caches for :func:`decoder_step`: one :class:`~dlmath.attention.KVCache` per
    block, ``(B, Hkv, L, Dh)`` in the parameters' dtype, $2 N B H_{kv} L D_h$ numbers.

    Raises:
        TypeError, ValueError: as :func:`decoder` for the parameters; sizes not ints
            (``batch >= 0``, ``max_len >= 1``).
    """
    from dlmath.attention import init_kv_cache

    who = "init_decoder_cache"
    _check_params(who, params, num_heads)
    _checks.count(who, "batch", batch)
    _checks.count(who, "max_len", max_len, low=1)
    V, E, n, Q, K, F = _sizes(params)
    dh = E // num_heads
    dtype = params["embed"].dtype
    return tuple(init_kv_cache(batch, K // dh, max_len, dh, dtype) for _ in range(n))


def _check_sizes(who, vocab_size, embed_dim, num_layers, num_heads, num_kv_heads, hidden_dim):
    for name, v in (("vocab_size", vocab_size), ("embed_dim", embed_dim),
                    ("num_layers", num_layers), ("hidden_dim", hidden_dim)):
        _checks.count(who, name, v, low=1)
    _checks.require_divisor(who, "num_heads", num_heads, embed_dim, "embed_dim E")
    _checks.require_divisor(who, "num_kv_heads", num_kv_heads, num_heads, "num_heads")
    if (embed_dim // num_heads) % 2:
        raise ValueError(f"{who}: the head size Dh = embed_dim / num_heads = {embed_dim} / "
                         f"{num_heads} = {embed_dim // num_heads} must be even (rotary "
                         "embeddings turn pairs of features); choose fewer heads.")


def decoder_parameter_count(vocab_size: int, embed_dim: int, num_layers: int, num_heads: int,
                            num_kv_heads: int, hidden_dim: int) -> int:
    r"""The number of parameters of :func:`init_decoder`'s model:
    $2VE + V + E + N\,(2E + 2E^2 + 2E \cdot H_{kv} D_h + 2 H_{kv} D_h + 2E + 2EF + F + E)$
    with $D_h = E / H_q$ (embedding, head with bias, final norm; per block two norms, the
    query and output projections $E^2$ each with biases, the key and value projections
    $E H_{kv} D_h$ each with biases, and the MLP). Grouped-query attention saves
    $2 N E (E - H_{kv} D_h)$ weights against multi-head attention.

    Raises:
        TypeError, ValueError: sizes not ints ``>= 1``; heads that do not divide; an odd
            head size ``E / num_heads`` (:func:`decoder` rotates pairs of features).
    """
    _check_sizes("decoder_parameter_count", vocab_size, embed_dim, num_layers, num_heads,
                 num_kv_heads, hidden_dim)
    V, E, F = vocab_size, embed_dim, hidden_dim
    kv = num_kv_heads * (E // num_heads)
    block = 2 * E + 2 * E * E + 2 * E + 2 * E * kv + 2 * kv + 2 * E * F + F + E
    return 2 * V * E + V + E + num_layers * block


def init_decoder(key, vocab_size: int, embed_dim: int, num_layers: int, num_heads: int,
                 num_kv_heads: int, hidden_dim: int, *, dtype=jnp.float32):
    r"""Parameters of :func:`decoder`: the embedding $\mathcal N(0, 1)$ (PyTorch's
    ``nn.Embedding``), every dense layer as PyTorch's ``nn.Linear``
    (:func:`dlmath.initializers.pytorch_uniform`, $\pm 1/\sqrt{\text{fan-in}}$, kernels and
    biases), the RMS-norm scales 1. :func:`decoder_parameter_count` counts them.

    Args:
        key: a ``jax.random`` key.
        vocab_size: $V$. embed_dim: $E$. num_layers: $N$. hidden_dim: $F$ (ints ``>= 1``).
        num_heads: $H_q$ dividing ``E``. num_kv_heads: $H_{kv}$ dividing ``num_heads``.
        dtype: a floating dtype.

    Returns:
        ``{"embed": (V, E), "block0": {"norm1": {"scale": (E,)}, "q": (E, E), "k": (E,
        Hkv*Dh), "v": (E, Hkv*Dh), "o": (E, E), "norm2": ..., "linear1": (E, F), "linear2":
        (F, E)} (dense layers), ..., "norm": {"scale": (E,)}, "head": (E, V)}``.

    Raises:
        TypeError: a missing key; sizes not ints; ``dtype`` not floating.
        ValueError: sizes ``< 1``; heads that do not divide; an odd head size
            ``E / num_heads`` (:func:`decoder` rotates pairs of features).
    """
    who = "init_decoder"
    _checks.require_key(who, key, "the weights")
    _check_sizes(who, vocab_size, embed_dim, num_layers, num_heads, num_kv_heads, hidden_dim)
    _checks.require_float_dtype(who, "dtype", dtype)
    V, E, F = vocab_size, embed_dim, hidden_dim
    kv = num_kv_heads * (E // num_heads)
    keys = iter(jax.random.split(key, 3 + 12 * num_layers))

    def linear(fan_in, fan_out):
        draw = initializers.pytorch_uniform(fan_in, dtype=dtype)
        return {"w": draw(next(keys), (fan_out, fan_in)).T, "b": draw(next(keys), (fan_out,))}

    params = {"embed": jax.random.normal(next(keys), (V, E), dtype)}
    for b in range(num_layers):
        params[f"block{b}"] = {
            "norm1": {"scale": jnp.ones((E,), dtype)}, "q": linear(E, E), "k": linear(E, kv),
            "v": linear(E, kv), "o": linear(E, E), "norm2": {"scale": jnp.ones((E,), dtype)},
            "linear1": linear(E, F), "linear2": linear(F, E)}
    params["norm"] = {"scale": jnp.ones((E,), dtype)}
    params["head"] = linear(E, V)
    return params
