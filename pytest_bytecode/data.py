"""The data file: measured counts on disk, and merging counts from many runs.

A data file is JSON (never pickle), written atomically.  It records the
Python minor version (instruction sets differ between minor versions) and the
SHA-256 of each measured source file, so that :func:`combine` can refuse to
add up counts that describe different code.

Counts are kept per code object, which is identified inside its file by
``(qualname, firstlineno, n)`` (``n`` tells apart code objects that share both,
such as two lambdas on one line), and per instruction by its offset in the
original code object.

In memory the counts are the engine's own types
(:class:`~pytest_bytecode.engine.model.CodeCounts` and the types it holds),
grouped per source file by :class:`FileData`.  The parallel lists of the
format (offsets, opnames, lines, counts; a row per branch) exist only in
:func:`code_to_json` and :func:`code_from_json`.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Iterable, Iterator
from functools import partial
from operator import attrgetter
from pathlib import Path
from typing import Any, Literal

from pytest_bytecode import versions
from pytest_bytecode.contexts import Contexts
from pytest_bytecode.engine import gc_paused
from pytest_bytecode.engine.model import BranchCount, BranchOutcome, CodeCounts, InstructionCount
from pytest_bytecode.engine.records import field, record
from pytest_bytecode.files import is_stdout, locked, write_output

#: Version of the data file layout.  History:
#:   1 - first version (pytest-bytecode 0.1): files -> code objects with
#:       parallel offset/opname/line/count lists and branch rows.
#:   2 - ``contexts`` (per-test contexts, :mod:`pytest_bytecode.contexts`),
#:       written when they were recorded.  Format 1 files are still read.
FORMAT_VERSION = 2
#: The formats this version reads.
READ_FORMATS = (1, 2)

#: The value of the ``kind`` key: tells our data files from other JSON.
KIND = "pytest-bytecode data"

CodeKey = tuple[str, int, int]


class DataError(ValueError):
    """A data file that cannot be used (unreadable, corrupt, incompatible)."""


def code_keys(codes: Iterable[CodeCounts]) -> list[CodeKey]:
    """The ``(qualname, firstlineno, n)`` key of each code object, in order."""
    return name_keys((code.qualname, code.firstlineno) for code in codes)


def name_keys(names: Iterable[tuple[str, int]]) -> list[CodeKey]:
    """The keys of code objects named ``(qualname, firstlineno)``, in order:
    ``n`` tells apart those that share both."""
    seen: dict[tuple[str, int], int] = {}
    keys: list[CodeKey] = []
    for name in names:
        n = seen.get(name, 0)
        seen[name] = n + 1
        keys.append((name[0], name[1], n))
    return keys


def same_shape(one: CodeCounts, other: CodeCounts) -> bool:
    """True when both describe the same instructions and branches (offsets,
    opnames, branch targets), so that their counts can be added up."""
    mine, theirs = one.instructions, other.instructions
    if len(mine) != len(theirs) or len(one.branches) != len(other.branches):
        return False
    # Lists of plain values, compared at C speed (no tuple per instruction).
    return (
        list(map(_OFFSET, mine)) == list(map(_OFFSET, theirs))
        and list(map(_OPNAME, mine)) == list(map(_OPNAME, theirs))
        and list(map(_OFFSET, one.branches)) == list(map(_OFFSET, other.branches))
        and list(map(_TARGETS, one.branches)) == list(map(_TARGETS, other.branches))
    )


def _targets(branch: BranchCount) -> tuple[int, int]:
    return branch.outcomes[0].target_offset, branch.outcomes[1].target_offset


_OFFSET = attrgetter("offset")
_OPNAME = attrgetter("opname")
_LINE = attrgetter("line")
_COUNT = attrgetter("count")
_TARGETS = _targets


@record
class FileData:
    """Counts for one source file.

    ``partial`` is true when the module was imported before the import hook
    was installed: only its functions were instrumented, not its module code.
    ``traced`` names, by ``(qualname, firstlineno)``, the code objects that
    ran while a trace function or monitoring callback was installed, whose
    counts a debugger's jump may have made inexact (:mod:`pytest_bytecode.tracers`).
    The list and the file's other fields belong to this object; the code
    objects in it are values, shared with the data sets they were merged from.
    """

    sha256: str
    code_objects: list[CodeCounts]
    excluded_lines: list[int] = field(default_factory=list)
    partial: bool = False
    traced: list[tuple[str, int]] = field(default_factory=list)
    #: Lines whose conditional jumps coverage.py's ``partial_branches``
    #: patterns (``# pragma: no branch``) leave out of the figures.
    no_branch_lines: list[int] = field(default_factory=list)

    def keyed(self) -> dict[CodeKey, CodeCounts]:
        """The code objects by ``(qualname, firstlineno, n)``."""
        return dict(zip(code_keys(self.code_objects), self.code_objects, strict=True))

    def copy(self) -> FileData:
        """A copy whose list and fields can change without changing this one."""
        return FileData(
            self.sha256,
            list(self.code_objects),
            list(self.excluded_lines),
            self.partial,
            list(self.traced),
            list(self.no_branch_lines),
        )


@record
class CrashedWorker:
    """An xdist worker that went down.

    ``recovered`` says if the counts of its completed tests were rebuilt from
    what it sent with their reports; ``saved_through`` is the node id of the
    last test it completed ("" for none).  The data file and the JSON report
    write it alike: :meth:`to_json`.
    """

    worker: str
    error: str
    recovered: bool
    saved_through: str = ""

    def to_json(self) -> dict[str, Any]:
        """As plain JSON data, in the data file and in the JSON report."""
        return {
            "worker": self.worker,
            "error": self.error,
            "recovered": self.recovered,
            "saved_through": self.saved_through,
        }

    @classmethod
    def from_json(cls, raw: Any) -> CrashedWorker:
        """Inverse of :meth:`to_json`; raises KeyError/TypeError/AttributeError on bad data."""
        return cls(
            str(raw["worker"]),
            str(raw["error"]),
            bool(raw["recovered"]),
            str(raw.get("saved_through", "")),
        )


@record
class CovData:
    """Everything one data file holds."""

    python: str = versions.PY_TAG
    python_version: str = versions.PY_VERSION
    files: dict[str, FileData] = field(default_factory=dict)
    crashed_workers: list[CrashedWorker] = field(default_factory=list)
    #: The tests during which a trace function was installed (see FileData.traced).
    traced_during: list[str] = field(default_factory=list)
    #: Per-test contexts, when they were recorded (--bytecode-cov-context=test).
    contexts: Contexts | None = None


# --- merging -----------------------------------------------------------------


#: How many conflicting code objects a merge error names before "and N more".
SHOWN_CONFLICTS = 5


def conflicts(target: CovData, other: CovData) -> list[str]:
    """Why ``other`` cannot be added to ``target``: one entry per source file
    whose contents differ, and per code object whose instructions differ under
    the same source (compiled with other settings: assertion rewriting on in
    one run and off in the other, another optimisation level)."""
    found: list[str] = []
    for path, fdata in sorted(other.files.items()):
        mine = target.files.get(path)
        if mine is None:
            continue
        if mine.sha256 != fdata.sha256:
            found.append(
                f"source file {path} has different contents "
                f"(sha256 {fdata.sha256[:12]} vs {mine.sha256[:12]})"
            )
            continue
        keyed = mine.keyed()
        for key, code in fdata.keyed().items():
            have = keyed.get(key)
            if have is not None and not same_shape(have, code):
                found.append(
                    f"{path}: function {code.qualname} (line {code.firstlineno}) was "
                    "compiled to other instructions"
                )
    return found


def _listed(found: list[str]) -> str:
    shown = "; ".join(found[:SHOWN_CONFLICTS])
    more = len(found) - SHOWN_CONFLICTS
    return shown + (f"; and {more} more" if more > 0 else "")


def merge_into(
    target: CovData, other: CovData, how: Literal["sum", "max"] = "sum", *, name: str = "data"
) -> None:
    """Add ``other``'s counts to ``target`` (or take the larger, for ``how="max"``).

    All or nothing: raises :class:`DataError`, leaving ``target`` as it was,
    when the two come from different Python minor versions, describe different
    contents of the same source file, or hold a code object compiled to other
    instructions (each such file and function is named).
    """
    if other.python != target.python:
        raise DataError(
            f"{name}: recorded by Python {other.python}, cannot be merged with data "
            f"from Python {target.python} (instruction sets differ between versions)"
        )
    found = conflicts(target, other)
    if found:
        raise DataError(f"{name}: cannot be merged with the other data: {_listed(found)}")
    with gc_paused():
        for path, fdata in other.files.items():
            mine = target.files.get(path)
            if mine is None:
                target.files[path] = fdata.copy()
            else:
                merge_file(mine, fdata, how, checked=True)
    target.crashed_workers.extend(other.crashed_workers)
    target.traced_during.extend(t for t in other.traced_during if t not in target.traced_during)
    if other.contexts is not None:
        if target.contexts is None:
            target.contexts = Contexts()
        target.contexts.merge(other.contexts)


def merge_file(
    mine: FileData, other: FileData, how: str, *, checked: bool = False
) -> list[CodeCounts]:
    """Add (``how="sum"``) or take the larger of (``"max"``) ``other``'s counts
    into ``mine``, code object by code object; both describe the same source.

    Returns the code objects of ``other`` that were not merged because their
    instructions differ from ``mine``'s (see :func:`conflicts`, which
    :func:`merge_into` asks first, and then passes ``checked``: there are none).
    """
    index = {key: i for i, key in enumerate(code_keys(mine.code_objects))}
    codes = mine.code_objects
    skipped: list[CodeCounts] = []
    for key, code in other.keyed().items():
        i = index.get(key)
        if i is None:
            codes.append(code)
        elif checked or same_shape(codes[i], code):
            codes[i] = merged_code(codes[i], code, how)
        else:
            skipped.append(code)
    mine.partial = mine.partial and other.partial
    mine.excluded_lines = sorted(set(mine.excluded_lines) | set(other.excluded_lines))
    if other.traced:
        mine.traced = sorted(set(mine.traced) | set(other.traced))
    if other.no_branch_lines:
        mine.no_branch_lines = sorted(set(mine.no_branch_lines) | set(other.no_branch_lines))
    return skipped


def merged_code(mine: CodeCounts, other: CodeCounts, how: str = "sum") -> CodeCounts:
    """``mine``'s counts plus ``other``'s (``how="sum"``) or the larger of the
    two (``"max"``); both have the same shape (:func:`same_shape`).

    Everything but the counts is ``mine``'s, and so is every instruction and
    branch object whose count does not change: merging allocates only for
    what the other side adds.
    """
    pairs = zip(mine.instructions, other.instructions, strict=True)
    if how == "sum":
        instructions = tuple(
            a if not b.count else InstructionCount(a.offset, a.opname, a.line, a.count + b.count)
            for a, b in pairs
        )
    else:
        instructions = tuple(
            a if a.count >= b.count else InstructionCount(a.offset, a.opname, a.line, b.count)
            for a, b in pairs
        )
    branches = tuple(
        _merged_branch(a, b, how) for a, b in zip(mine.branches, other.branches, strict=True)
    )
    return CodeCounts(
        mine.qualname,
        mine.name,
        mine.firstlineno,
        mine.path,
        instructions,
        branches,
        mine.generated or other.generated,
    )


def _merged_outcome(a: BranchOutcome, b: BranchOutcome, how: str) -> BranchOutcome:
    count = a.count + b.count if how == "sum" else max(a.count, b.count)
    return a if count == a.count else BranchOutcome(a.target_offset, count)


def _merged_branch(a: BranchCount, b: BranchCount, how: str) -> BranchCount:
    fall = _merged_outcome(a.outcomes[0], b.outcomes[0], how)
    jump = _merged_outcome(a.outcomes[1], b.outcomes[1], how)
    if fall is a.outcomes[0] and jump is a.outcomes[1]:
        return a
    return BranchCount(a.offset, a.opname, a.line, (fall, jump))


def combine(datasets: Iterable[tuple[str, CovData]]) -> CovData:
    """Sum several data sets; each is named for error messages."""
    result: CovData | None = None
    for name, data in datasets:
        if result is None:
            result = CovData(data.python, data.python_version)
        merge_into(result, data, "sum", name=name)
    if result is None:
        raise DataError("combine: no data files given")
    return result


# --- JSON: the model as parallel lists -----------------------------------------


def code_to_json(code: CodeCounts) -> dict[str, Any]:
    """One code object as the data file writes it: parallel lists, one entry
    per instruction, and one row per branch."""
    instructions = code.instructions
    raw = {
        "qualname": code.qualname,
        "name": code.name,
        "firstlineno": code.firstlineno,
        "offsets": list(map(_OFFSET, instructions)),
        "opnames": list(map(_OPNAME, instructions)),
        "lines": list(map(_LINE, instructions)),
        "counts": list(map(_COUNT, instructions)),
        "branches": [
            [
                b.offset,
                b.opname,
                b.line,
                [b.outcomes[0].target_offset, b.outcomes[1].target_offset],
                [b.outcomes[0].count, b.outcomes[1].count],
            ]
            for b in code.branches
        ],
    }
    if code.generated:
        raw["generated"] = [list(tag) for tag in code.generated]
    return raw


def file_to_json(fdata: FileData) -> dict[str, Any]:
    """One file's counts as plain JSON data (``traced`` only when not empty)."""
    raw: dict[str, Any] = {
        "sha256": fdata.sha256,
        "partial": fdata.partial,
        "excluded_lines": list(fdata.excluded_lines),
        "code_objects": [code_to_json(c) for c in fdata.code_objects],
    }
    if fdata.traced:
        raw["traced"] = [[qualname, line] for qualname, line in fdata.traced]
    if fdata.no_branch_lines:
        raw["no_branch_lines"] = list(fdata.no_branch_lines)
    return raw


def _int(value: Any, what: str, *, nullable: bool = False) -> Any:
    """``value`` if it is a non-negative integer (``None`` too when ``nullable``)."""
    if value is None and nullable:
        return None
    if type(value) is not int or value < 0:
        raise ValueError(f"{what} must be a non-negative integer, not {value!r:.40}")
    return value


_STR_TYPES = frozenset({str})
_INT_TYPES = frozenset({int})
_NULLABLE_INT_TYPES = frozenset({int, type(None)})


def _ints(value: Any, what_list: str, what: str, *, nullable: bool = False) -> list[Any]:
    """``value`` if it is a list of non-negative integers (``None`` too when
    ``nullable``); otherwise ValueError naming the first bad entry."""
    values = _list(value, what_list)
    # The common case at C speed; the loop below names what is wrong.
    if set(map(type, values)) <= (_NULLABLE_INT_TYPES if nullable else _INT_TYPES):
        numbers = [v for v in values if v is not None] if nullable else values
        if not numbers or min(numbers) >= 0:
            return values
    return [_int(x, what, nullable=nullable) for x in values]


def _str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string, not {value!r:.40}")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"{what} must be a list, not {type(value).__name__}")
    return value


def code_from_json(raw: Any) -> CodeCounts:
    """Inverse of :func:`code_to_json`; raises KeyError/TypeError/ValueError on
    bad data.  The code object's ``path`` is not recorded: it reads as None."""
    offsets = _ints(raw["offsets"], "offsets", "an offset")
    opnames = _list(raw["opnames"], "opnames")
    if not set(map(type, opnames)) <= _STR_TYPES:
        opnames = [_str(x, "an opname") for x in opnames]
    lines = _ints(raw["lines"], "lines", "a line", nullable=True)
    counts = _ints(raw["counts"], "counts", "a count")
    if not len(offsets) == len(opnames) == len(lines) == len(counts):
        raise ValueError("instruction lists of different lengths")
    branches = []
    for off, opname, line, targets, bcounts in _list(raw["branches"], "branches"):
        if len(_list(targets, "targets")) != 2 or len(_list(bcounts, "counts")) != 2:
            raise ValueError("a branch must have two outcomes")
        off, opname, line = (
            _int(off, "an offset"),
            _str(opname, "an opname"),
            _int(line, "a line", nullable=True),
        )
        fall, jump = _int(targets[0], "a target"), _int(targets[1], "a target")
        taken = _int(bcounts[0], "a count"), _int(bcounts[1], "a count")
        outcomes = (BranchOutcome(fall, taken[0]), BranchOutcome(jump, taken[1]))
        branches.append(BranchCount(off, opname, line, outcomes))
    return CodeCounts(
        _str(raw["qualname"], "qualname"),
        _str(raw["name"], "name"),
        _int(raw["firstlineno"], "firstlineno"),
        None,
        tuple(map(InstructionCount, offsets, opnames, lines, counts)),
        tuple(branches),
        tuple(
            (_int(offset, "an offset"), _str(name, "a filter"), _twin(twin))
            for offset, name, twin in _list(raw.get("generated", []), "generated")
        ),
    )


def _twin(value: Any) -> int:
    """A twin offset: a non-negative integer, or -1 for none."""
    return -1 if value == -1 and type(value) is int else int(_int(value, "a twin offset"))


def file_from_json(raw: Any) -> FileData:
    """Inverse of :func:`file_to_json`; raises KeyError/TypeError/ValueError on bad data.

    Counts, offsets and line numbers must be non-negative integers (not
    booleans, fractions or strings): a count that is none is no count.
    """
    codes = [code_from_json(c) for c in _list(raw["code_objects"], "code_objects")]
    return FileData(
        sha256=_str(raw["sha256"], "sha256"),
        code_objects=codes,
        excluded_lines=_ints(raw.get("excluded_lines", []), "lines", "a line"),
        partial=bool(raw.get("partial", False)),
        traced=[
            (_str(q, "a qualname"), _int(n, "a line"))
            for q, n in _list(raw.get("traced", []), "traced")
        ],
        no_branch_lines=_ints(raw.get("no_branch_lines", []), "lines", "a line"),
    )


def to_json(data: CovData) -> dict[str, Any]:
    """The whole data set as plain JSON data (also what xdist workers send)."""
    return _to_json(data, {path: file_to_json(f) for path, f in sorted(data.files.items())})


def _to_json(data: CovData, files: dict[str, Any]) -> dict[str, Any]:
    from pytest_bytecode import __version__

    return {
        "kind": KIND,
        "format": FORMAT_VERSION,
        "version": __version__,
        "python": data.python,
        "python_version": data.python_version,
        "files": files,
        "crashed_workers": [c.to_json() for c in data.crashed_workers],
        **({"traced_during": list(data.traced_during)} if data.traced_during else {}),
        **({"contexts": data.contexts.to_json()} if data.contexts is not None else {}),
    }


def header_problem(
    raw: Any, kind: str, version: int | tuple[int, ...], noun: str, name: object
) -> str | None:
    """What is wrong with the ``kind`` and ``format`` fields of a JSON file of
    ours (``noun``: "data", "baseline"), as a message naming ``name``; None
    if they are of a format this version reads (``version``: one or several)."""
    if not isinstance(raw, dict) or raw.get("kind") != kind:
        return f"{name}: not a pytest-bytecode {noun} file"
    readable = (version,) if isinstance(version, int) else version
    found = raw.get("format")
    if type(found) is not int or found not in readable:
        which = " or ".join(map(str, readable))
        return (
            f"{name}: {noun} format {found!r} is not supported (this version reads format {which})"
        )
    return None


def from_json(raw: Any, name: str = "data") -> CovData:
    """Inverse of :func:`to_json`; raises :class:`DataError` naming ``name``."""
    problem = header_problem(raw, KIND, READ_FORMATS, "data", name)
    if problem is not None:
        raise DataError(problem)
    try:
        data = CovData(str(raw["python"]), str(raw["python_version"]))
        with gc_paused():
            for path, f in raw["files"].items():
                data.files[str(path)] = file_from_json(f)
        for c in raw.get("crashed_workers", []):
            data.crashed_workers.append(CrashedWorker.from_json(c))
        data.traced_during = [
            _str(t, "a test id") for t in _list(raw.get("traced_during", []), "traced_during")
        ]
        if "contexts" in raw:
            data.contexts = Contexts.from_json(raw["contexts"])
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as exc:
        raise DataError(f"{name}: corrupt data file ({type(exc).__name__}: {exc})") from None
    return data


def save(data: CovData, path: Path | str) -> None:
    """Write a data file (atomically; ``-``: standard output).

    The text is :func:`to_json`'s, compact, made and written a file at a
    time: each file's lists, its text and its bytes are let go before the
    next is made.  Made whole, they were most of what writing the data file
    added to a run's peak memory (the whole text was held three times over,
    as lists, as a string and as bytes).
    """
    write_output(path, _json_pieces(data))


def _json_pieces(data: CovData) -> Iterator[bytes]:
    """``json.dumps(to_json(data), separators=(",", ":"))``, encoded, in
    pieces: the fields before ``files``, each file, the fields after."""
    dumps = partial(json.dumps, separators=(",", ":"))
    whole = _to_json(data, {})
    keys = list(whole)
    at = keys.index("files")
    head = dumps({k: whole[k] for k in keys[:at]})
    tail = dumps({k: whole[k] for k in keys[at + 1 :]})
    yield f'{head[:-1]},"files":{{'.encode()
    for n, (path, fdata) in enumerate(sorted(data.files.items())):
        yield f"{',' if n else ''}{dumps(path)}:{dumps(file_to_json(fdata))}".encode()
    yield ("}" + ("," + tail[1:] if tail != "{}" else "}")).encode()


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


#: A run of this many arrays or objects opened one inside the other (keys
#: allowed between): no file of ours nests beyond a handful, and the JSON
#: parser recurses once per level, which can exhaust a small native stack
#: (Pyodide's) before Python's recursion limit says so.
_TOO_DEEP = re.compile(r'(?:[\[{]\s*(?:"[^"\\]*"\s*:\s*)?){200}')


def read_json(path: Path | str, what: str) -> Any:
    """The JSON value in ``path`` (``-``: standard input); every problem is a
    :class:`DataError` naming the file: unreadable, not UTF-8 text, not JSON,
    ``NaN``/``Infinity`` or numbers out of range, nesting too deep."""
    try:
        raw = sys.stdin.buffer.read() if is_stdout(path) else Path(path).read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read {what} ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path}: corrupt {what} (not UTF-8 text: byte 0x{raw[exc.start]:02x} "
            f"at position {exc.start})"
        ) from None
    if _TOO_DEEP.search(text) is not None:  # before the parser recurses into it
        raise DataError(f"{path}: corrupt {what} (nested too deeply)")
    try:
        return json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise DataError(f"{path}: corrupt {what} (nested too deeply)") from None
    except ValueError as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise DataError(f"{path}: corrupt {what} (not valid JSON: {reason})") from None


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text[:40]} is out of range")
    return value


def load(path: Path | str) -> CovData:
    """Read a data file (``-``: standard input); :class:`DataError` names the
    file and the problem."""
    return from_json(read_json(path, "data file"), str(path))


def append_to_file(data: CovData, path: Path) -> CovData:
    """Add ``data`` to the data file at ``path`` (if there is one) and write
    the sum there; returns the sum.

    The file is locked from reading to writing, so that concurrent runs
    appending to one file lose no counts.  All or nothing: a
    :class:`DataError` (another Python, other sources, other compiled code)
    leaves the file untouched; so does a failed write
    (:class:`~pytest_bytecode.files.WriteError`).
    """
    with locked(path):
        if not path.exists():
            save(data, path)
            return data
        merged = load(path)
        if merged.python != data.python:
            raise DataError(
                f"{path}: recorded by Python {merged.python}; cannot add counts of "
                f"Python {data.python} (instruction sets differ between versions)"
            )
        found = conflicts(merged, data)
        if found:
            raise DataError(f"{path}: cannot add the new counts to it: {_listed(found)}")
        merge_into(merged, data, "sum", name=str(path))
        save(merged, path)
    return merged


def source_changes(data: CovData, base: Path) -> list[tuple[str, str]]:
    """``(path, why)`` for each measured file that is no longer on disk as it was
    measured: ``"changed"`` (its SHA-256 differs) or ``"missing"``.  Relative
    names are taken from ``base``."""
    out: list[tuple[str, str]] = []
    for name, fdata in sorted(data.files.items()):
        path = Path(name) if Path(name).is_absolute() else base / name
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            out.append((name, "missing"))
            continue
        if digest != fdata.sha256:
            out.append((name, "changed"))
    return out
