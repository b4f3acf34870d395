"""Unit tests of dlmath._checks: the one set of input checks every public function uses.

Each check must raise the documented error type with a message that names the function,
the argument, the expected and the actual; value checks are skipped for traced values.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dlmath import _checks


def test_dtype_of_refuses_lists_and_names_the_function():
    with pytest.raises(TypeError, match=r"^f: x must be an array \(jax or numpy\); got list"):
        _checks.dtype_of([1.0, 2.0], "f", "x")
    assert _checks.dtype_of(np.zeros(2, np.float16), "f", "x") == jnp.float16


@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16, jnp.float32])
def test_require_floating_accepts_every_float_width(dtype):
    _checks.require_floating("f", "x", jnp.zeros(2, dtype))


@pytest.mark.parametrize("dtype, extra", [(jnp.int32, ""), (jnp.uint8, ""), (jnp.bool_, ""),
                                          (jnp.complex64, "Complex numbers are not supported")])
def test_require_floating_refuses_the_rest(dtype, extra):
    with pytest.raises(TypeError, match=f"f: x must be a floating-point array .*{extra}"):
        _checks.require_floating("f", "x", jnp.zeros(2, dtype))


def test_require_real_refuses_complex_and_bool_unless_allowed():
    _checks.require_real("f", "y", jnp.zeros(2, jnp.int8))
    _checks.require_real("f", "y", jnp.zeros(2, bool), allow_bool=True)
    for bad in (jnp.zeros(2, jnp.complex64), jnp.zeros(2, bool)):
        with pytest.raises(TypeError, match="f: y must hold real numbers"):
            _checks.require_real("f", "y", bad)


def test_shape_checks_state_expected_and_actual():
    with pytest.raises(ValueError, match=r"f: b must have the shape of a \(N,\); got b \(3,\), "
                                         r"a \(2,\)"):
        _checks.require_same_shape("f", "a", jnp.zeros(2), "b", jnp.zeros(3), "(N,)")
    with pytest.raises(ValueError, match=r"f: X must have shape \(N, D\); got \(3,\). hint"):
        _checks.require_ndim("f", "X", jnp.zeros(3), 2, "(N, D)", "hint")
    with pytest.raises(ValueError, match=r"f: X \(N, D\) has no examples \(shape \(0, 2\)\)"):
        _checks.require_nonempty("f", "X", jnp.zeros((0, 2)), 0, "(N, D)", "examples")
    _checks.require_nonempty("f", "X", jnp.zeros((1, 2)), 0, "(N, D)", "examples")


@pytest.mark.parametrize("value, error, match", [
    (-1.0, ValueError, r"must be a finite number in \(0, inf\); got -1.0"),
    (0, ValueError, r"must be a finite number in \(0, inf\); got 0"),
    (float("nan"), ValueError, "must be a finite number"),
    (float("inf"), ValueError, "must be a finite number"),
    (np.float32(-0.5), ValueError, "must be a finite number"),
    (jnp.array(-0.5), ValueError, "must be a finite number"),
    (True, TypeError, "must be a real number; got the bool"),
    (1 + 2j, TypeError, "must be a real number"),
    (jnp.array(1 + 0j), TypeError, "must be a real number; got dtype complex"),
    (jnp.array([0.1, 0.2]), ValueError, r"must be a scalar; got shape \(2,\)"),
    (lambda t: 0.1, TypeError, "must be a number; got a callable. Schedules are not supported"),
    ("0.1", TypeError, "must be a real number; got str"),
])
def test_learning_rate(value, error, match):
    with pytest.raises(error, match=f"^opt: learning_rate {match}"):
        _checks.learning_rate("opt", value)


def test_value_checks_are_skipped_when_traced_but_dtype_checks_are_not():
    @jax.jit
    def f(lr):
        _checks.learning_rate("opt", lr)
        _checks.hyperparameter("opt", "b1", lr, low=0.0, high=1.0, high_open=True)
        return lr * 2

    assert float(f(-1.0)) == -2.0  # under jit the value is unknown: no error, no TracerBool
    with pytest.raises(TypeError, match="opt: learning_rate must be a real number"):
        jax.jit(lambda lr: _checks.learning_rate("opt", lr))(jnp.array(1 + 0j))


def test_hyperparameter_ranges():
    _checks.hyperparameter("opt", "b1", 0.0, low=0.0, high=1.0, high_open=True)
    with pytest.raises(ValueError, match=r"opt: b1 must be a finite number in \[0, 1\); got 1.0"):
        _checks.hyperparameter("opt", "b1", 1.0, low=0.0, high=1.0, high_open=True)
    with pytest.raises(ValueError, match=r"in \(-inf, 2\]"):
        _checks.hyperparameter("opt", "c", 3, high=2.0)


def test_count():
    _checks.count("f", "steps", 0)
    with pytest.raises(ValueError, match=r"f: steps must be an int >= 0; got -1"):
        _checks.count("f", "steps", -1)
    with pytest.raises(ValueError, match=r"f: batch_size must be an int \[1, 5\]; got 6"):
        _checks.count("f", "batch_size", 6, low=1, high=5)
    for bad in (2.0, True, "3", None):
        with pytest.raises(TypeError, match="f: steps must be an int"):
            _checks.count("f", "steps", bad)


@pytest.mark.parametrize("dtype", [jnp.uint8, jnp.int8, jnp.int16, jnp.uint16, jnp.int32,
                                   jnp.uint32])
def test_labels_of_any_width_are_widened_and_compared_without_overflow(dtype):
    ids = jnp.array([5, 100], dtype)
    out = _checks.labels("loss", "labels", ids, 300, (2,), "(*B,)")
    assert out.dtype == jnp.int32
    np.testing.assert_array_equal(out, [5, 100])
    assert bool(jnp.all(out < 300))  # in uint8, 300 would wrap to 44


def test_labels_out_of_range_raise_where_concrete_and_pass_under_jit():
    with pytest.raises(ValueError, match=r"loss: class ids must lie in \[0, K\) = \[0, 3\); "
                                         r"got labels\[1\] = -1"):
        _checks.labels("loss", "labels", np.array([0, -1]), 3, (2,), "(*B,)")
    with pytest.raises(ValueError, match=r"labels\[1, 0\] = 7\."):
        _checks.labels("loss", "labels", np.array([[0], [7]]), 3, (2, 1), "(*B,)")
    traced = jax.jit(lambda ids: _checks.labels("loss", "labels", ids, 3, (2,), "(*B,)"))
    np.testing.assert_array_equal(traced(jnp.array([0, 9])), [0, 9])


def test_first_bad_names_the_first_offending_entry_in_row_major_order():
    x = np.array([[1.0, 2.0], [np.nan, np.inf]])
    assert _checks.first_bad("X", x, ~np.isfinite(x)) == "X[1, 0] = nan"
    assert _checks.first_bad("X", x, np.isinf(x)) == "X[1, 1] = inf"
    ids = np.array([3, -1, 9], np.int8)
    assert _checks.first_bad("ids", ids, ids < 0) == "ids[1] = -1"
    assert _checks.first_bad("ids", ids, ids > 100) is None
    assert _checks.first_bad("s", np.float32(2.5), np.bool_(True)) == "s = 2.5"


def test_labels_dtype_and_shape_errors():
    with pytest.raises(TypeError, match=r"loss: labels must be integer class ids \(\*B,\); got "
                                        "dtype float32"):
        _checks.labels("loss", "labels", jnp.zeros(2), 3, (2,), "(*B,)")
    with pytest.raises(TypeError, match="got dtype bool"):
        _checks.labels("loss", "labels", jnp.zeros(2, bool), 3, (2,), "(*B,)")
    with pytest.raises(ValueError, match=r"loss: labels must have shape \(\*B,\) = \(2,\); got "
                                         r"\(3,\)"):
        _checks.labels("loss", "labels", jnp.zeros(3, jnp.int32), 3, (2,), "(*B,)")


def test_float_dtype_of_tree_and_the_cast_rule():
    tree = {"w": jnp.zeros(2, jnp.float16), "b": jnp.zeros((), jnp.float16)}
    assert _checks.float_dtype_of_tree("f", "params", tree) == jnp.float16
    with pytest.raises(ValueError, match="f: params has no arrays"):
        _checks.float_dtype_of_tree("f", "params", {})
    with pytest.raises(TypeError, match="one float dtype"):
        _checks.float_dtype_of_tree("f", "params", {"a": jnp.zeros(1), "b": tree["w"]})
    x, ids = _checks.cast_floats(jnp.float16, jnp.ones(2, jnp.float32), jnp.arange(2))
    assert x.dtype == jnp.float16 and ids.dtype == jnp.int32


def test_pytree_and_state_checks():
    ref = {"a": jnp.zeros(2), "b": jnp.zeros((2, 3))}
    _checks.require_like("opt", "grads", ref, "params", ref)
    with pytest.raises(ValueError, match="opt: grads must have the pytree structure of params"):
        _checks.require_like("opt", "grads", {"a": jnp.zeros(2)}, "params", ref)
    with pytest.raises(ValueError, match=r"opt: leaf 1 of grads must have the shape of leaf 1 "
                                         r"of params \(2, 3\); got \(3, 2\)"):
        _checks.require_like("opt", "grads", {"a": jnp.zeros(2), "b": jnp.zeros((3, 2))},
                             "params", ref)
    from typing import NamedTuple

    class State(NamedTuple):
        count: int

    _checks.require_state("adam", State(0), State)
    with pytest.raises(TypeError, match="adam: state must be the State that this optimizer's "
                                        "init"):
        _checks.require_state("adam", None, State)
    with pytest.raises(TypeError, match="f: fn must be a function; got int"):
        _checks.require_callable("f", "fn", 3, "a function")


@pytest.mark.parametrize("key", [jax.random.key(0), jax.random.PRNGKey(0)])
def test_require_key_takes_one_key_of_either_kind(key):
    _checks.require_key("f", key)


@pytest.mark.parametrize("bad, shown", [
    (0, "got int 0. A seed is not a key"),
    (None, "got NoneType"),
    (np.zeros(3, np.uint32), "got a uint32 array of shape (3,)"),
    (np.zeros(2, np.float32), "got a float32 array of shape (2,)"),
    (jax.random.split(jax.random.key(0), 2), "got a batch of keys, a key array of shape (2,)"),
    (jax.random.split(jax.random.PRNGKey(0), 3), "got a uint32 array of shape (3, 2)"),
])
def test_require_key_refuses_what_is_not_one_key(bad, shown):
    with pytest.raises(TypeError, match=r"^f: key must be a jax.random key \(") as info:
        _checks.require_key("f", bad, "the draws")
    assert shown in str(info.value), str(info.value)
    assert "for the draws" in str(info.value)


def test_sizes():
    assert _checks.sizes("f", "sizes", [2, 3], at_least=2) == (2, 3)
    assert _checks.sizes("f", "sizes", np.array([4, 1])) == (4, 1)
    with pytest.raises(TypeError, match=r"^f: sizes must be a sequence of at least two ints "
                                        r">= 1 \(D_0, ...\); got int 3\. hint"):
        _checks.sizes("f", "sizes", 3, at_least=2, legend="(D_0, ...)", hint="hint")
    with pytest.raises(ValueError, match=r"^f: sizes must be at least two ints >= 1; got \(3,\)"):
        _checks.sizes("f", "sizes", (3,), at_least=2)
    with pytest.raises(ValueError, match=r"^f: sizes\[1\] must be an int >= 1; got 0"):
        _checks.sizes("f", "sizes", (3, 0))
    with pytest.raises(TypeError, match=r"^f: sizes must be a sequence"):
        _checks.sizes("f", "sizes", "34")


def test_require_scalar_loss():
    w = jnp.ones(3)
    _checks.require_scalar_loss("f", "loss_fn", jnp.sum(w))
    _checks.require_scalar_loss("f", "loss_fn", 0.5)
    _checks.require_scalar_loss("f", "loss_fn", jax.eval_shape(jnp.sum, w))
    jax.jit(lambda w: _checks.require_scalar_loss("f", "loss_fn", jnp.sum(w)))(w)  # traced
    with pytest.raises(ValueError, match=r"^f: loss_fn must return a real floating scalar "
                                         r"\(shape \(\)\).*got an array of shape \(3,\)"):
        _checks.require_scalar_loss("f", "loss_fn", jax.eval_shape(lambda w: w * 2, w))
    with pytest.raises(TypeError, match=r"^f: loss_fn must return .*dtype int32"):
        _checks.require_scalar_loss("f", "loss_fn", jnp.sum(w > 0))
    with pytest.raises(TypeError, match=r"^f: loss_fn must return .*got tuple"):
        _checks.require_scalar_loss("f", "loss_fn", (w, w))


def test_require_optimizer_refuses_a_class():
    class Plain:
        def init(self, params):
            return ()

        def update(self, grads, state, params=None):
            return grads, state

    _checks.require_optimizer("f", Plain())
    with pytest.raises(TypeError, match=r"^f: optimizer must be an object .*got the class "
                                        r"Plain itself\. Pass an instance, Plain\(\.\.\.\)"):
        _checks.require_optimizer("f", Plain)
