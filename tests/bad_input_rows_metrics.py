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
        Spec("metrics.expected_calibration_error",
             lambda s, rng: {"logits": normal(rng, (s["N"], s["K"])),
                             "labels": ids(rng, s["N"], s["K"]), "num_bins": 3},
             {("logits",): A(("N", "K")), ("labels",): A(("N",), kind="labels", classes="K")},
             {"num_bins": H(count=True, low=1, static=True)},
             empty={"N": "raise", "K": "raise"}, out_dtype="float32", nonfinite="any",
             ref=lambda kw: np_ece(kw["logits"], kw["labels"], kw["num_bins"])),
    ]


def np_ece(logits, labels, num_bins):
    """ECE in float64 NumPy: per bin, |accuracy - mean confidence| weighted by its share."""
    z = np.asarray(logits, np.float64)
    p = np.exp(z - z.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    conf, correct = p.max(-1), (p.argmax(-1) == np.asarray(labels).astype(np.int64))
    total = 0.0
    for b in range(num_bins):
        inside = (conf > b / num_bins) & (conf <= (b + 1) / num_bins)
        if inside.any():
            total += inside.mean() * abs(correct[inside].mean() - conf[inside].mean())
    return total
