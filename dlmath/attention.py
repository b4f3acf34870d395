r"""Attention: the scaled dot-product softmax, a blocked kernel, and multi-head attention.

Legend: ``B`` batch axes (any number), ``T`` queries, ``S`` keys (and values), ``D`` the
feature size of queries and keys, ``Dv`` that of values, ``E`` the embedding size of
multi-head attention, ``H`` its number of heads.

* :func:`scaled_dot_product_attention` is the reference: it forms the ``T x S`` scores,
  a stable (max-shifted) softmax along the keys, and the weighted sum of the values.
* :func:`flash_attention` computes the same result block by block over the keys with the
  streaming ("online") softmax, never holding the ``T x S`` matrix; its backward pass
  recomputes the blocks instead of storing them.
* :func:`multi_head_attention` projects, splits into heads, attends and projects back; its
  parameters are two dense layers ``{"in_proj": {"w": (E, 3E), "b": (3E,)}, "out_proj":
  {"w": (E, E), "b": (E,)}}`` (:func:`dlmath.layers.dense`, ``x @ w + b``), named as
  PyTorch's ``nn.MultiheadAttention`` modules; :mod:`dlmath.convert` maps them from
  PyTorch's state_dict and to flax.linen's ``MultiHeadDotProductAttention``.

The transformer block and position encodings built on it are in :mod:`dlmath.transformer`.

Masks are boolean, ``True`` = may attend (as ``jax.nn.dot_product_attention`` and PyTorch's
``F.scaled_dot_product_attention``; the opposite of ``nn.MultiheadAttention``'s boolean
``attn_mask``). A query whose every key is masked gets the output 0 and gradient 0, never
NaN. Each public function checks its inputs once, then runs its compiled kernel; the
functions built on another call its ``.kernel``, so a mask is checked once, by the
function the reader called. Everything is derived in ``notebooks/08_attention.ipynb``.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp

from dlmath import _checks, initializers
from dlmath.layers import dense

__all__ = [
    "attention_weights",
    "scaled_dot_product_attention",
    "flash_attention",
    "multi_head_attention",
    "init_multi_head_attention",
    "multi_head_attention_weights",
]

_QKV_LEGEND = "query (*B, T, D), key (*B, S, D), value (*B, S, Dv)"
_FLAG = "It selects a mask shape and is static under jit."


# ---------------------------------------------------------------- checks


def _check_qkv(who: str, query, key, value):
    """The shared checks of the three inputs; returns (batch, T, S, D, Dv)."""
    for name, x in (("query", query), ("key", key), ("value", value)):
        _checks.require_floating(who, name, x)
        if len(_checks.shape_of(x)) < 2:
            raise ValueError(
                f"{who}: {name} must have at least 2 axes, {_QKV_LEGEND}; got shape "
                f"{_checks.fmt(_checks.shape_of(x))}. A single sequence is (T, D)."
            )
    qs, ks, vs = (_checks.shape_of(x) for x in (query, key, value))
    if qs[-1] != ks[-1]:
        raise ValueError(
            f"{who}: query and key must have the same feature size D, {_QKV_LEGEND}; got "
            f"query {_checks.fmt(qs)}, key {_checks.fmt(ks)}. The scores are dot products "
            "of a query with a key."
        )
    if ks[-2] != vs[-2]:
        raise ValueError(
            f"{who}: key and value must have the same length S, {_QKV_LEGEND}; got key "
            f"{_checks.fmt(ks)}, value {_checks.fmt(vs)}. Each key has one value."
        )
    if not (qs[:-2] == ks[:-2] == vs[:-2]):
        raise ValueError(
            f"{who}: query, key and value must have the same batch axes *B, {_QKV_LEGEND}; "
            f"got query {_checks.fmt(qs)}, key {_checks.fmt(ks)}, value {_checks.fmt(vs)}. "
            "Broadcast them explicitly with jnp.broadcast_to if you mean to share keys."
        )
    if qs[-1] == 0:
        raise ValueError(
            f"{who}: query and key have feature size D = 0 ({_QKV_LEGEND}); the scale "
            "1/sqrt(D) is undefined."
        )
    return qs[:-2], qs[-2], ks[-2], qs[-1], vs[-1]


def _check_inputs(who: str, query, key, value, mask, is_causal):
    """The flag, the three inputs and the mask; returns ``E`` and ``Ev`` (the feature sizes
    of the query and the value)."""
    _checks.require_flag(who, "is_causal", is_causal, _FLAG)
    batch, T, S, E, Ev = _check_qkv(who, query, key, value)
    _checks.require_mask(who, mask, (*batch, T, S))
    return E, Ev


def _compute_dtype(*xs):
    """Inputs' promoted float dtype, and the dtype the softmax runs in (at least float32,
    so float16 and bfloat16 scores never overflow in the exponentials or the sums)."""
    out = jnp.result_type(*xs)
    return out, jnp.promote_types(out, jnp.float32)


def _causal(T: int, S: int):
    """``(T, S)`` boolean: query ``t`` may attend key ``s`` when ``s <= t`` (aligned at the
    top left, as jax.nn and PyTorch)."""
    return jnp.arange(S)[None, :] <= jnp.arange(T)[:, None]


# ---------------------------------------------------------------- the reference


def _weights(q, k, allowed):
    """Stable masked softmax of the scaled scores; rows with no allowed key are 0."""
    scores = jnp.einsum("...td,...sd->...ts", q, k) / math.sqrt(q.shape[-1])
    if scores.shape[-1] == 0:  # no keys at all: every row is fully masked
        return scores
    if allowed is not None:
        scores = jnp.where(allowed, scores, -jnp.inf)
    m = jnp.max(scores, axis=-1, keepdims=True)
    m = jax.lax.stop_gradient(jnp.where(jnp.isfinite(m), m, 0.0))  # the shift cancels
    e = jnp.exp(scores - m)  # masked entries: exp(-inf) = 0
    total = jnp.sum(e, axis=-1, keepdims=True)
    return e / jnp.where(total > 0, total, 1.0)


def _allowed(mask, is_causal, q, k):
    """The keys each query may attend: the mask, and ``s <= t`` when causal (or None)."""
    if not is_causal:
        return mask
    causal = _causal(q.shape[-2], k.shape[-2])
    return causal if mask is None else mask & causal


@_checks.checked(lambda query, key, mask=None, *, is_causal=False: _check_inputs(
    "attention_weights", query, key, key, mask, is_causal), static_argnames=("is_causal",))
def attention_weights(query, key, mask=None, *, is_causal=False):
    r"""The attention weights $P = \mathrm{softmax}(Q K^T / \sqrt{D})$, row by row.

    $$\frac{e^{\frac{\sum_{a=0}^{D - 1} {k}_{j,a} {q}_{i,a}}{\sqrt{D}}}}{\sum_{r=0}^{S -
    1} e^{\frac{\sum_{a=0}^{D - 1} {k}_{r,a} {q}_{i,a}}{\sqrt{D}}}}$$

    Entry $(i, j)$ is the weight of key $j$ for query $i$, from the scores
    $q_i \cdot k_j / \sqrt{D}$ (a sum over the features $a$); the normaliser sums over
    the keys $r$ that the mask allows, and masked entries are 0. Computed in the stable
    form (the row maximum is subtracted first), so scores of $\pm 10^4$ give no overflow.

    Args:
        query: floating ``(*B, T, D)``.
        key: floating ``(*B, S, D)``.
        mask: boolean, broadcastable to ``(*B, T, S)``; ``True`` = may attend.
        is_causal: also mask key ``s > t`` for query ``t``.

    Returns:
        ``(*B, T, S)``: each row sums to 1 over the allowed keys; a row whose keys are all
        masked is 0 (never NaN).

    Raises:
        TypeError: non-floating query or key; a non-boolean mask; ``is_causal`` not a bool.
        ValueError: fewer than 2 axes; different ``D`` or batch axes; ``D = 0``; a mask that does
            not broadcast to ``(*B, T, S)``.

    Derived in ``notebooks/08_attention.ipynb``.
    """
    out_dtype, ct = _compute_dtype(query, key)
    q, k = query.astype(ct), key.astype(ct)
    return _weights(q, k, _allowed(mask, is_causal, q, k)).astype(out_dtype)


@_checks.checked(lambda query, key, value, mask=None, *, is_causal=False: _check_inputs(
    "scaled_dot_product_attention", query, key, value, mask, is_causal),
    static_argnames=("is_causal",))
def scaled_dot_product_attention(query, key, value, mask=None, *, is_causal=False):
    r"""Scaled dot-product attention, $\mathrm{softmax}(Q K^T / \sqrt{D})\, V$.

    $$\frac{\sum_{j=0}^{S - 1} \left(e^{\frac{\sum_{a=0}^{D -
    1} {k}_{j,a} {q}_{i,a}}{\sqrt{D}}}\right) {v}_{j}}{\sum_{r=0}^{S -
    1} e^{\frac{\sum_{a=0}^{D - 1} {k}_{r,a} {q}_{i,a}}{\sqrt{D}}}}$$

    is output $o_i$ of query $i$, for one feature of the values (each is treated alike):
    the values $v_j$ weighted by the softmax of the scores $q_i \cdot k_j / \sqrt{D}$
    (:func:`attention_weights`), the sums over the keys that the mask allows. The scale
    $1/\sqrt{D}$ keeps the scores of unit variance when the entries of $q$ and $k$ are
    independent with variance 1 (the variance of $q \cdot k$ is $D$). The softmax is the
    stable one (row maximum subtracted), computed in at least float32, so scores of
    $\pm 10^4$ in float16 give a finite output and gradient.

    Same result as ``jax.nn.dot_product_attention`` (whose layout is ``(B, T, heads, D)``:
    move the head axis there) except for a fully masked row: jax.nn averages every value
    there, dlmath returns 0.

    Args:
        query: floating ``(*B, T, D)``.
        key: floating ``(*B, S, D)``.
        value: floating ``(*B, S, Dv)``.
        mask: boolean, broadcastable to ``(*B, T, S)``; ``True`` = may attend.
        is_causal: query ``t`` attends only keys ``s <= t`` (combined with ``mask``).

    Returns:
        ``(*B, T, Dv)`` in the promoted dtype of the inputs; a query whose keys are all
        masked gets 0 (and gradient 0), never NaN.

    Raises:
        TypeError: non-floating inputs (integer, bool, complex); a non-boolean mask; ``is_causal``
            not a bool.
        ValueError: inputs with fewer than 2 axes; query and key of different feature size ``D``;
            key and value of different length ``S``; different batch axes; ``D = 0``; a mask that
            does not broadcast to ``(*B, T, S)``.

    Derived in ``notebooks/08_attention.ipynb``.
    """
    out_dtype, ct = _compute_dtype(query, key, value)
    q, k, v = (x.astype(ct) for x in (query, key, value))
    p = _weights(q, k, _allowed(mask, is_causal, q, k))
    return jnp.einsum("...ts,...sv->...tv", p, v).astype(out_dtype)


# ---------------------------------------------------------------- the blocked kernel


def _blocks(x, block_size, n_blocks):
    """``(*B, S, F)`` -> ``(n_blocks, *B, block_size, F)``, zero-padded at the end."""
    pad = n_blocks * block_size - x.shape[-2]
    x = jnp.pad(x, [(0, 0)] * (x.ndim - 2) + [(0, pad), (0, 0)])
    x = x.reshape(*x.shape[:-2], n_blocks, block_size, x.shape[-1])
    return jnp.moveaxis(x, -3, 0)


def _block_allowed(start, T, S, block_size, is_causal):
    """``(T, block_size)``: real keys (not padding), and ``s <= t`` when causal."""
    s = start + jnp.arange(block_size)
    allowed = jnp.broadcast_to(s[None, :] < S, (T, block_size))
    if is_causal:
        allowed = allowed & (s[None, :] <= jnp.arange(T)[:, None])
    return allowed


def _flash_forward(q, k, v, is_causal, block_size):
    """The streaming softmax over key blocks: running max m, running sum l, accumulator."""
    T, S, D = q.shape[-2], k.shape[-2], q.shape[-1]
    n_blocks = -(-S // block_size)
    scale = 1.0 / math.sqrt(D)
    starts = jnp.arange(n_blocks) * block_size

    def step(carry, block):
        m, l, acc = carry
        kj, vj, start = block
        s = jnp.einsum("...td,...sd->...ts", q, kj) * scale
        s = jnp.where(_block_allowed(start, T, S, block_size, is_causal), s, -jnp.inf)
        m_new = jnp.maximum(m, jnp.max(s, axis=-1))
        m_safe = jnp.where(jnp.isfinite(m_new), m_new, 0.0)
        rescale = jnp.exp(m - m_safe)  # e^{m_old - m_new}: 0 while nothing was seen
        p = jnp.exp(s - m_safe[..., None])
        l = l * rescale + jnp.sum(p, axis=-1)
        acc = acc * rescale[..., None] + jnp.einsum("...ts,...sv->...tv", p, vj)
        return (m_new, l, acc), None

    batch = q.shape[:-2]
    init = (jnp.full((*batch, T), -jnp.inf, q.dtype), jnp.zeros((*batch, T), q.dtype),
            jnp.zeros((*batch, T, v.shape[-1]), q.dtype))
    (m, l, acc), _ = jax.lax.scan(
        step, init, (_blocks(k, block_size, n_blocks), _blocks(v, block_size, n_blocks), starts))
    seen = l > 0
    out = acc / jnp.where(seen, l, 1.0)[..., None]
    lse = jnp.where(seen, jnp.where(jnp.isfinite(m), m, 0.0) + jnp.log(jnp.where(seen, l, 1.0)),
                    0.0)
    return out, lse


def _flash_tangent(q, k, v, out, lse, dq, dk, dv, is_causal, block_size):
    """The tangent of the output, block by block, with each block's weights P recomputed
    from the stored log-sum-exp: for the scores' tangent dS = (dQ K^T + Q dK^T) / sqrt(D),
    dO = (P * dS) V + P dV - rowsum(P * dS) O. It is linear in (dQ, dK, dV); its transpose
    (reverse mode) is the backward pass dV = P^T dO, dP = dO V^T,
    dS = P * (dP - rowsum(dO * O)), dQ = dS K / sqrt(D), dK = dS^T Q / sqrt(D). The step is
    rematerialised (``jax.checkpoint``), so the transpose recomputes P from Q, K and the
    log-sum-exp instead of storing a T x S array."""
    T, S, D = q.shape[-2], k.shape[-2], q.shape[-1]
    n_blocks = -(-S // block_size)
    scale = 1.0 / math.sqrt(D)

    @functools.partial(jax.checkpoint, prevent_cse=False)
    def step(carry, block):
        acc, rowsum = carry
        kj, vj, dkj, dvj, start = block
        s = jnp.einsum("...td,...sd->...ts", q, kj) * scale
        allowed = _block_allowed(start, T, S, block_size, is_causal)
        p = jnp.where(allowed, jnp.exp(jnp.where(allowed, s - lse[..., None], 0.0)), 0.0)
        ds = (jnp.einsum("...td,...sd->...ts", dq, kj)
              + jnp.einsum("...td,...sd->...ts", q, dkj)) * scale
        p_ds = p * ds
        acc = (acc + jnp.einsum("...ts,...sv->...tv", p_ds, vj)
               + jnp.einsum("...ts,...sv->...tv", p, dvj))
        return (acc, rowsum + jnp.sum(p_ds, axis=-1)), None

    blocks = tuple(_blocks(x, block_size, n_blocks) for x in (k, v, dk, dv))
    (acc, rowsum), _ = jax.lax.scan(
        step, (jnp.zeros_like(out), jnp.zeros(out.shape[:-1], out.dtype)),
        (*blocks, jnp.arange(n_blocks) * block_size))
    return acc - rowsum[..., None] * out


@functools.partial(jax.custom_jvp, nondiff_argnums=(3, 4))
def _flash(q, k, v, is_causal, block_size):
    return _flash_forward(q, k, v, is_causal, block_size)[0]


@_flash.defjvp
def _flash_jvp(is_causal, block_size, primals, tangents):
    """Forward mode evaluates the blocked tangent; reverse mode transposes it."""
    q, k, v = primals
    out, lse = _flash_forward(q, k, v, is_causal, block_size)
    return out, _flash_tangent(q, k, v, out, lse, *tangents, is_causal, block_size)


def _check_flash(query, key, value, *, is_causal=False, block_size=128) -> None:
    _checks.count("flash_attention", "block_size", block_size, low=1)
    _check_inputs("flash_attention", query, key, value, None, is_causal)


@_checks.checked(_check_flash, static_argnames=("is_causal", "block_size"))
def flash_attention(query, key, value, *, is_causal=False, block_size=128):
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

    Both modes of differentiation work block by block, recomputing each block's weights
    $P$ from the stored $\log \ell + m$ instead of storing them. One rule (a
    ``jax.custom_jvp``) gives the tangent of the output for tangents $dQ, dK, dV$ of the
    inputs: with $dS = (dQ\, K^T + Q\, dK^T) / \sqrt{D}$ the tangent of the scores,
    $dO = (P \odot dS)\, V + P\, dV - \mathrm{rowsum}(P \odot dS) \odot O$. Forward mode
    (``jax.jvp``, ``jax.jacfwd``) evaluates it; reverse mode (``jax.grad``, ``jax.vjp``)
    transposes it into the backward pass $dV = P^T dO$, $dP = dO\, V^T$,
    $dS = P \odot (dP - \mathrm{rowsum}(dO \odot O))$, $dQ = dS\, K / \sqrt{D}$,
    $dK = dS^T Q / \sqrt{D}$, with the same memory.

    Args:
        query: floating ``(*B, T, D)``.
        key: floating ``(*B, S, D)``.
        value: floating ``(*B, S, Dv)``.
        is_causal: query ``t`` attends only keys ``s <= t``.
        block_size: keys per block, an int ``>= 1`` (``S`` need not be a multiple: the last
            block is padded with masked keys; a block larger than ``S`` is cut to ``S``).

    Returns:
        ``(*B, T, Dv)`` in the promoted dtype of the inputs (computed in at least float32).

    Raises:
        TypeError: non-floating inputs; ``is_causal`` not a bool; ``block_size`` not an int.
        ValueError: as :func:`scaled_dot_product_attention`; ``block_size < 1``.

    Derived in ``notebooks/08_attention.ipynb``.
    """
    out_dtype, ct = _compute_dtype(query, key, value)
    S = key.shape[-2]
    if S == 0 or query.shape[-2] == 0:
        return jnp.zeros((*query.shape[:-1], value.shape[-1]), out_dtype)
    q, k, v = (x.astype(ct) for x in (query, key, value))
    return _flash(q, k, v, bool(is_causal), int(min(block_size, S))).astype(out_dtype)


# ---------------------------------------------------------------- multi-head attention


def _shapes(E: int) -> dict:
    """The entries of multi-head attention's parameters: path -> (legend, shape)."""
    return {("in_proj", "w"): ("(E, 3E)", (E, 3 * E)), ("in_proj", "b"): ("(3E,)", (3 * E,)),
            ("out_proj", "w"): ("(E, E)", (E, E)), ("out_proj", "b"): ("(E,)", (E,))}


def _check_mha(who, params, query, key, value, num_heads, mask, is_causal) -> None:
    E, Ev = _check_inputs(who, query, key, value, mask, is_causal)
    if Ev != E:
        raise ValueError(
            f"{who}: value must have the embedding size E of query and key, query (*B, T, E), "
            f"key and value (*B, S, E); got query {_checks.fmt(_checks.shape_of(query))}, "
            f"value {_checks.fmt(_checks.shape_of(value))}."
        )
    _checks.require_shapes(who, "params", params, _shapes(E),
                           f" for inputs of embedding size E = {E}",
                           "Build them with init_multi_head_attention(key, E), or from PyTorch's "
                           "with convert.from_pytorch(state_dict, 'multi_head_attention').")
    _checks.require_divisor(who, "num_heads", num_heads, E, "the embedding size E")


def init_multi_head_attention(key, embed_dim: int, *, dtype=jnp.float32):
    r"""Parameters for :func:`multi_head_attention`, initialised as PyTorch does.

    The kernels are Glorot uniform (:func:`dlmath.initializers.glorot_uniform`),
    $U(-a, a)$ with $a = \sqrt{6 / (\text{fan-in} + \text{fan-out})}$, drawn in PyTorch's
    ``(out, in)`` order and transposed, so a key gives PyTorch's layout of the same numbers;
    the biases are 0.

    Args:
        key: a ``jax.random`` key.
        embed_dim: $E \ge 1$.
        dtype: a floating dtype.

    Returns:
        ``{"in_proj": {"w": (E, 3E), "b": (3E,)}, "out_proj": {"w": (E, E), "b": (E,)}}``.

    Raises:
        TypeError: a missing key; ``embed_dim`` not an int; ``dtype`` not floating.
        ValueError: ``embed_dim < 1``.
    """
    who = "init_multi_head_attention"
    _checks.require_key(who, key, "the kernels")
    _checks.count(who, "embed_dim", embed_dim, low=1)
    _checks.require_float_dtype(who, "dtype", dtype)
    E = embed_dim
    k_in, k_out = jax.random.split(key)
    glorot = initializers.glorot_uniform(in_axis=-1, out_axis=-2, dtype=dtype)
    return {"in_proj": {"w": glorot(k_in, (3 * E, E)).T, "b": jnp.zeros((3 * E,), dtype)},
            "out_proj": {"w": glorot(k_out, (E, E)).T, "b": jnp.zeros((E,), dtype)}}


@_checks.checked(lambda params, query, key, value, num_heads, mask=None, *, is_causal=False:
                 _check_mha("multi_head_attention", params, query, key, value, num_heads, mask,
                            is_causal), static_argnames=("num_heads", "is_causal"))
def multi_head_attention(params, query, key, value, num_heads, mask=None, *, is_causal=False):
    r"""Multi-head attention, with the parameters of PyTorch's ``nn.MultiheadAttention`` as
    two dense layers.

    With $W_q, W_k, W_v$ the three $(E, E)$ column blocks of ``in_proj``'s kernel (and $b_q,
    b_k, b_v$ of its bias): $Q = X_q W_q + b_q$, $K = X_k W_k + b_k$, $V = X_v W_v + b_v$
    (:func:`dlmath.layers.dense`); each is split along its features into $H$ heads of
    $E / H$; head $h$ is $O_h = \mathrm{softmax}(Q_h K_h^T / \sqrt{E/H}) V_h$
    (:func:`scaled_dot_product_attention`); the heads are concatenated and
    $Y = [O_1, \dots, O_H] W_o + b_o$ with ``out_proj``. PyTorch's ``in_proj_weight`` is
    ``in_proj``'s kernel transposed (:func:`dlmath.convert.from_pytorch`).

    Args:
        params: ``{"in_proj": {"w": (E, 3E), "b": (3E,)}, "out_proj": {"w": (E, E), "b":
            (E,)}}``, floating, of one dtype.
        query: floating ``(*B, T, E)``.
        key: floating ``(*B, S, E)``.
        value: floating ``(*B, S, E)``.
        num_heads: $H$, an int that divides ``E``.
        mask: boolean, broadcastable to ``(*B, T, S)``, shared by the heads; ``True`` =
            may attend (PyTorch's ``nn.MultiheadAttention`` uses the opposite convention
            for a boolean ``attn_mask``).
        is_causal: query ``t`` attends only keys ``s <= t``.

    Returns:
        ``(*B, T, E)`` in the parameters' dtype (floating inputs of another dtype are cast
        to it, the package's rule for functions with parameters).

    Raises:
        TypeError: non-floating inputs or parameters, parameters of mixed float dtypes; a
            non-boolean mask; ``num_heads`` not an int.
        ValueError: wrong parameter names or shapes; ``E`` not divisible by ``num_heads``; inputs of
            another embedding size than the parameters; key and value of different lengths;
            different batch axes; a mask that does not broadcast to ``(*B, T, S)``.

    Derived in ``notebooks/08_attention.ipynb``.
    """
    q, k, v = (_heads(params["in_proj"], x, part, num_heads)
               for part, x in enumerate((query, key, value)))
    o = scaled_dot_product_attention.kernel(q, k, v, _heads_mask(mask, query, key),
                                            is_causal=is_causal)
    o = jnp.moveaxis(o, -3, -2).reshape(*query.shape)  # the heads side by side: (*B, T, E)
    return dense.kernel(params["out_proj"], o)


def _heads(in_proj, x, part: int, H: int):
    """Projection ``part`` (0: query, 1: key, 2: value) of ``x (*B, L, E)``, split into
    heads: ``(*B, H, L, E/H)``."""
    E = x.shape[-1]
    block = slice(part * E, (part + 1) * E)
    y = dense.kernel({"w": in_proj["w"][:, block], "b": in_proj["b"][block]}, x)
    return jnp.moveaxis(y.reshape(*y.shape[:-1], H, E // H), -2, -3)


def _heads_mask(mask, query, key):
    """A mask shared by the heads: ``(*B, 1, T, S)`` (or None)."""
    if mask is None:
        return None
    return jnp.expand_dims(jnp.broadcast_to(mask, (*query.shape[:-1], key.shape[-2])), -3)


@_checks.checked(lambda params, query, key, num_heads, mask=None, *, is_causal=False:
                 _check_mha("multi_head_attention_weights", params, query, key, key, num_heads,
                            mask, is_causal), static_argnames=("num_heads", "is_causal"))
def multi_head_attention_weights(params, query, key, num_heads, mask=None, *, is_causal=False):
    r"""The attention weights of every head of :func:`multi_head_attention`:
    $P_h = \mathrm{softmax}(Q_h K_h^T / \sqrt{E/H})$ (:func:`attention_weights` of the
    projected, split query and key), what PyTorch's ``nn.MultiheadAttention`` returns with
    ``need_weights=True, average_attn_weights=False``.

    Args:
        params, query, key, num_heads, mask, is_causal: as :func:`multi_head_attention`
            (the value is not needed).

    Returns:
        ``(*B, H, T, S)`` in the parameters' dtype: row ``t`` of head ``h`` sums to 1 over
        the allowed keys (a row whose keys are all masked is 0).

    Raises:
        TypeError, ValueError: as :func:`multi_head_attention`.

    Derived in ``notebooks/08_attention.ipynb``.
    """
    q, k = _heads(params["in_proj"], query, 0, num_heads), _heads(params["in_proj"], key, 1,
                                                                 num_heads)
    return attention_weights.kernel(q, k, _heads_mask(mask, query, key), is_causal=is_causal)
