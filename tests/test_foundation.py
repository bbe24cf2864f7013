"""The installed distribution: entry point, option group, CLI, version facts."""

from __future__ import annotations

import subprocess
import sys

import pytest

import pytest_bytecode
from pytest_bytecode import cli, versions


def test_help_lists_bytecode_group(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["bytecode coverage and bytecode assertions:"])


def test_plugin_is_registered_by_entry_point(pytestconfig: pytest.Config) -> None:
    assert pytestconfig.pluginmanager.has_plugin("bytecode")


def test_cli_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"pytest-bytecode {pytest_bytecode.__version__}"


def test_the_package_version_is_the_distributions() -> None:
    # pyproject.toml reads it from the package, which never reads its metadata.
    from importlib.metadata import version

    assert pytest_bytecode.__version__ == version("pytest-bytecode")


def test_cli_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    assert "usage: pytest-bytecode" in capsys.readouterr().out


@pytest.mark.subprocess
def test_python_dash_m(tmp_path: object) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pytest_bytecode", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.startswith("pytest-bytecode ")


def test_version_facts_match_interpreter() -> None:
    assert sys.version_info[:2] == versions.PY
    assert versions.PY in versions.SUPPORTED
    assert "{}.{}".format(*sys.version_info[:2]) == versions.PY_TAG
    assert hasattr((lambda: None).__code__, "co_exceptiontable") == versions.HAS_EXCEPTION_TABLE
    assert hasattr(sys, "monitoring") == versions.HAS_SYS_MONITORING


def test_instructions_hide_caches() -> None:
    def f(x: int) -> int:
        return x + len([x])

    names = [i.opname for i in versions.instructions(f)]
    assert "CACHE" not in names
    assert any(n.startswith(("BINARY_", "CALL")) for n in names)
    for name in names:
        assert versions.cache_entries(name) >= 0


def test_own_package_is_taken_off_the_rewrite_marks(pytestconfig: pytest.Config) -> None:
    """pytest marks every package of a ``pytest11`` distribution installed
    from a wheel for assertion rewriting, and where it cannot cache the result
    (``PYTHONDONTWRITEBYTECODE``, a read-only site-packages) compiles each
    marked module from source at every start.  The entry point takes its
    package off the marks (:func:`pytestcompat.leave_unrewritten`) before it
    imports the rest; another package's mark stays.  Asked through pytest's
    own hook, as the import system asks it (an editable install, like this
    checkout's, is not marked at all, so the hook is made here)."""
    import warnings

    from _pytest.assertion.rewrite import AssertionRewritingHook

    import pytest_bytecode.engine
    from pytest_bytecode import pytestcompat

    def rewrites(hook: AssertionRewritingHook, name: str, path: list[str]) -> bool:
        spec = hook.find_spec(name, path)
        return spec is not None and spec.loader is hook

    hook = AssertionRewritingHook(pytestconfig)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "already imported so cannot be rewritten"
        hook.mark_rewrite("pytest_bytecode", "tests_other_pkg")
    engine_path = list(pytest_bytecode.engine.__path__)
    sys.meta_path.insert(0, hook)
    try:
        assert rewrites(hook, "pytest_bytecode.engine.decode", engine_path)
        pytestcompat.leave_unrewritten("pytest_bytecode")
        assert not rewrites(hook, "pytest_bytecode.engine.decode", engine_path)
        assert "tests_other_pkg" in hook._must_rewrite
    finally:
        sys.meta_path.remove(hook)


#: Annotations of module-level names whose outer type is a builtin, by name.
_BUILTIN_TYPES = {
    t.__name__: t for t in (bool, bytes, dict, float, frozenset, int, list, set, str, tuple)
}


def test_module_level_values_are_what_their_annotations_say() -> None:
    """Every annotated module-level name of the package whose annotation's
    outer type is a builtin (``frozenset[str]``, ``Final[dict[...]]``) holds
    a value of that type.  A runtime type checker's import hook that a test
    leaves in place (``beartype.claw.beartype_all()``) checks them when the
    run imports its report modules at its end: ``frozenset - dict.keys()`` is
    a ``set``, and a ``frozenset[str]`` holding one failed the run's report."""
    import importlib
    import pkgutil
    import re

    checked = 0
    for info in pkgutil.walk_packages(pytest_bytecode.__path__, "pytest_bytecode."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for name, annotation in vars(module).get("__annotations__", {}).items():
            text = annotation if isinstance(annotation, str) else repr(annotation)
            text = re.sub(r"^(?:typing\.)?(?:Final|ClassVar)\[(.*)\]$", r"\1", text)
            outer = _BUILTIN_TYPES.get(re.split(r"[\[ |]", text, maxsplit=1)[0])
            if outer is None or " | " in text or name not in vars(module):
                continue
            value = vars(module)[name]
            assert isinstance(value, outer), f"{info.name}.{name}: {text}, {type(value)}"
            checked += 1
    assert checked > 50
