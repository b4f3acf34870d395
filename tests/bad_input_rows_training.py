"""Bad-input rows of dlmath.training: train_step, fit and trajectory, with optim.sgd /
optim.adam on a small least-squares problem."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from bad_input_cases import LR, STEPS, UNIT, A, H, Spec, normal


def _fit_call(fn, params, X, y, steps, batch_size=None):
    from dlmath import optim

    def loss_fn(p, X, y):
        return jnp.mean(jnp.square(X @ p["w"] + p["b"] - y))

    p, h = fn(optim.sgd(0.1), loss_fn, params, (X, y), steps=steps, batch_size=batch_size,
              key=jax.random.key(0) if batch_size is not None else None)
    return p, h.loss


def _trajectory_call(fn, params, steps):
    from dlmath import optim
    return fn(optim.sgd(0.1), _sum_of_squares, params, steps)


def _sum_of_squares(p):
    return jnp.sum(jnp.square(p["w"])) + jnp.sum(p["b"] ** 2)


def _trajectory_factory_call(fn, params, steps, **hypers):
    from dlmath import optim
    return fn(optim.adam, _sum_of_squares, params, steps, **hypers)


def _mse(p, X, y):
    return jnp.mean(jnp.square(X @ p["w"] + p["b"] - y))


_VALUE_AND_GRAD = jax.value_and_grad(_mse)


def _step_call(fn, params, X, y):
    from dlmath import optim

    # plain SGD keeps no state, so the step, not the optimizer's init, meets bad parameters
    p, _, loss = fn(optim.sgd(0.1), _VALUE_AND_GRAD, params, optim.SgdState(trace=None), X, y)
    return p, loss


def specs():
    return [
        Spec("training.train_step",
             lambda s, rng: {"params": {"w": normal(rng, (s["D"],)), "b": np.float32(0.0)},
                             "X": normal(rng, (s["N"], s["D"])), "y": normal(rng, (s["N"],))},
             {("params", "w"): A(("D",), param=True), ("params", "b"): A((), param=True),
              ("X",): A(("N", "D"), kind="real_or_bool"),
              ("y",): A(("N",), kind="real_or_bool")},
             call=_step_call, empty={"N": "either"}, out_dtype="params", names_ok=("batch",),
             skip=("rank",), free_letters=("D",),
             note="train_step(optim.sgd(0.1), value_and_grad of the mean squared error of "
                  "X @ w + b, params, state, X, y)"),
        Spec("training.fit",
             lambda s, rng: {"params": {"w": normal(rng, (s["D"],)),
                                        "b": np.float32(0.0)},
                             "X": normal(rng, (s["N"], s["D"])), "y": normal(rng, (s["N"],)),
                             "steps": 2, "batch_size": None},
             {("params", "w"): A(("D",), param=True), ("params", "b"): A((), param=True),
              ("X",): A(("N", "D"), kind="real_or_bool"),
              ("y",): A(("N",), kind="real_or_bool")},
             {"steps": STEPS, "batch_size": H(count=True, low=1, high=3, static=True,
                                              allow_none=True)},
             call=_fit_call, empty={"N": "either"}, out_dtype="params", jittable=False,
             names_ok=("data",), skip=("rank",), free_letters=("D",),
             note="fit(optim.sgd(0.1), mean squared error of X @ w + b, params, (X, y))"),
        Spec("training.trajectory",
             lambda s, rng: {"params": {"w": normal(rng, (s["D"], s["K"])),
                                        "b": normal(rng, (s["K"],))}, "steps": 2},
             {("params", "w"): A(("D", "K"), param=True, ranks=(0, 1, 2, 3)),
              ("params", "b"): A(("K",), param=True, ranks=(0, 1, 2, 3))},
             {"steps": STEPS}, call=_trajectory_call, empty={"D": "pass"}, out_dtype="params",
             free_letters=("D", "K"),
             jittable=False, note="trajectory(optim.sgd(0.1), sum of squares, params, steps)"),
        Spec("training.trajectory",
             lambda s, rng: {"params": {"w": normal(rng, (s["D"], s["K"])),
                                        "b": normal(rng, (s["K"],))}, "steps": 2,
                             "learning_rate": 0.1, "b1": 0.9},
             {("params", "w"): A(("D", "K"), param=True, ranks=(0, 1, 2, 3)),
              ("params", "b"): A(("K",), param=True, ranks=(0, 1, 2, 3))},
             {"steps": STEPS, "learning_rate": LR, "b1": UNIT},
             call=_trajectory_factory_call, empty={"D": "pass"}, out_dtype="params",
             free_letters=("D", "K"), tag="[adam factory]", jittable=False, who_ok=("adam",),
             note="trajectory(optim.adam, sum of squares, params, steps, learning_rate, b1)"),
    ]
