"""The benchmark of dlmath's kernels against their peers: ``python -m benchmarks``.

Each row times a dlmath kernel (or its gradient) and the function a JAX user would pick
instead (optax, jax.nn, flax.linen, ``lax.conv_general_dilated``) on the same inputs, in
one process: both compiled, warmed up, then timed in interleaved rounds
(:func:`dlmath.bench.compare`); the ratio is peer time / dlmath time, so above 1 dlmath is
faster. The table and a JSON file (``--json``) name the machine and its number of devices.
A benchmark is not a test: the tests only check that each row compares like with like (the
two sides compute the same numbers on small inputs).

The rows of :mod:`dlmath.parallel` split their work over a mesh of this process's devices.
A CPU backend has one device unless XLA is told otherwise before it starts, and the other
rows are timed as a user runs them, on that one device; so the parallel rows are timed in a
process of their own, ``python -m benchmarks --only parallel --devices 8``
(:func:`host_devices`); a run with one device leaves them out and says so.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time

import jax

from benchmarks.case import Case, devices_label
from benchmarks.cases import all_cases
from dlmath import bench

__all__ = ["BEHIND", "Case", "all_cases", "run", "main", "host_devices"]

_DEVICE_COUNT = "--xla_force_host_platform_device_count"


def host_devices(n: int) -> None:
    """Give XLA's CPU backend ``n`` devices: ``--xla_force_host_platform_device_count=n`` in
    ``XLA_FLAGS`` (replacing a count already there, keeping the other flags). XLA reads it
    once, when the CPU backend starts, so this must run before JAX first uses a backend
    (importing :mod:`benchmarks` does not); an accelerator's devices are not changed."""
    if n < 1:
        raise ValueError(f"host_devices: n must be a positive number of devices; got {n}.")
    kept = [f for f in os.environ.get("XLA_FLAGS", "").split()
            if f.split("=", 1)[0] != _DEVICE_COUNT]
    os.environ["XLA_FLAGS"] = " ".join([*kept, f"{_DEVICE_COUNT}={n}"])


#: a row whose ratio is below this is behind its peer
BEHIND = 0.95


def _time(case: Case, n: int, size: str, rounds: int, repeats: int):
    """``(dlmath seconds, peer seconds)`` of a case, its inputs drawn from key ``n``."""
    ours, peer, ours_args, peer_args = case.build(jax.random.key(n), size)
    timing = bench.compare({"dlmath": (ours, ours_args), "peer": (peer, peer_args)},
                           rounds=rounds, repeats=repeats)
    return timing.seconds["dlmath"], timing.seconds["peer"]


def run(cases: list[Case], *, rounds: int = 7, repeats: int = 5, size: str = "full",
        rerun_rounds: int = 21, out=sys.stdout) -> dict:
    """Time every case; print one row as each finishes; then time the rows that came out
    behind (ratio below :data:`BEHIND`) once more with ``rerun_rounds`` rounds (0: not), on
    the same inputs, since one run on a busy machine can put a row behind by chance; return
    the report (a dict; a rerun row also holds ``rerun_ratio`` and its times)."""
    report = {"machine": bench.machine(), "devices": len(jax.devices()), "jax": jax.__version__,
              "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "rounds": rounds,
              "repeats": repeats, "rerun_rounds": rerun_rounds, "rows": []}
    print(f"machine: {report['machine']}, {devices_label(report['devices'])}  (jax "
          f"{report['jax']}; ratio = peer time / dlmath time: above 1, dlmath is faster)",
          file=out)
    header = f"{'kernel':<60} {'shape':<30} {'dlmath':>10} {'peer':>10} {'ratio':>6}  peer"
    print(header, file=out)
    print("-" * len(header), file=out)
    numbered = {}  # id of a timed row -> the number of its case (and of its inputs' key)
    for n, case in enumerate(cases):
        try:
            ours_s, peer_s = _time(case, n, size, rounds, repeats)
        except Exception as error:  # one broken row does not stop the table
            report["rows"].append({"kernel": case.kernel, "error": repr(error)})
            print(f"{case.kernel:<60} failed: {error!r}"[:200], file=out, flush=True)
            continue
        row = {"kernel": case.kernel, "shape": case.shape, "peer": case.peer_name,
               "dlmath_seconds": ours_s, "peer_seconds": peer_s, "ratio": peer_s / ours_s}
        if case.note:
            row["note"] = case.note
        report["rows"].append(row)
        numbered[id(row)] = n
        _print_row(row, case, out)
    behind = [r for r in report["rows"] if r.get("ratio", 1.0) < BEHIND]
    failed = [r for r in report["rows"] if "error" in r]
    print(f"\n{len(report['rows'])} rows; {len(behind)} below {BEHIND}"
          + (": " + ", ".join(r["kernel"] for r in behind) if behind else "")
          + (f"; {len(failed)} failed" if failed else ""), file=out)
    if behind and rerun_rounds:
        print(f"\nthe rows below {BEHIND}, timed again ({rerun_rounds} rounds):", file=out)
        for row in behind:
            n = numbered[id(row)]
            ours_s, peer_s = _time(cases[n], n, size, rerun_rounds, repeats)
            row.update(rerun_dlmath_seconds=ours_s, rerun_peer_seconds=peer_s,
                       rerun_ratio=peer_s / ours_s)
            _print_row({**row, "dlmath_seconds": ours_s, "peer_seconds": peer_s,
                        "ratio": peer_s / ours_s}, cases[n], out)
        behind = [r for r in behind if r["rerun_ratio"] < BEHIND]
        print(f"\n{len(behind)} rows below {BEHIND} in both runs"
              + (": " + ", ".join(r["kernel"] for r in behind) if behind else ""), file=out)
    for note in dict.fromkeys(r["note"] for r in behind if "note" in r):
        print(f"  why: {note}", file=out)
    return report


def _print_row(row: dict, case: Case, out) -> None:
    print(f"{case.kernel:<60} {case.shape:<30} {_ms(row['dlmath_seconds']):>10} "
          f"{_ms(row['peer_seconds']):>10} {row['ratio']:>6.2f}  {case.peer_name}", file=out,
          flush=True)


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms"


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Time each dlmath kernel against its peer (ratio = peer / dlmath).")
    parser.add_argument("--only", default="", help="a regular expression: the rows to run "
                        "(matched against the kernel's name), e.g. 'conv|pool'")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (median)")
    parser.add_argument("--repeats", type=int, default=5, help="calls per round (median)")
    parser.add_argument("--rerun-rounds", type=int, default=21, help="time the rows that "
                        f"come out below {BEHIND} again with this many rounds (0: do not)")
    parser.add_argument("--json", default="", help="write the report to this file")
    parser.add_argument("--list", action="store_true", help="list the rows and stop")
    parser.add_argument("--devices", type=int, default=0, help="give the CPU backend this "
                        "many devices, for the mesh of the parallel rows (run them alone: "
                        "--only parallel --devices 8); default: leave XLA's flags alone")
    args = parser.parse_args(argv)
    if args.devices:
        try:
            host_devices(args.devices)  # before all_cases(), which starts the backend
        except ValueError as e:
            parser.error(f"--devices: {e}")
        if len(jax.devices("cpu")) != args.devices:
            parser.error(f"--devices {args.devices}: JAX's CPU backend had already started "
                         f"with {len(jax.devices('cpu'))} devices; set it in a new process")
    cases = [c for c in all_cases() if re.search(args.only, c.kernel)]
    if not cases:
        parser.error(f"no row matches --only {args.only!r}; see --list")
    if args.list:
        for c in cases:
            print(f"{c.kernel:<60} {c.shape:<30} {c.peer_name}")
        return 0
    from benchmarks.parallel_cases import mesh_devices

    if mesh_devices() == 1:  # a split over one device times nothing the row is about
        split = [c for c in cases if c.kernel.startswith("parallel.")]
        cases = [c for c in cases if not c.kernel.startswith("parallel.")]
        if split:
            print(f"{len(split)} rows of dlmath.parallel left out: this process has one "
                  "device; run them with --only parallel --devices 8")
        if not cases:
            return 1
    report = run(cases, rounds=args.rounds, repeats=args.repeats,
                 rerun_rounds=args.rerun_rounds)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
        print(f"written: {args.json}")
    return 1 if any("error" in r for r in report["rows"]) else 0
