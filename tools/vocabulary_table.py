"""Print the docs' table of the portable level, made from the rules themselves.

    python tools/vocabulary_table.py                  # the Markdown table
    python tools/vocabulary_table.py --check docs/reference.md

Each row is one rule of ``pytest_bytecode.vocabulary.RULES`` (its ``emits``
and ``reads_as``).  ``--check`` exits 1 and shows a diff when the table in
docs/reference.md (section "Levels") is not exactly this one; the test suite runs the
same check (tests/test_assertions_vocabulary.py).  To change the table, change
the rule and paste this script's output over the table in docs/reference.md.
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

HEADER = "| what the interpreter emits | reads as (portable) |"


def readme_table(text: str) -> str:
    """The table in a Markdown text: from its header line to the first blank line."""
    start = text.find("\n" + HEADER + "\n")
    if start < 0:
        raise SystemExit(f"vocabulary_table: no table headed {HEADER!r} in the file")
    end = text.find("\n\n", start + 1)
    return text[start + 1 : end + 1 if end >= 0 else len(text)]


def main(argv: list[str]) -> int:
    from pytest_bytecode.vocabulary import markdown_table

    table = markdown_table()
    if not argv:
        sys.stdout.write(table)
        return 0
    if len(argv) != 2 or argv[0] != "--check":
        raise SystemExit("usage: python tools/vocabulary_table.py [--check docs/reference.md]")
    shown = readme_table(Path(argv[1]).read_text(encoding="utf-8"))
    if shown == table:
        return 0
    diff = difflib.unified_diff(
        shown.splitlines(keepends=True), table.splitlines(keepends=True), argv[1], "the rules"
    )
    sys.stdout.writelines(diff)
    return 1


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout
    raise SystemExit(main(sys.argv[1:]))
