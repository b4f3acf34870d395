"""Bad-input rows of dlmath.graphs (chapter 11). Graphs of N = 4 nodes: an adjacency
``(N, N)`` of 0/1 weights with a zero diagonal (directed: not symmetric in general, so a
transposed adjacency or a degree over the wrong axis shows), node features ``(N, F)`` with
F = 2, a layer kernel ``(F, G)`` with G = 3, and an edge list of E = 5 edges whose node ids
are class-like integers in ``[0, N)``. The references are float64 NumPy."""

from __future__ import annotations

import numpy as np
from bad_input_cases import A, H, Spec, fixed_key, normal

SIZES = {"N": 4, "F": 2, "G": 3, "E": 5}
ADJ = A(("N", "N"))
FEATURES = A(("N", "F"))
#: num_nodes must be the N = 4 of x (message_passing) ...
NUM_NODES = H(count=True, low=0, static=True, pred=lambda v: int(v) == 4)
#: ... or at least the largest id + 1 (gcn_normalize_edges, whose ids lie in [0, 4))
NUM_NODES_EDGES = H(count=True, low=0, static=True, pred=lambda v: int(v) >= 4)


def _adjacency(rng, n):
    a = (rng.random((n, n)) < 0.6).astype(np.float32)   # A_ij: the edge j -> i
    np.fill_diagonal(a, 0.0)
    return a


def _edges(rng, s):
    n, e = s["N"], s["E"]
    hi = max(n, 1)
    senders = rng.integers(0, hi, size=e).astype(np.int32)
    receivers = rng.integers(0, hi, size=e).astype(np.int32)
    if e:  # node 0 sends (a NaN in x[0] shows), node N - 1 receives (num_nodes < N is wrong)
        senders[0], receivers[0] = 0, hi - 1
    return senders, receivers


def _np_normalize(a):
    a = np.asarray(a, np.float64)
    at = a + np.eye(len(a))
    d = at.sum(1)
    return at / np.sqrt(np.outer(d, d))


def _np_messages(senders, receivers, x, num_nodes, weight=None):
    x = np.asarray(x, np.float64)
    out = np.zeros((num_nodes, x.shape[1]))
    w = np.ones(len(senders)) if weight is None else np.asarray(weight, np.float64)
    for s_e, r_e, w_e in zip(np.asarray(senders), np.asarray(receivers), w, strict=True):
        out[r_e] += w_e * x[s_e]
    return out


def _np_edges(senders, receivers, num_nodes, weight=None):
    s = np.concatenate([np.asarray(senders, np.int64), np.arange(num_nodes)])
    r = np.concatenate([np.asarray(receivers, np.int64), np.arange(num_nodes)])
    w = np.concatenate(
        [
            np.ones(len(senders)) if weight is None else np.asarray(weight, np.float64),
            np.ones(num_nodes),
        ]
    )
    d = np.zeros(num_nodes)
    np.add.at(d, r, w)
    return s, r, w / np.sqrt(d[s] * d[r])


def _np_energy(x, a):
    y = np.asarray(x, np.float64)
    at = np.asarray(a, np.float64) + np.eye(len(y))
    y = y / np.sqrt(at.sum(1))[:, None]
    return 0.5 * np.sum(at[:, :, None] * (y[:, None, :] - y[None, :, :]) ** 2)


def _layer_build(s, rng):
    return {
        "params": {"w": normal(rng, (s["F"], s["G"]), 0.7), "b": normal(rng, (s["G"],), 0.1)},
        "adjacency": _np_normalize(_adjacency(rng, s["N"])).astype(np.float32),
        "x": normal(rng, (s["N"], s["F"])),
    }


def _mp_build(s, rng):
    senders, receivers = _edges(rng, s)
    return {
        "senders": senders,
        "receivers": receivers,
        "x": normal(rng, (s["N"], s["F"])),
        "num_nodes": s["N"],
        "edge_weight": rng.random(s["E"]).astype(np.float32),
    }


def _edges_build(s, rng):
    senders, receivers = _edges(rng, s)
    return {
        "senders": senders,
        "receivers": receivers,
        "num_nodes": s["N"],
        "edge_weight": (rng.random(s["E"]) + 0.1).astype(np.float32),
    }


def _np_gat(kw):
    """The attention layer edge by edge in float64: self-loops replaced by one per node,
    a softmax over the edges into each node, heads concatenated."""
    p = {k: np.asarray(v, np.float64) for k, v in kw["params"].items()}
    heads, n = kw["num_heads"], kw["num_nodes"]
    s, r = np.asarray(kw["senders"], np.int64), np.asarray(kw["receivers"], np.int64)
    keep = s != r
    s, r = np.concatenate([s[keep], np.arange(n)]), np.concatenate([r[keep], np.arange(n)])
    h = (np.asarray(kw["x"], np.float64) @ p["w"]).reshape(n, heads, -1)
    score = (h[r] * p["att_dst"]).sum(-1) + (h[s] * p["att_src"]).sum(-1)     # (E, heads)
    score = np.where(score >= 0, score, kw["negative_slope"] * score)
    out = np.zeros_like(h)
    for i in range(n):
        into = r == i
        weight = np.exp(score[into] - score[into].max(0))
        out[i] = np.einsum("eh,ehf->hf", weight / weight.sum(0), h[s[into]])
    return out.reshape(n, -1) + p["b"]


def _gat_build(s, rng):
    senders, receivers = _edges(rng, s)
    return {
        "params": {"w": normal(rng, (s["F"], s["W"]), 0.7),
                   "att_src": normal(rng, (s["M"], s["G"])),
                   "att_dst": normal(rng, (s["M"], s["G"])), "b": normal(rng, (s["W"],), 0.1)},
        "senders": senders, "receivers": receivers, "x": normal(rng, (s["N"], s["F"])),
        "num_nodes": s["N"], "num_heads": s["M"], "negative_slope": 0.2,
    }


def _gin_build(s, rng):
    senders, receivers = _edges(rng, s)
    return {
        "params": [{"w": normal(rng, (s["F"], s["H"]), 0.7), "b": normal(rng, (s["H"],), 0.1)},
                   {"w": normal(rng, (s["H"], s["K"]), 0.7), "b": normal(rng, (s["K"],), 0.1)}],
        "senders": senders, "receivers": receivers, "x": normal(rng, (s["N"], s["F"])),
        "num_nodes": s["N"], "eps": 0.1,
    }


def _np_gin(kw):
    x = np.asarray(kw["x"], np.float64)
    h = (1 + kw["eps"]) * x + _np_messages(kw["senders"], kw["receivers"], x, kw["num_nodes"])
    for k, layer in enumerate(kw["params"]):
        h = h @ np.asarray(layer["w"], np.float64) + np.asarray(layer["b"], np.float64)
        h = np.maximum(h, 0.0) if k < len(kw["params"]) - 1 else h
    return h


def _readout_build(reduce):
    def build(s, rng):
        g = s["B"]
        graph_ids = rng.integers(0, max(g, 1), size=s["N"]).astype(np.int32)
        if s["N"]:
            graph_ids[0] = max(g, 1) - 1    # num_graphs < B is wrong
        return {"x": normal(rng, (s["N"], s["F"])), "graph_ids": graph_ids, "num_graphs": g,
                "reduce": reduce}
    return build


def _np_readout(kw):
    x, ids = np.asarray(kw["x"], np.float64), np.asarray(kw["graph_ids"]).astype(np.int64)
    out = np.zeros((kw["num_graphs"], x.shape[1]))
    for g in range(kw["num_graphs"]):
        rows = x[ids == g]
        if len(rows):
            out[g] = {"sum": np.sum, "mean": np.mean, "max": np.max}[kw["reduce"]](rows, 0)
    return out


def _np_wl(senders, receivers, num_nodes):
    """1-WL to the stable colouring with colours named by nested tuples, renumbered."""
    colours = [()] * num_nodes
    rounds = []
    for _ in range(num_nodes + 1):
        names = {c: n for n, c in enumerate(sorted(set(colours)))}
        rounds.append([names[c] for c in colours])
        if len(rounds) > 1 and len(set(rounds[-1])) == len(set(rounds[-2])):
            rounds.pop()
            break
        colours = [(names[colours[i]], tuple(sorted(
            names[colours[s_e]] for s_e, r_e in zip(senders, receivers, strict=True) if r_e == i)))
            for i in range(num_nodes)]
    return np.array(rounds, np.int64).reshape(len(rounds), num_nodes)


#: gat_layer: heads M = 2 of G = 3 features each, W = M G = 6 columns of w
GAT_SIZES = {**SIZES, "M": 2, "W": 6}


def specs():
    ids = A(("E",), kind="labels", classes="N")
    return [
        Spec(
            "graphs.gcn_normalize",
            lambda s, rng: {"adjacency": _adjacency(rng, s["N"])},
            {("adjacency",): ADJ},
            sizes=SIZES,
            empty={"N": "pass"},
            out_dtype="promote",
            free_letters=("N",),
            ref=lambda kw: _np_normalize(kw["adjacency"]),
            grad_of=(("adjacency",),),
            note="a concrete negative or non-finite weight raises, naming adjacency",
        ),
        Spec(
            "graphs.gcn_layer",
            _layer_build,
            {
                ("params", "w"): A(("F", "G"), param=True),
                ("params", "b"): A(("G",), param=True),
                ("adjacency",): ADJ,
                ("x",): FEATURES,
            },
            sizes=SIZES,
            empty={"N": "pass"},
            out_dtype="params",
            ref=lambda kw: (
                np.asarray(kw["adjacency"])
                @ np.asarray(kw["x"])
                @ np.asarray(kw["params"]["w"], np.float64)
                + np.asarray(kw["params"]["b"], np.float64)
            ),
            grad_of=(("x",), ("params", "w")),
        ),
        Spec(
            "graphs.message_passing",
            _mp_build,
            {("senders",): ids, ("receivers",): ids, ("x",): FEATURES, ("edge_weight",): A(("E",))},
            {"num_nodes": NUM_NODES},
            sizes=SIZES,
            empty={"E": "pass"},
            out_dtype="promote",
            ref=lambda kw: _np_messages(
                kw["senders"], kw["receivers"], kw["x"], kw["num_nodes"], kw["edge_weight"]
            ),
            grad_of=(("x",), ("edge_weight",)),
            wide_k=300,
            names_ok=("num_nodes",),
            labels_jit="nan",
            note="under jit any id outside [0, N), a negative one included, makes every entry "
            "NaN (documented)",
        ),
        Spec(
            "graphs.gcn_normalize_edges",
            _edges_build,
            {("senders",): ids, ("receivers",): ids, ("edge_weight",): A(("E",))},
            {"num_nodes": NUM_NODES_EDGES},
            sizes=SIZES,
            empty={"E": "pass"},
            out_dtype="arg:edge_weight",
            ref=lambda kw: _np_edges(
                kw["senders"], kw["receivers"], kw["num_nodes"], kw["edge_weight"]
            ),
            wide_k=300,
            names_ok=("num_nodes",),
            labels_jit="nan",
            note="a concrete negative or non-finite weight raises, naming edge_weight; under "
            "jit an id outside [0, N) makes every weight NaN (documented)",
        ),
        Spec(
            "graphs.dirichlet_energy",
            lambda s, rng: {
                "x": normal(rng, (s["N"], s["F"])),
                "adjacency": _adjacency(rng, s["N"]),
            },
            {("x",): FEATURES, ("adjacency",): ADJ},
            sizes=SIZES,
            empty={"N": "pass", "F": "pass"},
            out_dtype="promote",
            ref=lambda kw: _np_energy(kw["x"], kw["adjacency"]),
            grad_of=(("x",),),
        ),
        Spec(
            "graphs.gat_layer",
            _gat_build,
            {
                ("params", "w"): A(("F", "W"), param=True),
                ("params", "att_src"): A(("M", "G"), param=True),
                ("params", "att_dst"): A(("M", "G"), param=True),
                ("params", "b"): A(("W",), param=True),
                ("senders",): ids,
                ("receivers",): ids,
                ("x",): FEATURES,
            },
            {"num_nodes": NUM_NODES, "negative_slope": H(),
             "num_heads": H(count=True, low=1, static=True, pred=lambda v: int(v) == 2)},
            sizes=GAT_SIZES,
            empty={"E": "pass"},
            out_dtype="params",
            ref=_np_gat,
            grad_of=(("x",), ("params", "w"), ("params", "att_src")),
            wide_k=300,
            names_ok=("num_nodes", "num_heads"),
            labels_jit="nan",
            note="under jit an id outside [0, N) makes every entry NaN (documented)",
        ),
        Spec(
            "graphs.gin_layer",
            _gin_build,
            {
                ("params", 0, "w"): A(("F", "H"), param=True),
                ("params", 0, "b"): A(("H",), param=True),
                ("params", 1, "w"): A(("H", "K"), param=True),
                ("params", 1, "b"): A(("K",), param=True),
                ("senders",): ids,
                ("receivers",): ids,
                ("x",): FEATURES,
            },
            {"num_nodes": NUM_NODES, "eps": H()},
            sizes=SIZES,
            empty={"E": "pass"},
            out_dtype="params",
            ref=_np_gin,
            grad_of=(("x",), ("params", 0, "w")),
            wide_k=300,
            names_ok=("num_nodes", "layer"),
            labels_jit="nan",
            note="under jit an id outside [0, N) makes every entry NaN (documented)",
        ),
        *(Spec(
            "graphs.readout",
            _readout_build(reduce),
            {("x",): FEATURES, ("graph_ids",): A(("N",), kind="labels", classes="B")},
            {"num_graphs": H(count=True, low=0, static=True, pred=lambda v: int(v) >= 2),
             "reduce": H(choices=("sum", "mean", "max"), static=True)},
            sizes={**SIZES, "B": 2},
            empty={"N": "pass"},
            out_dtype="promote",
            ref=_np_readout,
            grad_of=(("x",),),
            wide_k=300,
            names_ok=("num_graphs",),
            labels_jit="nan",
            tag=f"-{reduce}",
            note="a graph without nodes gives zeros; under jit an id outside [0, G) makes "
            "every entry NaN (documented)",
        ) for reduce in ("sum", "mean", "max")),
        Spec(
            "graphs.init_gat",
            lambda s, rng: {"key": fixed_key(), "in_features": s["F"], "out_features": s["G"],
                            "num_heads": 2, "dtype": np.float32},
            {},
            {"in_features": H(count=True, low=1, static=True),
             "out_features": H(count=True, low=1, static=True),
             "num_heads": H(count=True, low=1, static=True),
             "dtype": H(dtype=True, static=True, allow_none=True)},
            sizes=SIZES,
            jittable=False,
        ),
        Spec(
            "graphs.wl_colors",
            lambda s, rng: dict(zip(("senders", "receivers"), _edges(rng, s), strict=True),
                                num_nodes=s["N"]),
            {("senders",): ids, ("receivers",): ids},
            {"num_nodes": NUM_NODES_EDGES},
            sizes=SIZES,
            empty={"E": "pass"},
            out_dtype="int64",
            ref=lambda kw: _np_wl(kw["senders"], kw["receivers"], kw["num_nodes"]),
            wide_k=300,
            names_ok=("num_nodes",),
            jittable=False,
            note="combinatorial (runs in Python on concrete ids): a traced id raises TypeError",
        ),
        # the loader of chapter 11's graph lives in dlmath.data; its row is kept here
        Spec(
            "data.karate_club",
            lambda s, rng: {},
            {},
            out_dtype="float32",
            jittable=False,
            who="karate_club",
        ),
    ]
