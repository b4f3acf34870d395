r"""Activation functions, named and shaped as ``jax.nn``: ``softmax(x, axis=-1)``,
``sigmoid(x)``, ``tanh(x)``, ``relu(x)``, ``leaky_relu(x, negative_slope=0.01)``,
``softplus(x)``, ``gelu(x, approximate=True)``, ``silu(x)``.

Each docstring quotes the formula the book derives (see :mod:`dlmath.formulas`); the
elementwise activations and their derivatives are derived in
``notebooks/02_activations.ipynb``. Every one is finite, with a finite gradient, at
$x = \pm 10^4$ in float32 and float16.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from dlmath import _checks

__all__ = ["softmax", "log_softmax", "sigmoid", "tanh", "relu", "leaky_relu", "softplus",
           "gelu", "silu"]


def _check_axis(who: str, x, axis: int) -> None:
    nd = len(_checks.shape_of(x))
    if not isinstance(axis, int) or not -nd <= axis < nd:
        raise ValueError(
            f"{who}: axis must be an int in [-{nd}, {nd}) for x of shape "
            f"{_checks.fmt(_checks.shape_of(x))}; got {axis!r}."
        )


def softmax(x, axis: int = -1):
    r"""Softmax along ``axis``: positive entries that sum to 1.

    $$\frac{e^{{x}_{k}}}{\sum_{j=0}^{K - 1} e^{{x}_{j}}}$$

    Computed in the stable form $e^{x_k - m} / \sum_j e^{x_j - m}$ with $m = \max_j x_j$
    (the shift cancels; derived in ``notebooks/03_cross_entropy.ipynb``), so logits of
    $\pm 10^4$ give no overflow.

    Args:
        x: floating array ``(*B, K)`` (``K`` along ``axis``).
        axis: the axis of the ``K`` classes.

    Returns:
        An array of the shape of ``x``.

    Raises:
        TypeError: if ``x`` is not floating. ValueError: if ``axis`` is out of range.
    """
    _checks.require_floating("softmax", "x", x)
    _check_axis("softmax", x, axis)
    return _softmax(x, axis)


def log_softmax(x, axis: int = -1):
    r"""Logarithm of :func:`softmax`, computed without forming the softmax.

    $$- \log{\left(\sum_{j=0}^{K - 1} e^{{x}_{j}} \right)} + {x}_{k}$$

    Computed as $(x_k - m) - \log \sum_j e^{x_j - m}$ with $m = \max_j x_j$ (log-sum-exp;
    derived in ``notebooks/03_cross_entropy.ipynb``).

    Args:
        x: floating array ``(*B, K)``.
        axis: the axis of the ``K`` classes.

    Returns:
        An array of the shape of ``x`` (all entries <= 0).

    Raises:
        TypeError: if ``x`` is not floating. ValueError: if ``axis`` is out of range.
    """
    _checks.require_floating("log_softmax", "x", x)
    _check_axis("log_softmax", x, axis)
    return _log_softmax(x, axis)


@jax.jit(static_argnames="axis")
def _log_softmax(x, axis):
    shifted = x - jax.lax.stop_gradient(jnp.max(x, axis=axis, keepdims=True))
    return shifted - jnp.log(jnp.sum(jnp.exp(shifted), axis=axis, keepdims=True))


@jax.jit(static_argnames="axis")
def _softmax(x, axis):
    shifted = x - jax.lax.stop_gradient(jnp.max(x, axis=axis, keepdims=True))
    e = jnp.exp(shifted)
    return e / jnp.sum(e, axis=axis, keepdims=True)


# ---- elementwise activations (chapter 02) -------------------------------------------------


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
    _checks.require_floating("sigmoid", "x", x)
    return _sigmoid(x)


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
    _checks.require_floating("tanh", "x", x)
    return _tanh(x)


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
    _checks.require_floating("relu", "x", x)
    return _relu(x)


def leaky_relu(x, negative_slope=0.01):
    r"""Leaky ReLU, elementwise: slope 1 for $x \ge 0$, slope $\alpha$ = ``negative_slope``
    below.

    $$\begin{cases} x & \text{for}\: x \geq 0 \\\alpha x & \text{otherwise} \end{cases}$$

    Its derivative, with the convention of ``jax.nn.leaky_relu`` at the kink (1 at $x = 0$;
    derived in ``notebooks/02_activations.ipynb``):

    $$\begin{cases} 1 & \text{for}\: x \geq 0 \\\alpha & \text{otherwise} \end{cases}$$

    Args:
        x: floating array of any shape ``(*S,)``.
        negative_slope: $\alpha$, a scalar (or an array broadcastable to ``x``), default 0.01.

    Returns:
        An array of the dtype of ``x``, of its shape (of the broadcast shape when an array
        ``negative_slope`` has more dimensions).

    Raises:
        TypeError: if ``x`` is not floating.
    """
    _checks.require_floating("leaky_relu", "x", x)
    return _leaky_relu(x, negative_slope)


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
    _checks.require_floating("softplus", "x", x)
    return _softplus(x)


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
    _checks.require_floating("gelu", "x", x)
    if not isinstance(approximate, bool):
        raise TypeError(
            f"gelu: approximate must be a Python bool (it selects the formula at trace time); "
            f"got {type(approximate).__name__}."
        )
    return _gelu(x, approximate)


def silu(x):
    r"""The sigmoid linear unit (also called swish), $x\,\sigma(x)$, elementwise.

    $$\frac{x}{1 + e^{- x}}$$

    Computed as ``x * sigmoid(x)`` with the stable :func:`sigmoid`; its derivative is an
    exercise of ``notebooks/02_activations.ipynb``.

    Args:
        x: floating array of any shape ``(*S,)``.

    Returns:
        An array of the shape and dtype of ``x``.

    Raises:
        TypeError: if ``x`` is not floating.
    """
    _checks.require_floating("silu", "x", x)
    return _silu(x)


@jax.jit
def _sigmoid(x):
    # z = -|x| written with `where`, not `abs`: the gradient of abs at 0 is 0, which would
    # make the gradient of this branch wrong at x = 0; here dz/dx = -1 there.
    z = jnp.where(x >= 0, -x, x)
    e = jnp.exp(z)
    return jnp.where(x >= 0, 1 / (1 + e), e / (1 + e))


@jax.jit
def _tanh(x):
    return jnp.tanh(x)


@jax.jit
def _relu(x):
    # `where(x <= 0, 0, x)` takes the zero branch at x = 0, so the gradient there is 0 (as
    # jax.nn.relu); a NaN fails `x <= 0` and passes through, as with jnp.maximum (the
    # condition `x > 0` would silently turn NaN into 0 and hide a diverged computation).
    return jnp.where(x <= 0, jnp.zeros_like(x), x)


@jax.jit
def _leaky_relu(x, negative_slope):
    return jnp.where(x >= 0, x, negative_slope * x).astype(x.dtype)


@jax.jit
def _softplus(x):
    return jnp.logaddexp(x, jnp.zeros_like(x))


_GELU_CUBIC = 0.044715
_GELU_CLIP = 10.0


@jax.jit(static_argnames="approximate")
def _gelu(x, approximate):
    if approximate:
        c = np.sqrt(2 / np.pi).astype(x.dtype)  # rounded once, from float64
        xc = jnp.clip(x, -_GELU_CLIP, _GELU_CLIP)
        return x * (0.5 * (1 + jnp.tanh(c * (xc + _GELU_CUBIC * xc**3))))
    return 0.5 * x * jax.scipy.special.erfc(-x * np.sqrt(0.5).astype(x.dtype))


@jax.jit
def _silu(x):
    return x * _sigmoid(x)
