"""Bad-input rows of dlmath.logistic_regression: the logistic and softmax models'
predictions, losses, gradients and training loops."""

from __future__ import annotations

import numpy as np
from bad_input_cases import LR, NONNEG, STEPS, A, Spec, ids, normal


def _logit_build(s, rng, y=True):
    kw = {"params": (normal(rng, (s["D"],)), np.float32(rng.standard_normal() * 0.1)),
          "X": normal(rng, (s["N"], s["D"]))}
    if y:
        kw["y"] = (rng.random(s["N"]) > 0.5).astype(np.float32)
    return kw


LOGIT = {("params", 0): A(("D",), param=True), ("params", 1): A((), param=True),
         ("X",): A(("N", "D")), ("y",): A(("N",), kind="real_or_bool")}


def _softreg_build(s, rng, labels=True):
    kw = {"params": (normal(rng, (s["D"], s["K"])), normal(rng, (s["K"],), 0.1)),
          "X": normal(rng, (s["N"], s["D"]))}
    if labels:
        kw["labels"] = ids(rng, s["N"], s["K"])
    return kw


SOFTREG = {("params", 0): A(("D", "K"), param=True), ("params", 1): A(("K",), param=True),
           ("X",): A(("N", "D")), ("labels",): A(("N",), kind="labels", classes="K")}


def specs():
    return [
        Spec("logistic_regression.logistic_predict", lambda s, rng: _logit_build(s, rng, False),
             {k: v for k, v in LOGIT.items() if k != ("y",)}, empty={"N": "pass"},
             out_dtype="params"),
        Spec("logistic_regression.logistic_loss", lambda s, rng: {**_logit_build(s, rng),
                                                                  "l2": 0.1},
             LOGIT, {"l2": NONNEG}, empty={"N": "raise"}, out_dtype="params"),
        Spec("logistic_regression.logistic_gradient",
             lambda s, rng: {**_logit_build(s, rng), "l2": 0.1},
             LOGIT, {"l2": NONNEG}, empty={"N": "raise"}, out_dtype="params"),
        Spec("logistic_regression.train_logistic",
             lambda s, rng: {**_logit_build(s, rng), "learning_rate": 0.5, "steps": 2,
                             "l2": 0.1},
             LOGIT, {"learning_rate": LR, "steps": STEPS, "l2": NONNEG}, empty={"N": "raise"},
             out_dtype="params"),
        Spec("logistic_regression.softmax_predict",
             lambda s, rng: _softreg_build(s, rng, False),
             {k: v for k, v in SOFTREG.items() if k != ("labels",)},
             empty={"N": "pass", "K": "raise"}, out_dtype="params"),
        Spec("logistic_regression.softmax_loss",
             lambda s, rng: {**_softreg_build(s, rng), "l2": 0.1}, SOFTREG, {"l2": NONNEG},
             empty={"N": "raise", "K": "raise"}, out_dtype="params", labels_jit="nan"),
        Spec("logistic_regression.softmax_gradient",
             lambda s, rng: {**_softreg_build(s, rng), "l2": 0.1}, SOFTREG, {"l2": NONNEG},
             empty={"N": "raise", "K": "raise"}, out_dtype="params"),
        Spec("logistic_regression.train_softmax",
             lambda s, rng: {**_softreg_build(s, rng), "learning_rate": 0.5, "steps": 2,
                             "l2": 0.1},
             SOFTREG, {"learning_rate": LR, "steps": STEPS, "l2": NONNEG},
             empty={"N": "raise", "K": "raise"}, out_dtype="params", labels_jit="nan"),
    ]
