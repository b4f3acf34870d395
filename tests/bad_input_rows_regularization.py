"""Bad-input rows of dlmath.regularization: the L2 and L1 penalties, soft-thresholding and
dropout (with a fixed key; a dropped NaN is 0, so a NaN need not reach the output)."""

from __future__ import annotations

import jax
import numpy as np
from bad_input_cases import NONNEG, A, H, Spec, normal


def _dropout_call(fn, **kw):
    return fn(jax.random.key(0), **kw)


def specs():
    return [
        Spec("regularization.l2_penalty",
             lambda s, rng: {"params": {"w": normal(rng, (s["D"], s["K"])),
                                        "b": normal(rng, (s["K"],))}, "l2": 0.1},
             {("params", "w"): A(("D", "K"), param=True, ranks=(0, 1, 2, 3)),
              ("params", "b"): A(("K",), param=True, ranks=(0, 1, 2, 3))},
             {"l2": NONNEG}, empty={"D": "pass", "K": "pass"}, out_dtype="params",
             free_letters=("D", "K"),
             ref=lambda kw: 0.05 * sum(np.sum(np.asarray(v, np.float64) ** 2)
                                       for v in kw["params"].values())
             if kw["l2"] == 0.1 else None),
        Spec("regularization.l1_penalty",
             lambda s, rng: {"params": {"w": normal(rng, (s["D"], s["K"])),
                                        "b": normal(rng, (s["K"],))}, "l1": 0.1},
             {("params", "w"): A(("D", "K"), param=True, ranks=(0, 1, 2, 3)),
              ("params", "b"): A(("K",), param=True, ranks=(0, 1, 2, 3))},
             {"l1": NONNEG}, empty={"D": "pass", "K": "pass"}, out_dtype="params",
             free_letters=("D", "K"),
             ref=lambda kw: kw["l1"] * sum(np.sum(np.abs(np.asarray(v, np.float64)))
                                           for v in kw["params"].values())),
        Spec("regularization.soft_threshold",
             lambda s, rng: {"x": normal(rng, (s["N"], s["D"])), "threshold": 0.5},
             {("x",): A(("N", "D"), ranks=(0, 1, 2, 3))}, {"threshold": NONNEG},
             empty={"N": "pass", "D": "pass"},
             ref=lambda kw: np.sign(np.asarray(kw["x"], np.float64)) * np.maximum(
                 np.abs(np.asarray(kw["x"], np.float64)) - kw["threshold"], 0)),
        Spec("regularization.dropout",
             lambda s, rng: {"x": normal(rng, (s["N"], s["D"])), "rate": 0.5,
                             "deterministic": False},
             {("x",): A(("N", "D"), ranks=(0, 1, 2, 3))},
             {"rate": H(low=0.0, high=1.0, high_open=True),
              "deterministic": H(boolean=True, static=True)},
             call=_dropout_call, empty={"N": "pass", "D": "pass"}, propagates=(),
             note="the key is fixed; which entries are dropped is not compared"),
    ]
