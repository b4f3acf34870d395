"""Unit tests of dlmath.parallel on the 8 CPU devices that tests/conftest.py gives this process:
data-parallel steps against single-device training (dlmath.training.fit), the split matrix
products and MLP against the unsplit ones (values and gradients), the collectives in the
compiled programs, the cost model against its formulas, and the error paths."""

from __future__ import annotations

import os
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from dlmath import layers, optim, parallel, training
from dlmath.formulas import parallel as FP
from dlmath.testing import in_float64

COLLECTIVE = re.compile(r"\s(all-reduce|all-gather|reduce-scatter|collective-permute|all-to-all)"
                        r"(?:-start)?\(")


def collectives(lowered) -> list[str]:
    """The collective operations of a lowered function's compiled HLO, in order."""
    return COLLECTIVE.findall(lowered.compile().as_text())


def mesh_of(n, name="data"):
    return jax.sharding.Mesh(np.array(jax.devices("cpu")[:n]), (name,))


def _regression(n=64, d=5, seed=0):
    k1, k2 = jax.random.split(jax.random.key(seed))
    X = jax.random.normal(k1, (n, d))
    y = X @ jnp.arange(1.0, d + 1) + 0.1 * jax.random.normal(k2, (n,))
    return X, y


def _mse(p, X, y):
    return jnp.mean(jnp.square(X @ p["w"] + p["b"] - y))


P0 = {"w": jnp.zeros(5), "b": jnp.zeros(())}


def test_the_process_has_eight_cpu_devices_and_the_kernels_do_not_inherit_the_flag():
    assert len(jax.devices("cpu")) == 8
    assert "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", "")


@pytest.mark.parametrize("method", ["sharding", "shard_map"])
@pytest.mark.parametrize("devices", [2, 8])
def test_k_data_parallel_steps_equal_single_device_training(method, devices):
    X, y = _regression()
    for opt in (optim.sgd(0.05), optim.adam(0.05)):
        reference, history = training.fit(opt, _mse, P0, (X, y), steps=6)
        step = parallel.data_parallel_step(opt, _mse, mesh_of(devices), method=method)
        p, s = P0, opt.init(P0)
        losses = []
        for _ in range(6):
            p, s, loss = step(p, s, X, y)
            losses.append(loss)
        for a, b in zip(jax.tree_util.tree_leaves(p), jax.tree_util.tree_leaves(reference),
                        strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(jnp.stack(losses), history.loss, rtol=1e-5)


def test_the_step_accepts_arrays_committed_to_one_device_and_returns_replicated_ones():
    X, y = _regression()
    mesh = mesh_of(4)
    X0 = jax.device_put(X, jax.devices("cpu")[0])
    opt = optim.sgd(0.1)
    p, s, loss = parallel.data_parallel_step(opt, _mse, mesh)(P0, opt.init(P0), X0, y)
    assert p["w"].sharding.is_equivalent_to(NamedSharding(mesh, P()), 1)
    assert np.isfinite(float(loss))


@pytest.mark.parametrize("method", ["sharding", "shard_map"])
def test_a_data_parallel_step_compiles_to_one_all_reduce(method):
    X, y = _regression()
    opt = optim.sgd(0.1)
    step = parallel.data_parallel_step(opt, _mse, mesh_of(8), method=method)
    found = collectives(step.lower(P0, opt.init(P0), X, y))
    assert found.count("all-reduce") >= 1 and "all-gather" not in found, found


def test_weighted_mean_of_shard_means_is_the_full_mean_for_unequal_shards():
    """The formula of data_parallel_step (DP_GRADIENT), evaluated at shards of 3, 5 and 8
    examples, against the full batch's mean gradient; the plain mean of the shard means
    differs."""
    X, y = _regression(16)
    grad = jax.grad(_mse)
    full = np.asarray(grad(P0, X, y)["w"], np.float64)
    cuts = [(0, 3), (3, 8), (8, 16)]
    means = [np.asarray(grad(P0, X[a:b], y[a:b])["w"], np.float64) for a, b in cuts]
    sizes = [b - a for a, b in cuts]
    expr = FP.DP_GRADIENT.expr.subs(FP.n, 3).doit()
    for col in range(5):
        value = expr.subs({FP.m[k]: sizes[k] for k in range(3)}
                          | {FP.g_bar[k]: means[k][col] for k in range(3)})
        np.testing.assert_allclose(float(value), full[col], rtol=1e-5)
    assert not np.allclose(np.mean(means, axis=0), full, rtol=1e-3)


def test_split_matmuls_and_mlp_equal_the_unsplit_ones_forward_and_backward():
    mesh = mesh_of(4)
    k = jax.random.split(jax.random.key(1), 4)
    x = jax.random.normal(k[0], (6, 8))
    w = jax.random.normal(k[1], (8, 12))
    np.testing.assert_allclose(parallel.column_parallel_matmul(x, w, mesh), x @ w, atol=1e-5)
    np.testing.assert_allclose(parallel.row_parallel_matmul(x, w, mesh), x @ w, atol=1e-5)
    for fn in (parallel.column_parallel_matmul, parallel.row_parallel_matmul):
        g = jax.jit(jax.grad(lambda x, w, fn=fn: jnp.sum(jnp.sin(fn(x, w, mesh))),
                             argnums=(0, 1)))(x, w)
        g_ref = jax.jit(jax.grad(lambda x, w: jnp.sum(jnp.sin(x @ w)), argnums=(0, 1)))(x, w)
        for a, b in zip(g, g_ref, strict=True):
            np.testing.assert_allclose(a, b, atol=1e-4)
    params = layers.init_mlp(k[2], (8, 16, 3))
    params[0]["b"] = 0.1 * jax.random.normal(k[3], (16,))
    params[1]["b"] = jnp.arange(3.0)
    np.testing.assert_allclose(parallel.tensor_parallel_mlp(params, x, mesh),
                               layers.mlp(params, x), atol=1e-5)
    loss = lambda f: lambda p, x: jnp.sum(jnp.tanh(f(p, x)))  # noqa: E731
    g = jax.jit(jax.grad(loss(lambda p, x: parallel.tensor_parallel_mlp(p, x, mesh)),
                         argnums=(0, 1)))(params, x)
    g_ref = jax.jit(jax.grad(loss(layers.mlp), argnums=(0, 1)))(params, x)
    for a, b in zip(jax.tree_util.tree_leaves(g), jax.tree_util.tree_leaves(g_ref), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-4)


def test_the_compiled_programs_hold_the_predicted_collectives():
    mesh = mesh_of(8)
    x = jnp.ones((4, 16))
    w = jnp.ones((16, 8))
    params = layers.init_mlp(jax.random.key(0), (16, 32, 4))
    col = jax.jit(lambda x, w: parallel.column_parallel_matmul(x, w, mesh)).lower(x, w)
    row = jax.jit(lambda x, w: parallel.row_parallel_matmul(x, w, mesh)).lower(x, w)
    mlp = jax.jit(lambda p, x: parallel.tensor_parallel_mlp(p, x, mesh)).lower(params, x)
    assert collectives(col) == ["all-gather"]
    assert collectives(row) == ["all-reduce"]
    assert collectives(mlp) == ["all-reduce"]  # one per layer pair, no all-gather
    # XLA's partitioner, given the same split of the kernels, also needs one all-reduce
    peer = jax.jit(lambda p, x: layers.mlp(p, x), out_shardings=NamedSharding(mesh, P()))
    split = [{"w": jax.device_put(params[0]["w"], NamedSharding(mesh, P(None, "data"))),
              "b": jax.device_put(params[0]["b"], NamedSharding(mesh, P("data")))},
             {"w": jax.device_put(params[1]["w"], NamedSharding(mesh, P("data", None))),
              "b": jax.device_put(params[1]["b"], NamedSharding(mesh, P()))}]
    assert collectives(peer.lower(split, x)) == ["all-reduce"]


def test_documented_formulas_equal_the_code():
    """The $$ formulas at sizes that all differ (N = 3 examples, D = 6 features, n = 2
    devices; C = 4 columns and R = 3 rows of w per device; R = 5 hidden units of the MLP per
    device, 3 outputs), so no formula can confuse two of them unseen."""
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(3, 6)), rng.normal(size=(6, 8))
    mesh = mesh_of(2)
    col = in_float64(parallel.column_parallel_matmul, x, w, mesh)
    row = in_float64(parallel.row_parallel_matmul, x, w, mesh)
    xs = {FP.x[r, c]: x[r, c] for r in range(3) for c in range(6)}
    ws = {FP.w[r, c]: w[r, c] for r in range(6) for c in range(8)}
    for r in range(3):
        for dev in range(2):
            for c in range(4):  # C = 8 / 2 columns per device
                e = FP.COLUMN_SPLIT.expr.subs({FP.D: 6, FP.C: 4}).subs(
                    {FP.i: r, FP.d: dev, FP.c: c}).doit().xreplace(xs | ws)
                assert abs(float(e) - col[r, 4 * dev + c]) < 1e-12
        for j in range(8):  # R = 6 / 2 rows per device
            e = FP.ROW_SPLIT.expr.subs({FP.R: 3, FP.n: 2}).subs({FP.i: r, FP.j: j}).doit()
            assert abs(float(e.xreplace(xs | ws)) - row[r, j]) < 1e-12
    params = [{"w": rng.normal(size=(6, 10)), "b": rng.normal(size=10)},
              {"w": rng.normal(size=(10, 3)), "b": rng.normal(size=3)}]
    out = in_float64(lambda p, x: parallel.tensor_parallel_mlp(
        jax.tree_util.tree_map(jnp.asarray, p), x, mesh), params, x)
    nums = xs | {FP.w1[r, c]: params[0]["w"][r, c] for r in range(6) for c in range(10)}
    nums |= {FP.b1[c]: params[0]["b"][c] for c in range(10)}
    nums |= {FP.w2[r, c]: params[1]["w"][r, c] for r in range(10) for c in range(3)}
    nums |= {FP.b2[c]: params[1]["b"][c] for c in range(3)}
    for r in range(3):
        for j in range(3):  # R = 10 / 2 hidden units per device
            e = FP.SPLIT_MLP.expr.subs({FP.D: 6, FP.R: 5, FP.n: 2}).subs({FP.i: r, FP.j: j})
            assert abs(float(e.doit().xreplace(nums)) - out[r, j]) < 1e-12
    for M_, n_ in ((1000.0, 1), (1000.0, 8), (3.5, 3)):
        want = float(FP.RING_BYTES.expr.subs({FP.M: M_, FP.n: n_}))
        assert abs(float(parallel.ring_all_reduce_bytes(M_, n_)) - want) < 1e-6 * M_
    values = {FP.B: 256, FP.M: 1e6, FP.n: 4, FP.F: 1e12, FP.beta: 1e10, FP.alpha: 1e-5,
              FP.bytes_per_param: 4}
    compute, comm = parallel.step_time_model(256, 1e6, 4, flops_per_second=1e12,
                                             bandwidth=1e10, latency=1e-5, bytes_per_param=4)
    np.testing.assert_allclose(float(compute), float(FP.STEP_COMPUTE.expr.subs(values)),
                               rtol=1e-6)
    np.testing.assert_allclose(float(comm), float(FP.STEP_COMMUNICATION.expr.subs(values)),
                               rtol=1e-6)


def _lines_of_code(path) -> int:
    """Lines that are neither blank nor only a comment."""
    return sum(1 for line in path.read_text(encoding="utf-8").splitlines()
               if line.strip() and not line.strip().startswith("#"))


def test_the_package_is_split_by_idea_and_reexports_every_public_name():
    import importlib
    import pathlib

    from dlmath.formulas import registry

    package = pathlib.Path(parallel.__file__).parent
    sizes = {p.name: _lines_of_code(p) for p in package.glob("*.py")}
    assert all(size <= 250 for size in sizes.values()), sizes
    homes = {"tensor": ("column_parallel_matmul", "row_parallel_matmul", "tensor_parallel_mlp"),
             "cost": ("ring_all_reduce_bytes", "step_time_model"),
             "memory": ("memory_per_device",),
             "sharded": ("FullyShardedStep", "fully_sharded_step")}
    for module, names in homes.items():
        home = importlib.import_module(f"dlmath.parallel.{module}")
        assert set(home.__all__) == set(names)
        for name in names:
            assert name in parallel.__all__ and getattr(parallel, name) is getattr(home, name)
            key = f"parallel.{module}.{name}"
            if key in FP.DOCUMENTED:  # the registry names the module that defines it
                assert registry.resolve(key) is getattr(home, name)
    assert {key.split(".")[1] for key in FP.DOCUMENTED} <= {
        "data_parallel_step", *homes}


def test_ring_all_reduce_simulated_moves_the_derived_bytes():
    """A ring all-reduce written out (reduce-scatter, then all-gather): every device ends
    with the sum, and sends 2(n - 1)/n of the data."""
    rng = np.random.default_rng(3)
    for n in (1, 2, 5, 8):
        data = rng.normal(size=(n, 4 * n))
        chunks = [np.split(row.copy(), n) for row in data]
        sent = np.zeros(n)
        for s in range(n - 1):  # reduce-scatter: device d passes chunk (d - s) mod n on
            moves = [(d, (d - s) % n, chunks[d][(d - s) % n].copy()) for d in range(n)]
            for d, c, payload in moves:
                chunks[(d + 1) % n][c] += payload
                sent[d] += payload.size
        for s in range(n - 1):  # all-gather: device d passes its finished chunk (d + 1 - s)
            moves = [(d, (d + 1 - s) % n, chunks[d][(d + 1 - s) % n].copy()) for d in range(n)]
            for d, c, payload in moves:
                chunks[(d + 1) % n][c] = payload
                sent[d] += payload.size
        for d in range(n):
            np.testing.assert_allclose(np.concatenate(chunks[d]), data.sum(0), atol=1e-12)
        np.testing.assert_allclose(sent, float(parallel.ring_all_reduce_bytes(4 * n, n)))


def test_step_time_model_limits():
    c1, m1 = parallel.step_time_model(64, 1e6, 1, flops_per_second=1e12, bandwidth=1e9)
    c8, m8 = parallel.step_time_model(64, 1e6, 8, flops_per_second=1e12, bandwidth=1e9)
    assert float(m1) == 0.0 and np.isclose(float(c8), float(c1) / 8)
    assert float(m8) < 2 * 4 * 1e6 / 1e9  # under 2 b M / beta whatever n
    traced = jax.jit(lambda b: parallel.step_time_model(b, 1e6, 8, flops_per_second=1e12,
                                                        bandwidth=1e9))(64.0)
    np.testing.assert_allclose(traced, (c8, m8), rtol=1e-6)


# ---------------------------------------------------------------- errors


def _raises(cls, fragment, fn, *args, **kwargs):
    with pytest.raises(cls) as info:
        fn(*args, **kwargs)
    assert fragment in str(info.value), str(info.value)


def test_errors_name_the_function_and_the_argument():
    mesh = mesh_of(4)
    opt = optim.sgd(0.1)
    X, y = _regression(64)
    step = parallel.data_parallel_step(opt, _mse, mesh)
    _raises(ValueError, "data_parallel_step: batch[0]", step, P0, opt.init(P0), X[:62], y[:62])
    _raises(ValueError, "data_parallel_step: every array", step, P0, opt.init(P0), X, y[:60])
    _raises(ValueError, "no examples", step, P0, opt.init(P0), X[:0], y[:0])
    _raises(ValueError, "data_parallel_step: state", step, P0, optim.adam(0.1).init(P0), X, y)
    _raises(TypeError, "data_parallel_step: every leaf of params", step,
            {"w": jnp.zeros(5, jnp.int32), "b": jnp.zeros(())}, opt.init(P0), X, y)
    _raises(ValueError, "data_parallel_step: method", parallel.data_parallel_step, opt, _mse,
            mesh, method="pmap")
    _raises(TypeError, "data_parallel_step: mesh", parallel.data_parallel_step, opt, _mse,
            jax.devices("cpu"))
    _raises(TypeError, "data_parallel_step: optimizer", parallel.data_parallel_step, "sgd",
            _mse, mesh)
    _raises(ValueError, "axis_name", parallel.data_parallel_step, opt, _mse, mesh,
            axis_name="model")
    two_axes = jax.sharding.Mesh(np.array(jax.devices("cpu")).reshape(2, 4), ("data", "model"))
    _raises(ValueError, "name the one", parallel.data_parallel_step, opt, _mse, two_axes)
    x, w = jnp.ones((3, 8)), jnp.ones((8, 6))
    _raises(ValueError, "column_parallel_matmul: w", parallel.column_parallel_matmul, x, w, mesh)
    _raises(ValueError, "row_parallel_matmul: w", parallel.row_parallel_matmul, x, w[:6], mesh)
    _raises(TypeError, "row_parallel_matmul: x", parallel.row_parallel_matmul,
            x.astype(jnp.int32), w, mesh)
    params = layers.init_mlp(jax.random.key(0), (8, 6, 2))
    _raises(ValueError, "tensor_parallel_mlp: params[0]['w']", parallel.tensor_parallel_mlp,
            params, x, mesh)
    _raises(TypeError, "tensor_parallel_mlp: params", parallel.tensor_parallel_mlp,
            params[:1], x, mesh)
    _raises(ValueError, "ring_all_reduce_bytes: n_bytes", parallel.ring_all_reduce_bytes, -1.0, 4)
    _raises(ValueError, "step_time_model: num_devices", parallel.step_time_model, 1, 1, 0,
            flops_per_second=1.0, bandwidth=1.0)
    # the sizes per device agree with the two-axis mesh when the axis is named
    assert parallel.data_parallel_step(opt, _mse, two_axes, axis_name="model").devices == 4
