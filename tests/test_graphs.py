"""Unit tests of dlmath.graphs: values against float64 NumPy references and the registered
formulas (evaluated by SymPy), the dense form against the edge-list form, gradients against
jax.grad and finite differences, permutation equivariance, the spectrum of the normalised
adjacency, over-smoothing, jit, and every error path."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp

from dlmath import data, graphs
from dlmath.formulas import graphs as FG
from dlmath.testing import in_float64, verify


def _graph(seed=0, n=6, p=0.5, weighted=False):
    rng = np.random.default_rng(seed)
    upper = np.triu(rng.random((n, n)) < p, 1).astype(np.float64)
    if weighted:
        upper *= rng.random((n, n)) + 0.5
    return upper + upper.T


def _np_normalize(a):
    at = np.asarray(a, np.float64) + np.eye(len(a))
    d = at.sum(1)
    return np.diag(d**-0.5) @ at @ np.diag(d**-0.5)


def _directed(seed=0, n=6, p=0.5):
    """A weighted directed graph, A_ij > 0 for an edge j -> i: A != A^T and its row sums
    (in-degrees) differ from its column sums, so a transposed adjacency or a degree taken
    over the wrong axis changes the results."""
    rng = np.random.default_rng(seed)
    a = (rng.random((n, n)) < p) * (rng.random((n, n)) + 0.5)
    np.fill_diagonal(a, 0.0)
    assert not np.allclose(a, a.T) and not np.allclose(a.sum(0), a.sum(1))
    return a


def _features(seed=1, n=6, f=3):
    return np.random.default_rng(seed).standard_normal((n, f)).astype(np.float32)


def _edges_of(a):
    receivers, senders = np.nonzero(a)
    return senders, receivers, a[receivers, senders]


def _evaluate(expr, values: dict, sizes: dict):
    """A registered formula at integer indices and sizes, its IndexedBases replaced by arrays."""
    e = expr.subs(sizes).doit()
    while True:  # innermost first: X[s[e], f] needs s[e] before X
        repl = {
            idx: values[idx.base][tuple(int(t) for t in idx.indices)]
            for idx in e.atoms(sp.Indexed)
            if idx.base in values and all(t.is_number for t in idx.indices)
        }
        if not repl:
            return float(e.doit())
        e = e.xreplace(repl).doit()


# ------------------------------------------------------------------ values
def test_gcn_normalize_is_the_formula_and_numpy():
    a = _graph(weighted=True)
    got = np.asarray(graphs.gcn_normalize(jnp.asarray(a, jnp.float32)))
    np.testing.assert_allclose(got, _np_normalize(a), rtol=1e-6, atol=1e-7)
    for i, j in [(0, 0), (0, 3), (2, 5), (4, 1)]:
        want = _evaluate(FG.GCN_NORMALIZE.expr, {FG.A: a}, {FG.N: 6, FG.i: i, FG.j: j})
        assert got[i, j] == pytest.approx(want, rel=1e-6, abs=1e-7)


def test_gcn_normalize_spectrum_and_eigenvector():
    a = _graph(seed=3, n=9, p=0.4)
    a_hat = np.asarray(graphs.gcn_normalize(jnp.asarray(a, jnp.float32)), np.float64)
    np.testing.assert_allclose(a_hat, a_hat.T, atol=0)
    lam = np.linalg.eigvalsh(_np_normalize(a))
    assert lam[0] > -1 and abs(lam[-1] - 1) < 1e-12
    u = np.sqrt(a.sum(1) + 1)
    np.testing.assert_allclose(a_hat @ u, u, rtol=1e-6)


def test_gcn_normalize_float64_and_empty_graph():
    a = np.asarray(_graph(), np.float64)
    out = in_float64(graphs.gcn_normalize, a)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, _np_normalize(a), rtol=1e-14)
    assert graphs.gcn_normalize(jnp.zeros((0, 0))).shape == (0, 0)


def test_gcn_layer_is_the_formula_and_numpy():
    a_hat = _np_normalize(_graph())
    x = _features()
    params = {"w": _features(seed=2, n=3, f=2), "b": np.array([0.5, -1.0], np.float32)}
    got = np.asarray(graphs.gcn_layer(params, jnp.asarray(a_hat, jnp.float32), x))
    want = a_hat @ x.astype(np.float64) @ params["w"] + params["b"]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    values = {
        FG.A_hat: a_hat,
        FG.X: x.astype(np.float64),
        FG.W: params["w"].astype(np.float64),
        FG.b: params["b"].astype(np.float64),
    }
    for i, f in [(0, 0), (3, 1), (5, 0)]:
        want_if = _evaluate(FG.GCN_LAYER.expr, values, {FG.N: 6, FG.F_in: 3, FG.i: i, FG.f: f})
        assert got[i, f] == pytest.approx(want_if, rel=1e-5, abs=1e-6)


def test_gcn_layer_computes_in_the_parameters_dtype():
    params = {"w": jnp.ones((3, 2), jnp.float16), "b": jnp.zeros(2, jnp.float16)}
    out = graphs.gcn_layer(params, jnp.asarray(_np_normalize(_graph())), jnp.asarray(_features()))
    assert out.dtype == jnp.float16


def test_message_passing_is_the_formula_and_the_dense_product():
    a = _graph(weighted=True)
    senders, receivers, weight = _edges_of(a)
    x = _features()
    got = np.asarray(graphs.message_passing(senders, receivers, x, 6, weight.astype(np.float32)))
    np.testing.assert_allclose(got, a @ x.astype(np.float64), rtol=1e-5, atol=1e-6)
    values = {FG.w: weight, FG.X: x.astype(np.float64), FG.s: senders, FG.r: receivers}
    for i, f in [(0, 0), (4, 2)]:
        want = _evaluate(FG.MESSAGE_PASSING.expr, values, {FG.E: len(senders), FG.i: i, FG.f: f})
        assert got[i, f] == pytest.approx(want, rel=1e-5, abs=1e-6)
    unweighted = graphs.message_passing(senders, receivers, x, 6)
    np.testing.assert_allclose(unweighted, (a > 0) @ x.astype(np.float64), rtol=1e-5, atol=1e-6)


def test_message_passing_duplicates_add_and_isolated_nodes_get_zero():
    x = _features(n=4, f=2)
    out = graphs.message_passing(jnp.array([1, 1, 2]), jnp.array([0, 0, 0]), x, 4)
    np.testing.assert_allclose(out[0], 2 * x[1] + x[2], rtol=1e-6)
    np.testing.assert_array_equal(out[1:], 0)
    empty = graphs.message_passing(jnp.zeros((0,), jnp.int32), jnp.zeros((0,), jnp.int32), x, 4)
    np.testing.assert_array_equal(empty, np.zeros((4, 2)))


@pytest.mark.parametrize("weighted", [False, True])
def test_gcn_normalize_edges_equals_the_dense_normalisation(weighted):
    a = _graph(seed=5, n=7, weighted=weighted)
    senders, receivers, weight = _edges_of(a)
    w_in = weight.astype(np.float32) if weighted else None
    s2, r2, w2 = graphs.gcn_normalize_edges(senders, receivers, 7, w_in)
    assert s2.shape == r2.shape == w2.shape == (len(senders) + 7,)
    np.testing.assert_array_equal(s2[-7:], np.arange(7))
    dense = np.zeros((7, 7))
    np.add.at(dense, (np.asarray(r2), np.asarray(s2)), np.asarray(w2, np.float64))
    np.testing.assert_allclose(dense, _np_normalize(a), rtol=1e-6, atol=1e-7)
    d = a.sum(1) + 1
    w_all = np.concatenate([weight if weighted else np.ones(len(senders)), np.ones(7)])
    k = 2
    want = _evaluate(
        FG.GCN_EDGE_WEIGHT.expr,
        {FG.w: w_all, FG.d_tilde: d, FG.s: np.asarray(s2), FG.r: np.asarray(r2)},
        {FG.e: k},
    )
    assert float(w2[k]) == pytest.approx(want, rel=1e-6)
    x = _features(n=7)
    np.testing.assert_allclose(
        graphs.message_passing(s2, r2, x, 7, w2),
        graphs.gcn_normalize(jnp.asarray(a, jnp.float32)) @ x,
        atol=1e-6,
    )


def test_dirichlet_energy_pairwise_trace_and_formula():
    a = _graph(weighted=True)[:4, :4]
    x = _features(n=4, f=2).astype(np.float64)
    got = float(in_float64(graphs.dirichlet_energy, x, a))
    assert got == pytest.approx(np.trace(x.T @ (np.eye(4) - _np_normalize(a)) @ x), rel=1e-12)
    want = _evaluate(
        FG.DIRICHLET_ENERGY.expr, {FG.A: a, FG.X: x, FG.d_tilde: a.sum(1) + 1}, {FG.N: 4, FG.F: 2}
    )
    assert got == pytest.approx(want, rel=1e-12)
    smooth = jnp.ones((4, 2)) * np.sqrt(a.sum(1) + 1)[:, None]  # multiples of D^1/2 1
    assert float(graphs.dirichlet_energy(smooth, jnp.asarray(a, jnp.float32))) == pytest.approx(
        0, abs=1e-5
    )


def test_over_smoothing_energy_falls_by_rho_squared_per_step():
    adjacency, _ = data.karate_club()
    def smoothing(a):
        """The propagation matrix and the energies of six propagations of a random signal."""
        a_hat = graphs.gcn_normalize(a)
        h = jax.random.normal(jax.random.key(0), (34, 3), jnp.float64)
        energy_of = jax.jit(graphs.dirichlet_energy)
        energies = [energy_of(h, a)]
        for _ in range(6):
            h = a_hat @ h
            energies.append(energy_of(h, a))
        return a_hat, energies

    a_hat, energies = in_float64(smoothing, np.asarray(adjacency, np.float64))
    lam = np.linalg.eigvalsh(a_hat)
    rho = max(abs(lam[0]), abs(lam[-2]))
    for energy, new in zip(energies[:-1], energies[1:], strict=True):
        assert float(new) <= rho**2 * float(energy) * (1 + 1e-9)


def test_directed_graphs_use_row_sums_and_a_not_its_transpose():
    """A_ij is the edge j -> i: the degrees are the row sums (the edges into i), the layer is
    A_hat X W (not A_hat^T X W), the messages of the edge list are A X; on a directed graph,
    where the transposes differ, against float64 NumPy. Shapes N = 7, F_in = 3, F_out = 2
    are all different, so no product can be taken the other way round."""
    a = _directed(seed=11, n=7)
    d = a.sum(1) + 1                                     # row sums of A + I
    a_hat = (a + np.eye(7)) / np.sqrt(np.outer(d, d))
    d_col = a.sum(0) + 1                                 # the wrong axis, for contrast
    assert not np.allclose(a_hat, (a + np.eye(7)) / np.sqrt(np.outer(d_col, d_col)))
    got = np.asarray(graphs.gcn_normalize(jnp.asarray(a, jnp.float32)), np.float64)
    np.testing.assert_allclose(got, a_hat, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(in_float64(graphs.gcn_normalize, a), a_hat, rtol=1e-13)

    x = _features(seed=3, n=7, f=3)
    params = {"w": _features(seed=4, n=3, f=2), "b": np.array([0.25, -0.5], np.float32)}
    want = a_hat @ x.astype(np.float64) @ params["w"].astype(np.float64) + params["b"]
    assert not np.allclose(want, a_hat.T @ x @ params["w"] + params["b"], atol=1e-3)
    layer = graphs.gcn_layer(params, jnp.asarray(a_hat, jnp.float32), x)
    np.testing.assert_allclose(np.asarray(layer, np.float64), want, rtol=1e-5, atol=1e-6)

    senders, receivers, weight = _edges_of(a)
    weight = weight.astype(np.float32)
    np.testing.assert_allclose(graphs.message_passing(senders, receivers, x, 7, weight),
                               a @ x.astype(np.float64), rtol=1e-5, atol=1e-6)
    s2, r2, w2 = graphs.gcn_normalize_edges(senders, receivers, 7, weight)
    np.testing.assert_allclose(graphs.message_passing(s2, r2, x, 7, w2),
                               a_hat @ x.astype(np.float64), rtol=1e-5, atol=1e-6)
    # the Dirichlet energy's sum over the edges of A + I, degrees from the row sums
    y = x.astype(np.float64) / np.sqrt(d)[:, None]
    energy = 0.5 * np.sum((a + np.eye(7))[:, :, None] * (y[:, None] - y[None, :]) ** 2)
    assert float(in_float64(graphs.dirichlet_energy, x, a)) == pytest.approx(energy, rel=1e-12)


def test_the_usage_written_in_the_docstrings_runs_as_written():
    """Every call of a graphs function written as inline code in the module's docstrings runs
    as written (assignments first) on a directed graph, and the identities they state hold:
    the edge-list normalisation passes the messages of gcn_normalize(A), and the edge-list
    layer is gcn_layer."""
    import re

    a = (_directed(seed=5, n=5) > 0).astype(np.float64)  # the docstrings' edges: weight 1
    s, r, _ = _edges_of(a)
    x = jnp.asarray(_features(seed=6, n=5, f=3))
    w, b = jnp.asarray(_features(seed=7, n=3, f=2)), jnp.array([0.5, -1.0])
    ns = {"A": jnp.asarray(a, jnp.float32), "adjacency": jnp.asarray(a, jnp.float32), "s": s,
          "r": r, "N": 5, "x": x, "w": w, "b": b, "jnp": jnp,
          **{name: getattr(graphs, name) for name in graphs.__all__}}
    calls = re.compile(r"\b(" + "|".join(graphs.__all__) + r")\(")
    docs = [graphs.__doc__] + [getattr(graphs, name).__doc__ for name in graphs.__all__]
    snippets = [" ".join(code.split()) for doc in docs
                for code in re.findall(r"``(.+?)``", doc, flags=re.S) if calls.search(code)]
    assignments = [c for c in snippets if re.match(r"^[\w, ]+ = ", c)]
    assert len(snippets) >= 5 and assignments
    for code in assignments:
        exec(code, ns)
    for code in snippets:
        if code not in assignments:
            eval(code, ns)
    a_hat = graphs.gcn_normalize(ns["A"])
    np.testing.assert_allclose(graphs.message_passing(ns["s2"], ns["r2"], x, 5, ns["w2"]),
                               a_hat @ x, atol=1e-6)
    np.testing.assert_allclose(
        graphs.message_passing(ns["s2"], ns["r2"], x @ w, 5, ns["w2"]) + b,
        graphs.gcn_layer({"w": w, "b": b}, a_hat, x), atol=1e-5)


# ------------------------------------------------------------------ gradients
def test_gradients_against_finite_differences_and_check_grads():
    # float64 NumPy constants: verify runs every function in float64
    a = np.asarray(_graph(), np.float64)
    x = np.asarray(_features(), np.float64)
    a_hat = in_float64(graphs.gcn_normalize, a)
    params = {"w": np.asarray(_features(seed=2, n=3, f=2), np.float64), "b": np.ones(2)}
    senders, receivers, weight = _edges_of(a)
    fns = {
        "normalize": (lambda m: jnp.sum(jnp.sin(graphs.gcn_normalize(m))), a + 0.3),
        "layer": (lambda v: jnp.sum(jnp.tanh(graphs.gcn_layer(params, a_hat, v))), x),
        "weights": (
            lambda w_: jnp.sum(graphs.message_passing(senders, receivers, x, 6, w_) ** 2),
            np.asarray(weight, np.float64),
        ),
    }
    for name, (fn, arg) in fns.items():  # jax.grad against finite differences
        verify(jax.jit(fn), [arg], name=name, fd_rtol=1e-8, check_grads_order=None)
    verify(jax.jit(fns["layer"][0]), [x], finite_differences=False, check_grads_order=1,
           fd_rtol=1e-5)  # check_grads, forward and reverse, at its float64 tolerance
    energy = jax.jit(lambda v: graphs.dirichlet_energy(v, a))
    verify(energy, [x], grad=lambda v: 2 * (np.eye(6) - a_hat) @ v, rtol=1e-12,
           finite_differences=False, check_grads_order=None)


# ------------------------------------------------------------------ equivariance, jit
def test_permutation_equivariance_dense_and_edge_list():
    a = _graph(seed=7, n=8)
    x = _features(n=8)
    params = {"w": _features(seed=2, n=3, f=4), "b": np.linspace(-1, 1, 4).astype(np.float32)}
    perm = np.random.default_rng(0).permutation(8)
    p = np.eye(8)[perm]
    out = graphs.gcn_layer(params, graphs.gcn_normalize(jnp.asarray(a, jnp.float32)), x)
    out_p = graphs.gcn_layer(
        params, graphs.gcn_normalize(jnp.asarray(p @ a @ p.T, jnp.float32)), x[perm]
    )
    np.testing.assert_allclose(out_p, out[perm], atol=1e-5)
    s, r, _ = _edges_of(a)
    inv = np.argsort(perm)
    m = graphs.message_passing(s, r, x, 8)
    m_p = graphs.message_passing(inv[s], inv[r], x[perm], 8)
    np.testing.assert_allclose(m_p, m[perm], atol=1e-5)
    energy = graphs.dirichlet_energy(x, jnp.asarray(a, jnp.float32))
    energy_p = graphs.dirichlet_energy(x[perm], jnp.asarray(p @ a @ p.T, jnp.float32))
    assert float(energy_p) == pytest.approx(float(energy), rel=1e-5)


def test_everything_compiles_under_jit():
    a = jnp.asarray(_graph(), jnp.float32)
    x = jnp.asarray(_features())
    s, r, w = _edges_of(np.asarray(a))
    params = {"w": jnp.ones((3, 2)), "b": jnp.zeros(2)}
    np.testing.assert_allclose(jax.jit(graphs.gcn_normalize)(a), graphs.gcn_normalize(a), atol=1e-7)
    np.testing.assert_allclose(
        jax.jit(graphs.gcn_layer)(params, a, x), graphs.gcn_layer(params, a, x), atol=1e-6
    )
    mp = jax.jit(graphs.message_passing, static_argnums=3)
    np.testing.assert_allclose(
        mp(s, r, x, 6, jnp.asarray(w)), graphs.message_passing(s, r, x, 6, w), atol=1e-6
    )
    edges = jax.jit(graphs.gcn_normalize_edges, static_argnums=2)(s, r, 6)
    for got, want in zip(edges, graphs.gcn_normalize_edges(s, r, 6), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-7)
    np.testing.assert_allclose(
        jax.jit(graphs.dirichlet_energy)(x, a), graphs.dirichlet_energy(x, a), rtol=1e-6
    )


@pytest.mark.parametrize("bad", [3, 10, -1, -3])
@pytest.mark.parametrize("which", ["senders", "receivers"])
def test_out_of_range_ids_under_jit_give_nan_everywhere(bad, which):
    """Under jit the ids are not checked: any id outside [0, N), a negative one included (not
    read from the end), makes every entry NaN, never a wrapped node or a dropped edge."""
    x = jnp.ones((3, 2))
    ids = {"senders": jnp.array([0, 1, 2]), "receivers": jnp.array([1, 2, 0])}
    ids[which] = ids[which].at[1].set(bad)
    mp = jax.jit(graphs.message_passing, static_argnums=3)
    assert bool(jnp.all(jnp.isnan(mp(ids["senders"], ids["receivers"], x, 3))))
    edges = jax.jit(graphs.gcn_normalize_edges, static_argnums=2)
    assert bool(jnp.all(jnp.isnan(edges(ids["senders"], ids["receivers"], 3)[2])))
    good = jax.jit(graphs.message_passing, static_argnums=3)(
        jnp.array([0, 1, 2]), jnp.array([1, 2, 0]), x, 3)
    np.testing.assert_array_equal(good, np.ones((3, 2)))


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    "call, pattern",
    [
        (
            lambda: graphs.gcn_normalize(jnp.ones((3, 4))),
            r"gcn_normalize: adjacency must be a square",
        ),
        (
            lambda: graphs.gcn_normalize(jnp.ones((2, 2, 2))),
            r"adjacency must be a square matrix \(N, N\)",
        ),
        (lambda: graphs.gcn_normalize(-jnp.ones((2, 2))), r"finite edge weights >= 0"),
        (lambda: graphs.gcn_normalize(jnp.full((2, 2), jnp.nan)), r"adjacency\[0, 0\] = nan"),
        (
            lambda: graphs.gcn_layer(
                {"w": jnp.ones((3, 2)), "b": jnp.ones(2)}, jnp.eye(4), jnp.ones((5, 3))
            ),
            r"gcn_layer: x must have one row per node.*N = 4.*\(5, 3\)",
        ),
        (
            lambda: graphs.gcn_layer(
                {"w": jnp.ones((3, 2)), "b": jnp.ones(2)}, jnp.eye(4), jnp.ones((4, 2))
            ),
            r"gcn_layer: x must have F_in = 3",
        ),
        (
            lambda: graphs.gcn_layer(
                {"w": jnp.ones((3, 2)), "b": jnp.ones(3)}, jnp.eye(4), jnp.ones((4, 3))
            ),
            r"w \(F_in, F_out\) and b \(F_out,\)",
        ),
        (
            lambda: graphs.gcn_layer(
                {"w": jnp.ones((3, 2)), "b": jnp.ones(2)}, jnp.ones((4, 3)), jnp.ones((4, 3))
            ),
            r"gcn_layer: adjacency must be a square",
        ),
        (
            lambda: graphs.message_passing(
                jnp.array([0, 3]), jnp.array([1, 0]), jnp.ones((3, 2)), 3
            ),
            r"message_passing: node ids must lie in \[0, N\) = \[0, 3\); got senders\[1\] = 3",
        ),
        (
            lambda: graphs.message_passing(
                jnp.array([0, 1]), jnp.array([-1, 0]), jnp.ones((3, 2)), 3
            ),
            r"got receivers\[0\] = -1",
        ),
        (
            lambda: graphs.message_passing(jnp.array([0, 1]), jnp.array([0]), jnp.ones((3, 2)), 3),
            r"receivers must have shape \(E,\) = \(2,\)",
        ),
        (
            lambda: graphs.message_passing(
                jnp.array([0, 1]), jnp.array([0, 1]), jnp.ones((4, 2)), 3
            ),
            r"x must have one row per node.*N = 3 \(num_nodes\)",
        ),
        (
            lambda: graphs.message_passing(
                jnp.array([0, 1]), jnp.array([0, 1]), jnp.ones((3, 2)), 3, jnp.ones(3)
            ),
            r"edge_weight must have shape \(E,\) = \(2,\)",
        ),
        (
            lambda: graphs.gcn_normalize_edges(jnp.array([0]), jnp.array([1]), 2, -jnp.ones(1)),
            r"gcn_normalize_edges: edge_weight must hold finite edge weights >= 0",
        ),
        (
            lambda: graphs.dirichlet_energy(jnp.ones((3, 2)), jnp.eye(4)),
            r"dirichlet_energy: x must have one row",
        ),
    ],
)
def test_value_errors(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


@pytest.mark.parametrize(
    "call, pattern",
    [
        (
            lambda: graphs.gcn_normalize(jnp.ones((2, 2), jnp.int32)),
            r"gcn_normalize: adjacency must be a floating",
        ),
        (lambda: graphs.gcn_normalize([[0.0, 1.0], [1.0, 0.0]]), r"adjacency must be an array"),
        (
            lambda: graphs.gcn_layer({"w": jnp.ones((3, 2))}, jnp.eye(4), jnp.ones((4, 3))),
            r"gcn_layer: params must be a dense layer \{'w': \(F_in, F_out\), 'b': \(F_out,\)\}",
        ),
        (
            lambda: graphs.message_passing(jnp.array([0.0]), jnp.array([0]), jnp.ones((3, 2)), 3),
            r"senders must be integer node ids",
        ),
        (
            lambda: graphs.message_passing(jnp.array([True]), jnp.array([0]), jnp.ones((3, 2)), 3),
            r"senders must be integer node ids",
        ),
        (
            lambda: graphs.message_passing(jnp.array([0]), jnp.array([0]), jnp.ones((3, 2)), 3.0),
            r"num_nodes must be an int",
        ),
        (
            lambda: graphs.dirichlet_energy(jnp.ones((3, 2), jnp.int32), jnp.eye(3)),
            r"x must be a floating",
        ),
    ],
)
def test_type_errors(call, pattern):
    with pytest.raises(TypeError, match=pattern):
        call()


def test_traced_adjacency_values_are_not_checked():
    out = jax.jit(graphs.gcn_normalize)(jnp.array([[0.0, -0.5], [-0.5, 0.0]]))
    assert out.shape == (2, 2)
