"""Bad-input rows of dlmath.graphs (chapter 11). Graphs of N = 4 nodes: an adjacency
``(N, N)`` of 0/1 weights with a zero diagonal (symmetric), node features ``(N, F)`` with
F = 2, a layer kernel ``(F, G)`` with G = 3, and an edge list of E = 5 edges whose node ids
are class-like integers in ``[0, N)``. The references are float64 NumPy."""

from __future__ import annotations

import numpy as np
from bad_input_cases import A, H, Spec, normal

SIZES = {"N": 4, "F": 2, "G": 3, "E": 5}
ADJ = A(("N", "N"))
FEATURES = A(("N", "F"))
#: num_nodes must be the N = 4 of x (message_passing) ...
NUM_NODES = H(count=True, low=0, static=True, pred=lambda v: int(v) == 4)
#: ... or at least the largest id + 1 (gcn_normalize_edges, whose ids lie in [0, 4))
NUM_NODES_EDGES = H(count=True, low=0, static=True, pred=lambda v: int(v) >= 4)


def _adjacency(rng, n):
    upper = np.triu((rng.random((n, n)) < 0.6).astype(np.float32), 1)
    return upper + upper.T


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
            note="under jit an out-of-range sender reads NaN and an out-of-range receiver is "
            "dropped (documented), so labels_jit is not set",
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
            note="a concrete negative or non-finite weight raises, naming edge_weight",
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
