"""Where the engine's counters live during a run: registration and snapshots.

The import hook registers each measured module's :class:`Instrumented` handle
here; modules imported before the hook register one handle per function.
:meth:`Collector.snapshot` turns every handle's counts into plain
:class:`~pytest_bytecode.data.CovData`, keyed by path relative to the rootdir.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pytest_bytecode.data import BranchData, CodeData, CovData, FileData
from pytest_bytecode.engine.model import CodeCounts


class Handle(Protocol):
    """What the collector needs from the engine's ``Instrumented`` handle."""

    def counts(self) -> list[CodeCounts]: ...

    def reset(self) -> None: ...


@dataclass
class _Entry:
    sha256: str
    excluded: frozenset[int]
    partial: bool
    handles: list[Handle] = field(default_factory=list)


def source_hash(source: bytes) -> str:
    """SHA-256 of a source file's bytes, as recorded in data files."""
    return hashlib.sha256(source).hexdigest()


def relative_path(filename: str, rootdir: str) -> str:
    """``filename`` relative to the rootdir with ``/`` separators, else absolute."""
    absolute = os.path.abspath(filename)
    try:
        rel = os.path.relpath(absolute, rootdir)
    except ValueError:  # another drive on Windows
        return Path(absolute).as_posix()
    if rel.startswith(os.pardir):
        return Path(absolute).as_posix()
    return Path(rel).as_posix()


def code_data(counts: CodeCounts) -> CodeData:
    """One engine :class:`CodeCounts` as data-file :class:`CodeData`."""
    return CodeData(
        qualname=counts.qualname,
        name=counts.name,
        firstlineno=counts.firstlineno,
        offsets=[i.offset for i in counts.instructions],
        opnames=[i.opname for i in counts.instructions],
        lines=[i.line for i in counts.instructions],
        counts=[i.count for i in counts.instructions],
        branches=[
            BranchData(
                b.offset,
                b.opname,
                b.line,
                (b.outcomes[0].target_offset, b.outcomes[1].target_offset),
                [b.outcomes[0].count, b.outcomes[1].count],
            )
            for b in counts.branches
        ],
    )


def unexecuted_file(
    filename: str, excluded_of: Callable[[str, str], frozenset[int]], instrument: Any
) -> FileData | None:
    """All-zero counts for a file under SOURCE that was never imported.

    The file is compiled and instrumented, never executed, so every code
    object it holds is listed.  None when it cannot be read or compiled.
    """
    try:
        with open(filename, "rb") as fh:
            source = fh.read()
        code = compile(source, filename, "exec", dont_inherit=True)
        text = importlib.util.decode_source(source)
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return None
    handle = instrument(code)
    return FileData(
        sha256=source_hash(source),
        code_objects=[code_data(c) for c in handle.counts()],
        excluded_lines=sorted(excluded_of(text, filename)),
    )


class Collector:
    """Every measured file and the handles that hold its counters."""

    def __init__(self, rootdir: str) -> None:
        self.rootdir = rootdir
        self._files: dict[str, _Entry] = {}

    def register(
        self,
        filename: str,
        handles: Iterable[Handle],
        *,
        source: bytes,
        excluded: frozenset[int] = frozenset(),
        partial: bool = False,
    ) -> None:
        """Record the handles measuring ``filename`` (its source given as bytes)."""
        path = relative_path(filename, self.rootdir)
        entry = self._files.get(path)
        if entry is None:
            entry = self._files[path] = _Entry(source_hash(source), excluded, partial)
        entry.handles.extend(handles)

    def measured_files(self) -> list[str]:
        """Relative paths of every registered file."""
        return sorted(self._files)

    def snapshot(self) -> CovData:
        """The counts of every registered file right now, as plain data."""
        data = CovData()
        for path, entry in sorted(self._files.items()):
            codes = [code_data(c) for handle in entry.handles for c in handle.counts()]
            data.files[path] = FileData(
                sha256=entry.sha256,
                code_objects=codes,
                excluded_lines=sorted(entry.excluded),
                partial=entry.partial,
            )
        return data

    def reset(self) -> None:
        """Zero every counter."""
        for entry in self._files.values():
            for handle in entry.handles:
                handle.reset()
