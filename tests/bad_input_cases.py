"""The table behind ``test_bad_input.py``: how to call every public numeric function of
dlmath with valid arguments of small sizes, and what each argument is.

One row (:class:`Spec`) per function. A row says

* how to **build** valid keyword arguments for sizes ``S`` (legend letters ``N`` examples,
  ``K`` classes, ``D`` features, ``H`` hidden units) from a NumPy random generator;
* which arguments are **arrays** (a path into the keyword arguments, e.g.
  ``("params", 0, "w")``), of which legend and which kind (:data:`ACCEPT`: floats only,
  real numbers, class ids, ...), and which of them are the model's parameters;
* which are **hyper-parameters** (:class:`H`: range, static or traceable);
* what an **empty axis** does (``"raise"``: it is reduced over; ``"pass"``: an empty batch
  passes through, as ``jax.nn`` and optax do);
* what the result's **dtype** must be (the parameters', JAX's promotion, or fixed).

A new chapter's module joins with a file of its own, ``tests/bad_input_rows_<module>.py``,
whose ``specs()`` returns its rows (they join :data:`SPECS`);
``test_every_public_function_has_a_row`` fails until every public function has one.
The expectations come from the package's one rule for bad input (the docstring of
``dlmath._checks``).
"""

from __future__ import annotations

import contextlib
import importlib
import math
import pkgutil
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np

# ------------------------------------------------------------------------------ dtypes

FLOATS = ("float16", "bfloat16", "float32", "float64")
INTS = ("uint8", "uint16", "uint32", "int8", "int16", "int32", "int64")
ALL_DTYPES = INTS + ("bool", "complex64") + FLOATS

#: argument kind -> the dtypes the rule accepts for it
ACCEPT = {
    "float": FLOATS,                          # floating arrays only
    "real": FLOATS + INTS,                    # float or int (targets of a regression)
    "real_or_bool": FLOATS + INTS + ("bool",),  # 0/1 targets as floats, ints or bools
    "labels": INTS,                           # class ids in [0, K)
    "binary_ids": INTS + ("bool",),           # 0/1 ids (int or bool)
    "mask": ("bool",),                        # True = may attend
}


def np_dtype(name: str):
    return np.dtype(ml_dtypes.bfloat16) if name == "bfloat16" else np.dtype(name)


def dtype_name(x) -> str:
    return str(jnp.result_type(x)) if hasattr(x, "dtype") else type(x).__name__


def tol(dtypes) -> float:
    """Relative tolerance against a float64 reference, for the least precise input."""
    names = {str(d) for d in dtypes}
    if "bfloat16" in names:
        return 6e-2
    if "float16" in names:
        return 2e-2
    if names <= {"float64", "int64", "bool"} and names:
        return 1e-6
    return 2e-4


# ------------------------------------------------------------------------------ rows


@dataclass(frozen=True)
class A:
    """An array argument: its legend (one letter per axis) and kind (:data:`ACCEPT`)."""

    legend: tuple = ()
    kind: str = "float"
    param: bool = False        # one of the model's parameters (the mixed-dtype rule)
    classes: str | None = None  # for class ids: the letter of the number of classes
    ranks: tuple | None = None  # ranks valid on their own (elementwise arguments)
    positive: bool = False     # values must stay > 0 (probabilities q)
    lists_ok: bool = False     # a list of numbers is documented as accepted


@dataclass(frozen=True)
class H:
    """A hyper-parameter: a real scalar in ``[low, high]`` (open ends as flagged), or a
    Python int (``count``), a Python bool (``boolean``), one of ``choices`` or a float
    dtype (``dtype``). ``static`` ones cannot be traced (they fix shapes or code paths)."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    count: bool = False
    boolean: bool = False
    choices: tuple | None = None
    dtype: bool = False
    static: bool = False
    allow_none: bool = False
    pred: Callable | None = None  # a further condition on a valid value (e.g. divides E)


@dataclass
class Spec:
    name: str                     # "module.function"
    build: Callable               # (S, rng) -> valid keyword arguments
    arrays: dict                  # path -> A
    hypers: dict = field(default_factory=dict)   # name -> H
    call: Callable | None = None  # (fn, **kwargs) -> result; default fn(**kwargs)
    who: str | None = None        # the name the messages carry; default the function's
    empty: dict = field(default_factory=dict)    # letter -> "raise" | "pass" | "either"
    out_dtype: str | None = None  # "params" | "promote" | a dtype name | None (no check)
    out: Callable = lambda r: r   # result -> the pytree that is compared
    labels_jit: str | None = None  # under jit, an id out of range gives: "nan" | "drop"
    nonfinite: str = "propagate"  # "propagate": a NaN input shows in the output; "any"
    jittable: bool = True         # the whole call can run under jax.jit
    stable: bool = False          # finite (with finite gradients) at inputs of +-1e4
    grad_of: tuple = ()           # array paths whose gradient must have no NaN
    sizes: dict = field(default_factory=dict)
    ref: Callable | None = None   # (kwargs) -> reference result (NumPy, float64)
    peer: Callable | None = None  # (kwargs) -> the peer library's result (empty batches)
    wide_k: int = 300             # K for the uint8-ids test (K >= 256)
    free_letters: tuple = ()      # letters whose sizes may differ between arguments
    propagates: tuple | None = None  # array paths whose NaN must reach the output (all)
    names_ok: tuple = ()          # other names a hyper-parameter's error may carry
    skip: tuple = ()              # kinds of bad input that do not apply (say why in note)
    tag: str = ""                 # tells two rows of one function apart
    who_ok: tuple = ()            # other names a message may start with (a factory's)
    examples: int | None = None   # at most this many examples per kind (slow functions)
    note: str = ""

    @property
    def module(self) -> str:
        return self.name.rsplit(".", 1)[0]

    @property
    def fname(self) -> str:
        return self.name.rsplit(".", 1)[1]

    @property
    def who_(self) -> str:
        return self.who or self.fname

    @property
    def has_params(self) -> bool:
        return any(a.param for a in self.arrays.values())

    def sizes_(self, **over) -> dict:
        s = {"N": 3, "K": 4, "D": 2, "H": 3, "T": 3, "S": 5, "V": 2, "E": 4}
        s.update(self.sizes)
        s.update(over)
        return s

    def fn(self):
        return resolve(self.name)


# ------------------------------------------------------------------------------ modules

#: dlmath's numeric modules (their ``__all__`` must be covered by rows); a module split
#: into a package or sub-modules is found by :func:`public_functions`.
NUMERIC_MODULES = ("losses", "activations", "information", "metrics", "regularization", "backprop",
                   "training", "optim", "layers", "linear_regression", "logistic_regression",
                   "data")
#: modules that are not numeric functions of arrays (not fuzzed here)
NOT_NUMERIC = ("book", "bench", "plot", "widgets", "symbolic", "proofs", "derivation", "testing",
               "exercises", "formulas", "_checks")
#: public names that are not functions of numbers (types, tables)
NOT_FUNCTIONS = {"History", "Optimizer", "SgdState", "RmspropState", "AdamState", "Cache",
                 "ACTIVATIONS"}


def dlmath_modules() -> list[str]:
    """dlmath's modules (sub-packages walked), the non-numeric ones left out unimported."""
    import dlmath

    names = []
    todo = [(dlmath.__path__, "")]
    while todo:
        path, prefix = todo.pop()
        for info in pkgutil.iter_modules(path):
            short = prefix + info.name
            if short.split(".")[0] in NOT_NUMERIC:
                continue
            names.append(short)
            if info.ispkg:
                mod = importlib.import_module("dlmath." + short)
                todo.append((mod.__path__, short + "."))
    return sorted(names)


def public_functions() -> dict[str, Any]:
    """``"module.name" -> object`` for every callable in the ``__all__`` of the numeric
    modules (found dynamically, sub-modules included)."""
    out = {}
    for m in dlmath_modules():
        mod = importlib.import_module("dlmath." + m)
        for n in getattr(mod, "__all__", []):
            obj = getattr(mod, n, None)
            if n in NOT_FUNCTIONS or isinstance(obj, type) or not callable(obj):
                continue
            out[f"{m}.{n}"] = obj
    return out


def resolve(name: str):
    """The function of a row: ``module.function``, or, where the module was split, the
    same function name exported by a sub-module (``layers.dense`` -> ``layers.mlp.dense``)."""
    m, f = name.rsplit(".", 1)
    try:
        mod = importlib.import_module("dlmath." + m)
        if hasattr(mod, f):
            return getattr(mod, f)
    except ImportError:
        pass
    for full, obj in public_functions().items():
        fm, ff = full.rsplit(".", 1)
        if ff == f and (fm.startswith(m + ".") or fm.split(".")[0] == m.split(".")[0]):
            return obj
    raise LookupError(f"{name} is not in dlmath any more: update its row in SPECS")


# ------------------------------------------------------------------------------ trees


def get(tree, path):
    for k in path:
        tree = tree[k]
    return tree


def put(tree, path, value):
    """A copy of ``tree`` with the leaf at ``path`` replaced (dicts, lists, tuples)."""
    if not path:
        return value
    k, rest = path[0], path[1:]
    if isinstance(tree, dict):
        new = dict(tree)
        new[k] = put(tree[k], rest, value)
        return new
    if isinstance(tree, (list, tuple)):
        items = list(tree)
        items[k] = put(tree[k], rest, value)
        return type(tree)(items) if not hasattr(tree, "_fields") else type(tree)(*items)
    raise TypeError(f"cannot index {type(tree).__name__} with {k!r}")


def label(path) -> str:
    s = str(path[0])
    for k in path[1:]:
        s += f"[{k!r}]"
    return s


def describe(kwargs, spec: Spec) -> str:
    """A short, reproducible rendering of a call: arrays by dtype and shape."""
    parts = []
    for k, v in kwargs.items():
        parts.append(f"{k}={_render(v)}")
    return f"{spec.name}({', '.join(parts)})"


def _render(v) -> str:
    if isinstance(v, jax.Array) and jnp.issubdtype(v.dtype, jax.dtypes.prng_key):
        return "key"
    if isinstance(v, (np.ndarray, jax.Array)):
        a = np.asarray(v)
        shape = "(" + ", ".join(map(str, a.shape)) + ("," if a.ndim == 1 else "") + ")"
        body = ""
        if a.size <= 6 and a.dtype != object:
            body = " " + np.array2string(a.astype(np.float64) if a.dtype == ml_dtypes.bfloat16
                                          else a, separator=",").replace("\n", "")
        return f"{a.dtype}{shape}{body}"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k!r}: {_render(x)}" for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)) and not hasattr(v, "_fields"):
        inner = ", ".join(_render(x) for x in v)
        return f"[{inner}]" if isinstance(v, list) else f"({inner})"
    if hasattr(v, "_fields"):
        return type(v).__name__ + "(...)"
    if callable(v):
        return getattr(v, "__name__", type(v).__name__)
    return repr(v)


def leaves(tree):
    return jax.tree_util.tree_leaves(tree, is_leaf=lambda x: x is None)


def float_leaves(tree):
    out = []
    for x in jax.tree_util.tree_leaves(tree):
        if isinstance(x, float):
            out.append(np.asarray(x, np.float64))
        elif hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jnp.inexact):
            out.append(x)
    return out


def is_64(x) -> bool:
    try:
        d = np.dtype(x.dtype)
    except (AttributeError, TypeError):
        return False
    return d.itemsize == 8 and d.kind in "fiu"


@contextlib.contextmanager
def x64_if(kwargs):
    """Float64/int64 inputs are only what they say with ``jax_enable_x64``."""
    need = any(is_64(x) for x in jax.tree_util.tree_leaves(kwargs))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if need:
            with jax.enable_x64(True):
                yield
        else:
            yield


def cast(x, dt: str, kind: str = "float"):
    """``x`` as NumPy dtype ``dt``; floats become small integers first for int dtypes
    (so the cast is exact and the reference uses the same values; 0/1 targets stay 0/1)."""
    a = np.asarray(x)
    d = np_dtype(dt)
    if d.kind in "iu" and a.dtype.kind == "f" and kind == "real_or_bool":
        a = np.clip(np.round(np.asarray(a, np.float64)), 0, 1)
    elif d.kind in "iu" and a.dtype.kind == "f":
        lo = 0 if d.kind == "u" else -3
        a = np.clip(np.round(np.asarray(a, np.float64) * 2), lo, 3)
    if d == np.bool_ and a.dtype.kind == "f":
        a = a > 0.5
    if d.kind == "c":
        return a.astype(d) + 0.5j
    return a.astype(d)


def to_ref(x, kind: str):
    """The float64 / int64 twin of an argument, for the reference call."""
    a = np.asarray(x)
    if kind in ("labels", "binary_ids"):
        return a.astype(np.int64)
    return a.astype(np.float64)


# ------------------------------------------------------------------------------ errors

INTERNAL = (ZeroDivisionError, OverflowError, AttributeError, IndexError, KeyError,
            AssertionError, NotImplementedError, RuntimeError, FloatingPointError)


def word(name: str) -> str:
    return rf"(?<![\w]){re.escape(name)}(?![\w])"


def error_problem(e: BaseException, who: str, names, cls=(ValueError, TypeError),
                  extra: Callable | None = None, who_ok=()) -> str | None:
    """``None`` when ``e`` is a clear error of the rule; else what is wrong with it."""
    msg = str(e)
    if type(e) not in (cls if isinstance(cls, tuple) else (cls,)):
        want = " or ".join(c.__name__ for c in (cls if isinstance(cls, tuple) else (cls,)))
        return f"raised {type(e).__module__}.{type(e).__name__} (wanted exactly {want})"
    head = msg.split(":", 1)[0] if ":" in msg else msg[:60]
    if not any(re.search(word(w), head) for w in (who, *who_ok)):
        return f"the message does not start with the function's name {who!r}"
    if names and not any(re.search(word(str(n)), msg) for n in names):
        return f"the message names none of {sorted(set(map(str, names)))}"
    if extra is not None:
        return extra(msg)
    return None


# ------------------------------------------------------------------------------ builders


def normal(rng, shape, scale=1.0):
    return (scale * rng.standard_normal(shape)).astype(np.float32)


def ids(rng, n, k):
    return rng.integers(0, max(k, 1), size=n).astype(np.int32)


def _top(x, k):
    """Ids whose first entry is the largest valid one, K - 1."""
    x = np.array(x)
    if x.size:
        x[0] = max(k - 1, 0)
    return x


def probs(rng, shape, zeros=False):
    p = rng.random(shape) + 0.05
    if zeros and shape[-1] > 1:
        p[..., 0] = 0.0
    s = p.sum(axis=-1, keepdims=True)
    return (p / np.where(s == 0, 1, s)).astype(np.float32)


def _mlp_params(rng, s):
    return [{"w": normal(rng, (s["D"], s["H"]), 0.7), "b": normal(rng, (s["H"],), 0.1)},
            {"w": normal(rng, (s["H"], s["K"]), 0.7), "b": normal(rng, (s["K"],), 0.1)}]


MLP = {("params", 0, "w"): A(("D", "H"), param=True), ("params", 0, "b"): A(("H",), param=True),
       ("params", 1, "w"): A(("H", "K"), param=True), ("params", 1, "b"): A(("K",), param=True)}

LR = H(low=0.0, low_open=True)              # a learning rate: finite, > 0
UNIT = H(low=0.0, high=1.0, high_open=True)  # a decay or momentum: [0, 1)
NONNEG = H(low=0.0)
STEPS = H(count=True, low=0, static=True)
STATE_DTYPE = H(dtype=True, static=True, allow_none=True)


def _key():
    return jax.random.key(0)


# ---- NumPy references (float64), for the functions where one is short

def _np_log_softmax(z, axis=-1):
    z = np.asarray(z, np.float64)
    m = np.max(z, axis=axis, keepdims=True)
    return z - m - np.log(np.sum(np.exp(z - m), axis=axis, keepdims=True))


def _np_confusion(labels, predicted, num_classes):
    c = np.zeros((num_classes, num_classes), np.int64)
    for t, p in zip(np.asarray(labels).astype(np.int64), np.asarray(predicted).astype(np.int64),
                    strict=True):
        if 0 <= t < num_classes and 0 <= p < num_classes:
            c[t, p] += 1
    return c


# ---- wrappers that turn an (init, update) pair or a training loop into one call

def _opt_call(factory_hypers):
    def call(fn, params, grads, **hypers):
        opt = fn(**hypers)
        state = opt.init(params)
        u, state = opt.update(grads, state, params)
        u, state = opt.update(grads, state, params)
        return u, state
    return call


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


def _backward_build(s, rng):
    from dlmath import layers
    params = _mlp_params(rng, s)
    x = normal(rng, (s["N"], s["D"]))
    return {"params": params, "cache": layers.forward(params, x),
            "grad_output": normal(rng, (s["N"], s["K"]))}


def _layers_fit_call(fn, **kw):
    p, h = fn(_key(), **kw)
    return p, h["loss"]


def _data_linear_call(fn, **kw):
    return fn(_key(), **kw)


def _digits_call(fn, **kw):
    x_tr, y_tr, x_te, y_te = fn(_key(), **kw)
    return x_tr.shape, x_te.shape


def _opt_specs():
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


def _qkv(s, rng, value=True):
    kw = {"query": normal(rng, (s["N"], s["T"], s["D"])),
          "key": normal(rng, (s["N"], s["S"], s["D"]))}
    if value:
        kw["value"] = normal(rng, (s["N"], s["S"], s["V"]))
    return kw


def _np_attention(kw):
    q, k = np.asarray(kw["query"], np.float64), np.asarray(kw["key"], np.float64)
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    allowed = np.ones(scores.shape, bool)
    if kw.get("mask") is not None:
        allowed = allowed & np.broadcast_to(np.asarray(kw["mask"]).astype(bool), scores.shape)
    if kw.get("is_causal"):
        t, s_ = scores.shape[-2:]
        allowed = allowed & np.tril(np.ones((t, s_), bool))
    scores = np.where(allowed, scores, -np.inf)
    m = np.max(np.where(allowed, scores, 0.0), -1, keepdims=True)
    e = np.where(allowed, np.exp(np.where(allowed, scores, 0.0) - m), 0.0)
    total = e.sum(-1, keepdims=True)
    p = e / np.where(total > 0, total, 1.0)  # a fully masked row is 0 (documented)
    if "value" not in kw:
        return p
    return p @ np.asarray(kw["value"], np.float64)


QKV = {("query",): A(("N", "T", "D")), ("key",): A(("N", "S", "D")),
       ("value",): A(("N", "S", "V"))}


def _mha_params(s, rng):
    e = s["E"]
    return {"in_proj_weight": normal(rng, (3 * e, e), 0.5), "in_proj_bias": normal(rng, (3 * e,),
                                                                                     0.1),
            "out_proj_weight": normal(rng, (e, e), 0.5), "out_proj_bias": normal(rng, (e,), 0.1)}


_BLOCK = {"self_attn_in_proj_weight": ("E", "E"), "self_attn_in_proj_bias": ("E",),
          "self_attn_out_proj_weight": ("E", "E"), "self_attn_out_proj_bias": ("E",),
          "linear1_weight": ("H", "E"), "linear1_bias": ("H",), "linear2_weight": ("E", "H"),
          "linear2_bias": ("E",), "norm1_weight": ("E",), "norm1_bias": ("E",),
          "norm2_weight": ("E",), "norm2_bias": ("E",)}


def _block_params(s, rng):
    e, f = s["E"], s["H"]
    size = {"E": e, "H": f}
    out = {}
    for name, legend in _BLOCK.items():
        shape = tuple(size[x] for x in legend)
        if name == "self_attn_in_proj_weight":
            shape = (3 * e, e)
        elif name == "self_attn_in_proj_bias":
            shape = (3 * e,)
        out[name] = normal(rng, shape, 0.5) if "norm" not in name else \
            (np.ones(shape, np.float32) if name.endswith("weight") else np.zeros(shape, np.float32))
    return out


def _block_spec(name, **kw):
    """A row of a function of a transformer block's parameters and input x."""
    return Spec(name,
                lambda s, rng: {"params": _block_params(s, rng),
                                "x": normal(rng, (s["N"], s["T"], s["E"])), "num_heads": 2,
                                "is_causal": False, "eps": 1e-5},
                {**{("params", k): A(v, param=True) for k, v in _BLOCK.items()},
                 ("x",): A(("N", "T", "E"))},
                {"num_heads": H(count=True, low=1, static=True, pred=lambda v: 4 % int(v) == 0),
                 "is_causal": H(boolean=True, static=True), "eps": H(low=0.0, low_open=True)},
                empty={"N": "pass", "T": "pass"}, out_dtype="params", examples=1, **kw)


def _attention_specs():
    qk = {k: v for k, v in QKV.items() if k != ("value",)}
    mha = {("params", "in_proj_weight"): A(("E", "E"), param=True),
           ("params", "in_proj_bias"): A(("E",), param=True),
           ("params", "out_proj_weight"): A(("E", "E"), param=True),
           ("params", "out_proj_bias"): A(("E",), param=True),
           ("query",): A(("N", "T", "E")), ("key",): A(("N", "S", "E")),
           ("value",): A(("N", "S", "E"))}
    causal = {"is_causal": H(boolean=True, static=True)}
    return [
        Spec("attention.attention_weights",
             lambda s, rng: {**_qkv(s, rng, False), "is_causal": False}, qk, causal,
             empty={"N": "pass", "T": "pass", "D": "raise"}, out_dtype="promote",
             stable=True, grad_of=(("query",),), ref=_np_attention, examples=1),
        Spec("attention.scaled_dot_product_attention",
             lambda s, rng: {**_qkv(s, rng), "is_causal": False}, QKV, causal,
             empty={"N": "pass", "T": "pass", "V": "pass", "D": "raise"}, out_dtype="promote",
             stable=True, grad_of=(("query",),), ref=_np_attention, examples=1),
        Spec("attention.scaled_dot_product_attention",
             lambda s, rng: {**_qkv(s, rng), "is_causal": False,
                             "mask": rng.random((s["N"], s["T"], s["S"])) > 0.3},
             {**QKV, ("mask",): A((), kind="mask", ranks=(0, 3))}, causal,
             empty={"N": "either", "T": "either"}, out_dtype="promote", tag="[mask]",
             ref=_np_attention),
        Spec("attention.flash_attention",
             lambda s, rng: {**_qkv(s, rng), "is_causal": False, "block_size": 2}, QKV,
             {**causal, "block_size": H(count=True, low=1, static=True)},
             empty={"N": "pass", "T": "pass", "V": "pass", "D": "raise"}, out_dtype="promote",
             stable=True, grad_of=(("query",),), ref=_np_attention, examples=1),
        Spec("attention.multi_head_attention",
             lambda s, rng: {"params": _mha_params(s, rng),
                             "query": normal(rng, (s["N"], s["T"], s["E"])),
                             "key": normal(rng, (s["N"], s["S"], s["E"])),
                             "value": normal(rng, (s["N"], s["S"], s["E"])), "num_heads": 2},
             mha, {"num_heads": H(count=True, low=1, static=True,
                                  pred=lambda v: 4 % int(v) == 0)},
             empty={"N": "pass", "T": "pass"}, out_dtype="params", examples=1),
        Spec("attention.multi_head_attention_weights",
             lambda s, rng: {"params": _mha_params(s, rng),
                             "query": normal(rng, (s["N"], s["T"], s["E"])),
                             "key": normal(rng, (s["N"], s["S"], s["E"])), "num_heads": 2},
             {k: v for k, v in mha.items() if k != ("value",)},
             {"num_heads": H(count=True, low=1, static=True, pred=lambda v: 4 % int(v) == 0)},
             empty={"N": "pass", "T": "pass"}, out_dtype="params", examples=1,
             propagates=(("query",), ("key",)),
             note="the value's projection and the output projection are not used"),
        Spec("attention.to_flax",
             lambda s, rng: {"params": _mha_params(s, rng), "num_heads": 2},
             {k: v for k, v in mha.items() if k[0] == "params"},
             {"num_heads": H(count=True, low=1, static=True, pred=lambda v: 4 % int(v) == 0)},
             empty={"E": "either"}, out_dtype="params", examples=1,
             note="E = 0 maps to empty kernels, as flax's module of that size would hold"),
        _block_spec("transformer.transformer_block"),
        _block_spec("transformer.block_attention_weights",
                    propagates=(("x",), ("params", "norm1_weight"), ("params", "norm1_bias")),
                    note="only the first layer norm and the query/key projections are used"),
        Spec("transformer.init_transformer_block",
             lambda s, rng: {"key": _key(), "embed_dim": 4, "hidden_dim": 3,
                             "dtype": jnp.float32}, {},
             {"embed_dim": H(count=True, low=1, static=True),
              "hidden_dim": H(count=True, low=1, static=True),
              "dtype": H(dtype=True, static=True, allow_none=True)}),
        Spec("attention.init_multi_head_attention",
             lambda s, rng: {"key": _key(), "embed_dim": 4, "dtype": jnp.float32}, {},
             {"embed_dim": H(count=True, low=1, static=True),
              "dtype": H(dtype=True, static=True, allow_none=True)}),
        Spec("transformer.sinusoidal_positions",
             lambda s, rng: {"length": 3, "dim": 4, "base": 10000.0}, {},
             {"length": H(count=True, low=0, static=True),
              "dim": H(count=True, low=2, static=True, pred=lambda v: int(v) % 2 == 0),
              "base": H(low=1.0, low_open=True)}, out_dtype="float32"),
    ]


def _build_mse(s, rng):
    return {"predictions": normal(rng, (s["N"], s["K"])), "targets": normal(rng, (s["N"], s["K"]))}


def _elementwise(name, **kw):
    return Spec(f"activations.{name}", lambda s, rng: {"x": normal(rng, (s["N"], s["K"]), 2.0)},
                {("x",): A(("N", "K"), ranks=(0, 1, 2, 3))}, empty={"N": "pass", "K": "pass"},
                out_dtype="promote", stable=True, grad_of=(("x",),),
                peer=lambda kw, name=name: getattr(jax.nn, name)(jnp.asarray(kw["x"])), **kw)


def _reg_build(s, rng):
    X = normal(rng, (s["N"], s["D"]))
    return {"w": normal(rng, (s["D"],)), "X": X, "y": normal(rng, (s["N"],))}


REG = {("w",): A(("D",), param=True), ("X",): A(("N", "D")), ("y",): A(("N",), kind="real")}


def _logit_build(s, rng, y=True):
    kw = {"params": (normal(rng, (s["D"],)), np.float32(rng.standard_normal() * 0.1)),
          "X": normal(rng, (s["N"], s["D"]))}
    if y:
        kw["y"] = (rng.random(s["N"]) > 0.5).astype(np.float32)
    return kw


LOGIT = {("params", 0): A(("D",), param=True), ("params", 1): A((), param=True),
         ("X",): A(("N", "D")), ("y",): A(("N",), kind="real_or_bool")}


def _softreg_build(s, rng, labels=True):
    kw = {"params": (normal(rng, (s["D"], s["K"])), normal(rng, (s["K"],), 0.1)),
          "X": normal(rng, (s["N"], s["D"]))}
    if labels:
        kw["labels"] = ids(rng, s["N"], s["K"])
    return kw


SOFTREG = {("params", 0): A(("D", "K"), param=True), ("params", 1): A(("K",), param=True),
           ("X",): A(("N", "D")), ("labels",): A(("N",), kind="labels", classes="K")}


def _specs() -> list[Spec]:
    rows = [
        # ------------------------------------------------------------------ losses
        Spec("losses.mse", _build_mse,
             {("predictions",): A(("N", "K")), ("targets",): A(("N", "K"), kind="real")},
             empty={"N": "raise", "K": "raise"}, out_dtype="promote", stable=True,
             grad_of=(("predictions",),),
             ref=lambda kw: np.mean((np.asarray(kw["predictions"], np.float64)
                                     - np.asarray(kw["targets"], np.float64)) ** 2)),
        # the binary cross-entropy under its two names (the second is optax's)
        *(Spec(f"losses.{name}",
               lambda s, rng: {"logits": normal(rng, (s["N"],), 2.0),
                               "targets": rng.random(s["N"]).astype(np.float32)},
               {("logits",): A(("N",)), ("targets",): A(("N",), kind="real_or_bool")},
               empty={"N": "pass"}, out_dtype="promote", stable=True, grad_of=(("logits",),),
               peer=lambda kw: _optax().sigmoid_binary_cross_entropy(
                   jnp.asarray(kw["logits"]), jnp.asarray(kw["targets"])))
          for name in ("binary_cross_entropy_with_logits", "sigmoid_binary_cross_entropy")),
        Spec("losses.softmax_cross_entropy",
             lambda s, rng: {"logits": normal(rng, (s["N"], s["K"]), 2.0),
                             "labels": probs(rng, (s["N"], s["K"]))},
             {("logits",): A(("N", "K")), ("labels",): A(("N", "K"))},
             empty={"N": "pass", "K": "raise"}, out_dtype="promote", stable=True,
             grad_of=(("logits",),),
             ref=lambda kw: -np.sum(np.asarray(kw["labels"], np.float64)
                                    * _np_log_softmax(kw["logits"]), axis=-1),
             peer=lambda kw: _optax().softmax_cross_entropy(jnp.asarray(kw["logits"]),
                                                            jnp.asarray(kw["labels"]))),
        Spec("losses.softmax_cross_entropy_with_integer_labels",
             lambda s, rng: {"logits": normal(rng, (s["N"], s["K"]), 2.0),
                             "labels": ids(rng, s["N"], s["K"])},
             {("logits",): A(("N", "K")), ("labels",): A(("N",), kind="labels", classes="K")},
             empty={"N": "pass", "K": "raise"}, out_dtype="promote", stable=True,
             grad_of=(("logits",),), labels_jit="nan",
             ref=lambda kw: -np.take_along_axis(
                 _np_log_softmax(kw["logits"]),
                 np.asarray(kw["labels"]).astype(np.int64)[:, None], axis=-1)[:, 0],
             peer=lambda kw: _optax().softmax_cross_entropy_with_integer_labels(
                 jnp.asarray(kw["logits"]), jnp.asarray(kw["labels"]))),
        # ------------------------------------------------------------------ activations
        Spec("activations.softmax",
             lambda s, rng: {"x": normal(rng, (s["N"], s["K"]), 2.0), "axis": -1},
             {("x",): A(("N", "K"), ranks=(1, 2, 3))},
             {"axis": H(count=True, low=-2, high=1, static=True)},
             empty={"N": "pass", "K": "raise"}, out_dtype="promote", stable=True,
             grad_of=(("x",),), peer=lambda kw: jax.nn.softmax(jnp.asarray(kw["x"]),
                                                                axis=kw["axis"])),
        Spec("activations.log_softmax",
             lambda s, rng: {"x": normal(rng, (s["N"], s["K"]), 2.0), "axis": -1},
             {("x",): A(("N", "K"), ranks=(1, 2, 3))},
             {"axis": H(count=True, low=-2, high=1, static=True)},
             empty={"N": "pass", "K": "raise"}, out_dtype="promote", stable=True,
             grad_of=(("x",),), peer=lambda kw: jax.nn.log_softmax(jnp.asarray(kw["x"]),
                                                                    axis=kw["axis"])),
        _elementwise("sigmoid"),
        _elementwise("tanh"),
        _elementwise("relu"),
        _elementwise("softplus"),
        _elementwise("silu"),
        Spec("activations.leaky_relu",
             lambda s, rng: {"x": normal(rng, (s["N"], s["K"]), 2.0), "negative_slope": 0.01},
             {("x",): A(("N", "K"), ranks=(0, 1, 2, 3))}, {"negative_slope": H()},
             empty={"N": "pass", "K": "pass"}, out_dtype="promote", stable=True,
             grad_of=(("x",),),
             peer=lambda kw: jax.nn.leaky_relu(jnp.asarray(kw["x"]), kw["negative_slope"])),
        Spec("activations.gelu",
             lambda s, rng: {"x": normal(rng, (s["N"], s["K"]), 2.0), "approximate": True},
             {("x",): A(("N", "K"), ranks=(0, 1, 2, 3))},
             {"approximate": H(boolean=True, static=True)},
             empty={"N": "pass", "K": "pass"}, out_dtype="promote", stable=True,
             grad_of=(("x",),),
             peer=lambda kw: jax.nn.gelu(jnp.asarray(kw["x"]), approximate=kw["approximate"])),
        # ------------------------------------------------------------------ information
        Spec("information.entropy", lambda s, rng: {"p": probs(rng, (s["N"], s["K"]),
                                                               zeros=rng.random() < 0.5)},
             {("p",): A(("N", "K"), ranks=(1, 2, 3))}, empty={"N": "pass", "K": "raise"},
             out_dtype="promote", grad_of=(("p",),),
             ref=lambda kw: -np.sum(_xlogx(kw["p"]), axis=-1)),
        Spec("information.kl_divergence",
             lambda s, rng: {"log_predictions": np.log(probs(rng, (s["N"], s["K"]))),
                             "targets": probs(rng, (s["N"], s["K"]), zeros=rng.random() < 0.5)},
             {("log_predictions",): A(("N", "K")), ("targets",): A(("N", "K"))},
             empty={"N": "pass", "K": "raise"}, out_dtype="promote",
             grad_of=(("log_predictions",), ("targets",)), propagates=(("targets",),),
             ref=lambda kw: np.sum(_xlogx(kw["targets"])
                                   - _xlogy(kw["targets"], np.exp(kw["log_predictions"])),
                                   axis=-1),
             peer=lambda kw: _optax().kl_divergence(jnp.asarray(kw["log_predictions"]),
                                                    jnp.asarray(kw["targets"]))),
        Spec("information.cross_entropy",
             lambda s, rng: {"p": probs(rng, (s["N"], s["K"]), zeros=rng.random() < 0.5),
                             "q": probs(rng, (s["N"], s["K"]))},
             {("p",): A(("N", "K")), ("q",): A(("N", "K"), positive=True)},
             empty={"N": "pass", "K": "raise"}, out_dtype="promote", grad_of=(("p",), ("q",)),
             ref=lambda kw: -np.sum(_xlogy(kw["p"], kw["q"]), axis=-1)),
        # ------------------------------------------------------------------ metrics
        Spec("metrics.accuracy",
             lambda s, rng: {"logits": normal(rng, (s["N"], s["K"])),
                             "labels": ids(rng, s["N"], s["K"])},
             {("logits",): A(("N", "K")), ("labels",): A(("N",), kind="labels", classes="K")},
             empty={"N": "raise", "K": "raise"}, out_dtype="float32", nonfinite="any",
             ref=lambda kw: np.mean(np.argmax(np.asarray(kw["logits"], np.float64), -1)
                                    == np.asarray(kw["labels"]).astype(np.int64))),
        Spec("metrics.binary_accuracy",
             lambda s, rng: {"logits": normal(rng, (s["N"],)),
                             "targets": (rng.random(s["N"]) > 0.5).astype(np.int32)},
             {("logits",): A(("N",)), ("targets",): A(("N",), kind="binary_ids",
                                                       classes="two")},
             empty={"N": "raise"}, out_dtype="float32", nonfinite="any",
             ref=lambda kw: np.mean((np.asarray(kw["logits"], np.float64) > 0)
                                    == np.asarray(kw["targets"]).astype(np.int64))),
        Spec("metrics.confusion_matrix",
             lambda s, rng: {"labels": _top(ids(rng, s["N"], s["K"]), s["K"]),
                             "predicted": _top(ids(rng, s["N"], s["K"]), s["K"]),
                             "num_classes": s["K"]},
             {("labels",): A(("N",), kind="labels", classes="K"),
              ("predicted",): A(("N",), kind="labels", classes="K")},
             {"num_classes": H(count=True, low=4, static=True)},
             empty={"N": "pass"}, out_dtype="int32", labels_jit="drop",
             names_ok=("labels", "predicted", "class ids"),
             ref=lambda kw: _np_confusion(kw["labels"], kw["predicted"], kw["num_classes"])),
        # ------------------------------------------------------------------ regularization
        Spec("regularization.l2_penalty",
             lambda s, rng: {"params": {"w": normal(rng, (s["D"], s["K"])),
                                        "b": normal(rng, (s["K"],))}, "l2": 0.1},
             {("params", "w"): A(("D", "K"), param=True, ranks=(0, 1, 2, 3)),
              ("params", "b"): A(("K",), param=True, ranks=(0, 1, 2, 3))},
             {"l2": NONNEG}, empty={"D": "pass", "K": "pass"}, out_dtype="params",
             free_letters=("D", "K"),
             ref=lambda kw: 0.05 * sum(np.sum(np.asarray(v, np.float64) ** 2)
                                       for v in kw["params"].values())
             if kw["l2"] == 0.1 else None),
        # ------------------------------------------------------------------ training
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
        # ------------------------------------------------------------------ linear regression
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
             lambda s, rng: {"key": _key(), **{("w0" if k == "w" else k): v
                                               for k, v in _reg_build(s, rng).items()},
                             "learning_rate": 0.05, "batch_size": 2, "steps": 2},
             {(("w0",) if k == ("w",) else k): v for k, v in REG.items()},
             {"learning_rate": LR, "steps": STEPS,
              "batch_size": H(count=True, low=1, high=3, static=True)},
             empty={"N": "raise"}, out_dtype="params", examples=1,
             note="recompiles on every call (1.5 s): one example per kind"),
        # ------------------------------------------------------------------ logistic regression
        Spec("logistic_regression.logistic_predict", lambda s, rng: _logit_build(s, rng, False),
             {k: v for k, v in LOGIT.items() if k != ("y",)}, empty={"N": "pass"},
             out_dtype="params"),
        Spec("logistic_regression.logistic_loss", lambda s, rng: {**_logit_build(s, rng),
                                                                  "l2": 0.1},
             LOGIT, {"l2": NONNEG}, empty={"N": "raise"}, out_dtype="params"),
        Spec("logistic_regression.logistic_gradient",
             lambda s, rng: {**_logit_build(s, rng), "l2": 0.1},
             LOGIT, {"l2": NONNEG}, empty={"N": "raise"}, out_dtype="params"),
        Spec("logistic_regression.train_logistic",
             lambda s, rng: {**_logit_build(s, rng), "learning_rate": 0.5, "steps": 2,
                             "l2": 0.1},
             LOGIT, {"learning_rate": LR, "steps": STEPS, "l2": NONNEG}, empty={"N": "raise"},
             out_dtype="params"),
        Spec("logistic_regression.softmax_predict",
             lambda s, rng: _softreg_build(s, rng, False),
             {k: v for k, v in SOFTREG.items() if k != ("labels",)},
             empty={"N": "pass", "K": "raise"}, out_dtype="params"),
        Spec("logistic_regression.softmax_loss",
             lambda s, rng: {**_softreg_build(s, rng), "l2": 0.1}, SOFTREG, {"l2": NONNEG},
             empty={"N": "raise", "K": "raise"}, out_dtype="params", labels_jit="nan"),
        Spec("logistic_regression.softmax_gradient",
             lambda s, rng: {**_softreg_build(s, rng), "l2": 0.1}, SOFTREG, {"l2": NONNEG},
             empty={"N": "raise", "K": "raise"}, out_dtype="params"),
        Spec("logistic_regression.train_softmax",
             lambda s, rng: {**_softreg_build(s, rng), "learning_rate": 0.5, "steps": 2,
                             "l2": 0.1},
             SOFTREG, {"learning_rate": LR, "steps": STEPS, "l2": NONNEG},
             empty={"N": "raise", "K": "raise"}, out_dtype="params", labels_jit="nan"),
        # ------------------------------------------------------------------ layers
        Spec("layers.dense",
             lambda s, rng: {"params": _mlp_params(rng, s)[0], "x": normal(rng, (s["N"], s["D"]))},
             {("params", "w"): A(("D", "H"), param=True), ("params", "b"): A(("H",), param=True),
              ("x",): A(("N", "D"))},
             empty={"N": "pass", "H": "pass"}, out_dtype="params"),
        Spec("layers.init_variance",
             lambda s, rng: {"scheme": "he", "n_in": 3, "n_out": 2}, {},
             {"scheme": H(choices=("lecun", "he", "xavier"), static=True),
              "n_in": H(count=True, low=1, static=True),
              "n_out": H(count=True, low=1, static=True)}, jittable=False),
        Spec("layers.init_mlp",
             lambda s, rng: {"key": _key(), "sizes": (s["D"], s["H"], s["K"]), "scheme": "he",
                             "distribution": "normal", "gain": 1.0, "dtype": jnp.float32},
             {}, {"scheme": H(choices=("lecun", "he", "xavier"), static=True),
                  "distribution": H(choices=("normal", "uniform"), static=True),
                  "gain": NONNEG, "dtype": H(dtype=True, static=True, allow_none=True)}),
        Spec("layers.forward",
             lambda s, rng: {"params": _mlp_params(rng, s), "x": normal(rng, (s["N"], s["D"]))},
             {**MLP, ("x",): A(("N", "D"))},
             {"activation": H(choices=("relu", "tanh", "sigmoid", "identity"), static=True)},
             empty={"N": "pass"}, out_dtype="params", names_ok=("layer",)),
        Spec("layers.mlp",
             lambda s, rng: {"params": _mlp_params(rng, s), "x": normal(rng, (s["N"], s["D"]))},
             {**MLP, ("x",): A(("N", "D"))},
             {"output_activation": H(choices=("relu", "tanh", "sigmoid", "identity"),
                                     static=True)},
             empty={"N": "pass"}, out_dtype="params", names_ok=("layer",)),
        Spec("layers.backward", _backward_build,
             {**MLP, ("grad_output",): A(("N", "K"))}, empty={"N": "pass"},
             names_ok=("layer",),
             note="the cache is built in float32 from float32 x; result dtypes not checked"),
        Spec("backprop.mse_and_grad", _build_mse,
             {("predictions",): A(("N", "K")), ("targets",): A(("N", "K"), kind="real")},
             empty={"N": "raise", "K": "raise"}, out_dtype="promote"),
        Spec("backprop.cross_entropy_and_grad",
             lambda s, rng: {"logits": normal(rng, (s["N"], s["K"]), 2.0),
                             "labels": ids(rng, s["N"], s["K"])},
             {("logits",): A(("N", "K")), ("labels",): A(("N",), kind="labels", classes="K")},
             empty={"N": "raise", "K": "raise"}, out_dtype="promote", labels_jit="nan",
             stable=True),
        Spec("backprop.loss_and_grad",
             lambda s, rng: {"params": _mlp_params(rng, s), "x": normal(rng, (s["N"], s["D"])),
                             "targets": ids(rng, s["N"], s["K"]), "loss": "cross_entropy"},
             {**MLP, ("x",): A(("N", "D")),
              ("targets",): A(("N",), kind="labels", classes="K")},
             empty={"N": "raise"}, out_dtype="params", labels_jit="nan", names_ok=("layer",)),
        Spec("layers.log_sigmoid_jacobian_bound",
             lambda s, rng: {"params": _mlp_params(rng, s)}, dict(MLP),
             out_dtype="params", propagates=(("params", 0, "w"), ("params", 1, "w")),
             names_ok=("layer",)),
        # ------------------------------------------------------------------ data
        Spec("data.linear",
             lambda s, rng: {"n": s["N"], "w": normal(rng, (s["D"],)), "b": 0.5, "noise": 0.1,
                             "low": -3.0, "high": 3.0},
             {("w",): A(("D",), ranks=(0, 1), lists_ok=True)},
             {"n": H(count=True, low=1, static=True), "b": H(), "noise": NONNEG,
              "low": H(high=3.0, high_open=True), "high": H(low=-3.0, low_open=True)},
             call=_data_linear_call, out_dtype="float32", who="linear"),
        Spec("data.digits", lambda s, rng: {"test_fraction": 0.25}, {},
             {"test_fraction": H(low=0.0, high=1.0, low_open=True, high_open=True,
                                 static=True)},
             call=_digits_call, jittable=False, who="digits"),
    ]
    rows += _opt_specs()
    rows += _attention_specs()
    rows.append(Spec("layers.activation_named",
                     lambda s, rng: {"who": "caller", "name": "activation", "value": "relu"}, {},
                     {"value": H(choices=("relu", "tanh", "sigmoid", "identity"),
                                 static=True)},
                     who="caller", jittable=False, names_ok=("activation",),
                     note="the helper raises on behalf of its caller (who='caller')"))
    rows += [
        Spec("optim.apply_updates",
             lambda s, rng: {"params": {"w": normal(rng, (s["D"], s["K"])),
                                        "b": normal(rng, (s["K"],))},
                             "updates": {"w": normal(rng, (s["D"], s["K"])),
                                         "b": normal(rng, (s["K"],))}},
             {("params", "w"): A(("D", "K"), param=True), ("params", "b"): A(("K",), param=True),
              ("updates", "w"): A(("D", "K")), ("updates", "b"): A(("K",))},
             empty={"D": "pass", "K": "pass"}, out_dtype="params"),
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
    return rows


def _xlogx(p):
    p = np.asarray(p, np.float64)
    return np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0.0)


def _xlogy(p, q):
    p, q = np.asarray(p, np.float64), np.asarray(q, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p > 0, p * np.log(q), 0.0)


def _optax():
    import optax
    return optax


def _rows_beside_modules() -> list[Spec]:
    """Rows kept in their own file, one per module: ``tests/bad_input_rows_<module>.py``
    defines ``specs() -> list[Spec]`` (importing what it needs from this module). A new
    chapter's module adds such a file instead of editing this table."""
    rows = []
    for path in sorted(Path(__file__).resolve().parent.glob("bad_input_rows_*.py")):
        rows += importlib.import_module(path.stem).specs()
    return rows


SPECS: list[Spec] = _specs() + _rows_beside_modules()
BY_NAME = {s.name: s for s in SPECS}


# ------------------------------------------------------------------------------ values

def hyper_values(h: H, default):
    """Values to try for a hyper-parameter, each with whether the rule accepts it."""
    if h.boolean:
        return [(True, True), (False, True), (1, False), (0.0, False), (None, False),
                ("yes", False)]
    if h.choices is not None:
        return [(c, True) for c in h.choices] + [("nope", False), (1, False), (None, False)]
    if h.dtype:
        return [(jnp.float16, True), (jnp.float32, True), (jnp.int32, False),
                (jnp.complex64, False), (jnp.bool_, False), ("float32", True),
                (None, h.allow_none), ("nope", False)]
    cands: list = [-1, 0, 1, 2, 3, 5, -5, -2, 2.0, 0.5, True, False, None, 1 + 0j,
                   np.array([1, 2]), np.int8(2), float("nan"), "2"]
    if not h.count:
        cands = [-1.0, -0.5, 0.0, 0.5, 0.999, 1.0, 1.5, 3.5, float("nan"), float("inf"),
                 float("-inf"), True, False, 1 + 0j, np.complex64(0.5), np.array([0.1, 0.2]),
                 np.float32(-1.0), np.float16(0.5), np.float64(float("nan")),
                 jnp.asarray(0.5), jnp.asarray(-1.0), np.int32(1), None, "0.1",
                 lambda t: 0.1]
    return [(v, hyper_ok(h, v)) for v in cands]


def hyper_ok(h: H, v) -> bool:
    ok = _hyper_ok(h, v)
    return ok and (h.pred is None or bool(h.pred(v)))


def _hyper_ok(h: H, v) -> bool:
    if v is None:
        return h.allow_none
    if h.count:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
            return False
        x = int(v)
        return (h.low is None or x >= h.low) and (h.high is None or x <= h.high)
    if isinstance(v, (bool, np.bool_, str)) or callable(v):
        return False
    if hasattr(v, "dtype"):
        if np.shape(v) != () or not (np.issubdtype(v.dtype, np.floating)
                                     or np.issubdtype(v.dtype, np.integer)):
            return False
    elif not isinstance(v, (int, float)):
        return False
    x = float(v)
    if not math.isfinite(x):
        return False
    if h.low is not None and not (x > h.low if h.low_open else x >= h.low):
        return False
    if h.high is not None and not (x < h.high if h.high_open else x <= h.high):
        return False
    return True
