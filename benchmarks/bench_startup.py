"""What having pytest-bytecode installed, but not enabled, costs pytest's start-up.

Every pytest run of a project that has the plugin installed imports its
entry point, whether or not ``--bytecode-cov`` is given.  This times whole
processes, interleaved, N times each: ``pytest --version`` and a run of one
trivial test, each with the plugin loaded as installed and with it blocked
(``-p no:bytecode``, which stops pytest from importing the entry point at
all: the same as not installed).  It prints the medians and the difference,
and the median time the import of the entry point itself takes in a fresh
process that has imported pytest (less noisy than whole processes).

Usage (in an environment where pytest-bytecode is installed)::

    python benchmarks/bench_startup.py [--runs 21] [--instructions]

``--instructions`` counts instead of timing: each case runs once under
valgrind's callgrind, installed and blocked, and the difference in
instructions executed is printed, with the milliseconds it comes to at the
rate (instructions per second) of the blocked one-test run, timed on the
same machine.  Counts do not drift with the machine's load; a few
milliseconds of difference between whole-process times do.

The goal is a difference of at most 5 ms (the plugin imports only pytest,
its option definitions and the test-context hooks; see plugin.py).

It also times what ``--bytecode-cov-subprocess`` costs a child process at
start: inside one pytest run with that option, ``python -c pass`` started N
times with the environment the run gives its children and N times without
it, interleaved (medians).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASES = {
    "pytest --version": ["--version"],
    "one test": ["-q", "-p", "no:cacheprovider", "test_one.py"],
}
MODES = {"installed": [], "blocked": ["-p", "no:bytecode"]}


def time_once(where: Path, args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pytest", *args],
        cwd=where,
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


IMPORT_TIME = """\
import time
import pytest, _pytest.pytester
start = time.perf_counter()
import pytest_bytecode.plugin
print(time.perf_counter() - start)
"""


def import_time() -> float:
    """The import of the entry point in a fresh process where pytest (and
    what a run loads of it) is already imported: the plugin's own part."""
    out = subprocess.run(
        [sys.executable, "-c", IMPORT_TIME], check=True, capture_output=True, text=True
    )
    return float(out.stdout)


#: A test that starts ``python -c pass`` N times with the environment a
#: ``--bytecode-cov-subprocess`` run gives its children and N times without
#: the two variables, interleaved, and writes the medians (seconds).
CHILD_TEST = """\
import json, os, statistics, subprocess, sys, time

def test_child_start():
    measured = dict(os.environ)
    plain = {k: v for k, v in os.environ.items() if k != "PYTEST_BYTECODE_CHILDREN"}
    plain["PYTHONPATH"] = os.pathsep.join(
        p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if "_boot" not in p
    )
    times = {"plain": [], "measured": []}
    for _ in range(int(os.environ["BENCH_RUNS"])):
        for name, env in (("plain", plain), ("measured", measured)):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)
            times[name].append(time.perf_counter() - start)
    with open(os.environ["BENCH_OUT"], "w") as f:
        json.dump({k: statistics.median(v) for k, v in times.items()}, f)
"""


def child_start(where: Path, runs: int) -> dict[str, float]:
    """Medians of a child's ``python -c pass`` with and without the
    environment of a run with ``--bytecode-cov-subprocess``."""
    (where / "test_child.py").write_text(CHILD_TEST)
    (where / "measured_pkg").mkdir(exist_ok=True)
    (where / "measured_pkg" / "__init__.py").write_text("")
    out = where / "child.json"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(BENCH_RUNS=str(runs), BENCH_OUT=str(out))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "test_child.py",
            "--bytecode-cov=measured_pkg",
            "--bytecode-cov-subprocess",
            "--bytecode-cov-report=",
        ],
        cwd=where,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    result: dict[str, float] = json.loads(out.read_text())
    return result


def instructions_once(where: Path, args: list[str]) -> int:
    """The instructions one pytest process executes, counted by valgrind's
    callgrind (``Ir``): the same for the same work whatever else the machine
    does, where a few milliseconds of start-up drown in the noise of a
    shared machine's times."""
    out = where / "callgrind.out"
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable]
    proc = subprocess.run(
        [*cmd, "-m", "pytest", *args], cwd=where, check=False, capture_output=True, text=True
    )
    totals = re.search(r"^(?:summary|totals): (\d+)", out.read_text(), re.MULTILINE)
    out.unlink()
    if proc.returncode not in (0, 5) or totals is None:  # 5: --version with no tests
        raise SystemExit(f"pytest {' '.join(args)} under callgrind failed:\n{proc.stderr[-2000:]}")
    return int(totals[1])


def count_instructions(where: Path) -> None:
    """Each case once under callgrind, installed and blocked; the difference,
    and what it comes to at the rate the blocked one-test process ran at
    (its instructions over its median wall time, timed here).  Every case
    runs once first, uncounted: the first run of a checkout compiles and
    caches the modules it imports, which no later start does again."""
    for case_args in CASES.values():
        for mode_args in MODES.values():
            time_once(where, [*mode_args, *case_args])
    counted = {
        (case, mode): instructions_once(where, [*mode_args, *case_args])
        for case, case_args in CASES.items()
        for mode, mode_args in MODES.items()
    }
    one = CASES["one test"]
    rate = counted["one test", "blocked"] / statistics.median(
        time_once(where, ["-p", "no:bytecode", *one]) for _ in range(11)
    )
    print(f"instructions (callgrind Ir), one run each; {rate / 1e9:.2f} G instructions/s:")
    for case in CASES:
        installed, blocked = counted[case, "installed"], counted[case, "blocked"]
        print(
            f"  {case:18} installed {installed:,}   blocked {blocked:,}   difference "
            f"{installed - blocked:+,} (about {(installed - blocked) / rate * 1000:+.1f} ms)"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count each case's instructions under valgrind's callgrind instead of timing",
    )
    args = parser.parse_args()
    if args.instructions:
        with tempfile.TemporaryDirectory() as tmp:
            where = Path(tmp)
            (where / "test_one.py").write_text("def test_one():\n    assert 1\n")
            count_instructions(where)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        where = Path(tmp)
        (where / "test_one.py").write_text("def test_one():\n    assert 1\n")
        times: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.runs):
            for case, case_args in CASES.items():
                for mode, mode_args in MODES.items():
                    times.setdefault((case, mode), []).append(
                        time_once(where, [*mode_args, *case_args])
                    )
        child = child_start(where, args.runs)
    imports = [import_time() for _ in range(args.runs)]
    print(f"Python {sys.version.split()[0]}, {args.runs} runs each, interleaved; medians:")
    median_import = statistics.median(imports) * 1000
    print(f"  import of pytest_bytecode.plugin after pytest: {median_import:.1f} ms")
    for case in CASES:
        installed = statistics.median(times[case, "installed"]) * 1000
        blocked = statistics.median(times[case, "blocked"]) * 1000
        print(
            f"  {case:18} installed {installed:7.1f} ms   blocked {blocked:7.1f} ms   "
            f"difference {installed - blocked:+6.1f} ms"
        )
    plain, measured = child["plain"] * 1000, child["measured"] * 1000
    print(
        f"  a child's python -c pass: plain {plain:7.1f} ms   under "
        f"--bytecode-cov-subprocess {measured:7.1f} ms   difference {measured - plain:+6.1f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
