"""Unit tests of dlmath.plot and dlmath.widgets, drawn off-screen (Agg, see conftest.py)."""

from __future__ import annotations

import jax.numpy as jnp
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

from dlmath import activations as act
from dlmath import linear_regression as lr
from dlmath import optim, plot, training, widgets

pytestmark = pytest.mark.usefixtures("close_figures")


def test_backend_is_agg():
    assert matplotlib.get_backend().lower() == "agg"


def _quadratic(w):
    return (w[0] - 1.0) ** 2 + 4.0 * (w[1] + 2.0) ** 2


def test_loss_surface_draws_filled_contours_of_the_loss():
    ax = plot.loss_surface(_quadratic, [1.0, -2.0], [2.0, 1.0], levels=7, resolution=31)
    assert isinstance(ax, matplotlib.axes.Axes)
    assert ax.get_xlim() == pytest.approx((-1.0, 3.0))
    assert ax.get_ylim() == pytest.approx((-3.0, -1.0))
    assert ax.get_xlabel() == "$w_0$" and ax.get_ylabel() == "$w_1$"
    filled = [c for c in ax.collections if getattr(c, "filled", False)]
    lines = [c for c in ax.collections if hasattr(c, "filled") and not c.filled]
    assert len(filled) == 1 and len(lines) == 1
    # the filled levels run from the minimum (0, at the centre) to the maximum of the grid
    lv = np.asarray(filled[0].levels)
    assert lv[0] == pytest.approx(0.0, abs=1e-6)
    assert lv[-1] == pytest.approx(_quadratic(np.array([3.0, -1.0])), rel=1e-5)
    assert len(lines[0].levels) == 7


def test_loss_surface_draws_on_a_given_axes():
    _, ax = plt.subplots()
    assert plot.loss_surface(_quadratic, [0.0, 0.0], 1.0, ax=ax, resolution=11) is ax


def test_path_draws_the_given_points():
    pts = np.array([[0.0, 1.0], [0.5, 0.25], [0.75, 0.0625], [1.0, 0.0]])
    ax = plot.path(pts, color="tab:blue", label="gd")
    line, start = ax.lines
    np.testing.assert_array_equal(line.get_xdata(), pts[:, 0])
    np.testing.assert_array_equal(line.get_ydata(), pts[:, 1])
    assert line.get_label() == "gd" and line.get_marker() == "o"
    np.testing.assert_array_equal(np.ravel(start.get_xdata()), [0.0])
    np.testing.assert_array_equal(np.ravel(start.get_ydata()), [1.0])
    assert start.get_marker() == "s"
    assert matplotlib.colors.same_color(line.get_color(), "tab:blue")


def test_loss_curve_plots_loss_against_step():
    losses = np.array([4.0, 2.0, 1.0, 0.5])
    ax = plot.loss_curve(losses)
    (line,) = ax.lines
    np.testing.assert_array_equal(line.get_xdata(), np.arange(4))
    np.testing.assert_array_equal(line.get_ydata(), losses)
    assert ax.get_yscale() == "log"
    assert ax.get_xlabel() == "step" and ax.get_ylabel() == "loss"
    assert plot.loss_curve(losses, log=False).get_yscale() == "linear"


def test_path_keeps_the_view_of_a_drawn_surface():
    ax = plot.loss_surface(_quadratic, [1.0, -2.0], 1.0, resolution=11)
    limits = ax.get_xlim(), ax.get_ylim()
    plot.path(np.array([[1.0, -2.0], [50.0, 40.0]]), ax=ax)  # leaves the picture
    assert (ax.get_xlim(), ax.get_ylim()) == limits
    # on empty axes the view follows the points
    ax2 = plot.path(np.array([[1.0, -2.0], [50.0, 40.0]]))
    assert ax2.get_xlim()[1] >= 50.0 and ax2.get_ylim()[1] >= 40.0


@pytest.mark.parametrize("call, exc, pattern", [
    (lambda: plot.loss_surface("f", [0.0, 0.0], 1.0), TypeError, "loss_surface: loss_fn must be"),
    (lambda: plot.loss_surface(_quadratic, [0.0, 0.0, 0.0], 1.0), ValueError,
     r"loss_surface: center must be 2 finite numbers"),
    (lambda: plot.loss_surface(_quadratic, [0.0, np.nan], 1.0), ValueError,
     r"loss_surface: center must be 2 finite"),
    (lambda: plot.loss_surface(_quadratic, [0.0, 0.0], 0.0), ValueError,
     r"loss_surface: span must be a positive finite number"),
    (lambda: plot.loss_surface(_quadratic, [0.0, 0.0], np.inf), ValueError, r"loss_surface: span"),
    (lambda: plot.loss_surface(_quadratic, [0.0, 0.0], np.array([1 + 1j, 1.0])), TypeError,
     r"loss_surface: span must hold real numbers"),
    (lambda: plot.loss_surface(_quadratic, [0.0, 0.0], 1.0, levels=1), ValueError,
     r"loss_surface: levels must be an int"),
    (lambda: plot.loss_surface(_quadratic, [0.0, 0.0], 1.0, resolution=2.5), TypeError,
     r"loss_surface: resolution must be an int"),
    (lambda: plot.path(np.zeros((4, 3))), ValueError, r"path: points must have shape \(T, 2\)"),
    (lambda: plot.path(np.zeros((0, 2))), ValueError, r"path: points .*T >= 1; got \(0, 2\)"),
    (lambda: plot.path(np.zeros(4)), ValueError, r"path: points must have shape \(T, 2\)"),
    (lambda: plot.path(np.zeros((3, 2), np.complex64)), TypeError, r"path: points must hold real"),
    (lambda: plot.loss_curve(np.zeros((3, 2))), ValueError, r"loss_curve: losses must have shape"),
    (lambda: plot.loss_curve(np.zeros(0)), ValueError, r"loss_curve: losses .*T >= 1"),
    (lambda: plot.loss_curve([1.0, 0.5]), TypeError, r"loss_curve: losses must be an array"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_loss_surface_path_and_loss_curve_refuse_bad_input(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


# ---------------------------------------------------------------- widgets


@pytest.fixture
def drawn(monkeypatch):
    """The explorers render a matplotlib Figure to PNG; record every figure saved."""
    from matplotlib.figure import Figure

    figures = []
    save = Figure.savefig

    def recording_savefig(self, *args, **kwargs):
        figures.append(self)
        return save(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", recording_savefig)
    return figures


def test_figure_explorer_redraws_when_a_control_changes(drawn):
    import ipywidgets

    seen = []

    def draw(fig, a):
        seen.append(a)
        fig.subplots().plot([0, 1], [0, a])

    slider = ipywidgets.FloatSlider(1.0, min=0.0, max=2.0)
    box = widgets.figure_explorer(draw, a=slider)
    assert seen == [1.0] and len(drawn) == 1
    image = box.children[-1]
    assert isinstance(image, ipywidgets.Image) and image.value[:4] == b"\x89PNG"
    first = image.value
    slider.value = 2.0
    assert seen == [1.0, 2.0] and image.value != first
    np.testing.assert_array_equal(drawn[-1].axes[0].lines[0].get_ydata(), [0, 2.0])
    with pytest.raises(ValueError, match="figure_explorer"):
        widgets.figure_explorer(draw)
    # the text a notebook shows before its cell runs names the controls, not a VBox repr
    box2 = widgets.figure_explorer(lambda fig, a, b: draw(fig, a),
                                   a=ipywidgets.FloatSlider(1.0, description="rate"),
                                   b=ipywidgets.Checkbox(True))
    assert isinstance(box2, ipywidgets.VBox)
    assert repr(box2) == "Explorer of rate, checkbox: run the cell to move the controls."
    assert box2._repr_mimebundle_()["text/plain"] == repr(box2)


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, size=12).astype(np.float32)
    X = lr.design_matrix(jnp.asarray(x))
    y = jnp.asarray(0.5 + 1.5 * x + 0.1 * rng.normal(size=12).astype(np.float32))
    return X, y, jnp.asarray([-1.0, -1.0], jnp.float32)


def test_explorer_sliders_and_both_regimes_full_and_mini_batch(problem, drawn):
    import ipywidgets

    X, y, w0 = problem
    n = X.shape[0]
    box = widgets.gradient_descent_explorer(X, y, w0, steps=10)
    ratio_slider, batch_slider, image = box.children
    # the documented ranges
    assert isinstance(ratio_slider, ipywidgets.FloatSlider)
    assert (ratio_slider.value, ratio_slider.min, ratio_slider.max,
            ratio_slider.step) == pytest.approx((0.5, 0.05, 1.2, 0.05))
    assert isinstance(batch_slider, ipywidgets.IntSlider)
    assert (batch_slider.value, batch_slider.min, batch_slider.max) == (n, 1, n)
    assert isinstance(image, ipywidgets.Image) and image.value[:4] == b"\x89PNG"
    eta_max = float(lr.max_stable_learning_rate(X))
    # construction draws (0.5, N); each slider change redraws once
    states = [(0.5, n), (1.1, n), (1.1, 4)]
    for k, (ratio, batch_size) in enumerate(states):
        ratio_slider.value, batch_slider.value = ratio, batch_size
        assert len(drawn) == k + 1
        contours, curve = drawn[-1].axes[:2]
        verdict = "converges" if ratio < 1 else "diverges"
        assert verdict in contours.get_title() and f"{ratio:.2f}" in contours.get_title()
        assert curve.get_title() == f"loss, batch size {batch_size}"
        (losses,) = curve.lines
        ys = losses.get_ydata()
        assert len(ys) == 11 and np.all(np.isfinite(ys))
        if batch_size == n:
            # the drawn curve is the loss along the gradient-descent path
            _, history = lr.gradient_descent(w0, X, y, ratio * eta_max, 10)
            path, X_, y_ = (np.asarray(a, np.float64) for a in (history.path, X, y))
            want = np.mean((path @ X_.T - y_) ** 2, axis=1)  # the full-data loss
            np.testing.assert_allclose(ys, np.minimum(want, 1e12), rtol=1e-5)
            assert (ys[-1] < ys[0]) == (ratio < 1)  # down below the bound, up above it


def test_explorer_refuses_three_columns(problem):
    X, y, _ = problem
    X3 = jnp.concatenate([X, X[:, 1:]], axis=1)
    with pytest.raises(ValueError, match=r"gradient_descent_explorer: X must have shape \(N, 2\)"
                       r".*\(12, 3\)"):
        widgets.gradient_descent_explorer(X3, y, jnp.zeros(3))


def test_explorer_checks_its_other_arguments(problem):
    X, y, w0 = problem
    who = "gradient_descent_explorer"
    with pytest.raises(ValueError, match=rf"{who}: w0 must have shape \(D,\) = \(2,\)"):
        widgets.gradient_descent_explorer(X, y, jnp.zeros(3))
    with pytest.raises(ValueError, match=rf"{who}: y must have shape \(N,\) = \(12,\)"):
        widgets.gradient_descent_explorer(X, y[:5], w0)
    with pytest.raises(TypeError, match=rf"{who}: X must be a floating-point array"):
        widgets.gradient_descent_explorer(X.astype(jnp.int32), y, w0)
    with pytest.raises(ValueError, match=rf"{who}: steps must be an int >= 1; got 0"):
        widgets.gradient_descent_explorer(X, y, w0, steps=0)


# ------------------------------------------------------------------ training (chapter 04)
def _history(steps=40):
    from dlmath.training import History

    loss = jnp.exp(-jnp.arange(steps) / 10.0)
    return History(loss, None, [(0, {"test_accuracy": 0.1}), (steps, {"test_accuracy": 0.9})])


def test_training_progress_updates_in_place():
    bar = widgets.TrainingProgress(40)
    assert repr(bar.bar) == "IntProgress(value=0, description='step', max=40)"
    # what the notebook stores for it (and shows before the cell runs): not a VBox repr
    shown = "Training progress: step 0/40 (a bar that moves while the cell runs)."
    assert bar.box._repr_mimebundle_()["text/plain"] == shown
    bar(40, _history())
    assert bar.bar.value == 40
    assert repr(bar.box) == shown.replace("0/40", "40/40")
    assert bar.status.value == (f"step 40/40: loss {float(jnp.exp(-3.9)):.4f}, "
                                "test_accuracy 0.9000")
    with pytest.raises(ValueError, match="TrainingProgress: total must be an int"):
        widgets.TrainingProgress(0)
    with pytest.raises(TypeError, match="TrainingProgress: total must be an int"):
        widgets.TrainingProgress(2.5)


def test_training_curves_draws_loss_and_metrics():
    axes = plot.training_curves(_history())
    assert len(axes[0].lines) == 2 and len(axes[1].lines) == 1
    assert axes[0].get_yscale() == "log"
    assert list(axes[1].lines[0].get_xdata()) == [0, 40]
    with pytest.raises(TypeError, match="training_curves: history must be the History"):
        plot.training_curves({"loss": [1.0, 0.5]})
    from dlmath.training import History

    with pytest.raises(ValueError, match="training_curves: history.loss must hold"):
        plot.training_curves(History(jnp.zeros((0,)), None, []))


# ---- chapter 02: activations and their derivatives (moved from test_activations.py) -------

def test_function_and_derivative_draws_the_function_and_its_jax_grad():
    ax = plot.function_and_derivative(act.sigmoid, x_range=(-4, 4), resolution=81, label="s")
    solid, dashed = ax.get_lines()[:2]
    xs = np.asarray(solid.get_xdata(), np.float64)
    assert xs[0] == -4 and xs[-1] == 4 and xs.size == 81
    s = 1 / (1 + np.exp(-xs))
    np.testing.assert_allclose(solid.get_ydata(), s, rtol=1e-6)
    np.testing.assert_allclose(dashed.get_ydata(), s * (1 - s), rtol=1e-5, atol=1e-7)
    assert dashed.get_label() == "s'" and dashed.get_linestyle() == "--"


def test_activation_grid_has_one_titled_panel_per_function():
    fig = plot.activation_grid({"relu": act.relu, "tanh": act.tanh, "silu": act.silu}, ncols=2)
    visible = [ax for ax in fig.axes if ax.axison]
    assert [ax.get_title() for ax in visible] == ["relu", "tanh", "silu"]
    assert len(fig.axes) == 4 and not fig.axes[3].axison
    with pytest.raises(ValueError, match="activation_grid: need at least one function"):
        plot.activation_grid({})


def test_activation_explorer_redraws_and_rejects_unknown_names():
    fns = {"sigmoid": act.sigmoid, "relu": act.relu}
    ex = widgets.activation_explorer(fns, selected=["sigmoid"])
    checkboxes = ex.children[0].children
    assert [c.description for c in checkboxes] == ["sigmoid", "relu"]
    assert [c.value for c in checkboxes] == [True, False]
    # its text form names the controls as regrouped (the checkboxes in one row)
    assert ex._repr_mimebundle_()["text/plain"] == (
        "Explorer of a row of checkboxes, x range, show derivatives: run the cell to move "
        "the controls.")
    before = ex.children[-1].value
    assert before[:8] == b"\x89PNG\r\n\x1a\n"
    checkboxes[1].value = True  # tick relu: the figure is drawn again, differently
    assert ex.children[-1].value[:8] == b"\x89PNG\r\n\x1a\n" and ex.children[-1].value != before
    with pytest.raises(ValueError, match=r"selected names \['gelu'\] are not among"):
        widgets.activation_explorer(fns, selected=["gelu"])
    with pytest.raises(ValueError, match="functions is empty"):
        widgets.activation_explorer({})


@pytest.mark.parametrize("kwargs, error, message", [
    ({"x_range": (2.0, -2.0)}, ValueError, r"x_range must have low < high"),
    ({"x_range": (0.0, float("inf"))}, ValueError, r"each end of x_range must be a finite"),
    ({"x_range": (1.0,)}, ValueError, r"x_range must be a pair"),
    ({"resolution": 1}, ValueError, r"resolution must be an int >= 2; got 1"),
    ({"resolution": 10.5}, TypeError, r"resolution must be an int"),
])
def test_function_and_derivative_refuses_bad_ranges(kwargs, error, message):
    with pytest.raises(error, match=rf"^function_and_derivative: {message}"):
        plot.function_and_derivative(act.relu, **kwargs)


def test_function_and_derivative_and_the_grid_refuse_non_functions():
    with pytest.raises(TypeError, match=r"^function_and_derivative: fn must be an elementwise"):
        plot.function_and_derivative(3.0)
    with pytest.raises(TypeError, match=r"^activation_grid: fn must be an elementwise"):
        plot.activation_grid({"relu": act.relu, "bad": "tanh"})
    with pytest.raises(TypeError, match=r"^activation_grid: ncols must be an int"):
        plot.activation_grid({"relu": act.relu}, ncols=2.0)
    with pytest.raises(ValueError, match=r"^activation_grid: x_range must have low < high"):
        plot.activation_grid({"relu": act.relu}, x_range=(1, 1))


def test_activation_explorer_refuses_non_functions_and_a_bad_limit():
    with pytest.raises(TypeError, match=r"^activation_explorer: functions\['relu'\] must be"):
        widgets.activation_explorer({"relu": "relu"})
    with pytest.raises(ValueError, match=r"^activation_explorer: limit must be a finite"):
        widgets.activation_explorer({"relu": act.relu}, limit=-1.0)


# ------------------------------------------------------------------ chapter 05


def test_trajectories_plot_and_optimizer_explorer(close_figures):
    loss = lambda w: jnp.sum(jnp.asarray([1.0, 10.0]) * w**2) / 2
    paths = {"a": np.zeros((3, 2)), "b": np.ones((4, 2))}
    ax = plot.trajectories(loss, paths, np.zeros(2), 2.0, minimum=np.zeros(2))
    assert {line.get_label() for line in ax.get_lines()} >= {"a", "b"}
    with pytest.raises(ValueError, match=r"trajectories: paths\['c'\] must have shape \(T, 2\)"):
        plot.trajectories(loss, {"c": np.zeros((3, 3))}, np.zeros(2), 2.0)
    explorer = widgets.optimizer_explorer(loss, [1.0, 1.0], np.zeros(2), 2.0, steps=5)
    image = explorer.children[-1]
    first = image.value
    assert first[:4] == b"\x89PNG"
    explorer.children[0].value = -1.0  # the learning-rate slider redraws the figure
    assert image.value != first
    explorer.children[1].value = 0.5    # and beta1: still one compilation per optimizer
    for factory, names in [(optim.sgd, ("learning_rate",)),
                           (optim.sgd, ("learning_rate", "momentum")),
                           (optim.rmsprop, ("decay", "learning_rate")),
                           (optim.adam, ("b1", "b2", "learning_rate"))]:
        assert training._compiled_path(factory, loss, 5, names)._cache_size() == 1
    with pytest.raises(ValueError, match=r"optimizer_explorer: start must have shape \(2,\)"):
        widgets.optimizer_explorer(loss, [1.0, 1.0, 1.0], np.zeros(2), 2.0)


def test_confusion_matrix_figure_shows_the_counts(close_figures):
    cm = np.array([[5, 1], [0, 3]])
    ax = plot.confusion_heatmap(cm, class_names=["even", "odd"], title="t")
    assert sorted(t.get_text() for t in ax.texts) == ["1", "3", "5"]  # zero cells unlabelled
    assert [t.get_text() for t in ax.get_xticklabels()] == ["even", "odd"]
    np.testing.assert_array_equal(ax.images[0].get_array(), cm)


def test_confusion_matrix_figure_refuses_bad_shapes(close_figures):
    with pytest.raises(ValueError,
                       match=r"confusion_heatmap: counts must have shape \(K, K\); got \(2, 3\)"):
        plot.confusion_heatmap(np.zeros((2, 3)))
    with pytest.raises(ValueError,
                       match="confusion_heatmap: class_names must have K = 2 entries; got 3"):
        plot.confusion_heatmap(np.eye(2), class_names=["a", "b", "c"])
