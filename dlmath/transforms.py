r"""Gradient transformations that compose with the optimizers of :mod:`dlmath.optim`, as
``optax.transforms`` holds them: :func:`clip_by_global_norm` rescales the updates, and
:func:`chain` applies transformations one after another, so
``chain(clip_by_global_norm(1.0), optim.adam(1e-3))`` clips the gradient before Adam sees
it. A chain is an optimizer like any other (``init``/``update``): :func:`dlmath.training.fit`
takes it unchanged, and optax's transformations chain with dlmath's. :func:`global_norm`
is the norm that clipping bounds.

Clipping is derived in ``notebooks/07_recurrent.ipynb`` (exploding gradients through time).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from dlmath import _checks, _reduce
from dlmath.optim import Optimizer

__all__ = ["EmptyState", "chain", "clip_by_global_norm", "global_norm"]


class EmptyState(NamedTuple):
    """The state of a transformation that keeps none (:func:`clip_by_global_norm`), as
    ``optax.EmptyState``."""


def chain(*transformations) -> Optimizer:
    r"""Apply ``transformations`` in order, as ``optax.chain``: the first receives the
    gradients, each next one the updates that the one before it returned, and every one the
    same ``params``.

    ``init(params)`` returns the tuple of the transformations' states; ``update(grads,
    state, params=None)`` returns the last transformation's updates and the tuple of their
    new states. :func:`dlmath.training.fit` compiles its loop once per optimizer object, so
    build a chain once and pass that object.

    Args:
        *transformations: objects with ``init``/``update``: :mod:`dlmath.optim`'s
            optimizers, :func:`clip_by_global_norm`, optax's transformations.

    Returns:
        An :class:`dlmath.optim.Optimizer` whose state is a tuple of one state per
        transformation.

    Raises:
        TypeError: an argument without ``init``/``update``; at ``update``, a state that is
            not the tuple that ``init`` returned.
    """
    for transformation in transformations:
        _checks.require_optimizer("chain", transformation)

    def init(params):
        return tuple(t.init(params) for t in transformations)

    def update(grads, state, params=None):
        if type(state) is not tuple or len(state) != len(transformations):
            raise TypeError(
                f"chain: state must be the tuple of {len(transformations)} states that this "
                f"chain's init(params) returned; got {type(state).__name__}. Build it with "
                "state = opt.init(params).")
        updates, states = grads, []
        for t, s in zip(transformations, state, strict=True):
            updates, s = t.update(updates, s, params)
            states.append(s)
        return updates, tuple(states)

    return Optimizer(init, update)


def _floating_leaves(who: str, name: str, tree) -> list:
    """The leaves of a pytree of floating arrays, at least one."""
    leaves = jax.tree_util.tree_leaves(tree)
    if not leaves:
        raise ValueError(f"{who}: {name} has no arrays (an empty pytree).")
    for leaf in leaves:
        _checks.require_floating(who, f"every leaf of {name}", leaf)
    return leaves


def _norm_of(leaves):
    """The global norm, summed in at least float32 (float16 squares overflow at 256) and
    scaled by a power of two near the largest entry (float32 squares of 1e20 overflow):
    ``dlmath._reduce.scaled_sum``."""
    scale, total = _reduce.scaled_sum(leaves, 2)
    return scale * jnp.sqrt(total)


def clip_by_global_norm(max_norm) -> Optimizer:
    r"""A transformation that scales the updates so that their global norm is at most
    ``max_norm``, as ``optax.clip_by_global_norm``:

    $${g}_{j} \min\left(1, \frac{c}{\sqrt{\sum_{k=0}^{n - 1} {g}_{k}^{2}}}\right)$$

    is entry $j$ of what ``update`` returns, for the $n$ entries $g_k$ of all leaves and
    $c$ = ``max_norm``: below the threshold nothing changes, above it every leaf is
    multiplied by the same factor $c / \|g\|$, so the direction of the step is kept. A zero
    gradient stays zero. Before an optimizer: ``chain(clip_by_global_norm(1.0),
    optim.adam(1e-3))``; on a gradient tree alone: ``clip = clip_by_global_norm(1.0)``,
    ``clipped, _ = clip.update(grads, clip.init(grads))``.

    Args:
        max_norm: $c > 0$, a real scalar (may be traced).

    Returns:
        An :class:`dlmath.optim.Optimizer` whose state is :class:`EmptyState`; its
        ``update`` returns a pytree of the structure, shapes and dtypes of the updates (the
        norm is summed in at least float32, so float16 squares do not overflow).

    Raises:
        TypeError: ``max_norm`` not a real number; at ``update``, a non-floating leaf, or a
            state that is not the :class:`EmptyState` of ``init``.
        ValueError: ``max_norm <= 0`` or not finite (when concrete); at ``update``, a tree
            without leaves.

    Derived in ``notebooks/07_recurrent.ipynb``.
    """
    who = "clip_by_global_norm"
    _checks.hyperparameter(who, "max_norm", max_norm, low=0.0, low_open=True)

    def init(params):
        del params
        return EmptyState()

    def update(grads, state, params=None):
        del params
        _checks.require_state(who, state, EmptyState)
        norm = _norm_of(_floating_leaves(who, "grads", grads))
        scale = jnp.minimum(1.0, max_norm / jnp.where(norm > 0, norm, 1.0))
        clipped = jax.tree_util.tree_map(
            lambda x: (jnp.asarray(x) * scale).astype(jnp.result_type(x)), grads)
        return clipped, state

    return Optimizer(init, update)


def _check_global_norm(tree):
    _floating_leaves("global_norm", "tree", tree)


@_checks.checked(_check_global_norm)
def global_norm(tree):
    r"""The Euclidean norm of all entries of all leaves of a pytree (``optax.global_norm``).

    $$\sqrt{\sum_{k=0}^{n - 1} {g}_{k}^{2}}$$

    over the $n$ entries $g_k$ of every leaf together.

    Args:
        tree: a pytree of floating arrays (gradients).

    Returns:
        A scalar in the leaves' (promoted) dtype.

    Raises:
        TypeError: a non-floating leaf.
        ValueError: a tree without leaves.

    Derived in ``notebooks/07_recurrent.ipynb``.
    """
    leaves = jax.tree_util.tree_leaves(tree)
    return _norm_of(leaves).astype(jnp.result_type(*leaves))
