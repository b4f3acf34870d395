"""Bad-input rows of dlmath.generative. ``K`` stands for the latent size ``Z`` and ``D`` for
the data size; the GAN losses take logits of any shape (a mean over every entry)."""

from __future__ import annotations

import jax
from bad_input_cases import A, H, Spec, normal


def _gaussian(s, rng):
    return {"mean": normal(rng, (s["N"], s["K"])), "log_var": normal(rng, (s["N"], s["K"]), 0.5)}


GAUSSIAN = {("mean",): A(("N", "K")), ("log_var",): A(("N", "K"))}


def _game(s, rng):
    """A generator MLP E -> H -> D on noise (K, E) and a discriminator MLP D -> T -> V."""
    from dlmath import layers
    g = [{"w": normal(rng, (s["E"], s["H"]), 0.7), "b": normal(rng, (s["H"],), 0.1)},
         {"w": normal(rng, (s["H"], s["D"]), 0.7), "b": normal(rng, (s["D"],), 0.1)}]
    d = [{"w": normal(rng, (s["D"], s["T"]), 0.7), "b": normal(rng, (s["T"],), 0.1)},
         {"w": normal(rng, (s["T"], s["V"]), 0.7), "b": normal(rng, (s["V"],), 0.1)}]
    return {"generator_params": g, "discriminator_params": d,
            "real": normal(rng, (s["N"], s["D"])), "noise": normal(rng, (s["K"], s["E"])),
            "generator": layers.mlp, "discriminator": layers.mlp, "saturating": False}


def _mlp_arrays(root, letters):
    return {(root, k, name): A(legend, param=True)
            for k, (a, b) in enumerate(zip(letters[:-1], letters[1:], strict=True))
            for name, legend in (("w", (a, b)), ("b", (b,)))}


GAME = {**_mlp_arrays("generator_params", "EHD"), **_mlp_arrays("discriminator_params", "DTV"),
        ("real",): A(("N", "D")), ("noise",): A(("K", "E"))}


def specs() -> list[Spec]:
    return [
        Spec("generative.gaussian_kl", _gaussian, GAUSSIAN,
             empty={"N": "pass", "K": "pass"}, out_dtype="promote", grad_of=(("mean",),),
             note="Z = 0: a KL of 0 (an empty sum)"),
        Spec("generative.reparameterize",
             lambda s, rng: {"key": jax.random.key(0), **_gaussian(s, rng)}, GAUSSIAN,
             empty={"N": "pass", "K": "pass"}, out_dtype="promote"),
        Spec("generative.elbo",
             lambda s, rng: {"x": rng.random((s["N"], s["D"])).astype("float32"),
                             "decoder_output": normal(rng, (s["N"], s["D"])),
                             **_gaussian(s, rng), "likelihood": "bernoulli"},
             {("x",): A(("N", "D")), ("decoder_output",): A(("N", "D")), **GAUSSIAN},
             {"likelihood": H(choices=("bernoulli", "gaussian"), static=True)},
             empty={"N": "pass", "K": "pass", "D": "pass"}, out_dtype="promote",
             stable=True, grad_of=(("decoder_output",),),
             note="stable in the logits; a mean of 1e4 has a KL beyond float16 (its true value)"),
        Spec("generative.discriminator_loss",
             lambda s, rng: {"real_logits": normal(rng, (s["N"],), 2.0),
                             "fake_logits": normal(rng, (s["K"],), 2.0)},
             {("real_logits",): A(("N",), ranks=(0, 1, 2)),
              ("fake_logits",): A(("K",), ranks=(0, 1, 2))},
             empty={"N": "raise", "K": "raise"}, out_dtype="promote", stable=True,
             grad_of=(("real_logits",), ("fake_logits",)), free_letters=("N", "K")),
        Spec("generative.generator_loss",
             lambda s, rng: {"fake_logits": normal(rng, (s["N"],), 2.0), "saturating": False},
             {("fake_logits",): A(("N",), ranks=(0, 1, 2))},
             {"saturating": H(boolean=True, static=True)},
             empty={"N": "raise"}, out_dtype="promote", stable=True,
             grad_of=(("fake_logits",),)),
        Spec("generative.gan_game_loss", _game, GAME,
             {"saturating": H(boolean=True, static=True)},
             empty={"N": "raise", "K": "raise"}, out_dtype="params",
             grad_of=(("real",), ("noise",)),
             note="generator and discriminator are layers.mlp; real (N, D) and noise (K, E) "
                  "may have different batch sizes"),
    ]
