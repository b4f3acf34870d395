r"""Logistic (binary) and softmax (multinomial) regression: a linear map to logits, a
cross-entropy loss, and its gradient written out by hand (the loss's own gradient in the
logits, from :mod:`dlmath.losses`, carried back through the linear map); trained by
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

import jax.numpy as jnp

from dlmath import _checks
from dlmath.activations import sigmoid, softmax
from dlmath.losses import (
    sigmoid_binary_cross_entropy,
    sigmoid_binary_cross_entropy_gradient,
    softmax_cross_entropy_with_integer_labels,
    softmax_cross_entropy_with_integer_labels_gradient,
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
    """Shapes and dtypes of ``(params, X)``; returns ``(N, D)``."""
    if not (isinstance(params, (tuple, list)) and len(params) == 2):
        want = "(W, b) with W (D, K), b (K,)" if multiclass else "(w, b) with w (D,), b ()"
        raise TypeError(f"{who}: params must be a pair {want}; got {type(params).__name__}.")
    _checks.require_floating(who, "X", X)
    _checks.require_ndim(who, "X", X, 2, "(N, D)", "Flatten images first, e.g. x.reshape(N, -1).")
    n, d = _checks.shape_of(X)
    w, b = params
    _checks.require_floating(who, "params[0]", w)
    _checks.require_floating(who, "params[1]", b)
    _checks.float_dtype_of_tree(who, "params", tuple(params))   # one float dtype
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
    return n, d


def _check_fit(who, params, X, y, l2, multiclass: bool) -> None:
    """``(params, X)``, ``N >= 1`` examples, their targets (0/1 ids or probabilities for the
    binary model, class ids for the multinomial one) and ``l2 >= 0``."""
    n, _ = _check_params(who, params, X, multiclass)
    _checks.require_nonempty(who, "X", X, 0, "(N, D)", "examples (N = 0)")
    if multiclass:
        _checks.labels(who, "labels", y, _checks.shape_of(params[0])[1], (n,), "(N,)",
                       "labels are the class ids of the N rows of X.")
    else:
        dt = _checks.dtype_of(y, who, "y")
        if dt == jnp.bool_:
            y, dt = jnp.asarray(y).astype(jnp.int32), jnp.dtype(jnp.int32)
        _checks.require_real(who, "y", y)
        if _checks.shape_of(y) != (n,):
            raise ValueError(
                f"{who}: y must have shape (N,) = ({n},) to match X; got y "
                f"{_checks.fmt(_checks.shape_of(y))}. A column (N, 1) needs y.reshape(-1)."
            )
        if not jnp.issubdtype(dt, jnp.floating):
            _checks.labels(who, "y", y, 2, (n,), "(N,)",
                           "Integer targets are the 0/1 labels of the N examples.")
    _checks.hyperparameter(who, "l2", l2, low=0.0)


def _checker(who, multiclass: bool, fit: bool = True):
    if not fit:
        return lambda params, X: _check_params(who, params, X, multiclass)
    if multiclass:  # the argument names of the functions checked: labels, or y
        return lambda params, X, labels, l2=0.0: _check_fit(who, params, X, labels, l2, True)
    return lambda params, X, y, l2=0.0: _check_fit(who, params, X, y, l2, False)


def _targets(y, dtype):
    """Float targets in the parameters' ``dtype`` (the package's rule); 0/1 ids (ints of any
    width, bools) left as ids, which the loss's kernels read as 0/1 and any other id as NaN
    (possible only under ``jit``, where the ids are not checked)."""
    return y.astype(dtype) if jnp.issubdtype(y.dtype, jnp.floating) else y


def _logits(params, X):
    """``X @ w + b``, ``X`` in the parameters' dtype (the package's rule)."""
    w, b = params
    return X.astype(w.dtype) @ w + b


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


def _train(objective, gradient, params, X, y, learning_rate, steps, l2):
    """:func:`dlmath.training.fit` with :func:`dlmath.optim.sgd` on the hand-written
    gradient. A concrete rate is passed as a Python float, so optim's factory returns the
    same optimizer for the same rate and fit's compiled loop is reused."""
    from dlmath import optim, training

    rate = learning_rate if _checks.is_traced(learning_rate) else float(learning_rate)
    vg = _value_and_grad(objective, gradient, l2)
    return training.fit(optim.sgd(rate), lambda p, X_, y_: vg(p, X_, y_)[0], tuple(params),
                        (X, y), steps=steps, value_and_grad=vg)


# ------------------------------------------------------------------ binary


@_checks.checked(_checker("logistic_predict", False, fit=False))
def logistic_predict(params, X):
    r"""Probabilities $p = \sigma(Xw + b)$ of class 1, ``(N,)``
    (:func:`dlmath.activations.sigmoid`).

    Args:
        params: ``(w, b)``, ``w: (D,)``, ``b: ()``. X: ``(N, D)`` (cast to the dtype of
            ``params``).

    Raises:
        ValueError, TypeError: for shapes or dtypes that do not fit.
    """
    return sigmoid.kernel(_logits(params, X))


@_checks.checked(_checker("logistic_loss", False))
def logistic_loss(params, X, y, l2=0.0):
    r"""Mean binary cross-entropy of $\sigma(Xw + b)$ against ``y``, plus
    $\frac{\lambda}{2}\lVert w\rVert^2$; a scalar.

    Uses :func:`dlmath.losses.sigmoid_binary_cross_entropy` (stable for any logit) and
    :func:`dlmath.regularization.l2_penalty`.

    Args:
        params: ``(w, b)``. X: ``(N, D)``, $N \ge 1$. y: ``(N,)`` targets in ``[0, 1]``
            (float), or 0/1 labels (int of any width, or bool). l2: $\lambda \ge 0$.

    Raises:
        TypeError: non-floating ``X`` or parameters, parameters of two float dtypes, non-real
            targets.
        ValueError: shapes that do not fit; ``N = 0``; ``l2 < 0``; concrete integer targets other
            than 0 and 1 (under ``jit`` such an example's loss, hence the mean, is NaN).
    """
    bce = sigmoid_binary_cross_entropy.kernel(_logits(params, X), _targets(y, params[0].dtype))
    return jnp.mean(bce) + l2_penalty(tuple(params), l2, mask=_WEIGHTS_ONLY)


@_checks.checked(_checker("logistic_gradient", False))
def logistic_gradient(params, X, y, l2=0.0):
    r"""Gradient of :func:`logistic_loss`, written out by hand (not autodiff).

    $$\lambda w + \frac{1}{N} X^{T} \left(p - y\right)$$

    $$\frac{\sum_{i=0}^{N - 1} \left({p}_{i} - {y}_{i}\right)}{N}$$

    with $p = \sigma(Xw + b)$: the per-example gradient $\sigma(z_i) - y_i$ of the binary
    cross-entropy with respect to its logit
    (:func:`dlmath.losses.sigmoid_binary_cross_entropy_gradient`), carried back through
    $z = Xw + b$ (proven for every $N \times D$ in ``notebooks/03_cross_entropy.ipynb``).

    Args:
        params: ``(w, b)``. X: ``(N, D)``, $N \ge 1$. y: ``(N,)``. l2: $\lambda \ge 0$.

    Returns:
        ``(grad_w, grad_b)`` with shapes ``(D,)`` and ``()``.

    Raises:
        ValueError, TypeError: as :func:`logistic_loss` (under ``jit`` an integer target other
            than 0 and 1 makes the gradient NaN).
    """
    w, _ = params
    X, y = X.astype(w.dtype), _targets(y, w.dtype)
    r = sigmoid_binary_cross_entropy_gradient.kernel(_logits(params, X), y)
    n = X.shape[0]
    return (X.T @ r / n + l2 * w, jnp.sum(r) / n)


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
    who = "train_logistic"
    _checks.learning_rate(who, learning_rate)
    _checks.count(who, "steps", steps)
    _check_fit(who, params, X, y, l2, False)
    return _train(logistic_loss.kernel, logistic_gradient.kernel, params, X, y, learning_rate,
                  steps, l2)


# ------------------------------------------------------------------ multinomial


@_checks.checked(_checker("softmax_predict", True, fit=False))
def softmax_predict(params, X):
    r"""Class probabilities $P = \operatorname{softmax}(XW + b)$, ``(N, K)``.

    Args:
        params: ``(W, b)``, ``W: (D, K)``, ``b: (K,)``. X: ``(N, D)``.

    Raises:
        ValueError, TypeError: for shapes or dtypes that do not fit.
    """
    return softmax.kernel(_logits(params, X), axis=-1)


@_checks.checked(_checker("softmax_loss", True))
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
    ce = softmax_cross_entropy_with_integer_labels.kernel(_logits(params, X), labels)
    return jnp.mean(ce) + l2_penalty(tuple(params), l2, mask=_WEIGHTS_ONLY)


@_checks.checked(_checker("softmax_gradient", True))
def softmax_gradient(params, X, labels, l2=0.0):
    r"""Gradient of :func:`softmax_loss`, written out by hand (not autodiff).

    $$\lambda W + \frac{1}{N} X^{T} \left(P - Y\right)$$

    $$\frac{1}{N} \left(P^{T} - Y^{T}\right) 1_{N}$$

    with $P = \operatorname{softmax}(XW + b)$ and $Y$ the one-hot ``(N, K)`` matrix of the
    labels: row $i$ of $P - Y$ is $\partial \ell_i / \partial z_i$
    (:func:`dlmath.losses.softmax_cross_entropy_with_integer_labels_gradient`); both proven
    for every $N$, $D$, $K$ in ``notebooks/03_cross_entropy.ipynb``.

    Args:
        params: ``(W, b)``. X: ``(N, D)``, $N \ge 1$. labels: ``(N,)`` ints.
        l2: $\lambda \ge 0$.

    Returns:
        ``(grad_W, grad_b)`` with shapes ``(D, K)`` and ``(K,)``.

    Raises:
        ValueError, TypeError: as :func:`softmax_loss` (under ``jit`` an id out of range makes the
            gradient NaN).
    """
    W, _ = params
    X = X.astype(W.dtype)
    R = softmax_cross_entropy_with_integer_labels_gradient.kernel(_logits(params, X), labels)
    n = X.shape[0]
    return (X.T @ R / n + l2 * W, jnp.sum(R, axis=0) / n)


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
    who = "train_softmax"
    _checks.learning_rate(who, learning_rate)
    _checks.count(who, "steps", steps)
    _check_fit(who, params, X, labels, l2, True)
    return _train(softmax_loss.kernel, softmax_gradient.kernel, params, X, labels,
                  learning_rate, steps, l2)
