"""pytest-bytecode: bytecode-level coverage and bytecode assertions for pytest.

The public API is re-exported here; see README.md for usage.  The names load
on first use (PEP 562), so that ``import pytest_bytecode.engine`` pulls in
only the engine: a program that instruments itself pays no start-up time for
the assertion helpers or for reading the distribution's version.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # typing is not imported at run time: start-up matters

if TYPE_CHECKING:
    from pytest_bytecode.assertions import (
        ANY,
        BytecodePatternError,
        assert_in_bytecode,
        assert_not_in_bytecode,
        assert_opcodes,
        opcodes,
    )
    from pytest_bytecode.snapshots import assert_bytecode_snapshot

    __version__: str

#: Re-exported name -> the module that defines it.
_EXPORTS = {
    "ANY": "pytest_bytecode.assertions",
    "BytecodePatternError": "pytest_bytecode.assertions",
    "assert_in_bytecode": "pytest_bytecode.assertions",
    "assert_not_in_bytecode": "pytest_bytecode.assertions",
    "assert_opcodes": "pytest_bytecode.assertions",
    "opcodes": "pytest_bytecode.assertions",
    "assert_bytecode_snapshot": "pytest_bytecode.snapshots",
}

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


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pytest-bytecode")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


def __getattr__(name: str) -> object:
    """Load a re-exported name on first use and keep it in the module."""
    if name == "__version__":
        value: object = _version()
    elif name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
