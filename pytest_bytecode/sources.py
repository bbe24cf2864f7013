"""Which files are measured: SOURCE resolution, omit patterns, excluded lines.

``--bytecode-cov=SOURCE`` names a directory, a ``.py`` file, or a dotted
package or module name.  Without a value coverage.py's ``[run] source`` (or
``source_pkgs``, ``source_dirs``) is measured, as a bare ``--cov`` measures
it, and without those the project's own packages under the rootdir (src
layout and flat layout), never its tests.  The
resulting :class:`Selector` answers two questions for the import hook: a cheap
one on the module name alone (:meth:`Selector.may_match_name`), and a precise
one on the file the module would be loaded from (:meth:`Selector.wants`).

coverage.py's configuration is read through the coverage package itself so
that ``[tool.coverage.run] omit``/``include`` and ``[tool.coverage.report]
exclude_lines``/``exclude_also`` (and the default ``# pragma: no cover``) mean
here exactly what they mean to coverage.py, block extension included: file
patterns go through coverage.py's own ``prep_patterns``/``GlobMatcher`` (for
``[report] include``/``omit`` too: :func:`report_filter`), and
source text through :func:`python_source_text`, which decodes bytes the way
coverage.py's ``get_python_source`` does.

Files are compared and reported by their canonical name, coverage.py's
``abs_file`` (symbolic links resolved), so a package reached through a
symlinked directory is measured and reported where it really lives.
"""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import importlib.machinery
import keyword
import os
import re
import site
import sysconfig
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from coverage import version_info as coverage_version
from coverage.config import CoverageConfig
from coverage.exceptions import CoverageException
from coverage.files import GlobMatcher, abs_file
from coverage.misc import join_regex
from coverage.parser import PythonParser
from coverage.phystokens import source_encoding

from pytest_bytecode.engine.records import field, record

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


#: Directories not walked when listing the module names that may live under a
#: SOURCE directory (:attr:`Selector.top_names`): never project code.
_UNWALKED_DIRS = frozenset({"__pycache__", "node_modules", "site-packages", "dist-packages"})

#: More directory entries than this under the SOURCE directories and the
#: name-only check admits every module name instead of listing them.
NAME_WALK_LIMIT = 50_000


def python_source_text(source: bytes) -> str:
    """A source file's bytes as the text coverage.py parses (``get_python_source``).

    Line ends made ``\n``, form feeds turned into spaces, decoded with the
    PEP 263 encoding (a UTF-8 BOM is dropped) with undecodable bytes
    replaced, a final newline ensured.  Line numbers are those of the file.
    """
    source = source.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\f", b" ")
    try:
        encoding = source_encoding(source)
        text = source.decode(encoding, "replace")
    except (SyntaxError, LookupError):  # a bad or unknown coding cookie
        text = source.decode("utf-8", "replace")
    return _as_parsed_text(text)


def _as_parsed_text(text: str) -> str:
    """``text`` as coverage.py would have decoded it (idempotent)."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\f", " ")
    if text and not text.endswith("\n"):
        text += "\n"
    return text


def canonical_filename(filename: str) -> str:
    """The name coverage.py measures and reports a file under (its ``abs_file``).

    Absolute, symbolic links resolved, and on Windows the file system's case.
    Remembered per absolute name (a ``realpath`` walks every component: the
    end of a run asks again for every module it loaded).
    """
    if not os.path.isabs(filename):
        return abs_file(filename)  # depends on the working directory
    return _canonical_absolute(filename)


_canonical_absolute = functools.lru_cache(maxsize=8192)(abs_file)


def report_path(filename: str, rootdir: str) -> str:
    """How a measured file is named in data and reports.

    The canonical file name relative to the rootdir (its canonical form
    first, then as given), with ``/`` separators; absolute when outside it.
    """
    canonical = canonical_filename(filename)
    for root in dict.fromkeys((canonical_filename(rootdir), os.path.abspath(rootdir))):
        try:
            rel = os.path.relpath(canonical, root)
        except ValueError:  # another drive on Windows
            continue
        if rel != os.pardir and not rel.startswith(os.pardir + os.sep):
            return Path(rel).as_posix()
    return Path(canonical).as_posix()


def prep_patterns(patterns: Iterable[str], base: str) -> tuple[str, ...]:
    """coverage.py's ``prep_patterns``, relative patterns anchored at ``base``.

    A pattern that starts with a wildcard is used as it is; any other is used
    as it is *and* made absolute (``abs_file``) against ``base``, which is
    what coverage.py does against the current directory.
    """
    prepped: list[str] = []
    for p in patterns:
        prepped.append(p)
        if not p.startswith(("*", "?")):
            prepped.append(abs_file(os.path.join(base, p)))
    return tuple(prepped)


def _under(path: str, roots: Iterable[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


@functools.lru_cache(maxsize=1)
def third_party_dirs() -> tuple[str, ...]:
    """This interpreter's installed-package directories (normcased canonical names)."""
    paths: set[str] = set()
    for scheme in sysconfig.get_scheme_names():
        for key in ("purelib", "platlib"):
            with contextlib.suppress(KeyError, ValueError):
                paths.add(sysconfig.get_path(key, scheme))
    for key in ("purelib", "platlib"):
        paths.add(sysconfig.get_path(key))
    with contextlib.suppress(AttributeError):  # old virtualenv's site module
        paths.update(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        paths.add(site.getusersitepackages())
    return tuple(sorted({os.path.normcase(abs_file(p)) for p in paths if p and os.path.isdir(p)}))


class SourceError(ValueError):
    """A SOURCE value that names nothing measurable (one-line message)."""


@record(frozen=True)
class Selector:
    """The resolved SOURCE settings: what the import hook may instrument.

    ``dirs``, ``files`` and ``module_locations`` hold normcased canonical
    names (:func:`canonical_filename`); ``omit`` and ``include`` hold file
    patterns prepared like coverage.py's (:func:`prep_patterns`), matched with
    coverage.py's ``GlobMatcher`` against canonical file names.
    """

    rootdir: str
    dirs: tuple[str, ...] = ()
    files: frozenset[str] = frozenset()
    modules: tuple[str, ...] = ()
    test_patterns: tuple[str, ...] = ("test_*.py", "*_test.py")
    omit: tuple[str, ...] = ()
    exclude_regex: str | None = None
    #: coverage.py's ``partial_branches`` and ``partial_always`` patterns, joined.
    partial_regex: str | None = None
    #: First components of module names that may be under SOURCE.
    top_names: frozenset[str] = field(default=frozenset())
    #: Where the dotted-name SOURCEs live: package directories and module files,
    #: walked to list files that were never imported.
    module_locations: tuple[str, ...] = ()
    #: ``[run] include`` patterns (prepared); empty for "no restriction".
    include: tuple[str, ...] = ()
    #: The name-only check admits every module name (too many files under
    #: the SOURCE directories to list their names).
    any_name: bool = False

    @functools.cached_property
    def _omit_match(self) -> Callable[[str], bool] | None:
        return file_matcher(self.omit, "omit")

    @functools.cached_property
    def _include_match(self) -> Callable[[str], bool] | None:
        return file_matcher(self.include, "include")

    def may_match_name(self, name: str) -> bool:
        """Cheap, name-only check: could module ``name`` be under SOURCE?"""
        top = name.partition(".")[0]
        if top in NEVER_MEASURED:
            return False
        if any(name == m or name.startswith(m + ".") for m in self.modules):
            return True
        return self.any_name or top in self.top_names

    def wants(self, name: str, filename: str) -> bool:
        """Precise check: should module ``name`` loaded from ``filename`` be measured?"""
        return self.reason_to_skip(name, filename) is None

    def reason_to_skip(self, name: str, filename: str) -> str | None:
        """Why ``filename`` is not measured, or None when it is.

        A file of a dotted-name SOURCE counts under any module name (loaded
        by ``spec_from_file_location`` under another name, say), as a file
        under a SOURCE directory does: coverage.py decides by file too.
        """
        in_module = any(name == m or name.startswith(m + ".") for m in self.modules)
        if not in_module and self.module_locations:
            path = os.path.normcase(canonical_filename(filename))
            in_module = _under(path, self.module_locations)
        return self._reason(filename, in_module)

    def _reason(self, filename: str, in_module: bool) -> str | None:
        if not filename.endswith(".py"):
            return "not a .py source file"
        canonical = canonical_filename(filename)
        path = os.path.normcase(canonical)
        base = os.path.basename(path)
        if base == "conftest.py" or any(fnmatch.fnmatch(base, p) for p in self.test_patterns):
            return "test module or conftest"
        if self._omit_match is not None and self._omit_match(canonical):
            return "matches a [run] omit pattern"
        if self._include_match is not None and not self._include_match(canonical):
            return "outside the [run] include patterns"
        if in_module or path in self.files:
            return None
        in_dirs = [d for d in self.dirs if _under(path, [d])]
        if not in_dirs:
            return "not under SOURCE"
        # Like coverage.py: installed packages under a SOURCE directory are not
        # measured, unless that directory is itself inside them.
        third = [t for t in third_party_dirs() if _under(path, [t])]
        if third and not any(_under(d, third) for d in in_dirs):
            return "under SOURCE, but an installed (third-party) package"
        return None

    def all_files(self) -> list[str]:
        """Every measurable ``.py`` file under SOURCE, imported or not (canonical names)."""
        found: dict[str, str] = {}
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
            if not path.endswith(".py"):
                continue
            canonical = canonical_filename(path)
            key = os.path.normcase(canonical)
            if key in found:
                continue
            if self._reason(path, _under(key, self.module_locations)) is None:
                found[key] = canonical
        return sorted(found.values())

    def excluded_lines(self, source: str, filename: str) -> frozenset[int]:
        """Lines excluded by coverage.py's rules, blocks extended like coverage.py does.

        ``source`` is best :func:`python_source_text`'s result; any decoded
        text is taken the same way (a leading BOM dropped, form feeds as spaces).
        """
        if not self.exclude_regex:
            return frozenset()
        text = _as_parsed_text(source)
        if not _matches_somewhere(self.exclude_regex, text):
            # coverage.py's excluded lines all grow from the lines its regex
            # matches (statements, clauses and decorated definitions around
            # them): none match, none are excluded, and the parse (a few
            # milliseconds a file, the most of a cold import) is not needed.
            return frozenset()
        try:
            parser = PythonParser(text=text, filename=filename, exclude=self.exclude_regex)
            parser.parse_source()
        except (CoverageException, SyntaxError, ValueError):
            return frozenset()
        return frozenset(parser.excluded)

    def excluded_lines_of(self, source: bytes, filename: str) -> frozenset[int]:
        """:meth:`excluded_lines` of a file's bytes (through :func:`python_source_text`)."""
        return self.excluded_lines(python_source_text(source), filename)

    def no_branch_lines_of(self, source: bytes) -> frozenset[int]:
        """Lines matching coverage.py's ``partial_branches`` patterns (default
        ``# pragma: no branch``) or ``partial_always``: their conditional
        jumps' outcomes are left out of the figures, as coverage.py leaves
        such branches out."""
        if not self.partial_regex:
            return frozenset()
        matcher = re.compile(self.partial_regex)
        return frozenset(
            number
            for number, line in enumerate(python_source_text(source).splitlines(), 1)
            if matcher.search(line)
        )


#: coverage.py 7.6 matches exclusion patterns against the whole text
#: (``re.MULTILINE``: a pattern may span lines); before, against each line.
WHOLE_TEXT_EXCLUSIONS = coverage_version >= (7, 6)


def compiled_twin(filename: str) -> str | None:
    """The extension module Python imports in place of the source file
    ``filename``, or None.

    A directory's path finder tries this interpreter's extension suffixes
    before ``.py`` (``mod.cpython-312-x86_64-linux-gnu.so``, ``mod.abi3.so``,
    ``mod.so`` beside ``mod.py``: a package built with mypyc or Cython, or an
    extension built in place), so such a source file never runs: measured,
    it reads as never executed, and the run says why.
    """
    if not filename.endswith(".py"):
        return None
    stem = filename[: -len(".py")]
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        if os.path.isfile(stem + suffix):
            return stem + suffix
    return None


def _matches_somewhere(regex: str, text: str) -> bool:
    """Whether coverage.py's exclusion matching finds ``regex`` anywhere in
    ``text``, as the installed coverage.py matches it (``\\A`` is the start
    of the text for one, of every line for the other)."""
    if WHOLE_TEXT_EXCLUSIONS:
        return re.search(regex, text, flags=re.MULTILINE) is not None
    search = re.compile(regex).search
    return any(search(line) for line in text.split("\n"))


class CoverageConfigError(ValueError):
    """A coverage.py configuration file that coverage.py itself cannot read
    (one-line message naming the file)."""


class CoverageSettings(CoverageConfig):
    """coverage.py's configuration as read from the project's files, plus what
    :class:`CoverageConfig` cannot tell: whether a file set ``[report]
    precision`` (coverage.py's default, 0, is not pytest-bytecode's, 2)."""

    precision_given: bool = False


def read_coverage_config(rootdir: Path, warn: Callable[[str], None]) -> CoverageSettings:
    """coverage.py's configuration as coverage.py would read it from ``rootdir``.

    coverage.py looks in the current directory; pytest runs are anchored at
    the rootdir, so the same file list is tried there (``COVERAGE_RCFILE``
    still wins).  A file coverage.py refuses (a value it cannot convert, a
    syntax error) raises :class:`CoverageConfigError`, as coverage.py would
    refuse to run: its omit patterns and exclusions must not silently go.
    """
    config = CoverageSettings()
    # No file can set None: still None after reading, no file set it.
    vars(config)["precision"] = None
    rcfile = os.environ.get("COVERAGE_RCFILE")
    candidates = [(Path(rcfile), True)] if rcfile else []
    candidates += [(rootdir / name, ours) for name, ours in COVERAGE_CONFIG_FILES]
    for path, ours in candidates:
        if path.is_file():
            try:
                if config.from_file(str(path), warn, our_file=ours):
                    break
            except CoverageException as exc:
                raise CoverageConfigError(f"coverage.py's configuration: {exc}") from None
    config.precision_given = vars(config)["precision"] is not None
    if not config.precision_given:
        config.precision = 0
    config.post_process()
    return config


def config_file_name(config: CoverageConfig, rootdir: Path) -> str:
    """The configuration file ``config`` was read from, as messages name it
    (relative to ``rootdir`` when inside it), or ``coverage.py's defaults``."""
    if config.config_file is None:
        return "coverage.py's defaults"
    return report_path(config.config_file, str(rootdir))


def file_matcher(patterns: Sequence[str], kind: str) -> Callable[[str], bool] | None:
    """coverage.py's ``GlobMatcher`` over prepared ``patterns``
    (:func:`prep_patterns`), or None when there are none."""
    return GlobMatcher(list(patterns), kind).match if patterns else None


def report_filter(
    include: Sequence[str], omit: Sequence[str], rootdir: Path
) -> Callable[[str], bool] | None:
    """Whether a file, by its report name (:func:`report_path`), passes
    coverage.py's ``[report] include`` and ``omit`` patterns; None when there
    are none.  Relative patterns are taken from ``rootdir``, and names are
    matched in their canonical form, as ``[run] omit`` is (:class:`Selector`).
    """
    root = str(rootdir)
    included = file_matcher(prep_patterns(include, root), "include")
    omitted = file_matcher(prep_patterns(omit, root), "omit")
    if included is None and omitted is None:
        return None

    def keep(name: str) -> bool:
        canonical = canonical_filename(os.path.join(root, name))
        if omitted is not None and omitted(canonical):
            return False
        return included is None or included(canonical)

    return keep


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


@record(frozen=True)
class ConfigSource:
    """One entry of coverage.py's ``[run] source``, ``source_pkgs`` or
    ``source_dirs``: what a bare ``--bytecode-cov`` measures when any is set."""

    value: str
    #: ``source`` (a directory or a package name), ``source_pkgs`` (a package
    #: name) or ``source_dirs`` (a directory).
    option: str
    #: The configuration file, as messages name it.
    config_file: str = "coverage.py's configuration"

    @property
    def where(self) -> str:
        """``[run] source = pkg (pyproject.toml)``: the entry, for messages."""
        return f"[run] {self.option} = {self.value} ({self.config_file})"


def config_sources(config: CoverageConfig, rootdir: Path) -> tuple[ConfigSource, ...]:
    """coverage.py's ``[run] source``, ``source_pkgs`` and ``source_dirs``
    entries (``source_dirs`` where this coverage.py knows it), in that order."""
    name = config_file_name(config, rootdir)
    found: list[ConfigSource] = []
    for option in ("source", "source_pkgs", "source_dirs"):
        values: list[str] = getattr(config, option, None) or []
        found += [ConfigSource(v, option, name) for v in values if v.strip()]
    return tuple(found)


def resolve(
    values: Iterable[str | bool],
    *,
    rootdir: Path,
    invocation_dir: Path,
    search_path: Sequence[str],
    test_patterns: Sequence[str] = ("test_*.py", "*_test.py"),
    omit: Sequence[str] = (),
    exclude_list: Sequence[str] = (),
    include: Sequence[str] = (),
    configured: Sequence[ConfigSource] = (),
    partial_list: Sequence[str] = (),
    warn: Callable[[str], None] | None = None,
) -> Selector:
    """Turn ``--bytecode-cov`` values into a :class:`Selector`.

    ``True`` (the option without a value) means coverage.py's ``[run]
    source``, ``source_pkgs`` and ``source_dirs`` entries (``configured``),
    as a bare ``--cov`` does with pytest-cov, or when there are none the
    project's own packages.  Relative ``source`` directories are taken from
    the rootdir, where the configuration was read.  Raises
    :class:`SourceError` naming a value that is none of a directory, a ``.py``
    file or an importable dotted name (an entry of ``configured``: none of
    what its option accepts).  A SOURCE in a package the run is made of
    (:data:`NEVER_MEASURED`: the import hook never instruments those, so
    every file would report 0 %) is a :class:`SourceError` on the command
    line; an entry of ``configured`` naming one is left out, with a message
    to ``warn`` (coverage.py reads the same configuration).

    ``omit`` and ``include`` are coverage.py's ``[run] omit`` and ``[run]
    include`` patterns; relative ones are anchored at the rootdir (where the
    configuration was read).  Like coverage.py, which ignores ``include`` when
    a source is given, ``include`` only narrows the default SOURCE (the option
    without a value, and no ``[run] source``); otherwise it is ignored.
    """
    dirs: list[Path] = []
    files: list[Path] = []
    modules: list[str] = []
    module_locations: list[str] = []
    top: set[str] = set()
    values = list(values)
    default_only = all(v is True for v in values) and not configured

    def add(text: str, base: Path, where: str, option: str = "") -> None:
        """Add one SOURCE; ``option`` is the ``[run]`` option it came from."""
        candidate = (base / text).resolve()

        def refused(name: str | None) -> bool:
            """Whether the entry names a package the run is made of: an
            error on the command line; in coverage.py's configuration, which
            coverage.py shares, a warning, and the entry is left out."""
            if name is None:
                return False
            message = (
                f"{where}: {name} is never measured: the run itself is made of it "
                f"(never measured: {', '.join(sorted(NEVER_MEASURED))})"
            )
            if not option or warn is None:
                raise SourceError(message)
            warn(f"bytecode-cov-never-measured: {message}; the entry is left out")
            return True

        if option != "source_pkgs" and candidate.is_dir():
            if not refused(_never_measured_package(candidate)):
                dirs.append(candidate)
        elif not option and candidate.is_file():
            if candidate.suffix != ".py":
                raise SourceError(f"{where}: a SOURCE file must be a .py file")
            refused(_never_measured_package(candidate))
            files.append(candidate)
        elif option != "source_dirs" and _is_dotted_name(text):
            top_name = text.partition(".")[0]
            if refused(top_name if top_name in NEVER_MEASURED else None):
                return
            origin, locations = _find_module(text, search_path)
            if origin is None and not locations:
                raise SourceError(f"{where}: {_NOT_A_SOURCE[option]}")
            modules.append(text)
            module_locations.extend(locations or ([origin] if origin else []))
            top.add(text.partition(".")[0])
        else:
            raise SourceError(f"{where}: {_NOT_A_SOURCE[option]}")

    for value in values:
        if value is not True:
            text = str(value).strip()
            add(text, invocation_dir, f"--bytecode-cov={text}")
        elif configured:
            for entry in configured:
                add(entry.value.strip(), rootdir, entry.where, entry.option)
        else:
            d, f = _default_dirs(rootdir)
            dirs += d
            files += f
    any_name = False
    linked: list[Path] = []
    for path in [*dirs, *files]:
        # A module under a directory may be imported under any suffix of its
        # path (rootdir-relative names with --import-mode=importlib, package
        # names with sys.path entries): every path component is a candidate,
        # and so is every package or module name at any depth below it (a
        # ``src`` layout under ``--bytecode-cov=.``), the real path's too.
        for form in dict.fromkeys((path, Path(canonical_filename(str(path))))):
            top.update(p.removesuffix(".py") for p in form.parts if p.removesuffix(".py"))
        if path.is_dir():
            names, links = _names_under(str(path), NAME_WALK_LIMIT)
            linked += [Path(link) for link in links]
            if names is None:
                any_name = True
            else:
                top.update(names)
    # A package that is a symbolic link inside a SOURCE directory lives
    # elsewhere; coverage.py would not look there, but it is plainly meant.
    for link in linked:
        dirs.append(link)
        top.update(p for p in link.parts if p.isidentifier())

    def norm(p: str | Path) -> str:
        return os.path.normcase(canonical_filename(str(p)))

    root = str(rootdir)
    return Selector(
        rootdir=root,
        dirs=tuple(dict.fromkeys(norm(d) for d in dirs)),
        files=frozenset(norm(f) for f in files),
        modules=tuple(modules),
        test_patterns=tuple(test_patterns),
        omit=prep_patterns(omit, root),
        exclude_regex=join_regex(exclude_list) if exclude_list else None,
        partial_regex=join_regex(partial_list) if partial_list else None,
        top_names=frozenset(top),
        module_locations=tuple(norm(p) for p in module_locations),
        include=prep_patterns(include, root) if default_only else (),
        any_name=any_name,
    )


def _never_measured_package(path: Path) -> str | None:
    """The name of the :data:`NEVER_MEASURED` top-level package ``path`` is
    or lies in, or None.  The top-level package is the outermost directory
    of the unbroken chain of ``__init__.py`` directories above ``path``: a
    subpackage of that name (``ape/pytest``, ``mypkg/_vendor/pluggy``) is
    imported under its own top-level name and measured."""
    top = None
    folder = path if path.is_dir() else path.parent
    while (folder / "__init__.py").is_file():
        top = folder
        if folder.parent == folder:
            break
        folder = folder.parent
    return top.name if top is not None and top.name in NEVER_MEASURED else None


#: Why a SOURCE names nothing measurable, by the ``[run]`` option it came
#: from ("" for ``--bytecode-cov``).
_NOT_A_SOURCE = {
    "": "not a directory, a .py file, or an importable package or module name",
    "source": "not a directory (from the rootdir) or an importable package or module name",
    "source_pkgs": "not an importable package or module name",
    "source_dirs": "not a directory (from the rootdir)",
}


def _names_under(top: str, limit: int) -> tuple[set[str] | None, list[str]]:
    """Every package and module name at any depth under ``top``, and linked packages.

    The names are None when there are more than ``limit`` directory entries
    to look at.  The linked packages are the real directories of symbolic
    links to package directories (``__init__.py``) outside ``top``, found
    before the walk stopped.  Hidden directories and :data:`_UNWALKED_DIRS`
    are not entered.
    """
    names: set[str] = set()
    links: list[str] = []
    real_top = os.path.normcase(canonical_filename(top))
    seen = 0
    for dirpath, dirnames, filenames in os.walk(top):
        seen += len(dirnames) + len(filenames)
        if seen > limit:
            return None, links
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d not in _UNWALKED_DIRS]
        names.update(d for d in dirnames if d.isidentifier())
        names.update(f[:-3] for f in filenames if f.endswith(".py") and f[:-3].isidentifier())
        for d in dirnames:
            path = os.path.join(dirpath, d)
            if d.isidentifier() and os.path.islink(path):
                real = canonical_filename(path)
                if not _under(os.path.normcase(real), [real_top]) and os.path.isfile(
                    os.path.join(real, "__init__.py")
                ):
                    links.append(real)
    return names, links
