"""The data file: measured counts on disk, and merging counts from many runs.

A data file is JSON (never pickle), written atomically.  It records the
Python minor version (instruction sets differ between minor versions) and the
SHA-256 of each measured source file, so that :func:`combine` can refuse to
add up counts that describe different code.

Counts are kept per code object, which is identified inside its file by
``(qualname, firstlineno, n)`` (``n`` tells apart code objects that share both,
such as two lambdas on one line), and per instruction by its offset in the
original code object.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pytest_bytecode import versions
from pytest_bytecode.files import is_stdout, locked, write_output

#: Version of the data file layout.  History:
#:   1 - first version (pytest-bytecode 0.1): files -> code objects with
#:       parallel offset/opname/line/count lists and branch rows.
FORMAT_VERSION = 1

#: The value of the ``kind`` key: tells our data files from other JSON.
KIND = "pytest-bytecode data"

CodeKey = tuple[str, int, int]


class DataError(ValueError):
    """A data file that cannot be used (unreadable, corrupt, incompatible)."""


@dataclass
class BranchData:
    """Both outcomes of one conditional jump: targets and how often each was taken."""

    offset: int
    opname: str
    line: int | None
    targets: tuple[int, int]
    counts: list[int]


@dataclass
class CodeData:
    """Counts of one code object; the lists run in parallel, one entry per instruction."""

    qualname: str
    name: str
    firstlineno: int
    offsets: list[int]
    opnames: list[str]
    lines: list[int | None]
    counts: list[int]
    branches: list[BranchData] = field(default_factory=list)

    def same_shape(self, other: CodeData) -> bool:
        """True when both describe the same instructions and branches."""
        return (
            self.offsets == other.offsets
            and self.opnames == other.opnames
            and [(b.offset, b.targets) for b in self.branches]
            == [(b.offset, b.targets) for b in other.branches]
        )


@dataclass
class FileData:
    """Counts for one source file.

    ``partial`` is true when the module was imported before the import hook
    was installed: only its functions were instrumented, not its module code.
    """

    sha256: str
    code_objects: list[CodeData]
    excluded_lines: list[int] = field(default_factory=list)
    partial: bool = False

    def keyed(self) -> dict[CodeKey, CodeData]:
        """The code objects by ``(qualname, firstlineno, n)``."""
        seen: dict[tuple[str, int], int] = {}
        out: dict[CodeKey, CodeData] = {}
        for code in self.code_objects:
            n = seen.get((code.qualname, code.firstlineno), 0)
            seen[(code.qualname, code.firstlineno)] = n + 1
            out[(code.qualname, code.firstlineno, n)] = code
        return out


@dataclass
class CrashedWorker:
    """An xdist worker that went down.

    ``recovered`` says if the counts of its completed tests were rebuilt from
    what it sent with their reports; ``saved_through`` is the node id of the
    last test it completed ("" for none).
    """

    worker: str
    error: str
    recovered: bool
    saved_through: str = ""


@dataclass
class CovData:
    """Everything one data file holds."""

    python: str = versions.PY_TAG
    python_version: str = versions.PY_VERSION
    files: dict[str, FileData] = field(default_factory=dict)
    crashed_workers: list[CrashedWorker] = field(default_factory=list)


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
            if have is not None and not have.same_shape(code):
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
    for path, fdata in other.files.items():
        mine = target.files.get(path)
        if mine is None:
            target.files[path] = _copy_file(fdata)
        else:
            merge_file(mine, fdata, how)
    target.crashed_workers.extend(other.crashed_workers)


def _copy_file(fdata: FileData) -> FileData:
    return file_from_json(file_to_json(fdata))


def _add(a: int, b: int) -> int:
    return a + b


def merge_file(mine: FileData, other: FileData, how: str) -> list[CodeData]:
    """Add (``how="sum"``) or take the larger of (``"max"``) ``other``'s counts
    into ``mine``, code object by code object; both describe the same source.

    Returns the code objects of ``other`` that were not merged because their
    instructions differ from ``mine``'s (see :func:`conflicts`, which
    :func:`merge_into` asks first).
    """
    add = _add if how == "sum" else max
    keyed = mine.keyed()
    skipped: list[CodeData] = []
    for key, code in other.keyed().items():
        have = keyed.get(key)
        if have is None:
            mine.code_objects.append(_copy_file(FileData("", [code])).code_objects[0])
            continue
        if not have.same_shape(code):
            skipped.append(code)
            continue
        have.counts = [add(a, b) for a, b in zip(have.counts, code.counts, strict=True)]
        for hb, ob in zip(have.branches, code.branches, strict=True):
            hb.counts = [add(a, b) for a, b in zip(hb.counts, ob.counts, strict=True)]
    mine.partial = mine.partial and other.partial
    mine.excluded_lines = sorted(set(mine.excluded_lines) | set(other.excluded_lines))
    return skipped


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


# --- JSON --------------------------------------------------------------------


def file_to_json(fdata: FileData) -> dict[str, Any]:
    """One file's counts as plain JSON data."""
    return {
        "sha256": fdata.sha256,
        "partial": fdata.partial,
        "excluded_lines": list(fdata.excluded_lines),
        "code_objects": [
            {
                "qualname": c.qualname,
                "name": c.name,
                "firstlineno": c.firstlineno,
                "offsets": c.offsets,
                "opnames": c.opnames,
                "lines": c.lines,
                "counts": c.counts,
                "branches": [
                    [b.offset, b.opname, b.line, list(b.targets), list(b.counts)]
                    for b in c.branches
                ],
            }
            for c in fdata.code_objects
        ],
    }


def _int(value: Any, what: str, *, nullable: bool = False) -> Any:
    """``value`` if it is a non-negative integer (``None`` too when ``nullable``)."""
    if value is None and nullable:
        return None
    if type(value) is not int or value < 0:
        raise ValueError(f"{what} must be a non-negative integer, not {value!r:.40}")
    return value


def _str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string, not {value!r:.40}")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"{what} must be a list, not {type(value).__name__}")
    return value


def file_from_json(raw: Any) -> FileData:
    """Inverse of :func:`file_to_json`; raises KeyError/TypeError/ValueError on bad data.

    Counts, offsets and line numbers must be non-negative integers (not
    booleans, fractions or strings): a count that is none is no count.
    """
    codes = []
    for c in _list(raw["code_objects"], "code_objects"):
        offsets = [_int(x, "an offset") for x in _list(c["offsets"], "offsets")]
        opnames = [_str(x, "an opname") for x in _list(c["opnames"], "opnames")]
        lines = [_int(x, "a line", nullable=True) for x in _list(c["lines"], "lines")]
        counts = [_int(x, "a count") for x in _list(c["counts"], "counts")]
        if not len(offsets) == len(opnames) == len(lines) == len(counts):
            raise ValueError("instruction lists of different lengths")
        branches = []
        for off, opname, line, targets, bcounts in _list(c["branches"], "branches"):
            if len(_list(targets, "targets")) != 2 or len(_list(bcounts, "counts")) != 2:
                raise ValueError("a branch must have two outcomes")
            branches.append(
                BranchData(
                    _int(off, "an offset"),
                    _str(opname, "an opname"),
                    _int(line, "a line", nullable=True),
                    (_int(targets[0], "a target"), _int(targets[1], "a target")),
                    [_int(bcounts[0], "a count"), _int(bcounts[1], "a count")],
                )
            )
        codes.append(
            CodeData(
                _str(c["qualname"], "qualname"),
                _str(c["name"], "name"),
                _int(c["firstlineno"], "firstlineno"),
                offsets,
                opnames,
                lines,
                counts,
                branches,
            )
        )
    return FileData(
        sha256=_str(raw["sha256"], "sha256"),
        code_objects=codes,
        excluded_lines=[_int(x, "a line") for x in _list(raw.get("excluded_lines", []), "lines")],
        partial=bool(raw.get("partial", False)),
    )


def to_json(data: CovData) -> dict[str, Any]:
    """The whole data set as plain JSON data (also what xdist workers send)."""
    from pytest_bytecode import __version__

    return {
        "kind": KIND,
        "format": FORMAT_VERSION,
        "version": __version__,
        "python": data.python,
        "python_version": data.python_version,
        "files": {path: file_to_json(f) for path, f in sorted(data.files.items())},
        "crashed_workers": [
            {
                "worker": c.worker,
                "error": c.error,
                "recovered": c.recovered,
                "saved_through": c.saved_through,
            }
            for c in data.crashed_workers
        ],
    }


def from_json(raw: Any, name: str = "data") -> CovData:
    """Inverse of :func:`to_json`; raises :class:`DataError` naming ``name``."""
    if not isinstance(raw, dict) or raw.get("kind") != KIND:
        raise DataError(f"{name}: not a pytest-bytecode data file")
    if raw.get("format") != FORMAT_VERSION:
        raise DataError(
            f"{name}: data format {raw.get('format')!r} is not supported "
            f"(this version reads format {FORMAT_VERSION})"
        )
    try:
        data = CovData(str(raw["python"]), str(raw["python_version"]))
        for path, f in raw["files"].items():
            data.files[str(path)] = file_from_json(f)
        for c in raw.get("crashed_workers", []):
            data.crashed_workers.append(
                CrashedWorker(
                    str(c["worker"]),
                    str(c["error"]),
                    bool(c["recovered"]),
                    str(c.get("saved_through", "")),
                )
            )
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as exc:
        raise DataError(f"{name}: corrupt data file ({type(exc).__name__}: {exc})") from None
    return data


def write_json_atomic(path: Path | str, payload: Any, *, indent: int | None = None) -> None:
    """Write JSON to ``path`` through a temporary file and a rename (``-``:
    standard output); :class:`~pytest_bytecode.files.WriteError` names the path."""
    if indent is None:
        text = json.dumps(payload, separators=(",", ":"))
    else:
        text = json.dumps(payload, indent=indent) + "\n"
    write_output(path, text.encode("utf-8"))


def save(data: CovData, path: Path | str) -> None:
    """Write a data file (atomically; ``-``: standard output)."""
    write_json_atomic(path, to_json(data))


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


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
