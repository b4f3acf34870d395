r"""The reference attention: the causal masks, the weights and scaled dot-product attention
(with grouped-query heads). Legend as :mod:`dlmath.attention`."""

from __future__ import annotations

import jax.numpy as jnp

from dlmath import _checks
from dlmath.attention._core import ALIGNMENTS, causal, group_heads, ungroup_heads
from dlmath.attention._core import allowed as _allowed
from dlmath.attention._core import check_inputs as _check_inputs
from dlmath.attention._core import compute_dtype as _compute_dtype
from dlmath.attention._core import weights as _weights

__all__ = ["causal_mask", "attention_weights", "scaled_dot_product_attention"]


def _check_causal_mask(T, S, *, alignment="top_left") -> None:
    _checks.count("causal_mask", "T", T)
    _checks.count("causal_mask", "S", S)
    _checks.choice("causal_mask", "alignment", alignment, ALIGNMENTS,
                   "top_left is PyTorch's is_causal, bottom_right its causal_lower_right.")


@_checks.checked(_check_causal_mask, static_argnames=("T", "S", "alignment"))
def causal_mask(T: int, S: int, *, alignment: str = "top_left"):
    r"""The causal mask of ``T`` queries over ``S`` keys, ``True`` = may attend.

    ``"top_left"``: query $i$ attends key $j$ when $j \le i$ (PyTorch's ``is_causal=True``,
    ``jax.nn.dot_product_attention``'s ``is_causal``, and ``torch.tril``).
    ``"bottom_right"``: query $i$ attends key $j$ when $j \le S - T + i$ (PyTorch's
    ``causal_lower_right``): the queries are the last $T$ positions of a sequence of $S$,
    as when decoding with a key/value cache. The two agree when $T = S$. With
    ``"bottom_right"`` and $T > S$ the first $T - S$ queries attend nothing (their output is
    0 in :func:`scaled_dot_product_attention`).

    Args:
        T: queries, an int ``>= 0``. S: keys, an int ``>= 0``.
        alignment: ``"top_left"`` or ``"bottom_right"``.

    Returns:
        boolean ``(T, S)``.

    Raises:
        TypeError: ``T`` or ``S`` not an int; ``alignment`` not a string.
        ValueError: ``T`` or ``S`` negative; another ``alignment``.

    Derived in ``notebooks/13_language_models.ipynb``.
    """
    return causal(T, S, alignment)


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


@_checks.checked(lambda query, key, value, mask=None, *, is_causal=False, enable_gqa=False:
                 _check_inputs("scaled_dot_product_attention", query, key, value, mask,
                               is_causal, enable_gqa),
                 static_argnames=("is_causal", "enable_gqa"))
def scaled_dot_product_attention(query, key, value, mask=None, *, is_causal=False,
                                 enable_gqa=False):
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

    Grouped-query attention (``enable_gqa=True``, PyTorch's semantics): axis -3 holds the
    heads, query ``(*B, Hq, T, D)``, key and value ``(*B, Hkv, S, D)`` with $H_{kv}$
    dividing $H_q$; query head $h$ attends with key/value head $\lfloor h / (H_q / H_{kv})
    \rfloor$. The key/value heads are shared by broadcasting, never copied; the result
    equals repeating each key/value head $H_q / H_{kv}$ times (``jnp.repeat(key, Hq // Hkv,
    axis=-3)``) and attending head by head. $H_{kv} = H_q$ is multi-head attention,
    $H_{kv} = 1$ multi-query attention.

    Same result as ``jax.nn.dot_product_attention`` (whose layout is ``(B, T, heads, D)``:
    move the head axis there; it accepts fewer key/value heads the same way) except for a
    fully masked row: jax.nn averages every value there, dlmath returns 0. ``is_causal`` is
    aligned at the top left (:func:`causal_mask`); for the bottom-right alignment pass
    ``causal_mask(T, S, alignment="bottom_right")`` as the mask.

    Args:
        query: floating ``(*B, T, D)`` (``(*B, Hq, T, D)`` with ``enable_gqa``).
        key: floating ``(*B, S, D)`` (``(*B, Hkv, S, D)``).
        value: floating ``(*B, S, Dv)`` (``(*B, Hkv, S, Dv)``).
        mask: boolean, broadcastable to ``(*B, T, S)`` (``(*B, Hq, T, S)``); ``True`` =
            may attend.
        is_causal: query ``t`` attends only keys ``s <= t`` (combined with ``mask``).
        enable_gqa: the grouped-query layout above (a bool, static under ``jit``).

    Returns:
        ``(*B, T, Dv)`` (``(*B, Hq, T, Dv)``) in the promoted dtype of the inputs; a query
        whose keys are all masked gets 0 (and gradient 0), never NaN.

    Raises:
        TypeError: non-floating inputs (integer, bool, complex); a non-boolean mask; ``is_causal``
            or ``enable_gqa`` not a bool.
        ValueError: inputs with fewer than 2 axes (3 with ``enable_gqa``); query and key of
            different feature size ``D``; key and value of different length ``S``; different
            batch axes; ``D = 0``; ``Hkv`` not dividing ``Hq``; a mask that does not broadcast
            to ``(*B, T, S)``.

    Derived in ``notebooks/08_attention.ipynb``; grouped-query attention in
    ``notebooks/13_language_models.ipynb``.
    """
    out_dtype, ct = _compute_dtype(query, key, value)
    q, k, v = (x.astype(ct) for x in (query, key, value))
    if enable_gqa:
        q, k, v, mask = group_heads(q, k, v, mask)
    p = _weights(q, k, _allowed(mask, is_causal, q, k))
    o = jnp.einsum("...ts,...sv->...tv", p, v)
    return (ungroup_heads(o) if enable_gqa else o).astype(out_dtype)
