"""Bad-input rows of dlmath.data: the synthetic linear data and the digits split."""

from __future__ import annotations

from bad_input_cases import NONNEG, A, H, Spec, fixed_key, normal


def _data_linear_call(fn, **kw):
    return fn(fixed_key(), **kw)


def _digits_call(fn, **kw):
    x_tr, y_tr, x_te, y_te = fn(fixed_key(), **kw)
    return x_tr.shape, x_te.shape


def specs():
    return [
        Spec("data.linear",
             lambda s, rng: {"n": s["N"], "w": normal(rng, (s["D"],)), "b": 0.5, "noise": 0.1,
                             "low": -3.0, "high": 3.0},
             {("w",): A(("D",), ranks=(0, 1), lists_ok=True)},
             {"n": H(count=True, low=1, static=True), "b": H(), "noise": NONNEG,
              "low": H(high=3.0, high_open=True), "high": H(low=-3.0, low_open=True)},
             call=_data_linear_call, out_dtype="float32", who="linear"),
        Spec("data.digits", lambda s, rng: {"test_fraction": 0.25}, {},
             {"test_fraction": H(low=0.0, high=1.0, low_open=True, high_open=True,
                                 static=True,
                                 # one example at least on each side of the 1797
                                 pred=lambda v: 1 <= round(float(v) * 1797) <= 1796)},
             call=_digits_call, jittable=False, who="digits"),
        Spec("data.ring_of_gaussians",
             lambda s, rng: {"n": s["N"], "num_modes": 8, "radius": 2.0, "std": 0.05}, {},
             {"n": H(count=True, low=0, static=True),
              "num_modes": H(count=True, low=1, static=True), "radius": NONNEG,
              "std": NONNEG},
             call=_data_linear_call, out_dtype="float32", who="ring_of_gaussians"),
    ]
