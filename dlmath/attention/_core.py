"""What the attention functions share: the input checks, the compute dtype, the causal
masks, the stable masked softmax and the grouping of query heads over key/value heads.

A private module of :mod:`dlmath.attention`; its parts are used only by that package.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from dlmath import _checks

QKV_LEGEND = "query (*B, T, D), key (*B, S, D), value (*B, S, Dv)"
GQA_LEGEND = "query (*B, Hq, T, D), key (*B, Hkv, S, D), value (*B, Hkv, S, Dv)"
FLAG = "It selects a mask shape and is static under jit."
ALIGNMENTS = ("top_left", "bottom_right")


def check_qkv(who: str, query, key, value, enable_gqa: bool = False):
    """The shared checks of the three inputs; returns (batch, T, S, D, Dv). With
    ``enable_gqa``, axis -3 holds the heads and the key/value heads must divide the query
    heads; ``batch`` is then the query's ``(*B, Hq)``."""
    legend = GQA_LEGEND if enable_gqa else QKV_LEGEND
    rank = 3 if enable_gqa else 2
    for name, x in (("query", query), ("key", key), ("value", value)):
        _checks.require_floating(who, name, x)
        if len(_checks.shape_of(x)) < rank:
            hint = ("With enable_gqa=True axis -3 holds the heads." if enable_gqa
                    else "A single sequence is (T, D).")
            raise ValueError(
                f"{who}: {name} must have at least {rank} axes, {legend}; got shape "
                f"{_checks.fmt(_checks.shape_of(x))}. {hint}")
    qs, ks, vs = (_checks.shape_of(x) for x in (query, key, value))
    if qs[-1] != ks[-1]:
        raise ValueError(
            f"{who}: query and key must have the same feature size D, {legend}; got "
            f"query {_checks.fmt(qs)}, key {_checks.fmt(ks)}. The scores are dot products "
            "of a query with a key.")
    if ks[-2] != vs[-2]:
        raise ValueError(
            f"{who}: key and value must have the same length S, {legend}; got key "
            f"{_checks.fmt(ks)}, value {_checks.fmt(vs)}. Each key has one value.")
    lead = 3 if enable_gqa else 2
    if enable_gqa and ks[-3] != vs[-3]:
        raise ValueError(
            f"{who}: key and value must have the same number of heads Hkv, {legend}; got "
            f"key {_checks.fmt(ks)}, value {_checks.fmt(vs)}.")
    if not (qs[:-lead] == ks[:-lead] == vs[:-lead]):
        raise ValueError(
            f"{who}: query, key and value must have the same batch axes *B, {legend}; "
            f"got query {_checks.fmt(qs)}, key {_checks.fmt(ks)}, value {_checks.fmt(vs)}. "
            "Broadcast them explicitly with jnp.broadcast_to if you mean to share keys.")
    if enable_gqa:
        hq, hkv = qs[-3], ks[-3]
        if hkv == 0 or hq % hkv:
            raise ValueError(
                f"{who}: the key/value heads Hkv = {hkv} must divide the query heads "
                f"Hq = {hq}, {legend}; got query {_checks.fmt(qs)}, key {_checks.fmt(ks)}. "
                "Query head h uses key/value head h // (Hq // Hkv).")
    if qs[-1] == 0:
        raise ValueError(
            f"{who}: query and key have feature size D = 0 ({legend}); the scale "
            "1/sqrt(D) is undefined.")
    return qs[:-2], qs[-2], ks[-2], qs[-1], vs[-1]


def check_inputs(who: str, query, key, value, mask, is_causal, enable_gqa=False):
    """The flags, the three inputs and the mask; returns ``D`` and ``Dv`` (the feature
    sizes of the query and the value)."""
    _checks.require_flag(who, "is_causal", is_causal, FLAG)
    _checks.require_flag(who, "enable_gqa", enable_gqa,
                         "It selects the head layout and is static under jit.")
    batch, T, S, D, Dv = check_qkv(who, query, key, value, enable_gqa)
    _checks.require_mask(who, mask, (*batch, T, S))
    return D, Dv


def compute_dtype(*xs):
    """Inputs' promoted float dtype, and the dtype the softmax runs in (at least float32,
    so float16 and bfloat16 scores never overflow in the exponentials or the sums)."""
    out = jnp.result_type(*xs)
    return out, jnp.promote_types(out, jnp.float32)


def causal(T: int, S: int, alignment: str = "top_left"):
    """``(T, S)`` boolean: query ``t`` may attend key ``s`` when ``s <= t`` (top left, as
    jax.nn and PyTorch's ``is_causal``) or ``s <= S - T + t`` (bottom right)."""
    shift = S - T if alignment == "bottom_right" else 0
    return jnp.arange(S)[None, :] <= jnp.arange(T)[:, None] + shift


def weights(q, k, allowed):
    r"""Stable masked softmax of the scaled scores; rows with no allowed key are 0. The
    scale $1/\sqrt D$ multiplies the queries (T·D numbers) rather than the scores (T·S)."""
    scores = jnp.einsum("...td,...sd->...ts", q * (1 / math.sqrt(q.shape[-1])), k)
    if scores.shape[-1] == 0:  # no keys at all: every row is fully masked
        return scores
    if allowed is not None:
        scores = jnp.where(allowed, scores, -jnp.inf)
    return masked_softmax(scores)


@jax.custom_jvp
def masked_softmax(scores):
    """Softmax over the last axis where ``-inf`` marks a masked entry; a row with nothing
    left is 0 (not NaN). One division per row, then a multiply per entry."""
    m = jnp.max(scores, axis=-1, keepdims=True)
    e = jnp.exp(scores - jnp.where(jnp.isfinite(m), m, 0.0))  # masked: exp(-inf) = 0
    total = jnp.sum(e, axis=-1, keepdims=True)
    return e * (1 / jnp.where(total > 0, total, 1.0))


@masked_softmax.defjvp
def _masked_softmax_jvp(primals, tangents):
    r"""The softmax Jacobian (chapter 03): $dw = w \odot (ds - \sum_s w\, ds)$. Only $w$
    is kept for the backward pass (not the exponentials, the row sums and the shift that
    differentiating the forward pass would keep); masked entries have $w = 0$ and so no
    tangent, and a fully masked row stays 0."""
    (scores,), (d_scores,) = primals, tangents
    w = masked_softmax(scores)
    return w, w * (d_scores - jnp.sum(w * d_scores, axis=-1, keepdims=True))


def allowed(mask, is_causal, q, k):
    """The keys each query may attend: the mask, and ``s <= t`` when causal (or None)."""
    if not is_causal:
        return mask
    c = causal(q.shape[-2], k.shape[-2])
    return c if mask is None else mask & c


def group_heads(query, key, value, mask):
    """Grouped-query layout without copies: query ``(*B, Hq, T, D)`` as ``(*B, Hkv, G, T,
    D)`` with ``G = Hq / Hkv`` (query head ``h = kv * G + g``), key and value with a group
    axis of 1 that broadcasts, and the mask as ``(*B, Hkv, G, T, S)``."""
    hq, hkv = query.shape[-3], key.shape[-3]
    g = hq // hkv
    q = query.reshape(*query.shape[:-3], hkv, g, *query.shape[-2:])
    k, v = jnp.expand_dims(key, -3), jnp.expand_dims(value, -3)
    if mask is not None:
        full = (*query.shape[:-1], key.shape[-2])
        mask = jnp.broadcast_to(mask, full).reshape(*q.shape[:-1], key.shape[-2])
    return q, k, v, mask


def ungroup_heads(o):
    """``(*B, Hkv, G, T, Dv)`` back to ``(*B, Hq, T, Dv)``."""
    return o.reshape(*o.shape[:-4], o.shape[-4] * o.shape[-3], *o.shape[-2:])
