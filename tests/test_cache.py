"""The instrumentation cache's key, table-driven: what must change it, what must
not, and which changes take a slot of their own rather than replace the entry.

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
ARGS = (SOURCE, "m.py", "plain", "exclude=x", "7")


def key(*args: str | bytes) -> str:
    source, filename, mode, rules, engine_version = (*args, *ARGS[len(args) :])
    assert isinstance(source, bytes)
    return cache_mod.InstrumentationCache(None, lambda _: None).key(
        source, str(filename), str(mode), str(rules), str(engine_version)
    )


def slot(*args: str | bytes) -> str:
    return key(*args).split(".")[0]


def test_key_is_a_slot_and_a_stable_sha256() -> None:
    assert key() == key()
    slot_part, digest = key().split(".")
    assert len(slot_part) == 32 and int(slot_part, 16) >= 0
    assert len(digest) == 64 and int(digest, 16) >= 0


def test_key_does_not_depend_on_the_cache_directory(tmp_path: Path) -> None:
    here = cache_mod.InstrumentationCache(tmp_path, lambda _: None).key(*ARGS)
    assert here == key()


def test_key_takes_the_file_name_as_an_absolute_path() -> None:
    assert key(SOURCE, "m.py") == key(SOURCE, os.path.abspath("m.py"))
    assert key(SOURCE, "m.py") == key(SOURCE, os.path.join(".", "m.py"))


#: Each argument of ``key``, changed alone, and whether the change takes
#: another slot (True: both entries are kept) or replaces the slot's entry.
ARGUMENT_CHANGES = {
    "source": ((b"x = 2\n",), False),
    "source, a byte added": ((b"x = 1\n\n",), False),
    "file name": ((SOURCE, "n.py"), True),
    "file name, another directory": ((SOURCE, os.path.join("sub", "m.py")), True),
    "assertion rewriting": ((SOURCE, "m.py", "rewrite"), True),
    "the rewriting's pytest version and pass hook": (
        (SOURCE, "m.py", "plain", "pytest 9.2 pass-hook True exclude=x"),
        False,
    ),
    "exclusion rules": ((SOURCE, "m.py", "plain", "exclude=abc"), False),
    "engine version": ((SOURCE, "m.py", "plain", "exclude=x", "8"), False),
}


@pytest.mark.parametrize("args,new_slot", ARGUMENT_CHANGES.values(), ids=ARGUMENT_CHANGES.keys())
def test_each_argument_changes_the_key(args: tuple[str | bytes, ...], new_slot: bool) -> None:
    assert key(*args) != key()
    assert (slot(*args) != slot()) is new_slot


def _patched(name: str, value: object) -> Callable[[pytest.MonkeyPatch], None]:
    return lambda monkeypatch: monkeypatch.setattr(cache_mod, name, value)


#: Each fact of the environment the key covers, changed alone, and whether
#: it takes another slot: two interpreters or compiler settings sharing a
#: cache directory keep an entry each; a new engine or plugin replaces them.
ENVIRONMENT_CHANGES: dict[str, tuple[Callable[[pytest.MonkeyPatch], None], bool]] = {
    "cache layout": (_patched("CACHE_LAYOUT", cache_mod.CACHE_LAYOUT + 1), False),
    "plugin version": (
        lambda mp: mp.setattr(pytest_bytecode, "__version__", "999.0", raising=False),
        False,
    ),
    "compiler settings (-O, -OO, -X no_debug_ranges)": (_patched("_fingerprint", "0" * 16), True),
    "engine source": (_patched("_code_fingerprint", "0" * 16), False),
    "Python micro version (one entry per cache tag, as __pycache__)": (
        lambda mp: mp.setattr(cache_mod.versions, "PY_VERSION", "3.99.0"),
        False,
    ),
    "implementation": (
        lambda mp: mp.setattr(sys, "implementation", types.SimpleNamespace(cache_tag="other-399")),
        True,
    ),
}


@pytest.mark.parametrize(
    "change,new_slot", ENVIRONMENT_CHANGES.values(), ids=ENVIRONMENT_CHANGES.keys()
)
def test_each_fact_of_the_environment_changes_the_key(
    monkeypatch: pytest.MonkeyPatch, change: Callable[[pytest.MonkeyPatch], None], new_slot: bool
) -> None:
    before = key()
    change(monkeypatch)
    assert key() != before
    assert (slot() != before.split(".")[0]) is new_slot


def test_parts_cannot_run_into_each_other() -> None:
    """The parts are separated, so moving text from one to the next is another key."""
    assert key(SOURCE, "m.py", "plain", "r", "7") != key(SOURCE, "m.py", "plai", "nr", "7")
    assert key(SOURCE, "m.py", "plain", "r", "7") != key(SOURCE, "m.py", "plain", "", "r7")
    assert key(b"1\n", "m.py", "plain", "r", "7") != key(b"\n", "m.py", "plain", "r1", "7")


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
    assert slot() == before.split(".")[0]  # the entry is replaced, not kept beside


def test_a_given_plugin_version_is_the_installed_ones_stand_in() -> None:
    """A child process is given its run's version (no metadata read): the
    same version gives the same key, another another."""
    installed = cache_mod.InstrumentationCache(None, lambda _: None).key(*ARGS)
    given = cache_mod.InstrumentationCache(None, lambda _: None, pytest_bytecode.__version__)
    other = cache_mod.InstrumentationCache(None, lambda _: None, "999.0")
    assert given.key(*ARGS) == installed != other.key(*ARGS)
