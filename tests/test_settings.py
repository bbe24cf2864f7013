"""``settings.from_config``, table-driven: command line and ini file into Settings.

Each row parses a real pytest configuration in-process (no test run) and
calls :func:`~pytest_bytecode.settings.from_config` with the options a row
gives as the parsed command line; the plugin's own pass over the same
configuration is turned off with ``--no-bytecode-cov``.  The end-to-end
runs are in ``tests/test_plugin.py`` and ``tests/test_bad_inputs.py``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from pytest_bytecode import settings
from pytest_bytecode.report import ReportSpec
from pytest_bytecode.settings import Settings


def from_config(pytester: pytest.Pytester, ini: dict[str, str], **options: Any) -> Settings:
    """Settings for an ini file of ``ini`` keys and the command-line ``options``."""
    lines = "".join(f"{key} = {value}\n" for key, value in ini.items())
    pytester.makeini(f"[pytest]\n{lines}")
    config = pytester.parseconfig("--no-bytecode-cov")
    return settings.from_config(config, argparse.Namespace(**options))


#: id -> (ini keys, command-line options, expected fields; paths relative to the
#: invocation directory)
ACCEPTED: dict[str, tuple[dict[str, str], dict[str, Any], dict[str, Any]]] = {
    "nothing asked": ({}, {}, {"enabled": False}),
    "--no-bytecode-cov wins over the ini file": (
        {"bytecode_cov": "true"},
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
            "baseline": None,
            "baseline_update": False,
            "data_path": ".bytecode-cov",
            "append": False,
        },
    ),
    "SOURCE values kept in order": (
        {},
        {"bytecode_cov": ["pkg", True, "other"]},
        {"sources": ("pkg", True, "other")},
    ),
    "ini true words": ({"bytecode_cov": "yes"}, {}, {"sources": (True,)}),
    "ini SOURCE lines": ({"bytecode_cov": "\n  pkg\n  on"}, {}, {"sources": ("pkg", True)}),
    "command line wins over ini SOURCE": (
        {"bytecode_cov": "other"},
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
        {"bytecode_cov": "true", "bytecode_cov_report": ""},
        {},
        {"reports": ()},
    ),
    "fail-under from the command line wins": (
        {"bytecode_cov_fail_under": "50"},
        {"bytecode_cov": [True], "bytecode_cov_fail_under": "80"},
        {"fail_under": 80.0},
    ),
    "fail-under from the ini file": (
        {"bytecode_cov": "true", "bytecode_cov_fail_under": "75.5"},
        {},
        {"fail_under": 75.5},
    ),
    "data file and append from the ini file": (
        {"bytecode_cov": "true", "bytecode_cov_data": "out/cov.data", "bytecode_cov_append": "1"},
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
        {"bytecode_cov": "true", "bytecode_cov_baseline": "base.json"},
        {"bytecode_cov_baseline_update": True},
        {"baseline": "base.json", "baseline_update": True},
    ),
}


@pytest.mark.parametrize(("ini", "options", "expected"), ACCEPTED.values(), ids=ACCEPTED.keys())
def test_accepted(
    pytester: pytest.Pytester,
    ini: dict[str, str],
    options: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    got = from_config(pytester, ini, **options)
    for name, want in expected.items():
        if name == "origin":
            assert {key: got.origin(key) for key in want} == want
            continue
        if name in ("data_path", "baseline") and isinstance(want, str):
            want = pytester.path / want
        assert getattr(got, name) == want, name


#: id -> (ini keys, command-line options, the whole one-line message)
REFUSED: dict[str, tuple[dict[str, str], dict[str, Any], str]] = {
    "unknown report type": (
        {},
        {"bytecode_cov": [True], "bytecode_cov_report": ["xml"]},
        "--bytecode-cov-report=xml: unknown report type 'xml' (known: term, term-missing, json)",
    ),
    "unknown report type in the ini file": (
        {"bytecode_cov": "true", "bytecode_cov_report": "xml"},
        {},
        "bytecode_cov_report = xml: unknown report type 'xml' (known: term, term-missing, json)",
    ),
    "a destination for the terminal report": (
        {},
        {"bytecode_cov": [True], "bytecode_cov_report": ["term:out.txt"]},
        "--bytecode-cov-report=term:out.txt: report type 'term' takes no destination",
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
        {"bytecode_cov": "true", "bytecode_cov_fail_under": "abc"},
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
        {"bytecode_cov": "true", "bytecode_cov_append": "maybe"},
        {},
        "bytecode_cov_append (ini file): *",
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
    pytester: pytest.Pytester, ini: dict[str, str], options: dict[str, Any], message: str
) -> None:
    with pytest.raises(pytest.UsageError) as exc:
        from_config(pytester, ini, **options)
    text = str(exc.value)
    assert "\n" not in text
    prefix, star, suffix = message.partition("*")
    assert text.startswith(prefix) and text.endswith(suffix) if star else text == message


@pytest.mark.parametrize("where", ["command line", "ini file"])
def test_a_test_module_is_no_source(pytester: pytest.Pytester, where: str) -> None:
    pytester.makepyfile(test_x="")
    if where == "command line":
        ini, options, shown = {}, {"bytecode_cov": ["test_x.py"]}, "--bytecode-cov=test_x.py"
    else:
        ini, options, shown = {"bytecode_cov": "test_x.py"}, {}, "bytecode_cov = test_x.py"
    with pytest.raises(pytest.UsageError, match="is a test module") as exc:
        from_config(pytester, ini, **options)
    assert str(exc.value).startswith(
        f"{shown}: test_x.py is a test module (it matches python_files 'test_*.py')"
    )
