r"""Classification metrics: accuracy from logits, the confusion matrix, and the expected
calibration error.

A classifier's scores are logits (or probabilities: both have the same largest entry and
the same sign of $z$ versus $p - 1/2$), ``(*B, K)`` for $K$ classes, ``(*B,)`` for a binary
model. Class ids follow the package's rule (:mod:`dlmath._checks`): integers of any width,
concrete ids outside ``[0, K)`` raise. Each function checks its arguments, then runs its
compiled body, its ``.kernel`` (:func:`dlmath._checks.checked`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from dlmath import _checks, _reduce

__all__ = ["accuracy", "binary_accuracy", "confusion_matrix", "expected_calibration_error"]


def _no_example(who: str, logits, batch: tuple) -> None:
    if 0 in batch:
        raise ValueError(f"{who}: logits {_checks.fmt(_checks.shape_of(logits))} holds no "
                         "example; the accuracy of none is undefined.")


def _accuracy_check(logits, labels):
    _checks.logits_and_labels("accuracy", logits, labels,
                              hint="labels are the class ids of the rows of logits (*B, K).")
    _no_example("accuracy", logits, _checks.shape_of(logits)[:-1])


@_checks.checked(_accuracy_check)
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
    ids = _checks.as_ids(labels)
    return jnp.mean((jnp.argmax(logits, axis=-1) == ids).astype(jnp.float32))


def _binary_accuracy_check(logits, targets):
    who = "binary_accuracy"
    _checks.require_floating(who, "logits", logits)
    if _checks.dtype_of(targets, who, "targets") == jnp.bool_:
        targets = jnp.asarray(targets).astype(jnp.int32)
    _checks.labels(who, "targets", targets, 2, _checks.shape_of(logits), "(*B,)",
                   "targets are 0/1 labels of the shape of logits.")
    _no_example(who, logits, _checks.shape_of(logits))


@_checks.checked(_binary_accuracy_check)
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
    ids = _checks.as_ids(targets)
    return jnp.mean(((logits > 0).astype(jnp.int32) == ids).astype(jnp.float32))


def _confusion_check(labels, predicted, num_classes):
    who = "confusion_matrix"
    _checks.count(who, "num_classes", num_classes, low=1)
    _checks.require_ndim(who, "labels", labels, 1, "(N,)")
    n = _checks.shape_of(labels)[0]
    _checks.labels(who, "labels", labels, num_classes, (n,), "(N,)")
    _checks.labels(who, "predicted", predicted, num_classes, (n,), "(N,)",
                   "predicted must be one id per example, like labels.")


@_checks.checked(_confusion_check, static_argnames="num_classes")
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
    t, p = _checks.as_ids(labels), _checks.as_ids(predicted)
    valid = (t >= 0) & (t < num_classes) & (p >= 0) & (p < num_classes)
    # an invalid pair goes to index K*K, which mode="drop" discards (an id >= K must not
    # spill into the next row of the flattened matrix); ids are int32 here, so t*K + p
    # cannot overflow for any K whose K*K counts fit in memory
    flat = jnp.where(valid, t * num_classes + p, num_classes * num_classes)
    counts = jnp.zeros(num_classes * num_classes, jnp.int32).at[flat].add(1, mode="drop")
    return counts.reshape(num_classes, num_classes)


def _ece_check(logits, labels, num_bins=15):
    who = "expected_calibration_error"
    _checks.count(who, "num_bins", num_bins, low=1)
    _checks.logits_and_labels(who, logits, labels,
                              hint="labels are the class ids of the rows of logits (*B, K).")
    _no_example(who, logits, _checks.shape_of(logits)[:-1])


@_checks.checked(_ece_check, static_argnames="num_bins")
def expected_calibration_error(logits, labels, num_bins: int = 15):
    r"""The expected calibration error of a classifier's softmax confidences, a scalar in
    $[0, 1]$: the examples are put in $M$ = ``num_bins`` bins of equal width by their
    confidence $p_n = \max_k \mathrm{softmax}(z_n)_k$ (bin $b$ holds
    $p_n \in (b/M, (b+1)/M]$), and

    $\mathrm{ECE} = \sum_b \frac{n_b}{N}\,\lvert \mathrm{acc}_b - \mathrm{conf}_b\rvert
    = \frac1N \sum_b \Big\lvert \sum_{n \in b} \big([\arg\max_k z_{nk} = c_n] - p_n\big)
    \Big\rvert$,

    with $n_b$ the examples of bin $b$, $\mathrm{acc}_b$ their accuracy and
    $\mathrm{conf}_b$ their mean confidence (Guo et al., 2017; an empty bin adds 0). A
    model whose confidence matches its accuracy in every bin has ECE 0. The confidence is
    $1/\sum_k e^{z_k - \max z}$, formed in at least float32 (stable for any finite logits);
    the predicted class is the first maximum, as :func:`accuracy`.

    Args:
        logits: floating ``(*B, K)``, scores of the $K$ classes on the last axis (all
            examples of every batch axis count).
        labels: integer class ids ``(*B,)`` in ``[0, K)``.
        num_bins: $M$, a Python int >= 1 (static).

    Returns:
        A float32 scalar.

    Raises:
        TypeError: non-floating logits; non-integer labels; ``num_bins`` not an int.
        ValueError: logits without a class axis; labels not ``(*B,)``; no example at all;
            concrete ids outside ``[0, K)``; ``num_bins`` < 1.
    """
    ids = _checks.as_ids(labels).reshape(-1)
    z = logits.astype(_reduce.wide(logits.dtype)).reshape(-1, logits.shape[-1])
    confidence = 1.0 / jnp.sum(jnp.exp(z - jnp.max(z, axis=-1, keepdims=True)), axis=-1)
    correct = (jnp.argmax(z, axis=-1) == ids).astype(confidence.dtype)
    bins = jnp.clip(jnp.ceil(confidence * num_bins).astype(jnp.int32) - 1, 0, num_bins - 1)
    gap = jax.ops.segment_sum(correct - confidence, bins, num_segments=num_bins)
    ece = jnp.sum(jnp.abs(gap)) / ids.shape[0]
    valid = jnp.all((ids >= 0) & (ids < logits.shape[-1]))  # under jit: NaN for a bad id
    return jnp.where(valid, ece, jnp.nan).astype(jnp.float32)
