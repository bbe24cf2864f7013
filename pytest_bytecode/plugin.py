"""pytest hooks: options, ini keys, and the start of a coverage run.

pytest loads this module through the ``pytest11`` entry point ``bytecode``;
``-p pytest_bytecode.plugin`` and ``pytest_plugins = ["pytest_bytecode.plugin"]``
name it too (see :func:`pytest_plugin_registered`).  Every pytest run of a
project that has the plugin installed imports it, so it imports nothing but
pytest and the option definitions (and first takes the package off pytest's
assertion-rewriting marks, :func:`pytestcompat.leave_unrewritten`): the
engine, coverage.py's configuration reader, the reports
(:mod:`pytest_bytecode.run`) and the assertion helpers load only when a run
asks for them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pytest_bytecode import pytestcompat

# Before this package's other modules load: pytest would rewrite them all.
pytestcompat.leave_unrewritten("pytest_bytecode")

from pytest_bytecode import fixtures, options  # noqa: E402
from pytest_bytecode.fixtures import bytecode  # noqa: E402, F401
from pytest_bytecode.testcontext import SNAPSHOT_DIR  # noqa: E402

GROUP = "bytecode"


class BytecodeCovWarning(pytest.PytestWarning):
    """Warnings of pytest-bytecode's coverage (filter with ``ignore::...BytecodeCovWarning``)."""


#: The names pytest registers this module under: the ``pytest11`` entry
#: point's, and the module's own (``-p``, ``pytest_plugins``).
PLUGIN_NAMES = ("bytecode", __name__)


class _OtherName:
    """Stands under this plugin's other name, so that pytest does not load the
    module a second time under it ("Plugin already registered")."""


def pytest_plugin_registered(plugin: object, manager: pytest.PytestPluginManager) -> None:
    """When this module is registered under one of its names, hold the other."""
    if plugin is not sys.modules[__name__]:
        return
    for name in PLUGIN_NAMES:
        if manager.get_plugin(name) is None and not manager.is_blocked(name):
            manager.register(_OtherName(), name)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ``bytecode`` option group and its ini keys."""
    group = parser.getgroup(GROUP, "bytecode coverage and bytecode assertions")
    fixtures.add_options(group, parser)
    options.add_options(group, parser)


def pytest_ignore_collect(collection_path: Path) -> bool | None:
    """Never collect inside snapshot folders (their ``test*.txt`` files would be
    taken for doctest files)."""
    return True if collection_path.name == SNAPSHOT_DIR else None


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """With coverage on, start the run (:func:`pytest_bytecode.run.start`)
    before conftests, and what they import, load."""
    config = early_config
    if not options.requested(config, config.known_args_namespace):
        return
    from pytest_bytecode import run, settings

    run_settings = settings.from_config(config, config.known_args_namespace)
    if not run_settings.enabled:
        return

    run.start(config, run_settings)


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """The snapshot option, and the hooks that know the running test."""
    fixtures.configure(config)
