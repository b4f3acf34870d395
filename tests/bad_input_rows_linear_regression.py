"""Bad-input rows of dlmath.linear_regression: the design matrix, the loss and its
derivatives, the normal equations and the gradient-descent loops."""

from __future__ import annotations

from bad_input_cases import LR, STEPS, A, H, Spec, fixed_key, normal


def _reg_build(s, rng):
    X = normal(rng, (s["N"], s["D"]))
    return {"w": normal(rng, (s["D"],)), "X": X, "y": normal(rng, (s["N"],))}


REG = {("w",): A(("D",), param=True), ("X",): A(("N", "D")), ("y",): A(("N",), kind="real")}


def specs():
    return [
        Spec("linear_regression.design_matrix", lambda s, rng: {"x": normal(rng, (s["N"],))},
             {("x",): A(("N",), ranks=(1, 2))}, empty={"N": "pass"}, out_dtype="promote"),
        Spec("linear_regression.predict", lambda s, rng: {k: v for k, v in _reg_build(s, rng)
                                                          .items() if k != "y"},
             {k: v for k, v in REG.items() if k != ("y",)}, empty={"N": "pass"},
             out_dtype="params"),
        Spec("linear_regression.loss", _reg_build, REG, empty={"N": "raise"},
             out_dtype="params"),
        Spec("linear_regression.mse_gradient", _reg_build, REG, empty={"N": "raise"},
             out_dtype="params"),
        Spec("linear_regression.loss_and_gradient", _reg_build, REG, empty={"N": "raise"},
             out_dtype="params"),
        Spec("linear_regression.hessian", lambda s, rng: {"X": normal(rng, (s["N"], s["D"]))},
             {("X",): A(("N", "D"))}, empty={"N": "raise"}, out_dtype="arg:X"),
        Spec("linear_regression.normal_equations",
             lambda s, rng: {"X": normal(rng, (s["N"], s["D"])), "y": normal(rng, (s["N"],))},
             {("X",): A(("N", "D")), ("y",): A(("N",), kind="real")}, empty={"N": "raise"},
             out_dtype="arg:X", sizes={"N": 5}),
        Spec("linear_regression.max_stable_learning_rate",
             lambda s, rng: {"X": normal(rng, (s["N"], s["D"]))}, {("X",): A(("N", "D"))},
             empty={"N": "raise"}, out_dtype="arg:X"),
        Spec("linear_regression.gradient_descent",
             lambda s, rng: {**{("w0" if k == "w" else k): v
                                for k, v in _reg_build(s, rng).items()},
                             "learning_rate": 0.05, "steps": 2},
             {(("w0",) if k == ("w",) else k): v for k, v in REG.items()},
             {"learning_rate": LR, "steps": STEPS}, empty={"N": "raise"}, out_dtype="params"),
        Spec("linear_regression.minibatch_gradient_descent",
             lambda s, rng: {"key": fixed_key(), **{("w0" if k == "w" else k): v
                                               for k, v in _reg_build(s, rng).items()},
                             "learning_rate": 0.05, "batch_size": 2, "steps": 2},
             {(("w0",) if k == ("w",) else k): v for k, v in REG.items()},
             {"learning_rate": LR, "steps": STEPS,
              "batch_size": H(count=True, low=1, high=3, static=True)},
             empty={"N": "raise"}, out_dtype="params", examples=1,
             note="recompiles on every call (1.5 s): one example per kind"),
    ]
