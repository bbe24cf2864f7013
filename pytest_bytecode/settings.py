"""The coverage options validated into :class:`Settings` (registered by options.py).

Every ``--bytecode-cov*`` option has an ini key of the same name with
underscores (``bytecode_cov_fail_under``); a value given on the command line
wins over the ini file.  Validation happens once, before any test module is
imported, and every problem is a one-line :class:`pytest.UsageError` naming
the value and the rule.
"""

from __future__ import annotations

import argparse
import errno
import fnmatch
import os
from pathlib import Path
from typing import Any

import pytest

from pytest_bytecode.engine.records import field, record
from pytest_bytecode.files import STDOUT
from pytest_bytecode.options import TRUE_WORDS, add_options

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pytest_bytecode.report import ReportSpec

__all__ = ["TRUE_WORDS", "Settings", "add_options", "from_config"]

#: The values of --bytecode-cov-context.
CONTEXTS = ("test", "none")


@record(frozen=True)
class Settings:
    """Validated coverage settings of one run."""

    enabled: bool = False
    sources: tuple[str | bool, ...] = ()
    reports: tuple[ReportSpec, ...] = ()
    fail_under: float | None = None
    #: The filters the figures are computed with (pytest_bytecode.filters).
    filters: frozenset[str] | None = None
    fail_under_branches: float | None = None
    baseline: Path | None = None
    baseline_update: bool = False
    data_path: Path = field(default_factory=lambda: Path(".bytecode-cov"))
    append: bool = False
    #: Measure child Python processes too (pytest_bytecode.children).
    subprocess: bool = False
    #: Record per-test contexts (pytest_bytecode.recorder): "test", or None.
    context: str | None = None
    #: Run only the tests a change can affect (pytest_bytecode.selection).
    affected: bool = False
    #: Option dest -> how its value was given, for messages (ini keys differ).
    origins: dict[str, str] = field(default_factory=dict)

    def origin(self, name: str) -> str:
        """``--bytecode-cov-append`` or ``bytecode_cov_append (ini file)``: where
        the value of option ``name`` (its dest) came from."""
        return self.origins.get(name, "--" + name.replace("_", "-"))


def _ini(config: pytest.Config, name: str) -> Any:
    """``config.getini(name)``; a value pytest cannot convert is a usage error naming the key."""
    try:
        return config.getini(name)
    except (ValueError, pytest.UsageError) as exc:
        raise pytest.UsageError(f"{name} (ini file): {exc}") from None


def _checked_path(where: str, path: Path) -> Path:
    """``path``, unless the system refuses it outright (a name too long, a
    file where a folder should be ...): then a one-line usage error."""
    try:
        os.stat(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        if exc.errno != errno.ENOTDIR:
            raise pytest.UsageError(f"{where}: cannot use this path ({exc.strerror})") from None
    return path


def _check_source(where: str, text: str, base: Path, test_patterns: list[str]) -> None:
    """Refuse a SOURCE that the system cannot look up, or that is a test module
    (most often ``--bytecode-cov tests/test_x.py``: the space form took the
    test file as SOURCE)."""
    candidate = base / text
    try:
        is_file = candidate.is_file()
    except OSError as exc:
        raise pytest.UsageError(f"{where}: cannot use this path ({exc.strerror})") from None
    if not is_file:
        return
    name = candidate.name
    matched = next((p for p in test_patterns if fnmatch.fnmatch(name, p)), None)
    if name == "conftest.py" or matched is not None:
        rule = "a conftest file" if matched is None else f"it matches python_files {matched!r}"
        raise pytest.UsageError(
            f"{where}: {text} is a test module ({rule}), and test modules are never "
            f"measured. The word after --bytecode-cov is its SOURCE: to measure the "
            f"default SOURCE while running {text}, write --bytecode-cov=SOURCE or put "
            "--bytecode-cov after the test paths"
        )


def from_config(config: pytest.Config, ns: argparse.Namespace) -> Settings:
    """Validated settings from the parsed command line ``ns`` and the ini file.

    A problem names where the value came from: the command-line flag
    (``--bytecode-cov-fail-under=120``) or the ini key
    (``bytecode_cov_fail_under = 120``).
    """
    if getattr(ns, "no_bytecode_cov", False):
        return Settings()
    base = config.invocation_params.dir
    test_patterns = [str(p) for p in config.getini("python_files")]
    cli_sources: list[str | bool] | None = getattr(ns, "bytecode_cov", None)
    sources: list[str | bool] = []
    if cli_sources is not None:
        for value in cli_sources:
            if value is not True:
                _check_source(f"--bytecode-cov={value}", str(value).strip(), base, test_patterns)
            sources.append(value)
    else:
        for line in _ini(config, "bytecode_cov"):
            if line.strip().lower() in TRUE_WORDS:
                sources.append(True)
            else:
                _check_source(f"bytecode_cov = {line}", line.strip(), base, test_patterns)
                sources.append(line)
    if not sources:
        return Settings()
    # Coverage is on: what validates the rest loads now, not with the plugin.
    from pytest_bytecode.report import ReportSpecError, parse_specs, report_path
    from pytest_bytecode.results import ResultError, parse_fail_under

    report_values: list[str] | None = getattr(ns, "bytecode_cov_report", None)
    report_key = "--bytecode-cov-report="
    if report_values is None:
        # An empty ini value means "no report"; unset gives the default ["term"].
        report_values = list(_ini(config, "bytecode_cov_report")) or [""]
        report_key = "bytecode_cov_report = "
    try:
        reports = parse_specs(report_values, report_key)
    except ReportSpecError as exc:
        raise pytest.UsageError(str(exc)) from None

    def minimum(name: str) -> float | None:
        """A fail-under option: the command line's value, else the ini key's."""
        raw = getattr(ns, name, None)
        where = "--" + name.replace("_", "-") + "="
        if raw is None:
            raw = str(_ini(config, name) or "").strip() or None
            where = f"{name} = "
        try:
            # An empty command-line value is an error (an ini key left empty is unset).
            return parse_fail_under(str(raw), where) if raw is not None else None
        except ResultError as exc:
            raise pytest.UsageError(str(exc)) from None

    fail_under = minimum("bytecode_cov_fail_under")
    fail_under_branches = minimum("bytecode_cov_fail_under_branches")

    from pytest_bytecode.filters import FilterError, parse

    filters_raw = getattr(ns, "bytecode_cov_filters", None)
    filters_key = "--bytecode-cov-filters="
    if filters_raw is None:
        filters_raw = str(_ini(config, "bytecode_cov_filters") or "")
        filters_key = "bytecode_cov_filters = "
    try:
        filters = parse(filters_raw, filters_key)
    except FilterError as exc:
        raise pytest.UsageError(str(exc)) from None

    def path_value(name: str) -> tuple[str, Path] | None:
        value = getattr(ns, name, None)
        where = "--" + name.replace("_", "-") + "="
        if value is None:
            value = str(_ini(config, name) or "").strip() or None
            where = f"{name} = "
            origins[name] = f"{name} (ini file)"
        if value is None:
            return None
        if not value.strip():
            raise pytest.UsageError(f"{where}: needs a path")
        if value == STDOUT:
            return f"{where}{value}", Path(STDOUT)
        return f"{where}{value}", _checked_path(f"{where}{value}", base / Path(value).expanduser())

    origins: dict[str, str] = {}

    def flag(name: str) -> bool:
        value = getattr(ns, name, None)
        if value is not None:
            return bool(value)
        origins[name] = f"{name} (ini file)"
        return bool(_ini(config, name))

    baseline_value = path_value("bytecode_cov_baseline")
    baseline = baseline_value[1] if baseline_value else None
    baseline_update = flag("bytecode_cov_baseline_update")
    if baseline_update and baseline is None:
        raise pytest.UsageError(
            "--bytecode-cov-baseline-update: needs --bytecode-cov-baseline=PATH to write to"
        )
    if baseline_value is not None and baseline == Path(STDOUT):
        raise pytest.UsageError(f"{baseline_value[0]}: the baseline must be a file")
    data_value = path_value("bytecode_cov_data") or ("", base / ".bytecode-cov")
    append = flag("bytecode_cov_append")
    if append and data_value[1] == Path(STDOUT):
        raise pytest.UsageError(
            f"{data_value[0]}: --bytecode-cov-append needs a data file to add to, not "
            "standard output"
        )
    _refuse_shared_paths(
        [
            ("--bytecode-cov-data", data_value[1]),
            *([("--bytecode-cov-baseline", baseline)] if baseline is not None else []),
            *(
                (f"--bytecode-cov-report={spec.kind}:{spec.dest}", report_path(spec, base))
                for spec in reports
                if spec.dest is not None and spec.dest != STDOUT
            ),
        ]
    )
    context_raw = getattr(ns, "bytecode_cov_context", None)
    context_key = "--bytecode-cov-context="
    if context_raw is None:
        context_raw = str(_ini(config, "bytecode_cov_context") or "").strip() or "none"
        context_key = "bytecode_cov_context = "
    if context_raw not in CONTEXTS:
        raise pytest.UsageError(f"{context_key}{context_raw}: must be one of {', '.join(CONTEXTS)}")
    affected = flag("bytecode_cov_affected")
    if affected:
        where = origins.get("bytecode_cov_affected", "--bytecode-cov-affected")
        if context_raw == "none" and context_key.startswith("--"):
            raise pytest.UsageError(
                f"{where}: needs contexts, and --bytecode-cov-context=none asks for none"
            )
        if append:
            raise pytest.UsageError(
                f"{where}: cannot be used with --bytecode-cov-append (the data file keeps "
                "what it knew of the tests left out, not their counts)"
            )
        if data_value[1] == Path(STDOUT):
            raise pytest.UsageError(
                f"{where}: needs a data file to compare with, not standard output"
            )
        context_raw = "test"
    return Settings(
        enabled=True,
        sources=tuple(sources),
        reports=tuple(reports),
        fail_under=fail_under,
        filters=filters,
        fail_under_branches=fail_under_branches,
        baseline=baseline,
        baseline_update=baseline_update,
        data_path=data_value[1],
        append=append,
        subprocess=flag("bytecode_cov_subprocess"),
        context=None if context_raw == "none" else context_raw,
        affected=affected,
        origins=origins,
    )


def _refuse_shared_paths(outputs: list[tuple[str, Path]]) -> None:
    """Two outputs written to one file would silently replace each other."""
    seen: dict[str, str] = {}
    for what, path in outputs:
        if path == Path(STDOUT):
            continue
        key = os.path.normcase(os.path.realpath(path))
        if key in seen:
            raise pytest.UsageError(
                f"{seen[key]} and {what} name the same file {path}: one would replace "
                "the other; give them different paths"
            )
        seen[key] = what
