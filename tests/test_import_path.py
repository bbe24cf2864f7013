"""A measured module behaves as an unmeasured one, on the path users run.

Each test runs pytest with ``--bytecode-cov`` through pytester (a subprocess
where interpreter state matters: ``-O``, import tracebacks, warnings), the
import hook, its loader and the instrumentation cache, and compares what the
code under test does, and what the report says, with the plain run.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import marshal
import os
import re
import shutil
import stat
import sys
import textwrap
import types
from pathlib import Path
from typing import Any

import pytest
from bc_helpers import load_json, make_project

from pytest_bytecode import cache as cache_mod
from pytest_bytecode import engine, importhook, pytestcompat
from pytest_bytecode.collector import Collector
from pytest_bytecode.sources import Selector


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def _report(pytester: pytest.Pytester, name: str = "bytecode-cov.json") -> Any:
    return json.loads((pytester.path / name).read_text())["files"]


def _instructions(code_objects: list[dict[str, Any]]) -> int:
    return sum(len(c["instructions"]) for c in code_objects)


def _counts(code: dict[str, Any]) -> list[int]:
    return [i["count"] for i in code["instructions"]]


def _all_covered(fdata: dict[str, Any]) -> bool:
    summary = fdata["summary"]
    return bool(summary["covered_instructions"] == summary["instructions"] > 0)


ANNOTATED = {
    "src/ann/__init__.py": """\
        import dataclasses

        def f(x: int, y: "list[str]") -> str:
            return str(x)

        @dataclasses.dataclass
        class Point:
            x: int
            y: float = 0.0
        """,
    "tests/test_ann.py": """\
        import typing
        import ann

        def test_annotations_are_objects():
            assert ann.f.__annotations__ == {"x": int, "y": "list[str]", "return": str}
            assert typing.get_type_hints(ann.Point) == {"x": int, "y": float}
            assert [f.type for f in ann.Point.__dataclass_fields__.values()] == [int, float]
        """,
}


def test_annotations_stay_objects(pytester: pytest.Pytester) -> None:
    """Compiled as importlib does: no ``from __future__`` inherited from the hook."""
    make_project(pytester, ANNOTATED)
    result = pytester.runpytest("--bytecode-cov=ann", "--bytecode-cov-report=json")
    result.assert_outcomes(passed=1)
    imported = _report(pytester)["src/ann/__init__.py"]["code_objects"]
    # The same file listed without being imported has the same instructions.
    pytester.runpytest(
        "--bytecode-cov=ann", "--bytecode-cov-report=json:listed.json", "-k", "nothing"
    )
    listed = _report(pytester, "listed.json")["src/ann/__init__.py"]["code_objects"]
    assert _instructions(imported) == _instructions(listed) > 0
    offsets = [[i["offset"] for i in c["instructions"]] for c in imported]
    assert offsets == [[i["offset"] for i in c["instructions"]] for c in listed]


OPTIMIZED = {
    "src/opt/__init__.py": """\
        def check():
            assert False, "asserted"
            return "ran"
        """,
    "tests/test_opt.py": """\
        import pytest
        import opt

        def test_asserts_follow_the_interpreter():
            if __debug__:
                with pytest.raises(AssertionError):
                    opt.check()
            else:
                assert opt.check() == "ran"
        """,
}


@pytest.mark.subprocess
def test_cache_keeps_optimization_levels_apart(pytester: pytest.Pytester) -> None:
    """A ``-O`` run never gets code compiled for a normal run, nor the reverse."""
    make_project(pytester, OPTIMIZED)
    args = ["-m", "pytest", "--bytecode-cov=opt", "--debug=debug.log", "-p", "no:randomly"]
    hits = []
    for flags in ([], ["-O"], [], ["-O"], ["-OO"]):
        result = pytester.run(sys.executable, *flags, *args)
        assert result.ret == 0, (flags, str(result.stdout))
        hits.append("cache hit for opt" in (pytester.path / "debug.log").read_text())
    assert hits == [False, False, True, True, False]
    folder = pytester.path / ".pytest_cache" / "d" / "pytest-bytecode"
    entries = [p for p in folder.glob("*.bin") if not p.stem.endswith("-plans")]
    assert len(entries) == 3  # plain, -O, -OO
    assert len(list(folder.glob("*-plans.bin"))) == 3  # each with its read plans


def test_rewrite_settings_follow_the_pass_hook(pytester: pytest.Pytester) -> None:
    settings = []
    for value in ("false", "true"):
        pytester.makeini(f"[pytest]\nenable_assertion_pass_hook = {value}\n")
        config = pytester.parseconfig()
        rewrite, key = pytestcompat.rewriter(config, pytest.fail)
        assert rewrite is not None
        settings.append(key)
    assert settings[0] != settings[1]
    assert pytest.__version__ in settings[0]


LOADER = {
    "src/pkg/__init__.py": "",
    "src/pkg/data.txt": "payload\n",
    "src/pkg/mod.py": """\
        import sys

        def g():
            return 1

        if __name__ == "__main__":
            sys.stdout.write(f"main ran {g()}\\n")
        """,
    "tests/test_loader.py": """\
        import importlib.abc, importlib.resources, inspect, pkgutil, runpy
        import pkg.mod
        from pytest_bytecode import engine

        def test_loader_does_what_source_file_loader_does(capsys):
            loader = pkg.mod.__loader__
            for abc in (importlib.abc.InspectLoader, importlib.abc.ExecutionLoader,
                        importlib.abc.ResourceLoader):
                assert isinstance(loader, abc)
            code = loader.get_code("pkg.mod")
            assert engine.original_code(code) is not code  # the instrumented code
            assert "def g" in loader.get_source("pkg.mod")
            assert loader.is_package("pkg.mod") is False
            assert loader.get_filename("pkg.mod") == pkg.mod.__file__
            assert "def g" in inspect.getsource(pkg.mod.g)
            assert importlib.resources.files("pkg").joinpath("data.txt").read_text() == "payload\\n"
            assert pkgutil.get_data("pkg", "data.txt") == b"payload\\n"
            runpy.run_module("pkg.mod", run_name="__main__")
            assert capsys.readouterr().out == "main ran 1\\n"
        """,
}


@pytest.mark.subprocess
def test_loader_is_complete(pytester: pytest.Pytester) -> None:
    make_project(pytester, LOADER)
    result = pytester.runpytest_subprocess(
        "--bytecode-cov=pkg", "--bytecode-cov-report=json", "-W", "error::DeprecationWarning"
    )
    result.assert_outcomes(passed=1)
    mod = _report(pytester)["src/pkg/mod.py"]
    main_block = [c for c in mod["code_objects"] if c["name"] == "<module>"]
    assert len(main_block) == 1  # one entry although the file ran three times
    assert _all_covered(mod)  # runpy ran the __main__ branch


RELOAD = {
    "src/rel/__init__.py": "",
    "src/rel/mod.py": """\
        def f(x):
            if x:
                return 1
            return 2
        """,
    "tests/test_reload.py": """\
        import importlib, importlib.util, sys
        import rel.mod

        def test_reload_and_alias():
            assert rel.mod.f(1) == 1
            again = importlib.reload(rel.mod)
            assert again.f(0) == 2
            spec = importlib.util.spec_from_file_location("alias_mod", rel.mod.__file__)
            alias = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(alias)
            assert alias.f(1) == 1
        """,
}


@pytest.mark.subprocess
def test_a_file_loaded_three_times_is_one_entry(pytester: pytest.Pytester) -> None:
    make_project(pytester, RELOAD)
    result = pytester.runpytest_subprocess("--bytecode-cov=rel", "--bytecode-cov-report=json")
    result.assert_outcomes(passed=1)
    report = _report(pytester)
    assert sorted(report) == ["src/rel/__init__.py", "src/rel/mod.py"]
    mod = report["src/rel/mod.py"]
    assert [c["qualname"] for c in mod["code_objects"]] == ["<module>", "f"]
    f = mod["code_objects"][1]
    assert max(_counts(f)) == 3  # f ran once per load, each load counted
    assert _all_covered(mod)
    module = mod["code_objects"][0]
    assert set(_counts(module)) == {3}  # the module body ran three times


@pytest.mark.subprocess
def test_a_file_changed_between_loads_reports_the_latest(pytester: pytest.Pytester) -> None:
    files = dict(RELOAD)
    files["tests/test_reload.py"] = """\
        import importlib, pathlib
        import rel.mod

        def test_edit_and_reload():
            assert rel.mod.f(1) == 1
            path = pathlib.Path(rel.mod.__file__)
            path.write_text("def f(x):\\n    return 3\\n")
            importlib.invalidate_caches()
            assert importlib.reload(rel.mod).f(1) == 3
        """
    make_project(pytester, files)
    result = pytester.runpytest_subprocess("--bytecode-cov=rel", "--bytecode-cov-report=json")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*src/rel/mod.py changed between two loads*latest version*"])
    mod = _report(pytester)["src/rel/mod.py"]
    assert [c["qualname"] for c in mod["code_objects"]] == ["<module>", "f"]
    assert _all_covered(mod)


INSIDE = {
    "src/inpkg/__init__.py": '''\
        """Doctested package.

        >>> double(2)
        4
        """

        def double(x):
            return 2 * x
        ''',
    "src/inpkg/test_inside.py": """\
        import inpkg

        def test_double():
            assert inpkg.double(3) == 6
        """,
}


@pytest.mark.subprocess
def test_importlib_mode_with_doctests_and_tests_inside_the_package(
    pytester: pytest.Pytester,
) -> None:
    make_project(pytester, INSIDE)
    result = pytester.runpytest_subprocess(
        "--import-mode=importlib",
        "--doctest-modules",
        "--bytecode-cov=inpkg",
        "--bytecode-cov-report=json",
        "src/inpkg",
    )
    result.assert_outcomes(passed=2)
    init = _report(pytester)["src/inpkg/__init__.py"]
    assert _all_covered(init)


BROKEN = {
    "src/broken/__init__.py": "",
    "src/broken/syntax.py": "x = 1\ndef g(:\n    pass\n",
    "src/broken/raiser.py": """\
        def boom():
            raise ValueError("at import")

        boom()
        """,
    "tests/test_tb.py": """\
        import importlib, sys, traceback

        def _text():
            return "".join(traceback.format_exc())

        def test_tracebacks():
            out = []
            try:
                import broken.syntax
            except SyntaxError:
                out.append(_text())
            try:
                import broken.raiser
            except ValueError:
                out.append(_text())
            for name in ("broken.syntax", "broken.raiser"):
                sys.modules.pop(name, None)
                try:
                    importlib.import_module(name)
                except Exception:
                    out.append(_text())
            with open("tracebacks.txt", "w") as fh:
                fh.write("\\n=====\\n".join(out))
        """,
}


@pytest.mark.subprocess
def test_import_tracebacks_read_as_without_the_plugin(pytester: pytest.Pytester) -> None:
    make_project(pytester, BROKEN)
    texts = []
    for args in ([], ["--bytecode-cov=broken"]):
        pytester.runpytest_subprocess(*args).assert_outcomes(passed=1)
        texts.append((pytester.path / "tracebacks.txt").read_text())
    plain, measured = texts
    assert "pytest_bytecode" not in measured
    assert measured.count("File ") == plain.count("File ")
    # Frames of importlib's own carry other line numbers (see Known differences).
    frozen = re.compile(r'(File "<frozen [^"]+>"), line \d+')
    assert frozen.sub(r"\1", measured) == frozen.sub(r"\1", plain)
    first_two = "\n=====\n".join(plain.split("\n=====\n")[:2])
    assert first_two in measured  # a plain import statement: identical text


def _cache_dir(pytester: pytest.Pytester) -> Path:
    return pytester.path / ".pytest_cache" / "d" / "pytest-bytecode"


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX ownership only")
@pytest.mark.parametrize("problem", ["group-writable", "foreign-owner"])
@pytest.mark.subprocess
def test_untrusted_cache_directory_is_not_used(pytester: pytest.Pytester, problem: str) -> None:
    make_project(pytester)
    args = ["--bytecode-cov=pkg", "--debug=debug.log", "--bytecode-cov-report=json"]
    pytester.runpytest_subprocess(*args).assert_outcomes(passed=1)
    first = _report(pytester)
    directory = _cache_dir(pytester)
    assert list(directory.glob("*.bin"))
    if problem == "group-writable":
        directory.chmod(directory.stat().st_mode | stat.S_IWGRP)
    else:
        if os.getuid() != 0:
            pytest.skip("changing a directory's owner needs root")  # CI runs as root
        os.chown(directory, 65534, -1)
    result = pytester.runpytest_subprocess(*args)
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(["*bytecode-cov-cache-untrusted*not used*"])
    log = (pytester.path / "debug.log").read_text()
    assert "cache hit" not in log
    assert _report(pytester) == first


def test_cache_directory_made_private(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    old = os.umask(0o002)
    try:
        pytester.runpytest("--bytecode-cov=pkg").assert_outcomes(passed=1)
    finally:
        os.umask(old)
    mode = stat.S_IMODE(_cache_dir(pytester).stat().st_mode)
    assert mode & (stat.S_IWGRP | stat.S_IWOTH) == 0
    pytester.runpytest("--bytecode-cov=pkg", "--debug=debug.log").assert_outcomes(passed=1)
    assert "cache hit for" in (pytester.path / "debug.log").read_text()


def test_engine_failure_leaves_the_module_unmeasured(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_bytecode import engine

    def broken(code: Any, **options: Any) -> Any:
        raise RuntimeError("engine fault")

    monkeypatch.setattr(engine, "instrument", broken)
    make_project(pytester)
    result = pytester.runpytest("--bytecode-cov=pkg", "-p", "no:cacheprovider")
    # pkg and pkg.mod, which the test imports; and nothing was measured at all
    result.assert_outcomes(passed=1, warnings=3)
    result.stdout.fnmatch_lines(
        [
            "*bytecode-cov-not-instrumented: pkg*engine fault*",
            "*no instructions were measured*(no-data-collected)*",
            "*Couldn't list Python file 'src/pkg/other.py': the engine failed on it*",
        ]
    )


CUSTOM = {
    "src/cust/__init__.py": "",
    "src/cust/mod.py": "def f():\n    return 5\n",
    "tests/test_custom.py": """\
        import importlib.abc, importlib.util, pathlib
        import cust

        class OwnLoader(importlib.abc.Loader):
            def exec_module(self, module):
                source = pathlib.Path(module.__file__).read_text()
                exec(compile(source, module.__file__, "exec"), module.__dict__)

        def test_own_loader():
            path = pathlib.Path(cust.__file__).with_name("mod.py")
            spec = importlib.util.spec_from_file_location("cust.mod", path, loader=OwnLoader())
            module = importlib.util.module_from_spec(spec)
            import sys
            sys.modules["cust.mod"] = module
            spec.loader.exec_module(module)
            assert module.f() == 5
        """,
}


@pytest.mark.subprocess
def test_a_module_no_probe_can_reach_is_named(pytester: pytest.Pytester) -> None:
    make_project(pytester, CUSTOM)
    result = pytester.runpytest_subprocess("--bytecode-cov=cust")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*module cust.mod (*mod.py) is under SOURCE but was loaded by OwnLoader*"
            "(module-not-measured)"
        ]
    )


@pytest.mark.subprocess
@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["in-process", "xdist"])
def test_a_source_file_an_extension_shadows_is_named(
    pytester: pytest.Pytester, workers: list[str]
) -> None:
    """A ``.py`` file beside an extension module of the same name (a package
    built with mypyc or Cython) never runs: the import takes the extension.
    It is reported as never executed, as coverage.py does, and the run says
    why; with xdist too, where the controller imports nothing."""
    spec = importlib.util.find_spec("_json")
    origin = getattr(spec, "origin", None) or ""
    suffix = next((s for s in importlib.machinery.EXTENSION_SUFFIXES if origin.endswith(s)), None)
    if suffix is None:
        pytest.skip(f"_json is not an extension file here ({origin!r}; Pyodide builds it in)")
    make_project(
        pytester,
        {
            "src/fast/__init__.py": "",
            "src/fast/_json.py": "def scanstring(s, end):\n    return s[end:], len(s)\n",
            "src/fast/plain.py": "def f():\n    return 1\n",
            "tests/test_fast.py": """\
                import fast._json, fast.plain

                def test_the_extension_is_imported():
                    assert not fast._json.__file__.endswith(".py")
                    assert fast._json.scanstring('"a"', 1) == ("a", 3)
                    assert fast.plain.f() == 1
                """,
        },
    )
    shutil.copy(origin, pytester.path / "src" / "fast" / f"_json{suffix}")
    result = pytester.runpytest_subprocess(
        "--bytecode-cov=fast", "--bytecode-cov-report=json", *workers
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            f"bytecode coverage: src/fast/_json.py never runs: Python imports the compiled "
            f"extension _json{suffix} beside it, which cannot be measured (module-not-measured)"
        ]
    )
    assert "plain.py never runs" not in result.stdout.str()
    files = _report(pytester)
    assert files["src/fast/_json.py"]["summary"]["covered_instructions"] == 0
    assert files["src/fast/_json.py"]["summary"]["instructions"] > 0
    assert files["src/fast/plain.py"]["summary"]["covered_instructions"] > 0


def _key(cache: cache_mod.InstrumentationCache, source: bytes, mode: str = "plain") -> str:
    return cache.key(source, "m.py", mode, "rules", "7")


def test_cache_entries_keep_the_excluded_lines(tmp_path: Path) -> None:
    cache = cache_mod.InstrumentationCache(tmp_path, lambda _: None)
    key = _key(cache, b"x = 1\n")
    cache.put(key, b"payload", {3, 70000, 1}, {5, 2})
    assert cache.get(key) == (b"payload", [1, 3, 70000], [2, 5])
    (path,) = tmp_path.glob("*.bin")
    raw = path.read_bytes()
    for damaged in (raw[:-1], raw[: len(cache_mod.MAGIC) + 65], raw + b"x", b"x" + raw):
        path.write_bytes(damaged)
        assert cache.get(key) is None
        assert not path.exists()  # a damaged entry is removed


def test_a_new_version_of_a_file_replaces_its_entry(tmp_path: Path) -> None:
    """One entry (and its plans) per file and way of compiling it, as in
    ``__pycache__``: an edit replaces the entry, the old one is a miss and is
    never served; another compile mode keeps an entry of its own."""
    messages: list[str] = []
    cache = cache_mod.InstrumentationCache(tmp_path, messages.append)
    old, new = _key(cache, b"x = 1\n"), _key(cache, b"x = 2\n")
    cache.put(old, b"old code", {1})
    cache.put(old, b"old plans", part="-plans")
    assert cache.get(new) is None and cache.get(new, "-plans") is None
    assert any("for another version of the file" in m for m in messages)
    assert cache.get(old) == (b"old code", [1], [])  # a miss removes nothing
    cache.put(new, b"new code", {2})
    assert cache.get(new) == (b"new code", [2], [])
    assert cache.get(old) is None
    assert cache.get(new, "-plans") is None  # the old plans are never paired with new code
    cache.put(new, b"new plans", part="-plans")
    assert cache.get(new, "-plans") == (b"new plans", [], [])
    assert len(list(tmp_path.glob("*.bin"))) == 2
    rewritten = _key(cache, b"x = 2\n", "rewrite")
    cache.put(rewritten, b"rewritten code")
    assert cache.get(rewritten) == (b"rewritten code", [], [])
    assert cache.get(new) == (b"new code", [2], [])
    assert len(list(tmp_path.glob("*.bin"))) == 3


def test_worked_out_plans_are_stored_over_their_own_code_only(tmp_path: Path) -> None:
    """Plans worked out for want of stored ones are stored again, unless the
    slot's code has become another version's meanwhile (the file loaded
    again), and once: a second handle of the same entry (another xdist
    worker's) finds them stored."""
    messages: list[str] = []
    cache = cache_mod.InstrumentationCache(tmp_path / "cache", messages.append)
    measurement = importhook.Measurement(
        Selector(str(tmp_path)), Collector(str(tmp_path)), cache, messages.append, messages.append
    )

    class Handle:
        def __init__(self, plans: bytes) -> None:
            self.plans = plans

        def dumps_plans(self) -> bytes:
            return self.plans

    old, new = _key(cache, b"x = 1\n"), _key(cache, b"x = 2\n")
    cache.put(old, b"old code")
    assert measurement._plans_from_cache(old, "m.py", Handle(b"old plans")) is None
    cache.put(new, b"new code")  # the file was loaded again
    measurement.store_worked_out_plans()
    assert cache.get(new, "-plans") is None and cache.get(old, "-plans") is None
    assert measurement._plans_from_cache(new, "m.py", Handle(b"new plans")) is None
    assert measurement._plans_from_cache(new, "m.py", Handle(b"same plans again")) is None
    measurement.store_worked_out_plans()
    assert cache.get(new, "-plans") == (b"new plans", [], [])
    assert sum("stored again" in m for m in messages) == 1


def test_the_last_snapshot_releases_each_handle_after_storing_its_plans(
    tmp_path: Path,
) -> None:
    """The run's last read hands each handle, once read, to
    read_for_the_last_time: the plans it worked out for want of stored
    ones are stored first, then it is released; the counts are those of an
    ordinary snapshot."""
    messages: list[str] = []
    cache = cache_mod.InstrumentationCache(tmp_path / "cache", messages.append)
    collector = Collector(str(tmp_path))
    measurement = importhook.Measurement(
        Selector(str(tmp_path)), collector, cache, messages.append, messages.append
    )
    handles = []
    for name, body in (("a.py", b"def f(x):\n    return x or 1\n"), ("b.py", b"y = 2\n")):
        handle = engine.loads(engine.instrument(compile(body, name, "exec")).dumps(plans=False))
        key = cache.key(body, name, "plain", "rules", "7")
        cache.put(key, b"code")
        handle.supply_plans(
            lambda key=key, name=name, handle=handle: measurement._plans_from_cache(
                key, name, handle
            )
        )
        exec(handle.code, {})
        collector.register(str(tmp_path / name), [handle], source=body)
        handles.append((key, handle))
    expected = collector.snapshot()  # reads (and works out) every plan
    released: list[object] = []

    def last(handle: object) -> None:
        assert all(cache.holds(key, "-plans") is (h in released) for key, h in handles)
        released.append(handle)
        measurement.read_for_the_last_time(handle)

    assert collector.snapshot(last=last) == expected
    assert released == [h for _, h in handles]
    assert all(cache.get(key, "-plans") is not None for key, _ in handles)
    for _, handle in handles:
        with pytest.raises(RuntimeError):
            handle.counts()
    measurement.store_worked_out_plans()  # nothing left to store
    assert sum("stored again" in m for m in messages) == 2


def _measuring_in_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, messages: list[str]
) -> importhook.Measurement:
    """A measurement of the files in ``tmp_path``, no ``.pyc`` written."""
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    folder = os.path.normcase(os.path.realpath(tmp_path))
    return importhook.Measurement(
        Selector(folder, dirs=(folder,)),
        Collector(folder),
        cache_mod.InstrumentationCache(tmp_path / "cache", messages.append),
        messages.append,
        messages.append,
    )


def _import_with(
    measurement: importhook.Measurement, loader: importlib.machinery.SourceFileLoader
) -> types.ModuleType:
    """``loader``'s module, executed by it under ``measurement``'s hook."""
    uninstall = importhook.install(measurement)
    try:
        spec = importlib.util.spec_from_loader(loader.name, loader)
        assert spec is not None
        module = importlib.util.module_from_spec(spec)
        loader.exec_module(module)
    finally:
        uninstall()
    return module


def test_a_file_changed_between_the_two_reads_runs_its_new_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A measured import reads the file twice: in the plain ``get_code``,
    whose compile it reuses, and for the bytes the cache key hashes.  If
    the two differ, the code is compiled from the second (what is cached
    and reported), not taken from the plain import's compile."""
    messages: list[str] = []
    measurement = _measuring_in_process(tmp_path, monkeypatch, messages)
    (tmp_path / "changing.py").write_text("value = 1\n")

    class Changing(importlib.machinery.SourceFileLoader):
        reads = 0

        def get_data(self, path: str) -> bytes:
            data = super().get_data(path)
            if path.endswith(".py"):
                Changing.reads += 1
                data = data.replace(b"1", str(Changing.reads).encode())
            return data

    for expected_reads in (2, 4):  # each import reads the file twice
        loader = Changing("changing", str(tmp_path / "changing.py"))
        module = _import_with(measurement, loader)
        assert Changing.reads == expected_reads
        assert module.value == expected_reads
        assert "source_to_code" not in vars(loader)  # the stand-in is gone
    assert sum("instrument changing" in m for m in messages) == 2
    assert measurement.loaded == {str(tmp_path / "changing.py")}


def test_a_cold_import_instruments_the_plain_compile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In process (Pyodide too, where 3.15's ``source_to_code`` takes the
    module's name): without a ``.pyc`` the source is compiled once, by the
    plain ``get_code`` (through the stand-in), and that code is measured."""
    import builtins

    measurement = _measuring_in_process(tmp_path, monkeypatch, [])
    (tmp_path / "oncemod.py").write_text("def f():\n    return 3\n\nvalue = f()\n")
    compiles: list[dict[str, Any]] = []
    real_compile = builtins.compile

    def counting_compile(source: Any, filename: Any, *args: Any, **kwargs: Any) -> Any:
        if str(filename).endswith("oncemod.py"):
            compiles.append(kwargs)
        return real_compile(source, filename, *args, **kwargs)

    monkeypatch.setattr(builtins, "compile", counting_compile)
    path = str(tmp_path / "oncemod.py")
    module = _import_with(measurement, importlib.machinery.SourceFileLoader("oncemod", path))
    assert module.value == 3
    assert len(compiles) == 1
    if sys.version_info >= (3, 15):
        assert compiles[0]["module"] == "oncemod"  # as Python's own source_to_code
    assert module.f.__code__ is not engine.original_code(module.f.__code__)  # measured


def test_a_loader_that_takes_no_attributes_imports_as_ever(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The measured import sets its stand-in ``source_to_code`` on the
    loader instance while Python's ``get_code`` runs; a loader class that
    refuses attributes gets its module all the same, compiled again."""
    measurement = _measuring_in_process(tmp_path, monkeypatch, [])
    (tmp_path / "frozenmod.py").write_text("VALUE = 7\n")

    class Frozen(importlib.machinery.SourceFileLoader):
        def __init__(self, fullname: str, path: str) -> None:
            object.__setattr__(self, "name", fullname)
            object.__setattr__(self, "path", path)

        def __setattr__(self, name: str, value: object) -> None:
            raise AttributeError(f"{name}: frozen")

    loader = Frozen("frozenmod", str(tmp_path / "frozenmod.py"))
    module = _import_with(measurement, loader)
    assert module.VALUE == 7
    assert "source_to_code" not in vars(loader)
    assert measurement.loaded == {str(tmp_path / "frozenmod.py")}


@pytest.mark.subprocess
def test_a_fresh_import_of_functools_is_measured_and_cached(pytester: pytest.Pytester) -> None:
    """A test that imports ``functools`` afresh (as CPython's test_functools
    does) runs the hook in the middle of that import, where ``functools``
    in ``sys.modules`` is the half-made module: storing the instrumented
    code must not import from it (the engine's cache layer is loaded with
    the hook).  Cold, the entry is stored; warm, it is read."""
    pytester.makepyfile(
        test_fresh="""
        import sys

        def test_fresh_functools():
            saved = sys.modules.pop("functools")
            try:
                import functools as fresh
            finally:
                sys.modules["functools"] = saved
            assert fresh is not saved
            assert fresh.reduce(lambda a, b: a + b, [1, 2, 3]) == 6
        """
    )
    args = ["--bytecode-cov=functools", "--bytecode-cov-report=", "--debug=debug.log"]
    for tag in ("cold", "warm"):
        result = pytester.runpytest_subprocess(*args, "-p", "no:randomly")
        result.assert_outcomes(passed=1)
        log = (pytester.path / "debug.log").read_text()
        assert "cache store for" not in log, tag  # "... failed: <why>"
        assert "instrument functools" in log or tag == "warm", tag
        assert ("cache hit for functools" in log) is (tag == "warm"), tag
        folder = pytester.path / ".pytest_cache" / "d" / "pytest-bytecode"
        assert list(folder.glob("*.bin")), tag


TRANSFORMING_LOADER = """
    import importlib.machinery
    import importlib.util
    import json
    import os

    PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pkg", "__init__.py")

    class Transforming(importlib.machinery.SourceFileLoader):
        \"\"\"Compiles a transformed source, as beartype.claw's loader does.\"\"\"

        def source_to_code(self, data, path, *, _optimize=-1):
            data = data.replace(b'"original"', b'"transformed"')
            return compile(data, path, "exec", dont_inherit=True, optimize=_optimize)

    class Optimizing(importlib.machinery.SourceFileLoader):
        \"\"\"Compiles with -OO's level whatever the interpreter's.\"\"\"

        def source_to_code(self, data, path, *, _optimize=-1):
            return super().source_to_code(data, path, _optimize=2)

    def load(name, loader_class):
        spec = importlib.util.spec_from_file_location(name, PATH, loader=loader_class(name, PATH))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    def record(name, module):
        with open("seen.txt", "a") as out:
            out.write(json.dumps([name, module.f(), module.g.__doc__]) + "\\n")

    def test_plain():
        import pkg

        record("plain", pkg)

    def test_transformed():
        record("transformed", load("pkg_t", Transforming))

    def test_optimized():
        record("optimized", load("pkg_o", Optimizing))

    def test_instance():
        loader = importlib.machinery.SourceFileLoader("pkg_i", PATH)
        loader.source_to_code = Transforming.source_to_code.__get__(loader)
        spec = importlib.util.spec_from_file_location("pkg_i", PATH, loader=loader)
        module = importlib.util.module_from_spec(spec)
        loader.exec_module(module)
        record("instance", module)
"""


@pytest.mark.subprocess
@pytest.mark.parametrize(
    ("order", "pyc"),
    [("plain-first", False), ("plain-first", True), ("own-loader-first", False)],
    ids=["plain-first", "plain-first-pyc", "own-loader-first"],
)
def test_a_loader_that_compiles_its_own_way_is_measured_as_it_compiles(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, order: str, pyc: bool
) -> None:
    """A ``SourceFileLoader`` subclass with a ``source_to_code`` of its own
    (a source transformer, or another optimisation level), or a loader given
    one of its own, runs the code its own ``get_code`` makes, measured, cold
    and warm, whichever import of the same file came first: such code is not
    cached, and the plain import's entry is not served to it.  What each
    load runs is the plain run's: a transformed module where no ``.pyc`` is
    written, and the plain import's
    ``.pyc`` read by the other loaders where one is (as in plain Python).
    (The own loader's ``.pyc``, where it writes one first, would be read by
    the plain import in plain Python: a known difference, user guide.)"""
    if pyc:
        monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    else:
        monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    _write(
        pytester.path,
        {"pkg/__init__.py": 'def f():\n    return "original"\n\ndef g():\n    """Said."""\n'},
    )
    test = textwrap.dedent(TRANSFORMING_LOADER)
    if order == "own-loader-first":  # pytest runs a module's tests in file order
        head, plain, rest = re.split(r"(?m)^(def test_plain\(\):\n(?:    .*\n|\n)*?)(?=def )", test)
        test = head + rest + "\n\n" + plain
    (pytester.path / "test_loaders.py").write_text(test)
    seen = {}
    for tag, args in [
        ("plain", []),
        ("cold", ["--bytecode-cov=pkg", "--bytecode-cov-report=json:c.json"]),
        ("warm", ["--bytecode-cov=pkg", "--bytecode-cov-report=json:c.json"]),
    ]:
        shutil.rmtree(pytester.path / "pkg" / "__pycache__", ignore_errors=True)
        (pytester.path / "seen.txt").unlink(missing_ok=True)
        result = pytester.runpytest_subprocess("-p", "no:randomly", *args)
        result.assert_outcomes(passed=4)
        seen[tag] = (pytester.path / "seen.txt").read_text()
        if tag != "plain":
            f = next(
                c
                for c in _report(pytester, "c.json")["pkg/__init__.py"]["code_objects"]
                if c["qualname"] == "f"
            )
            assert _counts(f) == [4] * len(_counts(f)), tag  # four loads, each measured
    expected = {
        "plain": ["original", "Said."],
        "transformed": ["original" if pyc else "transformed", "Said."],
        "optimized": ["original", "Said." if pyc else None],
        "instance": ["original" if pyc else "transformed", "Said."],
    }
    names = ["plain", "transformed", "optimized", "instance"]
    if order == "own-loader-first":
        names = names[1:] + names[:1]
    assert [json.loads(line) for line in seen["plain"].splitlines()] == [
        [name, *expected[name]] for name in names
    ]
    assert seen["cold"] == seen["plain"]
    assert seen["warm"] == seen["plain"]
    folder = pytester.path / ".pytest_cache" / "d" / "pytest-bytecode"
    assert len(list(folder.glob("*-plans.bin"))) <= 1  # the plain import's entry alone


@pytest.mark.subprocess
def test_line_events_of_a_measured_module_are_the_plain_ones(pytester: pytest.Pytester) -> None:
    """``sys.settrace`` events of a measured module's frames, through the
    import hook and the cache (cold, then warm), equal those of the plain
    run: here the ends of ``async for`` loops, which on 3.12 gave one more
    line event each."""
    from test_engine_trace_events import ASYNC_FOR

    _write(pytester.path, {"pkg/__init__.py": "", "pkg/loops.py": ASYNC_FOR})
    pytester.makepyfile(
        test_events="""
        import json
        import sys

        from pkg import loops

        def test_events():
            seen = []

            def trace(frame, event, arg):
                if frame.f_code.co_filename == loops.__file__:
                    seen.append((event, frame.f_code.co_name, frame.f_lineno))
                return trace

            sys.settrace(trace)
            try:
                loops.main()
            finally:
                sys.settrace(None)
            with open("events.json", "w") as out:
                json.dump(seen, out)
        """
    )
    runs = {}
    for tag, args in [
        ("plain", []),
        ("cold", ["--bytecode-cov=pkg"]),
        ("warm", ["--bytecode-cov=pkg"]),
    ]:
        result = pytester.runpytest_subprocess("-p", "no:randomly", *args)
        result.assert_outcomes(passed=1)
        runs[tag] = json.loads((pytester.path / "events.json").read_text())
    assert ["line", "loops", 19] in runs["plain"]  # it ran the loops
    assert runs["cold"] == runs["plain"]
    assert runs["warm"] == runs["plain"]


def test_entries_of_the_old_layout_are_removed_once(tmp_path: Path) -> None:
    """Before layout 5 every key had a file of its own that no run removed:
    the first run of this layout removes them, and only them."""
    old = [f"{'ab' * 32}.bin", f"{'cd' * 32}-plans.bin"]
    kept = ["notes.txt", f"{'ef' * 32}.txt", f".{'ab' * 32}.bin.x1.tmp"]
    for name in old + kept:
        (tmp_path / name).write_bytes(b"x")
    writer = cache_mod.InstrumentationCache(tmp_path, lambda _: None)
    key = _key(writer, b"x = 1\n")
    writer.put(key, b"code")  # an entry of this layout, code and plans
    writer.put(key, b"plans", part="-plans")
    kept += [p.name for p in tmp_path.glob("*.bin") if p.name not in old]
    assert len(kept) == 5
    cache = cache_mod.InstrumentationCache(tmp_path, lambda _: None)
    assert cache.untrusted() is None
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*kept, "layout-5"])
    assert cache.get(key) == (b"code", [], []) and cache.get(key, "-plans") == (b"plans", [], [])
    (tmp_path / old[0]).write_bytes(b"x")  # swept already: not looked for again
    assert cache_mod.InstrumentationCache(tmp_path, lambda _: None).untrusted() is None
    assert (tmp_path / old[0]).exists()


def test_a_cache_directory_that_cannot_be_looked_into_fails_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error of the file system while looking for old entries is traced,
    never raised into the import of a measured module."""
    messages: list[str] = []
    cache = cache_mod.InstrumentationCache(tmp_path, messages.append)

    def exists(path: Path, **_: object) -> bool:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(Path, "exists", exists)
    assert cache.untrusted() is None
    assert any("removing old cache entries" in m and "Permission denied" in m for m in messages)


@pytest.mark.subprocess
def test_editing_a_measured_file_keeps_the_cache_size(pytester: pytest.Pytester) -> None:
    """Through the plugin: each edit of a measured module is measured as
    edited, and its cache entries are replaced, not added to."""
    make_project(pytester)
    args = ["--bytecode-cov=pkg", "--bytecode-cov-report=json", "--debug=debug.log"]
    mod = pytester.path / "src" / "pkg" / "mod.py"
    original = mod.read_text()
    test = pytester.path / "tests" / "test_mod.py"
    names = []
    for value in ("pos", "positive", "plus", "positive"):
        mod.write_text(original.replace('"pos"', repr(value)))
        test.write_text(f"from pkg.mod import f\n\ndef test_f():\n    assert f(1) == {value!r}\n")
        pytester.runpytest_subprocess(*args).assert_outcomes(passed=1)
        assert "cache hit for pkg.mod " not in (pytester.path / "debug.log").read_text()
        names.append(sorted(p.name for p in _cache_dir(pytester).glob("*.bin")))
        report = _report(pytester)
        (mod_file,) = [name for name in report if name.endswith("mod.py")]
        assert report[mod_file]["summary"]["covered_instructions"] > 0
    pytester.runpytest_subprocess(*args).assert_outcomes(passed=1)
    assert "cache hit for pkg.mod " in (pytester.path / "debug.log").read_text()
    assert names[0] == names[1] == names[2] == names[3]
    assert len(names[0]) == 2 * 2  # pkg/__init__ and pkg.mod: code and plans


@pytest.mark.subprocess
@pytest.mark.subprocess
def test_measuring_what_importlib_metadata_imports(pytester: pytest.Pytester) -> None:
    """The cache key holds the plugin's version, which importlib.metadata
    reads (importing email, zipfile, csv, ...).  Read in the import hook at
    the first measured module, it imported email.parser in the middle of a
    measured import of email itself (3.10: an ImportError, every test lost).
    Cold and warm, measured email runs as unmeasured email does."""
    pytester.makepyfile(
        test_mail="""
        import email

        def test_parse():
            message = email.message_from_string("Subject: hi\\n\\nbody\\n")
            assert message["Subject"] == "hi"
        """
    )
    for _ in range(2):
        result = pytester.runpytest_subprocess(
            "--bytecode-cov=email", "--bytecode-cov-report=json", "-p", "no:randomly"
        )
        result.assert_outcomes(passed=1)
        report = json.loads((pytester.path / "bytecode-cov.json").read_text())
        parser = [f for f in report["files"] if f.replace(os.sep, "/").endswith("email/parser.py")]
        assert parser and report["files"][parser[0]]["summary"]["covered_instructions"] > 0


@pytest.mark.subprocess
def test_warm_cache_keeps_exclusions(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    args = ["--bytecode-cov=pkg", "--bytecode-cov-report=json", "--debug=debug.log"]
    pytester.runpytest_subprocess(*args).assert_outcomes(passed=1)
    cold = _report(pytester)
    pytester.runpytest_subprocess(*args).assert_outcomes(passed=1)
    assert "cache hit for pkg.mod" in (pytester.path / "debug.log").read_text()
    assert _report(pytester) == cold
    # Other exclusion rules: the entries are replaced, not served with their lines.
    (pytester.path / ".coveragerc").write_text("[report]\nexclude_also =\n    return .neg.\n")
    pytester.runpytest_subprocess(*args).assert_outcomes(passed=1)
    assert "cache hit for pkg.mod" not in (pytester.path / "debug.log").read_text()
    assert _report(pytester) != cold


@pytest.mark.subprocess
@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["in-process", "xdist"])
def test_warm_cache_reads_the_plans_stored_apart(
    pytester: pytest.Pytester, workers: list[str]
) -> None:
    """A module's read plans are an entry of their own, read when counts are;
    gone or damaged, they are worked out anew, and the counts are the same;
    and they are stored again, the same as the cold run stored them (by the
    xdist workers that read them too; only the controller writes the debug
    log)."""
    make_project(pytester)
    (pytester.path / "src" / "pkg" / "__init__.py").write_text("from pkg import other\n")
    args = ["--bytecode-cov=pkg", "--bytecode-cov-report=json", "--debug=debug.log", *workers]
    pytester.runpytest_subprocess(*args).assert_outcomes(passed=1)
    cold = _report(pytester)
    folder = pytester.path / ".pytest_cache" / "d" / "pytest-bytecode"
    plans = sorted(folder.glob("*-plans.bin"))
    assert len(plans) == 3
    assert all(p.with_name(p.name.replace("-plans", "")).exists() for p in plans)
    written = {path: path.stat().st_mtime_ns for path in plans}
    pytester.runpytest_subprocess(*args).assert_outcomes(passed=1)
    log = (pytester.path / "debug.log").read_text() if not workers else ""
    assert workers or ("cache hit for pkg.mod" in log and "no stored read plans" not in log)
    assert _report(pytester) == cold
    assert {path: path.stat().st_mtime_ns for path in plans} == written  # read, not written

    def plan_states(path: Path) -> object:  # marshal's bytes may differ, not what they hold
        return marshal.loads(path.read_bytes()[len(cache_mod.MAGIC) + 64 + 8 :])

    def digest(path: Path) -> bytes:
        return path.read_bytes()[len(cache_mod.MAGIC) : len(cache_mod.MAGIC) + 32]

    def code_of(path: Path) -> Path:
        return path.with_name(path.name.replace("-plans", ""))

    stored = {path: plan_states(path) for path in plans}
    # Gone, damaged, and another version's (a digest that is not the code's).
    broken = {"gone": plans[0::3], "damaged": plans[1::3], "another version's": plans[2::3]}
    for path in broken["gone"]:
        path.unlink()
    for path in broken["damaged"]:
        raw = bytearray(path.read_bytes())
        raw[-1] ^= 0xFF
        path.write_bytes(bytes(raw))
    for path in broken["another version's"]:
        raw = bytearray(path.read_bytes())
        raw[len(cache_mod.MAGIC)] ^= 0xFF
        path.write_bytes(bytes(raw))
    pytester.runpytest_subprocess(*args).assert_outcomes(passed=1)
    log = (pytester.path / "debug.log").read_text() if not workers else ""
    assert workers or ("cache hit for pkg.mod" in log and "no stored read plans" in log)
    assert _report(pytester) == cold
    assert {path: plan_states(path) for path in plans} == stored
    assert all(digest(path) == digest(code_of(path)) for path in plans)
    written = {path: path.stat().st_mtime_ns for path in plans}
    pytester.runpytest_subprocess(*args).assert_outcomes(passed=1)
    log = (pytester.path / "debug.log").read_text() if not workers else ""
    assert workers or ("cache hit for pkg.mod" in log and "no stored read plans" not in log)
    assert _report(pytester) == cold
    assert {path: path.stat().st_mtime_ns for path in plans} == written  # read, not written


EARLY = {
    "src/early/__init__.py": "",
    "src/early/plugin.py": """\
        class A:
            @staticmethod
            def f(x):
                try:
                    [x, "a"].sort()
                except TypeError:
                    return "mixed"
                return "sorted"

        class B(A):
            g = A.__dict__["f"]  # the same function, reached through a second class
        """,
    "tests/test_early.py": """\
        from early.plugin import A, B

        def test_f():
            assert A.f(1) == "mixed"
            assert B.g("b") == "sorted"
        """,
}


@pytest.mark.subprocess
def test_an_early_function_reached_twice_is_instrumented_once(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Instrumenting already-instrumented code made counts negative."""
    make_project(pytester, EARLY)
    monkeypatch.setenv("PYTHONPATH", str(pytester.path / "src"))
    result = pytester.runpytest_subprocess(
        "-p", "early.plugin", "--bytecode-cov=early", "--bytecode-cov-report=json"
    )
    result.assert_outcomes(passed=1, warnings=1)
    codes = _report(pytester)["src/early/plugin.py"]["code_objects"]
    assert [c["name"] for c in codes] == ["f"]  # once, though reached through A and B
    counts = _counts(codes[0])
    assert min(counts) >= 0
    assert max(counts) == 2


@pytest.mark.subprocess
@pytest.mark.skipif(sys.version_info < (3, 11), reason="3.10 freezes no stdlib module")
def test_frozen_stdlib_module_named_as_source_is_measured(pytester: pytest.Pytester) -> None:
    """posixpath is frozen from 3.11 on: its functions' code names ``<frozen posixpath>``."""
    pytester.makepyfile(
        test_frozen="import posixpath\n\n"
        "def test_join():\n    assert posixpath.join('a', 'b') == 'a/b'\n"
    )
    result = pytester.runpytest_subprocess(
        "--bytecode-cov=posixpath", "--bytecode-cov-report=json", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=1, warnings=1)
    (fdata,) = _report(pytester).values()
    assert fdata["partial"] is True
    join = [c for c in fdata["code_objects"] if c["qualname"] == "join"]
    assert join and max(_counts(join[0])) >= 1


LAZY = {
    "src/lazy/__init__.py": """\
        import importlib.util
        import sys

        #: what the run did to the package's lazy objects before any test used them
        TOUCHED = []


        class Settings:
            \"\"\"Like django.conf.settings: a proxy that forwards ``__class__``
            by evaluating itself, and fails while not configured.\"\"\"

            configured = {}

            def _setup(self):
                TOUCHED.append("settings")
                if not self.configured:
                    raise LookupError("settings are not configured")
                return self.configured

            @property
            def __class__(self):
                return self._setup().__class__

            def __getattr__(self, name):
                return self._setup()[name]


        settings = Settings()


        def lazy_import(name):
            \"\"\"importlib.util.LazyLoader, as lazy_loader and scikit-image use it.\"\"\"
            spec = importlib.util.find_spec(name)
            spec.loader = importlib.util.LazyLoader(spec.loader)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
            return module


        optional = lazy_import("lazy_optional")


        def debug():
            return settings.debug
        """,
    # An optional feature whose dependency is not installed.
    "src/lazy_optional.py": """\
        import lazy_not_installed
        """,
    "src/lazy_early.py": """\
        import sys
        import types

        import lazy  # a -p plugin that imports the measured package early

        # A module built by hand, with a module __getattr__ (PEP 562) that
        # fails for every name it does not have (a file name included).
        # (Kept out of this module's namespace, which pytest looks through.)
        sys.modules["lazy_handmade"] = types.ModuleType("lazy_handmade")


        def _missing(name):
            lazy.TOUCHED.append(name)
            raise AttributeError(name)


        sys.modules["lazy_handmade"].__getattr__ = _missing
        """,
    "tests/test_lazy.py": """\
        import lazy

        def test_nothing_lazy_was_touched():
            assert lazy.TOUCHED == []

        def test_debug():
            lazy.Settings.configured["debug"] = True
            assert lazy.debug() is True
        """,
}


@pytest.mark.subprocess
@pytest.mark.parametrize("early", [False, True], ids=["imported-by-a-test", "imported-early"])
def test_lazy_objects_stay_lazy(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, early: bool
) -> None:
    """The run reads no lazy object of a measured package: not a proxy's
    ``__class__`` (it evaluated django.conf.settings, which raised at
    start-up), not a LazyLoader module's ``__file__`` (it loaded the module,
    whose missing dependency then failed the end of the run), not a module
    ``__getattr__``."""
    make_project(pytester, LAZY)
    monkeypatch.setenv("PYTHONPATH", str(pytester.path / "src"))
    plugin = ["-p", "lazy_early"] if early else []
    plain = pytester.runpytest_subprocess(*plugin, "-p", "no:cacheprovider")
    plain.assert_outcomes(passed=2)
    result = pytester.runpytest_subprocess(
        *plugin, "--bytecode-cov=lazy", "--bytecode-cov-report=json", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=2, warnings=1 if early else 0)
    assert result.ret == 0
    report = _report(pytester)
    assert report["src/lazy/__init__.py"]["partial"] is early
    debug = [c for c in report["src/lazy/__init__.py"]["code_objects"] if c["name"] == "debug"]
    assert max(_counts(debug[0])) == 1


EARLY_KINDS = {
    # wrapt.FunctionWrapper's shape (the run looks it up in sys.modules["wrapt"]):
    # a proxy that answers __class__ and every attribute for what it wraps.
    "src/wrapt/__init__.py": """\
        class FunctionWrapper:
            def __init__(self, wrapped):
                object.__setattr__(self, "__wrapped__", wrapped)

            @property
            def __class__(self):
                return type(object.__getattribute__(self, "__wrapped__"))

            def __getattr__(self, name):
                return getattr(object.__getattribute__(self, "__wrapped__"), name)

            def __setattr__(self, name, value):
                setattr(object.__getattribute__(self, "__wrapped__"), name, value)

            def __call__(self, *args):
                return object.__getattribute__(self, "__wrapped__")(*args)
        """,
    "src/kinds/__init__.py": """\
        from wrapt import FunctionWrapper

        #: what the run read through the hooks of kinds.hooked
        TOUCHED = []


        def decorated(x):
            if x:
                return "yes"
            return "no"


        decorated = FunctionWrapper(decorated)
        """,
    # A module whose type hooks attribute access (a deprecation shim) and
    # whose namespace is a property (apipkg's lazy modules).
    "src/kinds/hooked.py": """\
        import sys
        import types

        import kinds


        def f(x):
            return x + 1


        class _Hooked(types.ModuleType):
            def __getattribute__(self, name):
                kinds.TOUCHED.append(name)
                return super().__getattribute__(name)

            @property
            def __dict__(self):
                kinds.TOUCHED.append("__dict__")
                return vars(types.ModuleType)["__dict__"].__get__(self)


        sys.modules[__name__].__class__ = _Hooked
        """,
    "src/kinds_early.py": """\
        import kinds.hooked
        """,
    "tests/test_kinds.py": """\
        import json
        import os

        import kinds
        from kinds import hooked

        def test_what_was_touched():
            # The import system reads the module through its hooks too:
            # the plain run's list is the reference.
            with open(os.environ["KINDS_TOUCHED"], "w") as fh:
                json.dump(kinds.TOUCHED, fh)

        def test_calls():
            assert kinds.decorated(1) == "yes"
            assert hooked.f(1) == 2
        """,
}


@pytest.mark.subprocess
def test_early_functions_behind_wrappers_and_hooks_are_measured(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A function wrapt decorated, and a module whose type hooks attribute
    access, imported before the hook: their functions are measured, and the
    run reads nothing through the hooks (the namespace is read directly)."""
    make_project(pytester, EARLY_KINDS)
    monkeypatch.setenv("PYTHONPATH", str(pytester.path / "src"))
    touched = {}
    for mode, extra in (("plain", []), ("measured", ["--bytecode-cov=kinds"])):
        monkeypatch.setenv("KINDS_TOUCHED", str(pytester.path / f"{mode}.json"))
        result = pytester.runpytest_subprocess(
            "-p", "kinds_early", *extra, "--bytecode-cov-report=json", "-p", "no:cacheprovider"
        )
        result.assert_outcomes(passed=2, warnings=1 if extra else 0)
        touched[mode] = load_json(pytester.path / f"{mode}.json")
    assert touched["measured"] == touched["plain"]
    report = _report(pytester)
    ran = {
        c["name"]: max(_counts(c))
        for path in ("src/kinds/__init__.py", "src/kinds/hooked.py")
        for c in report[path]["code_objects"]
    }
    assert (ran["decorated"], ran["f"]) == (1, 1)
    assert report["src/kinds/hooked.py"]["partial"] is True


EARLY_REACH = {
    # Functions an early import leaves where no namespace walk finds them.
    "src/reach/__init__.py": """\
        import functools

        def deco(fn):
            @functools.wraps(fn)
            def wrapper(*args):
                return fn(*args)
            return wrapper

        @deco
        def decorated(x):
            if x:
                return "yes"
            return "no"

        @functools.lru_cache(maxsize=None)
        def cached(x):
            return x * 2

        @functools.singledispatch
        def dispatch(x):
            return "object"

        @dispatch.register
        def _(x: int):
            return "int"

        REGISTRY = {}

        def register(fn):
            REGISTRY[fn.__name__] = fn

        @register
        def hidden(x):
            return x + 1

        def make(n):
            def add(x):
                return x + n
            return add

        ADDERS = [make(1), make(2)]  # two functions of one code object
        """,
    "src/reach_early.py": "import reach\n",
    "tests/test_reach.py": """\
        import reach

        def test_reach():
            assert reach.decorated(1) == "yes"
            assert reach.decorated(0) == "no"
            assert reach.cached(3) == 6
            assert reach.dispatch(3) == "int"
            assert reach.dispatch("3") == "object"
            assert reach.REGISTRY["hidden"](1) == 2
            assert [add(1) for add in reach.ADDERS] == [2, 3]
            assert reach.make(5)(1) == 6
        """,
}


@pytest.mark.subprocess
def test_every_function_of_an_early_module_is_measured(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Functions of a module imported before the hook that no namespace
    holds (behind a decorator's closure, ``lru_cache``, ``singledispatch``,
    a registry; closures made at import) are measured, each code object
    once for all its functions: the counts of what the test ran are those of
    a run that imports the module after the hook.  A walk of namespaces left
    them out of the report without a word."""
    make_project(pytester, EARLY_REACH)
    monkeypatch.setenv("PYTHONPATH", str(pytester.path / "src"))
    reports = {}
    for mode, extra in (("late", []), ("early", ["-p", "reach_early"])):
        result = pytester.runpytest_subprocess(
            *extra, "--bytecode-cov=reach", "--bytecode-cov-report=json", "-p", "no:cacheprovider"
        )
        result.assert_outcomes(passed=1, warnings=1 if extra else 0)
        fdata = _report(pytester)["src/reach/__init__.py"]
        assert fdata["partial"] is bool(extra)
        reports[mode] = {c["name"]: _counts(c) for c in fdata["code_objects"]}
    late, early = reports["late"], reports["early"]
    assert set(early) == set(late) - {"<module>"}
    for name in ("wrapper", "decorated", "cached", "dispatch", "_", "hidden", "add"):
        assert early[name] == late[name], name
    assert max(early["add"]) == 3  # both adders made at import, and one made later
    assert max(early["wrapper"]) == 2


@pytest.mark.subprocess
@pytest.mark.parametrize("error", [False, True], ids=["default", "W-error"])
def test_a_file_no_test_imports_gives_no_compile_warning(
    pytester: pytest.Pytester, error: bool
) -> None:
    """A file under SOURCE that no test imports is compiled to be listed:
    its compile-time warnings (an invalid escape) are not the run's to
    give, as plain pytest gives none, and under ``-W error`` they do not
    turn into a parse failure that drops the file from the report."""
    make_project(
        pytester,
        {
            "wpkg/__init__.py": "",
            "wpkg/unused.py": 'import re\nPAT = re.compile("\\d+")\n',
            "test_w.py": "import wpkg\n\ndef test_ok():\n    assert wpkg\n",
        },
    )
    assert '"\\d+"' in (pytester.path / "wpkg/unused.py").read_text()  # an invalid escape
    flags = ["-W", "error"] if error else []
    plain = pytester.runpytest_subprocess(*flags, "-p", "no:cacheprovider")
    plain.assert_outcomes(passed=1, warnings=0)
    measured = pytester.runpytest_subprocess(
        *flags, "-p", "no:cacheprovider", "--bytecode-cov=wpkg", "--bytecode-cov-report=json"
    )
    measured.assert_outcomes(passed=1, warnings=0)
    assert "couldnt-parse" not in measured.stdout.str()
    assert _report(pytester)["wpkg/unused.py"]["code_objects"]


@pytest.mark.subprocess
def test_registering_a_measured_rewritten_module_again_does_not_warn(
    pytester: pytest.Pytester,
) -> None:
    """``pytest.register_assert_rewrite`` of a module already imported
    warns unless pytest's hook loaded it; a measured module that pytest
    rewrites is loaded by the plugin, which records it as rewritten the way
    pytest's loader does (under ``-W error`` the warning failed collection)."""
    make_project(
        pytester,
        {
            "spkg/__init__.py": "def f(x):\n    assert x == 1\n",
            "conftest.py": "import pytest\n\npytest.register_assert_rewrite('spkg')\nimport spkg\n",
            "test_again.py": """\
                import pytest

                import spkg

                pytest.register_assert_rewrite("spkg")

                def test_it():
                    spkg.f(1)
                    with pytest.raises(AssertionError, match="assert 2 == 1"):
                        spkg.f(2)  # rewritten: the message shows the values
                """,
        },
    )
    for extra in ([], ["--bytecode-cov=spkg"]):
        result = pytester.runpytest_subprocess("-W", "error", "-p", "no:cacheprovider", *extra)
        result.assert_outcomes(passed=1, warnings=0)


@pytest.mark.subprocess
def test_measured_imports_warn_and_write_pyc_as_plain_ones(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A measured import does what the plain one does besides making the
    code: it reads the ``.pyc`` or compiles (giving the compile's warnings,
    raising its ``SyntaxError`` under ``-W error``) and writes the ``.pyc``.
    A warm run took the code from the instrumentation cache and compiled
    nothing, so its warnings were lost where plain Python compiles at every
    run (``PYTHONDONTWRITEBYTECODE``), and no ``.pyc`` was written."""
    make_project(
        pytester,
        {
            "wpkg/__init__.py": "",
            "wpkg/used.py": 'import re\nPAT = re.compile("\\d+")\n',  # an invalid escape
            "test_w.py": "import wpkg.used\n\ndef test_ok():\n    assert wpkg.used.PAT\n",
        },
    )
    category = "SyntaxWarning" if sys.version_info >= (3, 12) else "DeprecationWarning"
    measured = ["--bytecode-cov=wpkg", "--bytecode-cov-report="]
    pycache = pytester.path / "wpkg" / "__pycache__"

    def outcomes(*args: str) -> dict[str, int]:
        return pytester.runpytest_subprocess("-p", "no:randomly", *args).parseoutcomes()

    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    assert outcomes() == {"passed": 1, "warnings": 1}
    for _ in ("cold", "warm"):
        assert outcomes(*measured) == {"passed": 1, "warnings": 1}
    assert not pycache.exists()
    strict = ["-W", f"error::{category}"]
    assert outcomes(*strict) == outcomes(*strict, *measured) == {"errors": 1}

    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE")
    assert outcomes(*measured) == {"passed": 1, "warnings": 1}  # compiled, .pyc written
    assert any(p.name.startswith("used.") for p in pycache.iterdir())
    assert outcomes(*measured) == outcomes() == {"passed": 1}  # the .pyc is read


@pytest.mark.subprocess
def test_a_cold_import_compiles_the_source_once(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the plain import compiles the source (no valid ``.pyc``), a
    measured import instruments that compile's code instead of compiling
    the same bytes again; with a valid ``.pyc`` (read, not compiled) it
    compiles once, as it must; a file that changes between the two reads
    is compiled from the bytes the cache key hashes (the plain import's
    code of the older bytes is not measured)."""
    make_project(
        pytester,
        {
            "cpkg/__init__.py": "",
            "cpkg/mod.py": "def f():\n    return 1\n",
            "conftest.py": """\
                import json, sys
                COUNT = []
                sys.addaudithook(
                    lambda event, args: event == "compile"
                    and str(args[1]).endswith("mod.py")
                    and COUNT.append(1)
                )

                def pytest_sessionfinish(session):
                    with open("compiles.json", "w") as f:
                        json.dump(len(COUNT), f)
                """,
            "test_c.py": "import cpkg.mod\n\ndef test_f():\n    assert cpkg.mod.f() == 1\n",
        },
    )
    measured = ["--bytecode-cov=cpkg", "--bytecode-cov-report=json", "-p", "no:randomly"]

    def compiles(*args: str) -> int:
        pytester.runpytest_subprocess(*args).assert_outcomes(passed=1)
        return int(load_json(pytester.path / "compiles.json"))

    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    assert compiles("-p", "no:randomly") == 1
    assert compiles(*measured) == 1  # cold: the plain import's compile, instrumented
    cold = _report(pytester)
    assert cold["cpkg/mod.py"]["summary"]["covered_instructions"] > 0
    assert compiles(*measured) == 1  # warm: the plain import's compile alone
    assert _report(pytester) == cold
    shutil.rmtree(pytester.path / ".pytest_cache")
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE")
    assert compiles("-p", "no:randomly") == 1  # writes the .pyc
    assert compiles(*measured) == 1  # cold, the .pyc read: one compile, ours
    assert _report(pytester) == cold


DEAD_COMPREHENSIONS = {
    "src/dead/__init__.py": """\
        x = 1
        if False:
            [x for x in ()]
        names = sorted(vars())
        level = 3
        if not __debug__:
            LEVELS = {level: n for level, n in enumerate("ab")}
        in_dir = "level" in dir()

        class C:
            a = 1
            if False:
                [a for _ in ()]
            seen = sorted(locals())
        """,
    "tests/test_dead.py": """\
        import dead

        def test_names_of_dead_comprehensions_stay_bound():
            assert "x" in dead.names and dead.x == 1
            assert dead.in_dir and dead.level == 3
            assert "a" in dead.C.seen and dead.C.a == 1
        """,
}


def test_a_dead_comprehension_unbinds_no_name(pytester: pytest.Pytester) -> None:
    """3.12: the variables of a comprehension the compiler removed stay
    hidden locals of the module and class body (``locals()`` would unbind
    the namespace's names of theirs), cold and from the cache."""
    make_project(pytester, DEAD_COMPREHENSIONS)
    for _ in ("cold", "warm"):
        result = pytester.runpytest("--bytecode-cov=dead", "--bytecode-cov-report=json")
        result.assert_outcomes(passed=1)
        assert _instructions(_report(pytester)["src/dead/__init__.py"]["code_objects"]) > 0


def test_closures_made_before_and_after_the_hook_share_their_code(tmp_path: Path) -> None:
    """A module imported before the hook (instrument_loaded): a closure it
    made at import and one its maker makes afterwards run the same code
    object, as in plain code (the closure gets the instrumented constant of
    its maker's tree, not an instrumentation of its own); decorators'
    wrappers the same; what they run is counted once, in the maker's tree."""
    source = (
        "import functools\n"
        "def make(n):\n"
        "    def inner():\n"
        "        return n + 1\n"
        "    return inner\n"
        "EARLY = make(1)\n"
        "def deco(f):\n"
        "    @functools.wraps(f)\n"
        "    def wrapper(*a):\n"
        "        return ('wrapped', f(*a))\n"
        "    return wrapper\n"
        "@deco\n"
        "def decorated(x):\n"
        "    return x * 2\n"
        "f = lambda: lambda: 3\n"
        "G = f()\n"
    )
    path = tmp_path / "early_closures.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("early_closures", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # plain: imported before any hook
    plain_inner, plain_wrapper = module.EARLY.__code__, module.decorated.__code__
    assert module.make(2).__code__ is plain_inner
    messages: list[str] = []
    collector = Collector(str(tmp_path))
    measurement = importhook.Measurement(
        Selector(str(tmp_path), modules=("early_closures",)),
        collector,
        cache_mod.InstrumentationCache(tmp_path / "cache", messages.append),
        messages.append,
        messages.append,
    )
    assert importhook.instrument_loaded(measurement, {"early_closures": module}) == [
        "early_closures"
    ]
    assert not any("not-instrumented" in m for m in messages)
    inner = module.EARLY.__code__
    assert inner is not plain_inner and engine.original_code(inner) is plain_inner
    assert module.make(5).__code__ is inner
    assert module.deco(len).__code__ is module.decorated.__code__
    assert engine.original_code(module.decorated.__code__) is plain_wrapper
    assert module.f().__code__ is module.G.__code__
    results = (module.EARLY(), module.make(5)(), module.decorated(4), module.G())
    assert results == (2, 6, ("wrapped", 8), 3)
