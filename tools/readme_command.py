"""Print a command from README.md that sits between marker comments.

``python3 tools/readme_command.py test README.md`` prints the shell line in the
fenced block that follows ``<!-- command: test -->``.  CI runs exactly that
line, so README and CI cannot drift apart.
"""

from __future__ import annotations

import re
import sys


def command(name: str, text: str) -> str:
    """The first line of the fenced block after the marker for ``name``."""
    pattern = rf"<!-- command: {re.escape(name)} -->\s*```[a-z]*\n(.+?)\n```"
    found = re.search(pattern, text, flags=re.S)
    if found is None:
        raise SystemExit(f"readme_command: no '<!-- command: {name} -->' block in README")
    return found.group(1).strip()


if __name__ == "__main__":
    with open(sys.argv[2], encoding="utf-8") as handle:
        print(command(sys.argv[1], handle.read()))
