"""``settings.from_config``, table-driven: command line and ini file into Settings.

Each row hands :func:`~pytest_bytecode.settings.from_config` a small stand-in
for :class:`pytest.Config` (:class:`FakeConfig`: the invocation directory, and
ini values as ``getini`` returns them, already converted to each key's type)
and the options it gives as the parsed command line: no pytest configuration
is made, no test run.  One test checks that pytest's own ``getini`` gives what
the rows take for granted.  The end-to-end runs are in ``tests/test_plugin.py``
and ``tests/test_bad_inputs.py``.
"""

from __future__ import annotations

import argparse
import types
from pathlib import Path
from typing import Any

import pytest

from pytest_bytecode import settings
from pytest_bytecode.engine.generated import FILTERS
from pytest_bytecode.report import ReportSpec
from pytest_bytecode.settings import Settings

#: What ``getini`` gives for each key ``from_config`` reads when the ini file
#: leaves it out (pytest's defaults, and those the plugin registers).
UNSET: dict[str, Any] = {
    "python_files": ["test_*.py", "*_test.py"],
    "bytecode_cov": [],
    "bytecode_cov_report": ["term"],
    "bytecode_cov_fail_under": "",
    "bytecode_cov_filters": "",
    "bytecode_cov_fail_under_branches": "",
    "bytecode_cov_baseline": "",
    "bytecode_cov_baseline_update": False,
    "bytecode_cov_data": "",
    "bytecode_cov_append": False,
    "bytecode_cov_subprocess": False,
    "bytecode_cov_context": "",
    "bytecode_cov_affected": False,
}


class FakeConfig:
    """What ``from_config`` reads of a :class:`pytest.Config`.

    ``ini`` holds values as ``getini`` returns them (a list for a ``linelist``
    key, a bool for a ``bool`` key, text otherwise); an exception stands for
    a value pytest cannot convert, and ``getini`` raises it.
    """

    def __init__(self, invocation_dir: Path, ini: dict[str, Any]) -> None:
        self.invocation_params = types.SimpleNamespace(dir=invocation_dir)
        self.ini = {**UNSET, **ini}

    def getini(self, name: str) -> Any:
        value = self.ini[name]
        if isinstance(value, Exception):
            raise value
        return value


def from_config(base: Path, ini: dict[str, Any], **options: Any) -> Settings:
    """Settings for the ini values ``ini`` and the command-line ``options``."""
    config = FakeConfig(base, ini)
    return settings.from_config(config, argparse.Namespace(**options))  # type: ignore[arg-type]


#: id -> (ini values, command-line options, expected fields; paths relative to the
#: invocation directory)
ACCEPTED: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = {
    "nothing asked": ({}, {}, {"enabled": False}),
    "--no-bytecode-cov wins over the ini file": (
        {"bytecode_cov": ["true"]},
        {"no_bytecode_cov": True, "bytecode_cov": [True]},
        {"enabled": False},
    ),
    "--bytecode-cov alone: defaults": (
        {},
        {"bytecode_cov": [True]},
        {
            "enabled": True,
            "sources": (True,),
            "reports": (ReportSpec("term"),),
            "fail_under": None,
            "fail_under_branches": None,
            "baseline": None,
            "baseline_update": False,
            "data_path": ".bytecode-cov",
            "append": False,
            "subprocess": False,
        },
    ),
    "child processes from the ini file": (
        {"bytecode_cov_subprocess": True},
        {"bytecode_cov": [True]},
        {
            "subprocess": True,
            "origin": {"bytecode_cov_subprocess": "bytecode_cov_subprocess (ini file)"},
        },
    ),
    "child processes from the command line": (
        {},
        {"bytecode_cov": [True], "bytecode_cov_subprocess": True},
        {"subprocess": True},
    ),
    "contexts: none by default": ({}, {"bytecode_cov": [True]}, {"context": None}),
    "contexts from the ini file": (
        {"bytecode_cov_context": "test"},
        {"bytecode_cov": [True]},
        {"context": "test"},
    ),
    "test selection implies contexts": (
        {},
        {"bytecode_cov": [True], "bytecode_cov_affected": True},
        {"affected": True, "context": "test"},
    ),
    "test selection from the ini file": (
        {"bytecode_cov_affected": True},
        {"bytecode_cov": [True]},
        {"affected": True, "context": "test"},
    ),
    "contexts: the command line wins": (
        {"bytecode_cov_context": "test"},
        {"bytecode_cov": [True], "bytecode_cov_context": "none"},
        {"context": None},
    ),
    "SOURCE values kept in order": (
        {},
        {"bytecode_cov": ["pkg", True, "other"]},
        {"sources": ("pkg", True, "other")},
    ),
    "ini true words": ({"bytecode_cov": ["yes"]}, {}, {"sources": (True,)}),
    "ini true words, any case": ({"bytecode_cov": ["ON", "True"]}, {}, {"sources": (True, True)}),
    "ini SOURCE lines": ({"bytecode_cov": ["pkg", "on"]}, {}, {"sources": ("pkg", True)}),
    "command line wins over ini SOURCE": (
        {"bytecode_cov": ["other"]},
        {"bytecode_cov": ["pkg"]},
        {"sources": ("pkg",)},
    ),
    "reports from the command line, duplicates dropped": (
        {},
        {"bytecode_cov": [True], "bytecode_cov_report": ["term-missing", "json", "json"]},
        {"reports": (ReportSpec("term-missing"), ReportSpec("json", "bytecode-cov.json"))},
    ),
    "an empty report value: no report": (
        {},
        {"bytecode_cov": [True], "bytecode_cov_report": [""]},
        {"reports": ()},
    ),
    "an empty ini report: no report": (
        {"bytecode_cov": ["true"], "bytecode_cov_report": []},
        {},
        {"reports": ()},
    ),
    "fail-under from the command line wins": (
        {"bytecode_cov_fail_under": "50"},
        {"bytecode_cov": [True], "bytecode_cov_fail_under": "80"},
        {"fail_under": 80.0},
    ),
    "filters: default": (
        {},
        {"bytecode_cov": [True]},
        {"filters": frozenset(FILTERS)},
    ),
    "filters: none from the command line wins": (
        {"bytecode_cov_filters": "-no-line"},
        {"bytecode_cov": [True], "bytecode_cov_filters": "none"},
        {"filters": frozenset()},
    ),
    "filters: one switched off in the ini file": (
        {"bytecode_cov": ["true"], "bytecode_cov_filters": "-no-line, -with-exit"},
        {},
        {"filters": frozenset(FILTERS) - {"no-line", "with-exit"}},
    ),
    "filters: only those named": (
        {},
        {"bytecode_cov": [True], "bytecode_cov_filters": "duplicates,no-line"},
        {"filters": frozenset({"duplicates", "no-line"})},
    ),
    "fail-under from the ini file": (
        {"bytecode_cov": ["true"], "bytecode_cov_fail_under": " 75.5 "},
        {},
        {"fail_under": 75.5},
    ),
    "fail-under-branches from the command line wins": (
        {"bytecode_cov_fail_under_branches": "50"},
        {"bytecode_cov": [True], "bytecode_cov_fail_under_branches": "80"},
        {"fail_under_branches": 80.0, "fail_under": None},
    ),
    "fail-under-branches from the ini file, beside fail-under": (
        {
            "bytecode_cov": ["true"],
            "bytecode_cov_fail_under": "90",
            "bytecode_cov_fail_under_branches": " 62.5 ",
        },
        {},
        {"fail_under": 90.0, "fail_under_branches": 62.5},
    ),
    "terminal reports with skip-covered": (
        {},
        {
            "bytecode_cov": [True],
            "bytecode_cov_report": ["term-missing:skip-covered", "term:skip-covered"],
        },
        {
            "reports": (
                ReportSpec("term-missing", skip_covered=True),
                ReportSpec("term", skip_covered=True),
            )
        },
    ),
    "data file and append from the ini file": (
        {
            "bytecode_cov": ["true"],
            "bytecode_cov_data": "out/cov.data",
            "bytecode_cov_append": True,
        },
        {},
        {
            "data_path": "out/cov.data",
            "append": True,
            "origin": {"bytecode_cov_append": "bytecode_cov_append (ini file)"},
        },
    ),
    "append from the command line": (
        {},
        {"bytecode_cov": [True], "bytecode_cov_append": True},
        {"append": True, "origin": {"bytecode_cov_append": "--bytecode-cov-append"}},
    ),
    "data to standard output": (
        {},
        {"bytecode_cov": [True], "bytecode_cov_data": "-"},
        {"data_path": Path("-")},
    ),
    "baseline and its update": (
        {"bytecode_cov": ["true"], "bytecode_cov_baseline": "base.json"},
        {"bytecode_cov_baseline_update": True},
        {"baseline": "base.json", "baseline_update": True},
    ),
}


@pytest.mark.parametrize(("ini", "options", "expected"), ACCEPTED.values(), ids=ACCEPTED.keys())
def test_accepted(
    tmp_path: Path, ini: dict[str, Any], options: dict[str, Any], expected: dict[str, Any]
) -> None:
    got = from_config(tmp_path, ini, **options)
    for name, want in expected.items():
        if name == "origin":
            assert {key: got.origin(key) for key in want} == want
            continue
        if name in ("data_path", "baseline") and isinstance(want, str):
            want = tmp_path / want
        assert getattr(got, name) == want, name


#: id -> (ini values, command-line options, the whole one-line message)
REFUSED: dict[str, tuple[dict[str, Any], dict[str, Any], str]] = {
    "an unknown context": (
        {},
        {"bytecode_cov": [True], "bytecode_cov_context": "tests"},
        "--bytecode-cov-context=tests: must be one of test, none",
    ),
    "an unknown context in the ini file": (
        {"bytecode_cov_context": "function"},
        {"bytecode_cov": [True]},
        "bytecode_cov_context = function: must be one of test, none",
    ),
    "unknown filter": (
        {},
        {"bytecode_cov": [True], "bytecode_cov_filters": "finally"},
        "--bytecode-cov-filters=finally: unknown filter 'finally' (known: default, none, "
        + ", ".join(FILTERS)
        + "; '-NAME' switches one off)",
    ),
    "filters named and switched off at once": (
        {"bytecode_cov": ["true"], "bytecode_cov_filters": "no-line,-with-exit"},
        {},
        "bytecode_cov_filters = no-line,-with-exit: either name the filters to use or switch "
        "some off with '-NAME', not both",
    ),
    "unknown report type": (
        {},
        {"bytecode_cov": [True], "bytecode_cov_report": ["annotate"]},
        "--bytecode-cov-report=annotate: unknown report type 'annotate' "
        "(known: term, term-missing, json, lcov, xml, coverage, html)",
    ),
    "unknown report type in the ini file": (
        {"bytecode_cov": ["true"], "bytecode_cov_report": ["annotate"]},
        {},
        "bytecode_cov_report = annotate: unknown report type 'annotate' "
        "(known: term, term-missing, json, lcov, xml, coverage, html)",
    ),
    "a destination for the terminal report": (
        {},
        {"bytecode_cov": [True], "bytecode_cov_report": ["term:out.txt"]},
        "--bytecode-cov-report=term:out.txt: report type 'term' takes no destination, only "
        "the modifier skip-covered",
    ),
    "an unknown modifier in the ini file": (
        {"bytecode_cov": ["true"], "bytecode_cov_report": ["term-missing:skip-empty"]},
        {},
        "bytecode_cov_report = term-missing:skip-empty: report type 'term-missing' takes no "
        "destination, only the modifier skip-covered",
    ),
    "fail-under-branches out of range": (
        {},
        {"bytecode_cov": [True], "bytecode_cov_fail_under_branches": "101"},
        "--bytecode-cov-fail-under-branches=101: must be a number from 0 to 100",
    ),
    "fail-under-branches not a number in the ini file": (
        {"bytecode_cov": ["true"], "bytecode_cov_fail_under_branches": "most"},
        {},
        "bytecode_cov_fail_under_branches = most: must be a number from 0 to 100",
    ),
    "fail-under out of range": (
        {},
        {"bytecode_cov": [True], "bytecode_cov_fail_under": "101"},
        "--bytecode-cov-fail-under=101: must be a number from 0 to 100",
    ),
    "fail-under empty on the command line": (
        {},
        {"bytecode_cov": [True], "bytecode_cov_fail_under": ""},
        "--bytecode-cov-fail-under=: must be a number from 0 to 100",
    ),
    "fail-under not a number in the ini file": (
        {"bytecode_cov": ["true"], "bytecode_cov_fail_under": "abc"},
        {},
        "bytecode_cov_fail_under = abc: must be a number from 0 to 100",
    ),
    "baseline update without a baseline": (
        {},
        {"bytecode_cov": [True], "bytecode_cov_baseline_update": True},
        "--bytecode-cov-baseline-update: needs --bytecode-cov-baseline=PATH to write to",
    ),
    "baseline on standard output": (
        {},
        {"bytecode_cov": [True], "bytecode_cov_baseline": "-"},
        "--bytecode-cov-baseline=-: the baseline must be a file",
    ),
    "append to standard output": (
        {},
        {"bytecode_cov": [True], "bytecode_cov_data": "-", "bytecode_cov_append": True},
        "--bytecode-cov-data=-: --bytecode-cov-append needs a data file to add to, not "
        "standard output",
    ),
    "an empty data path": (
        {},
        {"bytecode_cov": [True], "bytecode_cov_data": " "},
        "--bytecode-cov-data=: needs a path",
    ),
    "not a boolean in the ini file": (
        {"bytecode_cov": ["true"], "bytecode_cov_append": pytest.UsageError("not a bool")},
        {},
        "bytecode_cov_append (ini file): not a bool",
    ),
    "not a boolean in the ini file, as older pytest said it": (
        {"bytecode_cov": ["true"], "bytecode_cov_baseline_update": ValueError("not a bool")},
        {},
        "bytecode_cov_baseline_update (ini file): not a bool",
    ),
    "report and data file in one file": (
        {},
        {
            "bytecode_cov": [True],
            "bytecode_cov_data": "out.json",
            "bytecode_cov_report": ["json:out.json"],
        },
        "--bytecode-cov-data and --bytecode-cov-report=json:out.json name the same file "
        "*out.json: one would replace the other; give them different paths",
    ),
}


@pytest.mark.parametrize(("ini", "options", "message"), REFUSED.values(), ids=REFUSED.keys())
def test_refused(
    tmp_path: Path, ini: dict[str, Any], options: dict[str, Any], message: str
) -> None:
    with pytest.raises(pytest.UsageError) as exc:
        from_config(tmp_path, ini, **options)
    text = str(exc.value)
    assert "\n" not in text
    prefix, star, suffix = message.partition("*")
    assert text.startswith(prefix) and text.endswith(suffix) if star else text == message


@pytest.mark.parametrize("where", ["command line", "ini file"])
def test_a_test_module_is_no_source(tmp_path: Path, where: str) -> None:
    (tmp_path / "test_x.py").write_text("")
    ini: dict[str, Any]
    if where == "command line":
        ini, options, shown = {}, {"bytecode_cov": ["test_x.py"]}, "--bytecode-cov=test_x.py"
    else:
        ini, options, shown = {"bytecode_cov": ["test_x.py"]}, {}, "bytecode_cov = test_x.py"
    with pytest.raises(pytest.UsageError, match="is a test module") as exc:
        from_config(tmp_path, ini, **options)
    assert str(exc.value).startswith(
        f"{shown}: test_x.py is a test module (it matches python_files 'test_*.py')"
    )


#: ini key -> (its text in an ini file, what ``getini`` gives for it), as the
#: rows above write ini values.
INI_TEXT: dict[str, tuple[str, Any]] = {
    "bytecode_cov": ("\n  pkg\n  on", ["pkg", "on"]),
    "bytecode_cov_report": ("", []),
    "bytecode_cov_fail_under": ("75.5", "75.5"),
    "bytecode_cov_filters": ("-no-line", "-no-line"),
    "bytecode_cov_fail_under_branches": ("60", "60"),
    "bytecode_cov_baseline": ("base.json", "base.json"),
    "bytecode_cov_baseline_update": ("true", True),
    "bytecode_cov_data": ("out/cov.data", "out/cov.data"),
    "bytecode_cov_append": ("1", True),
    "bytecode_cov_subprocess": ("true", True),
    "bytecode_cov_context": ("test", "test"),
    "bytecode_cov_affected": ("true", True),
}


def test_the_rows_read_ini_values_as_pytest_gives_them(pytester: pytest.Pytester) -> None:
    """:class:`FakeConfig` stands in for pytest: every key the plugin registers
    is in :data:`UNSET`, and pytest's ``getini`` gives what the rows assume,
    for keys left out and for keys written as text."""
    registered: list[str] = []
    group = types.SimpleNamespace(addoption=lambda *args, **kwargs: None)
    parser = types.SimpleNamespace(addini=lambda name, *args, **kwargs: registered.append(name))
    settings.add_options(group, parser)  # type: ignore[arg-type]
    assert {*registered, "python_files"} == set(UNSET) == {*INI_TEXT, "python_files"}
    pytester.makeini("[pytest]\n")
    config = pytester.parseconfig("--no-bytecode-cov")
    assert {name: config.getini(name) for name in UNSET} == UNSET
    pytester.makeini(
        "[pytest]\n" + "".join(f"{name} = {text}\n" for name, (text, _) in INI_TEXT.items())
    )
    config = pytester.parseconfig("--no-bytecode-cov")
    assert {name: config.getini(name) for name in INI_TEXT} == {
        name: value for name, (_, value) in INI_TEXT.items()
    }
