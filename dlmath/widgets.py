"""ipywidgets explorers: a parameter's effect, seen by moving a slider."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

__all__ = ["gradient_descent_explorer"]


def gradient_descent_explorer(X, y, w0, *, steps: int = 40, key=None):
    r"""Learning rate (and batch size) → gradient-descent path on the loss contours and the
    loss curve, for linear regression with two parameters.

    The slider is the ratio $\eta / \eta_{max}$ with $\eta_{max} = 2/\lambda_{max}$ (see
    :func:`dlmath.linear_regression.max_stable_learning_rate`): below 1 the path converges,
    above 1 it diverges.

    Args:
        X: ``(N, 2)`` design matrix. y: ``(N,)``. w0: ``(2,)`` start.
        steps: number of updates drawn.
        key: a ``jax.random`` key for the mini-batches (batch size < N); default key 0.

    Returns:
        An ``ipywidgets.interactive`` widget (display it, or let it be a cell's value).

    Raises:
        ValueError: if ``X`` does not have two columns.
    """
    import ipywidgets as widgets
    import jax
    import matplotlib.pyplot as plt

    from dlmath import linear_regression as lr
    from dlmath import plot

    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(
            f"gradient_descent_explorer: X must have shape (N, 2) to be drawn; got {X.shape}."
        )
    key = jax.random.key(0) if key is None else key
    n = X.shape[0]
    w_star = lr.normal_equations(X, y)
    eta_max = float(lr.max_stable_learning_rate(X))
    span = 1.6 * float(jnp.max(jnp.abs(w0 - w_star))) + 0.1

    def draw(ratio=0.5, batch_size=n):
        eta = ratio * eta_max
        if batch_size >= n:
            ws, losses = lr.gradient_descent(w0, X, y, eta, steps)
        else:
            ws, losses = lr.minibatch_gradient_descent(key, w0, X, y, eta, batch_size, steps)
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
        plot.loss_surface(lambda w: lr.loss(w, X, y), w_star, span, ax=a1)
        shown = np.clip(np.asarray(ws), np.asarray(w_star) - span, np.asarray(w_star) + span)
        plot.path(shown, ax=a1)
        a1.plot(*np.asarray(w_star), "*", color="white", markersize=12)
        verdict = "converges" if ratio < 1 else "diverges"
        a1.set_title(f"eta = {ratio:.2f} x 2/lambda_max ({verdict} for full batch)")
        plot.loss_curve(np.minimum(np.asarray(losses), 1e12), ax=a2)
        a2.set_title(f"loss, batch size {batch_size}")
        plt.show()

    return widgets.interactive(
        draw,
        ratio=widgets.FloatSlider(0.5, min=0.05, max=1.2, step=0.05, description="eta/eta_max",
                                  continuous_update=False),
        batch_size=widgets.IntSlider(n, min=1, max=n, step=1, description="batch size",
                                     continuous_update=False),
    )
