"""Loss functions, each with the formula the book derives for it, and beside each loss its
gradient written out by hand (``<loss>_gradient``: the gradient in the loss's first
argument, the logits or predictions, reduced as the loss is), which the hand-written
training of :mod:`dlmath.backprop` and :mod:`dlmath.logistic_regression` starts from.

Names and argument names follow optax: ``mse(predictions, targets)``,
``softmax_cross_entropy(logits, labels, axis=-1, where=None)``. Each public function checks
its arguments, then runs its compiled body (:func:`dlmath._checks.checked`), which is its
``.kernel``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero

from dlmath import _checks, _reduce
from dlmath.activations import _shifted_exp, log_softmax, sigmoid, softmax

__all__ = ["mse", "mse_gradient"]


def _mse_check(who: str):
    def check(predictions, targets):
        _checks.predictions_and_targets(who, predictions, targets)
    return check


@_checks.checked(_mse_check("mse"))
def mse(predictions, targets):
    r"""Mean squared error, averaged over all elements.

    $$\frac{\sum_{i=0}^{N - 1} \left(- {y}_{i} + {\hat{y}}_{i}\right)^{2}}{N}$$

    with $\hat y$ = ``predictions`` and $y$ = ``targets`` flattened to $N$ elements. It is,
    up to constants, the negative log-likelihood of Gaussian noise (derived in
    ``notebooks/01_linear_regression.ipynb``). The squares and their sum are formed in at
    least float32 (a float16 residual of 256 would overflow its square) and the mean
    returned in the inputs' dtype; so is the gradient.

    Args:
        predictions: floating array of any shape ``(*B,)``.
        targets: array of the same shape ``(*B,)`` (float or int); never broadcast.

    Returns:
        A scalar: the mean over all ``N`` elements (reduced, unlike optax's
        ``squared_error``, which is elementwise).

    Raises:
        ValueError: if the shapes differ, or there is no element ($N = 0$).
        TypeError: if ``predictions`` is not floating, or ``targets`` is not real.

    Example:
        >>> import jax.numpy as jnp
        >>> from dlmath import losses
        >>> round(float(losses.mse(jnp.array([1.0, 2.0, 3.0]), jnp.array([1.0, 2.0, 5.0]))), 4)
        1.3333
    """
    dtype = jnp.result_type(predictions, targets)
    wide = _reduce.wide(dtype)
    return jnp.mean(jnp.square(predictions.astype(wide) - targets.astype(wide))).astype(dtype)


@_checks.checked(_mse_check("mse_gradient"))
def mse_gradient(predictions, targets):
    r"""The gradient of :func:`mse` in the predictions, written out by hand (not autodiff).

    $$\frac{2 \left(- {y}_{i} + {\hat{y}}_{i}\right)}{N}$$

    for each of the $N$ elements: the mean carries its $1/N$ into every entry.

    Args:
        predictions: floating array ``(*B,)``, $\hat y$.
        targets: real array of the same shape ``(*B,)``, $y$; never broadcast.

    Returns:
        ``(*B,)``, shaped like ``predictions`` (JAX's type promotion of the two dtypes).

    Raises:
        ValueError, TypeError: as :func:`mse`.
    """
    dtype = jnp.result_type(predictions, targets)
    wide = _reduce.wide(dtype)  # 2 (y_hat - y) overflows float16 before the division by N
    residuals = predictions.astype(wide) - targets.astype(wide)
    return (2.0 * residuals / residuals.size).astype(dtype)


# ------------------------------------------------------------------ cross-entropies
# Derived and verified in notebooks/03_cross_entropy.ipynb.

__all__ += [
    "binary_cross_entropy_with_logits",
    "sigmoid_binary_cross_entropy",
    "sigmoid_binary_cross_entropy_gradient",
    "softmax_cross_entropy",
    "softmax_cross_entropy_with_integer_labels",
    "softmax_cross_entropy_with_integer_labels_gradient",
]


def _check_bce(who: str, name: str, logits, y) -> None:
    _checks.require_floating(who, "logits", logits)
    dt = _checks.dtype_of(y, who, name)
    if dt != jnp.bool_:
        _checks.require_real(who, name, y)
    _checks.require_same_shape(
        who, "logits", logits, name, y, "(*B,)",
        f"Nothing is broadcast; reshape the {name} (e.g. y.reshape(logits.shape)).",
    )
    if not jnp.issubdtype(dt, jnp.floating):
        _checks.labels(who, name, jnp.asarray(y).astype(jnp.int32) if dt == jnp.bool_ else y,
                       2, _checks.shape_of(logits), "(*B,)",
                       f"Integer {name} are 0/1 labels of the shape of logits.")


def _as_probabilities(logits, y):
    """``(z, y)`` in one float dtype: float ``y`` as JAX promotes the two; 0/1 ids (int or
    bool) as floats in the logits' dtype, NaN for any other id (possible only under jit)."""
    if jnp.issubdtype(y.dtype, jnp.floating):
        dtype = jnp.result_type(logits, y)
        return logits.astype(dtype), y.astype(dtype)
    ids = _checks.as_ids(y)
    return logits, jnp.where((ids == 0) | (ids == 1), ids.astype(logits.dtype), jnp.nan)


@jax.custom_jvp
def _bce(logits, y):
    return jnp.maximum(logits, 0) - logits * y + jnp.log1p(jnp.exp(-jnp.abs(logits)))


@_bce.defjvp
def _bce_jvp(primals, tangents):
    # d/dz is the hand-written gradient (proven in the notebook) and d/dy = -z. Written out
    # because autodiff of max(z, 0) and |z| at z = 0 picks one-sided derivatives (1/2 and 1
    # in JAX) that add up to -y instead of 1/2 - y.
    z, y = primals
    dz, dy = tangents
    return _bce(z, y), sigmoid_binary_cross_entropy_gradient.kernel(z, y) * dz - z * dy


@_checks.checked(lambda logits, targets: _check_bce(
    "binary_cross_entropy_with_logits", "targets", logits, targets))
def binary_cross_entropy_with_logits(logits, targets):
    r"""Binary cross-entropy of logits against targets, elementwise (not reduced).

    The negative log-likelihood of a Bernoulli model with $P(y = 1) = \sigma(z)$:

    $$- y \log{\left(\frac{1}{1 + e^{- z}} \right)}
    - \left(1 - y\right) \log{\left(1 - \frac{1}{1 + e^{- z}} \right)}$$

    evaluated in the equivalent stable form (proven equal in
    ``notebooks/03_cross_entropy.ipynb``), which never exponentiates a positive number:

    $$- y z + \log{\left(1 + e^{- \left|{z}\right|} \right)} + \max\left(0, z\right)$$

    Its gradient is $\partial\ell/\partial z = \sigma(z) - y$ (also proven there,
    :func:`sigmoid_binary_cross_entropy_gradient`); it is supplied as a custom JVP, exact at
    $z = 0$ and finite for $z = \pm 10^4$ in float32 and float16. Same values as
    ``optax.sigmoid_binary_cross_entropy``, which is also this function's other name here
    (:func:`sigmoid_binary_cross_entropy`, with optax's argument name ``labels``).

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
    return _bce(*_as_probabilities(logits, targets))


@_checks.checked(lambda logits, labels: _check_bce(
    "sigmoid_binary_cross_entropy", "labels", logits, labels))
def sigmoid_binary_cross_entropy(logits, labels):
    r"""optax's name for :func:`binary_cross_entropy_with_logits`, with optax's arguments
    ``(logits, labels)``: the same loss, values, gradient (the custom JVP
    $\sigma(z) - y$), checks and rules, with this name in its error messages. Same as
    ``optax.sigmoid_binary_cross_entropy(logits, labels)``.

    Args:
        logits: floating array ``(*B,)``. labels: ``(*B,)``, probabilities or 0/1 labels.

    Returns:
        ``(*B,)``: one loss per element (not reduced).

    Raises:
        TypeError, ValueError: as :func:`binary_cross_entropy_with_logits`.
    """
    return _bce(*_as_probabilities(logits, labels))


@_checks.checked(lambda logits, labels: _check_bce(
    "sigmoid_binary_cross_entropy_gradient", "labels", logits, labels))
def sigmoid_binary_cross_entropy_gradient(logits, labels):
    r"""The gradient of :func:`sigmoid_binary_cross_entropy` (and of
    :func:`binary_cross_entropy_with_logits`) in the logits, elementwise, by hand:

    $$- y + \frac{1}{1 + e^{- z}}$$

    that is $\sigma(z) - y$ (proven in ``notebooks/03_cross_entropy.ipynb``), with the
    stable :func:`dlmath.activations.sigmoid`. The losses' custom JVP and the hand-written
    gradient of :func:`dlmath.logistic_regression.logistic_gradient` are this function.

    Args:
        logits: floating array ``(*B,)``, $z$.
        labels: ``(*B,)``, probabilities $y$ (float) or 0/1 labels (int of any width, or
            bool); never broadcast.

    Returns:
        ``(*B,)``, one derivative per element, in the loss's dtype (under ``jit`` an integer
        label other than 0 and 1 gives NaN).

    Raises:
        TypeError, ValueError: as :func:`binary_cross_entropy_with_logits`.
    """
    z, y = _as_probabilities(logits, labels)
    return sigmoid.kernel(z) - y


_WHERE_LEGEND = "logits (*B, K), or (*B,) for one flag per example"


def _sce_check(logits, labels, axis=-1, where=None):
    who = "softmax_cross_entropy"
    _checks.require_floating(who, "logits", logits)
    dt = _checks.dtype_of(labels, who, "labels")
    if not jnp.issubdtype(dt, jnp.floating):
        raise TypeError(
            f"{who}: labels must be probabilities (floating) of the shape of logits (*B, K); "
            f"got labels of dtype {dt} and shape {_checks.fmt(_checks.shape_of(labels))}. "
            "For class ids use softmax_cross_entropy_with_integer_labels."
        )
    ax = _checks.class_axis(who, "logits", logits, axis)
    _checks.require_same_shape(
        who, "logits", logits, "labels", labels, "(*B, K)",
        "For class ids use softmax_cross_entropy_with_integer_labels.",
    )
    _checks.where_mask(who, where, _checks.shape_of(logits), _WHERE_LEGEND, axis=ax)


@_checks.checked(_sce_check, static_argnames="axis")
def softmax_cross_entropy(logits, labels, axis: int = -1, where=None):
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

    With ``where`` (optax's argument), only the entries where it is ``True`` take part: they
    form the softmax (:func:`dlmath.activations.log_softmax` with ``where``) and the sum,
    and a row with no entry left costs 0. A mask of shape ``(*B,)`` is one flag per
    example (expanded at ``axis``, as optax does). The values are optax's; the gradients in
    the logits too, and in the labels they are 0 at the masked entries (NaN in optax).

    Dtypes: JAX's promotion of ``logits`` and ``labels`` (the package's rule for functions
    without parameters).

    Args:
        logits: floating array ``(*B, K)``, classes along ``axis``.
        labels: floating array of the same shape ``(*B, K)``, each row a probability vector
            (one-hot or soft). Never broadcast.
        axis: the axis of the ``K`` classes, a Python int (static under ``jit``; optax also
            takes a tuple of axes, dlmath one axis).
        where: ``None``, or a bool mask ``(*B, K)`` or ``(*B,)`` broadcastable to the logits.

    Returns:
        ``(*B,)``: one loss per example (not reduced).

    Raises:
        TypeError: if ``logits`` is not floating, or ``labels`` is not floating (integer class ids
            belong to :func:`softmax_cross_entropy_with_integer_labels`); a ``where`` that is not
            bool.
        ValueError: if ``logits`` has no class axis ``axis`` (or ``K = 0``), ``labels`` has
            another shape, or ``where`` does not broadcast to the logits.

    Example:
        >>> import jax.numpy as jnp
        >>> from dlmath import losses
        >>> logits = jnp.zeros((2, 4))                      # uniform over 4 classes
        >>> labels = jnp.array([[1.0, 0, 0, 0], [0.5, 0.5, 0, 0]])
        >>> [round(float(v), 4) for v in losses.softmax_cross_entropy(logits, labels)]
        [1.3863, 1.3863]
    """
    dtype = jnp.result_type(logits, labels)
    logits, labels = logits.astype(dtype), labels.astype(dtype)
    if where is not None and where.ndim != logits.ndim:   # one flag per example (optax)
        where = jnp.expand_dims(where, axis)
    if where is None:
        return _probability_cross_entropy(logits, labels, axis)
    return _zero_log_zero_cross_entropy(logits, labels, axis, where)


def _zero_log_zero_cross_entropy(logits, labels, axis, where=None):
    r"""$-\sum_k y_k \log \operatorname{softmax}(z)_k$ with $0 \log 0 = 0$."""
    # A class of probability 0 under the labels contributes nothing, even where its logit
    # is -inf (a mask) or its log-probability underflows to -inf (float16 at large logits);
    # labels * log_softmax would give 0 * (-inf) = NaN there. The gradient in the logits,
    # softmax(z) sum(y) - y, stays finite: the where sends a zero cotangent into the
    # dropped entries. Only -inf log-probabilities under a zero label (and masked entries)
    # are replaced, so the gradient in the labels stays -log softmax(z) wherever finite.
    log_p = log_softmax.kernel(logits, axis=axis, where=where)
    drop = (labels == 0) & (log_p == -jnp.inf)
    if where is not None:
        drop = drop | ~where
    log_p = jnp.where(drop, jnp.zeros((), log_p.dtype), log_p)
    return 0.0 - jnp.sum(labels * log_p, axis=axis, where=where)  # 0.0 -: a loss of 0 is not -0


@functools.partial(jax.custom_jvp, nondiff_argnums=(2,))
def _probability_cross_entropy(logits, labels, axis):
    r""":func:`_zero_log_zero_cross_entropy` without a mask, at the speed of the plain sum:
    the `where` that defines 0 log 0 keeps XLA from fusing the log-softmax into the sum
    (``python -m benchmarks --only cross_entropy`` shows the cost), so the plain sum
    $-\sum_k y_k \log p_k$ is taken, and only where it is NaN (a 0 * (-inf), or a NaN in
    the input) is the batch recomputed the careful way."""
    plain = 0.0 - jnp.sum(labels * log_softmax.kernel(logits, axis=axis), axis=axis)
    return _careful_where_nan(plain, logits, labels, axis)


def _careful_where_nan(plain, logits, labels, axis):
    return jax.lax.cond(jnp.any(jnp.isnan(plain)),
                        lambda: _zero_log_zero_cross_entropy(logits, labels, axis),
                        lambda: plain)


def _probability_cross_entropy_jvp(axis, primals, tangents):
    r"""The derived gradient: $\partial/\partial z = \operatorname{softmax}(z) \sum_k y_k - y$
    and $\partial/\partial y_k = -\log p_k$ (0 where $y_k = 0$ and $p_k = 0$). The softmax is
    $e_k / \sum_j e_j$ with the $e = \exp(z - \max z)$ of the log-sum-exp, so the value and
    the gradient take one exponential per entry (``exp(log_p)`` would take a second)."""
    (logits, labels), (d_logits, d_labels) = primals, tangents
    shifted, e, sum_e = _shifted_exp(logits, axis)
    log_p = shifted - jnp.log(sum_e)
    loss = _careful_where_nan(0.0 - jnp.sum(labels * log_p, axis=axis), logits, labels, axis)
    out = jnp.zeros_like(loss)
    if not isinstance(d_logits, SymbolicZero):
        total = jnp.sum(labels, axis=axis, keepdims=True)
        out = out + jnp.sum((e * (total / sum_e) - labels) * d_logits, axis=axis)
    if not isinstance(d_labels, SymbolicZero):
        safe = jnp.where((labels == 0) & (log_p == -jnp.inf), jnp.zeros((), log_p.dtype), log_p)
        out = out - jnp.sum(safe * d_labels, axis=axis)
    return loss, out


_probability_cross_entropy.defjvp(_probability_cross_entropy_jvp, symbolic_zeros=True)


def _ice_check(who: str):
    def check(logits, labels, axis=-1, where=None):
        ax = _checks.logits_and_labels(
            who, logits, labels, axis, hint="labels are one class id per row of logits "
            "(*B, K); for probability or one-hot labels (*B, K) use softmax_cross_entropy.")
        _checks.where_mask(who, where, _checks.shape_of(logits), _WHERE_LEGEND, axis=ax)
    return check


@_checks.checked(_ice_check("softmax_cross_entropy_with_integer_labels"), static_argnames="axis")
def softmax_cross_entropy_with_integer_labels(logits, labels, axis: int = -1, where=None):
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

    With ``where`` (optax's argument), the log-sum-exp runs over the entries where it is
    ``True``, the label's logit is taken as it is, and a row with no entry left costs 0;
    a mask ``(*B,)`` is one flag per example. Values and gradients are optax's.

    Args:
        logits: floating array ``(*B, K)``, classes along ``axis``.
        labels: integer array ``(*B,)`` of class ids in ``[0, K)`` (``(*B,)`` is the shape of
            the logits without ``axis``).
        axis: the axis of the ``K`` classes, a Python int (static under ``jit``; optax also
            takes a tuple of axes, dlmath one axis).
        where: ``None``, or a bool mask ``(*B, K)`` or ``(*B,)`` broadcastable to the logits.

    Returns:
        ``(*B,)``: one loss per example (not reduced).

    Raises:
        TypeError: if ``logits`` is not floating or ``labels`` is not an integer array
            (probabilities or one-hot rows belong to :func:`softmax_cross_entropy`); a ``where``
            that is not bool.
        ValueError: if ``logits`` has no class axis ``axis`` (or ``K = 0``), ``labels`` is not
            ``(*B,)``, a concrete id lies outside ``[0, K)``, or ``where`` does not broadcast.

    Example:
        >>> import jax.numpy as jnp
        >>> from dlmath import losses
        >>> logits = jnp.array([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
        >>> ce = losses.softmax_cross_entropy_with_integer_labels(logits, jnp.array([0, 2]))
        >>> [round(float(v), 4) for v in ce]                # log(1 + 2e^-2), log 3
        [0.2395, 1.0986]
    """
    # logsumexp(z) - z_c, both shifted by m = max_k z_k: log sum_k e^(z_k - m) - (z_c - m).
    # Subtracting m before the difference keeps float16 exact-ish at large logits (no
    # m + small - z_c cancellation). Only the label's logit is gathered, and m is
    # subtracted after the gather: no (*B, K) array of log-probabilities is formed.
    # The ids are widened to 32 bits, so labels < k never overflows.
    labels = _checks.as_ids(labels)
    valid = (labels >= 0) & (labels < logits.shape[axis])
    safe = jnp.expand_dims(jnp.where(valid, labels, 0), axis)
    if where is None:
        m = jax.lax.stop_gradient(jnp.max(logits, axis=axis, keepdims=True))
        shifted = logits - m
    else:
        if where.ndim != logits.ndim:                     # one flag per example (optax)
            where = jnp.expand_dims(where, axis)
        m = jnp.max(logits, axis=axis, where=where, initial=-jnp.inf, keepdims=True)
        m = jax.lax.stop_gradient(jnp.where(jnp.isfinite(m), m, 0))   # a row with nothing left
        shifted = jnp.where(where, logits, -jnp.inf) - m
    log_normalizer = jnp.log(jnp.sum(jnp.exp(shifted), axis=axis, where=where, keepdims=True))
    picked = jnp.take_along_axis(logits, safe, axis=axis) - m
    out = jnp.where(valid, jnp.squeeze(log_normalizer - picked, axis), jnp.nan)
    return out if where is None else jnp.where(jnp.any(where, axis=axis), out, 0.0)


@_checks.checked(_ice_check("softmax_cross_entropy_with_integer_labels_gradient"))
def softmax_cross_entropy_with_integer_labels_gradient(logits, labels):
    r"""The gradient of :func:`softmax_cross_entropy_with_integer_labels` in the logits, per
    example, by hand (classes on the last axis, no mask):

    $$\frac{e^{{z}_{k}}}{\sum_{j=0}^{K - 1} e^{{z}_{j}}} - \delta_{c k}$$

    that is $\operatorname{softmax}(z) - e_c$ (proven for every $K$ in
    ``notebooks/03_cross_entropy.ipynb``), with the stable
    :func:`dlmath.activations.softmax`. The hand-written gradients of
    :mod:`dlmath.backprop` and :mod:`dlmath.logistic_regression` start from it.

    Args:
        logits: floating array ``(*B, K)``, classes on the last axis.
        labels: integer array ``(*B,)`` of class ids in ``[0, K)``.

    Returns:
        ``(*B, K)`` in the dtype of ``logits``; under ``jit`` an id out of range makes its
        row NaN (as its loss is).

    Raises:
        TypeError, ValueError: as :func:`softmax_cross_entropy_with_integer_labels`.
    """
    labels = _checks.as_ids(labels)
    k = logits.shape[-1]
    valid = (labels >= 0) & (labels < k)
    rows = softmax.kernel(logits, axis=-1) - jax.nn.one_hot(labels, k, dtype=logits.dtype)
    return jnp.where(valid[..., None], rows, jnp.nan)


# ------------------------------------------------------------------ label smoothing
__all__ += ["smooth_labels"]


def _check_smooth(labels, alpha) -> None:
    who = "smooth_labels"
    _checks.hyperparameter(who, "alpha", alpha, low=0.0, high=1.0,
                           hint="alpha = 0 keeps the labels, 1 gives the uniform 1/K.")
    _checks.require_floating(who, "labels", labels,
                             "Class ids become one-hot labels with jax.nn.one_hot(ids, K).")
    _checks.class_axis(who, "labels", labels, -1)


@_checks.checked(_check_smooth)
def smooth_labels(labels, alpha):
    r"""Label smoothing: each row of probability labels mixed with the uniform distribution
    over its $K$ classes,

    $$\left(1 - \alpha\right) {y}_{k} + \frac{\alpha}{K}$$

    as ``optax.smooth_labels`` (Szegedy et al.; Müller et al. 2019). A row that sums to 1
    still sums to 1. With it the softmax cross-entropy is
    $(1 - \alpha)\,\mathrm{CE}(z, y) + \alpha\,\mathrm{CE}(z, 1/K)$ (the cross-entropy is
    linear in the labels), the loss of PyTorch's ``cross_entropy(label_smoothing=alpha)``:
    for $\alpha > 0$ the target of a class is at most
    $1 - \alpha + \alpha/K < 1$, so the optimal logits stay finite.

    Args:
        labels: floating ``(*B, K)``, classes on the last axis (one-hot or soft); class ids
            become one-hot rows with ``jax.nn.one_hot(ids, K)``.
        alpha: $\alpha \in [0, 1]$, a real scalar (checked unless traced); 0 returns the
            labels, 1 the uniform $1/K$.

    Returns:
        ``(*B, K)`` in the dtype of ``labels`` (not reduced); an empty batch gives an empty
        result.

    Raises:
        ValueError: ``labels`` a scalar or with no classes ($K = 0$); ``alpha`` outside
            $[0, 1]$ or not finite.
        TypeError: ``labels`` not floating (integer class ids), ``alpha`` not a real number.
    """
    dtype = labels.dtype
    alpha = jnp.asarray(alpha, dtype)
    return ((1 - alpha) * labels + alpha / labels.shape[-1]).astype(dtype)
