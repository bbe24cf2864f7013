"""The instrumentation cache's key, table-driven: what must change it, what must not.

Fast unit tests; the cache end to end (hits, ``-O``, damaged entries) is in
``tests/test_import_path.py``.
"""

from __future__ import annotations

import os
import sys
import types
from collections.abc import Callable
from pathlib import Path

import pytest

import pytest_bytecode
from pytest_bytecode import cache as cache_mod

SOURCE = b"x = 1\n"
ARGS = (SOURCE, "m.py", "plain", "7")


def key(*args: str | bytes) -> str:
    source, filename, settings, engine_version = (*args, *ARGS[len(args) :])
    assert isinstance(source, bytes)
    return cache_mod.InstrumentationCache(None, lambda _: None).key(
        source, str(filename), str(settings), str(engine_version)
    )


def test_key_is_a_stable_sha256() -> None:
    assert key() == key()
    assert len(key()) == 64 and int(key(), 16) >= 0


def test_key_does_not_depend_on_the_cache_directory(tmp_path: Path) -> None:
    here = cache_mod.InstrumentationCache(tmp_path, lambda _: None).key(*ARGS)
    assert here == key()


def test_key_takes_the_file_name_as_an_absolute_path() -> None:
    assert key(SOURCE, "m.py") == key(SOURCE, os.path.abspath("m.py"))
    assert key(SOURCE, "m.py") == key(SOURCE, os.path.join(".", "m.py"))


#: Each argument of ``key``, changed alone.
ARGUMENT_CHANGES = {
    "source": (b"x = 2\n", "m.py", "plain", "7"),
    "source, a byte added": (b"x = 1\n\n", "m.py", "plain", "7"),
    "file name": (SOURCE, "n.py", "plain", "7"),
    "file name, another directory": (SOURCE, os.path.join("sub", "m.py"), "plain", "7"),
    "settings: assertion rewriting": (SOURCE, "m.py", "rewrite pytest 9.2 pass-hook False", "7"),
    "settings: the pass hook": (SOURCE, "m.py", "rewrite pytest 9.2 pass-hook True", "7"),
    "settings: exclusion rules": (SOURCE, "m.py", "plain exclude=abc", "7"),
    "engine version": (SOURCE, "m.py", "plain", "8"),
}


@pytest.mark.parametrize("args", ARGUMENT_CHANGES.values(), ids=ARGUMENT_CHANGES.keys())
def test_each_argument_changes_the_key(args: tuple[bytes, str, str, str]) -> None:
    assert key(*args) != key()


def _patched(name: str, value: object) -> Callable[[pytest.MonkeyPatch], None]:
    return lambda monkeypatch: monkeypatch.setattr(cache_mod, name, value)


#: Each fact of the environment the key covers, changed alone.
ENVIRONMENT_CHANGES: dict[str, Callable[[pytest.MonkeyPatch], None]] = {
    "cache layout": _patched("CACHE_LAYOUT", cache_mod.CACHE_LAYOUT + 1),
    "plugin version": lambda mp: mp.setattr(pytest_bytecode, "__version__", "999.0", raising=False),
    "compiler settings (-O, -OO, -X no_debug_ranges)": _patched("_fingerprint", "0" * 16),
    "engine source": _patched("_code_fingerprint", "0" * 16),
    "Python version": lambda mp: mp.setattr(cache_mod.versions, "PY_VERSION", "3.99.0"),
    "implementation": lambda mp: mp.setattr(
        sys, "implementation", types.SimpleNamespace(cache_tag="other-399")
    ),
}


@pytest.mark.parametrize("change", ENVIRONMENT_CHANGES.values(), ids=ENVIRONMENT_CHANGES.keys())
def test_each_fact_of_the_environment_changes_the_key(
    monkeypatch: pytest.MonkeyPatch, change: Callable[[pytest.MonkeyPatch], None]
) -> None:
    before = key()
    change(monkeypatch)
    assert key() != before


def test_parts_cannot_run_into_each_other() -> None:
    """The parts are separated, so moving text from one to the next is another key."""
    assert key(SOURCE, "m.py", "plain", "7") != key(SOURCE, "m.py", "plai", "n7")
    assert key(b"1\n", "m.py", "plain", "7") != key(b"\n", "m.py", "plain1", "7")


@pytest.mark.parametrize("edited", ["assemble.py", "counts.py", "versions.py", "cache.py"])
def test_an_edit_to_what_shapes_instrumented_code_changes_the_key(
    monkeypatch: pytest.MonkeyPatch, edited: str
) -> None:
    """An engine, version-fact or cache edit without a version bump still changes
    every key."""
    before = key()
    real = Path.read_bytes

    def read_bytes(path: Path) -> bytes:
        content = real(path)
        return content + b"# edited\n" if path.name == edited else content

    monkeypatch.setattr(cache_mod, "_code_fingerprint", None)
    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    assert key() != before


def test_a_given_plugin_version_is_the_installed_ones_stand_in() -> None:
    """A child process is given its run's version (no metadata read): the
    same version gives the same key, another another."""
    installed = cache_mod.InstrumentationCache(None, lambda _: None).key(*ARGS)
    given = cache_mod.InstrumentationCache(None, lambda _: None, pytest_bytecode.__version__)
    other = cache_mod.InstrumentationCache(None, lambda _: None, "999.0")
    assert given.key(*ARGS) == installed != other.key(*ARGS)
