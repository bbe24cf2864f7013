"""Instrumented-code cache: a second run does not pay for instrumentation again.

Entries are the engine's own serialisation (``Instrumented.dumps``, never
pickle), the file's excluded lines (coverage.py's parser costs a few
milliseconds a file) and the lines its ``partial_branches`` patterns match
(a regular expression per line).

Like ``__pycache__``, the cache holds one entry per source file and way of
compiling it, overwritten when the file changes, so it does not grow with
every edit.  A key (:meth:`InstrumentationCache.key`) has two parts:

* the *slot*, which names the entry's file: the file name, the interpreter
  (implementation cache tag: ``cpython-312``), what the compiler makes of
  the same source in this process (:func:`compiler_fingerprint`: ``-O``,
  ``-OO``, ``-X no_debug_ranges``) and whether pytest's assertion rewriting
  compiled the module: what ``__pycache__`` keeps apart, so that runs of
  several Python versions or of ``-O`` that share the directory keep
  entries of their own;
* the *digest*, a SHA-256 over everything that changes the instrumented
  code: the slot's parts, the full Python version, the source bytes, the
  engine and plugin versions and the engine's source, the rewriting's
  pytest version and settings, and the exclusion and partial-branch rules.
  It is stored in the entry, and an entry whose digest differs is a miss,
  which the new entry then replaces.

Trust is Python's own ``__pycache__`` model: an entry is as trustworthy as
the directory it sits in.  A cache directory that is not owned by the
current user, or that group or others may write to, is not used at all
(:meth:`InstrumentationCache.untrusted` says why); every entry carries the
SHA-256 of its payload, checked before the engine unmarshals it, so a
truncated or damaged entry is never executed.

Writes go to a temporary file that is renamed into place, so concurrent
xdist workers never see half a file.  No cache problem ever fails a run:
every failure is reported to ``trace`` and the code is instrumented afresh.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import stat
import sys
from array import array
from collections.abc import Callable, Iterable
from pathlib import Path

from pytest_bytecode import versions
from pytest_bytecode.files import write_atomic

#: Bumped when the cache entry layout changes.  History:
#:   1 - the engine's serialisation, bare.
#:   2 - ``MAGIC``, the SHA-256 of the payload, then the payload.
#:   3 - ``MAGIC``, the SHA-256 of the body; the body is the file's excluded
#:       lines (a count, then the line numbers, 4 bytes each, big-endian)
#:       and the engine's serialisation.
#:   4 - as 3, with a second list of lines after the first (the lines
#:       coverage.py's ``partial_branches`` patterns match).
#:   5 - one file per slot (``<slot>.bin``), overwritten: ``MAGIC``, the
#:       key's digest (32 bytes), the SHA-256 of the body, the body of 4.
#:       Before, one file per key (``<64 hex digits>.bin``), never removed.
CACHE_LAYOUT = 5

#: What every entry starts with.
MAGIC = b"pytest-bytecode cache 5\n"

#: Marks a cache directory whose entries of layouts before 5 are removed
#: (:meth:`InstrumentationCache.untrusted` looks for it once a process).
_SWEPT = "layout-5"

#: Hex digits of a slot (of the SHA-256 of its parts) in an entry's name.
_SLOT_DIGITS = 32

#: Source the compiler fingerprint is taken of: a docstring (dropped by
#: ``-OO``), an assert and an ``if __debug__`` (dropped by ``-O``), and an
#: expression with column positions (dropped by ``-X no_debug_ranges``).
_FINGERPRINT_SOURCE = '"""doc"""\nassert a.b(c), d\nif __debug__:\n    e = f[g]\n'

_fingerprint: str | None = None
_code_fingerprint: str | None = None


def code_fingerprint() -> str:
    """A hash of the source of everything that shapes instrumented code.

    The engine, the version facts and this module: an edit to any of them
    changes every key, so no hand-bumped version number can be forgotten
    (``ENGINE_VERSION`` stays in the key as the engine's own statement).
    """
    global _code_fingerprint
    if _code_fingerprint is None:
        package = Path(__file__).resolve().parent
        files = sorted((package / "engine").glob("*.py"))
        files += [package / "versions.py", package / "cache.py"]
        h = hashlib.sha256()
        for path in files:
            h.update(path.name.encode() + b"\0")
            try:
                h.update(path.read_bytes())
            except OSError:  # an installation without sources: the versions must do
                h.update(b"?")
        _code_fingerprint = h.hexdigest()[:16]
    return _code_fingerprint


def compiler_fingerprint() -> str:
    """What ``compile()`` makes of a fixed source in this process, hashed.

    Every interpreter setting that changes compiled code (``-O``, ``-OO``,
    ``-X no_debug_ranges`` and whatever a later Python adds) changes it, so
    code compiled under one setting is never served under another.
    """
    global _fingerprint
    if _fingerprint is None:
        code = compile(_FINGERPRINT_SOURCE, "<fingerprint>", "exec", dont_inherit=True)
        _fingerprint = hashlib.sha256(marshal.dumps(code)).hexdigest()[:16]
    return _fingerprint


class InstrumentationCache:
    """A directory of instrumented code keyed by :meth:`key`."""

    def __init__(
        self,
        directory: Path | None,
        trace: Callable[[str], None],
        plugin_version: str | None = None,
    ) -> None:
        self.directory = directory
        self.trace = trace
        self._checked = False
        #: The plugin's version, part of every key; read from the installed
        #: distribution on first use unless given (a child process is given
        #: its run's: reading the metadata costs a child start 45 ms).
        self.plugin_version = plugin_version

    def untrusted(self) -> str | None:
        """Why the cache directory must not be used, or None when it may.

        Checked once, before the first read; creates the directory (owner
        only writable) when it does not exist.  An untrusted directory turns
        the cache off for the run.  A directory this creates is the owner's
        alone (mode 0700), whatever the umask lets others do.
        """
        if self.directory is None or self._checked:
            return None
        self._checked = True
        try:
            self.directory.parent.mkdir(parents=True, exist_ok=True)
            self.directory.mkdir(mode=0o700, exist_ok=True)
            reason = _untrusted_reason(self.directory)
        except OSError as exc:
            reason = f"cannot be used ({exc.strerror or exc})"
        if reason is not None:
            self.trace(f"instrumentation cache {self.directory} not used: {reason}")
            self.directory = None
        else:
            self._sweep_old_layouts()
        return reason

    def _sweep_old_layouts(self) -> None:
        """Remove the entries of layouts before 5, one file per key that no
        run ever removed, once per directory (:data:`_SWEPT` marks it).  A
        file that cannot be removed is left (it costs disk space, nothing
        else), and no failure here stops the run."""
        assert self.directory is not None
        marker = self.directory / _SWEPT
        try:
            if marker.exists():
                return
            with os.scandir(self.directory) as entries:
                for entry in entries:
                    stem = entry.name.removesuffix(".bin").removesuffix("-plans")
                    if entry.name.endswith(".bin") and len(stem) == 64 and _is_hex(stem):
                        with contextlib.suppress(OSError):  # gone already, or held open
                            os.unlink(entry.path)
            marker.touch()
        except OSError as exc:
            self.trace(f"removing old cache entries in {self.directory} failed: {exc}")

    def key(self, source: bytes, filename: str, mode: str, rules: str, engine_version: str) -> str:
        """The cache key of one source file: ``"<slot>.<digest>"`` (see the
        module docstring).  ``mode`` is how the file was compiled (``plain``
        or ``rewrite``: through pytest's assertion rewriting), ``rules``
        everything else that shapes the entry (the rewriting's pytest version
        and settings, the exclusion and partial-branch rules)."""
        if self.plugin_version is None:
            from pytest_bytecode import __version__

            self.plugin_version = __version__
        # As in __pycache__, one entry per interpreter (cache tag, not micro
        # version) and compiler setting; the rest replaces the entry.
        where = (
            f"impl={sys.implementation.cache_tag}",
            f"compiler={compiler_fingerprint()}",
            f"mode={mode}",
            f"filename={os.path.abspath(filename)}",
        )
        slot = hashlib.sha256("\0".join(where).encode()).hexdigest()[:_SLOT_DIGITS]
        h = hashlib.sha256()
        for part in (
            f"layout={CACHE_LAYOUT}",
            *where,
            f"python={versions.PY_VERSION}",
            f"engine={engine_version}",
            f"engine-source={code_fingerprint()}",
            f"plugin={self.plugin_version}",
            f"rules={rules}",
        ):
            h.update(part.encode() + b"\0")
        h.update(source)
        return f"{slot}.{h.hexdigest()}"

    def _path(self, key: str, part: str) -> Path:
        assert self.directory is not None
        return self.directory / f"{key[:_SLOT_DIGITS]}{part}.bin"

    def get(self, key: str, part: str = "") -> tuple[bytes, list[int], list[int]] | None:
        """The stored (payload, excluded lines, no-branch lines) for ``key``
        (``part``: an entry stored beside the key's own, see :meth:`put`),
        or None (missing, for another digest, unreadable or damaged)."""
        if self.directory is None:
            return None
        path = self._path(key, part)
        head = len(MAGIC)
        try:
            with open(path, "rb") as f:
                start = f.read(head + 32)
                if start[:head] == MAGIC and start != _header(key):
                    # Another source, engine or rules: the new entry will
                    # replace it (read no further: it may be megabytes).
                    self.trace(f"cache entry {path} is for another version of the file")
                    return None
                raw = start + f.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            self.trace(f"cache read failed for {path}: {exc}")
            return None
        body = raw[head + 64 :]
        if raw[:head] != MAGIC or hashlib.sha256(body).digest() != raw[head + 32 : head + 64]:
            self.trace(f"cache entry {path} is damaged (checksum); instrumenting afresh")
            self.discard(key, part)
            return None
        at = 0
        lists: list[list[int]] = []
        for _ in range(2):
            n = int.from_bytes(body[at : at + 4], "big")
            if len(body) < at + 4 + 4 * n:
                self.trace(f"cache entry {path} is damaged (layout); instrumenting afresh")
                self.discard(key, part)
                return None
            lines = array("I", body[at + 4 : at + 4 + 4 * n])
            if sys.byteorder == "little":
                lines.byteswap()
            lists.append(lines.tolist())
            at += 4 + 4 * n
        return body[at:], lists[0], lists[1]

    def holds(self, key: str, part: str = "") -> bool:
        """Whether the slot's entry (``part``: see :meth:`put`) is ``key``'s:
        its header alone is read, not checked any further."""
        if self.directory is None:
            return False
        header = _header(key)
        try:
            with open(self._path(key, part), "rb") as f:
                return f.read(len(header)) == header
        except OSError:
            return False

    def put(
        self,
        key: str,
        payload: bytes,
        excluded: Iterable[int] = (),
        no_branch: Iterable[int] = (),
        part: str = "",
    ) -> None:
        """Store ``payload`` and the file's excluded and no-branch lines under
        ``key`` atomically, replacing the slot's entry; failures are only
        traced.  ``part`` names a second entry of the same key in a file of
        its own (the read plans: ``"-plans"``), read apart from the first."""
        if self.directory is None:
            return
        body = b""
        for numbers in (excluded, no_branch):
            lines = array("I", sorted(numbers))
            if sys.byteorder == "little":
                lines.byteswap()
            body += len(lines).to_bytes(4, "big") + lines.tobytes()
        body += payload
        try:
            write_atomic(
                self._path(key, part),
                _header(key) + hashlib.sha256(body).digest() + body,
            )
        except OSError as exc:
            self.trace(f"cache write failed in {self.directory}: {exc}")

    def discard(self, key: str, part: str = "") -> None:
        """Remove a bad entry; failures are only traced."""
        if self.directory is None:
            return
        try:
            self._path(key, part).unlink(missing_ok=True)
        except OSError as exc:
            self.trace(f"cache discard failed for {key}: {exc}")


def _header(key: str) -> bytes:
    """How an entry of ``key`` starts: ``MAGIC``, then the key's digest as
    32 bytes (what tells the slot's entry of one version from another's)."""
    return MAGIC + bytes.fromhex(key[_SLOT_DIGITS + 1 :])


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text)


def _untrusted_reason(directory: Path) -> str | None:
    """Why ``directory`` may hold entries written by someone else, or None.

    The rule of ``__pycache__``: only the owner may have written there.  On
    systems without POSIX ownership (Windows) there is nothing to check.
    """
    getuid = getattr(os, "getuid", None)
    if getuid is None:
        return None
    st = directory.stat()
    if st.st_uid != getuid():
        return f"owned by user id {st.st_uid}, not by the current user ({getuid()})"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"writable by group or others (mode {stat.S_IMODE(st.st_mode):o})"
    return None
