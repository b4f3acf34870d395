"""Bad-input rows of dlmath.metrics: accuracies and the confusion matrix, against NumPy."""

from __future__ import annotations

import numpy as np
from bad_input_cases import A, H, Spec, ids, normal, np_confusion, top


def specs():
    return [
        Spec("metrics.accuracy",
             lambda s, rng: {"logits": normal(rng, (s["N"], s["K"])),
                             "labels": ids(rng, s["N"], s["K"])},
             {("logits",): A(("N", "K")), ("labels",): A(("N",), kind="labels", classes="K")},
             empty={"N": "raise", "K": "raise"}, out_dtype="float32", nonfinite="any",
             ref=lambda kw: np.mean(np.argmax(np.asarray(kw["logits"], np.float64), -1)
                                    == np.asarray(kw["labels"]).astype(np.int64))),
        Spec("metrics.binary_accuracy",
             lambda s, rng: {"logits": normal(rng, (s["N"],)),
                             "targets": (rng.random(s["N"]) > 0.5).astype(np.int32)},
             {("logits",): A(("N",)), ("targets",): A(("N",), kind="binary_ids",
                                                       classes="two")},
             empty={"N": "raise"}, out_dtype="float32", nonfinite="any",
             ref=lambda kw: np.mean((np.asarray(kw["logits"], np.float64) > 0)
                                    == np.asarray(kw["targets"]).astype(np.int64))),
        Spec("metrics.confusion_matrix",
             lambda s, rng: {"labels": top(ids(rng, s["N"], s["K"]), s["K"]),
                             "predicted": top(ids(rng, s["N"], s["K"]), s["K"]),
                             "num_classes": s["K"]},
             {("labels",): A(("N",), kind="labels", classes="K"),
              ("predicted",): A(("N",), kind="labels", classes="K")},
             {"num_classes": H(count=True, low=4, static=True)},
             empty={"N": "pass"}, out_dtype="int32", labels_jit="drop",
             names_ok=("labels", "predicted", "class ids"),
             ref=lambda kw: np_confusion(kw["labels"], kw["predicted"], kw["num_classes"])),
    ]
