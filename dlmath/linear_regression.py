r"""Linear regression $\hat y = Xw$ fitted by least squares: loss, gradient, Hessian, the
closed-form solution, the step-size bound, and gradient descent.

Shapes (legend letters): ``X: (N, D)`` design matrix (add a ones column with
:func:`design_matrix` for an intercept), ``w: (D,)``, ``y: (N,)``.
Derived in ``notebooks/01_linear_regression.ipynb``.

Input rules (those of :mod:`dlmath._checks`): ``X`` and ``w`` are floating (float16,
bfloat16, float32 or float64), ``y`` is real (float or int, never complex). A function of
the weights ``w`` computes in the dtype of ``w``: ``X`` and ``y`` of another float dtype are
cast to it. The functions of ``X`` alone (:func:`hessian`, :func:`normal_equations`,
:func:`max_stable_learning_rate`) compute in ``X``'s dtype, except that the linear algebra
of the last two (a solve, an eigenvalue decomposition) runs in float32 for float16 and
bfloat16 inputs, which XLA's solvers do not accept; the result is returned in ``X``'s dtype.
A mean over ``N = 0`` examples raises; NaN or infinite entries propagate to the result,
except in the two functions whose checks read values, which refuse them.

Gradient descent runs through the book's one training loop, :func:`dlmath.training.fit`,
with :func:`dlmath.optim.sgd` and the hand-written gradient of :func:`mse_gradient`, and
returns what every trainer of the book returns: ``(params, history)``.

Each public function of arrays checks its arguments (:func:`dlmath._checks.regression_data`),
then runs its compiled body, its ``.kernel`` (:func:`dlmath._checks.checked`).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from dlmath import _checks
from dlmath.losses import mse

__all__ = [
    "design_matrix",
    "predict",
    "loss",
    "mse_gradient",
    "loss_and_gradient",
    "hessian",
    "normal_equations",
    "max_stable_learning_rate",
    "gradient_descent",
    "minibatch_gradient_descent",
]

_LOW_PRECISION = (jnp.float16, jnp.bfloat16)


def _model_check(who: str, nonempty: bool = True):
    """The check of a function of ``(w, X, y)``: :func:`dlmath._checks.regression_data`."""
    def check(w, X, y=None):
        _checks.regression_data(who, X, w, y, nonempty=nonempty)
    return check


def _in_dtype_of(w, X, y):
    """The package's dtype rule, in a kernel: ``X`` and ``y`` in the dtype of ``w``."""
    return X.astype(w.dtype), y.astype(w.dtype)


def _require_finite(who: str, name: str, x) -> None:
    """Concrete values only: NaN or inf would make the checks that read values (the rank,
    the largest eigenvalue) and the solvers report something misleading."""
    if _checks.is_traced(x):
        return
    a = np.asarray(x, np.float64)
    bad = ~np.isfinite(a)
    first = _checks.first_bad(name, a, bad)
    if first is not None:
        raise ValueError(
            f"{who}: {name} must be finite; got {first} ({int(bad.sum())} non-finite "
            "entries). Remove or impute those rows first."
        )


def _design_check(x):
    _checks.require_floating("design_matrix", "x", x)
    if len(_checks.shape_of(x)) not in (1, 2):
        raise ValueError("design_matrix: x must have shape (N,) or (N, F); got "
                         f"{_checks.fmt(_checks.shape_of(x))}.")


@_checks.checked(_design_check)
def design_matrix(x):
    r"""Prepend a column of ones to the features, so that $w_0$ is the intercept.

    Args:
        x: features ``(N,)`` (one feature) or ``(N, F)``, floating.

    Returns:
        ``X`` of shape ``(N, F + 1)``: ``[1, x]``, in ``x``'s dtype.

    Raises:
        TypeError: if ``x`` is not floating.
        ValueError: if ``x`` has more than 2 axes.
    """
    if x.ndim == 1:
        x = x[:, None]
    return jnp.concatenate([jnp.ones((x.shape[0], 1), x.dtype), x], axis=1)


@_checks.checked(_model_check("predict", nonempty=False))
def predict(w, X):
    r"""The linear model $\hat y = Xw$; ``w: (D,)``, ``X: (N, D)`` → ``(N,)`` in ``w``'s dtype.

    ``N = 0`` rows give an empty result (nothing is reduced).

    Raises:
        ValueError: for shapes other than ``(D,)``, ``(N, D)``.
        TypeError: non-floating input.
    """
    return X.astype(w.dtype) @ w


@_checks.checked(_model_check("loss"))
def loss(w, X, y):
    r"""The least-squares loss $L(w) = \operatorname{mse}(Xw, y)$, a scalar in ``w``'s dtype.

    Derived as the Gaussian negative log-likelihood (up to constants) in
    ``notebooks/01_linear_regression.ipynb``.

    Raises:
        ValueError: for shapes other than ``(D,)``, ``(N, D)``, ``(N,)``; for ``N = 0``.
        TypeError: for non-floating ``w`` or ``X``, complex ``y``.
    """
    X, y = _in_dtype_of(w, X, y)
    return mse.kernel(X @ w, y)


@_checks.checked(_model_check("mse_gradient"))
def mse_gradient(w, X, y):
    r"""Gradient of the least-squares loss, written out by hand (not autodiff).

    $$\frac{2}{N} X^{T} \left(X w - y\right)$$

    Args:
        w: ``(D,)`` weights. X: ``(N, D)`` design matrix. y: ``(N,)`` targets.

    Returns:
        ``(D,)`` in ``w``'s dtype: $\nabla_w L$ for $L(w) = \frac1N \lVert Xw - y\rVert^2$
        (see :func:`loss`). Derived (scalar and matrix form, proven equal) in
        ``notebooks/01_linear_regression.ipynb``.

    Raises:
        ValueError: when the shapes are not ``(D,)``, ``(N, D)``, ``(N,)``; for ``N = 0``.
        TypeError: when ``w`` or ``X`` is not floating, or ``y`` is complex.
    """
    X, y = _in_dtype_of(w, X, y)
    n = X.shape[0]
    return (2.0 / n) * (X.T @ (X @ w - y))


@_checks.checked(_model_check("loss_and_gradient"))
def loss_and_gradient(w, X, y):
    r"""``(loss(w, X, y), mse_gradient(w, X, y))``: the pair that
    :func:`dlmath.training.fit` takes as ``value_and_grad``, so that gradient descent runs
    on the hand-written gradient rather than on autodiff.

    Raises:
        TypeError, ValueError: as :func:`mse_gradient`.
    """
    return loss.kernel(w, X, y), mse_gradient.kernel(w, X, y)


@_checks.checked(lambda X: _checks.regression_data("hessian", X))
def hessian(X):
    r"""Hessian of the least-squares loss (constant: the loss is quadratic in $w$).

    $$\frac{2}{N} X^{T} X$$

    Args:
        X: ``(N, D)``, ``N >= 1``.

    Returns:
        ``(D, D)`` in ``X``'s dtype, symmetric positive semi-definite
        ($v^T H v = \frac2N \lVert Xv\rVert^2 \ge 0$); derived and proven in
        ``notebooks/01_linear_regression.ipynb``.

    Raises:
        ValueError: if ``X`` is not ``(N, D)`` or ``N = 0``.
        TypeError: if ``X`` is not floating.
    """
    return (2.0 / X.shape[0]) * (X.T @ X)


def _solver_dtype(dtype):
    return jnp.float32 if dtype in _LOW_PRECISION else dtype


def _normal_equations_check(X, y):
    who = "normal_equations"
    _checks.regression_data(who, X, None, y)
    n, d = _checks.shape_of(X)
    if n < d:
        raise ValueError(
            f"{who}: X (N, D) = ({n}, {d}) has fewer rows than columns, so X^T X "
            "is singular; use numpy.linalg.lstsq for the minimum-norm solution."
        )
    _require_finite(who, "X", X)
    _require_finite(who, "y", jnp.asarray(y).astype(jnp.result_type(X)))  # y in X's dtype
    if not _checks.is_traced(X):
        rank = int(np.linalg.matrix_rank(np.asarray(X, np.float64)))
        if rank < d:
            raise ValueError(
                f"{who}: X (N, D) = ({n}, {d}) has rank {rank} < D, so X^T X is "
                "singular (a column repeats or is a combination of others); use "
                "numpy.linalg.lstsq or pinv for the minimum-norm solution."
            )


@_checks.checked(_normal_equations_check)
def normal_equations(X, y):
    r"""The minimiser of the least-squares loss, from $X^T X w = X^T y$.

    $$\left(X^{T} X\right)^{-1} X^{T} y$$

    Solved with ``jnp.linalg.solve`` (never an explicit inverse), in ``X``'s dtype; float16
    and bfloat16 are solved in float32 and the result is rounded back. Derived and proven in
    ``notebooks/01_linear_regression.ipynb``.

    Args:
        X: ``(N, D)`` with full column rank, finite. y: ``(N,)``, real and finite (cast to
            ``X``'s dtype).

    Returns:
        ``w*`` of shape ``(D,)``, in ``X``'s dtype.

    Raises:
        ValueError: when ``N < D``; when ``X`` or ``y`` (concrete arrays, not tracers under ``jit``)
            hold NaN or inf; when ``X`` (concrete) does not have full column rank: then $X^T X$ is
            singular and there are infinitely many minimisers; ``numpy.linalg.lstsq`` or ``pinv``
            gives the one of minimum norm. Under ``jit`` neither the values nor the rank can be
            checked, and a singular or non-finite system gives meaningless numbers.
        TypeError: for non-floating ``X``, complex ``y``.
    """
    dtype = X.dtype
    y = y.astype(dtype)
    Xc, yc = X.astype(_solver_dtype(dtype)), y.astype(_solver_dtype(dtype))
    return jnp.linalg.solve(Xc.T @ Xc, Xc.T @ yc).astype(dtype)


def _max_rate_check(X):
    who = "max_stable_learning_rate"
    _checks.regression_data(who, X)
    if _checks.shape_of(X)[1] == 0:
        raise ValueError(f"{who}: X (N, D) = {_checks.fmt(_checks.shape_of(X))} has no "
                         "columns, so the Hessian has no eigenvalue.")
    _require_finite(who, "X", X)
    if not _checks.is_traced(X) and not np.any(np.asarray(X, np.float64)):
        raise ValueError(
            f"{who}: the Hessian (2/N) X^T X is zero (every entry of X is 0), so "
            "the loss is flat and no learning rate is too large."
        )


@_checks.checked(_max_rate_check)
def max_stable_learning_rate(X):
    r"""The largest learning rate for which gradient descent on :func:`loss` converges.

    $$\frac{2}{\lambda_{max}}$$

    where $\lambda_{max}$ is the largest eigenvalue of :func:`hessian`. Any $\eta$ below it
    converges from every start; above it, the component along the top eigenvector grows
    by the factor $|1 - \eta\lambda_{max}| > 1$ per step.

    Derived in ``notebooks/01_linear_regression.ipynb``.

    Args:
        X: ``(N, D)``, ``N, D >= 1``, finite.

    Returns:
        A scalar in ``X``'s dtype (the eigenvalues of float16 and bfloat16 inputs are
        computed in float32).

    Raises:
        ValueError: if ``X`` has no rows or no columns; if ``X`` (concrete) holds NaN or inf; if
            ``X`` (concrete) is all zeros, so $\lambda_{max} = 0$ and every rate is stable.
        TypeError: for non-floating ``X``.
    """
    dtype = X.dtype
    Xc = X.astype(_solver_dtype(dtype))
    lam_max = jnp.linalg.eigvalsh((2.0 / Xc.shape[0]) * (Xc.T @ Xc))[-1]
    return (2.0 / lam_max).astype(dtype)


@partial(jax.jit, static_argnames=("steps", "batch_size"))
def _fit_path(w0, X, y, learning_rate, key, *, steps, batch_size):
    """SGD on the hand-written gradient through the one training loop, keeping the path,
    compiled once per shape and ``steps``: the learning rate is traced, so a new rate does
    not recompile."""
    from dlmath import optim, training

    return training.fit(optim.sgd(learning_rate), loss.kernel, w0, (X, y), steps=steps,
                        batch_size=batch_size, key=key,
                        value_and_grad=loss_and_gradient.kernel, keep_path=True)


def _descend(who, w0, X, y, learning_rate, steps, batch_size=None, key=None):
    _checks.regression_data(who, X, w0, y, w_name="w0")
    _checks.learning_rate(who, learning_rate)
    _checks.count(who, "steps", steps)
    if who == "minibatch_gradient_descent":
        _checks.count(who, "batch_size", batch_size, low=1, high=_checks.shape_of(X)[0])
        _checks.require_key(who, key, "the shuffles")
    return _fit_path(w0, X, y, learning_rate, key, steps=steps, batch_size=batch_size)


def gradient_descent(w0, X, y, learning_rate, steps: int):
    r"""Full-batch gradient descent $w_{t+1} = w_t - \eta \nabla_w L(w_t)$.

    A thin wrapper: :func:`dlmath.training.fit` with :func:`dlmath.optim.sgd` and the
    hand-written gradient (:func:`loss_and_gradient`), keeping the path.

    Args:
        w0: ``(D,)`` start (its dtype is the dtype of the computation). X: ``(N, D)``.
            y: ``(N,)``.
        learning_rate: $\eta > 0$, finite (see :func:`max_stable_learning_rate`); checked
            when concrete, so it may be traced under ``jit``.
        steps: number of updates $T \ge 0$.

    Returns:
        ``(params, history)``, as every trainer of the book (:func:`dlmath.training.fit`):
        the last iterate $w_T$ and a :class:`dlmath.training.History` whose ``path`` is
        ``(T + 1, D)`` with ``path[0] = w0`` and whose ``loss`` is ``(T,)``, the loss at
        $w_t$ before update ``t``. The loss at every point of the path is
        ``jax.vmap(loss, (0, None, None))(history.path, X, y)``.

    Raises:
        ValueError: for bad shapes, ``N = 0``, ``steps < 0``, or a learning rate that is not a
            finite positive scalar.
        TypeError: for non-floating inputs, a non-int ``steps``, a non-number learning rate.
    """
    return _descend("gradient_descent", w0, X, y, learning_rate, steps)


def minibatch_gradient_descent(key, w0, X, y, learning_rate, batch_size: int, steps: int):
    r"""Mini-batch gradient descent: each step uses the gradient on $B$ rows,
    $w_{t+1} = w_t - \eta\,\frac{2}{B} X_B^T(X_B w_t - y_B)$.

    The batches are :func:`dlmath.training.fit`'s: each epoch shuffles the rows (with a key
    folded from ``key``) and takes $\lfloor N/B \rfloor$ consecutive batches of $B$ rows,
    so each row is used at most once per epoch.

    Args:
        key: a ``jax.random`` key (the shuffles are drawn from it).
        w0, X, y, learning_rate: as :func:`gradient_descent`.
        batch_size: $B$, ``1 <= B <= N``.
        steps: number of updates.

    Returns:
        ``(params, history)`` as :func:`gradient_descent`; ``history.loss[t]`` is the loss
        of step ``t``'s mini-batch (as :func:`dlmath.training.fit` records it).

    Raises:
        ValueError: for bad shapes, ``batch_size`` outside ``[1, N]``, ``steps < 0``, or a learning
            rate that is not a finite positive scalar.
        TypeError: non-floating inputs, non-int sizes; a missing or wrong ``key``.
    """
    return _descend("minibatch_gradient_descent", w0, X, y, learning_rate, steps,
                    batch_size=batch_size, key=key)
