r"""Activation functions, named and shaped as ``jax.nn``: ``softmax(x, axis=-1)``,
``log_softmax(x, axis=-1)``, ``sigmoid(x)``, ``tanh(x)``, ``relu(x)``,
``leaky_relu(x, negative_slope=0.01)``, ``softplus(x)``, ``gelu(x, approximate=True)``,
``silu(x)``.

Each docstring quotes the formula the book derives (see :mod:`dlmath.formulas`); the
elementwise activations and their derivatives are derived in
``notebooks/02_activations.ipynb``, softmax and log-softmax in
``notebooks/03_cross_entropy.ipynb``. Every one is finite, with a finite gradient, at
$x = \pm 10^4$ in float32 and float16.

Each public function is its own numerical rule, compiled with ``jax.jit``; the decorator
:func:`_checked` first checks the arguments (outside ``jit``, so a bad argument gets a
message naming the function, never a JAX internal). The input rules are those of
:mod:`dlmath._checks`: ``x`` must be a floating array (float16, bfloat16, float32 or
float64; integer, bool and complex arrays raise ``TypeError``); elementwise activations
keep the shape and dtype of ``x``, an empty ``x`` included; softmax and log-softmax reduce
over ``axis`` and raise ``ValueError`` when that axis is empty (``K = 0``), where
``jax.nn.softmax`` returns an empty array, while an empty batch axis passes through.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from dlmath import _checks

__all__ = ["softmax", "log_softmax", "sigmoid", "tanh", "relu", "leaky_relu", "softplus",
           "gelu", "silu"]


def _checked(check, static_argnames=()):
    """Decorator: the public function runs ``check(*args, **kwargs)`` on the arguments as
    given, then the decorated body compiled with ``jax.jit`` (``static_argnames`` static).
    ``inspect.getsource`` of the public function shows the body (``functools.wraps``)."""

    def decorate(body):
        compiled = jax.jit(body, static_argnames=static_argnames)

        @functools.wraps(body)
        def public(*args, **kwargs):
            check(*args, **kwargs)
            return compiled(*args, **kwargs)

        return public

    return decorate


def _floating_x(who: str):
    def check(x, *args, **kwargs):
        _checks.require_floating(who, "x", x)
    return check


def _check_axis(who: str, x, axis) -> None:
    """``axis`` an int in ``[-ndim, ndim)`` whose length ``K`` is at least 1 (softmax is a
    reduction over it); composed of :mod:`dlmath._checks`."""
    shape = _checks.shape_of(x)
    nd = len(shape)
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)) \
            or not -nd <= axis < nd:
        raise ValueError(
            f"{who}: axis must be an int in [-{nd}, {nd}) for x of shape "
            f"{_checks.fmt(shape)}; got {axis!r}. It names the axis of the K classes "
            "(default -1, the last)."
        )
    _checks.require_nonempty(who, "x", x, int(axis), f"(*B, K) with K along axis {int(axis)}",
                             "classes")


def _softmax_check(who: str):
    def check(x, axis=-1):
        _checks.require_floating(who, "x", x)
        _check_axis(who, x, axis)
    return check


@_checked(_softmax_check("softmax"), static_argnames="axis")
def softmax(x, axis: int = -1):
    r"""Softmax along ``axis``: positive entries that sum to 1.

    $$\frac{e^{{x}_{k}}}{\sum_{j=0}^{K - 1} e^{{x}_{j}}}$$

    Computed in the stable form $e^{x_k - m} / \sum_j e^{x_j - m}$ with $m = \max_j x_j$
    (the shift cancels; derived in ``notebooks/03_cross_entropy.ipynb``), so logits of
    $\pm 10^4$ give no overflow.

    Args:
        x: floating array ``(*B, K)`` (``K`` along ``axis``).
        axis: the axis of the ``K`` classes (a Python int, static under ``jit``).

    Returns:
        An array of the shape of ``x``; an empty batch ``B`` gives an empty result.

    Raises:
        TypeError: if ``x`` is not floating (integer, bool, complex).
        ValueError: if ``axis`` is out of range or not an int, or ``K = 0`` (a softmax over no
            classes is undefined; ``jax.nn.softmax`` returns an empty array there, dlmath refuses).
    """
    shifted = x - jax.lax.stop_gradient(jnp.max(x, axis=axis, keepdims=True))
    e = jnp.exp(shifted)
    return e / jnp.sum(e, axis=axis, keepdims=True)


@_checked(_softmax_check("log_softmax"), static_argnames="axis")
def log_softmax(x, axis: int = -1):
    r"""Logarithm of :func:`softmax`, computed without forming the softmax.

    $$- \log{\left(\sum_{j=0}^{K - 1} e^{{x}_{j}} \right)} + {x}_{k}$$

    Computed as $(x_k - m) - \log \sum_j e^{x_j - m}$ with $m = \max_j x_j$ (log-sum-exp;
    derived in ``notebooks/03_cross_entropy.ipynb``).

    Args:
        x: floating array ``(*B, K)``.
        axis: the axis of the ``K`` classes (a Python int, static under ``jit``).

    Returns:
        An array of the shape of ``x`` (all entries <= 0); an empty batch ``B`` gives an
        empty result.

    Raises:
        TypeError: if ``x`` is not floating.
        ValueError: if ``axis`` is out of range or not an int, or ``K = 0`` (as :func:`softmax`).
    """
    shifted = x - jax.lax.stop_gradient(jnp.max(x, axis=axis, keepdims=True))
    return shifted - jnp.log(jnp.sum(jnp.exp(shifted), axis=axis, keepdims=True))


# ---- elementwise activations (chapter 02) -------------------------------------------------


@_checked(_floating_x("sigmoid"))
def sigmoid(x):
    r"""The logistic sigmoid $\sigma$, elementwise: a smooth step from 0 to 1.

    $$\frac{1}{1 + e^{- x}}$$

    Its derivative (``notebooks/02_activations.ipynb`` proves it equals
    $\sigma(x)\,(1 - \sigma(x))$, at most $1/4$, reached at $x = 0$):

    $$\frac{e^{- x}}{\left(1 + e^{- x}\right)^{2}}$$

    Computed with $z = -|x|$ only: $1/(1 + e^{z})$ for $x \ge 0$ and $e^{z}/(1 + e^{z})$
    for $x < 0$, so no exponential overflows ($\pm 10^4$ gives exactly 1 and 0, with
    gradient 0, in float32 and float16).

    Args:
        x: floating array of any shape ``(*S,)``.

    Returns:
        An array of the shape and dtype of ``x``, entries in $[0, 1]$.

    Raises:
        TypeError: if ``x`` is not floating.
    """
    # z = -|x| written with `where`, so that at x = 0 (owned by the branch x >= 0) dz/dx = -1
    # by construction, not by a convention for the gradient of abs at 0 (JAX's is 1).
    z = jnp.where(x >= 0, -x, x)
    e = jnp.exp(z)
    return jnp.where(x >= 0, 1 / (1 + e), e / (1 + e))


@_checked(_floating_x("tanh"))
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


@_checked(_floating_x("relu"))
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


@_checked(_leaky_relu_check)
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


@_checked(_floating_x("softplus"))
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
    if not isinstance(approximate, bool):
        raise TypeError(
            f"gelu: approximate must be a Python bool (it selects the formula at trace time); "
            f"got {type(approximate).__name__}. Use approximate=False for the exact erf form."
        )


@_checked(_gelu_check, static_argnames="approximate")
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
    (accurate for negative $x$); in the approximation the cubic is evaluated at $x$ clipped
    to $[-10, 10]$, where $\tanh$ is already $\pm 1$ in float64, so that $x^3$ cannot
    overflow float16 and the gradient stays finite at $\pm 10^4$.

    Args:
        x: floating array of any shape ``(*S,)``.
        approximate: use the tanh approximation (a Python bool, static under ``jit``).

    Returns:
        An array of the shape and dtype of ``x``.

    Raises:
        TypeError: if ``x`` is not floating or ``approximate`` is not a bool.
    """
    if approximate:
        c = np.sqrt(2 / np.pi).astype(x.dtype)  # rounded once, from float64
        xc = jnp.clip(x, -_GELU_CLIP, _GELU_CLIP)
        return x * (0.5 * (1 + jnp.tanh(c * (xc + _GELU_CUBIC * xc**3))))
    return 0.5 * x * jax.scipy.special.erfc(-x * np.sqrt(0.5).astype(x.dtype))


@_checked(_floating_x("silu"))
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
    return x * sigmoid(x)
