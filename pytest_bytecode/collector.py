"""Where the engine's counters live during a run: registration and snapshots.

The import hook registers each measured module's :class:`Instrumented` handle
here; modules imported before the hook register one handle per function.
:meth:`Collector.snapshot` files every handle's counts (the engine's
:class:`~pytest_bytecode.engine.model.CodeCounts`, as they are) into a
:class:`~pytest_bytecode.data.CovData`, keyed by path relative to the rootdir.

For xdist, a worker also reads the handles' *raw* probe states
(:meth:`Collector.state`, cheap enough to take after every test) and ships
each handle once as a :meth:`Collector.records` entry (its serialised
instrumented code); :meth:`Collector.from_records` rebuilds a collector from
those, so counts can be computed from raw states in another process.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

from pytest_bytecode import engine
from pytest_bytecode.data import (
    CodeKey,
    CovData,
    DataError,
    FileData,
    merge_file,
    name_keys,
)
from pytest_bytecode.engine import RawState, gc_paused
from pytest_bytecode.engine.model import CodeCounts
from pytest_bytecode.engine.records import field, record
from pytest_bytecode.sources import python_source_text, report_path


class Handle(Protocol):
    """What the collector needs from the engine's ``Instrumented`` handle."""

    def counts(self) -> list[CodeCounts]: ...

    def state(self) -> RawState: ...

    def counts_from(self, state: RawState) -> list[CodeCounts]: ...

    def dumps(self) -> bytes: ...

    def code_names(self) -> list[tuple[str, int]]: ...

    def release(self) -> None: ...


class ImportObserver(Protocol):
    """Told when measured module code starts and stops running (xdist workers)."""

    def import_started(self) -> None: ...

    def import_finished(self) -> None: ...


@record
class _Entry:
    sha256: str
    excluded: frozenset[int]
    partial: bool
    handles: list[int] = field(default_factory=list)  # indexes into Collector._handles
    no_branch: frozenset[int] = frozenset()


def source_hash(source: bytes) -> str:
    """SHA-256 of a source file's bytes, as recorded in data files."""
    return hashlib.sha256(source).hexdigest()


def unexecuted_file(
    filename: str,
    excluded_of: Callable[[str, str], frozenset[int]],
    instrument: Any,
    on_skip: Callable[[str], None] | None = None,
    name: str | None = None,
    no_branch_of: Callable[[bytes], frozenset[int]] | None = None,
) -> FileData | None:
    """All-zero counts for a file under SOURCE that was never imported.

    The file is compiled and instrumented, never executed, so every code
    object it holds is listed.  None when it cannot be read or compiled;
    ``on_skip`` is then told why in one line naming the file (as ``name``,
    default ``filename``), in coverage.py's words and with its slug
    (``couldnt-parse``), or ``couldnt-read`` for a file that cannot be read.
    """
    shown = filename if name is None else name
    try:
        with open(filename, "rb") as fh:
            source = fh.read()
    except OSError as exc:
        if on_skip is not None:
            why = exc.strerror or type(exc).__name__
            on_skip(f"Couldn't read Python file '{shown}': {why} (couldnt-read)")
        return None
    try:
        with warnings.catch_warnings():
            # Compiled to be listed, never run: its compile-time warnings
            # (an invalid escape) are the import's to give, and no test
            # imported it.  Under -W error they would even fail the compile.
            warnings.simplefilter("ignore")
            code = compile(source, filename, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        if on_skip is not None:
            if isinstance(exc, SyntaxError):
                why = f"{exc.msg}, line {exc.lineno}" if exc.lineno else str(exc.msg)
            else:
                why = (str(exc).splitlines() or [type(exc).__name__])[0]
            on_skip(f"Couldn't parse Python file '{shown}': {why} (couldnt-parse)")
        return None
    try:
        handle = instrument(code)
    except Exception as exc:  # an engine fault: the file is named, the run goes on
        if on_skip is not None:
            on_skip(
                f"Couldn't list Python file '{shown}': the engine failed on it: "
                f"{type(exc).__name__}: {exc} (not-instrumented)"
            )
        return None
    return FileData(
        sha256=source_hash(source),
        code_objects=handle.counts(),
        excluded_lines=sorted(excluded_of(python_source_text(source), filename)),
        no_branch_lines=sorted(no_branch_of(source)) if no_branch_of is not None else [],
    )


class Collector:
    """Every measured file and the handles that hold its counters."""

    def __init__(self, rootdir: str) -> None:
        self.rootdir = rootdir
        self._files: dict[str, _Entry] = {}
        self._handles: list[tuple[str, Handle]] = []  # registration order
        #: Told about the outermost execution of a measured module's body.
        self.import_observer: ImportObserver | None = None
        self._import_depth = 0
        #: What the report should say about this run's files (a file whose
        #: source changed between two loads).
        self.notes: list[str] = []
        #: Handle index -> paths (in its tree) of the code objects that ran
        #: while a tracer could move their frames (:meth:`mark_ran_since`).
        self._traced: dict[int, set[tuple[int, ...]]] = {}
        #: The tests during which a tracer was installed, in order.
        self.traced_during: list[str] = []

    def register(
        self,
        filename: str,
        handles: Iterable[Handle],
        *,
        source: bytes,
        excluded: frozenset[int] = frozenset(),
        partial: bool = False,
        no_branch: frozenset[int] = frozenset(),
    ) -> None:
        """Record the handles measuring ``filename`` (its source given as
        bytes); ``no_branch``: the lines whose jumps coverage.py's
        ``partial_branches`` patterns leave out of the figures."""
        path = report_path(filename, self.rootdir)
        self._add(path, handles, source_hash(source), excluded, partial)
        self._files[path].no_branch = no_branch

    def _add(
        self,
        path: str,
        handles: Iterable[Handle],
        sha256: str,
        excluded: frozenset[int],
        partial: bool,
    ) -> None:
        entry = self._files.get(path)
        if entry is not None and entry.sha256 != sha256:
            self.notes.append(
                f"{path} changed between two loads in this run: its counts are those of "
                f"the latest version ({len(entry.handles)} earlier handle(s) dropped)"
            )
            entry = None
        if entry is None:
            entry = self._files[path] = _Entry(sha256, excluded, partial)
        entry.partial = entry.partial and partial
        for handle in handles:
            entry.handles.append(len(self._handles))
            self._handles.append((path, handle))

    def adopt(self, other: Collector) -> None:
        """Take over every handle ``other`` registered (same rootdir), as if
        registered here: a child measurement that booted in what became an
        xdist worker (:func:`pytest_bytecode.children.adopt_booted`)."""
        for path, entry in other._files.items():
            handles = [other._handles[i][1] for i in entry.handles]
            self._add(path, handles, entry.sha256, entry.excluded, entry.partial)
            self._files[path].no_branch = entry.no_branch
        self.notes.extend(other.notes)

    @contextlib.contextmanager
    def importing(self) -> Iterator[None]:
        """Wrap the execution of a measured module's body (nested ones included)."""
        observer = self.import_observer if self._import_depth == 0 else None
        if observer is not None:
            observer.import_started()
        self._import_depth += 1
        try:
            yield
        finally:
            self._import_depth -= 1
            if observer is not None:
                observer.import_finished()

    def handles(self, start: int = 0) -> list[Handle]:
        """Every registered handle from number ``start`` on, in registration
        order (its index is its number): per-test contexts ask for the new
        ones at every test phase."""
        return [handle for _, handle in self._handles[start:]]

    def code_keys_of(self, index: int) -> tuple[str, list[CodeKey]] | None:
        """The file of handle ``index`` and the ``(qualname, firstlineno, n)``
        key of each code object of its tree, as its :class:`FileData` keys
        them; None for a handle whose file was loaded again with other
        contents (its counts are dropped)."""
        path, handle = self._handles[index]
        if index not in self._files[path].handles:
            return None
        return path, name_keys(handle.code_names())

    def measured_files(self) -> list[str]:
        """Relative paths of every registered file."""
        return sorted(self._files)

    def state(self) -> list[RawState]:
        """Every handle's raw probe state now, in registration order."""
        return [handle.state() for _, handle in self._handles]

    def mark_ran_since(self, before: Sequence[RawState], during: Iterable[str]) -> None:
        """Mark the code objects whose probes moved since the raw states
        ``before`` as possibly inexact (a tracer was installed meanwhile,
        during the tests ``during``: see :mod:`pytest_bytecode.tracers`)."""
        for index, (_, handle) in enumerate(self._handles):
            now = handle.state()
            if index < len(before):
                if now == before[index]:
                    continue
                now = engine.state_difference(now, before[index])
            ran = {
                code.path
                for code in handle.counts_from(now)
                if code.path is not None
                and (
                    any(i.count for i in code.instructions)
                    or any(o.count for b in code.branches for o in b.outcomes)
                )
            }
            if ran:
                self._traced.setdefault(index, set()).update(ran)
        self.traced_during.extend(t for t in during if t not in self.traced_during)

    def snapshot(
        self,
        states: Sequence[RawState] | None = None,
        *,
        only: set[int] | None = None,
        last: Callable[[Handle], None] | None = None,
    ) -> CovData:
        """The counts of every registered file, one :class:`FileData` each.

        With ``states`` (one per handle, registration order; missing trailing
        ones read as nothing counted), the counts as of those raw states;
        otherwise the counts right now.  With ``only`` (handle indexes), just
        the files that have one of those handles.  With ``last``, this is
        the last read of the handles in this process: each handle is given
        to ``last`` as soon as it has been read (which may store what it
        worked out, then must release it: :meth:`Handle.release`).
        """
        with gc_paused():
            return self._snapshot(states, only, last)

    def _snapshot(
        self,
        states: Sequence[RawState] | None,
        only: set[int] | None,
        last: Callable[[Handle], None] | None = None,
    ) -> CovData:
        data = CovData()
        for path, entry in sorted(self._files.items()):
            if only is not None and only.isdisjoint(entry.handles):
                continue
            fdata: FileData | None = None
            for index in entry.handles:
                handle = self._handles[index][1]
                if states is None:
                    counted = handle.counts()
                elif index < len(states):
                    counted = handle.counts_from(states[index])
                else:
                    counted = handle.counts_from(zero_state(handle))
                if last is not None:
                    last(handle)
                loaded = FileData(entry.sha256, counted)
                traced = self._traced.get(index)
                if traced:
                    loaded.traced = sorted(
                        {(c.qualname, c.firstlineno) for c in counted if c.path in traced}
                    )
                if fdata is None:
                    fdata = loaded
                else:  # the file loaded again (reload, a second name): one entry
                    merge_file(fdata, loaded, "sum")
            if fdata is None:
                fdata = FileData(entry.sha256, [])
            fdata.excluded_lines = sorted(entry.excluded)
            fdata.no_branch_lines = sorted(entry.no_branch)
            fdata.partial = entry.partial
            data.files[path] = fdata
        data.traced_during = list(self.traced_during)
        return data

    def records(self, start: int = 0) -> list[dict[str, Any]]:
        """Plain-data descriptions of the handles registered from ``start`` on."""
        result = []
        for path, handle in self._handles[start:]:
            entry = self._files[path]
            result.append(
                {
                    "path": path,
                    "sha256": entry.sha256,
                    "excluded": sorted(entry.excluded),
                    "partial": entry.partial,
                    "code": base64.b64encode(handle.dumps()).decode("ascii"),
                }
            )
        return result

    @classmethod
    def from_records(cls, records: Iterable[dict[str, Any]]) -> Collector:
        """A collector over handles rebuilt from :meth:`records` (fresh counters).

        Raises :class:`DataError` when a record cannot be used (another Python
        version or engine format, or not a record at all).
        """
        collector = cls("")
        for row in records:
            try:
                handle = engine.loads(base64.b64decode(row["code"]))
                collector._add(
                    str(row["path"]),
                    [handle],
                    str(row["sha256"]),
                    frozenset(int(n) for n in row["excluded"]),
                    bool(row["partial"]),
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise DataError(f"unusable handle record: {exc}") from None
        return collector


def zero_state(handle: Handle) -> RawState:
    """The raw state of ``handle`` with nothing counted."""
    return [0] * len(handle.state()[0]), {}
