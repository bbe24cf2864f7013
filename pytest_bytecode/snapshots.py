"""Bytecode snapshots: compare a listing with a file stored beside the test.

A snapshot lives at::

    <test dir>/__bytecode_snapshots__/<test module stem>/<test name>[-<n|name>].py<X.Y>.txt

keyed by the running Python's minor version, because bytecode differs between
minor versions.  The first unnamed snapshot of a test has no suffix, the
second ``-2`` and so on; ``name="..."`` gives a stable suffix instead.  A test
id or name with characters other than letters, digits and ``_.-[]=+,``, or
longer than 150 characters, is shortened and gets a hash of the whole of it,
so that two tests never share a file; two snapshots of one test that would
(``name="2"`` and the second unnamed call) are refused.  With
``--bytecode-snapshot-update`` (or the ini key ``bytecode_snapshot_update``)
a missing or different snapshot is written (atomically) and the test passes.

The running test comes from :mod:`pytest_bytecode.testcontext`, which the
plugin's hook wrappers keep current around every test (no fixture needed).
Outside a pytest test there is none, and a snapshot is an error.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import shutil
from pathlib import Path

from pytest_bytecode import versions
from pytest_bytecode.files import write_atomic
from pytest_bytecode.testcontext import SNAPSHOT_DIR, UPDATE_OPTION, TestContext, current

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pytest_bytecode.normalize import Level


class SnapshotError(Exception):
    """A snapshot that cannot be checked: a name collision or an unusable file."""


def snapshot_path(ctx: TestContext, name: str | None) -> Path:
    """Where the next snapshot of the test ``ctx`` lives (counts unnamed calls).

    Raises :class:`SnapshotError` when an earlier snapshot of this test
    already took that file.
    """
    if name is None:
        ctx.unnamed_snapshots += 1
        count = ctx.unnamed_snapshots
        suffix = "" if count == 1 else f"-{count}"
        what = f"unnamed snapshot number {count}"
    else:
        suffix = "-" + _safe(name)
        what = f"snapshot name={name!r}"
    folder = ctx.path.parent / SNAPSHOT_DIR / ctx.path.stem
    path = folder / f"{_safe(ctx.name)}{suffix}.py{versions.PY_TAG}.txt"
    if path in ctx.snapshot_files:
        raise SnapshotError(
            f"{ctx.nodeid}: the {what} and the {ctx.snapshot_files[path]} would share the "
            f"snapshot file {_shown(path)}; give the snapshot another name="
        )
    ctx.snapshot_files[path] = what
    return path


#: Longest test id or name kept whole in a snapshot file name.
MAX_NAME = 150


def _safe(text: str) -> str:
    """``text`` as a file name part: unchanged when it is short and plain,
    else shortened with a hash of the whole, so that different texts give
    different names (``a b`` and ``a_b``, long ids sharing their start)."""
    safe = re.sub(r"[^A-Za-z0-9_.\-\[\]=+,]", "_", text)
    if safe == text and len(text) <= MAX_NAME:
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{safe[: MAX_NAME - 11]}~{digest}"


def render(obj: object, level: Level, recursive: bool, nodeid: str) -> str:
    """The snapshot file's text: a comment header, then one entry per line."""
    from pytest_bytecode import normalize

    code = normalize.code_of(obj)
    ops = normalize.listing(code, level, recursive)
    header = (
        f"# pytest-bytecode snapshot of {normalize.code_name(code)} in {nodeid}\n"
        f"# CPython {versions.PY_TAG}, level {level}, recursive {recursive}\n"
    )
    return header + "".join(op.text + "\n" for op in ops)


def _body(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.startswith("# ")]


def assert_bytecode_snapshot(
    obj: object,
    *,
    name: str | None = None,
    level: Level = "portable",
    recursive: bool = False,
) -> Path:
    """Assert that ``obj``'s listing equals its stored snapshot; return the file's path."""
    __tracebackhide__ = True
    ctx = current()
    if ctx is None:
        raise RuntimeError(
            "assert_bytecode_snapshot() needs a running pytest test with the pytest-bytecode "
            "plugin (it finds the snapshot file from the test)"
        )
    return check(ctx, obj, name=name, level=level, recursive=recursive)


def check(
    ctx: TestContext,
    obj: object,
    *,
    name: str | None = None,
    level: Level = "portable",
    recursive: bool = False,
) -> Path:
    """Compare with, or under update write, the snapshot of ``obj`` for ``ctx``."""
    __tracebackhide__ = True
    from pytest_bytecode import normalize

    path = snapshot_path(ctx, name)
    actual = render(obj, level, recursive, ctx.nodeid)
    stored, problem = _read(path)
    if stored is not None and _body(stored) == _body(actual):
        return path
    if ctx.update:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        write_atomic(path, actual.encode("utf-8"))
        if ctx.on_write is not None:
            ctx.on_write(path)
        return path
    code = normalize.code_of(obj)
    what = f"bytecode snapshot of {normalize.code_name(code)}"
    if problem is not None:
        raise SnapshotError(
            f"{what}: snapshot file {_shown(path)} {problem}; run pytest with "
            f"{UPDATE_OPTION} to rewrite it"
        )
    if stored is None:
        lines = [
            f"{what}: no snapshot file {_shown(path)}",
            f"  run pytest with {UPDATE_OPTION} to create it; the listing is:",
            "",
            *("    " + line for line in _body(actual)),
        ]
    else:
        diff = difflib.unified_diff(
            _body(stored), _body(actual), "snapshot", f"actual (CPython {versions.PY_TAG})", n=3
        )
        lines = [
            f"{what} differs from {_shown(path)}",
            f"  run pytest with {UPDATE_OPTION} to accept the new bytecode",
            "",
            *("  " + line.rstrip("\n") for line in diff),
        ]
    raise AssertionError("\n".join(lines))


def _read(path: Path) -> tuple[str | None, str | None]:
    """The snapshot's text, or None and why it cannot be used (None: no file)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, None
    except IsADirectoryError:
        return None, "is a directory"
    except OSError as exc:
        if path.is_dir():
            return None, "is a directory"
        return None, f"cannot be read ({exc.strerror or exc})"
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        return None, (f"is not UTF-8 text (byte 0x{raw[exc.start]:02x} at position {exc.start})")


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
