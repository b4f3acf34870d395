"""Bad-input rows of dlmath.backprop: the losses with their gradients and the MLP's loss and
gradient."""

from __future__ import annotations

from bad_input_cases import MLP, A, Spec, build_mse, ids, mlp_params, normal


def specs():
    return [
        Spec("backprop.mse_and_grad", build_mse,
             {("predictions",): A(("N", "K")), ("targets",): A(("N", "K"), kind="real")},
             empty={"N": "raise", "K": "raise"}, out_dtype="promote"),
        Spec("backprop.cross_entropy_and_grad",
             lambda s, rng: {"logits": normal(rng, (s["N"], s["K"]), 2.0),
                             "labels": ids(rng, s["N"], s["K"])},
             {("logits",): A(("N", "K")), ("labels",): A(("N",), kind="labels", classes="K")},
             empty={"N": "raise", "K": "raise"}, out_dtype="promote", labels_jit="nan",
             stable=True),
        Spec("backprop.loss_and_grad",
             lambda s, rng: {"params": mlp_params(rng, s), "x": normal(rng, (s["N"], s["D"])),
                             "targets": ids(rng, s["N"], s["K"]), "loss": "cross_entropy"},
             {**MLP, ("x",): A(("N", "D")),
              ("targets",): A(("N",), kind="labels", classes="K")},
             empty={"N": "raise"}, out_dtype="params", labels_jit="nan", names_ok=("layer",)),
    ]
