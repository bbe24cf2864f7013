"""Which files are measured, and their text, as coverage.py sees them.

coverage.py itself is the oracle: its source reading and exclusion parsing
(``Coverage.analysis2``), its ``[run] omit``/``include`` decisions (a real
``Coverage`` object with ``source=`` in a subprocess), its canonical file
names.  End-to-end cases go through the real plugin with pytester.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import coverage
import pytest
from coverage.config import CoverageConfig
from coverage.files import GlobMatcher
from coverage.files import prep_patterns as coverage_prep_patterns
from coverage.misc import join_regex

from pytest_bytecode import data, engine
from pytest_bytecode.collector import unexecuted_file
from pytest_bytecode.sources import (
    NEVER_MEASURED,
    ConfigSource,
    Selector,
    SourceError,
    canonical_filename,
    python_source_text,
    report_path,
    resolve,
)

needs_symlinks = pytest.mark.skipif(
    sys.platform == "win32", reason="creating symbolic links needs privileges on Windows"
)

BOM = b"\xef\xbb\xbf"
DEFAULT_EXCLUDE = join_regex(CoverageConfig().exclude_list)


def write(root: Path, files: dict[str, str | bytes]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(textwrap.dedent(text))


def selector_for(root: Path, *values: str | bool, **kw: Any) -> Selector:
    return resolve(
        values or (str(root),), rootdir=root, invocation_dir=root, search_path=[str(root)], **kw
    )


# --- resolve, table-driven (no pytest run) ----------------------------------------------

PROJECT = {
    "src/pkg/__init__.py": "",
    "src/pkg/mod.py": "X = 1\n",
    "src/pkg/sub/__init__.py": "",
    "src/pkg/sub/deep.py": "Y = 2\n",
    "src/tool.py": "Z = 3\n",
    "src/test_tool.py": "",
    "src/_private/__init__.py": "",
    "src/tests/__init__.py": "",
    "notes.txt": "not Python\n",
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write(tmp_path, dict(PROJECT))
    return tmp_path


def _resolved(root: Path, values: list[str | bool], **kw: Any) -> dict[str, Any]:
    """The parts of ``resolve``'s Selector a row checks, paths relative to ``root``."""
    sel = resolve(values, rootdir=root, invocation_dir=root, search_path=[str(root / "src")], **kw)
    base = os.path.normcase(canonical_filename(str(root)))

    def rel(paths: Any) -> list[str]:
        return sorted(Path(os.path.relpath(p, base)).as_posix() for p in paths)

    return {
        "dirs": rel(sel.dirs),
        "files": rel(sel.files),
        "modules": list(sel.modules),
        "module_locations": rel(sel.module_locations),
        "include": bool(sel.include),
        "exclude_regex": sel.exclude_regex,
    }


_NOTHING: dict[str, Any] = {
    "dirs": [],
    "files": [],
    "modules": [],
    "module_locations": [],
    "include": False,
    "exclude_regex": None,
}

#: id -> (--bytecode-cov values, other arguments of resolve, what differs from _NOTHING)
RESOLVED: dict[str, tuple[list[str | bool], dict[str, Any], dict[str, Any]]] = {
    "default: src layout, no tests or private packages": (
        [True],
        {},
        {"dirs": ["src/pkg"], "files": ["src/tool.py"]},
    ),
    "directory": (["src/pkg"], {}, {"dirs": ["src/pkg"]}),
    "directory, spaces and a trailing slash": ([" src/pkg/ "], {}, {"dirs": ["src/pkg"]}),
    "the same directory twice": (["src/pkg", "src/pkg/"], {}, {"dirs": ["src/pkg"]}),
    ".py file": (["src/pkg/mod.py"], {}, {"files": ["src/pkg/mod.py"]}),
    "package name": (["pkg"], {}, {"modules": ["pkg"], "module_locations": ["src/pkg"]}),
    "subpackage name": (
        ["pkg.sub"],
        {},
        {"modules": ["pkg.sub"], "module_locations": ["src/pkg/sub"]},
    ),
    "module name": (
        ["pkg.mod"],
        {},
        {"modules": ["pkg.mod"], "module_locations": ["src/pkg/mod.py"]},
    ),
    "a directory and a module name": (
        ["src/pkg", "tool"],
        {},
        {"dirs": ["src/pkg"], "modules": ["tool"], "module_locations": ["src/tool.py"]},
    ),
    "include narrows the default SOURCE": (
        [True],
        {"include": ["src/pkg/*"]},
        {"dirs": ["src/pkg"], "files": ["src/tool.py"], "include": True},
    ),
    "include is ignored with an explicit SOURCE": (
        ["src/pkg"],
        {"include": ["src/pkg/*"]},
        {"dirs": ["src/pkg"]},
    ),
    "exclusion rules": (
        ["src/pkg"],
        {"exclude_list": ["pragma: no cover", "raise NotImplementedError"]},
        {
            "dirs": ["src/pkg"],
            "exclude_regex": join_regex(["pragma: no cover", "raise NotImplementedError"]),
        },
    ),
}


@pytest.mark.parametrize(("values", "kw", "expected"), RESOLVED.values(), ids=RESOLVED.keys())
def test_resolve(
    project: Path, values: list[str | bool], kw: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert _resolved(project, values, **kw) == {**_NOTHING, **expected}


def test_resolve_default_flat_layout(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "app/__init__.py": "",
            "script.py": "",
            "setup.py": "",
            "conftest.py": "",
            "test_app.py": "",
            "app_test.py": "",
            "tests/__init__.py": "",
            "docs/__init__.py": "",
            "not-a-name/__init__.py": "",
            "nopkg/data.txt": "",
        },
    )
    got = _resolved(tmp_path, [True])
    assert (got["dirs"], got["files"]) == (["app"], ["script.py"])


NOT_MEASURABLE = {
    "a file that is not .py": ("notes.txt", "a SOURCE file must be a .py file"),
    "no such package": ("missing_pkg", "not a directory, a .py file, or an importable"),
    "no such submodule": ("pkg.nope", "not a directory, a .py file, or an importable"),
    "no such directory": ("no such/dir", "not a directory, a .py file, or an importable"),
    "a keyword is no module name": ("class", "not a directory, a .py file, or an importable"),
}


NEVER = "is never measured: the run itself is made of it (never measured: _pytest, coverage,"


@pytest.mark.parametrize(
    "value",
    ["pluggy", "_pytest.assertion", "coverage", "pytest_bytecode.engine"],
)
def test_resolve_refuses_what_the_run_is_made_of(project: Path, value: str) -> None:
    """The import hook never instruments these: a report of 0 % for every
    file of a package that plainly ran would be a lie."""
    with pytest.raises(SourceError) as exc:
        _resolved(project, [value])
    top = value.partition(".")[0]
    assert str(exc.value).startswith(f"--bytecode-cov={value}: {top} {NEVER}")
    assert "\n" not in str(exc.value)


def test_resolve_refuses_directories_and_files_of_what_the_run_is_made_of(
    project: Path,
) -> None:
    import pluggy

    package = Path(pluggy.__file__).parent
    for value in (str(package), str(package / "_hooks.py")):
        with pytest.raises(SourceError) as exc:
            _resolved(project, [value])
        assert str(exc.value) == f"--bytecode-cov={value}: pluggy {NEVER} pluggy, pytest, " + (
            "pytest_bytecode, xdist)"
        )
    # A directory of that name that is no package (a checkout's root) is fine.
    (project / "coverage").mkdir()
    assert _resolved(project, ["coverage"])["dirs"] == ["coverage"]
    # So is a subpackage of that name: it is imported under its own
    # top-level package's name (ape.pytest), and measured.
    for folder in ("src/ape", "src/ape/pytest"):
        (project / folder).mkdir(parents=True)
        (project / folder / "__init__.py").write_text("")
    assert _resolved(project, ["src/ape/pytest"])["dirs"] == ["src/ape/pytest"]


def test_a_configured_source_of_what_the_run_is_made_of_is_left_out(project: Path) -> None:
    """coverage.py's own project measures ``source = ./coverage ./tests``:
    the configuration is coverage.py's too, so its entry is left out with a
    warning, and the rest is measured."""
    import coverage

    warned: list[str] = []
    configured = [
        ConfigSource(str(Path(coverage.__file__).parent), "source", "metacov.ini"),
        ConfigSource("pluggy", "source", "metacov.ini"),
        ConfigSource("src/pkg", "source", "metacov.ini"),
    ]
    got = _resolved(project, [True], configured=configured, warn=warned.append)
    assert got["dirs"] == ["src/pkg"]
    assert got["modules"] == []
    assert [w.split(":")[0] for w in warned] == ["bytecode-cov-never-measured"] * 2
    assert warned[1] == (
        f"bytecode-cov-never-measured: [run] source = pluggy (metacov.ini): pluggy {NEVER} "
        "pluggy, pytest, pytest_bytecode, xdist); the entry is left out"
    )


@pytest.mark.parametrize(("value", "message"), NOT_MEASURABLE.values(), ids=NOT_MEASURABLE.keys())
def test_resolve_refuses(project: Path, value: str, message: str) -> None:
    with pytest.raises(SourceError) as exc:
        _resolved(project, [value])
    assert str(exc.value).startswith(f"--bytecode-cov={value}: {message}")
    assert "\n" not in str(exc.value)


NAMES = {
    "pkg": True,
    "pkg.sub.deep": True,
    "deep": True,  # a src layout may put any package directory on sys.path
    "tool": False,
    "pytest_bytecode.data": False,  # never measured
}


@pytest.mark.parametrize(("name", "may"), NAMES.items(), ids=NAMES.keys())
def test_resolved_directory_admits_names_below_it(project: Path, name: str, may: bool) -> None:
    selector = resolve(
        ["src/pkg"], rootdir=project, invocation_dir=project, search_path=[str(project / "src")]
    )
    assert selector.may_match_name(name) is may


# --- source text and excluded lines ---------------------------------------------------

SOURCES: dict[str, bytes] = {
    "plain": b"def f():  # pragma: no cover\n    return 1\n\ndef g():\n    return 2\n",
    "bom": BOM + b"def f():  # pragma: no cover\n    return 1\n\ndef g():\n    return 2\n",
    "bom-first-line-pragma": BOM + b"import os  # pragma: no cover\nX = 1\n",
    "bom-no-final-newline": BOM + b"X = 1\nif X:  # pragma: no cover\n    Y = 2",
    "form-feed": b"X = 1\n\x0c\ndef f():  # pragma: no cover\n    return 1\n",
    "latin-1-cookie": (
        b"# -*- coding: latin-1 -*-\nS = '\xe9'\ndef f():  # pragma: no cover\n    pass\n"
    ),
    "crlf-bom": BOM + b"X = 1\r\nif X:  # pragma: no cover\r\n    Y = 2\r\n",
}


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_source_text_is_coverage_pys(tmp_path: Path, name: str) -> None:
    path = tmp_path / "m.py"
    path.write_bytes(SOURCES[name])
    from coverage.python import get_python_source

    assert python_source_text(SOURCES[name]) == get_python_source(str(path))


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_excluded_lines_match_coverage_py(tmp_path: Path, name: str) -> None:
    path = tmp_path / "m.py"
    path.write_bytes(SOURCES[name])
    cov = coverage.Coverage(config_file=False, data_file=None)
    expected = set(cov.analysis2(str(path))[2])
    assert expected, "every sample excludes something"
    selector = Selector(str(tmp_path), exclude_regex=DEFAULT_EXCLUDE)
    source = SOURCES[name]
    assert selector.excluded_lines_of(source, str(path)) == expected
    assert selector.excluded_lines(python_source_text(source), str(path)) == expected
    if source.startswith(BOM):  # text decoded as plain UTF-8 keeps the BOM: same answer
        assert selector.excluded_lines(source.decode("utf-8"), str(path)) == expected


@pytest.mark.parametrize(
    "patterns",
    [
        CoverageConfig().exclude_list,
        ["def __repr__", "raise NotImplementedError", "if TYPE_CHECKING:", "@overload"],
        ["^class \\w*Error\\b", "^\\s*import zlib$"],
    ],
    ids=["default", "common", "multi"],
)
def test_excluded_lines_without_a_matching_line_skip_the_parse(patterns: list[str]) -> None:
    """A file none of whose lines the exclusion regex matches has no excluded
    line, so its parse is skipped; on every file of a sample of the stdlib,
    matching or not, the answer must be coverage.py's parser's own."""
    import importlib.util

    from coverage.parser import PythonParser

    regex = join_regex(patterns)
    selector = Selector("/", exclude_regex=regex)
    matched = unmatched = 0
    for name in (
        "json.decoder",
        "typing",
        "pathlib",
        "argparse",
        "textwrap",
        "dataclasses",
        "enum",
        "functools",
        "string",
        "shlex",
        "tokenize",
        "zipfile",
        "csv",
        "abc",
    ):
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
            continue
        # The loader's get_data: Pyodide's standard library is a zip file.
        raw = spec.loader.get_data(spec.origin)  # type: ignore[union-attr]
        text = python_source_text(raw)
        parser = PythonParser(text=text, filename=spec.origin, exclude=regex)
        parser.parse_source()
        assert selector.excluded_lines(text, spec.origin) == parser.excluded, name
        if parser.excluded:
            matched += 1
        else:
            unmatched += 1
    assert matched and unmatched, (matched, unmatched)


def test_the_shortcut_matches_as_the_installed_coverage_py_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """coverage.py 7.6 matches exclusion patterns against the whole text,
    earlier versions line by line, where ``\\A`` is each line's start: the
    check for "no line matches" must follow the installed version."""
    from pytest_bytecode import sources

    text = "def f():\n    raise NotImplementedError\n"
    anchored = r"\A\s*raise NotImplementedError"
    assert (coverage.version_info >= (7, 6)) == sources.WHOLE_TEXT_EXCLUSIONS
    monkeypatch.setattr(sources, "WHOLE_TEXT_EXCLUSIONS", True)
    assert not sources._matches_somewhere(anchored, text)
    assert sources._matches_somewhere("raise", text)
    monkeypatch.setattr(sources, "WHOLE_TEXT_EXCLUSIONS", False)
    assert sources._matches_somewhere(anchored, text)
    assert not sources._matches_somewhere(r"\A\s*return", text)


def test_unexecuted_file_with_bom_keeps_its_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_bytes(SOURCES["bom"])
    selector = Selector(str(tmp_path), exclude_regex=DEFAULT_EXCLUDE)
    fdata = unexecuted_file(str(path), selector.excluded_lines, engine.instrument)
    assert fdata is not None
    assert fdata.excluded_lines == [1, 2]


# --- files that cannot be compiled or read ------------------------------------------


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"def f(:\n    pass\n", "line 1"),
        (b"X = 1\nY = (\n", "line 2"),
        (b"# -*- coding: no-such-codec -*-\nX = 1\n", "no-such-codec"),
        # 3.10-3.13 say "can't decode ... utf-8", 3.14+ "Non-UTF-8 code".
        (b"S = '\xff\xfe'\n", "UTF-8"),
    ],
)
def test_unexecuted_file_says_why_it_cannot_be_parsed(
    tmp_path: Path, content: bytes, why: str
) -> None:
    path = tmp_path / "bad.py"
    path.write_bytes(content)
    said: list[str] = []
    fdata = unexecuted_file(
        str(path), Selector(str(tmp_path)).excluded_lines, engine.instrument, said.append, "bad.py"
    )
    assert fdata is None
    assert len(said) == 1
    assert said[0].startswith("Couldn't parse Python file 'bad.py'")
    assert said[0].endswith("(couldnt-parse)")
    assert why.lower() in said[0].lower()
    assert "\n" not in said[0]


def test_unexecuted_file_says_why_it_cannot_be_read(tmp_path: Path) -> None:
    said: list[str] = []
    missing = str(tmp_path / "gone.py")
    nothing = Selector(str(tmp_path)).excluded_lines
    assert unexecuted_file(missing, nothing, engine.instrument, said.append) is None
    assert said == [
        f"Couldn't read Python file '{missing}': No such file or directory (couldnt-read)"
    ]
    # without a listener it stays quiet, as before
    assert unexecuted_file(missing, nothing, engine.instrument) is None


# --- [run] omit and include, decided by coverage.py itself -----------------------------

TREE = [
    "pkg/__init__.py",
    "pkg/mod.py",
    "pkg/Upper.py",
    "pkg/sub/__init__.py",
    "pkg/sub/deep.py",
    "pkg/sub/mod.py",
    "pkg/gen/__init__.py",
    "pkg/gen/auto.py",
    "pkg/gen/more/__init__.py",
    "pkg/gen/more/auto2.py",
    "other/__init__.py",
    "other/mod.py",
]

OMIT_TABLE: list[list[str]] = [
    ["pkg/*.py"],  # `*` does not cross `/`: not pkg/sub/deep.py (fnmatch's did)
    ["pkg/gen/*"],  # a trailing `/*` takes the whole subtree
    ["pkg/gen/*.py"],
    ["*/gen/*"],
    ["pkg/**/auto*.py"],
    ["**/mod.py"],
    ["mod.py"],  # no slash: that file name anywhere
    ["*mod.py"],
    ["pkg/sub"],  # a directory name alone omits nothing
    ["pkg/sub/"],
    ["./pkg/sub/deep.py"],
    ["pkg/?ub/*"],
    ["pkg/[gs]*/__init__.py"],
    ["PKG/MOD.py"],  # case: only where file names ignore case
    ["*/Upper.py", "other/*"],
    ["@ABS@/pkg/sub/*"],
    ["@ABS@/pkg/*.py"],
    ["*"],
    [],
]


def _coverage_py_measures(root: Path, cases: list[dict[str, list[str]]]) -> list[list[str]]:
    """The files coverage.py reports for ``source=root`` under each omit/include case.

    A subprocess: a ``Coverage`` object must not start inside a measured run.
    """
    script = textwrap.dedent(
        """
        import json, os, sys, warnings
        import coverage
        warnings.simplefilter("ignore")
        out = []
        for case in json.loads(sys.argv[1]):
            cov = coverage.Coverage(
                source=[os.getcwd()], data_file=None, config_file=False, **case
            )
            cov.start()
            cov.stop()
            out.append(sorted(
                os.path.relpath(f).replace(os.sep, "/") for f in cov.get_data().measured_files()
            ))
        print(json.dumps(out))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, json.dumps(cases)],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    result: list[list[str]] = json.loads(proc.stdout)
    return result


def _ours(selector: Selector, root: Path) -> list[str]:
    return sorted(report_path(f, str(root)) for f in selector.all_files())


@pytest.mark.subprocess
def test_omit_patterns_mean_what_they_mean_to_coverage_py(tmp_path: Path) -> None:
    write(tmp_path, dict.fromkeys(TREE, ""))
    table = [[p.replace("@ABS@", tmp_path.as_posix()) for p in pats] for pats in OMIT_TABLE]
    expected = _coverage_py_measures(tmp_path, [{"omit": pats} for pats in table])
    for pats, want in zip(table, expected, strict=True):
        selector = selector_for(tmp_path, omit=pats)
        assert _ours(selector, tmp_path) == want, pats
        # the import hook's question gives the same answers
        for name in TREE:
            measured = selector.wants("", str(tmp_path / name))
            assert measured == (name in want), (pats, name)


@pytest.mark.parametrize("pats", [["pkg/*"], ["*/gen/*"], ["pkg/*.py"], ["mod.py"]])
def test_include_narrows_the_default_source_like_coverage_py(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pats: list[str]
) -> None:
    write(tmp_path, dict.fromkeys(TREE, ""))
    monkeypatch.chdir(tmp_path)  # coverage.py anchors relative patterns here
    matcher = GlobMatcher(coverage_prep_patterns(pats), "include")
    expected = sorted(n for n in TREE if matcher.match(canonical_filename(str(tmp_path / n))))
    default = resolve(
        [True], rootdir=tmp_path, invocation_dir=tmp_path, search_path=[], include=pats
    )
    assert _ours(default, tmp_path) == expected
    # an explicit SOURCE ignores include, as coverage.py's --source does
    assert _ours(selector_for(tmp_path, include=pats), tmp_path) == sorted(TREE)


def test_omit_is_anchored_at_the_rootdir_not_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, dict.fromkeys(TREE, ""))
    monkeypatch.chdir(tmp_path / "pkg")
    selector = selector_for(tmp_path, omit=["pkg/gen/*"])
    assert "pkg/gen/auto.py" not in _ours(selector, tmp_path)
    assert "pkg/mod.py" in _ours(selector, tmp_path)


# --- canonical names, symbolic links, names at any depth ------------------------------


@needs_symlinks
def test_symlinked_directory_is_compared_and_reported_by_real_path(tmp_path: Path) -> None:
    write(tmp_path, {"src/mypkg/__init__.py": "", "src/mypkg/mod.py": ""})
    (tmp_path / "linked").symlink_to(tmp_path / "src", target_is_directory=True)
    selector = selector_for(tmp_path, "src")
    through_link = str(tmp_path / "linked" / "mypkg" / "mod.py")
    assert selector.may_match_name("mypkg.mod")
    assert selector.reason_to_skip("mypkg.mod", through_link) is None
    assert canonical_filename(through_link) == canonical_filename(
        str(tmp_path / "src" / "mypkg" / "mod.py")
    )
    assert report_path(through_link, str(tmp_path)) == "src/mypkg/mod.py"
    assert _ours(selector, tmp_path) == ["src/mypkg/__init__.py", "src/mypkg/mod.py"]
    # the link named as SOURCE means the same directory
    assert _ours(selector_for(tmp_path, "linked"), tmp_path) == _ours(selector, tmp_path)


@needs_symlinks
def test_rootdir_reached_through_a_link_still_gives_relative_names(tmp_path: Path) -> None:
    write(tmp_path, {"real/pkg/mod.py": ""})
    (tmp_path / "alias").symlink_to(tmp_path / "real", target_is_directory=True)
    assert report_path(str(tmp_path / "real/pkg/mod.py"), str(tmp_path / "alias")) == "pkg/mod.py"
    assert report_path(str(tmp_path / "alias/pkg/mod.py"), str(tmp_path / "alias")) == "pkg/mod.py"
    outside = report_path(str(tmp_path / "real/pkg/mod.py"), str(tmp_path / "elsewhere"))
    assert outside == canonical_filename(str(tmp_path / "real/pkg/mod.py")).replace(os.sep, "/")


@needs_symlinks
def test_linked_package_inside_a_source_dir_is_measured_where_it_lives(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "elsewhere/mypkg/__init__.py": "",
            "elsewhere/mypkg/mod.py": "",
            "elsewhere/notpkg/x.py": "",
            "proj/src/own.py": "",
        },
    )
    proj = tmp_path / "proj"
    (proj / "src/mypkg").symlink_to(tmp_path / "elsewhere/mypkg", target_is_directory=True)
    (proj / "src/notpkg").symlink_to(tmp_path / "elsewhere/notpkg", target_is_directory=True)
    (proj / "src/loop").symlink_to(proj / "src", target_is_directory=True)
    selector = resolve(
        [str(proj / "src")], rootdir=proj, invocation_dir=proj, search_path=[str(proj / "src")]
    )
    real = canonical_filename(str(tmp_path / "elsewhere/mypkg"))
    assert sorted(selector.all_files()) == [
        os.path.join(real, "__init__.py"),
        os.path.join(real, "mod.py"),
        canonical_filename(str(proj / "src/own.py")),
    ]
    assert selector.may_match_name("mypkg.mod")
    assert selector.wants("mypkg.mod", str(proj / "src/mypkg/mod.py"))
    # only linked *packages* are followed, and never back into SOURCE itself
    assert not selector.wants("notpkg.x", str(proj / "src/notpkg/x.py"))
    assert len(selector.dirs) == 2


def test_dir_source_admits_package_names_at_any_depth(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "src/mypkg/__init__.py": "",
            "src/mypkg/sub/mod.py": "",
            "lib/python/single.py": "",
            "tests/test_x.py": "",
            "node_modules/jspkg/thing.py": "",
            ".venv/lib/vendored/__init__.py": "",
        },
    )
    selector = selector_for(tmp_path, ".")
    for name in ("mypkg", "mypkg.sub.mod", "single", "sub", "src.mypkg"):
        assert selector.may_match_name(name), name
    for name in ("json", "vendored", "jspkg", *NEVER_MEASURED):
        assert not selector.may_match_name(name), name
    assert selector.reason_to_skip("mypkg", str(tmp_path / "src/mypkg/__init__.py")) is None


def test_too_many_files_admit_every_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, {f"pkg/m{i}.py": "" for i in range(5)})
    monkeypatch.setattr("pytest_bytecode.sources.NAME_WALK_LIMIT", 3)
    selector = selector_for(tmp_path)
    assert selector.any_name
    assert selector.may_match_name("anything.at.all")
    assert not selector.may_match_name("pytest_bytecode.sources")


def test_installed_packages_under_a_source_dir_are_not_measured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, {"pkg/mod.py": "", "venv/site-packages/dep/__init__.py": ""})
    third = os.path.normcase(canonical_filename(str(tmp_path / "venv/site-packages")))
    monkeypatch.setattr("pytest_bytecode.sources.third_party_dirs", lambda: (third,))
    dep = str(tmp_path / "venv/site-packages/dep/__init__.py")
    selector = selector_for(tmp_path)
    assert "third-party" in str(selector.reason_to_skip("dep", dep))
    assert selector.reason_to_skip("pkg.mod", str(tmp_path / "pkg/mod.py")) is None
    # a SOURCE directory inside the installed packages is measured, like coverage.py
    inside = selector_for(tmp_path, str(tmp_path / "venv/site-packages/dep"))
    assert inside.reason_to_skip("dep", dep) is None
    # and so is a package named by its dotted name
    by_name = resolve(
        ["dep"],
        rootdir=tmp_path,
        invocation_dir=tmp_path,
        search_path=[str(tmp_path / "venv/site-packages")],
    )
    assert by_name.reason_to_skip("dep", dep) is None
    assert _ours(by_name, tmp_path) == ["venv/site-packages/dep/__init__.py"]


# --- end to end through the plugin ---------------------------------------------------

MYPKG = {
    "mypkg/__init__.py": "",
    "mypkg/mod.py": """
        def f(x):
            if x > 0:
                return "pos"
            return "neg"
    """,
}
TEST = """
    from mypkg.mod import f

    def test_f():
        assert f(1) == "pos"
"""


def _project(pytester: pytest.Pytester, base: str, pythonpath: str, where: str = ".") -> Path:
    root = pytester.path / where
    write(root, {f"{base}/{k}": v for k, v in MYPKG.items()})
    write(root, {"tests/test_it.py": TEST})
    (root / "tox.ini").write_text(f"[pytest]\npythonpath = {pythonpath}\n")
    return root


def _json(path: Path) -> dict[str, Any]:
    files: dict[str, Any] = json.loads(path.read_text())["files"]
    return files


def _percent(files: dict[str, Any], key: str) -> float:
    percent: float = files[key]["summary"]["percent_covered"]
    return percent


@pytest.mark.subprocess
def test_dot_source_measures_a_src_layout(pytester: pytest.Pytester) -> None:
    _project(pytester, "src", "src")
    result = pytester.runpytest_subprocess(
        "--bytecode-cov=.", "--bytecode-cov-report=json:out.json", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=1)
    files = _json(pytester.path / "out.json")
    assert sorted(files) == ["src/mypkg/__init__.py", "src/mypkg/mod.py"]
    assert _percent(files, "src/mypkg/mod.py") > 0
    assert files["src/mypkg/mod.py"]["partial"] is False


@pytest.mark.subprocess
def test_parent_dir_source_outside_the_rootdir(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(pytester.path, {f"shared/src/{k}": v for k, v in MYPKG.items()})
    proj = pytester.path / "proj"
    write(proj, {"tests/test_it.py": TEST})
    (proj / "tox.ini").write_text("[pytest]\npythonpath = ../shared/src\n")
    monkeypatch.chdir(proj)
    result = pytester.runpytest_subprocess(
        "--bytecode-cov=../", "--bytecode-cov-report=json:out.json", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=1)
    files = _json(proj / "out.json")
    mod = canonical_filename(str(pytester.path / "shared/src/mypkg/mod.py")).replace(os.sep, "/")
    assert sorted(files) == [mod.replace("mod.py", "__init__.py"), mod]
    assert _percent(files, mod) > 0


@pytest.mark.subprocess
@needs_symlinks
@pytest.mark.parametrize("source", ["src", "linked", "mypkg"])
def test_package_reached_through_a_symlinked_directory(
    pytester: pytest.Pytester, source: str
) -> None:
    _project(pytester, "src", "linked")
    (pytester.path / "linked").symlink_to(pytester.path / "src", target_is_directory=True)
    result = pytester.runpytest_subprocess(
        f"--bytecode-cov={source}",
        "--bytecode-cov-report=json:out.json",
        "-p",
        "no:cacheprovider",
    )
    result.assert_outcomes(passed=1)
    files = _json(pytester.path / "out.json")
    # reported once, under the real path (coverage.py's canonical file name)
    assert sorted(files) == ["src/mypkg/__init__.py", "src/mypkg/mod.py"]
    assert _percent(files, "src/mypkg/mod.py") > 0


@pytest.mark.subprocess
@needs_symlinks
@pytest.mark.parametrize("option", ["--bytecode-cov", "--bytecode-cov=proj/src"])
def test_source_whose_package_is_a_link_out_of_the_rootdir(
    pytester: pytest.Pytester, option: str
) -> None:
    write(pytester.path, {f"elsewhere/{k}": v for k, v in MYPKG.items()})
    proj = pytester.path / "proj"
    write(proj, {"tests/test_it.py": TEST})
    (proj / "src").mkdir()
    (proj / "src" / "mypkg").symlink_to(pytester.path / "elsewhere/mypkg", target_is_directory=True)
    (proj / "tox.ini").write_text("[pytest]\npythonpath = src\n")
    result = pytester.runpytest_subprocess(
        str(proj), option, "--bytecode-cov-report=json:out.json", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=1)
    files = _json(pytester.path / "out.json")
    real = canonical_filename(str(pytester.path / "elsewhere/mypkg/mod.py")).replace(os.sep, "/")
    assert sorted(files) == [real.replace("mod.py", "__init__.py"), real]
    assert _percent(files, real) > 0


def test_bom_file_keeps_its_pragmas_end_to_end(pytester: pytest.Pytester) -> None:
    body = b"def f():  # pragma: no cover\n    return 1\n\ndef g():\n    return 2\n"
    write(
        pytester.path,
        {
            "src/bompkg/__init__.py": BOM + b"",
            "src/bompkg/imported.py": BOM + body,
            "src/bompkg/unimported.py": BOM + body,
            "tests/test_bom.py": (
                "from bompkg.imported import g\n\ndef test_g():\n    assert g() == 2\n"
            ),
        },
    )
    pytester.makeini("[pytest]\npythonpath = src\n")
    result = pytester.runpytest("--bytecode-cov=bompkg", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    saved = data.load(pytester.path / ".bytecode-cov")
    cov = coverage.Coverage(config_file=False, data_file=None)
    for name in ("imported", "unimported"):
        path = pytester.path / f"src/bompkg/{name}.py"
        expected = sorted(cov.analysis2(str(path))[2])
        assert expected == [1, 2]
        assert saved.files[f"src/bompkg/{name}.py"].excluded_lines == expected, name


def test_unparsable_and_unreadable_files_are_named(pytester: pytest.Pytester) -> None:
    write(
        pytester.path,
        {
            "src/badpkg/__init__.py": "",
            "src/badpkg/good.py": "def h():\n    return 1\n",
            "src/badpkg/broken.py": "def oops(:\n    pass\n",
            "tests/test_good.py": (
                "from badpkg.good import h\n\ndef test_h():\n    assert h() == 1\n"
            ),
        },
    )
    dangling = pytester.path / "src/badpkg/dangling.py"
    if sys.platform != "win32":
        dangling.symlink_to(pytester.path / "src/badpkg/missing.py")
    pytester.makeini("[pytest]\npythonpath = src\n")
    result = pytester.runpytest(
        "--bytecode-cov=badpkg", "--bytecode-cov-report=json:out.json", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=1)
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        ["*Couldn't parse Python file 'src/badpkg/broken.py': *line 1 (couldnt-parse)"]
    )
    if sys.platform != "win32":
        result.stdout.fnmatch_lines(
            ["*Couldn't read Python file 'src/badpkg/missing.py': * (couldnt-read)"]
        )
    files = _json(pytester.path / "out.json")
    assert sorted(files) == ["src/badpkg/__init__.py", "src/badpkg/good.py"]
