"""The benchmark compares like with like: on small inputs each row's dlmath side and peer
side compute the same numbers (so a ratio is a ratio of the same work). No time is
asserted anywhere: ``python -m benchmarks`` prints the times."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from benchmarks import all_cases, host_devices, main, run

CASES = all_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.kernel for c in CASES])
def test_each_row_computes_what_its_peer_computes(case):
    ours, peer, ours_args, peer_args = case.build(jax.random.key(0), "tiny")
    got, want = jax.jit(ours)(*ours_args), jax.jit(peer)(*peer_args)
    got_leaves, want_leaves = jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)
    assert len(got_leaves) == len(want_leaves) and got_leaves
    for g, w in zip(got_leaves, want_leaves, strict=True):
        assert np.shape(g) == np.shape(w)
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=2e-4, atol=2e-5)


def test_the_runner_prints_a_row_per_case_and_a_report(tmp_path):
    out = io.StringIO()
    report = run(CASES[:2], rounds=1, repeats=1, size="tiny", out=out)
    text = out.getvalue()
    assert text.startswith("machine: ") and report["machine"] in text
    assert [r["kernel"] for r in report["rows"]] == [c.kernel for c in CASES[:2]]
    for row in report["rows"]:
        assert row["ratio"] == pytest.approx(row["peer_seconds"] / row["dlmath_seconds"])
        assert row["kernel"] in text
    json.dumps(report)  # the report is what --json writes


def test_a_row_behind_its_peer_is_timed_again_and_reported_with_both_ratios():
    """A row whose dlmath side does 40 times its peer's work comes out behind; the runner
    times it again (on the same inputs) and lists it as behind in both runs."""
    from benchmarks import BEHIND, Case

    def slow(key, size):
        x = jax.random.normal(key, (64, 64))
        ours = lambda a: jax.lax.fori_loop(0, 40, lambda i, b: jnp.tanh(b @ a), a)  # noqa: E731
        return ours, lambda a: jnp.tanh(a @ a), (x,), (x,)
    out = io.StringIO()
    report = run([Case("slow", "64x64", "peer", slow, note="it loops"), CASES[0]], rounds=3,
                 repeats=3, size="tiny", rerun_rounds=3, out=out)
    slow_row, other = report["rows"]
    assert slow_row["ratio"] < BEHIND and slow_row["rerun_ratio"] < BEHIND
    assert slow_row["rerun_ratio"] == pytest.approx(
        slow_row["rerun_peer_seconds"] / slow_row["rerun_dlmath_seconds"])
    assert ("rerun_ratio" in other) == (other["ratio"] < BEHIND)
    text = out.getvalue()
    assert "timed again (3 rounds)" in text and "in both runs: slow" in text
    assert "why: it loops" in text
    json.dumps(report)


def test_the_command_lists_rows_and_refuses_an_empty_selection(capsys):
    assert main(["--list", "--only", "^conv"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed and all(line.startswith("conv.") for line in listed)
    with pytest.raises(SystemExit):
        main(["--only", "no such kernel"])


def test_a_row_that_fails_is_reported_and_the_table_goes_on():
    def broken(key, size):
        raise RuntimeError("no such kernel")
    from benchmarks import Case
    out = io.StringIO()
    report = run([Case("broken", "-", "peer", broken), CASES[0]], rounds=1, repeats=1,
                 size="tiny", out=out)
    assert "error" in report["rows"][0] and "ratio" in report["rows"][1]
    assert "broken" in out.getvalue() and "1 failed" in out.getvalue()


def test_devices_gives_a_fresh_process_that_many_cpu_devices_for_the_parallel_rows(
        monkeypatch):
    """--devices N sets XLA's host device count before the backend starts: the parallel
    rows' mesh then has N devices (a new process; this one's backend has started)."""
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_enable_fast_math=false "
                       "--xla_force_host_platform_device_count=2")
    host_devices(4)
    assert os.environ["XLA_FLAGS"].split() == [
        "--xla_cpu_enable_fast_math=false", "--xla_force_host_platform_device_count=4"]
    monkeypatch.delenv("XLA_FLAGS")
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    listed = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--list", "--only", "^parallel", "--devices", "4"],
        capture_output=True, text=True, env=env, cwd=Path(__file__).parents[1], check=True,
        timeout=300).stdout.splitlines()
    assert listed and all("4 devices" in line for line in listed), listed
