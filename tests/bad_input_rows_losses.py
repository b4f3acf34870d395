"""Bad-input rows of dlmath.losses: the mean squared error and the cross-entropies (the
binary one under both its names), against NumPy and optax in float64."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax
from bad_input_cases import A, H, Spec, build_mse, ids, normal, np_log_softmax, probs


def specs():
    return [
        Spec("losses.mse", build_mse,
             {("predictions",): A(("N", "K")), ("targets",): A(("N", "K"), kind="real")},
             empty={"N": "raise", "K": "raise"}, out_dtype="promote", stable=True,
             grad_of=(("predictions",),),
             ref=lambda kw: np.mean((np.asarray(kw["predictions"], np.float64)
                                     - np.asarray(kw["targets"], np.float64)) ** 2)),
        # the binary cross-entropy under its two names (the second is optax's, with optax's
        # argument names)
        *(Spec(f"losses.{name}",
               lambda s, rng, y=y: {"logits": normal(rng, (s["N"],), 2.0),
                                    y: rng.random(s["N"]).astype(np.float32)},
               {("logits",): A(("N",)), (y,): A(("N",), kind="real_or_bool")},
               empty={"N": "pass"}, out_dtype="promote", stable=True, grad_of=(("logits",),),
               peer=lambda kw, y=y: optax.sigmoid_binary_cross_entropy(
                   jnp.asarray(kw["logits"]), jnp.asarray(kw[y])))
          for name, y in (("binary_cross_entropy_with_logits", "targets"),
                          ("sigmoid_binary_cross_entropy", "labels"))),
        Spec("losses.softmax_cross_entropy",
             lambda s, rng: {"logits": normal(rng, (s["N"], s["K"]), 2.0),
                             "labels": probs(rng, (s["N"], s["K"]))},
             {("logits",): A(("N", "K")), ("labels",): A(("N", "K"))},
             empty={"N": "pass", "K": "raise"}, out_dtype="promote", stable=True,
             grad_of=(("logits",),),
             ref=lambda kw: -np.sum(np.asarray(kw["labels"], np.float64)
                                    * np_log_softmax(kw["logits"]), axis=-1),
             peer=lambda kw: optax.softmax_cross_entropy(jnp.asarray(kw["logits"]),
                                                            jnp.asarray(kw["labels"]))),
        Spec("losses.softmax_cross_entropy_with_integer_labels",
             lambda s, rng: {"logits": normal(rng, (s["N"], s["K"]), 2.0),
                             "labels": ids(rng, s["N"], s["K"])},
             {("logits",): A(("N", "K")), ("labels",): A(("N",), kind="labels", classes="K")},
             empty={"N": "pass", "K": "raise"}, out_dtype="promote", stable=True,
             grad_of=(("logits",),), labels_jit="nan",
             ref=lambda kw: -np.take_along_axis(
                 np_log_softmax(kw["logits"]),
                 np.asarray(kw["labels"]).astype(np.int64)[:, None], axis=-1)[:, 0],
             peer=lambda kw: optax.softmax_cross_entropy_with_integer_labels(
                 jnp.asarray(kw["logits"]), jnp.asarray(kw["labels"]))),
        # the gradients in the predictions / logits, by hand
        Spec("losses.mse_gradient", build_mse,
             {("predictions",): A(("N", "K")), ("targets",): A(("N", "K"), kind="real")},
             empty={"N": "raise", "K": "raise"}, out_dtype="promote", stable=True,
             ref=lambda kw: 2 * (np.asarray(kw["predictions"], np.float64)
                                 - np.asarray(kw["targets"], np.float64))
             / np.size(kw["predictions"])),
        Spec("losses.sigmoid_binary_cross_entropy_gradient",
             lambda s, rng: {"logits": normal(rng, (s["N"],), 2.0),
                             "labels": rng.random(s["N"]).astype(np.float32)},
             {("logits",): A(("N",)), ("labels",): A(("N",), kind="real_or_bool")},
             empty={"N": "pass"}, out_dtype="promote", stable=True,
             ref=lambda kw: 1 / (1 + np.exp(-np.asarray(kw["logits"], np.float64)))
             - np.asarray(kw["labels"], np.float64)),
        Spec("losses.softmax_cross_entropy_with_integer_labels_gradient",
             lambda s, rng: {"logits": normal(rng, (s["N"], s["K"]), 2.0),
                             "labels": ids(rng, s["N"], s["K"])},
             {("logits",): A(("N", "K")), ("labels",): A(("N",), kind="labels", classes="K")},
             empty={"N": "pass", "K": "raise"}, out_dtype="promote", stable=True,
             labels_jit="nan",
             ref=lambda kw: np.exp(np_log_softmax(kw["logits"])) - np.eye(
                 np.shape(kw["logits"])[-1])[np.asarray(kw["labels"]).astype(np.int64)]),
        Spec("losses.smooth_labels",
             lambda s, rng: {"labels": probs(rng, (s["N"], s["K"])), "alpha": 0.1},
             {("labels",): A(("N", "K"), ranks=(1, 2, 3))}, {"alpha": H(low=0.0, high=1.0)},
             empty={"N": "pass", "K": "raise"}, out_dtype="promote", stable=True,
             grad_of=(("labels",),),
             ref=lambda kw: (1 - kw["alpha"]) * np.asarray(kw["labels"], np.float64)
             + kw["alpha"] / np.shape(kw["labels"])[-1],
             peer=lambda kw: optax.smooth_labels(jnp.asarray(kw["labels"]), kw["alpha"])),
    ]
