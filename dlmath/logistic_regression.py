r"""Logistic (binary) and softmax (multinomial) regression: a linear map to logits, a
cross-entropy loss, its gradient written out by hand, and jit-compiled gradient descent.

Shapes (legend letters): ``X: (N, D)`` features, ``N`` examples, ``K`` classes.

* Binary: ``params = (w, b)`` with ``w: (D,)``, ``b: ()``; logits $z = Xw + b$,
  probabilities $p = \sigma(z)$, targets ``y: (N,)`` in $\{0, 1\}$ (or $[0, 1]$).
* Multinomial: ``params = (W, b)`` with ``W: (D, K)``, ``b: (K,)``; logits $Z = XW + b$,
  probabilities $P = \operatorname{softmax}(Z)$ row by row, ``labels: (N,)`` class ids.

The loss is the mean cross-entropy plus an optional L2 penalty $\frac{\lambda}{2}\lVert w
\rVert^2$ on the weights (not on the bias), as scikit-learn's ``LogisticRegression``
with ``C = 1 / (N \lambda)``. Derived in ``notebooks/03_cross_entropy.ipynb``.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from dlmath import _checks
from dlmath.activations import softmax
from dlmath.losses import (
    binary_cross_entropy_with_logits,
    softmax_cross_entropy_with_integer_labels,
)

__all__ = [
    "logistic_predict",
    "logistic_loss",
    "logistic_gradient",
    "train_logistic",
    "softmax_predict",
    "softmax_loss",
    "softmax_gradient",
    "train_softmax",
    "accuracy",
    "confusion_matrix",
]


# ------------------------------------------------------------------ checks


def _check_X(who, X):
    _checks.require_floating(who, "X", X)
    _checks.require_ndim(who, "X", X, 2, "(N, D)", "Flatten images first, e.g. x.reshape(N, -1).")
    return _checks.shape_of(X)


def _check_params(who, params, X, multiclass: bool):
    n, d = _check_X(who, X)
    if not (isinstance(params, (tuple, list)) and len(params) == 2):
        want = "(W, b) with W (D, K), b (K,)" if multiclass else "(w, b) with w (D,), b ()"
        raise TypeError(f"{who}: params must be a pair {want}; got {type(params).__name__}.")
    w, b = params
    _checks.require_floating(who, "params[0]", w)
    _checks.require_floating(who, "params[1]", b)
    ws, bs = _checks.shape_of(w), _checks.shape_of(b)
    if multiclass:
        if len(ws) != 2 or ws[0] != d or bs != ws[1:]:
            raise ValueError(
                f"{who}: params must be (W, b) with W (D, K) and b (K,), D = {d} to match X "
                f"(N, D) = ({n}, {d}); got W {_checks.fmt(ws)}, b {_checks.fmt(bs)}."
            )
    elif ws != (d,) or bs != ():
        raise ValueError(
            f"{who}: params must be (w, b) with w (D,) = ({d},) to match X (N, D) = ({n}, {d}) "
            f"and a scalar b (); got w {_checks.fmt(ws)}, b {_checks.fmt(bs)}."
        )
    return n, d


def _check_targets(who, y, n):
    if _checks.dtype_of(y, who, "y") != jnp.bool_:
        _checks.require_real(who, "y", y)
    if _checks.shape_of(y) != (n,):
        raise ValueError(
            f"{who}: y must have shape (N,) = ({n},) to match X; got y "
            f"{_checks.fmt(_checks.shape_of(y))}. A column (N, 1) needs y.reshape(-1)."
        )


def _check_labels(who, labels, n):
    dt = _checks.dtype_of(labels, who, "labels")
    if not jnp.issubdtype(dt, jnp.integer):
        raise TypeError(
            f"{who}: labels must be integer class ids (N,); got dtype {dt}. "
            "Convert with labels.astype(jnp.int32)."
        )
    if _checks.shape_of(labels) != (n,):
        raise ValueError(
            f"{who}: labels must have shape (N,) = ({n},) to match X; got labels "
            f"{_checks.fmt(_checks.shape_of(labels))}."
        )


def _check_run(who, learning_rate, steps, l2):
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"{who}: steps must be an int >= 0; got {steps!r}.")
    for name, v in (("learning_rate", learning_rate), ("l2", l2)):
        if isinstance(v, (int, float)) and v < 0:
            raise ValueError(f"{who}: {name} must be >= 0; got {v}.")


# ------------------------------------------------------------------ binary


def _logistic_logits(params, X):
    w, b = params
    return X @ w + b


@jax.jit
def _logistic_loss(params, X, y, l2):
    z = _logistic_logits(params, X)
    bce = binary_cross_entropy_with_logits(z, y.astype(z.dtype))
    return jnp.mean(bce) + 0.5 * l2 * jnp.sum(jnp.square(params[0]))


@jax.jit
def _logistic_gradient(params, X, y, l2):
    w, _ = params
    r = jax.nn.sigmoid(_logistic_logits(params, X)) - y.astype(X.dtype)
    n = X.shape[0]
    return (X.T @ r / n + l2 * w, jnp.sum(r) / n)


def logistic_predict(params, X):
    r"""Probabilities $p = \sigma(Xw + b)$ of class 1, ``(N,)``.

    Args:
        params: ``(w, b)``, ``w: (D,)``, ``b: ()``. X: ``(N, D)``.

    Raises:
        ValueError / TypeError: for shapes or dtypes that do not fit.
    """
    _check_params("logistic_predict", params, X, False)
    return jax.nn.sigmoid(_logistic_logits(params, X))


def logistic_loss(params, X, y, l2=0.0):
    r"""Mean binary cross-entropy of $\sigma(Xw + b)$ against ``y``, plus
    $\frac{\lambda}{2}\lVert w\rVert^2$; a scalar.

    Uses :func:`dlmath.losses.binary_cross_entropy_with_logits` (stable for any logit).

    Args:
        params: ``(w, b)``. X: ``(N, D)``. y: ``(N,)`` targets in ``[0, 1]`` (float, int or
            bool). l2: $\lambda \ge 0$.

    Raises:
        ValueError / TypeError: for shapes or dtypes that do not fit.
    """
    n, _ = _check_params("logistic_loss", params, X, False)
    _check_targets("logistic_loss", y, n)
    return _logistic_loss(params, X, jnp.asarray(y), l2)


def logistic_gradient(params, X, y, l2=0.0):
    r"""Gradient of :func:`logistic_loss`, written out by hand (not autodiff).

    $$\lambda w + \frac{1}{N} X^{T} \left(p - y\right)$$

    $$\frac{\sum_{i=0}^{N - 1} \left({p}_{i} - {y}_{i}\right)}{N}$$

    with $p = \sigma(Xw + b)$: the per-example gradient $\sigma(z_i) - y_i$ of the binary
    cross-entropy with respect to its logit, carried back through $z = Xw + b$ (proven for
    every $N \times D$ in ``notebooks/03_cross_entropy.ipynb``).

    Args:
        params: ``(w, b)``. X: ``(N, D)``. y: ``(N,)``. l2: $\lambda \ge 0$.

    Returns:
        ``(grad_w, grad_b)`` with shapes ``(D,)`` and ``()``.

    Raises:
        ValueError / TypeError: for shapes or dtypes that do not fit.
    """
    n, _ = _check_params("logistic_gradient", params, X, False)
    _check_targets("logistic_gradient", y, n)
    return _logistic_gradient(params, X, jnp.asarray(y), l2)


@partial(jax.jit, static_argnames=("gradient", "loss", "steps"))
def _descend(gradient, loss, params, X, y, learning_rate, steps, l2):
    """``steps`` updates p <- p - lr * gradient(p) in one scan; the loss before each update
    and after the last."""

    def step(p, _):
        g = gradient(p, X, y, l2)
        new = jax.tree_util.tree_map(lambda a, ga: a - learning_rate * ga, p, g)
        return new, loss(p, X, y, l2)

    final, history = jax.lax.scan(step, params, None, length=steps)
    return final, jnp.concatenate([history, loss(final, X, y, l2)[None]])


def train_logistic(params, X, y, learning_rate, steps: int, l2=0.0):
    r"""Full-batch gradient descent on :func:`logistic_loss` with the hand-written
    :func:`logistic_gradient`, one ``jit``-compiled ``lax.scan``.

    Args:
        params: ``(w, b)`` start. X: ``(N, D)``. y: ``(N,)``.
        learning_rate: $\eta > 0$. steps: number of updates $T$ (static). l2: $\lambda$.

    Returns:
        ``(params, losses)``: the final ``(w, b)`` and the loss history ``(T + 1,)``,
        ``losses[t]`` being the loss before update ``t`` (the last: after all updates).

    Raises:
        ValueError / TypeError: for shapes, dtypes, ``steps < 0``, negative rates.
    """
    n, _ = _check_params("train_logistic", params, X, False)
    _check_targets("train_logistic", y, n)
    _check_run("train_logistic", learning_rate, steps, l2)
    return _descend(_logistic_gradient, _logistic_loss, tuple(params), X,
                    jnp.asarray(y).astype(X.dtype), learning_rate, steps, l2)


# ------------------------------------------------------------------ multinomial


def _softmax_logits(params, X):
    W, b = params
    return X @ W + b


@jax.jit
def _softmax_loss(params, X, labels, l2):
    ce = softmax_cross_entropy_with_integer_labels(_softmax_logits(params, X), labels)
    return jnp.mean(ce) + 0.5 * l2 * jnp.sum(jnp.square(params[0]))


@jax.jit
def _softmax_gradient(params, X, labels, l2):
    W, _ = params
    P = softmax(_softmax_logits(params, X), axis=-1)
    R = P - jax.nn.one_hot(labels, W.shape[1], dtype=P.dtype)
    n = X.shape[0]
    return (X.T @ R / n + l2 * W, jnp.sum(R, axis=0) / n)


def softmax_predict(params, X):
    r"""Class probabilities $P = \operatorname{softmax}(XW + b)$, ``(N, K)``.

    Args:
        params: ``(W, b)``, ``W: (D, K)``, ``b: (K,)``. X: ``(N, D)``.

    Raises:
        ValueError / TypeError: for shapes or dtypes that do not fit.
    """
    _check_params("softmax_predict", params, X, True)
    return softmax(_softmax_logits(params, X), axis=-1)


def softmax_loss(params, X, labels, l2=0.0):
    r"""Mean softmax cross-entropy of $XW + b$ against class ids, plus
    $\frac{\lambda}{2}\lVert W\rVert^2$; a scalar.

    Uses :func:`dlmath.losses.softmax_cross_entropy_with_integer_labels` (ids outside
    ``[0, K)`` make it NaN).

    Args:
        params: ``(W, b)``. X: ``(N, D)``. labels: ``(N,)`` ints in ``[0, K)``.
        l2: $\lambda \ge 0$.

    Raises:
        ValueError / TypeError: for shapes or dtypes that do not fit.
    """
    n, _ = _check_params("softmax_loss", params, X, True)
    _check_labels("softmax_loss", labels, n)
    return _softmax_loss(params, X, jnp.asarray(labels), l2)


def softmax_gradient(params, X, labels, l2=0.0):
    r"""Gradient of :func:`softmax_loss`, written out by hand (not autodiff).

    $$\lambda W + \frac{1}{N} X^{T} \left(P - Y\right)$$

    $$\frac{1}{N} \left(P^{T} - Y^{T}\right) 1_{N}$$

    with $P = \operatorname{softmax}(XW + b)$ and $Y$ the one-hot ``(N, K)`` matrix of the
    labels: row $i$ of $P - Y$ is $\partial \ell_i / \partial z_i$, proven for general $K$
    in ``notebooks/03_cross_entropy.ipynb``.

    Args:
        params: ``(W, b)``. X: ``(N, D)``. labels: ``(N,)`` ints. l2: $\lambda \ge 0$.

    Returns:
        ``(grad_W, grad_b)`` with shapes ``(D, K)`` and ``(K,)``.

    Raises:
        ValueError / TypeError: for shapes or dtypes that do not fit.
    """
    n, _ = _check_params("softmax_gradient", params, X, True)
    _check_labels("softmax_gradient", labels, n)
    return _softmax_gradient(params, X, jnp.asarray(labels), l2)


def train_softmax(params, X, labels, learning_rate, steps: int, l2=0.0):
    r"""Full-batch gradient descent on :func:`softmax_loss` with the hand-written
    :func:`softmax_gradient`, one ``jit``-compiled ``lax.scan``.

    Args:
        params: ``(W, b)`` start. X: ``(N, D)``. labels: ``(N,)`` ints.
        learning_rate: $\eta > 0$. steps: number of updates $T$ (static). l2: $\lambda$.

    Returns:
        ``(params, losses)``: the final ``(W, b)`` and the loss history ``(T + 1,)``.

    Raises:
        ValueError / TypeError: for shapes, dtypes, ``steps < 0``, negative rates.
    """
    n, _ = _check_params("train_softmax", params, X, True)
    _check_labels("train_softmax", labels, n)
    _check_run("train_softmax", learning_rate, steps, l2)
    return _descend(_softmax_gradient, _softmax_loss, tuple(params), X, jnp.asarray(labels),
                    learning_rate, steps, l2)


# ------------------------------------------------------------------ evaluation


def _predicted_class(probabilities):
    p = jnp.asarray(probabilities)
    return (p >= 0.5).astype(jnp.int32) if p.ndim == 1 else jnp.argmax(p, axis=-1)


def accuracy(probabilities, labels):
    r"""Share of examples whose predicted class equals the label, a scalar in $[0, 1]$.

    The predicted class is $[p_i \ge 1/2]$ for binary probabilities ``(N,)`` and
    $\arg\max_k P_{ik}$ (the first maximum on a tie) for ``(N, K)``.

    Args:
        probabilities: ``(N,)`` or ``(N, K)``. labels: ``(N,)`` ints (or bools).

    Raises:
        ValueError: if ``labels`` is not ``(N,)`` for the ``N`` of ``probabilities``.
        TypeError: if ``probabilities`` is not floating.
    """
    _checks.require_floating("accuracy", "probabilities", probabilities)
    ps, ls = _checks.shape_of(probabilities), _checks.shape_of(labels)
    if len(ps) not in (1, 2) or ls != ps[:1]:
        raise ValueError(
            f"accuracy: probabilities must be (N,) or (N, K) and labels (N,); got "
            f"probabilities {_checks.fmt(ps)}, labels {_checks.fmt(ls)}."
        )
    return jnp.mean(_predicted_class(probabilities) == jnp.asarray(labels))


def confusion_matrix(labels, predicted, num_classes: int):
    r"""Counts $C_{ij}$ of examples of true class $i$ predicted as class $j$, ``(K, K)``
    (rows: truth, columns: prediction, as scikit-learn). Its trace over $N$ is the accuracy.

    Args:
        labels: ``(N,)`` true class ids. predicted: ``(N,)`` predicted ids.
        num_classes: $K$.

    Returns:
        ``(K, K)`` int32 counts.

    Raises:
        ValueError: if the shapes differ, ``num_classes < 1``, or (for concrete arrays) an
            id lies outside ``[0, K)``. Under ``jit`` the values are unknown: such
            examples are then left out of the counts (never counted in another cell).
        TypeError: if the ids are not integers.
    """
    who = "confusion_matrix"
    for name, v in (("labels", labels), ("predicted", predicted)):
        if not jnp.issubdtype(_checks.dtype_of(v, who, name), jnp.integer):
            raise TypeError(f"{who}: {name} must be integer class ids; got dtype "
                            f"{_checks.dtype_of(v, who, name)}.")
    _checks.require_ndim(who, "labels", labels, 1, "(N,)")
    _checks.require_same_shape(who, "labels", labels, "predicted", predicted, "(N,)")
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"{who}: num_classes must be an int >= 1; got {num_classes!r}.")
    labels, predicted = jnp.asarray(labels), jnp.asarray(predicted)
    valid = (labels >= 0) & (labels < num_classes) & (predicted >= 0) & (predicted < num_classes)
    try:
        concrete = np.asarray(valid)
    except jax.errors.TracerArrayConversionError:  # under jit: values unknown
        concrete = None
    if concrete is not None and not concrete.all():
        bad = int(np.argmin(concrete))
        raise ValueError(
            f"{who}: class ids must lie in [0, K) = [0, {num_classes}); got labels[{bad}] = "
            f"{int(labels[bad])}, predicted[{bad}] = {int(predicted[bad])}. Check num_classes."
        )
    # an invalid pair goes to index K*K, which mode="drop" discards (an id >= K must not
    # spill into the next row of the flattened matrix)
    flat = jnp.where(valid, labels * num_classes + predicted, num_classes * num_classes)
    counts = jnp.zeros(num_classes * num_classes, jnp.int32).at[flat].add(1, mode="drop")
    return counts.reshape(num_classes, num_classes)
