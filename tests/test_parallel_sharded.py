"""Unit tests of dlmath.parallel's memory per device and fully sharded step on the 8 CPU
devices that tests/conftest.py gives this process: the formulas of memory_per_device against
the bytes that each device's shards really hold (jax.Array.addressable_shards), the fully
sharded step against single-device training (dlmath.training.fit), its collectives in the
compiled program, and the error paths."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
from test_parallel import _raises, collectives, mesh_of

from dlmath import layers, optim, parallel, training
from dlmath.formulas import parallel as FP


def _bytes_on(tree, device) -> int:
    """The bytes of the shards of ``tree``'s arrays that live on ``device``."""
    return sum(s.data.nbytes for v in jax.tree_util.tree_leaves(tree)
               for s in v.addressable_shards if s.device == device)


def _mlp_problem(dims=(16, 64, 8), n=64, seed=0):
    k = jax.random.split(jax.random.key(seed), 3)
    X = jax.random.normal(k[0], (n, dims[0]))
    y = jax.random.normal(k[1], (n, dims[-1]))
    return layers.init_mlp(k[2], dims), X, y


def _loss(p, X, y):
    return jnp.mean(jnp.square(layers.mlp(p, X) - y))


def _size(tree) -> int:
    return sum(v.size for v in jax.tree_util.tree_leaves(tree))


@pytest.mark.parametrize("stage", [0, 1, 2, 3])
def test_memory_per_device_is_the_bytes_of_each_devices_shards(stage):
    """Parameters, gradients and Adam's two moments placed as ZeRO's stage places them (every
    array split over the 8 devices, or whole on each): every device holds the bytes the
    formula gives, part by part (the step counter, 4 bytes, is not counted)."""
    mesh = mesh_of(8)
    params, _, _ = _mlp_problem()
    grads = jax.tree_util.tree_map(jnp.ones_like, params)
    state = optim.adam(0.01).init(params)
    whole, split = NamedSharding(mesh, P()), NamedSharding(mesh, P("data"))
    put = lambda tree, sharded: jax.device_put(tree, split if sharded else whole)  # noqa: E731
    placed = {"parameters": put(params, stage >= 3), "gradients": put(grads, stage >= 2),
              "optimizer_state": put((state.mu, state.nu), stage >= 1)}
    want = parallel.memory_per_device(_size(params), 8, stage=stage)
    for device in mesh.devices.flat:
        for part, tree in placed.items():
            assert _bytes_on(tree, device) == int(want[part]), (part, device)
        assert sum(_bytes_on(t, device) for t in placed.values()) == int(want["total"])


def test_the_fully_sharded_step_leaves_each_device_the_stage_3_bytes():
    mesh = mesh_of(8)
    params, X, y = _mlp_problem()
    opt = optim.adam(0.01)
    p, s, _ = parallel.fully_sharded_step(opt, _loss, mesh)(params, opt.init(params), X, y)
    want = parallel.memory_per_device(_size(params), 8, stage=3)
    for device in mesh.devices.flat:
        assert _bytes_on(p, device) == int(want["parameters"])
        assert _bytes_on((s.mu, s.nu), device) == int(want["optimizer_state"])
        assert _bytes_on(s.count, device) == 4  # the step counter, whole on every device
    # against data parallelism, which keeps everything whole on every device
    dp = parallel.data_parallel_step(opt, _loss, mesh)
    pr, sr, _ = dp(params, opt.init(params), X, y)
    replicated = parallel.memory_per_device(_size(params), 8, stage=0)
    assert _bytes_on((pr, sr.mu, sr.nu), mesh.devices.flat[0]) == int(
        replicated["parameters"] + replicated["optimizer_state"])


def test_the_fully_sharded_step_gathers_the_whole_model_at_its_peak():
    """Between steps stage 3's 1/n (above); within a step the whole parameter tree is
    gathered at once, so the compiled step's temporaries hold at least the whole parameters
    (the docstrings say its peak is about stage 2's, not stage 3's)."""
    mesh = mesh_of(8)
    params, X, y = _mlp_problem(dims=(16, 256, 8))
    opt = optim.adam(0.01)
    step = parallel.fully_sharded_step(opt, _loss, mesh)
    analysis = step.lower(params, opt.init(params), X, y).compile().memory_analysis()
    whole = 4 * _size(params)
    assert analysis.temp_size_in_bytes >= whole
    stage3 = parallel.memory_per_device(_size(params), 8, stage=3)
    assert analysis.temp_size_in_bytes > float(stage3["total"])  # more than stage 3 counts
    for doc in (parallel.fully_sharded_step.__doc__, parallel.sharded.__doc__,
                parallel.memory_per_device.__doc__):
        assert "stage 2's" in doc


def test_documented_memory_formulas_equal_the_code():
    """The four formulas at M = 1000, b = 2, k = 1, n = 8, A = 96 (values that all differ),
    and the components add up."""
    values = {FP.M: 1000, FP.bytes_per_param: 2, FP.k: 1, FP.n: 8, FP.A: 96}
    for stage, formula in enumerate((FP.MEMORY_REPLICATED, FP.MEMORY_ZERO1, FP.MEMORY_ZERO2,
                                     FP.MEMORY_ZERO3)):
        got = parallel.memory_per_device(1000, 8, stage=stage, bytes_per_number=2, moments=1,
                                         activations=96)
        assert float(got["total"]) == pytest.approx(float(formula.expr.subs(values)))
        assert float(got["total"]) == pytest.approx(sum(float(got[key]) for key in (
            "parameters", "gradients", "optimizer_state", "activations")))
    adam = parallel.memory_per_device(1e6, 1, stage=0)
    assert float(adam["total"]) == 16e6  # 16 bytes a parameter: float32 Adam on one device
    for stage in range(4):  # one device: every stage is data parallelism
        assert float(parallel.memory_per_device(1e6, 1, stage=stage)["total"]) == 16e6
    traced = jax.jit(lambda m: parallel.memory_per_device(m, 4, stage=2)["total"])(1e6)
    assert float(traced) == pytest.approx(4e6 + 3 * 4e6 / 4)


@pytest.mark.parametrize("devices", [2, 8])
def test_k_fully_sharded_steps_equal_single_device_training(devices):
    params, X, y = _mlp_problem()
    for opt in (optim.adam(0.01), optim.sgd(0.05, momentum=0.9)):
        reference, history = training.fit(opt, _loss, params, (X, y), steps=5)
        step = parallel.fully_sharded_step(opt, _loss, mesh_of(devices))
        p, s, losses = params, opt.init(params), []
        for _ in range(5):
            p, s, loss = step(p, s, X, y)
            losses.append(loss)
        for a, b in zip(jax.tree_util.tree_leaves(p), jax.tree_util.tree_leaves(reference),
                        strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(jnp.stack(losses), history.loss, rtol=1e-5)
        assert p[0]["w"].sharding.spec == P("data")  # (16, 64): split along its rows


def test_the_fully_sharded_step_gathers_parameters_and_scatters_gradients():
    """One all-gather of each split parameter (forward; the backward pass reuses the gathered
    copy) and one reduce-scatter of each split gradient; only what stays whole (the bias of
    8 outputs is split too, so only the loss here) is all-reduced."""
    params, X, y = _mlp_problem((16, 64, 12))  # the last bias (12,) does not split 8 ways
    opt = optim.adam(0.01)
    step = parallel.fully_sharded_step(opt, _loss, mesh_of(8))
    found = collectives(step.lower(params, opt.init(params), X, y))
    split = sum(step.sharding(v).spec != P() for v in jax.tree_util.tree_leaves(params))
    assert split == 3
    assert found.count("all-gather") == split, found
    assert found.count("reduce-scatter") == split, found
    assert 1 <= found.count("all-reduce") <= 2, found  # the loss and the whole bias' gradient
    # data parallelism on the same mesh: all-reduces only
    dp = parallel.data_parallel_step(opt, _loss, mesh_of(8))
    dp_found = collectives(dp.lower(params, opt.init(params), X, y))
    assert "all-gather" not in dp_found and "reduce-scatter" not in dp_found, dp_found


def test_fully_sharded_errors_name_the_function_and_the_argument():
    mesh = mesh_of(8)
    params, X, y = _mlp_problem()
    opt = optim.adam(0.01)
    step = parallel.fully_sharded_step(opt, _loss, mesh)
    _raises(ValueError, "fully_sharded_step: batch[0]", step, params, opt.init(params),
            X[:60], y[:60])
    _raises(ValueError, "fully_sharded_step: state", step, params, optim.sgd(0.1).init(params),
            X, y)
    _raises(TypeError, "fully_sharded_step: mesh", parallel.fully_sharded_step, opt, _loss,
            jax.devices("cpu"))
    _raises(ValueError, "fully_sharded_step: axis_name", parallel.fully_sharded_step, opt,
            _loss, mesh, axis_name="model")
    _raises(TypeError, "fully_sharded_step: loss_fn", parallel.fully_sharded_step, opt, 3.0,
            mesh)
    _raises(ValueError, "memory_per_device: stage", parallel.memory_per_device, 10, 8,
            stage=4)
    _raises(TypeError, "memory_per_device: stage", parallel.memory_per_device, 10, 8,
            stage="zero3")
    _raises(ValueError, "memory_per_device: num_devices", parallel.memory_per_device, 10, 0,
            stage=1)
    _raises(ValueError, "memory_per_device: num_params", parallel.memory_per_device, -1.0, 8,
            stage=1)
    _raises(ValueError, "memory_per_device: bytes_per_number", parallel.memory_per_device,
            10, 8, stage=1, bytes_per_number=0)
