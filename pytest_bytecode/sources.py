"""Which files are measured: SOURCE resolution, omit patterns, excluded lines.

``--bytecode-cov=SOURCE`` names a directory, a ``.py`` file, or a dotted
package or module name.  Without a value the project's own packages under the
rootdir are measured (src layout and flat layout), never its tests.  The
resulting :class:`Selector` answers two questions for the import hook: a cheap
one on the module name alone (:meth:`Selector.may_match_name`), and a precise
one on the file the module would be loaded from (:meth:`Selector.wants`).

coverage.py's configuration is read through the coverage package itself so
that ``[tool.coverage.run] omit`` and ``[tool.coverage.report]
exclude_lines``/``exclude_also`` (and the default ``# pragma: no cover``) mean
here exactly what they mean to coverage.py, block extension included.
"""

from __future__ import annotations

import fnmatch
import importlib.machinery
import keyword
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from coverage.config import CoverageConfig
from coverage.exceptions import CoverageException
from coverage.misc import join_regex
from coverage.parser import PythonParser

#: Directory names never measured when SOURCE is the default: tests, docs,
#: build output and virtual environments are not "the project's own code".
SKIPPED_DIRS = frozenset(
    {
        "tests",
        "test",
        "testing",
        "docs",
        "doc",
        "examples",
        "benchmarks",
        "build",
        "dist",
        "node_modules",
        "site-packages",
        "venv",
    }
)

#: Top-level files in a flat layout that are tooling, not project code.
SKIPPED_TOP_FILES = frozenset({"setup.py", "conftest.py", "noxfile.py", "fabfile.py"})

#: Module names never instrumented whatever SOURCE says: the measuring
#: machinery itself, whose code must not count its own probes.
NEVER_MEASURED = frozenset({"pytest_bytecode", "_pytest", "pytest", "pluggy", "coverage", "xdist"})

#: Config files coverage.py reads, in its own order; ``True`` marks files
#: that belong to coverage.py entirely (no ``coverage:`` section prefix).
COVERAGE_CONFIG_FILES: tuple[tuple[str, bool], ...] = (
    (".coveragerc", True),
    (".coveragerc.toml", True),
    ("setup.cfg", False),
    ("tox.ini", False),
    ("pyproject.toml", False),
)


class SourceError(ValueError):
    """A SOURCE value that names nothing measurable (one-line message)."""


@dataclass(frozen=True)
class Selector:
    """The resolved SOURCE settings: what the import hook may instrument."""

    rootdir: str
    dirs: tuple[str, ...] = ()
    files: frozenset[str] = frozenset()
    modules: tuple[str, ...] = ()
    test_patterns: tuple[str, ...] = ("test_*.py", "*_test.py")
    omit: tuple[str, ...] = ()
    exclude_regex: str | None = None
    #: First components of module names that may be under SOURCE.
    top_names: frozenset[str] = field(default=frozenset())
    #: Where the dotted-name SOURCEs live: package directories and module files,
    #: walked to list files that were never imported.
    module_locations: tuple[str, ...] = ()

    def may_match_name(self, name: str) -> bool:
        """Cheap, name-only check: could module ``name`` be under SOURCE?"""
        top = name.partition(".")[0]
        if top in NEVER_MEASURED:
            return False
        if any(name == m or name.startswith(m + ".") for m in self.modules):
            return True
        return top in self.top_names

    def wants(self, name: str, filename: str) -> bool:
        """Precise check: should module ``name`` loaded from ``filename`` be measured?"""
        return self.reason_to_skip(name, filename) is None

    def reason_to_skip(self, name: str, filename: str) -> str | None:
        """Why ``filename`` is not measured, or None when it is."""
        if not filename.endswith(".py"):
            return "not a .py source file"
        path = os.path.normcase(os.path.abspath(filename))
        base = os.path.basename(path)
        if base == "conftest.py" or any(fnmatch.fnmatch(base, p) for p in self.test_patterns):
            return "test module or conftest"
        if self.omit and any(fnmatch.fnmatch(path, p) for p in self.omit):
            return "matches an omit pattern"
        in_module = any(name == m or name.startswith(m + ".") for m in self.modules)
        in_dir = any(path.startswith(d + os.sep) for d in self.dirs)
        if not (in_module or in_dir or path in self.files):
            return "not under SOURCE"
        return None

    def all_files(self) -> list[str]:
        """Every measurable ``.py`` file under SOURCE, imported or not."""
        found: set[str] = set()
        candidates: list[str] = sorted(self.files)
        for top in (*self.dirs, *self.module_locations):
            if os.path.isfile(top):
                candidates.append(top)
                continue
            for dirpath, dirnames, filenames in os.walk(top):
                dirnames[:] = sorted(
                    d for d in dirnames if d.isidentifier() and d not in ("__pycache__",)
                )
                candidates += [os.path.join(dirpath, f) for f in sorted(filenames)]
        for path in candidates:
            if not path.endswith(".py") or path in found:
                continue
            reason = self.reason_to_skip("", path)
            if reason is None or (
                reason == "not under SOURCE"
                and any(path == m or path.startswith(m + os.sep) for m in self.module_locations)
            ):
                found.add(path)
        return sorted(found)

    def excluded_lines(self, source: str, filename: str) -> frozenset[int]:
        """Lines excluded by coverage.py's rules, blocks extended like coverage.py does."""
        if not self.exclude_regex:
            return frozenset()
        try:
            parser = PythonParser(text=source, filename=filename, exclude=self.exclude_regex)
            parser.parse_source()
        except (CoverageException, SyntaxError, ValueError):
            return frozenset()
        return frozenset(parser.excluded)


def read_coverage_config(rootdir: Path, warn: Callable[[str], None]) -> CoverageConfig:
    """coverage.py's configuration as coverage.py would read it from ``rootdir``.

    coverage.py looks in the current directory; pytest runs are anchored at
    the rootdir, so the same file list is tried there (``COVERAGE_RCFILE``
    still wins).
    """
    config = CoverageConfig()
    rcfile = os.environ.get("COVERAGE_RCFILE")
    candidates = [(Path(rcfile), True)] if rcfile else []
    candidates += [(rootdir / name, ours) for name, ours in COVERAGE_CONFIG_FILES]
    for path, ours in candidates:
        if path.is_file():
            try:
                if config.from_file(str(path), warn, our_file=ours):
                    break
            except CoverageException as exc:
                warn(f"coverage.py configuration {path} not read: {exc}")
    config.post_process()
    return config


def _is_dotted_name(value: str) -> bool:
    parts = value.split(".")
    return all(p.isidentifier() and not keyword.iskeyword(p) for p in parts)


def _find_module(name: str, search: Sequence[str]) -> tuple[str | None, list[str]]:
    """Locate ``name`` without importing anything: (origin, package dirs)."""
    path: list[str] | None = list(search)
    spec = None
    for i, _ in enumerate(parts := name.split(".")):
        spec = importlib.machinery.PathFinder.find_spec(".".join(parts[: i + 1]), path)
        if spec is None:
            return None, []
        path = list(spec.submodule_search_locations or [])
    assert spec is not None
    locations = [os.path.abspath(p) for p in spec.submodule_search_locations or []]
    origin = spec.origin if spec.has_location else None
    return origin, locations


def _default_dirs(rootdir: Path) -> tuple[list[Path], list[Path]]:
    """The project's own packages: ``src/*`` (src layout) or top-level packages."""
    dirs: list[Path] = []
    files: list[Path] = []
    src = rootdir / "src"
    bases = [src] if src.is_dir() else [rootdir]
    for base in bases:
        for entry in sorted(base.iterdir()):
            name = entry.name
            if name.startswith((".", "_")) or name in SKIPPED_DIRS:
                continue
            if entry.is_dir() and name.isidentifier() and (entry / "__init__.py").exists():
                dirs.append(entry)
            elif (
                entry.suffix == ".py"
                and entry.stem.isidentifier()
                and name not in SKIPPED_TOP_FILES
                and not name.startswith("test_")
                and not name.endswith("_test.py")
            ):
                files.append(entry)
    if src.is_dir() and not dirs and not files:  # namespace packages under src/
        dirs = [e for e in sorted(src.iterdir()) if e.is_dir() and e.name.isidentifier()]
    return dirs, files


def resolve(
    values: Iterable[str | bool],
    *,
    rootdir: Path,
    invocation_dir: Path,
    search_path: Sequence[str],
    test_patterns: Sequence[str] = ("test_*.py", "*_test.py"),
    omit: Sequence[str] = (),
    exclude_list: Sequence[str] = (),
) -> Selector:
    """Turn ``--bytecode-cov`` values into a :class:`Selector`.

    ``True`` (the option without a value) means the project's own packages.
    Raises :class:`SourceError` naming a value that is none of a directory, a
    ``.py`` file or an importable dotted name.
    """
    dirs: list[Path] = []
    files: list[Path] = []
    modules: list[str] = []
    module_locations: list[str] = []
    top: set[str] = set()
    for value in values:
        if value is True:
            d, f = _default_dirs(rootdir)
            dirs += d
            files += f
            continue
        text = str(value).strip()
        candidate = (invocation_dir / text).resolve()
        if candidate.is_dir():
            dirs.append(candidate)
        elif candidate.is_file():
            if candidate.suffix != ".py":
                raise SourceError(f"--bytecode-cov={text}: a SOURCE file must be a .py file")
            files.append(candidate)
        elif _is_dotted_name(text):
            origin, locations = _find_module(text, search_path)
            if origin is None and not locations:
                raise SourceError(
                    f"--bytecode-cov={text}: not a directory, a .py file, "
                    "or an importable package or module name"
                )
            modules.append(text)
            module_locations.extend(locations or ([origin] if origin else []))
            top.add(text.partition(".")[0])
        else:
            raise SourceError(
                f"--bytecode-cov={text}: not a directory, a .py file, "
                "or an importable package or module name"
            )
    for path in [*dirs, *files]:
        # A module under a directory may be imported under any suffix of its
        # path (rootdir-relative names with --import-mode=importlib, package
        # names with sys.path entries): every path component is a candidate.
        top.update(p.removesuffix(".py") for p in path.parts if p.removesuffix(".py"))
        if path.is_dir():
            top.update(
                e.name.removesuffix(".py")
                for e in path.iterdir()
                if e.is_dir() or e.suffix == ".py"
            )

    def norm(p: Path) -> str:
        return os.path.normcase(str(p))

    omit_abs = tuple(
        os.path.normcase(p if p.startswith(("*", "?")) else str(rootdir / p)) for p in omit
    )
    return Selector(
        rootdir=str(rootdir),
        dirs=tuple(norm(d) for d in dirs),
        files=frozenset(norm(f) for f in files),
        modules=tuple(modules),
        test_patterns=tuple(test_patterns),
        omit=omit_abs,
        exclude_regex=join_regex(exclude_list) if exclude_list else None,
        top_names=frozenset(top),
        module_locations=tuple(os.path.normcase(p) for p in module_locations),
    )
