"""Differential test of the engine over CPython's own test suite.

For each chosen ``Lib/test`` module the tool runs the module's tests twice, in
fresh subprocesses of the running interpreter:

* **plain**: the test module and the stdlib modules it tests are imported
  fresh (dropped from ``sys.modules`` first) and executed from source;
* **instrumented**: the same, but every such module's code is passed through
  ``pytest_bytecode.engine.instrument`` and ``inst.code`` is executed instead.

Both runs load the same modules the same way (fresh, from source, through the
same import hook), so the only difference between them is the instrumentation.
A custom ``unittest`` result records each test's outcome (pass, fail, error,
skip, xfail, xpass) and, for failures and errors, the exception type; the two
records are compared test by test.  A module *passes* when every test has the
same outcome in both runs and the same number of tests ran.

Usage::

    python tools/cpython_diff.py test_textwrap test_json [--jobs 2] [--timeout 120]
    python tools/cpython_diff.py --list-default
    python tools/cpython_diff.py --default            # the whole default list
    python tools/cpython_diff.py --plain-vs-plain ... # self-check: both runs plain

Prints one line per module, then ``N passed, N failed``; exits 1 on any
difference, printing the differing test ids.

**Doctest mode** (``--doctests``) needs neither ``Lib/test`` nor subprocesses,
so it also runs where neither exists (CPython 3.14 and 3.15 under Pyodide):
in this process, each stdlib module of :data:`DOCTEST_MODULES` is imported
fresh from its source, plain and then instrumented, and the doctests in its
docstrings run against each copy; every docstring's outcome and output must
be the same::

    python tools/cpython_diff.py --doctests              # all of DOCTEST_MODULES
    python tools/cpython_diff.py --doctests difflib json
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import doctest
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
import types
import unittest
from collections.abc import Sequence
from typing import Any

#: Test module -> stdlib modules it tests (pure-Python ones; a name also covers
#: its submodules).  Chosen to run quickly and deterministically on 3.10-3.13
#: (no network, GUI, subprocess-heavy or timing-dependent suites), and checked
#: by running each plainly twice.  Names absent on an interpreter are skipped.
DEFAULT_MODULES: dict[str, tuple[str, ...]] = {
    "test_textwrap": ("textwrap",),
    "test_json": ("json",),
    "test_fractions": ("fractions",),
    "test_statistics": ("statistics",),
    "test_heapq": ("heapq",),
    "test_bisect": ("bisect",),
    "test_difflib": ("difflib",),
    "test_string": ("string",),
    "test_shlex": ("shlex",),
    "test_csv": ("csv",),
    "test_configparser": ("configparser",),
    "test_argparse": ("argparse",),
    "test_enum": ("enum",),
    "test_dataclasses": ("dataclasses",),
    "test_functools": ("functools",),
    "test_collections": ("collections",),
    "test_copy": ("copy",),
    "test_pprint": ("pprint",),
    "test_base64": ("base64",),
    "test_colorsys": ("colorsys",),
    "test_calendar": ("calendar",),
    "test_datetime": ("datetime", "_pydatetime", "_strptime"),
    "test_fnmatch": ("fnmatch",),
    "test_glob": ("glob",),
    "test_ntpath": ("ntpath",),
    "test_posixpath": ("posixpath", "genericpath"),
    "test_tokenize": ("tokenize",),
    "test_dis": ("dis",),
    "test_contextlib": ("contextlib",),
    "test_contextlib_async": ("contextlib",),
    "test_typing": ("typing",),
    "test_operator": ("operator",),
    "test_random": ("random",),
    "test_re": ("re", "sre_parse", "sre_compile"),
    "test_html": ("html",),
    "test_htmlparser": ("html",),
    "test_urlparse": ("urllib.parse",),
    "test_graphlib": ("graphlib",),
    "test_ipaddress": ("ipaddress",),
    "test_getopt": ("getopt",),
    "test_shutil": ("shutil",),
    "test_tomllib": ("tomllib",),
    "test_email": ("email",),
    "test_keyword": ("keyword",),
    "test_userdict": ("collections",),
    "test_userlist": ("collections",),
    "test_weakset": ("_weakrefset",),
    "test_linecache": ("linecache",),
    "test_sched": ("sched",),
    "test_decimal": ("_pydecimal",),
}

#: Test modules that must run uninstrumented themselves, with why: only the
#: stdlib modules they test are instrumented.
PLAIN_TEST_MODULE: dict[str, str] = {
    "test_dis": "compares dis output of its own functions with expected listings",
}

#: Differences that follow from instrumenting at all, not from an engine bug:
#: printed as "known", not counted as failures.  Test id -> why.
KNOWN_DIFFERENCES: dict[str, str] = {
    "test.test_dis.BytecodeTests.test_info": "dis.code_info() of dis's own functions "
    "lists their constants, and instrumented code has the probes' constants too",
    "test.test_dis.CodeInfoTests.test_code_info": "same as BytecodeTests.test_info",
    "test.test_dis.CodeInfoTests.test_show_code": "same as BytecodeTests.test_info",
}

#: The small, quick subset ``tests/test_cpython_diff.py`` runs.
QUICK_MODULES: tuple[str, ...] = (
    "test_textwrap",
    "test_fractions",
    "test_bisect",
    "test_shlex",
    "test_colorsys",
    "test_heapq",
    "test_fnmatch",
)

CHILD_FLAG = "--child"


# --- Child side: import hook and result recording --------------------------------


#: Names of the modules the child actually loaded through the hook.
SERVED: list[str] = []


class _Loader(importlib.abc.Loader):
    """Execute a module from its source, optionally through the engine."""

    def __init__(self, original: Any, instrument: Any) -> None:
        self.original = original
        self.instrument = instrument

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        spec = module.__spec__
        assert spec is not None and spec.origin is not None
        source = self.original.get_source(spec.name)
        code = compile(source, spec.origin, "exec", dont_inherit=True)
        if self.instrument is not None:
            code = self.instrument(code).code
        SERVED.append(spec.name)
        exec(code, module.__dict__)

    # Used by linecache/inspect/traceback to show source lines.
    def get_source(self, fullname: str) -> str | None:
        return self.original.get_source(fullname)  # type: ignore[no-any-return]

    def is_package(self, fullname: str) -> bool:
        return bool(self.original.is_package(fullname))


class _Finder(importlib.abc.MetaPathFinder):
    """Serve the configured modules (and their submodules) through :class:`_Loader`."""

    def __init__(self, names: Sequence[str], instrument: Any) -> None:
        self.names = tuple(names)
        self.instrument = instrument

    def covers(self, fullname: str) -> bool:
        return any(fullname == n or fullname.startswith(n + ".") for n in self.names)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not self.covers(fullname):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        # Source files, or a zipped stdlib (Pyodide): whatever can give the source.
        if spec is None or spec.origin is None or not hasattr(spec.loader, "get_source"):
            return None
        spec.loader = _Loader(spec.loader, self.instrument)
        spec.cached = None
        return spec


class _Recorder(unittest.TestResult):
    """Record every test's outcome (and exception type) by test id."""

    def __init__(self) -> None:
        super().__init__()
        self.outcomes: dict[str, list[str]] = {}

    def _put(self, test: Any, outcome: str, err: Any = None) -> None:
        # Subtest ids may embed reprs with addresses; those differ between runs.
        key = re.sub(r" at 0x[0-9a-fA-F]+", " at 0x?", test.id())
        exc = err[0].__name__ if err and err[0] is not None else ""
        self.outcomes.setdefault(key, []).append(f"{outcome}:{exc}" if exc else outcome)

    def addSuccess(self, test: Any) -> None:
        super().addSuccess(test)
        self._put(test, "pass")

    def addFailure(self, test: Any, err: Any) -> None:
        super().addFailure(test, err)
        self._put(test, "fail", err)

    def addError(self, test: Any, err: Any) -> None:
        super().addError(test, err)
        self._put(test, "error", err)

    def addSkip(self, test: Any, reason: str) -> None:
        super().addSkip(test, reason)
        self._put(test, "skip")

    def addExpectedFailure(self, test: Any, err: Any) -> None:
        super().addExpectedFailure(test, err)
        self._put(test, "xfail")

    def addUnexpectedSuccess(self, test: Any) -> None:
        super().addUnexpectedSuccess(test)
        self._put(test, "xpass")

    def addSubTest(self, test: Any, subtest: Any, err: Any) -> None:
        super().addSubTest(test, subtest, err)
        if err is not None:
            failed = issubclass(err[0], test.failureException)
            self._put(subtest, "fail" if failed else "error", err)


def child(module: str, mode: str, out: str) -> int:
    """Run one Lib/test module in this process and write its record as JSON."""
    own = () if module in PLAIN_TEST_MODULE else (f"test.{module}",)
    targets = (*own, *DEFAULT_MODULES.get(module, ()))
    instrument = None
    if mode == "instrumented":
        from pytest_bytecode.engine import instrument
    finder = _Finder(targets, instrument)
    for name in list(sys.modules):
        if finder.covers(name):
            del sys.modules[name]
    sys.meta_path.insert(0, finder)
    record: dict[str, Any] = {"module": module, "mode": mode, "tests": {}, "error": None}
    started = time.monotonic()
    try:
        import test.support  # noqa: F401  (sets up the test package as regrtest would)

        suite = unittest.defaultTestLoader.loadTestsFromName(f"test.{module}")
        result = _Recorder()
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            suite.run(result)
        record["tests"] = result.outcomes
        record["run"] = result.testsRun
    except BaseException as exc:
        record["error"] = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    record["seconds"] = round(time.monotonic() - started, 2)
    record["served"] = sorted(set(SERVED))
    with open(out, "w", encoding="utf-8") as fh:
        json.dump(record, fh)
    return 0


# --- Doctest mode: in-process, no Lib/test needed -----------------------------------

#: Stdlib modules whose docstrings hold doctests on every version 3.10-3.15,
#: and the number of examples each must at least attempt (so a module that
#: silently lost its doctests is noticed).  The runs need not pass, only agree.
DOCTEST_MODULES: dict[str, int] = {
    "difflib": 30,
    "fractions": 10,
    "statistics": 60,
    "_pydecimal": 300,
    "pickletools": 100,
    "json": 20,
    "collections": 40,
    "doctest": 40,
    "uuid": 5,
    "hashlib": 3,
    "heapq": 1,
}


def _doctest_record(name: str, instrument: Any) -> dict[str, Any]:
    """Run the doctests of a fresh copy of stdlib module ``name`` in this process.

    ``sys.modules`` is left as it was found, so the caller's own copy of the
    module (and of its submodules) stays in place.
    """
    finder = _Finder((name,), instrument)
    saved = {k: v for k, v in sys.modules.items() if finder.covers(k)}
    for key in saved:
        del sys.modules[key]
    sys.meta_path.insert(0, finder)
    record: dict[str, Any] = {"tests": {}, "error": None, "attempted": 0}
    try:
        module = importlib.import_module(name)
        if not isinstance(getattr(module.__spec__, "loader", None), _Loader):
            raise RuntimeError(f"{name} was not imported from its source")
        # As CPython's test_decimal runs them; _pydecimal calls itself "decimal",
        # so the finder must not skip objects whose __module__ is not ``name``.
        runner = doctest.DocTestRunner(verbose=False, optionflags=doctest.IGNORE_EXCEPTION_DETAIL)
        same = None if module.__name__ == name else False
        tests = doctest.DocTestFinder().find(module, module=same)
        for test in sorted(tests, key=lambda t: (t.name, t.lineno or 0)):
            out: list[str] = []
            result = runner.run(test, out=out.append)
            text = re.sub(r" at 0x[0-9a-fA-F]+", " at 0x?", "".join(out))
            record["tests"][test.name] = [f"{result.failed}/{result.attempted}", text]
            record["attempted"] += result.attempted
    except BaseException as exc:  # recorded and compared, like the subprocess mode
        record["error"] = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    finally:
        sys.meta_path.remove(finder)
        for key in [k for k in sys.modules if finder.covers(k)]:
            del sys.modules[key]
        sys.modules.update(saved)
    return record


def doctest_diff(name: str) -> tuple[list[str], int]:
    """Differences between the plain and the instrumented doctest run of ``name``,
    and how many examples the plain run attempted."""
    from pytest_bytecode.engine import instrument

    plain = _doctest_record(name, None)
    instrumented = _doctest_record(name, instrument)
    return compare(plain, instrumented), int(plain["attempted"])


# --- Parent side ------------------------------------------------------------------


def run_child(module: str, mode: str, timeout: float, python: str) -> dict[str, Any]:
    fd, path = tempfile.mkstemp(prefix=f"cpython_diff_{module}_{mode}_", suffix=".json")
    os.close(fd)
    try:
        env = dict(os.environ, PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1")
        proc = subprocess.run(
            [python, os.path.abspath(__file__), CHILD_FLAG, module, mode, path],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd=tempfile.gettempdir(),
        )
        try:
            with open(path, encoding="utf-8") as fh:
                data: dict[str, Any] = json.load(fh)
        except (OSError, ValueError):
            tail = (proc.stderr or "").strip().splitlines()[-5:]
            return {"error": f"child exited {proc.returncode}: " + " | ".join(tail), "tests": {}}
        if proc.returncode != 0 and not data.get("error"):
            data["error"] = f"child exited {proc.returncode}"
        return data
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout}s", "tests": {}}
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


def compare(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Differences between two records, one line each (empty: they agree)."""
    diffs = []
    if a.get("error") != b.get("error"):
        diffs.append(f"<module>: {a.get('error')!r} != {b.get('error')!r}")
    if a.get("run") != b.get("run"):
        diffs.append(f"<tests run>: {a.get('run')} != {b.get('run')}")
    ta, tb = a.get("tests", {}), b.get("tests", {})
    for test_id in sorted(set(ta) | set(tb)):
        if ta.get(test_id) != tb.get(test_id):
            diffs.append(f"{test_id}: {ta.get(test_id)} != {tb.get(test_id)}")
    return diffs


def diff_module(
    module: str, timeout: float, python: str, plain_vs_plain: bool
) -> tuple[str, list[str], str]:
    first = run_child(module, "plain", timeout, python)
    second = run_child(module, "plain" if plain_vs_plain else "instrumented", timeout, python)
    counts = (
        f"{first.get('run', '?')} tests, {len(second.get('served', []))} modules hooked, "
        f"{first.get('seconds', '?')}s/{second.get('seconds', '?')}s"
    )
    return module, compare(first, second), counts


def available(module: str) -> bool:
    return importlib.util.find_spec(f"test.{module}") is not None


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    if args_in[:1] == [CHILD_FLAG]:
        return child(*args_in[1:4])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="Lib/test module names, e.g. test_textwrap")
    parser.add_argument("--jobs", type=int, default=2, help="modules run in parallel")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per run")
    parser.add_argument("--list-default", action="store_true", help="print the default list")
    parser.add_argument("--default", action="store_true", help="run the default list")
    parser.add_argument("--quick", action="store_true", help="run the quick subset")
    parser.add_argument(
        "--plain-vs-plain", action="store_true", help="self-check: compare two plain runs"
    )
    parser.add_argument("--python", default=sys.executable, help="interpreter to test")
    parser.add_argument(
        "--doctests", action="store_true", help="in-process doctest mode (names: stdlib modules)"
    )
    args = parser.parse_args(args_in)
    if args.doctests:
        return doctest_main(args.modules or list(DOCTEST_MODULES))
    if args.list_default:
        for name, targets in DEFAULT_MODULES.items():
            print(f"{name}: {' '.join(targets)}")
        return 0
    modules = list(args.modules)
    if args.default:
        modules += list(DEFAULT_MODULES)
    if args.quick:
        modules += list(QUICK_MODULES)
    if not modules:
        parser.error("name modules, or use --default / --quick / --list-default")
    missing = [m for m in modules if not available(m)]
    for m in missing:
        print(f"SKIP {m}: not in this interpreter's Lib/test")
    modules = [m for m in dict.fromkeys(modules) if m not in missing]
    passed = failed = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [
            pool.submit(diff_module, m, args.timeout, args.python, args.plain_vs_plain)
            for m in modules
        ]
        for fut in futures:
            module, diffs, counts = fut.result()
            known = [d for d in diffs if d.split(":")[0] in KNOWN_DIFFERENCES]
            diffs = [d for d in diffs if d not in known]
            for line in known:
                print(f"known {line}  ({KNOWN_DIFFERENCES[line.split(':')[0]]})")
            if diffs:
                failed += 1
                print(f"FAIL {module} ({counts}): {len(diffs)} differences")
                for line in diffs[:50]:
                    print(f"    {line}")
                if len(diffs) > 50:
                    print(f"    ... {len(diffs) - 50} more")
            else:
                passed += 1
                print(f"ok   {module} ({counts})")
            sys.stdout.flush()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def doctest_main(names: Sequence[str]) -> int:
    """Doctest mode: one line per module, then the totals."""
    failed = 0
    for name in names:
        diffs, attempted = doctest_diff(name)
        least = DOCTEST_MODULES.get(name, 1)
        if attempted < least:
            diffs.append(f"<examples>: {attempted} attempted, at least {least} expected")
        if diffs:
            failed += 1
            print(f"FAIL {name} ({attempted} examples): {len(diffs)} differences")
            for line in diffs[:50]:
                print(f"    {line}")
        else:
            print(f"ok   {name} ({attempted} examples)")
    print(f"{len(names) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
