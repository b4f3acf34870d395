"""Rotary position embeddings: the registered formula, both pairings, the relative-position
property and the errors."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dlmath import attention as A
from dlmath.testing import in_float64


def test_rotary_is_the_registered_formula():
    from dlmath.formulas import language as FL

    x = jax.random.normal(jax.random.key(0), (2, 3, 6))
    pos = jnp.array([0, 4, 11])
    first, second = FL.ROTARY_FIRST.reference, FL.ROTARY_SECOND.reference
    for interleaved in (True, False):
        out = np.asarray(A.rotary_embedding(x, pos, base=100.0, interleaved=interleaved))
        for i in range(3):
            ia, ib = (2 * i, 2 * i + 1) if interleaved else (i, i + 3)
            a, b = x[..., ia], x[..., ib]
            p = pos.astype(jnp.float32)[None, :]
            np.testing.assert_allclose(out[..., ia], first(a, b, p, i, 6, 100.0), atol=1e-5)
            np.testing.assert_allclose(out[..., ib], second(a, b, p, i, 6, 100.0), atol=1e-5)


@pytest.mark.parametrize("interleaved", [True, False])
def test_scores_depend_on_the_position_difference_only(interleaved):
    """<R(m) q, R(n) k> = <q, R(n - m) k>: checked in float64 for several (m, n)."""
    kq, kk = jax.random.split(jax.random.key(1))
    q, k = jax.random.normal(kq, (1, 8)), jax.random.normal(kk, (1, 8))

    def score(q, k, m, n):
        rq = A.rotary_embedding(q, jnp.array([m]), interleaved=interleaved)
        rk = A.rotary_embedding(k, jnp.array([n]), interleaved=interleaved)
        return jnp.sum(rq * rk)

    for m, n in [(0, 3), (5, 8), (100, 103), (2, 0), (9, 7)]:
        got = in_float64(score, q, k, m, n)
        want = in_float64(score, q, k, 0, n - m)
        np.testing.assert_allclose(got, want, atol=1e-9)
    assert abs(in_float64(score, q, k, 0, 3) - in_float64(score, q, k, 0, 4)) > 1e-3  # not constant


def test_rotation_keeps_norms_position_zero_is_identity_and_dtype():
    x = jax.random.normal(jax.random.key(2), (3, 5, 4)).astype(jnp.bfloat16)
    out = A.rotary_embedding(x, jnp.arange(5))
    assert out.dtype == jnp.bfloat16
    np.testing.assert_allclose(jnp.linalg.norm(out.astype(jnp.float32), axis=-1),
                               jnp.linalg.norm(x.astype(jnp.float32), axis=-1), rtol=2e-2)
    y = jax.random.normal(jax.random.key(3), (2, 4))
    np.testing.assert_allclose(A.rotary_embedding(y, jnp.zeros(2, jnp.int32)), y, atol=0)


def test_errors():
    x = jnp.ones((3, 5))
    with pytest.raises(ValueError, match="^rotary_embedding: x's feature size D must be even"):
        A.rotary_embedding(x, jnp.arange(3))
    with pytest.raises(TypeError, match="^rotary_embedding: positions must be integers"):
        A.rotary_embedding(jnp.ones((3, 4)), jnp.arange(3.0))
    with pytest.raises(ValueError, match="^rotary_embedding: positions must have shape"):
        A.rotary_embedding(jnp.ones((3, 4)), jnp.arange(4))
    with pytest.raises(ValueError, match="^rotary_embedding: base"):
        A.rotary_embedding(jnp.ones((3, 4)), jnp.arange(3), base=1.0)
