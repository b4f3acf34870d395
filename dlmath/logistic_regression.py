r"""Logistic (binary) and softmax (multinomial) regression: a linear map to logits, a
cross-entropy loss, and its gradient written out by hand; trained by
:func:`dlmath.training.fit` with :func:`dlmath.optim.sgd`.

Shapes (legend letters): ``X: (N, D)`` features, ``N`` examples, ``K`` classes.

* Binary: ``params = (w, b)`` with ``w: (D,)``, ``b: ()``; logits $z = Xw + b$,
  probabilities $p = \sigma(z)$, targets ``y: (N,)`` in $\{0, 1\}$ (or $[0, 1]$).
* Multinomial: ``params = (W, b)`` with ``W: (D, K)``, ``b: (K,)``; logits $Z = XW + b$,
  probabilities $P = \operatorname{softmax}(Z)$ row by row, ``labels: (N,)`` class ids.

The loss is the mean cross-entropy plus the L2 penalty $\frac{\lambda}{2}\lVert w
\rVert^2$ on the weights (not on the bias), :func:`dlmath.regularization.l2_penalty`, as
scikit-learn's ``LogisticRegression`` with ``C = 1 / (N \lambda)``. Accuracy and the
confusion matrix are in :mod:`dlmath.metrics`. Derived in
``notebooks/03_cross_entropy.ipynb``.

Input rules (:mod:`dlmath._checks`): the model computes in the dtype of its parameters
(``X`` and float targets of another float dtype are cast to it); class ids and 0/1 targets
are integers of any width, concrete ids out of range raise ``ValueError`` (under ``jit``
the loss is NaN); a mean over ``N = 0`` examples raises.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from dlmath import _checks
from dlmath.activations import softmax
from dlmath.losses import (
    binary_cross_entropy_with_logits,
    softmax_cross_entropy_with_integer_labels,
)
from dlmath.regularization import l2_penalty

__all__ = [
    "logistic_predict",
    "logistic_loss",
    "logistic_gradient",
    "train_logistic",
    "softmax_predict",
    "softmax_loss",
    "softmax_gradient",
    "train_softmax",
]

_WEIGHTS_ONLY = (True, False)  # the L2 mask of params = (w, b): the bias is not penalised


# ------------------------------------------------------------------ checks


def _check_params(who, params, X, multiclass: bool):
    """Shapes and dtypes of ``(params, X)``; returns ``(n, d, dtype, X cast to dtype)``."""
    if not (isinstance(params, (tuple, list)) and len(params) == 2):
        want = "(W, b) with W (D, K), b (K,)" if multiclass else "(w, b) with w (D,), b ()"
        raise TypeError(f"{who}: params must be a pair {want}; got {type(params).__name__}.")
    _checks.require_floating(who, "X", X)
    _checks.require_ndim(who, "X", X, 2, "(N, D)", "Flatten images first, e.g. x.reshape(N, -1).")
    n, d = _checks.shape_of(X)
    w, b = params
    _checks.require_floating(who, "params[0]", w)
    _checks.require_floating(who, "params[1]", b)
    dtype = _checks.float_dtype_of_tree(who, "params", tuple(params))
    ws, bs = _checks.shape_of(w), _checks.shape_of(b)
    if multiclass:
        if len(ws) != 2 or ws[0] != d or bs != ws[1:]:
            raise ValueError(
                f"{who}: params must be (W, b) with W (D, K) and b (K,), D = {d} to match X "
                f"(N, D) = ({n}, {d}); got W {_checks.fmt(ws)}, b {_checks.fmt(bs)}."
            )
        if ws[1] == 0:
            raise ValueError(
                f"{who}: W (D, K) has no classes (K = 0, shape {_checks.fmt(ws)}); the softmax "
                "over the K classes is undefined for none. Softmax regression needs K >= 1."
            )
    elif ws != (d,) or bs != ():
        raise ValueError(
            f"{who}: params must be (w, b) with w (D,) = ({d},) to match X (N, D) = ({n}, {d}) "
            f"and a scalar b (); got w {_checks.fmt(ws)}, b {_checks.fmt(bs)}."
        )
    (X,) = _checks.cast_floats(dtype, X)
    return n, d, dtype, X


def _examples(who, X):
    _checks.require_nonempty(who, "X", X, 0, "(N, D)", "examples (N = 0)")


def _targets(who, y, n, dtype):
    """0/1 (int or bool) or probability (float) targets ``(N,)``, as ``dtype``."""
    dt = _checks.dtype_of(y, who, "y")
    if dt == jnp.bool_:
        y, dt = jnp.asarray(y).astype(jnp.int32), jnp.dtype(jnp.int32)
    _checks.require_real(who, "y", y)
    if _checks.shape_of(y) != (n,):
        raise ValueError(
            f"{who}: y must have shape (N,) = ({n},) to match X; got y "
            f"{_checks.fmt(_checks.shape_of(y))}. A column (N, 1) needs y.reshape(-1)."
        )
    if jnp.issubdtype(dt, jnp.floating):
        return jnp.asarray(y).astype(dtype)
    ids = _checks.labels(who, "y", y, 2, (n,), "(N,)",
                         "Integer targets are the 0/1 labels of the N examples.")
    return ids.astype(dtype)


def _labels(who, labels, n, k):
    return _checks.labels(who, "labels", labels, k, (n,), "(N,)",
                          "labels are the class ids of the N rows of X.")


def _l2(who, l2):
    _checks.hyperparameter(who, "l2", l2, low=0.0)


# ------------------------------------------------------------------ kernels
# Unchecked, traceable: the public functions check once, then call these (and fit traces
# them inside its compiled loop).


def _logits(params, X):
    w, b = params
    return X @ w + b


def _logistic_objective(params, X, y, l2):
    bce = binary_cross_entropy_with_logits(_logits(params, X), y)
    return jnp.mean(bce) + l2_penalty(params, l2, mask=_WEIGHTS_ONLY)


def _logistic_grad(params, X, y, l2):
    w, _ = params
    r = jax.nn.sigmoid(_logits(params, X)) - y
    n = X.shape[0]
    return (X.T @ r / n + l2 * w, jnp.sum(r) / n)


def _softmax_objective(params, X, labels, l2):
    ce = softmax_cross_entropy_with_integer_labels(_logits(params, X), labels)
    return jnp.mean(ce) + l2_penalty(params, l2, mask=_WEIGHTS_ONLY)


def _softmax_grad(params, X, labels, l2):
    W, _ = params
    k = W.shape[1]
    P = softmax(_logits(params, X), axis=-1)
    valid = (labels >= 0) & (labels < k)
    # an id out of range (possible only under jit) makes its row NaN, as its loss is
    R = jnp.where(valid[:, None], P - jax.nn.one_hot(labels, k, dtype=P.dtype), jnp.nan)
    n = X.shape[0]
    return (X.T @ R / n + l2 * W, jnp.sum(R, axis=0) / n)


def _value_and_grad(objective, gradient, l2):
    """``(params, *batch) -> (loss, hand-written grads)`` for :func:`dlmath.training.fit`;
    for a concrete ``l2`` cached per value, so a second training run reuses the compiled
    loop (a traced ``l2``, under ``jit``, is closed over instead)."""
    if _checks.is_traced(l2):
        return _closure(objective, gradient, l2)
    return _cached_value_and_grad(objective, gradient, float(l2))


def _closure(objective, gradient, l2):
    def value_and_grad(params, X, y):
        return objective(params, X, y, l2), gradient(params, X, y, l2)

    return value_and_grad


_cached_value_and_grad = functools.cache(_closure)


def _sgd(learning_rate):
    """``optim.sgd(learning_rate)``, one object per concrete rate: fit compiles its loop per
    optimizer object, so a repeated training run with the same rate does not recompile."""
    from dlmath import optim

    if _checks.is_traced(learning_rate):
        return optim.sgd(learning_rate)
    return _cached_sgd(float(learning_rate))


@functools.cache
def _cached_sgd(learning_rate: float):
    from dlmath import optim

    return optim.sgd(learning_rate)


# ------------------------------------------------------------------ binary


def logistic_predict(params, X):
    r"""Probabilities $p = \sigma(Xw + b)$ of class 1, ``(N,)``.

    Args:
        params: ``(w, b)``, ``w: (D,)``, ``b: ()``. X: ``(N, D)`` (cast to the dtype of
            ``params``).

    Raises:
        ValueError, TypeError: for shapes or dtypes that do not fit.
    """
    *_, X = _check_params("logistic_predict", params, X, False)
    return jax.nn.sigmoid(_logits(params, X))


def logistic_loss(params, X, y, l2=0.0):
    r"""Mean binary cross-entropy of $\sigma(Xw + b)$ against ``y``, plus
    $\frac{\lambda}{2}\lVert w\rVert^2$; a scalar.

    Uses :func:`dlmath.losses.binary_cross_entropy_with_logits` (stable for any logit) and
    :func:`dlmath.regularization.l2_penalty`.

    Args:
        params: ``(w, b)``. X: ``(N, D)``, $N \ge 1$. y: ``(N,)`` targets in ``[0, 1]``
            (float), or 0/1 labels (int of any width, or bool). l2: $\lambda \ge 0$.

    Raises:
        TypeError: non-floating ``X`` or parameters, parameters of two float dtypes, non-real
            targets.
        ValueError: shapes that do not fit; ``N = 0``; ``l2 < 0``; concrete integer targets other
            than 0 and 1.
    """
    who = "logistic_loss"
    n, _, dtype, X = _check_params(who, params, X, False)
    _examples(who, X)
    y = _targets(who, y, n, dtype)
    _l2(who, l2)
    return _logistic_objective(tuple(params), X, y, l2)


def logistic_gradient(params, X, y, l2=0.0):
    r"""Gradient of :func:`logistic_loss`, written out by hand (not autodiff).

    $$\lambda w + \frac{1}{N} X^{T} \left(p - y\right)$$

    $$\frac{\sum_{i=0}^{N - 1} \left({p}_{i} - {y}_{i}\right)}{N}$$

    with $p = \sigma(Xw + b)$: the per-example gradient $\sigma(z_i) - y_i$ of the binary
    cross-entropy with respect to its logit, carried back through $z = Xw + b$ (proven for
    every $N \times D$ in ``notebooks/03_cross_entropy.ipynb``).

    Args:
        params: ``(w, b)``. X: ``(N, D)``, $N \ge 1$. y: ``(N,)``. l2: $\lambda \ge 0$.

    Returns:
        ``(grad_w, grad_b)`` with shapes ``(D,)`` and ``()``.

    Raises:
        ValueError, TypeError: as :func:`logistic_loss`.
    """
    who = "logistic_gradient"
    n, _, dtype, X = _check_params(who, params, X, False)
    _examples(who, X)
    y = _targets(who, y, n, dtype)
    _l2(who, l2)
    return _logistic_grad(tuple(params), X, y, l2)


def train_logistic(params, X, y, learning_rate, steps: int, l2=0.0):
    r"""Full-batch gradient descent on :func:`logistic_loss`: :func:`dlmath.training.fit`
    with :func:`dlmath.optim.sgd` and the hand-written :func:`logistic_gradient`.

    Args:
        params: ``(w, b)`` start. X: ``(N, D)``, $N \ge 1$. y: ``(N,)``.
        learning_rate: $\eta > 0$ (checked by :func:`dlmath.optim.sgd`).
        steps: number of updates $T \ge 0$. l2: $\lambda \ge 0$ (may be traced).

    Returns:
        ``(params, history)`` of :func:`dlmath.training.fit`: the final ``(w, b)`` and a
        :class:`dlmath.training.History` whose ``loss[t]`` is the objective before update
        ``t`` (shape ``(T,)``).

    Raises:
        TypeError: as :func:`logistic_loss`.
        ValueError: as :func:`logistic_loss`; a learning rate that is not a finite number $> 0$;
            ``steps`` not an int $\ge 0$.
    """
    from dlmath import training

    who = "train_logistic"
    _checks.learning_rate(who, learning_rate)
    _checks.count(who, "steps", steps)
    n, _, dtype, X = _check_params(who, params, X, False)
    _examples(who, X)
    y = _targets(who, y, n, dtype)
    _l2(who, l2)
    vg = _value_and_grad(_logistic_objective, _logistic_grad, l2)
    return training.fit(_sgd(learning_rate), lambda p, X_, y_: vg(p, X_, y_)[0],
                        tuple(params), (X, y), steps=steps, value_and_grad=vg)


# ------------------------------------------------------------------ multinomial


def softmax_predict(params, X):
    r"""Class probabilities $P = \operatorname{softmax}(XW + b)$, ``(N, K)``.

    Args:
        params: ``(W, b)``, ``W: (D, K)``, ``b: (K,)``. X: ``(N, D)``.

    Raises:
        ValueError, TypeError: for shapes or dtypes that do not fit.
    """
    *_, X = _check_params("softmax_predict", params, X, True)
    return softmax(_logits(params, X), axis=-1)


def softmax_loss(params, X, labels, l2=0.0):
    r"""Mean softmax cross-entropy of $XW + b$ against class ids, plus
    $\frac{\lambda}{2}\lVert W\rVert^2$; a scalar.

    Uses :func:`dlmath.losses.softmax_cross_entropy_with_integer_labels` and
    :func:`dlmath.regularization.l2_penalty`.

    Args:
        params: ``(W, b)``. X: ``(N, D)``, $N \ge 1$. labels: ``(N,)`` integer ids in
            ``[0, K)`` (any width). l2: $\lambda \ge 0$.

    Raises:
        TypeError: non-floating ``X`` or parameters; non-integer labels.
        ValueError: shapes that do not fit; ``N = 0``; ``l2 < 0``; concrete ids outside ``[0, K)``
            (under ``jit`` the loss is then NaN).
    """
    who = "softmax_loss"
    n, _, _, X = _check_params(who, params, X, True)
    _examples(who, X)
    ids = _labels(who, labels, n, _checks.shape_of(params[0])[1])
    _l2(who, l2)
    return _softmax_objective(tuple(params), X, ids, l2)


def softmax_gradient(params, X, labels, l2=0.0):
    r"""Gradient of :func:`softmax_loss`, written out by hand (not autodiff).

    $$\lambda W + \frac{1}{N} X^{T} \left(P - Y\right)$$

    $$\frac{1}{N} \left(P^{T} - Y^{T}\right) 1_{N}$$

    with $P = \operatorname{softmax}(XW + b)$ and $Y$ the one-hot ``(N, K)`` matrix of the
    labels: row $i$ of $P - Y$ is $\partial \ell_i / \partial z_i$; both proven for every
    $N$, $D$, $K$ in ``notebooks/03_cross_entropy.ipynb``.

    Args:
        params: ``(W, b)``. X: ``(N, D)``, $N \ge 1$. labels: ``(N,)`` ints.
        l2: $\lambda \ge 0$.

    Returns:
        ``(grad_W, grad_b)`` with shapes ``(D, K)`` and ``(K,)``.

    Raises:
        ValueError, TypeError: as :func:`softmax_loss` (under ``jit`` an id out of range makes the
            gradient NaN).
    """
    who = "softmax_gradient"
    n, _, _, X = _check_params(who, params, X, True)
    _examples(who, X)
    ids = _labels(who, labels, n, _checks.shape_of(params[0])[1])
    _l2(who, l2)
    return _softmax_grad(tuple(params), X, ids, l2)


def train_softmax(params, X, labels, learning_rate, steps: int, l2=0.0):
    r"""Full-batch gradient descent on :func:`softmax_loss`: :func:`dlmath.training.fit`
    with :func:`dlmath.optim.sgd` and the hand-written :func:`softmax_gradient`.

    Args:
        params: ``(W, b)`` start. X: ``(N, D)``, $N \ge 1$. labels: ``(N,)`` ints.
        learning_rate: $\eta > 0$ (checked by :func:`dlmath.optim.sgd`).
        steps: number of updates $T \ge 0$. l2: $\lambda \ge 0$ (may be traced).

    Returns:
        ``(params, history)`` of :func:`dlmath.training.fit`, as :func:`train_logistic`.

    Raises:
        TypeError: as :func:`softmax_loss`.
        ValueError: as :func:`softmax_loss`; a learning rate that is not a finite number $> 0$;
            ``steps`` not an int $\ge 0$.
    """
    from dlmath import training

    who = "train_softmax"
    _checks.learning_rate(who, learning_rate)
    _checks.count(who, "steps", steps)
    n, _, _, X = _check_params(who, params, X, True)
    _examples(who, X)
    ids = _labels(who, labels, n, _checks.shape_of(params[0])[1])
    _l2(who, l2)
    vg = _value_and_grad(_softmax_objective, _softmax_grad, l2)
    return training.fit(_sgd(learning_rate), lambda p, X_, c_: vg(p, X_, c_)[0],
                        tuple(params), (X, ids), steps=steps, value_and_grad=vg)
