"""The data-parallel step run by several processes through JAX's distributed runtime.

Start one process per host (here: per CPU process on one machine), each with its id, the
number of processes and the address of the coordinator (process 0)::

    python -m dlmath.parallel.multiprocess --process-id 0 --num-processes 2 \\
        --coordinator 127.0.0.1:12355 &
    python -m dlmath.parallel.multiprocess --process-id 1 --num-processes 2 \\
        --coordinator 127.0.0.1:12355

Each process calls ``jax.distributed.initialize`` (on CPU, with gloo collectives), so that
``jax.devices()`` lists the devices of every process; it then builds only its own examples
(:func:`local_examples`: process $p$ of $P$ holds examples $pN/P$ to $(p + 1)N/P - 1$),
assembles the global batch from the processes' pieces with
``jax.make_array_from_process_local_data``, and runs ``--steps`` steps of
:func:`dlmath.parallel.data_parallel_step` with Adam on a linear regression. The last line
it prints is JSON: the losses of the steps and the final parameters, the same in every
process; ``tests/test_parallel_multiprocess.py`` compares them with one process training on
all the examples. Nothing here is special to one machine but the address: on several hosts
the coordinator is process 0's address, reachable from the others.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

__all__: list[str] = []

#: the features of an example and the true weights of the regression
FEATURES = 4
TRUE_W = np.arange(1.0, FEATURES + 1.0)


def local_examples(process_id: int, num_processes: int, num_examples: int):
    """Process ``process_id``'s examples of the global data set: ``(X, y)`` of its
    ``num_examples // num_processes`` rows, float32, ``X (N/P, 4)`` and ``y (N/P,)``. Row
    ``i`` is drawn from a generator seeded with ``i`` alone, so the union over processes is
    the data set that one process builds with ``local_examples(0, 1, num_examples)``."""
    per = num_examples // num_processes
    rows = range(process_id * per, (process_id + 1) * per)
    draws = [np.random.default_rng(i).normal(size=FEATURES + 1) for i in rows]
    X = np.array([d[:FEATURES] for d in draws], np.float32).reshape(per, FEATURES)
    y = (X @ TRUE_W + 0.1 * np.array([d[FEATURES] for d in draws])).astype(np.float32)
    return X, y


def loss(params, X, y):
    """The mean squared error of the linear model ``X @ w + b``."""
    import jax.numpy as jnp

    return jnp.mean(jnp.square(X @ params["w"] + params["b"] - y))


def _arguments(argv):
    parser = argparse.ArgumentParser(prog="python -m dlmath.parallel.multiprocess",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--process-id", type=int, required=True)
    parser.add_argument("--num-processes", type=int, required=True)
    parser.add_argument("--coordinator", required=True, help="host:port of process 0")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--examples", type=int, default=64, help="the global batch N")
    parser.add_argument("--learning-rate", type=float, default=0.1)
    parser.add_argument("--timeout", type=int, default=60,
                        help="seconds to wait for every process to join")
    args = parser.parse_args(argv)
    if not 0 <= args.process_id < args.num_processes:
        parser.error(f"--process-id must be in [0, {args.num_processes}) for "
                     f"--num-processes {args.num_processes}; got {args.process_id}")
    if args.examples % args.num_processes:
        parser.error(f"--examples ({args.examples}) must be a multiple of --num-processes "
                     f"({args.num_processes}): every process holds the same number")
    return args


def main(argv=None) -> dict:
    """Join the distributed run, train, print and return ``{"losses", "w", "b",
    "processes", "devices"}``."""
    args = _arguments(argv)
    import jax

    # before any computation: the CPU backend must start with the distributed client
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=args.coordinator,
                               num_processes=args.num_processes, process_id=args.process_id,
                               initialization_timeout=args.timeout)
    if jax.process_count() != args.num_processes:
        raise RuntimeError(f"--num-processes is {args.num_processes}, but the coordinator "
                           f"counts {jax.process_count()} processes; start every process "
                           "with the same --num-processes.")
    import jax.numpy as jnp
    from jax.sharding import Mesh, NamedSharding
    from jax.sharding import PartitionSpec as P

    from dlmath import optim, parallel

    mesh = Mesh(np.array(jax.devices()), ("data",))  # every process's devices
    X, y = local_examples(args.process_id, args.num_processes, args.examples)
    split = NamedSharding(mesh, P("data"))
    # one global array from the processes' pieces: no process ever holds the whole batch
    X = jax.make_array_from_process_local_data(split, X, (args.examples, FEATURES))
    y = jax.make_array_from_process_local_data(split, y, (args.examples,))
    opt = optim.adam(args.learning_rate)
    params = {"w": jnp.zeros(FEATURES), "b": jnp.zeros(())}
    state = opt.init(params)
    step = parallel.data_parallel_step(opt, loss, mesh)
    losses = []
    for _ in range(args.steps):
        params, state, value = step(params, state, X, y)
        losses.append(value)
    # the results are replicated: each process reads its own copy
    local = lambda v: np.asarray(v.addressable_data(0), np.float64).tolist()  # noqa: E731
    out = {"losses": [local(v) for v in losses], "w": local(params["w"]),
           "b": local(params["b"]), "processes": jax.process_count(),
           "devices": len(jax.devices())}
    print(json.dumps(out), flush=True)
    jax.distributed.shutdown()
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
