r"""Penalties added to a loss: the L2 penalty (weight decay under plain SGD).

Added to the loss that :func:`dlmath.training.fit` minimises, so there is one way to
regularise: ``loss(params, ...) + l2_penalty(params, l2, mask=...)``. Under
:func:`dlmath.optim.sgd` its gradient $\lambda\theta$ is exactly weight decay; under Adam
it is not (use :func:`dlmath.optim.adamw`; chapter 05 shows the difference).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from dlmath import _checks

__all__ = ["l2_penalty"]


def l2_penalty(params, l2, *, mask=None):
    r"""$\frac{\lambda}{2} \sum_\ell \lVert \theta_\ell \rVert^2$ over the leaves of ``params``
    that ``mask`` selects (every leaf by default); its gradient is $\lambda\theta_\ell$.

    Args:
        params: a pytree of floating arrays.
        l2: $\lambda \ge 0$, a real scalar (may be traced).
        mask: ``None`` (every leaf), or a pytree of Python bools with the structure of
            ``params`` (``False``: not penalised, e.g. the biases), or a callable
            ``params -> such a tree`` (as optax's masks).

    Returns:
        A scalar in the parameters' dtype.

    Raises:
        TypeError: non-floating leaves; a non-real ``l2``; mask leaves that are not bools.
        ValueError: ``l2 < 0`` or not finite; a mask that does not fit ``params``.
    """
    who = "l2_penalty"
    dtype = _checks.float_dtype_of_tree(who, "params", params)
    _checks.hyperparameter(who, "l2", l2, low=0.0)
    leaves = jax.tree_util.tree_leaves(params)
    if mask is not None:
        tree = mask(params) if callable(mask) else mask
        flags = jax.tree_util.tree_leaves(tree)
        if jax.tree_util.tree_structure(tree) != jax.tree_util.tree_structure(params):
            raise ValueError(
                f"{who}: mask must have the pytree structure of params; got mask "
                f"{jax.tree_util.tree_structure(tree)}, params "
                f"{jax.tree_util.tree_structure(params)}."
            )
        if not all(isinstance(f, bool) for f in flags):
            raise TypeError(f"{who}: the leaves of mask must be Python bools (True: penalise).")
        leaves = [p for p, f in zip(leaves, flags, strict=True) if f]
    total = sum((jnp.sum(jnp.square(p)) for p in leaves), jnp.zeros((), dtype))
    return (0.5 * l2 * total).astype(dtype)
