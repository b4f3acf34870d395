r"""The blocked ("flash") attention kernel: the streaming softmax over key blocks, and, when
causal, over query blocks too, each visiting only the key blocks at or below the diagonal.
Legend as :mod:`dlmath.attention`."""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp

from dlmath import _checks
from dlmath.attention._core import check_inputs as _check_inputs
from dlmath.attention._core import compute_dtype as _compute_dtype
from dlmath.attention._core import group_heads, ungroup_heads

__all__ = ["flash_attention"]


def _blocks(x, block_size, n_blocks):
    """``(*B, S, F)`` -> ``(n_blocks, *B, block_size, F)``, zero-padded at the end."""
    pad = n_blocks * block_size - x.shape[-2]
    x = jnp.pad(x, [(0, 0)] * (x.ndim - 2) + [(0, pad), (0, 0)])
    x = x.reshape(*x.shape[:-2], n_blocks, block_size, x.shape[-1])
    return jnp.moveaxis(x, -3, 0)


def _unblock(x, length):
    """``(n_blocks, *B, block_size, F)`` -> ``(*B, length, F)`` (the padding cut off)."""
    x = jnp.moveaxis(x, 0, -3)
    return x.reshape(*x.shape[:-3], -1, x.shape[-1])[..., :length, :]


def _block_allowed(start, q_pos, S, block_size, is_causal):
    """``(Tq, block_size)``: real keys (not padding), and ``s <= t`` when causal."""
    s = start + jnp.arange(block_size)
    allowed = jnp.broadcast_to(s[None, :] < S, (q_pos.shape[0], block_size))
    if is_causal:
        allowed = allowed & (s[None, :] <= q_pos[:, None])
    return allowed


def _stream(q, q_pos, kb, vb, S, n_kv, is_causal, block_size):
    """The streaming softmax of queries ``q`` (positions ``q_pos``) over the key blocks
    ``0 .. n_kv - 1`` (a loop bound: blocks past it are never visited): running max m,
    running sum l, accumulator; returns the output and the log-sum-exp."""
    T, scale = q.shape[-2], 1.0 / math.sqrt(q.shape[-1])

    def body(j, carry):
        m, l, acc = carry
        s = jnp.einsum("...td,...sd->...ts", q, kb[j]) * scale
        s = jnp.where(_block_allowed(j * block_size, q_pos, S, block_size, is_causal), s,
                      -jnp.inf)
        m_new = jnp.maximum(m, jnp.max(s, axis=-1))
        m_safe = jnp.where(jnp.isfinite(m_new), m_new, 0.0)
        rescale = jnp.exp(m - m_safe)  # e^{m_old - m_new}: 0 while nothing was seen
        p = jnp.exp(s - m_safe[..., None])
        l = l * rescale + jnp.sum(p, axis=-1)
        acc = acc * rescale[..., None] + jnp.einsum("...ts,...sv->...tv", p, vb[j])
        return m_new, l, acc

    batch = jnp.broadcast_shapes(q.shape[:-2], kb.shape[1:-2])
    init = (jnp.full((*batch, T), -jnp.inf, q.dtype), jnp.zeros((*batch, T), q.dtype),
            jnp.zeros((*batch, T, vb.shape[-1]), q.dtype))
    m, l, acc = jax.lax.fori_loop(0, n_kv, body, init)
    seen = l > 0
    out = acc / jnp.where(seen, l, 1.0)[..., None]
    lse = jnp.where(seen, jnp.where(jnp.isfinite(m), m, 0.0) + jnp.log(jnp.where(seen, l, 1.0)),
                    0.0)
    return out, lse


def _flash_forward(q, k, v, is_causal, block_size):
    """Not causal: all queries at once over every key block. Causal: query block ``i``
    visits key blocks ``0 .. i`` only (the blocks above the diagonal are skipped)."""
    T, S = q.shape[-2], k.shape[-2]
    n_blocks = -(-S // block_size)
    kb, vb = _blocks(k, block_size, n_blocks), _blocks(v, block_size, n_blocks)
    if not is_causal:
        return _stream(q, jnp.arange(T), kb, vb, S, n_blocks, False, block_size)
    n_q = -(-T // block_size)

    def one(i_qi):
        i, qi = i_qi
        return _stream(qi, i * block_size + jnp.arange(block_size), kb, vb, S,
                       jnp.minimum(n_blocks, i + 1), True, block_size)

    out, lse = jax.lax.map(one, (jnp.arange(n_q), _blocks(q, block_size, n_q)))
    return _unblock(out, T), _unblock(lse[..., None], T)[..., 0]


def _tangent_rows(q, q_pos, out, lse, dq, blocks, S, is_causal, block_size):
    """dO for the queries ``q``, block by block over the keys (causal: a block above the
    diagonal is skipped by a ``lax.cond``, whose transpose skips it as well)."""
    scale = 1.0 / math.sqrt(q.shape[-1])

    def work(carry, kj, vj, dkj, dvj, start):
        acc, rowsum = carry
        s = jnp.einsum("...td,...sd->...ts", q, kj) * scale
        allowed = _block_allowed(start, q_pos, S, block_size, is_causal)
        p = jnp.where(allowed, jnp.exp(jnp.where(allowed, s - lse[..., None], 0.0)), 0.0)
        ds = (jnp.einsum("...td,...sd->...ts", dq, kj)
              + jnp.einsum("...td,...sd->...ts", q, dkj)) * scale
        p_ds = p * ds
        acc = (acc + jnp.einsum("...ts,...sv->...tv", p_ds, vj)
               + jnp.einsum("...ts,...sv->...tv", p, dvj))
        return acc, rowsum + jnp.sum(p_ds, axis=-1)

    @functools.partial(jax.checkpoint, prevent_cse=False)
    def step(carry, block):
        if not is_causal:
            return work(carry, *block), None
        return jax.lax.cond(block[-1] <= q_pos[-1], lambda c: work(c, *block),
                            lambda c: c, carry), None

    (acc, rowsum), _ = jax.lax.scan(
        step, (jnp.zeros_like(out), jnp.zeros(out.shape[:-1], out.dtype)), blocks)
    return acc - rowsum[..., None] * out


def _flash_tangent(q, k, v, out, lse, dq, dk, dv, is_causal, block_size):
    """The tangent of the output, block by block, with each block's weights P recomputed
    from the stored log-sum-exp: for the scores' tangent dS = (dQ K^T + Q dK^T) / sqrt(D),
    dO = (P * dS) V + P dV - rowsum(P * dS) O. It is linear in (dQ, dK, dV); its transpose
    (reverse mode) is the backward pass dV = P^T dO, dP = dO V^T,
    dS = P * (dP - rowsum(dO * O)), dQ = dS K / sqrt(D), dK = dS^T Q / sqrt(D). The step is
    rematerialised (``jax.checkpoint``), so the transpose recomputes P from Q, K and the
    log-sum-exp instead of storing a T x S array."""
    T, S = q.shape[-2], k.shape[-2]
    n_blocks = -(-S // block_size)
    blocks = (*(_blocks(x, block_size, n_blocks) for x in (k, v, dk, dv)),
              jnp.arange(n_blocks) * block_size)
    if not is_causal:
        return _tangent_rows(q, jnp.arange(T), out, lse, dq, blocks, S, False, block_size)
    n_q = -(-T // block_size)

    def one(rows):
        i, qi, oi, li, dqi = rows
        return _tangent_rows(qi, i * block_size + jnp.arange(block_size), oi, li[..., 0], dqi,
                             blocks, S, True, block_size)

    rows = (jnp.arange(n_q), *(_blocks(x, block_size, n_q) for x in (q, out, lse[..., None],
                                                                      dq)))
    return _unblock(jax.lax.map(one, rows), T)


@functools.partial(jax.custom_jvp, nondiff_argnums=(3, 4))
def _flash(q, k, v, is_causal, block_size):
    return _flash_forward(q, k, v, is_causal, block_size)[0]


@_flash.defjvp
def _flash_jvp(is_causal, block_size, primals, tangents):
    """Forward mode evaluates the blocked tangent; reverse mode transposes it."""
    q, k, v = primals
    out, lse = _flash_forward(q, k, v, is_causal, block_size)
    return out, _flash_tangent(q, k, v, out, lse, *tangents, is_causal, block_size)


def _check_flash(query, key, value, *, is_causal=False, block_size=128,
                 enable_gqa=False) -> None:
    _checks.count("flash_attention", "block_size", block_size, low=1)
    _check_inputs("flash_attention", query, key, value, None, is_causal, enable_gqa)


@_checks.checked(_check_flash, static_argnames=("is_causal", "block_size", "enable_gqa"))
def flash_attention(query, key, value, *, is_causal=False, block_size=128, enable_gqa=False):
    r"""Scaled dot-product attention computed block by block over the keys, without ever
    forming the ``T x S`` score matrix.

    The keys and values are split into blocks of ``block_size``. For each query the kernel
    keeps a running maximum $m$, a running sum $\ell = \sum e^{S_{ts} - m}$ over the keys
    seen so far and an accumulator $a = \sum e^{S_{ts} - m} v_s$; a new block with scores
    $x_0, \dots, x_{n-1}$ updates $m' = \max(m, \max_j x_j)$ and the sum to $\ell'$ =

    $$\ell e^{m - m'} + \sum_{j=0}^{n - 1} e^{- m' + {x}_{j}}$$

    $a' = a e^{m - m'} + \sum_j e^{x_j - m'} v_j$, and after the last block $o_t = a / \ell$,
    equal to :func:`scaled_dot_product_attention` (the streaming softmax, proven in the
    chapter). Memory per step is ``O(T * block_size)``.

    Causal (``is_causal=True``, top-left aligned): the queries are split into blocks of
    ``block_size`` too, and query block $i$ loops over the key blocks $0, \dots, i$ only (a
    ``lax`` loop bound, not a mask): a block whose keys all lie after the block's last query
    is never computed. With $n$ blocks on each side that is $n(n + 1)/2$ of the $n^2$
    (query block, key block) pairs, each costing $2 b^2 (D + D_v)$ FLOPs for the scores and
    the weighted values ($b$ the block size), so about half the work for long sequences.

    Both modes of differentiation work block by block, recomputing each block's weights
    $P$ from the stored $\log \ell + m$ instead of storing them. One rule (a
    ``jax.custom_jvp``) gives the tangent of the output for tangents $dQ, dK, dV$ of the
    inputs: with $dS = (dQ\, K^T + Q\, dK^T) / \sqrt{D}$ the tangent of the scores,
    $dO = (P \odot dS)\, V + P\, dV - \mathrm{rowsum}(P \odot dS) \odot O$. Forward mode
    (``jax.jvp``, ``jax.jacfwd``) evaluates it; reverse mode (``jax.grad``, ``jax.vjp``)
    transposes it into the backward pass $dV = P^T dO$, $dP = dO\, V^T$,
    $dS = P \odot (dP - \mathrm{rowsum}(dO \odot O))$, $dQ = dS\, K / \sqrt{D}$,
    $dK = dS^T Q / \sqrt{D}$, with the same memory (causal: the blocks above the diagonal
    are skipped there too).

    Args:
        query: floating ``(*B, T, D)`` (``(*B, Hq, T, D)`` with ``enable_gqa``).
        key: floating ``(*B, S, D)`` (``(*B, Hkv, S, D)``).
        value: floating ``(*B, S, Dv)`` (``(*B, Hkv, S, Dv)``).
        is_causal: query ``t`` attends only keys ``s <= t``.
        block_size: keys (and, when causal, queries) per block, an int ``>= 1`` (``S`` need
            not be a multiple: the last block is padded with masked keys; a block larger than
            ``S`` is cut to ``S``).
        enable_gqa: grouped-query heads, as :func:`scaled_dot_product_attention`.

    Returns:
        ``(*B, T, Dv)`` (``(*B, Hq, T, Dv)``) in the promoted dtype of the inputs (computed
        in at least float32).

    Raises:
        TypeError: non-floating inputs; ``is_causal`` or ``enable_gqa`` not a bool;
            ``block_size`` not an int.
        ValueError: as :func:`scaled_dot_product_attention`; ``block_size < 1``.

    Derived in ``notebooks/08_attention.ipynb``; the causal block skipping in
    ``notebooks/13_language_models.ipynb``.
    """
    out_dtype, ct = _compute_dtype(query, key, value)
    S = key.shape[-2]
    if S == 0 or query.shape[-2] == 0:
        return jnp.zeros((*query.shape[:-1], value.shape[-1]), out_dtype)
    q, k, v = (x.astype(ct) for x in (query, key, value))
    if enable_gqa:
        q, k, v, _ = group_heads(q, k, v, None)
    o = _flash(q, k, v, bool(is_causal), int(min(block_size, S)))
    return (ungroup_heads(o) if enable_gqa else o).astype(out_dtype)
