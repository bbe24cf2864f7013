"""Run generated programs through the engine-vs-oracle comparison, many at a time.

``python tools/progen_diff.py -n 2000`` checks the programs of seeds 0-1999
from ``tests/progen.py`` exactly as ``tests/test_engine_oracle.py`` checks its
generated programs (:func:`test_engine_oracle.check_program`: results,
output, traced lines, tracebacks and counts against the oracle), and prints
the seeds that failed and ``N passed, N failed``.  It exits 1 if any failed.

Programs run in child interpreters, a batch of them each (``--batch``), so
that an interpreter that aborts (a fatal error in instrumented code) or
hangs is reported as the failure of the program it was running; the rest of
the batch goes on in a new child.  Options: ``--start`` (first seed),
``--jobs`` (children at once; default 1), ``--timeout`` (seconds per
program), ``--quiet`` (no progress).  A failing seed is printed with
``python tests/progen.py SEED``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"


# --- The child ------------------------------------------------------------------


def _child(start: int, stop: int) -> int:
    """Check seeds ``start`` .. ``stop - 1``; one ``begin``/``pass``/``fail``
    line per program on stdout, flushed, so the parent knows which program
    was running if this interpreter dies."""
    os.environ["PYTEST_BYTECODE_PROGEN_N"] = "0"  # the test module's own list: none
    sys.path.insert(0, str(TESTS))
    import progen
    import test_engine_oracle as t

    out = sys.stdout
    for seed in range(start, stop):
        out.write(f"begin {seed}\n")
        out.flush()
        prog = t.Program(name=f"gen{seed}", source=progen.generate_module(seed))
        try:
            t.check_program(prog)
        except BaseException as exc:  # AssertionError, or pytest's Skipped/Failed
            if isinstance(exc, KeyboardInterrupt):
                raise
            out.write(f"fail {seed} {_describe(exc)}\n")
        else:
            out.write(f"pass {seed}\n")
        out.flush()
    return 0


def _describe(exc: BaseException) -> str:
    """One line: the exception and the test line that raised it."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = ""
    for frame in reversed(frames):
        if frame.filename.startswith(str(TESTS)):
            where = f" at {Path(frame.filename).name}:{frame.lineno}: {frame.line}"
            break
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}{': ' + first if first else ''}{where}"[:400]


# --- The parent -----------------------------------------------------------------


def _run_batch(start: int, stop: int, timeout: float) -> dict[int, str]:
    """{seed: "" if it passed, else why not}, running children until every
    seed of the batch has an outcome."""
    results: dict[int, str] = {}
    seed = start
    while seed < stop:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(seed), str(stop)]
        try:
            proc = subprocess.run(
                cmd,
                capture_output=True,
                text=True,
                timeout=timeout * (stop - seed) + 30,
                cwd=ROOT,
            )
            stdout, stderr, code = proc.stdout, proc.stderr, proc.returncode
        except subprocess.TimeoutExpired as exc:
            stdout = _text(exc.stdout)
            stderr = _text(exc.stderr)
            code = None
        running = None
        for line in stdout.splitlines():
            word, _, rest = line.partition(" ")
            if word == "begin":
                running = int(rest)
            elif word in ("pass", "fail"):
                number, _, why = rest.partition(" ")
                results[int(number)] = why if word == "fail" else ""
                running = None
        if code == 0 and running is None and all(s in results for s in range(seed, stop)):
            break
        # The child died or hung: the program it was running failed.
        if running is None:  # died before, between or after programs
            missing = [s for s in range(seed, stop) if s not in results]
            running = missing[0] if missing else stop - 1
        lines = stderr.strip().splitlines()
        fatal = [line for line in lines if line.startswith("Fatal Python error")]
        tail = " | ".join(fatal or lines[-3:])
        if code is None:
            results[running] = f"timed out (over {timeout:g}s per program) {tail}"
        else:
            results[running] = f"interpreter died (exit status {code}): {tail}"[:400]
        seed = running + 1
    return results


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data if isinstance(data, str) else data.decode("utf-8", "replace")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--count", type=int, default=2000, help="programs (default 2000)")
    parser.add_argument("--start", type=int, default=0, help="first seed (default 0)")
    parser.add_argument("--batch", type=int, default=100, help="programs per child")
    parser.add_argument("--jobs", "-j", type=int, default=1, help="children at once")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per program")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
    parser.add_argument("--child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(*args.child)
    began = time.monotonic()
    stop = args.start + args.count
    batches = [(s, min(s + args.batch, stop)) for s in range(args.start, stop, args.batch)]
    passed = failed = 0
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(_run_batch, a, b, args.timeout) for a, b in batches]
        for (a, b), future in zip(batches, futures, strict=True):
            results = future.result()
            for seed in range(a, b):
                why = results.get(seed, "no outcome")
                if why:
                    failed += 1
                    print(f"FAIL seed {seed}: {why}", flush=True)
                else:
                    passed += 1
            if not args.quiet:
                print(
                    f"... seeds {a}-{b - 1} done ({time.monotonic() - began:.0f}s)",
                    file=sys.stderr,
                    flush=True,
                )
    elapsed = time.monotonic() - began
    version = ".".join(map(str, sys.version_info[:3]))
    print(f"Python {version}, seeds {args.start}-{stop - 1}, {elapsed:.1f}s")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
