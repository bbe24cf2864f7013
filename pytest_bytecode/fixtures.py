"""The running test's context, the ``bytecode`` fixture and the snapshot option.

Around every test's setup, call and teardown, hook wrappers
(:class:`TestContextHooks`) make a :class:`~pytest_bytecode.testcontext.TestContext`
current: which test is running, ``-v``, whether ``--bytecode-snapshot-update``
is on.  So the plain functions ``assert_bytecode_snapshot`` and friends work in
any test, with no fixture (and a project's own fixture named ``bytecode``
cannot break them).  Requesting the ``bytecode`` fixture gives an object with
the helpers as methods.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from pytest_bytecode import testcontext
from pytest_bytecode.testcontext import UPDATE_OPTION, TestContext

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pytest_bytecode.normalize import Level

UPDATE_INI = "bytecode_snapshot_update"
_WRITTEN_PLUGIN = "bytecode-snapshots-written"
_HOOKS_PLUGIN = "bytecode-test-context"


def add_options(group: pytest.OptionGroup, parser: pytest.Parser | None = None) -> None:
    """Add ``--bytecode-snapshot-update`` and its ini key ``bytecode_snapshot_update``."""
    group.addoption(
        UPDATE_OPTION,
        action="store_true",
        default=None,
        dest="bytecode_snapshot_update",
        help="write or rewrite bytecode snapshot files instead of comparing with them",
    )
    parser = parser if parser is not None else group.parser
    if parser is not None:
        parser.addini(
            UPDATE_INI,
            "write or rewrite bytecode snapshot files (like --bytecode-snapshot-update)",
            type="bool",
            default=False,
        )


def configure(config: pytest.Config) -> None:
    """Check the snapshot option and register the hooks that keep the test context."""
    check_options(config)
    if config.pluginmanager.get_plugin(_HOOKS_PLUGIN) is None:
        config.pluginmanager.register(TestContextHooks(), _HOOKS_PLUGIN)


def check_options(config: pytest.Config) -> None:
    """Stop the run once, before any test, on a bad ini value (not in every test)."""
    if config.getoption("bytecode_snapshot_update", None) is not None:
        return
    try:
        config.getini(UPDATE_INI)
    except (ValueError, pytest.UsageError) as exc:
        if f"unknown configuration value: {UPDATE_INI!r}" in str(exc):
            return  # the ini key is not registered (plugin partly loaded)
        raise pytest.UsageError(f"{UPDATE_INI} (ini file): {exc}") from None


def update_requested(config: pytest.Config) -> bool:
    """The command-line option if given, else the ini key."""
    option = config.getoption("bytecode_snapshot_update", None)
    if option is not None:
        return bool(option)
    try:
        return bool(config.getini(UPDATE_INI))
    except (ValueError, pytest.UsageError):  # not registered, or bad (see check_options)
        return False


class _Written:
    """Lists the snapshot files written in this run in the terminal summary."""

    def __init__(self) -> None:
        self.paths: list[Path] = []

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        terminalreporter.write_sep("-", f"bytecode snapshots written: {len(self.paths)}")
        for path in self.paths:
            terminalreporter.write_line(str(path))


def _recorder(config: pytest.Config) -> _Written:
    plugin = config.pluginmanager.get_plugin(_WRITTEN_PLUGIN)
    if not isinstance(plugin, _Written):
        plugin = _Written()
        config.pluginmanager.register(plugin, _WRITTEN_PLUGIN)
    return plugin


# --- The running test -------------------------------------------------------------

_CONTEXT = pytest.StashKey[TestContext]()


def new_context(item: pytest.Item) -> TestContext:
    """A fresh context for ``item`` (each run of its setup gets one)."""
    config = item.config
    nodeid = item.nodeid
    return TestContext(
        path=Path(item.path),
        name=nodeid.split("::", 1)[1].replace("::", ".") if "::" in nodeid else item.name,
        nodeid=nodeid,
        verbosity=int(config.getoption("verbose", 0) or 0),
        update=update_requested(config),
        on_write=lambda path: _recorder(config).paths.append(path),
    )


@contextmanager
def _current(item: pytest.Item) -> Iterator[None]:
    ctx = item.stash.get(_CONTEXT, None)
    if ctx is None:
        ctx = item.stash[_CONTEXT] = new_context(item)
    with testcontext.activate(ctx):
        yield


class TestContextHooks:
    """Keeps the running test's context current through its setup, call and teardown.

    Hook wrappers rather than an autouse fixture: they cost nothing per
    fixture lookup, see the setup of every fixture, and cannot be hidden by a
    fixture of the same name.  A rerun of the test (setup again) starts a
    fresh context, so its unnamed snapshots count from 1 again.
    """

    __test__ = False

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Iterator[None]:
        item.stash[_CONTEXT] = new_context(item)
        with _current(item):
            yield

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Iterator[None]:
        with _current(item):
            yield

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Iterator[None]:
        with _current(item):
            yield
        del item.stash[_CONTEXT]


# --- The fixture ------------------------------------------------------------------


class _Helper:
    """A helper of :mod:`pytest_bytecode.assertions` as a fixture attribute,
    imported on first use (so that loading the plugin does not load them)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        from pytest_bytecode import assertions

        return getattr(assertions, self.name)


class Bytecode:
    """The ``bytecode`` fixture: the bytecode helpers, bound to the running test."""

    # The plain helpers need nothing from the running test: the fixture
    # exposes them as they are.
    ANY = _Helper("ANY")
    opcodes = _Helper("opcodes")
    assert_opcodes = _Helper("assert_opcodes")
    assert_in = _Helper("assert_in_bytecode")
    assert_not_in = _Helper("assert_not_in_bytecode")

    def __init__(self, ctx: TestContext) -> None:
        self._ctx = ctx

    def assert_snapshot(
        self,
        obj: object,
        *,
        name: str | None = None,
        level: Level = "portable",
        recursive: bool = False,
    ) -> Path:
        """See :func:`pytest_bytecode.assert_bytecode_snapshot`."""
        __tracebackhide__ = True
        from pytest_bytecode import snapshots  # on first use: see the module docstring

        return snapshots.check(self._ctx, obj, name=name, level=level, recursive=recursive)


@pytest.fixture
def bytecode(request: pytest.FixtureRequest) -> Bytecode:
    """Bytecode assertions for this test (see README "Bytecode assertions")."""
    item = request.node
    ctx = item.stash.get(_CONTEXT, None)
    if ctx is None and isinstance(item, pytest.Item):  # the hooks are not registered
        ctx = new_context(item)
    if ctx is None:
        raise RuntimeError(f"the bytecode fixture needs a test item, not {item!r}")
    return Bytecode(ctx)
