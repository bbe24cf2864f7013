"""File writes and locks, shared by data files, reports, baselines, snapshots and
the instrumentation cache.

A reader never sees a half-written file: the bytes go to a temporary file in
the same folder, which is then renamed over the target.  ``mkstemp`` creates
files readable by their owner only; the result gets the usual permissions
(0666 less the umask), since data files, reports and snapshots are shared.

Only regular files are replaced that way.  A path that names something else
(``/dev/stdout``, a FIFO, a terminal, anything under ``/dev`` or ``/proc``)
is written in place, and a symbolic link to a regular file keeps being a link:
the file it points to is replaced.  ``-`` means standard output wherever a
report or data file is written (see :data:`STDOUT`).

A failed write raises :class:`WriteError`, which names the path asked for,
never the temporary file.

:func:`locked` holds an exclusive lock for a read-modify-write of a file
(``--bytecode-cov-append``, ``combine --append``), through a lock file beside
it, on Linux and macOS (``fcntl.flock``) and on Windows (``msvcrt.locking``).
"""

from __future__ import annotations

import errno
import json
import os
import stat
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, BinaryIO

#: The path value that means standard output (or input, where a file is read).
STDOUT = "-"

#: Folders whose entries are devices or views of processes, never files to
#: replace: ``/dev/stdout`` is a symbolic link to ``/proc/self/fd/1``.
_SPECIAL_ROOTS = ("/dev/", "/proc/")


class WriteError(OSError):
    """A file that could not be written; the message names the path and the reason."""

    def __init__(self, path: Path | str, exc: OSError) -> None:
        super().__init__(exc.errno, exc.strerror or str(exc), str(path))
        self.path = str(path)
        self.reason = exc.strerror or str(exc)

    def __str__(self) -> str:
        return f"cannot write {self.path}: {self.reason}"


def is_stdout(path: Path | str) -> bool:
    """True for the ``-`` that stands for standard output."""
    return str(path) == STDOUT


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def in_place(path: Path) -> bool:
    """True when ``path`` must be written where it is, not replaced by a rename:
    it exists and is no regular file (FIFO, device, terminal), or it lives in
    ``/dev`` or ``/proc`` (``/dev/stdout`` redirected to a file is regular,
    but replacing it would cut the shell's file in two)."""
    text = os.path.abspath(path)
    if os.name != "nt" and text.startswith(_SPECIAL_ROOTS):
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode)


def write_atomic(path: Path, data: bytes | Iterable[bytes], *, make_parent: bool = True) -> None:
    """Write ``data`` (bytes, or its pieces in turn) to ``path`` through a
    temporary file and a rename (creating the folder unless ``make_parent``
    is false).

    A path that is no regular file is written in place (see the module
    docstring); a symbolic link's target is replaced, not the link.  Raises
    :class:`WriteError` naming ``path``.
    """
    try:
        if in_place(path):
            flags = os.O_WRONLY | getattr(os, "O_APPEND", 0)
            fd = os.open(path, flags)
            with os.fdopen(fd, "wb") as fh:
                _write(fh, data)
            return
        target = Path(os.path.realpath(path)) if os.path.islink(path) else path
        if make_parent:
            target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name[:40]}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise WriteError(path, exc) from None
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            _write(fh, data)
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise WriteError(path, exc) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write(fh: BinaryIO, data: bytes | Iterable[bytes]) -> None:
    if isinstance(data, bytes):
        fh.write(data)
    else:
        fh.writelines(data)


def write_output(path: Path | str, data: bytes | Iterable[bytes]) -> None:
    """:func:`write_atomic`, or standard output for ``-``."""
    if is_stdout(path):
        sys.stdout.flush()
        _write(sys.stdout.buffer, data)
        sys.stdout.buffer.flush()
        return
    write_atomic(Path(path), data)


def write_json_atomic(path: Path | str, payload: Any, *, indent: int | None = None) -> None:
    """Write JSON to ``path`` through a temporary file and a rename (``-``:
    standard output); :class:`WriteError` names the path.  Compact unless
    ``indent`` is given (then indented, with a final newline)."""
    if indent is None:
        text = json.dumps(payload, separators=(",", ":"))
    else:
        text = json.dumps(payload, indent=indent) + "\n"
    write_output(path, text.encode("utf-8"))


def lock_path(path: Path) -> Path:
    """The lock file that guards ``path``."""
    return path.with_name(path.name + ".lock")


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _lock(fd: int) -> None:
        # LK_LOCK gives up after about ten seconds: keep trying.
        while True:
            try:
                os.lseek(fd, 0, os.SEEK_SET)
                msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
                return
            except OSError as exc:
                if exc.errno not in (errno.EDEADLK, errno.EACCES):
                    raise
                time.sleep(0.05)

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (through ``path.lock``) for the block.

    The lock file is removed when the block ends.  A process that waited on
    the lock of a file removed meanwhile sees that the path now names another
    file (or none) and locks again, so two holders never overlap.  Raises
    :class:`WriteError` when the lock file cannot be created.
    """
    lock = lock_path(path)
    while True:
        try:
            lock.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise WriteError(lock, exc) from None
        try:
            _lock(fd)
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(lock))
            except FileNotFoundError:
                same = False
        except BaseException:
            os.close(fd)
            raise
        if same:
            break
        os.close(fd)
    try:
        yield
    finally:
        if sys.platform == "win32":  # pragma: no cover - Windows only
            # An open file cannot be removed there: let go first.  The removal
            # fails (harmlessly) while another process has the file open.
            try:
                _unlock(fd)
            finally:
                os.close(fd)
            with suppress(OSError):
                lock.unlink()
        else:
            # Removed while held: a waiter then finds its file gone, and retries.
            with suppress(OSError):
                lock.unlink()
            try:
                _unlock(fd)
            finally:
                os.close(fd)
