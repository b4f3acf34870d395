"""The data-parallel step run by two processes through JAX's distributed runtime on this
machine (a coordinator on a free loopback port, gloo CPU collectives), each process holding
only its half of the examples: the losses and parameters after N steps equal one process
training on all the examples with dlmath.training.fit. The processes are started by the
test, bounded in time, and stopped whatever happens."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

from dlmath import optim, training
from dlmath.parallel import multiprocess

ROOT = Path(__file__).resolve().parent.parent
STEPS, EXAMPLES, LR = 5, 64, 0.1


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(num_processes: int, timeout: float = 120.0) -> list[dict]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env |= {"JAX_PLATFORMS": "cpu", "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "dlmath.parallel.multiprocess", "--num-processes",
               str(num_processes), "--coordinator", f"127.0.0.1:{port}", "--steps", str(STEPS),
               "--examples", str(EXAMPLES), "--learning-rate", str(LR), "--timeout", "60"]
    procs = [subprocess.Popen(command + ["--process-id", str(p)], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for p in range(num_processes)]
    outputs = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=timeout)
            assert proc.returncode == 0, err[-3000:]
            outputs.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for proc in procs:  # stop every process, also when one failed or hung
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return outputs


def test_two_processes_train_as_one_process_on_all_the_examples():
    outputs = _run(2)
    X, y = multiprocess.local_examples(0, 1, EXAMPLES)
    params0 = {"w": jnp.zeros(multiprocess.FEATURES), "b": jnp.zeros(())}
    reference, history = training.fit(optim.adam(LR), multiprocess.loss, params0, (X, y),
                                      steps=STEPS)
    for out in outputs:
        assert out["processes"] == 2 and out["devices"] == 2
        np.testing.assert_allclose(out["losses"], history.loss, rtol=1e-5)
        np.testing.assert_allclose(out["w"], reference["w"], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(out["b"], reference["b"], rtol=1e-5, atol=1e-6)
    assert outputs[0] == outputs[1]  # the same replicated result read in each process


def test_each_process_holds_only_its_own_examples_and_together_they_are_the_data_set():
    halves = [multiprocess.local_examples(p, 2, EXAMPLES) for p in range(2)]
    X, y = multiprocess.local_examples(0, 1, EXAMPLES)
    assert all(h[0].shape == (EXAMPLES // 2, multiprocess.FEATURES) for h in halves)
    np.testing.assert_array_equal(np.concatenate([h[0] for h in halves]), X)
    np.testing.assert_array_equal(np.concatenate([h[1] for h in halves]), y)


@pytest.mark.parametrize("argv, fragment", [
    (["--process-id", "2", "--num-processes", "2"], "--process-id must be in [0, 2)"),
    (["--process-id", "0", "--num-processes", "3"], "must be a multiple of --num-processes"),
])
def test_bad_arguments_stop_before_joining(argv, fragment, capsys):
    with pytest.raises(SystemExit):
        multiprocess.main(argv + ["--coordinator", "127.0.0.1:1"])
    assert fragment in capsys.readouterr().err
