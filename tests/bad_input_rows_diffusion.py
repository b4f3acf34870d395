"""Bad-input rows of the dlmath.diffusion package (schedules, forward process, samplers).
``T`` is the number of steps of the schedule (``betas (T,)``, time steps are ids in
``[0, T)``), ``N`` the examples and ``D`` the features of one example. Betas are drawn in
[0.05, 0.3] so that every dtype keeps them inside (0, 1)."""

from __future__ import annotations

import jax
from bad_input_cases import A, H, Spec, ids, normal

UNIT = H(low=0.0, high=1.0, low_open=True, high_open=True)
STEPS = A(("N",), kind="labels", classes="T")
BETAS = {("betas",): A(("T",))}


def _betas(s, rng):
    return (0.05 + 0.25 * rng.random(s["T"])).astype("float32")


def _examples(s, rng, *names):
    return {n: normal(rng, (s["N"], s["D"])) for n in names}


def _eps_fn(x, t):
    return 0.5 * x


def specs() -> list[Spec]:
    return [
        Spec("diffusion.linear_schedule",
             lambda s, rng: {"num_steps": 4, "beta_start": 1e-4, "beta_end": 0.02}, {},
             {"num_steps": H(count=True, low=1, static=True), "beta_start": UNIT,
              "beta_end": UNIT}, out_dtype="float32"),
        Spec("diffusion.cosine_schedule", lambda s, rng: {"num_steps": 4, "s": 0.008}, {},
             {"num_steps": H(count=True, low=1, static=True), "s": H(low=0.0)},
             out_dtype="float32"),
        *[Spec(f"diffusion.{name}", lambda s, rng: {"betas": _betas(s, rng)}, BETAS,
               empty={"T": "raise"}, out_dtype="promote", grad_of=(("betas",),),
               note="a reduction over the steps: T = 0 raises")
          for name in ("alphas_cumprod", "snr", "vlb_weights")],
        Spec("diffusion.q_sample",
             lambda s, rng: {**_examples(s, rng, "x0"), "t": ids(rng, s["N"], s["T"]),
                             **_examples(s, rng, "noise"), "betas": _betas(s, rng)},
             {("x0",): A(("N", "D")), ("t",): STEPS, ("noise",): A(("N", "D")), **BETAS},
             empty={"N": "pass", "D": "pass", "T": "raise"}, out_dtype="promote",
             labels_jit="nan", wide_k=300, grad_of=(("x0",), ("noise",))),
        Spec("diffusion.posterior_mean_variance",
             lambda s, rng: {**_examples(s, rng, "x0", "x_t"), "t": ids(rng, s["N"], s["T"]),
                             "betas": _betas(s, rng)},
             {("x0",): A(("N", "D")), ("x_t",): A(("N", "D")), ("t",): STEPS, **BETAS},
             empty={"N": "pass", "D": "pass", "T": "raise"}, out_dtype="promote",
             labels_jit="nan", grad_of=(("x0",), ("x_t",))),
        Spec("diffusion.noise_prediction_loss",
             lambda s, rng: _examples(s, rng, "predicted_noise", "noise"),
             {("predicted_noise",): A(("N", "D")), ("noise",): A(("N", "D"))},
             empty={"N": "pass", "D": "pass"}, out_dtype="promote",
             grad_of=(("predicted_noise",),), note="D = 0: a loss of 0 (an empty sum)"),
        Spec("diffusion.noise_prediction_loss",
             lambda s, rng: {**_examples(s, rng, "predicted_noise", "noise"),
                             "weights": rng.random(s["N"]).astype("float32")},
             {("predicted_noise",): A(("N", "D")), ("noise",): A(("N", "D")),
              ("weights",): A(("N",))},
             empty={"N": "pass", "D": "pass"}, out_dtype="promote",
             grad_of=(("predicted_noise",),), tag="[weights]"),
        Spec("diffusion.ddpm_step",
             lambda s, rng: {**_examples(s, rng, "x_t"), "t": ids(rng, s["N"], s["T"]),
                             **_examples(s, rng, "predicted_noise", "noise"),
                             "betas": _betas(s, rng)},
             {("x_t",): A(("N", "D")), ("t",): STEPS, ("predicted_noise",): A(("N", "D")),
              ("noise",): A(("N", "D")), **BETAS},
             empty={"N": "pass", "D": "pass", "T": "raise"}, out_dtype="promote",
             labels_jit="nan", grad_of=(("x_t",),)),
        Spec("diffusion.ddim_step",
             lambda s, rng: {**_examples(s, rng, "x_t"), "t": ids(rng, s["N"], s["T"]),
                             "t_prev": ids(rng, s["N"], s["T"]) - 1,
                             **_examples(s, rng, "predicted_noise"), "betas": _betas(s, rng)},
             {("x_t",): A(("N", "D")), ("t",): STEPS, ("t_prev",): A(("N",), kind="ints"),
              ("predicted_noise",): A(("N", "D")), **BETAS},
             empty={"N": "pass", "D": "pass", "T": "raise"}, out_dtype="promote",
             labels_jit="nan", grad_of=(("x_t",),),
             note="t_prev lies in [-1, T) (-1 is the end, abar = 1): integers but no ids in "
                  "[0, T); test_diffusion tests its range"),
        Spec("diffusion.ddpm_sample",
             lambda s, rng: {"key": jax.random.key(0), "eps_fn": _eps_fn,
                             **_examples(s, rng, "x_T"), "betas": _betas(s, rng)},
             {("x_T",): A(("N", "D"), ranks=(1, 2, 3)), **BETAS},
             empty={"N": "pass", "D": "pass", "T": "raise"}, out_dtype="promote",
             grad_of=(("x_T",),)),
        Spec("diffusion.ddim_sample",
             lambda s, rng: {"eps_fn": _eps_fn, **_examples(s, rng, "x_T"),
                             "betas": _betas(s, rng), "num_steps": 2},
             {("x_T",): A(("N", "D"), ranks=(1, 2, 3)), **BETAS},
             {"num_steps": H(count=True, low=1, high=3, static=True, allow_none=True)},
             empty={"N": "pass", "D": "pass", "T": "raise"}, out_dtype="promote",
             grad_of=(("x_T",),)),
    ]
