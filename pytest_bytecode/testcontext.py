"""Which pytest test is running, for helpers called without a fixture.

``assert_bytecode_snapshot`` finds its snapshot file from the running test,
and every helper adds the raw disassembly to its failure under pytest's
``-v``.  The plugin's hook wrappers (:mod:`pytest_bytecode.fixtures`) make a
:class:`TestContext` current around each test's setup, call and teardown.
Outside a pytest test there is none: :func:`current` is None, snapshots are
an error there and the other helpers work with verbosity 0.

No pytest import here: the helpers work in plain ``python`` too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

#: The folder, next to a test module, of its snapshot files (never collected).
SNAPSHOT_DIR = "__bytecode_snapshots__"
#: The option that writes snapshots instead of comparing with them.
UPDATE_OPTION = "--bytecode-snapshot-update"


class TestContext:
    """What the helpers need to know about the test that is running.

    A plain class, not a dataclass: every pytest run of a project that has
    the plugin installed imports this module, and making a dataclass costs
    more start-up than the rest of the plugin's imports together.
    """

    __test__ = False  # not a test class, whatever pytest's python_classes say
    __slots__ = (
        "name",
        "nodeid",
        "on_write",
        "path",
        "snapshot_files",
        "unnamed_snapshots",
        "update",
        "verbosity",
    )

    def __init__(
        self,
        path: Path,  # the test module
        name: str,  # test name within the module: "TestA.test_b[param]"
        nodeid: str,
        verbosity: int = 0,
        update: bool = False,  # --bytecode-snapshot-update
        on_write: Callable[[Path], None] | None = None,  # told of each snapshot file written
    ) -> None:
        self.path = path
        self.name = name
        self.nodeid = nodeid
        self.verbosity = verbosity
        self.update = update
        self.on_write = on_write
        #: Snapshots of this test so far: how many unnamed, and which files
        #: taken (by what), so that two snapshots of one test never share a file.
        self.unnamed_snapshots = 0
        self.snapshot_files: dict[Path, str] = {}

    def __repr__(self) -> str:
        return (
            f"TestContext(path={self.path!r}, name={self.name!r}, nodeid={self.nodeid!r}, "
            f"verbosity={self.verbosity!r}, update={self.update!r})"
        )

    def snapshot_path(self, name: str | None) -> Path:
        """Where this test's next snapshot lives (see :func:`.snapshots.snapshot_path`)."""
        from pytest_bytecode.snapshots import snapshot_path

        return snapshot_path(self, name)


_CURRENT: ContextVar[TestContext | None] = ContextVar("pytest_bytecode_test", default=None)


def current() -> TestContext | None:
    """The running test's context, or None outside a pytest test."""
    return _CURRENT.get()


def verbosity() -> int:
    """pytest's ``-v`` count for the running test; 0 outside pytest."""
    ctx = _CURRENT.get()
    return 0 if ctx is None else ctx.verbosity


@contextmanager
def activate(ctx: TestContext) -> Iterator[TestContext]:
    """Make ``ctx`` the current test context for the duration of the block."""
    token = _CURRENT.set(ctx)
    try:
        yield ctx
    finally:
        _CURRENT.reset(token)
