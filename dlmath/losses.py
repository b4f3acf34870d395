"""Loss functions, each with the formula the book derives for it.

Names and argument names follow optax: ``mse(predictions, targets)``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from dlmath import _checks

__all__ = ["mse"]


@jax.jit
def _mse(predictions, targets):
    return jnp.mean(jnp.square(predictions - targets))


def mse(predictions, targets):
    r"""Mean squared error, averaged over all elements.

    $$\frac{\sum_{i=0}^{N - 1} \left(- {y}_{i} + {\hat{y}}_{i}\right)^{2}}{N}$$

    with $\hat y$ = ``predictions`` and $y$ = ``targets`` flattened to $N$ elements. It is,
    up to constants, the negative log-likelihood of Gaussian noise (derived in
    ``notebooks/01_linear_regression.ipynb``).

    Args:
        predictions: floating array of any shape ``(*B,)``.
        targets: array of the same shape ``(*B,)`` (float or int); never broadcast.

    Returns:
        A scalar: the mean over all ``N`` elements (reduced, unlike optax's
        ``squared_error``, which is elementwise).

    Raises:
        ValueError: if the shapes differ.
        TypeError: if ``predictions`` is not floating, or ``targets`` is not real.
    """
    _checks.require_floating("mse", "predictions", predictions)
    _checks.require_real("mse", "targets", targets)
    _checks.require_same_shape(
        "mse", "predictions", predictions, "targets", targets, "(*B,)",
        "Reshape one of them (e.g. y.reshape(-1)); mse does not broadcast.",
    )
    if _checks.shape_of(predictions) and 0 in _checks.shape_of(predictions):
        raise ValueError("mse: predictions is empty; the mean of no elements is undefined.")
    return _mse(predictions, targets)


# ------------------------------------------------------------------ cross-entropies
# Derived and verified in notebooks/03_cross_entropy.ipynb.

__all__ += [
    "binary_cross_entropy_with_logits",
    "sigmoid_binary_cross_entropy",
    "softmax_cross_entropy",
    "softmax_cross_entropy_with_integer_labels",
]


@jax.custom_jvp
def _bce_with_logits(logits, targets):
    return (jnp.maximum(logits, 0) - logits * targets
            + jnp.log1p(jnp.exp(-jnp.abs(logits))))


@_bce_with_logits.defjvp
def _bce_with_logits_jvp(primals, tangents):
    # d/dz = sigmoid(z) - y (proven in the notebook) and d/dy = -z. Written out because
    # autodiff of max(z, 0) and |z| at z = 0 picks one-sided derivatives (1/2 and 1 in
    # JAX) that add up to -y instead of 1/2 - y.
    z, y = primals
    dz, dy = tangents
    value = _bce_with_logits(z, y)
    return value, (jax.nn.sigmoid(z) - y) * dz - z * dy


def binary_cross_entropy_with_logits(logits, targets):
    r"""Binary cross-entropy of logits against targets, elementwise (not reduced).

    The negative log-likelihood of a Bernoulli model with $P(y = 1) = \sigma(z)$:

    $$- y \log{\left(\frac{1}{1 + e^{- z}} \right)}
    - \left(1 - y\right) \log{\left(1 - \frac{1}{1 + e^{- z}} \right)}$$

    evaluated in the equivalent stable form (proven equal in
    ``notebooks/03_cross_entropy.ipynb``), which never exponentiates a positive number:

    $$- y z + \log{\left(1 + e^{- \left|{z}\right|} \right)} + \max\left(0, z\right)$$

    Its gradient is $\partial\ell/\partial z = \sigma(z) - y$ (also proven there); it is
    supplied as a custom JVP, exact at $z = 0$ and finite for $z = \pm 10^4$ in float32 and
    float16. Same values as ``optax.sigmoid_binary_cross_entropy``, which is also this
    function's other name here (:func:`sigmoid_binary_cross_entropy`).

    Dtypes: the result has JAX's promoted dtype of ``logits`` and ``targets`` (float16
    logits with float32 targets give float32; integer or bool targets take the dtype of
    the logits), the package's rule for functions without parameters.

    Args:
        logits: floating array ``(*B,)``, the logits $z$ (any shape).
        targets: array of the same shape ``(*B,)``: probabilities $y \in [0, 1]$ (float), or
            0/1 labels (int of any width, or bool). Never broadcast.

    Returns:
        ``(*B,)``: one loss per element.

    Raises:
        TypeError: if ``logits`` is not floating or ``targets`` is not real (or bool).
        ValueError: if the shapes differ; integer targets other than 0 and 1 (when they are
            concrete; under ``jit`` such an element's loss is NaN, the package's rule for class
            ids).
    """
    return _checked_bce("binary_cross_entropy_with_logits", logits, targets)


def _checked_bce(who, logits, targets):
    _checks.require_floating(who, "logits", logits)
    t_dtype = _checks.dtype_of(targets, who, "targets")
    if t_dtype != jnp.bool_:
        _checks.require_real(who, "targets", targets)
    _checks.require_same_shape(
        who, "logits", logits, "targets", targets, "(*B,)",
        "Nothing is broadcast; reshape the targets (e.g. y.reshape(logits.shape)).",
    )
    logits = jnp.asarray(logits)
    if jnp.issubdtype(t_dtype, jnp.floating):
        dtype = jnp.result_type(logits, targets)
        return _bce_with_logits(logits.astype(dtype), jnp.asarray(targets).astype(dtype))
    ids = _checks.labels(who, "targets", jnp.asarray(targets).astype(jnp.int32)
                         if t_dtype == jnp.bool_ else targets, 2, _checks.shape_of(logits),
                         "(*B,)", "Integer targets are 0/1 labels of the shape of logits.")
    y = jnp.where((ids == 0) | (ids == 1), ids.astype(logits.dtype), jnp.nan)
    return _bce_with_logits(logits, y)


def sigmoid_binary_cross_entropy(logits, targets):
    r"""optax's name for :func:`binary_cross_entropy_with_logits`: the same loss, values,
    gradient (the custom JVP $\sigma(z) - y$), checks and rules, with this name in its
    error messages. Same as ``optax.sigmoid_binary_cross_entropy(logits, labels)``.

    Args:
        logits: floating array ``(*B,)``. targets: ``(*B,)``, probabilities or 0/1 labels.

    Returns:
        ``(*B,)``: one loss per element (not reduced).

    Raises:
        TypeError, ValueError: as :func:`binary_cross_entropy_with_logits`.
    """
    return _checked_bce("sigmoid_binary_cross_entropy", logits, targets)


@jax.jit
def _softmax_ce(logits, labels):
    from dlmath.activations import log_softmax

    # 0 * log 0 = 0: a class of probability 0 under the labels contributes nothing, even
    # where its logit is -inf (a mask) or its log-probability underflows to -inf (float16
    # at large logits); labels * log_softmax would give 0 * (-inf) = NaN there. The
    # gradient in the logits, softmax(z) sum(y) - y, stays finite: the where sends a zero
    # cotangent into the masked entries. Only -inf log-probabilities under a zero label are
    # replaced, so the gradient in the labels stays -log softmax(z) wherever that is finite.
    log_p = log_softmax(logits, axis=-1)
    log_p = jnp.where((labels == 0) & (log_p == -jnp.inf), jnp.zeros((), log_p.dtype), log_p)
    return 0.0 - jnp.sum(labels * log_p, axis=-1)  # 0.0 - : a loss of 0 prints 0, not -0


def _require_class_axis(who: str, logits) -> None:
    shape = _checks.shape_of(logits)
    if len(shape) == 0 or shape[-1] == 0:
        raise ValueError(
            f"{who}: logits must have shape (*B, K) with K >= 1 classes on the last axis; "
            f"got {_checks.fmt(shape)}."
        )


def softmax_cross_entropy(logits, labels):
    r"""Cross-entropy of the softmax of logits against probability labels, per example.

    $$- \sum_{k=0}^{K - 1} \left(- \log{\left(\sum_{j=0}^{K - 1} e^{{z}_{j}} \right)}
    + {z}_{k}\right) {y}_{k}$$

    that is $-\sum_k y_k \log \operatorname{softmax}(z)_k$, computed with the log-sum-exp
    shift (:func:`dlmath.activations.log_softmax`), so logits of $\pm 10^4$ give a finite
    loss and a finite gradient in float32 and float16. The gradient is
    $\partial\ell/\partial z_k = \operatorname{softmax}(z)_k \sum_j y_j - y_k$, which is
    $\operatorname{softmax}(z)_k - y_k$ when the labels sum to 1 (derived for general $K$
    in ``notebooks/03_cross_entropy.ipynb``). Same values as
    ``optax.softmax_cross_entropy`` for finite log-probabilities.

    A class with label $y_k = 0$ contributes $0$ ($0 \log 0 = 0$), also where its logit is
    $-\infty$ (a mask) or its log-probability underflows (float16 logits of $\pm 6 \cdot
    10^4$): the loss is then the exact one, not $0 \cdot (-\infty) = $ NaN as in optax, and
    the gradient in the logits stays finite.

    Dtypes: JAX's promotion of ``logits`` and ``labels`` (the package's rule for functions
    without parameters).

    Args:
        logits: floating array ``(*B, K)``, classes on the last axis.
        labels: floating array of the same shape ``(*B, K)``, each row a probability vector
            (one-hot or soft). Never broadcast.

    Returns:
        ``(*B,)``: one loss per example (not reduced).

    Raises:
        TypeError: if ``logits`` is not floating, or ``labels`` is not floating (integer class ids
            belong to :func:`softmax_cross_entropy_with_integer_labels`).
        ValueError: if ``logits`` has no class axis or ``labels`` has another shape.
    """
    who = "softmax_cross_entropy"
    _checks.require_floating(who, "logits", logits)
    dt = _checks.dtype_of(labels, who, "labels")
    if not jnp.issubdtype(dt, jnp.floating):
        raise TypeError(
            f"{who}: labels must be probabilities (floating) of the shape of logits (*B, K); "
            f"got labels of dtype {dt} and shape {_checks.fmt(_checks.shape_of(labels))}. "
            "For class ids use softmax_cross_entropy_with_integer_labels."
        )
    _require_class_axis(who, logits)
    _checks.require_same_shape(
        who, "logits", logits, "labels", labels, "(*B, K)",
        "For class ids use softmax_cross_entropy_with_integer_labels.",
    )
    dtype = jnp.result_type(logits, labels)
    return _softmax_ce(jnp.asarray(logits).astype(dtype), jnp.asarray(labels).astype(dtype))


@jax.jit
def _softmax_ce_int(logits, labels):
    # logsumexp(z) - z_c, both shifted by m = max_k z_k: log sum_k e^(z_k - m) - (z_c - m).
    # Subtracting m before the difference keeps float16 exact-ish at large logits (no
    # m + small - z_c cancellation). Only the label's logit is gathered, and m is
    # subtracted after the gather: no (*B, K) array of log-probabilities is formed.
    # labels are int32 here (widened by _checks.labels), so labels < k never overflows.
    k = logits.shape[-1]
    valid = (labels >= 0) & (labels < k)
    safe = jnp.where(valid, labels, 0)
    m = jax.lax.stop_gradient(jnp.max(logits, axis=-1))
    log_normalizer = jnp.log(jnp.sum(jnp.exp(logits - m[..., None]), axis=-1))
    picked = jnp.take_along_axis(logits, safe[..., None], axis=-1)[..., 0] - m
    return jnp.where(valid, log_normalizer - picked, jnp.nan)


def softmax_cross_entropy_with_integer_labels(logits, labels):
    r"""Cross-entropy of the softmax of logits against integer class ids, per example.

    $$\log{\left(\sum_{j=0}^{K - 1} e^{{z}_{j}} \right)} - {z}_{c}$$

    for the class id $c$ = ``labels``: it is :func:`softmax_cross_entropy` with the one-hot
    vector of $c$, without building it. Stable (log-sum-exp), finite for logits of
    $\pm 10^4$ in float32 and float16; gradient $\operatorname{softmax}(z) - e_c$. Same as
    ``optax.softmax_cross_entropy_with_integer_labels`` for ids in range, and as fast; but
    the maximum $m$ is subtracted from $z_c$ *before* the difference,
    $\log\sum_j e^{z_j - m} - (z_c - m)$, so float16 keeps small losses at large logits
    (two equal logits of $10^4$ give $\log 2$; optax's $(m + \log\sum_j e^{z_j-m}) - z_c$
    rounds it to 0).

    Class ids follow the package's one rule (:mod:`dlmath._checks`): integers of any width
    (uint8 ... int64, widened to 32 bits, so ``K >= 256`` classes never overflow); concrete
    ids outside $[0, K)$ raise ``ValueError`` (negative ids are *not* counted from the
    end); under ``jit`` the values are unknown, and an id out of range gives a loss of NaN
    for its example (it shows in any mean) and a zero gradient for its row.

    Args:
        logits: floating array ``(*B, K)``, classes on the last axis.
        labels: integer array ``(*B,)`` of class ids in ``[0, K)``.

    Returns:
        ``(*B,)``: one loss per example (not reduced).

    Raises:
        TypeError: if ``logits`` is not floating or ``labels`` is not an integer array
            (probabilities or one-hot rows belong to :func:`softmax_cross_entropy`).
        ValueError: if ``logits`` has no class axis, ``labels`` is not ``(*B,)``, or a concrete id
            lies outside ``[0, K)``.
    """
    who = "softmax_cross_entropy_with_integer_labels"
    _checks.require_floating(who, "logits", logits)
    _require_class_axis(who, logits)
    shape = _checks.shape_of(logits)
    ids = _checks.labels(
        who, "labels", labels, shape[-1], shape[:-1], "(*B,)",
        "labels are one class id per row of logits (*B, K); for probability or one-hot "
        "labels (*B, K) use softmax_cross_entropy.")
    return _softmax_ce_int(jnp.asarray(logits), ids)
