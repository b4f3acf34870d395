"""Data for the chapters: generated with an explicit ``key``, or shipped with a package.

Nothing here downloads anything.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from dlmath import _checks

__all__ = ["linear", "digits", "karate_club"]


def _true_weights(who: str, w):
    """The true weights of :func:`linear`: a real Python number, or a floating array (or
    list of floats) of shape ``(F,)``; finite when concrete. Returned as float32 ``(F,)``."""
    if isinstance(w, (int, float, np.integer, np.floating)) and not isinstance(w, (bool, np.bool_)):
        _checks.hyperparameter(who, "w", w)
        return jnp.full((1,), w, jnp.float32)
    if isinstance(w, (list, tuple)):
        w = np.asarray(w)
    _checks.require_floating(who, "w", w, "The true weights are floats: write [1.0, 2.0], not "
                                           "[1, 2], or convert with jnp.asarray(w, jnp.float32).")
    if _checks.shape_of(w) == ():
        w = jnp.reshape(w, (1,))  # a 0-d array is a scalar: one feature
    _checks.require_ndim(who, "w", w, 1, "(F,)", "One weight per feature; a scalar for one.")
    if not _checks.is_traced(w) and not np.all(np.isfinite(np.asarray(w, np.float64))):
        raise ValueError(f"{who}: w must be finite; got {np.asarray(w)}.")
    return jnp.asarray(w, jnp.float32)


def linear(key, n: int, w, b: float, *, noise: float = 1.0, low: float = -3.0,
           high: float = 3.0):
    r"""Samples of $y = w^T x + b + \varepsilon$, $\varepsilon \sim \mathcal N(0, \sigma^2)$,
    $x \sim \mathcal U[\text{low}, \text{high})^F$.

    Args:
        key: a ``jax.random`` key.
        n: number of samples $N \ge 1$, a Python int.
        w: the true weights: a real number or a 0-d floating array (one feature), or a
            floating array or list of floats ``(F,)``. Integer, bool and complex arrays are
            refused.
        b: the true intercept, a finite real number.
        noise: $\sigma \ge 0$, finite.
        low, high: the range of every feature, finite, ``low < high``.

    ``b``, ``noise``, ``low``, ``high`` and an array ``w`` may be traced (under ``jit``):
    their values are then not checked.

    Returns:
        ``(x, y)`` with ``x: (N, F)`` (``(N, 1)`` for a scalar ``w``) and ``y: (N,)``, float32.

    Raises:
        ValueError: for ``n < 1``, ``noise < 0``, ``low >= high``, a non-finite value, or ``w`` of
            more than one axis.
        TypeError: a ``key`` that is not a ``jax.random`` key; a non-int ``n``; a bool, complex or
            non-number hyper-parameter; an integer, bool or complex ``w`` array.
    """
    who = "data.linear"
    _checks.require_key(who, key, "the samples")
    _checks.count(who, "n", n, low=1)
    w = _true_weights(who, w)
    _checks.hyperparameter(who, "b", b)
    _checks.hyperparameter(who, "noise", noise, low=0.0,
                           hint="noise is the standard deviation of the Gaussian noise.")
    _checks.hyperparameter(who, "low", low)
    _checks.hyperparameter(who, "high", high)
    if not (_checks.is_traced(low) or _checks.is_traced(high)) and not low < high:
        raise ValueError(f"{who}: need low < high; got low={low}, high={high}.")
    kx, ke = jax.random.split(key)
    x = jax.random.uniform(kx, (n, w.shape[0]), jnp.float32, low, high)
    y = x @ w + b + noise * jax.random.normal(ke, (n,), jnp.float32)
    return x, y


def digits(key, *, test_fraction: float = 0.25):
    r"""scikit-learn's handwritten digits (1797 images of 8 x 8 pixels, classes 0-9), shipped
    with the package (no download), split at random into train and test sets.

    Pixels are scaled from $[0, 16]$ to $[0, 1]$.

    Args:
        key: a ``jax.random`` key for the split.
        test_fraction: the share of examples held out, in ``(0, 1)``; the test set has
            ``round(test_fraction * 1797)`` examples, which must leave at least one example
            on each side (``test_fraction`` between 1/1797 and 1796/1797).

    Returns:
        ``(x_train, y_train, x_test, y_test)`` with ``x: (N, 64)`` float32 and
        ``y: (N,)`` int32 class ids.

    Raises:
        ValueError: if ``test_fraction`` is not a finite number in ``(0, 1)``, or rounds to
            an empty train or test set.
        TypeError: if it is not a real number (or is traced: it sets the split's sizes); a
            ``key`` that is not a ``jax.random`` key.
        ImportError: if scikit-learn is not installed (it is in ``requirements.txt``).
    """
    _checks.require_key("data.digits", key, "the split")
    _checks.hyperparameter("data.digits", "test_fraction", test_fraction, low=0.0, high=1.0,
                           low_open=True, high_open=True)
    if _checks.is_traced(test_fraction):
        raise TypeError("data.digits: test_fraction must be a concrete number (it sets the "
                        "sizes of the split); got a traced value.")
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("data.digits needs scikit-learn: pip install -r requirements.txt") from e
    d = load_digits()
    x = np.asarray(d.data, np.float32) / 16.0
    y = np.asarray(d.target, np.int32)
    n = x.shape[0]
    n_test = int(round(test_fraction * n))
    if not 1 <= n_test <= n - 1:
        raise ValueError(
            f"data.digits: test_fraction = {float(test_fraction)!r} holds out round("
            f"{float(test_fraction)!r} * {n}) = {n_test} of the {n} examples, which leaves a "
            "split empty; need at least one example on each side. Pass a test_fraction "
            f"between 1 / {n} and {n - 1} / {n}.")
    perm = np.asarray(jax.random.permutation(key, n))
    test, train = perm[:n_test], perm[n_test:]
    return (jnp.asarray(x[train]), jnp.asarray(y[train]),
            jnp.asarray(x[test]), jnp.asarray(y[test]))


def karate_club():
    r"""Zachary's karate club (34 members, 78 friendships), shipped with networkx (no
    download): the graph that ``notebooks/11_graphs.ipynb`` classifies node by node.

    The club split into two factions, around its instructor (member 0, "Mr. Hi") and its
    administrator (member 33, "Officer"); the labels say which faction each member joined.
    The edges are unweighted (networkx's interaction counts are left out) and undirected.

    Returns:
        ``(adjacency, labels)``: ``adjacency`` float32 ``(34, 34)``, symmetric, 0/1, zero
        diagonal; ``labels`` int32 ``(34,)``, 0 for "Mr. Hi" and 1 for "Officer".

    Raises:
        ImportError: if networkx is not installed (it is in ``requirements.txt``).
    """
    try:
        import networkx as nx
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("data.karate_club needs networkx: pip install -r requirements.txt") from e
    graph = nx.karate_club_graph()
    nodes = sorted(graph.nodes)
    adjacency = nx.to_numpy_array(graph, nodelist=nodes, weight=None, dtype=np.float32)
    factions = {"Mr. Hi": 0, "Officer": 1}
    labels = np.asarray([factions[graph.nodes[v]["club"]] for v in nodes], np.int32)
    return jnp.asarray(adjacency), jnp.asarray(labels)
