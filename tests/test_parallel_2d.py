"""tensor_parallel_mlp on a 2-D mesh (data x model) of the 8 CPU devices that
tests/conftest.py gives this process: the examples split over one axis, the hidden layer over
the other. Values and gradients against the unsplit MLP on one device (float64 references),
a few Adam steps against dlmath.training.fit, the collectives of the compiled gradient, and
the errors of a bad ``batch_axis``."""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dlmath import layers, losses, optim, parallel, training
from dlmath.testing import in_float64

ALL_REDUCE = re.compile(r"\sall-reduce(?:-start)?\(")


def mesh_2d(data=4, model=2):
    devices = np.array(jax.devices("cpu")[:data * model]).reshape(data, model)
    return jax.sharding.Mesh(devices, ("data", "model"))


def _problem(seed=0, n=16):
    k_p, k_x, k_y = jax.random.split(jax.random.key(seed), 3)
    params = layers.init_mlp(k_p, (6, 8, 3))
    params[0]["b"] = 0.1 * jnp.arange(8.0)  # biases that are not zero
    return params, jax.random.normal(k_x, (n, 6)), jax.random.randint(k_y, (n,), 0, 3)


def _loss(mlp):
    def loss(p, x, y):
        return losses.softmax_cross_entropy_with_integer_labels(mlp(p, x), y).mean()
    return loss


def test_values_and_gradients_equal_the_unsplit_mlp():
    params, x, y = _problem()
    mesh = mesh_2d()
    split = _loss(lambda p, x: parallel.tensor_parallel_mlp(p, x, mesh, axis_name="model",
                                                            batch_axis="data"))
    out = jax.jit(lambda p, x: parallel.tensor_parallel_mlp(
        p, x, mesh, axis_name="model", batch_axis="data"))(params, x)
    assert out.sharding.spec[0] == "data"  # the output stays split by examples
    value, grads = jax.jit(jax.value_and_grad(split))(params, x, y)
    ref_value, ref_grads = in_float64(jax.value_and_grad(_loss(layers.mlp)), params, x, y)
    np.testing.assert_allclose(out, in_float64(layers.mlp, params, x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(value, ref_value, rtol=1e-6)
    for got, want in zip(jax.tree_util.tree_leaves(grads), jax.tree_util.tree_leaves(ref_grads),
                         strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


def test_adam_steps_on_the_2d_mesh_equal_fit_on_one_device():
    params, x, y = _problem(1)
    mesh = mesh_2d()
    opt = optim.adam(0.05)
    split = _loss(lambda p, x: parallel.tensor_parallel_mlp(p, x, mesh, axis_name="model",
                                                            batch_axis="data"))

    @jax.jit
    def step(p, s):
        g = jax.grad(split)(p, x, y)
        updates, s = opt.update(g, s, p)
        return jax.tree_util.tree_map(jnp.add, p, updates), s

    p, s = params, opt.init(params)
    for _ in range(5):
        p, s = step(p, s)
    reference, _ = training.fit(opt, _loss(layers.mlp), params, (x, y), steps=5)
    for got, want in zip(jax.tree_util.tree_leaves(p), jax.tree_util.tree_leaves(reference),
                         strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_the_gradient_all_reduces_over_both_axes():
    """One all-reduce of the activations over 'model' forward, and the weights' gradients
    summed over 'data' (XLA may fuse several into one all-reduce, so at least two)."""
    params, x, y = _problem()
    mesh = mesh_2d()
    split = _loss(lambda p, x: parallel.tensor_parallel_mlp(p, x, mesh, axis_name="model",
                                                            batch_axis="data"))
    forward = jax.jit(split).lower(params, x, y).compile().as_text()
    backward = jax.jit(jax.grad(split)).lower(params, x, y).compile().as_text()
    assert len(ALL_REDUCE.findall(forward)) >= 1
    assert len(ALL_REDUCE.findall(backward)) >= 2


@pytest.mark.parametrize("kwargs,message", [
    ({"axis_name": "model", "batch_axis": "model"}, "batch_axis must differ"),
    ({"axis_name": "model", "batch_axis": "rows"}, "axis_name must be one of"),
    ({"batch_axis": "data"}, "name the one to split"),
])
def test_bad_batch_axis(kwargs, message):
    params, x, _ = _problem()
    with pytest.raises(ValueError, match=message):
        parallel.tensor_parallel_mlp(params, x, mesh_2d(), **kwargs)


def test_examples_that_do_not_split_over_the_data_axis():
    params, x, _ = _problem(n=6)
    with pytest.raises(ValueError, match=r"tensor_parallel_mlp: x \(N, D\) must split evenly "
                                         r"over the 4 devices"):
        parallel.tensor_parallel_mlp(params, x, mesh_2d(), axis_name="model", batch_axis="data")
