"""pytest-bytecode: bytecode-level coverage and bytecode assertions for pytest.

The public API is re-exported here; see README.md for usage.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version

from pytest_bytecode.assertions import (
    ANY,
    BytecodePatternError,
    assert_in_bytecode,
    assert_not_in_bytecode,
    assert_opcodes,
    opcodes,
)
from pytest_bytecode.snapshots import assert_bytecode_snapshot

try:
    __version__: str = _dist_version("pytest-bytecode")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = [
    "ANY",
    "BytecodePatternError",
    "__version__",
    "assert_bytecode_snapshot",
    "assert_in_bytecode",
    "assert_not_in_bytecode",
    "assert_opcodes",
    "opcodes",
]
