r"""Classification metrics: accuracy from logits, and the confusion matrix.

A classifier's scores are logits (or probabilities: both have the same largest entry and
the same sign of $z$ versus $p - 1/2$), ``(*B, K)`` for $K$ classes, ``(*B,)`` for a binary
model. Class ids follow the package's rule (:mod:`dlmath._checks`): integers of any width,
concrete ids outside ``[0, K)`` raise.
"""

from __future__ import annotations

import jax.numpy as jnp

from dlmath import _checks

__all__ = ["accuracy", "binary_accuracy", "confusion_matrix"]


def accuracy(logits, labels):
    r"""Share of examples whose largest logit is the label, a scalar in $[0, 1]$ (reduced).

    $\frac1N \sum_n [\arg\max_k z_{nk} = c_n]$, the first maximum winning a tie (as
    ``jnp.argmax``). Probabilities give the same result as their logits.

    Args:
        logits: floating ``(*B, K)``, scores of the $K$ classes on the last axis.
        labels: integer class ids ``(*B,)`` in ``[0, K)``.

    Returns:
        A float32 scalar.

    Raises:
        TypeError: non-floating logits; non-integer labels.
        ValueError: logits without a class axis; labels not ``(*B,)``; no example at all; concrete
            ids outside ``[0, K)``.
    """
    who = "accuracy"
    _checks.require_floating(who, "logits", logits)
    s = _checks.shape_of(logits)
    if len(s) == 0 or s[-1] == 0:
        raise ValueError(f"{who}: logits must have shape (*B, K) with K >= 1 classes; got "
                         f"{_checks.fmt(s)}. For one logit per example use binary_accuracy.")
    ids = _checks.labels(who, "labels", labels, s[-1], s[:-1], "(*B,)",
                         "labels are the class ids of the rows of logits (*B, K).")
    if 0 in s[:-1]:
        raise ValueError(f"{who}: logits {_checks.fmt(s)} holds no example; the accuracy of "
                         "none is undefined.")
    return jnp.mean((jnp.argmax(jnp.asarray(logits), axis=-1) == ids).astype(jnp.float32))


def binary_accuracy(logits, targets):
    r"""Share of examples with $[z_n > 0] = y_n$ (the model's $P(y = 1) = \sigma(z) > 1/2$),
    a scalar in $[0, 1]$.

    Args:
        logits: floating ``(*B,)``, one logit per example.
        targets: ``(*B,)`` of 0/1 (int or bool).

    Returns:
        A float32 scalar.

    Raises:
        TypeError: non-floating logits; targets that are not ints or bools.
        ValueError: shapes that differ; no example; concrete targets other than 0 and 1.
    """
    who = "binary_accuracy"
    _checks.require_floating(who, "logits", logits)
    s = _checks.shape_of(logits)
    t = targets
    if _checks.dtype_of(t, who, "targets") == jnp.bool_:
        t = jnp.asarray(t).astype(jnp.int32)
    ids = _checks.labels(who, "targets", t, 2, s, "(*B,)",
                         "targets are 0/1 labels of the shape of logits.")
    if 0 in s:
        raise ValueError(f"{who}: logits {_checks.fmt(s)} holds no example; the accuracy of "
                         "none is undefined.")
    return jnp.mean(((jnp.asarray(logits) > 0).astype(jnp.int32) == ids).astype(jnp.float32))


def confusion_matrix(labels, predicted, num_classes: int):
    r"""Counts $C_{ij}$ of examples of true class $i$ predicted as class $j$, ``(K, K)``
    (rows: truth, columns: prediction, as scikit-learn). $\operatorname{tr} C / N$ is the
    accuracy.

    Args:
        labels: ``(N,)`` true class ids. predicted: ``(N,)`` predicted ids (e.g.
            ``argmax(logits, axis=-1)``). Integers of any width.
        num_classes: $K \ge 1$.

    Returns:
        ``(K, K)`` int32 counts.

    Raises:
        TypeError: ids that are not integers; ``num_classes`` not an int.
        ValueError: shapes other than ``(N,)`` and ``(N,)``; ``num_classes < 1``; concrete ids
            outside ``[0, K)``. Under ``jit`` the values are unknown: an example with an id out of
            range is then left out of the counts (never counted in another cell).
    """
    who = "confusion_matrix"
    _checks.count(who, "num_classes", num_classes, low=1)
    _checks.require_ndim(who, "labels", labels, 1, "(N,)")
    n = _checks.shape_of(labels)[0]
    t = _checks.labels(who, "labels", labels, num_classes, (n,), "(N,)")
    p = _checks.labels(who, "predicted", predicted, num_classes, (n,), "(N,)",
                       "predicted must be one id per example, like labels.")
    valid = (t >= 0) & (t < num_classes) & (p >= 0) & (p < num_classes)
    # an invalid pair goes to index K*K, which mode="drop" discards (an id >= K must not
    # spill into the next row of the flattened matrix); ids are int32 here, so t*K + p
    # cannot overflow for any K whose K*K counts fit in memory
    flat = jnp.where(valid, t * num_classes + p, num_classes * num_classes)
    counts = jnp.zeros(num_classes * num_classes, jnp.int32).at[flat].add(1, mode="drop")
    return counts.reshape(num_classes, num_classes)
