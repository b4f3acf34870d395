r"""Dense layers and multilayer perceptrons: initialisation, the forward pass, and the
backward pass written by hand.

Conventions (as flax's ``Dense``): a batch is a matrix whose **rows** are examples,
``x: (N, D_in)``; a layer's kernel is ``w: (D_in, D_out)`` and its bias ``b: (D_out,)``, so
a layer computes ``z = x @ w + b``. The chapter's math (``notebooks/04_backprop.ipynb``)
writes one example as a column, $z^{(l)} = W^{(l)} a^{(l-1)} + b^{(l)}$ with $W^{(l)}$ of
shape $(n_l, n_{l-1})$: **the code's ``w`` of layer l is the transpose of the math's**
$W^{(l)}$, and the code's row ``delta[n]`` is the math's column $\delta^{(l)}$ of example
``n``. The notebook derives the row form from the column form. :func:`dense` is the one
dense layer of the package: the projections of attention, the transformer block and the
recurrent cells are dense layers of this form (a PyTorch weight ``(D_out, D_in)`` is
transposed by :mod:`dlmath.convert`), and every model draws its kernels with
:mod:`dlmath.initializers`.

An MLP's parameters are a list of layers ``[{"w": (D_0, D_1), "b": (D_1,)}, ...]`` (a JAX
pytree) of one floating dtype. Hidden layers apply ``activation``, the last layer
``output_activation`` (the identity by default: the network returns logits).

Activations are :class:`dlmath.activations.Activation` values, each forward rule beside its
derivative, or their names (``"relu"``); the compiled functions take them as static
arguments, so nothing read under ``jit`` can change behind them.

Dtypes follow :mod:`dlmath._checks`: parameters are real floating arrays of one dtype
(integer and complex ones are refused); floating data of another dtype is cast to the
parameters' dtype. The hand-written loss gradients that start the backward pass live in
:mod:`dlmath.backprop`.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from dlmath import _checks, _reduce, initializers
from dlmath.activations import activation_named

__all__ = [
    "Cache",
    "dense",
    "init_mlp",
    "forward",
    "mlp",
    "backward",
    "log_sigmoid_jacobian_bound",
]



# ------------------------------------------------------------------ input checks
def _check_params(who: str, params):
    """(dims [(D_in, D_out), ...], dtype) of an MLP's parameters."""
    return _checks.require_dense_stack(who, "params", params, hint="Build them with init_mlp.")


def _check_x(who: str, params, x) -> None:
    """params, and x ``(N, D_0)`` floating (the kernels cast it to the parameters' dtype)."""
    dims, _ = _check_params(who, params)
    _checks.require_floating(who, "x", x)
    _checks.require_ndim(who, "x", x, 2, "(N, D_in)",
                         "Put one example per row; a single example is x[None, :].")
    if _checks.shape_of(x)[1] != dims[0][0]:
        raise ValueError(
            f"{who}: x must have shape (N, D_in) with D_in = {dims[0][0]} (the first kernel's "
            f"rows); got {_checks.fmt(_checks.shape_of(x))}."
        )


def _check_forward(who: str):
    def check(params, x, *, activation="relu", output_activation="identity"):
        _check_x(who, params, x)
        activation_named(who, "activation", activation)
        activation_named(who, "output_activation", output_activation)
    return check


# ------------------------------------------------------------------ one layer, init
def _check_dense(params, x) -> None:
    _checks.require_dense("dense", "params", params)
    _check_x("dense", [params], x)


@_checks.checked(_check_dense)
def dense(params: dict, x):
    r"""A dense (fully connected) layer on a batch of row vectors.

    $$X W + 1 b^{T}$$

    with $1$ the column of $N$ ones (the bias is added to every row). This is the math's
    $W^{(l)} a + b^{(l)}$ for each example transposed: ``w`` is $W^{(l)T}$. It is the one
    dense form of the package (flax's ``Dense``): every model's projections are dense
    layers and call ``dense.kernel``, which accepts any batch axes ``(*B, D_in)``; a
    PyTorch weight ``(D_out, D_in)`` is transposed by :mod:`dlmath.convert`, never here.

    Args:
        params: ``{"w": (D_in, D_out), "b": (D_out,)}``, real floating.
        x: floating array ``(N, D_in)``; cast to the dtype of ``params``.

    Returns:
        ``(N, D_out)``, the pre-activations $Z$, in the dtype of ``params``.

    Raises:
        TypeError: if ``params`` is not such a dict of one float dtype, or ``x`` is not floating.
        ValueError: if the shapes do not fit.
    """
    w = params["w"]
    # the batch axes as one, (prod(*B), D_in) @ (D_in, D_out): the same products, but the
    # weight gradient x^T g is then one plain matrix product, which XLA's CPU backend runs
    # on its fast matmul; over (*B, D_in) it was a product over several contracted axes
    # that it left to a slower one (it held back multi_head_attention's gradient)
    rows = x.astype(w.dtype).reshape(-1, x.shape[-1])
    return (rows @ w + params["b"]).reshape(*x.shape[:-1], w.shape[-1])


def init_mlp(key, sizes, *, scheme: str = "he", distribution: str = "normal",
             gain=1.0, dtype=jnp.float32) -> list[dict]:
    r"""Random parameters of an MLP with layer widths ``sizes = (D_0, D_1, ..., D_L)``.

    Kernels are drawn by :func:`dlmath.initializers.variance_scaling` with mean 0 and
    variance ``gain**2 * initializers.variance(scheme, D_in, D_out)``, from a normal, a
    normal truncated at two standard deviations, or $\mathcal U[-r, r]$ with
    $r = \sqrt{3\,\mathrm{Var}}$ (a uniform on $[-r, r]$ has variance $r^2/3$); biases are 0.

    Args:
        key: a ``jax.random`` key (one sub-key per layer is split from it).
        sizes: a sequence (tuple, list, range, 1-D NumPy array) of at least two ints >= 1.
        scheme: ``"lecun"``, ``"he"`` or ``"glorot"`` (:data:`dlmath.initializers.SCHEMES`).
        distribution: ``"normal"``, ``"truncated_normal"`` or ``"uniform"``.
        gain: a real scalar >= 0 that multiplies the standard deviation (``gain != 1``
            shows a badly scaled init); it may be traced (its range is then not checked).
        dtype: a real floating dtype of the arrays.

    Returns:
        ``[{"w": (D_0, D_1), "b": (D_1,)}, ..., {"w": (D_{L-1}, D_L), "b": (D_L,)}]``.

    Raises:
        ValueError: for fewer than two sizes, a size below 1, an unknown scheme or distribution, or
            a concrete ``gain`` below 0 or not finite.
        TypeError: a missing key or one that is not a single ``jax.random`` key, ``sizes``
            that is not a sequence (a single int), a size that is not an int, a ``gain`` that
            is not a real number, a ``dtype`` that is not a real floating type.
    """
    who = "init_mlp"
    _checks.require_key(who, key, "the kernels")
    sizes = _checks.sizes(who, "sizes", sizes, at_least=2, legend="(D_0, ..., D_L)",
                          hint="One hidden layer of H units between D inputs and K outputs "
                               "is sizes=(D, H, K).")
    if distribution not in initializers.DISTRIBUTIONS:
        raise ValueError(f"{who}: distribution must be one of "
                         f"{list(initializers.DISTRIBUTIONS)}; got {distribution!r}.")
    if not isinstance(scheme, str) or scheme not in initializers.SCHEMES:
        raise ValueError(f"{who}: scheme must be one of {list(initializers.SCHEMES)}; got "
                         f"{scheme!r}.")
    _checks.hyperparameter(who, "gain", gain, low=0.0)
    _checks.require_float_dtype(who, "dtype", dtype)
    scale, mode = initializers.SCHEMES[scheme]
    init = initializers.variance_scaling(gain**2 * scale, mode, distribution, dtype=dtype)
    return [{"w": init(k, (n_in, n_out)), "b": jnp.zeros((n_out,), dtype)}
            for k, n_in, n_out in zip(jax.random.split(key, len(sizes) - 1), sizes[:-1],
                                      sizes[1:], strict=True)]


# ------------------------------------------------------------------ forward, backward
class Cache(NamedTuple):
    """What the forward pass keeps for the backward pass.

    ``zs[l]``: pre-activations of layer ``l + 1``, ``(N, D_{l+1})``; ``activations[0]`` is the
    input ``x`` and ``activations[l + 1]`` the output of layer ``l + 1``, so
    ``activations[-1]`` is the network's output.
    """

    zs: list
    activations: list


@_checks.checked(_check_forward("forward"), static_argnames=("activation", "output_activation"))
def forward(params, x, *, activation="relu", output_activation="identity"):
    r"""The forward pass, keeping every pre-activation and activation for :func:`backward`.

    Row form of $z^{(l)} = W^{(l)} a^{(l-1)} + b^{(l)}$, $a^{(l)} = \sigma(z^{(l)})$:
    ``Z = A @ w + b``, ``A' = activation(Z)``; the last layer uses ``output_activation``.

    Args:
        params: list of layers (see :func:`init_mlp`).
        x: floating ``(N, D_0)``, cast to the dtype of ``params``.
        activation, output_activation: :class:`dlmath.activations.Activation` values or
            their names.

    Returns:
        A :class:`Cache` ``(zs, activations)``.

    Raises:
        TypeError, ValueError: for malformed ``params`` (integer, complex or mixed dtypes included),
            a non-floating or mis-shaped ``x``, or an unknown activation.
    """
    hidden = activation_named("forward", "activation", activation)
    last = activation_named("forward", "output_activation", output_activation)
    zs, acts = [], [x.astype(params[0]["w"].dtype)]
    for k, layer in enumerate(params):
        z = dense.kernel(layer, acts[-1])                             # Z = A W + 1 b^T
        zs.append(z)
        acts.append((last if k == len(params) - 1 else hidden).fn(z))  # A' = sigma(Z)
    return Cache(zs, acts)


@_checks.checked(_check_forward("mlp"), static_argnames=("activation", "output_activation"))
def mlp(params, x, *, activation="relu", output_activation="identity"):
    r"""The network's output ``(N, D_L)``: ``forward(...).activations[-1]``.

    Row form of $a^{(l)} = \sigma(W^{(l)} a^{(l-1)} + b^{(l)})$ for $l = 1, \dots, L$
    (``notebooks/04_backprop.ipynb``).

    Args:
        params: list of layers (see :func:`init_mlp`). x: floating ``(N, D_0)``.
        activation, output_activation: :class:`dlmath.activations.Activation` values or
            their names.

    Returns:
        ``(N, D_L)``, the last layer's activations (logits with the identity).

    Raises:
        TypeError, ValueError: what :func:`forward` raises (naming ``mlp``).
    """
    return forward.kernel(params, x, activation=activation,
                          output_activation=output_activation).activations[-1]


def _check_backward(params, cache, grad_output, *, activation="relu",
                    output_activation="identity") -> None:
    who = "backward"
    dims, _ = _check_params(who, params)
    activation_named(who, "activation", activation)
    activation_named(who, "output_activation", output_activation)
    if (not isinstance(cache, Cache) or len(cache.zs) != len(dims)
            or len(cache.activations) != len(dims) + 1):
        raise ValueError(
            f"{who}: cache must be the Cache that forward returned for these {len(dims)} "
            "layers."
        )
    n = _checks.shape_of(cache.activations[0])[:1]
    widths = [dims[0][0]] + [d_out for _, d_out in dims]
    entries = [(f"cache.activations[{k}]", a, k) for k, a in enumerate(cache.activations)]
    entries += [(f"cache.zs[{k}]", z, k + 1) for k, z in enumerate(cache.zs)]
    for name, a, layer in entries:
        if _checks.shape_of(a) != (*n, widths[layer]):
            raise ValueError(
                f"{who}: cache must be the Cache that forward returned for these params, of "
                f"widths {tuple(widths)}: {name} must have shape (N, D_{layer}) = "
                f"(N, {widths[layer]}) with the N of cache.activations[0] "
                f"{_checks.fmt(_checks.shape_of(cache.activations[0]))}; got "
                f"{_checks.fmt(_checks.shape_of(a))}. Run forward(params, x) again with these "
                "params."
            )
    _checks.require_floating(who, "grad_output", grad_output)
    _checks.require_same_shape(
        who, "the network's output", cache.activations[-1], "grad_output", grad_output,
        "(N, D_L)", "grad_output is dL/d(output), one row per example.",
    )


@_checks.checked(_check_backward, static_argnames=("activation", "output_activation"))
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
    hidden = activation_named("backward", "activation", activation)
    last = activation_named("backward", "output_activation", output_activation)
    z_top, a_top = cache.zs[-1], cache.activations[-1]
    grad_output = grad_output.astype(params[0]["w"].dtype)
    delta = grad_output * last.derivative(z_top, a_top)              # dL/dZ^(L)
    grads = [None] * len(params)
    for k in range(len(params) - 1, -1, -1):
        a_prev = cache.activations[k]
        grads[k] = {"w": a_prev.T @ delta, "b": jnp.sum(delta, axis=0)}  # A^T Delta, Delta^T 1
        if k > 0:                                                      # (Delta W^T) o S
            delta = (delta @ params[k]["w"].T) * hidden.derivative(cache.zs[k - 1], a_prev)
    return grads


# ------------------------------------------------------------------ vanishing gradients
@_checks.checked(lambda params: _check_params("log_sigmoid_jacobian_bound", params))
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
    dtype = params[0]["w"].dtype
    work = _reduce.wide(dtype)
    norms = jnp.stack([jnp.linalg.norm(layer["w"].astype(work), 2) for layer in params])
    return (-len(params) * jnp.log(jnp.asarray(4.0, work)) + jnp.sum(jnp.log(norms))).astype(dtype)
