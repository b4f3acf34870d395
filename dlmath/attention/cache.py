r"""The key/value cache of autoregressive decoding: fixed-size buffers and a length, so one
compiled step serves every position. Legend: ``B`` batch, ``Hkv`` key/value heads, ``Hq``
query heads, ``L`` the buffer's length (``max_len``), ``T`` new positions, ``D`` and ``Dv``
the feature sizes of keys and values."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from dlmath import _checks
from dlmath.attention._core import check_qkv
from dlmath.attention.dot_product import scaled_dot_product_attention

__all__ = ["KVCache", "init_kv_cache", "update_kv_cache", "decode_attention"]

_HINT = "Build it with init_kv_cache(batch, num_kv_heads, max_len, head_dim)."


class KVCache(NamedTuple):
    """The keys and values of the positions decoded so far: ``key (B, Hkv, L, D)`` and
    ``value (B, Hkv, L, Dv)`` buffers, of which positions ``0 .. length - 1`` are filled,
    and ``length``, an int32 scalar array (an array, so that a compiled step takes every
    length without compiling again). A pytree: it passes through ``jit`` and ``scan``."""

    key: jax.Array
    value: jax.Array
    length: jax.Array


def _check_init(batch, num_kv_heads, max_len, head_dim, dtype=jnp.float32, *,
                value_dim=None) -> None:
    who = "init_kv_cache"
    for name, v in (("batch", batch), ("num_kv_heads", num_kv_heads), ("max_len", max_len),
                    ("head_dim", head_dim)):
        _checks.count(who, name, v, low=0 if name == "batch" else 1)
    if value_dim is not None:
        _checks.count(who, "value_dim", value_dim, low=1)
    _checks.require_float_dtype(who, "dtype", dtype)


@_checks.checked(_check_init, static_argnames=("batch", "num_kv_heads", "max_len", "head_dim",
                                               "dtype", "value_dim"))
def init_kv_cache(batch, num_kv_heads, max_len, head_dim, dtype=jnp.float32, *, value_dim=None):
    r"""An empty key/value cache: zero buffers and ``length = 0``.

    It holds $2 \cdot B \cdot H_{kv} \cdot L \cdot D \cdot b$ bytes ($b$ bytes per number,
    ``D = Dv``); a model with $N$ layers has one per layer. Grouped-query attention shrinks
    it by $H_q / H_{kv}$ against multi-head attention.

    Args:
        batch: $B \ge 0$. num_kv_heads: $H_{kv} \ge 1$. max_len: $L \ge 1$, the most
            positions it can hold. head_dim: $D \ge 1$. value_dim: $D_v$ (default ``D``).
        dtype: a floating dtype.

    Returns:
        a :class:`KVCache` with ``key (B, Hkv, L, D)``, ``value (B, Hkv, L, Dv)`` of
        ``dtype`` and ``length`` int32 0.

    Raises:
        TypeError: sizes not ints; ``dtype`` not floating.
        ValueError: sizes out of range.
    """
    dv = head_dim if value_dim is None else value_dim
    return KVCache(jnp.zeros((batch, num_kv_heads, max_len, head_dim), dtype),
                   jnp.zeros((batch, num_kv_heads, max_len, dv), dtype),
                   jnp.zeros((), jnp.int32))


def check_cache(who: str, cache, name: str = "cache") -> tuple:
    """The checks of a :class:`KVCache` argument ``name`` (messages begin with ``who``):
    floating ``(B, Hkv, L, D)`` and ``(B, Hkv, L, Dv)`` buffers, an integer scalar length,
    not past the buffer when concrete. Returns the two shapes and the length (``None``
    when traced)."""
    if not isinstance(cache, KVCache):
        raise TypeError(f"{who}: {name} must be a KVCache; got {type(cache).__name__}. {_HINT}")
    for part in ("key", "value"):
        _checks.require_floating(who, f"{name}.{part}", getattr(cache, part))
        _checks.require_ndim(who, f"{name}.{part}", getattr(cache, part), 4,
                             "(B, Hkv, L, D)", _HINT)
    ks, vs = _checks.shape_of(cache.key), _checks.shape_of(cache.value)
    if ks[:3] != vs[:3]:
        raise ValueError(f"{who}: {name}.key (B, Hkv, L, D) and {name}.value (B, Hkv, L, Dv) "
                         f"must share B, Hkv and L; got {_checks.fmt(ks)} and "
                         f"{_checks.fmt(vs)}.")
    dt = _checks.dtype_of(cache.length, who, f"{name}.length")
    if not jnp.issubdtype(dt, jnp.integer) or _checks.shape_of(cache.length) != ():
        raise TypeError(f"{who}: {name}.length must be an integer scalar; got dtype {dt}, "
                        f"shape {_checks.fmt(_checks.shape_of(cache.length))}. {_HINT}")
    length = None if _checks.is_traced(cache.length) else int(cache.length)
    if length is not None and length > ks[2]:
        raise ValueError(f"{who}: {name}.length = {length} is a position past the buffer of "
                         f"L = {ks[2]} positions. {_HINT}")
    return ks, vs, length


def _check_update(cache, key, value) -> None:
    who = "update_kv_cache"
    ks, vs, length = check_cache(who, cache)
    for name, x, want in (("key", key, ks), ("value", value, vs)):
        _checks.require_floating(who, name, x)
        xs = _checks.shape_of(x)
        if len(xs) != 4 or xs[:2] != want[:2] or xs[3] != want[3]:
            raise ValueError(f"{who}: {name} must be (B, Hkv, T, {'D' if name == 'key' else 'Dv'}) "
                             f"= ({want[0]}, {want[1]}, T, {want[3]}) for the cache's "
                             f"{_checks.fmt(want)}; got {_checks.fmt(xs)}.")
    T = _checks.shape_of(key)[2]
    if _checks.shape_of(value)[2] != T:
        raise ValueError(f"{who}: key and value must have the same number of positions T; got "
                         f"key {_checks.fmt(_checks.shape_of(key))}, value "
                         f"{_checks.fmt(_checks.shape_of(value))}.")
    if length is not None and length + T > ks[2]:
        state = "is full" if length == ks[2] else f"has room for {ks[2] - length} positions"
        raise ValueError(f"{who}: the cache {state} (length {length} of L = {ks[2]}); got T = "
                         f"{T} new positions. Build a cache with a larger max_len.")


@_checks.checked(_check_update)
def update_kv_cache(cache, key, value):
    r"""Write ``T`` new keys and values at positions ``length .. length + T - 1``; the
    length grows by ``T``. The buffers keep their shapes (``jax.lax.dynamic_update_slice``),
    so a compiled step serves every length.

    Args:
        cache: a :class:`KVCache` (:func:`init_kv_cache`).
        key: floating ``(B, Hkv, T, D)``. value: floating ``(B, Hkv, T, Dv)``. Cast to the
            cache's dtype (a carried state never changes type).

    Returns:
        the new :class:`KVCache`. Under ``jit`` the length is unknown and unchecked: an
        update that does not fit leaves the buffers unchanged and the length past ``L``,
        and :func:`decode_attention` then returns NaN.

    Raises:
        TypeError: not a :class:`KVCache`; non-floating arrays; a non-integer length.
        ValueError: shapes that do not match the cache; a full cache, or ``length + T > L``
            (a position past the buffer), when the length is concrete.
    """
    L, T, n = cache.key.shape[2], key.shape[2], cache.length
    fits = n + T <= L
    start = jnp.minimum(n, L - T)

    def write(buf, new):
        out = jax.lax.dynamic_update_slice_in_dim(buf, new.astype(buf.dtype), start, axis=2)
        return jnp.where(fits, out, buf)

    return KVCache(write(cache.key, key), write(cache.value, value),
                   (n + T).astype(cache.length.dtype))


def _check_decode(query, cache) -> None:
    who = "decode_attention"
    ks, vs, length = check_cache(who, cache)
    check_qkv(who, query, cache.key, cache.value, True)
    T = _checks.shape_of(query)[-2]
    if length is not None and T > length:
        raise ValueError(f"{who}: the query's T = {T} positions must be among the cache's "
                         f"length = {length} written ones; write them with update_kv_cache "
                         "first.")


@_checks.checked(_check_decode)
def decode_attention(query, cache):
    r"""The attention of the ``T`` newest positions over the cache: query $i$ (position
    $n - T + i$, $n$ the cache's length) attends the keys $j \le n - T + i$, the causal mask
    aligned at the bottom right (:func:`causal_mask`, ``"bottom_right"``, over the $n$
    filled positions); the buffer past $n$ is masked. Equal to the last $T$ rows of causal
    attention over the whole sequence (proven in ``notebooks/13_language_models.ipynb``).
    With grouped-query heads as :func:`scaled_dot_product_attention` with
    ``enable_gqa=True``. A step reads the whole buffer of $L$ keys, so its cost is
    $O(L \cdot D)$ per query, against $O(t^2 D)$ for recomputing attention over $t$ positions.

    Args:
        query: floating ``(B, Hq, T, D)``, ``Hkv`` dividing ``Hq``.
        cache: a :class:`KVCache` whose last ``T`` written positions are these queries'
            (:func:`update_kv_cache` first).

    Returns:
        ``(B, Hq, T, Dv)`` in the promoted dtype; NaN when the cache's length is past its
        buffer (possible only under ``jit``, where it is not checked).

    Raises:
        TypeError: non-floating query; not a :class:`KVCache`.
        ValueError: shapes that do not match the cache; ``Hkv`` not dividing ``Hq``; more
            queries than written positions, or a length past the buffer (when concrete).
    """
    L, T, n = cache.key.shape[2], query.shape[-2], cache.length
    mask = jnp.arange(L)[None, :] <= n - T + jnp.arange(T)[:, None]
    o = scaled_dot_product_attention.kernel(query, cache.key, cache.value, mask,
                                            enable_gqa=True)
    return jnp.where(n <= L, o, jnp.nan)
