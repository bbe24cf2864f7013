"""A coverage.py data file (``coverage[:PATH]``, default ``.coverage``).

Written through coverage.py's public :class:`coverage.CoverageData`, never by
hand: every measured file with the lines that ran (a line ran when any of its
instructions did, :mod:`pytest_bytecode.report.lines`), under the absolute,
canonical file name coverage.py itself records (``abs_file``: symbolic links
resolved).  Report paths are relative to the project root; the root is given
by the caller.  ``coverage report``, ``coverage html``, ``coverage json`` and
``coverage xml`` then read it like their own data (run from anywhere: the
names are absolute).

Lines only, no arcs: coverage.py's arcs are line-to-line transitions
(``(from_line, to_line)``, negative numbers for entry and exit) that instruction
and jump-outcome counts do not determine (two lines that both ran once may or
may not have run one after the other), so writing them would be a guess.  No
contexts either.

The file is replaced whole (as ``coverage run`` without ``--append`` does),
through a temporary file and a rename.  A file at the path that is not a
coverage.py data file (any other non-empty file, or no regular file at all) is
not replaced: :class:`~pytest_bytecode.files.WriteError` says so, naming it.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import stat
import tempfile
from pathlib import Path

from pytest_bytecode.files import WriteError
from pytest_bytecode.report.lines import file_lines
from pytest_bytecode.results import Results

#: How every SQLite database file begins.
SQLITE_HEADER = b"SQLite format 3\x00"


def absolute_name(path: str, root: Path) -> str:
    """The file name coverage.py records for the report path ``path``."""
    from pytest_bytecode.sources import canonical_filename

    return canonical_filename(os.path.join(root, path))


def executed_lines(results: Results, root: Path) -> dict[str, list[int]]:
    """Absolute file name -> the lines that ran, for every measured file."""
    return {
        absolute_name(path, root): file_lines(fres).executed()
        for path, fres in results.files.items()
    }


def is_coverage_data(path: Path) -> bool:
    """True when ``path`` is a coverage.py data file (a SQLite database with
    coverage.py's ``coverage_schema`` table); read only, never changed."""
    try:
        with open(path, "rb") as fh:
            if fh.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
                return False
        db = sqlite3.connect(f"{Path(os.path.abspath(path)).as_uri()}?mode=ro", uri=True)
    except (OSError, sqlite3.Error):
        return False
    try:
        row = db.execute(
            "select 1 from sqlite_master where type = 'table' and name = 'coverage_schema'"
        ).fetchone()
    except sqlite3.Error:
        return False
    finally:
        db.close()
    return row is not None


def check_replaceable(path: Path) -> None:
    """Raise :class:`WriteError` unless ``path`` is absent, an empty regular
    file or a coverage.py data file."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise WriteError(path, exc) from None
    if not stat.S_ISREG(st.st_mode):
        reason = "not a regular file; a coverage.py data file must be one"
    elif st.st_size == 0 or is_coverage_data(path):
        return
    else:
        reason = "exists and is not a coverage.py data file, not replaced"
    raise WriteError(path, OSError(errno.EEXIST, reason))


def write(results: Results, path: Path, root: Path) -> None:
    """Write the data file at ``path``; relative report paths are taken from
    ``root``.  Raises :class:`WriteError` naming ``path``."""
    from coverage import CoverageData
    from coverage.exceptions import CoverageException

    check_replaceable(path)
    lines = executed_lines(results, root)
    target = Path(os.path.realpath(path)) if os.path.islink(path) else path
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name[:40]}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
    except OSError as exc:
        raise WriteError(path, exc) from None
    try:
        data = CoverageData(basename=tmp)
        try:
            data.add_lines(lines)
            data.write()
        finally:
            data.close(force=True)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, target)
    except (OSError, CoverageException, sqlite3.Error) as exc:
        Path(tmp).unlink(missing_ok=True)
        error = exc if isinstance(exc, OSError) else OSError(errno.EIO, str(exc))
        raise WriteError(path, error) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
