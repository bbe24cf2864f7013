"""What a very large measured module costs: its import, the whole run, memory.

Generates a module of N functions of ten lines each (an ``if``, a list
comprehension and a ``try``/``finally`` in every one: 10*N lines), and a test
file with one test that imports it and calls one of its functions.  Then it
times whole pytest processes, interleaved, after one untimed warm-up each:

* ``plain``: ``pytest`` (pytest-bytecode installed, not enabled);
* ``warm``: ``pytest --bytecode-cov=bigmod --bytecode-cov-report=`` over the
  instrumentation cache its warm-up filled.

Each process writes how long the ``import bigmod`` statement took
(``time.perf_counter`` around it, in the test); the script prints, per
mode, the medians of that import time, of the whole run's wall time, and the
largest peak RSS (``ru_maxrss`` from ``os.wait4``), and the ratios to plain.
``.pyc`` writing is on in every run (``PYTHONDONTWRITEBYTECODE`` is removed
from the children's environment), so the plain import reads the module's
``.pyc`` as an installed package's would be read.

Usage (in an environment where pytest-bytecode is installed)::

    python benchmarks/bench_bigmodule.py [--functions 5000] [--runs 5]

The goal (issue "fixed costs"): the import under ``--bytecode-cov`` with a
warm cache at most twice the plain import.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FUNCTION = """\
def f{i}(x, items):
    if x > {i}:
        y = x - {i}
    else:
        y = x + {i}
    squares = [v * v for v in items if v % 2]
    try:
        return y + sum(squares)
    finally:
        x = None
"""

TEST = """\
import os
import time


def test_import():
    start = time.perf_counter()
    import bigmod
    took = time.perf_counter() - start
    with open(os.environ["BIGMOD_IMPORT_TIME"], "w") as f:
        f.write(repr(took))
    assert bigmod.f1(3, [1, 2, 3]) == 12
"""

MODES = {
    "plain": [],
    "warm": ["--bytecode-cov=bigmod", "--bytecode-cov-report="],
}


def write_project(where: Path, functions: int) -> None:
    """The module (10 lines a function) and its one test."""
    (where / "bigmod.py").write_text("".join(FUNCTION.format(i=i) for i in range(functions)))
    (where / "test_big.py").write_text(TEST)


def run_once(where: Path, mode: str) -> tuple[float, float, float]:
    """(import seconds, wall seconds, peak RSS in MB) of one pytest process."""
    took = where / "import-time.txt"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["BIGMOD_IMPORT_TIME"] = str(took)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", *MODES[mode], "test_big.py"]
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=where, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.stdout.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{mode} run failed:\n{output.decode(errors='replace')}")
    return float(took.read_text()), wall, usage.ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--functions", type=int, default=5000, help="functions in the module")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per mode")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        where = Path(tmp)
        write_project(where, args.functions)
        for mode in MODES:  # warm-up: the .pyc, and the instrumentation cache
            run_once(where, mode)
        results: dict[str, list[tuple[float, float, float]]] = {m: [] for m in MODES}
        for _ in range(args.runs):
            for mode in MODES:
                results[mode].append(run_once(where, mode))
    lines = 10 * args.functions
    print(
        f"{lines:,} lines, {args.functions:,} functions; Python {sys.version.split()[0]}; "
        f"{args.runs} runs per mode, medians"
    )
    base_import = statistics.median(r[0] for r in results["plain"])
    base_wall = statistics.median(r[1] for r in results["plain"])
    print(f"{'mode':<8} {'import':>10} {'ratio':>7} {'run':>9} {'ratio':>7} {'peak RSS':>9}")
    for mode, rows in results.items():
        imp = statistics.median(r[0] for r in rows)
        wall = statistics.median(r[1] for r in rows)
        rss = max(r[2] for r in rows)
        print(
            f"{mode:<8} {imp * 1000:8.1f}ms {imp / base_import:6.2f}x "
            f"{wall:8.2f}s {wall / base_wall:6.2f}x {rss:7.0f}MB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
