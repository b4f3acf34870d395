"""The table behind ``test_bad_input.py``: how to call every public numeric function of
dlmath with valid arguments of small sizes, and what each argument is.

One row (:class:`Spec`) per function (two where a function has two ways to be called,
told apart by ``tag``). A row says

* how to **build** valid keyword arguments for sizes ``S`` (legend letters ``N`` examples,
  ``K`` classes, ``D`` features, ``H`` hidden units) from a NumPy random generator;
* which arguments are **arrays** (a path into the keyword arguments, e.g.
  ``("params", 0, "w")``), of which legend and which kind (:data:`ACCEPT`: floats only,
  real numbers, class ids, ...), and which of them are the model's parameters;
* which are **hyper-parameters** (:class:`H`: range, static or traceable);
* what an **empty axis** does (``"raise"``: it is reduced over; ``"pass"``: an empty batch
  passes through, as ``jax.nn`` and optax do);
* what the result's **dtype** must be (the parameters', JAX's promotion, or fixed).

The rows of each module are in a file of their own, ``tests/bad_input_rows_<module>.py``,
whose ``specs()`` returns them (they make :data:`SPECS`); this module holds what rows are
made of and the builders several modules share. A new module joins with its own file;
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
    "ints": INTS,                             # integers that are no ids in [0, K): positions,
                                              # steps where -1 means the end
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
NOT_NUMERIC = ("notebook", "bench", "plot", "widgets", "symbolic", "proofs", "derivation",
               "testing", "exercises", "formulas", "_checks")
#: public names that are not functions of numbers (types, tables)
NOT_FUNCTIONS = {"History", "Optimizer", "SgdState", "RmspropState", "AdamState", "Cache",
                 "ACTIVATIONS"}


def dlmath_modules() -> list[str]:
    """dlmath's modules (sub-packages walked), the non-numeric ones left out unimported (a
    module of :data:`NOT_NUMERIC` and its parts: ``derivation``, ``derivation_steps``)."""
    import dlmath

    names = []
    todo = [(dlmath.__path__, "")]
    while todo:
        path, prefix = todo.pop()
        for info in pkgutil.iter_modules(path):
            short = prefix + info.name
            top = short.split(".")[0]
            if any(top == name or top.startswith(name + "_") for name in NOT_NUMERIC):
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
        parts.append(f"{k}={render(v)}")
    return f"{spec.name}({', '.join(parts)})"


def render(v) -> str:
    """A value as :func:`describe` writes it: arrays by dtype, shape and (small) values."""
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
        return "{" + ", ".join(f"{k!r}: {render(x)}" for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)) and not hasattr(v, "_fields"):
        inner = ", ".join(render(x) for x in v)
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
    if kind in ("labels", "binary_ids", "ints"):
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


def top(x, k):
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


def mlp_params(rng, s):
    """The parameters of a two-layer MLP ``D -> H -> K``."""
    return [{"w": normal(rng, (s["D"], s["H"]), 0.7), "b": normal(rng, (s["H"],), 0.1)},
            {"w": normal(rng, (s["H"], s["K"]), 0.7), "b": normal(rng, (s["K"],), 0.1)}]


def build_mse(s, rng):
    """Predictions and targets ``(N, K)`` (the rows of mean squared errors)."""
    return {"predictions": normal(rng, (s["N"], s["K"])), "targets": normal(rng, (s["N"], s["K"]))}


#: the array arguments of :func:`mlp_params`
MLP = {("params", 0, "w"): A(("D", "H"), param=True), ("params", 0, "b"): A(("H",), param=True),
       ("params", 1, "w"): A(("H", "K"), param=True), ("params", 1, "b"): A(("K",), param=True)}

LR = H(low=0.0, low_open=True)              # a learning rate: finite, > 0
UNIT = H(low=0.0, high=1.0, high_open=True)  # a decay or momentum: [0, 1)
NONNEG = H(low=0.0)
STEPS = H(count=True, low=0, static=True)
STATE_DTYPE = H(dtype=True, static=True, allow_none=True)


def fixed_key():
    return jax.random.key(0)


# ---- NumPy references (float64), for the functions where one is short

def np_log_softmax(z, axis=-1):
    z = np.asarray(z, np.float64)
    m = np.max(z, axis=axis, keepdims=True)
    return z - m - np.log(np.sum(np.exp(z - m), axis=axis, keepdims=True))


def np_confusion(labels, predicted, num_classes):
    c = np.zeros((num_classes, num_classes), np.int64)
    for t, p in zip(np.asarray(labels).astype(np.int64), np.asarray(predicted).astype(np.int64),
                    strict=True):
        if 0 <= t < num_classes and 0 <= p < num_classes:
            c[t, p] += 1
    return c



def _rows() -> list[Spec]:
    """Every module's rows, each in its own file: ``tests/bad_input_rows_<module>.py``
    defines ``specs() -> list[Spec]`` (importing what it needs from this module)."""
    rows = []
    for path in sorted(Path(__file__).resolve().parent.glob("bad_input_rows_*.py")):
        rows += importlib.import_module(path.stem).specs()
    return rows


SPECS: list[Spec] = _rows()
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
