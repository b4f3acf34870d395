"""Unit tests of dlmath.data: the synthetic linear data and the shipped digits."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from dlmath import data

# ---------------------------------------------------------------- linear


def test_linear_shapes_and_dtypes():
    x, y = data.linear(jax.random.key(0), 50, [1.0, -2.0, 0.5], 0.3)
    assert x.shape == (50, 3) and y.shape == (50,)
    assert x.dtype == np.float32 and y.dtype == np.float32
    x1, y1 = data.linear(jax.random.key(0), 7, 2.0, 1.0)
    assert x1.shape == (7, 1) and y1.shape == (7,)


def test_linear_features_lie_in_the_range():
    x, _ = data.linear(jax.random.key(1), 400, [1.0, 1.0], 0.0, low=-0.5, high=2.0)
    x = np.asarray(x)
    assert x.min() >= -0.5 and x.max() < 2.0
    # and fill it: a uniform sample of 800 values comes near both ends
    assert x.min() < -0.4 and x.max() > 1.9


def test_linear_is_reproducible_for_a_key_and_differs_between_keys():
    a = data.linear(jax.random.key(3), 400, [1.0, 2.0], 0.5)
    b = data.linear(jax.random.key(3), 400, [1.0, 2.0], 0.5)
    c = data.linear(jax.random.key(4), 400, [1.0, 2.0], 0.5)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))
    assert not np.allclose(np.asarray(a[0]), np.asarray(c[0]))
    assert not np.allclose(np.asarray(a[1]), np.asarray(c[1]))


def test_linear_without_noise_is_exactly_the_line():
    w, b = np.array([1.5, -0.25], np.float32), 0.75
    x, y = data.linear(jax.random.key(5), 400, w, b, noise=0.0)
    np.testing.assert_allclose(np.asarray(y), np.asarray(x) @ w + b, rtol=1e-6, atol=1e-6)


def test_linear_noise_has_the_requested_scale():
    w, b, sigma = np.array([2.0, -1.0], np.float32), -1.0, 0.5
    x, y = data.linear(jax.random.key(6), 400, w, b, noise=sigma)
    residual = np.asarray(y) - (np.asarray(x) @ w + b)
    # the sample std of 400 normals is within ~3 standard errors (sigma / sqrt(2 n)) of sigma
    assert abs(residual.std() - sigma) < 3 * sigma / np.sqrt(2 * 400)
    assert abs(residual.mean()) < 3 * sigma / np.sqrt(400)


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        (dict(n=0), r"data.linear: n must be an int >= 1; got 0"),
        (dict(noise=-0.1), r"data.linear: noise must be a finite number in \[0, inf\); got -0.1"),
        (dict(noise=float("nan")), r"data.linear: noise must be a finite number"),
        (dict(noise=np.inf), r"data.linear: noise must be a finite number"),
        (dict(b=float("inf")), r"data.linear: b must be a finite number"),
        (dict(low=-np.inf), r"data.linear: low must be a finite number"),
        (dict(w=[1.0, np.nan]), r"data.linear: w must be finite"),
        (dict(w=np.ones((2, 2), np.float32)),
         r"data.linear: w must have shape \(F,\); got \(2, 2\)"),
        (dict(low=1.0, high=1.0), r"data.linear: need low < high; got low=1.0, high=1.0"),
        (dict(low=2.0, high=-2.0), r"data.linear: need low < high"),
    ],
)
def test_linear_value_errors(kwargs, pattern):
    args = dict(n=10, w=1.0, b=0.0) | kwargs
    with pytest.raises(ValueError, match=pattern):
        data.linear(jax.random.key(0), **args)


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        (dict(n=2.5), r"data.linear: n must be an int; got float 2.5"),
        (dict(n=True), r"data.linear: n must be an int; got bool"),
        (dict(w=np.array([1, 2])),
         r"data.linear: w must be a floating-point array .*got dtype int"),
        (dict(w=[1, 2]), r"data.linear: w must be a floating-point array .*write \[1.0, 2.0\]"),
        (dict(w=np.array([1 + 2j])), r"data.linear: w must be a floating-point array .*complex"),
        (dict(w=1 + 2j), r"data.linear: w must be a floating-point array .*complex"),
        (dict(w=True), r"data.linear: w must be a floating-point array .*bool"),
        (dict(b=1j), r"data.linear: b must be a real number; got complex"),
        (dict(noise=np.array(0.5 + 0j)), r"data.linear: noise must be a real number; got dtype "
                                         r"complex"),
        (dict(noise=False), r"data.linear: noise must be a real number; got the bool"),
    ],
)
def test_linear_type_errors(kwargs, pattern):
    """Complex and integer inputs no longer pass through silently (the imaginary part was
    dropped by the float32 cast)."""
    args = dict(n=10, w=1.0, b=0.0) | kwargs
    with pytest.raises(TypeError, match=pattern):
        data.linear(jax.random.key(0), **args)


@pytest.mark.parametrize("key", [None, 0, np.float32(1.0)])
def test_a_missing_or_wrong_key_is_a_type_error(key):
    with pytest.raises(TypeError, match="data.linear: key must be a jax.random key"):
        data.linear(key, 10, 1.0, 0.0)
    with pytest.raises(TypeError, match="data.digits: key must be a jax.random key"):
        data.digits(key)
    # a raw PRNGKey array is a key too
    x, _ = data.linear(jax.random.PRNGKey(0), 10, 1.0, 0.0)
    assert x.shape == (10, 1)


def test_linear_accepts_traced_hyperparameters():
    """Under jit the values are unknown: their range checks are skipped (the issue: a
    traced noise raised TracerBoolConversionError)."""
    import jax.numpy as jnp

    f = jax.jit(lambda noise, b, w: data.linear(jax.random.key(2), 30, w, b, noise=noise))
    x, y = f(0.5, 1.0, jnp.array([2.0]))
    x_ref, y_ref = data.linear(jax.random.key(2), 30, 2.0, 1.0, noise=0.5)
    np.testing.assert_allclose(np.asarray(x), np.asarray(x_ref), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(y), np.asarray(y_ref), rtol=1e-5, atol=1e-6)
    g = jax.jit(lambda low, high: data.linear(jax.random.key(2), 30, 1.0, 0.0, low=low,
                                              high=high))
    assert np.asarray(g(0.0, 1.0)[0]).max() < 1.0


def test_linear_accepts_python_integers_and_0d_arrays_as_numbers():
    x, y = data.linear(jax.random.key(0), 5, 2, 1, noise=0)
    np.testing.assert_allclose(np.asarray(y), 2 * np.asarray(x[:, 0]) + 1, rtol=1e-6)
    x0, y0 = data.linear(jax.random.key(0), 5, np.float32(2.0) * np.ones(()), 1, noise=0)
    assert x0.shape == (5, 1)
    np.testing.assert_array_equal(np.asarray(y0), np.asarray(y))


# ---------------------------------------------------------------- digits


@pytest.fixture(scope="module")
def split():
    return data.digits(jax.random.key(0))


def test_digits_are_scikit_learns_load_digits_read_without_importing_it():
    """The table read from scikit-learn's data file is what its load_digits returns, and
    the split is the permutation of those rows (scaled by 1/16)."""
    import subprocess
    import sys

    from sklearn.datasets import load_digits

    d = load_digits()
    table = data._digits_table()
    np.testing.assert_array_equal(table[:, :-1], d.data)
    np.testing.assert_array_equal(table[:, -1].astype(int), d.target)
    key = jax.random.key(5)
    perm = np.asarray(jax.random.permutation(key, 1797))
    n_test = round(0.25 * 1797)
    want = (d.data[perm[n_test:]] / 16, d.target[perm[n_test:]], d.data[perm[:n_test]] / 16,
            d.target[perm[:n_test]])
    for got, expected in zip(data.digits(key), want, strict=True):
        np.testing.assert_array_equal(np.asarray(got), expected.astype(got.dtype))
    code = ("import sys, jax; from dlmath import data; data.digits(jax.random.key(0)); "
            "print('sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_digits_shapes_dtypes_and_range(split):
    x_train, y_train, x_test, y_test = split
    assert x_train.shape[1:] == (64,) and x_test.shape[1:] == (64,)
    assert y_train.shape == (x_train.shape[0],) and y_test.shape == (x_test.shape[0],)
    assert x_train.shape[0] + x_test.shape[0] == 1797
    assert x_test.shape[0] == round(0.25 * 1797)
    assert x_train.dtype == np.float32 and x_test.dtype == np.float32
    assert y_train.dtype == np.int32 and y_test.dtype == np.int32
    for x in (x_train, x_test):
        assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    for y in (y_train, y_test):
        assert set(np.unique(np.asarray(y)).tolist()) == set(range(10))


def test_digits_split_is_a_partition_of_the_data_set(split):
    """Train and test together are the 1797 scikit-learn digits (scaled by 1/16), each
    example exactly once: the multisets of (pixels, label) rows are equal."""
    from sklearn.datasets import load_digits

    x_train, y_train, x_test, y_test = (np.asarray(a) for a in split)
    d = load_digits()
    full = np.concatenate([d.data / 16.0, d.target[:, None]], axis=1)
    ours = np.concatenate([
        np.concatenate([x_train, y_train[:, None]], axis=1),
        np.concatenate([x_test, y_test[:, None]], axis=1),
    ])
    # pixel values are k/16, exact in float32
    np.testing.assert_array_equal(np.unique(ours, axis=0, return_counts=True)[1],
                                  np.unique(full, axis=0, return_counts=True)[1])
    np.testing.assert_array_equal(np.unique(ours, axis=0), np.unique(full, axis=0))


def test_digits_reproducible_by_key(split):
    again = data.digits(jax.random.key(0))
    other = data.digits(jax.random.key(1))
    for a, b in zip(split, again, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(split[1]), np.asarray(other[1]))


def test_digits_test_fraction():
    x_train, _, x_test, _ = data.digits(jax.random.key(0), test_fraction=0.1)
    assert x_test.shape[0] == round(0.1 * 1797) and x_train.shape[0] == 1797 - 180
    for bad in (0.0, 1.0, -0.2, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"data.digits: test_fraction must be a finite "
                                             r"number in \(0, 1\)"):
            data.digits(jax.random.key(0), test_fraction=bad)
    with pytest.raises(TypeError, match="data.digits: test_fraction must be a real number"):
        data.digits(jax.random.key(0), test_fraction="0.2")


def test_karate_club_is_zacharys_graph_and_its_two_factions():
    adjacency, labels = data.karate_club()
    assert adjacency.shape == (34, 34) and adjacency.dtype == np.float32
    assert labels.shape == (34,) and labels.dtype == np.int32
    a = np.asarray(adjacency)
    assert np.array_equal(a, a.T) and set(np.unique(a)) == {0.0, 1.0}
    assert np.all(np.diag(a) == 0) and a.sum() == 2 * 78
    y = np.asarray(labels)
    assert set(np.unique(y)) == {0, 1} and np.bincount(y).tolist() == [17, 17]
    assert y[0] == 0 and y[33] == 1  # the instructor and the administrator
    assert a[0, 33] == 0 and a[0, 1] == 1 and a[32, 33] == 1
