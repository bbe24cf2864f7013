"""pytest-bytecode: bytecode-level coverage and bytecode assertions for pytest.

The public API is re-exported here; see README.md for usage.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version

try:
    __version__: str = _dist_version("pytest-bytecode")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = ["__version__"]
