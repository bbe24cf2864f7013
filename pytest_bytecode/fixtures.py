"""The ``bytecode`` fixture and the snapshot option.

``bytecode`` is autouse: around every test it sets the test context that
:mod:`pytest_bytecode.snapshots` reads (which test is running, ``-v``, whether
``--bytecode-snapshot-update`` is on), so the plain functions
``assert_bytecode_snapshot`` and friends work without requesting it.
Requesting it gives an object with the helpers as methods.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_bytecode import assertions, snapshots
from pytest_bytecode.assertions import ANY
from pytest_bytecode.normalize import Level

UPDATE_INI = "bytecode_snapshot_update"
_WRITTEN_PLUGIN = "bytecode-snapshots-written"


def add_options(group: pytest.OptionGroup, parser: pytest.Parser | None = None) -> None:
    """Add ``--bytecode-snapshot-update`` and its ini key ``bytecode_snapshot_update``."""
    group.addoption(
        snapshots.UPDATE_OPTION,
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


class Bytecode:
    """The ``bytecode`` fixture: the bytecode helpers, bound to the running test."""

    ANY = ANY

    def __init__(self, ctx: snapshots.TestContext) -> None:
        self._ctx = ctx

    # The plain helpers need nothing from the running test: the fixture
    # exposes them as they are.
    opcodes = staticmethod(assertions.opcodes)
    assert_opcodes = staticmethod(assertions.assert_opcodes)
    assert_in = staticmethod(assertions.assert_in_bytecode)
    assert_not_in = staticmethod(assertions.assert_not_in_bytecode)

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
        return snapshots.check(self._ctx, obj, name=name, level=level, recursive=recursive)


@pytest.fixture(autouse=True)
def bytecode(request: pytest.FixtureRequest) -> Iterator[Bytecode]:
    """Bytecode assertions for this test (see README "Bytecode assertions")."""
    config = request.config
    nodeid = request.node.nodeid
    ctx = snapshots.TestContext(
        path=Path(request.node.path),
        name=nodeid.split("::", 1)[1].replace("::", ".") if "::" in nodeid else request.node.name,
        nodeid=nodeid,
        verbosity=int(config.getoption("verbose", 0) or 0),
        update=update_requested(config),
        on_write=lambda path: _recorder(config).paths.append(path),
    )
    with snapshots.activate(ctx):
        yield Bytecode(ctx)
