r"""Linear regression $\hat y = Xw$ fitted by least squares: loss, gradient, Hessian, the
closed-form solution, the step-size bound, and gradient descent.

Shapes (legend letters): ``X: (N, D)`` design matrix (add a ones column with
:func:`design_matrix` for an intercept), ``w: (D,)``, ``y: (N,)``.
Derived in ``notebooks/01_linear_regression.ipynb``.
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
    "hessian",
    "normal_equations",
    "max_stable_learning_rate",
    "gradient_descent",
    "minibatch_gradient_descent",
]


def _check_xwy(who: str, X, w=None, y=None) -> None:
    _checks.require_floating(who, "X", X)
    _checks.require_ndim(who, "X", X, 2, "(N, D)", "Reshape a single feature with x[:, None].")
    n, d = _checks.shape_of(X)
    if w is not None:
        _checks.require_floating(who, "w", w)
        if _checks.shape_of(w) != (d,):
            raise ValueError(
                f"{who}: w must have shape (D,) = ({d},) to match X (N, D) = ({n}, {d}); "
                f"got w {_checks.fmt(_checks.shape_of(w))}."
            )
    if y is not None:
        _checks.require_real(who, "y", y)
        if _checks.shape_of(y) != (n,):
            raise ValueError(
                f"{who}: y must have shape (N,) = ({n},) to match X (N, D) = ({n}, {d}); "
                f"got y {_checks.fmt(_checks.shape_of(y))}. A column (N, 1) needs y.reshape(-1)."
            )


def _concrete(x) -> bool:
    """True outside tracing (under jit, values are unknown and only shapes are checked)."""
    return not isinstance(x, jax.core.Tracer)


def _check_learning_rate(who: str, learning_rate) -> None:
    if _checks.shape_of(learning_rate) != ():
        raise ValueError(
            f"{who}: learning_rate must be a scalar; got shape "
            f"{_checks.fmt(_checks.shape_of(learning_rate))}. One rate per coordinate is "
            "not gradient descent on this loss."
        )
    if _concrete(learning_rate) and not float(learning_rate) > 0:
        raise ValueError(f"{who}: learning_rate must be > 0; got {float(learning_rate)}.")


def design_matrix(x):
    r"""Prepend a column of ones to the features, so that $w_0$ is the intercept.

    Args:
        x: features ``(N,)`` (one feature) or ``(N, F)``.

    Returns:
        ``X`` of shape ``(N, F + 1)``: ``[1, x]``.

    Raises:
        TypeError: if ``x`` is not floating. ValueError: if ``x`` has more than 2 axes.
    """
    _checks.require_floating("design_matrix", "x", x)
    x = jnp.asarray(x)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"design_matrix: x must have shape (N,) or (N, F); got {x.shape}.")
    return jnp.concatenate([jnp.ones((x.shape[0], 1), x.dtype), x], axis=1)


def predict(w, X):
    r"""The linear model $\hat y = Xw$; ``w: (D,)``, ``X: (N, D)`` → ``(N,)``.

    Raises:
        ValueError: for shapes other than ``(D,)``, ``(N, D)``. TypeError: non-floating input.
    """
    _check_xwy("predict", X, w)
    return X @ w


def loss(w, X, y):
    r"""The least-squares loss $L(w) = \operatorname{mse}(Xw, y)$, a scalar.

    Derived as the Gaussian negative log-likelihood (up to constants) in
    ``notebooks/01_linear_regression.ipynb``.

    Raises:
        ValueError: for shapes other than ``(D,)``, ``(N, D)``, ``(N,)``.
        TypeError: for non-floating ``w`` or ``X``.
    """
    _check_xwy("loss", X, w, y)
    return mse(X @ w, y)


@jax.jit
def _gradient(w, X, y):
    n = X.shape[0]
    return (2.0 / n) * (X.T @ (X @ w - y))


def mse_gradient(w, X, y):
    r"""Gradient of the least-squares loss, written out by hand (not autodiff).

    $$\frac{2}{N} X^{T} \left(X w - y\right)$$

    Args:
        w: ``(D,)`` weights. X: ``(N, D)`` design matrix. y: ``(N,)`` targets.

    Returns:
        ``(D,)``: $\nabla_w L$ for $L(w) = \frac1N \lVert Xw - y\rVert^2$ (see :func:`loss`).
        Derived (scalar and matrix form, proven equal) in
        ``notebooks/01_linear_regression.ipynb``.

    Raises:
        ValueError: when the shapes are not ``(D,)``, ``(N, D)``, ``(N,)``.
        TypeError: when ``w`` or ``X`` is not floating.
    """
    _check_xwy("mse_gradient", X, w, y)
    return _gradient(w, X, y)


def hessian(X):
    r"""Hessian of the least-squares loss (constant: the loss is quadratic in $w$).

    $$\frac{2}{N} X^{T} X$$

    Args:
        X: ``(N, D)``.

    Returns:
        ``(D, D)``, symmetric positive semi-definite ($v^T H v = \frac2N \lVert Xv\rVert^2$);
        derived and proven in ``notebooks/01_linear_regression.ipynb``.

    Raises:
        ValueError: if ``X`` is not ``(N, D)``. TypeError: if ``X`` is not floating.
    """
    _check_xwy("hessian", X)
    return (2.0 / X.shape[0]) * (X.T @ X)


def normal_equations(X, y):
    r"""The minimiser of the least-squares loss, from $X^T X w = X^T y$.

    $$\left(X^{T} X\right)^{-1} X^{T} y$$

    Solved with ``jnp.linalg.solve`` (never an explicit inverse). Derived and proven in
    ``notebooks/01_linear_regression.ipynb``.

    Args:
        X: ``(N, D)`` with full column rank. y: ``(N,)``.

    Returns:
        ``w*`` of shape ``(D,)``.

    Raises:
        ValueError: when ``N < D``, or when ``X`` (a concrete array, not a tracer under
            ``jit``) does not have full column rank: then $X^T X$ is singular and there are
            infinitely many minimisers; ``numpy.linalg.lstsq`` or ``pinv`` gives the one of
            minimum norm. Under ``jit`` the rank cannot be checked and a singular system
            gives meaningless numbers.
        TypeError: for non-floating ``X``.
    """
    _check_xwy("normal_equations", X, None, y)
    n, d = X.shape
    if n < d:
        raise ValueError(
            f"normal_equations: X (N, D) = ({n}, {d}) has fewer rows than columns, so X^T X "
            "is singular; use numpy.linalg.lstsq for the minimum-norm solution."
        )
    if _concrete(X):
        rank = int(np.linalg.matrix_rank(np.asarray(X, np.float64)))
        if rank < d:
            raise ValueError(
                f"normal_equations: X (N, D) = ({n}, {d}) has rank {rank} < D, so X^T X is "
                "singular (a column repeats or is a combination of others); use "
                "numpy.linalg.lstsq or pinv for the minimum-norm solution."
            )
    return jnp.linalg.solve(X.T @ X, X.T @ y)


def max_stable_learning_rate(X):
    r"""The largest learning rate for which gradient descent on :func:`loss` converges.

    $$\frac{2}{\lambda_{max}}$$

    where $\lambda_{max}$ is the largest eigenvalue of :func:`hessian`. Any $\eta$ below it
    converges from every start; above it, the component along the top eigenvector grows
    by the factor $|1 - \eta\lambda_{max}| > 1$ per step.

    Derived and proven in ``notebooks/01_linear_regression.ipynb``.

    Args:
        X: ``(N, D)``.

    Returns:
        A scalar.

    Raises:
        ValueError: if ``X`` (concrete) is all zeros, so $\lambda_{max} = 0$ and every
            rate is stable. TypeError: for non-floating ``X``.
    """
    _check_xwy("max_stable_learning_rate", X)
    lam_max = jnp.linalg.eigvalsh(hessian(X))[-1]
    if _concrete(lam_max) and not float(lam_max) > 0:
        raise ValueError(
            "max_stable_learning_rate: the Hessian (2/N) X^T X is zero (X has no non-zero "
            "entry), so the loss is flat and no learning rate is too large."
        )
    return 2.0 / lam_max


@partial(jax.jit, static_argnames="steps")
def _gd(w0, X, y, learning_rate, steps):
    def step(w, _):
        w_next = w - learning_rate * _gradient(w, X, y)
        return w_next, w_next

    _, ws = jax.lax.scan(step, w0, None, length=steps)
    path = jnp.concatenate([w0[None], ws], axis=0)
    losses = jax.vmap(lambda w: jnp.mean(jnp.square(X @ w - y)))(path)
    return path, losses


def gradient_descent(w0, X, y, learning_rate, steps: int):
    r"""Full-batch gradient descent $w_{t+1} = w_t - \eta \nabla_w L(w_t)$, jit-compiled.

    Args:
        w0: ``(D,)`` start. X: ``(N, D)``. y: ``(N,)``.
        learning_rate: $\eta > 0$ (see :func:`max_stable_learning_rate`).
        steps: number of updates $T$ (static: a new value recompiles).

    Returns:
        ``(path, losses)``: ``path`` is ``(T + 1, D)`` with ``path[0] = w0``; ``losses`` is
        ``(T + 1,)``, the loss at each point of the path.

    Raises:
        ValueError: for bad shapes, ``steps < 0``, or a learning rate that is not a
            positive scalar. TypeError: for non-floating inputs.
    """
    _check_xwy("gradient_descent", X, w0, y)
    _check_learning_rate("gradient_descent", learning_rate)
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"gradient_descent: steps must be an int >= 0; got {steps!r}.")
    return _gd(w0, X, y, learning_rate, steps)


@partial(jax.jit, static_argnames=("steps", "batch_size"))
def _sgd(key, w0, X, y, learning_rate, batch_size, steps):
    n = X.shape[0]

    def step(w, k):
        idx = jax.random.choice(k, n, (batch_size,), replace=False)
        w_next = w - learning_rate * _gradient(w, X[idx], y[idx])
        return w_next, w_next

    _, ws = jax.lax.scan(step, w0, jax.random.split(key, steps))
    path = jnp.concatenate([w0[None], ws], axis=0)
    losses = jax.vmap(lambda w: jnp.mean(jnp.square(X @ w - y)))(path)
    return path, losses


def minibatch_gradient_descent(key, w0, X, y, learning_rate, batch_size: int, steps: int):
    r"""Mini-batch gradient descent: each step uses the gradient on ``batch_size`` rows
    drawn without replacement, $w_{t+1} = w_t - \eta\,\frac{2}{B} X_B^T(X_B w_t - y_B)$.

    Args:
        key: a ``jax.random`` key (the batches are drawn from it).
        w0, X, y, learning_rate: as :func:`gradient_descent`.
        batch_size: $B$, ``1 <= B <= N`` (static).
        steps: number of updates (static).

    Returns:
        ``(path, losses)`` as :func:`gradient_descent`; ``losses`` is the full-data loss.

    Raises:
        ValueError: for bad shapes, ``batch_size`` outside ``[1, N]``, ``steps < 0``, or a
            learning rate that is not a positive scalar. TypeError: non-floating inputs.
    """
    _check_xwy("minibatch_gradient_descent", X, w0, y)
    _check_learning_rate("minibatch_gradient_descent", learning_rate)
    n = X.shape[0]
    if not isinstance(batch_size, int) or not 1 <= batch_size <= n:
        raise ValueError(
            f"minibatch_gradient_descent: batch_size must be an int in [1, N] = [1, {n}]; "
            f"got {batch_size!r}."
        )
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"minibatch_gradient_descent: steps must be an int >= 0; got {steps!r}.")
    return _sgd(key, w0, X, y, learning_rate, batch_size, steps)
