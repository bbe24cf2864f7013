"""README and docs/: their example outputs and command lines still hold.

The example outputs between ``<!-- example: NAME -->`` markers are made by
``tools/docs_examples.py`` from real runs of the tool; ``--check`` makes them
again and compares, and parses every command line the docs show.  Outputs
with instruction counts are checked on the reference Python only (the tool
says which); the rest on every version.
"""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import pytest
from bc_helpers import ROOT, load_tool


@pytest.fixture(scope="module")
def tool() -> types.ModuleType:
    return load_tool("docs_examples")


@pytest.mark.subprocess
def test_examples_and_command_lines_hold() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools/docs_examples.py"), "--check"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.subprocess
def test_a_wrong_option_in_a_command_line_is_caught(tool: types.ModuleType) -> None:
    code = (
        "import sys; sys.path.insert(0, 'tools'); import docs_examples as d; "
        "print(d._pytest_parser_check([['--bytecode-cov=x', '--bytecode-covv'], "
        "['--bytecode-cov-report=annotate'], "
        "['--bytecode-cov=x', '--bytecode-cov-report=term-missing']]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    ).stdout
    assert "--bytecode-covv" in out and "unknown report type 'annotate'" in out
    assert "--bytecode-cov-report=term-missing" not in out  # a good line passes


def test_every_marker_is_a_known_example_with_its_output(tool: types.ModuleType) -> None:
    seen = []
    for name in tool.DOCS:
        text = (ROOT / name).read_text(encoding="utf-8")
        assert text.count("<!-- example: ") == text.count("<!-- /example -->"), name
        for match in tool.MARKER.finditer(text):
            assert match["body"].startswith("```") and match["body"].count("\n") > 2, (
                f"{name}: example {match['name']} is empty: run python tools/docs_examples.py"
            )
            seen.append(match["name"])
    assert sorted(seen) == sorted(tool.NAMES)


def test_command_lines_are_found(tool: types.ModuleType) -> None:
    commands = tool.shown_commands((ROOT / "README.md").read_text(encoding="utf-8"))
    assert "pytest --bytecode-cov=mypkg" in commands
    assert ".venv/bin/python -m pytest" in commands  # the parts of the Quick start's lines
    assert "pytest --cov=mypkg --bytecode-cov=mypkg" in commands  # inline code


def test_readme_keeps_the_ci_test_command() -> None:
    readme_command = load_tool("readme_command")
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme_command.command("test", text).endswith(".venv/bin/python -m pytest")
    assert "examples/shop" in readme_command.command("main", text)


def test_links_lead_somewhere(tool: types.ModuleType, tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# Top\n\n## Data files and the `pytest-bytecode` command\n\n"
        "[ok](#top) [ok](#data-files-and-the-pytest-bytecode-command) [bad](#nowhere) "
        "[bad](missing.md) [ok](https://example.org/x)\n",
        encoding="utf-8",
    )
    problems = tool.check_links([str(page)])
    assert len(problems) == 2 and "#nowhere" in problems[0] and "missing.md" in problems[1]
    assert tool.check_links(tool.DOCS) == []
