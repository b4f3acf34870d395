"""Bad-input rows of dlmath.information: entropy, KL divergence and cross-entropy of
probability vectors, against NumPy (0 log 0 = 0) and optax in float64."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax
from bad_input_cases import A, Spec, probs


def _xlogx(p):
    p = np.asarray(p, np.float64)
    return np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0.0)


def _xlogy(p, q):
    p, q = np.asarray(p, np.float64), np.asarray(q, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p > 0, p * np.log(q), 0.0)


def specs():
    return [
        Spec("information.entropy", lambda s, rng: {"p": probs(rng, (s["N"], s["K"]),
                                                               zeros=rng.random() < 0.5)},
             {("p",): A(("N", "K"), ranks=(1, 2, 3))}, empty={"N": "pass", "K": "raise"},
             out_dtype="promote", grad_of=(("p",),),
             ref=lambda kw: -np.sum(_xlogx(kw["p"]), axis=-1)),
        Spec("information.kl_divergence",
             lambda s, rng: {"log_predictions": np.log(probs(rng, (s["N"], s["K"]))),
                             "targets": probs(rng, (s["N"], s["K"]), zeros=rng.random() < 0.5)},
             {("log_predictions",): A(("N", "K")), ("targets",): A(("N", "K"))},
             empty={"N": "pass", "K": "raise"}, out_dtype="promote",
             grad_of=(("log_predictions",), ("targets",)), propagates=(("targets",),),
             ref=lambda kw: np.sum(_xlogx(kw["targets"])
                                   - _xlogy(kw["targets"], np.exp(kw["log_predictions"])),
                                   axis=-1),
             peer=lambda kw: optax.kl_divergence(jnp.asarray(kw["log_predictions"]),
                                                    jnp.asarray(kw["targets"]))),
        Spec("information.cross_entropy",
             lambda s, rng: {"p": probs(rng, (s["N"], s["K"]), zeros=rng.random() < 0.5),
                             "q": probs(rng, (s["N"], s["K"]))},
             {("p",): A(("N", "K")), ("q",): A(("N", "K"), positive=True)},
             empty={"N": "pass", "K": "raise"}, out_dtype="promote", grad_of=(("p",), ("q",)),
             ref=lambda kw: -np.sum(_xlogy(kw["p"], kw["q"]), axis=-1)),
    ]
