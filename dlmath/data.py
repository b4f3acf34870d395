"""Data for the chapters: generated with an explicit ``key``, or shipped with a package.

Nothing here downloads anything.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from dlmath import _checks

__all__ = ["linear", "digits", "karate_club", "markov_chain", "markov_sample",
           "ring_of_gaussians"]


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
    table = _digits_table()  # (1797, 65): 64 pixels in 0..16, then the class
    x = np.asarray(table[:, :-1], np.float32) / 16.0
    y = np.asarray(table[:, -1], np.int32)
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


@functools.cache
def _digits_table() -> np.ndarray:
    """The digits as scikit-learn ships them (``datasets/data/digits.csv.gz``, what its
    ``load_digits`` reads), read with NumPy: the same numbers without importing scikit-learn
    (a second, in every chapter that trains on the digits)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("sklearn")  # finds the package without importing it
    path = None if spec is None or not spec.submodule_search_locations else \
        Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "digits.csv.gz"
    if path is None or not path.exists():  # pragma: no cover - depends on the environment
        raise ImportError("data.digits needs scikit-learn's copy of the digits: pip install -r "
                          "requirements.txt")
    table = np.loadtxt(path, delimiter=",")
    table.setflags(write=False)
    return table


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


def _check_chain(key, vocab_size, order, *, concentration=1.0) -> None:
    who = "markov_chain"
    _checks.require_key(who, key, "the transition table")
    _checks.count(who, "vocab_size", vocab_size, low=1)
    _checks.count(who, "order", order, low=1)
    if vocab_size ** order > 4096:
        raise ValueError(f"{who}: the table has vocab_size**order = {vocab_size ** order} rows; "
                         "at most 4096 are allowed (its stationary distribution solves a "
                         "system of that size). Take a smaller alphabet or order.")
    _checks.hyperparameter(who, "concentration", concentration, low=0.0, low_open=True)


@_checks.checked(_check_chain, static_argnames=("vocab_size", "order"))
def markov_chain(key, vocab_size: int, order: int, *, concentration: float = 1.0):
    r"""A random Markov source of order $n$ over $V$ tokens: the transition table, each row
    $P(\cdot \mid s)$ drawn from a Dirichlet distribution with every parameter
    ``concentration`` (1: uniform over the simplex; small: peaked rows, a low entropy rate).
    Row $s$ is the context whose base-$V$ digits, oldest first, are the last $n$ tokens
    ($s = \sum_{i=0}^{n-1} x_{t-n+1+i} V^{n-1-i}$). Its exact entropy rate is
    :func:`dlmath.information.entropy_rate`; :func:`markov_sample` draws text from it.

    Args:
        key: a ``jax.random`` key.
        vocab_size: $V \ge 1$. order: $n \ge 1$ (ints; $V^n \le 4096$).
        concentration: a number ``> 0`` (may be traced; then unchecked).

    Returns:
        float32 ``(V**n, V)``, rows summing to 1, every entry positive (the chain is
        irreducible and aperiodic).

    Raises:
        TypeError: a missing key; sizes not ints.
        ValueError: sizes ``< 1`` or ``V**n > 4096``; ``concentration <= 0``.
    """
    alpha = jnp.full((vocab_size ** order, vocab_size), concentration, jnp.float32)
    table = jax.random.dirichlet(key, alpha)
    table = jnp.maximum(table, jnp.finfo(jnp.float32).tiny)  # positive: irreducible
    return table / jnp.sum(table, axis=-1, keepdims=True)


def _check_sample(key, table, num_sequences, length) -> None:
    who = "markov_sample"
    _checks.require_key(who, key, "the tokens")
    _checks.transition_table(who, "table", table)
    _checks.count(who, "num_sequences", num_sequences)
    _checks.count(who, "length", length)


@_checks.checked(_check_sample, static_argnames=("num_sequences", "length"))
def markov_sample(key, table, num_sequences: int, length: int):
    r"""Sequences from the Markov source ``table`` (:func:`markov_chain`), started in its
    stationary distribution (the first $n$ tokens are a context drawn from
    :func:`dlmath.information.stationary_distribution`), so every window of the text has
    the same law; then $x_{t+1} \sim P(\cdot \mid x_{t-n+1} \dots x_t)$.

    Args:
        key: a ``jax.random`` key.
        table: floating ``(V**n, V)``, rows summing to 1.
        num_sequences: $N \ge 0$. length: $T \ge 0$ tokens each.

    Returns:
        int32 ``(N, T)`` tokens in ``[0, V)``.

    Raises:
        TypeError: a missing key; a non-floating table; sizes not ints.
        ValueError: a table not ``(V**n, V)``; negative sizes.
    """
    from dlmath.information import stationary_distribution

    M, V = table.shape
    order = round(math.log(M) / math.log(V)) if V > 1 else 1
    k0, k1 = jax.random.split(key)
    pi = stationary_distribution.kernel(table)
    state = jax.random.categorical(k0, jnp.log(jnp.maximum(pi, 0.0)), shape=(num_sequences,))
    digits = (state[:, None] // V ** jnp.arange(order - 1, -1, -1)[None, :]) % V

    def step(s, k):
        x = jax.random.categorical(k, jnp.log(table[s]), axis=-1)
        return (s * V + x) % M, x

    steps = max(length - order, 0)
    _, rest = jax.lax.scan(step, state, jax.random.split(k1, steps))
    out = jnp.concatenate([digits, rest.T.reshape(num_sequences, steps)], axis=1)
    return out[:, :length].astype(jnp.int32)


def _check_ring(key, n, *, num_modes=8, radius=2.0, std=0.05) -> None:
    who = "ring_of_gaussians"
    _checks.require_key(who, key, "the points")
    _checks.count(who, "n", n)
    _checks.count(who, "num_modes", num_modes, low=1)
    _checks.hyperparameter(who, "radius", radius, low=0.0,
                           hint="radius is the distance of every mode from the origin.")
    _checks.hyperparameter(who, "std", std, low=0.0,
                           hint="std is the standard deviation of each Gaussian.")


@_checks.checked(_check_ring, static_argnames=("n", "num_modes"))
def ring_of_gaussians(key, n: int, *, num_modes: int = 8, radius: float = 2.0,
                      std: float = 0.05):
    r"""Points of the plane from $M$ Gaussians of equal weight on a circle: mode $k$ is
    picked uniformly from $0 \dots M - 1$, and the point is
    $r(\cos(2\pi k/M), \sin(2\pi k/M)) + s\,\epsilon$ with $\epsilon \sim \mathcal N(0, I_2)$
    (the toy data of generative models: every mode should be covered).

    Args:
        key: a ``jax.random`` key.
        n: the number of points $N \ge 0$, a Python int.
        num_modes: $M \ge 1$, a Python int.
        radius: $r \ge 0$. std: $s \ge 0$ (each may be traced; then unchecked).

    Returns:
        float32 ``(N, 2)``; the modes' centres are the formula at $\epsilon = 0$.

    Raises:
        TypeError: a missing key; ``n`` or ``num_modes`` not an int; a hyper-parameter not
            a real number.
        ValueError: ``n < 0``, ``num_modes < 1``, a negative or non-finite ``radius`` or
            ``std``.
    """
    k_mode, k_noise = jax.random.split(key)
    angle = jax.random.randint(k_mode, (n,), 0, num_modes).astype(jnp.float32) \
        * (2 * jnp.pi / num_modes)
    centres = jnp.stack([jnp.cos(angle), jnp.sin(angle)], axis=-1)
    return (radius * centres + std * jax.random.normal(k_noise, (n, 2), jnp.float32)) \
        .astype(jnp.float32)
