"""Edge cases that a valid-looking call must still get right, across the functions that take
ids, the reductions of low-precision inputs and the data split.

* **Ids out of range.** For every row of ``bad_input_cases.SPECS`` with an id argument (class
  ids, 0/1 labels, node ids): each bad id (``K``, ``K + 7``, ``-1``, ``-K`` as int32, 255 as
  uint8) raises ``ValueError`` naming the function and the argument when it is concrete, and
  under ``jax.jit`` (where it cannot be checked) gives the documented result: NaN (in the
  example's loss, or everywhere for the graphs' edge lists), or the example left out of the
  counts (``confusion_matrix``), or counted as a miss (``accuracy``). A negative id is never
  read as an index from the end.
* **Reductions in low precision.** Penalties, the Gaussian KL and the graphs' degree and
  message sums, given float16 inputs whose sums overflow float16 (and float32 inputs whose
  squares overflow or underflow float32) while the result itself fits: the float64
  reference rounded to the input's dtype, in that dtype.
* **The digits split** never comes back with an empty side.
"""

from __future__ import annotations

import bad_input_cases as bic
import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest
from bad_input_cases import SPECS, Spec

from dlmath import data, generative, graphs, regularization
from dlmath.testing import in_float64

# --------------------------------------------------------------------------- ids

#: what an id out of range gives under jit, where the row's labels_jit does not say it:
#: "nan" a NaN in the result (that example's loss; the mean then shows it), "all_nan"
#: NaN in every float entry, "drop" left out of the counts, "miss" counted as a wrong
#: prediction
UNDER_JIT = {
    "graphs.message_passing": "all_nan",
    "graphs.gcn_normalize_edges": "all_nan",
    "metrics.accuracy": "miss",
    "metrics.binary_accuracy": "miss",
}


def _id_candidates():
    """(spec, path) for every argument that may hold ids: class or node ids, 0/1 ids, and
    the real-or-bool targets (0/1 labels when they are integers, checked in the test)."""
    out = []
    for spec in SPECS:
        for path, a in spec.arrays.items():
            if a.kind in ("labels", "binary_ids", "real_or_bool") \
                    and (spec.name, path) not in DATA_NOT_IDS:
                out.append((spec, path))
    return out


#: arrays that accept 0/1 values among other reals but hold data (the training loops' and
#: the data-parallel step's X and y), never class ids: no id rule applies to them
DATA_NOT_IDS = {(name, (arg,)) for name in ("training.fit", "training.train_step",
                                            "parallel.data_parallel_step",
                                            "parallel.fully_sharded_step") for arg in "Xy"}


CANDIDATES = _id_candidates()


def _call(spec: Spec, kw):
    fn = spec.fn()
    return spec.out(spec.call(fn, **kw) if spec.call else fn(**kw))


def _num_ids(spec: Spec, path, s) -> int:
    a = spec.arrays[path]
    return s[a.classes] if a.kind == "labels" and a.classes != "two" else 2


def _with_id(kw, path, value, dtype):
    x = np.array(bic.get(kw, path))
    x = (x > 0.5) if x.dtype.kind == "f" else x  # 0/1 targets drawn as floats
    x = x.astype(np.int64)
    x.reshape(-1)[0] = value
    return bic.put(kw, path, x.astype(dtype))


def _float_leaves(tree):
    return [np.asarray(v, np.float64) for v in bic.float_leaves(tree)]


def _miss_expected(spec: Spec, kw, path, k):
    """The accuracy with the first example counted as a miss: the same call with a valid id
    that differs from that example's prediction."""
    logits = np.asarray(kw["logits"])
    predicted = int(np.argmax(logits[0])) if spec.fname == "accuracy" else int(logits[0] > 0)
    return _call(spec, _with_id(kw, path, (predicted + 1) % k, np.int32))


@pytest.mark.parametrize("spec,path", CANDIDATES,
                         ids=[f"{s.name}{s.tag}-{bic.label(p)}" for s, p in CANDIDATES])
def test_ids_out_of_range_give_the_documented_result_eagerly_and_under_jit(spec, path):
    s = spec.sizes_()
    kw = spec.build(s, np.random.default_rng(0))
    k = _num_ids(spec, path, s)
    is_ids = spec.arrays[path].kind != "real_or_bool"
    bad_values = [(k, np.int32), (k + 7, np.int32), (-1, np.int32), (-k, np.int32)]
    if k <= 255:
        bad_values.append((255, np.uint8))
    # eager: a concrete id out of range raises, naming the function and the argument
    for value, dtype in bad_values:
        bad = _with_id(kw, path, value, dtype)
        with bic.x64_if(bad):
            try:
                _call(spec, bad)
            except ValueError as e:
                assert str(e).startswith(spec.who_ + ":"), str(e)
                assert "ids must lie in" in str(e) and str(path[0]) in str(e), str(e)
                is_ids = True
                continue
            except TypeError:
                if not is_ids:  # integer data where reals are documented: not ids
                    pytest.fail(f"{bic.label(path)} of {spec.name} holds data, not ids: "
                                "add it to DATA_NOT_IDS")
                raise
        if not is_ids:
            pytest.fail(f"{bic.label(path)} of {spec.name} holds data, not ids: add it to "
                        "DATA_NOT_IDS")
        pytest.fail(f"{spec.name}: {bic.label(path)}[0] = {value} ({np.dtype(dtype)}) did not "
                    "raise ValueError")
    if not spec.jittable:
        return
    # under jit: the documented result, for every bad id
    expected = UNDER_JIT.get(spec.name, spec.labels_jit or "nan")
    runs = {}
    for value, dtype in bad_values:
        bad = _with_id(kw, path, value, dtype)
        if dtype not in runs:
            runs[dtype] = jax.jit(lambda v, bad=bad: _call(spec, bic.put(bad, path, v)))
        with bic.x64_if(bad):
            got = runs[dtype](jnp.asarray(bic.get(bad, path)))
        where = f"{spec.name} under jit, {bic.label(path)}[0] = {value} ({np.dtype(dtype)})"
        floats = _float_leaves(got)
        if expected == "nan":
            assert any(np.isnan(v).any() for v in floats), f"{where}: no NaN in {got}"
        elif expected == "all_nan":
            assert floats and all(np.isnan(v).all() for v in floats), \
                f"{where}: not NaN everywhere: {got}"
        elif expected == "drop":
            want = bic.np_confusion(*[np.asarray(bad[p]) for p in ("labels", "predicted")],
                                    kw["num_classes"])
            np.testing.assert_array_equal(np.asarray(got), want, err_msg=where)
        elif expected == "miss":
            want = _miss_expected(spec, kw, path, k)
            np.testing.assert_allclose(np.asarray(got), np.asarray(want), err_msg=where)
        else:  # pragma: no cover - a new kind of documented result
            pytest.fail(f"{spec.name}: unknown documented result {expected!r}")


def test_every_function_with_ids_has_a_documented_result_under_jit():
    """A new function with an id argument must say what a bad id gives under jit: its row's
    labels_jit, or an entry of UNDER_JIT (NaN is the default rule of dlmath._checks)."""
    kinds = {"nan", "all_nan", "drop", "miss"}
    for spec, _ in CANDIDATES:
        assert UNDER_JIT.get(spec.name, spec.labels_jit or "nan") in kinds, spec.name
    assert set(UNDER_JIT) <= {spec.name for spec, _ in CANDIDATES}


# --------------------------------------------------------------------------- reductions

F16 = np.float16


def _directed_heavy(dtype, weight):
    """A directed graph of 4 nodes whose node 3 receives two heavy edges: its degree
    1 + 2 * weight is beyond float16 while every entry of the normalised adjacency is <= 1."""
    a = np.zeros((4, 4))
    a[3, 0] = a[3, 1] = weight
    a[0, 1] = a[1, 2] = a[2, 0] = 1.0
    return a.astype(dtype)


def _heavy_edges(dtype):
    s = np.array([0, 1, 0, 1, 2], np.int32)
    r = np.array([3, 3, 1, 2, 0], np.int32)
    return s, r, np.array([4e4, 4e4, 1.0, 1.0, 1.0], dtype)


REDUCTIONS = {
    # name: (function, positional arguments, keyword arguments)
    "l2_penalty-float16-300": (regularization.l2_penalty,
                               ({"w": np.full((2, 3), 300.0, F16), "b": np.array([-300, 200], F16)},
                                0.01), {}),
    "l2_penalty-float16-small": (regularization.l2_penalty,
                                 ({"w": np.full((3,), 3e-4, F16)}, 1e4), {}),
    "l2_penalty-float32-1e20": (regularization.l2_penalty,
                                ({"w": np.array([1e20, -2e20, 3e19], np.float32),
                                  "b": np.array([5e19], np.float32)}, 1e-10), {}),
    "l2_penalty-float32-1e-25": (regularization.l2_penalty,
                                 ({"w": np.array([1e-25, -2e-25], np.float32)}, 1e30), {}),
    "l2_penalty-bfloat16-mask": (regularization.l2_penalty,
                                 ({"w": np.full((4,), 1e20, bic.np_dtype("bfloat16")),
                                   "b": np.ones(2, bic.np_dtype("bfloat16"))}, 1e-10),
                                 {"mask": {"w": True, "b": False}}),
    "l1_penalty-float16-3e4": (regularization.l1_penalty,
                               ({"w": np.array([3e4, -3e4, 3e4, 2e4], F16)}, 0.1), {}),
    "l1_penalty-float32-1e38": (regularization.l1_penalty,
                                ({"w": np.full((10,), 1e38, np.float32)}, 1e-3), {}),
    "gaussian_kl-float16-mean-200": (generative.gaussian_kl,
                                     (np.full((2, 3), 200.0, F16), np.zeros((2, 3), F16)), {}),
    "gaussian_kl-float16-mean-300": (generative.gaussian_kl,
                                     (np.array([[300.0, 0.0], [-300.0, 10.0]], F16),
                                      np.zeros((2, 2), F16)), {}),
    "gcn_normalize-float16-degree": (graphs.gcn_normalize, (_directed_heavy(F16, 4e4),), {}),
    "gcn_normalize_edges-float16-degree": (graphs.gcn_normalize_edges,
                                           (*_heavy_edges(F16)[:2], 4),
                                           {"edge_weight": _heavy_edges(F16)[2]}),
    "dirichlet_energy-float16-degree": (graphs.dirichlet_energy,
                                        (np.array([[1.0, 2.0], [-1.0, 0.5], [0.0, 1.0],
                                                   [2.0, -1.0]], F16),
                                         _directed_heavy(F16, 4e4)), {}),
    "message_passing-float16-sum": (graphs.message_passing,
                                    (np.array([0, 1, 2], np.int32), np.array([3, 3, 3], np.int32),
                                     np.array([[4e4], [4e4], [-5e4], [0.0]], F16), 4), {}),
    "gcn_layer-float16-sum": (graphs.gcn_layer,
                              ({"w": np.array([[1.0, 1.5, -1.0]], F16),
                                "b": np.zeros(3, F16)},
                               np.array([[1.0, 1.0, 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], F16),
                               np.array([[4e4], [4e4], [-4e4]], F16)), {}),
}


def _to64(tree):
    """Float leaves (float16, bfloat16, float32) as float64 NumPy arrays, for the reference."""
    def to64(x):
        a = np.asarray(x)
        floating = a.dtype.kind == "f" or a.dtype == bic.np_dtype("bfloat16")
        return a.astype(np.float64) if floating else x

    return jax.tree_util.tree_map(to64, tree)


def _float_dtype(tree):
    return jnp.result_type(*[x for x in jax.tree_util.tree_leaves(tree)
                             if np.asarray(x).dtype.kind == "f"
                             or np.asarray(x).dtype == bic.np_dtype("bfloat16")])


@pytest.mark.parametrize("case", sorted(REDUCTIONS))
def test_reductions_in_low_precision_are_the_float64_result_rounded(case):
    """The sum overflows (or underflows) in the input's dtype; the result does not: it must
    be the float64 reference rounded to that dtype, in that dtype (reduced in at least
    float32, never in float16)."""
    fn, args, kwargs = REDUCTIONS[case]
    dtype = _float_dtype((args, kwargs))
    got = fn(*args, **kwargs)
    want = in_float64(lambda *a: fn(*a, **_to64(kwargs)), *_to64(args))
    for g, w in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want),
                    strict=True):
        g = np.asarray(g)
        if g.dtype.kind in "iu":
            np.testing.assert_array_equal(g, np.asarray(w), err_msg=case)
            continue
        assert g.dtype == dtype, f"{case}: result in {g.dtype}, the input was {dtype}"
        w = np.asarray(w, np.float64)
        info = ml_dtypes.finfo(dtype)
        assert np.all(np.abs(w) < float(info.max)), f"{case}: the result overflows {dtype}"
        step = float(info.smallest_subnormal)  # the rounding step of the subnormals
        assert np.all(np.abs(w[w != 0]) > step), f"{case}: the result underflows {dtype}"
        rtol = 2e-2 if dtype == np.dtype(bic.np_dtype("bfloat16")) else 2e-3
        np.testing.assert_allclose(g.astype(np.float64), w, rtol=rtol, atol=step,
                                   err_msg=f"{case}: not the float64 result rounded to {dtype}")


@pytest.mark.parametrize("fn", [regularization.l2_penalty, regularization.l1_penalty])
def test_penalty_gradients_at_extreme_values_are_exact(fn):
    """The scaled sums keep the penalties' gradients: lambda * theta and lambda * sign(theta),
    exactly, also where the squares leave the float32 range."""
    p = {"w": jnp.array([1e20, -2e20, 0.0, 3e-30], jnp.float32)}
    g = jax.grad(lambda q: fn(q, 1e-10))(p)["w"]
    want = 1e-10 * (p["w"] if fn is regularization.l2_penalty else jnp.sign(p["w"]))
    np.testing.assert_array_equal(np.asarray(g), np.asarray(want))


def test_penalties_of_float32_values_are_bitwise_the_plain_sums():
    """Away from the float32 limits the scaled sum is the plain sum, bit for bit (the scale
    is a power of two), so no value of the package changes."""
    rng = np.random.default_rng(0)
    p = {"w": jnp.asarray(rng.standard_normal((5, 7)), jnp.float32),
         "b": jnp.asarray(rng.standard_normal(7) * 1e-3, jnp.float32)}
    plain_l2 = 0.5 * 0.3 * (jnp.sum(jnp.square(p["w"])) + jnp.sum(jnp.square(p["b"])))
    plain_l1 = 0.3 * (jnp.sum(jnp.abs(p["w"])) + jnp.sum(jnp.abs(p["b"])))
    assert np.asarray(regularization.l2_penalty(p, 0.3)) == np.asarray(plain_l2)
    assert np.asarray(regularization.l1_penalty(p, 0.3)) == np.asarray(plain_l1)


def test_penalties_of_non_finite_parameters_stay_non_finite():
    for value, want in ((np.inf, np.inf), (np.nan, np.nan)):
        p = {"w": jnp.array([1.0, value], jnp.float16)}
        for fn in (regularization.l2_penalty, regularization.l1_penalty):
            np.testing.assert_equal(float(fn(p, 0.5)), want)


# --------------------------------------------------------------------------- data split


@pytest.mark.parametrize("fraction", [1e-4, 0.49 / 1797, 1 - 1e-4, 1 - 0.49 / 1797])
def test_digits_refuses_a_test_fraction_that_leaves_a_side_empty(fraction):
    with pytest.raises(ValueError, match=r"^data\.digits: test_fraction .* at least one example "
                                         r"on each side.*1 / 1797"):
        data.digits(jax.random.key(0), test_fraction=fraction)


@pytest.mark.parametrize("fraction, n_test", [(1 / 1797, 1), (1796 / 1797, 1796)])
def test_digits_keeps_one_example_on_the_smaller_side(fraction, n_test):
    x_train, y_train, x_test, y_test = data.digits(jax.random.key(0), test_fraction=fraction)
    assert x_test.shape == (n_test, 64) and y_test.shape == (n_test,)
    assert x_train.shape == (1797 - n_test, 64) and y_train.shape == (1797 - n_test,)
