"""Matplotlib figures used across the chapters. Each function draws on a given ``ax`` (or
a new one) and returns it; nothing changes matplotlib's global style."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "new_axes",
    "loss_surface",
    "path",
    "loss_curve",
    "training_curves",
    "heatmap",
    "confusion_heatmap",
    "probability_bars",
    "function_and_derivative",
    "activation_grid",
    "trajectories",
]


def new_axes(ax=None, figsize=(5, 4)):
    """``ax`` itself, or the axes of a new figure of ``figsize`` inches when ``ax`` is None."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _require_points(who: str, name: str, x, legend: str, ncols: int | None) -> None:
    """A real array of shape ``legend`` (``(T,)`` or ``(T, 2)``) with ``T >= 1``."""
    from dlmath import _checks

    _checks.require_real(who, name, x)
    _checks.require_ndim(who, name, x, 1 if ncols is None else 2, legend)
    shape = _checks.shape_of(x)
    if (ncols is not None and shape[1] != ncols) or shape[0] == 0:
        raise ValueError(f"{who}: {name} must have shape {legend} with T >= 1; got "
                         f"{_checks.fmt(shape)}.")


def loss_surface(loss_fn, center, span, *, ax=None, levels=25, resolution=121,
                 labels=("$w_0$", "$w_1$")):
    """Filled contours of a loss of two parameters around ``center``.

    Args:
        loss_fn: JAX function of a ``(2,)`` parameter vector returning a scalar.
        center: ``(2,)`` the middle of the view (e.g. the minimiser).
        span: half-width of the view, a float or ``(2,)``, positive and finite.
        levels: number of contour levels (spaced on a log scale above the minimum), >= 2.
        resolution: grid points per axis, >= 2.

    Returns:
        The axes.

    Raises:
        TypeError: ``loss_fn`` not callable; non-real ``center`` or ``span``; non-int ``levels`` or
            ``resolution``.
        ValueError: wrong shapes, a non-finite centre, a span that is not positive and finite,
            ``levels`` or ``resolution`` below 2.
    """
    from dlmath import _checks

    who = "loss_surface"
    _checks.require_callable(who, "loss_fn", loss_fn, "a function of a (2,) vector")
    _checks.count(who, "levels", levels, low=2)
    _checks.count(who, "resolution", resolution, low=2)
    for name, value in (("center", center), ("span", span)):
        if not isinstance(value, (int, float)):
            _checks.require_real(who, name, np.asarray(value) if isinstance(
                value, (list, tuple)) else value)
    center = np.asarray(center, np.float64)
    span = np.asarray(span, np.float64)
    if center.shape != (2,) or not np.all(np.isfinite(center)):
        raise ValueError(f"{who}: center must be 2 finite numbers (2,); got {center!r}.")
    if span.shape not in ((), (2,)) or not np.all(np.isfinite(span)) or not np.all(span > 0):
        raise ValueError(f"{who}: span must be a positive finite number or (2,) of them; got "
                         f"{span!r}.")
    ax = new_axes(ax)
    span = np.broadcast_to(span, (2,))
    a = np.linspace(center[0] - span[0], center[0] + span[0], resolution)
    b = np.linspace(center[1] - span[1], center[1] + span[1], resolution)
    A, B = np.meshgrid(a, b)
    grid = jnp.stack([A.ravel(), B.ravel()], axis=1).astype(jnp.float32)
    Z = np.asarray(jax.vmap(loss_fn)(grid)).reshape(A.shape)
    lo, hi = float(Z.min()), float(Z.max())
    lv = lo + (hi - lo) * np.geomspace(1e-3, 1.0, levels)
    ax.contourf(A, B, Z, levels=np.concatenate([[lo], lv]), cmap="viridis", alpha=0.85)
    ax.contour(A, B, Z, levels=lv, colors="white", linewidths=0.4, alpha=0.6)
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.set_xlim(a[0], a[-1])
    ax.set_ylim(b[0], b[-1])
    return ax


def path(points, *, ax=None, color="tab:red", label=None, marker="o", markersize=3):
    """A parameter path ``(T, 2)`` as a line with markers, the start marked by a square.

    On axes that already show something (e.g. :func:`loss_surface`), the view is kept: a
    diverging path leaves the picture instead of zooming it out.

    Raises:
        TypeError: non-real ``points``.
        ValueError: ``points`` not of shape ``(T, 2)``, ``T >= 1``.
    """
    _require_points("path", "points", points, "(T, 2)", 2)
    ax = new_axes(ax)
    keep = ax.has_data()
    limits = ax.get_xlim(), ax.get_ylim()
    p = np.asarray(points)
    ax.plot(p[:, 0], p[:, 1], marker=marker, markersize=markersize, color=color, lw=1.2,
            label=label)
    ax.plot(p[0, 0], p[0, 1], "s", color=color, markersize=6)
    if keep:
        ax.set_xlim(limits[0])
        ax.set_ylim(limits[1])
    return ax


def loss_curve(losses, *, ax=None, label=None, log=True, color=None):
    """Loss against step, on a log scale by default (linear convergence is a straight line).

    Raises:
        TypeError: non-real ``losses``.
        ValueError: ``losses`` not of shape ``(T,)``, ``T >= 1``.
    """
    _require_points("loss_curve", "losses", losses, "(T,)", None)
    ax = new_axes(ax)
    ax.plot(np.arange(len(losses)), np.asarray(losses), label=label, color=color)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    return ax


def training_curves(history, *, axes=None, figsize=(10, 3.5)):
    """Training loss (log scale) and the evaluated metrics against the step, side by side,
    from the :class:`dlmath.training.History` that :func:`dlmath.training.fit` returns.

    Left: the loss of every step (on its mini-batch, so it is noisy) and its running mean
    over a twentieth of the steps. Right: every metric of ``history.evaluations``
    (held-out accuracy, ...) at the steps where it was evaluated.

    Args:
        history: a ``History`` (``loss``: ``(T,)``; ``evaluations``: ``[(step, dict)]``).
        axes: two matplotlib axes, or ``None`` for a new figure.

    Returns:
        The two axes.

    Raises:
        TypeError: if ``history`` is not a ``History``.
        ValueError: if it holds no step.
    """
    import matplotlib.pyplot as plt

    if not all(hasattr(history, f) for f in ("loss", "evaluations")):
        raise TypeError(
            "training_curves: history must be the History that dlmath.training.fit returns "
            f"(loss, path, evaluations); got {type(history).__name__}."
        )
    loss = np.asarray(history.loss, np.float64)
    if loss.ndim != 1 or loss.size == 0:
        raise ValueError(f"training_curves: history.loss must hold one value per step; got "
                         f"shape {loss.shape}. Train for at least one step.")
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=figsize)
    steps = np.arange(1, loss.size + 1)
    window = max(1, loss.size // 20)
    smooth = np.convolve(loss, np.ones(window) / window, mode="valid")
    axes[0].plot(steps, loss, alpha=0.3, label="per step")
    axes[0].plot(steps[window - 1:], smooth, label=f"mean of {window} steps")
    axes[0].set_yscale("log")
    axes[0].set(xlabel="step", ylabel="training loss")
    axes[0].legend()
    names = sorted({name for _, metrics in history.evaluations for name in metrics})
    for name in names:
        pts = [(s, float(m[name])) for s, m in history.evaluations if name in m]
        axes[1].plot(*zip(*pts, strict=True), "o-", ms=3, label=name.replace("_", " "))
    axes[1].set(xlabel="step", ylabel="metric")
    if names:
        axes[1].legend()
    return axes


# ------------------------------------------------------------------ chapter 03 figures



def heatmap(values, xs, ys, *, ax=None, xlabel="x", ylabel="y", label=None, cmap="magma",
            vmax=None):
    """A function of two variables sampled on a grid: ``values[i, j]`` at ``(xs[j], ys[i])``.

    Args:
        values: ``(len(ys), len(xs))``. xs, ys: increasing grid coordinates.
        label: the colour bar's label. vmax: clip the colour scale at this value (the
            scale then starts at 0, for non-negative quantities such as a divergence).

    Returns:
        The axes.

    Raises:
        ValueError: if ``values`` is not ``(len(ys), len(xs))``.
    """
    v = np.asarray(values, np.float64)
    if v.shape != (np.size(ys), np.size(xs)):
        raise ValueError(
            f"heatmap: values must have shape (len(ys), len(xs)) = ({np.size(ys)}, "
            f"{np.size(xs)}); got {v.shape}. Rows follow ys, columns xs (meshgrid indexing='xy')."
        )
    ax = new_axes(ax)
    mesh = ax.pcolormesh(np.asarray(xs), np.asarray(ys), v, cmap=cmap, shading="auto",
                         vmin=0.0 if vmax is not None else None, vmax=vmax)
    ax.figure.colorbar(mesh, ax=ax, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return ax


def confusion_heatmap(counts, *, ax=None, class_names=None, title=None):
    """Draws a confusion matrix ``(K, K)``, the counts of
    :func:`dlmath.metrics.confusion_matrix` (rows: true class, columns: predicted), each cell
    annotated with its count (zero cells are left blank); the diagonal holds the correct
    predictions. ``class_names``: ``K`` tick labels (default ``0 .. K-1``).

    Raises:
        ValueError: if ``counts`` is not square ``(K, K)`` or ``class_names`` has not ``K`` entries.
    """
    c = np.asarray(counts)
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise ValueError(f"confusion_heatmap: counts must have shape (K, K); got {c.shape}.")
    k = c.shape[0]
    if class_names is not None and len(class_names) != k:
        raise ValueError(
            f"confusion_heatmap: class_names must have K = {k} entries; got {len(class_names)}."
        )
    ax = new_axes(ax, figsize=(5, 4.5))
    names = [str(n) for n in (class_names if class_names is not None else range(k))]
    ax.imshow(c, cmap="Blues")
    for i in range(k):
        for j in range(k):
            if c[i, j]:
                ax.text(j, i, str(int(c[i, j])), ha="center", va="center", fontsize=8,
                        color="white" if c[i, j] > 0.5 * c.max() else "black")
    ax.set_xticks(range(k), names)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if title:
        ax.set_title(title)
    return ax


def probability_bars(probabilities, *, ax=None, labels=None, title=None, color="tab:blue"):
    """A probability vector ``(K,)`` as bars on ``[0, 1]``; ``labels``: ``K`` bar names.

    Raises:
        ValueError: if ``probabilities`` is not ``(K,)`` or ``labels`` has not ``K`` entries.
    """
    p = np.asarray(probabilities, np.float64)
    if p.ndim != 1:
        raise ValueError(
            f"probability_bars: probabilities must have shape (K,); got {p.shape}. "
            "Plot one distribution at a time, e.g. p[0]."
        )
    if labels is not None and len(labels) != p.shape[0]:
        raise ValueError(
            f"probability_bars: labels must have K = {p.shape[0]} entries; got {len(labels)}."
        )
    ax = new_axes(ax)
    names = [str(n) for n in (labels if labels is not None else range(p.shape[0]))]
    ax.bar(names, p, color=color)
    ax.set_ylim(0.0, 1.0)
    ax.set_ylabel("probability")
    if title:
        ax.set_title(title)
    return ax


# ------------------------------------------------------------------ chapter 02 figures



def _check_plot_args(who: str, fn, x_range) -> None:
    """An elementwise function and an interval ``(low, high)`` of finite numbers."""
    from dlmath import _checks

    _checks.require_callable(who, "fn", fn, "an elementwise JAX function")
    if not isinstance(x_range, (tuple, list)) or len(x_range) != 2:
        raise ValueError(f"{who}: x_range must be a pair (low, high); got {x_range!r}.")
    for end in x_range:
        _checks.hyperparameter(who, "each end of x_range", end)
    if not float(x_range[0]) < float(x_range[1]):
        raise ValueError(f"{who}: x_range must have low < high; got {tuple(x_range)!r}. "
                         "Swap the ends.")


def function_and_derivative(fn, *, ax=None, x_range=(-5.0, 5.0), resolution=401, label=None,
                            derivative=True, color=None):
    """An elementwise function (solid) and its derivative by ``jax.grad`` (dashed, same
    colour) over ``x_range``, with the axes through the origin drawn lightly.

    Args:
        fn: a JAX function of a float32 scalar returning a scalar (an activation).
        x_range: ``(low, high)``. resolution: number of grid points.
        label: legend label of the function (the derivative gets ``label + "'"``).
        derivative: also draw ``jax.vmap(jax.grad(fn))``.

    Returns:
        The axes.

    Raises:
        TypeError: if ``fn`` is not callable or ``resolution`` not an int.
        ValueError: if ``x_range`` is not two finite numbers ``low < high`` or ``resolution < 2``.
    """
    from dlmath import _checks

    _check_plot_args("function_and_derivative", fn, x_range)
    _checks.count("function_and_derivative", "resolution", resolution, low=2)
    ax = new_axes(ax)
    xs = jnp.linspace(float(x_range[0]), float(x_range[1]), resolution, dtype=jnp.float32)
    (line,) = ax.plot(np.asarray(xs), np.asarray(fn(xs)), color=color, lw=1.6, label=label)
    if derivative:
        ax.plot(np.asarray(xs), np.asarray(jax.jit(jax.vmap(jax.grad(fn)))(xs)), "--",
                color=line.get_color(), lw=1.2, label=None if label is None else f"{label}'")
    ax.axhline(0.0, color="0.75", lw=0.6, zorder=0)
    ax.axvline(0.0, color="0.75", lw=0.6, zorder=0)
    ax.set_xlim(float(x_range[0]), float(x_range[1]))
    return ax


def activation_grid(functions, *, x_range=(-5.0, 5.0), ncols=4, panel_size=(3.0, 2.4),
                    derivative=True):
    """A grid of small axes, one per function: the function (solid) and its derivative
    (dashed), each titled with its name.

    Args:
        functions: name -> elementwise JAX function, in display order.
        x_range: the common ``(low, high)``. ncols: panels per row.
        panel_size: ``(width, height)`` of one panel in inches.
        derivative: also draw the derivatives.

    Returns:
        The matplotlib figure (end the cell with ``plt.show()``).

    Raises:
        ValueError: if ``functions`` is empty, ``ncols < 1`` or ``x_range`` is not an interval.
        TypeError: if a function is not callable or ``ncols`` not an int.
    """
    import matplotlib.pyplot as plt

    from dlmath import _checks

    _checks.count("activation_grid", "ncols", ncols, low=1)
    for fn in dict(functions).values():
        _check_plot_args("activation_grid", fn, x_range)
    if not functions or ncols < 1:
        raise ValueError(
            f"activation_grid: need at least one function and ncols >= 1; got "
            f"{len(functions)} functions, ncols={ncols}."
        )
    n = len(functions)
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, squeeze=False, sharex=True,
                             figsize=(panel_size[0] * ncols, panel_size[1] * nrows))
    for ax, (name, fn) in zip(axes.flat, functions.items(), strict=False):
        function_and_derivative(fn, ax=ax, x_range=x_range, derivative=derivative,
                                label="f", color="tab:blue")
        ax.set_title(name, fontsize=10)
    for ax in axes.flat[n:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------ chapter 05 figures



def trajectories(loss_fn, paths, center, span, *, ax=None, minimum=None, resolution=101,
                 markersize=2):
    """Several optimizer paths on the contours of a loss of two parameters.

    Args:
        loss_fn: JAX function of a ``(2,)`` vector returning a scalar.
        paths: ``{label: (T, 2) array}``, drawn in the order given, one colour each.
        center, span: the view, as :func:`loss_surface`.
        minimum: optional ``(2,)`` point marked with a white star.

    Returns:
        The axes (the view stays fixed: a diverging path leaves the picture).

    Raises:
        ValueError: if a path is not of shape ``(T, 2)``.

    Used in ``notebooks/05_optimizers.ipynb`` (GD, momentum, Adam on a quadratic and on
    Rosenbrock's valley).
    """
    for label, points in paths.items():
        shape = np.shape(points)
        if len(shape) != 2 or shape[1] != 2:
            raise ValueError(
                f"trajectories: paths[{label!r}] must have shape (T, 2), one row per step; got "
                f"{shape}. Pass the (T + 1, 2) path of dlmath.training.trajectory for 2-D params."
            )
    ax = loss_surface(loss_fn, center, span, ax=ax, resolution=resolution)
    colors = ["tab:red", "tab:orange", "white", "tab:cyan", "tab:pink", "black"]
    for k, (label, points) in enumerate(paths.items()):
        path(np.asarray(points), ax=ax, color=colors[k % len(colors)], label=label,
             markersize=markersize)
    if minimum is not None:
        ax.plot(*np.asarray(minimum), "*", color="white", markersize=12, markeredgecolor="k")
    ax.legend(fontsize=8, loc="lower right")
    return ax
