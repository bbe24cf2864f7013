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
    python tools/cpython_diff.py --default            # the whole default list, and
                                                      # the language's own tests
    python tools/cpython_diff.py --plain-vs-plain ... # self-check: both runs plain

Prints one line per module, then ``N passed, N failed``; exits 1 on any
difference, printing the differing test ids.

**Plugin mode** (``--plugin``) goes through the pytest plugin instead of the
engine API: each Lib/test module runs under pytest three times, each in a
fresh ``python -m pytest`` subprocess with its own scratch directory as
rootdir and working directory:

* **plain**: ``pytest Lib/test/test_x.py`` (its own, unused, cache dir);
* **cold**: the same with ``--bytecode-cov=<the stdlib modules it tests>`` and
  a new, empty cache dir (``-o cache_dir=...``), so every module the import
  hook loads is instrumented and stored;
* **warm**: the cold run again with the same cache dir, so every such module
  comes from the cache.

A tiny recorder plugin (``-p``, written into the scratch directory, importing
nothing) writes each test's outcome; the cold and the warm record must each
equal the plain one.  Each measured run must also really have measured: its
JSON report must count executed instructions in the files of every target
(a target without any is a failure: a silently unmeasured run), the warm run
must have written no cache entry (all hits), and a target whose files the
report marks *partial* must be named in the plugin's
``bytecode-cov-early-import`` warning (a named target may still be measured
whole, when its tests import it afresh).  Partial targets are modules pytest
imported before the plugin's import hook was installed: only their functions
are measured, never their module-level code, and they never go through the
cache.  That is expected, and not a failure, but never hidden: each module's
line says ``early: ...`` and the last lines list them all::

    python tools/cpython_diff.py --plugin --default --jobs 2 --timeout 300
    python tools/cpython_diff.py --plugin test_textwrap test_json

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
import shutil
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
    **{
        f"test.test_inspect.TestGetClosureVars.{name}": "3.10: co_names of instrumented "
        "code has tb_lasti, which the handler stubs read, and getclosurevars() lists "
        "it as unbound"
        for name in (
            "test_getclosurevars_empty",
            "test_generator_closure",
            "test_method_closure",
            "test_name_resolution",
        )
    },
}

#: Tests of the language itself, run by ``--default`` in the engine mode only:
#: their own code is what they test, and the engine mode instruments the test
#: module (the plugin never measures test modules).  Each gave the same
#: outcomes plain and instrumented on 3.10-3.13 when added (test_math, which
#: takes half a minute, and test_code and test_sys, which inspect the sizes
#: and bytes of their own code objects, are left out).
LANGUAGE_MODULES: tuple[str, ...] = (
    "test_generators", "test_coroutines", "test_asyncgen", "test_exceptions",
    "test_exception_group", "test_except_star", "test_grammar", "test_with",
    "test_scope", "test_patma", "test_yield_from", "test_raise", "test_super",
    "test_listcomps", "test_setcomps", "test_dictcomps", "test_genexps",
    "test_unpack_ex", "test_named_expressions", "test_fstring",
    "test_string_literals", "test_class", "test_descr", "test_property",
    "test_decorators", "test_keywordonlyarg", "test_positional_only_arg",
    "test_opcodes", "test_funcattrs", "test_traceback", "test_inspect",
    "test_frame", "test_sys_settrace", "test_trace", "test_bdb", "test_abc",
    "test_types", "test_builtin", "test_augassign", "test_richcmp", "test_int",
    "test_float", "test_itertools", "test_weakref", "test_gc", "test_finalization",
)  # fmt: skip

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


# --- Plugin mode: the Lib/test module under pytest, plain and through the plugin ---

#: The recorder plugin, written into each run's scratch directory and loaded
#: with ``-p``.  It imports nothing pytest has not imported already, so it
#: cannot add to the modules imported before the plugin's import hook.
RECORDER_NAME = "cpython_diff_recorder"
RECORDER = r'''"""Written by tools/cpython_diff.py --plugin: one line per test report."""
import os

_OUT = open(os.environ["CPYTHON_DIFF_RECORD"], "a", encoding="utf-8")


def _line(key, what, report):
    exc = ""
    if report.failed:
        crash = getattr(getattr(report, "longrepr", None), "reprcrash", None)
        words = (getattr(crash, "message", "") or "").split(":", 1)[0].split()
        exc = words[0] if words else ""
    key = key.replace("\t", " ").replace("\n", " ")
    _OUT.write(f"{key}\t{what}:{exc}\n")
    _OUT.flush()


def pytest_runtest_logreport(report):
    if report.when != "call" and report.passed:
        return
    key = report.nodeid
    context = getattr(report, "context", None)  # a unittest subTest
    if context is not None:
        if report.passed:  # as unittest records them: only the ones that did not pass
            return
        key += f" [{getattr(context, 'msg', None)}] ({getattr(context, 'kwargs', None)})"
    outcome = report.outcome
    if hasattr(report, "wasxfail"):
        outcome = "xfail" if report.skipped else "xpass"
    _line(key, f"{report.when}:{outcome}", report)


def pytest_sessionstart(session):
    # As regrtest without -u: no resource (network, cpu, ...) is enabled.  The
    # import hook is in place by now, so this import is like the test module's.
    try:
        from test import support
    except ImportError:
        return
    support.use_resources = []


def pytest_runtest_setup(item):
    # As regrtest seeds it: the same random data in every run (test_statistics
    # compares exact floats computed from random data).
    import random

    random.seed(0)


def pytest_collectreport(report):
    if not report.passed:
        _line(report.nodeid, f"collect:{report.outcome}", report)


def pytest_sessionfinish(session, exitstatus):
    _OUT.write(f"<session>\texit {int(exitstatus)}\n")
    _OUT.flush()
'''

#: Test modules whose tests pytest cannot collect as they stand (their
#: ``load_tests`` builds the test classes): a test file written into the
#: scratch directory that puts those classes where pytest looks for them.
PYTEST_SHIMS: dict[str, str] = {
    # The pure (_pydatetime) and the C classes, each renamed with its suffix,
    # with the setUpClass that swaps sys.modules, in load_tests' order.
    "test_datetime": (
        "import unittest\n"
        "from test import test_datetime\n"
        "_suite = test_datetime.load_tests(unittest.TestLoader(), unittest.TestSuite(), None)\n"
        "for _case in dict.fromkeys(type(t) for t in _suite):\n"
        "    globals()[_case.__name__] = _case\n"
    ),
}

#: Targets that the plugin cannot measure at all, with why: printed as
#: ``unmeasured (known)`` in every run, never hidden, and not counted as failures.
KNOWN_UNMEASURED: dict[str, str] = {
    "keyword": "imported by pytest before the import hook, and it has no function: "
    "all its code is module-level code",
}

#: The slowest modules under pytest (test_decimal takes a minute a run on 3.10):
#: started first, so that their three runs in a row do not end the whole run alone.
PLUGIN_SLOW_FIRST: tuple[str, ...] = ("test_decimal", "test_email", "test_functools")

#: pytest's warning that names the modules imported before the import hook.
EARLY_WARNING = re.compile(r"module-level code not measured \(functions are\): ([^\n]*)")


def targets_of(module: str) -> tuple[str, ...]:
    """The stdlib modules ``module`` tests that exist on this interpreter."""
    found = []
    for name in DEFAULT_MODULES.get(module, ()):
        with contextlib.suppress(ImportError, ValueError):
            if importlib.util.find_spec(name) is not None:
                found.append(name)
    return tuple(found)


def pytest_target(module: str, workdir: str) -> str:
    """The path to give pytest for Lib/test ``module`` (shims are written to ``workdir``)."""
    if module in PYTEST_SHIMS:
        shim = os.path.join(workdir, f"{module}_pytest.py")
        with open(shim, "w", encoding="utf-8") as fh:
            fh.write(PYTEST_SHIMS[module])
        return shim
    spec = importlib.util.find_spec(f"test.{module}")
    assert spec is not None and spec.origin is not None
    where = spec.submodule_search_locations
    if where and any(n.startswith("test_") and n.endswith(".py") for n in os.listdir(where[0])):
        return where[0]  # a package of test files (test_json/, test_email/...)
    return spec.origin  # a module, or a package whose tests are in __init__.py


def _locations(name: str) -> tuple[tuple[str, ...], str | None]:
    """(package directories, module file) of stdlib module ``name``."""
    spec = importlib.util.find_spec(name)
    assert spec is not None
    if not spec.has_location:  # frozen (posixpath on 3.11+): where its source is
        spec = importlib.machinery.PathFinder.find_spec(name) or spec
    dirs = tuple(os.path.abspath(p) for p in spec.submodule_search_locations or ())
    origin = os.path.abspath(spec.origin) if spec.origin and not dirs else None
    return dirs, origin


def _read_record(path: str, module: str) -> tuple[dict[str, list[str]], str | None]:
    """Outcomes by test id (``test.test_x.Class.method``) and the session's exit line."""
    tests: dict[str, list[str]] = {}
    session = None
    with contextlib.suppress(FileNotFoundError), open(path, encoding="utf-8") as fh:
        for line in fh:
            key, _, outcome = line.rstrip("\n").partition("\t")
            if key == "<session>":
                session = outcome
                continue
            key = re.sub(r" at 0x[0-9a-fA-F]+", " at 0x?", key)
            base, sep, rest = key.partition(" ")
            parts = base.split("::")
            test_id = ".".join([f"test.{module}", *parts[1:]]) if len(parts) > 1 else base
            tests.setdefault(test_id + sep + rest, []).append(outcome)
    return tests, session


def run_pytest(
    module: str,
    workdir: str,
    cache_dir: str,
    extra: Sequence[str],
    timeout: float,
    python: str,
    tag: str,
) -> dict[str, Any]:
    """One ``python -m pytest Lib/test/<module>.py`` run in ``workdir``; its record."""
    path = pytest_target(module, workdir)
    record_path = os.path.join(workdir, f"{tag}.record")
    log_path = os.path.join(workdir, f"{tag}.log")
    cmd = [
        python, "-m", "pytest", path,
        "-c", os.path.join(workdir, "pytest.ini"),
        "--rootdir", workdir,
        "-o", f"cache_dir={cache_dir}",
        "-p", "no:randomly",
        "-p", RECORDER_NAME,
        "-q", "-W", "default::pytest.PytestWarning",
        *extra,
    ]  # fmt: skip
    env = dict(os.environ, PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1")
    env["CPYTHON_DIFF_RECORD"] = record_path
    for name in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "COVERAGE_RCFILE"):
        env.pop(name, None)
    record: dict[str, Any] = {"error": None, "cmd": cmd}
    started = time.monotonic()
    try:
        with open(log_path, "w", encoding="utf-8") as log:
            proc = subprocess.run(
                cmd, stdout=log, stderr=subprocess.STDOUT, timeout=timeout, env=env, cwd=workdir
            )
        # 0: all passed, 1: some tests failed; anything else is the run's own failure.
        if proc.returncode not in (0, 1):
            record["error"] = f"pytest exited {proc.returncode}"
    except subprocess.TimeoutExpired:
        record["error"] = f"timeout after {timeout}s"
    record["seconds"] = round(time.monotonic() - started, 2)
    record["tests"], session = _read_record(record_path, module)
    if session is None and record["error"] is None:
        record["error"] = "no session end recorded"
    record["run"] = sum(  # tests, not the subtests that did not pass
        1 for k, v in record["tests"].items() if " " not in k and any("call:" in o for o in v)
    )
    with open(log_path, encoding="utf-8", errors="replace") as fh:
        record["output"] = fh.read()
    return record


def _cache_entries(cache_dir: str) -> dict[str, tuple[int, int]]:
    """The plugin's cache entries (a module's code, and its read plans in an
    entry of their own): name -> (inode, mtime), to see whether any was rewritten."""
    found = {}
    for root, _dirs, files in os.walk(cache_dir):
        for name in files:
            if name.endswith(".bin"):
                st = os.stat(os.path.join(root, name))
                found[name] = (st.st_ino, st.st_mtime_ns)
    return found


def check_measured(
    record: dict[str, Any], report: str, targets: Sequence[str]
) -> tuple[list[str], dict[str, int], set[str]]:
    """Problems with one measured run's measurement, covered instructions per
    target, and the targets that were only partly measured (imported early)."""
    problems: list[str] = []
    covered: dict[str, int] = {}
    partial: set[str] = set()
    try:
        with open(report, encoding="utf-8") as fh:
            files = json.load(fh)["files"]
    except (OSError, ValueError, KeyError) as exc:
        return [f"<measured>: no usable JSON report ({exc})"], covered, partial
    warned = set()
    for match in EARLY_WARNING.finditer(record.get("output", "")):
        warned.update(n.strip() for n in match.group(1).split(","))
    for target in targets:
        dirs, origin = _locations(target)
        mine = {
            path: data
            for path, data in files.items()
            if os.path.abspath(path) == origin
            or any(os.path.abspath(path).startswith(d + os.sep) for d in dirs)
        }
        covered[target] = sum(d["summary"]["covered_instructions"] for d in mine.values())
        if not mine:
            problems.append(f"<measured>: {target}: no file of it in the report")
        elif covered[target] == 0 and target not in KNOWN_UNMEASURED:
            problems.append(f"<measured>: {target}: no instruction counted (not measured)")
        if any(d.get("partial") for d in mine.values()):
            partial.add(target)
        # Named but not partial is fine: a fresh import (import_fresh_module)
        # loaded it again through the hook, measured whole.
        named = any(n == target or n.startswith(target + ".") for n in warned)
        if target in partial and not named:
            problems.append(
                f"<measured>: {target}: partial in the report, but not named in the "
                "early-import warning"
            )
    return problems, covered, partial


def _output_tail(record: dict[str, Any], lines: int = 8) -> list[str]:
    return [f"      | {t}" for t in record.get("output", "").rstrip().splitlines()[-lines:]]


def plugin_diff_module(module: str, timeout: float, python: str) -> dict[str, Any]:
    """Plain, cold-cache and warm-cache pytest runs of ``module``, compared."""
    targets = targets_of(module)
    result: dict[str, Any] = {
        "module": module,
        "diffs": [],
        "early": set(),
        "unmeasured": set(),
        "notes": [],
    }
    with tempfile.TemporaryDirectory(prefix=f"cpython_diff_{module}_") as tmp:
        runs = {}
        for tag in ("plain", "measured"):
            workdir = os.path.join(tmp, tag)
            os.mkdir(workdir)
            with open(os.path.join(workdir, "pytest.ini"), "w", encoding="utf-8") as fh:
                fh.write("[pytest]\n")
            with open(os.path.join(workdir, RECORDER_NAME + ".py"), "w", encoding="utf-8") as fh:
                fh.write(RECORDER)
        plain_dir, measured_dir = os.path.join(tmp, "plain"), os.path.join(tmp, "measured")
        cache_dir = os.path.join(measured_dir, "cache")
        runs["plain"] = run_pytest(
            module, plain_dir, os.path.join(plain_dir, "cache"), (), timeout, python, "plain"
        )
        cov = [f"--bytecode-cov={t}" for t in targets]
        entries: dict[str, dict[str, tuple[int, int]]] = {}
        covered: dict[str, dict[str, int]] = {}
        for tag in ("cold", "warm"):
            # pytest's own cache (last failures, node ids) would differ between
            # the runs, and it reads and writes it with json, a measured module:
            # only the plugin's instrumentation cache is kept for the warm run.
            shutil.rmtree(os.path.join(cache_dir, "v"), ignore_errors=True)
            report = os.path.join(measured_dir, f"{tag}.json")
            extra = [
                *cov,
                f"--bytecode-cov-report=json:{report}",
                f"--bytecode-cov-data={os.path.join(measured_dir, tag + '.bytecode-cov')}",
            ]
            runs[tag] = run_pytest(module, measured_dir, cache_dir, extra, timeout, python, tag)
            entries[tag] = _cache_entries(cache_dir)
            problems, covered[tag], partial = check_measured(runs[tag], report, targets)
            result["diffs"] += [f"[{tag}] {p}" for p in problems]
            if any("no usable JSON report" in p for p in problems):
                result["diffs"] += [f"[{tag} output tail]", *_output_tail(runs[tag], 3)]
            result["early"] |= partial
        for tag in ("cold", "warm"):
            diffs = compare(runs["plain"], runs[tag])
            result["diffs"] += [f"[plain vs {tag}] {d}" for d in diffs]
            if any(d.startswith("<module>") for d in diffs):
                result["diffs"] += [f"[{tag} output tail]", *_output_tail(runs[tag])]
        loaded = [t for t in targets if t not in result["early"] and covered["cold"].get(t)]
        if loaded and not entries["cold"]:
            result["diffs"].append(f"[cold] <cache>: nothing cached, yet {loaded} were imported")
        if entries["warm"] != entries["cold"]:
            rewritten = sorted(set(entries["warm"].items()) - set(entries["cold"].items()))
            result["diffs"].append(f"[warm] <cache>: {len(rewritten)} entries (re)written")
        if covered["cold"] != covered["warm"]:
            result["notes"].append(f"covered instructions cold {covered['cold']}")
            result["notes"].append(f"covered instructions warm {covered['warm']}")
    for target in targets:
        if target in KNOWN_UNMEASURED:
            if covered["cold"].get(target) or covered["warm"].get(target):
                result["notes"].append(f"{target} was measured: drop it from KNOWN_UNMEASURED")
            else:
                result["unmeasured"].add(target)
    seconds = "/".join(f"{runs[t].get('seconds', '?')}" for t in ("plain", "cold", "warm"))
    measured = ", ".join(f"{t} {covered['cold'].get(t, 0)}" for t in targets)
    early = f", early: {', '.join(sorted(result['early']))}" if result["early"] else ""
    result["counts"] = (
        f"{runs['plain'].get('run', '?')} tests, {seconds}s, instructions counted: {measured}, "
        f"{sum(not n.endswith('-plans.bin') for n in entries['cold'])} cached{early}"
    )
    return result


def plugin_main(modules: Sequence[str], timeout: float, python: str, jobs: int) -> int:
    """Plugin mode: one line per module, the early-imported targets, then the totals."""
    passed = failed = 0
    early: dict[str, set[str]] = {}
    unmeasured: dict[str, set[str]] = {}
    modules = sorted(modules, key=lambda m: m not in PLUGIN_SLOW_FIRST)  # stable
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(plugin_diff_module, m, timeout, python) for m in modules]
        for fut in futures:
            res = fut.result()
            module, diffs = res["module"], res["diffs"]
            for target in res["early"]:
                early.setdefault(target, set()).add(module)
            for target in res["unmeasured"]:
                unmeasured.setdefault(target, set()).add(module)
            known = [d for d in diffs if d.split("] ", 1)[-1].split(":")[0] in KNOWN_DIFFERENCES]
            diffs = [d for d in diffs if d not in known]
            for line in known:
                test_id = line.split("] ", 1)[-1].split(":")[0]
                print(f"known {line}  ({KNOWN_DIFFERENCES[test_id]})")
            for note in res["notes"]:
                print(f"note {module}: {note}")
            if _print_outcome(module, res["counts"], diffs):
                passed += 1
            else:
                failed += 1
    if early:
        print(
            "imported by pytest before the plugin's import hook (only their functions "
            "measured, module-level code not; not cached):"
        )
        for target in sorted(early):
            print(f"    {target} (in {', '.join(sorted(early[target]))})")
    for target in sorted(unmeasured):
        print(
            f"unmeasured (known): {target} (in {', '.join(sorted(unmeasured[target]))}): "
            f"{KNOWN_UNMEASURED[target]}"
        )
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def available(module: str) -> bool:
    return importlib.util.find_spec(f"test.{module}") is not None


def _print_outcome(module: str, counts: object, diffs: list[str]) -> bool:
    """Print a module's verdict line and up to 50 of its differences; True
    when it passed (no difference left)."""
    if diffs:
        print(f"FAIL {module} ({counts}): {len(diffs)} differences")
        for line in diffs[:50]:
            print(f"    {line}")
        if len(diffs) > 50:
            print(f"    ... {len(diffs) - 50} more")
    else:
        print(f"ok   {module} ({counts})")
    sys.stdout.flush()
    return not diffs


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
        "--plugin",
        action="store_true",
        help="through the pytest plugin: plain, cold-cache and warm-cache pytest runs",
    )
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
        if not args.plugin:
            modules += list(LANGUAGE_MODULES)
    if args.quick:
        modules += list(QUICK_MODULES)
    if not modules:
        parser.error("name modules, or use --default / --quick / --list-default")
    missing = [m for m in modules if not available(m)]
    for m in missing:
        print(f"SKIP {m}: not in this interpreter's Lib/test")
    modules = [m for m in dict.fromkeys(modules) if m not in missing]
    if args.plugin:
        return plugin_main(modules, args.timeout, args.python, args.jobs)
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
            if _print_outcome(module, counts, diffs):
                passed += 1
            else:
                failed += 1
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
