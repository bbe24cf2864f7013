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

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pytest_bytecode import versions
from pytest_bytecode.files import write_atomic

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
        return self.offsets == other.offsets and [b.offset for b in self.branches] == [
            b.offset for b in other.branches
        ]


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


def merge_into(
    target: CovData, other: CovData, how: Literal["sum", "max"] = "sum", *, name: str = "data"
) -> None:
    """Add ``other``'s counts to ``target`` (or take the larger, for ``how="max"``).

    Raises :class:`DataError` when the two come from different Python minor
    versions or describe different contents of the same source file.
    """
    if other.python != target.python:
        raise DataError(
            f"{name}: recorded by Python {other.python}, cannot be merged with data "
            f"from Python {target.python} (instruction sets differ between versions)"
        )
    for path, fdata in other.files.items():
        mine = target.files.get(path)
        if mine is None:
            target.files[path] = _copy_file(fdata)
            continue
        if mine.sha256 != fdata.sha256:
            raise DataError(
                f"{name}: source file {path} has different contents than in the other data "
                f"(sha256 {fdata.sha256[:12]} vs {mine.sha256[:12]})"
            )
        merge_file(mine, fdata, how)
    target.crashed_workers.extend(other.crashed_workers)


def _copy_file(fdata: FileData) -> FileData:
    return file_from_json(file_to_json(fdata))


def _add(a: int, b: int) -> int:
    return a + b


def merge_file(mine: FileData, other: FileData, how: str) -> None:
    """Add (``how="sum"``) or take the larger of (``"max"``) ``other``'s counts
    into ``mine``, code object by code object; both describe the same source."""
    add = _add if how == "sum" else max
    keyed = mine.keyed()
    for key, code in other.keyed().items():
        have = keyed.get(key)
        if have is None or not have.same_shape(code):
            if have is None:
                mine.code_objects.append(_copy_file(FileData("", [code])).code_objects[0])
            continue
        have.counts = [add(a, b) for a, b in zip(have.counts, code.counts, strict=True)]
        for hb, ob in zip(have.branches, code.branches, strict=True):
            hb.counts = [add(a, b) for a, b in zip(hb.counts, ob.counts, strict=True)]
    mine.partial = mine.partial and other.partial
    mine.excluded_lines = sorted(set(mine.excluded_lines) | set(other.excluded_lines))


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


def file_from_json(raw: Any) -> FileData:
    """Inverse of :func:`file_to_json`; raises KeyError/TypeError/ValueError on bad data."""
    codes = []
    for c in raw["code_objects"]:
        offsets = [int(x) for x in c["offsets"]]
        opnames = [str(x) for x in c["opnames"]]
        lines = [None if x is None else int(x) for x in c["lines"]]
        counts = [int(x) for x in c["counts"]]
        if not len(offsets) == len(opnames) == len(lines) == len(counts):
            raise ValueError("instruction lists of different lengths")
        branches = []
        for off, opname, line, targets, bcounts in c["branches"]:
            if len(targets) != 2 or len(bcounts) != 2:
                raise ValueError("a branch must have two outcomes")
            branches.append(
                BranchData(
                    int(off),
                    str(opname),
                    None if line is None else int(line),
                    (int(targets[0]), int(targets[1])),
                    [int(bcounts[0]), int(bcounts[1])],
                )
            )
        codes.append(
            CodeData(
                str(c["qualname"]),
                str(c["name"]),
                int(c["firstlineno"]),
                offsets,
                opnames,
                lines,
                counts,
                branches,
            )
        )
    return FileData(
        sha256=str(raw["sha256"]),
        code_objects=codes,
        excluded_lines=[int(x) for x in raw.get("excluded_lines", [])],
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
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DataError(f"{name}: corrupt data file ({type(exc).__name__}: {exc})") from None
    return data


def write_json_atomic(path: Path, payload: Any, *, indent: int | None = None) -> None:
    """Write JSON to ``path`` through a temporary file and a rename."""
    if indent is None:
        text = json.dumps(payload, separators=(",", ":"))
    else:
        text = json.dumps(payload, indent=indent) + "\n"
    write_atomic(path, text.encode("utf-8"))


def save(data: CovData, path: Path) -> None:
    """Write a data file (atomically)."""
    write_json_atomic(path, to_json(data))


def load(path: Path) -> CovData:
    """Read a data file; :class:`DataError` names the file and the problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"{path}: cannot read data file ({exc.strerror or exc})") from None
    try:
        raw = json.loads(text)
    except ValueError:
        raise DataError(f"{path}: corrupt data file (not valid JSON)") from None
    return from_json(raw, str(path))
