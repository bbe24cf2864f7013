"""What per-test contexts (``--bytecode-cov-context=test``) cost: time and data file.

Generates a package, ``ctxbench``, of several modules of small functions with
branches, loops, ``try``/``except``, ``match``, comprehensions, nested
functions and generators, and calls between them (about 50,000 bytecode
instructions on CPython 3.12 with the defaults, as the data file counts
them), and a test suite of 5,000 tests: per module a test module of
parametrized test functions, each test calling a few functions of its module
(two named, one picked from a table by the parameter, sometimes one of
another module) with arguments made from the parameter, so that different
tests take different paths; a third of the test functions use a fixture
whose setup and teardown run measured code too.

The runs use a venv of their own, ``<work>/cpXY/venv``, made from the
running interpreter with the pins of ``tools/projects/common.txt`` (pytest,
pytest-xdist, pytest-bytecode's dependencies) and reused while they stay the
same, into which this checkout is installed from a wheel built at every
invocation, as ``bench_compare.py`` does: what is timed is the checkout as
it was when the script started, installed as a user installs it, whatever
happens to the working tree during the runs.  The script prints the commit
and how many files of ``pytest_bytecode/`` differed from it.  With ``--ref
REV`` the wheel is built from that commit instead (``git archive``), not
from the working tree.

Then it times whole pytest processes, interleaved, after one untimed warm-up
of each mode (which fills that mode's instrumentation cache):

* ``plain``: ``pytest`` (pytest-bytecode installed, not enabled);
* ``bc``: ``--bytecode-cov=ctxbench --bytecode-cov-report=``, warm cache;
* ``bc-ctx``: the same with ``--bytecode-cov-context=test``, warm cache;

and with ``--workers N`` the same three again under pytest-xdist, ``-n N``.
Every run has ``-p no:randomly``, its own ``-o cache_dir=`` and data file,
and ``.pyc`` writing on (``PYTHONDONTWRITEBYTECODE`` is removed from the
children's environment, as in the other benchmarks); every run must pass
all the tests, and the coverage runs must write their data file.

Prints the median wall time of each mode, its spread, the median CPU time
(user + system from ``os.wait4``: the pytest process and the children it
waited for, xdist's workers; less disturbed than wall time by other work on
a busy machine) and the peak RSS (``ru_maxrss``, the pytest process; under
xdist the largest of the controller and its workers), the ratios to plain
and of ``bc-ctx`` to ``bc`` (of the medians, and the median of each
round's own ratio: the modes of a round run one after the other, so that
ratio drifts less with a machine whose speed drifts), and the data files
of the last timed runs: size in bytes with and without contexts,
the number of instructions and branches they list (every instruction of
every code object of the package, run or not), of contexts, and of tests
with a context.

``--profile`` also runs the ``bc-ctx`` mode once under cProfile (after the
timed rounds) and prints the functions of pytest_bytecode that cost most.

``--instructions`` also runs ``plain``, ``bc`` and ``bc-ctx`` once each under
valgrind's callgrind and prints the instructions each executed (``Ir``) and
their ratios: a measure that does not drift with the machine's load (times
on a shared virtual machine swing by tens of percent between rounds), at
about fifty times the run's time (``--tests 1000`` keeps it to minutes).

Usage (in an environment where pytest-bytecode is installed)::

    python benchmarks/bench_contexts.py [--runs 5] [--workers 2] [--profile] [--instructions]
        [--modules 10] [--functions 91] [--tests 5000] [--work DIR] [--ref REV]

The goal (per-test contexts): 5,000 tests over 50,000 instructions grow the
data file by at most a few MB, and ``bc-ctx`` costs at most 10 % more time
than ``bc``.
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import projects_diff as pd  # noqa: E402

PACKAGE = "ctxbench"
PINS = ROOT / "tools" / "projects" / "common.txt"

#: Function shapes: ``{i}`` the function's number, ``{j}`` an earlier one of
#: the same module (shape "call"), the rest constants drawn per function.
SHAPES = {
    "ifs": """\
def f{i}(x, items):
    total = 0
    if x > {c1}:
        total += x - {c1}
    elif x < -{c2}:
        total -= x
    else:
        total = {c3}
    for v in items:
        if v % {m} == 0:
            total += v
        else:
            total ^= v
    return total
""",
    "try": """\
def f{i}(x, items):
    try:
        y = {c1} // (x % {m})
    except ZeroDivisionError:
        y = -1
    words = [str(v) for v in items if v > y]
    if not words:
        return y
    return len("".join(words)) + y
""",
    "while": """\
def f{i}(x, items):
    seen = {{}}
    n = abs(x) % {c1} + 1
    while n > 1:
        if n % 2:
            n = 3 * n + 1
        else:
            n //= 2
        seen[n] = seen.get(n, 0) + 1
        if len(seen) > {c2}:
            break
    return len(seen) + (1 if x in items else 0)
""",
    "key": """\
def f{i}(x, items):
    def key(v):
        return (v * {c1}) % {m}

    ordered = sorted(items, key=key)
    if ordered and key(ordered[0]) == 0 and x & 1:
        return ordered[0]
    return x + len(ordered)
""",
    "call": """\
def f{i}(x, items):
    if len(items) > {c4}:
        head, rest = items[0], items[1:]
    else:
        head, rest = x, items
    r = f{j}(head, rest)
    return r + x if r > {c2} else r - x
""",
    "gen": """\
def f{i}(x, items):
    def gen():
        for k, v in enumerate(items):
            if (v + k) % {m} == {r}:
                yield v * k
            elif v < -{c4}:
                return

    total = sum(gen())
    return total if total else x % {m}
""",
    "match": """\
def f{i}(x, items):
    match items:
        case []:
            return x
        case [a]:
            return a + {c1}
        case [a, b, *rest] if a > b:
            return a - b + len(rest)
        case _:
            return sum(items) % {m}
""",
}

COMMON = """\
class Registry:
    \"\"\"What the ``registry`` fixture sets up and tears down.\"\"\"

    def __init__(self, name):
        self.name = name
        self.values = []
        self.closed = False

    def add(self, *values):
        for v in values:
            if v < 0:
                self.values.append(-v)
            else:
                self.values.append(v)

    def close(self):
        total = sum(self.values) if self.values else 0
        if total > 1000:
            self.values.clear()
        self.closed = True
        return total
"""

CONFTEST = """\
import pytest

from ctxbench import common


@pytest.fixture
def registry(request):
    reg = common.Registry(request.node.name)
    yield reg
    assert reg.close() >= 0
"""

TEST_HEADER = """\
import pytest

from ctxbench import {module} as m, {other} as other


def data(case, k):
    return [(case * 7 + k * 3 + j * 5) % 23 - 6 for j in range((case + k) % 9)]
"""

TEST = """

@pytest.mark.parametrize("case", range({params}))
def test_{name}(case{fixture}):
    items = data(case, {k})
    a = m.f{a}(case * 13 - 60, items)
    b = m.f{b}(a % 101, items[::-1])
    c = m.TABLE[(case * 31 + {k}) % len(m.TABLE)](case - b % 7, items)
{extra}    assert isinstance(a + b + c, int)
"""


def module_source(rng: random.Random, functions: int) -> str:
    parts = []
    names = list(SHAPES)
    for i in range(functions):
        shape = rng.choice(names[:4] if i == 0 else names)  # f0 calls no one
        parts.append(
            SHAPES[shape].format(
                i=i,
                j=rng.randrange(max(i, 1)),
                c1=rng.randrange(1, 120),
                c2=rng.randrange(1, 60),
                c3=rng.randrange(-9, 10),
                c4=rng.randrange(0, 6),
                m=rng.randrange(2, 9),
                r=rng.randrange(0, 2),
            )
        )
    table = ", ".join(f"f{i}" for i in rng.sample(range(functions), k=min(functions, 40)))
    parts.append(f"TABLE = [{table}]\n")
    return "\n\n".join(parts)


def test_source(
    rng: random.Random, module: str, other: str, functions: int, tests: int, params: int
) -> str:
    parts = [TEST_HEADER.format(module=module, other=other)]
    for t in range(tests):
        with_fixture = t % 3 == 0
        extra = ""
        if t % 4 == 1:
            extra += f"    c += other.f{rng.randrange(functions)}(c, items[1:])\n"
        if with_fixture:
            extra += "    registry.add(a, b, c)\n"
        parts.append(
            TEST.format(
                params=params,
                name=f"t{t:02d}",
                fixture=", registry" if with_fixture else "",
                k=rng.randrange(10),
                a=rng.randrange(functions),
                b=rng.randrange(functions),
                extra=extra,
            )
        )
    return "".join(parts)


def write_if_changed(path: Path, text: str) -> None:
    """Keep the file (and its ``.pyc`` and cache entries) if it is the same."""
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def write_project(where: Path, modules: int, functions: int, tests: int) -> int:
    """The package under ``src/``, its tests under ``tests/``; returns the
    number of tests."""
    rng = random.Random(20261206)
    src = where / "src" / PACKAGE
    src.mkdir(parents=True, exist_ok=True)
    (where / "tests").mkdir(exist_ok=True)
    write_if_changed(where / "pytest.ini", "[pytest]\npythonpath = src\ntestpaths = tests\n")
    write_if_changed(src / "__init__.py", "")
    write_if_changed(src / "common.py", COMMON)
    write_if_changed(where / "tests" / "conftest.py", CONFTEST)
    per_module = max(1, tests // modules)
    test_functions = 50
    params = max(1, per_module // test_functions)
    for n in range(modules):
        module = f"m{n:02d}"
        write_if_changed(src / f"{module}.py", module_source(rng, functions))
        other = f"m{(n + 1) % modules:02d}"
        text = test_source(rng, module, other, functions, test_functions, params)
        write_if_changed(where / "tests" / f"test_{module}.py", text)
    return modules * test_functions * params


def ensure_venv(work: Path, ref: str | None) -> Path:
    """The venv's python: pins installed (reused while they and the
    interpreter are the same), this checkout (or commit ``ref`` of it)
    installed anew from a wheel."""
    venv = work / "venv"
    marker = work / "venv.key"
    key = sys.version + "\n" + PINS.read_text()
    python = pd.venv_python(venv)
    if not (python.exists() and marker.exists() and marker.read_text() == key):
        shutil.rmtree(venv, ignore_errors=True)
        marker.unlink(missing_ok=True)
        pd.check([sys.executable, "-m", "venv", str(venv)], "venv")
        pd.check(pd.pip(python, "install", "-q", "-r", str(PINS)), "pip install the pins")
        marker.write_text(key)
    source = ROOT
    if ref is not None:
        source = work / "source"
        shutil.rmtree(source, ignore_errors=True)
        source.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True)
    wheel = pd.build_wheel(source, work)
    pd.check(
        pd.pip(python, "install", "-q", "--no-deps", "--force-reinstall", str(wheel)),
        "pip install pytest-bytecode",
    )
    return python


def checkout_state(ref: str | None) -> str:
    """The commit, and how many files of the package differed from it."""
    if ref is not None:
        return pd.run(["git", "-C", str(ROOT), "rev-parse", "--short", ref]).stdout.strip()
    head = pd.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]).stdout.strip()
    status = pd.run(["git", "-C", str(ROOT), "status", "--porcelain", "pytest_bytecode"]).stdout
    changed = len(status.splitlines())
    return f"{head or '?'}" + (f" + {changed} changed files in pytest_bytecode/" if changed else "")


#: mode -> pytest options (after the common ones).
COV = [f"--bytecode-cov={PACKAGE}", "--bytecode-cov-report="]
BASE_MODES = {"plain": [], "bc": COV, "bc-ctx": [*COV, "--bytecode-cov-context=test"]}
LABELS = {
    "plain": "plain pytest",
    "bc": "--bytecode-cov, warm cache",
    "bc-ctx": "--bytecode-cov --bytecode-cov-context=test, warm cache",
}


def modes_for(workers: int) -> dict[str, list[str]]:
    modes = dict(BASE_MODES)
    if workers:
        for mode, options in BASE_MODES.items():
            modes[f"{mode}-n{workers}"] = ["-n", str(workers), *options]
    return modes


def label(mode: str) -> str:
    base, _, workers = mode.partition("-n")
    if base not in LABELS:  # "bc-ctx" has a dash of its own
        base, workers = mode, ""
    return LABELS[base] + (f", -n {workers}" if workers else "")


def command(where: Path, mode: str, options: list[str]) -> list[str]:
    cache = where / "caches" / mode
    data = where / "data" / mode
    data.mkdir(parents=True, exist_ok=True)
    (data / ".bytecode-cov").unlink(missing_ok=True)
    cmd = ["-m", "pytest", "-q", "-p", "no:randomly", "-o", f"cache_dir={cache}", *options]
    if "--bytecode-cov-report=" in options:
        cmd.append(f"--bytecode-cov-data={data / '.bytecode-cov'}")
    return cmd


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.pop("PYTEST_ADDOPTS", None)
    return env


class Sample(NamedTuple):
    """One run: wall time, CPU time (user + system, of the pytest process and
    of its children it waited for: xdist workers), peak RSS of the process."""

    wall: float
    cpu: float
    rss_mb: float


def run_once(python: Path, where: Path, mode: str, options: list[str], ntests: int) -> Sample:
    """One pytest process, which must pass every test."""
    cmd = [str(python), *command(where, mode, options)]
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=where, env=environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert proc.stdout is not None
    output = proc.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.stdout.close()
    passed = re.search(r"(\d+) passed", output)
    if os.waitstatus_to_exitcode(status) != 0 or not passed or int(passed[1]) != ntests:
        tail = "\n".join(output.splitlines()[-20:])
        raise SystemExit(f"{mode} run failed (want {ntests} passed):\n+ {' '.join(cmd)}\n{tail}")
    measured = "--bytecode-cov-report=" in options
    if measured and not (where / "data" / mode / ".bytecode-cov").exists():
        raise SystemExit(f"{mode}: no data file written")
    return Sample(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def instructions(python: Path, where: Path, mode: str, options: list[str], ntests: int) -> int:
    """The instructions one pytest process executes, counted by valgrind's
    callgrind (``Ir``): the same for the same work whatever else the machine
    does, where times on a shared machine are not."""
    out = where / f"callgrind.{mode}.out"
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", str(python)]
    cmd += command(where, mode, options)
    proc = subprocess.run(cmd, cwd=where, env=environment(), capture_output=True, text=True)
    passed = re.search(r"(\d+) passed", proc.stdout)
    if proc.returncode != 0 or not passed or int(passed[1]) != ntests:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-20:])
        raise SystemExit(f"{mode} run under callgrind failed:\n+ {' '.join(cmd)}\n{tail}")
    totals = re.search(r"^(?:summary|totals): (\d+)", out.read_text(), re.MULTILINE)
    out.unlink()
    if totals is None:
        raise SystemExit(f"{out}: no instruction total in callgrind's output")
    return int(totals[1])


def count_instructions(python: Path, where: Path, modes: dict[str, list[str]], n: int) -> None:
    """Print each mode's instruction count and the ratios, contexts to none."""
    if shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind (Debian: apt-get install valgrind)")
    counted = {m: instructions(python, where, m, options, n) for m, options in modes.items()}
    print("\n| mode | instructions (callgrind Ir) | ratio |\n| --- | --- | --- |")
    for mode, ir in counted.items():
        print(f"| {label(mode)} | {ir:,} | ×{ir / counted['plain']:.3f} |")
    print(f"contexts / no contexts: instructions ×{counted['bc-ctx'] / counted['bc']:.3f}")


def data_figures(path: Path) -> dict[str, int]:
    """Size of a data file and what it lists."""
    raw = json.loads(path.read_text())
    instructions = branches = code_objects = 0
    for fdata in raw["files"].values():
        for code in fdata["code_objects"]:
            code_objects += 1
            instructions += len(code["offsets"])
            branches += len(code["branches"])
    figures = {
        "bytes": path.stat().st_size,
        "files": len(raw["files"]),
        "code objects": code_objects,
        "instructions": instructions,
        "branches": branches,
    }
    contexts = raw.get("contexts")
    if contexts is not None:
        names = contexts["names"]
        figures["contexts"] = len(names)
        # "" (what ran outside every test phase) is no test's
        figures["tests with a context"] = len({n.rpartition("|")[0] for n in names if n})
        figures["bytes of contexts"] = len(json.dumps(contexts, separators=(",", ":")))
        figures["bytes of context names"] = len(json.dumps(names, separators=(",", ":")))
    return figures


def report_data(where: Path) -> None:
    for mode in ("bc", "bc-ctx"):
        figures = data_figures(where / "data" / mode / ".bytecode-cov")
        print(f"data file of {mode}: " + ", ".join(f"{k} {v:,}" for k, v in figures.items()))


def profile(python: Path, where: Path, options: list[str], ntests: int, top: int) -> None:
    """Run bc-ctx once under cProfile; print pytest_bytecode's costliest functions."""
    out = where / "bc-ctx.prof"
    cmd = [str(python), "-m", "cProfile", "-o", str(out), *command(where, "bc-ctx", options)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=where, env=environment(), capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0 or f"{ntests} passed" not in proc.stdout:
        raise SystemExit(f"profiled run failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    stats = pstats.Stats(str(out))
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(tt for _, _, tt, _, _ in raw.values())
    rows = [
        (tt, ct, nc, f"{Path(fn).name}:{line}({name})")
        for (fn, line, name), (_, nc, tt, ct, _) in raw.items()
        if "pytest_bytecode" in fn
    ]
    print(f"\ncProfile of one bc-ctx run ({wall:.2f} s under the profiler, {total:.2f} s profiled)")
    print("pytest_bytecode's functions by own time:")
    print(f"{'own s':>8} {'cum s':>8} {'calls':>9}  function")
    for tt, ct, nc, name in sorted(rows, reverse=True)[:top]:
        print(f"{tt:8.3f} {ct:8.3f} {nc:9d}  {name}")
    print("by cumulative time:")
    for tt, ct, nc, name in sorted(rows, key=lambda r: -r[1])[:top]:
        print(f"{tt:8.3f} {ct:8.3f} {nc:9d}  {name}")
    print(f"profile: {out} (python -m pstats {out})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per mode")
    parser.add_argument("--workers", type=int, default=0, help="also run every mode with -n N")
    parser.add_argument("--modules", type=int, default=10, help="modules in the package")
    parser.add_argument("--functions", type=int, default=91, help="functions per module")
    parser.add_argument("--tests", type=int, default=5000, help="tests (about)")
    parser.add_argument("--profile", action="store_true", help="also profile one bc-ctx run")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="also count each mode's instructions once under valgrind's callgrind",
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=ROOT / ".cache" / "bench-contexts",
        help="where the project is generated (default: %(default)s)",
    )
    parser.add_argument(
        "--ref", help="time this commit of the checkout (default: the working tree as it is)"
    )
    args = parser.parse_args()
    where = (args.work / f"cp{sys.version_info[0]}{sys.version_info[1]}").resolve()
    where.mkdir(parents=True, exist_ok=True)
    state = checkout_state(args.ref)
    python = ensure_venv(where, args.ref)
    where = where / "project"
    ntests = write_project(where, args.modules, args.functions, args.tests)
    shutil.rmtree(where / "caches", ignore_errors=True)
    modes = modes_for(args.workers)
    print(
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.2f}; pytest-bytecode from {state}; {ntests} tests, "
        f"{args.modules} modules of {args.functions} functions; project in {where}",
        flush=True,
    )
    for mode, options in modes.items():  # warm-up: .pyc files, the caches
        first = run_once(python, where, mode, options, ntests)
        print(f"  warm-up {mode:<12} {first.wall:7.2f} s {first.rss_mb:5.0f} MB", flush=True)
    samples: dict[str, list[Sample]] = {m: [] for m in modes}
    if args.runs == 0:
        report_data(where)
        if args.instructions:
            count_instructions(python, where, {m: modes[m] for m in BASE_MODES}, ntests)
        return 0
    for i in range(args.runs):
        for mode, options in modes.items():
            samples[mode].append(run_once(python, where, mode, options, ntests))
        print(
            f"  round {i + 1}/{args.runs}: "
            + ", ".join(f"{m} {samples[m][-1].wall:.2f}" for m in modes),
            flush=True,
        )
    wall = {m: statistics.median(r.wall for r in v) for m, v in samples.items()}
    cpu = {m: statistics.median(r.cpu for r in v) for m, v in samples.items()}
    print(
        f"\nPython {sys.version.split()[0]}; pytest-bytecode from {state}; {ntests} tests; "
        f"median of {args.runs}; load average at the end {os.getloadavg()[0]:.2f}\n"
    )
    print("| mode | wall | ratio | min-max | CPU | ratio | peak RSS |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for mode, values in samples.items():
        base = "plain" if "-n" not in mode else f"plain-n{args.workers}"
        times = [r.wall for r in values]
        print(
            f"| {label(mode)} | {wall[mode]:.2f} s | ×{wall[mode] / wall[base]:.2f} "
            f"| {min(times):.2f}-{max(times):.2f} | {cpu[mode]:.2f} s "
            f"| ×{cpu[mode] / cpu[base]:.2f} | {max(r.rss_mb for r in values):.0f} MB |"
        )
    print()
    for suffix in ["", *([f"-n{args.workers}"] if args.workers else [])]:
        ctx, bc = "bc-ctx" + suffix, "bc" + suffix
        print(
            f"contexts / no contexts{suffix and ' (' + suffix[1:] + ')'}: "
            f"wall ×{wall[ctx] / wall[bc]:.3f} ({wall[ctx] - wall[bc]:+.2f} s), "
            f"CPU ×{cpu[ctx] / cpu[bc]:.3f} ({cpu[ctx] - cpu[bc]:+.2f} s)"
        )
        # Each round runs the modes one after the other: the ratio within a
        # round is less disturbed by a machine whose speed drifts (a VM).
        paired = zip(samples[ctx], samples[bc], strict=True)
        per_round = sorted(c.cpu / b.cpu for c, b in paired)
        print(
            f"  the rounds' own CPU ratios: median ×{statistics.median(per_round):.3f} "
            f"(" + ", ".join(f"{r:.2f}" for r in per_round) + ")"
        )
    print()
    report_data(where)
    if args.instructions:
        count_instructions(python, where, {m: modes[m] for m in BASE_MODES}, ntests)
    if args.profile:
        profile(python, where, modes["bc-ctx"], ntests, 25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
