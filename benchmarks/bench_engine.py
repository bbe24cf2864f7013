"""Benchmarks of the instrumentation engine (never asserted in tests).

Three measurements, each printed as medians over repeated runs:

``instrument``
    ``compile()`` of the ten largest pure-Python stdlib modules of the running
    interpreter, against ``instrument()`` of the compiled code: the ratio is
    what instrumenting costs relative to compiling.  Both results are timed
    up to the point where they exist and are freed after the clock stops,
    as an import hook keeps what it instruments for the whole run.
``runtime``
    the CPU-bound kernels in ``kernels.py`` as whole processes: plain,
    instrumented (exact counts), and under coverage.py's line coverage
    (``coverage run``, its default core) when coverage is installed.  Each
    process runs the kernels ``--rounds`` times (default 1, about 0.1 s), so
    that start-up (importing the engine, instrumenting ``kernels.py``) can be
    told apart from the cost per unit of work; the instrumented process also
    prints its start-up time, reported as a median.
``memory``
    bytes allocated per original instruction for instrumented code and the
    plans that read its counts (tracemalloc, the ten modules above), right
    after instrumenting and once counts have been read.
``probes`` (not in the default set)
    the candidate probe forms on the kernels, in this process: ``None in
    counter`` (``CONTAINS_OP``, the form 3.14+ must use) against ``FOR_ITER``
    over the counter (the engine's form up to 3.13), each run's kernel time
    against a plain run.

Run::

    python benchmarks/bench_engine.py            # the first three
    python benchmarks/bench_engine.py runtime --repeat 7 --rounds 10
    python benchmarks/bench_engine.py probes
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import tracemalloc
from pathlib import Path
from types import CodeType

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from pytest_bytecode.engine import instrument, iter_code_tree  # noqa: E402
from pytest_bytecode.engine.decode import decode  # noqa: E402

SKIP_PARTS = {"test", "tests", "idlelib", "site-packages", "lib2to3", "__pycache__", "turtledemo"}


def largest_stdlib_sources(count: int = 10) -> list[tuple[str, str]]:
    """The ``count`` largest .py files of the stdlib that compile here."""
    root = Path(sysconfig.get_paths()["stdlib"])
    found: list[tuple[int, Path]] = []
    for path in root.rglob("*.py"):
        if SKIP_PARTS & set(path.relative_to(root).parts):
            continue
        try:
            found.append((path.stat().st_size, path))
        except OSError:
            continue
    result: list[tuple[str, str]] = []
    for _, path in sorted(found, reverse=True):
        try:
            source = path.read_text(encoding="utf-8")
            compile(source, str(path), "exec")
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        result.append((str(path), source))
        if len(result) == count:
            break
    return result


def median_time(func: object, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        result = func()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
        del result  # freed outside the clock
    return statistics.median(times)


def bench_instrument(repeat: int) -> None:
    sources = largest_stdlib_sources()
    codes = [compile(src, name, "exec") for name, src in sources]
    instructions = sum(len(decode(c)) for code in codes for _, c in iter_code_tree(code))
    t_compile = median_time(lambda: [compile(s, n, "exec") for n, s in sources], repeat)
    t_instr = median_time(lambda: [instrument(c) for c in codes], repeat)
    root = Path(sysconfig.get_paths()["stdlib"])
    names = ", ".join(str(Path(n).relative_to(root).with_suffix("")) for n, _ in sources)
    print(f"instrument: {len(sources)} modules ({names}), {instructions} instructions")
    print(
        f"  compile {t_compile * 1000:.1f} ms, instrument {t_instr * 1000:.1f} ms, "
        f"ratio instrument/compile {t_instr / t_compile:.2f} (median of {repeat})"
    )


RUNNER = """
import sys, time
sys.path.insert(0, {root!r}); sys.path.insert(0, {here!r})
mode, rounds = sys.argv[1], int(sys.argv[2])
start = time.perf_counter()
source = open({kernels!r}).read()
code = compile(source, {kernels!r}, "exec")
if mode == "instrumented":
    from pytest_bytecode.engine import instrument
    code = instrument(code).code
    print(f"start-up {{time.perf_counter() - start:.6f}}")
namespace = {{"__name__": "kernels"}}
exec(code, namespace)
for _ in range(rounds):
    namespace["run_all"]()
"""


def bench_runtime(repeat: int, rounds: int) -> None:
    script = RUNNER.format(root=str(HERE.parent), here=str(HERE), kernels=str(HERE / "kernels.py"))
    modes: list[tuple[str, list[str]]] = [
        ("plain", [sys.executable, "-c", script, "plain", str(rounds)]),
        ("instrumented", [sys.executable, "-c", script, "instrumented", str(rounds)]),
    ]
    scratch = tempfile.TemporaryDirectory()
    try:
        import coverage  # noqa: F401

        runner_file: Path | None = Path(scratch.name) / "bench_runner.py"
        assert runner_file is not None
        runner_file.write_text(script, encoding="utf-8")
        modes.append(
            (
                "coverage.py line",
                [
                    sys.executable,
                    "-m",
                    "coverage",
                    "run",
                    "--data-file",
                    os.devnull,
                    str(runner_file),
                    "plain",
                    str(rounds),
                ],
            )
        )
    except ImportError:
        runner_file = None
    results: dict[str, float] = {}
    startups: list[float] = []
    # Every process imports from bytecode caches, as an installed package
    # does (pip compiles it): an environment with PYTHONDONTWRITEBYTECODE set
    # would otherwise compile this project's modules from source in every
    # instrumented run.  The caches live in the scratch folder, and one
    # untimed run per mode writes them.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(Path(scratch.name) / "pycache")
    timed = False

    def run(command: list[str]) -> None:
        out = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
        if timed:
            startups.extend(
                float(line.split()[1]) for line in out.splitlines() if line.startswith("start-up ")
            )

    try:
        for _, command in modes:
            run(command)
        timed = True
        for name, command in modes:
            results[name] = median_time(lambda command=command: run(command), repeat)  # type: ignore[misc]
    finally:
        scratch.cleanup()
    base = results["plain"]
    print(
        f"runtime: benchmarks/kernels.py x{rounds} as whole processes (median of {repeat}); "
        f"instrumented start-up {statistics.median(startups) * 1000:.1f} ms "
        "(import the engine, compile and instrument kernels.py)"
    )
    for name, seconds in results.items():
        print(f"  {name:18} {seconds:.3f} s  ratio {seconds / base:.2f}")


def bench_memory() -> None:
    sources = largest_stdlib_sources()
    codes = [compile(src, name, "exec") for name, src in sources]
    instructions = sum(len(decode(c)) for code in codes for _, c in iter_code_tree(code))
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = [instrument(c) for c in codes]
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    for inst in kept:  # reading counts decodes the original instructions
        inst.counts()
    gc.collect()
    after_read = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    code_bytes = sum(
        len(c.co_code)
        for inst in kept
        for _, c in iter_code_tree(inst.code)
        if isinstance(c, CodeType)
    )
    print(f"memory: {instructions} original instructions instrumented")
    print(
        f"  {(after - before) / instructions:.0f} bytes allocated per instruction "
        f"(instrumented code and plans), of which wordcode {code_bytes / instructions:.1f}"
    )
    print(
        f"  {(after_read - before) / instructions:.0f} bytes per instruction once counts "
        "have been read (the plans keep the decoded original)"
    )


def bench_probes(repeat: int) -> None:
    from pytest_bytecode import versions

    source = (HERE / "kernels.py").read_text(encoding="utf-8")
    code = compile(source, str(HERE / "kernels.py"), "exec")

    def kernel_time(form: str | None) -> tuple[float, int]:
        run_code, total = code, 0
        if form is not None:
            inst = instrument(code, probe_by_for_iter=form == "FOR_ITER")
            run_code = inst.code
        namespace: dict[str, object] = {"__name__": "kernels"}
        exec(run_code, namespace)
        seconds = median_time(namespace["run_all"], repeat)
        if form is not None:
            total = sum(i.count for c in inst.counts() for i in c.instructions)
        return seconds, total

    plain, _ = kernel_time(None)
    print(f"probe forms: benchmarks/kernels.py in-process, kernel time (median of {repeat})")
    print(f"  {'plain':24} {plain:.3f} s")
    for form, label in (("CONTAINS", "None in counter"), ("FOR_ITER", "FOR_ITER over counter")):
        if form == "FOR_ITER" and not versions.FOR_ITER_PROBE_POSSIBLE:
            print(f"  {label:24} not valid code on this version")
            continue
        seconds, total = kernel_time(form)
        print(f"  {label:24} {seconds:.3f} s  ratio {seconds / plain:.2f}  ({total} counted)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", nargs="*", default=["instrument", "runtime", "memory"])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=1, help="kernel runs per process (runtime)")
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]} on {sys.platform}")
    benches = {
        "instrument": lambda: bench_instrument(args.repeat),
        "runtime": lambda: bench_runtime(args.repeat, args.rounds),
        "memory": bench_memory,
        "probes": lambda: bench_probes(args.repeat),
    }
    for what in args.what:
        benches[what]()


if __name__ == "__main__":
    main()
