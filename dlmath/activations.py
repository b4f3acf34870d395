r"""Activation functions, named and shaped as ``jax.nn``: ``softmax(x, axis=-1, where=None)``,
``log_softmax(x, axis=-1, where=None)``, ``sigmoid(x)``, ``tanh(x)``, ``relu(x)``,
``leaky_relu(x, negative_slope=0.01)``, ``softplus(x)``, ``gelu(x, approximate=True)``,
``silu(x)``; and the table of activations with their derivatives (:class:`Activation`,
:data:`SIGMOID`, :data:`TANH`, :data:`RELU`, :data:`IDENTITY`) that the hand-written
backward pass of :mod:`dlmath.layers` reads.

Each docstring quotes the formula the book derives (see :mod:`dlmath.formulas`); the
elementwise activations and their derivatives are derived in
``notebooks/02_activations.ipynb``, softmax and log-softmax in
``notebooks/03_cross_entropy.ipynb``. Every one is finite, with a finite gradient, at
$x = \pm 10^4$ in float32 and float16.

Each public function is its own numerical rule, compiled with ``jax.jit``; the decorator
:func:`dlmath._checks.checked` first checks the arguments (outside ``jit``, so a bad
argument gets a message naming the function, never a JAX internal), and the compiled body
is the function's ``.kernel``. The input rules are those of
:mod:`dlmath._checks`: ``x`` must be a floating array (float16, bfloat16, float32 or
float64; integer, bool and complex arrays raise ``TypeError``); elementwise activations
keep the shape and dtype of ``x``, an empty ``x`` included; softmax and log-softmax reduce
over ``axis`` and raise ``ValueError`` when that axis is empty (``K = 0``), where
``jax.nn.softmax`` returns an empty array, while an empty batch axis passes through.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from dlmath import _checks, _reduce

__all__ = ["softmax", "log_softmax", "sigmoid", "tanh", "relu", "leaky_relu", "softplus",
           "gelu", "silu", "Activation", "SIGMOID", "TANH", "RELU", "IDENTITY", "ACTIVATIONS",
           "activation_named"]


def _floating_x(who: str):
    def check(x, *args, **kwargs):
        _checks.require_floating(who, "x", x)
    return check


def _softmax_check(who: str):
    def check(x, axis=-1, where=None):
        _checks.require_floating(who, "x", x)
        _checks.class_axis(who, "x", x, axis)
        _checks.where_mask(who, where, _checks.shape_of(x), "x (*B, K)")
    return check


def _shifted_exp(x, axis: int):
    r"""The parts of the log-sum-exp along ``axis``: $x - m$ with $m = \max x$ (held
    constant for autodiff: the shift cancels), $e = \exp(x - m)$ and $\sum e$ (kept as a
    size-1 axis). :func:`softmax` is $e / \sum e$, :func:`log_softmax` $x - m - \log\sum e$;
    a caller that needs both (the cross-entropy's gradient) takes one exponential per entry."""
    shifted = x - jax.lax.stop_gradient(jnp.max(x, axis=axis, keepdims=True))
    e = jnp.exp(shifted)
    return shifted, e, jnp.sum(e, axis=axis, keepdims=True)


@_checks.checked(_softmax_check("softmax"), static_argnames="axis")
def softmax(x, axis: int = -1, where=None):
    r"""Softmax along ``axis``: positive entries that sum to 1.

    $$\frac{e^{{x}_{k}}}{\sum_{j=0}^{K - 1} e^{{x}_{j}}}$$

    Computed in the stable form $e^{x_k - m} / \sum_j e^{x_j - m}$ with $m = \max_j x_j$
    (the shift cancels; derived in ``notebooks/03_cross_entropy.ipynb``), so logits of
    $\pm 10^4$ give no overflow.

    Args:
        x: floating array ``(*B, K)`` (``K`` along ``axis``).
        axis: the axis of the ``K`` classes (a Python int, static under ``jit``).
        where: ``None``, or a bool array broadcastable to ``x``: the entries that take part,
            as ``jax.nn.softmax``'s ``where``. A masked entry leaves the maximum and the sum
            and comes out 0 (its gradient is 0); a row with no entry left is all 0.

    Returns:
        An array of the shape of ``x``; an empty batch ``B`` gives an empty result.

    Raises:
        TypeError: if ``x`` is not floating (integer, bool, complex), or ``where`` is not bool.
        ValueError: if ``axis`` is out of range or not an int, or ``K = 0`` (a softmax over no
            classes is undefined; ``jax.nn.softmax`` returns an empty array there, dlmath
            refuses); if ``where`` does not broadcast to ``x``.

    Example:
        >>> import jax.numpy as jnp
        >>> from dlmath import activations
        >>> [round(float(p), 4) for p in activations.softmax(jnp.log(jnp.array([1.0, 3.0])))]
        [0.25, 0.75]
    """
    if where is None:
        _, e, total = _shifted_exp(x, axis)
        return e / total
    m = jnp.max(x, axis=axis, where=where, initial=-jnp.inf, keepdims=True)
    e = jnp.exp(jnp.where(where, x, -jnp.inf) - jax.lax.stop_gradient(m))
    return jnp.where(where, e / jnp.sum(e, axis=axis, where=where, keepdims=True), 0)


@_checks.checked(_softmax_check("log_softmax"), static_argnames="axis")
def log_softmax(x, axis: int = -1, where=None):
    r"""Logarithm of :func:`softmax`, computed without forming the softmax.

    $$- \log{\left(\sum_{j=0}^{K - 1} e^{{x}_{j}} \right)} + {x}_{k}$$

    Computed as $(x_k - m) - \log \sum_j e^{x_j - m}$ with $m = \max_j x_j$ (log-sum-exp;
    derived in ``notebooks/03_cross_entropy.ipynb``).

    Args:
        x: floating array ``(*B, K)``.
        axis: the axis of the ``K`` classes (a Python int, static under ``jit``).
        where: ``None``, or a bool array broadcastable to ``x``, as
            ``jax.nn.log_softmax``'s: a masked entry leaves the sum and comes out
            $-\infty$ (its gradient is 0).

    Returns:
        An array of the shape of ``x`` (all entries <= 0); an empty batch ``B`` gives an
        empty result.

    Raises:
        TypeError: if ``x`` is not floating, or ``where`` is not bool.
        ValueError: if ``axis`` is out of range or not an int, or ``K = 0`` (as :func:`softmax`);
            if ``where`` does not broadcast to ``x``.
    """
    if where is None:
        shifted, _, total = _shifted_exp(x, axis)
        return shifted - jnp.log(total)
    m = jnp.max(x, axis=axis, where=where, initial=-jnp.inf, keepdims=True)
    shifted = jnp.where(where, x, -jnp.inf) - jax.lax.stop_gradient(m)
    out = shifted - jnp.log(jnp.sum(jnp.exp(shifted), axis=axis, where=where, keepdims=True))
    return jnp.where(where, out, -jnp.inf)


# ---- elementwise activations (chapter 02) -------------------------------------------------


@_checks.checked(_floating_x("sigmoid"))
def sigmoid(x):
    r"""The logistic sigmoid $\sigma$, elementwise: a smooth step from 0 to 1.

    $$\frac{1}{1 + e^{- x}}$$

    Its derivative (``notebooks/02_activations.ipynb`` proves it equals
    $\sigma(x)\,(1 - \sigma(x))$, at most $1/4$, reached at $x = 0$):

    $$\frac{e^{- x}}{\left(1 + e^{- x}\right)^{2}}$$

    Computed as $1/(1 + e^{-x})$ in at least float32 (returned in the dtype of ``x``): for
    $x \to -\infty$, $e^{-x}$ overflows to $\infty$ and the value is exactly 0, never NaN.
    Its derivative is not the automatic one of that expression (which forms
    $\infty/\infty$ there) but the derived $\sigma(1 - \sigma)$, registered with
    ``jax.custom_jvp``; so $\pm 10^4$ gives exactly 1 and 0, with gradient 0, in float32
    and float16, and the gradient costs one multiplication (as ``jax.nn.sigmoid``).

    Args:
        x: floating array of any shape ``(*S,)``.

    Returns:
        An array of the shape and dtype of ``x``, entries in $[0, 1]$.

    Raises:
        TypeError: if ``x`` is not floating.

    Example:
        >>> import jax.numpy as jnp
        >>> from dlmath import activations
        >>> [float(s) for s in activations.sigmoid(jnp.array([0.0, 1e4, -1e4]))]
        [0.5, 1.0, 0.0]
    """
    return _logistic(x)


@jax.custom_jvp
def _logistic(x):
    r"""$1/(1 + e^{-x})$ in at least float32 (float16's $e^{-x}$ overflows already at
    $x < -11$, where $\sigma$ is still $10^{-5}$), cast back to the dtype of ``x``."""
    wide = x.astype(_reduce.wide(x.dtype))
    return (1 / (1 + jnp.exp(-wide))).astype(x.dtype)


@_logistic.defjvp
def _logistic_jvp(primals, tangents):
    r"""The derived derivative $\sigma' = \sigma(1 - \sigma)$, from the value alone."""
    s = _logistic(primals[0])
    return s, tangents[0] * _sigmoid_derivative(primals[0], s)


@_checks.checked(_floating_x("tanh"))
def tanh(x):
    r"""The hyperbolic tangent, elementwise: a smooth step from -1 to 1.

    $$\frac{e^{x} - e^{- x}}{e^{x} + e^{- x}}$$

    Its derivative, equal to $1 - \tanh^2(x)$ and to $4\sigma'(2x)$ because
    $\tanh(x) = 2\sigma(2x) - 1$ (both proven in ``notebooks/02_activations.ipynb``):

    $$\frac{4}{\left(e^{x} + e^{- x}\right)^{2}}$$

    Computed with ``jnp.tanh`` (the exponential form overflows for $|x| > 88$ in float32).

    Args:
        x: floating array of any shape ``(*S,)``.

    Returns:
        An array of the shape and dtype of ``x``, entries in $[-1, 1]$.

    Raises:
        TypeError: if ``x`` is not floating.
    """
    return jnp.tanh(x)


@_checks.checked(_floating_x("relu"))
def relu(x):
    r"""The rectified linear unit, elementwise.

    $$\max\left(0, x\right)$$

    Its derivative, with the convention of ``jax.nn.relu`` at the kink (0 at $x = 0$;
    SymPy's ``Heaviside`` and ``jnp.maximum`` say 1/2 there, see
    ``notebooks/02_activations.ipynb``):

    $$\begin{cases} 1 & \text{for}\: x > 0 \\0 & \text{otherwise} \end{cases}$$

    Args:
        x: floating array of any shape ``(*S,)``.

    Returns:
        An array of the shape and dtype of ``x``, entries >= 0 (NaN stays NaN, as in
        ``jax.nn.relu``).

    Raises:
        TypeError: if ``x`` is not floating.
    """
    # `where(x <= 0, 0, x)` takes the zero branch at x = 0, so the gradient there is 0 (as
    # jax.nn.relu); a NaN fails `x <= 0` and passes through, as with jnp.maximum (the
    # condition `x > 0` would silently turn NaN into 0 and hide a diverged computation).
    return jnp.where(x <= 0, jnp.zeros_like(x), x)


def _leaky_relu_check(x, negative_slope=0.01):
    _checks.require_floating("leaky_relu", "x", x)
    _checks.require_real("leaky_relu", "negative_slope", negative_slope)
    if _checks.shape_of(negative_slope) == ():
        _checks.hyperparameter("leaky_relu", "negative_slope", negative_slope,
                               hint="It is the slope for x < 0, usually a small positive "
                                    "number such as 0.01.")
    else:
        xs, ss = _checks.shape_of(x), _checks.shape_of(negative_slope)
        try:
            np.broadcast_shapes(xs, ss)
        except ValueError:
            raise ValueError(
                f"leaky_relu: negative_slope must be a scalar or broadcastable to x (*S,); got "
                f"negative_slope {_checks.fmt(ss)}, x {_checks.fmt(xs)}. One slope per "
                "channel is an array of the last axis's length."
            ) from None


@_checks.checked(_leaky_relu_check)
def leaky_relu(x, negative_slope=0.01):
    r"""Leaky ReLU, elementwise: slope 1 for $x \ge 0$, slope $\alpha$ = ``negative_slope``
    below.

    $$\begin{cases} x & \text{for}\: x \geq 0 \\\alpha x & \text{otherwise} \end{cases}$$

    Its derivative, with the convention of ``jax.nn.leaky_relu`` at the kink (1 at $x = 0$;
    derived in ``notebooks/02_activations.ipynb``):

    $$\begin{cases} 1 & \text{for}\: x \geq 0 \\\alpha & \text{otherwise} \end{cases}$$

    Args:
        x: floating array of any shape ``(*S,)``.
        negative_slope: $\alpha$, a real scalar (finite; checked unless traced) or a real
            array broadcastable to ``x``; default 0.01.

    Returns:
        An array of the dtype of ``x``, of its shape (of the broadcast shape when an array
        ``negative_slope`` has more dimensions).

    Raises:
        TypeError: if ``x`` is not floating or ``negative_slope`` is complex or not a number.
        ValueError: if a scalar ``negative_slope`` is NaN or infinite, or an array one does not
            broadcast to ``x``.
    """
    return jnp.where(x >= 0, x, negative_slope * x).astype(x.dtype)


@_checks.checked(_floating_x("softplus"))
def softplus(x):
    r"""Softplus, elementwise: a smooth ReLU, $\log(1 + e^x)$.

    $$\log{\left(e^{x} + 1 \right)}$$

    Its derivative is the sigmoid (proven in ``notebooks/02_activations.ipynb``):

    $$\frac{1}{1 + e^{- x}}$$

    Computed as ``jnp.logaddexp(x, 0)`` $= \max(x, 0) + \log(1 + e^{-|x|})$, so
    ``softplus(1e4)`` is ``1e4`` and ``softplus(-1e4)`` is 0 in float32 and float16.

    Args:
        x: floating array of any shape ``(*S,)``.

    Returns:
        An array of the shape and dtype of ``x``, entries >= 0.

    Raises:
        TypeError: if ``x`` is not floating.
    """
    return jnp.logaddexp(x, jnp.zeros_like(x))


_GELU_CUBIC = 0.044715
_GELU_CLIP = 10.0


def _gelu_check(x, approximate=True):
    _checks.require_floating("gelu", "x", x)
    _checks.require_flag("gelu", "approximate", approximate,
                         "It selects the formula at trace time; approximate=False is the exact "
                         "erf form.")


@_checks.checked(_gelu_check, static_argnames="approximate")
def gelu(x, approximate: bool = True):
    r"""The Gaussian error linear unit $x\,\Phi(x)$, elementwise, $\Phi$ the standard normal
    CDF; by default (as ``jax.nn.gelu``) its tanh approximation.

    Exact (``approximate=False``):

    $$\frac{x \left(\operatorname{erf}{\left(\frac{\sqrt{2} x}{2} \right)} + 1\right)}{2}$$

    with derivative $\Phi(x) + x\,\varphi(x)$:

    $$\frac{\sqrt{2} x e^{- \frac{x^{2}}{2}}}{2 \sqrt{\pi}}
    + \frac{\operatorname{erf}{\left(\frac{\sqrt{2} x}{2} \right)}}{2} + \frac{1}{2}$$

    Approximate (``approximate=True``, the default):

    $$\frac{x \left(\tanh{\left(\frac{\sqrt{2} \left(0.044715 x^{3} + x\right)}{\sqrt{\pi}}
    \right)} + 1\right)}{2}$$

    Its largest absolute error against the exact form is measured in
    ``notebooks/02_activations.ipynb``. The exact form is computed with ``erfc(-x/sqrt 2)``
    (accurate for negative $x$). The approximation is computed in at least float32 (so
    float16's $x^3$ cannot overflow; where float32's does, $\tanh$ is $\pm 1$ and the value
    still right) and differentiated by its derived derivative, registered with
    ``jax.custom_jvp``: $\frac12(1 + t) + \frac12 x (1 - t^2)\sqrt{2/\pi}(1 + 3 \cdot
    0.044715\,x^2)$ with $t$ the tanh, whose second term is taken as 0 for $|x| \ge 10$
    (where $1 - t^2$ is 0 even in float64), so the gradient stays finite at $\pm 10^4$.

    Args:
        x: floating array of any shape ``(*S,)``.
        approximate: use the tanh approximation (a Python bool, static under ``jit``).

    Returns:
        An array of the shape and dtype of ``x``.

    Raises:
        TypeError: if ``x`` is not floating or ``approximate`` is not a bool.
    """
    if approximate:
        return _gelu_tanh(x)
    return 0.5 * x * jax.scipy.special.erfc(-x * np.sqrt(0.5).astype(x.dtype))


def _gelu_tanh_parts(x):
    r"""$x$ in at least float32, $\sqrt{2/\pi}$ rounded once from float64 to its dtype, and
    $t = \tanh(\sqrt{2/\pi}(x + 0.044715 x^3))$."""
    w = x.astype(_reduce.wide(x.dtype))
    c = np.sqrt(2 / np.pi).astype(w.dtype)
    return w, c, jnp.tanh(c * (w + _GELU_CUBIC * (w * w * w)))


@jax.custom_jvp
def _gelu_tanh(x):
    w, _, t = _gelu_tanh_parts(x)
    return (w * (0.5 * (1 + t))).astype(x.dtype)


@_gelu_tanh.defjvp
def _gelu_tanh_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    w, c, t = _gelu_tanh_parts(x)
    half = 0.5 * (1 + t)
    wc = jnp.clip(w, -_GELU_CLIP, _GELU_CLIP)  # finite in the branch `where` does not take
    slope = half + jnp.where(jnp.abs(w) < _GELU_CLIP,
                             0.5 * wc * (1 - t * t) * c * (1 + 3 * _GELU_CUBIC * wc * wc), 0)
    return (w * half).astype(x.dtype), dx * slope.astype(x.dtype)


@_checks.checked(_floating_x("silu"))
def silu(x):
    r"""The sigmoid linear unit (also called swish), $x\,\sigma(x)$, elementwise.

    $$\frac{x}{1 + e^{- x}}$$

    Computed as ``x * sigmoid(x)`` with the stable :func:`sigmoid`; its derivative is
    derived and implemented in the exercises of ``notebooks/02_activations.ipynb``.

    Args:
        x: floating array of any shape ``(*S,)``.

    Returns:
        An array of the shape and dtype of ``x``.

    Raises:
        TypeError: if ``x`` is not floating.
    """
    return x * sigmoid.kernel(x)


# ---- the table of the backward pass: each forward rule beside its derivative --------------


class Activation(NamedTuple):
    """An activation $\\sigma$ and its local derivative, side by side.

    ``fn(z)`` is $\\sigma(z)$ elementwise; ``derivative(z, a)`` is $\\sigma'(z)$, given
    both the pre-activation ``z`` and the forward value ``a = fn(z)`` (so that
    $\\sigma' = a(1 - a)$ costs no second exponential). ``name`` labels it. The value is a
    hashable tuple of functions: :func:`dlmath.layers.forward` and
    :func:`dlmath.layers.backward` compile for it.
    """

    name: str
    fn: Callable
    derivative: Callable


def _sigmoid_derivative(z, a):
    return a * (1.0 - a)             # sigma'(z) = sigma(z) (1 - sigma(z))


def _tanh_derivative(z, a):
    return 1.0 - a * a               # tanh'(z) = 1 - tanh(z)^2


def _relu_derivative(z, a):
    return (z > 0).astype(z.dtype)   # [z > 0]: 0 at the kink z = 0, as jax.nn.relu's gradient


def _identity(z):
    return z


def _identity_derivative(z, a):
    return jnp.ones_like(z)


#: The logistic :func:`sigmoid` and $\sigma' = a(1-a)$.
SIGMOID = Activation("sigmoid", sigmoid, _sigmoid_derivative)
#: :func:`tanh` and $\tanh' = 1 - a^2$.
TANH = Activation("tanh", tanh, _tanh_derivative)
#: :func:`relu` and $[z > 0]$ (0 at the kink, as ``jax.nn.relu``'s gradient).
RELU = Activation("relu", relu, _relu_derivative)
#: The identity (a linear output layer: logits) and 1.
IDENTITY = Activation("identity", _identity, _identity_derivative)
#: The four built-in activations (a tuple: nothing to change behind a compiled function).
ACTIVATIONS = (SIGMOID, TANH, RELU, IDENTITY)


def activation_named(who: str, name: str, value) -> Activation:
    """The :class:`Activation` for ``value``: itself, or the built-in one of that name.

    Args:
        who, name: the calling function and argument, for the message.
        value: an :class:`Activation`, or ``"sigmoid"``, ``"tanh"``, ``"relu"``,
            ``"identity"``.

    Raises:
        ValueError: an unknown name.
        TypeError: neither a name nor an ``Activation``.
    """
    if isinstance(value, Activation):
        for field in ("fn", "derivative"):
            _checks.require_callable(who, f"{name}.{field}", getattr(value, field),
                                     "a function of arrays")
        return value
    if isinstance(value, str):
        for act in ACTIVATIONS:
            if act.name == value:
                return act
        raise ValueError(
            f"{who}: {name} must be one of {[a.name for a in ACTIVATIONS]} or an Activation; "
            f"got {value!r}."
        )
    raise TypeError(
        f"{who}: {name} must be an activation name or an activations.Activation(name, fn, "
        f"derivative); got {type(value).__name__}."
    )
