"""ipywidgets explorers: a parameter's effect, seen by moving a slider.

Explorers draw with matplotlib's object API (no pyplot, nothing global) into an
``ipywidgets.Image`` that is re-rendered when a control changes. The figure is part of the
widget, not a cell output, so a notebook's stored outputs are the same whether it runs in
JupyterLab, headless, or under nbval.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable

import jax.numpy as jnp
import numpy as np

__all__ = [
    "figure_explorer",
    "gradient_descent_explorer",
    "TrainingProgress",
    "softmax_temperature_explorer",
    "optimizer_explorer",
    "activation_explorer",
]


def figure_explorer(draw: Callable, *, figsize=(10, 4), dpi: int = 80, **controls):
    """Controls above a figure that ``draw(fig, **values)`` redraws whenever one changes.

    Args:
        draw: ``draw(fig, **values)`` draws on a fresh ``matplotlib.figure.Figure`` (use
            ``fig.subplots(...)``); ``values`` has the current value of every control.
        figsize, dpi: the figure's size in inches and its resolution.
        **controls: name -> an ipywidgets value widget (``FloatSlider``, ``Dropdown``, ...).

    Returns:
        An ``ipywidgets.VBox`` of the controls and the figure (an ``Image`` widget); its
        ``.redraw()`` re-renders with the current values (called once at creation). Its text
        form, shown where the widget cannot be drawn (a notebook opened before its cells
        run), names the controls: ``Explorer of rate, steps: run the cell to move the
        controls.``

    Raises:
        ValueError: if no control is given.
    """
    import ipywidgets as widgets
    from matplotlib.figure import Figure

    if not controls:
        raise ValueError("figure_explorer: give at least one control, e.g. rate=FloatSlider().")
    image = widgets.Image(format="png")

    def redraw(*_):
        fig = Figure(figsize=figsize, dpi=dpi, layout="tight")
        draw(fig, **{name: c.value for name, c in controls.items()})
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        image.value = buf.getvalue()

    for c in controls.values():
        c.observe(redraw, names="value")
    # the text form reads the children when shown: a caller may regroup the controls
    box = _described_box([*controls.values(), image], lambda b: "Explorer of " + ", ".join(
        _control_name(c) for c in b.children[:-1]) + ": run the cell to move the controls.")
    box.redraw = redraw
    redraw()
    return box


def _control_name(control) -> str:
    """How an explorer's text form names a control: its description, else its kind."""
    import ipywidgets as widgets

    if isinstance(control, widgets.Box):  # a row of controls, e.g. checkboxes
        kinds = {type(c).__name__.lower() for c in control.children}
        if len(kinds) != 1:
            return "a row of controls"
        kind = kinds.pop()
        return f"a row of {kind}{'es' if kind.endswith('x') else 's'}"
    return getattr(control, "description", "") or type(control).__name__.lower()


def _described_box(children, text_form: Callable):
    """An ``ipywidgets.VBox`` of ``children`` whose text form is ``text_form(box)``: that is
    what a notebook shows for it before its cell runs (no kernel, no widget to draw), what
    the book shows where it has no stored widget state, and what nbval compares."""
    box = _described_box_class()(children)
    box.text_form = text_form
    return box


@functools.cache
def _described_box_class():
    import ipywidgets as widgets

    class DescribedBox(widgets.VBox):
        def __repr__(self):
            return self.text_form(self)

    return DescribedBox


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
        A :func:`figure_explorer` widget (display it, or let it be a cell's value).

    Raises:
        ValueError: if ``X`` does not have two columns, ``y`` or ``w0`` do not match it, or
            ``steps < 1``.
        TypeError: non-floating ``X`` or ``w0``, a non-int ``steps``.
    """
    import ipywidgets as widgets
    import jax

    from dlmath import _checks, plot
    from dlmath import linear_regression as lr

    who = "gradient_descent_explorer"
    _checks.require_floating(who, "X", X)
    if len(_checks.shape_of(X)) != 2 or _checks.shape_of(X)[1] != 2:
        raise ValueError(
            f"{who}: X must have shape (N, 2) to be drawn; got {_checks.fmt(_checks.shape_of(X))}."
        )
    _checks.count(who, "steps", steps, low=1)
    _checks.regression_data(who, X, w0, y, w_name="w0")  # w0 (2,), y (N,), N >= 1
    key = jax.random.key(0) if key is None else key
    n = X.shape[0]
    w_star = lr.normal_equations(X, y)
    eta_max = float(lr.max_stable_learning_rate(X))
    span = 1.6 * float(jnp.max(jnp.abs(w0 - w_star))) + 0.1

    def draw(fig, ratio, batch_size):
        eta = ratio * eta_max
        if batch_size >= n:
            _, history = lr.gradient_descent(w0, X, y, eta, steps)
        else:
            _, history = lr.minibatch_gradient_descent(key, w0, X, y, eta, batch_size, steps)
        ws = history.path  # and the full-data loss at each of its points
        losses = jax.vmap(lr.loss, (0, None, None))(ws, X, y)
        a1, a2 = fig.subplots(1, 2)
        plot.loss_surface(lambda w: lr.loss(w, X, y), w_star, span, ax=a1)
        plot.path(np.asarray(ws), ax=a1)
        a1.plot(*np.asarray(w_star), "*", color="white", markersize=12)
        verdict = "converges" if ratio < 1 else "diverges"
        a1.set_title(f"eta = {ratio:.2f} x 2/lambda_max ({verdict} for full batch)")
        plot.loss_curve(np.minimum(np.asarray(losses), 1e12), ax=a2)
        a2.set_title(f"loss, batch size {batch_size}")

    return figure_explorer(
        draw,
        ratio=widgets.FloatSlider(0.5, min=0.05, max=1.2, step=0.05, description="eta/eta_max",
                                  continuous_update=False),
        batch_size=widgets.IntSlider(n, min=1, max=n, step=1, description="batch size",
                                     continuous_update=False),
    )


class TrainingProgress:
    """A progress bar and a one-line status for :func:`dlmath.training.fit` (chapter 04).

    Displayed once (the notebook stores the text form at that moment, with value 0:
    ``Training progress: step 0/1680 (a bar that moves while the cell runs).``), then
    updated in place: pass the object as ``fit``'s ``callback(step, history)``, with
    ``history`` the :class:`dlmath.training.History` so far. The status shows the last
    step's training loss and the last metrics of ``evaluate``. The stored output therefore
    never depends on how far, or how fast, training went.

    Args:
        total: the number of steps (the bar's maximum), an int >= 1.
        description: the bar's label.

    Raises:
        ValueError: if ``total < 1``.
        TypeError: if ``total`` is not an int.
    """

    def __init__(self, total: int, description: str = "step"):
        import ipywidgets as widgets

        from dlmath import _checks

        _checks.count("TrainingProgress", "total", total, low=1)
        self.bar = widgets.IntProgress(value=0, min=0, max=total, description=description)
        self.status = widgets.HTML(value="")
        self.box = _described_box([self.bar, self.status], lambda _: (
            f"Training progress: {self.bar.description} {self.bar.value}/{self.bar.max} "
            "(a bar that moves while the cell runs)."))

    def display(self):
        """Show the bar in the current output (once, before training)."""
        from IPython.display import display

        display(self.box)
        return self

    def __call__(self, step: int, history) -> None:
        """Move the bar to ``step`` and show the last loss and the last evaluation."""
        self.bar.value = min(int(step), self.bar.max)
        parts = []
        if len(history.loss):
            parts.append(f"loss {float(history.loss[-1]):.4f}")
        if history.evaluations:
            parts += [f"{name} {float(value):.4f}"
                      for name, value in history.evaluations[-1][1].items()]
        self.status.value = f"step {int(step)}/{self.bar.max}: " + ", ".join(parts)


# ------------------------------------------------------------------ chapter 03



def softmax_temperature_explorer(z, *, t_min: float = 0.05, t_max: float = 20.0,
                                 t0: float = 1.0):
    r"""Temperature $T$ → bar chart of $\operatorname{softmax}(z / T)$ for fixed logits.

    Small $T$ sharpens the distribution towards the one-hot vector of $\arg\max_k z_k$;
    large $T$ flattens it towards uniform. The title gives the entropy (in nats) against
    its maximum $\log K$.

    Args:
        z: logits ``(K,)``.
        t_min, t_max: the slider's range (log scale), ``0 < t_min < t_max``. t0: start.

    Returns:
        A :func:`figure_explorer` widget.

    Raises:
        TypeError: if ``z`` is not a real array (lists, complex numbers) or a temperature is not a
            real number.
        ValueError: if ``z`` is not ``(K,)``, or the range is not positive, finite and increasing,
            or ``t0`` lies outside it.

    Derived in ``notebooks/03_cross_entropy.ipynb`` (softmax temperature).
    """
    import ipywidgets as widgets

    from dlmath import _checks, plot
    from dlmath.activations import softmax
    from dlmath.information import entropy

    who = "softmax_temperature_explorer"
    _checks.require_real(who, "z", z)
    for name, value in (("t_min", t_min), ("t_max", t_max), ("t0", t0)):
        _checks.hyperparameter(who, name, value, low=0.0, low_open=True)
    z = jnp.asarray(z, jnp.float32)
    if z.ndim != 1 or z.shape[0] == 0:
        raise ValueError(
            f"softmax_temperature_explorer: z must have shape (K,) with K >= 1; got {z.shape}."
        )
    if not 0 < t_min <= t0 <= t_max or t_min == t_max:
        raise ValueError(
            "softmax_temperature_explorer: need 0 < t_min <= t0 <= t_max and t_min < t_max; "
            f"got t_min={t_min}, t0={t0}, t_max={t_max}."
        )

    def draw(fig, T):
        p = softmax(z / T)
        plot.probability_bars(p, ax=fig.subplots(), title=(
            f"softmax(z / T), T = {T:.3g}: entropy {float(entropy(p)):.3f} of "
            f"log K = {np.log(z.shape[0]):.3f} nats"))

    return figure_explorer(
        draw, figsize=(6, 3.5),
        T=widgets.FloatLogSlider(t0, base=10, min=np.log10(t_min), max=np.log10(t_max),
                                 step=0.05, description="T", continuous_update=False),
    )


# ------------------------------------------------------------------ chapter 05 explorers



def optimizer_explorer(loss_fn, start, center, span, *, steps: int = 150, minimum=None):
    r"""Learning rate, $\beta_1$ and $\beta_2$ → the paths of SGD, heavy-ball momentum
    ($\mu = \beta_1$), RMSProp (decay $\beta_2$) and Adam ($\beta_1, \beta_2$), all from
    :mod:`dlmath.optim`, on the same loss surface, with their loss curves.

    The paths come from :func:`dlmath.training.trajectory` with the hyper-parameters as traced
    arguments: each optimizer compiles once, at the first drawing, not at every slider move.

    Args:
        loss_fn: a scalar JAX function of a ``(2,)`` vector.
        start: ``(2,)`` the common starting point.
        center, span: the view (see :func:`dlmath.plot.loss_surface`).
        steps: updates per optimizer.
        minimum: optional ``(2,)`` minimiser, marked with a star.

    Returns:
        A :func:`figure_explorer` widget.

    Raises:
        ValueError: if ``start`` is not ``(2,)``.
    """
    import ipywidgets as widgets

    from dlmath import optim, plot, training

    start = jnp.asarray(start, jnp.float32)
    if start.shape != (2,):
        raise ValueError(f"optimizer_explorer: start must have shape (2,); got {start.shape}.")

    def draw(fig, log10_lr, b1, b2):
        lr = 10.0**log10_lr
        # factories and traced hyper-parameters: a slider move reuses the compiled paths
        optimizers = {
            "SGD": (optim.sgd, dict(learning_rate=lr)),
            f"momentum {b1:.2f}": (optim.sgd, dict(learning_rate=lr, momentum=b1)),
            f"RMSProp {b2:.3f}": (optim.rmsprop, dict(learning_rate=lr, decay=b2)),
            "Adam": (optim.adam, dict(learning_rate=lr, b1=b1, b2=b2)),
        }
        a1, a2 = fig.subplots(1, 2)
        paths = {}
        for name, (factory, hyperparameters) in optimizers.items():
            path, losses = training.trajectory(factory, loss_fn, start, steps, **hyperparameters)
            paths[name] = np.asarray(path)
            shown = np.where(np.isfinite(losses), np.asarray(losses), np.nan)
            plot.loss_curve(np.minimum(shown, 1e12), ax=a2, label=name)
        plot.trajectories(loss_fn, paths, center, span, ax=a1, minimum=minimum)
        a1.set_title(f"learning rate {lr:.3g}")
        a2.legend(fontsize=8)

    return figure_explorer(
        draw,
        log10_lr=widgets.FloatSlider(-2.5, min=-4.0, max=0.0, step=0.25,
                                     description="log10 lr", continuous_update=False),
        b1=widgets.FloatSlider(0.9, min=0.0, max=0.99, step=0.01, description="beta1",
                               continuous_update=False),
        b2=widgets.FloatSlider(0.999, min=0.5, max=0.999, step=0.001, description="beta2",
                               readout_format=".3f", continuous_update=False),
    )


# ------------------------------------------------------------------ chapter 02



def activation_explorer(functions, *, selected=None, x_range=(-5.0, 5.0), limit: float = 10.0):
    """Compare activations on one plot: a checkbox per function, an x-range slider, and a
    toggle that adds each function's derivative (by ``jax.grad``, dashed).

    Args:
        functions: name -> elementwise JAX function (e.g. ``dlmath.activations.sigmoid``).
        selected: the names checked at first (default: the first two).
        x_range: the initial ``(low, high)``; the slider spans ``[-limit, limit]``.

    Returns:
        A :func:`figure_explorer` widget whose first row holds the checkboxes.

    Raises:
        ValueError: if ``functions`` is empty, ``selected`` names an unknown function or
            ``limit <= 0``.
        TypeError: if a function is not callable.
    """
    import ipywidgets as widgets

    from dlmath import _checks, plot

    names = list(functions)
    if not names:
        raise ValueError("activation_explorer: functions is empty; give name -> function.")
    for n in names:
        _checks.require_callable("activation_explorer", f"functions[{n!r}]", functions[n],
                                 "an elementwise JAX function")
    _checks.hyperparameter("activation_explorer", "limit", limit, low=0.0, low_open=True)
    selected = names[:2] if selected is None else list(selected)
    unknown = [s for s in selected if s not in functions]
    if unknown:
        raise ValueError(
            f"activation_explorer: selected names {unknown} are not among the functions "
            f"{names}."
        )
    boxes = {n: widgets.Checkbox(value=n in selected, description=n, indent=False,
                                 layout=widgets.Layout(width="auto")) for n in names}
    x_slider = widgets.FloatRangeSlider(value=tuple(x_range), min=-limit, max=limit, step=0.5,
                                        description="x range", continuous_update=False)
    show_derivative = widgets.Checkbox(value=True, description="show derivatives")

    def draw(fig, x_range, derivative, **checked):
        ax = fig.subplots()
        chosen = [n for n in names if checked[f"_f{names.index(n)}"]]
        for n in chosen:
            plot.function_and_derivative(functions[n], ax=ax, x_range=x_range, label=n,
                                         derivative=derivative)
        if chosen:
            ax.legend(fontsize=8, ncols=2)
        ax.set_xlabel("x")
        if not chosen:
            ax.set_title("tick at least one function")
        else:
            ax.set_title("solid: f(x), dashed: f'(x)" if derivative else "f(x)")

    controls = {f"_f{k}": boxes[n] for k, n in enumerate(names)}
    explorer = figure_explorer(draw, figsize=(7, 4), x_range=x_slider, derivative=show_derivative,
                               **controls)
    explorer.children = (widgets.HBox(list(boxes.values())), x_slider, show_derivative,
                         explorer.children[-1])
    return explorer
