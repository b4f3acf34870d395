"""Unit tests of dlmath.graphs.wl_colors (1-Weisfeiler-Leman colour refinement): the
classic pairs it cannot and can tell apart, agreement with networkx's WL graph hash, the
refinement and stability properties, its errors, and the statement that GIN and GCN layers
never separate what 1-WL's stable colouring does not (round by round that holds for GIN; a GCN
layer sees degrees, which 1-WL needs one more round for), on the regular graphs used here."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np
import pytest

from dlmath import graphs, layers


def _cycle(n, offset=0):
    s = [offset + i for i in range(n)]
    r = [offset + (i + 1) % n for i in range(n)]
    return s + r, r + s  # both directions


def _union(*graphs_):
    """Disjoint union of (senders, receivers, num_nodes) edge lists."""
    s, r, off, sizes = [], [], 0, []
    for gs, gr, n in graphs_:
        s += [off + v for v in gs]
        r += [off + v for v in gr]
        off += n
        sizes.append(n)
    return np.array(s, np.int64), np.array(r, np.int64), off, np.repeat(np.arange(len(sizes)),
                                                                          sizes)


def _histograms(colours, graph_ids):
    """Per round, the colour histogram of each graph: (T + 1, G, C)."""
    c_max = colours.max() + 1 if colours.size else 1
    return np.stack([[np.bincount(row[graph_ids == g], minlength=c_max)
                      for g in range(graph_ids.max() + 1)] for row in colours])


def _edges_of(g: nx.Graph, offset=0):
    e = list(g.edges())
    s = [offset + u for u, v in e] + [offset + v for u, v in e]
    r = [offset + v for u, v in e] + [offset + u for u, v in e]
    return s, r


SIX_CYCLE = (*_cycle(6), 6)
TRIANGLES = tuple(a + b for a, b in zip(_cycle(3), _cycle(3, 3), strict=True)) + (6,)


def test_a_six_cycle_and_two_triangles_share_every_histogram():
    s, r, n, gid = _union(SIX_CYCLE, TRIANGLES)
    colours = graphs.wl_colors(s, r, n, num_iterations=4)
    assert colours.shape == (5, 12) and colours.dtype == np.int64
    h = _histograms(colours, gid)
    assert np.array_equal(h[:, 0], h[:, 1])
    stable = graphs.wl_colors(s, r, n)  # every node of degree 2: stable at once
    assert stable.shape == (1, 12) and np.all(stable == 0)


def test_a_path_and_a_star_are_told_apart_at_round_one():
    path = ([0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2], 4)
    star = ([0, 1, 0, 2, 0, 3], [1, 0, 2, 0, 3, 0], 4)
    s, r, n, gid = _union(path, star)
    h = _histograms(graphs.wl_colors(s, r, n), gid)
    assert np.array_equal(h[0, 0], h[0, 1])        # same number of nodes
    assert not np.array_equal(h[1, 0], h[1, 1])    # degrees {1,1,2,2} and {1,1,1,3}


@pytest.mark.filterwarnings("ignore:The hashes produced")
@pytest.mark.parametrize("seed", range(6))
def test_agrees_with_networkx_weisfeiler_lehman_hash(seed):
    rng = np.random.default_rng(seed)
    gs = [nx.gnm_random_graph(7, int(rng.integers(5, 10)), seed=int(rng.integers(1 << 30)))
          for _ in range(4)]
    gs.append(nx.relabel_nodes(gs[0], dict(enumerate(rng.permutation(7).tolist()))))
    iterations = 3
    parts = [(*_edges_of(g), 7) for g in gs]
    s, r, n, gid = _union(*parts)
    h = _histograms(graphs.wl_colors(s, r, n, num_iterations=iterations), gid)
    for a, b in itertools.combinations(range(len(gs)), 2):
        ours = np.array_equal(h[:, a], h[:, b])
        theirs = (nx.weisfeiler_lehman_graph_hash(gs[a], iterations=iterations)
                  == nx.weisfeiler_lehman_graph_hash(gs[b], iterations=iterations))
        assert ours == theirs, (seed, a, b)
    assert np.array_equal(h[:, 0], h[:, 4])  # a relabelled graph: the same histograms


def test_each_round_refines_and_the_stable_colouring_is_equitable():
    rng = np.random.default_rng(3)
    g = nx.gnm_random_graph(12, 16, seed=4)
    s, r = map(np.array, _edges_of(g))
    colours = graphs.wl_colors(s, r, 12, colors=rng.integers(0, 2, 12) * 5 - 3)
    for prev, new in zip(colours[:-1], colours[1:], strict=True):
        # a refinement: a new class lies inside one old class
        assert all(len(set(prev[new == c])) == 1 for c in np.unique(new))
        assert len(np.unique(new)) > len(np.unique(prev))  # every returned round splits
    final = colours[-1]
    for i, j in itertools.combinations(range(12), 2):
        if final[i] == final[j]:  # equitable: the same multiset of neighbour colours
            assert sorted(final[s[r == i]]) == sorted(final[s[r == j]])
    again = graphs.wl_colors(s, r, 12, colors=final, num_iterations=2)
    assert np.array_equal(again[1], again[0]) and np.array_equal(again[2], again[0])


def test_initial_colours_and_directions_are_respected():
    # a directed path 0 -> 1 -> 2: 0 receives nothing, 1 and 2 receive one message
    colours = graphs.wl_colors(np.array([0, 1]), np.array([1, 2]), 3)
    assert list(colours[1]) == [0, 1, 1] and list(colours[2]) == [0, 1, 2]
    # nodes of different initial colours never share a colour afterwards
    c = graphs.wl_colors(np.array([0, 1]), np.array([1, 0]), 2, colors=np.array([7, -2]),
                         num_iterations=2)
    assert list(c[0]) == [1, 0] and np.all(c[:, 0] != c[:, 1])
    empty = graphs.wl_colors(np.zeros(0, np.int32), np.zeros(0, np.int32), 0)
    assert empty.shape == (1, 0)


@pytest.mark.parametrize("call, exc, words", [
    (lambda: graphs.wl_colors(np.array([0]), np.array([3]), 3), ValueError, "receivers"),
    (lambda: graphs.wl_colors(np.array([0]), np.array([1]), 2, colors=np.array([0.0, 1.0])),
     TypeError, "colors"),
    (lambda: graphs.wl_colors(np.array([0]), np.array([1]), 2, colors=np.array([True, False])),
     TypeError, "colors"),
    (lambda: graphs.wl_colors(np.array([0]), np.array([1]), 2, colors=np.array([0, 1, 2])),
     ValueError, "colors"),
    (lambda: graphs.wl_colors(np.array([0]), np.array([1]), 2, num_iterations=-1), ValueError,
     "num_iterations"),
    (lambda: graphs.wl_colors(np.array([0]), np.array([1]), 2, num_iterations=1.0), TypeError,
     "num_iterations"),
    (lambda: jax.jit(lambda s: graphs.wl_colors(s, jnp.array([1]), 2))(jnp.array([0])),
     TypeError, "senders"),
])
def test_bad_input_names_the_function_and_the_argument(call, exc, words):
    with pytest.raises(exc, match=rf"^wl_colors: .*{words}"):
        call()


def _gin_params(key, widths=(3, 8, 4)):
    return layers.init_mlp(key, list(widths))


@pytest.mark.parametrize("seed", range(3))
def test_gin_and_gcn_give_the_six_cycle_and_the_triangles_the_same_node_multisets(seed):
    """Equal initial features: every layer gives the two graphs the same multiset of rows
    (here all rows equal), as 1-WL's equal histograms say."""
    s, r, n, gid = _union(SIX_CYCLE, TRIANGLES)
    k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
    x = jnp.tile(jax.random.normal(k1, (1, 3)), (n, 1))
    h = x
    for k in (k2, k3):
        h = jax.nn.relu(graphs.gin_layer(_gin_params(k, (h.shape[1], 8, 3)), s, r, h, n))
        rows = [np.sort(np.asarray(h[gid == g]), axis=0) for g in (0, 1)]
        np.testing.assert_allclose(rows[0], rows[1], rtol=1e-5, atol=1e-6)
    adjacency = jnp.zeros((n, n)).at[r, s].set(1.0)
    a_hat = graphs.gcn_normalize(adjacency)
    h = x
    for k in (k2, k3):
        w = jax.random.normal(k, (h.shape[1], 3))
        h = jnp.tanh(graphs.gcn_layer({"w": w, "b": jnp.zeros(3)}, a_hat, h))
        rows = [np.sort(np.asarray(h[gid == g]), axis=0) for g in (0, 1)]
        np.testing.assert_allclose(rows[0], rows[1], rtol=1e-5, atol=1e-6)
    pooled = graphs.readout(h, jnp.asarray(gid), 2)
    np.testing.assert_allclose(pooled[0], pooled[1], rtol=1e-5, atol=1e-5)
