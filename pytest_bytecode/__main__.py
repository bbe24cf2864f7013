"""``python -m pytest_bytecode``: the same as the ``pytest-bytecode`` command."""

from __future__ import annotations

import sys

from pytest_bytecode.cli import main

if __name__ == "__main__":
    sys.exit(main())
