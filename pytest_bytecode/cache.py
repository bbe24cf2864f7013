"""Instrumented-code cache: a second run does not pay for instrumentation again.

Entries are the engine's own serialisation (``Instrumented.dumps``, never
pickle), one file per key.  The key is a SHA-256 over everything that changes
the instrumented code: the source bytes, the interpreter (implementation cache
tag and full version), the engine version, the plugin version and the
settings that change the probes (for example assertion rewriting applied
first).  Writes go to a temporary file that is renamed into place, so
concurrent xdist workers never see half a file.  No cache problem ever fails
a run: every failure is reported to ``trace`` and the code is instrumented
afresh.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable
from pathlib import Path

from pytest_bytecode import __version__, versions
from pytest_bytecode.files import write_atomic

#: Bumped when the cache entry layout changes.
CACHE_LAYOUT = 1


class InstrumentationCache:
    """A directory of instrumented code keyed by :meth:`key`."""

    def __init__(self, directory: Path | None, trace: Callable[[str], None]) -> None:
        self.directory = directory
        self.trace = trace

    def key(self, source: bytes, filename: str, settings: str, engine_version: str) -> str:
        """The cache key for one source file under the given settings."""
        h = hashlib.sha256()
        for part in (
            f"layout={CACHE_LAYOUT}",
            f"impl={sys.implementation.cache_tag}",
            f"python={versions.PY_VERSION}",
            f"engine={engine_version}",
            f"plugin={__version__}",
            f"settings={settings}",
            f"filename={os.path.abspath(filename)}",
        ):
            h.update(part.encode() + b"\0")
        h.update(source)
        return h.hexdigest()

    def get(self, key: str) -> bytes | None:
        """The stored bytes for ``key``, or None (missing or unreadable)."""
        if self.directory is None:
            return None
        path = self.directory / f"{key}.bin"
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            self.trace(f"cache read failed for {path}: {exc}")
            return None

    def put(self, key: str, payload: bytes) -> None:
        """Store ``payload`` under ``key`` atomically; failures are only traced."""
        if self.directory is None:
            return
        try:
            write_atomic(self.directory / f"{key}.bin", payload)
        except OSError as exc:
            self.trace(f"cache write failed in {self.directory}: {exc}")

    def discard(self, key: str) -> None:
        """Remove a bad entry; failures are only traced."""
        if self.directory is None:
            return
        try:
            (self.directory / f"{key}.bin").unlink(missing_ok=True)
        except OSError as exc:
            self.trace(f"cache discard failed for {key}: {exc}")
