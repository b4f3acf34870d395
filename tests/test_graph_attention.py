"""Unit tests of dlmath.graphs' attention layer, GIN layer and readout: values against dense
float64 references written from the formulas (directed edge lists with repeated edges,
self-loops and an isolated node) and the registered formulas, permutation equivariance,
gradients against float64 finite differences, stability, init_gat, jit and every error
path."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp

from dlmath import graphs, layers
from dlmath.formulas import graphs as FG
from dlmath.testing import in_float64, verify

# a directed graph of 5 nodes: 0 -> 1 twice (repeated), a self-loop 2 -> 2, 1 -> 0 but no
# 0 <- 3, node 4 isolated (no edge in or out), node 3 sends only
SENDERS = np.array([0, 0, 1, 2, 3, 3, 1, 2], np.int32)
RECEIVERS = np.array([1, 1, 0, 2, 2, 0, 2, 1], np.int32)
N = 5


def _params(seed=0, f_in=3, f_out=2, heads=2, scale=1.0):
    rng = np.random.default_rng(seed)
    return {"w": scale * rng.normal(size=(f_in, heads * f_out)),
            "att_src": rng.normal(size=(heads, f_out)),
            "att_dst": rng.normal(size=(heads, f_out)),
            "b": rng.normal(size=(heads * f_out,))}


def _x(seed=1, n=N, f=3):
    return np.random.default_rng(seed).normal(size=(n, f))


def _counts(senders, receivers, n, self_loops):
    """C[i, j] = the number of edges j -> i (self-loops replaced by one per node)."""
    c = np.zeros((n, n))
    np.add.at(c, (np.asarray(receivers), np.asarray(senders)), 1.0)
    if self_loops:
        np.fill_diagonal(c, 1.0)
    return c


def _dense_gat(params, senders, receivers, x, n, heads, slope=0.2, self_loops=True):
    """The formula with dense float64 matrices: alpha_ij = C_ij exp(s_ij) / sum_j C_ij
    exp(s_ij), s_ij = LeakyReLU(a_dst . h_i + a_src . h_j)."""
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    c = _counts(senders, receivers, n, self_loops)
    h = (np.asarray(x, np.float64) @ p["w"]).reshape(n, heads, -1)
    out = []
    for k in range(heads):
        s = (h[:, k] @ p["att_dst"][k])[:, None] + (h[:, k] @ p["att_src"][k])[None, :]
        s = np.where(s >= 0, s, slope * s)
        top = np.where(c > 0, s, -np.inf).max(1, keepdims=True)   # each row's largest
        shifted = np.where(c > 0, s - np.where(np.isfinite(top), top, 0.0), 0.0)
        weights = np.where(c > 0, c * np.exp(shifted), 0.0)
        total = weights.sum(1, keepdims=True)
        alpha = np.divide(weights, total, out=np.zeros_like(weights), where=total > 0)
        out.append(alpha @ h[:, k])
    return np.concatenate(out, axis=1) + p["b"]


def _evaluate(expr, values: dict, sizes: dict):
    """A registered formula at integer indices and sizes, its IndexedBases replaced by
    arrays (innermost indices first: X'[s[e], f] needs s[e])."""
    e = expr.subs(sizes).doit()
    while True:
        repl = {idx: values[idx.base][tuple(int(t) for t in idx.indices)]
                for idx in e.atoms(sp.Indexed)
                if idx.base in values and all(t.is_number for t in idx.indices)}
        if not repl:
            return float(e.doit())
        e = e.xreplace(repl).doit()


# ------------------------------------------------------------------ gat_layer values
@pytest.mark.parametrize("self_loops", [True, False])
@pytest.mark.parametrize("heads", [1, 2])
def test_gat_layer_is_the_dense_reference(heads, self_loops):
    p, x = _params(heads=heads), _x()
    got = in_float64(lambda p, x: graphs.gat_layer(
        p, SENDERS, RECEIVERS, x, N, num_heads=heads, add_self_loops=self_loops), p, x)
    want = _dense_gat(p, SENDERS, RECEIVERS, x, N, heads, self_loops=self_loops)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    if not self_loops:   # nodes 3 and 4 receive nothing: their output is b
        np.testing.assert_allclose(got[3], p["b"], rtol=1e-15)
        np.testing.assert_allclose(got[4], p["b"], rtol=1e-15)


def test_gat_layer_float32_and_slope():
    p, x = _params(heads=2), _x()
    p32 = {k: v.astype(np.float32) for k, v in p.items()}
    got = graphs.gat_layer(p32, SENDERS, RECEIVERS, x, N, num_heads=2, negative_slope=0.5)
    assert got.dtype == jnp.float32
    np.testing.assert_allclose(got, _dense_gat(p, SENDERS, RECEIVERS, x, N, 2, slope=0.5),
                               rtol=1e-5, atol=1e-5)
    p16 = {k: v.astype(np.float16) for k, v in p.items()}
    assert graphs.gat_layer(p16, SENDERS, RECEIVERS, x, N, num_heads=2).dtype == jnp.float16


def test_gat_layer_is_the_registered_formulas():
    """Head 0, one edge's score and one node's output, by the formulas evaluated in SymPy
    on the edge list with one self-loop per node (the existing one removed)."""
    heads, slope = 2, 0.2
    p, x = _params(heads=heads), _x()
    got = in_float64(lambda p, x: graphs.gat_layer(p, SENDERS, RECEIVERS, x, N,
                                                   num_heads=heads), p, x)
    keep = SENDERS != RECEIVERS
    s = np.concatenate([SENDERS[keep], np.arange(N)])
    r = np.concatenate([RECEIVERS[keep], np.arange(N)])
    h = (x @ p["w"])[:, :2]          # head 0
    values = {FG.Xp: h, FG.a_src: p["att_src"][0], FG.a_dst: p["att_dst"][0],
              FG.s: s, FG.r: r}
    scores = np.array([_evaluate(FG.GAT_SCORE.expr, values,
                                 {FG.e: e, FG.F: 2, FG.slope: slope}) for e in range(len(s))])
    raw = h[r] @ p["att_dst"][0] + h[s] @ p["att_src"][0]
    np.testing.assert_allclose(scores, np.where(raw >= 0, raw, slope * raw), rtol=1e-12)
    for i, f in [(0, 0), (1, 1), (2, 0), (4, 1)]:
        want = _evaluate(FG.GAT_OUTPUT.expr, {**values, FG.score: scores, FG.b: p["b"]},
                         {FG.i: i, FG.f: f, FG.E: len(s)})
        assert got[i, f] == pytest.approx(want, rel=1e-10)


@pytest.mark.parametrize("perm", list(itertools.islice(itertools.permutations(range(N)), 0,
                                                         120, 17)))
def test_gat_layer_is_permutation_equivariant(perm):
    """Relabel node v as perm[v]: features move to row perm[v], ids are renamed, and the
    output moves with them."""
    perm = np.asarray(perm)
    p, x = _params(heads=2), _x()
    y = in_float64(lambda p, x: graphs.gat_layer(p, SENDERS, RECEIVERS, x, N, num_heads=2),
                   p, x)
    x_perm = np.empty_like(x)
    x_perm[perm] = x
    y_perm = in_float64(lambda p, x: graphs.gat_layer(p, perm[SENDERS], perm[RECEIVERS], x, N,
                                                      num_heads=2), p, x_perm)
    np.testing.assert_allclose(y_perm[perm], y, rtol=1e-12, atol=1e-12)


def test_gat_layer_gradients_match_finite_differences():
    p, x = _params(heads=2), _x()
    g = np.random.default_rng(7).normal(size=(N, 4))

    def loss_x(x, w):
        return jnp.sum(graphs.gat_layer({**p, "w": w}, SENDERS, RECEIVERS, x, N,
                                        num_heads=2) * g)

    def ref(x, w):
        return jnp.sum(jnp.asarray(_dense_gat({**p, "w": w}, SENDERS, RECEIVERS, x, N, 2)) * g)

    verify(loss_x, [x, p["w"]], argnum=0, reference=ref, name="gat_layer, x",
           check_grads_order=1)
    verify(loss_x, [x, p["w"]], argnum=1, reference=ref, name="gat_layer, w",
           check_grads_order=None)  # the call above ran check_grads on x and w together

    def loss_att(a):
        return jnp.sum(graphs.gat_layer({**p, "att_src": a}, SENDERS, RECEIVERS, x, N,
                                        num_heads=2) * g)

    verify(loss_att, [p["att_src"]], name="gat_layer, att_src", check_grads_order=1)


def test_gat_layer_is_stable_at_large_scores():
    """Scores of about 1e4 (a large kernel): the segment maximum is subtracted, so the
    softmax is finite, and so is the gradient."""
    p = {k: v.astype(np.float32) for k, v in _params(heads=2, scale=3e3).items()}
    x = _x().astype(np.float32)
    y = graphs.gat_layer(p, SENDERS, RECEIVERS, x, N, num_heads=2)
    assert bool(jnp.all(jnp.isfinite(y)))
    grad = jax.grad(lambda x: jnp.sum(graphs.gat_layer(p, SENDERS, RECEIVERS, x, N,
                                                       num_heads=2)))(x)
    assert bool(jnp.all(jnp.isfinite(grad)))
    np.testing.assert_allclose(
        y, _dense_gat(p, SENDERS, RECEIVERS, x, N, 2), rtol=1e-4,
        atol=1e-4 * float(np.abs(np.asarray(y)).max()))


def test_gat_layer_empty_edge_list_and_jit():
    p, x = _params(heads=1), _x()
    none = np.zeros((0,), np.int32)
    y = in_float64(lambda p, x: graphs.gat_layer(p, none, none, x, N), p, x)
    np.testing.assert_allclose(y, x @ p["w"] + p["b"], rtol=1e-12)  # each node: itself
    y = in_float64(lambda p, x: graphs.gat_layer(p, none, none, x, N, add_self_loops=False),
                   p, x)
    np.testing.assert_allclose(y, np.broadcast_to(p["b"], y.shape), rtol=1e-15)
    f = jax.jit(graphs.gat_layer, static_argnames=("num_nodes", "num_heads", "add_self_loops"))
    p32 = {k: v.astype(np.float32) for k, v in p.items()}
    np.testing.assert_allclose(f(p32, SENDERS, RECEIVERS, x, N),
                               graphs.gat_layer(p32, SENDERS, RECEIVERS, x, N), rtol=1e-6)


def test_an_empty_graph_gives_empty_results():
    none, x = np.zeros((0,), np.int32), np.zeros((0, 3), np.float32)
    p = graphs.init_gat(jax.random.key(0), 3, 2, num_heads=2)
    for loops in (True, False):
        assert graphs.gat_layer(p, none, none, x, 0, num_heads=2,
                                add_self_loops=loops).shape == (0, 4)
    grad = jax.grad(lambda x: jnp.sum(graphs.gat_layer(p, none, none, x, 0, num_heads=2)))(x)
    assert grad.shape == (0, 3)
    mlp = layers.init_mlp(jax.random.key(1), (3, 4))
    assert graphs.gin_layer(mlp, none, none, x, 0).shape == (0, 4)
    for reduce in ("sum", "mean", "max"):
        np.testing.assert_array_equal(graphs.readout(x, none, 2, reduce=reduce), 0.0)
    assert graphs.readout(x, none, 0).shape == (0, 3)


@pytest.mark.parametrize("bad", [N, -1])
def test_gat_layer_out_of_range_ids_under_jit_give_nan(bad):
    p = {k: v.astype(np.float32) for k, v in _params(heads=1).items()}
    x = _x().astype(np.float32)
    senders = SENDERS.copy()
    senders[2] = bad
    y = jax.jit(lambda s: graphs.gat_layer(p, s, RECEIVERS, x, N))(senders)
    assert bool(jnp.all(jnp.isnan(y)))
    with pytest.raises(ValueError, match=r"gat_layer: node ids must lie in \[0, N\)"):
        graphs.gat_layer(p, senders, RECEIVERS, x, N)


# ------------------------------------------------------------------ init_gat
def test_init_gat_shapes_zero_bias_and_glorot_uniform_bounds():
    p = graphs.init_gat(jax.random.key(0), 40, 30, num_heads=4)
    assert {k: v.shape for k, v in p.items()} == {"w": (40, 120), "att_src": (4, 30),
                                                  "att_dst": (4, 30), "b": (120,)}
    assert all(v.dtype == jnp.float32 for v in p.values())
    np.testing.assert_array_equal(p["b"], 0.0)
    for name, (fan_in, fan_out) in {"w": (40, 120), "att_src": (4, 30)}.items():
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        v = np.asarray(p[name])
        assert np.abs(v).max() <= bound and np.abs(v).max() > 0.8 * bound
        assert np.var(v) == pytest.approx(bound**2 / 3, rel=0.25)
    assert not np.allclose(p["att_src"], p["att_dst"])
    again = graphs.init_gat(jax.random.key(0), 40, 30, num_heads=4)
    np.testing.assert_array_equal(p["w"], again["w"])
    p16 = graphs.init_gat(jax.random.key(1), 3, 2, dtype=jnp.float16)
    assert all(v.dtype == jnp.float16 for v in p16.values())
    x = np.ones((N, 3), np.float16)
    assert graphs.gat_layer(p16, SENDERS, RECEIVERS, x, N).shape == (N, 2)


@pytest.mark.parametrize("call,cls,pattern", [
    (lambda: graphs.init_gat(0, 3, 2), TypeError, r"init_gat: .*key"),
    (lambda: graphs.init_gat(jax.random.key(0), 0, 2), ValueError,
     r"init_gat: in_features must be an int >= 1"),
    (lambda: graphs.init_gat(jax.random.key(0), 3, 2.0), TypeError,
     r"init_gat: out_features must be an int"),
    (lambda: graphs.init_gat(jax.random.key(0), 3, 2, num_heads=0), ValueError,
     r"init_gat: num_heads must be an int >= 1"),
    (lambda: graphs.init_gat(jax.random.key(0), 3, 2, dtype=jnp.int32), TypeError,
     r"init_gat: dtype"),
])
def test_init_gat_errors(call, cls, pattern):
    with pytest.raises(cls, match=pattern):
        call()


# ------------------------------------------------------------------ gin_layer
def _mlp_params(seed=2, sizes=(3, 4, 2)):
    return [{k: np.asarray(v, np.float64) for k, v in layer.items()}
            for layer in layers.init_mlp(jax.random.key(seed), sizes)]


def _dense_gin(params, senders, receivers, x, n, eps):
    h = (1 + eps) * np.asarray(x, np.float64) + _counts(senders, receivers, n, False) @ x
    for k, layer in enumerate(params):
        h = h @ layer["w"] + layer["b"]
        if k < len(params) - 1:
            h = np.maximum(h, 0.0)
    return h


@pytest.mark.parametrize("eps", [0.0, 0.3, -0.5])
def test_gin_layer_is_the_dense_reference_and_the_formula(eps):
    params, x = _mlp_params(), _x()
    got = in_float64(lambda p, x: graphs.gin_layer(p, SENDERS, RECEIVERS, x, N, eps=eps),
                     params, x)
    np.testing.assert_allclose(got, _dense_gin(params, SENDERS, RECEIVERS, x, N, eps),
                               rtol=1e-12, atol=1e-12)
    h = in_float64(lambda x: graphs.gin_layer([{"w": jnp.eye(3), "b": jnp.zeros(3)}],
                                              SENDERS, RECEIVERS, x, N, eps=eps), x)
    for i, f in [(0, 0), (1, 2), (4, 1)]:
        want = _evaluate(FG.GIN_AGGREGATE.expr, {FG.X: x, FG.s: SENDERS, FG.r: RECEIVERS},
                         {FG.i: i, FG.f: f, FG.E: len(SENDERS), FG.eps_gin: eps})
        assert h[i, f] == pytest.approx(want, rel=1e-12)


def test_gin_sum_separates_neighbourhoods_that_mean_and_max_do_not():
    """Node 0 receives two neighbours of feature 1, node 1 one: equal mean and max, but
    GIN's sum (with the identity as its MLP) tells them apart."""
    x = np.ones((4, 1))
    senders, receivers = np.array([2, 3, 2]), np.array([0, 0, 1])
    identity = [{"w": np.eye(1), "b": np.zeros(1)}]
    h = in_float64(lambda x: graphs.gin_layer(identity, senders, receivers, x, 4), x)
    assert h[0, 0] == 3.0 and h[1, 0] == 2.0


def test_gin_layer_permutation_equivariance_gradient_and_jit():
    params, x = _mlp_params(), _x()
    perm = np.array([3, 0, 4, 1, 2])
    x_perm = np.empty_like(x)
    x_perm[perm] = x
    y = in_float64(lambda p, x: graphs.gin_layer(p, SENDERS, RECEIVERS, x, N, eps=0.2),
                   params, x)
    y_perm = in_float64(lambda p, x: graphs.gin_layer(p, perm[SENDERS], perm[RECEIVERS], x, N,
                                                      eps=0.2), params, x_perm)
    np.testing.assert_allclose(y_perm[perm], y, rtol=1e-12)
    verify(lambda x, eps: jnp.sum(graphs.gin_layer(params, SENDERS, RECEIVERS, x, N, eps=eps)
                                  ** 2),
           [x, 0.2], name="gin_layer, x", check_grads_order=1)
    p32 = [{k: v.astype(np.float32) for k, v in layer.items()} for layer in params]
    f = jax.jit(lambda eps: graphs.gin_layer(p32, SENDERS, RECEIVERS, x, N, eps=eps))
    np.testing.assert_allclose(f(0.2), graphs.gin_layer(p32, SENDERS, RECEIVERS, x, N,
                                                        eps=0.2), rtol=1e-6)


# ------------------------------------------------------------------ readout
GRAPH_IDS = np.array([1, 0, 1, 1, 3], np.int32)   # graph 2 has no node


@pytest.mark.parametrize("reduce", ["sum", "mean", "max"])
def test_readout_against_numpy(reduce):
    x = _x()
    got = in_float64(lambda x: graphs.readout(x, GRAPH_IDS, 4, reduce=reduce), x)
    want = np.zeros((4, 3))
    for g in range(4):
        rows = x[GRAPH_IDS == g]
        if len(rows):
            want[g] = {"sum": rows.sum(0), "mean": rows.mean(0), "max": rows.max(0)}[reduce]
    np.testing.assert_allclose(got, want, rtol=1e-13)
    np.testing.assert_array_equal(got[2], 0.0)    # a graph without nodes gives zeros


def test_readout_sum_is_the_formula_and_invariant_to_node_order():
    x = _x()
    got = in_float64(lambda x: graphs.readout(x, GRAPH_IDS, 4), x)
    for q, f in [(0, 0), (1, 2), (2, 1), (3, 0)]:
        want = _evaluate(FG.READOUT_SUM.expr, {FG.X: x, FG.gid: GRAPH_IDS},
                         {FG.q: q, FG.f: f, FG.N: N})
        assert got[q, f] == pytest.approx(want, rel=1e-13, abs=1e-15)
    order = np.array([4, 2, 0, 3, 1])
    again = in_float64(lambda x: graphs.readout(x, GRAPH_IDS[order], 4), x[order])
    np.testing.assert_allclose(again, got, rtol=1e-13)


def test_readout_separates_multisets_that_mean_and_max_do_not():
    x = np.ones((3, 1))
    ids = np.array([0, 0, 1])       # graph 0: {1, 1}; graph 1: {1}
    pooled = {r: in_float64(lambda x, r=r: graphs.readout(x, ids, 2, reduce=r), x)
              for r in ("sum", "mean", "max")}
    assert pooled["sum"][0, 0] != pooled["sum"][1, 0]
    assert pooled["mean"][0, 0] == pooled["mean"][1, 0]
    assert pooled["max"][0, 0] == pooled["max"][1, 0]


def test_readout_dtypes_gradient_and_jit():
    x = _x().astype(np.float16) * 200
    y = graphs.readout(x, GRAPH_IDS, 4)
    assert y.dtype == jnp.float16 and bool(jnp.all(jnp.isfinite(y)))
    verify(lambda x: jnp.sum(graphs.readout(x, GRAPH_IDS, 4, reduce="mean") ** 2), [_x()],
           name="readout mean")
    bad = GRAPH_IDS.copy()
    bad[0] = 4
    y = jax.jit(lambda ids: graphs.readout(_x().astype(np.float32), ids, 4))(bad)
    assert bool(jnp.all(jnp.isnan(y)))
    assert graphs.readout(np.zeros((0, 3), np.float32), np.zeros(0, np.int32), 2).shape == (2, 3)


# ------------------------------------------------------------------ errors
def _p32(heads=2):
    return {k: v.astype(np.float32) for k, v in _params(heads=heads).items()}


X32 = _x().astype(np.float32)


@pytest.mark.parametrize("call,cls,pattern", [
    (lambda: graphs.gat_layer(_p32(), SENDERS, RECEIVERS, X32, N, num_heads=4), ValueError,
     r"gat_layer: the width of params\['w'\] \(heads\*F_out\) = 4 must be divisible by "
     r"num_heads = 4|gat_layer: params\['att_src'\] must have shape"),
    (lambda: graphs.gat_layer(_p32(), SENDERS, RECEIVERS, X32, N, num_heads=3), ValueError,
     r"gat_layer: .* must be divisible by num_heads = 3"),
    (lambda: graphs.gat_layer(_p32(), SENDERS, RECEIVERS, X32, N, num_heads=1), ValueError,
     r"gat_layer: params\['att_src'\] must have shape \(heads, F_out\) = \(1, 4\) for "
     r"num_heads = 1"),
    (lambda: graphs.gat_layer(_p32(), SENDERS, RECEIVERS, X32, N, num_heads=0), ValueError,
     r"gat_layer: num_heads must be an int >= 1"),
    (lambda: graphs.gat_layer({"w": _p32()["w"], "b": _p32()["b"]}, SENDERS, RECEIVERS, X32, N),
     TypeError, r"gat_layer: params must be a dict with the entries .*init_gat"),
    (lambda: graphs.gat_layer({**_p32(), "b": np.zeros(4, np.float16)}, SENDERS, RECEIVERS,
                              X32, N, num_heads=2), TypeError,
     r"gat_layer: every leaf of params must have one float dtype"),
    (lambda: graphs.gat_layer(_p32(), SENDERS, RECEIVERS, X32[:4], N, num_heads=2), ValueError,
     r"gat_layer: x must have one row per node"),
    (lambda: graphs.gat_layer(_p32(), SENDERS, RECEIVERS, X32[:, :2], N, num_heads=2),
     ValueError, r"gat_layer: x must have F_in = 3 features"),
    (lambda: graphs.gat_layer(_p32(), SENDERS, RECEIVERS[:3], X32, N, num_heads=2),
     ValueError, r"gat_layer: receivers must have shape \(E,\) = \(8,\)"),
    (lambda: graphs.gat_layer(_p32(), SENDERS.astype(np.float32), RECEIVERS, X32, N,
                              num_heads=2), TypeError, r"gat_layer: senders must be integer"),
    (lambda: graphs.gat_layer(_p32(), SENDERS, RECEIVERS, X32, N, num_heads=2,
                              negative_slope=float("nan")), ValueError,
     r"gat_layer: negative_slope must be a finite number"),
    (lambda: graphs.gat_layer(_p32(), SENDERS, RECEIVERS, X32, N, num_heads=2,
                              add_self_loops=1), TypeError,
     r"gat_layer: add_self_loops must be a Python bool"),
    (lambda: graphs.gat_layer(_p32(), SENDERS, RECEIVERS, X32, 5.0, num_heads=2), TypeError,
     r"gat_layer: num_nodes must be an int"),
    (lambda: graphs.gin_layer(_mlp_params(), SENDERS, RECEIVERS, X32[:, :2], N), ValueError,
     r"gin_layer: x must have F_in = 3 features"),
    (lambda: graphs.gin_layer({"w": np.eye(3), "b": np.zeros(3)}, SENDERS, RECEIVERS, X32, N),
     TypeError, r"gin_layer: params must be a non-empty list of dense layers"),
    (lambda: graphs.gin_layer(_mlp_params(), SENDERS, RECEIVERS, X32, N, eps=float("inf")),
     ValueError, r"gin_layer: eps must be a finite number"),
    (lambda: graphs.gin_layer(_mlp_params(), SENDERS + 2, RECEIVERS, X32, N), ValueError,
     r"gin_layer: node ids must lie in \[0, N\) = \[0, 5\)"),
    (lambda: graphs.readout(X32, GRAPH_IDS, 3), ValueError,
     r"readout: graph ids must lie in \[0, G\) = \[0, 3\)"),
    (lambda: graphs.readout(X32, GRAPH_IDS[:3], 4), ValueError,
     r"readout: graph_ids must have shape \(N,\) = \(5,\)"),
    (lambda: graphs.readout(X32, GRAPH_IDS.astype(np.float32), 4), TypeError,
     r"readout: graph_ids must be integer"),
    (lambda: graphs.readout(X32, GRAPH_IDS, 4, reduce="min"), ValueError,
     r"readout: reduce must be one of \['sum', 'mean', 'max'\]"),
    (lambda: graphs.readout(X32[:, 0], GRAPH_IDS, 4), ValueError, r"readout: x"),
    (lambda: graphs.readout(X32.astype(np.int32), GRAPH_IDS, 4), TypeError, r"readout: x"),
])
def test_errors(call, cls, pattern):
    with pytest.raises(cls, match=pattern):
        call()
