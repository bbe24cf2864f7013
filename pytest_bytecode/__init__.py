"""pytest-bytecode: bytecode-level coverage and bytecode assertions for pytest.

The public API is re-exported here; see README.md for usage.  The names load
on first use (PEP 562), so that ``import pytest_bytecode.engine`` pulls in
only the engine: a program that instruments itself pays no start-up time for
the assertion helpers.
"""

from __future__ import annotations

import importlib

#: The distribution's version: ``pyproject.toml`` reads it from here, so the
#: package knows it without reading its installed metadata (a millisecond or
#: two of every run's start: it is part of the instrumentation cache's keys).
__version__ = "0.1.0.dev0"

TYPE_CHECKING = False  # typing is not imported at run time: start-up matters

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from pytest_bytecode.assertions import (
        ANY,
        BytecodePatternError,
        assert_in_bytecode,
        assert_not_in_bytecode,
        assert_opcodes,
        opcodes,
    )
    from pytest_bytecode.normalize import Level, Op
    from pytest_bytecode.plugin import BytecodeCovWarning
    from pytest_bytecode.snapshots import assert_bytecode_snapshot

#: Re-exported name -> the module that defines it.
_EXPORTS = {
    "ANY": "pytest_bytecode.assertions",
    "BytecodePatternError": "pytest_bytecode.assertions",
    "assert_in_bytecode": "pytest_bytecode.assertions",
    "assert_not_in_bytecode": "pytest_bytecode.assertions",
    "assert_opcodes": "pytest_bytecode.assertions",
    "opcodes": "pytest_bytecode.assertions",
    "assert_bytecode_snapshot": "pytest_bytecode.snapshots",
    "Level": "pytest_bytecode.normalize",
    "Op": "pytest_bytecode.normalize",
    "BytecodeCovWarning": "pytest_bytecode.plugin",
}

__all__ = [
    "ANY",
    "BytecodeCovWarning",
    "BytecodePatternError",
    "Level",
    "Op",
    "__version__",
    "assert_bytecode_snapshot",
    "assert_in_bytecode",
    "assert_not_in_bytecode",
    "assert_opcodes",
    "opcodes",
]


def _lazy_exports(
    namespace: dict[str, Any],
    exports: dict[str, str],
    computed: dict[str, Callable[[], object]] | None = None,
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """A module's ``__getattr__`` and ``__dir__`` (PEP 562) for names that load
    on first use: each name in ``exports`` from the module named there, each
    in ``computed`` from calling its function.  A loaded name is kept in the
    module, so it is looked up only once.  (The engine uses this too.)"""

    def __getattr__(name: str) -> object:
        if computed is not None and name in computed:
            value = computed[name]()
        elif name in exports:
            value = getattr(importlib.import_module(exports[name]), name)
        else:
            raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *namespace["__all__"]})

    return __getattr__, __dir__


__getattr__, __dir__ = _lazy_exports(globals(), _EXPORTS)
