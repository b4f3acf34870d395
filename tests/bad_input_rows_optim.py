"""Bad-input rows of dlmath.optim: the optimizers (two update steps after ``init``) and
``apply_updates``."""

from __future__ import annotations

from bad_input_cases import LR, NONNEG, STATE_DTYPE, UNIT, A, H, Spec, normal


def _opt_call(factory_hypers):
    def call(fn, params, grads, **hypers):
        opt = fn(**hypers)
        state = opt.init(params)
        u, state = opt.update(grads, state, params)
        u, state = opt.update(grads, state, params)
        return u, state
    return call


def _factory_rows():
    rows = []
    tree = {("params", "w"): A(("D", "K"), param=True), ("params", "b"): A(("K",), param=True),
            ("grads", "w"): A(("D", "K")), ("grads", "b"): A(("K",))}

    def build(s, rng):
        return {"params": {"w": normal(rng, (s["D"], s["K"])), "b": normal(rng, (s["K"],))},
                "grads": {"w": normal(rng, (s["D"], s["K"])), "b": normal(rng, (s["K"],))}}

    for name, hypers, defaults in (
        ("sgd", {"learning_rate": LR, "momentum": H(low=0.0, high=1.0, high_open=True,
                                                    allow_none=True)},
         {"learning_rate": 0.1, "momentum": 0.9}),
        ("rmsprop", {"learning_rate": LR, "decay": UNIT, "eps": NONNEG,
                     "initial_scale": NONNEG,
                     "momentum": H(low=0.0, high=1.0, high_open=True, allow_none=True),
                     "state_dtype": STATE_DTYPE},
         {"learning_rate": 0.01, "decay": 0.9, "eps": 1e-8, "initial_scale": 0.0,
          "momentum": None, "state_dtype": None}),
        ("adam", {"learning_rate": LR, "b1": UNIT, "b2": UNIT, "eps": NONNEG,
                  "eps_root": NONNEG, "state_dtype": STATE_DTYPE, "mu_dtype": STATE_DTYPE},
         {"learning_rate": 0.01, "b1": 0.9, "b2": 0.999, "eps": 1e-8, "eps_root": 0.0,
          "state_dtype": None, "mu_dtype": None}),
        ("adamw", {"learning_rate": LR, "b1": UNIT, "b2": UNIT, "eps": NONNEG,
                   "eps_root": NONNEG, "weight_decay": NONNEG, "state_dtype": STATE_DTYPE,
                   "mu_dtype": STATE_DTYPE},
         {"learning_rate": 0.01, "b1": 0.9, "b2": 0.999, "eps": 1e-8, "eps_root": 0.0,
          "weight_decay": 1e-2, "state_dtype": None, "mu_dtype": None}),
    ):
        def b(s, rng, defaults=defaults):
            return {**build(s, rng), **defaults}
        rows.append(Spec(f"optim.{name}", b, tree, hypers, call=_opt_call(hypers),
                         empty={"K": "pass", "D": "pass"}, out_dtype="params",
                         propagates=tuple(p for p in tree if p[0] == "grads"
                                          or name == "adamw"),
                         note="two update steps after init"))
    return rows


def specs():
    return _factory_rows() + [
        Spec("optim.apply_updates",
             lambda s, rng: {"params": {"w": normal(rng, (s["D"], s["K"])),
                                        "b": normal(rng, (s["K"],))},
                             "updates": {"w": normal(rng, (s["D"], s["K"])),
                                         "b": normal(rng, (s["K"],))}},
             {("params", "w"): A(("D", "K"), param=True), ("params", "b"): A(("K",), param=True),
              ("updates", "w"): A(("D", "K")), ("updates", "b"): A(("K",))},
             empty={"D": "pass", "K": "pass"}, out_dtype="params"),
    ]
