"""dlmath.data.ring_of_gaussians: the modes, their weights, the spread, and errors."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from dlmath import data


def _centres(num_modes, radius):
    angle = 2 * np.pi * np.arange(num_modes) / num_modes
    return radius * np.stack([np.cos(angle), np.sin(angle)], -1)


def test_shape_dtype_and_reproducible():
    x = data.ring_of_gaussians(jax.random.key(0), 7)
    assert x.shape == (7, 2) and x.dtype == np.float32
    np.testing.assert_array_equal(x, data.ring_of_gaussians(jax.random.key(0), 7))
    assert not np.array_equal(x, data.ring_of_gaussians(jax.random.key(1), 7))
    assert data.ring_of_gaussians(jax.random.key(0), 0).shape == (0, 2)


@pytest.mark.parametrize("num_modes, radius", [(8, 2.0), (3, 1.5), (1, 0.5)])
def test_without_noise_every_point_is_a_centre(num_modes, radius):
    x = np.asarray(data.ring_of_gaussians(jax.random.key(2), 50, num_modes=num_modes,
                                          radius=radius, std=0.0), np.float64)
    dist = np.linalg.norm(x[:, None] - _centres(num_modes, radius), axis=-1)
    assert np.max(np.min(dist, 1)) < 1e-6


def test_modes_equally_likely_and_spread_std():
    n, std = 40_000, 0.05
    x = np.asarray(data.ring_of_gaussians(jax.random.key(3), n, std=std), np.float64)
    centres = _centres(8, 2.0)
    nearest = np.argmin(np.linalg.norm(x[:, None] - centres, axis=-1), 1)
    share = np.bincount(nearest, minlength=8) / n
    # each share is a binomial proportion: standard error sqrt(p(1-p)/n) ~ 0.0017
    np.testing.assert_allclose(share, 1 / 8, atol=0.01)
    offsets = x - centres[nearest]
    np.testing.assert_allclose(offsets.mean(0), 0.0, atol=0.003)  # 4 standard errors
    np.testing.assert_allclose(offsets.std(0), std, rtol=0.03)


def test_errors_name_the_function_and_the_argument():
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="^ring_of_gaussians: std"):
        data.ring_of_gaussians(key, 5, std=-0.1)
    with pytest.raises(ValueError, match="^ring_of_gaussians: num_modes"):
        data.ring_of_gaussians(key, 5, num_modes=0)
    with pytest.raises(TypeError, match="^ring_of_gaussians: n must be an int"):
        data.ring_of_gaussians(key, 5.0)
    with pytest.raises(TypeError, match="^ring_of_gaussians"):
        data.ring_of_gaussians(0, 5)
