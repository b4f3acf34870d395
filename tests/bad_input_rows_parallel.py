"""Rows of the bad-input fuzz test for dlmath.parallel (chapter 12), on a mesh of two of the
8 CPU devices that tests/conftest.py gives the test process (sizes that split over two
devices: N = 4 examples, H = 4 hidden units)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from bad_input_cases import LR, NONNEG, A, H, Spec, normal


@functools.lru_cache(maxsize=1)
def _mesh():
    return jax.sharding.Mesh(np.array(jax.devices("cpu")[:2]), ("data",))


def _mse(p, X, y):
    return jnp.mean(jnp.square(X @ p["w"] + p["b"] - y))


@functools.lru_cache(maxsize=4)
def _step(method):
    from dlmath import optim, parallel

    return parallel.data_parallel_step(optim.sgd(0.1), _mse, _mesh(), method=method)


def _dp_call(fn, params, X, y, method):
    from dlmath import optim, parallel

    step = _step(method) if fn is parallel.data_parallel_step else fn(
        optim.sgd(0.1), _mse, _mesh(), method=method)
    # the state of float32 parameters of these shapes (plain sgd keeps none), so that the
    # step, not the optimizer's init, meets the bad parameters
    shapes = jax.tree_util.tree_map(lambda v: jnp.zeros(np.shape(v), jnp.float32), params)
    p, _, loss = step(params, optim.sgd(0.1).init(shapes), X, y)
    return p, loss


def _fs_call(fn, params, X, y):
    from dlmath import optim

    shapes = jax.tree_util.tree_map(lambda v: jnp.zeros(np.shape(v), jnp.float32), params)
    p, _, loss = fn(optim.sgd(0.1), _mse, _mesh())(params, optim.sgd(0.1).init(shapes), X, y)
    return p, loss


def _np_memory(kw):
    whole = float(kw["num_params"]) * float(kw["bytes_per_number"])
    n, stage, k = kw["num_devices"], kw["stage"], kw["moments"]
    parts = (whole / n if stage >= 3 else whole) + (whole / n if stage >= 2 else whole)
    return parts + k * (whole / n if stage >= 1 else whole) + float(kw["activations"])


def _with_mesh(fn, **kw):
    return fn(mesh=_mesh(), **kw)


def _np_mlp(kw):
    p = [{k: np.asarray(v, np.float64) for k, v in layer.items()} for layer in kw["params"]]
    x = np.asarray(kw["x"], np.float64)
    return np.maximum(x @ p[0]["w"] + p[0]["b"], 0) @ p[1]["w"] + p[1]["b"]


def _np_matmul(kw):
    return np.asarray(kw["x"], np.float64) @ np.asarray(kw["w"], np.float64)


POSITIVE = H(low=0.0, low_open=True)
DEVICES = H(count=True, low=1, static=True)


def specs() -> list[Spec]:
    xw = {("x",): A(("N", "D")), ("w",): A(("D", "K"))}
    mlp = {("params", 0, "w"): A(("D", "H"), param=True), ("params", 0, "b"): A(("H",), param=True),
           ("params", 1, "w"): A(("H", "K"), param=True), ("params", 1, "b"): A(("K",), param=True),
           ("x",): A(("N", "D"))}
    sizes = {"N": 4, "H": 4, "K": 4, "D": 2}
    return [
        Spec("parallel.data_parallel_step",
             lambda s, rng: {"params": {"w": normal(rng, (s["D"],)), "b": np.float32(0.0)},
                             "X": normal(rng, (s["N"], s["D"])), "y": normal(rng, (s["N"],)),
                             "method": "sharding"},
             {("params", "w"): A(("D",), param=True), ("params", "b"): A((), param=True),
              ("X",): A(("N", "D"), kind="real_or_bool"), ("y",): A(("N",), kind="real_or_bool")},
             {"method": H(choices=("sharding", "shard_map"), static=True)},
             call=_dp_call, empty={"N": "raise"}, out_dtype="params", jittable=False,
             names_ok=("batch",), skip=("rank",), free_letters=("D",), sizes=sizes, examples=1,
             note="data_parallel_step(optim.sgd(0.1), mean squared error, 2-device mesh)"
                  "(params, state, X, y)"),
        Spec("parallel.fully_sharded_step",
             lambda s, rng: {"params": {"w": normal(rng, (s["D"],)), "b": np.float32(0.0)},
                             "X": normal(rng, (s["N"], s["D"])), "y": normal(rng, (s["N"],))},
             {("params", "w"): A(("D",), param=True), ("params", "b"): A((), param=True),
              ("X",): A(("N", "D"), kind="real_or_bool"), ("y",): A(("N",), kind="real_or_bool")},
             call=_fs_call, empty={"N": "raise"}, out_dtype="params", jittable=False,
             names_ok=("batch",), skip=("rank",), free_letters=("D",), sizes=sizes, examples=1,
             note="fully_sharded_step(optim.sgd(0.1), mean squared error, 2-device mesh)"
                  "(params, state, X, y)"),
        Spec("parallel.memory_per_device",
             lambda s, rng: {"num_params": 1000.0, "num_devices": 4, "stage": 2,
                             "bytes_per_number": 4, "moments": 2, "activations": 64.0},
             {}, {"num_params": NONNEG, "num_devices": DEVICES,
                  "stage": H(count=True, low=0, high=3, static=True),
                  "bytes_per_number": POSITIVE, "moments": H(count=True, low=0, static=True),
                  "activations": NONNEG},
             out=lambda r: r["total"], ref=_np_memory),
        Spec("parallel.column_parallel_matmul", lambda s, rng: {
                 "x": normal(rng, (s["N"], s["D"])), "w": normal(rng, (s["D"], s["K"]))},
             xw, call=_with_mesh, empty={"N": "pass"}, out_dtype="promote", ref=_np_matmul,
             sizes=sizes, examples=1, note="on a 2-device mesh"),
        Spec("parallel.row_parallel_matmul", lambda s, rng: {
                 "x": normal(rng, (s["N"], s["D"])), "w": normal(rng, (s["D"], s["K"]))},
             xw, call=_with_mesh, empty={"N": "pass"}, out_dtype="promote", ref=_np_matmul,
             sizes=sizes, examples=1, note="on a 2-device mesh"),
        Spec("parallel.tensor_parallel_mlp", lambda s, rng: {
                 "params": [{"w": normal(rng, (s["D"], s["H"])), "b": normal(rng, (s["H"],))},
                            {"w": normal(rng, (s["H"], s["K"])), "b": normal(rng, (s["K"],))}],
                 "x": normal(rng, (s["N"], s["D"]))},
             mlp, call=_with_mesh, empty={"N": "pass"}, out_dtype="params", ref=_np_mlp,
             sizes=sizes, examples=1, names_ok=("layer",),
             note="on a 2-device mesh; a kernel that does not chain is named by its layer, "
                  "as in dlmath.layers"),
        Spec("parallel.ring_all_reduce_bytes",
             lambda s, rng: {"n_bytes": 1000.0, "num_devices": 4}, {},
             {"n_bytes": NONNEG, "num_devices": DEVICES},
             ref=lambda kw: 2 * (kw["num_devices"] - 1) * kw["n_bytes"] / kw["num_devices"]),
        Spec("parallel.step_time_model",
             lambda s, rng: {"batch_size": 64, "num_params": 1e6, "num_devices": 4,
                             "flops_per_second": 1e12, "bandwidth": 1e10, "latency": 1e-5,
                             "bytes_per_param": 4},
             {}, {"batch_size": POSITIVE, "num_params": POSITIVE, "num_devices": DEVICES,
                  "flops_per_second": LR, "bandwidth": POSITIVE, "latency": NONNEG,
                  "bytes_per_param": POSITIVE},
             ref=lambda kw: (6 * kw["batch_size"] * kw["num_params"]
                             / (kw["num_devices"] * kw["flops_per_second"]),
                             2 * (kw["num_devices"] - 1)
                             * (kw["bytes_per_param"] * kw["num_params"]
                                / (kw["num_devices"] * kw["bandwidth"]) + kw["latency"]))),
    ]
