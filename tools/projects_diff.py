"""Differential test of the plugin over real projects' own test suites.

For each project of :data:`PROJECTS` (pure-Python packages from PyPI, pinned,
chosen for variety) the tool, under the running interpreter:

1. creates a venv (reused while the interpreter, the project's version and
   its requirement files are unchanged), installing the pinned requirements of
   ``tools/projects/common.txt`` and ``tools/projects/<name>.txt`` and the
   pinned project itself from PyPI;
2. downloads the project's pinned sdist (``--no-binary <name> --no-deps``) and
   copies it to a fresh run directory with the package's own sources deleted,
   so the tests can only import the installed copy (the one measured);
3. installs pytest-bytecode from the repository (a wheel built once per
   invocation, installed without dependencies over the pins) and
   ``tools/projects/pdiff_recorder.py``, a small ``-p`` plugin that records
   each test's outcome, collection errors and every warning as JSON;
4. runs the selected tests four ways, each in a fresh pytest process:

   * ``plain``: ``pytest`` (pytest-bytecode installed, not enabled);
   * ``cold``: ``--bytecode-cov=<pkg>`` with an empty pytest cache dir;
   * ``warm``: the same again, over the cache ``cold`` filled;
   * ``xdist``: ``-n 2 --bytecode-cov=<pkg>``, with an empty cache dir;

5. compares each measured way with ``plain``: the same tests with the same
   outcomes (subtests included), the same collection errors, the same exit
   status, and the same warnings (category, message, file, line, and for the
   single-process ways also test id and phase; under xdist a warning shown
   "once" lands on whichever test a worker ran first, so there only the
   warning itself counts).  The plugin's coverage report is only written as
   JSON, so no report line needs normalising away; the JSON must show at
   least the project's floor of instruction coverage over files that all lie
   in the venv's site-packages, so a silently unmeasured run fails.

Every run has ``PYTHONHASHSEED=0``; Hypothesis (attrs) is derandomized,
without deadline or example database, in every way alike.  Tests left out
(slow, random, or needing tools not installed) are listed with a reason in
the project's entry; the plain run must pass.

:data:`MORE_PROJECTS` are more such projects, run when named or with
``--more``: CI runs the default set, within its time budget, and the others
are there to be run again after a change to the import path or the engine.

``--pyodide 3.14`` (or ``3.15``) runs the projects under that CPython in
Pyodide, through ``tools/pyodide/run.sh`` (this interpreter only prepares
them): the project's pinned pure-Python wheels (``py3-none-any``, for that
Python) and the recorder are copied into run.sh's fresh site folder, the run
directory is Pyodide's working directory, and the ways are ``plain``,
``cold`` and ``warm`` (Pyodide has no subprocesses, so no xdist), compared
as above.  Its default set is :data:`PYODIDE_PROJECTS`; any project named
runs if Pyodide can run it.

Usage::

    python tools/projects_diff.py [--work DIR] [--repo PATH] [--more] [NAME ...]
    python tools/projects_diff.py --list
    python tools/projects_diff.py --pyodide 3.14 [NAME ...]   # CPython 3.14 in Pyodide
    python tools/projects_diff.py --ways plain,plain2,plainx  # self-check: plain again,
                                                              # and plain under -n 2

The work directory (default ``.cache/projects-diff`` in the checkout, one
subdirectory per interpreter, ``pyodide314`` and ``pyodide315`` for Pyodide)
keeps the venvs and unpacked sdists between invocations; each run's pytest
output is in ``<work>/cpXY/<name>/out/<way>.log`` (under Pyodide in
``<work>/pyodide3XY/<name>/run/.pdiff/out/<way>.log``).

Prints one line per project and way, then ``N passed, N failed`` (projects);
exits 1 on any difference, printing the differing test ids and warnings.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import time
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "projects"
RECORDER = DATA / "pdiff_recorder.py"


@dataclasses.dataclass(frozen=True)
class Project:
    """One project: what to install, which tests to run, what to measure."""

    name: str  #: PyPI name
    version: str  #: pinned version (wheel installed, sdist for the tests)
    why: str  #: the variety it brings
    measure: tuple[str, ...]  #: dotted names passed as --bytecode-cov=...
    tests: tuple[str, ...]  #: pytest arguments selecting the tests (in the sdist)
    remove: tuple[str, ...]  #: sdist paths deleted so the installed copy is imported
    deselect: tuple[tuple[str, str], ...] = ()  #: (node id, reason)
    args: tuple[tuple[str, str], ...] = ()  #: (extra pytest argument, reason), every way
    floor: float = 30.0  #: least instruction coverage (percent) a measured way must show
    hypothesis_examples: int = 0  #: >0: Hypothesis profile of pdiff_recorder
    #: plugin modules pdiff_recorder imports and registers in its pytest_configure
    #: (after the hook is installed), in place of a ``-p`` of the project's addopts
    late_plugins: tuple[str, ...] = ()
    #: sdist folders of tests inside the package, copied into site-packages (at
    #: the same relative path) before ``remove``, when the wheel leaves them out
    site_tests: tuple[str, ...] = ()
    #: (node id, reason) left out under Pyodide too (``--pyodide``)
    pyodide_deselect: tuple[tuple[str, str], ...] = ()


#: Reason of tests left out under Pyodide because they start a thread.
NO_THREADS = "starts a thread: Pyodide has none (RuntimeError: can't start new thread)"
#: Reason of tests left out under Pyodide because they start a process.
NO_PROCESSES = "starts a process: Pyodide cannot (OSError: emscripten does not support processes)"

#: Reason of tests left out because they assert on wall-clock time.
TIMING = (
    "timing: compares wall-clock times (of two input sizes); "
    "fails plain under -n 2 on a loaded machine"
)

PROJECTS: tuple[Project, ...] = (
    Project(
        name="attrs",
        version="26.1.0",
        why="class generation from runtime annotations (dataclass-like); two import "
        "names for one package (attrs re-exports attr); Hypothesis",
        measure=("attr", "attrs"),
        tests=("tests",),
        remove=("src",),
        deselect=(
            ("tests/test_funcs.py", "Hypothesis-heavy, 13 s plain; test_make covers the core"),
            (
                "tests/test_converters.py::TestPipe::test_wrapped_annotation",
                "fails plain on CPython 3.12.1 (get_return_type() is None)",
            ),
        ),
        floor=60.0,
        hypothesis_examples=10,
    ),
    Project(
        name="typeguard",
        version="4.6.1",
        why="runtime checking of annotations; its own import hook rewrites modules "
        "(AST) and its tests importlib.reload them; inspects frames and code objects",
        measure=("typeguard",),
        tests=("tests",),
        remove=("src",),
        deselect=(
            ("tests/mypy", "runs the mypy executable, not installed"),
            (
                "tests/test_pytest_plugin.py",
                "needs typeguard's pytest11 plugin loaded in the outer run (disabled below)",
            ),
        ),
        args=(
            (
                "-p no:typeguard",
                "typeguard's pytest11 plugin imports typeguard before the hook, so it would "
                "be only partly measured, and the BytecodeCovWarning saying so is an error "
                "under typeguard's filterwarnings=error: the run stops before collection",
            ),
        ),
        floor=50.0,
    ),
    Project(
        name="more-itertools",
        version="10.8.0",
        why="generators and iterator protocols throughout; more.py is a big module "
        "(5,300 lines); unittest classes with many subtests",
        measure=("more_itertools",),
        tests=("tests",),
        remove=("more_itertools",),
        deselect=(
            ("tests/test_recipes.py::PrimeFunctionTests::test_primes", "16 s plain"),
            ("tests/test_more.py::DiscreteFourierTransformTests::test_roundtrip", "5 s plain"),
            ("tests/test_more.py::ExtractTests::test_all_orderings", "2 s plain"),
        ),
        pyodide_deselect=(("tests/test_more.py::CallbackIterTests", NO_THREADS),),
        floor=60.0,
    ),
    Project(
        name="pyparsing",
        version="3.3.3",
        why="big modules (core.py 7,000 lines), deep recursion, exceptions and "
        "tracebacks inspected, packrat caches",
        measure=("pyparsing",),
        tests=(
            "tests/test_unit.py::Test02_WithoutPackrat",
            "tests/test_simple_unit.py",
            "tests/test_util.py",
        ),
        remove=("pyparsing",),
        deselect=(
            ("tests/test_util.py::test_make_compressed_re_random", "random input, 14 s plain"),
            (
                "tests/test_unit.py::Test02_WithoutPackrat::testNestedExpressionRandom",
                "random input",
            ),
            ("tests/test_unit.py::Test02_WithoutPackrat::testUpcaseDowncaseUnicode", "3 s plain"),
            ("tests/test_unit.py::Test02_WithoutPackrat::testWordWithIdentChars", "3 s plain"),
        ),
        floor=40.0,
    ),
    Project(
        name="toolz",
        version="1.2.0",
        why="generators, curry and inspect.signature over functions; tlz is a "
        "meta-path importer that aliases toolz's modules; a test importlib.reloads a module; "
        "tests ship inside the package",
        measure=("toolz", "tlz"),
        tests=("--pyargs", "toolz.tests"),
        remove=("toolz", "tlz"),
        floor=60.0,
    ),
    Project(
        name="six",
        version="1.17.0",
        why="a meta-path importer of its own (six.moves) with lazy attributes and "
        "module aliases; a 1,000-line single-module distribution",
        measure=("six",),
        tests=("test_six.py",),
        remove=("six.py",),
        pyodide_deselect=(("test_six.py::test_getoutput", NO_PROCESSES),),
        floor=50.0,
    ),
    Project(
        name="asyncstdlib",
        version="3.14.0",
        why="async: async generators, async context managers and coroutines driven "
        "step by step (send/throw) by the tests' own event loop",
        measure=("asyncstdlib",),
        tests=("unittests",),
        remove=("asyncstdlib",),
        floor=60.0,
    ),
)

#: dill's tests, installed in the venv with the package (relative to the run directory).
_DILL_TESTS = (
    f"../venv/lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages/dill/tests"
)

#: Why some of dill's tests fail under pytest.
_DILL_MAIN = "written to run as the script __main__ (pickles by reference from __main__)"

#: trio's tests, installed with the package (relative to the run directory).
_TRIO_TESTS = f"../venv/lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages/trio"

#: More projects, run when named or with ``--more`` (not by default: CI runs
#: the default set).  Each was identical in every way on 3.10-3.13 when added,
#: unless its entry says otherwise.
MORE_PROJECTS: tuple[Project, ...] = (
    Project(
        name="click",
        version="8.5.1",
        why="decorators building command objects, context managers and a context "
        "stack, many closures; CliRunner swaps sys.stdin/stdout and catches SystemExit; "
        "filterwarnings=error",
        measure=("click",),
        tests=("tests",),
        remove=("src",),
        pyodide_deselect=(
            *(
                (nodeid, NO_PROCESSES)
                for nodeid in (
                    "tests/test_imports.py::test_light_imports",
                    "tests/test_types/test_Path.py::test_path_dash_no_byteswarning",
                    "tests/test_termui.py::test_pipepager_less_detection_matches_stem",
                    "tests/test_termui.py::test_pipepager_less_detection_case_insensitive_on_windows",
                    "tests/test_termui.py::test_fast_edit",
                )
            ),
            (
                "tests/test_termui.py::test_edit",
                NO_PROCESSES + " (the editor, sed); a prefix, so test_edit_pathlib and the "
                "test_editor_* tests go too",
            ),
            (
                "tests/test_utils/test_echo_via_pager.py::test_echo_via_pager[",
                NO_PROCESSES + " (the pager, $PAGER cat or less; the few cases that never "
                "start it go too)",
            ),
            *(
                (
                    nodeid,
                    "runs cat as a pager: no cat executable under Pyodide, which "
                    "starts no processes (AssertionError: cat not available)",
                )
                for nodeid in (
                    "tests/test_termui.py::test_get_pager_file_with_real_pager_binary_stream",
                    "tests/test_termui.py::test_echo_via_pager_real_pager_handles_ansi",
                )
            ),
            *(
                (nodeid, NO_THREADS)
                for nodeid in (
                    "tests/test_stream_lifecycle.py::test_invoke_with_thread_pool",
                    "tests/test_stream_lifecycle.py::test_invoke_with_threads_writing_to_streams",
                    "tests/test_stream_lifecycle.py::test_sequential_threaded_invokes",
                    "tests/test_testing.py::test_tempdir_isolation_is_thread_safe",
                )
            ),
        ),
        floor=60.0,
    ),
    Project(
        name="jinja2",
        version="3.1.6",
        why="compiles templates to Python source and code objects at runtime (exec of "
        "generated code, its own traceback rewriting in jinja2.debug); async via trio "
        "and asyncio; markupsafe's pure-Python fallback measured alongside",
        measure=("jinja2", "markupsafe"),
        tests=("tests",),
        remove=("src",),
        floor=60.0,
    ),
    Project(
        name="itsdangerous",
        version="2.2.0",
        why="small: hmac signing, serializers; freezegun patches time and scans loaded modules",
        measure=("itsdangerous",),
        tests=("tests",),
        remove=("src",),
        floor=60.0,
    ),
    Project(
        name="sqlparse",
        version="0.6.1",
        why="regex lexer, a token tree walked by generators and recursion; tests/ is a package",
        measure=("sqlparse",),
        tests=("tests",),
        remove=("sqlparse",),
        pyodide_deselect=(("tests/test_cli.py::test_script", NO_PROCESSES),),
        floor=60.0,
    ),
    Project(
        name="mistune",
        version="3.4.0",
        why="markdown parser: regex-driven, plugin registry of bound methods; "
        "pythonpath=src in its pytest config",
        measure=("mistune",),
        tests=("tests",),
        remove=("src",),
        deselect=(
            (
                "tests/test_inline_limits.py::test_unclosed_inline_html_recovers_without_rescanning_the_document",
                TIMING,
            ),
            (
                "tests/test_inline_limits.py::test_links_inside_many_pending_images_do_not_rescan_image_openers",
                TIMING,
            ),
            (
                "tests/test_inline_limits.py::test_unclosed_destinations_recover_in_linear_time",
                TIMING,
            ),
            (
                "tests/test_misc.py::TestMiscCases::test_deeply_indented_list_does_not_scale_quadratically",
                TIMING,
            ),
            (
                "tests/test_security_edge_cases.py::TestEdgeCaseSecurity::test_blank_list_continuations_are_near_linear",
                TIMING,
            ),
            (
                "tests/test_security_edge_cases.py::TestEdgeCaseSecurity::test_dense_emphasis_is_near_linear",
                TIMING,
            ),
            (
                "tests/test_security_edge_cases.py::TestEdgeCaseSecurity::test_mixed_emphasis_delimiters_are_near_linear",
                TIMING,
            ),
            (
                "tests/test_security_edge_cases.py::TestEdgeCaseSecurity::test_malformed_images_are_near_linear",
                TIMING,
            ),
            (
                "tests/test_security_edge_cases.py::TestEdgeCaseSecurity::test_unclosed_link_destinations_are_near_linear",
                TIMING,
            ),
            (
                "tests/test_security_formatting.py::TestFormattingSecurity::test_repeated_formatting_pairs_return_quickly",
                TIMING,
            ),
            (
                "tests/test_security_formatting.py::TestFormattingSecurity::test_repeated_unclosed_formatting_markers_are_near_linear",
                TIMING,
            ),
            (
                "tests/test_security_inline.py::TestInlineParserSecurity::test_link_title_redos_payload_returns_quickly",
                TIMING,
            ),
            (
                "tests/test_security_inline.py::TestInlineParserSecurity::test_nested_bracket_link_input_does_not_recurse_forever",
                TIMING,
            ),
            (
                "tests/test_security_inline.py::TestInlineParserSecurity::test_failed_reference_after_nested_brackets_returns_quickly",
                TIMING,
            ),
            (
                "tests/test_security_inline.py::TestInlineParserSecurity::test_unmatched_bracket_input_returns_quickly",
                TIMING,
            ),
            (
                "tests/test_security_inline.py::TestInlineParserSecurity::test_deep_link_input_does_not_recurse_forever",
                TIMING,
            ),
            (
                "tests/test_security_inline.py::TestInlineParserSecurity::test_repeated_link_suffixes_are_near_linear",
                TIMING,
            ),
            (
                "tests/test_security_inline.py::TestInlineParserSecurity::test_repeated_unclosed_inline_spoilers_are_near_linear",
                TIMING,
            ),
            (
                "tests/test_security_inline.py::TestInlineParserSecurity::test_adjacent_ruby_tokens_do_not_recurse_forever",
                TIMING,
            ),
            (
                "tests/test_security_math.py::TestMathSecurity::test_repeated_inline_math_openers_are_near_linear",
                TIMING,
            ),
            (
                "tests/test_security_ref_links.py::TestRefLinkSecurity::test_many_reference_links_return_quickly",
                TIMING,
            ),
        ),
        floor=60.0,
    ),
    Project(
        name="werkzeug",
        version="3.1.9",
        why="werkzeug.debug renders tracebacks from live frames (code objects, "
        "co_positions, source lines); context locals; routing compiles rule "
        "functions at runtime",
        measure=("werkzeug",),
        tests=("tests",),
        remove=("src",),
        args=(
            ("-m not dev_server", "tests marked dev_server start a server subprocess"),
            (
                "--ignore=tests/test_serving.py",
                "starts dev servers (and needs cryptography, watchdog)",
            ),
            ("--ignore=tests/live_apps", "apps run by the dev server tests"),
            ("--ignore=tests/middleware/test_http_proxy.py", "needs a dev server"),
        ),
        floor=50.0,
    ),
    Project(
        name="boltons",
        version="26.2.0",
        why="many small utility modules: a tracebacks/frames module (tbutils), "
        "funcutils.wraps/FunctionBuilder compile functions from source and copy signatures, "
        "cacheutils, debugutils tracing",
        measure=("boltons",),
        tests=("tests",),
        remove=("boltons",),
        floor=40.0,
    ),
    Project(
        name="cachetools",
        # 8.x requires Python 3.11; 7.3.3 is the last release for 3.10 (same test layout)
        version="8.0.3" if sys.version_info >= (3, 11) else "7.3.3",
        why="decorators (cached, cachedmethod) wrapping functions and methods, "
        "locks and conditions, mutable mapping subclasses",
        measure=("cachetools",),
        tests=("tests",),
        remove=("src",),
        pyodide_deselect=(("tests/test_threading.py", NO_THREADS),),
        floor=60.0,
    ),
    Project(
        name="parso",
        version="0.8.7",
        why="a parser: big recursive tree code, a diff parser, pickled grammar caches; "
        "the project's pytest.ini has filterwarnings=error",
        measure=("parso",),
        tests=("test",),
        remove=("parso",),
        pyodide_deselect=(
            *(
                (
                    f"test/test_python_errors.py::test_python_exception_matches[{code}]",
                    "fails plain on 3.15: CPython's SyntaxError message changed "
                    "(argument became parameter); left out on 3.14 too",
                )
                for code in ("def x(*): pass", "def f(x, x): pass")
            ),
            *(
                (
                    f"test/test_python_errors.py::test_python_exception_matches[{code}]",
                    "fails plain on 3.15: unpacking in a comprehension is no longer a "
                    "SyntaxError (PEP 798); left out on 3.14 too",
                )
                for code in ("{**{} for a in [1]}", "[*[] for a in [1]]")
            ),
        ),
        floor=40.0,
    ),
    Project(
        name="funcy",
        version="2.1",
        why="decorator factories introspecting signatures and frames, "
        "function makers, lazy sequences (generators)",
        measure=("funcy",),
        tests=("tests",),
        remove=("funcy",),
        floor=50.0,
    ),
    Project(
        name="tomlkit",
        version="0.15.3",
        why="a style-preserving TOML parser: many small item classes subclassing "
        "builtins (int, float, str, dict, list, datetime), pickling and copying of "
        "them, a hand-written recursive-descent parser with exceptions as control flow",
        measure=("tomlkit",),
        tests=("tests",),
        remove=("tomlkit",),
        floor=60.0,
    ),
    # 4.0.0 needs Python 3.11 or later: on 3.10 its venv cannot be made.
    Project(
        name="python-dateutil",
        version="4.0.0",
        why="time zones: tzinfo subclasses called back by datetime's C code, "
        "a C-level fold/ambiguity protocol, lazily loaded zone data, module-level "
        "caches, warnings as errors; Hypothesis; freezegun patches time",
        measure=("dateutil",),
        tests=("tests",),
        remove=("src",),
        deselect=(
            (
                "tests/test_tz.py::test_gettz_link[tzpath-Europe/Monaco-Europe/Paris]",
                "fails plain on this machine: its /usr/share/zoneinfo data differs "
                "from what the test expects",
            ),
            (
                "tests/test_tzfile.py::test_gettz_local_abbreviation_without_time_zone_data",
                "fails plain on this machine: its local zone is UTC, so gettz('UTC') "
                "gives tzutc(), not tzlocal()",
            ),
            (
                "tests/test_tzpath_data.py::test_dst_matches_tzdata_zi[tzpath]",
                "fails plain on this machine: its /usr/share/zoneinfo data differs "
                "from what the test expects",
            ),
        ),
        args=(
            (
                "-W ignore::pytest.PytestUnknownMarkWarning",
                "tests/conftest.py marks xfail tests pytest.mark.no_cover, a mark of "
                "pytest-cov (not installed); unknown, it warns, an error under the "
                "project's filterwarnings=error",
            ),
        ),
        floor=50.0,
        hypothesis_examples=10,
    ),
    # On 3.10 the measured ways differ by design: pytest imports typing_extensions
    # (through exceptiongroup) before the hook, so the run warns
    # bytecode-cov-early-import (a new warning) and caches nothing; the tests'
    # outcomes are the same.
    Project(
        name="typing_extensions",
        version="4.16.0",
        why="a single big module of typing backports: Protocols, TypedDict, "
        "get_type_hints/annotations, metaclass and __class_getitem__ tricks; on 3.10 "
        "pytest imports it (via exceptiongroup) before the hook, so there only its "
        "functions are measured; the test file sits beside the module in src/",
        measure=("typing_extensions",),
        tests=("src/test_typing_extensions.py",),
        remove=("src/typing_extensions.py",),
        pyodide_deselect=(
            *(
                (
                    f"src/test_typing_extensions.py::{cls}::"
                    "test_isinstance_results_unaffected_by_presence_of_tracing_function",
                    NO_PROCESSES,
                )
                for cls in ("ParamSpecTests", "ConcatenateTests", "UnpackTests")
            ),
            (
                "src/test_typing_extensions.py::AllTests::test_typing_extensions_compiles_with_opt",
                NO_PROCESSES,
            ),
            (
                "src/test_typing_extensions.py::LiteralTests::test_args",
                "fails plain on 3.15: its typing.Literal dedupes equal unhashable "
                "arguments (Literal[[], []].__args__ is ([],)); left out on 3.14 too",
            ),
        ),
        # 3.15 (Pyodide): 21.6%, typing_extensions re-exports more of typing there
        floor=20.0,
    ),
    Project(
        name="executing",
        version="2.3.0",
        why="maps a frame's f_lasti to its AST node by reading the code object's "
        "bytecode (dis, co_positions, its own compile of the source to compare); "
        "knows about pytest's assertion rewriting",
        measure=("executing",),
        tests=("tests",),
        remove=("executing",),
        deselect=(("tests/test_ipython.py", "runs IPython in a subprocess (not installed)"),),
        pyodide_deselect=(
            (
                "tests/test_main.py::test_small_samples[pattern_matching_signed_literal.py]",
                "fails plain on 3.15 (executing 2.3.0 does not know its bytecode for a "
                "match on a negative literal); left out on 3.14 too",
            ),
        ),
        floor=40.0,
    ),
    # pluggy (1.7.0) cannot be an entry: pytest-bytecode refuses --bytecode-cov=pluggy
    # ("pluggy is never measured: the run itself is made of it").
    Project(
        name="marshmallow",
        version="4.3.1",  # the last release for 3.10 (4.4.0 needs 3.11)
        why="schema classes built by a metaclass from declared fields, decorators "
        "registering hooks by attribute, many small validator callables",
        measure=("marshmallow",),
        tests=("tests",),
        remove=("src",),
        args=(
            (
                "-k not (test_invalid_datetime_deserialization and :)",
                "two parameters of the test are datetime.now() formatted at collection, so "
                "their test ids differ from run to run",
            ),
        ),
        floor=60.0,
    ),
    Project(
        name="pyflakes",
        version="4.0.3",  # the last release for 3.10 (4.1.0 needs 3.11)
        why="an AST visitor dispatching on node class names (getattr), deep "
        "recursion over syntax trees; tests ship inside the package",
        measure=("pyflakes",),
        tests=("--pyargs", "pyflakes.test"),
        remove=("pyflakes",),
        floor=60.0,
    ),
    Project(
        name="markdown",
        version="3.10.3",  # the last release for 3.10 (3.11 and later need 3.11)
        why="extension registry of processors (regex-driven), ElementTree "
        "serialisation, entry points; unittest test cases",
        measure=("markdown",),
        # test_legacy.py last: at import it calls warnings.simplefilter("error"), and
        # the PytestCollectionWarning of the next module collected (test_md_in_html.py
        # imports unittest.TestSuite, not collectable, it has an __init__) is then a
        # collection error that stops the run.
        tests=(
            "tests/test_apis.py",
            "tests/test_extensions.py",
            "tests/test_meta.py",
            "tests/test_syntax",
            "tests/test_legacy.py",
        ),
        remove=("markdown",),
        floor=60.0,
    ),
    Project(
        name="dill",
        version="0.4.1",
        why="pickles functions, code objects, frames and modules by value (rebuilds "
        "code objects from their fields, introspects co_* attributes and globals); "
        "tests ship inside the package",
        measure=("dill",),
        tests=("--pyargs", "dill.tests"),
        remove=("dill",),
        deselect=tuple(
            (
                f"{_DILL_TESTS}/{name}",
                f"fails plain when run in one pytest process with the others ({why}); "
                "passes alone: dill runs each test file as its own script",
            )
            for name, why in (
                ("test_objects.py", "ReferenceError from a dead weakref in dill.__diff"),
                ("test_registered.py", "finds PrettyPrinterType, StreamHandlerType pickled"),
                ("test_selected.py", "OSError: bad file descriptor closing a temp file"),
            )
        )
        + tuple(
            (nodeid, f"fails plain under pytest: {why}")
            for nodeid, why in (
                ("test_abc.py::test_abc_non_local", _DILL_MAIN),
                ("test_classdef.py::test_class_objects", _DILL_MAIN),
                ("test_recursive.py::test_recursive_function", _DILL_MAIN),
                ("test_sources.py::test_isfrommain", _DILL_MAIN),
                ("test_sources.py::test_importable", _DILL_MAIN),
                ("test_temp.py::test_the_rest", _DILL_MAIN),
                ("test_session.py::test_session_main", _DILL_MAIN),
                ("test_session.py::test_session_other", "pickles pytest's capture streams"),
                ("test_session.py::test_load_module_asdict", _DILL_MAIN),
                (
                    f"{_DILL_TESTS}/test_threads.py",
                    "pickles threads holding pytest's capture streams",
                ),
                ("test_classdef.py::test_attr", _DILL_MAIN),
                (
                    f"{_DILL_TESTS}/test_logger.py",
                    "its arguments are not fixtures (should_trace, stream_trace)",
                ),
            )
        ),
        args=(
            (
                f"-o pythonpath={_DILL_TESTS}",
                "test modules import each other as top-level modules (import test_source): "
                "dill runs them as scripts from dill/tests",
            ),
            (
                "-W ignore:BuiltinImporter.module_repr:DeprecationWarning",
                "3.10: under -n 2 test_moduledict.py::test_doctest warns that "
                "BuiltinImporter.module_repr() is deprecated (plain under -n 2 alike)",
            ),
        ),
        floor=40.0,
    ),
    Project(
        name="beartype",
        version="0.23.1",
        why="heavy introspection of code objects, frames and annotations; generates "
        "wrapper functions by exec; beartype.claw is an import hook of its own that "
        "rewrites modules' ASTs; filterwarnings=error",
        measure=("beartype",),
        tests=("beartype_test",),
        # .coveragerc: its [report] include = beartype/* (relative to the run
        # directory) would leave the installed copy out of the report, and its
        # fail_under = 75 would apply to it.
        remove=("beartype", ".coveragerc"),
        deselect=(
            (
                "beartype_test/a00_unit/a90_claw/a20_importlib/test_clawimpfilefinder.py"
                "::test_make_beartype_file_finder_path_hook_index",
                "finds the beartype package beside beartype_test, deleted from the run "
                "directory so that the installed copy is imported",
            ),
            *(
                (
                    f"beartype_test/a00_unit/a20_util/func/test_utilfuncfile.py::{name}",
                    "3.13: fails plain under -n 2 (a test run before it on the same worker "
                    "leaves '<string>' in linecache.cache, so an eval'd lambda counts as "
                    "defined on disk)",
                )
                for name in ("test_is_func_file", "test_get_func_filename_or_none")
            ),
        ),
        floor=40.0,
    ),
    Project(
        name="decorator",
        version="5.3.2",
        why="builds signature-preserving wrappers by compiling source with exec "
        "(FunctionMaker), copies __code__ attributes, inspects frames; doctests of "
        "documentation.py driven by the tests",
        measure=("decorator",),
        tests=("tests/test.py",),
        remove=("src",),
        floor=50.0,
    ),
    Project(
        name="wrapt",
        version="2.5.2",
        why="object proxies and function wrappers (descriptor protocol, __wrapped__, "
        "__code__ reached through the proxy), post-import hooks on the import system, "
        "monkey patching; the C extension _wrappers is used unless "
        "WRAPT_DISABLE_EXTENSIONS=1 is set around the tool (then the pure-Python "
        "wrappers are measured too)",
        measure=("wrapt",),
        tests=("tests/core",),
        remove=("src",),
        floor=40.0,
    ),
    Project(
        name="trio",
        version="0.35.0",
        why="async framework: KeyboardInterrupt protection keyed by code objects and "
        "found by walking frames, coroutines driven by its own scheduler, async "
        "generators with finalizer hooks, frame and traceback introspection",
        measure=("trio",),
        tests=("--pyargs", "trio"),  # as its CI: _core._tests first (test_trio.py re-imports trio)
        remove=("src",),
        deselect=(
            (f"{_TRIO_TESTS}/_tests/tools", "run black, ruff, astor and uv (not installed)"),
            (f"{_TRIO_TESTS}/_tests/test_exports.py", "runs pylint, jedi and mypy (not installed)"),
        ),
        args=(
            (
                "-o addopts=--strict-markers --strict-config --import-mode=importlib",
                "trio's addopts less -p trio._tests.pytest_plugin, which would import trio "
                "before the hook (partly measured); late_plugins registers it instead",
            ),
        ),
        late_plugins=("trio._tests.pytest_plugin",),
        floor=50.0,
    ),
    Project(
        name="h11",
        version="0.16.0",
        why="small HTTP/1.1 state machine: bytes parsing with regexes, sentinel "
        "classes made by a metaclass; tests inside the package (sdist only: copied "
        "into site-packages)",
        measure=("h11",),
        tests=("--pyargs", "h11.tests"),
        remove=("h11",),
        site_tests=("h11/tests",),
        floor=60.0,
    ),
    Project(
        name="freezegun",
        version="1.5.5",
        why="patches time by walking the stack's frames (f_code.co_filename, "
        "f_globals) and scanning loaded modules' attributes; class and coroutine decorators",
        measure=("freezegun",),
        tests=("tests",),
        remove=("freezegun",),
        pyodide_deselect=(
            (
                "tests/test_asyncio.py",
                "fails plain: asyncio's run loop needs WebAssembly stack switching, which "
                "Pyodide under Node lacks (RuntimeError)",
            ),
            (
                "tests/test_datetimes.py::test_compare_datetime_and_time_with_timezone",
                "fails plain: Emscripten's time module has no tzset (AttributeError)",
            ),
        ),
        floor=60.0,
    ),
    Project(
        name="anyio",
        version="4.16.0",
        why="async on three backends (asyncio, asyncio+uvloop, trio) from one test "
        "suite: task groups, cancel scopes that walk coroutine frames, threads and "
        "worker processes; its pytest plugin runs async tests and fixtures",
        measure=("anyio",),
        tests=("tests",),
        remove=("src",),
        deselect=(
            (
                "tests/test_sockets.py",
                "resolves localhost and binds IPv6/IPv4 dual-stack: no name resolution "
                "here (socket.gaierror), and the largest file (about 1,000 tests)",
            ),
            (
                "tests/test_to_process.py::test_entrypoint_main_module",
                "fails plain under -n 2 (an xdist worker's __main__ has no __file__)",
            ),
            (
                "tests/test_to_process.py::test_nonexistent_main_module",
                "fails plain under -n 2 (an xdist worker's __main__ has no __file__)",
            ),
        ),
        args=(
            (
                "-o addopts=-rsfE --tb=short --strict-markers -p pytest_mock -p timeout "
                "-p no:asyncio -p no:trio",
                "anyio's addopts less -p anyio and --strict-config: its plugin is "
                "registered by late_plugins, after the hook, so its ini keys come too "
                "late for --strict-config",
            ),
            (
                "-p no:anyio",
                "the pytest11 entry point would import anyio before the hook (partly "
                "measured); late_plugins registers it instead",
            ),
            ("-m not network", "needs Internet access"),
        ),
        late_plugins=("anyio.pytest_plugin",),
        floor=50.0,
    ),
    Project(
        name="pure_eval",
        version="0.2.4",
        why="evaluates AST nodes of a running frame without side effects: reads "
        "f_locals/f_globals, getattr_static over classes' __dict__ and descriptors, "
        "checks functions' __code__ to tell builtins and safe methods apart",
        measure=("pure_eval",),
        tests=("tests",),
        remove=("pure_eval",),
        floor=60.0,
    ),
    Project(
        name="asttokens",
        version="3.0.2",
        why="marks every AST node with its tokens (tokenize, ast.walk over big "
        "trees, recursion), also over astroid's trees; its tests parse the standard "
        "library's modules and the project's own sources",
        measure=("asttokens",),
        tests=("tests",),
        remove=("asttokens",),
        floor=60.0,
    ),
    Project(
        name="stack_data",
        version="0.6.3",
        why="formats tracebacks and frames (executing, pure_eval, asttokens): maps "
        "f_lasti and tb_lasti to AST nodes, reads frames' variables; its tests "
        "import stack_data through typeguard's import hook (an AST-rewriting loader: "
        "stack_data's modules are measured from its code, never cached) and a Cython "
        "module through pyximport; executing and pure_eval are measured too",
        measure=("stack_data", "pure_eval", "executing"),
        tests=("tests",),
        remove=("stack_data",),
        deselect=(
            *(
                (
                    f"tests/test_core.py::test_executing_style_defs[{expected}]",
                    "fails plain: Pygments 2.21 (common.txt) has other colours in its "
                    "'native' style than the test expects",
                )
                for expected in (
                    ".c { color: #(999999|ababab); font-style: italic }",
                    ".err { color: #a61717; background-color: #e3d2d2 }",
                    ".c-ExecutingNode { color: #(999999|ababab); font-style: italic; "
                    "background-color: #ffff00 }",
                    ".err-ExecutingNode { color: #a61717; background-color: #ffff00 }",
                )
            ),
            *(
                (
                    nodeid,
                    "fails plain: its expected output (golden file pygmented.txt or "
                    "serialize.json, or inline) was made with an older Pygments, whose "
                    "terminal colours differ; run plain with FIX_STACK_DATA_TESTS=1 to "
                    "rewrite the golden files, then measured, to compare by hand",
                )
                for nodeid in (
                    "tests/test_core.py::test_pygments_example",
                    "tests/test_formatter.py::test_example",
                    "tests/test_serializer.py::test_example",
                )
            ),
            (
                "tests/test_core.py::test_example",
                "3.13: fails plain under -n 2 (the execnet worker's -c source is in "
                "linecache as '<string>', so the frame of an exec'd string shows a line)",
            ),
        ),
        floor=40.0,
    ),
    Project(
        name="pysnooper",
        version="1.2.3",
        why="a tracing debugger: sys.settrace and frame.f_trace on the decorated "
        "function's frames, f_lineno, f_locals and source lines read by "
        "co_filename, generators and recursion traced; its tests check the "
        "exact trace printed",
        measure=("pysnooper",),
        tests=("tests",),
        remove=("pysnooper",),
        pyodide_deselect=(("tests/test_pysnooper.py::test_multi_thread_info", NO_THREADS),),
        floor=60.0,
    ),
    Project(
        name="snoop",
        version="0.6.1",
        why="a tracing debugger built on executing and asttokens: sys.settrace, "
        "frames' f_lasti mapped to AST nodes, f_locals, source by co_filename; "
        "its tests compare exact traces with golden files per Python version",
        measure=("snoop",),
        tests=("tests",),
        remove=("snoop",),
        pyodide_deselect=(("tests/test_snoop.py::test_sample[threads]", NO_THREADS),),
        deselect=(
            (
                "tests/test_snoop.py::test_sample[color]",
                "fails plain: its golden file was made with an older Pygments, whose "
                "terminal colours differ",
            ),
            *(
                (f"tests/test_snoop.py::test_sample[{name}]", f"needs {needs} (not installed)")
                for name, needs in (
                    ("enabled", "birdseye"),
                    ("spy", "birdseye"),
                    ("pandas_sample", "pandas and numpy"),
                    ("django_sample", "Django"),
                )
            ),
            (
                "tests/test_snoop.py::test_sample[unavailable_source]",
                "3.13: fails plain under -n 2 (the execnet worker's -c source is in "
                "linecache as '<string>', so snoop reads a short source for an exec'd "
                "string: IndexError)",
            ),
        ),
        floor=60.0,
    ),
    Project(
        name="sorcery",
        version="0.2.2",
        why="spells that read their caller's frame: executing finds the calling "
        "AST node from f_lasti, then the spell reads names, keyword arguments and "
        "assignment targets from it; delegating descriptors, wrapt decorators",
        measure=("sorcery",),
        tests=("tests.py",),
        remove=("sorcery",),
        pyodide_deselect=(
            (
                "tests.py::TestStuff::test_unpack_keys_basic",
                "fails plain on 3.14 and later: sorcery 0.2.2 uses ast.Str, removed in "
                "3.14 (AttributeError)",
            ),
        ),
        deselect=tuple(
            (
                f"tests.py::TestTimeit::{name}",
                "10 s plain (timeit of a sleep); test_exception and "
                "test_not_matching_result run spells.timeit too",
            )
            for name in ("test_matching_result", "test_no_result")
        ),
        args=(
            (
                "--assert=plain",
                "spells.timeit imports every global of the calling module by name (from "
                "tests import ...), and pytest's assertion rewriting adds globals such as "
                "@py_builtins, a SyntaxError there: sorcery runs its tests with unittest",
            ),
        ),
        floor=60.0,
    ),
    # Most of icontract's test files import tests.error and tests.mock, helpers
    # its sdist leaves out (with tests/__init__.py): only the files without them run,
    # less test_globals.py (it asserts that ICONTRACT_SLOW is set in the environment).
    Project(
        name="icontract",
        version="2.7.3",
        why="design-by-contract decorators: wrappers resolve condition arguments by "
        "inspect.signature, re-read a failed lambda's source (inspect, asttokens) and "
        "re-evaluate its AST to explain the violation; invariants patch classes' methods",
        measure=("icontract",),
        tests=(
            "tests/test_checkers.py",
            "tests/test_for_integrators.py",
            "tests/test_recompute.py",
            "tests/test_recursion.py",
            "tests/test_threading.py",
        ),
        remove=("icontract",),
        floor=30.0,
    ),
    Project(
        name="tenacity",
        version="9.2.1",
        why="retry decorators over sync functions, coroutines (asyncio and trio), "
        "generators and tornado coroutines: wrappers built by functools.wraps, "
        "inspect.iscoroutinefunction on the wrapped, exceptions re-raised with "
        "their tracebacks, statistics kept on the function object",
        measure=("tenacity",),
        tests=("tests",),
        remove=("tenacity",),
        deselect=(
            (
                "tests/test_asyncio.py::TestContextManager::test_sleeps",
                "timing: asserts that a retry without sleep takes under 1.1 ms of wall "
                "clock; fails under -n 2 on a loaded machine",
            ),
        ),
        floor=60.0,
    ),
    # On 3.13 pip builds the wheel from the sdist, without the C pvectorc: the
    # tests of the C vector skip there.
    Project(
        name="pyrsistent",
        version="0.20.0",
        why="persistent data structures: a trie vector (its C pvectorc in the wheel, "
        "the pure-Python one tested too), HAMT-like maps, records and classes made by "
        "metaclasses with field invariants, evolvers, pickling; a Hypothesis state machine",
        measure=("pyrsistent",),
        tests=("tests",),
        remove=("pyrsistent",),
        floor=60.0,
        hypothesis_examples=10,
    ),
    Project(
        name="cattrs",
        version="26.2.1",
        why="converters generating (un)structuring functions as source compiled by "
        "exec (linecache entries), singledispatch and predicate hook dispatch, "
        "generics, TypedDicts, NewTypes, Literals, exception groups; Hypothesis",
        measure=("cattrs", "cattr"),
        tests=("tests",),
        remove=("src",),
        floor=50.0,
        hypothesis_examples=10,
    ),
    Project(
        name="idna",
        version="3.21",
        why="codec registration (codecs.register, encodings round trips), big "
        "lazily imported data tables, unicodedata, threads; Hypothesis",
        measure=("idna",),
        tests=("tests",),
        remove=("idna",),
        floor=60.0,
        hypothesis_examples=10,
    ),
    Project(
        name="jsonschema",
        version="4.26.0",
        why="validators made by a class factory (attrs classes, evolve), lazy "
        "referencing/registry of schemas, errors as exception trees with context, "
        "generators of errors, the official JSON-Schema-Test-Suite; tests inside the package",
        measure=("jsonschema",),
        tests=("--pyargs", "jsonschema.tests"),
        remove=("jsonschema",),
        # The suite is found beside the package (Path(jsonschema.__file__).parent.parent
        # / "json") unless $JSON_SCHEMA_TEST_SUITE is set: copied into site-packages.
        site_tests=("jsonschema/tests", "json"),
        floor=60.0,
    ),
    Project(
        name="outcome",
        version="1.3.0.post0",
        why="small: captures a call's result or exception (attrs classes, "
        "__traceback__ handling, async capture, generators sent or thrown into)",
        measure=("outcome",),
        tests=("tests",),
        remove=("src",),
        pyodide_deselect=(
            (
                "tests/test_async.py",
                "fails plain: pytest-asyncio's runner needs WebAssembly stack switching, "
                "which Pyodide under Node lacks (RuntimeError)",
            ),
        ),
        floor=60.0,
    ),
    Project(
        name="sniffio",
        version="1.3.1",
        why="small: a ContextVar and thread-local, sys.modules look-ups of asyncio's "
        "running loop; tests inside the package",
        measure=("sniffio",),
        tests=("--pyargs", "sniffio._tests"),
        remove=("sniffio",),
        floor=60.0,
    ),
    # 4.4.0 needs Python 3.11 or later: on 3.10 its venv cannot be made.
    Project(
        name="astroid",
        version="4.4.0",
        why="static inference by generators of inferred values (deep recursion, "
        "StopIteration carrying results, context caching), a node class hierarchy with "
        "many mixins and decorators, builds trees of live modules by introspection; "
        "filterwarnings=error, xfail_strict",
        measure=("astroid",),
        # A subset: the inference, node and builder tests (tests/brain and the
        # modutils tests need the third-party and stdlib layouts they inspect).
        tests=(
            "tests/test_inference.py",
            "tests/test_inference_calls.py",
            "tests/test_scoped_nodes.py",
            "tests/test_nodes.py",
            "tests/test_builder.py",
            "tests/test_protocols.py",
            "tests/test_lookup.py",
            "tests/test_objects.py",
            "tests/test_object_model.py",
            "tests/test_python3.py",
            "tests/test_type_params.py",
            "tests/test_nodes_lineno.py",
            "tests/test_constraint.py",
            "tests/test_raw_building.py",
        ),
        remove=("astroid",),
        floor=50.0,
    ),
    Project(
        name="bytecode",
        # 0.18 and later need Python 3.11; 0.17.0 is the last release for 3.10
        version="0.19.1" if sys.version_info >= (3, 11) else "0.17.0",
        why="disassembles and reassembles code objects (co_code, exception tables, "
        "line tables, stack depth), round-trips the tests' own functions' __code__ "
        "and replaces them; src layout",
        measure=("bytecode",),
        tests=("tests",),
        remove=("src",),
        floor=50.0,
    ),
    Project(
        name="varname",
        version="1.0.0",
        why="reads its callers' frames: executing maps f_lasti to the calling AST "
        "node, a fallback decodes the caller's bytecode (dis) at f_lasti; ignore "
        "lists match frames by module, code object and qualname",
        measure=("varname",),
        tests=("tests",),
        remove=("varname",),
        deselect=tuple(
            (
                nodeid,
                "fails plain under -n 2 on 3.13 (varname raises its generic \"Couldn't "
                'retrieve the call node" where the test expects another message)',
            )
            for nodeid in (
                "tests/test_argname.py::test_argname_func_na",
                "tests/test_argname.py::test_argname_func_node_na",
                "tests/test_nameof.py::test_nameof_full",
            )
            if sys.version_info >= (3, 13)
        ),
        args=(
            (
                "-o addopts=-p no:asyncio -W error::UserWarning",
                "varname's addopts less its --cov options (pytest-cov, not installed)",
            ),
        ),
        floor=60.0,
    ),
    Project(
        name="lark",
        version="1.3.1",
        why="a parser generator: grammars compiled to LALR tables, Earley parsing, "
        "parsers pickled to a cache and loaded back, Transformers dispatching by "
        "getattr on rule names, a standalone parser generated as source",
        measure=("lark",),
        tests=("tests",),
        remove=("lark",),
        deselect=(
            (
                "tests/test_nearley",
                "needs the nearley git submodule, left out of the sdist (ImportError)",
            ),
        ),
        floor=50.0,
    ),
    # pygments (2.21.0) cannot be an entry: pytest imports it at startup
    # (_pytest/_io/terminalwriter.py), before the hook, so every measured way
    # warns bytecode-cov-early-import (a new warning); the 5,330 tests' outcomes
    # were the same in every way on 3.10 and 3.12.
    Project(
        name="tblib",
        version="3.2.2",
        why="pickles tracebacks and rebuilds them from fake code objects and frames "
        "(compile of stub functions at the recorded line numbers, code.replace); "
        "doctests of README compare formatted tracebacks; filterwarnings=error",
        measure=("tblib",),
        tests=("tests", "README.rst"),
        remove=("src",),
        deselect=(
            (
                "tests/test_pickle_exception.py::test_install[",
                "fails plain on 3.13.0 in 15 of its 18 cases: the formatted traceback "
                "it expects has another caret line (~~^~~~~)",
            ),
        )
        if sys.version_info >= (3, 13)
        else (),
        args=(
            (
                "-o pythonpath=tests",
                "README's doctests import the helper modules of tests/ by name (tox sets "
                "PYTHONPATH=tests)",
            ),
        ),
        floor=60.0,
    ),
    # Pony decompiles the bytecode of the generator expressions and lambdas its
    # queries are written as, and fails on measured code (docs/user-guide.md, Code
    # that reads its own bytecode): the two tests whose query is a lambda of
    # pony/orm/core.py itself are left out; every other outcome is the same.
    Project(
        name="pony",
        version="0.7.20",
        why="an ORM whose queries are generator expressions and lambdas: it decompiles "
        "their bytecode (gi_frame.f_code, __code__) back to an AST and translates it "
        "to SQL; caches queries by code object; tests inside the package",
        measure=("pony",),
        tests=("--pyargs", "pony.orm.tests"),
        remove=("pony",),
        deselect=(
            *(
                (
                    f"test_raw_sql.py::TestRawSQL::test_{k}",
                    "filter/order_by(raw_sql(...)) wrap it in a lambda of pony/orm/core.py, "
                    "whose measured bytecode pony's decompiler cannot read (DecompileError; "
                    "a known difference, docs/user-guide.md)",
                )
                for k in (14, 18)
            ),
            (
                "test_decompiler.py::test_method",
                "fails plain under pytest: a unittest-style helper named test_method, "
                "taken for a test function (fixture 'self' not found)",
            ),
        ),
        floor=40.0,
    ),
)

WAYS = ("plain", "cold", "warm", "xdist")
#: Under Pyodide: no subprocesses, so no xdist.
PYODIDE_WAYS = ("plain", "cold", "warm")
#: What ``--pyodide`` runs unless projects are named: pure Python, no
#: requirement Pyodide lacks (threads, subprocesses), minutes at most in wasm.
PYODIDE_PROJECTS = (
    "toolz",
    "more-itertools",
    "six",
    "asyncstdlib",
    "cachetools",
    "sqlparse",
    "mistune",
    "funcy",
    "executing",
    "pysnooper",
    "typing_extensions",
    "stack_data",
    "tomlkit",
    "parso",
)
#: Extra ways for diagnosis, compared with plain like the others.
EXTRA_WAYS = ("plain2", "plainx")


def log(msg: str) -> None:
    print(msg, flush=True)


def run(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, text=True, capture_output=True, **kw)


def check(cmd: list[str], what: str, **kw: Any) -> None:
    proc = run(cmd, **kw)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise RuntimeError(f"{what} failed ({proc.returncode}):\n{tail}")


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def pip(python: Path, *args: str) -> list[str]:
    return [str(python), "-m", "pip", "--disable-pip-version-check", *args]


def requirement_files(project: Project) -> list[Path]:
    return [DATA / "common.txt", DATA / f"{project.name}.txt"]


def venv_key(project: Project) -> str:
    h = hashlib.sha256()
    h.update(sys.version.encode())
    h.update(f"{project.name}=={project.version}".encode())
    for req in requirement_files(project):
        h.update(req.read_bytes())
    return h.hexdigest()


def ensure_venv(project: Project, pdir: Path) -> Path:
    """The project's venv, with its pins installed (created or reused)."""
    venv = pdir / "venv"
    marker = pdir / "venv.key"
    key = venv_key(project)
    if venv_python(venv).exists() and marker.exists() and marker.read_text() == key:
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    marker.unlink(missing_ok=True)
    check([sys.executable, "-m", "venv", str(venv)], "venv")
    py = venv_python(venv)
    reqs: list[str] = []
    for req in requirement_files(project):
        reqs += ["-r", str(req)]
    check(
        pip(py, "install", "-q", *reqs, f"{project.name}=={project.version}"),
        f"pip install {project.name}",
    )
    marker.write_text(key)
    return venv


def download_afresh(folder: Path, what: str, *args: str) -> None:
    """``pip download --no-deps *args`` into ``folder``, emptied first."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    check(pip(Path(sys.executable), "download", "-q", "--no-deps", "-d", str(folder), *args), what)


def ensure_sdist(project: Project, pdir: Path) -> Path:
    """The unpacked sdist (downloaded once per pinned version: the marker
    names the version, so a changed pin downloads again)."""
    sdist = pdir / "sdist"
    done = sdist / ".unpacked"
    if done.exists() and done.read_text() == project.version:
        return next(p for p in sdist.iterdir() if p.is_dir())
    download_afresh(
        sdist,
        f"pip download {project.name}",
        # The project only: its build backend may come as wheels (with
        # ":all:", pip builds the whole backend chain from source just to
        # read the sdist's metadata, which takes minutes).
        "--no-binary",
        project.name,
        f"{project.name}=={project.version}",
    )
    archive = next(sdist.glob("*.tar.gz"))
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(sdist, filter="data")
        else:  # pragma: no cover - old patch releases
            tar.extractall(sdist)
    archive.unlink()
    done.write_text(project.version)
    return next(p for p in sdist.iterdir() if p.is_dir())


def purelib(venv: Path) -> Path:
    out = run(
        [str(venv_python(venv)), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
    )
    return Path(out.stdout.strip())


def build_wheel(repo: Path, work: Path) -> Path:
    """pytest-bytecode's wheel, built from ``repo`` once per invocation."""
    out = work / "wheel"
    shutil.rmtree(out, ignore_errors=True)
    check(
        pip(Path(sys.executable), "wheel", "-q", "--no-deps", "-w", str(out), str(repo)),
        "building pytest-bytecode's wheel",
    )
    return next(out.glob("pytest_bytecode-*.whl"))


def selection_options(project: Project, pyodide: bool = False) -> list[str]:
    """The project's extra pytest arguments and left-out tests (not its test
    paths); ``pyodide``: those left out under Pyodide too."""
    opts: list[str] = []
    for arg, _reason in project.args:
        opts += arg.split(" ", 1)
    left_out = project.deselect + (project.pyodide_deselect if pyodide else ())
    for nodeid, _reason in left_out:
        if "::" in nodeid:
            opts += ["--deselect", nodeid]
        else:
            opts += ["--ignore", nodeid]
    return opts


def run_env(project: Project) -> dict[str, str]:
    """The environment of every pytest run of ``project``, less ``PDIFF_OUT``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTHONWARNINGS")
        and not k.startswith("COV_CORE")
    }
    env["PYTHONHASHSEED"] = "0"
    if project.hypothesis_examples:
        env["PDIFF_HYPOTHESIS"] = str(project.hypothesis_examples)
    if project.late_plugins:
        env["PDIFF_LATE_PLUGINS"] = ",".join(project.late_plugins)
    return env


def prepare_project(project: Project, pdir: Path, wheel: Path) -> tuple[Path, Path, Path]:
    """Set ``project`` up in ``pdir``: its venv (with ``wheel`` and the recorder
    installed), a fresh run directory from its sdist without the package's own
    sources, and the venv's site-packages.  Raises RuntimeError, OSError or
    StopIteration on failure."""
    venv = ensure_venv(project, pdir)
    sdist = ensure_sdist(project, pdir)
    check(
        pip(venv_python(venv), "install", "-q", "--no-deps", "--force-reinstall", str(wheel)),
        "pip install pytest-bytecode",
    )
    site = purelib(venv)
    return venv, run_directory(project, pdir, sdist, site), site


def run_directory(project: Project, pdir: Path, sdist: Path, site: Path) -> Path:
    """A fresh run directory from the unpacked ``sdist``, the package's own
    sources deleted; the recorder and the project's ``site_tests`` go to
    ``site`` (where the project is installed)."""
    shutil.copyfile(RECORDER, site / RECORDER.name)
    rundir = pdir / "run"
    shutil.rmtree(rundir, ignore_errors=True)
    shutil.copytree(sdist, rundir)
    for rel in project.site_tests:
        shutil.rmtree(site / rel, ignore_errors=True)
        shutil.copytree(rundir / rel, site / rel)
    for rel in project.remove:
        target = rundir / rel
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink()
    return rundir


#: The requirements of ``common.txt`` that a project may need under Pyodide
#: beyond what ``tools/pyodide/requirements.txt`` brings (pytest and its
#: dependencies, coverage); pytest-xdist is left out (no subprocesses).
PYODIDE_COMMON = ("typing_extensions",)


def ensure_pyodide_wheels(project: Project, pdir: Path, minor: str) -> Path:
    """The project's pinned wheel and its requirements' (pure-Python,
    ``py3-none-any``), for Python ``minor``, downloaded once per pin and
    requirement file."""
    reqs = [
        line.split("#", 1)[0].strip()
        for line in (DATA / f"{project.name}.txt").read_text().splitlines()
    ]
    common = [
        line.strip()
        for line in (DATA / "common.txt").read_text().splitlines()
        if line.split("==", 1)[0].strip() in PYODIDE_COMMON
    ]
    wanted = [f"{project.name}=={project.version}", *common, *filter(None, reqs)]
    wheels = pdir / "pyodide-wheels"
    done = wheels / ".downloaded"
    key = "\n".join([minor, *wanted])
    if done.exists() and done.read_text() == key:
        return wheels
    download_afresh(
        wheels,
        f"pip download of {project.name}'s pure-Python wheels for {minor}",
        "--only-binary=:all:",
        "--platform",
        "any",
        "--implementation",
        "py",
        "--abi",
        "none",
        "--python-version",
        minor,
        *wanted,
    )
    done.write_text(key)
    return wheels


def prepare_pyodide(
    project: Project, pdir: Path, wheel: Path, minor: str, repo: Path
) -> tuple[Target, Path]:
    """Set ``project`` up to run under Pyodide's CPython ``minor``: its
    wheels and the recorder unpacked into a folder that ``run.sh`` copies
    into its site folder, and a fresh run directory from its sdist (as
    :func:`prepare_project`).  The outputs and caches live in the run
    directory, which ``run.mjs`` mounts into Pyodide (as its working
    directory); the site folder is a fresh one under the checkout's
    ``.cache/pyodide`` every run."""
    wheels = ensure_pyodide_wheels(project, pdir, minor)
    sdist = ensure_sdist(project, pdir)
    extra = pdir / "pyodide-site"
    shutil.rmtree(extra, ignore_errors=True)
    extra.mkdir()

    for whl in sorted(wheels.glob("*.whl")):
        with zipfile.ZipFile(whl) as z:
            z.extractall(extra)
    rundir = run_directory(project, pdir, sdist, extra)
    runner = repo / "tools" / "pyodide" / "run.sh"
    env = {
        "PYODIDE_WHEEL": str(wheel),
        "PYODIDE_EXTRA_SITE": str(extra),
        "PYODIDE_CWD": str(rundir),
    }
    site = (repo / ".cache" / "pyodide").resolve()
    names = re.compile(re.escape(str(site)) + r"/run\.[^/]+/site")
    return Target(("bash", str(runner), minor), env, site, rundir / ".pdiff", names), rundir


@dataclasses.dataclass(frozen=True)
class Target:
    """Where a project's pytest runs: a venv of the running interpreter, or
    Pyodide (CPython 3.14/3.15 under Node, ``tools/pyodide/run.sh``)."""

    command: tuple[str, ...]  #: what starts pytest (its arguments follow)
    env: dict[str, str]  #: added to :func:`run_env`'s
    site: Path  #: where every measured file must lie
    scratch: Path  #: holds ``out/`` and ``caches/`` (seen by the run)
    #: Pyodide: run.sh's site folder has a fresh name every run, replaced by
    #: ``<site>`` in what the recorder wrote (the warnings' file names).
    site_names: re.Pattern[str] | None = None


@dataclasses.dataclass
class Outcome:
    way: str
    record: dict[str, Any] | None
    seconds: float
    cov: dict[str, Any] | None
    log: Path
    timed_out: bool = False


def _load(path: Path, site_names: re.Pattern[str] | None = None) -> dict[str, Any] | None:
    try:
        if not path.exists():
            return None
        text = path.read_text()
        if site_names is not None:
            text = site_names.sub("<site>", text)
        return json.loads(text)
    except (OSError, ValueError):
        return None


def run_way(project: Project, way: str, target: Target, rundir: Path, timeout: float) -> Outcome:
    out = target.scratch / "out"
    out.mkdir(parents=True, exist_ok=True)
    record = out / f"{way}.json"
    covjson = out / f"{way}-cov.json"
    logfile = out / f"{way}.log"
    for p in (record, covjson):
        p.unlink(missing_ok=True)
    cache = {"plain": "plain", "plain2": "plain2", "plainx": "plainx", "xdist": "xdist"}.get(
        way, "cov"
    )
    cache_dir = target.scratch / "caches" / cache
    if way != "warm":
        shutil.rmtree(cache_dir, ignore_errors=True)
    cmd = [*target.command, "-p", "pdiff_recorder", "-o", f"cache_dir={cache_dir}"]
    cmd += selection_options(project, target.site_names is not None)
    if way in ("cold", "warm", "xdist"):
        cmd += [f"--bytecode-cov={m}" for m in project.measure]
        cmd += [f"--bytecode-cov-report=json:{covjson}", f"--bytecode-cov-data={out / way}.data"]
    if way in ("xdist", "plainx"):
        cmd += ["-n", "2"]
    cmd += list(project.tests)
    env = run_env(project)
    env.update(target.env)
    env["PDIFF_OUT"] = str(record)
    start = time.perf_counter()
    timed_out = False
    with open(logfile, "w") as f:
        f.write("+ " + " ".join(cmd) + "\n")
        f.flush()
        try:
            subprocess.run(
                cmd, cwd=rundir, env=env, stdout=f, stderr=subprocess.STDOUT, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            timed_out = True
    seconds = time.perf_counter() - start
    rec = _load(record, target.site_names)
    cov = _load(covjson)
    return Outcome(way, rec, seconds, cov, logfile, timed_out)


def summarise(rec: dict[str, Any]) -> str:
    counts: dict[str, int] = {}
    subtests = 0
    for phases in rec["tests"].values():
        main = [p for p in phases if not p.startswith("subtest[")]
        subtests += len(phases) - len(main)
        final = "passed"
        for p in main:
            _, _, outcome = p.rpartition(":")
            if outcome != "passed":
                final = outcome
        counts[final] = counts.get(final, 0) + 1
    parts = [f"{n} {k}" for k, n in sorted(counts.items())]
    if subtests:
        parts.append(f"{subtests} subtests")
    if rec["collect_errors"]:
        parts.append(f"{len(rec['collect_errors'])} collection errors")
    return ", ".join(parts) or "no tests"


def warning_keys(rec: dict[str, Any], with_test: bool) -> set[tuple[Any, ...]]:
    if with_test:
        return {tuple(w) for w in rec["warnings"]}
    return {tuple(w[:4]) for w in rec["warnings"]}


def compare(base: dict[str, Any], other: dict[str, Any], way: str) -> list[str]:
    """Differences of ``other`` from ``base``, one line each."""
    diffs: list[str] = []
    if base["exitstatus"] != other["exitstatus"]:
        diffs.append(f"exit status: plain {base['exitstatus']}, {way} {other['exitstatus']}")
    bt, ot = base["tests"], other["tests"]
    for nodeid in sorted(set(bt) | set(ot)):
        b, o = bt.get(nodeid), ot.get(nodeid)
        if b is not None and o is not None and sorted(b) == sorted(o):
            continue
        if b is None:
            diffs.append(f"test only in {way}: {nodeid}: {o}")
        elif o is None:
            diffs.append(f"test only in plain: {nodeid}: {b}")
        else:
            only_b = sorted(set(b) - set(o)) or b
            only_o = sorted(set(o) - set(b)) or o
            diffs.append(f"test {nodeid}: plain {only_b[:5]} / {way} {only_o[:5]}")
    for nodeid in sorted(set(base["collect_errors"]) ^ set(other["collect_errors"])):
        side = "plain" if nodeid in base["collect_errors"] else way
        diffs.append(f"collection error only in {side}: {nodeid}")
    with_test = way not in ("xdist", "plainx")
    bw, ow = warning_keys(base, with_test), warning_keys(other, with_test)
    for w in sorted(ow - bw, key=repr):
        diffs.append(f"new warning in {way}: {w}")
    for w in sorted(bw - ow, key=repr):
        diffs.append(f"warning missing in {way}: {w}")
    return diffs


def check_coverage(project: Project, cov: dict[str, Any] | None, site: Path) -> list[str]:
    if cov is None:
        return ["no JSON coverage report was written"]
    problems = []
    files = cov.get("files", {})
    if not files:
        problems.append("the coverage report lists no files")
    outside = [f for f in files if not Path(f).resolve().is_relative_to(site.resolve())]
    if outside:
        problems.append(f"measured files outside site-packages: {outside[:3]}")
    pct = cov.get("totals", {}).get("percent_covered", 0.0)
    if pct < project.floor:
        problems.append(f"instruction coverage {pct:.1f}% is below the floor {project.floor}%")
    return problems


def cache_entries(scratch: Path, cache: str) -> int:
    """The modules in the instrumentation cache (each also has its read
    plans in an entry of their own, not counted)."""
    d = scratch / "caches" / cache / "d" / "pytest-bytecode"
    if not d.is_dir():
        return 0
    return sum(1 for p in d.rglob("*.bin") if p.is_file() and not p.stem.endswith("-plans"))


def run_project(
    project: Project,
    work: Path,
    wheel: Path,
    ways: list[str],
    timeout: float,
    pyodide: str | None = None,
    repo: Path = ROOT,
) -> bool:
    label = f"{project.name} {project.version}"
    pdir = work / project.name
    pdir.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        if pyodide is None:
            venv, rundir, site = prepare_project(project, pdir, wheel)
            target = Target((str(venv / "bin" / "pytest"),), {}, site, pdir)
        else:
            target, rundir = prepare_pyodide(project, pdir, wheel, pyodide, repo)
        log(f"{label} setup: {time.perf_counter() - t0:.1f} s")
    except (RuntimeError, OSError, StopIteration) as exc:
        log(f"{label} setup: FAILED: {exc}")
        return False

    ok = True
    base: dict[str, Any] | None = None
    for way in ways:
        res = run_way(project, way, target, rundir, timeout)
        head = f"{label} {way:<6}"
        if res.record is None:
            why = "timed out" if res.timed_out else "no record written (pytest crashed?)"
            log(f"{head}: FAILED: {why}, {res.seconds:.1f} s; log: {res.log}")
            tail = res.log.read_text(errors="replace").splitlines()[-15:]
            log("\n".join("    " + line for line in tail))
            ok = False
            if way == "plain":
                return False
            continue
        rec = res.record
        text = f"{summarise(rec)}, {len(rec['warnings'])} warnings, exit {rec['exitstatus']}"
        problems: list[str] = []
        if way in ("cold", "warm", "xdist"):
            problems += check_coverage(project, res.cov, target.site)
            if res.cov is not None:
                pct = res.cov.get("totals", {}).get("percent_covered", 0.0)
                text += f", cov {pct:.1f}% of {len(res.cov.get('files', {}))} files"
            if way == "cold":
                entries = cache_entries(target.scratch, "cov")
                text += f", {entries} cached"
                if entries == 0:
                    problems.append("the cold run cached nothing")
        if way == "plain":
            base = rec
            if rec["exitstatus"] != 0:
                problems.append("the plain run did not pass: fix the project's selection")
        elif base is not None:
            problems += compare(base, rec, way)
        verdict = "ok" if not problems else "DIFFERS" if way != "plain" else "FAILED"
        log(f"{head}: {text}, {res.seconds:.1f} s: {verdict}")
        for p in problems[:40]:
            log(f"    {p}")
        if len(problems) > 40:
            log(f"    ... and {len(problems) - 40} more (log: {res.log})")
        if problems:
            ok = False
            log(f"    log: {res.log}")
    return ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "names", nargs="*", help="projects to run (default: PROJECTS; MORE_PROJECTS by name)"
    )
    ap.add_argument(
        "--work",
        type=Path,
        default=ROOT / ".cache" / "projects-diff",
        help="work directory; venvs and sdists in it are reused (default: %(default)s)",
    )
    ap.add_argument("--repo", type=Path, default=ROOT, help="pytest-bytecode checkout to install")
    ap.add_argument(
        "--ways",
        default=",".join(WAYS),
        help=f"comma-separated, plain first: {', '.join(WAYS + EXTRA_WAYS)} "
        "(plain2: plain again; plainx: plain under -n 2) (default: %(default)s)",
    )
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per pytest run")
    ap.add_argument("--list", action="store_true", help="list the projects and exit")
    ap.add_argument("--more", action="store_true", help="run MORE_PROJECTS too")
    ap.add_argument(
        "--pyodide",
        choices=("3.14", "3.15"),
        help="run under that CPython in Pyodide (tools/pyodide/run.sh), ways plain, "
        f"cold, warm; default projects: {', '.join(PYODIDE_PROJECTS)}",
    )
    args = ap.parse_args(argv)

    if args.list:
        for p in (*PROJECTS, *MORE_PROJECTS):
            more = " (more)" if p in MORE_PROJECTS else ""
            log(f"{p.name}=={p.version}{more}: {p.why}")
            for nodeid, reason in p.deselect:
                log(f"    left out {nodeid}: {reason}")
            for nodeid, reason in p.pyodide_deselect:
                log(f"    left out under Pyodide {nodeid}: {reason}")
            for arg, reason in p.args:
                log(f"    {arg}: {reason}")
        return 0
    known = {p.name: p for p in (*PROJECTS, *MORE_PROJECTS)}
    unknown = [n for n in args.names if n not in known]
    if unknown:
        ap.error(f"unknown project(s): {', '.join(unknown)} (known: {', '.join(known)})")
    default = [*PROJECTS, *MORE_PROJECTS] if args.more else list(PROJECTS)
    if args.pyodide:
        default = [known[n] for n in PYODIDE_PROJECTS]
    chosen = [known[n] for n in args.names] if args.names else default
    allowed = PYODIDE_WAYS if args.pyodide else WAYS + EXTRA_WAYS
    if args.pyodide and args.ways == ",".join(WAYS):
        args.ways = ",".join(PYODIDE_WAYS)
    ways = [w.strip() for w in args.ways.split(",") if w.strip()]
    bad = [w for w in ways if w not in allowed]
    if bad or not ways or ways[0] != "plain":
        ap.error(f"--ways: plain first, then any of {', '.join(allowed[1:])}")

    tag = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    if args.pyodide:
        tag = "pyodide" + args.pyodide.replace(".", "")
    work = args.work.resolve() / tag
    work.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    where = f"Pyodide CPython {args.pyodide}, host " if args.pyodide else ""
    log(f"{where}Python {sys.version.split()[0]} ({sysconfig.get_platform()}), work dir {work}")
    try:
        wheel = build_wheel(args.repo.resolve(), work)
    except RuntimeError as exc:
        log(str(exc))
        log(f"0 passed, {len(chosen)} failed")
        return 1
    passed = failed = 0
    for project in chosen:
        if run_project(project, work, wheel, ways, args.timeout, args.pyodide, args.repo.resolve()):
            passed += 1
        else:
            failed += 1
    log(f"total {time.perf_counter() - start:.0f} s")
    log(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
