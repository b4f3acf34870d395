r"""Dense layers and multilayer perceptrons: initialisation, the forward pass, and the
backward pass written by hand.

Conventions (as flax's ``Dense``): a batch is a matrix whose **rows** are examples,
``x: (N, D_in)``; a layer's kernel is ``w: (D_in, D_out)`` and its bias ``b: (D_out,)``, so
a layer computes ``z = x @ w + b``. The chapter's math (``notebooks/04_backprop.ipynb``)
writes one example as a column, $z^{(l)} = W^{(l)} a^{(l-1)} + b^{(l)}$ with $W^{(l)}$ of
shape $(n_l, n_{l-1})$: **the code's ``w`` of layer l is the transpose of the math's**
$W^{(l)}$, and the code's row ``delta[n]`` is the math's column $\delta^{(l)}$ of example
``n``. The notebook derives the row form from the column form.

An MLP's parameters are a list of layers ``[{"w": (D_0, D_1), "b": (D_1,)}, ...]`` (a JAX
pytree) of one floating dtype. Hidden layers apply ``activation``, the last layer
``output_activation`` (:data:`IDENTITY` by default: the network returns logits).

Activations are :class:`Activation` values, each forward rule beside its derivative
(:data:`SIGMOID`, :data:`TANH`, :data:`RELU`, :data:`IDENTITY`, or your own); a name
(``"relu"``) is resolved to one of those four before anything is compiled, and the value is
what the compiled function sees, so nothing read under ``jit`` can change behind it.

Dtypes follow :mod:`dlmath._checks`: parameters are real floating arrays of one dtype
(integer and complex ones are refused); floating data of another dtype is cast to the
parameters' dtype. The hand-written loss gradients that start the backward pass live in
:mod:`dlmath.backprop`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from dlmath import _checks
from dlmath.activations import relu, sigmoid, tanh

__all__ = [
    "Activation",
    "SIGMOID",
    "TANH",
    "RELU",
    "IDENTITY",
    "ACTIVATIONS",
    "activation_named",
    "Cache",
    "dense",
    "init_variance",
    "init_mlp",
    "forward",
    "mlp",
    "backward",
    "log_sigmoid_jacobian_bound",
]


# ------------------------------------------------------------------ activations
class Activation(NamedTuple):
    """An activation $\\sigma$ and its local derivative, side by side.

    ``fn(z)`` is $\\sigma(z)$ elementwise; ``derivative(z, a)`` is $\\sigma'(z)$, given
    both the pre-activation ``z`` and the forward value ``a = fn(z)`` (so that
    $\\sigma' = a(1 - a)$ costs no second exponential). ``name`` labels it. The value is a
    hashable tuple of functions: :func:`forward` and :func:`backward` compile for it.
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


#: The logistic sigmoid of :mod:`dlmath.activations` and $\sigma' = a(1-a)$.
SIGMOID = Activation("sigmoid", sigmoid, _sigmoid_derivative)
#: tanh and $\tanh' = 1 - a^2$.
TANH = Activation("tanh", tanh, _tanh_derivative)
#: ReLU and $[z > 0]$ (0 at the kink, as ``jax.nn.relu``'s gradient).
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
        f"{who}: {name} must be an activation name or a layers.Activation(name, fn, "
        f"derivative); got {type(value).__name__}."
    )


# ------------------------------------------------------------------ input checks
def _check_params(who: str, params):
    """(dims [(D_in, D_out), ...], dtype) of an MLP's parameters."""
    if not isinstance(params, (list, tuple)) or len(params) == 0:
        raise TypeError(
            f"{who}: params must be a non-empty list of layers {{'w': (D_in, D_out), "
            f"'b': (D_out,)}}; got {type(params).__name__}. Build one with init_mlp."
        )
    dims = []
    for k, layer in enumerate(params):
        if not isinstance(layer, dict) or set(layer) != {"w", "b"}:
            raise TypeError(f"{who}: params[{k}] must be a dict with keys 'w' and 'b'.")
        ws, bs = _checks.shape_of(layer["w"]), _checks.shape_of(layer["b"])
        if len(ws) != 2 or bs != ws[1:]:
            raise ValueError(
                f"{who}: params[{k}] must have w (D_in, D_out) and b (D_out,); got w "
                f"{_checks.fmt(ws)}, b {_checks.fmt(bs)}."
            )
        if dims and dims[-1][1] != ws[0]:
            raise ValueError(
                f"{who}: layer {k} takes D_in = {ws[0]} inputs but layer {k - 1} gives "
                f"D_out = {dims[-1][1]}; the kernels must chain (D_0, D_1), (D_1, D_2), ..."
            )
        dims.append(ws)
    dtype = _checks.float_dtype_of_tree(who, "params", list(params))
    return dims, dtype


def _check_x(who: str, params, x):
    """The dtype of params, after checking params and x ``(N, D_0)``; x cast to it."""
    dims, dtype = _check_params(who, params)
    _checks.require_floating(who, "x", x)
    _checks.require_ndim(who, "x", x, 2, "(N, D_in)",
                         "Put one example per row; a single example is x[None, :].")
    if _checks.shape_of(x)[1] != dims[0][0]:
        raise ValueError(
            f"{who}: x must have shape (N, D_in) with D_in = {dims[0][0]} (the first kernel's "
            f"rows); got {_checks.fmt(_checks.shape_of(x))}."
        )
    (x,) = _checks.cast_floats(dtype, x)
    return dims, dtype, x


# ------------------------------------------------------------------ one layer, init
def dense(params: dict, x):
    r"""A dense (fully connected) layer on a batch of row vectors.

    $$X W + 1 b^{T}$$

    with $1$ the column of $N$ ones (the bias is added to every row). This is the math's
    $W^{(l)} a + b^{(l)}$ for each example transposed: ``w`` is $W^{(l)T}$.

    Args:
        params: ``{"w": (D_in, D_out), "b": (D_out,)}``, real floating.
        x: floating array ``(N, D_in)``; cast to the dtype of ``params``.

    Returns:
        ``(N, D_out)``, the pre-activations $Z$, in the dtype of ``params``.

    Raises:
        TypeError: if ``params`` is not such a dict of one float dtype, or ``x`` is not floating.
        ValueError: if the shapes do not fit.
    """
    _, _, x = _check_x("dense", [params], x)
    return x @ params["w"] + params["b"]


def init_variance(scheme: str, n_in: int, n_out: int) -> float:
    r"""The weight variance that keeps signals at a constant scale through the layers.

    LeCun (``"lecun"``, forward pass, activations that are linear near 0 such as tanh):

    $$\frac{1}{n_{in}}$$

    He (``"he"``, ReLU halves the second moment):

    $$\frac{2}{n_{in}}$$

    Xavier/Glorot (``"xavier"``, the compromise between forward, $1/n_{in}$, and backward,
    $1/n_{out}$):

    $$\frac{2}{n_{in} + n_{out}}$$

    Derived from the second moment of a sum of $n_{in}$ independent zero-mean products,
    $\mathbb E[z^2] = n_{in}\,\mathrm{Var}(W)\,\mathbb E[a^2]$, in
    ``notebooks/04_backprop.ipynb``.

    Args:
        scheme: ``"lecun"``, ``"he"`` or ``"xavier"``.
        n_in, n_out: fan-in $D_{in}$ and fan-out $D_{out}$ of the layer, ints >= 1.

    Returns:
        The variance, a Python float.

    Raises:
        ValueError: for an unknown scheme or a fan below 1.
        TypeError: a fan that is not an int.
    """
    if scheme not in _SCHEMES:
        raise ValueError(f"init_variance: scheme must be one of {_SCHEMES}; got {scheme!r}.")
    _checks.count("init_variance", "n_in", n_in, low=1)
    _checks.count("init_variance", "n_out", n_out, low=1)
    return {"lecun": 1.0 / n_in, "he": 2.0 / n_in, "xavier": 2.0 / (n_in + n_out)}[scheme]


_SCHEMES = ("lecun", "he", "xavier")


def init_mlp(key, sizes, *, scheme: str = "he", distribution: str = "normal",
             gain=1.0, dtype=jnp.float32) -> list[dict]:
    r"""Random parameters of an MLP with layer widths ``sizes = (D_0, D_1, ..., D_L)``.

    Kernels are drawn with mean 0 and variance ``gain**2 * init_variance(scheme, D_in,
    D_out)``, from a normal, or from $\mathcal U[-r, r]$ with $r = \sqrt{3\,\mathrm{Var}}$
    (a uniform on $[-r, r]$ has variance $r^2/3$); biases are 0.

    Args:
        key: a ``jax.random`` key (one sub-key per layer is split from it).
        sizes: at least two ints >= 1.
        scheme: ``"lecun"``, ``"he"`` or ``"xavier"`` (see :func:`init_variance`).
        distribution: ``"normal"`` or ``"uniform"``.
        gain: a real scalar >= 0 that multiplies the standard deviation (``gain != 1``
            shows a badly scaled init); it may be traced (its range is then not checked).
        dtype: a real floating dtype of the arrays.

    Returns:
        ``[{"w": (D_0, D_1), "b": (D_1,)}, ..., {"w": (D_{L-1}, D_L), "b": (D_L,)}]``.

    Raises:
        ValueError: for fewer than two sizes, a size below 1, an unknown scheme or distribution, or
            a concrete ``gain`` below 0 or not finite.
        TypeError: a size that is not an int, a ``gain`` that is not a real number, a ``dtype`` that
            is not a real floating type.
    """
    who = "init_mlp"
    sizes = tuple(sizes)
    if len(sizes) < 2:
        raise ValueError(f"{who}: sizes must be at least two ints >= 1 (D_0, ..., D_L); got "
                         f"{sizes!r}.")
    for k, n in enumerate(sizes):
        _checks.count(who, f"sizes[{k}]", n, low=1)
    if distribution not in ("normal", "uniform"):
        raise ValueError(f"{who}: distribution must be 'normal' or 'uniform'; got "
                         f"{distribution!r}.")
    if scheme not in _SCHEMES:
        raise ValueError(f"{who}: scheme must be one of {_SCHEMES}; got {scheme!r}.")
    _checks.hyperparameter(who, "gain", gain, low=0.0)
    try:
        floating = jnp.issubdtype(jnp.dtype(dtype), jnp.floating)
    except TypeError:
        floating = False
    if not floating:
        raise TypeError(f"{who}: dtype must be a real floating type (float16, bfloat16, "
                        f"float32, float64); got {dtype!r}.")
    params = []
    for k, (n_in, n_out) in zip(jax.random.split(key, len(sizes) - 1),
                                zip(sizes[:-1], sizes[1:], strict=True), strict=True):
        std = gain * init_variance(scheme, n_in, n_out) ** 0.5
        if distribution == "normal":
            w = std * jax.random.normal(k, (n_in, n_out), dtype)
        else:
            w = std * jax.random.uniform(k, (n_in, n_out), dtype, -(3.0**0.5), 3.0**0.5)
        params.append({"w": jnp.asarray(w, dtype), "b": jnp.zeros((n_out,), dtype)})
    return params


# ------------------------------------------------------------------ forward, backward
class Cache(NamedTuple):
    """What the forward pass keeps for the backward pass.

    ``zs[l]``: pre-activations of layer ``l + 1``, ``(N, D_{l+1})``; ``activations[0]`` is the
    input ``x`` and ``activations[l + 1]`` the output of layer ``l + 1``, so
    ``activations[-1]`` is the network's output.
    """

    zs: list
    activations: list


@functools.partial(jax.jit, static_argnames=("activation", "output_activation"))
def _forward(params, x, activation, output_activation):
    zs, acts = [], [x]
    for k, layer in enumerate(params):
        z = acts[-1] @ layer["w"] + layer["b"]                       # Z = A W + 1 b^T
        act = output_activation if k == len(params) - 1 else activation
        zs.append(z)
        acts.append(act.fn(z))                                        # A' = sigma(Z)
    return Cache(zs, acts)


def forward(params, x, *, activation="relu", output_activation="identity"):
    r"""The forward pass, keeping every pre-activation and activation for :func:`backward`.

    Row form of $z^{(l)} = W^{(l)} a^{(l-1)} + b^{(l)}$, $a^{(l)} = \sigma(z^{(l)})$:
    ``Z = A @ w + b``, ``A' = activation(Z)``; the last layer uses ``output_activation``.

    Args:
        params: list of layers (see :func:`init_mlp`).
        x: floating ``(N, D_0)``, cast to the dtype of ``params``.
        activation, output_activation: :class:`Activation` values or their names.

    Returns:
        A :class:`Cache` ``(zs, activations)``.

    Raises:
        TypeError, ValueError: for malformed ``params`` (integer, complex or mixed dtypes included),
            a non-floating or mis-shaped ``x``, or an unknown activation.
    """
    return _checked_forward("forward", params, x, activation, output_activation)


def _checked_forward(who, params, x, activation, output_activation):
    _, _, x = _check_x(who, params, x)
    act = activation_named(who, "activation", activation)
    out = activation_named(who, "output_activation", output_activation)
    return _forward(list(params), x, act, out)


def mlp(params, x, *, activation="relu", output_activation="identity"):
    r"""The network's output ``(N, D_L)``: ``forward(...).activations[-1]``.

    Row form of $a^{(l)} = \sigma(W^{(l)} a^{(l-1)} + b^{(l)})$ for $l = 1, \dots, L$
    (``notebooks/04_backprop.ipynb``).

    Args:
        params: list of layers (see :func:`init_mlp`). x: floating ``(N, D_0)``.
        activation, output_activation: :class:`Activation` values or their names.

    Returns:
        ``(N, D_L)``, the last layer's activations (logits with the identity).

    Raises:
        TypeError, ValueError: what :func:`forward` raises (naming ``mlp``).
    """
    return _checked_forward("mlp", params, x, activation, output_activation).activations[-1]


@functools.partial(jax.jit, static_argnames=("activation", "output_activation"))
def _backward(params, cache, grad_output, activation, output_activation):
    z_top, a_top = cache.zs[-1], cache.activations[-1]
    delta = grad_output * output_activation.derivative(z_top, a_top)  # dL/dZ^(L)
    grads = [None] * len(params)
    for k in range(len(params) - 1, -1, -1):
        a_prev = cache.activations[k]
        grads[k] = {"w": a_prev.T @ delta, "b": jnp.sum(delta, axis=0)}  # A^T Delta, Delta^T 1
        if k > 0:                                                      # (Delta W^T) o S
            delta = (delta @ params[k]["w"].T) * activation.derivative(cache.zs[k - 1], a_prev)
    return grads


def backward(params, cache: Cache, grad_output, *, activation="relu",
             output_activation="identity"):
    r"""Backpropagation by hand (no autodiff): the gradient of a loss with respect to every
    kernel and bias, given $\partial L / \partial a^{(L)}$.

    For each layer, from the last to the first, with $\Delta$ the ``(N, D_out)`` rows
    $\delta^{(l)T} = (\partial L / \partial z^{(l)})^T$ of the examples, $W$ the code's
    kernel ``(D_in, D_out)``, $A$ the layer's inputs ``(N, D_in)`` and $S = \sigma'(Z)$ of
    the layer below ``(N, D_in)``: the error of the layer below is

    $$\left(\Delta W^{T}\right) \circ S$$

    the kernel's gradient is

    $$A^{T} \Delta$$

    and the bias's gradient (with $1$ the column of $N$ ones, a sum over the examples) is

    $$\Delta^{T} 1$$

    These are the chapter's column-vector results
    $\delta^{(l)} = (W^{(l+1)T}\delta^{(l+1)}) \circ \sigma'(z^{(l)})$,
    $\partial L/\partial W^{(l)} = \delta^{(l)} a^{(l-1)T}$, $\partial L/\partial b^{(l)} =
    \delta^{(l)}$, stacked over the examples and transposed (``notebooks/04_backprop.ipynb``
    proves both forms). The last layer starts the recursion with
    $\delta^{(L)} = \nabla_{a^{(L)}} L \circ \sigma_{out}'(z^{(L)})$.

    Args:
        params: list of layers (see :func:`init_mlp`).
        cache: the :class:`Cache` of :func:`forward` on the same ``params``.
        grad_output: floating $\partial L / \partial a^{(L)}$, the shape of the output
            ``(N, D_L)`` (for a loss averaged over examples it already carries the $1/N$);
            cast to the dtype of ``params``.
        activation, output_activation: as given to :func:`forward`.

    Returns:
        A list shaped like ``params``: ``[{"w": dL/dw, "b": dL/db}, ...]``.

    Raises:
        ValueError: if ``grad_output`` does not have the output's shape, or the cache does not
            belong to ``params``; an unknown activation name.
        TypeError: malformed ``params``; a non-floating ``grad_output``.
    """
    who = "backward"
    dims, dtype = _check_params(who, params)
    act = activation_named(who, "activation", activation)
    out_act = activation_named(who, "output_activation", output_activation)
    if (not isinstance(cache, Cache) or len(cache.zs) != len(dims)
            or len(cache.activations) != len(dims) + 1):
        raise ValueError(
            f"{who}: cache must be the Cache that forward returned for these {len(dims)} "
            "layers."
        )
    _checks.require_floating(who, "grad_output", grad_output)
    _checks.require_same_shape(
        who, "the network's output", cache.activations[-1], "grad_output", grad_output,
        "(N, D_L)", "grad_output is dL/d(output), one row per example.",
    )
    (grad_output,) = _checks.cast_floats(dtype, grad_output)
    return _backward(list(params), cache, grad_output, act, out_act)


# ------------------------------------------------------------------ vanishing gradients
def log_sigmoid_jacobian_bound(params):
    r"""Natural log of the bound on $\|\partial a^{(L)} / \partial a^{(0)}\|_2$ through $L$
    sigmoid layers, $(1/4)^L \prod_l \|W^{(l)}\|_2$:

    $$- L \log{\left(4 \right)} + \sum_{l=1}^{L} \log{\left({s}_{l} \right)}$$

    with $s_l = \|W^{(l)}\|_2$ the spectral norm (largest singular value; the code's
    transposed kernel has the same). Because $\max \sigma' = 1/4$, every layer's Jacobian
    $\mathrm{diag}(\sigma'(z^{(l)}))\,W^{(l)}$ has norm at most $s_l/4$, and the norm of
    the product of the layers' Jacobians is at most the product of their norms.
    ``notebooks/04_backprop.ipynb`` proves $\sigma' \le 1/4$ and this log form (for every
    $L$) in SymPy; the two norm inequalities are standard linear algebra, argued there in
    prose and checked numerically. In logarithms so that deep networks do not underflow.

    Args:
        params: list of layers (biases do not enter the bound).

    Returns:
        A scalar in the dtype of ``params`` (float16 and bfloat16 kernels are reduced in
        float32, which the singular values need).

    Raises:
        TypeError, ValueError: for malformed ``params``.
    """
    _, dtype = _check_params("log_sigmoid_jacobian_bound", params)
    work = jnp.promote_types(dtype, jnp.float32)
    norms = jnp.stack([jnp.linalg.norm(layer["w"].astype(work), 2) for layer in params])
    return (-len(params) * jnp.log(jnp.asarray(4.0, work)) + jnp.sum(jnp.log(norms))).astype(dtype)
