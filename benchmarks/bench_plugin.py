"""What ``--bytecode-cov`` costs on a real project's own test suite.

Runs the test suite of a pure-Python project installed from PyPI (default:
more-itertools, whose sdist ships its tests) three ways, interleaved, N times
each: plain pytest, pytest-cov's line coverage (``--cov``), and pytest-bytecode
(``--bytecode-cov``).  Prints the median wall time of each and the two ratios
over the plain run.

Usage (any supported CPython; everything goes into a scratch directory)::

    python benchmarks/bench_plugin.py [--runs 5] [--package more-itertools]
        [--version 11.2.1] [--module more_itertools] [--workdir /tmp/bench-plugin]
        [--workers N]

With ``--workers N`` every mode, the plain one included, runs under
pytest-xdist with ``-n N`` (what per-test crash safety costs shows there).

The project is installed from PyPI into a fresh venv together with pytest,
pytest-cov and this checkout of pytest-bytecode; its tests are copied out of
the sdist and run against the installed package (not the sdist's sources).
Both coverage tools measure the same module (``--module``); neither writes
its report (``--cov-report=`` / ``--bytecode-cov-report=``), so the figures
are measurement plus data-file cost.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(cmd: list[str], **kwargs: object) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kwargs)  # type: ignore[call-overload]


def prepare(workdir: Path, package: str, version: str) -> tuple[Path, Path]:
    """The venv's python and the copied test directory."""
    venv = workdir / "venv"
    python = venv / "bin" / "python"
    if not python.exists():
        run([sys.executable, "-m", "venv", str(venv)])
        run([str(python), "-m", "pip", "install", "-q", "pytest", "pytest-cov", "pytest-xdist"])
        run([str(python), "-m", "pip", "install", "-q", f"{package}=={version}"])
    # Always this checkout as it is now (the venv may be from an earlier run).
    run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(ROOT)])
    suite = workdir / "suite"
    if not suite.exists():
        dl = workdir / "sdist"
        run(
            [
                str(python), "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                "-d", str(dl), f"{package}=={version}",
            ]
        )  # fmt: skip
        archive = next(dl.glob("*.tar.gz"))
        with tarfile.open(archive) as tar:
            if hasattr(tarfile, "data_filter"):  # safe extraction where available
                tar.extractall(dl, filter="data")
            else:
                tar.extractall(dl)
        top = next(p for p in dl.iterdir() if p.is_dir())
        suite.mkdir()
        shutil.copytree(top / "tests", suite / "tests")
        (suite / "pytest.ini").write_text("[pytest]\n")
    return python, suite


def time_once(python: Path, suite: Path, extra: list[str]) -> float:
    cmd = [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", *extra]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=suite, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        print(proc.stdout[-2000:], proc.stderr[-2000:])
        raise SystemExit(f"pytest exited {proc.returncode} for {' '.join(extra) or 'plain'}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--package", default="more-itertools")
    parser.add_argument("--version", default="11.2.1")
    parser.add_argument("--module", default="more_itertools")
    parser.add_argument("--workdir", default="/tmp/bench-plugin")
    parser.add_argument("--workers", type=int, default=0, help="pytest-xdist -n (0: no xdist)")
    args = parser.parse_args()
    workdir = Path(args.workdir) / f"py{sys.version_info[0]}{sys.version_info[1]}"
    workdir.mkdir(parents=True, exist_ok=True)
    python, suite = prepare(workdir, args.package, args.version)
    common = ["-n", str(args.workers)] if args.workers else []
    modes = {
        "plain": [*common],
        "pytest-cov --cov": [*common, f"--cov={args.module}", "--cov-report="],
        "--bytecode-cov": [*common, f"--bytecode-cov={args.module}", "--bytecode-cov-report="],
    }
    for extra in modes.values():  # warm-up: imports, .pyc files, instrumentation cache
        time_once(python, suite, extra)
    times: dict[str, list[float]] = {name: [] for name in modes}
    for _ in range(args.runs):
        for name, extra in modes.items():
            times[name].append(time_once(python, suite, extra))
    medians = {name: statistics.median(values) for name, values in times.items()}
    print()
    where = f", -n {args.workers}" if args.workers else ""
    print(f"{args.package} {args.version} test suite{where}, Python {sys.version.split()[0]}, "
          f"median of {args.runs} runs")  # fmt: skip
    for name, value in medians.items():
        ratio = value / medians["plain"]
        print(f"  {name:<18} {value:7.2f} s   x{ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
