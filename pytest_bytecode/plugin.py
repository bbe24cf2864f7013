"""pytest hooks: options, ini keys and lifecycle.  Delegates all real work.

pytest loads this module through the ``pytest11`` entry point ``bytecode``.
"""

from __future__ import annotations

import pytest

GROUP = "bytecode"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ``bytecode`` option group and its ini keys."""
    group = parser.getgroup(GROUP, "bytecode coverage and bytecode assertions")
    group.addoption(
        "--bytecode-snapshot-update",
        action="store_true",
        default=False,
        help="write or rewrite bytecode snapshot files instead of comparing with them",
    )
