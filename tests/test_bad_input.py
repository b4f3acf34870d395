"""Bad input, property-based: every public numeric function of dlmath, driven with wrong
shapes and ranks, every dtype from uint8 to complex64, empty axes, NaN and infinities, bad
and traced hyper-parameters, class ids out of range or of small integer widths, mixed float
dtypes and misused optimizer states.

The property is the package's one rule (the docstring of ``dlmath._checks``):
a call either raises exactly ``ValueError`` or ``TypeError`` whose message starts with the
function's name and names the offending argument, or returns the documented result (the
float64 reference's numbers, in the documented dtype, finite where documented). Never a
silent wrong number, never an internal error (ZeroDivisionError, OverflowError,
AttributeError, JAX's TracerBoolConversionError or shape errors, NumPy's LinAlgError, or a
message of another function).

The functions and their arguments are the table in ``bad_input_cases.py``; one test runs
per (function, kind of bad input). Examples are drawn by hypothesis (derandomized, so every
run draws the same ones; no shrinking, so a failure is reported at once). Shapes come from
small fixed sets, because JAX compiles once per shape and dtype.

Set ``DLMATH_FUZZ_LOG=/some/file.jsonl`` to also record every failing case there.
"""

from __future__ import annotations

import json
import math
import os

import bad_input_cases as bic
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from bad_input_cases import ACCEPT, ALL_DTYPES, FLOATS, SPECS, A, Spec
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

from dlmath.testing import in_float64

# --------------------------------------------------------------------------- running

#: examples per (function, kind); compiles dominate, so they are few
BUDGET = {"valid": 1, "dtype": 1, "nonfinite": 1, "labels_range": 1,
          "labels_width": 1, "mixed": 1}
HEAVY = {"training.fit", "logistic_regression.train_logistic", "logistic_regression.train_softmax",
         "linear_regression.gradient_descent", "linear_regression.minibatch_gradient_descent",
         "training.trajectory", "data.digits", "data.linear", "layers.init_mlp",
         "attention.attention_weights", "attention.scaled_dot_product_attention",
         "attention.flash_attention", "attention.multi_head_attention",
         "attention.init_multi_head_attention", "transformer.transformer_block"}


def _settings(n):
    return settings(max_examples=n, deadline=None, database=None, derandomize=True,
                    phases=[Phase.explicit, Phase.generate], print_blob=False,
                    suppress_health_check=list(HealthCheck))


class Finding(AssertionError):
    pass


def fail(spec: Spec, kind: str, call: str, problem: str, rule: str):
    text = f"{spec.name}: {problem}. The rule: {rule}\n    call: {call}"
    path = os.environ.get("DLMATH_FUZZ_LOG")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({"module": spec.module.split(".")[0], "function": spec.name,
                                "kind": kind, "call": call, "problem": problem,
                                "rule": rule}) + "\n")
    raise Finding(text)


def invoke(spec: Spec, kwargs):
    """Call the function of a row; returns the compared pytree, as NumPy arrays."""
    fn = spec.fn()
    with bic.x64_if(kwargs):
        r = spec.call(fn, **kwargs) if spec.call else fn(**kwargs)
        r = spec.out(r)
        return jax.tree_util.tree_map(_materialize, r)


def _materialize(x):
    if isinstance(x, jax.Array):
        return np.asarray(x)
    return x


def safe_invoke(spec, kwargs):
    """``(result, None)`` or ``(None, exception)``."""
    try:
        return invoke(spec, kwargs), None
    except Exception as e:  # noqa: BLE001 - every exception is judged by the caller
        return None, e


def ref_kwargs(spec: Spec, kwargs):
    out = dict(kwargs)
    for path, a in spec.arrays.items():
        out = bic.put(out, path, bic.to_ref(bic.get(kwargs, path), a.kind))
    return out


def reference(spec: Spec, kwargs):
    """The float64 reference: the row's NumPy formula, else its peer (jax.nn, optax), else
    the same function on float64 (and int64) copies of the arguments."""
    rk = ref_kwargs(spec, kwargs)
    if spec.ref is not None:
        r = spec.ref(rk)
        if r is not None:
            return r
    if spec.peer is not None:  # the peer library in float64 (jax.nn, optax)
        return in_float64(spec.peer, rk)

    def same_function(rk):
        fn = spec.fn()
        return spec.out(spec.call(fn, **rk) if spec.call else fn(**rk))

    return in_float64(same_function, rk)


def input_dtypes(spec: Spec, kwargs):
    return [str(np.asarray(bic.get(kwargs, p)).dtype) for p in spec.arrays]


def close(got, want, rtol) -> str | None:
    g, w = bic.leaves(got), bic.leaves(want)
    if len(g) != len(w):
        return f"the result has {len(g)} leaves, the reference {len(w)}"
    for k, (a, b) in enumerate(zip(g, w, strict=True)):
        if a is None or b is None:
            if (a is None) != (b is None):
                return f"leaf {k}: {a!r} vs reference {b!r}"
            continue
        if isinstance(a, tuple | int | str) and not hasattr(a, "dtype"):
            if a != b:
                return f"leaf {k}: {a!r}, the float64 reference gives {b!r}"
            continue
        a64 = np.asarray(a).astype(np.float64)
        b64 = np.asarray(b).astype(np.float64)
        if a64.shape != b64.shape:
            return f"leaf {k} has shape {a64.shape}, the float64 reference {b64.shape}"
        scale = max(1.0, float(np.nanmax(np.abs(b64[np.isfinite(b64)]), initial=0.0)))
        if not np.allclose(a64, b64, rtol=rtol, atol=rtol * scale, equal_nan=True):
            bad = np.argmax(~np.isclose(a64, b64, rtol=rtol, atol=rtol * scale,
                                        equal_nan=True))
            return (f"leaf {k} differs from the float64 reference: {a64.ravel()[bad]!r} vs "
                    f"{b64.ravel()[bad]!r} (rtol {rtol:g}), a silent wrong number")
    return None


def dtype_problem(spec: Spec, kwargs, result) -> str | None:
    if spec.out_dtype is None:
        return None
    with bic.x64_if(kwargs):
        if spec.out_dtype == "params":
            dts = {str(jnp.result_type(bic.get(kwargs, p)))
                   for p, a in spec.arrays.items() if a.param}
            if len(dts) != 1:
                return None
            want = dts.pop()
            why = "a function with parameters computes in their dtype"
        elif spec.out_dtype.startswith("arg:"):
            want = str(jnp.result_type(kwargs[spec.out_dtype[4:]]))
            why = f"documented: in {spec.out_dtype[4:]}'s dtype"
        elif spec.out_dtype == "promote":
            xs = [bic.get(kwargs, p) for p, a in spec.arrays.items()
                  if a.kind not in ("labels", "binary_ids", "ints")
                  and np.asarray(bic.get(kwargs, p)).dtype != np.bool_]
            if not xs:
                return None
            want = str(jnp.result_type(*xs))
            why = "a function without parameters follows JAX's type promotion"
        else:
            want = spec.out_dtype
            why = "the documented dtype"
    for leaf in bic.leaves(result):
        if hasattr(leaf, "dtype") and np.asarray(leaf).dtype.kind in "fciu" and \
                (np.asarray(leaf).dtype.kind in "fc" or spec.out_dtype == "int32"):
            got = str(np.asarray(leaf).dtype)
            if got != want:
                return f"returned dtype {got}, expected {want} ({why})"
    return None


def expect_ok(spec, kind, kwargs, call, *, compare=True, rule="", finite=False,
              check_dtype=True):
    result, err = safe_invoke(spec, kwargs)
    if err is not None:
        fail(spec, kind, call, f"raised {type(err).__name__}: {str(err)[:300]}",
             rule or "valid input must work")
    if compare and spec.arrays:
        want = reference(spec, kwargs)
        problem = close(result, want, bic.tol(input_dtypes(spec, kwargs)))
        if problem:
            fail(spec, kind, call, problem, rule or "valid input gives the float64 "
                 "reference's result")
    problem = dtype_problem(spec, kwargs, result) if check_dtype else None
    if problem:
        fail(spec, kind, call, problem, "cast or refuse, one documented dtype rule")
    if finite:
        for leaf in bic.float_leaves(result):
            if not np.all(np.isfinite(np.asarray(leaf, np.float64))):
                fail(spec, kind, call, "returned a non-finite value for finite input",
                     "finite where documented")
    return result


def expect_error(spec, kind, kwargs, call, names, cls=(ValueError, TypeError), rule="",
                 extra=None):
    result, err = safe_invoke(spec, kwargs)
    if err is None:
        fail(spec, kind, call, "returned without an error (a silent wrong result): "
             + _short(result), rule)
    problem = bic.error_problem(err, spec.who_, names, cls, extra, spec.who_ok)
    if problem:
        fail(spec, kind, call, f"{problem}: {type(err).__name__}: {str(err)[:300]}", rule)


def _short(result) -> str:
    try:
        return bic.render(result)[:200]
    except Exception:  # noqa: BLE001
        return type(result).__name__


def names_of(spec: Spec):
    return sorted({str(p[0]) for p in spec.arrays} | set(spec.names_ok))


def draw_kwargs(spec: Spec, data, **sizes):
    seed = data.draw(st.integers(0, 2**16), label="seed")
    s = spec.sizes_(**sizes)
    return spec.build(s, np.random.default_rng(seed)), s, seed


def as_jax(data, kwargs, spec):
    """Half of the examples pass jax arrays, half NumPy arrays."""
    if not data.draw(st.booleans(), label="jax arrays"):
        return kwargs
    with bic.x64_if(kwargs):
        for p in spec.arrays:
            kwargs = bic.put(kwargs, p, jnp.asarray(bic.get(kwargs, p)))
    return kwargs


def cast_paths(spec, kwargs, paths, dt):
    for p in paths:
        kwargs = bic.put(kwargs, p, bic.cast(bic.get(kwargs, p), dt, spec.arrays[p].kind))
    return kwargs


def param_paths(spec: Spec, root=None):
    return [p for p, a in spec.arrays.items() if a.param and (root is None or p[0] == root)]


def data_float_paths(spec: Spec):
    return [p for p, a in spec.arrays.items() if not a.param
            and a.kind in ("float", "real", "real_or_bool")]


def label_paths(spec: Spec):
    return [p for p, a in spec.arrays.items() if a.kind in ("labels", "binary_ids")]


def num_classes(spec: Spec, a: A, s):
    return 2 if a.classes == "two" else s[a.classes]


# --------------------------------------------------------------------------- the kinds


def kind_valid(spec: Spec, data):
    """Valid input in a drawn float dtype: the float64 reference's result, finite; for the
    stable functions also at inputs of +-1e4 (same shapes and dtypes: no new compile),
    finite with a finite gradient."""
    kw, s, _ = draw_kwargs(spec, data)
    dt = data.draw(st.sampled_from(FLOATS), label="float dtype")
    kw = cast_paths(spec, kw, [p for p, a in spec.arrays.items() if a.kind in ("float",)], dt)
    kw = as_jax(data, kw, spec)
    call = bic.describe(kw, spec)
    note(call)
    expect_ok(spec, "valid", kw, call, finite=True)
    if spec.stable:
        for p in spec.grad_of:
            x = np.asarray(bic.get(kw, p))
            kw = bic.put(kw, p, (x.astype(np.float64) * 1e4).astype(x.dtype))
        call = bic.describe(kw, spec) + " (inputs scaled to +-1e4)"
        expect_ok(spec, "valid", kw, call, compare=False, finite=True,
                  rule="finite at +-1e4")
    for p in spec.grad_of:
        x = bic.get(kw, p)

        def f(v, p=p):
            r = spec.fn()(**bic.put(kw, p, v))
            return sum(jnp.sum(leaf.astype(jnp.float32)) for leaf in bic.float_leaves(r))

        with bic.x64_if(kw):
            try:
                g = np.asarray(jax.grad(f)(jnp.asarray(x)), np.float64)
            except Exception as e:  # noqa: BLE001
                fail(spec, "valid", f"grad of {call} wrt {bic.label(p)}",
                     f"raised {type(e).__name__}: {str(e)[:200]}", "differentiable")
        if np.any(np.isnan(g)) or (spec.stable and not np.all(np.isfinite(g))):
            fail(spec, "valid", f"jax.grad of sum({call}) wrt {bic.label(p)}",
                 f"gradient {np.array2string(g.ravel()[:8], precision=3)} has NaN/inf",
                 "a finite gradient (stable forms, logits of +-1e4 included; "
                 "0 log 0 = 0 has no NaN derivative)")


def kind_dtype(spec: Spec, data):
    kw, s, _ = draw_kwargs(spec, data)
    path = data.draw(st.sampled_from(sorted(spec.arrays, key=str)), label="argument")
    a = spec.arrays[path]
    dt = data.draw(st.sampled_from(ACCEPT[a.kind]), label="dtype")
    paths = param_paths(spec, path[0]) if a.param else [path]
    kw = cast_paths(spec, kw, paths, dt)
    kw = as_jax(data, kw, spec)
    call = bic.describe(kw, spec)
    note(call)
    if dt in ACCEPT[a.kind]:
        expect_ok(spec, "dtype", kw, call,
                  rule=f"{bic.label(path)} of dtype {dt} is valid ({a.kind}): the float64 "
                       "reference's result, in the documented dtype")
    else:
        expect_error(spec, "dtype", kw, call, [path[0], *spec.names_ok], TypeError,
                     rule=f"{bic.label(path)} is {a.kind}; dtype {dt} must raise TypeError "
                          "naming the function and the argument")


def shared_letters(spec: Spec):
    count = {}
    for a in spec.arrays.values():
        for letter in a.legend:
            count[letter] = count.get(letter, 0) + 1
    out = {}
    for p, a in spec.arrays.items():
        ls = [x for x in a.legend if count[x] >= 2 and x not in spec.free_letters]
        if ls:
            out[p] = ls
    return out


def _has_nonfinite_word(msg):
    low = msg.lower()
    if any(w in low for w in ("nan", "inf", "finite")):
        return None
    return "the message does not say that the input holds NaN or infinity (misleading)"


def kind_nonfinite(spec: Spec, data):
    kw, s, _ = draw_kwargs(spec, data)
    cands = [p for p, a in spec.arrays.items() if a.kind in ("float", "real", "real_or_bool")]
    path = data.draw(st.sampled_from(sorted(cands, key=str)), label="argument")
    value = data.draw(st.sampled_from([math.nan, math.inf, -math.inf]), label="value")
    x = np.array(bic.get(kw, path), copy=True)
    if x.size == 0:
        return
    x.reshape(-1)[0] = value
    kw = bic.put(kw, path, x)
    call = bic.describe(kw, spec)
    note(call)
    result, err = safe_invoke(spec, kw)
    rule = ("non-finite input: a clear ValueError (saying so) or the documented result; a NaN "
            "shows in the output")
    if err is not None:
        problem = bic.error_problem(err, spec.who_, [path[0]], ValueError, _has_nonfinite_word)
        if problem:
            fail(spec, "nonfinite", call, f"{problem}: {type(err).__name__}: "
                 f"{str(err)[:300]}", rule)
        return
    propagates = spec.propagates is None or path in spec.propagates
    if math.isnan(value) and spec.nonfinite == "propagate" and propagates:
        fl = bic.float_leaves(result)
        if fl and not any(np.any(np.isnan(np.asarray(v, np.float64))) for v in fl):
            fail(spec, "nonfinite", call, "a NaN input gave an all-NaN-free result: "
                 + _short(result), rule)


def kind_labels_range(spec: Spec, data):
    kw, s, _ = draw_kwargs(spec, data)
    path = data.draw(st.sampled_from(label_paths(spec)), label="argument")
    a = spec.arrays[path]
    k = num_classes(spec, a, s)
    bad = data.draw(st.sampled_from([k, k + 7, -1, 255]), label="bad id")
    dts = [d for d in ("int32", "int64", "uint8", "int8", "int16")
           if np.iinfo(d).min <= bad <= np.iinfo(d).max]
    dt = data.draw(st.sampled_from(dts), label="dtype")
    x = np.array(bic.get(kw, path)).astype(dt)
    x[0] = bad
    kw = bic.put(kw, path, x)
    call = bic.describe(kw, spec)
    note(call)
    expect_error(spec, "labels_range", kw, call, [path[0], *spec.names_ok], ValueError,
                 rule="concrete class ids outside [0, K) raise ValueError naming the function "
                      "and the argument (one rule in every module that takes labels)")
    if not (spec.labels_jit and spec.jittable):
        return
    fn = spec.fn()

    def run(v):
        return spec.out(spec.call(fn, **bic.put(kw, path, v)) if spec.call
                        else fn(**bic.put(kw, path, v)))

    jcall = f"jax.jit over {bic.label(path)} of {call}"
    try:
        with bic.x64_if(kw):
            got = jax.tree_util.tree_map(_materialize, jax.jit(run)(jnp.asarray(x)))
    except Exception as e:  # noqa: BLE001
        fail(spec, "labels_range", jcall, f"raised {type(e).__name__}: {str(e)[:200]}",
             "under jit the ids are unknown: no error, the documented result")
    if spec.labels_jit == "nan":
        if not any(np.any(np.isnan(np.asarray(v, np.float64))) for v in bic.float_leaves(got)):
            fail(spec, "labels_range", jcall, "no NaN in the result: " + _short(got),
                 "under jit an id out of range makes that example's loss NaN (documented)")
    else:
        want = bic.np_confusion(*[np.asarray(bic.get(kw, p)) for p in label_paths(spec)],
                                kw["num_classes"])
        if not np.array_equal(np.asarray(got), want):
            fail(spec, "labels_range", jcall, "the example with the bad id was counted",
                 "under jit an id out of range is left out of the counts (documented)")


def kind_labels_width(spec: Spec, data):
    path = data.draw(st.sampled_from(label_paths(spec)), label="argument")
    a = spec.arrays[path]
    dt = data.draw(st.sampled_from(["uint8", "int8", "uint16", "int16"]), label="dtype")
    wide = a.classes != "two"
    kw, s, seed = draw_kwargs(spec, data, **({a.classes: spec.wide_k} if wide else {}))
    k = num_classes(spec, a, s)
    top = min(k - 1, int(np.iinfo(dt).max))
    rng = np.random.default_rng(seed)
    for p in label_paths(spec):
        x = rng.integers(0, top + 1, size=np.shape(bic.get(kw, p)))
        x[0] = top
        kw = bic.put(kw, p, x.astype(dt) if p == path else x.astype(np.int32))
    call = bic.describe(kw, spec)
    note(call)
    rule = (f"class ids of any integer width: {dt} ids (up to {top}) with K = {k} give the "
            "result of int32 ids (no overflow, no OverflowError)")
    got = expect_ok(spec, "labels_width", kw, call, compare=False, rule=rule)
    # the reference: the same call with int32 ids (the rule widens ids to 32 bits, so this
    # usually reuses the compiled code)
    wide_kw = bic.put(kw, path, np.asarray(bic.get(kw, path)).astype(np.int32))
    want = spec.ref(ref_kwargs(spec, wide_kw)) if spec.ref is not None else None
    if want is None:
        want = invoke(spec, wide_kw)
    problem = close(got, want, 1e-5 if spec.ref is None else bic.tol(input_dtypes(spec, kw)))
    if problem:
        fail(spec, "labels_width", call, problem.replace("float64 reference", "int32 ids"),
             rule)


def kind_mixed(spec: Spec, data):
    kw, s, _ = draw_kwargs(spec, data)
    pdt = data.draw(st.sampled_from(FLOATS), label="params dtype")
    ddt = data.draw(st.sampled_from([d for d in FLOATS if d != pdt]), label="data dtype")
    leaves_only = data.draw(st.booleans(), label="one param leaf only")
    roots = {p[0] for p in param_paths(spec)}
    if leaves_only and any(len(param_paths(spec, r)) > 1 for r in roots):
        root = sorted(roots, key=str)[0]
        kw = cast_paths(spec, kw, param_paths(spec, root)[:1], pdt if pdt != "float32"
                        else "float16")
        call = bic.describe(kw, spec)
        note(call)
        result, err = safe_invoke(spec, kw)
        if err is not None:
            problem = bic.error_problem(err, spec.who_, [root], TypeError)
            if problem:
                fail(spec, "mixed", call, f"{problem}: {type(err).__name__}: "
                     f"{str(err)[:300]}", "parameters of mixed float dtypes: TypeError "
                     "naming the function and the parameters (one float dtype per tree)")
        return
    kw = cast_paths(spec, kw, param_paths(spec), pdt)
    kw = cast_paths(spec, kw, [p for p in data_float_paths(spec)
                               if np.asarray(bic.get(kw, p)).dtype.kind == "f"], ddt)
    call = bic.describe(kw, spec)
    note(call)
    expect_ok(spec, "mixed", kw, call,
              rule=f"{pdt} parameters with {ddt} data: the data is cast to the parameters' "
                   "dtype (the package's mixed-dtype rule), result as the float64 reference")


KINDS = {"valid": kind_valid, "dtype": kind_dtype, "nonfinite": kind_nonfinite,
         "labels_range": kind_labels_range, "labels_width": kind_labels_width,
         "mixed": kind_mixed}


def kinds_of(spec: Spec):
    ks = ["valid"]
    if spec.arrays:
        ks.append("dtype")
        if any(a.kind in ("float", "real", "real_or_bool") for a in spec.arrays.values()):
            ks.append("nonfinite")
    if label_paths(spec):
        ks += ["labels_range", "labels_width"]
    if spec.has_params:
        ks.append("mixed")
    return [k for k in ks if k not in spec.skip]


CASES = [(spec, kind) for spec in SPECS for kind in kinds_of(spec)]


@pytest.mark.parametrize("spec,kind", CASES, ids=[f"{s.name}{s.tag}-{k}" for s, k in CASES])
def test_bad_input(spec, kind):
    n = BUDGET[kind]
    if spec.name in HEAVY:
        n = max(1, n // 2)
    if spec.examples is not None:
        n = min(n, spec.examples)
    body = KINDS[kind]

    @_settings(n)
    @given(st.data())
    def run(data):
        body(spec, data)

    run()


# --------------------------------------------------------------------------- tables
# Refused input is cheap (it raises before anything compiles), so it is enumerated, not
# sampled: every array argument with every refused dtype, every rank change, every shared
# axis of another size, every bad value of every hyper-parameter.


def table_dtype_refused(spec: Spec):
    for path, a in sorted(spec.arrays.items(), key=str):
        base = spec.build(spec.sizes_(), np.random.default_rng(0))
        x = bic.get(base, path)
        if len(path) == 1 and np.ndim(x) >= 1:  # a list where an array is documented
            kw = bic.put(base, path, np.asarray(x).tolist())
            if a.lists_ok:
                yield kw, lambda kw, call: expect_ok(spec, "dtype", kw, call, compare=False,
                                                     check_dtype=False)
            else:
                yield kw, lambda kw, call, path=path: expect_error(
                    spec, "dtype", kw, call, [path[0], *spec.names_ok], TypeError,
                    rule=f"{bic.label(path)} given as a list: TypeError naming the function "
                         "and the argument, with the hint jnp.asarray (_checks: arrays)")
        for dt in ALL_DTYPES:
            if dt in ACCEPT[a.kind]:
                continue
            kw = spec.build(spec.sizes_(), np.random.default_rng(0))
            kw = cast_paths(spec, kw, param_paths(spec, path[0]) if a.param else [path], dt)
            yield kw, lambda kw, call, path=path, a=a, dt=dt: expect_error(
                spec, "dtype", kw, call, [path[0], *spec.names_ok], TypeError,
                rule=f"{bic.label(path)} is {a.kind}; dtype {dt} must raise TypeError naming "
                     "the function and the argument (never an imaginary part dropped)")


def _rank_change(x, op):
    x = np.asarray(x)
    if op == "add" or x.ndim == 0:
        return np.stack([x, x], axis=-1)
    if op == "drop":
        return x[..., 0]
    return x.reshape(-1)[0]


def table_rank(spec: Spec):
    for path, a in sorted(spec.arrays.items(), key=str):
        base = spec.build(spec.sizes_(), np.random.default_rng(0))
        ops = ["add"] if np.ndim(bic.get(base, path)) == 0 else ["add", "drop", "scalar"]
        for op in ops:
            new = _rank_change(bic.get(base, path), op)
            kw = bic.put(base, path, new)
            if a.ranks is not None and new.ndim in a.ranks and op != "add":
                continue  # valid ranks compile anew: one (rank + 1) is checked
            if a.ranks is not None and new.ndim in a.ranks:
                # a valid rank compiles anew: compared with a NumPy reference where the row
                # has one, else only required to work
                yield kw, lambda kw, call, path=path, new=new: expect_ok(
                    spec, "rank", kw, call, compare=spec.ref is not None or spec.peer is not None,
                    rule=f"{bic.label(path)} may have rank {new.ndim}")
            else:
                yield kw, lambda kw, call, path=path, new=new: expect_error(
                    spec, "rank", kw, call, names_of(spec), ValueError,
                    rule=f"{bic.label(path)} of rank {new.ndim} must raise ValueError naming "
                         "the function and the argument")


def table_shape(spec: Spec):
    s = spec.sizes_()
    for path, letters in sorted(shared_letters(spec).items(), key=str):
        for letter in letters:
            for size in (1, 5) if s[letter] not in (1, 5) else (2,):
                base = spec.build(s, np.random.default_rng(0))
                other = spec.build(spec.sizes_(**{letter: size}), np.random.default_rng(0))
                kw = bic.put(base, path, bic.get(other, path))
                yield kw, lambda kw, call, path=path, letter=letter, size=size: expect_error(
                    spec, "shape", kw, call, names_of(spec), ValueError,
                    rule=f"{bic.label(path)} with {letter} = {size} (the others {s[letter]}) "
                         "must raise ValueError naming the function and the argument; "
                         "nothing is broadcast")


def table_hyper(spec: Spec):
    for name, h in sorted(spec.hypers.items()):
        base = spec.build(spec.sizes_(), np.random.default_rng(0))
        values = bic.hyper_values(h, base.get(name))
        valid = [v for v in values if v[1]][:1]  # valid ones compile: one suffices
        for value, ok in [v for v in values if not v[1]] + valid:
            kw = {**base, name: value}
            if ok:
                yield kw, lambda kw, call, name=name, value=value: expect_ok(
                    spec, "hyper", kw, call, compare=False, check_dtype=False,
                    rule=f"{name}={value!r} is in the documented range")
            else:
                yield kw, lambda kw, call, name=name, value=value: expect_error(
                    spec, "hyper", kw, call, [name, *spec.names_ok],
                    rule=f"{name}={bic.render(value)} must raise ValueError (out of range, "
                         "not finite, not a scalar) or TypeError (bool, complex, callable, "
                         "str) naming the function and the hyper-parameter")


def traceable(spec: Spec, kw):
    return [n for n, h in sorted(spec.hypers.items()) if not h.static
            and isinstance(kw.get(n), (int, float)) and not isinstance(kw.get(n), bool)]


def check_traced(spec: Spec, kw, call, names):
    """Every array and every real hyper-parameter traced at once, in one jit."""
    fn = spec.fn()
    eager = invoke(spec, kw)

    def run(arrs, hypers):
        k2 = {**kw, **hypers}
        for p, v in zip(spec.arrays, arrs, strict=True):
            k2 = bic.put(k2, p, v)
        return spec.out(spec.call(fn, **k2) if spec.call else fn(**k2))

    arrays = [bic.get(kw, p) for p in spec.arrays]
    hypers = {n: jnp.asarray(kw[n], jnp.float32) for n in names}
    try:
        with bic.x64_if(kw):
            got = jax.tree_util.tree_map(_materialize, jax.jit(run)(arrays, hypers))
    except Exception as e:  # noqa: BLE001
        fail(spec, "traced", call, f"raised {type(e).__module__}.{type(e).__name__}: "
             f"{str(e)[:300]}", "value checks are skipped for traced values (no "
             "TracerBoolConversionError, no ConcretizationTypeError); shapes and dtypes are "
             "still checked")
    problem = close(got, eager, 1e-4)
    if problem:
        fail(spec, "traced", call, problem.replace("float64 reference", "eager call"),
             "the same result under jit")


def table_traced(spec: Spec):
    kw = spec.build(spec.sizes_(), np.random.default_rng(0))
    names = traceable(spec, kw)
    if spec.jittable and (spec.arrays or names):
        yield kw, lambda kw, call: check_traced(
            spec, kw, f"jax.jit over the arrays and {names} of {call}", names)


TABLES = {"dtype_refused": table_dtype_refused, "rank": table_rank, "shape": table_shape,
          "hyper": table_hyper, "traced": table_traced}


def tables_of(spec: Spec):
    ks = []
    if spec.arrays:
        ks += ["dtype_refused", "rank"]
        if shared_letters(spec):
            ks.append("shape")
    if spec.hypers:
        ks.append("hyper")
    if spec.jittable and (spec.arrays or any(not h.static for h in spec.hypers.values())):
        ks.append("traced")
    return [k for k in ks if k not in spec.skip]


TABLE_CASES = [(spec, kind) for spec in SPECS for kind in tables_of(spec)]


@pytest.mark.parametrize("spec,kind", TABLE_CASES,
                         ids=[f"{s.name}{s.tag}-{k}" for s, k in TABLE_CASES])
def test_refused_input(spec, kind):
    """Every case of the table; all failing cases are reported together."""
    failures = []
    for kw, check in TABLES[kind](spec):
        call = bic.describe(kw, spec)
        try:
            check(kw, call)
        except Finding as f:
            failures.append(str(f))
    if failures:
        raise Finding(f"{len(failures)} failing case(s):\n" + "\n".join(failures))


# --------------------------------------------------------------------------- empty axes

EMPTY = [(spec, letter, what) for spec in SPECS for letter, what in spec.empty.items()]


@pytest.mark.parametrize("spec,letter,what", EMPTY,
                         ids=[f"{s.name}{s.tag}-{x}=0" for s, x, _ in EMPTY])
def test_empty_axis(spec, letter, what):
    """A reduced axis of length 0 raises, naming the function; an empty batch axis passes
    through, with the peer's (jax.nn, optax) result where the row names one."""
    kw = spec.build(spec.sizes_(**{letter: 0}), np.random.default_rng(0))
    call = bic.describe(kw, spec)
    if what == "raise":
        expect_error(spec, "empty", kw, call, [], ValueError,
                     rule=f"{letter} = 0 is reduced over: ValueError naming the function and "
                          "the empty axis (not ZeroDivisionError, not a silent NaN)")
        return
    result, err = safe_invoke(spec, kw)
    if err is not None:
        if what == "either" and bic.error_problem(err, spec.who_, [], ValueError) is None:
            return
        fail(spec, "empty", call, f"raised {type(err).__name__}: {str(err)[:300]}",
             f"an empty batch axis ({letter} = 0) passes through, as jax.nn and optax")
    if spec.peer is not None:
        want = spec.peer(kw)
        problem = close(result, jax.tree_util.tree_map(np.asarray, want), 1e-5)
        if problem:
            fail(spec, "empty", call, problem.replace("float64 reference", "peer"),
                 "the peer's result (jax.nn / optax) on an empty batch")
    for leaf in bic.float_leaves(result) if what == "pass" else []:
        if np.any(np.isnan(np.asarray(leaf, np.float64))):
            fail(spec, "empty", call, "NaN in the result of an empty batch",
                 "an empty batch gives an empty (or zero) result, never NaN")


# --------------------------------------------------------------------------- coverage


def test_every_public_function_has_a_row():
    """A module's functions join with rows in its file tests/bad_input_rows_<module>.py."""
    covered = {s.fn() for s in SPECS}
    missing = [name for name, obj in bic.public_functions().items() if obj not in covered]
    assert not missing, ("public functions without a row (add it to the module's file "
                         f"tests/bad_input_rows_<module>.py): {missing}")


# --------------------------------------------------------------------------- edge cases
# Where dlmath deliberately behaves like its peer (optax, jax.nn) or deliberately not, a
# test says so by computing the peer's result next to dlmath's.


def _optax():
    import optax

    return optax


def _raises_clearly(fn, who, names, cls=(ValueError, TypeError)):
    try:
        fn()
    except Exception as e:  # noqa: BLE001
        problem = bic.error_problem(e, who, names, cls)
        assert problem is None, f"{problem}: {type(e).__name__}: {e}"
        return
    raise AssertionError(f"{who}: no error")


def test_masked_logit_with_label_zero_is_zero_unlike_optax():
    """0 * log 0 = 0: a class masked with logit -inf and probability 0 adds nothing. optax
    0.2 returns NaN here (0 * -inf); dlmath deliberately returns the true loss."""
    from dlmath import losses

    z = jnp.array([[0.0, 1.0, -jnp.inf], [2.0, -jnp.inf, 0.5]])
    y = jnp.array([[0.25, 0.75, 0.0], [0.5, 0.0, 0.5]])
    got = losses.softmax_cross_entropy(z, y)
    want = -np.sum(np.where(np.asarray(y) > 0, np.asarray(y) * bic.np_log_softmax(
        np.where(np.isinf(np.asarray(z)), -1e300, np.asarray(z))), 0.0), axis=-1)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-6)
    g = jax.grad(lambda z: jnp.sum(losses.softmax_cross_entropy(z, y)))(z)
    assert np.all(np.isfinite(np.asarray(g)))
    assert np.all(np.isnan(np.asarray(_optax().softmax_cross_entropy(z, y))))  # the peer


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
def test_cross_entropies_finite_at_extreme_logits(dtype):
    """Stable forms: logits of +-1e4 (and float16's +-6e4) give a finite loss and gradient."""
    from dlmath import losses

    # labels on a small logit (the loss is 2e4, representable), and at float16's 6e4 on the
    # largest logit (the true loss is 0; 0 * -inf must not make it NaN)
    big, picks = (6e4, [0, 2]) if dtype == "float16" else (1e4, [1, 0])
    z = jnp.array([[big, -big, 0.0], [-big, -big, big]], dtype)
    onehot = jax.nn.one_hot(jnp.array(picks), 3, dtype=dtype)
    for loss, y in ((losses.softmax_cross_entropy, onehot),
                    (losses.softmax_cross_entropy_with_integer_labels, jnp.array(picks))):
        v = loss(z, y)
        g = jax.grad(lambda z, loss=loss, y=y: jnp.sum(loss(z, y).astype(jnp.float32)))(z)
        assert np.all(np.isfinite(np.asarray(v, np.float64))), (loss.__name__, v)
        assert np.all(np.isfinite(np.asarray(g, np.float64))), (loss.__name__, g)


def test_softmax_over_no_classes_raises_unlike_jax_nn():
    """The rule: a softmax over K = 0 classes raises (jax.nn.softmax returns an empty array);
    an empty batch (N = 0) passes through as in jax.nn."""
    from dlmath import activations

    assert jax.nn.softmax(jnp.zeros((3, 0))).shape == (3, 0)  # the peer
    _raises_clearly(lambda: activations.softmax(jnp.zeros((3, 0))), "softmax", ["x"],
                    ValueError)
    np.testing.assert_array_equal(activations.softmax(jnp.zeros((0, 3))),
                                  jax.nn.softmax(jnp.zeros((0, 3))))


def test_empty_batch_of_losses_as_optax():
    from dlmath import losses

    optax = _optax()
    z, y, c = jnp.zeros((0, 4)), jnp.zeros((0, 4)), jnp.zeros((0,), jnp.int32)
    np.testing.assert_array_equal(losses.softmax_cross_entropy(z, y),
                                  optax.softmax_cross_entropy(z, y))
    np.testing.assert_array_equal(losses.softmax_cross_entropy_with_integer_labels(z, c),
                                  optax.softmax_cross_entropy_with_integer_labels(z, c))
    np.testing.assert_array_equal(losses.binary_cross_entropy_with_logits(c * 1.0, c * 1.0),
                                  optax.sigmoid_binary_cross_entropy(c * 1.0, c * 1.0))


def test_kl_divergence_is_optax_kl_divergence():
    """Same arguments as optax.kl_divergence(log_predictions, targets); finite with finite
    gradients from log_softmax of logits of +-1e4, where softmax underflows to 0."""
    from dlmath import activations, information

    optax = _optax()
    rng = np.random.default_rng(0)
    t = bic.probs(rng, (3, 4), zeros=True)
    logq = np.log(bic.probs(rng, (3, 4)))
    np.testing.assert_allclose(information.kl_divergence(logq, t),
                               optax.kl_divergence(logq, t), rtol=1e-5, atol=1e-6)
    z = jnp.array([[1e4, -1e4, 0.0, 1.0]])
    tt = jnp.array([[0.5, 0.0, 0.25, 0.25]])
    f = lambda z: jnp.sum(information.kl_divergence(activations.log_softmax(z), tt))
    assert np.isfinite(float(f(z)))
    assert np.all(np.isfinite(np.asarray(jax.grad(f)(z))))


def test_entropy_gradient_at_a_point_mass_has_no_nan():
    """0 log 0 = 0: d/dp (-p log p) -> +inf as p -> 0; never NaN."""
    from dlmath import information

    g = np.asarray(jax.grad(lambda p: jnp.sum(information.entropy(p)))(jnp.array([1.0, 0.0])))
    assert not np.any(np.isnan(g)), g


# ---- optimizer state misuse


def _tree(dtype="float32"):
    return {"w": jnp.ones((2, 3), dtype), "b": jnp.zeros((3,), dtype)}


@pytest.mark.parametrize("name", ["sgd", "rmsprop", "adam", "adamw"])
def test_optimizer_state_misuse(name):
    from dlmath import optim

    factory = getattr(optim, name)
    opt = factory(0.1)
    p = _tree()
    state = opt.init(p)
    _raises_clearly(lambda: opt.update(p, None, p), name, ["state"])
    other = optim.adam(0.1) if name in ("sgd", "rmsprop") else optim.sgd(0.1, momentum=0.9)
    _raises_clearly(lambda: opt.update(p, other.init(p), p), name, ["state"])
    _raises_clearly(lambda: opt.update({"w": p["w"]}, state, p), name, ["grads", "params"],
                    ValueError)
    _raises_clearly(lambda: opt.update({"w": p["w"], "b": jnp.zeros(4)}, state, p), name,
                    ["grads", "params"], ValueError)
    _raises_clearly(lambda: opt.update([p["w"], p["b"]], state, p), name,
                    ["grads", "params"], ValueError)
    _raises_clearly(lambda: opt.update(jax.tree_util.tree_map(lambda x: x.astype(jnp.int32),
                                                              p), state, p), name, ["grads"],
                    TypeError)


def test_sgd_without_momentum_checks_the_gradient_tree():
    from dlmath import optim

    opt = optim.sgd(0.1)
    p = _tree()
    s = opt.init(p)
    _raises_clearly(lambda: opt.update({"w": p["w"]}, s, p), "sgd", ["grads"], ValueError)
    _raises_clearly(lambda: opt.update({"w": p["w"], "b": jnp.zeros((5,))}, s, p), "sgd",
                    ["grads"], ValueError)


@pytest.mark.parametrize("name", ["rmsprop", "adam", "adamw"])
def test_float16_parameters_with_a_float32_state_are_finite(name):
    """optim's docstring: float16 parameters need state_dtype=jnp.float32 (eps = 1e-8 rounds
    to 0 in float16); then zero and tiny gradients give finite updates, applied in float16,
    and float32 gradients never change the state's dtype."""
    from dlmath import optim

    opt = getattr(optim, name)(1e-3, state_dtype=jnp.float32)
    p = _tree("float16")
    s = opt.init(p)
    for g in (jax.tree_util.tree_map(jnp.zeros_like, p),
              jax.tree_util.tree_map(lambda x: jnp.full(x.shape, 1e-6, jnp.float32), p)):
        u, s2 = opt.update(g, s, p)
        assert all(np.all(np.isfinite(np.asarray(x, np.float64)))
                   for x in jax.tree_util.tree_leaves(u)), u
        assert jax.tree_util.tree_structure(s2) == jax.tree_util.tree_structure(s)
        assert [x.dtype for x in jax.tree_util.tree_leaves(s2)] == \
            [x.dtype for x in jax.tree_util.tree_leaves(s)]
        new = optim.apply_updates(p, u)
        assert all(x.dtype == jnp.float16 for x in jax.tree_util.tree_leaves(new))


@pytest.mark.parametrize("name", ["sgd", "rmsprop", "adam", "adamw"])
def test_float32_gradients_keep_a_float16_state(name):
    """The issue: optimizers fed float32 gradients for float16 params turned their state
    into float32. The state keeps its dtype at every step (optim's docstring)."""
    from dlmath import optim

    opt = getattr(optim, name)(0.1, **({"momentum": 0.9} if name == "sgd" else {}))
    p = _tree("float16")
    s = opt.init(p)
    g = jax.tree_util.tree_map(lambda x: jnp.full(x.shape, 0.5, jnp.float32), p)
    u, s2 = opt.update(g, s, p)
    assert [x.dtype for x in jax.tree_util.tree_leaves(s2)] == \
        [x.dtype for x in jax.tree_util.tree_leaves(s)]
    assert all(x.dtype == jnp.float16 for x in jax.tree_util.tree_leaves(u))


# ---- attention (chapter 08): the peer is jax.nn.dot_product_attention


def test_attention_is_jax_nn_dot_product_attention_except_fully_masked_rows():
    """Same numbers as jax.nn.dot_product_attention (layout (B, T, heads, D)); a query whose
    keys are all masked gets 0 in dlmath, where jax.nn averages every value."""
    from dlmath import attention
    rng = np.random.default_rng(0)
    q, k, v = (jnp.asarray(bic.normal(rng, s)) for s in ((2, 3, 4), (2, 5, 4), (2, 5, 4)))
    mask = jnp.asarray(rng.random((2, 3, 5)) > 0.3).at[0, 1].set(False)
    got = attention.scaled_dot_product_attention(q, k, v, mask)
    peer = jax.nn.dot_product_attention(q[:, :, None], k[:, :, None], v[:, :, None],
                                        mask=mask[:, None])[:, :, 0]
    keep = np.asarray(mask.any(-1))
    np.testing.assert_allclose(np.asarray(got)[keep], np.asarray(peer)[keep], rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_array_equal(np.asarray(got)[0, 1], 0.0)
    np.testing.assert_allclose(np.asarray(peer)[0, 1], np.asarray(v[0]).mean(0), rtol=1e-5)
