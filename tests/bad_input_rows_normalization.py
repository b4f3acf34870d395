"""Bad-input rows of dlmath.normalization (chapter 09): ``x (N, C)`` with C = 3 channels,
the parameters ``(C,)``; float64 NumPy references for every function. Batch statistics are
a mean over N (an empty batch raises), layer and RMS statistics a mean over C (an empty
batch passes through; C = 0 raises)."""

from __future__ import annotations

import numpy as np
from bad_input_cases import NONNEG, A, H, Spec, normal

SIZES = {"C": 3}
X = A(("N", "C"))
#: layer/RMS norm and inference: a single example (C,) is valid too (rank 1); a rank-3
#: input built by stacking on the last axis changes C and must raise
X1 = A(("N", "C"), ranks=(1, 2))
PARAM = A(("C",), param=True)
EPS = {"eps": NONNEG}


def _f64(kw, *names):
    return [np.asarray(kw[n], np.float64) for n in names]


def _np_bn(x, eps):
    mu, var = x.mean(0), x.var(0)
    return (x - mu) / np.sqrt(var + eps)


def _np_ln(x, eps):
    mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps)


def _np_rms(x, eps):
    return np.sqrt(np.mean(x**2, -1, keepdims=True) + eps)


def _bn_ref(kw):
    x, s, b = _f64(kw, "x", "scale", "bias")
    return _np_bn(x, kw["eps"]) * s + b


def _bn_backward_ref(kw):
    x, s, g = _f64(kw, "x", "scale", "grad_output")
    n, sigma = x.shape[0], np.sqrt(x.var(0) + kw["eps"])
    xh = _np_bn(x, kw["eps"])
    dx = s / (n * sigma) * (n * g - g.sum(0) - xh * (g * xh).sum(0))
    return dx, (g * xh).sum(0), g.sum(0)


def _running_ref(kw):
    m_, v_, x = _f64(kw, "running_mean", "running_var", "x")
    mom = kw["momentum"]
    return mom * m_ + (1 - mom) * x.mean(0), mom * v_ + (1 - mom) * x.var(0)


def _inference_ref(kw):
    x, s, b, m_, v_ = _f64(kw, "x", "scale", "bias", "running_mean", "running_var")
    return (x - m_) / np.sqrt(v_ + kw["eps"]) * s + b


def _ln_ref(kw):
    x, s, b = _f64(kw, "x", "scale", "bias")
    return _np_ln(x, kw["eps"]) * s + b


def _ln_backward_ref(kw):
    x, s, g = _f64(kw, "x", "scale", "grad_output")
    d, sigma = x.shape[-1], np.sqrt(x.var(-1, keepdims=True) + kw["eps"])
    xh, h = _np_ln(x, kw["eps"]), g * s
    dx = (d * h - h.sum(-1, keepdims=True) - xh * (h * xh).sum(-1, keepdims=True)) / (d * sigma)
    return dx, (g * xh).sum(0), g.sum(0)


def _rms_ref(kw):
    x, s = _f64(kw, "x", "scale")
    return x / _np_rms(x, kw["eps"]) * s


def _rms_backward_ref(kw):
    x, s, g = _f64(kw, "x", "scale", "grad_output")
    r, h = _np_rms(x, kw["eps"]), g * s
    return (h - x * (h * x).sum(-1, keepdims=True) / (x.shape[-1] * r**2)) / r, (g * x / r).sum(0)


def _build(grad=False, bias=True, stats=False, eps=1e-5):
    def build(s, rng):
        kw = {"x": normal(rng, (s["N"], s["C"]), 2.0), "scale": normal(rng, (s["C"],)) + 1}
        if bias:
            kw["bias"] = normal(rng, (s["C"],), 0.3)
        if stats:
            kw["running_mean"] = normal(rng, (s["C"],), 0.5)
            kw["running_var"] = (rng.random(s["C"]) + 0.5).astype(np.float32)
        if grad:
            kw["grad_output"] = normal(rng, (s["N"], s["C"]))
        kw["eps"] = eps
        return kw
    return build


def _gn_ref(kw):
    x, s, b = _f64(kw, "x", "scale", "bias")
    g = kw["num_groups"]
    grouped = x.reshape(x.shape[0], g, -1)
    mu, var = grouped.mean(-1, keepdims=True), grouped.var(-1, keepdims=True)
    return ((grouped - mu) / np.sqrt(var + kw["eps"])).reshape(x.shape) * s + b


def _gn_build(s, rng):
    kw = _build()(s, rng)
    kw["num_groups"] = 3
    return kw


def specs():
    G = A(("N", "C"))
    return [
        Spec("normalization.batch_norm", _build(), {("x",): X, ("scale",): PARAM,
                                                    ("bias",): PARAM},
             EPS, sizes=SIZES, empty={"N": "raise", "C": "raise"}, out_dtype="params",
             ref=_bn_ref),
        Spec("normalization.batch_norm_backward", _build(grad=True, bias=False),
             {("x",): X, ("scale",): PARAM, ("grad_output",): G}, EPS, sizes=SIZES,
             empty={"N": "raise", "C": "raise"}, out_dtype="params", ref=_bn_backward_ref,
             names_ok=("grad_output",)),
        Spec("normalization.update_running_statistics",
             lambda s, rng: {"running_mean": normal(rng, (s["C"],), 0.5),
                             "running_var": (rng.random(s["C"]) + 0.5).astype(np.float32),
                             "x": normal(rng, (s["N"], s["C"]), 2.0), "momentum": 0.9},
             {("running_mean",): PARAM, ("running_var",): PARAM, ("x",): X},
             {"momentum": H(low=0.0, high=1.0)}, sizes=SIZES, empty={"N": "raise"},
             out_dtype="params", ref=_running_ref),
        Spec("normalization.batch_norm_inference", _build(stats=True),
             {("x",): X1, ("scale",): PARAM, ("bias",): PARAM, ("running_mean",): PARAM,
              ("running_var",): A(("C",), param=True, positive=True)},
             EPS, sizes=SIZES, empty={"N": "pass"}, out_dtype="params", ref=_inference_ref),
        Spec("normalization.layer_norm", _build(), {("x",): X1, ("scale",): PARAM,
                                                    ("bias",): PARAM},
             EPS, sizes=SIZES, empty={"N": "pass", "C": "raise"}, out_dtype="params",
             ref=_ln_ref),
        Spec("normalization.layer_norm_backward", _build(grad=True, bias=False),
             {("x",): X, ("scale",): PARAM, ("grad_output",): G}, EPS, sizes=SIZES,
             empty={"N": "pass", "C": "raise"}, out_dtype="params", ref=_ln_backward_ref,
             names_ok=("grad_output",)),
        Spec("normalization.rms_norm", _build(bias=False, eps=1e-6),
             {("x",): X1, ("scale",): PARAM}, EPS, sizes=SIZES,
             empty={"N": "pass", "C": "raise"}, out_dtype="params", ref=_rms_ref),
        Spec("normalization.rms_norm_backward", _build(grad=True, bias=False, eps=1e-6),
             {("x",): X, ("scale",): PARAM, ("grad_output",): G}, EPS, sizes=SIZES,
             empty={"N": "pass", "C": "raise"}, out_dtype="params", ref=_rms_backward_ref,
             names_ok=("grad_output",)),
        # C = 6 channels in 3 groups of 2; a group's statistics are a mean over its values
        Spec("normalization.group_norm", _gn_build,
             {("x",): X, ("scale",): PARAM, ("bias",): PARAM},
             {**EPS, "num_groups": H(count=True, low=1, static=True,
                                     pred=lambda v: 6 % int(v) == 0)},
             sizes={"C": 6}, empty={"N": "pass", "C": "raise"}, out_dtype="params",
             ref=_gn_ref, grad_of=(("x",),)),
    ]
